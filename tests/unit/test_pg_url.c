/* common/pg.c: multi-host PostgreSQL URLs (a primary and its standbys) are accepted and
 * redacted like single-host ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/pg.h"

static void test_multi_host_urls_are_accepted(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(sy_pg_check_url("postgresql://sy@10.0.0.1:5432,10.0.0.2:5433/switchyard"
                                     "?target_session_attrs=read-write",
                                     err, sizeof(err)),
                     0);
    assert_int_equal(sy_pg_check_url("postgres://db1,db2,db3/sy?target_session_attrs=primary",
                                     err, sizeof(err)),
                     0);
    assert_int_equal(sy_pg_check_url("postgresql://h1,h2/db?target_session_attrs=sometimes",
                                     err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid target_session_attrs \"sometimes\" (any, read-write, "
                             "read-only, primary, standby or prefer-standby)");
    /* a reason quoting the URL is one line, whatever the URL holds (found by fuzz_pgurl) */
    assert_int_equal(sy_pg_check_url("pg\nurl", err, sizeof(err)), -1);
    assert_string_equal(err, "not a postgresql:// URL: \"pg; url\"");
    assert_int_equal(
        sy_pg_check_url("postgresql://h/db?target_session_attrs=a%0Ab", err, sizeof(err)), -1);
    assert_string_equal(err, "invalid target_session_attrs \"a; b\" (any, read-write, "
                             "read-only, primary, standby or prefer-standby)");
}

static void test_multi_host_urls_are_redacted(void **state)
{
    (void)state;
    char out[256];
    sy_pg_redact_url("postgresql://sy:s3cret@h1:5432,h2:5433/db?target_session_attrs=read-write",
                     out, sizeof(out));
    assert_string_equal(out,
                        "postgresql://sy:***@h1:5432,h2:5433/db?target_session_attrs=read-write");
    sy_pg_redact_url("postgresql://sy@h1:5432,h2:5433/db", out, sizeof(out));
    assert_string_equal(out, "postgresql://sy@h1:5432,h2:5433/db");
    sy_pg_redact_url("postgresql://h1:5432,h2:5433/db", out, sizeof(out));
    assert_string_equal(out, "postgresql://h1:5432,h2:5433/db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_host_urls_are_accepted),
        cmocka_unit_test(test_multi_host_urls_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
