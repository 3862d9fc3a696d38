/*
 * Statistics for rollout decisions: pure functions over counts and sums.
 *
 * Formulas and reference values: STATISTICS.md of the design (not kept in this
 * repository) and docs/architecture.md "Statistics and decisions". Everything here works on
 * per-arm sums that add up exactly across minutes, shards and routers (n, sum,
 * sum of squares, histogram buckets), so a test costs the same at 10^7 requests
 * as at 10^4. No I/O, no allocation, only libm.
 *
 * Conventions: arm c = control, arm t = routed; a difference is t - c.
 * Functions that can lack data return a struct with valid = 0 instead of
 * failing: no data is never a verdict.
 */
#ifndef SY_EXP_STATS_H
#define SY_EXP_STATS_H

#include <stdint.h>

/* ---- latency histogram ------------------------------------------------- */

/* Number of latency buckets in rollups_minute.latency_hist (bigint[]).
 * Bucket i (0-based) counts requests with latency_us <= EXP_LAT_BOUNDS_US[i] and
 * > EXP_LAT_BOUNDS_US[i-1]; bucket 0 is [0, 1 ms]; the last bucket
 * (EXP_LAT_BUCKETS - 1) is everything above 120 s. The 39 upper bounds are
 * 1 ms * 120000^(i/38) rounded to two significant digits (ratio ~1.36 a step). */
#define EXP_LAT_BUCKETS 40
#define EXP_LAT_BOUNDS_US_INIT                                                                  \
    { 1000,     1400,     1900,     2500,     3400,     4700,     6300,     8600,    12000,    \
      16000,    22000,    30000,    40000,    55000,    74000,    100000,   140000,  190000,   \
      250000,   350000,   470000,   640000,   870000,   1200000,  1600000,  2200000, 3000000,  \
      4100000,  5500000,  7500000,  10000000, 14000000, 19000000, 26000000, 35000000,          \
      48000000, 65000000, 88000000, 120000000 }
/* Upper bounds, microseconds, EXP_LAT_BUCKETS - 1 entries (the last bucket is unbounded). */
extern const int64_t exp_lat_bounds_us[EXP_LAT_BUCKETS - 1];

/* Bucket index of a latency (negative latencies count as 0). */
int exp_lat_bucket(int64_t latency_us);
/* Upper bound of bucket i in microseconds; INT64_MAX for the last bucket. */
int64_t exp_lat_bucket_upper_us(int i);

/* Smallest bucket b whose cumulative count reaches q * total (0 < q < 1), i.e.
 * the bucket holding the q-quantile; -1 when the histogram is empty. */
int exp_hist_quantile_bucket(const int64_t hist[EXP_LAT_BUCKETS], double q);

/* ---- distributions ----------------------------------------------------- */

double exp_phi(double z);               /* standard normal CDF, 0.5 erfc(-z/sqrt 2) */
double exp_normal_quantile(double p);   /* inverse of exp_phi, 0 < p < 1 (NaN outside) */
double exp_chi2_df1_sf(double x);       /* P(X > x), X ~ chi-square(1): erfc(sqrt(x/2)) */

/* ---- intervals --------------------------------------------------------- */

typedef struct exp_interval {
    double lower, upper;
} exp_interval;

/* Wilson score interval for x successes in n trials at critical value z
 * (z = 1.96 for a two-sided 95% interval). n == 0 gives [0, 1]. */
exp_interval exp_wilson(int64_t x, int64_t n, double z);

/* ---- always-valid confidence sequences ----------------------------------
 * Asymptotic confidence sequence (Waudby-Smith et al. 2023; GrowthBook):
 *   half-width = SE * sqrt(N) * sqrt(2(N rho^2 + 1)/(N^2 rho^2) ln(sqrt(N rho^2 + 1)/alpha))
 *   rho^2 = (-2 ln alpha + ln(-2 ln alpha + 1)) / N*
 * exp_cs_multiplier() returns the factor that replaces 1.96 (the half-width
 * over SE). The sequence is two-sided with coverage 1 - alpha uniformly over
 * time; using one side for a one-sided test keeps that side's error below alpha. */
#define EXP_CS_NSTAR_DEFAULT 5000.0

double exp_cs_rho2(double alpha, double n_star);
double exp_cs_multiplier(double n, double alpha, double n_star);

/* A difference t - c with its standard error and always-valid bounds. */
typedef struct exp_diff {
    int valid;        /* 0: not enough data (see each function); other fields 0 */
    double value_c;   /* proportion or mean of the control arm */
    double value_t;   /* proportion or mean of the routed arm */
    double estimate;  /* value_t - value_c */
    double se;        /* standard error of the estimate */
    double mult;      /* CS multiplier at N = n_c + n_t */
    double lower;     /* estimate - mult * se */
    double upper;     /* estimate + mult * se */
    double z;         /* estimate / se (0 when se == 0) */
} exp_diff;

/* Difference in proportions x_t/n_t - x_c/n_c with the unpooled SE
 * p_c(1-p_c)/n_c + p_t(1-p_t)/n_t. valid = 0 when an arm has n < 2 or SE is 0. */
exp_diff exp_diff_prop(int64_t x_c, int64_t n_c, int64_t x_t, int64_t n_t, double alpha,
                       double n_star);

/* Difference in means from n, sum and sum of squares per arm, Welch SE
 * s_t^2/n_t + s_c^2/n_c with s^2 = (sumsq - sum^2/n)/(n-1). valid = 0 when an
 * arm has n < 2 or SE is 0. */
exp_diff exp_diff_mean(double n_c, double sum_c, double sumsq_c, double n_t, double sum_t,
                       double sumsq_t, double alpha, double n_star);

/* mSPRT (Johari, Pekelis, Walsh 2017) with a normal mixture of variance tau2
 * over the effect: Lambda = sqrt(V/(V+tau2)) exp(tau2 d^2 / (2 V (V+tau2))),
 * V = se^2. Reject H0 (d = 0) when Lambda >= 1/alpha; the always-valid p-value
 * is min over time of 1/Lambda (the caller keeps the running minimum). */
double exp_msprt_lambda(double d, double se, double tau2);

/* Fixed-horizon sample size per arm for a two-sided test of p_c vs p_t:
 * (z_{1-alpha/2} + z_{power})^2 (p_c(1-p_c) + p_t(1-p_t)) / (p_t - p_c)^2,
 * not rounded (10% -> 12%, 0.05, 0.8: 3838.1). */
double exp_sample_size_prop(double p_c, double p_t, double alpha, double power);

/* ---- health checks ----------------------------------------------------- */

/* Sample-ratio mismatch of (n_c, n_t) against the expected routed share.
 * The chi-square (df = 1) statistic and p are the familiar evidence, but a
 * controller looks every tick, and chi-square p < 0.001 checked every tick of a
 * phase pauses about 5% of healthy experiments (bench/decision_sim.c). So a
 * mismatch also needs the sequential test of Lindon & Malek (2022,
 * "Anytime-valid inference for multinomial count data"): the Dirichlet-
 * multinomial Bayes factor against the expected split,
 *   BF = B(a + x) / B(a) / prod theta_i^x_i,  a_i = EXP_SRM_CONCENTRATION * theta_i,
 * a martingale under the expected split, so P(ever BF >= 1/alpha) <= alpha however
 * often one looks. mismatch = valid && p < alpha && BF >= 1/alpha.
 * valid = 0 when either arm has fewer than min_units (8 by convention) or
 * expected_t is not in (0, 1): no verdict. */
#define EXP_SRM_CONCENTRATION 100.0

typedef struct exp_srm {
    int valid;
    int mismatch;        /* valid && p < alpha && log_bf >= ln(1/alpha) */
    int64_t n_c, n_t;
    double expected_t;   /* expected share of the routed arm */
    double observed_t;   /* n_t / (n_c + n_t) */
    double chi2;
    double p;
    double log_bf;       /* natural log of the sequential Bayes factor */
    double alpha;
} exp_srm;

/* ln BF of the sequential SRM test above (0 for empty counts). */
double exp_srm_log_bf(int64_t n_c, int64_t n_t, double expected_t, double concentration);

exp_srm exp_srm_check(int64_t n_c, int64_t n_t, double expected_t, double alpha,
                      int64_t min_units);

/* Expected share of the routed arm among all requests of a phase:
 * (1 - holdout) * routed_share (docs/architecture.md "Sample-ratio check"). */
double exp_expected_routed_share(int holdout_bp, int routed_bp);

/* Feedback balance: the share of requests with any feedback (rated / n) must
 * match between arms. imbalance when the always-valid CS of the difference at
 * alpha excludes the band +-rel_tolerance * share_c (a relative tolerance so a
 * huge sample does not stall a rollout over a trivial difference).
 * valid = 0 when an arm has fewer than min_n requests or no arm has min_events rated. */
typedef struct exp_balance {
    int valid;
    int imbalance;
    int64_t rated_c, n_c, rated_t, n_t;
    double tolerance;    /* absolute band used: rel_tolerance * share_c */
    double alpha;
    exp_diff diff;       /* rated share t - c */
} exp_balance;

exp_balance exp_balance_check(int64_t rated_c, int64_t n_c, int64_t rated_t, int64_t n_t,
                              double alpha, double n_star, double rel_tolerance,
                              int64_t min_n, int64_t min_events);

/* Classifier accuracy against human labels: Wilson interval at one-sided
 * level 1 - alpha (z = z_{1-alpha}). pass when lower >= floor; fail when
 * upper < floor; neither: inconclusive. valid = 0 when total < min_labels. */
typedef struct exp_accuracy {
    int valid;
    int pass;
    int fail;
    int64_t correct, total;
    double accuracy;
    double lower, upper;
    double floor;
    double alpha;
} exp_accuracy;

exp_accuracy exp_accuracy_check(int64_t correct, int64_t total, double floor, double alpha,
                                int64_t min_labels);

/* Latency guardrail: tau = the threshold (the control histogram's p95 bucket
 * upper bound unless threshold_us > 0 is given, e.g. from the previous phase or
 * an SLO); the share of requests above tau is compared as a proportion,
 * routed - control, with the CS. valid = 0 when the control histogram is empty
 * or the proportion test lacks data. */
typedef struct exp_latency {
    int valid;
    int threshold_bucket;  /* last bucket counted as "not above" */
    int64_t threshold_us;  /* its upper bound */
    int64_t above_c, n_c, above_t, n_t;
    exp_diff diff;         /* share above: t - c */
} exp_latency;

exp_latency exp_latency_share(const int64_t hist_c[EXP_LAT_BUCKETS],
                              const int64_t hist_t[EXP_LAT_BUCKETS], int64_t threshold_us,
                              double alpha, double n_star);

#endif
