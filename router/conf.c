#include "router/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/rules.h"
#include "experiments/config.h"
#include "router/breaker.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void add_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_err(char *err, size_t errlen, const char *fmt, ...)
{
    size_t n = strlen(err);
    if (n && n + 1 < errlen)
        err[n++] = '\n';
    if (n + 1 >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
}

static const char *env_secret(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

rt_conf *rt_conf_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    err[0] = '\0';
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return NULL;
    }
    rt_conf *c = calloc(1, sizeof(*c));
    if (!c) {
        free(text);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->refs = 1;
    int rc = exp_config_parse(text, len, &c->cfg, err, errlen);
    free(text);
    if (rc)
        goto fail;
    exp_config *cfg = c->cfg;
    c->client_keys = calloc((size_t)cfg->napi_keys, sizeof(char *));
    c->provider_keys = calloc((size_t)cfg->nproviders, sizeof(char *));
    c->breakers = calloc((size_t)cfg->nproviders, sizeof(rt_breaker));
    c->feedback_secrets = calloc((size_t)cfg->feedback.nprojects + 1, sizeof(char **));
    if (!c->client_keys || !c->provider_keys || !c->breakers || !c->feedback_secrets) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg->napi_keys; i++) {
        const exp_api_key *k = &cfg->api_keys[i];
        const char *v = k->key ? k->key : env_secret(k->key_env);
        if (!v)
            add_err(err, errlen,
                    "$.api_keys[%d].key_env: environment variable %s is not set or empty", i,
                    k->key_env);
        else
            c->client_keys[i] = strdup(v);
    }
    for (int i = 0; i < cfg->nproviders; i++) {
        const exp_provider *p = &cfg->providers[i];
        if (!p->api_key_env)
            continue;
        const char *v = env_secret(p->api_key_env);
        if (!v)
            add_err(err, errlen,
                    "$.providers.%s.api_key_env: environment variable %s is not set or empty",
                    p->name, p->api_key_env);
        else
            c->provider_keys[i] = strdup(v);
    }
    for (int i = 0; i < cfg->feedback.nprojects; i++) {
        const exp_feedback_project *fp = &cfg->feedback.projects[i];
        char **secrets = calloc((size_t)fp->nsecrets + 1, sizeof(char *));
        c->feedback_secrets[i] = secrets;
        if (!secrets)
            continue;
        for (int j = 0, k = 0; j < fp->nsecrets; j++) {
            const char *v = env_secret(fp->secret_env[j]);
            if (v)
                secrets[k++] = strdup(v);
            else if (j == 0) /* the second (rotation) secret may be absent */
                add_err(err, errlen,
                        "$.feedback.projects.%s.secret_env[0]: environment variable %s is not set "
                        "or empty",
                        fp->name, fp->secret_env[j]);
        }
    }
    if (cfg->classifier_rules) {
        char rerr[256];
        if (clf_rules_parse_json(cfg->classifier_rules, &c->rules, rerr, sizeof(rerr)))
            add_err(err, errlen, "$.classifier_rules: %s", rerr);
    }
    if (err[0])
        goto fail;
    return c;
fail:
    rt_conf_unref(c);
    return NULL;
}

rt_conf *rt_conf_ref(rt_conf *c)
{
    c->refs++;
    return c;
}

void rt_conf_unref(rt_conf *c)
{
    if (!c || --c->refs > 0)
        return;
    if (c->cfg) {
        for (int i = 0; c->client_keys && i < c->cfg->napi_keys; i++)
            free(c->client_keys[i]);
        for (int i = 0; c->provider_keys && i < c->cfg->nproviders; i++)
            free(c->provider_keys[i]);
        for (int i = 0; c->feedback_secrets && i < c->cfg->feedback.nprojects; i++) {
            for (char **s = c->feedback_secrets[i]; s && *s; s++)
                free(*s);
            free(c->feedback_secrets[i]);
        }
    }
    free(c->client_keys);
    free(c->provider_keys);
    free(c->feedback_secrets);
    free(c->breakers);
    clf_rules_free(c->rules);
    exp_config_free(c->cfg);
    free(c);
}
