/* Helpers for the wire/anthropic tests: JSON written with single quotes (q() turns
 * them into double quotes, so no text in these tests contains an apostrophe; \\"
 * stays an escaped quote) and compared parsed, with json_equal. Include after
 * <cmocka.h> and <jansson.h>. */
#ifndef SY_TEST_ANTHROPIC_JSON_H
#define SY_TEST_ANTHROPIC_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static inline char *q(const char *s)
{
    char *r = strdup(s);
    assert_non_null(r);
    for (char *p = r; *p; p++)
        if (*p == '\'')
            *p = '"';
    return r;
}

static inline json_t *jq(const char *s)
{
    char *t = q(s);
    json_error_t je;
    json_t *v = json_loads(t, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON (%s): %s", je.text, t);
    free(t);
    return v;
}

/* takes got */
static inline void expect_json(json_t *got, const char *want)
{
    json_t *w = jq(want);
    if (!got || !json_equal(got, w)) {
        char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
        char *ws = json_dumps(w, JSON_COMPACT);
        print_error("got:  %s\nwant: %s\n", g ? g : "(null)", ws);
        free(g);
        free(ws);
        fail();
    }
    json_decref(w);
    json_decref(got);
}

#endif
