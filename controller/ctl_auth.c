/*
 * ctl_auth: who is asking the controller, and may they do this.
 *
 * Two kinds of credential, checked in this order:
 *
 *   Authorization: Bearer T   T is the admin token (everything) or the viewer token
 *                             (GET only). The CLI and scripts use this.
 *   Cookie: sy_console=ID     a console session made by POST /console/login with one of
 *                             the same tokens. A state change through a session also
 *                             needs the session's CSRF token in X-CSRF-Token and, when
 *                             the browser sends one, an Origin equal to the console's.
 *
 * Sessions live in a fixed table (owned by ctl, allocated once at start): a random id
 * (32 bytes from RAND_bytes, hex), its CSRF token (another 32), the role and an absolute
 * expiry. A full table forgets the session closest to expiring. Lookups compare every
 * slot in constant time, so the time taken says nothing about which ids exist.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/httpd.h"
#include "controller/ctl.h"

#define ID_HEX 64

struct session {
    char id[ID_HEX + 1];   /* "" = free slot */
    char csrf[ID_HEX + 1];
    ctl_role role;
    int64_t expires_ms;    /* monotonic */
};

struct ctl_sessions {
    int max;
    struct session v[];
};

const char *ctl_role_str(ctl_role r)
{
    switch (r) {
    case CTL_ROLE_ADMIN: return "admin";
    case CTL_ROLE_VIEWER: return "viewer";
    case CTL_ROLE_NONE: break;
    }
    return "none";
}

ctl_sessions *ctl_sessions_new(int max)
{
    ctl_sessions *s = calloc(1, sizeof(*s) + (size_t)max * sizeof(struct session));
    if (s)
        s->max = max;
    return s;
}

void ctl_sessions_free(ctl_sessions *s)
{
    if (s)
        OPENSSL_cleanse(s->v, (size_t)s->max * sizeof(struct session));
    free(s);
}

static int token_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && CRYPTO_memcmp(a, b, blen) == 0;
}

ctl_role ctl_token_role(const ctl *c, const char *token, size_t len)
{
    if (token_eq(token, len, c->admin_token))
        return CTL_ROLE_ADMIN;
    if (c->viewer_token && token_eq(token, len, c->viewer_token))
        return CTL_ROLE_VIEWER;
    return CTL_ROLE_NONE;
}

static int random_hex(char out[ID_HEX + 1])
{
    unsigned char raw[ID_HEX / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[ID_HEX] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int ctl_session_create(ctl *c, ctl_role role, char id_out[65], char csrf_out[65])
{
    ctl_sessions *t = c->sessions;
    int64_t now = sy_clock_mono_ms();
    struct session *slot = NULL;
    for (int i = 0; i < t->max; i++) {
        struct session *s = &t->v[i];
        if (s->id[0] && s->expires_ms <= now)
            memset(s, 0, sizeof(*s)); /* expired: forget it */
        if (!s->id[0]) {
            if (!slot || slot->id[0])
                slot = s;
        } else if (!slot || (slot->id[0] && s->expires_ms < slot->expires_ms)) {
            slot = s;
        }
    }
    if (!slot)
        return -1;
    memset(slot, 0, sizeof(*slot));
    if (random_hex(slot->id) || random_hex(slot->csrf)) {
        memset(slot, 0, sizeof(*slot));
        return -1;
    }
    slot->role = role;
    slot->expires_ms = now + (int64_t)c->session_ttl_s * 1000;
    memcpy(id_out, slot->id, ID_HEX + 1);
    memcpy(csrf_out, slot->csrf, ID_HEX + 1);
    return 0;
}

const char *ctl_cookie_find(const char *h, size_t *len)
{
    if (!h)
        return NULL;
    const size_t nlen = strlen(CTL_COOKIE_NAME);
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n > nlen && !strncmp(p, CTL_COOKIE_NAME, nlen) && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = n - nlen - 1;
            while (vlen && v[vlen - 1] == ' ')
                vlen--;
            *len = vlen;
            return v;
        }
        p += n;
    }
    return NULL;
}

static const char *cookie_value(sy_http_req *req, size_t *len)
{
    return ctl_cookie_find(sy_http_header(req, "Cookie"), len);
}

/* The live session the cookie names, or NULL (also for a malformed value). */
static struct session *session_of(ctl *c, const char *v, size_t len)
{
    if (len != ID_HEX)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return NULL;
    int64_t now = sy_clock_mono_ms();
    struct session *found = NULL;
    for (int i = 0; i < c->sessions->max; i++) {
        struct session *s = &c->sessions->v[i];
        /* every slot compared, found or not */
        int eq = CRYPTO_memcmp(s->id, v, ID_HEX) == 0;
        if (eq && s->id[0] && !found)
            found = s;
    }
    if (found && found->expires_ms <= now) {
        memset(found, 0, sizeof(*found));
        found = NULL;
    }
    return found;
}

void ctl_session_drop(ctl *c, sy_http_req *req)
{
    size_t len = 0;
    const char *v = cookie_value(req, &len);
    struct session *s = v ? session_of(c, v, len) : NULL;
    if (s)
        memset(s, 0, sizeof(*s));
}

int ctl_origin_ok(const ctl *c, sy_http_req *req)
{
    const char *origin = sy_http_header(req, "Origin");
    if (!origin)
        return 1; /* not a browser's cross-origin request (SameSite=Strict covers those) */
    if (c->console_origin)
        return !strcmp(origin, c->console_origin);
    const char *host = sy_http_header(req, "Host");
    if (!host)
        return 0;
    const char *rest = !strncmp(origin, "http://", 7) ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                          : NULL;
    return rest && !strcmp(rest, host);
}

static int deny(sy_http_req *req, int status, const char *code, const char *msg)
{
    sy_http_reply_error(req, status, status == 401 ? "authentication_error" : "permission_error",
                        code, NULL, "%s", msg);
    return -1;
}

/* 0 ok; else fills *status, *code, *msg. */
static int check(ctl *c, sy_http_req *req, int need, ctl_cred *cred, int *status,
                 const char **code, const char **msg)
{
    memset(cred, 0, sizeof(*cred));
    const char *h = sy_http_header(req, "Authorization");
    if (h) {
        ctl_role role = CTL_ROLE_NONE;
        if (!strncasecmp(h, "Bearer ", 7))
            role = ctl_token_role(c, h + 7, strlen(h + 7));
        if (role == CTL_ROLE_NONE) {
            *status = 401, *code = "invalid_admin_token";
            *msg = "missing or invalid admin token: send 'Authorization: Bearer <token>'";
            return -1;
        }
        if (need == CTL_AUTH_WRITE && role != CTL_ROLE_ADMIN) {
            *status = 403, *code = "read_only_token";
            *msg = "the viewer token can read but not change anything";
            return -1;
        }
        cred->role = role;
        return 0;
    }
    size_t len = 0;
    const char *v = cookie_value(req, &len);
    if (!v) {
        *status = 401, *code = "invalid_admin_token";
        *msg = "missing or invalid admin token: send 'Authorization: Bearer <token>' or log "
               "in to the console";
        return -1;
    }
    struct session *s = session_of(c, v, len);
    if (!s) {
        *status = 401, *code = "invalid_session";
        *msg = "the console session is unknown or has expired: log in again";
        return -1;
    }
    if (need != CTL_AUTH_READ) {
        if (!ctl_origin_ok(c, req)) {
            *status = 403, *code = "origin_mismatch";
            *msg = "the request's Origin is not the console's";
            return -1;
        }
        const char *tok = sy_http_header(req, "X-CSRF-Token");
        if (!tok || !*tok) {
            *status = 403, *code = "csrf_token_missing";
            *msg = "a state change needs the session's X-CSRF-Token header";
            return -1;
        }
        if (!token_eq(tok, strlen(tok), s->csrf)) {
            *status = 403, *code = "csrf_token_invalid";
            *msg = "X-CSRF-Token does not match the session";
            return -1;
        }
        if (need == CTL_AUTH_WRITE && s->role != CTL_ROLE_ADMIN) {
            *status = 403, *code = "read_only_session";
            *msg = "logged in with the viewer token: this session can read but not change "
                   "anything";
            return -1;
        }
    }
    cred->role = s->role;
    cred->session = 1;
    memcpy(cred->csrf, s->csrf, sizeof(cred->csrf));
    cred->expires_in_s = (long)((s->expires_ms - sy_clock_mono_ms()) / 1000);
    return 0;
}

int ctl_auth(ctl *c, sy_http_req *req, int need, ctl_cred *cred)
{
    int status = 0;
    const char *code = NULL, *msg = NULL;
    if (check(c, req, need, cred, &status, &code, &msg) == 0)
        return 0;
    return deny(req, status, code, msg);
}

int ctl_auth_peek(ctl *c, sy_http_req *req, ctl_cred *cred)
{
    int status = 0;
    const char *code = NULL, *msg = NULL;
    return check(c, req, CTL_AUTH_READ, cred, &status, &code, &msg);
}
