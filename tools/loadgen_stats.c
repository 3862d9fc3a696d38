/*
 * switchyard loadgen, the run's statistics: counters keyed by a string (status,
 * cohort, model, ...) and latency samples with their quantiles, as report JSON.
 */
#include "tools/loadgen_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_count_add(lg_counts *c, const char *key, long by)
{
    for (int i = 0; i < c->nkeys; i++)
        if (!strcmp(c->key[i], key)) {
            c->n[i] += by;
            return;
        }
    if (c->nkeys == LG_MAX_KEYS || strlen(key) >= sizeof(c->key[0])) {
        c->other += by;
        return;
    }
    snprintf(c->key[c->nkeys], sizeof(c->key[0]), "%s", key);
    c->n[c->nkeys++] = by;
}

json_t *lg_count_json(const lg_counts *c)
{
    json_t *o = json_object();
    for (int i = 0; i < c->nkeys; i++)
        json_object_set_new(o, c->key[i], json_integer(c->n[i]));
    if (c->other)
        json_object_set_new(o, "other", json_integer(c->other));
    return o;
}

void lg_lat_add(lg_lat *l, long us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        long *t = realloc(l->v, cap * sizeof(*t));
        if (!t)
            return; /* a latency sample lost to memory pressure only skews the quantiles */
        l->v = t;
        l->cap = cap;
    }
    l->v[l->n++] = us;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

void lg_lat_sort(lg_lat *l)
{
    qsort(l->v, l->n, sizeof(long), cmp_long);
}

double lg_lat_q(lg_lat *l, double q)
{
    if (!l->n)
        return -1;
    size_t k = (size_t)ceil(q * (double)l->n);
    k = k ? k - 1 : 0;
    if (k >= l->n)
        k = l->n - 1;
    return (double)l->v[k] / 1000.0;
}

json_t *lg_ms_json(double ms)
{
    return ms < 0 ? json_null() : json_real(round(ms * 10) / 10);
}
