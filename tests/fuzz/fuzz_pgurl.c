/*
 * libFuzzer target: PostgreSQL URLs (common/pg.c, sy_pg_check_url and sy_pg_redact_url),
 * read from --pg-url and $SWITCHYARD_PG_URL by ingest and the controller.
 *
 * Invariants beyond "no crash": a refusal says why, in one line (the reason goes into a
 * JSON log); the same URL gets the same answer twice; an accepted URL starts with
 * postgresql:// or postgres://; the redacted form always fits its buffer, NUL-terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char err[512], err2[512];
    err[0] = err2[0] = '\0';
    int rc = sy_pg_check_url(url, err, sizeof(err));
    if (rc != sy_pg_check_url(url, err2, sizeof(err2)))
        abort();
    if (rc != 0) {
        if (rc != -1 || !err[0] || strchr(err, '\n') || strcmp(err, err2))
            abort();
    } else if (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11)) {
        abort();
    }
    char red[64];
    memset(red, 'x', sizeof(red));
    sy_pg_redact_url(url, red, sizeof(red));
    if (!memchr(red, '\0', sizeof(red)))
        abort();
    free(url);
    return 0;
}
