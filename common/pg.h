/*
 * Small helpers for the blocking PostgreSQL clients (migrate, report, ingest):
 * connect from a URL with deadlines, redact a URL for messages, retry backoff, sleeps
 * and deadlines.
 */
#ifndef SY_PG_H
#define SY_PG_H

#include <signal.h>
#include <stddef.h>

struct pg_conn; /* libpq's PGconn */

/*
 * Connect to url (postgresql://... or a key=value conninfo) with connect_timeout=5,
 * TCP keepalives and the given application_name; anything in url overrides these.
 * statement_timeout_ms > 0 sets statement_timeout on the session.
 * Returns the connection, or NULL with libpq's reason (one line) in err.
 */
struct pg_conn *sy_pg_connect(const char *url, const char *application_name,
                              int statement_timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * 0 if url is a well-formed postgresql:// or postgres:// URL, else -1 with the reason
 * in err (a plain word would otherwise be taken as a database name on the local socket).
 */
int sy_pg_check_url(const char *url, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * A subcommand's required --database-url (or $SWITCHYARD_DATABASE_URL), checked:
 * 0, or SY_EXIT_USAGE after "<prog>: no database: pass --database-url or set
 * SWITCHYARD_DATABASE_URL" or "<prog>: --database-url: <why>" on stderr.
 */
int sy_pg_url_option(const char *prog, const char *url) __attribute__((warn_unused_result));

/* libpq's last error for conn as one line (trailing newlines dropped, inner ones -> "; "). */
void sy_pg_error(struct pg_conn *conn, char *out, size_t outlen);

/* url with any password replaced by "***", for logs and messages. */
void sy_pg_redact_url(const char *url, char *out, size_t outlen);

/* Exponential backoff with jitter: min_ms, doubling, capped at max_ms. */
struct sy_backoff {
    long min_ms;
    long max_ms;
    long cur_ms;
};

void sy_backoff_init(struct sy_backoff *b, long min_ms, long max_ms);
void sy_backoff_reset(struct sy_backoff *b);
/* The delay to wait now (cur +-25%); doubles cur for the next call. */
long sy_backoff_next(struct sy_backoff *b);

/*
 * Calls attempt(arg) until it returns 0 (then resets b and returns 0). After each failure
 * it adds one to *failures and sleeps sy_backoff_next(b); it gives up (-1) only when
 * *stop is set. Always makes the first attempt. For the blocking clients' reconnects.
 */
int sy_backoff_retry(struct sy_backoff *b, int (*attempt)(void *arg), void *arg,
                     unsigned long long *failures, volatile sig_atomic_t *stop)
    __attribute__((warn_unused_result));

/* Sleep ms milliseconds, returning early (with 1) when *stop becomes nonzero. */
int sy_sleep_ms(long ms, volatile sig_atomic_t *stop);

#endif
