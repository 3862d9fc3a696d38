/*
 * libFuzzer target for the feature extractor and the rules window: any bytes,
 * any length. Every emitted index must lie inside the feature space and every
 * value must be finite. Build: CC=clang cmake -S . -B build-fuzz -DSY_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz_features tests/fuzz/corpus/features -max_total_time=60
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <linear.h>

#include "classifier/classifier.h"
#include "classifier/features.h"
#include "classifier/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct clf_extractor *ex_default, *ex_small;
static struct clf_feature_config cfg_default, cfg_small;
static struct clf_rules *rules;

static void check(struct clf_extractor *ex, const struct clf_feature_config *cfg,
                  const uint8_t *data, size_t size)
{
    struct feature_node *x;
    size_t n = clf_extract(ex, (const char *)data, size, &x);
    int dim = clf_feature_dim(cfg);
    for (size_t i = 0; i < n; i++)
        if (x[i].index < 1 || x[i].index > dim || !isfinite(x[i].value))
            abort();
    if (x[n].index != -1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ex_default) {
        clf_feature_config_default(&cfg_default);
        cfg_small = cfg_default;
        cfg_small.head_bytes = 64; /* small window: exercises the head/tail split */
        cfg_small.tail_bytes = 32;
        cfg_small.char_head_bytes = 48;
        cfg_small.char_tail_bytes = 16;
        cfg_small.char_min = 1;
        cfg_small.char_max = 8;
        ex_default = clf_extractor_new(&cfg_default);
        ex_small = clf_extractor_new(&cfg_small);
        rules = clf_rules_new();
        char err[128];
        clf_rules_set_long_input(rules, 100, WIRE_TASK_COMPLEX);
        if (!ex_default || !ex_small || !rules ||
            clf_rules_add_pattern(rules, "^(translate|fix) .*[0-9]+$", WIRE_TASK_SIMPLE, err, sizeof(err)))
            abort();
    }
    check(ex_default, &cfg_default, data, size);
    check(ex_small, &cfg_small, data, size);
    wire_task t;
    const char *why;
    (void)clf_rules_match(rules, (const char *)data, size, &t, &why);
    return 0;
}
