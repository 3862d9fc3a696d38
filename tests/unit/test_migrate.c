/* migrate's pure parts: file names, ordering, gaps, checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/migration.h"

static void test_sha256_pinned(void **state)
{
    char hex[65];
    (void)state;
    assert_int_equal(ctl_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ctl_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* bytes, not a C string: an embedded NUL counts */
    assert_int_equal(ctl_sha256_hex("a\0b", 3, hex), 0);
    assert_string_equal(hex, "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

static void test_parse_name(void **state)
{
    struct ctl_migration m;
    (void)state;
    assert_int_equal(ctl_migration_parse_name("0001_init.sql", &m), 0);
    assert_int_equal(m.version, 1);
    assert_string_equal(m.name, "init");
    assert_string_equal(m.file, "0001_init.sql");
    assert_int_equal(ctl_migration_parse_name("0042_add_rollups_2.sql", &m), 0);
    assert_int_equal(m.version, 42);
    assert_string_equal(m.name, "add_rollups_2");
    assert_int_equal(ctl_migration_parse_name("9999_x.sql", &m), 0);
    assert_int_equal(m.version, 9999);

    static const char *const bad[] = {
        "0000_zero.sql", "001_short.sql", "00001_long.sql", "0001-dash.sql", "0001_.sql",
        "0001_Upper.sql", "0001_a b.sql", "0001_init.SQL", "0001_init.sql~", "0001_init",
        "abcd_init.sql", "README.md", "0001_init.sql.bak", "", ".sql", "0001_init..sql",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ctl_migration_parse_name(bad[i], &m) == 0)
            fail_msg("accepted bad name \"%s\"", bad[i]);
    }
    char longname[200];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "0001_", 5);
    memcpy(longname + sizeof(longname) - 5, ".sql", 5);
    assert_int_equal(ctl_migration_parse_name(longname, &m), -1);
    /* the longest name, 127 bytes: its file name (136 bytes and the NUL) fits in m.file
     * (it overflowed by one byte before; found by tests/fuzz/fuzz_migration.c) */
    char longest[4 + 1 + CTL_MIGRATION_NAME_MAX - 1 + 4 + 1];
    memset(longest, 'b', sizeof(longest));
    memcpy(longest, "0007_", 5);
    memcpy(longest + sizeof(longest) - 5, ".sql", 5);
    assert_int_equal(ctl_migration_parse_name(longest, &m), 0);
    assert_int_equal(strlen(m.name), CTL_MIGRATION_NAME_MAX - 1);
    assert_string_equal(m.file, longest);
    longest[5] = 'c'; /* one byte more is refused */
    char over[sizeof(longest) + 1];
    memcpy(over, "0007_b", 6);
    memcpy(over + 6, longest + 5, sizeof(longest) - 5);
    assert_int_equal(ctl_migration_parse_name(over, &m), -1);
}

static void test_plan_orders_and_skips_dotfiles(void **state)
{
    struct ctl_migration out[8];
    char err[256];
    const char *names[] = {"0003_c.sql", ".keep", "0001_a.sql", "0002_b.sql"};
    (void)state;
    assert_int_equal(ctl_migration_plan(names, 4, out, 8, err, sizeof(err)), 3);
    assert_string_equal(out[0].file, "0001_a.sql");
    assert_string_equal(out[1].file, "0002_b.sql");
    assert_string_equal(out[2].file, "0003_c.sql");
    assert_int_equal(ctl_migration_plan(names, 0, out, 8, err, sizeof(err)), 0);
}

static void test_plan_errors_name_the_file(void **state)
{
    struct ctl_migration out[8];
    char err[256];
    (void)state;

    const char *gap[] = {"0001_a.sql", "0003_c.sql"};
    assert_int_equal(ctl_migration_plan(gap, 2, out, 8, err, sizeof(err)), -1);
    assert_string_equal(err, "0003_c.sql: gap in migration versions (expected 0002 next)");

    const char *nofirst[] = {"0002_b.sql"};
    assert_int_equal(ctl_migration_plan(nofirst, 1, out, 8, err, sizeof(err)), -1);
    assert_string_equal(err, "0002_b.sql: gap in migration versions (expected 0001 next)");

    const char *dup[] = {"0001_a.sql", "0002_b.sql", "0002_another.sql"};
    assert_int_equal(ctl_migration_plan(dup, 3, out, 8, err, sizeof(err)), -1);
    assert_string_equal(err, "0002_b.sql: version 0002 is also used by 0002_another.sql");

    const char *badname[] = {"0001_a.sql", "notes.txt"};
    assert_int_equal(ctl_migration_plan(badname, 2, out, 8, err, sizeof(err)), -1);
    assert_string_equal(err, "notes.txt: not a migration file name "
                             "(want NNNN_name.sql, name of a-z, 0-9, _)");

    const char *many[] = {"0001_a.sql", "0002_b.sql", "0003_c.sql"};
    assert_int_equal(ctl_migration_plan(many, 3, out, 2, err, sizeof(err)), -1);
    assert_string_equal(err, "too many migration files (at most 2)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_pinned),
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test(test_plan_orders_and_skips_dotfiles),
        cmocka_unit_test(test_plan_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
