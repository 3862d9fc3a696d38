#include "router/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "experiments/cohort.h"

static const double lat_bounds_ms[RT_LAT_BUCKETS] = {1,   5,    10,   25,   50,    100,   250,
                                                     500, 1000, 2500, 5000, 10000, 30000, 60000};
static const double overhead_bounds_us[RT_LAT_BUCKETS] = {10,   25,   50,    100,   250,
                                                          500,  1000, 2500,  5000,  10000,
                                                          25000, 50000, 100000, 1000000};

struct hist {
    uint64_t buckets[RT_LAT_BUCKETS]; /* non-cumulative; rendered cumulative */
    uint64_t count;
    uint64_t sum_us;
};

struct rt_metrics {
    uint64_t counters[RT_NCOUNTERS];
    /* [status class][cohort][task+1][model+1] */
    uint64_t requests[RT_STATUS_CLASSES][4][WIRE_NTASKS + 1][RT_MAX_MODELS + 1];
    uint64_t upstream_ok[RT_MAX_PROVIDERS], upstream_failed[RT_MAX_PROVIDERS];
    struct hist upstream_latency[RT_MAX_PROVIDERS];
    struct hist overhead;
    uint64_t fb_results[2][RT_FB_NRESULTS];   /* [labels] */
    uint64_t fb_items[2][RT_FB_NOUTCOMES];
};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

rt_metrics *rt_metrics_new(void)
{
    void *p = mmap(NULL, sizeof(rt_metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void rt_metrics_free(rt_metrics *m)
{
    if (m)
        munmap(m, sizeof(*m));
}

void rt_metrics_inc(rt_metrics *m, enum rt_counter c) { ADD(&m->counters[c], 1); }

static int status_class(int status)
{
    if (status == 499)
        return 4;
    if (status >= 200 && status < 600)
        return status / 100 - 2;
    return 3;
}

void rt_metrics_request(rt_metrics *m, int status, int cohort, int task, int model)
{
    if (cohort < 0 || cohort > 3)
        cohort = 1;
    if (task < -1 || task >= WIRE_NTASKS)
        task = -1;
    if (model < -1 || model >= RT_MAX_MODELS)
        model = -1;
    ADD(&m->requests[status_class(status)][cohort][task + 1][model + 1], 1);
}

static void hist_add(struct hist *h, const double *bounds, double v, uint64_t sum)
{
    int i = 0;
    while (i < RT_LAT_BUCKETS && v > bounds[i])
        i++;
    if (i < RT_LAT_BUCKETS)
        ADD(&h->buckets[i], 1);
    ADD(&h->count, 1);
    ADD(&h->sum_us, sum);
}

void rt_metrics_upstream(rt_metrics *m, int provider, int64_t latency_us, int failed)
{
    if (provider < 0 || provider >= RT_MAX_PROVIDERS)
        return;
    ADD(failed ? &m->upstream_failed[provider] : &m->upstream_ok[provider], 1);
    hist_add(&m->upstream_latency[provider], lat_bounds_ms, (double)latency_us / 1000.0,
             (uint64_t)(latency_us > 0 ? latency_us : 0));
}

void rt_metrics_overhead(rt_metrics *m, int64_t overhead_us)
{
    hist_add(&m->overhead, overhead_bounds_us, (double)overhead_us,
             (uint64_t)(overhead_us > 0 ? overhead_us : 0));
}

void rt_metrics_feedback(rt_metrics *m, int labels, enum rt_fb_result r)
{
    if (r >= 0 && r < RT_FB_NRESULTS)
        ADD(&m->fb_results[labels != 0][r], 1);
}

void rt_metrics_feedback_items(rt_metrics *m, int labels, enum rt_fb_outcome o, uint64_t n)
{
    if (o >= 0 && o < RT_FB_NOUTCOMES && n)
        ADD(&m->fb_items[labels != 0][o], n);
}

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->p && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 16384;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(o->p, cap);
        if (!q)
            return;
        o->p = q;
        o->cap = cap;
    }
}

static void put_hist(struct out *o, const char *name, const char *labels, const struct hist *h,
                     const double *bounds, double scale)
{
    uint64_t cum = 0;
    for (int i = 0; i < RT_LAT_BUCKETS; i++) {
        cum += GET(&h->buckets[i]);
        put(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
            bounds[i] * scale, (unsigned long long)cum);
    }
    put(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
        (unsigned long long)GET(&h->count));
    put(o, "%s_sum%s%s%s %g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
        (double)GET(&h->sum_us) / 1e6);
    put(o, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
        (unsigned long long)GET(&h->count));
}

char *rt_metrics_render(const rt_metrics *m, const rt_metrics_gauges *g, size_t *len)
{
    static const char *const classes[RT_STATUS_CLASSES] = {"2xx", "3xx", "4xx", "5xx", "499"};
    struct out o = {0};

    put(&o, "# HELP switchyard_requests_total Chat completion requests by outcome and route\n"
            "# TYPE switchyard_requests_total counter\n");
    for (int s = 0; s < RT_STATUS_CLASSES; s++)
        for (int c = 0; c < 4; c++)
            for (int t = 0; t <= WIRE_NTASKS; t++)
                for (int md = 0; md <= RT_MAX_MODELS && md <= g->nmodels; md++) {
                    uint64_t v = GET(&m->requests[s][c][t][md]);
                    if (!v)
                        continue;
                    put(&o,
                        "switchyard_requests_total{status=\"%s\",cohort=\"%s\",task=\"%s\","
                        "model=\"%s\"} %llu\n",
                        classes[s], exp_cohort_str((exp_cohort)c),
                        t ? wire_task_str((wire_task)(t - 1)) : "none",
                        md ? g->model_names[md - 1] : "none", (unsigned long long)v);
                }

    put(&o, "# HELP switchyard_upstream_attempts_total Upstream attempts by provider and outcome\n"
            "# TYPE switchyard_upstream_attempts_total counter\n");
    for (int p = 0; p < g->nproviders && p < RT_MAX_PROVIDERS; p++) {
        put(&o, "switchyard_upstream_attempts_total{provider=\"%s\",outcome=\"ok\"} %llu\n",
            g->provider_names[p], (unsigned long long)GET(&m->upstream_ok[p]));
        put(&o, "switchyard_upstream_attempts_total{provider=\"%s\",outcome=\"failed\"} %llu\n",
            g->provider_names[p], (unsigned long long)GET(&m->upstream_failed[p]));
    }
    put(&o, "# HELP switchyard_upstream_latency_seconds Upstream call duration by provider\n"
            "# TYPE switchyard_upstream_latency_seconds histogram\n");
    for (int p = 0; p < g->nproviders && p < RT_MAX_PROVIDERS; p++) {
        char labels[160];
        snprintf(labels, sizeof(labels), "provider=\"%s\"", g->provider_names[p]);
        put_hist(&o, "switchyard_upstream_latency_seconds", labels, &m->upstream_latency[p],
                 lat_bounds_ms, 0.001);
    }
    put(&o, "# HELP switchyard_router_overhead_seconds Time spent in the router itself per request\n"
            "# TYPE switchyard_router_overhead_seconds histogram\n");
    put_hist(&o, "switchyard_router_overhead_seconds", "", &m->overhead, overhead_bounds_us, 1e-6);

    put(&o, "# HELP switchyard_circuit_state Provider circuit breaker (0 closed, 1 open, 2 half-open)\n"
            "# TYPE switchyard_circuit_state gauge\n");
    for (int p = 0; p < g->nproviders; p++)
        put(&o, "switchyard_circuit_state{provider=\"%s\"} %d\n", g->provider_names[p],
            g->breaker_state[p]);

    {
        static const char *const results[] = {
#define RT_FB_RESULT_STR(name, label) label,
            RT_FB_RESULTS(RT_FB_RESULT_STR)
#undef RT_FB_RESULT_STR
        };
        static const char *const outcomes[] = {
#define RT_FB_OUTCOME_STR(name, label) label,
            RT_FB_OUTCOMES(RT_FB_OUTCOME_STR)
#undef RT_FB_OUTCOME_STR
        };
        static const char *const endpoints[2] = {"feedback", "labels"};
        put(&o, "# HELP switchyard_feedback_requests_total POST /v1/feedback and /v1/labels "
                "requests by result (stored, or the refusal's reason)\n"
                "# TYPE switchyard_feedback_requests_total counter\n");
        for (int e = 0; e < 2; e++)
            for (int r = 0; r < RT_FB_NRESULTS; r++)
                put(&o, "switchyard_feedback_requests_total{endpoint=\"%s\",result=\"%s\"} %llu\n",
                    endpoints[e], results[r], (unsigned long long)GET(&m->fb_results[e][r]));
        put(&o, "# HELP switchyard_feedback_items_total Items of the feedback and label batches "
                "answered 200/207, by outcome\n"
                "# TYPE switchyard_feedback_items_total counter\n");
        for (int e = 0; e < 2; e++)
            for (int k = 0; k < RT_FB_NOUTCOMES; k++)
                put(&o, "switchyard_feedback_items_total{endpoint=\"%s\",outcome=\"%s\"} %llu\n",
                    endpoints[e], outcomes[k], (unsigned long long)GET(&m->fb_items[e][k]));
    }

#define RT_COUNTER_RENDER(name, metric, help)                                                     \
    put(&o, "# HELP " metric " " help "\n# TYPE " metric " counter\n" metric " %llu\n",           \
        (unsigned long long)GET(&m->counters[RT_C_##name]));
    RT_COUNTERS(RT_COUNTER_RENDER)
#undef RT_COUNTER_RENDER

    put(&o, "# HELP switchyard_event_queue_depth Events waiting in memory for Redis\n"
            "# TYPE switchyard_event_queue_depth gauge\nswitchyard_event_queue_depth %zu\n",
        g->event_queue_depth);
    put(&o, "# HELP switchyard_event_queue_age_seconds Age of the oldest event waiting in memory "
            "for Redis (0 when none)\n"
            "# TYPE switchyard_event_queue_age_seconds gauge\nswitchyard_event_queue_age_seconds "
            "%g\n",
        (double)g->event_queue_age_us / 1e6);
    put(&o, "# HELP switchyard_event_spool_entries Entries of the stream sy:events not yet "
            "ingested (each up to 128 events; -1 unknown)\n"
            "# TYPE switchyard_event_spool_entries gauge\nswitchyard_event_spool_entries %lld\n",
        (long long)g->spool_entries);
    put(&o, "# HELP switchyard_event_spool_age_seconds Age of the oldest entry of sy:events not "
            "yet ingested (0 when none, -1 unknown)\n"
            "# TYPE switchyard_event_spool_age_seconds gauge\nswitchyard_event_spool_age_seconds "
            "%g\n",
        g->spool_age_us < 0 ? -1.0 : (double)g->spool_age_us / 1e6);
    put(&o, "# HELP switchyard_events_inflight Events sent to Redis, not yet confirmed\n"
            "# TYPE switchyard_events_inflight gauge\nswitchyard_events_inflight %zu\n",
        g->events_inflight);
    put(&o, "# HELP switchyard_redis_up Whether this worker's Redis connection is up\n"
            "# TYPE switchyard_redis_up gauge\nswitchyard_redis_up %d\n", g->redis_connected);
    put(&o, "# HELP switchyard_state_age_seconds Age of the experiment state last read from Redis\n"
            "# TYPE switchyard_state_age_seconds gauge\nswitchyard_state_age_seconds %g\n",
        g->state_age_us == INT64_MAX ? -1.0 : (double)g->state_age_us / 1e6);
    put(&o, "# HELP switchyard_active_requests Requests in flight in this worker\n"
            "# TYPE switchyard_active_requests gauge\nswitchyard_active_requests %d\n",
        g->active_requests);
    put(&o, "# HELP switchyard_open_connections Client connections open in this worker\n"
            "# TYPE switchyard_open_connections gauge\nswitchyard_open_connections %d\n",
        g->open_connections);
    if (!o.p)
        return NULL;
    *len = o.len;
    return o.p;
}
