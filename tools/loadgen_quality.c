/*
 * loadgen_quality: the quality table (see loadgen_quality.h).
 */
#include "tools/loadgen_quality.h"

#include "tools/loadgen_options.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lg_qmodel *find(const lg_qtable *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->models[i].name, name))
            return &t->models[i];
    return NULL;
}

static lg_qmodel *add(lg_qtable *t, const char *name)
{
    lg_qmodel *m = realloc(t->models, (size_t)(t->n + 1) * sizeof(*m));
    if (!m)
        return NULL;
    t->models = m;
    m = &t->models[t->n];
    memset(m, 0, sizeof(*m));
    m->name = strdup(name);
    if (!m->name)
        return NULL;
    for (int k = 0; k < WIRE_NTASKS; k++)
        m->q[k] = (lg_quality){LG_DEFAULT_THUMBS_DOWN, LG_DEFAULT_RATING};
    t->n++;
    return m;
}

int lg_override_parse(lg_qtable *t, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    lg_override *cur = NULL;
    while (1) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[512];
        if (n == 0 || n >= sizeof(item)) {
            snprintf(err, errlen, "expected MODEL:TASK:thumbs_down=P[,rating=R] (got \"%s\")",
                     spec);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, errlen, "\"%s\": expected MODEL:TASK:KEY=VALUE", item);
            return -1;
        }
        *eq = '\0';
        const char *val = eq + 1;
        char *key = strrchr(item, ':');
        if (key) { /* MODEL:TASK:KEY */
            *key++ = '\0';
            char *task = strrchr(item, ':');
            if (!task || task == item) {
                snprintf(err, errlen, "\"%s\": expected MODEL:TASK:KEY=VALUE", item);
                return -1;
            }
            *task++ = '\0';
            wire_task tk;
            int ti = -1;
            if (strcmp(task, "*")) {
                if (wire_task_parse(task, &tk)) {
                    snprintf(err, errlen,
                             "unknown task type \"%s\" (use simple, code, reasoning, complex or *)",
                             task);
                    return -1;
                }
                ti = (int)tk;
            }
            lg_override *ov = realloc(t->ov, (size_t)(t->nov + 1) * sizeof(*ov));
            if (!ov) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            t->ov = ov;
            cur = &t->ov[t->nov];
            memset(cur, 0, sizeof(*cur));
            cur->model = strdup(item);
            cur->task = ti;
            if (!cur->model) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            t->nov++;
        } else {
            key = item;
            if (!cur) {
                snprintf(err, errlen, "\"%s\": expected MODEL:TASK:KEY=VALUE", item);
                return -1;
            }
        }
        if (!strcmp(key, "thumbs_down")) {
            if (lg_parse_double(val, 0, 1, &cur->thumbs_down)) {
                snprintf(err, errlen,
                         "thumbs_down: expected a probability from 0 to 1 (got \"%s\")", val);
                return -1;
            }
            cur->has_thumbs_down = 1;
        } else if (!strcmp(key, "rating")) {
            if (lg_parse_double(val, 1, 5, &cur->rating)) {
                snprintf(err, errlen, "rating: expected a number from 1 to 5 (got \"%s\")", val);
                return -1;
            }
            cur->has_rating = 1;
        } else {
            snprintf(err, errlen, "unknown key \"%s\" (use thumbs_down or rating)", key);
            return -1;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int get_num(json_t *o, const char *key, double lo, double hi, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return -1;
    *out = json_number_value(v);
    return 0;
}

int lg_qtable_load_sim(lg_qtable *t, const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *data = json_object_get(root, "data");
    int rc = -1;
    if (!json_is_array(data)) {
        snprintf(err, errlen, "expected {\"object\":\"list\",\"data\":[...]}");
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id) {
            snprintf(err, errlen, "$.data[%zu].id: expected a string", i);
            goto done;
        }
        lg_qmodel *qm = find(t, id);
        if (!qm && !(qm = add(t, id))) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        qm->from_sim = 1;
        json_t *q = json_object_get(json_object_get(m, "switchyard"), "quality");
        for (int k = 0; k < WIRE_NTASKS; k++) {
            json_t *tq = json_object_get(q, wire_task_str((wire_task)k));
            if (get_num(tq, "thumbs_down", 0, 1, &qm->q[k].thumbs_down) ||
                get_num(tq, "rating", 1, 5, &qm->q[k].rating)) {
                snprintf(err, errlen,
                         "$.data[%zu].switchyard.quality.%s: bad thumbs_down or rating", i,
                         wire_task_str((wire_task)k));
                goto done;
            }
        }
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static void apply(lg_qmodel *m, const lg_override *o)
{
    for (int k = 0; k < WIRE_NTASKS; k++) {
        if (o->task >= 0 && o->task != k)
            continue;
        if (o->has_thumbs_down)
            m->q[k].thumbs_down = o->thumbs_down;
        if (o->has_rating)
            m->q[k].rating = o->rating;
    }
}

int lg_qtable_apply_overrides(lg_qtable *t)
{
    for (int i = 0; i < t->nov; i++) {
        const lg_override *o = &t->ov[i];
        if (!strcmp(o->model, "*")) {
            for (int j = 0; j < t->n; j++)
                apply(&t->models[j], o);
            continue;
        }
        lg_qmodel *m = find(t, o->model);
        if (!m && !(m = add(t, o->model)))
            return -1;
        apply(m, o);
    }
    return 0;
}

lg_quality lg_qtable_lookup(const lg_qtable *t, const char *model, wire_task task, int *known)
{
    const lg_qmodel *m = model ? find(t, model) : NULL;
    *known = m != NULL;
    if (m)
        return m->q[task];
    lg_quality q = {LG_DEFAULT_THUMBS_DOWN, LG_DEFAULT_RATING};
    /* a "*" override still applies to a model nobody listed */
    for (int i = 0; i < t->nov; i++) {
        const lg_override *o = &t->ov[i];
        if (strcmp(o->model, "*") || (o->task >= 0 && o->task != (int)task))
            continue;
        if (o->has_thumbs_down)
            q.thumbs_down = o->thumbs_down;
        if (o->has_rating)
            q.rating = o->rating;
    }
    return q;
}

void lg_qtable_free(lg_qtable *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->models[i].name);
    free(t->models);
    for (int i = 0; i < t->nov; i++)
        free(t->ov[i].model);
    free(t->ov);
    memset(t, 0, sizeof(*t));
}
