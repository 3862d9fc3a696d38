/*
 * wire/sig: the webhook signature, the one definition every signer and verifier uses
 * (router feedback and labels, loadgen, the controller's decision webhooks). Pure: the
 * caller passes the clock.
 *
 *   X-Switchyard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * Several v1= entries may be sent (a sender mid-rotation signs with both secrets);
 * unknown keys are ignored so a later scheme can be added beside v1. The header is
 * accepted when t is within tolerance of now and any v1 matches any of the secrets.
 * Comparison is constant-time (CRYPTO_memcmp).
 */
#ifndef SY_WIRE_SIG_H
#define SY_WIRE_SIG_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_SIG_HEADER "X-Switchyard-Signature"
#define WIRE_SIG_MAX_V1 8 /* v1 entries considered; more is malformed */

typedef enum {
    WIRE_SIG_OK = 0,
    WIRE_SIG_MISSING,   /* no header */
    WIRE_SIG_MALFORMED, /* not t=<digits>,v1=<64 hex> */
    WIRE_SIG_STALE,     /* |now - t| > tolerance */
    WIRE_SIG_MISMATCH,  /* no v1 matches any secret */
} wire_sig_status;

const char *wire_sig_status_str(wire_sig_status s);

typedef struct wire_sig_secret {
    const char *key;
    size_t len;
} wire_sig_secret;

/* *matched gets the index of the secret that matched (WIRE_SIG_OK only). */
wire_sig_status wire_sig_verify(const char *header, const void *body, size_t len, int64_t now_s,
                            int tolerance_s, const wire_sig_secret *secrets, int nsecrets,
                            int *matched) __attribute__((warn_unused_result));

/* Hex HMAC-SHA256(secret, "<t>.<body>") into out (65 bytes): what a sender computes. */
int wire_sig_sign(const void *secret, size_t slen, int64_t t, const void *body, size_t len,
                char out[65]) __attribute__((warn_unused_result));

#endif
