/*
 * rt_h1resp: incremental HTTP/1.1 response parser for the router's upstream
 * client (common/h1client.c). No I/O, no allocation, no copies: the caller
 * hands over the bytes it has not consumed yet and is told how many it may
 * drop.
 *
 *     rt_h1resp p;
 *     rt_h1resp_init(&p);
 *     for (;;) {                               // after each read
 *         size_t n; const char *b; size_t blen;
 *         rt_h1resp_event ev = rt_h1resp_parse(&p, buf, len, &n, &b, &blen);
 *         buf += n, len -= n;
 *         if (ev == RT_H1R_AGAIN) break;        // read more (keep buf[0..len))
 *         ...                                   // HEAD, BODY, DONE or ERROR
 *     }
 *     // at the end of the connection: rt_h1resp_eof(&p)
 *
 * The head (status line and header fields) is parsed in place once its blank
 * line is there; until then none of it is consumed and the same bytes come
 * again with more. 1xx interim responses are consumed and skipped. The body
 * comes as spans of the input, de-chunked, framed by Content-Length,
 * `Transfer-Encoding: chunked`, or the end of the connection (HTTP/1.1
 * message body length rules, RFC 9112 section 6.3; we only send POST).
 *
 * Strict: lines end with CRLF, status and header grammar is checked, header
 * values hold no control characters, Content-Length is digits only and not
 * repeated, Content-Length with Transfer-Encoding is refused, the only
 * transfer coding accepted is chunked, the heads of a response (interim ones
 * included) take at most RT_H1R_MAX_HEAD bytes, a chunk-size line at most
 * RT_H1R_MAX_CHUNK_LINE, the trailer section at most RT_H1R_MAX_TRAILERS. Every
 * refusal is RT_H1R_ERROR with a fixed message in p->error.
 */
#ifndef SY_RT_H1RESP_H
#define SY_RT_H1RESP_H

#include <stddef.h>
#include <stdint.h>

#define RT_H1R_MAX_HEAD (64u * 1024)
#define RT_H1R_MAX_CHUNK_LINE 4096u
#define RT_H1R_MAX_TRAILERS (64u * 1024)

typedef enum {
    RT_H1R_AGAIN, /* needs more input; the bytes not consumed must be handed again */
    RT_H1R_HEAD,  /* the final response's head is parsed: status, framing, keep_alive */
    RT_H1R_BODY,  /* *body, *body_len: body bytes (inside the input, consumed) */
    RT_H1R_DONE,  /* the response is complete; input beyond *consumed is not part of it */
    RT_H1R_ERROR, /* malformed or over a limit: p->error; the connection is unusable */
} rt_h1resp_event;

typedef enum {
    RT_H1R_FRAME_LENGTH,  /* Content-Length (or no body: 204, 304) */
    RT_H1R_FRAME_CHUNKED, /* Transfer-Encoding: chunked */
    RT_H1R_FRAME_CLOSE,   /* until the connection closes */
} rt_h1resp_framing;

typedef struct rt_h1resp {
    /* valid once RT_H1R_HEAD was returned */
    int status;               /* 100..599 */
    int minor_version;        /* HTTP/1.<minor_version> */
    int keep_alive;           /* the connection may carry another request after this one */
    rt_h1resp_framing framing;
    uint64_t content_length;  /* with RT_H1R_FRAME_LENGTH */
    long retry_after_s;       /* Retry-After as delta-seconds (<= 1e9), else -1 */
    const char *error;        /* with RT_H1R_ERROR */

    /* private */
    unsigned char state, chunk_state;
    unsigned char have_status, seen_cl, seen_te, conn_close;
    size_t scan;              /* head: bytes of the current head already split into lines */
    size_t interim_bytes;     /* head bytes of the 1xx responses skipped */
    uint64_t left;            /* body or chunk bytes still to come */
    size_t line;              /* bytes of the current chunk-size line */
    size_t trailer_bytes;
} rt_h1resp;

void rt_h1resp_init(rt_h1resp *p);

/* Parse data[0..len). *consumed: how many bytes of data the caller may drop
 * (all of them except head bytes with RT_H1R_AGAIN); *body and *body_len are
 * set with RT_H1R_BODY only. After RT_H1R_DONE or RT_H1R_ERROR, further calls return
 * the same event and consume nothing. */
rt_h1resp_event rt_h1resp_parse(rt_h1resp *p, const char *data, size_t len, size_t *consumed,
                          const char **body, size_t *body_len);

/* The peer closed the connection: RT_H1R_DONE when that ends a close-delimited
 * body (or the response was already complete), else RT_H1R_ERROR (p->error). */
rt_h1resp_event rt_h1resp_eof(rt_h1resp *p);

#endif
