/*
 * Request events -> COPY lines (ingest/event.h). ingest/event_scan.c reads the JSON;
 * this file checks each value against its column and writes the line.
 */
#include "ingest/event.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/numfmt.h"
#include "ingest/event_scan.h"
#include "wire/event.h"

struct ev_column {
    const char *key;  /* JSON key */
    const char *col;  /* requests column */
    wire_field_type type;
    int required;
};

/* Order = COPY column order = the order the router writes the keys in. */
static const struct ev_column ev_columns[] = {
#define EV_COL(key, col, type, required) {#key, col, type, required},
    WIRE_EVENT_FIELDS(EV_COL)
#undef EV_COL
};
#define EV_NCOLUMNS (sizeof(ev_columns) / sizeof(ev_columns[0]))

/* The same keys, for the scanner: ev_keys[k] is ev_columns[k].key. They are shorter
 * than ING_SCAN_KEY_MAX (test_migrate_event.c's columns() checks). */
static const struct ing_scan_key ev_keys[] = {
#define EV_KEY(key, col, type, required) {#key, sizeof(#key) - 1},
    WIRE_EVENT_FIELDS(EV_KEY)
#undef EV_KEY
};

static const char *const ev_type_names[] = {"a string", "an integer", "an integer",
                                            "a number", "a number", "true or false",
                                            "an integer (microseconds since 1970)"};
static const char *const ev_ranges[] = {"", "32-bit integer", "64-bit integer", "real",
                                        "double precision", "", "1970-01-01..9999-12-31"};

/* The staging table's type: the column's, but ts arrives as microseconds and is
 * converted in the INSERT. */
static const char *stage_type(wire_field_type t)
{
    return t == WIRE_F_TS_US ? "bigint" : wire_field_sql_type(t);
}

void ing_buf_free(struct ing_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes and a NUL. */
static int buf_reserve(struct ing_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    char *p;
    while (b->len + n + 1 > ncap)
        ncap *= 2;
    p = realloc(b->data, ncap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int ing_buf_append(struct ing_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Longest %.17g of a double ("-1.2345678901234567e-308") plus its NUL, rounded up. */
#define EV_REAL_MAX 32

/* An integer's text as printing its value gives it: JSON integers have no leading zeros
 * or '+', so only "-0" differs. */
static char *put_int(char *o, const struct ing_jvalue *v)
{
    if (v->i == 0) {
        *o++ = '0';
        return o;
    }
    memcpy(o, v->s, v->n);
    return o + v->n;
}

/* printf("%.17g", d), as the converter always wrote reals; sy_fmt_g17 when it can. */
static char *put_real(char *o, double d)
{
    size_t n;
    if (d == 0) {
        if (signbit(d))
            *o++ = '-';
        *o++ = '0';
        return o;
    }
    if ((n = sy_fmt_g17(o, d)) > 0)
        return o + n;
    int k = snprintf(o, EV_REAL_MAX, "%.17g", d);
    return o + (k > 0 ? k : 0);
}

/* Checks one column's value against the column. Returns 0, or -1 with *why: 1 for a
 * wrong type or a missing required value, 2 for an empty required string, 3 for out of
 * range. A missing or null value of a column that may be NULL passes. */
static int check_value(const struct ev_column *c, const struct ing_jvalue *v, int *why)
{
    *why = 1;
    if (v->kind == ING_J_MISSING || v->kind == ING_J_NULL)
        return c->required ? -1 : 0;
    switch (c->type) {
    case WIRE_F_TEXT:
        if (v->kind != ING_J_STRING)
            return -1;
        if (c->required && v->n == 0) {
            *why = 2;
            return -1;
        }
        return 0;
    case WIRE_F_INT4:
    case WIRE_F_INT8:
    case WIRE_F_TS_US:
        if (v->kind != ING_J_INT)
            return -1;
        if ((c->type == WIRE_F_INT4 && (v->i < INT32_MIN || v->i > INT32_MAX)) ||
            (c->type == WIRE_F_TS_US && (v->i < 0 || v->i > WIRE_TS_US_MAX))) {
            *why = 3;
            return -1;
        }
        return 0;
    case WIRE_F_REAL4:
    case WIRE_F_REAL8:
        if (v->kind == ING_J_INT)
            return 0;
        if (v->kind != ING_J_REAL)
            return -1;
        if (!isfinite(v->d) || (c->type == WIRE_F_REAL4 && fabs(v->d) > FLT_MAX)) {
            *why = 3;
            return -1;
        }
        return 0;
    case WIRE_F_BOOL:
        return v->kind == ING_J_TRUE || v->kind == ING_J_FALSE ? 0 : -1;
    }
    return -1;
}

/* Writes one checked value (check_value) at o (room enough) as COPY text; returns the end. */
static char *put_text(char *o, const struct ev_column *c, const struct ing_jvalue *v)
{
    if (v->kind == ING_J_MISSING || v->kind == ING_J_NULL) {
        o[0] = '\\';
        o[1] = 'N';
        return o + 2;
    }
    switch (c->type) {
    case WIRE_F_TEXT:
        if (!v->escaped) { /* no escapes: no control characters either, nothing to escape */
            memcpy(o, v->s, v->n);
            return o + v->n;
        }
        return ing_scan_unescape(o, v->s, v->n, 1);
    case WIRE_F_INT4:
    case WIRE_F_INT8:
    case WIRE_F_TS_US:
        return put_int(o, v);
    case WIRE_F_REAL4:
    case WIRE_F_REAL8:
        if (v->kind == ING_J_INT) {
            /* as a double; up to 2^53 that prints as the integer itself */
            if (v->i >= -(INT64_C(1) << 53) && v->i <= INT64_C(1) << 53)
                return put_int(o, v);
            return put_real(o, (double)v->i);
        }
        return put_real(o, v->d);
    case WIRE_F_BOOL:
        *o = v->kind == ING_J_TRUE ? 't' : 'f';
        return o + 1;
    }
    return o;
}

static char *put_be(char *o, uint64_t v, int bytes)
{
    for (int k = bytes - 1; k >= 0; k--)
        *o++ = (char)(v >> (8 * k) & 0xff);
    return o;
}

/* A field of COPY's binary format: its length (4 bytes), then the value. */
static char *put_field(char *o, uint64_t v, int bytes)
{
    return put_be(put_be(o, (uint64_t)bytes, 4), v, bytes);
}

/* put_text() for COPY's binary format: the value PostgreSQL's input function would make
 * of put_text()'s text, in the type's binary form, the requests column's type (ts_us as
 * the timestamptz ts). Returns the end, or NULL (*why 3) for the one value check_value
 * passes that the text would not: a real that float4in refuses as an underflow (its text
 * rounds to 0 as a float). */
static char *put_binary(char *o, const struct ev_column *c, const struct ing_jvalue *v,
                        int *why)
{
    char txt[EV_REAL_MAX];
    double d;
    float f;
    uint32_t u4;
    uint64_t u8;

    if (v->kind == ING_J_MISSING || v->kind == ING_J_NULL)
        return put_be(o, 0xffffffffu, 4); /* length -1: NULL */
    switch (c->type) {
    case WIRE_F_TEXT: {
        char *end = v->escaped ? ing_scan_unescape(o + 4, v->s, v->n, 0)
                               : (char *)memcpy(o + 4, v->s, v->n) + v->n;
        put_be(o, (uint64_t)(end - (o + 4)), 4);
        return end;
    }
    case WIRE_F_INT4:
        return put_field(o, (uint32_t)(int32_t)v->i, 4);
    case WIRE_F_TS_US: /* timestamptz: microseconds since 2000-01-01 */
        return put_field(o, (uint64_t)(v->i - WIRE_PG_EPOCH_US), 8);
    case WIRE_F_INT8:
        return put_field(o, (uint64_t)v->i, 8);
    case WIRE_F_REAL4:
    case WIRE_F_REAL8:
        d = v->kind == ING_J_INT ? (double)v->i : v->d;
        if (c->type == WIRE_F_REAL8) {
            memcpy(&u8, &d, 8);
            return put_field(o, u8, 8);
        }
        /* float4in's strtof of the text: rounding the printed decimal, not d, to a float
         * (they can differ when d is a float's halfway point) */
        *put_real(txt, d) = '\0';
        f = strtof(txt, NULL);
        if (f == 0 && d != 0) {
            *why = 3;
            return NULL;
        }
        memcpy(&u4, &f, 4);
        return put_field(o, u4, 4);
    case WIRE_F_BOOL:
        return put_field(o, v->kind == ING_J_TRUE, 1);
    }
    return o;
}

static int event_convert(const char *json, size_t len, struct ing_buf *out, char *reason,
                         size_t reasonlen, int binary)
{
    struct ing_jvalue vals[EV_NCOLUMNS];
    size_t mark = out->len;
    char *o;
    int r;

    if (!json) {
        snprintf(reason, reasonlen, "not valid JSON: no input");
        return -1;
    }
    for (size_t k = 0; k < EV_NCOLUMNS; k++)
        vals[k].kind = ING_J_MISSING;
    r = ing_scan_object(json, len, ev_keys, EV_NCOLUMNS, vals, reason, reasonlen);
    if (r < 0)
        return -1;
    if (r > 0) {
        snprintf(reason, reasonlen, "not a JSON object");
        return -1;
    }
    /* Every value is at most as long as its JSON text, or EV_REAL_MAX, or "\N"; plus
     * tabs and the newline (binary: plus a 4-byte length per field, 2 bytes of count). */
    if (buf_reserve(out, len + EV_NCOLUMNS * (EV_REAL_MAX + 5) + 2) != 0) {
        snprintf(reason, reasonlen, "out of memory");
        return -1;
    }
    o = out->data + mark;
    if (binary)
        o = put_be(o, EV_NCOLUMNS, 2);
    for (size_t k = 0; k < EV_NCOLUMNS; k++) {
        const struct ev_column *c = &ev_columns[k];
        const struct ing_jvalue *v = &vals[k];
        int why;
        if (k > 0 && !binary)
            *o++ = '\t';
        if (check_value(c, v, &why) == 0)
            o = binary ? put_binary(o, c, v, &why) : put_text(o, c, v);
        else
            o = NULL;
        if (o == NULL) {
            if (c->required && (v->kind == ING_J_MISSING || v->kind == ING_J_NULL))
                snprintf(reason, reasonlen, "missing %s", c->key);
            else if (why == 2)
                snprintf(reason, reasonlen, "%s: empty", c->key);
            else if (why == 3)
                snprintf(reason, reasonlen, "%s: out of range (%s)", c->key, ev_ranges[c->type]);
            else
                snprintf(reason, reasonlen, "%s: expected %s", c->key, ev_type_names[c->type]);
            out->data[mark] = '\0';
            return -1;
        }
    }
    if (!binary)
        *o++ = '\n';
    *o = '\0';
    out->len = (size_t)(o - out->data);
    return 0;
}

int ing_event_to_copy(const char *json, size_t len, struct ing_buf *out, char *reason,
                      size_t reasonlen)
{
    return event_convert(json, len, out, reason, reasonlen, 0);
}

int ing_event_to_copy_binary(const char *json, size_t len, struct ing_buf *out, char *reason,
                             size_t reasonlen)
{
    return event_convert(json, len, out, reason, reasonlen, 1);
}

const char ing_copy_binary_header[ING_COPY_BINARY_HEADER_LEN] = {
    'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0', /* signature */
    0, 0, 0, 0, /* flags */
    0, 0, 0, 0, /* header extension length */
};
const char ing_copy_binary_trailer[ING_COPY_BINARY_TRAILER_LEN] = {'\377', '\377'};

static int put(char *dst, size_t dstlen, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *dst, size_t dstlen, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*pos >= dstlen)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(dst + *pos, dstlen - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= dstlen - *pos)
        return -1;
    *pos += (size_t)n;
    return 0;
}

int ing_event_sql(const char *table, char *create, size_t createlen, char *copy, size_t copylen,
                  char *insert, size_t insertlen)
{
    return ing_event_sql_format(table, 0, create, createlen, copy, copylen, insert, insertlen);
}

int ing_event_sql_format(const char *table, int binary, char *create, size_t createlen,
                         char *copy, size_t copylen, char *insert, size_t insertlen)
{
    size_t cp = 0, yp = 0, ip = 0;
    int bad = 0;

    bad |= put(create, createlen, &cp, "CREATE TEMP TABLE IF NOT EXISTS %s (", table);
    bad |= put(copy, copylen, &yp, "COPY %s (", table);
    for (size_t k = 0; k < EV_NCOLUMNS; k++) {
        const char *sep = k ? ", " : "";
        /* binary: the requests columns and types (so the same tuples fit a partition) */
        const char *name = binary ? ev_columns[k].col : ev_columns[k].key;
        bad |= put(create, createlen, &cp, "%s%s %s", sep, name,
                   binary ? wire_field_sql_type(ev_columns[k].type)
                          : stage_type(ev_columns[k].type));
        bad |= put(copy, copylen, &yp, "%s%s", sep, name);
    }
    bad |= put(create, createlen, &cp, ") ON COMMIT DELETE ROWS");
    bad |= put(copy, copylen, &yp, ") FROM STDIN%s", binary ? " (FORMAT binary)" : "");
    /* migrations/0009: the rows straight into their day partitions, rollups set-wise */
    bad |= put(insert, insertlen, &ip, "SELECT sy_ingest_requests('%s')", table);
    return bad ? -1 : 0;
}
