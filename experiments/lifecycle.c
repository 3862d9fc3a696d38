#include "experiments/lifecycle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"draft", "running", "paused", "rolled_back", "completed"};
static const char *const op_names[] = {"start",    "pause",     "resume",     "promote",
                                           "rollback", "hold",      "release",    "advance",
                                           "hold_back", "auto_pause", "auto_rollback"};

const char *exp_status_str(exp_status s)
{
    return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "unknown";
}

const char *exp_op_str(exp_op a)
{
    return (unsigned)a < sizeof(op_names) / sizeof(op_names[0]) ? op_names[a] : "unknown";
}

int exp_status_parse(const char *s, exp_status *out)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (!strcmp(s, status_names[i])) {
            *out = (exp_status)i;
            return 0;
        }
    return -1;
}

int exp_op_parse(const char *s, exp_op *out)
{
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (!strcmp(s, op_names[i])) {
            *out = (exp_op)i;
            return 0;
        }
    return -1;
}

static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

int exp_life_apply(exp_life *l, exp_op a, int task, char *why, size_t whylen)
{
    const char *st = exp_status_str(l->status);
    unsigned bit = (task >= 0 && task < WIRE_NTASKS) ? 1u << task : 0;

    switch (a) {
    case EXP_OP_START:
        if (l->status != EXP_STATUS_DRAFT)
            return refuse(why, whylen, "cannot start: the experiment is %s, not draft", st);
        if (l->nsteps < 1)
            return refuse(why, whylen, "cannot start: the plan has no steps");
        l->status = EXP_STATUS_RUNNING;
        l->step = 0;
        return 0;
    case EXP_OP_PAUSE:
    case EXP_OP_AUTO_PAUSE:
        if (l->status != EXP_STATUS_RUNNING)
            return refuse(why, whylen, "cannot pause: the experiment is %s, not running", st);
        l->status = EXP_STATUS_PAUSED;
        return 0;
    case EXP_OP_RESUME:
        if (l->status != EXP_STATUS_PAUSED)
            return refuse(why, whylen, "cannot resume: the experiment is %s, not paused", st);
        l->status = EXP_STATUS_RUNNING;
        return 0;
    case EXP_OP_PROMOTE:
    case EXP_OP_ADVANCE:
        if (l->status != EXP_STATUS_RUNNING)
            return refuse(why, whylen, "cannot advance: the experiment is %s, not running", st);
        if (l->step + 1 >= l->nsteps)
            l->status = EXP_STATUS_COMPLETED;
        else
            l->step++;
        return 0;
    case EXP_OP_ROLLBACK:
    case EXP_OP_AUTO_ROLLBACK:
        if (l->status != EXP_STATUS_RUNNING && l->status != EXP_STATUS_PAUSED)
            return refuse(why, whylen, "cannot roll back: the experiment is %s", st);
        l->status = EXP_STATUS_ROLLED_BACK;
        return 0;
    case EXP_OP_HOLD:
    case EXP_OP_RELEASE:
    case EXP_OP_HOLD_BACK:
        if (!bit)
            return refuse(why, whylen, "a task type is required (simple, code, reasoning, complex)");
        if (l->status == EXP_STATUS_ROLLED_BACK)
            return refuse(why, whylen, "cannot change task types: the experiment is %s", st);
        if (a == EXP_OP_HOLD) {
            l->held_back |= bit;
            l->human_held |= bit;
            l->human_pinned &= ~bit;
        } else if (a == EXP_OP_RELEASE) {
            l->held_back &= ~bit;
            l->human_held &= ~bit;
            l->human_pinned |= bit;
        } else {
            if (l->human_pinned & bit)
                return refuse(why, whylen, "a human released %s: the controller does not hold it back",
                              wire_task_str((wire_task)task));
            l->held_back |= bit;
        }
        return 0;
    }
    return refuse(why, whylen, "unknown action");
}

exp_phase exp_life_phase(const exp_life *l, exp_phase step_kind)
{
    switch (l->status) {
    case EXP_STATUS_DRAFT: return EXP_PHASE_DRAFT;
    case EXP_STATUS_RUNNING: return step_kind;
    case EXP_STATUS_PAUSED: return EXP_PHASE_PAUSED;
    case EXP_STATUS_ROLLED_BACK: return EXP_PHASE_ROLLED_BACK;
    case EXP_STATUS_COMPLETED: return EXP_PHASE_COMPLETED;
    }
    return EXP_PHASE_OFF;
}
