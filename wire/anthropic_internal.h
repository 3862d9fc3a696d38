/*
 * wire/anthropic_internal: what the Anthropic translation's files share: anthropic.c
 * (shared pieces, answers, errors), anthropic_req_out.c and anthropic_req_in.c (the two
 * requests), anthropic_stream.c (the two streams). Not for other modules:
 * wire/anthropic.h is the API.
 */
#ifndef SY_WIRE_ANTHROPIC_INTERNAL_H
#define SY_WIRE_ANTHROPIC_INTERNAL_H

#include <jansson.h>

#include "wire/anthropic.h"

/* snprintf into err (when errlen > 0); returns -1 so callers can `return wa_fail(...)` */
int wa_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Outside text quoted in a message: at most 32 bytes, cut at a UTF-8 sequence boundary
 * so the message stays valid UTF-8 (jansson refuses anything else). WA_CLIP(s) is
 * wa_clip into a buffer that lives to the end of the enclosing block. */
const char *wa_clip(char *dst, size_t cap, const char *s);
#define WA_CLIP(s) wa_clip((char[36]){0}, 36, (s))

/* A token count from outside input: 0..WA_TOKENS_MAX, 0 when not an integer. */
long long wa_tokens(const json_t *v);

/* Updates *u from an Anthropic usage object; only the members present change. */
void wa_usage_from_anthropic(const json_t *usage, wa_usage *u);
/* Sets *u from an OpenAI usage object (prompt_tokens, completion_tokens,
 * prompt_tokens_details.cached_tokens). */
void wa_usage_from_openai(const json_t *usage, wa_usage *u);
/* {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details:{cached_tokens}} */
json_t *wa_usage_openai_json(const wa_usage *u);
/* {input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens} */
json_t *wa_usage_anthropic_json(const wa_usage *u);

/* Anthropic stop_reason -> OpenAI finish_reason, and back (static strings). */
const char *wa_finish_from_stop(const char *stop_reason);
const char *wa_stop_from_finish(const char *finish_reason);

/* The OpenAI error object {"error":{...}} for an Anthropic error member (may be NULL or
 * not an object: then from the status). */
json_t *wa_openai_error_from_anthropic(const json_t *error, int http_status);
/* The Anthropic error body for an OpenAI error member (may be NULL): the type from the
 * status, or with use_type from error.type when that is an Anthropic type (else
 * api_error: a stream's errors have no status of their own). */
json_t *wa_anthropic_error_from_openai(const json_t *error, int http_status, int use_type);

/* "sSTR": s (or the fallback when s is longer than WA_ID_MAX - 1 bytes or NULL) with a
 * prefix into dst[cap]; a prefix already there is not doubled when strip is given. */
void wa_copy_id(char *dst, size_t cap, const char *prefix, const char *strip, const char *s,
                const char *fallback);

#endif
