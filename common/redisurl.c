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

/* Copies [s, s+n) into dst (size dstlen): 0, or -1 when it does not fit. */
static int copy_part(char *dst, size_t dstlen, const char *s, size_t n)
{
    if (n >= dstlen)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* host[:port] or [v6addr][:port] in [p, end). */
static int parse_hostport(const char *p, const char *end, char *host, size_t hostlen, int *port,
                          char *err, size_t errlen)
{
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
        if (hn == 0 || copy_part(host, hostlen, p + 1, hn)) {
            snprintf(err, errlen, "redis URL has a bad host");
            return -1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t hn = (size_t)((colon ? colon : end) - p);
        if (hn == 0 || copy_part(host, hostlen, p, hn)) {
            snprintf(err, errlen, "redis URL has no host");
            return -1;
        }
    }
    if (colon && parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, port)) {
        snprintf(err, errlen, "redis URL has a bad port");
        return -1;
    }
    return 0;
}

/* [[user]:password@] at p (before the first '/'): fills user/password, returns where the
 * hosts start, or NULL (err set). */
static const char *parse_creds(const char *p, char *user, size_t userlen, char *password,
                               size_t passlen, char *err, size_t errlen)
{
    /* the last '@' before the first '/': a sentinel URL's query may hold more */
    const char *slash = strchr(p, '/');
    const char *at = NULL;
    for (const char *c = p; *c && c != slash; c++)
        if (*c == '@')
            at = c;
    if (!at)
        return p;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon ? colon + 1 : p;
    if ((colon && copy_part(user, userlen, p, (size_t)(colon - p))) ||
        copy_part(password, passlen, pw, (size_t)(at - pw))) {
        snprintf(err, errlen, "redis URL credentials too long");
        return NULL;
    }
    return at + 1;
}

/* ?key=value&... of a sentinel URL. */
static int parse_query(const char *q, sy_redis_addr *out, char *err, size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (!eq) {
            snprintf(err, errlen, "redis URL parameter without a value: \"%.*s\"", (int)n, q);
            return -1;
        }
        size_t kn = (size_t)(eq - q), vn = n - kn - 1;
        const char *v = eq + 1;
        if (kn == 2 && !strncmp(q, "db", 2)) {
            if (parse_int(v, vn, 0, 1000000, &out->db)) {
                snprintf(err, errlen, "redis URL has a bad database number");
                return -1;
            }
        } else if (kn == 13 && !strncmp(q, "sentinel_user", 13)) {
            if (copy_part(out->sentinel_user, sizeof(out->sentinel_user), v, vn)) {
                snprintf(err, errlen, "redis URL credentials too long");
                return -1;
            }
        } else if (kn == 17 && !strncmp(q, "sentinel_password", 17)) {
            if (copy_part(out->sentinel_password, sizeof(out->sentinel_password), v, vn)) {
                snprintf(err, errlen, "redis URL credentials too long");
                return -1;
            }
        } else if (kn == 12 && !strncmp(q, "min_replicas", 12)) {
            if (parse_int(v, vn, 0, 16, &out->min_replicas)) {
                snprintf(err, errlen, "redis URL has a bad min_replicas (0 to 16)");
                return -1;
            }
        } else {
            snprintf(err, errlen, "redis URL has an unknown parameter \"%.*s\"", (int)kn, q);
            return -1;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

static int parse_sentinel(const char *p, sy_redis_addr *out, char *err, size_t errlen)
{
    p = parse_creds(p, out->user, sizeof(out->user), out->password, sizeof(out->password), err,
                    errlen);
    if (!p)
        return -1;
    const char *slash = strchr(p, '/');
    if (!slash || !slash[1] || slash[1] == '?') {
        snprintf(err, errlen, "redis+sentinel URL has no master name (.../master-name)");
        return -1;
    }
    for (const char *h = p;;) {
        const char *comma = memchr(h, ',', (size_t)(slash - h));
        const char *end = comma ? comma : slash;
        if (out->nsentinels == SY_REDIS_MAX_SENTINELS) {
            snprintf(err, errlen, "redis+sentinel URL has more than %d sentinels",
                     SY_REDIS_MAX_SENTINELS);
            return -1;
        }
        sy_redis_node *s = &out->sentinel[out->nsentinels];
        s->port = 26379;
        if (h == end) {
            snprintf(err, errlen, "redis URL has no host");
            return -1;
        }
        if (parse_hostport(h, end, s->host, sizeof(s->host), &s->port, err, errlen))
            return -1;
        out->nsentinels++;
        if (!comma)
            break;
        h = comma + 1;
    }
    const char *name = slash + 1;
    size_t nn = strcspn(name, "?/");
    if (name[nn] == '/') {
        snprintf(err, errlen, "redis+sentinel URL has a bad master name");
        return -1;
    }
    if (copy_part(out->master, sizeof(out->master), name, nn)) {
        snprintf(err, errlen, "redis+sentinel URL master name too long");
        return -1;
    }
    for (size_t i = 0; i < nn; i++)
        if ((unsigned char)name[i] <= ' ' || name[i] == '%') {
            snprintf(err, errlen, "redis+sentinel URL has a bad master name");
            return -1;
        }
    return name[nn] == '?' ? parse_query(name + nn + 1, out, err, errlen) : 0;
}

int sy_redis_url_parse(const char *url, sy_redis_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!strncmp(url, "redis+sentinel://", 17))
        return parse_sentinel(url + 17, out, err, errlen);
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen,
                 "redis URL must start with redis:// or redis+sentinel:// (got \"%s\")", url);
        return -1;
    }
    const char *p = parse_creds(url + 8, out->user, sizeof(out->user), out->password,
                                sizeof(out->password), err, errlen);
    if (!p)
        return -1;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    if (parse_hostport(p, end, out->host, sizeof(out->host), &out->port, err, errlen))
        return -1;
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &out->db)) {
        snprintf(err, errlen, "redis URL has a bad database number");
        return -1;
    }
    return 0;
}
