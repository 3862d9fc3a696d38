/*
 * For tests: ingest/event.c's binary COPY tuple against its text COPY line of the same
 * event. bin_compare() converts both ways and reads the tuple back as PostgreSQL's input
 * and receive functions would make it: both must accept or refuse alike (the same reason;
 * the binary one may also refuse a real that float4in refuses as an underflow, then the
 * first such column's reason is the binary one's), and every
 * field of the tuple must be the value PostgreSQL makes of the line's text (text escaped
 * as COPY's text format escapes it, integers printed, reals equal to strtod/strtof of the
 * text, booleans t/f, NULL \N). Returns NULL when they agree, else what differs.
 */
#ifndef SY_TESTS_EVENT_BINARY_H
#define SY_TESTS_EVENT_BINARY_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/event.h"
#include "wire/event.h"

static const wire_field_type bin_types[] = {
#define BIN_TYPE(key, col, type, required) type,
    WIRE_EVENT_FIELDS(BIN_TYPE)
#undef BIN_TYPE
};
#define BIN_NCOLS (sizeof(bin_types) / sizeof(bin_types[0]))

static uint64_t bin_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

/* The next tab-separated field of *s (empty fields too), NULL after the last. */
static char *bin_next_field(char **s)
{
    char *f = *s, *tab;
    if (!f)
        return NULL;
    tab = strchr(f, '\t');
    if (tab)
        *tab++ = '\0';
    *s = tab;
    return f;
}

/* One binary field (len bytes at p, len -1: NULL) as COPY text, into o (room enough);
 * reals as the text they must equal instead, checked by the caller. */
static int bin_field_text(wire_field_type t, const unsigned char *p, int64_t len, char *o,
                          const char *want)
{
    if (len < 0)
        return strcmp(want, "\\N") == 0;
    switch (t) {
    case WIRE_F_TEXT: {
        char *start = o;
        for (int64_t i = 0; i < len; i++) {
            char c = (char)p[i];
            if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
                *o++ = '\\';
                *o++ = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            } else {
                *o++ = c;
            }
        }
        *o = '\0';
        return strcmp(start, want) == 0;
    }
    case WIRE_F_INT4:
        if (len != 4)
            return 0;
        sprintf(o, "%" PRId32, (int32_t)(uint32_t)bin_be(p, 4));
        return strcmp(o, want) == 0;
    case WIRE_F_INT8:
    case WIRE_F_TS_US: /* timestamptz: microseconds since 2000 */
        if (len != 8)
            return 0;
        sprintf(o, "%" PRId64,
                (int64_t)bin_be(p, 8) + (t == WIRE_F_TS_US ? INT64_C(946684800000000) : 0));
        return strcmp(o, want) == 0;
    case WIRE_F_REAL4: {
        uint32_t u = (uint32_t)bin_be(p, 4);
        float f, g = strtof(want, NULL);
        if (len != 4)
            return 0;
        memcpy(&f, &u, 4);
        return memcmp(&f, &g, 4) == 0;
    }
    case WIRE_F_REAL8: {
        uint64_t u = bin_be(p, 8);
        double d, g = strtod(want, NULL);
        if (len != 8)
            return 0;
        memcpy(&d, &u, 8);
        return memcmp(&d, &g, 8) == 0;
    }
    case WIRE_F_BOOL:
        return len == 1 && strcmp(p[0] ? "t" : "f", want) == 0;
    }
    return 0;
}

static const char *bin_compare(const char *json, size_t len)
{
    static char msg[256];
    struct ing_buf tb = {0}, bb = {0};
    char tr[256], br[256];
    int tc = ing_event_to_copy(json, len, &tb, tr, sizeof(tr));
    int bc = ing_event_to_copy_binary(json, len, &bb, br, sizeof(br));
    const char *diff = NULL;

    if (tc != 0 || bc != 0) {
        if (bc != 0 && strstr(br, "out of range (real)") && strcmp(tr, br) != 0)
            diff = NULL; /* an underflow float4in refuses too, at the COPY (if nothing
                            after it in the event is refused first) */
        else if (tc != bc)
            diff = tc == 0 ? "binary refused what text accepted" : "binary accepted what text refused";
        else if (strcmp(tr, br) != 0)
            diff = "reasons differ";
        goto out;
    }
    const unsigned char *p = (const unsigned char *)bb.data, *end = p + bb.len;
    char *save = tb.data;
    tb.data[tb.len - 1] = '\0'; /* the newline */
    if (bb.len < 2 || bin_be(p, 2) != BIN_NCOLS) {
        diff = "binary field count";
        goto out;
    }
    p += 2;
    char *field = bin_next_field(&save);
    char *text = malloc(2 * len + 64);
    for (size_t k = 0; k < BIN_NCOLS && !diff; k++) {
        if (!field || p + 4 > end) {
            diff = "too few fields";
            break;
        }
        int64_t n = (int32_t)(uint32_t)bin_be(p, 4);
        p += 4;
        if (n > end - p) {
            diff = "field past the end";
            break;
        }
        if (!text || !bin_field_text(bin_types[k], p, n, text, field)) {
            snprintf(msg, sizeof(msg), "column %zu: binary differs from text \"%.100s\"", k, field);
            diff = msg;
        }
        p += n > 0 ? n : 0;
        field = bin_next_field(&save);
    }
    if (!diff && (p != end || field))
        diff = "fields after the last column";
    free(text);
out:
    ing_buf_free(&tb);
    ing_buf_free(&bb);
    return diff;
}

#endif
