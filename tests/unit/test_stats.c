/* Statistics for rollout decisions, pinned against reference values computed
 * independently by tests/unit/stats_reference.py (python3 math +
 * statistics.NormalDist, formulas from the design's STATISTICS.md, means and
 * variances from raw samples). STATISTICS.md's own values: rho = 0.03984,
 * multipliers 3.855 / 3.035 / 3.337, chi2 10.83 at p = 0.001, 3,838 per arm. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/stats.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

static void test_normal(void **state)
{
    (void)state;
    NEAR(exp_phi(1.96), 0.9750021048517796, 1e-15);
    NEAR(exp_phi(-3), 0.0013498980316301035, 1e-17);
    NEAR(exp_phi(0), 0.5, 0);
    NEAR(exp_normal_quantile(0.975), 1.9599639845400536, 1e-12);
    NEAR(exp_normal_quantile(0.8), 0.8416212335729144, 1e-12);
    NEAR(exp_normal_quantile(0.95), 1.6448536269514715, 1e-12);
    NEAR(exp_normal_quantile(1e-10), -6.361340902404056, 1e-9);
    NEAR(exp_normal_quantile(0.5), 0.0, 1e-15);
    assert_true(isnan(exp_normal_quantile(0)));
    assert_true(isnan(exp_normal_quantile(1)));
    /* round trip over the whole range */
    for (double p = 0.001; p < 1; p += 0.001)
        NEAR(exp_phi(exp_normal_quantile(p)), p, 1e-13);
}

static void test_chi2(void **state)
{
    (void)state;
    NEAR(exp_chi2_df1_sf(10.83), 0.0009986863791802592, 1e-16); /* STATISTICS.md: p = 0.001 */
    NEAR(exp_chi2_df1_sf(3.841458820694124), 0.05, 1e-14);
    /* the df = 1 critical value at 0.001 is z_{0.9995}^2 = 10.8276 */
    double q = exp_normal_quantile(0.9995);
    NEAR(q * q, 10.827566170662935, 1e-9);
    NEAR(exp_chi2_df1_sf(0), 1.0, 0);
}

static void test_wilson(void **state)
{
    (void)state;
    exp_interval iv = exp_wilson(8, 10, 1.96);
    NEAR(iv.lower, 0.49015684672072335, 1e-14);
    NEAR(iv.upper, 0.9433190520193067, 1e-14);
    iv = exp_wilson(0, 20, 1.96);
    NEAR(iv.lower, 0.0, 0);
    NEAR(iv.upper, 0.16113012549493322, 1e-14);
    iv = exp_wilson(0, 0, 1.96);
    NEAR(iv.lower, 0.0, 0);
    NEAR(iv.upper, 1.0, 0);
}

static void test_confidence_sequence(void **state)
{
    (void)state;
    NEAR(sqrt(exp_cs_rho2(0.05, 5000)), 0.03984006677137368, 1e-15); /* 0.03984 */
    NEAR(exp_cs_multiplier(500, 0.05, 5000), 3.855054633530311, 1e-12);   /* 3.855 */
    NEAR(exp_cs_multiplier(5000, 0.05, 5000), 3.0352089903762534, 1e-12); /* 3.035 */
    NEAR(exp_cs_multiplier(100000, 0.05, 5000), 3.3368575337865996, 1e-12); /* 3.337 */
    NEAR(exp_cs_multiplier(2000, 0.05, 5000), 3.1237790916747294, 1e-12);
    /* always wider than the fixed-horizon 1.96 */
    for (double n = 10; n < 1e8; n *= 3)
        assert_true(exp_cs_multiplier(n, 0.05, 5000) > 1.96);
    assert_true(isnan(exp_cs_multiplier(0, 0.05, 5000)));
}

static void test_diff_prop(void **state)
{
    (void)state;
    exp_diff d = exp_diff_prop(100, 1000, 130, 1000, 0.05, 5000);
    assert_true(d.valid);
    NEAR(d.value_c, 0.1, 1e-15);
    NEAR(d.value_t, 0.13, 1e-15);
    NEAR(d.estimate, 0.03, 1e-15);
    NEAR(d.se, 0.014251315728731857, 1e-15);
    NEAR(d.lower, -0.014517962102267787, 1e-13);
    NEAR(d.upper, 0.07451796210226778, 1e-13);
    /* no variance, no data */
    d = exp_diff_prop(0, 1000, 0, 1000, 0.05, 5000);
    assert_false(d.valid);
    d = exp_diff_prop(1, 1, 0, 10, 0.05, 5000);
    assert_false(d.valid);
    d = exp_diff_prop(11, 10, 0, 10, 0.05, 5000); /* x > n */
    assert_false(d.valid);
}

static void test_diff_mean(void **state)
{
    (void)state;
    /* control: ratings 1..5 x 20, routed: 1,2,3,4,4 x 20 */
    exp_diff d = exp_diff_mean(100, 300, 1100, 100, 280, 920, 0.05, 5000);
    assert_true(d.valid);
    NEAR(d.estimate, -0.2, 1e-12);
    NEAR(d.se, 0.18422647458873534, 1e-13);
    NEAR(d.mult, 5.099959969897444, 1e-12);
    NEAR(d.lower, -1.139547645797879, 1e-12);
    NEAR(d.upper, 0.7395476457978788, 1e-12);
    d = exp_diff_mean(1, 3, 9, 100, 280, 920, 0.05, 5000);
    assert_false(d.valid);
    d = exp_diff_mean(10, 30, 90, 10, 30, 90, 0.05, 5000); /* constant samples */
    assert_false(d.valid);
}

static void test_msprt_and_sample_size(void **state)
{
    (void)state;
    NEAR(exp_msprt_lambda(0.03, 0.014, 0.0004), 2.6773347579462015, 1e-12);
    assert_true(isnan(exp_msprt_lambda(0.03, 0, 0.0004)));
    double n = exp_sample_size_prop(0.10, 0.12, 0.05, 0.8);
    NEAR(n, 3838.1021900967025, 1e-8); /* STATISTICS.md: 3,838 rated requests per arm */
    NEAR(round(n), 3838, 0);
}

static void test_srm(void **state)
{
    (void)state;
    exp_srm s = exp_srm_check(5000, 5200, 0.5, 0.001, 8);
    assert_true(s.valid);
    assert_false(s.mismatch);
    NEAR(s.chi2, 3.9215686274509802, 1e-12);
    NEAR(s.p, 0.04767038065616144, 1e-14);
    NEAR(s.log_bf, -0.3777820035502373, 1e-9);
    s = exp_srm_check(9000, 1100, 0.1, 0.05, 8);
    NEAR(s.chi2, 8.910891089108912, 1e-12);
    NEAR(s.p, 0.0028347490802593913, 1e-14);
    NEAR(s.log_bf, 1.9431400094536002, 1e-9);
    assert_false(s.mismatch); /* p < 0.05, but BF = 7 < 1/0.05 */
    /* 42,000 requests split 20000/22000 against 50/50: both tests agree */
    s = exp_srm_check(20000, 22000, 0.5, 0.001, 8);
    NEAR(s.chi2, 95.23809523809524, 1e-10);
    NEAR(s.p, 1.688102961145271e-22, 1e-30);
    NEAR(s.log_bf, 44.501142334671385, 1e-8);
    assert_true(s.mismatch);
    /* chi-square alone would pause (p = 0.00037), the sequential test does not
     * (BF = 12.7 < 1000): a fluctuation one sees by looking every tick */
    s = exp_srm_check(100000, 101600, 0.5, 0.001, 8);
    NEAR(s.chi2, 12.698412698412698, 1e-10);
    NEAR(s.p, 0.000365966091477992, 1e-15);
    NEAR(s.log_bf, 2.5389745359279914, 1e-8);
    assert_false(s.mismatch);
    s = exp_srm_check(1000, 0, 0.5, 0.001, 8); /* an empty arm: no verdict */
    assert_false(s.valid);
    assert_false(s.mismatch);
    s = exp_srm_check(7, 30, 0.5, 0.001, 8);
    assert_false(s.valid);
    s = exp_srm_check(8, 80, 0.5, 0.001, 8);
    assert_true(s.valid);
    NEAR(s.log_bf, 13.908558838924002, 1e-9);
    assert_true(s.mismatch);
    s = exp_srm_check(100, 100, 0.0, 0.001, 8); /* shadow: nobody is routed */
    assert_false(s.valid);
    assert_true(isnan(exp_srm_log_bf(1, 1, 1.0, 100)));
    NEAR(exp_srm_log_bf(0, 0, 0.3, 100), 0.0, 1e-12);
    NEAR(exp_expected_routed_share(1000, 2500), 0.225, 1e-15);
}

static void test_balance(void **state)
{
    (void)state;
    exp_balance b = exp_balance_check(500, 10000, 500, 10000, 0.001, 5000, 0.1, 8, 10);
    assert_true(b.valid);
    assert_false(b.imbalance);
    /* 5% vs 8% rated with 10^5 each: far outside +-0.5 points */
    b = exp_balance_check(5000, 100000, 8000, 100000, 0.001, 5000, 0.1, 8, 10);
    assert_true(b.valid);
    assert_true(b.imbalance);
    NEAR(b.tolerance, 0.005, 1e-15);
    /* 5.0% vs 5.2% with 10^6 each: significant, but inside the 10% relative band */
    b = exp_balance_check(50000, 1000000, 52000, 1000000, 0.001, 5000, 0.1, 8, 10);
    assert_true(b.diff.lower > 0);
    assert_false(b.imbalance);
    b = exp_balance_check(2, 100, 3, 100, 0.001, 5000, 0.1, 8, 10);
    assert_false(b.valid);
}

static void test_accuracy(void **state)
{
    (void)state;
    exp_accuracy a = exp_accuracy_check(90, 100, 0.85, 0.05, 50);
    assert_true(a.valid);
    NEAR(a.lower, 0.8396444903889079, 1e-12);
    NEAR(a.upper, 0.9392813329845527, 1e-12);
    assert_false(a.pass);
    assert_false(a.fail);
    a = exp_accuracy_check(450, 500, 0.85, 0.05, 50);
    NEAR(a.lower, 0.8757336141785858, 1e-12);
    assert_true(a.pass);
    a = exp_accuracy_check(350, 500, 0.85, 0.05, 50);
    assert_true(a.fail);
    a = exp_accuracy_check(40, 40, 0.85, 0.05, 50);
    assert_false(a.valid);
}

static void test_latency_buckets(void **state)
{
    (void)state;
    static const int64_t ref[EXP_LAT_BUCKETS - 1] = {
        1000,     1400,     1900,     2500,     3400,     4700,     6300,     8600,
        12000,    16000,    22000,    30000,    40000,    55000,    74000,    100000,
        140000,   190000,   250000,   350000,   470000,   640000,   870000,   1200000,
        1600000,  2200000,  3000000,  4100000,  5500000,  7500000,  10000000, 14000000,
        19000000, 26000000, 35000000, 48000000, 65000000, 88000000, 120000000};
    assert_int_equal(EXP_LAT_BUCKETS, 40);
    assert_memory_equal(exp_lat_bounds_us, ref, sizeof ref);
    assert_int_equal(exp_lat_bucket(-5), 0);
    assert_int_equal(exp_lat_bucket(0), 0);
    assert_int_equal(exp_lat_bucket(1000), 0);
    assert_int_equal(exp_lat_bucket(1001), 1);
    assert_int_equal(exp_lat_bucket(22000), 10);
    assert_int_equal(exp_lat_bucket(22001), 11);
    assert_int_equal(exp_lat_bucket(120000000), 38);
    assert_int_equal(exp_lat_bucket(120000001), 39);
    assert_int_equal(exp_lat_bucket(INT64_MAX), 39);
    for (int i = 0; i < EXP_LAT_BUCKETS - 1; i++) {
        assert_int_equal(exp_lat_bucket(exp_lat_bounds_us[i]), i);
        assert_int_equal(exp_lat_bucket(exp_lat_bounds_us[i] + 1), i + 1);
        assert_true(exp_lat_bucket_upper_us(i) == exp_lat_bounds_us[i]);
    }
    assert_true(exp_lat_bucket_upper_us(39) == INT64_MAX);
}

static void test_latency_share(void **state)
{
    (void)state;
    int64_t hc[EXP_LAT_BUCKETS] = {0}, ht[EXP_LAT_BUCKETS] = {0};
    assert_int_equal(exp_hist_quantile_bucket(hc, 0.95), -1);
    exp_latency l = exp_latency_share(hc, ht, 0, 0.05, 5000);
    assert_false(l.valid);

    hc[10] = 950;
    hc[20] = 50;
    ht[10] = 900;
    ht[20] = 100;
    assert_int_equal(exp_hist_quantile_bucket(hc, 0.95), 10);
    assert_int_equal(exp_hist_quantile_bucket(hc, 0.951), 20);
    l = exp_latency_share(hc, ht, 0, 0.05, 5000);
    assert_true(l.valid);
    assert_int_equal(l.threshold_bucket, 10);
    assert_true(l.threshold_us == 22000);
    assert_true(l.above_c == 50 && l.above_t == 100 && l.n_c == 1000 && l.n_t == 1000);
    NEAR(l.diff.estimate, 0.05, 1e-15);
    NEAR(l.diff.lower, 0.013370443295504832, 1e-13);
    NEAR(l.diff.upper, 0.08662955670449518, 1e-13);
    /* a fixed threshold (e.g. the SLO) inside bucket 20: nothing is above it */
    l = exp_latency_share(hc, ht, 400000, 0.05, 5000);
    assert_int_equal(l.threshold_bucket, 20);
    assert_true(l.above_c == 0 && l.above_t == 0);
    assert_false(l.valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),          cmocka_unit_test(test_chi2),
        cmocka_unit_test(test_wilson),          cmocka_unit_test(test_confidence_sequence),
        cmocka_unit_test(test_diff_prop),       cmocka_unit_test(test_diff_mean),
        cmocka_unit_test(test_msprt_and_sample_size), cmocka_unit_test(test_srm),
        cmocka_unit_test(test_balance),         cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_latency_buckets), cmocka_unit_test(test_latency_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
