/*
 * The router's shared state, one per process (one event loop). Internal to
 * router/: the request path (chat*.c, router/chat.h) reads it, router.c owns it.
 */
#ifndef SY_RT_H
#define SY_RT_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/config.h"

struct event_base;
struct rt_conf;
struct sy_http_req;
typedef struct sy_httpd sy_httpd;
typedef struct rt_upstream rt_upstream;
typedef struct rt_redis rt_redis;
typedef struct rt_expstate rt_expstate;
typedef struct rt_metrics rt_metrics;
typedef struct rt_breaker rt_breaker;
struct clf_classifier;
struct clf_rules;

typedef struct rt_ctx {
    struct event_base *base;
    struct rt_conf *conf; /* current configuration generation (requests hold their own ref) */
    sy_httpd *httpd;
    rt_upstream *up;
    rt_redis *redis;
    rt_expstate *expstate; /* live experiment state from Redis (router/expstate.h) */
    rt_metrics *metrics;  /* shared by all workers */
    struct clf_classifier *clf; /* NULL: no model, rules only (fail open) */
    size_t max_response_bytes;
    size_t stream_high_water; /* pause the upstream above this much unsent output */
    uint64_t rng;         /* request id generator state */
    struct rt_feedback *feedback; /* /v1/feedback, /v1/labels (router/feedback.h) */
    size_t max_body_bytes; /* --max-body: every other endpoint's body limit */
} rt_ctx;

/* POST /v1/chat/completions */
void rt_chat_handle(rt_ctx *ctx, struct sy_http_req *req);
/* POST /v1/messages: the same machine, Anthropic's wire at the client's side */
void rt_messages_handle(rt_ctx *ctx, struct sy_http_req *req);
/* An error answer in a wire: OpenAI's {"error":{message, type, param, code}}, or
 * Anthropic's {"type":"error","error":{type, message}} with the type from the status. */
void rt_reply_wire_error(struct sy_http_req *req, exp_wire wire, int status, const char *type,
                         const char *code, const char *param, const char *msg);

#endif
