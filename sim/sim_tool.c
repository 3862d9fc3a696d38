#include "sim/sim_tool.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_prng.h"

#define MAX_ARG_NAMES 16

int sim_tool_auto_calls(uint64_t prompt_hash)
{
    return (int)(sim_mix64(prompt_hash) & 1);
}

int sim_tool_name_chars_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* A new reference to the value of the k-th argument, whose schema is prop (may be NULL). */
static json_t *arg_value(const json_t *prop, uint64_t prompt_hash, int k)
{
    const json_t *en = json_object_get(prop, "enum"), *type = json_object_get(prop, "type");
    const char *t;

    if (json_array_size(en) > 0)
        return json_deep_copy(json_array_get(en, 0));
    if (json_is_array(type))
        type = json_array_get(type, 0);
    t = json_is_string(type) ? json_string_value(type) : "string";
    if (!strcmp(t, "integer") || !strcmp(t, "number"))
        return json_integer(1);
    if (!strcmp(t, "boolean"))
        return json_true();
    if (!strcmp(t, "array"))
        return json_array();
    if (!strcmp(t, "object"))
        return json_object();
    if (!strcmp(t, "null"))
        return json_null();
    return json_string(sim_chat_word(sim_mix64(prompt_hash + (uint64_t)k)));
}

size_t sim_tool_args(const json_t *schema, uint64_t prompt_hash, char *out, size_t cap)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *required = json_object_get(schema, "required");
    const char *names[MAX_ARG_NAMES];
    int n = 0;
    json_t *obj = json_object();
    size_t len = 2;

    if (!json_is_object(props))
        props = NULL;
    if (json_array_size(required) > 0) {
        size_t i;
        json_t *v;
        json_array_foreach(required, i, v) {
            if (n < MAX_ARG_NAMES && json_is_string(v))
                names[n++] = json_string_value(v);
        }
    } else if (props && json_object_size(props) > 0) {
        names[n++] = json_object_iter_key(json_object_iter((json_t *)props));
    }

    for (int k = 0; obj && k < n; k++) {
        json_t *v = arg_value(json_object_get(props, names[k]), prompt_hash, k);
        size_t need;
        if (!v || json_object_set_new(obj, names[k], v))
            break;
        need = json_dumpb(obj, NULL, 0, JSON_COMPACT);
        if (need == 0 || need >= cap) {
            json_object_del(obj, names[k]);
            break;
        }
    }
    if (obj)
        len = json_dumpb(obj, out, cap - 1, JSON_COMPACT);
    if (!obj || len == 0 || len >= cap) { /* out of memory: still valid JSON */
        memcpy(out, "{}", 3);
        len = 2;
    }
    out[len] = '\0';
    json_decref(obj);
    return len;
}

void sim_tool_decide(sim_chat_req *req, enum sim_tool_mode mode, const char *name,
                     const json_t *schema)
{
    req->tool_call = 0;
    req->tool_name[0] = '\0';
    req->tool_args[0] = '\0';
    if (mode == SIM_TOOLS_OFF || req->last_tool_result || !name)
        return;
    if (mode == SIM_TOOLS_AUTO && !sim_tool_auto_calls(req->prompt_hash))
        return;
    req->tool_call = 1;
    snprintf(req->tool_name, sizeof(req->tool_name), "%s", name);
    sim_tool_args(schema, req->prompt_hash, req->tool_args, sizeof(req->tool_args));
}
