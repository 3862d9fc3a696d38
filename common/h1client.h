/*
 * h1client: the router's built-in HTTP/1.1 client for plain http:// provider
 * URLs, on the worker's libevent loop. upstream.c hands it every URL it
 * handles (rt_h1_handles()) and keeps libcurl for the rest (https://). The
 * contract is upstream.h's: the same rt_call_spec, rt_call_result, status
 * mapping, streaming and callback rules; this module is the transport.
 *
 * Per origin (the URL's host[:port]): a keep-alive pool of idle connections,
 * reused most recent first, at most RT_H1_MAX_IDLE per origin, closed after
 * RT_H1_IDLE_TIMEOUT_MS idle (a janitor runs while any is idle) or as soon as
 * the peer closes one or sends anything while it is idle; and the resolved
 * addresses (IP literals directly, names through evdns, which also reads
 * /etc/hosts, cached RT_H1_DNS_TTL_MS). A request reusing a connection that
 * turns out dead (an error or EOF before any byte of the answer) is sent
 * again once on a new connection, as curl does.
 *
 * Response parsing is common/h1resp.c. Callbacks are never made from inside
 * rt_h1_call_start/cancel/resume: failures, even immediate ones, are
 * reported from the loop.
 */
#ifndef SY_RT_H1CLIENT_H
#define SY_RT_H1CLIENT_H

#include "router/upstream.h"

struct event_base;

#define RT_H1_MAX_IDLE 256          /* idle connections per origin */
#define RT_H1_IDLE_TIMEOUT_MS 60000 /* an idle connection is closed after this */
#define RT_H1_DNS_TTL_MS 30000      /* resolved addresses of a host name are kept this long */

typedef struct rt_h1 rt_h1; /* one per worker loop */
typedef struct rt_h1_call rt_h1_call;

/* upstream.c hands out both clients' calls as rt_call pointers. Each call
 * object begins with this tag, so upstream.c can tell which client owns it. */
typedef struct rt_call_tag {
    unsigned char builtin; /* 1: an rt_h1_call; 0: one of upstream.c's curl calls */
} rt_call_tag;

rt_h1 *rt_h1_new(struct event_base *base);
/* Closes every connection; calls still in flight are dropped without on_done. */
void rt_h1_free(rt_h1 *h);
int rt_h1_inflight(const rt_h1 *h);

/* Whether url is a plain http:// URL this client calls (else: libcurl). */
int rt_h1_handles(rt_h1 *h, const char *url);

/* As rt_call_start() etc. in upstream.h, for a URL rt_h1_handles() accepted. */
rt_h1_call *rt_h1_call_start(rt_h1 *h, const rt_call_spec *spec);
void rt_h1_call_cancel(rt_h1_call *c);
void rt_h1_call_resume(rt_h1_call *c);
long rt_h1_call_http_status(const rt_h1_call *c);

#endif
