/*
 * ctl_tick: once per tick, the leader folds new feedback into the rollups,
 * then evaluates every running experiment, per task type, routed arm against
 * the concurrent control arm (experiments/decide.h), and acts on the result
 * through ctl_apply(). The numbers come only from rollups_hour (kept exact
 * alongside rollups_minute), so an evaluation costs the same at ten million
 * requests as at ten thousand: a week of a phase is ~2,000 rows.
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"
#include "experiments/decide.h"
#include "experiments/experiment.h"
#include "experiments/stats.h"
#include "wire/keys.h"

#define MAX_RUNNING 64

/* The last hold/warn reason recorded per experiment, so an unchanged
 * inconclusive verdict is not written again every tick. */
static struct {
    char name[128];
    char reason[160];
} last_noted[MAX_RUNNING];

static int noted_changed(const char *name, const char *reason)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_RUNNING; i++) {
        if (!strcmp(last_noted[i].name, name)) {
            if (!strcmp(last_noted[i].reason, reason))
                return 0;
            snprintf(last_noted[i].reason, sizeof(last_noted[i].reason), "%s", reason);
            return 1;
        }
        if (!last_noted[i].name[0] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(last_noted[free_slot].name, sizeof(last_noted[free_slot].name), "%s", name);
        snprintf(last_noted[free_slot].reason, sizeof(last_noted[free_slot].reason), "%s", reason);
    }
    return 1;
}

static exp_task_input *task_slot(exp_task_input *tasks, int *ntasks, const char *name)
{
    wire_task t;
    if (wire_task_parse(name, &t))
        return NULL; /* "none": unclassified requests are not compared */
    for (int i = 0; i < *ntasks; i++)
        if (tasks[i].task == t)
            return &tasks[i];
    exp_task_input *ti = &tasks[(*ntasks)++];
    memset(ti, 0, sizeof(*ti));
    ti->task = t;
    return ti;
}

/* Sum "{1,2,3}" into hist. */
static void add_hist(int64_t *hist, const char *text)
{
    const char *p = text;
    if (*p == '{')
        p++;
    for (int i = 0; i < EXP_LAT_BUCKETS && *p && *p != '}'; i++) {
        char *end;
        hist[i] += strtoll(p, &end, 10);
        p = end;
        if (*p == ',')
            p++;
    }
}

/* Fill the task inputs from the rollups of this phase and routed share since
 * the experiment started. Returns the number of tasks, or -1. The console's arms
 * (ctl_views.c) read them here too, so it shows the numbers decided on. */
int ctl_load_arms(ctl *c, const char *name, const char *phase, int routed_bp,
                     const char *started_at, int window_s, exp_task_input *tasks)
{
    char bp[16], win[16];
    snprintf(bp, sizeof(bp), "%d", routed_bp);
    snprintf(win, sizeof(win), "%d", window_s);
    const char *p[] = {name, phase, bp, started_at, win};
    static const char *where =
        " FROM rollups_hour WHERE experiment = $1 AND phase = $2 AND routed_bp = $3::int "
        "AND hour >= date_trunc('hour', $4::timestamptz) ";
    char sql[2048];
    /* quality arms: only requests whose attribution window has passed */
    snprintf(sql, sizeof(sql),
             "WITH q AS (SELECT *, ($5::int = 0 OR hour + interval '1 hour' <= "
             "now() - make_interval(secs => $5::int)) AS closed %s) "
             "SELECT (cohort = 'routed')::int, task_type, sum(n), sum(errors), sum(cost_sum), "
             "sum(cost_sq), sum(baseline_cost_sum), sum(latency_sum_us), "
             "sum(n) FILTER (WHERE closed), sum(thumbs) FILTER (WHERE closed), "
             "sum(thumbs_down) FILTER (WHERE closed), sum(ratings) FILTER (WHERE closed), "
             "sum(rating_sum) FILTER (WHERE closed), sum(rating_sq) FILTER (WHERE closed), "
             "sum(rated) FILTER (WHERE closed) FROM q GROUP BY 1, 2",
             where);
    PGresult *r = ctl_db_q(c, sql, 5, p);
    if (!r)
        return -1;
    int ntasks = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        exp_task_input *ti = task_slot(tasks, &ntasks, PQgetvalue(r, i, 1));
        if (!ti)
            continue;
        int routed = atoi(PQgetvalue(r, i, 0));
        exp_arm *a = routed ? &ti->routed : &ti->control;
        exp_arm *q = routed ? &ti->routed_q : &ti->control_q;
        a->n += atoll(PQgetvalue(r, i, 2));
        a->errors += atoll(PQgetvalue(r, i, 3));
        a->cost_sum += atof(PQgetvalue(r, i, 4));
        a->cost_sq += atof(PQgetvalue(r, i, 5));
        a->baseline_cost_sum += atof(PQgetvalue(r, i, 6));
        a->latency_sum_us += atoll(PQgetvalue(r, i, 7));
        q->n += atoll(PQgetvalue(r, i, 8));
        q->thumbs += atoll(PQgetvalue(r, i, 9));
        q->thumbs_down += atoll(PQgetvalue(r, i, 10));
        q->ratings += atoll(PQgetvalue(r, i, 11));
        q->rating_sum += atof(PQgetvalue(r, i, 12));
        q->rating_sq += atof(PQgetvalue(r, i, 13));
        q->rated += atoll(PQgetvalue(r, i, 14));
        /* the all-requests arm carries the feedback too, for the evidence */
        a->thumbs += atoll(PQgetvalue(r, i, 9));
        a->thumbs_down += atoll(PQgetvalue(r, i, 10));
        a->ratings += atoll(PQgetvalue(r, i, 11));
        a->rating_sum += atof(PQgetvalue(r, i, 12));
        a->rating_sq += atof(PQgetvalue(r, i, 13));
        a->rated += atoll(PQgetvalue(r, i, 14));
    }
    PQclear(r);

    snprintf(sql, sizeof(sql),
             "SELECT (cohort = 'routed')::int, task_type, latency_hist::text %s", where);
    r = ctl_db_q(c, sql, 4, p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        exp_task_input *ti = task_slot(tasks, &ntasks, PQgetvalue(r, i, 1));
        if (!ti)
            continue;
        exp_arm *a = atoi(PQgetvalue(r, i, 0)) ? &ti->routed : &ti->control;
        add_hist(a->latency_hist, PQgetvalue(r, i, 2));
    }
    PQclear(r);

    /* shadow: the classifier against human labels, per task type */
    const char *lp[] = {name, started_at};
    r = ctl_db_q(c,
                 "SELECT q.task_type, count(*) FILTER (WHERE l.task_type = q.task_type), count(*) "
                 "FROM labels l JOIN requests q ON q.request_id = l.request_id "
                 "WHERE q.experiment = $1 AND q.ts >= $2::timestamptz AND q.task_type IS NOT NULL "
                 "GROUP BY 1",
                 2, lp);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        exp_task_input *ti = task_slot(tasks, &ntasks, PQgetvalue(r, i, 0));
        if (!ti)
            continue;
        ti->labels_correct = atoll(PQgetvalue(r, i, 1));
        ti->labels_total = atoll(PQgetvalue(r, i, 2));
    }
    PQclear(r);
    return ntasks;
}

/* Units of the sample-ratio check: users first seen in this step per task type
 * and cohort, counted by the routers at request start in sy:{exp}:exposures
 * (fields "<phase>:<routed_bp>:<task>:<cohort>"). Counting at the start matters:
 * a slower arm's events reach PostgreSQL later and would look like missing
 * users. Without Redis the check falls back to request counts. */
static void load_exposures(ctl *c, const char *name, const char *phase, int routed_bp,
                           exp_task_input *tasks, int *ntasks)
{
    char key[256], prefix[96];
    snprintf(key, sizeof(key), WIRE_KEY_EXPOSURES, name);
    int plen = snprintf(prefix, sizeof(prefix), "%s:%d:", phase, routed_bp);
    redisReply *rep = ctl_redis_command(c, "HGETALL %s", key);
    if (!rep)
        return;
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const char *f = rep->element[i]->str, *v = rep->element[i + 1]->str;
            if (!f || !v || strncmp(f, prefix, (size_t)plen))
                continue;
            char task[32];
            const char *rest = f + plen, *colon = strchr(rest, ':');
            if (!colon || (size_t)(colon - rest) >= sizeof(task))
                continue;
            memcpy(task, rest, (size_t)(colon - rest));
            task[colon - rest] = '\0';
            exp_task_input *ti = task_slot(tasks, ntasks, task);
            if (!ti)
                continue;
            if (!strcmp(colon + 1, "routed"))
                ti->srm_units_t += atoll(v);
            else
                ti->srm_units_c += atoll(v);
        }
    }
    freeReplyObject(rep);
}

static void evaluate(ctl *c, const char *name, const char *def, int step, unsigned held_back,
                     unsigned pinned, const char *started_at, double seconds_in_step,
                     int holdout_bp)
{
    exp_experiment *x = NULL;
    char err[2048];
    if (exp_experiment_parse(def, strlen(def), &x, err, sizeof(err))) {
        sy_log_kv(SY_ERROR, "stored definition invalid, not evaluated", "experiment", name,
                  "reason", err, NULL);
        return;
    }
    if (step < 0 || step >= x->nsteps) {
        exp_experiment_free(x);
        return;
    }
    int64_t t0 = sy_clock_mono_ns();
    const exp_step *s = &x->steps[step];
    exp_task_input tasks[WIRE_NTASKS];
    int ntasks = ctl_load_arms(c, name, exp_phase_str(s->kind), s->routed_bp, started_at,
                           x->attribution_window_s, tasks);
    if (ntasks < 0) {
        exp_experiment_free(x);
        return;
    }
    load_exposures(c, name, exp_phase_str(s->kind), s->routed_bp, tasks, &ntasks);
    double share = exp_expected_routed_share(holdout_bp, s->routed_bp);
    for (int i = 0; i < ntasks; i++) {
        tasks[i].expected_routed_share = share;
        tasks[i].held_back = (held_back >> tasks[i].task) & 1u;
        tasks[i].pinned = (pinned >> tasks[i].task) & 1u;
    }
    exp_tick_input in = {
        .step = *s,
        .seconds_in_phase = seconds_in_step,
        .guardrails = x->guardrails,
        .nguardrails = x->nguardrails < EXP_MAX_GUARDRAILS ? x->nguardrails : EXP_MAX_GUARDRAILS,
        .tasks = tasks,
        .ntasks = ntasks,
        .params = exp_decide_params_default(),
    };
    exp_decision d;
    if (exp_decide(&in, &d)) {
        sy_log_kv(SY_ERROR, "evaluation input refused", "experiment", name, NULL);
        exp_experiment_free(x);
        return;
    }
    int64_t t1 = sy_clock_mono_ns();
    int64_t n_total = 0;
    for (int i = 0; i < ntasks; i++)
        n_total += tasks[i].control.n + tasks[i].routed.n;
    sy_log(SY_DEBUG, "evaluated", "experiment=%s requests=%lld ms=%.3f decision=%s", name,
           (long long)n_total,
           (double)(t1 - t0) / 1e6,
           exp_decision_kind_str(d.kind));
    char *evidence = exp_decision_json(&d);
    const char *ep[] = {name, evidence ? evidence : "{}"};
    (void)ctl_db_exec(c, "UPDATE experiments SET last_evaluation = $2::jsonb WHERE name = $1", 2,
                      ep);

    char reason[256];
    const char *task_name = d.task >= 0 ? wire_task_str((wire_task)d.task) : "all";
    snprintf(reason, sizeof(reason), "%s: %s (%s)", exp_decision_kind_str(d.kind),
             exp_reason_str(d.reason), task_name);
    int status;
    switch (d.kind) {
    case EXP_DECISION_ROLLBACK:
        (void)ctl_apply(c, name, EXP_OP_AUTO_ROLLBACK, d.task, "controller", reason, evidence,
                        &status, err, sizeof(err));
        break;
    case EXP_DECISION_PAUSE:
        (void)ctl_apply(c, name, EXP_OP_AUTO_PAUSE, d.task, "controller", reason, evidence,
                        &status, err, sizeof(err));
        break;
    case EXP_DECISION_HOLD_BACK:
        for (int t = 0; t < WIRE_NTASKS; t++) {
            if (!(d.hold_back_mask & (1u << t)))
                continue;
            snprintf(reason, sizeof(reason), "guardrail regression on %s",
                     wire_task_str((wire_task)t));
            if (ctl_apply(c, name, EXP_OP_HOLD_BACK, t, "controller", reason, evidence, &status,
                          err, sizeof(err)))
                sy_log_kv(SY_INFO, "hold back not applied", "experiment", name, "reason", err,
                          NULL);
        }
        break;
    case EXP_DECISION_ADVANCE:
        (void)ctl_apply(c, name, EXP_OP_ADVANCE, -1, "controller", reason, evidence, &status, err,
                        sizeof(err));
        break;
    case EXP_DECISION_HOLD:
        if (noted_changed(name, reason))
            (void)ctl_record(c, name, "hold", d.task, reason, evidence);
        break;
    }
    if (d.warn_mask) {
        char warn[128];
        ctl_tasks_list(d.warn_mask, warn, sizeof(warn));
        char wreason[192];
        snprintf(wreason, sizeof(wreason), "warn-level guardrail regressed on %s", warn);
        char key[160];
        snprintf(key, sizeof(key), "%s#warn", name);
        if (noted_changed(key, wreason))
            (void)ctl_record(c, name, "warn", -1, wreason, evidence);
    }
    free(evidence);
    exp_experiment_free(x);
}

void ctl_tick_once(ctl *c)
{
    c->ticks++;
    PGresult *r = ctl_db_q(c, "SELECT sy_fold_feedback()", 0, NULL);
    if (r)
        PQclear(r);
    r = ctl_db_q(c,
                 "SELECT e.name, e.definition::text, e.step, array_to_string(e.held_back, ','), "
                 "array_to_string(e.human_pinned, ','), e.started_at, "
                 "extract(epoch FROM now() - e.step_started_at), e.status "
                 "FROM experiments e WHERE e.status <> 'draft' ORDER BY e.name",
                 0, NULL);
    if (!r)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (!strcmp(PQgetvalue(r, i, 7), "running")) {
            exp_experiment *x = NULL;
            char err[256];
            const char *def = PQgetvalue(r, i, 1);
            int holdout_bp = 0;
            if (!exp_experiment_parse(def, strlen(def), &x, err, sizeof(err))) {
                holdout_bp = x->config->holdout_bp;
                exp_experiment_free(x);
            }
            evaluate(c, name, def, atoi(PQgetvalue(r, i, 2)),
                     ctl_tasks_mask(PQgetvalue(r, i, 3)), ctl_tasks_mask(PQgetvalue(r, i, 4)),
                     PQgetvalue(r, i, 5), atof(PQgetvalue(r, i, 6)), holdout_bp);
        }
        /* every tick, so routers converge even after a Redis restart */
        (void)ctl_publish(c, name);
    }
    PQclear(r);
    ctl_notify_deliver(c);
    c->last_tick_ms = sy_clock_wall_ms();
}
