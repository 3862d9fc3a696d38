/*
 * libFuzzer target: Redis URLs (common/redisurl.c, sy_redis_url_parse), read from
 * --redis-url and $SWITCHYARD_REDIS_URL by the router, ingest and the controller.
 *
 * Invariants beyond "no crash": a refusal says why; an accepted URL has a non-empty
 * host, a port in 1..65535 and a database in 0..1000000, and the URL written back
 * from its parts (redis://user:password@host:port/db, the host bracketed when it holds
 * a ':' or starts with '[') parses to the same parts (round trip).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redisurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    sy_redis_addr a, b;
    char err[512];
    err[0] = '\0';
    if (sy_redis_url_parse(url, &a, err, sizeof(err)) != 0) {
        if (!err[0])
            abort();
        free(url);
        return 0;
    }
    if (!a.host[0] || a.port < 1 || a.port > 65535 || a.db < 0 || a.db > 1000000)
        abort();
    char back[1024];
    int bracket = strchr(a.host, ':') || a.host[0] == '[';
    int creds = a.user[0] || a.password[0];
    snprintf(back, sizeof(back), "redis://%s%s%s%s%s%s%s:%d/%d", creds ? a.user : "",
             creds ? ":" : "", creds ? a.password : "", creds ? "@" : "", bracket ? "[" : "",
             a.host, bracket ? "]" : "", a.port, a.db);
    if (sy_redis_url_parse(back, &b, err, sizeof(err)) != 0)
        abort();
    if (strcmp(a.host, b.host) || a.port != b.port || a.db != b.db || strcmp(a.user, b.user) ||
        strcmp(a.password, b.password))
        abort();
    free(url);
    return 0;
}
