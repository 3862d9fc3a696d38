/*
 * libFuzzer target: the simulator's model file (sim/sim_model.c, sim_catalog_parse,
 * what `switchyard sim --models FILE` reads). People edit it by hand.
 *
 * Invariants beyond "no crash": an accepted catalog holds every model within the
 * documented ranges (docs/architecture.md "Model file"): ids non-empty and of the
 * allowed characters, median <= p95 <= max, min <= max completion tokens, rates in
 * 0..1, a positive weight when errors are possible; a failed parse leaves an error
 * message and nothing to free.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

static void check(const sim_model *m)
{
    size_t n = strnlen(m->id, sizeof(m->id));
    if (n == 0 || n == sizeof(m->id) || strspn(m->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                      "abcdefghijklmnopqrstuvwxyz0123456789._:/-") != n)
        abort();
    if (!in(m->latency_median_ms, 0, 600000) || !in(m->latency_p95_ms, m->latency_median_ms, 600000) ||
        !in(m->latency_max_ms, m->latency_p95_ms, 600000))
        abort();
    if (!in(m->tokens_per_second, 0, 1e6) || m->tokens_per_chunk < 1 || m->tokens_per_chunk > 256)
        abort();
    if (m->completion_min < 1 || m->completion_max > 32768 || m->completion_min > m->completion_max)
        abort();
    if (!in(m->error_rate, 0, 1) || !in(m->cache_hit_rate, 0, 1) || m->retry_after_s < 0 ||
        m->retry_after_s > 3600)
        abort();
    double w = 0;
    for (int k = 1; k < SIM_FAULT_COUNT; k++) {
        if (!in(m->error_weights[k], 0, INFINITY))
            abort();
        w += m->error_weights[k];
    }
    if (m->error_rate > 0 && !(w > 0))
        abort();
    for (int t = 0; t < SIM_TASK_COUNT; t++)
        if (!in(m->quality[t].thumbs_down, 0, 1) || !in(m->quality[t].rating, 1, 5))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_catalog c;
    char err[256];
    err[0] = '\0';
    if (sim_catalog_parse((const char *)data, size, &c, err, sizeof(err)) != 0) {
        if (!err[0] || !memchr(err, '\0', sizeof(err)))
            abort();
        return 0;
    }
    for (int i = 0; i < c.n; i++) {
        check(&c.models[i]);
        if (sim_catalog_find(&c, c.models[i].id) == NULL)
            abort();
    }
    sim_catalog_free(&c);
    return 0;
}
