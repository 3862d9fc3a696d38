#include "sim/sim_prng.h"

#include <math.h>

void sim_prng_seed(sim_prng *p, uint64_t seed)
{
    p->state = seed;
}

uint64_t sim_prng_next(sim_prng *p)
{
    uint64_t x = sim_mix64(p->state);
    p->state += 0x9e3779b97f4a7c15ULL;
    return x;
}

double sim_prng_uniform(sim_prng *p)
{
    return (double)(sim_prng_next(p) >> 11) * (1.0 / 9007199254740992.0);
}

double sim_prng_normal(sim_prng *p)
{
    double u1 = 1.0 - sim_prng_uniform(p); /* (0, 1]: log() stays finite */
    double u2 = sim_prng_uniform(p);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
