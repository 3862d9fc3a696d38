#include "router/reqbody.h"

#include <jansson.h>
#include <string.h>

static size_t skip_ws(const char *b, size_t i, size_t len)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* Index of the closing quote of the string whose opening quote is at i, or len
 * if it does not close; *escaped tells whether it holds a backslash. */
static size_t string_end(const char *b, size_t i, size_t len, int *escaped)
{
    *escaped = 0;
    for (i++; i < len; i++) {
        if (b[i] == '"')
            return i;
        if (b[i] == '\\') {
            *escaped = 1;
            i++;
        }
    }
    return len;
}

int rt_body_find_model(const char *b, size_t len, rt_body_span *span)
{
    size_t i = skip_ws(b, 0, len);
    size_t depth = 0, nmodel = 0, root_members = 0;
    int closed = 0;
    memset(span, 0, sizeof(*span));
    if (i >= len || b[i] != '{')
        return -1;
    while (i < len) {
        char ch = b[i];
        if (ch == '"') {
            int escaped;
            size_t j = string_end(b, i, len, &escaped);
            if (j >= len)
                return -1;
            size_t k = skip_ws(b, j + 1, len);
            /* in a JSON text, a string followed by ':' is a key */
            if (k < len && b[k] == ':') {
                span->members++;
                if (depth == 1) {
                    root_members++;
                    if (escaped)
                        return -1;
                    if (j - i - 1 == 5 && !memcmp(b + i + 1, "model", 5)) {
                        if (++nmodel > 1)
                            return -1;
                        size_t v = skip_ws(b, k + 1, len);
                        if (v >= len || b[v] != '"')
                            return -1;
                        size_t ve = string_end(b, v, len, &escaped);
                        if (ve >= len)
                            return -1;
                        span->start = v;
                        span->end = ve + 1;
                        i = ve + 1;
                        continue;
                    }
                }
                i = k + 1;
                continue;
            }
            i = j + 1;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return -1;
            if (--depth == 0) {
                if (ch != '}')
                    return -1;
                if (nmodel == 0)
                    span->start = span->end = i; /* the root's '}' */
                closed = 1;
                i++;
                break;
            }
        }
        i++;
    }
    if (!closed || skip_ws(b, i, len) != len)
        return -1;
    span->root_empty = root_members == 0;
    return 0;
}

size_t rt_body_tree_members(const json_t *root)
{
    size_t n = 0;
    if (json_is_object(root)) {
        const char *key;
        json_t *v;
        n = json_object_size(root);
        json_object_foreach((json_t *)root, key, v) n += rt_body_tree_members(v);
    } else if (json_is_array(root)) {
        size_t i;
        json_t *v;
        json_array_foreach(root, i, v) n += rt_body_tree_members(v);
    }
    return n;
}

/* model as a JSON string, quotes included, into out when it fits: jansson's
 * escapes (\" \\ \b \f \n \r \t, \u00XX for other control bytes) */
static size_t put_json_string(const char *s, char *out, size_t at, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = at;
#define PUT(ch) \
    do { \
        if (n < cap) \
            out[n] = (ch); \
        n++; \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        const char *esc = NULL;
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            PUT(esc[0]);
            PUT(esc[1]);
        } else if (ch < 0x20) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[ch >> 4]);
            PUT(hex[ch & 0xf]);
        } else {
            PUT((char)ch);
        }
    }
    PUT('"');
#undef PUT
    return n - at;
}

static size_t put_mem(const char *s, size_t len, char *out, size_t at, size_t cap)
{
    if (at < cap)
        memcpy(out + at, s, len <= cap - at ? len : cap - at);
    return len;
}

size_t rt_body_splice_model(const char *body, size_t len, const rt_body_span *span,
                            const char *model, char *out, size_t cap)
{
    size_t n = put_mem(body, span->start, out, 0, cap);
    if (span->start == span->end) { /* no "model" member: the last one */
        if (!span->root_empty)
            n += put_mem(",", 1, out, n, cap);
        n += put_mem("\"model\":", 8, out, n, cap);
        n += put_json_string(model, out, n, cap);
    } else {
        n += put_json_string(model, out, n, cap);
    }
    n += put_mem(body + span->end, len - span->end, out, n, cap);
    return n;
}
