/* ingest/store.c: which SQLSTATEs say "the data was refused" (bisected, dead-lettered)
 * and which are the connection's or the server's (a fresh session, the same batch again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest/store.h"

static void test_permanent_sqlstates(void **state)
{
    (void)state;
    assert_int_equal(ing_store_permanent_sqlstate("22P02"), 1); /* invalid_text_representation */
    assert_int_equal(ing_store_permanent_sqlstate("23502"), 1); /* not_null_violation */
    assert_int_equal(ing_store_permanent_sqlstate("21000"), 1); /* cardinality_violation */
    assert_int_equal(ing_store_permanent_sqlstate("P0001"), 1); /* raise_exception */
}

static void test_failover_sqlstates_are_retried(void **state)
{
    (void)state;
    /* a standby, or a primary being demoted: never a poison event */
    assert_int_equal(ing_store_permanent_sqlstate("25006"), 0); /* read_only_sql_transaction */
    assert_int_equal(ing_store_permanent_sqlstate("57P01"), 0); /* admin_shutdown */
    assert_int_equal(ing_store_permanent_sqlstate("57P03"), 0); /* cannot_connect_now */
    assert_int_equal(ing_store_permanent_sqlstate("08006"), 0); /* connection_failure */
    assert_int_equal(ing_store_permanent_sqlstate("40001"), 0); /* serialization_failure */
    assert_int_equal(ing_store_permanent_sqlstate("53300"), 0); /* too_many_connections */
    assert_int_equal(ing_store_permanent_sqlstate(""), 0);      /* none: libpq's own error */
    assert_int_equal(ing_store_permanent_sqlstate(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permanent_sqlstates),
        cmocka_unit_test(test_failover_sqlstates_are_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
