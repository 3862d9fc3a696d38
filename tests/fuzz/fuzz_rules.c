/*
 * libFuzzer target: the classifier rules (classifier/rules.c, clf_rules_parse_json),
 * the "classifier" object of the router config (operator input, with regular
 * expressions compiled from it), and the rules applied to text.
 *
 * The first byte splits the input: rules JSON, then text to classify. Invariants
 * beyond "no crash, no leak": a refusal leaves *out NULL and says why; accepted rules
 * answer a match with a task type in range and a reason, the same answer twice (the
 * rules are pure), and the fallback and tools tasks are task types or none.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = 1 + (size_t)data[0] * (size - 1) / 255;
    char *json = malloc(split);
    if (!json)
        return 0;
    memcpy(json, data + 1, split - 1);
    json[split - 1] = '\0';
    const char *text = (const char *)data + split;
    size_t tlen = size - split;

    struct clf_rules *r = (struct clf_rules *)0x1;
    char err[512];
    err[0] = '\0';
    if (clf_rules_parse_json(json, &r, err, sizeof(err)) != 0) {
        if (r || !err[0])
            abort();
        free(json);
        return 0;
    }
    if (!r)
        abort();
    wire_task t1 = WIRE_TASK_NONE, t2 = WIRE_TASK_NONE;
    const char *why1 = NULL, *why2 = NULL;
    bool m1 = clf_rules_match(r, text, tlen, &t1, &why1);
    bool m2 = clf_rules_match(r, text, tlen, &t2, &why2);
    if (m1 != m2 || (m1 && (t1 != t2 || t1 < 0 || t1 >= WIRE_NTASKS || !why1 || !why2 ||
                            strcmp(why1, why2))))
        abort();
    wire_task f = clf_rules_fallback_task(r), tt = clf_rules_tools_task(r);
    if (f < WIRE_TASK_NONE || f >= WIRE_NTASKS || tt < WIRE_TASK_NONE || tt >= WIRE_NTASKS)
        abort();
    clf_rules_free(r);
    free(json);
    return 0;
}
