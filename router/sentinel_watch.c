#include "router/sentinel_watch.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redisasync.h"
#include "common/redisurl.h"

#define RETRY_MS 1000

struct rt_sentinel_watch {
    struct event_base *base;
    sy_redis_addr addr;
    rt_switch_fn fn;
    void *arg;
    redisAsyncContext *ac;
    struct event *retry;
    int next; /* the Sentinel to try next */
    int freeing;
};

int rt_parse_switch_master(const char *msg, const char *master, char *host, size_t hostlen,
                           int *port)
{
    char name[128], old_ip[256], new_ip[256];
    int old_port, new_port;
    char tail;
    if (!msg || sscanf(msg, "%127s %255s %d %255s %d %c", name, old_ip, &old_port, new_ip,
                       &new_port, &tail) != 5)
        return -1;
    if (strcmp(name, master) || new_port < 1 || new_port > 65535 || strlen(new_ip) >= hostlen)
        return -1;
    memcpy(host, new_ip, strlen(new_ip) + 1);
    *port = new_port;
    return 0;
}

static void watch_connect(rt_sentinel_watch *w);

static void schedule(rt_sentinel_watch *w)
{
    if (w->freeing)
        return;
    struct timeval tv = {RETRY_MS / 1000, (RETRY_MS % 1000) * 1000};
    evtimer_add(w->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    watch_connect(arg);
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    rt_sentinel_watch *w = privdata;
    redisReply *r = reply;
    (void)ac;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    char host[256];
    int port;
    if (rt_parse_switch_master(r->element[2]->str, w->addr.master, host, sizeof(host), &port))
        return;
    sy_log(SY_WARN, "sentinel announced a new primary", "master=%s host=%s port=%d",
           w->addr.master, host, port);
    w->fn(w->arg, host, port);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rt_sentinel_watch *w = ac->data;
    if (status != REDIS_OK) {
        w->ac = NULL; /* hiredis frees it after this callback */
        schedule(w);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rt_sentinel_watch *w = ac->data;
    (void)status;
    w->ac = NULL;
    schedule(w);
}

static void watch_connect(rt_sentinel_watch *w)
{
    const sy_redis_node *s = &w->addr.sentinel[w->next];
    w->next = (w->next + 1) % w->addr.nsentinels;
    char err[256];
    redisAsyncContext *ac = sy_redis_async_open(w->base, s->host, s->port, w->addr.sentinel_user,
                                                w->addr.sentinel_password, w, on_connect,
                                                on_disconnect, err, sizeof(err));
    if (!ac) {
        schedule(w);
        return;
    }
    w->ac = ac;
    redisAsyncCommand(ac, on_message, w, "SUBSCRIBE +switch-master");
}

rt_sentinel_watch *rt_sentinel_watch_new(struct event_base *base, const sy_redis_addr *a,
                                         rt_switch_fn fn, void *arg)
{
    if (!a->nsentinels)
        return NULL;
    rt_sentinel_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->base = base;
    w->addr = *a;
    w->fn = fn;
    w->arg = arg;
    w->retry = evtimer_new(base, on_retry, w);
    if (!w->retry) {
        free(w);
        return NULL;
    }
    watch_connect(w);
    return w;
}

void rt_sentinel_watch_free(rt_sentinel_watch *w)
{
    if (!w)
        return;
    w->freeing = 1;
    if (w->ac)
        redisAsyncFree(w->ac);
    event_free(w->retry);
    free(w);
}
