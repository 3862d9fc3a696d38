/*
 * chat: the machine of POST /v1/chat/completions (router/chat.h): the
 * transition table, the driver of the synchronous steps, and the end of every
 * request: its one event.
 */
#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/hex.h"
#include "experiments/cohort.h"
#include "router/chat.h"
#include "router/expstate.h"
#include "router/metrics.h"
#include "router/redis.h"

#define B(s) (1u << (s))

/* Where each state may go. Every synchronous step may refuse (DONE). */
static const unsigned next_ok[] = {
    [CHAT_AUTH] = B(CHAT_PARSE) | B(CHAT_DONE),
    [CHAT_PARSE] = B(CHAT_COHORT) | B(CHAT_DONE),
    [CHAT_COHORT] = B(CHAT_CLASSIFY) | B(CHAT_DONE),
    [CHAT_CLASSIFY] = B(CHAT_ROUTE) | B(CHAT_DONE),
    [CHAT_ROUTE] = B(CHAT_STICKY) | B(CHAT_DONE),
    [CHAT_STICKY] = B(CHAT_DISPATCH),
    [CHAT_DISPATCH] = B(CHAT_STREAM) | B(CHAT_DONE),
    [CHAT_STREAM] = B(CHAT_DONE),
    [CHAT_DONE] = 0,
};

static const char *const state_names[] = {
    [CHAT_AUTH] = "auth",         [CHAT_PARSE] = "parse",       [CHAT_COHORT] = "cohort",
    [CHAT_CLASSIFY] = "classify", [CHAT_ROUTE] = "route",       [CHAT_STICKY] = "sticky",
    [CHAT_DISPATCH] = "dispatch",
    [CHAT_STREAM] = "stream",     [CHAT_DONE] = "done",
};

/* A transition outside the table is a bug in the router: stop, as redis's
 * serverAssert does, rather than answer twice or free twice. Checked in every
 * build; it is one bit test. */
void chat_set_state(chat *c, enum chat_state next)
{
    if (!(next_ok[c->state] & B(next))) {
        sy_log_kv(SY_ERROR, "chat: illegal state transition", "request_id", c->ev.request_id,
                  "from", state_names[c->state], "to", state_names[next], NULL);
        abort();
    }
    c->state = next;
}

uint64_t chat_rand(rt_ctx *ctx)
{
    /* xorshift64*: request ids need uniqueness, not secrecy */
    uint64_t x = ctx->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ctx->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void chat_record(chat *c, int status, const char *error)
{
    rt_ctx *ctx = c->ctx;
    int64_t total = sy_clock_mono_us() - c->t0_mono;
    chat_set_state(c, CHAT_DONE);
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
    chat_sticky_record(c);
    if (status >= 500 || status == 499)
        sy_log_kv(SY_WARN, "request failed", "request_id", c->ev.request_id, "reason", error,
                  "model", c->ev.served_model, NULL);
}

void chat_release(chat *c)
{
    assert(c->state == CHAT_DONE);
    chat_disarm(c);
    json_decref(c->root);
    sy_jarena_release(&c->arena);
    free(c->sse);
    if (c->wires) {
        wa_buf_free(&c->wires->a2o_out);
        wa_buf_free(&c->wires->o2a_out);
        free(c->wires);
    }
    free(c->tried);
    rt_conf_unref(c->conf);
    free(c);
}

void chat_finish(chat *c, int status, const char *error)
{
    chat_record(c, status, error);
    chat_release(c);
}

void chat_add_route_headers(chat *c)
{
    sy_http_add_header(c->http, "X-Request-Id", c->ev.request_id);
    sy_http_add_header(c->http, "X-Route-Cohort", c->ev.cohort);
    sy_http_add_header(c->http, "X-Route-Phase", c->ev.phase);
    sy_http_add_header(c->http, "X-Route-Task", c->ev.task_type ? c->ev.task_type : "none");
    /* what answered, or else what was tried last */
    sy_http_add_header(c->http, "X-Route-Model",
                       c->ev.served_model ? c->ev.served_model : chat_model(c, c->model)->name);
}

void rt_reply_wire_error(sy_http_req *req, exp_wire wire, int status, const char *type,
                         const char *code, const char *param, const char *msg)
{
    if (wire == EXP_WIRE_OPENAI) {
        sy_http_reply_error(req, status, type, code, param, "%s", msg);
        return;
    }
    wa_error e = {.status = status, .type = wa_error_type_for_status(status)};
    snprintf(e.message, sizeof(e.message), "%s", msg);
    json_t *body = wa_error_body(&e);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        sy_http_reply(req, 503, "application/json",
                      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                      "\"message\":\"out of memory\"}}", 78);
        return;
    }
    sy_http_reply(req, status, "application/json", text, strlen(text));
    free(text);
}

void chat_reply_error(chat *c, int status, const char *type, const char *code, const char *param,
                      const char *msg)
{
    rt_reply_wire_error(c->http, c->inbound, status, type, code, param, msg);
}

void chat_refuse(chat *c, int status, const char *code, const char *param, const char *msg)
{
    assert(c->state < CHAT_DISPATCH);
    chat_record(c, status, code);
    sy_http_add_header(c->http, "X-Request-Id", c->ev.request_id);
    chat_reply_error(c, status,
                     status == 401   ? "authentication_error"
                     : status == 403 ? "permission_error"
                                     : "invalid_request_error",
                     code, param, msg);
    chat_release(c);
}

/* The synchronous steps, in request order. */
static int (*const steps[])(chat *) = {
    [CHAT_AUTH] = chat_auth,
    [CHAT_PARSE] = chat_parse,
    [CHAT_COHORT] = chat_cohort,
    [CHAT_CLASSIFY] = chat_classify,
    [CHAT_ROUTE] = chat_route,
    [CHAT_STICKY] = chat_sticky,
};

static void chat_start(rt_ctx *ctx, sy_http_req *req, exp_wire inbound)
{
    chat *c = calloc(1, sizeof(*c));
    if (!c) {
        sy_http_reply_error(req, 503, "api_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->ctx = ctx;
    c->inbound = inbound;
    c->conf = rt_conf_ref(ctx->conf);
    c->http = req;
    c->state = CHAT_AUTH;
    c->st = rt_expstate_current(ctx->expstate);
    c->t0_mono = sy_clock_mono_us();
    c->deadline_mono = c->t0_mono + (int64_t)c->conf->cfg->request_timeout_ms * 1000;
    c->model = c->conf->cfg->default_model;
    c->prefer = -1;
    c->task = -1;
    c->cohort = EXP_COHORT_CONTROL;
    c->mode = EXP_MODE_BALANCED;
    c->ev.ts_us = sy_clock_wall_us();
    c->ev.task_confidence = NAN; /* null until classified */
    /* "req_%012llx%016llx" of the milliseconds since 1970 and a draw, without printf.
     * Ids rise with time, so each row's key goes to the right edge of the requests
     * primary key's index (request_id, ts), on pages PostgreSQL has in memory: random ids
     * put every insert on a random page of an index that outgrows its cache (half the
     * events per PostgreSQL core, bench/ingest.sh IDS=random). 64 random bits a
     * millisecond keep ids unique. */
    memcpy(c->ev.request_id, "req_", 4);
    sy_hex_fixed(c->ev.request_id + 4, (uint64_t)c->ev.ts_us / 1000, 12);
    sy_hex_fixed(c->ev.request_id + 16, chat_rand(ctx), 16);
    c->ev.request_id[32] = '\0';
    c->ev.experiment = c->conf->cfg->experiment;
    c->ev.phase = exp_phase_str(c->st->phase);
    c->ev.routed_bp = c->st->routed_bp;
    c->ev.cohort = exp_cohort_str(EXP_COHORT_CONTROL);
    c->ev.mode = exp_mode_str(EXP_MODE_BALANCED);
    /* Redis away: cohorts come from the hash and the last known state */
    c->ev.redis_fallback = !rt_redis_connected(ctx->redis);
    if (c->ev.redis_fallback)
        rt_metrics_inc(ctx->metrics, RT_C_redis_fallbacks);

    while (c->state < CHAT_DISPATCH) {
        if (steps[c->state](c))
            return; /* refused (c is gone), or waiting (STICKY: its callback goes on) */
        chat_set_state(c, c->state + 1);
    }
    chat_dispatch(c);
}

void rt_chat_handle(rt_ctx *ctx, sy_http_req *req)
{
    chat_start(ctx, req, EXP_WIRE_OPENAI);
}

void rt_messages_handle(rt_ctx *ctx, sy_http_req *req)
{
    chat_start(ctx, req, EXP_WIRE_ANTHROPIC);
}
