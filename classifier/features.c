/*
 * Feature extraction: one pass over a bounded window of the prompt collects
 * hashed words, bigrams, character n-grams and token shapes (each counted as it
 * is hashed) plus per-line and per-character structural counters; each group is
 * then weighted and normalised, and either written as nodes (clf_extract) or
 * multiplied straight into the model's class scores (clf_extract_dot). See
 * features.h for the index layout.
 */
#include "classifier/features.h"

#include <linear.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define X_DEF(id, name, w, n, ...) {name, w, n, __VA_ARGS__},
static const struct signal_def signals[SIG_COUNT] = {CLF_SIGNALS(X_DEF)};
#undef X_DEF

/* first slot (0-based) of each signal, computed once */
static int signal_first_slot(int sig)
{
    int slot = 0;
    for (int i = 0; i < sig; i++)
        slot += signals[i].nedges + 1;
    return slot;
}

static int signal_bin(int sig, double v)
{
    const struct signal_def *d = &signals[sig];
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
       SEED_CHAR = 0x27d4eb2fu, SEED_SHAPE = 0x165667b1u };

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

uint32_t clf_hash(const void *data, size_t len, uint32_t seed)
{
    return hash_norm(data, len, seed, false);
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

/* ---- config ---- */

void clf_feature_config_default(struct clf_feature_config *cfg)
{
    cfg->word_bits = 14;
    cfg->bigram_bits = 14;
    cfg->char_bits = 15;
    cfg->shape_bits = 10;
    cfg->char_min = 4;
    cfg->char_max = 4;
    cfg->head_bytes = 3072;
    cfg->tail_bytes = 1024;
    cfg->char_head_bytes = 1024;
    cfg->char_tail_bytes = 256;
    cfg->w_word = 1.0;
    cfg->w_bigram = 0.6;
    cfg->w_char = 1.0;
    cfg->w_shape = 0.6;
    cfg->w_struct = 0.5;
    cfg->w_length = 0.15;
}

int clf_feature_config_check(const struct clf_feature_config *cfg, char *err, size_t errlen)
{
    const unsigned bits[4] = {cfg->word_bits, cfg->bigram_bits, cfg->char_bits, cfg->shape_bits};
    const double w[6] = {cfg->w_word, cfg->w_bigram, cfg->w_char, cfg->w_shape, cfg->w_struct,
                         cfg->w_length};
    for (int i = 0; i < 4; i++)
        if (bits[i] < 8 || bits[i] > 20) {
            snprintf(err, errlen, "hash bits must be within 8..20 (got %u)", bits[i]);
            return -1;
        }
    if (cfg->char_min < 1 || cfg->char_max > 8 || cfg->char_min > cfg->char_max) {
        snprintf(err, errlen, "char n-gram range must satisfy 1 <= min <= max <= 8 (got %u..%u)",
                 cfg->char_min, cfg->char_max);
        return -1;
    }
    if (cfg->head_bytes < 64 || cfg->head_bytes > (1u << 20) || cfg->tail_bytes > (1u << 20)) {
        snprintf(err, errlen, "window must be head 64..1048576 and tail 0..1048576 bytes");
        return -1;
    }
    if (cfg->char_head_bytes > cfg->head_bytes || cfg->char_tail_bytes > cfg->tail_bytes) {
        snprintf(err, errlen, "the character n-gram window must lie inside the window");
        return -1;
    }
    for (int i = 0; i < 6; i++)
        if (!(w[i] >= 0 && w[i] <= 100)) {
            snprintf(err, errlen, "group weights must be within 0..100");
            return -1;
        }
    return 0;
}

struct layout {
    int off_word, off_bigram, off_char, off_shape, dim; /* 0-based offsets before +1 */
};

static struct layout layout_of(const struct clf_feature_config *cfg)
{
    struct layout l;
    l.off_word = CLF_STRUCT_SLOTS;
    l.off_bigram = l.off_word + (1 << cfg->word_bits);
    l.off_char = l.off_bigram + (1 << cfg->bigram_bits);
    l.off_shape = l.off_char + (1 << cfg->char_bits);
    l.dim = l.off_shape + (1 << cfg->shape_bits);
    return l;
}

int clf_feature_dim(const struct clf_feature_config *cfg)
{
    return layout_of(cfg).dim;
}

/* ---- extractor ---- */

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

static const char *const code_keywords[] = {
    "def", "return", "function", "class", "import", "const", "let", "var", "int", "void",
    "public", "static", "private", "struct", "include", "printf", "println", "console", "print",
    "elif", "lambda", "async", "await", "yield", "null", "none", "nil", "self", "this", "try",
    "catch", "except", "finally", "throw", "raise", "select", "insert", "update", "delete",
    "where", "join", "create", "table", "alter", "docker", "kubectl", "git", "npm", "pip",
    "yarn", "bash", "shell", "sudo", "chmod", "grep", "awk", "sed", "curl", "ssh", "nginx",
    "regex", "python", "java", "javascript", "typescript", "js", "ts", "rust", "golang", "cpp",
    "csharp", "php", "ruby", "perl", "kotlin", "swift", "scala", "haskell", "html", "css", "div",
    "flexbox", "json", "yaml", "xml", "api", "http", "func", "fn", "impl", "mut", "pub", "usize",
    "str", "bool", "boolean", "dict", "vector", "std", "namespace", "malloc", "pointer",
    "segfault", "compile", "compiler", "debug", "bug", "exception", "traceback", "undefined",
    "node", "react", "vue", "django", "flask", "maven", "gradle", "cmake", "makefile", "gcc",
    "linux", "terminal", "command", "cli", "script", "loop", "variable", "method", "query",
    "database", "postgres", "mysql", "sqlite", "mongodb", "redis", "pytest", "junit", "jest",
    "assert", "code", "array", "string", "integer", "regexp", "repo", "commit", "branch",
    "merge", "rebase", "deploy", "container", "kubernetes", "k8s", "endpoint", "webpack", "npm",
    "vim", "emacs", "vscode", "ide", "stack", "heap", "thread", "mutex", "async", "callback",
    "promise", "cron", "systemd", "config", "env", "dockerfile", "terraform", "ansible", "excel",
    "vba", "powershell", "cmd", "sql", "pandas", "numpy", "dataframe", "tensor", "golang",
    "unittest", "refactor", "syntax", "parse", "parser", "compile", "runtime", "stdout",
    "stderr", "argv", "args", "kwargs", "typeof", "instanceof", "enum", "interface", "extends",
    "implements", "override", "virtual", "template", "typename", "struct", "union", "sizeof",
    "println", "fmt", "err", "nullptr", "auto", "elseif", "foreach", "endif", "fi", "esac",
    "echo", "export", "chown", "ls", "cd", "mkdir", "rm", "cp", "mv", "tar", "ssh", "scp",
};

static void kw_insert(uint32_t *set, uint32_t h)
{
    if (h == 0)
        h = 1;
    size_t i = h & (KW_SET_SIZE - 1);
    while (set[i] != 0 && set[i] != h)
        i = (i + 1) & (KW_SET_SIZE - 1);
    set[i] = h;
}

static bool kw_has(const uint32_t *set, uint32_t h)
{
    if (h == 0)
        h = 1;
    size_t i = h & (KW_SET_SIZE - 1);
    while (set[i] != 0) {
        if (set[i] == h)
            return true;
        i = (i + 1) & (KW_SET_SIZE - 1);
    }
    return false;
}

static int group_init(struct group *g, unsigned bits, size_t cap)
{
    g->n = g->nt = 0;
    g->cap = cap;
    g->mask = (1u << bits) - 1;
    g->cnt = calloc((size_t)1 << bits, sizeof(*g->cnt));
    g->touched = malloc((cap + 1) * sizeof(*g->touched));
    return g->cnt && g->touched ? 0 : -1;
}

static void group_free(struct group *g)
{
    free(g->cnt);
    free(g->touched);
}

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

struct clf_extractor *clf_extractor_new(const struct clf_feature_config *cfg)
{
    char err[128];
    if (clf_feature_config_check(cfg, err, sizeof(err)) != 0)
        return NULL;
    struct clf_extractor *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    ex->cfg = *cfg;
    ex->lay = layout_of(cfg);
    size_t win = (size_t)cfg->head_bytes + cfg->tail_bytes + 16;
    size_t norders = cfg->char_max - cfg->char_min + 1;
    if (group_init(&ex->word, cfg->word_bits, win + 4) ||
        group_init(&ex->bigram, cfg->bigram_bits, win + 4) ||
        group_init(&ex->chr, cfg->char_bits, win * norders) ||
        group_init(&ex->shape, cfg->shape_bits, win * 2))
        goto fail;
    ex->out_cap = CLF_STRUCT_SLOTS + ex->word.cap + ex->bigram.cap + ex->chr.cap +
                  ex->shape.cap + 2;
    ex->out = malloc(ex->out_cap * sizeof(*ex->out));
    if (!ex->out)
        goto fail;
    for (int i = 0; i < SIG_COUNT; i++)
        ex->first_slot[i] = signal_first_slot(i);
#define X_HASH_SHAPE(id, lit) ex->shape_hash[SH_##id] = clf_hash(lit, sizeof(lit) - 1, SEED_SHAPE);
    CLF_SHAPES(X_HASH_SHAPE)
#undef X_HASH_SHAPE
    for (size_t i = 0; i < sizeof(code_keywords) / sizeof(code_keywords[0]); i++)
        kw_insert(ex->kw, hash_norm((const unsigned char *)code_keywords[i],
                                    strlen(code_keywords[i]), SEED_WORD, true));
    return ex;
fail:
    clf_extractor_free(ex);
    return NULL;
}

void clf_extractor_free(struct clf_extractor *ex)
{
    if (!ex)
        return;
    group_free(&ex->word);
    group_free(&ex->bigram);
    group_free(&ex->chr);
    group_free(&ex->shape);
    free(ex->out);
    free(ex);
}

/* ---- scanning ---- */

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

/* p[0..n) starts with the lower-case prefix pre[0..k), ignoring ASCII case */
static inline bool starts_ci_n(const unsigned char *p, size_t n, const char *pre, size_t k)
{
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (c != (unsigned char)pre[i])
            return false;
    }
    return true;
}

#define starts_ci(p, n, lit) starts_ci_n((p), (n), "" lit, sizeof(lit) - 1)

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }

struct word_len {
    const char *w;
    size_t n;
};

#define WL(lit) {lit, sizeof(lit) - 1}
static const struct word_len doc_words[] = {
    WL("document"), WL("doc "), WL("source"), WL("article"), WL("email"), WL("e-mail"),
    WL("mail "), WL("report"), WL("passage"), WL("text "), WL("review"), WL("excerpt"),
    WL("message"), WL("memo"), WL("letter"), WL("transcript"), WL("paper"), WL("study"),
    WL("thread"), WL("ticket"), WL("minutes"), WL("part "), WL("chapter"), WL("section"),
    WL("note "), WL("notes"), WL("item"), WL("dokument"), WL("documento"), WL("artikel"),
    WL("quelle"), WL("fuente"), WL("texte"), WL("texto"), WL("bericht"),
};

/* Bit (c - 'a') set for every first letter c of doc_words (keep in step with it):
 * a line starting with any other byte cannot match one. */
#define DOC_FIRST_LETTERS                                                                     \
    (1u << ('a' - 'a') | 1u << ('b' - 'a') | 1u << ('c' - 'a') | 1u << ('d' - 'a') |          \
     1u << ('e' - 'a') | 1u << ('f' - 'a') | 1u << ('i' - 'a') | 1u << ('l' - 'a') |          \
     1u << ('m' - 'a') | 1u << ('n' - 'a') | 1u << ('p' - 'a') | 1u << ('q' - 'a') |          \
     1u << ('r' - 'a') | 1u << ('s' - 'a') | 1u << ('t' - 'a'))

/* Line-level structure: called once per line with the line without its newline. */
static void scan_line(struct counters *k, const unsigned char *p, size_t n)
{
    size_t lead = 0;
    while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
        lead++;
    const unsigned char *t = p + lead;
    size_t tn = n - lead;
    while (tn > 0 && is_space(t[tn - 1]))
        tn--;
    if (tn == 0) {
        k->in_para = false;
        return;
    }
    k->lines++;
    if (!k->in_para) {
        k->paragraphs++;
        k->in_para = true;
    }
    if (lead >= 4 || (lead >= 1 && p[0] == '\t'))
        k->indent++;
    if (starts_ci(t, tn, "```") || starts_ci(t, tn, "~~~")) {
        k->fences++;
        return;
    }
    /* document markers: "Document 2:", "[3] ...", "--- Source 1 ---", "<doc ...>", "### Email" */
    bool doc = false;
    if (tn >= 3 && t[0] == '[' && is_digit(t[1]) && (t[2] == ']' || (tn >= 4 && t[3] == ']')))
        doc = true;
    else if (starts_ci(t, tn, "<doc") || starts_ci(t, tn, "<source") || starts_ci(t, tn, "<article"))
        doc = true;
    else {
        const unsigned char *q = t;
        size_t qn = tn;
        while (qn > 0 && (*q == '-' || *q == '=' || *q == '#' || *q == '*' || *q == ' ')) {
            q++;
            qn--;
        }
        unsigned char q0 = qn > 0 ? (unsigned char)(q[0] | 0x20) : 0;
        if (qn < 60 && q0 >= 'a' && q0 <= 'z' && (DOC_FIRST_LETTERS >> (q0 - 'a') & 1)) {
            for (size_t i = 0; i < sizeof(doc_words) / sizeof(doc_words[0]); i++) {
                size_t w = doc_words[i].n;
                if (!starts_ci_n(q, qn, doc_words[i].w, w))
                    continue;
                /* followed by a number/letter id, or the line ends with ':' or a rule */
                size_t j = w;
                while (j < qn && q[j] == ' ')
                    j++;
                if ((j < qn && (is_digit(q[j]) || q[j] == '#' ||
                                (is_upper(q[j]) && (j + 1 >= qn || !is_alpha(q[j + 1]))))) ||
                    t[tn - 1] == ':' || t[tn - 1] == '-' || t[tn - 1] == '=')
                    doc = true;
                break;
            }
        }
    }
    if (doc)
        k->doc_markers++;
    if (t[0] == '#' && tn > 1 && (t[1] == '#' || t[1] == ' '))
        k->headings++;

    bool email = false;
    switch (t[0] | 0x20) { /* dispatch on the (lower-cased) first letter */
    case 'b': email = starts_ci(t, tn, "best,") || starts_ci(t, tn, "best regards"); break;
    case 'c': email = starts_ci(t, tn, "cc:") || starts_ci(t, tn, "cheers"); break;
    case 'd': email = starts_ci(t, tn, "date:") || starts_ci(t, tn, "dear "); break;
    case 'f': email = starts_ci(t, tn, "from:"); break;
    case 'h': email = starts_ci(t, tn, "hi ") || starts_ci(t, tn, "hello "); break;
    case 'k': email = starts_ci(t, tn, "kind regards"); break;
    case 'o':
        email = starts_ci(t, tn, "on ") && tn > 8 && starts_ci(t + tn - 6, 6, "wrote:");
        break;
    case 'r': email = starts_ci(t, tn, "regards"); break;
    case 's':
        email = starts_ci(t, tn, "subject:") || starts_ci(t, tn, "sent:") ||
                starts_ci(t, tn, "sincerely");
        break;
    case 't': email = starts_ci(t, tn, "to:") || starts_ci(t, tn, "thanks,"); break;
    default: break;
    }
    if (email)
        k->email++;

    if ((tn >= 2 && (t[0] == '-' || t[0] == '*') && t[1] == ' ') ||
        (tn >= 3 && t[0] == 0xe2 && t[1] == 0x80 && t[2] == 0xa2))
        k->list++;
    else if (tn >= 3 && is_digit(t[0]) && (t[1] == '.' || t[1] == ')') && t[2] == ' ')
        k->list++;

    if (tn >= 3 && ((t[0] >= 'A' && t[0] <= 'E') || (t[0] >= 'a' && t[0] <= 'e')) &&
        (t[1] == ')' || t[1] == '.') && t[2] == ' ')
        k->options++;
    else if (tn >= 4 && t[0] == '(' && t[1] >= 'A' && t[1] <= 'E' && t[2] == ')')
        k->options++;

    if (t[0] == '>')
        k->quote++;

    /* unified diff */
    if (starts_ci(t, tn, "@@") || starts_ci(t, tn, "diff --git") || starts_ci(t, tn, "+++ ") ||
        starts_ci(t, tn, "--- a/") || starts_ci(t, tn, "index ") ||
        (p[0] == '+' && n > 1 && p[1] != '+') ||
        (p[0] == '-' && n > 1 && p[1] != ' ' && p[1] != '-'))
        k->diff++;

    /* log lines: level words and timestamps (flagged while scanning), stack frames */
    bool log = k->line_log || (starts_ci(t, tn, "at ") && memchr(t, '(', tn));
    if (log)
        k->log++;

    /* speaker tags: "Marketing: ...", "Project Manager: ...", "[10:02] Bob: ..." */
    if (!doc) {
        size_t i = 0, words = 0;
        if (t[0] == '[') {
            while (i < tn && t[i] != ']')
                i++;
            i++;
            while (i < tn && t[i] == ' ')
                i++;
        }
        if (i < tn && is_upper(t[i])) {
            while (i < tn && words < 4) {
                while (i < tn && (is_alnum(t[i]) || t[i] == '.' || t[i] == '\'' || t[i] == '-'))
                    i++;
                words++;
                if (i < tn && t[i] == ' ' && i + 1 < tn && is_upper(t[i + 1])) {
                    i++;
                    continue;
                }
                break;
            }
            if (i + 1 < tn && t[i] == ':' && t[i + 1] == ' ' && i < 32 &&
                !starts_ci(t, tn, "note") && !starts_ci(t, tn, "from") &&
                !starts_ci(t, tn, "subject") && !starts_ci(t, tn, "to:"))
                k->speaker++;
        }
    }
}

struct scan {
    struct clf_extractor *ex;
    struct counters *k;
    uint32_t prev_word;   /* hash of previous word, 0 = none */
    unsigned char_min, char_max;
};

static const char *const wh_words[] = {
    "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "is", "are", "was",
    "were", "can", "could", "does", "do", "did", "should", "would", "will", "may", "might",
    "shall", "has", "have", "whats", "hows", "wie", "was", "warum", "qué", "que", "cómo",
    "como", "pourquoi", "comment", "quel", "quelle", "est-ce",
};

static bool is_log_word(const unsigned char *w, size_t n, unsigned char next)
{
    switch (n) {
    case 4: return !memcmp(w, "WARN", 4) || !memcmp(w, "INFO", 4);
    case 5: return !memcmp(w, "ERROR", 5) || !memcmp(w, "FATAL", 5) || !memcmp(w, "DEBUG", 5) ||
                   (next == ':' && (!memcmp(w, "error", 5) || !memcmp(w, "panic", 5)));
    case 7: return !memcmp(w, "WARNING", 7);
    case 9: return !memcmp(w, "Exception", 9) || !memcmp(w, "Traceback", 9);
    default: return n > 9 && !memcmp(w + n - 9, "Exception", 9);
    }
}

/* reg: the word's normalised bytes shifted in one at a time (its last 8, first byte
 * highest), so words of up to 8 bytes are hashed without reading them again. */
static void emit_word(struct scan *s, const unsigned char *w, size_t n, bool after_backslash,
                      unsigned char next, uint64_t reg)
{
    struct counters *k = s->k;
    if (!k->line_log && n >= 4 && is_log_word(w, n, next))
        k->line_log = true;
    size_t m = n < 24 ? n : 24;
    bool all_digits = is_digit(w[0]) && is_digit(w[m - 1]);
    for (size_t i = 1; all_digits && i + 1 < m; i++)
        all_digits = is_digit(w[i]);
    if (all_digits) {
        k->numbers++;
        if (m > 4)
            m = 4;
    }
    uint64_t v = 0;
    if (n <= 8) { /* the same bytes hash_norm() would assemble: the first m, little-endian */
        v = __builtin_bswap64(reg) >> (8 * (8 - n));
        if (m < 8)
            v &= (1ull << (8 * m)) - 1;
    }
    uint32_t h = n <= 8 ? hash_block(v, m, SEED_WORD) : hash_norm(w, m, SEED_WORD, true);
    group_add(&s->ex->word, h);
    if (s->prev_word)
        group_add(&s->ex->bigram, fmix32(s->prev_word * 31u + h + SEED_BIGRAM));
    else
        group_add(&s->ex->bigram, fmix32(h ^ SEED_BIGRAM)); /* sentence start */
    s->prev_word = h | 1;
    k->words++;
    if (kw_has(s->ex->kw, h))
        k->keywords++;
    if (after_backslash && n >= 2 && n <= 8 && is_lower(w[0]))
        k->latex++;
    if (!k->have_first) {
        k->have_first = true;
        group_add(&s->ex->word, n <= 8 ? hash_block(v, m, SEED_FIRST)
                                       : hash_norm(w, m, SEED_FIRST, true));
        for (size_t i = 0; i < sizeof(wh_words) / sizeof(wh_words[0]); i++)
            if (strlen(wh_words[i]) == m && starts_ci_n(w, m, wh_words[i], m)) {
                k->starts_wh = true;
                break;
            }
    }
}

static void push_shape(struct scan *s, const char *shape, size_t n)
{
    group_add(&s->ex->shape, clf_hash(shape, n, SEED_SHAPE));
}

#define SHAPE(s, id) group_add(&(s)->ex->shape, (s)->ex->shape_hash[SH_##id])

/* Token shapes of one whitespace-delimited chunk. */
static void emit_chunk(struct scan *s, const unsigned char *c, size_t n, bool line_start)
{
    if (n == 0)
        return;
    if (n > 80)
        n = 80;
    /* fast path: a plain word (one optional leading capital), perhaps with one trailing
     * punctuation mark */
    size_t lw = is_upper(c[0]) && n > 1 && is_lower(c[1]) ? 1 : 0;
    while (lw < n && is_lower(c[lw]))
        lw++;
    if (lw == n || (lw + 1 == n && lw > 0 && (c[lw] == ',' || c[lw] == '.' || c[lw] == '!' ||
                                             c[lw] == '?' || c[lw] == ';' || c[lw] == ':'))) {
        if (line_start) {
            const char ls[2] = {'L', is_upper(c[0]) ? 'A' : 'a'};
            push_shape(s, ls, 2);
        }
        if (c[n - 1] == ';')
            SHAPE(s, STMT);
        else if (c[n - 1] == '?')
            SHAPE(s, QUESTION);
        else if (c[n - 1] == ':' && n > 1)
            SHAPE(s, LABEL);
        return;
    }
    bool paren_call = false, snake = false, camel = false, has_eq = false, has_angle = false;
    bool has_brace = false, nonascii = false, has_alpha = false, has_digit = false;
    bool all_upper = true, slash = false, only_ops = true, url = false;
    size_t letters = 0, last_dot = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = c[i];
        if (is_lower(ch)) {
            has_alpha = true;
            letters++;
            all_upper = false;
            only_ops = false;
            continue;
        }
        if (is_upper(ch)) {
            has_alpha = true;
            letters++;
            only_ops = false;
            if (i > 0 && is_lower(c[i - 1]))
                camel = true;
            continue;
        }
        if (is_digit(ch)) {
            has_digit = true;
            only_ops = false;
            continue;
        }
        if (ch >= 0x80) {
            nonascii = true;
            only_ops = false;
            continue;
        }
        switch (ch) {
        case '(':
            if (i > 0 && (is_alnum(c[i - 1]) || c[i - 1] == '_'))
                paren_call = true;
            break;
        case '_':
            only_ops = false;
            if (i > 0 && i + 1 < n && is_alnum(c[i - 1]) && is_alnum(c[i + 1]))
                snake = true;
            break;
        case '=':
            if (i > 0 && i + 1 < n)
                has_eq = true;
            break;
        case '<':
        case '>':
            has_angle = true;
            break;
        case '{':
        case '}':
            has_brace = true;
            break;
        case '/':
            if (i > 0 && i + 1 < n && is_alnum(c[i - 1]) && is_alnum(c[i + 1]))
                slash = true;
            break;
        case ':':
            if (i + 2 < n && c[i + 1] == '/' && c[i + 2] == '/')
                url = true;
            break;
        case '.':
            only_ops = false;
            if (i > 0 && is_alnum(c[i - 1]) && i + 1 < n && is_alpha(c[i + 1]))
                last_dot = i;
            break;
        case '\'':
        case '"':
        case ',':
            only_ops = false;
            break;
        default:
            break;
        }
    }
    if (line_start) {
        char ls[3] = {'L', 0, 0};
        unsigned char f = c[0];
        ls[1] = is_digit(f) ? '0' : is_upper(f) ? 'A' : is_lower(f) ? 'a' : f >= 0x80 ? 'u' : (char)f;
        push_shape(s, ls, 2);
    }
    if (url) {
        s->k->urls++;
        SHAPE(s, URL);
        return;
    }
    if (only_ops && n <= 3) {
        char op[8] = "op:";
        memcpy(op + 3, c, n);
        push_shape(s, op, 3 + n);
        return;
    }
    if (paren_call)
        SHAPE(s, CALL);
    if (snake)
        SHAPE(s, SNAKE);
    if (camel)
        SHAPE(s, CAMEL);
    if (has_eq)
        SHAPE(s, ASSIGN);
    if (has_angle && has_alpha)
        SHAPE(s, TAG);
    if (has_brace)
        SHAPE(s, BRACES);
    if (nonascii)
        SHAPE(s, UTF8);
    if (c[n - 1] == ';')
        SHAPE(s, STMT);
    if (c[n - 1] == '?')
        SHAPE(s, QUESTION);
    if (c[n - 1] == ':' && n > 1)
        SHAPE(s, LABEL);
    if (n >= 3 && c[0] == '-' && c[1] == '-' && is_alpha(c[2]))
        SHAPE(s, LONG_FLAG);
    else if (n >= 2 && n <= 4 && c[0] == '-' && is_alpha(c[1]))
        SHAPE(s, SHORT_FLAG);
    if ((c[0] == '/' || c[0] == '~' || (c[0] == '.' && n > 1 && c[1] == '/')) && n > 1 && has_alpha)
        SHAPE(s, ABS_PATH);
    else if (slash && has_alpha)
        SHAPE(s, SLASHED);
    if (c[0] == '$' && n > 1 && is_digit(c[1]))
        SHAPE(s, DOLLAR_NUM);
    else if (c[0] == '$' && n > 1)
        SHAPE(s, DOLLAR_VAR);
    if (c[0] == '#' && n > 1)
        SHAPE(s, HASHTAG);
    if (c[0] == '@' && n > 1)
        SHAPE(s, MENTION);
    if (letters >= 2 && all_upper && !has_digit)
        SHAPE(s, CAPS);
    if (has_alpha && has_digit)
        SHAPE(s, ALNUM);
    if (!has_alpha && has_digit) {
        if (c[n - 1] == '%')
            SHAPE(s, PERCENT);
        else if (memchr(c, ':', n))
            SHAPE(s, TIME);
        else if (memchr(c, '-', n) && n >= 8)
            SHAPE(s, DATE);
        else if (memchr(c, '.', n))
            SHAPE(s, DECIMAL);
        else
            SHAPE(s, NUMBER);
    }
    if (last_dot != (size_t)-1) {
        size_t e = last_dot + 1, el = 0;
        while (e + el < n && is_alpha(c[e + el]))
            el++;
        if (el >= 1 && el <= 5 && e + el >= n - 1) {
            char ext[12] = "ext:";
            for (size_t i = 0; i < el; i++)
                ext[4 + i] = (char)norm_byte(c[e + i]);
            push_shape(s, ext, 4 + el);
        } else
            SHAPE(s, DOTTED);
    }
}

/* Character n-grams of p[from..to) over the normalised bytes (lower case, digits as '0',
 * whitespace as ' '). */
static void chargrams(const struct scan *s, const unsigned char *p, size_t from, size_t to)
{
    /* group_add() with the group's fields in locals: the byte stores to cnt may alias
     * anything, which would otherwise reload them for every n-gram */
    struct group *g = &s->ex->chr;
    uint8_t *cnt = g->cnt;
    uint32_t *touched = g->touched;
    const uint32_t gmask = g->mask;
    size_t gn = g->n, nt = g->nt;
    const size_t cap = g->cap;
    for (unsigned m = s->char_min; m <= s->char_max; m++) {
        const uint64_t mask = chargram_mask(m), salt = chargram_salt(m);
        uint64_t reg = 0;
        size_t i = from;
        for (; i < to && i < from + m - 1; i++)
            reg = (reg << 8) | norm_tab[p[i]];
        for (; i < to && gn < cap; i++, gn++) {
            reg = (reg << 8) | norm_tab[p[i]];
            uint32_t idx = chargram_hash(reg, mask, salt) & gmask;
            uint8_t c = cnt[idx];
            touched[nt] = idx;
            nt += c == 0;
            cnt[idx] = (uint8_t)(c + (c != 255));
        }
    }
    g->n = gn;
    g->nt = nt;
}

/* Scans p[0..n) a token at a time: structure, words and shapes over all of it; character
 * n-grams only for bytes before chead and from ctail on. */
static void scan_segment(struct scan *s, const unsigned char *p, size_t n, size_t chead,
                         size_t ctail)
{
    struct counters *k = s->k;
    size_t line_start = 0, i = 0;
    bool line_begin = true, pending_op = false;
    unsigned nonspace = 0, digits = 0, nonascii = 0, sym = 0;
    s->prev_word = 0;
    while (i < n) {
        unsigned f = byte_flags[p[i]];
        if (f & F_SPACE) {
            if (f & F_NL) {
                scan_line(k, p + line_start, i - line_start);
                k->line_log = false;
                line_start = i + 1;
                line_begin = true;
            }
            i++;
            continue;
        }
        /* one whitespace-delimited chunk: words and punctuation */
        size_t cs = i;
        while (i < n) {
            f = byte_flags[p[i]];
            if (f & F_SPACE)
                break;
            if (f & F_WORD) {
                size_t ws = i;
                if (pending_op && (f & F_DIGIT))
                    k->math_ops++;
                pending_op = false;
                unsigned any = 0;
                uint64_t reg = 0;
                while (i < n && ((f = byte_flags[p[i]]) & F_WORD)) {
                    reg = (reg << 8) | norm_tab[p[i]];
                    any |= f;
                    i++;
                }
                if (any & F_DIGIT)
                    for (size_t j = ws; j < i; j++)
                        digits += (byte_flags[p[j]] & F_DIGIT) != 0;
                if (any & F_HI)
                    for (size_t j = ws; j < i; j++)
                        nonascii += p[j] >= 0x80;
                emit_word(s, p + ws, i - ws, ws > 0 && p[ws - 1] == '\\', i < n ? p[i] : ' ',
                          reg);
                k->last_nonspace = p[i - 1];
                continue;
            }
            unsigned char c = p[i];
            bool was_pending = pending_op;
            pending_op = false;
            if (f & F_SYM)
                sym++;
            if (c == '?')
                k->qmarks++;
            else if (c == ':' && i >= 2 && i + 4 < n && is_digit(p[i - 2]) && is_digit(p[i - 1]) &&
                     is_digit(p[i + 1]) && is_digit(p[i + 2]) && p[i + 3] == ':' &&
                     is_digit(p[i + 4]))
                k->line_log = true;
            if (was_pending && c == '(')
                k->math_ops++;
            if ((f & F_OP) && (is_digit(k->last_nonspace) || k->last_nonspace == ')'))
                pending_op = true;
            k->last_nonspace = c;
            i++;
        }
        nonspace += (unsigned)(i - cs);
        emit_chunk(s, p + cs, i - cs, line_begin);
        line_begin = false;
    }
    scan_line(k, p + line_start, n - line_start);
    k->line_log = false;
    k->nonspace += nonspace;
    k->digits += digits;
    k->nonascii += nonascii;
    k->sym += sym;

    /* character n-grams; capacity is (window bytes) x (orders), so no overflow */
    size_t h = chead < n ? chead : n;
    chargrams(s, p, 0, h);
    if (ctail < n)
        chargrams(s, p, ctail > h ? ctail : h, n);
}

/* sublinear tf: 1 + ln(count) for count 0..255 (entry 0 unused; counts saturate at 255) */
static const double tf_table[256] = {
    0, 1, 1.6931471805599454, 2.09861228866811,
    2.3862943611198908, 2.6094379124341005, 2.791759469228055, 2.9459101490553135,
    3.0794415416798357, 3.1972245773362196, 3.3025850929940459, 3.3978952727983707,
    3.4849066497880004, 3.5649493574615367, 3.6390573296152584, 3.7080502011022101,
    3.7725887222397811, 3.8332133440562162, 3.8903717578961645, 3.9444389791664403,
    3.9957322735539909, 4.0445224377234226, 4.0910424533583161, 4.1354942159291497,
    4.1780538303479453, 4.218875824868201, 4.2580965380214817, 4.2958368660043291,
    4.3322045101752042, 4.3672958299864746, 4.4011973816621559, 4.4339872044851463,
    4.465735902799727, 4.4965075614664798, 4.5263605246161616, 4.5553480614894131,
    4.5835189384561099, 4.6109179126442239, 4.6375861597263857, 4.6635616461296463,
    4.6888794541139358, 4.713572066704308, 4.737669618283368, 4.7612001156935619,
    4.7841896339182615, 4.8066624897703196, 4.8286413964890951, 4.8501476017100584,
    4.8712010109078907, 4.8918202981106269, 4.9120230054281464, 4.9318256327243262,
    4.9512437185814271, 4.9702919135521224, 4.9889840465642745, 5.0073331852324712,
    5.0253516907351496, 5.0430512678345503, 5.0604430105464191, 5.0775374439057197,
    5.0943445622221004, 5.1108738641733114, 5.1271343850450917, 5.1431347263915326,
    5.1588830833596715, 5.1743872698956368, 5.1896547420264252, 5.2046926193909657,
    5.219507705176107, 5.2341065045972597, 5.2484952420493594, 5.2626798770413155,
    5.2766661190160553, 5.290459441148391, 5.3040650932041702, 5.3174881135363101,
    5.3307333402863311, 5.3438054218536841, 5.3567088266895917, 5.3694478524670215,
    5.3820266346738812, 5.3944491546724391, 5.4067192472642533, 5.4188406077965983,
    5.4308167988433134, 5.4426512564903167, 5.4543472962535073, 5.4659081186545837,
    5.4773368144782069, 5.4886363697321396, 5.499809670330265, 5.5108595065168497,
    5.5217885770490405, 5.5325994931532563, 5.5432947822700038, 5.5538768916005408,
    5.5643481914678361, 5.5747109785033828, 5.5849674786705723, 5.5951198501345898,
    5.6051701859880918, 5.6151205168412597, 5.6249728132842707, 5.6347289882296359,
    5.6443908991413725, 5.6539603501575231, 5.6634390941120669, 5.6728288344619058,
    5.6821312271242199, 5.6913478822291435, 5.7004803657924166, 5.7095302013123339,
    5.7184988712950942, 5.7273878187123408, 5.7361984483944957, 5.7449321283632502,
    5.7535901911063645, 5.7621739347977563, 5.7706846244656651, 5.7791234931115296,
    5.7874917427820458, 5.7957905455967413, 5.8040210447332568, 5.8121843553724171,
    5.8202815656050371, 5.8283137373023015, 5.836281906951478, 5.8441870864585912,
    5.8520302639196169, 5.8598124043616719, 5.8675344504555822, 5.8751973232011512,
    5.8828019225863706, 5.8903491282217537, 5.8978397999509111, 5.9052747784384296,
    5.9126548857360524, 5.9199809258281251, 5.9272536851572051, 5.9344739331306915,
    5.9416424226093039, 5.9487598903781684, 5.9558270576012609, 5.962844630259907,
    5.9698132995760007, 5.9767337424205742, 5.9836066217083363, 5.990432586778736,
    5.9972122737641147, 6.0039463059454592, 6.0106352940962555, 6.0172798368149243,
    6.0238805208462765, 6.0304379213924353, 6.0369526024136295, 6.0434251169192468,
    6.0498560072495371, 6.0562458053483077, 6.0625950330269669, 6.0689042022202315,
    6.0751738152338266, 6.0814043649844631, 6.0875963352323836, 6.0937502008067623,
    6.0998664278241987, 6.1059454739005803, 6.1119877883565437, 6.1179938124167554,
    6.1239639794032588, 6.1298987149230735, 6.1357984370502621, 6.1416635565026603,
    6.1474944768134527, 6.1532915944977793, 6.1590552992145291, 6.1647859739235145,
    6.1704839950381514, 6.1761497325738288, 6.181783550292085, 6.1873858058407549,
    6.1929568508902104, 6.1984970312658261, 6.2040066870767951, 6.2094861528414214,
    6.2149357576089859, 6.2203558250783244, 6.2257466737132017, 6.2311086168545868,
    6.2364419628299492, 6.2417470150596426, 6.2470240721604862, 6.2522734280466299,
    6.2574953720277815, 6.2626901889048856, 6.2678581590633282, 6.2729995585637468,
    6.2781146592305168, 6.2832037287379885, 6.2882670306945352, 6.2933048247244923,
    6.2983173665480363, 6.3033049080590757, 6.3082676974012051, 6.3132059790417872,
    6.3181199938442161, 6.3230099791384085, 6.3278761687895813, 6.3327187932653688,
    6.3375380797013179, 6.3423342519648109, 6.3471075307174685, 6.3518581334760666,
    6.3565862746720123, 6.3612921657094255, 6.3659760150218512, 6.3706380281276624,
    6.3752784076841653, 6.3798973535404597, 6.3844950627890888, 6.389071729816501,
    6.393627546352362, 6.3981627015177525, 6.4026773818722793, 6.4071717714601188,
    6.4116460518550396, 6.4161004022044201, 6.4205349992722862, 6.4249500174814029,
    6.4293456289544411, 6.43372200355424, 6.4380793089231956, 6.4424177105217932,
    6.4467373716663099, 6.4510384535657002, 6.4553211153577017, 6.4595855141441589,
    6.4638318050256105, 6.4680601411351315, 6.472270673671475, 6.476463551931511,
    6.4806389233419912, 6.4847969334906548, 6.4889377261566867, 6.4930614433405482,
    6.4971682252932021, 6.5012582105447274, 6.5053315359323625, 6.5093883366279774,
    6.5134287461649825, 6.5174528964647074, 6.521460917862246, 6.5254529391317835,
    6.5294290875114234, 6.5333894887275203, 6.5373342670185366, 6.5412635451584258};

/* Where the extracted features go: nodes in ex->out, or (w != NULL) straight into the
 * per-class dot products dec[c] += w[(index - 1) * CLF_DOT_CLASSES + c] * value, feature by
 * feature in the order the nodes would have been written. */
struct sink {
    const float *w;
    double *dec;
};

static inline void dot_add(const struct sink *d, size_t row, double value)
{
    const float *w = d->w + row * CLF_DOT_CLASSES;
    for (int c = 0; c < CLF_DOT_CLASSES; c++)
        d->dec[c] += w[c] * value;
}

static size_t emit_group(struct group *g, int off, double scale, size_t o,
                         struct feature_node *out, const struct sink *d)
{
    uint8_t *cnt = g->cnt;
    const uint32_t *touched = g->touched;
    size_t nt = g->nt;
    g->n = g->nt = 0;
    if (nt == 0)
        return o;
    if (scale <= 0) {
        for (size_t i = 0; i < nt; i++)
            cnt[touched[i]] = 0;
        return o;
    }
    double ss = 0;
    for (size_t i = 0; i < nt; i++) {
        double v = tf_table[cnt[touched[i]]];
        ss += v * v;
    }
    double norm = scale / sqrt(ss);
    if (d) {
        /* the sums in registers: same operations, same order as dot_add() */
        _Static_assert(CLF_DOT_CLASSES == 4, "four accumulators");
        double d0 = d->dec[0], d1 = d->dec[1], d2 = d->dec[2], d3 = d->dec[3];
        const float *wg = d->w + (size_t)off * CLF_DOT_CLASSES;
        for (size_t i = 0; i < nt; i++) {
            uint32_t idx = touched[i];
            double value = tf_table[cnt[idx]] * norm;
            const float *w = wg + (size_t)idx * CLF_DOT_CLASSES;
            d0 += w[0] * value;
            d1 += w[1] * value;
            d2 += w[2] * value;
            d3 += w[3] * value;
            cnt[idx] = 0;
        }
        d->dec[0] = d0;
        d->dec[1] = d1;
        d->dec[2] = d2;
        d->dec[3] = d3;
        return o + nt;
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t idx = touched[i];
        out[o].index = off + (int)idx + 1;
        out[o].value = tf_table[cnt[idx]] * norm;
        cnt[idx] = 0;
        o++;
    }
    return o;
}

static size_t extract(struct clf_extractor *ex, const char *text, size_t len,
                      const struct sink *d)
{
    const struct clf_feature_config *cfg = &ex->cfg;
    const unsigned char *p = (const unsigned char *)text;
    struct counters k;
    memset(&k, 0, sizeof(k));
    struct scan s = {.ex = ex, .k = &k, .char_min = cfg->char_min, .char_max = cfg->char_max};
    if (!p)
        len = 0;

    size_t window = len;
    size_t ch = cfg->char_head_bytes, ct = cfg->char_tail_bytes;
    if (len <= (size_t)cfg->head_bytes + cfg->tail_bytes) {
        /* character n-grams: the first ch and last ct bytes (all of a short prompt) */
        scan_segment(&s, p, len, ch, len > ct ? len - ct : 0);
    } else {
        /* head ends and tail starts at whitespace, so no word is cut in half */
        size_t h = cfg->head_bytes;
        for (size_t i = 0; i < 64 && h > 0 && !is_space(p[h - 1]); i++)
            h--;
        if (h == 0 || !is_space(p[h - 1]))
            h = cfg->head_bytes;
        size_t t = len - cfg->tail_bytes;
        for (size_t i = 0; i < 64 && t < len && !is_space(p[t]); i++)
            t++;
        if (t >= len || !is_space(p[t]))
            t = len - cfg->tail_bytes;
        scan_segment(&s, p, h, ch, h);
        k.in_para = false;
        size_t tn = len - t;
        scan_segment(&s, p + t, tn, 0, tn > ct ? tn - ct : 0);
        window = h + tn;
    }

    /* ends with '?' (ignoring trailing space/quotes) */
    size_t e = len;
    while (e > 0 && (is_space(p[e - 1]) || p[e - 1] == '"' || p[e - 1] == '\''))
        e--;
    k.ends_q = e > 0 && p[e - 1] == '?';

    double tokens = k.words;
    if (window > 0 && window < len)
        tokens = k.words * ((double)len / (double)window);
    double nonspace = k.nonspace > 0 ? k.nonspace : 1;
    double words = k.words > 0 ? k.words : 1;
    double lines = k.lines > 0 ? k.lines : 1;
    double v[SIG_COUNT];
    v[SIG_FENCE_LINES] = k.fences;
    v[SIG_SYM_RATIO] = k.sym / nonspace;
    v[SIG_KW_RATIO] = k.keywords / words;
    v[SIG_DIGIT_RATIO] = k.digits / nonspace;
    v[SIG_MATH_OPS] = k.math_ops;
    v[SIG_QMARKS] = k.qmarks;
    v[SIG_ENDS_Q] = k.ends_q;
    v[SIG_STARTS_WH] = k.starts_wh;
    v[SIG_TOKENS] = tokens;
    v[SIG_LINES] = k.lines;
    v[SIG_PARAGRAPHS] = k.paragraphs;
    v[SIG_DOC_MARKERS] = k.doc_markers;
    v[SIG_SPEAKER_RATIO] = k.lines >= 3 ? k.speaker / lines : 0;
    v[SIG_LOG_LINES] = k.log;
    v[SIG_DIFF_LINES] = k.diff;
    v[SIG_INDENT_LINES] = k.indent;
    v[SIG_NONASCII_RATIO] = k.nonascii / nonspace;
    v[SIG_EMAIL_MARKS] = k.email;
    v[SIG_LIST_LINES] = k.list;
    v[SIG_URLS] = k.urls;
    v[SIG_LATEX] = k.latex;
    v[SIG_OPTIONS] = k.options;
    v[SIG_QUOTE_LINES] = k.quote;
    v[SIG_NUMBERS] = k.numbers;
    v[SIG_TRUNCATED] = window < len;
    v[SIG_HEADINGS] = k.headings;

    size_t o = 0;
    for (int i = 0; i < SIG_COUNT; i++) {
        double w = signals[i].weight == SW_LENGTH ? cfg->w_length : cfg->w_struct;
        if (w <= 0)
            continue;
        int slot = ex->first_slot[i] + signal_bin(i, v[i]);
        if (d) {
            dot_add(d, (size_t)slot, w);
        } else {
            ex->out[o].index = slot + 1;
            ex->out[o].value = w;
        }
        o++;
    }
    const struct layout *l = &ex->lay;
    o = emit_group(&ex->word, l->off_word, cfg->w_word, o, ex->out, d);
    o = emit_group(&ex->bigram, l->off_bigram, cfg->w_bigram, o, ex->out, d);
    o = emit_group(&ex->chr, l->off_char, cfg->w_char, o, ex->out, d);
    o = emit_group(&ex->shape, l->off_shape, cfg->w_shape, o, ex->out, d);
    return o;
}

size_t clf_extract(struct clf_extractor *ex, const char *text, size_t len,
                   struct feature_node **out)
{
    size_t o = extract(ex, text, len, NULL);
    ex->out[o].index = -1; /* terminator for callers that do not add a bias node */
    ex->out[o].value = 0;
    *out = ex->out;
    return o;
}

size_t clf_extract_dot(struct clf_extractor *ex, const char *text, size_t len, const float *w,
                       double dec[CLF_DOT_CLASSES])
{
    struct sink d = {w, dec};
    for (int c = 0; c < CLF_DOT_CLASSES; c++)
        dec[c] = 0;
    return extract(ex, text, len, &d);
}

/* ---- introspection ---- */

int clf_feature_index_word(const struct clf_feature_config *cfg, const char *word)
{
    size_t n = strlen(word), m = n < 24 ? n : 24;
    uint32_t h = hash_norm((const unsigned char *)word, m, SEED_WORD, true);
    return layout_of(cfg).off_word + (int)(h & ((1u << cfg->word_bits) - 1)) + 1;
}

int clf_feature_index_chargram(const struct clf_feature_config *cfg, const char *gram)
{
    size_t n = strlen(gram);
    if (n < 1 || n > 8)
        return -1;
    uint64_t reg = 0;
    for (size_t i = 0; i < n; i++)
        reg = (reg << 8) | norm_byte((unsigned char)gram[i]);
    uint32_t h = chargram_hash(reg, chargram_mask((unsigned)n), chargram_salt((unsigned)n));
    return layout_of(cfg).off_char + (int)(h & ((1u << cfg->char_bits) - 1)) + 1;
}

int clf_feature_index_struct(const char *name)
{
    /* "signal:bin", e.g. "fence_lines:1" */
    const char *colon = strchr(name, ':');
    if (!colon)
        return -1;
    size_t n = (size_t)(colon - name);
    int bin = atoi(colon + 1);
    for (int i = 0; i < SIG_COUNT; i++)
        if (strlen(signals[i].name) == n && !memcmp(signals[i].name, name, n)) {
            if (bin < 0 || bin > signals[i].nedges)
                return -1;
            return signal_first_slot(i) + bin + 1;
        }
    return -1;
}

const char *clf_feature_struct_name(int index)
{
    static _Thread_local char buf[48];
    int slot = index - 1;
    for (int i = 0; i < SIG_COUNT; i++) {
        int first = signal_first_slot(i);
        if (slot >= first && slot <= first + signals[i].nedges) {
            snprintf(buf, sizeof(buf), "%s:%d", signals[i].name, slot - first);
            return buf;
        }
    }
    return NULL;
}
