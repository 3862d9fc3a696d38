/* Experiment definitions: the worked examples parse to the documented values
 * (and their cost arithmetic holds), every validation rule is refused with its
 * exact JSON path and reason, all errors are reported at once, and the
 * canonical text parses back to itself. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/experiment.h"

static char *read_example(const char *name, size_t *len)
{
    const char *dir = getenv("SY_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/experiments/%s", dir ? dir : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static exp_experiment *parse_example(const char *name)
{
    size_t len;
    char *json = read_example(name, &len);
    exp_experiment *x = NULL;
    char err[4096];
    int rc = exp_experiment_parse(json, len, &x, err, sizeof(err));
    if (rc)
        print_error("%s: %s\n", name, err);
    assert_int_equal(rc, 0);
    free(json);
    return x;
}

static void test_example(void **state)
{
    (void)state;
    exp_experiment *x = parse_example("task-routing.json");
    const exp_config *c = x->config;
    assert_string_equal(c->experiment, "task-routing");
    assert_int_equal(c->holdout_bp, 500);
    assert_string_equal(c->models[c->default_model].name, "sim-premium");
    assert_int_equal(c->napi_keys, 1);
    assert_true(c->feedback.enabled);

    /* the plan: shadow -> canary 5% -> ramp 25/50/75 -> full */
    static const exp_phase kinds[] = {EXP_PHASE_SHADOW, EXP_PHASE_CANARY, EXP_PHASE_RAMP,
                                      EXP_PHASE_RAMP,   EXP_PHASE_RAMP,   EXP_PHASE_FULL};
    static const int bps[] = {0, 500, 2500, 5000, 7500, 10000};
    assert_int_equal(x->nsteps, 6);
    for (int i = 0; i < 6; i++) {
        exp_phase p = EXP_PHASE_OFF;
        assert_int_equal(exp_experiment_step(x, i, &p), bps[i]);
        assert_int_equal(p, kinds[i]);
    }
    assert_int_equal(exp_experiment_step(x, 6, NULL), -1);
    assert_int_equal(exp_experiment_step(x, -1, NULL), -1);
    assert_int_equal(x->steps[0].min_duration_s, 21600);
    assert_int_equal(x->steps[0].min_labels, 200);
    assert_true(x->steps[0].accuracy_floor == 0.85);
    assert_int_equal(x->steps[1].min_samples, 200);
    assert_int_equal(x->steps[5].min_duration_s, 86400);

    assert_int_equal(x->nguardrails, 5);
    assert_int_equal(x->guardrails[0].metric, EXP_GM_THUMBS_DOWN_RATE);
    assert_int_equal(x->guardrails[0].action, EXP_GA_HOLD_BACK_TASK);
    assert_true(x->guardrails[0].margin == 0.02);
    assert_int_equal(x->guardrails[0].tasks, 0xfu);
    assert_int_equal(x->guardrails[1].metric, EXP_GM_ERROR_RATE);
    assert_int_equal(x->guardrails[1].action, EXP_GA_ROLLBACK);
    assert_true(x->guardrails[1].alpha == 0.01);
    assert_int_equal(x->guardrails[2].metric, EXP_GM_LATENCY_P95_SHARE);
    assert_int_equal(x->guardrails[2].action, EXP_GA_HOLD_BACK_TASK);
    assert_int_equal(x->guardrails[3].metric, EXP_GM_RATING);
    assert_int_equal(x->guardrails[3].action, EXP_GA_WARN);
    assert_int_equal(x->guardrails[4].metric, EXP_GM_COST_PER_REQUEST);
    assert_int_equal(x->guardrails[4].action, EXP_GA_WARN);

    assert_int_equal(x->notifications.nwebhooks, 1);
    assert_string_equal(x->notifications.webhooks[0].secret_env, "SWITCHYARD_WEBHOOK_SECRET");
    assert_int_equal(x->notifications.webhooks[0].events, EXP_EV_DEFAULT);
    assert_int_equal(x->notifications.timeout_ms, 5000);
    assert_int_equal(x->notifications.max_attempts, 5);
    assert_int_equal(x->attribution_window_s, 86400);
    exp_experiment_free(x);
}

/* experiments/README.md "The worked example": per-task average tokens, the
 * balanced-mode routing table, 50,000 requests a day. */
static void test_example_arithmetic(void **state)
{
    (void)state;
    exp_experiment *x = parse_example("task-routing.json");
    const exp_config *c = x->config;
    static const struct {
        wire_task task;
        long requests, in, out;
        const char *routed;
    } rows[] = {{WIRE_TASK_SIMPLE, 25000, 600, 250, "sim-small"},
                {WIRE_TASK_CODE, 10000, 1200, 700, "sim-mid"},
                {WIRE_TASK_REASONING, 10000, 1250, 1250, "sim-reasoner"},
                {WIRE_TASK_COMPLEX, 5000, 7500, 3500, "sim-premium"}};
    /* daily cost in micro-dollars, compared exactly after rounding */
    long single = 0, routed = 0;
    for (size_t i = 0; i < 4; i++) {
        int m = c->routing[rows[i].task][EXP_MODE_BALANCED];
        assert_string_equal(c->models[m].name, rows[i].routed);
        double per_default = exp_model_cost(&c->models[c->default_model], rows[i].in, rows[i].out);
        double per_routed = exp_model_cost(&c->models[m], rows[i].in, rows[i].out);
        single += lround(per_default * 1e6) * rows[i].requests;
        routed += lround(per_routed * 1e6) * rows[i].requests;
    }
    assert_int_equal(single, 625000000L);  /* $625.00/day, $0.0125 per request */
    assert_int_equal(routed, 357500000L);  /* $357.50/day */
    assert_int_equal((single - routed) * 1000 / single, 428); /* 42.8% saving */
    exp_experiment_free(x);
}

static void test_fast_example(void **state)
{
    (void)state;
    exp_experiment *x = parse_example("task-routing.fast.json");
    assert_int_equal(x->nsteps, 6);
    for (int i = 0; i < x->nsteps; i++)
        assert_int_equal(x->steps[i].min_duration_s, 10);
    assert_int_equal(x->steps[0].min_labels, 20);
    assert_int_equal(x->notifications.nwebhooks, 0);
    assert_int_equal(x->attribution_window_s, 300);
    assert_int_equal(x->config->feedback.attribution_window_s, 300);
    exp_experiment_free(x);
}

/* A minimal valid definition; "%s" takes the controller's sections. */
#define BASE                                                                                       \
    "{\"experiment\":{\"name\":\"t\"},\"default_model\":\"big\","                                  \
    "\"providers\":{\"p\":{\"base_url\":\"http://h/v1\"}},"                                        \
    "\"models\":{\"big\":{\"provider\":\"p\",\"tier\":\"premium\",\"input_usd_per_mtok\":2,"       \
    "\"output_usd_per_mtok\":8},\"small\":{\"provider\":\"p\",\"tier\":\"economy\","               \
    "\"input_usd_per_mtok\":0.1,\"output_usd_per_mtok\":0.4}}%s}"

#define PLAN ",\"phases\":[{\"kind\":\"full\"}]"

static char *doc(const char *sections)
{
    size_t n = strlen(BASE) + strlen(sections) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, BASE, sections);
    return s;
}

static void expect_error(const char *sections, const char *want)
{
    char *json = doc(sections);
    exp_experiment *x = (exp_experiment *)1;
    char err[4096];
    assert_int_equal(exp_experiment_parse(json, strlen(json), &x, err, sizeof(err)), -1);
    assert_null(x);
    if (strcmp(err, want))
        print_error("sections: %s\n got: %s\nwant: %s\n", sections, err, want);
    assert_string_equal(err, want);
    free(json);
}

static exp_experiment *expect_ok(const char *sections)
{
    char *json = doc(sections);
    exp_experiment *x = NULL;
    char err[4096];
    int rc = exp_experiment_parse(json, strlen(json), &x, err, sizeof(err));
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    free(json);
    return x;
}

static void test_defaults(void **state)
{
    (void)state;
    /* no api_keys (the controller does not need them), no guardrails, no notifications */
    exp_experiment *x = expect_ok(",\"phases\":[{\"kind\":\"shadow\"},{\"kind\":\"canary\","
                                  "\"routed_pct\":2.5},{\"kind\":\"full\"}]");
    assert_int_equal(x->config->napi_keys, 0);
    assert_int_equal(x->nsteps, 3);
    assert_int_equal(x->steps[0].routed_bp, 0);
    assert_int_equal(x->steps[0].min_labels, 50);
    assert_true(x->steps[0].accuracy_floor == 0.85);
    assert_int_equal(x->steps[0].min_duration_s, 0);
    assert_int_equal(x->steps[0].min_samples, 0);
    assert_int_equal(x->steps[1].routed_bp, 250);
    assert_int_equal(x->steps[2].routed_bp, 10000);
    assert_int_equal(x->steps[2].min_labels, 0);

    static const struct {
        exp_guard_metric m;
        double margin;
        exp_guard_action a;
    } want[] = {{EXP_GM_THUMBS_DOWN_RATE, 0.02, EXP_GA_HOLD_BACK_TASK},
                {EXP_GM_ERROR_RATE, 0.01, EXP_GA_ROLLBACK},
                {EXP_GM_LATENCY_P95_SHARE, 0.05, EXP_GA_HOLD_BACK_TASK},
                {EXP_GM_RATING, 0.2, EXP_GA_WARN},
                {EXP_GM_COST_PER_REQUEST, 0, EXP_GA_WARN}};
    assert_int_equal(x->nguardrails, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(x->guardrails[i].metric, want[i].m);
        assert_true(x->guardrails[i].margin == want[i].margin);
        assert_int_equal(x->guardrails[i].action, want[i].a);
        assert_true(x->guardrails[i].alpha == 0.05);
        assert_int_equal(x->guardrails[i].min_samples, 100);
        assert_int_equal(x->guardrails[i].tasks, 0xfu);
    }
    assert_int_equal(x->notifications.nwebhooks, 0);
    assert_int_equal(x->notifications.timeout_ms, 5000);
    assert_int_equal(x->notifications.max_attempts, 5);
    assert_int_equal(x->attribution_window_s, 86400);
    assert_string_equal(
        x->canonical,
        "{\"attribution_window_s\":86400,\"default_model\":\"big\",\"experiment\":{\"name\":\"t\"},"
        "\"guardrails\":["
        "{\"action\":\"hold_back_task\",\"alpha\":0.05,\"margin\":0.02,\"metric\":\"thumbs_down_rate\","
        "\"min_samples\":100},"
        "{\"action\":\"rollback\",\"alpha\":0.05,\"margin\":0.01,\"metric\":\"error_rate\","
        "\"min_samples\":100},"
        "{\"action\":\"hold_back_task\",\"alpha\":0.05,\"margin\":0.05,\"metric\":"
        "\"latency_p95_share\",\"min_samples\":100},"
        "{\"action\":\"warn\",\"alpha\":0.05,\"margin\":0.2,\"metric\":\"rating\",\"min_samples\":100},"
        "{\"action\":\"warn\",\"alpha\":0.05,\"margin\":0.0,\"metric\":\"cost_per_request\","
        "\"min_samples\":100}],"
        "\"models\":{\"big\":{\"input_usd_per_mtok\":2,\"output_usd_per_mtok\":8,\"provider\":\"p\","
        "\"tier\":\"premium\"},\"small\":{\"input_usd_per_mtok\":0.1,\"output_usd_per_mtok\":0.4,"
        "\"provider\":\"p\",\"tier\":\"economy\"}},"
        "\"notifications\":{\"max_attempts\":5,\"timeout_ms\":5000,\"webhooks\":[]},"
        "\"phases\":[{\"accuracy_floor\":0.85,\"kind\":\"shadow\",\"min_duration_s\":0,"
        "\"min_labels\":50,\"min_samples\":0},{\"kind\":\"canary\",\"min_duration_s\":0,"
        "\"min_samples\":0,\"routed_pct\":2.5},{\"kind\":\"full\",\"min_duration_s\":0,"
        "\"min_samples\":0}],"
        "\"providers\":{\"p\":{\"base_url\":\"http://h/v1\"}}}");
    exp_experiment_free(x);

    /* per-metric defaults inside a guardrail; tasks and events subsets */
    x = expect_ok(PLAN ",\"guardrails\":[{\"metric\":\"error_rate\",\"tasks\":[\"complex\","
                       "\"code\"]}],\"notifications\":{\"webhooks\":[{\"url\":\"https://h/x\","
                       "\"events\":[\"rollback\",\"warn\"]},{\"url\":\"http://h/y\"}]},"
                       "\"feedback\":{\"projects\":{\"p\":{\"secret_env\":\"S\"}},"
                       "\"attribution_window_s\":600}");
    assert_int_equal(x->nguardrails, 1);
    assert_int_equal(x->guardrails[0].action, EXP_GA_ROLLBACK);
    assert_true(x->guardrails[0].margin == 0.01);
    assert_int_equal(x->guardrails[0].tasks, (1u << WIRE_TASK_CODE) | (1u << WIRE_TASK_COMPLEX));
    assert_int_equal(x->notifications.nwebhooks, 2);
    assert_string_equal(x->notifications.webhooks[0].url, "https://h/x");
    assert_null(x->notifications.webhooks[0].secret_env);
    assert_int_equal(x->notifications.webhooks[0].events,
                     (1u << EXP_EV_ROLLBACK) | (1u << EXP_EV_WARN));
    assert_int_equal(x->notifications.webhooks[1].events, EXP_EV_DEFAULT);
    assert_false(x->notifications.webhooks[1].events & (1u << EXP_EV_HOLD));
    assert_int_equal(x->attribution_window_s, 600); /* follows the feedback section */
    exp_experiment_free(x);

    /* an empty guardrails array is an explicit "none" */
    x = expect_ok(PLAN ",\"guardrails\":[]");
    assert_int_equal(x->nguardrails, 0);
    exp_experiment_free(x);
}

static void test_plan_rules(void **state)
{
    (void)state;
    expect_error("", "$.phases: required");
    expect_error(",\"phases\":[]", "$.phases: must be a non-empty array of steps");
    expect_error(",\"phases\":{}", "$.phases: must be a non-empty array of steps");
    expect_error(",\"phases\":[{\"kind\":\"full\"},3]",
                 "$.phases[0].kind: full must be the last step\n"
                 "$.phases[1]: must be an object");
    expect_error(",\"phases\":[{}]", "$.phases[0].kind: required");
    expect_error(",\"phases\":[{\"kind\":\"live\"}]",
                 "$.phases[0].kind: unknown phase kind \"live\" (shadow, canary, ramp, full)");
    expect_error(",\"phases\":[{\"kind\":1}]",
                 "$.phases[0].kind: must be a string (shadow, canary, ramp, full)");
    expect_error(",\"phases\":[{\"kind\":\"full\",\"after\":1}]", "$.phases[0].after: unknown key");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":5},{\"kind\":\"shadow\"},"
                 "{\"kind\":\"full\"}]",
                 "$.phases[1].kind: shadow must be the first step");
    expect_error(",\"phases\":[{\"kind\":\"ramp\",\"routed_pct\":5},{\"kind\":\"canary\","
                 "\"routed_pct\":10},{\"kind\":\"full\"}]",
                 "$.phases[1].kind: canary must come before the ramp steps");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":5},{\"kind\":\"canary\","
                 "\"routed_pct\":10},{\"kind\":\"full\"}]",
                 "$.phases[1].kind: only one canary step is allowed");
    expect_error(",\"phases\":[{\"kind\":\"shadow\"},{\"kind\":\"ramp\",\"routed_pct\":50}]",
                 "$.phases[1].kind: the last step must be full (got \"ramp\")");
    expect_error(",\"phases\":[{\"kind\":\"full\"},{\"kind\":\"full\"}]",
                 "$.phases[0].kind: full must be the last step");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":5},{\"kind\":\"ramp\","
                 "\"routed_pct\":25},{\"kind\":\"ramp\",\"routed_pct\":10},{\"kind\":\"full\"}]",
                 "$.phases[2].routed_pct: must increase from the previous step (25 -> 10)");
    expect_error(",\"phases\":[{\"kind\":\"ramp\",\"routed_pct\":20},{\"kind\":\"ramp\","
                 "\"routed_pct\":20},{\"kind\":\"full\"}]",
                 "$.phases[1].routed_pct: must increase from the previous step (20 -> 20)");
    expect_error(",\"phases\":[{\"kind\":\"canary\"},{\"kind\":\"ramp\"},{\"kind\":\"full\"}]",
                 "$.phases[0].routed_pct: required for a canary step\n"
                 "$.phases[1].routed_pct: required for a ramp step");
    expect_error(",\"phases\":[{\"kind\":\"shadow\",\"routed_pct\":1},{\"kind\":\"full\","
                 "\"routed_pct\":100}]",
                 "$.phases[0].routed_pct: only canary and ramp steps take a routed share\n"
                 "$.phases[1].routed_pct: only canary and ramp steps take a routed share");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":0},{\"kind\":\"ramp\","
                 "\"routed_pct\":100},{\"kind\":\"full\"}]",
                 "$.phases[0].routed_pct: must be greater than 0 and less than 100\n"
                 "$.phases[1].routed_pct: must be greater than 0 and less than 100");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":\"5\"},{\"kind\":\"full\"}]",
                 "$.phases[0].routed_pct: must be a number");
    expect_error(",\"phases\":[{\"kind\":\"canary\",\"routed_pct\":1.234},{\"kind\":\"full\"}]",
                 "$.phases[0].routed_pct: at most two decimals (basis points)");
    expect_error(",\"phases\":[{\"kind\":\"full\",\"min_duration_s\":-1,\"min_samples\":1.5}]",
                 "$.phases[0].min_duration_s: must be an integer from 0 to 31536000\n"
                 "$.phases[0].min_samples: must be an integer from 0 to 1000000000");
    expect_error(",\"phases\":[{\"kind\":\"full\",\"min_labels\":5,\"accuracy_floor\":0.9}]",
                 "$.phases[0].min_labels: only a shadow step takes min_labels\n"
                 "$.phases[0].accuracy_floor: only a shadow step takes accuracy_floor");
    expect_error(",\"phases\":[{\"kind\":\"shadow\",\"min_labels\":-2,\"accuracy_floor\":1.5},"
                 "{\"kind\":\"full\"}]",
                 "$.phases[0].min_labels: must be an integer from 0 to 1000000000\n"
                 "$.phases[0].accuracy_floor: must be greater than 0 and at most 1");
    expect_error(",\"phases\":[{\"kind\":\"shadow\",\"min_labels\":0,\"accuracy_floor\":0},"
                 "{\"kind\":\"full\"}]",
                 "$.phases[0].accuracy_floor: must be greater than 0 and at most 1");
    expect_error(",\"phases\":[{\"kind\":\"shadow\",\"accuracy_floor\":\"high\"},"
                 "{\"kind\":\"full\"}]",
                 "$.phases[0].accuracy_floor: must be a number");
}

static void test_guardrail_rules(void **state)
{
    (void)state;
    expect_error(PLAN ",\"guardrails\":{}", "$.guardrails: must be an array");
    expect_error(PLAN ",\"guardrails\":[7]", "$.guardrails[0]: must be an object");
    expect_error(PLAN ",\"guardrails\":[{}]", "$.guardrails[0].metric: required");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"thumbs\"}]",
                 "$.guardrails[0].metric: unknown metric \"thumbs\" (thumbs_down_rate, rating, "
                 "error_rate, latency_p95_share, cost_per_request)");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":true}]",
                 "$.guardrails[0].metric: must be a string (thumbs_down_rate, rating, "
                 "error_rate, latency_p95_share, cost_per_request)");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"why\":1}]",
                 "$.guardrails[0].why: unknown key");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"margin\":-0.1}]",
                 "$.guardrails[0].margin: must be at least 0");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"error_rate\",\"margin\":2}]",
                 "$.guardrails[0].margin: must be at most 1 for error_rate");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"margin\":5}]",
                 "$.guardrails[0].margin: must be at most 4 for rating");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"margin\":\"x\"}]",
                 "$.guardrails[0].margin: must be a number");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"alpha\":0},"
                      "{\"metric\":\"rating\",\"alpha\":0.5},{\"metric\":\"rating\",\"alpha\":0.4}]",
                 "$.guardrails[0].alpha: must be greater than 0 and less than 0.5\n"
                 "$.guardrails[1].alpha: must be greater than 0 and less than 0.5");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"action\":\"panic\"}]",
                 "$.guardrails[0].action: unknown action \"panic\" (hold_back_task, rollback, "
                 "pause, warn)");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"action\":[]}]",
                 "$.guardrails[0].action: must be a string (hold_back_task, rollback, pause, "
                 "warn)");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"min_samples\":0}]",
                 "$.guardrails[0].min_samples: must be an integer from 1 to 1000000000");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"tasks\":[]}]",
                 "$.guardrails[0].tasks: must be a non-empty array of task types (simple, code, "
                 "reasoning, complex)");
    expect_error(PLAN ",\"guardrails\":[{\"metric\":\"rating\",\"tasks\":[\"code\",\"chat\","
                      "\"code\",3]}]",
                 "$.guardrails[0].tasks[1]: unknown task type \"chat\" (simple, code, reasoning, "
                 "complex)\n"
                 "$.guardrails[0].tasks[2]: duplicate task type \"code\"\n"
                 "$.guardrails[0].tasks[3]: must be a string (simple, code, reasoning, complex)");
}

static void test_notification_rules(void **state)
{
    (void)state;
    expect_error(PLAN ",\"notifications\":[]", "$.notifications: must be an object");
    expect_error(PLAN ",\"notifications\":{\"hooks\":[]}", "$.notifications.hooks: unknown key");
    expect_error(PLAN ",\"notifications\":{\"webhooks\":{}}",
                 "$.notifications.webhooks: must be an array");
    expect_error(PLAN ",\"notifications\":{\"timeout_ms\":0,\"max_attempts\":101}",
                 "$.notifications.timeout_ms: must be an integer from 1 to 600000\n"
                 "$.notifications.max_attempts: must be an integer from 1 to 100");
    expect_error(PLAN ",\"notifications\":{\"webhooks\":[\"x\",{}]}",
                 "$.notifications.webhooks[0]: must be an object\n"
                 "$.notifications.webhooks[1].url: required");
    expect_error(PLAN ",\"notifications\":{\"webhooks\":[{\"url\":\"ftp://h\",\"secret_env\":\"\","
                      "\"format\":\"slack\"}]}",
                 "$.notifications.webhooks[0].format: unknown key\n"
                 "$.notifications.webhooks[0].url: must start with http:// or https://\n"
                 "$.notifications.webhooks[0].secret_env: must be a non-empty string");
    expect_error(PLAN ",\"notifications\":{\"webhooks\":[{\"url\":\"http://h\",\"events\":[]}]}",
                 "$.notifications.webhooks[0].events: must be a non-empty array of events (start, "
                 "advance, hold, hold_back, release, rollback, pause, resume, promote, complete, "
                 "warn)");
    expect_error(PLAN ",\"notifications\":{\"webhooks\":[{\"url\":\"http://h\",\"events\":"
                      "[\"rollback\",\"boom\",\"rollback\",1]}]}",
                 "$.notifications.webhooks[0].events[1]: unknown event \"boom\" (start, advance, "
                 "hold, hold_back, release, rollback, pause, resume, promote, complete, warn)\n"
                 "$.notifications.webhooks[0].events[2]: duplicate event \"rollback\"\n"
                 "$.notifications.webhooks[0].events[3]: must be a string (start, advance, hold, "
                 "hold_back, release, rollback, pause, resume, promote, complete, warn)");
    expect_error(PLAN ",\"attribution_window_s\":-1",
                 "$.attribution_window_s: must be an integer from 0 to 31536000");
    expect_error(PLAN ",\"attribution_window_s\":6000,\"feedback\":{\"projects\":{\"p\":"
                      "{\"secret_env\":\"S\"}},\"attribution_window_s\":600}",
                 "$.attribution_window_s: longer than $.feedback.attribution_window_s (6000 > "
                 "600): feedback after the router's window is late and never counted");
}

static void test_shared_sections(void **state)
{
    (void)state;
    /* the experiment's name is required by the controller (the router defaults it) */
    static const char noexp[] =
        "{\"default_model\":\"big\",\"providers\":{\"p\":{\"base_url\":\"http://h\"}},"
        "\"models\":{\"big\":{\"provider\":\"p\",\"tier\":\"t\",\"input_usd_per_mtok\":1,"
        "\"output_usd_per_mtok\":1}},\"phases\":[{\"kind\":\"full\"}]}";
    exp_experiment *x = (exp_experiment *)1;
    char err[4096];
    assert_int_equal(exp_experiment_parse(noexp, strlen(noexp), &x, err, sizeof(err)), -1);
    assert_null(x);
    assert_string_equal(err, "$.experiment: required (the controller needs the experiment's name)");

    /* api_keys are optional here but still validated when present */
    expect_error(PLAN ",\"api_keys\":[{\"project\":\"p\"}]",
                 "$.api_keys[0]: exactly one of \"key\" and \"key_env\" is required");

    /* invalid JSON and a non-object are reported once */
    assert_int_equal(exp_experiment_parse("{\"a\":", 5, &x, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "$: invalid JSON at line 1"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(exp_experiment_parse("[]", 2, &x, err, sizeof(err)), -1);
    assert_string_equal(err, "$: must be an object");
}

/* Errors of the router's sections and of the controller's all come back, in
 * document order of the parsers: config first, then the plan, guardrails,
 * notifications. */
static void test_every_error_reported(void **state)
{
    (void)state;
    expect_error(",\"routing\":{\"simple\":{\"eco\":\"tiny\"}},\"typo\":1,"
                 "\"phases\":[{\"kind\":\"canary\",\"routed_pct\":25},{\"kind\":\"ramp\","
                 "\"routed_pct\":10},{\"kind\":\"shadow\"}],"
                 "\"guardrails\":[{\"metric\":\"thumbs\",\"alpha\":0.7,\"margin\":-1}],"
                 "\"notifications\":{\"webhooks\":[{\"url\":\"x\"}]}",
                 "$.typo: unknown key\n"
                 "$.routing.simple.eco: unknown model \"tiny\"\n"
                 "$.phases[1].routed_pct: must increase from the previous step (25 -> 10)\n"
                 "$.phases[2].kind: shadow must be the first step\n"
                 "$.phases[2].kind: the last step must be full (got \"shadow\")\n"
                 "$.guardrails[0].metric: unknown metric \"thumbs\" (thumbs_down_rate, rating, "
                 "error_rate, latency_p95_share, cost_per_request)\n"
                 "$.guardrails[0].margin: must be at least 0\n"
                 "$.guardrails[0].alpha: must be greater than 0 and less than 0.5\n"
                 "$.notifications.webhooks[0].url: must start with http:// or https://");

    /* a short buffer is truncated, never overrun */
    char *json = doc(",\"phases\":[],\"guardrails\":[1,2,3]");
    char err[40];
    exp_experiment *x;
    memset(err, 'z', sizeof(err));
    assert_int_equal(exp_experiment_parse(json, strlen(json), &x, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), sizeof(err) - 1);
    free(json);
}

static void test_canonical_round_trip(void **state)
{
    (void)state;
    static const char *const files[] = {"task-routing.json", "task-routing.fast.json"};
    for (size_t f = 0; f < 2; f++) {
        exp_experiment *x = parse_example(files[f]);
        exp_experiment *y = NULL;
        char err[4096];
        assert_int_equal(
            exp_experiment_parse(x->canonical, strlen(x->canonical), &y, err, sizeof(err)), 0);
        assert_string_equal(x->canonical, y->canonical);
        assert_int_equal(x->nsteps, y->nsteps);
        for (int i = 0; i < x->nsteps; i++)
            assert_memory_equal(&x->steps[i], &y->steps[i], sizeof(exp_step));
        assert_int_equal(x->nguardrails, y->nguardrails);
        for (int i = 0; i < x->nguardrails; i++)
            assert_memory_equal(&x->guardrails[i], &y->guardrails[i], sizeof(exp_guardrail));
        assert_int_equal(x->config->holdout_bp, y->config->holdout_bp);
        /* keys are sorted in the canonical text, so model indices may differ: compare names */
        for (int t = 0; t < WIRE_NTASKS; t++)
            for (int m = 0; m < EXP_NMODES; m++)
                assert_string_equal(x->config->models[x->config->routing[t][m]].name,
                                    y->config->models[y->config->routing[t][m]].name);
        assert_non_null(strstr(x->canonical, "\"routed_pct\":25}"));
        assert_non_null(strstr(x->canonical, "\"input_usd_per_mtok\":2.5,"));
        exp_experiment_free(x);
        exp_experiment_free(y);
    }

    /* a literal client key never reaches the stored definition */
    exp_experiment *x = expect_ok(PLAN ",\"api_keys\":[{\"key\":\"sk-secret\",\"project\":\"p\"}]");
    assert_null(strstr(x->canonical, "sk-secret"));
    assert_non_null(strstr(x->canonical, "\"key\":\"[redacted]\""));
    assert_string_equal(x->config->api_keys[0].key, "sk-secret");
    exp_experiment_free(x);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < EXP_GM_N; i++) {
        exp_guard_metric m;
        assert_int_equal(exp_guard_metric_parse(exp_guard_metric_str((exp_guard_metric)i), &m), 0);
        assert_int_equal(m, i);
    }
    for (int i = 0; i < EXP_GA_N; i++) {
        exp_guard_action a;
        assert_int_equal(exp_guard_action_parse(exp_guard_action_str((exp_guard_action)i), &a), 0);
        assert_int_equal(a, i);
    }
    for (int i = 0; i < EXP_EV_N; i++) {
        exp_event ev;
        assert_int_equal(exp_event_parse(exp_event_str((exp_event)i), &ev), 0);
        assert_int_equal(ev, i);
    }
    exp_guard_metric m;
    exp_guard_action a;
    exp_event ev;
    assert_int_equal(exp_guard_metric_parse("latency", &m), -1);
    assert_int_equal(exp_guard_action_parse(NULL, &a), -1);
    assert_int_equal(exp_event_parse("", &ev), -1);
    assert_string_equal(exp_guard_metric_str(EXP_GM_N), "?");
    assert_string_equal(exp_guard_action_str(EXP_GA_HOLD_BACK_TASK), "hold_back_task");
    assert_string_equal(exp_event_str(EXP_EV_HOLD_BACK), "hold_back");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_example_arithmetic),
        cmocka_unit_test(test_fast_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_plan_rules),
        cmocka_unit_test(test_guardrail_rules),
        cmocka_unit_test(test_notification_rules),
        cmocka_unit_test(test_shared_sections),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_canonical_round_trip),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
