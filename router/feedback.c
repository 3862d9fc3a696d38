/*
 * feedback: the two webhook endpoints (see feedback.h).
 *
 * A request is a small state machine: FB_STORING while its one statement is on
 * the pool, FB_DONE once answered. The request object owns the parsed batch and
 * the SQL parameter strings until the pool's callback has run.
 */
#include "router/feedback.h"

#include <assert.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/pgasync.h"
#include "experiments/config.h"
#include "router/conf.h"
#include "router/feedback_parse.h"
#include "router/metrics.h"
#include "wire/sig.h"

#define RETRY_AFTER_DOWN "2"
#define RETRY_AFTER_BUSY "1"

struct rt_feedback {
    sy_pgpool *pool; /* NULL without a database URL */
    rt_metrics *metrics; /* shared, not owned; NULL: not counted */
};

enum fb_state { FB_STORING, FB_DONE };

static const char *const fb_state_names[] = {"storing", "done"};

#define FB_NPARAMS 12

typedef struct fb_req {
    rt_conf *conf; /* reference held until answered */
    rt_metrics *metrics;
    sy_http_req *http;
    enum fb_state state;
    int labels;   /* /v1/labels */
    int per_item; /* ?results=per_item */
    const char *project;
    rt_fb_batch batch;
    char *arrays[FB_NPARAMS]; /* owned array literals */
    const char *params[FB_NPARAMS];
    char window[16];
    size_t nsent;
    int64_t t0_us;
} fb_req;

static const char sql_feedback[] =
    "SELECT item_id, item_status FROM sy_feedback_ingest($1::text[], $2::text[], $3::text[], "
    "$4::text[], $5::smallint[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10, "
    "$11::integer, $12::boolean)";
static const char sql_labels[] =
    "SELECT item_request_id, item_labeller, item_status FROM sy_labels_ingest($1::text[], "
    "$2::text[], $3::text[], $4::text[], $5, $6::boolean)";

static void set_state(fb_req *r, enum fb_state st)
{
    assert(r->state == FB_STORING && st == FB_DONE);
    r->state = st;
}

static void count(rt_metrics *m, int labels, enum rt_fb_result result)
{
    if (m)
        rt_metrics_feedback(m, labels, result);
}

static void req_free(fb_req *r)
{
    rt_conf_unref(r->conf);
    rt_fb_batch_free(&r->batch);
    for (int i = 0; i < FB_NPARAMS; i++)
        free(r->arrays[i]);
    free(r);
}

static const char *what(const fb_req *r) { return r->labels ? "label" : "feedback"; }

/* ---------- PostgreSQL array literals ---------- */

struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* One element: NULL, or a double-quoted string with '"' and '\' escaped. */
static void sb_elem(struct sbuf *b, const char *v)
{
    if (b->len > 1)
        sb_put(b, ",", 1);
    if (!v) {
        sb_put(b, "NULL", 4);
        return;
    }
    sb_put(b, "\"", 1);
    const char *run = v;
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sb_put(b, run, (size_t)(p - run));
            sb_put(b, "\\", 1);
            run = p;
        }
    }
    sb_put(b, run, strlen(run));
    sb_put(b, "\"", 1);
}

/* ---------- replies ---------- */

static void reply_json(fb_req *r, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s) {
        sy_http_reply_error(r->http, 500, "api_error", "internal_error", NULL, "out of memory");
        return;
    }
    sy_http_reply(r->http, status, "application/json", s, strlen(s));
    free(s);
}

static void reply_unavailable(fb_req *r, const char *why)
{
    int busy = strstr(why, "busy") != NULL;
    sy_http_add_header(r->http, "Retry-After", busy ? RETRY_AFTER_BUSY : RETRY_AFTER_DOWN);
    sy_http_reply_error(r->http, 503, "api_error", "storage_unavailable", NULL,
                        "%s storage unavailable (%s); nothing was acknowledged, retry later "
                        "(retries are idempotent)",
                        what(r), why);
}

/* A key's index per item, for matching the rows the database returns. */
struct keymap {
    size_t cap;
    size_t *slot;
};

static void item_key(const fb_req *r, size_t i, const char **a, const char **b)
{
    if (r->labels) {
        *a = r->batch.labels[i].request_id;
        *b = r->batch.labels[i].labeller;
    } else {
        *a = r->batch.items[i].feedback_id;
        *b = NULL;
    }
}

static int item_ok(const fb_req *r, size_t i)
{
    return r->labels ? !r->batch.labels[i].error : !r->batch.items[i].error;
}

static int item_dup_of(const fb_req *r, size_t i)
{
    return r->labels ? r->batch.labels[i].dup_of : r->batch.items[i].dup_of;
}

static const char *item_error(const fb_req *r, size_t i)
{
    return r->labels ? r->batch.labels[i].error : r->batch.items[i].error;
}

static int keymap_build(struct keymap *m, const fb_req *r)
{
    m->cap = 16;
    while (m->cap < r->batch.n * 2)
        m->cap <<= 1;
    m->slot = malloc(m->cap * sizeof(size_t));
    if (!m->slot)
        return -1;
    for (size_t s = 0; s < m->cap; s++)
        m->slot[s] = (size_t)-1;
    for (size_t i = 0; i < r->batch.n; i++) {
        if (!item_ok(r, i) || item_dup_of(r, i) >= 0)
            continue;
        const char *a, *b;
        item_key(r, i, &a, &b);
        size_t s = (size_t)rt_fb_key_hash(a, b) & (m->cap - 1);
        while (m->slot[s] != (size_t)-1)
            s = (s + 1) & (m->cap - 1);
        m->slot[s] = i;
    }
    return 0;
}

static size_t keymap_find(const struct keymap *m, const fb_req *r, const char *a, const char *b)
{
    size_t s = (size_t)rt_fb_key_hash(a, b) & (m->cap - 1);
    for (; m->slot[s] != (size_t)-1; s = (s + 1) & (m->cap - 1)) {
        const char *ka, *kb;
        item_key(r, m->slot[s], &ka, &kb);
        if (!strcmp(ka, a) && (!b || !strcmp(kb, b)))
            return m->slot[s];
    }
    return (size_t)-1;
}

enum item_outcome { IO_CREATED, IO_DUPLICATE, IO_CONFLICT, IO_INVALID };
static const char *const outcome_names[] = {"created", "duplicate", "conflict", "invalid"};

static void reply_conflict(fb_req *r, size_t i)
{
    char param[48];
    if (r->batch.is_array)
        snprintf(param, sizeof(param), "[%zu].%s", i, r->labels ? "labeller" : "feedback_id");
    else
        snprintf(param, sizeof(param), "%s", r->labels ? "labeller" : "feedback_id");
    if (r->labels)
        sy_http_reply_error(r->http, 409, "invalid_request_error", "label_conflict", param,
                            "%s: \"%s\" already labelled request_id \"%s\" with a different "
                            "task_type or prompt; nothing was stored",
                            param, r->batch.labels[i].labeller, r->batch.labels[i].request_id);
    else
        sy_http_reply_error(r->http, 409, "invalid_request_error", "feedback_conflict", param,
                            "%s: \"%s\" was already received with different content; nothing "
                            "was stored",
                            param, r->batch.items[i].feedback_id);
}

static void on_stored(void *arg, sy_pg_status st, const struct pg_result *cres, const char *err)
{
    fb_req *r = arg;
    PGresult *res = (PGresult *)cres;
    set_state(r, FB_DONE);

    if (st == SY_PG_UNAVAILABLE) {
        sy_log_kv(SY_WARN, "feedback not stored", "endpoint", what(r), "reason", err, NULL);
        count(r->metrics, r->labels, RT_FBR_storage_unavailable);
        reply_unavailable(r, err);
        goto done;
    }
    if (st == SY_PG_ERROR) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        sy_log_kv(SY_ERROR, "feedback not stored", "endpoint", what(r), "sqlstate",
                  state ? state : "", "reason", err, NULL);
        /* connection, resource and concurrency classes are worth a retry, and so is a
         * standby's refusal (25006: the pool dropped that connection, the next one finds
         * the primary) */
        if (state && (!strncmp(state, "08", 2) || !strncmp(state, "53", 2) ||
                      !strncmp(state, "57", 2) || !strcmp(state, "40001") ||
                      !strcmp(state, "40P01") || !strcmp(state, "25006"))) {
            count(r->metrics, r->labels, RT_FBR_storage_unavailable);
            reply_unavailable(r, "database error");
        } else {
            count(r->metrics, r->labels, RT_FBR_storage_error);
            sy_http_reply_error(r->http, 500, "api_error", "storage_error", NULL,
                                "%s storage failed; nothing was stored", what(r));
        }
        goto done;
    }

    size_t n = r->batch.n;
    enum item_outcome *out = calloc(n ? n : 1, sizeof(*out));
    struct keymap m = {0, NULL};
    if (!out || keymap_build(&m, r)) {
        free(out);
        free(m.slot);
        count(r->metrics, r->labels, RT_FBR_internal_error);
        sy_http_reply_error(r->http, 500, "api_error", "internal_error", NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = item_ok(r, i) ? IO_CREATED : IO_INVALID;
    int ncols = PQnfields(res);
    for (int row = 0; row < PQntuples(res); row++) {
        const char *a = PQgetvalue(res, row, 0);
        const char *b = r->labels ? PQgetvalue(res, row, 1) : NULL;
        const char *status = PQgetvalue(res, row, ncols - 1);
        size_t i = keymap_find(&m, r, a, b);
        if (i == (size_t)-1)
            continue;
        out[i] = !strcmp(status, "conflict") ? IO_CONFLICT : IO_DUPLICATE;
    }
    free(m.slot);
    size_t count_[4] = {0, 0, 0, 0};
    size_t first_conflict = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        int d = item_dup_of(r, i);
        if (d >= 0) /* a repeat inside the batch: the first occurrence was stored */
            out[i] = out[d] == IO_CONFLICT ? IO_CONFLICT : IO_DUPLICATE;
        if (out[i] == IO_CONFLICT && first_conflict == (size_t)-1)
            first_conflict = i;
        count_[out[i]]++;
    }
    if (!r->per_item && first_conflict != (size_t)-1) {
        count(r->metrics, r->labels, RT_FBR_conflict);
        reply_conflict(r, first_conflict);
        free(out);
        goto done;
    }
    json_t *body = json_pack("{s:s, s:I, s:I, s:I}", "object",
                             r->labels ? "labels.batch" : "feedback.batch", "received",
                             (json_int_t)n, "created", (json_int_t)count_[IO_CREATED],
                             "duplicates", (json_int_t)count_[IO_DUPLICATE]);
    if (r->per_item && body) {
        json_object_set_new(body, "conflicts", json_integer((json_int_t)count_[IO_CONFLICT]));
        json_object_set_new(body, "invalid", json_integer((json_int_t)count_[IO_INVALID]));
        json_t *results = json_array();
        for (size_t i = 0; i < n && results; i++) {
            json_t *it = json_pack("{s:I, s:s}", "index", (json_int_t)i, "status",
                                   outcome_names[out[i]]);
            if (!it)
                continue;
            if (r->labels) {
                if (r->batch.labels[i].request_id)
                    json_object_set_new(it, "request_id",
                                        json_string(r->batch.labels[i].request_id));
                if (r->batch.labels[i].labeller)
                    json_object_set_new(it, "labeller", json_string(r->batch.labels[i].labeller));
            } else if (r->batch.items[i].feedback_id) {
                json_object_set_new(it, "feedback_id", json_string(r->batch.items[i].feedback_id));
            }
            if (out[i] == IO_INVALID)
                json_object_set_new(it, "error", json_string(item_error(r, i)));
            else if (out[i] == IO_CONFLICT)
                json_object_set_new(it, "error",
                                    json_string(r->labels ? "a different task_type or prompt is "
                                                            "already stored for this "
                                                            "request_id and labeller"
                                                          : "feedback_id already received "
                                                            "with different content"));
            json_array_append_new(results, it);
        }
        json_object_set_new(body, "results", results);
    }
    free(out);
    count(r->metrics, r->labels, RT_FBR_stored);
    if (r->metrics) {
        rt_metrics_feedback_items(r->metrics, r->labels, RT_FBO_created, count_[IO_CREATED]);
        rt_metrics_feedback_items(r->metrics, r->labels, RT_FBO_duplicate, count_[IO_DUPLICATE]);
        rt_metrics_feedback_items(r->metrics, r->labels, RT_FBO_conflict, count_[IO_CONFLICT]);
        rt_metrics_feedback_items(r->metrics, r->labels, RT_FBO_invalid, count_[IO_INVALID]);
    }
    if (r->nsent)
        sy_log(SY_DEBUG, "feedback stored",
               "endpoint=%s project=%s received=%zu created=%zu duplicates=%zu ms=%.1f", what(r),
               r->project, n, count_[IO_CREATED], count_[IO_DUPLICATE],
               (double)(sy_clock_wall_us() - r->t0_us) / 1000.0);
    reply_json(r, r->per_item ? 207 : 200, body);
done:
    req_free(r);
}

/* ---------- building the statement ---------- */

static int build_feedback_params(fb_req *r)
{
    struct sbuf col[9];
    memset(col, 0, sizeof(col));
    for (int c = 0; c < 9; c++)
        sb_put(&col[c], "{", 1);
    for (size_t i = 0; i < r->batch.n; i++) {
        const rt_fb_item *it = &r->batch.items[i];
        if (it->error || it->dup_of >= 0)
            continue;
        char rating[4];
        snprintf(rating, sizeof(rating), "%d", it->rating);
        sb_elem(&col[0], it->feedback_id);
        sb_elem(&col[1], it->request_id);
        sb_elem(&col[2], rt_fb_kind_column(it->kind));
        sb_elem(&col[3], it->value);
        sb_elem(&col[4], it->rating ? rating : NULL);
        sb_elem(&col[5], it->comment);
        sb_elem(&col[6], it->user_hash[0] ? it->user_hash : NULL);
        sb_elem(&col[7], it->has_created_at ? it->created_at : NULL);
        sb_elem(&col[8], it->content_hash);
        r->nsent++;
    }
    int oom = 0;
    for (int c = 0; c < 9; c++) {
        sb_put(&col[c], "}", 1);
        oom |= col[c].oom;
        r->arrays[c] = col[c].s;
        r->params[c] = col[c].s;
    }
    snprintf(r->window, sizeof(r->window), "%d", r->conf->cfg->feedback.attribution_window_s);
    r->params[9] = r->project;
    r->params[10] = r->window;
    r->params[11] = r->per_item ? "false" : "true";
    return oom ? -1 : 0;
}

static int build_label_params(fb_req *r)
{
    struct sbuf col[4];
    memset(col, 0, sizeof(col));
    for (int c = 0; c < 4; c++)
        sb_put(&col[c], "{", 1);
    for (size_t i = 0; i < r->batch.n; i++) {
        const rt_label_item *it = &r->batch.labels[i];
        if (it->error || it->dup_of >= 0)
            continue;
        sb_elem(&col[0], it->request_id);
        sb_elem(&col[1], it->labeller);
        sb_elem(&col[2], it->task_type);
        sb_elem(&col[3], it->prompt);
        r->nsent++;
    }
    int oom = 0;
    for (int c = 0; c < 4; c++) {
        sb_put(&col[c], "}", 1);
        oom |= col[c].oom;
        r->arrays[c] = col[c].s;
        r->params[c] = col[c].s;
    }
    r->params[4] = r->project;
    r->params[5] = r->per_item ? "false" : "true";
    return oom ? -1 : 0;
}

/* ---------- the handler ---------- */

static int wants_per_item(const char *query)
{
    if (!query)
        return 0;
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n == strlen("results=per_item") && !strncmp(p, "results=per_item", n))
            return 1;
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* The project whose secret signed the body, or the reason it is refused. */
static wire_sig_status verify(const rt_conf *conf, sy_http_req *req, const char **project)
{
    const exp_feedback *cfg = &conf->cfg->feedback;
    size_t len;
    const char *body = sy_http_body(req, &len);
    const char *hdr = sy_http_header(req, WIRE_SIG_HEADER);
    int64_t now_s = sy_clock_wall_us() / 1000000;
    wire_sig_status st = WIRE_SIG_MISSING;
    for (int p = 0; p < cfg->nprojects; p++) {
        wire_sig_secret secrets[EXP_FEEDBACK_MAX_SECRETS];
        int n = 0, matched;
        for (char **s = conf->feedback_secrets[p]; s && *s && n < EXP_FEEDBACK_MAX_SECRETS; s++)
            secrets[n++] = (wire_sig_secret){*s, strlen(*s)};
        st = wire_sig_verify(hdr, body, len, now_s, cfg->tolerance_s, secrets, n, &matched);
        if (st == WIRE_SIG_OK) {
            *project = cfg->projects[p].name;
            return st;
        }
        if (st != WIRE_SIG_MISMATCH) /* header problems do not depend on the project */
            return st;
    }
    return st;
}

static void handle(rt_feedback *fb, rt_conf *conf, sy_http_req *req, int labels)
{
    const char *kind = labels ? "labels" : "feedback";
    const exp_feedback *cfg = &conf->cfg->feedback;
    rt_metrics *metrics = fb ? fb->metrics : NULL;
    if (!cfg->enabled) {
        count(metrics, labels, RT_FBR_not_configured);
        sy_http_reply_error(req, 503, "api_error", "feedback_not_configured", NULL,
                            "%s ingestion is not configured: add a \"feedback\" section with "
                            "signing secrets to the router config",
                            kind);
        return;
    }
    const char *project = NULL;
    size_t len;
    const char *body = sy_http_body(req, &len);
    if (len > (size_t)cfg->max_body_bytes) {
        count(metrics, labels, RT_FBR_too_large);
        sy_http_reply_error(req, 413, "invalid_request_error", "request_too_large", NULL,
                            "request body of %zu bytes exceeds the limit of %ld bytes", len,
                            cfg->max_body_bytes);
        return;
    }
    wire_sig_status sig = verify(conf, req, &project);
    switch (sig) {
    case WIRE_SIG_OK: break;
    case WIRE_SIG_MISSING: count(metrics, labels, RT_FBR_missing_signature); break;
    case WIRE_SIG_MALFORMED: count(metrics, labels, RT_FBR_malformed_signature); break;
    case WIRE_SIG_STALE: count(metrics, labels, RT_FBR_signature_expired); break;
    case WIRE_SIG_MISMATCH: count(metrics, labels, RT_FBR_signature_mismatch); break;
    }
    switch (sig) {
    case WIRE_SIG_OK: break;
    case WIRE_SIG_MISSING:
        sy_http_reply_error(req, 401, "authentication_error", "missing_signature", NULL,
                            "missing %s header", WIRE_SIG_HEADER);
        return;
    case WIRE_SIG_MALFORMED:
        sy_http_reply_error(req, 401, "authentication_error", "malformed_signature", NULL,
                            "malformed %s header: expected t=<unix seconds>,v1=<64 hex digits "
                            "of HMAC-SHA256>",
                            WIRE_SIG_HEADER);
        return;
    case WIRE_SIG_STALE:
        sy_http_reply_error(req, 401, "authentication_error", "signature_expired", NULL,
                            "signature timestamp is outside the tolerance of %d seconds",
                            cfg->tolerance_s);
        return;
    case WIRE_SIG_MISMATCH:
        sy_http_reply_error(req, 401, "authentication_error", "signature_mismatch", NULL,
                            "signature does not match the body for any active secret");
        return;
    }
    if (!fb || !fb->pool) {
        count(metrics, labels, RT_FBR_storage_not_configured);
        sy_http_reply_error(req, 503, "api_error", "storage_not_configured", NULL,
                            "%s storage is not configured: start the router with "
                            "--database-url or SWITCHYARD_DATABASE_URL",
                            kind);
        return;
    }

    fb_req *r = calloc(1, sizeof(*r));
    if (!r) {
        count(metrics, labels, RT_FBR_internal_error);
        sy_http_reply_error(req, 500, "api_error", "internal_error", NULL, "out of memory");
        return;
    }
    r->conf = rt_conf_ref(conf);
    r->metrics = metrics;
    r->http = req;
    r->labels = labels;
    r->project = project;
    r->per_item = wants_per_item(sy_http_query(req));
    r->t0_us = sy_clock_wall_us();

    char err[512];
    rt_fb_parse_status ps =
        labels ? rt_fb_parse_labels(body, len, (size_t)cfg->max_items, &r->batch, err, sizeof(err))
               : rt_fb_parse_feedback(body, len, (size_t)cfg->max_items, r->t0_us,
                                      cfg->tolerance_s, &r->batch, err, sizeof(err));
    if (ps != RT_FB_PARSE_OK) {
        count(metrics, labels, ps == RT_FB_PARSE_NOMEM ? RT_FBR_internal_error : RT_FBR_invalid);
        if (ps == RT_FB_PARSE_NOMEM)
            sy_http_reply_error(req, 500, "api_error", "internal_error", NULL, "out of memory");
        else
            sy_http_reply_error(req, 400, "invalid_request_error",
                                labels ? "invalid_labels" : "invalid_feedback", "body", "%s", err);
        req_free(r);
        return;
    }
    if (r->batch.nerrors && !r->per_item) {
        const char *e = item_error(r, r->batch.first_error);
        char path[320];
        rt_fb_error_path(e, path, sizeof(path));
        count(metrics, labels, RT_FBR_invalid);
        sy_http_reply_error(req, 400, "invalid_request_error",
                            labels ? "invalid_labels" : "invalid_feedback", path, "%s", e);
        req_free(r);
        return;
    }
    int brc = labels ? build_label_params(r) : build_feedback_params(r);
    if (brc) {
        count(metrics, labels, RT_FBR_internal_error);
        sy_http_reply_error(req, 500, "api_error", "internal_error", NULL, "out of memory");
        req_free(r);
        return;
    }
    r->state = FB_STORING;
    if (r->nsent == 0) { /* per item, nothing valid: nothing to store */
        on_stored(r, SY_PG_OK, NULL, NULL);
        return;
    }
    const char *why;
    if (sy_pgpool_query(fb->pool, labels ? sql_labels : sql_feedback, labels ? 6 : FB_NPARAMS,
                        r->params, on_stored, r, &why)) {
        sy_log_kv(SY_WARN, "feedback refused", "endpoint", what(r), "state",
                  fb_state_names[r->state], "reason", why, NULL);
        count(metrics, labels, RT_FBR_storage_unavailable);
        reply_unavailable(r, why);
        req_free(r);
    }
}

void rt_feedback_handle(rt_feedback *fb, rt_conf *conf, sy_http_req *req)
{
    handle(fb, conf, req, 0);
}

void rt_labels_handle(rt_feedback *fb, rt_conf *conf, sy_http_req *req)
{
    handle(fb, conf, req, 1);
}

rt_feedback *rt_feedback_new(struct event_base *base, const exp_feedback *cfg,
                             const char *database_url, rt_metrics *metrics)
{
    rt_feedback *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    fb->metrics = metrics;
    if (cfg->enabled && database_url && *database_url) {
        sy_pgpool_opts o;
        sy_pgpool_opts_default(&o);
        o.application_name = "switchyard-router";
        o.size = cfg->db_pool_size;
        o.queue_max = cfg->db_queue_max;
        o.query_timeout_ms = cfg->db_timeout_ms;
        fb->pool = sy_pgpool_new(base, database_url, &o);
        if (!fb->pool) {
            free(fb);
            return NULL;
        }
    }
    return fb;
}

void rt_feedback_free(rt_feedback *fb)
{
    if (!fb)
        return;
    sy_pgpool_free(fb->pool);
    free(fb);
}
