/* The upstream client's HTTP/1.1 response parser (common/h1resp.c): every case of
 * the table is fed whole, one byte at a time, and split in two at every offset;
 * each way must give exactly the same events, body, leftover and error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/h1resp.h"

/* What a run over one input produced. */
typedef struct {
    const char *outcome; /* "done", "error" or "incomplete" (input ended, no EOF) */
    const char *error;
    int heads;           /* RT_H1R_HEAD events */
    int status, minor, keep_alive;
    rt_h1resp_framing framing;
    char body[4096];
    size_t body_len;
    size_t leftover;     /* input bytes after the end of the response */
} outcome;

/* Feed data in pieces: cuts[] are the offsets where a new read starts
 * (ncuts of them), then EOF if eof. The parser sees, like the client's read
 * buffer, everything it has not consumed. */
static void run(const char *data, size_t len, const size_t *cuts, int ncuts, int eof,
                outcome *o)
{
    rt_h1resp p;
    rt_h1resp_init(&p);
    memset(o, 0, sizeof(*o));
    char *buf = malloc(len + 1);
    size_t have = 0, fed = 0;
    int next_cut = 0;
    for (;;) {
        size_t n = 0, blen = 0;
        const char *b = NULL;
        rt_h1resp_event ev = rt_h1resp_parse(&p, buf, have, &n, &b, &blen);
        assert_true(n <= have);
        if (ev == RT_H1R_BODY) {
            assert_true(b >= buf && b + blen <= buf + n);
            assert_true(o->body_len + blen <= sizeof(o->body));
            memcpy(o->body + o->body_len, b, blen);
            o->body_len += blen;
        }
        memmove(buf, buf + n, have - n);
        have -= n;
        if (ev == RT_H1R_HEAD) {
            o->heads++;
            o->status = p.status;
            o->minor = p.minor_version;
            o->keep_alive = p.keep_alive;
            o->framing = p.framing;
            continue;
        }
        if (ev == RT_H1R_BODY)
            continue;
        if (ev == RT_H1R_DONE || ev == RT_H1R_ERROR) {
            o->outcome = ev == RT_H1R_DONE ? "done" : "error";
            o->error = p.error;
            o->leftover = have + (len - fed);
            /* and it stays there */
            assert_int_equal(rt_h1resp_parse(&p, buf, have, &n, &b, &blen), ev);
            assert_int_equal(n, 0);
            break;
        }
        assert_int_equal(ev, RT_H1R_AGAIN);
        if (fed < len) {
            size_t upto = next_cut < ncuts ? cuts[next_cut++] : len;
            if (upto > len)
                upto = len;
            memcpy(buf + have, data + fed, upto - fed);
            have += upto - fed;
            fed = upto;
            continue;
        }
        if (!eof) {
            o->outcome = "incomplete";
            break;
        }
        ev = rt_h1resp_eof(&p);
        o->outcome = ev == RT_H1R_DONE ? "done" : "error";
        o->error = p.error;
        o->leftover = have;
        break;
    }
    free(buf);
}

typedef struct {
    const char *name;
    const char *in;
    size_t in_len;
    int eof;             /* the connection closes after the input */
    const char *outcome;
    const char *error;   /* with "error" */
    int status, minor, keep_alive;
    rt_h1resp_framing framing;
    const char *body;
    size_t body_len;
    size_t leftover;
} h1case;

#define IN(s) s, sizeof(s) - 1
#define BODY(s) s, sizeof(s) - 1
#define OK(st, minor, ka, fr, body) "done", NULL, st, minor, ka, fr, BODY(body)
#define ERR(msg) "error", msg, 0, 0, 0, 0, BODY("")
/* errors after the head: the head's values stay */
#define ERR_AFTER(msg, st, ka, fr, body) "error", msg, st, 1, ka, fr, BODY(body)
#define LEN RT_H1R_FRAME_LENGTH
#define CHUNKED RT_H1R_FRAME_CHUNKED
#define CLOSE RT_H1R_FRAME_CLOSE

static const h1case cases[] = {
    /* ---- framing ---- */
    {"content-length", IN("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5"
                          "\r\n\r\nhello"), 0, OK(200, 1, 1, LEN, "hello"), 0},
    {"content-length zero", IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0,
     OK(200, 1, 1, LEN, ""), 0},
    {"content-length with ows", IN("HTTP/1.1 200 OK\r\ncontent-length:\t 3 \t\r\n\r\nabc"), 0,
     OK(200, 1, 1, LEN, "abc"), 0},
    {"bytes after the response are left", IN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
     0, OK(200, 1, 1, LEN, "ok"), 5},
    {"no reason phrase", IN("HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx"), 0,
     OK(404, 1, 1, LEN, "x"), 0},
    {"empty reason phrase", IN("HTTP/1.1 500 \r\nContent-Length: 1\r\n\r\nx"), 0,
     OK(500, 1, 1, LEN, "x"), 0},
    {"reason with tab and obs-text", IN("HTTP/1.1 200 O\tK \xe9\r\nContent-Length: 0\r\n\r\n"), 0,
     OK(200, 1, 1, LEN, ""), 0},
    {"chunked", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"), 0,
     OK(200, 1, 1, CHUNKED, "hello, world"), 0},
    {"chunked with extensions and trailers",
     IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
        "5;name=value\r\nhello\r\nA ; q=\"a b\";x\r\n, world!!!\r\n000\r\n"
        "X-Trailer: 1\r\nX-Other:\ttwo\r\n\r\n"), 0,
     OK(200, 1, 1, CHUNKED, "hello, world!!!"), 0},
    {"chunked hex sizes", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "0a\r\n0123456789\r\n1F\r\nabcdefghijklmnopqrstuvwxyz01234\r\n0\r\n\r\nNEXT"),
     0, OK(200, 1, 1, CHUNKED, "0123456789abcdefghijklmnopqrstuvwxyz01234"), 4},
    {"interim responses are skipped",
     IN("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n"
        "Content-Length: 9\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"), 0,
     OK(201, 1, 1, LEN, "ok"), 0},
    {"close-delimited", IN("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\r\n"), 1,
     OK(200, 1, 0, CLOSE, "all of it\r\n"), 0},
    {"close-delimited, empty", IN("HTTP/1.1 200 OK\r\n\r\n"), 1, OK(200, 1, 0, CLOSE, ""), 0},
    {"connection: close", IN("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
     0, OK(200, 1, 0, LEN, "ok"), 0},
    {"connection options list", IN("HTTP/1.1 200 OK\r\nConnection: keep-alive , CLOSE\r\n"
                                   "Content-Length: 2\r\n\r\nok"), 0, OK(200, 1, 0, LEN, "ok"), 0},
    {"connection: keep-alive", IN("HTTP/1.1 200 OK\r\nConnection: keep-alive, closer\r\n"
                                  "Content-Length: 2\r\n\r\nok"), 0, OK(200, 1, 1, LEN, "ok"), 0},
    {"http/1.0 is not reused", IN("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
                                  "Connection: keep-alive\r\n\r\nok"), 0, OK(200, 0, 0, LEN, "ok"), 0},
    {"http/1.0 close-delimited", IN("HTTP/1.0 200 OK\r\n\r\nbody"), 1, OK(200, 0, 0, CLOSE, "body"), 0},
    {"later http/1.x minor is 1.1", IN("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"), 0,
     OK(200, 2, 1, LEN, ""), 0},
    {"204 has no body", IN("HTTP/1.1 204 No Content\r\n\r\nHTTP"), 0, OK(204, 1, 1, LEN, ""), 4},
    {"304 has no body", IN("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"), 0,
     OK(304, 1, 1, LEN, ""), 0},
    {"largest content-length", IN("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nab"),
     0, "incomplete", NULL, 200, 1, 1, LEN, BODY("ab"), 0},
    {"largest chunk size", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "FFFFFFFFFFFFFFFF\r\nab"), 0,
     "incomplete", NULL, 200, 1, 1, CHUNKED, BODY("ab"), 0},
    {"head not complete", IN("HTTP/1.1 200 OK\r\nContent-Len"), 0, "incomplete", NULL, 0, 0, 0, 0,
     BODY(""), 0},

    /* ---- malformed: the exact reason ---- */
    {"empty status line", IN("\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"not http", IN("HTTX/1.1 200 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"two-digit status", IN("HTTP/1.1 20 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"four-digit status", IN("HTTP/1.1 2000 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"status 600", IN("HTTP/1.1 600 X\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"status 099", IN("HTTP/1.1 099 X\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"two spaces", IN("HTTP/1.1  200 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"no space", IN("HTTP/1.1200 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"control in reason", IN("HTTP/1.1 200 O\x01K\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"nul in reason", IN("HTTP/1.1 200 O\0K\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"http/2", IN("HTTP/2.0 200 OK\r\n\r\n"), 0, ERR("unsupported HTTP version"), 0},
    {"http/0.9", IN("HTTP/0.9 200 OK\r\n\r\n"), 0, ERR("unsupported HTTP version"), 0},
    {"http/2 without minor", IN("HTTP/2 200 OK\r\n\r\n"), 0, ERR("malformed status line"), 0},
    {"bare LF head", IN("HTTP/1.1 200 OK\nContent-Length: 0\n\n"), 0,
     ERR("bare LF in response head"), 0},
    {"bare LF blank line", IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"), 0,
     ERR("bare LF in response head"), 0},
    {"bare CR in value", IN("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n"), 0,
     ERR("control character in header value"), 0},
    {"header without colon", IN("HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n"), 0,
     ERR("malformed header line"), 0},
    {"space before colon", IN("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n"), 0,
     ERR("malformed header line"), 0},
    {"empty header name", IN("HTTP/1.1 200 OK\r\n: x\r\n\r\n"), 0, ERR("malformed header line"), 0},
    {"line folding", IN("HTTP/1.1 200 OK\r\nX-A: a\r\n  b\r\n\r\n"), 0,
     ERR("obsolete line folding in header"), 0},
    {"nul in header value", IN("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n"), 0,
     ERR("NUL byte in header"), 0},
    {"nul in header name", IN("HTTP/1.1 200 OK\r\nX-\0A: ab\r\n\r\n"), 0, ERR("NUL byte in header"), 0},
    {"control in header value", IN("HTTP/1.1 200 OK\r\nX-A: a\x7f\r\n\r\n"), 0,
     ERR("control character in header value"), 0},
    {"content-length not a number", IN("HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n"), 0,
     ERR("invalid Content-Length"), 0},
    {"content-length signed", IN("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"), 0,
     ERR("invalid Content-Length"), 0},
    {"content-length negative", IN("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), 0,
     ERR("invalid Content-Length"), 0},
    {"content-length empty", IN("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"), 0,
     ERR("invalid Content-Length"), 0},
    {"content-length list", IN("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"), 0,
     ERR("invalid Content-Length"), 0},
    {"content-length overflow", IN("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"),
     0, ERR("Content-Length too large"), 0},
    {"content-length overflow, long", IN("HTTP/1.1 200 OK\r\nContent-Length: "
                                         "99999999999999999999999999\r\n\r\n"), 0,
     ERR("Content-Length too large"), 0},
    {"two different content-lengths", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                         "Content-Length: 6\r\n\r\nhello!"), 0,
     ERR("conflicting Content-Length headers"), 0},
    {"content-length twice", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"
                                "hello"), 0, ERR("duplicate Content-Length header"), 0},
    {"content-length and chunked", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 0,
     ERR("both Content-Length and Transfer-Encoding"), 0},
    {"chunked and content-length", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                      "Content-Length: 5\r\n\r\n"), 0,
     ERR("both Content-Length and Transfer-Encoding"), 0},
    {"gzip coding", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 0,
     ERR("unsupported Transfer-Encoding"), 0},
    {"identity coding", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n"), 0,
     ERR("unsupported Transfer-Encoding"), 0},
    {"chunked twice", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"), 0,
     ERR("unsupported Transfer-Encoding"), 0},
    {"101", IN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"), 0,
     ERR("unexpected 101 Switching Protocols"), 0},
    {"bad interim head", IN("HTTP/1.1 100 Continue\r\nX\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), 0,
     ERR("malformed header line"), 0},
    {"bad chunk size", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 0,
     ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"empty chunk size", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n"), 0,
     ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"chunk size then junk", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello"),
     0, ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"negative chunk size", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n"), 0,
     ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"chunk size bare LF", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello"), 0,
     ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"chunk size CR without LF", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello"),
     0, ERR_AFTER("malformed chunk size", 200, 1, CHUNKED, ""), 0},
    {"chunk size overflow", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "10000000000000000\r\n"), 0,
     ERR_AFTER("chunk size too large", 200, 1, CHUNKED, ""), 0},
    {"control in chunk extension", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "5;a\x01\r\nhello\r\n"), 0,
     ERR_AFTER("malformed chunk extension", 200, 1, CHUNKED, ""), 0},
    {"chunk data too long", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n"),
     0, ERR_AFTER("missing CRLF after chunk data", 200, 1, CHUNKED, "hello"), 0},
    {"chunk data CR without LF", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r0\r\n\r\n"), 0,
     ERR_AFTER("missing CRLF after chunk data", 200, 1, CHUNKED, "hello"), 0},
    {"trailer with control", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "0\r\nX: \x01\r\n\r\n"), 0,
     ERR_AFTER("malformed trailer", 200, 1, CHUNKED, ""), 0},
    {"trailer bare LF", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n"), 0,
     ERR_AFTER("malformed trailer", 200, 1, CHUNKED, ""), 0},
    {"final CRLF broken", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX"), 0,
     ERR_AFTER("malformed trailer", 200, 1, CHUNKED, ""), 0},

    /* ---- the connection closes early ---- */
    {"eof before anything", IN(""), 1, ERR("connection closed in the response head"), 0},
    {"eof in the head", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), 1,
     ERR("connection closed in the response head"), 0},
    {"eof in a length body", IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"), 1,
     ERR_AFTER("connection closed before the end of the body", 200, 1, LEN, "hel"), 0},
    {"eof in a chunk", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"), 1,
     ERR_AFTER("connection closed before the end of the body", 200, 1, CHUNKED, "hel"), 0},
    {"eof before the last chunk", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "5\r\nhello\r\n"), 1,
     ERR_AFTER("connection closed before the end of the body", 200, 1, CHUNKED, "hello"), 0},
    {"eof in the trailers", IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n"),
     1, ERR_AFTER("connection closed before the end of the body", 200, 1, CHUNKED, ""), 0},
};

static void expect(const h1case *c, const outcome *o, const char *how)
{
    if (strcmp(o->outcome, c->outcome))
        fail_msg("%s (%s): outcome %s (%s), want %s", c->name, how, o->outcome,
                 o->error ? o->error : "-", c->outcome);
    if (c->error || o->error) {
        if (!c->error || !o->error || strcmp(c->error, o->error))
            fail_msg("%s (%s): error \"%s\", want \"%s\"", c->name, how, o->error ? o->error : "(none)",
                     c->error ? c->error : "(none)");
    }
    if (o->status != c->status || (c->status && (o->minor != c->minor ||
                                                 o->keep_alive != c->keep_alive ||
                                                 o->framing != c->framing)))
        fail_msg("%s (%s): status %d minor %d keep_alive %d framing %d, want %d %d %d %d", c->name,
                 how, o->status, o->minor, o->keep_alive, (int)o->framing, c->status, c->minor,
                 c->keep_alive, (int)c->framing);
    if (o->heads != (c->status ? 1 : 0))
        fail_msg("%s (%s): %d head events", c->name, how, o->heads);
    if (o->body_len != c->body_len || memcmp(o->body, c->body, c->body_len))
        fail_msg("%s (%s): body \"%.*s\", want \"%.*s\"", c->name, how, (int)o->body_len, o->body,
                 (int)c->body_len, c->body);
    if (!strcmp(c->outcome, "done") && o->leftover != c->leftover)
        fail_msg("%s (%s): leftover %zu, want %zu", c->name, how, o->leftover, c->leftover);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const h1case *c = &cases[i];
        outcome o;
        run(c->in, c->in_len, NULL, 0, c->eof, &o);
        expect(c, &o, "whole");

        /* one byte at a time */
        size_t *cuts = malloc((c->in_len + 1) * sizeof(*cuts));
        for (size_t k = 0; k < c->in_len; k++)
            cuts[k] = k + 1;
        run(c->in, c->in_len, cuts, (int)c->in_len, c->eof, &o);
        expect(c, &o, "byte by byte");
        free(cuts);

        /* two reads, split at every offset */
        for (size_t k = 0; k <= c->in_len; k++) {
            char how[32];
            snprintf(how, sizeof(how), "split at %zu", k);
            run(c->in, c->in_len, &k, 1, c->eof, &o);
            expect(c, &o, how);
        }
    }
}

/* The head limit: heads (interim ones included) of exactly RT_H1R_MAX_HEAD bytes
 * pass, one byte more does not, whether or not the blank line has arrived. */
static char *head_of(size_t size, const char *interim, const char *tail, size_t *len)
{
    const char *pre = "HTTP/1.1 200 OK\r\nX-Pad: ";
    const char *post = "\r\nContent-Length: 2\r\n\r\n";
    size_t fixed = strlen(interim) + strlen(pre) + strlen(post);
    assert_true(size > fixed);
    size_t pad = size - fixed;
    *len = size + strlen(tail);
    char *s = malloc(*len + 1);
    char *w = s;
    w += sprintf(w, "%s%s", interim, pre);
    memset(w, 'a', pad);
    w += pad;
    sprintf(w, "%s%s", post, tail);
    return s;
}

static void test_head_limit(void **state)
{
    (void)state;
    static const char *const interims[] = {"", "HTTP/1.1 100 Continue\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        outcome o;
        char *s = head_of(RT_H1R_MAX_HEAD, interims[i], "ok", &len);
        run(s, len, NULL, 0, 0, &o);
        assert_string_equal(o.outcome, "done");
        assert_int_equal(o.status, 200);
        assert_int_equal(o.body_len, 2);
        size_t cut = 4096;
        run(s, len, &cut, 1, 0, &o);
        assert_string_equal(o.outcome, "done");
        free(s);

        s = head_of(RT_H1R_MAX_HEAD + 1, interims[i], "ok", &len);
        run(s, len, NULL, 0, 0, &o);
        assert_string_equal(o.outcome, "error");
        assert_string_equal(o.error, "response head too large");
        /* without its end: refused as soon as 64 KiB are there */
        run(s, RT_H1R_MAX_HEAD, NULL, 0, 0, &o);
        assert_string_equal(o.outcome, "error");
        assert_string_equal(o.error, "response head too large");
        run(s, RT_H1R_MAX_HEAD - 1, NULL, 0, 0, &o);
        assert_string_equal(o.outcome, "incomplete");
        free(s);
    }
}

static void test_chunk_line_and_trailer_limits(void **state)
{
    (void)state;
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t hl = strlen(head);
    char *s = malloc(hl + 2 * RT_H1R_MAX_TRAILERS);
    outcome o;

    /* a chunk-size line of exactly RT_H1R_MAX_CHUNK_LINE bytes (CRLF included) passes */
    memcpy(s, head, hl);
    size_t n = hl;
    s[n++] = '2';
    s[n++] = ';';
    memset(s + n, 'e', RT_H1R_MAX_CHUNK_LINE - 4);
    n += RT_H1R_MAX_CHUNK_LINE - 4;
    memcpy(s + n, "\r\nok\r\n0\r\n\r\n", 11);
    run(s, n + 11, NULL, 0, 0, &o);
    assert_string_equal(o.outcome, "done");
    assert_int_equal(o.body_len, 2);
    /* one more byte does not */
    memset(s + hl + 2, 'e', RT_H1R_MAX_CHUNK_LINE - 3);
    n = hl + 2 + RT_H1R_MAX_CHUNK_LINE - 3;
    memcpy(s + n, "\r\nok\r\n0\r\n\r\n", 11);
    run(s, n + 11, NULL, 0, 0, &o);
    assert_string_equal(o.outcome, "error");
    assert_string_equal(o.error, "chunk size line too long");
    /* leading zeros count against the line as well */
    memset(s + hl, '0', RT_H1R_MAX_CHUNK_LINE + 10);
    run(s, hl + RT_H1R_MAX_CHUNK_LINE + 10, NULL, 0, 0, &o);
    assert_string_equal(o.error, "chunk size line too long");

    /* trailers: RT_H1R_MAX_TRAILERS bytes including the final CRLF pass */
    memcpy(s + hl, "0\r\n", 3);
    n = hl + 3;
    size_t room = RT_H1R_MAX_TRAILERS - 2;
    while (room) {
        size_t line = room > 1000 ? 1000 : room;
        if (room - line < 6 && room - line > 0)
            line = room - 6; /* keep the last line long enough to be one */
        memcpy(s + n, "X: ", 3);
        memset(s + n + 3, 'v', line - 5);
        memcpy(s + n + line - 2, "\r\n", 2);
        n += line;
        room -= line;
    }
    memcpy(s + n, "\r\n", 2);
    run(s, n + 2, NULL, 0, 0, &o);
    assert_string_equal(o.outcome, "done");
    assert_int_equal(o.leftover, 0);
    s[n] = 'Y'; /* another trailer line: over the limit */
    memcpy(s + n + 1, "\r\n\r\n", 4);
    run(s, n + 5, NULL, 0, 0, &o);
    assert_string_equal(o.outcome, "error");
    assert_string_equal(o.error, "trailers too large");
    free(s);
}

/* Body spans point into the input: nothing is copied. */
static void test_spans_are_in_place(void **state)
{
    (void)state;
    const char in[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    rt_h1resp p;
    rt_h1resp_init(&p);
    size_t n;
    const char *b = NULL;
    size_t blen = 0;
    assert_int_equal(rt_h1resp_parse(&p, in, sizeof(in) - 1, &n, &b, &blen), RT_H1R_HEAD);
    assert_int_equal(n, strlen("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    size_t off = n;
    assert_int_equal(rt_h1resp_parse(&p, in + off, sizeof(in) - 1 - off, &n, &b, &blen), RT_H1R_BODY);
    assert_ptr_equal(b, in + off + 3);
    assert_int_equal(blen, 3);
    off += n;
    assert_int_equal(rt_h1resp_parse(&p, in + off, sizeof(in) - 1 - off, &n, &b, &blen), RT_H1R_DONE);
    assert_int_equal(off + n, sizeof(in) - 1);
    assert_int_equal(rt_h1resp_eof(&p), RT_H1R_DONE);
}

/* Retry-After: delta-seconds kept, anything else (an HTTP-date, junk) is -1. */
static void test_retry_after(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        long want;
    } ra[] = {
        {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 7},
        {"HTTP/1.1 429 X\r\nretry-after:  0 \r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 503 X\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
         "Content-Length: 0\r\n\r\n", -1},
        {"HTTP/1.1 429 X\r\nRetry-After: 1234567890\r\nContent-Length: 0\r\n\r\n", -1},
        {"HTTP/1.1 429 X\r\nRetry-After: -1\r\nContent-Length: 0\r\n\r\n", -1},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", -1},
        /* an interim response's header is not the final one's */
        {"HTTP/1.1 103 Early Hints\r\nRetry-After: 9\r\n\r\nHTTP/1.1 200 OK\r\n"
         "Content-Length: 0\r\n\r\n", -1},
    };
    for (size_t i = 0; i < sizeof(ra) / sizeof(ra[0]); i++) {
        rt_h1resp p;
        rt_h1resp_init(&p);
        size_t n;
        const char *b = NULL;
        size_t blen = 0;
        assert_int_equal(rt_h1resp_parse(&p, ra[i].head, strlen(ra[i].head), &n, &b, &blen),
                         RT_H1R_HEAD);
        if (p.retry_after_s != ra[i].want)
            fail_msg("case %zu: Retry-After %ld, want %ld", i, p.retry_after_s, ra[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_chunk_line_and_trailer_limits),
        cmocka_unit_test(test_spans_are_in_place),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
