/* sim_wire: the completion, chunk and model objects are valid JSON of the OpenAI shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sim/sim_chat.h"
#include "sim/sim_messages.h"
#include "sim/sim_wire.h"
#include "sim/sim_wire_messages.h"

static sim_catalog cat;

static int setup(void **state)
{
    char err[SIM_ERR_MAX];
    (void)state;
    return sim_catalog_builtin(&cat, err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    sim_catalog_free(&cat);
    return 0;
}

static void make(const char *model, int include_usage, sim_wire_meta *meta, sim_chat_plan *plan)
{
    sim_chat_req req;
    sim_chat_error err;
    const char *body = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
    assert_int_equal(sim_chat_parse(body, strlen(body), &req, &err), 0);
    meta->model = sim_catalog_find(&cat, model);
    assert_non_null(meta->model);
    strcpy(meta->id, "chatcmpl-0123456789abcdef01234567");
    meta->created = 1764300000;
    meta->include_usage = include_usage;
    sim_wire_meta_prepare(meta);
    sim_chat_plan_make(&req, meta->model, plan);
}

static json_t *load(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, 0, &e);
    if (!j)
        fail_msg("invalid JSON (%s): %.*s", e.text, (int)n, s);
    return j;
}

static void test_completion_object(void **state)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0};
    (void)state;
    make("sim-instant", 0, &meta, &plan);
    sim_wire_completion(&b, &meta, &plan);
    assert_false(b.failed);
    assert_string_equal(
        b.data,
        "{\"id\":\"chatcmpl-0123456789abcdef01234567\",\"object\":\"chat.completion\","
        "\"created\":1764300000,\"model\":\"sim-instant\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"stream ramp so low we and quality "
        "tokens\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,"
        "\"completion_tokens\":8,\"total_tokens\":18},\"system_fingerprint\":\"fp_c191574228\"}");
    json_decref(load(b.data, b.len));
    sim_buf_free(&b);
}

/* Splits an SSE buffer into its data payloads. */
static int sse_events(char *buf, char **ev, int max)
{
    int n = 0;
    char *p = buf;
    while (*p) {
        char *end = strstr(p, "\n\n");
        assert_non_null(end);
        assert_memory_equal(p, "data: ", 6);
        *end = '\0';
        assert_true(n < max);
        ev[n++] = p + 6;
        p = end + 2;
    }
    return n;
}

static void check_stream(int include_usage)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0};
    char *ev[64];
    char content[2048] = "";
    int n;

    make("sim-premium", include_usage, &meta, &plan);
    plan.completion_tokens = 10;
    sim_wire_chunk_role(&b, &meta);
    sim_wire_chunk_content(&b, &meta, &plan, 0, 4);
    sim_wire_chunk_content(&b, &meta, &plan, 4, 8);
    sim_wire_chunk_content(&b, &meta, &plan, 8, 10);
    sim_wire_chunk_finish(&b, &meta, &plan);
    if (include_usage)
        sim_wire_chunk_usage(&b, &meta, &plan);
    sim_wire_done(&b);
    assert_false(b.failed);

    n = sse_events(b.data, ev, 64);
    assert_int_equal(n, include_usage ? 7 : 6);
    assert_string_equal(ev[n - 1], "[DONE]");
    for (int i = 0; i < n - 1; i++) {
        json_t *j = load(ev[i], strlen(ev[i]));
        json_t *choices = json_object_get(j, "choices");
        assert_string_equal(json_string_value(json_object_get(j, "object")),
                            "chat.completion.chunk");
        assert_string_equal(json_string_value(json_object_get(j, "id")), meta.id);
        assert_string_equal(json_string_value(json_object_get(j, "model")), "sim-premium");
        if (include_usage && i == n - 2) {
            json_t *u = json_object_get(j, "usage");
            assert_int_equal(json_array_size(choices), 0);
            assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 10);
            assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")),
                             10 + plan.prompt_tokens);
        } else {
            json_t *c0 = json_array_get(choices, 0);
            json_t *delta = json_object_get(c0, "delta");
            json_t *fr = json_object_get(c0, "finish_reason");
            assert_int_equal(json_array_size(choices), 1);
            /* "usage": null on every chunk exactly when include_usage */
            assert_int_equal(json_object_get(j, "usage") != NULL, include_usage);
            if (i == 0)
                assert_string_equal(json_string_value(json_object_get(delta, "role")),
                                    "assistant");
            else if (i == n - (include_usage ? 3 : 2)) {
                assert_string_equal(json_string_value(fr), "stop");
                assert_int_equal(json_object_size(delta), 0);
            } else {
                assert_true(json_is_null(fr));
                strcat(content, json_string_value(json_object_get(delta, "content")));
            }
        }
        json_decref(j);
    }
    /* the chunks concatenate to exactly the non-stream content */
    {
        sim_buf whole = {0};
        char tok[40];
        for (int i = 0; i < 10; i++) {
            size_t len = sim_chat_token_text(plan.content_seed, i, tok);
            sim_buf_append(&whole, tok, len);
        }
        assert_string_equal(content, whole.data);
        sim_buf_free(&whole);
    }
    sim_buf_free(&b);
}

static void test_stream_without_usage(void **state)
{
    (void)state;
    check_stream(0);
}

static void test_stream_with_usage(void **state)
{
    (void)state;
    check_stream(1);
}

static void test_models_list(void **state)
{
    char *s;
    json_t *j, *data, *first, *sw;
    (void)state;
    s = sim_wire_models(&cat, 1764300000);
    assert_non_null(s);
    j = load(s, strlen(s));
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), (size_t)cat.n);
    first = json_array_get(data, 0);
    assert_string_equal(json_string_value(json_object_get(first, "id")), "sim-premium");
    assert_string_equal(json_string_value(json_object_get(first, "object")), "model");
    assert_string_equal(json_string_value(json_object_get(first, "owned_by")), "switchyard-sim");
    assert_int_equal(json_integer_value(json_object_get(first, "created")), 1764300000);
    sw = json_object_get(first, "switchyard");
    assert_string_equal(json_string_value(json_object_get(sw, "tier")), "premium");
    assert_string_equal(json_string_value(json_object_get(sw, "wire")), "openai");
    assert_true(json_real_value(json_object_get(sw, "cache_hit_rate")) == 0);
    assert_non_null(json_object_get(sw, "cached_input_usd_per_mtok"));
    assert_true(json_real_value(json_object_get(
                    json_object_get(json_object_get(sw, "quality"), "reasoning"), "rating")) ==
                4.5);
    json_decref(j);
    free(s);
}

/* A forced tool call on sim-instant ("Say hello", get_weather(location)). */
static void make_tool(const char *model, int anthropic, sim_wire_meta *meta, sim_chat_plan *plan)
{
    sim_chat_req req;
    sim_chat_error err;
    const char *oa =
        "{\"model\":\"x\",\"tool_choice\":\"required\",\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"properties\":{\"location\":"
        "{\"type\":\"string\"}},\"required\":[\"location\",\"note\"]}}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
    const char *an =
        "{\"model\":\"x\",\"max_tokens\":10,\"tool_choice\":{\"type\":\"any\"},\"tools\":["
        "{\"name\":\"get_weather\",\"input_schema\":{\"properties\":{\"location\":"
        "{\"type\":\"string\"}},\"required\":[\"location\",\"note\"]}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
    if (anthropic)
        assert_int_equal(sim_messages_parse(an, strlen(an), &req, &err), 0);
    else
        assert_int_equal(sim_chat_parse(oa, strlen(oa), &req, &err), 0);
    meta->model = sim_catalog_find(&cat, model);
    assert_non_null(meta->model);
    strcpy(meta->id, anthropic ? "msg_0123456789abcdef01234567" : "chatcmpl-0123456789abcdef01234567");
    strcpy(meta->tool_id, anthropic ? "toolu_89abcdef0123456789abcdef" : "call_89abcdef0123456789abcdef");
    meta->created = 1764300000;
    meta->include_usage = 0;
    sim_wire_meta_prepare(meta);
    sim_chat_plan_make(&req, meta->model, plan);
    assert_int_equal(plan->tool_call, 1);
}

static void test_tool_call_completion(void **state)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0};
    (void)state;
    make_tool("sim-instant", 0, &meta, &plan);
    assert_string_equal(plan.tool_args, "{\"location\":\"ramp\",\"note\":\"gateway\"}");
    sim_wire_completion(&b, &meta, &plan);
    assert_false(b.failed);
    assert_string_equal(
        b.data,
        "{\"id\":\"chatcmpl-0123456789abcdef01234567\",\"object\":\"chat.completion\","
        "\"created\":1764300000,\"model\":\"sim-instant\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"call_89abcdef0123456789abcdef\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"ramp\\\",\\\"note\\\":\\\"gateway\\\"}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,"
        "\"completion_tokens\":13,\"total_tokens\":23},\"system_fingerprint\":\"fp_c191574228\"}");
    json_decref(load(b.data, b.len));
    sim_buf_free(&b);
}

/* The tool call stream: role + tool_calls[0] head, argument pieces, finish. */
static void test_tool_call_stream(void **state)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0};
    char *ev[64], args[SIM_TOOL_ARGS_MAX] = "";
    int n, pieces = 0;
    (void)state;
    make_tool("sim-instant", 0, &meta, &plan);
    sim_wire_chunk_tool_start(&b, &meta, &plan);
    for (size_t off = 0, len; (len = sim_chat_args_piece(&plan, off)) > 0; off += len, pieces++)
        sim_wire_chunk_tool_args(&b, &meta, &plan, off, len);
    sim_wire_chunk_finish(&b, &meta, &plan);
    sim_wire_done(&b);
    assert_false(b.failed);
    assert_int_equal(pieces, 5); /* 36 bytes in pieces of 8 */

    n = sse_events(b.data, ev, 64);
    assert_int_equal(n, 1 + pieces + 2);
    for (int i = 0; i < n - 1; i++) {
        json_t *j = load(ev[i], strlen(ev[i]));
        json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
        json_t *delta = json_object_get(c0, "delta");
        json_t *tc = json_array_get(json_object_get(delta, "tool_calls"), 0);
        json_t *fn = json_object_get(tc, "function");
        if (i == 0) {
            assert_string_equal(json_string_value(json_object_get(delta, "role")), "assistant");
            assert_true(json_is_null(json_object_get(delta, "content")));
            assert_int_equal(json_integer_value(json_object_get(tc, "index")), 0);
            assert_string_equal(json_string_value(json_object_get(tc, "id")), meta.tool_id);
            assert_string_equal(json_string_value(json_object_get(tc, "type")), "function");
            assert_string_equal(json_string_value(json_object_get(fn, "name")), "get_weather");
            assert_string_equal(json_string_value(json_object_get(fn, "arguments")), "");
        } else if (i == n - 2) {
            assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")),
                                "tool_calls");
            assert_int_equal(json_object_size(delta), 0);
        } else {
            assert_int_equal(json_object_size(delta), 1);
            assert_int_equal(json_object_size(tc), 2); /* index and function only */
            assert_int_equal(json_integer_value(json_object_get(tc, "index")), 0);
            assert_true(json_is_null(json_object_get(c0, "finish_reason")));
            strcat(args, json_string_value(json_object_get(fn, "arguments")));
        }
        json_decref(j);
    }
    assert_string_equal(args, plan.tool_args);
    sim_buf_free(&b);
}

/* With a cache_hit_rate the usage carries prompt_tokens_details, prompt_tokens stays the total. */
static void test_cached_usage(void **state)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_model cached;
    sim_buf b = {0};
    json_t *j, *u;
    (void)state;
    make("sim-instant", 1, &meta, &plan);
    cached = *meta.model;
    cached.cache_hit_rate = 0.5;
    meta.model = &cached;
    plan.prompt_tokens = 2000;
    plan.cached_tokens = sim_chat_cached_tokens(2000, 0.5);
    sim_wire_completion(&b, &meta, &plan);
    j = load(b.data, b.len);
    u = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 2000);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 2008);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(u, "prompt_tokens_details"), "cached_tokens")),
                     896);
    json_decref(j);
    sim_buf_reset(&b);
    sim_wire_chunk_usage(&b, &meta, &plan);
    assert_non_null(strstr(b.data, ",\"prompt_tokens_details\":{\"cached_tokens\":896}}}"));
    sim_buf_free(&b);
}

static void make_anthropic(sim_wire_meta *meta, sim_chat_plan *plan)
{
    sim_chat_req req;
    sim_chat_error err;
    const char *body = "{\"model\":\"x\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Say hello\"}]}";
    assert_int_equal(sim_messages_parse(body, strlen(body), &req, &err), 0);
    meta->model = sim_catalog_find(&cat, "sim-claude-instant");
    strcpy(meta->id, "msg_0123456789abcdef01234567");
    strcpy(meta->tool_id, "toolu_89abcdef0123456789abcdef");
    meta->created = 1764300000;
    meta->include_usage = 0;
    sim_wire_meta_prepare(meta);
    sim_chat_plan_make(&req, meta->model, plan);
}

static void test_anthropic_message(void **state)
{
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0};
    (void)state;
    make_anthropic(&meta, &plan);
    plan.completion_tokens = 5;
    plan.truncated = 1;
    plan.prompt_tokens = 1500;
    plan.cached_tokens = 640;
    sim_wire_msg_message(&b, &meta, &plan);
    assert_false(b.failed);
    assert_string_equal(
        b.data,
        "{\"id\":\"msg_0123456789abcdef01234567\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"sim-claude-instant\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"the gives each compute cheaper\"}],\"stop_reason\":\"max_tokens\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":860,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":640,\"output_tokens\":5}}");
    json_decref(load(b.data, b.len));

    sim_buf_reset(&b);
    make_tool("sim-claude-instant", 1, &meta, &plan);
    sim_wire_msg_message(&b, &meta, &plan);
    assert_string_equal(
        b.data,
        "{\"id\":\"msg_0123456789abcdef01234567\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"sim-claude-instant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
        "\"toolu_89abcdef0123456789abcdef\",\"name\":\"get_weather\",\"input\":"
        "{\"location\":\"ramp\",\"note\":\"gateway\"}}],\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":13}}");
    json_decref(load(b.data, b.len));
    sim_buf_free(&b);
}

/* "event: NAME\ndata: JSON\n\n" blocks: names and decoded data. */
static int named_events(char *buf, const char **name, json_t **data, int max)
{
    int n = 0;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
        assert_non_null(nl);
        assert_non_null(end);
        assert_memory_equal(p, "event: ", 7);
        assert_memory_equal(nl + 1, "data: ", 6);
        *nl = '\0';
        *end = '\0';
        assert_true(n < max);
        name[n] = p + 7;
        data[n] = load(nl + 7, strlen(nl + 7));
        /* the data's type is the event's name */
        assert_string_equal(json_string_value(json_object_get(data[n], "type")), name[n]);
        n++;
        p = end + 2;
    }
    return n;
}

static void test_anthropic_stream(void **state)
{
    static const char *const order[] = {"message_start", "content_block_start", "ping"};
    sim_wire_meta meta;
    sim_chat_plan plan;
    sim_buf b = {0}, whole = {0};
    const char *name[64];
    json_t *data[64];
    char text[2048] = "";
    int n;
    (void)state;
    make_anthropic(&meta, &plan);
    plan.completion_tokens = 10;
    sim_wire_msg_start(&b, &meta, &plan);
    sim_wire_msg_text_delta(&b, &plan, 0, 4);
    sim_wire_msg_text_delta(&b, &plan, 4, 8);
    sim_wire_msg_text_delta(&b, &plan, 8, 10);
    sim_wire_msg_finish(&b, &plan);
    assert_false(b.failed);
    n = named_events(b.data, name, data, 64);
    assert_int_equal(n, 3 + 3 + 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(name[i], order[i]);
    {
        json_t *msg = json_object_get(data[0], "message");
        json_t *u = json_object_get(msg, "usage");
        assert_string_equal(json_string_value(json_object_get(msg, "id")), meta.id);
        assert_int_equal(json_array_size(json_object_get(msg, "content")), 0);
        assert_true(json_is_null(json_object_get(msg, "stop_reason")));
        assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 10);
        assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 1);
        json_t *cb = json_object_get(data[1], "content_block");
        assert_int_equal(json_integer_value(json_object_get(data[1], "index")), 0);
        assert_string_equal(json_string_value(json_object_get(cb, "type")), "text");
        assert_string_equal(json_string_value(json_object_get(cb, "text")), "");
    }
    for (int i = 3; i < 6; i++) {
        json_t *d = json_object_get(data[i], "delta");
        assert_string_equal(name[i], "content_block_delta");
        assert_string_equal(json_string_value(json_object_get(d, "type")), "text_delta");
        strcat(text, json_string_value(json_object_get(d, "text")));
    }
    assert_string_equal(name[6], "content_block_stop");
    assert_string_equal(name[7], "message_delta");
    assert_string_equal(name[8], "message_stop");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(data[7], "delta"), "stop_reason")),
        "end_turn");
    assert_true(json_is_null(json_object_get(json_object_get(data[7], "delta"), "stop_sequence")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(data[7], "usage"),
                                                        "output_tokens")),
                     10);
    sim_wire_msg_message(&whole, &meta, &plan);
    {
        json_t *j = load(whole.data, whole.len);
        assert_string_equal(text, json_string_value(json_object_get(
                                      json_array_get(json_object_get(j, "content"), 0), "text")));
        json_decref(j);
    }
    for (int i = 0; i < n; i++)
        json_decref(data[i]);
    sim_buf_free(&whole);

    /* tool_use: the block start names the tool, the partial_json pieces make the input */
    sim_buf_reset(&b);
    make_tool("sim-claude-instant", 1, &meta, &plan);
    sim_wire_msg_start(&b, &meta, &plan);
    for (size_t off = 0, len; (len = sim_chat_args_piece(&plan, off)) > 0; off += len)
        sim_wire_msg_json_delta(&b, &plan, off, len);
    sim_wire_msg_finish(&b, &plan);
    n = named_events(b.data, name, data, 64);
    assert_int_equal(n, 3 + 5 + 3);
    {
        json_t *cb = json_object_get(data[1], "content_block");
        char partial[SIM_TOOL_ARGS_MAX] = "";
        assert_string_equal(json_string_value(json_object_get(cb, "type")), "tool_use");
        assert_string_equal(json_string_value(json_object_get(cb, "id")), meta.tool_id);
        assert_string_equal(json_string_value(json_object_get(cb, "name")), "get_weather");
        assert_int_equal(json_object_size(json_object_get(cb, "input")), 0);
        for (int i = 3; i < 8; i++) {
            json_t *d = json_object_get(data[i], "delta");
            assert_string_equal(json_string_value(json_object_get(d, "type")), "input_json_delta");
            strcat(partial, json_string_value(json_object_get(d, "partial_json")));
        }
        assert_string_equal(partial, "{\"location\":\"ramp\",\"note\":\"gateway\"}");
        assert_string_equal(json_string_value(json_object_get(json_object_get(data[9], "delta"),
                                                              "stop_reason")),
                            "tool_use");
    }
    for (int i = 0; i < n; i++)
        json_decref(data[i]);
    sim_buf_free(&b);
}

static void test_anthropic_error_and_escape(void **state)
{
    sim_buf b = {0};
    (void)state;
    sim_wire_msg_error(&b, "invalid_request_error", "max_tokens: Field required");
    assert_string_equal(b.data, "{\"type\":\"error\",\"error\":{\"type\":"
                                "\"invalid_request_error\",\"message\":\"max_tokens: Field "
                                "required\"}}");
    sim_buf_reset(&b);
    /* quote, backslash, control, a character cut short, a lone continuation byte, UTF-8 kept */
    sim_buf_json_escape(&b, "a\"b\\c\n\x01\xc3\xa9\xe2\x82 \x80z", 14);
    assert_string_equal(b.data, "a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\\ufffd\\ufffd \\ufffdz");
    sim_buf_free(&b);
}

static void test_buf_growth(void **state)
{
    sim_buf b = {0};
    (void)state;
    for (int i = 0; i < 10000; i++)
        sim_buf_printf(&b, "%05d", i);
    assert_false(b.failed);
    assert_int_equal(b.len, 50000);
    assert_memory_equal(b.data + 49995, "09999", 5);
    sim_buf_reset(&b);
    assert_int_equal(b.len, 0);
    sim_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_object),
        cmocka_unit_test(test_stream_without_usage),
        cmocka_unit_test(test_stream_with_usage),
        cmocka_unit_test(test_models_list),
        cmocka_unit_test(test_tool_call_completion),
        cmocka_unit_test(test_tool_call_stream),
        cmocka_unit_test(test_cached_usage),
        cmocka_unit_test(test_anthropic_message),
        cmocka_unit_test(test_anthropic_stream),
        cmocka_unit_test(test_anthropic_error_and_escape),
        cmocka_unit_test(test_buf_growth),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
