#include "router/expstate.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redisasync.h"
#include "common/redisdiscover.h"
#include "common/redisurl.h"
#include "router/redis.h"
#include "wire/keys.h"

struct forced {
    char user_hash[17];
    int cohort;
};

struct rt_expstate {
    struct event_base *base;
    rt_redis *reader;
    sy_redis_addr addr;
    char state_key[160], forced_key[160], channel[160];
    exp_state cur;
    struct forced *forced;
    size_t nforced;
    int64_t confirmed_us; /* monotonic time of the last successful read, 0: never */
    struct event *tick;
    redisAsyncContext *sub; /* subscriber connection */
    struct event *sub_retry;
    int sub_backoff_ms;
    int freeing;
};

static int cmp_forced(const void *a, const void *b)
{
    return strcmp(((const struct forced *)a)->user_hash, ((const struct forced *)b)->user_hash);
}

static void on_forced(redisReply *rep, void *arg)
{
    rt_expstate *s = arg;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return;
    size_t n = rep->elements / 2, k = 0;
    struct forced *f = n ? calloc(n, sizeof(*f)) : NULL;
    if (n && !f)
        return;
    for (size_t i = 0; i < n; i++) {
        redisReply *kr = rep->element[2 * i], *vr = rep->element[2 * i + 1];
        if (kr->type != REDIS_REPLY_STRING || vr->type != REDIS_REPLY_STRING || kr->len != 16)
            continue;
        int c = -1;
        for (int j = EXP_COHORT_HOLDOUT; j <= EXP_COHORT_SHADOW; j++)
            if (!strcmp(vr->str, exp_cohort_str((exp_cohort)j)))
                c = j;
        if (c < 0) {
            sy_log_kv(SY_WARN, "ignoring forced cohort", "user_hash", kr->str, "reason",
                      "unknown cohort", "cohort", vr->str, NULL);
            continue;
        }
        memcpy(f[k].user_hash, kr->str, 17);
        f[k].cohort = c;
        k++;
    }
    if (k)
        qsort(f, k, sizeof(*f), cmp_forced);
    if (k != s->nforced)
        sy_log(SY_INFO, "forced cohorts loaded", "users=%zu", k);
    free(s->forced);
    s->forced = f;
    s->nforced = k;
}

static void on_state(redisReply *rep, void *arg)
{
    rt_expstate *s = arg;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return;
    if (rep->elements == 0) { /* no state published: keep what we have */
        s->confirmed_us = sy_clock_mono_us();
        return;
    }
    size_t n = rep->elements / 2;
    const char **names = calloc(n, sizeof(char *));
    const char **values = calloc(n, sizeof(char *));
    if (!names || !values)
        goto out;
    for (size_t i = 0; i < n; i++) {
        names[i] = rep->element[2 * i]->type == REDIS_REPLY_STRING ? rep->element[2 * i]->str : "";
        values[i] =
            rep->element[2 * i + 1]->type == REDIS_REPLY_STRING ? rep->element[2 * i + 1]->str : "";
    }
    exp_state st;
    char err[256];
    if (exp_state_parse(names, values, n, &st, err, sizeof(err))) {
        sy_log_kv(SY_ERROR, "experiment state refused, keeping the last one", "key", s->state_key,
                  "reason", err, NULL);
        goto out;
    }
    s->confirmed_us = sy_clock_mono_us();
    if (st.version != s->cur.version || st.phase != s->cur.phase ||
        st.routed_bp != s->cur.routed_bp || st.held_back != s->cur.held_back) {
        sy_log(SY_INFO, "experiment state applied", "phase=%s routed_bp=%d holdout_bp=%d held_back=%u version=%llu",
               exp_phase_str(st.phase), st.routed_bp, st.holdout_bp, st.held_back,
               (unsigned long long)st.version);
    }
    s->cur = st;
out:
    free(names);
    free(values);
}

static void refresh(rt_expstate *s)
{
    if (rt_redis_hgetall(s->reader, s->state_key, on_state, s) == 0)
        (void)rt_redis_hgetall(s->reader, s->forced_key, on_forced, s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    refresh(arg);
}

/* ---- subscriber ---- */

static void sub_connect(rt_expstate *s);

static void sub_schedule(rt_expstate *s)
{
    if (s->freeing)
        return;
    struct timeval tv = {s->sub_backoff_ms / 1000, (s->sub_backoff_ms % 1000) * 1000};
    evtimer_add(s->sub_retry, &tv);
    s->sub_backoff_ms = s->sub_backoff_ms * 2 > 2000 ? 2000 : s->sub_backoff_ms * 2;
}

static void on_sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    rt_expstate *s = privdata;
    redisReply *rep = reply;
    (void)ac;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return;
    /* "subscribe" confirmations and "message" notices both warrant a read:
     * after (re)subscribing we may have missed a change. */
    refresh(s);
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    rt_expstate *s = ac->data;
    if (status != REDIS_OK) {
        s->sub = NULL;
        sub_schedule(s);
        return;
    }
    s->sub_backoff_ms = 100;
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    rt_expstate *s = ac->data;
    (void)status;
    s->sub = NULL;
    sub_schedule(s);
}

static void on_sub_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sub_connect(arg);
}

static void sub_connect(rt_expstate *s)
{
    /* a sentinel URL: the primary now, looked up with a short deadline (as router/redis.c) */
    if (sy_redis_locate(&s->addr, 200, "router-expstate") != 0) {
        sub_schedule(s);
        return;
    }
    char err[256];
    redisAsyncContext *ac = sy_redis_async_open(s->base, s->addr.host, s->addr.port, s->addr.user,
                                                s->addr.password, s, on_sub_connect,
                                                on_sub_disconnect, err, sizeof(err));
    if (!ac) {
        sub_schedule(s);
        return;
    }
    s->sub = ac;
    redisAsyncCommand(ac, on_sub_message, s, "SUBSCRIBE %s", s->channel);
}

rt_expstate *rt_expstate_new(struct event_base *base, rt_redis *reader, const sy_redis_addr *addr,
                       const char *experiment, const exp_state *initial, int refresh_ms)
{
    rt_expstate *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = base;
    s->reader = reader;
    s->addr = *addr;
    s->cur = *initial;
    s->sub_backoff_ms = 100;
    snprintf(s->state_key, sizeof(s->state_key), WIRE_KEY_STATE, experiment);
    snprintf(s->forced_key, sizeof(s->forced_key), WIRE_KEY_FORCED, experiment);
    snprintf(s->channel, sizeof(s->channel), WIRE_CHANNEL_STATE, experiment);
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    s->sub_retry = evtimer_new(base, on_sub_retry, s);
    if (!s->tick || !s->sub_retry) {
        rt_expstate_free(s);
        return NULL;
    }
    struct timeval tv = {refresh_ms / 1000, (refresh_ms % 1000) * 1000};
    event_add(s->tick, &tv);
    sub_connect(s);
    return s;
}

void rt_expstate_free(rt_expstate *s)
{
    if (!s)
        return;
    s->freeing = 1;
    if (s->sub)
        redisAsyncFree(s->sub);
    if (s->tick)
        event_free(s->tick);
    if (s->sub_retry)
        event_free(s->sub_retry);
    free(s->forced);
    free(s);
}

const exp_state *rt_expstate_current(const rt_expstate *s) { return &s->cur; }

int rt_expstate_forced(const rt_expstate *s, const char *user_hash)
{
    if (!s->nforced)
        return -1;
    struct forced key;
    memcpy(key.user_hash, user_hash, 17);
    const struct forced *f = bsearch(&key, s->forced, s->nforced, sizeof(*f), cmp_forced);
    return f ? f->cohort : -1;
}

int64_t rt_expstate_age_us(const rt_expstate *s)
{
    return s->confirmed_us ? sy_clock_mono_us() - s->confirmed_us : INT64_MAX;
}
