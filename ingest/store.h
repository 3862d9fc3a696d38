/*
 * The PostgreSQL side of ingest: binary COPY tuples (ingest/event.h) into the requests
 * table.
 *
 * Blocking libpq, one session, one transaction a batch. A batch of one UTC day (the
 * common case) first takes the fast path (migrations/0010): SAVEPOINT; COPY straight into
 * the day's partition; COPY ingest's own minute groups of the batch (ingest/rollup.h)
 * into a temp table; SELECT sy_ingest_groups() (rollups from the groups, feedback
 * attribution). If that fails while the session is fine (a duplicate row: a replay; no
 * such partition) it rolls back to the savepoint and takes the stage path, as every other
 * batch does: COPY into a temp table; SELECT sy_ingest_requests(temp table) (INSERT ... ON
 * CONFLICT DO NOTHING into the day partitions with the rollups set-wise, bypassing the
 * parent's triggers). Then COMMIT. Any other error drops the session and retries the same
 * batch from a fresh one with backoff, giving up only when *stop is set. Also keeps the
 * request partitions created ahead (sy_create_request_partitions, hourly).
 *
 * Poison events: a batch refused max_tries times in a row with a data or constraint
 * error (ing_store_permanent_sqlstate) is bisected; each event that still fails alone
 * goes to the table ingest_dead_letters (migrations/0007) with its error, the rest is
 * committed. Connection, resource, timeout and schema errors are retried forever.
 */
#ifndef SY_INGEST_STORE_H
#define SY_INGEST_STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pg.h"
#include "ingest/event.h"
#include "ingest/rollup.h"

struct ing_buf;

/* One COPY line of a batch and the event it came from (for a dead letter). */
struct ing_row {
    size_t off, len;  /* its bytes in the COPY buffer */
    const char *id;   /* the stream entry */
    const char *ev;   /* the event JSON (not NUL-terminated) */
    size_t evlen;
};

#define ING_MAX_TRIES_DEFAULT 5

struct ing_store {
    const char *url;
    int max_tries;    /* failures with a permanent error before bisecting (>= 1) */
    int retention_days; /* drop request partitions older than this (0: keep all) */
    /* counters, for the stats line and /metrics (which gets a copy) */
    unsigned long long errors, inserted, duplicates, dead;
    /* owned here */
    struct pg_conn *pg;
    struct sy_backoff backoff;
    volatile sig_atomic_t *stop;
    long long next_partitions_ms;
    char sql_create[2048], sql_copy[1024], sql_insert[2048];
    /* the fast path: the COPY's column list (" (request_id, ...) FROM STDIN (FORMAT
     * binary)"), sy_lat_bounds() (nbounds 0: the server has no sy_ingest_groups, no fast
     * path), the batch's groups and their tuples */
    char sql_fast_cols[1024];
    int64_t bounds[64];
    size_t nbounds;
    struct ing_groups groups;
    struct ing_buf group_tuples;
    unsigned long long fast, fast_fallbacks;
};

/* 0, or -1 if the generated SQL does not fit (an internal error). */
int ing_store_init(struct ing_store *st, const char *url, volatile sig_atomic_t *stop)
    __attribute__((warn_unused_result));

/* Connects and sets up the session with backoff if not connected. 0, or -1 when
 * stopping. */
int ing_store_ensure(struct ing_store *st) __attribute__((warn_unused_result));

/* Creates the coming days' request partitions and drops those older than retention_days
 * (sy_drop_request_partitions) when it is time (hourly; a failure is logged and retried
 * in a minute). */
void ing_store_partitions(struct ing_store *st);

/* Commits copy (its nrows binary COPY tuples described by rows) in one transaction, retrying through
 * outages; sets poison events aside (above); counts inserted rows, duplicates and dead
 * letters. 0, or -1 when stopping before all of it was committed or set aside (the
 * caller must not acknowledge it then: a replay is harmless). */
int ing_store_write(struct ing_store *st, const struct ing_buf *copy, const struct ing_row *rows,
                    size_t nrows) __attribute__((warn_unused_result));

/* 1 for an SQLSTATE that says the data itself was refused (classes 21 cardinality, 22
 * data exception, 23 integrity constraint, 27 triggered data change, 2F/38/39 routine
 * exceptions, 44 check option, P0 PL/pgSQL RAISE), so retrying the same rows cannot
 * help; 0 for anything else (NULL included), notably 25006 read_only_sql_transaction: the
 * session reached a standby (or a demoted primary), it is dropped and the same batch goes
 * to whichever server a fresh connect (target_session_attrs=read-write) finds. */
int ing_store_permanent_sqlstate(const char *sqlstate);

void ing_store_close(struct ing_store *st);
/* ing_store_close and the memory of the fast path. */
void ing_store_free(struct ing_store *st);

#endif
