/*
 * Private to classifier/features*.c: what the extraction files share. The structural
 * signals (their X-macro and bins), the byte-class and normalisation tables, the
 * hashes, the hashed groups and the extractor itself. The small hot helpers are
 * static inline here so the scanning loop compiles exactly as when it was one file.
 *
 *   features.c          config, index layout, extractor, weighting and emitting groups
 *   features_scan.c     the pass over the prompt window: lines, words, shapes, n-grams
 *   features_signals.c  the structural signal table, counters to signal values, names
 */
#ifndef SY_CLASSIFIER_FEATURES_INTERNAL_H
#define SY_CLASSIFIER_FEATURES_INTERNAL_H

#include "classifier/features.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- structural slots: name, bin upper edges (value < edge[i] -> bin i) ---- */

enum sig_weight { SW_STRUCT, SW_LENGTH };

struct signal_def {
    const char *name;
    enum sig_weight weight;
    int nedges;
    double edges[8];
};

/* X-macro: the order defines slot indices, so append only (and bump CLF_FEATURES_VERSION). */
#define CLF_SIGNALS(X)                                                                  \
    X(FENCE_LINES, "fence_lines", SW_STRUCT, 2, {1, 3})                                 \
    X(SYM_RATIO, "sym_ratio", SW_STRUCT, 5, {0.01, 0.03, 0.06, 0.10, 0.16})             \
    X(KW_RATIO, "kw_ratio", SW_STRUCT, 4, {0.01, 0.04, 0.08, 0.15})                     \
    X(DIGIT_RATIO, "digit_ratio", SW_STRUCT, 4, {0.005, 0.02, 0.05, 0.12})              \
    X(MATH_OPS, "math_ops", SW_STRUCT, 4, {1, 2, 4, 8})                                 \
    X(QMARKS, "qmarks", SW_STRUCT, 3, {1, 2, 4})                                        \
    X(ENDS_Q, "ends_q", SW_STRUCT, 1, {1})                                              \
    X(STARTS_WH, "starts_wh", SW_STRUCT, 1, {1})                                        \
    X(TOKENS, "tokens", SW_LENGTH, 7, {8, 20, 50, 150, 400, 1000, 3000})                \
    X(LINES, "lines", SW_STRUCT, 5, {2, 4, 10, 30, 100})                                \
    X(PARAGRAPHS, "paragraphs", SW_STRUCT, 4, {2, 3, 5, 9})                             \
    X(DOC_MARKERS, "doc_markers", SW_STRUCT, 4, {1, 2, 3, 5})                           \
    X(SPEAKER_RATIO, "speaker_ratio", SW_STRUCT, 3, {0.1, 0.3, 0.6})                    \
    X(LOG_LINES, "log_lines", SW_STRUCT, 3, {1, 3, 8})                                  \
    X(DIFF_LINES, "diff_lines", SW_STRUCT, 3, {1, 3, 8})                                \
    X(INDENT_LINES, "indent_lines", SW_STRUCT, 3, {1, 3, 8})                            \
    X(NONASCII_RATIO, "nonascii_ratio", SW_STRUCT, 3, {0.01, 0.1, 0.3})                 \
    X(EMAIL_MARKS, "email_marks", SW_STRUCT, 4, {1, 2, 4, 7})                           \
    X(LIST_LINES, "list_lines", SW_STRUCT, 3, {1, 3, 6})                                \
    X(URLS, "urls", SW_STRUCT, 2, {1, 3})                                               \
    X(LATEX, "latex", SW_STRUCT, 2, {1, 3})                                             \
    X(OPTIONS, "options", SW_STRUCT, 2, {2, 4})                                         \
    X(QUOTE_LINES, "quote_lines", SW_STRUCT, 2, {1, 3})                                 \
    X(NUMBERS, "numbers", SW_STRUCT, 4, {1, 3, 6, 12})                                  \
    X(TRUNCATED, "truncated", SW_LENGTH, 1, {1})                                        \
    X(HEADINGS, "headings", SW_STRUCT, 2, {1, 3})

#define X_ENUM(id, name, w, n, ...) SIG_##id,
enum signal_id { CLF_SIGNALS(X_ENUM) SIG_COUNT };
#undef X_ENUM

#define X_SLOTS(id, name, w, n, ...) +(n + 1)
_Static_assert(0 CLF_SIGNALS(X_SLOTS) <= CLF_STRUCT_SLOTS, "structural slots overflow");
#undef X_SLOTS

extern const struct signal_def clf_signals[SIG_COUNT];

/* First slot (0-based) of signal sig; the extractor caches them in first_slot[]. */
int clf_signal_first_slot(int sig);

static inline int signal_bin(int sig, double v)
{
    const struct signal_def *d = &clf_signals[sig];
    int b = 0;
    while (b < d->nedges && v >= d->edges[b])
        b++;
    return b;
}

/* Per-byte classes for the scanning loop (generated; see the F_* flags). */
enum { F_WORD = 1, F_SPACE = 2, F_NL = 4, F_DIGIT = 8, F_SYM = 16, F_OP = 32, F_HI = 64,
       F_RARE = 128 /* ? : ( */ };
static const unsigned char byte_flags[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x06, 0x02, 0x02, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x10, 0x10, 0x20, 0x10, 0x00, 0x90, 0x10, 0x30, 0x20, 0x00, 0x20, 0x00, 0x20,
    0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x80, 0x10, 0x30, 0x30, 0x30, 0x80,
    0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x10, 0x10, 0x10, 0x30, 0x11,
    0x10, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x10, 0x10, 0x10, 0x10, 0x00,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
};

/* Normalised byte for character n-grams: lower case, digits to '0', whitespace to ' '. */
static const unsigned char norm_tab[256] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

/* ---- hashing ---- */

enum { SEED_WORD = 0x9e3779b1u, SEED_FIRST = 0x85ebca77u, SEED_BIGRAM = 0xc2b2ae3du,
       SEED_CHAR = 0x27d4eb2fu, SEED_SHAPE = 0x165667b1u,
       SEED_EDGE_HEAD = 0xd3a2646cu, SEED_EDGE_TAIL = 0xfd7046c5u };

static inline uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Eight bytes at a time, little-endian assembled so the value does not depend on
 * the host's byte order; a 64-bit multiply-xorshift mix per block. */
static inline uint32_t hash_norm(const unsigned char *p, size_t len, uint32_t seed, bool norm)
{
    uint64_t acc = 0x243f6a8885a308d3ull ^ ((uint64_t)seed << 32) ^ (len * 0xc2b2ae3d27d4eb4full);
    size_t i = 0;
    do {
        uint64_t v = 0;
        size_t k = len - i < 8 ? len - i : 8;
        for (size_t j = 0; j < k; j++)
            v |= (uint64_t)(norm ? norm_tab[p[i + j]] : p[i + j]) << (8 * j);
        acc = (acc ^ v) * 0x9e3779b97f4a7c15ull;
        acc ^= acc >> 29;
        i += k;
    } while (i < len);
    acc *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(acc >> 32);
}

/* hash_norm() of a key of 1..8 bytes already assembled (little-endian) into v. */
static inline uint32_t hash_block(uint64_t v, size_t len, uint32_t seed)
{
    uint64_t acc = 0x243f6a8885a308d3ull ^ ((uint64_t)seed << 32) ^ (len * 0xc2b2ae3d27d4eb4full);
    acc = (acc ^ v) * 0x9e3779b97f4a7c15ull;
    acc ^= acc >> 29;
    acc *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(acc >> 32);
}

/* One multiply: the n-gram is at most 8 bytes, so it is its own 64-bit key. */
static inline uint64_t chargram_mask(unsigned n)
{
    return n >= 8 ? ~0ull : ((1ull << (8 * n)) - 1);
}

static inline uint64_t chargram_salt(unsigned n)
{
    return ((uint64_t)n << 59) ^ SEED_CHAR;
}

static inline uint32_t chargram_hash(uint64_t reg, uint64_t mask, uint64_t salt)
{
    return (uint32_t)((((reg & mask) ^ salt) * 0x9e3779b97f4a7c15ull) >> 29);
}

struct layout {
    int off_word, off_bigram, off_char, off_shape, dim; /* 0-based offsets before +1 */
};

/* Fixed token shapes: their hashes are computed once per extractor. */
#define CLF_SHAPES(X) \
    X(ABS_PATH, "/abs/path") \
    X(ALNUM, "a9") \
    X(ASSIGN, "a=b") \
    X(BRACES, "{}") \
    X(CALL, "call()") \
    X(CAMEL, "camelCase") \
    X(CAPS, "CAPS") \
    X(DATE, "9-9-9") \
    X(DECIMAL, "9.9") \
    X(DOLLAR_NUM, "$9") \
    X(DOLLAR_VAR, "$var") \
    X(DOTTED, "a.b") \
    X(HASHTAG, "#x") \
    X(LABEL, "label:") \
    X(LONG_FLAG, "--flag") \
    X(MENTION, "@x") \
    X(NUMBER, "999") \
    X(PERCENT, "9%") \
    X(QUESTION, "q?") \
    X(SHORT_FLAG, "-f") \
    X(SLASHED, "a/b") \
    X(SNAKE, "snake_case") \
    X(STMT, "stmt;") \
    X(TAG, "<tag>") \
    X(TIME, "9:9") \
    X(URL, "url") \
    X(UTF8, "utf8")

#define X_ENUM_SHAPE(id, lit) SH_##id,
enum shape_id { CLF_SHAPES(X_ENUM_SHAPE) SH_COUNT };
#undef X_ENUM_SHAPE

/* One hashed group, counted as its hashes arrive: cnt[h & mask] (saturating at 255) and
 * the slots in first-seen order; at most cap hashes are taken. cnt is all zero again
 * after emit_group(). */
struct group {
    uint8_t *cnt;      /* 2^bits counters (small, so the busy part stays in cache) */
    uint32_t *touched; /* slots with cnt != 0, cap + 1 entries */
    uint32_t mask;
    size_t n, cap, nt;
};

#define KW_SET_SIZE 512 /* power of two, > 2x keywords */

struct clf_extractor {
    struct clf_feature_config cfg;
    struct layout lay;
    struct group word, bigram, chr, shape;
    struct feature_node *out;
    size_t out_cap;
    uint32_t kw[KW_SET_SIZE]; /* hashes of code keywords, 0 = empty */
    uint32_t shape_hash[SH_COUNT];
    int first_slot[SIG_COUNT]; /* signal_first_slot(), computed once */
};

static inline void group_add(struct group *g, uint32_t h)
{
    if (g->n >= g->cap)
        return;
    g->n++;
    uint32_t idx = h & g->mask;
    uint8_t c = g->cnt[idx];
    g->touched[g->nt] = idx; /* kept only when new; nt <= n <= cap */
    g->nt += c == 0;
    g->cnt[idx] = (uint8_t)(c + (c != 255));
}

struct counters {
    unsigned nonspace, sym, digits, nonascii, qmarks, math_ops, numbers, latex, urls;
    unsigned words, keywords, lines, paragraphs, doc_markers, speaker, log, diff, indent;
    unsigned email, list, options, quote, fences, headings;
    bool starts_wh, ends_q, have_first, in_para;
    bool line_log; /* the current line has a log level word or a hh:mm:ss time */
    unsigned char last_nonspace;
};

static inline bool is_space(unsigned char c)
{
    return (byte_flags[c] & F_SPACE) != 0;
}

static inline unsigned char norm_byte(unsigned char c)
{
    return norm_tab[c];
}

/* Scans the read window of p[0..len) (head and tail of a long prompt) into the
 * extractor's groups and *k; returns the number of bytes read. */
size_t clf_scan_window(struct clf_extractor *ex, const unsigned char *p, size_t len,
                       struct counters *k);

/* Fills the code-keyword hash set the scan counts keywords with. */
void clf_scan_keywords_init(uint32_t kw[KW_SET_SIZE]);

/* The value of every structural signal from the scan's counters. */
void clf_signal_values(const struct counters *k, size_t len, size_t window,
                       double v[SIG_COUNT]);

#endif
