/*
 * Explicit routing rules, checked before the model. They come from the
 * experiment config; clf_rules_parse_json() reads this object:
 *
 *   {"code_fence": true,              fenced code (```) => "code"
 *    "long_input_tokens": 8000,       estimated tokens (bytes/4) above this => long_input_task
 *    "long_input_task": "complex",
 *    "patterns": [{"regex": "\\bkubectl\\b", "task": "code"}],   POSIX ERE, case-insensitive
 *    "min_confidence": 0.5,           model confidence below this => fallback_task
 *    "fallback_task": "complex",      a task, or "default" (the default model)
 *    "tools_task": "complex"}         a request offering tools (tool_choice not "none")
 *                                     judged simple gets this task instead; "none": off.
 *                                     Applied by the caller (the router), which sees the
 *                                     request; default complex, rules or not.
 *
 * Every key is optional; unknown keys are errors. Precedence: patterns (in order), then long input, then
 * fenced code. Rules read only a bounded window of the text (first
 * CLF_RULES_HEAD bytes and last CLF_RULES_TAIL bytes).
 */
#ifndef SY_CLASSIFIER_RULES_H
#define SY_CLASSIFIER_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "classifier/classifier.h"

#define CLF_RULES_HEAD 8192
#define CLF_RULES_TAIL 2048
#define CLF_RULES_MAX_PATTERNS 64

struct clf_rules;
struct json_t; /* jansson */

/* Defaults: code_fence on, no long-input rule, no patterns, min_confidence 0, fallback default. */
struct clf_rules *clf_rules_new(void);
void clf_rules_free(struct clf_rules *r);

int clf_rules_parse_json(const char *json, struct clf_rules **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Same, from an already parsed object (e.g. the experiment config's "classifier" member).
 * Errors name the JSON path relative to that object ("$.patterns[0].task: ..."). */
int clf_rules_from_json(const struct json_t *obj, struct clf_rules **out, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

void clf_rules_set_code_fence(struct clf_rules *r, bool on);
void clf_rules_set_long_input(struct clf_rules *r, size_t tokens, wire_task task);
void clf_rules_set_fallback(struct clf_rules *r, double min_confidence, wire_task task);
int clf_rules_add_pattern(struct clf_rules *r, const char *regex, wire_task task, char *err,
                          size_t errlen) __attribute__((warn_unused_result));

#define CLF_TOOLS_TASK_DEFAULT WIRE_TASK_COMPLEX

double clf_rules_min_confidence(const struct clf_rules *r);
/* The tools rule's task (r may be NULL: the default). */
wire_task clf_rules_tools_task(const struct clf_rules *r);
wire_task clf_rules_fallback_task(const struct clf_rules *r);

/* Estimated tokens of a text of len bytes (bytes / 4, rounded up). */
size_t clf_estimate_tokens(size_t len);

/* True and *task, *why (static or rule-owned string) when a rule decides. */
bool clf_rules_match(const struct clf_rules *r, const char *text, size_t len,
                     wire_task *task, const char **why);

#endif
