/* exp_state_parse: the experiment state hash the controller writes and every router
 * reads (sy:{exp}:state). Exact errors for each malformed field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/routing.h"

/* the state with one field (name) set to value on top of a valid base */
static int parse_with(const char *name, const char *value, exp_state *st, char *err, size_t errlen)
{
    const char *names[] = {"phase", "salt", "routed_bp", "holdout_bp", "held_back", "version", name};
    const char *values[] = {"ramp", "s1", "2500", "500", "", "7", value};
    return exp_state_parse(names, values, 7, st, err, errlen);
}

static void test_valid(void **state)
{
    (void)state;
    exp_state st;
    char err[128] = "";
    assert_int_equal(parse_with("held_back", "code,reasoning", &st, err, sizeof(err)), 0);
    assert_int_equal(st.phase, EXP_PHASE_RAMP);
    assert_int_equal(st.routed_bp, 2500);
    assert_int_equal(st.holdout_bp, 500);
    assert_string_equal(st.salt, "s1");
    assert_int_equal(st.held_back, (1u << WIRE_TASK_CODE) | (1u << WIRE_TASK_REASONING));
    assert_true(st.version == 7);
    assert_int_equal(parse_with("version", "18446744073709551615", &st, err, sizeof(err)), 0);
    assert_true(st.version == UINT64_MAX);
    assert_int_equal(parse_with("unknown_field", "whatever", &st, err, sizeof(err)), 0);
}

static void test_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value, *err;
    } cases[] = {
        {"version", "-1", "version: must be an unsigned integer"},
        {"version", " 5", "version: must be an unsigned integer"},
        {"version", "+5", "version: must be an unsigned integer"},
        {"version", "", "version: must be an unsigned integer"},
        {"version", "5x", "version: must be an unsigned integer"},
        {"version", "18446744073709551616", "version: must be an unsigned integer"},
        {"held_back", "code,", "held_back: malformed list \"code,\""},
        {"held_back", ",code", "held_back: malformed list \",code\""},
        {"held_back", "code,,simple", "held_back: malformed list \"code,,simple\""},
        {"held_back", "poetry", "held_back: unknown task type \"poetry\""},
        {"routed_bp", "10001", "routed_bp: must be an integer from 0 to 10000"},
        {"routed_bp", "-1", "routed_bp: must be an integer from 0 to 10000"},
        {"holdout_bp", "1.5", "holdout_bp: must be an integer from 0 to 10000"},
        {"phase", "warp", "phase: unknown phase \"warp\""},
        {"salt", "", "salt: must be 1 to 63 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exp_state st;
        char err[128] = "";
        assert_int_equal(parse_with(cases[i].name, cases[i].value, &st, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].err);
    }
}

static void test_missing(void **state)
{
    (void)state;
    exp_state st;
    char err[128];
    const char *n1[] = {"salt"}, *v1[] = {"s"};
    assert_int_equal(exp_state_parse(n1, v1, 1, &st, err, sizeof(err)), -1);
    assert_string_equal(err, "phase: missing");
    const char *n2[] = {"phase"}, *v2[] = {"full"};
    assert_int_equal(exp_state_parse(n2, v2, 1, &st, err, sizeof(err)), -1);
    assert_string_equal(err, "salt: missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
