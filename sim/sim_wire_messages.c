#include "sim/sim_wire_messages.h"

#include <string.h>

const char *sim_wire_msg_stop_reason(const sim_chat_plan *plan)
{
    return plan->tool_call ? "tool_use" : plan->truncated ? "max_tokens" : "end_turn";
}

static void usage(sim_buf *b, const sim_chat_plan *plan, int output_tokens)
{
    sim_buf_printf(b,
                   "\"usage\":{\"input_tokens\":%d,\"cache_creation_input_tokens\":0,"
                   "\"cache_read_input_tokens\":%d,\"output_tokens\":%d}",
                   plan->prompt_tokens - plan->cached_tokens, plan->cached_tokens,
                   output_tokens);
}

static void text(sim_buf *b, const sim_chat_plan *plan, int from, int to)
{
    char tok[40];
    for (int i = from; i < to; i++)
        sim_buf_append(b, tok, sim_chat_token_text(plan->content_seed, i, tok));
}

static void tool_use_head(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    sim_buf_printf(b, "{\"type\":\"tool_use\",\"id\":\"%s\",\"name\":\"%s\",\"input\":",
                   meta->tool_id, plan->tool_name);
}

static void message_head(sim_buf *b, const sim_wire_meta *meta)
{
    sim_buf_printf(b,
                   "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%s\","
                   "\"content\":",
                   meta->id, meta->model->id);
}

void sim_wire_msg_message(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    message_head(b, meta);
    if (plan->tool_call) {
        sim_buf_puts(b, "[");
        tool_use_head(b, meta, plan);
        sim_buf_append(b, plan->tool_args, plan->tool_args_len); /* valid JSON already */
        sim_buf_puts(b, "}]");
    } else {
        sim_buf_puts(b, "[{\"type\":\"text\",\"text\":\"");
        text(b, plan, 0, plan->completion_tokens);
        sim_buf_puts(b, "\"}]");
    }
    sim_buf_printf(b, ",\"stop_reason\":\"%s\",\"stop_sequence\":null,",
                   sim_wire_msg_stop_reason(plan));
    usage(b, plan, plan->completion_tokens);
    sim_buf_puts(b, "}");
}

void sim_wire_msg_start(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    sim_buf_puts(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":");
    message_head(b, meta);
    sim_buf_puts(b, "[],\"stop_reason\":null,\"stop_sequence\":null,");
    usage(b, plan, 1);
    sim_buf_puts(b, "}}\n\n"
                    "event: content_block_start\n"
                    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":");
    if (plan->tool_call) {
        tool_use_head(b, meta, plan);
        sim_buf_puts(b, "{}}");
    } else {
        sim_buf_puts(b, "{\"type\":\"text\",\"text\":\"\"}");
    }
    sim_buf_puts(b, "}\n\n"
                    "event: ping\n"
                    "data: {\"type\":\"ping\"}\n\n");
}

void sim_wire_msg_text_delta(sim_buf *b, const sim_chat_plan *plan, int from, int to)
{
    sim_buf_puts(b, "event: content_block_delta\n"
                    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                    "{\"type\":\"text_delta\",\"text\":\"");
    text(b, plan, from, to);
    sim_buf_puts(b, "\"}}\n\n");
}

void sim_wire_msg_json_delta(sim_buf *b, const sim_chat_plan *plan, size_t off, size_t len)
{
    sim_buf_puts(b, "event: content_block_delta\n"
                    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                    "{\"type\":\"input_json_delta\",\"partial_json\":\"");
    sim_buf_json_escape(b, plan->tool_args + off, len);
    sim_buf_puts(b, "\"}}\n\n");
}

void sim_wire_msg_finish(sim_buf *b, const sim_chat_plan *plan)
{
    sim_buf_printf(b,
                   "event: content_block_stop\n"
                   "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                   "event: message_delta\n"
                   "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
                   "\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}\n\n"
                   "event: message_stop\n"
                   "data: {\"type\":\"message_stop\"}\n\n",
                   sim_wire_msg_stop_reason(plan), plan->completion_tokens);
}

void sim_wire_msg_error(sim_buf *b, const char *type, const char *message)
{
    sim_buf_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"", type);
    sim_buf_json_escape(b, message, strlen(message));
    sim_buf_puts(b, "\"}}");
}
