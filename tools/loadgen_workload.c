/*
 * loadgen_workload: prompts, task mix, users, random numbers (see loadgen_workload.h).
 */
#include "tools/loadgen_workload.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_rng_seed(lg_rng *r, uint64_t seed) { r->s = seed; }

uint64_t lg_rng_next(lg_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double lg_rng_uniform(lg_rng *r) { return (double)(lg_rng_next(r) >> 11) * 0x1.0p-53; }

double lg_rng_exp(lg_rng *r, double rate) { return -log(1.0 - lg_rng_uniform(r)) / rate; }

/* ---------- prompts ---------- */

static int add_prompt(lg_prompts *p, wire_task t, const char *text)
{
    if (p->n[t] == p->cap[t]) {
        size_t cap = p->cap[t] ? p->cap[t] * 2 : 256;
        char **a = realloc(p->text[t], cap * sizeof(*a));
        if (!a)
            return -1;
        p->text[t] = a;
        p->cap[t] = cap;
    }
    char *s = strdup(text);
    if (!s)
        return -1;
    p->text[t][p->n[t]++] = s;
    return 0;
}

int lg_prompts_load(lg_prompts *p, const char *path, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = -1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        const char *text = json_string_value(json_object_get(o, "text"));
        const char *label = json_string_value(json_object_get(o, "label"));
        if (!json_is_object(o) || !text || !label || !*text) {
            snprintf(err, errlen,
                     "%s:%ld: expected a JSON object with string fields text and label", path,
                     lineno);
            json_decref(o);
            goto done;
        }
        wire_task t;
        if (wire_task_parse(label, &t)) {
            p->skipped++;
        } else if (add_prompt(p, t, text)) {
            snprintf(err, errlen, "%s:%ld: out of memory", path, lineno);
            json_decref(o);
            goto done;
        }
        json_decref(o);
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(f);
    if (rc)
        lg_prompts_free(p);
    return rc;
}

void lg_prompts_free(lg_prompts *p)
{
    for (int t = 0; t < WIRE_NTASKS; t++) {
        for (size_t i = 0; i < p->n[t]; i++)
            free(p->text[t][i]);
        free(p->text[t]);
        p->text[t] = NULL;
        p->n[t] = p->cap[t] = 0;
    }
}

/* ---------- mix ---------- */

int lg_mix_parse(lg_mix *m, const char *spec, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    int seen[WIRE_NTASKS] = {0};
    const char *p = spec;
    while (1) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (n == 0 || n >= sizeof(item)) {
            snprintf(err, errlen,
                     "expected TASK=WEIGHT[,TASK=WEIGHT...] with TASK one of simple, "
                     "code, reasoning, complex (got \"%s\")",
                     spec);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        wire_task t;
        if (!eq) {
            snprintf(err, errlen, "\"%s\": expected TASK=WEIGHT", item);
            return -1;
        }
        *eq = '\0';
        if (wire_task_parse(item, &t)) {
            snprintf(err, errlen, "unknown task type \"%s\" (use simple, code, reasoning, complex)",
                     item);
            return -1;
        }
        if (seen[t]) {
            snprintf(err, errlen, "task type \"%s\" given twice", item);
            return -1;
        }
        seen[t] = 1;
        char *vend;
        errno = 0;
        double w = strtod(eq + 1, &vend);
        if (errno || vend == eq + 1 || *vend || !(w >= 0) || w > 1e9) {
            snprintf(err, errlen, "%s: expected a weight of 0 or more (got \"%s\")", item, eq + 1);
            return -1;
        }
        m->w[t] = w;
        m->total += w;
        if (!end)
            break;
        p = end + 1;
    }
    if (!(m->total > 0)) {
        snprintf(err, errlen, "the weights must not all be 0");
        return -1;
    }
    return 0;
}

wire_task lg_mix_pick(const lg_mix *m, lg_rng *r)
{
    double x = lg_rng_uniform(r) * m->total;
    int last = 0;
    for (int t = 0; t < WIRE_NTASKS; t++) {
        if (m->w[t] <= 0)
            continue;
        last = t;
        if (x < m->w[t])
            return (wire_task)t;
        x -= m->w[t];
    }
    return (wire_task)last; /* rounding at the top end */
}

/* ---------- users ---------- */

int lg_users_init(lg_users *u, int n)
{
    u->n = n;
    u->cdf = malloc((size_t)n * sizeof(double));
    if (!u->cdf)
        return -1;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sum += 1.0 / (i + 1);
        u->cdf[i] = sum;
    }
    for (int i = 0; i < n; i++)
        u->cdf[i] /= sum;
    return 0;
}

int lg_users_pick(const lg_users *u, lg_rng *r)
{
    double x = lg_rng_uniform(r);
    int lo = 0, hi = u->n - 1;
    while (lo < hi) { /* first i with cdf[i] > x */
        int mid = lo + (hi - lo) / 2;
        if (u->cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void lg_users_free(lg_users *u)
{
    free(u->cdf);
    u->cdf = NULL;
}
