#include "router/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "common/numfmt.h"
#include "wire/event.h"

/* Appends without bounds checks: rt_event_json reserves the worst case first. */
static char *put_mem(char *w, const char *p, size_t n)
{
    memcpy(w, p, n);
    return w + n;
}

#define PUT_LIT(w, s) put_mem((w), (s), sizeof(s) - 1)

static char *put_i64(char *w, int64_t v) { return w + sy_fmt_i64(w, v); }

/* printf("%.<decimals>f") without printf; snprintf for what sy_fmt_fixed leaves
 * (at most FIXED_MAX bytes: %.10f of the largest double is 320) */
#define FIXED_MAX 330
static char *put_fixed(char *w, double v, int decimals)
{
    size_t n = sy_fmt_fixed(w, v, decimals);
    if (n == 0) {
        int k = snprintf(w, FIXED_MAX, "%.*f", decimals, v);
        n = k < 0 ? 0 : (size_t)k < FIXED_MAX ? (size_t)k : FIXED_MAX - 1;
    }
    return w + n;
}

/* ,"key":"value" (escaped) or ,"key":null; at most 6 + strlen(key) + 6 * strlen(v) + 2 */
static char *put_str(char *w, const char *key, size_t klen, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    *w++ = ',';
    *w++ = '"';
    w = put_mem(w, key, klen);
    if (!v)
        return PUT_LIT(w, "\":null");
    w = PUT_LIT(w, "\":\"");
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s != '"' && *s != '\\' && *s >= 0x20) {
            *w++ = (char)*s;
        } else if (*s == '"' || *s == '\\') {
            *w++ = '\\';
            *w++ = (char)*s;
        } else {
            w = PUT_LIT(w, "\\u00");
            *w++ = hex[*s >> 4];
            *w++ = hex[*s & 0xf];
        }
    }
    *w++ = '"';
    return w;
}

static char *put_key(char *w, const char *key, size_t klen)
{
    *w++ = ',';
    *w++ = '"';
    w = put_mem(w, key, klen);
    *w++ = '"';
    *w++ = ':';
    return w;
}

static char *put_real(char *w, const char *key, size_t klen, double v, int decimals)
{
    w = put_key(w, key, klen);
    return isnan(v) ? PUT_LIT(w, "null") : put_fixed(w, v, decimals);
}

static char *put_bool(char *w, const char *key, size_t klen, int v)
{
    w = put_key(w, key, klen);
    return v ? PUT_LIT(w, "true") : PUT_LIT(w, "false");
}

static char *put_int(char *w, const char *key, size_t klen, int64_t v)
{
    return put_i64(put_key(w, key, klen), v);
}

static size_t str_bound(const char *v) { return v ? 6 * strlen(v) : 0; }

/* One writer per wire type; each value comes after ',"key":'. */
#define PUT_WIRE_F_TEXT(w, k, v) put_str((w), k, sizeof(k) - 1, (v))
#define PUT_WIRE_F_INT4(w, k, v) put_int((w), k, sizeof(k) - 1, (v))
#define PUT_WIRE_F_INT8(w, k, v) put_int((w), k, sizeof(k) - 1, (v))
#define PUT_WIRE_F_TS_US(w, k, v) put_int((w), k, sizeof(k) - 1, (v))
#define PUT_WIRE_F_REAL4(w, k, v) put_real((w), k, sizeof(k) - 1, (v), 4)
#define PUT_WIRE_F_REAL8(w, k, v) put_real((w), k, sizeof(k) - 1, (v), 10)
#define PUT_WIRE_F_BOOL(w, k, v) put_bool((w), k, sizeof(k) - 1, (v))

/* Worst case of a value: 6 bytes per string byte (\u00XX), a formatted real, an int64. */
#define BOUND_WIRE_F_TEXT(v) str_bound(v)
#define BOUND_WIRE_F_INT4(v) 20
#define BOUND_WIRE_F_INT8(v) 20
#define BOUND_WIRE_F_TS_US(v) 20
#define BOUND_WIRE_F_REAL4(v) FIXED_MAX
#define BOUND_WIRE_F_REAL8(v) FIXED_MAX
#define BOUND_WIRE_F_BOOL(v) 5

/* Numbers are formatted without printf (common/numfmt.h), to the same bytes
 * printf's %d, %lld and %.Nf gave: this runs once per request. The buffer is
 * sized for the worst case up front, then filled without checks. Every field writes
 * a leading ',', the first one's becomes the '{'. */
char *rt_event_json(const rt_event *ev, size_t *len)
{
#define FIELD_BOUND(key, col, type, required) +sizeof(#key) + 8 + BOUND_##type(ev->key)
    size_t bound = 2 WIRE_EVENT_FIELDS(FIELD_BOUND);
#undef FIELD_BOUND
    char *buf = malloc(bound);
    if (!buf)
        return NULL;
    char *w = buf;
#define FIELD_PUT(key, col, type, required) w = PUT_##type(w, #key, ev->key);
    WIRE_EVENT_FIELDS(FIELD_PUT)
#undef FIELD_PUT
    buf[0] = '{';
    *w++ = '}';
    *w = '\0';
    *len = (size_t)(w - buf);
    return buf;
}
