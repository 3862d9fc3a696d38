/*
 * ingest/metrics: the /metrics listener thread (see metrics.h).
 */
#include "ingest/metrics.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"

struct ing_metrics {
    struct ing_counters c;
    struct event_base *base;
    sy_httpd *httpd;
    pthread_t thread;
    int running;
};

#define ING_COUNTERS(X)                                                                         \
    X(read, "switchyard_ingest_events_read_total", "", "Events read from sy:events, valid or not") \
    X(batches, "switchyard_ingest_batches_total", "", "Batches committed and acknowledged")       \
    X(inserted, "switchyard_ingest_rows_inserted_total", "", "Rows inserted into requests")       \
    X(duplicates, "switchyard_ingest_duplicates_total", "",                                       \
      "Events whose row was already stored (a replayed batch)")                                  \
    X(invalid, "switchyard_ingest_dead_letters_total", "{reason=\"invalid\"}",                    \
      "Events set aside: invalid (stream sy:events:dead) or refused by PostgreSQL "               \
      "(table ingest_dead_letters)")                                                              \
    X(refused, "switchyard_ingest_dead_letters_total", "{reason=\"refused\"}", "")                \
    X(pg_errors, "switchyard_ingest_pg_errors_total", "", "Failed PostgreSQL attempts")           \
    X(redis_errors, "switchyard_ingest_redis_errors_total", "", "Failed Redis attempts")

char *ing_metrics_render(const struct ing_counters *c, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
#define ING_RENDER(field, metric, labels, help)                                                 \
    {                                                                                            \
        unsigned long long v = __atomic_load_n(c->field, __ATOMIC_RELAXED);                      \
        int w = *help ? snprintf(out + n, cap - n,                                               \
                                 "# HELP " metric " " help "\n# TYPE " metric " counter\n")      \
                      : 0;                                                                       \
        if (w > 0)                                                                               \
            n += (size_t)w;                                                                      \
        w = snprintf(out + n, cap - n, metric labels " %llu\n", v);                              \
        if (w > 0)                                                                               \
            n += (size_t)w;                                                                      \
    }
    ING_COUNTERS(ING_RENDER)
#undef ING_RENDER
    if (n >= cap) { /* cannot happen with 4 KiB for eight lines; never send a cut text */
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

static void handle(sy_http_req *req, void *arg)
{
    ing_metrics *m = arg;
    if (strcmp(sy_http_path(req), "/metrics") != 0) {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown URL %s: ingest serves only GET /metrics", sy_http_path(req));
        return;
    }
    if (strcmp(sy_http_method(req), "GET") != 0 && strcmp(sy_http_method(req), "HEAD") != 0) {
        sy_http_add_header(req, "Allow", "GET, HEAD");
        sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                            "method %s is not allowed on /metrics", sy_http_method(req));
        return;
    }
    size_t len;
    char *text = ing_metrics_render(&m->c, &len);
    if (!text) {
        sy_http_reply_error(req, 500, "api_error", "internal_error", NULL, "out of memory");
        return;
    }
    sy_http_reply(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

static void *run(void *arg)
{
    ing_metrics *m = arg;
    event_base_dispatch(m->base);
    return NULL;
}

ing_metrics *ing_metrics_start(const char *host, int port, const struct ing_counters *c,
                               int *bound_port, char *err, size_t errlen)
{
    ing_metrics *m = calloc(1, sizeof(*m));
    sy_httpd_limits lim;
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->c = *c;
    /* so that ing_metrics_stop may end the loop from the main thread */
    if (evthread_use_pthreads() != 0 || !(m->base = event_base_new())) {
        snprintf(err, errlen, "cannot create an event loop");
        goto fail;
    }
    sy_httpd_limits_default(&lim);
    lim.max_body_bytes = 4096;
    lim.max_conns = 64;
    if (!(m->httpd = sy_httpd_new(m->base, &lim, handle, m))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (sy_httpd_listen(m->httpd, host, port, 0, bound_port) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d", host, port);
        goto fail;
    }
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto fail;
    }
    m->running = 1;
    return m;
fail:
    ing_metrics_stop(m);
    return NULL;
}

void ing_metrics_stop(ing_metrics *m)
{
    if (!m)
        return;
    if (m->running) {
        event_base_loopexit(m->base, NULL);
        pthread_join(m->thread, NULL);
    }
    sy_httpd_free(m->httpd);
    if (m->base)
        event_base_free(m->base);
    free(m);
}
