/*
 * Task-type classifier: the API the router calls.
 *
 *   struct clf_classifier *c;
 *   char err[256];
 *   if (clf_load(clf_default_model_path(), &c, err, sizeof(err)) != 0)
 *       log(err);                       // c == NULL: every request goes to the default model
 *   struct clf_result r;
 *   clf_classify(c, text, len, rules, &r);  // never fails; r.task == WIRE_TASK_NONE means
 *                                          // "use the default model" (fail open)
 *   clf_free(c);
 *
 * A classifier holds scratch space: use one per thread (the router has one event loop).
 * Reload on SIGHUP by loading a new one and swapping it in only when clf_load succeeded.
 */
#ifndef SY_CLASSIFIER_H
#define SY_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/task.h"

/* A rule's target: a task name (wire/task.h), or "default" / "none" for WIRE_TASK_NONE
 * (the default model). 0 on success, -1 otherwise. */
int clf_target_parse(const char *s, wire_task *out) __attribute__((warn_unused_result));

struct clf_result {
    wire_task task;          /* WIRE_TASK_NONE: use the default model */
    double confidence;           /* calibrated probability of the verdict's class; 1 for rules */
    bool by_rule;                /* decided by an explicit rule, model not consulted */
    bool fallback;               /* model confidence below the rules' min_confidence */
    bool demoted;                /* the model's top class was simple, but p(simple) was below
                                  * the model's threshold for the likeliest costly class, so
                                  * the verdict is that class (model.h, calibration.h) */
    double probs[WIRE_NTASKS];    /* model probabilities (zero when not run) */
    const char *reason;          /* static string: which rule, "model", "fallback", or why none */
};

struct clf_classifier;
struct clf_rules;

/* The model file to load: $SWITCHYARD_CLASSIFIER_MODEL if set, else the compiled-in path. */
const char *clf_default_model_path(void);

/* 0 and *out on success; -1, *out = NULL and a one-line reason in err otherwise. */
int clf_load(const char *path, struct clf_classifier **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Rules first (rules may be NULL), then the model (c may be NULL: fail open) with its
 * cost-aware decision, then the rules' min_confidence fallback.
 * text need not be NUL-terminated; only a bounded window of it is read.
 */
void clf_classify(struct clf_classifier *c, const char *text, size_t len,
                  const struct clf_rules *rules, struct clf_result *res);

/*
 * A chat request: text is the last user turn (what rules and the model judge, as
 * clf_classify), context the turns before it (router/chat_route.c: the nearest earlier
 * messages' text, at most CLF_CONTEXT_BYTES), which the model adds at CLF_CONTEXT_WEIGHT
 * of the last turn's weight, so "now add type hints" after a code answer leans to code.
 * context NULL or clen 0 is clf_classify().
 */
#define CLF_CONTEXT_BYTES 256
#define CLF_CONTEXT_WEIGHT 0.2
void clf_classify_chat(struct clf_classifier *c, const char *text, size_t len,
                       const char *context, size_t clen, const struct clf_rules *rules,
                       struct clf_result *res);

/* For evaluation (`switchyard classifier eval --context-weight`): the weight of the earlier
 * turns, CLF_CONTEXT_WEIGHT unless set; 0 ignores them. */
void clf_set_context_weight(struct clf_classifier *c, double w);

void clf_free(struct clf_classifier *c);

#endif
