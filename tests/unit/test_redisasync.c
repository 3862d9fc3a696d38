/*
 * common/redisasync's libevent adapter against a real redis-server, started here on a
 * free port in a temporary directory: commands queued in one loop iteration go out
 * together and all answer; a write the socket cannot take at once (Redis frozen with
 * SIGSTOP, 48 MB queued) finishes on the write event once Redis runs again; a write
 * that fails inside the adapter's own flush (Redis killed) disconnects cleanly, the
 * disconnect callback told and nothing touched after the context is freed (ASan).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/redisasync.h"

static pid_t redis_pid;
static int redis_port;
static char redis_dir[] = "/tmp/sy-test-redisasync.XXXXXX"; /* mkdtemp fills in the Xs */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &l))
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void start_redis(void)
{
    char port[16];
    redis_port = free_port();
    snprintf(port, sizeof(port), "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test killed by its alarm leaves no server */
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, "--logfile", "redis.log",
               "--client-query-buffer-limit", "1gb", "--proto-max-bulk-len", "1gb", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        redisContext *c = redisConnect("127.0.0.1", redis_port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return;
        } else if (c)
            redisFree(c);
        usleep(10000);
    }
    fail_msg("redis-server did not answer on port %d", redis_port);
}

static void stop_redis(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as the router does: a write to a dead peer is EPIPE */
    alarm(120);               /* a write that never finishes hangs the loop: fail instead */
    if (!mkdtemp(redis_dir))
        return -1;
    start_redis();
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    stop_redis();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", redis_dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct run {
    struct event_base *base;
    redisAsyncContext *ac;
    int connected, disconnected, disconnect_status;
    int replies, errors, expect;
    long long last;
    char why[128];
};

static struct run *the_run; /* hiredis's connect callback has no private pointer */

static void on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    the_run->connected = status == REDIS_OK ? 1 : -1;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    snprintf(the_run->why, sizeof(the_run->why), "%s", ac->errstr);
    the_run->disconnected = 1;
    the_run->disconnect_status = status;
    the_run->ac = NULL;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct run *r = priv;
    redisReply *rep = reply;
    (void)ac;
    if (!rep) /* the context is going away: callbacks are called with no reply */
        return;
    if (rep->type == REDIS_REPLY_ERROR)
        r->errors++;
    else if (rep->type == REDIS_REPLY_INTEGER)
        r->last = rep->integer;
    if (++r->replies == r->expect)
        event_base_loopbreak(r->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until loopbreak or `ms` have passed. */
static void run_for(struct run *r, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *t = evtimer_new(r->base, on_deadline, r->base);
    evtimer_add(t, &tv);
    event_base_dispatch(r->base);
    event_free(t);
}

static void open_run(struct run *r)
{
    char err[128];
    memset(r, 0, sizeof(*r));
    the_run = r;
    r->base = event_base_new();
    assert_non_null(r->base);
    r->ac = sy_redis_async_open(r->base, "127.0.0.1", redis_port, "", "", r, on_connect,
                                on_disconnect, err, sizeof(err));
    assert_non_null(r->ac);
}

static void close_run(struct run *r)
{
    if (r->ac)
        redisAsyncFree(r->ac);
    event_base_free(r->base);
}

/* 1 000 INCRs queued before the loop runs (so before the connect completes) and then
 * 1 000 more from inside a reply callback: every one answers, in order. */
static void on_reply_more(redisAsyncContext *ac, void *reply, void *priv)
{
    struct run *r = priv;
    on_reply(ac, reply, priv);
    if (r->replies == 1001) /* this one was the 1 001st */
        for (int i = 0; i < 1000; i++)
            assert_int_equal(redisAsyncCommand(ac, on_reply, r, "INCR n"), REDIS_OK);
}

static void test_commands_answer_in_order(void **state)
{
    struct run r;
    (void)state;
    open_run(&r);
    r.expect = 2000;
    assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "DEL n"), REDIS_OK);
    r.expect++;
    for (int i = 0; i < 999; i++)
        assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "INCR n"), REDIS_OK);
    assert_int_equal(redisAsyncCommand(r.ac, on_reply_more, &r, "INCR n"), REDIS_OK);
    run_for(&r, 10000);
    assert_int_equal(r.connected, 1);
    assert_int_equal(r.replies, 2001);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.last, 2000);
    assert_false(r.disconnected);
    close_run(&r);
}

/* Redis frozen: 48 MB of SETs cannot all go into the socket at once, so the write is
 * short and must go on when the socket drains, after SIGCONT. */
static void on_thaw(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    kill(redis_pid, SIGCONT);
}

static void test_short_write_finishes(void **state)
{
    struct run r;
    enum { N = 48, SZ = 1 << 20 };
    char *v = malloc(SZ);
    (void)state;
    assert_non_null(v);
    memset(v, 'x', SZ);
    open_run(&r);
    assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "PING"), REDIS_OK);
    r.expect = 1;
    run_for(&r, 5000);
    assert_int_equal(r.connected, 1);
    assert_int_equal(r.replies, 1);

    assert_int_equal(kill(redis_pid, SIGSTOP), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "SET big:%d %b", i, v, (size_t)SZ),
                         REDIS_OK);
    assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "STRLEN big:%d", N - 1), REDIS_OK);
    r.expect = 1 + N + 1;
    struct timeval half = {0, 500000};
    assert_int_equal(event_base_once(r.base, -1, EV_TIMEOUT, on_thaw, NULL, &half), 0);
    run_for(&r, 30000);
    kill(redis_pid, SIGCONT); /* in case the loop never got to the timer */
    assert_int_equal(r.replies, 1 + N + 1);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.last, SZ);
    assert_false(r.disconnected);
    close_run(&r);
    free(v);
}

/* Redis killed, and a reset drawn from it (a raw write past hiredis): the socket holds
 * the error. A command queued now is written by the adapter's flush, which runs before
 * the read event reports the close, so the write fails there and the context is freed
 * inside the flush. The disconnect callback says why; ASan checks that nothing touches
 * the freed adapter afterwards. */
static void test_write_error_in_flush(void **state)
{
    struct run r;
    (void)state;
    open_run(&r);
    assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "PING"), REDIS_OK);
    r.expect = 1;
    run_for(&r, 5000);
    assert_int_equal(r.replies, 1);

    stop_redis();
    usleep(100000);
    assert_int_equal(write(r.ac->c.fd, "PING\r\n", 6), 6); /* the dead peer answers RST */
    usleep(100000);
    assert_int_equal(redisAsyncCommand(r.ac, on_reply, &r, "PING"), REDIS_OK);
    run_for(&r, 2000);
    assert_true(r.disconnected);
    assert_int_equal(r.disconnect_status, REDIS_ERR);
    assert_string_equal(r.why, strerror(EPIPE)); /* a reset after the FIN: EPIPE */
    assert_null(r.ac);
    close_run(&r);
    start_redis();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_answer_in_order),
        cmocka_unit_test(test_short_write_finishes),
        cmocka_unit_test(test_write_error_in_flush),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
