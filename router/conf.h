/*
 * conf: one generation of the router's configuration, with the secrets it
 * names resolved and the state derived from it (classifier rules, circuit
 * breakers per provider).
 *
 * SIGHUP loads a new generation and swaps it in only if it is valid. Each
 * request holds a reference to the generation it started with, so a reload
 * never pulls a model or a key from under a request in flight.
 */
#ifndef SY_RT_CONF_H
#define SY_RT_CONF_H

#include <stddef.h>

struct exp_config;
struct clf_rules;
struct rt_breaker;

typedef struct rt_conf {
    struct exp_config *cfg;
    char **client_keys;   /* resolved, parallel to cfg->api_keys */
    char **provider_keys; /* resolved, parallel to cfg->providers; NULL entries: no key */
    char ***feedback_secrets; /* resolved, parallel to cfg->feedback.projects; NULL-terminated */
    struct clf_rules *rules;  /* NULL: classifier defaults */
    struct rt_breaker *breakers; /* per provider */
    int refs;
} rt_conf;

/* Read, validate, resolve. NULL with every problem in err (one per line). */
rt_conf *rt_conf_load(const char *path, char *err, size_t errlen);
rt_conf *rt_conf_ref(rt_conf *c);
void rt_conf_unref(rt_conf *c);

#endif
