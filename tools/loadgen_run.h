/*
 * switchyard loadgen, private: the state of one run (lg_run), shared by the run
 * itself (loadgen.c) and its output (loadgen_report.c).
 */
#ifndef SY_LOADGEN_RUN_H
#define SY_LOADGEN_RUN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/loadgen_feedback.h"
#include "tools/loadgen_http.h"
#include "tools/loadgen_options.h"
#include "tools/loadgen_quality.h"
#include "tools/loadgen_stats.h"
#include "tools/loadgen_workload.h"

struct event;
struct event_base;
struct lg_req;

/* feedback counters per served model and true task type */
typedef struct lg_fbstat {
    char model[64];
    int known; /* in the quality table */
    long thumbs[WIRE_NTASKS], down[WIRE_NTASKS], ratings[WIRE_NTASKS];
    double rating_sum[WIRE_NTASKS];
    lg_quality q[WIRE_NTASKS];
} lg_fbstat;

enum lg_state { LG_RUNNING, LG_DRAINING, LG_DONE };
static const char *const lg_state_names[] = {"running", "draining", "done"};

typedef struct lg_pending { /* feedback waiting for its delay */
    int64_t due_us;
    char *request_id;
    char *model;
    wire_task label;
    int user;
} lg_pending;

typedef struct lg_run {
    lg_opts *o;
    struct event_base *base;
    struct event *tick, *sigint, *sigterm;
    lg_http *http;
    lg_feedback *fb;
    lg_feedback *labels; /* POST /v1/labels: the same batching and signing */
    long labels_queued;
    lg_prompts prompts;
    lg_users users;
    lg_qtable *qt;
    lg_rng rng;    /* arrivals: the offered traffic is the same for a seed, whatever the timing */
    lg_rng fb_rng; /* feedback decisions, drawn as answers arrive */
    enum lg_state state;
    char *chat_url;
    char auth[1024];
    char run_id[17];
    int64_t t0_us, next_arrival_us, last_progress_us, end_us, drain_deadline_us;
    int inflight;
    struct lg_req *reqs; /* chats in flight */
    long feedback_seq;
    /* counters */
    long scheduled, sent, skipped, start_failed, answered, transport_errors;
    long sent_by_label[WIRE_NTASKS];
    lg_counts by_status, by_cohort, by_task, by_model, by_error, unmapped;
    lg_lat lat_all, lat_window;
    long window_answered;
    /* feedback */
    lg_pending *heap; /* min-heap on due_us */
    size_t nheap, heapcap;
    long fb_requests, fb_thumbs, fb_down, fb_ratings, fb_dropped;
    lg_fbstat *fbs;
    int nfbs;
} lg_run;

/* One JSON progress line on stderr; resets the window counters. */
void lg_progress(lg_run *g, int64_t now);
/* The run's summary (a new reference), NULL when out of memory. */
json_t *lg_report(lg_run *g, int64_t now);

#endif
