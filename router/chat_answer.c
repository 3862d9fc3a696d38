/*
 * chat answers (router/chat.h): an upstream's answer, a stream relayed event by
 * event (STREAM), and the error when nothing is left to try, each in the client's
 * wire. Every path records the request (chat_record) before its answer is written, then
 * releases it (chat_release).
 *
 * Inside, answers are OpenAI's: an Anthropic provider's answer was translated in
 * DISPATCH, its stream events are translated here (a2o) before the OpenAI stage
 * (usage, the usage chunk a client did not ask for); for an Anthropic client the
 * OpenAI answer and events are translated last (o2a), just before they are sent.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/httpd.h"
#include "router/chat.h"
#include "router/metrics.h"

static const char *const fallback_names[] = {
    [CHAT_CAND_CHOSEN] = NULL, [CHAT_CAND_TIER] = "tier", [CHAT_CAND_DEFAULT] = "default"};

/* a's model answers: the event says which, and whether it was a fallback */
static void served_by(chat *c, const attempt *a)
{
    c->model = a->model;
    c->ev.served_model = chat_model(c, a->model)->name;
    c->ev.provider = chat_provider_name(c, a->model);
    c->ev.fallback = fallback_names[a->kind];
    if (a->kind == CHAT_CAND_DEFAULT)
        rt_metrics_inc(c->ctx->metrics, RT_C_fallback_default);
}

static void set_usage(chat *c, const exp_usage *u)
{
    c->ev.tokens_in = u->in;
    c->ev.tokens_out = u->out;
    c->ev.cached_tokens = u->cached;
    c->ev.cache_write_tokens = u->cache_write;
}

/* The cost of the answer, and what the default model would have cost for the
 * same tokens (cached ones at its cached price: the same prompt, the same cache). */
static void bill(chat *c, const exp_usage *u)
{
    c->ev.cost_usd += exp_usage_cost(chat_model(c, c->model), u);
    c->ev.baseline_cost_usd = exp_usage_cost(chat_model(c, c->conf->cfg->default_model), u);
}

/* An OpenAI answer (or error) body in Anthropic's wire, malloc'd; NULL if it cannot be. */
static char *to_anthropic(int status, const char *body, size_t len, int ok)
{
    json_t *out;
    char err[256];
    int rc = ok ? wa_resp_openai_to_anthropic(body, len, &out, NULL, err, sizeof(err))
                : wa_error_openai_to_anthropic(body, len, status, &out);
    if (rc)
        return NULL;
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

void chat_answer(chat *c, const attempt *a, int status, const char *body, size_t len,
                 const exp_usage *u, int ok)
{
    served_by(c, a);
    set_usage(c, u);
    bill(c, u);
    chat_add_route_headers(c);
    if (c->inbound == EXP_WIRE_ANTHROPIC) {
        char *text = to_anthropic(status, body, len, ok);
        if (!text) {
            chat_record(c, 502, "untranslatable_answer");
            chat_reply_error(c, 502, "api_error", "upstream_error", NULL,
                             "the provider's answer cannot be given in the Messages format");
            chat_release(c);
            return;
        }
        chat_record(c, status, ok ? NULL : "provider_rejected_request");
        sy_http_reply(c->http, status, "application/json", text, strlen(text));
        free(text);
    } else {
        chat_record(c, status, ok ? NULL : "provider_rejected_request");
        sy_http_reply(c->http, status, "application/json", body, len);
    }
    chat_release(c);
}

/* ---------- streaming ---------- */

/* To the client: one OpenAI SSE event, or what it becomes in Anthropic's wire. */
static void client_event(chat *c, const char *ev, size_t len)
{
    if (c->inbound == EXP_WIRE_OPENAI) {
        sy_http_stream_write(c->http, ev, len);
        sy_http_stream_write(c->http, "\n\n", 2);
        return;
    }
    struct chat_wires *w = c->wires;
    if (wa_stream_o2a_event(&w->o2a, ev, len, &w->o2a_out) == 0 && w->o2a_out.len)
        sy_http_stream_write(c->http, w->o2a_out.data, w->o2a_out.len);
    w->o2a_out.len = 0;
}

/* One complete OpenAI SSE event (without its blank-line terminator). Usage is
 * captured for cost; the usage-only chunk is dropped if an OpenAI client did not
 * ask for it (we always ask the provider, so cost is never unknown). */
static void openai_event(chat *c, const char *ev, size_t len)
{
    int forward = 1;
    if (len > 6 && !memcmp(ev, "data: ", 6) && memmem(ev, len, "\"usage\"", 7)) {
        json_t *root = json_loadb(ev + 6, len - 6, 0, NULL);
        json_t *u = root ? json_object_get(root, "usage") : NULL;
        if (json_is_object(u)) {
            c->ev.tokens_in = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
            c->ev.tokens_out = (long)json_integer_value(json_object_get(u, "completion_tokens"));
            c->ev.cached_tokens = (long)json_integer_value(
                json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
            json_t *choices = json_object_get(root, "choices");
            if (!c->client_wants_usage && c->inbound == EXP_WIRE_OPENAI &&
                json_is_array(choices) && json_array_size(choices) == 0)
                forward = 0;
        }
        json_decref(root);
    }
    if (forward)
        client_event(c, ev, len);
}

/* One complete SSE event of the streaming attempt, in its provider's wire. */
static void stream_event(chat *c, const char *ev, size_t len)
{
    if (c->streaming->wire == EXP_WIRE_OPENAI) {
        openai_event(c, ev, len);
        return;
    }
    struct chat_wires *w = c->wires;
    if (wa_stream_a2o_event(&w->a2o, ev, len, &w->a2o_out) == 0) {
        /* the translation's events, each ending in a blank line */
        size_t start = 0;
        char *end;
        while ((end = memmem(w->a2o_out.data + start, w->a2o_out.len - start, "\n\n", 2))) {
            size_t elen = (size_t)(end - (w->a2o_out.data + start));
            openai_event(c, w->a2o_out.data + start, elen);
            start += elen + 2;
        }
    }
    w->a2o_out.len = 0;
    /* Anthropic's counts are exact, cache writes included: they win over the chunk's */
    c->ev.tokens_in = (long)wa_usage_prompt_tokens(&w->a2o.usage);
    c->ev.tokens_out = (long)w->a2o.usage.output_tokens;
    c->ev.cached_tokens = (long)w->a2o.usage.cache_read_tokens;
    c->ev.cache_write_tokens = (long)w->a2o.usage.cache_write_tokens;
}

static void on_client_drained(sy_http_req *req, void *arg)
{
    chat *c = arg;
    (void)req;
    sy_http_on_drain(c->http, 0, NULL, NULL);
    if (c->state == CHAT_STREAM && c->streaming->call)
        rt_call_resume(c->streaming->call);
}

int chat_on_upstream_data(const char *data, size_t len, void *arg)
{
    attempt *a = arg;
    chat *c = a->c;
    rt_ctx *ctx = c->ctx;
    if (c->state == CHAT_DISPATCH) { /* the first bytes: the answer starts */
        if (a->wire != EXP_WIRE_OPENAI || c->inbound != EXP_WIRE_OPENAI) {
            if (!(c->wires = calloc(1, sizeof(*c->wires))))
                return -1; /* the attempt fails before any byte went out */
            wa_stream_a2o_init(&c->wires->a2o, sy_clock_wall_us() / 1000000, 1);
            wa_stream_o2a_init(&c->wires->o2a);
        }
        chat_set_state(c, CHAT_STREAM);
        c->streaming = a;
        served_by(c, a);
        chat_add_route_headers(c);
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

void chat_stream_done(chat *c, const rt_call_result *res)
{
    const exp_model *m = chat_model(c, c->model);
    if (c->sse_len)
        stream_event(c, c->sse, c->sse_len); /* an unterminated last event */
    exp_usage u = {c->ev.tokens_in, c->ev.tokens_out, c->ev.cached_tokens,
                   c->ev.cache_write_tokens};
    bill(c, &u);
    int failed_in_band = c->streaming->wire == EXP_WIRE_ANTHROPIC && c->wires->a2o.failed;
    if (res->status == RT_CALL_OK && !failed_in_band) {
        chat_record(c, 200, NULL);
        sy_http_stream_end(c->http);
        chat_release(c);
        return;
    }
    if (failed_in_band) { /* the provider's error event was passed on, translated */
        chat_record(c, 502, "upstream_failed_mid_stream");
        sy_http_stream_end(c->http);
        chat_release(c);
        return;
    }
    /* The status line is gone; tell the client in-band, as providers do. */
    char msg[512];
    if (c->inbound == EXP_WIRE_OPENAI)
        snprintf(msg, sizeof(msg),
                 "data: {\"error\":{\"message\":\"provider %s failed mid-stream for model %s\","
                 "\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n",
                 chat_provider_name(c, c->model), m->name);
    else
        snprintf(msg, sizeof(msg),
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                 "\"message\":\"provider %s failed mid-stream for model %s\"}}\n\n",
                 chat_provider_name(c, c->model), m->name);
    chat_record(c, 502, res->status == RT_CALL_TIMEOUT ? "upstream_timeout_mid_stream"
                                                       : "upstream_failed_mid_stream");
    sy_http_stream_write(c->http, msg, strlen(msg));
    sy_http_stream_end(c->http);
    chat_release(c);
}

/* Nothing left to try: answer with the last failure. */
void chat_reply_failure(chat *c)
{
    char msg[512];
    int status = 502;
    const char *code = "upstream_error";
    const char *model = chat_model(c, c->model)->name;
    const char *prov = chat_provider_name(c, c->model);
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
    size_t n = strlen(msg);
    if (c->ntried > 1)
        snprintf(msg + n, sizeof(msg) - n, " (after %d attempts: %s)", c->ev.attempts, c->tried);
    else if (c->ev.attempts > 1)
        snprintf(msg + n, sizeof(msg) - n, " (after %d attempts)", c->ev.attempts);
    chat_add_route_headers(c);
    chat_record(c, status, code);
    chat_reply_error(c, status, "api_error", code, NULL, msg);
    chat_release(c);
}

