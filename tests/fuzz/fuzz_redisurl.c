/*
 * libFuzzer target: Redis URLs (common/redisurl.c, sy_redis_url_parse), read from
 * --redis-url and $SWITCHYARD_REDIS_URL by the router, ingest and the controller.
 *
 * Invariants beyond "no crash": a refusal says why; an accepted URL has a non-empty
 * host, a port in 1..65535 and a database in 0..1000000, and the URL written back
 * from its parts (redis://user:password@host:port/db, the host bracketed when it holds
 * a ':' or starts with '[') parses to the same parts (round trip). A redis+sentinel://
 * URL has 1..8 sentinels, each with a host and a port, a master name, no primary yet,
 * and round-trips as redis+sentinel://user:password@h:p,.../master?db=&sentinel_user=
 * &sentinel_password=&min_replicas=.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redisurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int put_host(char *out, size_t outlen, const char *host, int port)
{
    int bracket = strchr(host, ':') || host[0] == '[';
    return snprintf(out, outlen, "%s%s%s:%d", bracket ? "[" : "", host, bracket ? "]" : "",
                    port);
}

static void sentinel_invariants(const sy_redis_addr *a)
{
    char err[512];
    if (a->nsentinels < 1 || a->nsentinels > SY_REDIS_MAX_SENTINELS || !a->master[0] ||
        a->host[0] || a->db < 0 || a->db > 1000000 || a->min_replicas < 0 || a->min_replicas > 16)
        abort();
    static char back[16384];
    size_t n = 0;
    int creds = a->user[0] || a->password[0];
    n += (size_t)snprintf(back + n, sizeof(back) - n, "redis+sentinel://%s%s%s%s",
                          creds ? a->user : "", creds ? ":" : "", creds ? a->password : "",
                          creds ? "@" : "");
    for (int i = 0; i < a->nsentinels; i++) {
        const sy_redis_node *s = &a->sentinel[i];
        if (!s->host[0] || s->port < 1 || s->port > 65535)
            abort();
        if (i)
            back[n++] = ',';
        n += (size_t)put_host(back + n, sizeof(back) - n, s->host, s->port);
    }
    snprintf(back + n, sizeof(back) - n,
             "/%s?db=%d&sentinel_user=%s&sentinel_password=%s&min_replicas=%d", a->master, a->db,
             a->sentinel_user, a->sentinel_password, a->min_replicas);
    sy_redis_addr b;
    if (sy_redis_url_parse(back, &b, err, sizeof(err)) != 0)
        abort();
    if (b.nsentinels != a->nsentinels || strcmp(a->master, b.master) || a->db != b.db ||
        a->min_replicas != b.min_replicas ||
        strcmp(a->user, b.user) || strcmp(a->password, b.password) ||
        strcmp(a->sentinel_user, b.sentinel_user) ||
        strcmp(a->sentinel_password, b.sentinel_password))
        abort();
    for (int i = 0; i < a->nsentinels; i++)
        if (strcmp(a->sentinel[i].host, b.sentinel[i].host) ||
            a->sentinel[i].port != b.sentinel[i].port)
            abort();
}

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
    if (a.nsentinels) {
        sentinel_invariants(&a);
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
