/*
 * Confidence that means something, and the cost-aware decision: pure functions over the
 * model's raw class scores (decision values), no I/O.
 *
 *   probabilities   softmax(dec / T), T (the temperature) fitted on held-out rows by
 *                   minimising their negative log-likelihood; T does not change the
 *                   ranking of the classes, only how sure the model says it is.
 *   decision        the top class, except that a "simple" verdict stands only when
 *                   p(simple) >= simple_min[k], k being the most probable costly class
 *                   (code, reasoning, complex); otherwise the verdict is k. Sending a
 *                   costly prompt to the cheap model costs answer quality; sending a
 *                   simple one to a costlier model only costs money.
 *   simple_min[]    chosen on held-out rows: the smallest thresholds (greedy, fewest
 *                   simple rows moved per costly row rescued) under which at most
 *                   max_under of all costly rows, and at most max_under_class of each
 *                   costly class's rows, end up "simple".
 */
#ifndef SY_CLASSIFIER_CALIBRATION_H
#define SY_CLASSIFIER_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/task.h"

/* probs[c] = softmax(dec / t)[c]; returns the top class (first maximum of dec). */
int clf_calib_probs(const double dec[WIRE_NTASKS], double t, double probs[WIRE_NTASKS]);

/* The decision over calibrated probabilities; *demoted when a simple verdict was moved. */
wire_task clf_calib_decide(const double probs[WIRE_NTASKS], const double simple_min[WIRE_NTASKS],
                           bool *demoted);

/* The temperature (within 0.05..20) minimising the mean negative log-likelihood of the
 * labels under softmax(dec / T). n >= 1. */
double clf_calib_fit_temperature(const double (*dec)[WIRE_NTASKS], const int *labels, size_t n);

/* Thresholds for the decision (simple_min[WIRE_TASK_SIMPLE] is 0 and unused) such that on
 * these rows at most max_under of the costly rows, and at most max_under_class of each
 * costly class, go to "simple". */
void clf_calib_fit_thresholds(const double (*dec)[WIRE_NTASKS], const int *labels, size_t n,
                              double t, double max_under, double max_under_class,
                              double simple_min[WIRE_NTASKS]);

/* Reliability of confidences: n rows with confidence conf[i] and correct[i]. Ten equal-width
 * bins over [0, 1]; returns the expected calibration error (sum over bins of
 * |accuracy - mean confidence| weighted by the bin's share of rows). */
#define CLF_CALIB_BINS 10
struct clf_calib_bin {
    size_t n, correct;
    double conf_sum;
};
double clf_calib_reliability(const double *conf, const bool *correct, size_t n,
                             struct clf_calib_bin bins[CLF_CALIB_BINS]);

#endif
