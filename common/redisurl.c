#include "common/redisurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    if (n == 0 || n > 9)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int sy_redis_url_parse(const char *url, sy_redis_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen, "redis URL must start with redis:// (got \"%s\")", url);
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            size_t un = (size_t)(colon - p), pn = (size_t)(at - colon - 1);
            if (un >= sizeof(out->user) || pn >= sizeof(out->password)) {
                snprintf(err, errlen, "redis URL credentials too long");
                return -1;
            }
            memcpy(out->user, p, un);
            memcpy(out->password, colon + 1, pn);
        } else {
            size_t pn = (size_t)(at - p);
            if (pn >= sizeof(out->password)) {
                snprintf(err, errlen, "redis URL credentials too long");
                return -1;
            }
            memcpy(out->password, p, pn);
        }
        p = at + 1;
    }
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') { /* [v6addr]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "redis URL has an unterminated IPv6 address");
            return -1;
        }
        if (rb + 1 < end && rb[1] == ':')
            colon = rb + 1;
        size_t hn = (size_t)(rb - p - 1);
        if (hn == 0 || hn >= sizeof(out->host)) {
            snprintf(err, errlen, "redis URL has a bad host");
            return -1;
        }
        memcpy(out->host, p + 1, hn);
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t hn = (size_t)((colon ? colon : end) - p);
        if (hn == 0 || hn >= sizeof(out->host)) {
            snprintf(err, errlen, "redis URL has no host");
            return -1;
        }
        memcpy(out->host, p, hn);
    }
    if (colon && parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &out->port)) {
        snprintf(err, errlen, "redis URL has a bad port");
        return -1;
    }
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &out->db)) {
        snprintf(err, errlen, "redis URL has a bad database number");
        return -1;
    }
    return 0;
}
