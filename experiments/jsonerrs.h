/*
 * jsonerrs: how the definition parsers (config.c, experiment.c) report what is
 * wrong: every error, one per line, each starting with its JSON path
 * ("$.models.small.provider: unknown provider \"x\""), into a caller's buffer.
 * Internal to experiments/.
 */
#ifndef SY_EXP_JSONERRS_H
#define SY_EXP_JSONERRS_H

#include <jansson.h>
#include <stddef.h>

typedef struct exp_errs {
    char *buf;  /* may be NULL: count only */
    size_t cap, len;
    int n;      /* errors reported, including those that did not fit */
} exp_errs;

void exp_errs_add(exp_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report every key of obj not in the NULL-terminated allowed list: a typo must
 * not be silently ignored. */
void exp_check_keys(exp_errs *e, json_t *obj, const char *path, const char *const *allowed);

#endif
