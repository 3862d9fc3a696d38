/*
 * ctl_views: the read-only JSON the console shows beyond the admin API's state, plan,
 * evaluation and history.
 *
 *   GET /admin/experiments/NAME/arms     the current step's arms per task type, read by
 *                                        ctl_load_arms(): the very query and sums the
 *                                        evaluation decides on
 *   GET /admin/experiments/NAME/savings  cost against the single-model baseline since the
 *                                        start, in at most 240 time buckets (rollups_minute)
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_json.h"
#include "common/httpd.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"
#include "experiments/experiment.h"
#include "experiments/stats.h"

#define SAVINGS_POINTS 240

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ratio(double a, double b)
{
    return b > 0 ? json_real(a / b) : json_null();
}

static json_t *p95_ms(const exp_arm *a)
{
    int b = exp_hist_quantile_bucket(a->latency_hist, 0.95);
    if (b < 0)
        return json_null();
    int64_t up = exp_lat_bucket_upper_us(b);
    return up == INT64_MAX ? json_null() : json_real((double)up / 1000.0);
}

/* all: every request of the step (errors, cost, latency); q: the quality arm (requests
 * past the attribution window, with their feedback). */
static json_t *arm_json(const exp_arm *all, const exp_arm *q)
{
    return json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o, s:I}", "n",
        (json_int_t)all->n, "errors", (json_int_t)all->errors, "error_rate",
        ratio((double)all->errors, (double)all->n), "cost_per_request",
        ratio(all->cost_sum, (double)all->n), "baseline_per_request",
        ratio(all->baseline_cost_sum, (double)all->n), "latency_mean_ms",
        all->n ? num_or_null((double)all->latency_sum_us / (double)all->n / 1000.0) : json_null(),
        "latency_p95_ms", p95_ms(all), "quality_n", (json_int_t)q->n, "thumbs",
        (json_int_t)q->thumbs, "thumbs_down", (json_int_t)q->thumbs_down, "thumbs_down_rate",
        ratio((double)q->thumbs_down, (double)q->thumbs), "ratings", (json_int_t)q->ratings,
        "rating", ratio(q->rating_sum, (double)q->ratings), "rated", (json_int_t)q->rated);
}

/* The experiment's definition, status, step and start; NULL after replying. */
static PGresult *load(ctl *c, sy_http_req *req, const char *name)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c,
                           "SELECT definition::text, status, step, started_at, "
                           "extract(epoch FROM started_at)::float8 FROM experiments "
                           "WHERE name = $1",
                           1, p);
    if (!r) {
        ctl_reply_db_down(req);
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        ctl_reply_not_found(req, name);
        return NULL;
    }
    return r;
}

void ctl_views_arms(ctl *c, sy_http_req *req, const char *name)
{
    PGresult *r = load(c, req, name);
    if (!r)
        return;
    exp_experiment *x = NULL;
    char err[512];
    const char *def = PQgetvalue(r, 0, 0);
    if (exp_experiment_parse(def, strlen(def), &x, err, sizeof(err))) {
        PQclear(r);
        sy_http_reply_error(req, 500, "api_error", "invalid_stored_definition", NULL,
                            "stored definition no longer valid: %s", err);
        return;
    }
    int step = atoi(PQgetvalue(r, 0, 2));
    json_t *tasks = json_array();
    json_t *out = NULL;
    const exp_step *s = step >= 0 && step < x->nsteps ? &x->steps[step] : NULL;
    if (s && !PQgetisnull(r, 0, 3)) {
        exp_task_input in[WIRE_NTASKS];
        int n = ctl_load_arms(c, name, exp_phase_str(s->kind), s->routed_bp,
                              PQgetvalue(r, 0, 3), x->attribution_window_s, in);
        if (n < 0) {
            json_decref(tasks);
            exp_experiment_free(x);
            PQclear(r);
            ctl_reply_db_down(req);
            return;
        }
        /* in the task types' order, whatever order the rows came in */
        for (int t = 0; t < WIRE_NTASKS; t++)
            for (int i = 0; i < n; i++)
                if ((int)in[i].task == t)
                    json_array_append_new(
                        tasks, json_pack("{s:s, s:o, s:o}", "task", wire_task_str(in[i].task),
                                         "control", arm_json(&in[i].control, &in[i].control_q),
                                         "routed", arm_json(&in[i].routed, &in[i].routed_q)));
    }
    out = json_pack("{s:s, s:s, s:i, s:s?, s:i, s:s?, s:i, s:o}", "experiment", name, "status",
                    PQgetvalue(r, 0, 1), "step", step, "phase",
                    s ? exp_phase_str(s->kind) : NULL, "routed_bp", s ? s->routed_bp : 0,
                    "since", PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3),
                    "attribution_window_s", x->attribution_window_s, "tasks", tasks);
    exp_experiment_free(x);
    PQclear(r);
    sy_http_reply_json(req, 200, out);
}

void ctl_views_savings(ctl *c, sy_http_req *req, const char *name)
{
    PGresult *r = load(c, req, name);
    if (!r)
        return;
    int started = !PQgetisnull(r, 0, 3);
    char since[64] = "";
    if (started)
        snprintf(since, sizeof(since), "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    json_t *points = json_array();
    int bucket_s = 60;
    if (started) {
        /* bucket width: whole minutes, at most SAVINGS_POINTS buckets since the start */
        char pts[16];
        snprintf(pts, sizeof(pts), "%d", SAVINGS_POINTS);
        const char *p[] = {name, since, pts};
        r = ctl_db_q(c,
                     "WITH w AS (SELECT greatest(60, ceil(extract(epoch FROM now() - "
                     "date_trunc('minute', $2::timestamptz)) / $3::int / 60) * 60)::int AS s) "
                     "SELECT w.s, extract(epoch FROM date_bin(make_interval(secs => w.s), minute, "
                     "date_trunc('minute', $2::timestamptz)))::bigint AS t, "
                     "sum(n)::bigint, sum(cost_sum)::float8, sum(baseline_cost_sum)::float8, "
                     "(sum(n) FILTER (WHERE cohort = 'routed'))::bigint, "
                     "(sum(cost_sum) FILTER (WHERE cohort = 'routed'))::float8, "
                     "(sum(baseline_cost_sum) FILTER (WHERE cohort = 'routed'))::float8 "
                     "FROM rollups_minute, w WHERE experiment = $1 "
                     "AND minute >= date_trunc('minute', $2::timestamptz) "
                     "GROUP BY 1, 2 ORDER BY 2",
                     3, p);
        if (!r) {
            json_decref(points);
            ctl_reply_db_down(req);
            return;
        }
        for (int i = 0; i < PQntuples(r); i++) {
#define L(k) (json_int_t)(PQgetisnull(r, i, k) ? 0 : atoll(PQgetvalue(r, i, k)))
#define F(k) (PQgetisnull(r, i, k) ? 0.0 : atof(PQgetvalue(r, i, k)))
            bucket_s = atoi(PQgetvalue(r, i, 0));
            json_array_append_new(points,
                                  json_pack("{s:I, s:I, s:f, s:f, s:I, s:f, s:f}", "t", L(1), "n",
                                            L(2), "cost", F(3), "baseline", F(4), "routed_n", L(5),
                                            "routed_cost", F(6), "routed_baseline", F(7)));
#undef L
#undef F
        }
        PQclear(r);
    }
    sy_http_reply_json(req, 200,
                       json_pack("{s:s, s:s?, s:i, s:o}", "experiment", name, "since",
                                 started ? since : NULL, "bucket_s", bucket_s, "points", points));
}
