/*
 * chat COHORT, CLASSIFY and ROUTE (router/chat.h): who the user is, what the
 * request is, and which models answer it in which order.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/chat_text.h"
#include "classifier/classifier.h"
#include "classifier/rules.h"
#include "common/httpd.h"
#include "common/numfmt.h"
#include "experiments/cohort.h"
#include "router/chat.h"
#include "router/expstate.h"
#include "router/metrics.h"
#include "router/redis.h"

/* who: X-User-Id, else the body's user, else the API key's project */
int chat_cohort(chat *c)
{
    const char *user = sy_http_header(c->http, "X-User-Id");
    if (user && (!*user || strlen(user) > CHAT_MAX_USER_ID)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "X-User-Id must be 1 to %d bytes", CHAT_MAX_USER_ID);
        chat_refuse(c, 400, "invalid_user_id", NULL, msg);
        return -1;
    }
    if (!user)
        user = json_string_value(json_object_get(c->root, "user"));
    char keyuser[300];
    if (!user || !*user) {
        snprintf(keyuser, sizeof(keyuser), "project:%s", c->key->project);
        user = keyuser;
    }
    size_t ulen = strlen(user);
    exp_user_hash(user, ulen, c->ev.user_hash);
    c->ev.bucket = exp_bucket(c->st->salt, user, ulen);
    c->forced = rt_expstate_forced(c->ctx->expstate, c->ev.user_hash);
    return chat_conversation(c);
}

/* tools, and a tool_choice that lets the model use them */
static int offers_tools(json_t *root)
{
    json_t *choice = json_object_get(root, "tool_choice");
    return json_array_size(json_object_get(root, "tools")) > 0 &&
           !(json_is_string(choice) && !strcmp(json_string_value(choice), "none"));
}

/* A turn's task type, as the router judges it: the model on the turn and the turns before
 * it (clf_classify_chat), then the tools rule. WIRE_TASK_NONE when unclassified. */
wire_task chat_task_of(chat *c, const struct clf_chat_text *t, struct clf_result *cr)
{
    clf_classify_chat(c->ctx->clf, t->text, t->len, t->context, t->clen, c->conf->rules, cr);
    /* an agent's turn offering tools is not small talk, whatever its words */
    wire_task tools_task = clf_rules_tools_task(c->conf->rules);
    if (cr->task == WIRE_TASK_SIMPLE && tools_task != WIRE_TASK_NONE && offers_tools(c->root))
        cr->task = tools_task;
    return cr->task;
}

/* Every request is classified, whatever its cohort: the control arm needs
 * task types too, so each task type's routed arm meets its own control. */
int chat_classify(chat *c)
{
    /* the last user turn, and the turns before it at a lower weight (classifier.h);
     * one walk over the messages from the end */
    struct clf_chat_text t;
    clf_chat_text(json_object_get(c->root, "messages"), &t);
    struct clf_result cr;
    wire_task task = chat_task_of(c, &t, &cr);
    clf_chat_text_free(&t);
    if (task == WIRE_TASK_NONE) {
        rt_metrics_inc(c->ctx->metrics, RT_C_classifier_failures);
        return 0; /* fail open: routed as the control arm is */
    }
    c->task = task;
    c->ev.task_type = wire_task_str(task);
    c->ev.task_confidence = cr.confidence;
    return 0;
}

/* The candidates: the chosen model, then models of the same tier on other
 * providers, in catalog order, then (routed requests only) the default model:
 * what the holdout gets is a better answer than an error. */
void chat_set_candidates(chat *c, int primary, int routed)
{
    const exp_config *cfg = c->conf->cfg;
    const exp_model *pm = chat_model(c, primary);
    c->ncand = 0;
    c->cand_kind[c->ncand] = CHAT_CAND_CHOSEN;
    c->cand[c->ncand++] = primary;
    for (int i = 0; i < cfg->nmodels && c->ncand < CHAT_MAX_CANDIDATES; i++) {
        const exp_model *m = &cfg->models[i];
        if (i == primary || m->provider == pm->provider || strcmp(m->tier, pm->tier))
            continue;
        int dup = 0;
        for (int j = 0; j < c->ncand; j++)
            dup |= chat_model(c, c->cand[j])->provider == m->provider;
        if (!dup) {
            c->cand_kind[c->ncand] = CHAT_CAND_TIER;
            c->cand[c->ncand++] = i;
        }
    }
    int def = cfg->default_model, have = 0;
    for (int j = 0; j < c->ncand; j++)
        have |= c->cand[j] == def;
    if (routed && !have && c->ncand < CHAT_MAX_CANDIDATES) {
        c->cand_kind[c->ncand] = CHAT_CAND_DEFAULT;
        c->cand[c->ncand++] = def;
    }
}

int chat_route(chat *c)
{
    const exp_state *st = c->st;
    /* only the held-back check reads the task when unclassified */
    wire_task task = c->task >= 0 ? (wire_task)c->task : WIRE_TASK_SIMPLE;
    exp_route r = exp_route_decide(st, c->ev.bucket, task, c->forced);
    if (c->task < 0) { /* fail open: no routing without a task type */
        r.serve_routed = 0;
        r.log_would_have = 0;
    }
    c->cohort = (int)r.cohort;
    c->ev.cohort = exp_cohort_str(r.cohort);
    /* exposure unit for the sample-ratio check: a user first seen in this step
     * (phase and routed share) for this task type, counted at request start so
     * a slow arm's late events cannot look like missing users */
    char step_key[96];
    const char *step_task = c->ev.task_type ? c->ev.task_type : "none";
    size_t plen = strlen(c->ev.phase), tlen = strlen(step_task);
    if (plen + tlen + SY_FMT_INT_MAX + 3 <= sizeof(step_key)) { /* "%s:%d:%s" */
        char *w = step_key;
        memcpy(w, c->ev.phase, plen);
        w += plen;
        *w++ = ':';
        w += sy_fmt_i64(w, st->routed_bp);
        *w++ = ':';
        memcpy(w, step_task, tlen + 1);
    } else {
        snprintf(step_key, sizeof(step_key), "%s:%d:%s", c->ev.phase, st->routed_bp, step_task);
    }
    rt_redis_record_user(c->ctx->redis, c->conf->cfg->experiment, c->ev.user_hash, c->ev.bucket,
                         c->ev.cohort, step_key, c->ev.ts_us);

    int model = c->conf->cfg->default_model, served_routed = 0;
    if (c->task >= 0) {
        int routed = c->conf->cfg->routing[c->task][c->mode];
        if (r.serve_routed) {
            model = routed;
            served_routed = 1;
        } else if (r.log_would_have) {
            c->ev.would_have_model = chat_model(c, routed)->name;
        }
    }
    if (c->prefer >= 0) {
        model = c->prefer;
        served_routed = 0; /* asked for by name: no substitute beyond its tier */
    }
    c->model = model;
    c->served_routed = served_routed;
    chat_set_candidates(c, model, served_routed);
    return 0;
}
