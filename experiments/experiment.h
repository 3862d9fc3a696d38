/*
 * Experiment definition: the router config (experiments/config.h) plus the
 * controller's sections: the phase plan, guardrails, notification webhooks and
 * the feedback attribution window. One JSON file is both; experiments/README.md
 * documents every key, its type, default and meaning, with
 * experiments/task-routing.json as the worked example.
 *
 * Pure: parses a string, no I/O. Validation collects every error of both the
 * shared sections (exp_config_parse, without requiring api_keys) and the
 * controller's sections, one per line, each with its JSON path:
 *   $.phases[2].routed_pct: must increase from the previous step (25 -> 10)
 */
#ifndef SY_EXP_EXPERIMENT_H
#define SY_EXP_EXPERIMENT_H

#include <stddef.h>

#include "experiments/config.h"
#include "experiments/routing.h"

/* One step of the phase plan. */
typedef struct exp_step {
    exp_phase kind;        /* EXP_PHASE_SHADOW, _CANARY, _RAMP or _FULL */
    int routed_bp;         /* share of eligible (non-holdout) users routed, basis points:
                              0 for shadow, 10000 for full, routed_pct * 100 otherwise */
    long min_duration_s;   /* the step lasts at least this long (default 0) */
    long min_samples;      /* requests per task type per arm before advancing (default 0) */
    long min_labels;       /* shadow: human labels per task type before judging accuracy
                              (default 50; 0 on other steps) */
    double accuracy_floor; /* shadow: classifier accuracy per task type, at least this
                              (default 0.85, in (0, 1]; 0 on other steps) */
} exp_step;

typedef enum {
    EXP_GM_THUMBS_DOWN_RATE,  /* thumbs down / thumbs, higher is worse */
    EXP_GM_RATING,            /* mean 1-5 rating, lower is worse */
    EXP_GM_ERROR_RATE,        /* status >= 500 / requests, higher is worse */
    EXP_GM_LATENCY_P95_SHARE, /* share of routed requests slower than the control's p95 (0.05
                                 when equal), higher is worse */
    EXP_GM_COST_PER_REQUEST,  /* USD per request, higher is worse */
    EXP_GM_N
} exp_guard_metric;

typedef enum {
    EXP_GA_HOLD_BACK_TASK, /* send the regressing task type back to the default model */
    EXP_GA_ROLLBACK,       /* roll back the whole experiment */
    EXP_GA_PAUSE,          /* pause the experiment */
    EXP_GA_WARN,           /* notify only */
    EXP_GA_N
} exp_guard_action;

/* Regression beyond the margin: routed is worse than control by more than
 * `margin`, in the metric's own units (an absolute difference: 0.02 = two
 * points of thumbs-down rate; 0.2 rating points; USD per request for cost),
 * significant at level alpha with an always-valid test. */
typedef struct exp_guardrail {
    exp_guard_metric metric;
    double margin;         /* >= 0 */
    double alpha;          /* in (0, 0.5) */
    exp_guard_action action;
    long min_samples;      /* per arm per task type before this guardrail is judged */
    unsigned tasks;        /* bit (1u << wire_task) per task type watched; never 0: all four
                              bits when "tasks" is absent */
} exp_guardrail;

/* Notification events: the decisions' actions (docs/architecture.md,
 * `decisions.action`) plus "warn" from guardrails whose action is warn. */
typedef enum {
    EXP_EV_START,
    EXP_EV_ADVANCE,
    EXP_EV_HOLD,
    EXP_EV_HOLD_BACK,
    EXP_EV_RELEASE,
    EXP_EV_ROLLBACK,
    EXP_EV_PAUSE,
    EXP_EV_RESUME,
    EXP_EV_PROMOTE,
    EXP_EV_COMPLETE,
    EXP_EV_WARN,
    EXP_EV_N
} exp_event;

#define EXP_EV_ALL ((1u << EXP_EV_N) - 1u)
/* Default subscription: everything but "hold" (which is every inconclusive tick). */
#define EXP_EV_DEFAULT (EXP_EV_ALL & ~(1u << EXP_EV_HOLD))

typedef struct exp_webhook {
    char *url;        /* http:// or https:// */
    char *secret_env; /* environment variable holding the HMAC signing secret, or NULL */
    unsigned events;  /* bit (1u << exp_event) per event delivered */
} exp_webhook;

typedef struct exp_notifications {
    exp_webhook *webhooks;
    int nwebhooks;
    int timeout_ms;   /* per delivery attempt (default 5000) */
    int max_attempts; /* delivery attempts per event, retries included (default 5) */
} exp_notifications;

typedef struct exp_experiment {
    exp_config *config;         /* the shared sections; config->experiment is the name */
    exp_step *steps;
    int nsteps;                 /* >= 1; the last step is full */
    exp_guardrail *guardrails;
    int nguardrails;            /* the defaults (README) when "guardrails" is absent */
    exp_notifications notifications;
    int attribution_window_s;   /* feedback counts toward its request's arm within this */
    char *canonical;            /* compact JSON, sorted keys, controller defaults filled in,
                                   literal API keys redacted: for experiments.definition.
                                   Parses back to the same text. */
} exp_experiment;

/* Returns 0 and *out, or -1 with every error in err (one per line, truncated
 * to errlen) and *out NULL. */
int exp_experiment_parse(const char *json, size_t len, exp_experiment **out, char *err,
                         size_t errlen) __attribute__((warn_unused_result));
void exp_experiment_free(exp_experiment *x);

/* Step i of the plan: its routed share in basis points (the value for
 * exp_state.routed_bp), and its kind in *phase (may be NULL). -1 when i is out
 * of range. */
int exp_experiment_step(const exp_experiment *x, int i, exp_phase *phase);

const char *exp_guard_metric_str(exp_guard_metric m);
int exp_guard_metric_parse(const char *s, exp_guard_metric *out); /* 0 or -1 */
const char *exp_guard_action_str(exp_guard_action a);
int exp_guard_action_parse(const char *s, exp_guard_action *out);
const char *exp_event_str(exp_event e);
int exp_event_parse(const char *s, exp_event *out);

#endif
