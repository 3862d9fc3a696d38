/*
 * h1client origins: a URL's host[:port] (the pool's key and the Host header)
 * and its addresses, IP literals directly and names through evdns, kept
 * RT_H1_DNS_TTL_MS. Calls waiting for a name are on the origin's waiting list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "common/clock.h"
#include "common/dns.h"
#include "common/h1client_internal.h"

#define MAX_ORIGINS 256        /* more distinct provider origins than this: libcurl takes them */

/* "http://" authority [path-abempty] [?query] [#fragment]: the authority and
 * the request target (path and query). 0 when this client does not take it. */
int h1_url_split(const char *url, const char **auth, size_t *auth_len, const char **target,
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

h1_origin *h1_origin_get(rt_h1 *h, const char *a, size_t n, int create)
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

int h1_origin_has_addrs(const h1_origin *o)
{
    return o->naddrs > 0 && (o->numeric || sy_clock_mono_us() < o->addrs_until_us);
}

void h1_waiting_unlink(rt_h1_call *c)
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
    h1_enter(h);
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
            h1_waiting_unlink(c);
            c->addr = 0;
            c->addr_tries = 0;
            h1_call_connect(c);
            continue;
        }
        snprintf(c->errbuf, sizeof(c->errbuf), "could not resolve host: %s (%s)", o->host,
                 result ? evutil_gai_strerror(result) : "no IPv4 or IPv6 address");
        h1_call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf); /* takes it off the list */
    }
    h1_leave(h);
}

/* Start resolving o's name (the caller is on o->waiting). */
void h1_origin_resolve(rt_h1 *h, h1_origin *o)
{
    if (o->lookup)
        return;
    if (!h->dns)
        h->dns = sy_dns_new(h->base);
    h1_lookup *lk = h->dns ? calloc(1, sizeof(*lk)) : NULL;
    if (!lk) {
        while (o->waiting) /* h1_call_fail takes each off the list */
            h1_call_fail(o->waiting, RT_CALL_CONNECT_ERROR, "could not resolve host: no resolver");
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
