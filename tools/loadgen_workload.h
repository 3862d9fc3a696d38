/*
 * loadgen_workload: what the load generator sends. The labelled prompt file
 * (JSON lines with "text" and "label"), the task mix, the Zipf-like user pool
 * and the seeded generator every random choice comes from. No I/O but reading
 * the prompt file.
 */
#ifndef SY_LG_WORKLOAD_H
#define SY_LG_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/routing.h"

/* splitmix64: one stream of pseudo-random numbers per seed */
typedef struct lg_rng {
    uint64_t s;
} lg_rng;

void lg_rng_seed(lg_rng *r, uint64_t seed);
uint64_t lg_rng_next(lg_rng *r);
double lg_rng_uniform(lg_rng *r);          /* [0, 1) */
double lg_rng_exp(lg_rng *r, double rate); /* exponential with that rate */

typedef struct lg_prompts {
    char **text[WIRE_NTASKS]; /* prompts per label (owned) */
    size_t n[WIRE_NTASKS];
    size_t cap[WIRE_NTASKS];
    size_t skipped; /* rows with another label */
} lg_prompts;

/* Load a JSON-lines file. 0, or -1 with "FILE:LINE: reason" in err. */
int lg_prompts_load(lg_prompts *p, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void lg_prompts_free(lg_prompts *p);

/* The task mix: weights per task type, from "simple=50,code=20,...". */
typedef struct lg_mix {
    double w[WIRE_NTASKS];
    double total;
} lg_mix;

/* 0, or -1 with the reason in err (without the flag name). Unnamed tasks get 0. */
int lg_mix_parse(lg_mix *m, const char *spec, char *err, size_t errlen)
    __attribute__((warn_unused_result));
wire_task lg_mix_pick(const lg_mix *m, lg_rng *r);

/* Users "user-<i>", i in 0..n-1, P(i) proportional to 1/(i+1) (Zipf, s = 1). */
typedef struct lg_users {
    double *cdf;
    int n;
} lg_users;

int lg_users_init(lg_users *u, int n) __attribute__((warn_unused_result));
int lg_users_pick(const lg_users *u, lg_rng *r);
void lg_users_free(lg_users *u);

#endif
