/*
 * lifecycle: an experiment's phase machine, pure.
 *
 *   draft --start--> running(step 0) --advance/promote--> running(step i+1) ...
 *        running(last step) --advance/promote--> completed
 *   running --pause--> paused --resume--> running (same step)
 *   running|paused --rollback--> rolled_back (terminal: everyone on the default model)
 *   per task type: active <--hold/release (human), hold back (controller)--> held back
 *
 * Human actions win: a task a human holds is never released by the controller;
 * a task a human releases is pinned active and never held back again by the
 * controller; a pause, rollback or promote by a human is never undone by it.
 */
#ifndef SY_EXP_LIFECYCLE_H
#define SY_EXP_LIFECYCLE_H

#include <stddef.h>

#include "experiments/routing.h"

typedef enum {
    EXP_STATUS_DRAFT,
    EXP_STATUS_RUNNING,
    EXP_STATUS_PAUSED,
    EXP_STATUS_ROLLED_BACK,
    EXP_STATUS_COMPLETED,
} exp_status;

typedef enum {
    EXP_OP_START,
    EXP_OP_PAUSE,
    EXP_OP_RESUME,
    EXP_OP_PROMOTE,   /* human: next step now */
    EXP_OP_ROLLBACK,
    EXP_OP_HOLD,      /* human: hold back a task type */
    EXP_OP_RELEASE,   /* human: release a task type */
    EXP_OP_ADVANCE,   /* controller: evidence says go */
    EXP_OP_HOLD_BACK, /* controller: a task type regressed */
    EXP_OP_AUTO_PAUSE,    /* controller: assignment is broken (SRM) */
    EXP_OP_AUTO_ROLLBACK, /* controller: a rollback guardrail fired */
} exp_op;

typedef struct exp_life {
    exp_status status;
    int step;               /* index into the plan while running or paused */
    int nsteps;
    unsigned held_back;     /* tasks on the default model (bit per wire_task) */
    unsigned human_held;    /* held by a human: the controller never releases these */
    unsigned human_pinned;  /* released by a human: the controller never holds these back */
} exp_life;

const char *exp_status_str(exp_status s);
int exp_status_parse(const char *s, exp_status *out);
const char *exp_op_str(exp_op a);
int exp_op_parse(const char *s, exp_op *out);

/* Apply an action. task is used by HOLD, RELEASE and HOLD_BACK. Returns 0 and
 * updates *l, or -1 with the reason in why (nothing changed). A controller
 * action that a human decision forbids is refused the same way. */
int exp_life_apply(exp_life *l, exp_op a, int task, char *why, size_t whylen);

/* The phase routers apply, given the plan's kind of the current step. */
exp_phase exp_life_phase(const exp_life *l, exp_phase step_kind);

#endif
