/*
 * ingest's PostgreSQL side (ingest/store.h): one session, one transaction a batch.
 */
#include "ingest/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "ingest/event.h"

#define ING_TMP_TABLE "ingest_batch"
#define ING_PARTITION_DAYS "7"
#define ING_PARTITION_EVERY_MS (3600 * 1000L)
#define ING_STATEMENT_TIMEOUT_MS 60000
#define ING_COPY_CHUNK (1024 * 1024)

int ing_store_init(struct ing_store *st, const char *url, volatile sig_atomic_t *stop)
{
    st->url = url;
    st->stop = stop;
    if (st->max_tries < 1)
        st->max_tries = ING_MAX_TRIES_DEFAULT;
    sy_backoff_init(&st->backoff, 100, 5000);
    if (ing_event_sql_format(ING_TMP_TABLE, 1, st->sql_create, sizeof(st->sql_create),
                             st->sql_copy, sizeof(st->sql_copy), st->sql_insert,
                             sizeof(st->sql_insert)) != 0)
        return -1;
    /* "COPY ingest_batch (...) FROM STDIN (FORMAT binary)" without "COPY ingest_batch" */
    const char *cols = st->sql_copy + strlen("COPY " ING_TMP_TABLE);
    if (strlen(cols) >= sizeof(st->sql_fast_cols))
        return -1;
    strcpy(st->sql_fast_cols, cols);
    return 0;
}

void ing_store_close(struct ing_store *st)
{
    PQfinish(st->pg);
    st->pg = NULL;
}

void ing_store_free(struct ing_store *st)
{
    ing_store_close(st);
    ing_groups_free(&st->groups);
    ing_buf_free(&st->group_tuples);
}

static int pg_exec(struct ing_store *st, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(st->pg, sql);
    ExecStatusType s = PQresultStatus(res);
    PQclear(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return 0;
    sy_pg_error(st->pg, err, errlen);
    return -1;
}

void ing_store_partitions(struct ing_store *st)
{
    char err[512], days[24];
    PGresult *res;

    if (sy_clock_mono_ms() < st->next_partitions_ms)
        return;
    res = PQexec(st->pg, "SELECT sy_create_request_partitions(" ING_PARTITION_DAYS ")");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sy_pg_error(st->pg, err, sizeof(err));
        sy_log_kv(SY_WARN, "creating request partitions failed", "reason", err, NULL);
        goto retry;
    }
    sy_log(SY_INFO, "request partitions checked", "created=%s days_ahead=%s",
           PQgetvalue(res, 0, 0), ING_PARTITION_DAYS);
    PQclear(res);
    res = NULL;
    if (st->retention_days > 0) {
        snprintf(days, sizeof(days), "%d", st->retention_days);
        const char *params[] = {days};
        res = PQexecParams(st->pg, "SELECT sy_drop_request_partitions($1::int)", 1, NULL,
                           params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            sy_pg_error(st->pg, err, sizeof(err));
            sy_log_kv(SY_WARN, "dropping old request partitions failed", "reason", err, NULL);
            goto retry;
        }
        sy_log(SY_INFO, "request retention applied", "dropped=%s retention_days=%s",
               PQgetvalue(res, 0, 0), days);
    }
    PQclear(res);
    st->next_partitions_ms = sy_clock_mono_ms() + ING_PARTITION_EVERY_MS;
    return;
retry:
    PQclear(res);
    st->next_partitions_ms = sy_clock_mono_ms() + 60 * 1000; /* retry in a minute */
}

/* The fast path's temp table and sy_lat_bounds(): how many bounds, 0 when the server
 * has no sy_ingest_groups (migrations before 0010) or something failed (the stage path
 * then, for every batch). */
static size_t fast_path_setup(struct ing_store *st)
{
    char err[512];
    size_t n = 0;
    PGresult *res = PQexec(st->pg, "SELECT array_to_string(sy_lat_bounds(), ','), "
                                   "to_regprocedure('sy_ingest_groups(text,regclass)') "
                                   "IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        PQclear(res);
        return 0;
    }
    for (const char *p = PQgetvalue(res, 0, 0); *p && n < sizeof(st->bounds) / sizeof(st->bounds[0]);) {
        char *end;
        st->bounds[n++] = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',')) {
            n = 0;
            break;
        }
        p = *end ? end + 1 : end;
    }
    PQclear(res);
    for (size_t k = 1; k < n; k++)
        if (st->bounds[k] < st->bounds[k - 1])
            n = 0; /* width_bucket needs them ascending */
    if (n && pg_exec(st, ing_groups_sql_create, err, sizeof(err)) != 0) {
        sy_log_kv(SY_WARN, "ingest fast path off: creating its temp table failed", "reason",
                  err, NULL);
        n = 0;
    }
    return n;
}

static int pg_connect_once(struct ing_store *st)
{
    char err[1024], redacted[512];

    st->pg = sy_pg_connect(st->url, "switchyard-ingest", ING_STATEMENT_TIMEOUT_MS, err,
                         sizeof(err));
    if (!st->pg) {
        sy_pg_redact_url(st->url, redacted, sizeof(redacted));
        sy_log_kv(SY_WARN, "postgresql connect failed", "url", redacted, "reason", err, NULL);
        return -1;
    }
    if (pg_exec(st, "SET client_min_messages = warning", err, sizeof(err)) != 0 ||
        pg_exec(st, st->sql_create, err, sizeof(err)) != 0) {
        sy_log_kv(SY_WARN, "postgresql session setup failed", "reason", err, NULL);
        ing_store_close(st);
        return -1;
    }
    st->nbounds = fast_path_setup(st);
    sy_log(SY_INFO, "postgresql connected", "fast_path=%s", st->nbounds ? "yes" : "no");
    ing_store_partitions(st);
    return 0;
}

static int pg_attempt(void *arg) { return pg_connect_once(arg); }

int ing_store_ensure(struct ing_store *st)
{
    if (st->pg)
        return 0;
    return sy_backoff_retry(&st->backoff, pg_attempt, st, &st->errors, st->stop);
}

/* Counters: the loop's own; /metrics gets a copy (ing_metrics_publish). */
#define ING_ADD(p, v) (*(p) += (v))

int ing_store_permanent_sqlstate(const char *s)
{
    static const char *const classes[] = {"21", "22", "23", "27", "2F", "38", "39", "44", "P0",
                                          NULL};
    if (!s || strlen(s) != 5)
        return 0;
    for (const char *const *c = classes; *c; c++)
        if (!strncmp(s, *c, 2))
            return 1;
    return 0;
}

/* What one failed attempt says about itself. */
struct pg_fail {
    char sqlstate[6]; /* "" when the server sent none (connection lost, libpq error) */
    char err[1024];
};

static void note_fail(struct ing_store *st, const PGresult *res, struct pg_fail *f)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", state ? state : "");
    sy_pg_error(st->pg, f->err, sizeof(f->err));
}

/* The data was refused and the session is still usable: trying again cannot help. */
static int fail_is_permanent(const struct ing_store *st, const struct pg_fail *f)
{
    return ing_store_permanent_sqlstate(f->sqlstate) && PQstatus(st->pg) == CONNECTION_OK;
}

/* One binary COPY: sql, then header, len bytes of tuples, trailer. 0, or -1 with f
 * filled in (results drained). */
static int copy_binary(struct ing_store *st, const char *sql, const char *data, size_t len,
                       struct pg_fail *f)
{
    PGresult *res = PQexec(st->pg, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        note_fail(st, res, f);
        goto fail;
    }
    PQclear(res);
    res = NULL;
    if (PQputCopyData(st->pg, ing_copy_binary_header, ING_COPY_BINARY_HEADER_LEN) != 1) {
        note_fail(st, NULL, f);
        goto fail;
    }
    for (size_t off = 0; off < len;) {
        size_t n = len - off > ING_COPY_CHUNK ? ING_COPY_CHUNK : len - off;
        if (PQputCopyData(st->pg, data + off, (int)n) != 1) {
            note_fail(st, NULL, f);
            goto fail;
        }
        off += n;
    }
    if (PQputCopyData(st->pg, ing_copy_binary_trailer, ING_COPY_BINARY_TRAILER_LEN) != 1 ||
        PQputCopyEnd(st->pg, NULL) != 1) {
        note_fail(st, NULL, f);
        goto fail;
    }
    res = PQgetResult(st->pg);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        note_fail(st, res, f);
        goto fail;
    }
    PQclear(res);
    while ((res = PQgetResult(st->pg)) != NULL)
        PQclear(res);
    return 0;
fail:
    PQclear(res);
    while ((res = PQgetResult(st->pg)) != NULL)
        PQclear(res);
    return -1;
}

/* The fast path inside the batch's transaction (store.h): 1 done (every row inserted), 0
 * undone to the savepoint (the stage path follows), -1 failed (f filled in). */
static int write_fast(struct ing_store *st, const char *data, size_t len, struct pg_fail *f)
{
    char part[32], sql[1200];
    time_t t = (time_t)(st->groups.day * 86400);
    struct tm tm;
    PGresult *res = NULL;

    if (!gmtime_r(&t, &tm) || strftime(part, sizeof(part), "requests_%Y%m%d", &tm) == 0)
        return 0;
    if (pg_exec(st, "SAVEPOINT ing_fast", f->err, sizeof(f->err)) != 0)
        return -1;
    snprintf(sql, sizeof(sql), "COPY %s%s", part, st->sql_fast_cols);
    if (copy_binary(st, sql, data, len, f) != 0 ||
        copy_binary(st, ing_groups_sql_copy, st->group_tuples.data, st->group_tuples.len, f) != 0)
        goto undo;
    const char *params[] = {part, ING_GROUPS_TABLE};
    res = PQexecParams(st->pg, "SELECT sy_ingest_groups($1, $2::regclass)", 2, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        note_fail(st, res, f);
        PQclear(res);
        goto undo;
    }
    PQclear(res);
    ING_ADD(&st->fast, 1);
    return 1;
undo:
    if (PQstatus(st->pg) != CONNECTION_OK ||
        pg_exec(st, "ROLLBACK TO SAVEPOINT ing_fast", f->err, sizeof(f->err)) != 0)
        return -1;
    ING_ADD(&st->fast_fallbacks, 1);
    sy_log_kv(SY_DEBUG, "batch not for the fast path; the stage path", "reason", f->err,
              "sqlstate", f->sqlstate, NULL);
    f->sqlstate[0] = '\0';
    return 0;
}

/* One attempt: [the fast path,] COPY + sy_ingest_requests() + COMMIT of len bytes of
 * binary COPY tuples (header and trailer added here); fast: try the fast path first
 * (st->groups and st->group_tuples hold the batch's groups). 0 (inserted set), or -1
 * with f filled in. */
static int pg_write_once(struct ing_store *st, const char *data, size_t len, size_t nrows,
                         int fast, long long *inserted, struct pg_fail *f)
{
    PGresult *res = NULL;

    f->sqlstate[0] = '\0';
    if (pg_exec(st, "BEGIN", f->err, sizeof(f->err)) != 0)
        return -1;
    if (fast) {
        int r = write_fast(st, data, len, f);
        if (r < 0)
            goto fail;
        if (r > 0) {
            *inserted = (long long)nrows;
            goto commit;
        }
    }
    if (copy_binary(st, st->sql_copy, data, len, f) != 0)
        goto fail;
    res = PQexec(st->pg, st->sql_insert);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        note_fail(st, res, f);
        goto fail;
    }
    *inserted = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
commit:
    /* COMMIT reports failure as an error, or as ROLLBACK on an aborted transaction. */
    res = PQexec(st->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        note_fail(st, res, f);
        goto fail;
    }
    PQclear(res);
    return 0;
fail:
    PQclear(res);
    while ((res = PQgetResult(st->pg)) != NULL)
        PQclear(res);
    if (PQstatus(st->pg) == CONNECTION_OK) {
        res = PQexec(st->pg, "ROLLBACK");
        PQclear(res);
    }
    return -1;
}

/* A failure worth another try on a fresh session after a pause. -1 when stopping. */
static int retry_pause(struct ing_store *st, const struct pg_fail *f, const char *msg, int tries)
{
    char t[16];
    ING_ADD(&st->errors, 1);
    snprintf(t, sizeof(t), "%d", tries);
    sy_log_kv(SY_WARN, msg, "reason", f->err, "sqlstate", f->sqlstate, "tries", t, NULL);
    if (!fail_is_permanent(st, f))
        ing_store_close(st); /* the next attempt starts from a fresh session */
    return sy_sleep_ms(sy_backoff_next(&st->backoff), st->stop) ? -1 : 0;
}

static void count_written(struct ing_store *st, size_t rows, long long inserted)
{
    sy_backoff_reset(&st->backoff);
    ING_ADD(&st->inserted, (unsigned long long)inserted);
    ING_ADD(&st->duplicates, (unsigned long long)(rows - (size_t)inserted));
}

/* rows [lo, hi) as one transaction, retrying through outages: 0 committed, 1 refused
 * with a permanent error (f says which), -1 stopping. */
static int write_range(struct ing_store *st, const struct ing_buf *copy,
                       const struct ing_row *rows, size_t lo, size_t hi, struct pg_fail *f)
{
    const char *data = copy->data + rows[lo].off;
    size_t len = rows[hi - 1].off + rows[hi - 1].len - rows[lo].off;
    long long inserted = 0;
    for (;;) {
        if (ing_store_ensure(st) != 0)
            return -1;
        if (pg_write_once(st, data, len, hi - lo, 0, &inserted, f) == 0) {
            count_written(st, hi - lo, inserted);
            return 0;
        }
        if (fail_is_permanent(st, f))
            return 1;
        if (retry_pause(st, f, "events not committed; will retry", 0))
            return -1;
    }
}

/* Stores one event PostgreSQL refused in ingest_dead_letters, retrying through outages
 * (and through a missing table: nothing is acknowledged until it is stored). */
static int dead_letter(struct ing_store *st, const struct ing_row *r, const struct pg_fail *why,
                       int tries)
{
    static const char sql[] =
        "INSERT INTO ingest_dead_letters (stream_id, event, sqlstate, error, tries) "
        "VALUES ($1, $2, $3, $4, $5::integer) ON CONFLICT (stream_id, md5(event)) DO NOTHING";
    char t[16], *ev = strndup(r->ev, r->evlen);
    struct pg_fail f;
    if (!ev)
        return -1;
    snprintf(t, sizeof(t), "%d", tries);
    const char *params[] = {r->id, ev, why->sqlstate, why->err, t};
    for (;;) {
        if (ing_store_ensure(st) != 0)
            break;
        PGresult *res = PQexecParams(st->pg, sql, 5, NULL, params, NULL, NULL, 0);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            note_fail(st, res, &f);
        PQclear(res);
        if (ok) {
            sy_backoff_reset(&st->backoff);
            ING_ADD(&st->dead, 1);
            sy_log_kv(SY_ERROR, "event refused by postgresql, dead-lettered", "id", r->id,
                      "sqlstate", why->sqlstate, "reason", why->err, "tries", t, "table",
                      "ingest_dead_letters", NULL);
            free(ev);
            return 0;
        }
        ING_ADD(&st->errors, 1);
        sy_log_kv(SY_WARN, "dead letter not stored; will retry", "id", r->id, "reason", f.err,
                  NULL);
        ing_store_close(st);
        if (sy_sleep_ms(sy_backoff_next(&st->backoff), st->stop))
            break;
    }
    free(ev);
    return -1;
}

/* rows [lo, hi) were refused with a permanent error (why): commit each half on its own,
 * bisecting further what fails, until single events are left to dead-letter. Costs about
 * k * log2(n) transactions for k poison events among n. */
static int isolate(struct ing_store *st, const struct ing_buf *copy, const struct ing_row *rows,
                   size_t lo, size_t hi, const struct pg_fail *why, int tries)
{
    if (hi - lo == 1)
        return dead_letter(st, &rows[lo], why, tries);
    size_t mid = lo + (hi - lo) / 2;
    size_t range[2][2] = {{lo, mid}, {mid, hi}};
    for (int h = 0; h < 2; h++) {
        struct pg_fail f;
        int rc = write_range(st, copy, rows, range[h][0], range[h][1], &f);
        if (rc < 0)
            return -1;
        if (rc == 1 && isolate(st, copy, rows, range[h][0], range[h][1], &f, tries) != 0)
            return -1;
    }
    return 0;
}

/* Builds the batch's groups for the fast path (with this session's bounds): 1 when it can
 * take it (one UTC day, groups built). Rebuilt every attempt: a new session may have
 * other bounds, or none. */
static int batch_groups(struct ing_store *st, const struct ing_buf *copy,
                        const struct ing_row *rows, size_t nrows)
{
    struct ing_groups *g = &st->groups;
    if (!st->nbounds)
        return 0;
    ing_groups_reset(g);
    for (size_t k = 0; k < nrows && !g->unusable; k++)
        if (ing_groups_add(g, copy->data + rows[k].off, rows[k].len,
                           st->bounds, st->nbounds) != 0)
            return 0;
    if (g->unusable || g->day < 0 || g->n == 0)
        return 0;
    st->group_tuples.len = 0;
    return ing_groups_tuples(g, &st->group_tuples) == 0;
}

int ing_store_write(struct ing_store *st, const struct ing_buf *copy, const struct ing_row *rows,
                    size_t nrows)
{
    struct pg_fail f;
    long long inserted = 0;
    int tries = 0;

    if (nrows == 0)
        return 0;
    for (;;) {
        if (ing_store_ensure(st) != 0)
            return -1;
        if (pg_write_once(st, copy->data, copy->len, nrows, batch_groups(st, copy, rows, nrows),
                          &inserted, &f) == 0)
            break;
        if (fail_is_permanent(st, &f) && ++tries >= st->max_tries) {
            char t[16], n[24];
            ING_ADD(&st->errors, 1);
            snprintf(t, sizeof(t), "%d", tries);
            snprintf(n, sizeof(n), "%zu", nrows);
            sy_log_kv(SY_ERROR, "batch refused with the same kind of error every time; "
                                "setting aside the events postgresql refuses",
                      "reason", f.err, "sqlstate", f.sqlstate, "tries", t, "events", n, NULL);
            return isolate(st, copy, rows, 0, nrows, &f, tries);
        }
        if (retry_pause(st, &f, "batch not committed; will retry", tries))
            return -1;
    }
    count_written(st, nrows, inserted);
    return 0;
}
