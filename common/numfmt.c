#include "common/numfmt.h"

#include <math.h>
#include <string.h>

/* Two digits a step from a table, written from the end: the RESP headers and event
 * fields format some 40 integers a request, most of them below 100. */
size_t sy_fmt_u64(char *out, uint64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    if (v < 10) {
        out[0] = (char)('0' + v);
        return 1;
    }
    size_t n = 2;
    for (uint64_t t = v / 100; t; t /= 10)
        n++;
    char *w = out + n;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--w = pairs[d + 1];
        *--w = pairs[d];
    }
    if (v >= 10) {
        *--w = pairs[v * 2 + 1];
        *--w = pairs[v * 2];
    } else
        *--w = (char)('0' + v);
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

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 sy_u128;

/* 5^k, k = 0..27 (5^27 < 2^63) */
static const uint64_t pow5[28] = {
    UINT64_C(1), UINT64_C(5), UINT64_C(25), UINT64_C(125), UINT64_C(625), UINT64_C(3125),
    UINT64_C(15625), UINT64_C(78125), UINT64_C(390625), UINT64_C(1953125),
    UINT64_C(9765625), UINT64_C(48828125), UINT64_C(244140625), UINT64_C(1220703125),
    UINT64_C(6103515625), UINT64_C(30517578125), UINT64_C(152587890625),
    UINT64_C(762939453125), UINT64_C(3814697265625), UINT64_C(19073486328125),
    UINT64_C(95367431640625), UINT64_C(476837158203125), UINT64_C(2384185791015625),
    UINT64_C(11920928955078125), UINT64_C(59604644775390625),
    UINT64_C(298023223876953125), UINT64_C(1490116119384765625),
    UINT64_C(7450580596923828125),
};

#define E16 UINT64_C(10000000000000000)
#define E17 UINT64_C(100000000000000000)

/*
 * printf("%.17g", d) for 1e-16 <= |d| < 1e17, exactly as glibc prints it: the 17
 * significant digits are d * 10^k rounded half to even, computed exactly in 128 bits
 * (d = m * 2^e with m < 2^53, and 5^k < 2^75 for k <= 32). Returns the length written
 * to o (at most 24 bytes), or 0 outside that range.
 */
size_t sy_fmt_g17(char *o, double d)
{
    uint64_t bits, m, n;
    int e2, e10, neg, len = 0;
    char dig[17];

    memcpy(&bits, &d, sizeof(bits));
    neg = (int)(bits >> 63);
    m = bits & ((UINT64_C(1) << 52) - 1);
    e2 = (int)(bits >> 52 & 0x7ff);
    if (e2 == 0 || e2 == 0x7ff)
        return 0; /* zero, subnormal, inf, nan: not in range or not worth it */
    m |= UINT64_C(1) << 52;
    e2 -= 1075;
    /* floor(log10(d)), or one less: log10(2^(e2+52)) <= log10(d) < log10(2^(e2+53)) */
    e10 = (int)floor((e2 + 52) * 0.30102999566398120);
    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - e10, sh = e2 + k;
        sy_u128 p, q;
        int up = 0;
        if (k < 0 || k > 32)
            return 0;
        p = (sy_u128)m * (k <= 27 ? pow5[k] : pow5[27]);
        if (k > 27)
            p *= pow5[k - 27];
        if (sh >= 0) {
            if (sh > 16)
                return 0; /* cannot happen for d < 1e17 */
            q = p << sh;
        } else {
            int s = -sh;
            if (s >= 128)
                return 0;
            sy_u128 half = (sy_u128)1 << (s - 1), r = p & (((sy_u128)1 << s) - 1);
            q = p >> s;
            up = r > half || (r == half && (q & 1));
        }
        if (q < E16) {
            e10--;
            continue;
        }
        if (q >= E17) {
            e10++;
            continue;
        }
        n = (uint64_t)q + (uint64_t)up;
        if (n == E17) {
            n = E16;
            e10++;
        }
        goto format;
    }
    return 0;

format:
    for (int i = 16; i >= 0; i--) {
        dig[i] = (char)('0' + n % 10);
        n /= 10;
    }
    int nd = 17;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (neg)
        o[len++] = '-';
    if (e10 < -4 || e10 >= 17) {
        o[len++] = dig[0];
        if (nd > 1) {
            o[len++] = '.';
            memcpy(o + len, dig + 1, (size_t)nd - 1);
            len += nd - 1;
        }
        o[len++] = 'e';
        o[len++] = e10 < 0 ? '-' : '+';
        int x = e10 < 0 ? -e10 : e10;
        if (x >= 100)
            o[len++] = (char)('0' + x / 100);
        o[len++] = (char)('0' + x / 10 % 10);
        o[len++] = (char)('0' + x % 10);
    } else if (e10 >= 0) {
        memcpy(o + len, dig, (size_t)e10 + 1);
        len += e10 + 1;
        if (nd > e10 + 1) {
            o[len++] = '.';
            memcpy(o + len, dig + e10 + 1, (size_t)(nd - e10 - 1));
            len += nd - e10 - 1;
        }
    } else {
        o[len++] = '0';
        o[len++] = '.';
        for (int z = 0; z < -e10 - 1; z++)
            o[len++] = '0';
        memcpy(o + len, dig, (size_t)nd);
        len += nd;
    }
    return (size_t)len;
}
#else
size_t sy_fmt_g17(char *o, double d)
{
    (void)o;
    (void)d;
    return 0;
}
#endif
