/*
 * switchyard ingest: drain the Redis stream sy:events into PostgreSQL's requests table.
 *
 * One loop, blocking hiredis + libpq (this is its own process). This file is the loop,
 * its options and main; ingest/spool.c is the Redis side (read, dead-letter,
 * acknowledge), ingest/store.c the PostgreSQL side (commit):
 *
 *   read a batch   own pending entries first (ID 0: what a previous run of this consumer
 *                  read but never acknowledged), then entries other consumers left pending
 *                  for --claim-idle-ms (XAUTOCLAIM: a crashed ingest), then new ones (>).
 *   convert        each entry's field e (one event) or b (the router's batches: events
 *                  separated by newlines) -> one COPY line per event (ingest/event.c);
 *                  an event that is not valid goes to sy:events:dead with its reason.
 *   commit         BEGIN; COPY into a temp table; sy_ingest_requests() (INSERT ... ON
 *                  CONFLICT DO NOTHING into the day partitions, rollups set-wise in the
 *                  same statement: migrations/0009); COMMIT. Any error: keep the batch, reconnect with backoff, retry;
 *                  a batch PostgreSQL refuses --max-tries times for its data is bisected and
 *                  the events it still refuses go to the table ingest_dead_letters.
 *   acknowledge    only after the commit: MULTI; XACK; XDEL; EXEC.
 *
 * A crash anywhere replays at most one batch, which the (request_id, ts) key absorbs.
 */
#include "ingest/ingest.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/opts.h"
#include "common/pg.h"
#include "common/redisurl.h"
#include "ingest/event.h"
#include "ingest/metrics.h"
#include "ingest/spool.h"
#include "ingest/store.h"
#include "wire/keys.h"

#define ING_STATS_EVERY_MS (60 * 1000L)
/* A batch that was not full is followed by a pause until this long after its read
 * began, so a steady trickle is committed ~5 times a second in larger
 * transactions instead of one per entry (each costs a round of BEGIN, COPY,
 * INSERT with its rollup trigger, COMMIT). */
#define ING_LINGER_MS 200

/* The COPY lines of the batch in hand, for ing_store_write's dead letters. */
struct ing_rows {
    struct ing_row *v;
    size_t n, cap;
};

struct ing_opts {
    const char *redis_url;
    const char *database_url;
    long batch;
    long block_ms;
    long claim_idle_ms;
    long max_tries;
    long retention_days;
    const char *metrics_listen;
    int once;
};

struct ing {
    struct ing_opts o;
    struct ing_spool spool;
    struct ing_store store;
    struct ing_buf copy;
    struct ing_rows rows;
    unsigned long long read, batches;
    long long next_stats_ms;
    ing_metrics *metrics;        /* NULL without --metrics-listen */
    long long next_depth_ms;     /* the spool's length and age, sampled once a second */
    long long spool_entries, oldest_ms;
    double last_commit_unix;
};

static volatile sig_atomic_t ing_stop;

static void ing_on_signal(int sig)
{
    (void)sig;
    ing_stop = 1;
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
            "  --redis-url URL       Redis: redis://host:port/db or redis+sentinel://h:p,h:p/master\n"
            "                        (default: $SWITCHYARD_REDIS_URL)\n"
            "  --database-url URL    PostgreSQL (default: $SWITCHYARD_DATABASE_URL)\n"
            "  --batch N             stream entries per batch, 1..100000 (default 100; a\n"
            "                        router's entry holds up to 128 events)\n"
            "  --block-ms MS         wait for new entries up to MS, 1..60000 (default 1000)\n"
            "  --claim-idle-ms MS    take over entries another consumer has left pending\n"
            "                        for MS, 100..86400000 (default 30000)\n"
            "  --max-tries N         a batch PostgreSQL refuses N times with a data or\n"
            "                        constraint error is bisected and the events it refuses\n"
            "                        go to the table ingest_dead_letters, 1..1000 (default %d)\n"
            "  --retention-days N    drop request partitions (days) older than N days at start\n"
            "                        and hourly, rollups kept; 0 keeps everything, 0..36500\n"
            "                        (default 30)\n"
            "  --metrics-listen HOST:PORT\n"
            "                        serve GET /metrics (Prometheus text) and /healthz there,\n"
            "                        on a thread of its own (default: off; port 0 picks a free\n"
            "                        one, logged in \"started\")\n"
            "  --once                drain what is there, then exit\n"
            "  --log-level LEVEL     debug, info, warn, error (default info)\n"
            "  -h, --help            this text\n",
            ING_MAX_TRIES_DEFAULT);
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
static const sy_opts ingest_cmd = {"ingest", "'switchyard ingest --help'",
                                   SY_OPTS_QUOTED_MISSING};

static int ing_parse_args(int argc, char **argv, struct ing *g)
{
    static const struct option longopts[] = {
        {"redis-url", required_argument, NULL, 'r'},
        {"database-url", required_argument, NULL, 'u'},
        {"batch", required_argument, NULL, 'b'},
        {"block-ms", required_argument, NULL, 'B'},
        {"claim-idle-ms", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, 'o'},
        {"max-tries", required_argument, NULL, 't'},
        {"retention-days", required_argument, NULL, 'R'},
        {"metrics-listen", required_argument, NULL, 'm'},
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
    o->max_tries = ING_MAX_TRIES_DEFAULT;
    o->retention_days = 30;
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
        case 't':
            if (parse_long("--max-tries", optarg, 1, 1000, &o->max_tries))
                return 2;
            break;
        case 'R':
            if (parse_long("--retention-days", optarg, 0, 36500, &o->retention_days))
                return 2;
            break;
        case 'm':
            o->metrics_listen = optarg;
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
        default:
            return sy_opts_getopt_error(&ingest_cmd, c, argv);
        }
    }
    if (optind < argc)
        return sy_opts_unexpected(&ingest_cmd, argv[optind]);
    if (!o->redis_url || !*o->redis_url) {
        fprintf(stderr, "ingest: no Redis: pass --redis-url or set SWITCHYARD_REDIS_URL\n");
        return 2;
    }
    if (sy_pg_url_option("ingest", o->database_url) != 0)
        return SY_EXIT_USAGE;
    if (sy_redis_url_parse(o->redis_url, &g->spool.addr, err, sizeof(err)) != 0) {
        fprintf(stderr, "ingest: --redis-url: %s\n", err);
        return 2;
    }
    return 0;
}

/* "HOST:PORT" (the last colon splits; "[::1]:9" keeps the brackets off). 0 or -1. */
static int split_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon == s)
        return -1;
    const char *h = s;
    size_t hn = (size_t)(colon - s);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn == 0 || hn >= hostlen)
        return -1;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (int)p;
    return 0;
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

/* Converts one event to a binary COPY tuple, or notes why not. 1 converted, 0 bad, -1 out of
 * memory. */
static int convert_one(struct ing *g, struct ing_bads *bs, const char *id, const char *ev,
                       size_t len)
{
    char reason[512];
    size_t off = g->copy.len;
    if (ing_event_to_copy_binary(ev, len, &g->copy, reason, sizeof(reason)) != 0)
        return bads_add(bs, id, ev, len, reason) ? -1 : 0;
    struct ing_rows *rs = &g->rows;
    if (rs->n == rs->cap) {
        size_t ncap = rs->cap ? rs->cap * 2 : 256;
        struct ing_row *nv = realloc(rs->v, ncap * sizeof(*nv));
        if (!nv)
            return -1;
        rs->v = nv;
        rs->cap = ncap;
    }
    rs->v[rs->n++] = (struct ing_row){off, g->copy.len - off, id, ev, len};
    return 1;
}

/* Converts, commits, dead-letters and acknowledges one batch. 0, or -1 when stopping
 * before the batch was acknowledged (it stays pending and is replayed next time). */
static int process_batch(struct ing *g, struct ing_batch *b)
{
    struct ing_bads bs = {0};
    size_t rows = 0, events = 0;
    int rc = -1, k;

    g->copy.len = 0;
    g->rows.n = 0;
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
    if (ing_store_write(&g->store, &g->copy, g->rows.v, g->rows.n) != 0)
        goto done;
    for (size_t i = 0; i < bs.n; i++) {
        const struct ing_bad *x = &bs.v[i];
        if (ing_spool_dead_letter(&g->spool, x->id, x->ev, x->len, x->reason) != 0)
            goto done;
    }
    if (ing_spool_ack(&g->spool, b) != 0)
        goto done;
    g->read += (unsigned long long)events;
    g->batches++;
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

static void log_stats(struct ing *g, const char *msg)
{
    sy_log(SY_INFO, msg,
           "read=%llu inserted=%llu duplicates=%llu dead=%llu dead_refused=%llu batches=%llu "
           "fast_batches=%llu fast_fallbacks=%llu pg_errors=%llu redis_errors=%llu",
           g->read, g->store.inserted, g->store.duplicates, g->spool.dead, g->store.dead,
           g->batches, g->store.fast, g->store.fast_fallbacks, g->store.errors,
           g->spool.errors);
}

/* The counters and the spool's depth, for /metrics. */
static void publish_metrics(struct ing *g)
{
    if (!g->metrics)
        return;
    long long now = sy_clock_mono_ms();
    if (now >= g->next_depth_ms) {
        long long len = -1, oldest = 0;
        if (ing_spool_depth(&g->spool, &len, &oldest) == 0) {
            g->spool_entries = len;
            g->oldest_ms = oldest;
        } else {
            g->spool_entries = -1;
        }
        g->next_depth_ms = now + 1000;
    }
    long long wall = sy_clock_wall_ms();
    struct ing_metrics_snapshot s = {
        .read = g->read, .inserted = g->store.inserted, .duplicates = g->store.duplicates,
        .invalid = g->spool.dead, .refused = g->store.dead, .batches = g->batches,
        .pg_errors = g->store.errors, .redis_errors = g->spool.errors,
        .spool_entries = g->spool_entries,
        .lag_seconds = g->oldest_ms > 0 && wall > g->oldest_ms ? (double)(wall - g->oldest_ms) / 1e3
                                                              : 0.0,
        .last_commit_unix = g->last_commit_unix, .redis_up = g->spool.rc != NULL,
        .pg_up = g->store.pg != NULL,
    };
    ing_metrics_publish(g->metrics, &s);
}

static void ing_run(struct ing *g)
{
    struct ing_batch b = {0};

    while (!ing_stop) {
        publish_metrics(g);
        int was_new = 0;
        if (ing_spool_ensure(&g->spool) != 0 || ing_store_ensure(&g->store) != 0)
            break;
        ing_store_partitions(&g->store);
        if (sy_clock_mono_ms() >= g->next_stats_ms) {
            if (g->read)
                log_stats(g, "ingest stats");
            g->next_stats_ms = sy_clock_mono_ms() + ING_STATS_EVERY_MS;
        }
        long long t_read = sy_clock_mono_ms();
        if (ing_spool_read(&g->spool, &b, &was_new) != 0) {
            (void)ing_spool_pause(&g->spool); /* a stop ends the loop */
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
            ing_batch_clear(&b);
            break;
        }
        int full = b.n >= (size_t)g->o.batch;
        ing_batch_clear(&b);
        g->last_commit_unix = (double)sy_clock_wall_ms() / 1e3;
        g->next_depth_ms = 0; /* what is left, now */
        publish_metrics(g);
        long long left = t_read + ING_LINGER_MS - sy_clock_mono_ms();
        if (!full && !g->o.once && left > 0)
            sy_sleep_ms(left, &ing_stop);
    }
    ing_batch_free(&b);
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
    g.store.max_tries = (int)g.o.max_tries;
    g.store.retention_days = (int)g.o.retention_days;
    if (ing_store_init(&g.store, g.o.database_url, &ing_stop) != 0) {
        sy_log(SY_ERROR, "internal: SQL buffers too small", NULL);
        return 1;
    }
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(g.spool.consumer, sizeof(g.spool.consumer), "%s:%ld", host, (long)getpid());
    g.spool.batch = g.o.batch;
    g.spool.block_ms = g.o.block_ms;
    g.spool.claim_idle_ms = g.o.claim_idle_ms;
    g.spool.once = g.o.once;
    ing_spool_init(&g.spool, &ing_stop);
    srand((unsigned)(getpid() ^ time(NULL)));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ing_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int metrics_port = -1;
    if (g.o.metrics_listen) {
        char mhost[256], err[300];
        int mport;
        if (split_listen(g.o.metrics_listen, mhost, sizeof(mhost), &mport) != 0) {
            fprintf(stderr, "ingest: --metrics-listen: expected HOST:PORT with a port from 0 "
                            "to 65535 (got \"%s\")\n", g.o.metrics_listen);
            ing_store_close(&g.store);
            return 2;
        }
        if (!(g.metrics = ing_metrics_start(mhost, mport, &metrics_port, err, sizeof(err)))) {
            sy_log_kv(SY_ERROR, "cannot serve /metrics", "listen", g.o.metrics_listen, "reason",
                      err, NULL);
            ing_store_close(&g.store);
            return 1;
        }
        sy_log(SY_INFO, "metrics listening", "port=%d", metrics_port);
    }
    if (metrics_port >= 0)
        sy_log(SY_INFO, "started", "consumer=%s batch=%ld block_ms=%ld once=%s max_tries=%ld "
               "port=%d", g.spool.consumer, g.o.batch, g.o.block_ms, g.o.once ? "true" : "false",
               g.o.max_tries, metrics_port);
    else
        sy_log(SY_INFO, "started", "consumer=%s batch=%ld block_ms=%ld once=%s max_tries=%ld",
               g.spool.consumer, g.o.batch, g.o.block_ms, g.o.once ? "true" : "false",
               g.o.max_tries);
    ing_run(&g);
    ing_metrics_stop(g.metrics);
    log_stats(&g, "stopped");
    free(g.rows.v);
    ing_spool_close(&g.spool);
    ing_store_free(&g.store);
    ing_buf_free(&g.copy);
    return 0;
}
