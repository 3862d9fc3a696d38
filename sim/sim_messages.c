#include "sim/sim_messages.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_prng.h"
#include "sim/sim_tool.h"

static const char *const top_keys[] = {"model",       "messages",     "max_tokens", "system",
                                       "stream",      "tools",        "tool_choice",
                                       "temperature", "top_p",        "top_k",
                                       "stop_sequences", "metadata",  "thinking",
                                       "service_tier", NULL};
static const char *const message_keys[] = {"role", "content", NULL};

static int fail(sim_chat_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(sim_chat_error *err, const char *fmt, ...)
{
    va_list ap;
    err->status = 400;
    err->type = "invalid_request_error";
    err->code = NULL;
    err->param[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Absent and null are the same for optional fields. */
static json_t *optional(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* prefix is "" at the top level, else a location ending in '.'. */
static int check_keys(json_t *obj, const char *prefix, const char *const *allowed,
                      sim_chat_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (int i = 0; !ok && allowed[i]; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok)
            return fail(err, "%s%.64s: Extra inputs are not permitted", prefix, key);
    }
    return 0;
}

/* A message's running hash, text bytes and images (the sim_chat.h formula). */
typedef struct acc {
    uint64_t h;
    size_t bytes;
    int images;
} acc;

static void acc_text(acc *a, const char *s, size_t n)
{
    a->h = sim_fnv1a(a->h, s, n);
    a->bytes += n;
}

static int acc_dump(const char *buf, size_t size, void *data)
{
    acc_text(data, buf, size);
    return 0;
}

static int required_string(json_t *obj, const char *loc, const char *key, const char **out,
                           sim_chat_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return fail(err, "%s.%s: Field required", loc, key);
    if (!json_is_string(v))
        return fail(err, "%s.%s: Input should be a valid string", loc, key);
    *out = json_string_value(v);
    return 0;
}

/* One content block at loc. Inside a tool_result only text and image are
 * allowed; *tool_result is set for a tool_result block. */
static int parse_block(json_t *b, const char *loc, int in_tool_result, acc *a, int *tool_result,
                       sim_chat_error *err)
{
    char l[192];
    json_t *type = json_object_get(b, "type");
    const char *t, *s;

    if (!json_is_object(b))
        return fail(err, "%s: Input should be a valid dictionary", loc);
    if (!json_is_string(type))
        return fail(err, "%s: Unable to extract tag using discriminator 'type'", loc);
    t = json_string_value(type);
    if (!strcmp(t, "text")) {
        snprintf(l, sizeof(l), "%s.text", loc);
        if (required_string(b, l, "text", &s, err))
            return -1;
        acc_text(a, s, json_string_length(json_object_get(b, "text")));
        return 0;
    }
    if (!strcmp(t, "image")) {
        json_t *src = json_object_get(b, "source");
        if (!src)
            return fail(err, "%s.image.source: Field required", loc);
        if (!json_is_object(src))
            return fail(err, "%s.image.source: Input should be a valid dictionary", loc);
        a->h = sim_fnv1a(a->h, "\x01image", 6);
        a->images++;
        return 0;
    }
    if (!in_tool_result && !strcmp(t, "tool_use")) {
        const char *id, *name;
        json_t *input = json_object_get(b, "input");
        snprintf(l, sizeof(l), "%s.tool_use", loc);
        if (required_string(b, l, "id", &id, err) || required_string(b, l, "name", &name, err))
            return -1;
        if (!input)
            return fail(err, "%s.input: Field required", l);
        if (!json_is_object(input))
            return fail(err, "%s.input: Input should be a valid dictionary", l);
        acc_text(a, name, strlen(name));
        a->h = sim_fnv1a(a->h, "", 1);
        if (json_dump_callback(input, acc_dump, a, JSON_COMPACT))
            return fail(err, "%s.input: Input should be a valid dictionary", l);
        a->h = sim_fnv1a(a->h, "", 1);
        return 0;
    }
    if (!in_tool_result && !strcmp(t, "tool_result")) {
        const char *id;
        json_t *content = optional(b, "content"), *err_flag = optional(b, "is_error"), *inner;
        size_t k;
        snprintf(l, sizeof(l), "%s.tool_result", loc);
        if (required_string(b, l, "tool_use_id", &id, err))
            return -1;
        if (err_flag && !json_is_boolean(err_flag))
            return fail(err, "%s.is_error: Input should be a valid boolean", l);
        *tool_result = 1;
        if (!content)
            return 0;
        if (json_is_string(content)) {
            acc_text(a, json_string_value(content), json_string_length(content));
            return 0;
        }
        if (!json_is_array(content))
            return fail(err, "%s.content: Input should be a valid list", l);
        json_array_foreach(content, k, inner) {
            char il[256];
            snprintf(il, sizeof(il), "%s.content.%zu", l, k);
            if (parse_block(inner, il, 1, a, tool_result, err))
                return -1;
        }
        return 0;
    }
    return fail(err,
                "%s: Input tag '%.64s' found using 'type' does not match any of the expected "
                "tags: %s",
                loc, t,
                in_tool_result ? "'text', 'image'" : "'text', 'image', 'tool_use', 'tool_result'");
}

static void count(sim_chat_req *req, long *tokens, const acc *a)
{
    *tokens += 4 + (long)((a->bytes + 3) / 4) + (long)SIM_IMAGE_TOKENS * a->images;
    if (*tokens > 1000000000)
        *tokens = 1000000000;
    req->images += a->images;
}

/* system: a string or [{"type":"text","text"}], hashed as a first "system" message. */
static int parse_system(json_t *sys, sim_chat_req *req, uint64_t *h, long *tokens,
                        sim_chat_error *err)
{
    acc a = {sim_fnv1a(*h, "system", 7), 0, 0};
    size_t k;
    json_t *blk;

    if (!sys)
        return 0;
    if (json_is_string(sys)) {
        acc_text(&a, json_string_value(sys), json_string_length(sys));
    } else if (json_is_array(sys)) {
        json_array_foreach(sys, k, blk) {
            char l[64];
            const char *s;
            json_t *type = json_object_get(blk, "type");
            snprintf(l, sizeof(l), "system.%zu", k);
            if (!json_is_object(blk))
                return fail(err, "%s: Input should be a valid dictionary", l);
            if (!type)
                return fail(err, "%s.type: Field required", l);
            if (!json_is_string(type) || strcmp(json_string_value(type), "text"))
                return fail(err, "%s.type: Input should be 'text'", l);
            if (required_string(blk, l, "text", &s, err))
                return -1;
            acc_text(&a, s, json_string_length(json_object_get(blk, "text")));
        }
    } else {
        return fail(err, "system: Input should be a valid list");
    }
    *h = sim_fnv1a(a.h, "", 1);
    count(req, tokens, &a);
    req->messages++;
    return 0;
}

static int parse_messages(json_t *msgs, sim_chat_req *req, uint64_t *h, long *tokens,
                          sim_chat_error *err)
{
    size_t i, n;
    json_t *msg;

    if (!msgs)
        return fail(err, "messages: Field required");
    if (!json_is_array(msgs))
        return fail(err, "messages: Input should be a valid list");
    n = json_array_size(msgs);
    if (n == 0)
        return fail(err, "messages: at least one message is required");
    json_array_foreach(msgs, i, msg) {
        char l[64], prefix[72];
        json_t *role = json_object_get(msg, "role"), *content;
        const char *r;
        acc a;
        int tool_result = 0, empty;

        snprintf(l, sizeof(l), "messages.%zu", i);
        snprintf(prefix, sizeof(prefix), "%s.", l);
        if (!json_is_object(msg))
            return fail(err, "%s: Input should be a valid dictionary", l);
        if (check_keys(msg, prefix, message_keys, err))
            return -1;
        if (!role)
            return fail(err, "%s.role: Field required", l);
        r = json_is_string(role) ? json_string_value(role) : "";
        if (!strcmp(r, "system"))
            return fail(err, "messages: Unexpected role \"system\". The Messages API accepts a "
                             "top-level `system` parameter, not \"system\" as an input message "
                             "role.");
        if (strcmp(r, "user") && strcmp(r, "assistant"))
            return fail(err, "%s.role: Input should be 'user' or 'assistant'", l);
        content = json_object_get(msg, "content");
        if (!content)
            return fail(err, "%s.content: Field required", l);

        a.h = sim_fnv1a(*h, r, strlen(r) + 1);
        a.bytes = 0;
        a.images = 0;
        if (json_is_string(content)) {
            acc_text(&a, json_string_value(content), json_string_length(content));
            empty = json_string_length(content) == 0;
        } else if (json_is_array(content)) {
            size_t k;
            json_t *blk;
            empty = json_array_size(content) == 0;
            json_array_foreach(content, k, blk) {
                char bl[96];
                snprintf(bl, sizeof(bl), "%s.content.%zu", l, k);
                if (parse_block(blk, bl, 0, &a, &tool_result, err))
                    return -1;
            }
        } else {
            return fail(err, "%s.content: Input should be a valid list", l);
        }
        if (empty && !(i == n - 1 && !strcmp(r, "assistant")))
            return fail(err,
                        "%s: all messages must have non-empty content except for the optional "
                        "final assistant message",
                        l);
        *h = sim_fnv1a(a.h, "", 1);
        count(req, tokens, &a);
        req->messages++;
        req->last_tool_result = tool_result && !strcmp(r, "user");
    }
    return 0;
}

/* tools: [{name, input_schema, description?}], then tool_choice, then the sim_tool decision. */
static int parse_tools(json_t *root, sim_chat_req *req, sim_chat_error *err)
{
    json_t *tools = optional(root, "tools"), *choice = optional(root, "tool_choice"), *tool;
    const char *forced = NULL, *name = NULL;
    const json_t *schema = NULL;
    enum sim_tool_mode mode = SIM_TOOLS_AUTO;
    size_t i;

    if (tools && !json_is_array(tools))
        return fail(err, "tools: Input should be a valid list");
    json_array_foreach(tools, i, tool) {
        char l[64];
        const char *tname;
        json_t *is;
        snprintf(l, sizeof(l), "tools.%zu", i);
        if (!json_is_object(tool))
            return fail(err, "%s: Input should be a valid dictionary", l);
        if (required_string(tool, l, "name", &tname, err))
            return -1;
        if (!sim_tool_name_chars_ok(tname) || strlen(tname) > SIM_TOOL_NAME_MAX - 1)
            return fail(err, "%s.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", l);
        is = json_object_get(tool, "input_schema");
        if (!is)
            return fail(err, "%s.input_schema: Field required", l);
        if (!json_is_object(is))
            return fail(err, "%s.input_schema: Input should be a valid dictionary", l);
    }

    if (choice) {
        json_t *type = json_object_get(choice, "type");
        const char *t;
        if (!json_is_object(choice))
            return fail(err, "tool_choice: Input should be a valid dictionary");
        if (!json_is_string(type))
            return fail(err, "tool_choice: Unable to extract tag using discriminator 'type'");
        t = json_string_value(type);
        if (!strcmp(t, "none")) {
            mode = SIM_TOOLS_OFF;
        } else if (!strcmp(t, "any")) {
            mode = SIM_TOOLS_FORCED;
        } else if (!strcmp(t, "tool")) {
            if (required_string(choice, "tool_choice.tool", "name", &forced, err))
                return -1;
            mode = SIM_TOOLS_FORCED;
        } else if (strcmp(t, "auto")) {
            return fail(err,
                        "tool_choice: Input tag '%.64s' found using 'type' does not match any of "
                        "the expected tags: 'auto', 'any', 'tool', 'none'",
                        t);
        }
    }
    if (json_array_size(tools) == 0) {
        if (mode == SIM_TOOLS_FORCED)
            return fail(err, "tool_choice: tool_choice may only be specified while providing "
                             "tools");
        sim_tool_decide(req, SIM_TOOLS_OFF, NULL, NULL);
        return 0;
    }
    json_array_foreach(tools, i, tool) {
        const char *tname = json_string_value(json_object_get(tool, "name"));
        if (!forced || !strcmp(forced, tname)) {
            name = tname;
            schema = json_object_get(tool, "input_schema");
            break;
        }
    }
    if (!name)
        return fail(err, "tool_choice.tool.name: Tool '%.64s' not found in tools", forced);
    sim_tool_decide(req, mode, name, schema);
    return 0;
}

int sim_messages_parse(const char *body, size_t len, sim_chat_req *req, sim_chat_error *err)
{
    json_error_t jerr;
    json_t *root, *model, *mt, *v;
    uint64_t h = SIM_FNV_OFFSET;
    long tokens = 3;
    int rc = -1;

    memset(req, 0, sizeof(*req));
    root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return fail(err, "The request body is not valid JSON: %s: line %d column %d (char %d)",
                    jerr.text, jerr.line, jerr.column, jerr.position);
    if (!json_is_object(root)) {
        fail(err, "body: Input should be a valid dictionary");
        goto fail;
    }
    if (check_keys(root, "", top_keys, err))
        goto fail;

    model = json_object_get(root, "model");
    if (!model) {
        fail(err, "model: Field required");
        goto fail;
    }
    if (!json_is_string(model)) {
        fail(err, "model: Input should be a valid string");
        goto fail;
    }
    snprintf(req->model, sizeof(req->model), "%s", json_string_value(model));

    mt = json_object_get(root, "max_tokens");
    if (!mt) {
        fail(err, "max_tokens: Field required");
        goto fail;
    }
    if (!json_is_integer(mt)) {
        fail(err, "max_tokens: Input should be a valid integer");
        goto fail;
    }
    if (json_integer_value(mt) < 1) {
        fail(err, "max_tokens: Input should be greater than or equal to 1");
        goto fail;
    }
    req->max_tokens = json_integer_value(mt) > 1000000000 ? 1000000000
                                                          : (long)json_integer_value(mt);

    if (parse_system(optional(root, "system"), req, &h, &tokens, err) ||
        parse_messages(json_object_get(root, "messages"), req, &h, &tokens, err))
        goto fail;
    req->prompt_hash = h;
    req->prompt_tokens = (int)tokens;

    v = optional(root, "stream");
    if (v && !json_is_boolean(v)) {
        fail(err, "stream: Input should be a valid boolean");
        goto fail;
    }
    req->stream = json_is_true(v);
    if (parse_tools(root, req, err))
        goto fail;
    rc = 0;
fail:
    json_decref(root);
    return rc;
}
