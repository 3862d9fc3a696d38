#include "router/breaker.h"

const char *rt_breaker_state_str(rt_breaker_state s)
{
    switch (s) {
    case RT_BREAKER_CLOSED: return "closed";
    case RT_BREAKER_OPEN: return "open";
    case RT_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}

int rt_breaker_allow(rt_breaker *b, int64_t now_us, int cooldown_ms)
{
    switch (b->state) {
    case RT_BREAKER_CLOSED:
        return 1;
    case RT_BREAKER_OPEN:
        if (now_us - b->opened_us < (int64_t)cooldown_ms * 1000)
            return 0;
        b->state = RT_BREAKER_HALF_OPEN;
        b->probe_inflight = 1;
        return 1;
    case RT_BREAKER_HALF_OPEN:
        if (b->probe_inflight)
            return 0;
        b->probe_inflight = 1;
        return 1;
    }
    return 0;
}

void rt_breaker_success(rt_breaker *b)
{
    b->state = RT_BREAKER_CLOSED;
    b->failures = 0;
    b->probe_inflight = 0;
}

void rt_breaker_failure(rt_breaker *b, int64_t now_us, int threshold)
{
    b->failures++;
    if (b->state == RT_BREAKER_HALF_OPEN || (b->state == RT_BREAKER_CLOSED && b->failures >= threshold)) {
        b->state = RT_BREAKER_OPEN;
        b->opened_us = now_us;
        b->opens++;
    }
    b->probe_inflight = 0;
}

void rt_breaker_release(rt_breaker *b)
{
    if (b->state == RT_BREAKER_HALF_OPEN)
        b->probe_inflight = 0;
}
