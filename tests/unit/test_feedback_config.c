/* The router config's "feedback" section: defaults, values, and every mistake
 * refused with its JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/config.h"

#define BASE                                                                                      \
    "{\"default_model\":\"big\","                                                                 \
    " \"providers\":{\"sim\":{\"base_url\":\"http://127.0.0.1:9100/v1\"}},"                       \
    " \"models\":{\"big\":{\"provider\":\"sim\",\"tier\":\"premium\",\"input_usd_per_mtok\":1,"   \
    "                     \"output_usd_per_mtok\":1}},"                                           \
    " \"api_keys\":[{\"key\":\"sk-1\",\"project\":\"p1\"}]"

static exp_config *parse_ok(const char *json)
{
    exp_config *cfg;
    char err[2048];
    if (exp_config_parse(json, strlen(json), &cfg, err, sizeof(err)))
        fail_msg("unexpected error: %s", err);
    return cfg;
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

static void test_absent(void **state)
{
    (void)state;
    exp_config *cfg = parse_ok(BASE "}");
    assert_false(cfg->feedback.enabled);
    assert_int_equal(cfg->feedback.nprojects, 0);
    exp_config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    exp_config *cfg = parse_ok(
        BASE ",\"feedback\":{\"projects\":{\"local\":{\"secret_env\":\"SWITCHYARD_FEEDBACK_SECRET\"}}}}");
    const exp_feedback *fb = &cfg->feedback;
    assert_true(fb->enabled);
    assert_int_equal(fb->tolerance_s, 300);
    assert_int_equal(fb->attribution_window_s, 86400);
    assert_int_equal(fb->max_body_bytes, 8 << 20);
    assert_int_equal(fb->max_items, 1000);
    assert_int_equal(fb->db_pool_size, 4);
    assert_int_equal(fb->db_queue_max, 64);
    assert_int_equal(fb->db_timeout_ms, 10000);
    assert_int_equal(fb->nprojects, 1);
    assert_string_equal(fb->projects[0].name, "local");
    assert_int_equal(fb->projects[0].nsecrets, 1);
    assert_string_equal(fb->projects[0].secret_env[0], "SWITCHYARD_FEEDBACK_SECRET");
    exp_config_free(cfg);
}

static void test_values(void **state)
{
    (void)state;
    exp_config *cfg = parse_ok(
        BASE ",\"feedback\":{\"tolerance_s\":60,\"attribution_window_s\":3600,"
             "\"max_body_bytes\":16777216,\"max_items\":500,\"db_pool_size\":2,"
             "\"db_queue_max\":0,\"db_timeout_ms\":2500,"
             "\"projects\":{\"a\":{\"secret_env\":[\"A_NEW\",\"A_OLD\"]},"
             "\"b\":{\"secret_env\":[\"B\"]}}}}");
    const exp_feedback *fb = &cfg->feedback;
    assert_int_equal(fb->tolerance_s, 60);
    assert_int_equal(fb->attribution_window_s, 3600);
    assert_int_equal(fb->max_body_bytes, 16777216);
    assert_int_equal(fb->max_items, 500);
    assert_int_equal(fb->db_pool_size, 2);
    assert_int_equal(fb->db_queue_max, 0);
    assert_int_equal(fb->db_timeout_ms, 2500);
    assert_int_equal(fb->nprojects, 2);
    assert_int_equal(fb->projects[0].nsecrets, 2);
    assert_string_equal(fb->projects[0].secret_env[0], "A_NEW");
    assert_string_equal(fb->projects[0].secret_env[1], "A_OLD");
    assert_string_equal(fb->projects[1].name, "b");
    assert_int_equal(fb->projects[1].nsecrets, 1);
    exp_config_free(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(BASE ",\"feedback\":[]}", "$.feedback: must be an object");
    expect_error(BASE ",\"feedback\":{}}", "$.feedback.projects: required");
    expect_error(BASE ",\"feedback\":{\"projects\":{}}}",
                 "$.feedback.projects: must be a non-empty object keyed by project name");
    expect_error(BASE ",\"feedback\":{\"secret\":\"x\",\"projects\":{\"a\":{\"secret_env\":\"A\"}}}}",
                 "$.feedback.secret: unknown key");
    expect_error(BASE ",\"feedback\":{\"tolerance_s\":0,\"projects\":{\"a\":{\"secret_env\":\"A\"}}}}",
                 "$.feedback.tolerance_s: must be between 1 and 86400");
    expect_error(BASE ",\"feedback\":{\"max_items\":\"9\",\"projects\":{\"a\":{\"secret_env\":\"A\"}}}}",
                 "$.feedback.max_items: must be a number");
    expect_error(BASE ",\"feedback\":{\"db_pool_size\":65,\"projects\":{\"a\":{\"secret_env\":\"A\"}}}}",
                 "$.feedback.db_pool_size: must be between 1 and 64");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":1}}}",
                 "$.feedback.projects.a: must be an object");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":{}}}}",
                 "$.feedback.projects.a.secret_env: required");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":{\"secret\":\"s\",\"secret_env\":\"A\"}}}}",
                 "$.feedback.projects.a.secret: unknown key");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":{\"secret_env\":\"\"}}}}",
                 "$.feedback.projects.a.secret_env: must be an environment variable name or an "
                 "array of 1 to 2 of them");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":{\"secret_env\":[\"A\",\"B\",\"C\"]}}}}",
                 "$.feedback.projects.a.secret_env: must be an environment variable name or an "
                 "array of 1 to 2 of them");
    expect_error(BASE ",\"feedback\":{\"projects\":{\"a\":{\"secret_env\":[\"A\",7]}}}}",
                 "$.feedback.projects.a.secret_env[1]: must be a non-empty string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
