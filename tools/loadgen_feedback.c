/*
 * loadgen_feedback: batching, signing and retrying feedback (see loadgen_feedback.h).
 *
 * A batch is owned by the waiting list (between attempts) or by its HTTP call
 * (during one); exactly one of the two at any time.
 */
#include "tools/loadgen_feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "tools/loadgen_http.h"
#include "wire/sig.h"

typedef struct fb_batch {
    lg_feedback *fb;
    struct fb_batch *next; /* waiting list */
    char *body;
    size_t len;
    long nitems;
    int attempts;
    int64_t retry_at_us;
} fb_batch;

struct lg_feedback {
    lg_http *http;
    char *url;
    char *secret;
    int timeout_ms;
    /* the queue: items joined with ',' (without the brackets) */
    char *q;
    size_t qlen, qcap;
    long qitems;
    int64_t last_flush_us;
    fb_batch *waiting; /* batches waiting for their retry time */
    fb_batch *flying;  /* batches on the wire (owned here; the call only points at them) */
    int inflight;      /* batches on the wire */
    long inflight_items;
    lg_feedback_stats st;
};

lg_feedback *lg_feedback_new(lg_http *http, const char *url, const char *secret, int timeout_ms)
{
    lg_feedback *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    fb->http = http;
    fb->url = strdup(url);
    fb->secret = strdup(secret ? secret : "");
    fb->timeout_ms = timeout_ms;
    if (!fb->url || !fb->secret) {
        lg_feedback_free(fb);
        return NULL;
    }
    return fb;
}

static void batch_free(fb_batch *b)
{
    free(b->body);
    free(b);
}

void lg_feedback_free(lg_feedback *fb)
{
    if (!fb)
        return;
    lg_feedback_abandon(fb);
    free(fb->q);
    free(fb->url);
    free(fb->secret);
    free(fb);
}

int lg_feedback_add(lg_feedback *fb, const char *item, size_t len)
{
    size_t need = fb->qlen + len + 2;
    if (need > fb->qcap) {
        size_t cap = fb->qcap ? fb->qcap : 64 * 1024;
        while (cap < need)
            cap *= 2;
        char *t = realloc(fb->q, cap);
        if (!t) {
            fb->st.failed++;
            return -1;
        }
        fb->q = t;
        fb->qcap = cap;
    }
    if (fb->qitems)
        fb->q[fb->qlen++] = ',';
    memcpy(fb->q + fb->qlen, item, len);
    fb->qlen += len;
    fb->qitems++;
    fb->st.queued++;
    return 0;
}

static void send_batch(lg_feedback *fb, fb_batch *b);

static void retry_later(lg_feedback *fb, fb_batch *b, long delay_ms, const char *why)
{
    if (b->attempts >= LG_FB_MAX_ATTEMPTS) {
        sy_log_kv(SY_ERROR, "feedback batch given up", "reason", why, NULL);
        fb->st.failed += b->nitems;
        batch_free(b);
        return;
    }
    b->retry_at_us = sy_clock_mono_us() + delay_ms * 1000;
    b->next = fb->waiting;
    fb->waiting = b;
}

static void unfly(lg_feedback *fb, fb_batch *b)
{
    for (fb_batch **pp = &fb->flying; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            b->next = NULL;
            return;
        }
}

static void on_sent(const lg_http_res *res, void *arg)
{
    fb_batch *b = arg;
    lg_feedback *fb = b->fb;
    unfly(fb, b);
    fb->inflight--;
    fb->inflight_items -= b->nitems;
    if (res->transport_ok && res->status >= 200 && res->status < 300) {
        fb->st.sent += b->nitems;
        fb->st.batches++;
        batch_free(b);
        return;
    }
    char why[256];
    if (!res->transport_ok)
        snprintf(why, sizeof(why), "no answer: %s", res->error);
    else
        snprintf(why, sizeof(why), "HTTP %ld: %.200s", res->status, res->body);
    int retryable = !res->transport_ok || res->status == 429 || res->status >= 500;
    if (!retryable) {
        sy_log_kv(SY_ERROR, "feedback batch refused", "reason", why, NULL);
        fb->st.failed += b->nitems;
        batch_free(b);
        return;
    }
    /* backoff: Retry-After when the router gives one, else 200 ms doubling to 10 s */
    long delay_ms = 200L << (b->attempts < 6 ? b->attempts - 1 : 5);
    if (delay_ms > 10000)
        delay_ms = 10000;
    const char *ra = res->transport_ok ? lg_http_res_header(res, "Retry-After") : NULL;
    if (ra) {
        char *end;
        long s = strtol(ra, &end, 10);
        if (end != ra && !*end && s >= 0 && s <= 3600)
            delay_ms = s * 1000;
    }
    sy_log(SY_WARN, "feedback batch retry", "attempt=%d items=%ld delay_ms=%ld status=%ld",
           b->attempts, b->nitems, delay_ms, res->status);
    retry_later(fb, b, delay_ms, why);
}

static void send_batch(lg_feedback *fb, fb_batch *b)
{
    char sig[65], hdr[128];
    int64_t t = (int64_t)time(NULL);
    b->attempts++;
    if (b->attempts > 1)
        fb->st.retries++;
    if (wire_sig_sign(fb->secret, strlen(fb->secret), t, b->body, b->len, sig)) {
        retry_later(fb, b, 1000, "cannot sign the batch");
        return;
    }
    snprintf(hdr, sizeof(hdr), WIRE_SIG_HEADER ": t=%lld,v1=%s", (long long)t, sig);
    lg_http_spec spec = {
        .url = fb->url,
        .body = b->body,
        .body_len = b->len,
        .headers = {hdr, NULL},
        .timeout_ms = fb->timeout_ms,
        .max_body = 4096,
        .on_done = on_sent,
        .arg = b,
    };
    if (lg_http_start(fb->http, &spec)) {
        retry_later(fb, b, 1000, "cannot start the HTTP call");
        return;
    }
    b->next = fb->flying;
    fb->flying = b;
    fb->inflight++;
    fb->inflight_items += b->nitems;
}

/* Cut up to LG_FB_BATCH_MAX items off the front of the queue into a batch. */
static fb_batch *take_batch(lg_feedback *fb)
{
    size_t cut = fb->qlen;
    long n = fb->qitems;
    if (n > LG_FB_BATCH_MAX) {
        /* the queue is JSON objects joined by ',': find the end of the
         * LG_FB_BATCH_MAX-th by brace depth, skipping strings */
        int depth = 0, in_str = 0;
        long seen = 0;
        for (size_t i = 0; i < fb->qlen; i++) {
            char c = fb->q[i];
            if (in_str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = 0;
            } else if (c == '"') {
                in_str = 1;
            } else if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0 && ++seen == LG_FB_BATCH_MAX) {
                cut = i + 1;
                break;
            }
        }
        n = LG_FB_BATCH_MAX;
    }
    fb_batch *b = calloc(1, sizeof(*b));
    char *body = malloc(cut + 3);
    if (!b || !body) {
        free(b);
        free(body);
        return NULL;
    }
    body[0] = '[';
    memcpy(body + 1, fb->q, cut);
    body[cut + 1] = ']';
    body[cut + 2] = '\0';
    b->fb = fb;
    b->body = body;
    b->len = cut + 2;
    b->nitems = n;
    size_t rest = fb->qlen - cut;
    if (rest && fb->q[cut] == ',') {
        cut++;
        rest--;
    }
    memmove(fb->q, fb->q + cut, rest);
    fb->qlen = rest;
    fb->qitems -= n;
    return b;
}

void lg_feedback_tick(lg_feedback *fb, int64_t now_us)
{
    /* retries first: they are older */
    for (fb_batch **pp = &fb->waiting; *pp && fb->inflight < LG_FB_INFLIGHT_MAX;) {
        fb_batch *b = *pp;
        if (b->retry_at_us > now_us) {
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        send_batch(fb, b);
    }
    if (!fb->qitems)
        return;
    if (fb->qitems < LG_FB_BATCH_MAX && now_us - fb->last_flush_us < LG_FB_FLUSH_MS * 1000)
        return;
    fb->last_flush_us = now_us;
    while (fb->qitems && fb->inflight < LG_FB_INFLIGHT_MAX) {
        fb_batch *b = take_batch(fb);
        if (!b)
            return; /* out of memory: the items stay queued for the next tick */
        send_batch(fb, b);
    }
}

int lg_feedback_idle(const lg_feedback *fb) { return !fb->qitems && !fb->inflight && !fb->waiting; }

void lg_feedback_abandon(lg_feedback *fb)
{
    long lost = fb->qitems + fb->inflight_items;
    for (fb_batch *b = fb->waiting; b; b = b->next)
        lost += b->nitems;
    if (lost)
        sy_log(SY_ERROR, "feedback not delivered before exit", "items=%ld", lost);
    fb->st.failed += lost;
    fb->qitems = 0;
    fb->qlen = 0;
    fb->inflight_items = 0;
    fb->inflight = 0;
    while (fb->waiting) {
        fb_batch *b = fb->waiting;
        fb->waiting = b->next;
        batch_free(b);
    }
    while (fb->flying) {
        fb_batch *b = fb->flying;
        fb->flying = b->next;
        batch_free(b);
    }
}

const lg_feedback_stats *lg_feedback_get_stats(const lg_feedback *fb) { return &fb->st; }
