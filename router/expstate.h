/*
 * expstate: the experiment's live state, as the controller publishes it in
 * Redis (docs/architecture.md, "Experiment state in Redis").
 *
 * The state is re-read when the controller announces a change on the
 * pub/sub channel, and every refresh interval as a safety net. Requests never
 * wait for it: they use the last state read (or the config's initial state
 * if Redis was never reachable).
 */
#ifndef SY_RT_EXPSTATE_H
#define SY_RT_EXPSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/routing.h"

struct event_base;
struct sy_redis_addr;
typedef struct rt_redis rt_redis;
typedef struct rt_expstate rt_expstate;

rt_expstate *rt_expstate_new(struct event_base *base, rt_redis *reader, const struct sy_redis_addr *addr,
                       const char *experiment, const exp_state *initial, int refresh_ms);
void rt_expstate_free(rt_expstate *s);

const exp_state *rt_expstate_current(const rt_expstate *s);
/* Forced cohort of a user (QA), or -1. */
int rt_expstate_forced(const rt_expstate *s, const char *user_hash);
/* Microseconds since the state was last confirmed from Redis (INT64_MAX: never). */
int64_t rt_expstate_age_us(const rt_expstate *s);

#endif
