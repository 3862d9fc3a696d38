/*
 * ctl_metrics: GET /metrics, the controller in the Prometheus text format (no
 * credential, like /healthz: names and counts, no experiment data beyond its name and
 * status). The process's own counters come from one X-macro list; the experiments'
 * gauges are read from PostgreSQL at scrape time (one query), so every controller,
 * leader or standby, reports the same experiment figures.
 * Alert rules over these names: dashboards/prometheus/rules/switchyard.rules.yml.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"

/* name, field of ctl, type, help */
#define CTL_METRICS(X)                                                                             \
    X("switchyard_controller_ticks_total", ticks, "counter", "Evaluation ticks run as the leader")  \
    X("switchyard_controller_decisions_total", decisions, "counter",                               \
      "Changes applied by this controller (human or its own)")                                     \
    X("switchyard_controller_notifications_sent_total", notifications_sent, "counter",             \
      "Webhook deliveries that succeeded")                                                         \
    X("switchyard_controller_notifications_failed_total", notifications_failed, "counter",         \
      "Webhook deliveries that failed (retried until max_attempts)")

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
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(o->p, cap);
        if (!q)
            return;
        o->p = q;
        o->cap = cap;
    }
}

/* A label value: experiment names are [a-z0-9_-] by validation, but escape anyway. */
static void put_label(struct out *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            put(o, "\\%c", *v);
        else if (*v == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *v);
    }
}

static void experiments(ctl *c, struct out *o)
{
    PGresult *r = ctl_db_q(c,
                           "SELECT e.name, e.status, e.step, "
                           "coalesce(extract(epoch FROM now() - e.step_started_at), 0)::float8, "
                           "coalesce(extract(epoch FROM now() - (SELECT max(d.ts) FROM decisions d "
                           "WHERE d.experiment = e.name)), 0)::float8, "
                           "coalesce(cardinality(e.held_back), 0) "
                           "FROM experiments e ORDER BY e.name",
                           0, NULL);
    put(o, "# HELP switchyard_controller_db_up Whether the controller's PostgreSQL session "
           "answered this scrape\n# TYPE switchyard_controller_db_up gauge\n"
           "switchyard_controller_db_up %d\n", r ? 1 : 0);
    if (!r)
        return;
    static const char *const statuses[] = {"draft", "running", "paused", "rolled_back",
                                           "completed"};
    int running = 0;
    for (int i = 0; i < PQntuples(r); i++)
        running += !strcmp(PQgetvalue(r, i, 1), "running");
    put(o, "# HELP switchyard_experiments_running Experiments with status running\n"
           "# TYPE switchyard_experiments_running gauge\nswitchyard_experiments_running %d\n",
        running);
    put(o, "# HELP switchyard_experiment_status 1 for the experiment's current status\n"
           "# TYPE switchyard_experiment_status gauge\n");
    for (int i = 0; i < PQntuples(r); i++)
        for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
            put(o, "switchyard_experiment_status{experiment=\"");
            put_label(o, PQgetvalue(r, i, 0));
            put(o, "\",status=\"%s\"} %d\n", statuses[k], !strcmp(PQgetvalue(r, i, 1), statuses[k]));
        }
    /* the running ones only: a finished experiment is not stalled */
    static const struct {
        const char *name, *help;
        int col;
    } gauges[] = {
        {"switchyard_experiment_step", "Index of the running experiment's current step", 2},
        {"switchyard_experiment_step_seconds", "Seconds the running experiment has been in its step", 3},
        {"switchyard_experiment_seconds_since_decision",
         "Seconds since the running experiment's last recorded decision", 4},
        {"switchyard_experiment_held_back_tasks", "Task types the running experiment holds back", 5},
    };
    for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
        put(o, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name, gauges[g].help, gauges[g].name);
        for (int i = 0; i < PQntuples(r); i++) {
            if (strcmp(PQgetvalue(r, i, 1), "running"))
                continue;
            put(o, "%s{experiment=\"", gauges[g].name);
            put_label(o, PQgetvalue(r, i, 0));
            put(o, "\"} %s\n", PQgetvalue(r, i, gauges[g].col));
        }
    }
    PQclear(r);
}

void ctl_metrics_reply(ctl *c, sy_http_req *req)
{
    if (strcmp(sy_http_method(req), "GET")) {
        sy_http_add_header(req, "Allow", "GET");
        sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                            "method %s is not allowed on /metrics (allowed: GET)",
                            sy_http_method(req));
        return;
    }
    struct out o = {0};
#define CTL_METRIC_RENDER(name, field, type, help)                                                 \
    put(&o, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n",                 \
        (unsigned long long)c->field);
    CTL_METRICS(CTL_METRIC_RENDER)
#undef CTL_METRIC_RENDER
    put(&o, "# HELP switchyard_controller_leader Whether this controller holds the leader lock\n"
            "# TYPE switchyard_controller_leader gauge\nswitchyard_controller_leader %d\n",
        c->leader ? 1 : 0);
    put(&o, "# HELP switchyard_controller_last_tick_timestamp_seconds When this controller last "
            "finished an evaluation tick (0: never)\n"
            "# TYPE switchyard_controller_last_tick_timestamp_seconds gauge\n"
            "switchyard_controller_last_tick_timestamp_seconds %.3f\n",
        (double)c->last_tick_ms / 1000.0);
    put(&o, "# HELP switchyard_controller_tick_interval_seconds The evaluation period (--tick-ms)\n"
            "# TYPE switchyard_controller_tick_interval_seconds gauge\n"
            "switchyard_controller_tick_interval_seconds %.3f\n",
        (double)c->tick_ms / 1000.0);
    experiments(c, &o);
    if (!o.p) {
        sy_http_reply_error(req, 500, "api_error", "out_of_memory", NULL, "out of memory");
        return;
    }
    sy_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.p, o.len);
    free(o.p);
}
