/*
 * wire/sig: webhook signature, signing and verification (see sig.h).
 */
#include "wire/sig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h" /* header only, pure */

const char *wire_sig_status_str(wire_sig_status s)
{
    switch (s) {
    case WIRE_SIG_OK: return "ok";
    case WIRE_SIG_MISSING: return "missing";
    case WIRE_SIG_MALFORMED: return "malformed";
    case WIRE_SIG_STALE: return "stale";
    case WIRE_SIG_MISMATCH: return "mismatch";
    }
    return "?";
}

/* HMAC-SHA256(key, "<t>.<body>") */
static int hmac(const void *key, size_t klen, const char *t, size_t tlen, const void *body,
                size_t len, unsigned char out[32])
{
    int rc = -1;
    size_t outlen = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!ctx)
        goto fail;
    /* An empty key is refused by the router's config loader; HMAC itself allows it. */
    if (!EVP_MAC_init(ctx, key, klen, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)t, tlen) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        !EVP_MAC_update(ctx, body, len) || !EVP_MAC_final(ctx, out, &outlen, 32) || outlen != 32)
        goto fail;
    rc = 0;
fail:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

wire_sig_status wire_sig_verify(const char *header, const void *body, size_t len, int64_t now_s,
                            int tolerance_s, const wire_sig_secret *secrets, int nsecrets,
                            int *matched)
{
    unsigned char sigs[WIRE_SIG_MAX_V1][32];
    int nsig = 0;
    const char *t = NULL;
    size_t tlen = 0;

    if (!header)
        return WIRE_SIG_MISSING;
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return WIRE_SIG_MALFORMED;
        const char *v = eq + 1;
        const char *vend = end;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(vend - v);
        if (klen == 1 && p[0] == 't') {
            if (t || vlen == 0 || vlen > 12)
                return WIRE_SIG_MALFORMED;
            for (size_t i = 0; i < vlen; i++)
                if (v[i] < '0' || v[i] > '9')
                    return WIRE_SIG_MALFORMED;
            t = v;
            tlen = vlen;
        } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
            if (vlen != 64 || nsig == WIRE_SIG_MAX_V1)
                return WIRE_SIG_MALFORMED;
            for (int i = 0; i < 32; i++) {
                int hi = sy_hex_val(v[2 * i]), lo = sy_hex_val(v[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return WIRE_SIG_MALFORMED;
                sigs[nsig][i] = (unsigned char)(hi << 4 | lo);
            }
            nsig++;
        }
        p = *end ? end + 1 : end;
    }
    if (!t || nsig == 0)
        return WIRE_SIG_MALFORMED;
    int64_t ts = 0;
    for (size_t i = 0; i < tlen; i++)
        ts = ts * 10 + (t[i] - '0');
    int64_t skew = now_s > ts ? now_s - ts : ts - now_s;
    if (skew > tolerance_s)
        return WIRE_SIG_STALE;
    for (int s = 0; s < nsecrets; s++) {
        unsigned char want[32];
        if (hmac(secrets[s].key, secrets[s].len, t, tlen, body, len, want))
            continue;
        int hit = 0;
        for (int i = 0; i < nsig; i++)
            hit |= CRYPTO_memcmp(want, sigs[i], 32) == 0;
        if (hit) {
            *matched = s;
            return WIRE_SIG_OK;
        }
    }
    return WIRE_SIG_MISMATCH;
}

int wire_sig_sign(const void *secret, size_t slen, int64_t t, const void *body, size_t len,
                char out[65])
{
    char ts[24];
    unsigned char md[32];
    int n = snprintf(ts, sizeof(ts), "%lld", (long long)t);
    if (hmac(secret, slen, ts, (size_t)n, body, len, md))
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}
