#include "sim/sim_chat.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_tool.h"

static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function",
                                    NULL};

static const char *const words[64] = {
    "the",     "model",   "answer",   "is",      "a",       "simple",  "result",  "of",
    "routing", "each",    "request",  "to",      "cheaper", "tier",    "when",    "quality",
    "holds",   "and",     "latency",  "stays",   "low",     "we",      "compute", "tokens",
    "from",    "prompt",  "hash",     "so",      "same",    "input",   "gives",   "output",
    "switch",  "yard",    "sends",    "traffic", "through", "cohorts", "shadow",  "canary",
    "ramp",    "full",    "holdout",  "control", "arm",     "metric",  "cost",    "savings",
    "error",   "rate",    "stream",   "chunk",   "delta",   "finish",  "usage",   "provider",
    "gateway", "simulated", "reply",  "with",    "clear",   "steps",   "in",      "order"};

static int set_error(sim_chat_error *err, const char *code, const char *param, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

static int set_error(sim_chat_error *err, const char *code, const char *param, const char *fmt,
                     ...)
{
    va_list ap;
    err->status = 400;
    err->type = "invalid_request_error";
    err->code = code;
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static int bad_type(sim_chat_error *err, const char *param, const char *expected, const json_t *v)
{
    return set_error(err, "invalid_type", param,
                     "Invalid type for '%s': expected %s, but got %s instead.", param, expected,
                     type_name(v));
}

static int missing(sim_chat_error *err, const char *param)
{
    return set_error(err, "missing_required_parameter", param,
                     "Missing required parameter: '%s'.", param);
}

/* Absent and null are the same for optional parameters, as with OpenAI. */
static json_t *optional(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* A message's running totals while it is parsed. */
typedef struct msg_acc {
    uint64_t h;
    size_t bytes;
    int images;
} msg_acc;

static void acc_text(msg_acc *a, const char *s, size_t n)
{
    a->h = sim_fnv1a(a->h, s, n);
    a->bytes += n;
}

static int parse_image_part(json_t *part, const char *p, const char *role, size_t msg_i,
                            msg_acc *a, sim_chat_error *err)
{
    char q[160];
    json_t *iu = json_object_get(part, "image_url"), *url;
    if (strcmp(role, "user")) {
        snprintf(q, sizeof(q), "messages[%zu]", msg_i);
        return set_error(err, "invalid_value", q,
                         "Invalid 'messages[%zu]': Image URLs are only allowed for messages with "
                         "role 'user', but this message with role '%s' contains an image URL.",
                         msg_i, role);
    }
    snprintf(q, sizeof(q), "%s.image_url", p);
    if (!iu)
        return missing(err, q);
    if (!json_is_object(iu))
        return bad_type(err, q, "an object", iu);
    url = json_object_get(iu, "url");
    snprintf(q, sizeof(q), "%s.image_url.url", p);
    if (!url)
        return missing(err, q);
    if (!json_is_string(url))
        return bad_type(err, q, "a string", url);
    a->h = sim_fnv1a(a->h, "\x01image", 6);
    a->images++;
    return 0;
}

static int parse_content(json_t *content, const char *param, const char *role, size_t msg_i,
                         msg_acc *a, sim_chat_error *err)
{
    char p[128];
    size_t i;
    json_t *part;

    if (json_is_string(content)) {
        acc_text(a, json_string_value(content), json_string_length(content));
        return 0;
    }
    if (!json_is_array(content))
        return bad_type(err, param, "one of a string or array of objects", content);
    json_array_foreach(content, i, part) {
        json_t *type, *text;
        const char *t;
        snprintf(p, sizeof(p), "%s[%zu]", param, i);
        if (!json_is_object(part))
            return bad_type(err, p, "an object", part);
        type = json_object_get(part, "type");
        snprintf(p, sizeof(p), "%s[%zu].type", param, i);
        if (!type)
            return missing(err, p);
        if (!json_is_string(type))
            return bad_type(err, p, "a string", type);
        t = json_string_value(type);
        if (!strcmp(t, "image_url")) {
            snprintf(p, sizeof(p), "%s[%zu]", param, i);
            if (parse_image_part(part, p, role, msg_i, a, err))
                return -1;
            continue;
        }
        if (strcmp(t, "text"))
            return set_error(err, "invalid_value", p,
                             "Invalid value: '%.64s'. Supported values are: 'text' and "
                             "'image_url'.",
                             t);
        text = json_object_get(part, "text");
        snprintf(p, sizeof(p), "%s[%zu].text", param, i);
        if (!text)
            return missing(err, p);
        if (!json_is_string(text))
            return bad_type(err, p, "a string", text);
        acc_text(a, json_string_value(text), json_string_length(text));
    }
    return 0;
}

/* A string member of obj that must be there: 0 and *out, or -1 and err. */
static int required_string(json_t *obj, const char *key, const char *path, const char **out,
                           sim_chat_error *err)
{
    char p[160];
    json_t *v = json_object_get(obj, key);
    snprintf(p, sizeof(p), "%s.%s", path, key);
    if (!v)
        return missing(err, p);
    if (!json_is_string(v))
        return bad_type(err, p, "a string", v);
    *out = json_string_value(v);
    return 0;
}

/* An object member of obj that must be there. */
static int required_object(json_t *obj, const char *key, const char *path, json_t **out,
                           sim_chat_error *err)
{
    char p[160];
    json_t *v = json_object_get(obj, key);
    snprintf(p, sizeof(p), "%s.%s", path, key);
    if (!v)
        return missing(err, p);
    if (!json_is_object(v))
        return bad_type(err, p, "an object", v);
    *out = v;
    return 0;
}

/* An assistant message's tool_calls: [{id, type: "function", function: {name, arguments}}]. */
static int parse_tool_calls(json_t *calls, size_t msg_i, msg_acc *a, sim_chat_error *err)
{
    char p[128];
    size_t i;
    json_t *call;

    snprintf(p, sizeof(p), "messages[%zu].tool_calls", msg_i);
    if (!json_is_array(calls))
        return bad_type(err, p, "an array", calls);
    json_array_foreach(calls, i, call) {
        const char *id, *type, *name, *args;
        json_t *fn;
        snprintf(p, sizeof(p), "messages[%zu].tool_calls[%zu]", msg_i, i);
        if (!json_is_object(call))
            return bad_type(err, p, "an object", call);
        if (required_string(call, "id", p, &id, err) ||
            required_string(call, "type", p, &type, err))
            return -1;
        if (strcmp(type, "function")) {
            snprintf(p, sizeof(p), "messages[%zu].tool_calls[%zu].type", msg_i, i);
            return set_error(err, "invalid_value", p,
                             "Invalid value: '%.64s'. Supported values are: 'function'.", type);
        }
        if (required_object(call, "function", p, &fn, err))
            return -1;
        snprintf(p, sizeof(p), "messages[%zu].tool_calls[%zu].function", msg_i, i);
        if (required_string(fn, "name", p, &name, err) ||
            required_string(fn, "arguments", p, &args, err))
            return -1;
        acc_text(a, name, strlen(name));
        a->h = sim_fnv1a(a->h, "", 1);
        acc_text(a, args, json_string_length(json_object_get(fn, "arguments")));
        a->h = sim_fnv1a(a->h, "", 1);
    }
    return 0;
}

static int parse_messages(json_t *msgs, sim_chat_req *req, sim_chat_error *err)
{
    uint64_t h = SIM_FNV_OFFSET;
    long tokens = 3;
    size_t i;
    json_t *msg;

    if (!msgs)
        return missing(err, "messages");
    if (!json_is_array(msgs))
        return bad_type(err, "messages", "an array", msgs);
    if (json_array_size(msgs) == 0)
        return set_error(err, "empty_array", "messages",
                         "Invalid 'messages': empty array. Expected an array with minimum length "
                         "1, but got an empty array instead.");
    json_array_foreach(msgs, i, msg) {
        char p[64];
        json_t *role, *content, *calls;
        const char *r;
        msg_acc a = {0, 0, 0};
        int known = 0;

        snprintf(p, sizeof(p), "messages[%zu]", i);
        if (!json_is_object(msg))
            return bad_type(err, p, "an object", msg);
        role = json_object_get(msg, "role");
        snprintf(p, sizeof(p), "messages[%zu].role", i);
        if (!role)
            return missing(err, p);
        if (!json_is_string(role))
            return bad_type(err, p, "a string", role);
        r = json_string_value(role);
        for (int k = 0; roles[k] && !known; k++)
            known = !strcmp(r, roles[k]);
        if (!known)
            return set_error(err, "invalid_value", p,
                             "Invalid value: '%.64s'. Supported values are: 'system', "
                             "'developer', 'user', 'assistant', 'tool', and 'function'.",
                             r);
        a.h = sim_fnv1a(h, r, strlen(r) + 1);

        content = optional(msg, "content");
        snprintf(p, sizeof(p), "messages[%zu].content", i);
        if (!content) {
            if (strcmp(r, "assistant")) /* an assistant turn with tool calls has no content */
                return missing(err, p);
        } else if (parse_content(content, p, r, i, &a, err)) {
            return -1;
        }
        calls = optional(msg, "tool_calls");
        if (calls && !strcmp(r, "assistant") && parse_tool_calls(calls, i, &a, err))
            return -1;
        if (!strcmp(r, "tool")) {
            const char *id;
            snprintf(p, sizeof(p), "messages[%zu]", i);
            if (required_string(msg, "tool_call_id", p, &id, err))
                return -1;
        }
        h = sim_fnv1a(a.h, "", 1);
        tokens += 4 + (long)((a.bytes + 3) / 4) + (long)SIM_IMAGE_TOKENS * a.images;
        if (tokens > 1000000000)
            tokens = 1000000000;
        req->images += a.images;
        req->last_tool_result = !strcmp(r, "tool") || !strcmp(r, "function");
    }
    req->prompt_hash = h;
    req->prompt_tokens = (int)tokens;
    req->messages = (int)json_array_size(msgs);
    return 0;
}

/* The function name of tools[i] or tool_choice: ^[a-zA-Z0-9_-]+$, at most 64. */
static int check_function_name(const char *name, const char *param, sim_chat_error *err)
{
    size_t n = strlen(name);
    if (!sim_tool_name_chars_ok(name))
        return set_error(err, "invalid_value", param,
                         "Invalid '%s': string does not match pattern. Expected a string that "
                         "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                         param);
    if (n > SIM_TOOL_NAME_MAX - 1)
        return set_error(err, "string_above_max_length", param,
                         "Invalid '%s': string too long. Expected a string with maximum length "
                         "%d, but got a string with length %zu instead.",
                         param, SIM_TOOL_NAME_MAX - 1, n);
    return 0;
}

/* tools: [{"type":"function","function":{"name","parameters"?}}], then
 * tool_choice, then the sim_tool decision. */
static int parse_tools(json_t *root, sim_chat_req *req, sim_chat_error *err)
{
    json_t *tools = optional(root, "tools"), *choice = optional(root, "tool_choice"), *tool;
    const char *forced = NULL, *name = NULL;
    const json_t *schema = NULL;
    enum sim_tool_mode mode = SIM_TOOLS_AUTO;
    size_t i;

    if (!tools) {
        if (choice)
            return set_error(err, NULL, "tool_choice",
                             "Invalid value for 'tool_choice': 'tool_choice' is only allowed "
                             "when 'tools' are specified.");
        sim_tool_decide(req, SIM_TOOLS_OFF, NULL, NULL);
        return 0;
    }
    if (!json_is_array(tools))
        return bad_type(err, "tools", "an array", tools);
    if (json_array_size(tools) == 0)
        return set_error(err, "empty_array", "tools",
                         "Invalid 'tools': empty array. Expected an array with minimum length "
                         "1, but got an empty array instead.");
    json_array_foreach(tools, i, tool) {
        char p[64], q[96];
        const char *type, *fname;
        json_t *fn, *params;
        snprintf(p, sizeof(p), "tools[%zu]", i);
        if (!json_is_object(tool))
            return bad_type(err, p, "an object", tool);
        if (required_string(tool, "type", p, &type, err))
            return -1;
        if (strcmp(type, "function")) {
            snprintf(q, sizeof(q), "%s.type", p);
            return set_error(err, "invalid_value", q,
                             "Invalid value: '%.64s'. Supported values are: 'function'.", type);
        }
        if (required_object(tool, "function", p, &fn, err))
            return -1;
        snprintf(p, sizeof(p), "tools[%zu].function", i);
        if (required_string(fn, "name", p, &fname, err))
            return -1;
        snprintf(q, sizeof(q), "%s.name", p);
        if (check_function_name(fname, q, err))
            return -1;
        params = optional(fn, "parameters");
        snprintf(q, sizeof(q), "%s.parameters", p);
        if (params && !json_is_object(params))
            return bad_type(err, q, "an object", params);
    }

    if (json_is_string(choice)) {
        const char *c = json_string_value(choice);
        if (!strcmp(c, "none"))
            mode = SIM_TOOLS_OFF;
        else if (!strcmp(c, "required"))
            mode = SIM_TOOLS_FORCED;
        else if (strcmp(c, "auto"))
            return set_error(err, "invalid_value", "tool_choice",
                             "Invalid value: '%.64s'. Supported values are: 'none', 'auto', and "
                             "'required'.",
                             c);
    } else if (json_is_object(choice)) {
        const char *type;
        json_t *fn;
        if (required_string(choice, "type", "tool_choice", &type, err))
            return -1;
        if (strcmp(type, "function"))
            return set_error(err, "invalid_value", "tool_choice.type",
                             "Invalid value: '%.64s'. Supported values are: 'function'.", type);
        if (required_object(choice, "function", "tool_choice", &fn, err) ||
            required_string(fn, "name", "tool_choice.function", &forced, err))
            return -1;
        mode = SIM_TOOLS_FORCED;
    } else if (choice) {
        return bad_type(err, "tool_choice", "one of a string or object", choice);
    }

    json_array_foreach(tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        const char *fname = json_string_value(json_object_get(fn, "name"));
        if (!forced || !strcmp(forced, fname)) {
            name = fname;
            schema = optional(fn, "parameters");
            break;
        }
    }
    if (!name)
        return set_error(err, "invalid_value", "tool_choice",
                         "Invalid value for 'tool_choice': function '%.64s' is not one of the "
                         "'tools'.",
                         forced);
    sim_tool_decide(req, mode, name, schema);
    return 0;
}

static int parse_cap(json_t *root, const char *key, long *cap, sim_chat_error *err)
{
    json_t *v = optional(root, key);
    long long n;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return bad_type(err, key, "an integer", v);
    n = json_integer_value(v);
    if (n < 1)
        return set_error(err, "integer_below_min_value", key,
                         "Invalid '%s': integer below minimum value. Expected a value >= 1, but "
                         "got %lld instead.",
                         key, n);
    if (*cap == 0 || n < *cap)
        *cap = n > 1000000000 ? 1000000000 : (long)n;
    return 0;
}

int sim_chat_parse(const char *body, size_t len, sim_chat_req *req, sim_chat_error *err)
{
    json_error_t jerr;
    json_t *root, *model, *v;
    int rc = -1;

    memset(req, 0, sizeof(*req));
    root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return set_error(err, NULL, NULL,
                         "We could not parse the JSON body of your request. (HINT: This likely "
                         "means you aren't using your HTTP library correctly. The OpenAI API "
                         "expects a JSON payload, but what was sent was not valid JSON.)");
    if (!json_is_object(root)) {
        bad_type(err, "body", "an object", root);
        goto fail;
    }

    model = json_object_get(root, "model");
    if (!model) {
        missing(err, "model");
        goto fail;
    }
    if (!json_is_string(model)) {
        bad_type(err, "model", "a string", model);
        goto fail;
    }
    snprintf(req->model, sizeof(req->model), "%s", json_string_value(model));

    if (parse_messages(json_object_get(root, "messages"), req, err))
        goto fail;

    v = optional(root, "stream");
    if (v && !json_is_boolean(v)) {
        bad_type(err, "stream", "a boolean", v);
        goto fail;
    }
    req->stream = json_is_true(v);
    v = optional(root, "stream_options");
    if (v) {
        json_t *iu;
        if (!json_is_object(v)) {
            bad_type(err, "stream_options", "an object", v);
            goto fail;
        }
        if (!req->stream) {
            set_error(err, "invalid_value", "stream_options",
                      "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
            goto fail;
        }
        iu = optional(v, "include_usage");
        if (iu && !json_is_boolean(iu)) {
            bad_type(err, "stream_options.include_usage", "a boolean", iu);
            goto fail;
        }
        req->include_usage = json_is_true(iu);
    }

    if (parse_cap(root, "max_tokens", &req->max_tokens, err) ||
        parse_cap(root, "max_completion_tokens", &req->max_tokens, err))
        goto fail;
    if (parse_tools(root, req, err))
        goto fail;
    rc = 0;
fail:
    json_decref(root);
    return rc;
}

int sim_chat_cached_tokens(int prompt_tokens, double cache_hit_rate)
{
    long long n;
    if (prompt_tokens < 1024 || cache_hit_rate <= 0)
        return 0;
    n = (long long)(prompt_tokens * cache_hit_rate); /* both >= 0: truncation is floor */
    if (n > prompt_tokens)
        n = prompt_tokens;
    return (int)(n / 128 * 128);
}

void sim_chat_plan_make(const sim_chat_req *req, const sim_model *m, sim_chat_plan *plan)
{
    uint64_t h = sim_mix64(req->prompt_hash ^ sim_fnv1a(SIM_FNV_OFFSET, m->id, strlen(m->id)));
    uint64_t span = (uint64_t)(m->completion_max - m->completion_min) + 1;
    int n = m->completion_min + (int)(h % span);

    plan->prompt_tokens = req->prompt_tokens;
    plan->cached_tokens = sim_chat_cached_tokens(req->prompt_tokens, m->cache_hit_rate);
    plan->truncated = 0;
    plan->content_seed = sim_mix64(h);
    plan->tool_call = req->tool_call;
    plan->tool_args_len = 0;
    plan->tool_name[0] = '\0';
    if (req->tool_call) {
        size_t nl = strlen(req->tool_name), al = strlen(req->tool_args);
        memcpy(plan->tool_name, req->tool_name, nl + 1);
        memcpy(plan->tool_args, req->tool_args, al + 1);
        plan->tool_args_len = al;
        plan->completion_tokens = 1 + (int)((nl + al + 3) / 4);
        return;
    }
    if (req->max_tokens > 0 && n > req->max_tokens) {
        n = (int)req->max_tokens;
        plan->truncated = 1;
    }
    plan->completion_tokens = n;
}

const char *sim_chat_finish_reason(const sim_chat_plan *plan)
{
    return plan->tool_call ? "tool_calls" : plan->truncated ? "length" : "stop";
}

size_t sim_chat_args_piece(const sim_chat_plan *plan, size_t off)
{
    size_t end = off + SIM_ARGS_PIECE;
    if (off >= plan->tool_args_len)
        return 0;
    if (end >= plan->tool_args_len)
        return plan->tool_args_len - off;
    while (end < plan->tool_args_len && ((unsigned char)plan->tool_args[end] & 0xc0) == 0x80)
        end++; /* a UTF-8 continuation byte: the character goes with this piece */
    return end - off;
}

int sim_chat_args_pieces(const sim_chat_plan *plan)
{
    int n = 0;
    for (size_t off = 0, len; (len = sim_chat_args_piece(plan, off)) > 0; off += len)
        n++;
    return n;
}

const char *sim_chat_word(uint64_t x)
{
    return words[x & 63];
}

size_t sim_chat_token_text(uint64_t content_seed, int i, char *buf)
{
    const char *w = words[sim_mix64(content_seed + (uint64_t)i) & 63];
    size_t n = 0, wl = strlen(w);
    if (i > 0)
        buf[n++] = ' ';
    memcpy(buf + n, w, wl);
    n += wl;
    if (i % 12 == 11)
        buf[n++] = '.';
    buf[n] = '\0';
    return n;
}
