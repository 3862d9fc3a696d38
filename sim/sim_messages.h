/*
 * sim_messages: an Anthropic Messages request (POST /v1/messages) as the
 * simulator sees it.
 *
 * sim_messages_parse() validates the body the way the Anthropic API does
 * (type invalid_request_error, messages worded "<field path>: <reason>" as
 * its pydantic-style validation reports them, e.g. "max_tokens: Field
 * required", "messages.0.role: Input should be 'user' or 'assistant'") and
 * fills the wire-neutral sim_chat_req of sim_chat.h: the same prompt hash
 * and token count the OpenAI wire gives the same conversation, a top-level
 * "system" counting as a first message with role "system". err->code and
 * err->param stay empty: the Anthropic error shape has neither.
 *
 * Checked (everything else is refused as "<key>: Extra inputs are not
 * permitted" at the top level and in messages, and accepted inside blocks):
 * model (string), max_tokens (integer >= 1), system (string or text blocks),
 * messages (non-empty; role user or assistant; content a string or blocks
 * text, image, tool_use, tool_result; non-empty but for a last assistant
 * message), stream (boolean), tools ([{name, input_schema}]), tool_choice
 * ({"type": auto|any|tool|none}, tool with a name that is in tools), and
 * the optional temperature, top_p, top_k, stop_sequences, metadata,
 * thinking and service_tier, whose values are not checked.
 */
#ifndef SY_SIM_MESSAGES_H
#define SY_SIM_MESSAGES_H

#include <stddef.h>

#include "sim/sim_chat.h"

/* 0 and *req filled, or -1 and *err filled (status 400). */
int sim_messages_parse(const char *body, size_t len, sim_chat_req *req, sim_chat_error *err)
    SIM_MUSTCHECK;

#endif
