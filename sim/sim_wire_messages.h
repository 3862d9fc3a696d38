/*
 * sim_wire_messages: the bytes of the Anthropic Messages wire, by hand into
 * a sim_buf like sim_wire.c (same escaping rules: only tool arguments and
 * error messages are escaped).
 *
 * A plain answer is one "message" object. A stream is, in order:
 *   event: message_start        message with empty content, stop_reason null,
 *                               usage with the input tokens and output_tokens 1
 *   event: content_block_start  index 0: {"type":"text","text":""}, or
 *                               {"type":"tool_use","id","name","input":{}}
 *   event: ping
 *   event: content_block_delta  text_delta (text) or input_json_delta
 *                               (partial_json), one per chunk
 *   event: content_block_stop
 *   event: message_delta        stop_reason, stop_sequence null, usage.output_tokens
 *   event: message_stop
 * Usage splits the prompt: input_tokens = prompt_tokens - cached_tokens,
 * cache_read_input_tokens = cached_tokens, cache_creation_input_tokens = 0.
 */
#ifndef SY_SIM_WIRE_MESSAGES_H
#define SY_SIM_WIRE_MESSAGES_H

#include <stddef.h>

#include "sim/sim_wire.h"

/* "tool_use", "max_tokens" or "end_turn". */
const char *sim_wire_msg_stop_reason(const sim_chat_plan *plan);

void sim_wire_msg_message(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);

/* message_start, content_block_start and ping. */
void sim_wire_msg_start(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan);
/* One text_delta with content tokens [from, to). */
void sim_wire_msg_text_delta(sim_buf *b, const sim_chat_plan *plan, int from, int to);
/* One input_json_delta with the len argument bytes from off. */
void sim_wire_msg_json_delta(sim_buf *b, const sim_chat_plan *plan, size_t off, size_t len);
/* content_block_stop, message_delta and message_stop. */
void sim_wire_msg_finish(sim_buf *b, const sim_chat_plan *plan);

/* {"type":"error","error":{"type":type,"message":message}} */
void sim_wire_msg_error(sim_buf *b, const char *type, const char *message);

#endif
