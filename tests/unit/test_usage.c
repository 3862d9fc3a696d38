/* router/usage.c: token counts from a provider's answer, the fast path's exact
 * values and refusals, and the fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router/usage.h"

static void simple_ok(const char *text, long long want_p, long long want_c)
{
    long long p = -99, c = -99;
    if (rt_usage_parse_simple(text, strlen(text), &p, &c) != 0)
        fail_msg("refused: %s", text);
    assert_int_equal(p, want_p);
    assert_int_equal(c, want_c);
}

static void simple_refused(const char *text)
{
    long long p = -99, c = -99;
    if (rt_usage_parse_simple(text, strlen(text), &p, &c) == 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(p, -99); /* untouched */
    assert_int_equal(c, -99);
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
    long in = -1, out = -1;
    rt_usage_from(body, strlen(body), &in, &out);
    assert_int_equal(in, want_in);
    assert_int_equal(out, want_out);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_simple_refused),
        cmocka_unit_test(test_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
