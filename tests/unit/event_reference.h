/*
 * The request event converter as it was before ingest/event.c got its own JSON
 * scanner: jansson's json_loadb (flags 0), then json_object_get per column. Kept here,
 * verbatim but for the names, as the reference that test_migrate_event.c and
 * tests/fuzz/fuzz_event.c compare the product against. Test code only.
 *
 * Known, deliberate difference (see ingest/event_scan.h): jansson skips one raw NUL byte
 * directly after a number or true/false/null; the product rejects a raw NUL anywhere.
 * ref_compare() allows exactly that.
 */
#ifndef SY_TEST_EVENT_REFERENCE_H
#define SY_TEST_EVENT_REFERENCE_H

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/event.h"

enum ref_type { REF_TEXT, REF_INT4, REF_INT8, REF_FLOAT4, REF_FLOAT8, REF_BOOL, REF_TS_US };

struct ref_column {
    const char *key;  /* JSON key */
    const char *col;  /* requests column */
    enum ref_type type;
    int required;
};

/* Order = COPY column order. Keep in step with migrations/ and docs/architecture.md. */
static const struct ref_column ref_columns[] = {
    {"request_id", "request_id", REF_TEXT, 1},
    {"ts_us", "ts", REF_TS_US, 1},
    {"project", "project", REF_TEXT, 0},
    {"user_hash", "user_hash", REF_TEXT, 0},
    {"bucket", "bucket", REF_INT4, 0},
    {"experiment", "experiment", REF_TEXT, 0},
    {"phase", "phase", REF_TEXT, 0},
    {"routed_bp", "routed_bp", REF_INT4, 0},
    {"cohort", "cohort", REF_TEXT, 0},
    {"task_type", "task_type", REF_TEXT, 0},
    {"task_confidence", "task_confidence", REF_FLOAT4, 0},
    {"mode", "mode", REF_TEXT, 0},
    {"served_model", "served_model", REF_TEXT, 0},
    {"provider", "provider", REF_TEXT, 0},
    {"would_have_model", "would_have_model", REF_TEXT, 0},
    {"stream", "stream", REF_BOOL, 0},
    {"status", "status", REF_INT4, 0},
    {"error", "error", REF_TEXT, 0},
    {"attempts", "attempts", REF_INT4, 0},
    {"fallback", "fallback", REF_TEXT, 0},
    {"sticky", "sticky", REF_BOOL, 0},
    {"tokens_in", "tokens_in", REF_INT4, 0},
    {"tokens_out", "tokens_out", REF_INT4, 0},
    {"cached_tokens", "cached_tokens", REF_INT4, 0},
    {"cache_write_tokens", "cache_write_tokens", REF_INT4, 0},
    {"cost_usd", "cost_usd", REF_FLOAT8, 0},
    {"baseline_cost_usd", "baseline_cost_usd", REF_FLOAT8, 0},
    {"latency_us", "latency_us", REF_INT8, 0},
    {"upstream_us", "upstream_us", REF_INT8, 0},
    {"overhead_us", "overhead_us", REF_INT8, 0},
    {"redis_fallback", "redis_fallback", REF_BOOL, 0},
};
#define REF_NCOLUMNS (sizeof(ref_columns) / sizeof(ref_columns[0]))

/* ts_us bounds: 1970-01-01 .. 9999-12-31T23:59:59.999999Z */
#define REF_TS_US_MAX INT64_C(253402300799999999)

static const char *const ref_type_names[] = {"a string", "an integer", "an integer",
                                            "a number", "a number", "true or false",
                                            "an integer (microseconds since 1970)"};
static const char *const ref_ranges[] = {"", "32-bit integer", "64-bit integer", "real",
                                        "double precision", "", "1970-01-01..9999-12-31"};
static int ref_buf_printf(struct ing_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ref_buf_printf(struct ing_buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return ing_buf_append(b, tmp, (size_t)n);
}

/* COPY text format: backslash, newline, carriage return and tab are escaped. */
static int ref_buf_copy_text(struct ing_buf *b, const char *s, size_t n)
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
        if (ing_buf_append(b, s + start, i - start) != 0 || ing_buf_append(b, esc, 2) != 0)
            return -1;
        start = i + 1;
    }
    return ing_buf_append(b, s + start, n - start);
}

/* Appends one value; returns 0, 1 for a wrong type or a missing required value, 2 for an
 * empty required string, 3 for out of range, -1 for out of memory. */
static int ref_append_value(struct ing_buf *b, const struct ref_column *c, json_t *v)
{
    json_int_t i;
    double d;

    if (!v || json_is_null(v))
        return c->required ? 1 : ing_buf_append(b, "\\N", 2);
    switch (c->type) {
    case REF_TEXT:
        if (!json_is_string(v))
            return 1;
        if (c->required && json_string_length(v) == 0)
            return 2;
        return ref_buf_copy_text(b, json_string_value(v), json_string_length(v));
    case REF_INT4:
        if (!json_is_integer(v))
            return 1;
        i = json_integer_value(v);
        if (i < INT32_MIN || i > INT32_MAX)
            return 3;
        return ref_buf_printf(b, "%" JSON_INTEGER_FORMAT, i);
    case REF_INT8:
        if (!json_is_integer(v))
            return 1;
        return ref_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case REF_TS_US:
        if (!json_is_integer(v))
            return 1;
        i = json_integer_value(v);
        if (i < 0 || i > REF_TS_US_MAX)
            return 3;
        return ref_buf_printf(b, "%" JSON_INTEGER_FORMAT, i);
    case REF_FLOAT4:
    case REF_FLOAT8:
        if (!json_is_number(v))
            return 1;
        d = json_number_value(v);
        if (!isfinite(d) || (c->type == REF_FLOAT4 && fabs(d) > FLT_MAX))
            return 3;
        return ref_buf_printf(b, "%.17g", d);
    case REF_BOOL:
        if (!json_is_boolean(v))
            return 1;
        return ing_buf_append(b, json_is_true(v) ? "t" : "f", 1);
    }
    return 1;
}

static int ref_event_to_copy(const char *json, size_t len, struct ing_buf *out, char *reason,
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
    for (size_t k = 0; k < REF_NCOLUMNS; k++) {
        const struct ref_column *c = &ref_columns[k];
        json_t *v = json_object_get(root, c->key);
        int r;
        if (k > 0 && ing_buf_append(out, "\t", 1) != 0)
            goto oom;
        r = ref_append_value(out, c, v);
        if (r < 0)
            goto oom;
        if (r > 0) {
            if (c->required && (!v || json_is_null(v)))
                snprintf(reason, reasonlen, "missing %s", c->key);
            else if (r == 2)
                snprintf(reason, reasonlen, "%s: empty", c->key);
            else if (r == 3)
                snprintf(reason, reasonlen, "%s: out of range (%s)", c->key, ref_ranges[c->type]);
            else
                snprintf(reason, reasonlen, "%s: expected %s", c->key, ref_type_names[c->type]);
            goto fail;
        }
    }
    if (ing_buf_append(out, "\n", 1) != 0)
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


#define REF_NOT_JSON "not valid JSON: "

/*
 * Runs both converters on the same input, each appending to a copy of prior (plen
 * bytes), and compares: same status; on success the same bytes; on failure the same
 * reason, except that for invalid JSON only the "not valid JSON: " prefix must agree.
 * Returns NULL when they agree, else a description (static buffer) of the difference.
 */
static const char *ref_compare(const char *json, size_t len, const char *prior, size_t plen)
{
    static char diff[1024];
    struct ing_buf a = {0}, b = {0};
    char ra[512], rb[512];
    int ca, cb;
    const char *bad = NULL;

    ra[0] = rb[0] = '\0';
    if (plen && (ing_buf_append(&a, prior, plen) != 0 || ing_buf_append(&b, prior, plen) != 0))
        abort();
    ca = ing_event_to_copy(json, len, &a, ra, sizeof(ra));
    cb = ref_event_to_copy(json, len, &b, rb, sizeof(rb));
    if (memchr(json, '\0', len)) {
        /* the documented difference: a raw NUL is never valid here */
        if (ca != -1 || strncmp(ra, REF_NOT_JSON, strlen(REF_NOT_JSON)) != 0)
            bad = "accepted a raw NUL byte";
    } else if (ca != cb) {
        bad = ca == 0 ? "new accepts, jansson rejects" : "new rejects, jansson accepts";
    } else if (ca == 0) {
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            bad = "different COPY lines";
    } else if (!strncmp(rb, REF_NOT_JSON, strlen(REF_NOT_JSON))) {
        if (strncmp(ra, REF_NOT_JSON, strlen(REF_NOT_JSON)) != 0)
            bad = "jansson: not JSON, new: another reason";
    } else if (strcmp(ra, rb) != 0) {
        bad = "different reasons";
    }
    if (ca == -1 && (a.len != plen || (plen && memcmp(a.data, prior, plen) != 0)))
        bad = "failure changed the buffer";
    if (bad)
        snprintf(diff, sizeof(diff), "%s: new rc %d \"%.*s\" / %.300s; jansson rc %d \"%.*s\" / %.300s",
                 bad, ca, ca == 0 ? (int)(a.len - plen) : 0, a.data ? a.data + plen : "", ra,
                 cb, cb == 0 ? (int)(b.len - plen) : 0, b.data ? b.data + plen : "", rb);
    ing_buf_free(&a);
    ing_buf_free(&b);
    return bad ? diff : NULL;
}

#endif
