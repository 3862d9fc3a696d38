#include "common/redisasync.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>
#include <stdio.h>

redisAsyncContext *sy_redis_async_open(struct event_base *base, const char *host, int port,
                                       const char *user, const char *password, void *data,
                                       redisConnectCallback *on_connect,
                                       redisDisconnectCallback *on_disconnect, char *err,
                                       size_t errlen)
{
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        snprintf(err, errlen, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    redisLibeventAttach(ac, base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (password[0]) {
        if (user[0])
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", user, password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", password);
    }
    return ac;
}
