/*
 * switchyard: one binary, one subcommand per job.
 *
 * Every subcommand parses its own flags and prints its own --help; this file
 * only dispatches. Keep it that way: no option is shared through globals.
 */
#include <stdio.h>
#include <string.h>

#include "common/opts.h"
#include "controller/controller.h"
#include "ingest/ingest.h"
#include "router/router.h"
#include "sim/sim.h"
#include "tools/classifier_cli.h"
#include "tools/experiment_cli.h"
#include "tools/loadgen.h"
#include "tools/migrate.h"
#include "tools/report.h"

#ifndef SY_VERSION
#define SY_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"router", rt_main, "OpenAI-compatible gateway: cohorts, routing, dispatch, events"},
    {"sim", sim_main, "provider simulator speaking the OpenAI wire format"},
    {"migrate", migrate_main, "apply migrations/NNNN_*.sql to PostgreSQL"},
    {"ingest", ingest_main, "drain the Redis event spool into PostgreSQL"},
    {"controller", controller_main, "rollout controller: evaluation loop and admin API"},
    {"experiment", experiment_main, "apply, start, pause, promote, roll back, inspect experiments"},
    {"classifier", classifier_main, "train and evaluate the task-type classifier"},
    {"loadgen", loadgen_main, "traffic generator: corpus prompts and simulated feedback"},
    {"report", report_main, "print the dashboard views: cost, savings, quality, phases"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: switchyard <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'switchyard <command> --help' describes a command's options.\n"
                 "Environment: SWITCHYARD_REDIS_URL, SWITCHYARD_DATABASE_URL.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (sy_opts_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("switchyard %s\n", SY_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "switchyard: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
