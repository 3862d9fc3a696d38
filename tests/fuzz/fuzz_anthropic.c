/*
 * libFuzzer target: the Anthropic <-> OpenAI translation (wire/anthropic.h) on
 * arbitrary bytes: everything in it that reads outside input.
 *
 * Byte 0 mod 6 picks the path; the rest is the input:
 *   0  a client's /v1/messages body: wa_req_anthropic_to_openai, then the result
 *      back through wa_req_openai_to_anthropic
 *   1  a client's chat.completions body: wa_req_openai_to_anthropic
 *   2  a provider's Anthropic answer or error: wa_resp_anthropic_to_openai,
 *      wa_error_anthropic_to_openai
 *   3  a provider's OpenAI answer or error: wa_resp_openai_to_anthropic,
 *      wa_error_openai_to_anthropic
 *   4  an Anthropic SSE stream (blocks split at "\n\n"): wa_stream_a2o, its output
 *      fed on to wa_stream_o2a
 *   5  an OpenAI SSE stream: wa_stream_o2a
 * Invariants beyond "no crash, no leak": a refusal has a message that is valid UTF-8
 * (and inbound, status 400 with invalid_request_error); a success has an object; every event a stream
 * writes is framed ("data: " or "event: X\ndata: ", ending in a blank line) and its
 * data is JSON (or [DONE]); nothing is written after the end; the usage counts stay
 * within 0..WA_TOKENS_MAX.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire/anthropic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_usage(const wa_usage *u)
{
    const long long v[] = {u->input_tokens, u->cache_read_tokens, u->cache_write_tokens,
                           u->output_tokens};
    for (int i = 0; i < 4; i++)
        if (v[i] < 0 || v[i] > WA_TOKENS_MAX)
            abort();
}

/* every event in buf[from..len) is framed and carries JSON; named: "event: " lines */
static void check_sse(const wa_buf *b, size_t from, int named)
{
    if (b->len == from)
        return; /* nothing written (data may still be NULL) */
    const char *p = b->data + from, *lim = b->data + b->len;
    while (p < lim) {
        const char *end = memmem(p, (size_t)(lim - p), "\n\n", 2);
        if (!end)
            abort();
        if (named) {
            if (strncmp(p, "event: ", 7))
                abort();
            p = memchr(p, '\n', (size_t)(end - p));
            if (!p)
                abort();
            p++;
        }
        if (end - p < 6 || memcmp(p, "data: ", 6))
            abort();
        p += 6;
        if (!(end - p == 6 && !memcmp(p, "[DONE]", 6))) {
            json_t *v = json_loadb(p, (size_t)(end - p), 0, NULL);
            if (!json_is_object(v))
                abort();
            json_decref(v);
        }
        p = end + 2;
    }
}

/* a refusal's message must fit in a JSON string: valid UTF-8 */
static void check_message(const char *err)
{
    json_t *s = err && err[0] ? json_string(err) : NULL;
    if (err && err[0] && !s)
        abort();
    json_decref(s);
}

static void requests(const char *in, size_t len, int inbound)
{
    json_t *req = json_loadb(in, len, 0, NULL), *out = NULL, *back = NULL;
    char err[256] = ""; /* set only by a refusal */
    if (!req)
        return;
    if (inbound) {
        wa_error e = {0};
        if (wa_req_anthropic_to_openai(req, &out, &e) == 0) {
            if (!json_is_object(out) || !json_is_array(json_object_get(out, "messages")))
                abort();
            err[0] = '\0';
            if (wa_req_openai_to_anthropic(out, "m", &back, err, sizeof(err)) != 0 && !err[0])
                abort();
        } else if (out || e.status != 400 || strcmp(e.type, "invalid_request_error") ||
                   !e.message[0]) {
            abort();
        } else {
            json_t *body = wa_error_body(&e); /* NULL if the message is not UTF-8 */
            if (!body)
                abort();
            json_decref(body);
        }
    } else {
        err[0] = '\0';
        if (wa_req_openai_to_anthropic(req, "m", &out, err, sizeof(err)) == 0) {
            if (!json_is_array(json_object_get(out, "messages")) ||
                !json_is_integer(json_object_get(out, "max_tokens")))
                abort();
        } else if (out || !err[0]) {
            abort();
        }
    }
    check_message(err);
    json_decref(back);
    json_decref(out);
    json_decref(req);
}

static void answers(const char *in, size_t len, int anthropic)
{
    json_t *out = NULL;
    char err[256] = "";
    wa_usage u = {0};
    int rc = anthropic ? wa_resp_anthropic_to_openai(in, len, 1, &out, &u, err, sizeof(err))
                       : wa_resp_openai_to_anthropic(in, len, &out, &u, err, sizeof(err));
    if (rc == 0 ? !json_is_object(out) : (out != NULL || !err[0]))
        abort();
    if (rc)
        check_message(err);
    check_usage(&u);
    json_decref(out);
    out = NULL;
    rc = anthropic ? wa_error_anthropic_to_openai(in, len, 500, &out)
                   : wa_error_openai_to_anthropic(in, len, 500, &out);
    if (rc || !json_is_object(out))
        abort();
    json_decref(out);
}

static void streams(const char *in, size_t len, int anthropic)
{
    wa_stream_a2o a;
    wa_stream_o2a o;
    wa_buf mid = {0}, out = {0};
    wa_stream_a2o_init(&a, 1, len & 1);
    wa_stream_o2a_init(&o);
    const char *p = in, *lim = in + len;
    while (p <= lim) {
        const char *end = memmem(p, (size_t)(lim - p), "\n\n", 2);
        size_t n = end ? (size_t)(end - p) : (size_t)(lim - p);
        if (anthropic) {
            size_t from = mid.len;
            int was_done = a.finished || a.failed;
            if (wa_stream_a2o_event(&a, p, n, &mid))
                break;
            if (was_done && mid.len != from)
                abort();
            check_sse(&mid, from, 0);
            /* and on to the other direction, event by event */
            const char *q = mid.data ? mid.data + from : NULL;
            const char *qlim = mid.data ? mid.data + mid.len : NULL;
            const char *qe;
            while (q < qlim && (qe = memmem(q, (size_t)(qlim - q), "\n\n", 2))) {
                size_t ofrom = out.len;
                if (wa_stream_o2a_event(&o, q, (size_t)(qe - q), &out))
                    break;
                check_sse(&out, ofrom, 1);
                q = qe + 2;
            }
            check_usage(&a.usage);
        } else {
            size_t from = out.len;
            int was_done = o.finished || o.failed;
            if (wa_stream_o2a_event(&o, p, n, &out))
                break;
            if (was_done && out.len != from)
                abort();
            check_sse(&out, from, 1);
        }
        check_usage(&o.usage);
        if (!end)
            break;
        p = end + 2;
        /* keep the output bounded as the router does: it sends and empties it */
        if (out.len > (1u << 20))
            out.len = 0;
        if (mid.len > (1u << 20))
            mid.len = 0;
    }
    wa_buf_free(&mid);
    wa_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 6) {
    case 0: requests(in, len, 1); break;
    case 1: requests(in, len, 0); break;
    case 2: answers(in, len, 1); break;
    case 3: answers(in, len, 0); break;
    case 4: streams(in, len, 1); break;
    default: streams(in, len, 0); break;
    }
    return 0;
}
