#include "sim/sim_model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const task_names[SIM_TASK_COUNT] = {"simple", "code", "reasoning", "complex"};
static const char *const fault_names[SIM_FAULT_COUNT] = {"none", "500", "429", "timeout", "close",
                                                         "midstream", "529"};
static const char *const api_names[] = {"openai", "anthropic"};

/* Default quality when a task type is not given: middling. */
static const sim_quality default_quality = {0.10, 4.0};

const char *sim_task_str(enum sim_task t)
{
    return (unsigned)t < SIM_TASK_COUNT ? task_names[t] : "unknown";
}

const char *sim_fault_str(enum sim_fault f)
{
    return (unsigned)f < SIM_FAULT_COUNT ? fault_names[f] : "unknown";
}

const char *sim_api_str(enum sim_api a)
{
    return (unsigned)a <= SIM_API_ANTHROPIC ? api_names[a] : "unknown";
}

int sim_fault_parse(const char *s, enum sim_fault *out)
{
    for (int i = 0; i < SIM_FAULT_COUNT; i++)
        if (!strcmp(s, fault_names[i])) {
            *out = (enum sim_fault)i;
            return 0;
        }
    return -1;
}

/* ---- parsing helpers: each sets err to "<path>: <reason>" and returns -1 ---- */

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* dst = path.key; a path too long for dst is cut (only error messages show it). */
static void join(char *dst, size_t dstlen, const char *path, const char *key)
{
    int n = snprintf(dst, dstlen, "%s.%s", path, key);
    if (n < 0 && dstlen > 0)
        dst[0] = '\0';
}

/* Refuse any key of obj not in the NULL-terminated list ("_comment" is always allowed). */
static int check_keys(json_t *obj, const char *path, const char *const *allowed, char *err,
                      size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = !strcmp(key, "_comment");
        for (int i = 0; !ok && allowed[i]; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char p[256];
            join(p, sizeof(p), path, key);
            return fail(err, errlen, p, "unknown key");
        }
    }
    return 0;
}

/* Optional object member: NULL if absent, error if present and not an object. */
static int get_object(json_t *obj, const char *key, const char *path, json_t **out, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v)) {
        char p[256];
        join(p, sizeof(p), path, key);
        return fail(err, errlen, p, "expected an object");
    }
    *out = v;
    return 0;
}

static int get_number(json_t *obj, const char *key, const char *path, double lo, double hi,
                      double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0; /* keep the default */
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        char p[256];
        join(p, sizeof(p), path, key);
        return fail(err, errlen, p, "expected a number from %g to %g", lo, hi);
    }
    *out = json_number_value(v);
    return 0;
}

static int get_int(json_t *obj, const char *key, const char *path, int lo, int hi, int *out,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char p[256];
        join(p, sizeof(p), path, key);
        return fail(err, errlen, p, "expected an integer from %d to %d", lo, hi);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SIM_MODEL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

static int parse_latency(json_t *obj, const char *path, sim_model *m, char *err, size_t errlen)
{
    static const char *const keys[] = {"median", "p95", "max", NULL};
    char p[256];
    if (check_keys(obj, path, keys, err, errlen))
        return -1;
    if (get_number(obj, "median", path, 0, SIM_LATENCY_MAX_MS, &m->latency_median_ms, err, errlen))
        return -1;
    m->latency_p95_ms = m->latency_median_ms;
    if (get_number(obj, "p95", path, 0, SIM_LATENCY_MAX_MS, &m->latency_p95_ms, err, errlen))
        return -1;
    if (m->latency_p95_ms < m->latency_median_ms) {
        join(p, sizeof(p), path, "p95");
        return fail(err, errlen, p, "must not be below median (%g)", m->latency_median_ms);
    }
    m->latency_max_ms = fmin(4 * m->latency_p95_ms, SIM_LATENCY_MAX_MS); /* in range too */
    if (get_number(obj, "max", path, 0, SIM_LATENCY_MAX_MS, &m->latency_max_ms, err, errlen))
        return -1;
    if (m->latency_max_ms < m->latency_p95_ms) {
        join(p, sizeof(p), path, "max");
        return fail(err, errlen, p, "must not be below p95 (%g)", m->latency_p95_ms);
    }
    return 0;
}

static int parse_completion(json_t *obj, const char *path, sim_model *m, char *err,
                            size_t errlen)
{
    static const char *const keys[] = {"min", "max", NULL};
    if (check_keys(obj, path, keys, err, errlen))
        return -1;
    if (get_int(obj, "min", path, 1, 32768, &m->completion_min, err, errlen))
        return -1;
    if (m->completion_max < m->completion_min)
        m->completion_max = m->completion_min;
    if (get_int(obj, "max", path, 1, 32768, &m->completion_max, err, errlen))
        return -1;
    if (m->completion_max < m->completion_min) {
        char p[256];
        join(p, sizeof(p), path, "max");
        return fail(err, errlen, p, "must not be below min (%d)", m->completion_min);
    }
    return 0;
}

static int parse_errors(json_t *obj, const char *path, sim_model *m, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    for (int i = 0; i < SIM_FAULT_COUNT; i++)
        m->error_weights[i] = 0;
    json_object_foreach(obj, key, v) {
        enum sim_fault f;
        char p[256];
        join(p, sizeof(p), path, key);
        if (!strcmp(key, "_comment"))
            continue;
        if (sim_fault_parse(key, &f) || f == SIM_FAULT_NONE)
            return fail(err, errlen, p,
                        "unknown error kind (expected 500, 429, 529, timeout, close or "
                        "midstream)");
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6)
            return fail(err, errlen, p, "expected a number from 0 to 1e+06");
        m->error_weights[f] = json_number_value(v);
    }
    return 0;
}

static int parse_quality(json_t *obj, const char *path, sim_model *m, char *err, size_t errlen)
{
    static const char *const keys[] = {"simple", "code", "reasoning", "complex", NULL};
    static const char *const qkeys[] = {"thumbs_down", "rating", NULL};
    if (check_keys(obj, path, keys, err, errlen))
        return -1;
    for (int t = 0; t < SIM_TASK_COUNT; t++) {
        json_t *q;
        char p[256];
        if (get_object(obj, task_names[t], path, &q, err, errlen))
            return -1;
        if (!q)
            continue;
        join(p, sizeof(p), path, task_names[t]);
        if (check_keys(q, p, qkeys, err, errlen) ||
            get_number(q, "thumbs_down", p, 0, 1, &m->quality[t].thumbs_down, err, errlen) ||
            get_number(q, "rating", p, 1, 5, &m->quality[t].rating, err, errlen))
            return -1;
    }
    return 0;
}

static void model_defaults(sim_model *m, const char *id)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->tier, sizeof(m->tier), "standard");
    m->tokens_per_chunk = 4;
    m->completion_min = 16;
    m->completion_max = 256;
    m->error_weights[SIM_FAULT_500] = 1;
    m->retry_after_s = 1;
    for (int t = 0; t < SIM_TASK_COUNT; t++)
        m->quality[t] = default_quality;
    snprintf(m->fingerprint, sizeof(m->fingerprint), "fp_%010llx",
             (unsigned long long)(sim_fnv1a(SIM_FNV_OFFSET, id, strlen(id)) & 0xffffffffffULL));
}

static int parse_model(json_t *obj, const char *id, const char *path, sim_model *m, char *err,
                       size_t errlen)
{
    static const char *const keys[] = {"tier", "latency_ms", "tokens_per_second",
                                       "tokens_per_chunk", "completion_tokens", "error_rate",
                                       "errors", "retry_after_s", "input_usd_per_mtok",
                                       "output_usd_per_mtok", "cached_input_usd_per_mtok",
                                       "cache_hit_rate", "wire", "quality", NULL};
    json_t *sub, *tier, *wire;
    char p[256];

    model_defaults(m, id);
    if (!json_is_object(obj))
        return fail(err, errlen, path, "expected an object");
    if (check_keys(obj, path, keys, err, errlen))
        return -1;

    tier = json_object_get(obj, "tier");
    if (tier) {
        join(p, sizeof(p), path, "tier");
        if (!json_is_string(tier) || !valid_id(json_string_value(tier)) ||
            strlen(json_string_value(tier)) >= sizeof(m->tier))
            return fail(err, errlen, p, "expected a string of 1-31 characters of A-Z a-z 0-9 . _ : / -");
        snprintf(m->tier, sizeof(m->tier), "%s", json_string_value(tier));
    }

    wire = json_object_get(obj, "wire");
    if (wire) {
        join(p, sizeof(p), path, "wire");
        if (json_is_string(wire) && !strcmp(json_string_value(wire), "openai"))
            m->wire = SIM_API_OPENAI;
        else if (json_is_string(wire) && !strcmp(json_string_value(wire), "anthropic"))
            m->wire = SIM_API_ANTHROPIC;
        else
            return fail(err, errlen, p, "expected \"openai\" or \"anthropic\"");
    }

    if (get_object(obj, "latency_ms", path, &sub, err, errlen))
        return -1;
    join(p, sizeof(p), path, "latency_ms");
    if (sub && parse_latency(sub, p, m, err, errlen))
        return -1;

    if (get_number(obj, "tokens_per_second", path, 0, 1e6, &m->tokens_per_second, err, errlen) ||
        get_int(obj, "tokens_per_chunk", path, 1, 256, &m->tokens_per_chunk, err, errlen))
        return -1;

    if (get_object(obj, "completion_tokens", path, &sub, err, errlen))
        return -1;
    join(p, sizeof(p), path, "completion_tokens");
    if (sub && parse_completion(sub, p, m, err, errlen))
        return -1;

    if (get_number(obj, "error_rate", path, 0, 1, &m->error_rate, err, errlen))
        return -1;
    if (get_object(obj, "errors", path, &sub, err, errlen))
        return -1;
    join(p, sizeof(p), path, "errors");
    if (sub && parse_errors(sub, p, m, err, errlen))
        return -1;
    if (m->error_rate > 0) {
        double sum = 0;
        for (int i = 1; i < SIM_FAULT_COUNT; i++)
            sum += m->error_weights[i];
        if (sum <= 0)
            return fail(err, errlen, p, "needs a positive weight when error_rate is above 0");
    }

    if (get_int(obj, "retry_after_s", path, 0, 3600, &m->retry_after_s, err, errlen) ||
        get_number(obj, "input_usd_per_mtok", path, 0, 1e6, &m->input_usd_per_mtok, err,
                   errlen) ||
        get_number(obj, "output_usd_per_mtok", path, 0, 1e6, &m->output_usd_per_mtok, err,
                   errlen) ||
        get_number(obj, "cached_input_usd_per_mtok", path, 0, 1e6,
                   &m->cached_input_usd_per_mtok, err, errlen) ||
        get_number(obj, "cache_hit_rate", path, 0, 1, &m->cache_hit_rate, err, errlen))
        return -1;

    if (get_object(obj, "quality", path, &sub, err, errlen))
        return -1;
    join(p, sizeof(p), path, "quality");
    if (sub && parse_quality(sub, p, m, err, errlen))
        return -1;
    return 0;
}

int sim_catalog_parse(const char *json, size_t len, sim_catalog *out, char *err, size_t errlen)
{
    static const char *const top_keys[] = {"models", NULL};
    json_error_t jerr;
    json_t *root = NULL, *models;
    const char *id;
    json_t *mobj;
    int i = 0;

    out->models = NULL;
    out->n = 0;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "$: invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        fail(err, errlen, "$", "expected an object");
        goto fail;
    }
    if (check_keys(root, "$", top_keys, err, errlen))
        goto fail;
    models = json_object_get(root, "models");
    if (!models) {
        fail(err, errlen, "$.models", "required");
        goto fail;
    }
    if (!json_is_object(models)) {
        fail(err, errlen, "$.models", "expected an object");
        goto fail;
    }
    {
        size_t count = json_object_size(models);
        if (json_object_get(models, "_comment"))
            count--;
        if (count == 0) {
            fail(err, errlen, "$.models", "must define at least one model");
            goto fail;
        }
        out->models = calloc(count, sizeof(*out->models));
        if (!out->models) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    json_object_foreach(models, id, mobj) {
        char p[256];
        if (!strcmp(id, "_comment"))
            continue;
        snprintf(p, sizeof(p), "$.models.%s", id);
        if (!valid_id(id)) {
            fail(err, errlen, p, "model id must be 1-63 characters of A-Z a-z 0-9 . _ : / -");
            goto fail;
        }
        if (parse_model(mobj, id, p, &out->models[i], err, errlen))
            goto fail;
        out->n = ++i;
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    sim_catalog_free(out);
    return -1;
}

int sim_catalog_load_file(const char *path, sim_catalog *out, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    out->models = NULL;
    out->n = 0;
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb;
            if (cap > (size_t)16 << 20) {
                snprintf(err, errlen, "%s: file too large (over 16 MiB)", path);
                goto fail;
            }
            nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = sim_catalog_parse(buf, len, out, err, errlen);
fail:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

void sim_catalog_free(sim_catalog *c)
{
    free(c->models);
    c->models = NULL;
    c->n = 0;
}

const sim_model *sim_catalog_find(const sim_catalog *c, const char *id)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->models[i].id, id))
            return &c->models[i];
    return NULL;
}

double sim_model_sample_latency_ms(const sim_model *m, sim_prng *p)
{
    double ms;
    if (m->latency_median_ms <= 0)
        return 0;
    if (m->latency_p95_ms <= m->latency_median_ms)
        ms = m->latency_median_ms;
    else {
        double sigma = log(m->latency_p95_ms / m->latency_median_ms) / 1.6448536269514722;
        ms = m->latency_median_ms * exp(sigma * sim_prng_normal(p));
    }
    if (ms > m->latency_max_ms)
        ms = m->latency_max_ms;
    return ms < 0 ? 0 : ms;
}

enum sim_fault sim_model_pick_fault(const sim_model *m, sim_prng *p)
{
    double sum = 0, x;
    if (m->error_rate <= 0 || sim_prng_uniform(p) >= m->error_rate)
        return SIM_FAULT_NONE;
    for (int i = 1; i < SIM_FAULT_COUNT; i++)
        sum += m->error_weights[i];
    x = sim_prng_uniform(p) * sum;
    for (int i = 1; i < SIM_FAULT_COUNT; i++) {
        if (x < m->error_weights[i])
            return (enum sim_fault)i;
        x -= m->error_weights[i];
    }
    for (int i = SIM_FAULT_COUNT - 1; i > 0; i--) /* rounding at the top end */
        if (m->error_weights[i] > 0)
            return (enum sim_fault)i;
    return SIM_FAULT_500;
}
