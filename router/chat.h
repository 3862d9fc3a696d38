/*
 * chat: one POST /v1/chat/completions, as a state machine. Internal to the
 * chat_*.c files; the rest of the router sees only rt_chat_handle() (rt.h).
 *
 * The states, in request order, and the file that holds each step:
 *
 *   AUTH      the API key (401 before anything in the body is read)  chat_parse.c
 *   PARSE     JSON, the OpenAI shape, X-Route-Mode, X-Model-Prefer   chat_parse.c
 *   COHORT    who the user is and its bucket, forced users           chat_route.c
 *   CLASSIFY  the task type (every cohort: control needs it too)     chat_route.c
 *   ROUTE     the arm's decision, the model, the failover candidates chat_route.c
 *   STICKY    a follow-up turn: its conversation's model (Redis)      chat_sticky.c
 *   DISPATCH  upstream attempts in flight: failover, sport-mode race chat_dispatch.c
 *   STREAM    an attempt's SSE bytes are going to the client         chat_answer.c
 *   DONE      answered; the event is recorded and the chat freed    chat.c
 *
 * AUTH to STICKY run in rt_chat_handle(); each step either moves on, or refuses
 * (an error answer, then DONE), or (STICKY only) waits for Redis, whose answer
 * or a short timer moves it on to DISPATCH. From DISPATCH on, libcurl and
 * the client drive it: an attempt's end, its first streamed byte, a drained
 * client socket, a closed client. Every callback reads the state before acting.
 * chat_set_state() allows only the transitions of the table in chat.c.
 *
 * A chat owns up to two upstream attempts at a time (two only when racing).
 * The event is recorded exactly once, in chat_record(), whatever the outcome, and
 * before the answer is written; nothing on this path waits for Redis or PostgreSQL.
 */
#ifndef SY_RT_CHAT_H
#define SY_RT_CHAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/httpd.h"
#include "common/jarena.h"
#include "experiments/config.h"
#include "experiments/routing.h"
#include "router/conf.h"
#include "router/event.h"
#include "router/reqbody.h"
#include "router/rt.h"
#include "router/upstream.h"
#include "wire/anthropic.h"

struct event;

#define CHAT_MAX_USER_ID 256
#define CHAT_TRIED_MAX 320
#define CHAT_MAX_CONV_ID 256
#define CHAT_MAX_CANDIDATES 16

enum chat_state {
    CHAT_AUTH,
    CHAT_PARSE,
    CHAT_COHORT,
    CHAT_CLASSIFY,
    CHAT_ROUTE,
    CHAT_STICKY,
    CHAT_DISPATCH,
    CHAT_STREAM,
    CHAT_DONE,
};

struct chat;

/* Where a candidate comes from; an answer from one past the first is a fallback. */
enum chat_cand_kind {
    CHAT_CAND_CHOSEN,  /* what routing (or X-Model-Prefer, or stickiness) chose */
    CHAT_CAND_TIER,    /* a model of the same tier on another provider */
    CHAT_CAND_DEFAULT, /* the experiment's default model, for a routed request */
};

typedef struct attempt {
    struct chat *c;
    rt_call *call; /* NULL when not in flight */
    int model;
    int provider;
    int kind;      /* enum chat_cand_kind of the candidate */
    exp_wire wire; /* the provider's wire */
    int tries;     /* attempts started at this candidate */
    struct event *retry_timer; /* the backoff before the next try, made on first use */
    int64_t retry_due_mono;    /* when it ends, on the precise clock */
    int retry_armed;
} attempt;

/* The stream translators, only for a stream whose wires differ (made on its first byte):
 * an Anthropic provider's events to OpenAI ones (a2o), OpenAI events to an Anthropic
 * client's (o2a). */
struct chat_wires {
    wa_stream_a2o a2o;
    wa_stream_o2a o2a;
    wa_buf a2o_out, o2a_out;
};

typedef struct chat {
    rt_ctx *ctx;
    exp_wire inbound;   /* the client's wire: /v1/chat/completions or /v1/messages */
    rt_conf *conf;      /* the configuration generation this request started with */
    sy_http_req *http;
    enum chat_state state;
    int64_t t0_mono;
    rt_event ev;

    /* AUTH, PARSE: what the request asks for */
    const exp_api_key *key;
    json_t *root;       /* the request as parsed */
    sy_jarena arena;    /* root's allocations (chat_parse); released with the chat */
    /* the request body (the server's, alive as long as http) and, when
     * splice_ok, where its "model" value is: each attempt sends these bytes
     * with the model's name spliced in; else root re-serialised */
    const char *body;
    size_t body_len;
    rt_body_span span;
    int splice_ok;
    exp_mode mode;
    int prefer;         /* X-Model-Prefer's model, or -1 */

    /* COHORT .. ROUTE: who, what, where. st is read only while these run. */
    const exp_state *st;
    int forced;
    int task;           /* wire_task, or -1 when not classified */
    int cohort;         /* exp_cohort */
    int served_routed;  /* the arm serves the routing table's model */
    char *sticky_key;   /* STICKY: the conversation's Redis key (malloc'd), or NULL */
    int sticky_store;   /* store the model once answered: the conversation had no record */
    struct sticky_lookup *sticky_lookup; /* STICKY: the GETEX in flight */

    /* DISPATCH: the candidates in order and the attempts in flight */
    attempt att[2];     /* two only when racing */
    int cand[CHAT_MAX_CANDIDATES], ncand, next_cand;
    unsigned char cand_kind[CHAT_MAX_CANDIDATES];
    int64_t deadline_mono; /* dispatch.request_timeout_ms after the start */
    int model;          /* the model answering (or last tried) */
    int racing;
    int64_t upstream_us;
    /* the last failure, for the error answer when nothing is left */
    rt_call_status last_status;
    long last_http;
    char last_error[256];
    char *tried;        /* "model@provider 3x reason, ..." for the error answer, or NULL */
    int ntried;         /* candidates left behind */

    /* STREAM */
    int client_wants_usage; /* else the usage chunk we asked for is stripped */
    attempt *streaming;     /* the attempt whose bytes go to the client */
    char *sse;              /* partial SSE event carried between upstream reads */
    size_t sse_len, sse_cap;
    struct chat_wires *wires; /* NULL unless the stream's wires differ */
} chat;

static inline const exp_model *chat_model(const chat *c, int idx)
{
    return &c->conf->cfg->models[idx];
}

static inline const char *chat_provider_name(const chat *c, int model)
{
    return c->conf->cfg->providers[chat_model(c, model)->provider].name;
}

/* chat.c: the machine */
uint64_t chat_rand(rt_ctx *ctx); /* xorshift64*: ids and jitter, not secrets */
void chat_set_state(chat *c, enum chat_state next);
/* -> DONE: the metrics, the event (journaled, with --journal) and the conversation's
 * stickiness, once per request, before its answer is written: an answer a client has
 * seen always has its event. The chat stays allocated until chat_release(). */
void chat_record(chat *c, int status, const char *error);
void chat_release(chat *c); /* after the answer: the attempts cancelled, the chat freed */
void chat_finish(chat *c, int status, const char *error); /* record, then release: no answer */
void chat_add_route_headers(chat *c);
/* An error answer in the client's wire: OpenAI's {"error":{...}} with type, code and
 * param, or Anthropic's {"type":"error","error":{type, message}} (the type from status). */
void chat_reply_error(chat *c, int status, const char *type, const char *code, const char *param,
                      const char *msg);
/* Refuse before any upstream work (AUTH .. ROUTE); the event is recorded all the same. */
void chat_refuse(chat *c, int status, const char *code, const char *param, const char *msg);

/* The steps before DISPATCH: 0 to move on, -1 when the chat was answered (DONE). */
int chat_auth(chat *c);     /* chat_parse.c */
int chat_parse(chat *c);    /* chat_parse.c */
int chat_cohort(chat *c);   /* chat_route.c */
int chat_classify(chat *c); /* chat_route.c */
struct clf_chat_text;
struct clf_result;
/* chat_route.c: the task type of a turn (clf_chat_text or clf_chat_text_first), as
 * chat_classify judges the last one: the model with the earlier turns, the tools rule */
wire_task chat_task_of(chat *c, const struct clf_chat_text *t, struct clf_result *cr);
int chat_route(chat *c);    /* chat_route.c */
/* Candidates for model (router/chat_route.c): routed adds the default model last. */
void chat_set_candidates(chat *c, int model, int routed);
int chat_conversation(chat *c); /* chat_sticky.c, from COHORT: X-Conversation-Id checked */
int chat_sticky(chat *c);       /* chat_sticky.c: 1 when waiting for Redis */
/* chat_sticky.c, from DONE (the HTTP request is gone): a new conversation record; frees
 * what STICKY kept */
void chat_sticky_record(chat *c);
void chat_dispatch(chat *c); /* chat_dispatch.c: the first attempt(s), or the failure answer */
void chat_disarm(chat *c);   /* chat_dispatch.c: no attempt or backoff left running */

/* chat_answer.c */
int chat_on_upstream_data(const char *data, size_t len, void *arg); /* rt_call_spec.on_data */
void chat_stream_done(chat *c, const rt_call_result *res);
/* The upstream's answer (a success, or a client error: ok = 0) in OpenAI's wire, with its
 * usage; sent in the client's wire. */
void chat_answer(chat *c, const attempt *a, int status, const char *body, size_t len,
                 const exp_usage *u, int ok);
void chat_reply_failure(chat *c); /* nothing left to try */

#endif
