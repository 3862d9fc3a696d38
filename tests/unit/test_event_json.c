/* router/event.c: the event JSON, pinned, and byte for byte what the printf-based
 * serialiser it replaced produced (kept here as the reference), over many events. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/event.h"

/* ---- the reference: the serialiser as it was, with printf ---- */

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void ref_str(struct sb *b, const char *key, const char *v)
{
    if (!v) {
        sb_printf(b, ",\"%s\":null", key);
        return;
    }
    sb_printf(b, ",\"%s\":\"", key);
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(b, "\\%c", *s);
        else if (*s < 0x20)
            sb_printf(b, "\\u00%02x", *s);
        else
            sb_printf(b, "%c", *s);
    }
    sb_printf(b, "\"");
}

static char *ref_event_json(const rt_event *ev)
{
    struct sb b = {0};
    sb_printf(&b, "{\"request_id\":\"%s\",\"ts_us\":%lld", ev->request_id, (long long)ev->ts_us);
    ref_str(&b, "project", ev->project);
    ref_str(&b, "user_hash", ev->user_hash);
    sb_printf(&b, ",\"bucket\":%d", ev->bucket);
    ref_str(&b, "experiment", ev->experiment);
    ref_str(&b, "phase", ev->phase);
    sb_printf(&b, ",\"routed_bp\":%d", ev->routed_bp);
    ref_str(&b, "cohort", ev->cohort);
    ref_str(&b, "task_type", ev->task_type);
    if (!isnan(ev->task_confidence))
        sb_printf(&b, ",\"task_confidence\":%.4f", ev->task_confidence);
    else
        sb_printf(&b, ",\"task_confidence\":null");
    ref_str(&b, "mode", ev->mode);
    ref_str(&b, "served_model", ev->served_model);
    ref_str(&b, "provider", ev->provider);
    ref_str(&b, "would_have_model", ev->would_have_model);
    sb_printf(&b, ",\"stream\":%s,\"status\":%d", ev->stream ? "true" : "false", ev->status);
    ref_str(&b, "error", ev->error);
    sb_printf(&b, ",\"attempts\":%d", ev->attempts);
    ref_str(&b, "fallback", ev->fallback);
    sb_printf(&b,
              ",\"sticky\":%s,\"tokens_in\":%ld,\"tokens_out\":%ld,\"cached_tokens\":%ld,"
              "\"cache_write_tokens\":%ld,\"cost_usd\":%.10f,"
              "\"baseline_cost_usd\":%.10f,\"latency_us\":%lld,\"upstream_us\":%lld,"
              "\"overhead_us\":%lld,\"redis_fallback\":%s}",
              ev->sticky ? "true" : "false", ev->tokens_in, ev->tokens_out, ev->cached_tokens,
              ev->cache_write_tokens, ev->cost_usd, ev->baseline_cost_usd,
              (long long)ev->latency_us, (long long)ev->upstream_us, (long long)ev->overhead_us,
              ev->redis_fallback ? "true" : "false");
    return b.p;
}

/* ---- tests ---- */

static void test_pinned(void **state)
{
    (void)state;
    rt_event ev = {
        .request_id = "req_0123456789abcdef01234567",
        .ts_us = 1764300000123456LL,
        .project = "demo",
        .user_hash = "00ff00ff00ff00ff",
        .bucket = 4321,
        .experiment = "task-routing",
        .phase = "ramp",
        .routed_bp = 5000,
        .cohort = "routed",
        .task_type = "code",
        .task_confidence = 0.87654321,
        .mode = "balanced",
        .served_model = "small \"q\"\n",
        .provider = "sim",
        .would_have_model = NULL,
        .stream = 1,
        .status = 200,
        .error = NULL,
        .attempts = 2,
        .fallback = "default",
        .sticky = 1,
        .tokens_in = 12,
        .tokens_out = 345,
        .cached_tokens = 8,
        .cache_write_tokens = 0,
        .cost_usd = 0.000345,
        .baseline_cost_usd = 1.5,
        .latency_us = 1234,
        .upstream_us = 1000,
        .overhead_us = -5,
        .redis_fallback = 0,
    };
    size_t len = 0;
    char *json = rt_event_json(&ev, &len);
    assert_non_null(json);
    assert_string_equal(json,
        "{\"request_id\":\"req_0123456789abcdef01234567\",\"ts_us\":1764300000123456,"
        "\"project\":\"demo\",\"user_hash\":\"00ff00ff00ff00ff\",\"bucket\":4321,"
        "\"experiment\":\"task-routing\",\"phase\":\"ramp\",\"routed_bp\":5000,"
        "\"cohort\":\"routed\",\"task_type\":\"code\",\"task_confidence\":0.8765,"
        "\"mode\":\"balanced\",\"served_model\":\"small \\\"q\\\"\\u000a\",\"provider\":\"sim\","
        "\"would_have_model\":null,\"stream\":true,\"status\":200,\"error\":null,"
        "\"attempts\":2,\"fallback\":\"default\",\"sticky\":true,\"tokens_in\":12,"
        "\"tokens_out\":345,\"cached_tokens\":8,\"cache_write_tokens\":0,"
        "\"cost_usd\":0.0003450000,"
        "\"baseline_cost_usd\":1.5000000000,\"latency_us\":1234,\"upstream_us\":1000,"
        "\"overhead_us\":-5,\"redis_fallback\":false}");
    assert_int_equal(len, strlen(json));
    free(json);

    ev.task_type = NULL;
    ev.task_confidence = NAN;
    ev.stream = 0;
    ev.redis_fallback = 1;
    ev.cost_usd = NAN; /* not a number: null, as JSON has no NaN */
    json = rt_event_json(&ev, &len);
    assert_non_null(strstr(json, ",\"task_type\":null,\"task_confidence\":null,"));
    assert_non_null(strstr(json, ",\"stream\":false,"));
    assert_non_null(strstr(json, ",\"cost_usd\":null,"));
    assert_non_null(strstr(json, ",\"redis_fallback\":true}"));
    free(json);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double unit(void) { return (double)(next() >> 11) / 9007199254740992.0; }

static void test_same_as_printf(void **state)
{
    static const char *const names[] = {NULL, "", "x", "a\\b", "tab\there", "\x01\x1f\x7f", "é"};
    (void)state;
    for (int i = 0; i < 20000; i++) {
        rt_event ev;
        memset(&ev, 0, sizeof(ev));
        snprintf(ev.request_id, sizeof(ev.request_id), "req_%016llx", (unsigned long long)next());
        ev.ts_us = (int64_t)(next() >> 1) * (i % 7 == 0 ? -1 : 1);
        ev.project = names[next() % 7];
        snprintf(ev.user_hash, sizeof(ev.user_hash), "%016llx", (unsigned long long)next());
        ev.bucket = (int)(next() % 10000);
        ev.experiment = names[next() % 7];
        ev.phase = names[next() % 7];
        ev.routed_bp = (int)(next() % 20001) - 10000;
        ev.cohort = names[next() % 7];
        ev.task_type = names[next() % 7];
        ev.task_confidence = !ev.task_type ? NAN
                             : i % 11 == 0 ? (double)(next() % 20001) / 20000.0
                             : i % 19 == 0 ? -DBL_MAX * unit() /* snprintf fallback, 300+ bytes */
                                           : unit();
        ev.mode = names[next() % 7];
        ev.served_model = names[next() % 7];
        ev.provider = names[next() % 7];
        ev.would_have_model = names[next() % 7];
        ev.stream = (int)(next() & 1);
        ev.status = (int)(next() % 600);
        ev.error = names[next() % 7];
        ev.attempts = (int)(next() % 5);
        ev.fallback = names[next() % 7];
        ev.sticky = (int)(next() & 1);
        ev.tokens_in = (long)(next() % 200000);
        ev.cached_tokens = (long)(next() % 200000);
        ev.cache_write_tokens = (long)(next() % 200000);
        ev.tokens_out = i % 13 == 0 ? -(long)(next() >> 1) : (long)(next() % 200000);
        /* tokens * price: the path costs take */
        ev.cost_usd = (double)ev.tokens_in * (unit() * 20) / 1e6;
        ev.baseline_cost_usd = i % 17 == 0 ? unit() * 1e12 : unit() * pow(10, (int)(next() % 9) - 6);
        ev.latency_us = (int64_t)(next() >> 20);
        ev.upstream_us = (int64_t)(next() >> 20);
        ev.overhead_us = ev.latency_us - ev.upstream_us;
        ev.redis_fallback = (int)(next() & 1);
        size_t len;
        char *got = rt_event_json(&ev, &len);
        char *want = ref_event_json(&ev);
        assert_non_null(got);
        if (strcmp(got, want))
            fail_msg("event %d differs:\n  printf: %s\n  now:    %s", i, want, got);
        assert_int_equal(len, strlen(want));
        free(got);
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_same_as_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
