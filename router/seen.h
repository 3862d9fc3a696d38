/*
 * seen: the router's "user recorded recently" cache (router/redis.c). A request whose
 * user was recorded in the same step and cohort less than RT_SEEN_US ago sends no
 * user record. It only saves Redis writes: answers never depend on it.
 *
 * RT_SEEN_SLOTS entries in sets of RT_SEEN_WAYS (set associative): a key is looked up
 * in its set only, and a new key takes an empty or expired way, else the one that
 * expires first. Direct-mapped (one way), two keys on one slot evicted each other on
 * every request: about 1 in 10 of the benchmark's 4 000 users was recorded every time.
 */
#ifndef SY_RT_SEEN_H
#define SY_RT_SEEN_H

#include <stdint.h>

#define RT_SEEN_SLOTS 65536
#define RT_SEEN_WAYS 4
#define RT_SEEN_US (60 * 1000000LL)

typedef struct rt_seen rt_seen;

rt_seen *rt_seen_new(void); /* NULL: out of memory */
void rt_seen_free(rt_seen *s);
void rt_seen_clear(rt_seen *s);

/* 1 if key was remembered less than RT_SEEN_US before ts_us; else remembers it until
 * ts_us + RT_SEEN_US and returns 0 (the caller records the user now). The set comes
 * from key's high 32 bits. */
int rt_seen_check(rt_seen *s, uint64_t key, int64_t ts_us);

#endif
