/*
 * loadgen_http: libcurl multi on libevent (see loadgen_http.h).
 *
 * A call owns its easy handle, its header list, a copy of the request body and
 * the response (headers of the final response, the first max_body bytes of the
 * body). It is freed right after its on_done callback returns.
 */
#include "tools/loadgen_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/curlev.h"

#define LG_RESP_HEADERS_MAX 48

struct lg_http {
    sy_curlev *curl; /* libcurl's multi handle on the loop (common/curlev.c) */
    int inflight;
    lg_call *calls; /* every call in flight (for lg_http_free) */
};

struct lg_call {
    lg_http *h;
    lg_call *prev, *next;
    CURL *easy;
    sy_curlev_xfer xfer; /* its completion: call_done */
    struct curl_slist *headers;
    lg_http_spec spec;
    char *body;
    char *resp;
    size_t resp_len, resp_cap, resp_total;
    /* response headers: "name\0value\0" pairs of the last status line's response */
    char *hdr;
    size_t hdr_len, hdr_cap;
    int nhdr;
    long t_start_us;
    char errbuf[CURL_ERROR_SIZE];
};

static void call_unlink(lg_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->h->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void call_free(lg_call *c)
{
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c->resp);
    free(c->hdr);
    free(c);
}

/* A transfer ended (curlev took it out of the multi handle). */
static void call_done(CURL *easy, CURLcode rc, void *arg)
{
    lg_call *c = arg;
    (void)easy;
    call_unlink(c);
    c->h->inflight--;

    lg_http_res res = {0};
    res.elapsed_us = sy_clock_mono_us() - c->t_start_us;
    res.transport_ok = rc == CURLE_OK;
    if (res.transport_ok)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
    else
        res.error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    res.body = c->resp ? c->resp : "";
    res.body_len = c->resp_len;
    res.body_total = c->resp_total;
    res.call = c;
    c->spec.on_done(&res, c->spec.arg);
    call_free(c);
}

lg_http *lg_http_new(struct event_base *base)
{
    lg_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->curl = sy_curlev_new(base, 4096L);
    if (!h->curl) {
        lg_http_free(h);
        return NULL;
    }
    return h;
}

void lg_http_free(lg_http *h)
{
    if (!h)
        return;
    while (h->calls) {
        lg_call *c = h->calls;
        sy_curlev_remove(h->curl, c->easy);
        call_unlink(c);
        call_free(c);
    }
    sy_curlev_free(h->curl);
    free(h);
}

int lg_http_inflight(const lg_http *h) { return h->inflight; }

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    char *t = realloc(*buf, n);
    if (!t)
        return -1;
    *buf = t;
    *cap = n;
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    lg_call *c = userdata;
    size_t n = size * nmemb;
    c->resp_total += n;
    size_t keep = c->resp_len < c->spec.max_body ? c->spec.max_body - c->resp_len : 0;
    if (keep > n)
        keep = n;
    if (keep) {
        if (grow(&c->resp, &c->resp_cap, c->resp_len + keep + 1))
            return 0;
        memcpy(c->resp + c->resp_len, ptr, keep);
        c->resp_len += keep;
        c->resp[c->resp_len] = '\0';
    }
    return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    lg_call *c = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && !memcmp(ptr, "HTTP/", 5)) { /* a new response (after 1xx): start over */
        c->hdr_len = 0;
        c->nhdr = 0;
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon || c->nhdr >= LG_RESP_HEADERS_MAX)
        return n;
    size_t nlen = (size_t)(colon - ptr);
    const char *v = colon + 1, *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (grow(&c->hdr, &c->hdr_cap, c->hdr_len + nlen + vlen + 2))
        return 0;
    memcpy(c->hdr + c->hdr_len, ptr, nlen);
    c->hdr[c->hdr_len + nlen] = '\0';
    c->hdr_len += nlen + 1;
    memcpy(c->hdr + c->hdr_len, v, vlen);
    c->hdr[c->hdr_len + vlen] = '\0';
    c->hdr_len += vlen + 1;
    c->nhdr++;
    return n;
}

const char *lg_http_res_header(const lg_http_res *res, const char *name)
{
    const lg_call *c = res->call;
    const char *p = c->hdr;
    for (int i = 0; i < c->nhdr; i++) {
        const char *v = p + strlen(p) + 1;
        if (!strcasecmp(p, name))
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

int lg_http_start(lg_http *h, const lg_http_spec *spec)
{
    lg_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->h = h;
    c->xfer.on_done = call_done;
    c->xfer.arg = c;
    c->spec = *spec;
    if (!c->spec.max_body)
        c->spec.max_body = 64 * 1024;
    c->easy = curl_easy_init();
    if (!c->easy)
        goto fail;
    if (spec->body) {
        c->body = malloc(spec->body_len + 1);
        if (!c->body)
            goto fail;
        memcpy(c->body, spec->body, spec->body_len);
        c->body[spec->body_len] = '\0';
        c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
        if (!c->headers)
            goto fail;
    }
    struct curl_slist *t = curl_slist_append(c->headers, "Expect:"); /* no 100-continue wait */
    if (!t)
        goto fail;
    c->headers = t;
    for (int i = 0; i < LG_HTTP_MAX_HEADERS && spec->headers[i]; i++) {
        t = curl_slist_append(c->headers, spec->headers[i]);
        if (!t)
            goto fail;
        c->headers = t;
    }
    curl_easy_setopt(c->easy, CURLOPT_URL, spec->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    if (c->body) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
    }
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "switchyard-loadgen");
    c->t_start_us = sy_clock_mono_us();
    if (sy_curlev_add(h->curl, c->easy, &c->xfer) != CURLM_OK)
        goto fail;
    c->next = h->calls;
    if (h->calls)
        h->calls->prev = c;
    h->calls = c;
    h->inflight++;
    return 0;
fail:
    call_free(c);
    return -1;
}
