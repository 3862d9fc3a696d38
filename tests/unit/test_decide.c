/* The per-tick decision: table-driven cases (A/A, regressions per action, SRM,
 * no data, held-back and pinned tasks, feedback imbalance, shadow accuracy),
 * the experiment-level combination, input validation and the evidence JSON.
 * Expected bounds for the pinned numbers come from tests/unit/stats_reference.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "experiments/decide.h"

/* One arm with the given rates; every total is exact. */
typedef struct arm_spec {
    int64_t n;
    double err_rate;
    double rated_share;  /* share of requests with feedback; all of them leave a thumb */
    double down_rate;    /* thumbs down among thumbs */
    double rating_mean;  /* ratings: rated/2 requests, variance 1 */
    double cost;         /* per request, sd = cost / 2 */
    double slow_share;   /* share in the slow latency bucket (20) vs the fast one (10) */
} arm_spec;

static exp_arm make_arm(arm_spec s)
{
    exp_arm a;
    memset(&a, 0, sizeof a);
    a.n = s.n;
    a.errors = (int64_t)llround((double)s.n * s.err_rate);
    a.rated = (int64_t)llround((double)s.n * s.rated_share);
    a.thumbs = a.rated;
    a.thumbs_down = (int64_t)llround((double)a.thumbs * s.down_rate);
    a.ratings = a.rated / 2;
    a.rating_sum = (double)a.ratings * s.rating_mean;
    a.rating_sq = (double)a.ratings * (s.rating_mean * s.rating_mean + 1.0);
    a.cost_sum = (double)s.n * s.cost;
    a.cost_sq = (double)s.n * (s.cost * s.cost + s.cost * s.cost / 4);
    a.baseline_cost_sum = a.cost_sum;
    int64_t slow = (int64_t)llround((double)s.n * s.slow_share);
    a.latency_hist[10] = s.n - slow;
    a.latency_hist[20] = slow;
    a.latency_sum_us = (s.n - slow) * 20000 + slow * 400000;
    return a;
}

static const arm_spec BASE = {20000, 0.01, 0.25, 0.10, 4.0, 0.002, 0.05};

static exp_task_input make_task(wire_task task, arm_spec c, arm_spec t, double expected)
{
    exp_task_input in;
    memset(&in, 0, sizeof in);
    in.task = task;
    in.control = make_arm(c);
    in.routed = make_arm(t);
    in.control_q = in.control; /* everything is older than the attribution window */
    in.routed_q = in.routed;
    in.expected_routed_share = expected;
    return in;
}

static exp_guardrail guard(exp_guard_metric m, double margin, exp_guard_action a)
{
    exp_guardrail g;
    memset(&g, 0, sizeof g);
    g.metric = m;
    g.margin = margin;
    g.alpha = 0.05;
    g.action = a;
    g.min_samples = 100;
    return g;
}

static exp_guardrail G[5];

static void init_guardrails(void)
{
    G[0] = guard(EXP_GM_THUMBS_DOWN_RATE, 0.02, EXP_GA_ROLLBACK);
    G[1] = guard(EXP_GM_ERROR_RATE, 0.01, EXP_GA_HOLD_BACK_TASK);
    G[2] = guard(EXP_GM_LATENCY_P95_SHARE, 0.03, EXP_GA_PAUSE);
    G[3] = guard(EXP_GM_RATING, 0.2, EXP_GA_HOLD_BACK_TASK);
    G[4] = guard(EXP_GM_COST_PER_REQUEST, 0.0005, EXP_GA_WARN);
}

static exp_tick_input make_tick(exp_phase kind, double seconds, const exp_task_input *tasks,
                                int ntasks)
{
    exp_tick_input in;
    memset(&in, 0, sizeof in);
    in.step.kind = kind;
    in.step.routed_bp = 5000;
    in.step.min_duration_s = 3600;
    in.step.min_samples = 1000;
    in.step.min_labels = 100;
    in.step.accuracy_floor = 0.85;
    in.seconds_in_phase = seconds;
    in.guardrails = G;
    in.nguardrails = 5;
    in.tasks = tasks;
    in.ntasks = ntasks;
    in.params = exp_decide_params_default();
    return in;
}

/* ---- table: one task type, one tick ---- */

typedef struct decide_case {
    const char *name;
    arm_spec c, t;
    double expected;        /* expected routed share */
    double seconds;
    int held_back, pinned;
    exp_verdict verdict;
    exp_reason reason;
    int action;             /* exp_guard_action or -1 */
    exp_decision_kind kind;
    unsigned hold_back_mask, warn_mask;
} decide_case;

#define A(n_, err, rated, down, rating, cost, slow) {n_, err, rated, down, rating, cost, slow}
#define BASE_A A(20000, 0.01, 0.25, 0.10, 4.0, 0.002, 0.05)
#define CODE (1u << WIRE_TASK_CODE)

static const decide_case CASES[] = {
    {"A/A, duration met: advance", BASE_A, BASE_A, 0.5, 7200, 0, 0, EXP_VERDICT_ADVANCE,
     EXP_REASON_READY, -1, EXP_DECISION_ADVANCE, 0, 0},
    {"A/A, duration short: hold", BASE_A, BASE_A, 0.5, 600, 0, 0, EXP_VERDICT_HOLD,
     EXP_REASON_MIN_DURATION, -1, EXP_DECISION_HOLD, 0, 0},
    {"A/A, few requests: hold, no data", A(60, 0.01, 0.25, 0.1, 4, 0.002, 0.05),
     A(60, 0.01, 0.25, 0.1, 4, 0.002, 0.05), 0.5, 7200, 0, 0, EXP_VERDICT_HOLD,
     EXP_REASON_INSUFFICIENT_DATA, -1, EXP_DECISION_HOLD, 0, 0},
    {"A/A, 900 requests: inconclusive", A(900, 0.05, 0.5, 0.1, 4, 0.002, 0.05),
     A(900, 0.05, 0.5, 0.1, 4, 0.002, 0.05), 0.5, 7200, 0, 0, EXP_VERDICT_HOLD,
     EXP_REASON_INCONCLUSIVE, -1, EXP_DECISION_HOLD, 0, 0},
    {"no feedback at all: hold, no data", A(20000, 0.01, 0, 0, 4, 0.002, 0.05),
     A(20000, 0.01, 0, 0, 4, 0.002, 0.05), 0.5, 7200, 0, 0, EXP_VERDICT_HOLD,
     EXP_REASON_INSUFFICIENT_DATA, -1, EXP_DECISION_HOLD, 0, 0},
    {"thumbs-down 10% -> 20%: rollback", BASE_A, A(20000, 0.01, 0.25, 0.20, 4, 0.002, 0.05), 0.5,
     600, 0, 0, EXP_VERDICT_REGRESS, EXP_REASON_GUARDRAIL, EXP_GA_ROLLBACK,
     EXP_DECISION_ROLLBACK, 0, 0},
    {"thumbs-down 10% -> 11%: inconclusive", A(8000, 0.01, 0.25, 0.10, 4, 0.002, 0.05),
     A(8000, 0.01, 0.25, 0.11, 4, 0.002, 0.05), 0.5, 7200, 0, 0, EXP_VERDICT_HOLD,
     EXP_REASON_INCONCLUSIVE, -1, EXP_DECISION_HOLD, 0, 0},
    {"errors 1% -> 5%: hold back", BASE_A, A(20000, 0.05, 0.25, 0.10, 4, 0.002, 0.05), 0.5, 7200,
     0, 0, EXP_VERDICT_REGRESS, EXP_REASON_GUARDRAIL, EXP_GA_HOLD_BACK_TASK,
     EXP_DECISION_HOLD_BACK, CODE, 0},
    {"errors 1% -> 5%, pinned: warn and hold", BASE_A, A(20000, 0.05, 0.25, 0.10, 4, 0.002, 0.05),
     0.5, 7200, 0, 1, EXP_VERDICT_HOLD, EXP_REASON_GUARDRAIL, -1, EXP_DECISION_HOLD, 0, CODE},
    {"rating 4.0 -> 3.5: hold back", BASE_A, A(20000, 0.01, 0.25, 0.10, 3.5, 0.002, 0.05), 0.5,
     7200, 0, 0, EXP_VERDICT_REGRESS, EXP_REASON_GUARDRAIL, EXP_GA_HOLD_BACK_TASK,
     EXP_DECISION_HOLD_BACK, CODE, 0},
    {"slow share 5% -> 15%: pause", BASE_A, A(20000, 0.01, 0.25, 0.10, 4, 0.002, 0.15), 0.5, 7200,
     0, 0, EXP_VERDICT_REGRESS, EXP_REASON_GUARDRAIL, EXP_GA_PAUSE, EXP_DECISION_PAUSE, 0, 0},
    {"cost x2 (warn guardrail): advance with a warning", BASE_A,
     A(20000, 0.01, 0.25, 0.10, 4, 0.004, 0.05), 0.5, 7200, 0, 0, EXP_VERDICT_ADVANCE,
     EXP_REASON_READY, -1, EXP_DECISION_ADVANCE, 0, CODE},
    {"SRM 20000 vs 22000 at 50/50: pause", BASE_A, A(22000, 0.01, 0.25, 0.10, 4, 0.002, 0.05),
     0.5, 7200, 0, 0, EXP_VERDICT_PAUSE, EXP_REASON_SRM, EXP_GA_PAUSE, EXP_DECISION_PAUSE, 0, 0},
    {"SRM beats a regression", BASE_A, A(22000, 0.01, 0.25, 0.30, 4, 0.002, 0.05), 0.5, 7200, 0, 0,
     EXP_VERDICT_PAUSE, EXP_REASON_SRM, EXP_GA_PAUSE, EXP_DECISION_PAUSE, 0, 0},
    {"rated 25% vs 10%: feedback imbalance", BASE_A, A(20000, 0.01, 0.10, 0.10, 4, 0.002, 0.05),
     0.5, 7200, 0, 0, EXP_VERDICT_HOLD, EXP_REASON_FEEDBACK_IMBALANCE, -1, EXP_DECISION_HOLD, 0, 0},
    {"imbalance hides a quality regression", BASE_A, A(20000, 0.01, 0.10, 0.30, 4, 0.002, 0.05),
     0.5, 7200, 0, 0, EXP_VERDICT_HOLD, EXP_REASON_FEEDBACK_IMBALANCE, -1, EXP_DECISION_HOLD, 0, 0},
    {"held back: ignored, nothing active", BASE_A, A(20000, 0.05, 0.25, 0.30, 4, 0.002, 0.05),
     0.5, 7200, 1, 0, EXP_VERDICT_IGNORED, EXP_REASON_HELD_BACK, -1, EXP_DECISION_HOLD, 0, 0},
    {"no traffic: idle, nothing active", A(0, 0, 0, 0, 0, 0, 0), A(0, 0, 0, 0, 0, 0, 0), 0.5,
     7200, 0, 0, EXP_VERDICT_IDLE, EXP_REASON_NO_TRAFFIC, -1, EXP_DECISION_HOLD, 0, 0},
    {"control only (routed arm empty): hold", BASE_A, A(0, 0, 0, 0, 0, 0, 0), 0.0, 7200, 0, 0,
     EXP_VERDICT_HOLD, EXP_REASON_INSUFFICIENT_DATA, -1, EXP_DECISION_HOLD, 0, 0},
};

static void test_cases(void **state)
{
    (void)state;
    init_guardrails();
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const decide_case *k = &CASES[i];
        exp_task_input t = make_task(WIRE_TASK_CODE, k->c, k->t, k->expected);
        t.held_back = k->held_back;
        t.pinned = k->pinned;
        exp_tick_input in = make_tick(EXP_PHASE_CANARY, k->seconds, &t, 1);
        exp_decision d;
        print_message("case: %s\n", k->name);
        assert_int_equal(exp_decide(&in, &d), 0);
        assert_int_equal(d.ntasks, 1);
        assert_string_equal(exp_verdict_str(d.tasks[0].verdict), exp_verdict_str(k->verdict));
        assert_string_equal(exp_reason_str(d.tasks[0].reason), exp_reason_str(k->reason));
        assert_int_equal(d.tasks[0].action, k->action);
        assert_string_equal(exp_decision_kind_str(d.kind), exp_decision_kind_str(k->kind));
        assert_int_equal(d.hold_back_mask, k->hold_back_mask);
        assert_int_equal(d.warn_mask, k->warn_mask);
        char *js = exp_decision_json(&d);
        assert_non_null(js);
        json_error_t err;
        json_t *o = json_loads(js, 0, &err);
        assert_non_null(o);
        json_decref(o);
        free(js);
    }
}

/* The numbers behind a verdict: A/B thumbs-down 100/1000 vs 130/1000 is the
 * stats_reference.py example (CS at N = 2000: [-0.0145, 0.0745]). */
static void test_evidence_values(void **state)
{
    (void)state;
    init_guardrails();
    exp_task_input t = make_task(WIRE_TASK_SIMPLE, BASE, BASE, 0.5);
    t.control_q.thumbs = 1000;
    t.control_q.thumbs_down = 100;
    t.routed_q.thumbs = 1000;
    t.routed_q.thumbs_down = 130;
    exp_tick_input in = make_tick(EXP_PHASE_CANARY, 7200, &t, 1);
    exp_decision d;
    assert_int_equal(exp_decide(&in, &d), 0);
    const exp_evidence *ev = &d.tasks[0].guardrails[0];
    assert_int_equal(ev->metric, EXP_GM_THUMBS_DOWN_RATE);
    assert_int_equal(ev->status, EXP_CHECK_INCONCLUSIVE);
    assert_true(ev->n_c == 1000 && ev->n_t == 1000 && ev->x_c == 100 && ev->x_t == 130);
    assert_true(fabs(ev->harm - 0.03) < 1e-15);
    assert_true(fabs(ev->harm_lower - -0.014517962102267787) < 1e-13);
    assert_true(fabs(ev->harm_upper - 0.07451796210226778) < 1e-13);
    assert_true(ev->msprt_p > 0 && ev->msprt_p <= 1);
    assert_int_equal(d.tasks[0].verdict, EXP_VERDICT_HOLD);
    assert_int_equal(d.tasks[0].reason, EXP_REASON_INCONCLUSIVE);

    /* rating harm is control - routed: the bounds flip */
    ev = &d.tasks[0].guardrails[3];
    assert_int_equal(ev->metric, EXP_GM_RATING);
    assert_true(fabs(ev->harm_lower + ev->diff.upper) < 1e-15);
    assert_true(fabs(ev->harm_upper + ev->diff.lower) < 1e-15);
    /* latency: tau is the control's p95 bucket (bucket 10, 22 ms) */
    ev = &d.tasks[0].guardrails[2];
    assert_true(ev->threshold_us == 22000);
    assert_true(ev->x_c == 1000 && ev->x_t == 1000);
}

/* Several task types: held-back tasks do not block advancing; rollback beats
 * pause beats hold back; hold back and advance never happen in one tick. */
static void test_combination(void **state)
{
    (void)state;
    init_guardrails();
    arm_spec bad_err = BASE, bad_down = BASE;
    bad_err.err_rate = 0.05;
    bad_down.down_rate = 0.25;
    exp_task_input t[4];
    exp_decision d;

    t[0] = make_task(WIRE_TASK_SIMPLE, BASE, BASE, 0.5);
    t[1] = make_task(WIRE_TASK_CODE, BASE, bad_down, 0.5);
    t[1].held_back = 1;
    t[2] = make_task(WIRE_TASK_REASONING, BASE, BASE, 0.5);
    exp_tick_input in = make_tick(EXP_PHASE_RAMP, 7200, t, 3);
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.tasks[1].verdict, EXP_VERDICT_IGNORED);
    assert_int_equal(d.tasks[1].guardrails[0].status, EXP_CHECK_REGRESSION); /* still measured */
    assert_int_equal(d.kind, EXP_DECISION_ADVANCE);
    in.step.min_samples = 30000; /* guardrails pass, the phase wants more requests */
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_HOLD);
    assert_int_equal(d.reason, EXP_REASON_MIN_SAMPLES);
    in.step.min_samples = 1000;

    /* one task holds: the experiment holds with its reason */
    arm_spec few = BASE;
    few.n = 50;
    t[2] = make_task(WIRE_TASK_REASONING, few, few, 0.5);
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_HOLD);
    assert_int_equal(d.reason, EXP_REASON_INSUFFICIENT_DATA);
    assert_int_equal(d.task, WIRE_TASK_REASONING);

    /* hold back one, the others are ready: hold back only */
    t[1].held_back = 0;
    t[1].routed = make_arm(bad_err);
    t[1].routed_q = t[1].routed;
    t[2] = make_task(WIRE_TASK_REASONING, BASE, BASE, 0.5);
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_HOLD_BACK);
    assert_int_equal(d.hold_back_mask, 1u << WIRE_TASK_CODE);

    /* add a pause (SRM on reasoning) and a rollback (thumbs on complex) */
    t[2].routed.n = 23000;
    t[3] = make_task(WIRE_TASK_COMPLEX, BASE, bad_down, 0.5);
    in.ntasks = 4;
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_ROLLBACK);
    assert_int_equal(d.task, WIRE_TASK_COMPLEX);
    in.ntasks = 3;
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_PAUSE);
    assert_int_equal(d.reason, EXP_REASON_SRM);
    assert_int_equal(d.task, WIRE_TASK_REASONING);
}

static void test_guardrail_task_filter(void **state)
{
    (void)state;
    init_guardrails();
    arm_spec bad_err = BASE;
    bad_err.err_rate = 0.05;
    exp_task_input t = make_task(WIRE_TASK_SIMPLE, BASE, bad_err, 0.5);
    exp_tick_input in = make_tick(EXP_PHASE_CANARY, 7200, &t, 1);
    exp_decision d;
    G[1].tasks = 1u << WIRE_TASK_CODE; /* the error guardrail watches code only */
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.tasks[0].guardrails[1].status, EXP_CHECK_SKIPPED);
    assert_int_equal(d.kind, EXP_DECISION_ADVANCE);
    G[1].tasks = 1u << WIRE_TASK_SIMPLE;
    assert_int_equal(exp_decide(&in, &d), 0);
    assert_int_equal(d.kind, EXP_DECISION_HOLD_BACK);
    G[1].tasks = 0;
}

static void test_shadow(void **state)
{
    (void)state;
    init_guardrails();
    static const arm_spec none = {0, 0, 0, 0, 0, 0, 0};
    exp_task_input t = make_task(WIRE_TASK_CODE, BASE, none, 0.0);
    exp_tick_input in = make_tick(EXP_PHASE_SHADOW, 7200, &t, 1);
    in.step.routed_bp = 0;
    exp_decision d;
    static const struct {
        int64_t correct, total;
        double seconds;
        exp_reason reason;
        exp_decision_kind kind;
    } rows[] = {
        {0, 0, 7200, EXP_REASON_INSUFFICIENT_DATA, EXP_DECISION_HOLD},
        {60, 60, 7200, EXP_REASON_INSUFFICIENT_DATA, EXP_DECISION_HOLD}, /* < min_labels */
        {450, 500, 7200, EXP_REASON_READY, EXP_DECISION_ADVANCE},        /* lower 0.8757 */
        {450, 500, 60, EXP_REASON_MIN_DURATION, EXP_DECISION_HOLD},
        {90, 100, 7200, EXP_REASON_INCONCLUSIVE, EXP_DECISION_HOLD},     /* lower 0.8396 */
        {350, 500, 7200, EXP_REASON_ACCURACY_BELOW_FLOOR, EXP_DECISION_HOLD},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        t.labels_correct = rows[i].correct;
        t.labels_total = rows[i].total;
        in.seconds_in_phase = rows[i].seconds;
        assert_int_equal(exp_decide(&in, &d), 0);
        assert_int_equal(d.tasks[0].reason, rows[i].reason);
        assert_int_equal(d.kind, rows[i].kind);
        for (int g = 0; g < 5; g++)
            assert_int_equal(d.tasks[0].guardrails[g].status, EXP_CHECK_SKIPPED);
    }
}

static void test_bad_input(void **state)
{
    (void)state;
    init_guardrails();
    exp_task_input t[2];
    t[0] = make_task(WIRE_TASK_CODE, BASE, BASE, 0.5);
    t[1] = t[0];
    exp_tick_input in = make_tick(EXP_PHASE_CANARY, 7200, t, 2);
    exp_decision d;
    assert_int_equal(exp_decide(&in, &d), -1); /* the same task twice */
    assert_int_equal(d.kind, EXP_DECISION_HOLD);
    in.ntasks = 1;
    in.nguardrails = EXP_MAX_GUARDRAILS + 1;
    assert_int_equal(exp_decide(&in, &d), -1);
    in.nguardrails = 5;
    G[0].alpha = 0;
    assert_int_equal(exp_decide(&in, &d), -1);
    G[0].alpha = 0.05;
    t[0].task = (wire_task)WIRE_NTASKS;
    assert_int_equal(exp_decide(&in, &d), -1);
    assert_int_equal(exp_decide(NULL, &d), -1);
}

static void test_json(void **state)
{
    (void)state;
    init_guardrails();
    exp_task_input t[2];
    arm_spec bad = BASE;
    bad.err_rate = 0.05;
    t[0] = make_task(WIRE_TASK_CODE, BASE, bad, 0.5);
    static const arm_spec none = {0, 0, 0, 0, 0, 0, 0};
    t[1] = make_task(WIRE_TASK_SIMPLE, none, none, 0.5);
    exp_tick_input in = make_tick(EXP_PHASE_CANARY, 7200, t, 2);
    exp_decision d;
    assert_int_equal(exp_decide(&in, &d), 0);
    char *js = exp_decision_json(&d);
    assert_non_null(js);
    json_error_t err;
    json_t *o = json_loads(js, 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "decision")), "hold_back");
    assert_string_equal(json_string_value(json_object_get(o, "phase")), "canary");
    json_t *hb = json_object_get(o, "hold_back");
    assert_int_equal(json_array_size(hb), 1);
    assert_string_equal(json_string_value(json_array_get(hb, 0)), "code");
    json_t *t0 = json_array_get(json_object_get(o, "tasks"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "verdict")), "regress");
    assert_string_equal(json_string_value(json_object_get(t0, "action")), "hold_back_task");
    json_t *g1 = json_array_get(json_object_get(t0, "guardrails"), 1);
    assert_string_equal(json_string_value(json_object_get(g1, "metric")), "error_rate");
    assert_string_equal(json_string_value(json_object_get(g1, "status")), "regression");
    assert_int_equal(json_integer_value(json_object_get(g1, "x_t")), 1000);
    assert_int_equal(json_integer_value(json_object_get(g1, "n_t")), 20000);
    assert_true(json_real_value(json_object_get(g1, "harm_lower")) > 0.01);
    /* the idle task: no data renders as null, never NaN */
    json_t *t1 = json_array_get(json_object_get(o, "tasks"), 1);
    assert_string_equal(json_string_value(json_object_get(t1, "verdict")), "idle");
    json_t *g0 = json_array_get(json_object_get(t1, "guardrails"), 0);
    assert_true(json_is_null(json_object_get(g0, "harm")));
    assert_true(json_is_null(json_object_get(json_object_get(g0, "diff"), "lower")));
    assert_null(strstr(js, "nan"));
    json_decref(o);
    free(js);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(exp_reason_str(EXP_REASON_INSUFFICIENT_DATA), "insufficient_data");
    assert_string_equal(exp_reason_str(EXP_REASON_MIN_DURATION), "min_duration");
    assert_string_equal(exp_verdict_str(EXP_VERDICT_ADVANCE), "advance");
    assert_string_equal(exp_decision_kind_str(EXP_DECISION_HOLD_BACK), "hold_back");
    assert_string_equal(exp_check_status_str(EXP_CHECK_NONINFERIOR), "noninferior");
    assert_true(exp_guard_action_severity(EXP_GA_ROLLBACK) > exp_guard_action_severity(EXP_GA_PAUSE));
    assert_true(exp_guard_action_severity(EXP_GA_PAUSE) >
                exp_guard_action_severity(EXP_GA_HOLD_BACK_TASK));
    assert_true(exp_guard_action_severity(EXP_GA_HOLD_BACK_TASK) >
                exp_guard_action_severity(EXP_GA_WARN));
    exp_arm a, b;
    memset(&a, 0, sizeof a);
    b = make_arm(BASE);
    exp_arm_add(&a, &b);
    exp_arm_add(&a, &b);
    assert_true(a.n == 2 * b.n && a.latency_hist[20] == 2 * b.latency_hist[20] &&
                a.thumbs_down == 2 * b.thumbs_down && a.rated == 2 * b.rated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),       cmocka_unit_test(test_evidence_values),
        cmocka_unit_test(test_combination), cmocka_unit_test(test_guardrail_task_filter),
        cmocka_unit_test(test_shadow),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_json),        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
