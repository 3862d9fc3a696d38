#include "router/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/numfmt.h"

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

#define PUT_STR(w, key, v) put_str((w), (key), sizeof(key) - 1, (v))

static size_t str_bound(const char *v) { return v ? 6 * strlen(v) : 0; }

/* Numbers are formatted without printf (common/numfmt.h), to the same bytes
 * printf's %d, %lld and %.Nf gave: this runs once per request. The buffer is
 * sized for the worst case up front, then filled without checks. */
char *rt_event_json(const rt_event *ev, size_t *len)
{
    size_t bound = 1024 /* keys, punctuation, integers */ + 3 * FIXED_MAX +
                   strlen(ev->request_id) + str_bound(ev->project) + str_bound(ev->user_hash) +
                   str_bound(ev->experiment) + str_bound(ev->phase) + str_bound(ev->cohort) +
                   str_bound(ev->task_type) + str_bound(ev->mode) + str_bound(ev->served_model) +
                   str_bound(ev->provider) + str_bound(ev->would_have_model) +
                   str_bound(ev->error);
    char *buf = malloc(bound);
    if (!buf)
        return NULL;
    char *w = buf;
    w = PUT_LIT(w, "{\"request_id\":\"");
    w = put_mem(w, ev->request_id, strlen(ev->request_id));
    w = PUT_LIT(w, "\",\"ts_us\":");
    w = put_i64(w, ev->ts_us);
    w = PUT_STR(w, "project", ev->project);
    w = PUT_STR(w, "user_hash", ev->user_hash);
    w = PUT_LIT(w, ",\"bucket\":");
    w = put_i64(w, ev->bucket);
    w = PUT_STR(w, "experiment", ev->experiment);
    w = PUT_STR(w, "phase", ev->phase);
    w = PUT_LIT(w, ",\"routed_bp\":");
    w = put_i64(w, ev->routed_bp);
    w = PUT_STR(w, "cohort", ev->cohort);
    w = PUT_STR(w, "task_type", ev->task_type);
    w = PUT_LIT(w, ",\"task_confidence\":");
    if (ev->task_type)
        w = put_fixed(w, ev->task_confidence, 4);
    else
        w = PUT_LIT(w, "null");
    w = PUT_STR(w, "mode", ev->mode);
    w = PUT_STR(w, "served_model", ev->served_model);
    w = PUT_STR(w, "provider", ev->provider);
    w = PUT_STR(w, "would_have_model", ev->would_have_model);
    if (ev->stream)
        w = PUT_LIT(w, ",\"stream\":true,\"status\":");
    else
        w = PUT_LIT(w, ",\"stream\":false,\"status\":");
    w = put_i64(w, ev->status);
    w = PUT_STR(w, "error", ev->error);
    w = PUT_LIT(w, ",\"attempts\":");
    w = put_i64(w, ev->attempts);
    w = PUT_LIT(w, ",\"tokens_in\":");
    w = put_i64(w, ev->tokens_in);
    w = PUT_LIT(w, ",\"tokens_out\":");
    w = put_i64(w, ev->tokens_out);
    w = PUT_LIT(w, ",\"cost_usd\":");
    w = put_fixed(w, ev->cost_usd, 10);
    w = PUT_LIT(w, ",\"baseline_cost_usd\":");
    w = put_fixed(w, ev->baseline_cost_usd, 10);
    w = PUT_LIT(w, ",\"latency_us\":");
    w = put_i64(w, ev->latency_us);
    w = PUT_LIT(w, ",\"upstream_us\":");
    w = put_i64(w, ev->upstream_us);
    w = PUT_LIT(w, ",\"overhead_us\":");
    w = put_i64(w, ev->overhead_us);
    if (ev->redis_fallback)
        w = PUT_LIT(w, ",\"redis_fallback\":true}");
    else
        w = PUT_LIT(w, ",\"redis_fallback\":false}");
    *w = '\0';
    *len = (size_t)(w - buf);
    return buf;
}
