#include "experiments/cohort.h"

#include <string.h>

#include "common/hash.h" /* header only, pure: no I/O enters experiments/ */
#include "common/hex.h"

const char *exp_cohort_str(exp_cohort c)
{
    switch (c) {
    case EXP_COHORT_HOLDOUT: return "holdout";
    case EXP_COHORT_CONTROL: return "control";
    case EXP_COHORT_ROUTED: return "routed";
    case EXP_COHORT_SHADOW: return "shadow";
    }
    return "unknown";
}

uint64_t exp_hash64(const void *data, size_t len, uint64_t seed)
{
    /* finalised: FNV's low bits are weak, and we take mod 10000 */
    return sy_mix64(sy_fnv1a64(SY_FNV1A64_OFFSET ^ seed, data, len));
}

int exp_bucket(const char *salt, const char *user, size_t user_len)
{
    uint64_t seed = exp_hash64(salt, strlen(salt), 0);
    return (int)(exp_hash64(user, user_len, seed) % EXP_BUCKETS);
}

int exp_is_holdout(int bucket, int holdout_bp) { return bucket < holdout_bp; }

int exp_is_routed(int bucket, int holdout_bp, int routed_bp)
{
    if (bucket < holdout_bp)
        return 0;
    /* rank among eligible buckets, scaled to basis points of the eligible */
    long eligible = EXP_BUCKETS - holdout_bp;
    long rank = bucket - holdout_bp;
    return rank * EXP_BUCKETS < (long)routed_bp * eligible;
}

void exp_user_hash(const char *user, size_t user_len, char out[17])
{
    static const char salt[] = "switchyard-user-v1";
    sy_hex_fixed(out, exp_hash64(user, user_len, exp_hash64(salt, sizeof(salt) - 1, 0)), 16);
    out[16] = '\0';
}
