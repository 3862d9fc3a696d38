/* router/redis.c formats the router's Redis commands as RESP itself (a stack buffer,
 * no allocation); hiredis's redisFormatCommandArgv is the fallback for longer ones.
 * Both must write the same bytes: empty and binary arguments, the user record's own
 * commands, many arguments, arguments longer than the stack buffer, the exact edge
 * of the buffer, and a deterministic pseudo-random set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "router/redis.h"

#define BIG (1u << 16)

/* Formats argv both ways into a large buffer and compares byte for byte; then at the
 * stack buffer's size, where the result is either the same bytes or 0 with the buffer
 * untouched. Returns the length at RT_REDIS_CMD_MAX (0: send_argv uses hiredis). */
static size_t same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    char *ref = NULL;
    int rl = redisFormatCommandArgv(&ref, argc, argv, lens);
    assert_true(rl > 0);
    assert_non_null(ref);

    char *big = malloc(BIG);
    assert_non_null(big);
    size_t n = rt_redis_format_argv(big, BIG, argc, argv, lens);
    assert_int_equal(n, (size_t)rl);
    assert_memory_equal(big, ref, n);

    char stack[RT_REDIS_CMD_MAX];
    memset(stack, 0x5a, sizeof(stack));
    size_t sn = rt_redis_format_argv(stack, sizeof(stack), argc, argv, lens);
    if (sn) {
        assert_int_equal(sn, (size_t)rl);
        assert_memory_equal(stack, ref, sn);
    } else {
        for (size_t i = 0; i < sizeof(stack); i++)
            assert_int_equal((unsigned char)stack[i], 0x5a);
    }
    free(big);
    redisFreeCommand(ref);
    return sn;
}

static void test_pinned(void **state)
{
    (void)state;
    char buf[76]; /* the bound: 23 + (25 + 3) + (25 + 0) */
    const char *a[] = {"GET", ""};
    const size_t l[] = {3, 0};
    assert_int_equal(rt_redis_format_argv(buf, sizeof(buf) - 1, 2, a, l), 0);
    size_t n = rt_redis_format_argv(buf, sizeof(buf), 2, a, l);
    assert_int_equal(n, 19);
    assert_memory_equal(buf, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", 19);
    assert_int_equal(same_as_hiredis(2, a, l), 19);
}

static void test_empty_and_binary(void **state)
{
    (void)state;
    /* no argument at all */
    assert_int_equal(same_as_hiredis(0, NULL, NULL), 4);

    const char *e[] = {"", "", ""};
    const size_t el[] = {0, 0, 0};
    assert_true(same_as_hiredis(1, e, el) > 0);
    assert_true(same_as_hiredis(3, e, el) > 0);

    /* RESP's own bytes and NULs inside arguments are counted, not interpreted */
    const char *b[] = {"SET", "k\0\r\n", "*1\r\n$0\r\n\0\0"};
    const size_t bl[] = {3, 4, 10};
    assert_true(same_as_hiredis(3, b, bl) > 0);

    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    const char *c[] = {"HSET", all, all + 128, all};
    const size_t cl[] = {4, 256, 128, 1};
    assert_true(same_as_hiredis(4, c, cl) > 0);
}

/* The four commands rt_redis_record_user sends, with realistic values. */
static void test_user_record(void **state)
{
    (void)state;
    const char *ukey = "sy:{exp-2026}:u:0123456789abcdef0123456789abcdef";
    const char *seen = "seen:canary:2500:code";
    const char *ts = "1764300000123456";
    const char *a1[] = {"HSETNX", ukey, seen, ts};
    const size_t l1[] = {6, strlen(ukey), strlen(seen), strlen(ts)};
    assert_true(same_as_hiredis(4, a1, l1) > 0);
    const char *a3[] = {"HSET", ukey, "bucket", "9999", "cohort", "treatment", "last_seen_us", ts};
    const size_t l3[] = {4, strlen(ukey), 6, 4, 6, 9, 12, strlen(ts)};
    assert_true(same_as_hiredis(8, a3, l3) > 0);
    const char *a4[] = {"PEXPIRE", ukey, "2592000000"};
    const size_t l4[] = {7, strlen(ukey), 10};
    assert_true(same_as_hiredis(3, a4, l4) > 0);
}

static void test_long_and_many(void **state)
{
    (void)state;
    /* one argument longer than the stack buffer: hiredis's path, same bytes at 64 KiB */
    char *lng = malloc(5000);
    assert_non_null(lng);
    for (int i = 0; i < 5000; i++)
        lng[i] = (char)('a' + i % 26);
    const char *a[] = {"SET", "k", lng};
    const size_t l[] = {3, 1, 5000};
    assert_int_equal(same_as_hiredis(3, a, l), 0);

    /* the edge: the bound is 23 bytes for the count and 25 + length per argument */
    const char *one[] = {lng};
    size_t fit = RT_REDIS_CMD_MAX - 23 - 25;
    size_t l1[] = {fit};
    assert_int_equal(same_as_hiredis(1, one, l1), 1 + 1 + 2 + 1 + 3 + 2 + fit + 2);
    l1[0] = fit + 1;
    assert_int_equal(same_as_hiredis(1, one, l1), 0);

    /* many short arguments: 30 fit the stack buffer, 200 do not */
    const char *m[200];
    size_t ml[200];
    for (int i = 0; i < 200; i++) {
        m[i] = lng + i;
        ml[i] = (size_t)(i % 7);
    }
    assert_true(same_as_hiredis(30, m, ml) > 0);
    assert_int_equal(same_as_hiredis(200, m, ml), 0);
    free(lng);
}

static uint32_t next(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*x >> 33);
}

static void test_random(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    static char bytes[4096];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (char)next(&x);
    int stack = 0, fallback = 0;
    for (int round = 0; round < 2000; round++) {
        const char *a[64];
        size_t l[64];
        int argc = (int)(next(&x) % 64);
        for (int i = 0; i < argc; i++) {
            size_t max = next(&x) % 4 ? 40 : 1200;
            l[i] = next(&x) % max;
            a[i] = bytes + next(&x) % (sizeof(bytes) - l[i]);
        }
        if (same_as_hiredis(argc, argc ? a : NULL, argc ? l : NULL))
            stack++;
        else
            fallback++;
    }
    /* both paths were exercised */
    assert_true(stack > 100);
    assert_true(fallback > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_empty_and_binary),
        cmocka_unit_test(test_user_record),
        cmocka_unit_test(test_long_and_many),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
