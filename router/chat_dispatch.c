/*
 * chat DISPATCH (router/chat.h): the attempts upstream, all within one
 * deadline (dispatch.request_timeout_ms). The candidates are tried in order:
 * the chosen model, same-tier models on other providers, then, for a routed
 * request, the experiment's default model. A transient failure (transport
 * error, a timeout, 429, 5xx; before the first byte reached the client) is
 * tried again at the same candidate up to its provider's `retries`, after a
 * jittered exponential backoff (a 429's Retry-After instead, when it fits the
 * deadline, else the next candidate at once); then the next candidate. A
 * provider whose circuit is open is skipped, and dispatch.max_attempts bounds
 * every attempt together. A success or a client error (400, 404, 422) is the
 * answer. In sport mode a second candidate may race the first (never for
 * streams): the first to answer wins and the other is cancelled.
 */
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/httpd.h"
#include "common/log.h"
#include "router/breaker.h"
#include "router/chat.h"
#include "router/metrics.h"
#include "router/usage.h"

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

/* The Messages request for model m, malloc'd; NULL with c->last_error when the
 * request cannot be said in Anthropic's wire (or memory ran out). */
static char *anthropic_body(chat *c, const exp_model *m, size_t *len)
{
    json_t *req;
    char err[256];
    if (wa_req_openai_to_anthropic(c->root, m->upstream, &req, err, sizeof(err))) {
        snprintf(c->last_error, sizeof(c->last_error),
                 "the request cannot be sent to an Anthropic provider: %.180s", err);
        return NULL;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        snprintf(c->last_error, sizeof(c->last_error), "out of memory");
    *len = text ? strlen(text) : 0;
    return text;
}

static int start_attempt(chat *c, attempt *a, int model)
{
    rt_ctx *ctx = c->ctx;
    const exp_model *m = chat_model(c, model);
    const exp_provider *p = &c->conf->cfg->providers[m->provider];
    int64_t left_ms = (c->deadline_mono - sy_clock_mono_us()) / 1000;
    if (left_ms < 1) {
        snprintf(c->last_error, sizeof(c->last_error), "the request deadline passed");
        return -1;
    }

    char stack[8192];
    size_t len;
    char *body = p->type == EXP_WIRE_ANTHROPIC ? anthropic_body(c, m, &len)
                                               : attempt_body(c, m, stack, sizeof(stack), &len);
    if (!body)
        return -1;

    /* base_url + the wire's path, cut at sizeof(url) - 1 as snprintf would */
    char url[1024];
    const char *path = p->type == EXP_WIRE_ANTHROPIC ? "/messages" : "/chat/completions";
    size_t blen = strlen(p->base_url), n = blen < sizeof(url) - 1 ? blen : sizeof(url) - 1;
    memcpy(url, p->base_url, n);
    size_t rest = sizeof(url) - 1 - n;
    size_t plen = strlen(path) < rest ? strlen(path) : rest;
    memcpy(url + n, path, plen);
    url[n + plen] = '\0';
    a->c = c;
    a->model = model;
    a->provider = m->provider;
    a->wire = p->type;
    rt_call_spec spec = {
        .url = url,
        .api_key = c->conf->provider_keys[m->provider],
        .anthropic_version = p->anthropic_version,
        .body = body,
        .body_len = len,
        .connect_timeout_ms = p->connect_timeout_ms < left_ms ? p->connect_timeout_ms : (int)left_ms,
        .timeout_ms = p->timeout_ms < left_ms ? p->timeout_ms : (int)left_ms,
        .max_response_bytes = ctx->max_response_bytes,
        .on_data = c->ev.stream ? chat_on_upstream_data : NULL,
        .on_done = on_attempt_done,
        .arg = a,
    };
    a->call = rt_call_start(ctx->up, &spec);
    if (body != stack)
        free(body);
    if (!a->call)
        return -1;
    c->ev.attempts++;
    a->tries++;
    c->model = model;
    return 0;
}

static int attempts_left(const chat *c)
{
    return c->ev.attempts < c->conf->cfg->max_attempts;
}

/* Start the next candidate whose provider's circuit lets it through. */
static int start_next(chat *c, attempt *a)
{
    rt_ctx *ctx = c->ctx;
    while (c->next_cand < c->ncand && attempts_left(c)) {
        int i = c->next_cand++;
        int model = c->cand[i];
        int prov = chat_model(c, model)->provider;
        if (!rt_breaker_allow(&c->conf->breakers[prov], sy_clock_mono_us(),
                              c->conf->cfg->breaker_cooldown_ms)) {
            snprintf(c->last_error, sizeof(c->last_error), "circuit open for provider %s",
                     c->conf->cfg->providers[prov].name);
            continue;
        }
        if (c->ev.attempts > 0)
            rt_metrics_inc(ctx->metrics, RT_C_failovers);
        a->kind = c->cand_kind[i];
        a->tries = 0;
        if (start_attempt(c, a, model) == 0)
            return 0;
        rt_breaker_release(&c->conf->breakers[prov]);
    }
    return -1;
}

static void cancel_attempt(chat *c, attempt *a)
{
    if (a->retry_timer) {
        event_free(a->retry_timer); /* deletes it when pending */
        a->retry_timer = NULL;
        a->retry_armed = 0;
    }
    if (!a->call)
        return;
    rt_call_cancel(a->call);
    a->call = NULL;
    rt_breaker_release(&c->conf->breakers[a->provider]);
}

void chat_disarm(chat *c)
{
    cancel_attempt(c, &c->att[0]);
    cancel_attempt(c, &c->att[1]);
}

/* The backoff before try number a->tries + 1 at the same candidate, in ms:
 * retry_backoff_ms doubled per try, capped, then "equal jitter" (half fixed,
 * half random) so that clients failing together do not retry together. */
static int64_t backoff_ms(chat *c, const attempt *a)
{
    const exp_config *cfg = c->conf->cfg;
    int64_t d = cfg->retry_backoff_ms;
    for (int i = 1; i < a->tries && d < cfg->retry_backoff_max_ms; i++)
        d *= 2;
    if (d > cfg->retry_backoff_max_ms)
        d = cfg->retry_backoff_max_ms;
    return d / 2 + (int64_t)(chat_rand(c->ctx) % (uint64_t)(d / 2 + 1));
}

static void on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
    attempt *a = arg;
    chat *c = a->c;
    (void)fd;
    (void)what;
    /* libevent's timers run on CLOCK_MONOTONIC_COARSE and may fire a tick (up to 4 ms)
     * before the precise clock says the wait is over: a Retry-After is waited in full */
    int64_t early_us = a->retry_due_mono - sy_clock_mono_us();
    if (early_us > 0) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(early_us % 1000000)};
        if (early_us < 1000000 && evtimer_add(a->retry_timer, &tv) == 0)
            return;
    }
    a->retry_armed = 0;
    assert(c->state == CHAT_DISPATCH);
    rt_breaker *b = &c->conf->breakers[a->provider];
    if (rt_breaker_allow(b, sy_clock_mono_us(), c->conf->cfg->breaker_cooldown_ms)) {
        rt_metrics_inc(c->ctx->metrics, RT_C_retries);
        if (start_attempt(c, a, a->model) == 0)
            return;
        rt_breaker_release(b);
    } else {
        snprintf(c->last_error, sizeof(c->last_error), "circuit open for provider %s",
                 c->conf->cfg->providers[a->provider].name);
    }
    if (start_next(c, a) == 0)
        return;
    chat_reply_failure(c);
}

/* Try a's candidate again after its backoff: 1 when armed, 0 to move on. */
static int arm_retry(chat *c, attempt *a, const rt_call_result *res)
{
    const exp_provider *p = &c->conf->cfg->providers[a->provider];
    if (a->tries > p->retries || !attempts_left(c) ||
        c->conf->breakers[a->provider].state == RT_BREAKER_OPEN)
        return 0; /* an open circuit: move on now, not after a backoff */
    int64_t wait_ms = backoff_ms(c, a);
    if (res->status == RT_CALL_OK && res->http_status == 429 && res->retry_after_s >= 0)
        wait_ms = (int64_t)res->retry_after_s * 1000;
    /* the wait must leave the attempt some of the deadline, else move on now */
    int64_t left_ms = (c->deadline_mono - sy_clock_mono_us()) / 1000;
    if (wait_ms >= left_ms)
        return 0;
    struct timeval tv = {.tv_sec = (time_t)(wait_ms / 1000),
                         .tv_usec = (suseconds_t)(wait_ms % 1000) * 1000};
    if (!a->retry_timer && !(a->retry_timer = evtimer_new(c->ctx->base, on_retry_timer, a)))
        return 0;
    /* libevent counts a timer from the time cached when this loop iteration began: a
     * Retry-After: 1 would fire early by the time the iteration has taken so far */
    event_base_update_cache_time(c->ctx->base);
    if (evtimer_add(a->retry_timer, &tv))
        return 0;
    a->retry_due_mono = sy_clock_mono_us() + wait_ms * 1000;
    a->retry_armed = 1;
    return 1;
}

/* A candidate is left behind: "model@provider Nx reason" joins c->tried, the
 * list the error answer names when nothing is left (cut when full). */
static void note_tried(chat *c, const attempt *a)
{
    c->ntried++;
    if (!c->tried && !(c->tried = calloc(1, CHAT_TRIED_MAX)))
        return;
    size_t n = strlen(c->tried);
    if (n + 4 >= CHAT_TRIED_MAX)
        return;
    snprintf(c->tried + n, CHAT_TRIED_MAX - n, "%s%s@%s %dx %s", n ? ", " : "",
             chat_model(c, a->model)->name, chat_provider_name(c, a->model), a->tries,
             c->last_error);
}

/* Worth trying again at the same provider: the failures that pass. */
static int transient(const rt_call_result *res)
{
    if (res->status != RT_CALL_OK)
        return 1; /* connect error, timeout, reset before the answer */
    switch (res->http_status) {
    case 429: case 500: case 502: case 503: case 504:
    case 529: /* Anthropic's overloaded_error */
        return 1;
    }
    return 0;
}

static void on_attempt_done(const rt_call_result *res, void *arg)
{
    attempt *a = arg;
    chat *c = a->c;
    rt_ctx *ctx = c->ctx;
    assert(c->state == CHAT_DISPATCH || c->state == CHAT_STREAM);
    attempt *other = a == &c->att[0] ? &c->att[1] : &c->att[0];
    const exp_model *m = chat_model(c, a->model);

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
        rt_breaker_failure(&c->conf->breakers[a->provider], sy_clock_mono_us(),
                           c->conf->cfg->breaker_failures);
    else
        rt_breaker_success(&c->conf->breakers[a->provider]);

    if (c->state == CHAT_STREAM) { /* streams never race: this is the streaming attempt */
        assert(c->streaming == a);
        chat_stream_done(c, res);
        return;
    }
    if (ok || client_error) {
        exp_usage u = {0};
        json_t *translated = NULL;
        const char *body = res->body;
        size_t blen = res->body_len;
        if (a->wire == EXP_WIRE_ANTHROPIC) {
            /* the provider's Messages answer (or error) in OpenAI's wire */
            wa_usage wu = {0};
            char err[256];
            int rc = ok ? wa_resp_anthropic_to_openai(res->body, res->body_len,
                                                      sy_clock_wall_us() / 1000000, &translated,
                                                      &wu, err, sizeof(err))
                        : wa_error_anthropic_to_openai(res->body, res->body_len,
                                                       (int)res->http_status, &translated);
            char *text = rc == 0 ? json_dumps(translated, JSON_COMPACT) : NULL;
            json_decref(translated);
            if (!text) { /* as a provider failure: the next candidate may do */
                snprintf(c->last_error, sizeof(c->last_error),
                         "malformed Messages answer: %.200s", rc ? err : "out of memory");
                c->last_status = RT_CALL_ERROR;
                c->last_http = 0;
                goto failed;
            }
            u = (exp_usage){.in = (long)wa_usage_prompt_tokens(&wu),
                            .out = (long)wu.output_tokens,
                            .cached = (long)wu.cache_read_tokens,
                            .cache_write = (long)wu.cache_write_tokens};
            body = text;
            blen = strlen(text);
        } else if (ok) {
            rt_usage_read(res->body, res->body_len, &u);
        }
        if (other->call || other->retry_armed) {
            /* the race is won: stop the other transfer, and pay for its prompt */
            const exp_model *lm = chat_model(c, other->model);
            if (other->call)
                c->ev.cost_usd += exp_model_cost(lm, u.in, 0);
            cancel_attempt(c, other);
        }
        chat_answer(c, a, (int)res->http_status, body, blen, &u, ok);
        if (body != res->body)
            free((char *)body);
        return;
    }

    /* a failure: bill what it consumed, remember it, then try again,
     * fail over, or wait for the racer */
    if (res->status == RT_CALL_OK && res->body_len && a->wire == EXP_WIRE_OPENAI) {
        exp_usage u = {0};
        rt_usage_read(res->body, res->body_len, &u);
        c->ev.cost_usd += exp_usage_cost(m, &u);
    }
    if (res->status == RT_CALL_OK)
        snprintf(c->last_error, sizeof(c->last_error), "HTTP %ld", res->http_status);
    else
        snprintf(c->last_error, sizeof(c->last_error), "%s",
                 res->error ? res->error : rt_call_status_str(res->status));
    c->last_status = res->status;
    c->last_http = res->http_status;
failed:
    sy_log_kv(SY_INFO, "upstream attempt failed", "request_id", c->ev.request_id, "model",
              m->name, "provider", chat_provider_name(c, a->model), "reason", c->last_error, NULL);
    /* (a 2xx that could not be translated is not transient: no retry) */
    if (!(other->call || other->retry_armed) && transient(res) && arm_retry(c, a, res))
        return;
    note_tried(c, a);
    if (other->call || other->retry_armed)
        return;
    if (start_next(c, a) == 0)
        return;
    chat_reply_failure(c);
}

static void on_client_close(sy_http_req *req, void *arg)
{
    chat *c = arg;
    assert(c->state == CHAT_DISPATCH || c->state == CHAT_STREAM);
    rt_metrics_inc(c->ctx->metrics, RT_C_client_gone);
    chat_disarm(c);
    c->upstream_us = sy_clock_mono_us() - c->t0_mono;
    if (c->state == CHAT_STREAM) {
        /* bill what was streamed so far: the prompt at least */
        const exp_model *m = chat_model(c, c->model);
        exp_usage u = {c->ev.tokens_in, c->ev.tokens_out, c->ev.cached_tokens,
                       c->ev.cache_write_tokens};
        c->ev.cost_usd += exp_usage_cost(m, &u);
        sy_http_stream_end(req);
    } else {
        sy_http_reply(req, 499, NULL, NULL, 0); /* frees req; nothing is sent */
    }
    chat_finish(c, 499, "client_closed_request");
}

void chat_dispatch(chat *c)
{
    rt_ctx *ctx = c->ctx;
    /* a stream is always asked for its usage (cost); the client sees it only if it asked */
    if (json_is_true(json_object_get(c->root, "stream"))) {
        json_t *so = json_object_get(c->root, "stream_options");
        c->ev.stream = 1;
        c->splice_ok = 0; /* the tree changes below */
        c->client_wants_usage =
            json_is_object(so) && json_is_true(json_object_get(so, "include_usage"));
        if (!json_is_object(so)) {
            so = json_object();
            json_object_set_new(c->root, "stream_options", so);
        }
        json_object_set_new(so, "include_usage", json_true());
    }

    sy_http_on_close(c->http, on_client_close, c);
    if (start_next(c, &c->att[0])) {
        chat_reply_failure(c);
        return;
    }
    /* sport mode may race the next candidate (never for streams) */
    if (c->mode == EXP_MODE_SPORT && c->conf->cfg->race_sport && !c->ev.stream &&
        c->next_cand < c->ncand && start_next(c, &c->att[1]) == 0) {
        c->racing = 1;
        rt_metrics_inc(ctx->metrics, RT_C_races);
    }
}
