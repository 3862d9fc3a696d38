/*
 * breaker: a per-provider circuit breaker, pure (time is an argument).
 *
 *   closed --N consecutive failures--> open --cooldown--> half-open
 *   half-open: one probe at a time; success -> closed, failure -> open again
 */
#ifndef SY_RT_BREAKER_H
#define SY_RT_BREAKER_H

#include <stdint.h>

typedef enum { RT_BREAKER_CLOSED, RT_BREAKER_OPEN, RT_BREAKER_HALF_OPEN } rt_breaker_state;

typedef struct rt_breaker {
    rt_breaker_state state;
    int failures;          /* consecutive */
    int64_t opened_us;     /* when it last opened */
    int probe_inflight;    /* half-open: a probe is out */
    uint64_t opens;        /* times it opened (metric) */
} rt_breaker;

const char *rt_breaker_state_str(rt_breaker_state s);

/* May a call go to this provider now? In half-open, the first caller gets
 * the probe (and must report its outcome). */
int rt_breaker_allow(rt_breaker *b, int64_t now_us, int cooldown_ms);
void rt_breaker_success(rt_breaker *b);
void rt_breaker_failure(rt_breaker *b, int64_t now_us, int threshold);
/* A call that was allowed but then cancelled: no verdict; frees the probe. */
void rt_breaker_release(rt_breaker *b);

#endif
