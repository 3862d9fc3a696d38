#include "router/upstream.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/clock.h"
#include "common/curlev.h"
#include "common/h1client.h"

/* Idle call objects (with their easy handles, reset) kept for the next call;
 * the multi's connection cache keeps the connections either way. */
#define RT_CALL_FREELIST_MAX 64
/* Response buffers larger than this are not kept with an idle call. */
#define RT_CALL_KEEP_RESP_MAX (256u << 10)

struct rt_upstream {
    rt_h1 *h1;       /* plain http:// URLs: the built-in client (common/h1client.c) */
    sy_curlev *curl; /* the rest: libcurl's multi handle on the loop (common/curlev.c) */
    int inflight;
    rt_call *idle; /* free list of call objects */
    int nidle;
};

struct rt_call {
    rt_call_tag tag; /* first: builtin = 0 (see h1client.h) */
    rt_upstream *up;
    rt_call *next_idle;
    CURL *easy;
    sy_curlev_xfer xfer; /* its completion: call_done */
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

/* A transfer ended (curlev took it out of the multi handle). */
static void call_done(CURL *easy, CURLcode rc, void *arg)
{
    rt_call *c = arg;
    (void)easy;
    c->up->inflight--;

    rt_call_result res = {0};
    res.upstream_us = sy_clock_mono_us() - c->t_start_us;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.http_status);
    curl_off_t retry_after = 0;
    res.retry_after_s = -1;
    if (res.http_status && curl_easy_getinfo(c->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
        retry_after > 0 && retry_after <= 1000000000)
        res.retry_after_s = (long)retry_after;
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

rt_upstream *rt_upstream_new(struct event_base *base)
{
    rt_upstream *up = calloc(1, sizeof(*up));
    if (!up)
        return NULL;
    up->h1 = rt_h1_new(base);
    up->curl = sy_curlev_new(base, 1024L);
    if (!up->h1 || !up->curl) {
        rt_upstream_free(up);
        return NULL;
    }
    return up;
}

void rt_upstream_free(rt_upstream *up)
{
    if (!up)
        return;
    rt_h1_free(up->h1);
    sy_curlev_free(up->curl);
    while (up->idle) {
        rt_call *c = up->idle;
        up->idle = c->next_idle;
        call_destroy(c);
    }
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

/* The fixed headers plus the credentials (Authorization: Bearer, or the
 * Anthropic pair); kept with the call object while they stay the same. */
static int set_headers(rt_call *c, const char *api_key, const char *anthropic_version)
{
    char key[1024];
    if (api_key || anthropic_version)
        snprintf(key, sizeof(key), "%s\n%s", api_key ? api_key : "",
                 anthropic_version ? anthropic_version : "");
    if (c->headers && ((api_key || anthropic_version)
                           ? c->headers_keyed && !strcmp(c->headers_key, key)
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
    if (api_key || anthropic_version) {
        char line[1024];
        if (anthropic_version) {
            snprintf(line, sizeof(line), "anthropic-version: %s", anthropic_version);
            h = curl_slist_append(c->headers, line);
            if (h && api_key) {
                snprintf(line, sizeof(line), "x-api-key: %s", api_key);
                h = curl_slist_append(c->headers, line);
            }
        } else {
            snprintf(line, sizeof(line), "Authorization: Bearer %s", api_key);
            h = curl_slist_append(c->headers, line);
        }
        c->headers_key = strdup(key);
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
    c->xfer.on_done = call_done;
    c->xfer.arg = c;
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
    if (set_headers(c, spec->api_key, spec->anthropic_version))
        goto fail;

    curl_easy_setopt(c->easy, CURLOPT_URL, spec->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)spec->connect_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "switchyard");
    c->t_start_us = sy_clock_mono_us();
    if (sy_curlev_add(up->curl, c->easy, &c->xfer) != CURLM_OK)
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
    sy_curlev_remove(c->up->curl, c->easy);
    c->up->inflight--;
    call_release(c);
}
