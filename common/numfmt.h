/*
 * numfmt: numbers to decimal text without printf, for the request path (the
 * event JSON, response heads). Each writes into the caller's buffer, adds no
 * NUL and returns the length.
 */
#ifndef SY_NUMFMT_H
#define SY_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define SY_FMT_INT_MAX 20   /* longest sy_fmt_i64 / sy_fmt_u64 output */
#define SY_FMT_FIXED_MAX 32 /* longest sy_fmt_fixed output */

size_t sy_fmt_u64(char *out, uint64_t v);
size_t sy_fmt_i64(char *out, int64_t v);
/* Lower-case hex of v, no prefix ("%llx"). */
size_t sy_fmt_hex(char *out, uint64_t v);

/* v with exactly decimals (0..10) digits after the point: byte for byte what
 * glibc's printf("%.*f", decimals, v) prints (rounding the exact binary value,
 * ties to even, "-" whenever the sign bit is set). Returns 0, writing nothing,
 * for what it does not cover: NaN, infinities, decimals out of range, and
 * |v| * 10^decimals >= 2^64; the caller then uses snprintf. */
size_t sy_fmt_fixed(char *out, double v, int decimals);

/* printf("%.17g", v) byte for byte, for 1e-16 <= |v| < 1e17 (at most 24 bytes). Returns
 * 0, writing nothing, outside that range or for 0, NaN, infinities and subnormals; the
 * caller then uses snprintf. */
size_t sy_fmt_g17(char *out, double v);

#endif
