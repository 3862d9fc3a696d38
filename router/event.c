#include "router/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sb {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_reserve(struct sb *b, size_t n)
{
    if (b->oom || b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        b->oom = 1;
        return;
    }
    b->p = q;
    b->cap = cap;
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_mem(struct sb *b, const char *p, size_t n)
{
    sb_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *key, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    sb_mem(b, ",\"", 2);
    sb_mem(b, key, strlen(key));
    if (!v) {
        sb_mem(b, "\":null", 6);
        return;
    }
    sb_mem(b, "\":\"", 3);
    const unsigned char *run = (const unsigned char *)v;
    const unsigned char *s = run;
    for (; *s; s++) {
        if (*s != '"' && *s != '\\' && *s >= 0x20)
            continue;
        sb_mem(b, (const char *)run, (size_t)(s - run));
        if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s};
            sb_mem(b, esc, sizeof(esc));
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 0xf]};
            sb_mem(b, esc, sizeof(esc));
        }
        run = s + 1;
    }
    sb_mem(b, (const char *)run, (size_t)(s - run));
    sb_mem(b, "\"", 1);
}

char *rt_event_json(const rt_event *ev, size_t *len)
{
    struct sb b = {0};
    sb_reserve(&b, 1024);
    sb_printf(&b, "{\"request_id\":\"%s\",\"ts_us\":%lld", ev->request_id, (long long)ev->ts_us);
    sb_str(&b, "project", ev->project);
    sb_str(&b, "user_hash", ev->user_hash);
    sb_printf(&b, ",\"bucket\":%d", ev->bucket);
    sb_str(&b, "experiment", ev->experiment);
    sb_str(&b, "phase", ev->phase);
    sb_printf(&b, ",\"routed_bp\":%d", ev->routed_bp);
    sb_str(&b, "cohort", ev->cohort);
    sb_str(&b, "task_type", ev->task_type);
    if (ev->task_type)
        sb_printf(&b, ",\"task_confidence\":%.4f", ev->task_confidence);
    else
        sb_printf(&b, ",\"task_confidence\":null");
    sb_str(&b, "mode", ev->mode);
    sb_str(&b, "served_model", ev->served_model);
    sb_str(&b, "provider", ev->provider);
    sb_str(&b, "would_have_model", ev->would_have_model);
    sb_printf(&b, ",\"stream\":%s,\"status\":%d", ev->stream ? "true" : "false", ev->status);
    sb_str(&b, "error", ev->error);
    sb_printf(&b,
              ",\"attempts\":%d,\"tokens_in\":%ld,\"tokens_out\":%ld,\"cost_usd\":%.10f,"
              "\"baseline_cost_usd\":%.10f,\"latency_us\":%lld,\"upstream_us\":%lld,"
              "\"overhead_us\":%lld,\"redis_fallback\":%s}",
              ev->attempts, ev->tokens_in, ev->tokens_out, ev->cost_usd, ev->baseline_cost_usd,
              (long long)ev->latency_us, (long long)ev->upstream_us, (long long)ev->overhead_us,
              ev->redis_fallback ? "true" : "false");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
