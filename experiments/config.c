#include "experiments/config.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/jsonerrs.h"

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

static const char *get_str(exp_errs *e, json_t *obj, const char *path, const char *key,
                           int required)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            exp_errs_add(e, "%s.%s: required", path, key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        exp_errs_add(e, "%s.%s: must be a non-empty string", path, key);
        return NULL;
    }
    return json_string_value(v);
}

static double get_num(exp_errs *e, json_t *obj, const char *path, const char *key, int required,
                      double def, double lo, double hi)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            exp_errs_add(e, "%s.%s: required", path, key);
        return def;
    }
    if (!json_is_number(v)) {
        exp_errs_add(e, "%s.%s: must be a number", path, key);
        return def;
    }
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        exp_errs_add(e, "%s.%s: must be between %.15g and %.15g", path, key, lo, hi);
        return def;
    }
    return d;
}

static void parse_providers(exp_errs *e, json_t *root, exp_config *cfg)
{
    static const char *const keys[] = {"type",       "base_url", "api_key_env",
                                       "anthropic_version", "connect_timeout_ms",
                                       "timeout_ms", "retries",  NULL};
    json_t *obj = json_object_get(root, "providers");
    if (!obj) {
        exp_errs_add(e, "$.providers: required");
        return;
    }
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        exp_errs_add(e, "$.providers: must be a non-empty object keyed by provider name");
        return;
    }
    cfg->providers = calloc(json_object_size(obj), sizeof(exp_provider));
    const char *name;
    json_t *p;
    json_object_foreach(obj, name, p) {
        char path[256];
        snprintf(path, sizeof(path), "$.providers.%s", name);
        if (!json_is_object(p)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        exp_check_keys(e, p, path, keys);
        exp_provider *pr = &cfg->providers[cfg->nproviders++];
        pr->name = dup(name);
        const char *url = get_str(e, p, path, "base_url", 1);
        if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
            exp_errs_add(e, "%s.base_url: must start with http:// or https://", path);
        if (url) {
            pr->base_url = dup(url);
            size_t n = strlen(pr->base_url);
            while (n > 0 && pr->base_url[n - 1] == '/')
                pr->base_url[--n] = '\0';
        }
        pr->api_key_env = dup(get_str(e, p, path, "api_key_env", 0));
        const char *type = get_str(e, p, path, "type", 0);
        pr->type = EXP_WIRE_OPENAI;
        if (type && !strcmp(type, "anthropic"))
            pr->type = EXP_WIRE_ANTHROPIC;
        else if (type && strcmp(type, "openai"))
            exp_errs_add(e, "%s.type: must be \"openai\" or \"anthropic\"", path);
        const char *ver = get_str(e, p, path, "anthropic_version", 0);
        if (ver && pr->type != EXP_WIRE_ANTHROPIC)
            exp_errs_add(e, "%s.anthropic_version: only for \"type\": \"anthropic\"", path);
        for (const char *q = ver; q && *q; q++)
            if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e) {
                exp_errs_add(e, "%s.anthropic_version: must be printable ASCII without spaces",
                             path);
                break;
            }
        if (pr->type == EXP_WIRE_ANTHROPIC)
            pr->anthropic_version = dup(ver && *ver ? ver : EXP_ANTHROPIC_VERSION);
        pr->connect_timeout_ms =
            (int)get_num(e, p, path, "connect_timeout_ms", 0, 1000, 1, 600000);
        pr->timeout_ms = (int)get_num(e, p, path, "timeout_ms", 0, 60000, 1, 3600000);
        pr->retries = (int)get_num(e, p, path, "retries", 0, 2, 0, 10);
    }
}

static int find_provider(const exp_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nproviders; i++)
        if (!strcmp(cfg->providers[i].name, name))
            return i;
    return -1;
}

static void parse_models(exp_errs *e, json_t *root, exp_config *cfg)
{
    static const char *const keys[] = {"provider",
                                       "upstream",
                                       "tier",
                                       "input_usd_per_mtok",
                                       "output_usd_per_mtok",
                                       "cached_input_usd_per_mtok",
                                       "cache_write_usd_per_mtok",
                                       NULL};
    json_t *obj = json_object_get(root, "models");
    if (!obj) {
        exp_errs_add(e, "$.models: required");
        return;
    }
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        exp_errs_add(e, "$.models: must be a non-empty object keyed by model name");
        return;
    }
    cfg->models = calloc(json_object_size(obj), sizeof(exp_model));
    const char *name;
    json_t *m;
    json_object_foreach(obj, name, m) {
        char path[256];
        snprintf(path, sizeof(path), "$.models.%s", name);
        if (!json_is_object(m)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        exp_check_keys(e, m, path, keys);
        exp_model *md = &cfg->models[cfg->nmodels++];
        md->name = dup(name);
        const char *prov = get_str(e, m, path, "provider", 1);
        md->provider = -1;
        if (prov) {
            md->provider = find_provider(cfg, prov);
            if (md->provider < 0)
                exp_errs_add(e, "%s.provider: unknown provider \"%s\"", path, prov);
        }
        const char *up = get_str(e, m, path, "upstream", 0);
        md->upstream = dup(up ? up : name);
        const char *tier = get_str(e, m, path, "tier", 1);
        md->tier = dup(tier);
        md->input_usd_per_mtok = get_num(e, m, path, "input_usd_per_mtok", 1, 0, 0, 10000);
        md->output_usd_per_mtok = get_num(e, m, path, "output_usd_per_mtok", 1, 0, 0, 10000);
        md->cached_input_usd_per_mtok = get_num(e, m, path, "cached_input_usd_per_mtok", 0,
                                                md->input_usd_per_mtok, 0, 10000);
        md->cache_write_usd_per_mtok = get_num(e, m, path, "cache_write_usd_per_mtok", 0,
                                               md->input_usd_per_mtok, 0, 10000);
    }
}

static void parse_api_keys(exp_errs *e, json_t *root, exp_config *cfg, unsigned flags)
{
    static const char *const keys[] = {"key", "key_env", "project", "allow_model_prefer", NULL};
    json_t *arr = json_object_get(root, "api_keys");
    if (!arr && (flags & EXP_CONFIG_NO_API_KEYS))
        return;
    if (!arr) {
        exp_errs_add(e, "$.api_keys: required (the router refuses unauthenticated traffic)");
        return;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        exp_errs_add(e, "$.api_keys: must be a non-empty array");
        return;
    }
    cfg->api_keys = calloc(json_array_size(arr), sizeof(exp_api_key));
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k) {
        char path[64];
        snprintf(path, sizeof(path), "$.api_keys[%zu]", i);
        if (!json_is_object(k)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        exp_check_keys(e, k, path, keys);
        exp_api_key *ak = &cfg->api_keys[cfg->napi_keys++];
        ak->key = dup(get_str(e, k, path, "key", 0));
        ak->key_env = dup(get_str(e, k, path, "key_env", 0));
        if (!!ak->key == !!ak->key_env)
            exp_errs_add(e, "%s: exactly one of \"key\" and \"key_env\" is required", path);
        ak->project = dup(get_str(e, k, path, "project", 1));
        json_t *amp = json_object_get(k, "allow_model_prefer");
        if (amp && !json_is_boolean(amp))
            exp_errs_add(e, "%s.allow_model_prefer: must be true or false", path);
        ak->allow_model_prefer = amp && json_is_true(amp);
    }
}

/* An experiment name is a path segment of the admin API (/admin/experiments/NAME), part of
 * every Redis key (a '{' would make a Redis Cluster hash tag) and of log lines: a plain
 * identifier. */
static int name_ok(const char *s)
{
    if (!isalnum((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
            return 0;
    return 1;
}

static void parse_experiment(exp_errs *e, json_t *root, exp_config *cfg)
{
    static const char *const keys[] = {"name", "salt", "holdout_pct", NULL};
    json_t *x = json_object_get(root, "experiment");
    cfg->holdout_bp = 0;
    if (!x) {
        cfg->experiment = dup("default");
        cfg->salt = dup("default");
        return;
    }
    if (!json_is_object(x)) {
        exp_errs_add(e, "$.experiment: must be an object");
        return;
    }
    exp_check_keys(e, x, "$.experiment", keys);
    const char *name = get_str(e, x, "$.experiment", "name", 1);
    const char *salt = get_str(e, x, "$.experiment", "salt", 0);
    if (name && strlen(name) > EXP_NAME_MAX) {
        exp_errs_add(e, "$.experiment.name: at most %d bytes", EXP_NAME_MAX);
        name = NULL;
    } else if (name && !name_ok(name)) {
        exp_errs_add(e, "$.experiment.name: letters, digits, '_', '.' and '-' only, starting "
                        "with a letter or a digit");
        name = NULL;
    }
    cfg->experiment = dup(name ? name : "default");
    cfg->salt = dup(salt ? salt : cfg->experiment);
    double pct = get_num(e, x, "$.experiment", "holdout_pct", 0, 0, 0, 100);
    cfg->holdout_bp = (int)lround(pct * 100.0);
}

/* "routing": {"<task>": {"<mode>": "<model>", ...}, ...}; cells left out
 * fall back to the default model. Runs after default_model is known. */
static void parse_routing(exp_errs *e, json_t *root, exp_config *cfg)
{
    for (int t = 0; t < WIRE_NTASKS; t++)
        for (int m = 0; m < EXP_NMODES; m++)
            cfg->routing[t][m] = cfg->default_model;
    json_t *obj = json_object_get(root, "routing");
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        exp_errs_add(e, "$.routing: must be an object keyed by task type");
        return;
    }
    const char *task;
    json_t *row;
    json_object_foreach(obj, task, row) {
        wire_task t;
        if (wire_task_parse(task, &t)) {
            exp_errs_add(e, "$.routing.%s: unknown task type (simple, code, reasoning, complex)", task);
            continue;
        }
        if (!json_is_object(row)) {
            exp_errs_add(e, "$.routing.%s: must be an object keyed by mode", task);
            continue;
        }
        const char *mode;
        json_t *cell;
        json_object_foreach(row, mode, cell) {
            exp_mode m;
            if (exp_mode_parse(mode, &m)) {
                exp_errs_add(e, "$.routing.%s.%s: unknown mode (eco, balanced, sport)", task, mode);
                continue;
            }
            int idx = json_is_string(cell) ? exp_config_find_model(cfg, json_string_value(cell)) : -1;
            if (!json_is_string(cell))
                exp_errs_add(e, "$.routing.%s.%s: must be a model name", task, mode);
            else if (idx < 0)
                exp_errs_add(e, "$.routing.%s.%s: unknown model \"%s\"", task, mode,
                        json_string_value(cell));
            else
                cfg->routing[t][m] = idx;
        }
    }
}

static void parse_dispatch(exp_errs *e, json_t *root, exp_config *cfg)
{
    static const char *const keys[] = {"max_attempts",         "request_timeout_ms",
                                       "retry_backoff_ms",     "retry_backoff_max_ms",
                                       "breaker_failures",     "breaker_cooldown_ms",
                                       "race_sport",           "sticky_conversations",
                                       "sticky_ttl_s",         NULL};
    cfg->max_attempts = 6;
    cfg->request_timeout_ms = 120000;
    cfg->retry_backoff_ms = 100;
    cfg->retry_backoff_max_ms = 2000;
    cfg->sticky_conversations = 1;
    cfg->sticky_ttl_s = 3600;
    cfg->breaker_failures = 5;
    cfg->breaker_cooldown_ms = 10000;
    cfg->race_sport = 0;
    json_t *d = json_object_get(root, "dispatch");
    if (!d)
        return;
    if (!json_is_object(d)) {
        exp_errs_add(e, "$.dispatch: must be an object");
        return;
    }
    exp_check_keys(e, d, "$.dispatch", keys);
    cfg->max_attempts = (int)get_num(e, d, "$.dispatch", "max_attempts", 0, 6, 1, 20);
    cfg->request_timeout_ms =
        (int)get_num(e, d, "$.dispatch", "request_timeout_ms", 0, 120000, 1, 3600000);
    cfg->retry_backoff_ms = (int)get_num(e, d, "$.dispatch", "retry_backoff_ms", 0, 100, 0, 60000);
    cfg->retry_backoff_max_ms = (int)get_num(e, d, "$.dispatch", "retry_backoff_max_ms", 0,
                                             cfg->retry_backoff_ms > 2000 ? cfg->retry_backoff_ms
                                                                          : 2000,
                                             0, 600000);
    if (cfg->retry_backoff_max_ms < cfg->retry_backoff_ms)
        exp_errs_add(e, "$.dispatch.retry_backoff_max_ms: must be at least retry_backoff_ms");
    json_t *sticky = json_object_get(d, "sticky_conversations");
    if (sticky && !json_is_boolean(sticky))
        exp_errs_add(e, "$.dispatch.sticky_conversations: must be true or false");
    cfg->sticky_conversations = !sticky || json_is_true(sticky);
    cfg->sticky_ttl_s = (int)get_num(e, d, "$.dispatch", "sticky_ttl_s", 0, 3600, 1, 30 * 86400);
    cfg->breaker_failures = (int)get_num(e, d, "$.dispatch", "breaker_failures", 0, 5, 1, 1000);
    cfg->breaker_cooldown_ms =
        (int)get_num(e, d, "$.dispatch", "breaker_cooldown_ms", 0, 10000, 10, 3600000);
    json_t *race = json_object_get(d, "race_sport");
    if (race && !json_is_boolean(race))
        exp_errs_add(e, "$.dispatch.race_sport: must be true or false");
    cfg->race_sport = race && json_is_true(race);
}

static void parse_feedback(exp_errs *e, json_t *root, exp_config *cfg)
{
    static const char *const keys[] = {"tolerance_s",  "attribution_window_s", "max_body_bytes",
                                       "max_items",    "db_pool_size",         "db_queue_max",
                                       "db_timeout_ms", "projects",            NULL};
    static const char *const pkeys[] = {"secret_env", NULL};
    exp_feedback *fb = &cfg->feedback;
    json_t *x = json_object_get(root, "feedback");
    if (!x)
        return;
    if (!json_is_object(x)) {
        exp_errs_add(e, "$.feedback: must be an object");
        return;
    }
    exp_check_keys(e, x, "$.feedback", keys);
    fb->enabled = 1;
    fb->tolerance_s = (int)get_num(e, x, "$.feedback", "tolerance_s", 0, 300, 1, 86400);
    fb->attribution_window_s =
        (int)get_num(e, x, "$.feedback", "attribution_window_s", 0, 86400, 1, 31536000);
    fb->max_body_bytes =
        (long)get_num(e, x, "$.feedback", "max_body_bytes", 0, 8 << 20, 1024, 1 << 30);
    fb->max_items = (int)get_num(e, x, "$.feedback", "max_items", 0, 1000, 1, 100000);
    fb->db_pool_size = (int)get_num(e, x, "$.feedback", "db_pool_size", 0, 4, 1, 64);
    fb->db_queue_max = (int)get_num(e, x, "$.feedback", "db_queue_max", 0, 64, 0, 100000);
    fb->db_timeout_ms = (int)get_num(e, x, "$.feedback", "db_timeout_ms", 0, 10000, 100, 600000);
    json_t *projects = json_object_get(x, "projects");
    if (!projects) {
        exp_errs_add(e, "$.feedback.projects: required");
        return;
    }
    if (!json_is_object(projects) || json_object_size(projects) == 0) {
        exp_errs_add(e, "$.feedback.projects: must be a non-empty object keyed by project name");
        return;
    }
    fb->projects = calloc(json_object_size(projects), sizeof(exp_feedback_project));
    if (!fb->projects) {
        exp_errs_add(e, "$.feedback.projects: out of memory");
        return;
    }
    const char *name;
    json_t *p;
    json_object_foreach(projects, name, p) {
        char path[256];
        snprintf(path, sizeof(path), "$.feedback.projects.%s", name);
        if (!json_is_object(p)) {
            exp_errs_add(e, "%s: must be an object", path);
            continue;
        }
        exp_check_keys(e, p, path, pkeys);
        exp_feedback_project *pr = &fb->projects[fb->nprojects++];
        pr->name = dup(name);
        json_t *se = json_object_get(p, "secret_env");
        if (!se) {
            exp_errs_add(e, "%s.secret_env: required", path);
            continue;
        }
        if (json_is_string(se) && json_string_length(se) > 0) {
            pr->secret_env[pr->nsecrets++] = dup(json_string_value(se));
            continue;
        }
        if (!json_is_array(se) || json_array_size(se) < 1 ||
            json_array_size(se) > EXP_FEEDBACK_MAX_SECRETS) {
            exp_errs_add(e,
                    "%s.secret_env: must be an environment variable name or an array of 1 to "
                    "%d of them",
                    path, EXP_FEEDBACK_MAX_SECRETS);
            continue;
        }
        size_t i;
        json_t *v;
        json_array_foreach(se, i, v) {
            if (!json_is_string(v) || json_string_length(v) == 0) {
                exp_errs_add(e, "%s.secret_env[%zu]: must be a non-empty string", path, i);
                continue;
            }
            pr->secret_env[pr->nsecrets++] = dup(json_string_value(v));
        }
    }
}

int exp_config_parse(const char *json, size_t len, exp_config **out, char *err, size_t errlen)
{
    return exp_config_parse_opts(json, len, 0, out, err, errlen);
}

int exp_config_parse_opts(const char *json, size_t len, unsigned flags, exp_config **out,
                          char *err, size_t errlen)
{
    /* the controller's sections (experiments/experiment.h) are accepted, not validated */
    static const char *const keys[] = {"default_model", "experiment", "providers", "models",
                                       "api_keys", "routing", "dispatch", "feedback",
                                       "classifier_rules", "classifier_model", "phases",
                                       "guardrails", "notifications", "attribution_window_s",
                                       NULL};
    exp_errs e = {err, errlen, 0, 0};
    json_error_t jerr;
    exp_config *cfg = NULL;

    if (err && errlen)
        err[0] = '\0';
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        exp_errs_add(&e, "$: invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        exp_errs_add(&e, "$: must be an object");
        goto fail;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        exp_errs_add(&e, "$: out of memory");
        goto fail;
    }
    exp_check_keys(&e, root, "$", keys);
    parse_providers(&e, root, cfg);
    parse_models(&e, root, cfg);
    parse_api_keys(&e, root, cfg, flags);
    parse_experiment(&e, root, cfg);
    parse_feedback(&e, root, cfg);
    cfg->default_model = -1;
    const char *def = get_str(&e, root, "$", "default_model", 1);
    if (def) {
        cfg->default_model = exp_config_find_model(cfg, def);
        if (cfg->default_model < 0 && cfg->models)
            exp_errs_add(&e, "$.default_model: unknown model \"%s\"", def);
    }
    if (cfg->default_model >= 0)
        parse_routing(&e, root, cfg);
    parse_dispatch(&e, root, cfg);
    json_t *rules = json_object_get(root, "classifier_rules");
    if (rules && !json_is_object(rules))
        exp_errs_add(&e, "$.classifier_rules: must be an object");
    else if (rules)
        cfg->classifier_rules = json_dumps(rules, JSON_COMPACT);
    cfg->classifier_model = dup(get_str(&e, root, "$", "classifier_model", 0));
    if (e.n)
        goto fail;
    json_decref(root);
    *out = cfg;
    return 0;
fail:
    json_decref(root);
    exp_config_free(cfg);
    *out = NULL;
    return -1;
}

void exp_config_free(exp_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nproviders; i++) {
        free(cfg->providers[i].name);
        free(cfg->providers[i].base_url);
        free(cfg->providers[i].api_key_env);
        free(cfg->providers[i].anthropic_version);
    }
    for (int i = 0; i < cfg->nmodels; i++) {
        free(cfg->models[i].name);
        free(cfg->models[i].upstream);
        free(cfg->models[i].tier);
    }
    for (int i = 0; i < cfg->napi_keys; i++) {
        free(cfg->api_keys[i].key);
        free(cfg->api_keys[i].key_env);
        free(cfg->api_keys[i].project);
    }
    for (int i = 0; i < cfg->feedback.nprojects; i++) {
        free(cfg->feedback.projects[i].name);
        for (int j = 0; j < cfg->feedback.projects[i].nsecrets; j++)
            free(cfg->feedback.projects[i].secret_env[j]);
    }
    free(cfg->feedback.projects);
    free(cfg->providers);
    free(cfg->models);
    free(cfg->api_keys);
    free(cfg->experiment);
    free(cfg->salt);
    free(cfg->classifier_rules);
    free(cfg->classifier_model);
    free(cfg);
}

int exp_config_find_model(const exp_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nmodels; i++)
        if (!strcmp(cfg->models[i].name, name))
            return i;
    return -1;
}

double exp_usage_cost(const exp_model *m, const exp_usage *u)
{
    long cached = u->cached > 0 ? u->cached : 0, write = u->cache_write > 0 ? u->cache_write : 0;
    long plain = u->in - cached - write;
    if (plain < 0) /* counts that do not add up: bill what was said, none below zero */
        plain = 0;
    return ((double)plain * m->input_usd_per_mtok + (double)cached * m->cached_input_usd_per_mtok +
            (double)write * m->cache_write_usd_per_mtok + (double)u->out * m->output_usd_per_mtok) /
           1e6;
}

double exp_model_cost(const exp_model *m, long tokens_in, long tokens_out)
{
    return ((double)tokens_in * m->input_usd_per_mtok + (double)tokens_out * m->output_usd_per_mtok) /
           1e6;
}
