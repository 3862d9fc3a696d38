/*
 * feedback: POST /v1/feedback and POST /v1/labels inside the router.
 *
 *   verify signature -> parse and validate (feedback_parse) -> one statement
 *   per batch on the async PostgreSQL pool (sy_feedback_ingest / sy_labels_ingest,
 *   migrations/0003) -> 200, 207, 400, 401, 409 or 503 + Retry-After
 *
 * A 2xx is sent only after the statement committed. Contract and bodies:
 * docs/architecture.md, "Feedback and labels".
 */
#ifndef SY_RT_FEEDBACK_H
#define SY_RT_FEEDBACK_H

#include <stddef.h>

struct event_base;
struct exp_feedback;
struct rt_conf;
struct rt_metrics;
struct sy_http_req;
typedef struct rt_feedback rt_feedback;

/*
 * The endpoints' process state: the PostgreSQL pool, started when the config has a
 * "feedback" section and database_url is neither NULL nor empty (pool settings are
 * read here, once; a reload does not resize the pool). Every request and stored item is
 * counted in metrics (switchyard_feedback_*; may be NULL). NULL on allocation failure.
 */
rt_feedback *rt_feedback_new(struct event_base *base, const struct exp_feedback *cfg,
                             const char *database_url, struct rt_metrics *metrics)
    __attribute__((warn_unused_result));

/* The handlers. conf is the current generation (secrets, tolerance, window); the
 * request holds a reference to it until answered. fb may be NULL (503). */
void rt_feedback_handle(rt_feedback *fb, struct rt_conf *conf, struct sy_http_req *req);
void rt_labels_handle(rt_feedback *fb, struct rt_conf *conf, struct sy_http_req *req);

/* Pending requests are answered 503 before this returns: call it before freeing httpd. */
void rt_feedback_free(rt_feedback *fb);

#endif
