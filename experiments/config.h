/*
 * Router configuration: providers, model catalog with tiers and prices,
 * default model, client API keys, the experiment's identity.
 *
 * Parsed from a JSON string (the caller reads the file); no I/O here except
 * that secrets named by *_env fields are resolved by the caller, never stored
 * in the file. Validation collects every error, one per line, each with its
 * JSON path: "$.models.small.provider: unknown provider \"x\"".
 */
#ifndef SY_EXP_CONFIG_H
#define SY_EXP_CONFIG_H

#include <stddef.h>

#include "experiments/routing.h"

/* The longest experiment name: it is part of every Redis key (wire/keys.h), which the
 * router and controller build in fixed buffers (160 bytes and up), so a longer one is
 * refused here rather than truncated there. */
#define EXP_NAME_MAX 64

typedef enum {
    EXP_WIRE_OPENAI,    /* POST {base_url}/chat/completions, Authorization: Bearer */
    EXP_WIRE_ANTHROPIC, /* POST {base_url}/messages, x-api-key + anthropic-version */
} exp_wire;

#define EXP_ANTHROPIC_VERSION "2023-06-01"

typedef struct exp_provider {
    char *name;
    exp_wire type;     /* "type": "openai" (default) or "anthropic" */
    char *base_url;    /* ends without '/', e.g. http://host:port/v1 */
    char *api_key_env; /* may be NULL: no credentials upstream */
    char *anthropic_version; /* anthropic: the anthropic-version header */
    int connect_timeout_ms;
    int timeout_ms;    /* one attempt */
    int retries;       /* attempts again at this provider after a transient failure (2) */
} exp_provider;

typedef struct exp_model {
    char *name;     /* what clients and the routing table call it */
    int provider;   /* index into providers */
    char *upstream; /* the provider's name for it */
    char *tier;
    double input_usd_per_mtok;
    double output_usd_per_mtok;
    double cached_input_usd_per_mtok; /* prompt tokens read from the cache (default: input) */
    double cache_write_usd_per_mtok;  /* prompt tokens written to the cache (default: input) */
} exp_model;

/* What one answer consumed, as the router reads it from either wire. in counts every
 * prompt token, cached and cache-written ones included (OpenAI's prompt_tokens). */
typedef struct exp_usage {
    long in, out;
    long cached;      /* of in: read from the provider's prompt cache */
    long cache_write; /* of in: written to it (Anthropic cache_creation_input_tokens) */
} exp_usage;

typedef struct exp_api_key {
    char *key;     /* literal key, or NULL when key_env is used */
    char *key_env; /* environment variable holding the key */
    char *project;
    int allow_model_prefer;
} exp_api_key;

/* "feedback" section: POST /v1/feedback and /v1/labels (docs/architecture.md,
 * "Feedback and labels"). Secrets are named by environment variables and resolved
 * by the router at load, like API keys. */
#define EXP_FEEDBACK_MAX_SECRETS 2

typedef struct exp_feedback_project {
    char *name;
    char *secret_env[EXP_FEEDBACK_MAX_SECRETS]; /* active secrets, current first */
    int nsecrets;                               /* 1 or 2 (rotation) */
} exp_feedback_project;

typedef struct exp_feedback {
    int enabled;              /* the section is present */
    int tolerance_s;          /* signature timestamp tolerance (default 300) */
    int attribution_window_s; /* feedback later than this after its request is late (86400) */
    long max_body_bytes;      /* body limit for these two endpoints (default 8 MiB) */
    int max_items;            /* items per batch (default 1000) */
    int db_pool_size;         /* PostgreSQL connections (default 4) */
    int db_queue_max;         /* batches waiting for a connection, then 503 (default 64) */
    int db_timeout_ms;        /* a batch's deadline in the database path (default 10000) */
    exp_feedback_project *projects;
    int nprojects;
} exp_feedback;

typedef struct exp_config {
    exp_provider *providers;
    int nproviders;
    exp_model *models;
    int nmodels;
    int default_model; /* index into models */
    exp_api_key *api_keys;
    int napi_keys;
    char *experiment;  /* experiment name, 1..EXP_NAME_MAX bytes */
    char *salt;
    int holdout_bp;    /* basis points, 0..10000 */
    int routing[WIRE_NTASKS][EXP_NMODES]; /* model index per task x mode (default model if unset) */
    /* dispatch */
    int max_attempts;        /* upstream attempts per request, retries and failover included */
    int request_timeout_ms;  /* one deadline for the whole request, every attempt included */
    int retry_backoff_ms;    /* first retry's backoff; doubles per retry, jittered, capped */
    int retry_backoff_max_ms;
    int sticky_conversations; /* follow-up turns keep their conversation's model */
    int sticky_ttl_s;
    int breaker_failures;    /* consecutive failures that open a provider's circuit */
    int breaker_cooldown_ms; /* open -> half-open after this long */
    int race_sport;          /* sport mode races two providers of the same tier */
    exp_feedback feedback;   /* POST /v1/feedback and /v1/labels */
    char *classifier_rules;  /* JSON text of "classifier_rules" (see classifier/rules.h), or NULL */
    char *classifier_model;  /* model file, or NULL for the shipped one */
} exp_config;

/* Returns 0 and *out, or -1 with the errors in err (truncated to errlen). */
int exp_config_parse(const char *json, size_t len, exp_config **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Flags for exp_config_parse_opts. */
#define EXP_CONFIG_NO_API_KEYS 1u /* api_keys optional (the controller serves no clients) */

/* exp_config_parse is exp_config_parse_opts with flags 0. */
int exp_config_parse_opts(const char *json, size_t len, unsigned flags, exp_config **out,
                          char *err, size_t errlen) __attribute__((warn_unused_result));
void exp_config_free(exp_config *cfg);

int exp_config_find_model(const exp_config *cfg, const char *name); /* index or -1 */

/* Cost in USD of a call at the model's price (no cached tokens). */
double exp_model_cost(const exp_model *m, long tokens_in, long tokens_out);
/* Cost in USD of what u consumed: cached and cache-written prompt tokens at their prices. */
double exp_usage_cost(const exp_model *m, const exp_usage *u);

#endif
