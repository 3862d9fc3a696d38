/*
 * Request events (docs/architecture.md, "Request events") -> rows of the requests table.
 *
 * Pure: validates one event's JSON and appends it as one line of PostgreSQL's COPY text
 * format. Every value is checked against its column type here, so a batch that reaches
 * PostgreSQL cannot fail on one bad event; a bad event gets a reason instead.
 */
#ifndef SY_INGEST_EVENT_H
#define SY_INGEST_EVENT_H

#include <stddef.h>

struct ing_buf {
    char *data;
    size_t len;
    size_t cap;
};

void ing_buf_free(struct ing_buf *b);
int ing_buf_append(struct ing_buf *b, const char *s, size_t n) __attribute__((warn_unused_result));

/*
 * Validate the event JSON (json, len bytes) and append one COPY text line (columns in
 * wire/event.h's WIRE_EVENT_FIELDS order, "\N" for NULL, '\n' at the end) to out.
 * Returns 0, or -1 with a one-line reason in reason (out unchanged). Keys not in the
 * table are ignored (but their values must be valid JSON). Accepts what jansson's
 * json_loadb accepts (see event_scan.h for the one exception); JSON errors read
 * "not valid JSON: <what> at byte <n>", n counting from 0.
 */
int ing_event_to_copy(const char *json, size_t len, struct ing_buf *out, char *reason,
                      size_t reasonlen) __attribute__((warn_unused_result));

/*
 * The same event as one tuple of COPY's binary format (field count, then each field's
 * length and value in the requests columns' types: ts_us as ts timestamptz), after the same checks
 * with the same reasons (and one more, see put_binary in event.c). A batch of tuples goes
 * between ing_copy_binary_header and ing_copy_binary_trailer. The values are those
 * PostgreSQL makes of ing_event_to_copy()'s line.
 */
int ing_event_to_copy_binary(const char *json, size_t len, struct ing_buf *out, char *reason,
                             size_t reasonlen) __attribute__((warn_unused_result));

#define ING_COPY_BINARY_HEADER_LEN 19
#define ING_COPY_BINARY_TRAILER_LEN 2
extern const char ing_copy_binary_header[ING_COPY_BINARY_HEADER_LEN];
extern const char ing_copy_binary_trailer[ING_COPY_BINARY_TRAILER_LEN];

/* The SQL that goes with the COPY lines:
 *   create: CREATE TEMP TABLE <table> (...) ON COMMIT DELETE ROWS
 *   copy:   COPY <table> (...) FROM STDIN
 *   insert: SELECT sy_ingest_requests('<table>') (migrations/0009: INSERT ... ON CONFLICT
 *           DO NOTHING into each day's partition, rollups in the same statement; it maps
 *           the staging columns to requests by name, ts_us to ts)
 * Returns 0, or -1 if a buffer is too small. */
int ing_event_sql(const char *table, char *create, size_t createlen, char *copy, size_t copylen,
                  char *insert, size_t insertlen) __attribute__((warn_unused_result));
/* The same; binary: for ing_event_to_copy_binary(), the COPY takes (FORMAT binary) and
 * the columns are the requests columns (ts timestamptz for ts_us), in the staging table
 * as in the COPY. */
int ing_event_sql_format(const char *table, int binary, char *create, size_t createlen,
                         char *copy, size_t copylen, char *insert, size_t insertlen)
    __attribute__((warn_unused_result));

#endif
