/*
 * The router-facing classifier: rules, then the model and its cost-aware decision,
 * then the confidence fallback. Nothing here fails loudly: any problem yields WIRE_TASK_NONE, which
 * the router maps to the default model.
 */
#include "classifier/classifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/features.h"
#include "classifier/model.h"
#include "classifier/rules.h"

#ifndef SY_CLASSIFIER_MODEL_DEFAULT
#define SY_CLASSIFIER_MODEL_DEFAULT "classifier/model/switchyard-task.model"
#endif

struct clf_classifier {
    struct clf_model *model;
    struct clf_extractor *ex;
    double context_weight;
};

int clf_target_parse(const char *s, wire_task *out)
{
    if (!s)
        return -1;
    if (!wire_task_parse(s, out))
        return 0;
    if (!strcmp(s, "default") || !strcmp(s, "none")) {
        *out = WIRE_TASK_NONE;
        return 0;
    }
    return -1;
}

const char *clf_default_model_path(void)
{
    const char *env = getenv("SWITCHYARD_CLASSIFIER_MODEL");
    return env && *env ? env : SY_CLASSIFIER_MODEL_DEFAULT;
}

int clf_load(const char *path, struct clf_classifier **out, char *err, size_t errlen)
{
    struct clf_classifier *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (clf_model_load(path, &c->model, err, errlen) != 0)
        goto fail;
    c->ex = clf_extractor_new(clf_model_features(c->model));
    if (!c->ex) {
        snprintf(err, errlen, "%s: cannot allocate the feature extractor", path);
        goto fail;
    }
    c->context_weight = CLF_CONTEXT_WEIGHT;
    *out = c;
    return 0;
fail:
    clf_free(c);
    return -1;
}

void clf_free(struct clf_classifier *c)
{
    if (!c)
        return;
    clf_extractor_free(c->ex);
    clf_model_free(c->model);
    free(c);
}

void clf_set_context_weight(struct clf_classifier *c, double w)
{
    if (c)
        c->context_weight = w >= 0 && w <= 10 ? w : CLF_CONTEXT_WEIGHT;
}

void clf_classify(struct clf_classifier *c, const char *text, size_t len,
                  const struct clf_rules *rules, struct clf_result *res)
{
    clf_classify_chat(c, text, len, NULL, 0, rules, res);
}

void clf_classify_chat(struct clf_classifier *c, const char *text, size_t len,
                       const char *context, size_t clen, const struct clf_rules *rules,
                       struct clf_result *res)
{
    memset(res, 0, sizeof(*res));
    res->task = WIRE_TASK_NONE;
    if (!text) {
        res->reason = "no text";
        return;
    }
    wire_task t;
    const char *why;
    if (clf_rules_match(rules, text, len, &t, &why)) {
        res->task = t;
        res->confidence = 1.0;
        res->by_rule = true;
        res->reason = why;
        return;
    }
    if (!c || !c->model || !c->ex) {
        res->reason = "no model";
        return;
    }
    t = clf_model_predict_chat(c->model, c->ex, text, len, context, clen, c->context_weight,
                               res->probs);
    if (t == WIRE_TASK_NONE) {
        res->reason = "model error";
        return;
    }
    /* the cost-aware decision: an unsure "simple" becomes the likeliest costly class */
    t = clf_model_decide(c->model, res->probs, &res->demoted);
    res->confidence = res->probs[t];
    res->task = t;
    res->reason = res->demoted ? "cost threshold" : "model";
    if (res->confidence < clf_rules_min_confidence(rules)) {
        res->task = clf_rules_fallback_task(rules);
        res->fallback = true;
        res->reason = "fallback";
    }
}
