/*
 * Statistics for rollout decisions (see stats.h and the design's STATISTICS.md).
 */
#include "experiments/stats.h"

#include <math.h>

const int64_t exp_lat_bounds_us[EXP_LAT_BUCKETS - 1] = EXP_LAT_BOUNDS_US_INIT;

int exp_lat_bucket(int64_t latency_us)
{
    int lo = 0, hi = EXP_LAT_BUCKETS - 1; /* answer in [lo, hi] */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (latency_us <= exp_lat_bounds_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int64_t exp_lat_bucket_upper_us(int i)
{
    if (i < 0)
        return 0;
    if (i >= EXP_LAT_BUCKETS - 1)
        return INT64_MAX;
    return exp_lat_bounds_us[i];
}

int exp_hist_quantile_bucket(const int64_t hist[EXP_LAT_BUCKETS], double q)
{
    int64_t total = 0;
    for (int i = 0; i < EXP_LAT_BUCKETS; i++)
        total += hist[i] > 0 ? hist[i] : 0;
    if (total == 0)
        return -1;
    double need = q * (double)total;
    int64_t cum = 0;
    for (int i = 0; i < EXP_LAT_BUCKETS; i++) {
        cum += hist[i] > 0 ? hist[i] : 0;
        if ((double)cum >= need)
            return i;
    }
    return EXP_LAT_BUCKETS - 1;
}

double exp_phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* Acklam's rational approximation (relative error 1.15e-9), then one Halley
 * step against erfc, which brings it to about machine precision. */
double exp_normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double plow = 0.02425, phigh = 1 - plow;
    double x, q, r;

    if (!(p > 0.0 && p < 1.0))
        return NAN;
    if (p < plow) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= phigh) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    /* Halley refinement: e = Phi(x) - p, u = e * sqrt(2 pi) exp(x^2/2). */
    double e = exp_phi(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    x = x - u / (1 + x * u / 2);
    return x;
}

double exp_chi2_df1_sf(double x)
{
    if (!(x > 0.0))
        return 1.0;
    return erfc(sqrt(x / 2.0));
}

exp_interval exp_wilson(int64_t x, int64_t n, double z)
{
    exp_interval iv = {0.0, 1.0};
    if (n <= 0)
        return iv;
    double nn = (double)n;
    double p = (double)x / nn;
    double z2 = z * z;
    double den = 1 + z2 / nn;
    double center = (p + z2 / (2 * nn)) / den;
    double half = z / den * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    iv.lower = center - half;
    iv.upper = center + half;
    if (iv.lower < 0)
        iv.lower = 0;
    if (iv.upper > 1)
        iv.upper = 1;
    return iv;
}

double exp_cs_rho2(double alpha, double n_star)
{
    double l = -2 * log(alpha);
    return (l + log(l + 1)) / n_star;
}

double exp_cs_multiplier(double n, double alpha, double n_star)
{
    if (!(n > 0) || !(alpha > 0 && alpha < 1) || !(n_star > 0))
        return NAN;
    double rho2 = exp_cs_rho2(alpha, n_star);
    double nr = n * rho2;
    return sqrt(n) * sqrt(2 * (nr + 1) / (n * n * rho2) * log(sqrt(nr + 1) / alpha));
}

static void diff_bounds(exp_diff *r, double n_total, double alpha, double n_star)
{
    r->estimate = r->value_t - r->value_c;
    r->mult = exp_cs_multiplier(n_total, alpha, n_star);
    r->lower = r->estimate - r->mult * r->se;
    r->upper = r->estimate + r->mult * r->se;
    r->z = r->se > 0 ? r->estimate / r->se : 0.0;
    r->valid = r->se > 0 && isfinite(r->mult);
}

exp_diff exp_diff_prop(int64_t x_c, int64_t n_c, int64_t x_t, int64_t n_t, double alpha,
                       double n_star)
{
    exp_diff r = {0};
    if (n_c < 2 || n_t < 2 || x_c < 0 || x_t < 0 || x_c > n_c || x_t > n_t)
        return r;
    double pc = (double)x_c / (double)n_c, pt = (double)x_t / (double)n_t;
    r.value_c = pc;
    r.value_t = pt;
    r.se = sqrt(pc * (1 - pc) / (double)n_c + pt * (1 - pt) / (double)n_t);
    diff_bounds(&r, (double)(n_c + n_t), alpha, n_star);
    if (!r.valid) {
        exp_diff zero = {0};
        zero.value_c = pc;
        zero.value_t = pt;
        zero.estimate = pt - pc;
        return zero;
    }
    return r;
}

static double sample_var(double n, double sum, double sumsq)
{
    double v = (sumsq - sum * sum / n) / (n - 1);
    return v > 0 ? v : 0.0; /* rounding can make a constant sample slightly negative */
}

exp_diff exp_diff_mean(double n_c, double sum_c, double sumsq_c, double n_t, double sum_t,
                       double sumsq_t, double alpha, double n_star)
{
    exp_diff r = {0};
    if (!(n_c >= 2) || !(n_t >= 2))
        return r;
    r.value_c = sum_c / n_c;
    r.value_t = sum_t / n_t;
    r.se = sqrt(sample_var(n_c, sum_c, sumsq_c) / n_c + sample_var(n_t, sum_t, sumsq_t) / n_t);
    diff_bounds(&r, n_c + n_t, alpha, n_star);
    if (!r.valid) {
        exp_diff zero = {0};
        zero.value_c = r.value_c;
        zero.value_t = r.value_t;
        zero.estimate = r.value_t - r.value_c;
        return zero;
    }
    return r;
}

double exp_msprt_lambda(double d, double se, double tau2)
{
    double v = se * se;
    if (!(v > 0) || !(tau2 > 0))
        return NAN;
    return sqrt(v / (v + tau2)) * exp(tau2 * d * d / (2 * v * (v + tau2)));
}

double exp_sample_size_prop(double p_c, double p_t, double alpha, double power)
{
    double z = exp_normal_quantile(1 - alpha / 2) + exp_normal_quantile(power);
    double d = p_t - p_c;
    return z * z * (p_c * (1 - p_c) + p_t * (1 - p_t)) / (d * d);
}

static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign); /* the reentrant form: lgamma() writes signgam */
}

double exp_srm_log_bf(int64_t n_c, int64_t n_t, double expected_t, double concentration)
{
    if (!(expected_t > 0 && expected_t < 1) || !(concentration > 0) || n_c < 0 || n_t < 0)
        return NAN;
    double a_t = concentration * expected_t, a_c = concentration * (1 - expected_t);
    double xc = (double)n_c, xt = (double)n_t;
    return lgam(concentration) - lgam(concentration + xc + xt) + lgam(a_c + xc) - lgam(a_c) +
           lgam(a_t + xt) - lgam(a_t) - xc * log1p(-expected_t) - xt * log(expected_t);
}

exp_srm exp_srm_check(int64_t n_c, int64_t n_t, double expected_t, double alpha,
                      int64_t min_units)
{
    exp_srm r = {0};
    r.n_c = n_c;
    r.n_t = n_t;
    r.expected_t = expected_t;
    r.alpha = alpha;
    r.p = 1.0;
    if (n_c + n_t > 0)
        r.observed_t = (double)n_t / (double)(n_c + n_t);
    if (n_c < min_units || n_t < min_units || !(expected_t > 0 && expected_t < 1))
        return r;
    double n = (double)(n_c + n_t);
    double e_t = n * expected_t, e_c = n * (1 - expected_t);
    double dt = (double)n_t - e_t, dc = (double)n_c - e_c;
    r.chi2 = dt * dt / e_t + dc * dc / e_c;
    r.p = exp_chi2_df1_sf(r.chi2);
    r.log_bf = exp_srm_log_bf(n_c, n_t, expected_t, EXP_SRM_CONCENTRATION);
    r.valid = 1;
    r.mismatch = r.p < alpha && r.log_bf >= -log(alpha);
    return r;
}

double exp_expected_routed_share(int holdout_bp, int routed_bp)
{
    return (1.0 - holdout_bp / 10000.0) * (routed_bp / 10000.0);
}

exp_balance exp_balance_check(int64_t rated_c, int64_t n_c, int64_t rated_t, int64_t n_t,
                              double alpha, double n_star, double rel_tolerance, int64_t min_n,
                              int64_t min_events)
{
    exp_balance r = {0};
    r.rated_c = rated_c;
    r.n_c = n_c;
    r.rated_t = rated_t;
    r.n_t = n_t;
    r.alpha = alpha;
    if (n_c < min_n || n_t < min_n || n_c < 2 || n_t < 2 || rated_c + rated_t < min_events)
        return r;
    r.diff = exp_diff_prop(rated_c, n_c, rated_t, n_t, alpha, n_star);
    if (!r.diff.valid)
        return r;
    r.valid = 1;
    r.tolerance = rel_tolerance * r.diff.value_c;
    r.imbalance = r.diff.lower > r.tolerance || r.diff.upper < -r.tolerance;
    return r;
}

exp_accuracy exp_accuracy_check(int64_t correct, int64_t total, double floor, double alpha,
                                int64_t min_labels)
{
    exp_accuracy r = {0};
    r.correct = correct;
    r.total = total;
    r.floor = floor;
    r.alpha = alpha;
    if (total > 0)
        r.accuracy = (double)correct / (double)total;
    if (total <= 0 || total < min_labels || correct < 0 || correct > total)
        return r;
    exp_interval iv = exp_wilson(correct, total, exp_normal_quantile(1 - alpha));
    r.lower = iv.lower;
    r.upper = iv.upper;
    r.valid = 1;
    r.pass = r.lower >= floor;
    r.fail = r.upper < floor;
    return r;
}

exp_latency exp_latency_share(const int64_t hist_c[EXP_LAT_BUCKETS],
                              const int64_t hist_t[EXP_LAT_BUCKETS], int64_t threshold_us,
                              double alpha, double n_star)
{
    exp_latency r = {0};
    int b;
    if (threshold_us > 0)
        b = exp_lat_bucket(threshold_us);
    else
        b = exp_hist_quantile_bucket(hist_c, 0.95);
    r.threshold_bucket = b;
    for (int i = 0; i < EXP_LAT_BUCKETS; i++) {
        int64_t c = hist_c[i] > 0 ? hist_c[i] : 0, t = hist_t[i] > 0 ? hist_t[i] : 0;
        r.n_c += c;
        r.n_t += t;
        if (b >= 0 && i > b) {
            r.above_c += c;
            r.above_t += t;
        }
    }
    if (b < 0)
        return r;
    r.threshold_us = exp_lat_bucket_upper_us(b);
    r.diff = exp_diff_prop(r.above_c, r.n_c, r.above_t, r.n_t, alpha, n_star);
    r.valid = r.diff.valid;
    return r;
}
