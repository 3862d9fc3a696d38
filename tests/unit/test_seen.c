/* router/seen.c: the "user recorded recently" cache. Expiry to the microsecond, four
 * keys of one set kept side by side, the one expiring first replaced by a fifth, sets
 * independent of each other, clear, and the benchmark's case: 4 000 users cycled, each
 * recorded exactly once (direct-mapped, ~1 in 10 was recorded on every pass). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router/seen.h"

#define T0 1700000000000000LL

/* a key in set `set` (the set comes from the high 32 bits) */
static uint64_t in_set(uint32_t set, uint32_t n) { return (uint64_t)set << 32 | (n << 1 | 1u); }

static void test_expiry(void **state)
{
    (void)state;
    rt_seen *s = rt_seen_new();
    assert_non_null(s);
    uint64_t k = 0x0123456789abcdefULL;
    assert_int_equal(rt_seen_check(s, k, T0), 0);
    assert_int_equal(rt_seen_check(s, k, T0 + 1), 1);
    assert_int_equal(rt_seen_check(s, k, T0 + RT_SEEN_US - 1), 1);
    assert_int_equal(rt_seen_check(s, k, T0 + RT_SEEN_US), 0); /* expired: remembered anew */
    assert_int_equal(rt_seen_check(s, k, T0 + RT_SEEN_US + 1), 1);
    assert_int_equal(rt_seen_check(s, k, T0 + 2 * RT_SEEN_US - 1), 1);
    assert_int_equal(rt_seen_check(s, k ^ 2, T0 + 1), 0); /* another key */
    rt_seen_clear(s);
    assert_int_equal(rt_seen_check(s, k, T0 + 2), 0);
    rt_seen_free(s);
}

static void test_one_set(void **state)
{
    (void)state;
    rt_seen *s = rt_seen_new();
    assert_non_null(s);
    _Static_assert(RT_SEEN_WAYS == 4, "this test fills a set of four");
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(rt_seen_check(s, in_set(7, i), T0 + i), 0);
    for (uint32_t i = 0; i < 4; i++) /* all four kept */
        assert_int_equal(rt_seen_check(s, in_set(7, i), T0 + 10), 1);
    /* a key of another set changes nothing here */
    assert_int_equal(rt_seen_check(s, in_set(8, 0), T0 + 11), 0);
    /* a fifth: replaces key 0, which expires first */
    assert_int_equal(rt_seen_check(s, in_set(7, 4), T0 + 20), 0);
    for (uint32_t i = 1; i < 5; i++)
        assert_int_equal(rt_seen_check(s, in_set(7, i), T0 + 21), 1);
    assert_int_equal(rt_seen_check(s, in_set(7, 0), T0 + 22), 0); /* now key 1 goes */
    assert_int_equal(rt_seen_check(s, in_set(7, 1), T0 + 23), 0);
    assert_int_equal(rt_seen_check(s, in_set(8, 0), T0 + 24), 1);
    /* an expired way is taken before the one expiring first */
    assert_int_equal(rt_seen_check(s, in_set(9, 0), T0), 0);
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(rt_seen_check(s, in_set(9, i), T0 + RT_SEEN_US / 2), 0);
    assert_int_equal(rt_seen_check(s, in_set(9, 4), T0 + RT_SEEN_US + 1), 0);
    for (uint32_t i = 1; i < 5; i++)
        assert_int_equal(rt_seen_check(s, in_set(9, i), T0 + RT_SEEN_US + 2), 1);
    rt_seen_free(s);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_users_cycled(void **state)
{
    (void)state;
    rt_seen *s = rt_seen_new();
    assert_non_null(s);
    enum { USERS = 4000, PASSES = 5 };
    int recorded = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        uint64_t x = 42;
        for (int u = 0; u < USERS; u++)
            recorded += !rt_seen_check(s, splitmix64(&x), T0 + pass * 1000000LL + u);
    }
    assert_int_equal(recorded, USERS);
    rt_seen_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_one_set),
        cmocka_unit_test(test_users_cycled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
