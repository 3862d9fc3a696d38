#include "experiments/routing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[EXP_NMODES] = {"eco", "balanced", "sport"};
static const char *const phase_names[EXP_NPHASES] = {
    "off", "draft", "shadow", "canary", "ramp", "full", "completed", "paused", "rolled_back"};

const char *exp_mode_str(exp_mode m) { return m < EXP_NMODES ? mode_names[m] : "unknown"; }
const char *exp_phase_str(exp_phase p) { return p < EXP_NPHASES ? phase_names[p] : "unknown"; }

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int exp_mode_parse(const char *s, exp_mode *out)
{
    int i = lookup(s, mode_names, EXP_NMODES);
    if (i < 0)
        return -1;
    *out = (exp_mode)i;
    return 0;
}

int exp_phase_parse(const char *s, exp_phase *out)
{
    int i = lookup(s, phase_names, EXP_NPHASES);
    if (i < 0)
        return -1;
    *out = (exp_phase)i;
    return 0;
}

static int parse_bp(const char *v, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < 0 || x > EXP_BUCKETS)
        return -1;
    *out = (int)x;
    return 0;
}

int exp_state_parse(const char *const *names, const char *const *values, size_t n, exp_state *out,
                    char *err, size_t errlen)
{
    exp_state st;
    memset(&st, 0, sizeof(st));
    st.phase = EXP_PHASE_OFF;
    int have_phase = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = names[i], *v = values[i];
        if (!strcmp(k, "phase")) {
            if (exp_phase_parse(v, &st.phase)) {
                snprintf(err, errlen, "phase: unknown phase \"%s\"", v);
                return -1;
            }
            have_phase = 1;
        } else if (!strcmp(k, "routed_bp")) {
            if (parse_bp(v, &st.routed_bp)) {
                snprintf(err, errlen, "routed_bp: must be an integer from 0 to 10000");
                return -1;
            }
        } else if (!strcmp(k, "holdout_bp")) {
            if (parse_bp(v, &st.holdout_bp)) {
                snprintf(err, errlen, "holdout_bp: must be an integer from 0 to 10000");
                return -1;
            }
        } else if (!strcmp(k, "salt")) {
            if (!*v || strlen(v) >= sizeof(st.salt)) {
                snprintf(err, errlen, "salt: must be 1 to %d bytes", EXP_SALT_MAX - 1);
                return -1;
            }
            memcpy(st.salt, v, strlen(v) + 1);
        } else if (!strcmp(k, "held_back")) {
            /* comma-separated task types, possibly empty */
            const char *p = v;
            while (*p) {
                size_t len = strcspn(p, ",");
                char t[32];
                wire_task task;
                if (len == 0 || len >= sizeof(t)) {
                    snprintf(err, errlen, "held_back: malformed list \"%s\"", v);
                    return -1;
                }
                memcpy(t, p, len);
                t[len] = '\0';
                if (wire_task_parse(t, &task)) {
                    snprintf(err, errlen, "held_back: unknown task type \"%s\"", t);
                    return -1;
                }
                st.held_back |= 1u << task;
                p += len;
                if (*p == ',' && !*++p) {
                    snprintf(err, errlen, "held_back: malformed list \"%s\"", v);
                    return -1;
                }
            }
        } else if (!strcmp(k, "version")) {
            char *end;
            errno = 0;
            /* strtoull would take "-1" as 2^64-1 and skip leading spaces */
            unsigned long long ver = strtoull(v, &end, 10);
            if (*v < '0' || *v > '9' || errno || *end) {
                snprintf(err, errlen, "version: must be an unsigned integer");
                return -1;
            }
            st.version = ver;
        }
    }
    if (!have_phase) {
        snprintf(err, errlen, "phase: missing");
        return -1;
    }
    if (!st.salt[0]) {
        snprintf(err, errlen, "salt: missing");
        return -1;
    }
    *out = st;
    return 0;
}

exp_route exp_route_decide(const exp_state *st, int bucket, wire_task task, int forced)
{
    exp_route r = {EXP_COHORT_CONTROL, 0, 0};

    if (forced >= 0) {
        r.cohort = (exp_cohort)forced;
    } else if (exp_is_holdout(bucket, st->holdout_bp)) {
        r.cohort = EXP_COHORT_HOLDOUT;
        return r;
    } else {
        switch (st->phase) {
        case EXP_PHASE_SHADOW:
            r.cohort = EXP_COHORT_SHADOW;
            break;
        case EXP_PHASE_CANARY:
        case EXP_PHASE_RAMP:
            r.cohort = exp_is_routed(bucket, st->holdout_bp, st->routed_bp) ? EXP_COHORT_ROUTED
                                                                             : EXP_COHORT_CONTROL;
            break;
        case EXP_PHASE_FULL:
        case EXP_PHASE_COMPLETED:
            r.cohort = EXP_COHORT_ROUTED;
            break;
        default: /* off, draft, paused, rolled back: everyone on the default model */
            r.cohort = EXP_COHORT_CONTROL;
            break;
        }
    }
    /* Forced cohorts obey the same safety switches as everyone else. */
    int stopped = st->phase == EXP_PHASE_PAUSED || st->phase == EXP_PHASE_ROLLED_BACK ||
                  st->phase == EXP_PHASE_OFF || st->phase == EXP_PHASE_DRAFT;
    int held = (st->held_back >> task) & 1u;
    if (r.cohort == EXP_COHORT_ROUTED)
        r.serve_routed = !stopped && !held;
    if (r.cohort == EXP_COHORT_SHADOW)
        r.log_would_have = !stopped;
    return r;
}
