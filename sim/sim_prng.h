/*
 * sim_prng: the simulator's only sources of "randomness".
 *
 * Two kinds, kept apart on purpose:
 *  - content hashing (FNV-1a 64 + splitmix64 finaliser): a pure function of
 *    the request, so the same prompt and model always give the same tokens,
 *    whatever the seed;
 *  - the seeded generator (splitmix64 stream) that samples latencies and
 *    faults; --seed makes a run reproducible.
 */
#ifndef SY_SIM_PRNG_H
#define SY_SIM_PRNG_H

#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"

/* The simulator's names for common/hash.h. */
#define SIM_FNV_OFFSET SY_FNV1A64_OFFSET

/* FNV-1a 64 over len bytes, continuing from h (start with SIM_FNV_OFFSET). */
static inline uint64_t sim_fnv1a(uint64_t h, const void *data, size_t len)
{
    return sy_fnv1a64(h, data, len);
}
/* splitmix64 finaliser: a good 64-bit mix of x. */
static inline uint64_t sim_mix64(uint64_t x) { return sy_mix64(x); }

typedef struct sim_prng {
    uint64_t state;
} sim_prng;

void sim_prng_seed(sim_prng *p, uint64_t seed);
uint64_t sim_prng_next(sim_prng *p);
/* Uniform in [0, 1). */
double sim_prng_uniform(sim_prng *p);
/* Standard normal deviate (Box-Muller). */
double sim_prng_normal(sim_prng *p);

#endif
