/* rt_parse_switch_master: the +switch-master payload Sentinel publishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "router/sentinel_watch.h"

static void test_ours(void **state)
{
    (void)state;
    char host[256];
    int port = 0;
    assert_int_equal(rt_parse_switch_master("mymaster 127.0.0.1 6379 10.0.0.2 6380", "mymaster",
                                            host, sizeof(host), &port), 0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 6380);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "other 127.0.0.1 6379 10.0.0.2 6380",        /* another master */
        "mymasterx 127.0.0.1 6379 10.0.0.2 6380",    /* a longer name */
        "mymaster 127.0.0.1 6379 10.0.0.2",          /* no new port */
        "mymaster 127.0.0.1 6379 10.0.0.2 0",        /* port out of range */
        "mymaster 127.0.0.1 6379 10.0.0.2 65536",
        "mymaster 127.0.0.1 6379 10.0.0.2 6380 x",   /* trailing junk */
        "mymaster 127.0.0.1 6379 10.0.0.2 63x",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[256] = "unchanged";
        int port = 7;
        assert_int_equal(rt_parse_switch_master(bad[i], "mymaster", host, sizeof(host), &port), -1);
        assert_string_equal(host, "unchanged");
        assert_int_equal(port, 7);
    }
    char small[4];
    int port;
    assert_int_equal(rt_parse_switch_master("mymaster a 1 10.0.0.2 6380", "mymaster", small,
                                            sizeof(small), &port), -1);
    assert_int_equal(rt_parse_switch_master(NULL, "mymaster", small, sizeof(small), &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ours),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
