/* sim_model: catalog parsing (exact error messages), built-ins, latency and fault sampling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim_model.h"
#include "sim/sim_prng.h"

struct cfg_case {
    const char *json;
    const char *error;
};

static const struct cfg_case bad_configs[] = {
    {"[]", "$: expected an object"},
    {"{", "$: invalid JSON at line 1 column 1: string or '}' expected near end of file"},
    {"{}", "$.models: required"},
    {"{\"models\":[]}", "$.models: expected an object"},
    {"{\"models\":{}}", "$.models: must define at least one model"},
    {"{\"models\":{\"a\":{}},\"port\":1}", "$.port: unknown key"},
    {"{\"models\":{\"bad id\":{}}}",
     "$.models.bad id: model id must be 1-63 characters of A-Z a-z 0-9 . _ : / -"},
    {"{\"models\":{\"a\":[]}}", "$.models.a: expected an object"},
    {"{\"models\":{\"a\":{\"latency\":1}}}", "$.models.a.latency: unknown key"},
    {"{\"models\":{\"a\":{\"error_rate\":1.5}}}",
     "$.models.a.error_rate: expected a number from 0 to 1"},
    {"{\"models\":{\"a\":{\"error_rate\":\"x\"}}}",
     "$.models.a.error_rate: expected a number from 0 to 1"},
    {"{\"models\":{\"a\":{\"latency_ms\":{\"median\":100,\"p95\":50}}}}",
     "$.models.a.latency_ms.p95: must not be below median (100)"},
    {"{\"models\":{\"a\":{\"latency_ms\":{\"median\":100,\"p95\":200,\"max\":150}}}}",
     "$.models.a.latency_ms.max: must not be below p95 (200)"},
    {"{\"models\":{\"a\":{\"latency_ms\":{\"mean\":1}}}}",
     "$.models.a.latency_ms.mean: unknown key"},
    {"{\"models\":{\"a\":{\"latency_ms\":5}}}", "$.models.a.latency_ms: expected an object"},
    {"{\"models\":{\"a\":{\"completion_tokens\":{\"min\":10,\"max\":5}}}}",
     "$.models.a.completion_tokens.max: must not be below min (10)"},
    {"{\"models\":{\"a\":{\"completion_tokens\":{\"min\":0}}}}",
     "$.models.a.completion_tokens.min: expected an integer from 1 to 32768"},
    {"{\"models\":{\"a\":{\"tokens_per_chunk\":1.5}}}",
     "$.models.a.tokens_per_chunk: expected an integer from 1 to 256"},
    {"{\"models\":{\"a\":{\"errors\":{\"503\":1}}}}",
     "$.models.a.errors.503: unknown error kind (expected 500, 429, 529, timeout, close or "
     "midstream)"},
    {"{\"models\":{\"a\":{\"errors\":{\"500\":-1}}}}",
     "$.models.a.errors.500: expected a number from 0 to 1e+06"},
    {"{\"models\":{\"a\":{\"error_rate\":0.5,\"errors\":{\"500\":0}}}}",
     "$.models.a.errors: needs a positive weight when error_rate is above 0"},
    {"{\"models\":{\"a\":{\"quality\":{\"chat\":{}}}}}", "$.models.a.quality.chat: unknown key"},
    {"{\"models\":{\"a\":{\"quality\":{\"code\":{\"rating\":6}}}}}",
     "$.models.a.quality.code.rating: expected a number from 1 to 5"},
    {"{\"models\":{\"a\":{\"quality\":{\"code\":{\"thumbs_down\":-0.1}}}}}",
     "$.models.a.quality.code.thumbs_down: expected a number from 0 to 1"},
    {"{\"models\":{\"a\":{\"tier\":\"\"}}}",
     "$.models.a.tier: expected a string of 1-31 characters of A-Z a-z 0-9 . _ : / -"},
    {"{\"models\":{\"a\":{\"retry_after_s\":-1}}}",
     "$.models.a.retry_after_s: expected an integer from 0 to 3600"},
    {"{\"models\":{\"a\":{\"wire\":\"grpc\"}}}",
     "$.models.a.wire: expected \"openai\" or \"anthropic\""},
    {"{\"models\":{\"a\":{\"wire\":1}}}", "$.models.a.wire: expected \"openai\" or \"anthropic\""},
    {"{\"models\":{\"a\":{\"cache_hit_rate\":1.01}}}",
     "$.models.a.cache_hit_rate: expected a number from 0 to 1"},
    {"{\"models\":{\"a\":{\"cache_hit_rate\":true}}}",
     "$.models.a.cache_hit_rate: expected a number from 0 to 1"},
    {"{\"models\":{\"a\":{\"cached_input_usd_per_mtok\":-0.5}}}",
     "$.models.a.cached_input_usd_per_mtok: expected a number from 0 to 1e+06"},
};

static void test_bad_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
        sim_catalog cat;
        char err[SIM_ERR_MAX] = "";
        const struct cfg_case *c = &bad_configs[i];
        if (sim_catalog_parse(c->json, strlen(c->json), &cat, err, sizeof(err)) != -1)
            fail_msg("case %zu accepted: %s", i, c->json);
        assert_string_equal(err, c->error);
        assert_null(cat.models);
        assert_int_equal(cat.n, 0);
    }
}

static void test_defaults(void **state)
{
    sim_catalog cat;
    char err[SIM_ERR_MAX];
    const char *json = "{\"models\":{\"a\":{},\"b\":{\"_comment\":\"x\",\"error_rate\":0.5,"
                       "\"latency_ms\":{\"median\":100}}}}";
    (void)state;
    assert_int_equal(sim_catalog_parse(json, strlen(json), &cat, err, sizeof(err)), 0);
    assert_int_equal(cat.n, 2);
    const sim_model *a = sim_catalog_find(&cat, "a"), *b = sim_catalog_find(&cat, "b");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(sim_catalog_find(&cat, "c"));
    assert_string_equal(a->tier, "standard");
    assert_int_equal(a->tokens_per_chunk, 4);
    assert_int_equal(a->completion_min, 16);
    assert_int_equal(a->completion_max, 256);
    assert_int_equal(a->retry_after_s, 1);
    assert_true(a->latency_median_ms == 0 && a->latency_max_ms == 0);
    assert_true(a->quality[SIM_TASK_CODE].thumbs_down == 0.10);
    assert_true(a->quality[SIM_TASK_CODE].rating == 4.0);
    assert_true(b->error_weights[SIM_FAULT_500] == 1); /* default kind */
    assert_true(b->latency_p95_ms == 100 && b->latency_max_ms == 400);
    assert_string_equal(a->fingerprint, "fp_4c8601ec8c");
    assert_int_equal(a->wire, SIM_API_OPENAI);
    assert_true(a->cache_hit_rate == 0 && a->cached_input_usd_per_mtok == 0);
    sim_catalog_free(&cat);

    /* the default max (4 x p95) is capped at the range's end: found by fuzz_sim_model */
    json = "{\"models\":{\"a\":{\"latency_ms\":{\"median\":506000}}}}";
    assert_int_equal(sim_catalog_parse(json, strlen(json), &cat, err, sizeof(err)), 0);
    a = sim_catalog_find(&cat, "a");
    assert_true(a->latency_p95_ms == 506000 && a->latency_max_ms == 600000);
    sim_catalog_free(&cat);

    json = "{\"models\":{\"c\":{\"wire\":\"anthropic\",\"cache_hit_rate\":0.25,"
           "\"cached_input_usd_per_mtok\":0.3,\"error_rate\":1,\"errors\":{\"529\":2}}}}";
    assert_int_equal(sim_catalog_parse(json, strlen(json), &cat, err, sizeof(err)), 0);
    a = sim_catalog_find(&cat, "c");
    assert_int_equal(a->wire, SIM_API_ANTHROPIC);
    assert_string_equal(sim_api_str(a->wire), "anthropic");
    assert_string_equal(sim_api_str(SIM_API_OPENAI), "openai");
    assert_true(a->cache_hit_rate == 0.25 && a->cached_input_usd_per_mtok == 0.3);
    assert_true(a->error_weights[SIM_FAULT_529] == 2 && a->error_weights[SIM_FAULT_500] == 0);
    sim_catalog_free(&cat);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* config/sim-models.json documents the built-ins: it must be them, byte for byte. */
static void test_builtin_is_shipped_config(void **state)
{
    const char *src = getenv("SY_SOURCE_DIR");
    char path[1024], err[SIM_ERR_MAX];
    size_t len = 0;
    sim_catalog cat;
    (void)state;
    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/config/sim-models.json", src);
    char *file = read_all(path, &len);
    assert_non_null(file);
    assert_string_equal(file, sim_catalog_builtin_json());
    free(file);

    assert_int_equal(sim_catalog_load_file(path, &cat, err, sizeof(err)), 0);
    static const char *const ids[] = {"sim-premium", "sim-mid",        "sim-small",
                                      "sim-reasoner", "sim-claude",     "sim-instant",
                                      "sim-claude-instant", "fault-500", "fault-429",
                                      "fault-timeout", "fault-close",   "fault-midstream"};
    assert_int_equal(cat.n, 12);
    for (int i = 0; i < cat.n; i++) {
        assert_string_equal(cat.models[i].id, ids[i]);
        /* only the sim-claude models speak Anthropic, and only they cache */
        int anth = !strncmp(ids[i], "sim-claude", 10);
        assert_int_equal(cat.models[i].wire, anth ? SIM_API_ANTHROPIC : SIM_API_OPENAI);
        assert_true((cat.models[i].cache_hit_rate > 0) == anth);
    }
    assert_true(sim_catalog_find(&cat, "sim-claude")->cache_hit_rate == 0.5);
    assert_true(sim_catalog_find(&cat, "sim-claude")->cached_input_usd_per_mtok == 0.30);
    assert_true(sim_catalog_find(&cat, "sim-claude")->error_weights[SIM_FAULT_529] == 0.3);
    assert_int_equal(sim_catalog_find(&cat, "fault-429")->retry_after_s, 7);
    assert_true(sim_catalog_find(&cat, "sim-small")->quality[SIM_TASK_COMPLEX].thumbs_down ==
                0.30);
    sim_catalog_free(&cat);

    assert_int_equal(sim_catalog_load_file("/nonexistent/x.json", &cat, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot open /nonexistent/x.json: No such file or directory");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_latency_sampling(void **state)
{
    sim_model m;
    sim_prng p;
    static double s[20000];
    (void)state;
    memset(&m, 0, sizeof(m));
    sim_prng_seed(&p, 42);

    /* median 0: always 0, and no randomness consumed */
    assert_true(sim_model_sample_latency_ms(&m, &p) == 0);
    assert_true(p.state == 42);

    /* p95 == median: constant */
    m.latency_median_ms = m.latency_p95_ms = 250;
    m.latency_max_ms = 1000;
    assert_true(sim_model_sample_latency_ms(&m, &p) == 250);

    /* lognormal: quantiles near the configured ones, never above max, never negative */
    m.latency_median_ms = 200;
    m.latency_p95_ms = 600;
    m.latency_max_ms = 900;
    for (int i = 0; i < 20000; i++) {
        s[i] = sim_model_sample_latency_ms(&m, &p);
        assert_true(s[i] >= 0 && s[i] <= 900);
    }
    qsort(s, 20000, sizeof(s[0]), cmp_double);
    assert_true(s[10000] > 190 && s[10000] < 210);
    assert_true(s[19000] > 560 && s[19000] < 640);
    assert_true(s[19999] == 900); /* the clamp is reached */

    /* seeded: the same seed gives the same sequence */
    sim_prng a, b;
    sim_prng_seed(&a, 7);
    sim_prng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        assert_true(sim_model_sample_latency_ms(&m, &a) == sim_model_sample_latency_ms(&m, &b));
}

static void test_fault_picking(void **state)
{
    sim_model m;
    sim_prng p;
    int counts[SIM_FAULT_COUNT] = {0};
    (void)state;
    memset(&m, 0, sizeof(m));
    sim_prng_seed(&p, 1);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sim_model_pick_fault(&m, &p), SIM_FAULT_NONE);

    m.error_rate = 0.2;
    m.error_weights[SIM_FAULT_500] = 3;
    m.error_weights[SIM_FAULT_CLOSE] = 1;
    for (int i = 0; i < 100000; i++)
        counts[sim_model_pick_fault(&m, &p)]++;
    assert_in_range(counts[SIM_FAULT_NONE], 79000, 81000);
    assert_in_range(counts[SIM_FAULT_500], 14300, 15700);
    assert_in_range(counts[SIM_FAULT_CLOSE], 4500, 5500);
    assert_int_equal(counts[SIM_FAULT_429] + counts[SIM_FAULT_TIMEOUT] +
                         counts[SIM_FAULT_MIDSTREAM], 0);

    m.error_rate = 1;
    for (int i = 0; i < 1000; i++)
        assert_int_not_equal(sim_model_pick_fault(&m, &p), SIM_FAULT_NONE);
}

static void test_fault_names(void **state)
{
    enum sim_fault f;
    (void)state;
    static const char *const names[] = {"none",  "500",       "429", "timeout",
                                        "close", "midstream", "529"};
    for (int i = 0; i < SIM_FAULT_COUNT; i++) {
        assert_int_equal(sim_fault_parse(names[i], &f), 0);
        assert_int_equal(f, i);
        assert_string_equal(sim_fault_str(f), names[i]);
    }
    assert_int_equal(sim_fault_parse("502", &f), -1);
    assert_int_equal(sim_fault_parse("", &f), -1);
}

static void test_hash_pinned(void **state)
{
    (void)state;
    /* FNV-1a 64 reference vectors */
    assert_true(sim_fnv1a(SIM_FNV_OFFSET, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(sim_fnv1a(SIM_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(sim_fnv1a(SIM_FNV_OFFSET, "foobar", 6) == 0x85944171f73967e8ULL);
    /* splitmix64 reference: first output for seed 0 */
    sim_prng p;
    sim_prng_seed(&p, 0);
    assert_true(sim_prng_next(&p) == 0xe220a8397b1dcdafULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_builtin_is_shipped_config),
        cmocka_unit_test(test_latency_sampling),
        cmocka_unit_test(test_fault_picking),
        cmocka_unit_test(test_fault_names),
        cmocka_unit_test(test_hash_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
