/*
 * loadgen_http: the load generator's HTTP client. libcurl's multi interface on a
 * libevent loop, wired as curl's docs/examples/hiperfifo.c does (socket callback +
 * timer callback + curl_multi_socket_action + curl_multi_info_read), like
 * router/upstream.c; unlike rt_call it sends arbitrary request headers and keeps the
 * response headers, which the load generator needs (X-Request-Id, X-Route-*,
 * Retry-After).
 */
#ifndef SY_LG_HTTP_H
#define SY_LG_HTTP_H

#include <stddef.h>

struct event_base;
typedef struct lg_http lg_http;
typedef struct lg_call lg_call;

#define LG_HTTP_MAX_HEADERS 8

typedef struct lg_http_res {
    int transport_ok;  /* an HTTP response arrived (any status) */
    long status;       /* HTTP status, 0 without a response */
    const char *error; /* curl's reason when !transport_ok */
    const char *body;  /* the first max_body bytes of the body, NUL-terminated */
    size_t body_len;   /* bytes kept */
    size_t body_total; /* bytes received */
    long elapsed_us;   /* start to completion */
    void *call;        /* for lg_http_res_header */
} lg_http_res;

typedef struct lg_http_spec {
    const char *url;
    const char *body; /* POST when not NULL, else GET */
    size_t body_len;
    const char *headers[LG_HTTP_MAX_HEADERS]; /* "Name: value", NULL-terminated list */
    int timeout_ms;
    size_t max_body;                                    /* body bytes kept (0: 64 KiB) */
    void (*on_done)(const lg_http_res *res, void *arg); /* once; the call is freed after */
    void *arg;
} lg_http_spec;

lg_http *lg_http_new(struct event_base *base) __attribute__((warn_unused_result));
void lg_http_free(lg_http *h); /* cancels what is in flight, without callbacks */
int lg_http_inflight(const lg_http *h);

/* 0 started, -1 not started (on_done is then not called). */
int lg_http_start(lg_http *h, const lg_http_spec *spec) __attribute__((warn_unused_result));

/* A response header of the final response (case-insensitive name), or NULL. */
const char *lg_http_res_header(const lg_http_res *res, const char *name);

#endif
