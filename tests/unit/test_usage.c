/* router/usage.c: token counts from a provider's answer, the fast path's exact
 * values and refusals, and the fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router/usage.h"

static void simple_ok3(const char *text, long long want_p, long long want_c, long long want_k)
{
    long long p = -99, c = -99, k = -99;
    if (rt_usage_parse_simple(text, strlen(text), &p, &c, &k) != 0)
        fail_msg("refused: %s", text);
    assert_int_equal(p, want_p);
    assert_int_equal(c, want_c);
    assert_int_equal(k, want_k);
}

static void simple_ok(const char *text, long long want_p, long long want_c)
{
    simple_ok3(text, want_p, want_c, 0);
}

static void simple_refused(const char *text)
{
    long long p = -99, c = -99, k = -99;
    if (rt_usage_parse_simple(text, strlen(text), &p, &c, &k) == 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(p, -99); /* untouched */
    assert_int_equal(c, -99);
    assert_int_equal(k, -99);
}

static void test_simple(void **state)
{
    (void)state;
    simple_ok("{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21}", 9, 12);
    simple_ok(" {\n \"completion_tokens\" : 7 ,\t\"prompt_tokens\":0 }\r\n", 0, 7);
    simple_ok("{}", 0, 0);
    simple_ok("{\"prompt_tokens\":5}", 5, 0);
    /* nested details objects: their members are not the root's */
    simple_ok("{\"prompt_tokens\":10,\"prompt_tokens_details\":{\"prompt_tokens\":3,"
              "\"cached_tokens\":0,\"x\":{}},\"completion_tokens\":4,"
              "\"completion_tokens_details\":{\"completion_tokens\":1,\"reasoning_tokens\":null}}",
              10, 4);
    /* the last duplicate wins; a non-integer counts 0 */
    simple_ok("{\"prompt_tokens\":5,\"prompt_tokens\":6}", 6, 0);
    simple_ok("{\"prompt_tokens\":5,\"prompt_tokens\":null,\"completion_tokens\":true}", 0, 0);
    simple_ok("{\"prompt_tokens\":{\"a\":1},\"completion_tokens\":false}", 0, 0);
    simple_ok("{\"prompt_tokens\":-0,\"completion_tokens\":-12}", 0, -12);
    simple_ok("{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":-9223372036854775808}",
              INT64_MAX, INT64_MIN);
    simple_ok("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":1}}}}}},\"prompt_tokens\":2}", 2, 0);
    /* cached prompt tokens: prompt_tokens_details.cached_tokens, nowhere else */
    simple_ok3("{\"prompt_tokens\":2048,\"completion_tokens\":9,"
               "\"prompt_tokens_details\":{\"cached_tokens\":1920,\"audio_tokens\":0}}",
               2048, 9, 1920);
    simple_ok3("{\"cached_tokens\":5,\"x\":{\"cached_tokens\":6}}", 0, 0, 0);
    simple_ok3("{\"prompt_tokens_details\":{\"cached_tokens\":6},\"prompt_tokens_details\":null}",
               0, 0, 0); /* the last duplicate wins */
    simple_ok3("{\"prompt_tokens_details\":{\"cached_tokens\":true}}", 0, 0, 0);
    simple_ok3("{\"prompt_tokens_details\":{\"cached_tokens\":1,\"cached_tokens\":3}}", 0, 0, 3);
}

static void test_simple_refused(void **state)
{
    (void)state;
    simple_refused("");
    simple_refused("[]");
    simple_refused("1");
    simple_refused("{\"prompt_tokens\":1.0}");     /* a real: jansson's job */
    simple_refused("{\"prompt_tokens\":1e3}");
    simple_refused("{\"prompt_tokens\":01}");
    simple_refused("{\"prompt_tokens\":-}");
    simple_refused("{\"prompt_tokens\":9223372036854775808}");
    simple_refused("{\"prompt_tokens\":-9223372036854775809}");
    simple_refused("{\"prompt_tokens\":\"5\"}");   /* strings */
    simple_refused("{\"prompt_tokens\":[5]}");     /* arrays */
    simple_refused("{\"prompt\\u005ftokens\":5}"); /* escaped key */
    simple_refused("{\"\xc3\xa9\":5}");            /* UTF-8 key */
    simple_refused("{\"prompt_tokens\":5,}");
    simple_refused("{\"prompt_tokens\" 5}");
    simple_refused("{\"prompt_tokens\":5");
    simple_refused("{\"prompt_tokens\":5}}");
    simple_refused("{\"prompt_tokens\":5} x");
    simple_refused("{\"prompt_tokens\":nul}");
    simple_refused("{\"prompt_tokens\":5 6}");
    simple_ok("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}", 0, 0); /* 8 deep */
    simple_refused("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}"); /* 9 */
}

static void from(const char *body, long want_in, long want_out)
{
    exp_usage u = {-1, -1, -1, -1};
    rt_usage_read(body, strlen(body), &u);
    assert_int_equal(u.in, want_in);
    assert_int_equal(u.out, want_out);
    assert_int_equal(u.cached, want_in == -1 ? -1 : 0);
}

static void test_from(void **state)
{
    (void)state;
    from("{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"\\\"usage\\\":{}\"}}],"
         "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33}}",
         11, 22);
    /* a nested "usage" is not the root's; no root usage: untouched */
    from("{\"choices\":[{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}]}", -1, -1);
    /* the usage object parsed by jansson (a real, a string) */
    from("{\"usage\":{\"prompt_tokens\":3.5,\"completion_tokens\":4,\"note\":\"\xc3\xa9\"}}", 0, 4);
    /* usage first, then more than 4 KiB: found by the whole parse */
    char big[6000];
    int n = snprintf(big, sizeof(big), "{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":8},"
                                        "\"pad\":\"");
    memset(big + n, 'a', 5000);
    strcpy(big + n + 5000, "\"}");
    from(big, 7, 8);
    from("not json", -1, -1);
    /* cached tokens, from the fast path and from jansson */
    exp_usage u = {-1, -1, -1, -1};
    const char *b = "{\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":3,"
                    "\"prompt_tokens_details\":{\"cached_tokens\":1280}}}";
    rt_usage_read(b, strlen(b), &u);
    assert_int_equal(u.in, 1500);
    assert_int_equal(u.cached, 1280);
    assert_int_equal(u.cache_write, 0);
    u = (exp_usage){-1, -1, -1, -1};
    b = "{\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":3.0,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1024}}}";
    rt_usage_read(b, strlen(b), &u);
    assert_int_equal(u.in, 1500);
    assert_int_equal(u.out, 0);
    assert_int_equal(u.cached, 1024);
}

static void test_cost(void **state)
{
    (void)state;
    exp_model m = {.input_usd_per_mtok = 3, .output_usd_per_mtok = 15,
                   .cached_input_usd_per_mtok = 0.3, .cache_write_usd_per_mtok = 3.75};
    exp_usage u = {.in = 2000, .out = 100, .cached = 1000, .cache_write = 500};
    /* 500 plain at 3, 1000 cached at 0.3, 500 written at 3.75, 100 out at 15 */
    assert_true(fabs(exp_usage_cost(&m, &u) - (1500 + 300 + 1875 + 1500) / 1e6) < 1e-15);
    u = (exp_usage){.in = 10, .out = 0, .cached = 50}; /* counts that do not add up */
    assert_true(fabs(exp_usage_cost(&m, &u) - 50 * 0.3 / 1e6) < 1e-15);
    u = (exp_usage){.in = 1000, .out = 10};
    assert_true(fabs(exp_usage_cost(&m, &u) - exp_model_cost(&m, 1000, 10)) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_simple_refused),
        cmocka_unit_test(test_from),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
