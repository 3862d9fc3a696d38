/*
 * httpd: HTTP/1.1 server on libevent bufferevents. See httpd.h for the model,
 * httpd_internal.h for the files. This file: the listener and the connections.
 *
 * A connection is a small state machine:
 *
 *   IDLE --first byte--> HEAD --head parsed--> BODY --body complete--> HANDLER
 *     ^                                                                   |
 *     +------------- reply written (keep-alive) <--- STREAM <-------------+
 *                                                       |
 *                      CLOSING (flush output, then free) <-- errors, Connection: close
 *
 * One timer per connection enforces the deadline of the current state:
 * idle (keep-alive), head, body. HANDLER and STREAM have no server deadline
 * (the handler owns its upstream deadlines); a stalled write is caught by
 * the bufferevent write timeout.
 */
#include "common/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/httpd_internal.h"
#include "common/log.h"

static const char *const state_names[] = {"idle", "head", "body", "handler", "stream", "closing"};

void sy_httpd_limits_default(sy_httpd_limits *lim)
{
    lim->max_header_bytes = 16 * 1024;
    lim->max_body_bytes = 1024 * 1024;
    lim->max_conns = 4096;
    lim->header_timeout_ms = 10000;
    lim->body_timeout_ms = 30000;
    lim->idle_timeout_ms = 60000;
    lim->write_timeout_ms = 30000;
}

static void timer_arm(struct conn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* ---------- connection state machine ---------- */

#define LINGER_MS 2000

static void conn_half_close(struct conn *c)
{
    if (c->half_closed)
        return;
    c->half_closed = 1;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    evtimer_del(c->timer);
    timer_arm(c, LINGER_MS);
}

void httpd_conn_set_state(struct conn *c, enum conn_state st)
{
    sy_httpd *srv = c->srv;
    evtimer_del(c->timer);
    c->state = st;
    switch (st) {
    case CS_IDLE:
        timer_arm(c, srv->lim.idle_timeout_ms);
        break;
    case CS_HEAD:
        timer_arm(c, srv->lim.header_timeout_ms);
        break;
    case CS_BODY:
        timer_arm(c, srv->lim.body_timeout_ms);
        break;
    case CS_HANDLER:
    case CS_STREAM:
        break;
    case CS_CLOSING:
        /* Flush the output, then half-close and discard input until the
         * peer closes (lingering close): closing with unread request bytes
         * would make the kernel send RST and destroy our reply in flight. */
        bufferevent_enable(c->bev, EV_READ);
        timer_arm(c, srv->lim.write_timeout_ms);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_half_close(c);
        break;
    }
}

/* Returns 1 if progress was made. */
static int conn_step(struct conn *c)
{
    sy_httpd *srv = c->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t avail = evbuffer_get_length(in);

    switch (c->state) {
    case CS_IDLE:
        /* tolerate empty lines between pipelined requests (RFC 9112 2.2) */
        while (avail > 0) {
            unsigned char ch;
            evbuffer_copyout(in, &ch, 1);
            if (ch != '\r' && ch != '\n')
                break;
            evbuffer_drain(in, 1);
            avail--;
        }
        if (avail == 0)
            return 0;
        httpd_conn_set_state(c, CS_HEAD);
        return 1;

    case CS_HEAD: {
        struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (pos.pos < 0) {
            if (avail > srv->lim.max_header_bytes)
                httpd_framework_error(c, 431, "headers_too_large",
                                      "request head exceeds the limit of %zu bytes",
                                      srv->lim.max_header_bytes);
            return 0;
        }
        size_t head_len = (size_t)pos.pos + 4;
        if (head_len > srv->lim.max_header_bytes) {
            httpd_framework_error(c, 431, "headers_too_large",
                                  "request head exceeds the limit of %zu bytes",
                                  srv->lim.max_header_bytes);
            return 0;
        }
        sy_http_req *req = httpd_req_new();
        char *head = malloc(head_len + 1);
        if (!req || !head) {
            free(req);
            free(head);
            c->dead = 1;
            return 0;
        }
        evbuffer_remove(in, head, head_len);
        head[head_len] = '\0';
        req->head = head;
        req->srv = srv;
        req->conn = c;
        req->minor = 1;
        memcpy(req->peer, c->peer, sizeof(req->peer));
        c->req = req;
        const char *why = "NUL byte in request head", *code = "bad_request";
        /* httpd_parse_head works on C strings: a NUL would end a line before its CRLF */
        int status = memchr(head, '\0', head_len) ? 400 : httpd_parse_head(req, c, &why, &code);
        if (status) {
            httpd_framework_error(c, status, code, "%s", why);
            return 0;
        }
        httpd_conn_set_state(c, CS_BODY);
        return 1;
    }

    case CS_BODY: {
        if (avail < c->content_length)
            return 0;
        sy_http_req *req = c->req;
        req->body = malloc(c->content_length + 1);
        if (!req->body) {
            c->dead = 1;
            return 0;
        }
        evbuffer_remove(in, req->body, c->content_length);
        req->body[c->content_length] = '\0';
        req->body_len = c->content_length;
        httpd_conn_set_state(c, CS_HANDLER);
        srv->nactive++;
        srv->handler(req, srv->arg);
        return 1;
    }

    case CS_HANDLER:
    case CS_STREAM:
        /* Pipelined input waits; stop reading if it piles up, but keep a
         * small window so a close from the client is still seen. */
        if (avail > srv->lim.max_header_bytes + srv->lim.max_body_bytes)
            bufferevent_disable(c->bev, EV_READ);
        return 0;

    case CS_CLOSING:
        evbuffer_drain(in, avail);
        return 0;
    }
    return 0;
}

void httpd_conn_process(struct conn *c)
{
    c->in_process = 1;
    while (!c->dead && conn_step(c))
        ;
    c->in_process = 0;
    if (c->dead)
        httpd_conn_free(c);
}

void httpd_conn_free(struct conn *c)
{
    sy_httpd *srv = c->srv;
    sy_http_req *req = c->req;

    if (req) {
        /* The handler still has it: detach, tell it, let it finish. */
        if (c->state == CS_HANDLER || c->state == CS_STREAM) {
            req->conn = NULL;
            req->client_gone = 1;
            c->req = NULL;
            if (req->close_cb)
                req->close_cb(req, req->close_arg);
        } else {
            c->req = NULL;
            httpd_req_free(req);
        }
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->timer);
    bufferevent_free(c->bev);
    free(c);
    srv->nconns--;
    if (srv->accepting && srv->listener && srv->nconns == srv->lim.max_conns - 1)
        evconnlistener_enable(srv->listener);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    httpd_conn_process(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
    if (c->state == CS_CLOSING) {
        if (pending == 0)
            conn_half_close(c);
        return;
    }
    if (c->req && c->req->drain_cb) {
        c->in_process = 1;
        c->req->drain_cb(c->req, c->req->drain_arg);
        c->in_process = 0;
        if (c->dead)
            httpd_conn_free(c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (c->state == CS_HANDLER || c->state == CS_STREAM)
            sy_log(SY_DEBUG, "client went away", "peer=%s state=%s", c->peer,
                   state_names[c->state]);
        if (c->in_process)
            c->dead = 1;
        else
            httpd_conn_free(c);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    switch (c->state) {
    case CS_HEAD:
        c->in_process = 1;
        httpd_framework_error(c, 408, "request_timeout", "request head not received within %d ms",
                              c->srv->lim.header_timeout_ms);
        c->in_process = 0;
        break;
    case CS_BODY:
        c->in_process = 1;
        httpd_framework_error(c, 408, "request_timeout", "request body not received within %d ms",
                              c->srv->lim.body_timeout_ms);
        c->in_process = 0;
        break;
    default: /* idle keep-alive, or a close that could not flush */
        c->dead = 1;
        break;
    }
    if (c->dead)
        httpd_conn_free(c);
}

/* Make fd (connected, non-blocking) a client connection in the idle state.
 * Takes ownership of fd. Returns 0, or -1 (fd closed). */
static int conn_adopt(sy_httpd *srv, evutil_socket_t fd, const struct sockaddr *sa)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        evutil_closesocket(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->srv = srv;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(srv->base, on_timer, c);
    if (!c->bev || !c->timer) {
        if (c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->timer)
            event_free(c->timer);
        free(c);
        return -1;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip, ntohs(in6->sin6_port));
    }
    struct timeval wt = {srv->lim.write_timeout_ms / 1000, (srv->lim.write_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (srv->nconns >= srv->lim.max_conns && srv->listener)
        evconnlistener_disable(srv->listener);
    httpd_conn_set_state(c, CS_IDLE);
    return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    (void)conn_adopt(arg, fd, sa);
}

int sy_httpd_serve_fd(sy_httpd *srv, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0) {
        evutil_closesocket(fd);
        return -1;
    }
    return conn_adopt(srv, fd, (const struct sockaddr *)&ss);
}

/* ---------- server ---------- */

sy_httpd *sy_httpd_new(struct event_base *base, const sy_httpd_limits *lim,
                       sy_http_handler handler, void *arg)
{
    sy_httpd *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->base = base;
    if (lim)
        srv->lim = *lim;
    else
        sy_httpd_limits_default(&srv->lim);
    srv->handler = handler;
    srv->arg = arg;
    return srv;
}

void sy_httpd_set_error_fn(sy_httpd *srv, sy_http_error_fn fn)
{
    srv->error_fn = fn;
}

int sy_httpd_listen(sy_httpd *srv, const char *host, int port, int reuseport, int *bound_port)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (rc != 0) {
        sy_log(SY_ERROR, "cannot resolve listen address", "host=%s reason=%s", host ? host : "*",
               gai_strerror(rc));
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (reuseport)
        flags |= LEV_OPT_REUSEABLE_PORT;
    srv->listener = evconnlistener_new_bind(srv->base, on_accept, srv, flags, 1024, res->ai_addr,
                                            (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (!srv->listener) {
        sy_log_kv(SY_ERROR, "cannot listen", "host", host ? host : "*", "port", portstr, "reason",
                  strerror(errno), NULL);
        return -1;
    }
    if (bound_port) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &sl);
        *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    srv->accepting = 1;
    return 0;
}

void sy_httpd_stop_accepting(sy_httpd *srv)
{
    srv->accepting = 0;
    if (srv->listener) {
        evconnlistener_free(srv->listener);
        srv->listener = NULL;
    }
    /* idle keep-alive connections have nothing to finish: close them now */
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CS_IDLE && !c->in_process)
            httpd_conn_free(c);
        else
            c->keepalive = 0;
    }
}

int sy_httpd_active_requests(const sy_httpd *srv) { return srv->nactive; }
int sy_httpd_open_conns(const sy_httpd *srv) { return srv->nconns; }

void sy_httpd_free(sy_httpd *srv)
{
    if (!srv)
        return;
    if (srv->listener)
        evconnlistener_free(srv->listener);
    while (srv->conns)
        httpd_conn_free(srv->conns);
    free(srv);
}
