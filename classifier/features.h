/*
 * Feature extraction for the task-type classifier: pure, no I/O.
 *
 * A prompt becomes a sparse vector in a fixed index space, laid out in
 * liblinear's 1-based convention:
 *
 *   [1 .. CLF_STRUCT_SLOTS]           structural signals, one-hot bins
 *   then 2^word_bits                  normalised word unigrams (+ first word)
 *   then 2^bigram_bits                word bigrams
 *   then 2^char_bits                  character n-grams (char_min..char_max)
 *   then 2^shape_bits                 token shapes (snake_case, call(), --flag, .py, ...)
 *
 * Each hashed group is sublinear-tf weighted, L2-normalised and scaled by its
 * group weight, so no group dominates because the prompt is long.
 *
 * Bounded work: only the first head_bytes and the last tail_bytes are read;
 * the total length enters as a feature. A 10 MB prompt costs the same as a
 * (head_bytes + tail_bytes) one.
 */
#ifndef SY_CLASSIFIER_FEATURES_H
#define SY_CLASSIFIER_FEATURES_H

#include <stddef.h>
#include <stdint.h>

/* Bump when extraction changes in a way that changes feature indices or values. */
#define CLF_FEATURES_VERSION 2

/* Most first/last words marked as such (edge_words). */
#define CLF_EDGE_WORDS_MAX 32

/* Number of fixed structural slots at the start of the index space. */
#define CLF_STRUCT_SLOTS 160

struct feature_node; /* liblinear's (index, value) pair; the extractor emits it directly */

struct clf_feature_config {
    unsigned word_bits, bigram_bits, char_bits, shape_bits; /* 8..20 each */
    unsigned char_min, char_max;                            /* 1 <= min <= max <= 8 */
    unsigned head_bytes, tail_bytes;                        /* read window */
    unsigned char_head_bytes, char_tail_bytes;              /* n-gram part of it */
    double w_word, w_bigram, w_char, w_shape;               /* group scales */
    double w_struct, w_length;                              /* structural and length bins */
    unsigned edge_words; /* first and last N words also hashed as such (0..32, 0 = off) */
};

struct clf_extractor;

void clf_feature_config_default(struct clf_feature_config *cfg);

/* 0 if usable; otherwise -1 and a reason in err. */
int clf_feature_config_check(const struct clf_feature_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Largest feature index (the liblinear nr_feature, without bias). */
int clf_feature_dim(const struct clf_feature_config *cfg);

/* Scratch space for one thread; NULL on allocation failure or bad config. */
struct clf_extractor *clf_extractor_new(const struct clf_feature_config *cfg);
void clf_extractor_free(struct clf_extractor *ex);

/*
 * Extracts the features of text[0..len) (need not be NUL-terminated; any
 * bytes). Returns the number of nodes written to *out, which points into the
 * extractor and stays valid until the next call. Indices are unique, not
 * sorted. The array has room for two more nodes after the last one (a bias
 * node and liblinear's index -1 terminator).
 */
size_t clf_extract(struct clf_extractor *ex, const char *text, size_t len,
                   struct feature_node **out);

/* Number of classes clf_extract_dot() scores (the model's WIRE_NTASKS). */
#define CLF_DOT_CLASSES 4

/*
 * The prediction fast path: the same features as clf_extract(), but instead of building
 * nodes it sets dec[c] = sum of w[(index - 1) * CLF_DOT_CLASSES + c] * value over them, in
 * the order clf_extract() would emit them (so the sums are bit-identical to a dot product
 * over its output). w is the feature-major weight matrix, at least clf_feature_dim() rows.
 * Returns the number of features.
 */
size_t clf_extract_dot(struct clf_extractor *ex, const char *text, size_t len, const float *w,
                       double dec[CLF_DOT_CLASSES]);

/* The hash used for every hashed feature (exposed so tests can pin it). */
uint32_t clf_hash(const void *data, size_t len, uint32_t seed);

/* Index of a word unigram / character n-gram / structural name, for tests and debugging. */
int clf_feature_index_word(const struct clf_feature_config *cfg, const char *word);
int clf_feature_index_chargram(const struct clf_feature_config *cfg, const char *gram);
int clf_feature_index_struct(const char *name);
const char *clf_feature_struct_name(int index);

#endif
