#include "router/usage.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* ---------- the fast path: a small strict subset of JSON ---------- */

#define SIMPLE_MAX_DEPTH 8

struct scan {
    const char *p, *lim;
};

static void ws(struct scan *s)
{
    while (s->p < s->lim && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* -?(0|[1-9][0-9]*) not followed by a fraction or exponent, within int64
 * (jansson refuses larger integers, so the caller's fallback refuses them too) */
static int integer(struct scan *s, long long *v)
{
    int neg = 0;
    uint64_t u = 0, limit = (uint64_t)INT64_MAX;
    if (s->p < s->lim && *s->p == '-') {
        neg = 1;
        limit += 1;
        s->p++;
    }
    if (s->p >= s->lim || *s->p < '0' || *s->p > '9')
        return -1;
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->lim && *s->p >= '0' && *s->p <= '9') {
            unsigned d = (unsigned)(*s->p - '0');
            if (u > (limit - d) / 10)
                return -1;
            u = u * 10 + d;
            s->p++;
        }
    }
    if (s->p < s->lim && (*s->p == '.' || *s->p == 'e' || *s->p == 'E' ||
                          (*s->p >= '0' && *s->p <= '9')))
        return -1; /* a real, or a leading zero */
    *v = neg ? (long long)(0 - u) : (long long)u;
    return 0;
}

static int literal(struct scan *s, const char *word, size_t n)
{
    if ((size_t)(s->lim - s->p) < n || memcmp(s->p, word, n))
        return -1;
    s->p += n;
    return 0;
}

enum { V_INT, V_OBJECT, V_OTHER };

/* An object's own members that matter: the root's prompt_tokens and
 * completion_tokens, prompt_tokens_details' cached_tokens. */
struct members {
    long long prompt, completion, cached;
    long long details_cached; /* the last prompt_tokens_details member's cached_tokens */
};

static int object(struct scan *s, int depth, struct members *m);

static int value(struct scan *s, int depth, int *kind, long long *v)
{
    if (s->p >= s->lim)
        return -1;
    *kind = V_OTHER;
    switch (*s->p) {
    case '{': {
        struct members sub;
        *kind = V_OBJECT;
        if (object(s, depth + 1, &sub))
            return -1;
        *v = sub.cached;
        return 0;
    }
    case 'n': return literal(s, "null", 4);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    default:
        *kind = V_INT;
        return integer(s, v);
    }
}

/* at '{'; the counts are those of this object's own members */
static int object(struct scan *s, int depth, struct members *m)
{
    if (depth > SIMPLE_MAX_DEPTH)
        return -1;
    memset(m, 0, sizeof(*m));
    s->p++;
    ws(s);
    if (s->p < s->lim && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->lim || *s->p != '"')
            return -1;
        const char *k = ++s->p;
        while (s->p < s->lim && *s->p != '"') {
            unsigned char ch = (unsigned char)*s->p;
            if (ch < 0x20 || ch >= 0x7f || ch == '\\')
                return -1; /* escapes, control bytes, UTF-8: jansson's job */
            s->p++;
        }
        if (s->p >= s->lim)
            return -1;
        size_t klen = (size_t)(s->p - k);
        s->p++;
        ws(s);
        if (s->p >= s->lim || *s->p != ':')
            return -1;
        s->p++;
        ws(s);
        int kind;
        long long v = 0;
        if (value(s, depth, &kind, &v))
            return -1;
        if (klen == 21 && !memcmp(k, "prompt_tokens_details", 21))
            m->details_cached = kind == V_OBJECT ? v : 0;
        if (kind != V_INT)
            v = 0; /* json_integer_value() of a non-integer */
        if (klen == 13 && !memcmp(k, "prompt_tokens", 13))
            m->prompt = v;
        else if (klen == 17 && !memcmp(k, "completion_tokens", 17))
            m->completion = v;
        else if (klen == 13 && !memcmp(k, "cached_tokens", 13))
            m->cached = v;
        ws(s);
        if (s->p < s->lim && *s->p == ',') {
            s->p++;
            ws(s);
            continue;
        }
        if (s->p < s->lim && *s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

int rt_usage_parse_simple(const char *p, size_t len, long long *prompt, long long *completion,
                          long long *cached)
{
    struct scan s = {p, p + len};
    struct members m;
    ws(&s);
    if (s.p >= s.lim || *s.p != '{' || object(&s, 1, &m))
        return -1;
    ws(&s);
    if (s.p != s.lim)
        return -1;
    *prompt = m.prompt;
    *completion = m.completion;
    *cached = m.details_cached;
    return 0;
}

/* What jansson says of a usage object (the reference the fast path matches). */
static void from_json(json_t *u, exp_usage *out)
{
    out->in = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
    out->out = (long)json_integer_value(json_object_get(u, "completion_tokens"));
    out->cached = (long)json_integer_value(
        json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
    out->cache_write = 0;
}

/* ---------- locating the usage member ---------- */

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
 * providers put it) and parsed alone: 1 and the counts, or 0 if that does
 * not work out. */
static int usage_from_tail(const char *body, size_t len, exp_usage *out)
{
    static const char key[] = "\"usage\"";
    const size_t klen = sizeof(key) - 1;
    const size_t window = 4096;
    const char *lim = body + len;
    const char *from = len > window ? lim - window : body;
    int found = 0;
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
        /* a later duplicate wins, as in a full parse */
        long long pt, ct, kt;
        if (rt_usage_parse_simple(v, (size_t)(end - v), &pt, &ct, &kt) == 0) {
            *out = (exp_usage){.in = (long)pt, .out = (long)ct, .cached = (long)kt};
            found = 1;
            continue;
        }
        json_t *u = json_loadb(v, (size_t)(end - v), 0, NULL);
        if (!u)
            continue;
        from_json(u, out);
        json_decref(u);
        found = 1;
    }
    return found;
}

void rt_usage_read(const char *body, size_t len, exp_usage *u)
{
    if (usage_from_tail(body, len, u))
        return;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *o = root ? json_object_get(root, "usage") : NULL;
    if (o)
        from_json(o, u);
    json_decref(root);
}
