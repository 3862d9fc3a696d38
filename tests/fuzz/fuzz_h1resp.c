/*
 * libFuzzer target: the upstream client's HTTP/1.1 response parser
 * (common/h1resp.c) on arbitrary bytes.
 *
 * Byte 0 is control, the rest is what the provider sends:
 *   bit 0     the connection closes after the input (rt_h1resp_eof);
 *   bits 1-7  the size of each read for the second run (1..128 bytes).
 * The input is parsed twice: whole, and in reads of that size with the
 * unconsumed bytes carried over as the client does. Invariants beyond "no
 * crash": both runs end the same way (outcome, error, status, framing,
 * keep-alive, body bytes, leftover); consumed counts and body spans stay
 * inside the input; one head event, before any body; DONE and ERROR are
 * final; an error has a reason; a reusable response is never close-delimited.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/h1resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    rt_h1resp_event end; /* RT_H1R_DONE, RT_H1R_ERROR, or RT_H1R_AGAIN: input ended without EOF */
    const char *error;
    int heads, status, keep_alive;
    rt_h1resp_framing framing;
    uint64_t body_hash;
    size_t body_len, leftover;
} result;

static void run(const char *in, size_t len, size_t step, int eof, result *r)
{
    rt_h1resp p;
    rt_h1resp_init(&p);
    memset(r, 0, sizeof(*r));
    r->body_hash = 1469598103934665603ull;
    char *buf = malloc(len ? len : 1);
    size_t have = 0, fed = 0;
    for (;;) {
        size_t n = (size_t)-1, blen = 0;
        const char *b = NULL;
        rt_h1resp_event ev = rt_h1resp_parse(&p, buf, have, &n, &b, &blen);
        if (n > have)
            abort();
        switch (ev) {
        case RT_H1R_HEAD:
            if (r->heads++ || p.status < 200 || p.status > 599 || p.status == 101)
                abort();
            if (p.keep_alive && (p.framing == RT_H1R_FRAME_CLOSE || p.minor_version == 0))
                abort();
            r->status = p.status;
            r->keep_alive = p.keep_alive;
            r->framing = p.framing;
            break;
        case RT_H1R_BODY:
            if (!r->heads || !blen || b < buf || b + blen > buf + n)
                abort();
            for (size_t i = 0; i < blen; i++)
                r->body_hash = (r->body_hash ^ (uint8_t)b[i]) * 1099511628211ull;
            r->body_len += blen;
            break;
        case RT_H1R_DONE:
        case RT_H1R_ERROR:
            if (ev == RT_H1R_ERROR ? !p.error : !r->heads)
                abort();
            break;
        case RT_H1R_AGAIN:
            break;
        default:
            abort();
        }
        memmove(buf, buf + n, have - n);
        have -= n;
        if (ev == RT_H1R_DONE || ev == RT_H1R_ERROR) {
            size_t n2 = 1;
            if (rt_h1resp_parse(&p, buf, have, &n2, &b, &blen) != ev || n2 != 0)
                abort();
            r->end = ev;
            r->error = p.error;
            r->leftover = have + (len - fed);
            break;
        }
        if (ev != RT_H1R_AGAIN)
            continue;
        if (fed < len) {
            size_t k = len - fed < step ? len - fed : step;
            memcpy(buf + have, in + fed, k);
            have += k;
            fed += k;
            continue;
        }
        if (have >= RT_H1R_MAX_HEAD)
            abort(); /* the head limit must have stopped it */
        r->end = eof ? rt_h1resp_eof(&p) : RT_H1R_AGAIN;
        if (r->end == RT_H1R_ERROR && !p.error)
            abort();
        r->error = p.error;
        r->leftover = have;
        break;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int eof = data[0] & 1;
    size_t step = 1 + (data[0] >> 1);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    result whole, pieces;
    run(in, len, len ? len : 1, eof, &whole);
    run(in, len, step, eof, &pieces);
    if (whole.end != pieces.end || whole.heads != pieces.heads || whole.status != pieces.status ||
        whole.keep_alive != pieces.keep_alive || whole.framing != pieces.framing ||
        whole.body_len != pieces.body_len || whole.body_hash != pieces.body_hash ||
        (whole.end == RT_H1R_DONE && whole.leftover != pieces.leftover))
        abort();
    if ((whole.error || pieces.error) &&
        (!whole.error || !pieces.error || strcmp(whole.error, pieces.error)))
        abort();
    return 0;
}
