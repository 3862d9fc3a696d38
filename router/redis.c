#include "router/redis.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/numfmt.h"
#include "common/redisasync.h"
#include "common/redisdiscover.h"
#include "common/redisurl.h"
#include "router/journal.h"
#include "router/seen.h"
#include "router/sentinel_watch.h"
#include "experiments/cohort.h"
#include "experiments/config.h"
#include "wire/keys.h"

/* Events are spooled in batches: one XADD per RT_BATCH_MAX events or
 * RT_BATCH_BYTES, or RT_BATCH_US after the batch's first event, whichever
 * comes first. At a few thousand requests a second this is tens of events per
 * command instead of one. 20 ms, not 5: at ~20 000 requests/s an XADD carries
 * ~380 events instead of ~95, which halved Redis's CPU per request (its fixed
 * cost per command and wake-up; docs/benchmarks.md, issue 17 "1b"); ingest waits
 * up to 200 ms between reads anyway. */
#define RT_BATCH_MAX 512
#define RT_BATCH_BYTES (1024u << 10)
#define RT_BATCH_US 20000
/* A redis+sentinel:// primary is looked up on the loop, blocking, before each connect:
 * each Sentinel connect and reply may take this long (see docs/architecture.md). */
#define RT_DISCOVER_MS 200
/* How often the stream's backlog (length, oldest entry) is read for /metrics. */
#define RT_PROBE_US 1000000

/* A batch of events, newline-separated, spooled as one stream entry (field b). */
struct spooled {
    struct spooled *next;
    rt_redis *owner;
    size_t len, cap;
    size_t n; /* events in it */
    int64_t first_us; /* wall clock of its first event */
    char *json;
    int xadd_failed; /* min_replicas: the XADD before the WAIT was refused or lost */
    int orphan;      /* min_replicas: no WAIT could be queued, the XADD's callback ends it */
    rt_jseg *seg;    /* --journal: the segment holding its events (NULL: none) */
};

struct rt_redis {
    struct event_base *base;
    sy_redis_addr addr;
    redisAsyncContext *ac;
    int connected;       /* connected and, if needed, authenticated */
    int command_timeout_ms;
    struct event *retry;
    int backoff_ms;
    struct spooled *head, *tail; /* closed batches waiting to be sent */
    struct spooled *open;        /* the batch being filled */
    struct event *flush;         /* closes the open batch RT_BATCH_US after its first event */
    struct event *resend;        /* min_replicas: tries the queue's head again */
    rt_sentinel_watch *watch;    /* redis+sentinel://: +switch-master (NULL otherwise) */
    time_t last_unrepl_log;
    size_t depth;                /* events waiting: queued batches and the open one */
    size_t max_queue;            /* bound on depth */
    size_t inflight;             /* commands sent, not yet answered */
    size_t events_inflight;      /* events in XADDs not yet confirmed */
    rt_seen *seen;               /* recently recorded users, NULL if out of memory */
    uint64_t dropped, spooled, dropped_logged;
    time_t last_drop_log;
    uint64_t records_skipped; /* user records not sent: out of memory, or not queued */
    time_t last_skip_log;
    int freeing;
    /* hiredis 0.14 has no connect or command timeouts: a janitor enforces them */
    struct event *janitor;
    int64_t last_progress_us; /* connect started, last reply received, or a command sent
                                 when none was waiting: the oldest wait started here */
    /* the stream's backlog, read every RT_PROBE_US (-1: unknown) */
    struct event *probe;
    int probing;
    int64_t spool_entries, spool_oldest_ms;
    rt_journal *journal; /* NULL without --journal */
};

/* The stream's length and the id of its oldest entry, without sending the entry's
 * events back (XRANGE alone would return up to 128 of them every second). */
static const char probe_script[] =
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "local id = first[1] and first[1][1] or ''\n"
    "return {redis.call('XLEN', KEYS[1]), id}\n";

/* The user record goes as plain commands, pipelined with whatever else the loop
 * iteration sends: HSETNX of the step's "seen:" field (its reply says whether the
 * user is new to the step), first_seen_us, bucket/cohort/last_seen_us and the TTL.
 * Only a user new to the step costs one more command, the exposure count. A Lua
 * script doing the same cost Redis ~12 us a call; these ~1 us each. */
#define RT_USER_TTL_MS "7776000000" /* 90 days */

static void connect_now(rt_redis *r);
static void on_flush(evutil_socket_t fd, short what, void *arg);
static void on_probe(evutil_socket_t fd, short what, void *arg);
static void sent_one(rt_redis *r);

static void flush_queue(rt_redis *r);
static int send_batch(rt_redis *r, struct spooled *s);

static void queue_push_front(rt_redis *r, struct spooled *s)
{
    s->next = r->head;
    r->head = s;
    if (!r->tail)
        r->tail = s;
    r->depth += s->n;
}

static void spooled_free(struct spooled *s)
{
    free(s->json);
    free(s);
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

/* An error reply saying this node is no longer the primary (a failover happened):
 * disconnect once the pending replies are in; the reconnect looks for the primary
 * through Sentinel again. */
static void drop_if_failover(rt_redis *r, redisAsyncContext *ac, const char *reply)
{
    if (!r->addr.nsentinels || ac != r->ac || !r->connected || !sy_redis_error_is_failover(reply))
        return;
    sy_log_kv(SY_WARN, "redis node is not the primary, looking again", "reason", reply, NULL);
    r->connected = 0; /* nothing new is sent to it; events queue meanwhile */
    redisAsyncDisconnect(ac);
}

/* The confirmation: the XADD's reply, or with min_replicas the WAIT's after it. */
static void on_xadd(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct spooled *s = privdata;
    rt_redis *r = s->owner;
    redisReply *rep = reply;
    r->inflight--;
    r->events_inflight -= s->n;
    r->last_progress_us = sy_clock_mono_us();
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (ok && r->addr.min_replicas) { /* the WAIT: how many replicas have it */
        ok = !s->xadd_failed && rep->type == REDIS_REPLY_INTEGER &&
             rep->integer >= r->addr.min_replicas;
        time_t now = time(NULL);
        if (!ok && !s->xadd_failed && now != r->last_unrepl_log) {
            r->last_unrepl_log = now;
            sy_log(SY_WARN, "events not replicated, will retry", "replicas=%lld min_replicas=%d",
                   rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1LL, r->addr.min_replicas);
        }
    }
    if (ok) {
        r->spooled += s->n;
        rt_jseg_done(s->seg);
        spooled_free(s);
        if (r->addr.min_replicas && r->head) /* replicas are back: the rest of the queue */
            flush_queue(r);
        return;
    }
    /* not confirmed: keep it for the next connection */
    if (rep && rep->type == REDIS_REPLY_ERROR)
        sy_log_kv(SY_WARN, "event not spooled, will retry", "reason", rep->str, NULL);
    queue_push_front(r, s);
    if (rep && rep->type == REDIS_REPLY_ERROR)
        drop_if_failover(r, ac, rep->str);
    /* min_replicas: the connection may stay up without replicas; try the head again soon */
    if (r->addr.min_replicas && r->connected && !evtimer_pending(r->resend, NULL)) {
        struct timeval tv = {0, 200000};
        evtimer_add(r->resend, &tv);
    }
}

/* min_replicas: the XADD's own reply (the WAIT's callback decides). */
static void on_xadd_sent(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct spooled *s = privdata;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        s->xadd_failed = 1;
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        sy_log_kv(SY_WARN, "event not spooled, will retry", "reason", rep->str, NULL);
        drop_if_failover(s->owner, ac, rep->str);
    }
    if (s->orphan)
        on_xadd(ac, NULL, s);
}

/* min_replicas: one batch from the queue's head; its success sends the rest. */
static void on_resend(evutil_socket_t fd, short what, void *arg)
{
    rt_redis *r = arg;
    (void)fd;
    (void)what;
    if (!r->connected || !r->head)
        return;
    struct spooled *s = r->head;
    r->head = s->next;
    if (!r->head)
        r->tail = NULL;
    r->depth -= s->n;
    if (send_batch(r, s))
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
    if (r->seen) /* a restarted Redis may have lost the records: write them again */
        rt_seen_clear(r->seen);
    sy_log(SY_INFO, "redis connected", "host=%s port=%d", r->addr.host, r->addr.port);
    flush_queue(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rt_redis *r = ac->data;
    r->connected = 0;
    r->ac = NULL;
    r->spool_entries = -1;
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
    if (!stuck || sy_clock_mono_us() - r->last_progress_us < (int64_t)r->command_timeout_ms * 1000)
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

static void on_probe_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rt_redis *r = privdata;
    redisReply *rep = reply;
    (void)ac;
    r->probing = 0;
    r->inflight--;
    if (!rep) { /* the connection went away: its callbacks run with NULL */
        r->spool_entries = -1;
        return;
    }
    r->last_progress_us = sy_clock_mono_us();
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        r->spool_entries = -1;
        return;
    }
    r->spool_entries = rep->element[0]->integer;
    /* an entry id is "<ms>-<seq>": the Redis server's clock when it was added */
    r->spool_oldest_ms = rep->element[1]->type == REDIS_REPLY_STRING && rep->element[1]->str
                             ? strtoll(rep->element[1]->str, NULL, 10)
                             : 0;
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
    rt_redis *r = arg;
    (void)fd;
    (void)what;
    if (!r->connected) {
        r->spool_entries = -1;
        return;
    }
    if (r->probing) /* the last one is still unanswered: the janitor deals with that */
        return;
    if (redisAsyncCommand(r->ac, on_probe_reply, r, "EVAL %s 1 %s", probe_script,
                          WIRE_EVENTS_STREAM) != REDIS_OK)
        return;
    r->probing = 1;
    sent_one(r);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void connect_now(rt_redis *r)
{
    if (sy_redis_locate(&r->addr, RT_DISCOVER_MS, "router") != 0) {
        schedule_retry(r);
        return;
    }
    char err[256];
    redisAsyncContext *ac = sy_redis_async_open(r->base, r->addr.host, r->addr.port, r->addr.user,
                                                r->addr.password, r, on_connect, on_disconnect,
                                                err, sizeof(err));
    if (!ac) {
        sy_log_kv(SY_WARN, "redis connect failed", "reason", err, NULL);
        schedule_retry(r);
        return;
    }
    r->ac = ac;
    r->last_progress_us = sy_clock_mono_us();
    /* AUTH is queued first; SELECT follows it (sent in order once connected) */
    if (r->addr.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->addr.db);
}

/* The Sentinels announced a new primary: leave the old one now (the reconnect looks the
 * primary up again and checks it with ROLE). */
static void on_switch(void *arg, const char *host, int port)
{
    rt_redis *r = arg;
    if (!r->ac || !r->connected || (!strcmp(host, r->addr.host) && port == r->addr.port))
        return;
    r->connected = 0; /* nothing new is sent to it; events queue meanwhile */
    redisAsyncDisconnect(r->ac);
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
    r->retry = evtimer_new(base, on_retry, r);
    r->janitor = event_new(base, -1, EV_PERSIST, on_janitor, r);
    r->flush = evtimer_new(base, on_flush, r);
    r->resend = evtimer_new(base, on_resend, r);
    r->probe = event_new(base, -1, EV_PERSIST, on_probe, r);
    r->spool_entries = -1;
    r->seen = rt_seen_new(); /* NULL: record every request */
    if (!r->retry || !r->janitor || !r->flush || !r->probe || !r->resend) {
        if (r->retry)
            event_free(r->retry);
        if (r->janitor)
            event_free(r->janitor);
        if (r->flush)
            event_free(r->flush);
        if (r->probe)
            event_free(r->probe);
        if (r->resend)
            event_free(r->resend);
        rt_seen_free(r->seen);
        free(r);
        return NULL;
    }
    struct timeval jt = {0, 100000};
    event_add(r->janitor, &jt);
    struct timeval pt = {RT_PROBE_US / 1000000, RT_PROBE_US % 1000000};
    event_add(r->probe, &pt);
    connect_now(r);
    r->watch = rt_sentinel_watch_new(base, addr, on_switch, r);
    if (addr->nsentinels && !r->watch)
        sy_log(SY_WARN, "no +switch-master watch (out of memory): failovers are found by "
               "the failing connection", NULL);
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
        rt_jseg_keep(s->seg);
        spooled_free(s);
    }
    rt_journal_close(r->journal, !r->open || !r->open->n);
    if (r->open)
        spooled_free(r->open);
    rt_seen_free(r->seen);
    event_free(r->flush);
    event_free(r->retry);
    event_free(r->janitor);
    event_free(r->probe);
    event_free(r->resend);
    rt_sentinel_watch_free(r->watch);
    free(r);
}

int rt_redis_connected(const rt_redis *r) { return r->connected; }

/* A command was sent. The janitor's clock runs from the oldest unanswered command:
 * after a quiet spell the last reply is old, and a command sent now is not late. */
static void sent_one(rt_redis *r)
{
    if (r->inflight++ == 0)
        r->last_progress_us = sy_clock_mono_us();
}

static int send_batch(rt_redis *r, struct spooled *s)
{
    int wait = r->addr.min_replicas > 0;
    s->xadd_failed = 0;
    s->orphan = 0;
    if (redisAsyncCommand(r->ac, wait ? on_xadd_sent : on_xadd, s,
                          "XADD " WIRE_EVENTS_STREAM " * b %b", s->json, s->len) != REDIS_OK)
        return -1;
    /* WAIT blocks this connection until the replicas have it (or half the command timeout,
     * so that the janitor does not take a missing replica for a dead primary) */
    int wait_ms = r->command_timeout_ms / 2 > 0 ? r->command_timeout_ms / 2 : 1;
    if (wait && redisAsyncCommand(r->ac, on_xadd, s, "WAIT %d %d", r->addr.min_replicas,
                                  wait_ms) != REDIS_OK)
        s->orphan = 1;
    sent_one(r);
    r->events_inflight += s->n;
    return 0;
}

static void flush_queue(rt_redis *r)
{
    while (r->connected && r->head) {
        struct spooled *s = r->head;
        r->head = s->next;
        if (!r->head)
            r->tail = NULL;
        r->depth -= s->n;
        if (send_batch(r, s)) {
            queue_push_front(r, s);
            break;
        }
    }
}

/* The open batch is complete: send it, or queue it behind the others. */
static void close_batch(rt_redis *r)
{
    struct spooled *s = r->open;
    if (!s)
        return;
    r->open = NULL;
    evtimer_del(r->flush);
    if (r->journal)
        rt_jseg_hold(r->journal, s->seg);
    r->depth -= s->n;
    if (r->connected && !r->head && send_batch(r, s) == 0)
        return;
    s->next = NULL;
    if (r->tail)
        r->tail->next = s;
    else
        r->head = s;
    r->tail = s;
    r->depth += s->n;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    close_batch(arg);
}

void rt_redis_spool_event(rt_redis *r, char *json, size_t len)
{
    if (r->depth >= r->max_queue)
        goto drop;
    rt_jseg *seg = NULL;
    if (r->journal) { /* on disk before the answer leaves (it is written after this) */
        seg = rt_journal_append(r->journal, json, len);
        if (seg && r->open && r->open->seg && r->open->seg != seg)
            close_batch(r); /* a batch lies in one segment */
    }
    struct spooled *s = r->open;
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            goto drop;
        s->owner = r;
        s->first_us = sy_clock_wall_us();
        r->open = s;
        struct timeval tv = {0, RT_BATCH_US};
        evtimer_add(r->flush, &tv);
    }
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len + 1)
            cap *= 2;
        char *p = realloc(s->json, cap);
        if (!p)
            goto drop;
        s->json = p;
        s->cap = cap;
    }
    if (s->n)
        s->json[s->len++] = '\n';
    if (!s->seg)
        s->seg = seg;
    memcpy(s->json + s->len, json, len);
    s->len += len;
    s->n++;
    r->depth++;
    free(json);
    if (s->n >= RT_BATCH_MAX || s->len >= RT_BATCH_BYTES)
        close_batch(r);
    return;
drop:
    free(json);
    r->dropped++;
    log_drops(r);
}

static int send_argv(rt_redis *r, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *lens);

/* What the exposure count needs once HSETNX has said the user is new to the step,
 * and the HSETNX's own field (any step key length: nothing is cut or skipped). */
struct user_rec {
    rt_redis *r;
    char *xkey, *field, *seen; /* into buf: sy:{exp}:exposures, "<step key>:<cohort>",
                                  "seen:<step key>" */
    char buf[];
};

/* A user record not sent (the user is recorded by its next request once the
 * recently-seen entry expires): counted, logged at most once a second. */
static void log_skipped(rt_redis *r, const char *reason)
{
    time_t now = time(NULL);
    r->records_skipped++;
    if (now != r->last_skip_log) {
        sy_log(SY_ERROR, "user record skipped", "reason=%s skipped_total=%llu", reason,
               (unsigned long long)r->records_skipped);
        r->last_skip_log = now;
    }
}

/* A user new to the step is counted once, whichever process or replica saw it
 * first: HSETNX answers 1 to exactly one of them. Lost only if the connection
 * drops between this reply and the HINCRBY (for every cohort alike). */
static void on_seen_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct user_rec *u = privdata;
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ERROR)
        drop_if_failover(u->r, ac, rep->str);
    else if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 && u->r->ac == ac &&
             u->r->connected) {
        const char *a[] = {"HINCRBY", u->xkey, u->field, "1"};
        const size_t l[] = {7, strlen(u->xkey), strlen(u->field), 1};
        (void)send_argv(u->r, NULL, NULL, 4, a, l);
    }
    free(u);
}

/* Was this user recorded with this step and cohort less than RT_SEEN_US ago by
 * this process? Remembers it if not (the caller records it now). */
static int seen_recently(rt_redis *r, const char *experiment, const char *user_hash,
                         const char *cohort, const char *step_key, int bucket, int64_t ts_us)
{
    if (!r->seen)
        return 0;
    uint64_t h = exp_hash64(experiment, strlen(experiment), 0x5359u);
    h = exp_hash64(user_hash, strlen(user_hash), h);
    h = exp_hash64(cohort, strlen(cohort), h);
    h = exp_hash64(step_key, strlen(step_key), h ^ (uint64_t)bucket);
    return rt_seen_check(r->seen, h, ts_us);
}

/* One command, formatted here as RESP into a stack buffer: hiredis's own
 * formatting (redisvFormatCommand) costs about six allocations a command, and the
 * user record is four commands. Longer commands go through hiredis's argv path. */
size_t rt_redis_format_argv(char *buf, size_t cap, int argc, const char **argv,
                            const size_t *lens)
{
    size_t need = 1 + SY_FMT_INT_MAX + 2;
    for (int i = 0; i < argc; i++)
        need += 1 + SY_FMT_INT_MAX + 2 + lens[i] + 2;
    if (need > cap)
        return 0;
    char *w = buf;
    *w++ = '*';
    w += sy_fmt_i64(w, argc);
    *w++ = '\r';
    *w++ = '\n';
    for (int i = 0; i < argc; i++) {
        *w++ = '$';
        w += sy_fmt_i64(w, (int64_t)lens[i]);
        *w++ = '\r';
        *w++ = '\n';
        memcpy(w, argv[i], lens[i]);
        w += lens[i];
        *w++ = '\r';
        *w++ = '\n';
    }
    return (size_t)(w - buf);
}

static int send_argv(rt_redis *r, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *lens)
{
    char buf[RT_REDIS_CMD_MAX];
    size_t n = rt_redis_format_argv(buf, sizeof(buf), argc, argv, lens);
    if (!n)
        return redisAsyncCommandArgv(r->ac, cb, priv, argc, argv, lens);
    return redisAsyncFormattedCommand(r->ac, cb, priv, buf, n);
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The user key's parts are bounded by validation: the experiment name by the config
 * (EXP_NAME_MAX), the user hash is 16 hex digits. The step key and cohort are copied
 * into the malloc'd record whatever their length. */
#define RT_KEY_MAX 256
_Static_assert(sizeof(WIRE_KEY_USER) + EXP_NAME_MAX + 16 <= RT_KEY_MAX,
               "an experiment name of EXP_NAME_MAX bytes must fit the user key");

void rt_redis_record_user(rt_redis *r, const char *experiment, const char *user_hash, int bucket,
                          const char *cohort, const char *step_key, int64_t ts_us)
{
    if (!r->connected)
        return;
    if (seen_recently(r, experiment, user_hash, cohort, step_key, bucket, ts_us))
        return;
    char ukey[RT_KEY_MAX], xkey[RT_KEY_MAX];
    /* {experiment} is a hash tag: both keys land on one Redis Cluster slot */
    int ukl = snprintf(ukey, sizeof(ukey), WIRE_KEY_USER, experiment, user_hash);
    int xkl = snprintf(xkey, sizeof(xkey), WIRE_KEY_EXPOSURES, experiment);
    if (ukl < 0 || xkl < 0 || (size_t)ukl >= sizeof(ukey) || (size_t)xkl >= sizeof(xkey)) {
        log_skipped(r, "key_too_long"); /* not with a validated config (see above) */
        return;
    }
    size_t xl = (size_t)xkl + 1, sl = strlen(step_key), cl = strlen(cohort) + 1;
    size_t seenl = 5 + sl;
    struct user_rec *u = malloc(sizeof(*u) + xl + sl + 1 + cl + seenl);
    if (!u) {
        log_skipped(r, "out_of_memory");
        return;
    }
    u->r = r;
    u->xkey = memcpy(u->buf, xkey, xl);
    u->field = u->xkey + xl;
    memcpy(u->field, step_key, sl);
    u->field[sl] = ':';
    memcpy(u->field + sl + 1, cohort, cl);
    u->seen = u->field + sl + 1 + cl;
    memcpy(u->seen, "seen:", 5);
    memcpy(u->seen + 5, step_key, sl);
    char ts[SY_FMT_INT_MAX + 1], bk[SY_FMT_INT_MAX + 1];
    size_t tl = (size_t)sy_fmt_i64(ts, ts_us), bl = (size_t)sy_fmt_i64(bk, bucket);
    const char *a1[] = {"HSETNX", ukey, u->seen, ts};
    const size_t l1[] = {6, (size_t)ukl, seenl, tl};
    if (send_argv(r, on_seen_reply, u, ARGC(a1), a1, l1) != REDIS_OK) {
        free(u);
        log_skipped(r, "not_queued");
        return;
    }
    const char *a2[] = {"HSETNX", ukey, "first_seen_us", ts};
    const size_t l2[] = {6, (size_t)ukl, 13, tl};
    (void)send_argv(r, NULL, NULL, ARGC(a2), a2, l2);
    const char *a3[] = {"HSET", ukey, "bucket", bk, "cohort", cohort, "last_seen_us", ts};
    const size_t l3[] = {4, (size_t)ukl, 6, bl, 6, cl - 1, 12, tl};
    (void)send_argv(r, NULL, NULL, ARGC(a3), a3, l3);
    const char *a4[] = {"PEXPIRE", ukey, RT_USER_TTL_MS};
    const size_t l4[] = {7, (size_t)ukl, sizeof(RT_USER_TTL_MS) - 1};
    (void)send_argv(r, NULL, NULL, ARGC(a4), a4, l4);
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
    rc->r->last_progress_us = sy_clock_mono_us();
    rc->cb(reply, rc->arg);
    free(rc);
}

static struct read_ctx *read_ctx_new(rt_redis *r, rt_redis_reply_cb cb, void *arg)
{
    if (!r->connected)
        return NULL;
    struct read_ctx *rc = malloc(sizeof(*rc));
    if (!rc)
        return NULL;
    rc->r = r;
    rc->cb = cb;
    rc->arg = arg;
    return rc;
}

static int read_sent(rt_redis *r, struct read_ctx *rc, int status)
{
    if (status != REDIS_OK) {
        free(rc);
        return -1;
    }
    sent_one(r);
    return 0;
}

int rt_redis_hgetall(rt_redis *r, const char *key, rt_redis_reply_cb cb, void *arg)
{
    struct read_ctx *rc = read_ctx_new(r, cb, arg);
    if (!rc)
        return -1;
    return read_sent(r, rc, redisAsyncCommand(r->ac, on_read_reply, rc, "HGETALL %s", key));
}

int rt_redis_getex(rt_redis *r, const char *key, int ttl_s, rt_redis_reply_cb cb, void *arg)
{
    struct read_ctx *rc = read_ctx_new(r, cb, arg);
    if (!rc)
        return -1;
    return read_sent(r, rc,
                     redisAsyncCommand(r->ac, on_read_reply, rc, "GETEX %s EX %d", key, ttl_s));
}

void rt_redis_set_ex(rt_redis *r, const char *key, const char *value, int ttl_s)
{
    if (r->connected)
        redisAsyncCommand(r->ac, NULL, NULL, "SET %s %s EX %d", key, value, ttl_s);
}

size_t rt_redis_queue_depth(const rt_redis *r) { return r->depth; }

int64_t rt_redis_queue_age_us(const rt_redis *r, int64_t now_us)
{
    int64_t first = INT64_MAX;
    for (const struct spooled *s = r->head; s; s = s->next) /* requeued ones go first */
        if (s->first_us < first)
            first = s->first_us;
    if (r->open && r->open->first_us < first)
        first = r->open->first_us;
    return first == INT64_MAX || first > now_us ? 0 : now_us - first;
}

int rt_redis_spool_backlog(const rt_redis *r, int64_t *entries, int64_t *oldest_ms)
{
    if (r->spool_entries < 0)
        return -1;
    *entries = r->spool_entries;
    *oldest_ms = r->spool_oldest_ms;
    return 0;
}
size_t rt_redis_inflight(const rt_redis *r) { return r->events_inflight; }
uint64_t rt_redis_dropped(const rt_redis *r) { return r->dropped; }
uint64_t rt_redis_spooled(const rt_redis *r) { return r->spooled; }

/* A replayed group: queued behind what is already waiting, sent on connect. */
static void on_replayed(void *arg, rt_jseg *seg, char *json, size_t len, size_t n)
{
    rt_redis *r = arg;
    struct spooled *s = calloc(1, sizeof(*s));
    if (!s) { /* the segment stays on disk for the next start */
        free(json);
        rt_jseg_keep(seg);
        return;
    }
    s->owner = r;
    s->json = json;
    s->len = s->cap = len;
    s->n = n;
    s->seg = seg;
    s->first_us = sy_clock_wall_us();
    if (r->tail)
        r->tail->next = s;
    else
        r->head = s;
    r->tail = s;
    r->depth += n;
}

long rt_redis_attach_journal(rt_redis *r, rt_journal *j)
{
    r->journal = j;
    long n = rt_journal_replay(j, RT_BATCH_MAX, on_replayed, r);
    flush_queue(r); /* nothing unless connected already */
    return n;
}
