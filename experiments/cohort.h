/*
 * Cohort assignment: pure functions, no I/O.
 *
 * bucket = H(salt, user) mod 10000, stable for the experiment's life.
 * Buckets [0, holdout) are the holdout: the default model forever.
 * The rest are eligible; an eligible user is routed when its rank among the
 * eligible buckets is below the phase's routed share. Raising the share only
 * adds users; it never moves one back.
 */
#ifndef SY_EXP_COHORT_H
#define SY_EXP_COHORT_H

#include <stddef.h>
#include <stdint.h>

#define EXP_BUCKETS 10000

typedef enum {
    EXP_COHORT_HOLDOUT, /* fixed buckets, default model forever */
    EXP_COHORT_CONTROL, /* eligible, not routed in this phase */
    EXP_COHORT_ROUTED,  /* eligible and routed */
    EXP_COHORT_SHADOW,  /* default served, routed choice logged */
} exp_cohort;

const char *exp_cohort_str(exp_cohort c);

/* 64-bit FNV-1a over the bytes, finished with the splitmix64 mixer. Pinned by
 * unit tests: changing it moves every user to another bucket. */
uint64_t exp_hash64(const void *data, size_t len, uint64_t seed);

/* bucket in [0, EXP_BUCKETS) for user under salt. */
int exp_bucket(const char *salt, const char *user, size_t user_len);

/* holdout_bp and routed_bp in basis points of the whole population
 * (holdout) or of the eligible population (routed), 0..10000. */
int exp_is_holdout(int bucket, int holdout_bp);
int exp_is_routed(int bucket, int holdout_bp, int routed_bp);

/* Pseudonymous user id for storage: 16 lowercase hex digits + NUL. */
void exp_user_hash(const char *user, size_t user_len, char out[17]);

#endif
