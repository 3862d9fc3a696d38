/*
 * The trained model: a liblinear L2-regularised logistic regression over the
 * feature space of features.h, plus the feature settings it was trained with and the
 * calibration and cost-aware decision chosen on held-out rows (calibration.h).
 *
 * File format (version 2): text header lines "key value", then the weights as
 * little-endian float32, then a fixed 24-byte trailer "checksum crc32 " + 8 hex digits + "\n"
 * whose CRC-32 covers every byte before it. Version 2 adds "temperature" and "simple_min";
 * version 1 files are refused (their features are older too). See docs/architecture.md.
 */
#ifndef SY_CLASSIFIER_MODEL_H
#define SY_CLASSIFIER_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "classifier/classifier.h"
#include "classifier/features.h"

#define CLF_MODEL_FORMAT_VERSION 2
#define CLF_MODEL_MAGIC "switchyard-task-model"

struct clf_model;

struct clf_train_params {
    double C;   /* inverse regularisation strength */
    double eps; /* liblinear stopping tolerance */
};

void clf_train_params_default(struct clf_train_params *tp);

/* Trains on n texts with labels in 0..WIRE_NTASKS-1; every class must occur. */
int clf_model_train(const struct clf_feature_config *fcfg, const struct clf_train_params *tp,
                    const char *const *texts, const size_t *lens, const int *labels, size_t n,
                    struct clf_model **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

int clf_model_save(const struct clf_model *m, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads, verifies (magic, checksum, versions, settings, sizes) and loads a model file. */
int clf_model_load(const char *path, struct clf_model **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Same, from a buffer (path is only used in messages). */
int clf_model_load_buffer(const char *path, const unsigned char *buf, size_t len,
                          struct clf_model **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

const struct clf_feature_config *clf_model_features(const struct clf_model *m);

/* Calibrated probabilities per class (index = wire_task); returns the top class. ex must
 * have been created from clf_model_features(m). */
wire_task clf_model_predict(const struct clf_model *m, struct clf_extractor *ex,
                                const char *text, size_t len, double probs[WIRE_NTASKS]);

/* The raw class scores (liblinear's decision values) the probabilities come from. */
void clf_model_scores(const struct clf_model *m, struct clf_extractor *ex, const char *text,
                      size_t len, double dec[WIRE_NTASKS]);

/* A chat: the scores of the last user turn plus wctx times those of the earlier turns
 * (ctx[0..clen), without the bias), so the last turn counts more than the rest, then the
 * probabilities. ctx NULL or clen 0 is clf_model_predict(). */
void clf_model_scores_chat(const struct clf_model *m, struct clf_extractor *ex,
                           const char *text, size_t len, const char *ctx, size_t clen,
                           double wctx, double dec[WIRE_NTASKS]);
wire_task clf_model_predict_chat(const struct clf_model *m, struct clf_extractor *ex,
                                 const char *text, size_t len, const char *ctx, size_t clen,
                                 double wctx, double probs[WIRE_NTASKS]);

/* The calibration and the cost-aware decision (calibration.h): a new model has temperature
 * 1 and every simple_min 0 (the top class stands) until train time sets them from dev. */
void clf_model_set_decision(struct clf_model *m, double temperature,
                            const double simple_min[WIRE_NTASKS]);
double clf_model_temperature(const struct clf_model *m);
double clf_model_simple_min(const struct clf_model *m, wire_task k);
wire_task clf_model_decide(const struct clf_model *m, const double probs[WIRE_NTASKS],
                           bool *demoted);

void clf_model_free(struct clf_model *m);

/* CRC-32 (IEEE 802.3, as zlib's crc32()). */
unsigned long clf_crc32(const unsigned char *p, size_t n);

#endif
