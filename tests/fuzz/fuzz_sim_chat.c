/*
 * libFuzzer target: the simulator's chat completion request validation
 * (sim/sim_chat.c, sim_chat_parse) on arbitrary bytes, then the completion
 * plan and token text for what it accepts.
 *
 * Invariants beyond "no crash, no leak": a refusal is a 400
 * invalid_request_error with a non-empty message; an accepted request has a
 * terminated model name, at least one message, prompt_tokens of at least
 * 3 + 4 per message, a cap in range, include_usage only with stream; the plan
 * respects the cap and every token text fits its 32 bytes; a tool call has a
 * name of [a-zA-Z0-9_-] and arguments that are a JSON object, never after a
 * tool result; the completion object built from the plan is valid JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/sim_chat.h"
#include "sim/sim_model.h"
#include "sim/sim_tool.h"
#include "sim/sim_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sim_catalog cat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cat.n) {
        char err[SIM_ERR_MAX];
        if (sim_catalog_builtin(&cat, err, sizeof(err)) || cat.n < 1)
            abort();
    }

    sim_chat_req req;
    sim_chat_error err;
    memset(&err, 0, sizeof(err));
    if (sim_chat_parse((const char *)data, size, &req, &err)) {
        if (err.status != 400 || !err.type || strcmp(err.type, "invalid_request_error"))
            abort();
        if (!err.message[0] || strnlen(err.message, sizeof(err.message)) == sizeof(err.message) ||
            strnlen(err.param, sizeof(err.param)) == sizeof(err.param))
            abort();
        return 0;
    }
    if (strnlen(req.model, sizeof(req.model)) == sizeof(req.model))
        abort();
    if (req.messages < 1 || req.prompt_tokens < 3 || req.prompt_tokens > 1000000000 ||
        (req.prompt_tokens < 1000000000 && req.prompt_tokens < 3 + 4 * req.messages))
        abort();
    if (req.max_tokens < 0 || req.max_tokens > 1000000000)
        abort();
    if ((req.stream != 0 && req.stream != 1) || (req.include_usage && !req.stream))
        abort();
    if (req.tool_call) {
        json_t *args = json_loads(req.tool_args, 0, NULL);
        if (!sim_tool_name_chars_ok(req.tool_name) || !json_is_object(args) ||
            req.last_tool_result)
            abort();
        json_decref(args);
    }

    /* the model the request names if the catalog has it, else the first */
    const sim_model *m = sim_catalog_find(&cat, req.model);
    if (!m)
        m = &cat.models[0];
    sim_chat_plan plan;
    sim_chat_plan_make(&req, m, &plan);
    if (plan.completion_tokens < 0 || plan.prompt_tokens != req.prompt_tokens ||
        (req.max_tokens && !plan.tool_call && plan.completion_tokens > req.max_tokens) ||
        (plan.truncated && plan.completion_tokens != req.max_tokens))
        abort();
    const char *fr = sim_chat_finish_reason(&plan);
    if (strcmp(fr, plan.tool_call ? "tool_calls" : plan.truncated ? "length" : "stop"))
        abort();
    for (int i = 0; i < plan.completion_tokens && i < 40; i++) {
        char buf[40];
        memset(buf, 0x55, sizeof(buf));
        size_t n = sim_chat_token_text(plan.content_seed, i, buf);
        if (n == 0 || n > 32 || strlen(buf) != n)
            abort();
    }
    if (plan.completion_tokens > 64)
        plan.completion_tokens = 64;
    sim_wire_meta meta;
    sim_buf b = {0};
    memset(&meta, 0, sizeof(meta));
    strcpy(meta.id, "chatcmpl-0123456789abcdef01234567");
    strcpy(meta.tool_id, "call_0123456789abcdef01234567");
    meta.model = m;
    sim_wire_meta_prepare(&meta);
    sim_wire_completion(&b, &meta, &plan);
    json_t *j = b.failed ? NULL : json_loadb(b.data, b.len, 0, NULL);
    if (!j)
        abort();
    json_decref(j);
    sim_buf_free(&b);
    return 0;
}
