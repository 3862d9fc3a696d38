/* The ingest's /metrics server (ingest/metrics.h). */
#include "ingest/metrics.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"

struct ing_metrics {
    struct event_base *base;
    sy_httpd *httpd;
    pthread_t thread;
    pthread_mutex_t mu;
    struct ing_metrics_snapshot snap; /* under mu */
};

/* name, field, help: the counters */
#define ING_COUNTERS(X)                                                                            \
    X("switchyard_ingest_events_read_total", read, "Events read from sy:events, valid or not")     \
    X("switchyard_ingest_rows_inserted_total", inserted, "Rows inserted into requests")            \
    X("switchyard_ingest_duplicates_total", duplicates,                                            \
      "Events whose row was already stored (a replayed batch)")                                    \
    X("switchyard_ingest_batches_total", batches, "Batches committed and acknowledged")            \
    X("switchyard_ingest_pg_errors_total", pg_errors, "Failed PostgreSQL attempts (each retried)") \
    X("switchyard_ingest_redis_errors_total", redis_errors, "Failed Redis attempts (each retried)")

static void handle(sy_http_req *req, void *arg)
{
    ing_metrics *m = arg;
    const char *path = sy_http_path(req);
    if (strcmp(path, "/metrics") && strcmp(path, "/healthz")) {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown request URL: %s %s", sy_http_method(req), path);
        return;
    }
    if (strcmp(sy_http_method(req), "GET")) {
        sy_http_add_header(req, "Allow", "GET");
        sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                            "method %s is not allowed on %s (allowed: GET)", sy_http_method(req),
                            path);
        return;
    }
    if (!strcmp(path, "/healthz")) {
        sy_http_reply(req, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
        return;
    }
    struct ing_metrics_snapshot s;
    pthread_mutex_lock(&m->mu);
    s = m->snap;
    pthread_mutex_unlock(&m->mu);
    char buf[4096];
    size_t n = 0;
#define ING_PUT(...) n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, __VA_ARGS__)
#define ING_COUNTER_RENDER(name, field, help)                                                      \
    ING_PUT("# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", s.field);
    ING_COUNTERS(ING_COUNTER_RENDER)
#undef ING_COUNTER_RENDER
    ING_PUT("# HELP switchyard_ingest_dead_letters_total Events set aside: invalid (stream "
            "sy:events:dead) or refused by PostgreSQL (table ingest_dead_letters)\n"
            "# TYPE switchyard_ingest_dead_letters_total counter\n"
            "switchyard_ingest_dead_letters_total{reason=\"invalid\"} %llu\n"
            "switchyard_ingest_dead_letters_total{reason=\"refused\"} %llu\n",
            s.invalid, s.refused);
    ING_PUT("# HELP switchyard_ingest_spool_entries Entries waiting in the Redis stream sy:events "
            "(-1: unknown)\n# TYPE switchyard_ingest_spool_entries gauge\n"
            "switchyard_ingest_spool_entries %lld\n", s.spool_entries);
    ING_PUT("# HELP switchyard_ingest_lag_seconds Age of the oldest event not yet ingested "
            "(0: none waiting)\n# TYPE switchyard_ingest_lag_seconds gauge\n"
            "switchyard_ingest_lag_seconds %.3f\n", s.lag_seconds);
    ING_PUT("# HELP switchyard_ingest_last_commit_timestamp_seconds When the last batch was "
            "committed (0: none yet)\n# TYPE switchyard_ingest_last_commit_timestamp_seconds "
            "gauge\nswitchyard_ingest_last_commit_timestamp_seconds %.3f\n", s.last_commit_unix);
    ING_PUT("# HELP switchyard_ingest_redis_up Whether the ingest's Redis connection is up\n"
            "# TYPE switchyard_ingest_redis_up gauge\nswitchyard_ingest_redis_up %d\n", s.redis_up);
    ING_PUT("# HELP switchyard_ingest_pg_up Whether the ingest's PostgreSQL session is up\n"
            "# TYPE switchyard_ingest_pg_up gauge\nswitchyard_ingest_pg_up %d\n", s.pg_up);
#undef ING_PUT
    if (n >= sizeof(buf)) {
        sy_http_reply_error(req, 500, "api_error", "metrics_too_long", NULL, "metrics buffer");
        return;
    }
    sy_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, n);
}

static void *run(void *arg)
{
    ing_metrics *m = arg;
    event_base_dispatch(m->base);
    return NULL;
}

ing_metrics *ing_metrics_start(const char *host, int port, int *bound_port, char *err,
                               size_t errlen)
{
    if (evthread_use_pthreads()) {
        snprintf(err, errlen, "libevent threads unavailable");
        return NULL;
    }
    ing_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->snap.spool_entries = -1;
    sy_httpd_limits lim;
    sy_httpd_limits_default(&lim);
    lim.max_body_bytes = 1024;
    lim.max_conns = 64;
    if (!(m->base = event_base_new()) || !(m->httpd = sy_httpd_new(m->base, &lim, handle, m)) ||
        sy_httpd_listen(m->httpd, host, port, 0, bound_port)) {
        snprintf(err, errlen, "cannot listen on %s:%d", host, port);
        goto fail;
    }
    if (pthread_create(&m->thread, NULL, run, m)) {
        snprintf(err, errlen, "cannot start the metrics thread");
        goto fail;
    }
    return m;
fail:
    sy_httpd_free(m->httpd);
    if (m->base)
        event_base_free(m->base);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return NULL;
}

void ing_metrics_publish(ing_metrics *m, const struct ing_metrics_snapshot *s)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->snap = *s;
    pthread_mutex_unlock(&m->mu);
}

void ing_metrics_stop(ing_metrics *m)
{
    if (!m)
        return;
    event_base_loopbreak(m->base); /* thread-safe: evthread_use_pthreads() above */
    pthread_join(m->thread, NULL);
    sy_httpd_free(m->httpd);
    event_base_free(m->base);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
