/*
 * Temperature scaling, the cost-aware decision and its thresholds, reliability tables.
 * See calibration.h. Deterministic: no random numbers, fixed iteration counts.
 */
#include "classifier/calibration.h"

#include <math.h>
#include <stdlib.h>

int clf_calib_probs(const double dec[WIRE_NTASKS], double t, double probs[WIRE_NTASKS])
{
    int top = 0;
    for (int c = 1; c < WIRE_NTASKS; c++)
        if (dec[c] > dec[top])
            top = c;
    double sum = 0;
    for (int c = 0; c < WIRE_NTASKS; c++) {
        probs[c] = exp((dec[c] - dec[top]) / t);
        sum += probs[c];
    }
    for (int c = 0; c < WIRE_NTASKS; c++)
        probs[c] /= sum;
    return top;
}

static int top_of(const double p[WIRE_NTASKS])
{
    int top = 0;
    for (int c = 1; c < WIRE_NTASKS; c++)
        if (p[c] > p[top])
            top = c;
    return top;
}

/* the most probable costly class */
static int top_costly(const double p[WIRE_NTASKS])
{
    int k = WIRE_TASK_CODE;
    for (int c = WIRE_TASK_CODE + 1; c < WIRE_NTASKS; c++)
        if (p[c] > p[k])
            k = c;
    return k;
}

wire_task clf_calib_decide(const double probs[WIRE_NTASKS], const double simple_min[WIRE_NTASKS],
                           bool *demoted)
{
    int top = top_of(probs);
    *demoted = false;
    if (top != WIRE_TASK_SIMPLE)
        return (wire_task)top;
    int k = top_costly(probs);
    if (probs[WIRE_TASK_SIMPLE] >= simple_min[k])
        return WIRE_TASK_SIMPLE;
    *demoted = true;
    return (wire_task)k;
}

static double nll(const double (*dec)[WIRE_NTASKS], const int *labels, size_t n, double t)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double p[WIRE_NTASKS];
        clf_calib_probs(dec[i], t, p);
        s -= log(p[labels[i]] > 1e-300 ? p[labels[i]] : 1e-300);
    }
    return s / (double)n;
}

double clf_calib_fit_temperature(const double (*dec)[WIRE_NTASKS], const int *labels, size_t n)
{
    /* the NLL is convex in 1/T: golden-section search over 1/T in [1/20, 1/0.05] */
    const double g = (sqrt(5.0) - 1) / 2;
    double a = 1.0 / 20, b = 1.0 / 0.05;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll(dec, labels, n, 1 / x1), f2 = nll(dec, labels, n, 1 / x2);
    for (int it = 0; it < 80; it++) {
        if (f1 <= f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll(dec, labels, n, 1 / x1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll(dec, labels, n, 1 / x2);
        }
    }
    return 1 / ((a + b) / 2);
}

struct cand {
    int label, k;   /* true class; most probable costly class */
    double s;       /* p(simple) of a row whose top class is simple */
};

void clf_calib_fit_thresholds(const double (*dec)[WIRE_NTASKS], const int *labels, size_t n,
                              double t, double max_under, double max_under_class,
                              double simple_min[WIRE_NTASKS])
{
    size_t total[WIRE_NTASKS] = {0}, nc = 0, costly = 0;
    struct cand *cv = malloc((n ? n : 1) * sizeof(*cv));
    for (int c = 0; c < WIRE_NTASKS; c++)
        simple_min[c] = 0;
    if (!cv)
        return;
    for (size_t i = 0; i < n; i++) {
        double p[WIRE_NTASKS];
        clf_calib_probs(dec[i], t, p);
        total[labels[i]]++;
        costly += labels[i] != WIRE_TASK_SIMPLE;
        if (top_of(p) == WIRE_TASK_SIMPLE)
            cv[nc++] = (struct cand){labels[i], top_costly(p), p[WIRE_TASK_SIMPLE]};
    }
    for (;;) {
        /* which costly rows are worth rescuing: all of them while the overall rate is over
         * its budget, else those of a class over its own */
        bool over[WIRE_NTASKS] = {false}, any = false;
        size_t under[WIRE_NTASKS] = {0}, all = 0;
        for (size_t i = 0; i < nc; i++)
            if (cv[i].label != WIRE_TASK_SIMPLE && cv[i].s >= simple_min[cv[i].k]) {
                under[cv[i].label]++;
                all++;
            }
        bool all_over = (double)all > max_under * (double)costly;
        for (int c = WIRE_TASK_CODE; c < WIRE_NTASKS; c++) {
            over[c] = all_over || (double)under[c] > max_under_class * (double)total[c];
            any |= over[c] && under[c] > 0;
        }
        if (!any)
            break;
        /* the cheapest move: raise one simple_min[k] past the lowest over-budget row of k */
        int best = -1;
        double best_thr = 0;
        size_t best_cost = 0, best_gain = 1;
        for (int k = WIRE_TASK_CODE; k < WIRE_NTASKS; k++) {
            double lo = 2;
            for (size_t i = 0; i < nc; i++)
                if (cv[i].k == k && over[cv[i].label] && cv[i].s >= simple_min[k] && cv[i].s < lo)
                    lo = cv[i].s;
            if (lo > 1)
                continue;
            double next = 1;
            for (size_t i = 0; i < nc; i++)
                if (cv[i].k == k && cv[i].s > lo && cv[i].s < next)
                    next = cv[i].s;
            double thr = (lo + next) / 2; /* halfway to the next row: a margin both ways */
            size_t cost = 0, gain = 0;
            for (size_t i = 0; i < nc; i++)
                if (cv[i].k == k && cv[i].s >= simple_min[k] && cv[i].s < thr) {
                    cost += cv[i].label == WIRE_TASK_SIMPLE;
                    gain += over[cv[i].label];
                }
            if (best < 0 || cost * best_gain < best_cost * gain ||
                (cost * best_gain == best_cost * gain && thr < best_thr)) {
                best = k;
                best_thr = thr;
                best_cost = cost;
                best_gain = gain;
            }
        }
        if (best < 0)
            break;
        simple_min[best] = best_thr;
    }
    free(cv);
}

double clf_calib_reliability(const double *conf, const bool *correct, size_t n,
                             struct clf_calib_bin bins[CLF_CALIB_BINS])
{
    for (int b = 0; b < CLF_CALIB_BINS; b++)
        bins[b] = (struct clf_calib_bin){0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        int b = (int)(conf[i] * CLF_CALIB_BINS);
        if (b >= CLF_CALIB_BINS)
            b = CLF_CALIB_BINS - 1;
        if (b < 0)
            b = 0;
        bins[b].n++;
        bins[b].correct += correct[i];
        bins[b].conf_sum += conf[i];
    }
    double ece = 0;
    for (int b = 0; b < CLF_CALIB_BINS; b++)
        if (bins[b].n)
            ece += fabs((double)bins[b].correct - bins[b].conf_sum) / (double)(n ? n : 1);
    return ece;
}
