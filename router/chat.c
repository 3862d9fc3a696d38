/*
 * chat: the request path of POST /v1/chat/completions.
 *
 *   authenticate -> parse and validate -> identify the user -> cohort (from
 *   the live experiment state) -> classify (routed and shadow only) -> pick
 *   the model -> dispatch with failover (or a race in sport mode) -> answer
 *   -> record the event
 *
 * A chat owns up to two upstream attempts at a time (two only when racing).
 * The event is recorded exactly once, in chat_finish(), whatever the outcome;
 * nothing on this path waits for Redis or PostgreSQL.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier/classifier.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/numfmt.h"
#include "experiments/cohort.h"
#include "experiments/config.h"
#include "experiments/routing.h"
#include "router/breaker.h"
#include "router/conf.h"
#include "router/event.h"
#include "router/metrics.h"
#include "router/reqbody.h"
#include "router/usage.h"
#include "router/rt.h"
#include "router/redis.h"
#include "router/expstate.h"
#include "router/upstream.h"

#define MAX_USER_ID 256
#define MAX_CANDIDATES 16

enum chat_state { CHAT_DISPATCHING, CHAT_STREAMING, CHAT_DONE };

struct chat;

typedef struct attempt {
    struct chat *c;
    rt_call *call; /* NULL when not in flight */
    int model;
    int provider;
} attempt;

typedef struct chat {
    rt_ctx *ctx;
    rt_conf *conf;      /* the configuration generation this request started with */
    sy_http_req *http;
    enum chat_state state;
    json_t *root;       /* the request as parsed */
    /* the request body (the server's, alive as long as http) and, when
     * splice_ok, where its "model" value is: each attempt sends these bytes
     * with the model's name spliced in; else root re-serialised */
    const char *body;
    size_t body_len;
    rt_body_span span;
    int splice_ok;
    attempt att[2];     /* two only when racing */
    int cand[MAX_CANDIDATES], ncand, next_cand;
    int model;          /* the model answering (or last tried) */
    int task;           /* wire_task, or -1 when not classified */
    int cohort;         /* exp_cohort */
    int racing;
    int64_t t0_mono;
    int64_t upstream_us;
    /* the last failure, for the error answer when nothing is left */
    rt_call_status last_status;
    long last_http;
    char last_error[256];
    rt_event ev;
    /* streaming */
    int client_wants_usage; /* else the usage chunk we asked for is stripped */
    attempt *streaming;     /* the attempt whose bytes go to the client */
    char *sse;              /* partial SSE event carried between upstream reads */
    size_t sse_len, sse_cap;
} chat;

int64_t rt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rt_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t next_rand(rt_ctx *ctx)
{
    /* xorshift64*: request ids need uniqueness, not secrecy */
    uint64_t x = ctx->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ctx->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static const exp_model *model_of(const chat *c, int idx) { return &c->conf->cfg->models[idx]; }

static const char *provider_name(const chat *c, int model)
{
    return c->conf->cfg->providers[model_of(c, model)->provider].name;
}

/* Record the event and free the request context. The HTTP reply has been sent. */
static void chat_finish(chat *c, int status, const char *error)
{
    rt_ctx *ctx = c->ctx;
    int64_t total = rt_mono_us() - c->t0_mono;
    c->state = CHAT_DONE;
    c->ev.status = status;
    c->ev.error = error;
    c->ev.latency_us = total;
    c->ev.upstream_us = c->upstream_us;
    c->ev.overhead_us = total - c->upstream_us;
    rt_metrics_request(ctx->metrics, status, c->cohort, c->task,
                       c->ev.served_model ? c->model : -1);
    rt_metrics_overhead(ctx->metrics, c->ev.overhead_us);
    size_t len;
    char *json = rt_event_json(&c->ev, &len);
    if (json) {
        uint64_t before = rt_redis_dropped(ctx->redis);
        rt_redis_spool_event(ctx->redis, json, len);
        if (rt_redis_dropped(ctx->redis) != before)
            rt_metrics_inc(ctx->metrics, RT_C_events_dropped);
    } else {
        rt_metrics_inc(ctx->metrics, RT_C_events_dropped);
        sy_log_kv(SY_ERROR, "event lost", "request_id", c->ev.request_id, "reason",
                  "out of memory", NULL);
    }
    if (status >= 500 || status == 499)
        sy_log_kv(SY_WARN, "request failed", "request_id", c->ev.request_id, "reason", error,
                  "model", c->ev.served_model, NULL);
    json_decref(c->root);
    free(c->sse);
    rt_conf_unref(c->conf);
    free(c);
}

static void add_route_headers(chat *c)
{
    sy_http_add_header(c->http, "X-Request-Id", c->ev.request_id);
    sy_http_add_header(c->http, "X-Route-Cohort", c->ev.cohort);
    sy_http_add_header(c->http, "X-Route-Phase", c->ev.phase);
    sy_http_add_header(c->http, "X-Route-Task", c->ev.task_type ? c->ev.task_type : "none");
    /* what answered, or else what was tried last */
    sy_http_add_header(c->http, "X-Route-Model",
                       c->ev.served_model ? c->ev.served_model : model_of(c, c->model)->name);
}

/* Refuse before any upstream work; the event is recorded all the same. */
static void chat_refuse(chat *c, int status, const char *code, const char *param,
                        const char *msg)
{
    sy_http_add_header(c->http, "X-Request-Id", c->ev.request_id);
    sy_http_reply_error(c->http, status,
                        status == 401   ? "authentication_error"
                        : status == 403 ? "permission_error"
                                        : "invalid_request_error",
                        code, param, "%s", msg);
    chat_finish(c, status, code);
}

static int authenticate(const rt_conf *conf, sy_http_req *req, const exp_api_key **out)
{
    const char *auth = sy_http_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7))
        return -1;
    const char *key = auth + 7;
    while (*key == ' ')
        key++;
    size_t klen = strlen(key);
    int found = -1;
    /* constant time per key, and every key is compared */
    for (int i = 0; i < conf->cfg->napi_keys; i++) {
        const char *want = conf->client_keys[i];
        size_t wlen = strlen(want);
        int eq = wlen == klen && CRYPTO_memcmp(want, key, klen) == 0;
        if (eq && found < 0)
            found = i;
    }
    if (found < 0)
        return -2;
    *out = &conf->cfg->api_keys[found];
    return 0;
}

/* Validate the OpenAI request shape; on error fill code/param/msg. */
static int validate(json_t *root, const char **code, const char **param, char *msg, size_t mlen)
{
    *code = "invalid_type";
    if (!json_is_object(root)) {
        *param = NULL;
        snprintf(msg, mlen, "request body must be a JSON object");
        return -1;
    }
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_string(model)) {
        *param = "model";
        snprintf(msg, mlen, "'model' must be a string");
        return -1;
    }
    json_t *msgs = json_object_get(root, "messages");
    *param = "messages";
    if (!msgs) {
        *code = "missing_required_parameter";
        snprintf(msg, mlen, "missing required parameter: 'messages'");
        return -1;
    }
    if (!json_is_array(msgs)) {
        snprintf(msg, mlen, "'messages' must be an array");
        return -1;
    }
    if (json_array_size(msgs) == 0) {
        *code = "empty_array";
        snprintf(msg, mlen, "'messages' must contain at least one message");
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m)) {
            snprintf(msg, mlen, "'messages[%zu]' must be an object", i);
            return -1;
        }
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role)) {
            *code = role ? "invalid_type" : "missing_required_parameter";
            snprintf(msg, mlen, "'messages[%zu].role' must be a string", i);
            return -1;
        }
        json_t *content = json_object_get(m, "content");
        if (content && !json_is_string(content) && !json_is_array(content) &&
            !json_is_null(content)) {
            snprintf(msg, mlen, "'messages[%zu].content' must be a string or an array of parts", i);
            return -1;
        }
    }
    json_t *stream = json_object_get(root, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
        *param = "stream";
        snprintf(msg, mlen, "'stream' must be a boolean");
        return -1;
    }
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_object(so) && !json_is_null(so)) {
        *param = "stream_options";
        snprintf(msg, mlen, "'stream_options' must be an object");
        return -1;
    }
    json_t *user = json_object_get(root, "user");
    if (user && !json_is_string(user)) {
        *param = "user";
        snprintf(msg, mlen, "'user' must be a string");
        return -1;
    }
    if (user && json_string_length(user) > MAX_USER_ID) {
        *param = "user";
        snprintf(msg, mlen, "'user' must be at most %d bytes", MAX_USER_ID);
        return -1;
    }
    return 0;
}

/* The text the task is judged on: the last user message (text parts joined). */
static const char *prompt_text(json_t *root, size_t *len, char **owned)
{
    json_t *msgs = json_object_get(root, "messages");
    *owned = NULL;
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *m = json_array_get(msgs, i);
        if (strcmp(json_string_value(json_object_get(m, "role")), "user"))
            continue;
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) {
            *len = json_string_length(content);
            return json_string_value(content);
        }
        if (!json_is_array(content))
            break;
        size_t total = 0, j;
        json_t *part;
        json_array_foreach(content, j, part) total += json_string_length(json_object_get(part, "text")) + 1;
        char *buf = malloc(total + 1);
        if (!buf)
            break;
        size_t n = 0;
        json_array_foreach(content, j, part) {
            json_t *t = json_object_get(part, "text");
            if (!json_is_string(t))
                continue;
            memcpy(buf + n, json_string_value(t), json_string_length(t));
            n += json_string_length(t);
            buf[n++] = '\n';
        }
        buf[n] = '\0';
        *owned = buf;
        *len = n;
        return buf;
    }
    *len = 0;
    return "";
}

/* ---------- streaming ---------- */

/* One complete SSE event (without its blank-line terminator). Usage is
 * captured for cost; the usage-only chunk is dropped if the client did not
 * ask for it (we always ask the provider, so cost is never unknown). */
static void stream_event(chat *c, const char *ev, size_t len)
{
    int forward = 1;
    if (len > 6 && !memcmp(ev, "data: ", 6) && memmem(ev, len, "\"usage\"", 7)) {
        json_t *root = json_loadb(ev + 6, len - 6, 0, NULL);
        json_t *u = root ? json_object_get(root, "usage") : NULL;
        if (json_is_object(u)) {
            c->ev.tokens_in = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
            c->ev.tokens_out = (long)json_integer_value(json_object_get(u, "completion_tokens"));
            json_t *choices = json_object_get(root, "choices");
            if (!c->client_wants_usage && json_is_array(choices) && json_array_size(choices) == 0)
                forward = 0;
        }
        json_decref(root);
    }
    if (forward) {
        sy_http_stream_write(c->http, ev, len);
        sy_http_stream_write(c->http, "\n\n", 2);
    }
}

static void on_client_drained(sy_http_req *req, void *arg)
{
    chat *c = arg;
    (void)req;
    sy_http_on_drain(c->http, 0, NULL, NULL);
    if (c->streaming && c->streaming->call)
        rt_call_resume(c->streaming->call);
}

static int on_upstream_data(const char *data, size_t len, void *arg)
{
    attempt *a = arg;
    chat *c = a->c;
    rt_ctx *ctx = c->ctx;
    if (!c->streaming) {
        c->streaming = a;
        c->state = CHAT_STREAMING;
        c->model = a->model;
        c->ev.served_model = model_of(c, a->model)->name;
        c->ev.provider = provider_name(c, a->model);
        add_route_headers(c);
        sy_http_add_header(c->http, "Cache-Control", "no-cache");
        sy_http_stream_start(c->http, 200, "text/event-stream");
    }
    /* a slow reader: stop reading the provider until the client catches up */
    if (sy_http_output_pending(c->http) > ctx->stream_high_water) {
        sy_http_on_drain(c->http, ctx->stream_high_water / 2, on_client_drained, c);
        return 1;
    }
    if (c->sse_len + len > ctx->max_response_bytes)
        return -1; /* one SSE event larger than a whole answer may be: refuse */
    if (c->sse_len + len > c->sse_cap) {
        size_t cap = c->sse_cap ? c->sse_cap : 4096;
        while (cap < c->sse_len + len)
            cap *= 2;
        char *b = realloc(c->sse, cap);
        if (!b)
            return -1;
        c->sse = b;
        c->sse_cap = cap;
    }
    memcpy(c->sse + c->sse_len, data, len);
    c->sse_len += len;

    /* forward every complete event; keep the tail */
    size_t start = 0;
    for (;;) {
        char *end = memmem(c->sse + start, c->sse_len - start, "\n\n", 2);
        if (!end)
            break;
        size_t elen = (size_t)(end - (c->sse + start));
        if (elen)
            stream_event(c, c->sse + start, elen);
        start += elen + 2;
    }
    memmove(c->sse, c->sse + start, c->sse_len - start);
    c->sse_len -= start;
    return 0;
}

static void stream_done(chat *c, const rt_call_result *res)
{
    const exp_model *m = model_of(c, c->model);
    const exp_model *def = model_of(c, c->conf->cfg->default_model);
    c->ev.cost_usd += exp_model_cost(m, c->ev.tokens_in, c->ev.tokens_out);
    c->ev.baseline_cost_usd = exp_model_cost(def, c->ev.tokens_in, c->ev.tokens_out);
    if (c->sse_len)
        stream_event(c, c->sse, c->sse_len); /* an unterminated last event */
    if (res->status == RT_CALL_OK) {
        sy_http_stream_end(c->http);
        chat_finish(c, 200, NULL);
        return;
    }
    /* The status line is gone; tell the client in-band, as providers do. */
    char msg[512];
    snprintf(msg, sizeof(msg),
             "data: {\"error\":{\"message\":\"provider %s failed mid-stream for model %s\","
             "\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n",
             provider_name(c, c->model), m->name);
    sy_http_stream_write(c->http, msg, strlen(msg));
    sy_http_stream_end(c->http);
    chat_finish(c, 502, res->status == RT_CALL_TIMEOUT ? "upstream_timeout_mid_stream"
                                                       : "upstream_failed_mid_stream");
}

/* ---------- dispatch ---------- */

static void on_attempt_done(const rt_call_result *res, void *arg);

struct dump_buf {
    char *p;
    size_t len, cap;
    char *stack; /* the caller's initial buffer: not to be freed or realloc'd */
};

static int dump_cb(const char *buf, size_t size, void *data)
{
    struct dump_buf *d = data;
    if (d->len + size > d->cap) {
        size_t cap = d->cap * 2;
        while (cap < d->len + size)
            cap *= 2;
        char *q = d->p == d->stack ? malloc(cap) : realloc(d->p, cap);
        if (!q)
            return -1;
        if (d->p == d->stack)
            memcpy(q, d->p, d->len);
        d->p = q;
        d->cap = cap;
    }
    memcpy(d->p + d->len, buf, size);
    d->len += size;
    return 0;
}

/* The body for an attempt at model m: the client's bytes with m's upstream
 * name spliced in, or the parsed tree re-serialised with it (streams, whose
 * stream_options the router changes, and bodies splicing cannot handle
 * exactly). In stack when it fits, else malloc'd; NULL on failure. */
static char *attempt_body(chat *c, const exp_model *m, char *stack, size_t cap, size_t *len)
{
    if (c->splice_ok) {
        size_t n = rt_body_splice_model(c->body, c->body_len, &c->span, m->upstream, stack, cap);
        if (n <= cap) {
            *len = n;
            return stack;
        }
        char *heap = malloc(n);
        if (heap)
            rt_body_splice_model(c->body, c->body_len, &c->span, m->upstream, heap, n);
        *len = n;
        return heap;
    }
    json_object_set_new(c->root, "model", json_string(m->upstream));
    struct dump_buf db = {.p = stack, .cap = cap, .stack = stack};
    if (json_dump_callback(c->root, dump_cb, &db, JSON_COMPACT) != 0) {
        if (db.p != stack)
            free(db.p);
        return NULL;
    }
    *len = db.len;
    return db.p;
}

static int start_attempt(chat *c, attempt *a, int model)
{
    rt_ctx *ctx = c->ctx;
    const exp_model *m = model_of(c, model);
    const exp_provider *p = &c->conf->cfg->providers[m->provider];

    char stack[8192];
    size_t len;
    char *body = attempt_body(c, m, stack, sizeof(stack), &len);
    if (!body)
        return -1;

    /* base_url + "/chat/completions", cut at sizeof(url) - 1 as snprintf would */
    char url[1024];
    static const char path[] = "/chat/completions";
    size_t blen = strlen(p->base_url), n = blen < sizeof(url) - 1 ? blen : sizeof(url) - 1;
    memcpy(url, p->base_url, n);
    size_t rest = sizeof(url) - 1 - n;
    size_t plen = sizeof(path) - 1 < rest ? sizeof(path) - 1 : rest;
    memcpy(url + n, path, plen);
    url[n + plen] = '\0';
    a->c = c;
    a->model = model;
    a->provider = m->provider;
    rt_call_spec spec = {
        .url = url,
        .api_key = c->conf->provider_keys[m->provider],
        .body = body,
        .body_len = len,
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->timeout_ms,
        .max_response_bytes = ctx->max_response_bytes,
        .on_data = c->ev.stream ? on_upstream_data : NULL,
        .on_done = on_attempt_done,
        .arg = a,
    };
    a->call = rt_call_start(ctx->up, &spec);
    if (body != stack)
        free(body);
    if (!a->call)
        return -1;
    c->ev.attempts++;
    c->model = model;
    return 0;
}

/* Start the next candidate whose provider's circuit lets it through. */
static int start_next(chat *c, attempt *a)
{
    rt_ctx *ctx = c->ctx;
    while (c->next_cand < c->ncand && c->ev.attempts < c->conf->cfg->max_attempts) {
        int model = c->cand[c->next_cand++];
        int prov = model_of(c, model)->provider;
        if (!rt_breaker_allow(&c->conf->breakers[prov], rt_mono_us(), c->conf->cfg->breaker_cooldown_ms)) {
            snprintf(c->last_error, sizeof(c->last_error), "circuit open for provider %s",
                     c->conf->cfg->providers[prov].name);
            continue;
        }
        if (c->ev.attempts > 0)
            rt_metrics_inc(ctx->metrics, RT_C_failovers);
        if (start_attempt(c, a, model) == 0)
            return 0;
        rt_breaker_release(&c->conf->breakers[prov]);
    }
    return -1;
}

static void cancel_attempt(chat *c, attempt *a)
{
    if (!a->call)
        return;
    rt_call_cancel(a->call);
    a->call = NULL;
    rt_breaker_release(&c->conf->breakers[a->provider]);
}

/* Nothing left to try: answer with the last failure. */
static void reply_failure(chat *c)
{
    char msg[512];
    int status = 502;
    const char *code = "upstream_error";
    const char *model = model_of(c, c->model)->name;
    const char *prov = provider_name(c, c->model);
    if (c->ev.attempts == 0) {
        code = "no_provider_available";
        snprintf(msg, sizeof(msg), "no provider available for model %s: %s", model,
                 c->last_error);
    } else if (c->last_status == RT_CALL_TIMEOUT) {
        status = 504;
        code = "upstream_timeout";
        snprintf(msg, sizeof(msg), "provider %s did not answer in time for model %s: %s", prov,
                 model, c->last_error);
    } else if (c->last_status == RT_CALL_OK) {
        code = c->last_http == 429 ? "upstream_rate_limited" : "upstream_error";
        snprintf(msg, sizeof(msg), "provider %s answered HTTP %ld for model %s", prov,
                 c->last_http, model);
    } else {
        code = c->last_status == RT_CALL_CONNECT_ERROR ? "upstream_unreachable" : "upstream_error";
        snprintf(msg, sizeof(msg), "provider %s failed for model %s: %s", prov, model,
                 c->last_error);
    }
    if (c->ev.attempts > 1) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof(msg) - n, " (after %d attempts)", c->ev.attempts);
    }
    add_route_headers(c);
    sy_http_reply_error(c->http, status, "api_error", code, NULL, "%s", msg);
    chat_finish(c, status, code);
}

static void on_attempt_done(const rt_call_result *res, void *arg)
{
    attempt *a = arg;
    chat *c = a->c;
    rt_ctx *ctx = c->ctx;
    attempt *other = a == &c->att[0] ? &c->att[1] : &c->att[0];
    const exp_model *m = model_of(c, a->model);

    a->call = NULL;
    if (res->upstream_us > c->upstream_us)
        c->upstream_us = res->upstream_us;
    int ok = res->status == RT_CALL_OK && res->http_status >= 200 && res->http_status < 300;
    int client_error = res->status == RT_CALL_OK && (res->http_status == 400 ||
                                                     res->http_status == 404 ||
                                                     res->http_status == 422);
    int failed = !ok && !client_error;
    rt_metrics_upstream(ctx->metrics, a->provider, res->upstream_us, failed);
    if (failed)
        rt_breaker_failure(&c->conf->breakers[a->provider], rt_mono_us(), c->conf->cfg->breaker_failures);
    else
        rt_breaker_success(&c->conf->breakers[a->provider]);

    if (c->streaming == a) {
        stream_done(c, res);
        return;
    }
    if (ok || client_error) {
        long in = 0, out = 0;
        if (ok)
            rt_usage_from(res->body, res->body_len, &in, &out);
        if (other->call) {
            /* the race is won: stop the other transfer, and pay for its prompt */
            const exp_model *lm = model_of(c, other->model);
            cancel_attempt(c, other);
            c->ev.cost_usd += exp_model_cost(lm, in, 0);
        }
        c->model = a->model;
        c->ev.served_model = m->name;
        c->ev.provider = provider_name(c, a->model);
        c->ev.tokens_in = in;
        c->ev.tokens_out = out;
        c->ev.cost_usd += exp_model_cost(m, in, out);
        c->ev.baseline_cost_usd = exp_model_cost(model_of(c, c->conf->cfg->default_model), in, out);
        add_route_headers(c);
        sy_http_reply(c->http, (int)res->http_status, "application/json", res->body,
                      res->body_len);
        chat_finish(c, (int)res->http_status, ok ? NULL : "provider_rejected_request");
        return;
    }

    /* a retryable failure: remember it, then fail over (or wait for the racer) */
    c->last_status = res->status;
    c->last_http = res->http_status;
    snprintf(c->last_error, sizeof(c->last_error), "%s",
             res->error ? res->error : rt_call_status_str(res->status));
    sy_log_kv(SY_INFO, "upstream attempt failed", "request_id", c->ev.request_id, "model",
              m->name, "provider", provider_name(c, a->model), "reason", c->last_error, NULL);
    if (other->call)
        return;
    if (start_next(c, a) == 0)
        return;
    reply_failure(c);
}

static void on_client_close(sy_http_req *req, void *arg)
{
    chat *c = arg;
    rt_metrics_inc(c->ctx->metrics, RT_C_client_gone);
    cancel_attempt(c, &c->att[0]);
    cancel_attempt(c, &c->att[1]);
    c->upstream_us = rt_mono_us() - c->t0_mono;
    if (c->streaming) {
        /* bill what was streamed so far: the prompt at least */
        const exp_model *m = model_of(c, c->model);
        c->ev.cost_usd += exp_model_cost(m, c->ev.tokens_in, c->ev.tokens_out);
        sy_http_stream_end(req);
    } else {
        sy_http_reply(req, 499, NULL, NULL, 0); /* frees req; nothing is sent */
    }
    chat_finish(c, 499, "client_closed_request");
}

/* The candidates: the chosen model, then models of the same tier on other
 * providers, in catalog order. */
static void build_candidates(chat *c, int primary)
{
    const exp_config *cfg = c->conf->cfg;
    const exp_model *pm = model_of(c, primary);
    c->ncand = 0;
    c->cand[c->ncand++] = primary;
    for (int i = 0; i < cfg->nmodels && c->ncand < MAX_CANDIDATES; i++) {
        const exp_model *m = &cfg->models[i];
        if (i == primary || m->provider == pm->provider || strcmp(m->tier, pm->tier))
            continue;
        int dup = 0;
        for (int j = 0; j < c->ncand; j++)
            dup |= model_of(c, c->cand[j])->provider == m->provider;
        if (!dup)
            c->cand[c->ncand++] = i;
    }
}

void rt_chat_handle(rt_ctx *ctx, sy_http_req *req)
{
    chat *c = calloc(1, sizeof(*c));
    char msg[512];
    if (!c) {
        sy_http_reply_error(req, 503, "api_error", "overloaded", NULL, "out of memory");
        return;
    }
    const exp_state *st = rt_expstate_current(ctx->expstate);
    c->ctx = ctx;
    c->conf = rt_conf_ref(ctx->conf);
    c->http = req;
    c->t0_mono = rt_mono_us();
    c->model = c->conf->cfg->default_model;
    c->task = -1;
    c->cohort = EXP_COHORT_CONTROL;
    c->ev.ts_us = rt_now_us();
    c->ev.task_confidence = NAN; /* null until classified */
    /* "req_%016llx%08llx" of two draws, without printf */
    memcpy(c->ev.request_id, "req_", 4);
    sy_fmt_hex_fixed(c->ev.request_id + 4, next_rand(ctx), 16);
    sy_fmt_hex_fixed(c->ev.request_id + 20, next_rand(ctx) >> 32, 8);
    c->ev.request_id[28] = '\0';
    c->ev.experiment = c->conf->cfg->experiment;
    c->ev.phase = exp_phase_str(st->phase);
    c->ev.routed_bp = st->routed_bp;
    c->ev.cohort = exp_cohort_str(EXP_COHORT_CONTROL);
    c->ev.mode = exp_mode_str(EXP_MODE_BALANCED);
    /* Redis away: cohorts come from the hash and the last known state */
    c->ev.redis_fallback = !rt_redis_connected(ctx->redis);
    if (c->ev.redis_fallback)
        rt_metrics_inc(ctx->metrics, RT_C_redis_fallbacks);

    const exp_api_key *key = NULL;
    int a = authenticate(c->conf, req, &key);
    if (a == -1) {
        chat_refuse(c, 401, "missing_api_key", NULL,
                    "missing API key: send it as 'Authorization: Bearer <key>'");
        return;
    }
    if (a == -2) {
        chat_refuse(c, 401, "invalid_api_key", NULL, "invalid API key");
        return;
    }
    c->ev.project = key->project;

    size_t blen;
    const char *body = sy_http_body(req, &blen);
    json_error_t jerr;
    c->root = json_loadb(body, blen, 0, &jerr);
    if (!c->root) {
        snprintf(msg, sizeof(msg), "request body is not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        chat_refuse(c, 400, "invalid_json", NULL, msg);
        return;
    }
    const char *code, *param;
    if (validate(c->root, &code, &param, msg, sizeof(msg))) {
        chat_refuse(c, 400, code, param, msg);
        return;
    }
    /* splice the model into the body only when that is exact (router/reqbody.h) */
    c->body = body;
    c->body_len = blen;
    c->splice_ok = rt_body_find_model(body, blen, &c->span) == 0 &&
                   c->span.members == rt_body_tree_members(c->root);

    exp_mode mode = EXP_MODE_BALANCED;
    const char *mode_hdr = sy_http_header(req, "X-Route-Mode");
    if (mode_hdr && exp_mode_parse(mode_hdr, &mode)) {
        snprintf(msg, sizeof(msg), "unknown X-Route-Mode \"%.64s\": use eco, balanced or sport",
                 mode_hdr);
        chat_refuse(c, 400, "invalid_route_mode", NULL, msg);
        return;
    }
    c->ev.mode = exp_mode_str(mode);

    int prefer = -1;
    const char *prefer_hdr = sy_http_header(req, "X-Model-Prefer");
    if (prefer_hdr) {
        if (!key->allow_model_prefer) {
            chat_refuse(c, 403, "model_prefer_not_allowed", NULL,
                        "this API key may not choose the model (X-Model-Prefer)");
            return;
        }
        prefer = exp_config_find_model(c->conf->cfg, prefer_hdr);
        if (prefer < 0) {
            snprintf(msg, sizeof(msg), "X-Model-Prefer names unknown model \"%.64s\" (see GET /v1/models)",
                     prefer_hdr);
            chat_refuse(c, 400, "model_not_found", NULL, msg);
            return;
        }
    }

    /* who: X-User-Id, else the body's user, else the API key's project */
    const char *user = sy_http_header(req, "X-User-Id");
    if (user && (!*user || strlen(user) > MAX_USER_ID)) {
        snprintf(msg, sizeof(msg), "X-User-Id must be 1 to %d bytes", MAX_USER_ID);
        chat_refuse(c, 400, "invalid_user_id", NULL, msg);
        return;
    }
    if (!user)
        user = json_string_value(json_object_get(c->root, "user"));
    char keyuser[300];
    if (!user || !*user) {
        snprintf(keyuser, sizeof(keyuser), "project:%s", key->project);
        user = keyuser;
    }
    size_t ulen = strlen(user);
    exp_user_hash(user, ulen, c->ev.user_hash);
    c->ev.bucket = exp_bucket(st->salt, user, ulen);
    int forced = rt_expstate_forced(ctx->expstate, c->ev.user_hash);

    /* Every request is classified, whatever its cohort: the control arm needs
     * task types too, so each task type's routed arm meets its own control. */
    size_t tlen;
    char *owned;
    const char *text = prompt_text(c->root, &tlen, &owned);
    struct clf_result cr;
    clf_classify(ctx->clf, text, tlen, c->conf->rules, &cr);
    free(owned);
    wire_task task = WIRE_TASK_SIMPLE; /* only the held-back check reads it when unclassified */
    if (cr.task == WIRE_TASK_NONE) {
        rt_metrics_inc(ctx->metrics, RT_C_classifier_failures);
    } else {
        task = (wire_task)cr.task;
        c->task = (int)task;
        c->ev.task_type = wire_task_str(task);
        c->ev.task_confidence = cr.confidence;
    }
    exp_route r = exp_route_decide(st, c->ev.bucket, task, forced);
    if (c->task < 0) { /* fail open: no routing without a task type */
        r.serve_routed = 0;
        r.log_would_have = 0;
    }
    c->cohort = (int)r.cohort;
    c->ev.cohort = exp_cohort_str(r.cohort);
    /* exposure unit for the sample-ratio check: a user first seen in this step
     * (phase and routed share) for this task type, counted at request start so
     * a slow arm's late events cannot look like missing users */
    char step_key[96];
    const char *step_task = c->ev.task_type ? c->ev.task_type : "none";
    size_t plen = strlen(c->ev.phase), tlen2 = strlen(step_task);
    if (plen + tlen2 + SY_FMT_INT_MAX + 3 <= sizeof(step_key)) { /* "%s:%d:%s" */
        char *w = step_key;
        memcpy(w, c->ev.phase, plen);
        w += plen;
        *w++ = ':';
        w += sy_fmt_i64(w, st->routed_bp);
        *w++ = ':';
        memcpy(w, step_task, tlen2 + 1);
    } else {
        snprintf(step_key, sizeof(step_key), "%s:%d:%s", c->ev.phase, st->routed_bp, step_task);
    }
    rt_redis_record_user(ctx->redis, c->conf->cfg->experiment, c->ev.user_hash, c->ev.bucket,
                         c->ev.cohort, step_key, c->ev.ts_us);

    int model = c->conf->cfg->default_model;
    if (c->task >= 0) {
        int routed = c->conf->cfg->routing[c->task][mode];
        if (r.serve_routed)
            model = routed;
        else if (r.log_would_have)
            c->ev.would_have_model = model_of(c, routed)->name;
    }
    if (prefer >= 0)
        model = prefer;
    c->model = model;

    if (json_is_true(json_object_get(c->root, "stream"))) {
        json_t *so = json_object_get(c->root, "stream_options");
        c->ev.stream = 1;
        c->splice_ok = 0; /* the tree changes below */
        c->client_wants_usage = json_is_object(so) && json_is_true(json_object_get(so, "include_usage"));
        if (!json_is_object(so)) {
            so = json_object();
            json_object_set_new(c->root, "stream_options", so);
        }
        json_object_set_new(so, "include_usage", json_true());
    }

    build_candidates(c, model);
    sy_http_on_close(req, on_client_close, c);
    c->state = CHAT_DISPATCHING;
    if (start_next(c, &c->att[0])) {
        reply_failure(c);
        return;
    }
    /* sport mode may race the next candidate (never for streams) */
    if (mode == EXP_MODE_SPORT && c->conf->cfg->race_sport && !c->ev.stream &&
        c->next_cand < c->ncand && start_next(c, &c->att[1]) == 0) {
        c->racing = 1;
        rt_metrics_inc(ctx->metrics, RT_C_races);
    }
}
