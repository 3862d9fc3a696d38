#include "sim/sim_wire.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(sim_buf *b, size_t extra)
{
    size_t cap;
    char *nd;
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1)
        cap *= 2;
    nd = realloc(b->data, cap);
    if (!nd) {
        b->failed = 1;
        return -1;
    }
    b->data = nd;
    b->cap = cap;
    return 0;
}

void sim_buf_reset(sim_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sim_buf_free(sim_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void sim_buf_append(sim_buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sim_buf_puts(sim_buf *b, const char *s)
{
    sim_buf_append(b, s, strlen(s));
}

void sim_buf_printf(sim_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (reserve(b, 128))
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (reserve(b, (size_t)n))
            return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 if it is not one
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF); n bytes remain. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    size_t want;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        want = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        want = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        want = 4;
    else
        return 0;
    if (n < want)
        return 0;
    if (want == 3) {
        unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
        if (p[1] < lo || p[1] > hi)
            return 0;
    } else if (want == 4) {
        unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
        if (p[1] < lo || p[1] > hi)
            return 0;
    }
    for (size_t i = 1; i < want; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return want;
}

void sim_buf_json_escape(sim_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *run = p;
        size_t k;
        /* copy plain runs at once */
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            sim_buf_append(b, (const char *)run, (size_t)(p - run));
        if (p >= end)
            break;
        k = utf8_seq_len(p, (size_t)(end - p));
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sim_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            sim_buf_printf(b, "\\u%04x", *p);
        } else if (k == 0) {
            sim_buf_append(b, "\\ufffd", 6);
        } else {
            sim_buf_append(b, (const char *)p, k);
        }
        p += k ? k : 1;
    }
}

static void content_tokens(sim_buf *b, const sim_chat_plan *plan, int from, int to)
{
    char tok[40];
    for (int i = from; i < to; i++) {
        size_t n = sim_chat_token_text(plan->content_seed, i, tok);
        sim_buf_append(b, tok, n);
    }
}

static void usage(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    sim_buf_printf(b,
                   "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,"
                   "\"total_tokens\":%d",
                   plan->prompt_tokens, plan->completion_tokens,
                   plan->prompt_tokens + plan->completion_tokens);
    if (meta->model->cache_hit_rate > 0)
        sim_buf_printf(b, ",\"prompt_tokens_details\":{\"cached_tokens\":%d}",
                       plan->cached_tokens);
    sim_buf_puts(b, "}");
}

void sim_wire_completion(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    sim_buf_printf(b,
                   "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,"
                   "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                   "\"assistant\",\"content\":",
                   meta->id, meta->created, meta->model->id);
    if (plan->tool_call) {
        sim_buf_printf(b,
                       "null,\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\","
                       "\"function\":{\"name\":\"%s\",\"arguments\":\"",
                       meta->tool_id, plan->tool_name);
        sim_buf_json_escape(b, plan->tool_args, plan->tool_args_len);
        sim_buf_puts(b, "\"}}]");
    } else {
        sim_buf_puts(b, "\"");
        content_tokens(b, plan, 0, plan->completion_tokens);
        sim_buf_puts(b, "\"");
    }
    sim_buf_printf(b, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                   sim_chat_finish_reason(plan));
    usage(b, meta, plan);
    sim_buf_printf(b, ",\"system_fingerprint\":\"%s\"}", meta->model->fingerprint);
}

void sim_wire_meta_prepare(sim_wire_meta *meta)
{
    /* fits: id < 40, model id < 64, fingerprint < 24, created < 21 digits */
    int n = snprintf(meta->chunk_head, sizeof(meta->chunk_head),
                     "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":"
                     "%lld,\"model\":\"%s\",\"system_fingerprint\":\"%s\",\"choices\":[",
                     meta->id, meta->created, meta->model->id, meta->model->fingerprint);
    meta->chunk_head_len = n < 0 ? 0 : (size_t)n;
}

static void chunk_open(sim_buf *b, const sim_wire_meta *meta)
{
    sim_buf_append(b, meta->chunk_head, meta->chunk_head_len);
}

static void chunk_close(sim_buf *b, const sim_wire_meta *meta)
{
    sim_buf_puts(b, meta->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n");
}

void sim_wire_chunk_role(sim_buf *b, const sim_wire_meta *meta)
{
    chunk_open(b, meta);
    sim_buf_puts(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                    "\"logprobs\":null,\"finish_reason\":null}");
    chunk_close(b, meta);
}

void sim_wire_chunk_content(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan,
                            int from, int to)
{
    chunk_open(b, meta);
    sim_buf_puts(b, "{\"index\":0,\"delta\":{\"content\":\"");
    content_tokens(b, plan, from, to);
    sim_buf_puts(b, "\"},\"logprobs\":null,\"finish_reason\":null}");
    chunk_close(b, meta);
}

void sim_wire_chunk_tool_start(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    chunk_open(b, meta);
    sim_buf_printf(b,
                   "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
                   "\"tool_calls\":[{\"index\":0,\"id\":\"%s\",\"type\":\"function\","
                   "\"function\":{\"name\":\"%s\",\"arguments\":\"\"}}]},\"logprobs\":null,"
                   "\"finish_reason\":null}",
                   meta->tool_id, plan->tool_name);
    chunk_close(b, meta);
}

void sim_wire_chunk_tool_args(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan,
                              size_t off, size_t len)
{
    chunk_open(b, meta);
    sim_buf_puts(b, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                    "{\"arguments\":\"");
    sim_buf_json_escape(b, plan->tool_args + off, len);
    sim_buf_puts(b, "\"}}]},\"logprobs\":null,\"finish_reason\":null}");
    chunk_close(b, meta);
}

void sim_wire_chunk_finish(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    chunk_open(b, meta);
    sim_buf_printf(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}",
                   sim_chat_finish_reason(plan));
    chunk_close(b, meta);
}

void sim_wire_chunk_usage(sim_buf *b, const sim_wire_meta *meta, const sim_chat_plan *plan)
{
    chunk_open(b, meta);
    sim_buf_puts(b, "],");
    usage(b, meta, plan);
    sim_buf_puts(b, "}\n\n");
}

void sim_wire_done(sim_buf *b)
{
    sim_buf_puts(b, "data: [DONE]\n\n");
}

static json_t *model_json(const sim_model *m, long long created)
{
    json_t *quality = json_object(), *sw, *obj;
    for (int t = 0; t < SIM_TASK_COUNT; t++)
        json_object_set_new(quality, sim_task_str((enum sim_task)t),
                            json_pack("{s:f,s:f}", "thumbs_down", m->quality[t].thumbs_down,
                                      "rating", m->quality[t].rating));
    sw = json_pack("{s:s,s:s,s:f,s:f,s:f,s:f,s:{s:f,s:f,s:f},s:f,s:i,s:{s:i,s:i},s:f,s:o}",
                   "tier", m->tier, "wire", sim_api_str(m->wire), "input_usd_per_mtok",
                   m->input_usd_per_mtok, "output_usd_per_mtok", m->output_usd_per_mtok,
                   "cached_input_usd_per_mtok", m->cached_input_usd_per_mtok, "cache_hit_rate",
                   m->cache_hit_rate, "latency_ms", "median", m->latency_median_ms, "p95",
                   m->latency_p95_ms, "max", m->latency_max_ms, "tokens_per_second",
                   m->tokens_per_second, "tokens_per_chunk", m->tokens_per_chunk,
                   "completion_tokens", "min", m->completion_min, "max", m->completion_max,
                   "error_rate", m->error_rate, "quality", quality);
    if (!sw)
        return NULL;
    obj = json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", m->id, "object", "model", "created",
                    (json_int_t)created, "owned_by", "switchyard-sim", "switchyard", sw);
    return obj;
}

char *sim_wire_model(const sim_model *m, long long created)
{
    json_t *obj = model_json(m, created);
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(obj);
    return s;
}

char *sim_wire_models(const sim_catalog *cat, long long created)
{
    json_t *data = json_array(), *list;
    char *s = NULL;
    for (int i = 0; i < cat->n; i++) {
        json_t *obj = model_json(&cat->models[i], created);
        if (!obj || json_array_append_new(data, obj))
            goto fail;
    }
    list = json_pack("{s:s,s:o}", "object", "list", "data", data);
    data = NULL;
    if (list) {
        s = json_dumps(list, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(list);
    }
    return s;
fail:
    json_decref(data);
    return NULL;
}
