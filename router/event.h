/*
 * event: the one record the router writes per request, serialised to the JSON object
 * ingest reads. Its fields are wire/event.h's WIRE_EVENT_FIELDS, one member each, of
 * the same name; the writer is generated from that list.
 */
#ifndef SY_RT_EVENT_H
#define SY_RT_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_event {
    char request_id[40];
    int64_t ts_us;
    const char *project;
    char user_hash[17];
    int bucket;
    const char *experiment;
    const char *phase;
    int routed_bp;          /* the routed share the phase applied (basis points) */
    const char *cohort;
    const char *task_type; /* NULL: not classified */
    double task_confidence; /* NaN: not classified (null) */
    const char *mode;
    const char *served_model; /* NULL: nothing answered */
    const char *provider;
    const char *would_have_model;
    int stream;
    int status;
    const char *error;
    int attempts;           /* upstream attempts started: retries and failover included */
    const char *fallback;   /* NULL: the chosen model answered; "tier": a same-tier model of
                             * another provider; "default": the experiment's default model */
    int sticky;             /* the model came from the conversation's first turn */
    long tokens_in, tokens_out; /* tokens_in: every prompt token, cached ones included */
    long cached_tokens, cache_write_tokens; /* of tokens_in: read from / written to the cache */
    double cost_usd, baseline_cost_usd;
    int64_t latency_us, upstream_us, overhead_us;
    int redis_fallback;
} rt_event;

/* malloc'd JSON object; *len gets its length. NULL on out of memory. */
char *rt_event_json(const rt_event *ev, size_t *len);

#endif
