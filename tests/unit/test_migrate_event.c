/* ingest's pure part: request event JSON -> one COPY text line (ingest/event.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/event.h"
#include "tests/unit/event_binary.h"
#include "tests/unit/event_reference.h"

#define MAXCOLS 64

static int convert(const char *json, struct ing_buf *out, char *reason, size_t reasonlen)
{
    return ing_event_to_copy(json, strlen(json), out, reason, reasonlen);
}

/* The COPY column names, in order, from ing_event_sql(); returns the count. Tests look
 * columns up by name so that adding a column does not break them. */
static int columns(char names[MAXCOLS][64])
{
    char create[4096], copy[2048], insert[4096];
    int n = 0;
    assert_int_equal(ing_event_sql("t", create, sizeof(create), copy, sizeof(copy), insert,
                                   sizeof(insert)),
                     0);
    const char *p = strchr(copy, '(') + 1;
    while (*p && *p != ')' && n < MAXCOLS) {
        size_t len = strcspn(p, ",)");
        assert_true(len < 64);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p += len;
        if (*p == ',')
            p += 2; /* ", " */
    }
    return n;
}

static int col(char names[MAXCOLS][64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    fail_msg("no column %s", name);
    return -1;
}

/* Splits one COPY line into fields (in place); returns the count. */
static int split(char *line, char **fields, int max)
{
    int n = 0;
    size_t len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n');
    line[len - 1] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static void test_full_event(void **state)
{
    struct ing_buf b = {0};
    char reason[256], *f[MAXCOLS], names[MAXCOLS][64];
    int n = columns(names);
    (void)state;
    const char *json =
        "{\"request_id\":\"r-1\",\"ts_us\":1795834625123456,\"project\":\"demo\","
        "\"user_hash\":\"00112233aabbccdd\",\"bucket\":9999,\"experiment\":\"e\","
        "\"phase\":\"canary\",\"cohort\":\"routed\",\"task_type\":\"code\","
        "\"task_confidence\":0.5,\"mode\":\"eco\",\"served_model\":\"small\","
        "\"provider\":\"sim\",\"would_have_model\":null,\"stream\":true,\"status\":200,"
        "\"error\":null,\"attempts\":1,\"tokens_in\":2147483647,\"tokens_out\":0,"
        "\"cost_usd\":0.25,\"baseline_cost_usd\":1,\"latency_us\":9000000000,"
        "\"upstream_us\":-1,\"overhead_us\":3,\"redis_fallback\":false,\"new_key\":[1]}";
    static const char *const want[][2] = {
        {"request_id", "r-1"}, {"ts_us", "1795834625123456"}, {"project", "demo"},
        {"user_hash", "00112233aabbccdd"}, {"bucket", "9999"}, {"experiment", "e"},
        {"phase", "canary"}, {"cohort", "routed"}, {"task_type", "code"},
        {"task_confidence", "0.5"}, {"mode", "eco"}, {"served_model", "small"},
        {"provider", "sim"}, {"would_have_model", "\\N"}, {"stream", "t"}, {"status", "200"},
        {"error", "\\N"}, {"attempts", "1"}, {"tokens_in", "2147483647"}, {"tokens_out", "0"},
        {"cost_usd", "0.25"}, {"baseline_cost_usd", "1"}, {"latency_us", "9000000000"},
        {"upstream_us", "-1"}, {"overhead_us", "3"}, {"redis_fallback", "f"},
    };
    assert_true(n >= 26);
    assert_int_equal(convert(json, &b, reason, sizeof(reason)), 0);
    assert_int_equal(split(b.data, f, MAXCOLS), n);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(f[col(names, n, want[i][0])], want[i][1]);
    ing_buf_free(&b);
}

static void test_minimal_event_and_escaping(void **state)
{
    struct ing_buf b = {0};
    char reason[256], *f[MAXCOLS], names[MAXCOLS][64];
    int n = columns(names);
    (void)state;
    assert_int_equal(convert("{\"request_id\":\"a\\tb\\nc\\rd\\\\e\",\"ts_us\":0}", &b,
                             reason, sizeof(reason)),
                     0);
    assert_int_equal(split(b.data, f, MAXCOLS), n);
    assert_string_equal(f[0], "a\\tb\\nc\\rd\\\\e"); /* request_id first, escaped */
    assert_string_equal(f[1], "0");                     /* then ts_us */
    for (int i = 2; i < n; i++)
        assert_string_equal(f[i], "\\N"); /* everything else missing: NULL */
    /* a second line appends; UTF-8 passes through */
    b.len = 0;
    assert_int_equal(convert("{\"request_id\":\"\\u00e9\",\"ts_us\":1,\"mode\":\"x\"}", &b,
                             reason, sizeof(reason)),
                     0);
    size_t first = b.len;
    assert_int_equal(convert("{\"request_id\":\"z\",\"ts_us\":2}", &b, reason, sizeof(reason)),
                     0);
    assert_memory_equal(b.data, "\xc3\xa9\t1\t", 5);
    assert_memory_equal(b.data + first, "z\t2\t", 4);
    ing_buf_free(&b);
}

static void test_bad_events_have_reasons(void **state)
{
    static const struct {
        const char *json, *reason;
    } cases[] = {
        {"", "not valid JSON: "},
        {"{\"request_id\":\"x\",", "not valid JSON: "},
        {"[]", "not a JSON object"},
        {"{\"ts_us\":1}", "missing request_id"},
        {"{\"request_id\":null,\"ts_us\":1}", "missing request_id"},
        {"{\"request_id\":\"\",\"ts_us\":1}", "request_id: empty"},
        {"{\"request_id\":7,\"ts_us\":1}", "request_id: expected a string"},
        {"{\"request_id\":\"x\"}", "missing ts_us"},
        {"{\"request_id\":\"x\",\"ts_us\":-1}", "ts_us: out of range (1970-01-01..9999-12-31)"},
        {"{\"request_id\":\"x\",\"ts_us\":253402300800000000}", "ts_us: out of range (1970-01-01..9999-12-31)"},
        {"{\"request_id\":\"x\",\"ts_us\":1.5}", "ts_us: expected an integer (microseconds since 1970)"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"bucket\":2147483648}", "bucket: out of range (32-bit integer)"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"bucket\":\"1\"}", "bucket: expected an integer"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"task_confidence\":1e39}", "task_confidence: out of range (real)"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"stream\":1}", "stream: expected true or false"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"project\":{}}", "project: expected a string"},
        {"{\"request_id\":\"x\",\"ts_us\":1,\"latency_us\":1.0}", "latency_us: expected an integer"},
        {"{\"request_id\":\"a\\u0000b\",\"ts_us\":1}", "not valid JSON: "},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ing_buf b = {0};
        char reason[256];
        assert_int_equal(ing_buf_append(&b, "keep", 4), 0);
        if (convert(cases[i].json, &b, reason, sizeof(reason)) != -1)
            fail_msg("accepted %s", cases[i].json);
        if (strncmp(reason, cases[i].reason, strlen(cases[i].reason)) != 0)
            fail_msg("%s: reason \"%s\", want \"%s\"", cases[i].json, reason, cases[i].reason);
        assert_int_equal(b.len, 4); /* a failed event leaves the buffer as it was */
        assert_string_equal(b.data, "keep");
        ing_buf_free(&b);
    }
}

/* A minimal valid event with one member (or several) inserted. */
#define EV(members) "{\"request_id\":\"r\",\"ts_us\":1," members "}"

/*
 * JSON edge cases, each with its expected outcome: col set: converted, and that column
 * holds want (COPY text); col NULL: rejected with a reason starting with want. Every
 * case must also agree with the jansson reference (ref_compare).
 */
struct edge {
    const char *json;
    size_t len; /* 0: strlen(json) */
    const char *col, *want;
};

static const struct edge edges[] = {
    /* string escapes -> decoded, then COPY-escaped */
    {EV("\"project\":\"a\\\"b\""), 0, "project", "a\"b"},
    {EV("\"project\":\"\\/\""), 0, "project", "/"},
    {EV("\"project\":\"\\b\\f\""), 0, "project", "\b\f"},
    {EV("\"project\":\"\\n\\r\\t\\\\\""), 0, "project", "\\n\\r\\t\\\\"},
    {EV("\"project\":\"\\u00e9\\u20AC\""), 0, "project", "\xc3\xa9\xe2\x82\xac"},
    {EV("\"project\":\"\\uD83D\\uDE00\""), 0, "project", "\xf0\x9f\x98\x80"},
    {EV("\"project\":\"\\ud83d\\ude00x\""), 0, "project", "\xf0\x9f\x98\x80x"},
    {EV("\"project\":\"\\u005C\\u000a\\u000D\\u0009\""), 0, "project", "\\\\\\n\\r\\t"},
    {EV("\"project\":\"\\u0001\\u001f\\u007f\""), 0, "project", "\x01\x1f\x7f"},
    {EV("\"project\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\""), 0, "project",
     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"},
    {EV("\"project\":\"\""), 0, "project", ""},
    {EV("\"proj\\u0065ct\":\"k\""), 0, "project", "k"}, /* keys are compared decoded */
    {EV("\"project\":\"\\uDE00\""), 0, NULL, "not valid JSON: "},       /* lone low */
    {EV("\"project\":\"\\uD83D\""), 0, NULL, "not valid JSON: "},       /* lone high */
    {EV("\"project\":\"\\uD83Dx\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\uD83D\\u0041\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\uD83D\\uD83D\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\uD83D\\\\uDE00\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\u12\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\u12G4\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\x\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\'\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\\u0000\""), 0, NULL, "not valid JSON: "},
    {EV("\"x\":\"\\u0000\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\\u0000\":1"), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"a\x01\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"a\tb\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"a\nb\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\xc3\x28\""), 0, NULL, "not valid JSON: "},      /* bad continuation */
    {EV("\"project\":\"\xc0\xaf\""), 0, NULL, "not valid JSON: "},      /* overlong */
    {EV("\"project\":\"\xe0\x80\xaf\""), 0, NULL, "not valid JSON: "},  /* overlong */
    {EV("\"project\":\"\xf0\x8f\xbf\xbf\""), 0, NULL, "not valid JSON: "}, /* overlong */
    {EV("\"project\":\"\xed\xa0\x80\""), 0, NULL, "not valid JSON: "},  /* U+D800 */
    {EV("\"project\":\"\xf4\x90\x80\x80\""), 0, NULL, "not valid JSON: "}, /* > U+10FFFF */
    {EV("\"project\":\"\xf5\x80\x80\x80\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\x80\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\xff\""), 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"\xe2\x82\""), 0, NULL, "not valid JSON: "},      /* truncated */
    {"{\"request_id\":\"r\",\"ts_us\":1,\"project\":\"\xc3", 0, NULL, "not valid JSON: "},
    {EV("\"project\":\"abc"), 0, NULL, "not valid JSON: "},
    /* duplicate keys: the last one counts */
    {EV("\"project\":\"a\",\"project\":\"b\""), 0, "project", "b"},
    {EV("\"project\":\"a\",\"project\":null"), 0, "project", "\\N"},
    {EV("\"project\":1,\"project\":\"ok\""), 0, "project", "ok"},
    {EV("\"project\":\"a\",\"proj\\u0065ct\":\"b\""), 0, "project", "b"},
    {EV("\"request_id\":null"), 0, NULL, "missing request_id"},
    {EV("\"request_id\":\"\""), 0, NULL, "request_id: empty"},
    /* values of unknown keys: validated, skipped; nesting up to jansson's 2048 */
    {EV("\"x\":{\"a\":[{\"b\":{}}],\"c\":[1,\"s\",true,false,null,-1.5e3,[]],\"d\":{}}"), 0,
     "project", "\\N"},
    {EV("\"x\":[1,]"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":[,1]"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":{\"a\"}"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":{\"a\":1,}"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":{1:2}"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":[}"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":{]"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":[\"\\q\"]"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":[01]"), 0, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",\"ts_us\":1,\"x\":[[[", 0, NULL, "not valid JSON: "},
    {EV("\"project\":[\"a\"]"), 0, NULL, "project: expected a string"},
    {EV("\"stream\":{}"), 0, NULL, "stream: expected true or false"},
    /* numbers: JSON grammar, int64, reals as strtod and %.17g have them */
    {EV("\"latency_us\":-0"), 0, "latency_us", "0"},
    {EV("\"latency_us\":0"), 0, "latency_us", "0"},
    {EV("\"latency_us\":9223372036854775807"), 0, "latency_us", "9223372036854775807"},
    {EV("\"latency_us\":-9223372036854775808"), 0, "latency_us", "-9223372036854775808"},
    {EV("\"latency_us\":9223372036854775808"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":-9223372036854775809"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":99999999999999999999"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":99999999999999999999.5"), 0, "latency_us", "\\N"},
    {EV("\"latency_us\":01"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":-01"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":-"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":+1"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1."), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":.5"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1e"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1e+"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1.e5"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":0x10"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":NaN"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":Infinity"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":-Infinity"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1 2"), 0, NULL, "not valid JSON: "},
    {EV("\"latency_us\":1E2"), 0, NULL, "latency_us: expected an integer"},
    {EV("\"latency_us\":-0.0"), 0, NULL, "latency_us: expected an integer"},
    {EV("\"bucket\":-2147483648"), 0, "bucket", "-2147483648"},
    {EV("\"bucket\":-2147483649"), 0, NULL, "bucket: out of range (32-bit integer)"},
    {EV("\"cost_usd\":1e400"), 0, NULL, "not valid JSON: "},
    {EV("\"cost_usd\":-1e400"), 0, NULL, "not valid JSON: "},
    {EV("\"x\":[1e400]"), 0, NULL, "not valid JSON: "},
    {EV("\"cost_usd\":1.7976931348623159e308"), 0, NULL, "not valid JSON: "},
    {EV("\"cost_usd\":1.7976931348623157e308"), 0, "cost_usd", "1.7976931348623157e+308"},
    {EV("\"cost_usd\":1e-400"), 0, "cost_usd", "0"},
    {EV("\"cost_usd\":5e-324"), 0, "cost_usd", "4.9406564584124654e-324"},
    {EV("\"cost_usd\":2.2250738585072011e-308"), 0, "cost_usd", "2.2250738585072009e-308"},
    {EV("\"cost_usd\":-0.0"), 0, "cost_usd", "-0"},
    {EV("\"cost_usd\":-0"), 0, "cost_usd", "0"},
    {EV("\"cost_usd\":0e999999999999"), 0, "cost_usd", "0"},
    {EV("\"cost_usd\":0.1"), 0, "cost_usd", "0.10000000000000001"},
    {EV("\"cost_usd\":0.9123"), 0, "cost_usd", "0.9123"},
    {EV("\"cost_usd\":0.0000123456"), 0, "cost_usd", "1.2345599999999999e-05"},
    {EV("\"cost_usd\":0.0001234567"), 0, "cost_usd", "0.0001234567"},
    {EV("\"cost_usd\":1.5e-7"), 0, "cost_usd", "1.4999999999999999e-07"},
    {EV("\"cost_usd\":1E+2"), 0, "cost_usd", "100"},
    {EV("\"cost_usd\":0.30000000000000004"), 0, "cost_usd", "0.30000000000000004"},
    {EV("\"cost_usd\":9007199254740993"), 0, "cost_usd", "9007199254740992"},
    {EV("\"cost_usd\":123456789012345678"), 0, "cost_usd", "1.2345678901234568e+17"},
    {EV("\"task_confidence\":3.4028234e38"), 0, "task_confidence", "3.4028233999999999e+38"},
    {EV("\"task_confidence\":3.4028235e38"), 0, NULL, "task_confidence: out of range (real)"},
    {EV("\"task_confidence\":-3.4028235e38"), 0, NULL, "task_confidence: out of range (real)"},
    /* literals */
    {EV("\"stream\":true"), 0, "stream", "t"},
    {EV("\"stream\":tru"), 0, NULL, "not valid JSON: "},
    {EV("\"stream\":truex"), 0, NULL, "not valid JSON: "},
    {EV("\"stream\":True"), 0, NULL, "not valid JSON: "},
    {EV("\"stream\":nul"), 0, NULL, "not valid JSON: "},
    /* top level: whitespace, trailing garbage, non-objects */
    {" \t\r\n{\"request_id\":\"r\" , \"ts_us\" :\n1 }\r\n\t ", 0, "ts_us", "1"},
    {EV("") "x", 0, NULL, "not valid JSON: "},
    {EV("") "{}", 0, NULL, "not valid JSON: "},
    {EV("") ",", 0, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",\"ts_us\":1}\xc3\xa9", 0, NULL, "not valid JSON: "},
    {"\xef\xbb\xbf{\"request_id\":\"r\",\"ts_us\":1}", 0, NULL, "not valid JSON: "},
    {"\v{\"request_id\":\"r\",\"ts_us\":1}", 0, NULL, "not valid JSON: "},
    {"   ", 0, NULL, "not valid JSON: "},
    {"\"x\"", 0, NULL, "not valid JSON: "},
    {"1", 0, NULL, "not valid JSON: "},
    {"null", 0, NULL, "not valid JSON: "},
    {"[1,2]", 0, NULL, "not a JSON object"},
    {" [] ", 0, NULL, "not a JSON object"},
    {"[1,2", 0, NULL, "not valid JSON: "},
    {"[] x", 0, NULL, "not valid JSON: "},
    {"{}", 0, NULL, "missing request_id"},
    {"{\"request_id\":\"r\" \"ts_us\":1}", 0, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",,\"ts_us\":1}", 0, NULL, "not valid JSON: "},
    {"{\"request_id\"=\"r\"}", 0, NULL, "not valid JSON: "},
    {"{'request_id':'r'}", 0, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",\"ts_us\":1,}", 0, NULL, "not valid JSON: "},
    /* raw NUL: jansson skips one after a number or literal, we never accept it */
    {"{\"request_id\":\"r\",\"ts_us\":1\0}", 29, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",\"ts_us\":1,\"stream\":true\0}", 43, NULL, "not valid JSON: "},
    {"{\"request_id\":\"r\",\"ts_us\":1}\0", 29, NULL, "not valid JSON: "},
};

static void check_edge(const char *json, size_t len, const char *colname, const char *want)
{
    struct ing_buf b = {0};
    char reason[256], *f[MAXCOLS], names[MAXCOLS][64];
    int n = columns(names);
    const char *diff;

    assert_int_equal(ing_buf_append(&b, "keep", 4), 0);
    int rc = ing_event_to_copy(json, len, &b, reason, sizeof(reason));
    if (colname) {
        if (rc != 0)
            fail_msg("rejected %.*s: %s", (int)len, json, reason);
        assert_int_equal(split(b.data + 4, f, MAXCOLS), n);
        if (strcmp(f[col(names, n, colname)], want) != 0)
            fail_msg("%.*s: %s is \"%s\", want \"%s\"", (int)len, json, colname,
                     f[col(names, n, colname)], want);
    } else {
        if (rc != -1)
            fail_msg("accepted %.*s", (int)len, json);
        if (strncmp(reason, want, strlen(want)) != 0)
            fail_msg("%.*s: reason \"%s\", want \"%s\"", (int)len, json, reason, want);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "keep");
    }
    if ((diff = ref_compare(json, len, "keep", 4)) != NULL)
        fail_msg("%.*s: differs from jansson: %s", (int)len, json, diff);
    if ((diff = bin_compare(json, len)) != NULL)
        fail_msg("%.*s: binary COPY: %s", (int)len, json, diff);
    ing_buf_free(&b);
}

static void test_json_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_edge(edges[i].json, edges[i].len ? edges[i].len : strlen(edges[i].json),
                   edges[i].col, edges[i].want);
}

/* An unknown key nesting `arrays` arrays: the outermost is at depth 2, jansson's limit
 * is 2048. Objects too. */
static void test_deep_nesting(void **state)
{
    static const int depths[] = {1, 64, 2046, 2047, 2048, 2049, 100000};
    (void)state;
    for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
        for (int objects = 0; objects < 2; objects++) {
            int arrays = depths[d];
            size_t cap = (size_t)arrays * 8 + 64, n = 0;
            char *json = malloc(cap);
            assert_non_null(json);
            n += (size_t)snprintf(json, cap, "{\"request_id\":\"r\",\"ts_us\":1,\"x\":");
            for (int i = 0; i < arrays; i++)
                n += (size_t)snprintf(json + n, cap - n, "%s", objects ? "{\"k\":" : "[");
            json[n++] = '1';
            for (int i = 0; i < arrays; i++)
                json[n++] = objects ? '}' : ']';
            json[n++] = '}';
            /* arrays containers at depths 2..arrays+1, the 1 at arrays+2 */
            check_edge(json, n, arrays + 2 <= 2048 ? "ts_us" : NULL,
                       arrays + 2 <= 2048 ? "1" : "not valid JSON: ");
            free(json);
        }
    }
}

/* Differential test: generated and mutated events through both converters. */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rndn(size_t n)
{
    return (size_t)(rnd() % n);
}

struct gen {
    char *p;
    size_t len, cap;
};

static void gput(struct gen *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->p = realloc(g->p, g->cap);
        assert_non_null(g->p);
    }
    memcpy(g->p + g->len, s, n);
    g->len += n;
    g->p[g->len] = '\0';
}

static void gstr(struct gen *g, const char *s)
{
    gput(g, s, strlen(s));
}

static const char *const keys[] = {
    "request_id", "ts_us", "project", "user_hash", "bucket", "experiment", "phase",
    "routed_bp", "cohort", "task_type", "task_confidence", "mode", "served_model",
    "provider", "would_have_model", "stream", "status", "error", "attempts", "tokens_in",
    "tokens_out", "cost_usd", "baseline_cost_usd", "latency_us", "upstream_us",
    "overhead_us", "redis_fallback", "new_key", "x", "", "request_i", "request_idx",
    "req\\u0075est_id", "ts_\\u0075s", "pro\\/ject",
};

/* String bodies (JSON text between the quotes), valid or nearly so. */
static const char *const strs[] = {
    "", "a", "req-1", "3f2a0000111122223333444455556666", "00112233aabbccdd", "sim-instant",
    "a\\tb", "a\\nb\\r", "\\\\", "\\\"", "\\/", "\\b\\f", "\\u00e9", "\\u20ac\\u20AC",
    "\\ud83d\\ude00", "\\uD83D", "\\uDE00", "\\uD83D\\u0041", "\\u0000", "\\u005c", "\\u000a",
    "\\u0009\\u000d", "\\u0001", "\\x", "\\u12", "\xc3\xa9", "\xe2\x82\xac",
    "\xf0\x9f\x98\x80", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80",
    "\xff", "a\tb", "a\x01", "\x7f", "caf\xc3\xa9 \\\"quoted\\\"",
};

static const char *const nums[] = {
    "0", "-0", "1", "-1", "200", "2147483647", "2147483648", "-2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "99999999999999999999", "1795842839894123",
    "253402300799999999", "253402300800000000", "9007199254740993", "123456789012345678",
    "0.5", "0.9123", "0.0000123456", "0.0001234567", "1.0", "-0.0", "1e3", "1E+2", "1e-7",
    "1.5e-7", "1e400", "-1e400", "1e-400", "5e-324", "1.7976931348623157e308",
    "1.7976931348623159e308", "3.4028234e38", "3.4028235e38", "1e39", "0.1",
    "0.30000000000000004", "123456.789012345678901", "1e22", "1e23", "9007199254740993.0",
    "01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "-01", "1.e5",
    "0e999999999999", "12345678901234567890e-10",
};

static void gvalue(struct gen *g, int depth);

static void gscalar(struct gen *g)
{
    switch (rndn(8)) {
    case 0: gstr(g, "null"); break;
    case 1: gstr(g, rndn(2) ? "true" : "false"); break;
    case 2: case 3: gstr(g, nums[rndn(sizeof(nums) / sizeof(nums[0]))]); break;
    case 4: {
        char tmp[32];
        int64_t v = (int64_t)rnd() >> rndn(64);
        snprintf(tmp, sizeof(tmp), "%" PRId64, v);
        gstr(g, tmp);
        break;
    }
    case 5: {
        char tmp[40];
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d))
            d = (double)(int64_t)bits / 1e10;
        switch (rndn(3)) {
        case 0: snprintf(tmp, sizeof(tmp), "%.17g", d); break;
        case 1: snprintf(tmp, sizeof(tmp), "%.10f", fmod(d, 1e12)); break;
        default: snprintf(tmp, sizeof(tmp), "%.4e", d);
        }
        gstr(g, tmp);
        break;
    }
    default:
        gstr(g, "\"");
        gstr(g, strs[rndn(sizeof(strs) / sizeof(strs[0]))]);
        if (rndn(4) == 0)
            gstr(g, strs[rndn(sizeof(strs) / sizeof(strs[0]))]);
        gstr(g, "\"");
    }
}

static void gvalue(struct gen *g, int depth)
{
    size_t k = rndn(10);
    if (depth > 4 || k < 7) {
        gscalar(g);
    } else if (k < 9) {
        size_t n = rndn(4);
        gstr(g, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                gstr(g, ",");
            gvalue(g, depth + 1);
        }
        gstr(g, "]");
    } else {
        size_t n = rndn(4);
        gstr(g, "{");
        for (size_t i = 0; i < n; i++) {
            if (i)
                gstr(g, ",");
            gstr(g, "\"");
            gstr(g, keys[rndn(sizeof(keys) / sizeof(keys[0]))]);
            gstr(g, "\":");
            gvalue(g, depth + 1);
        }
        gstr(g, "}");
    }
}

/* A router-like event: the real key order and value shapes, sometimes odd values. */
static void gevent(struct gen *g)
{
    static const char *const shape[] = {
        "", "", "\"local\"", "\"00112233aabbccdd\"", "", "\"bench\"", "\"ramp\"", "5000",
        "\"routed\"", "\"code\"", "", "\"balanced\"", "\"sim-instant\"", "\"sim\"", "null",
        "false", "200", "null", "1", "", "", "", "", "", "", "", "false",
    };
    char tmp[64];
    gstr(g, rndn(16) ? "{" : " {\n ");
    for (size_t i = 0; i < 27; i++) {
        if (rndn(40) == 0)
            continue; /* a key left out */
        if (i)
            gstr(g, rndn(32) ? "," : " ,\n\t");
        gstr(g, "\"");
        gstr(g, keys[i]);
        gstr(g, rndn(32) ? "\":" : "\" : ");
        if (rndn(60) == 0) {
            gvalue(g, 2);
        } else {
            uint32_t r = (uint32_t)rnd();
            switch (i) {
            case 0: snprintf(tmp, sizeof(tmp), "\"req-%08x\"", r); break;
            case 1: snprintf(tmp, sizeof(tmp), "%" PRIu64, UINT64_C(1795842839894123) + r); break;
            case 10: snprintf(tmp, sizeof(tmp), "0.%04u", r % 10000); break;
            case 21: case 22: snprintf(tmp, sizeof(tmp), "0.%010u", r % 1000000000); break;
            case 4: case 19: case 20: case 23: case 24: case 25:
                snprintf(tmp, sizeof(tmp), "%u", r % 100000);
                break;
            default: snprintf(tmp, sizeof(tmp), "%s", shape[i]);
            }
            gstr(g, tmp);
        }
    }
    while (rndn(6) == 0) { /* extra members: unknown keys, duplicates */
        gstr(g, ",\"");
        gstr(g, keys[rndn(sizeof(keys) / sizeof(keys[0]))]);
        gstr(g, "\":");
        gvalue(g, 2);
    }
    gstr(g, "}");
}

static void mutate(struct gen *g)
{
    static const char *const toks[] = {
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\u0000", "\\ud83d", "\\ude00",
        "null", "true", "-0", "1e400", "9223372036854775808", " ", "\n", "\t", "\x00",
        "\xc3", "\xa9", "\xed\xa0\x80", "[[[[", "]]", ",\"project\":\"dup\"", "\"x\":",
        "0", ".", "e", "-",
    };
    size_t n = 1 + rndn(3);
    for (size_t m = 0; m < n && g->len > 0; m++) {
        size_t at = rndn(g->len + 1);
        switch (rndn(4)) {
        case 0: /* replace a byte */
            if (at < g->len)
                g->p[at] = rndn(2) ? (char)rnd() : "{}[],:\"\\ -.0123456789eEtfnul\x80"[rndn(29)];
            break;
        case 1: { /* insert a token */
            const char *t = toks[rndn(sizeof(toks) / sizeof(toks[0]))];
            size_t tl = t[0] ? strlen(t) : 1;
            struct gen h = {0};
            gput(&h, g->p, at);
            gput(&h, t, tl);
            gput(&h, g->p + at, g->len - at);
            free(g->p);
            *g = h;
            break;
        }
        case 2: { /* delete a range */
            size_t dl = rndn(8) + 1;
            if (at + dl > g->len)
                dl = g->len - at;
            memmove(g->p + at, g->p + at + dl, g->len - at - dl);
            g->len -= dl;
            g->p[g->len] = '\0';
            break;
        }
        default: /* truncate */
            g->len = at;
            g->p[at] = '\0';
        }
    }
}

static void test_same_as_jansson(void **state)
{
    const char *env_n = getenv("SY_EVENT_DIFF_N");
    size_t total = env_n ? strtoul(env_n, NULL, 10) : 100000;
    const char *env_seed = getenv("SY_EVENT_DIFF_SEED");
    size_t accepted = 0, rejected = 0;
    (void)state;
    rng_state = env_seed ? strtoull(env_seed, NULL, 10) * 2 + 1 : UINT64_C(0x9e3779b97f4a7c15);
    for (size_t i = 0; i < total; i++) {
        struct gen g = {0};
        const char *diff;
        gstr(&g, "");
        gevent(&g);
        if (rndn(3) == 0)
            mutate(&g);
        /* half of them after an existing line, as in a batch */
        const char *prior = rndn(2) ? "r-0\t0\t\\N\n" : "";
        if ((diff = ref_compare(g.p, g.len, prior, strlen(prior))) != NULL)
            fail_msg("case %zu (%zu bytes) %.*s: %s", i, g.len, (int)g.len, g.p, diff);
        if ((diff = bin_compare(g.p, g.len)) != NULL)
            fail_msg("case %zu (%zu bytes) %.*s: binary COPY: %s", i, g.len, (int)g.len, g.p,
                     diff);
        struct ing_buf b = {0};
        char reason[256];
        if (ing_event_to_copy(g.p, g.len, &b, reason, sizeof(reason)) == 0)
            accepted++;
        else
            rejected++;
        ing_buf_free(&b);
        free(g.p);
    }
    /* the generator must exercise both outcomes */
    print_message("%zu accepted, %zu rejected\n", accepted, rejected);
    assert_true(accepted > total / 10);
    assert_true(rejected > total / 10);
}

/* Reals come out as printf("%.17g") of the double strtod gives, over the whole range
 * (ingest/event.c formats most of them itself). */
static void test_reals_print_as_printf(void **state)
{
    char names[MAXCOLS][64], *f[MAXCOLS];
    int n = columns(names), cost = col(names, n, "cost_usd");
    (void)state;
    rng_state = UINT64_C(0x243f6a8885a308d3);
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = rnd();
        double d;
        char num[64], json[160], want[64], reason[256];
        struct ing_buf b = {0};
        switch (i % 4) {
        case 0: /* any bit pattern */
            break;
        case 1: /* binary exponents around 1 (1e-18 .. 1e18) */
            bits = (bits & UINT64_C(0x800fffffffffffff)) | (uint64_t)(1023 - 60 + rndn(120)) << 52;
            break;
        case 2: { /* the router's %.10f costs */
            double c = (double)(bits % 10000000000u) / 1e10;
            memcpy(&bits, &c, sizeof(bits));
            break;
        }
        default: { /* k / 2^j: ties at the 17th digit */
            double c = (double)(bits % (UINT64_C(1) << 52)) / (double)(UINT64_C(1) << rndn(60));
            memcpy(&bits, &c, sizeof(bits));
        }
        }
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d))
            continue;
        snprintf(num, sizeof(num), i % 8 == 2 ? "%.10f" : "%.17g", d);
        d = strtod(num, NULL);
        snprintf(want, sizeof(want), "%.17g", d);
        snprintf(json, sizeof(json), "{\"request_id\":\"r\",\"ts_us\":1,\"cost_usd\":%s}", num);
        if (ing_event_to_copy(json, strlen(json), &b, reason, sizeof(reason)) != 0)
            fail_msg("%s: %s", json, reason);
        assert_int_equal(split(b.data, f, MAXCOLS), n);
        if (strcmp(f[cost], want) != 0)
            fail_msg("%s: cost_usd is %s, want %s", num, f[cost], want);
        ing_buf_free(&b);
        if (i % 16 == 0) { /* binary: the same double; as a real, strtof of the text */
            const char *diff = bin_compare(json, strlen(json));
            if (diff)
                fail_msg("%s: binary COPY: %s", json, diff);
            snprintf(json, sizeof(json),
                     "{\"request_id\":\"r\",\"ts_us\":1,\"task_confidence\":%s}", num);
            if ((diff = bin_compare(json, strlen(json))) != NULL)
                fail_msg("%s: binary COPY: %s", json, diff);
        }
    }
}

/* The binary tuple of one event, byte for byte, and its refusal of a real float4in
 * refuses. */
static void test_binary_tuple(void **state)
{
    static const char json[] = "{\"request_id\":\"a\\tb\",\"ts_us\":1700000000000001,"
                               "\"bucket\":-2,\"task_confidence\":0.5,\"stream\":true}";
    struct ing_buf b = {0};
    char reason[256];
    (void)state;
    assert_int_equal(ing_event_to_copy_binary(json, strlen(json), &b, reason, sizeof(reason)), 0);
    const unsigned char *p = (const unsigned char *)b.data;
    static const unsigned char head[] = {0, BIN_NCOLS, 0, 0, 0, 3, 'a', '\t', 'b', 0, 0, 0, 8,
                                         0x00, 0x02, 0xad, 0x22, 0xdc, 0xe6, 0x60, 0x01, /* ts, since 2000 */
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* NULL x2 */
                                         0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe}; /* bucket -2 */
    assert_true(b.len > sizeof(head));
    assert_memory_equal(p, head, sizeof(head));
    assert_null(bin_compare(json, strlen(json)));
    ing_buf_free(&b);
    static const char tiny[] = "{\"request_id\":\"r\",\"ts_us\":1,\"task_confidence\":1e-50}";
    assert_int_equal(ing_event_to_copy_binary(tiny, strlen(tiny), &b, reason, sizeof(reason)), -1);
    assert_string_equal(reason, "task_confidence: out of range (real)");
    assert_int_equal(b.len, 0);
    ing_buf_free(&b);
}

static void test_sql(void **state)
{
    char create[2048], copy[1024], insert[2048];
    (void)state;
    assert_int_equal(ing_event_sql("t", create, sizeof(create), copy, sizeof(copy), insert,
                                   sizeof(insert)),
                     0);
    assert_non_null(strstr(create, "CREATE TEMP TABLE IF NOT EXISTS t (request_id text, "
                                   "ts_us bigint, project text,"));
    assert_non_null(strstr(create, "redis_fallback boolean) ON COMMIT DELETE ROWS"));
    assert_non_null(strstr(copy, "COPY t (request_id, ts_us, project,"));
    assert_string_equal(insert, "SELECT sy_ingest_requests('t')");
    assert_int_equal(ing_event_sql_format("t", 1, create, sizeof(create), copy, sizeof(copy),
                                          insert, sizeof(insert)),
                     0);
    assert_non_null(strstr(copy, "redis_fallback) FROM STDIN (FORMAT binary)"));
    assert_non_null(strstr(copy, "COPY t (request_id, ts, project,"));
    assert_non_null(strstr(create, "(request_id text, ts timestamptz, project text,"));
    assert_int_equal(ing_event_sql("t", create, 100, copy, sizeof(copy), insert, sizeof(insert)),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_event),
        cmocka_unit_test(test_minimal_event_and_escaping),
        cmocka_unit_test(test_bad_events_have_reasons),
        cmocka_unit_test(test_json_edges),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_same_as_jansson),
        cmocka_unit_test(test_reals_print_as_printf),
        cmocka_unit_test(test_binary_tuple),
        cmocka_unit_test(test_sql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
