/*
 * h1client internals: the objects the h1client*.c files share, and the
 * functions they call in each other. Callers include common/h1client.h.
 *
 *   h1client.c          the client API and a call's life: its states (the
 *                       state machine is drawn there), deadlines, completion,
 *                       failure and cancel
 *   h1client_origin.c   origins: host[:port] from a URL, its addresses, resolving names
 *   h1client_pool.c     connections: the objects, each origin's idle pool and its
 *                       janitor, recycling closed ones
 *   h1client_io.c       a call on its connection: connecting, sending, receiving,
 *                       and the connection's event callback
 *   h1client_request.c  the request's bytes
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
#ifndef SY_H1CLIENT_INTERNAL_H
#define SY_H1CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "common/h1client.h"
#include "common/h1resp.h"

#define MAX_ADDRS 8            /* addresses kept per origin */

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

/* ---------- callback depth: nothing is recycled while one of ours is on the stack ---------- */

void h1_reap(rt_h1 *h); /* h1client_pool.c */

static inline void h1_enter(rt_h1 *h) { h->depth++; }

static inline void h1_leave(rt_h1 *h)
{
    if (--h->depth == 0 && h->dead)
        h1_reap(h);
}

/* ---------- connections (h1client_pool.c) ---------- */

static inline void h1_conn_reading(h1_conn *k, int on)
{
    if (on && !k->reading)
        event_add(&k->rev, NULL);
    else if (!on && k->reading)
        event_del(&k->rev);
    k->reading = on;
}

static inline void h1_conn_writing(h1_conn *k, int on)
{
    if (on && !k->writing)
        event_add(&k->wev, NULL);
    else if (!on && k->writing)
        event_del(&k->wev);
    k->writing = on;
}

h1_conn *h1_conn_new(rt_h1 *h, h1_origin *o, int fd);
void h1_conn_close(h1_conn *k);
/* A connection that finished its call: into the pool, or closed. */
void h1_conn_release(h1_conn *k, int reusable);
void h1_idle_unlink(h1_conn *k);
void h1_idle_readable(h1_conn *k);
void h1_on_janitor(evutil_socket_t fd, short what, void *arg);

/* ---------- origins (h1client_origin.c) ---------- */

int h1_url_split(const char *url, const char **auth, size_t *auth_len, const char **target,
                 size_t *target_len);
h1_origin *h1_origin_get(rt_h1 *h, const char *a, size_t n, int create);
int h1_origin_has_addrs(const h1_origin *o);
/* Start resolving o's name (the caller is on o->waiting). */
void h1_origin_resolve(rt_h1 *h, h1_origin *o);
void h1_waiting_unlink(rt_h1_call *c);

/* ---------- a call's life (h1client.c) ---------- */

void h1_call_set_state(rt_h1_call *c, enum call_state st);
void h1_call_arm_timer(rt_h1_call *c);
/* A failure: the connection goes, on_done comes from the loop. */
void h1_call_fail(rt_h1_call *c, rt_call_status st, const char *error);
void h1_call_complete(rt_h1_call *c);
/* Cancel, from outside the call's callbacks: no on_done. */
void h1_call_cancel_now(rt_h1_call *c);
void h1_call_drop_conn(rt_h1_call *c);

/* ---------- a call on its connection (h1client_io.c) ---------- */

void h1_call_new_connection(rt_h1_call *c);
void h1_call_connect(rt_h1_call *c);
void h1_call_send(rt_h1_call *c);
int h1_call_deliver(rt_h1_call *c, const char *b, size_t n);
int h1_call_process(rt_h1_call *c);
void h1_conn_on_io(evutil_socket_t fd, short what, void *arg);

/* ---------- the request (h1client_request.c) ---------- */

int h1_build_request(rt_h1_call *c, const char *target, size_t target_len,
                     const rt_call_spec *spec);

#endif
