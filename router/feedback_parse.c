/*
 * feedback_parse: webhook bodies -> validated items (see feedback_parse.h).
 */
#include "router/feedback_parse.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "experiments/cohort.h"
#include "wire/task.h"

const char *rt_fb_kind_str(rt_fb_kind k)
{
    switch (k) {
    case RT_FB_THUMB: return "thumb";
    case RT_FB_RATING: return "rating";
    case RT_FB_COMMENT: return "comment";
    case RT_FB_TICKET: return "ticket";
    }
    return "?";
}

const char *rt_fb_kind_column(rt_fb_kind k)
{
    return k == RT_FB_THUMB ? "thumbs" : rt_fb_kind_str(k);
}

/* ---------- errors ---------- */

static char *item_error(int is_array, size_t i, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *item_error(int is_array, size_t i, const char *field, const char *fmt, ...)
{
    char path[320], reason[512];
    if (is_array)
        snprintf(path, sizeof(path), "[%zu]%s%s", i, field ? "." : "", field ? field : "");
    else
        snprintf(path, sizeof(path), "%s", field ? field : "body");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    size_t n = strlen(path) + 2 + strlen(reason) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %s", path, reason);
    return s;
}

void rt_fb_error_path(const char *error, char *out, size_t outlen)
{
    if (!outlen)
        return;
    const char *colon = error ? strstr(error, ": ") : NULL;
    size_t n = colon ? (size_t)(colon - error) : 0;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, error, n);
    out[n] = '\0';
}

/* ---------- time ---------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rt_fb_parse_rfc3339(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    size_t len = strlen(s);
    if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0 || nd > 9)
            return -1;
        for (int i = nd; i < 6; i++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (int64_t)(oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *us = secs * 1000000 + frac;
    return 0;
}

void rt_fb_format_utc(int64_t us, char *out, size_t outlen)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}

/* ---------- field helpers ---------- */

/* A JSON string of 1..max bytes, or NULL. */
static const char *str_field(json_t *v, size_t max)
{
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    return n >= 1 && n <= max ? json_string_value(v) : NULL;
}

/* A key fit to appear in an error path: 1..64 of [A-Za-z0-9_-]. */
static int plain_key(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if (n >= 64 || !((k[n] >= 'a' && k[n] <= 'z') || (k[n] >= 'A' && k[n] <= 'Z') ||
                         (k[n] >= '0' && k[n] <= '9') || k[n] == '_' || k[n] == '-'))
            return 0;
    return n > 0;
}

static char *unknown_field(int arr, size_t i, const char *k)
{
    if (plain_key(k))
        return item_error(arr, i, k, "unknown field");
    return item_error(arr, i, NULL, "unknown field (a name that is not a field of this object)");
}

static int check_unknown(json_t *obj, const char *const *allowed, const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(k, *a))
                ok = 1;
        if (!ok) {
            *bad = k;
            return -1;
        }
    }
    return 0;
}

/* Optional fields: absent and JSON null are the same. */
static json_t *opt(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* ---------- canonical form and hash ---------- */

struct canon {
    char buf[2 * RT_FB_ID_MAX + RT_FB_COMMENT_MAX + 512];
    size_t len;
};

static void canon_field(struct canon *c, const char *s)
{
    size_t room = sizeof(c->buf) - c->len;
    int w = s ? snprintf(c->buf + c->len, room, "%zu:%s;", strlen(s), s)
              : snprintf(c->buf + c->len, room, "-;");
    if (w > 0)
        c->len += (size_t)w < room ? (size_t)w : room - 1;
}

/* SHA-256 over length-prefixed fields (absent fields are "-"), version tagged, so no
 * two different items share a form. Field sizes are bounded, so the form fits. */
static void content_hash(rt_fb_item *it)
{
    struct canon c = {.len = 0};
    unsigned char md[SHA256_DIGEST_LENGTH];
    char rating[4];
    snprintf(rating, sizeof(rating), "%d", it->rating);
    canon_field(&c, "feedback.v1");
    canon_field(&c, it->feedback_id);
    canon_field(&c, it->request_id);
    canon_field(&c, rt_fb_kind_str(it->kind));
    canon_field(&c, it->value);
    canon_field(&c, it->rating ? rating : NULL);
    canon_field(&c, it->comment);
    canon_field(&c, it->user_hash[0] ? it->user_hash : NULL);
    canon_field(&c, it->has_created_at ? it->created_at : NULL);
    SHA256((const unsigned char *)c.buf, c.len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(it->content_hash + 2 * i, 3, "%02x", md[i]);
}

/* ---------- one feedback item ---------- */

/* What the batch is checked against besides its own content. */
struct fb_limits {
    int64_t now_us;
    int max_skew_s; /* < 0: none */
};

static char *check_feedback(json_t *o, int arr, size_t i, rt_fb_item *it,
                            const struct fb_limits *lim)
{
    static const char *const allowed[] = {"feedback_id", "request_id", "kind", "value",
                                          "comment", "user_id", "created_at", NULL};
    const char *bad;
    if (!json_is_object(o))
        return item_error(arr, i, NULL, "must be an object");
    if (check_unknown(o, allowed, &bad))
        return unknown_field(arr, i, bad);

    json_t *v = json_object_get(o, "feedback_id");
    if (!v)
        return item_error(arr, i, "feedback_id", "required");
    if (!(it->feedback_id = str_field(v, RT_FB_ID_MAX)))
        return item_error(arr, i, "feedback_id", "must be a string of 1 to %d bytes", RT_FB_ID_MAX);
    v = json_object_get(o, "request_id");
    if (!v)
        return item_error(arr, i, "request_id", "required");
    if (!(it->request_id = str_field(v, RT_FB_ID_MAX)))
        return item_error(arr, i, "request_id", "must be a string of 1 to %d bytes", RT_FB_ID_MAX);

    v = json_object_get(o, "kind");
    if (!v)
        return item_error(arr, i, "kind", "required");
    const char *kind = json_string_value(v);
    if (kind && !strcmp(kind, "thumb"))
        it->kind = RT_FB_THUMB;
    else if (kind && !strcmp(kind, "rating"))
        it->kind = RT_FB_RATING;
    else if (kind && !strcmp(kind, "comment"))
        it->kind = RT_FB_COMMENT;
    else if (kind && !strcmp(kind, "ticket"))
        it->kind = RT_FB_TICKET;
    else
        return item_error(arr, i, "kind", "must be one of thumb, rating, comment, ticket");

    v = opt(o, "value");
    switch (it->kind) {
    case RT_FB_THUMB:
        if (!v)
            return item_error(arr, i, "value", "required for kind thumb (\"up\" or \"down\")");
        it->value = json_string_value(v);
        if (!it->value || (strcmp(it->value, "up") && strcmp(it->value, "down")))
            return item_error(arr, i, "value", "thumb must be \"up\" or \"down\"");
        break;
    case RT_FB_RATING:
        if (!v)
            return item_error(arr, i, "value", "required for kind rating (an integer from 1 to 5)");
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5)
            return item_error(arr, i, "value", "rating must be an integer from 1 to 5");
        it->rating = (int)json_integer_value(v);
        break;
    case RT_FB_COMMENT:
        if (v)
            return item_error(arr, i, "value", "not allowed for kind comment (send the text in comment)");
        break;
    case RT_FB_TICKET:
        if (v) {
            static const char *const sev[] = {"low", "normal", "high", "urgent", NULL};
            const char *s = json_string_value(v);
            int ok = 0;
            for (const char *const *p = sev; s && *p; p++)
                if (!strcmp(s, *p))
                    ok = 1;
            if (!ok)
                return item_error(arr, i, "value",
                                  "ticket severity must be one of low, normal, high, urgent");
            it->value = s;
        }
        break;
    }

    v = opt(o, "comment");
    if (v) {
        if (!json_is_string(v))
            return item_error(arr, i, "comment", "must be a string");
        size_t n = json_string_length(v);
        if (n > RT_FB_COMMENT_MAX)
            return item_error(arr, i, "comment", "must be at most %d bytes of UTF-8 (got %zu)",
                              RT_FB_COMMENT_MAX, n);
        it->comment = json_string_value(v);
    }
    if (it->kind == RT_FB_COMMENT && (!it->comment || !it->comment[0]))
        return item_error(arr, i, "comment", "required and non-empty for kind comment");

    v = opt(o, "user_id");
    if (v) {
        const char *u = str_field(v, RT_FB_ID_MAX);
        if (!u)
            return item_error(arr, i, "user_id", "must be a string of 1 to %d bytes", RT_FB_ID_MAX);
        exp_user_hash(u, json_string_length(v), it->user_hash);
    }

    v = opt(o, "created_at");
    if (v) {
        const char *s = json_string_value(v);
        if (!s || json_string_length(v) > 64 || rt_fb_parse_rfc3339(s, &it->created_at_us))
            return item_error(arr, i, "created_at",
                              "must be an RFC 3339 date-time such as 2026-11-28T03:00:00Z");
        if (lim->max_skew_s >= 0 &&
            it->created_at_us > lim->now_us + (int64_t)lim->max_skew_s * 1000000)
            return item_error(arr, i, "created_at",
                              "is in the future (more than %d seconds after the time of "
                              "receipt)",
                              lim->max_skew_s);
        it->has_created_at = 1;
        rt_fb_format_utc(it->created_at_us, it->created_at, sizeof(it->created_at));
    }
    content_hash(it);
    return NULL;
}

/* ---------- one label ---------- */


static char *check_label(json_t *o, int arr, size_t i, rt_label_item *it)
{
    static const char *const allowed[] = {"request_id", "task_type", "labeller", "prompt", NULL};
    const char *bad;
    if (!json_is_object(o))
        return item_error(arr, i, NULL, "must be an object");
    if (check_unknown(o, allowed, &bad))
        return unknown_field(arr, i, bad);
    json_t *v = json_object_get(o, "request_id");
    if (!v)
        return item_error(arr, i, "request_id", "required");
    if (!(it->request_id = str_field(v, RT_FB_ID_MAX)))
        return item_error(arr, i, "request_id", "must be a string of 1 to %d bytes", RT_FB_ID_MAX);
    v = json_object_get(o, "task_type");
    if (!v)
        return item_error(arr, i, "task_type", "required");
    it->task_type = str_field(v, RT_FB_TASK_TYPE_MAX);
    wire_task t;
    if (!it->task_type || wire_task_parse(it->task_type, &t) != 0) {
        char names[128];
        size_t n = 0;
        names[0] = '\0';
        for (int k = 0; k < WIRE_NTASKS; k++) {
            int w = snprintf(names + n, sizeof(names) - n, "%s%s", k ? ", " : "",
                             wire_task_str((wire_task)k));
            if (w > 0 && (size_t)w < sizeof(names) - n)
                n += (size_t)w;
        }
        return item_error(arr, i, "task_type", "must be one of the classifier's task types: %s",
                          names);
    }
    v = json_object_get(o, "labeller");
    if (!v)
        return item_error(arr, i, "labeller", "required");
    if (!(it->labeller = str_field(v, RT_FB_ID_MAX)))
        return item_error(arr, i, "labeller", "must be a string of 1 to %d bytes", RT_FB_ID_MAX);
    v = opt(o, "prompt");
    if (v && !(it->prompt = str_field(v, RT_FB_PROMPT_MAX)))
        return item_error(arr, i, "prompt", "must be a string of 1 to %d bytes of UTF-8",
                          RT_FB_PROMPT_MAX);
    return NULL;
}

/* ---------- repeated keys inside a batch ---------- */

uint64_t rt_fb_key_hash(const char *a, const char *b)
{
    static const unsigned char sep = 0xff; /* a byte no UTF-8 text holds */
    uint64_t h = sy_fnv1a64_str(SY_FNV1A64_OFFSET, a);
    h = sy_fnv1a64(h, &sep, 1);
    return b ? sy_fnv1a64_str(h, b) : h;
}

/* Open addressing over the valid items; key(i) gives the item's key parts.
 * same(i, j) says whether two items with equal keys have equal content. */
static int fold_repeats(rt_fb_batch *b)
{
    size_t cap = 16;
    while (cap < b->n * 2)
        cap <<= 1;
    size_t *slot = malloc(cap * sizeof(*slot));
    if (!slot)
        return -1;
    for (size_t s = 0; s < cap; s++)
        slot[s] = (size_t)-1;
    for (size_t i = 0; i < b->n; i++) {
        const char *k1, *k2;
        char **err;
        int *dup;
        if (b->items) {
            if (b->items[i].error)
                continue;
            k1 = b->items[i].feedback_id;
            k2 = NULL;
            err = &b->items[i].error;
            dup = &b->items[i].dup_of;
        } else {
            if (b->labels[i].error)
                continue;
            k1 = b->labels[i].request_id;
            k2 = b->labels[i].labeller;
            err = &b->labels[i].error;
            dup = &b->labels[i].dup_of;
        }
        size_t s = (size_t)rt_fb_key_hash(k1, k2) & (cap - 1);
        for (;; s = (s + 1) & (cap - 1)) {
            size_t j = slot[s];
            if (j == (size_t)-1) {
                slot[s] = i;
                break;
            }
            int same_key, same_content;
            if (b->items) {
                same_key = !strcmp(b->items[j].feedback_id, k1);
                same_content = same_key && !strcmp(b->items[j].content_hash, b->items[i].content_hash);
            } else {
                same_key = !strcmp(b->labels[j].request_id, k1) && !strcmp(b->labels[j].labeller, k2);
                same_content = same_key &&
                               !strcmp(b->labels[j].task_type, b->labels[i].task_type) &&
                               !b->labels[j].prompt == !b->labels[i].prompt &&
                               (!b->labels[j].prompt ||
                                !strcmp(b->labels[j].prompt, b->labels[i].prompt));
            }
            if (!same_key)
                continue;
            if (same_content)
                *dup = (int)j;
            else if (b->items)
                *err = item_error(b->is_array, i, "feedback_id",
                                  "repeats [%zu] with different content", j);
            else
                *err = item_error(b->is_array, i, "labeller",
                                  "repeats [%zu] (same request_id and labeller) with a different "
                                  "task_type or prompt", j);
            if (!same_content && !*err) {
                free(slot);
                return -1;
            }
            break;
        }
    }
    free(slot);
    return 0;
}

/* ---------- batch ---------- */

static rt_fb_parse_status parse(const char *json, size_t len, size_t max_items, int labels,
                                const struct fb_limits *lim, rt_fb_batch *out, char *err,
                                size_t errlen)
{
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    if (errlen)
        err[0] = '\0';
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "body: invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return RT_FB_PARSE_BODY;
    }
    out->doc = root;
    if (json_is_array(root)) {
        out->is_array = 1;
        out->n = json_array_size(root);
        if (out->n == 0 || out->n > max_items) {
            snprintf(err, errlen, "body: a batch must hold 1 to %zu items (got %zu)", max_items,
                     out->n);
            return RT_FB_PARSE_BODY;
        }
    } else if (json_is_object(root)) {
        out->n = 1;
    } else {
        snprintf(err, errlen, "body: must be a JSON object or an array of 1 to %zu objects",
                 max_items);
        return RT_FB_PARSE_BODY;
    }
    if (labels)
        out->labels = calloc(out->n, sizeof(rt_label_item));
    else
        out->items = calloc(out->n, sizeof(rt_fb_item));
    if (!out->labels && !out->items) {
        snprintf(err, errlen, "body: out of memory");
        return RT_FB_PARSE_NOMEM;
    }
    for (size_t i = 0; i < out->n; i++) {
        json_t *o = out->is_array ? json_array_get(root, i) : root;
        if (labels) {
            out->labels[i].dup_of = -1;
            out->labels[i].error = check_label(o, out->is_array, i, &out->labels[i]);
        } else {
            out->items[i].dup_of = -1;
            out->items[i].error = check_feedback(o, out->is_array, i, &out->items[i], lim);
        }
    }
    if (fold_repeats(out)) {
        snprintf(err, errlen, "body: out of memory");
        return RT_FB_PARSE_NOMEM;
    }
    for (size_t i = 0; i < out->n; i++) {
        const char *e = labels ? out->labels[i].error : out->items[i].error;
        if (e && out->nerrors++ == 0)
            out->first_error = i;
    }
    return RT_FB_PARSE_OK;
}

rt_fb_parse_status rt_fb_parse_feedback(const char *json, size_t len, size_t max_items,
                                        int64_t now_us, int max_skew_s, rt_fb_batch *out,
                                        char *err, size_t errlen)
{
    const struct fb_limits lim = {now_us, max_skew_s};
    return parse(json, len, max_items, 0, &lim, out, err, errlen);
}

rt_fb_parse_status rt_fb_parse_labels(const char *json, size_t len, size_t max_items,
                                      rt_fb_batch *out, char *err, size_t errlen)
{
    const struct fb_limits none = {0, -1};
    return parse(json, len, max_items, 1, &none, out, err, errlen);
}

void rt_fb_batch_free(rt_fb_batch *b)
{
    for (size_t i = 0; b->items && i < b->n; i++)
        free(b->items[i].error);
    for (size_t i = 0; b->labels && i < b->n; i++)
        free(b->labels[i].error);
    free(b->items);
    free(b->labels);
    if (b->doc)
        json_decref((json_t *)b->doc);
    memset(b, 0, sizeof(*b));
}
