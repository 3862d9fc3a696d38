/*
 * wire/event: the request event, the one record the router writes per request and
 * ingest turns into a row of `requests` (docs/architecture.md, "Request events").
 *
 * WIRE_EVENT_FIELDS is the only list of its fields. From it come the router's JSON
 * writer (router/event.c: keys in this order), ingest's column table and its SQL
 * (ingest/event.c: COPY columns in this order), and the check that the migrations
 * create exactly these columns with these types (tests/integration/test_migrate.py
 * reads this list). A new field is one line here plus a migration.
 *
 *   X(key, column, type, required)
 *     key       JSON key, and the rt_event member that holds the value
 *     column    the `requests` column
 *     type      WIRE_F_*: the JSON value accepted and the column's SQL type
 *     required  1: an event without it (or with an empty string) is refused
 *
 * Values may be null (a missing key is null) unless required. A real that is not a
 * number (NaN) is written as null.
 */
#ifndef SY_WIRE_EVENT_H
#define SY_WIRE_EVENT_H

#include <stdint.h>

typedef enum {
    WIRE_F_TEXT,   /* string                              text */
    WIRE_F_INT4,   /* integer, 32-bit                      integer */
    WIRE_F_INT8,   /* integer, 64-bit                      bigint */
    WIRE_F_REAL4,  /* number, written with 4 decimals      real */
    WIRE_F_REAL8,  /* number, written with 10 decimals     double precision */
    WIRE_F_BOOL,   /* true or false                        boolean */
    WIRE_F_TS_US,  /* integer, microseconds since 1970     timestamptz */
} wire_field_type;

/* A WIRE_F_TS_US value is 0..WIRE_TS_US_MAX (1970-01-01 .. 9999-12-31T23:59:59.999999Z);
 * as timestamptz in COPY's binary format it is counted from PostgreSQL's epoch,
 * 2000-01-01, WIRE_PG_EPOCH_US microseconds after 1970. */
#define WIRE_TS_US_MAX INT64_C(253402300799999999)
#define WIRE_PG_EPOCH_US INT64_C(946684800000000)

#define WIRE_EVENT_FIELDS(X)                                  \
    X(request_id, "request_id", WIRE_F_TEXT, 1)               \
    X(ts_us, "ts", WIRE_F_TS_US, 1)                           \
    X(project, "project", WIRE_F_TEXT, 0)                     \
    X(user_hash, "user_hash", WIRE_F_TEXT, 0)                 \
    X(bucket, "bucket", WIRE_F_INT4, 0)                       \
    X(experiment, "experiment", WIRE_F_TEXT, 0)               \
    X(phase, "phase", WIRE_F_TEXT, 0)                         \
    X(routed_bp, "routed_bp", WIRE_F_INT4, 0)                 \
    X(cohort, "cohort", WIRE_F_TEXT, 0)                       \
    X(task_type, "task_type", WIRE_F_TEXT, 0)                 \
    X(task_confidence, "task_confidence", WIRE_F_REAL4, 0)    \
    X(mode, "mode", WIRE_F_TEXT, 0)                           \
    X(served_model, "served_model", WIRE_F_TEXT, 0)           \
    X(provider, "provider", WIRE_F_TEXT, 0)                   \
    X(would_have_model, "would_have_model", WIRE_F_TEXT, 0)   \
    X(stream, "stream", WIRE_F_BOOL, 0)                       \
    X(status, "status", WIRE_F_INT4, 0)                       \
    X(error, "error", WIRE_F_TEXT, 0)                         \
    X(attempts, "attempts", WIRE_F_INT4, 0)                   \
    X(fallback, "fallback", WIRE_F_TEXT, 0)                   \
    X(sticky, "sticky", WIRE_F_BOOL, 0)                       \
    X(tokens_in, "tokens_in", WIRE_F_INT4, 0)                 \
    X(tokens_out, "tokens_out", WIRE_F_INT4, 0)               \
    X(cached_tokens, "cached_tokens", WIRE_F_INT4, 0)         \
    X(cache_write_tokens, "cache_write_tokens", WIRE_F_INT4, 0) \
    X(cost_usd, "cost_usd", WIRE_F_REAL8, 0)                  \
    X(baseline_cost_usd, "baseline_cost_usd", WIRE_F_REAL8, 0) \
    X(latency_us, "latency_us", WIRE_F_INT8, 0)               \
    X(upstream_us, "upstream_us", WIRE_F_INT8, 0)             \
    X(overhead_us, "overhead_us", WIRE_F_INT8, 0)             \
    X(redis_fallback, "redis_fallback", WIRE_F_BOOL, 0)

/* The column's SQL type ("text", "integer", ...; "timestamptz" for WIRE_F_TS_US). */
const char *wire_field_sql_type(wire_field_type t);

#endif
