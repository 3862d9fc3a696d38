#include "experiments/experiment.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/jsonerrs.h"

static const char *const metric_names[EXP_GM_N] = {
    "thumbs_down_rate", "rating", "error_rate", "latency_p95_share", "cost_per_request"};
static const char *const action_names[EXP_GA_N] = {"hold_back_task", "rollback", "pause",
                                                   "warn"};
static const char *const event_names[EXP_EV_N] = {
    "start", "advance", "hold",    "hold_back", "release", "rollback",
    "pause", "resume",  "promote", "complete",  "warn"};

#define METRIC_LIST "thumbs_down_rate, rating, error_rate, latency_p95_share, cost_per_request"
#define ACTION_LIST "hold_back_task, rollback, pause, warn"
#define EVENT_LIST                                                                                 \
    "start, advance, hold, hold_back, release, rollback, pause, resume, promote, complete, warn"
#define TASK_LIST "simple, code, reasoning, complex"

/* Defaults per metric: the allowed regression, the action, the largest margin
 * that makes sense in the metric's units. */
static const struct {
    double margin;
    exp_guard_action action;
    double max_margin;
} metric_defaults[EXP_GM_N] = {
    [EXP_GM_THUMBS_DOWN_RATE] = {0.02, EXP_GA_HOLD_BACK_TASK, 1},
    [EXP_GM_RATING] = {0.2, EXP_GA_WARN, 4},
    [EXP_GM_ERROR_RATE] = {0.01, EXP_GA_ROLLBACK, 1},
    [EXP_GM_LATENCY_P95_SHARE] = {0.05, EXP_GA_HOLD_BACK_TASK, 1},
    [EXP_GM_COST_PER_REQUEST] = {0, EXP_GA_WARN, 100},
};

/* The guardrails used when the "guardrails" key is absent, in this order. */
static const exp_guard_metric default_guardrails[] = {
    EXP_GM_THUMBS_DOWN_RATE, EXP_GM_ERROR_RATE, EXP_GM_LATENCY_P95_SHARE, EXP_GM_RATING,
    EXP_GM_COST_PER_REQUEST};

#define DEF_ALPHA 0.05
#define DEF_GUARD_MIN_SAMPLES 100
#define DEF_MIN_LABELS 50
#define DEF_ACCURACY_FLOOR 0.85
#define DEF_NOTIFY_TIMEOUT_MS 5000
#define DEF_NOTIFY_MAX_ATTEMPTS 5
#define DEF_ATTRIBUTION_WINDOW_S 86400
#define MAX_DURATION_S 31536000L /* a year */
#define MAX_COUNT 1000000000L
#define ALL_TASKS ((1u << WIRE_NTASKS) - 1u)

const char *exp_guard_metric_str(exp_guard_metric m)
{
    return (unsigned)m < EXP_GM_N ? metric_names[m] : "?";
}

const char *exp_guard_action_str(exp_guard_action a)
{
    return (unsigned)a < EXP_GA_N ? action_names[a] : "?";
}

const char *exp_event_str(exp_event ev)
{
    return (unsigned)ev < EXP_EV_N ? event_names[ev] : "?";
}

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

int exp_guard_metric_parse(const char *s, exp_guard_metric *out)
{
    int i = s ? find_name(metric_names, EXP_GM_N, s) : -1;
    if (i < 0)
        return -1;
    *out = (exp_guard_metric)i;
    return 0;
}

int exp_guard_action_parse(const char *s, exp_guard_action *out)
{
    int i = s ? find_name(action_names, EXP_GA_N, s) : -1;
    if (i < 0)
        return -1;
    *out = (exp_guard_action)i;
    return 0;
}

int exp_event_parse(const char *s, exp_event *out)
{
    int i = s ? find_name(event_names, EXP_EV_N, s) : -1;
    if (i < 0)
        return -1;
    *out = (exp_event)i;
    return 0;
}

int exp_experiment_step(const exp_experiment *x, int i, exp_phase *phase)
{
    if (!x || i < 0 || i >= x->nsteps)
        return -1;
    if (phase)
        *phase = x->steps[i].kind;
    return x->steps[i].routed_bp;
}

/* An integer in [lo, hi], or def when absent. */
static long get_int(exp_errs *e, json_t *obj, const char *path, const char *key, long def,
                    long lo, long hi)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return def;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        exp_errs_add(e, "%s.%s: must be an integer from %ld to %ld", path, key, lo, hi);
        return def;
    }
    return (long)json_integer_value(v);
}

/* Numbers are judged as the canonical text will store them (15 significant
 * digits), so a definition that validates also validates when read back:
 * 0.49999999999999994 is 0.5 for both. */
static double canon(double d)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.15g", d);
    return strtod(buf, NULL);
}

/* A number, or def when absent; *bad set when present but not a number. */
static double get_number(exp_errs *e, json_t *obj, const char *path, const char *key,
                         double def, int *bad)
{
    json_t *v = json_object_get(obj, key);
    *bad = 0;
    if (!v)
        return def;
    if (!json_is_number(v)) {
        exp_errs_add(e, "%s.%s: must be a number", path, key);
        *bad = 1;
        return def;
    }
    return canon(json_number_value(v));
}

/* ---- phases ---------------------------------------------------------------------------- */

static int step_kind_parse(const char *s, exp_phase *out)
{
    static const struct {
        const char *name;
        exp_phase kind;
    } kinds[] = {{"shadow", EXP_PHASE_SHADOW},
                 {"canary", EXP_PHASE_CANARY},
                 {"ramp", EXP_PHASE_RAMP},
                 {"full", EXP_PHASE_FULL}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(s, kinds[i].name)) {
            *out = kinds[i].kind;
            return 0;
        }
    return -1;
}

static void parse_phases(exp_errs *e, json_t *root, exp_experiment *x)
{
    static const char *const keys[] = {"kind",        "routed_pct", "min_duration_s", "min_samples",
                                       "min_labels", "accuracy_floor", NULL};
    json_t *arr = json_object_get(root, "phases");
    if (!arr) {
        exp_errs_add(e, "$.phases: required");
        return;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        exp_errs_add(e, "$.phases: must be a non-empty array of steps");
        return;
    }
    size_t n = json_array_size(arr);
    x->steps = calloc(n, sizeof(exp_step));
    if (!x->steps) {
        exp_errs_add(e, "$.phases: out of memory");
        return;
    }
    int seen_ramp = 0, seen_canary = 0;
    double prev_pct = -1; /* the previous canary/ramp step's routed_pct, -1 none */
    size_t i;
    json_t *st;
    json_array_foreach(arr, i, st) {
        char path[64];
        snprintf(path, sizeof(path), "$.phases[%zu]", i);
        exp_step *s = &x->steps[x->nsteps++];
        s->kind = EXP_PHASE_OFF; /* unknown until "kind" is read */
        if (!json_is_object(st)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        exp_check_keys(e, st, path, keys);
        json_t *k = json_object_get(st, "kind");
        if (!k)
            exp_errs_add(e, "%s.kind: required", path);
        else if (!json_is_string(k))
            exp_errs_add(e, "%s.kind: must be a string (shadow, canary, ramp, full)", path);
        else if (step_kind_parse(json_string_value(k), &s->kind))
            exp_errs_add(e, "%s.kind: unknown phase kind \"%s\" (shadow, canary, ramp, full)", path,
                    json_string_value(k));
        /* order */
        if (s->kind == EXP_PHASE_SHADOW && i > 0)
            exp_errs_add(e, "%s.kind: shadow must be the first step", path);
        if (s->kind == EXP_PHASE_CANARY && seen_canary)
            exp_errs_add(e, "%s.kind: only one canary step is allowed", path);
        else if (s->kind == EXP_PHASE_CANARY && seen_ramp)
            exp_errs_add(e, "%s.kind: canary must come before the ramp steps", path);
        if (s->kind == EXP_PHASE_FULL && i + 1 < n)
            exp_errs_add(e, "%s.kind: full must be the last step", path);
        if (i + 1 == n && s->kind != EXP_PHASE_FULL && s->kind != EXP_PHASE_OFF)
            exp_errs_add(e, "%s.kind: the last step must be full (got \"%s\")", path,
                    json_string_value(k));
        seen_canary |= s->kind == EXP_PHASE_CANARY;
        seen_ramp |= s->kind == EXP_PHASE_RAMP;

        /* routed share */
        json_t *rp = json_object_get(st, "routed_pct");
        int shares = s->kind == EXP_PHASE_CANARY || s->kind == EXP_PHASE_RAMP;
        s->routed_bp = s->kind == EXP_PHASE_FULL ? 10000 : 0;
        if (shares && !rp) {
            exp_errs_add(e, "%s.routed_pct: required for a %s step", path, json_string_value(k));
        } else if (rp && !shares && s->kind != EXP_PHASE_OFF) {
            exp_errs_add(e, "%s.routed_pct: only canary and ramp steps take a routed share", path);
        } else if (rp && shares) {
            double pct = json_is_number(rp) ? canon(json_number_value(rp)) : NAN;
            double bp = pct * 100.0;
            if (!json_is_number(rp)) {
                exp_errs_add(e, "%s.routed_pct: must be a number", path);
            } else if (!(pct > 0 && pct < 100)) {
                exp_errs_add(e, "%s.routed_pct: must be greater than 0 and less than 100", path);
            } else if (fabs(bp - (double)lround(bp)) > 1e-6) {
                exp_errs_add(e, "%s.routed_pct: at most two decimals (basis points)", path);
            } else {
                s->routed_bp = (int)lround(bp);
                if (prev_pct >= 0 && !(pct > prev_pct))
                    exp_errs_add(e, "%s.routed_pct: must increase from the previous step (%g -> %g)",
                            path, prev_pct, pct);
                prev_pct = pct;
            }
        }

        s->min_duration_s = get_int(e, st, path, "min_duration_s", 0, 0, MAX_DURATION_S);
        s->min_samples = get_int(e, st, path, "min_samples", 0, 0, MAX_COUNT);

        /* shadow extras */
        int shadow = s->kind == EXP_PHASE_SHADOW;
        s->min_labels = shadow ? DEF_MIN_LABELS : 0;
        s->accuracy_floor = shadow ? DEF_ACCURACY_FLOOR : 0;
        static const char *const extras[] = {"min_labels", "accuracy_floor"};
        for (int j = 0; j < 2; j++)
            if (!shadow && s->kind != EXP_PHASE_OFF && json_object_get(st, extras[j]))
                exp_errs_add(e, "%s.%s: only a shadow step takes %s", path, extras[j], extras[j]);
        if (shadow) {
            /* 0: no accuracy gate (no human labels are collected) */
            s->min_labels = get_int(e, st, path, "min_labels", DEF_MIN_LABELS, 0, MAX_COUNT);
            int bad;
            double fl = get_number(e, st, path, "accuracy_floor", DEF_ACCURACY_FLOOR, &bad);
            if (!bad && !(fl > 0 && fl <= 1))
                exp_errs_add(e, "%s.accuracy_floor: must be greater than 0 and at most 1", path);
            else
                s->accuracy_floor = fl;
        }
    }
}

/* ---- guardrails ------------------------------------------------------------------------ */

static void guardrail_default(exp_guardrail *g, exp_guard_metric m)
{
    g->metric = m;
    g->margin = metric_defaults[m].margin;
    g->alpha = DEF_ALPHA;
    g->action = metric_defaults[m].action;
    g->min_samples = DEF_GUARD_MIN_SAMPLES;
    g->tasks = ALL_TASKS;
}

static unsigned parse_tasks(exp_errs *e, json_t *arr, const char *path)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        exp_errs_add(e, "%s.tasks: must be a non-empty array of task types (" TASK_LIST ")", path);
        return ALL_TASKS;
    }
    unsigned mask = 0;
    size_t j;
    json_t *t;
    json_array_foreach(arr, j, t) {
        wire_task task;
        if (!json_is_string(t)) {
            exp_errs_add(e, "%s.tasks[%zu]: must be a string (" TASK_LIST ")", path, j);
            continue;
        }
        if (wire_task_parse(json_string_value(t), &task)) {
            exp_errs_add(e, "%s.tasks[%zu]: unknown task type \"%s\" (" TASK_LIST ")", path, j,
                    json_string_value(t));
            continue;
        }
        if (mask & (1u << task))
            exp_errs_add(e, "%s.tasks[%zu]: duplicate task type \"%s\"", path, j, wire_task_str(task));
        mask |= 1u << task;
    }
    return mask ? mask : ALL_TASKS;
}

static void parse_guardrail(exp_errs *e, json_t *gj, const char *path, exp_guardrail *g)
{
    static const char *const keys[] = {"metric", "margin",      "alpha", "action",
                                       "min_samples", "tasks", NULL};
    exp_check_keys(e, gj, path, keys);
    json_t *m = json_object_get(gj, "metric");
    exp_guard_metric metric = EXP_GM_THUMBS_DOWN_RATE;
    int known = 0;
    if (!m)
        exp_errs_add(e, "%s.metric: required", path);
    else if (!json_is_string(m))
        exp_errs_add(e, "%s.metric: must be a string (" METRIC_LIST ")", path);
    else if (exp_guard_metric_parse(json_string_value(m), &metric))
        exp_errs_add(e, "%s.metric: unknown metric \"%s\" (" METRIC_LIST ")", path,
                json_string_value(m));
    else
        known = 1;
    guardrail_default(g, metric);

    int bad;
    double margin = get_number(e, gj, path, "margin", g->margin, &bad);
    if (!bad && margin < 0)
        exp_errs_add(e, "%s.margin: must be at least 0", path);
    else if (!bad && known && margin > metric_defaults[metric].max_margin)
        exp_errs_add(e, "%s.margin: must be at most %g for %s", path, metric_defaults[metric].max_margin,
                metric_names[metric]);
    else if (!bad)
        g->margin = margin;

    double alpha = get_number(e, gj, path, "alpha", DEF_ALPHA, &bad);
    if (!bad && !(alpha > 0 && alpha < 0.5))
        exp_errs_add(e, "%s.alpha: must be greater than 0 and less than 0.5", path);
    else if (!bad)
        g->alpha = alpha;

    json_t *a = json_object_get(gj, "action");
    if (a && !json_is_string(a))
        exp_errs_add(e, "%s.action: must be a string (" ACTION_LIST ")", path);
    else if (a && exp_guard_action_parse(json_string_value(a), &g->action))
        exp_errs_add(e, "%s.action: unknown action \"%s\" (" ACTION_LIST ")", path,
                json_string_value(a));

    g->min_samples = get_int(e, gj, path, "min_samples", DEF_GUARD_MIN_SAMPLES, 1, MAX_COUNT);
    json_t *tasks = json_object_get(gj, "tasks");
    if (tasks)
        g->tasks = parse_tasks(e, tasks, path);
}

static void parse_guardrails(exp_errs *e, json_t *root, exp_experiment *x)
{
    json_t *arr = json_object_get(root, "guardrails");
    size_t n = arr && json_is_array(arr) ? json_array_size(arr)
                                         : sizeof(default_guardrails) / sizeof(default_guardrails[0]);
    x->guardrails = calloc(n ? n : 1, sizeof(exp_guardrail));
    if (!x->guardrails) {
        exp_errs_add(e, "$.guardrails: out of memory");
        return;
    }
    if (!arr) {
        for (size_t i = 0; i < n; i++)
            guardrail_default(&x->guardrails[x->nguardrails++], default_guardrails[i]);
        return;
    }
    if (!json_is_array(arr)) {
        exp_errs_add(e, "$.guardrails: must be an array");
        return;
    }
    size_t i;
    json_t *gj;
    json_array_foreach(arr, i, gj) {
        char path[64];
        snprintf(path, sizeof(path), "$.guardrails[%zu]", i);
        if (!json_is_object(gj)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        parse_guardrail(e, gj, path, &x->guardrails[x->nguardrails++]);
    }
}

/* ---- notifications --------------------------------------------------------------------- */

static void parse_webhook(exp_errs *e, json_t *wj, const char *path, exp_webhook *w)
{
    static const char *const keys[] = {"url", "secret_env", "events", NULL};
    exp_check_keys(e, wj, path, keys);
    json_t *u = json_object_get(wj, "url");
    if (!u)
        exp_errs_add(e, "%s.url: required", path);
    else if (!json_is_string(u) || (strncmp(json_string_value(u), "http://", 7) &&
                                    strncmp(json_string_value(u), "https://", 8)))
        exp_errs_add(e, "%s.url: must start with http:// or https://", path);
    else
        w->url = strdup(json_string_value(u));
    json_t *s = json_object_get(wj, "secret_env");
    if (s && (!json_is_string(s) || json_string_length(s) == 0))
        exp_errs_add(e, "%s.secret_env: must be a non-empty string", path);
    else if (s)
        w->secret_env = strdup(json_string_value(s));
    json_t *ev = json_object_get(wj, "events");
    w->events = EXP_EV_DEFAULT;
    if (!ev)
        return;
    if (!json_is_array(ev) || json_array_size(ev) == 0) {
        exp_errs_add(e, "%s.events: must be a non-empty array of events (" EVENT_LIST ")", path);
        return;
    }
    unsigned mask = 0;
    size_t j;
    json_t *v;
    json_array_foreach(ev, j, v) {
        exp_event x;
        if (!json_is_string(v)) {
            exp_errs_add(e, "%s.events[%zu]: must be a string (" EVENT_LIST ")", path, j);
            continue;
        }
        if (exp_event_parse(json_string_value(v), &x)) {
            exp_errs_add(e, "%s.events[%zu]: unknown event \"%s\" (" EVENT_LIST ")", path, j,
                    json_string_value(v));
            continue;
        }
        if (mask & (1u << x))
            exp_errs_add(e, "%s.events[%zu]: duplicate event \"%s\"", path, j, event_names[x]);
        mask |= 1u << x;
    }
    if (mask)
        w->events = mask;
}

static void parse_notifications(exp_errs *e, json_t *root, exp_experiment *x)
{
    static const char *const keys[] = {"webhooks", "timeout_ms", "max_attempts", NULL};
    exp_notifications *nt = &x->notifications;
    nt->timeout_ms = DEF_NOTIFY_TIMEOUT_MS;
    nt->max_attempts = DEF_NOTIFY_MAX_ATTEMPTS;
    json_t *o = json_object_get(root, "notifications");
    if (!o)
        return;
    if (!json_is_object(o)) {
        exp_errs_add(e, "$.notifications: must be an object");
        return;
    }
    exp_check_keys(e, o, "$.notifications", keys);
    nt->timeout_ms =
        (int)get_int(e, o, "$.notifications", "timeout_ms", DEF_NOTIFY_TIMEOUT_MS, 1, 600000);
    nt->max_attempts =
        (int)get_int(e, o, "$.notifications", "max_attempts", DEF_NOTIFY_MAX_ATTEMPTS, 1, 100);
    json_t *arr = json_object_get(o, "webhooks");
    if (!arr)
        return;
    if (!json_is_array(arr)) {
        exp_errs_add(e, "$.notifications.webhooks: must be an array");
        return;
    }
    nt->webhooks = calloc(json_array_size(arr) + 1, sizeof(exp_webhook));
    if (!nt->webhooks) {
        exp_errs_add(e, "$.notifications.webhooks: out of memory");
        return;
    }
    size_t i;
    json_t *wj;
    json_array_foreach(arr, i, wj) {
        char path[64];
        snprintf(path, sizeof(path), "$.notifications.webhooks[%zu]", i);
        if (!json_is_object(wj)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        parse_webhook(e, wj, path, &nt->webhooks[nt->nwebhooks++]);
    }
}

/* Top-level attribution_window_s: how long the controller waits after a
 * request before its feedback counts (quality guardrails read only requests
 * older than this). Defaults to the feedback section's window, after which
 * the router marks feedback late. A shorter wait is allowed (0: count at
 * once, for tests with compressed time) but biases quality toward the newest
 * requests, which during a ramp are mostly routed; a longer one is refused,
 * since feedback after the router's window is never counted anyway. */
static void parse_attribution(exp_errs *e, json_t *root, exp_experiment *x)
{
    json_t *fb = json_object_get(root, "feedback");
    json_t *fbw = json_is_object(fb) ? json_object_get(fb, "attribution_window_s") : NULL;
    long def = json_is_integer(fbw) ? (long)json_integer_value(fbw) : DEF_ATTRIBUTION_WINDOW_S;
    if (def < 1 || def > MAX_DURATION_S)
        def = DEF_ATTRIBUTION_WINDOW_S;
    x->attribution_window_s =
        (int)get_int(e, root, "$", "attribution_window_s", def, 0, MAX_DURATION_S);
    json_t *top = json_object_get(root, "attribution_window_s");
    if (json_is_integer(top) && json_is_integer(fbw) &&
        json_integer_value(top) > json_integer_value(fbw))
        exp_errs_add(e,
                "$.attribution_window_s: longer than $.feedback.attribution_window_s "
                "(%" JSON_INTEGER_FORMAT " > %" JSON_INTEGER_FORMAT "): feedback after the "
                "router's window is late and never counted",
                json_integer_value(top), json_integer_value(fbw));
}

/* ---- canonical text -------------------------------------------------------------------- */

/* The value of key in obj if present, else a new real/integer default. */
static json_t *value_or(json_t *obj, const char *key, json_t *def)
{
    json_t *v = json_object_get(obj, key);
    if (v) {
        json_decref(def);
        return json_deep_copy(v);
    }
    return def;
}

static json_t *canon_phases(json_t *root, const exp_experiment *x)
{
    static const char *const kinds[EXP_NPHASES] = {
        [EXP_PHASE_SHADOW] = "shadow", [EXP_PHASE_CANARY] = "canary",
        [EXP_PHASE_RAMP] = "ramp", [EXP_PHASE_FULL] = "full"};
    json_t *in = json_object_get(root, "phases");
    json_t *arr = json_array();
    for (int i = 0; i < x->nsteps; i++) {
        const exp_step *s = &x->steps[i];
        json_t *sj = json_array_get(in, (size_t)i);
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(kinds[s->kind]));
        if (s->kind == EXP_PHASE_CANARY || s->kind == EXP_PHASE_RAMP)
            json_object_set_new(o, "routed_pct", json_deep_copy(json_object_get(sj, "routed_pct")));
        json_object_set_new(o, "min_duration_s", json_integer(s->min_duration_s));
        json_object_set_new(o, "min_samples", json_integer(s->min_samples));
        if (s->kind == EXP_PHASE_SHADOW) {
            json_object_set_new(o, "min_labels", json_integer(s->min_labels));
            json_object_set_new(o, "accuracy_floor",
                                value_or(sj, "accuracy_floor", json_real(s->accuracy_floor)));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *tasks_array(unsigned mask)
{
    json_t *arr = json_array();
    for (int t = 0; t < WIRE_NTASKS; t++)
        if (mask & (1u << t))
            json_array_append_new(arr, json_string(wire_task_str((wire_task)t)));
    return arr;
}

static json_t *canon_guardrails(json_t *root, const exp_experiment *x)
{
    json_t *in = json_object_get(root, "guardrails");
    json_t *arr = json_array();
    for (int i = 0; i < x->nguardrails; i++) {
        const exp_guardrail *g = &x->guardrails[i];
        json_t *gj = in ? json_array_get(in, (size_t)i) : NULL;
        json_t *o = json_object();
        json_object_set_new(o, "metric", json_string(metric_names[g->metric]));
        json_object_set_new(o, "margin", value_or(gj, "margin", json_real(g->margin)));
        json_object_set_new(o, "alpha", value_or(gj, "alpha", json_real(g->alpha)));
        json_object_set_new(o, "action", json_string(action_names[g->action]));
        json_object_set_new(o, "min_samples", json_integer(g->min_samples));
        if (g->tasks != ALL_TASKS)
            json_object_set_new(o, "tasks", tasks_array(g->tasks));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *canon_notifications(const exp_experiment *x)
{
    const exp_notifications *nt = &x->notifications;
    json_t *hooks = json_array();
    for (int i = 0; i < nt->nwebhooks; i++) {
        const exp_webhook *w = &nt->webhooks[i];
        json_t *o = json_object();
        json_object_set_new(o, "url", json_string(w->url));
        if (w->secret_env)
            json_object_set_new(o, "secret_env", json_string(w->secret_env));
        json_t *ev = json_array();
        for (int k = 0; k < EXP_EV_N; k++)
            if (w->events & (1u << k))
                json_array_append_new(ev, json_string(event_names[k]));
        json_object_set_new(o, "events", ev);
        json_array_append_new(hooks, o);
    }
    return json_pack("{s:o, s:i, s:i}", "webhooks", hooks, "timeout_ms", nt->timeout_ms,
                     "max_attempts", nt->max_attempts);
}

/* Compact, sorted keys, the controller's sections with their defaults filled
 * in, literal client API keys redacted (the text is stored in PostgreSQL). */
static char *canonical_text(json_t *root, const exp_experiment *x)
{
    json_t *c = json_deep_copy(root);
    if (!c)
        return NULL;
    json_object_set_new(c, "phases", canon_phases(root, x));
    json_object_set_new(c, "guardrails", canon_guardrails(root, x));
    json_object_set_new(c, "notifications", canon_notifications(x));
    json_object_set_new(c, "attribution_window_s", json_integer(x->attribution_window_s));
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(c, "api_keys"), i, k) {
        if (json_object_get(k, "key"))
            json_object_set_new(k, "key", json_string("[redacted]"));
    }
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(c);
    return s;
}

/* ---- entry points ---------------------------------------------------------------------- */

int exp_experiment_parse(const char *json, size_t len, exp_experiment **out, char *err,
                         size_t errlen)
{
    exp_errs e = {err, errlen, 0, 0};
    json_error_t jerr;
    exp_experiment *x = NULL;
    json_t *root = NULL;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        exp_errs_add(&e, "$: invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        exp_errs_add(&e, "$: must be an object");
        goto fail;
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        exp_errs_add(&e, "$: out of memory");
        goto fail;
    }
    /* the shared sections: the config parser writes its errors first */
    if (exp_config_parse_opts(json, len, EXP_CONFIG_NO_API_KEYS, &x->config, err, errlen)) {
        e.n++;
        e.len = err && errlen ? strlen(err) : 0;
    }
    if (!json_object_get(root, "experiment"))
        exp_errs_add(&e, "$.experiment: required (the controller needs the experiment's name)");
    parse_phases(&e, root, x);
    parse_guardrails(&e, root, x);
    parse_notifications(&e, root, x);
    parse_attribution(&e, root, x);
    if (e.n)
        goto fail;
    x->canonical = canonical_text(root, x);
    if (!x->canonical) {
        exp_errs_add(&e, "$: out of memory");
        goto fail;
    }
    json_decref(root);
    *out = x;
    return 0;
fail:
    json_decref(root);
    exp_experiment_free(x);
    return -1;
}

void exp_experiment_free(exp_experiment *x)
{
    if (!x)
        return;
    exp_config_free(x->config);
    for (int i = 0; i < x->notifications.nwebhooks; i++) {
        free(x->notifications.webhooks[i].url);
        free(x->notifications.webhooks[i].secret_env);
    }
    free(x->notifications.webhooks);
    free(x->steps);
    free(x->guardrails);
    free(x->canonical);
    free(x);
}
