/*
 * libFuzzer target: the request body splicer (router/reqbody.c,
 * rt_body_find_model + rt_body_splice_model) on arbitrary bytes.
 *
 * Byte 0 picks the model name spliced in (some need escaping); the rest is the
 * body. Invariants beyond "no crash, no leak, no read past the body":
 * - the span is inside the body and, when it is a value, starts and ends with
 *   a quote; the spliced length is the same whatever the output buffer size,
 *   and nothing is written past that size;
 * - the oracle: when jansson accepts the body as an object and the splicer
 *   accepts it with as many members as the parsed tree has (no duplicates, as
 *   the router checks), the spliced body parses to exactly the tree with
 *   "model" set to the name: what the router would have sent by
 *   re-serialising;
 * - when jansson accepts an object whose root has one "model" string member
 *   with an unescaped key and no escaped root keys, the splicer accepts it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/reqbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"sim-instant", "", "a\"b", "back\\slash", "nl\nx\x01\x1f",
                                    "\xc3\xa9t\xc3\xa9", "model", "{\"model\":1}"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *model = names[data[0] % (sizeof(names) / sizeof(*names))];
    /* a copy of exactly the body's size, so ASan sees any read past it */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    json_t *root = json_loadb(body, len, 0, NULL);
    rt_body_span sp;
    int rc = rt_body_find_model(body, len, &sp);
    if (rc == 0) {
        if (sp.start > sp.end || sp.end > len)
            abort();
        if (sp.start < sp.end &&
            (sp.end - sp.start < 2 || body[sp.start] != '"' || body[sp.end - 1] != '"'))
            abort();
        size_t need = rt_body_splice_model(body, len, &sp, model, NULL, 0);
        size_t cap = need / 2;
        char *out = malloc(need + 1);
        if (!out)
            abort();
        memset(out, 'X', need + 1);
        if (rt_body_splice_model(body, len, &sp, model, out, cap) != need)
            abort();
        for (size_t i = cap; i <= need; i++)
            if (out[i] != 'X')
                abort();
        if (rt_body_splice_model(body, len, &sp, model, out, need) != need || out[need] != 'X')
            abort();
        if (json_is_object(root) && sp.members == rt_body_tree_members(root)) {
            json_error_t err;
            json_t *got = json_loadb(out, need, 0, &err);
            json_t *want = json_deep_copy(root);
            if (!got || !want)
                abort();
            json_object_set_new(want, "model", json_string(model));
            if (!json_equal(got, want))
                abort();
            json_decref(got);
            json_decref(want);
        }
        free(out);
    } else if (json_is_object(root) && json_is_string(json_object_get(root, "model"))) {
        /* refused: allowed only for a duplicate or escaped root key */
        const char *p = memchr(body, '{', len);
        int unusual = 0;
        /* crude but sufficient: any backslash before the model's value or a
         * second "model" key makes refusal legitimate */
        size_t n = 0;
        for (const char *q = p; q && (q = memmem(q, len - (size_t)(q - body), "\"model\"", 7));
             q += 7)
            n++;
        unusual = n != 1 || memchr(body, '\\', len) != NULL;
        if (!unusual)
            abort();
    }
    json_decref(root);
    free(body);
    return 0;
}
