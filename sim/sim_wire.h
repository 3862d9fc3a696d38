/*
 * sim_wire: the bytes the simulator sends, built by hand into a growable
 * buffer (the hot path formats a reply without a JSON library).
 *
 * Almost nothing here needs escaping: model ids are restricted to
 * [A-Za-z0-9._:/-] when the catalog loads, ids and fingerprints are hex,
 * generated words are lowercase ASCII and tool names [a-zA-Z0-9_-]. Only
 * tool arguments (JSON built from a client's schema) and error messages
 * (which quote what a client sent) go through sim_buf_json_escape().
 */
#ifndef SY_SIM_WIRE_H
#define SY_SIM_WIRE_H

#include <stddef.h>

#include "sim/sim_chat.h"
#include "sim/sim_model.h"

/* Growable byte buffer with a sticky failure flag, checked once at the end
 * (like ferror() after a run of fprintf()s). */
typedef struct sim_buf {
    char *data;
    size_t len, cap;
    int failed;
} sim_buf;

void sim_buf_reset(sim_buf *b);
void sim_buf_free(sim_buf *b);
void sim_buf_append(sim_buf *b, const char *s, size_t n);
void sim_buf_puts(sim_buf *b, const char *s);
void sim_buf_printf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The n bytes at s as the inside of a JSON string: '"', '\\' and control
 * characters escaped, bytes that are not well-formed UTF-8 (a quote cut
 * inside a character) replaced by \ufffd. */
void sim_buf_json_escape(sim_buf *b, const char *s, size_t n);

/* What every object of one response shares. Set id, created, model and
 * include_usage, then call sim_wire_meta_prepare() once. */
typedef struct sim_wire_meta {
    char id[40];      /* "chatcmpl-" or "msg_" + 24 hex digits */
    char tool_id[40]; /* "call_" or "toolu_" + 24 hex digits */
    long long created;
    const sim_model *model;
    int include_usage; /* streams: "usage":null on every chunk, then a usage chunk */
    char chunk_head[256]; /* "data: {...\"choices\":[", the same for every chunk */
    size_t chunk_head_len;
} sim_wire_meta;

void sim_wire_meta_prepare(sim_wire_meta *meta);

/* The chat.completion object: text, or for plan->tool_call "content":null
 * and one tool_calls entry with the arguments as a JSON string. Usage has
 * "prompt_tokens_details":{"cached_tokens":N} when the model's
 * cache_hit_rate is above 0. */
void sim_wire_completion(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);

/* Server-sent events, each "data: {chat.completion.chunk}\n\n". */
void sim_wire_chunk_role(sim_buf *b, const sim_wire_meta *meta);
/* Content tokens [from, to). */
void sim_wire_chunk_content(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan,
                            int from, int to);
/* A tool call's first chunk, in place of the role chunk: role, content null
 * and tool_calls[0] with index, id, type, name and arguments "". */
void sim_wire_chunk_tool_start(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);
/* The len bytes of the arguments from off (one sim_chat_args_piece()). */
void sim_wire_chunk_tool_args(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan,
                              size_t off, size_t len);
void sim_wire_chunk_finish(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);
void sim_wire_chunk_usage(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);
void sim_wire_done(sim_buf *b);

/* GET /v1/models list and one model object; NULL on allocation failure.
 * The caller frees the result with free(). */
char *sim_wire_models(const sim_catalog *cat, long long created);
char *sim_wire_model(const sim_model *m, long long created);

#endif
