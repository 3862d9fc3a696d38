/*
 * sim_chat: a chat completion request as the simulator sees it.
 *
 * sim_chat_parse() validates a POST /v1/chat/completions body the way the
 * OpenAI API does (same error types, codes, params and message wording) and
 * reduces it to what the simulator needs: the model, the stream flags, the
 * token cap and a hash plus token count of the prompt. No JSON survives it.
 *
 * sim_chat_req and sim_chat_plan are wire-neutral: the Anthropic Messages
 * parser (sim_messages.c) fills the same request, so one prompt costs and
 * answers the same on both wires.
 *
 * Token accounting (documented in docs/architecture.md "## Simulator"):
 *   prompt_tokens     = 3 + sum over messages of
 *                       (4 + ceil(text_bytes / 4) + 85 * images)
 *                       where text_bytes is the byte length of the string
 *                       content, or of all text parts together, plus the
 *                       name and arguments of each tool call the message
 *                       carries; an Anthropic "system" counts as a message;
 *   completion_tokens = min + H % (max - min + 1), H = mix64(prompt hash ^
 *                       FNV-1a(model id)); capped by max_completion_tokens /
 *                       max_tokens (the smaller), finish_reason "length" then;
 *                       a tool call: 1 + ceil((name + arguments bytes) / 4),
 *                       never capped;
 *   cached_tokens     = see sim_chat_cached_tokens().
 * The prompt hash is FNV-1a 64 over each message's role, a NUL, its text
 * (text parts concatenated; an image adds the 6 bytes "\x01image"; a tool
 * call adds its name, a NUL, its arguments, a NUL) and a NUL, so a string
 * content and the same text as one text part are the same prompt.
 */
#ifndef SY_SIM_CHAT_H
#define SY_SIM_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_model.h"

typedef struct sim_chat_error {
    int status;        /* 400 */
    const char *type;  /* "invalid_request_error" */
    const char *code;  /* NULL or "invalid_type", "missing_required_parameter", ... */
    char param[160];   /* empty = null */
    char message[384];
} sim_chat_error;

#define SIM_TOOL_NAME_MAX 65   /* [a-zA-Z0-9_-]{1,64} and a NUL, both wires */
#define SIM_TOOL_ARGS_MAX 1024 /* generated arguments, compact JSON, and a NUL */
#define SIM_IMAGE_TOKENS 85    /* what one image part costs */

typedef struct sim_chat_req {
    char model[256]; /* longer names are truncated (and then match no model) */
    int stream;
    int include_usage;
    long max_tokens; /* 0 = no cap */
    uint64_t prompt_hash;
    int prompt_tokens;
    int messages;
    int images;
    int last_tool_result; /* the last message is a tool result (role "tool", tool_result) */
    int tool_call;        /* the answer is a call of tool_name (sim_tool.h decides) */
    char tool_name[SIM_TOOL_NAME_MAX];
    char tool_args[SIM_TOOL_ARGS_MAX];
} sim_chat_req;

/* 0 and *req filled, or -1 and *err filled. */
int sim_chat_parse(const char *body, size_t len, sim_chat_req *req, sim_chat_error *err)
    SIM_MUSTCHECK;

typedef struct sim_chat_plan {
    int prompt_tokens;
    int cached_tokens;     /* of prompt_tokens, reported as read from the cache */
    int completion_tokens;
    int truncated;         /* completion hit max_tokens: finish_reason "length" */
    uint64_t content_seed; /* drives the generated words */
    int tool_call;         /* answer with a call of tool_name(tool_args), not text */
    size_t tool_args_len;
    char tool_name[SIM_TOOL_NAME_MAX];
    char tool_args[SIM_TOOL_ARGS_MAX];
} sim_chat_plan;

void sim_chat_plan_make(const sim_chat_req *req, const sim_model *m, sim_chat_plan *plan);
/* "tool_calls", "length" or "stop". */
const char *sim_chat_finish_reason(const sim_chat_plan *plan);

/* Cached prompt tokens: 0 below 1024 prompt tokens, else
 * floor(prompt_tokens * cache_hit_rate) rounded down to a multiple of 128. */
int sim_chat_cached_tokens(int prompt_tokens, double cache_hit_rate);

/* Tool arguments are streamed in pieces of SIM_ARGS_PIECE bytes, each
 * extended to the end of the UTF-8 character it cuts. The length of the
 * piece that starts at byte off (0 at the end). */
#define SIM_ARGS_PIECE 8
size_t sim_chat_args_piece(const sim_chat_plan *plan, size_t off);
int sim_chat_args_pieces(const sim_chat_plan *plan);

/* Word x mod 64 of the fixed list the content is made of. */
const char *sim_chat_word(uint64_t x);

/* Text of completion token i (0-based): a word, with a leading space from the
 * second token on and a full stop every 12th token. The content is the
 * concatenation of tokens 0..completion_tokens-1. Writes at most 32 bytes plus
 * a NUL; returns the length. */
size_t sim_chat_token_text(uint64_t content_seed, int i, char *buf);

#endif
