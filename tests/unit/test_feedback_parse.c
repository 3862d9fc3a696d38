/* The feedback webhook's pure half: parser and validator (exact paths and reasons),
 * canonical content hash (pinned), RFC 3339 times, and the signature check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/cohort.h"
#include "router/feedback_parse.h"
#include "wire/sig.h"

/* The time of receipt the tests pretend: 2026-11-28T03:00:00Z; the allowed skew 300 s. */
#define NOW_US 1795834800000000LL
#define SKEW_S 300

static void parse_fb(const char *json, rt_fb_batch *b)
{
    char err[512];
    if (rt_fb_parse_feedback(json, strlen(json), 1000, NOW_US, SKEW_S, b, err, sizeof(err)) !=
        RT_FB_PARSE_OK)
        fail_msg("unexpected body error: %s", err);
}

/* The first item error of a body (all-or-nothing answer), or the body error. */
static void expect_error(const char *json, const char *want)
{
    rt_fb_batch b;
    char err[512];
    rt_fb_parse_status st =
        rt_fb_parse_feedback(json, strlen(json), 3, NOW_US, SKEW_S, &b, err, sizeof(err));
    const char *got = st == RT_FB_PARSE_OK ? (b.nerrors ? b.items[b.first_error].error : "(none)")
                                           : err;
    if (strcmp(got, want))
        fail_msg("got \"%s\", want \"%s\"", got, want);
    rt_fb_batch_free(&b);
}

static void test_single_object(void **state)
{
    (void)state;
    rt_fb_batch b;
    parse_fb("{\"feedback_id\":\"f1\",\"request_id\":\"r1\",\"kind\":\"thumb\",\"value\":\"up\"}", &b);
    assert_int_equal(b.n, 1);
    assert_false(b.is_array);
    assert_int_equal(b.nerrors, 0);
    const rt_fb_item *it = &b.items[0];
    assert_string_equal(it->feedback_id, "f1");
    assert_string_equal(it->request_id, "r1");
    assert_int_equal(it->kind, RT_FB_THUMB);
    assert_string_equal(rt_fb_kind_column(it->kind), "thumbs");
    assert_string_equal(it->value, "up");
    assert_null(it->comment);
    assert_string_equal(it->user_hash, "");
    assert_false(it->has_created_at);
    assert_int_equal(it->dup_of, -1);
    /* pinned: SHA-256 of "11:feedback.v1;2:f1;2:r1;5:thumb;2:up;-;-;-;-;" */
    assert_string_equal(it->content_hash,
                        "5f5c60e8f0d24f7d90ac242410ae55b216cdd266314dbc0a4d8db97123df3502");
    rt_fb_batch_free(&b);
}

static void test_batch_fields(void **state)
{
    (void)state;
    rt_fb_batch b;
    parse_fb("[{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"rating\",\"value\":4,"
             "  \"comment\":\"nice\",\"user_id\":\"alice\",\"created_at\":\"2026-11-28T03:00:00.5+01:00\"},"
             " {\"feedback_id\":\"b\",\"request_id\":\"r\",\"kind\":\"comment\",\"comment\":\"hi\","
             "  \"value\":null,\"user_id\":null},"
             " {\"feedback_id\":\"c\",\"request_id\":\"r\",\"kind\":\"ticket\",\"value\":\"urgent\"},"
             " {\"feedback_id\":\"d\",\"request_id\":\"r\",\"kind\":\"ticket\"},"
             " {\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"rating\",\"value\":4,"
             "  \"comment\":\"nice\",\"user_id\":\"alice\",\"created_at\":\"2026-11-28T02:00:00.500Z\"}]",
             &b);
    assert_int_equal(b.n, 5);
    assert_true(b.is_array);
    assert_int_equal(b.nerrors, 0);
    assert_int_equal(b.items[0].rating, 4);
    assert_null(b.items[0].value);
    assert_string_equal(b.items[0].comment, "nice");
    char uh[17];
    exp_user_hash("alice", 5, uh);
    assert_string_equal(b.items[0].user_hash, uh);
    assert_true(b.items[0].has_created_at);
    assert_string_equal(b.items[0].created_at, "2026-11-28T02:00:00.500000Z");
    assert_int_equal(b.items[1].kind, RT_FB_COMMENT);
    assert_null(b.items[1].value);
    assert_string_equal(b.items[1].user_hash, "");
    assert_string_equal(b.items[2].value, "urgent");
    assert_null(b.items[3].value);
    /* the same instant with another offset is the same content: folded into [0] */
    assert_int_equal(b.items[4].dup_of, 0);
    assert_string_equal(b.items[4].content_hash, b.items[0].content_hash);
    assert_string_not_equal(b.items[1].content_hash, b.items[0].content_hash);
    rt_fb_batch_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", "body: invalid JSON at line 1 column 0: '[' or '{' expected near end of file");
    expect_error("[]", "body: a batch must hold 1 to 3 items (got 0)");
    expect_error("[{},{},{},{}]", "body: a batch must hold 1 to 3 items (got 4)");
    expect_error("{\"feedback_id\":\"a\",\"feedback_id\":\"b\"}",
                 "body: invalid JSON at line 1 column 32: duplicate object key near '\"feedback_id\"'");
    expect_error("[1]", "[0]: must be an object");
    expect_error("{}", "feedback_id: required");
    expect_error("{\"feedback_id\":\"a\",\"x\":1}", "x: unknown field");
    expect_error("{\"feedback_id\":\"a\",\"x: y\":1}",
                 "body: unknown field (a name that is not a field of this object)");
    expect_error("[{\"\":1}]", "[0]: unknown field (a name that is not a field of this object)");
    expect_error("[{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\"},"
                 " {\"feedback_id\":\"b\",\"request_id\":\"r\",\"kind\":\"rating\",\"value\":0}]",
                 "[1].value: rating must be an integer from 1 to 5");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"rating\",\"value\":5.0}",
                 "value: rating must be an integer from 1 to 5");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"rating\"}",
                 "value: required for kind rating (an integer from 1 to 5)");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumbs\",\"value\":\"up\"}",
                 "kind: must be one of thumb, rating, comment, ticket");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":true}",
                 "value: thumb must be \"up\" or \"down\"");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"ticket\",\"value\":\"p1\"}",
                 "value: ticket severity must be one of low, normal, high, urgent");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"comment\",\"comment\":\"\"}",
                 "comment: required and non-empty for kind comment");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\","
                 "\"created_at\":\"2026-11-28 03:00:00\"}",
                 "created_at: must be an RFC 3339 date-time such as 2026-11-28T03:00:00Z");
    /* the sender's clock may be ahead by the skew (300 s), not one microsecond more */
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\","
                 "\"created_at\":\"2026-11-28T03:05:00Z\"}",
                 "(none)");
    expect_error("{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\","
                 "\"created_at\":\"2026-11-28T04:05:00.000001+01:00\"}",
                 "created_at: is in the future (more than 300 seconds after the time of receipt)");
    expect_error("[{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\"},"
                 " {\"feedback_id\":\"b\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\","
                 "\"created_at\":\"2027-01-01T00:00:00Z\"}]",
                 "[1].created_at: is in the future (more than 300 seconds after the time of receipt)");
    expect_error("[{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"up\"},"
                 " {\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"thumb\",\"value\":\"down\"}]",
                 "[1].feedback_id: repeats [0] with different content");
    /* comment: 4096 bytes is fine, 4097 is not */
    char *big = malloc(5000);
    int n = snprintf(big, 5000, "{\"feedback_id\":\"a\",\"request_id\":\"r\",\"kind\":\"comment\","
                                "\"comment\":\"");
    memset(big + n, 'c', 4097);
    strcpy(big + n + 4097, "\"}");
    expect_error(big, "comment: must be at most 4096 bytes of UTF-8 (got 4097)");
    strcpy(big + n + 4096, "\"}");
    expect_error(big, "(none)");
    free(big);
}

static void test_error_path(void **state)
{
    (void)state;
    char p[32];
    rt_fb_error_path("[3].value: rating must be an integer from 1 to 5", p, sizeof(p));
    assert_string_equal(p, "[3].value");
    rt_fb_error_path("body: x", p, sizeof(p));
    assert_string_equal(p, "body");
}

static void test_labels(void **state)
{
    (void)state;
    rt_fb_batch b;
    char err[256];
    const char *j = "[{\"request_id\":\"r\",\"task_type\":\"code\",\"labeller\":\"ann\",\"prompt\":\"p\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"code\",\"labeller\":\"ann\",\"prompt\":\"p\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"reasoning\",\"labeller\":\"ann\",\"prompt\":\"p\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"poetry\",\"labeller\":\"bob\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"code\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"Code\",\"labeller\":\"cy\"},"
                    " {\"request_id\":\"r\",\"task_type\":\"none\",\"labeller\":\"cy\"},"
                    " {\"request_id\":\"r\",\"task_type\":7,\"labeller\":\"cy\"},"
                    " {\"request_id\":\"r2\",\"task_type\":\"simple\",\"labeller\":\"cy\"},"
                    " {\"request_id\":\"r3\",\"task_type\":\"complex\",\"labeller\":\"cy\"}]";
    assert_int_equal(rt_fb_parse_labels(j, strlen(j), 1000, &b, err, sizeof(err)), RT_FB_PARSE_OK);
    assert_int_equal(b.n, 10);
    assert_int_equal(b.nerrors, 6);
    assert_null(b.labels[0].error);
    assert_string_equal(b.labels[0].prompt, "p");
    assert_int_equal(b.labels[1].dup_of, 0);
    assert_string_equal(b.labels[2].error,
                        "[2].labeller: repeats [0] (same request_id and labeller) with a different "
                        "task_type or prompt");
    const char *want = "task_type: must be one of the classifier's task types: simple, code, "
                       "reasoning, complex";
    char path_want[160];
    for (int i = 3; i <= 7; i++) {
        if (i == 4)
            continue;
        snprintf(path_want, sizeof(path_want), "[%d].%s", i, want);
        assert_string_equal(b.labels[i].error, path_want);
    }
    assert_string_equal(b.labels[4].error, "[4].labeller: required");
    assert_null(b.labels[8].error);
    assert_null(b.labels[9].error);
    rt_fb_batch_free(&b);
}

static void test_rfc3339(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok;
        int64_t us;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 1, 0},
        {"2026-11-28T03:00:00Z", 1, 1795834800LL * 1000000},
        {"2026-11-28t03:00:00z", 1, 1795834800LL * 1000000},
        {"2026-11-28T04:30:00+01:30", 1, 1795834800LL * 1000000},
        {"2026-11-27T22:00:00-05:00", 1, 1795834800LL * 1000000},
        {"2026-11-28T03:00:00.123456789Z", 1, 1795834800LL * 1000000 + 123456},
        {"2026-11-28T03:00:00.5Z", 1, 1795834800LL * 1000000 + 500000},
        {"2024-02-29T00:00:00Z", 1, 1709164800LL * 1000000},
        {"1969-12-31T23:59:59Z", 1, -1000000},
        {"2025-02-29T00:00:00Z", 0, 0},
        {"2026-13-01T00:00:00Z", 0, 0},
        {"2026-11-28T24:00:00Z", 0, 0},
        {"2026-11-28T03:00:00", 0, 0},
        {"2026-11-28T03:00:00.Z", 0, 0},
        {"2026-11-28T03:00:00.1234567891Z", 0, 0},
        {"2026-11-28T03:00:00+1:00", 0, 0},
        {"2026-11-28T03:00:00Zjunk", 0, 0},
        {"26-11-28T03:00:00Z", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t us = -42;
        int rc = rt_fb_parse_rfc3339(cases[i].s, &us);
        if ((rc == 0) != cases[i].ok)
            fail_msg("%s: rc %d", cases[i].s, rc);
        if (cases[i].ok && us != cases[i].us)
            fail_msg("%s: %lld, want %lld", cases[i].s, (long long)us, (long long)cases[i].us);
    }
    char out[32];
    rt_fb_format_utc(1795834800LL * 1000000 + 7, out, sizeof(out));
    assert_string_equal(out, "2026-11-28T03:00:00.000007Z");
    rt_fb_format_utc(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
}

static void test_signature(void **state)
{
    (void)state;
    const char *body = "{\"a\":1}";
    size_t len = strlen(body);
    char sig[65];
    assert_int_equal(wire_sig_sign("key", 3, 1700000000, body, len, sig), 0);
    /* pinned: python3 hmac.new(b"key", b'1700000000.{"a":1}', sha256) */
    assert_string_equal(sig, "a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03");
    wire_sig_secret secrets[] = {{"new", 3}, {"key", 3}};
    char hdr[256];
    int m = -1;
    snprintf(hdr, sizeof(hdr), "t=1700000000,v1=%s", sig);
    assert_int_equal(wire_sig_verify(hdr, body, len, 1700000000, 300, secrets, 2, &m), WIRE_SIG_OK);
    assert_int_equal(m, 1); /* the second (rotation) secret matched */
    assert_int_equal(wire_sig_verify(hdr, body, len, 1700000300, 300, secrets, 2, &m), WIRE_SIG_OK);
    assert_int_equal(wire_sig_verify(hdr, body, len, 1700000301, 300, secrets, 2, &m), WIRE_SIG_STALE);
    assert_int_equal(wire_sig_verify(hdr, body, len, 1699999699, 300, secrets, 2, &m), WIRE_SIG_STALE);
    assert_int_equal(wire_sig_verify(hdr, body, len, 1700000000, 300, secrets, 1, &m),
                     WIRE_SIG_MISMATCH);
    assert_int_equal(wire_sig_verify(hdr, "{\"a\":2}", len, 1700000000, 300, secrets, 2, &m),
                     WIRE_SIG_MISMATCH);
    /* spaces, upper-case hex, extra schemes and several v1 entries */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    snprintf(hdr, sizeof(hdr), "t=1700000000, v0=zz, v1=%064d, v1=%s", 0, upper);
    assert_int_equal(wire_sig_verify(hdr, body, len, 1700000000, 300, secrets, 2, &m), WIRE_SIG_OK);
    assert_int_equal(wire_sig_verify(NULL, body, len, 1700000000, 300, secrets, 2, &m), WIRE_SIG_MISSING);
    static const char *const malformed[] = {
        "", "t=1700000000", "v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03",
        "t=17e8,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03",
        "t=1700000000,v1=a438", "t=1,t=2,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03",
        "t=1700000000,v1=g438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03",
        "t1700000000", "t=,v1=", "t=1234567890123,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        if (wire_sig_verify(malformed[i], body, len, 1700000000, 300, secrets, 2, &m) !=
            WIRE_SIG_MALFORMED)
            fail_msg("not malformed: \"%s\"", malformed[i]);
    assert_string_equal(wire_sig_status_str(WIRE_SIG_STALE), "stale");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_object), cmocka_unit_test(test_batch_fields),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_error_path),
        cmocka_unit_test(test_labels),        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
