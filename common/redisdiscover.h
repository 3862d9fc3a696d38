/*
 * redisdiscover: where a redis+sentinel:// URL's primary is now. One blocking lookup,
 * shared by the blocking clients (ingest, controller) and the router (which calls it with
 * a short deadline from its reconnect timer; see docs/architecture.md, "Redis failover").
 */
#ifndef SY_REDISDISCOVER_H
#define SY_REDISDISCOVER_H

#include <stddef.h>

struct sy_redis_addr;

/*
 * For a sentinel address (a->nsentinels > 0): asks each Sentinel in turn for the master
 * (SENTINEL get-master-addr-by-name), then asks that node with ROLE whether it is a master
 * (authenticating with a's credentials first); the first confirmed answer goes into
 * a->host / a->port. timeout_ms bounds every connect and every reply, so the call takes
 * at most about (nsentinels * 2 + 1) * timeout_ms. *changed (if not NULL) is set to 1
 * when the primary differs from what a->host/a->port held.
 * A plain redis:// address returns 0 at once. 0, or -1 with the reason in err.
 */
int sy_redis_discover(struct sy_redis_addr *a, int timeout_ms, int *changed, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/*
 * sy_redis_discover, logged for client ("router", "ingest", ...): "redis primary found"
 * the first time, "redis primary switched" (with the previous address) when it moved,
 * "redis primary not found" with the reason when no Sentinel could say. 0 or -1.
 */
int sy_redis_locate(struct sy_redis_addr *a, int timeout_ms, const char *client)
    __attribute__((warn_unused_result));

/* 1 if a Redis error reply says this node no longer takes writes (a replica: READONLY; a
 * primary cut off from its replicas: NOREPLICAS; a failover in progress: MASTERDOWN) and
 * a sentinel client should look for the primary again. */
int sy_redis_error_is_failover(const char *reply_str);

#endif
