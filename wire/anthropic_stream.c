/*
 * wire/anthropic_stream: the two SSE translators (see anthropic.h), one complete event
 * block in, zero or more events out. Any bytes are safe: a block that is not what the
 * direction expects is counted and dropped. The state is a fixed-size struct; what one
 * call appends is bounded by a constant plus a multiple of its input.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/anthropic_internal.h"

static int is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

/* ---------- SSE blocks ---------- */

/* One event block's "event:" name (cut at 31 bytes) and its data lines joined by "\n"
 * (the SSE rule). Other fields and comments are skipped. */
struct sse {
    char event[32];
    wa_buf data;
    int has_data;
};

static int sse_parse(const char *p, size_t len, struct sse *ev)
{
    if (!len)
        return 0; /* (p may be NULL then) */
    const char *lim = p + len;
    while (p < lim) {
        const char *nl = memchr(p, '\n', (size_t)(lim - p));
        const char *end = nl ? nl : lim;
        const char *line_end = end > p && end[-1] == '\r' ? end - 1 : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && colon > p) {
            const char *v = colon + 1;
            if (v < line_end && *v == ' ')
                v++;
            size_t klen = (size_t)(colon - p), vlen = (size_t)(line_end - v);
            if (klen == 5 && !memcmp(p, "event", 5)) {
                size_t n = vlen < sizeof(ev->event) - 1 ? vlen : sizeof(ev->event) - 1;
                memcpy(ev->event, v, n);
                ev->event[n] = '\0';
            } else if (klen == 4 && !memcmp(p, "data", 4)) {
                if ((ev->has_data && wa_buf_append(&ev->data, "\n", 1)) ||
                    wa_buf_append(&ev->data, v, vlen))
                    return -1;
                ev->has_data = 1;
            }
        }
        p = nl ? nl + 1 : lim;
    }
    return 0;
}

/* Appends "event: NAME\ndata: JSON\n\n" (or "data: JSON\n\n" without a name); takes
 * data, which may be NULL (out of memory). */
static int emit(wa_buf *out, const char *name, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    int rc = -1;
    json_decref(data);
    if (!s)
        return -1;
    if (name && (wa_buf_append(out, "event: ", 7) || wa_buf_append(out, name, strlen(name)) ||
                 wa_buf_append(out, "\n", 1)))
        goto done;
    if (wa_buf_append(out, "data: ", 6) || wa_buf_append(out, s, strlen(s)) ||
        wa_buf_append(out, "\n\n", 2))
        goto done;
    rc = 0;
done:
    free(s);
    return rc;
}

/* the data as a JSON object, NULL when it is not one */
static json_t *load(const struct sse *ev)
{
    if (!ev->has_data)
        return NULL;
    json_t *d = json_loadb(ev->data.data ? ev->data.data : "", ev->data.len, 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ======================= Anthropic -> OpenAI ======================= */

void wa_stream_a2o_init(wa_stream_a2o *st, long long created, int include_usage)
{
    memset(st, 0, sizeof(*st));
    st->created = created;
    st->include_usage = include_usage;
    st->block_index = -1;
}

/* a chat.completion.chunk with one choice; takes delta */
static json_t *chunk(const wa_stream_a2o *st, json_t *delta, const char *finish)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o}]}", "id", st->id, "object",
                     "chat.completion.chunk", "created", (json_int_t)st->created, "model",
                     st->model, "choices", "index", 0, "delta", delta, "finish_reason",
                     finish ? json_string(finish) : json_null());
}

static int a2o_finish(wa_stream_a2o *st, const char *finish, wa_buf *out)
{
    st->finish_reason = finish;
    return emit(out, NULL, chunk(st, json_object(), finish));
}

static int a2o_start(wa_stream_a2o *st, const json_t *d, wa_buf *out)
{
    json_t *m = json_object_get(d, "message");
    if (!json_is_object(m))
        return 1;
    wa_copy_id(st->id, sizeof(st->id), "chatcmpl-", NULL,
               json_string_value(json_object_get(m, "id")), "anthropic");
    wa_copy_id(st->model, sizeof(st->model), "", NULL,
               json_string_value(json_object_get(m, "model")), "");
    wa_usage_from_anthropic(json_object_get(m, "usage"), &st->usage);
    st->started = 1;
    return emit(out, NULL, chunk(st, json_pack("{s:s,s:s}", "role", "assistant", "content", ""),
                                 NULL));
}

/* content_block_start: a tool_use block opens tool call k */
static int a2o_block_start(wa_stream_a2o *st, const json_t *d, wa_buf *out)
{
    json_t *idx = json_object_get(d, "index");
    json_t *cb = json_object_get(d, "content_block");
    const char *type = json_string_value(json_object_get(cb, "type"));
    if (!json_is_integer(idx) || !type)
        return 1;
    st->block_index = json_integer_value(idx);
    st->block_is_tool = 0;
    if (!is(type, "tool_use"))
        return 0; /* text: its deltas say it all; thinking and the rest: not shown */
    const char *id = json_string_value(json_object_get(cb, "id"));
    const char *name = json_string_value(json_object_get(cb, "name"));
    if (!id || !name || st->ntools == INT_MAX) {
        st->block_index = -1;
        return 1;
    }
    st->block_is_tool = 1;
    int k = st->ntools++;
    return emit(out, NULL,
                chunk(st,
                      json_pack("{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}", "tool_calls", "index", k, "id",
                                id, "type", "function", "function", "name", name, "arguments",
                                ""),
                      NULL));
}

static int a2o_block_delta(wa_stream_a2o *st, const json_t *d, wa_buf *out)
{
    json_t *delta = json_object_get(d, "delta");
    const char *type = json_string_value(json_object_get(delta, "type"));
    json_t *idx = json_object_get(d, "index");
    if (is(type, "text_delta")) {
        json_t *t = json_object_get(delta, "text");
        if (!json_is_string(t))
            return 1;
        if (!json_string_length(t))
            return 0;
        return emit(out, NULL, chunk(st, json_pack("{s:O}", "content", t), NULL));
    }
    if (is(type, "input_json_delta")) {
        json_t *pj = json_object_get(delta, "partial_json");
        if (!json_is_string(pj) || !st->block_is_tool || !json_is_integer(idx) ||
            json_integer_value(idx) != st->block_index)
            return 1;
        if (!json_string_length(pj))
            return 0;
        return emit(out, NULL,
                    chunk(st,
                          json_pack("{s:[{s:i,s:{s:O}}]}", "tool_calls", "index",
                                    st->ntools - 1, "function", "arguments", pj),
                          NULL));
    }
    return 0; /* thinking_delta, signature_delta, citations_delta, ... */
}

int wa_stream_a2o_event(wa_stream_a2o *st, const char *block, size_t len, wa_buf *out)
{
    struct sse ev = {{0}, {0}, 0};
    json_t *d = NULL;
    int rc = 0;
    if (st->finished || st->failed)
        return 0;
    if (sse_parse(block, len, &ev)) {
        rc = -1;
        goto done;
    }
    if (!ev.has_data)
        goto done; /* a comment or a bare event line: keep-alives */
    if (!(d = load(&ev))) {
        rc = 1;
        goto done;
    }
    const char *type = json_string_value(json_object_get(d, "type"));
    if (!type)
        type = ev.event;
    if (is(type, "error")) {
        st->failed = 1;
        rc = emit(out, NULL, wa_openai_error_from_anthropic(json_object_get(d, "error"), 0));
    } else if (is(type, "ping")) {
        /* keep-alive */
    } else if (is(type, "message_start")) {
        rc = st->started ? 1 : a2o_start(st, d, out);
    } else if (!st->started) {
        rc = 1; /* nothing before message_start */
    } else if (is(type, "content_block_start")) {
        rc = a2o_block_start(st, d, out);
    } else if (is(type, "content_block_delta")) {
        rc = a2o_block_delta(st, d, out);
    } else if (is(type, "content_block_stop")) {
        json_t *idx = json_object_get(d, "index");
        if (json_is_integer(idx) && json_integer_value(idx) == st->block_index)
            st->block_index = -1;
    } else if (is(type, "message_delta")) {
        wa_usage_from_anthropic(json_object_get(d, "usage"), &st->usage);
        json_t *sr = json_object_get(json_object_get(d, "delta"), "stop_reason");
        if (json_is_string(sr) && !st->finish_reason)
            rc = a2o_finish(st, wa_finish_from_stop(json_string_value(sr)), out);
    } else if (is(type, "message_stop")) {
        if (!st->finish_reason)
            rc = a2o_finish(st, "stop", out);
        if (!rc && st->include_usage) {
            json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", st->id, "object",
                                  "chat.completion.chunk", "created", (json_int_t)st->created,
                                  "model", st->model, "choices", "usage",
                                  wa_usage_openai_json(&st->usage));
            rc = emit(out, NULL, c);
        }
        if (!rc)
            rc = wa_buf_append(out, "data: [DONE]\n\n", 14);
        st->finished = 1;
    } /* unknown types: a newer API's; nothing to say */
done:
    if (rc > 0) {
        st->ignored++;
        rc = 0;
    }
    json_decref(d);
    wa_buf_free(&ev.data);
    return rc;
}

/* ======================= OpenAI -> Anthropic ======================= */

void wa_stream_o2a_init(wa_stream_o2a *st)
{
    memset(st, 0, sizeof(*st));
    st->tool_index = -1;
}

static int o2a_start(wa_stream_o2a *st, const json_t *d, wa_buf *out)
{
    wa_copy_id(st->id, sizeof(st->id), "msg_", "chatcmpl-",
               json_string_value(json_object_get(d, "id")), "openai");
    wa_copy_id(st->model, sizeof(st->model), "", NULL,
               json_string_value(json_object_get(d, "model")), "");
    st->started = 1;
    return emit(out, "message_start",
                json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:o}}", "type", "message_start",
                          "message", "id", st->id, "type", "message", "role", "assistant",
                          "model", st->model, "content", "stop_reason", "stop_sequence", "usage",
                          wa_usage_anthropic_json(&st->usage)));
}

static int o2a_close(wa_stream_o2a *st, wa_buf *out)
{
    if (!st->block_open)
        return 0;
    st->block_open = 0;
    return emit(out, "content_block_stop",
                json_pack("{s:s,s:i}", "type", "content_block_stop", "index", st->nblocks - 1));
}

/* closes the open block and opens a new one; 1 when no more blocks fit */
static int o2a_open(wa_stream_o2a *st, int kind, json_t *content_block, wa_buf *out)
{
    if (st->nblocks == INT_MAX || o2a_close(st, out)) {
        json_decref(content_block);
        return st->nblocks == INT_MAX ? 1 : -1;
    }
    st->block_open = kind;
    return emit(out, "content_block_start",
                json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index", st->nblocks++,
                          "content_block", content_block));
}

static int o2a_delta(wa_stream_o2a *st, json_t *delta, wa_buf *out)
{
    return emit(out, "content_block_delta",
                json_pack("{s:s,s:i,s:o}", "type", "content_block_delta", "index",
                          st->nblocks - 1, "delta", delta));
}

static int o2a_tool_call(wa_stream_o2a *st, const json_t *tc, wa_buf *out)
{
    json_t *jidx = json_object_get(tc, "index");
    json_t *fn = json_object_get(tc, "function");
    const char *id = json_string_value(json_object_get(tc, "id"));
    json_t *args = json_object_get(fn, "arguments");
    long long idx = json_is_integer(jidx) ? json_integer_value(jidx)
                    : id                  ? st->tool_index + 1 /* no index: an id starts one */
                                          : st->tool_index;
    int rc = 0;
    if (idx < 0 || idx > INT_MAX || idx < st->tool_index)
        return 1; /* (so tool_index + 1 never overflows) */
    if (idx > st->tool_index) {
        char fallback[32];
        const char *name = json_string_value(json_object_get(fn, "name"));
        snprintf(fallback, sizeof(fallback), "toolu_%lld", idx);
        rc = o2a_open(st, 2,
                      json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id", id ? id : fallback,
                                "name", name ? name : "", "input"),
                      out);
        if (rc)
            return rc;
        st->tool_index = idx;
    } else if (st->block_open != 2) {
        return 1; /* its block was closed (text came between): the rest cannot follow */
    }
    if (json_is_string(args) && json_string_length(args))
        rc = o2a_delta(st, json_pack("{s:s,s:O}", "type", "input_json_delta", "partial_json", args),
                       out);
    return rc;
}

static int o2a_chunk(wa_stream_o2a *st, const json_t *d, wa_buf *out)
{
    int rc = 0;
    wa_usage_from_openai(json_object_get(d, "usage"), &st->usage);
    if (!st->started && (rc = o2a_start(st, d, out)))
        return rc;
    json_t *choice = json_array_get(json_object_get(d, "choices"), 0);
    json_t *delta = json_object_get(choice, "delta");
    json_t *content = json_object_get(delta, "content");
    json_t *calls = json_object_get(delta, "tool_calls");
    json_t *finish = json_object_get(choice, "finish_reason");
    if (json_is_string(content) && json_string_length(content)) {
        if (st->block_open != 1 &&
            (rc = o2a_open(st, 1, json_pack("{s:s,s:s}", "type", "text", "text", ""), out)))
            return rc;
        if ((rc = o2a_delta(st, json_pack("{s:s,s:O}", "type", "text_delta", "text", content),
                            out)))
            return rc;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        int r = o2a_tool_call(st, tc, out);
        if (r < 0)
            return r;
        if (r > 0)
            rc = 1;
    }
    if (json_is_string(finish)) {
        st->stop_reason = wa_stop_from_finish(json_string_value(finish));
        if (o2a_close(st, out))
            return -1;
    }
    return rc;
}

static int o2a_done(wa_stream_o2a *st, wa_buf *out)
{
    int rc = 0;
    if (!st->started)
        rc = o2a_start(st, NULL, out);
    if (!rc)
        rc = o2a_close(st, out);
    if (!rc)
        rc = emit(out, "message_delta",
                  json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta",
                            "stop_reason", st->stop_reason ? st->stop_reason : "end_turn",
                            "stop_sequence", "usage", wa_usage_anthropic_json(&st->usage)));
    if (!rc)
        rc = emit(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    st->finished = 1;
    return rc;
}

int wa_stream_o2a_event(wa_stream_o2a *st, const char *block, size_t len, wa_buf *out)
{
    struct sse ev = {{0}, {0}, 0};
    json_t *d = NULL;
    int rc = 0;
    if (st->finished || st->failed)
        return 0;
    if (sse_parse(block, len, &ev)) {
        rc = -1;
        goto done;
    }
    if (ev.has_data && ev.data.len == 6 && !memcmp(ev.data.data, "[DONE]", 6)) {
        rc = o2a_done(st, out);
        goto done;
    }
    if (!ev.has_data)
        goto done; /* a comment: a keep-alive */
    if (!(d = load(&ev))) {
        rc = 1;
        goto done;
    }
    json_t *error = json_object_get(d, "error");
    if (error && !json_is_null(error)) {
        st->failed = 1;
        rc = emit(out, "error", wa_anthropic_error_from_openai(error, 0, 1));
    } else {
        rc = o2a_chunk(st, d, out);
    }
done:
    if (rc > 0) {
        st->ignored++;
        rc = 0;
    }
    json_decref(d);
    wa_buf_free(&ev.data);
    return rc;
}
