/* sim_chat: request validation (exact OpenAI-style errors) and deterministic tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim_chat.h"
#include "sim/sim_model.h"

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
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
     "invalid_value", "messages[0].content[0].type",
     "Invalid value: 'image_url'. Supported values are: 'text'."},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_good_request_fields),
        cmocka_unit_test(test_prompt_tokens_formula),
        cmocka_unit_test(test_parts_equal_string),
        cmocka_unit_test(test_completion_pinned),
        cmocka_unit_test(test_completion_in_range_and_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
