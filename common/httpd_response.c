/*
 * httpd responses: the head (no printf: this runs per response), whole
 * answers sent with one sendmsg when the socket takes them, chunked streams,
 * the OpenAI-shaped JSON errors (the handler's and the server's own), and the
 * end of a request, which lets its connection go on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/httpd_internal.h"
#include "common/log.h"
#include "common/numfmt.h"

/* ---------- small helpers ---------- */

const char *sy_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded"; /* Anthropic's, not in the IANA registry */
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* The Date header's value, formatted at most once a second; *len gets its length. */
static const char *http_date(size_t *len)
{
    static char buf[64];
    static size_t buf_len;
    static time_t cached;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        buf_len = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    *len = buf_len;
    return buf;
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 if it is not one
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static int utf8_seq_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4
                                                                                          : 0;
    }
    return 0;
}

/* A JSON string's contents. Messages quote what clients sent, cut to a length
 * that may split a character: bytes that are not well-formed UTF-8 become
 * U+FFFD, so the answer is always valid JSON. */
static void json_escape_into(struct evbuffer *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_seq_len(p);
        if (*p == '"' || *p == '\\')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p < 0x20)
            evbuffer_add_printf(out, "\\u%04x", *p);
        else if (n == 0)
            evbuffer_add(out, "\\ufffd", 6);
        else
            evbuffer_add(out, p, (size_t)n);
        p += n ? n : 1;
    }
}

/* ---------- the handler's side ---------- */

void sy_http_add_header(sy_http_req *req, const char *name, const char *value)
{
    /* Refuse CR/LF so a value taken from outside cannot split the response. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return;
    size_t nlen = strlen(name), vlen = strlen(value), need = req->resp_len + nlen + vlen + 4;
    char *p = req->resp_heap ? req->resp_heap : req->resp_inline;
    size_t cap = req->resp_heap ? req->resp_cap : sizeof(req->resp_inline);
    if (need > cap) {
        while (cap < need)
            cap *= 2;
        char *q = realloc(req->resp_heap, cap);
        if (!q)
            return; /* out of memory: the header is lost, as with evbuffer_add_printf */
        if (!req->resp_heap)
            memcpy(q, req->resp_inline, req->resp_len);
        req->resp_heap = p = q;
        req->resp_cap = cap;
    }
    p += req->resp_len;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    p += vlen;
    *p++ = '\r';
    *p = '\n';
    req->resp_len = need;
}

void sy_http_on_close(sy_http_req *req, void (*cb)(sy_http_req *, void *), void *arg)
{
    req->close_cb = cb;
    req->close_arg = arg;
}

void sy_http_on_drain(sy_http_req *req, size_t low_water, void (*cb)(sy_http_req *, void *),
                      void *arg)
{
    req->drain_cb = cb;
    req->drain_arg = arg;
    if (req->conn)
        bufferevent_setwatermark(req->conn->bev, EV_WRITE, low_water, 0);
}

size_t sy_http_output_pending(const sy_http_req *req)
{
    if (!req->conn)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(req->conn->bev));
}

/* Called when the handler is done with req: free it, and let the connection
 * go on with the next request (or close). */
static void req_finish(sy_http_req *req, int close_conn)
{
    struct conn *c = req->conn;
    sy_httpd *srv = req->srv;

    srv->nactive--;
    httpd_req_free(req);
    if (!c)
        return;
    c->req = NULL;
    if (close_conn || !c->keepalive) {
        httpd_conn_set_state(c, CS_CLOSING);
    } else {
        httpd_conn_set_state(c, CS_IDLE);
        bufferevent_enable(c->bev, EV_READ);
    }
    if (!c->in_process)
        httpd_conn_process(c);
}

/* Bytes format_head() may write besides the content type and handler headers. */
#define HEAD_FIXED_MAX 256

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

#define PUT_LIT(w, s) put((w), (s), sizeof(s) - 1)

/* The response head into buf (at least HEAD_FIXED_MAX + strlen(ctype) +
 * req->resp_len bytes); returns its length. No printf: this runs per response. */
static size_t format_head(sy_http_req *req, char *buf, int status, const char *ctype,
                          long long content_length)
{
    struct conn *c = req->conn;
    const char *text = sy_http_status_text(status);
    char *w = PUT_LIT(buf, "HTTP/1.1 ");
    w += sy_fmt_i64(w, status);
    *w++ = ' ';
    w = put(w, text, strlen(text));
    w = PUT_LIT(w, "\r\nDate: ");
    size_t dlen;
    const char *date = http_date(&dlen);
    w = put(w, date, dlen);
    w = PUT_LIT(w, "\r\n");
    if (ctype) {
        w = PUT_LIT(w, "Content-Type: ");
        w = put(w, ctype, strlen(ctype));
        w = PUT_LIT(w, "\r\n");
    }
    if (content_length >= 0) {
        w = PUT_LIT(w, "Content-Length: ");
        w += sy_fmt_i64(w, content_length);
        w = PUT_LIT(w, "\r\n");
    } else if (req->minor >= 1) {
        w = PUT_LIT(w, "Transfer-Encoding: chunked\r\n");
    }
    if (!c->keepalive)
        w = PUT_LIT(w, "Connection: close\r\n");
    else if (req->minor == 0)
        w = PUT_LIT(w, "Connection: keep-alive\r\n");
    w = put(w, req->resp_heap ? req->resp_heap : req->resp_inline, req->resp_len);
    w = PUT_LIT(w, "\r\n");
    return (size_t)(w - buf);
}

/* Queue head (and body) on the connection. For a whole answer (direct), when
 * nothing is queued yet, try to send both at once first (one sendmsg, no
 * write event to arm and disarm in epoll); whatever the socket does not
 * take, or an error, goes to the bufferevent as before, which writes it and
 * reports the error. A stream's head is only queued, so it leaves together
 * with the first events. */
static void send_head_body(struct conn *c, int direct, const char *head, size_t hlen,
                           const char *body, size_t blen)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t done = 0;
    if (direct && evbuffer_get_length(out) == 0) {
        struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
        ssize_t n = sendmsg(bufferevent_getfd(c->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            done = (size_t)n;
    }
    if (done < hlen) {
        evbuffer_add(out, head + done, hlen - done);
        done = hlen;
    }
    if (done - hlen < blen)
        evbuffer_add(out, body + (done - hlen), blen - (done - hlen));
}

static void write_head(sy_http_req *req, int direct, int status, const char *ctype,
                       const char *body, size_t blen, long long content_length)
{
    char stack[2048];
    size_t bound = HEAD_FIXED_MAX + (ctype ? strlen(ctype) : 0) + req->resp_len;
    char *buf = bound <= sizeof(stack) ? stack : malloc(bound);
    if (!buf)
        return; /* out of memory: nothing is sent, the client times out */
    size_t hlen = format_head(req, buf, status, ctype, content_length);
    send_head_body(req->conn, direct, buf, hlen, body, blen);
    if (buf != stack)
        free(buf);
}

void sy_http_reply(sy_http_req *req, int status, const char *content_type, const char *body,
                   size_t len)
{
    struct conn *c = req->conn;
    if (c && !req->streaming) {
        if (status >= 400 && c->state != CS_HANDLER)
            c->keepalive = 0; /* framework error: the stream may be out of sync */
        write_head(req, 1, status, content_type, body, req->is_head ? 0 : len, (long long)len);
    }
    req_finish(req, 0);
}

void sy_http_reply_error(sy_http_req *req, int status, const char *type, const char *code,
                         const char *param, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"error\":{\"message\":\"");
    json_escape_into(b, msg);
    evbuffer_add_printf(b, "\",\"type\":\"");
    json_escape_into(b, type);
    evbuffer_add_printf(b, "\",\"param\":");
    if (param) {
        evbuffer_add(b, "\"", 1);
        json_escape_into(b, param);
        evbuffer_add(b, "\"", 1);
    } else {
        evbuffer_add_printf(b, "null");
    }
    evbuffer_add_printf(b, ",\"code\":");
    if (code) {
        evbuffer_add(b, "\"", 1);
        json_escape_into(b, code);
        evbuffer_add(b, "\"", 1);
    } else {
        evbuffer_add_printf(b, "null");
    }
    evbuffer_add_printf(b, "}}\n");
    size_t n = evbuffer_get_length(b);
    sy_http_reply(req, status, "application/json", (const char *)evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
}

void sy_http_stream_start(sy_http_req *req, int status, const char *content_type)
{
    struct conn *c = req->conn;
    req->streaming = 1;
    if (!c)
        return;
    if (req->minor == 0)
        c->keepalive = 0; /* no chunked encoding in HTTP/1.0: the end is the close */
    httpd_conn_set_state(c, CS_STREAM);
    write_head(req, 0, status, content_type, NULL, 0, -1);
}

void sy_http_stream_write(sy_http_req *req, const void *data, size_t len)
{
    struct conn *c = req->conn;
    if (!c || !req->streaming || len == 0 || req->is_head)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (req->minor >= 1) {
        char size[24];
        size_t n = sy_fmt_hex(size, len);
        size[n++] = '\r';
        size[n++] = '\n';
        evbuffer_add(out, size, n);
        evbuffer_add(out, data, len);
        evbuffer_add(out, "\r\n", 2);
    } else {
        evbuffer_add(out, data, len);
    }
}

void sy_http_stream_end(sy_http_req *req)
{
    struct conn *c = req->conn;
    if (c && req->streaming && req->minor >= 1 && !req->is_head)
        evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
    req_finish(req, 0);
}

void sy_http_abort(sy_http_req *req)
{
    struct conn *c = req->conn;
    if (c) {
        /* drop whatever is queued: the peer must see a bare close */
        struct evbuffer *out = bufferevent_get_output(c->bev);
        evbuffer_drain(out, evbuffer_get_length(out));
        c->req = NULL;
        req->conn = NULL;
        if (c->in_process)
            c->dead = 1;
        else
            httpd_conn_free(c);
    }
    req->srv->nactive--;
    httpd_req_free(req);
}

/* ---------- framework errors (before the handler has the request) ---------- */

void httpd_framework_error(struct conn *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    sy_http_req *req = c->req;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req) {
            c->dead = 1;
            return;
        }
        req->srv = c->srv;
        req->conn = c;
        req->minor = 1;
        c->req = req;
    }
    c->srv->nactive++; /* balanced by req_finish */
    c->keepalive = 0;
    sy_log(SY_INFO, "http request refused", "peer=%s status=%d reason=%s", c->peer, status, code);
    if (c->srv->error_fn) {
        const char *path = sy_http_path(req);
        c->srv->error_fn(req, path ? path : "", status, code, msg, c->srv->arg);
        return;
    }
    sy_http_reply_error(req, status, "invalid_request_error", code, NULL, "%s", msg);
}
