/*
 * Redis URLs -> parts:
 *   redis://[[user]:password@]host[:port][/db]
 *   redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name
 *                    [?db=N&sentinel_user=U&sentinel_password=P&min_replicas=R]
 * A sentinel URL names the Sentinels (port 26379 by default) and the master's name; the
 * primary's host and port are found through them (common/redisdiscover.h), the
 * credentials and db apply to the data nodes, sentinel_user/sentinel_password to the
 * Sentinels; min_replicas (0..16) makes the router count an event batch as spooled only
 * once that many replicas have it (WAIT), so that a failover cannot lose it.
 */
#ifndef SY_REDISURL_H
#define SY_REDISURL_H

#include <stddef.h>

#define SY_REDIS_MAX_SENTINELS 8

typedef struct sy_redis_node {
    char host[256];
    int port;
} sy_redis_node;

typedef struct sy_redis_addr {
    char host[256];    /* sentinel URL: the primary last discovered ("" before) */
    int port;          /* default 6379 */
    int db;            /* default 0 */
    char user[128];    /* empty: none */
    char password[256]; /* empty: none */
    /* redis+sentinel:// only (nsentinels == 0 for redis://) */
    int nsentinels;
    sy_redis_node sentinel[SY_REDIS_MAX_SENTINELS];
    char master[128];
    char sentinel_user[128];
    char sentinel_password[256];
    int min_replicas; /* default 0 */
} sy_redis_addr;

#define SY_REDIS_URL_DEFAULT "redis://127.0.0.1:6379/0"

/* 0, or -1 with a reason in err. */
int sy_redis_url_parse(const char *url, sy_redis_addr *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
