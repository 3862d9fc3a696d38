/*
 * loadgen: open-loop HTTP/1.1 load at a fixed rate, for bench/router.sh.
 *
 *   loadgen --port P [--host 127.0.0.1] [--path /v1/chat/completions]
 *           --rate R --conns M --duration S [--warmup S]
 *           [--body JSON | --body-file F] [--header 'Name: value']...
 *           [--users N] [--timeout-ms T] [--label NAME] [--trace FILE]
 *
 * Request i is due at t0 + i/R, whatever happened to the ones before it (open
 * loop: wrk and other closed-loop tools slow down with the server and so hide
 * its queueing). A due request goes out on an idle keep-alive connection, or
 * waits in a FIFO for the next one to free up; its latency runs from the time
 * it was due to the last byte of its response, so waiting for a connection
 * counts (no coordinated omission). Requests due during --warmup are sent but
 * not measured. With --users N each request carries X-User-Id: user-<i mod N>.
 *
 * Prints one JSON object: count (measured responses), errors (connection
 * failures, timeouts, unparsable responses), non2xx, p50/p90/p99/p999/max/mean
 * in microseconds, the achieved rate, and how late the generator itself was
 * (send_lag_p99_us: due -> written, includes waiting for a free connection).
 * --trace FILE also writes one line per measured response: when it was due (us
 * since the start), its latency and its send lag (us), in the order they finished.
 *
 * Build: cc -O2 -I. -o loadgen bench/loadgen.c -levent -lm
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include <unistd.h>

typedef struct conn {
    int fd;
    struct event *rev;
    int busy;
    uint64_t due_ns;   /* when the request in flight was due */
    uint32_t lag_us;   /* due -> written */
    int measured;      /* the request in flight counts */
    char *buf;
    size_t len, cap;
} conn;

static struct {
    const char *host, *path, *label, *trace;
    int port;
    double rate, duration, warmup;
    int nconns, users, timeout_ms;
    char *body;
    size_t body_len;
    char *headers; /* extra header lines, each ending in \r\n */
    size_t headers_len;
} o = {.host = "127.0.0.1", .path = "/v1/chat/completions", .label = "", .nconns = 16,
       .timeout_ms = 10000};

static struct event_base *base;
static conn *conns;
static struct sockaddr_storage addr;
static socklen_t addrlen;

static uint64_t t0_ns, measure_from_ns, end_ns;
static uint64_t next_idx, total_due; /* requests scheduled so far / in all */

/* FIFO of due times waiting for a connection */
static uint64_t *fifo;
static size_t fifo_head, fifo_tail, fifo_cap, fifo_max;

static uint32_t *lat_us, *lag_us, *trace_due_us, *trace_lag_us;
static size_t nlat, nlag, lat_cap;
static uint64_t sent, errors, non2xx, done_total, reconnects, warmup_done;
static struct event *tick_ev, *stop_ev;
static int stopping;

static uint64_t now_ns(void) { return (uint64_t)sy_clock_mono_ns(); }

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die("out of memory");
    return p;
}

static void on_read(evutil_socket_t fd, short what, void *arg);

static int conn_open(conn *c)
{
    c->fd = socket(addr.ss_family, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(c->fd);
    c->rev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    event_add(c->rev, NULL);
    c->busy = 0;
    c->len = 0;
    return 0;
}

static void conn_close(conn *c)
{
    if (c->rev)
        event_free(c->rev);
    c->rev = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void record(conn *c, uint64_t t, int ok, int status)
{
    c->busy = 0;
    done_total++;
    if (!ok) {
        errors++;
        return;
    }
    if (status < 200 || status > 299)
        non2xx++;
    if (!c->measured) {
        warmup_done++;
        return;
    }
    uint64_t us = (t - c->due_ns) / 1000;
    if (nlat == lat_cap)
        die("latency array full");
    if (trace_due_us) {
        trace_due_us[nlat] = (uint32_t)((c->due_ns - t0_ns) / 1000);
        trace_lag_us[nlat] = c->lag_us;
    }
    lat_us[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void send_on(conn *c, uint64_t due)
{
    static char *req;
    static size_t req_cap;
    char uhdr[64] = "";
    if (o.users > 0)
        snprintf(uhdr, sizeof(uhdr), "X-User-Id: user-%llu\r\n",
                 (unsigned long long)((sent) % (uint64_t)o.users));
    size_t need = strlen(o.path) + strlen(o.host) + o.headers_len + o.body_len + 256;
    if (need > req_cap) {
        req_cap = need;
        req = xrealloc(req, req_cap);
    }
    int n = snprintf(req, req_cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s%.*s\r\n",
                     o.path, o.host, o.port, o.body_len, uhdr, (int)o.headers_len,
                     o.headers ? o.headers : "");
    memcpy(req + n, o.body, o.body_len);
    size_t total = (size_t)n + o.body_len, off = 0;
    c->busy = 1;
    c->due_ns = due;
    c->measured = due >= measure_from_ns;
    while (off < total) {
        ssize_t w = write(c->fd, req + off, total - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue; /* a few hundred bytes on loopback: practically never */
        } else {
            record(c, now_ns(), 0, 0);
            conn_close(c);
            reconnects++;
            if (conn_open(c) < 0)
                die("reconnect failed");
            return;
        }
    }
    sent++;
    if (c->measured) {
        uint64_t lag = (now_ns() - due) / 1000;
        c->lag_us = lag > UINT32_MAX ? UINT32_MAX : (uint32_t)lag;
        lag_us[nlag++] = c->lag_us;
    }
}

static conn *idle_conn(void)
{
    for (int i = 0; i < o.nconns; i++)
        if (!conns[i].busy && conns[i].fd >= 0)
            return &conns[i];
    return NULL;
}

static void dispatch(uint64_t due)
{
    conn *c = idle_conn();
    if (c) {
        send_on(c, due);
        return;
    }
    if (fifo_tail - fifo_head == fifo_cap)
        die("request FIFO full: the server is far slower than --rate");
    fifo[fifo_tail++ % fifo_cap] = due;
    if (fifo_tail - fifo_head > fifo_max)
        fifo_max = fifo_tail - fifo_head;
}

static void maybe_finish(void)
{
    if (next_idx < total_due)
        return;
    for (int i = 0; i < o.nconns; i++)
        if (conns[i].busy)
            return;
    if (fifo_tail != fifo_head)
        return;
    event_base_loopbreak(base);
}

static void after_response(conn *c)
{
    if (fifo_tail != fifo_head && c->fd >= 0) {
        uint64_t due = fifo[fifo_head++ % fifo_cap];
        send_on(c, due);
    }
    maybe_finish();
}

/* case-insensitive substring of a header value */
static int has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++)
        if (!strncasecmp(v + i, tok, tl))
            return 1;
    return 0;
}

/* 1: a whole response is in c->buf (*used bytes, *status); 0: need more; -1: bad */
static int parse_response(conn *c, size_t *used, int *status, int *close_after)
{
    char *b = c->buf;
    size_t n = c->len;
    char *he = memmem(b, n, "\r\n\r\n", 4);
    if (!he)
        return n > 65536 ? -1 : 0;
    size_t hlen = (size_t)(he - b) + 4;
    if (n < 12 || memcmp(b, "HTTP/1.", 7))
        return -1;
    *status = atoi(b + 9);
    long long clen = -1;
    int chunked = 0;
    *close_after = 0;
    const char *line = (const char *)memchr(b, '\n', hlen) + 1;
    while (line < he) {
        const char *eol = memchr(line, '\n', (size_t)(he + 2 - line));
        size_t ll = (size_t)(eol - line);
        if (ll > 15 && !strncasecmp(line, "Content-Length:", 15))
            clen = atoll(line + 15);
        else if (ll > 18 && !strncasecmp(line, "Transfer-Encoding:", 18))
            chunked = has_token(line + 18, ll - 18, "chunked");
        else if (ll > 11 && !strncasecmp(line, "Connection:", 11))
            *close_after = has_token(line + 11, ll - 11, "close");
        line = eol + 1;
    }
    if (chunked) {
        size_t p = hlen;
        for (;;) {
            char *eol = memmem(b + p, n - p, "\r\n", 2);
            if (!eol)
                return 0;
            unsigned long sz = strtoul(b + p, NULL, 16);
            p = (size_t)(eol - b) + 2;
            if (sz == 0) {
                if (n - p < 2)
                    return 0;
                /* no trailers expected */
                *used = p + 2;
                return 1;
            }
            if (n - p < sz + 2)
                return 0;
            p += sz + 2;
        }
    }
    if (clen < 0)
        return -1; /* we never ask for close-delimited bodies */
    if (n < hlen + (size_t)clen)
        return 0;
    *used = hlen + (size_t)clen;
    return 1;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    conn *c = arg;
    for (;;) {
        if (c->cap - c->len < 16384) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = xrealloc(c->buf, c->cap);
        }
        ssize_t r = read(fd, c->buf + c->len, c->cap - c->len);
        if (r > 0) {
            c->len += (size_t)r;
            if ((size_t)r < c->cap - c->len)
                break;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0 && errno == EINTR)
            continue;
        /* closed or failed */
        if (c->busy)
            record(c, now_ns(), 0, 0);
        conn_close(c);
        reconnects++;
        if (!stopping && conn_open(c) < 0)
            die("reconnect failed");
        after_response(c);
        return;
    }
    while (c->len) {
        size_t used = 0;
        int status = 0, close_after = 0;
        int pr = parse_response(c, &used, &status, &close_after);
        if (pr == 0)
            return;
        uint64_t t = now_ns();
        if (pr < 0 || !c->busy) {
            if (c->busy)
                record(c, t, 0, 0);
            conn_close(c);
            reconnects++;
            if (!stopping && conn_open(c) < 0)
                die("reconnect failed");
            after_response(c);
            return;
        }
        record(c, t, 1, status);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (close_after) {
            conn_close(c);
            reconnects++;
            if (conn_open(c) < 0)
                die("reconnect failed");
        }
        after_response(c);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t now = now_ns();
    double step = 1e9 / o.rate;
    while (next_idx < total_due) {
        uint64_t due = t0_ns + (uint64_t)((double)next_idx * step);
        if (due > now) {
            uint64_t wait = due - now;
            struct timeval tv = {(time_t)(wait / 1000000000ull), (suseconds_t)((wait % 1000000000ull) / 1000)};
            evtimer_add(tick_ev, &tv);
            return;
        }
        next_idx++;
        dispatch(due);
    }
    maybe_finish();
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    /* in-flight past the deadline: count as errors (timeouts) */
    stopping = 1;
    event_base_loopbreak(base);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)ceil(q * (double)n);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1];
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open --body-file");
    char *b = NULL;
    size_t n = 0, cap = 0, r;
    do {
        if (cap - n < 4096)
            b = xrealloc(b, cap = cap * 2 + 4096);
        r = fread(b + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return b;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host H] [--path P] --rate R --conns M --duration S\n"
            "               [--warmup S] [--body JSON | --body-file F] [--header 'K: V']...\n"
            "               [--users N] [--timeout-ms T] [--label NAME] [--trace FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, NULL, 'H'},     {"port", required_argument, NULL, 'p'},
        {"path", required_argument, NULL, 'P'},     {"rate", required_argument, NULL, 'r'},
        {"conns", required_argument, NULL, 'c'},    {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},   {"body", required_argument, NULL, 'b'},
        {"body-file", required_argument, NULL, 'f'}, {"header", required_argument, NULL, 'h'},
        {"users", required_argument, NULL, 'u'},    {"timeout-ms", required_argument, NULL, 't'},
        {"label", required_argument, NULL, 'l'},    {"help", no_argument, NULL, '?'},
        {"trace", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'P': o.path = optarg; break;
        case 'r': o.rate = atof(optarg); break;
        case 'c': o.nconns = atoi(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 'w': o.warmup = atof(optarg); break;
        case 'b': o.body = optarg; o.body_len = strlen(optarg); break;
        case 'f': o.body = read_file(optarg, &o.body_len); break;
        case 'h': {
            size_t l = strlen(optarg);
            o.headers = xrealloc(o.headers, o.headers_len + l + 3);
            memcpy(o.headers + o.headers_len, optarg, l);
            memcpy(o.headers + o.headers_len + l, "\r\n", 3);
            o.headers_len += l + 2;
            break;
        }
        case 'u': o.users = atoi(optarg); break;
        case 't': o.timeout_ms = atoi(optarg); break;
        case 'l': o.label = optarg; break;
        case 'T': o.trace = optarg; break;
        default: usage();
        }
    }
    if (o.port <= 0 || o.rate <= 0 || o.duration <= 0 || o.nconns <= 0 || o.warmup < 0)
        usage();
    if (!o.body) {
        o.body = "{\"model\":\"sim-instant\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        o.body_len = strlen(o.body);
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", o.port);
    if (getaddrinfo(o.host, portstr, &hints, &ai))
        die("cannot resolve --host");
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base)
        die("event_base_new failed");

    total_due = (uint64_t)((o.warmup + o.duration) * o.rate);
    lat_cap = total_due + 16;
    lat_us = calloc(lat_cap, sizeof(*lat_us));
    lag_us = calloc(lat_cap, sizeof(*lag_us));
    if (o.trace) {
        trace_due_us = calloc(lat_cap, sizeof(*trace_due_us));
        trace_lag_us = calloc(lat_cap, sizeof(*trace_lag_us));
        if (!trace_due_us || !trace_lag_us)
            die("out of memory");
    }
    fifo_cap = total_due + 16;
    fifo = calloc(fifo_cap, sizeof(*fifo));
    conns = calloc((size_t)o.nconns, sizeof(*conns));
    if (!lat_us || !lag_us || !fifo || !conns)
        die("out of memory");
    for (int i = 0; i < o.nconns; i++) {
        conns[i].fd = -1;
        if (conn_open(&conns[i]) < 0) {
            perror("loadgen: connect");
            return 1;
        }
    }

    tick_ev = evtimer_new(base, on_tick, NULL);
    stop_ev = evtimer_new(base, on_stop, NULL);
    t0_ns = now_ns() + 1000000; /* start 1 ms from now */
    measure_from_ns = t0_ns + (uint64_t)(o.warmup * 1e9);
    end_ns = t0_ns + (uint64_t)((o.warmup + o.duration) * 1e9);
    struct timeval tv0 = {0, 1000};
    evtimer_add(tick_ev, &tv0);
    uint64_t stop_after = (end_ns - now_ns()) + (uint64_t)o.timeout_ms * 1000000ull;
    struct timeval tvs = {(time_t)(stop_after / 1000000000ull),
                          (suseconds_t)((stop_after % 1000000000ull) / 1000)};
    evtimer_add(stop_ev, &tvs);
    event_base_dispatch(base);
    uint64_t t_end = now_ns();

    uint64_t unfinished = (total_due - next_idx) + (fifo_tail - fifo_head);
    for (int i = 0; i < o.nconns; i++)
        if (conns[i].busy)
            unfinished++;
    errors += unfinished;

    if (o.trace) {
        FILE *f = fopen(o.trace, "w");
        if (!f)
            die("cannot write the trace file");
        for (size_t i = 0; i < nlat; i++)
            fprintf(f, "%u %u %u\n", trace_due_us[i], lat_us[i], trace_lag_us[i]);
        if (fclose(f) != 0)
            die("cannot write the trace file");
    }
    qsort(lat_us, nlat, sizeof(*lat_us), cmp_u32);
    qsort(lag_us, nlag, sizeof(*lag_us), cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < nlat; i++)
        sum += lat_us[i];
    (void)t_end;
    double span = o.duration;
    printf("{\"label\":\"%s\",\"rate\":%.0f,\"conns\":%d,\"duration_s\":%.1f,\"warmup_s\":%.1f,"
           "\"sent\":%llu,\"count\":%zu,\"errors\":%llu,\"non2xx\":%llu,\"reconnects\":%llu,"
           "\"achieved_rps\":%.0f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,"
           "\"max_us\":%u,\"mean_us\":%.1f,\"send_lag_p50_us\":%u,\"send_lag_p99_us\":%u,"
           "\"max_waiting\":%zu}\n",
           o.label, o.rate, o.nconns, o.duration, o.warmup, (unsigned long long)sent, nlat,
           (unsigned long long)errors, (unsigned long long)non2xx,
           (unsigned long long)reconnects, span > 0 ? (double)nlat / span : 0.0,
           pct(lat_us, nlat, 0.50), pct(lat_us, nlat, 0.90), pct(lat_us, nlat, 0.99),
           pct(lat_us, nlat, 0.999), nlat ? lat_us[nlat - 1] : 0, nlat ? sum / (double)nlat : 0.0,
           pct(lag_us, nlag, 0.50), pct(lag_us, nlag, 0.99), fifo_max);
    for (int i = 0; i < o.nconns; i++)
        conn_close(&conns[i]);
    event_free(tick_ev);
    event_free(stop_ev);
    event_base_free(base);
    return 0;
}
