/*
 * The PostgreSQL side of ingest: COPY lines (ingest/event.h) into the requests table.
 *
 * Blocking libpq, one session: BEGIN; COPY into a temp table; INSERT INTO requests ...
 * ON CONFLICT DO NOTHING; COMMIT. Any error drops the session and retries the same batch
 * from a fresh one with backoff, giving up only when *stop is set. Also keeps the
 * request partitions created ahead (sy_create_request_partitions, hourly).
 */
#ifndef SY_INGEST_STORE_H
#define SY_INGEST_STORE_H

#include <signal.h>
#include <stddef.h>

#include "common/pg.h"

struct ing_buf;

struct ing_store {
    const char *url;
    /* counters, for the stats line */
    unsigned long long errors, inserted, duplicates;
    /* owned here */
    struct pg_conn *pg;
    struct sy_backoff backoff;
    volatile sig_atomic_t *stop;
    long long next_partitions_ms;
    char sql_create[2048], sql_copy[1024], sql_insert[2048];
};

/* 0, or -1 if the generated SQL does not fit (an internal error). */
int ing_store_init(struct ing_store *st, const char *url, volatile sig_atomic_t *stop)
    __attribute__((warn_unused_result));

/* Connects and sets up the session with backoff if not connected. 0, or -1 when
 * stopping. */
int ing_store_ensure(struct ing_store *st) __attribute__((warn_unused_result));

/* Creates the coming days' request partitions when it is time (hourly; a failure is
 * logged and retried in a minute). */
void ing_store_partitions(struct ing_store *st);

/* Commits copy (rows COPY lines) in one transaction, retrying through outages; counts
 * inserted rows and duplicates. 0, or -1 when stopping before it committed. */
int ing_store_write(struct ing_store *st, const struct ing_buf *copy, size_t rows)
    __attribute__((warn_unused_result));

void ing_store_close(struct ing_store *st);

#endif
