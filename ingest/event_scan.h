/*
 * The event scanner: one pass over one request event's JSON, no allocation.
 *
 * Every key of the top-level object is looked up in a caller's key table and its value's
 * span and kind are recorded (a later duplicate key overrides an earlier one, as in
 * jansson); values of other keys are validated and skipped. ingest/event.c turns the
 * recorded values into a COPY line.
 *
 * It accepts exactly what jansson's json_loadb(json, len, 0, ...) accepts (RFC 8259 plus
 * jansson's limits: nesting depth 2048, \u0000 rejected, integers without '.', 'e' or
 * 'E' must fit in int64, reals must not overflow a double), with one deliberate
 * difference: jansson skips a raw NUL byte that directly follows a number or
 * true/false/null (its lexer loses an un-got NUL), here a raw NUL is invalid anywhere.
 * tests/unit/test_migrate_event.c compares the two on generated and mutated events and
 * tests/fuzz/fuzz_event.c on whatever libFuzzer finds.
 */
#ifndef SY_INGEST_EVENT_SCAN_H
#define SY_INGEST_EVENT_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Keys longer than this never match an entry of the key table (none is that long). */
#define ING_SCAN_KEY_MAX 64

enum ing_jkind {
    ING_J_MISSING, /* the key did not occur */
    ING_J_NULL,
    ING_J_FALSE,
    ING_J_TRUE,
    ING_J_STRING,
    ING_J_INT,
    ING_J_REAL,
    ING_J_CONTAINER, /* an object or array (validated, not recorded) */
};

struct ing_jvalue {
    enum ing_jkind kind;
    int escaped;   /* ING_J_STRING: contains backslash escapes */
    const char *s; /* ING_J_STRING: the bytes between the quotes; ING_J_INT, ING_J_REAL: the text */
    size_t n;
    int64_t i;     /* ING_J_INT */
    double d;      /* ING_J_REAL */
};

/* One key to record, as its bytes (no escapes). */
struct ing_scan_key {
    const char *key;
    size_t keylen;
};

/*
 * Scans json[0..len). vals[k] gets the value of keys[k] (the caller sets every kind to
 * ING_J_MISSING first). Keys are tried in table order after the previous match first, so
 * events whose keys come in table order cost one comparison a key.
 * Returns 0 (an object), 1 (valid JSON but not an object), or -1 (not valid JSON, with
 * "not valid JSON: <what> at byte <n>" in reason, n counting from 0).
 */
int ing_scan_object(const char *json, size_t len, const struct ing_scan_key *keys, size_t nkeys,
                    struct ing_jvalue *vals, char *reason, size_t reasonlen)
    __attribute__((warn_unused_result));

/*
 * Decodes a string body (s, n) that ing_scan_object accepted, into o. copy_escape: also
 * escape backslash, LF, CR and tab for COPY's text format (whose escapes for these are
 * JSON's own). The result is never longer than the body. Returns the end of what was
 * written.
 */
char *ing_scan_unescape(char *o, const char *s, size_t n, int copy_escape);

#endif
