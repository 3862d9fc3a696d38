/*
 * ctl_apply: every change to an experiment goes through here, whether a
 * human asked for it (admin API, CLI) or the evaluation decided it: one
 * transaction updates the state, writes the decision with its evidence, the
 * phase history and the notification outbox; then the new state is published
 * to Redis for the routers. Publishing is repeated every tick, so a Redis
 * outage at this moment only delays it.
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redisdiscover.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"
#include "experiments/experiment.h"
#include "experiments/routing.h"
#include "wire/keys.h"

unsigned ctl_tasks_mask(const char *list)
{
    unsigned m = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list ? list : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        wire_task task;
        if (!wire_task_parse(t, &task))
            m |= 1u << task;
    }
    return m;
}

void ctl_tasks_list(unsigned mask, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int t = 0; t < WIRE_NTASKS; t++)
        if (mask & (1u << t))
            n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
                                  wire_task_str((wire_task)t));
}

/* The router-facing phase and routed share of an experiment in this state. */
static void live_phase(const exp_experiment *x, const exp_life *l, exp_phase *phase, int *routed_bp)
{
    exp_phase kind = EXP_PHASE_OFF;
    int bp = exp_experiment_step(x, l->step, &kind);
    *phase = exp_life_phase(l, kind);
    switch (*phase) {
    case EXP_PHASE_CANARY:
    case EXP_PHASE_RAMP:
    case EXP_PHASE_FULL:
        *routed_bp = bp;
        break;
    case EXP_PHASE_COMPLETED:
        *routed_bp = 10000;
        break;
    default:
        *routed_bp = 0;
        break;
    }
}

/* Map a lifecycle op to the decisions.action vocabulary. */
static const char *decision_action(exp_op op, const exp_life *after)
{
    switch (op) {
    case EXP_OP_START: return "start";
    case EXP_OP_PAUSE:
    case EXP_OP_AUTO_PAUSE: return "pause";
    case EXP_OP_RESUME: return "resume";
    case EXP_OP_PROMOTE: return after->status == EXP_STATUS_COMPLETED ? "complete" : "promote";
    case EXP_OP_ADVANCE: return after->status == EXP_STATUS_COMPLETED ? "complete" : "advance";
    case EXP_OP_ROLLBACK:
    case EXP_OP_AUTO_ROLLBACK: return "rollback";
    case EXP_OP_HOLD:
    case EXP_OP_HOLD_BACK: return "hold_back";
    case EXP_OP_RELEASE: return "release";
    }
    return "hold";
}

/* Queue the decision for every webhook subscribed to its action. */
static int enqueue_notifications(ctl *c, const exp_experiment *x, const char *decision_id,
                                 const char *action, int task, const char *from,
                                 const char *to, const char *reason, const char *actor,
                                 const char *evidence)
{
    exp_event ev;
    if (exp_event_parse(action, &ev))
        return 0;
    json_t *ej = evidence ? json_loads(evidence, 0, NULL) : NULL;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:I, s:o}", "event",
                             action, "experiment", x->config->experiment, "decision_id",
                             decision_id, "task_type",
                             task >= 0 ? wire_task_str((wire_task)task) : NULL, "from_phase", from,
                             "to_phase", to, "reason", reason, "actor", actor, "ts_ms",
                             (json_int_t)sy_clock_wall_ms(), "evidence", ej ? ej : json_object());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -1;
    int rc = 0;
    for (int i = 0; i < x->notifications.nwebhooks && !rc; i++) {
        const exp_webhook *w = &x->notifications.webhooks[i];
        if (!(w->events & (1u << ev)))
            continue;
        char attempts[16];
        snprintf(attempts, sizeof(attempts), "%d", x->notifications.max_attempts);
        const char *p[] = {x->config->experiment, decision_id, w->url, w->secret_env, text,
                           attempts};
        rc = ctl_db_exec(c,
                         "INSERT INTO notifications (experiment, decision_id, url, secret_env, "
                         "body, max_attempts) VALUES ($1, $2, $3, $4, $5, $6)",
                         6, p);
    }
    free(text);
    return rc;
}

struct row {
    exp_experiment *x;
    exp_life life;
};

/* SELECT ... FOR UPDATE inside the caller's transaction. */
static int load_locked(ctl *c, const char *name, struct row *out, int *status, char *err,
                       size_t errlen)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c,
                           "SELECT definition::text, status, step, array_to_string(held_back, ','), "
                           "array_to_string(human_held, ','), array_to_string(human_pinned, ',') "
                           "FROM experiments WHERE name = $1 FOR UPDATE",
                           1, p);
    if (!r) {
        *status = 503;
        snprintf(err, errlen, "the database is unavailable");
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        *status = 404;
        snprintf(err, errlen, "no experiment named \"%s\"", name);
        return -1;
    }
    char perr[4096];
    const char *def = PQgetvalue(r, 0, 0);
    if (exp_experiment_parse(def, strlen(def), &out->x, perr, sizeof(perr))) {
        PQclear(r);
        *status = 500;
        snprintf(err, errlen, "stored definition no longer valid: %s", perr);
        return -1;
    }
    memset(&out->life, 0, sizeof(out->life));
    exp_status st = EXP_STATUS_DRAFT;
    (void)exp_status_parse(PQgetvalue(r, 0, 1), &st);
    out->life.status = st;
    out->life.step = atoi(PQgetvalue(r, 0, 2));
    out->life.nsteps = out->x->nsteps;
    out->life.held_back = ctl_tasks_mask(PQgetvalue(r, 0, 3));
    out->life.human_held = ctl_tasks_mask(PQgetvalue(r, 0, 4));
    out->life.human_pinned = ctl_tasks_mask(PQgetvalue(r, 0, 5));
    PQclear(r);
    return 0;
}

static const char *history_phase(exp_phase p)
{
    switch (p) {
    case EXP_PHASE_SHADOW:
    case EXP_PHASE_CANARY:
    case EXP_PHASE_RAMP:
    case EXP_PHASE_FULL:
    case EXP_PHASE_PAUSED:
    case EXP_PHASE_ROLLED_BACK:
        return exp_phase_str(p);
    default:
        return NULL; /* draft, completed: no open phase row */
    }
}

int ctl_apply(ctl *c, const char *name, exp_op op, int task, const char *actor,
              const char *reason, const char *evidence, int *status, char *err, size_t errlen)
{
    struct row row = {0};
    *status = 503;
    if (ctl_db_exec(c, "BEGIN", 0, NULL)) {
        snprintf(err, errlen, "the database is unavailable");
        return -1;
    }
    if (load_locked(c, name, &row, status, err, errlen))
        goto fail;
    exp_life before = row.life;
    exp_phase from, to;
    int from_bp, to_bp;
    live_phase(row.x, &before, &from, &from_bp);
    if (exp_life_apply(&row.life, op, task, err, errlen)) {
        *status = 409;
        goto fail;
    }
    live_phase(row.x, &row.life, &to, &to_bp);

    char held[128], hheld[128], pinned[128], step[16];
    ctl_tasks_list(row.life.held_back, held, sizeof(held));
    ctl_tasks_list(row.life.human_held, hheld, sizeof(hheld));
    ctl_tasks_list(row.life.human_pinned, pinned, sizeof(pinned));
    snprintf(step, sizeof(step), "%d", row.life.step);
    const char *started = op == EXP_OP_START ? "t" : "f";
    const char *step_changed = (op == EXP_OP_START || row.life.step != before.step) ? "t" : "f";
    const char *up[] = {name, exp_status_str(row.life.status), step, held, hheld, pinned,
                        started, step_changed};
    if (ctl_db_exec(c,
                    "UPDATE experiments SET status = $2, step = $3::int, "
                    "held_back = string_to_array($4, ','), human_held = string_to_array($5, ','), "
                    "human_pinned = string_to_array($6, ','), version = version + 1, "
                    "updated_at = now(), "
                    "started_at = CASE WHEN $7::bool THEN now() ELSE started_at END, "
                    "step_started_at = CASE WHEN $8::bool THEN now() ELSE step_started_at END "
                    "WHERE name = $1",
                    8, up))
        goto fail;

    const char *action = decision_action(op, &row.life);
    const char *task_name = task >= 0 ? wire_task_str((wire_task)task) : NULL;
    if (op != EXP_OP_HOLD && op != EXP_OP_RELEASE && op != EXP_OP_HOLD_BACK)
        task_name = NULL;
    const char *ins[] = {name,    task_name, action, exp_phase_str(from), exp_phase_str(to),
                         reason,  evidence ? evidence : "{}", actor};
    PGresult *r = ctl_db_q(c,
                           "INSERT INTO decisions (experiment, task_type, action, from_phase, "
                           "to_phase, reason, evidence, actor) VALUES ($1, $2, $3, $4, $5, $6, "
                           "$7::jsonb, $8) RETURNING id",
                           8, ins);
    if (!r)
        goto fail;
    char decision_id[32];
    snprintf(decision_id, sizeof(decision_id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    /* phase history: the experiment's, and a task type's hold */
    if (from != to || from_bp != to_bp) {
        const char *p1[] = {name};
        if (ctl_db_exec(c,
                        "UPDATE experiment_phases SET left_at = now() WHERE experiment = $1 "
                        "AND task_type IS NULL AND left_at IS NULL",
                        1, p1))
            goto fail;
        const char *hp = history_phase(to);
        if (hp) {
            char pct[32];
            snprintf(pct, sizeof(pct), "%.2f", to_bp / 100.0);
            const char *p2[] = {name, hp, pct, decision_id};
            if (ctl_db_exec(c,
                            "INSERT INTO experiment_phases (experiment, phase, routed_pct, "
                            "decision_id) VALUES ($1, $2, $3::numeric, $4::bigint)",
                            4, p2))
                goto fail;
        }
    }
    if (task_name && (op == EXP_OP_HOLD || op == EXP_OP_HOLD_BACK || op == EXP_OP_RELEASE)) {
        const char *p3[] = {name, task_name};
        if (ctl_db_exec(c,
                        "UPDATE experiment_phases SET left_at = now() WHERE experiment = $1 "
                        "AND task_type = $2 AND left_at IS NULL",
                        2, p3))
            goto fail;
        if (op != EXP_OP_RELEASE) {
            const char *p4[] = {name, task_name, decision_id};
            if (ctl_db_exec(c,
                            "INSERT INTO experiment_phases (experiment, task_type, phase, "
                            "decision_id) VALUES ($1, $2, 'held_back', $3::bigint)",
                            3, p4))
                goto fail;
        }
    }
    if (enqueue_notifications(c, row.x, decision_id, action, task_name ? task : -1,
                              exp_phase_str(from), exp_phase_str(to), reason, actor, evidence))
        goto fail;
    if (ctl_db_exec(c, "COMMIT", 0, NULL))
        goto fail;
    c->decisions++;
    sy_log_kv(SY_INFO, "decision", "experiment", name, "action", action, "task", task_name,
              "from", exp_phase_str(from), "to", exp_phase_str(to), "actor", actor, "reason",
              reason, NULL);
    exp_experiment_free(row.x);
    (void)ctl_publish(c, name);
    return 0;
fail:
    ctl_db_rollback(c);
    exp_experiment_free(row.x);
    return -1;
}

int ctl_record(ctl *c, const char *name, const char *action, int task, const char *reason,
               const char *evidence)
{
    const char *p[] = {name, task >= 0 ? wire_task_str((wire_task)task) : NULL, action, reason,
                       evidence ? evidence : "{}"};
    /* Not again when the experiment's last row of this action has the same reason: the
     * caller's memory of what it noted is per process, so a new leader (after a failover)
     * would otherwise write the verdict its predecessor wrote once more. */
    return ctl_db_exec(c,
                       "INSERT INTO decisions (experiment, task_type, action, from_phase, "
                       "to_phase, reason, evidence) SELECT $1, $2, $3, e.status, e.status, $4, "
                       "$5::jsonb FROM experiments e WHERE e.name = $1 AND NOT EXISTS ("
                       "SELECT 1 FROM (SELECT reason FROM decisions WHERE experiment = $1 "
                       "AND action = $3 ORDER BY id DESC LIMIT 1) l WHERE l.reason = $4)",
                       5, p);
}

int ctl_define(ctl *c, const char *json, size_t len, const char *actor, char **name_out,
               int *status, char *err, size_t errlen)
{
    exp_experiment *x = NULL;
    *status = 400;
    if (exp_experiment_parse(json, len, &x, err, errlen))
        return -1;
    const char *name = x->config->experiment;
    const char *p[] = {name, x->canonical, x->config->salt};
    *status = 503;
    if (ctl_db_exec(c, "BEGIN", 0, NULL)) {
        snprintf(err, errlen, "the database is unavailable");
        goto fail;
    }
    /* a running or paused experiment keeps its definition: roll back first */
    PGresult *r = ctl_db_q(c, "SELECT status FROM experiments WHERE name = $1 FOR UPDATE", 1, p);
    if (!r)
        goto fail_tx;
    if (PQntuples(r) && (!strcmp(PQgetvalue(r, 0, 0), "running") ||
                         !strcmp(PQgetvalue(r, 0, 0), "paused"))) {
        snprintf(err, errlen,
                 "experiment \"%s\" is %s: roll it back (or let it complete) before changing "
                 "its definition",
                 name, PQgetvalue(r, 0, 0));
        PQclear(r);
        *status = 409;
        goto fail_tx;
    }
    PQclear(r);
    if (ctl_db_exec(c,
                    "INSERT INTO experiments (name, definition, status, salt) "
                    "VALUES ($1, $2::jsonb, 'draft', $3) "
                    "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
                    "status = 'draft', salt = excluded.salt, step = 0, held_back = '{}', "
                    "human_held = '{}', human_pinned = '{}', version = experiments.version + 1, "
                    "started_at = NULL, step_started_at = NULL, last_evaluation = NULL, "
                    "updated_at = now()",
                    3, p))
        goto fail_tx;
    const char *d[] = {name, actor};
    if (ctl_db_exec(c,
                    "INSERT INTO decisions (experiment, action, to_phase, reason, actor) "
                    "VALUES ($1, 'apply', 'draft', 'definition applied', $2)",
                    2, d))
        goto fail_tx;
    if (ctl_db_exec(c, "COMMIT", 0, NULL))
        goto fail_tx;
    *name_out = strdup(name);
    exp_experiment_free(x);
    (void)ctl_publish(c, *name_out);
    return 0;
fail_tx:
    if (!err[0])
        snprintf(err, errlen, "the database is unavailable");
    ctl_db_rollback(c);
fail:
    exp_experiment_free(x);
    return -1;
}

static int redis_ensure(ctl *c)
{
    if (c->redis && !((redisContext *)c->redis)->err)
        return 0;
    if (c->redis)
        redisFree((redisContext *)c->redis);
    c->redis = NULL;
    if (sy_redis_locate(&c->raddr, 1000, "controller") != 0)
        return -1;
    struct timeval tv = {1, 0};
    redisContext *rc = redisConnectWithTimeout(c->raddr.host, c->raddr.port, tv);
    if (!rc || rc->err) {
        sy_log_kv(SY_WARN, "redis unreachable", "reason", rc ? rc->errstr : "out of memory", NULL);
        if (rc)
            redisFree(rc);
        c->redis = NULL;
        return -1;
    }
    redisSetTimeout(rc, tv);
    if (c->raddr.password[0]) {
        redisReply *a = c->raddr.user[0]
                            ? redisCommand(rc, "AUTH %s %s", c->raddr.user, c->raddr.password)
                            : redisCommand(rc, "AUTH %s", c->raddr.password);
        freeReplyObject(a);
    }
    if (c->raddr.db) {
        redisReply *s = redisCommand(rc, "SELECT %d", c->raddr.db);
        freeReplyObject(s);
    }
    c->redis = (struct redisContext *)rc;
    return 0;
}

redisReply *ctl_redis_command(ctl *c, const char *fmt, ...)
{
    if (redis_ensure(c))
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand((redisContext *)c->redis, fmt, ap);
    va_end(ap);
    if (!rep) {
        sy_log_kv(SY_WARN, "redis command failed", "reason", ((redisContext *)c->redis)->errstr,
                  NULL);
        redisFree((redisContext *)c->redis);
        c->redis = NULL;
    } else if (c->raddr.nsentinels && rep->type == REDIS_REPLY_ERROR &&
               sy_redis_error_is_failover(rep->str)) {
        /* a replica now (Sentinel failover): the next command finds the primary */
        sy_log_kv(SY_WARN, "redis node is not the primary, looking again", "reason", rep->str,
                  NULL);
        redisFree((redisContext *)c->redis);
        c->redis = NULL;
    }
    return rep;
}

int ctl_publish(ctl *c, const char *name)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c,
                           "SELECT definition::text, status, step, array_to_string(held_back, ','), "
                           "coalesce(salt, name), version FROM experiments WHERE name = $1",
                           1, p);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return -1;
    }
    exp_experiment *x = NULL;
    char perr[1024];
    const char *def = PQgetvalue(r, 0, 0);
    if (exp_experiment_parse(def, strlen(def), &x, perr, sizeof(perr))) {
        PQclear(r);
        return -1;
    }
    exp_life l = {0};
    exp_status st = EXP_STATUS_DRAFT;
    (void)exp_status_parse(PQgetvalue(r, 0, 1), &st);
    l.status = st;
    l.step = atoi(PQgetvalue(r, 0, 2));
    l.nsteps = x->nsteps;
    exp_phase phase;
    int routed_bp;
    live_phase(x, &l, &phase, &routed_bp);
    char key[256], bp[16], hold_bp[16];
    snprintf(key, sizeof(key), WIRE_KEY_STATE, name);
    snprintf(bp, sizeof(bp), "%d", routed_bp);
    snprintf(hold_bp, sizeof(hold_bp), "%d", x->config->holdout_bp);
    /* a second try on a fresh connection when the first one's was lost or reached a node
     * that is no longer the primary (a Sentinel failover): publishing is idempotent */
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        if (redis_ensure(c) != 0)
            break;
        redisContext *rc_ = (redisContext *)c->redis;
        redisAppendCommand(rc_, "MULTI");
        redisAppendCommand(rc_, "DEL %s", key);
        redisAppendCommand(rc_, "HSET %s phase %s routed_bp %s holdout_bp %s salt %s held_back %s version %s",
                           key, exp_phase_str(phase), bp, hold_bp, PQgetvalue(r, 0, 4),
                           PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 5));
        redisAppendCommand(rc_, "EXEC");
        redisAppendCommand(rc_, "PUBLISH %s %s", key, PQgetvalue(r, 0, 5));
        rc = 0;
        int failover = 0;
        char why[256] = "error reply";
        for (int i = 0; i < 5; i++) {
            redisReply *rep = NULL;
            if (redisGetReply(rc_, (void **)&rep) != REDIS_OK) {
                rc = -1;
                break;
            }
            if (rep->type == REDIS_REPLY_ERROR) {
                rc = -1;
                snprintf(why, sizeof(why), "%s", rep->str);
                failover |= c->raddr.nsentinels && sy_redis_error_is_failover(rep->str);
            }
            freeReplyObject(rep);
        }
        if (rc == 0)
            break;
        int retry = rc_->err || failover;
        sy_log_kv(SY_WARN, retry && attempt == 0 ? "state not published, reconnecting"
                                                 : "state not published, will retry next tick",
                  "experiment", name, "reason", rc_->err ? rc_->errstr : why, NULL);
        if (!retry)
            break;
        redisFree(rc_);
        c->redis = NULL;
    }
    PQclear(r);
    exp_experiment_free(x);
    return rc;
}
