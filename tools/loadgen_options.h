/*
 * switchyard loadgen, the command line: its options, the usage text and the parser
 * (loadgen_options.c). Also the strict number parser the other loadgen files share.
 */
#ifndef SY_LOADGEN_OPTIONS_H
#define SY_LOADGEN_OPTIONS_H

#include <stdint.h>

#include "tools/loadgen_quality.h"
#include "tools/loadgen_workload.h"

#define LG_DEFAULT_PROMPTS "classifier/data/train.jsonl"
#define LG_DEFAULT_MIX "simple=50,code=20,reasoning=20,complex=10"

typedef struct lg_opts {
    const char *url, *api_key, *sim_url, *secret, *project, *prompts, *report_json, *mode;
    double rate, duration_s, feedback_rate, stream_share, rating_share, label_rate;
    long requests;
    int users, concurrency, timeout_ms;
    long delay_min_ms, delay_max_ms;
    uint64_t seed;
    lg_mix mix;
    char mix_spec[256];
} lg_opts;

extern const char lg_usage_text[];

/* Fills *o and *qt from argv and the environment: 0 ok, 1 --help, 2 usage error
 * (message printed). */
int lg_parse_args(int argc, char **argv, lg_opts *o, lg_qtable *qt)
    __attribute__((warn_unused_result));

/* The whole of s as a number within lo..hi: 0 and *out, or -1. */
int lg_parse_double(const char *s, double lo, double hi, double *out)
    __attribute__((warn_unused_result));

/* base + path, where "http://h:p", "http://h:p/" and "http://h:p/v1" all name the same
 * API root. Owned by the caller; NULL when out of memory. */
char *lg_api_url(const char *base, const char *path);

#endif
