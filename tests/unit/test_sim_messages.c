/* sim_messages: Anthropic Messages validation (exact messages) and the same prompt as OpenAI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim_chat.h"
#include "sim/sim_messages.h"
#include "sim/sim_model.h"
#include "sim/sim_tool.h"

struct bad_case {
    const char *body;
    const char *message;
};

#define U "[{\"role\":\"user\",\"content\":\"x\"}]"
#define HEAD "{\"model\":\"m\",\"max_tokens\":10,"
#define TOOL "[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}]"

static const struct bad_case bad_cases[] = {
    {"{", "The request body is not valid JSON: string or '}' expected near end of file: line 1 "
          "column 1 (char 1)"},
    {"[1]", "body: Input should be a valid dictionary"},
    {"{\"max_tokens\":1,\"messages\":" U "}", "model: Field required"},
    {"{\"model\":5,\"max_tokens\":1,\"messages\":" U "}", "model: Input should be a valid string"},
    {"{\"model\":\"m\",\"messages\":" U "}", "max_tokens: Field required"},
    {"{\"model\":\"m\",\"max_tokens\":\"5\",\"messages\":" U "}",
     "max_tokens: Input should be a valid integer"},
    {"{\"model\":\"m\",\"max_tokens\":1.5,\"messages\":" U "}",
     "max_tokens: Input should be a valid integer"},
    {"{\"model\":\"m\",\"max_tokens\":0,\"messages\":" U "}",
     "max_tokens: Input should be greater than or equal to 1"},
    {HEAD "\"stream_options\":{},\"messages\":" U "}",
     "stream_options: Extra inputs are not permitted"},
    {HEAD "\"x\":1}", "x: Extra inputs are not permitted"},
    {HEAD "\"system\":null}", "messages: Field required"},
    {HEAD "\"messages\":\"hi\"}", "messages: Input should be a valid list"},
    {HEAD "\"messages\":[]}", "messages: at least one message is required"},
    {HEAD "\"messages\":[5]}", "messages.0: Input should be a valid dictionary"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":\"bob\"}]}",
     "messages.0.name: Extra inputs are not permitted"},
    {HEAD "\"messages\":[{\"content\":\"x\"}]}", "messages.0.role: Field required"},
    {HEAD "\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
     "messages.0.role: Input should be 'user' or 'assistant'"},
    {HEAD "\"messages\":[{\"role\":3,\"content\":\"x\"}]}",
     "messages.0.role: Input should be 'user' or 'assistant'"},
    {HEAD "\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
     "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` "
     "parameter, not \"system\" as an input message role."},
    {HEAD "\"messages\":[{\"role\":\"user\"}]}", "messages.0.content: Field required"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":5}]}",
     "messages.0.content: Input should be a valid list"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
     "messages.0: all messages must have non-empty content except for the optional final "
     "assistant message"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":[]},"
          "{\"role\":\"user\",\"content\":\"y\"}]}",
     "messages.1: all messages must have non-empty content except for the optional final "
     "assistant message"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
     "messages.0.content.0: Input should be a valid dictionary"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
     "messages.0.content.0: Unable to extract tag using discriminator 'type'"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
     "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the "
     "expected tags: 'text', 'image', 'tool_use', 'tool_result'"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
     "messages.0.content.0.text.text: Field required"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}",
     "messages.0.content.0.text.text: Input should be a valid string"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\"}]}]}",
     "messages.0.content.0.image.source: Field required"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":\"u\"}]}]}",
     "messages.0.content.0.image.source: Input should be a valid dictionary"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":["
          "{\"type\":\"tool_use\",\"name\":\"f\",\"input\":{}}]}]}",
     "messages.1.content.0.tool_use.id: Field required"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":["
          "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":\"{}\"}]}]}",
     "messages.1.content.0.tool_use.input: Input should be a valid dictionary"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
     "messages.0.content.0.tool_result.tool_use_id: Field required"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
          "\"tool_use_id\":\"t\",\"content\":5}]}]}",
     "messages.0.content.0.tool_result.content: Input should be a valid list"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
          "\"tool_use_id\":\"t\",\"content\":[{\"type\":\"tool_use\"}]}]}]}",
     "messages.0.content.0.tool_result.content.0: Input tag 'tool_use' found using 'type' does "
     "not match any of the expected tags: 'text', 'image'"},
    {HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
          "\"tool_use_id\":\"t\",\"is_error\":\"yes\"}]}]}",
     "messages.0.content.0.tool_result.is_error: Input should be a valid boolean"},
    {HEAD "\"system\":5,\"messages\":" U "}", "system: Input should be a valid list"},
    {HEAD "\"system\":[{\"type\":\"image\"}],\"messages\":" U "}",
     "system.0.type: Input should be 'text'"},
    {HEAD "\"system\":[{\"type\":\"text\"}],\"messages\":" U "}", "system.0.text: Field required"},
    {HEAD "\"stream\":\"yes\",\"messages\":" U "}", "stream: Input should be a valid boolean"},
    {HEAD "\"tools\":{},\"messages\":" U "}", "tools: Input should be a valid list"},
    {HEAD "\"tools\":[{\"input_schema\":{}}],\"messages\":" U "}", "tools.0.name: Field required"},
    {HEAD "\"tools\":[{\"name\":\"get weather\",\"input_schema\":{}}],\"messages\":" U "}",
     "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"},
    {HEAD "\"tools\":[{\"name\":\"f\"}],\"messages\":" U "}", "tools.0.input_schema: Field required"},
    {HEAD "\"tools\":[{\"name\":\"f\",\"input_schema\":[]}],\"messages\":" U "}",
     "tools.0.input_schema: Input should be a valid dictionary"},
    {HEAD "\"tools\":" TOOL ",\"tool_choice\":\"auto\",\"messages\":" U "}",
     "tool_choice: Input should be a valid dictionary"},
    {HEAD "\"tools\":" TOOL ",\"tool_choice\":{},\"messages\":" U "}",
     "tool_choice: Unable to extract tag using discriminator 'type'"},
    {HEAD "\"tools\":" TOOL ",\"tool_choice\":{\"type\":\"required\"},\"messages\":" U "}",
     "tool_choice: Input tag 'required' found using 'type' does not match any of the expected "
     "tags: 'auto', 'any', 'tool', 'none'"},
    {HEAD "\"tools\":" TOOL ",\"tool_choice\":{\"type\":\"tool\"},\"messages\":" U "}",
     "tool_choice.tool.name: Field required"},
    {HEAD "\"tools\":" TOOL ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"g\"},\"messages\":" U "}",
     "tool_choice.tool.name: Tool 'g' not found in tools"},
    {HEAD "\"tool_choice\":{\"type\":\"any\"},\"messages\":" U "}",
     "tool_choice: tool_choice may only be specified while providing tools"},
};

static void test_bad_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        sim_chat_req req;
        sim_chat_error err;
        if (sim_messages_parse(bc->body, strlen(bc->body), &req, &err) != -1)
            fail_msg("case %zu (%s) was accepted", i, bc->body);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.type, "invalid_request_error");
        assert_null(err.code);
        assert_string_equal(err.param, "");
        if (strcmp(err.message, bc->message))
            fail_msg("case %zu (%s):\n got  %s\n want %s", i, bc->body, err.message,
                     bc->message);
    }
}

static void parse_ok(const char *body, sim_chat_req *req)
{
    sim_chat_error err;
    if (sim_messages_parse(body, strlen(body), req, &err))
        fail_msg("rejected: %s (%s)", err.message, body);
}

static void openai_ok(const char *body, sim_chat_req *req)
{
    sim_chat_error err;
    if (sim_chat_parse(body, strlen(body), req, &err))
        fail_msg("rejected: %s (%s)", err.message, body);
}

static void test_good_request_fields(void **state)
{
    sim_chat_req req;
    (void)state;
    parse_ok("{\"model\":\"sim-claude\",\"max_tokens\":50,\"stream\":true,\"temperature\":0.2,"
             "\"top_p\":1,\"top_k\":5,\"stop_sequences\":[\"x\"],\"metadata\":{\"user_id\":\"u\"},"
             "\"system\":\"be brief\",\"tools\":null,\"tool_choice\":null,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"},"
             "{\"role\":\"assistant\",\"content\":\"\"}]}",
             &req);
    assert_string_equal(req.model, "sim-claude");
    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 0);
    assert_int_equal(req.max_tokens, 50);
    assert_int_equal(req.messages, 3); /* system counts */
    /* 3 + (4 + ceil(8/4)) + (4 + ceil(11/4)) + (4 + 0) */
    assert_int_equal(req.prompt_tokens, 3 + 6 + 7 + 4);
    assert_int_equal(req.tool_call, 0);

    parse_ok(HEAD "\"stream\":null,\"system\":null,\"messages\":" U "}", &req);
    assert_int_equal(req.stream, 0);
    assert_int_equal(req.messages, 1);
    parse_ok("{\"model\":\"m\",\"max_tokens\":9999999999,\"messages\":" U "}", &req);
    assert_int_equal(req.max_tokens, 1000000000);
}

/* The same conversation costs and hashes the same on both wires. */
static void test_same_prompt_as_openai(void **state)
{
    sim_chat_req a, o;
    (void)state;
    parse_ok(HEAD "\"system\":\"be brief\",\"messages\":["
                  "{\"role\":\"user\",\"content\":\"hello world\"},"
                  "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
                  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look \"},"
                  "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                  "\"data\":\"AA\"}},{\"type\":\"text\",\"text\":\"here\"}]}]}",
             &a);
    openai_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
              "{\"role\":\"user\",\"content\":\"hello world\"},"
              "{\"role\":\"assistant\",\"content\":\"hi\"},"
              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look \"},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}},"
              "{\"type\":\"text\",\"text\":\"here\"}]}]}",
              &o);
    assert_true(a.prompt_hash == o.prompt_hash);
    assert_int_equal(a.prompt_tokens, o.prompt_tokens);
    assert_int_equal(a.prompt_tokens, 3 + 6 + 7 + 5 + (4 + 3 + 85));
    assert_int_equal(a.images, 1);
    assert_int_equal(a.messages, o.messages);

    /* system as text blocks is the same system */
    parse_ok(HEAD "\"system\":[{\"type\":\"text\",\"text\":\"be \"},{\"type\":\"text\","
                  "\"text\":\"brief\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
                  "\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}]}",
             &a);
    openai_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
              "{\"role\":\"user\",\"content\":\"hello world\"}]}",
              &o);
    assert_true(a.prompt_hash == o.prompt_hash);
    assert_int_equal(a.prompt_tokens, o.prompt_tokens);

    /* a tool_use in the history is the tool call with compact JSON arguments */
    parse_ok(HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                  "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\","
                  "\"input\":{\"a\": 1, \"b\": [true]}}]}]}",
             &a);
    openai_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
              "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
              "\"type\":\"function\",\"function\":{\"name\":\"f\","
              "\"arguments\":\"{\\\"a\\\":1,\\\"b\\\":[true]}\"}}]}]}",
              &o);
    assert_true(a.prompt_hash == o.prompt_hash);
    assert_int_equal(a.prompt_tokens, o.prompt_tokens);
    assert_int_equal(a.prompt_tokens, 3 + 5 + (4 + 5)); /* "f" + 16 bytes of JSON */
}

/* Pinned as in test_sim_chat.c: the Anthropic twin of the sim-instant vector. */
static void test_completion_pinned(void **state)
{
    sim_catalog cat;
    char err[SIM_ERR_MAX];
    sim_chat_req req;
    sim_chat_plan plan;
    (void)state;
    assert_int_equal(sim_catalog_builtin(&cat, err, sizeof(err)), 0);
    parse_ok("{\"model\":\"sim-claude-instant\",\"max_tokens\":100,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
             &req);
    sim_chat_plan_make(&req, sim_catalog_find(&cat, "sim-claude-instant"), &plan);
    assert_int_equal(plan.prompt_tokens, 10);
    assert_int_equal(plan.completion_tokens, 32);
    assert_int_equal(plan.cached_tokens, 0); /* below 1024 */
    sim_catalog_free(&cat);
}

static const char *const tools2 =
    "[{\"name\":\"get_weather\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\","
    "\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"]}},"
    "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"tz\":{\"type\":\"string\",\"enum\":[\"UTC\"]},\"h24\":{\"type\":\"boolean\"}}}}]";

static void parse_tools(const char *choice, const char *messages, sim_chat_req *req)
{
    char body[2048];
    snprintf(body, sizeof(body), HEAD "\"tools\":%s%s%s,\"messages\":%s}", tools2,
             choice ? ",\"tool_choice\":" : "", choice ? choice : "", messages);
    parse_ok(body, req);
}

static void test_tool_decision(void **state)
{
    sim_chat_req req;
    const char *hello = "[{\"role\":\"user\",\"content\":\"Say hello\"}]";
    const char *after =
        "[{\"role\":\"user\",\"content\":\"Say hello\"},{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"sunny\"}]}]}]";
    (void)state;

    parse_tools("{\"type\":\"any\"}", hello, &req);
    assert_int_equal(req.tool_call, 1);
    assert_string_equal(req.tool_name, "get_weather");
    assert_string_equal(req.tool_args, "{\"location\":\"ramp\"}"); /* as on the OpenAI wire */

    parse_tools("{\"type\":\"tool\",\"name\":\"get_time\",\"disable_parallel_tool_use\":true}",
                hello, &req);
    assert_int_equal(req.tool_call, 1);
    assert_string_equal(req.tool_name, "get_time");
    assert_string_equal(req.tool_args, "{\"tz\":\"UTC\"}"); /* no required: the first, its enum */

    parse_tools("{\"type\":\"none\"}", hello, &req);
    assert_int_equal(req.tool_call, 0);

    parse_tools("{\"type\":\"any\"}", after, &req);
    assert_int_equal(req.last_tool_result, 1);
    assert_int_equal(req.tool_call, 0);
    /* 3 + (4 + 3) + (4 + ceil(("get_weather" + "{}") / 4)) + (4 + ceil(5/4)) */
    assert_int_equal(req.prompt_tokens, 3 + 7 + (4 + 4) + (4 + 2));

    int calls = 0;
    for (int i = 0; i < 400; i++) {
        char msgs[96];
        snprintf(msgs, sizeof(msgs), "[{\"role\":\"user\",\"content\":\"q%d\"}]", i);
        parse_tools(i % 2 ? "{\"type\":\"auto\"}" : NULL, msgs, &req);
        assert_int_equal(req.tool_call, sim_tool_auto_calls(req.prompt_hash));
        calls += req.tool_call;
    }
    assert_in_range(calls, 160, 240);

    /* an empty tools array is no tools */
    parse_ok(HEAD "\"tools\":[],\"messages\":" U "}", &req);
    assert_int_equal(req.tool_call, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_good_request_fields),
        cmocka_unit_test(test_same_prompt_as_openai),
        cmocka_unit_test(test_completion_pinned),
        cmocka_unit_test(test_tool_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
