/*
 * switchyard loadgen, the output: the JSON progress line on stderr (counts and the
 * window's latency quantiles) and the summary report of a run.
 */
#include "tools/loadgen_run.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/loadgen_feedback.h"
#include "tools/loadgen_stats.h"

static void write_line(FILE *f, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s) {
        fprintf(f, "%s\n", s);
        fflush(f);
    }
    free(s);
}

void lg_progress(lg_run *g, int64_t now)
{
    char ts[96];
    struct timespec t;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &t);
    gmtime_r(&t.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec / 1000000);
    if (g->lat_window.n)
        lg_lat_sort(&g->lat_window);
    const lg_feedback_stats *fs = lg_feedback_get_stats(g->fb);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:I, "
        "s:I, s:o, s:o}",
        "ts", ts, "level", "info", "component", "loadgen", "msg", "progress", "elapsed_s",
        round((double)(now - g->t0_us) / 1e5) / 10, "state", lg_state_names[g->state], "sent",
        (json_int_t)g->sent, "answered", (json_int_t)g->answered, "skipped", (json_int_t)g->skipped,
        "transport_errors", (json_int_t)g->transport_errors, "inflight", (json_int_t)g->inflight,
        "status", lg_count_json(&g->by_status), "cohort", lg_count_json(&g->by_cohort), "task",
        lg_count_json(&g->by_task), "feedback_queued", (json_int_t)fs->queued, "feedback_sent",
        (json_int_t)fs->sent, "feedback_failed", (json_int_t)(fs->failed + g->fb_dropped),
        "feedback_pending", (json_int_t)g->nheap, "p50_ms", lg_ms_json(lg_lat_q(&g->lat_window, 0.50)),
        "p99_ms", lg_ms_json(lg_lat_q(&g->lat_window, 0.99)));
    write_line(stderr, o);
    g->lat_window.n = 0;
    g->window_answered = 0;
}

json_t *lg_report(lg_run *g, int64_t now)
{
    const lg_opts *o = g->o;
    double elapsed = (double)(now - g->t0_us) / 1e6;
    double send_s = (double)((g->end_us ? g->end_us : now) - g->t0_us) / 1e6;
    if (g->lat_all.n)
        lg_lat_sort(&g->lat_all);
    double mean = 0;
    for (size_t i = 0; i < g->lat_all.n; i++)
        mean += (double)g->lat_all.v[i];
    mean = g->lat_all.n ? mean / (double)g->lat_all.n / 1000.0 : -1;

    json_t *mix = json_object(), *by_label = json_object();
    for (int k = 0; k < WIRE_NTASKS; k++) {
        json_object_set_new(mix, wire_task_str((wire_task)k), json_real(o->mix.w[k] / o->mix.total));
        json_object_set_new(by_label, wire_task_str((wire_task)k), json_integer(g->sent_by_label[k]));
    }
    json_t *by_model = json_object();
    for (int i = 0; i < g->nfbs; i++) {
        const lg_fbstat *s = &g->fbs[i];
        json_t *m = json_object();
        for (int k = 0; k < WIRE_NTASKS; k++) {
            if (!s->thumbs[k] && !s->ratings[k])
                continue;
            json_object_set_new(
                m, wire_task_str((wire_task)k),
                json_pack("{s:I, s:I, s:f, s:I, s:o, s:f}", "thumbs", (json_int_t)s->thumbs[k],
                          "thumbs_down", (json_int_t)s->down[k], "expected_thumbs_down",
                          s->q[k].thumbs_down, "ratings", (json_int_t)s->ratings[k], "rating_mean",
                          s->ratings[k] ? json_real(s->rating_sum[k] / (double)s->ratings[k])
                                        : json_null(),
                          "expected_rating", s->q[k].rating));
        }
        json_object_set_new(m, "quality_known", json_boolean(s->known));
        json_object_set_new(by_model, s->model, m);
    }
    const lg_feedback_stats *fs = lg_feedback_get_stats(g->fb);
    json_t *cfg = json_pack(
        "{s:s, s:f, s:o, s:o, s:i, s:i, s:o, s:f, s:f, s:s, s:I, s:I, s:f, s:o, s:o, s:o}", "url",
        o->url, "rate", o->rate, "duration_s",
        o->requests > 0 ? json_null() : json_real(o->duration_s), "requests",
        o->requests > 0 ? json_integer(o->requests) : json_null(), "users", o->users, "concurrency",
        o->concurrency, "mix", mix, "feedback_rate", o->feedback_rate, "rating_share",
        o->rating_share, "prompts", o->prompts, "seed", (json_int_t)o->seed, "timeout_ms",
        (json_int_t)o->timeout_ms, "stream_share", o->stream_share, "mode",
        o->mode ? json_string(o->mode) : json_null(), "project",
        o->project ? json_string(o->project) : json_null(), "sim_url",
        o->sim_url ? json_string(o->sim_url) : json_null());
    char delay[48];
    snprintf(delay, sizeof(delay), "%ld-%ld", o->delay_min_ms, o->delay_max_ms);
    json_object_set_new(cfg, "feedback_delay_ms", json_string(delay));
    json_object_set_new(cfg, "label_rate", json_real(o->label_rate));

    const lg_feedback_stats *ls = lg_feedback_get_stats(g->labels);
    json_t *rep = json_pack(
        "{s:s, s:s, s:o, s:f, s:f, s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, "
        "s:o}, s:{s:o, s:o, s:o, s:o, s:o}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, "
        "s:o}}",
        "object", "loadgen.report", "run_id", g->run_id, "config", cfg, "elapsed_s",
        round(elapsed * 1000) / 1000, "send_s", round(send_s * 1000) / 1000, "achieved_rate",
        send_s > 0 ? round((double)g->sent / send_s * 100) / 100 : 0.0, "requests", "scheduled",
        (json_int_t)g->scheduled, "sent", (json_int_t)g->sent, "skipped", (json_int_t)g->skipped,
        "start_failed", (json_int_t)g->start_failed, "answered", (json_int_t)g->answered,
        "transport_errors", (json_int_t)g->transport_errors, "by_status", lg_count_json(&g->by_status),
        "by_label", by_label, "by_cohort", lg_count_json(&g->by_cohort), "by_route_task",
        lg_count_json(&g->by_task), "by_model", lg_count_json(&g->by_model), "by_error",
        lg_count_json(&g->by_error), "latency_ms", "p50", lg_ms_json(lg_lat_q(&g->lat_all, 0.50)), "p90",
        lg_ms_json(lg_lat_q(&g->lat_all, 0.90)), "p99", lg_ms_json(lg_lat_q(&g->lat_all, 0.99)), "max",
        lg_ms_json(lg_lat_q(&g->lat_all, 1.0)), "mean", lg_ms_json(mean), "feedback", "requests",
        (json_int_t)g->fb_requests, "thumbs", (json_int_t)g->fb_thumbs, "thumbs_down",
        (json_int_t)g->fb_down, "ratings", (json_int_t)g->fb_ratings, "items",
        (json_int_t)fs->queued, "sent", (json_int_t)fs->sent, "failed",
        (json_int_t)(fs->failed + g->fb_dropped), "batches", (json_int_t)fs->batches, "retries",
        (json_int_t)fs->retries, "unmapped_models", lg_count_json(&g->unmapped), "by_model", by_model);
    if (rep)
        json_object_set_new(rep, "labels",
                            json_pack("{s:I, s:I, s:I}", "queued", (json_int_t)g->labels_queued,
                                      "sent", (json_int_t)ls->sent, "failed",
                                      (json_int_t)ls->failed));
    return rep;
}
