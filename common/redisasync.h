/*
 * redisasync: a hiredis asynchronous connection on a libevent loop, the way the router's
 * three Redis clients open it (events and cohorts, the state subscription, the Sentinel
 * watch): connect, attach, the two callbacks, then AUTH queued first (commands queued
 * before the connection completes are sent in order once it does).
 *
 * The loop adapter is this module's own, not hiredis's adapters/libevent.h: a read event
 * that persists, and commands written at the end of the loop iteration that queued them
 * (one write() for all of them) instead of after a round through epoll for EPOLLOUT. The
 * write event is armed only for a short write or while connecting. No epoll_ctl per
 * round trip (hiredis's adapter makes four).
 */
#ifndef SY_REDISASYNC_H
#define SY_REDISASYNC_H

#include <hiredis/async.h>

struct event_base;

/* user may be "" (AUTH password) and password "" (no AUTH). NULL when the connect could
 * not even start; the reason in err (errlen bytes). */
redisAsyncContext *sy_redis_async_open(struct event_base *base, const char *host, int port,
                                       const char *user, const char *password, void *data,
                                       redisConnectCallback *on_connect,
                                       redisDisconnectCallback *on_disconnect, char *err,
                                       size_t errlen);

#endif
