/* sim_chat: request validation (exact OpenAI-style errors) and deterministic tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sim/sim_chat.h"
#include "sim/sim_model.h"
#include "sim/sim_tool.h"

struct bad_case {
    const char *body;
    const char *code; /* NULL = null */
    const char *param;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"{", NULL, NULL,
     "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
     "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
     "sent was not valid JSON.)"},
    {"", NULL, NULL,
     "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
     "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
     "sent was not valid JSON.)"},
    {"[1]", "invalid_type", "body",
     "Invalid type for 'body': expected an object, but got an array instead."},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "missing_required_parameter",
     "model", "Missing required parameter: 'model'."},
    {"{\"model\":7,\"messages\":[]}", "invalid_type", "model",
     "Invalid type for 'model': expected a string, but got an integer instead."},
    {"{\"model\":\"m\"}", "missing_required_parameter", "messages",
     "Missing required parameter: 'messages'."},
    {"{\"model\":\"m\",\"messages\":\"hi\"}", "invalid_type", "messages",
     "Invalid type for 'messages': expected an array, but got a string instead."},
    {"{\"model\":\"m\",\"messages\":[]}", "empty_array", "messages",
     "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
     "empty array instead."},
    {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "invalid_type", "messages[0]",
     "Invalid type for 'messages[0]': expected an object, but got a string instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"content\":\"b\"}]}",
     "missing_required_parameter", "messages[1].role",
     "Missing required parameter: 'messages[1].role'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":1,\"content\":\"b\"}]}", "invalid_type",
     "messages[0].role",
     "Invalid type for 'messages[0].role': expected a string, but got an integer instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"boss\",\"content\":\"b\"}]}", "invalid_value",
     "messages[0].role",
     "Invalid value: 'boss'. Supported values are: 'system', 'developer', 'user', 'assistant', "
     "'tool', and 'function'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "missing_required_parameter",
     "messages[0].content", "Missing required parameter: 'messages[0].content'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":3.5}]}", "invalid_type",
     "messages[0].content",
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, but "
     "got a decimal instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
     "invalid_value", "messages[0].content[0].type",
     "Invalid value: 'video'. Supported values are: 'text' and 'image_url'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
     "missing_required_parameter", "messages[0].content[0].image_url",
     "Missing required parameter: 'messages[0].content[0].image_url'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":\"http://x\"}]}]}",
     "invalid_type", "messages[0].content[0].image_url",
     "Invalid type for 'messages[0].content[0].image_url': expected an object, but got a string "
     "instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{}}]}]}",
     "missing_required_parameter", "messages[0].content[0].image_url.url",
     "Missing required parameter: 'messages[0].content[0].image_url.url'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"http://x\"}}]}]}",
     "invalid_value", "messages[0]",
     "Invalid 'messages[0]': Image URLs are only allowed for messages with role 'user', but this "
     "message with role 'system' contains an image URL."},
    /* tool turns */
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
     "{\"role\":\"tool\",\"content\":\"42\"}]}",
     "missing_required_parameter", "messages[1].tool_call_id",
     "Missing required parameter: 'messages[1].tool_call_id'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":7,\"content\":\"42\"}]}",
     "invalid_type", "messages[0].tool_call_id",
     "Invalid type for 'messages[0].tool_call_id': expected a string, but got an integer instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}",
     "invalid_type", "messages[0].tool_calls",
     "Invalid type for 'messages[0].tool_calls': expected an array, but got an object instead."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":"
     "\"function\"}]}]}",
     "missing_required_parameter", "messages[0].tool_calls[0].id",
     "Missing required parameter: 'messages[0].tool_calls[0].id'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"tool\"}]}]}",
     "invalid_value", "messages[0].tool_calls[0].type",
     "Invalid value: 'tool'. Supported values are: 'function'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}]}",
     "missing_required_parameter", "messages[0].tool_calls[0].function.arguments",
     "Missing required parameter: 'messages[0].tool_calls[0].function.arguments'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]}]}",
     "invalid_type", "messages[0].tool_calls[0].function.arguments",
     "Invalid type for 'messages[0].tool_calls[0].function.arguments': expected a string, but "
     "got an object instead."},
    /* tools and tool_choice */
    {"{\"model\":\"m\",\"tools\":{},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "tools",
     "Invalid type for 'tools': expected an array, but got an object instead."},
    {"{\"model\":\"m\",\"tools\":[],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "empty_array", "tools",
     "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty "
     "array instead."},
    {"{\"model\":\"m\",\"tools\":[{\"function\":{\"name\":\"f\"}}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "missing_required_parameter", "tools[0].type", "Missing required parameter: 'tools[0].type'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"retrieval\"}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "tools[0].type", "Invalid value: 'retrieval'. Supported values are: 'function'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\"}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "missing_required_parameter", "tools[0].function",
     "Missing required parameter: 'tools[0].function'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{}}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "missing_required_parameter", "tools[0].function.name",
     "Missing required parameter: 'tools[0].function.name'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "tools[0].function.name",
     "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that "
     "matches the pattern '^[a-zA-Z0-9_-]+$'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"a234567890123456789012345678901234567890123456789012345678901234567890\"}}],"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "string_above_max_length", "tools[0].function.name",
     "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length "
     "64, but got a string with length 70 instead."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":\"{}\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "tools[0].function.parameters",
     "Invalid type for 'tools[0].function.parameters': expected an object, but got a string "
     "instead."},
    {"{\"model\":\"m\",\"tool_choice\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     NULL, "tool_choice",
     "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
     "specified."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":\"always\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "tool_choice",
     "Invalid value: 'always'. Supported values are: 'none', 'auto', and 'required'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "tool_choice",
     "Invalid type for 'tool_choice': expected one of a string or object, but got an integer "
     "instead."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":{\"type\":\"tool\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "tool_choice.type", "Invalid value: 'tool'. Supported values are: 'function'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":{\"type\":\"function\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "missing_required_parameter", "tool_choice.function",
     "Missing required parameter: 'tool_choice.function'."},
    {"{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "tool_choice",
     "Invalid value for 'tool_choice': function 'g' is not one of the 'tools'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
     "missing_required_parameter", "messages[0].content[0].text",
     "Missing required parameter: 'messages[0].content[0].text'."},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}", "invalid_type",
     "messages[0].content[0]",
     "Invalid type for 'messages[0].content[0]': expected an object, but got a string instead."},
    {"{\"model\":\"m\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "stream",
     "Invalid type for 'stream': expected a boolean, but got a string instead."},
    {"{\"model\":\"m\",\"stream_options\":{\"include_usage\":true},"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_value", "stream_options",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."},
    {"{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":1},"
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "stream_options.include_usage",
     "Invalid type for 'stream_options.include_usage': expected a boolean, but got an integer "
     "instead."},
    {"{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "integer_below_min_value", "max_tokens",
     "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 "
     "instead."},
    {"{\"model\":\"m\",\"max_completion_tokens\":\"5\","
     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
     "invalid_type", "max_completion_tokens",
     "Invalid type for 'max_completion_tokens': expected an integer, but got a string instead."},
};

static void test_bad_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        sim_chat_req req;
        sim_chat_error err;
        int rc = sim_chat_parse(bc->body, strlen(bc->body), &req, &err);
        if (rc != -1)
            fail_msg("case %zu (%s) was accepted", i, bc->body);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.type, "invalid_request_error");
        if (bc->code)
            assert_string_equal(err.code, bc->code);
        else
            assert_null(err.code);
        assert_string_equal(err.param, bc->param ? bc->param : "");
        assert_string_equal(err.message, bc->message);
    }
}

static void parse_ok(const char *body, sim_chat_req *req)
{
    sim_chat_error err;
    if (sim_chat_parse(body, strlen(body), req, &err))
        fail_msg("rejected: %s", err.message);
}

static void test_good_request_fields(void **state)
{
    sim_chat_req req;
    (void)state;
    parse_ok("{\"model\":\"sim-small\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
             "\"max_tokens\":50,\"max_completion_tokens\":20,\"temperature\":0.2,"
             "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
             "{\"role\":\"user\",\"content\":\"hello world\"}]}",
             &req);
    assert_string_equal(req.model, "sim-small");
    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 1);
    assert_int_equal(req.max_tokens, 20); /* the smaller cap wins */
    assert_int_equal(req.messages, 3);
    /* 3 + (4 + ceil(8/4)) + (4 + 0) + (4 + ceil(11/4)) */
    assert_int_equal(req.prompt_tokens, 3 + 6 + 4 + 7);

    parse_ok("{\"model\":\"m\",\"stream\":null,\"max_tokens\":null,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
             &req);
    assert_int_equal(req.stream, 0);
    assert_int_equal(req.max_tokens, 0);
}

static void test_prompt_tokens_formula(void **state)
{
    sim_chat_req req;
    (void)state;
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", &req);
    assert_int_equal(req.prompt_tokens, 7);
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"abcd\"}]}", &req);
    assert_int_equal(req.prompt_tokens, 8);
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"abcde\"}]}", &req);
    assert_int_equal(req.prompt_tokens, 9);
}

/* A string content and the same text split over text parts are the same prompt. */
static void test_parts_equal_string(void **state)
{
    sim_chat_req a, b;
    (void)state;
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}]}", &a);
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
             "{\"type\":\"text\",\"text\":\"hello \"},{\"type\":\"text\",\"text\":\"world\"}]}]}",
             &b);
    assert_true(a.prompt_hash == b.prompt_hash);
    assert_int_equal(a.prompt_tokens, b.prompt_tokens);
    /* the role is part of the prompt */
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"hello world\"}]}",
             &b);
    assert_true(a.prompt_hash != b.prompt_hash);
}

static const sim_model *builtin_model(sim_catalog *cat, const char *id)
{
    char err[SIM_ERR_MAX];
    if (sim_catalog_builtin(cat, err, sizeof(err)))
        fail_msg("built-in catalog: %s", err);
    const sim_model *m = sim_catalog_find(cat, id);
    assert_non_null(m);
    return m;
}

static void content_of(const sim_chat_plan *plan, char *buf, size_t cap)
{
    size_t len = 0;
    char tok[40];
    buf[0] = '\0';
    for (int i = 0; i < plan->completion_tokens; i++) {
        size_t n = sim_chat_token_text(plan->content_seed, i, tok);
        assert_true(len + n < cap);
        memcpy(buf + len, tok, n + 1);
        len += n;
    }
}

/* Pinned: these values are part of the simulator's contract (tests and demos
 * replay them). Changing the hash or formula must be a deliberate act. */
static void test_completion_pinned(void **state)
{
    sim_catalog cat;
    sim_chat_req req;
    sim_chat_plan plan;
    char content[4096];
    (void)state;
    const sim_model *m = builtin_model(&cat, "sim-instant");

    parse_ok("{\"model\":\"sim-instant\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello"
             "\"}]}",
             &req);
    sim_chat_plan_make(&req, m, &plan);
    assert_int_equal(plan.prompt_tokens, 10);
    assert_int_equal(plan.completion_tokens, 8);
    assert_string_equal(sim_chat_finish_reason(&plan), "stop");
    content_of(&plan, content, sizeof(content));
    assert_string_equal(content, "stream ramp so low we and quality tokens");

    /* same prompt, other model: other tokens */
    m = sim_catalog_find(&cat, "sim-premium");
    sim_chat_plan_make(&req, m, &plan);
    assert_int_equal(plan.completion_tokens, 257);

    /* capped */
    parse_ok("{\"model\":\"sim-premium\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Say hello\"}]}",
             &req);
    sim_chat_plan_make(&req, m, &plan);
    assert_int_equal(plan.completion_tokens, 5);
    assert_string_equal(sim_chat_finish_reason(&plan), "length");
    sim_catalog_free(&cat);
}

static void test_completion_in_range_and_stable(void **state)
{
    sim_catalog cat;
    (void)state;
    const sim_model *m = builtin_model(&cat, "sim-mid");
    for (int i = 0; i < 500; i++) {
        char body[160];
        sim_chat_req req;
        sim_chat_plan p1, p2;
        snprintf(body, sizeof(body),
                 "{\"model\":\"sim-mid\",\"messages\":[{\"role\":\"user\",\"content\":\"q%d\"}]}",
                 i);
        parse_ok(body, &req);
        sim_chat_plan_make(&req, m, &p1);
        sim_chat_plan_make(&req, m, &p2);
        assert_in_range(p1.completion_tokens, m->completion_min, m->completion_max);
        assert_int_equal(p1.completion_tokens, p2.completion_tokens);
        assert_true(p1.content_seed == p2.content_seed);
    }
    sim_catalog_free(&cat);
}

static const char *const weather_tools =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{"
    "\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"},"
    "\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},"
    "\"required\":[\"location\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]";

static void parse_tools_req(const char *choice, const char *messages, sim_chat_req *req)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"model\":\"m\",\"tools\":%s%s%s,\"messages\":%s}",
             weather_tools, choice ? ",\"tool_choice\":" : "", choice ? choice : "", messages);
    parse_ok(body, req);
}

/* The sim_tool rule: forced, none, a tool result last, and auto by the prompt hash. */
static void test_tool_decision(void **state)
{
    sim_chat_req req, plain;
    const char *hello = "[{\"role\":\"user\",\"content\":\"Say hello\"}]";
    const char *after_tool =
        "[{\"role\":\"user\",\"content\":\"Say hello\"},{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]";
    (void)state;

    parse_tools_req("\"required\"", hello, &req);
    assert_int_equal(req.tool_call, 1);
    assert_string_equal(req.tool_name, "get_weather"); /* the first tool */
    /* required: location only; a word from the prompt hash */
    assert_string_equal(req.tool_args, "{\"location\":\"ramp\"}");

    parse_tools_req("{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}", hello,
                    &req);
    assert_int_equal(req.tool_call, 1);
    assert_string_equal(req.tool_name, "get_time");
    assert_string_equal(req.tool_args, "{}"); /* no parameters */

    parse_tools_req("\"none\"", hello, &req);
    assert_int_equal(req.tool_call, 0);
    assert_string_equal(req.tool_name, "");

    /* a tool result last: text, even when forced */
    parse_tools_req("\"required\"", after_tool, &req);
    assert_int_equal(req.last_tool_result, 1);
    assert_int_equal(req.tool_call, 0);

    /* tools do not change the prompt; auto follows sim_tool_auto_calls */
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
             &plain);
    parse_tools_req(NULL, hello, &req);
    assert_true(req.prompt_hash == plain.prompt_hash);
    assert_int_equal(req.prompt_tokens, plain.prompt_tokens);
    assert_int_equal(plain.tool_call, 0);
    assert_int_equal(req.tool_call, sim_tool_auto_calls(req.prompt_hash));
    assert_int_equal(req.tool_call, 0); /* pinned: "Say hello" gets text under auto */

    int calls = 0;
    for (int i = 0; i < 400; i++) {
        char msgs[96];
        snprintf(msgs, sizeof(msgs), "[{\"role\":\"user\",\"content\":\"q%d\"}]", i);
        parse_tools_req("\"auto\"", msgs, &req);
        assert_int_equal(req.tool_call, sim_tool_auto_calls(req.prompt_hash));
        calls += req.tool_call;
        if (req.tool_call)
            assert_string_equal(req.tool_name, "get_weather");
    }
    assert_in_range(calls, 160, 240); /* about half */
    /* pinned hash vectors of the auto rule */
    assert_int_equal(sim_tool_auto_calls(0), 1);
    assert_int_equal(sim_tool_auto_calls(1), 1);
    assert_int_equal(sim_tool_auto_calls(2), 0);
}

static void args_of(const char *schema, uint64_t h, size_t cap, char *out)
{
    json_error_t e;
    json_t *j = schema ? json_loads(schema, 0, &e) : NULL;
    if (schema && !j)
        fail_msg("bad schema: %s", e.text);
    size_t n = sim_tool_args(j, h, out, cap);
    assert_int_equal(n, strlen(out));
    assert_true(n < cap);
    json_decref(j);
}

static void test_tool_args(void **state)
{
    char out[SIM_TOOL_ARGS_MAX];
    (void)state;
    args_of(NULL, 0, sizeof(out), out);
    assert_string_equal(out, "{}");
    args_of("{\"type\":\"object\"}", 0, sizeof(out), out);
    assert_string_equal(out, "{}");
    /* no required: the first property only */
    args_of("{\"properties\":{\"n\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"}}}", 0,
            sizeof(out), out);
    assert_string_equal(out, "{\"n\":1}");
    /* required, in its order, each type; words from splitmix64(hash + k) */
    args_of("{\"properties\":{\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},"
            "\"x\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},\"a\":{\"type\":\"array\"},"
            "\"o\":{\"type\":\"object\"},\"z\":{\"type\":\"null\"},\"e\":{\"enum\":[3,4]},"
            "\"u\":{\"type\":[\"string\",\"null\"]}},"
            "\"required\":[\"o\",\"s\",\"i\",\"x\",\"b\",\"a\",\"z\",\"e\",\"u\",\"nope\",7]}",
            42, sizeof(out), out);
    assert_string_equal(out, "{\"o\":{},\"s\":\"routing\",\"i\":1,\"x\":1,\"b\":true,\"a\":[],"
                             "\"z\":null,\"e\":3,\"u\":\"to\",\"nope\":\"ramp\"}");
    assert_string_equal(sim_chat_word(sim_mix64(42 + 1)), "routing");
    /* names are escaped as JSON; non-ASCII stays UTF-8 */
    args_of("{\"required\":[\"st\u00e4dte\",\"a\\\"b\"]}", 0, sizeof(out), out);
    assert_string_equal(out, "{\"st\xc3\xa4" "dte\":\"savings\",\"a\\\"b\":\"model\"}");
    /* a name that does not fit ends the list */
    args_of("{\"required\":[\"aaaaaaaaaa\",\"bbbbbbbbbb\",\"cccccccccc\"]}", 0, 40, out);
    assert_string_equal(out, "{\"aaaaaaaaaa\":\"savings\"}");
    args_of("{\"required\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}", 0, 40, out);
    assert_string_equal(out, "{}");
}

static void test_image_and_tool_call_tokens(void **state)
{
    sim_chat_req req, text_only;
    (void)state;
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
             "{\"type\":\"text\",\"text\":\"abcd\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA\","
             "\"detail\":\"low\"}}]}]}",
             &req);
    assert_int_equal(req.images, 2);
    assert_int_equal(req.prompt_tokens, 3 + 4 + 1 + 2 * 85);
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"abcd\"}]}",
             &text_only);
    assert_true(req.prompt_hash != text_only.prompt_hash);

    /* a tool call in the history counts its name and arguments: "f" + "{}" = 3 bytes */
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"abcd\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\","
             "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"12345\"}]}",
             &req);
    assert_int_equal(req.prompt_tokens, 3 + (4 + 1) + (4 + 1) + (4 + 2));
    assert_int_equal(req.last_tool_result, 1);
    assert_int_equal(req.messages, 3);
}

static void test_cached_tokens_rule(void **state)
{
    (void)state;
    assert_int_equal(sim_chat_cached_tokens(1023, 1.0), 0);
    assert_int_equal(sim_chat_cached_tokens(1024, 1.0), 1024);
    assert_int_equal(sim_chat_cached_tokens(1024, 0.5), 512);
    assert_int_equal(sim_chat_cached_tokens(1024, 0.3), 256); /* floor(307.2) -> 256 */
    assert_int_equal(sim_chat_cached_tokens(1107, 0.5), 512); /* floor(553.5) -> 512 */
    assert_int_equal(sim_chat_cached_tokens(5000, 1.0), 4992);
    assert_int_equal(sim_chat_cached_tokens(5000, 0.1), 384);  /* 500 -> 384 */
    assert_int_equal(sim_chat_cached_tokens(5000, 0.02), 0);   /* 100 -> 0 */
    assert_int_equal(sim_chat_cached_tokens(5000, 0), 0);
    assert_int_equal(sim_chat_cached_tokens(1000000000, 1.0), 1000000000);
}

static void test_plan_tool_call_and_cache(void **state)
{
    sim_catalog cat;
    sim_chat_req req;
    sim_chat_plan plan;
    char body[8192];
    (void)state;
    const sim_model *m = builtin_model(&cat, "sim-instant");

    parse_tools_req("\"required\"", "[{\"role\":\"user\",\"content\":\"Say hello\"}]", &req);
    req.max_tokens = 1; /* a tool call is never cut */
    sim_chat_plan_make(&req, m, &plan);
    assert_int_equal(plan.tool_call, 1);
    assert_string_equal(plan.tool_name, "get_weather");
    assert_string_equal(plan.tool_args, "{\"location\":\"ramp\"}");
    assert_int_equal(plan.tool_args_len, 19);
    assert_int_equal(plan.completion_tokens, 9); /* 1 + ceil((11 + 19) / 4) */
    assert_int_equal(plan.truncated, 0);
    assert_string_equal(sim_chat_finish_reason(&plan), "tool_calls");
    assert_int_equal(plan.cached_tokens, 0); /* sim-instant has no cache */

    /* 4400 bytes of text: 3 + 4 + 1100 = 1107 prompt tokens; sim-claude-instant caches half */
    memset(body, 0, sizeof(body));
    strcpy(body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    memset(body + strlen(body), 'a', 4400);
    strcat(body, "\"}]}");
    parse_ok(body, &req);
    assert_int_equal(req.prompt_tokens, 1107);
    sim_chat_plan_make(&req, sim_catalog_find(&cat, "sim-claude-instant"), &plan);
    assert_int_equal(plan.cached_tokens, 512);
    sim_chat_plan_make(&req, m, &plan);
    assert_int_equal(plan.cached_tokens, 0);
    sim_catalog_free(&cat);
}

static void test_args_pieces(void **state)
{
    sim_chat_plan plan;
    char joined[SIM_TOOL_ARGS_MAX] = "";
    size_t off = 0, len;
    int n = 0;
    (void)state;
    memset(&plan, 0, sizeof(plan));
    /* "{"k":"aébc€d"}": é and € must not be cut */
    strcpy(plan.tool_args, "{\"k\":\"a\xc3\xa9" "bc\xe2\x82\xac" "d\"}");
    plan.tool_args_len = strlen(plan.tool_args);
    while ((len = sim_chat_args_piece(&plan, off)) > 0) {
        assert_true(len >= 1 && len <= SIM_ARGS_PIECE + 3);
        /* no piece starts with a continuation byte */
        assert_true(((unsigned char)plan.tool_args[off] & 0xc0) != 0x80);
        strncat(joined, plan.tool_args + off, len);
        off += len;
        n++;
    }
    assert_string_equal(joined, plan.tool_args);
    assert_int_equal(n, sim_chat_args_pieces(&plan));
    assert_int_equal(n, 2); /* 8 bytes + the é's second byte, then the rest */
    assert_int_equal(sim_chat_args_piece(&plan, 0), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_good_request_fields),
        cmocka_unit_test(test_prompt_tokens_formula),
        cmocka_unit_test(test_parts_equal_string),
        cmocka_unit_test(test_completion_pinned),
        cmocka_unit_test(test_completion_in_range_and_stable),
        cmocka_unit_test(test_tool_decision),
        cmocka_unit_test(test_tool_args),
        cmocka_unit_test(test_image_and_tool_call_tokens),
        cmocka_unit_test(test_cached_tokens_rule),
        cmocka_unit_test(test_plan_tool_call_and_cache),
        cmocka_unit_test(test_args_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
