/*
 * wire/task: the task types, one enum for the classifier (what it predicts), the
 * experiments library (routing table rows, guardrails per task), the router's events
 * and the controller's decisions. The numeric order is a contract too: the shipped
 * liblinear model's class labels are these values, and bit (1u << task) masks are
 * stored in experiment state.
 */
#ifndef SY_WIRE_TASK_H
#define SY_WIRE_TASK_H

typedef enum {
    WIRE_TASK_NONE = -1, /* not classified: the default model answers */
    WIRE_TASK_SIMPLE = 0,
    WIRE_TASK_CODE,
    WIRE_TASK_REASONING,
    WIRE_TASK_COMPLEX,
    WIRE_NTASKS
} wire_task;

/* "simple", "code", "reasoning", "complex"; "none" for WIRE_TASK_NONE, "unknown" for
 * anything else. */
const char *wire_task_str(wire_task t);
/* One of the four names (case matters): 0, else -1 and *out unchanged. */
int wire_task_parse(const char *s, wire_task *out) __attribute__((warn_unused_result));

#endif
