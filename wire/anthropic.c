/*
 * wire/anthropic: the pieces both directions share (buffers, usage, stop reasons,
 * error shapes) and the buffered answers and errors (see anthropic.h). Requests are in
 * anthropic_req_out.c and anthropic_req_in.c, streams in anthropic_stream.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/anthropic_internal.h"

/* ---------- shared ---------- */

/* back from a cut at len to a UTF-8 sequence boundary */
static size_t utf8_cut(const char *s, size_t len)
{
    while (len && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

const char *wa_clip(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 4)
        n = utf8_cut(s, cap - 4);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return dst;
}

int wa_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n >= (int)errlen) /* cut: not inside a UTF-8 sequence */
            err[utf8_cut(err, errlen - 1)] = '\0';
    }
    return -1;
}

int wa_buf_append(wa_buf *b, const char *p, size_t n)
{
    if (n > WA_BUF_MAX || b->len > WA_BUF_MAX - n)
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void wa_buf_free(wa_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

long long wa_tokens(const json_t *v)
{
    if (!json_is_integer(v))
        return 0;
    json_int_t n = json_integer_value(v);
    return n < 0 ? 0 : n > WA_TOKENS_MAX ? WA_TOKENS_MAX : (long long)n;
}

long long wa_usage_prompt_tokens(const wa_usage *u)
{
    return u->input_tokens + u->cache_read_tokens + u->cache_write_tokens;
}

void wa_usage_from_anthropic(const json_t *usage, wa_usage *u)
{
    const json_t *v;
    if (!json_is_object(usage))
        return;
    if ((v = json_object_get(usage, "input_tokens")))
        u->input_tokens = wa_tokens(v);
    if ((v = json_object_get(usage, "cache_read_input_tokens")))
        u->cache_read_tokens = wa_tokens(v);
    if ((v = json_object_get(usage, "cache_creation_input_tokens")))
        u->cache_write_tokens = wa_tokens(v);
    if ((v = json_object_get(usage, "output_tokens")))
        u->output_tokens = wa_tokens(v);
}

void wa_usage_from_openai(const json_t *usage, wa_usage *u)
{
    if (!json_is_object(usage))
        return;
    long long prompt = wa_tokens(json_object_get(usage, "prompt_tokens"));
    long long cached = wa_tokens(
        json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"));
    if (cached > prompt)
        cached = prompt;
    u->input_tokens = prompt - cached;
    u->cache_read_tokens = cached;
    u->cache_write_tokens = 0;
    u->output_tokens = wa_tokens(json_object_get(usage, "completion_tokens"));
}

json_t *wa_usage_openai_json(const wa_usage *u)
{
    long long prompt = wa_usage_prompt_tokens(u);
    return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", (json_int_t)prompt,
                     "completion_tokens", (json_int_t)u->output_tokens, "total_tokens",
                     (json_int_t)(prompt + u->output_tokens), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)u->cache_read_tokens);
}

json_t *wa_usage_anthropic_json(const wa_usage *u)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)u->input_tokens,
                     "cache_creation_input_tokens", (json_int_t)u->cache_write_tokens,
                     "cache_read_input_tokens", (json_int_t)u->cache_read_tokens,
                     "output_tokens", (json_int_t)u->output_tokens);
}

static int is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

const char *wa_finish_from_stop(const char *stop_reason)
{
    if (is(stop_reason, "max_tokens"))
        return "length";
    if (is(stop_reason, "tool_use"))
        return "tool_calls";
    if (is(stop_reason, "refusal"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn, unknown */
}

const char *wa_stop_from_finish(const char *finish_reason)
{
    if (is(finish_reason, "length"))
        return "max_tokens";
    if (is(finish_reason, "tool_calls") || is(finish_reason, "function_call"))
        return "tool_use";
    if (is(finish_reason, "content_filter"))
        return "refusal";
    return "end_turn"; /* stop (OpenAI does not say which stop sequence), unknown */
}

void wa_copy_id(char *dst, size_t cap, const char *prefix, const char *strip, const char *s,
                const char *fallback)
{
    if (!s || strlen(s) >= WA_ID_MAX)
        s = fallback;
    if (strip && !strncmp(s, strip, strlen(strip)))
        s += strlen(strip);
    snprintf(dst, cap, "%s%s", prefix, s);
}

/* ---------- errors ---------- */

static const char *const anthropic_types[] = {
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
};

/* the static string for an Anthropic error type, NULL when it is not one */
static const char *anthropic_type(const char *t)
{
    for (size_t i = 0; t && i < sizeof(anthropic_types) / sizeof(anthropic_types[0]); i++)
        if (!strcmp(t, anthropic_types[i]))
            return anthropic_types[i];
    return NULL;
}

const char *wa_error_type_for_status(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: break;
    }
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    return "api_error";
}

json_t *wa_error_body(const wa_error *e)
{
    return json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type",
                     e->type ? e->type : "api_error", "message", e->message);
}

/* the OpenAI error type for an Anthropic one */
static const char *openai_type(const char *atype)
{
    if (is(atype, "invalid_request_error") || is(atype, "not_found_error") ||
        is(atype, "request_too_large"))
        return "invalid_request_error";
    if (is(atype, "authentication_error") || is(atype, "permission_error"))
        return atype;
    return "api_error";
}

json_t *wa_openai_error_from_anthropic(const json_t *error, int http_status)
{
    char fallback[64];
    const char *atype = json_string_value(json_object_get(error, "type"));
    const char *msg = json_string_value(json_object_get(error, "message"));
    if (!atype)
        atype = wa_error_type_for_status(http_status);
    if (!msg) {
        if (http_status)
            snprintf(fallback, sizeof(fallback), "provider answered HTTP %d", http_status);
        else
            snprintf(fallback, sizeof(fallback), "provider sent an error");
        msg = fallback;
    }
    return json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", msg, "type",
                     openai_type(atype), "param", "code", atype);
}

json_t *wa_anthropic_error_from_openai(const json_t *error, int http_status, int use_type)
{
    char fallback[64];
    const char *msg = json_is_string(error) ? json_string_value(error)
                                            : json_string_value(json_object_get(error, "message"));
    const char *type = wa_error_type_for_status(http_status);
    if (use_type) {
        type = anthropic_type(json_string_value(json_object_get(error, "type")));
        if (!type)
            type = "api_error";
    }
    if (!msg) {
        if (http_status)
            snprintf(fallback, sizeof(fallback), "upstream answered HTTP %d", http_status);
        else
            snprintf(fallback, sizeof(fallback), "upstream error");
        msg = fallback;
    }
    return json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", type, "message", msg);
}

int wa_error_anthropic_to_openai(const char *body, size_t len, int http_status, json_t **out)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    *out = wa_openai_error_from_anthropic(json_object_get(root, "error"), http_status);
    json_decref(root);
    return *out ? 0 : -1;
}

int wa_error_openai_to_anthropic(const char *body, size_t len, int http_status, json_t **out)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    *out = wa_anthropic_error_from_openai(json_object_get(root, "error"), http_status, 0);
    json_decref(root);
    return *out ? 0 : -1;
}

/* ---------- answers ---------- */

static json_t *load_object(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) { /* not je.text: it may quote bytes that are not UTF-8 */
        wa_fail(err, errlen, "body: not JSON (line %d, column %d)", je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        wa_fail(err, errlen, "body: not a JSON object");
        return NULL;
    }
    return root;
}

int wa_resp_anthropic_to_openai(const char *body, size_t len, long long created, json_t **out,
                                wa_usage *usage, char *err, size_t errlen)
{
    int rc = -1;
    wa_buf text = {0};
    json_t *calls = NULL, *msg = NULL;
    wa_usage u = {0};
    char id[WA_ID_MAX + 16];
    *out = NULL;

    json_t *root = load_object(body, len, err, errlen);
    if (!root)
        return -1;
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *mid = json_string_value(json_object_get(root, "id"));
    const char *model = json_string_value(json_object_get(root, "model"));
    json_t *content = json_object_get(root, "content");
    if (type && strcmp(type, "message")) {
        wa_fail(err, errlen, "type: \"%s\", not a message", WA_CLIP(type));
        goto fail;
    }
    if (!mid) {
        wa_fail(err, errlen, "id: missing or not a string");
        goto fail;
    }
    if (!json_is_array(content)) {
        wa_fail(err, errlen, "content: missing or not an array");
        goto fail;
    }
    int has_text = 0;
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b) {
        const char *bt = json_string_value(json_object_get(b, "type"));
        if (is(bt, "text")) {
            const char *t = json_string_value(json_object_get(b, "text"));
            if (!t) {
                wa_fail(err, errlen, "content[%zu].text: missing or not a string", i);
                goto fail;
            }
            has_text = 1;
            if (wa_buf_append(&text, t, json_string_length(json_object_get(b, "text"))))
                goto oom;
        } else if (is(bt, "tool_use")) {
            const char *tid = json_string_value(json_object_get(b, "id"));
            const char *name = json_string_value(json_object_get(b, "name"));
            json_t *input = json_object_get(b, "input");
            if (!tid || !name) {
                wa_fail(err, errlen, "content[%zu]: tool_use without a string id and name", i);
                goto fail;
            }
            char *args = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            json_t *call = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", tid, "type", "function",
                                     "function", "name", name, "arguments", args ? args : "{}");
            free(args);
            if (!call || (!calls && !(calls = json_array())) || json_array_append_new(calls, call))
                goto oom;
        } /* thinking, redacted_thinking, server tool blocks: not in the OpenAI shape */
    }
    wa_usage_from_anthropic(json_object_get(root, "usage"), &u);
    wa_copy_id(id, sizeof(id), "chatcmpl-", NULL, mid, "anthropic");
    const char *finish =
        wa_finish_from_stop(json_string_value(json_object_get(root, "stop_reason")));
    msg = json_pack("{s:s,s:o}", "role", "assistant", "content",
                    has_text ? json_stringn(text.data ? text.data : "", text.len) : json_null());
    if (!msg)
        goto oom;
    if (calls) {
        int r = json_object_set_new(msg, "tool_calls", calls); /* takes calls, even failing */
        calls = NULL;
        if (r)
            goto oom;
    }
    *out = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s}],s:o}", "id", id, "object",
                     "chat.completion", "created", (json_int_t)created, "model",
                     model ? model : "", "choices", "index", 0, "message", msg,
                     "finish_reason", finish, "usage", wa_usage_openai_json(&u));
    msg = NULL;
    if (!*out)
        goto oom;
    if (usage)
        *usage = u;
    rc = 0;
    goto fail;
oom:
    wa_fail(err, errlen, "out of memory");
fail:
    json_decref(calls);
    json_decref(msg);
    json_decref(root);
    wa_buf_free(&text);
    return rc;
}

/* "" and whitespace count as {}; anything but an object is refused (NULL) */
static json_t *parse_arguments(const char *args)
{
    size_t n = strspn(args, " \t\r\n");
    if (!args[n])
        return json_object();
    json_t *v = json_loads(args, 0, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int wa_resp_openai_to_anthropic(const char *body, size_t len, json_t **out, wa_usage *usage,
                                char *err, size_t errlen)
{
    int rc = -1;
    wa_buf text = {0};
    json_t *blocks = NULL;
    wa_usage u = {0};
    char id[WA_ID_MAX + 16];
    *out = NULL;

    json_t *root = load_object(body, len, err, errlen);
    if (!root)
        return -1;
    json_t *choices = json_object_get(root, "choices");
    json_t *choice = json_array_get(choices, 0);
    json_t *msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        wa_fail(err, errlen, "choices[0].message: missing or not an object");
        goto fail;
    }
    json_t *content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        if (wa_buf_append(&text, json_string_value(content), json_string_length(content)))
            goto oom;
    } else if (json_is_array(content)) { /* text parts, as some providers answer */
        size_t i;
        json_t *p;
        json_array_foreach(content, i, p) {
            json_t *t = json_object_get(p, "text");
            if (json_is_string(t) &&
                wa_buf_append(&text, json_string_value(t), json_string_length(t)))
                goto oom;
        }
    } else if (content && !json_is_null(content)) {
        wa_fail(err, errlen, "choices[0].message.content: not a string, an array or null");
        goto fail;
    }
    if (!(blocks = json_array()))
        goto oom;
    if (text.len && json_array_append_new(blocks, json_pack("{s:s,s:s%}", "type", "text", "text",
                                                              text.data, text.len)))
        goto oom;
    json_t *calls = json_object_get(msg, "tool_calls");
    if (calls && !json_is_null(calls) && !json_is_array(calls)) {
        wa_fail(err, errlen, "choices[0].message.tool_calls: not an array");
        goto fail;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        const char *tid = json_string_value(json_object_get(tc, "id"));
        json_t *fn = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        if (!tid || !name) {
            wa_fail(err, errlen, "choices[0].message.tool_calls[%zu]: id and function.name must "
                    "be strings", i);
            goto fail;
        }
        json_t *input = parse_arguments(args ? args : "");
        if (!input) {
            wa_fail(err, errlen, "choices[0].message.tool_calls[%zu].function.arguments: not a "
                    "JSON object", i);
            goto fail;
        }
        if (json_array_append_new(blocks, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id",
                                                    tid, "name", name, "input", input)))
            goto oom;
    }
    wa_usage_from_openai(json_object_get(root, "usage"), &u);
    wa_copy_id(id, sizeof(id), "msg_", "chatcmpl-", json_string_value(json_object_get(root, "id")),
               "openai");
    const char *model = json_string_value(json_object_get(root, "model"));
    const char *stop =
        wa_stop_from_finish(json_string_value(json_object_get(choice, "finish_reason")));
    *out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:o}", "id", id, "type", "message", "role",
                     "assistant", "model", model ? model : "", "content", blocks, "stop_reason",
                     stop, "stop_sequence", "usage", wa_usage_anthropic_json(&u));
    blocks = NULL;
    if (!*out)
        goto oom;
    if (usage)
        *usage = u;
    rc = 0;
    goto fail;
oom:
    wa_fail(err, errlen, "out of memory");
fail:
    json_decref(blocks);
    json_decref(root);
    wa_buf_free(&text);
    return rc;
}
