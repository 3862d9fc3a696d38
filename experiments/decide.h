/*
 * The controller's decision core: one pure evaluation per tick.
 *
 * The controller reads rollups (docs/architecture.md "Rollups"), sums them per
 * experiment x phase x arm x task type into exp_arm, fills an exp_tick_input,
 * calls exp_decide(), applies the exp_decision, and stores
 * exp_decision_json() verbatim in decisions.evidence. Nothing here does I/O
 * or keeps state between ticks: the same input always gives the same decision,
 * so the logic is simulated offline at scale (bench/decision_sim.c).
 *
 * Per task type (one family each; docs/architecture.md "Statistics and decisions"):
 *   held back                       -> IGNORED (evidence still computed)
 *   no request in either arm        -> IDLE (does not block advancing)
 *   SRM (chi-square p < srm_alpha and
 *        sequential BF >= 1/srm_alpha) -> PAUSE
 *   a guardrail's lower bound of harm > margin
 *                                   -> REGRESS with the most severe action
 *                                      (warn guardrails never block; a pinned
 *                                      task's hold_back is downgraded to warn)
 *   feedback imbalance              -> HOLD feedback_imbalance (quality
 *                                      guardrails cannot regress or pass)
 *   any blocking guardrail without data / inconclusive, samples or duration
 *   short, shadow accuracy not yet above the floor
 *                                   -> HOLD with the first reason
 *   otherwise                       -> ADVANCE (ready for the next step)
 * Experiment: ROLLBACK if any task says rollback, else PAUSE if any says pause,
 * else HOLD_BACK the regressing tasks, else ADVANCE when every active task is
 * ready and the phase's duration is met, else HOLD.
 */
#ifndef SY_EXP_DECIDE_H
#define SY_EXP_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/experiment.h"
#include "experiments/routing.h"
#include "experiments/stats.h"

/* One arm x task type x phase, summed over rollups_minute rows. Field names
 * are the rollup columns. Counts are exact; sums are in the column's unit. */
typedef struct exp_arm {
    int64_t n;                  /* requests */
    int64_t errors;             /* status >= 500 */
    double cost_sum;            /* USD */
    double cost_sq;             /* sum of squared per-request cost */
    double baseline_cost_sum;   /* USD at the default model's price */
    int64_t latency_sum_us;
    int64_t latency_hist[EXP_LAT_BUCKETS]; /* bounds in experiments/stats.h */
    int64_t thumbs;             /* requests with a thumbs signal */
    int64_t thumbs_down;
    int64_t ratings;            /* requests with a rating */
    double rating_sum;
    double rating_sq;
    int64_t rated;              /* requests with any feedback */
} exp_arm;

/* dst += src, field by field (rollups add exactly). */
void exp_arm_add(exp_arm *dst, const exp_arm *src);

/* Guardrails and phase steps are the experiment definition's own structs
 * (experiments/experiment.h: exp_guardrail, exp_step), used as parsed:
 *   exp_guardrail.metric  harm (positive = worse) and the arms it reads:
 *     thumbs_down_rate   thumbs_down / thumbs, quality arms, harm = t - c
 *     rating             rating_sum / ratings, quality arms, harm = c - t
 *     error_rate         errors / n, all arms, harm = t - c
 *     latency_p95_share  share above tau = the control's p95 bucket bound (or
 *                        exp_task_input.latency_threshold_us), all arms, harm = t - c
 *     cost_per_request   cost_sum / n (USD), all arms, harm = t - c
 *   exp_guardrail.margin  allowed harm in the metric's unit, one-sided
 *     non-inferiority: regression when the CS lower bound of harm > margin,
 *     non-inferior when the upper bound < margin, else inconclusive.
 *   exp_guardrail.alpha   of the always-valid CS (two-sided 1 - alpha, one side used).
 *   exp_guardrail.min_samples  per arm, in the metric's unit (thumbs, ratings or
 *     requests); below it, or fewer than params.min_events events in both arms
 *     together for a rate, the guardrail has no data: hold, never a failure.
 *   exp_guardrail.tasks   bit per task type watched (0 = all); others: skipped.
 *   exp_guardrail.action  severity WARN < HOLD_BACK_TASK < PAUSE < ROLLBACK;
 *     warn guardrails never block advancing (they only set warn).
 *   exp_step.min_samples  requests per arm per task type (shadow: control arm);
 *   exp_step.accuracy_floor  shadow; <= 0 means EXP_ACCURACY_FLOOR_DEFAULT. */
#define EXP_MAX_GUARDRAILS 16
#define EXP_ACCURACY_FLOOR_DEFAULT 0.85

/* Severity of an action for combining: WARN 1, HOLD_BACK_TASK 2, PAUSE 3, ROLLBACK 4. */
int exp_guard_action_severity(exp_guard_action a);

/* Everything known about one task type in the current phase. */
typedef struct exp_task_input {
    wire_task task;
    exp_arm control;      /* all requests of the phase: n, errors, cost, latency */
    exp_arm routed;
    exp_arm control_q;    /* requests older than the attribution window only: */
    exp_arm routed_q;     /*   thumbs, ratings, rated (and their n) */
    int64_t labels_correct;  /* shadow: classifier agreed with the human label */
    int64_t labels_total;
    /* Units for the SRM check. Randomisation is by user, so users first seen in
     * the phase per arm are the right units; 0 and 0 means "use control.n and
     * routed.n" (requests: heavy users inflate the variance, so this can flag
     * mismatches that are not there; see docs/architecture.md). */
    int64_t srm_units_c, srm_units_t;
    double expected_routed_share;  /* exp_expected_routed_share(holdout_bp, routed_bp) */
    int64_t latency_threshold_us;  /* >0: fixed tau for the latency guardrail; 0: control p95 */
    int held_back;   /* exp_life.held_back has the task: evaluated, but ignored */
    int pinned;      /* exp_life.human_pinned has it: a hold_back regression only warns
                        (and holds the experiment); pause/rollback still apply */
} exp_task_input;

/* Tunables with defaults from exp_decide_params_default(). */
typedef struct exp_decide_params {
    double n_star;            /* CS tuning, EXP_CS_NSTAR_DEFAULT */
    double srm_alpha;         /* 0.001 */
    int64_t srm_min_units;    /* 8 */
    int64_t min_events;       /* 10: fewer events in both arms together = no data */
    double balance_alpha;     /* 0.001 */
    double balance_rel_tolerance; /* 0.10: rated shares within 10% of each other are fine */
    double accuracy_alpha;    /* 0.05, one-sided Wilson */
} exp_decide_params;

exp_decide_params exp_decide_params_default(void);

typedef struct exp_tick_input {
    exp_step step;                    /* the current step of the plan */
    double seconds_in_phase;
    const exp_guardrail *guardrails;  /* nguardrails <= EXP_MAX_GUARDRAILS */
    int nguardrails;
    const exp_task_input *tasks;      /* ntasks <= WIRE_NTASKS, distinct task values */
    int ntasks;
    exp_decide_params params;
} exp_tick_input;

/* ---- output ---- */

typedef enum {
    EXP_CHECK_NO_DATA,       /* below min_samples / min_events: hold, never a failure */
    EXP_CHECK_INCONCLUSIVE,  /* the CS straddles the margin */
    EXP_CHECK_NONINFERIOR,   /* upper bound of harm < margin */
    EXP_CHECK_REGRESSION,    /* lower bound of harm > margin */
    EXP_CHECK_BIASED,        /* quality metric while feedback is imbalanced: neither regresses nor passes */
    EXP_CHECK_SKIPPED        /* shadow (no routed arm), or the guardrail does not watch the task */
} exp_check_status;

const char *exp_check_status_str(exp_check_status s);

/* Evidence for one guardrail on one task type. For rates n_* are the
 * denominators (thumbs, requests) and x_* the events; for means n_* are the
 * counts (ratings, requests). Non-finite values render as JSON null. */
typedef struct exp_evidence {
    exp_guard_metric metric;
    exp_guard_action action;
    exp_check_status status;
    int blocking;            /* 0 for warn guardrails and skipped ones */
    double alpha;
    double margin;           /* as configured, in the metric's unit */
    int64_t n_c, n_t;
    int64_t x_c, x_t;        /* events (rates only; 0 for means) */
    double harm;             /* estimate oriented so that positive = worse */
    double harm_lower, harm_upper;
    exp_diff diff;           /* t - c, unoriented (value_c, value_t, se, mult, z) */
    int64_t threshold_us;    /* latency: tau (control p95 bucket bound) */
    double msprt_p;          /* mSPRT vs no difference, tau = margin: min(1, 1/Lambda), this tick */
} exp_evidence;

typedef enum {
    EXP_VERDICT_HOLD,
    EXP_VERDICT_ADVANCE,     /* ready for the next step */
    EXP_VERDICT_REGRESS,     /* a guardrail regressed: see action */
    EXP_VERDICT_PAUSE,       /* sample-ratio mismatch */
    EXP_VERDICT_IGNORED,     /* held back */
    EXP_VERDICT_IDLE         /* no requests in this phase: does not block */
} exp_verdict;

typedef enum {
    EXP_REASON_NONE,
    EXP_REASON_READY,
    EXP_REASON_INSUFFICIENT_DATA,
    EXP_REASON_INCONCLUSIVE,
    EXP_REASON_MIN_SAMPLES,
    EXP_REASON_MIN_DURATION,
    EXP_REASON_FEEDBACK_IMBALANCE,
    EXP_REASON_SRM,
    EXP_REASON_GUARDRAIL,
    EXP_REASON_ACCURACY_BELOW_FLOOR,
    EXP_REASON_HELD_BACK,
    EXP_REASON_NO_TRAFFIC,
    EXP_REASON_NO_ACTIVE_TASK
} exp_reason;

const char *exp_verdict_str(exp_verdict v);
const char *exp_reason_str(exp_reason r);  /* "insufficient_data", "min_duration", ... */

typedef struct exp_task_decision {
    wire_task task;
    exp_verdict verdict;
    exp_reason reason;
    int action;              /* REGRESS/PAUSE: an exp_guard_action (PAUSE for SRM); else -1 */
    int guardrail;           /* index of the guardrail behind action, or -1 (SRM, none) */
    int warn;                /* a warn guardrail regressed (or a pinned task's hold_back) */
    int pinned;
    int64_t n_c, n_t;        /* requests per arm (all arms) */
    exp_srm srm;
    exp_balance balance;
    exp_accuracy accuracy;   /* shadow only (valid = 0 otherwise) */
    int nguardrails;
    exp_evidence guardrails[EXP_MAX_GUARDRAILS];
} exp_task_decision;

typedef enum {
    EXP_DECISION_HOLD,
    EXP_DECISION_ADVANCE,    /* to the next step (after FULL: complete) */
    EXP_DECISION_HOLD_BACK,  /* hold back the tasks in hold_back_mask; no advance this tick */
    EXP_DECISION_PAUSE,
    EXP_DECISION_ROLLBACK
} exp_decision_kind;

const char *exp_decision_kind_str(exp_decision_kind k);

typedef struct exp_decision {
    exp_decision_kind kind;
    exp_reason reason;       /* why (HOLD: the first holding task's reason) */
    int task;                /* wire_task behind PAUSE/ROLLBACK/HOLD reason, or -1 */
    unsigned hold_back_mask; /* bit (1u << task): hold back now (HOLD_BACK) */
    unsigned warn_mask;      /* bit (1u << task): a warn-level regression */
    exp_step step;           /* copied from the input */
    double seconds_in_phase;
    int ntasks;
    exp_task_decision tasks[WIRE_NTASKS];
} exp_decision;

/* Evaluate one task type. Pure; the same input gives the same output. */
void exp_decide_task(const exp_tick_input *in, const exp_task_input *task,
                     exp_task_decision *out);

/* Combine task decisions into the experiment's decision (sets kind, reason,
 * task, masks; copies nothing else). */
void exp_decide_combine(const exp_tick_input *in, exp_decision *d);

/* Evaluate every task and combine: O(tasks x guardrails), no allocation
 * (exp_decision is about 13 KB: fine on a stack). Returns 0, or -1 when the
 * input is malformed (too many guardrails or tasks, a task out of range or
 * repeated, a NULL pointer with a nonzero count, a guardrail with a metric or
 * action out of range, alpha outside (0, 1) or a negative margin); then
 * d->kind = HOLD and d->ntasks = 0. */
int exp_decide(const exp_tick_input *in, exp_decision *d) __attribute__((warn_unused_result));

/* The decision with all its evidence as one JSON object (compact, keys in a
 * fixed order), malloc'd: free() it. NULL on allocation failure. */
char *exp_decision_json(const exp_decision *d);

#endif
