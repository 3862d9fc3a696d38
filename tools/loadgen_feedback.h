/*
 * loadgen_feedback: the load generator's feedback sender.
 *
 *   items (JSON objects) -> queue -> batches of up to LG_FB_BATCH_MAX every
 *   LG_FB_FLUSH_MS -> POST ROUTER/v1/feedback, signed
 *   (X-Switchyard-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>)
 *   -> 2xx: sent | 429, 5xx, no answer: retried with backoff (Retry-After when
 *   given, re-signed each time) | other 4xx or out of attempts: failed, counted
 *
 * Nothing is dropped without being counted in sent or failed.
 */
#ifndef SY_LG_FEEDBACK_H
#define SY_LG_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

struct lg_http;
typedef struct lg_feedback lg_feedback;

#define LG_FB_BATCH_MAX 500
#define LG_FB_FLUSH_MS 200
#define LG_FB_INFLIGHT_MAX 4
#define LG_FB_MAX_ATTEMPTS 12

typedef struct lg_feedback_stats {
    long queued;  /* items handed to the sender */
    long sent;    /* items acknowledged with a 2xx */
    long failed;  /* items given up on */
    long batches; /* batches acknowledged */
    long retries; /* batch attempts after the first */
} lg_feedback_stats;

lg_feedback *lg_feedback_new(struct lg_http *http, const char *url, const char *secret,
                             int timeout_ms) __attribute__((warn_unused_result));
void lg_feedback_free(lg_feedback *fb);

/* Queue one item: a JSON object's text (copied). 0, or -1 (counted as failed). */
int lg_feedback_add(lg_feedback *fb, const char *item, size_t len);

/* Send what is due: call often (every few ms) with a monotonic clock. */
void lg_feedback_tick(lg_feedback *fb, int64_t now_us);

/* Nothing queued, in flight or waiting for a retry. */
int lg_feedback_idle(const lg_feedback *fb);

/* Give up on everything not yet acknowledged (counted as failed). Only once the
 * event loop has stopped, and free the HTTP client before running it again: the
 * batches still on the wire are freed here. */
void lg_feedback_abandon(lg_feedback *fb);

const lg_feedback_stats *lg_feedback_get_stats(const lg_feedback *fb);

#endif
