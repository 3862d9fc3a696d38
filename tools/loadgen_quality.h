/*
 * loadgen_quality: what simulated users think of each model per task type.
 *
 * The table comes from the simulator's GET /v1/models (each model's
 * switchyard.quality.{simple,code,reasoning,complex}.{thumbs_down,rating}), with
 * --quality-override entries applied on top. A model the table does not know gets
 * the simulator's defaults (thumbs_down 0.10, rating 4.0).
 */
#ifndef SY_LG_QUALITY_H
#define SY_LG_QUALITY_H

#include <stddef.h>

#include "experiments/routing.h"

#define LG_DEFAULT_THUMBS_DOWN 0.10
#define LG_DEFAULT_RATING 4.0

typedef struct lg_quality {
    double thumbs_down; /* probability of a thumb down */
    double rating;      /* mean of the 1..5 rating */
} lg_quality;

typedef struct lg_qmodel {
    char *name;
    lg_quality q[WIRE_NTASKS];
    int from_sim; /* listed by the simulator (else only overridden) */
} lg_qmodel;

typedef struct lg_override {
    char *model; /* "*" = every model */
    int task;    /* wire_task, or -1 = every task type */
    int has_thumbs_down, has_rating;
    double thumbs_down, rating;
} lg_override;

typedef struct lg_qtable {
    lg_qmodel *models;
    int n;
    lg_override *ov;
    int nov;
} lg_qtable;

/*
 * Parse one --quality-override value into t->ov:
 *   MODEL:TASK:KEY=V[,KEY=V...][,MODEL:TASK:KEY=V...]
 * KEY thumbs_down (0..1) or rating (1..5); MODEL or TASK "*" for all. An item
 * without MODEL:TASK: continues the previous one. 0, or -1 with the reason in err.
 */
int lg_override_parse(lg_qtable *t, const char *spec, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Load the simulator's model list (JSON text). 0, or -1 with the reason in err. */
int lg_qtable_load_sim(lg_qtable *t, const char *json, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Apply the overrides (after loading). 0, or -1 on allocation failure. */
int lg_qtable_apply_overrides(lg_qtable *t) __attribute__((warn_unused_result));

/* The profile of a model for a task; *known = 0 when the model is not in the table. */
lg_quality lg_qtable_lookup(const lg_qtable *t, const char *model, wire_task task, int *known);

void lg_qtable_free(lg_qtable *t);

#endif
