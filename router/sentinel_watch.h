/*
 * sentinel_watch: the Sentinels' +switch-master announcements, for a redis+sentinel://
 * address. One asynchronous connection to one Sentinel at a time (the next in the list
 * after a failure, a second later), SUBSCRIBE +switch-master; a message for our master
 * name calls back with the new primary's address. The router drops its connection to
 * the old primary then, instead of waiting for an error reply or a timeout: after a
 * graceful SENTINEL FAILOVER the old primary takes writes for seconds more (and discards
 * them when it becomes a replica).
 */
#ifndef SY_RT_SENTINEL_WATCH_H
#define SY_RT_SENTINEL_WATCH_H

#include <stddef.h>

struct event_base;
struct sy_redis_addr;
typedef struct rt_sentinel_watch rt_sentinel_watch;

typedef void (*rt_switch_fn)(void *arg, const char *host, int port);

/* NULL for a plain redis:// address (nothing to watch) or out of memory. */
rt_sentinel_watch *rt_sentinel_watch_new(struct event_base *base, const struct sy_redis_addr *a,
                                         rt_switch_fn fn, void *arg);
void rt_sentinel_watch_free(rt_sentinel_watch *w);

/* "<master> <old-ip> <old-port> <new-ip> <new-port>": 0 and the new address if it names
 * master, else -1. Pure (tested by tests/unit). */
int rt_parse_switch_master(const char *msg, const char *master, char *host, size_t hostlen,
                           int *port);

#endif
