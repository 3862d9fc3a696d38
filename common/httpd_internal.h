/*
 * httpd internals: the objects the httpd*.c files share, and the functions
 * they call in each other. Callers include common/httpd.h.
 *
 *   httpd.c           the listener and each connection's life: its states and
 *                     deadlines (the state machine is drawn there), reading the
 *                     request, handing it to the handler, keep-alive, closing
 *   httpd_request.c   the request: parsing its head, the accessors
 *   httpd_response.c  the response: head, body, streams, errors in the OpenAI shape
 *
 * Ownership: the server owns conns (linked list srv->conns) and the current
 * request of each. When a connection dies while its request is with the
 * handler, the request is detached (req->conn = NULL) and lives until the
 * handler finishes it. A conn is never freed while httpd_conn_process() is on the
 * stack for it; it is marked dead and reaped on the way out.
 */
#ifndef SY_HTTPD_INTERNAL_H
#define SY_HTTPD_INTERNAL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "common/httpd.h"

#define MAX_HEADERS 100

enum conn_state { CS_IDLE, CS_HEAD, CS_BODY, CS_HANDLER, CS_STREAM, CS_CLOSING };

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
    /* from here on not zeroed at allocation (httpd_req_new): filled before use */
    char peer[64];
    struct hdr hdrs[MAX_HEADERS];
    char resp_inline[512];
};

struct conn {
    sy_httpd *srv;
    struct bufferevent *bev;
    struct event *timer;
    enum conn_state state;
    sy_http_req *req;
    size_t content_length;
    int keepalive;
    int in_process; /* httpd_conn_process() is on the stack */
    int dead;       /* free when httpd_conn_process() returns */
    int half_closed; /* CLOSING: our side is shut down, waiting for the peer's close */
    char peer[64];
    struct conn *prev, *next;
};

struct sy_httpd {
    struct event_base *base;
    sy_httpd_limits lim;
    sy_http_handler handler;
    void *arg;
    sy_http_error_fn error_fn; /* shapes the server's own refusals, or NULL */
    struct evconnlistener *listener;
    int accepting;
    int nconns;
    int nactive;
    struct conn *conns;
};

/* A request with every field before peer zeroed: calloc would clear 2.3 KiB
 * per request that is written before it is read. */
static inline sy_http_req *httpd_req_new(void)
{
    sy_http_req *req = malloc(sizeof(*req));
    if (req)
        memset(req, 0, offsetof(sy_http_req, peer));
    return req;
}

/* Frees a request and what it holds (httpd_request.c). */
void httpd_req_free(sy_http_req *req);

/* Parse the head in req->head (httpd_request.c). 0, or an HTTP status with *why set. */
int httpd_parse_head(sy_http_req *req, struct conn *c, const char **why, const char **code);

/* An error the server answers itself, before the handler has the request
 * (httpd_response.c). */
void httpd_framework_error(struct conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The connection (httpd.c). */
void httpd_conn_set_state(struct conn *c, enum conn_state st);
void httpd_conn_process(struct conn *c);
void httpd_conn_free(struct conn *c);

#endif
