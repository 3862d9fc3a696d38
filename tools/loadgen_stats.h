/*
 * switchyard loadgen, the run's statistics (loadgen_stats.c): string-keyed counters
 * and latency samples, and their JSON for the progress lines and the report.
 */
#ifndef SY_LOADGEN_STATS_H
#define SY_LOADGEN_STATS_H

#include <jansson.h>
#include <stddef.h>

#define LG_MAX_KEYS 64 /* distinct values per counter map, then "other" */

typedef struct lg_counts {
    char key[LG_MAX_KEYS][64];
    long n[LG_MAX_KEYS];
    int nkeys;
    long other;
} lg_counts;

/* Adds by to key's count; past LG_MAX_KEYS keys (or a key of 64 bytes) to "other". */
void lg_count_add(lg_counts *c, const char *key, long by);
/* {"key": n, ..., "other": n}, a new reference. */
json_t *lg_count_json(const lg_counts *c);

/* latencies in microseconds */
typedef struct lg_lat {
    long *v;
    size_t n, cap;
} lg_lat;

void lg_lat_add(lg_lat *l, long us);
/* Sorts the samples; lg_lat_q() reads them sorted. */
void lg_lat_sort(lg_lat *l);
/* quantile q of the sorted samples in ms; -1 when empty */
double lg_lat_q(lg_lat *l, double q);
/* ms rounded to 0.1, or null for a negative (empty) value. */
json_t *lg_ms_json(double ms);

#endif
