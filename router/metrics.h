/*
 * metrics: counters and histograms exported on /metrics in the Prometheus
 * text format. They live in one shared memory block mapped before the
 * workers fork, updated with relaxed atomic adds, so every worker reports
 * the totals of all of them.
 *
 * Plain counters come from one X-macro list; the labelled families
 * (requests, upstream attempts and latency) are fixed-size arrays indexed by
 * enum values and catalog indexes.
 */
#ifndef SY_RT_METRICS_H
#define SY_RT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/routing.h"

#define RT_COUNTERS(X)                                                                            \
    X(redis_fallbacks, "switchyard_redis_fallback_total",                                         \
      "Requests routed from the last known state because Redis was unreachable")                  \
    X(failovers, "switchyard_failovers_total", "Upstream attempts that moved to another provider") \
    X(retries, "switchyard_retries_total",                                                       \
      "Upstream attempts again at the same provider after a transient failure")                 \
    X(fallback_default, "switchyard_fallback_default_total",                                     \
      "Routed requests answered by the default model after every routed candidate failed")      \
    X(sticky, "switchyard_sticky_total",                                                         \
      "Requests that kept the model of their conversation's first turn")                        \
    X(races, "switchyard_races_total", "Requests raced on two providers")                         \
    X(client_gone, "switchyard_client_disconnects_total",                                         \
      "Requests whose client went away before the answer")                                        \
    X(classifier_failures, "switchyard_classifier_failopen_total",                                \
      "Requests sent to the default model because classification failed")                        \
    X(events_dropped, "switchyard_events_dropped_total",                                          \
      "Events dropped because the in-memory queue was full")

/* POST /v1/feedback and /v1/labels: what became of each request (result label; the
 * refusals are the error codes the endpoints answer with, see docs "Feedback and labels")
 * and of each item of a stored batch (outcome label). */
#define RT_FB_RESULTS(X)                                                                          \
    X(stored, "stored")                       /* 200 or 207 */                                    \
    X(missing_signature, "missing_signature") /* 401 */                                           \
    X(malformed_signature, "malformed_signature")                                                 \
    X(signature_expired, "signature_expired")                                                     \
    X(signature_mismatch, "signature_mismatch")                                                   \
    X(invalid, "invalid")                     /* 400 invalid_feedback / invalid_labels */         \
    X(conflict, "conflict")                   /* 409 */                                           \
    X(too_large, "too_large")                 /* 413 */                                           \
    X(not_configured, "not_configured")       /* 503 feedback_not_configured */                   \
    X(storage_not_configured, "storage_not_configured")                                           \
    X(storage_unavailable, "storage_unavailable") /* 503 + Retry-After */                         \
    X(storage_error, "storage_error")         /* 500 */                                           \
    X(internal_error, "internal_error")

#define RT_FB_OUTCOMES(X)                                                                         \
    X(created, "created") X(duplicate, "duplicate") X(conflict, "conflict") X(invalid, "invalid")

enum rt_fb_result {
#define RT_FB_RESULT_ENUM(name, label) RT_FBR_##name,
    RT_FB_RESULTS(RT_FB_RESULT_ENUM)
#undef RT_FB_RESULT_ENUM
        RT_FB_NRESULTS
};

enum rt_fb_outcome {
#define RT_FB_OUTCOME_ENUM(name, label) RT_FBO_##name,
    RT_FB_OUTCOMES(RT_FB_OUTCOME_ENUM)
#undef RT_FB_OUTCOME_ENUM
        RT_FB_NOUTCOMES
};

enum rt_counter {
#define RT_COUNTER_ENUM(name, metric, help) RT_C_##name,
    RT_COUNTERS(RT_COUNTER_ENUM)
#undef RT_COUNTER_ENUM
        RT_NCOUNTERS
};

#define RT_MAX_MODELS 32
#define RT_MAX_PROVIDERS 16
#define RT_STATUS_CLASSES 5 /* 2xx 3xx 4xx 5xx 499 */
#define RT_LAT_BUCKETS 14

typedef struct rt_metrics rt_metrics;

/* Shared mapping for nmodels/nproviders (clamped to the maxima). */
rt_metrics *rt_metrics_new(void);
void rt_metrics_free(rt_metrics *m);

void rt_metrics_inc(rt_metrics *m, enum rt_counter c);
/* task: -1 when not classified; model: -1 when none served. */
void rt_metrics_request(rt_metrics *m, int status, int cohort, int task, int model);
/* outcome: 0 ok, 1 failure (counted against the provider) */
void rt_metrics_upstream(rt_metrics *m, int provider, int64_t latency_us, int failed);
void rt_metrics_overhead(rt_metrics *m, int64_t overhead_us);
/* labels: 0 /v1/feedback, 1 /v1/labels. */
void rt_metrics_feedback(rt_metrics *m, int labels, enum rt_fb_result r);
void rt_metrics_feedback_items(rt_metrics *m, int labels, enum rt_fb_outcome o, uint64_t n);

/* Gauges the caller knows at render time. */
typedef struct rt_metrics_gauges {
    const char *const *model_names;
    int nmodels;
    const char *const *provider_names;
    int nproviders;
    const int *breaker_state; /* per provider: 0 closed, 1 open, 2 half-open */
    size_t event_queue_depth;
    int64_t event_queue_age_us;  /* the oldest event waiting in memory; 0 when none */
    size_t events_inflight;
    int64_t spool_entries;       /* sy:events entries not yet ingested; -1 unknown */
    int64_t spool_age_us;        /* age of the oldest; 0 when none; -1 unknown */
    int redis_connected;
    int64_t state_age_us;
    int active_requests;
    int open_connections;
} rt_metrics_gauges;

/* malloc'd text; *len its length. */
char *rt_metrics_render(const rt_metrics *m, const rt_metrics_gauges *g, size_t *len);

#endif
