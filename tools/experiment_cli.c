/*
 * switchyard experiment: drives the controller's admin API from the shell.
 *
 *   switchyard experiment apply FILE
 *   switchyard experiment start|pause|resume|promote|rollback NAME [--reason TEXT]
 *   switchyard experiment hold|release NAME TASK [--reason TEXT]
 *   switchyard experiment status NAME | history NAME | list     [--json]
 *
 * SWITCHYARD_ADMIN_URL (default http://127.0.0.1:8081) and SWITCHYARD_ADMIN_TOKEN.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "tools/experiment_cli.h"

struct buf {
    char *p;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *q = realloc(b->p, b->len + add + 1);
    if (!q)
        return 0;
    memcpy(q + b->len, ptr, add);
    b->p = q;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* One admin call. Returns the HTTP status (0: no answer) and the parsed body. */
static long call(const char *method, const char *path, const char *body, json_t **out)
{
    const char *base = getenv("SWITCHYARD_ADMIN_URL");
    const char *token = getenv("SWITCHYARD_ADMIN_TOKEN");
    char url[1024], auth[512];
    snprintf(url, sizeof(url), "%s%s", base && *base ? base : "http://127.0.0.1:8081", path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    struct buf b = {0};
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Actor: cli");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "switchyard experiment: cannot reach the controller at %s: %s\n", url,
                curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    *out = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    return code;
}

static int report_error(long code, json_t *res)
{
    const char *msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
    if (code) {
        fprintf(stderr, "switchyard experiment: HTTP %ld: ", code);
        /* definition errors come joined by ';': one per line */
        for (const char *p = msg ? msg : "(no message)"; *p; p++)
            fputc(*p == ';' ? '\n' : *p, stderr);
        fputc('\n', stderr);
    }
    json_decref(res);
    return 1;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static void print_status(json_t *x)
{
    json_t *ev = json_object_get(x, "last_evaluation");
    printf("experiment  %s\nstatus      %s (step %d)\nversion     %lld\nheld back   ",
           str(x, "name"), str(x, "status"), (int)json_integer_value(json_object_get(x, "step")),
           (long long)json_integer_value(json_object_get(x, "version")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(x, "held_back"), i, v) printf("%s%s", i ? "," : "",
                                                                     json_string_value(v));
    printf("\n");
    if (!json_is_object(ev)) {
        printf("evaluation  none yet\n");
        return;
    }
    printf("phase       %s, routed %.0f%% of eligible, %.0f s in phase (min %.0f s)\n",
           str(ev, "phase"), num(ev, "routed_bp") / 100.0, num(ev, "seconds_in_phase"),
           num(ev, "min_duration_s"));
    printf("decision    %s: %s%s%s\n\n", str(ev, "decision"), str(ev, "reason"),
           json_is_string(json_object_get(ev, "task")) ? " on " : "",
           json_is_string(json_object_get(ev, "task")) ? str(ev, "task") : "");
    printf("%-10s %-9s %-20s %9s %9s\n", "task", "verdict", "blocked by", "control", "routed");
    json_t *t;
    json_array_foreach(json_object_get(ev, "tasks"), i, t) {
        printf("%-10s %-9s %-20s %9lld %9lld\n", str(t, "task"), str(t, "verdict"),
               str(t, "reason"), (long long)json_integer_value(json_object_get(t, "n_c")),
               (long long)json_integer_value(json_object_get(t, "n_t")));
        size_t j;
        json_t *g;
        json_array_foreach(json_object_get(t, "guardrails"), j, g) {
            json_t *lo = json_object_get(g, "harm_lower"), *hi = json_object_get(g, "harm_upper");
            printf("  %-18s %-14s harm %+.4f  [%s, %s]  margin %.4f  n %lld/%lld\n",
                   str(g, "metric"), str(g, "status"), num(g, "harm"),
                   json_is_number(lo) ? "" : "-", json_is_number(hi) ? "" : "-", num(g, "margin"),
                   (long long)json_integer_value(json_object_get(g, "n_c")),
                   (long long)json_integer_value(json_object_get(g, "n_t")));
            if (json_is_number(lo) && json_is_number(hi))
                printf("  %18s %14s bounds [%+.4f, %+.4f]\n", "", "", json_number_value(lo),
                       json_number_value(hi));
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard experiment <verb> ...\n"
            "\n"
            "  apply FILE                    validate and store a definition (draft)\n"
            "  start|pause|resume|promote|rollback NAME [--reason TEXT]\n"
            "  hold|release NAME TASK [--reason TEXT]   hold back / release a task type\n"
            "  status NAME [--json]          phase, samples per arm, guardrail bounds, blockers\n"
            "  history NAME [--json]         every decision with its reason\n"
            "  list [--json]\n"
            "\n"
            "environment: SWITCHYARD_ADMIN_URL (default http://127.0.0.1:8081),\n"
            "             SWITCHYARD_ADMIN_TOKEN (the controller's admin token)\n");
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (!collect(chunk, 1, n, &b))
            break;
    fclose(f);
    return b.p ? b.p : strdup("");
}

int experiment_main(int argc, char **argv)
{
    static const sy_opts cmd = {"switchyard experiment", "--help", SY_OPTS_QUOTED_MISSING};
    if (argc < 2 || sy_opts_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    const char *reason = NULL;
    int json_out = 0;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (argv[i][0] == '-')
            return sy_opts_unknown(&cmd, argv[i]);
        else if (npos < 3)
            pos[npos++] = argv[i];
    }
    static const char *const acts[] = {"start", "pause", "resume", "promote", "rollback",
                                       "hold", "release"};
    int is_act = 0, needs_task = !strcmp(verb, "hold") || !strcmp(verb, "release");
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        is_act |= !strcmp(verb, acts[i]);
    int want = !strcmp(verb, "list") ? 0 : needs_task ? 2 : 1;
    if (!is_act && strcmp(verb, "apply") && strcmp(verb, "status") && strcmp(verb, "history") &&
        strcmp(verb, "list")) {
        fprintf(stderr, "switchyard experiment: unknown verb '%s' (see --help)\n", verb);
        return 2;
    }
    if (npos != want) {
        fprintf(stderr, "switchyard experiment %s: expected %s\n", verb,
                want == 0 ? "no arguments" : want == 2 ? "NAME TASK" :
                !strcmp(verb, "apply") ? "FILE" : "NAME");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *res = NULL;
    long code;
    char path[512];
    int rc = 0;
    if (!strcmp(verb, "apply")) {
        char *body = read_all(pos[0]);
        if (!body) {
            fprintf(stderr, "switchyard experiment: cannot read %s: %s\n", pos[0], strerror(errno));
            return 1;
        }
        code = call("POST", "/admin/experiments", body, &res);
        free(body);
        if (code != 201)
            return report_error(code, res);
        printf("applied %s (draft)\n", str(res, "name"));
    } else if (is_act) {
        snprintf(path, sizeof(path), "/admin/experiments/%s/%s", pos[0], verb);
        json_t *args = json_object();
        if (needs_task)
            json_object_set_new(args, "task", json_string(pos[1]));
        if (reason)
            json_object_set_new(args, "reason", json_string(reason));
        json_object_set_new(args, "actor", json_string("cli"));
        char *body = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        code = call("POST", path, body, &res);
        free(body);
        if (code != 200)
            return report_error(code, res);
        printf("%s: %s, status %s (step %d)\n", pos[0], verb, str(res, "status"),
               (int)json_integer_value(json_object_get(res, "step")));
    } else {
        if (!strcmp(verb, "list"))
            snprintf(path, sizeof(path), "/admin/experiments");
        else
            snprintf(path, sizeof(path), "/admin/experiments/%s%s", pos[0],
                     !strcmp(verb, "history") ? "/history" : "");
        code = call("GET", path, NULL, &res);
        if (code != 200)
            return report_error(code, res);
        if (json_out) {
            char *s = json_dumps(res, JSON_INDENT(2));
            printf("%s\n", s ? s : "null");
            free(s);
        } else if (!strcmp(verb, "status")) {
            print_status(res);
        } else if (!strcmp(verb, "history")) {
            size_t i;
            json_t *d;
            printf("%-6s %-27s %-10s %-9s %-12s %-12s %-10s %s\n", "id", "ts", "action", "task",
                   "from", "to", "actor", "reason");
            json_array_foreach(json_object_get(res, "decisions"), i, d)
                printf("%-6lld %-27s %-10s %-9s %-12s %-12s %-10s %s\n",
                       (long long)json_integer_value(json_object_get(d, "id")), str(d, "ts"),
                       str(d, "action"), str(d, "task_type"), str(d, "from_phase"),
                       str(d, "to_phase"), str(d, "actor"), str(d, "reason"));
        } else {
            size_t i;
            json_t *x;
            printf("%-24s %-12s %5s %8s  %s\n", "name", "status", "step", "version", "held back");
            json_array_foreach(json_object_get(res, "experiments"), i, x) {
                char held[128] = "";
                size_t j;
                json_t *h;
                json_array_foreach(json_object_get(x, "held_back"), j, h) {
                    strncat(held, j ? "," : "", sizeof(held) - strlen(held) - 1);
                    strncat(held, json_string_value(h), sizeof(held) - strlen(held) - 1);
                }
                printf("%-24s %-12s %5lld %8lld  %s\n", str(x, "name"), str(x, "status"),
                       (long long)json_integer_value(json_object_get(x, "step")),
                       (long long)json_integer_value(json_object_get(x, "version")), held);
            }
        }
    }
    json_decref(res);
    curl_global_cleanup();
    return rc;
}
