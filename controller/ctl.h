/*
 * The controller daemon's shared state and its parts (internal to controller/):
 *
 *   controller.c  options, the event loop, leadership, the tick timer
 *   ctl_store.c   PostgreSQL: experiments, decisions, phases, rollup sums, labels
 *   ctl_apply.c   one action (human or controller) applied, recorded, published
 *   ctl_tick.c    the evaluation of every running experiment, once per tick
 *   ctl_admin.c   the admin API under /admin/: routing and the experiment endpoints
 *   ctl_views.c   the read-only JSON the console needs beyond that: arms, savings
 *   ctl_auth.c    who is asking: bearer tokens, console sessions, CSRF and Origin
 *   ctl_console.c the web console: its page and assets, login and logout
 *   ctl_metrics.c /metrics in the Prometheus text format
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
#include "experiments/decide.h"
#include "experiments/lifecycle.h"

struct event_base;
struct event;
struct pg_conn;
struct redisContext;
typedef struct sy_httpd sy_httpd;
typedef struct sy_http_req sy_http_req;
typedef struct ctl_sessions ctl_sessions;

typedef struct ctl {
    struct event_base *base;
    sy_httpd *httpd;
    const char *database_url;
    struct pg_conn *pg;          /* PGconn: work and the leader's advisory lock */
    sy_redis_addr raddr;
    struct redisContext *redis;  /* publishing the live state */
    const char *admin_token;
    const char *viewer_token;    /* NULL: no read-only token configured */
    /* the console (ctl_console.c, ctl_auth.c) */
    ctl_sessions *sessions;
    int session_ttl_s;
    int cookie_secure;           /* add "Secure" to the session cookie (https) */
    const char *console_origin;  /* the only Origin accepted on a state change; NULL: Host's */
    int tick_ms;
    int leader;
    struct event *tick;
    uint64_t ticks, decisions, notifications_sent, notifications_failed;
    int64_t last_tick_ms;        /* wall clock of the last finished tick (leader), 0: none */
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
/* The arms of one step, exactly as the evaluation reads them (rollups_hour of this
 * phase and routed share since started_at; the quality arms only past the attribution
 * window). tasks: WIRE_NTASKS slots. Returns the number filled, or -1. */
int ctl_load_arms(ctl *c, const char *name, const char *phase, int routed_bp,
                  const char *started_at, int window_s, exp_task_input *tasks);

/* ---- admin API (ctl_admin.c) ---- */
void ctl_admin_handle(sy_http_req *req, void *arg);
/* 404 experiment_not_found / 503 database_unavailable, the admin API's wording. */
void ctl_reply_not_found(sy_http_req *req, const char *name);
void ctl_reply_db_down(sy_http_req *req);

/* ---- console data (ctl_views.c): GET /admin/experiments/NAME/{arms,savings} ---- */
void ctl_views_arms(ctl *c, sy_http_req *req, const char *name);
void ctl_views_savings(ctl *c, sy_http_req *req, const char *name);

/* ---- credentials (ctl_auth.c) ---- */
typedef enum { CTL_ROLE_NONE = 0, CTL_ROLE_VIEWER, CTL_ROLE_ADMIN } ctl_role;
const char *ctl_role_str(ctl_role r);
enum {
    CTL_AUTH_READ = 0,   /* any valid credential */
    CTL_AUTH_WRITE = 1,  /* a state change: admin only; a session also needs CSRF + Origin */
    CTL_AUTH_SESSION_WRITE = 2, /* a session's own state change (logout): any role, CSRF + Origin */
};
typedef struct ctl_cred {
    ctl_role role;
    int session;              /* authenticated by the console cookie */
    char csrf[65];            /* the session's CSRF token ("" for a bearer token) */
    long expires_in_s;
} ctl_cred;
/* Who sent req: an Authorization: Bearer token (admin or viewer), else the console
 * session cookie. 0 with *cred filled, or -1 after replying 401/403 with the reason. */
int ctl_auth(ctl *c, sy_http_req *req, int need, ctl_cred *cred)
    __attribute__((warn_unused_result));
/* The same check without replying: 0 authenticated, -1 not. */
int ctl_auth_peek(ctl *c, sy_http_req *req, ctl_cred *cred);
/* Sessions: created at login with a fresh random id and CSRF token; forgotten at
 * logout or expiry. */
ctl_sessions *ctl_sessions_new(int max);
void ctl_sessions_free(ctl_sessions *s);
int ctl_session_create(ctl *c, ctl_role role, char id_out[65], char csrf_out[65])
    __attribute__((warn_unused_result));
void ctl_session_drop(ctl *c, sy_http_req *req);
/* Does a token match the admin or viewer token (constant time)? */
ctl_role ctl_token_role(const ctl *c, const char *token, size_t len);
/* Origin header absent, or equal to the console's origin. */
int ctl_origin_ok(const ctl *c, sy_http_req *req);
/* The console session cookie's value in a Cookie header (NULL: none): *len bytes at
 * the return, inside header, trailing spaces cut. */
#define CTL_COOKIE_NAME "sy_console"
const char *ctl_cookie_find(const char *header, size_t *len);

/* ---- admin API (ctl_admin.c) ---- */
#define CTL_NAME_MAX 128 /* longest experiment name in a URL */
#define CTL_VERB_MAX 32
/* path as /admin/experiments[/NAME[/VERB]]: 0 with name and verb ("" when absent; no
 * '/', not empty when present), or -1 for any other path. */
int ctl_admin_path(const char *path, char name[CTL_NAME_MAX + 1], char verb[CTL_VERB_MAX + 1]);

/* ---- console (ctl_console.c) ---- */
/* 1 when the request was a console path (/, /console/...) and is answered. */
int ctl_console_handle(ctl *c, sy_http_req *req);

/* ---- metrics (ctl_metrics.c) ---- */
void ctl_metrics_reply(ctl *c, sy_http_req *req);

/* ---- notifications (ctl_notify.c) ---- */
void ctl_notify_deliver(ctl *c);

#endif
