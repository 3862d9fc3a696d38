/*
 * 64-bit FNV-1a and the splitmix64 finaliser, the one copy of each.
 *
 * Cohort buckets (experiments/cohort.c), stored user hashes, the simulator's content
 * hash and the router's batch key maps are all built from these, so the bytes they
 * return are a contract: tests/unit/test_cohort.c and test_sim_model.c pin them, and
 * the integration tests re-implement them in Python. Never change them.
 *
 * Header only and pure (no I/O, nothing to link), so experiments/, which has no I/O
 * and links only jansson and libm, includes it as well as common/ does.
 */
#ifndef SY_HASH_H
#define SY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SY_FNV1A64_OFFSET 0xcbf29ce484222325ULL
#define SY_FNV1A64_PRIME 0x100000001b3ULL

/* FNV-1a 64 over len bytes, continuing from h (start with SY_FNV1A64_OFFSET). */
static inline uint64_t sy_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= SY_FNV1A64_PRIME;
    }
    return h;
}

/* The same over a NUL-terminated string (the NUL not included). */
static inline uint64_t sy_fnv1a64_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= SY_FNV1A64_PRIME;
    }
    return h;
}

/* splitmix64's finaliser: every input bit moves every output bit (FNV's low bits are
 * weak on their own). */
static inline uint64_t sy_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif
