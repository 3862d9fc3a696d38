/*
 * wire/anthropic_req_out: the outbound request, a client's chat.completions body to the
 * Messages body an Anthropic provider takes (wa_req_openai_to_anthropic; the mapping is
 * in anthropic.h). Errors name the OpenAI field, as the router's own parser does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/anthropic_internal.h"

static int is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

struct o2a {
    char *err;
    size_t errlen;
    json_t *messages; /* the Anthropic messages so far */
    wa_buf system;
    int nsystem;
};

#define FAIL(b, ...) wa_fail((b)->err, (b)->errlen, __VA_ARGS__)

static int oom(struct o2a *b)
{
    return FAIL(b, "out of memory");
}

/* content as an array of blocks: a string becomes one text block ("" none) */
static json_t *as_blocks(json_t *content)
{
    if (json_is_array(content))
        return json_incref(content);
    json_t *a = json_array();
    if (a && json_string_length(content) &&
        json_array_append_new(a, json_pack("{s:s,s:O}", "type", "text", "text", content))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Appends {role, content} (content: a string or blocks; taken), merged into the last
 * message when that has the same role. */
static int push(struct o2a *b, const char *role, json_t *content)
{
    json_t *last = json_array_get(b->messages, json_array_size(b->messages) - 1);
    if (!content)
        return oom(b);
    if (last && is(json_string_value(json_object_get(last, "role")), role)) {
        json_t *have = as_blocks(json_object_get(last, "content"));
        json_t *more = as_blocks(content);
        json_decref(content);
        if (!have || !more || json_array_extend(have, more)) {
            json_decref(have);
            json_decref(more);
            return oom(b);
        }
        json_decref(more);
        return json_object_set_new(last, "content", have) ? oom(b) : 0;
    }
    if (json_array_append_new(b->messages,
                              json_pack("{s:s,s:o}", "role", role, "content", content)))
        return oom(b);
    return 0;
}

/* image_url part -> image block */
static json_t *image_block(struct o2a *b, const json_t *part, const char *path)
{
    const char *url = json_string_value(json_object_get(json_object_get(part, "image_url"), "url"));
    if (!url) {
        FAIL(b, "%s.image_url.url: missing or not a string", path);
        return NULL;
    }
    if (starts(url, "http://") || starts(url, "https://"))
        return json_pack("{s:s,s:{s:s,s:s}}", "type", "image", "source", "type", "url", "url", url);
    const char *semi = starts(url, "data:") ? strstr(url, ";base64,") : NULL;
    if (!semi || semi == url + 5 || memchr(url, ',', (size_t)(semi - url))) {
        FAIL(b, "%s.image_url.url: not an http(s) URL or a data:<media type>;base64, URL", path);
        return NULL;
    }
    json_t *blk = json_pack("{s:s,s:{s:s,s:s%,s:s}}", "type", "image", "source", "type", "base64",
                            "media_type", url + 5, (size_t)(semi - (url + 5)), "data", semi + 8);
    if (!blk)
        oom(b);
    return blk;
}

/* A message's content (string, null, or parts) as a string or blocks; NULL on error.
 * `images`: image_url parts allowed. */
static json_t *content_of(struct o2a *b, const json_t *content, const char *path, int images)
{
    if (json_is_string(content))
        return json_incref((json_t *)content);
    if (!content || json_is_null(content))
        return json_array();
    if (!json_is_array(content)) {
        FAIL(b, "%s.content: not a string, an array of parts or null", path);
        return NULL;
    }
    json_t *blocks = json_array();
    size_t i;
    json_t *part;
    char ppath[96];
    json_array_foreach(content, i, part) {
        snprintf(ppath, sizeof(ppath), "%s.content[%zu]", path, i);
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *blk = NULL;
        if (is(type, "text")) {
            json_t *t = json_object_get(part, "text");
            if (!json_is_string(t)) {
                FAIL(b, "%s.text: missing or not a string", ppath);
                goto fail;
            }
            if (!json_string_length(t))
                continue;
            blk = json_pack("{s:s,s:O}", "type", "text", "text", t);
        } else if (is(type, "image_url") && images) {
            if (!(blk = image_block(b, part, ppath)))
                goto fail;
        } else {
            FAIL(b, "%s.type: unsupported content part type \"%s\"", ppath,
                 WA_CLIP(type ? type : "(missing)"));
            goto fail;
        }
        if (json_array_append_new(blocks, blk)) {
            oom(b);
            goto fail;
        }
    }
    return blocks;
fail:
    json_decref(blocks);
    return NULL;
}

static int system_msg(struct o2a *b, const json_t *m, const char *path)
{
    json_t *c = content_of(b, json_object_get(m, "content"), path, 0);
    int rc = -1;
    if (!c)
        return -1;
    json_t *blocks = as_blocks(c);
    size_t i;
    json_t *blk;
    json_array_foreach(blocks, i, blk) {
        json_t *t = json_object_get(blk, "text");
        if ((b->nsystem++ && wa_buf_append(&b->system, "\n\n", 2)) ||
            wa_buf_append(&b->system, json_string_value(t), json_string_length(t))) {
            oom(b);
            goto fail;
        }
    }
    rc = blocks ? 0 : oom(b);
fail:
    json_decref(blocks);
    json_decref(c);
    return rc;
}

static int assistant_msg(struct o2a *b, const json_t *m, const char *path)
{
    json_t *content = content_of(b, json_object_get(m, "content"), path, 0);
    json_t *calls = json_object_get(m, "tool_calls");
    if (!content)
        return -1;
    if (json_array_size(calls)) {
        json_t *blocks = as_blocks(content);
        json_decref(content);
        if (!(content = blocks))
            return oom(b);
    } else if (calls && !json_is_null(calls) && !json_is_array(calls)) {
        json_decref(content);
        return FAIL(b, "%s.tool_calls: not an array", path);
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        const char *what = !id     ? "id"
                           : !name ? "function.name"
                           : !args ? "function.arguments"
                                   : NULL;
        if (what) {
            json_decref(content);
            return FAIL(b, "%s.tool_calls[%zu].%s: missing or not a string", path, i, what);
        }
        /* "" is no arguments; json_is_object() evaluates its argument twice */
        int none = args[strspn(args, " \t\r\n")] == '\0';
        json_t *input = none ? json_object() : json_loads(args, 0, NULL);
        if (!none && !json_is_object(input)) {
            json_decref(input);
            json_decref(content);
            return FAIL(b, "%s.tool_calls[%zu].function.arguments: not a JSON object", path, i);
        }
        if (json_array_append_new(content, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id",
                                                     id, "name", name, "input", input))) {
            json_decref(content);
            return oom(b);
        }
    }
    if (!json_string_length(content) && !json_array_size(content)) {
        json_decref(content);
        return FAIL(b, "%s: no content and no tool_calls", path);
    }
    return push(b, "assistant", content);
}

static int tool_msg(struct o2a *b, const json_t *m, const char *path)
{
    const char *id = json_string_value(json_object_get(m, "tool_call_id"));
    if (!id)
        return FAIL(b, "%s.tool_call_id: missing or not a string", path);
    json_t *c = content_of(b, json_object_get(m, "content"), path, 0);
    if (!c)
        return -1;
    json_t *res = json_pack("{s:s,s:s}", "type", "tool_result", "tool_use_id", id);
    if (!res || ((json_string_length(c) || json_array_size(c)) &&
                 json_object_set(res, "content", c))) {
        json_decref(res);
        json_decref(c);
        return oom(b);
    }
    json_decref(c);
    return push(b, "user", json_pack("[o]", res));
}

static int messages(struct o2a *b, const json_t *msgs)
{
    size_t i;
    json_t *m;
    char path[32];
    if (!json_is_array(msgs))
        return FAIL(b, "messages: missing or not an array");
    json_array_foreach(msgs, i, m) {
        snprintf(path, sizeof(path), "messages[%zu]", i);
        const char *role = json_string_value(json_object_get(m, "role"));
        int rc;
        if (!json_is_object(m))
            return FAIL(b, "%s: not an object", path);
        if (!role)
            return FAIL(b, "%s.role: missing or not a string", path);
        if (is(role, "system") || is(role, "developer")) {
            rc = system_msg(b, m, path);
        } else if (is(role, "user")) {
            json_t *c = content_of(b, json_object_get(m, "content"), path, 1);
            if (!c)
                return -1;
            if (!json_string_length(c) && !json_array_size(c)) {
                json_decref(c);
                return FAIL(b, "%s.content: empty", path);
            }
            rc = push(b, "user", c);
        } else if (is(role, "assistant")) {
            rc = assistant_msg(b, m, path);
        } else if (is(role, "tool")) {
            rc = tool_msg(b, m, path);
        } else {
            return FAIL(b, "%s.role: unsupported role \"%s\"", path, WA_CLIP(role));
        }
        if (rc)
            return rc;
    }
    if (!json_array_size(b->messages))
        return FAIL(b, "messages: no user or assistant message");
    return 0;
}

/* the first of the keys present and not null */
static json_t *opt(const json_t *req, const char *key)
{
    json_t *v = json_object_get(req, key);
    return json_is_null(v) ? NULL : v;
}

static int tools(struct o2a *b, const json_t *req, json_t *out)
{
    json_t *ts = opt(req, "tools");
    if (!ts)
        return 0;
    if (!json_is_array(ts))
        return FAIL(b, "tools: not an array");
    if (!json_array_size(ts))
        return 0;
    json_t *list = json_array();
    if (!list || json_object_set_new(out, "tools", list))
        return oom(b);
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t) {
        const char *type = json_string_value(json_object_get(t, "type"));
        json_t *fn = json_object_get(t, "function");
        json_t *desc = json_object_get(fn, "description");
        json_t *params = json_object_get(fn, "parameters");
        if (!is(type, "function"))
            return FAIL(b, "tools[%zu].type: unsupported tool type \"%s\"", i,
                        WA_CLIP(type ? type : "(missing)"));
        if (!json_is_string(json_object_get(fn, "name")))
            return FAIL(b, "tools[%zu].function.name: missing or not a string", i);
        if (desc && !json_is_null(desc) && !json_is_string(desc))
            return FAIL(b, "tools[%zu].function.description: not a string", i);
        if (params && !json_is_null(params) && !json_is_object(params))
            return FAIL(b, "tools[%zu].function.parameters: not an object", i);
        json_t *at = json_pack("{s:O}", "name", json_object_get(fn, "name"));
        if (!at || (json_is_string(desc) && json_object_set(at, "description", desc)) ||
            json_object_set_new(at, "input_schema",
                                json_is_object(params)
                                    ? json_incref(params)
                                    : json_pack("{s:s,s:{}}", "type", "object", "properties")) ||
            json_array_append_new(list, at))
            return oom(b);
    }

    json_t *choice = opt(req, "tool_choice");
    json_t *par = opt(req, "parallel_tool_calls");
    json_t *tc = NULL;
    if (par && !json_is_boolean(par))
        return FAIL(b, "parallel_tool_calls: not a boolean");
    if (!choice || is(json_string_value(choice), "auto")) {
        tc = json_pack("{s:s}", "type", "auto");
    } else if (is(json_string_value(choice), "required")) {
        tc = json_pack("{s:s}", "type", "any");
    } else if (is(json_string_value(choice), "none")) {
        tc = json_pack("{s:s}", "type", "none");
    } else if (is(json_string_value(json_object_get(choice, "type")), "function") &&
               json_is_string(json_object_get(json_object_get(choice, "function"), "name"))) {
        tc = json_pack("{s:s,s:O}", "type", "tool", "name",
                       json_object_get(json_object_get(choice, "function"), "name"));
    } else {
        return FAIL(b, "tool_choice: not \"auto\", \"required\", \"none\" or "
                       "{\"type\":\"function\",\"function\":{\"name\":...}}");
    }
    if (!tc)
        return oom(b);
    if (json_is_false(par) && !is(json_string_value(json_object_get(tc, "type")), "none") &&
        json_object_set_new(tc, "disable_parallel_tool_use", json_true())) {
        json_decref(tc);
        return oom(b);
    }
    if (!choice && !json_object_get(tc, "disable_parallel_tool_use")) {
        json_decref(tc); /* nothing to say: Anthropic's default is auto */
        return 0;
    }
    return json_object_set_new(out, "tool_choice", tc) ? oom(b) : 0;
}

static int params(struct o2a *b, const json_t *req, json_t *out)
{
    json_t *v = opt(req, "max_completion_tokens");
    const char *key = "max_completion_tokens";
    if (!v) {
        v = opt(req, "max_tokens");
        key = "max_tokens";
    }
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1))
        return FAIL(b, "%s: not a positive integer", key);
    if (json_object_set_new(out, "max_tokens",
                            v ? json_incref(v) : json_integer(WA_DEFAULT_MAX_TOKENS)))
        return oom(b);
    static const char *const numbers[] = {"temperature", "top_p"};
    for (size_t i = 0; i < 2; i++) {
        if (!(v = opt(req, numbers[i])))
            continue;
        if (!json_is_number(v))
            return FAIL(b, "%s: not a number", numbers[i]);
        if (json_object_set(out, numbers[i], v))
            return oom(b);
    }
    if ((v = opt(req, "stop"))) {
        json_t *seq = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
        size_t i;
        json_t *s;
        int bad = !json_is_array(seq);
        json_array_foreach(seq, i, s) bad |= !json_is_string(s);
        if (bad) {
            json_decref(seq);
            return FAIL(b, "stop: not a string or an array of strings");
        }
        if (json_array_size(seq) && json_object_set(out, "stop_sequences", seq)) {
            json_decref(seq);
            return oom(b);
        }
        json_decref(seq);
    }
    if ((v = opt(req, "stream"))) {
        if (!json_is_boolean(v))
            return FAIL(b, "stream: not a boolean");
        if (json_object_set(out, "stream", v))
            return oom(b);
    }
    if ((v = opt(req, "user"))) {
        if (!json_is_string(v))
            return FAIL(b, "user: not a string");
        if (json_object_set_new(out, "metadata", json_pack("{s:O}", "user_id", v)))
            return oom(b);
    }
    return 0;
}

int wa_req_openai_to_anthropic(const json_t *openai_req, const char *upstream_model,
                               json_t **out, char *err, size_t errlen)
{
    struct o2a b = {err, errlen, json_array(), {0}, 0};
    json_t *res = json_pack("{s:s}", "model", upstream_model ? upstream_model : "");
    int rc = -1;
    *out = NULL;
    if (!json_is_object(openai_req)) {
        FAIL(&b, "body: not a JSON object");
        goto fail;
    }
    if (!b.messages || !res) {
        oom(&b);
        goto fail;
    }
    if (messages(&b, json_object_get(openai_req, "messages")) || params(&b, openai_req, res) ||
        tools(&b, openai_req, res))
        goto fail;
    if (b.nsystem && json_object_set_new(res, "system", json_stringn(b.system.data ? b.system.data
                                                                                   : "",
                                                                     b.system.len))) {
        oom(&b);
        goto fail;
    }
    if (json_object_set(res, "messages", b.messages)) {
        oom(&b);
        goto fail;
    }
    *out = res;
    res = NULL;
    rc = 0;
fail:
    json_decref(res);
    json_decref(b.messages);
    wa_buf_free(&b.system);
    return rc;
}
