#include "common/numfmt.h"

#include <math.h>
#include <string.h>

size_t sy_fmt_u64(char *out, uint64_t v)
{
    char tmp[SY_FMT_INT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t sy_fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return sy_fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + sy_fmt_u64(out + 1, 0 - (uint64_t)v); /* INT64_MIN too */
}

size_t sy_fmt_hex(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 0xf];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void sy_fmt_hex_fixed(char *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = hex[v & 0xf];
        v >>= 4;
    }
}

size_t sy_fmt_fixed(char *out, double v, int decimals)
{
    static const uint64_t pow5[] = {1,     5,      25,      125,      625,     3125,
                                    15625, 78125, 390625, 1953125, 9765625};
    static const uint64_t pow10[] = {1,       10,       100,       1000,       10000,     100000,
                                     1000000, 10000000, 100000000, 1000000000, 10000000000ULL};
    if (!isfinite(v) || decimals < 0 || decimals > 10)
        return 0;
    int neg = signbit(v) != 0;
    double a = fabs(v);
    /* a = m * 2^e exactly, m < 2^53 */
    int e = 0;
    uint64_t m = 0;
    if (a != 0) {
        double f = frexp(a, &e);
        m = (uint64_t)ldexp(f, 53);
        e -= 53;
    }
    /* n = round(a * 10^d) = round(m * 5^d * 2^(e + d)), ties to even, exactly */
    unsigned __int128 t = (unsigned __int128)m * pow5[decimals]; /* < 2^77 */
    int s = e + decimals;
    unsigned __int128 n;
    if (s >= 0) {
        if (s > 50)
            return 0;
        n = t << s;
    } else {
        int k = -s;
        if (k >= 78) {
            n = 0; /* below 2^-1: rounds to 0 */
        } else {
            unsigned __int128 one = 1;
            unsigned __int128 r = t & ((one << k) - 1), half = one << (k - 1);
            n = t >> k;
            if (r > half || (r == half && (n & 1)))
                n++;
        }
    }
    if (n >> 64)
        return 0;
    uint64_t whole = (uint64_t)n / pow10[decimals], frac = (uint64_t)n % pow10[decimals];
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    len += sy_fmt_u64(out + len, whole);
    if (decimals) {
        out[len++] = '.';
        for (int i = decimals - 1; i >= 0; i--) {
            out[len + (size_t)i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        len += (size_t)decimals;
    }
    return len;
}
