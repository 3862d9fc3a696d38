/*
 * ctl_admin: the admin API, served by every controller (leader or not: each
 * action is one transaction with the experiment row locked, so two
 * controllers cannot interleave).
 *
 *   GET  /healthz                                   liveness, leadership
 *   GET  /admin/experiments                         every experiment, its live state
 *   POST /admin/experiments                         apply a definition (body: the JSON)
 *   GET  /admin/experiments/NAME                    state, plan and the last evaluation
 *   GET  /admin/experiments/NAME/history            decisions, newest first, and the
 *                                                   phase history
 *   GET  /admin/experiments/NAME/arms               the current step's arms as evaluated
 *   GET  /admin/experiments/NAME/savings            cost against the baseline over time
 *   POST /admin/experiments/NAME/ACTION             start pause resume promote rollback
 *                                                   hold release (body: {"task", "reason", "actor"})
 *   GET  /metrics                                   Prometheus text (no credential)
 *   /, /console/...                                 the web console (ctl_console.c)
 *
 * Everything under /admin/ needs a credential (ctl_auth.c): "Authorization: Bearer
 * <admin token>" (or the viewer token, read only), or a console session.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_json.h"
#include "common/httpd.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"
#include "experiments/routing.h"

void ctl_reply_not_found(sy_http_req *req, const char *name)
{
    sy_http_reply_error(req, 404, "invalid_request_error", "experiment_not_found", NULL,
                        "no experiment named \"%s\"", name);
}

void ctl_reply_db_down(sy_http_req *req)
{
    sy_http_add_header(req, "Retry-After", "5");
    sy_http_reply_error(req, 503, "api_error", "database_unavailable", NULL,
                        "the database is unavailable");
}

static json_t *text_array(const char *list)
{
    json_t *a = json_array();
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(t));
    return a;
}

static json_t *experiment_json(PGresult *r, int i, int full)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:I, s:s?, s:s?, s:s}",
                          "name", PQgetvalue(r, i, 0), "status", PQgetvalue(r, i, 1), "step",
                          atoi(PQgetvalue(r, i, 2)), "held_back", text_array(PQgetvalue(r, i, 3)),
                          "human_held", text_array(PQgetvalue(r, i, 4)), "human_pinned",
                          text_array(PQgetvalue(r, i, 5)), "version",
                          (json_int_t)atoll(PQgetvalue(r, i, 6)), "started_at",
                          PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7), "step_started_at",
                          PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8), "updated_at",
                          PQgetvalue(r, i, 9));
    if (full) {
        json_t *def = json_loads(PQgetvalue(r, i, 10), 0, NULL);
        json_object_set_new(o, "definition", def ? def : json_null());
        json_t *ev = PQgetisnull(r, i, 11) ? NULL : json_loads(PQgetvalue(r, i, 11), 0, NULL);
        json_object_set_new(o, "last_evaluation", ev ? ev : json_null());
    }
    return o;
}

#define EXP_COLS                                                                                   \
    "name, status, step, array_to_string(held_back, ','), array_to_string(human_held, ','), "     \
    "array_to_string(human_pinned, ','), version, started_at, step_started_at, updated_at, "      \
    "definition::text, last_evaluation::text"

static void list(ctl *c, sy_http_req *req)
{
    PGresult *r = ctl_db_q(c, "SELECT " EXP_COLS " FROM experiments ORDER BY name", 0, NULL);
    if (!r) {
        ctl_reply_db_down(req);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(a, experiment_json(r, i, 0));
    PQclear(r);
    sy_http_reply_json(req, 200, json_pack("{s:o}", "experiments", a));
}

static void show(ctl *c, sy_http_req *req, const char *name)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c, "SELECT " EXP_COLS " FROM experiments WHERE name = $1", 1, p);
    if (!r) {
        ctl_reply_db_down(req);
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        ctl_reply_not_found(req, name);
        return;
    }
    json_t *o = experiment_json(r, 0, 1);
    PQclear(r);
    sy_http_reply_json(req, 200, o);
}

/* experiment_phases, oldest first: the experiment's (task_type null) and its task types'. */
static json_t *phases_json(ctl *c, const char *name)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c,
                           "SELECT p.task_type, p.phase, p.routed_pct::float8, p.entered_at, "
                           "p.left_at, p.decision_id, d.action, d.actor, d.reason "
                           "FROM experiment_phases p LEFT JOIN decisions d ON d.id = "
                           "p.decision_id WHERE p.experiment = $1 ORDER BY p.id LIMIT 1000",
                           1, p);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
#define V(k) (PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k))
        json_array_append_new(
            a, json_pack("{s:s?, s:s, s:f, s:s, s:s?, s:I, s:s?, s:s?, s:s?}", "task_type", V(0),
                         "phase", PQgetvalue(r, i, 1), "routed_pct",
                         PQgetisnull(r, i, 2) ? 0.0 : atof(PQgetvalue(r, i, 2)), "entered_at",
                         PQgetvalue(r, i, 3), "left_at", V(4), "decision_id",
                         (json_int_t)(PQgetisnull(r, i, 5) ? 0 : atoll(PQgetvalue(r, i, 5))),
                         "action", V(6), "actor", V(7),
                         "reason", V(8)));
#undef V
    }
    PQclear(r);
    return a;
}

static int exists(ctl *c, sy_http_req *req, const char *name)
{
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c, "SELECT 1 FROM experiments WHERE name = $1", 1, p);
    if (!r) {
        ctl_reply_db_down(req);
        return 0;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (!n)
        ctl_reply_not_found(req, name);
    return n;
}

static void history(ctl *c, sy_http_req *req, const char *name)
{
    if (!exists(c, req, name))
        return;
    const char *p[] = {name};
    PGresult *r = ctl_db_q(c,
                           "SELECT id, ts, task_type, action, from_phase, to_phase, reason, actor, "
                           "evidence::text FROM decisions WHERE experiment = $1 ORDER BY id DESC "
                           "LIMIT 500",
                           1, p);
    if (!r) {
        ctl_reply_db_down(req);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *ev = json_loads(PQgetvalue(r, i, 8), 0, NULL);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:s?, s:s, s:s?, s:s?, s:s, s:s, s:o}", "id",
                         (json_int_t)atoll(PQgetvalue(r, i, 0)), "ts", PQgetvalue(r, i, 1),
                         "task_type", PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), "action",
                         PQgetvalue(r, i, 3), "from_phase",
                         PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4), "to_phase",
                         PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5), "reason",
                         PQgetvalue(r, i, 6), "actor", PQgetvalue(r, i, 7), "evidence",
                         ev ? ev : json_object()));
    }
    PQclear(r);
    json_t *phases = phases_json(c, name);
    if (!phases) {
        json_decref(a);
        ctl_reply_db_down(req);
        return;
    }
    sy_http_reply_json(req, 200, json_pack("{s:s, s:o, s:o}", "experiment", name, "decisions", a,
                                           "phases", phases));
}

static void define(ctl *c, sy_http_req *req)
{
    size_t len;
    const char *body = sy_http_body(req, &len);
    char err[8192], *name = NULL;
    int status;
    const char *actor = sy_http_header(req, "X-Actor");
    if (ctl_define(c, body, len, actor ? actor : "admin-api", &name, &status, err, sizeof(err))) {
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ';';
        sy_http_reply_error(req, status, status == 400 ? "invalid_request_error" : "api_error",
                            status == 400   ? "invalid_definition"
                            : status == 409 ? "experiment_running"
                                            : "database_unavailable",
                            NULL, "%s", err);
        return;
    }
    sy_http_reply_json(req, 201, json_pack("{s:s, s:s}", "name", name, "status", "draft"));
    free(name);
}

static void act(ctl *c, sy_http_req *req, const char *name, const char *verb,
                const ctl_cred *cred)
{
    static const struct {
        const char *verb;
        exp_op op;
        int needs_task;
    } verbs[] = {
        {"start", EXP_OP_START, 0},       {"pause", EXP_OP_PAUSE, 0},
        {"resume", EXP_OP_RESUME, 0},     {"promote", EXP_OP_PROMOTE, 0},
        {"rollback", EXP_OP_ROLLBACK, 0}, {"hold", EXP_OP_HOLD, 1},
        {"release", EXP_OP_RELEASE, 1},
    };
    int v = -1;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(verb, verbs[i].verb))
            v = (int)i;
    if (v < 0) {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_action", NULL,
                            "unknown action \"%s\" (start, pause, resume, promote, rollback, "
                            "hold, release)",
                            verb);
        return;
    }
    size_t len;
    const char *body = sy_http_body(req, &len);
    json_t *args = NULL;
    if (len) {
        json_error_t jerr;
        args = json_loadb(body, len, 0, &jerr);
        if (!json_is_object(args)) {
            json_decref(args);
            sy_http_reply_error(req, 400, "invalid_request_error", "invalid_json", NULL,
                                "body must be a JSON object: {\"task\", \"reason\", \"actor\"}");
            return;
        }
    }
    const char *task_s = json_string_value(json_object_get(args, "task"));
    const char *reason = json_string_value(json_object_get(args, "reason"));
    const char *actor = json_string_value(json_object_get(args, "actor"));
    if (!actor && cred->session)
        actor = "console";
    int task = -1;
    if (verbs[v].needs_task) {
        wire_task t;
        if (!task_s || wire_task_parse(task_s, &t)) {
            json_decref(args);
            sy_http_reply_error(req, 400, "invalid_request_error", "invalid_task", "task",
                                "\"task\" must be one of simple, code, reasoning, complex");
            return;
        }
        task = (int)t;
    }
    char why[512], human_reason[256];
    snprintf(human_reason, sizeof(human_reason), "%s by %s%s%s", verb, actor ? actor : "admin",
             reason ? ": " : "", reason ? reason : "");
    int status;
    int rc = ctl_apply(c, name, verbs[v].op, task, actor ? actor : "admin", human_reason, NULL,
                       &status, why, sizeof(why));
    json_decref(args);
    if (rc) {
        if (status == 503)
            sy_http_add_header(req, "Retry-After", "5");
        sy_http_reply_error(req, status, status == 409 ? "invalid_request_error" : "api_error",
                            status == 404   ? "experiment_not_found"
                            : status == 409 ? "not_allowed_now"
                                            : "database_unavailable",
                            NULL, "%s", why);
        return;
    }
    show(c, req, name);
}

int ctl_admin_path(const char *path, char name[CTL_NAME_MAX + 1], char verb[CTL_VERB_MAX + 1])
{
    static const char base[] = "/admin/experiments";
    name[0] = verb[0] = '\0';
    if (strncmp(path, base, sizeof(base) - 1))
        return -1;
    const char *rest = path + sizeof(base) - 1;
    if (!*rest)
        return 0;
    if (*rest++ != '/')
        return -1;
    size_t n = strcspn(rest, "/");
    if (n == 0 || n > CTL_NAME_MAX)
        return -1;
    memcpy(name, rest, n);
    name[n] = '\0';
    rest += n;
    if (!*rest)
        return 0;
    rest++;
    n = strlen(rest);
    if (n == 0 || n > CTL_VERB_MAX || strchr(rest, '/')) {
        name[0] = '\0';
        return -1;
    }
    memcpy(verb, rest, n + 1);
    return 0;
}

void ctl_admin_handle(sy_http_req *req, void *arg)
{
    ctl *c = arg;
    const char *path = sy_http_path(req);
    const char *method = sy_http_method(req);

    if (!strcmp(path, "/metrics")) {
        ctl_metrics_reply(c, req);
        return;
    }
    if (ctl_console_handle(c, req))
        return;
    if (!strcmp(path, "/healthz")) {
        sy_http_reply_json(req, 200, json_pack("{s:s, s:b, s:I, s:I}", "status", "ok", "leader",
                                       c->leader, "ticks", (json_int_t)c->ticks, "decisions",
                                       (json_int_t)c->decisions));
        return;
    }
    if (strncmp(path, "/admin/", 7) && strcmp(path, "/admin")) {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown request URL: %s %s", method, path);
        return;
    }
    ctl_cred cred;
    if (ctl_auth(c, req, strcmp(method, "GET") ? CTL_AUTH_WRITE : CTL_AUTH_READ, &cred))
        return;
    char name[CTL_NAME_MAX + 1], verb[CTL_VERB_MAX + 1];
    if (ctl_admin_path(path, name, verb)) {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown request URL: %s %s", method, path);
        return;
    }
    int read_verb = !strcmp(verb, "history") || !strcmp(verb, "arms") || !strcmp(verb, "savings");
    const char *want = !name[0] ? "GET, POST" : (!verb[0] || read_verb) ? "GET" : "POST";
    /* exact: a substring test would let "ET" or "POS" through */
    int allowed = !strcmp(method, "GET") ? !strncmp(want, "GET", 3)
                  : !strcmp(method, "POST") && strstr(want, "POST") != NULL;
    if (!allowed) {
        sy_http_add_header(req, "Allow", want);
        sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                            "method %s is not allowed on %s (allowed: %s)", method, path, want);
        return;
    }
    if (!name[0])
        !strcmp(method, "GET") ? list(c, req) : define(c, req);
    else if (!verb[0])
        show(c, req, name);
    else if (!strcmp(verb, "history"))
        history(c, req, name);
    else if (!strcmp(verb, "arms"))
        ctl_views_arms(c, req, name);
    else if (!strcmp(verb, "savings"))
        ctl_views_savings(c, req, name);
    else
        act(c, req, name, verb, &cred);
}
