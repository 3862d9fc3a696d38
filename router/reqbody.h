/*
 * reqbody: the client's request body, forwarded upstream with the routed
 * model's name spliced in place of the root object's "model" value, instead of
 * re-serialising the parsed jansson tree for every attempt.
 *
 * Splicing is only done when it is exact: the body is one JSON object, its
 * root has at most one "model" key, no root key is written with escapes (an
 * escaped key could be "model" in disguise), and the body has no duplicate
 * keys anywhere (the caller compares rt_body_span.members with the parsed
 * tree's rt_body_tree_members(): jansson keeps the last of duplicates, and a
 * provider reading the original bytes might not). Then the spliced body
 * parses to exactly the tree with "model" set; otherwise the caller
 * re-serialises the tree.
 */
#ifndef SY_RT_REQBODY_H
#define SY_RT_REQBODY_H

#include <stddef.h>

struct json_t;

typedef struct rt_body_span {
    size_t start, end;   /* the "model" value, quotes included; start == end: no
                            "model" member, add one just before the root's '}'
                            (where jansson adds it) */
    size_t members;      /* object members in the whole body, every level */
    int root_empty;      /* the root object has no members */
} rt_body_span;

/* Scan body, a JSON text jansson accepted: 0 and *span filled when the model
 * can be spliced as described above (not checked here: duplicates); -1 when
 * not. Any other bytes are scanned safely (only body[0, len) is read), but the
 * answer then means nothing: the scan checks structure only as far as it
 * needs to (strings, nesting depth, the root). */
int rt_body_find_model(const char *body, size_t len, rt_body_span *span)
    __attribute__((warn_unused_result));

/* Object members in a parsed tree, every level (duplicates are gone there). */
size_t rt_body_tree_members(const struct json_t *root);

/* The body with the model value replaced by the JSON string of model (UTF-8,
 * escaped as jansson escapes), written to out when it fits in cap bytes (no
 * NUL added). Returns the spliced length either way, like snprintf. */
size_t rt_body_splice_model(const char *body, size_t len, const rt_body_span *span,
                            const char *model, char *out, size_t cap);

#endif
