/*
 * curlev: see curlev.h.
 *
 * Ownership: the curlev owns the multi handle, its timer and the per-socket
 * state (struct sock, one per socket curl watches, on the free list once curl
 * is done with the socket). The easy handles and their completions are the
 * callers'.
 */
#include "common/curlev.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

/* per-socket state for curl's socket callback */
struct sock {
    struct event ev;
    short kind;        /* what ev waits for */
    struct sock *next; /* in the curlev's free list */
};

struct sy_curlev {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct sock *idle_socks;
};

/* Every transfer that ended: out of the multi, then its completion. */
static void check_done(sy_curlev *ev)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(ev->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        sy_curlev_xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(ev->multi, easy);
        x->on_done(easy, rc, x->arg);
    }
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    sy_curlev *ev = arg;
    int running;
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(ev->multi, fd, flags, &running);
    check_done(ev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    sy_curlev *ev = arg;
    int running;
    (void)fd;
    (void)what;
    curl_multi_socket_action(ev->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(ev);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    sy_curlev *ev = userp;
    struct sock *sk = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            /* this may run inside sk's own event callback: keep the memory */
            event_del(&sk->ev);
            sk->next = ev->idle_socks;
            ev->idle_socks = sk;
            curl_multi_assign(ev->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!sk) {
        sk = ev->idle_socks;
        if (sk)
            ev->idle_socks = sk->next;
        else if (!(sk = malloc(sizeof(*sk))))
            return -1;
        curl_multi_assign(ev->multi, s, sk);
    } else if (sk->kind == kind) {
        return 0;
    } else {
        event_del(&sk->ev);
    }
    sk->kind = kind;
    event_assign(&sk->ev, ev->base, s, kind, on_sock_event, ev);
    event_add(&sk->ev, NULL);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    sy_curlev *ev = userp;
    (void)m;
    if (timeout_ms < 0) {
        evtimer_del(ev->timer);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(ev->timer, &tv);
    }
    return 0;
}

sy_curlev *sy_curlev_new(struct event_base *base, long maxconnects)
{
    sy_curlev *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    ev->base = base;
    ev->multi = curl_multi_init();
    ev->timer = evtimer_new(base, on_timer, ev);
    if (!ev->multi || !ev->timer) {
        sy_curlev_free(ev);
        return NULL;
    }
    curl_multi_setopt(ev->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(ev->multi, CURLMOPT_SOCKETDATA, ev);
    curl_multi_setopt(ev->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(ev->multi, CURLMOPT_TIMERDATA, ev);
    curl_multi_setopt(ev->multi, CURLMOPT_MAXCONNECTS, maxconnects);
    return ev;
}

void sy_curlev_free(sy_curlev *ev)
{
    if (!ev)
        return;
    if (ev->multi)
        curl_multi_cleanup(ev->multi); /* may still call sock_cb and timer_cb */
    while (ev->idle_socks) {
        struct sock *sk = ev->idle_socks;
        ev->idle_socks = sk->next;
        free(sk);
    }
    if (ev->timer)
        event_free(ev->timer);
    free(ev);
}

CURLMcode sy_curlev_add(sy_curlev *ev, CURL *easy, sy_curlev_xfer *x)
{
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    return curl_multi_add_handle(ev->multi, easy);
}

void sy_curlev_remove(sy_curlev *ev, CURL *easy) { curl_multi_remove_handle(ev->multi, easy); }
