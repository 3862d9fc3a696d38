#include "common/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int sy_opts_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int sy_opts_unknown(const sy_opts *o, const char *opt)
{
    fprintf(stderr, "%s: unknown option '%s' (see %s)\n", o->prog, opt, o->help);
    return SY_EXIT_USAGE;
}

int sy_opts_unexpected(const sy_opts *o, const char *arg)
{
    fprintf(stderr, "%s: unexpected argument '%s' (see %s)\n", o->prog, arg, o->help);
    return SY_EXIT_USAGE;
}

int sy_opts_missing(const sy_opts *o, const char *opt)
{
    if (o->style == SY_OPTS_BARE_MISSING)
        fprintf(stderr, "%s: %s needs a value\n", o->prog, opt);
    else
        fprintf(stderr, "%s: option '%s' needs a value\n", o->prog, opt);
    return SY_EXIT_USAGE;
}

int sy_opts_getopt_error(const sy_opts *o, int ch, char *const argv[])
{
    if (ch == ':')
        return sy_opts_missing(o, argv[optind - 1]);
    return sy_opts_unknown(o, argv[optind - 1]);
}
