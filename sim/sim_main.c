/*
 * switchyard sim: command line, event loop, signals.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/opts.h"
#include "sim/sim.h"
#include "sim/sim_model.h"
#include "sim/sim_server.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 9100

struct sim_opts {
    char host[256];
    int port;
    const char *models_file;
    uint64_t seed;
    enum sy_log_level level;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard sim [options]\n"
            "\n"
            "Provider simulator speaking the OpenAI wire format (POST /v1/chat/completions)\n"
            "and the Anthropic Messages wire format (POST /v1/messages), each for the\n"
            "models whose \"wire\" it is, plain and stream; GET /v1/models, GET /healthz.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT   address to listen on (default %s:%d; port 0 picks a free\n"
            "                       port, printed in the \"listening\" log line)\n"
            "  --models FILE        model profiles (JSON; format: config/sim-models.json);\n"
            "                       default: the built-in profiles\n"
            "  --seed N             seed for latency and fault sampling (default 1)\n"
            "  --log-level LEVEL    debug, info, warn or error (default info); debug logs one\n"
            "                       line per request\n"
            "  --help               this text\n"
            "\n"
            "Per-request test overrides (headers): X-Sim-Fault: 500|429|529|timeout|close|\n"
            "midstream|none, X-Sim-Latency-Ms: N (time to first byte).\n"
            "Exit status: 0 after SIGINT/SIGTERM, 1 if it cannot start, 2 for bad usage.\n",
            DEFAULT_HOST, DEFAULT_PORT);
}

static int parse_listen(const char *s, struct sim_opts *o)
{
    const char *colon;
    size_t hostlen;
    char *end;
    long port;

    if (s[0] == '[') { /* [v6]:port */
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        hostlen = (size_t)(rb - s - 1);
        colon = rb + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hostlen = (size_t)(colon - s);
    }
    if (hostlen == 0 || hostlen >= sizeof(o->host))
        return -1;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        return -1;
    memcpy(o->host, s, hostlen);
    o->host[hostlen] = '\0';
    o->port = (int)port;
    return 0;
}

static const sy_opts sim_cmd = {"switchyard sim", "--help", SY_OPTS_QUOTED_MISSING};

/* 0 ok, 1 --help, 2 usage error (message printed). */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
    snprintf(o->host, sizeof(o->host), "%s", DEFAULT_HOST);
    o->port = DEFAULT_PORT;
    o->models_file = NULL;
    o->seed = 1;
    o->level = SY_INFO;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL, *eq;
        char name[32];

        if (sy_opts_is_help(arg))
            return 1;
        if (strncmp(arg, "--", 2))
            return sy_opts_unexpected(&sim_cmd, arg);
        eq = strchr(arg, '=');
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        if (strcmp(name, "--listen") && strcmp(name, "--models") && strcmp(name, "--seed") &&
            strcmp(name, "--log-level"))
            return sy_opts_unknown(&sim_cmd, name);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return sy_opts_missing(&sim_cmd, name);

        if (!strcmp(name, "--listen")) {
            if (parse_listen(val, o)) {
                fprintf(stderr,
                        "switchyard sim: --listen: expected HOST:PORT with PORT 0-65535, got "
                        "'%s'\n",
                        val);
                return 2;
            }
        } else if (!strcmp(name, "--models")) {
            o->models_file = val;
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-') {
                fprintf(stderr,
                        "switchyard sim: --seed: expected an unsigned integer, got '%s'\n", val);
                return 2;
            }
            o->seed = (uint64_t)n;
        } else if (sy_log_parse_level(val, &o->level)) {
            fprintf(stderr,
                    "switchyard sim: --log-level: expected debug, info, warn or error, got "
                    "'%s'\n",
                    val);
            return 2;
        }
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    sy_log(SY_INFO, "stopping", "signal=%d", (int)sig);
    event_base_loopbreak(arg);
}

static void log_stats(const sim_stats *st)
{
    sy_log(SY_INFO, "stopped",
#define SIM_STAT_FMT(name) #name "=%llu "
           SIM_STATS(SIM_STAT_FMT)
#undef SIM_STAT_FMT
#define SIM_STAT_ARG(name) , st->name
           "" SIM_STATS(SIM_STAT_ARG));
#undef SIM_STAT_ARG
}

int sim_main(int argc, char **argv)
{
    struct sim_opts o;
    sim_catalog cat = {0};
    char err[SIM_ERR_MAX];
    struct event_base *base = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    sim_server *srv = NULL;
    int port = 0, rc;

    rc = parse_args(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    sy_log_set_component("sim");
    sy_log_set_level(o.level);

    if (o.models_file ? sim_catalog_load_file(o.models_file, &cat, err, sizeof(err))
                      : sim_catalog_builtin(&cat, err, sizeof(err))) {
        fprintf(stderr, "switchyard sim: %s: %s\n", o.models_file ? o.models_file : "built-in",
                err);
        return 2;
    }

    rc = 1;
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (!base)
        goto fail;
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL))
        goto fail;
    if (sim_server_new(base, &cat, o.seed, &srv)) {
        sy_log(SY_ERROR, "cannot start", "reason=out_of_memory");
        goto fail;
    }
    if (sim_server_listen(srv, o.host, o.port, &port))
        goto fail; /* httpd logged why */
    sy_log_kv(SY_INFO, "models loaded", "source", o.models_file ? o.models_file : "built-in",
              NULL);
    sy_log(SY_INFO, "listening", "host=%s port=%d models=%d seed=%" PRIu64, o.host, port, cat.n,
           o.seed);

    event_base_dispatch(base);
    log_stats(sim_server_stats(srv));
    rc = 0;
fail:
    sim_server_free(srv);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (base)
        event_base_free(base);
    sim_catalog_free(&cat);
    return rc;
}
