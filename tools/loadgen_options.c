/*
 * switchyard loadgen, the command line: the usage text, parsing and checking the
 * options into an lg_opts (environment fallbacks for the URLs and secrets), and the
 * API URLs built from --url and --sim-url.
 */
#include "tools/loadgen_options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"

const char lg_usage_text[] =
    "usage: switchyard loadgen --url ROUTER_URL --api-key KEY [options]\n"
    "\n"
    "Open-loop traffic to the router: labelled prompts from a corpus file at --rate,\n"
    "and simulated feedback following the simulator's per-model, per-task quality.\n"
    "\n"
    "  --url URL                 router base URL ($SWITCHYARD_URL), e.g. http://127.0.0.1:8080\n"
    "  --api-key KEY             client API key ($SWITCHYARD_API_KEY)\n"
    "  --rate N                  requests per second, Poisson arrivals (default 10)\n"
    "  --duration S              seconds of sending (default 10 unless --requests)\n"
    "  --requests N              arrivals to schedule instead of a duration\n"
    "  --users N                 user pool \"user-0\"..\"user-<N-1>\", Zipf-like (default 100)\n"
    "  --mix T=W,...             task mix by corpus label (default " LG_DEFAULT_MIX ")\n"
    "  --prompts FILE.jsonl      JSON lines with text and label (default\n"
    "                            " LG_DEFAULT_PROMPTS " beside the binary or in .)\n"
    "  --concurrency N           requests in flight at most; arrivals beyond are\n"
    "                            skipped and counted (default 64)\n"
    "  --mode eco|balanced|sport sent as X-Route-Mode (default: none sent)\n"
    "  --stream-share F          share of requests sent with \"stream\": true (default 0)\n"
    "  --timeout-ms N            per request (default 60000)\n"
    "  --seed N                  random seed (default 1)\n"
    "\n"
    "Feedback:\n"
    "  --feedback-rate F         share of answered requests that get feedback (default 0.05)\n"
    "  --feedback-delay-ms A-B   delay after the answer, uniform (default 100-2000)\n"
    "  --rating-share F          share of those that also get a 1-5 rating (default 0.3)\n"
    "  --label-rate F            share of answered requests a human labeller labels with\n"
    "                            the prompt's corpus task type (POST /v1/labels; default 0)\n"
    "  --feedback-secret S       signing secret ($SWITCHYARD_FEEDBACK_SECRET); required\n"
    "                            when --feedback-rate is above 0\n"
    "  --project P               project name for the logs and the report\n"
    "  --sim-url URL             simulator base URL ($SWITCHYARD_SIM_URL): GET /v1/models\n"
    "                            gives each model's quality; without it every model\n"
    "                            gets thumbs_down 0.10, rating 4.0\n"
    "  --quality-override MODEL:TASK:thumbs_down=P[,rating=R][,MODEL:TASK:...]\n"
    "                            replace the simulator's quality (MODEL or TASK may be\n"
    "                            *); repeatable\n"
    "\n"
    "Output: a JSON progress line each second on stderr, the summary JSON on stdout.\n"
    "  --report-json FILE        also write the summary there\n"
    "\n"
    "Exit status: 0 done, 1 could not run (prompt file, simulator), 2 usage error.\n";


static const sy_opts lg_cmd = {"switchyard loadgen", "--help", SY_OPTS_QUOTED_MISSING};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("switchyard loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int lg_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int is_http_url(const char *s)
{
    return (!strncmp(s, "http://", 7) && s[7]) || (!strncmp(s, "https://", 8) && s[8]);
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *const lg_flags[] = {"--url",
                                       "--api-key",
                                       "--rate",
                                       "--duration",
                                       "--requests",
                                       "--users",
                                       "--mix",
                                       "--prompts",
                                       "--feedback-rate",
                                       "--feedback-delay-ms",
                                       "--feedback-secret",
                                       "--project",
                                       "--sim-url",
                                       "--quality-override",
                                       "--seed",
                                       "--concurrency",
                                       "--mode",
                                       "--stream-share",
                                       "--report-json",
                                       "--timeout-ms",
                                       "--rating-share",
                                       "--label-rate",
                                       NULL};

int lg_parse_args(int argc, char **argv, lg_opts *o, lg_qtable *qt)
{
    char err[512];
    int have_duration = 0, have_requests = 0;
    memset(o, 0, sizeof(*o));
    o->url = env_or_null("SWITCHYARD_URL");
    o->api_key = env_or_null("SWITCHYARD_API_KEY");
    o->sim_url = env_or_null("SWITCHYARD_SIM_URL");
    o->secret = env_or_null("SWITCHYARD_FEEDBACK_SECRET");
    o->rate = 10;
    o->duration_s = 10;
    o->requests = -1;
    o->users = 100;
    o->concurrency = 64;
    o->timeout_ms = 60000;
    o->feedback_rate = 0.05;
    o->rating_share = 0.3;
    o->delay_min_ms = 100;
    o->delay_max_ms = 2000;
    o->seed = 1;
    snprintf(o->mix_spec, sizeof(o->mix_spec), "%s", LG_DEFAULT_MIX);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val, *eq;
        char name[32];
        if (sy_opts_is_help(arg))
            return 1;
        if (strncmp(arg, "--", 2))
            return sy_opts_unexpected(&lg_cmd, arg);
        eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        int known = 0;
        for (const char *const *f = lg_flags; *f; f++)
            known |= strlen(*f) == nlen && !strncmp(*f, arg, nlen);
        if (!known) {
            char shown[65]; /* a long or hostile option is named by its start */
            snprintf(shown, sizeof(shown), "%.*s", (int)(nlen > 64 ? 64 : nlen), arg);
            return sy_opts_unknown(&lg_cmd, shown);
        }
        snprintf(name, sizeof(name), "%.*s", (int)nlen, arg);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return sy_opts_missing(&lg_cmd, name);

        long n;
        if (!strcmp(name, "--url")) {
            o->url = val;
        } else if (!strcmp(name, "--api-key")) {
            o->api_key = val;
        } else if (!strcmp(name, "--sim-url")) {
            o->sim_url = val;
        } else if (!strcmp(name, "--feedback-secret")) {
            o->secret = val;
        } else if (!strcmp(name, "--project")) {
            if (!*val)
                return usage_error("--project: expected a name (got \"\")");
            o->project = val;
        } else if (!strcmp(name, "--prompts")) {
            o->prompts = val;
        } else if (!strcmp(name, "--report-json")) {
            o->report_json = val;
        } else if (!strcmp(name, "--rate")) {
            if (lg_parse_double(val, 1e-6, 1e6, &o->rate))
                return usage_error("--rate: expected requests per second above 0 and at most "
                                   "1000000 (got \"%s\")",
                                   val);
        } else if (!strcmp(name, "--duration")) {
            if (lg_parse_double(val, 1e-3, 1e7, &o->duration_s))
                return usage_error("--duration: expected seconds above 0 (got \"%s\")", val);
            have_duration = 1;
        } else if (!strcmp(name, "--requests")) {
            if (parse_long(val, 1, LONG_MAX / 2, &o->requests))
                return usage_error("--requests: expected an integer of 1 or more (got \"%s\")",
                                   val);
            have_requests = 1;
        } else if (!strcmp(name, "--users")) {
            if (parse_long(val, 1, 10000000, &n))
                return usage_error("--users: expected an integer from 1 to 10000000 (got \"%s\")",
                                   val);
            o->users = (int)n;
        } else if (!strcmp(name, "--concurrency")) {
            if (parse_long(val, 1, 100000, &n))
                return usage_error(
                    "--concurrency: expected an integer from 1 to 100000 (got \"%s\")", val);
            o->concurrency = (int)n;
        } else if (!strcmp(name, "--timeout-ms")) {
            if (parse_long(val, 1, 3600000, &n))
                return usage_error("--timeout-ms: expected an integer from 1 to 3600000 (got "
                                   "\"%s\")",
                                   val);
            o->timeout_ms = (int)n;
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-')
                return usage_error("--seed: expected an unsigned integer (got \"%s\")", val);
            o->seed = (uint64_t)s;
        } else if (!strcmp(name, "--mix")) {
            if (strlen(val) >= sizeof(o->mix_spec))
                return usage_error("--mix: too long");
            snprintf(o->mix_spec, sizeof(o->mix_spec), "%s", val);
        } else if (!strcmp(name, "--feedback-rate")) {
            if (lg_parse_double(val, 0, 1, &o->feedback_rate))
                return usage_error("--feedback-rate: expected a share from 0 to 1 (got \"%s\")",
                                   val);
        } else if (!strcmp(name, "--label-rate")) {
            if (lg_parse_double(val, 0, 1, &o->label_rate))
                return usage_error("--label-rate: expected a share from 0 to 1 (got \"%s\")", val);
        } else if (!strcmp(name, "--rating-share")) {
            if (lg_parse_double(val, 0, 1, &o->rating_share))
                return usage_error("--rating-share: expected a share from 0 to 1 (got \"%s\")",
                                   val);
        } else if (!strcmp(name, "--stream-share")) {
            if (lg_parse_double(val, 0, 1, &o->stream_share))
                return usage_error("--stream-share: expected a share from 0 to 1 (got \"%s\")",
                                   val);
        } else if (!strcmp(name, "--feedback-delay-ms")) {
            char a[32];
            const char *dash = strchr(val, '-');
            int bad = strlen(val) >= sizeof(a);
            if (!bad && dash) {
                snprintf(a, sizeof(a), "%.*s", (int)(dash - val), val);
                bad = parse_long(a, 0, 3600000, &o->delay_min_ms) ||
                      parse_long(dash + 1, 0, 3600000, &o->delay_max_ms) ||
                      o->delay_min_ms > o->delay_max_ms;
            } else if (!bad) {
                bad = parse_long(val, 0, 3600000, &o->delay_min_ms);
                o->delay_max_ms = o->delay_min_ms;
            }
            if (bad)
                return usage_error("--feedback-delay-ms: expected MIN-MAX milliseconds with 0 <= "
                                   "MIN <= MAX <= 3600000 (got \"%s\")",
                                   val);
        } else if (!strcmp(name, "--mode")) {
            if (strcmp(val, "eco") && strcmp(val, "balanced") && strcmp(val, "sport"))
                return usage_error("--mode: expected eco, balanced or sport (got \"%s\")", val);
            o->mode = val;
        } else if (!strcmp(name, "--quality-override")) {
            if (lg_override_parse(qt, val, err, sizeof(err)))
                return usage_error("--quality-override: %s", err);
        }
    }
    if (have_duration && have_requests)
        return usage_error("--duration and --requests exclude each other");
    if (have_requests)
        o->duration_s = 0;
    if (lg_mix_parse(&o->mix, o->mix_spec, err, sizeof(err)))
        return usage_error("--mix: %s", err);
    if (!o->url)
        return usage_error("--url (or SWITCHYARD_URL) is required");
    if (!is_http_url(o->url))
        return usage_error("--url: expected an http:// or https:// URL (got \"%s\")", o->url);
    if (!o->api_key)
        return usage_error("--api-key (or SWITCHYARD_API_KEY) is required");
    if (o->sim_url && !is_http_url(o->sim_url))
        return usage_error("--sim-url: expected an http:// or https:// URL (got \"%s\")",
                           o->sim_url);
    if (o->label_rate > 0 && !o->secret)
        return usage_error("--label-rate %g needs --feedback-secret (or "
                           "SWITCHYARD_FEEDBACK_SECRET): labels are signed like feedback",
                           o->label_rate);
    if (o->feedback_rate > 0 && !o->secret)
        return usage_error("--feedback-rate %g needs --feedback-secret (or "
                           "SWITCHYARD_FEEDBACK_SECRET); --feedback-rate 0 sends no feedback",
                           o->feedback_rate);
    return 0;
}

char *lg_api_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (n >= 3 && !strncmp(base + n - 3, "/v1", 3))
        n -= 3;
    size_t len = n + strlen(path) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%.*s%s", (int)n, base, path);
    return s;
}

