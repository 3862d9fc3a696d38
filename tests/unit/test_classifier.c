/* Model file (round trip, corrupt, truncated, version and checksum errors with
 * their exact messages), calibration and the cost-aware decision, rules precedence,
 * confidence fallback, fail open. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "classifier/calibration.h"
#include "classifier/chat_text.h"
#include "classifier/classifier.h"
#include "classifier/features.h"
#include "classifier/model.h"
#include "classifier/rules.h"

static char model_path[256];

static const char *const train_text[] = {
    "what is the capital of france",           "translate hello into german",
    "who wrote hamlet",                        "summarise this paragraph in one line",
    "def add(a, b): return a + b  # fix bug",  "how do i revert a git commit",
    "SELECT * FROM users WHERE id = 1;",       "my python script throws KeyError",
    "solve 3x + 5 = 20 for x",                 "what is 15% of 240 plus 12",
    "a train travels 60 km/h for 2.5 hours",   "if all cats are mammals, are some mammals cats",
    "compare these three reports and synthesise a briefing",
    "Document 1: sales up.\nDocument 2: costs up.\nReconcile both documents.",
    "review the literature from several sources on remote work",
    "merge these emails into one timeline and flag conflicts",
};
static const int train_label[] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};

static struct clf_feature_config tiny_cfg(void)
{
    struct clf_feature_config c;
    clf_feature_config_default(&c);
    c.word_bits = c.bigram_bits = c.char_bits = c.shape_bits = 8;
    return c;
}

static int setup(void **state)
{
    (void)state;
    snprintf(model_path, sizeof(model_path), "/tmp/test_classifier_%d.model", (int)getpid());
    struct clf_feature_config c = tiny_cfg();
    struct clf_train_params tp;
    clf_train_params_default(&tp);
    size_t n = sizeof(train_text) / sizeof(train_text[0]), lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(train_text[i]);
    struct clf_model *m;
    char err[256];
    if (clf_model_train(&c, &tp, train_text, lens, train_label, n, &m, err, sizeof(err)) != 0)
        return -1;
    int rc = clf_model_save(m, model_path, err, sizeof(err));
    clf_model_free(m);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    unlink(model_path);
    return 0;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(*len + 1);
    assert_int_equal(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

/* Rewrite a header value and fix the checksum, as a newer writer would. */
static size_t patch_header(unsigned char *buf, size_t len, const char *from, const char *to)
{
    unsigned char *p = memmem(buf, len, from, strlen(from));
    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
    unsigned long crc = clf_crc32(buf, len - 24);
    char tr[25];
    snprintf(tr, sizeof(tr), "checksum crc32 %08lx\n", crc);
    memcpy(buf + len - 24, tr, 24);
    return len;
}

static void expect_load_error(const unsigned char *buf, size_t len, const char *msg)
{
    struct clf_model *m = (struct clf_model *)1;
    char err[256];
    assert_int_equal(clf_model_load_buffer("m.model", buf, len, &m, err, sizeof(err)), -1);
    assert_null(m);
    assert_string_equal(err, msg);
}

static void test_roundtrip_and_predict(void **state)
{
    (void)state;
    struct clf_classifier *c;
    char err[256];
    assert_int_equal(clf_load(model_path, &c, err, sizeof(err)), 0);
    struct clf_result r;
    clf_classify(c, train_text[5], strlen(train_text[5]), NULL, &r);
    assert_int_equal(r.task, WIRE_TASK_CODE);
    assert_false(r.by_rule);
    assert_string_equal(r.reason, "model");
    double s = 0;
    for (int i = 0; i < WIRE_NTASKS; i++)
        s += r.probs[i];
    assert_true(s > 0.999 && s < 1.001);
    assert_true(r.confidence == r.probs[WIRE_TASK_CODE]);
    clf_classify(c, train_text[8], strlen(train_text[8]), NULL, &r);
    assert_int_equal(r.task, WIRE_TASK_REASONING);
    clf_free(c);
}

static void test_saved_file_is_deterministic(void **state)
{
    (void)state;
    char p2[300];
    snprintf(p2, sizeof(p2), "%s.again", model_path);
    struct clf_model *m;
    char err[256];
    assert_int_equal(clf_model_load(model_path, &m, err, sizeof(err)), 0);
    assert_int_equal(clf_model_save(m, p2, err, sizeof(err)), 0);
    clf_model_free(m);
    size_t a, b;
    unsigned char *x = read_all(model_path, &a), *y = read_all(p2, &b);
    assert_int_equal(a, b);
    assert_memory_equal(x, y, a);
    free(x);
    free(y);
    unlink(p2);
}

static void test_load_errors(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_all(model_path, &len);
    char err[256];
    struct clf_model *m;

    assert_int_equal(clf_model_load("/nonexistent/x.model", &m, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/x.model: cannot open: No such file or directory");

    expect_load_error((const unsigned char *)"hello\n", 6,
                      "m.model: not a switchyard task model (bad magic)");

    /* one flipped bit in the weights */
    unsigned char *c1 = malloc(len);
    memcpy(c1, buf, len);
    c1[len - 100] ^= 0x10;
    expect_load_error(c1, len, "m.model: checksum mismatch (file is corrupt or truncated)");
    /* truncated */
    expect_load_error(buf, len - 1000, "m.model: checksum mismatch (file is corrupt or truncated)");
    expect_load_error(buf, 30, "m.model: checksum mismatch (file is corrupt or truncated)");

    memcpy(c1, buf, len);
    patch_header(c1, len, "format_version 2", "format_version 1");
    expect_load_error(c1, len, "m.model: unsupported format_version 1 (this build reads 2)");

    memcpy(c1, buf, len);
    patch_header(c1, len, "temperature 1\n", "temperature 0\n");
    expect_load_error(c1, len, "m.model: line 22: bad value for temperature: \"0\"");

    memcpy(c1, buf, len);
    patch_header(c1, len, "simple_min code 0 ", "simple_min code 2 ");
    expect_load_error(c1, len,
                      "m.model: line 23: bad value for simple_min: \"code 2 reasoning 0 complex 0\"");

    memcpy(c1, buf, len);
    patch_header(c1, len, "features_version 2", "features_version 9");
    expect_load_error(c1, len,
                      "m.model: features_version 9 does not match this build (2); retrain the model");

    memcpy(c1, buf, len);
    patch_header(c1, len, "edge_words 12\n", "edge_words 99\n");
    expect_load_error(c1, len,
                      "m.model: bad feature settings: edge_words must be within 0..32 (got 99)");
    memcpy(c1, buf, len);
    patch_header(c1, len, "edge_words 12\n", "edge_words x2\n");
    expect_load_error(c1, len, "m.model: line 21: bad value for edge_words: \"x2\"");

    /* a hand-edited weight that is not a number would make every probability NaN */
    memcpy(c1, buf, len);
    {
        const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
        memcpy(c1 + len - 24 - 4 * 7, nan_le, 4);
        patch_header(c1, len, "solver L2R_LR", "solver L2R_LR");
        expect_load_error(c1, len, "m.model: weight 4733 (row 1184, class 2) is not a finite number");
    }

    memcpy(c1, buf, len);
    patch_header(c1, len, "char_bits 8", "char_bits 9");
    expect_load_error(c1, len,
                      "m.model: weight matrix 1185x4 does not match the feature settings (1441x4)");

    memcpy(c1, buf, len);
    patch_header(c1, len, "solver L2R_LR", "solver L1R_LR");
    expect_load_error(c1, len, "m.model: line 5: bad value for solver: \"L1R_LR\"");
    free(c1);
    free(buf);
}

static void test_train_errors(void **state)
{
    (void)state;
    struct clf_feature_config c = tiny_cfg();
    struct clf_train_params tp;
    clf_train_params_default(&tp);
    const char *t[2] = {"a", "b"};
    size_t l[2] = {1, 1};
    int y[2] = {0, 1};
    struct clf_model *m;
    char err[256];
    assert_int_equal(clf_model_train(&c, &tp, t, l, y, 2, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "training data has no rows of class reasoning");
}

static void test_rules_precedence(void **state)
{
    (void)state;
    char err[256];
    struct clf_rules *r;
    assert_int_equal(clf_rules_parse_json("{\"code_fence\": true, \"long_input_tokens\": 10,"
                                          " \"long_input_task\": \"complex\","
                                          " \"patterns\": [{\"regex\": \"\\\\bkubectl\\\\b\","
                                          " \"task\": \"simple\"}]}",
                                          &r, err, sizeof(err)),
                     0);
    wire_task t;
    const char *why;
    /* pattern beats long input beats fence */
    static const struct {
        const char *text;
        wire_task task;
        const char *why;
    } cases[] = {
        {"kubectl get pods\n```\ncode\n```\nand more than forty bytes of text", WIRE_TASK_SIMPLE,
         "pattern 0"},
        {"```\nint main(void) { return 0; }\n```\n and more text here", WIRE_TASK_COMPLEX,
         "long input"},
        {"```\nx=1\n```", WIRE_TASK_CODE, "code fence"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_true(clf_rules_match(r, cases[i].text, strlen(cases[i].text), &t, &why));
        assert_int_equal(t, cases[i].task);
        assert_string_equal(why, cases[i].why);
    }
    assert_false(clf_rules_match(r, "hi there", 8, &t, &why));
    assert_false(clf_rules_match(NULL, "x", 1, &t, &why));

    /* classify: rules first, even with no model (fail open only when nothing decides) */
    struct clf_result res;
    clf_classify(NULL, cases[2].text, strlen(cases[2].text), r, &res); /* the fence */
    assert_int_equal(res.task, WIRE_TASK_CODE);
    assert_true(res.by_rule);
    assert_true(res.confidence == 1.0);
    clf_classify(NULL, "hi", 2, r, &res);
    assert_int_equal(res.task, WIRE_TASK_NONE);
    assert_string_equal(res.reason, "no model");
    clf_classify(NULL, NULL, 0, r, &res);
    assert_int_equal(res.task, WIRE_TASK_NONE);
    clf_rules_free(r);

    /* a fence past the head window is still seen in the tail window */
    size_t big = 64 * 1024;
    char *text = malloc(big);
    memset(text, 'a', big);
    memcpy(text + big - 12, "\n```\nx\n```\n", 11);
    text[big - 1] = 'z';
    struct clf_rules *def = clf_rules_new();
    assert_true(clf_rules_match(def, text, big, &t, &why));
    assert_int_equal(t, WIRE_TASK_CODE);
    clf_rules_free(def);
    free(text);
}

static void test_rules_parse_errors(void **state)
{
    (void)state;
    char err[256];
    struct clf_rules *r;
    assert_int_equal(clf_rules_parse_json("{\"code_fence\": 1}", &r, err, sizeof(err)), -1);
    assert_string_equal(err, "$.code_fence: must be a boolean");
    assert_null(r);
    assert_int_equal(clf_rules_parse_json("{\"fallback_task\": \"big\"}", &r, err, sizeof(err)), -1);
    assert_string_equal(err,
                        "$.fallback_task: must be one of simple, code, reasoning, complex, default");
    assert_int_equal(clf_rules_parse_json("{\"tools_task\": \"default\"}", &r, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "$.tools_task: must be one of simple, code, reasoning, complex, none");
    assert_int_equal(clf_rules_parse_json("{\"tools_task\": 3}", &r, err, sizeof(err)), -1);
    assert_string_equal(err, "$.tools_task: must be one of simple, code, reasoning, complex, none");
    /* the tools rule: complex by default, with or without rules; "none" turns it off */
    assert_int_equal(clf_rules_tools_task(NULL), WIRE_TASK_COMPLEX);
    assert_int_equal(clf_rules_parse_json("{}", &r, err, sizeof(err)), 0);
    assert_int_equal(clf_rules_tools_task(r), WIRE_TASK_COMPLEX);
    clf_rules_free(r);
    assert_int_equal(clf_rules_parse_json("{\"tools_task\": \"code\"}", &r, err, sizeof(err)), 0);
    assert_int_equal(clf_rules_tools_task(r), WIRE_TASK_CODE);
    clf_rules_free(r);
    assert_int_equal(clf_rules_parse_json("{\"tools_task\": \"none\"}", &r, err, sizeof(err)), 0);
    assert_int_equal(clf_rules_tools_task(r), WIRE_TASK_NONE);
    clf_rules_free(r);
    assert_int_equal(clf_rules_parse_json("{\"patterns\": [{\"regex\": \"(\", \"task\": \"code\"}]}",
                                          &r, err, sizeof(err)),
                     -1);
    assert_true(strncmp(err, "$.patterns[0].regex: bad regex \"(\": ", 36) == 0);
    assert_int_equal(clf_rules_parse_json("{\"patterns\": [{\"regex\": \"(a)\\\\1\", \"task\": "
                                          "\"code\"}]}",
                                          &r, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "$.patterns[0].regex: back-references are not allowed in patterns");
    assert_int_equal(clf_rules_parse_json("{\"min_confidence\": 2}", &r, err, sizeof(err)), -1);
    assert_string_equal(err, "$.min_confidence: must be a number within 0..1");
    assert_int_equal(clf_rules_parse_json("{\"colour\": 2}", &r, err, sizeof(err)), -1);
    assert_string_equal(err, "$.colour: unknown key");
    assert_int_equal(clf_rules_parse_json("[", &r, err, sizeof(err)), -1);
}

static void test_fallback_below_confidence(void **state)
{
    (void)state;
    struct clf_classifier *c;
    char err[256];
    assert_int_equal(clf_load(model_path, &c, err, sizeof(err)), 0);
    struct clf_rules *r;
    assert_int_equal(clf_rules_parse_json("{\"min_confidence\": 0.999, \"fallback_task\": "
                                          "\"complex\"}",
                                          &r, err, sizeof(err)),
                     0);
    struct clf_result res;
    const char *t = "hello there";
    clf_classify(c, t, strlen(t), r, &res);
    assert_int_equal(res.task, WIRE_TASK_COMPLEX);
    assert_true(res.fallback);
    assert_string_equal(res.reason, "fallback");
    assert_true(res.confidence < 0.999);
    clf_rules_free(r);

    /* fallback "default" means the default model */
    assert_int_equal(clf_rules_parse_json("{\"min_confidence\": 0.999, \"fallback_task\": "
                                          "\"default\"}",
                                          &r, err, sizeof(err)),
                     0);
    clf_classify(c, t, strlen(t), r, &res);
    assert_int_equal(res.task, WIRE_TASK_NONE);
    assert_true(res.fallback);
    clf_rules_free(r);

    /* threshold 0: the model's answer stands */
    r = clf_rules_new();
    clf_rules_set_code_fence(r, false);
    clf_classify(c, t, strlen(t), r, &res);
    assert_false(res.fallback);
    assert_int_not_equal(res.task, WIRE_TASK_NONE);
    clf_rules_free(r);
    clf_free(c);
}

static void test_fail_open_on_bad_model(void **state)
{
    (void)state;
    struct clf_classifier *c = (struct clf_classifier *)1;
    char err[256];
    assert_int_equal(clf_load("/nonexistent.model", &c, err, sizeof(err)), -1);
    assert_null(c);
    struct clf_result res;
    clf_classify(c, "hello", 5, NULL, &res);
    assert_int_equal(res.task, WIRE_TASK_NONE);
    assert_string_equal(wire_task_str(res.task), "none");
    clf_free(NULL);
}

static void test_task_names(void **state)
{
    (void)state;
    wire_task t;
    assert_int_equal(clf_target_parse("reasoning", &t), 0);
    assert_int_equal(t, WIRE_TASK_REASONING);
    assert_int_equal(clf_target_parse("default", &t), 0);
    assert_int_equal(t, WIRE_TASK_NONE);
    assert_int_equal(clf_target_parse("Code", &t), -1);
    assert_string_equal(wire_task_str(WIRE_TASK_COMPLEX), "complex");
    assert_int_equal(clf_estimate_tokens(0), 0);
    assert_int_equal(clf_estimate_tokens(9), 3);
}

static void test_default_model_path(void **state)
{
    (void)state;
    setenv("SWITCHYARD_CLASSIFIER_MODEL", "/x/y.model", 1);
    assert_string_equal(clf_default_model_path(), "/x/y.model");
    unsetenv("SWITCHYARD_CLASSIFIER_MODEL");
    const char *p = clf_default_model_path();
    size_t n = strlen(p), k = strlen("classifier/model/switchyard-task.model");
    assert_true(n >= k && strcmp(p + n - k, "classifier/model/switchyard-task.model") == 0);
}


/* softmax(dec / T), pinned; T does not change the top class */
static void test_calib_probs(void **state)
{
    (void)state;
    const double dec[4] = {1.0, 2.0, 0.0, -1.0};
    double p[4];
    assert_int_equal(clf_calib_probs(dec, 1.0, p), 1);
    assert_true(fabs(p[1] - 0.6439142598879722) < 1e-12);
    assert_true(fabs(p[0] - 0.2368828180899101) < 1e-12);
    assert_int_equal(clf_calib_probs(dec, 2.0, p), 1);
    assert_true(fabs(p[1] - 0.4550542339234112) < 1e-12);
    double s = p[0] + p[1] + p[2] + p[3];
    assert_true(fabs(s - 1) < 1e-12);
}

/* a simple verdict below its threshold becomes the likeliest costly class */
static void test_calib_decide(void **state)
{
    (void)state;
    const double thr[4] = {0, 0.7, 0.5, 0.9};
    bool demoted;
    const double a[4] = {0.60, 0.30, 0.05, 0.05}; /* runner-up code: needs 0.7 */
    assert_int_equal(clf_calib_decide(a, thr, &demoted), WIRE_TASK_CODE);
    assert_true(demoted);
    const double b[4] = {0.60, 0.05, 0.30, 0.05}; /* runner-up reasoning: needs 0.5 */
    assert_int_equal(clf_calib_decide(b, thr, &demoted), WIRE_TASK_SIMPLE);
    assert_false(demoted);
    const double c[4] = {0.20, 0.05, 0.70, 0.05}; /* not simple: stands */
    assert_int_equal(clf_calib_decide(c, thr, &demoted), WIRE_TASK_REASONING);
    assert_false(demoted);
    const double zero[4] = {0, 0, 0, 0};
    assert_int_equal(clf_calib_decide(a, zero, &demoted), WIRE_TASK_SIMPLE);
}

/* Thresholds: the fewest simple rows moved while no costly class loses more than the
 * budget; temperature: a confident but often wrong model gets T > 1. */
static void test_calib_fit(void **state)
{
    (void)state;
    /* rows 0-5 true simple, 6-9 true code; scores favour simple in rows 0-7 */
    const double dec[10][4] = {
        {3, 0, 0, 0},   {3, 0.5, 0, 0}, {2, 1.0, 0, 0}, {2, 1.5, 0, 0}, {4, 0, 0, 0},
        {3, 0, 1, 0},   {2, 1.2, 0, 0}, {2, 1.8, 0, 0}, {0, 3, 0, 0},   {0, 3, 0, 0},
    };
    const int y[10] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    double thr[4];
    clf_calib_fit_thresholds(dec, y, 10, 1.0, 0.0, 0.0, thr);
    /* both code rows (p(simple) 0.581 and 0.479 at T=1) must be rescued: first the lower
     * one for free, then the higher one at the cost of the simple row at 0.533; the
     * threshold sits halfway between 0.581 and the next row up (0.610, simple) */
    double p6[4], p7[4], p2[4];
    clf_calib_probs(dec[6], 1.0, p6);
    clf_calib_probs(dec[7], 1.0, p7);
    clf_calib_probs(dec[2], 1.0, p2);
    assert_true(fabs(thr[WIRE_TASK_CODE] - (p6[0] + p2[0]) / 2) < 1e-12);
    assert_true(thr[WIRE_TASK_REASONING] == 0 && thr[WIRE_TASK_COMPLEX] == 0);
    bool d;
    assert_int_equal(clf_calib_decide(p6, thr, &d), WIRE_TASK_CODE);
    assert_int_equal(clf_calib_decide(p7, thr, &d), WIRE_TASK_CODE);
    assert_int_equal(clf_calib_decide(p2, thr, &d), WIRE_TASK_SIMPLE);
    /* a budget of 30% (1.2 of 4 rows): one code row may stay simple, the cheaper one is rescued */
    clf_calib_fit_thresholds(dec, y, 10, 1.0, 0.3, 1.0, thr);
    assert_true(thr[WIRE_TASK_CODE] > p7[0] && thr[WIRE_TASK_CODE] < p6[0]);

    /* confident and wrong half the time: the fitted temperature softens it */
    const double sure[4][4] = {{5, 0, 0, 0}, {5, 0, 0, 0}, {0, 5, 0, 0}, {0, 5, 0, 0}};
    const int ys[4] = {0, 1, 1, 0};
    double t = clf_calib_fit_temperature(sure, ys, 4);
    assert_true(t > 2 && t <= 20);
    const int yr[4] = {0, 0, 1, 1};
    assert_true(clf_calib_fit_temperature(sure, yr, 4) < 1);
}

static void test_calib_reliability(void **state)
{
    (void)state;
    const double conf[5] = {0.95, 0.92, 0.55, 0.58, 1.0};
    const bool ok[5] = {true, false, true, true, true};
    struct clf_calib_bin b[CLF_CALIB_BINS];
    double ece = clf_calib_reliability(conf, ok, 5, b);
    assert_int_equal(b[9].n, 3);
    assert_int_equal(b[9].correct, 2);
    assert_int_equal(b[5].n, 2);
    /* |2 - 2.87| / 5 + |2 - 1.13| / 5 */
    assert_true(fabs(ece - (0.87 + 0.87) / 5) < 1e-12);
}

/* the classifier applies the model's thresholds: a simple verdict is demoted */
static void test_classify_demotes_unsure_simple(void **state)
{
    (void)state;
    struct clf_model *m;
    char err[256], p2[300];
    assert_int_equal(clf_model_load(model_path, &m, err, sizeof(err)), 0);
    const double thr[4] = {0, 1, 1, 1}; /* simple never stands */
    clf_model_set_decision(m, 1.0, thr);
    snprintf(p2, sizeof(p2), "%s.strict", model_path);
    assert_int_equal(clf_model_save(m, p2, err, sizeof(err)), 0);
    clf_model_free(m);
    struct clf_classifier *c;
    assert_int_equal(clf_load(p2, &c, err, sizeof(err)), 0);
    struct clf_result r;
    clf_classify(c, train_text[0], strlen(train_text[0]), NULL, &r);
    assert_true(r.demoted);
    assert_int_not_equal(r.task, WIRE_TASK_SIMPLE);
    assert_string_equal(r.reason, "cost threshold");
    assert_true(r.confidence == r.probs[r.task]);
    assert_true(r.probs[WIRE_TASK_SIMPLE] > r.probs[r.task]); /* the model said simple */
    clf_free(c);
    unlink(p2);
    /* the default (no thresholds) leaves it simple */
    assert_int_equal(clf_load(model_path, &c, err, sizeof(err)), 0);
    clf_classify(c, train_text[0], strlen(train_text[0]), NULL, &r);
    assert_int_equal(r.task, WIRE_TASK_SIMPLE);
    assert_false(r.demoted);
    clf_free(c);
}

/* The last user turn is the text (its parts joined, each with a newline); the earlier
 * messages, oldest first, are the context; messages after the last user turn are not. */
static void test_chat_text(void **state)
{
    (void)state;
    json_error_t je;
    json_t *msgs = json_loads(
        "[{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":\"write a python sort\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"def f(x):\"},"
        "{\"type\":\"text\",\"text\":\"  return sorted(x)\"}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"now add\"},"
        "{\"type\":\"image_url\"},{\"type\":\"text\",\"text\":\"type hints\"}]},"
        "{\"role\":\"assistant\",\"content\":\"prefill\"}]",
        0, &je);
    assert_non_null(msgs);
    struct clf_chat_text t;
    clf_chat_text(msgs, &t);
    assert_int_equal(t.len, strlen("now add\ntype hints\n"));
    assert_memory_equal(t.text, "now add\ntype hints\n", t.len);
    const char *ctx = "be brief\nwrite a python sort\ndef f(x):\n  return sorted(x)\n";
    assert_int_equal(t.clen, strlen(ctx));
    assert_memory_equal(t.context, ctx, t.clen);
    clf_chat_text_free(&t);
    /* the first turn as it was the last: the first user message, the system prompt before */
    clf_chat_text_first(msgs, &t);
    assert_int_equal(t.len, strlen("write a python sort"));
    assert_memory_equal(t.text, "write a python sort", t.len);
    assert_int_equal(t.clen, strlen("be brief\n"));
    assert_memory_equal(t.context, "be brief\n", t.clen);
    clf_chat_text_free(&t);
    json_decref(msgs);

    /* a long history keeps the nearest CLF_CONTEXT_BYTES */
    char big[2000];
    memset(big, 'a', sizeof(big) - 2);
    big[sizeof(big) - 2] = 'z';
    big[sizeof(big) - 1] = 0;
    msgs = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "old",
                     "role", "assistant", "content", big, "role", "user", "content", "and?");
    clf_chat_text(msgs, &t);
    assert_int_equal(t.len, 4);
    assert_int_equal(t.clen, CLF_CONTEXT_BYTES);
    assert_memory_equal(t.context + CLF_CONTEXT_BYTES - 2, "z\n", 2);
    assert_true(t.context[0] == 'a');
    clf_chat_text_free(&t);
    json_decref(msgs);

    /* no user message: nothing to judge */
    msgs = json_pack("[{s:s,s:s}]", "role", "system", "content", "hi");
    clf_chat_text(msgs, &t);
    assert_int_equal(t.len, 0);
    assert_int_equal(t.clen, 0);
    assert_string_equal(t.text, "");
    clf_chat_text_first(msgs, &t);
    assert_int_equal(t.len, 0);
    assert_int_equal(t.clen, 0);
    assert_string_equal(t.text, "");
    json_decref(msgs);

    /* a first user message in parts is judged whole, as chat_classify judged it */
    msgs = json_loads("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                      "{\"type\":\"text\",\"text\":\"b\"}]},"
                      "{\"role\":\"assistant\",\"content\":\"ok\"},"
                      "{\"role\":\"user\",\"content\":\"c\"}]",
                      0, &je);
    assert_non_null(msgs);
    clf_chat_text_first(msgs, &t);
    assert_int_equal(t.len, 4);
    assert_memory_equal(t.text, "a\nb\n", 4);
    assert_int_equal(t.clen, 0);
    clf_chat_text_free(&t);
    json_decref(msgs);
}

/* The earlier turns move the scores by CLF_CONTEXT_WEIGHT of theirs; none is clf_classify */
static void test_classify_chat_context(void **state)
{
    (void)state;
    struct clf_classifier *c;
    char err[256];
    assert_int_equal(clf_load(model_path, &c, err, sizeof(err)), 0);
    struct clf_result a, b, d;
    const char *last = "and now?";
    clf_classify(c, last, strlen(last), NULL, &a);
    clf_classify_chat(c, last, strlen(last), NULL, 0, NULL, &b);
    assert_memory_equal(a.probs, b.probs, sizeof(a.probs));
    const char *ctx = train_text[6]; /* SQL: code */
    clf_classify_chat(c, last, strlen(last), ctx, strlen(ctx), NULL, &d);
    assert_true(d.probs[WIRE_TASK_CODE] > a.probs[WIRE_TASK_CODE]);
    clf_set_context_weight(c, 0);
    clf_classify_chat(c, last, strlen(last), ctx, strlen(ctx), NULL, &d);
    assert_memory_equal(a.probs, d.probs, sizeof(a.probs));
    clf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_predict), cmocka_unit_test(test_saved_file_is_deterministic),
        cmocka_unit_test(test_load_errors),           cmocka_unit_test(test_train_errors),
        cmocka_unit_test(test_rules_precedence),      cmocka_unit_test(test_rules_parse_errors),
        cmocka_unit_test(test_fallback_below_confidence), cmocka_unit_test(test_fail_open_on_bad_model),
        cmocka_unit_test(test_task_names),            cmocka_unit_test(test_default_model_path),
        cmocka_unit_test(test_calib_probs),           cmocka_unit_test(test_calib_decide),
        cmocka_unit_test(test_calib_fit),             cmocka_unit_test(test_calib_reliability),
        cmocka_unit_test(test_classify_demotes_unsure_simple),
        cmocka_unit_test(test_chat_text),
        cmocka_unit_test(test_classify_chat_context),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
