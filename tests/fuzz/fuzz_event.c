/*
 * libFuzzer target: the ingest's event JSON -> PostgreSQL COPY text line
 * converter (ingest/event.c, ing_event_to_copy) on arbitrary bytes.
 *
 * Byte 0 bit 0 picks whether the output buffer already holds a line (as in a
 * batch) or is empty; the rest is the event. Invariants beyond "no crash, no
 * leak": on success exactly one line was appended, with one field per column
 * (tab-separated), no raw CR, LF or NUL inside, and a non-empty, non-NULL
 * request_id first; on failure the buffer is byte for byte what it was and
 * the reason is a non-empty string.
 *
 * And differential: the same input through the old jansson-based converter
 * (tests/unit/event_reference.h) must give the same line, or the same reason
 * (for invalid JSON: both starting "not valid JSON: "); the one documented
 * difference (a raw NUL byte) is allowed there. And the binary COPY tuple
 * (ing_event_to_copy_binary) must hold what PostgreSQL makes of the text line
 * (tests/unit/event_binary.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/event.h"
#include "tests/unit/event_binary.h"
#include "tests/unit/event_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t ncolumns; /* from the COPY statement's column list */

static void init_columns(void)
{
    char create[4096], copy[4096], insert[8192];
    if (ing_event_sql("fuzz_events", create, sizeof(create), copy, sizeof(copy), insert,
                      sizeof(insert)) != 0)
        abort();
    ncolumns = 1;
    for (const char *p = copy; *p; p++)
        ncolumns += *p == ',';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!ncolumns)
        init_columns();

    static const char prior[] = "r-0\t0\t\\N\n";
    struct ing_buf out = {0};
    if ((data[0] & 1) && ing_buf_append(&out, prior, sizeof(prior) - 1) != 0)
        abort();
    size_t mark = out.len;
    char reason[256];
    memset(reason, 0x55, sizeof(reason));

    int rc = ing_event_to_copy((const char *)data + 1, size - 1, &out, reason, sizeof(reason));
    if (mark && memcmp(out.data, prior, mark))
        abort();
    if (rc == 0) {
        const char *line = out.data + mark;
        size_t n = out.len - mark;
        if (n < 1 || line[n - 1] != '\n' || strlen(line) != n)
            abort();
        size_t fields = 1;
        for (size_t i = 0; i + 1 < n; i++) {
            if (line[i] == '\n' || line[i] == '\r')
                abort();
            fields += line[i] == '\t';
        }
        if (fields != ncolumns)
            abort();
        if (line[0] == '\t' || !strncmp(line, "\\N\t", 3))
            abort(); /* request_id is required and non-empty */
    } else if (rc == -1) {
        if (out.len != mark || (out.data && out.data[mark] != '\0'))
            abort();
        /* Not checked: that the reason is one line. jansson's "near '<token>'"
         * can quote a raw newline from the input; the ingest only logs (escaped)
         * and dead-letters the reason, so that is cosmetic. */
        size_t rl = strnlen(reason, sizeof(reason));
        if (rl == 0 || rl == sizeof(reason))
            abort();
    } else {
        abort();
    }
    ing_buf_free(&out);

    const char *diff = ref_compare((const char *)data + 1, size - 1, (data[0] & 1) ? prior : "",
                                   (data[0] & 1) ? sizeof(prior) - 1 : 0);
    if (diff) {
        fprintf(stderr, "fuzz_event: differs from jansson: %s\n", diff);
        abort();
    }
    if ((diff = bin_compare((const char *)data + 1, size - 1)) != NULL) {
        fprintf(stderr, "fuzz_event: binary COPY: %s\n", diff);
        abort();
    }
    return 0;
}
