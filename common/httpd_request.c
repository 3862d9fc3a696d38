/*
 * httpd requests: parsing a request head in place (request line, header
 * fields, framing, persistence, Expect) and the handler's accessors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/httpd_internal.h"

/* ---------- requests ---------- */

void httpd_req_free(sy_http_req *req)
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

/* Header names compared without case. The first byte is checked inline (equal but
 * for bit 0x20: never false for a match) so that most names cost no strcasecmp call: a
 * routed request looks a header up some 30 times. */
static inline int name_is(const char *a, const char *b)
{
    return !((a[0] ^ b[0]) & ~0x20) && !strcasecmp(a, b);
}

const char *sy_http_header(const sy_http_req *req, const char *name)
{
    for (int i = 0; i < req->nhdrs; i++)
        if (name_is(req->hdrs[i].name, name))
            return req->hdrs[i].value;
    return NULL;
}

const char *sy_http_body(const sy_http_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

/* ---------- parsing ---------- */

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

/* Parse the head in req->head (NUL-terminated, ending in CRLF CRLF).
 * Returns 0, or an HTTP status with *why set. */
int httpd_parse_head(sy_http_req *req, struct conn *c, const char **why, const char **code)
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
        if (name_is(req->hdrs[i].name, "Transfer-Encoding")) {
            te = req->hdrs[i].value;
        } else if (name_is(req->hdrs[i].name, "Content-Length")) {
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
