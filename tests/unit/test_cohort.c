/* Cohort assignment: pinned hash values (changing them moves every user),
 * holdout share, and the monotone ramp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/cohort.h"

static void test_pinned_buckets(void **state)
{
    (void)state;
    static const struct {
        const char *user;
        int bucket;
    } pins[] = {
        {"alice", 9397}, {"bob", 5675}, {"carol", 5927}, {"user-1", 1764}, {"user-2", 9288}, {"", 3598},
    };
    for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++)
        assert_int_equal(exp_bucket("2026-11", pins[i].user, strlen(pins[i].user)), pins[i].bucket);
    assert_true(exp_hash64("abc", 3, 0) == 0x29e32c04ec3f9c30ULL);
}

static void test_salt_changes_assignment(void **state)
{
    (void)state;
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        char u[32];
        int n = snprintf(u, sizeof(u), "user-%d", i);
        same += exp_bucket("a", u, (size_t)n) == exp_bucket("b", u, (size_t)n);
    }
    assert_true(same < 10); /* independent draws: about 0.1 expected */
}

static void test_user_hash(void **state)
{
    (void)state;
    char h[17];
    exp_user_hash("alice", 5, h);
    assert_string_equal(h, "c17090d285eadbe7");
    assert_int_equal(strlen(h), 16);
    exp_user_hash("user-12", 7, h); /* a leading zero stays */
    assert_string_equal(h, "030e7d08c128d4b9");
}

static void test_holdout_share(void **state)
{
    (void)state;
    int holdout = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        char u[32];
        int len = snprintf(u, sizeof(u), "u%d", i);
        holdout += exp_is_holdout(exp_bucket("salt", u, (size_t)len), 500);
    }
    /* 5% of 200000 = 10000, sd ~ 97: 5 sd either side */
    assert_in_range(holdout, 10000 - 490, 10000 + 490);
}

static void test_ramp_is_monotone(void **state)
{
    (void)state;
    static const int steps[] = {0, 500, 2500, 5000, 7500, 10000};
    for (int b = 0; b < EXP_BUCKETS; b++) {
        int was = 0;
        for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            int now = exp_is_routed(b, 500, steps[s]);
            assert_false(was && !now); /* raising the share never moves a user back */
            was = now;
        }
        assert_int_equal(exp_is_routed(b, 500, 10000), b >= 500); /* full: every eligible */
        assert_false(exp_is_routed(b, 500, 0));
    }
    /* the routed share is of the eligible population */
    int routed = 0;
    for (int b = 0; b < EXP_BUCKETS; b++)
        routed += exp_is_routed(b, 500, 2500);
    assert_int_equal(routed, 2375); /* 25% of 9500 eligible buckets */
}

static void test_cohort_names(void **state)
{
    (void)state;
    assert_string_equal(exp_cohort_str(EXP_COHORT_HOLDOUT), "holdout");
    assert_string_equal(exp_cohort_str(EXP_COHORT_CONTROL), "control");
    assert_string_equal(exp_cohort_str(EXP_COHORT_ROUTED), "routed");
    assert_string_equal(exp_cohort_str(EXP_COHORT_SHADOW), "shadow");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_buckets),   cmocka_unit_test(test_salt_changes_assignment),
        cmocka_unit_test(test_user_hash),        cmocka_unit_test(test_holdout_share),
        cmocka_unit_test(test_ramp_is_monotone), cmocka_unit_test(test_cohort_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
