/*
 * pgasync: a small pool of non-blocking libpq connections on a libevent loop.
 *
 * Each connection is driven on PQsocket() with PQconnectPoll while connecting,
 * then PQsendQueryParams + PQflush / PQconsumeInput + PQisBusy + PQgetResult
 * (the pattern of pgbouncer's test/asynctest.c); nothing here ever blocks the
 * loop. A connection that fails is closed and reconnected with backoff.
 *
 * Queries are parameterised, one statement each (a statement is its own
 * transaction). A query waits in a bounded FIFO until a connection is free;
 * the queue being full, or no connection being up, fails it at once
 * (SY_PG_UNAVAILABLE) so the caller can answer 503 instead of waiting. Every
 * query has a deadline covering its wait and its execution; a query that
 * overruns while running closes its connection (its outcome is then unknown:
 * callers must make their statements idempotent).
 *
 * The callback runs exactly once per accepted query, from the loop, never from
 * inside sy_pgpool_query(). The result is valid only during the callback.
 */
#ifndef SY_PGASYNC_H
#define SY_PGASYNC_H

#include <stddef.h>

struct event_base;
struct pg_result; /* libpq's PGresult */

typedef struct sy_pgpool sy_pgpool;

typedef enum {
    SY_PG_OK = 0,       /* the statement succeeded; res holds its rows */
    SY_PG_ERROR,        /* the server refused it; res holds the error (PQresultErrorField) */
    SY_PG_UNAVAILABLE,  /* no connection, queue full, connection lost or deadline passed */
} sy_pg_status;

const char *sy_pg_status_str(sy_pg_status s);

/* err: NULL on SY_PG_OK, else a one-line reason. */
typedef void (*sy_pg_cb)(void *arg, sy_pg_status st, const struct pg_result *res,
                         const char *err);

typedef struct sy_pgpool_opts {
    int size;            /* connections (default 4) */
    int queue_max;       /* queries waiting for a connection (default 64) */
    int query_timeout_ms;   /* wait + execution deadline per query (default 10000) */
    int connect_timeout_ms; /* per connection attempt (default 5000) */
    long backoff_min_ms; /* reconnect backoff (default 100) */
    long backoff_max_ms; /* (default 5000) */
    const char *application_name; /* default "switchyard" */
} sy_pgpool_opts;

void sy_pgpool_opts_default(sy_pgpool_opts *o);

/* Starts connecting at once. NULL on allocation failure only: a database that is
 * down just means queries fail with SY_PG_UNAVAILABLE until it is back. */
sy_pgpool *sy_pgpool_new(struct event_base *base, const char *url, const sy_pgpool_opts *o)
    __attribute__((warn_unused_result));

/*
 * Queue a statement. params[i] are text-format values (NULL = SQL NULL); sql and
 * params must stay valid until cb runs (the caller owns them). Returns 0 when
 * accepted (cb will run), or -1 when refused at once (cb will not run) with the
 * reason in *why: no connection up, or the queue is full.
 */
int sy_pgpool_query(sy_pgpool *p, const char *sql, int nparams, const char *const *params,
                    sy_pg_cb cb, void *arg, const char **why) __attribute__((warn_unused_result));

int sy_pgpool_connected(const sy_pgpool *p); /* connections up (idle or busy) */
int sy_pgpool_waiting(const sy_pgpool *p);   /* queries in the queue */
int sy_pgpool_running(const sy_pgpool *p);   /* queries on a connection */

/* Closes every connection; pending queries' callbacks run with SY_PG_UNAVAILABLE
 * ("shutting down") before this returns. */
void sy_pgpool_free(sy_pgpool *p);

#endif
