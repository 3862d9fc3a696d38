/*
 * Explicit rules: regex patterns, long input, fenced code. Pure functions over
 * the text window; the regexes are compiled once when the rules are built.
 */
#include "classifier/rules.h"

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pattern {
    regex_t re;
    wire_task task;
    char why[96];
};

struct clf_rules {
    bool code_fence;
    size_t long_input_tokens; /* 0 = off */
    wire_task long_input_task;
    double min_confidence;
    wire_task fallback_task;
    wire_task tools_task; /* a tool-bearing request judged simple becomes this (NONE: off) */
    struct pattern pat[CLF_RULES_MAX_PATTERNS];
    size_t npat;
};

struct clf_rules *clf_rules_new(void)
{
    struct clf_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->code_fence = true;
    r->long_input_task = WIRE_TASK_COMPLEX;
    r->fallback_task = WIRE_TASK_NONE;
    r->tools_task = CLF_TOOLS_TASK_DEFAULT;
    return r;
}

void clf_rules_free(struct clf_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->npat; i++)
        regfree(&r->pat[i].re);
    free(r);
}

void clf_rules_set_code_fence(struct clf_rules *r, bool on)
{
    r->code_fence = on;
}

void clf_rules_set_long_input(struct clf_rules *r, size_t tokens, wire_task task)
{
    r->long_input_tokens = tokens;
    r->long_input_task = task;
}

void clf_rules_set_fallback(struct clf_rules *r, double min_confidence, wire_task task)
{
    r->min_confidence = min_confidence;
    r->fallback_task = task;
}

double clf_rules_min_confidence(const struct clf_rules *r)
{
    return r ? r->min_confidence : 0;
}

wire_task clf_rules_fallback_task(const struct clf_rules *r)
{
    return r ? r->fallback_task : WIRE_TASK_NONE;
}

wire_task clf_rules_tools_task(const struct clf_rules *r)
{
    return r ? r->tools_task : CLF_TOOLS_TASK_DEFAULT;
}

int clf_rules_add_pattern(struct clf_rules *r, const char *regex, wire_task task, char *err,
                          size_t errlen)
{
    if (r->npat >= CLF_RULES_MAX_PATTERNS) {
        snprintf(err, errlen, "too many patterns (at most %d)", CLF_RULES_MAX_PATTERNS);
        return -1;
    }
    if (task < 0 || task >= WIRE_NTASKS) {
        snprintf(err, errlen, "pattern task must be one of simple, code, reasoning, complex");
        return -1;
    }
    /* back-references make matching exponential; the hot path must stay bounded */
    for (const char *p = regex; *p; p++)
        if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
            snprintf(err, errlen, "back-references are not allowed in patterns");
            return -1;
        }
        else if (p[0] == '\\' && p[1])
            p++;
    struct pattern *pt = &r->pat[r->npat];
    int rc = regcomp(&pt->re, regex, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &pt->re, msg, sizeof(msg));
        snprintf(err, errlen, "bad regex \"%s\": %s", regex, msg);
        return -1;
    }
    pt->task = task;
    snprintf(pt->why, sizeof(pt->why), "pattern %zu", r->npat);
    r->npat++;
    return 0;
}

static int task_of(json_t *v, const char *path, bool allow_default, wire_task *out, char *err,
                   size_t errlen)
{
    if (!json_is_string(v) || clf_target_parse(json_string_value(v), out) != 0 ||
        (!allow_default && *out == WIRE_TASK_NONE)) {
        snprintf(err, errlen, "%s: must be one of simple, code, reasoning, complex%s", path,
                 allow_default ? ", default" : "");
        return -1;
    }
    return 0;
}

int clf_rules_parse_json(const char *json, struct clf_rules **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    *out = NULL;
    if (!root) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return -1;
    }
    int rc = clf_rules_from_json(root, out, err, errlen);
    json_decref(root);
    return rc;
}

int clf_rules_from_json(const struct json_t *obj, struct clf_rules **out, char *err,
                        size_t errlen)
{
    struct clf_rules *r = NULL;
    json_t *root = (json_t *)obj; /* jansson's iteration API is not const-qualified */
    *out = NULL;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "$: must be an object");
        goto fail;
    }
    r = clf_rules_new();
    if (!r) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "code_fence")) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "$.code_fence: must be a boolean");
                goto fail;
            }
            r->code_fence = json_is_true(v);
        } else if (!strcmp(key, "long_input_tokens")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(err, errlen, "$.long_input_tokens: must be a non-negative integer");
                goto fail;
            }
            r->long_input_tokens = (size_t)json_integer_value(v);
        } else if (!strcmp(key, "long_input_task")) {
            if (task_of(v, "$.long_input_task", false, &r->long_input_task, err, errlen))
                goto fail;
        } else if (!strcmp(key, "min_confidence")) {
            if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
                snprintf(err, errlen, "$.min_confidence: must be a number within 0..1");
                goto fail;
            }
            r->min_confidence = json_number_value(v);
        } else if (!strcmp(key, "tools_task")) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "none")) {
                r->tools_task = WIRE_TASK_NONE;
            } else if (task_of(v, "$.tools_task", false, &r->tools_task, err, errlen)) {
                snprintf(err, errlen, "$.tools_task: must be one of simple, code, reasoning, "
                                      "complex, none");
                goto fail;
            }
        } else if (!strcmp(key, "fallback_task")) {
            if (task_of(v, "$.fallback_task", true, &r->fallback_task, err, errlen))
                goto fail;
        } else if (!strcmp(key, "patterns")) {
            if (!json_is_array(v)) {
                snprintf(err, errlen, "$.patterns: must be an array");
                goto fail;
            }
            size_t i;
            json_t *p;
            json_array_foreach(v, i, p) {
                char path[64], perr[200];
                json_t *re = json_object_get(p, "regex");
                wire_task t;
                snprintf(path, sizeof(path), "$.patterns[%zu]", i);
                if (!json_is_object(p) || !json_is_string(re) || json_object_size(p) != 2) {
                    snprintf(err, errlen, "%s: must be {\"regex\": string, \"task\": string}", path);
                    goto fail;
                }
                snprintf(path, sizeof(path), "$.patterns[%zu].task", i);
                if (task_of(json_object_get(p, "task"), path, false, &t, err, errlen))
                    goto fail;
                if (clf_rules_add_pattern(r, json_string_value(re), t, perr, sizeof(perr))) {
                    snprintf(err, errlen, "$.patterns[%zu].regex: %s", i, perr);
                    goto fail;
                }
            }
        } else {
            snprintf(err, errlen, "$.%s: unknown key", key);
            goto fail;
        }
    }
    *out = r;
    return 0;
fail:
    clf_rules_free(r);
    return -1;
}

size_t clf_estimate_tokens(size_t len)
{
    return len / 4 + (len % 4 != 0);
}

/* a line (in the window) starting with ``` or ~~~ after optional indentation */
static bool has_fence(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (p[j] == ' ' || p[j] == '\t'))
            j++;
        if (j + 3 <= n && ((p[j] == '`' && p[j + 1] == '`' && p[j + 2] == '`') ||
                           (p[j] == '~' && p[j + 1] == '~' && p[j + 2] == '~')))
            return true;
        const char *nl = memchr(p + j, '\n', n - j);
        if (!nl)
            break;
        i = (size_t)(nl - p) + 1;
    }
    return false;
}

bool clf_rules_match(const struct clf_rules *r, const char *text, size_t len,
                     wire_task *task, const char **why)
{
    if (!r || !text)
        return false;
    if (r->npat > 0) {
        /* NUL-terminated copy of the window: head, a newline, tail */
        char buf[CLF_RULES_HEAD + CLF_RULES_TAIL + 2];
        size_t n;
        if (len <= CLF_RULES_HEAD + CLF_RULES_TAIL) {
            memcpy(buf, text, len);
            n = len;
        } else {
            memcpy(buf, text, CLF_RULES_HEAD);
            buf[CLF_RULES_HEAD] = '\n';
            memcpy(buf + CLF_RULES_HEAD + 1, text + len - CLF_RULES_TAIL, CLF_RULES_TAIL);
            n = CLF_RULES_HEAD + 1 + CLF_RULES_TAIL;
        }
        buf[n] = 0;
        for (size_t i = 0; i < r->npat; i++)
            if (regexec(&r->pat[i].re, buf, 0, NULL, 0) == 0) {
                *task = r->pat[i].task;
                *why = r->pat[i].why;
                return true;
            }
    }
    if (r->long_input_tokens > 0 && clf_estimate_tokens(len) > r->long_input_tokens) {
        *task = r->long_input_task;
        *why = "long input";
        return true;
    }
    if (r->code_fence) {
        size_t h = len < CLF_RULES_HEAD ? len : CLF_RULES_HEAD;
        bool fence = has_fence(text, h);
        if (!fence && len > CLF_RULES_HEAD) {
            size_t t = len - CLF_RULES_TAIL > CLF_RULES_HEAD ? len - CLF_RULES_TAIL : CLF_RULES_HEAD;
            /* start the tail window at a line boundary */
            const char *nl = memchr(text + t, '\n', len - t);
            if (nl)
                fence = has_fence(nl + 1, (size_t)(text + len - (nl + 1)));
        }
        if (fence) {
            *task = WIRE_TASK_CODE;
            *why = "code fence";
            return true;
        }
    }
    return false;
}
