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
#include "sim/sim_wire.h"

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
    assert_true(json_real_value(json_object_get(
                    json_object_get(json_object_get(sw, "quality"), "reasoning"), "rating")) ==
                4.5);
    json_decref(j);
    free(s);
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
        cmocka_unit_test(test_buf_growth),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
