/*
 * Hex digits, for the parsers that read them (HTTP chunk sizes, JSON \u escapes).
 * Header-only so the hot loops that call it keep it inlined.
 */
#ifndef SY_HEX_H
#define SY_HEX_H

/* The value of hex digit c ('0'-'9', 'a'-'f', 'A'-'F'): 0..15, or -1 for any other c. */
static inline int sy_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
