/*
 * upstream: HTTP calls to providers with libcurl's multi interface on the
 * router's libevent loop, wired as curl's docs/examples/hiperfifo.c does
 * (socket callback + timer callback + curl_multi_socket_action +
 * curl_multi_info_read). Connections are kept alive in the multi handle's
 * connection cache, so consecutive calls to a provider reuse them.
 */
#ifndef SY_RT_UPSTREAM_H
#define SY_RT_UPSTREAM_H

#include <stddef.h>

struct event_base;
typedef struct rt_upstream rt_upstream;
typedef struct rt_call rt_call;

typedef enum {
    RT_CALL_OK,            /* an HTTP response arrived (any status) */
    RT_CALL_CONNECT_ERROR, /* could not connect / resolve */
    RT_CALL_TIMEOUT,       /* connect or total deadline passed */
    RT_CALL_ERROR,         /* transfer failed: reset, bad response, too large */
} rt_call_status;

const char *rt_call_status_str(rt_call_status s);

typedef struct rt_call_result {
    rt_call_status status;
    long http_status;
    const char *body; /* buffered response body (NUL-terminated); empty when streamed */
    size_t body_len;
    const char *error; /* curl's reason when status != RT_CALL_OK */
    long upstream_us;  /* from sending to completion */
    long retry_after_s; /* the answer's Retry-After in seconds (delta-seconds form), or -1 */
} rt_call_result;

typedef struct rt_call_spec {
    const char *url;
    const char *api_key; /* Authorization: Bearer, or NULL */
    /* Set: the Anthropic headers instead, x-api-key (api_key) and anthropic-version. */
    const char *anthropic_version;
    const char *body;
    size_t body_len;
    int connect_timeout_ms;
    int timeout_ms;
    size_t max_response_bytes;
    /* Streaming: when set, response bytes of a 2xx answer go here instead of
     * the buffer; return 0 when consumed, -1 to abort the transfer, or 1 to
     * pause it without consuming (the same bytes come again after
     * rt_call_resume()). */
    int (*on_data)(const char *data, size_t len, void *arg);
    /* Called once with the final result. The call object is freed right after. */
    void (*on_done)(const rt_call_result *res, void *arg);
    void *arg;
} rt_call_spec;

rt_upstream *rt_upstream_new(struct event_base *base);
void rt_upstream_free(rt_upstream *up);
int rt_upstream_inflight(const rt_upstream *up);

/* Start a POST; NULL if it could not be started (on_done is then not called). */
rt_call *rt_call_start(rt_upstream *up, const rt_call_spec *spec);
/* Abort: on_done is not called. Not from inside this call's own callbacks. */
void rt_call_cancel(rt_call *call);
/* Resume a transfer paused by on_data returning 1. Not from inside its callbacks. */
void rt_call_resume(rt_call *call);
/* Response status of the call so far (0 before the headers arrived). */
long rt_call_http_status(rt_call *call);

#endif
