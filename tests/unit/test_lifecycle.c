/* The phase machine: every transition, every refusal with its exact reason,
 * and the rule that human decisions are never undone by the controller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/lifecycle.h"

static char why[256];

static void ok(exp_life *l, exp_op a, int task)
{
    if (exp_life_apply(l, a, task, why, sizeof(why)))
        fail_msg("%s refused: %s", exp_op_str(a), why);
}

static void refused(exp_life *l, exp_op a, int task, const char *reason)
{
    exp_life before = *l;
    assert_int_equal(exp_life_apply(l, a, task, why, sizeof(why)), -1);
    assert_string_equal(why, reason);
    assert_memory_equal(&before, l, sizeof(before)); /* nothing changed */
}

static void test_happy_path(void **state)
{
    (void)state;
    exp_life l = {.status = EXP_STATUS_DRAFT, .nsteps = 3};
    assert_int_equal(exp_life_phase(&l, EXP_PHASE_SHADOW), EXP_PHASE_DRAFT);
    ok(&l, EXP_OP_START, -1);
    assert_int_equal(l.step, 0);
    assert_int_equal(exp_life_phase(&l, EXP_PHASE_SHADOW), EXP_PHASE_SHADOW);
    ok(&l, EXP_OP_ADVANCE, -1);
    ok(&l, EXP_OP_PROMOTE, -1);
    assert_int_equal(l.step, 2);
    ok(&l, EXP_OP_ADVANCE, -1);
    assert_int_equal(l.status, EXP_STATUS_COMPLETED);
    assert_int_equal(exp_life_phase(&l, EXP_PHASE_FULL), EXP_PHASE_COMPLETED);
    refused(&l, EXP_OP_ADVANCE, -1, "cannot advance: the experiment is completed, not running");
}

static void test_pause_resume_rollback(void **state)
{
    (void)state;
    exp_life l = {.status = EXP_STATUS_DRAFT, .nsteps = 2};
    refused(&l, EXP_OP_PAUSE, -1, "cannot pause: the experiment is draft, not running");
    refused(&l, EXP_OP_RESUME, -1, "cannot resume: the experiment is draft, not paused");
    ok(&l, EXP_OP_START, -1);
    refused(&l, EXP_OP_START, -1, "cannot start: the experiment is running, not draft");
    ok(&l, EXP_OP_AUTO_PAUSE, -1);
    assert_int_equal(exp_life_phase(&l, EXP_PHASE_CANARY), EXP_PHASE_PAUSED);
    refused(&l, EXP_OP_ADVANCE, -1, "cannot advance: the experiment is paused, not running");
    ok(&l, EXP_OP_RESUME, -1);
    ok(&l, EXP_OP_ROLLBACK, -1);
    assert_int_equal(exp_life_phase(&l, EXP_PHASE_RAMP), EXP_PHASE_ROLLED_BACK);
    /* terminal: the controller can never re-advance a rolled-back experiment */
    refused(&l, EXP_OP_ADVANCE, -1, "cannot advance: the experiment is rolled_back, not running");
    refused(&l, EXP_OP_RESUME, -1, "cannot resume: the experiment is rolled_back, not paused");
    refused(&l, EXP_OP_HOLD_BACK, WIRE_TASK_CODE,
            "cannot change task types: the experiment is rolled_back");
}

static void test_humans_win(void **state)
{
    (void)state;
    exp_life l = {.status = EXP_STATUS_DRAFT, .nsteps = 4};
    ok(&l, EXP_OP_START, -1);
    ok(&l, EXP_OP_HOLD_BACK, WIRE_TASK_CODE);
    assert_int_equal(l.held_back, 1u << WIRE_TASK_CODE);
    ok(&l, EXP_OP_RELEASE, WIRE_TASK_CODE); /* a human disagrees */
    assert_int_equal(l.held_back, 0);
    refused(&l, EXP_OP_HOLD_BACK, WIRE_TASK_CODE,
            "a human released code: the controller does not hold it back");
    ok(&l, EXP_OP_HOLD, WIRE_TASK_REASONING);
    assert_true(l.held_back & (1u << WIRE_TASK_REASONING));
    assert_true(l.human_held & (1u << WIRE_TASK_REASONING));
    refused(&l, EXP_OP_HOLD, -1, "a task type is required (simple, code, reasoning, complex)");
}

static void test_names(void **state)
{
    (void)state;
    exp_status s;
    exp_op a;
    assert_int_equal(exp_status_parse("rolled_back", &s), 0);
    assert_int_equal(s, EXP_STATUS_ROLLED_BACK);
    assert_int_equal(exp_op_parse("hold_back", &a), 0);
    assert_int_equal(a, EXP_OP_HOLD_BACK);
    assert_int_equal(exp_op_parse("explode", &a), -1);
    assert_string_equal(exp_op_str(EXP_OP_AUTO_ROLLBACK), "auto_rollback");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_pause_resume_rollback),
        cmocka_unit_test(test_humans_win),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
