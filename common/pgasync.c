/*
 * pgasync: non-blocking libpq connection pool on libevent (see pgasync.h).
 *
 * Connection states (each connection is owned by the pool's array):
 *   PC_DOWN        no socket; the retry timer reconnects after a backoff
 *   PC_CONNECTING  PQconnectPoll driven on the socket; connect deadline
 *   PC_IDLE        waiting for work; the socket is watched for a server close
 *   PC_BUSY        one query sent (c->q), collecting its result; query deadline
 * Waiting queries are owned by the pool's FIFO until a connection takes one.
 */
#include "common/pgasync.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/clock.h"
#include "common/pg.h"

enum pc_state { PC_DOWN, PC_CONNECTING, PC_IDLE, PC_BUSY };

static const char *const pc_state_names[] = {"down", "connecting", "idle", "busy"};

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
        n += p->conns[i].st == PC_CONNECTING;
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

static void conn_close(struct pgc *c)
{
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

static void conn_start(struct pgc *c)
{
    sy_pgpool *p = c->pool;
    /* the server gives up at the same deadline (the URL's own options win: later keys
     * override earlier ones) */
    char options[64];
    snprintf(options, sizeof(options), "-c statement_timeout=%d", p->o.query_timeout_ms);
    const char *keys[] = {"options", "application_name", "dbname", NULL};
    const char *vals[] = {options, p->o.application_name, p->url, NULL};
    c->conn = PQconnectStartParams(keys, vals, 1);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        conn_fail(c, c->conn ? NULL : "out of memory");
        return;
    }
    c->st = PC_CONNECTING;
    c->deadline_us = sy_clock_mono_us() + (int64_t)p->o.connect_timeout_ms * 1000;
    watch(c, EV_WRITE);
}

static void connect_step(struct pgc *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING: watch(c, EV_READ); return;
    case PGRES_POLLING_WRITING: watch(c, EV_WRITE); return;
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
        if (c->st == PC_CONNECTING && c->deadline_us <= now)
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
    free(p->conns);
    free(p->url);
    free(p);
}
