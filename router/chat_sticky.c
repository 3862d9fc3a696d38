/*
 * chat STICKY (router/chat.h): conversation stickiness. The follow-up turns of a
 * conversation keep the model of its first turn, for dispatch.sticky_ttl_s after the
 * last turn, so a provider's prompt cache and the answer's style are not lost
 * mid-conversation.
 *
 * The conversation is X-Conversation-Id (1 to CHAT_MAX_CONV_ID bytes), else the first
 * user message's text; keyed with the project and the user, so two users who both
 * open with "hi" are two conversations. A turn is a follow-up when the request holds
 * an assistant message. Only follow-ups whose arm serves the routing table look (never
 * when paused, rolled back or held back, nor with X-Model-Prefer: those always win):
 *
 *   GETEX sy:{exp}:conv:<key> EX ttl   the model, and its expiry pushed back; used when
 *                                      it still is in the catalog.
 *   no record (or Redis away or slower than CHAT_STICKY_WAIT_MS)
 *                                      the first turn's model is computed again: the
 *                                      routing table's model for the first turn's task
 *                                      type, judged as chat_classify judged it then (the
 *                                      first user message, the messages before it as its
 *                                      context, the tools rule): what that turn was routed
 *                                      to, the arm and mode being the same; once answered, it is
 *                                      stored (SET ... EX ttl, fire and forget).
 *
 * So single-turn traffic writes nothing to Redis: a conversation costs one key, from
 * its second turn. A first turn answered by a fallback is not remembered as such: the
 * second turn goes back to the routed model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/hiredis.h>

#include "common/httpd.h"
#include "common/log.h"
#include "common/hex.h"
#include "classifier/chat_text.h"
#include "classifier/classifier.h"
#include "experiments/cohort.h"
#include "router/chat.h"
#include "router/metrics.h"
#include "router/redis.h"
#include "wire/keys.h"

#define CHAT_STICKY_WAIT_MS 50

/* A lookup outlives its chat when the chat stopped waiting: the reply frees it. */
struct sticky_lookup {
    chat *c; /* NULL once the chat went on without the answer */
    struct event timer;
};

static const char *first_user_text(json_t *msgs, size_t *len)
{
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "user"))
            continue;
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) {
            *len = json_string_length(content);
            return json_string_value(content);
        }
        /* parts: the first text part stands for the message */
        size_t j;
        json_t *part;
        json_array_foreach(content, j, part) {
            json_t *t = json_object_get(part, "text");
            if (json_is_string(t)) {
                *len = json_string_length(t);
                return json_string_value(t);
            }
        }
        break;
    }
    *len = 0;
    return NULL;
}

/* COHORT: a bad X-Conversation-Id is the client's error whatever the arm */
int chat_conversation(chat *c)
{
    const char *id = sy_http_header(c->http, "X-Conversation-Id");
    if (id && (!*id || strlen(id) > CHAT_MAX_CONV_ID)) {
        char msg[80];
        snprintf(msg, sizeof(msg), "X-Conversation-Id must be 1 to %d bytes", CHAT_MAX_CONV_ID);
        chat_refuse(c, 400, "invalid_conversation_id", NULL, msg);
        return -1;
    }
    return 0;
}

/* A follow-up turn: the request holds an assistant message. */
static int is_follow_up(json_t *root)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(root, "messages"), i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "assistant"))
            return 1;
    }
    return 0;
}

/* The conversation's Redis key: sy:{exp}:conv:<FNV-1a 64 hex of project, user hash,
 * and X-Conversation-Id or the first user message>. */
static void conv_key(chat *c, char *out, size_t cap)
{
    const char *id = sy_http_header(c->http, "X-Conversation-Id");
    size_t len = id ? strlen(id) : 0;
    const char *text = id ? id : first_user_text(json_object_get(c->root, "messages"), &len);
    uint64_t h = exp_hash64(c->key->project, strlen(c->key->project) + 1, 0x636f6e76u);
    h = exp_hash64(c->ev.user_hash, sizeof(c->ev.user_hash), h);
    h = exp_hash64(id ? "id" : "text", id ? 3 : 5, h);
    h = exp_hash64(text ? text : "", len, h);
    char hex[17];
    sy_hex_fixed(hex, h, 16);
    hex[16] = '\0';
    snprintf(out, cap, WIRE_KEY_CONV, c->conf->cfg->experiment, hex);
}

/* The model the first turn was routed to: that turn judged as chat_classify judged it
 * then (the first user message with the messages before it, its text parts joined, the
 * tools rule), routed for this chat's arm and mode. */
static int first_turn_model(chat *c)
{
    struct clf_chat_text t;
    clf_chat_text_first(json_object_get(c->root, "messages"), &t);
    struct clf_result cr;
    wire_task task = t.len ? chat_task_of(c, &t, &cr) : WIRE_TASK_NONE;
    clf_chat_text_free(&t);
    if (task == WIRE_TASK_NONE)
        return -1;
    return c->conf->cfg->routing[task][c->mode];
}

/* model: the record's value, or NULL when there is none (or no answer) */
static void resume(chat *c, const char *model, size_t len)
{
    int idx = -1;
    char name[128];
    if (model && len < sizeof(name)) {
        memcpy(name, model, len);
        name[len] = '\0';
        idx = exp_config_find_model(c->conf->cfg, name);
    }
    if (idx < 0 && (idx = first_turn_model(c)) >= 0)
        c->sticky_store = 1;
    if (idx >= 0) {
        c->ev.sticky = 1;
        rt_metrics_inc(c->ctx->metrics, RT_C_sticky);
        chat_set_candidates(c, idx, 1);
    }
    chat_set_state(c, CHAT_DISPATCH);
    chat_dispatch(c);
}

static void on_reply(struct redisReply *reply, void *arg)
{
    struct sticky_lookup *l = arg;
    chat *c = l->c;
    if (!c) { /* the chat went on without us */
        free(l);
        return;
    }
    event_del(&l->timer);
    c->sticky_lookup = NULL;
    free(l);
    if (reply && reply->type == REDIS_REPLY_STRING)
        resume(c, reply->str, reply->len);
    else
        resume(c, NULL, 0);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct sticky_lookup *l = arg;
    chat *c = l->c;
    (void)fd;
    (void)what;
    l->c = NULL; /* the reply, when it comes, frees l */
    c->sticky_lookup = NULL;
    sy_log_kv(SY_DEBUG, "conversation lookup too slow, taking the first turn's model",
              "request_id", c->ev.request_id, NULL);
    resume(c, NULL, 0);
}

int chat_sticky(chat *c)
{
    size_t len;
    if (!c->conf->cfg->sticky_conversations || !c->served_routed || !is_follow_up(c->root) ||
        (!sy_http_header(c->http, "X-Conversation-Id") &&
         !first_user_text(json_object_get(c->root, "messages"), &len)))
        return 0;
    char key[160];
    conv_key(c, key, sizeof(key));
    c->sticky_key = strdup(key); /* kept for the record: c->http is gone by then */
    struct sticky_lookup *l = calloc(1, sizeof(*l));
    if (l)
        l->c = c;
    if (!l ||
        rt_redis_getex(c->ctx->redis, key, c->conf->cfg->sticky_ttl_s, on_reply, l)) {
        free(l);
        /* Redis away: the first turn's model all the same. resume() moves the chat on
         * itself, so tell the driver to stop here. */
        resume(c, NULL, 0);
        return 1;
    }
    c->sticky_lookup = l;
    evtimer_assign(&l->timer, c->ctx->base, on_timeout, l);
    struct timeval tv = {0, CHAT_STICKY_WAIT_MS * 1000};
    evtimer_add(&l->timer, &tv);
    return 1;
}

void chat_sticky_record(chat *c)
{
    if (c->sticky_store && c->sticky_key && c->ev.status >= 200 && c->ev.status < 300 &&
        c->ev.served_model)
        rt_redis_set_ex(c->ctx->redis, c->sticky_key, c->ev.served_model,
                        c->conf->cfg->sticky_ttl_s);
    free(c->sticky_key);
    c->sticky_key = NULL;
}
