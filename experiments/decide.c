/*
 * The controller's per-tick decision (see decide.h for the rules).
 */
#include "experiments/decide.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

void exp_arm_add(exp_arm *dst, const exp_arm *src)
{
    dst->n += src->n;
    dst->errors += src->errors;
    dst->cost_sum += src->cost_sum;
    dst->cost_sq += src->cost_sq;
    dst->baseline_cost_sum += src->baseline_cost_sum;
    dst->latency_sum_us += src->latency_sum_us;
    for (int i = 0; i < EXP_LAT_BUCKETS; i++)
        dst->latency_hist[i] += src->latency_hist[i];
    dst->thumbs += src->thumbs;
    dst->thumbs_down += src->thumbs_down;
    dst->ratings += src->ratings;
    dst->rating_sum += src->rating_sum;
    dst->rating_sq += src->rating_sq;
    dst->rated += src->rated;
}

/* ---- names ---- */

int exp_guard_action_severity(exp_guard_action a)
{
    switch (a) {
    case EXP_GA_WARN: return 1;
    case EXP_GA_HOLD_BACK_TASK: return 2;
    case EXP_GA_PAUSE: return 3;
    case EXP_GA_ROLLBACK: return 4;
    case EXP_GA_N: break;
    }
    return 0;
}

const char *exp_check_status_str(exp_check_status s)
{
    switch (s) {
    case EXP_CHECK_NO_DATA: return "no_data";
    case EXP_CHECK_INCONCLUSIVE: return "inconclusive";
    case EXP_CHECK_NONINFERIOR: return "noninferior";
    case EXP_CHECK_REGRESSION: return "regression";
    case EXP_CHECK_BIASED: return "biased";
    case EXP_CHECK_SKIPPED: return "skipped";
    }
    return "unknown";
}

const char *exp_verdict_str(exp_verdict v)
{
    switch (v) {
    case EXP_VERDICT_HOLD: return "hold";
    case EXP_VERDICT_ADVANCE: return "advance";
    case EXP_VERDICT_REGRESS: return "regress";
    case EXP_VERDICT_PAUSE: return "pause";
    case EXP_VERDICT_IGNORED: return "ignored";
    case EXP_VERDICT_IDLE: return "idle";
    }
    return "unknown";
}

const char *exp_reason_str(exp_reason r)
{
    switch (r) {
    case EXP_REASON_NONE: return "none";
    case EXP_REASON_READY: return "ready";
    case EXP_REASON_INSUFFICIENT_DATA: return "insufficient_data";
    case EXP_REASON_INCONCLUSIVE: return "inconclusive";
    case EXP_REASON_MIN_SAMPLES: return "min_samples";
    case EXP_REASON_MIN_DURATION: return "min_duration";
    case EXP_REASON_FEEDBACK_IMBALANCE: return "feedback_imbalance";
    case EXP_REASON_SRM: return "sample_ratio_mismatch";
    case EXP_REASON_GUARDRAIL: return "guardrail";
    case EXP_REASON_ACCURACY_BELOW_FLOOR: return "accuracy_below_floor";
    case EXP_REASON_HELD_BACK: return "held_back";
    case EXP_REASON_NO_TRAFFIC: return "no_traffic";
    case EXP_REASON_NO_ACTIVE_TASK: return "no_active_task";
    }
    return "unknown";
}

const char *exp_decision_kind_str(exp_decision_kind k)
{
    switch (k) {
    case EXP_DECISION_HOLD: return "hold";
    case EXP_DECISION_ADVANCE: return "advance";
    case EXP_DECISION_HOLD_BACK: return "hold_back";
    case EXP_DECISION_PAUSE: return "pause";
    case EXP_DECISION_ROLLBACK: return "rollback";
    }
    return "unknown";
}

exp_decide_params exp_decide_params_default(void)
{
    exp_decide_params p;
    p.n_star = EXP_CS_NSTAR_DEFAULT;
    p.srm_alpha = 0.001;
    p.srm_min_units = 8;
    p.min_events = 10;
    p.balance_alpha = 0.001;
    p.balance_rel_tolerance = 0.10;
    p.accuracy_alpha = 0.05;
    return p;
}

/* ---- one guardrail ---- */

static int metric_is_quality(exp_guard_metric m)
{
    return m == EXP_GM_THUMBS_DOWN_RATE || m == EXP_GM_RATING;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static void eval_guardrail(const exp_tick_input *in, const exp_task_input *t,
                           const exp_guardrail *g, int imbalanced, exp_evidence *ev)
{
    const exp_decide_params *p = &in->params;
    int is_rate = 1, harm_sign = 1;
    int64_t min_n = max64(g->min_samples, 2);

    memset(ev, 0, sizeof *ev);
    ev->metric = g->metric;
    ev->action = g->action;
    ev->blocking = g->action != EXP_GA_WARN;
    ev->alpha = g->alpha;
    ev->margin = g->margin;
    ev->msprt_p = NAN;
    ev->harm = ev->harm_lower = ev->harm_upper = NAN;

    /* shadow has no routed arm; a guardrail may watch only some task types */
    if (in->step.kind == EXP_PHASE_SHADOW || (g->tasks && !(g->tasks & (1u << (unsigned)t->task)))) {
        ev->status = EXP_CHECK_SKIPPED;
        ev->blocking = 0;
        return;
    }

    switch (g->metric) {
    case EXP_GM_THUMBS_DOWN_RATE:
        ev->n_c = t->control_q.thumbs;
        ev->n_t = t->routed_q.thumbs;
        ev->x_c = t->control_q.thumbs_down;
        ev->x_t = t->routed_q.thumbs_down;
        ev->diff = exp_diff_prop(ev->x_c, ev->n_c, ev->x_t, ev->n_t, g->alpha, p->n_star);
        break;
    case EXP_GM_ERROR_RATE:
        ev->n_c = t->control.n;
        ev->n_t = t->routed.n;
        ev->x_c = t->control.errors;
        ev->x_t = t->routed.errors;
        ev->diff = exp_diff_prop(ev->x_c, ev->n_c, ev->x_t, ev->n_t, g->alpha, p->n_star);
        break;
    case EXP_GM_LATENCY_P95_SHARE: {
        exp_latency l = exp_latency_share(t->control.latency_hist, t->routed.latency_hist,
                                          t->latency_threshold_us, g->alpha, p->n_star);
        ev->n_c = l.n_c;
        ev->n_t = l.n_t;
        ev->x_c = l.above_c;
        ev->x_t = l.above_t;
        ev->threshold_us = l.threshold_us;
        ev->diff = l.diff;
        break;
    }
    case EXP_GM_RATING:
        is_rate = 0;
        harm_sign = -1;
        ev->n_c = t->control_q.ratings;
        ev->n_t = t->routed_q.ratings;
        ev->diff = exp_diff_mean((double)ev->n_c, t->control_q.rating_sum, t->control_q.rating_sq,
                                 (double)ev->n_t, t->routed_q.rating_sum, t->routed_q.rating_sq,
                                 g->alpha, p->n_star);
        break;
    case EXP_GM_COST_PER_REQUEST:
        is_rate = 0;
        ev->n_c = t->control.n;
        ev->n_t = t->routed.n;
        ev->diff = exp_diff_mean((double)ev->n_c, t->control.cost_sum, t->control.cost_sq,
                                 (double)ev->n_t, t->routed.cost_sum, t->routed.cost_sq,
                                 g->alpha, p->n_star);
        break;
    default:
        ev->status = EXP_CHECK_NO_DATA;
        return;
    }

    if (ev->n_c > 0 || ev->n_t > 0) {
        ev->harm = harm_sign * ev->diff.estimate;
        if (ev->diff.valid) {
            ev->harm_lower = harm_sign > 0 ? ev->diff.lower : -ev->diff.upper;
            ev->harm_upper = harm_sign > 0 ? ev->diff.upper : -ev->diff.lower;
        }
    }
    if (!is_rate)
        min_n = max64(min_n, p->min_events);
    if (is_rate && ev->n_c >= min_n && ev->n_t >= min_n && ev->x_c + ev->x_t < p->min_events) {
        /* Rare events (a healthy error rate): too few for the normal
         * approximation, but enough requests to bound the harm from above.
         * Wilson's upper bound for the routed rate minus its lower bound for
         * the control rate is conservative; below the margin, the routed arm
         * is non-inferior. It is never used to declare a regression. */
        double z = exp_normal_quantile(1 - g->alpha / 2);
        exp_interval it = exp_wilson(ev->x_t, ev->n_t, z), ic = exp_wilson(ev->x_c, ev->n_c, z);
        ev->harm_lower = NAN;
        ev->harm_upper = it.upper - ic.lower;
        ev->status = ev->harm_upper < ev->margin ? EXP_CHECK_NONINFERIOR : EXP_CHECK_NO_DATA;
        return;
    }
    if (!ev->diff.valid || ev->n_c < min_n || ev->n_t < min_n ||
        (is_rate && ev->x_c + ev->x_t < p->min_events)) {
        ev->status = EXP_CHECK_NO_DATA;
        return;
    }
    if (ev->margin > 0) {
        double lam = exp_msprt_lambda(ev->diff.estimate, ev->diff.se, ev->margin * ev->margin);
        if (isfinite(lam))
            ev->msprt_p = lam > 1 ? 1 / lam : 1.0;
    }
    if (imbalanced && metric_is_quality(g->metric))
        ev->status = EXP_CHECK_BIASED;
    else if (ev->harm_lower > ev->margin)
        ev->status = EXP_CHECK_REGRESSION;
    else if (ev->harm_upper < ev->margin)
        ev->status = EXP_CHECK_NONINFERIOR;
    else
        ev->status = EXP_CHECK_INCONCLUSIVE;
}

/* ---- one task type ---- */

void exp_decide_task(const exp_tick_input *in, const exp_task_input *t, exp_task_decision *out)
{
    const exp_decide_params *p = &in->params;
    const exp_step *st = &in->step;
    int shadow = st->kind == EXP_PHASE_SHADOW;
    int64_t su_c, su_t;

    memset(out, 0, sizeof *out);
    out->task = t->task;
    out->verdict = EXP_VERDICT_HOLD;
    out->action = -1;
    out->guardrail = -1;
    out->pinned = t->pinned != 0;
    out->n_c = t->control.n;
    out->n_t = t->routed.n;

    /* evidence first, whatever the verdict */
    su_c = t->srm_units_c;
    su_t = t->srm_units_t;
    if (su_c == 0 && su_t == 0) {
        su_c = t->control.n;
        su_t = t->routed.n;
    }
    out->srm = exp_srm_check(su_c, su_t, t->expected_routed_share, p->srm_alpha, p->srm_min_units);
    if (!shadow)
        out->balance = exp_balance_check(t->control_q.rated, t->control_q.n, t->routed_q.rated,
                                         t->routed_q.n, p->balance_alpha, p->n_star,
                                         p->balance_rel_tolerance, p->srm_min_units,
                                         p->min_events);
    if (shadow) {
        double floor = st->accuracy_floor > 0 ? st->accuracy_floor : EXP_ACCURACY_FLOOR_DEFAULT;
        out->accuracy = exp_accuracy_check(t->labels_correct, t->labels_total, floor,
                                           p->accuracy_alpha, max64(st->min_labels, 1));
    }
    int n = in->nguardrails < EXP_MAX_GUARDRAILS ? in->nguardrails : EXP_MAX_GUARDRAILS;
    out->nguardrails = n;
    for (int i = 0; i < n; i++)
        eval_guardrail(in, t, &in->guardrails[i], out->balance.imbalance, &out->guardrails[i]);

    /* regressions: the most severe blocking action; warn guardrails only warn */
    int worst = -1, worst_i = -1, pinned_regress = 0;
    int no_data = 0, inconclusive = 0;
    for (int i = 0; i < n; i++) {
        const exp_evidence *ev = &out->guardrails[i];
        if (ev->status == EXP_CHECK_REGRESSION) {
            exp_guard_action a = ev->action;
            if (a == EXP_GA_WARN) {
                out->warn = 1;
                continue;
            }
            if (a == EXP_GA_HOLD_BACK_TASK && t->pinned) {
                out->warn = 1;
                pinned_regress = 1;
                continue;
            }
            if (worst < 0 || exp_guard_action_severity(a) >
                                 exp_guard_action_severity((exp_guard_action)worst)) {
                worst = (int)a;
                worst_i = i;
            }
        } else if (ev->blocking && ev->status == EXP_CHECK_NO_DATA) {
            no_data = 1;
        } else if (ev->blocking &&
                   (ev->status == EXP_CHECK_INCONCLUSIVE || ev->status == EXP_CHECK_BIASED)) {
            inconclusive = 1;
        }
    }

    if (t->held_back) {
        out->verdict = EXP_VERDICT_IGNORED;
        out->reason = EXP_REASON_HELD_BACK;
        return;
    }
    if (t->control.n == 0 && t->routed.n == 0 && t->labels_total == 0) {
        out->verdict = EXP_VERDICT_IDLE;
        out->reason = EXP_REASON_NO_TRAFFIC;
        return;
    }
    if (out->srm.mismatch) {
        out->verdict = EXP_VERDICT_PAUSE;
        out->reason = EXP_REASON_SRM;
        out->action = EXP_GA_PAUSE;
        return;
    }
    if (worst >= 0) {
        out->verdict = EXP_VERDICT_REGRESS;
        out->reason = EXP_REASON_GUARDRAIL;
        out->action = worst;
        out->guardrail = worst_i;
        return;
    }

    out->verdict = EXP_VERDICT_HOLD;
    if (shadow) {
        /* min_labels 0: no accuracy gate (no labels are collected), but labels
         * that do arrive and show the classifier below the floor still hold */
        int gate = st->min_labels > 0;
        if (gate && !out->accuracy.valid)
            out->reason = EXP_REASON_INSUFFICIENT_DATA;
        else if (out->accuracy.valid && out->accuracy.fail)
            out->reason = EXP_REASON_ACCURACY_BELOW_FLOOR;
        else if (gate && !out->accuracy.pass)
            out->reason = EXP_REASON_INCONCLUSIVE;
        else if (t->control.n < st->min_samples)
            out->reason = EXP_REASON_MIN_SAMPLES;
        else if (in->seconds_in_phase < (double)st->min_duration_s)
            out->reason = EXP_REASON_MIN_DURATION;
        else
            out->reason = EXP_REASON_READY;
    } else if (out->balance.imbalance) {
        out->reason = EXP_REASON_FEEDBACK_IMBALANCE;
    } else if (pinned_regress) {
        out->reason = EXP_REASON_GUARDRAIL;
    } else if (no_data) {
        out->reason = EXP_REASON_INSUFFICIENT_DATA;
    } else if (inconclusive) {
        out->reason = EXP_REASON_INCONCLUSIVE;
    } else if (t->control.n < st->min_samples || t->routed.n < st->min_samples) {
        out->reason = EXP_REASON_MIN_SAMPLES;
    } else if (in->seconds_in_phase < (double)st->min_duration_s) {
        out->reason = EXP_REASON_MIN_DURATION;
    } else {
        out->reason = EXP_REASON_READY;
    }
    if (out->reason == EXP_REASON_READY)
        out->verdict = EXP_VERDICT_ADVANCE;
}

/* ---- the experiment ---- */

void exp_decide_combine(const exp_tick_input *in, exp_decision *d)
{
    int rollback = -1, pause = -1, first_hold = -1, active = 0, ready = 0;
    unsigned hold_back = 0, warn = 0;

    for (int i = 0; i < d->ntasks; i++) {
        const exp_task_decision *td = &d->tasks[i];
        unsigned bit = 1u << (unsigned)td->task;
        if (td->warn)
            warn |= bit;
        switch (td->verdict) {
        case EXP_VERDICT_REGRESS:
            active++;
            if (td->action == EXP_GA_ROLLBACK && rollback < 0)
                rollback = i;
            else if (td->action == EXP_GA_PAUSE && pause < 0)
                pause = i;
            else if (td->action == EXP_GA_HOLD_BACK_TASK)
                hold_back |= bit;
            break;
        case EXP_VERDICT_PAUSE:
            active++;
            if (pause < 0)
                pause = i;
            break;
        case EXP_VERDICT_ADVANCE:
            active++;
            ready++;
            break;
        case EXP_VERDICT_HOLD:
            active++;
            if (first_hold < 0)
                first_hold = i;
            break;
        case EXP_VERDICT_IGNORED:
        case EXP_VERDICT_IDLE:
            break;
        }
    }

    d->warn_mask = warn;
    d->hold_back_mask = 0;
    d->task = -1;
    if (rollback >= 0) {
        d->kind = EXP_DECISION_ROLLBACK;
        d->reason = EXP_REASON_GUARDRAIL;
        d->task = (int)d->tasks[rollback].task;
    } else if (pause >= 0) {
        d->kind = EXP_DECISION_PAUSE;
        d->reason = d->tasks[pause].reason;
        d->task = (int)d->tasks[pause].task;
    } else if (hold_back) {
        d->kind = EXP_DECISION_HOLD_BACK;
        d->reason = EXP_REASON_GUARDRAIL;
        d->hold_back_mask = hold_back;
    } else if (active == 0) {
        d->kind = EXP_DECISION_HOLD;
        d->reason = EXP_REASON_NO_ACTIVE_TASK;
    } else if (first_hold >= 0) {
        d->kind = EXP_DECISION_HOLD;
        d->reason = d->tasks[first_hold].reason;
        d->task = (int)d->tasks[first_hold].task;
    } else if (ready == active && in->seconds_in_phase >= (double)in->step.min_duration_s) {
        d->kind = EXP_DECISION_ADVANCE;
        d->reason = EXP_REASON_READY;
    } else {
        d->kind = EXP_DECISION_HOLD;
        d->reason = EXP_REASON_MIN_DURATION;
    }
}

int exp_decide(const exp_tick_input *in, exp_decision *d)
{
    unsigned seen = 0;

    memset(d, 0, sizeof *d);
    d->kind = EXP_DECISION_HOLD;
    d->task = -1;
    if (!in)
        return -1;
    d->step = in->step;
    d->seconds_in_phase = in->seconds_in_phase;
    if (in->nguardrails < 0 || in->nguardrails > EXP_MAX_GUARDRAILS || in->ntasks < 0 ||
        in->ntasks > WIRE_NTASKS || (in->nguardrails > 0 && !in->guardrails) ||
        (in->ntasks > 0 && !in->tasks))
        return -1;
    for (int i = 0; i < in->ntasks; i++) {
        unsigned task = (unsigned)in->tasks[i].task;
        if (task >= WIRE_NTASKS || (seen & (1u << task)))
            return -1;
        seen |= 1u << task;
    }
    for (int i = 0; i < in->nguardrails; i++) {
        const exp_guardrail *g = &in->guardrails[i];
        if ((unsigned)g->metric >= EXP_GM_N || (unsigned)g->action >= EXP_GA_N || !(g->alpha > 0 && g->alpha < 1) || !(g->margin >= 0))
            return -1;
    }
    d->ntasks = in->ntasks;
    for (int i = 0; i < in->ntasks; i++)
        exp_decide_task(in, &in->tasks[i], &d->tasks[i]);
    exp_decide_combine(in, d);
    return 0;
}

/* ---- evidence as JSON ---- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *integer(int64_t v)
{
    return json_integer((json_int_t)v);
}

/* json_object_set_new() consumes the value even on failure; a NULL value
 * (allocation failure) makes the whole render fail. */
static int put(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return -1;
    return json_object_set_new(obj, key, v);
}

static json_t *task_mask(unsigned mask)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (int i = 0; i < WIRE_NTASKS; i++)
        if ((mask & (1u << i)) && json_array_append_new(a, json_string(wire_task_str((wire_task)i)))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *diff_json(const exp_diff *df)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    rc |= put(o, "value_c", num(df->value_c));
    rc |= put(o, "value_t", num(df->value_t));
    rc |= put(o, "estimate", num(df->estimate));
    rc |= put(o, "se", num(df->se));
    rc |= put(o, "multiplier", df->valid ? num(df->mult) : json_null());
    rc |= put(o, "lower", df->valid ? num(df->lower) : json_null());
    rc |= put(o, "upper", df->valid ? num(df->upper) : json_null());
    rc |= put(o, "z", num(df->z));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *evidence_json(const exp_evidence *ev)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    rc |= put(o, "metric", json_string(exp_guard_metric_str(ev->metric)));
    rc |= put(o, "action", json_string(exp_guard_action_str(ev->action)));
    rc |= put(o, "status", json_string(exp_check_status_str(ev->status)));
    rc |= put(o, "blocking", json_boolean(ev->blocking));
    rc |= put(o, "alpha", num(ev->alpha));
    rc |= put(o, "margin", num(ev->margin));
    rc |= put(o, "n_c", integer(ev->n_c));
    rc |= put(o, "n_t", integer(ev->n_t));
    if (ev->metric != EXP_GM_RATING && ev->metric != EXP_GM_COST_PER_REQUEST) {
        rc |= put(o, "x_c", integer(ev->x_c));
        rc |= put(o, "x_t", integer(ev->x_t));
    }
    rc |= put(o, "harm", num(ev->harm));
    rc |= put(o, "harm_lower", num(ev->harm_lower));
    rc |= put(o, "harm_upper", num(ev->harm_upper));
    rc |= put(o, "diff", diff_json(&ev->diff));
    if (ev->metric == EXP_GM_LATENCY_P95_SHARE)
        rc |= put(o, "threshold_us", ev->threshold_us > 0 && ev->threshold_us < INT64_MAX
                                         ? integer(ev->threshold_us)
                                         : json_null());
    rc |= put(o, "msprt_p", num(ev->msprt_p));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *task_json(const exp_task_decision *td)
{
    json_t *o = json_object(), *g = json_array(), *s = NULL;
    int rc = 0;
    if (!o || !g)
        goto fail;
    rc |= put(o, "task", json_string(wire_task_str(td->task)));
    rc |= put(o, "verdict", json_string(exp_verdict_str(td->verdict)));
    rc |= put(o, "reason", json_string(exp_reason_str(td->reason)));
    rc |= put(o, "action", td->action >= 0
                               ? json_string(exp_guard_action_str((exp_guard_action)td->action))
                               : json_null());
    rc |= put(o, "guardrail", td->guardrail >= 0 ? json_integer(td->guardrail) : json_null());
    rc |= put(o, "warn", json_boolean(td->warn));
    rc |= put(o, "pinned", json_boolean(td->pinned));
    rc |= put(o, "n_c", integer(td->n_c));
    rc |= put(o, "n_t", integer(td->n_t));

    s = json_object();
    if (!s)
        goto fail;
    rc |= put(s, "valid", json_boolean(td->srm.valid));
    rc |= put(s, "mismatch", json_boolean(td->srm.mismatch));
    rc |= put(s, "n_c", integer(td->srm.n_c));
    rc |= put(s, "n_t", integer(td->srm.n_t));
    rc |= put(s, "expected_t", num(td->srm.expected_t));
    rc |= put(s, "observed_t", num(td->srm.observed_t));
    rc |= put(s, "chi2", num(td->srm.chi2));
    rc |= put(s, "p", num(td->srm.p));
    rc |= put(s, "log_bf", num(td->srm.log_bf));
    rc |= put(s, "alpha", num(td->srm.alpha));
    rc |= put(o, "srm", s);

    s = json_object();
    if (!s)
        goto fail;
    rc |= put(s, "valid", json_boolean(td->balance.valid));
    rc |= put(s, "imbalance", json_boolean(td->balance.imbalance));
    rc |= put(s, "rated_c", integer(td->balance.rated_c));
    rc |= put(s, "n_c", integer(td->balance.n_c));
    rc |= put(s, "rated_t", integer(td->balance.rated_t));
    rc |= put(s, "n_t", integer(td->balance.n_t));
    rc |= put(s, "tolerance", num(td->balance.tolerance));
    rc |= put(s, "alpha", num(td->balance.alpha));
    rc |= put(s, "diff", diff_json(&td->balance.diff));
    rc |= put(o, "feedback_balance", s);

    s = json_object();
    if (!s)
        goto fail;
    rc |= put(s, "valid", json_boolean(td->accuracy.valid));
    rc |= put(s, "pass", json_boolean(td->accuracy.pass));
    rc |= put(s, "fail", json_boolean(td->accuracy.fail));
    rc |= put(s, "correct", integer(td->accuracy.correct));
    rc |= put(s, "total", integer(td->accuracy.total));
    rc |= put(s, "accuracy", num(td->accuracy.accuracy));
    rc |= put(s, "lower", num(td->accuracy.lower));
    rc |= put(s, "upper", num(td->accuracy.upper));
    rc |= put(s, "floor", num(td->accuracy.floor));
    rc |= put(s, "alpha", num(td->accuracy.alpha));
    rc |= put(o, "accuracy", s);
    s = NULL;

    for (int i = 0; i < td->nguardrails; i++) {
        json_t *e = evidence_json(&td->guardrails[i]);
        if (!e || json_array_append_new(g, e))
            goto fail;
    }
    rc |= put(o, "guardrails", g);
    g = NULL;
    if (rc)
        goto fail;
    return o;
fail:
    json_decref(g);
    json_decref(o);
    return NULL;
}

char *exp_decision_json(const exp_decision *d)
{
    json_t *o = json_object(), *tasks = json_array();
    char *out = NULL;
    int rc = 0;
    if (!o || !tasks)
        goto fail;
    rc |= put(o, "decision", json_string(exp_decision_kind_str(d->kind)));
    rc |= put(o, "reason", json_string(exp_reason_str(d->reason)));
    rc |= put(o, "task", d->task >= 0 ? json_string(wire_task_str((wire_task)d->task)) : json_null());
    rc |= put(o, "hold_back", task_mask(d->hold_back_mask));
    rc |= put(o, "warn", task_mask(d->warn_mask));
    rc |= put(o, "phase", json_string(exp_phase_str(d->step.kind)));
    rc |= put(o, "routed_bp", json_integer(d->step.routed_bp));
    rc |= put(o, "seconds_in_phase", num(d->seconds_in_phase));
    rc |= put(o, "min_duration_s", integer(d->step.min_duration_s));
    rc |= put(o, "min_samples_per_arm", integer(d->step.min_samples));
    for (int i = 0; i < d->ntasks; i++) {
        json_t *t = task_json(&d->tasks[i]);
        if (!t || json_array_append_new(tasks, t))
            goto fail;
    }
    rc |= put(o, "tasks", tasks);
    tasks = NULL;
    if (rc)
        goto fail;
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
fail:
    json_decref(tasks);
    json_decref(o);
    return out;
}
