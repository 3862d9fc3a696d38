/*
 * sim_model: the simulated models ("profiles") and their catalog.
 *
 * A catalog comes from a JSON document (--models FILE, format documented in
 * config/sim-models.json and docs/architecture.md "## Simulator") or from the
 * built-in profiles, which are the same document compiled in. Loading is
 * validate-while-parsing: the first bad field stops it with a message that
 * starts with the field's JSON path ("$.models.x.error_rate: ...").
 */
#ifndef SY_SIM_MODEL_H
#define SY_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_prng.h"

#define SIM_MUSTCHECK __attribute__((warn_unused_result))
#define SIM_MODEL_ID_MAX 64
#define SIM_ERR_MAX 512
#define SIM_LATENCY_MAX_MS 600000 /* every latency, from the model file or a header */

enum sim_task { SIM_TASK_SIMPLE, SIM_TASK_CODE, SIM_TASK_REASONING, SIM_TASK_COMPLEX, SIM_TASK_COUNT };
const char *sim_task_str(enum sim_task t);

/* What a request is made to suffer. NONE is a normal answer. */
enum sim_fault {
    SIM_FAULT_NONE,
    SIM_FAULT_500,       /* 500 with an OpenAI server_error body */
    SIM_FAULT_429,       /* 429 rate_limit_exceeded + Retry-After, sent at once */
    SIM_FAULT_TIMEOUT,   /* never answers; held until the client goes away */
    SIM_FAULT_CLOSE,     /* connection closed without any response */
    SIM_FAULT_MIDSTREAM, /* streams: closed after some chunks; otherwise as CLOSE */
    SIM_FAULT_529,       /* overloaded, sent at once: Anthropic 529, OpenAI 503 */
    SIM_FAULT_COUNT
};
const char *sim_fault_str(enum sim_fault f);
/* "none", "500", "429", "timeout", "close", "midstream", "529". */
int sim_fault_parse(const char *s, enum sim_fault *out) SIM_MUSTCHECK;

/* The wire a model speaks (catalog key "wire"): which endpoint serves it,
 * and the shape of its answers and errors. */
enum sim_api {
    SIM_API_OPENAI,    /* POST /v1/chat/completions */
    SIM_API_ANTHROPIC, /* POST /v1/messages */
};
const char *sim_api_str(enum sim_api a); /* "openai", "anthropic" */

typedef struct sim_quality {
    double thumbs_down; /* probability a user gives a thumbs-down, 0..1 */
    double rating;      /* mean 1..5 rating */
} sim_quality;

typedef struct sim_model {
    char id[SIM_MODEL_ID_MAX];
    char tier[32];
    enum sim_api wire;
    double latency_median_ms; /* time to first byte: lognormal(median, p95), clamped to max */
    double latency_p95_ms;
    double latency_max_ms;
    double tokens_per_second; /* stream pacing after the first token; 0 = unpaced */
    int tokens_per_chunk;
    int completion_min, completion_max;
    double error_rate;
    double error_weights[SIM_FAULT_COUNT]; /* index NONE unused */
    int retry_after_s;
    double input_usd_per_mtok, output_usd_per_mtok, cached_input_usd_per_mtok;
    double cache_hit_rate; /* share of a long prompt reported as cached (sim_chat_cached_tokens) */
    sim_quality quality[SIM_TASK_COUNT];
    char fingerprint[24]; /* system_fingerprint, derived from the id */
} sim_model;

typedef struct sim_catalog {
    sim_model *models;
    int n;
} sim_catalog;

int sim_catalog_parse(const char *json, size_t len, sim_catalog *out, char *err, size_t errlen)
    SIM_MUSTCHECK;
int sim_catalog_load_file(const char *path, sim_catalog *out, char *err, size_t errlen)
    SIM_MUSTCHECK;
int sim_catalog_builtin(sim_catalog *out, char *err, size_t errlen) SIM_MUSTCHECK;
/* The built-in document itself (what --models would need to reproduce it). */
const char *sim_catalog_builtin_json(void);
void sim_catalog_free(sim_catalog *c);
const sim_model *sim_catalog_find(const sim_catalog *c, const char *id);

/* Latency in ms: 0 when median is 0; else lognormal with the model's median
 * and p95 (sigma = ln(p95/median) / 1.6449), clamped to [0, latency_max_ms]. */
double sim_model_sample_latency_ms(const sim_model *m, sim_prng *p);
/* NONE with probability 1 - error_rate, else a kind drawn by error_weights. */
enum sim_fault sim_model_pick_fault(const sim_model *m, sim_prng *p);

#endif
