/* redis://[[user]:password@]host[:port][/db] -> parts. */
#ifndef SY_REDISURL_H
#define SY_REDISURL_H

#include <stddef.h>

typedef struct sy_redis_addr {
    char host[256];
    int port;          /* default 6379 */
    int db;            /* default 0 */
    char user[128];    /* empty: none */
    char password[256]; /* empty: none */
} sy_redis_addr;

#define SY_REDIS_URL_DEFAULT "redis://127.0.0.1:6379/0"

/* 0, or -1 with a reason in err. */
int sy_redis_url_parse(const char *url, sy_redis_addr *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
