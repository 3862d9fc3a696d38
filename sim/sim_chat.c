#include "sim/sim_chat.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static int parse_content(json_t *content, const char *param, uint64_t *h, size_t *bytes,
                         sim_chat_error *err)
{
    char p[128];
    size_t i;
    json_t *part;

    if (json_is_string(content)) {
        *h = sim_fnv1a(*h, json_string_value(content), json_string_length(content));
        *bytes += json_string_length(content);
        return 0;
    }
    if (!json_is_array(content))
        return bad_type(err, param, "one of a string or array of objects", content);
    json_array_foreach(content, i, part) {
        json_t *type, *text;
        snprintf(p, sizeof(p), "%s[%zu]", param, i);
        if (!json_is_object(part))
            return bad_type(err, p, "an object", part);
        type = json_object_get(part, "type");
        snprintf(p, sizeof(p), "%s[%zu].type", param, i);
        if (!type)
            return missing(err, p);
        if (!json_is_string(type))
            return bad_type(err, p, "a string", type);
        if (strcmp(json_string_value(type), "text"))
            return set_error(err, "invalid_value", p,
                             "Invalid value: '%.64s'. Supported values are: 'text'.",
                             json_string_value(type));
        text = json_object_get(part, "text");
        snprintf(p, sizeof(p), "%s[%zu].text", param, i);
        if (!text)
            return missing(err, p);
        if (!json_is_string(text))
            return bad_type(err, p, "a string", text);
        *h = sim_fnv1a(*h, json_string_value(text), json_string_length(text));
        *bytes += json_string_length(text);
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
        json_t *role, *content;
        const char *r;
        size_t bytes = 0;
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
        h = sim_fnv1a(h, r, strlen(r) + 1);

        content = optional(msg, "content");
        snprintf(p, sizeof(p), "messages[%zu].content", i);
        if (!content) {
            if (strcmp(r, "assistant")) /* an assistant turn with tool calls has no content */
                return missing(err, p);
        } else if (parse_content(content, p, &h, &bytes, err)) {
            return -1;
        }
        h = sim_fnv1a(h, "", 1);
        tokens += 4 + (long)((bytes + 3) / 4);
    }
    req->prompt_hash = h;
    req->prompt_tokens = tokens > 1000000000 ? 1000000000 : (int)tokens;
    req->messages = (int)json_array_size(msgs);
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
    rc = 0;
fail:
    json_decref(root);
    return rc;
}

void sim_chat_plan_make(const sim_chat_req *req, const sim_model *m, sim_chat_plan *plan)
{
    uint64_t h = sim_mix64(req->prompt_hash ^ sim_fnv1a(SIM_FNV_OFFSET, m->id, strlen(m->id)));
    uint64_t span = (uint64_t)(m->completion_max - m->completion_min) + 1;
    int n = m->completion_min + (int)(h % span);

    plan->prompt_tokens = req->prompt_tokens;
    plan->truncated = 0;
    if (req->max_tokens > 0 && n > req->max_tokens) {
        n = (int)req->max_tokens;
        plan->truncated = 1;
    }
    plan->completion_tokens = n;
    plan->content_seed = sim_mix64(h);
}

const char *sim_chat_finish_reason(const sim_chat_plan *plan)
{
    return plan->truncated ? "length" : "stop";
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
