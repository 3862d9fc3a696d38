#include "controller/event.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ev_type { EV_TEXT, EV_INT4, EV_INT8, EV_FLOAT4, EV_FLOAT8, EV_BOOL, EV_TS_US };

struct ev_column {
    const char *key;  /* JSON key */
    const char *col;  /* requests column */
    enum ev_type type;
    int required;
};

/* Order = COPY column order. Keep in step with migrations/ and docs/architecture.md. */
static const struct ev_column ev_columns[] = {
    {"request_id", "request_id", EV_TEXT, 1},
    {"ts_us", "ts", EV_TS_US, 1},
    {"project", "project", EV_TEXT, 0},
    {"user_hash", "user_hash", EV_TEXT, 0},
    {"bucket", "bucket", EV_INT4, 0},
    {"experiment", "experiment", EV_TEXT, 0},
    {"phase", "phase", EV_TEXT, 0},
    {"routed_bp", "routed_bp", EV_INT4, 0},
    {"cohort", "cohort", EV_TEXT, 0},
    {"task_type", "task_type", EV_TEXT, 0},
    {"task_confidence", "task_confidence", EV_FLOAT4, 0},
    {"mode", "mode", EV_TEXT, 0},
    {"served_model", "served_model", EV_TEXT, 0},
    {"provider", "provider", EV_TEXT, 0},
    {"would_have_model", "would_have_model", EV_TEXT, 0},
    {"stream", "stream", EV_BOOL, 0},
    {"status", "status", EV_INT4, 0},
    {"error", "error", EV_TEXT, 0},
    {"attempts", "attempts", EV_INT4, 0},
    {"tokens_in", "tokens_in", EV_INT4, 0},
    {"tokens_out", "tokens_out", EV_INT4, 0},
    {"cost_usd", "cost_usd", EV_FLOAT8, 0},
    {"baseline_cost_usd", "baseline_cost_usd", EV_FLOAT8, 0},
    {"latency_us", "latency_us", EV_INT8, 0},
    {"upstream_us", "upstream_us", EV_INT8, 0},
    {"overhead_us", "overhead_us", EV_INT8, 0},
    {"redis_fallback", "redis_fallback", EV_BOOL, 0},
};
#define EV_NCOLUMNS (sizeof(ev_columns) / sizeof(ev_columns[0]))

/* ts_us bounds: 1970-01-01 .. 9999-12-31T23:59:59.999999Z */
#define EV_TS_US_MAX INT64_C(253402300799999999)

static const char *const ev_type_names[] = {"a string", "an integer", "an integer",
                                            "a number", "a number", "true or false",
                                            "an integer (microseconds since 1970)"};
static const char *const ev_ranges[] = {"", "32-bit integer", "64-bit integer", "real",
                                        "double precision", "", "1970-01-01..9999-12-31"};
static const char *const ev_sql_types[] = {"text", "integer", "bigint", "real",
                                           "double precision", "boolean", "bigint"};

void ctl_buf_free(struct ctl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ctl_buf_append(struct ctl_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        char *p;
        while (b->len + n + 1 > ncap)
            ncap *= 2;
        p = realloc(b->data, ncap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return ctl_buf_append(b, tmp, (size_t)n);
}

/* COPY text format: backslash, newline, carriage return and tab are escaped. */
static int buf_copy_text(struct ctl_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: continue;
        }
        if (ctl_buf_append(b, s + start, i - start) != 0 || ctl_buf_append(b, esc, 2) != 0)
            return -1;
        start = i + 1;
    }
    return ctl_buf_append(b, s + start, n - start);
}

/* Appends one value; returns 0, 1 for a wrong type or a missing required value, 2 for an
 * empty required string, 3 for out of range, -1 for out of memory. */
static int append_value(struct ctl_buf *b, const struct ev_column *c, json_t *v)
{
    json_int_t i;
    double d;

    if (!v || json_is_null(v))
        return c->required ? 1 : ctl_buf_append(b, "\\N", 2);
    switch (c->type) {
    case EV_TEXT:
        if (!json_is_string(v))
            return 1;
        if (c->required && json_string_length(v) == 0)
            return 2;
        return buf_copy_text(b, json_string_value(v), json_string_length(v));
    case EV_INT4:
        if (!json_is_integer(v))
            return 1;
        i = json_integer_value(v);
        if (i < INT32_MIN || i > INT32_MAX)
            return 3;
        return buf_printf(b, "%" JSON_INTEGER_FORMAT, i);
    case EV_INT8:
        if (!json_is_integer(v))
            return 1;
        return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case EV_TS_US:
        if (!json_is_integer(v))
            return 1;
        i = json_integer_value(v);
        if (i < 0 || i > EV_TS_US_MAX)
            return 3;
        return buf_printf(b, "%" JSON_INTEGER_FORMAT, i);
    case EV_FLOAT4:
    case EV_FLOAT8:
        if (!json_is_number(v))
            return 1;
        d = json_number_value(v);
        if (!isfinite(d) || (c->type == EV_FLOAT4 && fabs(d) > FLT_MAX))
            return 3;
        return buf_printf(b, "%.17g", d);
    case EV_BOOL:
        if (!json_is_boolean(v))
            return 1;
        return ctl_buf_append(b, json_is_true(v) ? "t" : "f", 1);
    }
    return 1;
}

int ctl_event_to_copy(const char *json, size_t len, struct ctl_buf *out, char *reason,
                      size_t reasonlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    size_t mark = out->len;
    int rc = -1;

    if (!root) {
        snprintf(reason, reasonlen, "not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(reason, reasonlen, "not a JSON object");
        goto fail;
    }
    for (size_t k = 0; k < EV_NCOLUMNS; k++) {
        const struct ev_column *c = &ev_columns[k];
        json_t *v = json_object_get(root, c->key);
        int r;
        if (k > 0 && ctl_buf_append(out, "\t", 1) != 0)
            goto oom;
        r = append_value(out, c, v);
        if (r < 0)
            goto oom;
        if (r > 0) {
            if (c->required && (!v || json_is_null(v)))
                snprintf(reason, reasonlen, "missing %s", c->key);
            else if (r == 2)
                snprintf(reason, reasonlen, "%s: empty", c->key);
            else if (r == 3)
                snprintf(reason, reasonlen, "%s: out of range (%s)", c->key, ev_ranges[c->type]);
            else
                snprintf(reason, reasonlen, "%s: expected %s", c->key, ev_type_names[c->type]);
            goto fail;
        }
    }
    if (ctl_buf_append(out, "\n", 1) != 0)
        goto oom;
    rc = 0;
    goto done;
oom:
    snprintf(reason, reasonlen, "out of memory");
fail:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
done:
    json_decref(root);
    return rc;
}

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

int ctl_event_sql(const char *table, char *create, size_t createlen, char *copy, size_t copylen,
                  char *insert, size_t insertlen)
{
    size_t cp = 0, yp = 0, ip = 0;
    int bad = 0;

    bad |= put(create, createlen, &cp, "CREATE TEMP TABLE IF NOT EXISTS %s (", table);
    bad |= put(copy, copylen, &yp, "COPY %s (", table);
    bad |= put(insert, insertlen, &ip, "INSERT INTO requests (");
    for (size_t k = 0; k < EV_NCOLUMNS; k++) {
        const char *sep = k ? ", " : "";
        bad |= put(create, createlen, &cp, "%s%s %s", sep, ev_columns[k].key,
                   ev_sql_types[ev_columns[k].type]);
        bad |= put(copy, copylen, &yp, "%s%s", sep, ev_columns[k].key);
        bad |= put(insert, insertlen, &ip, "%s%s", sep, ev_columns[k].col);
    }
    bad |= put(create, createlen, &cp, ") ON COMMIT DELETE ROWS");
    bad |= put(copy, copylen, &yp, ") FROM STDIN");
    bad |= put(insert, insertlen, &ip, ") SELECT ");
    for (size_t k = 0; k < EV_NCOLUMNS; k++) {
        const char *sep = k ? ", " : "";
        if (ev_columns[k].type == EV_TS_US)
            bad |= put(insert, insertlen, &ip,
                       "%stimestamptz 'epoch' + %s * interval '1 microsecond'", sep,
                       ev_columns[k].key);
        else
            bad |= put(insert, insertlen, &ip, "%s%s", sep, ev_columns[k].key);
    }
    bad |= put(insert, insertlen, &ip, " FROM %s ON CONFLICT DO NOTHING", table);
    return bad ? -1 : 0;
}
