/* router/reqbody.c: where the root "model" value is, when splicing is refused,
 * and the exact spliced bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "router/reqbody.h"

/* the spliced body as a string, or NULL when splicing is refused */
static char *splice(const char *body, const char *model, size_t *members)
{
    rt_body_span sp;
    if (rt_body_find_model(body, strlen(body), &sp) != 0)
        return NULL;
    if (members)
        *members = sp.members;
    size_t need = rt_body_splice_model(body, strlen(body), &sp, model, NULL, 0);
    char *out = malloc(need + 1);
    assert_non_null(out);
    /* too small first: nothing past cap is written, the length is the same */
    out[need] = 'X';
    if (need > 0)
        assert_int_equal(rt_body_splice_model(body, strlen(body), &sp, model, out, need - 1), need);
    assert_int_equal(out[need], 'X');
    assert_int_equal(rt_body_splice_model(body, strlen(body), &sp, model, out, need), need);
    out[need] = '\0';
    return out;
}

static void expect(const char *body, const char *model, const char *want)
{
    char *got = splice(body, model, NULL);
    if (!got)
        fail_msg("refused: %s", body);
    assert_string_equal(got, want);
    free(got);
}

static void refused(const char *body)
{
    char *got = splice(body, "m", NULL);
    if (got)
        fail_msg("spliced %s into %s", body, got);
}

static void test_replace(void **state)
{
    (void)state;
    expect("{\"model\":\"gpt-4o\",\"messages\":[]}", "sim-instant",
           "{\"model\":\"sim-instant\",\"messages\":[]}");
    expect("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"x\"}", "y",
           "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"y\"}");
    /* whitespace kept; escapes inside the old value skipped */
    expect(" \r\n{ \"model\" :\t\"a\\\"b\\\\\" , \"n\": 1 }\n", "z",
           " \r\n{ \"model\" :\t\"z\" , \"n\": 1 }\n");
    /* a nested "model" is not the root's */
    expect("{\"tools\":[{\"model\":\"inner\"}],\"model\":\"outer\",\"x\":{\"model\":1}}", "new",
           "{\"tools\":[{\"model\":\"inner\"}],\"model\":\"new\",\"x\":{\"model\":1}}");
    /* a string value that reads "model", and brackets inside strings */
    expect("{\"a\":\"model\",\"b\":\"}]{[\",\"model\":\"m\"}", "q",
           "{\"a\":\"model\",\"b\":\"}]{[\",\"model\":\"q\"}");
    /* the new name escaped as jansson does */
    expect("{\"model\":\"m\"}", "a\"b\\c\n\x01/\xc3\xa9",
           "{\"model\":\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\"}");
}

static void test_insert(void **state)
{
    (void)state;
    expect("{\"messages\":[]}", "m", "{\"messages\":[],\"model\":\"m\"}");
    expect("  { }  ", "m", "  { \"model\":\"m\"}  ");
    expect("{}", "m", "{\"model\":\"m\"}");
    expect("{\"x\":{\"model\":\"inner\"} }", "m", "{\"x\":{\"model\":\"inner\"} ,\"model\":\"m\"}");
}

static void test_refused(void **state)
{
    (void)state;
    refused("");
    refused("   ");
    refused("[{\"model\":\"m\"}]");
    refused("\"model\"");
    refused("{\"model\":\"a\",\"model\":\"b\"}");   /* duplicate root model */
    refused("{\"mod\\u0065l\":\"a\"}");             /* escaped root key */
    refused("{\"a\\\"\":1,\"model\":\"a\"}");       /* any escaped root key */
    refused("{\"model\":null}");
    refused("{\"model\":1}");
    refused("{\"model\":\"unterminated}");
    refused("{\"model\":\"m\"");                    /* root not closed */
    refused("{\"model\":\"m\"}x");                  /* trailing bytes */
    refused("{\"model\":\"m\"}}");
    refused("{\"model\":\"m\"]");
    refused("{\"model\":");
    refused("{\"model\"");
    refused("{\"a\":\"b\\");
}

static void test_members(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"a\":{\"b\":{\"c\":[{\"d\":1},{\"e\":2,\"f\":\"x:y\"}]}},\"g\":[[],{}]}",
        "{\"a\":1,\"b\":{\"a\":2,\"a\":3}}", /* a nested duplicate: counts differ */
    };
    static const size_t want_scan[] = {0, 4, 7, 4};
    static const size_t want_tree[] = {0, 4, 7, 3};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        size_t members = 99;
        char *s = splice(bodies[i], "m", &members);
        assert_non_null(s);
        free(s);
        assert_int_equal(members, want_scan[i]);
        json_t *root = json_loads(bodies[i], 0, NULL);
        assert_non_null(root);
        assert_int_equal(rt_body_tree_members(root), want_tree[i]);
        json_decref(root);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
