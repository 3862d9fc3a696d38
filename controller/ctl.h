/*
 * The controller daemon's shared state and its parts (internal to controller/):
 *
 *   controller.c  options, the event loop, leadership, the tick timer
 *   ctl_store.c   PostgreSQL: experiments, decisions, phases, rollup sums, labels
 *   ctl_apply.c   one action (human or controller) applied, recorded, published
 *   ctl_tick.c    the evaluation of every running experiment, once per tick
 *   ctl_admin.c   the admin API under /admin/
 *   ctl_notify.c  the webhook outbox: signed deliveries, retried
 *
 * The controller is its own process, off every request path, so it talks to
 * PostgreSQL and Redis synchronously, each call bounded by a timeout
 * (statement_timeout, connect_timeout, Redis socket timeouts).
 */
#ifndef SY_CTL_H
#define SY_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "common/redisurl.h"
#include "experiments/lifecycle.h"

struct event_base;
struct event;
struct pg_conn;
struct redisContext;
typedef struct sy_httpd sy_httpd;
typedef struct sy_http_req sy_http_req;

typedef struct ctl {
    struct event_base *base;
    sy_httpd *httpd;
    const char *database_url;
    struct pg_conn *pg;          /* PGconn: work and the leader's advisory lock */
    sy_redis_addr raddr;
    struct redisContext *redis;  /* publishing the live state */
    const char *admin_token;
    int tick_ms;
    int leader;
    struct event *tick;
    uint64_t ticks, decisions, notifications_sent, notifications_failed;
} ctl;

/* ---- PostgreSQL (ctl_store.c) ---- */
int ctl_pg_ensure(ctl *c) __attribute__((warn_unused_result)); /* connected, or -1 */
void ctl_pg_drop(ctl *c);
/* Try to become (or stay) the leader: pg_try_advisory_lock on our session. */
int ctl_pg_lead(ctl *c);

/* ---- Redis (ctl_apply.c) ---- */
/* One command on the controller's Redis connection (reconnecting if needed);
 * a redisReply to free, or NULL when Redis is unreachable (logged). */
struct redisReply *ctl_redis_command(ctl *c, const char *fmt, ...);
/* Publish the experiment's live state (hash + PUBLISH). 0 or -1 (logged). */
int ctl_publish(ctl *c, const char *experiment);

/* ---- actions (ctl_apply.c) ---- */
/* Apply op to the experiment in one transaction: state, decision row with its
 * evidence, phase history, notification outbox; then publish. task: -1 or an
 * wire_task. evidence: JSON text or NULL. On refusal returns -1 with the reason
 * in err and *status 404/409 (unknown experiment / not allowed now) or 503. */
int ctl_apply(ctl *c, const char *experiment, exp_op op, int task, const char *actor,
              const char *reason, const char *evidence, int *status, char *err, size_t errlen);
/* Store (or replace, while draft/finished) a definition; validation errors in err. */
int ctl_define(ctl *c, const char *json, size_t len, const char *actor, char **name_out,
               int *status, char *err, size_t errlen);
/* Record a decision that changes nothing (hold, warn) with its evidence. */
int ctl_record(ctl *c, const char *experiment, const char *action, int task, const char *reason,
               const char *evidence);

/* ---- the evaluation (ctl_tick.c) ---- */
void ctl_tick_once(ctl *c);

/* ---- admin API (ctl_admin.c) ---- */
void ctl_admin_handle(sy_http_req *req, void *arg);

/* ---- notifications (ctl_notify.c) ---- */
void ctl_notify_deliver(ctl *c);

#endif
