#include "common/redisasync.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Our own libevent adapter, not hiredis's adapters/libevent.h: that one registers
 * one-shot events, so every reply costs an EPOLL_CTL_DEL and an EPOLL_CTL_ADD of the
 * read event and every command batch an add and a delete of the write event (4
 * epoll_ctl and often one more epoll_wait per round trip, seen with strace).
 *
 * Here the read event persists from attach to cleanup. A command appended on a
 * connected context is written without waiting for the socket to say it is writable:
 * addWrite activates `flush`, which runs once, after the callbacks already due in this
 * loop iteration (libevent runs events activated while it works through its active
 * queue in the same pass), so everything an iteration queues goes out in one write().
 * Only when that write is short (the socket's buffer full), or while the connection is
 * still being made, does the real write event wait for EPOLLOUT.
 */
typedef struct {
    redisAsyncContext *ac;
    struct event *rev, *wev, *flush;
    int in_flush; /* on_flush is running: an addWrite now means the write was short */
    int freed;    /* cleanup ran inside on_flush: on_flush frees */
} sy_redis_ev;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redisAsyncHandleRead(((sy_redis_ev *)arg)->ac);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redisAsyncHandleWrite(((sy_redis_ev *)arg)->ac);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    sy_redis_ev *e = arg;
    (void)fd;
    (void)what;
    e->in_flush = 1;
    redisAsyncHandleWrite(e->ac); /* a write error frees the context, and cleanup runs */
    if (e->freed)
        free(e);
    else
        e->in_flush = 0;
}

static void add_read(void *p)
{
    sy_redis_ev *e = p;
    if (!event_pending(e->rev, EV_READ, NULL))
        event_add(e->rev, NULL);
}

static void del_read(void *p)
{
    event_del(((sy_redis_ev *)p)->rev);
}

static void add_write(void *p)
{
    sy_redis_ev *e = p;
    if (event_pending(e->wev, EV_WRITE, NULL))
        return;
    if (e->in_flush || !(e->ac->c.flags & REDIS_CONNECTED)) {
        event_add(e->wev, NULL);
        return;
    }
    if (!event_pending(e->flush, EV_TIMEOUT, NULL)) /* pending includes active */
        event_active(e->flush, EV_TIMEOUT, 1);
}

static void del_write(void *p)
{
    sy_redis_ev *e = p;
    event_del(e->wev);
    event_del(e->flush);
}

static void free_events(sy_redis_ev *e)
{
    struct event *evs[] = {e->rev, e->wev, e->flush};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i]) /* NULL only when attach failed halfway */
            event_free(evs[i]);
}

static void cleanup(void *p)
{
    sy_redis_ev *e = p;
    free_events(e);
    if (e->in_flush)
        e->freed = 1;
    else
        free(e);
}

static int attach(redisAsyncContext *ac, struct event_base *base)
{
    sy_redis_ev *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->ac = ac;
    e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, on_read, e);
    e->wev = event_new(base, ac->c.fd, EV_WRITE | EV_PERSIST, on_write, e);
    e->flush = event_new(base, -1, 0, on_flush, e);
    if (!e->rev || !e->wev || !e->flush) {
        free_events(e);
        free(e);
        return -1;
    }
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    event_add(e->rev, NULL);
    event_add(e->wev, NULL); /* the connect completes when the socket is writable */
    return 0;
}

redisAsyncContext *sy_redis_async_open(struct event_base *base, const char *host, int port,
                                       const char *user, const char *password, void *data,
                                       redisConnectCallback *on_connect,
                                       redisDisconnectCallback *on_disconnect, char *err,
                                       size_t errlen)
{
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        snprintf(err, errlen, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    if (attach(ac, base)) {
        snprintf(err, errlen, "out of memory");
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (password[0]) {
        if (user[0])
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", user, password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", password);
    }
    return ac;
}
