/*
 * ingest/metrics: GET /metrics for switchyard ingest (--metrics-listen), Prometheus text.
 *
 * ingest's loop blocks in hiredis and libpq, so the listener runs on its own thread
 * with its own libevent loop and common/httpd. It only reads the loop's counters
 * (relaxed atomic loads; the loop adds to them atomically) and never blocks the loop.
 */
#ifndef SY_INGEST_METRICS_H
#define SY_INGEST_METRICS_H

#include <stddef.h>

/* The counters shown, owned by the loop; each pointer must stay valid until stop. */
struct ing_counters {
    const unsigned long long *read;         /* events read (valid or not) */
    const unsigned long long *batches;      /* batches committed and acknowledged */
    const unsigned long long *inserted;     /* rows inserted */
    const unsigned long long *duplicates;   /* rows already there (replays) */
    const unsigned long long *invalid;      /* events that failed validation: sy:events:dead */
    const unsigned long long *refused;      /* events PostgreSQL refused: ingest_dead_letters */
    const unsigned long long *pg_errors;    /* failed PostgreSQL attempts */
    const unsigned long long *redis_errors; /* failed Redis attempts */
};

typedef struct ing_metrics ing_metrics;

/* Listens on host:port (0: a free port, in *bound_port) and starts serving. NULL with a
 * reason in err when it cannot. */
ing_metrics *ing_metrics_start(const char *host, int port, const struct ing_counters *c,
                               int *bound_port, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The text /metrics serves (malloc'd, *len its length), or NULL when out of memory. */
char *ing_metrics_render(const struct ing_counters *c, size_t *len);

/* Stops the thread and frees everything. NULL is a no-op. */
void ing_metrics_stop(ing_metrics *m);

#endif
