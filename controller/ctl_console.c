/*
 * ctl_console: the web console on the controller's admin port.
 *
 *   GET  /                    the page (controller/console/index.html); 200 with a valid
 *                             session or token, else 401 with the same page, which then
 *                             shows only its login form (the page itself holds no data:
 *                             everything it shows comes from the admin JSON)
 *   GET  /console/app.js      the page's script; app.css its style sheet (no credential:
 *                             they hold no data)
 *   POST /console/login       {"token": "<admin or viewer token>"} -> 200 {"role",
 *                             "csrf_token", "expires_in"} and the session cookie
 *   POST /console/logout      forgets the session (needs its CSRF token), clears the cookie
 *   GET  /console/session     {"role", "csrf_token", "expires_in"} of the caller, or 401
 *
 * The cookie: sy_console=<64 hex>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<ttl>,
 * plus Secure with --console-secure-cookie (behind https).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/http_json.h"
#include "common/httpd.h"
#include "controller/ctl.h"
#include "controller/ctl_assets.h"

#define LOGIN_MAX_BODY 4096

static const ctl_asset *asset(const char *name)
{
    for (int i = 0; i < ctl_nassets; i++)
        if (!strcmp(ctl_assets[i].name, name))
            return &ctl_assets[i];
    return NULL;
}

static void security_headers(sy_http_req *req)
{
    sy_http_add_header(req, "Content-Security-Policy",
                       "default-src 'none'; script-src 'self'; style-src 'self'; "
                       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                       "form-action 'self'; frame-ancestors 'none'");
    sy_http_add_header(req, "X-Content-Type-Options", "nosniff");
    sy_http_add_header(req, "X-Frame-Options", "DENY");
    sy_http_add_header(req, "Referrer-Policy", "no-referrer");
    sy_http_add_header(req, "Cache-Control", "no-store");
}

static void set_cookie(ctl *c, sy_http_req *req, const char *value, long max_age)
{
    char v[256];
    snprintf(v, sizeof(v), "sy_console=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld%s",
             value, max_age, c->cookie_secure ? "; Secure" : "");
    sy_http_add_header(req, "Set-Cookie", v);
}

static void serve(sy_http_req *req, int status, const char *name)
{
    const ctl_asset *a = asset(name);
    if (!a) {
        sy_http_reply_error(req, 500, "api_error", "asset_missing", NULL,
                            "console asset %s is not compiled in", name);
        return;
    }
    security_headers(req);
    sy_http_reply(req, status, a->content_type, (const char *)a->data, a->len);
}

static int method_is(sy_http_req *req, const char *want)
{
    if (!strcmp(sy_http_method(req), want))
        return 1;
    sy_http_add_header(req, "Allow", want);
    sy_http_reply_error(req, 405, "invalid_request_error", "method_not_allowed", NULL,
                        "method %s is not allowed on %s (allowed: %s)", sy_http_method(req),
                        sy_http_path(req), want);
    return 0;
}

static void page(ctl *c, sy_http_req *req)
{
    ctl_cred cred;
    int ok = ctl_auth_peek(c, req, &cred) == 0;
    if (!ok && sy_http_header(req, "Cookie") && strstr(sy_http_header(req, "Cookie"), "sy_console="))
        set_cookie(c, req, "", 0); /* a stale cookie: drop it */
    serve(req, ok ? 200 : 401, "index.html");
}

static void login(ctl *c, sy_http_req *req)
{
    if (!ctl_origin_ok(c, req)) {
        sy_http_reply_error(req, 403, "permission_error", "origin_mismatch", NULL,
                            "the request's Origin is not the console's");
        return;
    }
    size_t len;
    const char *body = sy_http_body(req, &len);
    if (len > LOGIN_MAX_BODY) {
        sy_http_reply_error(req, 413, "invalid_request_error", "body_too_large", NULL,
                            "a login body is at most %d bytes", LOGIN_MAX_BODY);
        return;
    }
    json_error_t jerr;
    json_t *o = len ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        sy_http_reply_error(req, 400, "invalid_request_error", "invalid_json", NULL,
                            "body must be a JSON object: {\"token\": \"...\"}");
        return;
    }
    json_t *t = json_object_get(o, "token");
    if (!json_is_string(t) || json_string_length(t) == 0) {
        json_decref(o);
        sy_http_reply_error(req, 400, "invalid_request_error", "missing_token", "token",
                            "\"token\" must be the admin or the viewer token");
        return;
    }
    ctl_role role = ctl_token_role(c, json_string_value(t), json_string_length(t));
    json_decref(o);
    if (role == CTL_ROLE_NONE) {
        sy_http_reply_error(req, 401, "authentication_error", "invalid_token", NULL,
                            "the token is neither the admin nor the viewer token");
        return;
    }
    char id[65], csrf[65];
    if (ctl_session_create(c, role, id, csrf)) {
        sy_http_reply_error(req, 503, "api_error", "session_unavailable", NULL,
                            "no session could be created");
        return;
    }
    set_cookie(c, req, id, c->session_ttl_s);
    sy_http_add_header(req, "Cache-Control", "no-store");
    sy_http_reply_json(req, 200, json_pack("{s:s, s:s, s:i}", "role", ctl_role_str(role),
                                           "csrf_token", csrf, "expires_in", c->session_ttl_s));
}

static void logout(ctl *c, sy_http_req *req)
{
    ctl_cred cred;
    if (ctl_auth(c, req, CTL_AUTH_SESSION_WRITE, &cred))
        return;
    ctl_session_drop(c, req);
    set_cookie(c, req, "", 0);
    sy_http_reply_json(req, 200, json_pack("{s:b}", "logged_out", 1));
}

static void session(ctl *c, sy_http_req *req)
{
    ctl_cred cred;
    if (ctl_auth(c, req, CTL_AUTH_READ, &cred))
        return;
    sy_http_add_header(req, "Cache-Control", "no-store");
    sy_http_reply_json(req, 200, json_pack("{s:s, s:s?, s:I}", "role", ctl_role_str(cred.role),
                                           "csrf_token", cred.session ? cred.csrf : NULL,
                                           "expires_in", (json_int_t)cred.expires_in_s));
}

int ctl_console_handle(ctl *c, sy_http_req *req)
{
    const char *path = sy_http_path(req);
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        if (method_is(req, "GET"))
            page(c, req);
        return 1;
    }
    if (strncmp(path, "/console/", 9))
        return 0;
    const char *rest = path + 9;
    if (!strcmp(rest, "login")) {
        if (method_is(req, "POST"))
            login(c, req);
    } else if (!strcmp(rest, "logout")) {
        if (method_is(req, "POST"))
            logout(c, req);
    } else if (!strcmp(rest, "session")) {
        if (method_is(req, "GET"))
            session(c, req);
    } else if (!strcmp(rest, "app.js") || !strcmp(rest, "app.css")) {
        if (method_is(req, "GET"))
            serve(req, 200, rest);
    } else {
        sy_http_reply_error(req, 404, "invalid_request_error", "unknown_url", NULL,
                            "unknown request URL: %s %s", sy_http_method(req), path);
    }
    return 1;
}
