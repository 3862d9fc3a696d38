/*
 * switchyard classifier: train, eval, predict, bench.
 *
 * Data files are JSON Lines: {"text": "...", "label": "simple|code|reasoning|complex"}
 * plus any other keys (source, licence, ...), which are ignored; an optional
 * positive integer "weight" repeats a row that many times in training.
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
#include <time.h>

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
    int label;
    int weight;
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].text);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static int rows_push(struct rows *r, const char *text, size_t len, int label, int weight)
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
    r->v[r->n++] = (struct row){t, len, label, weight};
    return 0;
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
        json_t *w = json_object_get(o, "weight");
        wire_task task;
        if (!json_is_object(o) || !json_is_string(t)) {
            fprintf(stderr, "classifier: %s:%ld: expected an object with a string \"text\"\n",
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
        } else if (rows_push(out, json_string_value(t), json_string_length(t), (int)task,
                             w ? (int)json_integer_value(w) : 1) != 0) {
            fprintf(stderr, "classifier: out of memory\n");
            rc = -1;
        }
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
static int read_db(const char *url, struct rows *out)
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
        fprintf(stderr, "classifier: --from-db: cannot connect: %s\n", err);
        goto done;
    }
    res = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr,
                "classifier: --from-db: %s(the labels table needs a prompt column: apply "
                "migrations/0002_label_prompts.sql)\n",
                PQerrorMessage(pg));
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        wire_task t;
        if (clf_target_parse(PQgetvalue(res, i, 1), &t) != 0 || t == WIRE_TASK_NONE)
            continue;
        if (rows_push(out, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), (int)t, 1)) {
            fprintf(stderr, "classifier: out of memory\n");
            goto done;
        }
    }
    printf("from-db: %d labelled prompts\n", PQntuples(res));
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

/* ---- train ---- */

static void train_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard classifier train --data FILE.jsonl [--data FILE2.jsonl ...]\n"
            "                                   --out MODEL [--from-db] [--db-url URL]\n"
            "                                   [--C X] [--eps X] [--set KEY=VALUE ...]\n"
            "  --data FILE    JSON Lines with \"text\" and \"label\" (repeatable)\n"
            "  --out MODEL    model file to write (replaced atomically)\n"
            "  --from-db      also train on human labels in PostgreSQL (labels.prompt, see\n"
            "                 migrations/0002_label_prompts.sql); URL from --db-url or\n"
            "                 $SWITCHYARD_DATABASE_URL\n"
            "  --C X          liblinear cost (default 8)\n"
            "  --set K=V      feature setting: word_bits bigram_bits char_bits shape_bits\n"
            "                 char_min char_max head_bytes tail_bytes char_head_bytes\n"
            "                 char_tail_bytes w_word w_bigram w_char\n"
            "                 w_shape w_struct w_length\n");
}

static int cmd_train(int argc, char **argv)
{
    const char *data[MAX_DATA_FILES], *out = NULL, *db_url = NULL;
    int ndata = 0, rc = 1;
    bool from_db = false;
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
        else if (!strcmp(a, "--from-db"))
            from_db = true;
        else if (!strcmp(a, "--db-url") && has) {
            db_url = argv[++i];
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
    if ((ndata == 0 && !from_db) || !out) {
        train_usage(stderr);
        return 2;
    }
    if (from_db && !db_url)
        db_url = getenv("SWITCHYARD_DATABASE_URL");
    if (from_db && (!db_url || !*db_url)) {
        fprintf(stderr, "classifier train: --from-db needs --db-url or SWITCHYARD_DATABASE_URL\n");
        return 2;
    }
    struct rows rows = {0};
    for (int i = 0; i < ndata; i++)
        if (read_jsonl(data[i], &rows) != 0)
            goto done;
    if (from_db && read_db(db_url, &rows) != 0)
        goto done;

    size_t n = 0;
    for (size_t i = 0; i < rows.n; i++)
        n += (size_t)rows.v[i].weight;
    const char **texts = malloc((n ? n : 1) * sizeof(*texts));
    size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
    int *labels = malloc((n ? n : 1) * sizeof(*labels));
    size_t per[WIRE_NTASKS] = {0};
    if (!texts || !lens || !labels) {
        fprintf(stderr, "classifier train: out of memory\n");
        goto done_arrays;
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
        goto done_arrays;
    }
    int64_t t1 = sy_clock_mono_ns();
    if (clf_model_save(m, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier train: %s\n", err);
        clf_model_free(m);
        goto done_arrays;
    }
    clf_model_free(m);
    printf("trained on %zu rows (%zu with weights): simple %zu, code %zu, reasoning %zu, "
           "complex %zu in %.1f s\nwrote %s\n",
           rows.n, n, per[0], per[1], per[2], per[3],
           (double)(t1 - t0) / 1e9, out);
    rc = 0;
done_arrays:
    free(texts);
    free(lens);
    free(labels);
done:
    rows_free(&rows);
    return rc;
}

/* ---- eval ---- */

static void eval_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard classifier eval [--model MODEL] --data FILE.jsonl [--json]\n"
            "                                  [--rules RULES.json] [--errors]\n"
            "  --model MODEL  default: $SWITCHYARD_CLASSIFIER_MODEL or the shipped model\n"
            "  --json         print one JSON object (accuracy, macro_f1, per_class, confusion)\n"
            "  --rules FILE   apply experiment rules before the model (rules.h format)\n"
            "  --errors       list misclassified rows\n");
}

static int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *rules_path = NULL;
    bool json = false, errors = false;
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
        else {
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
    int rc = 1;
    if (clf_load(model, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "classifier eval: %s\n", err);
        return 1;
    }
    if (rules_path && load_rules_file(rules_path, &rules) != 0)
        goto done;
    if (read_jsonl(data, &rows) != 0)
        goto done;
    if (rows.n == 0) {
        fprintf(stderr, "classifier eval: %s: no rows\n", data);
        goto done;
    }
    long conf[WIRE_NTASKS][WIRE_NTASKS + 1]; /* last column: not classified */
    memset(conf, 0, sizeof(conf));
    long correct = 0;
    for (size_t i = 0; i < rows.n; i++) {
        struct clf_result r;
        clf_classify(c, rows.v[i].text, rows.v[i].len, rules, &r);
        int p = r.task == WIRE_TASK_NONE ? WIRE_NTASKS : (int)r.task;
        conf[rows.v[i].label][p]++;
        if (p == rows.v[i].label)
            correct++;
        else if (errors && !json) {
            char snip[161];
            size_t k = 0;
            for (size_t j = 0; j < rows.v[i].len && k < 160; j++)
                snip[k++] = rows.v[i].text[j] == '\n' ? ' ' : rows.v[i].text[j];
            snip[k] = 0;
            printf("row %zu: true %s, predicted %s (%.2f): %s\n", i + 1,
                   wire_task_str((wire_task)rows.v[i].label), wire_task_str(r.task),
                   r.confidence, snip);
        }
    }
    double prec[WIRE_NTASKS], rec[WIRE_NTASKS], f1[WIRE_NTASKS], macro = 0;
    long support[WIRE_NTASKS];
    for (int k = 0; k < WIRE_NTASKS; k++) {
        long tp = conf[k][k], col = 0, row = 0;
        for (int j = 0; j < WIRE_NTASKS; j++)
            col += conf[j][k];
        for (int j = 0; j <= WIRE_NTASKS; j++)
            row += conf[k][j];
        support[k] = row;
        prec[k] = col ? (double)tp / (double)col : 0;
        rec[k] = row ? (double)tp / (double)row : 0;
        f1[k] = prec[k] + rec[k] > 0 ? 2 * prec[k] * rec[k] / (prec[k] + rec[k]) : 0;
        macro += f1[k] / WIRE_NTASKS;
    }
    double acc = (double)correct / (double)rows.n;
    if (json) {
        json_t *o = json_object(), *pc = json_object(), *cm = json_array();
        json_object_set_new(o, "data", json_string(data));
        json_object_set_new(o, "model", json_string(model));
        json_object_set_new(o, "rows", json_integer((json_int_t)rows.n));
        json_object_set_new(o, "accuracy", json_real(acc));
        json_object_set_new(o, "macro_f1", json_real(macro));
        for (int k = 0; k < WIRE_NTASKS; k++) {
            json_t *c1 = json_object();
            json_object_set_new(c1, "precision", json_real(prec[k]));
            json_object_set_new(c1, "recall", json_real(rec[k]));
            json_object_set_new(c1, "f1", json_real(f1[k]));
            json_object_set_new(c1, "support", json_integer(support[k]));
            json_object_set_new(pc, wire_task_str((wire_task)k), c1);
            json_t *r1 = json_array();
            for (int j = 0; j <= WIRE_NTASKS; j++)
                json_array_append_new(r1, json_integer(conf[k][j]));
            json_array_append_new(cm, r1);
        }
        json_object_set_new(o, "per_class", pc);
        json_t *lab = json_pack("[sssss]", "simple", "code", "reasoning", "complex", "none");
        json_t *cmo = json_object();
        json_object_set_new(cmo, "labels", lab);
        json_object_set_new(cmo, "rows_true_columns_predicted", cm);
        json_object_set_new(o, "confusion", cmo);
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        printf("data %s\nmodel %s\nrows %zu  accuracy %.4f  macro-F1 %.4f\n\n", data, model,
               rows.n, acc, macro);
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
                printf(" %9ld", conf[k][j]);
            printf("\n");
        }
    }
    rc = 0;
done:
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

/* ---- dispatch ---- */

static void usage(FILE *out)
{
    fprintf(out, "usage: switchyard classifier <train|eval|predict|bench> [options]\n"
                 "  train    train a model from JSON Lines (and PostgreSQL labels)\n"
                 "  eval     accuracy, per-class precision/recall/F1, confusion matrix\n"
                 "  predict  classify the prompt read from stdin\n"
                 "  bench    latency of the model and of the rules alone\n"
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
    fprintf(stderr, "classifier: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
