/* opts: the usage-error messages every subcommand prints, byte for byte, as the
 * integration tests of router, sim, ingest, migrate, report and loadgen expect them. */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/opts.h"
#include "tests/unit/capture.h"

static const sy_opts ctl = {"switchyard controller", "--help", SY_OPTS_BARE_MISSING};
static const sy_opts ing = {"ingest", "'switchyard ingest --help'", SY_OPTS_QUOTED_MISSING};

static void test_messages(void **state)
{
    (void)state;
    begin_capture();
    assert_int_equal(sy_opts_unknown(&ctl, "--bogus"), SY_EXIT_USAGE);
    assert_int_equal(sy_opts_unexpected(&ctl, "extra"), SY_EXIT_USAGE);
    assert_int_equal(sy_opts_missing(&ctl, "--listen"), SY_EXIT_USAGE);
    assert_string_equal(end_capture(),
                        "switchyard controller: unknown option '--bogus' (see --help)\n"
                        "switchyard controller: unexpected argument 'extra' (see --help)\n"
                        "switchyard controller: --listen needs a value\n");
    begin_capture();
    sy_opts_unknown(&ing, "--bogus");
    sy_opts_unexpected(&ing, "extra");
    sy_opts_missing(&ing, "--batch");
    assert_string_equal(end_capture(),
                        "ingest: unknown option '--bogus' (see 'switchyard ingest --help')\n"
                        "ingest: unexpected argument 'extra' (see 'switchyard ingest --help')\n"
                        "ingest: option '--batch' needs a value\n");
}

static int run_getopt(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
        case 'h': break;
        default: return sy_opts_getopt_error(&ing, ch, argv);
        }
    }
    return 0;
}

static void test_getopt_error(void **state)
{
    (void)state;
    char *unknown[] = {"ingest", "--listen", "x", "--bogus=1", NULL};
    char *missing[] = {"ingest", "--listen", NULL};
    char *good[] = {"ingest", "--listen=x", "-h", NULL};
    begin_capture();
    assert_int_equal(run_getopt(4, unknown), SY_EXIT_USAGE);
    assert_int_equal(run_getopt(2, missing), SY_EXIT_USAGE);
    assert_int_equal(run_getopt(3, good), 0);
    assert_string_equal(end_capture(),
                        "ingest: unknown option '--bogus=1' (see 'switchyard ingest --help')\n"
                        "ingest: option '--listen' needs a value\n");
}

static void test_is_help(void **state)
{
    (void)state;
    assert_true(sy_opts_is_help("--help"));
    assert_true(sy_opts_is_help("-h"));
    assert_false(sy_opts_is_help("help"));
    assert_false(sy_opts_is_help("--help=1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_getopt_error),
        cmocka_unit_test(test_is_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
