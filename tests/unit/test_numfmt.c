/* numfmt: integers and fixed-point numbers without printf, pinned values and the
 * same bytes as glibc's printf over many doubles (ties, tiny, large, negative). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/numfmt.h"

static const char *fixed(double v, int d)
{
    static char buf[SY_FMT_FIXED_MAX + 1];
    size_t n = sy_fmt_fixed(buf, v, d);
    assert_true(n <= SY_FMT_FIXED_MAX);
    buf[n] = '\0';
    return buf;
}

static const char *i64(int64_t v)
{
    static char buf[SY_FMT_INT_MAX + 1];
    size_t n = sy_fmt_i64(buf, v);
    assert_true(n <= SY_FMT_INT_MAX);
    buf[n] = '\0';
    return buf;
}

static void test_integers(void **state)
{
    char buf[SY_FMT_INT_MAX + 1];
    (void)state;
    assert_string_equal(i64(0), "0");
    assert_string_equal(i64(7), "7");
    assert_string_equal(i64(-7), "-7");
    assert_string_equal(i64(1764300000123456LL), "1764300000123456");
    assert_string_equal(i64(INT64_MAX), "9223372036854775807");
    assert_string_equal(i64(INT64_MIN), "-9223372036854775808");
    buf[sy_fmt_u64(buf, UINT64_MAX)] = '\0';
    assert_string_equal(buf, "18446744073709551615");
    /* every digit count and each power of ten's neighbours, against printf */
    for (uint64_t p = 1, i = 0; i < 20; i++, p *= 10)
        for (uint64_t v = p > 2 ? p - 2 : 0; v <= p + 2 && v >= (p > 2 ? p - 2 : 0); v++) {
            char want[32];
            snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
            buf[sy_fmt_u64(buf, v)] = '\0';
            assert_string_equal(buf, want);
        }
    for (uint64_t v = 0; v < 100000; v += 7) {
        char want[32];
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v * 2654435761u);
        buf[sy_fmt_u64(buf, v * 2654435761u)] = '\0';
        assert_string_equal(buf, want);
    }
    buf[sy_fmt_hex(buf, 0)] = '\0';
    assert_string_equal(buf, "0");
    buf[sy_fmt_hex(buf, 0x00ab12ULL)] = '\0';
    assert_string_equal(buf, "ab12");
    buf[sy_fmt_hex(buf, UINT64_MAX)] = '\0';
    assert_string_equal(buf, "ffffffffffffffff");
}

static void test_fixed_pinned(void **state)
{
    (void)state;
    assert_string_equal(fixed(0, 4), "0.0000");
    assert_string_equal(fixed(-0.0, 4), "-0.0000");
    assert_string_equal(fixed(1, 0), "1");
    assert_string_equal(fixed(0.5, 0), "0");   /* tie: to even */
    assert_string_equal(fixed(1.5, 0), "2");
    assert_string_equal(fixed(2.5, 0), "2");
    assert_string_equal(fixed(0.125, 2), "0.12");
    assert_string_equal(fixed(0.375, 2), "0.38");
    assert_string_equal(fixed(-0.125, 2), "-0.12");
    assert_string_equal(fixed(-0.00001, 4), "-0.0000");
    assert_string_equal(fixed(0.87654321, 4), "0.8765");
    assert_string_equal(fixed(0.99996, 4), "1.0000");
    /* 0.1 is 0.1000000000000000055511151231257827...: not a tie */
    assert_string_equal(fixed(0.1, 10), "0.1000000000");
    assert_string_equal(fixed(0.000245, 10), "0.0002450000");
    assert_string_equal(fixed(1e-11, 10), "0.0000000000");
    assert_string_equal(fixed(6e-11, 10), "0.0000000001");
    assert_string_equal(fixed(5e-324, 10), "0.0000000000");
    assert_string_equal(fixed(123456.789, 10), "123456.7890000000");
    assert_string_equal(fixed(1844674407.3709551, 10), "1844674407.3709549904"); /* < 2^64 / 10^10 */
    /* out of range: nothing written, the caller falls back to snprintf */
    char buf[SY_FMT_FIXED_MAX];
    assert_int_equal(sy_fmt_fixed(buf, NAN, 4), 0);
    assert_int_equal(sy_fmt_fixed(buf, INFINITY, 4), 0);
    assert_int_equal(sy_fmt_fixed(buf, -INFINITY, 4), 0);
    assert_int_equal(sy_fmt_fixed(buf, 1.0, 11), 0);
    assert_int_equal(sy_fmt_fixed(buf, 1.0, -1), 0);
    assert_int_equal(sy_fmt_fixed(buf, 1844674407.3709552, 10), 0); /* >= 2^64 / 10^10 */
    assert_int_equal(sy_fmt_fixed(buf, 1e300, 0), 0);
    assert_int_equal(sy_fmt_fixed(buf, 18446744073709549568.0, 0), 20); /* 2^64 - 2048 */
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void same_as_printf(double v, int d, int *checked)
{
    char want[512], got[SY_FMT_FIXED_MAX + 1];
    size_t n = sy_fmt_fixed(got, v, d);
    if (n == 0)
        return;
    got[n] = '\0';
    snprintf(want, sizeof(want), "%.*f", d, v);
    if (strcmp(want, got))
        fail_msg("%.17g with %d decimals: printf \"%s\", sy_fmt_fixed \"%s\"", v, d, want, got);
    (*checked)++;
}

static void test_fixed_matches_printf(void **state)
{
    int checked = 0;
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next();
        int d = (int)(r % 11);
        double v;
        switch (i % 5) {
        case 0: /* costs: a few dollars down to fractions of a cent */
            v = (double)(next() >> 11) / 9007199254740992.0 * pow(10, (int)(r >> 8) % 8 - 6);
            break;
        case 1: /* confidences */
            v = (double)(next() >> 11) / 9007199254740992.0;
            break;
        case 2: /* exact ties at the last printed digit: k / 2 / 10^d when representable */
            v = ((double)(next() % 2000001) + 0.5) / pow(10, d % 4);
            break;
        case 3: /* dyadic fractions: many exact ties */
            v = (double)(next() % 100000) / (double)(1u << (next() % 20));
            break;
        default: /* any bit pattern in range (negative, tiny, subnormal, huge) */
            memcpy(&v, &r, sizeof(v));
            break;
        }
        if (r & (1ULL << 40))
            v = -v;
        same_as_printf(v, d, &checked);
    }
    /* every case but the out-of-range bit patterns was compared */
    assert_true(checked > 150000);
}

static void test_g17_matches_printf(void **state)
{
    int checked = 0;
    char want[64], got[32];
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next();
        double v;
        switch (i % 4) {
        case 0: /* costs */
            v = (double)(next() >> 11) / 9007199254740992.0 * pow(10, (int)(r >> 8) % 8 - 6);
            break;
        case 1: /* integers and halves */
            v = (double)(next() % 100000000) / 2.0;
            break;
        case 2: /* any magnitude the fast path claims */
            v = (double)(next() >> 11) / 9007199254740992.0 * pow(10, (int)(r >> 8) % 34 - 16);
            break;
        default: /* any bit pattern */
            memcpy(&v, &r, sizeof(v));
            break;
        }
        if (r & (1ULL << 40))
            v = -v;
        size_t n = sy_fmt_g17(got, v);
        if (n == 0)
            continue;
        got[n] = '\0';
        snprintf(want, sizeof(want), "%.17g", v);
        if (strcmp(want, got))
            fail_msg("printf \"%s\", sy_fmt_g17 \"%s\"", want, got);
        checked++;
    }
    /* all but the bit patterns and the magnitudes outside [1e-16, 1e17) were compared */
    assert_true(checked > 120000);
    assert_int_equal(sy_fmt_g17(got, 0.0), 0);
    assert_int_equal(sy_fmt_g17(got, NAN), 0);
    assert_int_equal(sy_fmt_g17(got, 1e300), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_fixed_pinned),
        cmocka_unit_test(test_fixed_matches_printf),
        cmocka_unit_test(test_g17_matches_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
