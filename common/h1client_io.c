/*
 * h1client I/O: a call on its connection. Connecting (the origin's addresses in
 * turn, the good one first), writing the request, reading and parsing the
 * response (common/h1resp.c) into the buffer or to on_data, and sending a
 * request again, once, when a reused connection turns out dead.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/h1client_internal.h"
#include "common/log.h"

#define RBUF_INITIAL 8192      /* read buffer; grows (up to the head limit) for a big head */
#define RESP_INITIAL 4096
#define DEFAULT_CONNECT_TIMEOUT_MS 300000 /* curl's, when connect_timeout_ms is 0 */

/* ---------- connecting ---------- */

/* A new connection for c (retries and calls with no idle connection). */
void h1_call_new_connection(rt_h1_call *c)
{
    c->connect_ms =
        c->spec.connect_timeout_ms > 0 ? c->spec.connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->reused = 0;
    c->connect_deadline_us = sy_clock_mono_us() + (int64_t)c->connect_ms * 1000;
    h1_origin *o = c->origin;
    if (h1_origin_has_addrs(o)) {
        c->addr = o->good;
        c->addr_tries = 0;
        h1_call_set_state(c, CALL_CONNECTING);
        h1_call_arm_timer(c);
        h1_call_connect(c);
        return;
    }
    h1_call_set_state(c, CALL_RESOLVING);
    h1_call_arm_timer(c);
    c->wprev = NULL;
    c->wnext = o->waiting;
    if (o->waiting)
        o->waiting->wprev = c;
    o->waiting = c;
    c->waiting = 1;
    h1_origin_resolve(c->h, o);
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
    h1_call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf);
}

/* Connect to c->addr, then the origin's next addresses while they fail at once. */
void h1_call_connect(rt_h1_call *c)
{
    h1_origin *o = c->origin;
    if (c->state != CALL_CONNECTING)
        h1_call_set_state(c, CALL_CONNECTING);
    for (;;) {
        if (c->addr >= o->naddrs)
            c->addr = 0;
        const struct sockaddr *sa = (const struct sockaddr *)&o->addrs[c->addr];
        int err;
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(c->errbuf, sizeof(c->errbuf), "cannot create a socket: %s", strerror(errno));
            h1_call_fail(c, RT_CALL_CONNECT_ERROR, c->errbuf);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int r = connect(fd, sa, o->addr_lens[c->addr]);
        err = r == 0 ? 0 : errno;
        if (r == 0 || err == EINPROGRESS) {
            h1_conn *k = h1_conn_new(c->h, o, fd);
            if (!k) {
                close(fd);
                h1_call_fail(c, RT_CALL_ERROR, "out of memory");
                return;
            }
            k->call = c;
            c->conn = k;
            c->nread = 0;
            if (r == 0) {
                k->state = CONN_ACTIVE;
                o->good = c->addr;
                h1_conn_reading(k, 1);
                h1_call_set_state(c, CALL_SENDING);
                h1_call_arm_timer(c);
                h1_call_send(c);
            } else {
                k->state = CONN_CONNECTING;
                h1_conn_writing(k, 1);
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
        h1_conn_close(k);
        if (++c->addr_tries >= c->origin->naddrs) {
            connect_failed(c, err);
            return;
        }
        c->addr++;
        h1_call_connect(c);
        return;
    }
    c->origin->good = c->addr;
    k->state = CONN_ACTIVE;
    h1_conn_writing(k, 0);
    h1_conn_reading(k, 1);
    h1_call_set_state(c, CALL_SENDING);
    h1_call_arm_timer(c); /* now only the total deadline */
    h1_call_send(c);
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
    h1_call_drop_conn(c);
    c->retried = 1;
    c->req_sent = 0;
    c->rlen = c->rpos = 0;
    c->status = 0;
    rt_h1resp_init(&c->parser);
    h1_call_new_connection(c);
    return 1;
}

/* Write what is left of the request. An answer may start (and even pause)
 * before it is all written: the state moves to RECEIVING only from SENDING. */
void h1_call_send(rt_h1_call *c)
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
            h1_conn_writing(k, 1);
            return;
        }
        int err = n < 0 ? errno : EPIPE;
        if (call_maybe_retry(c))
            return;
        snprintf(c->errbuf, sizeof(c->errbuf), "send failure: %s", strerror(err));
        h1_call_fail(c, RT_CALL_ERROR, c->errbuf);
        return;
    }
    h1_conn_writing(k, 0);
    if (c->state == CALL_SENDING)
        h1_call_set_state(c, CALL_RECEIVING);
}

/* Body bytes: to on_data (streaming) or the buffer. 0: go on; 1: the call
 * stopped (paused, failed, cancelled): leave it alone. */
int h1_call_deliver(rt_h1_call *c, const char *b, size_t n)
{
    if (c->streaming) {
        c->in_cb = 1;
        int rc = c->spec.on_data(b, n, c->spec.arg);
        c->in_cb = 0;
        if (c->cancelled) {
            h1_call_cancel_now(c);
            return 1;
        }
        if (rc > 0) { /* backpressure: stop reading until rt_h1_call_resume() */
            c->pend = b;
            c->pend_len = n;
            h1_conn_reading(c->conn, 0);
            h1_call_set_state(c, CALL_PAUSED);
            return 1;
        }
        if (rc < 0) {
            h1_call_fail(c, RT_CALL_ERROR, "aborted by the receiver");
            return 1;
        }
        return 0;
    }
    if (n > c->spec.max_response_bytes - c->resp_len) {
        h1_call_fail(c, RT_CALL_ERROR, "response exceeds the size limit");
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
            h1_call_fail(c, RT_CALL_ERROR, "out of memory");
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
int h1_call_process(rt_h1_call *c)
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
                    h1_call_fail(c, RT_CALL_ERROR, "response exceeds the size limit");
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
            if (h1_call_deliver(c, b, blen))
                return 1;
            break;
        case RT_H1R_DONE:
            h1_call_complete(c);
            return 1;
        case RT_H1R_ERROR:
            h1_call_fail(c, RT_CALL_ERROR, c->parser.error);
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
            h1_call_fail(c, RT_CALL_ERROR, "out of memory");
            return;
        }
        c->rbuf = r;
        c->rcap = cap;
    }
    ssize_t n = recv(c->conn->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (n > 0) {
        c->rlen += (size_t)n;
        c->nread += (size_t)n;
        h1_call_process(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int err = n < 0 ? errno : 0;
    if (call_maybe_retry(c))
        return;
    if (err) {
        snprintf(c->errbuf, sizeof(c->errbuf), "recv failure: %s", strerror(err));
        h1_call_fail(c, RT_CALL_ERROR, c->errbuf);
        return;
    }
    if (c->nread == 0) {
        h1_call_fail(c, RT_CALL_ERROR, "empty reply from server");
        return;
    }
    if (rt_h1resp_eof(&c->parser) == RT_H1R_DONE) {
        h1_call_complete(c); /* a close-delimited body ended (conn not reusable) */
        return;
    }
    h1_call_fail(c, RT_CALL_ERROR, c->parser.error);
}

/* ---------- the connection's events ---------- */

/* Both of a connection's events (rev: EV_READ, wev: EV_WRITE) come here. */
void h1_conn_on_io(evutil_socket_t fd, short what, void *arg)
{
    h1_conn *k = arg;
    rt_h1 *h = k->h;
    (void)fd;
    h1_enter(h);
    if (what & EV_READ) {
        if (k->state == CONN_IDLE)
            h1_idle_readable(k);
        else if (k->call)
            call_readable(k->call);
    } else if (k->state == CONN_CONNECTING) {
        conn_connected(k);
    } else if (k->call && k->call->req_sent < k->call->req_len) {
        h1_call_send(k->call);
    } else {
        h1_conn_writing(k, 0);
    }
    h1_leave(h);
}
