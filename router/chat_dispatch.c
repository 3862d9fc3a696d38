/*
 * chat DISPATCH (router/chat.h): the attempts upstream. The candidates are
 * tried in order, each only while its provider's circuit lets it through and
 * the config's max_attempts allows; a retryable failure (transport, timeout,
 * 5xx, 429) moves to the next, a success or a client error (400, 404, 422) is
 * the answer. In sport mode a second candidate may race the first (never for
 * streams): the first to answer wins and the other is cancelled.
 */
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int start_attempt(chat *c, attempt *a, int model)
{
    rt_ctx *ctx = c->ctx;
    const exp_model *m = chat_model(c, model);
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
    c->model = model;
    return 0;
}

/* Start the next candidate whose provider's circuit lets it through. */
static int start_next(chat *c, attempt *a)
{
    rt_ctx *ctx = c->ctx;
    while (c->next_cand < c->ncand && c->ev.attempts < c->conf->cfg->max_attempts) {
        int model = c->cand[c->next_cand++];
        int prov = chat_model(c, model)->provider;
        if (!rt_breaker_allow(&c->conf->breakers[prov], sy_clock_mono_us(),
                              c->conf->cfg->breaker_cooldown_ms)) {
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
        long in = 0, out = 0;
        if (ok)
            rt_usage_from(res->body, res->body_len, &in, &out);
        if (other->call) {
            /* the race is won: stop the other transfer, and pay for its prompt */
            const exp_model *lm = chat_model(c, other->model);
            cancel_attempt(c, other);
            c->ev.cost_usd += exp_model_cost(lm, in, 0);
        }
        chat_answer(c, a, res, in, out, ok);
        return;
    }

    /* a retryable failure: remember it, then fail over (or wait for the racer) */
    c->last_status = res->status;
    c->last_http = res->http_status;
    snprintf(c->last_error, sizeof(c->last_error), "%s",
             res->error ? res->error : rt_call_status_str(res->status));
    sy_log_kv(SY_INFO, "upstream attempt failed", "request_id", c->ev.request_id, "model",
              m->name, "provider", chat_provider_name(c, a->model), "reason", c->last_error, NULL);
    if (other->call)
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
    cancel_attempt(c, &c->att[0]);
    cancel_attempt(c, &c->att[1]);
    c->upstream_us = sy_clock_mono_us() - c->t0_mono;
    if (c->state == CHAT_STREAM) {
        /* bill what was streamed so far: the prompt at least */
        const exp_model *m = chat_model(c, c->model);
        c->ev.cost_usd += exp_model_cost(m, c->ev.tokens_in, c->ev.tokens_out);
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
