/*
 * The ingest's /metrics (--metrics-listen HOST:PORT): a small HTTP server (common/httpd)
 * on its own thread and event base, so a scrape never waits for the blocking loop. The
 * loop publishes a snapshot of its counters after every batch (and at least every
 * --block-ms); the server renders the last one. Names: switchyard_ingest_*.
 */
#ifndef SY_INGEST_METRICS_H
#define SY_INGEST_METRICS_H

#include <stddef.h>

struct ing_metrics_snapshot {
    unsigned long long read;       /* events read (valid or not) */
    unsigned long long inserted, duplicates, batches, pg_errors, redis_errors;
    unsigned long long invalid;    /* events that failed validation: sy:events:dead */
    unsigned long long refused;    /* events PostgreSQL refused: table ingest_dead_letters */
    long long spool_entries;    /* XLEN sy:events; -1 unknown */
    double lag_seconds;         /* age of the oldest entry still in the stream; 0 when empty */
    double last_commit_unix;    /* 0: none yet */
    int redis_up, pg_up;
};

typedef struct ing_metrics ing_metrics;

/* Binds host:port (port 0 picks one) in the caller's thread, so a bad address fails
 * here, then serves on a thread of its own. NULL with the reason in err. */
ing_metrics *ing_metrics_start(const char *host, int port, int *bound_port, char *err,
                               size_t errlen) __attribute__((warn_unused_result));
void ing_metrics_publish(ing_metrics *m, const struct ing_metrics_snapshot *s);
void ing_metrics_stop(ing_metrics *m);

#endif
