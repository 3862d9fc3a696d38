/*
 * h1client connections: the objects, each origin's pool of idle ones (most
 * recently used first, at most RT_H1_MAX_IDLE, closed by the janitor after
 * RT_H1_IDLE_TIMEOUT_MS or when the peer closes one), and the recycling of
 * closed ones once none of our callbacks is on the stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/h1client_internal.h"

#define CONN_FREELIST_MAX 256
#define JANITOR_MS 1000

/* ---------- callback depth and reaping ---------- */

void h1_reap(rt_h1 *h)
{
    while (h->dead) {
        h1_conn *k = h->dead;
        h->dead = k->next;
        if (h->nfree_conns < CONN_FREELIST_MAX) {
            k->next = h->free_conns;
            h->free_conns = k;
            h->nfree_conns++;
        } else {
            free(k);
        }
    }
}

/* ---------- connections ---------- */

void h1_idle_unlink(h1_conn *k)
{
    h1_origin *o = k->origin;
    if (k->prev)
        k->prev->next = k->next;
    else
        o->idle = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        o->idle_tail = k->prev;
    k->prev = k->next = NULL;
    o->nidle--;
    k->h->nidle--;
}

void h1_conn_close(h1_conn *k)
{
    rt_h1 *h = k->h;
    if (k->state == CONN_IDLE)
        h1_idle_unlink(k);
    h1_conn_reading(k, 0);
    h1_conn_writing(k, 0);
    close(k->fd);
    k->fd = -1;
    k->state = CONN_FREE;
    k->call = NULL;
    k->next = h->dead;
    h->dead = k;
    if (!h->depth)
        h1_reap(h);
}

h1_conn *h1_conn_new(rt_h1 *h, h1_origin *o, int fd)
{
    h1_conn *k = h->free_conns;
    if (k) {
        h->free_conns = k->next;
        h->nfree_conns--;
    } else if (!(k = malloc(sizeof(*k)))) {
        return NULL;
    }
    memset(k, 0, sizeof(*k));
    k->h = h;
    k->origin = o;
    k->fd = fd;
    event_assign(&k->rev, h->base, fd, EV_READ | EV_PERSIST, h1_conn_on_io, k);
    event_assign(&k->wev, h->base, fd, EV_WRITE | EV_PERSIST, h1_conn_on_io, k);
    return k;
}

/* A connection that finished its call: into the pool, or closed. */
void h1_conn_release(h1_conn *k, int reusable)
{
    rt_h1 *h = k->h;
    h1_origin *o = k->origin;
    if (!reusable) {
        h1_conn_close(k);
        return;
    }
    if (o->nidle >= RT_H1_MAX_IDLE)
        h1_conn_close(o->idle_tail); /* the least recently used goes */
    k->call = NULL;
    k->state = CONN_IDLE;
    k->idle_since_us = sy_clock_mono_us();
    h1_conn_writing(k, 0);
    h1_conn_reading(k, 1); /* an idle connection watches for the peer's close */
    k->prev = NULL;
    k->next = o->idle;
    if (o->idle)
        o->idle->prev = k;
    else
        o->idle_tail = k;
    o->idle = k;
    o->nidle++;
    h->nidle++;
    if (!h->janitor_on) {
        struct timeval tv = {JANITOR_MS / 1000, (JANITOR_MS % 1000) * 1000};
        evtimer_add(&h->janitor, &tv);
        h->janitor_on = 1;
    }
}

/* An idle connection became readable: the peer closed it, or sent what
 * nobody asked for. Either way it cannot carry another request. */
void h1_idle_readable(h1_conn *k)
{
    char buf[64];
    ssize_t n = recv(k->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    h1_conn_close(k);
}

void h1_on_janitor(evutil_socket_t fd, short what, void *arg)
{
    rt_h1 *h = arg;
    (void)fd;
    (void)what;
    h1_enter(h);
    int64_t old = sy_clock_mono_us() - (int64_t)RT_H1_IDLE_TIMEOUT_MS * 1000;
    for (h1_origin *o = h->origins; o; o = o->next)
        while (o->idle_tail && o->idle_tail->idle_since_us <= old)
            h1_conn_close(o->idle_tail);
    h->janitor_on = 0;
    if (h->nidle) {
        struct timeval tv = {JANITOR_MS / 1000, (JANITOR_MS % 1000) * 1000};
        evtimer_add(&h->janitor, &tv);
        h->janitor_on = 1;
    }
    h1_leave(h);
}
