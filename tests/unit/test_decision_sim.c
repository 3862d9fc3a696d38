/* A small, fixed-seed batch of the offline decision simulation
 * (bench/decision_sim.c, included here without its main): 100 A/A and 100 A/B
 * rollouts through the real exp_decide(), tick by tick.
 *
 * Assertions are statistical bounds, not exact numbers:
 *   - A/A (no difference): false actions (rollback, hold back, pause) <= 12 of
 *     100. If the true rate were alpha = 0.05, P(X >= 13) = 0.0015 (binomial), so
 *     a failure means the rate is above alpha, not bad luck.
 *   - A/B (thumbs-down 10% -> 13%): at least 90 of 100 detected, by the
 *     thumbs-down guardrail, before the rollout completes.
 *   - the Flagger-style fixed threshold on the same scenarios acts on at least
 *     20 of the 100 A/A runs (about half in the full benchmark): the reason the
 *     controller does not work that way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define DECISION_SIM_NO_MAIN
#include "bench/decision_sim.c"

#define RUNS 100
#define SEED 4242

static void test_aa_false_actions(void **state)
{
    (void)state;
    sim_world w;
    exp_guardrail g[EXP_MAX_GUARDRAILS];
    int ng;
    world_default(&w, 0);
    w.max_ticks = 2 * 288;
    sim_guardrails(g, &ng, 1.0);
    sim_policy p = {.name = "exp_decide", .kind = POL_SEQ, .guardrails = g, .nguardrails = ng};
    sim_summary s = sim_batch(&w, &p, RUNS, SEED);
    print_message("A/A: %d actions (%d rollback, %d hold back, %d pause), %d completed\n",
                  sim_actions(&s), s.count[OUT_ROLLBACK], s.count[OUT_HOLD_BACK],
                  s.count[OUT_PAUSE], s.count[OUT_COMPLETED]);
    assert_true(sim_actions(&s) <= 12);
    assert_true(s.count[OUT_ROLLBACK] <= 12);
    assert_true(s.count[OUT_COMPLETED] >= 50); /* healthy rollouts do finish */
}

static void test_aa_margin_zero(void **state)
{
    (void)state;
    /* every margin 0: the confidence sequence alone keeps false actions below alpha */
    sim_world w;
    exp_guardrail g[EXP_MAX_GUARDRAILS];
    int ng;
    world_default(&w, 0);
    w.max_ticks = 288;
    sim_guardrails(g, &ng, 0.0);
    sim_policy p = {.name = "exp_decide", .kind = POL_SEQ, .guardrails = g, .nguardrails = ng};
    sim_summary s = sim_batch(&w, &p, RUNS, SEED);
    print_message("A/A margin 0: %d actions\n", sim_actions(&s));
    assert_true(sim_actions(&s) <= 12);
}

static void test_ab_detection(void **state)
{
    (void)state;
    sim_world w;
    exp_guardrail g[EXP_MAX_GUARDRAILS];
    int ng;
    world_default(&w, 1);
    sim_guardrails(g, &ng, 1.0);
    sim_policy p = {.name = "exp_decide", .kind = POL_SEQ, .guardrails = g, .nguardrails = ng};
    sim_summary s = sim_batch(&w, &p, RUNS, SEED);
    print_message("A/B: %d rollbacks (%d by thumbs-down), median %.0f routed requests, %.1f h\n",
                  s.count[OUT_ROLLBACK], s.by_metric[EXP_GM_THUMBS_DOWN_RATE], s.median_routed,
                  s.median_hours);
    assert_true(s.by_metric[EXP_GM_THUMBS_DOWN_RATE] >= 90);
    assert_int_equal(s.count[OUT_COMPLETED], 0);
}

static void test_flagger_baseline(void **state)
{
    (void)state;
    sim_world w;
    sim_policy p;
    world_default(&w, 0);
    flagger_policy(&p, "flagger", 6, 0.12);
    sim_summary s = sim_batch(&w, &p, RUNS, SEED);
    print_message("Flagger-style A/A: %d false rollbacks\n", sim_actions(&s));
    assert_true(sim_actions(&s) >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aa_false_actions),
        cmocka_unit_test(test_aa_margin_zero),
        cmocka_unit_test(test_ab_detection),
        cmocka_unit_test(test_flagger_baseline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
