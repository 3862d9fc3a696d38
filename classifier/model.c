/*
 * Model training, persistence and prediction with liblinear.
 *
 * Training uses liblinear's L2R_LR solver (trust-region Newton, deterministic).
 * The weights are rounded to float32 right after training, so the model in
 * memory after `train` is exactly the one a later load reads back, and the
 * file is a pure function of the training rows and settings.
 */
#include "classifier/model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <linear.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/calibration.h"

#define MAX_MODEL_BYTES (64u << 20)
#define TRAILER_LEN 24 /* "checksum crc32 " + 8 hex digits + "\n" */

struct clf_model {
    struct clf_feature_config fcfg;
    struct clf_train_params tp;
    struct model lm; /* liblinear view: w, label, nr_class, nr_feature, bias */
    int labels[WIRE_NTASKS];
    double temperature;             /* probabilities: softmax(decision values / temperature) */
    double simple_min[WIRE_NTASKS]; /* the cost-aware decision, calibration.h */
    float *wf; /* lm.w as float32 (exact: the weights are float32 values), for prediction */
};

_Static_assert(CLF_DOT_CLASSES == WIRE_NTASKS, "clf_extract_dot scores every class");

static const char *const class_names[WIRE_NTASKS] = {"simple", "code", "reasoning", "complex"};

void clf_train_params_default(struct clf_train_params *tp)
{
    tp->C = 32.0;
    tp->eps = 0.001;
}

const struct clf_feature_config *clf_model_features(const struct clf_model *m)
{
    return &m->fcfg;
}

void clf_model_free(struct clf_model *m)
{
    if (!m)
        return;
    free(m->lm.w);
    free(m->wf);
    free(m);
}

unsigned long clf_crc32(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

static void quiet(const char *s)
{
    (void)s;
}

static struct clf_model *model_new(const struct clf_feature_config *fcfg,
                                   const struct clf_train_params *tp)
{
    struct clf_model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->fcfg = *fcfg;
    m->tp = *tp;
    for (int i = 0; i < WIRE_NTASKS; i++)
        m->labels[i] = i;
    m->lm.param.solver_type = L2R_LR;
    m->lm.param.C = tp->C;
    m->lm.param.eps = tp->eps;
    m->lm.nr_class = WIRE_NTASKS;
    m->lm.nr_feature = clf_feature_dim(fcfg);
    m->lm.label = m->labels;
    m->lm.bias = 1.0;
    m->temperature = 1.0;
    return m;
}

/* The float32 copy of the weights that prediction reads (half the cache footprint). */
static int make_wf(struct clf_model *m)
{
    size_t nw = ((size_t)m->lm.nr_feature + 1) * WIRE_NTASKS;
    m->wf = malloc(nw * sizeof(*m->wf));
    if (!m->wf)
        return -1;
    for (size_t i = 0; i < nw; i++)
        m->wf[i] = (float)m->lm.w[i];
    return 0;
}

static int cmp_node(const void *a, const void *b)
{
    const struct feature_node *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

int clf_model_train(const struct clf_feature_config *fcfg, const struct clf_train_params *tp,
                    const char *const *texts, const size_t *lens, const int *labels, size_t n,
                    struct clf_model **out, char *err, size_t errlen)
{
    struct clf_extractor *ex = NULL;
    struct feature_node **x = NULL;
    double *y = NULL;
    struct model *lm = NULL;
    struct clf_model *m = NULL;
    size_t built = 0;
    int seen[WIRE_NTASKS] = {0};

    *out = NULL;
    if (clf_feature_config_check(fcfg, err, errlen) != 0)
        return -1;
    if (!(tp->C > 0) || !(tp->eps > 0)) {
        snprintf(err, errlen, "C and eps must be positive");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= WIRE_NTASKS) {
            snprintf(err, errlen, "row %zu: label out of range", i + 1);
            return -1;
        }
        seen[labels[i]]++;
    }
    for (int c = 0; c < WIRE_NTASKS; c++)
        if (!seen[c]) {
            snprintf(err, errlen, "training data has no rows of class %s", class_names[c]);
            return -1;
        }
    ex = clf_extractor_new(fcfg);
    x = calloc(n ? n : 1, sizeof(*x));
    y = calloc(n ? n : 1, sizeof(*y));
    m = model_new(fcfg, tp);
    if (!ex || !x || !y || !m)
        goto oom;
    int dim = clf_feature_dim(fcfg);
    for (built = 0; built < n; built++) {
        struct feature_node *f;
        size_t k = clf_extract(ex, texts[built], lens[built], &f);
        struct feature_node *row = malloc((k + 2) * sizeof(*row));
        if (!row)
            goto oom;
        memcpy(row, f, k * sizeof(*row));
        qsort(row, k, sizeof(*row), cmp_node);
        row[k].index = dim + 1;
        row[k].value = 1.0;
        row[k + 1].index = -1;
        row[k + 1].value = 0;
        x[built] = row;
        y[built] = labels[built];
    }
    struct problem prob = {.l = (int)n, .n = dim + 1, .y = y, .x = x, .bias = 1.0};
    struct parameter param = {.solver_type = L2R_LR, .eps = tp->eps, .C = tp->C};
    const char *perr = check_parameter(&prob, &param);
    if (perr) {
        snprintf(err, errlen, "liblinear: %s", perr);
        goto fail;
    }
    set_print_string_function(quiet);
    lm = train(&prob, &param);
    if (!lm || lm->nr_class != WIRE_NTASKS) {
        snprintf(err, errlen, "liblinear training failed");
        goto fail;
    }
    /* reorder liblinear's columns (first-seen label order) to class order, round to float */
    size_t rows = (size_t)dim + 1;
    m->lm.w = malloc(rows * WIRE_NTASKS * sizeof(double));
    if (!m->lm.w)
        goto oom;
    for (int j = 0; j < WIRE_NTASKS; j++) {
        int cls = lm->label[j];
        for (size_t r = 0; r < rows; r++)
            m->lm.w[r * WIRE_NTASKS + (size_t)cls] = (double)(float)lm->w[r * WIRE_NTASKS + (size_t)j];
    }
    if (make_wf(m) != 0)
        goto oom;
    free_and_destroy_model(&lm);
    for (size_t i = 0; i < built; i++)
        free(x[i]);
    free(x);
    free(y);
    clf_extractor_free(ex);
    *out = m;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (lm)
        free_and_destroy_model(&lm);
    if (x)
        for (size_t i = 0; i < built; i++)
            free(x[i]);
    free(x);
    free(y);
    clf_extractor_free(ex);
    clf_model_free(m);
    return -1;
}

/* ---- file format ---- */

static int header_text(const struct clf_model *m, char *buf, size_t cap)
{
    const struct clf_feature_config *f = &m->fcfg;
    return snprintf(buf, cap,
                    CLF_MODEL_MAGIC "\n"
                    "format_version %d\n"
                    "features_version %d\n"
                    "classes simple code reasoning complex\n"
                    "solver L2R_LR\n"
                    "C %.17g\n"
                    "eps %.17g\n"
                    "word_bits %u\n"
                    "bigram_bits %u\n"
                    "char_bits %u\n"
                    "shape_bits %u\n"
                    "char_ngrams %u %u\n"
                    "window %u %u\n"
                    "char_window %u %u\n"
                    "w_word %.17g\n"
                    "w_bigram %.17g\n"
                    "w_char %.17g\n"
                    "w_shape %.17g\n"
                    "w_struct %.17g\n"
                    "w_length %.17g\n"
                    "edge_words %u\n"
                    "temperature %.17g\n"
                    "simple_min code %.17g reasoning %.17g complex %.17g\n"
                    "bias 1\n"
                    "nr_feature %d\n"
                    "weights float32le %d %d\n",
                    CLF_MODEL_FORMAT_VERSION, CLF_FEATURES_VERSION, m->tp.C, m->tp.eps,
                    f->word_bits, f->bigram_bits, f->char_bits, f->shape_bits, f->char_min,
                    f->char_max, f->head_bytes, f->tail_bytes, f->char_head_bytes, f->char_tail_bytes, f->w_word, f->w_bigram, f->w_char,
                    f->w_shape, f->w_struct, f->w_length, f->edge_words, m->temperature,
                    m->simple_min[WIRE_TASK_CODE], m->simple_min[WIRE_TASK_REASONING],
                    m->simple_min[WIRE_TASK_COMPLEX], m->lm.nr_feature, m->lm.nr_feature + 1,
                    WIRE_NTASKS);
}

int clf_model_save(const struct clf_model *m, const char *path, char *err, size_t errlen)
{
    char head[2048];
    int hl = header_text(m, head, sizeof(head));
    size_t nw = ((size_t)m->lm.nr_feature + 1) * WIRE_NTASKS;
    size_t total = (size_t)hl + nw * 4 + TRAILER_LEN;
    unsigned char *buf = malloc(total + 1);
    char tmp[4096];
    FILE *fp = NULL;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(buf, head, (size_t)hl);
    unsigned char *p = buf + hl;
    for (size_t i = 0; i < nw; i++) {
        float v = (float)m->lm.w[i];
        uint32_t u;
        memcpy(&u, &v, 4);
        p[0] = (unsigned char)u;
        p[1] = (unsigned char)(u >> 8);
        p[2] = (unsigned char)(u >> 16);
        p[3] = (unsigned char)(u >> 24);
        p += 4;
    }
    unsigned long crc = clf_crc32(buf, (size_t)(p - buf));
    snprintf((char *)p, TRAILER_LEN + 1, "checksum crc32 %08lx\n", crc);
    /* write to a temporary file and rename, so a reader never sees half a model */
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        goto fail;
    }
    fp = fopen(tmp, "wb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fwrite(buf, 1, total, fp) != total || fclose(fp) != 0) {
        fp = NULL;
        snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        goto fail;
    }
    fp = NULL;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        remove(tmp);
        goto fail;
    }
    free(buf);
    return 0;
fail:
    if (fp)
        fclose(fp);
    free(buf);
    return -1;
}

/* Parses "key value..." header lines. Returns 0 when the weights line is reached. */
struct header {
    int format_version, features_version, nr_feature, rows, cols, bias;
    bool have[32];
    struct clf_feature_config f;
    struct clf_train_params tp;
    double temperature, simple_min[WIRE_NTASKS];
};

enum hkey { HK_FORMAT, HK_FEATURES, HK_CLASSES, HK_SOLVER, HK_C, HK_EPS, HK_WORD, HK_BIGRAM,
            HK_CHAR, HK_SHAPE, HK_NGRAMS, HK_WINDOW, HK_CWINDOW, HK_WWORD, HK_WBIGRAM, HK_WCHAR, HK_WSHAPE,
            HK_WSTRUCT, HK_WLENGTH, HK_EDGE, HK_TEMP, HK_SIMPLEMIN, HK_BIAS, HK_NRFEAT, HK_COUNT };

static const char *const hkey_names[HK_COUNT] = {
    "format_version", "features_version", "classes", "solver", "C", "eps", "word_bits",
    "bigram_bits", "char_bits", "shape_bits", "char_ngrams", "window", "char_window", "w_word", "w_bigram",
    "w_char", "w_shape", "w_struct", "w_length", "edge_words", "temperature", "simple_min", "bias", "nr_feature"};

static int parse_line(struct header *h, int key, const char *v)
{
    char extra;
    switch (key) {
    case HK_FORMAT: return sscanf(v, "%d%c", &h->format_version, &extra) == 1 ? 0 : -1;
    case HK_FEATURES: return sscanf(v, "%d%c", &h->features_version, &extra) == 1 ? 0 : -1;
    case HK_CLASSES: return strcmp(v, "simple code reasoning complex") == 0 ? 0 : -1;
    case HK_SOLVER: return strcmp(v, "L2R_LR") == 0 ? 0 : -1;
    case HK_C: return sscanf(v, "%lf%c", &h->tp.C, &extra) == 1 ? 0 : -1;
    case HK_EPS: return sscanf(v, "%lf%c", &h->tp.eps, &extra) == 1 ? 0 : -1;
    case HK_WORD: return sscanf(v, "%u%c", &h->f.word_bits, &extra) == 1 ? 0 : -1;
    case HK_BIGRAM: return sscanf(v, "%u%c", &h->f.bigram_bits, &extra) == 1 ? 0 : -1;
    case HK_CHAR: return sscanf(v, "%u%c", &h->f.char_bits, &extra) == 1 ? 0 : -1;
    case HK_SHAPE: return sscanf(v, "%u%c", &h->f.shape_bits, &extra) == 1 ? 0 : -1;
    case HK_NGRAMS: return sscanf(v, "%u %u%c", &h->f.char_min, &h->f.char_max, &extra) == 2 ? 0 : -1;
    case HK_WINDOW: return sscanf(v, "%u %u%c", &h->f.head_bytes, &h->f.tail_bytes, &extra) == 2 ? 0 : -1;
    case HK_CWINDOW: return sscanf(v, "%u %u%c", &h->f.char_head_bytes, &h->f.char_tail_bytes, &extra) == 2 ? 0 : -1;
    case HK_WWORD: return sscanf(v, "%lf%c", &h->f.w_word, &extra) == 1 ? 0 : -1;
    case HK_WBIGRAM: return sscanf(v, "%lf%c", &h->f.w_bigram, &extra) == 1 ? 0 : -1;
    case HK_WCHAR: return sscanf(v, "%lf%c", &h->f.w_char, &extra) == 1 ? 0 : -1;
    case HK_WSHAPE: return sscanf(v, "%lf%c", &h->f.w_shape, &extra) == 1 ? 0 : -1;
    case HK_WSTRUCT: return sscanf(v, "%lf%c", &h->f.w_struct, &extra) == 1 ? 0 : -1;
    case HK_WLENGTH: return sscanf(v, "%lf%c", &h->f.w_length, &extra) == 1 ? 0 : -1;
    case HK_EDGE: return sscanf(v, "%u%c", &h->f.edge_words, &extra) == 1 ? 0 : -1;
    case HK_TEMP:
        return sscanf(v, "%lf%c", &h->temperature, &extra) == 1 && h->temperature >= 0.05 &&
                       h->temperature <= 20
                   ? 0
                   : -1;
    case HK_SIMPLEMIN: {
        double *t = h->simple_min;
        if (sscanf(v, "code %lf reasoning %lf complex %lf%c", &t[WIRE_TASK_CODE],
                   &t[WIRE_TASK_REASONING], &t[WIRE_TASK_COMPLEX], &extra) != 3)
            return -1;
        for (int c = WIRE_TASK_CODE; c < WIRE_NTASKS; c++)
            if (!(t[c] >= 0 && t[c] <= 1))
                return -1;
        return 0;
    }
    case HK_BIAS: return sscanf(v, "%d%c", &h->bias, &extra) == 1 && h->bias == 1 ? 0 : -1;
    case HK_NRFEAT: return sscanf(v, "%d%c", &h->nr_feature, &extra) == 1 ? 0 : -1;
    default: return -1;
    }
}

int clf_model_load_buffer(const char *path, const unsigned char *buf, size_t len,
                          struct clf_model **out, char *err, size_t errlen)
{
    struct header h;
    char line[256];
    size_t pos, ml = strlen(CLF_MODEL_MAGIC);
    int lineno = 1;

    *out = NULL;
    memset(&h, 0, sizeof(h));
    if (len < ml + 1 || memcmp(buf, CLF_MODEL_MAGIC "\n", ml + 1) != 0) {
        snprintf(err, errlen, "%s: not a switchyard task model (bad magic)", path);
        return -1;
    }
    unsigned long want;
    char tr[TRAILER_LEN + 1];
    if (len < ml + 1 + TRAILER_LEN) {
        snprintf(err, errlen, "%s: checksum mismatch (file is corrupt or truncated)", path);
        return -1;
    }
    memcpy(tr, buf + len - TRAILER_LEN, TRAILER_LEN);
    tr[TRAILER_LEN] = 0;
    if (sscanf(tr, "checksum crc32 %8lx", &want) != 1 || tr[TRAILER_LEN - 1] != '\n' ||
        clf_crc32(buf, len - TRAILER_LEN) != want) {
        snprintf(err, errlen, "%s: checksum mismatch (file is corrupt or truncated)", path);
        return -1;
    }
    size_t body_end = len - TRAILER_LEN;
    pos = ml + 1;
    for (;;) {
        lineno++;
        const unsigned char *nl = memchr(buf + pos, '\n', body_end - pos);
        if (!nl) {
            snprintf(err, errlen, "%s: line %d: unterminated header", path, lineno);
            return -1;
        }
        size_t n = (size_t)(nl - (buf + pos));
        if (n >= sizeof(line)) {
            snprintf(err, errlen, "%s: line %d: header line too long", path, lineno);
            return -1;
        }
        memcpy(line, buf + pos, n);
        line[n] = 0;
        pos += n + 1;
        char *sp = strchr(line, ' ');
        if (!sp) {
            snprintf(err, errlen, "%s: line %d: expected \"key value\"", path, lineno);
            return -1;
        }
        *sp = 0;
        const char *v = sp + 1;
        if (!strcmp(line, "weights")) {
            char extra;
            if (sscanf(v, "float32le %d %d%c", &h.rows, &h.cols, &extra) != 2) {
                snprintf(err, errlen, "%s: line %d: bad weights line", path, lineno);
                return -1;
            }
            break;
        }
        int key = -1;
        for (int k = 0; k < HK_COUNT; k++)
            if (!strcmp(line, hkey_names[k]))
                key = k;
        if (key < 0) {
            snprintf(err, errlen, "%s: line %d: unknown key \"%s\"", path, lineno, line);
            return -1;
        }
        if (parse_line(&h, key, v) != 0) {
            snprintf(err, errlen, "%s: line %d: bad value for %s: \"%s\"", path, lineno, line, v);
            return -1;
        }
        h.have[key] = true;
        if (key == HK_FORMAT && h.format_version != CLF_MODEL_FORMAT_VERSION) {
            snprintf(err, errlen, "%s: unsupported format_version %d (this build reads %d)", path,
                     h.format_version, CLF_MODEL_FORMAT_VERSION);
            return -1;
        }
        if (key == HK_FEATURES && h.features_version != CLF_FEATURES_VERSION) {
            snprintf(err, errlen,
                     "%s: features_version %d does not match this build (%d); retrain the model",
                     path, h.features_version, CLF_FEATURES_VERSION);
            return -1;
        }
    }
    for (int k = 0; k < HK_COUNT; k++)
        if (!h.have[k]) {
            snprintf(err, errlen, "%s: missing header key %s", path, hkey_names[k]);
            return -1;
        }
    char cerr[160];
    if (clf_feature_config_check(&h.f, cerr, sizeof(cerr)) != 0) {
        snprintf(err, errlen, "%s: bad feature settings: %s", path, cerr);
        return -1;
    }
    if (h.nr_feature != clf_feature_dim(&h.f) || h.rows != h.nr_feature + 1 ||
        h.cols != WIRE_NTASKS) {
        snprintf(err, errlen, "%s: weight matrix %dx%d does not match the feature settings (%dx%d)",
                 path, h.rows, h.cols, clf_feature_dim(&h.f) + 1, WIRE_NTASKS);
        return -1;
    }
    size_t nw = (size_t)h.rows * (size_t)h.cols;
    if (body_end - pos != nw * 4) {
        snprintf(err, errlen, "%s: expected %zu weight bytes, found %zu", path, nw * 4,
                 body_end - pos);
        return -1;
    }
    struct clf_model *m = model_new(&h.f, &h.tp);
    if (!m || !(m->lm.w = malloc(nw * sizeof(double)))) {
        clf_model_free(m);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    clf_model_set_decision(m, h.temperature, h.simple_min);
    const unsigned char *p = buf + pos;
    for (size_t i = 0; i < nw; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        float v;
        memcpy(&v, &u, 4);
        if (!isfinite(v)) { /* NaN or inf: every probability would be NaN */
            snprintf(err, errlen, "%s: weight %zu (row %zu, class %zu) is not a finite number",
                     path, i, i / WIRE_NTASKS + 1, i % WIRE_NTASKS + 1);
            clf_model_free(m);
            return -1;
        }
        m->lm.w[i] = v;
    }
    if (make_wf(m) != 0) {
        clf_model_free(m);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    *out = m;
    return 0;
}

int clf_model_load(const char *path, struct clf_model **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if ((unsigned long long)st.st_size > MAX_MODEL_BYTES) {
        fclose(fp);
        snprintf(err, errlen, "%s: larger than %u bytes", path, MAX_MODEL_BYTES);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(fp);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, size, fp);
    int rerr = ferror(fp);
    fclose(fp);
    int rc = -1;
    if (rerr || n != size)
        snprintf(err, errlen, "%s: read error", path);
    else
        rc = clf_model_load_buffer(path, buf, n, out, err, errlen);
    free(buf);
    return rc;
}

/*
 * The class scores: the same sums liblinear's predict_values() makes, in the same order
 * (features, then the bias node), without building a feature vector, so they are
 * bit-identical to it. Probabilities are softmax(scores / temperature) (calibration.h),
 * not liblinear's normalised one-vs-rest logistic; the top class is the same.
 */
void clf_model_scores(const struct clf_model *m, struct clf_extractor *ex, const char *text,
                      size_t len, double dec[WIRE_NTASKS])
{
    clf_extract_dot(ex, text, len, m->wf, dec);
    const float *wb = m->wf + (size_t)m->lm.nr_feature * WIRE_NTASKS; /* bias row */
    for (int c = 0; c < WIRE_NTASKS; c++)
        dec[c] += wb[c] * m->lm.bias;
}

wire_task clf_model_predict(const struct clf_model *m, struct clf_extractor *ex,
                                const char *text, size_t len, double probs[WIRE_NTASKS])
{
    double dec[WIRE_NTASKS];
    clf_model_scores(m, ex, text, len, dec);
    return (wire_task)m->labels[clf_calib_probs(dec, m->temperature, probs)];
}

void clf_model_scores_chat(const struct clf_model *m, struct clf_extractor *ex,
                           const char *text, size_t len, const char *ctx, size_t clen,
                           double wctx, double dec[WIRE_NTASKS])
{
    clf_model_scores(m, ex, text, len, dec);
    if (ctx && clen > 0 && wctx > 0) {
        double dctx[WIRE_NTASKS];
        clf_extract_dot(ex, ctx, clen, m->wf, dctx);
        for (int c = 0; c < WIRE_NTASKS; c++)
            dec[c] += wctx * dctx[c];
    }
}

wire_task clf_model_predict_chat(const struct clf_model *m, struct clf_extractor *ex,
                                 const char *text, size_t len, const char *ctx, size_t clen,
                                 double wctx, double probs[WIRE_NTASKS])
{
    double dec[WIRE_NTASKS];
    clf_model_scores_chat(m, ex, text, len, ctx, clen, wctx, dec);
    return (wire_task)m->labels[clf_calib_probs(dec, m->temperature, probs)];
}

void clf_model_set_decision(struct clf_model *m, double temperature,
                            const double simple_min[WIRE_NTASKS])
{
    m->temperature = temperature;
    for (int c = 0; c < WIRE_NTASKS; c++)
        m->simple_min[c] = c == WIRE_TASK_SIMPLE ? 0 : simple_min[c];
}

double clf_model_temperature(const struct clf_model *m)
{
    return m->temperature;
}

double clf_model_simple_min(const struct clf_model *m, wire_task k)
{
    return k > WIRE_TASK_SIMPLE && k < WIRE_NTASKS ? m->simple_min[k] : 0;
}

wire_task clf_model_decide(const struct clf_model *m, const double probs[WIRE_NTASKS],
                           bool *demoted)
{
    return clf_calib_decide(probs, m->simple_min, demoted);
}
