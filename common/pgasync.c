/*
 * pgasync: non-blocking libpq connection pool on libevent (see pgasync.h).
 *
 * Connection states (each connection is owned by the pool's array):
 *   PC_DOWN        no socket; the retry timer reconnects after a backoff
 *   PC_RESOLVING   the URL's host names are being resolved on the loop (evdns), so that
 *                  libpq gets hostaddr and never calls the blocking getaddrinfo(); the
 *                  connect deadline covers it
 *   PC_CONNECTING  PQconnectPoll driven on the socket; connect deadline
 *   PC_IDLE        waiting for work; the socket is watched for a server close
 *   PC_BUSY        one query sent (c->q), collecting its result; query deadline
 * Waiting queries are owned by the pool's FIFO until a connection takes one.
 */
#include "common/pgasync.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/clock.h"
#include "common/dns.h"
#include "common/pg.h"

enum pc_state { PC_DOWN, PC_RESOLVING, PC_CONNECTING, PC_IDLE, PC_BUSY };

static const char *const pc_state_names[] = {"down", "resolving", "connecting", "idle", "busy"};

#define PG_MAX_HOSTS 8 /* host=a,b,...: libpq's multi-host lists */
#define PG_ADDR_MAX 64 /* an IPv6 literal with room */

struct pgc;

/* One name being resolved for a connection; freed by its callback (a cancelled one
 * too: c is NULL then). */
struct pg_lookup {
    struct pgc *c;
    int host;
    struct evdns_getaddrinfo_request *req;
};

struct pgq {
    struct pgq *next;
    const char *sql;
    int nparams;
    const char *const *params;
    sy_pg_cb cb;
    void *arg;
    int64_t deadline_us;
};

struct pgc {
    sy_pgpool *pool;
    int idx;
    enum pc_state st;
    PGconn *conn;
    struct event *ev;    /* socket watcher (fd may change while connecting) */
    evutil_socket_t evfd;
    short evwhat;
    struct event *retry; /* reconnect timer */
    struct sy_backoff bo;
    int64_t deadline_us; /* connect or query deadline */
    struct pgq *q;       /* running query (PC_BUSY) */
    PGresult *last;      /* last result of the running query */
    int flushing;        /* PQflush returned 1: also wait for writability */
    /* PC_RESOLVING */
    struct pg_lookup *lookups[PG_MAX_HOSTS];
    int pending;                           /* lookups not answered yet */
    char addrs[PG_MAX_HOSTS][PG_ADDR_MAX]; /* per host: its address, or "" */
    char resolve_err[256];
};

struct sy_pgpool {
    struct event_base *base;
    char *url;
    sy_pgpool_opts o;
    struct pgc *conns;
    struct pgq *head, *tail;
    int nwait;
    struct event *janitor;
    int freeing;
    /* the URL's hosts (host=, or $PGHOST) when they need resolving: nhosts > 0 */
    int nhosts;
    char hosts[PG_MAX_HOSTS][256];
    int numeric[PG_MAX_HOSTS]; /* an IP literal or a socket path: passed as is */
    struct evdns_base *dns;    /* made on the first name */
};

const char *sy_pg_status_str(sy_pg_status s)
{
    switch (s) {
    case SY_PG_OK: return "ok";
    case SY_PG_ERROR: return "error";
    case SY_PG_UNAVAILABLE: return "unavailable";
    }
    return "?";
}

void sy_pgpool_opts_default(sy_pgpool_opts *o)
{
    o->size = 4;
    o->queue_max = 64;
    o->query_timeout_ms = 10000;
    o->connect_timeout_ms = 5000;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 5000;
    o->application_name = "switchyard";
}

static void conn_start(struct pgc *c);
static void on_socket(evutil_socket_t fd, short what, void *arg);
static void dispatch(sy_pgpool *p);

/* ---------- helpers ---------- */

static void one_line(const char *in, char *out, size_t outlen)
{
    size_t j = 0;
    for (const char *s = in ? in : ""; *s && j + 3 < outlen; s++) {
        if (*s == '\n') {
            if (s[1])
                out[j++] = ';', out[j++] = ' ';
        } else {
            out[j++] = *s;
        }
    }
    while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == ';'))
        j--;
    out[j] = '\0';
}

static void watch(struct pgc *c, short what)
{
    evutil_socket_t fd = c->conn ? PQsocket(c->conn) : -1;
    if (c->ev && c->evfd == fd && c->evwhat == what)
        return;
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    if (fd < 0 || !what)
        return;
    c->ev = event_new(c->pool->base, fd, what | EV_PERSIST, on_socket, c);
    c->evfd = fd;
    c->evwhat = what;
    if (c->ev)
        event_add(c->ev, NULL);
}

static int nup(const sy_pgpool *p)
{
    int n = 0;
    for (int i = 0; i < p->o.size; i++)
        n += p->conns[i].st == PC_IDLE || p->conns[i].st == PC_BUSY;
    return n;
}

static int nconnecting(const sy_pgpool *p)
{
    int n = 0;
    for (int i = 0; i < p->o.size; i++)
        n += p->conns[i].st == PC_CONNECTING || p->conns[i].st == PC_RESOLVING;
    return n;
}

static struct pgq *queue_pop(sy_pgpool *p)
{
    struct pgq *q = p->head;
    if (q) {
        p->head = q->next;
        if (!p->head)
            p->tail = NULL;
        p->nwait--;
        q->next = NULL;
    }
    return q;
}

static void queue_push_front(sy_pgpool *p, struct pgq *q)
{
    q->next = p->head;
    p->head = q;
    if (!p->tail)
        p->tail = q;
    p->nwait++;
}

static void fail_query(struct pgq *q, const char *why)
{
    q->cb(q->arg, SY_PG_UNAVAILABLE, NULL, why);
    free(q);
}

/* No connection up and none on its way: nothing queued can be served soon. */
static void fail_waiting_if_down(sy_pgpool *p, const char *why)
{
    if (nup(p) || nconnecting(p))
        return;
    struct pgq *q;
    while ((q = queue_pop(p)) != NULL)
        fail_query(q, why);
}

/* ---------- connection life ---------- */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_start(arg);
}

static void lookups_cancel(struct pgc *c)
{
    for (int i = 0; i < PG_MAX_HOSTS; i++) {
        struct pg_lookup *lk = c->lookups[i];
        if (!lk)
            continue;
        c->lookups[i] = NULL;
        lk->c = NULL; /* its callback frees it */
        if (lk->req)
            evdns_getaddrinfo_cancel(lk->req);
    }
    c->pending = 0;
}

static void conn_close(struct pgc *c)
{
    lookups_cancel(c);
    watch(c, 0);
    if (c->last) {
        PQclear(c->last);
        c->last = NULL;
    }
    if (c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    c->flushing = 0;
    c->st = PC_DOWN;
}

/* Close, schedule a reconnect, fail the running query. Never frees c. */
static void conn_fail(struct pgc *c, const char *reason)
{
    sy_pgpool *p = c->pool;
    char why[512];
    enum pc_state was = c->st;
    if (c->conn && reason == NULL) {
        sy_pg_error(c->conn, why, sizeof(why));
        reason = why;
    }
    struct pgq *q = c->q;
    c->q = NULL;
    conn_close(c);
    if (!p->freeing) {
        long ms = sy_backoff_next(&c->bo);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(c->retry, &tv);
        char conn[16], retry[24];
        snprintf(conn, sizeof(conn), "%d", c->idx);
        snprintf(retry, sizeof(retry), "%ld", ms);
        sy_log_kv(SY_WARN, "database connection failed", "conn", conn, "state",
                  pc_state_names[was], "reason", reason ? reason : "unknown", "retry_ms", retry,
                  NULL);
    }
    if (q) {
        char msg[600];
        snprintf(msg, sizeof(msg), "database connection lost: %s", reason ? reason : "unknown");
        fail_query(q, msg);
    }
    if (!p->freeing)
        fail_waiting_if_down(p, "database unavailable: no connection");
}

/* libpq connects; hostaddr (the resolved addresses, one per host, "" where the host is
 * numeric or a socket) keeps it from resolving anything itself. */
static void conn_connect(struct pgc *c, const char *hostaddr)
{
    sy_pgpool *p = c->pool;
    /* the server gives up at the same deadline (the URL's own options win: later keys
     * override earlier ones, and hostaddr is only added when the URL has none) */
    char options[64];
    snprintf(options, sizeof(options), "-c statement_timeout=%d", p->o.query_timeout_ms);
    const char *keys[] = {"options", "application_name", "dbname", "hostaddr", NULL};
    const char *vals[] = {options, p->o.application_name, p->url, hostaddr, NULL};
    if (!hostaddr)
        keys[3] = NULL;
    c->conn = PQconnectStartParams(keys, vals, 1);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        conn_fail(c, c->conn ? NULL : "out of memory");
        return;
    }
    c->st = PC_CONNECTING;
    watch(c, EV_WRITE);
}

/* Every name answered. One that did not resolve fails the attempt (it is retried with
 * backoff): libpq would otherwise resolve it itself, blocking. */
static void resolved_all(struct pgc *c)
{
    sy_pgpool *p = c->pool;
    char hostaddr[PG_MAX_HOSTS * (PG_ADDR_MAX + 1)];
    size_t n = 0;
    for (int i = 0; i < p->nhosts; i++) {
        if (!p->numeric[i] && !c->addrs[i][0]) {
            conn_fail(c, c->resolve_err[0] ? c->resolve_err : "could not resolve the database host");
            return;
        }
        n += (size_t)snprintf(hostaddr + n, sizeof(hostaddr) - n, "%s%s", i ? "," : "",
                              p->numeric[i] ? "" : c->addrs[i]);
    }
    conn_connect(c, hostaddr);
}

static void on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
    struct pg_lookup *lk = arg;
    struct pgc *c = lk->c;
    int host = lk->host;
    free(lk);
    if (!c) { /* cancelled: the connection closed meanwhile */
        if (ai)
            evutil_freeaddrinfo(ai);
        return;
    }
    c->lookups[host] = NULL;
    c->pending--;
    for (struct evutil_addrinfo *a = ai; result == 0 && a; a = a->ai_next) {
        const void *src = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                          : a->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                              : NULL;
        if (src && inet_ntop(a->ai_family, src, c->addrs[host], PG_ADDR_MAX))
            break;
        c->addrs[host][0] = '\0';
    }
    if (ai)
        evutil_freeaddrinfo(ai);
    if (!c->addrs[host][0])
        snprintf(c->resolve_err, sizeof(c->resolve_err), "could not resolve host %s: %s",
                 c->pool->hosts[host],
                 result ? evutil_gai_strerror(result) : "no IPv4 or IPv6 address");
    if (c->pending == 0 && c->st == PC_RESOLVING)
        resolved_all(c);
}

static void conn_start(struct pgc *c)
{
    sy_pgpool *p = c->pool;
    c->deadline_us = sy_clock_mono_us() + (int64_t)p->o.connect_timeout_ms * 1000;
    if (p->nhosts == 0) {
        conn_connect(c, NULL);
        return;
    }
    if (!p->dns && !(p->dns = sy_dns_new(p->base))) {
        conn_fail(c, "could not resolve the database host: no resolver");
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    c->st = PC_RESOLVING;
    c->resolve_err[0] = '\0';
    c->pending = 0;
    for (int i = 0; i < p->nhosts; i++) {
        c->addrs[i][0] = '\0';
        c->pending += !p->numeric[i];
    }
    for (int i = 0; i < p->nhosts && c->st == PC_RESOLVING; i++) {
        if (p->numeric[i])
            continue;
        struct pg_lookup *lk = calloc(1, sizeof(*lk));
        if (!lk) {
            conn_fail(c, "out of memory");
            return;
        }
        lk->c = c;
        lk->host = i;
        c->lookups[i] = lk;
        /* answers from /etc/hosts come back before this returns */
        struct evdns_getaddrinfo_request *req =
            evdns_getaddrinfo(p->dns, p->hosts[i], NULL, &hints, on_resolved, lk);
        if (c->lookups[i] == lk) /* else on_resolved ran already and freed lk */
            lk->req = req;
    }
}

/* Which hosts of the URL (or $PGHOST) are names to resolve here. Socket paths, IP
 * literals and a URL that gives hostaddr itself are left to libpq, which does not
 * resolve them. */
static void find_hosts(sy_pgpool *p)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(p->url, &err);
    const char *host = NULL, *hostaddr = NULL;
    p->nhosts = 0;
    if (!opts) {
        PQfreemem(err); /* libpq reports it when connecting */
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "host") && o->val && *o->val)
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr") && o->val && *o->val)
            hostaddr = o->val;
    }
    if (!host)
        host = getenv("PGHOST");
    if (!hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    if (host && *host && !(hostaddr && *hostaddr)) {
        int any_name = 0;
        for (const char *h = host; p->nhosts < PG_MAX_HOSTS;) {
            size_t n = strcspn(h, ",");
            char *dst = p->hosts[p->nhosts];
            if (n >= sizeof(p->hosts[0]))
                n = sizeof(p->hosts[0]) - 1;
            memcpy(dst, h, n);
            dst[n] = '\0';
            unsigned char buf[sizeof(struct in6_addr)];
            p->numeric[p->nhosts] = !*dst || dst[0] == '/' || dst[0] == '@' ||
                                    inet_pton(AF_INET, dst, buf) == 1 ||
                                    inet_pton(AF_INET6, dst, buf) == 1;
            any_name |= !p->numeric[p->nhosts];
            p->nhosts++;
            if (!h[n])
                break;
            h += n + 1;
        }
        if (!any_name)
            p->nhosts = 0; /* nothing to resolve: libpq as is */
    }
    PQconninfoFree(opts);
}

/* While connecting, libpq may close its socket and open another one (the next host of a
 * multi-host URL, e.g. past a standby that target_session_attrs=read-write refuses); the
 * new socket often gets the same number, and epoll forgot the closed one: register it
 * afresh at every step. */
static void watch_fresh(struct pgc *c, short what)
{
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    watch(c, what);
}

static void connect_step(struct pgc *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING: watch_fresh(c, EV_READ); return;
    case PGRES_POLLING_WRITING: watch_fresh(c, EV_WRITE); return;
    case PGRES_POLLING_FAILED: conn_fail(c, NULL); return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->conn, 1) != 0) {
            conn_fail(c, NULL);
            return;
        }
        c->st = PC_IDLE;
        sy_backoff_reset(&c->bo);
        sy_log(SY_INFO, "database connected", "conn=%d", c->idx);
        watch(c, EV_READ);
        dispatch(c->pool);
        return;
    default: return;
    }
}

/* ---------- queries ---------- */

static void flush(struct pgc *c)
{
    int r = PQflush(c->conn);
    if (r < 0) {
        conn_fail(c, NULL);
        return;
    }
    c->flushing = r == 1;
    watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
}

static int send_query(struct pgc *c, struct pgq *q)
{
    if (!PQsendQueryParams(c->conn, q->sql, q->nparams, NULL, q->params, NULL, NULL, 0))
        return -1;
    c->q = q;
    c->st = PC_BUSY;
    c->deadline_us = q->deadline_us;
    flush(c);
    return 0;
}

static void dispatch(sy_pgpool *p)
{
    for (int i = 0; i < p->o.size && p->head; i++) {
        struct pgc *c = &p->conns[i];
        if (c->st != PC_IDLE)
            continue;
        struct pgq *q = queue_pop(p);
        if (send_query(c, q)) {
            /* not sent, so not run: it goes back first in line */
            queue_push_front(p, q);
            conn_fail(c, NULL);
        }
    }
}

static void complete(struct pgc *c)
{
    struct pgq *q = c->q;
    PGresult *res = c->last;
    c->q = NULL;
    c->last = NULL;
    c->st = PC_IDLE;
    watch(c, EV_READ);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        q->cb(q->arg, SY_PG_OK, res, NULL);
    } else {
        char why[512];
        one_line(res ? PQresultErrorMessage(res) : "no result", why, sizeof(why));
        q->cb(q->arg, SY_PG_ERROR, res, why);
        /* 25006 read_only_sql_transaction: this server is (now) a standby. The session
         * is of no use for writes: drop it, and the reconnect (target_session_attrs in
         * the URL) finds the primary. */
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (state && !strcmp(state, "25006")) {
            free(q);
            PQclear(res);
            conn_fail(c, "the server is read-only (a standby)");
            dispatch(c->pool);
            return;
        }
    }
    free(q);
    PQclear(res);
    dispatch(c->pool);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct pgc *c = arg;
    (void)fd;
    switch (c->st) {
    case PC_CONNECTING:
        connect_step(c);
        return;
    case PC_IDLE:
        /* Nothing is expected: a readable socket means the server closed it or sent a
         * notice; PQconsumeInput tells which. */
        if (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD) {
            conn_fail(c, NULL);
            return;
        }
        while (!PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (!r)
                break;
            PQclear(r);
        }
        return;
    case PC_BUSY:
        if ((what & EV_READ) && !PQconsumeInput(c->conn)) {
            conn_fail(c, NULL);
            return;
        }
        if (c->flushing) {
            flush(c);
            if (c->st != PC_BUSY)
                return;
        }
        while (!PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (!r) {
                complete(c);
                return;
            }
            if (c->last)
                PQclear(c->last);
            c->last = r;
        }
        if (PQstatus(c->conn) == CONNECTION_BAD)
            conn_fail(c, NULL);
        return;
    case PC_DOWN:
    case PC_RESOLVING:
        return;
    }
}

/* Deadlines: waiting queries, connect attempts, running queries. */
static void on_janitor(evutil_socket_t fd, short what, void *arg)
{
    sy_pgpool *p = arg;
    (void)fd;
    (void)what;
    int64_t now = sy_clock_mono_us();
    while (p->head && p->head->deadline_us <= now) {
        struct pgq *q = queue_pop(p);
        fail_query(q, "database busy: timed out waiting for a connection");
    }
    for (int i = 0; i < p->o.size; i++) {
        struct pgc *c = &p->conns[i];
        if (c->st == PC_RESOLVING && c->deadline_us <= now)
            conn_fail(c, "connect timeout (resolving the database host)");
        else if (c->st == PC_CONNECTING && c->deadline_us <= now)
            conn_fail(c, "connect timeout");
        else if (c->st == PC_BUSY && c->deadline_us <= now)
            conn_fail(c, "query timeout");
    }
}

int sy_pgpool_query(sy_pgpool *p, const char *sql, int nparams, const char *const *params,
                    sy_pg_cb cb, void *arg, const char **why)
{
    if (!nup(p) && !nconnecting(p)) {
        *why = "database unavailable: no connection";
        return -1;
    }
    int idle = 0;
    for (int i = 0; i < p->o.size; i++)
        idle += p->conns[i].st == PC_IDLE;
    if (!idle && p->nwait >= p->o.queue_max) {
        *why = "database busy: too many requests waiting";
        return -1;
    }
    struct pgq *q = calloc(1, sizeof(*q));
    if (!q) {
        *why = "out of memory";
        return -1;
    }
    q->sql = sql;
    q->nparams = nparams;
    q->params = params;
    q->cb = cb;
    q->arg = arg;
    q->deadline_us = sy_clock_mono_us() + (int64_t)p->o.query_timeout_ms * 1000;
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->nwait++;
    dispatch(p);
    return 0;
}

int sy_pgpool_connected(const sy_pgpool *p) { return nup(p); }
int sy_pgpool_waiting(const sy_pgpool *p) { return p->nwait; }

int sy_pgpool_running(const sy_pgpool *p)
{
    int n = 0;
    for (int i = 0; i < p->o.size; i++)
        n += p->conns[i].st == PC_BUSY;
    return n;
}

sy_pgpool *sy_pgpool_new(struct event_base *base, const char *url, const sy_pgpool_opts *o)
{
    sy_pgpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    if (o)
        p->o = *o;
    else
        sy_pgpool_opts_default(&p->o);
    if (p->o.size < 1)
        p->o.size = 1;
    p->url = strdup(url);
    p->conns = calloc((size_t)p->o.size, sizeof(*p->conns));
    p->janitor = event_new(base, -1, EV_PERSIST, on_janitor, p);
    if (!p->url || !p->conns || !p->janitor)
        goto fail;
    for (int i = 0; i < p->o.size; i++) {
        struct pgc *c = &p->conns[i];
        c->pool = p;
        c->idx = i;
        c->evfd = -1;
        sy_backoff_init(&c->bo, p->o.backoff_min_ms, p->o.backoff_max_ms);
        c->retry = evtimer_new(base, on_retry, c);
        if (!c->retry)
            goto fail;
    }
    find_hosts(p);
    struct timeval tv = {0, 100000};
    event_add(p->janitor, &tv);
    for (int i = 0; i < p->o.size; i++)
        conn_start(&p->conns[i]);
    return p;
fail:
    sy_pgpool_free(p);
    return NULL;
}

void sy_pgpool_free(sy_pgpool *p)
{
    if (!p)
        return;
    p->freeing = 1;
    for (int i = 0; p->conns && i < p->o.size; i++) {
        struct pgc *c = &p->conns[i];
        struct pgq *q = c->q;
        c->q = NULL;
        conn_close(c);
        if (c->retry)
            event_free(c->retry);
        if (q)
            fail_query(q, "shutting down");
    }
    struct pgq *q;
    while ((q = queue_pop(p)) != NULL)
        fail_query(q, "shutting down");
    if (p->janitor)
        event_free(p->janitor);
    if (p->dns) /* every lookup was cancelled with its connection */
        evdns_base_free(p->dns, 0);
    free(p->conns);
    free(p->url);
    free(p);
}
