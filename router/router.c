/*
 * switchyard router: options, workers, signals, and the small endpoints.
 * The chat completion path lives in chat.c.
 *
 * Process model: with --workers N > 1 the parent forks N workers that each
 * run their own event loop on the same port (SO_REUSEPORT) and relays
 * SIGTERM/SIGINT/SIGHUP to them; a worker that dies is started again, after
 * a growing pause when it dies young or cannot start (its port taken, say).
 * When no worker is left and the last of each could not start, the
 * supervisor exits 1 instead of trying forever.
 * Metrics live in shared memory mapped before the fork.
 */
#include "router/router.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "classifier/classifier.h"
#include "common/clock.h"
#include "common/dns.h"
#include "common/http_json.h"
#include "common/httpd.h"
#include "common/jarena.h"
#include "common/log.h"
#include "common/opts.h"
#include "common/pg.h"
#include "common/redisurl.h"
#include "experiments/config.h"
#include "router/breaker.h"
#include "router/conf.h"
#include "router/feedback.h"
#include "router/metrics.h"
#include "router/rt.h"
#include "router/journal.h"
#include "router/redis.h"
#include "router/expstate.h"
#include "router/upstream.h"

#define MAX_WORKERS 64
#define WORKER_CANNOT_START 3 /* a worker's exit status when it failed before listening */

struct opts {
    const char *config;
    const char *listen;
    const char *redis_url;
    const char *database_url;
    const char *journal;
    long workers;
    long max_body;
    long max_conns;
    long header_timeout_ms;
    long idle_timeout_ms;
    long event_queue;
    long redis_timeout_ms;
    long state_refresh_ms;
    long drain_timeout_ms;
};

/* The numeric options, in one table: flag, field, range, default, help. */
static const struct num_opt {
    const char *name;
    size_t off;
    long lo, hi, def;
    const char *help;
} num_opts[] = {
    {"workers", offsetof(struct opts, workers), 1, MAX_WORKERS, 1,
     "worker processes sharing the port (SO_REUSEPORT)"},
    {"max-body", offsetof(struct opts, max_body), 1, 1L << 30, 1 << 20,
     "largest request body accepted, bytes"},
    {"max-conns", offsetof(struct opts, max_conns), 1, 1000000, 4096,
     "client connections per worker; accepting pauses beyond"},
    {"header-timeout-ms", offsetof(struct opts, header_timeout_ms), 1, 3600000, 10000,
     "a request head must arrive within this"},
    {"idle-timeout-ms", offsetof(struct opts, idle_timeout_ms), 1, 3600000, 60000,
     "keep-alive connections idle longer are closed"},
    {"event-queue", offsetof(struct opts, event_queue), 1, 100000000, 100000,
     "events kept in memory while Redis is away"},
    {"redis-timeout-ms", offsetof(struct opts, redis_timeout_ms), 1, 600000, 1000,
     "Redis reply deadline before reconnecting"},
    {"state-refresh-ms", offsetof(struct opts, state_refresh_ms), 10, 600000, 5000,
     "re-read the experiment state this often (pub/sub is the fast path)"},
    {"drain-timeout-ms", offsetof(struct opts, drain_timeout_ms), 0, 3600000, 30000,
     "on SIGTERM, wait this long for in-flight work"},
};
#define NUM_OPTS (sizeof(num_opts) / sizeof(num_opts[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard router --config FILE [options]\n"
            "\n"
            "OpenAI-compatible gateway: assigns each user a cohort, classifies the request,\n"
            "routes it to a model, dispatches it with failover and records one event per\n"
            "request.\n"
            "\n"
            "options:\n"
            "  --config FILE            providers, models, routing, API keys (JSON; see\n"
            "                           docs/architecture.md) [env SWITCHYARD_CONFIG]\n"
            "  --listen HOST:PORT       address to serve on (default 127.0.0.1:8080; port 0 picks one)\n"
            "  --redis-url URL          redis://host:port/db, or redis+sentinel://h:p,h:p/master\n"
            "                           [env SWITCHYARD_REDIS_URL,\n"
            "                           default " SY_REDIS_URL_DEFAULT "]\n"
            "  --database-url URL       PostgreSQL for POST /v1/feedback and /v1/labels [env\n"
            "                           SWITCHYARD_DATABASE_URL; without it they answer 503]\n"
            "  --journal DIR            keep each event on disk (DIR/<worker>/) until Redis has\n"
            "                           it, so a killed router loses none: the next one started\n"
            "                           on DIR sends them [env SWITCHYARD_JOURNAL; default off]\n"
            "  --dns-server IP[:PORT]   resolve provider and database host names with this\n"
            "                           nameserver only (default: /etc/resolv.conf; /etc/hosts\n"
            "                           is read first either way)\n");
    for (size_t i = 0; i < NUM_OPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s N", num_opts[i].name);
        fprintf(out, "  %-24s %s (default %ld)\n", flag, num_opts[i].help, num_opts[i].def);
    }
    fprintf(out,
            "  --log-level LEVEL        debug, info, warn, error (default info)\n"
            "  -h, --help               this text\n"
            "\n"
            "signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads the config and classifier.\n"
            "endpoints: POST /v1/chat/completions, /v1/messages, /v1/feedback, /v1/labels;\n"
            "           GET /v1/models, /metrics, /healthz, /readyz\n");
}

static const sy_opts router_cmd = {"switchyard router", "--help", SY_OPTS_BARE_MISSING};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    enum { O_CONFIG = 256, O_LISTEN, O_REDIS, O_LOG, O_DB, O_DNS, O_JOURNAL, O_NUM };
    struct option longopts[11 + NUM_OPTS];
    size_t n = 0;
    longopts[n++] = (struct option){"config", required_argument, NULL, O_CONFIG};
    longopts[n++] = (struct option){"listen", required_argument, NULL, O_LISTEN};
    longopts[n++] = (struct option){"redis-url", required_argument, NULL, O_REDIS};
    longopts[n++] = (struct option){"log-level", required_argument, NULL, O_LOG};
    longopts[n++] = (struct option){"database-url", required_argument, NULL, O_DB};
    longopts[n++] = (struct option){"dns-server", required_argument, NULL, O_DNS};
    longopts[n++] = (struct option){"journal", required_argument, NULL, O_JOURNAL};
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    for (size_t i = 0; i < NUM_OPTS; i++) {
        longopts[n++] = (struct option){num_opts[i].name, required_argument, NULL, O_NUM + (int)i};
        *(long *)((char *)o + num_opts[i].off) = num_opts[i].def;
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    o->config = getenv("SWITCHYARD_CONFIG");
    o->listen = "127.0.0.1:8080";
    o->redis_url = getenv("SWITCHYARD_REDIS_URL");
    if (!o->redis_url || !*o->redis_url)
        o->redis_url = SY_REDIS_URL_DEFAULT;
    o->database_url = getenv("SWITCHYARD_DATABASE_URL");
    o->journal = getenv("SWITCHYARD_JOURNAL");

    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ch >= O_NUM && ch < O_NUM + (int)NUM_OPTS) {
            const struct num_opt *no = &num_opts[ch - O_NUM];
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < no->lo || v > no->hi) {
                fprintf(stderr,
                        "switchyard router: --%s must be an integer from %ld to %ld (got \"%s\")\n",
                        no->name, no->lo, no->hi, optarg);
                return -1;
            }
            *(long *)((char *)o + no->off) = v;
            continue;
        }
        switch (ch) {
        case O_CONFIG: o->config = optarg; break;
        case O_LISTEN: o->listen = optarg; break;
        case O_REDIS: o->redis_url = optarg; break;
        case O_DB: o->database_url = optarg; break;
        case O_JOURNAL: o->journal = optarg; break;
        case O_DNS:
            if (sy_dns_set_nameserver(optarg) != 0) {
                fprintf(stderr, "switchyard router: --dns-server must be IP or IP:PORT "
                                "(got \"%s\")\n", optarg);
                return -1;
            }
            break;
        case O_LOG: {
            enum sy_log_level lv;
            if (sy_log_parse_level(optarg, &lv)) {
                fprintf(stderr, "switchyard router: --log-level must be debug, info, warn or error\n");
                return -1;
            }
            sy_log_set_level(lv);
            break;
        }
        case 'h': usage(stdout); return 1;
        default: sy_opts_getopt_error(&router_cmd, ch, argv); return -1;
        }
    }
    if (optind < argc) {
        sy_opts_unexpected(&router_cmd, argv[optind]);
        return -1;
    }
    if (!o->config || !*o->config) {
        fprintf(stderr, "switchyard router: --config FILE is required (see --help)\n");
        return -1;
    }
    if (o->journal && !*o->journal)
        o->journal = NULL;
    if (o->journal && strlen(o->journal) > 3000) {
        fprintf(stderr, "switchyard router: --journal path too long\n");
        return -1;
    }
    return 0;
}

/* ---------- small endpoints ---------- */

/* The server's own refusals (sy_httpd_set_error_fn) and the 413 below, in the wire of
 * the endpoint asked for. */
static void shape_error(sy_http_req *req, const char *path, int status, const char *code,
                        const char *msg, void *arg)
{
    (void)arg;
    rt_reply_wire_error(req, strcmp(path, "/v1/messages") ? EXP_WIRE_OPENAI : EXP_WIRE_ANTHROPIC,
                        status, "invalid_request_error", code, NULL, msg);
}

static void handle_models(rt_ctx *ctx, sy_http_req *req)
{
    const exp_config *cfg = ctx->conf->cfg;
    json_t *data = json_array();
    for (int i = 0; i < cfg->nmodels; i++) {
        const exp_model *m = &cfg->models[i];
        const char *prov = cfg->providers[m->provider].name;
        json_array_append_new(
            data, json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:f, s:f, s:b}}", "id", m->name,
                            "object", "model", "created", 0, "owned_by", prov, "switchyard",
                            "tier", m->tier, "provider", prov, "input_usd_per_mtok",
                            m->input_usd_per_mtok, "output_usd_per_mtok", m->output_usd_per_mtok,
                            "default", i == cfg->default_model));
    }
    sy_http_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void handle_metrics(rt_ctx *ctx, sy_http_req *req)
{
    int64_t now_us = sy_clock_wall_us();
    const exp_config *cfg = ctx->conf->cfg;
    const char *models[RT_MAX_MODELS], *provs[RT_MAX_PROVIDERS];
    int breaker[RT_MAX_PROVIDERS];
    int nm = cfg->nmodels < RT_MAX_MODELS ? cfg->nmodels : RT_MAX_MODELS;
    int np = cfg->nproviders < RT_MAX_PROVIDERS ? cfg->nproviders : RT_MAX_PROVIDERS;
    for (int i = 0; i < nm; i++)
        models[i] = cfg->models[i].name;
    for (int i = 0; i < np; i++) {
        provs[i] = cfg->providers[i].name;
        breaker[i] = (int)ctx->conf->breakers[i].state;
    }
    rt_metrics_gauges g = {
        .model_names = models,
        .nmodels = nm,
        .provider_names = provs,
        .nproviders = np,
        .breaker_state = breaker,
        .event_queue_depth = rt_redis_queue_depth(ctx->redis),
        .event_queue_age_us = rt_redis_queue_age_us(ctx->redis, now_us),
        .spool_entries = -1,
        .spool_age_us = -1,
        .events_inflight = rt_redis_inflight(ctx->redis),
        .redis_connected = rt_redis_connected(ctx->redis),
        .state_age_us = rt_expstate_age_us(ctx->expstate),
        .active_requests = sy_httpd_active_requests(ctx->httpd) - 1, /* not this one */
        .open_connections = sy_httpd_open_conns(ctx->httpd),
    };
    int64_t entries, oldest_ms;
    if (rt_redis_spool_backlog(ctx->redis, &entries, &oldest_ms) == 0) {
        g.spool_entries = entries;
        g.spool_age_us = entries == 0 || oldest_ms <= 0 || oldest_ms * 1000 > now_us
                             ? 0
                             : now_us - oldest_ms * 1000;
    }
    size_t len;
    char *text = rt_metrics_render(ctx->metrics, &g, &len);
    if (!text) {
        sy_http_reply_error(req, 500, "api_error", NULL, NULL, "out of memory");
        return;
    }
    sy_http_reply(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

static void handle(sy_http_req *req, void *arg)
{
    rt_ctx *ctx = arg;
    const char *path = sy_http_path(req);
    const char *method = sy_http_method(req);
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const char *allow = "GET, HEAD";
    size_t body_len = 0;

    if (!strcmp(path, "/v1/feedback") || !strcmp(path, "/v1/labels")) {
        /* these two have their own, larger, body limit (feedback.c) */
        if (!strcmp(method, "POST")) {
            if (path[4] == 'f')
                rt_feedback_handle(ctx->feedback, ctx->conf, req);
            else
                rt_labels_handle(ctx->feedback, ctx->conf, req);
            return;
        }
        allow = "POST";
    } else if (sy_http_body(req, &body_len) && body_len > ctx->max_body_bytes) {
        /* httpd's limit is the larger feedback one; same refusal as httpd's own 413 */
        char msg[160];
        snprintf(msg, sizeof(msg), "request body of %zu bytes exceeds the limit of %zu bytes",
                 body_len, ctx->max_body_bytes);
        shape_error(req, path, 413, "request_too_large", msg, ctx);
        return;
    } else if (!strcmp(path, "/v1/messages")) {
        if (!strcmp(method, "POST")) {
            rt_messages_handle(ctx, req);
            return;
        }
        allow = "POST";
    } else if (!strcmp(path, "/v1/chat/completions")) {
        if (!strcmp(method, "POST")) {
            rt_chat_handle(ctx, req);
            return;
        }
        allow = "POST";
    } else if (!strcmp(path, "/v1/models")) {
        if (get) {
            handle_models(ctx, req);
            return;
        }
    } else if (!strcmp(path, "/metrics")) {
        if (get) {
            handle_metrics(ctx, req);
            return;
        }
    } else if (!strcmp(path, "/healthz")) {
        if (get) {
            sy_http_reply(req, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
            return;
        }
    } else if (!strcmp(path, "/readyz")) {
        if (get) {
            /* Ready means able to serve: Redis being away does not stop routing
             * (events wait in memory), so it is reported, not required. */
            sy_http_reply_json(req, 200,
                       json_pack("{s:s, s:b, s:I, s:s}", "status", "ready", "redis",
                                 rt_redis_connected(ctx->redis), "events_waiting",
                                 (json_int_t)rt_redis_queue_depth(ctx->redis), "phase",
                                 exp_phase_str(rt_expstate_current(ctx->expstate)->phase)));
            return;
        }
    } else {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown request URL: %s %s", method, path);
        return;
    }
    sy_http_add_header(req, "Allow", allow);
    sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                        "method %s is not allowed on %s (allowed: %s)", method, path, allow);
}

/* ---------- a worker ---------- */

struct worker {
    rt_ctx ctx;
    const struct opts *o;
    struct event *sigterm, *sigint, *sighup, *drain_tick;
    int64_t drain_deadline_us;
};

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    rt_ctx *ctx = &w->ctx;
    (void)fd;
    (void)what;
    int busy = sy_httpd_active_requests(ctx->httpd);
    size_t events = rt_redis_queue_depth(ctx->redis) + rt_redis_inflight(ctx->redis);
    if (busy == 0 && events == 0) {
        sy_log(SY_INFO, "drained, exiting", NULL);
        event_base_loopexit(ctx->base, NULL);
        return;
    }
    if (sy_clock_mono_us() > w->drain_deadline_us) {
        sy_log(SY_ERROR, "drain timeout, exiting with work left",
               "requests_in_flight=%d events_unsent=%zu", busy, events);
        event_base_loopexit(ctx->base, NULL);
    }
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct worker *w = arg;
    (void)what;
    if (w->drain_tick) {
        sy_log(SY_WARN, "second signal, exiting now", "signal=%d", (int)sig);
        event_base_loopexit(w->ctx.base, NULL);
        return;
    }
    sy_log(SY_INFO, "draining", "signal=%d requests_in_flight=%d", (int)sig,
           sy_httpd_active_requests(w->ctx.httpd));
    sy_httpd_stop_accepting(w->ctx.httpd);
    w->drain_deadline_us = sy_clock_mono_us() + w->o->drain_timeout_ms * 1000;
    w->drain_tick = event_new(w->ctx.base, -1, EV_PERSIST, on_drain_tick, w);
    struct timeval tv = {0, 20000};
    event_add(w->drain_tick, &tv);
}

static struct clf_classifier *load_classifier(const exp_config *cfg)
{
    const char *path = cfg->classifier_model ? cfg->classifier_model : clf_default_model_path();
    struct clf_classifier *clf = NULL;
    char err[512];
    if (clf_load(path, &clf, err, sizeof(err))) {
        sy_log_kv(SY_WARN, "classifier model not loaded, rules only", "path", path, "reason", err,
                  NULL);
        return NULL;
    }
    sy_log_kv(SY_INFO, "classifier model loaded", "path", path, NULL);
    return clf;
}

/* SIGHUP: a new generation, swapped in only when it is valid. */
static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct worker *w = arg;
    char err[4096];
    (void)sig;
    (void)what;
    rt_conf *next = rt_conf_load(w->o->config, err, sizeof(err));
    if (!next) {
        sy_log_kv(SY_ERROR, "reload refused, keeping the running config", "path", w->o->config,
                  "reason", err, NULL);
        return;
    }
    struct clf_classifier *clf = load_classifier(next->cfg);
    if (clf || !w->ctx.clf) {
        clf_free(w->ctx.clf);
        w->ctx.clf = clf;
    }
    rt_conf_unref(w->ctx.conf);
    w->ctx.conf = next;
    sy_log(SY_INFO, "config reloaded", "models=%d providers=%d", next->cfg->nmodels,
           next->cfg->nproviders);
}

/* --journal DIR: worker i keeps its events in DIR/i. */
static int open_journal(const struct opts *o, int slot, rt_redis *redis)
{
    char path[4096], err[512];
    if (mkdir(o->journal, 0700) && errno != EEXIST) {
        sy_log(SY_ERROR, "cannot start: journal directory", "path=%s reason=%s", o->journal,
               strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%d", o->journal, slot);
    rt_journal *j = rt_journal_open(path, err, sizeof(err));
    if (!j) {
        sy_log_kv(SY_ERROR, "cannot start: journal", "reason", err, NULL);
        return -1;
    }
    rt_redis_attach_journal(redis, j);
    return 0;
}

static int run_worker(const struct opts *o, rt_conf *conf, rt_metrics *metrics, const char *host,
                      int port, const sy_redis_addr *raddr, int slot)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    rt_ctx *ctx = &w.ctx;
    int bound, status = WORKER_CANNOT_START;

    w.o = o;
    ctx->conf = conf;
    ctx->metrics = metrics;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || seed == 0)
        seed = (uint64_t)sy_clock_wall_us() ^ ((uint64_t)getpid() << 32);
    ctx->rng = seed | 1;
    ctx->max_response_bytes = 64u << 20;
    ctx->stream_high_water = 256 * 1024;
    ctx->clf = load_classifier(conf->cfg);

    ctx->base = event_base_new();
    if (!ctx->base)
        goto out;
    sy_httpd_limits lim;
    sy_httpd_limits_default(&lim);
    lim.max_body_bytes = (size_t)o->max_body;
    ctx->max_body_bytes = (size_t)o->max_body;
    if (conf->cfg->feedback.enabled && (size_t)conf->cfg->feedback.max_body_bytes > lim.max_body_bytes)
        lim.max_body_bytes = (size_t)conf->cfg->feedback.max_body_bytes;
    lim.max_conns = (int)o->max_conns;
    lim.header_timeout_ms = (int)o->header_timeout_ms;
    lim.idle_timeout_ms = (int)o->idle_timeout_ms;
    ctx->httpd = sy_httpd_new(ctx->base, &lim, handle, ctx);
    if (ctx->httpd)
        sy_httpd_set_error_fn(ctx->httpd, shape_error);
    ctx->up = rt_upstream_new(ctx->base);
    ctx->redis = rt_redis_new(ctx->base, raddr, (size_t)o->event_queue, (int)o->redis_timeout_ms);
    exp_state initial = {.phase = EXP_PHASE_OFF, .holdout_bp = conf->cfg->holdout_bp};
    snprintf(initial.salt, sizeof(initial.salt), "%s", conf->cfg->salt);
    ctx->feedback = rt_feedback_new(ctx->base, &conf->cfg->feedback, o->database_url, metrics);
    if (!ctx->httpd || !ctx->up || !ctx->redis || !ctx->feedback)
        goto out;
    if (o->journal && open_journal(o, slot, ctx->redis))
        goto out;
    ctx->expstate = rt_expstate_new(ctx->base, ctx->redis, raddr, conf->cfg->experiment, &initial,
                              (int)o->state_refresh_ms);
    if (!ctx->expstate)
        goto out;
    if (sy_httpd_listen(ctx->httpd, host, port, 1, &bound))
        goto out;

    w.sigterm = evsignal_new(ctx->base, SIGTERM, on_stop_signal, &w);
    w.sigint = evsignal_new(ctx->base, SIGINT, on_stop_signal, &w);
    w.sighup = evsignal_new(ctx->base, SIGHUP, on_reload, &w);
    event_add(w.sigterm, NULL);
    event_add(w.sigint, NULL);
    event_add(w.sighup, NULL);

    const exp_config *cfg = conf->cfg;
    sy_log(SY_INFO, "listening", "host=%s port=%d pid=%d models=%d default_model=%s experiment=%s",
           host, bound, (int)getpid(), cfg->nmodels, cfg->models[cfg->default_model].name,
           cfg->experiment);
    event_base_dispatch(ctx->base);
    status = 0;
out:
    if (w.sigterm)
        event_free(w.sigterm);
    if (w.sigint)
        event_free(w.sigint);
    if (w.sighup)
        event_free(w.sighup);
    if (w.drain_tick)
        event_free(w.drain_tick);
    /* order: requests finish (and spool their events) before Redis goes */
    rt_feedback_free(ctx->feedback); /* answers what still waits for PostgreSQL */
    sy_httpd_free(ctx->httpd);
    rt_upstream_free(ctx->up);
    rt_redis_free(ctx->redis);
    rt_expstate_free(ctx->expstate);
    if (ctx->base)
        event_base_free(ctx->base);
    clf_free(ctx->clf);
    rt_conf_unref(ctx->conf);
    return status;
}

/* ---------- the supervisor (workers > 1) ---------- */

#define RESPAWN_FIRST_MS 100
#define RESPAWN_MAX_MS 10000
#define WORKER_YOUNG_MS 1000

struct slot {
    pid_t pid;            /* 0: none running */
    int64_t started_us;   /* when pid was forked */
    int64_t due_us;       /* pid 0 and not stopping: start another at this time */
    int backoff_ms;       /* pause before the next start; 0 after a worker lived long */
    int cannot_start;     /* the last worker of this slot exited WORKER_CANNOT_START */
    int index;            /* its --journal directory */
};

static pid_t spawn(const struct opts *o, rt_conf *conf, rt_metrics *m, const char *host, int port,
                   const sy_redis_addr *raddr, const sigset_t *mask, int slot)
{
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, mask, NULL);
        _exit(run_worker(o, conf, m, host, port, raddr, slot));
    }
    if (pid < 0)
        sy_log(SY_ERROR, "cannot start a worker", "reason=%s", strerror(errno));
    return pid < 0 ? 0 : pid;
}

static void slot_back_off(struct slot *sl, int64_t now)
{
    sl->backoff_ms = sl->backoff_ms ? sl->backoff_ms * 2 : RESPAWN_FIRST_MS;
    if (sl->backoff_ms > RESPAWN_MAX_MS)
        sl->backoff_ms = RESPAWN_MAX_MS;
    sl->due_us = now + (int64_t)sl->backoff_ms * 1000;
}

static void slot_start(struct slot *sl, const struct opts *o, rt_conf *conf, rt_metrics *m,
                       const char *host, int port, const sy_redis_addr *raddr,
                       const sigset_t *mask, int64_t now)
{
    sl->started_us = now;
    sl->pid = spawn(o, conf, m, host, port, raddr, mask, sl->index);
    if (!sl->pid)
        slot_back_off(sl, now);
}

/* a worker ended while not stopping: when to start the next one, and why */
static void slot_ended(struct slot *sl, int st, int64_t now)
{
    int cannot = WIFEXITED(st) && WEXITSTATUS(st) == WORKER_CANNOT_START;
    if (cannot || now - sl->started_us < (int64_t)WORKER_YOUNG_MS * 1000) {
        slot_back_off(sl, now);
    } else {
        sl->backoff_ms = 0;
        sl->due_us = now;
    }
    sl->cannot_start = cannot;
    if (cannot)
        sy_log(SY_ERROR, "worker could not start", "pid=%d retry_in_ms=%d", (int)sl->pid,
               sl->backoff_ms);
    else if (WIFSIGNALED(st))
        sy_log(SY_ERROR, "worker died, starting another", "pid=%d signal=%d retry_in_ms=%d",
               (int)sl->pid, WTERMSIG(st), sl->backoff_ms);
    else
        sy_log(SY_ERROR, "worker died, starting another", "pid=%d exit_status=%d retry_in_ms=%d",
               (int)sl->pid, WEXITSTATUS(st), sl->backoff_ms);
    sl->pid = 0;
}

/* Signals are blocked and taken with sigtimedwait, so one arriving between two
 * system calls waits for the next call instead of being lost; the timeout is the
 * next delayed start. */
static int supervise(const struct opts *o, rt_conf *conf, rt_metrics *m, const char *host,
                     int port, const sy_redis_addr *raddr)
{
    struct slot slots[MAX_WORKERS];
    int n = (int)o->workers, stopping = 0, status = 0;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);

    memset(slots, 0, sizeof(slots));
    for (int i = 0; i < n; i++) {
        slots[i].index = i;
        slot_start(&slots[i], o, conf, m, host, port, raddr, &old, sy_clock_mono_us());
    }
    for (;;) {
        int st, live = 0, gave_up = 1;
        pid_t dead;
        int64_t now = sy_clock_mono_us();
        while ((dead = waitpid(-1, &st, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (slots[i].pid != dead)
                    continue;
                if (!stopping)
                    slot_ended(&slots[i], st, now);
                else if (!WIFEXITED(st) || WEXITSTATUS(st))
                    status = 1;
                slots[i].pid = 0;
            }
        }
        for (int i = 0; i < n; i++) {
            live += slots[i].pid > 0;
            gave_up &= slots[i].cannot_start;
        }
        if (stopping && !live)
            break;
        if (!stopping && !live && gave_up) {
            sy_log(SY_ERROR, "no worker could start, exiting", "workers=%d", n);
            status = 1;
            break;
        }
        int64_t next = INT64_MAX;
        for (int i = 0; i < n && !stopping; i++) {
            if (!slots[i].pid && slots[i].due_us <= now)
                slot_start(&slots[i], o, conf, m, host, port, raddr, &old, now);
            if (!slots[i].pid && slots[i].due_us < next)
                next = slots[i].due_us;
        }
        int sig;
        if (next == INT64_MAX) {
            sig = sigwaitinfo(&set, NULL);
        } else {
            int64_t wait_us = next > now ? next - now : 0;
            struct timespec ts = {(time_t)(wait_us / 1000000), (long)(wait_us % 1000000) * 1000};
            sig = sigtimedwait(&set, NULL, &ts);
        }
        if (sig == SIGTERM || sig == SIGINT)
            stopping = 1;
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            for (int i = 0; i < n; i++)
                if (slots[i].pid > 0)
                    kill(slots[i].pid, sig);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return status;
}

static int split_listen(const char *listen, char *host, size_t hlen, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= hlen)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[') { /* [::1]:8080 */
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return -1;
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int rt_main(int argc, char **argv)
{
    struct opts o;
    sy_redis_addr raddr;
    char err[4096], host[256];
    int port;

    sy_log_set_component("router");
    sy_jarena_install(); /* before the first jansson call: the config */
    int r = parse_opts(argc, argv, &o);
    if (r)
        return r > 0 ? 0 : 2;
    if (split_listen(o.listen, host, sizeof(host), &port)) {
        fprintf(stderr, "switchyard router: --listen must be HOST:PORT (got \"%s\")\n", o.listen);
        return 2;
    }
    if (o.workers > 1 && port == 0) {
        fprintf(stderr, "switchyard router: --workers > 1 needs a fixed --listen port\n");
        return 2;
    }
    if (o.database_url && *o.database_url && sy_pg_check_url(o.database_url, err, sizeof(err))) {
        fprintf(stderr, "switchyard router: --database-url: %s\n", err);
        return 2;
    }
    if (sy_redis_url_parse(o.redis_url, &raddr, err, sizeof(err))) {
        fprintf(stderr, "switchyard router: %s\n", err);
        return 2;
    }
    rt_conf *conf = rt_conf_load(o.config, err, sizeof(err));
    if (!conf) {
        if (!strncmp(err, "cannot read", 11))
            fprintf(stderr, "switchyard router: %s\n", err);
        else
            fprintf(stderr, "switchyard router: invalid config %s:\n%s\n", o.config, err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit fails the journal's write, not the router */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sy_log(SY_ERROR, "curl_global_init failed", NULL);
        rt_conf_unref(conf);
        return 1;
    }
    rt_metrics *metrics = rt_metrics_new();
    if (!metrics) {
        sy_log(SY_ERROR, "cannot map shared metrics", NULL);
        rt_conf_unref(conf);
        return 1;
    }
    int status = o.workers > 1 ? supervise(&o, conf, metrics, host, port, &raddr)
                               : run_worker(&o, rt_conf_ref(conf), metrics, host, port, &raddr, 0);
    if (status == WORKER_CANNOT_START)
        status = 1;
    rt_conf_unref(conf);
    rt_metrics_free(metrics);
    curl_global_cleanup();
    return status;
}
