/*
 * libFuzzer target: ingest's minute groups of a batch (ingest/rollup.c), fed tuples.
 *
 * The input is lines. Byte 0 bit 0 picks what a line is:
 *   0: an event's JSON, converted by ing_event_to_copy_binary (ingest/event.c) as ingest
 *      does; lines it refuses are skipped, as ingest dead-letters them;
 *   1: raw bytes taken as a binary COPY tuple, so the tuple reader meets what event.c
 *      never writes (short fields, wrong lengths, wrong field counts).
 * Invariants beyond "no crash, no leak": when the batch stays usable (one UTC day, sums
 * in range, every tuple understood), the groups count every tuple added exactly once
 * (sum of n), each group's errors, fallback counts and latency bucket are in range, each
 * group's minute is of the batch's day, and ing_groups_tuples writes one tuple per group;
 * after ing_groups_reset the same tuples give the same groups, byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/stats.h"
#include "ingest/event.h"
#include "ingest/rollup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* sy_lat_bounds() of migrations/0004, as the controller has them */
#define NBOUNDS (sizeof(exp_lat_bounds_us) / sizeof(exp_lat_bounds_us[0]))
#define DAY_US INT64_C(86400000000)

/* Adds every line's tuple to g; returns how many were added. */
static size_t add_all(struct ing_groups *g, int raw, const char *p, size_t n)
{
    struct ing_buf tuple = {0};
    char reason[256];
    size_t added = 0;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        tuple.len = 0;
        if (raw) {
            if (ing_groups_add(g, p, len, exp_lat_bounds_us, NBOUNDS) != 0)
                abort();
            added++;
        } else if (ing_event_to_copy_binary(p, len, &tuple, reason, sizeof(reason)) == 0) {
            if (ing_groups_add(g, tuple.data, tuple.len, exp_lat_bounds_us, NBOUNDS) != 0)
                abort();
            added++;
        }
        p += len + (nl != NULL);
        n -= len + (nl != NULL);
    }
    ing_buf_free(&tuple);
    return added;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int raw = data[0] & 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct ing_groups g = {0};
    struct ing_buf a = {0}, b = {0};

    ing_groups_reset(&g);
    size_t added = add_all(&g, raw, p, n);
    if (!g.unusable) {
        int64_t total = 0;
        for (size_t k = 0; k < g.n; k++) {
            const struct ing_group *x = &g.v[k];
            if (x->n < 1 || x->errors < 0 || x->errors > x->n || x->fallback_tier < 0 ||
                x->fallback_default < 0 || x->fallback_tier + x->fallback_default > x->n)
                abort();
            if (x->i < 1 || x->i > (int32_t)NBOUNDS + 1)
                abort();
            if (x->t % 60000000 != 0 || x->t / DAY_US != g.day)
                abort();
            total += x->n;
        }
        if ((size_t)total != added)
            abort();
        if (ing_groups_tuples(&g, &a) != 0)
            abort();
        if ((g.n == 0) != (a.len == 0))
            abort();
        /* the same tuples again, after a reset: the same groups */
        ing_groups_reset(&g);
        if (add_all(&g, raw, p, n) != added || g.unusable)
            abort();
        if (ing_groups_tuples(&g, &b) != 0 || a.len != b.len ||
            (a.len && memcmp(a.data, b.data, a.len) != 0))
            abort();
    }
    ing_buf_free(&a);
    ing_buf_free(&b);
    ing_groups_free(&g);
    return 0;
}
