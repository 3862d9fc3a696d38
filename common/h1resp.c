#include "common/h1resp.h"

#include <string.h>
#include <strings.h>

#include "common/hex.h"

enum { S_HEAD, S_LENGTH, S_CHUNKED, S_CLOSE, S_DONE, S_ERROR };

/* chunked body: RFC 9112 section 7.1 */
enum {
    C_SIZE,          /* hex digits of the chunk size */
    C_SIZE_WS,       /* whitespace after the size */
    C_EXT,           /* a chunk extension, up to the CR */
    C_SIZE_LF,       /* the LF ending the chunk-size line */
    C_DATA,          /* chunk data, p->left bytes to come */
    C_DATA_CR,       /* the CRLF after the chunk data */
    C_DATA_LF,
    C_TRAILER_START, /* start of a trailer line, or of the final CRLF */
    C_TRAILER,       /* inside a trailer line */
    C_TRAILER_LF,
    C_END_LF,        /* the LF of the final CRLF */
};

static rt_h1resp_event fail(rt_h1resp *p, const char *why)
{
    p->state = S_ERROR;
    p->error = why;
    return RT_H1R_ERROR;
}

void rt_h1resp_init(rt_h1resp *p)
{
    memset(p, 0, sizeof(*p));
    p->state = S_HEAD;
    p->retry_after_s = -1;
}

/* RFC 9110 token characters */
static int is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return 1;
    return c && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* a visible character, space, tab or obs-text */
static int is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* "HTTP/1.x SSS[ reason]" (n: without the CRLF) */
static int status_line(rt_h1resp *p, const char *s, size_t n)
{
    if (n < 8 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || s[5] < '0' || s[5] > '9' ||
        s[7] < '0' || s[7] > '9') {
        fail(p, "malformed status line");
        return -1;
    }
    if (s[5] != '1') {
        fail(p, "unsupported HTTP version");
        return -1;
    }
    if (n < 12 || s[8] != ' ' || s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
        s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' ')) {
        fail(p, "malformed status line");
        return -1;
    }
    for (size_t i = 13; i < n; i++) {
        if (!is_text((unsigned char)s[i])) {
            fail(p, "malformed status line");
            return -1;
        }
    }
    p->minor_version = s[7] - '0';
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    p->have_status = 1;
    return 0;
}

static int name_is(const char *name, size_t n, const char *want, size_t wn)
{
    return n == wn && strncasecmp(name, want, wn) == 0;
}

static int content_length(rt_h1resp *p, const char *v, size_t n)
{
    uint64_t x = 0;
    if (n == 0) {
        fail(p, "invalid Content-Length");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            fail(p, "invalid Content-Length");
            return -1;
        }
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10) {
            fail(p, "Content-Length too large");
            return -1;
        }
        x = x * 10 + d;
    }
    if (p->seen_cl) {
        fail(p, x == p->content_length ? "duplicate Content-Length header"
                                       : "conflicting Content-Length headers");
        return -1;
    }
    p->seen_cl = 1;
    p->content_length = x;
    return 0;
}

/* Connection: a comma-separated list of options; only "close" matters */
static void connection(rt_h1resp *p, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows(v[e - 1]))
            e--;
        if (name_is(v + s, e - s, "close", 5))
            p->conn_close = 1;
    }
}

/* Retry-After: delta-seconds only (an HTTP-date, rare from APIs, is ignored). */
static void retry_after(rt_h1resp *p, const char *v, size_t n)
{
    long s = 0;
    if (n == 0 || n > 9)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        s = s * 10 + (v[i] - '0');
    }
    p->retry_after_s = s;
}

/* "name: value" (n: without the CRLF) */
static int header_line(rt_h1resp *p, const char *s, size_t n)
{
    if (is_ows(s[0])) {
        fail(p, "obsolete line folding in header");
        return -1;
    }
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':') {
        fail(p, memchr(s, '\0', n) ? "NUL byte in header" : "malformed header line");
        return -1;
    }
    size_t name_len = i++;
    while (i < n && is_ows(s[i]))
        i++;
    size_t vs = i, ve = n;
    while (ve > vs && is_ows(s[ve - 1]))
        ve--;
    for (size_t k = vs; k < ve; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!is_text(c)) {
            fail(p, c == 0 ? "NUL byte in header" : "control character in header value");
            return -1;
        }
    }
    const char *v = s + vs;
    size_t vn = ve - vs;
    if (name_is(s, name_len, "content-length", 14))
        return content_length(p, v, vn);
    if (name_is(s, name_len, "transfer-encoding", 17)) {
        /* we send no TE: chunked is the only coding a response may have */
        if (p->seen_te || !name_is(v, vn, "chunked", 7)) {
            fail(p, "unsupported Transfer-Encoding");
            return -1;
        }
        p->seen_te = 1;
        return 0;
    }
    if (name_is(s, name_len, "connection", 10))
        connection(p, v, vn);
    if (name_is(s, name_len, "retry-after", 11))
        retry_after(p, v, vn);
    return 0;
}

/* The head ended: framing and reuse (RFC 9112 section 6.3). */
static rt_h1resp_event head_done(rt_h1resp *p)
{
    if (p->status == 101)
        return fail(p, "unexpected 101 Switching Protocols");
    if (p->seen_cl && p->seen_te)
        return fail(p, "both Content-Length and Transfer-Encoding");
    if (p->status == 204 || p->status == 304) {
        p->framing = RT_H1R_FRAME_LENGTH;
        p->content_length = 0;
    } else if (p->seen_te) {
        p->framing = RT_H1R_FRAME_CHUNKED;
    } else if (p->seen_cl) {
        p->framing = RT_H1R_FRAME_LENGTH;
    } else {
        p->framing = RT_H1R_FRAME_CLOSE;
    }
    p->keep_alive = p->minor_version >= 1 && !p->conn_close && p->framing != RT_H1R_FRAME_CLOSE;
    switch (p->framing) {
    case RT_H1R_FRAME_LENGTH:
        p->state = S_LENGTH;
        p->left = p->content_length;
        break;
    case RT_H1R_FRAME_CHUNKED:
        p->state = S_CHUNKED;
        p->chunk_state = C_SIZE;
        p->left = 0;
        p->line = 0;
        break;
    case RT_H1R_FRAME_CLOSE:
        p->state = S_CLOSE;
        break;
    }
    return RT_H1R_HEAD;
}

static rt_h1resp_event parse_head(rt_h1resp *p, const char *data, size_t len, size_t *consumed)
{
    size_t start = 0; /* where the current head begins: after the skipped 1xx heads */
    for (;;) {
        const char *h = data + start;
        size_t avail = len - start;
        size_t off = p->scan;
        for (;;) {
            const char *nl = off < avail ? memchr(h + off, '\n', avail - off) : NULL;
            if (!nl) {
                if (p->interim_bytes + avail >= RT_H1R_MAX_HEAD)
                    return fail(p, "response head too large");
                p->scan = off;
                *consumed = start;
                return RT_H1R_AGAIN;
            }
            size_t end = (size_t)(nl - h) + 1;
            if (p->interim_bytes + end > RT_H1R_MAX_HEAD)
                return fail(p, "response head too large");
            if (nl == h + off || nl[-1] != '\r')
                return fail(p, "bare LF in response head");
            const char *line = h + off;
            size_t n = end - off - 2;
            off = end;
            if (!p->have_status) {
                if (status_line(p, line, n))
                    return RT_H1R_ERROR;
            } else if (n) {
                if (header_line(p, line, n))
                    return RT_H1R_ERROR;
            } else {
                break; /* the blank line */
            }
        }
        p->scan = 0;
        if (p->status >= 200 || p->status == 101) {
            *consumed = start + off;
            return head_done(p);
        }
        /* an interim response: skip it, the real one follows */
        p->interim_bytes += off;
        start += off;
        p->have_status = p->seen_cl = p->seen_te = p->conn_close = 0;
        p->content_length = 0;
        p->retry_after_s = -1;
        p->status = 0;
    }
}

static rt_h1resp_event parse_chunked(rt_h1resp *p, const char *data, size_t len, size_t *consumed,
                                  const char **body, size_t *body_len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];
        switch (p->chunk_state) {
        case C_DATA: {
            size_t n = len - i;
            if (n > p->left)
                n = (size_t)p->left;
            p->left -= n;
            if (p->left == 0)
                p->chunk_state = C_DATA_CR;
            *body = data + i;
            *body_len = n;
            *consumed = i + n;
            return RT_H1R_BODY;
        }
        case C_SIZE:
        case C_SIZE_WS:
        case C_EXT:
        case C_SIZE_LF:
            if (++p->line > RT_H1R_MAX_CHUNK_LINE)
                return fail(p, "chunk size line too long");
            if (p->chunk_state == C_SIZE) {
                int v = sy_hex_val(c);
                if (v >= 0) {
                    if (p->left >> 60)
                        return fail(p, "chunk size too large");
                    p->left = p->left << 4 | (uint64_t)v;
                    break;
                }
                if (p->line == 1)
                    return fail(p, "malformed chunk size");
                p->chunk_state = C_SIZE_WS;
            }
            if (p->chunk_state == C_SIZE_WS) {
                if (is_ows((char)c))
                    break;
                if (c == ';') {
                    p->chunk_state = C_EXT;
                    break;
                }
                if (c != '\r')
                    return fail(p, "malformed chunk size");
                p->chunk_state = C_SIZE_LF;
                break;
            }
            if (p->chunk_state == C_EXT) {
                if (c == '\r')
                    p->chunk_state = C_SIZE_LF;
                else if (!is_text(c))
                    return fail(p, "malformed chunk extension");
                break;
            }
            /* C_SIZE_LF */
            if (c != '\n')
                return fail(p, "malformed chunk size");
            p->line = 0;
            p->chunk_state = p->left ? C_DATA : C_TRAILER_START;
            break;
        case C_DATA_CR:
        case C_DATA_LF:
            if (c != (p->chunk_state == C_DATA_CR ? '\r' : '\n'))
                return fail(p, "missing CRLF after chunk data");
            if (p->chunk_state == C_DATA_CR) {
                p->chunk_state = C_DATA_LF;
            } else {
                p->chunk_state = C_SIZE;
                p->line = 0;
            }
            break;
        default: /* the trailer section, then the final CRLF */
            if (++p->trailer_bytes > RT_H1R_MAX_TRAILERS)
                return fail(p, "trailers too large");
            if (p->chunk_state == C_TRAILER_START || p->chunk_state == C_TRAILER) {
                if (c == '\r') {
                    p->chunk_state = p->chunk_state == C_TRAILER_START ? C_END_LF : C_TRAILER_LF;
                    break;
                }
                if (!is_text(c))
                    return fail(p, "malformed trailer");
                p->chunk_state = C_TRAILER;
                break;
            }
            if (c != '\n')
                return fail(p, "malformed trailer");
            if (p->chunk_state == C_TRAILER_LF) {
                p->chunk_state = C_TRAILER_START;
                break;
            }
            p->state = S_DONE; /* C_END_LF */
            *consumed = i + 1;
            return RT_H1R_DONE;
        }
        i++;
    }
    *consumed = len;
    return RT_H1R_AGAIN;
}

rt_h1resp_event rt_h1resp_parse(rt_h1resp *p, const char *data, size_t len, size_t *consumed,
                          const char **body, size_t *body_len)
{
    *consumed = 0;
    switch (p->state) {
    case S_HEAD:
        return parse_head(p, data, len, consumed);
    case S_LENGTH:
        if (p->left == 0) {
            p->state = S_DONE;
            return RT_H1R_DONE;
        }
        if (len == 0)
            return RT_H1R_AGAIN;
        *body = data;
        *body_len = len < p->left ? len : (size_t)p->left;
        *consumed = *body_len;
        p->left -= *body_len;
        return RT_H1R_BODY;
    case S_CHUNKED:
        return parse_chunked(p, data, len, consumed, body, body_len);
    case S_CLOSE:
        if (len == 0)
            return RT_H1R_AGAIN;
        *body = data;
        *body_len = len;
        *consumed = len;
        return RT_H1R_BODY;
    case S_DONE:
        return RT_H1R_DONE;
    default:
        return RT_H1R_ERROR;
    }
}

rt_h1resp_event rt_h1resp_eof(rt_h1resp *p)
{
    switch (p->state) {
    case S_HEAD:
        return fail(p, "connection closed in the response head");
    case S_LENGTH:
        if (p->left == 0)
            break;
        return fail(p, "connection closed before the end of the body");
    case S_CHUNKED:
        return fail(p, "connection closed before the end of the body");
    case S_CLOSE:
    case S_DONE:
        break;
    default:
        return RT_H1R_ERROR;
    }
    p->state = S_DONE;
    return RT_H1R_DONE;
}
