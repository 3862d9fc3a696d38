/*
 * ingest's own minute groups of a batch (migrations/0010, sy_ingest_groups): for a batch
 * of one UTC day ingest COPYs the rows straight into the day's partition and sends these
 * groups beside them, so PostgreSQL neither stages the rows nor aggregates them.
 *
 * The groups are sy_ingest_day_sql's g, computed the same way from the binary COPY
 * tuples (ingest/event.h): per minute of ts, coalesce(experiment, ''), coalesce(phase,
 * ''), coalesce(routed_bp, 0), coalesce(cohort, ''), coalesce(task_type, 'none') and
 * latency bucket i = width_bucket(greatest(coalesce(latency_us, 0), 0) - 1, bounds) + 1:
 * n, errors (status >= 500), the sums of cost_usd, cost_usd^2, baseline_cost_usd,
 * latency_us, tokens_in, cached_tokens (NULLs skipped, 0 when none) and the fallback
 * counts. The float sums are added in the rows' order, as PostgreSQL's aggregate does.
 */
#ifndef SY_INGEST_ROLLUP_H
#define SY_INGEST_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/event.h"

struct ing_group {
    int64_t t;          /* the minute, microseconds since 1970 */
    int32_t routed_bp, i;
    size_t str, len[4]; /* experiment, phase, cohort, task_type at text + str */
    uint64_t hash;
    int64_t n, errors, latency_sum, tokens_in, cached_tokens, fallback_tier, fallback_default;
    double cost_sum, cost_sq, baseline_sum;
    int has_cost, has_baseline;
};

struct ing_groups {
    struct ing_group *v;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1 into v, 0 empty */
    size_t nslots;
    char *text;      /* the groups' strings, back to back */
    size_t textlen, textcap;
    int64_t day;     /* the rows' UTC day (days since 1970), -1 when several */
    int unusable;    /* several days, a sum out of range, or a tuple not understood */
};

/* The temp table the groups are COPYed into (binary), and its COPY statement. */
#define ING_GROUPS_TABLE "ingest_groups"
extern const char ing_groups_sql_create[];
extern const char ing_groups_sql_copy[];

/* Empties g for a new batch (keeps its memory). */
void ing_groups_reset(struct ing_groups *g);

/* Adds one binary tuple (len bytes) with the latency bucket bounds (sy_lat_bounds(),
 * ascending). 0, or -1 out of memory. Sets g->unusable when the batch cannot take the
 * fast path. */
int ing_groups_add(struct ing_groups *g, const char *tuple, size_t len, const int64_t *bounds,
                   size_t nbounds) __attribute__((warn_unused_result));

/* The groups as binary COPY tuples for ing_groups_sql_copy (no header or trailer). 0, or
 * -1 out of memory. */
int ing_groups_tuples(const struct ing_groups *g, struct ing_buf *out)
    __attribute__((warn_unused_result));

void ing_groups_free(struct ing_groups *g);

#endif
