/*
 * Hex digits, both ways: one digit's value, for the parsers that read hex from outside
 * input (chunk sizes, \u escapes, signatures), and fixed-width lower-case hex out
 * (request ids, user hashes). Header only and pure: experiments/ uses it.
 */
#ifndef SY_HEX_H
#define SY_HEX_H

#include <stdint.h>

/* 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else (EOF included). */
static inline int sy_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The low digits (1..16) hex digits of v, zero-padded: "%0<digits>llx" of
 * v mod 16^digits. Writes exactly digits bytes, no terminator. */
static inline void sy_hex_fixed(char *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 0xf];
}

#endif
