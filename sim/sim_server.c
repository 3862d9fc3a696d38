/*
 * sim_server: request dispatch and the sim_call state machine.
 *
 * Most requests are answered inside the handler (zero latency, no fault, not
 * a stream: the benchmark path allocates nothing of its own). Anything else
 * becomes a sim_call, owned by the server's call list, driven by one timer
 * event (call_run), in these states:
 *
 *   WAIT   --latency elapsed-->  reply / 500 / close, or STREAM
 *   STREAM --chunks written-->   the end of the stream (done), or FLUSH for a
 *                                midstream fault
 *   FLUSH  --output empty-->     abort the connection (done)
 *   HOLD   the "timeout" fault: nothing happens until the client goes away
 *
 * httpd callbacks (on_close, on_drain) never act on the call directly: they
 * set a flag and activate the timer event, so every transition happens in
 * call_run, outside httpd's own stack frames.
 *
 * A call knows its wire (c->api): the state machine is the same for both,
 * only the bytes differ (sim_wire.c for OpenAI, sim_wire_messages.c for
 * Anthropic). A text answer streams tokens_per_chunk tokens a chunk; a tool
 * call streams one sim_chat_args_piece() of its arguments a chunk.
 */
#include "sim/sim_server.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/httpd.h"
#include "common/log.h"
#include "sim/sim_chat.h"
#include "sim/sim_messages.h"
#include "sim/sim_wire.h"
#include "sim/sim_wire_messages.h"

#define STREAM_HIGH_WATER (64 * 1024) /* stop writing chunks above this much pending output */
#define STREAM_LOW_WATER (16 * 1024)  /* resume below this */
#define CHUNKS_PER_EVENT 64           /* unpaced streams yield the loop this often */

enum call_state { CALL_WAIT, CALL_STREAM, CALL_FLUSH, CALL_HOLD, CALL_DONE };

static const char *const call_state_names[] = {"wait", "stream", "flush", "hold", "done"};

typedef struct sim_call {
    sim_server *srv;
    sy_http_req *req;
    struct event *ev;
    enum call_state state;
    enum sim_fault fault;
    enum sim_api api;
    int stream;
    sim_wire_meta meta;
    sim_chat_plan plan;
    int next_token;   /* text: the next content token */
    size_t args_off;  /* tool call: the next argument byte */
    int chunks;       /* content chunks written */
    int abort_after;  /* midstream: content chunks before the close */
    double chunk_ms;  /* pacing per chunk; 0 = unpaced */
    int want_drain;   /* waiting for on_drain */
    int client_gone;  /* set by on_close */
    struct sim_call *prev, *next;
} sim_call;

struct sim_server {
    struct event_base *base;
    const sim_catalog *cat;
    sy_httpd *httpd;
    sim_prng prng;
    sim_stats stats;
    sim_buf out;      /* scratch for replies answered inside the handler */
    char *models_json; /* GET /v1/models, built once */
    long long started;
    sim_call *calls;  /* every call in flight */
};

/* ---------- calls ---------- */

static void call_run(evutil_socket_t fd, short what, void *arg);

static void call_set_state(sim_call *c, enum call_state st)
{
    /* WAIT -> STREAM|DONE|HOLD, STREAM -> FLUSH|DONE, FLUSH -> DONE, HOLD -> DONE */
    assert(c->state != CALL_DONE);
    assert(st != CALL_WAIT);
    assert(c->state != CALL_FLUSH || st == CALL_DONE);
    assert(c->state != CALL_HOLD || st == CALL_DONE);
    c->state = st;
}

static void call_free(sim_call *c)
{
    sim_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->ev)
        event_free(c->ev);
    free(c);
}

static void call_wake(sim_call *c)
{
    event_active(c->ev, EV_TIMEOUT, 1);
}

static void on_client_close(sy_http_req *req, void *arg)
{
    sim_call *c = arg;
    (void)req;
    c->client_gone = 1;
    call_wake(c);
}

static void on_client_drain(sy_http_req *req, void *arg)
{
    sim_call *c = arg;
    (void)req;
    if (c->want_drain) {
        c->want_drain = 0;
        call_wake(c);
    }
}

static void timer_ms(sim_call *c, double ms)
{
    struct timeval tv;
    long long us = (long long)(ms * 1000.0);
    tv.tv_sec = (time_t)(us / 1000000);
    tv.tv_usec = (suseconds_t)(us % 1000000);
    evtimer_add(c->ev, &tv);
}

/* ---------- replies ---------- */

static void new_meta(sim_server *s, const sim_model *m, enum sim_api api, int include_usage,
                     sim_wire_meta *meta)
{
    uint64_t a = sim_prng_next(&s->prng), b = sim_prng_next(&s->prng);
    uint64_t c = sim_prng_next(&s->prng), d = sim_prng_next(&s->prng);
    int anth = api == SIM_API_ANTHROPIC;
    snprintf(meta->id, sizeof(meta->id), "%s%016llx%08llx", anth ? "msg_" : "chatcmpl-",
             (unsigned long long)a, (unsigned long long)(b & 0xffffffffULL));
    snprintf(meta->tool_id, sizeof(meta->tool_id), "%s%016llx%08llx", anth ? "toolu_" : "call_",
             (unsigned long long)c, (unsigned long long)(d & 0xffffffffULL));
    meta->created = (long long)time(NULL);
    meta->model = m;
    meta->include_usage = include_usage;
    sim_wire_meta_prepare(meta);
}

/* An Anthropic error: {"type":"error","error":{"type","message"}}. */
static void reply_anthropic_error(sim_server *s, sy_http_req *req, int status, const char *type,
                                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_anthropic_error(sim_server *s, sy_http_req *req, int status, const char *type,
                                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sim_buf_reset(&s->out);
    sim_wire_msg_error(&s->out, type, msg);
    if (s->out.failed) {
        sy_http_reply_error(req, 500, "server_error", NULL, NULL, "Out of memory.");
        return;
    }
    sy_http_reply(req, status, "application/json", s->out.data, s->out.len);
}

static void reply_500(sim_server *s, sy_http_req *req, enum sim_api api)
{
    s->stats.fault_500++;
    if (api == SIM_API_ANTHROPIC)
        reply_anthropic_error(s, req, 500, "api_error", "Internal server error");
    else
        sy_http_reply_error(req, 500, "server_error", NULL, NULL,
                            "The server had an error while processing your request. Sorry "
                            "about that! (simulated)");
}

static void reply_429(sim_server *s, sy_http_req *req, const sim_model *m, enum sim_api api)
{
    char ra[16];
    s->stats.fault_429++;
    snprintf(ra, sizeof(ra), "%d", m->retry_after_s);
    sy_http_add_header(req, "Retry-After", ra);
    if (api == SIM_API_ANTHROPIC)
        reply_anthropic_error(s, req, 429, "rate_limit_error",
                              "Number of requests has exceeded your per-minute rate limit for "
                              "%s (simulated). Please try again in %ds.",
                              m->id, m->retry_after_s);
    else
        sy_http_reply_error(req, 429, "requests", "rate_limit_exceeded", NULL,
                            "Rate limit reached for %s (simulated) on requests per min (RPM). "
                            "Please try again in %ds.",
                            m->id, m->retry_after_s);
}

/* Overloaded: Anthropic's own 529; OpenAI has none and says 503. */
static void reply_529(sim_server *s, sy_http_req *req, enum sim_api api)
{
    s->stats.fault_529++;
    if (api == SIM_API_ANTHROPIC)
        reply_anthropic_error(s, req, 529, "overloaded_error", "Overloaded");
    else
        sy_http_reply_error(req, 503, "server_error", NULL, NULL,
                            "That model is currently overloaded with other requests. You can "
                            "retry your request, or contact us through our help center at "
                            "help.openai.com if the error persists. (simulated)");
}

static void reply_completion(sim_server *s, sy_http_req *req, enum sim_api api,
                             const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    sim_buf_reset(&s->out);
    if (api == SIM_API_ANTHROPIC)
        sim_wire_msg_message(&s->out, meta, plan);
    else
        sim_wire_completion(&s->out, meta, plan);
    if (s->out.failed) {
        sy_log(SY_ERROR, "out of memory building a reply", "model=%s", meta->model->id);
        sy_http_reply_error(req, 500, "server_error", NULL, NULL, "Out of memory.");
        return;
    }
    s->stats.completions++;
    sy_http_reply(req, 200, "application/json", s->out.data, s->out.len);
}

static void stream_flush(sim_call *c)
{
    sim_server *s = c->srv;
    if (s->out.len && !s->out.failed)
        sy_http_stream_write(c->req, s->out.data, s->out.len);
    sim_buf_reset(&s->out);
}

/* Write chunks until done, paced, blocked by backpressure or the per-event
 * cap. Unpaced chunks are batched into one write (SSE framing does not care
 * how HTTP chunks split it). s->out may already hold the role chunk.
 * Returns 1 when the call is finished (and must be freed). */
static int stream_pump(sim_call *c)
{
    sim_server *s = c->srv;
    const sim_model *m = c->meta.model;

    for (int budget = CHUNKS_PER_EVENT; budget > 0; budget--) {
        if (c->fault == SIM_FAULT_MIDSTREAM && c->chunks >= c->abort_after) {
            stream_flush(c);
            call_set_state(c, CALL_FLUSH);
            c->want_drain = 1;
            sy_http_on_drain(c->req, 0, on_client_drain, c);
            if (sy_http_output_pending(c->req) == 0)
                call_wake(c);
            return 0;
        }
        if (c->plan.tool_call ? c->args_off >= c->plan.tool_args_len
                              : c->next_token >= c->plan.completion_tokens) {
            if (c->api == SIM_API_ANTHROPIC) {
                sim_wire_msg_finish(&s->out, &c->plan);
            } else {
                sim_wire_chunk_finish(&s->out, &c->meta, &c->plan);
                if (c->meta.include_usage)
                    sim_wire_chunk_usage(&s->out, &c->meta, &c->plan);
                sim_wire_done(&s->out);
            }
            stream_flush(c);
            sy_http_stream_end(c->req);
            c->req = NULL;
            call_set_state(c, CALL_DONE);
            s->stats.streams++;
            return 1;
        }
        if (c->plan.tool_call) {
            size_t len = sim_chat_args_piece(&c->plan, c->args_off);
            if (c->api == SIM_API_ANTHROPIC)
                sim_wire_msg_json_delta(&s->out, &c->plan, c->args_off, len);
            else
                sim_wire_chunk_tool_args(&s->out, &c->meta, &c->plan, c->args_off, len);
            c->args_off += len;
        } else {
            int to = c->next_token + m->tokens_per_chunk;
            if (to > c->plan.completion_tokens)
                to = c->plan.completion_tokens;
            if (c->api == SIM_API_ANTHROPIC)
                sim_wire_msg_text_delta(&s->out, &c->plan, c->next_token, to);
            else
                sim_wire_chunk_content(&s->out, &c->meta, &c->plan, c->next_token, to);
            c->next_token = to;
        }
        c->chunks++;

        if (c->chunk_ms > 0) {
            stream_flush(c);
            if (sy_http_output_pending(c->req) > STREAM_HIGH_WATER)
                c->want_drain = 1; /* the drain restarts the pacing */
            else
                timer_ms(c, c->chunk_ms);
            return 0;
        }
        if (s->out.len + sy_http_output_pending(c->req) > STREAM_HIGH_WATER) {
            stream_flush(c);
            c->want_drain = 1;
            return 0;
        }
    }
    stream_flush(c);
    call_wake(c); /* unpaced and not blocked: go on after other events had a turn */
    return 0;
}

static void stream_begin(sim_call *c)
{
    sim_server *s = c->srv;
    sy_http_add_header(c->req, "Cache-Control", "no-cache");
    sy_http_stream_start(c->req, 200, "text/event-stream");
    sy_http_on_drain(c->req, STREAM_LOW_WATER, on_client_drain, c);
    sim_buf_reset(&s->out);
    /* written with the first batch */
    if (c->api == SIM_API_ANTHROPIC)
        sim_wire_msg_start(&s->out, &c->meta, &c->plan);
    else if (c->plan.tool_call)
        sim_wire_chunk_tool_start(&s->out, &c->meta, &c->plan);
    else
        sim_wire_chunk_role(&s->out, &c->meta);
    call_set_state(c, CALL_STREAM);
}

static void call_run(evutil_socket_t fd, short what, void *arg)
{
    sim_call *c = arg;
    sim_server *s = c->srv;
    (void)fd;
    (void)what;

    if (c->client_gone) {
        s->stats.client_gone++;
        sy_log(SY_DEBUG, "client gone", "model=%s state=%s", c->meta.model->id,
               call_state_names[c->state]);
        sy_http_abort(c->req); /* detached already: this only frees it */
        call_free(c);
        return;
    }
    switch (c->state) {
    case CALL_WAIT:
        if (c->fault == SIM_FAULT_500) {
            reply_500(s, c->req, c->api);
            call_free(c);
            return;
        }
        if (c->fault == SIM_FAULT_CLOSE || (c->fault == SIM_FAULT_MIDSTREAM && !c->stream)) {
            if (c->fault == SIM_FAULT_CLOSE)
                s->stats.fault_close++;
            else
                s->stats.fault_midstream++;
            sy_http_abort(c->req);
            call_free(c);
            return;
        }
        if (!c->stream) {
            reply_completion(s, c->req, c->api, &c->meta, &c->plan);
            call_free(c);
            return;
        }
        stream_begin(c);
        if (stream_pump(c))
            call_free(c);
        return;
    case CALL_STREAM:
        if (c->want_drain)
            return; /* woken by a timer while blocked: the drain will wake us */
        if (stream_pump(c))
            call_free(c);
        return;
    case CALL_FLUSH:
        if (sy_http_output_pending(c->req) > 0) {
            c->want_drain = 1;
            return;
        }
        s->stats.fault_midstream++;
        sy_http_abort(c->req);
        call_free(c);
        return;
    case CALL_HOLD:
    case CALL_DONE:
        return;
    }
}

/* ---------- endpoints ---------- */

/* X-Sim-Latency-Ms: 0 absent, 1 and *ms, or -1 and msg. */
static int header_latency(sy_http_req *req, double *ms, char *msg, size_t msglen)
{
    const char *v = sy_http_header(req, "X-Sim-Latency-Ms");
    char *end;
    long n;
    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > SIM_LATENCY_MAX_MS || v[0] == '-' || v[0] == '+' ||
        v[0] == ' ') {
        snprintf(msg, msglen,
                 "Invalid X-Sim-Latency-Ms header: '%.32s'. Expected an integer from 0 to %d.", v,
                 SIM_LATENCY_MAX_MS);
        return -1;
    }
    *ms = (double)n;
    return 1;
}

/* X-Sim-Fault: 0 absent, 1 and *f, or -1 and msg. */
static int header_fault(sy_http_req *req, enum sim_fault *f, char *msg, size_t msglen)
{
    const char *v = sy_http_header(req, "X-Sim-Fault");
    if (!v)
        return 0;
    if (sim_fault_parse(v, f)) {
        snprintf(msg, msglen,
                 "Invalid X-Sim-Fault header: '%.32s'. Supported values are: '500', '429', "
                 "'529', 'timeout', 'close', 'midstream', and 'none'.",
                 v);
        return -1;
    }
    return 1;
}

/* A refusal of the request in the shape of api's provider. */
static void refuse(sim_server *s, sy_http_req *req, enum sim_api api, const sim_chat_error *err)
{
    s->stats.invalid++;
    sy_log(SY_DEBUG, "request refused", "api=%s status=%d code=%s param=%s", sim_api_str(api),
           err->status, err->code ? err->code : "null", err->param[0] ? err->param : "null");
    if (api == SIM_API_ANTHROPIC)
        reply_anthropic_error(s, req, err->status, err->type, "%s", err->message);
    else
        sy_http_reply_error(req, err->status, err->type, err->code,
                            err->param[0] ? err->param : NULL, "%s", err->message);
}

/* POST /v1/chat/completions (api OPENAI) and POST /v1/messages (ANTHROPIC). */
static void serve(sim_server *s, sy_http_req *req, enum sim_api api)
{
    sim_chat_req creq;
    sim_chat_error err;
    sim_chat_plan plan;
    sim_wire_meta meta;
    const sim_model *m;
    enum sim_fault fault = SIM_FAULT_NONE;
    double latency_ms = 0;
    size_t len;
    const char *body = sy_http_body(req, &len);
    int fault_set, latency_set, parsed;
    sim_call *c;

    memset(&err, 0, sizeof(err));
    err.status = 400;
    err.type = "invalid_request_error";
    if ((fault_set = header_fault(req, &fault, err.message, sizeof(err.message))) < 0 ||
        (latency_set = header_latency(req, &latency_ms, err.message, sizeof(err.message))) < 0) {
        err.code = "invalid_sim_header";
        refuse(s, req, api, &err);
        return;
    }
    if (api == SIM_API_ANTHROPIC && !sy_http_header(req, "anthropic-version")) {
        /* neither wire checks keys (Authorization, x-api-key): the simulator has none */
        snprintf(err.message, sizeof(err.message), "anthropic-version: header is required");
        refuse(s, req, api, &err);
        return;
    }
    parsed = api == SIM_API_ANTHROPIC ? sim_messages_parse(body, len, &creq, &err)
                                      : sim_chat_parse(body, len, &creq, &err);
    if (parsed) {
        refuse(s, req, api, &err);
        return;
    }
    m = sim_catalog_find(s->cat, creq.model);
    if (!m || m->wire != api) { /* the other wire's model is unknown to this provider */
        err.status = 404;
        if (api == SIM_API_ANTHROPIC) {
            err.type = "not_found_error";
            snprintf(err.message, sizeof(err.message), "model: %s", creq.model);
        } else {
            err.code = "model_not_found";
            snprintf(err.message, sizeof(err.message),
                     "The model `%s` does not exist or you do not have access to it.",
                     creq.model);
        }
        refuse(s, req, api, &err);
        return;
    }
    sim_chat_plan_make(&creq, m, &plan);
    if (!fault_set)
        fault = sim_model_pick_fault(m, &s->prng);
    if (!latency_set)
        latency_ms = sim_model_sample_latency_ms(m, &s->prng);
    if (!creq.stream && m->tokens_per_second > 0 && fault == SIM_FAULT_NONE)
        latency_ms += 1000.0 * plan.completion_tokens / m->tokens_per_second;

    sy_log(SY_DEBUG, "request", "api=%s model=%s stream=%s fault=%s latency_ms=%.1f "
           "prompt_tokens=%d cached_tokens=%d completion_tokens=%d tool_call=%s",
           sim_api_str(api), m->id, creq.stream ? "true" : "false", sim_fault_str(fault),
           latency_ms, plan.prompt_tokens, plan.cached_tokens, plan.completion_tokens,
           plan.tool_call ? plan.tool_name : "null");

    if (fault == SIM_FAULT_429) {
        reply_429(s, req, m, api);
        return;
    }
    if (fault == SIM_FAULT_529) {
        reply_529(s, req, api);
        return;
    }
    new_meta(s, m, api, creq.stream && creq.include_usage, &meta);
    if (fault == SIM_FAULT_NONE && !creq.stream && latency_ms <= 0) {
        reply_completion(s, req, api, &meta, &plan);
        return;
    }

    c = calloc(1, sizeof(*c));
    if (c)
        c->ev = evtimer_new(s->base, call_run, c);
    if (!c || !c->ev) {
        free(c);
        sy_log(SY_ERROR, "out of memory for a call", "model=%s", m->id);
        sy_http_reply_error(req, 500, "server_error", NULL, NULL, "Out of memory.");
        return;
    }
    c->srv = s;
    c->req = req;
    c->state = CALL_WAIT;
    c->fault = fault;
    c->api = api;
    c->stream = creq.stream;
    c->meta = meta;
    c->plan = plan;
    c->abort_after = (plan.tool_call ? sim_chat_args_pieces(&plan)
                                     : plan.completion_tokens / m->tokens_per_chunk) / 2;
    if (c->abort_after < 1)
        c->abort_after = 1;
    if (m->tokens_per_second > 0)
        c->chunk_ms = 1000.0 * m->tokens_per_chunk / m->tokens_per_second;
    c->next = s->calls;
    if (s->calls)
        s->calls->prev = c;
    s->calls = c;
    sy_http_on_close(req, on_client_close, c);

    if (fault == SIM_FAULT_TIMEOUT) {
        s->stats.fault_timeout++;
        call_set_state(c, CALL_HOLD);
        return;
    }
    if (latency_ms > 0)
        timer_ms(c, latency_ms);
    else
        call_run(-1, EV_TIMEOUT, c); /* answer (or start the stream) right away */
}

static void reply_json(sy_http_req *req, const char *json)
{
    sy_http_reply(req, 200, "application/json", json, strlen(json));
}

static void model_get(sim_server *s, sy_http_req *req, const char *id)
{
    const sim_model *m = sim_catalog_find(s->cat, id);
    char *json;
    if (!m) {
        s->stats.invalid++;
        sy_http_reply_error(req, 404, "invalid_request_error", "model_not_found", NULL,
                            "The model `%s` does not exist or you do not have access to it.", id);
        return;
    }
    json = sim_wire_model(m, s->started);
    if (!json) {
        sy_http_reply_error(req, 500, "server_error", NULL, NULL, "Out of memory.");
        return;
    }
    reply_json(req, json);
    free(json);
}

static void health(sim_server *s, sy_http_req *req)
{
    sim_buf_reset(&s->out);
    sim_buf_printf(&s->out, "{\"status\":\"ok\",\"models\":%d,\"stats\":{", s->cat->n);
    {
        const char *sep = "";
#define SIM_STAT_JSON(name)                                                                     \
    sim_buf_printf(&s->out, "%s\"" #name "\":%llu", sep, s->stats.name);                        \
    sep = ",";
        SIM_STATS(SIM_STAT_JSON)
#undef SIM_STAT_JSON
    }
    sim_buf_puts(&s->out, "}}");
    if (s->out.failed) {
        sy_http_reply_error(req, 500, "server_error", NULL, NULL, "Out of memory.");
        return;
    }
    sy_http_reply(req, 200, "application/json", s->out.data, s->out.len);
}

static void method_not_allowed(sim_server *s, sy_http_req *req, const char *allowed)
{
    s->stats.invalid++;
    sy_http_add_header(req, "Allow", allowed);
    sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                        "Method %s is not allowed on %s. Allowed: %s.", sy_http_method(req),
                        sy_http_path(req), allowed);
}

enum route { ROUTE_CHAT, ROUTE_MESSAGES, ROUTE_MODELS, ROUTE_MODEL, ROUTE_HEALTH, ROUTE_NOT_FOUND };

static void on_request(sy_http_req *req, void *arg)
{
    static const char *const allow[] = {"POST", "POST", "GET", "GET", "GET", NULL};
    sim_server *s = arg;
    const char *method = sy_http_method(req), *path = sy_http_path(req);
    enum route r;

    s->stats.requests++;
    if (!strcmp(path, "/v1/chat/completions"))
        r = ROUTE_CHAT;
    else if (!strcmp(path, "/v1/messages"))
        r = ROUTE_MESSAGES;
    else if (!strcmp(path, "/v1/models"))
        r = ROUTE_MODELS;
    else if (!strncmp(path, "/v1/models/", 11) && path[11])
        r = ROUTE_MODEL;
    else if (!strcmp(path, "/healthz"))
        r = ROUTE_HEALTH;
    else
        r = ROUTE_NOT_FOUND;

    if ((r == ROUTE_CHAT || r == ROUTE_MESSAGES) && !strcmp(method, "POST")) {
        serve(s, req, r == ROUTE_CHAT ? SIM_API_OPENAI : SIM_API_ANTHROPIC); /* logs its line */
        return;
    }
    /* method and path live in req: log before the reply frees it */
    if (r == ROUTE_NOT_FOUND || strcmp(method, allow[r])) {
        sy_log_kv(SY_DEBUG, "request refused", "method", method, "path", path, "status",
                  r == ROUTE_NOT_FOUND ? "404" : "405", NULL);
        if (r == ROUTE_NOT_FOUND) {
            s->stats.invalid++;
            sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                                "Invalid URL (%s %s)", method, path);
        } else {
            method_not_allowed(s, req, allow[r]);
        }
        return;
    }
    sy_log_kv(SY_DEBUG, "request", "method", method, "path", path, NULL);
    switch (r) {
    case ROUTE_MODELS:
        reply_json(req, s->models_json);
        break;
    case ROUTE_MODEL:
        model_get(s, req, path + 11);
        break;
    case ROUTE_HEALTH:
        health(s, req);
        break;
    case ROUTE_CHAT:
    case ROUTE_MESSAGES:
    case ROUTE_NOT_FOUND:
        break;
    }
}

/* ---------- lifecycle ---------- */

int sim_server_new(struct event_base *base, const sim_catalog *cat, uint64_t seed,
                   sim_server **out)
{
    sim_server *s = calloc(1, sizeof(*s));
    sy_httpd_limits lim;

    *out = NULL;
    if (!s)
        goto fail;
    s->base = base;
    s->cat = cat;
    s->started = (long long)time(NULL);
    sim_prng_seed(&s->prng, seed);
    s->models_json = sim_wire_models(cat, s->started);
    if (!s->models_json)
        goto fail;
    sy_httpd_limits_default(&lim);
    lim.max_conns = 16384;
    s->httpd = sy_httpd_new(base, &lim, on_request, s);
    if (!s->httpd)
        goto fail;
    *out = s;
    return 0;
fail:
    sim_server_free(s);
    return -1;
}

int sim_server_listen(sim_server *s, const char *host, int port, int *bound_port)
{
    return sy_httpd_listen(s->httpd, host, port, 0, bound_port);
}

const sim_stats *sim_server_stats(const sim_server *s)
{
    return &s->stats;
}

void sim_server_shutdown(sim_server *s)
{
    if (s->httpd)
        sy_httpd_stop_accepting(s->httpd);
    while (s->calls) {
        sim_call *c = s->calls;
        if (c->req)
            sy_http_abort(c->req);
        call_free(c);
    }
}

void sim_server_free(sim_server *s)
{
    if (!s)
        return;
    sim_server_shutdown(s);
    sy_httpd_free(s->httpd);
    sim_buf_free(&s->out);
    free(s->models_json);
    free(s);
}
