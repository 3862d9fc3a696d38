/*
 * h1client request: the head and body of a call's POST, in one buffer for one send().
 */
#include <stdlib.h>
#include <string.h>

#include "common/h1client_internal.h"

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

#define PUT_LIT(w, s) put((w), (s), sizeof(s) - 1)

static char *put_size(char *w, size_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    do
        tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    return put(w, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A header value must not carry a control character (no header injection). */
static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

/* The request head and body, in one buffer for one send(). */
int h1_build_request(rt_h1_call *c, const char *target, size_t target_len,
                         const rt_call_spec *spec)
{
    static const char l1[] = "POST ";
    static const char l2[] = " HTTP/1.1\r\nHost: ";
    static const char l3[] = "\r\nUser-Agent: switchyard\r\nContent-Type: application/json\r\n";
    static const char bearer[] = "Authorization: Bearer ";
    static const char xkey[] = "x-api-key: ";
    static const char aver[] = "anthropic-version: ";
    static const char cl[] = "Content-Length: ";
    const char *auth = spec->anthropic_version ? xkey : bearer;
    size_t auth_len = spec->anthropic_version ? sizeof(xkey) - 1 : sizeof(bearer) - 1;
    size_t key_len = spec->api_key ? strlen(spec->api_key) : 0;
    size_t ver_len = spec->anthropic_version ? strlen(spec->anthropic_version) : 0;
    if (has_ctl(spec->api_key, key_len) || has_ctl(spec->anthropic_version, ver_len))
        return -2;
    size_t need = sizeof(l1) + target_len + 1 + sizeof(l2) + c->origin->authority_len +
                  sizeof(l3) + (spec->api_key ? auth_len + key_len + 2 : 0) +
                  (spec->anthropic_version ? sizeof(aver) + ver_len + 2 : 0) + sizeof(cl) + 24 +
                  4 + spec->body_len;
    if (need > c->req_cap) {
        char *r = realloc(c->req, need);
        if (!r)
            return -1;
        c->req = r;
        c->req_cap = need;
    }
    char *w = c->req;
    w = PUT_LIT(w, l1);
    if (target_len == 0 || target[0] != '/')
        *w++ = '/';
    w = put(w, target, target_len);
    w = PUT_LIT(w, l2);
    w = put(w, c->origin->authority, c->origin->authority_len);
    w = PUT_LIT(w, l3);
    if (spec->api_key) {
        w = put(w, auth, auth_len);
        w = put(w, spec->api_key, key_len);
        w = PUT_LIT(w, "\r\n");
    }
    if (spec->anthropic_version) {
        w = PUT_LIT(w, aver);
        w = put(w, spec->anthropic_version, ver_len);
        w = PUT_LIT(w, "\r\n");
    }
    w = PUT_LIT(w, cl);
    w = put_size(w, spec->body_len);
    w = PUT_LIT(w, "\r\n\r\n");
    if (spec->body_len)
        w = put(w, spec->body, spec->body_len);
    c->req_len = (size_t)(w - c->req);
    c->req_sent = 0;
    return 0;
}
