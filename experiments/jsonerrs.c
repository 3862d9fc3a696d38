#include "experiments/jsonerrs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void exp_errs_add(exp_errs *e, const char *fmt, ...)
{
    e->n++;
    if (!e->buf || e->len + 1 >= e->cap)
        return;
    if (e->len) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        e->len = e->len + (size_t)w < e->cap ? e->len + (size_t)w : e->cap - 1;
}

void exp_check_keys(exp_errs *e, json_t *obj, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(k, *a))
                ok = 1;
        if (!ok)
            exp_errs_add(e, "%s.%s: unknown key", path, k);
    }
}
