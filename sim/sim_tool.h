/*
 * sim_tool: when the simulator answers with a tool call, and with which
 * arguments. Wire-neutral: sim_chat.c (OpenAI) and sim_messages.c
 * (Anthropic) validate their own tools / tool_choice and hand the chosen
 * tool here.
 *
 * The rule (docs/architecture.md "## Simulator", "Tool calls"):
 *   - no tools, or tool_choice "none" ({"type":"none"}): text;
 *   - the last message is a tool result: text, whatever tool_choice says
 *     (so a client loop always ends);
 *   - tool_choice forces a tool ("required", {"type":"function",...};
 *     {"type":"any"}, {"type":"tool",...}): a call of the named tool, or of
 *     the first one;
 *   - "auto" (or absent): a call of the first tool when
 *     splitmix64(prompt hash) is odd, about half of all prompts; else text.
 *
 * Arguments (sim_tool_args): a JSON object with, in order, the names in the
 * schema's "required" array, or when there is none the first key of its
 * "properties"; each value from that property's schema: the first "enum"
 * value if there is one, else by "type" (its first entry if an array):
 * integer and number 1, boolean true, array [], object {}, null null, string
 * or anything else the word sim_chat_word(splitmix64(prompt hash + k)) for
 * the k-th (0-based) name. At most 16 names; a name that would take the
 * text past SIM_TOOL_ARGS_MAX - 1 bytes ends the list.
 */
#ifndef SY_SIM_TOOL_H
#define SY_SIM_TOOL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_chat.h"

struct json_t;

enum sim_tool_mode {
    SIM_TOOLS_OFF,    /* no tools or tool_choice none */
    SIM_TOOLS_AUTO,   /* the prompt hash decides */
    SIM_TOOLS_FORCED, /* a call, unless the last message is a tool result */
};

/* 1 when "auto" calls a tool for this prompt. */
int sim_tool_auto_calls(uint64_t prompt_hash);

/* Sets req->tool_call and, for a call, req->tool_name (name, already checked
 * against [a-zA-Z0-9_-]{1,64}) and req->tool_args (from schema, which may be
 * NULL). Needs req->prompt_hash and req->last_tool_result. */
void sim_tool_decide(sim_chat_req *req, enum sim_tool_mode mode, const char *name,
                     const struct json_t *schema);

/* The arguments for schema as compact JSON into out (cap >= 3); returns the length. */
size_t sim_tool_args(const struct json_t *schema, uint64_t prompt_hash, char *out, size_t cap);

/* 1 if s matches ^[a-zA-Z0-9_-]+$ (the length is checked by the callers, as
 * the two APIs word it differently). */
int sim_tool_name_chars_ok(const char *s);

#endif
