/*
 * jitter: how often this machine runs a fixed piece of work slowly.
 *
 *   jitter [SECONDS]        (default 5)
 *
 * Repeats one unit of pure CPU work (a dependent multiply chain, no memory, no
 * system calls) for SECONDS and times each unit with CLOCK_MONOTONIC. The fastest
 * unit is the machine's speed; every unit is reported as a ratio to it. On dedicated
 * hardware nearly all units take 1.0-1.1x; on a shared virtual machine some take 3x
 * or 10x, because the vCPU was descheduled or its core was shared with someone else.
 * Such stalls hit whatever runs at the moment (a proxy, the upstream, the load
 * generator) and set the floor under a latency benchmark's p99, so bench/router.sh
 * prints this next to its results. Run it alone for a reading of the machine.
 *
 * Prints one JSON object: unit_us (the fastest unit), units, and the share of units
 * that took at least 1.5x, 3x and 10x as long, and the slowest unit in microseconds.
 *
 * Build: cc -O2 -I. -o jitter bench/jitter.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"

static uint64_t now_ns(void) { return (uint64_t)sy_clock_mono_ns(); }

static volatile uint64_t sink;

static uint64_t unit(int n)
{
    uint64_t x = sink, t = now_ns();
    for (int i = 0; i < n; i++)
        x = x * 6364136223846793005u + 1442695040888963407u;
    sink = x;
    return now_ns() - t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 5;
    if (argc > 2 || !(secs > 0 && secs <= 3600)) {
        fprintf(stderr, "usage: jitter [SECONDS (0-3600, default 5)]\n");
        return 2;
    }
    const int n = 20000; /* about 20 us on a current x86 core */
    uint64_t *d = malloc(sizeof(*d) * (size_t)(secs * 1e6 / 5 + 16)), cnt = 0, best = UINT64_MAX;
    if (!d) {
        fprintf(stderr, "jitter: out of memory\n");
        return 1;
    }
    uint64_t end = now_ns() + (uint64_t)(secs * 1e9), cap = (uint64_t)(secs * 1e6 / 5 + 16);
    while (now_ns() < end && cnt < cap) {
        d[cnt] = unit(n);
        if (d[cnt] < best)
            best = d[cnt];
        cnt++;
    }
    uint64_t slow15 = 0, slow3 = 0, slow10 = 0, worst = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        slow15 += d[i] * 2 >= best * 3;
        slow3 += d[i] >= best * 3;
        slow10 += d[i] >= best * 10;
        if (d[i] > worst)
            worst = d[i];
    }
    printf("{\"seconds\":%.1f,\"unit_us\":%.1f,\"units\":%llu,\"share_ge_1_5x\":%.5f,"
           "\"share_ge_3x\":%.5f,\"share_ge_10x\":%.5f,\"slowest_us\":%.0f}\n",
           secs, best / 1e3, (unsigned long long)cnt, (double)slow15 / (double)cnt,
           (double)slow3 / (double)cnt, (double)slow10 / (double)cnt, worst / 1e3);
    free(d);
    return 0;
}
