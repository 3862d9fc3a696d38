/*
 * The pure half of 'switchyard migrate': file names, ordering, checksums.
 * No I/O here, so the rules are unit-tested without a database.
 */
#ifndef SY_MIGRATION_H
#define SY_MIGRATION_H

#include <stddef.h>

#define CTL_MIGRATION_NAME_MAX 128

struct ctl_migration {
    int version;                          /* NNNN */
    char name[CTL_MIGRATION_NAME_MAX];    /* the part after NNNN_, without .sql */
    char file[CTL_MIGRATION_NAME_MAX + 9];/* NNNN_name.sql: 4 + 1 + name + 4 + NUL */
};

/*
 * Parse "NNNN_name.sql": four digits (0001..9999), '_', name of [a-z0-9_] (1..127
 * chars), ".sql". Returns 0 and fills m, or -1.
 */
int ctl_migration_parse_name(const char *file, struct ctl_migration *m)
    __attribute__((warn_unused_result));

/*
 * Turn a directory listing into the ordered plan. Names starting with '.' are
 * skipped; every other name must parse, versions must be unique and run 1..N without
 * gaps. Returns the number of migrations written to out (at most cap), or -1 with
 * the reason naming the offending file in err.
 */
int ctl_migration_plan(const char *const *names, size_t n, struct ctl_migration *out, size_t cap,
                       char *err, size_t errlen) __attribute__((warn_unused_result));

/* SHA-256 of buf as 64 lower-case hex digits plus NUL. 0, or -1 if OpenSSL fails. */
int ctl_sha256_hex(const void *buf, size_t len, char out[65]) __attribute__((warn_unused_result));

#endif
