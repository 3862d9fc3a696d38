/*
 * switchyard ingest: drain the Redis stream sy:events into PostgreSQL's requests table.
 *
 * One loop, blocking hiredis + libpq (this is its own process):
 *
 *   read a batch   own pending entries first (ID 0: what a previous run of this consumer
 *                  read but never acknowledged), then entries other consumers left pending
 *                  for --claim-idle-ms (XAUTOCLAIM: a crashed ingest), then new ones (>).
 *   convert        each entry's field e (one event) or b (the router's batches: events
 *                  separated by newlines) -> one COPY line per event (ingest/event.c);
 *                  an event that is not valid goes to sy:events:dead with its reason.
 *   commit         BEGIN; COPY into a temp table; INSERT INTO requests ... ON CONFLICT DO
 *                  NOTHING; COMMIT. Any error: keep the batch, reconnect with backoff, retry.
 *   acknowledge    only after the commit: MULTI; XACK; XDEL; EXEC.
 *
 * A crash anywhere replays at most one batch, which the (request_id, ts) key absorbs.
 */
#include "ingest/ingest.h"

#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/redisurl.h"
#include "ingest/event.h"
#include "wire/keys.h"

#define ING_DEAD_MAXLEN "100000"
#define ING_TMP_TABLE "ingest_batch"
#define ING_PARTITION_DAYS "7"
#define ING_PARTITION_EVERY_MS (3600 * 1000L)
#define ING_STATS_EVERY_MS (60 * 1000L)
#define ING_STATEMENT_TIMEOUT_MS 60000
#define ING_COPY_CHUNK (1024 * 1024)
#define ING_REDIS_CONNECT_MS 2000
#define ING_REDIS_REPLY_MS 10000 /* on top of --block-ms */
/* A batch that was not full is followed by a pause until this long after its read
 * began, so a steady trickle is committed ~5 times a second in larger
 * transactions instead of one per entry (each costs a round of BEGIN, COPY,
 * INSERT with its rollup trigger, COMMIT). */
#define ING_LINGER_MS 200

struct ing_opts {
    const char *redis_url;
    const char *database_url;
    long batch;
    long block_ms;
    long claim_idle_ms;
    int once;
};

struct ing_entry {
    char *id;
    char *e;      /* field e or b, NULL if neither */
    size_t elen;
    int batch;    /* from field b: events separated by newlines */
    int deleted;  /* XDEL'd while pending: nothing to ingest, only to acknowledge */
};

struct ing_batch {
    struct ing_entry *v;
    size_t n;
    size_t cap;
};

struct ing_stats {
    unsigned long long read, inserted, duplicates, dead, batches, pg_errors, redis_errors;
};

struct ing {
    struct ing_opts o;
    sy_redis_addr addr;
    char consumer[300];
    redisContext *rc;
    PGconn *pg;
    struct ing_buf copy;
    struct ing_stats st;
    struct sy_backoff pg_backoff, redis_backoff;
    long long next_partitions_ms, next_claim_ms, next_stats_ms;
    char sql_create[2048], sql_copy[1024], sql_insert[2048];
    int read_pending;     /* re-read our own pending entries (ID 0) before new ones */
    char claim_cursor[64];
};

static volatile sig_atomic_t ing_stop;

static void ing_on_signal(int sig)
{
    (void)sig;
    ing_stop = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ing_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard ingest [options]\n"
            "\n"
            "Drain the Redis stream " WIRE_EVENTS_STREAM " (consumer group " WIRE_EVENTS_GROUP ") into the\n"
            "PostgreSQL table requests. Nothing is acknowledged before it is committed; bad\n"
            "entries go to " WIRE_EVENTS_DEAD_STREAM " with a reason. SIGTERM/SIGINT finish the\n"
            "current batch and exit 0.\n"
            "\n"
            "options:\n"
            "  --redis-url URL       Redis (default: $SWITCHYARD_REDIS_URL)\n"
            "  --database-url URL    PostgreSQL (default: $SWITCHYARD_DATABASE_URL)\n"
            "  --batch N             stream entries per batch, 1..100000 (default 100; a\n"
            "                        router's entry holds up to 128 events)\n"
            "  --block-ms MS         wait for new entries up to MS, 1..60000 (default 1000)\n"
            "  --claim-idle-ms MS    take over entries another consumer has left pending\n"
            "                        for MS, 100..86400000 (default 30000)\n"
            "  --once                drain what is there, then exit\n"
            "  --log-level LEVEL     debug, info, warn, error (default info)\n"
            "  -h, --help            this text\n");
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ingest: %s: expected an integer from %ld to %ld (got \"%s\")\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 ok, 1 --help printed, 2 usage error (message printed). */
static int ing_parse_args(int argc, char **argv, struct ing *g)
{
    static const struct option longopts[] = {
        {"redis-url", required_argument, NULL, 'r'},
        {"database-url", required_argument, NULL, 'u'},
        {"batch", required_argument, NULL, 'b'},
        {"block-ms", required_argument, NULL, 'B'},
        {"claim-idle-ms", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ing_opts *o = &g->o;
    enum sy_log_level level;
    char err[512];
    int c;

    o->redis_url = getenv("SWITCHYARD_REDIS_URL");
    o->database_url = getenv("SWITCHYARD_DATABASE_URL");
    o->batch = 100;
    o->block_ms = 1000;
    o->claim_idle_ms = 30000;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->redis_url = optarg;
            break;
        case 'u':
            o->database_url = optarg;
            break;
        case 'b':
            if (parse_long("--batch", optarg, 1, 100000, &o->batch))
                return 2;
            break;
        case 'B':
            if (parse_long("--block-ms", optarg, 1, 60000, &o->block_ms))
                return 2;
            break;
        case 'c':
            if (parse_long("--claim-idle-ms", optarg, 100, 86400000, &o->claim_idle_ms))
                return 2;
            break;
        case 'o':
            o->once = 1;
            break;
        case 'l':
            if (sy_log_parse_level(optarg, &level) != 0) {
                fprintf(stderr, "ingest: --log-level: expected debug, info, warn or error "
                                "(got \"%s\")\n", optarg);
                return 2;
            }
            sy_log_set_level(level);
            break;
        case 'h':
            ing_usage(stdout);
            return 1;
        case ':':
            fprintf(stderr, "ingest: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "ingest: unknown option '%s' (see 'switchyard ingest --help')\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ingest: unexpected argument '%s' (see 'switchyard ingest --help')\n",
                argv[optind]);
        return 2;
    }
    if (!o->redis_url || !*o->redis_url) {
        fprintf(stderr, "ingest: no Redis: pass --redis-url or set SWITCHYARD_REDIS_URL\n");
        return 2;
    }
    if (!o->database_url || !*o->database_url) {
        fprintf(stderr, "ingest: no database: pass --database-url or set "
                        "SWITCHYARD_DATABASE_URL\n");
        return 2;
    }
    if (sy_redis_url_parse(o->redis_url, &g->addr, err, sizeof(err)) != 0) {
        fprintf(stderr, "ingest: --redis-url: %s\n", err);
        return 2;
    }
    if (sy_pg_check_url(o->database_url, err, sizeof(err)) != 0) {
        fprintf(stderr, "ingest: --database-url: %s\n", err);
        return 2;
    }
    return 0;
}

/* ---- batches ------------------------------------------------------------ */

static void batch_clear(struct ing_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].id);
        free(b->v[i].e);
    }
    b->n = 0;
}

static void batch_free(struct ing_batch *b)
{
    batch_clear(b);
    free(b->v);
    b->v = NULL;
    b->cap = 0;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Appends entries of an XREADGROUP/XAUTOCLAIM entry list: [[id, [f, v, ...]], ...]. */
static int batch_add_entries(struct ing_batch *b, const redisReply *list)
{
    if (list->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *ent = list->element[i];
        struct ing_entry *e;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING)
            return -1;
        if (b->n == b->cap) {
            size_t ncap = b->cap ? b->cap * 2 : 256;
            struct ing_entry *nv = realloc(b->v, ncap * sizeof(*nv));
            if (!nv)
                return -1;
            b->v = nv;
            b->cap = ncap;
        }
        e = &b->v[b->n];
        memset(e, 0, sizeof(*e));
        if (!(e->id = dup_bytes(ent->element[0]->str, ent->element[0]->len)))
            return -1;
        b->n++;
        const redisReply *fields = ent->element[1];
        if (fields->type != REDIS_REPLY_ARRAY) {
            e->deleted = 1;
            continue;
        }
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
            const redisReply *k = fields->element[f], *v = fields->element[f + 1];
            if (k->type == REDIS_REPLY_STRING && k->len == 1 &&
                (k->str[0] == 'e' || k->str[0] == 'b') && v->type == REDIS_REPLY_STRING) {
                if (!(e->e = dup_bytes(v->str, v->len)))
                    return -1;
                e->elen = v->len;
                e->batch = k->str[0] == 'b';
                break;
            }
        }
    }
    return 0;
}

/* ---- redis --------------------------------------------------------------- */

static void redis_drop(struct ing *g, const char *why)
{
    if (g->rc) {
        sy_log_kv(SY_WARN, "redis connection lost", "reason", why, NULL);
        g->st.redis_errors++;
        redisFree(g->rc);
        g->rc = NULL;
    }
}

static redisReply *redis_cmd(struct ing *g, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(g->rc, argc, argv, lens);
    if (!r)
        redis_drop(g, g->rc->errstr[0] ? g->rc->errstr : "no reply");
    return r;
}

static int reply_is_error(const redisReply *r, const char *prefix)
{
    return r->type == REDIS_REPLY_ERROR && (!prefix || !strncmp(r->str, prefix, strlen(prefix)));
}

/* Connects, authenticates, selects the db, creates the group. 0, or -1 (logged). */
static int redis_connect_once(struct ing *g)
{
    struct timeval ctv = {ING_REDIS_CONNECT_MS / 1000, (ING_REDIS_CONNECT_MS % 1000) * 1000};
    long reply_ms = g->o.block_ms + ING_REDIS_REPLY_MS;
    struct timeval rtv = {reply_ms / 1000, (reply_ms % 1000) * 1000};
    redisReply *r = NULL;
    char db[16];

    g->rc = redisConnectWithTimeout(g->addr.host, g->addr.port, ctv);
    if (!g->rc || g->rc->err) {
        sy_log_kv(SY_WARN, "redis connect failed", "reason",
                  g->rc ? g->rc->errstr : "out of memory", NULL);
        goto fail;
    }
    if (redisSetTimeout(g->rc, rtv) != REDIS_OK)
        goto fail;
    if (g->addr.password[0]) {
        if (g->addr.user[0]) {
            const char *a[] = {"AUTH", g->addr.user, g->addr.password};
            r = redisCommandArgv(g->rc, 3, a, NULL);
        } else {
            const char *a[] = {"AUTH", g->addr.password};
            r = redisCommandArgv(g->rc, 2, a, NULL);
        }
        if (!r || reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "redis AUTH failed", "reason", r ? r->str : g->rc->errstr, NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (g->addr.db != 0) {
        snprintf(db, sizeof(db), "%d", g->addr.db);
        const char *a[] = {"SELECT", db};
        r = redisCommandArgv(g->rc, 2, a, NULL);
        if (!r || reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "redis SELECT failed", "reason", r ? r->str : g->rc->errstr,
                      NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    {
        const char *a[] = {"XGROUP", "CREATE", WIRE_EVENTS_STREAM, WIRE_EVENTS_GROUP, "0", "MKSTREAM"};
        r = redisCommandArgv(g->rc, 6, a, NULL);
        if (!r || (reply_is_error(r, NULL) && !reply_is_error(r, "BUSYGROUP"))) {
            sy_log_kv(SY_ERROR, "redis XGROUP CREATE failed", "reason",
                      r ? r->str : g->rc->errstr, NULL);
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    g->read_pending = 1; /* anything we read before a disconnect may still be pending */
    snprintf(g->claim_cursor, sizeof(g->claim_cursor), "0-0");
    sy_log(SY_INFO, "redis connected", "host=%s port=%d db=%d", g->addr.host, g->addr.port,
           g->addr.db);
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    if (g->rc)
        redisFree(g->rc);
    g->rc = NULL;
    return -1;
}

/* Connects with backoff; always tries once, gives up (-1) only when told to stop. */
static int redis_ensure(struct ing *g)
{
    while (!g->rc) {
        if (redis_connect_once(g) == 0) {
            sy_backoff_reset(&g->redis_backoff);
            return 0;
        }
        g->st.redis_errors++;
        if (ing_stop || sy_sleep_ms(sy_backoff_next(&g->redis_backoff), &ing_stop))
            return -1;
    }
    return 0;
}

/* ---- postgresql ---------------------------------------------------------- */

static void pg_drop(struct ing *g)
{
    PQfinish(g->pg);
    g->pg = NULL;
}

static int pg_exec(struct ing *g, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(g->pg, sql);
    ExecStatusType s = PQresultStatus(res);
    PQclear(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return 0;
    sy_pg_error(g->pg, err, errlen);
    return -1;
}

static void pg_partitions(struct ing *g)
{
    char err[512];
    PGresult *res;

    if (now_ms() < g->next_partitions_ms)
        return;
    res = PQexec(g->pg, "SELECT sy_create_request_partitions(" ING_PARTITION_DAYS ")");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        sy_log(SY_INFO, "request partitions checked", "created=%s days_ahead=%s",
               PQgetvalue(res, 0, 0), ING_PARTITION_DAYS);
        g->next_partitions_ms = now_ms() + ING_PARTITION_EVERY_MS;
    } else {
        sy_pg_error(g->pg, err, sizeof(err));
        sy_log_kv(SY_WARN, "creating request partitions failed", "reason", err, NULL);
        g->next_partitions_ms = now_ms() + 60 * 1000; /* retry in a minute */
    }
    PQclear(res);
}

static int pg_connect_once(struct ing *g)
{
    char err[1024], redacted[512];

    g->pg = sy_pg_connect(g->o.database_url, "switchyard-ingest", ING_STATEMENT_TIMEOUT_MS, err,
                          sizeof(err));
    if (!g->pg) {
        sy_pg_redact_url(g->o.database_url, redacted, sizeof(redacted));
        sy_log_kv(SY_WARN, "postgresql connect failed", "url", redacted, "reason", err, NULL);
        return -1;
    }
    if (pg_exec(g, "SET client_min_messages = warning", err, sizeof(err)) != 0 ||
        pg_exec(g, g->sql_create, err, sizeof(err)) != 0) {
        sy_log_kv(SY_WARN, "postgresql session setup failed", "reason", err, NULL);
        pg_drop(g);
        return -1;
    }
    sy_log(SY_INFO, "postgresql connected", NULL);
    pg_partitions(g);
    return 0;
}

/* Connects with backoff; always tries once, gives up (-1) only when told to stop. */
static int pg_ensure(struct ing *g)
{
    while (!g->pg) {
        if (pg_connect_once(g) == 0) {
            sy_backoff_reset(&g->pg_backoff);
            return 0;
        }
        g->st.pg_errors++;
        if (ing_stop || sy_sleep_ms(sy_backoff_next(&g->pg_backoff), &ing_stop))
            return -1;
    }
    return 0;
}

/* One attempt: COPY + INSERT + COMMIT of g->copy. 0 (inserted set), or -1 with err. */
static int pg_write_once(struct ing *g, long long *inserted, char *err, size_t errlen)
{
    PGresult *res = NULL;

    if (pg_exec(g, "BEGIN", err, errlen) != 0)
        return -1;
    res = PQexec(g->pg, g->sql_copy);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        sy_pg_error(g->pg, err, errlen);
        goto fail;
    }
    PQclear(res);
    res = NULL;
    for (size_t off = 0; off < g->copy.len;) {
        size_t n = g->copy.len - off > ING_COPY_CHUNK ? ING_COPY_CHUNK : g->copy.len - off;
        if (PQputCopyData(g->pg, g->copy.data + off, (int)n) != 1) {
            sy_pg_error(g->pg, err, errlen);
            goto fail;
        }
        off += n;
    }
    if (PQputCopyEnd(g->pg, NULL) != 1) {
        sy_pg_error(g->pg, err, errlen);
        goto fail;
    }
    res = PQgetResult(g->pg);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(g->pg, err, errlen);
        goto fail;
    }
    PQclear(res);
    while ((res = PQgetResult(g->pg)) != NULL)
        PQclear(res);
    res = PQexec(g->pg, g->sql_insert);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(g->pg, err, errlen);
        goto fail;
    }
    *inserted = atoll(PQcmdTuples(res));
    PQclear(res);
    res = NULL;
    /* COMMIT reports failure as an error, or as ROLLBACK on an aborted transaction. */
    res = PQexec(g->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        sy_pg_error(g->pg, err, errlen);
        goto fail;
    }
    PQclear(res);
    return 0;
fail:
    PQclear(res);
    while ((res = PQgetResult(g->pg)) != NULL)
        PQclear(res);
    if (PQstatus(g->pg) == CONNECTION_OK) {
        res = PQexec(g->pg, "ROLLBACK");
        PQclear(res);
    }
    return -1;
}

/* Commits g->copy (rows lines), retrying through outages. 0, or -1 when stopping. */
static int pg_write(struct ing *g, size_t rows)
{
    char err[1024];
    long long inserted = 0;

    for (;;) {
        if (pg_ensure(g) != 0)
            return -1;
        if (pg_write_once(g, &inserted, err, sizeof(err)) == 0)
            break;
        g->st.pg_errors++;
        sy_log_kv(SY_WARN, "batch not committed; will retry", "reason", err, NULL);
        pg_drop(g); /* the next attempt starts from a fresh session */
        if (sy_sleep_ms(sy_backoff_next(&g->pg_backoff), &ing_stop))
            return -1;
    }
    sy_backoff_reset(&g->pg_backoff);
    g->st.inserted += (unsigned long long)inserted;
    g->st.duplicates += rows - (size_t)inserted;
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

/* Dead-letters one event of entry id (ev NULL: the entry has none), retrying through
 * Redis outages. 0, or -1 when stopping. */
static int dead_letter(struct ing *g, const char *id, const char *ev, size_t evlen,
                       const char *reason)
{
    const char *argv[11] = {"XADD", WIRE_EVENTS_DEAD_STREAM, "MAXLEN", "~", ING_DEAD_MAXLEN, "*",
                            "id", id, "reason", reason, "e"};
    size_t lens[12];
    int argc = 10;
    const char *args[12];

    memcpy(args, argv, sizeof(argv));
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(args[i]);
    if (ev) {
        args[11] = ev;
        lens[11] = evlen;
        argc = 12;
    }
    for (;;) {
        redisReply *r;
        if (redis_ensure(g) != 0)
            return -1;
        r = redis_cmd(g, argc, args, lens);
        if (!r) {
            if (sy_sleep_ms(sy_backoff_next(&g->redis_backoff), &ing_stop))
                return -1;
            continue;
        }
        if (reply_is_error(r, NULL)) {
            sy_log_kv(SY_ERROR, "dead-letter XADD failed", "id", id, "reason", r->str, NULL);
            freeReplyObject(r);
            if (sy_sleep_ms(sy_backoff_next(&g->redis_backoff), &ing_stop))
                return -1;
            continue;
        }
        freeReplyObject(r);
        sy_log_kv(SY_WARN, "bad event dead-lettered", "id", id, "reason", reason, NULL);
        g->st.dead++;
        return 0;
    }
}

/* XACK + XDEL the batch atomically (retrying through Redis outages). 0, or -1 when stopping. */
static int ack_batch(struct ing *g, const struct ing_batch *b)
{
    size_t n = b->n;
    const char **argv = malloc((n + 3) * sizeof(*argv));
    int rc = -1;

    if (!argv) {
        sy_log(SY_ERROR, "out of memory acknowledging a batch", "entries=%zu", n);
        return -1;
    }
    for (;;) {
        redisReply *r = NULL;
        int ok = 1;
        if (redis_ensure(g) != 0)
            goto done;
        /* pipeline: MULTI, XACK, XDEL, EXEC */
        redisAppendCommand(g->rc, "MULTI");
        argv[0] = "XACK";
        argv[1] = WIRE_EVENTS_STREAM;
        argv[2] = WIRE_EVENTS_GROUP;
        for (size_t i = 0; i < n; i++)
            argv[3 + i] = b->v[i].id;
        redisAppendCommandArgv(g->rc, (int)(n + 3), argv, NULL);
        argv[1] = "XDEL";
        argv[2] = WIRE_EVENTS_STREAM;
        redisAppendCommandArgv(g->rc, (int)(n + 2), argv + 1, NULL);
        redisAppendCommand(g->rc, "EXEC");
        for (int i = 0; i < 4; i++) {
            if (redisGetReply(g->rc, (void **)&r) != REDIS_OK) {
                redis_drop(g, g->rc->errstr);
                ok = 0;
                break;
            }
            if (i < 3) { /* +OK, +QUEUED, +QUEUED */
                if (reply_is_error(r, NULL)) {
                    sy_log_kv(SY_ERROR, "MULTI/XACK/XDEL refused", "reason", r->str, NULL);
                    ok = 0;
                }
            } else if (r->type != REDIS_REPLY_ARRAY) {
                sy_log_kv(SY_ERROR, "EXEC failed", "reason",
                          r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply", NULL);
                ok = 0;
            } else {
                for (size_t k = 0; k < r->elements; k++) {
                    const redisReply *x = r->element[k];
                    /* NOGROUP: Redis lost the stream (restart without persistence);
                     * there is nothing left to acknowledge. */
                    if (reply_is_error(x, NULL) && !reply_is_error(x, "NOGROUP")) {
                        sy_log_kv(SY_ERROR, "XACK/XDEL failed", "reason", x->str, NULL);
                        ok = 0;
                    }
                }
            }
            freeReplyObject(r);
            r = NULL;
        }
        if (ok) {
            rc = 0;
            goto done;
        }
        if (sy_sleep_ms(sy_backoff_next(&g->redis_backoff), &ing_stop))
            goto done;
    }
done:
    free(argv);
    return rc;
}

/* An event that could not be converted, waiting to be dead-lettered. */
struct ing_bad {
    const char *id;
    const char *ev; /* into the entry; NULL: the entry has no event field */
    size_t len;
    char *reason;
};

struct ing_bads {
    struct ing_bad *v;
    size_t n, cap;
};

static int bads_add(struct ing_bads *bs, const char *id, const char *ev, size_t len,
                    const char *reason)
{
    if (bs->n == bs->cap) {
        size_t ncap = bs->cap ? bs->cap * 2 : 16;
        struct ing_bad *nv = realloc(bs->v, ncap * sizeof(*nv));
        if (!nv)
            return -1;
        bs->v = nv;
        bs->cap = ncap;
    }
    char *r = strdup(reason);
    if (!r)
        return -1;
    bs->v[bs->n++] = (struct ing_bad){id, ev, len, r};
    return 0;
}

/* Converts one event to a COPY line, or notes why not. 1 converted, 0 bad, -1 out of
 * memory. */
static int convert_one(struct ing *g, struct ing_bads *bs, const char *id, const char *ev,
                       size_t len)
{
    char reason[512];
    if (ing_event_to_copy(ev, len, &g->copy, reason, sizeof(reason)) == 0)
        return 1;
    return bads_add(bs, id, ev, len, reason) ? -1 : 0;
}

/* Converts, commits, dead-letters and acknowledges one batch. 0, or -1 when stopping
 * before the batch was acknowledged (it stays pending and is replayed next time). */
static int process_batch(struct ing *g, struct ing_batch *b)
{
    struct ing_bads bs = {0};
    size_t rows = 0, events = 0;
    int rc = -1, k;

    g->copy.len = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct ing_entry *e = &b->v[i];
        if (e->deleted)
            continue;
        if (!e->e) {
            if (bads_add(&bs, e->id, NULL, 0, "no field e"))
                goto oom;
            continue;
        }
        if (!e->batch) {
            events++;
            if ((k = convert_one(g, &bs, e->id, e->e, e->elen)) < 0)
                goto oom;
            rows += (size_t)k;
            continue;
        }
        for (const char *p = e->e, *end = e->e + e->elen; p <= end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *lim = nl ? nl : end;
            events++;
            if ((k = convert_one(g, &bs, e->id, p, (size_t)(lim - p))) < 0)
                goto oom;
            rows += (size_t)k;
            p = lim + 1;
        }
    }
    if (rows > 0 && pg_write(g, rows) != 0)
        goto done;
    for (size_t i = 0; i < bs.n; i++)
        if (dead_letter(g, bs.v[i].id, bs.v[i].ev, bs.v[i].len, bs.v[i].reason) != 0)
            goto done;
    if (ack_batch(g, b) != 0)
        goto done;
    g->st.read += events;
    g->st.batches++;
    sy_log(SY_DEBUG, "batch done", "entries=%zu events=%zu rows=%zu", b->n, events, rows);
    rc = 0;
    goto done;
oom:
    sy_log(SY_ERROR, "out of memory converting a batch", "entries=%zu", b->n);
done:
    for (size_t i = 0; i < bs.n; i++)
        free(bs.v[i].reason);
    free(bs.v);
    return rc;
}

/* Reads the next batch into b: own pending entries, claimed ones, or new ones.
 * Returns 0 (b may be empty), -1 on a Redis failure (connection dropped). */
static int read_batch(struct ing *g, struct ing_batch *b, int *was_new)
{
    char count[24], block[24], idle[24];
    redisReply *r;

    snprintf(count, sizeof(count), "%ld", g->o.batch);
    snprintf(block, sizeof(block), "%ld", g->o.block_ms);
    snprintf(idle, sizeof(idle), "%ld", g->o.claim_idle_ms);
    *was_new = 0;

    if (!g->read_pending && now_ms() >= g->next_claim_ms) {
        const char *argv[] = {"XAUTOCLAIM", WIRE_EVENTS_STREAM, WIRE_EVENTS_GROUP, g->consumer, idle,
                              g->claim_cursor, "COUNT", count};
        r = redis_cmd(g, 8, argv, NULL);
        if (!r)
            return -1;
        if (reply_is_error(r, "NOGROUP")) {
            freeReplyObject(r);
            redis_drop(g, "consumer group missing");
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || batch_add_entries(b, r->element[1])) {
            sy_log_kv(SY_ERROR, "XAUTOCLAIM: unexpected reply", "reason",
                      r->type == REDIS_REPLY_ERROR ? r->str : "bad shape", NULL);
            freeReplyObject(r);
            batch_clear(b);
            g->next_claim_ms = now_ms() + g->o.claim_idle_ms / 2;
            return 0;
        }
        snprintf(g->claim_cursor, sizeof(g->claim_cursor), "%s", r->element[0]->str);
        if (!strcmp(g->claim_cursor, "0-0"))
            g->next_claim_ms = now_ms() + (g->o.claim_idle_ms / 2 > 1000 ? g->o.claim_idle_ms / 2
                                                                        : 1000);
        if (b->n > 0)
            sy_log(SY_INFO, "claimed entries left pending by another consumer", "entries=%zu",
                   b->n);
        freeReplyObject(r);
        if (b->n > 0 || strcmp(g->claim_cursor, "0-0") != 0)
            return 0;
    }

    const char *id = g->read_pending ? "0" : ">";
    const char *argv[] = {"XREADGROUP", "GROUP", WIRE_EVENTS_GROUP, g->consumer, "COUNT", count,
                          "BLOCK", block, "STREAMS", WIRE_EVENTS_STREAM, id};
    int argc = 11;
    if (g->read_pending || g->o.once) { /* no BLOCK */
        argv[6] = "STREAMS";
        argv[7] = WIRE_EVENTS_STREAM;
        argv[8] = id;
        argc = 9;
    }
    r = redis_cmd(g, argc, argv, NULL);
    if (!r)
        return -1;
    if (reply_is_error(r, "NOGROUP")) {
        freeReplyObject(r);
        redis_drop(g, "consumer group missing");
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        freeReplyObject(r);
        *was_new = 1;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        batch_add_entries(b, r->element[0]->element[1]) != 0) {
        sy_log_kv(SY_ERROR, "XREADGROUP: unexpected reply", "reason",
                  r->type == REDIS_REPLY_ERROR ? r->str : "bad shape", NULL);
        freeReplyObject(r);
        batch_clear(b);
        redis_drop(g, "unexpected reply");
        return -1;
    }
    freeReplyObject(r);
    *was_new = !g->read_pending;
    if (g->read_pending && b->n == 0)
        g->read_pending = 0; /* our pending list is empty: on to new entries */
    return 0;
}

static void log_stats(struct ing *g, const char *msg)
{
    sy_log(SY_INFO, msg,
           "read=%llu inserted=%llu duplicates=%llu dead=%llu batches=%llu pg_errors=%llu "
           "redis_errors=%llu",
           g->st.read, g->st.inserted, g->st.duplicates, g->st.dead, g->st.batches,
           g->st.pg_errors, g->st.redis_errors);
}

static void ing_run(struct ing *g)
{
    struct ing_batch b = {0};

    while (!ing_stop) {
        int was_new = 0;
        if (redis_ensure(g) != 0 || pg_ensure(g) != 0)
            break;
        pg_partitions(g);
        if (now_ms() >= g->next_stats_ms) {
            if (g->st.read)
                log_stats(g, "ingest stats");
            g->next_stats_ms = now_ms() + ING_STATS_EVERY_MS;
        }
        long long t_read = now_ms();
        if (read_batch(g, &b, &was_new) != 0) {
            sy_sleep_ms(sy_backoff_next(&g->redis_backoff), &ing_stop);
            continue;
        }
        if (b.n == 0) {
            if (g->o.once && was_new)
                break;
            continue;
        }
        /* Once read, a batch is finished even when a signal arrives meanwhile; only an
         * outage that outlasts the signal leaves it pending for the next run. */
        if (process_batch(g, &b) != 0) {
            sy_log(SY_WARN, "stopping with a batch not acknowledged; the next run replays it",
                   "entries=%zu", b.n);
            batch_clear(&b);
            break;
        }
        int full = b.n >= (size_t)g->o.batch;
        batch_clear(&b);
        long long left = t_read + ING_LINGER_MS - now_ms();
        if (!full && !g->o.once && left > 0)
            sy_sleep_ms(left, &ing_stop);
    }
    batch_free(&b);
}

int ingest_main(int argc, char **argv)
{
    struct ing g;
    struct sigaction sa;
    char host[256];

    memset(&g, 0, sizeof(g));
    sy_log_set_component("ingest");
    switch (ing_parse_args(argc, argv, &g)) {
    case 0:
        break;
    case 1:
        return 0;
    default:
        return 2;
    }
    if (ing_event_sql(ING_TMP_TABLE, g.sql_create, sizeof(g.sql_create), g.sql_copy,
                      sizeof(g.sql_copy), g.sql_insert, sizeof(g.sql_insert)) != 0) {
        sy_log(SY_ERROR, "internal: SQL buffers too small", NULL);
        return 1;
    }
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(g.consumer, sizeof(g.consumer), "%s:%ld", host, (long)getpid());
    sy_backoff_init(&g.pg_backoff, 100, 5000);
    sy_backoff_init(&g.redis_backoff, 100, 5000);
    srand((unsigned)(getpid() ^ time(NULL)));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ing_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    sy_log(SY_INFO, "started", "consumer=%s batch=%ld block_ms=%ld once=%s", g.consumer,
           g.o.batch, g.o.block_ms, g.o.once ? "true" : "false");
    ing_run(&g);
    log_stats(&g, "stopped");
    if (g.rc)
        redisFree(g.rc);
    PQfinish(g.pg);
    ing_buf_free(&g.copy);
    return 0;
}
