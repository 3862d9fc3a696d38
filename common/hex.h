/*
 * One hex digit, for the parsers that read hex from outside input (chunk sizes,
 * \u escapes, signatures).
 */
#ifndef SY_HEX_H
#define SY_HEX_H

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

#endif
