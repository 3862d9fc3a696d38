/*
 * libFuzzer target: the token counts of a provider's answer (router/usage.c)
 * on arbitrary bytes.
 *
 * Byte 0 bit 0 picks the target: the fast usage-object parser alone, or the
 * whole lookup. Invariants beyond "no crash, no leak, no read past the input":
 * - rt_usage_parse_simple accepts only what jansson parses to an object, and
 *   its counts are json_integer_value() of that object's members;
 * - rt_usage_from gives exactly what the router computed before the fast path
 *   existed (that code is kept below as the reference).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the reference: router/chat.c's usage lookup before the fast path ---- */

/* Where the value starting at p (outside any string) closes: the index just
 * past its matching '}' in *end, and whether exactly one more closer follows
 * (the root object's) with only whitespace after it, i.e. the value is a
 * member of the root object. */
static int usage_at_top(const char *p, const char *lim, const char **end)
{
    int depth = 0, in_str = 0;
    *end = NULL;
    for (; p < lim; p++) {
        char ch = *p;
        if (in_str) {
            if (ch == '\\')
                p++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            if (depth == 0 && !*end)
                *end = p + 1;
            if (depth < 0) {
                for (p++; p < lim; p++)
                    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                        return 0;
                return *end != NULL;
            }
        }
    }
    return 0;
}

/* The root object's "usage" member, found from the tail of the answer (where
 * providers put it) and parsed alone; NULL if that does not work out. */
static json_t *usage_from_tail(const char *body, size_t len)
{
    static const char key[] = "\"usage\"";
    const size_t klen = sizeof(key) - 1;
    const size_t window = 4096;
    const char *lim = body + len;
    const char *from = len > window ? lim - window : body;
    json_t *found = NULL;
    const char *k;
    while ((k = memmem(from, (size_t)(lim - from), key, klen))) {
        from = k + 1;
        /* a key: after '{' or ',' (so the quote is not an escaped one), before ':' */
        const char *b = k;
        while (b > body && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '\n'))
            b--;
        if (b == body || (b[-1] != '{' && b[-1] != ','))
            continue;
        const char *v = k + klen;
        while (v < lim && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
            v++;
        if (v >= lim || *v != ':')
            continue;
        for (v++; v < lim && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'); v++)
            ;
        if (v >= lim || *v != '{')
            continue;
        const char *end;
        if (!usage_at_top(v, lim, &end))
            continue;
        json_t *u = json_loadb(v, (size_t)(end - v), 0, NULL);
        if (!u)
            continue;
        json_decref(found); /* a later duplicate wins, as in a full parse */
        found = u;
    }
    return found;
}

static int usage_from(const char *body, size_t len, long *in, long *out, long *cached)
{
    json_t *root = NULL;
    json_t *u = usage_from_tail(body, len);
    if (!u) {
        root = json_loadb(body, len, 0, NULL);
        u = root ? json_incref(json_object_get(root, "usage")) : NULL;
    }
    if (u) {
        *in = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
        *out = (long)json_integer_value(json_object_get(u, "completion_tokens"));
        *cached = (long)json_integer_value(
            json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
    }
    int found = u != NULL;
    json_decref(u);
    json_decref(root);
    return found;
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    char *body = malloc(len + 1); /* NUL-terminated, as upstream bodies are */
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    body[len] = '\0';
    if (data[0] & 1) {
        long long p = -7, c = -7, k = -7;
        if (rt_usage_parse_simple(body, len, &p, &c, &k) == 0) {
            json_t *u = json_loadb(body, len, 0, NULL);
            if (!json_is_object(u) || p != json_integer_value(json_object_get(u, "prompt_tokens")) ||
                c != json_integer_value(json_object_get(u, "completion_tokens")) ||
                k != json_integer_value(json_object_get(
                         json_object_get(u, "prompt_tokens_details"), "cached_tokens")))
                abort();
            json_decref(u);
        } else if (p != -7 || c != -7 || k != -7) {
            abort();
        }
    } else {
        exp_usage u = {-7, -7, -7, -7};
        long rin = -7, rout = -7, rcached = -7;
        rt_usage_read(body, len, &u);
        int found = usage_from(body, len, &rin, &rout, &rcached);
        if (u.in != rin || u.out != rout || u.cached != rcached ||
            u.cache_write != (found ? 0 : -7))
            abort();
    }
    free(body);
    return 0;
}
