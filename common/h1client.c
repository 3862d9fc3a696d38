/*
 * h1client: see h1client.h for the model.
 *
 * A call is a state machine (call_set_state() asserts the transitions):
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
 *
 * Ownership: the client owns every object. Calls in flight are on h->active,
 * recycled ones on h->free_calls; a call waiting for its origin's addresses
 * is also on the origin's waiting list. A connection is owned by its call
 * (conn->call) while it carries one, else by its origin's idle list; closed
 * connections go to h->dead and are recycled only once none of our event
 * callbacks is on the stack (h->depth == 0): one may still be running on it.
 * A call object is never recycled while its own callback runs (c->in_cb):
 * rt_h1_call_cancel() from inside it only marks it.
 */
#include "common/h1client.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "common/log.h"
#include "common/clock.h"
#include "common/h1resp.h"

#define MAX_ORIGINS 256        /* more distinct provider origins than this: libcurl takes them */
#define MAX_ADDRS 8            /* addresses kept per origin */
#define CALL_FREELIST_MAX 64
#define CONN_FREELIST_MAX 256
#define KEEP_BUF_MAX (256u << 10) /* larger buffers are not kept with an idle call */
#define RBUF_INITIAL 8192      /* read buffer; grows (up to the head limit) for a big head */
#define RESP_INITIAL 4096
#define DEFAULT_CONNECT_TIMEOUT_MS 300000 /* curl's, when connect_timeout_ms is 0 */
#define DEFAULT_MAX_RESPONSE (64u << 20)
#define JANITOR_MS 1000

/* ---------- objects ---------- */

enum conn_state { CONN_FREE, CONN_CONNECTING, CONN_ACTIVE, CONN_IDLE };

typedef struct h1_origin h1_origin;

typedef struct h1_conn {
    rt_h1 *h;
    h1_origin *origin;
    rt_h1_call *call;       /* the call it carries; NULL when idle */
    enum conn_state state;
    int fd;
    struct event rev;       /* EV_READ|EV_PERSIST: added while not paused */
    struct event wev;       /* EV_WRITE|EV_PERSIST: connecting, or the request not all written */
    int reading, writing;   /* rev / wev added */
    int64_t idle_since_us;
    struct h1_conn *prev, *next; /* origin idle list (most recent first), or h->dead / free list */
} h1_conn;

/* A resolution in flight. The client may go away first: then origin is NULL
 * and the callback only frees it. */
typedef struct h1_lookup {
    h1_origin *origin;
    struct evdns_getaddrinfo_request *req;
} h1_lookup;

struct h1_origin {
    rt_h1 *h;
    h1_origin *next;
    char authority[262];    /* host[:port] as in the URL: the key and the Host header */
    size_t authority_len;
    char host[256];         /* without brackets */
    int port;
    int numeric;            /* an IP literal: addresses never expire */
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t addr_lens[MAX_ADDRS];
    int naddrs;
    int good;               /* the address that last connected: tried first */
    int64_t addrs_until_us; /* name: re-resolve after this */
    h1_lookup *lookup;
    rt_h1_call *waiting;    /* calls waiting for addresses (c->wprev/wnext) */
    h1_conn *idle, *idle_tail;
    int nidle;
};

enum call_state {
    CALL_FREE,
    CALL_RESOLVING,
    CALL_CONNECTING,
    CALL_SENDING,
    CALL_RECEIVING,
    CALL_PAUSED,
    CALL_FAILING,
    CALL_DONE,
};


struct rt_h1_call {
    rt_call_tag tag;        /* first: see h1client.h */
    rt_h1 *h;
    enum call_state state;
    rt_call_spec spec;      /* url, api_key and body are not kept (NULL) */
    h1_origin *origin;
    h1_conn *conn;
    int reused;             /* conn came from the pool */
    int retried;            /* already sent again on a new connection */
    int addr, addr_tries;   /* connecting: the address tried, how many were */
    int64_t t_start_us, connect_deadline_us, deadline_us; /* deadline 0: none */
    struct event timer;     /* the nearest deadline */
    struct event defer;     /* reports a failure / resumes, from the loop */
    char *req;              /* the request: head then body */
    size_t req_len, req_cap, req_sent;
    char *rbuf;             /* bytes read; [rpos, rlen) not parsed yet */
    size_t rcap, rlen, rpos;
    size_t nread;           /* response bytes read on this connection */
    rt_h1resp parser;
    long status;            /* from the head; 0 before */
    int streaming;          /* 2xx and on_data: the body goes to on_data */
    const char *pend;       /* the body span on_data paused on (inside rbuf) */
    size_t pend_len;
    char *resp;             /* buffered body, NUL-terminated */
    size_t resp_len, resp_cap;
    rt_call_status fail_status;
    const char *fail_error;
    int in_cb;              /* on_data or on_done is running */
    int cancelled;          /* rt_h1_call_cancel() from inside them */
    char errbuf[384];
    rt_h1_call *prev, *next;   /* h->active, or h->free_calls (next only) */
    rt_h1_call *wprev, *wnext; /* origin->waiting */
    int waiting;               /* on it */
    int connect_ms;            /* the connect timeout in effect */
};

struct rt_h1 {
    struct event_base *base;
    struct evdns_base *dns; /* made on the first host name */
    h1_origin *origins;
    int norigins;
    rt_h1_call *active;
    int inflight;
    rt_h1_call *free_calls;
    int nfree_calls;
    h1_conn *dead;          /* closed, maybe still on the stack */
    h1_conn *free_conns;
    int nfree_conns;
    int depth;              /* our event callbacks on the stack */
    struct event janitor;
    int janitor_on;
    int nidle;              /* idle connections, all origins */
};

static void call_fail(rt_h1_call *c, rt_call_status st, const char *error);
static void call_send(rt_h1_call *c);
static void call_connect(rt_h1_call *c);
static void conn_on_io(evutil_socket_t fd, short what, void *arg);

/* ---------- callback depth and reaping ---------- */

static void reap(rt_h1 *h)
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

static void enter(rt_h1 *h) { h->depth++; }

static void leave(rt_h1 *h)
{
    if (--h->depth == 0 && h->dead)
        reap(h);
}

/* ---------- connections ---------- */

static void conn_reading(h1_conn *k, int on)
{
    if (on && !k->reading)
        event_add(&k->rev, NULL);
    else if (!on && k->reading)
        event_del(&k->rev);
    k->reading = on;
}

static void conn_writing(h1_conn *k, int on)
{
    if (on && !k->writing)
        event_add(&k->wev, NULL);
    else if (!on && k->writing)
        event_del(&k->wev);
    k->writing = on;
}

static void idle_unlink(h1_conn *k)
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

static void conn_close(h1_conn *k)
{
    rt_h1 *h = k->h;
    if (k->state == CONN_IDLE)
        idle_unlink(k);
    conn_reading(k, 0);
    conn_writing(k, 0);
    close(k->fd);
    k->fd = -1;
    k->state = CONN_FREE;
    k->call = NULL;
    k->next = h->dead;
    h->dead = k;
    if (!h->depth)
        reap(h);
}

static h1_conn *conn_new(rt_h1 *h, h1_origin *o, int fd)
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
    event_assign(&k->rev, h->base, fd, EV_READ | EV_PERSIST, conn_on_io, k);
    event_assign(&k->wev, h->base, fd, EV_WRITE | EV_PERSIST, conn_on_io, k);
    return k;
}

static void on_janitor(evutil_socket_t fd, short what, void *arg);

/* A connection that finished its call: into the pool, or closed. */
static void conn_release(h1_conn *k, int reusable)
{
    rt_h1 *h = k->h;
    h1_origin *o = k->origin;
    if (!reusable) {
        conn_close(k);
        return;
    }
    if (o->nidle >= RT_H1_MAX_IDLE)
        conn_close(o->idle_tail); /* the least recently used goes */
    k->call = NULL;
    k->state = CONN_IDLE;
    k->idle_since_us = sy_clock_mono_us();
    conn_writing(k, 0);
    conn_reading(k, 1); /* an idle connection watches for the peer's close */
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
static void idle_readable(h1_conn *k)
{
    char buf[64];
    ssize_t n = recv(k->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    conn_close(k);
}

static void on_janitor(evutil_socket_t fd, short what, void *arg)
{
    rt_h1 *h = arg;
    (void)fd;
    (void)what;
    enter(h);
    int64_t old = sy_clock_mono_us() - (int64_t)RT_H1_IDLE_TIMEOUT_MS * 1000;
    for (h1_origin *o = h->origins; o; o = o->next)
        while (o->idle_tail && o->idle_tail->idle_since_us <= old)
            conn_close(o->idle_tail);
    h->janitor_on = 0;
    if (h->nidle) {
        struct timeval tv = {JANITOR_MS / 1000, (JANITOR_MS % 1000) * 1000};
        evtimer_add(&h->janitor, &tv);
        h->janitor_on = 1;
    }
    leave(h);
}

/* ---------- origins and URLs ---------- */

/* "http://" authority [path-abempty] [?query] [#fragment]: the authority and
 * the request target (path and query). 0 when this client does not take it. */
static int url_split(const char *url, const char **auth, size_t *auth_len, const char **target,
                     size_t *target_len)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    const char *t = a + n;
    size_t tn = strcspn(t, "#");
    for (size_t i = 0; i < n + tn; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return 0; /* not a URL we build requests from: leave it to curl */
    }
    if (n == 0 || memchr(a, '@', n))
        return 0;
    *auth = a;
    *auth_len = n;
    *target = t;
    *target_len = tn;
    return 1;
}

/* host[:port] of a new origin; 0 when malformed */
static int origin_parse(h1_origin *o, const char *a, size_t n)
{
    const char *host = a, *port = NULL;
    size_t hn;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return 0;
        host = a + 1;
        hn = (size_t)(close - host);
        if (close + 1 < a + n) {
            if (close[1] != ':')
                return 0;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        hn = colon ? (size_t)(colon - a) : n;
        if (colon)
            port = colon + 1;
    }
    if (hn == 0 || hn >= sizeof(o->host))
        return 0;
    memcpy(o->host, host, hn);
    o->host[hn] = '\0';
    o->port = 80;
    if (port && port < a + n) {
        long p = 0;
        for (const char *s = port; s < a + n; s++) {
            if (*s < '0' || *s > '9' || (p = p * 10 + (*s - '0')) > 65535)
                return 0;
        }
        if (p == 0)
            return 0;
        o->port = (int)p;
    }
    memcpy(o->authority, a, n);
    o->authority[n] = '\0';
    o->authority_len = n;

    struct sockaddr_in *s4 = (struct sockaddr_in *)&o->addrs[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->addrs[0];
    if (a[0] == '[') {
        if (inet_pton(AF_INET6, o->host, &s6->sin6_addr) != 1)
            return 0;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)o->port);
        o->addr_lens[0] = sizeof(*s6);
        o->naddrs = 1;
        o->numeric = 1;
    } else if (inet_pton(AF_INET, o->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)o->port);
        o->addr_lens[0] = sizeof(*s4);
        o->naddrs = 1;
        o->numeric = 1;
    } else {
        for (size_t i = 0; i < hn; i++) {
            char ch = o->host[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '.' || ch == '_'))
                return 0;
        }
    }
    return 1;
}

static h1_origin *origin_get(rt_h1 *h, const char *a, size_t n, int create)
{
    for (h1_origin *o = h->origins; o; o = o->next)
        if (o->authority_len == n && memcmp(o->authority, a, n) == 0)
            return o;
    if (!create || h->norigins >= MAX_ORIGINS || n >= sizeof(((h1_origin *)0)->authority))
        return NULL;
    h1_origin *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    if (!origin_parse(o, a, n)) {
        free(o);
        return NULL;
    }
    o->h = h;
    o->next = h->origins;
    h->origins = o;
    h->norigins++;
    return o;
}

static int origin_has_addrs(const h1_origin *o)
{
    return o->naddrs > 0 && (o->numeric || sy_clock_mono_us() < o->addrs_until_us);
}

static void waiting_unlink(rt_h1_call *c)
{
    h1_origin *o = c->origin;
    if (!c->waiting)
        return;
    c->waiting = 0;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        o->waiting = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
}

static void on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
    h1_lookup *lk = arg;
    h1_origin *o = lk->origin;
    free(lk);
    if (!o) { /* the client is gone */
        if (ai)
            evutil_freeaddrinfo(ai);
        return;
    }
    rt_h1 *h = o->h;
    o->lookup = NULL;
    enter(h);
    o->naddrs = 0;
    o->good = 0;
    for (struct evutil_addrinfo *p = ai; result == 0 && p && o->naddrs < MAX_ADDRS; p = p->ai_next) {
        if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) ||
            p->ai_addrlen > sizeof(o->addrs[0]))
            continue;
        memcpy(&o->addrs[o->naddrs], p->ai_addr, p->ai_addrlen);
        if (p->ai_family == AF_INET)
            ((struct sockaddr_in *)&o->addrs[o->naddrs])->sin_port = htons((uint16_t)o->port);
        else
            ((struct sockaddr_in6 *)&o->addrs[o->naddrs])->sin6_port = htons((uint16_t)o->port);
        o->addr_lens[o->naddrs++] = (socklen_t)p->ai_addrlen;
    }
    if (ai)
        evutil_freeaddrinfo(ai);
    if (o->naddrs)
        o->addrs_until_us = sy_clock_mono_us() + (int64_t)RT_H1_DNS_TTL_MS * 1000;
    /* every waiting call goes on; none of them is on the stack */
    while (o->waiting) {
        rt_h1_call *c = o->waiting;
        if (o->naddrs) {
            waiting_unlink(c);
            c->addr = 0;
            c->addr_tries = 0;
            call_connect(c);
            continue;
        }
        snprintf(c->errbuf, sizeof(c->errbuf), "could not resolve host: %s (%s)", o->host,
                 result ? evutil_gai_strerror(result) : "no IPv4 or IPv6 address");
        call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf); /* takes it off the list */
    }
    leave(h);
}

/* Start resolving o's name (the caller is on o->waiting). */
static void origin_resolve(rt_h1 *h, h1_origin *o)
{
    if (o->lookup)
        return;
    if (!h->dns) {
        h->dns = evdns_base_new(h->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!h->dns && (h->dns = evdns_base_new(h->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)))
            evdns_base_load_hosts(h->dns, NULL);
    }
    h1_lookup *lk = h->dns ? calloc(1, sizeof(*lk)) : NULL;
    if (!lk) {
        while (o->waiting) /* call_fail takes each off the list */
            call_fail(o->waiting, RT_CALL_CONNECT_ERROR, "could not resolve host: no resolver");
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    lk->origin = o;
    o->lookup = lk;
    /* answers from /etc/hosts come back before this returns */
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(h->dns, o->host, NULL, &hints, on_resolved, lk);
    if (o->lookup) /* else on_resolved ran already and freed lk */
        o->lookup->req = req;
}

/* ---------- calls: states, deadlines, completion ---------- */

static void call_set_state(rt_h1_call *c, enum call_state st)
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

static void call_arm_timer(rt_h1_call *c)
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
    call_set_state(c, CALL_FREE);
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
    call_set_state(c, CALL_DONE);
    rt_call_result res = {
        .status = st,
        .http_status = c->status,
        .body = c->resp ? c->resp : "",
        .body_len = c->resp_len,
        .error = error,
        .upstream_us = (long)(sy_clock_mono_us() - c->t_start_us),
    };
    c->in_cb = 1;
    c->spec.on_done(&res, c->spec.arg);
    c->in_cb = 0;
    call_release(c);
}

static void call_drop_conn(rt_h1_call *c)
{
    if (c->conn) {
        conn_close(c->conn);
        c->conn = NULL;
    }
}

/* A failure: the connection goes, on_done comes from the loop. */
static void call_fail(rt_h1_call *c, rt_call_status st, const char *error)
{
    if (c->state == CALL_RESOLVING)
        waiting_unlink(c);
    call_drop_conn(c);
    event_del(&c->timer);
    c->fail_status = st;
    c->fail_error = error;
    call_set_state(c, CALL_FAILING);
    event_active(&c->defer, EV_TIMEOUT, 1);
}

/* The whole response is in: the connection back to the pool if it can take
 * another request, then on_done. */
static void call_complete(rt_h1_call *c)
{
    h1_conn *k = c->conn;
    c->conn = NULL;
    conn_release(k, c->parser.keep_alive && c->rpos == c->rlen && c->req_sent == c->req_len);
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
static void call_cancel_now(rt_h1_call *c)
{
    switch (c->state) {
    case CALL_RESOLVING:
        waiting_unlink(c);
        break;
    case CALL_PAUSED:
    case CALL_RECEIVING:
        if (c->conn && c->status && response_buffered(c)) {
            h1_conn *k = c->conn;
            c->conn = NULL;
            conn_release(k, 1);
        }
        break;
    default:
        break;
    }
    call_drop_conn(c);
    active_unlink(c);
    call_release(c);
}

/* ---------- connecting ---------- */

/* A new connection for c (retries and calls with no idle connection). */
static void call_new_connection(rt_h1_call *c)
{
    c->connect_ms =
        c->spec.connect_timeout_ms > 0 ? c->spec.connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->reused = 0;
    c->connect_deadline_us = sy_clock_mono_us() + (int64_t)c->connect_ms * 1000;
    h1_origin *o = c->origin;
    if (origin_has_addrs(o)) {
        c->addr = o->good;
        c->addr_tries = 0;
        call_set_state(c, CALL_CONNECTING);
        call_arm_timer(c);
        call_connect(c);
        return;
    }
    call_set_state(c, CALL_RESOLVING);
    call_arm_timer(c);
    c->wprev = NULL;
    c->wnext = o->waiting;
    if (o->waiting)
        o->waiting->wprev = c;
    o->waiting = c;
    c->waiting = 1;
    origin_resolve(c->h, o);
}

static void connect_failed(rt_h1_call *c, int err)
{
    h1_origin *o = c->origin;
    char addr[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&o->addrs[c->addr];
    if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
    snprintf(c->errbuf, sizeof(c->errbuf), "failed to connect to %s port %d: %s", addr, o->port,
             strerror(err));
    call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf);
}

/* Connect to c->addr, then the origin's next addresses while they fail at once. */
static void call_connect(rt_h1_call *c)
{
    h1_origin *o = c->origin;
    if (c->state != CALL_CONNECTING)
        call_set_state(c, CALL_CONNECTING);
    for (;;) {
        if (c->addr >= o->naddrs)
            c->addr = 0;
        const struct sockaddr *sa = (const struct sockaddr *)&o->addrs[c->addr];
        int err;
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(c->errbuf, sizeof(c->errbuf), "cannot create a socket: %s", strerror(errno));
            call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int r = connect(fd, sa, o->addr_lens[c->addr]);
        err = r == 0 ? 0 : errno;
        if (r == 0 || err == EINPROGRESS) {
            h1_conn *k = conn_new(c->h, o, fd);
            if (!k) {
                close(fd);
                call_fail(c, RT_CALL_ERROR, "out of memory");
                return;
            }
            k->call = c;
            c->conn = k;
            c->nread = 0;
            if (r == 0) {
                k->state = CONN_ACTIVE;
                o->good = c->addr;
                conn_reading(k, 1);
                call_set_state(c, CALL_SENDING);
                call_arm_timer(c);
                call_send(c);
            } else {
                k->state = CONN_CONNECTING;
                conn_writing(k, 1);
            }
            return;
        }
        close(fd);
        if (++c->addr_tries >= o->naddrs) {
            connect_failed(c, err);
            return;
        }
        c->addr++;
    }
}

/* The non-blocking connect finished (writable). */
static void conn_connected(h1_conn *k)
{
    rt_h1_call *c = k->call;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        c->conn = NULL;
        conn_close(k);
        if (++c->addr_tries >= c->origin->naddrs) {
            connect_failed(c, err);
            return;
        }
        c->addr++;
        call_connect(c);
        return;
    }
    c->origin->good = c->addr;
    k->state = CONN_ACTIVE;
    conn_writing(k, 0);
    conn_reading(k, 1);
    call_set_state(c, CALL_SENDING);
    call_arm_timer(c); /* now only the total deadline */
    call_send(c);
}

/* ---------- sending and receiving ---------- */

/* The connection died before any byte of the answer: a reused one may have
 * been closed by the provider while idle, so send again, once, on a new one. */
static int call_maybe_retry(rt_h1_call *c)
{
    if (!c->reused || c->retried || c->nread > 0)
        return 0;
    sy_log(SY_DEBUG, "upstream connection was closed by the provider; sending again on a new one",
           "origin=%s", c->origin->authority);
    call_drop_conn(c);
    c->retried = 1;
    c->req_sent = 0;
    c->rlen = c->rpos = 0;
    c->status = 0;
    rt_h1resp_init(&c->parser);
    call_new_connection(c);
    return 1;
}

/* Write what is left of the request. An answer may start (and even pause)
 * before it is all written: the state moves to RECEIVING only from SENDING. */
static void call_send(rt_h1_call *c)
{
    h1_conn *k = c->conn;
    while (c->req_sent < c->req_len) {
        ssize_t n = send(k->fd, c->req + c->req_sent, c->req_len - c->req_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->req_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_writing(k, 1);
            return;
        }
        int err = n < 0 ? errno : EPIPE;
        if (call_maybe_retry(c))
            return;
        snprintf(c->errbuf, sizeof(c->errbuf), "send failure: %s", strerror(err));
        call_fail(c, RT_CALL_ERROR, c->errbuf);
        return;
    }
    conn_writing(k, 0);
    if (c->state == CALL_SENDING)
        call_set_state(c, CALL_RECEIVING);
}

/* Body bytes: to on_data (streaming) or the buffer. 0: go on; 1: the call
 * stopped (paused, failed, cancelled): leave it alone. */
static int call_deliver(rt_h1_call *c, const char *b, size_t n)
{
    if (c->streaming) {
        c->in_cb = 1;
        int rc = c->spec.on_data(b, n, c->spec.arg);
        c->in_cb = 0;
        if (c->cancelled) {
            call_cancel_now(c);
            return 1;
        }
        if (rc > 0) { /* backpressure: stop reading until rt_h1_call_resume() */
            c->pend = b;
            c->pend_len = n;
            conn_reading(c->conn, 0);
            call_set_state(c, CALL_PAUSED);
            return 1;
        }
        if (rc < 0) {
            call_fail(c, RT_CALL_ERROR, "aborted by the receiver");
            return 1;
        }
        return 0;
    }
    if (n > c->spec.max_response_bytes - c->resp_len) {
        call_fail(c, RT_CALL_ERROR, "response exceeds the size limit");
        return 1;
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : RESP_INITIAL;
        while (cap < c->resp_len + n + 1)
            cap *= 2;
        if (c->spec.max_response_bytes < SIZE_MAX && cap > c->spec.max_response_bytes + 1)
            cap = c->spec.max_response_bytes + 1; /* never more than the limit needs */
        char *r = realloc(c->resp, cap);
        if (!r) {
            call_fail(c, RT_CALL_ERROR, "out of memory");
            return 1;
        }
        c->resp = r;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, b, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return 0;
}

/* Parse what was read. 0: wants more bytes; 1: the call stopped reading
 * (complete, failed, paused or cancelled; it may be gone). */
static int call_process(rt_h1_call *c)
{
    for (;;) {
        size_t n = 0, blen = 0;
        const char *b = NULL;
        rt_h1resp_event ev =
            rt_h1resp_parse(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &n, &b, &blen);
        c->rpos += n;
        switch (ev) {
        case RT_H1R_AGAIN:
            return 0;
        case RT_H1R_HEAD:
            c->status = c->parser.status;
            c->streaming = c->spec.on_data && c->status >= 200 && c->status < 300;
            if (!c->streaming && c->parser.framing == RT_H1R_FRAME_LENGTH) {
                if (c->parser.content_length > c->spec.max_response_bytes) {
                    call_fail(c, RT_CALL_ERROR, "response exceeds the size limit");
                    return 1;
                }
                size_t want = (size_t)c->parser.content_length + 1;
                if (want > c->resp_cap) {
                    char *r = realloc(c->resp, want);
                    if (r) {
                        c->resp = r;
                        c->resp_cap = want;
                    }
                }
            }
            break;
        case RT_H1R_BODY:
            if (call_deliver(c, b, blen))
                return 1;
            break;
        case RT_H1R_DONE:
            call_complete(c);
            return 1;
        case RT_H1R_ERROR:
            call_fail(c, RT_CALL_ERROR, c->parser.error);
            return 1;
        }
    }
}

static void call_readable(rt_h1_call *c)
{
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0 && c->rlen == c->rcap) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == c->rcap) { /* a head larger than the buffer (the parser bounds it) */
        size_t cap = c->rcap ? c->rcap * 2 : RBUF_INITIAL;
        char *r = realloc(c->rbuf, cap);
        if (!r) {
            call_fail(c, RT_CALL_ERROR, "out of memory");
            return;
        }
        c->rbuf = r;
        c->rcap = cap;
    }
    ssize_t n = recv(c->conn->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (n > 0) {
        c->rlen += (size_t)n;
        c->nread += (size_t)n;
        call_process(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int err = n < 0 ? errno : 0;
    if (call_maybe_retry(c))
        return;
    if (err) {
        snprintf(c->errbuf, sizeof(c->errbuf), "recv failure: %s", strerror(err));
        call_fail(c, RT_CALL_ERROR, c->errbuf);
        return;
    }
    if (c->nread == 0) {
        call_fail(c, RT_CALL_ERROR, "empty reply from server");
        return;
    }
    if (rt_h1resp_eof(&c->parser) == RT_H1R_DONE) {
        call_complete(c); /* a close-delimited body ended (conn not reusable) */
        return;
    }
    call_fail(c, RT_CALL_ERROR, c->parser.error);
}

/* ---------- event callbacks ---------- */

/* Both of a connection's events (rev: EV_READ, wev: EV_WRITE) come here. */
static void conn_on_io(evutil_socket_t fd, short what, void *arg)
{
    h1_conn *k = arg;
    rt_h1 *h = k->h;
    (void)fd;
    enter(h);
    if (what & EV_READ) {
        if (k->state == CONN_IDLE)
            idle_readable(k);
        else if (k->call)
            call_readable(k->call);
    } else if (k->state == CONN_CONNECTING) {
        conn_connected(k);
    } else if (k->call && k->call->req_sent < k->call->req_len) {
        call_send(k->call);
    } else {
        conn_writing(k, 0);
    }
    leave(h);
}

static void call_on_timer(evutil_socket_t fd, short what, void *arg)
{
    rt_h1_call *c = arg;
    rt_h1 *h = c->h;
    (void)fd;
    (void)what;
    enter(h);
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
        call_arm_timer(c);
        leave(h);
        return;
    }
    call_fail(c, RT_CALL_TIMEOUT, c->errbuf);
    leave(h);
}

/* A failure to report, or a paused transfer to resume. */
static void call_on_defer(evutil_socket_t fd, short what, void *arg)
{
    rt_h1_call *c = arg;
    rt_h1 *h = c->h;
    (void)fd;
    (void)what;
    enter(h);
    if (c->state == CALL_FAILING) {
        call_finish(c, c->fail_status, c->fail_error);
    } else if (c->state == CALL_PAUSED) {
        call_set_state(c, CALL_RECEIVING);
        const char *b = c->pend;
        size_t n = c->pend_len;
        c->pend = NULL;
        c->pend_len = 0;
        if (!call_deliver(c, b, n) && !call_process(c))
            conn_reading(c->conn, 1);
    }
    leave(h);
}

/* ---------- the request ---------- */

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

#define PUT_LIT(w, s) put((w), (s), sizeof(s) - 1)

static char *put_size(char *w, size_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    do
        tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    return put(w, tmp + i, sizeof(tmp) - (size_t)i);
}

/* The request head and body, in one buffer for one send(). */
static int build_request(rt_h1_call *c, const char *target, size_t target_len,
                         const rt_call_spec *spec)
{
    static const char l1[] = "POST ";
    static const char l2[] = " HTTP/1.1\r\nHost: ";
    static const char l3[] = "\r\nUser-Agent: switchyard\r\nContent-Type: application/json\r\n";
    static const char auth[] = "Authorization: Bearer ";
    static const char cl[] = "Content-Length: ";
    size_t key_len = 0;
    if (spec->api_key) {
        key_len = strlen(spec->api_key);
        for (size_t i = 0; i < key_len; i++) {
            unsigned char ch = (unsigned char)spec->api_key[i];
            if (ch < 0x20 || ch == 0x7f)
                return -2;
        }
    }
    size_t need = sizeof(l1) + target_len + 1 + sizeof(l2) + c->origin->authority_len +
                  sizeof(l3) + (spec->api_key ? sizeof(auth) + key_len + 2 : 0) + sizeof(cl) +
                  24 + 4 + spec->body_len;
    if (need > c->req_cap) {
        char *r = realloc(c->req, need);
        if (!r)
            return -1;
        c->req = r;
        c->req_cap = need;
    }
    char *w = c->req;
    w = PUT_LIT(w, l1);
    if (target_len == 0 || target[0] != '/')
        *w++ = '/';
    w = put(w, target, target_len);
    w = PUT_LIT(w, l2);
    w = put(w, c->origin->authority, c->origin->authority_len);
    w = PUT_LIT(w, l3);
    if (spec->api_key) {
        w = PUT_LIT(w, auth);
        w = put(w, spec->api_key, key_len);
        w = PUT_LIT(w, "\r\n");
    }
    w = PUT_LIT(w, cl);
    w = put_size(w, spec->body_len);
    w = PUT_LIT(w, "\r\n\r\n");
    if (spec->body_len)
        w = put(w, spec->body, spec->body_len);
    c->req_len = (size_t)(w - c->req);
    c->req_sent = 0;
    return 0;
}

/* ---------- public ---------- */

rt_h1 *rt_h1_new(struct event_base *base)
{
    rt_h1 *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->base = base;
    evtimer_assign(&h->janitor, base, on_janitor, h);
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
            waiting_unlink(c);
        call_drop_conn(c);
        active_unlink(c);
        call_destroy(c);
    }
    while (h->origins) {
        h1_origin *o = h->origins;
        h->origins = o->next;
        while (o->idle)
            conn_close(o->idle);
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
    reap(h);
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
    return url_split(url, &a, &an, &t, &tn) && origin_get(h, a, an, 1) != NULL;
}

rt_h1_call *rt_h1_call_start(rt_h1 *h, const rt_call_spec *spec)
{
    const char *a, *target;
    size_t an, target_len;
    h1_origin *o = NULL;
    if (url_split(spec->url, &a, &an, &target, &target_len))
        o = origin_get(h, a, an, 1);
    if (!o) {
        sy_log(SY_ERROR, "cannot start upstream call", "reason=unsupported_url");
        return NULL;
    }
    if (!h->depth && h->dead)
        reap(h);
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

    int rc = build_request(c, target, target_len, spec);
    if (rc) {
        call_fail(c, RT_CALL_ERROR,
                  rc == -2 ? "the API key holds a control character" : "out of memory");
        return c;
    }
    h1_conn *k = o->idle;
    if (k) { /* the most recently used idle connection */
        idle_unlink(k);
        k->state = CONN_ACTIVE;
        k->call = c;
        c->conn = k;
        c->reused = 1;
        call_set_state(c, CALL_SENDING);
        if (c->deadline_us)
            call_arm_timer(c);
        call_send(c);
        return c;
    }
    call_new_connection(c);
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
    enter(h);
    call_cancel_now(c);
    leave(h);
}

void rt_h1_call_resume(rt_h1_call *c)
{
    if (c->state == CALL_PAUSED)
        event_active(&c->defer, EV_TIMEOUT, 1);
}

long rt_h1_call_http_status(const rt_h1_call *c) { return c->status; }
