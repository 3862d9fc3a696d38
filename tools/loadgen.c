/*
 * switchyard loadgen: labelled prompts to the router at a fixed open-loop rate,
 * and simulated user feedback on the answers.
 *
 *   arrivals (Poisson at --rate)      pick a task type by --mix, a prompt of that
 *                                     label, a user from the Zipf pool; POST
 *                                     /v1/chat/completions if fewer than
 *                                     --concurrency are in flight, else skipped
 *   answer                            count status, X-Route-Cohort/Task/Model,
 *                                     latency; with --feedback-rate, schedule
 *                                     feedback after a random delay
 *   feedback due                      thumb (down with the served model's
 *                                     thumbs_down for the true label), sometimes a
 *                                     rating; handed to loadgen_feedback (batched,
 *                                     signed, retried)
 *
 * One libevent loop and one periodic tick drive everything. The run is a state
 * machine: RUNNING (sending) -> DRAINING (waiting for answers and feedback) ->
 * DONE. A progress line goes to stderr every second, the summary to stdout.
 */
#include "tools/loadgen.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "tools/loadgen_feedback.h"
#include "tools/loadgen_http.h"
#include "tools/loadgen_options.h"
#include "tools/loadgen_quality.h"
#include "tools/loadgen_run.h"
#include "tools/loadgen_stats.h"
#include "tools/loadgen_workload.h"

#define LG_TICK_MS 5
#define LG_PROGRESS_US 1000000
#define LG_DRAIN_GRACE_MS 60000

/* ---------- the run ---------- */

typedef struct lg_req { /* one chat in flight, on lg_run.reqs */
    lg_run *g;
    struct lg_req *prev, *next;
    wire_task label;
    int user;
} lg_req;

static void req_unlink(lg_run *g, lg_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        g->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void set_state(lg_run *g, enum lg_state st)
{
    if (st == g->state)
        return;
    sy_log(SY_INFO, "state", "from=%s to=%s", lg_state_names[g->state], lg_state_names[st]);
    g->state = st;
}

/* --- the feedback heap --- */

static void heap_swap(lg_pending *a, lg_pending *b)
{
    lg_pending t = *a;
    *a = *b;
    *b = t;
}

static int heap_push(lg_run *g, lg_pending p)
{
    if (g->nheap == g->heapcap) {
        size_t cap = g->heapcap ? g->heapcap * 2 : 256;
        lg_pending *t = realloc(g->heap, cap * sizeof(*t));
        if (!t)
            return -1;
        g->heap = t;
        g->heapcap = cap;
    }
    size_t i = g->nheap++;
    g->heap[i] = p;
    while (i && g->heap[(i - 1) / 2].due_us > g->heap[i].due_us) {
        heap_swap(&g->heap[(i - 1) / 2], &g->heap[i]);
        i = (i - 1) / 2;
    }
    return 0;
}

static lg_pending heap_pop(lg_run *g)
{
    lg_pending top = g->heap[0];
    g->heap[0] = g->heap[--g->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->nheap && g->heap[l].due_us < g->heap[m].due_us)
            m = l;
        if (r < g->nheap && g->heap[r].due_us < g->heap[m].due_us)
            m = r;
        if (m == i)
            break;
        heap_swap(&g->heap[i], &g->heap[m]);
        i = m;
    }
    return top;
}

static void pending_free(lg_pending *p)
{
    free(p->request_id);
    free(p->model);
}

/* --- feedback --- */

static lg_fbstat *fbstat(lg_run *g, const char *model)
{
    for (int i = 0; i < g->nfbs; i++)
        if (!strcmp(g->fbs[i].model, model))
            return &g->fbs[i];
    if (g->nfbs == LG_MAX_KEYS || strlen(model) >= sizeof(g->fbs[0].model))
        return NULL;
    lg_fbstat *t = realloc(g->fbs, (size_t)(g->nfbs + 1) * sizeof(*t));
    if (!t)
        return NULL;
    g->fbs = t;
    lg_fbstat *s = &g->fbs[g->nfbs++];
    memset(s, 0, sizeof(*s));
    snprintf(s->model, sizeof(s->model), "%s", model);
    for (int k = 0; k < WIRE_NTASKS; k++)
        s->q[k] = lg_qtable_lookup(g->qt, model, (wire_task)k, &s->known);
    return s;
}

static void utc_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static void queue_item(lg_run *g, json_t *item)
{
    char *s = item ? json_dumps(item, JSON_COMPACT) : NULL;
    json_decref(item);
    if (!s || lg_feedback_add(g->fb, s, strlen(s))) {
        if (!s)
            g->fb_dropped++;
        free(s);
        return;
    }
    free(s);
}

/* A user of served model p->model, asked a p->label question, says what they think. */
static void give_feedback(lg_run *g, const lg_pending *p)
{
    int known;
    lg_quality q = lg_qtable_lookup(g->qt, p->model, p->label, &known);
    if (!known)
        lg_count_add(&g->unmapped, p->model, 1);
    lg_fbstat *s = fbstat(g, p->model);
    char user[32], ts[96], fid[64];
    snprintf(user, sizeof(user), "user-%d", p->user);
    utc_now(ts, sizeof(ts));

    int down = lg_rng_uniform(&g->fb_rng) < q.thumbs_down;
    snprintf(fid, sizeof(fid), "lg-%s-%ld", g->run_id, ++g->feedback_seq);
    queue_item(g, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "feedback_id", fid, "request_id",
                            p->request_id, "kind", "thumb", "value", down ? "down" : "up",
                            "user_id", user, "created_at", ts));
    g->fb_thumbs++;
    g->fb_down += down;
    if (s) {
        s->thumbs[p->label]++;
        s->down[p->label] += down;
    }
    if (lg_rng_uniform(&g->fb_rng) < g->o->rating_share) {
        /* two points around the mean: floor or ceil, so the expected rating is the mean */
        double lo = floor(q.rating);
        int r = (int)lo + (lg_rng_uniform(&g->fb_rng) < q.rating - lo);
        if (r > 5)
            r = 5;
        snprintf(fid, sizeof(fid), "lg-%s-%ld", g->run_id, ++g->feedback_seq);
        queue_item(g, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "feedback_id", fid, "request_id",
                                p->request_id, "kind", "rating", "value", r, "user_id", user,
                                "created_at", ts));
        g->fb_ratings++;
        if (s) {
            s->ratings[p->label]++;
            s->rating_sum[p->label] += r;
        }
    }
}

/* --- requests --- */

static void on_answer(const lg_http_res *res, void *arg)
{
    lg_req *r = arg;
    lg_run *g = r->g;
    g->inflight--;
    req_unlink(g, r);
    if (!res->transport_ok) {
        g->transport_errors++;
        lg_count_add(&g->by_error, res->error, 1);
        free(r);
        return;
    }
    g->answered++;
    g->window_answered++;
    char st[16];
    snprintf(st, sizeof(st), "%ld", res->status);
    lg_count_add(&g->by_status, st, 1);
    const char *cohort = lg_http_res_header(res, "X-Route-Cohort");
    const char *task = lg_http_res_header(res, "X-Route-Task");
    const char *model = lg_http_res_header(res, "X-Route-Model");
    const char *rid = lg_http_res_header(res, "X-Request-Id");
    lg_count_add(&g->by_cohort, cohort ? cohort : "none", 1);
    lg_count_add(&g->by_task, task ? task : "none", 1);
    lg_count_add(&g->by_model, model ? model : "none", 1);
    lg_lat_add(&g->lat_all, res->elapsed_us);
    lg_lat_add(&g->lat_window, res->elapsed_us);

    if (res->status >= 200 && res->status < 300 && rid && *rid && model && *model &&
        g->o->feedback_rate > 0 && lg_rng_uniform(&g->fb_rng) < g->o->feedback_rate) {
        long span = g->o->delay_max_ms - g->o->delay_min_ms;
        long delay = g->o->delay_min_ms + (long)(lg_rng_uniform(&g->fb_rng) * (double)(span + 1));
        lg_pending p = {sy_clock_mono_us() + delay * 1000, strdup(rid), strdup(model), r->label, r->user};
        g->fb_requests++;
        if (!p.request_id || !p.model || heap_push(g, p)) {
            pending_free(&p);
            g->fb_dropped++;
        }
    }
    if (res->status >= 200 && res->status < 300 && rid && *rid && g->o->label_rate > 0 &&
        lg_rng_uniform(&g->fb_rng) < g->o->label_rate) {
        json_t *item = json_pack("{s:s, s:s, s:s}", "request_id", rid, "task_type",
                                 wire_task_str(r->label), "labeller", "loadgen");
        char *s = item ? json_dumps(item, JSON_COMPACT) : NULL;
        json_decref(item);
        if (s && !lg_feedback_add(g->labels, s, strlen(s)))
            g->labels_queued++;
        free(s);
    }
    free(r);
}

static void send_one(lg_run *g)
{
    g->scheduled++;
    wire_task label = lg_mix_pick(&g->o->mix, &g->rng);
    const char *text = g->prompts.text[label][lg_rng_next(&g->rng) % g->prompts.n[label]];
    int user = lg_users_pick(&g->users, &g->rng);
    int stream = g->o->stream_share > 0 && lg_rng_uniform(&g->rng) < g->o->stream_share;
    if (g->inflight >= g->o->concurrency) {
        g->skipped++;
        return;
    }
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "auto", "messages", "role", "user",
                             "content", text);
    if (body && stream)
        json_object_set_new(body, "stream", json_true());
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    lg_req *r = calloc(1, sizeof(*r));
    char uh[64], mh[64];
    snprintf(uh, sizeof(uh), "X-User-Id: user-%d", user);
    snprintf(mh, sizeof(mh), "X-Route-Mode: %s", g->o->mode ? g->o->mode : "");
    lg_http_spec spec = {
        .url = g->chat_url,
        .body = s,
        .body_len = s ? strlen(s) : 0,
        .headers = {g->auth, uh, g->o->mode ? mh : NULL, NULL},
        .timeout_ms = g->o->timeout_ms,
        .max_body = 2048,
        .on_done = on_answer,
        .arg = r,
    };
    if (r) {
        r->g = g;
        r->label = label;
        r->user = user;
    }
    if (!s || !r || lg_http_start(g->http, &spec)) {
        g->start_failed++;
        free(r);
        free(s);
        return;
    }
    free(s);
    r->next = g->reqs;
    if (g->reqs)
        g->reqs->prev = r;
    g->reqs = r;
    g->inflight++;
    g->sent++;
    g->sent_by_label[label]++;
}


/* --- the tick --- */

static void finish(lg_run *g)
{
    set_state(g, LG_DONE);
    event_base_loopbreak(g->base);
}

static void start_draining(lg_run *g, int64_t now, const char *why)
{
    if (g->state != LG_RUNNING)
        return;
    g->end_us = now;
    g->drain_deadline_us =
        now + ((int64_t)g->o->timeout_ms + g->o->delay_max_ms + LG_DRAIN_GRACE_MS) * 1000;
    sy_log(SY_INFO, "sending stopped", "reason=%s sent=%ld inflight=%d", why, g->sent, g->inflight);
    set_state(g, LG_DRAINING);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    lg_run *g = arg;
    int64_t now = sy_clock_mono_us();
    (void)fd;
    (void)what;
    if (g->state == LG_RUNNING) {
        int64_t stop_at =
            g->o->duration_s > 0 ? g->t0_us + (int64_t)(g->o->duration_s * 1e6) : INT64_MAX;
        while (g->next_arrival_us <= now && g->next_arrival_us < stop_at &&
               (g->o->requests <= 0 || g->scheduled < g->o->requests)) {
            send_one(g);
            g->next_arrival_us += (int64_t)(lg_rng_exp(&g->rng, g->o->rate) * 1e6);
        }
        if (now >= stop_at)
            start_draining(g, now, "duration");
        else if (g->o->requests > 0 && g->scheduled >= g->o->requests)
            start_draining(g, now, "requests");
    }
    while (g->nheap && g->heap[0].due_us <= now) {
        lg_pending p = heap_pop(g);
        give_feedback(g, &p);
        pending_free(&p);
    }
    lg_feedback_tick(g->fb, now);
    lg_feedback_tick(g->labels, now);
    if (now - g->last_progress_us >= LG_PROGRESS_US) {
        g->last_progress_us = now;
        lg_progress(g, now);
    }
    if (g->state == LG_DRAINING) {
        if (!g->inflight && !g->nheap && lg_feedback_idle(g->fb) && lg_feedback_idle(g->labels))
            finish(g);
        else if (now >= g->drain_deadline_us) {
            sy_log(SY_WARN, "drain deadline passed", "inflight=%d feedback_pending=%zu",
                   g->inflight, g->nheap);
            finish(g);
        }
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    lg_run *g = arg;
    (void)what;
    if (g->state == LG_RUNNING) {
        char why[32];
        snprintf(why, sizeof(why), "signal %d", (int)sig);
        start_draining(g, sy_clock_mono_us(), why);
    } else {
        sy_log(SY_WARN, "second signal: stopping now", "signal=%d", (int)sig);
        finish(g);
    }
}

/* ---------- setup ---------- */

struct buf {
    char *s;
    size_t len;
};

static size_t buf_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > (8u << 20))
        return 0;
    char *t = realloc(b->s, b->len + n + 1);
    if (!t)
        return 0;
    memcpy(t + b->len, ptr, n);
    b->s = t;
    b->len += n;
    b->s[b->len] = '\0';
    return n;
}

/* Blocking GET (before the loop runs). 0 and *body (owned), or -1 with err. */
static int get_json(const char *url, const char *auth, char **body, size_t *len, char *err,
                    size_t errlen)
{
    struct buf b = {NULL, 0};
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = auth ? curl_slist_append(NULL, auth) : NULL;
    CURL *c = curl_easy_init();
    int rc = -1;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "switchyard-loadgen");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
        goto done;
    }
    if (status != 200) {
        snprintf(err, errlen, "HTTP %ld", status);
        goto done;
    }
    *body = b.s ? b.s : strdup("");
    *len = b.len;
    b.s = NULL;
    rc = *body ? 0 : -1;
done:
    free(b.s);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return rc;
}

/* The default prompt file: beside the binary (build/../classifier/data), else in "." */
static const char *default_prompts(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, len, "%s/../%s", exe, LG_DEFAULT_PROMPTS);
            if (!access(out, R_OK))
                return out;
        }
    }
    snprintf(out, len, "%s", LG_DEFAULT_PROMPTS);
    return access(out, R_OK) ? NULL : out;
}

/* Quality from the simulator, overrides on top, and a word about router models
 * the simulator does not know. 0, or -1 (message logged). */
static int load_quality(lg_run *g)
{
    char err[512];
    char *body = NULL;
    size_t len = 0;
    if (g->o->sim_url) {
        char *url = lg_api_url(g->o->sim_url, "/v1/models");
        int rc = url ? get_json(url, NULL, &body, &len, err, sizeof(err)) : -1;
        if (rc == 0 && lg_qtable_load_sim(g->qt, body, len, err, sizeof(err)))
            rc = -1;
        if (rc)
            sy_log_kv(SY_ERROR, "cannot read the simulator's models", "url", url ? url : "",
                      "reason", err, NULL);
        free(url);
        free(body);
        body = NULL;
        if (rc)
            return -1;
        sy_log(SY_INFO, "quality profiles loaded", "models=%d", g->qt->n);
    } else if (g->o->feedback_rate > 0) {
        sy_log(SY_WARN, "no --sim-url: every model gets the default quality",
               "thumbs_down=%.2f rating=%.1f", LG_DEFAULT_THUMBS_DOWN, LG_DEFAULT_RATING);
    }
    if (lg_qtable_apply_overrides(g->qt)) {
        sy_log(SY_ERROR, "out of memory", NULL);
        return -1;
    }
    /* the router's models: feedback maps X-Route-Model to a simulator model by name */
    char *url = lg_api_url(g->o->url, "/v1/models");
    if (url && !get_json(url, g->auth, &body, &len, err, sizeof(err))) {
        json_t *root = json_loadb(body, len, 0, NULL);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(root, "data"), i, m)
        {
            const char *id = json_string_value(json_object_get(m, "id"));
            int known;
            if (!id)
                continue;
            lg_qtable_lookup(g->qt, id, WIRE_TASK_SIMPLE, &known);
            if (!known && g->o->feedback_rate > 0)
                sy_log_kv(SY_WARN, "router model has no quality profile (default quality used)",
                          "model", id, NULL);
        }
        json_decref(root);
    } else {
        sy_log_kv(SY_WARN, "cannot list the router's models", "url", url ? url : "", "reason",
                  url ? err : "out of memory", NULL);
    }
    free(url);
    free(body);
    return 0;
}

static void run_free(lg_run *g)
{
    if (g->tick)
        event_free(g->tick);
    if (g->sigint)
        event_free(g->sigint);
    if (g->sigterm)
        event_free(g->sigterm);
    if (g->fb)
        lg_feedback_abandon(g->fb);
    if (g->labels)
        lg_feedback_abandon(g->labels);
    lg_http_free(g->http); /* cancels what is in flight, without callbacks */
    lg_feedback_free(g->fb);
    lg_feedback_free(g->labels);
    while (g->reqs) {
        lg_req *r = g->reqs;
        g->reqs = r->next;
        free(r);
    }
    while (g->nheap) {
        lg_pending p = heap_pop(g);
        pending_free(&p);
    }
    free(g->heap);
    free(g->fbs);
    free(g->lat_all.v);
    free(g->lat_window.v);
    free(g->chat_url);
    lg_users_free(&g->users);
    lg_prompts_free(&g->prompts);
    if (g->base)
        event_base_free(g->base);
}

int loadgen_main(int argc, char **argv)
{
    lg_opts o;
    lg_qtable qt = {0};
    lg_run g;
    memset(&g, 0, sizeof(g));
    int rc = lg_parse_args(argc, argv, &o, &qt);
    if (rc == 1) {
        fputs(lg_usage_text, stdout);
        lg_qtable_free(&qt);
        return 0;
    }
    if (rc) {
        lg_qtable_free(&qt);
        return 2;
    }
    sy_log_set_component("loadgen");
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        lg_qtable_free(&qt);
        fprintf(stderr, "switchyard loadgen: cannot initialise libcurl\n");
        return 1;
    }
    g.o = &o;
    g.qt = &qt;
    rc = 1;

    char path[PATH_MAX + 64], err[PATH_MAX + 256];
    if (!o.prompts && !(o.prompts = default_prompts(path, sizeof(path)))) {
        fprintf(stderr,
                "switchyard loadgen: no prompt file: %s is neither beside the binary nor in the "
                "current directory; give --prompts FILE.jsonl\n",
                LG_DEFAULT_PROMPTS);
        rc = 2;
        goto out;
    }
    if (lg_prompts_load(&g.prompts, o.prompts, err, sizeof(err))) {
        fprintf(stderr, "switchyard loadgen: --prompts: %s\n", err);
        rc = 2;
        goto out;
    }
    for (int k = 0; k < WIRE_NTASKS; k++)
        if (o.mix.w[k] > 0 && !g.prompts.n[k]) {
            fprintf(stderr,
                    "switchyard loadgen: --mix: %s has no prompts labelled %s (the mix gives it "
                    "weight %g)\n",
                    o.prompts, wire_task_str((wire_task)k), o.mix.w[k]);
            rc = 2;
            goto out;
        }
    if (lg_users_init(&g.users, o.users))
        goto out;
    snprintf(g.auth, sizeof(g.auth), "Authorization: Bearer %.900s", o.api_key);
    if (load_quality(&g))
        goto out;

    lg_rng_seed(&g.rng, o.seed);
    lg_rng_seed(&g.fb_rng, o.seed ^ 0x5DEECE66DULL);
    {
        lg_rng idr;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        lg_rng_seed(&idr, (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
                              ((uint64_t)getpid() << 32) + o.seed);
        snprintf(g.run_id, sizeof(g.run_id), "%016llx", (unsigned long long)lg_rng_next(&idr));
    }
    char *fb_url = lg_api_url(o.url, "/v1/feedback");
    g.chat_url = lg_api_url(o.url, "/v1/chat/completions");
    g.base = event_base_new();
    g.http = g.base ? lg_http_new(g.base) : NULL;
    g.fb = g.http && fb_url ? lg_feedback_new(g.http, fb_url, o.secret, o.timeout_ms) : NULL;
    free(fb_url);
    char *labels_url = lg_api_url(o.url, "/v1/labels");
    g.labels = g.http && labels_url ? lg_feedback_new(g.http, labels_url, o.secret, o.timeout_ms)
                                    : NULL;
    free(labels_url);
    if (!g.chat_url || !g.fb || !g.labels) {
        sy_log(SY_ERROR, "cannot start", "reason=out_of_memory");
        goto out;
    }
    g.tick = event_new(g.base, -1, EV_PERSIST, on_tick, &g);
    g.sigint = evsignal_new(g.base, SIGINT, on_signal, &g);
    g.sigterm = evsignal_new(g.base, SIGTERM, on_signal, &g);
    struct timeval tv = {0, LG_TICK_MS * 1000};
    if (!g.tick || !g.sigint || !g.sigterm || event_add(g.tick, &tv) || event_add(g.sigint, NULL) ||
        event_add(g.sigterm, NULL)) {
        sy_log(SY_ERROR, "cannot start", "reason=event_setup");
        goto out;
    }
    sy_log_kv(SY_INFO, "started", "url", g.chat_url, "prompts", o.prompts, "mix", o.mix_spec,
              "run_id", g.run_id, NULL);
    g.t0_us = g.next_arrival_us = g.last_progress_us = sy_clock_mono_us();
    g.state = LG_RUNNING;
    event_base_dispatch(g.base);
    int64_t now = sy_clock_mono_us();
    lg_progress(&g, now);
    lg_feedback_abandon(g.fb); /* counts what is still undelivered as failed */
    lg_feedback_abandon(g.labels);
    g.fb_dropped += (long)g.nheap;
    if (g.inflight)
        sy_log(SY_WARN, "requests still in flight at exit", "inflight=%d", g.inflight);

    json_t *rep = lg_report(&g, now);
    char *s = rep ? json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(rep);
    if (!s) {
        sy_log(SY_ERROR, "cannot build the report", "reason=out_of_memory");
        goto out;
    }
    printf("%s\n", s);
    fflush(stdout);
    rc = 0;
    if (o.report_json) {
        FILE *f = fopen(o.report_json, "w");
        if (!f || fprintf(f, "%s\n", s) < 0 || fclose(f)) {
            sy_log_kv(SY_ERROR, "cannot write the report", "file", o.report_json, "reason",
                      strerror(errno), NULL);
            rc = 1;
        }
    }
    free(s);
out:
    run_free(&g);
    lg_qtable_free(&qt);
    curl_global_cleanup();
    return rc;
}
