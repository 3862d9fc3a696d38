/* Feature extraction: pinned hashes and indices (changing them invalidates every
 * shipped model, so bump CLF_FEATURES_VERSION), structural signals, and bounded
 * work on huge inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linear.h>

#include "classifier/features.h"

static struct clf_feature_config small_cfg(void)
{
    struct clf_feature_config c;
    clf_feature_config_default(&c);
    c.word_bits = 12;
    c.bigram_bits = 12;
    c.char_bits = 14;
    c.shape_bits = 8;
    c.char_min = 3;
    c.char_max = 5;
    c.head_bytes = 1024;
    c.tail_bytes = 256;
    c.char_head_bytes = 512;
    c.char_tail_bytes = 128;
    c.w_word = 1;
    c.w_bigram = 0.5;
    c.w_char = 1;
    c.w_shape = 0.5;
    c.w_struct = 0.5;
    c.w_length = 0.25;
    c.edge_words = 0; /* the pinned vector predates them; test_edge_words covers them */
    return c;
}

static double value_at(const struct feature_node *x, size_t n, int index)
{
    for (size_t i = 0; i < n; i++)
        if (x[i].index == index)
            return x[i].value;
    return 0;
}

static void test_pinned_hashes(void **state)
{
    (void)state;
    assert_true(clf_hash("hello", 5, 0) == 0x03b18d84u);
    assert_true(clf_hash("", 0, 0) == 0x27f51e91u);
    assert_true(clf_hash("abc", 3, 42) == 0xa3fdc737u);
    struct clf_feature_config c = small_cfg();
    assert_int_equal(clf_feature_dim(&c), 24992);
    assert_int_equal(clf_feature_index_word(&c, "hello"), 2314);
    assert_int_equal(clf_feature_index_word(&c, "HELLO"), 2314); /* normalised */
    assert_int_equal(clf_feature_index_word(&c, "git"), 3316);
    assert_int_equal(clf_feature_index_chargram(&c, "git"), 11553);
    assert_int_equal(clf_feature_index_struct("fence_lines:1"), 2);
    assert_string_equal(clf_feature_struct_name(2), "fence_lines:1");
    assert_int_equal(clf_feature_index_struct("no_such:0"), -1);
}

static void test_pinned_vector(void **state)
{
    (void)state;
    struct clf_feature_config c = small_cfg();
    struct clf_extractor *ex = clf_extractor_new(&c);
    assert_non_null(ex);
    struct feature_node *x;
    const char *t = "How do I undo my last git commit?";
    size_t n = clf_extract(ex, t, strlen(t), &x);
    assert_int_equal(n, 133);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(x[i].index >= 1 && x[i].index <= clf_feature_dim(&c));
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(x[i].index, x[j].index); /* unique */
        sum += x[i].value * x[i].index;
    }
    assert_true(sum > 182522.9862 && sum < 182522.9863);
    assert_int_equal(x[n].index, -1);
    /* word and char groups are present and L2-normalised to their weight */
    assert_true(value_at(x, n, clf_feature_index_word(&c, "git")) > 0);
    assert_true(value_at(x, n, clf_feature_index_chargram(&c, "git")) > 0);
    assert_true(value_at(x, n, clf_feature_index_struct("ends_q:1")) == 0.5);
    assert_true(value_at(x, n, clf_feature_index_struct("starts_wh:1")) == 0.5);
    assert_true(value_at(x, n, clf_feature_index_struct("tokens:1")) == 0.25);
    clf_extractor_free(ex);
}

/* edge_words = N: the first N and last N words once more, with their own hashes (so in
 * slots of the word group other than the words' own); never more edges than words */
static void test_edge_words(void **state)
{
    (void)state;
    struct clf_feature_config c = small_cfg();
    struct clf_extractor *plain = clf_extractor_new(&c);
    c.edge_words = 2;
    struct clf_extractor *edge = clf_extractor_new(&c);
    assert_non_null(plain);
    assert_non_null(edge);
    struct feature_node *x, *y;
    const char *t = "How do I undo my last git commit?";
    size_t n = clf_extract(plain, t, strlen(t), &x);
    size_t m = clf_extract(edge, t, strlen(t), &y);
    assert_int_equal(m, n + 4); /* how, do; git, commit */
    assert_true(value_at(y, m, clf_feature_index_word(&c, "git")) > 0);
    n = clf_extract(plain, "hi", 2, &x);
    m = clf_extract(edge, "hi", 2, &y);
    assert_int_equal(m, n + 2); /* one word: one head edge, one tail edge */
    n = clf_extract(plain, "", 0, &x);
    m = clf_extract(edge, "", 0, &y);
    assert_int_equal(m, n);
    c.edge_words = CLF_EDGE_WORDS_MAX + 1;
    char err[128];
    assert_int_equal(clf_feature_config_check(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "edge_words must be within 0..32 (got 33)");
    clf_extractor_free(plain);
    clf_extractor_free(edge);
}

static void test_structural_signals(void **state)
{
    (void)state;
    struct clf_feature_config c = small_cfg();
    struct clf_extractor *ex = clf_extractor_new(&c);
    struct feature_node *x;
    const char *code = "fix this\n```python\ndef f(x):\n    return x[0] + g(x);\n```\n";
    size_t n = clf_extract(ex, code, strlen(code), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("fence_lines:1")) > 0);
    assert_true(value_at(x, n, clf_feature_index_struct("indent_lines:1")) > 0);

    const char *docs = "Document 1: the first report.\n\nDocument 2: the second.\n\n"
                       "Document 3: the third.\n\nCompare them.";
    n = clf_extract(ex, docs, strlen(docs), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("doc_markers:3")) > 0);
    assert_true(value_at(x, n, clf_feature_index_struct("paragraphs:2")) > 0);

    const char *mail = "From: Ana\nSubject: dates\n\nHi Tom,\nthe vendor slipped.\nRegards, Ana";
    n = clf_extract(ex, mail, strlen(mail), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("email_marks:3")) > 0);

    const char *math = "what is 3*4 + 12/6 - 2^3 = ?";
    n = clf_extract(ex, math, strlen(math), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("math_ops:3")) > 0);

    const char *log = "2025-01-01 10:00:01 ERROR boom\n2025-01-01 10:00:02 WARN retry\n"
                      "Traceback (most recent call last):\nwhy does this fail";
    n = clf_extract(ex, log, strlen(log), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("log_lines:2")) > 0);

    const char *diff = "@@ -1,3 +1,3 @@\n-old line\n+new line\n context";
    n = clf_extract(ex, diff, strlen(diff), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("diff_lines:2")) > 0);

    const char *talk = "Lena: okay.\nOmar: the database moved.\nJess: fine.\nLena: next.";
    n = clf_extract(ex, talk, strlen(talk), &x);
    assert_true(value_at(x, n, clf_feature_index_struct("speaker_ratio:3")) > 0);
    clf_extractor_free(ex);
}

static void test_empty_and_binary(void **state)
{
    (void)state;
    struct clf_feature_config c = small_cfg();
    struct clf_extractor *ex = clf_extractor_new(&c);
    struct feature_node *x;
    size_t n = clf_extract(ex, "", 0, &x);
    assert_int_equal(n, 26); /* structural bins only */
    n = clf_extract(ex, NULL, 0, &x);
    assert_int_equal(n, 26);
    unsigned char bin[512];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)(i * 7919u);
    n = clf_extract(ex, (const char *)bin, sizeof(bin), &x);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i].index >= 1 && x[i].index <= clf_feature_dim(&c));
    clf_extractor_free(ex);
}

/* A 10 MB prompt: only head and tail are read, so the middle cannot change the
 * features, and the work is that of a small prompt. The middle of the first copy
 * is made unreadable (PROT_NONE), so a read there crashes the test: the bound on
 * the work is checked by the mechanism, not by a wall-clock time. */
static void test_bounded_work_10mb(void **state)
{
    (void)state;
    struct clf_feature_config c = small_cfg();
    struct clf_extractor *ex = clf_extractor_new(&c);
    size_t len = 10u << 20;
    char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *b = malloc(len);
    assert_true(a != MAP_FAILED);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        a[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
        b[i] = (i % 5 == 4) ? '\n' : (char)('0' + i % 10);
    }
    /* same first 2 KB and last 1 KB, different middle */
    memcpy(b, a, 2048);
    memcpy(b + len - 1024, a + len - 1024, 1024);
    /* every page wholly inside [16 KiB, len - 16 KiB): far beyond the 1 KiB head and
     * the 256 B tail (+ up to 64 B to reach whitespace) of small_cfg() */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), margin = 16u << 10;
    size_t lo = (margin + page - 1) / page * page, hi = (len - margin) / page * page;
    assert_true(lo < hi);
    assert_int_equal(mprotect(a + lo, hi - lo, PROT_NONE), 0);
    struct feature_node *x;
    size_t na = clf_extract(ex, a, len, &x);
    struct feature_node *copy = malloc(na * sizeof(*copy));
    memcpy(copy, x, na * sizeof(*copy));
    size_t nb = clf_extract(ex, b, len, &x);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(copy[i].index, x[i].index);
        assert_true(copy[i].value == x[i].value);
    }
    assert_true(value_at(x, nb, clf_feature_index_struct("truncated:1")) > 0);
    free(copy);
    munmap(a, len);
    free(b);
    clf_extractor_free(ex);
}

static void test_config_check(void **state)
{
    (void)state;
    char err[160];
    struct clf_feature_config c = small_cfg();
    assert_int_equal(clf_feature_config_check(&c, err, sizeof(err)), 0);
    c.char_bits = 30;
    assert_int_equal(clf_feature_config_check(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "hash bits must be within 8..20 (got 30)");
    assert_null(clf_extractor_new(&c));
    c = small_cfg();
    c.char_min = 6;
    assert_int_equal(clf_feature_config_check(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "char n-gram range must satisfy 1 <= min <= max <= 8 (got 6..5)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_hashes),     cmocka_unit_test(test_pinned_vector),
        cmocka_unit_test(test_edge_words),
        cmocka_unit_test(test_structural_signals), cmocka_unit_test(test_empty_and_binary),
        cmocka_unit_test(test_bounded_work_10mb), cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
