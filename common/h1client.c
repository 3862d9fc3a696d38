/*
 * h1client: see h1client.h for the model, h1client_internal.h for the files.
 * This file: the client API and a call's life.
 *
 * A call is a state machine (h1_call_set_state() asserts the transitions):
 *
 *   start --idle connection--------------------------------> SENDING
 *     |  \--addresses known--> CONNECTING --connected-------> SENDING
 *     \--name to resolve--> RESOLVING --resolved--/               | request written
 *                                                                 v
 *   DONE <--response complete (on_done)-------------------- RECEIVING <--> PAUSED
 *     ^                                                     (on_data returned 1 /
 *     \--------- FAILING <-- any error or deadline           rt_h1_call_resume)
 *                (reported from the loop: the defer event)
 *
 * A reused connection that dies before any byte of the answer (SENDING or
 * RECEIVING) sends the call back to CONNECTING (or RESOLVING), once.
 * rt_h1_call_cancel() takes a call out of any state. After on_done the call
 * object goes back to the free list.
 */
#include "common/h1client.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/h1client_internal.h"
#include "common/log.h"

#define CALL_FREELIST_MAX 64
#define KEEP_BUF_MAX (256u << 10) /* larger buffers are not kept with an idle call */
#define DEFAULT_MAX_RESPONSE (64u << 20)

/* ---------- calls: states, deadlines, completion ---------- */

void h1_call_set_state(rt_h1_call *c, enum call_state st)
{
#ifndef NDEBUG
    static const char *const names[] = {"free",      "resolving", "connecting", "sending",
                                        "receiving", "paused",    "failing",    "done"};
    static const unsigned allowed[] = {
        [CALL_FREE] = 1u << CALL_RESOLVING | 1u << CALL_CONNECTING | 1u << CALL_SENDING |
                      1u << CALL_FAILING,
        [CALL_RESOLVING] = 1u << CALL_CONNECTING | 1u << CALL_FAILING | 1u << CALL_FREE,
        [CALL_CONNECTING] = 1u << CALL_CONNECTING | 1u << CALL_SENDING | 1u << CALL_FAILING |
                            1u << CALL_FREE,
        [CALL_SENDING] = 1u << CALL_RECEIVING | 1u << CALL_RESOLVING | 1u << CALL_CONNECTING |
                         1u << CALL_SENDING | 1u << CALL_PAUSED | 1u << CALL_FAILING |
                         1u << CALL_DONE | 1u << CALL_FREE,
        [CALL_RECEIVING] = 1u << CALL_PAUSED | 1u << CALL_RESOLVING | 1u << CALL_CONNECTING |
                           1u << CALL_SENDING | 1u << CALL_FAILING | 1u << CALL_DONE |
                           1u << CALL_FREE,
        [CALL_PAUSED] = 1u << CALL_RECEIVING | 1u << CALL_FAILING | 1u << CALL_FREE,
        [CALL_FAILING] = 1u << CALL_DONE | 1u << CALL_FREE,
        [CALL_DONE] = 1u << CALL_FREE,
    };
    if (!(allowed[c->state] & (1u << st))) {
        sy_log(SY_ERROR, "h1client: bad call transition", "from=%s to=%s", names[c->state],
               names[st]);
        assert(!"bad call state transition");
    }
#endif
    c->state = st;
}

void h1_call_arm_timer(rt_h1_call *c)
{
    int64_t when = c->deadline_us;
    if ((c->state == CALL_RESOLVING || c->state == CALL_CONNECTING) &&
        (!when || c->connect_deadline_us < when))
        when = c->connect_deadline_us;
    if (!when) {
        event_del(&c->timer);
        return;
    }
    int64_t d = when - sy_clock_mono_us();
    if (d < 0)
        d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    event_add(&c->timer, &tv);
}

static void call_destroy(rt_h1_call *c)
{
    event_del(&c->timer);
    event_del(&c->defer);
    free(c->req);
    free(c->rbuf);
    free(c->resp);
    free(c);
}

static void active_unlink(rt_h1_call *c)
{
    rt_h1 *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->active = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    h->inflight--;
}

/* Out of flight (unlinked, no connection): keep the object for the next call. */
static void call_release(rt_h1_call *c)
{
    rt_h1 *h = c->h;
    h1_call_set_state(c, CALL_FREE);
    event_del(&c->timer);
    event_del(&c->defer);
    if (h->nfree_calls >= CALL_FREELIST_MAX) {
        call_destroy(c);
        return;
    }
    if (c->req_cap > KEEP_BUF_MAX) {
        free(c->req);
        c->req = NULL;
        c->req_cap = 0;
    }
    if (c->resp_cap > KEEP_BUF_MAX) {
        free(c->resp);
        c->resp = NULL;
        c->resp_cap = 0;
    }
    c->next = h->free_calls;
    h->free_calls = c;
    h->nfree_calls++;
}

/* The end: on_done, then the object is recycled. Only from the loop, with
 * nothing of c on the stack above the caller. */
static void call_finish(rt_h1_call *c, rt_call_status st, const char *error)
{
    event_del(&c->timer);
    active_unlink(c);
    h1_call_set_state(c, CALL_DONE);
    rt_call_result res = {
        .status = st,
        .http_status = c->status,
        .body = c->resp ? c->resp : "",
        .body_len = c->resp_len,
        .error = error,
        .upstream_us = (long)(sy_clock_mono_us() - c->t_start_us),
        .retry_after_s = c->status ? c->parser.retry_after_s : -1,
    };
    c->in_cb = 1;
    c->spec.on_done(&res, c->spec.arg);
    c->in_cb = 0;
    call_release(c);
}

void h1_call_drop_conn(rt_h1_call *c)
{
    if (c->conn) {
        h1_conn_close(c->conn);
        c->conn = NULL;
    }
}

/* A failure: the connection goes, on_done comes from the loop. */
void h1_call_fail(rt_h1_call *c, rt_call_status st, const char *error)
{
    if (c->state == CALL_RESOLVING)
        h1_waiting_unlink(c);
    h1_call_drop_conn(c);
    event_del(&c->timer);
    c->fail_status = st;
    c->fail_error = error;
    h1_call_set_state(c, CALL_FAILING);
    event_active(&c->defer, EV_TIMEOUT, 1);
}

/* The whole response is in: the connection back to the pool if it can take
 * another request, then on_done. */
void h1_call_complete(rt_h1_call *c)
{
    h1_conn *k = c->conn;
    c->conn = NULL;
    h1_conn_release(k, c->parser.keep_alive && c->rpos == c->rlen && c->req_sent == c->req_len);
    call_finish(c, RT_CALL_OK, NULL);
}

/* Has the rest of the response already arrived (the call is being cancelled
 * while paused)? Parses what is buffered, dropping body bytes. */
static int response_buffered(rt_h1_call *c)
{
    for (;;) {
        size_t n = 0, blen;
        const char *b;
        rt_h1resp_event ev =
            rt_h1resp_parse(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &n, &b, &blen);
        c->rpos += n;
        if (ev == RT_H1R_DONE)
            return c->rpos == c->rlen && c->req_sent == c->req_len && c->parser.keep_alive;
        if (ev != RT_H1R_BODY && ev != RT_H1R_HEAD)
            return 0;
    }
}

/* Cancel, from outside the call's callbacks: no on_done. */
void h1_call_cancel_now(rt_h1_call *c)
{
    switch (c->state) {
    case CALL_RESOLVING:
        h1_waiting_unlink(c);
        break;
    case CALL_PAUSED:
    case CALL_RECEIVING:
        if (c->conn && c->status && response_buffered(c)) {
            h1_conn *k = c->conn;
            c->conn = NULL;
            h1_conn_release(k, 1);
        }
        break;
    default:
        break;
    }
    h1_call_drop_conn(c);
    active_unlink(c);
    call_release(c);
}

/* ---------- deadlines and deferred work ---------- */

static void call_on_timer(evutil_socket_t fd, short what, void *arg)
{
    rt_h1_call *c = arg;
    rt_h1 *h = c->h;
    (void)fd;
    (void)what;
    h1_enter(h);
    int64_t now = sy_clock_mono_us();
    long ms = (long)((now - c->t_start_us) / 1000);
    if (c->deadline_us && now >= c->deadline_us) {
        snprintf(c->errbuf, sizeof(c->errbuf),
                 "operation timed out after %ld ms with %zu bytes received", ms, c->nread);
    } else if (c->state == CALL_RESOLVING) {
        snprintf(c->errbuf, sizeof(c->errbuf), "resolving %s timed out after %d ms",
                 c->origin->host, c->connect_ms);
    } else if (c->state == CALL_CONNECTING) {
        snprintf(c->errbuf, sizeof(c->errbuf), "connection to %s port %d timed out after %d ms",
                 c->origin->host, c->origin->port, c->connect_ms);
    } else { /* not due yet (a connect deadline that no longer applies) */
        h1_call_arm_timer(c);
        h1_leave(h);
        return;
    }
    h1_call_fail(c, RT_CALL_TIMEOUT, c->errbuf);
    h1_leave(h);
}

/* A failure to report, or a paused transfer to resume. */
static void call_on_defer(evutil_socket_t fd, short what, void *arg)
{
    rt_h1_call *c = arg;
    rt_h1 *h = c->h;
    (void)fd;
    (void)what;
    h1_enter(h);
    if (c->state == CALL_FAILING) {
        call_finish(c, c->fail_status, c->fail_error);
    } else if (c->state == CALL_PAUSED) {
        h1_call_set_state(c, CALL_RECEIVING);
        const char *b = c->pend;
        size_t n = c->pend_len;
        c->pend = NULL;
        c->pend_len = 0;
        if (!h1_call_deliver(c, b, n) && !h1_call_process(c))
            h1_conn_reading(c->conn, 1);
    }
    h1_leave(h);
}

/* ---------- public ---------- */

rt_h1 *rt_h1_new(struct event_base *base)
{
    rt_h1 *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->base = base;
    evtimer_assign(&h->janitor, base, h1_on_janitor, h);
    return h;
}

void rt_h1_free(rt_h1 *h)
{
    if (!h)
        return;
    h->depth++; /* nothing is recycled while we tear down */
    while (h->active) {
        rt_h1_call *c = h->active;
        if (c->state == CALL_RESOLVING)
            h1_waiting_unlink(c);
        h1_call_drop_conn(c);
        active_unlink(c);
        call_destroy(c);
    }
    while (h->origins) {
        h1_origin *o = h->origins;
        h->origins = o->next;
        while (o->idle)
            h1_conn_close(o->idle);
        if (o->lookup) {
            /* its callback may still come (only from the loop): it finds no origin */
            o->lookup->origin = NULL;
            if (o->lookup->req)
                evdns_getaddrinfo_cancel(o->lookup->req);
        }
        free(o);
    }
    while (h->free_calls) {
        rt_h1_call *c = h->free_calls;
        h->free_calls = c->next;
        call_destroy(c);
    }
    h->depth = 0;
    h1_reap(h);
    while (h->free_conns) {
        h1_conn *k = h->free_conns;
        h->free_conns = k->next;
        free(k);
    }
    event_del(&h->janitor);
    if (h->dns)
        evdns_base_free(h->dns, 0);
    free(h);
}

int rt_h1_inflight(const rt_h1 *h) { return h->inflight; }

int rt_h1_handles(rt_h1 *h, const char *url)
{
    const char *a, *t;
    size_t an, tn;
    return h1_url_split(url, &a, &an, &t, &tn) && h1_origin_get(h, a, an, 1) != NULL;
}

rt_h1_call *rt_h1_call_start(rt_h1 *h, const rt_call_spec *spec)
{
    const char *a, *target;
    size_t an, target_len;
    h1_origin *o = NULL;
    if (h1_url_split(spec->url, &a, &an, &target, &target_len))
        o = h1_origin_get(h, a, an, 1);
    if (!o) {
        sy_log(SY_ERROR, "cannot start upstream call", "reason=unsupported_url");
        return NULL;
    }
    if (!h->depth && h->dead)
        h1_reap(h);
    rt_h1_call *c = h->free_calls;
    if (c) {
        h->free_calls = c->next;
        h->nfree_calls--;
    } else {
        if (!(c = calloc(1, sizeof(*c)))) {
            sy_log(SY_ERROR, "cannot start upstream call", "reason=out_of_memory");
            return NULL;
        }
        c->tag.builtin = 1;
        c->h = h;
        evtimer_assign(&c->timer, h->base, call_on_timer, c);
        event_assign(&c->defer, h->base, -1, 0, call_on_defer, c);
    }
    c->spec = *spec;
    c->spec.url = NULL;
    c->spec.api_key = NULL;
    c->spec.anthropic_version = NULL;
    c->spec.body = NULL;
    if (!c->spec.max_response_bytes)
        c->spec.max_response_bytes = DEFAULT_MAX_RESPONSE;
    c->origin = o;
    c->conn = NULL;
    c->reused = c->retried = 0;
    c->rlen = c->rpos = c->nread = 0;
    c->status = 0;
    c->streaming = 0;
    c->pend = NULL;
    c->pend_len = 0;
    c->resp_len = 0;
    if (c->resp)
        c->resp[0] = '\0';
    c->in_cb = c->cancelled = 0;
    c->errbuf[0] = '\0';
    c->wprev = c->wnext = NULL;
    c->waiting = 0;
    c->connect_ms = 0;
    rt_h1resp_init(&c->parser);
    c->t_start_us = sy_clock_mono_us();
    c->deadline_us = spec->timeout_ms > 0 ? c->t_start_us + (int64_t)spec->timeout_ms * 1000 : 0;

    c->prev = NULL;
    c->next = h->active;
    if (h->active)
        h->active->prev = c;
    h->active = c;
    h->inflight++;

    int rc = h1_build_request(c, target, target_len, spec);
    if (rc) {
        h1_call_fail(c, RT_CALL_ERROR,
                  rc == -2 ? "the API key holds a control character" : "out of memory");
        return c;
    }
    h1_conn *k = o->idle;
    if (k) { /* the most recently used idle connection */
        h1_idle_unlink(k);
        k->state = CONN_ACTIVE;
        k->call = c;
        c->conn = k;
        c->reused = 1;
        h1_call_set_state(c, CALL_SENDING);
        if (c->deadline_us)
            h1_call_arm_timer(c);
        h1_call_send(c);
        return c;
    }
    h1_call_new_connection(c);
    return c;
}

void rt_h1_call_cancel(rt_h1_call *c)
{
    if (!c)
        return;
    if (c->in_cb) { /* from inside its own callback: finished when that returns */
        c->cancelled = 1;
        return;
    }
    rt_h1 *h = c->h;
    h1_enter(h);
    h1_call_cancel_now(c);
    h1_leave(h);
}

void rt_h1_call_resume(rt_h1_call *c)
{
    if (c->state == CALL_PAUSED)
        event_active(&c->defer, EV_TIMEOUT, 1);
}

long rt_h1_call_http_status(const rt_h1_call *c) { return c->status; }
