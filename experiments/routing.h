/*
 * Routing: task types, modes, experiment phases, and the pure decision of
 * which cohort a request is in and which model serves it.
 *
 * The experiment's live state (phase, routed share, holdout, salt, held-back
 * task types) is owned by the controller and read by routers from Redis; see
 * docs/architecture.md "Experiment state in Redis".
 */
#ifndef SY_EXP_ROUTING_H
#define SY_EXP_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/cohort.h"
#include "wire/task.h"

typedef enum { EXP_MODE_ECO, EXP_MODE_BALANCED, EXP_MODE_SPORT, EXP_NMODES } exp_mode;

typedef enum {
    EXP_PHASE_OFF,        /* no experiment state: everyone on the default model */
    EXP_PHASE_DRAFT,
    EXP_PHASE_SHADOW,
    EXP_PHASE_CANARY,
    EXP_PHASE_RAMP,
    EXP_PHASE_FULL,
    EXP_PHASE_COMPLETED,
    EXP_PHASE_PAUSED,
    EXP_PHASE_ROLLED_BACK,
    EXP_NPHASES
} exp_phase;

const char *exp_mode_str(exp_mode m);
const char *exp_phase_str(exp_phase p);
int exp_mode_parse(const char *s, exp_mode *out);
int exp_phase_parse(const char *s, exp_phase *out);

#define EXP_SALT_MAX 64

typedef struct exp_state {
    exp_phase phase;
    int routed_bp;           /* share of eligible users routed, basis points */
    int holdout_bp;          /* share of all users held out, basis points */
    char salt[EXP_SALT_MAX];
    unsigned held_back;      /* bit (1u << task) set: that task type goes to the default model */
    uint64_t version;
} exp_state;

/* Parse the fields of the Redis hash (name/value pairs). Unknown fields are
 * ignored (newer controllers may add some); bad values are errors. */
int exp_state_parse(const char *const *names, const char *const *values, size_t n, exp_state *out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

typedef struct exp_route {
    exp_cohort cohort;
    int serve_routed; /* serve the routing table's model (else the default) */
    int log_would_have; /* shadow: compute and log the routed model */
} exp_route;

/* forced: -1 none, else an exp_cohort forced for this user (QA). */
exp_route exp_route_decide(const exp_state *st, int bucket, wire_task task, int forced);

#endif
