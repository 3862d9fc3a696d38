/*
 * libFuzzer target: the HTTP/1.1 server (common/httpd.c) end to end, in process.
 *
 * Each input is one client connection: a socketpair whose one end the server
 * adopts with sy_httpd_serve_fd() and whose other end a client bufferevent
 * writes the input bytes to. Byte 0 is control, the rest is what the client
 * sends:
 *   bit 0     the client shuts down its write side once everything is sent
 *             (else it keeps the connection open until the server closes it,
 *             so the idle/head/body timeouts and the lingering close run);
 *   bits 1-3  the handler's first mode; the n-th request on the connection
 *             uses mode (first + n) % NMODES: reply, error reply, stream,
 *             abort, deferred reply, deferred stream end, 204, echo of parsed parts.
 * Limits are small (4 KiB head, 8 KiB body, millisecond timeouts) so 408, 413
 * and 431 are in reach. The loop runs until the connection is gone on both
 * sides and no request is left with the handler; a timer bounds it.
 *
 * Invariants beyond "no crash, no leak": what the handler sees is well formed
 * (method of token characters, path starting with '/', no CR/LF/NUL in header
 * values, body length equal to Content-Length), every response starts with
 * "HTTP/1.1 ", and no request is still active once the connection is gone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/httpd.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { M_REPLY, M_ERROR, M_STREAM, M_ABORT, M_DEFER_REPLY, M_DEFER_STREAM, M_NO_CONTENT, M_ECHO,
       NMODES };

/* One run (one input). The server handles one request per connection at a
 * time, so at most one request is ever deferred. */
static struct run {
    struct event_base *base;
    sy_httpd *srv;
    struct bufferevent *client;
    int half_close;     /* shut down the client's write side once the input is sent */
    int first_mode;
    int nreq;
    int client_closed;
    int safety_fired;
    size_t resp_bytes;  /* response bytes the client received */
    char resp_start[9]; /* the first 9 of them */
    sy_http_req *deferred;
    int deferred_mode;
    struct event *defer_ev;
    int close_cb_calls;
} R;

static void check_request(sy_http_req *req)
{
    const char *m = sy_http_method(req);
    const char *p = sy_http_path(req);
    if (!m || !*m || !p || p[0] != '/')
        abort();
    for (const char *t = m; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
            abort();
    const char *q = sy_http_query(req);
    if (q && strpbrk(q, " \r\n"))
        abort();
    size_t len;
    const char *body = sy_http_body(req, &len);
    if (!body || body[len] != '\0')
        abort();
    const char *cl = sy_http_header(req, "content-length");
    if (cl && strtoull(cl, NULL, 10) != len)
        abort();
    if (!cl && len)
        abort();
    const char *host = sy_http_header(req, "Host");
    if (host && strpbrk(host, "\r\n"))
        abort();
    (void)sy_http_peer(req);
    (void)sy_http_client_gone(req);
}

static void on_req_close(sy_http_req *req, void *arg)
{
    (void)arg;
    if (req != R.deferred || !sy_http_client_gone(req))
        abort();
    R.close_cb_calls++;
}

static void finish_deferred(void)
{
    sy_http_req *req = R.deferred;
    R.deferred = NULL;
    if (R.deferred_mode == M_DEFER_REPLY) {
        sy_http_add_header(req, "X-Deferred", "1");
        sy_http_reply(req, 200, "text/plain", "later\n", 6);
    } else {
        sy_http_stream_write(req, "tail", 4);
        sy_http_stream_end(req);
    }
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (R.deferred)
        finish_deferred();
}

static void on_drain(sy_http_req *req, void *arg)
{
    (void)req;
    (void)arg;
}

static void handler(sy_http_req *req, void *arg)
{
    (void)arg;
    check_request(req);
    int mode = (R.first_mode + R.nreq++) % NMODES;
    size_t len;
    const char *body = sy_http_body(req, &len);
    switch (mode) {
    case M_REPLY:
        sy_http_add_header(req, "X-Request-Path", sy_http_path(req));
        sy_http_add_header(req, "Bad\r\nHeader", "x"); /* refused */
        sy_http_reply(req, 200, "application/json", body, len);
        break;
    case M_ERROR:
        sy_http_reply_error(req, 400, "invalid_request_error", "bad", sy_http_path(req),
                            "nope: %s", sy_http_method(req));
        break;
    case M_STREAM:
        sy_http_stream_start(req, 200, "text/event-stream");
        sy_http_on_drain(req, 16, on_drain, NULL);
        sy_http_stream_write(req, body, len / 2);
        sy_http_stream_write(req, body + len / 2, len - len / 2);
        (void)sy_http_output_pending(req);
        sy_http_stream_end(req);
        break;
    case M_ABORT:
        sy_http_abort(req);
        break;
    case M_DEFER_REPLY:
    case M_DEFER_STREAM:
        if (R.deferred)
            abort(); /* one request at a time per connection */
        R.deferred = req;
        R.deferred_mode = mode;
        sy_http_on_close(req, on_req_close, NULL);
        if (mode == M_DEFER_STREAM) {
            sy_http_stream_start(req, 200, "text/plain");
            sy_http_stream_write(req, "head", 4);
        }
        {
            struct timeval tv = {0, 1000};
            evtimer_add(R.defer_ev, &tv);
        }
        break;
    case M_NO_CONTENT:
        sy_http_reply(req, 204, NULL, NULL, 0);
        break;
    default: {
        char out[512];
        const char *q = sy_http_query(req);
        const char *ua = sy_http_header(req, "User-Agent");
        int n = snprintf(out, sizeof(out), "%s %s?%s ua=%s body=%zu\n", sy_http_method(req),
                         sy_http_path(req), q ? q : "", ua ? ua : "-", len);
        if (n < 0)
            n = 0;
        if ((size_t)n >= sizeof(out))
            n = (int)sizeof(out) - 1;
        sy_http_reply(req, 200, "text/plain", out, (size_t)n);
        break;
    }
    }
}

static void client_free(void)
{
    if (R.client) {
        bufferevent_free(R.client);
        R.client = NULL;
    }
    R.client_closed = 1;
}

static void client_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (R.resp_bytes < sizeof(R.resp_start)) {
        size_t want = sizeof(R.resp_start) - R.resp_bytes;
        evbuffer_copyout(in, R.resp_start + R.resp_bytes, n < want ? n : want);
    }
    R.resp_bytes += n;
    evbuffer_drain(in, n);
}

static void client_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (R.half_close && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        client_free(); /* the server closed (or reset): close our end too */
}

static void on_safety(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    R.safety_fired = 1;
}

static int finished(void)
{
    return R.client_closed && sy_httpd_open_conns(R.srv) == 0 && !R.deferred;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static int init;
    if (!init) {
        sy_log_set_level(SY_ERROR);
        init = 1;
    }

    memset(&R, 0, sizeof(R));
    R.half_close = data[0] & 1;
    R.first_mode = (data[0] >> 1) & 7;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    R.base = event_base_new();
    sy_httpd_limits lim;
    sy_httpd_limits_default(&lim);
    lim.max_header_bytes = 4096;
    lim.max_body_bytes = 8192;
    lim.max_conns = 4;
    lim.header_timeout_ms = 5;
    lim.body_timeout_ms = 5;
    lim.idle_timeout_ms = 5;
    lim.write_timeout_ms = 50;
    R.srv = sy_httpd_new(R.base, &lim, handler, NULL);
    R.defer_ev = evtimer_new(R.base, on_defer, NULL);
    struct event *safety = evtimer_new(R.base, on_safety, NULL);
    if (!R.base || !R.srv || !R.defer_ev || !safety)
        abort();
    if (sy_httpd_serve_fd(R.srv, sv[0]) != 0)
        abort();
    if (evutil_make_socket_nonblocking(sv[1]) != 0)
        abort();
    R.client = bufferevent_socket_new(R.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    if (!R.client)
        abort();
    bufferevent_setcb(R.client, client_read, client_write, client_event, NULL);
    bufferevent_enable(R.client, EV_READ | EV_WRITE);
    bufferevent_write(R.client, data + 1, size - 1);
    if (size == 1)
        client_write(R.client, NULL);

    struct timeval limit = {1, 0};
    evtimer_add(safety, &limit);
    while (!finished() && !R.safety_fired)
        event_base_loop(R.base, EVLOOP_ONCE);

    if (R.resp_bytes >= sizeof(R.resp_start) && memcmp(R.resp_start, "HTTP/1.1 ", 9))
        abort();

    /* Tear down (normally nothing is left; after the safety net, the handler
     * finishes what it holds before the server goes: a request must not
     * outlive its server). */
    client_free();
    while (R.deferred)
        finish_deferred();
    if (sy_httpd_active_requests(R.srv) != 0)
        abort();
    sy_httpd_free(R.srv);
    event_free(safety);
    event_free(R.defer_ev);
    event_base_free(R.base);
    return 0;
}
