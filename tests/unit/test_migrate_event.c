/* ingest's pure part: request event JSON -> one COPY text line (controller/event.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controller/event.h"

#define MAXCOLS 64

static int convert(const char *json, struct ctl_buf *out, char *reason, size_t reasonlen)
{
    return ctl_event_to_copy(json, strlen(json), out, reason, reasonlen);
}

/* The COPY column names, in order, from ctl_event_sql(); returns the count. Tests look
 * columns up by name so that adding a column does not break them. */
static int columns(char names[MAXCOLS][64])
{
    char create[4096], copy[2048], insert[4096];
    int n = 0;
    assert_int_equal(ctl_event_sql("t", create, sizeof(create), copy, sizeof(copy), insert,
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
    struct ctl_buf b = {0};
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
    ctl_buf_free(&b);
}

static void test_minimal_event_and_escaping(void **state)
{
    struct ctl_buf b = {0};
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
    ctl_buf_free(&b);
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
        struct ctl_buf b = {0};
        char reason[256];
        assert_int_equal(ctl_buf_append(&b, "keep", 4), 0);
        if (convert(cases[i].json, &b, reason, sizeof(reason)) != -1)
            fail_msg("accepted %s", cases[i].json);
        if (strncmp(reason, cases[i].reason, strlen(cases[i].reason)) != 0)
            fail_msg("%s: reason \"%s\", want \"%s\"", cases[i].json, reason, cases[i].reason);
        assert_int_equal(b.len, 4); /* a failed event leaves the buffer as it was */
        assert_string_equal(b.data, "keep");
        ctl_buf_free(&b);
    }
}

static void test_sql(void **state)
{
    char create[2048], copy[1024], insert[2048];
    (void)state;
    assert_int_equal(ctl_event_sql("t", create, sizeof(create), copy, sizeof(copy), insert,
                                   sizeof(insert)),
                     0);
    assert_non_null(strstr(create, "CREATE TEMP TABLE IF NOT EXISTS t (request_id text, "
                                   "ts_us bigint, project text,"));
    assert_non_null(strstr(create, "redis_fallback boolean) ON COMMIT DELETE ROWS"));
    assert_non_null(strstr(copy, "COPY t (request_id, ts_us, project,"));
    assert_non_null(strstr(insert, "INSERT INTO requests (request_id, ts, project,"));
    assert_non_null(strstr(insert, "SELECT request_id, timestamptz 'epoch' + ts_us * interval "
                                   "'1 microsecond', project,"));
    assert_non_null(strstr(insert, " FROM t ON CONFLICT DO NOTHING"));
    assert_int_equal(ctl_event_sql("t", create, 100, copy, sizeof(copy), insert, sizeof(insert)),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_event),
        cmocka_unit_test(test_minimal_event_and_escaping),
        cmocka_unit_test(test_bad_events_have_reasons),
        cmocka_unit_test(test_sql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
