/*
 * httpd: HTTP/1.1 server on libevent bufferevents. See httpd.h for the model.
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
 *
 * Ownership: the server owns conns (linked list srv->conns) and the current
 * request of each. When a connection dies while its request is with the
 * handler, the request is detached (req->conn = NULL) and lives until the
 * handler finishes it. A conn is never freed while conn_process() is on the
 * stack for it; it is marked dead and reaped on the way out.
 */
#include "common/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/numfmt.h"

#define MAX_HEADERS 100

enum conn_state { CS_IDLE, CS_HEAD, CS_BODY, CS_HANDLER, CS_STREAM, CS_CLOSING };

static const char *const state_names[] = {"idle", "head", "body", "handler", "stream", "closing"};

struct conn;

struct hdr {
    char *name;
    char *value;
};

struct sy_http_req {
    struct conn *conn; /* NULL once the connection is gone */
    sy_httpd *srv;
    char *head;        /* request head, parsed in place */
    char *method, *path, *query;
    int minor;         /* HTTP/1.<minor> */
    int nhdrs;
    char *body;
    size_t body_len;
    /* "Name: value\r\n" lines added by the handler: in resp_inline, or in
     * resp_heap (malloc'd) once they outgrow it */
    char *resp_heap;
    size_t resp_len, resp_cap;
    int is_head;
    int streaming;
    int client_gone;
    void (*close_cb)(sy_http_req *, void *);
    void *close_arg;
    void (*drain_cb)(sy_http_req *, void *);
    void *drain_arg;
    /* from here on not zeroed at allocation (req_new): filled before use */
    char peer[64];
    struct hdr hdrs[MAX_HEADERS];
    char resp_inline[512];
};

/* A request with every field before peer zeroed: calloc would clear 2.3 KiB
 * per request that is written before it is read. */
static sy_http_req *req_new(void)
{
    sy_http_req *req = malloc(sizeof(*req));
    if (req)
        memset(req, 0, offsetof(sy_http_req, peer));
    return req;
}

struct conn {
    sy_httpd *srv;
    struct bufferevent *bev;
    struct event *timer;
    enum conn_state state;
    sy_http_req *req;
    size_t content_length;
    int keepalive;
    int in_process; /* conn_process() is on the stack */
    int dead;       /* free when conn_process() returns */
    int half_closed; /* CLOSING: our side is shut down, waiting for the peer's close */
    char peer[64];
    struct conn *prev, *next;
};

struct sy_httpd {
    struct event_base *base;
    sy_httpd_limits lim;
    sy_http_handler handler;
    void *arg;
    struct evconnlistener *listener;
    int accepting;
    int nconns;
    int nactive;
    struct conn *conns;
};

static void conn_process(struct conn *c);
static void conn_free(struct conn *c);
static void conn_set_state(struct conn *c, enum conn_state st);

/* ---------- small helpers ---------- */

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

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A method or a field name is a token: tchars only (RFC 9110 5.6.2). The callers
 * have already refused an empty one, each with its own message. */
static int is_token(const char *s)
{
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

static void timer_arm(struct conn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* ---------- requests ---------- */

static void req_free(sy_http_req *req)
{
    if (!req)
        return;
    free(req->resp_heap);
    free(req->head);
    free(req->body);
    free(req);
}

const char *sy_http_method(const sy_http_req *req) { return req->method; }
const char *sy_http_path(const sy_http_req *req) { return req->path; }
const char *sy_http_query(const sy_http_req *req) { return req->query; }
const char *sy_http_peer(const sy_http_req *req) { return req->peer; }
int sy_http_client_gone(const sy_http_req *req) { return req->client_gone; }

const char *sy_http_header(const sy_http_req *req, const char *name)
{
    for (int i = 0; i < req->nhdrs; i++)
        if (!strcasecmp(req->hdrs[i].name, name))
            return req->hdrs[i].value;
    return NULL;
}

const char *sy_http_body(const sy_http_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

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
    req_free(req);
    if (!c)
        return;
    c->req = NULL;
    if (close_conn || !c->keepalive) {
        conn_set_state(c, CS_CLOSING);
    } else {
        conn_set_state(c, CS_IDLE);
        bufferevent_enable(c->bev, EV_READ);
    }
    if (!c->in_process)
        conn_process(c);
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
    conn_set_state(c, CS_STREAM);
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
            conn_free(c);
    }
    req->srv->nactive--;
    req_free(req);
}

/* ---------- framework errors (before the handler has the request) ---------- */

static void framework_error(struct conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void framework_error(struct conn *c, int status, const char *code, const char *fmt, ...)
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
    sy_http_reply_error(req, status, "invalid_request_error", code, NULL, "%s", msg);
}

/* ---------- parsing ---------- */

/* Parse the head in req->head (NUL-terminated, ending in CRLF CRLF).
 * Returns 0, or an HTTP status with *why set. */
static int parse_head(sy_http_req *req, struct conn *c, const char **why, const char **code)
{
    char *p = req->head;
    char *eol = strstr(p, "\r\n");
    *code = "bad_request";

    /* request line: METHOD SP TARGET SP HTTP/1.x */
    *eol = '\0';
    char *sp1 = strchr(p, ' ');
    if (!sp1 || sp1 == p) {
        *why = "malformed request line";
        return 400;
    }
    *sp1 = '\0';
    if (!is_token(p)) {
        *why = "malformed request method";
        return 400;
    }
    req->method = p;
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target || strchr(sp2 + 1, ' ')) {
        *why = "malformed request line";
        return 400;
    }
    *sp2 = '\0';
    if (target[0] != '/') {
        *why = "request target must be an absolute path";
        return 400;
    }
    for (char *t = target; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            *why = "invalid character in request target";
            return 400;
        }
    const char *ver = sp2 + 1;
    if (!strcmp(ver, "HTTP/1.1"))
        req->minor = 1;
    else if (!strcmp(ver, "HTTP/1.0"))
        req->minor = 0;
    else if (!strncmp(ver, "HTTP/", 5)) {
        *why = "only HTTP/1.0 and HTTP/1.1 are supported";
        *code = "http_version_not_supported";
        return 505;
    } else {
        *why = "malformed HTTP version";
        return 400;
    }
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    }
    req->path = target;

    /* header fields */
    p = eol + 2;
    while (!(p[0] == '\r' && p[1] == '\n')) { /* the head ends with an empty line */
        eol = strstr(p, "\r\n");
        *eol = '\0';
        if (*p == ' ' || *p == '\t') {
            *why = "obsolete header line folding is not accepted";
            return 400;
        }
        char *colon = strchr(p, ':');
        if (!colon || colon == p) {
            *why = "malformed header field";
            return 400;
        }
        *colon = '\0';
        if (!is_token(p)) {
            *why = "invalid character in header name";
            return 400;
        }
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        for (char *t = v; *t; t++)
            if ((unsigned char)*t < 0x20 && *t != '\t') {
                *why = "invalid character in header value";
                return 400;
            }
        if (req->nhdrs == MAX_HEADERS) {
            *why = "too many header fields";
            *code = "headers_too_large";
            return 431;
        }
        req->hdrs[req->nhdrs].name = p;
        req->hdrs[req->nhdrs].value = v;
        req->nhdrs++;
        p = eol + 2;
    }

    /* framing */
    const char *te = NULL;
    int have_cl = 0;
    unsigned long long cl = 0;
    for (int i = 0; i < req->nhdrs; i++) {
        if (!strcasecmp(req->hdrs[i].name, "Transfer-Encoding")) {
            te = req->hdrs[i].value;
        } else if (!strcasecmp(req->hdrs[i].name, "Content-Length")) {
            const char *s = req->hdrs[i].value;
            unsigned long long v = 0;
            if (!*s || strlen(s) > 18) {
                *why = "invalid Content-Length";
                return 400;
            }
            for (; *s; s++) {
                if (*s < '0' || *s > '9') {
                    *why = "invalid Content-Length";
                    return 400;
                }
                v = v * 10 + (unsigned)(*s - '0');
            }
            if (have_cl && v != cl) {
                *why = "conflicting Content-Length headers";
                return 400;
            }
            have_cl = 1;
            cl = v;
        }
    }
    if (te) {
        if (have_cl) {
            *why = "both Transfer-Encoding and Content-Length";
            return 400;
        }
        *why = "request bodies must be sent with Content-Length, not Transfer-Encoding";
        *code = "length_required";
        return 411;
    }
    if (cl > c->srv->lim.max_body_bytes) {
        static char msg[128];
        snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu bytes", cl,
                 c->srv->lim.max_body_bytes);
        *why = msg;
        *code = "request_too_large";
        return 413;
    }
    c->content_length = (size_t)cl;

    /* connection persistence */
    const char *conn_hdr = sy_http_header(req, "Connection");
    if (req->minor == 1)
        c->keepalive = !(conn_hdr && strcasestr(conn_hdr, "close"));
    else
        c->keepalive = conn_hdr && strcasestr(conn_hdr, "keep-alive");
    req->is_head = !strcmp(req->method, "HEAD");

    const char *expect = sy_http_header(req, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue")) {
            *why = "unsupported Expect header";
            *code = "expectation_failed";
            return 417;
        }
        if (req->minor == 1 && c->content_length > 0 &&
            evbuffer_get_length(bufferevent_get_input(c->bev)) < c->content_length)
            evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
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

static void conn_set_state(struct conn *c, enum conn_state st)
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
        conn_set_state(c, CS_HEAD);
        return 1;

    case CS_HEAD: {
        struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (pos.pos < 0) {
            if (avail > srv->lim.max_header_bytes)
                framework_error(c, 431, "headers_too_large",
                                "request head exceeds the limit of %zu bytes",
                                srv->lim.max_header_bytes);
            return 0;
        }
        size_t head_len = (size_t)pos.pos + 4;
        if (head_len > srv->lim.max_header_bytes) {
            framework_error(c, 431, "headers_too_large",
                            "request head exceeds the limit of %zu bytes",
                            srv->lim.max_header_bytes);
            return 0;
        }
        sy_http_req *req = req_new();
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
        /* parse_head works on C strings: a NUL would end a line before its CRLF */
        int status = memchr(head, '\0', head_len) ? 400 : parse_head(req, c, &why, &code);
        if (status) {
            framework_error(c, status, code, "%s", why);
            return 0;
        }
        conn_set_state(c, CS_BODY);
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
        conn_set_state(c, CS_HANDLER);
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

static void conn_process(struct conn *c)
{
    c->in_process = 1;
    while (!c->dead && conn_step(c))
        ;
    c->in_process = 0;
    if (c->dead)
        conn_free(c);
}

static void conn_free(struct conn *c)
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
            req_free(req);
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
    conn_process(arg);
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
            conn_free(c);
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
            conn_free(c);
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
        framework_error(c, 408, "request_timeout", "request head not received within %d ms",
                        c->srv->lim.header_timeout_ms);
        c->in_process = 0;
        break;
    case CS_BODY:
        c->in_process = 1;
        framework_error(c, 408, "request_timeout", "request body not received within %d ms",
                        c->srv->lim.body_timeout_ms);
        c->in_process = 0;
        break;
    default: /* idle keep-alive, or a close that could not flush */
        c->dead = 1;
        break;
    }
    if (c->dead)
        conn_free(c);
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
    conn_set_state(c, CS_IDLE);
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
            conn_free(c);
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
        conn_free(srv->conns);
    free(srv);
}
