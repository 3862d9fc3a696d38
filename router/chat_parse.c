/*
 * chat AUTH and PARSE (router/chat.h): the API key, then the body and the
 * headers that steer the request. Each refusal names the field, in the client's
 * wire (chat_reply_error). A POST /v1/messages body is validated as Anthropic's
 * Messages API does and translated to the OpenAI request the rest of the chat
 * works on (wire/anthropic.h).
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/httpd.h"
#include "router/chat.h"

/* Authorization: Bearer, or for Anthropic's clients x-api-key */
static int authenticate(const rt_conf *conf, sy_http_req *req, exp_wire wire,
                        const exp_api_key **out)
{
    const char *auth = sy_http_header(req, "Authorization");
    const char *key = NULL;
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        key = auth + 7;
        while (*key == ' ')
            key++;
    } else if (wire == EXP_WIRE_ANTHROPIC) {
        key = sy_http_header(req, "x-api-key");
    }
    if (!key)
        return -1;
    size_t klen = strlen(key);
    int found = -1;
    /* constant time per key, and every key is compared */
    for (int i = 0; i < conf->cfg->napi_keys; i++) {
        const char *want = conf->client_keys[i];
        size_t wlen = strlen(want);
        int eq = wlen == klen && CRYPTO_memcmp(want, key, klen) == 0;
        if (eq && found < 0)
            found = i;
    }
    if (found < 0)
        return -2;
    *out = &conf->cfg->api_keys[found];
    return 0;
}

int chat_auth(chat *c)
{
    int a = authenticate(c->conf, c->http, c->inbound, &c->key);
    if (a == -1) {
        chat_refuse(c, 401, "missing_api_key", NULL,
                    c->inbound == EXP_WIRE_ANTHROPIC
                        ? "missing API key: send it as 'x-api-key: <key>'"
                        : "missing API key: send it as 'Authorization: Bearer <key>'");
        return -1;
    }
    if (a == -2) {
        chat_refuse(c, 401, "invalid_api_key", NULL, "invalid API key");
        return -1;
    }
    c->ev.project = c->key->project;
    return 0;
}

/* Validate the OpenAI request shape; on error fill code/param/msg. */
static int validate(json_t *root, const char **code, const char **param, char *msg, size_t mlen)
{
    *code = "invalid_type";
    if (!json_is_object(root)) {
        *param = NULL;
        snprintf(msg, mlen, "request body must be a JSON object");
        return -1;
    }
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_string(model)) {
        *param = "model";
        snprintf(msg, mlen, "'model' must be a string");
        return -1;
    }
    json_t *msgs = json_object_get(root, "messages");
    *param = "messages";
    if (!msgs) {
        *code = "missing_required_parameter";
        snprintf(msg, mlen, "missing required parameter: 'messages'");
        return -1;
    }
    if (!json_is_array(msgs)) {
        snprintf(msg, mlen, "'messages' must be an array");
        return -1;
    }
    if (json_array_size(msgs) == 0) {
        *code = "empty_array";
        snprintf(msg, mlen, "'messages' must contain at least one message");
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m)) {
            snprintf(msg, mlen, "'messages[%zu]' must be an object", i);
            return -1;
        }
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role)) {
            *code = role ? "invalid_type" : "missing_required_parameter";
            snprintf(msg, mlen, "'messages[%zu].role' must be a string", i);
            return -1;
        }
        json_t *content = json_object_get(m, "content");
        if (content && !json_is_string(content) && !json_is_array(content) &&
            !json_is_null(content)) {
            snprintf(msg, mlen, "'messages[%zu].content' must be a string or an array of parts", i);
            return -1;
        }
    }
    json_t *stream = json_object_get(root, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
        *param = "stream";
        snprintf(msg, mlen, "'stream' must be a boolean");
        return -1;
    }
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_object(so) && !json_is_null(so)) {
        *param = "stream_options";
        snprintf(msg, mlen, "'stream_options' must be an object");
        return -1;
    }
    json_t *user = json_object_get(root, "user");
    if (user && !json_is_string(user)) {
        *param = "user";
        snprintf(msg, mlen, "'user' must be a string");
        return -1;
    }
    if (user && json_string_length(user) > CHAT_MAX_USER_ID) {
        *param = "user";
        snprintf(msg, mlen, "'user' must be at most %d bytes", CHAT_MAX_USER_ID);
        return -1;
    }
    return 0;
}

int chat_parse(chat *c)
{
    char msg[512];
    size_t blen;
    const char *body = sy_http_body(c->http, &blen);
    json_error_t jerr;
    /* the tree lives as long as the chat; only the parse runs in its arena, since
     * what else touches jansson may json_dumps() and free() (common/jarena.h) */
    sy_jarena_enter(&c->arena);
    c->root = json_loadb(body, blen, 0, &jerr);
    sy_jarena_leave();
    if (!c->root) {
        snprintf(msg, sizeof(msg), "request body is not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        chat_refuse(c, 400, "invalid_json", NULL, msg);
        return -1;
    }
    if (c->inbound == EXP_WIRE_ANTHROPIC) {
        json_t *oai;
        wa_error werr;
        if (wa_req_anthropic_to_openai(c->root, &oai, &werr)) {
            chat_refuse(c, werr.status, "invalid_request", NULL, werr.message);
            return -1;
        }
        json_decref(c->root);
        c->root = oai; /* re-serialised for each attempt: splice_ok stays 0 */
    }
    const char *code, *param;
    if (validate(c->root, &code, &param, msg, sizeof(msg))) {
        chat_refuse(c, 400, code, param, msg);
        return -1;
    }
    /* splice the model into the body only when that is exact (router/reqbody.h) */
    c->body = body;
    c->body_len = blen;
    c->splice_ok = c->inbound == EXP_WIRE_OPENAI &&
                   rt_body_find_model(body, blen, &c->span) == 0 &&
                   c->span.members == rt_body_tree_members(c->root);

    const char *mode_hdr = sy_http_header(c->http, "X-Route-Mode");
    if (mode_hdr && exp_mode_parse(mode_hdr, &c->mode)) {
        snprintf(msg, sizeof(msg), "unknown X-Route-Mode \"%.64s\": use eco, balanced or sport",
                 mode_hdr);
        chat_refuse(c, 400, "invalid_route_mode", NULL, msg);
        return -1;
    }
    c->ev.mode = exp_mode_str(c->mode);

    const char *prefer_hdr = sy_http_header(c->http, "X-Model-Prefer");
    if (prefer_hdr) {
        if (!c->key->allow_model_prefer) {
            chat_refuse(c, 403, "model_prefer_not_allowed", NULL,
                        "this API key may not choose the model (X-Model-Prefer)");
            return -1;
        }
        c->prefer = exp_config_find_model(c->conf->cfg, prefer_hdr);
        if (c->prefer < 0) {
            snprintf(msg, sizeof(msg),
                     "X-Model-Prefer names unknown model \"%.64s\" (see GET /v1/models)",
                     prefer_hdr);
            chat_refuse(c, 400, "model_not_found", NULL, msg);
            return -1;
        }
    }
    return 0;
}
