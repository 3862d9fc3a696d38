/*
 * The event scanner (ingest/event_scan.h): validates one event's JSON in one pass and
 * records the values of the keys it is asked for.
 */
#include "ingest/event_scan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

/* jansson's JSON_PARSER_MAX_DEPTH: the top-level object is at depth 1. */
#define EV_MAX_DEPTH 2048

struct ev_scan {
    const char *json;
    const struct ing_scan_key *keys;
    size_t nkeys;
    const unsigned char *p, *end;
    char *reason;
    size_t reasonlen;
};

/* Bytes that stand for themselves inside a JSON string: 0x20..0x7f except '"' and '\\'. */
static const unsigned char ev_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    /* 0x80..0xff: 0 (UTF-8, checked sequence by sequence) */
};

static int scan_fail(struct ev_scan *s, const char *what)
{
    snprintf(s->reason, s->reasonlen, "not valid JSON: %s at byte %zu", what,
             (size_t)((const char *)s->p - s->json));
    return -1;
}

/* The byte at s->p is not what the grammar allows there. */
static int scan_unexpected(struct ev_scan *s)
{
    size_t at = (size_t)((const char *)s->p - s->json);
    if (s->p >= s->end)
        snprintf(s->reason, s->reasonlen, "not valid JSON: unexpected end of input at byte %zu",
                 at);
    else if (*s->p > 0x20 && *s->p < 0x7f)
        snprintf(s->reason, s->reasonlen,
                 "not valid JSON: unexpected character '%c' at byte %zu", *s->p, at);
    else
        snprintf(s->reason, s->reasonlen, "not valid JSON: unexpected byte 0x%02x at byte %zu",
                 *s->p, at);
    return -1;
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The four hex digits at p (end: the end of the input), or -1. */
static int32_t hex4(const unsigned char *p, const unsigned char *end)
{
    int32_t v = 0;
    if (end - p < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        int h = sy_hex_val(p[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at p (a byte >= 0x80), or 0: no overlong
 * forms, no surrogates, nothing above U+10FFFF (what jansson's utf8_check_full takes). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800..U+DFFF */
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* > U+10FFFF */
        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* The string at s->p (its opening quote): validates it and returns its body. */
static int scan_string(struct ev_scan *s, struct ing_jvalue *v)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    const unsigned char *body = p;
    int escaped = 0;

    for (;;) {
        while (p < end && ev_plain[*p])
            p++;
        s->p = p;
        if (p == end)
            return scan_fail(s, "unterminated string");
        if (*p == '"')
            break;
        if (*p == '\\') {
            int32_t u, lo;
            escaped = 1;
            if (end - p < 2)
                return scan_fail(s, "unterminated string");
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u':
                break;
            default:
                return scan_fail(s, "invalid escape");
            }
            if ((u = hex4(p + 2, end)) < 0)
                return scan_fail(s, "invalid \\u escape");
            if (u == 0)
                return scan_fail(s, "\\u0000 is not allowed");
            if (u >= 0xdc00 && u <= 0xdfff)
                return scan_fail(s, "lone low surrogate");
            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 8 || p[6] != '\\' || p[7] != 'u')
                    return scan_fail(s, "lone high surrogate");
                if ((lo = hex4(p + 8, end)) < 0) {
                    s->p = p + 6;
                    return scan_fail(s, "invalid \\u escape");
                }
                if (lo < 0xdc00 || lo > 0xdfff)
                    return scan_fail(s, "lone high surrogate");
                p += 12;
            } else {
                p += 6;
            }
            continue;
        }
        if (*p < 0x20)
            return scan_fail(s, "control character in string");
        size_t k = utf8_seq(p, end);
        if (!k)
            return scan_fail(s, "invalid UTF-8");
        p += k;
    }
    v->kind = ING_J_STRING;
    v->escaped = escaped;
    v->s = (const char *)body;
    v->n = (size_t)(p - body);
    s->p = p + 1;
    return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static const double ev_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The double nearest to the real number in [p, stop) (grammar already checked): what
 * strtod gives. With at most 15 significant digits and a power of ten up to 22, one
 * IEEE multiplication or division of two exact doubles is correctly rounded, like
 * strtod (Clinger's fast path); everything else goes to strtod, which then needs the
 * byte at stop to exist (it cannot continue a number). 0, or -1 on overflow, -2 when
 * strtod cannot run (input ends at stop) or disagrees about the extent. */
static int real_value(const unsigned char *p, const unsigned char *stop,
                      const unsigned char *end, double *out)
{
    const unsigned char *start = p;
    int neg = *p == '-';
    uint64_t m = 0;
    int nd = 0;
    long e10 = 0;
    char *after;
    double d;

    p += neg;
    for (; p < stop && *p >= '0' && *p <= '9'; p++)
        if (m || *p != '0') {
            m = m * 10 + (uint64_t)(*p - '0');
            if (++nd > 15)
                goto slow;
        }
    if (p < stop && *p == '.')
        for (p++; p < stop && *p >= '0' && *p <= '9'; p++) {
            e10--;
            if (m || *p != '0') {
                m = m * 10 + (uint64_t)(*p - '0');
                if (++nd > 15)
                    goto slow;
            }
        }
    if (p < stop) { /* 'e' or 'E' */
        int eneg = 0;
        long ex = 0;
        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        for (; p < stop; p++)
            if ((ex = ex * 10 + (*p - '0')) > 100000)
                goto slow;
        e10 += eneg ? -ex : ex;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (e10 >= -22 && e10 <= 22) {
        d = e10 < 0 ? (double)m / ev_pow10[-e10] : (double)m * ev_pow10[e10];
        *out = neg ? -d : d;
        return 0;
    }
slow:
    if (stop == end)
        return -2;
    errno = 0;
    d = strtod((const char *)start, &after);
    if (after != (const char *)stop)
        return -2;
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
        return -1;
    *out = d;
    return 0;
}

/* The number at s->p: an integer (no '.', 'e' or 'E'; must fit in int64) or a real. */
static int scan_number(struct ev_scan *s, struct ing_jvalue *v)
{
    const unsigned char *start = s->p, *p = start, *end = s->end;
    int neg = *p == '-', big = 0;
    uint64_t m = 0, lim;

    p += neg;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (!is_digit(p, end)) {
        s->p = p;
        return scan_unexpected(s);
    }
    if (*p == '0') {
        p++;
        if (is_digit(p, end)) {
            s->p = p;
            return scan_fail(s, "leading zero in a number");
        }
    } else {
        for (; is_digit(p, end); p++) {
            unsigned dg = *p - '0';
            if (m > lim / 10 || (m == lim / 10 && dg > lim % 10))
                big = 1;
            else
                m = m * 10 + dg;
        }
    }
    if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
        if (big)
            return scan_fail(s, "integer out of range (int64)");
        v->kind = ING_J_INT;
        v->i = neg ? (m ? -(int64_t)(m - 1) - 1 : 0) : (int64_t)m;
        v->s = (const char *)start;
        v->n = (size_t)(p - start);
        s->p = p;
        return 0;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(p, end)) {
            s->p = p;
            return scan_fail(s, "digit expected after '.'");
        }
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end)) {
            s->p = p;
            return scan_fail(s, "digit expected in exponent");
        }
        while (is_digit(p, end))
            p++;
    }
    switch (real_value(start, p, end, &v->d)) {
    case 0:
        break;
    case -1:
        return scan_fail(s, "real number overflow");
    default:
        s->p = p;
        return scan_unexpected(s); /* the input ends after a number */
    }
    v->kind = ING_J_REAL;
    v->s = (const char *)start;
    v->n = (size_t)(p - start);
    s->p = p;
    return 0;
}

static int scan_literal(struct ev_scan *s, const char *word, size_t n, enum ing_jkind kind,
                        struct ing_jvalue *v)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return scan_unexpected(s);
    s->p += n;
    v->kind = kind;
    return 0;
}

/* A string, number or literal at s->p; -2 (and nothing consumed) for anything else. */
static int scan_scalar(struct ev_scan *s, struct ing_jvalue *v)
{
    switch (*s->p) {
    case '"':
        return scan_string(s, v);
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    case '8': case '9':
        return scan_number(s, v);
    case 't':
        return scan_literal(s, "true", 4, ING_J_TRUE, v);
    case 'f':
        return scan_literal(s, "false", 5, ING_J_FALSE, v);
    case 'n':
        return scan_literal(s, "null", 4, ING_J_NULL, v);
    default:
        return scan_unexpected(s);
    }
}

/* Validates and skips the object or array at s->p, itself at nesting depth `depth`.
 * Iterative (a bit per level says object or array), so any depth up to EV_MAX_DEPTH
 * costs 256 bytes of stack. */
static int skip_container(struct ev_scan *s, unsigned depth)
{
    uint64_t obj[EV_MAX_DEPTH / 64 + 1];
    const unsigned base = depth;
    const unsigned char *end = s->end;
    struct ing_jvalue tmp;
    unsigned k;

open: /* s->p: '{' or '[' of the container at depth */
    k = depth - base;
    if (*s->p == '{')
        obj[k / 64] |= UINT64_C(1) << (k % 64);
    else
        obj[k / 64] &= ~(UINT64_C(1) << (k % 64));
    s->p = skip_ws(s->p + 1, end);
    if (s->p < end && *s->p == ((obj[k / 64] >> (k % 64) & 1) ? '}' : ']')) {
        s->p++;
        goto closed;
    }
element: /* s->p: the next element (an object's: its key) of the container at depth */
    k = depth - base;
    if (obj[k / 64] >> (k % 64) & 1) {
        if (s->p == end || *s->p != '"')
            return scan_unexpected(s);
        if (scan_string(s, &tmp) != 0)
            return -1;
        s->p = skip_ws(s->p, end);
        if (s->p == end || *s->p != ':')
            return scan_unexpected(s);
        s->p = skip_ws(s->p + 1, end);
    }
    if (depth + 1 > EV_MAX_DEPTH)
        return scan_fail(s, "nesting deeper than 2048");
    if (s->p == end)
        return scan_unexpected(s);
    if (*s->p == '{' || *s->p == '[') {
        depth++;
        goto open;
    }
    if (scan_scalar(s, &tmp) != 0)
        return -1;
next: /* after an element of the container at depth */
    k = depth - base;
    s->p = skip_ws(s->p, end);
    if (s->p < end && *s->p == ',') {
        s->p = skip_ws(s->p + 1, end);
        goto element;
    }
    if (s->p < end && *s->p == ((obj[k / 64] >> (k % 64) & 1) ? '}' : ']')) {
        s->p++;
        goto closed;
    }
    return scan_unexpected(s);
closed: /* the container at depth has ended */
    if (depth == base)
        return 0;
    depth--;
    goto next;
}

/* Any value at s->p, at nesting depth 2 (a member of the top-level object). */
static int scan_member_value(struct ev_scan *s, struct ing_jvalue *v)
{
    if (s->p == s->end)
        return scan_unexpected(s);
    if (*s->p == '{' || *s->p == '[') {
        v->kind = ING_J_CONTAINER;
        return skip_container(s, 2);
    }
    return scan_scalar(s, v);
}

/* The string body's bytes; see event_scan.h. */
char *ing_scan_unescape(char *o, const char *s, size_t n, int copy_escape)
{
    const char *end = s + n;
    while (s < end) {
        const char *bs = memchr(s, '\\', (size_t)(end - s));
        if (!bs)
            bs = end;
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        s = bs;
        if (s == end)
            break;
        char c = s[1];
        s += 2;
        switch (c) {
        case '"': case '/': *o++ = c; continue;
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case '\\': case 'n': case 'r': case 't':
            if (copy_escape) {
                *o++ = '\\';
                *o++ = c;
            } else {
                *o++ = c == '\\' ? '\\' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
            }
            continue;
        default: /* 'u' */
            break;
        }
        const unsigned char *u = (const unsigned char *)s;
        uint32_t cp = (uint32_t)hex4(u, u + 4);
        s += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) { /* scan_string checked the pair */
            cp = 0x10000 + ((cp - 0xd800) << 10) + (uint32_t)(hex4(u + 6, u + 10) - 0xdc00);
            s += 6;
        }
        if (copy_escape && (cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t')) {
            *o++ = '\\';
            *o++ = cp == '\\' ? '\\' : cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
        } else if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xc0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xe0 | cp >> 12);
            *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *o++ = (char)(0xf0 | cp >> 18);
            *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
            *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        }
    }
    return o;
}

/* The index of a key in s->keys, or -1. The router writes the keys in table order, so
 * the one after the previous match (*hint) is tried first. */
static int find_key(const struct ev_scan *s, const struct ing_jvalue *key, size_t *hint)
{
    const struct ing_scan_key *keys = s->keys;
    char buf[6 * ING_SCAN_KEY_MAX]; /* a decoded byte takes at most 6 bytes of escapes */
    const char *k = key->s;
    size_t n = key->n;

    if (key->escaped) {
        if (n > sizeof(buf))
            return -1;
        n = (size_t)(ing_scan_unescape(buf, k, n, 0) - buf);
        k = buf;
    }
    if (*hint < s->nkeys && keys[*hint].keylen == n && memcmp(keys[*hint].key, k, n) == 0)
        return (int)(*hint)++;
    for (size_t c = 0; c < s->nkeys; c++)
        if (keys[c].keylen == n && memcmp(keys[c].key, k, n) == 0) {
            *hint = c + 1;
            return (int)c;
        }
    return -1;
}

/* Scans the whole event: 0 (vals filled in), 1 valid JSON but not an object, -1 not
 * valid JSON (reason set). */
static int scan_event(struct ev_scan *s, struct ing_jvalue *vals)
{
    const unsigned char *end = s->end;
    size_t hint = 0;
    struct ing_jvalue key, skipped;

    s->p = skip_ws(s->p, end);
    if (s->p < end && *s->p == '[') {
        if (skip_container(s, 1) != 0)
            return -1;
        s->p = skip_ws(s->p, end);
        return s->p == end ? 1 : scan_unexpected(s);
    }
    if (s->p == end || *s->p != '{')
        return scan_unexpected(s); /* jansson wants '[' or '{' at the top */
    s->p = skip_ws(s->p + 1, end);
    if (s->p < end && *s->p == '}') {
        s->p++;
    } else {
        for (;;) {
            if (s->p == end || *s->p != '"')
                return scan_unexpected(s);
            if (scan_string(s, &key) != 0)
                return -1;
            s->p = skip_ws(s->p, end);
            if (s->p == end || *s->p != ':')
                return scan_unexpected(s);
            s->p = skip_ws(s->p + 1, end);
            int c = find_key(s, &key, &hint);
            if (scan_member_value(s, c >= 0 ? &vals[c] : &skipped) != 0)
                return -1;
            s->p = skip_ws(s->p, end);
            if (s->p < end && *s->p == ',') {
                s->p = skip_ws(s->p + 1, end);
                continue;
            }
            if (s->p < end && *s->p == '}') {
                s->p++;
                break;
            }
            return scan_unexpected(s);
        }
    }
    s->p = skip_ws(s->p, end);
    return s->p == end ? 0 : scan_unexpected(s);
}

int ing_scan_object(const char *json, size_t len, const struct ing_scan_key *keys, size_t nkeys,
                    struct ing_jvalue *vals, char *reason, size_t reasonlen)
{
    struct ev_scan s;

    s.json = json;
    s.keys = keys;
    s.nkeys = nkeys;
    s.p = (const unsigned char *)json;
    s.end = s.p + len;
    s.reason = reason;
    s.reasonlen = reasonlen;
    return scan_event(&s, vals);
}
