/*
 * switchyard classifier: train, eval, predict, bench, overlap.
 *
 * Data files are JSON Lines: {"text": "...", "label": "simple|code|reasoning|complex"}
 * plus any other keys (source, licence, ...), which are ignored; an optional
 * positive integer "weight" repeats a row that many times in training. Instead of
 * "text" a row may carry a chat request's "messages" (and "tools", "tool_choice"): the
 * text is then what the router classifies, the last user message's text parts, and a
 * row offering tools gets the router's tools rule in eval (router/chat_route.c).
 */
#include "tools/classifier_cli.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "classifier/calibration.h"
#include "classifier/chat_text.h"
#include "classifier/classifier.h"
#include "classifier/features.h"
#include "classifier/model.h"
#include "classifier/rules.h"
#include "common/clock.h"
#include "common/opts.h"
#include "common/pg.h"

#define MAX_DATA_FILES 16

struct row {
    char *text;
    size_t len;
    char *ctx; /* a chat's earlier turns (clf_chat_text), NULL when none */
    size_t clen;
    int label;
    int weight;
    bool tools; /* a request offering tools (the router's tools rule applies) */
    long line;  /* line in its file (0: from the database) */
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].text);
        free(r->v[i].ctx);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static int rows_push(struct rows *r, const char *text, size_t len, const char *ctx,
                     size_t clen, int label, int weight, bool tools, long line)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        struct row *v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return -1;
        r->v = v;
        r->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t)
        return -1;
    memcpy(t, text, len);
    t[len] = 0;
    char *c = clen ? strndup(ctx, clen) : NULL;
    if (clen && !c) {
        free(t);
        return -1;
    }
    r->v[r->n++] = (struct row){t, len, c, clen, label, weight, tools, line};
    return 0;
}


/* tools, and a tool_choice that lets the model use them (router/chat_route.c) */
static bool offers_tools(json_t *o)
{
    json_t *choice = json_object_get(o, "tool_choice");
    return json_array_size(json_object_get(o, "tools")) > 0 &&
           !(json_is_string(choice) && !strcmp(json_string_value(choice), "none"));
}

/* Reads a JSONL file; on error prints "FILE:LINE: reason" to stderr and returns -1. */
static int read_jsonl(const char *path, struct rows *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "classifier: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        size_t k = (size_t)n;
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' '))
            k--;
        if (k == 0)
            continue;
        json_error_t je;
        json_t *o = json_loadb(line, k, 0, &je);
        if (!o) {
            fprintf(stderr, "classifier: %s:%ld: invalid JSON: %s\n", path, lineno, je.text);
            rc = -1;
            break;
        }
        json_t *t = json_object_get(o, "text"), *l = json_object_get(o, "label");
        json_t *w = json_object_get(o, "weight"), *msgs = json_object_get(o, "messages");
        wire_task task;
        struct clf_chat_text chat = {.owned = NULL, .clen = 0};
        const char *text = NULL;
        size_t tlen = 0;
        if (json_is_string(t)) {
            text = json_string_value(t);
            tlen = json_string_length(t);
        } else if (json_is_array(msgs) && !t) {
            clf_chat_text(msgs, &chat); /* what the router judges (router/chat_route.c) */
            text = chat.text;
            tlen = chat.len;
        }
        if (!json_is_object(o) || !text) {
            fprintf(stderr,
                    "classifier: %s:%ld: expected an object with a string \"text\" or a "
                    "\"messages\" array\n",
                    path, lineno);
            rc = -1;
        } else if (!json_is_string(l) || clf_target_parse(json_string_value(l), &task) != 0 ||
                   task == WIRE_TASK_NONE) {
            fprintf(stderr,
                    "classifier: %s:%ld: \"label\" must be one of simple, code, reasoning, complex\n",
                    path, lineno);
            rc = -1;
        } else if (w && (!json_is_integer(w) || json_integer_value(w) < 1 ||
                         json_integer_value(w) > 100)) {
            fprintf(stderr, "classifier: %s:%ld: \"weight\" must be an integer within 1..100\n",
                    path, lineno);
            rc = -1;
        } else if (rows_push(out, text, tlen, chat.context, chat.clen, (int)task,
                             w ? (int)json_integer_value(w) : 1,
                             offers_tools(o), lineno) != 0) {
            fprintf(stderr, "classifier: out of memory\n");
            rc = -1;
        }
        clf_chat_text_free(&chat);
        json_decref(o);
        if (rc)
            break;
    }
    free(line);
    if (!rc && ferror(fp)) {
        fprintf(stderr, "classifier: %s: read error\n", path);
        rc = -1;
    }
    fclose(fp);
    return rc;
}

/* Human labels from PostgreSQL: the majority label of each request whose prompt is stored. */
static int read_db(const char *url, const char *what, struct rows *out)
{
    static const char *sql =
        "SELECT prompt, task_type FROM ("
        "  SELECT request_id, task_type, max(prompt) AS prompt,"
        "         row_number() OVER (PARTITION BY request_id"
        "                            ORDER BY count(*) DESC, task_type) AS rk"
        "  FROM labels WHERE prompt IS NOT NULL AND prompt <> ''"
        "    AND task_type IN ('simple', 'code', 'reasoning', 'complex')"
        "  GROUP BY request_id, task_type) t "
        "WHERE rk = 1 ORDER BY request_id";
    int rc = -1;
    PGresult *res = NULL;
    char err[512];
    PGconn *pg = (PGconn *)sy_pg_connect(url, "switchyard-classifier", 0, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "classifier: --%s: cannot connect: %s\n", what, err);
        goto done;
    }
    res = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr,
                "classifier: --%s: %s(the labels table needs a prompt column: apply "
                "migrations/0002_label_prompts.sql)\n",
                what, PQerrorMessage(pg));
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        wire_task t;
        if (clf_target_parse(PQgetvalue(res, i, 1), &t) != 0 || t == WIRE_TASK_NONE)
            continue;
        if (rows_push(out, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), NULL, 0, (int)t, 1,
                      false, 0)) {
            fprintf(stderr, "classifier: out of memory\n");
            goto done;
        }
    }
    printf("%s: %d labelled prompts\n", what, PQntuples(res));
    rc = 0;
done:
    PQclear(res);
    PQfinish(pg);
    return rc;
}

/* ---- options ---- */

static int set_feature(struct clf_feature_config *f, const char *kv)
{
    char key[32];
    const char *eq = strchr(kv, '=');
    if (!eq || (size_t)(eq - kv) >= sizeof(key))
        return -1;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    const char *v = eq + 1;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end)
        return -1;
    struct {
        const char *name;
        unsigned *u;
        double *d;
    } keys[] = {
        {"word_bits", &f->word_bits, NULL}, {"bigram_bits", &f->bigram_bits, NULL},
        {"char_bits", &f->char_bits, NULL}, {"shape_bits", &f->shape_bits, NULL},
        {"char_min", &f->char_min, NULL},   {"char_max", &f->char_max, NULL},
        {"head_bytes", &f->head_bytes, NULL}, {"tail_bytes", &f->tail_bytes, NULL},
        {"char_head_bytes", &f->char_head_bytes, NULL},
        {"char_tail_bytes", &f->char_tail_bytes, NULL},
        {"w_word", NULL, &f->w_word},       {"w_bigram", NULL, &f->w_bigram},
        {"w_char", NULL, &f->w_char},       {"w_shape", NULL, &f->w_shape},
        {"w_struct", NULL, &f->w_struct},   {"w_length", NULL, &f->w_length},
        {"edge_words", &f->edge_words, NULL},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(key, keys[i].name)) {
            if (keys[i].u) {
                if (d < 0 || d > 1e7 || d != floor(d))
                    return -1;
                *keys[i].u = (unsigned)d;
            } else
                *keys[i].d = d;
            return 0;
        }
    return -1;
}

static int load_rules_file(const char *path, struct clf_rules **out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "classifier: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = 0;
    char err[256];
    if (clf_rules_parse_json(buf, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* ---- evaluation (eval, and the gate of train --from-labels) ---- */

#define DEFAULT_MAX_UNDER 0.01       /* of all costly dev rows */
#define DEFAULT_MAX_UNDER_CLASS 0.01 /* of each costly class's dev rows */

struct eval {
    long conf[WIRE_NTASKS][WIRE_NTASKS + 1]; /* rows: true; columns: verdict, last = none */
    long n, correct, model_rows, model_correct, demoted;
    double *cal_conf; /* per model-decided row: top probability, and whether top was right */
    bool *cal_ok;
};

static void eval_free(struct eval *e)
{
    free(e->cal_conf);
    free(e->cal_ok);
}

/* Costly rows (true code, reasoning, complex) given "simple", over all costly rows; per
 * class when cls >= 0. */
static double under_rate(const struct eval *e, int cls)
{
    long under = 0, total = 0;
    for (int k = WIRE_TASK_CODE; k < WIRE_NTASKS; k++) {
        if (cls >= 0 && k != cls)
            continue;
        under += e->conf[k][WIRE_TASK_SIMPLE];
        for (int j = 0; j <= WIRE_NTASKS; j++)
            total += e->conf[k][j];
    }
    return total ? (double)under / (double)total : 0;
}

static double accuracy(const struct eval *e)
{
    return e->n ? (double)e->correct / (double)e->n : 0;
}

static void print_snippet(const struct row *r, size_t i, const struct clf_result *res)
{
    char snip[161];
    size_t k = 0;
    for (size_t j = 0; j < r->len && k < 160; j++)
        snip[k++] = r->text[j] == '\n' ? ' ' : r->text[j];
    snip[k] = 0;
    printf("row %zu: true %s, predicted %s (%.2f%s): %s\n", i + 1,
           wire_task_str((wire_task)r->label), wire_task_str(res->task), res->confidence,
           res->demoted ? ", cost threshold" : "", snip);
}

/* Classifies every row as the router would (rules, model, cost-aware decision, then the
 * tools rule for rows offering tools). 0, or -1 when out of memory. */
static int evaluate(struct clf_classifier *c, const struct clf_rules *rules,
                    const struct rows *rows, bool errors, struct eval *e)
{
    memset(e, 0, sizeof(*e));
    e->cal_conf = malloc((rows->n ? rows->n : 1) * sizeof(*e->cal_conf));
    e->cal_ok = malloc((rows->n ? rows->n : 1) * sizeof(*e->cal_ok));
    if (!e->cal_conf || !e->cal_ok)
        return -1;
    wire_task tools_task = clf_rules_tools_task(rules);
    for (size_t i = 0; i < rows->n; i++) {
        const struct row *r = &rows->v[i];
        struct clf_result res;
        clf_classify_chat(c, r->text, r->len, r->ctx, r->clen, rules, &res);
        if (r->tools && res.task == WIRE_TASK_SIMPLE && tools_task != WIRE_TASK_NONE)
            res.task = tools_task;
        int p = res.task == WIRE_TASK_NONE ? WIRE_NTASKS : (int)res.task;
        e->conf[r->label][p]++;
        e->n++;
        e->demoted += res.demoted;
        if (p == r->label)
            e->correct++;
        else if (errors)
            print_snippet(r, i, &res);
        if (!res.by_rule && res.task != WIRE_TASK_NONE) {
            int top = 0;
            for (int k = 1; k < WIRE_NTASKS; k++)
                if (res.probs[k] > res.probs[top])
                    top = k;
            e->cal_conf[e->model_rows] = res.probs[top];
            e->cal_ok[e->model_rows] = top == r->label;
            e->model_correct += top == r->label;
            e->model_rows++;
        }
    }
    return 0;
}

/* ---- train ---- */

static void train_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard classifier train --data FILE.jsonl [--data FILE2.jsonl ...]\n"
            "                                   --out MODEL [--dev DEV.jsonl]\n"
            "                                   [--from-db | --from-labels] [--db-url URL]\n"
            "                                   [--current MODEL] [--max-under-routing X]\n"
            "                                   [--max-under-routing-class X]\n"
            "                                   [--C X] [--eps X] [--set KEY=VALUE ...]\n"
            "  --data FILE    JSON Lines with \"text\" (or \"messages\") and \"label\" (repeatable)\n"
            "  --out MODEL    model file to write (replaced atomically)\n"
            "  --dev FILE     held-out rows to calibrate on: the temperature of the\n"
            "                 probabilities and the cost-aware thresholds (simple_min) under\n"
            "                 which at most --max-under-routing (default %.3f) of the costly\n"
            "                 rows and --max-under-routing-class (default %.3f) of each costly\n"
            "                 class go to simple; without it: temperature 1, no thresholds\n"
            "  --from-db      also train on human labels in PostgreSQL (labels.prompt, see\n"
            "                 migrations/0002_label_prompts.sql); URL from --db-url or\n"
            "                 $SWITCHYARD_DATABASE_URL\n"
            "  --from-labels  the retraining loop: train on --data plus the human labels,\n"
            "                 evaluate the candidate and the current model on --dev (needed),\n"
            "                 and replace MODEL only if the candidate is not worse: accuracy\n"
            "                 >= the current's and under-routing <= max(the current's,\n"
            "                 --max-under-routing). Exit 3 when the candidate is rejected.\n"
            "  --current M    the model to beat (default: MODEL if it exists, else the\n"
            "                 default model); a missing or unreadable one is beaten by any\n"
            "  --C X          liblinear cost (default 32)\n"
            "  --set K=V      feature setting: word_bits bigram_bits char_bits shape_bits\n"
            "                 char_min char_max head_bytes tail_bytes char_head_bytes\n"
            "                 char_tail_bytes w_word w_bigram w_char\n"
            "                 w_shape w_struct w_length\n",
            DEFAULT_MAX_UNDER, DEFAULT_MAX_UNDER_CLASS);
}

/* Fits the temperature and the thresholds of m on the rows of dev. */
static int calibrate(struct clf_model *m, const struct rows *dev, double max_under,
                     double max_under_class)
{
    struct clf_extractor *ex = clf_extractor_new(clf_model_features(m));
    double(*dec)[WIRE_NTASKS] = malloc((dev->n ? dev->n : 1) * sizeof(*dec));
    int *labels = malloc((dev->n ? dev->n : 1) * sizeof(*labels));
    int rc = -1;
    if (!ex || !dec || !labels || dev->n == 0)
        goto done;
    for (size_t i = 0; i < dev->n; i++) {
        clf_model_scores_chat(m, ex, dev->v[i].text, dev->v[i].len, dev->v[i].ctx,
                              dev->v[i].clen, CLF_CONTEXT_WEIGHT, dec[i]);
        labels[i] = dev->v[i].label;
    }
    double t = clf_calib_fit_temperature((const double(*)[WIRE_NTASKS])dec, labels, dev->n);
    double thr[WIRE_NTASKS];
    clf_calib_fit_thresholds((const double(*)[WIRE_NTASKS])dec, labels, dev->n, t, max_under,
                             max_under_class, thr);
    clf_model_set_decision(m, t, thr);
    printf("calibrated on %zu dev rows: temperature %.4f, simple_min code %.4f reasoning %.4f "
           "complex %.4f (at most %.1f%% of costly rows, %.1f%% of each costly class, to "
           "simple)\n",
           dev->n, t, thr[WIRE_TASK_CODE], thr[WIRE_TASK_REASONING], thr[WIRE_TASK_COMPLEX],
           100 * max_under, 100 * max_under_class);
    rc = 0;
done:
    clf_extractor_free(ex);
    free(dec);
    free(labels);
    return rc;
}

/* Scores a model file on dev: 0 and *acc, *under; -1 (with the reason) if it cannot load. */
static int score_model(const char *path, const struct rows *dev, double *acc, double *under,
                       char *err, size_t errlen)
{
    struct clf_classifier *c = NULL;
    struct eval e;
    if (clf_load(path, &c, err, errlen) != 0)
        return -1;
    int rc = evaluate(c, NULL, dev, false, &e);
    if (rc == 0) {
        *acc = accuracy(&e);
        *under = under_rate(&e, -1);
    } else
        snprintf(err, errlen, "out of memory");
    eval_free(&e);
    clf_free(c);
    return rc;
}

/* The gate of --from-labels: cand (already written) replaces out only if it is not worse
 * than current on dev. 0 when replaced, 3 when rejected, 1 on error. */
static int gate(const char *cand, const char *out, const char *current, const struct rows *dev,
                double max_under)
{
    char err[512];
    double ca, cu, ka = 0, ku = 0;
    if (score_model(cand, dev, &ca, &cu, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier train: candidate: %s\n", err);
        remove(cand);
        return 1;
    }
    printf("candidate %s: dev accuracy %.4f, under-routing %.4f\n", cand, ca, cu);
    bool have_current = score_model(current, dev, &ka, &ku, err, sizeof(err)) == 0;
    if (have_current)
        printf("current   %s: dev accuracy %.4f, under-routing %.4f\n", current, ka, ku);
    else
        printf("current   %s: not usable (%s)\n", current, err);
    double allowed = ku > max_under ? ku : max_under;
    if (have_current && (ca < ka || cu > allowed)) {
        printf("rejected: the candidate is worse (rule: accuracy >= %.4f and under-routing "
               "<= %.4f); %s left unchanged\n",
               ka, allowed, out);
        remove(cand);
        return 3;
    }
    if (rename(cand, out) != 0) {
        fprintf(stderr, "classifier train: cannot rename %s to %s: %s\n", cand, out,
                strerror(errno));
        remove(cand);
        return 1;
    }
    printf("accepted: %s replaced (rule: accuracy >= the current's and under-routing <= "
           "max(the current's, %.4f))\n",
           out, max_under);
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    const char *data[MAX_DATA_FILES], *out = NULL, *db_url = NULL, *dev_path = NULL;
    const char *current = NULL;
    int ndata = 0, rc = 1;
    bool from_db = false, from_labels = false;
    double max_under = DEFAULT_MAX_UNDER, max_under_class = DEFAULT_MAX_UNDER_CLASS;
    struct clf_feature_config fcfg;
    struct clf_train_params tp;
    clf_feature_config_default(&fcfg);
    clf_train_params_default(&tp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (sy_opts_is_help(a)) {
            train_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && has && ndata < MAX_DATA_FILES)
            data[ndata++] = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out = argv[++i];
        else if (!strcmp(a, "--dev") && has)
            dev_path = argv[++i];
        else if (!strcmp(a, "--current") && has)
            current = argv[++i];
        else if (!strcmp(a, "--max-under-routing") && has)
            max_under = atof(argv[++i]);
        else if (!strcmp(a, "--max-under-routing-class") && has)
            max_under_class = atof(argv[++i]);
        else if (!strcmp(a, "--from-db"))
            from_db = true;
        else if (!strcmp(a, "--from-labels"))
            from_labels = true;
        else if (!strcmp(a, "--db-url") && has) {
            db_url = argv[++i];
            if (!from_labels)
                from_db = true;
        } else if (!strcmp(a, "--C") && has)
            tp.C = atof(argv[++i]);
        else if (!strcmp(a, "--eps") && has)
            tp.eps = atof(argv[++i]);
        else if (!strcmp(a, "--set") && has) {
            if (set_feature(&fcfg, argv[++i]) != 0) {
                fprintf(stderr, "classifier train: bad --set %s\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "classifier train: unknown or incomplete option '%s'\n", a);
            train_usage(stderr);
            return 2;
        }
    }
    if (from_labels)
        from_db = false; /* --db-url given before --from-labels */
    if ((ndata == 0 && !from_db && !from_labels) || !out) {
        train_usage(stderr);
        return 2;
    }
    if (!(max_under >= 0 && max_under < 1) || !(max_under_class >= 0 && max_under_class < 1)) {
        fprintf(stderr, "classifier train: --max-under-routing(-class) must be within 0..1\n");
        return 2;
    }
    if (from_labels && !dev_path) {
        fprintf(stderr, "classifier train: --from-labels needs --dev (the rows both models "
                        "are judged on)\n");
        return 2;
    }
    const char *what = from_labels ? "from-labels" : "from-db";
    if ((from_db || from_labels) && !db_url)
        db_url = getenv("SWITCHYARD_DATABASE_URL");
    if ((from_db || from_labels) && (!db_url || !*db_url)) {
        fprintf(stderr, "classifier train: --%s needs --db-url or SWITCHYARD_DATABASE_URL\n",
                what);
        return 2;
    }
    struct rows rows = {0}, dev = {0};
    const char **texts = NULL;
    size_t *lens = NULL;
    int *labels = NULL;
    char cand[4096];
    for (int i = 0; i < ndata; i++)
        if (read_jsonl(data[i], &rows) != 0)
            goto done;
    if ((from_db || from_labels) && read_db(db_url, what, &rows) != 0)
        goto done;
    if (dev_path && read_jsonl(dev_path, &dev) != 0)
        goto done;
    if (dev_path && dev.n == 0) {
        fprintf(stderr, "classifier train: %s: no rows\n", dev_path);
        goto done;
    }

    size_t n = 0;
    for (size_t i = 0; i < rows.n; i++)
        n += (size_t)rows.v[i].weight;
    texts = malloc((n ? n : 1) * sizeof(*texts));
    lens = malloc((n ? n : 1) * sizeof(*lens));
    labels = malloc((n ? n : 1) * sizeof(*labels));
    size_t per[WIRE_NTASKS] = {0};
    if (!texts || !lens || !labels) {
        fprintf(stderr, "classifier train: out of memory\n");
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < rows.n; i++)
        for (int w = 0; w < rows.v[i].weight; w++) {
            texts[k] = rows.v[i].text;
            lens[k] = rows.v[i].len;
            labels[k] = rows.v[i].label;
            per[labels[k]]++;
            k++;
        }
    char err[512];
    struct clf_model *m = NULL;
    int64_t t0 = sy_clock_mono_ns();
    if (clf_model_train(&fcfg, &tp, texts, lens, labels, n, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier train: %s\n", err);
        goto done;
    }
    int64_t t1 = sy_clock_mono_ns();
    printf("trained on %zu rows (%zu with weights): simple %zu, code %zu, reasoning %zu, "
           "complex %zu in %.1f s\n",
           rows.n, n, per[0], per[1], per[2], per[3], (double)(t1 - t0) / 1e9);
    if (dev_path && calibrate(m, &dev, max_under, max_under_class) != 0) {
        fprintf(stderr, "classifier train: out of memory\n");
        clf_model_free(m);
        goto done;
    }
    const char *dest = out;
    if (from_labels) {
        if (snprintf(cand, sizeof(cand), "%s.candidate", out) >= (int)sizeof(cand)) {
            fprintf(stderr, "classifier train: %s: path too long\n", out);
            clf_model_free(m);
            goto done;
        }
        dest = cand;
    }
    if (clf_model_save(m, dest, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier train: %s\n", err);
        clf_model_free(m);
        goto done;
    }
    clf_model_free(m);
    if (from_labels) {
        struct stat st;
        if (!current)
            current = stat(out, &st) == 0 ? out : clf_default_model_path();
        rc = gate(cand, out, current, &dev, max_under);
        goto done;
    }
    printf("wrote %s\n", out);
    rc = 0;
done:
    free(texts);
    free(lens);
    free(labels);
    rows_free(&rows);
    rows_free(&dev);
    return rc;
}

/* ---- eval ---- */

static void eval_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard classifier eval [--model MODEL] --data FILE.jsonl [--json]\n"
            "                                  [--rules RULES.json] [--errors]\n"
            "                                  [--context-weight W]\n"
            "  --model MODEL  default: $SWITCHYARD_CLASSIFIER_MODEL or the shipped model\n"
            "  --json         print one JSON object (accuracy, macro_f1, per_class, confusion,\n"
            "                 under_routing, calibration)\n"
            "  --rules FILE   apply experiment rules before the model (rules.h format)\n"
            "  --errors       list misclassified rows\n"
            "  --context-weight W  weight of a chat row's earlier turns against its last user\n"
            "                 turn (default %.2f; 0: the last turn only)\n"
            "Rows are classified as the router does: rules, the model and its cost-aware\n"
            "decision, and for rows offering tools the tools rule. Under-routing: the share of\n"
            "code, reasoning and complex rows sent to simple. Calibration: the model's top\n"
            "probability against how often that class was right (rows a rule decided are left\n"
            "out), in ten bins, and the expected calibration error (ECE).\n",
            CLF_CONTEXT_WEIGHT);
}

static int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *rules_path = NULL;
    bool json = false, errors = false;
    double cw = CLF_CONTEXT_WEIGHT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (sy_opts_is_help(a)) {
            eval_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") && has)
            model = argv[++i];
        else if (!strcmp(a, "--data") && has)
            data = argv[++i];
        else if (!strcmp(a, "--rules") && has)
            rules_path = argv[++i];
        else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--errors"))
            errors = true;
        else if (!strcmp(a, "--context-weight") && has) {
            char *end;
            cw = strtod(argv[++i], &end);
            if (*end || !(cw >= 0 && cw <= 10)) {
                fprintf(stderr, "classifier eval: --context-weight must be within 0..10\n");
                return 2;
            }
        } else {
            fprintf(stderr, "classifier eval: unknown or incomplete option '%s'\n", a);
            eval_usage(stderr);
            return 2;
        }
    }
    if (!data) {
        eval_usage(stderr);
        return 2;
    }
    if (!model)
        model = clf_default_model_path();
    char err[512];
    struct clf_classifier *c = NULL;
    struct clf_rules *rules = NULL;
    struct rows rows = {0};
    struct eval e;
    memset(&e, 0, sizeof(e));
    int rc = 1;
    if (clf_load(model, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier eval: %s\n", err);
        return 1;
    }
    clf_set_context_weight(c, cw);
    if (rules_path && load_rules_file(rules_path, &rules) != 0)
        goto done;
    if (read_jsonl(data, &rows) != 0)
        goto done;
    if (rows.n == 0) {
        fprintf(stderr, "classifier eval: %s: no rows\n", data);
        goto done;
    }
    if (evaluate(c, rules, &rows, errors && !json, &e) != 0) {
        fprintf(stderr, "classifier eval: out of memory\n");
        goto done;
    }
    double prec[WIRE_NTASKS], rec[WIRE_NTASKS], f1[WIRE_NTASKS], macro = 0;
    long support[WIRE_NTASKS];
    for (int k = 0; k < WIRE_NTASKS; k++) {
        long tp = e.conf[k][k], col = 0, row = 0;
        for (int j = 0; j < WIRE_NTASKS; j++)
            col += e.conf[j][k];
        for (int j = 0; j <= WIRE_NTASKS; j++)
            row += e.conf[k][j];
        support[k] = row;
        prec[k] = col ? (double)tp / (double)col : 0;
        rec[k] = row ? (double)tp / (double)row : 0;
        f1[k] = prec[k] + rec[k] > 0 ? 2 * prec[k] * rec[k] / (prec[k] + rec[k]) : 0;
        macro += f1[k] / WIRE_NTASKS;
    }
    double acc = accuracy(&e);
    double model_acc = e.model_rows ? (double)e.model_correct / (double)e.model_rows : 0;
    struct clf_calib_bin bins[CLF_CALIB_BINS];
    double ece = clf_calib_reliability(e.cal_conf, e.cal_ok, (size_t)e.model_rows, bins);
    if (json) {
        json_t *o = json_object(), *pc = json_object(), *cm = json_array();
        json_object_set_new(o, "data", json_string(data));
        json_object_set_new(o, "model", json_string(model));
        json_object_set_new(o, "rows", json_integer((json_int_t)rows.n));
        json_object_set_new(o, "accuracy", json_real(acc));
        json_object_set_new(o, "macro_f1", json_real(macro));
        json_object_set_new(o, "model_top1_accuracy", json_real(model_acc));
        json_object_set_new(o, "demoted", json_integer(e.demoted));
        for (int k = 0; k < WIRE_NTASKS; k++) {
            json_t *c1 = json_object();
            json_object_set_new(c1, "precision", json_real(prec[k]));
            json_object_set_new(c1, "recall", json_real(rec[k]));
            json_object_set_new(c1, "f1", json_real(f1[k]));
            json_object_set_new(c1, "support", json_integer(support[k]));
            json_object_set_new(pc, wire_task_str((wire_task)k), c1);
            json_t *r1 = json_array();
            for (int j = 0; j <= WIRE_NTASKS; j++)
                json_array_append_new(r1, json_integer(e.conf[k][j]));
            json_array_append_new(cm, r1);
        }
        json_object_set_new(o, "per_class", pc);
        json_t *lab = json_pack("[sssss]", "simple", "code", "reasoning", "complex", "none");
        json_t *cmo = json_object();
        json_object_set_new(cmo, "labels", lab);
        json_object_set_new(cmo, "rows_true_columns_predicted", cm);
        json_object_set_new(o, "confusion", cmo);
        json_t *ur = json_object();
        json_object_set_new(ur, "rate", json_real(under_rate(&e, -1)));
        for (int k = WIRE_TASK_CODE; k < WIRE_NTASKS; k++)
            json_object_set_new(ur, wire_task_str((wire_task)k), json_real(under_rate(&e, k)));
        json_object_set_new(o, "under_routing", ur);
        json_t *cal = json_object(), *jb = json_array();
        json_object_set_new(cal, "rows", json_integer(e.model_rows));
        json_object_set_new(cal, "ece", json_real(ece));
        for (int b = 0; b < CLF_CALIB_BINS; b++)
            json_array_append_new(
                jb, json_pack("{s:f,s:f,s:I,s:f,s:f}", "lo", (double)b / CLF_CALIB_BINS, "hi",
                              (double)(b + 1) / CLF_CALIB_BINS, "rows", (json_int_t)bins[b].n,
                              "mean_confidence", bins[b].n ? bins[b].conf_sum / (double)bins[b].n : 0.0,
                              "accuracy", bins[b].n ? (double)bins[b].correct / (double)bins[b].n : 0.0));
        json_object_set_new(cal, "bins", jb);
        json_object_set_new(o, "calibration", cal);
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        printf("data %s\nmodel %s\nrows %zu  accuracy %.4f  macro-F1 %.4f\n", data, model,
               rows.n, acc, macro);
        printf("model top-1 accuracy %.4f (before the cost-aware decision), %ld verdicts moved "
               "from simple by it\n\n",
               model_acc, e.demoted);
        printf("%-10s %9s %7s %7s %8s\n", "class", "precision", "recall", "f1", "support");
        for (int k = 0; k < WIRE_NTASKS; k++)
            printf("%-10s %9.4f %7.4f %7.4f %8ld\n", wire_task_str((wire_task)k), prec[k],
                   rec[k], f1[k], support[k]);
        printf("\nconfusion matrix (rows: true, columns: predicted)\n%-10s", "");
        for (int j = 0; j < WIRE_NTASKS; j++)
            printf(" %9s", wire_task_str((wire_task)j));
        printf(" %9s\n", "none");
        for (int k = 0; k < WIRE_NTASKS; k++) {
            printf("%-10s", wire_task_str((wire_task)k));
            for (int j = 0; j <= WIRE_NTASKS; j++)
                printf(" %9ld", e.conf[k][j]);
            printf("\n");
        }
        printf("\nunder-routing (costly class sent to simple): %.4f  (code %.4f, reasoning "
               "%.4f, complex %.4f)\n",
               under_rate(&e, -1), under_rate(&e, WIRE_TASK_CODE),
               under_rate(&e, WIRE_TASK_REASONING), under_rate(&e, WIRE_TASK_COMPLEX));
        printf("\ncalibration of the model's top probability (%ld rows)\n", e.model_rows);
        printf("%-11s %6s %10s %9s\n", "confidence", "rows", "mean conf", "accuracy");
        for (int b = 0; b < CLF_CALIB_BINS; b++)
            if (bins[b].n)
                printf("%.1f-%.1f    %6zu %10.4f %9.4f\n", (double)b / CLF_CALIB_BINS,
                       (double)(b + 1) / CLF_CALIB_BINS, bins[b].n,
                       bins[b].conf_sum / (double)bins[b].n,
                       (double)bins[b].correct / (double)bins[b].n);
        printf("expected calibration error (ECE, 10 bins): %.4f\n", ece);
    }
    rc = 0;
done:
    eval_free(&e);
    rows_free(&rows);
    clf_rules_free(rules);
    clf_free(c);
    return rc;
}

/* ---- predict ---- */

static int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *rules_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--rules") && i + 1 < argc)
            rules_path = argv[++i];
        else {
            fprintf(stderr, "usage: switchyard classifier predict [--model MODEL] "
                            "[--rules RULES.json] < prompt.txt\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    if (!model)
        model = clf_default_model_path();
    char err[512];
    struct clf_classifier *c = NULL;
    struct clf_rules *rules = NULL;
    if (clf_load(model, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier predict: %s\n", err);
        return 1;
    }
    if (rules_path && load_rules_file(rules_path, &rules) != 0) {
        clf_free(c);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf) {
        fprintf(stderr, "classifier predict: out of memory\n");
        clf_rules_free(rules);
        clf_free(c);
        return 1;
    }
    struct clf_result r;
    clf_classify(c, buf, n, rules, &r);
    printf("%s %.4f (%s)\n", wire_task_str(r.task), r.confidence, r.reason);
    if (!r.by_rule)
        printf("simple %.4f code %.4f reasoning %.4f complex %.4f\n", r.probs[0], r.probs[1],
               r.probs[2], r.probs[3]);
    free(buf);
    clf_rules_free(rules);
    clf_free(c);
    return 0;
}

/* ---- bench ---- */

static const char *const bench_seeds[] = {
    ("hey, quick one: my docker container keeps restarting with exit code 137 after about a "
    "minute. docker logs shows nothing useful. what does 137 mean and how do i find out "
    "what's killing it? compose file below.\n"),
    ("Summarise the following article in three sentences for a newsletter audience.\n\nThe "
    "city council voted on Tuesday to extend the pilot programme for protected bike lanes "
    "along the river, citing a drop in collisions and a rise in commuter numbers.\n"),
    ("A train leaves the station at 3:15 pm travelling at 80 km/h. A second train leaves the "
    "same station at 4:00 pm at 110 km/h on a parallel track. At what time does the second "
    "train catch up, and how far from the station? Show the steps.\n"),
    ("Email 1 (from Dana, Mon): the vendor says delivery slips to the 14th.\nEmail 2 (from Raj, "
    "Tue): finance approved the PO on condition delivery is before the 10th.\nEmail 3 (from "
    "the vendor): partial shipment possible on the 9th. Reconcile these and tell me what to "
    "commit to.\n"),
    ("def merge(a, b):\n    out = []\n    while a and b:\n        out.append(a.pop(0) if a[0] < "
    "b[0] else b.pop(0))\n    return out + a + b\n# why is this O(n^2) and how do I fix it?\n"),
};

static char *bench_text(size_t size, size_t seed)
{
    char *t = malloc(size + 1);
    if (!t)
        return NULL;
    size_t n = 0, s = seed;
    while (n < size) {
        const char *src = bench_seeds[s % (sizeof(bench_seeds) / sizeof(bench_seeds[0]))];
        size_t k = strlen(src);
        if (k > size - n)
            k = size - n;
        memcpy(t + n, src, k);
        n += k;
        s += 3;
    }
    t[size] = 0;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stats {
    double median, p99, max, cpu_mean; /* wall-clock per call; thread CPU time per call */
};

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct stats time_calls(struct clf_classifier *c, const struct clf_rules *rules,
                               char **texts, size_t ntexts, size_t len, long iters, double *buf)
{
    struct clf_result r;
    for (long i = 0; i < iters / 10; i++) /* warm-up */
        clf_classify(c, texts[(size_t)i % ntexts], len, rules, &r);
    double c0 = thread_cpu_us();
    for (long i = 0; i < iters; i++) {
        int64_t t0 = sy_clock_mono_ns();
        clf_classify(c, texts[(size_t)i % ntexts], len, rules, &r);
        buf[i] = (double)(sy_clock_mono_ns() - t0) / 1e3;
    }
    double cpu = (thread_cpu_us() - c0) / (double)iters;
    qsort(buf, (size_t)iters, sizeof(double), cmp_double);
    struct stats s = {buf[iters / 2], buf[(long)((double)iters * 0.99)], buf[iters - 1], cpu};
    return s;
}

static int cmd_bench(int argc, char **argv)
{
    const char *model = NULL;
    long iters = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
            iters = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: switchyard classifier bench [--model MODEL] "
                            "[--iterations N]\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    if (iters < 100)
        iters = 100;
    if (!model)
        model = clf_default_model_path();
    char err[512];
    struct clf_classifier *c = NULL;
    if (clf_load(model, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier bench: %s\n", err);
        return 1;
    }
    int rc = 1;
    enum { NT = 5 };
    char *small[NT] = {0}, *big = NULL;
    double *buf = malloc((size_t)iters * sizeof(double));
    struct clf_rules *rules = clf_rules_new();
    if (!buf || !rules)
        goto done;
    clf_rules_set_long_input(rules, 8000, WIRE_TASK_COMPLEX);
    if (clf_rules_add_pattern(rules, "\\b(kubectl|dockerfile|stack trace)\\b", WIRE_TASK_CODE, err,
                              sizeof(err)) ||
        clf_rules_add_pattern(rules, "^(translate|proofread) ", WIRE_TASK_SIMPLE, err, sizeof(err)))
        goto done;
    for (int i = 0; i < NT; i++)
        if (!(small[i] = bench_text(2048, (size_t)i)))
            goto done;
    if (!(big = bench_text(100 * 1024, 1)))
        goto done;
    struct stats model2k = time_calls(c, NULL, small, NT, 2048, iters, buf);
    struct stats rules2k = time_calls(NULL, rules, small, NT, 2048, iters, buf);
    struct stats both2k = time_calls(c, rules, small, NT, 2048, iters, buf);
    long bi = iters / 20 < 200 ? 200 : iters / 20;
    double *bbuf = realloc(buf, (size_t)(bi > iters ? bi : iters) * sizeof(double));
    if (!bbuf)
        goto done;
    buf = bbuf;
    struct stats model100k = time_calls(c, NULL, &big, 1, 100 * 1024, bi, buf);
    struct stats rules100k = time_calls(NULL, rules, &big, 1, 100 * 1024, bi, buf);
    printf("model %s\niterations %ld (2 KB), %ld (100 KB)\n\n", model, iters, bi);
    printf("%-30s %10s %10s %10s %10s\n", "case", "median us", "p99 us", "max us", "cpu us");
    const struct {
        const char *name;
        struct stats st;
    } rowsv[] = {
        {"2 KB, model (no rules)", model2k},
        {"2 KB, rules only (no match)", rules2k},
        {"2 KB, rules then model", both2k},
        {"100 KB, model (no rules)", model100k},
        {"100 KB, rules only", rules100k},
    };
    for (size_t i = 0; i < sizeof(rowsv) / sizeof(rowsv[0]); i++)
        printf("%-30s %10.2f %10.2f %10.2f %10.2f\n", rowsv[i].name, rowsv[i].st.median,
               rowsv[i].st.p99, rowsv[i].st.max, rowsv[i].st.cpu_mean);
    printf("\nmedian/p99/max: wall clock per call; cpu: mean thread CPU time per call\n");
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "classifier bench: setup failed %s\n", err);
    for (int i = 0; i < NT; i++)
        free(small[i]);
    free(big);
    free(buf);
    clf_rules_free(rules);
    clf_free(c);
    return rc;
}

/* ---- overlap: near-duplicates across splits ---- */

struct shingles {
    uint64_t *h; /* sorted, unique */
    size_t n;
};

/* Lower-cased ASCII letters and digits, every other ASCII byte a separator, runs of
 * separators one space, no space at either end; bytes >= 0x80 kept. */
static size_t normalise(const char *s, size_t len, char *out)
{
    size_t n = 0;
    bool sep = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
        if (!keep) {
            sep = n > 0;
            continue;
        }
        if (sep)
            out[n++] = ' ';
        sep = false;
        out[n++] = (char)c;
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#define SHINGLE 5

/* The set of SHINGLE-byte windows of the normalised text (the whole text if shorter). */
static int shingle(const struct row *r, struct shingles *out)
{
    char *norm = malloc(r->len + 1);
    size_t n = norm ? normalise(r->text, r->len, norm) : 0;
    size_t k = n >= SHINGLE ? n - SHINGLE + 1 : 1;
    out->h = malloc(k * sizeof(*out->h));
    out->n = 0;
    if (!norm || !out->h) {
        free(norm);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        size_t w = n >= SHINGLE ? SHINGLE : n;
        uint64_t h = 1469598103934665603ull; /* FNV-1a, 64 bits */
        for (size_t j = 0; j < w; j++)
            h = (h ^ (unsigned char)norm[i + j]) * 1099511628211ull;
        out->h[out->n++] = h;
    }
    free(norm);
    qsort(out->h, out->n, sizeof(*out->h), cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < out->n; i++)
        if (u == 0 || out->h[i] != out->h[u - 1])
            out->h[u++] = out->h[i];
    out->n = u;
    return 0;
}

static double jaccard(const struct shingles *a, const struct shingles *b)
{
    size_t i = 0, j = 0, both = 0;
    while (i < a->n && j < b->n) {
        if (a->h[i] == b->h[j]) {
            both++;
            i++;
            j++;
        } else if (a->h[i] < b->h[j])
            i++;
        else
            j++;
    }
    return (double)both / (double)(a->n + b->n - both);
}

struct split {
    struct rows rows;
    struct shingles *sh;
    const char **file; /* per row: the file it came from */
};

static void split_free(struct split *s)
{
    for (size_t i = 0; s->sh && i < s->rows.n; i++)
        free(s->sh[i].h);
    free(s->sh);
    free(s->file);
    rows_free(&s->rows);
}

static int split_read(struct split *s, const char *const *paths, int npaths)
{
    for (int p = 0; p < npaths; p++) {
        size_t before = s->rows.n;
        if (read_jsonl(paths[p], &s->rows) != 0)
            return -1;
        const char **f = realloc(s->file, (s->rows.n ? s->rows.n : 1) * sizeof(*f));
        if (!f)
            return -1;
        s->file = f;
        for (size_t i = before; i < s->rows.n; i++)
            s->file[i] = paths[p];
    }
    s->sh = calloc(s->rows.n ? s->rows.n : 1, sizeof(*s->sh));
    if (!s->sh)
        return -1;
    for (size_t i = 0; i < s->rows.n; i++)
        if (shingle(&s->rows.v[i], &s->sh[i]) != 0)
            return -1;
    return 0;
}

static int cmd_overlap(int argc, char **argv)
{
    const char *train[MAX_DATA_FILES], *check[MAX_DATA_FILES];
    int ntrain = 0, ncheck = 0;
    double threshold = 0.8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--train") && has && ntrain < MAX_DATA_FILES)
            train[ntrain++] = argv[++i];
        else if (!strcmp(a, "--check") && has && ncheck < MAX_DATA_FILES)
            check[ncheck++] = argv[++i];
        else if (!strcmp(a, "--jaccard") && has)
            threshold = atof(argv[++i]);
        else {
            bool help = sy_opts_is_help(a);
            fprintf(help ? stdout : stderr,
                    "usage: switchyard classifier overlap --train FILE [--train FILE ...]\n"
                    "                                     --check FILE [--check FILE ...]\n"
                    "                                     [--jaccard X]\n"
                    "Lists every --check row that is a near-duplicate of a --train row: the\n"
                    "Jaccard similarity of their sets of %d-byte shingles of the normalised\n"
                    "text (lower case, letters and digits, single spaces) is at least X\n"
                    "(default 0.8; equal normalised texts score 1). Exit 1 if there is one.\n",
                    SHINGLE);
            return help ? 0 : 2;
        }
    }
    if (ntrain == 0 || ncheck == 0 || !(threshold > 0 && threshold <= 1)) {
        fprintf(stderr, "classifier overlap: needs --train and --check (and 0 < --jaccard <= 1)\n");
        return 2;
    }
    struct split tr = {0}, ck = {0};
    int rc = 1;
    long found = 0;
    if (split_read(&tr, train, ntrain) != 0 || split_read(&ck, check, ncheck) != 0) {
        fprintf(stderr, "classifier overlap: cannot read the data\n");
        goto done;
    }
    for (size_t i = 0; i < ck.rows.n; i++) {
        const struct shingles *a = &ck.sh[i];
        double best = 0;
        size_t bj = 0;
        for (size_t j = 0; j < tr.rows.n; j++) {
            const struct shingles *b = &tr.sh[j];
            /* |A n B| / |A u B| <= min/max: skip pairs whose sizes differ too much */
            size_t lo = a->n < b->n ? a->n : b->n, hi = a->n < b->n ? b->n : a->n;
            if ((double)lo < threshold * (double)hi)
                continue;
            double jv = jaccard(a, b);
            if (jv > best) {
                best = jv;
                bj = j;
            }
        }
        if (best >= threshold) {
            found++;
            printf("%s:%ld near-duplicate of %s:%ld (jaccard %.3f)\n", ck.file[i],
                   ck.rows.v[i].line, tr.file[bj], tr.rows.v[bj].line, best);
        }
    }
    printf("overlap: %zu rows checked against %zu, %ld near-duplicates (jaccard >= %.2f)\n",
           ck.rows.n, tr.rows.n, found, threshold);
    rc = found ? 1 : 0;
done:
    split_free(&tr);
    split_free(&ck);
    return rc;
}

/* ---- dispatch ---- */

static void usage(FILE *out)
{
    fprintf(out, "usage: switchyard classifier <train|eval|predict|bench|overlap> [options]\n"
                 "  train    train a model from JSON Lines (and PostgreSQL labels), calibrate it\n"
                 "  eval     accuracy, per-class precision/recall/F1, confusion matrix,\n"
                 "           under-routing, calibration (reliability table, ECE)\n"
                 "  predict  classify the prompt read from stdin\n"
                 "  bench    latency of the model and of the rules alone\n"
                 "  overlap  near-duplicates of training rows in held-out files\n"
                 "'switchyard classifier <cmd> --help' lists a command's options.\n");
}

int classifier_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict"))
        return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "overlap"))
        return cmd_overlap(argc - 1, argv + 1);
    fprintf(stderr, "classifier: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
