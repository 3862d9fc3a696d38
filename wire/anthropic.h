/*
 * wire/anthropic: translation between the OpenAI Chat Completions wire and the
 * Anthropic Messages wire (docs/architecture.md, "Anthropic Messages wire"). Pure:
 * JSON in, JSON or SSE text out; no I/O, no clock (the caller passes `created`).
 *
 * Two directions, each with a request, an answer, an error and a stream:
 *   outbound  the client speaks OpenAI, the provider Anthropic ("type": "anthropic"):
 *             wa_req_openai_to_anthropic, wa_resp_anthropic_to_openai,
 *             wa_error_anthropic_to_openai, wa_stream_a2o_*;
 *   inbound   the client speaks Anthropic (POST /v1/messages), the router OpenAI:
 *             wa_req_anthropic_to_openai, wa_resp_openai_to_anthropic,
 *             wa_error_openai_to_anthropic, wa_stream_o2a_*.
 *
 * Ownership: every json_t **out is a new reference the caller json_decref()s; inputs
 * are borrowed and never changed. On failure *out is NULL. Every function that returns
 * int returns 0 on success and -1 on failure; those with an err buffer or a wa_error say
 * why there (out of memory included), the others fail only when memory runs out.
 *
 * Token counts read from outside input are clamped to 0..WA_TOKENS_MAX (negative,
 * missing or non-integer: 0), so sums never overflow.
 */
#ifndef SY_WIRE_ANTHROPIC_H
#define SY_WIRE_ANTHROPIC_H

#include <stddef.h>

struct json_t; /* jansson; the caller includes <jansson.h> to use the results */

#define WA_DEFAULT_MAX_TOKENS 4096      /* Anthropic requires max_tokens; OpenAI does not */
#define WA_TOKENS_MAX 1000000000000LL   /* 10^12: a clamp, not a plausible count */
#define WA_ID_MAX 128                   /* stream ids and model names kept, bytes + NUL */
#define WA_BUF_MAX (64u << 20)          /* a wa_buf never grows past this */

/* ---------- shared ---------- */

/* Token counts in Anthropic's terms. OpenAI's prompt_tokens is the sum of the three
 * input counts (wa_usage_prompt_tokens), its cached_tokens is cache_read. */
typedef struct wa_usage {
    long long input_tokens;       /* uncached input */
    long long cache_read_tokens;  /* cache_read_input_tokens */
    long long cache_write_tokens; /* cache_creation_input_tokens */
    long long output_tokens;
} wa_usage;

long long wa_usage_prompt_tokens(const wa_usage *u);

/* A growable output buffer the stream translators append to; the caller sends
 * data[0..len) and sets len = 0 (or keeps appending). Zero-initialise it; free it with
 * wa_buf_free. Appending past WA_BUF_MAX fails. */
typedef struct wa_buf {
    char *data;
    size_t len, cap;
} wa_buf;

int wa_buf_append(wa_buf *b, const char *p, size_t n) __attribute__((warn_unused_result));
void wa_buf_free(wa_buf *b);

/* An Anthropic-shaped error for inbound requests: the HTTP status, the error type
 * ("invalid_request_error", ...; a static string) and the message. */
typedef struct wa_error {
    int status;
    const char *type;
    char message[384];
} wa_error;

/* {"type":"error","error":{"type":T,"message":M}}; NULL when out of memory. */
struct json_t *wa_error_body(const wa_error *e);

/* The Anthropic error type for an HTTP status: 400 invalid_request_error,
 * 401 authentication_error, 403 permission_error, 404 not_found_error,
 * 413 request_too_large, 429 rate_limit_error, 503 and 529 overloaded_error,
 * 500/502/504 and other 5xx api_error, other 4xx invalid_request_error, anything
 * else api_error. */
const char *wa_error_type_for_status(int status);

/* ---------- outbound: OpenAI client, Anthropic provider ---------- */

/* A chat.completions request to a Messages request for upstream_model. Kept: messages,
 * max_completion_tokens (else max_tokens, else WA_DEFAULT_MAX_TOKENS), temperature,
 * top_p, stop, stream, user (metadata.user_id), tools, tool_choice,
 * parallel_tool_calls; every other key is dropped (n, seed, response_format,
 * stream_options, logprobs, penalties, ...). Messages:
 *   system, developer  -> `system` (string or text parts, all of them, joined "\n\n")
 *   user, assistant    -> the same role; string content stays a string, parts become
 *                         blocks (text; image_url data: URL -> base64 image source,
 *                         http(s) URL -> url source); empty text is dropped
 *   assistant tool_calls -> tool_use blocks (input = the parsed arguments, which must
 *                         be a JSON object; "" counts as {})
 *   tool               -> a user message with a tool_result block (tool_use_id =
 *                         tool_call_id, content = the string or text blocks)
 * Consecutive messages of one role (tool results included) merge into one message, as
 * the Messages API requires alternation. tool_choice and parallel_tool_calls are kept
 * only with a non-empty tools array. Errors name the field:
 * "messages[2].tool_calls[0].function.arguments: not a JSON object". */
int wa_req_openai_to_anthropic(const struct json_t *openai_req, const char *upstream_model,
                               struct json_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A Messages answer (body[0..len), JSON) to a chat.completion: id "chatcmpl-" + the
 * message id, `created` as given, text blocks concatenated into content (null when
 * none), tool_use blocks into tool_calls (arguments = compact JSON of input), other
 * blocks (thinking, ...) dropped; finish_reason end_turn/stop_sequence -> stop,
 * max_tokens -> length, tool_use -> tool_calls, refusal -> content_filter, anything else
 * -> stop. *usage (may be NULL) gets the counts; the usage object is prompt_tokens (all
 * input), completion_tokens, total_tokens, prompt_tokens_details.cached_tokens. */
int wa_resp_anthropic_to_openai(const char *body, size_t len, long long created,
                                struct json_t **out, wa_usage *usage, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* An Anthropic error answer to an OpenAI one:
 * {"error":{"message":M,"type":T,"param":null,"code":anthropic type}}, where T is
 * invalid_request_error (invalid_request_error, not_found_error, request_too_large),
 * authentication_error, permission_error, else api_error. A body that is not an
 * Anthropic error gives "provider answered HTTP <status>" with the status's type. */
int wa_error_anthropic_to_openai(const char *body, size_t len, int http_status,
                                 struct json_t **out) __attribute__((warn_unused_result));

/* Anthropic SSE to OpenAI SSE. Feed each complete event block ("event: X\ndata: {...}",
 * without the blank line; the data's "type" decides, else the event name); the chunks
 * are appended to `out` as "data: {chat.completion.chunk}\n\n":
 *   message_start        {role:"assistant",content:""} (id "chatcmpl-" + message id)
 *   content_block_start  tool_use: tool_calls[{index:k,id,type,function:{name,
 *                        arguments:""}}], k counting tool_use blocks; text: nothing
 *   content_block_delta  text_delta: {content}; input_json_delta: tool_calls[{index:k,
 *                        function:{arguments}}]; others nothing
 *   message_delta        {} with finish_reason (as wa_resp_anthropic_to_openai)
 *   message_stop         with include_usage a usage chunk (choices []), then [DONE]
 *   error                data: {"error":{...}} (as wa_error_anthropic_to_openai); the
 *                        stream is over (no [DONE])
 *   ping, content_block_stop, unknown types, blocks without data (comments),
 *   malformed blocks, anything before message_start or after the end: nothing (the
 *   malformed and the early ones are counted in `ignored`).
 * `usage` holds the totals so far (message_start's, then message_delta's updates). */
typedef struct wa_stream_a2o {
    /* the caller's, set by wa_stream_a2o_init */
    long long created;
    int include_usage;
    /* readable */
    wa_usage usage;
    int started;  /* message_start seen */
    int finished; /* [DONE] written */
    int failed;   /* an error event was translated */
    long ignored; /* blocks not understood */
    /* internal */
    char id[WA_ID_MAX + 16];
    char model[WA_ID_MAX];
    const char *finish_reason;
    long long block_index; /* the open content block, -1 none */
    int block_is_tool;
    int ntools; /* tool_use blocks started; the open one is ntools - 1 */
} wa_stream_a2o;

void wa_stream_a2o_init(wa_stream_a2o *st, long long created, int include_usage);
/* -1 only when out of memory or `out` would pass WA_BUF_MAX. */
int wa_stream_a2o_event(wa_stream_a2o *st, const char *block, size_t len, wa_buf *out)
    __attribute__((warn_unused_result));

/* ---------- inbound: Anthropic client, OpenAI router ---------- */

/* A Messages request to a chat.completions request, validated as the Messages API
 * does; on a bad request -1 and *err (400, invalid_request_error) with a message in
 * Anthropic's words naming the field: "max_tokens: Field required",
 * "messages.0.content: Field required", "messages.1.role: Input should be 'user' or
 * 'assistant'". Output: model, messages (system first; tool_use -> assistant
 * tool_calls, tool_result -> role tool messages before the user's other content,
 * images -> image_url parts), max_completion_tokens, temperature, top_p, stop, stream
 * (+ stream_options.include_usage), user (metadata.user_id), tools, tool_choice,
 * parallel_tool_calls (false from disable_parallel_tool_use). Dropped: top_k,
 * thinking and unknown keys, thinking blocks, cache_control, tool_result is_error. */
int wa_req_anthropic_to_openai(const struct json_t *anthropic_req, struct json_t **out,
                               wa_error *err) __attribute__((warn_unused_result));

/* A chat.completion (body[0..len)) to a Messages answer: id "msg_" + the id without
 * "chatcmpl-", content [text block if non-empty, tool_use blocks], stop_reason
 * (stop -> end_turn, length -> max_tokens, tool_calls/function_call -> tool_use,
 * content_filter -> refusal, else end_turn), stop_sequence null, usage {input_tokens =
 * prompt - cached, output_tokens, cache_read_input_tokens = cached,
 * cache_creation_input_tokens 0}. */
int wa_resp_openai_to_anthropic(const char *body, size_t len, struct json_t **out,
                                wa_usage *usage, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* An OpenAI error answer to an Anthropic one: the type from the status
 * (wa_error_type_for_status), the message from error.message, else "upstream answered
 * HTTP <status>". */
int wa_error_openai_to_anthropic(const char *body, size_t len, int http_status,
                                 struct json_t **out) __attribute__((warn_unused_result));

/* OpenAI SSE to Anthropic SSE. Feed each event block ("data: {...}" or
 * "data: [DONE]"); events are appended to `out` as "event: X\ndata: {...}\n\n":
 *   the first chunk      message_start (usage zeros: OpenAI sends usage last)
 *   delta.content        content_block_start text (once), content_block_delta text_delta
 *   delta.tool_calls[i]  a new index: content_block_stop of the open block,
 *                        content_block_start tool_use {id, name, input:{}}; arguments:
 *                        content_block_delta input_json_delta; a lower index than the
 *                        open one is ignored (OpenAI sends them in order)
 *   finish_reason        remembered (as wa_resp_openai_to_anthropic)
 *   usage                remembered (a usage-only chunk or any chunk's)
 *   [DONE]               content_block_stop, message_delta {stop_reason,
 *                        stop_sequence:null} + usage (all four counts), message_stop
 *   {"error":{...}}      event: error (type from error.type when it is an Anthropic
 *                        type, else api_error); the stream is over
 *   anything else        nothing (data that is not a JSON object, and tool call deltas
 *                        that cannot be placed, are counted in `ignored`). */
typedef struct wa_stream_o2a {
    /* readable */
    wa_usage usage;
    int started, finished, failed;
    long ignored;
    /* internal */
    char id[WA_ID_MAX + 16];
    char model[WA_ID_MAX];
    const char *stop_reason;
    int nblocks;          /* content blocks started; the open one is nblocks - 1 */
    int block_open;       /* 0 none, 1 text, 2 tool_use */
    long long tool_index; /* OpenAI index of the open (or last) tool call, -1 none */
} wa_stream_o2a;

void wa_stream_o2a_init(wa_stream_o2a *st);
int wa_stream_o2a_event(wa_stream_o2a *st, const char *block, size_t len, wa_buf *out)
    __attribute__((warn_unused_result));

#endif
