/*
 * libFuzzer target: migration file names and the plan made from a directory listing
 * (tools/migration.c, what 'switchyard migrate' reads from --dir). A file name there
 * is outside input: anyone can drop a file into the directory.
 *
 * The input is one name per line. Invariants beyond "no crash": a name that parses
 * is exactly "%04d_%s.sql" of its parts (round trip) with a version in 1..9999 and a
 * name of a-z 0-9 _; a plan that succeeds lists versions 1..N in order, each parsed
 * from a listed name, and leaves out only names starting with '.'; a refused plan
 * says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/migration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    const char *names[MAX_NAMES];
    size_t n = 0, hidden = 0;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *p = buf; n < MAX_NAMES;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        names[n++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    for (size_t i = 0; i < n; i++) {
        struct ctl_migration m;
        hidden += names[i][0] == '.';
        if (ctl_migration_parse_name(names[i], &m) != 0)
            continue;
        char back[sizeof(m.file) + 16];
        snprintf(back, sizeof(back), "%04d_%s.sql", m.version, m.name);
        if (strcmp(back, names[i]) || strcmp(m.file, names[i]) || m.version < 1 ||
            m.version > 9999 || !m.name[0] || strspn(m.name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(m.name))
            abort();
    }
    struct ctl_migration plan[MAX_NAMES];
    char err[512];
    err[0] = '\0';
    int k = ctl_migration_plan(names, n, plan, MAX_NAMES, err, sizeof(err));
    if (k < 0) {
        if (!err[0])
            abort();
    } else {
        if ((size_t)k != n - hidden)
            abort();
        for (int i = 0; i < k; i++) {
            int found = 0;
            if (plan[i].version != i + 1)
                abort();
            for (size_t j = 0; j < n; j++)
                found |= !strcmp(names[j], plan[i].file);
            if (!found)
                abort();
        }
    }
    free(buf);
    return 0;
}
