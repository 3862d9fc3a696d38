/* Router configuration: a valid file parses to the right values, and every
 * kind of mistake is refused with the exact JSON path and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/redisurl.h"
#include "experiments/config.h"

static const char good[] =
    "{\"default_model\":\"big\","
    " \"experiment\":{\"name\":\"exp1\",\"salt\":\"s\",\"holdout_pct\":5},"
    " \"providers\":{\"sim\":{\"base_url\":\"http://127.0.0.1:9100/v1/\",\"api_key_env\":\"K\","
    "                         \"timeout_ms\":5000}},"
    " \"models\":{\"big\":{\"provider\":\"sim\",\"tier\":\"premium\",\"input_usd_per_mtok\":2.5,"
    "                     \"output_usd_per_mtok\":10},"
    "            \"small\":{\"provider\":\"sim\",\"upstream\":\"small-v2\",\"tier\":\"economy\","
    "                       \"input_usd_per_mtok\":0.15,\"output_usd_per_mtok\":0.6}},"
    " \"api_keys\":[{\"key\":\"sk-1\",\"project\":\"p1\",\"allow_model_prefer\":true},"
    "               {\"key_env\":\"SWITCHYARD_API_KEY\",\"project\":\"p2\"}]}";

static void test_good_config(void **state)
{
    (void)state;
    exp_config *cfg;
    char err[1024];
    assert_int_equal(exp_config_parse(good, strlen(good), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->nproviders, 1);
    assert_string_equal(cfg->providers[0].base_url, "http://127.0.0.1:9100/v1"); /* '/' trimmed */
    assert_int_equal(cfg->providers[0].timeout_ms, 5000);
    assert_int_equal(cfg->providers[0].connect_timeout_ms, 1000); /* default */
    assert_int_equal(cfg->nmodels, 2);
    int small = exp_config_find_model(cfg, "small");
    assert_true(small >= 0);
    assert_string_equal(cfg->models[small].upstream, "small-v2");
    int big = exp_config_find_model(cfg, "big");
    assert_string_equal(cfg->models[big].upstream, "big"); /* defaults to the name */
    assert_int_equal(cfg->default_model, big);
    assert_int_equal(cfg->holdout_bp, 500);
    assert_string_equal(cfg->salt, "s");
    assert_int_equal(cfg->napi_keys, 2);
    assert_true(cfg->api_keys[0].allow_model_prefer);
    assert_false(cfg->api_keys[1].allow_model_prefer);
    assert_string_equal(cfg->api_keys[1].key_env, "SWITCHYARD_API_KEY");
    /* 1000 in + 500 out at 2.5/10 per million = 0.0025 + 0.005 */
    assert_true(exp_model_cost(&cfg->models[big], 1000, 500) == 0.0075);
    /* provider and dispatch defaults */
    assert_int_equal(cfg->providers[0].type, EXP_WIRE_OPENAI);
    assert_null(cfg->providers[0].anthropic_version);
    assert_int_equal(cfg->providers[0].retries, 2);
    assert_true(cfg->models[big].cached_input_usd_per_mtok == 2.5); /* the input price */
    assert_true(cfg->models[big].cache_write_usd_per_mtok == 2.5);
    assert_int_equal(cfg->max_attempts, 6);
    assert_int_equal(cfg->request_timeout_ms, 120000);
    assert_int_equal(cfg->retry_backoff_ms, 100);
    assert_int_equal(cfg->retry_backoff_max_ms, 2000);
    assert_int_equal(cfg->sticky_conversations, 1);
    assert_int_equal(cfg->sticky_ttl_s, 3600);
    exp_config_free(cfg);
}

static void expect_error(const char *json, const char *want);

static const char anthropic[] =
    "{\"default_model\":\"opus\","
    " \"providers\":{\"ant\":{\"type\":\"anthropic\",\"base_url\":\"https://api.anthropic.com/v1\","
    "                         \"api_key_env\":\"ANTHROPIC_API_KEY\",\"retries\":4},"
    "              \"oai\":{\"type\":\"openai\",\"base_url\":\"https://api.openai.com/v1\"}},"
    " \"models\":{\"opus\":{\"provider\":\"ant\",\"upstream\":\"claude-opus-4-7\",\"tier\":\"premium\","
    "                      \"input_usd_per_mtok\":5,\"output_usd_per_mtok\":25,"
    "                      \"cached_input_usd_per_mtok\":0.5,\"cache_write_usd_per_mtok\":6.25}},"
    " \"dispatch\":{\"request_timeout_ms\":30000,\"retry_backoff_ms\":50,\"retry_backoff_max_ms\":800,"
    "              \"sticky_conversations\":false,\"sticky_ttl_s\":60,\"max_attempts\":12},"
    " \"api_keys\":[{\"key\":\"sk-1\",\"project\":\"p1\"}]}";

static void test_provider_types(void **state)
{
    (void)state;
    exp_config *cfg;
    char err[1024];
    assert_int_equal(exp_config_parse(anthropic, strlen(anthropic), &cfg, err, sizeof(err)), 0);
    int ant = strcmp(cfg->providers[0].name, "ant") ? 1 : 0;
    assert_int_equal(cfg->providers[ant].type, EXP_WIRE_ANTHROPIC);
    assert_string_equal(cfg->providers[ant].anthropic_version, "2023-06-01");
    assert_int_equal(cfg->providers[ant].retries, 4);
    assert_int_equal(cfg->providers[1 - ant].type, EXP_WIRE_OPENAI);
    assert_true(cfg->models[0].cached_input_usd_per_mtok == 0.5);
    assert_true(cfg->models[0].cache_write_usd_per_mtok == 6.25);
    assert_int_equal(cfg->request_timeout_ms, 30000);
    assert_int_equal(cfg->retry_backoff_ms, 50);
    assert_int_equal(cfg->retry_backoff_max_ms, 800);
    assert_int_equal(cfg->sticky_conversations, 0);
    assert_int_equal(cfg->sticky_ttl_s, 60);
    assert_int_equal(cfg->max_attempts, 12);
    exp_config_free(cfg);

    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"type\":\"gemini\"}}}",
                 "$.providers.p.type: must be \"openai\" or \"anthropic\"");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"anthropic_version\":\"1\"}}}",
                 "$.providers.p.anthropic_version: only for \"type\": \"anthropic\"");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"type\":\"anthropic\","
                 "\"anthropic_version\":\"a b\"}}}",
                 "$.providers.p.anthropic_version: must be printable ASCII without spaces");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"retries\":11}}}",
                 "$.providers.p.retries: must be between 0 and 10");
    expect_error("{\"dispatch\":{\"retry_backoff_ms\":500,\"retry_backoff_max_ms\":100}}",
                 "$.dispatch.retry_backoff_max_ms: must be at least retry_backoff_ms");
    expect_error("{\"dispatch\":{\"sticky_conversations\":1}}",
                 "$.dispatch.sticky_conversations: must be true or false");
    expect_error("{\"dispatch\":{\"request_timeout_ms\":0}}",
                 "$.dispatch.request_timeout_ms: must be between 1 and 3600000");
}

static void expect_error(const char *json, const char *want)
{
    exp_config *cfg = (exp_config *)1;
    char err[2048];
    assert_int_equal(exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)), -1);
    assert_null(cfg);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_bad_configs(void **state)
{
    (void)state;
    expect_error("{", "$: invalid JSON at line 1");
    expect_error("[]", "$: must be an object");
    expect_error("{}", "$.providers: required");
    expect_error("{}", "$.models: required");
    expect_error("{}", "$.default_model: required");
    expect_error("{\"providers\":{}}", "$.providers: must be a non-empty object keyed by provider name");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"ftp://x\"}}}",
                 "$.providers.p.base_url: must start with http:// or https://");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"timeout_ms\":\"5\"}}}",
                 "$.providers.p.timeout_ms: must be a number");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\",\"colour\":1}}}",
                 "$.providers.p.colour: unknown key");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\"}},"
                 "\"models\":{\"m\":{\"provider\":\"q\",\"tier\":\"t\",\"input_usd_per_mtok\":1,"
                 "\"output_usd_per_mtok\":1}}}",
                 "$.models.m.provider: unknown provider \"q\"");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\"}},"
                 "\"models\":{\"m\":{\"provider\":\"p\",\"tier\":\"t\",\"input_usd_per_mtok\":-1,"
                 "\"output_usd_per_mtok\":1}}}",
                 "$.models.m.input_usd_per_mtok: must be between 0 and 10000");
    expect_error("{\"providers\":{\"p\":{\"base_url\":\"http://x\"}},"
                 "\"models\":{\"m\":{\"provider\":\"p\",\"tier\":\"t\",\"input_usd_per_mtok\":1,"
                 "\"output_usd_per_mtok\":1}},\"default_model\":\"n\",\"api_keys\":[{\"key\":\"k\",\"project\":\"p\"}]}",
                 "$.default_model: unknown model \"n\"");
    expect_error("{\"api_keys\":[{\"project\":\"p\"}]}",
                 "$.api_keys[0]: exactly one of \"key\" and \"key_env\" is required");
    expect_error("{\"api_keys\":[{\"key\":\"a\",\"key_env\":\"B\",\"project\":\"p\"}]}",
                 "$.api_keys[0]: exactly one of \"key\" and \"key_env\" is required");
    expect_error("{\"api_keys\":[]}", "$.api_keys: must be a non-empty array");
    expect_error("{\"experiment\":{\"name\":\"e\",\"holdout_pct\":101}}",
                 "$.experiment.holdout_pct: must be between 0 and 100");
    expect_error("{\"typo\":1}", "$.typo: unknown key");
    expect_error("{\"a\":1,\"a\":2}", "duplicate object key");
}

static void test_every_error_reported(void **state)
{
    (void)state;
    exp_config *cfg;
    char err[2048];
    assert_int_equal(exp_config_parse("{\"x\":1,\"y\":2}", 13, &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "$.x: unknown key"));
    assert_non_null(strstr(err, "$.y: unknown key"));
    assert_non_null(strstr(err, "$.providers: required"));
    assert_non_null(strstr(err, "$.api_keys: required"));
}

/* The controller's sections are accepted (not validated) by the router's
 * parser; the controller parses without api_keys (EXP_CONFIG_NO_API_KEYS). */
static void test_controller_sections(void **state)
{
    (void)state;
    static const char nokeys[] =
        "{\"default_model\":\"big\",\"providers\":{\"p\":{\"base_url\":\"http://x\"}},"
        "\"models\":{\"big\":{\"provider\":\"p\",\"tier\":\"t\",\"input_usd_per_mtok\":1,"
        "\"output_usd_per_mtok\":1}},\"phases\":5,\"guardrails\":\"x\",\"notifications\":[],"
        "\"attribution_window_s\":null}";
    exp_config *cfg = NULL;
    char err[2048];
    assert_int_equal(exp_config_parse(nokeys, strlen(nokeys), &cfg, err, sizeof(err)), -1);
    assert_null(cfg);
    assert_string_equal(err, "$.api_keys: required (the router refuses unauthenticated traffic)");
    assert_int_equal(exp_config_parse_opts(nokeys, strlen(nokeys), EXP_CONFIG_NO_API_KEYS, &cfg,
                                           err, sizeof(err)),
                     0);
    assert_int_equal(cfg->napi_keys, 0);
    assert_null(cfg->api_keys);
    exp_config_free(cfg);
    /* api_keys, when present, are still validated in that mode */
    static const char badkeys[] =
        "{\"default_model\":\"big\",\"providers\":{\"p\":{\"base_url\":\"http://x\"}},"
        "\"models\":{\"big\":{\"provider\":\"p\",\"tier\":\"t\",\"input_usd_per_mtok\":1,"
        "\"output_usd_per_mtok\":1}},\"api_keys\":[]}";
    assert_int_equal(exp_config_parse_opts(badkeys, strlen(badkeys), EXP_CONFIG_NO_API_KEYS, &cfg,
                                           err, sizeof(err)),
                     -1);
    assert_string_equal(err, "$.api_keys: must be a non-empty array");

    /* the worked experiment definitions are router configs too */
    static const char *const files[] = {"task-routing.json", "task-routing.fast.json"};
    for (size_t i = 0; i < 2; i++) {
        const char *dir = getenv("SY_SOURCE_DIR");
        char path[1024];
        snprintf(path, sizeof(path), "%s/experiments/%s", dir ? dir : ".", files[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char buf[65536];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (exp_config_parse(buf, n, &cfg, err, sizeof(err)))
            fail_msg("%s: %s", files[i], err);
        assert_int_equal(cfg->napi_keys, 1);
        assert_int_equal(cfg->holdout_bp, 500);
        exp_config_free(cfg);
    }
}

static void test_redis_url(void **state)
{
    (void)state;
    sy_redis_addr a;
    char err[256];
    assert_int_equal(sy_redis_url_parse("redis://127.0.0.1:6390/3", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 6390);
    assert_int_equal(a.db, 3);
    assert_int_equal(sy_redis_url_parse("redis://:secret@cache", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "cache");
    assert_int_equal(a.port, 6379);
    assert_string_equal(a.password, "secret");
    assert_int_equal(sy_redis_url_parse("redis://u:p@[::1]:7000/0", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "::1");
    assert_string_equal(a.user, "u");
    assert_int_equal(a.port, 7000);
    assert_int_equal(sy_redis_url_parse("http://x", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL must start with redis:// or redis+sentinel:// (got \"http://x\")");
    assert_int_equal(sy_redis_url_parse("redis://h:99999", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has a bad port");
    assert_int_equal(sy_redis_url_parse("redis://h:1/x", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has a bad database number");
    assert_int_equal(sy_redis_url_parse("redis:///0", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has no host");
    assert_int_equal(a.nsentinels, 0);
}

static void test_redis_sentinel_url(void **state)
{
    (void)state;
    sy_redis_addr a;
    char err[256];
    assert_int_equal(sy_redis_url_parse("redis+sentinel://u:pw@10.0.0.1:26380,[::1],s3/mymaster"
                                        "?db=2&sentinel_password=sp",
                                        &a, err, sizeof(err)),
                     0);
    assert_int_equal(a.nsentinels, 3);
    assert_string_equal(a.sentinel[0].host, "10.0.0.1");
    assert_int_equal(a.sentinel[0].port, 26380);
    assert_string_equal(a.sentinel[1].host, "::1");
    assert_int_equal(a.sentinel[1].port, 26379);
    assert_string_equal(a.sentinel[2].host, "s3");
    assert_int_equal(a.sentinel[2].port, 26379);
    assert_string_equal(a.master, "mymaster");
    assert_string_equal(a.user, "u");
    assert_string_equal(a.password, "pw");
    assert_string_equal(a.sentinel_password, "sp");
    assert_string_equal(a.sentinel_user, "");
    assert_int_equal(a.db, 2);
    assert_string_equal(a.host, ""); /* found through the sentinels */
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h:1/m", &a, err, sizeof(err)), 0);
    assert_int_equal(a.db, 0);
    assert_string_equal(a.master, "m");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h:1", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis+sentinel URL has no master name (.../master-name)");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h:1/?db=1", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis+sentinel URL has no master name (.../master-name)");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h:1,,h:2/m", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has no host");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h:0/m", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has a bad port");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h/m?db=x", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has a bad database number");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h/m?tls=1", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has an unknown parameter \"tls\"");
    assert_int_equal(a.min_replicas, 0);
    assert_int_equal(
        sy_redis_url_parse("redis+sentinel://h/m?min_replicas=1&db=4", &a, err, sizeof(err)), 0);
    assert_int_equal(a.min_replicas, 1);
    assert_int_equal(a.db, 4);
    assert_int_equal(
        sy_redis_url_parse("redis+sentinel://h/m?min_replicas=17", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL has a bad min_replicas (0 to 16)");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h/m?db", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis URL parameter without a value: \"db\"");
    assert_int_equal(sy_redis_url_parse("redis+sentinel://h/m/0", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis+sentinel URL has a bad master name");
    /* an '@' in the query is not a credentials separator (found by fuzz_redisurl) */
    assert_int_equal(
        sy_redis_url_parse("redis+sentinel://h/m?sentinel_password=p@x", &a, err, sizeof(err)), 0);
    assert_string_equal(a.sentinel[0].host, "h");
    assert_string_equal(a.password, "");
    assert_string_equal(a.sentinel_password, "p@x");
    assert_int_equal(
        sy_redis_url_parse("redis+sentinel://a,b,c,d,e,f,g,h,i/m", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "redis+sentinel URL has more than 8 sentinels");
}

/* The experiment name is part of every Redis key, built in fixed buffers
 * (router/redis.c, router/expstate.c, router/chat_sticky.c): 64 bytes is the most. */
static void test_experiment_name_length(void **state)
{
    (void)state;
    char name[EXP_NAME_MAX + 2], json[sizeof(good) + 2 * EXP_NAME_MAX];
    const char *at = strstr(good, "exp1");
    assert_non_null(at);
    memset(name, 'n', sizeof(name));
    name[EXP_NAME_MAX] = '\0';
    snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - good), good, name, at + 4);
    exp_config *cfg;
    char err[1024];
    assert_int_equal(exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)), 0);
    assert_int_equal(strlen(cfg->experiment), 64);
    exp_config_free(cfg);
    name[EXP_NAME_MAX] = 'n';
    name[EXP_NAME_MAX + 1] = '\0';
    snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - good), good, name, at + 4);
    assert_int_equal(exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)), -1);
    assert_null(cfg);
    assert_string_equal(err, "$.experiment.name: at most 64 bytes");
}

/* The name is a URL path segment and part of Redis keys: a plain identifier. */
static void test_experiment_name_chars(void **state)
{
    (void)state;
    static const char *const bad[] = {"-x", ".x", "a b", "a/b", "a{b}", "caf\xc3\xa9",
                                      "a\\nb", "a:b"}; /* "a\\nb": JSON for a newline */
    static const char *const ok[] = {"x", "exp-2026.12_a", "0day"};
    const char *at = strstr(good, "exp1");
    assert_non_null(at);
    char json[sizeof(good) + 64], err[1024];
    exp_config *cfg;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - good), good, bad[i], at + 4);
        assert_int_equal(exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)), -1);
        assert_string_equal(err, "$.experiment.name: letters, digits, '_', '.' and '-' only, "
                                 "starting with a letter or a digit");
    }
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - good), good, ok[i], at + 4);
        assert_int_equal(exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg->experiment, ok[i]);
        exp_config_free(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_provider_types),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_experiment_name_length),
        cmocka_unit_test(test_experiment_name_chars),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_controller_sections),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_redis_sentinel_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
