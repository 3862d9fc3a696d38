/*
 * httpd: a small HTTP/1.1 server on libevent bufferevents, shared by the
 * router and the simulator.
 *
 * Why not evhttp: its built-in error pages (413, 400, timeouts) are HTML and
 * cannot be replaced in libevent 2.1, and it has no header-completion deadline,
 * so one slow client can hold a connection forever. Here every error the
 * framework sends is an OpenAI-shaped JSON body, and every connection state
 * has a deadline.
 *
 * Model: one request at a time per connection (pipelined requests wait in the
 * input buffer). The handler is called once the whole body is in memory. The
 * request object belongs to the server until the handler finishes it with
 * exactly one of sy_http_reply() or sy_http_stream_end(); this holds even when
 * the client has gone away (the close callback tells the handler so, and
 * replying afterwards just frees the request).
 *
 * Request bodies need Content-Length; chunked request bodies are refused
 * with 411. Responses are Content-Length or, for streams, chunked.
 */
#ifndef SY_HTTPD_H
#define SY_HTTPD_H

#include <stddef.h>

struct event_base;
typedef struct sy_httpd sy_httpd;
typedef struct sy_http_req sy_http_req;

typedef struct sy_httpd_limits {
    size_t max_header_bytes; /* request line + headers; 431 beyond (default 16 KiB) */
    size_t max_body_bytes;   /* 413 beyond (default 1 MiB) */
    int max_conns;           /* accept pauses at this many (default 4096) */
    int header_timeout_ms;   /* whole request head must arrive within (default 10 s) */
    int body_timeout_ms;     /* whole body must arrive within (default 30 s) */
    int idle_timeout_ms;     /* keep-alive idle between requests (default 60 s) */
    int write_timeout_ms;    /* a reply that cannot be written for this long closes (default 30 s) */
} sy_httpd_limits;

void sy_httpd_limits_default(sy_httpd_limits *lim);

typedef void (*sy_http_handler)(sy_http_req *req, void *arg);
/* The server's own refusals (400, 408, 411, 413, 431, ...) are OpenAI-shaped error
 * bodies unless this says otherwise: it must answer req (sy_http_reply...). path is ""
 * when the request line was not parsed. arg is sy_httpd_new's. */
typedef void (*sy_http_error_fn)(sy_http_req *req, const char *path, int status,
                                 const char *code, const char *msg, void *arg);

sy_httpd *sy_httpd_new(struct event_base *base, const sy_httpd_limits *lim,
                       sy_http_handler handler, void *arg);
void sy_httpd_set_error_fn(sy_httpd *s, sy_http_error_fn fn);
/* Bind and listen. port 0 picks a free port; *bound_port (if not NULL) gets it.
 * reuseport sets SO_REUSEPORT so several processes can share the port. */
int sy_httpd_listen(sy_httpd *srv, const char *host, int port, int reuseport, int *bound_port)
    __attribute__((warn_unused_result));
/* Serve an already-connected stream socket (e.g. one end of a socketpair) as a
 * client connection, exactly as if the listener had accepted it; takes ownership
 * of fd (closed on failure). Used by tests and the fuzz target
 * (tests/fuzz/fuzz_httpd.c), not by the servers. Returns 0 or -1. */
int sy_httpd_serve_fd(sy_httpd *srv, int fd) __attribute__((warn_unused_result));
/* Stop accepting; existing connections finish their current request. */
void sy_httpd_stop_accepting(sy_httpd *srv);
int sy_httpd_active_requests(const sy_httpd *srv);
int sy_httpd_open_conns(const sy_httpd *srv);
void sy_httpd_free(sy_httpd *srv);

/* Request accessors; strings live as long as the request. */
const char *sy_http_method(const sy_http_req *req); /* "GET", "POST", ... */
const char *sy_http_path(const sy_http_req *req);   /* without the query */
const char *sy_http_query(const sy_http_req *req);  /* after '?', or NULL */
const char *sy_http_header(const sy_http_req *req, const char *name); /* case-insensitive, first match */
const char *sy_http_body(const sy_http_req *req, size_t *len);       /* NUL-terminated copy */
const char *sy_http_peer(const sy_http_req *req);                     /* "ip:port" */
int sy_http_client_gone(const sy_http_req *req);

/* Response. Headers are added before reply/stream_start; name and value are copied.
 * Content-Length, Connection, Date and Transfer-Encoding are set by the server. */
void sy_http_add_header(sy_http_req *req, const char *name, const char *value);
void sy_http_reply(sy_http_req *req, int status, const char *content_type,
                   const char *body, size_t len);
/* OpenAI error shape: {"error":{"message":...,"type":...,"param":...,"code":...}};
 * param and code may be NULL (emitted as null). Finishes the request. */
void sy_http_reply_error(sy_http_req *req, int status, const char *type, const char *code,
                         const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Streaming (chunked transfer encoding). */
void sy_http_stream_start(sy_http_req *req, int status, const char *content_type);
void sy_http_stream_write(sy_http_req *req, const void *data, size_t len);
void sy_http_stream_end(sy_http_req *req);
size_t sy_http_output_pending(const sy_http_req *req); /* bytes not yet written to the socket */

/* Close the connection at once without (further) response, e.g. a simulated
 * provider crash or an upstream that died mid-stream. Finishes the request. */
void sy_http_abort(sy_http_req *req);

/* Called at most once, when the connection dies before the request is finished.
 * The handler must still finish the request (reply/stream_end just free it then). */
void sy_http_on_close(sy_http_req *req, void (*cb)(sy_http_req *req, void *arg), void *arg);
/* Called when pending output drops below low_water bytes (for stream backpressure). */
void sy_http_on_drain(sy_http_req *req, size_t low_water, void (*cb)(sy_http_req *req, void *arg),
                      void *arg);

const char *sy_http_status_text(int status);

#endif
