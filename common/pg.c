#include "common/pg.h"

#include "common/opts.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void one_line(const char *msg, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return;
    for (const char *p = msg ? msg : ""; *p && n + 3 < outlen; p++) {
        if (*p == '\n') {
            const char *q = p;
            while (*q == '\n' || *q == ' ' || *q == '\t')
                q++;
            if (!*q)
                break;
            out[n++] = ';';
            out[n++] = ' ';
            p = q - 1;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

void sy_pg_error(struct pg_conn *conn, char *out, size_t outlen)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    one_line(msg && *msg ? msg : "unknown error", out, outlen);
}

struct pg_conn *sy_pg_connect(const char *url, const char *application_name,
                              int statement_timeout_ms, char *err, size_t errlen)
{
    char stmt[64];
    const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "application_name",
                          "dbname", NULL};
    const char *vals[] = {"5", "1", "10", "3", "3", application_name, url, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    PGresult *res = NULL;

    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        sy_pg_error(conn, err, errlen);
        goto fail;
    }
    if (statement_timeout_ms > 0) {
        snprintf(stmt, sizeof(stmt), "SET statement_timeout = %d", statement_timeout_ms);
        res = PQexec(conn, stmt);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            sy_pg_error(conn, err, errlen);
            goto fail;
        }
        PQclear(res);
    }
    return conn;
fail:
    PQclear(res);
    PQfinish(conn);
    return NULL;
}

int sy_pg_check_url(const char *url, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts;
    char redacted[256], msg[512];

    /* the reasons quote the URL: one line, as libpq's own (found by fuzz_pgurl) */
    if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0) {
        sy_pg_redact_url(url, redacted, sizeof(redacted));
        snprintf(msg, sizeof(msg), "not a postgresql:// URL: \"%s\"", redacted);
        one_line(msg, err, errlen);
        return -1;
    }
    opts = PQconninfoParse(url, &perr);
    if (!opts) {
        one_line(perr ? perr : "out of memory", err, errlen);
        PQfreemem(perr);
        return -1;
    }
    /* libpq checks this one only when connecting: a typo would show as a failed
     * connection to every host */
    static const char *const attrs[] = {"any",     "read-write", "read-only",
                                        "primary", "standby",    "prefer-standby", NULL};
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "target_session_attrs") || !o->val)
            continue;
        const char *const *a = attrs;
        while (*a && strcmp(*a, o->val))
            a++;
        if (!*a) {
            snprintf(msg, sizeof(msg),
                     "invalid target_session_attrs \"%s\" (any, read-write, read-only, primary, "
                     "standby or prefer-standby)",
                     o->val);
            one_line(msg, err, errlen);
            PQconninfoFree(opts);
            return -1;
        }
    }
    PQconninfoFree(opts);
    return 0;
}

int sy_pg_url_option(const char *prog, const char *url)
{
    char why[512];

    if (!url || !*url) {
        fprintf(stderr, "%s: no database: pass --database-url or set SWITCHYARD_DATABASE_URL\n",
                prog);
        return SY_EXIT_USAGE;
    }
    if (sy_pg_check_url(url, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: --database-url: %s\n", prog, why);
        return SY_EXIT_USAGE;
    }
    return 0;
}

void sy_pg_redact_url(const char *url, char *out, size_t outlen)
{
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : NULL;
    const char *at = auth ? strchr(auth, '@') : NULL;
    const char *slash = auth ? strchr(auth, '/') : NULL;
    const char *colon = NULL;

    if (at && (!slash || at < slash))
        colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}

void sy_backoff_init(struct sy_backoff *b, long min_ms, long max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->cur_ms = min_ms;
}

void sy_backoff_reset(struct sy_backoff *b) { b->cur_ms = b->min_ms; }

long sy_backoff_next(struct sy_backoff *b)
{
    long d = b->cur_ms;
    long jitter = d / 4;
    if (jitter > 0)
        d += (rand() % (2 * jitter + 1)) - jitter;
    b->cur_ms = b->cur_ms * 2 > b->max_ms ? b->max_ms : b->cur_ms * 2;
    return d;
}

int sy_backoff_retry(struct sy_backoff *b, int (*attempt)(void *arg), void *arg,
                     unsigned long long *failures, volatile sig_atomic_t *stop)
{
    for (;;) {
        if (attempt(arg) == 0) {
            sy_backoff_reset(b);
            return 0;
        }
        __atomic_fetch_add(failures, 1ULL, __ATOMIC_RELAXED); /* may be read by another thread */
        if (*stop || sy_sleep_ms(sy_backoff_next(b), stop))
            return -1;
    }
}

int sy_sleep_ms(long ms, volatile sig_atomic_t *stop)
{
    while (ms > 0) {
        long step = ms > 50 ? 50 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        if (stop && *stop)
            return 1;
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return stop && *stop ? 1 : 0;
}
