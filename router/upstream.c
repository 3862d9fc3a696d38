#include "router/upstream.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/clock.h"
#include "common/h1client.h"

/* Idle call objects (with their easy handles, reset) kept for the next call;
 * the multi's connection cache keeps the connections either way. */
#define RT_CALL_FREELIST_MAX 64
/* Response buffers larger than this are not kept with an idle call. */
#define RT_CALL_KEEP_RESP_MAX (256u << 10)

/* per-socket state for curl's socket callback */
struct sock {
    struct event ev;
    short kind;        /* what ev waits for */
    struct sock *next; /* in the upstream's free list */
};

struct rt_upstream {
    struct event_base *base;
    rt_h1 *h1; /* plain http:// URLs: the built-in client (common/h1client.c) */
    CURLM *multi;
    struct event *timer;
    int inflight;
    rt_call *idle; /* free list of call objects */
    int nidle;
    struct sock *idle_socks;
};

struct rt_call {
    rt_call_tag tag; /* first: builtin = 0 (see h1client.h) */
    rt_upstream *up;
    rt_call *next_idle;
    CURL *easy;
    struct curl_slist *headers;
    char *headers_key;   /* the API key headers was built for */
    int headers_keyed;   /* headers has an Authorization line */
    rt_call_spec spec;
    char *body;          /* request body copy (curl reads it during the transfer) */
    size_t body_cap;
    char *resp;
    size_t resp_len, resp_cap;
    int too_large;
    int aborted_by_sink; /* on_data asked to stop */
    int paused;          /* on_data paused the transfer and it was not resumed */
    long t_start_us;
    char errbuf[CURL_ERROR_SIZE];
};

const char *rt_call_status_str(rt_call_status s)
{
    switch (s) {
    case RT_CALL_OK: return "ok";
    case RT_CALL_CONNECT_ERROR: return "connect_error";
    case RT_CALL_TIMEOUT: return "timeout";
    case RT_CALL_ERROR: return "error";
    }
    return "unknown";
}

static void call_destroy(rt_call *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->headers_key);
    free(c->body);
    free(c->resp);
    free(c);
}

/* Done with a call (already out of the multi): keep it for the next one. */
static void call_release(rt_call *c)
{
    rt_upstream *up = c->up;
    if (up->nidle >= RT_CALL_FREELIST_MAX) {
        call_destroy(c);
        return;
    }
    if (c->paused) {
        /* a paused transfer keeps state in the handle: start the next afresh */
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    } else {
        curl_easy_reset(c->easy);
    }
    if (c->resp_cap > RT_CALL_KEEP_RESP_MAX) {
        free(c->resp);
        c->resp = NULL;
        c->resp_cap = 0;
    }
    c->next_idle = up->idle;
    up->idle = c;
    up->nidle++;
}

static void check_done(rt_upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        rt_call *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(up->multi, c->easy);
        up->inflight--;

        rt_call_result res = {0};
        res.upstream_us = sy_clock_mono_us() - c->t_start_us;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.http_status);
        if (rc == CURLE_OK && !c->too_large) {
            res.status = RT_CALL_OK;
        } else if (c->too_large) {
            res.status = RT_CALL_ERROR;
            res.error = "response exceeds the size limit";
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            res.status = RT_CALL_TIMEOUT;
            res.error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                   rc == CURLE_COULDNT_RESOLVE_PROXY) {
            res.status = RT_CALL_CONNECT_ERROR;
            res.error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        } else {
            res.status = RT_CALL_ERROR;
            res.error = c->aborted_by_sink ? "aborted by the receiver"
                        : c->errbuf[0]     ? c->errbuf
                                           : curl_easy_strerror(rc);
        }
        res.body = c->resp ? c->resp : "";
        res.body_len = c->resp_len;
        c->spec.on_done(&res, c->spec.arg);
        call_release(c);
    }
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    rt_upstream *up = arg;
    int running;
    int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(up->multi, fd, flags, &running);
    check_done(up);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    rt_upstream *up = arg;
    int running;
    (void)fd;
    (void)what;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(up);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    rt_upstream *up = userp;
    struct sock *sk = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            /* this may run inside sk's own event callback: keep the memory */
            event_del(&sk->ev);
            sk->next = up->idle_socks;
            up->idle_socks = sk;
            curl_multi_assign(up->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!sk) {
        sk = up->idle_socks;
        if (sk)
            up->idle_socks = sk->next;
        else if (!(sk = malloc(sizeof(*sk))))
            return -1;
        curl_multi_assign(up->multi, s, sk);
    } else if (sk->kind == kind) {
        return 0;
    } else {
        event_del(&sk->ev);
    }
    sk->kind = kind;
    event_assign(&sk->ev, up->base, s, kind, on_sock_event, up);
    event_add(&sk->ev, NULL);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    rt_upstream *up = userp;
    (void)m;
    if (timeout_ms < 0) {
        evtimer_del(up->timer);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(up->timer, &tv);
    }
    return 0;
}

rt_upstream *rt_upstream_new(struct event_base *base)
{
    rt_upstream *up = calloc(1, sizeof(*up));
    if (!up)
        return NULL;
    up->base = base;
    up->h1 = rt_h1_new(base);
    up->multi = curl_multi_init();
    up->timer = evtimer_new(base, on_timer, up);
    if (!up->h1 || !up->multi || !up->timer) {
        rt_upstream_free(up);
        return NULL;
    }
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 1024L);
    return up;
}

void rt_upstream_free(rt_upstream *up)
{
    if (!up)
        return;
    rt_h1_free(up->h1);
    if (up->multi)
        curl_multi_cleanup(up->multi);
    while (up->idle) {
        rt_call *c = up->idle;
        up->idle = c->next_idle;
        call_destroy(c);
    }
    while (up->idle_socks) {
        struct sock *sk = up->idle_socks;
        up->idle_socks = sk->next;
        free(sk);
    }
    if (up->timer)
        event_free(up->timer);
    free(up);
}

int rt_upstream_inflight(const rt_upstream *up)
{
    return up->inflight + rt_h1_inflight(up->h1);
}

/* Which client owns a call: both kinds begin with an rt_call_tag. */
static rt_h1_call *builtin(rt_call *c)
{
    return ((const rt_call_tag *)(const void *)c)->builtin ? (rt_h1_call *)(void *)c : NULL;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    rt_call *c = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (c->spec.on_data && code >= 200 && code < 300) {
        int rc = c->spec.on_data(ptr, n, c->spec.arg);
        if (rc > 0) {
            c->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (rc < 0) {
            c->aborted_by_sink = 1;
            return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
        }
        return n;
    }
    if (c->resp_len + n > c->spec.max_response_bytes) {
        c->too_large = 1;
        return 0;
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        while (cap < c->resp_len + n + 1)
            cap *= 2;
        char *r = realloc(c->resp, cap);
        if (!r)
            return 0;
        c->resp = r;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, ptr, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

/* The fixed headers plus Authorization for api_key (or none); kept with the
 * call object while the key stays the same. */
static int set_headers(rt_call *c, const char *api_key)
{
    if (c->headers && (api_key ? c->headers_keyed && !strcmp(c->headers_key, api_key)
                               : !c->headers_keyed))
        return 0;
    curl_slist_free_all(c->headers);
    free(c->headers_key);
    c->headers_key = NULL;
    c->headers_keyed = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = h;
    if (!h)
        return -1;
    h = curl_slist_append(c->headers, "Expect:"); /* no 100-continue round trip */
    if (!h)
        return -1;
    if (api_key) {
        char auth[1024];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        h = curl_slist_append(c->headers, auth);
        c->headers_key = strdup(api_key);
        if (!h || !c->headers_key) {
            curl_slist_free_all(c->headers);
            c->headers = NULL;
            return -1;
        }
        c->headers_keyed = 1;
    }
    return 0;
}

rt_call *rt_call_start(rt_upstream *up, const rt_call_spec *spec)
{
    if (rt_h1_handles(up->h1, spec->url))
        return (rt_call *)(void *)rt_h1_call_start(up->h1, spec);
    rt_call *c = up->idle;
    if (c) {
        up->idle = c->next_idle;
        up->nidle--;
    } else if (!(c = calloc(1, sizeof(*c)))) {
        goto fail;
    }
    c->up = up;
    c->next_idle = NULL;
    c->spec = *spec;
    if (!c->spec.max_response_bytes)
        c->spec.max_response_bytes = 64 << 20;
    c->resp_len = 0;
    if (c->resp)
        c->resp[0] = '\0';
    c->too_large = 0;
    c->aborted_by_sink = 0;
    c->paused = 0;
    c->errbuf[0] = '\0';
    if (!c->easy && !(c->easy = curl_easy_init()))
        goto fail;
    if (spec->body_len + 1 > c->body_cap) {
        char *b = realloc(c->body, spec->body_len + 1);
        if (!b)
            goto fail;
        c->body = b;
        c->body_cap = spec->body_len + 1;
    }
    memcpy(c->body, spec->body, spec->body_len);
    c->body[spec->body_len] = '\0';
    if (set_headers(c, spec->api_key))
        goto fail;

    curl_easy_setopt(c->easy, CURLOPT_URL, spec->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)spec->connect_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "switchyard");
    c->t_start_us = sy_clock_mono_us();
    if (curl_multi_add_handle(up->multi, c->easy) != CURLM_OK)
        goto fail;
    up->inflight++;
    return c;
fail:
    sy_log(SY_ERROR, "cannot start upstream call", "reason=out_of_memory");
    if (c)
        call_destroy(c);
    return NULL;
}

void rt_call_resume(rt_call *c)
{
    rt_h1_call *b = builtin(c);
    if (b) {
        rt_h1_call_resume(b);
        return;
    }
    c->paused = 0;
    curl_easy_pause(c->easy, CURLPAUSE_CONT);
}

long rt_call_http_status(rt_call *c)
{
    rt_h1_call *b = builtin(c);
    if (b)
        return rt_h1_call_http_status(b);
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

void rt_call_cancel(rt_call *c)
{
    if (!c)
        return;
    rt_h1_call *b = builtin(c);
    if (b) {
        rt_h1_call_cancel(b);
        return;
    }
    curl_multi_remove_handle(c->up->multi, c->easy);
    c->up->inflight--;
    call_release(c);
}
