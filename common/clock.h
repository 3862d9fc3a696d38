/*
 * The two clocks, read one way everywhere.
 *
 *   wall (CLOCK_REALTIME):  timestamps that leave the process (events, decisions,
 *                           database rows); can jump when the system clock is set.
 *   mono (CLOCK_MONOTONIC): deadlines, timeouts and durations; never jumps, counts
 *                           from an arbitrary start, so never store it.
 *
 * Truncated toward zero to the unit in the name, as tv_nsec / 1000 does (int64_t
 * nanoseconds since the epoch last until 2262). Header only:
 * the clock is read where it is needed and nothing is linked.
 */
#ifndef SY_CLOCK_H
#define SY_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t sy_clock_ns_(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Microseconds since the Unix epoch. */
static inline int64_t sy_clock_wall_us(void) { return sy_clock_ns_(CLOCK_REALTIME) / 1000; }
/* Milliseconds since the Unix epoch. */
static inline int64_t sy_clock_wall_ms(void) { return sy_clock_ns_(CLOCK_REALTIME) / 1000000; }

/* Monotonic nanoseconds, microseconds, milliseconds. */
static inline int64_t sy_clock_mono_ns(void) { return sy_clock_ns_(CLOCK_MONOTONIC); }
static inline int64_t sy_clock_mono_us(void) { return sy_clock_ns_(CLOCK_MONOTONIC) / 1000; }
static inline int64_t sy_clock_mono_ms(void) { return sy_clock_ns_(CLOCK_MONOTONIC) / 1000000; }

#endif
