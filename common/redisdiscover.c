#include "common/redisdiscover.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redisurl.h"

static redisContext *connect_node(const char *what, const char *host, int port, int timeout_ms,
                                  char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *rc = redisConnectWithTimeout(host, port, tv);
    if (!rc || rc->err) {
        snprintf(err, errlen, "%s: %s", what, rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return NULL;
    }
    if (redisSetTimeout(rc, tv) != REDIS_OK) {
        snprintf(err, errlen, "%s: cannot set a timeout", what);
        redisFree(rc);
        return NULL;
    }
    return rc;
}

/* AUTH [user] password when password is set: 0, or -1 (err). */
static int auth(redisContext *rc, const char *user, const char *password, const char *what,
                char *err, size_t errlen)
{
    if (!password[0])
        return 0;
    redisReply *r = user[0] ? redisCommand(rc, "AUTH %s %s", user, password)
                            : redisCommand(rc, "AUTH %s", password);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(err, errlen, "%s: AUTH failed: %s", what, r ? r->str : rc->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* One Sentinel's answer: 0 with host/port, or -1 (err). */
static int ask_sentinel(const sy_redis_addr *a, const sy_redis_node *s, int timeout_ms,
                        char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    char what[300];
    snprintf(what, sizeof(what), "sentinel %s:%d", s->host, s->port);
    redisContext *rc = connect_node(what, s->host, s->port, timeout_ms, err, errlen);
    if (!rc)
        return -1;
    int rv = -1;
    redisReply *r = NULL;
    if (auth(rc, a->sentinel_user, a->sentinel_password, what, err, errlen))
        goto out;
    r = redisCommand(rc, "SENTINEL get-master-addr-by-name %s", a->master);
    if (!r) {
        snprintf(err, errlen, "%s: %s", what, rc->errstr);
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "%s: no master named \"%s\"%s%s", what, a->master,
                 r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        goto out;
    }
    char *end = NULL;
    long p = strtol(r->element[1]->str, &end, 10);
    if (r->element[0]->len == 0 || r->element[0]->len >= hostlen || !end || *end || p < 1 ||
        p > 65535) {
        snprintf(err, errlen, "%s: bad master address", what);
        goto out;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    *port = (int)p;
    rv = 0;
out:
    freeReplyObject(r);
    redisFree(rc);
    return rv;
}

/* ROLE on the node: 0 if it says master, else -1 (err). */
static int check_master(const sy_redis_addr *a, const char *host, int port, int timeout_ms,
                        char *err, size_t errlen)
{
    char what[300];
    snprintf(what, sizeof(what), "redis %s:%d", host, port);
    redisContext *rc = connect_node(what, host, port, timeout_ms, err, errlen);
    if (!rc)
        return -1;
    int rv = -1;
    redisReply *r = NULL;
    if (auth(rc, a->user, a->password, what, err, errlen))
        goto out;
    r = redisCommand(rc, "ROLE");
    if (!r) {
        snprintf(err, errlen, "%s: %s", what, rc->errstr);
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "%s: bad ROLE reply", what);
        goto out;
    }
    if (strcmp(r->element[0]->str, "master") != 0) {
        snprintf(err, errlen, "%s: not a master (role %s)", what, r->element[0]->str);
        goto out;
    }
    rv = 0;
out:
    freeReplyObject(r);
    redisFree(rc);
    return rv;
}

int sy_redis_discover(sy_redis_addr *a, int timeout_ms, int *changed, char *err, size_t errlen)
{
    if (changed)
        *changed = 0;
    if (a->nsentinels == 0)
        return 0;
    char host[256];
    int port = 0;
    err[0] = '\0';
    for (int i = 0; i < a->nsentinels; i++) {
        if (ask_sentinel(a, &a->sentinel[i], timeout_ms, host, sizeof(host), &port, err,
                         errlen) != 0)
            continue;
        /* a Sentinel that has not yet seen the failover may name the old primary: the
         * ROLE check refuses it and the next Sentinel is asked */
        if (check_master(a, host, port, timeout_ms, err, errlen) != 0)
            continue;
        if (changed)
            *changed = strcmp(a->host, host) != 0 || a->port != port;
        memcpy(a->host, host, strlen(host) + 1);
        a->port = port;
        return 0;
    }
    if (!err[0])
        snprintf(err, errlen, "no sentinel answered");
    return -1;
}

int sy_redis_locate(sy_redis_addr *a, int timeout_ms, const char *client)
{
    if (a->nsentinels == 0)
        return 0;
    char err[512], before[300];
    int changed = 0;
    snprintf(before, sizeof(before), "%s:%d", a->host, a->port);
    int had = a->host[0] != '\0';
    if (sy_redis_discover(a, timeout_ms, &changed, err, sizeof(err)) != 0) {
        sy_log_kv(SY_WARN, "redis primary not found", "client", client, "master", a->master,
                  "reason", err, NULL);
        return -1;
    }
    if (changed && had)
        sy_log(SY_WARN, "redis primary switched", "client=%s master=%s from=%s host=%s port=%d",
               client, a->master, before, a->host, a->port);
    else if (changed)
        sy_log(SY_INFO, "redis primary found", "client=%s master=%s host=%s port=%d", client,
               a->master, a->host, a->port);
    return 0;
}

int sy_redis_error_is_failover(const char *s)
{
    return s && (!strncmp(s, "READONLY", 8) || !strncmp(s, "NOREPLICAS", 10) ||
                 !strncmp(s, "MASTERDOWN", 10));
}
