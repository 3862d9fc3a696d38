/*
 * Offline proof of the controller's decision core (experiments/decide.h).
 *
 * Simulates whole rollouts tick by tick: per-tick traffic split by the phase
 * plan, sparse feedback (5% of requests rated) that arrives with a random lag
 * and counts only once its attribution window has passed, and the real
 * exp_decide() on the phase's summed arms every tick. The same scenarios (same
 * seeds, same true rates) also go through a Flagger-style fixed-threshold rule:
 * every interval, the canary's thumbs-down rate and error rate over a trailing
 * window against an absolute bound, no data counting as a failed check, roll
 * back after 5 failed checks, advance on a timer.
 *
 *   A/A: the routed arm is identical to control -> any hold back / rollback /
 *        pause is a false action.
 *   A/B: thumbs-down 10% -> 13% on the routed arm -> detection.
 *
 * Usage: decision_sim [-n runs per scenario] [-s seed] [-t max ticks] [-v]
 *   -v prints the evidence JSON of every action exp_decide takes.
 * Results and the command: docs/benchmarks.md "Controller decisions".
 *
 * tests/unit/test_decision_sim.c includes this file with DECISION_SIM_NO_MAIN
 * to run a small batch under ctest.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/decide.h"
#include "experiments/stats.h"

/* ---- PRNG: xoshiro256**, seeded with splitmix64 ---- */

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in (0, 1) */
static double rng_u(sim_rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_gauss(sim_rng *r)
{
    return sqrt(-2 * log(rng_u(r))) * cos(2 * M_PI * rng_u(r));
}

/* Binomial(n, p): exact for small means (geometric waiting times between
 * successes), normal approximation once n min(p, 1-p) >= 40, where its error
 * is far below anything the tests resolve. */
static int64_t rng_binom(sim_rng *r, int64_t n, double p)
{
    if (n <= 0 || p <= 0)
        return 0;
    if (p >= 1)
        return n;
    if (p > 0.5)
        return n - rng_binom(r, n, 1 - p);
    double mean = (double)n * p;
    if (mean < 40) {
        double lq = log1p(-p);
        int64_t x = 0, pos = 0;
        for (;;) {
            double gap = floor(log(rng_u(r)) / lq) + 1; /* trials to the next success */
            if (gap > (double)(n - pos))
                return x;
            pos += (int64_t)gap;
            x++;
        }
    }
    double v = floor(mean + sqrt(mean * (1 - p)) * rng_gauss(r) + 0.5);
    if (v < 0)
        v = 0;
    if (v > (double)n)
        v = (double)n;
    return (int64_t)v;
}

/* counts[k] ~ Multinomial(n, p[0..k-1]) by conditional binomials */
static void rng_multinom(sim_rng *r, int64_t n, const double *p, int k, int64_t *counts)
{
    double rest = 1.0;
    for (int i = 0; i < k; i++) {
        if (i == k - 1 || rest <= 0) {
            counts[i] = i == k - 1 ? n : 0;
            continue;
        }
        double q = p[i] / rest;
        counts[i] = rng_binom(r, n, q > 1 ? 1 : q);
        n -= counts[i];
        rest -= p[i];
    }
}

/* ---- the world ---- */

#define SIM_MAX_PHASES 4
#define SIM_MAX_LAG 24 /* ticks: the attribution window at most */
#define SIM_NCOST 3

typedef struct sim_truth {
    double err;            /* error rate */
    double down;           /* thumbs-down rate among thumbs */
    double rating_p[5];    /* rating 1..5 */
    double lat_median_ms;  /* lognormal latency */
    double lat_sigma;
    double cost_p[SIM_NCOST];
} sim_truth;

static const double cost_values[SIM_NCOST] = {0.0004, 0.002, 0.012};

typedef struct sim_world {
    int64_t requests_per_tick;   /* this task type, both arms */
    int tick_s;
    int holdout_bp;
    double rated_share;          /* requests that get feedback (a thumb) */
    double rating_share;         /* of those, also a 1-5 rating */
    double lag_mean_s;           /* exponential feedback lag */
    int window_ticks;            /* attribution window, in ticks */
    int max_ticks;
    int nphases;
    exp_step plan[SIM_MAX_PHASES];
    sim_truth control, routed;
    double lat_p_c[EXP_LAT_BUCKETS], lat_p_t[EXP_LAT_BUCKETS];
    double lag_p[SIM_MAX_LAG + 1]; /* P(arrival in tick k after the request), k <= window */
    double in_window;            /* P(lag <= window) */
} sim_world;

static void lat_probs(const sim_truth *t, double *p)
{
    double mu = log(t->lat_median_ms * 1000.0), prev = 0;
    for (int i = 0; i < EXP_LAT_BUCKETS; i++) {
        double cdf = i < EXP_LAT_BUCKETS - 1
                         ? exp_phi((log((double)exp_lat_bounds_us[i]) - mu) / t->lat_sigma)
                         : 1.0;
        p[i] = cdf - prev;
        prev = cdf;
    }
}

static void world_finish(sim_world *w)
{
    lat_probs(&w->control, w->lat_p_c);
    lat_probs(&w->routed, w->lat_p_t);
    double prev = 0;
    for (int k = 0; k <= w->window_ticks && k <= SIM_MAX_LAG; k++) {
        double cdf = 1 - exp(-(double)(k + 1) * w->tick_s / w->lag_mean_s);
        w->lag_p[k] = cdf - prev;
        prev = cdf;
    }
    w->in_window = prev;
}

/* The default scenario: one task type, 4,000 requests a minute; 5-minute
 * ticks; 10% holdout; canary 5% -> ramp 25% -> ramp 50% -> full, each at
 * least 2 hours and 1,000 requests per arm; 5% of requests get a thumb (40%
 * of those also a rating) after an exponential lag of mean 20 minutes;
 * attribution window 1 hour (later feedback is dropped); 3 days at most. */
static void world_default(sim_world *w, int regress)
{
    static const sim_truth base = {
        .err = 0.01,
        .down = 0.10,
        .rating_p = {0.05, 0.05, 0.15, 0.35, 0.40},
        .lat_median_ms = 800,
        .lat_sigma = 0.7,
        .cost_p = {0.6, 0.3, 0.1},
    };
    static const int bp[SIM_MAX_PHASES] = {500, 2500, 5000, 10000};
    static const exp_phase kinds[SIM_MAX_PHASES] = {EXP_PHASE_CANARY, EXP_PHASE_RAMP,
                                                     EXP_PHASE_RAMP, EXP_PHASE_FULL};
    memset(w, 0, sizeof *w);
    w->requests_per_tick = 20000;
    w->tick_s = 300;
    w->holdout_bp = 1000;
    w->rated_share = 0.05;
    w->rating_share = 0.4;
    w->lag_mean_s = 1200;
    w->window_ticks = 12;
    w->max_ticks = 3 * 288;
    w->nphases = SIM_MAX_PHASES;
    for (int i = 0; i < SIM_MAX_PHASES; i++) {
        w->plan[i].kind = kinds[i];
        w->plan[i].routed_bp = bp[i];
        w->plan[i].min_duration_s = 7200;
        w->plan[i].min_samples = 1000;
    }
    w->control = base;
    w->routed = base;
    if (regress)
        w->routed.down = 0.13;
    world_finish(w);
}

/* ---- one tick of one arm ---- */

typedef struct sim_fb {        /* feedback of one tick's requests of one arm */
    int64_t n;
    int64_t thumbs, thumbs_down, ratings, rated;
    double rating_sum, rating_sq;
    int64_t down_at[SIM_MAX_LAG + 1]; /* arrivals by lag (ticks), within the window */
    int64_t up_at[SIM_MAX_LAG + 1];
} sim_fb;

static void gen_arm(sim_rng *r, const sim_world *w, const sim_truth *t, const double *lat_p,
                    int64_t n, exp_arm *all, sim_fb *fb)
{
    int64_t c[EXP_LAT_BUCKETS];
    memset(all, 0, sizeof *all);
    memset(fb, 0, sizeof *fb);
    all->n = n;
    all->errors = rng_binom(r, n, t->err);
    rng_multinom(r, n, lat_p, EXP_LAT_BUCKETS, all->latency_hist);
    rng_multinom(r, n, t->cost_p, SIM_NCOST, c);
    for (int i = 0; i < SIM_NCOST; i++) {
        all->cost_sum += (double)c[i] * cost_values[i];
        all->cost_sq += (double)c[i] * cost_values[i] * cost_values[i];
    }
    all->baseline_cost_sum = all->cost_sum;

    /* feedback that arrives within the attribution window; the rest is late */
    fb->n = n;
    fb->rated = rng_binom(r, n, w->rated_share * w->in_window);
    fb->thumbs = fb->rated;
    fb->thumbs_down = rng_binom(r, fb->thumbs, t->down);
    fb->ratings = rng_binom(r, fb->rated, w->rating_share);
    rng_multinom(r, fb->ratings, t->rating_p, 5, c);
    for (int v = 0; v < 5; v++) {
        fb->rating_sum += (double)c[v] * (v + 1);
        fb->rating_sq += (double)c[v] * (v + 1) * (v + 1);
    }
    double lp[SIM_MAX_LAG + 1];
    int k = w->window_ticks + 1;
    for (int i = 0; i < k; i++)
        lp[i] = w->lag_p[i] / w->in_window;
    rng_multinom(r, fb->thumbs_down, lp, k, fb->down_at);
    rng_multinom(r, fb->thumbs - fb->thumbs_down, lp, k, fb->up_at);
}

static void fb_add(exp_arm *q, const sim_fb *fb)
{
    q->n += fb->n;
    q->thumbs += fb->thumbs;
    q->thumbs_down += fb->thumbs_down;
    q->ratings += fb->ratings;
    q->rating_sum += fb->rating_sum;
    q->rating_sq += fb->rating_sq;
    q->rated += fb->rated;
}

/* ---- policies ---- */

typedef enum { POL_SEQ, POL_FLAGGER } sim_policy_kind;

typedef struct sim_policy {
    const char *name;
    sim_policy_kind kind;
    /* sequential: the guardrails given to exp_decide */
    const exp_guardrail *guardrails;
    int nguardrails;
    /* Flagger-style */
    int f_window_ticks;      /* metric query range */
    double f_max_down;       /* thumbs-down rate bound */
    double f_max_err;        /* error rate bound */
    int f_threshold;         /* failed checks before rollback */
    int f_nodata_fails;      /* Flagger: no metric value is a failed check */
} sim_policy;

typedef enum {
    OUT_COMPLETED,
    OUT_ROLLBACK,
    OUT_HOLD_BACK,
    OUT_PAUSE,
    OUT_HORIZON, /* still running when the simulation stopped */
    OUT_N
} sim_outcome;

typedef struct sim_result {
    sim_outcome outcome;
    int tick;                 /* when it ended */
    int phase;                /* phase index at the end */
    int64_t routed_n;         /* routed requests served until then */
    int64_t routed_thumbs;    /* thumbs given to routed requests served until then
                                 (arrived or not): the rated sample size */
    int warned;               /* a warn guardrail fired at some tick */
    int srm;                  /* the pause was a sample-ratio mismatch */
    exp_guard_metric metric;  /* the guardrail that acted (rollback / hold back / pause) */
} sim_result;

static int sim_verbose; /* -v: print the evidence of every action exp_decide takes */

#define FB_RING (SIM_MAX_LAG + 2) /* per-tick feedback cohorts, by tick */
#define F_RING 256                /* Flagger's per-tick canary metrics, by tick */

static sim_result sim_run(const sim_world *w, const sim_policy *pol, uint64_t seed)
{
    sim_rng r;
    sim_result res;
    exp_arm all[2], q[2], tick_all[2];
    static sim_fb ring[FB_RING][2]; /* single-threaded */
    int64_t f_thumbs[F_RING], f_down[F_RING], f_n[F_RING], f_err[F_RING];
    int phase = 0, phase_tick = 0, phase_start = 0, failed = 0;

    memset(&res, 0, sizeof res);
    rng_seed(&r, seed);
    memset(all, 0, sizeof all);
    memset(q, 0, sizeof q);
    memset(ring, 0, sizeof ring);
    memset(f_thumbs, 0, sizeof f_thumbs);
    memset(f_down, 0, sizeof f_down);
    memset(f_n, 0, sizeof f_n);
    memset(f_err, 0, sizeof f_err);

    for (int tick = 0; tick < w->max_ticks; tick++) {
        const exp_step *st = &w->plan[phase];
        double share = exp_expected_routed_share(w->holdout_bp, st->routed_bp);
        int64_t n_t = rng_binom(&r, w->requests_per_tick, share);
        int64_t n_c = w->requests_per_tick - n_t;
        sim_fb *fb = ring[tick % FB_RING];

        gen_arm(&r, w, &w->control, w->lat_p_c, n_c, &tick_all[0], &fb[0]);
        gen_arm(&r, w, &w->routed, w->lat_p_t, n_t, &tick_all[1], &fb[1]);
        exp_arm_add(&all[0], &tick_all[0]);
        exp_arm_add(&all[1], &tick_all[1]);
        res.routed_n += n_t;
        res.routed_thumbs += fb[1].thumbs;

        /* this phase's requests older than the attribution window: feedback is final */
        int mature = tick - w->window_ticks - 1;
        if (mature >= phase_start) {
            fb_add(&q[0], &ring[mature % FB_RING][0]);
            fb_add(&q[1], &ring[mature % FB_RING][1]);
        }
        /* Flagger sees feedback as it arrives, whatever the phase */
        int slot = tick % F_RING;
        f_thumbs[slot] = f_down[slot] = 0;
        f_n[slot] = n_t;
        f_err[slot] = tick_all[1].errors;
        for (int k = 0; k <= w->window_ticks && k <= tick; k++) {
            const sim_fb *src = &ring[(tick - k) % FB_RING][1];
            f_thumbs[slot] += src->down_at[k] + src->up_at[k];
            f_down[slot] += src->down_at[k];
        }

        double seconds = (double)(phase_tick + 1) * w->tick_s;
        int advance = 0;
        res.tick = tick;
        res.phase = phase;

        if (pol->kind == POL_SEQ) {
            exp_task_input ti;
            exp_tick_input in;
            exp_decision d;
            memset(&ti, 0, sizeof ti);
            ti.task = WIRE_TASK_SIMPLE;
            ti.control = all[0];
            ti.routed = all[1];
            ti.control_q = q[0];
            ti.routed_q = q[1];
            ti.expected_routed_share = share;
            memset(&in, 0, sizeof in);
            in.step = *st;
            in.seconds_in_phase = seconds;
            in.guardrails = pol->guardrails;
            in.nguardrails = pol->nguardrails;
            in.tasks = &ti;
            in.ntasks = 1;
            in.params = exp_decide_params_default();
            if (exp_decide(&in, &d) != 0) {
                fprintf(stderr, "decision_sim: exp_decide rejected its input\n");
                abort();
            }
            if (d.warn_mask)
                res.warned = 1;
            if (sim_verbose && (d.kind == EXP_DECISION_ROLLBACK || d.kind == EXP_DECISION_PAUSE ||
                                d.kind == EXP_DECISION_HOLD_BACK)) {
                char *js = exp_decision_json(&d);
                printf("seed %llu tick %d: %s\n", (unsigned long long)seed, tick, js ? js : "?");
                free(js);
            }
            const exp_task_decision *td = &d.tasks[0];
            if (td->guardrail >= 0)
                res.metric = pol->guardrails[td->guardrail].metric;
            switch (d.kind) {
            case EXP_DECISION_ROLLBACK: res.outcome = OUT_ROLLBACK; return res;
            case EXP_DECISION_HOLD_BACK: res.outcome = OUT_HOLD_BACK; return res;
            case EXP_DECISION_PAUSE:
                res.outcome = OUT_PAUSE;
                res.srm = td->verdict == EXP_VERDICT_PAUSE;
                return res;
            case EXP_DECISION_ADVANCE: advance = 1; break;
            case EXP_DECISION_HOLD: break;
            }
        } else {
            int64_t th = 0, dn = 0, nn = 0, er = 0;
            for (int k = 0; k < pol->f_window_ticks && k <= tick && k < F_RING; k++) {
                int s = (tick - k) % F_RING;
                th += f_thumbs[s];
                dn += f_down[s];
                nn += f_n[s];
                er += f_err[s];
            }
            int fail = 0;
            if (th == 0 || nn == 0)
                fail = pol->f_nodata_fails;
            else if ((double)dn / (double)th > pol->f_max_down ||
                     (double)er / (double)nn > pol->f_max_err)
                fail = 1;
            failed += fail;
            if (failed >= pol->f_threshold) {
                res.outcome = OUT_ROLLBACK;
                res.metric = th == 0 || (double)dn / (double)th > pol->f_max_down
                                 ? EXP_GM_THUMBS_DOWN_RATE
                                 : EXP_GM_ERROR_RATE;
                return res;
            }
            advance = seconds >= (double)st->min_duration_s;
        }

        if (advance) {
            if (phase + 1 >= w->nphases) {
                res.outcome = OUT_COMPLETED;
                return res;
            }
            phase++;
            phase_tick = 0;
            phase_start = tick + 1;
            memset(all, 0, sizeof all);
            memset(q, 0, sizeof q);
        } else {
            phase_tick++;
        }
    }
    res.outcome = OUT_HORIZON;
    res.tick = w->max_ticks;
    return res;
}

/* ---- batches and summaries ---- */

typedef struct sim_summary {
    int runs;
    int count[OUT_N];
    int warned;
    int srm;
    int by_metric[EXP_GM_N];  /* actions by guardrail metric (SRM pauses excluded) */
    double median_routed;     /* over runs with a blocking action */
    double median_thumbs;
    double median_hours;
    double median_done_hours; /* over completed runs */
} sim_summary;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int is_action(sim_outcome o)
{
    return o == OUT_ROLLBACK || o == OUT_HOLD_BACK || o == OUT_PAUSE;
}

static sim_summary sim_batch(const sim_world *w, const sim_policy *pol, int runs, uint64_t seed)
{
    sim_summary s;
    double *routed = calloc((size_t)runs + 1, sizeof(double));
    double *thumbs = calloc((size_t)runs + 1, sizeof(double));
    double *hours = calloc((size_t)runs + 1, sizeof(double));
    double *done = calloc((size_t)runs + 1, sizeof(double));
    int na = 0, nd = 0;

    memset(&s, 0, sizeof s);
    if (!routed || !thumbs || !hours || !done) {
        fprintf(stderr, "decision_sim: out of memory\n");
        abort();
    }
    s.runs = runs;
    for (int i = 0; i < runs; i++) {
        sim_result r = sim_run(w, pol, seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL);
        s.count[r.outcome]++;
        s.warned += r.warned;
        s.srm += r.srm;
        double h = (double)(r.tick + 1) * w->tick_s / 3600.0;
        if (is_action(r.outcome)) {
            if (!r.srm)
                s.by_metric[r.metric]++;
            routed[na] = (double)r.routed_n;
            thumbs[na] = (double)r.routed_thumbs;
            hours[na] = h;
            na++;
        } else if (r.outcome == OUT_COMPLETED) {
            done[nd++] = h;
        }
    }
    s.median_routed = median(routed, na);
    s.median_thumbs = median(thumbs, na);
    s.median_hours = median(hours, na);
    s.median_done_hours = median(done, nd);
    free(routed);
    free(thumbs);
    free(hours);
    free(done);
    return s;
}

static int sim_actions(const sim_summary *s)
{
    return s->count[OUT_ROLLBACK] + s->count[OUT_HOLD_BACK] + s->count[OUT_PAUSE];
}

/* The guardrails of the simulated experiment: the definition's defaults
 * (experiments/experiment.c) except thumbs-down, tightened to a 1-point margin
 * with rollback so a 3-point regression is worth catching. */
static void sim_guardrails(exp_guardrail *g, int *n, double margin_scale)
{
    static const struct {
        exp_guard_metric m;
        double margin;
        exp_guard_action a;
    } def[] = {
        {EXP_GM_THUMBS_DOWN_RATE, 0.01, EXP_GA_ROLLBACK},
        {EXP_GM_ERROR_RATE, 0.01, EXP_GA_ROLLBACK},
        {EXP_GM_LATENCY_P95_SHARE, 0.05, EXP_GA_HOLD_BACK_TASK},
        {EXP_GM_RATING, 0.2, EXP_GA_WARN},
        {EXP_GM_COST_PER_REQUEST, 0, EXP_GA_WARN},
    };
    *n = (int)(sizeof def / sizeof def[0]);
    for (int i = 0; i < *n; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].metric = def[i].m;
        g[i].margin = def[i].margin * margin_scale;
        g[i].alpha = 0.05;
        g[i].action = def[i].a;
        g[i].min_samples = 100;
        g[i].tasks = 0;
    }
}

static void flagger_policy(sim_policy *p, const char *name, int window_ticks, double max_down)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->kind = POL_FLAGGER;
    p->f_window_ticks = window_ticks;
    p->f_max_down = max_down;
    p->f_max_err = 0.02;
    p->f_threshold = 5;
    p->f_nodata_fails = 1;
}

#ifndef DECISION_SIM_NO_MAIN

#include <time.h>
#include <unistd.h>

static void print_row(const char *policy, const char *scen, const sim_summary *s)
{
    int a = sim_actions(s);
    exp_interval iv = exp_wilson(a, s->runs, 1.96);
    printf("| %-34s | %-3s | %5.1f%% [%4.1f, %4.1f] | %4d | %4d | %4d | %4d | %4d | %4d |", policy,
           scen, 100.0 * a / s->runs, 100 * iv.lower, 100 * iv.upper, s->count[OUT_ROLLBACK],
           s->count[OUT_HOLD_BACK], s->count[OUT_PAUSE], s->count[OUT_COMPLETED],
           s->count[OUT_HORIZON], s->warned);
    if (a)
        printf(" %9.0f | %6.0f | %5.1f |", s->median_routed, s->median_thumbs, s->median_hours);
    else
        printf(" %9s | %6s | %5s |", "-", "-", "-");
    if (s->count[OUT_COMPLETED])
        printf(" %5.1f |", s->median_done_hours);
    else
        printf(" %5s |", "-");
    printf(" %d/%d/%d/%d |\n", s->srm, s->by_metric[EXP_GM_THUMBS_DOWN_RATE],
           s->by_metric[EXP_GM_ERROR_RATE], s->by_metric[EXP_GM_LATENCY_P95_SHARE]);
}

int main(int argc, char **argv)
{
    int runs = 1000, opt;
    uint64_t seed = 20261128;
    int max_ticks = 0;
    while ((opt = getopt(argc, argv, "n:s:t:v")) != -1) {
        switch (opt) {
        case 'n': runs = atoi(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 't': max_ticks = atoi(optarg); break;
        case 'v': sim_verbose = 1; break;
        default:
            fprintf(stderr, "usage: %s [-n runs] [-s seed] [-t max_ticks] [-v]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;

    sim_world aa, ab;
    world_default(&aa, 0);
    world_default(&ab, 1);
    if (max_ticks > 0)
        aa.max_ticks = ab.max_ticks = max_ticks;

    exp_guardrail g_conf[EXP_MAX_GUARDRAILS], g_zero[EXP_MAX_GUARDRAILS];
    int ng_conf, ng_zero;
    sim_guardrails(g_conf, &ng_conf, 1.0);
    sim_guardrails(g_zero, &ng_zero, 0.0);

    sim_policy pols[5];
    memset(pols, 0, sizeof pols);
    pols[0] = (sim_policy){.name = "exp_decide, margins as configured", .kind = POL_SEQ,
                           .guardrails = g_conf, .nguardrails = ng_conf};
    pols[1] = (sim_policy){.name = "exp_decide, every margin 0 (stress)", .kind = POL_SEQ,
                           .guardrails = g_zero, .nguardrails = ng_zero};
    flagger_policy(&pols[2], "Flagger-style, 30 min, bound 12%", 6, 0.12);
    flagger_policy(&pols[3], "Flagger-style, 6 h, bound 12%", 72, 0.12);
    flagger_policy(&pols[4], "Flagger-style, 6 h, bound 14%", 72, 0.14);

    printf("decision_sim: %d A/A + %d A/B runs per policy, seed %llu, %d requests/tick, tick %d s,"
           " horizon %d ticks (%.0f h)\n",
           runs, runs, (unsigned long long)seed, (int)aa.requests_per_tick, aa.tick_s,
           aa.max_ticks, aa.max_ticks * aa.tick_s / 3600.0);
    printf("A/A: routed identical to control; A/B: thumbs-down 10%% -> 13%% on the routed arm\n\n");
    printf("| policy | run | actions (95%% CI) | rollback | hold back | pause | completed | "
           "running | warned | median routed req. to act | routed thumbs | hours | hours to "
           "complete | by srm/thumbs/errors/latency |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    clock_t t0 = clock();
    for (int p = 0; p < 5; p++) {
        sim_summary s_aa = sim_batch(&aa, &pols[p], runs, seed);
        print_row(pols[p].name, "A/A", &s_aa);
        sim_summary s_ab = sim_batch(&ab, &pols[p], runs, seed);
        print_row(pols[p].name, "A/B", &s_ab);
        fflush(stdout);
    }
    printf("\ncpu %.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return 0;
}

#endif
