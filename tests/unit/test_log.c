/* log: the JSON line sy_log() writes to stderr, captured through a temporary file.
 * Pins the key=value splitting: numbers bare, words quoted, and a value with spaces
 * (a strerror() reason) kept whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "tests/unit/capture.h"

/* The line from its "level" on (the timestamp varies). */
static const char *end_capture_line(void)
{
    const char *p = strstr(end_capture(), ",\"level\"");
    assert_non_null(p);
    return p;
}

static void test_pairs_without_spaces(void **state)
{
    (void)state;
    begin_capture();
    sy_log(SY_INFO, "listening", "host=%s port=%d ratio=%.1f ok=%s neg=%d", "127.0.0.1", 8080, 0.5,
           "true", -3);
    assert_string_equal(end_capture_line(),
                        ",\"level\":\"info\",\"msg\":\"listening\",\"host\":\"127.0.0.1\","
                        "\"port\":8080,\"ratio\":0.5,\"ok\":true,\"neg\":-3}\n");
}

static void test_reason_with_spaces_stays_whole(void **state)
{
    (void)state;
    begin_capture();
    sy_log(SY_ERROR, "cannot start a worker", "reason=%s", strerror(ECONNREFUSED));
    assert_string_equal(end_capture_line(), ",\"level\":\"error\",\"msg\":\"cannot start a worker\","
                                       "\"reason\":\"Connection refused\"}\n");

    begin_capture();
    sy_log(SY_ERROR, "cannot resolve listen address", "host=%s reason=%s port=%d", "*",
           "Name or service not known", 80);
    assert_string_equal(end_capture_line(),
                        ",\"level\":\"error\",\"msg\":\"cannot resolve listen address\","
                        "\"host\":\"*\",\"reason\":\"Name or service not known\",\"port\":80}\n");
}

static void test_value_that_looks_like_pairs(void **state)
{
    (void)state;
    /* a formatted value is one value, even with spaces, '=' or a leading space */
    begin_capture();
    sy_log(SY_WARN, "odd", "why=%s n=%d", " a=1 b", 2);
    assert_string_equal(end_capture_line(), ",\"level\":\"warn\",\"msg\":\"odd\",\"why\":\" a=1 b\","
                                       "\"n\":2}\n");
}

static void test_format_spacing(void **state)
{
    (void)state;
    /* spaces in the format separate pairs, however many; a space flag is not one */
    begin_capture();
    sy_log(SY_INFO, "spacing", " a=%d  b=% d c=%%s ", 1, 2);
    assert_string_equal(end_capture_line(), ",\"level\":\"info\",\"msg\":\"spacing\",\"a\":1,"
                                       "\"b\":\" 2\",\"c\":\"%s\"}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_without_spaces),
        cmocka_unit_test(test_reason_with_spaces_stays_whole),
        cmocka_unit_test(test_value_that_looks_like_pairs),
        cmocka_unit_test(test_format_spacing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
