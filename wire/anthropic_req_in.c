/*
 * wire/anthropic_req_in: the inbound request, a client's POST /v1/messages body checked
 * as the Messages API checks it and turned into the chat.completions body the router
 * works with (wa_req_anthropic_to_openai). Messages are Anthropic's (pydantic's) words:
 * "<dotted path>: Field required", "... Input should be a valid string".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/anthropic_internal.h"

static int is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static int bad(wa_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(wa_error *e, const char *fmt, ...)
{
    va_list ap;
    e->status = 400;
    e->type = "invalid_request_error";
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int nomem(wa_error *e)
{
    e->status = 500;
    e->type = "api_error";
    snprintf(e->message, sizeof(e->message), "out of memory");
    return -1;
}

#define TAG_ERR "Input tag '%s' found using 'type' does not match any of the expected tags: "

/* a block's "type": the string, or NULL after setting the error */
static const char *block_type(wa_error *e, const json_t *blk, const char *path)
{
    if (!json_is_object(blk)) {
        bad(e, "%s: Input should be a valid dictionary", path);
        return NULL;
    }
    json_t *t = json_object_get(blk, "type");
    if (!t)
        bad(e, "%s.type: Field required", path);
    else if (!json_is_string(t))
        bad(e, "%s.type: Input should be a valid string", path);
    return json_string_value(t);
}

/* blk[key] must be a string: the value, or NULL after setting the error */
static const char *need_string(wa_error *e, const json_t *blk, const char *key, const char *path)
{
    json_t *v = json_object_get(blk, key);
    if (!v)
        bad(e, "%s.%s: Field required", path, key);
    else if (!json_is_string(v))
        bad(e, "%s.%s: Input should be a valid string", path, key);
    return json_string_value(v);
}

/* a text block -> the text (NULL on error) */
static json_t *text_of(wa_error *e, const json_t *blk, const char *path)
{
    return need_string(e, blk, "text", path) ? json_object_get(blk, "text") : NULL;
}

/* an image block -> an image_url part */
static json_t *image_part(wa_error *e, const json_t *blk, const char *path)
{
    char spath[96];
    json_t *src = json_object_get(blk, "source");
    snprintf(spath, sizeof(spath), "%s.source", path);
    if (!src) {
        bad(e, "%s: Field required", spath);
        return NULL;
    }
    const char *st = block_type(e, src, spath);
    if (!st)
        return NULL;
    json_t *part = NULL;
    if (is(st, "base64")) {
        const char *mt = json_string_value(json_object_get(src, "media_type"));
        const char *data = need_string(e, src, "data", spath);
        if (!is(mt, "image/jpeg") && !is(mt, "image/png") && !is(mt, "image/gif") &&
            !is(mt, "image/webp")) {
            bad(e, "%s.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
                   "'image/webp'", spath);
            return NULL;
        }
        if (!data)
            return NULL;
        size_t n = strlen(mt) + strlen(data) + 16;
        char *url = malloc(n);
        if (!url) {
            nomem(e);
            return NULL;
        }
        snprintf(url, n, "data:%s;base64,%s", mt, data);
        part = json_pack("{s:s,s:{s:s}}", "type", "image_url", "image_url", "url", url);
        free(url);
    } else if (is(st, "url")) {
        const char *url = need_string(e, src, "url", spath);
        if (!url)
            return NULL;
        part = json_pack("{s:s,s:{s:s}}", "type", "image_url", "image_url", "url", url);
    } else {
        bad(e, "%s.type: " TAG_ERR "'base64', 'url'", spath, WA_CLIP(st));
        return NULL;
    }
    if (!part)
        nomem(e);
    return part;
}

/* system: a string or text blocks -> one string (NULL when empty or on error: *failed) */
static json_t *system_text(wa_error *e, const json_t *sys, int *failed)
{
    *failed = 0;
    if (!sys || json_is_null(sys))
        return NULL;
    if (json_is_string(sys))
        return json_string_length(sys) ? json_incref((json_t *)sys) : NULL;
    if (!json_is_array(sys)) {
        *failed = bad(e, "system: Input should be a valid string or a list of text blocks");
        return NULL;
    }
    wa_buf text = {0};
    size_t i;
    json_t *blk;
    char path[32];
    json_array_foreach(sys, i, blk) {
        snprintf(path, sizeof(path), "system.%zu", i);
        const char *t = block_type(e, blk, path);
        json_t *s = t ? text_of(e, blk, path) : NULL;
        if (t && !is(t, "text")) {
            bad(e, "%s.type: " TAG_ERR "'text'", path, WA_CLIP(t));
            s = NULL;
        }
        if (!s || (i && wa_buf_append(&text, "\n\n", 2)) ||
            wa_buf_append(&text, json_string_value(s), json_string_length(s))) {
            if (s)
                nomem(e);
            wa_buf_free(&text);
            *failed = -1;
            return NULL;
        }
    }
    json_t *r = text.len ? json_stringn(text.data, text.len) : NULL;
    if (text.len && !r)
        *failed = nomem(e);
    wa_buf_free(&text);
    return r;
}

/* a tool_result block -> {role:"tool", tool_call_id, content} */
static json_t *tool_message(wa_error *e, const json_t *blk, const char *path)
{
    char cpath[112];
    const char *id = need_string(e, blk, "tool_use_id", path);
    json_t *c = json_object_get(blk, "content");
    json_t *content;
    if (!id)
        return NULL;
    if (!c || json_is_null(c)) {
        content = json_string("");
    } else if (json_is_string(c)) {
        content = json_incref(c);
    } else if (json_is_array(c)) {
        content = json_array();
        size_t i;
        json_t *cb;
        json_array_foreach(c, i, cb) {
            snprintf(cpath, sizeof(cpath), "%s.content.%zu", path, i);
            const char *t = block_type(e, cb, cpath);
            json_t *s = NULL;
            if (t && !is(t, "text"))
                bad(e, "%s.type: only text blocks are supported in tool_result content here",
                    cpath);
            else if (t)
                s = text_of(e, cb, cpath);
            if (!s) {
                json_decref(content);
                return NULL;
            }
            if (json_array_append_new(content, json_pack("{s:s,s:O}", "type", "text", "text", s))) {
                json_decref(content);
                nomem(e);
                return NULL;
            }
        }
    } else {
        bad(e, "%s.content: Input should be a valid string or a list of content blocks", path);
        return NULL;
    }
    json_t *m = json_pack("{s:s,s:s,s:o}", "role", "tool", "tool_call_id", id, "content", content);
    if (!m)
        nomem(e);
    return m;
}

/* a tool_use block -> an OpenAI tool call */
static json_t *tool_call(wa_error *e, const json_t *blk, const char *path)
{
    const char *id = need_string(e, blk, "id", path);
    const char *name = id ? need_string(e, blk, "name", path) : NULL;
    json_t *input = json_object_get(blk, "input");
    if (!name)
        return NULL;
    if (!input) {
        bad(e, "%s.input: Field required", path);
        return NULL;
    }
    if (!json_is_object(input)) {
        bad(e, "%s.input: Input should be a valid dictionary", path);
        return NULL;
    }
    char *args = json_dumps(input, JSON_COMPACT);
    json_t *tc = args ? json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "type", "function",
                                  "function", "name", name, "arguments", args)
                      : NULL;
    free(args);
    if (!tc)
        nomem(e);
    return tc;
}

/* one Anthropic message -> one or more OpenAI messages appended to out */
static int message_a2o(wa_error *e, const json_t *m, size_t idx, json_t *out)
{
    char path[32], bpath[64];
    snprintf(path, sizeof(path), "messages.%zu", idx);
    if (!json_is_object(m))
        return bad(e, "%s: Input should be a valid dictionary", path);
    json_t *r = json_object_get(m, "role");
    json_t *c = json_object_get(m, "content");
    const char *role = json_string_value(r);
    if (!r)
        return bad(e, "%s.role: Field required", path);
    if (!is(role, "user") && !is(role, "assistant"))
        return bad(e, "%s.role: Input should be 'user' or 'assistant'", path);
    if (!c)
        return bad(e, "%s.content: Field required", path);
    if (json_is_string(c))
        return json_array_append_new(out, json_pack("{s:s,s:O}", "role", role, "content", c))
                   ? nomem(e)
                   : 0;
    if (!json_is_array(c))
        return bad(e, "%s.content: Input should be a valid list", path);

    int user = is(role, "user");
    int rc = -1;
    json_t *parts = json_array(), *calls = json_array();
    wa_buf text = {0};
    int has_text = 0;
    size_t i;
    json_t *blk;
    if (!parts || !calls) {
        nomem(e);
        goto fail;
    }
    json_array_foreach(c, i, blk) {
        snprintf(bpath, sizeof(bpath), "%s.content.%zu", path, i);
        const char *t = block_type(e, blk, bpath);
        json_t *v = NULL;
        if (!t)
            goto fail;
        if (is(t, "text")) {
            json_t *s = text_of(e, blk, bpath);
            if (!s)
                goto fail;
            if (!user) {
                has_text = 1;
                if (wa_buf_append(&text, json_string_value(s), json_string_length(s))) {
                    nomem(e);
                    goto fail;
                }
                continue;
            }
            v = json_pack("{s:s,s:O}", "type", "text", "text", s);
        } else if (is(t, "image")) {
            if (!user) {
                bad(e, "%s: image blocks are only allowed in user messages", bpath);
                goto fail;
            }
            if (!(v = image_part(e, blk, bpath)))
                goto fail;
        } else if (is(t, "tool_result")) {
            if (!user) {
                bad(e, "%s: tool_result blocks are only allowed in user messages", bpath);
                goto fail;
            }
            /* tool messages go first: OpenAI wants them right after the tool calls */
            json_t *tm = tool_message(e, blk, bpath);
            if (!tm)
                goto fail;
            if (json_array_append_new(out, tm)) {
                nomem(e);
                goto fail;
            }
            continue;
        } else if (is(t, "tool_use")) {
            if (user) {
                bad(e, "%s: tool_use blocks are only allowed in assistant messages", bpath);
                goto fail;
            }
            if (!(v = tool_call(e, blk, bpath)))
                goto fail;
            if (json_array_append_new(calls, v)) {
                nomem(e);
                goto fail;
            }
            continue;
        } else if (is(t, "thinking") || is(t, "redacted_thinking")) {
            continue; /* the OpenAI shape has no place for them */
        } else {
            bad(e, "%s.type: " TAG_ERR "'text', 'image', 'tool_use', 'tool_result', 'thinking', "
                   "'redacted_thinking'", bpath, WA_CLIP(t));
            goto fail;
        }
        if (json_array_append_new(parts, v)) {
            nomem(e);
            goto fail;
        }
    }
    json_t *om = NULL;
    if (user && json_array_size(parts)) {
        om = json_pack("{s:s,s:O}", "role", "user", "content", parts);
    } else if (!user) {
        om = json_pack("{s:s,s:o}", "role", "assistant", "content",
                       has_text ? json_stringn(text.data ? text.data : "", text.len)
                                : json_array_size(calls) ? json_null() : json_string(""));
        if (om && json_array_size(calls) && json_object_set(om, "tool_calls", calls)) {
            json_decref(om);
            om = NULL;
        }
    } else {
        rc = 0; /* only tool results (or nothing) */
        goto fail;
    }
    if (json_array_append_new(out, om)) {
        nomem(e);
        goto fail;
    }
    rc = 0;
fail:
    json_decref(parts);
    json_decref(calls);
    wa_buf_free(&text);
    return rc;
}

static int number01(wa_error *e, const json_t *req, const char *key, json_t *out)
{
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return bad(e, "%s: Input should be a valid number", key);
    double d = json_number_value(v);
    if (d < 0)
        return bad(e, "%s: Input should be greater than or equal to 0", key);
    if (d > 1)
        return bad(e, "%s: Input should be less than or equal to 1", key);
    return json_object_set(out, key, v) ? nomem(e) : 0;
}

static int tools_a2o(wa_error *e, const json_t *req, json_t *out)
{
    json_t *ts = json_object_get(req, "tools");
    char path[32];
    if (ts && !json_is_null(ts)) {
        if (!json_is_array(ts))
            return bad(e, "tools: Input should be a valid list");
        json_t *list = json_array();
        if (!list || json_object_set_new(out, "tools", list))
            return nomem(e);
        size_t i;
        json_t *t;
        json_array_foreach(ts, i, t) {
            snprintf(path, sizeof(path), "tools.%zu", i);
            if (!json_is_object(t))
                return bad(e, "%s: Input should be a valid dictionary", path);
            const char *type = json_string_value(json_object_get(t, "type"));
            json_t *desc = json_object_get(t, "description");
            json_t *schema = json_object_get(t, "input_schema");
            if (json_object_get(t, "type") && !is(type, "custom"))
                return bad(e, "%s.type: tool type '%s' is not supported here", path,
                           WA_CLIP(type ? type : "?"));
            if (!need_string(e, t, "name", path))
                return -1;
            if (desc && !json_is_null(desc) && !json_is_string(desc))
                return bad(e, "%s.description: Input should be a valid string", path);
            if (!schema)
                return bad(e, "%s.input_schema: Field required", path);
            if (!json_is_object(schema))
                return bad(e, "%s.input_schema: Input should be a valid dictionary", path);
            json_t *fn = json_pack("{s:O}", "name", json_object_get(t, "name"));
            if (!fn || (json_is_string(desc) && json_object_set(fn, "description", desc)) ||
                json_object_set(fn, "parameters", schema) ||
                json_array_append_new(list, json_pack("{s:s,s:o}", "type", "function", "function",
                                                      fn)))
                return nomem(e);
        }
    }
    json_t *tc = json_object_get(req, "tool_choice");
    if (!tc || json_is_null(tc))
        return 0;
    const char *type = block_type(e, tc, "tool_choice");
    json_t *choice;
    if (!type)
        return -1;
    json_t *dp = json_object_get(tc, "disable_parallel_tool_use");
    if (dp && !json_is_boolean(dp))
        return bad(e, "tool_choice.disable_parallel_tool_use: Input should be a valid boolean");
    if (is(type, "auto")) {
        choice = json_string("auto");
    } else if (is(type, "any")) {
        choice = json_string("required");
    } else if (is(type, "none")) {
        choice = json_string("none");
    } else if (is(type, "tool")) {
        const char *name = need_string(e, tc, "name", "tool_choice");
        if (!name)
            return -1;
        choice = json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", name);
    } else {
        return bad(e, "tool_choice.type: " TAG_ERR "'auto', 'any', 'tool', 'none'",
                   WA_CLIP(type));
    }
    if (json_object_set_new(out, "tool_choice", choice))
        return nomem(e);
    if (json_is_true(dp) && !is(type, "none") &&
        json_object_set_new(out, "parallel_tool_calls", json_false()))
        return nomem(e);
    return 0;
}

static int params_a2o(wa_error *e, const json_t *req, json_t *out)
{
    json_t *v;
    if (number01(e, req, "temperature", out) || number01(e, req, "top_p", out))
        return -1;
    if ((v = json_object_get(req, "stop_sequences")) && !json_is_null(v)) {
        size_t i;
        json_t *s;
        if (!json_is_array(v))
            return bad(e, "stop_sequences: Input should be a valid list");
        json_array_foreach(v, i, s) if (!json_is_string(s)) return bad(
            e, "stop_sequences.%zu: Input should be a valid string", i);
        if (json_array_size(v) && json_object_set(out, "stop", v))
            return nomem(e);
    }
    if ((v = json_object_get(req, "stream")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return bad(e, "stream: Input should be a valid boolean");
        if (json_object_set(out, "stream", v) ||
            (json_is_true(v) && json_object_set_new(out, "stream_options",
                                                    json_pack("{s:b}", "include_usage", 1))))
            return nomem(e);
    }
    if ((v = json_object_get(req, "metadata")) && !json_is_null(v)) {
        if (!json_is_object(v))
            return bad(e, "metadata: Input should be a valid dictionary");
        json_t *u = json_object_get(v, "user_id");
        if (u && !json_is_null(u) && !json_is_string(u))
            return bad(e, "metadata.user_id: Input should be a valid string");
        if (json_is_string(u) && json_object_set(out, "user", u))
            return nomem(e);
    }
    return 0;
}

int wa_req_anthropic_to_openai(const json_t *req, json_t **out, wa_error *e)
{
    json_t *res = NULL, *msgs = NULL;
    int failed;
    *out = NULL;
    if (!json_is_object(req))
        return bad(e, "Input should be a valid dictionary");
    json_t *model = json_object_get(req, "model");
    json_t *mt = json_object_get(req, "max_tokens");
    json_t *ms = json_object_get(req, "messages");
    if (!model)
        return bad(e, "model: Field required");
    if (!json_is_string(model))
        return bad(e, "model: Input should be a valid string");
    if (!mt)
        return bad(e, "max_tokens: Field required");
    if (!json_is_integer(mt))
        return bad(e, "max_tokens: Input should be a valid integer");
    if (json_integer_value(mt) < 1)
        return bad(e, "max_tokens: Input should be greater than or equal to 1");
    if (!ms)
        return bad(e, "messages: Field required");
    if (!json_is_array(ms))
        return bad(e, "messages: Input should be a valid list");
    if (!json_array_size(ms))
        return bad(e, "messages: at least one message is required");

    json_t *sys = system_text(e, json_object_get(req, "system"), &failed);
    if (failed)
        return -1;
    if (!(msgs = json_array()) ||
        (sys && json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "system", "content",
                                                      sys))))
        goto oom;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) if (message_a2o(e, m, i, msgs)) goto fail;
    if (!(res = json_pack("{s:O,s:O,s:O}", "model", model, "messages", msgs,
                          "max_completion_tokens", mt)))
        goto oom;
    if (params_a2o(e, req, res) || tools_a2o(e, req, res))
        goto fail;
    json_decref(sys);
    json_decref(msgs);
    *out = res;
    return 0;
oom:
    nomem(e);
fail:
    json_decref(sys);
    json_decref(msgs);
    json_decref(res);
    return -1;
}
