/*
 * ctl_notify: delivers the notification outbox to the webhooks. Each body is
 * signed like the feedback webhook (X-Switchyard-Signature: t=<unix>,v1=<hex
 * HMAC-SHA256 of "t.body">) with the secret the webhook's secret_env names,
 * and retried with exponential backoff until it gets a 2xx or runs out of
 * attempts. Deliveries are bounded per tick and by a per-attempt timeout.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "controller/ctl.h"
#include "controller/ctl_db.h"
#include "wire/sig.h"

#define MAX_PER_TICK 20
#define TIMEOUT_MS 5000

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void sign(const char *secret, const char *body, char *header, size_t hlen)
{
    int64_t t = (int64_t)time(NULL);
    char v1[65];
    if (wire_sig_sign(secret, strlen(secret), t, body, strlen(body), v1)) {
        header[0] = '\0';
        return;
    }
    snprintf(header, hlen, WIRE_SIG_HEADER ": t=%lld,v1=%s", (long long)t, v1);
}

/* One attempt; NULL on success, else a reason. */
static const char *deliver(const char *url, const char *secret, const char *body, char *why,
                           size_t wlen)
{
    CURL *e = curl_easy_init();
    if (!e)
        return "out of memory";
    char sig[160];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (secret) {
        sign(secret, body, sig, sizeof(sig));
        h = curl_slist_append(h, sig);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK) {
        snprintf(why, wlen, "%s", curl_easy_strerror(rc));
        return why;
    }
    if (code < 200 || code >= 300) {
        snprintf(why, wlen, "HTTP %ld", code);
        return why;
    }
    return NULL;
}

void ctl_notify_deliver(ctl *c)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", MAX_PER_TICK);
    const char *p[] = {limit};
    PGresult *r = ctl_db_q(c,
                           "SELECT id, url, secret_env, body, attempts, max_attempts FROM notifications "
                           "WHERE delivered_at IS NULL AND attempts < max_attempts AND next_at <= now() "
                           "ORDER BY id LIMIT $1::int",
                           1, p);
    if (!r)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        const char *senv = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
        const char *secret = senv ? getenv(senv) : NULL;
        char why[256];
        const char *err = deliver(PQgetvalue(r, i, 1), secret, PQgetvalue(r, i, 3), why, sizeof(why));
        int attempts = atoi(PQgetvalue(r, i, 4)) + 1;
        char att[16], backoff[16];
        snprintf(att, sizeof(att), "%d", attempts);
        snprintf(backoff, sizeof(backoff), "%d", 1 << (attempts < 10 ? attempts : 10));
        if (!err) {
            c->notifications_sent++;
            const char *u[] = {id, att};
            (void)ctl_db_exec(c,
                              "UPDATE notifications SET delivered_at = now(), attempts = $2::int, "
                              "last_error = NULL WHERE id = $1::bigint",
                              2, u);
        } else {
            c->notifications_failed++;
            sy_log_kv(SY_WARN, "webhook delivery failed", "url", PQgetvalue(r, i, 1), "reason", err,
                      "attempt", att, NULL);
            const char *u[] = {id, att, err, backoff};
            (void)ctl_db_exec(c,
                              "UPDATE notifications SET attempts = $2::int, last_error = $3, "
                              "next_at = now() + make_interval(secs => $4::int) WHERE id = $1::bigint",
                              4, u);
        }
    }
    PQclear(r);
}
