#include "tools/migration.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_migration_parse_name(const char *file, struct ctl_migration *m)
{
    size_t len = strlen(file);
    int version = 0;

    /* "NNNN_" + at least one name char + ".sql" */
    if (len < 4 + 1 + 1 + 4 || len - 4 - 1 - 4 >= CTL_MIGRATION_NAME_MAX)
        return -1;
    if (strcmp(file + len - 4, ".sql") != 0 || file[4] != '_')
        return -1;
    for (int i = 0; i < 4; i++) {
        if (file[i] < '0' || file[i] > '9')
            return -1;
        version = version * 10 + (file[i] - '0');
    }
    if (version == 0)
        return -1;
    for (size_t i = 5; i < len - 4; i++) {
        char c = file[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -1;
    }
    m->version = version;
    memcpy(m->name, file + 5, len - 9);
    m->name[len - 9] = '\0';
    memcpy(m->file, file, len + 1);
    return 0;
}

static int by_version(const void *a, const void *b)
{
    const struct ctl_migration *x = a, *y = b;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->file, y->file);
}

int ctl_migration_plan(const char *const *names, size_t n, struct ctl_migration *out, size_t cap,
                       char *err, size_t errlen)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (names[i][0] == '.')
            continue;
        if (count == cap) {
            snprintf(err, errlen, "too many migration files (at most %zu)", cap);
            return -1;
        }
        if (ctl_migration_parse_name(names[i], &out[count]) != 0) {
            snprintf(err, errlen,
                     "%s: not a migration file name (want NNNN_name.sql, name of a-z, 0-9, _)",
                     names[i]);
            return -1;
        }
        count++;
    }
    qsort(out, count, sizeof(*out), by_version);
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && out[i].version == out[i - 1].version) {
            snprintf(err, errlen, "%s: version %04d is also used by %s", out[i].file,
                     out[i].version, out[i - 1].file);
            return -1;
        }
        if (out[i].version != (int)i + 1) {
            snprintf(err, errlen, "%s: gap in migration versions (expected %04d next)",
                     out[i].file, (int)i + 1);
            return -1;
        }
    }
    return (int)count;
}

int ctl_sha256_hex(const void *buf, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return -1;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}
