#include "router/rtredis.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/redisurl.h"

struct spooled {
    struct spooled *next;
    rt_redis *owner;
    size_t len;
    char *json;
};

struct rt_redis {
    struct event_base *base;
    sy_redis_addr addr;
    redisAsyncContext *ac;
    int connected;       /* connected and, if needed, authenticated */
    int command_timeout_ms;
    struct event *retry;
    int backoff_ms;
    struct spooled *head, *tail; /* waiting to be sent */
    size_t depth, max_queue, inflight;
    uint64_t dropped, spooled, dropped_logged;
    time_t last_drop_log;
    int freeing;
    /* hiredis 0.14 has no connect or command timeouts: a janitor enforces them */
    struct event *janitor;
    int64_t last_progress_us; /* connect started, or last reply received */
};

static const char user_script[] =
    "local new = redis.call('HSETNX', KEYS[1], 'seen:' .. ARGV[4], ARGV[1])\n"
    "redis.call('HSETNX', KEYS[1], 'first_seen_us', ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'bucket', ARGV[2], 'cohort', ARGV[3], 'last_seen_us', ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[1], 7776000000)\n"
    "if new == 1 then redis.call('HINCRBY', KEYS[2], ARGV[4] .. ':' .. ARGV[3], 1) end\n"
    "return new\n";

/* SHA1 of user_script in hex, for EVALSHA; computed once */
static char user_script_sha[2 * SHA_DIGEST_LENGTH + 1];

static void connect_now(rt_redis *r);

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static void flush_queue(rt_redis *r);

static void queue_push_front(rt_redis *r, struct spooled *s)
{
    s->next = r->head;
    r->head = s;
    if (!r->tail)
        r->tail = s;
    r->depth++;
}

static void log_drops(rt_redis *r)
{
    time_t now = time(NULL);
    if (r->dropped != r->dropped_logged && now != r->last_drop_log) {
        sy_log(SY_ERROR, "event queue full, events dropped", "dropped_total=%llu queue=%zu",
               (unsigned long long)r->dropped, r->depth);
        r->dropped_logged = r->dropped;
        r->last_drop_log = now;
    }
}

static void schedule_retry(rt_redis *r)
{
    if (r->freeing)
        return;
    struct timeval tv = {r->backoff_ms / 1000, (r->backoff_ms % 1000) * 1000};
    evtimer_add(r->retry, &tv);
    r->backoff_ms = r->backoff_ms * 2 > 2000 ? 2000 : r->backoff_ms * 2;
}

static void on_xadd(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct spooled *s = privdata;
    rt_redis *r = s->owner;
    redisReply *rep = reply;
    (void)ac;
    r->inflight--;
    r->last_progress_us = mono_us();
    if (rep && rep->type != REDIS_REPLY_ERROR) {
        r->spooled++;
        free(s->json);
        free(s);
        return;
    }
    /* not confirmed: keep it for the next connection */
    if (rep)
        sy_log_kv(SY_WARN, "event not spooled, will retry", "reason", rep->str, NULL);
    queue_push_front(r, s);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rt_redis *r = ac->data;
    if (status != REDIS_OK) {
        sy_log_kv(SY_WARN, "redis connect failed", "reason", ac->errstr, NULL);
        r->ac = NULL; /* hiredis frees the context after this callback */
        schedule_retry(r);
        return;
    }
    r->connected = 1;
    r->backoff_ms = 100;
    sy_log(SY_INFO, "redis connected", "host=%s port=%d", r->addr.host, r->addr.port);
    flush_queue(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rt_redis *r = ac->data;
    r->connected = 0;
    r->ac = NULL;
    if (r->freeing)
        return;
    sy_log_kv(SY_WARN, "redis disconnected", "reason", status == REDIS_OK ? "closed" : ac->errstr,
              NULL);
    schedule_retry(r);
}

/* Redis slow or unreachable: drop the connection so pending events are
 * requeued (their callbacks get NULL) and a fresh connection is tried. */
static void on_janitor(evutil_socket_t fd, short what, void *arg)
{
    rt_redis *r = arg;
    (void)fd;
    (void)what;
    if (!r->ac)
        return;
    int stuck = r->connected ? r->inflight > 0 : 1;
    if (!stuck || mono_us() - r->last_progress_us < (int64_t)r->command_timeout_ms * 1000)
        return;
    sy_log(SY_WARN, "redis not answering, reconnecting", "timeout_ms=%d inflight=%zu connected=%d",
           r->command_timeout_ms, r->inflight, r->connected);
    redisAsyncContext *ac = r->ac;
    int was_connected = r->connected;
    r->ac = NULL;
    r->connected = 0;
    redisAsyncFree(ac); /* pending callbacks run with NULL and requeue */
    if (!was_connected)
        schedule_retry(r); /* no disconnect callback for a connect that never finished */
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void connect_now(rt_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->addr.host, r->addr.port);
    if (!ac || ac->err) {
        sy_log_kv(SY_WARN, "redis connect failed", "reason", ac ? ac->errstr : "out of memory",
                  NULL);
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->last_progress_us = mono_us();
    /* Commands queued before the connection completes are sent in order once
     * it does, so AUTH and SELECT go first. */
    if (r->addr.password[0]) {
        if (r->addr.user[0])
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", r->addr.user, r->addr.password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", r->addr.password);
    }
    if (r->addr.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->addr.db);
    /* so that EVALSHA finds the script; a NOSCRIPT reply still falls back to EVAL */
    redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", user_script);
}

rt_redis *rt_redis_new(struct event_base *base, const sy_redis_addr *addr, size_t max_queue,
                       int command_timeout_ms)
{
    rt_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->base = base;
    r->addr = *addr;
    r->max_queue = max_queue;
    r->command_timeout_ms = command_timeout_ms;
    r->backoff_ms = 100;
    if (!user_script_sha[0]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)user_script, sizeof(user_script) - 1, md);
        for (size_t i = 0; i < sizeof(md); i++) {
            user_script_sha[2 * i] = hex[md[i] >> 4];
            user_script_sha[2 * i + 1] = hex[md[i] & 0xf];
        }
        user_script_sha[2 * sizeof(md)] = '\0';
    }
    r->retry = evtimer_new(base, on_retry, r);
    r->janitor = event_new(base, -1, EV_PERSIST, on_janitor, r);
    if (!r->retry || !r->janitor) {
        if (r->retry)
            event_free(r->retry);
        free(r);
        return NULL;
    }
    struct timeval jt = {0, 100000};
    event_add(r->janitor, &jt);
    connect_now(r);
    return r;
}

void rt_redis_free(rt_redis *r)
{
    if (!r)
        return;
    r->freeing = 1;
    if (r->ac)
        redisAsyncFree(r->ac); /* fails pending callbacks: they requeue */
    for (struct spooled *s = r->head, *n; s; s = n) {
        n = s->next;
        free(s->json);
        free(s);
    }
    event_free(r->retry);
    event_free(r->janitor);
    free(r);
}

int rt_redis_connected(const rt_redis *r) { return r->connected; }

static int send_event(rt_redis *r, struct spooled *s)
{
    if (redisAsyncCommand(r->ac, on_xadd, s, "XADD " RT_EVENTS_STREAM " * e %b", s->json,
                          s->len) != REDIS_OK)
        return -1;
    r->inflight++;
    return 0;
}

static void flush_queue(rt_redis *r)
{
    while (r->connected && r->head) {
        struct spooled *s = r->head;
        r->head = s->next;
        if (!r->head)
            r->tail = NULL;
        r->depth--;
        if (send_event(r, s)) {
            queue_push_front(r, s);
            break;
        }
    }
}

void rt_redis_spool_event(rt_redis *r, char *json, size_t len)
{
    struct spooled *s = malloc(sizeof(*s));
    if (!s) {
        free(json);
        r->dropped++;
        log_drops(r);
        return;
    }
    s->next = NULL;
    s->owner = r;
    s->json = json;
    s->len = len;
    if (r->connected && !r->head && send_event(r, s) == 0)
        return;
    if (r->depth >= r->max_queue) {
        free(json);
        free(s);
        r->dropped++;
        log_drops(r);
        return;
    }
    if (r->tail)
        r->tail->next = s;
    else
        r->head = s;
    r->tail = s;
    r->depth++;
}

/* The arguments of one user record, kept until EVALSHA's reply in case the
 * script is missing (NOSCRIPT) and the record must go again with EVAL. */
struct user_rec {
    rt_redis *r;
    long long ts_us;
    int bucket;
    char *ukey, *xkey, *cohort, *step_key; /* into buf */
    char buf[];
};

static void on_user_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct user_rec *u = privdata;
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ERROR && rep->str && !strncmp(rep->str, "NOSCRIPT", 8) &&
        u->r->ac == ac && u->r->connected)
        redisAsyncCommand(ac, NULL, NULL, "EVAL %s 2 %s %s %lld %d %s %s", user_script, u->ukey,
                          u->xkey, u->ts_us, u->bucket, u->cohort, u->step_key);
    free(u);
}

void rt_redis_record_user(rt_redis *r, const char *experiment, const char *user_hash, int bucket,
                          const char *cohort, const char *step_key, int64_t ts_us)
{
    if (!r->connected)
        return;
    char ukey[256], xkey[256];
    /* {experiment} is a hash tag: both keys land on one Redis Cluster slot */
    snprintf(ukey, sizeof(ukey), "sy:{%s}:user:%s", experiment, user_hash);
    snprintf(xkey, sizeof(xkey), "sy:{%s}:exposures", experiment);
    size_t ul = strlen(ukey) + 1, xl = strlen(xkey) + 1, cl = strlen(cohort) + 1,
           sl = strlen(step_key) + 1;
    struct user_rec *u = malloc(sizeof(*u) + ul + xl + cl + sl);
    if (!u) {
        redisAsyncCommand(r->ac, NULL, NULL, "EVAL %s 2 %s %s %lld %d %s %s", user_script, ukey,
                          xkey, (long long)ts_us, bucket, cohort, step_key);
        return;
    }
    u->r = r;
    u->ts_us = (long long)ts_us;
    u->bucket = bucket;
    u->ukey = memcpy(u->buf, ukey, ul);
    u->xkey = memcpy(u->ukey + ul, xkey, xl);
    u->cohort = memcpy(u->xkey + xl, cohort, cl);
    u->step_key = memcpy(u->cohort + cl, step_key, sl);
    if (redisAsyncCommand(r->ac, on_user_reply, u, "EVALSHA %s 2 %s %s %lld %d %s %s",
                          user_script_sha, ukey, xkey, u->ts_us, bucket, cohort,
                          step_key) != REDIS_OK)
        free(u);
}

struct read_ctx {
    rt_redis *r;
    rt_redis_reply_cb cb;
    void *arg;
};

static void on_read_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct read_ctx *rc = privdata;
    (void)ac;
    rc->r->inflight--;
    rc->r->last_progress_us = mono_us();
    rc->cb(reply, rc->arg);
    free(rc);
}

int rt_redis_hgetall(rt_redis *r, const char *key, rt_redis_reply_cb cb, void *arg)
{
    if (!r->connected)
        return -1;
    struct read_ctx *rc = malloc(sizeof(*rc));
    if (!rc)
        return -1;
    rc->r = r;
    rc->cb = cb;
    rc->arg = arg;
    if (redisAsyncCommand(r->ac, on_read_reply, rc, "HGETALL %s", key) != REDIS_OK) {
        free(rc);
        return -1;
    }
    r->inflight++;
    return 0;
}

size_t rt_redis_queue_depth(const rt_redis *r) { return r->depth; }
size_t rt_redis_inflight(const rt_redis *r) { return r->inflight; }
uint64_t rt_redis_dropped(const rt_redis *r) { return r->dropped; }
uint64_t rt_redis_spooled(const rt_redis *r) { return r->spooled; }
