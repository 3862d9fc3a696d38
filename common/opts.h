/*
 * The tail every subcommand's option parser shares: its usage-error messages, on
 * stderr as "<prog>: ...\n", and the usage-error exit status.
 *
 *   static const sy_opts cmd = {"switchyard controller", "--help", SY_OPTS_BARE_MISSING};
 *   ...
 *       case 'h': usage(stdout); return 0;
 *       default: return sy_opts_getopt_error(&cmd, ch, argv);
 *   ...
 *   if (optind < argc)
 *       return sy_opts_unexpected(&cmd, argv[optind]);
 *
 * Every message function returns SY_EXIT_USAGE so a parser can return its result.
 * The usage text and each option's own validation stay with the subcommand.
 */
#ifndef SY_OPTS_H
#define SY_OPTS_H

#define SY_EXIT_USAGE 2 /* bad usage; 0 is --help, 1 could not run */

enum sy_opts_style {
    SY_OPTS_QUOTED_MISSING, /* "<prog>: option '--x' needs a value" */
    SY_OPTS_BARE_MISSING,   /* "<prog>: --x needs a value" (router, controller) */
};

typedef struct sy_opts {
    const char *prog; /* message prefix: "switchyard controller", "ingest" */
    const char *help; /* named in "(see ...)": "--help", "'switchyard ingest --help'" */
    enum sy_opts_style style;
} sy_opts;

/* "--help" or "-h". */
int sy_opts_is_help(const char *arg);

/* "<prog>: unknown option '<opt>' (see <help>)" */
int sy_opts_unknown(const sy_opts *o, const char *opt);
/* "<prog>: unexpected argument '<arg>' (see <help>)" */
int sy_opts_unexpected(const sy_opts *o, const char *arg);
/* "<prog>: option '<opt>' needs a value", or "<prog>: <opt> needs a value" */
int sy_opts_missing(const sy_opts *o, const char *opt);

/* For getopt_long run with opterr = 0 and an optstring starting with ':' (or "+:"):
 * the message for a ch the parser has no case for. ':' is a missing value, anything
 * else an unknown option, both named as written (argv[optind - 1]). */
int sy_opts_getopt_error(const sy_opts *o, int ch, char *const argv[]);

#endif
