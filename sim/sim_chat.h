/*
 * sim_chat: a chat completion request as the simulator sees it.
 *
 * sim_chat_parse() validates a POST /v1/chat/completions body the way the
 * OpenAI API does (same error types, codes, params and message wording) and
 * reduces it to what the simulator needs: the model, the stream flags, the
 * token cap and a hash plus token count of the prompt. No JSON survives it.
 *
 * Token accounting (documented in docs/architecture.md "## Simulator"):
 *   prompt_tokens     = 3 + sum over messages of (4 + ceil(text_bytes / 4))
 *                       where text_bytes is the byte length of the string
 *                       content, or of all text parts together;
 *   completion_tokens = min + H % (max - min + 1), H = mix64(prompt hash ^
 *                       FNV-1a(model id)); capped by max_completion_tokens /
 *                       max_tokens (the smaller), finish_reason "length" then.
 * The prompt hash is FNV-1a 64 over each message's role, a NUL, its text
 * (text parts concatenated) and a NUL, so a string content and the same text
 * as one text part are the same prompt.
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

typedef struct sim_chat_req {
    char model[256]; /* longer names are truncated (and then match no model) */
    int stream;
    int include_usage;
    long max_tokens; /* 0 = no cap */
    uint64_t prompt_hash;
    int prompt_tokens;
    int messages;
} sim_chat_req;

/* 0 and *req filled, or -1 and *err filled. */
int sim_chat_parse(const char *body, size_t len, sim_chat_req *req, sim_chat_error *err)
    SIM_MUSTCHECK;

typedef struct sim_chat_plan {
    int prompt_tokens;
    int completion_tokens;
    int truncated;         /* completion hit max_tokens: finish_reason "length" */
    uint64_t content_seed; /* drives the generated words */
} sim_chat_plan;

void sim_chat_plan_make(const sim_chat_req *req, const sim_model *m, sim_chat_plan *plan);
const char *sim_chat_finish_reason(const sim_chat_plan *plan);

/* Text of completion token i (0-based): a word, with a leading space from the
 * second token on and a full stop every 12th token. The content is the
 * concatenation of tokens 0..completion_tokens-1. Writes at most 32 bytes plus
 * a NUL; returns the length. */
size_t sim_chat_token_text(uint64_t content_seed, int i, char *buf);

#endif
