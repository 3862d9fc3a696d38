/*
 * ingest's PostgreSQL side (ingest/store.h): one session, one transaction a batch.
 */
#include "ingest/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    sy_backoff_init(&st->backoff, 100, 5000);
    return ing_event_sql(ING_TMP_TABLE, st->sql_create, sizeof(st->sql_create), st->sql_copy,
                         sizeof(st->sql_copy), st->sql_insert, sizeof(st->sql_insert));
}

void ing_store_close(struct ing_store *st)
{
    PQfinish(st->pg);
    st->pg = NULL;
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
    char err[512];
    PGresult *res;

    if (sy_clock_mono_ms() < st->next_partitions_ms)
        return;
    res = PQexec(st->pg, "SELECT sy_create_request_partitions(" ING_PARTITION_DAYS ")");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        sy_log(SY_INFO, "request partitions checked", "created=%s days_ahead=%s",
               PQgetvalue(res, 0, 0), ING_PARTITION_DAYS);
        st->next_partitions_ms = sy_clock_mono_ms() + ING_PARTITION_EVERY_MS;
    } else {
        sy_pg_error(st->pg, err, sizeof(err));
        sy_log_kv(SY_WARN, "creating request partitions failed", "reason", err, NULL);
        st->next_partitions_ms = sy_clock_mono_ms() + 60 * 1000; /* retry in a minute */
    }
    PQclear(res);
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
    sy_log(SY_INFO, "postgresql connected", NULL);
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

/* One attempt: COPY + INSERT + COMMIT of copy. 0 (inserted set), or -1 with err. */
static int pg_write_once(struct ing_store *st, const struct ing_buf *copy, long long *inserted,
                         char *err, size_t errlen)
{
    PGresult *res = NULL;

    if (pg_exec(st, "BEGIN", err, errlen) != 0)
        return -1;
    res = PQexec(st->pg, st->sql_copy);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        sy_pg_error(st->pg, err, errlen);
        goto fail;
    }
    PQclear(res);
    res = NULL;
    for (size_t off = 0; off < copy->len;) {
        size_t n = copy->len - off > ING_COPY_CHUNK ? ING_COPY_CHUNK : copy->len - off;
        if (PQputCopyData(st->pg, copy->data + off, (int)n) != 1) {
            sy_pg_error(st->pg, err, errlen);
            goto fail;
        }
        off += n;
    }
    if (PQputCopyEnd(st->pg, NULL) != 1) {
        sy_pg_error(st->pg, err, errlen);
        goto fail;
    }
    res = PQgetResult(st->pg);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(st->pg, err, errlen);
        goto fail;
    }
    PQclear(res);
    while ((res = PQgetResult(st->pg)) != NULL)
        PQclear(res);
    res = PQexec(st->pg, st->sql_insert);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(st->pg, err, errlen);
        goto fail;
    }
    *inserted = atoll(PQcmdTuples(res));
    PQclear(res);
    res = NULL;
    /* COMMIT reports failure as an error, or as ROLLBACK on an aborted transaction. */
    res = PQexec(st->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        sy_pg_error(st->pg, err, errlen);
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

int ing_store_write(struct ing_store *st, const struct ing_buf *copy, size_t rows)
{
    char err[1024];
    long long inserted = 0;

    for (;;) {
        if (ing_store_ensure(st) != 0)
            return -1;
        if (pg_write_once(st, copy, &inserted, err, sizeof(err)) == 0)
            break;
        st->errors++;
        sy_log_kv(SY_WARN, "batch not committed; will retry", "reason", err, NULL);
        ing_store_close(st); /* the next attempt starts from a fresh session */
        if (sy_sleep_ms(sy_backoff_next(&st->backoff), st->stop))
            return -1;
    }
    sy_backoff_reset(&st->backoff);
    st->inserted += (unsigned long long)inserted;
    st->duplicates += rows - (size_t)inserted;
    return 0;
}
