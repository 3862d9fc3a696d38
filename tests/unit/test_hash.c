/* common/hash.h and common/hex.h: pinned values, including the forms of the callers
 * that still carry their own copy, so switching them changes no value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/hash.h"
#include "common/hex.h"

static void test_fnv1a64_vectors(void **state)
{
    (void)state;
    /* the published FNV-1a 64 test vectors */
    assert_true(sy_fnv1a64(SY_FNV1A64_OFFSET, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(sy_fnv1a64(SY_FNV1A64_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(sy_fnv1a64(SY_FNV1A64_OFFSET, "foobar", 6) == 0x85944171f73967e8ULL);
    assert_true(sy_fnv1a64_str(SY_FNV1A64_OFFSET, "foobar") == 0x85944171f73967e8ULL);
    /* continuing from h is hashing the concatenation */
    assert_true(sy_fnv1a64(sy_fnv1a64(SY_FNV1A64_OFFSET, "foo", 3), "bar", 3) ==
                0x85944171f73967e8ULL);
}

static void test_mix64(void **state)
{
    (void)state;
    /* splitmix64's first output from seed 0 and from seed 1 (computed in Python) */
    assert_true(sy_mix64(0) == 0xe220a8397b1dcdafULL);
    assert_true(sy_mix64(1) == 0x910a2dec89025cc1ULL);
}

/* The router's batch key maps (router/feedback.c key_hash(), feedback_parse.c fnv())
 * hash a, a 0xff byte, then b when there is one; values computed in Python. */
static uint64_t pair_hash(const char *a, const char *b)
{
    uint64_t h = sy_fnv1a64(sy_fnv1a64_str(SY_FNV1A64_OFFSET, a), "\xff", 1);
    return b ? sy_fnv1a64_str(h, b) : h;
}

static void test_pair_hash_form(void **state)
{
    (void)state;
    assert_true(pair_hash("", NULL) == 0xaf64724c8602eb6eULL);
    assert_true(pair_hash("req-123", NULL) == 0x58bdb4c6de6a68f3ULL);
    assert_true(pair_hash("req-123", "") == 0x58bdb4c6de6a68f3ULL);
    assert_true(pair_hash("req-123", "alice") == 0xb14af81a8ecdeab5ULL);
    assert_true(pair_hash("fb-1", "x") == 0xbf8e0a5eca9c0278ULL);
}

static void test_hex_val(void **state)
{
    (void)state;
    static const char digits[] = "0123456789abcdef", upper[] = "ABCDEF";
    int want[256];
    for (int c = 0; c < 256; c++)
        want[c] = -1;
    for (int i = 0; i < 16; i++)
        want[(unsigned char)digits[i]] = i;
    for (int i = 0; i < 6; i++)
        want[(unsigned char)upper[i]] = 10 + i;
    for (int c = 0; c < 256; c++)
        assert_int_equal(sy_hex_val(c), want[c]);
    assert_int_equal(sy_hex_val(-1), -1); /* EOF */
    assert_int_equal(sy_hex_val((char)0xc1), -1); /* a signed char */
}

static void test_hex_fixed(void **state)
{
    char buf[20], want[20];
    (void)state;
    memset(buf, 'X', sizeof(buf));
    sy_hex_fixed(buf, 0xabcULL, 8);
    assert_memory_equal(buf, "00000abcX", 9);
    sy_hex_fixed(buf, 0x0123456789abcdefULL, 16);
    assert_memory_equal(buf, "0123456789abcdefX", 17);
    sy_hex_fixed(buf, 0x0123456789abcdefULL, 3); /* the low digits only */
    assert_memory_equal(buf, "def", 3);
    sy_hex_fixed(buf, 0, 1);
    assert_memory_equal(buf, "0", 1);
    /* "%016llx" for spread values, leading zeros included */
    for (uint64_t i = 0; i < 10000; i++) {
        uint64_t v = sy_mix64(i) >> (i % 64);
        snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
        sy_hex_fixed(buf, v, 16);
        assert_memory_equal(buf, want, 16);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_vectors),
        cmocka_unit_test(test_mix64),
        cmocka_unit_test(test_pair_hash_form),
        cmocka_unit_test(test_hex_val),
        cmocka_unit_test(test_hex_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
