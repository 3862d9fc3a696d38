/*
 * libFuzzer target: the simulator's Anthropic Messages request validation
 * (sim/sim_messages.c, sim_messages_parse) on arbitrary bytes, then the plan
 * and the bytes of the answer (sim/sim_wire_messages.c) for what it accepts.
 *
 * Invariants beyond "no crash, no leak": a refusal is a 400
 * invalid_request_error with a non-empty message, no code and no param, and
 * its error body is valid JSON; an accepted request has a terminated model
 * name, at least one message, prompt_tokens of at least 3 + 4 per message,
 * max_tokens from 1 to 1e9, no include_usage; a tool call has a name of
 * [a-zA-Z0-9_-] and arguments that are a JSON object; the plain answer and
 * the stream's data lines are valid JSON and the partial_json pieces join to
 * the arguments.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/sim_chat.h"
#include "sim/sim_messages.h"
#include "sim/sim_model.h"
#include "sim/sim_tool.h"
#include "sim/sim_wire_messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sim_catalog cat;

static void must_be_json(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, 0, NULL);
    if (!j)
        abort();
    json_decref(j);
}

/* Every "data: ...\n\n" of an event stream is JSON. */
static void events_are_json(const sim_buf *b)
{
    const char *p = b->data;
    while ((p = strstr(p, "data: ")) != NULL) {
        const char *end = strstr(p, "\n\n");
        if (!end)
            abort();
        must_be_json(p + 6, (size_t)(end - p - 6));
        p = end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cat.n) {
        char err[SIM_ERR_MAX];
        if (sim_catalog_builtin(&cat, err, sizeof(err)) || cat.n < 1)
            abort();
    }

    sim_chat_req req;
    sim_chat_error err;
    sim_buf b = {0};
    memset(&err, 0, sizeof(err));
    if (sim_messages_parse((const char *)data, size, &req, &err)) {
        if (err.status != 400 || !err.type || strcmp(err.type, "invalid_request_error") ||
            err.code || err.param[0])
            abort();
        if (!err.message[0] || strnlen(err.message, sizeof(err.message)) == sizeof(err.message))
            abort();
        sim_wire_msg_error(&b, err.type, err.message);
        must_be_json(b.data, b.len);
        sim_buf_free(&b);
        return 0;
    }
    if (strnlen(req.model, sizeof(req.model)) == sizeof(req.model))
        abort();
    if (req.messages < 1 || req.prompt_tokens < 3 || req.prompt_tokens > 1000000000 ||
        (req.prompt_tokens < 1000000000 && req.prompt_tokens < 3 + 4 * req.messages))
        abort();
    if (req.max_tokens < 1 || req.max_tokens > 1000000000 || req.include_usage ||
        (req.stream != 0 && req.stream != 1))
        abort();
    if (req.tool_call) {
        json_t *args = json_loads(req.tool_args, 0, NULL);
        if (!sim_tool_name_chars_ok(req.tool_name) || !json_is_object(args) || req.last_tool_result)
            abort();
        json_decref(args);
    } else if (req.tool_name[0]) {
        abort();
    }

    /* the model the request names if the catalog has it, else sim-claude */
    const sim_model *m = sim_catalog_find(&cat, req.model);
    if (!m)
        m = sim_catalog_find(&cat, "sim-claude");
    sim_chat_plan plan;
    sim_chat_plan_make(&req, m, &plan);
    if (plan.cached_tokens < 0 || plan.cached_tokens > plan.prompt_tokens ||
        plan.cached_tokens % 128 || (!plan.tool_call && plan.completion_tokens > req.max_tokens))
        abort();
    if (plan.completion_tokens > 64)
        plan.completion_tokens = 64; /* keep the runs short: the words are tested elsewhere */

    sim_wire_meta meta;
    memset(&meta, 0, sizeof(meta));
    strcpy(meta.id, "msg_0123456789abcdef01234567");
    strcpy(meta.tool_id, "toolu_0123456789abcdef01234567");
    meta.model = m;
    sim_wire_msg_message(&b, &meta, &plan);
    if (b.failed)
        abort();
    must_be_json(b.data, b.len);
    sim_buf_reset(&b);

    sim_wire_msg_start(&b, &meta, &plan);
    if (plan.tool_call) {
        sim_buf joined = {0};
        for (size_t off = 0, len; (len = sim_chat_args_piece(&plan, off)) > 0; off += len) {
            sim_wire_msg_json_delta(&b, &plan, off, len);
            sim_buf_append(&joined, plan.tool_args + off, len);
        }
        if (joined.len != plan.tool_args_len ||
            (joined.len && memcmp(joined.data, plan.tool_args, joined.len)))
            abort();
        sim_buf_free(&joined);
    } else {
        for (int i = 0; i < plan.completion_tokens; i += 4)
            sim_wire_msg_text_delta(&b, &plan, i,
                                    i + 4 < plan.completion_tokens ? i + 4
                                                                   : plan.completion_tokens);
    }
    sim_wire_msg_finish(&b, &plan);
    if (b.failed)
        abort();
    events_are_json(&b);
    sim_buf_free(&b);
    return 0;
}
