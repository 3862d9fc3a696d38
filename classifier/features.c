/*
 * Feature extraction: one pass over a bounded window of the prompt collects
 * hashed words, bigrams, character n-grams and token shapes (each counted as it
 * is hashed) plus per-line and per-character structural counters; each group is
 * then weighted and normalised, and either written as nodes (clf_extract) or
 * multiplied straight into the model's class scores (clf_extract_dot). See
 * features.h for the index layout.
 *
 * This file: the config and its index layout, the extractor and its scratch groups,
 * and the assembly of the vector (structural slots, then each group sublinear-tf
 * weighted and L2-normalised). The scan is in features_scan.c, the structural
 * signals in features_signals.c, what they share in features_internal.h.
 */
#include "classifier/features.h"
#include "classifier/features_internal.h"

#include <linear.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t clf_hash(const void *data, size_t len, uint32_t seed)
{
    return hash_norm(data, len, seed, false);
}

/* ---- config ---- */

void clf_feature_config_default(struct clf_feature_config *cfg)
{
    cfg->word_bits = 14;
    cfg->bigram_bits = 14;
    cfg->char_bits = 15;
    cfg->shape_bits = 10;
    cfg->char_min = 3; /* 3..5-grams of the first 512 and last 128 bytes: issue 18's CV */
    cfg->char_max = 5;
    cfg->head_bytes = 3072;
    cfg->tail_bytes = 1024;
    cfg->char_head_bytes = 512;
    cfg->char_tail_bytes = 128;
    cfg->w_word = 1.0;
    cfg->w_bigram = 0.6;
    cfg->w_char = 1.5;
    cfg->w_shape = 0.6;
    cfg->w_struct = 0.5;
    cfg->w_length = 0.15;
    cfg->edge_words = 12;
}

int clf_feature_config_check(const struct clf_feature_config *cfg, char *err, size_t errlen)
{
    const unsigned bits[4] = {cfg->word_bits, cfg->bigram_bits, cfg->char_bits, cfg->shape_bits};
    const double w[6] = {cfg->w_word, cfg->w_bigram, cfg->w_char, cfg->w_shape, cfg->w_struct,
                         cfg->w_length};
    for (int i = 0; i < 4; i++)
        if (bits[i] < 8 || bits[i] > 20) {
            snprintf(err, errlen, "hash bits must be within 8..20 (got %u)", bits[i]);
            return -1;
        }
    if (cfg->char_min < 1 || cfg->char_max > 8 || cfg->char_min > cfg->char_max) {
        snprintf(err, errlen, "char n-gram range must satisfy 1 <= min <= max <= 8 (got %u..%u)",
                 cfg->char_min, cfg->char_max);
        return -1;
    }
    if (cfg->head_bytes < 64 || cfg->head_bytes > (1u << 20) || cfg->tail_bytes > (1u << 20)) {
        snprintf(err, errlen, "window must be head 64..1048576 and tail 0..1048576 bytes");
        return -1;
    }
    if (cfg->char_head_bytes > cfg->head_bytes || cfg->char_tail_bytes > cfg->tail_bytes) {
        snprintf(err, errlen, "the character n-gram window must lie inside the window");
        return -1;
    }
    if (cfg->edge_words > CLF_EDGE_WORDS_MAX) {
        snprintf(err, errlen, "edge_words must be within 0..%d (got %u)", CLF_EDGE_WORDS_MAX,
                 cfg->edge_words);
        return -1;
    }
    for (int i = 0; i < 6; i++)
        if (!(w[i] >= 0 && w[i] <= 100)) {
            snprintf(err, errlen, "group weights must be within 0..100");
            return -1;
        }
    return 0;
}

static struct layout layout_of(const struct clf_feature_config *cfg)
{
    struct layout l;
    l.off_word = CLF_STRUCT_SLOTS;
    l.off_bigram = l.off_word + (1 << cfg->word_bits);
    l.off_char = l.off_bigram + (1 << cfg->bigram_bits);
    l.off_shape = l.off_char + (1 << cfg->char_bits);
    l.dim = l.off_shape + (1 << cfg->shape_bits);
    return l;
}

int clf_feature_dim(const struct clf_feature_config *cfg)
{
    return layout_of(cfg).dim;
}

/* ---- extractor ---- */
static int group_init(struct group *g, unsigned bits, size_t cap)
{
    g->n = g->nt = 0;
    g->cap = cap;
    g->mask = (1u << bits) - 1;
    g->cnt = calloc((size_t)1 << bits, sizeof(*g->cnt));
    g->touched = malloc((cap + 1) * sizeof(*g->touched));
    return g->cnt && g->touched ? 0 : -1;
}

static void group_free(struct group *g)
{
    free(g->cnt);
    free(g->touched);
}

struct clf_extractor *clf_extractor_new(const struct clf_feature_config *cfg)
{
    char err[128];
    if (clf_feature_config_check(cfg, err, sizeof(err)) != 0)
        return NULL;
    struct clf_extractor *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    ex->cfg = *cfg;
    ex->lay = layout_of(cfg);
    size_t win = (size_t)cfg->head_bytes + cfg->tail_bytes + 16;
    size_t norders = cfg->char_max - cfg->char_min + 1;
    if (group_init(&ex->word, cfg->word_bits, win + 4 + 2 * CLF_EDGE_WORDS_MAX) ||
        group_init(&ex->bigram, cfg->bigram_bits, win + 4) ||
        group_init(&ex->chr, cfg->char_bits, win * norders) ||
        group_init(&ex->shape, cfg->shape_bits, win * 2))
        goto fail;
    ex->out_cap = CLF_STRUCT_SLOTS + ex->word.cap + ex->bigram.cap + ex->chr.cap +
                  ex->shape.cap + 2;
    ex->out = malloc(ex->out_cap * sizeof(*ex->out));
    if (!ex->out)
        goto fail;
    for (int i = 0; i < SIG_COUNT; i++)
        ex->first_slot[i] = clf_signal_first_slot(i);
#define X_HASH_SHAPE(id, lit) ex->shape_hash[SH_##id] = clf_hash(lit, sizeof(lit) - 1, SEED_SHAPE);
    CLF_SHAPES(X_HASH_SHAPE)
#undef X_HASH_SHAPE
    clf_scan_keywords_init(ex->kw);
    return ex;
fail:
    clf_extractor_free(ex);
    return NULL;
}

void clf_extractor_free(struct clf_extractor *ex)
{
    if (!ex)
        return;
    group_free(&ex->word);
    group_free(&ex->bigram);
    group_free(&ex->chr);
    group_free(&ex->shape);
    free(ex->out);
    free(ex);
}

/* sublinear tf: 1 + ln(count) for count 0..255 (entry 0 unused; counts saturate at 255) */
static const double tf_table[256] = {
    0, 1, 1.6931471805599454, 2.09861228866811,
    2.3862943611198908, 2.6094379124341005, 2.791759469228055, 2.9459101490553135,
    3.0794415416798357, 3.1972245773362196, 3.3025850929940459, 3.3978952727983707,
    3.4849066497880004, 3.5649493574615367, 3.6390573296152584, 3.7080502011022101,
    3.7725887222397811, 3.8332133440562162, 3.8903717578961645, 3.9444389791664403,
    3.9957322735539909, 4.0445224377234226, 4.0910424533583161, 4.1354942159291497,
    4.1780538303479453, 4.218875824868201, 4.2580965380214817, 4.2958368660043291,
    4.3322045101752042, 4.3672958299864746, 4.4011973816621559, 4.4339872044851463,
    4.465735902799727, 4.4965075614664798, 4.5263605246161616, 4.5553480614894131,
    4.5835189384561099, 4.6109179126442239, 4.6375861597263857, 4.6635616461296463,
    4.6888794541139358, 4.713572066704308, 4.737669618283368, 4.7612001156935619,
    4.7841896339182615, 4.8066624897703196, 4.8286413964890951, 4.8501476017100584,
    4.8712010109078907, 4.8918202981106269, 4.9120230054281464, 4.9318256327243262,
    4.9512437185814271, 4.9702919135521224, 4.9889840465642745, 5.0073331852324712,
    5.0253516907351496, 5.0430512678345503, 5.0604430105464191, 5.0775374439057197,
    5.0943445622221004, 5.1108738641733114, 5.1271343850450917, 5.1431347263915326,
    5.1588830833596715, 5.1743872698956368, 5.1896547420264252, 5.2046926193909657,
    5.219507705176107, 5.2341065045972597, 5.2484952420493594, 5.2626798770413155,
    5.2766661190160553, 5.290459441148391, 5.3040650932041702, 5.3174881135363101,
    5.3307333402863311, 5.3438054218536841, 5.3567088266895917, 5.3694478524670215,
    5.3820266346738812, 5.3944491546724391, 5.4067192472642533, 5.4188406077965983,
    5.4308167988433134, 5.4426512564903167, 5.4543472962535073, 5.4659081186545837,
    5.4773368144782069, 5.4886363697321396, 5.499809670330265, 5.5108595065168497,
    5.5217885770490405, 5.5325994931532563, 5.5432947822700038, 5.5538768916005408,
    5.5643481914678361, 5.5747109785033828, 5.5849674786705723, 5.5951198501345898,
    5.6051701859880918, 5.6151205168412597, 5.6249728132842707, 5.6347289882296359,
    5.6443908991413725, 5.6539603501575231, 5.6634390941120669, 5.6728288344619058,
    5.6821312271242199, 5.6913478822291435, 5.7004803657924166, 5.7095302013123339,
    5.7184988712950942, 5.7273878187123408, 5.7361984483944957, 5.7449321283632502,
    5.7535901911063645, 5.7621739347977563, 5.7706846244656651, 5.7791234931115296,
    5.7874917427820458, 5.7957905455967413, 5.8040210447332568, 5.8121843553724171,
    5.8202815656050371, 5.8283137373023015, 5.836281906951478, 5.8441870864585912,
    5.8520302639196169, 5.8598124043616719, 5.8675344504555822, 5.8751973232011512,
    5.8828019225863706, 5.8903491282217537, 5.8978397999509111, 5.9052747784384296,
    5.9126548857360524, 5.9199809258281251, 5.9272536851572051, 5.9344739331306915,
    5.9416424226093039, 5.9487598903781684, 5.9558270576012609, 5.962844630259907,
    5.9698132995760007, 5.9767337424205742, 5.9836066217083363, 5.990432586778736,
    5.9972122737641147, 6.0039463059454592, 6.0106352940962555, 6.0172798368149243,
    6.0238805208462765, 6.0304379213924353, 6.0369526024136295, 6.0434251169192468,
    6.0498560072495371, 6.0562458053483077, 6.0625950330269669, 6.0689042022202315,
    6.0751738152338266, 6.0814043649844631, 6.0875963352323836, 6.0937502008067623,
    6.0998664278241987, 6.1059454739005803, 6.1119877883565437, 6.1179938124167554,
    6.1239639794032588, 6.1298987149230735, 6.1357984370502621, 6.1416635565026603,
    6.1474944768134527, 6.1532915944977793, 6.1590552992145291, 6.1647859739235145,
    6.1704839950381514, 6.1761497325738288, 6.181783550292085, 6.1873858058407549,
    6.1929568508902104, 6.1984970312658261, 6.2040066870767951, 6.2094861528414214,
    6.2149357576089859, 6.2203558250783244, 6.2257466737132017, 6.2311086168545868,
    6.2364419628299492, 6.2417470150596426, 6.2470240721604862, 6.2522734280466299,
    6.2574953720277815, 6.2626901889048856, 6.2678581590633282, 6.2729995585637468,
    6.2781146592305168, 6.2832037287379885, 6.2882670306945352, 6.2933048247244923,
    6.2983173665480363, 6.3033049080590757, 6.3082676974012051, 6.3132059790417872,
    6.3181199938442161, 6.3230099791384085, 6.3278761687895813, 6.3327187932653688,
    6.3375380797013179, 6.3423342519648109, 6.3471075307174685, 6.3518581334760666,
    6.3565862746720123, 6.3612921657094255, 6.3659760150218512, 6.3706380281276624,
    6.3752784076841653, 6.3798973535404597, 6.3844950627890888, 6.389071729816501,
    6.393627546352362, 6.3981627015177525, 6.4026773818722793, 6.4071717714601188,
    6.4116460518550396, 6.4161004022044201, 6.4205349992722862, 6.4249500174814029,
    6.4293456289544411, 6.43372200355424, 6.4380793089231956, 6.4424177105217932,
    6.4467373716663099, 6.4510384535657002, 6.4553211153577017, 6.4595855141441589,
    6.4638318050256105, 6.4680601411351315, 6.472270673671475, 6.476463551931511,
    6.4806389233419912, 6.4847969334906548, 6.4889377261566867, 6.4930614433405482,
    6.4971682252932021, 6.5012582105447274, 6.5053315359323625, 6.5093883366279774,
    6.5134287461649825, 6.5174528964647074, 6.521460917862246, 6.5254529391317835,
    6.5294290875114234, 6.5333894887275203, 6.5373342670185366, 6.5412635451584258};

/* Where the extracted features go: nodes in ex->out, or (w != NULL) straight into the
 * per-class dot products dec[c] += w[(index - 1) * CLF_DOT_CLASSES + c] * value, feature by
 * feature in the order the nodes would have been written. */
struct sink {
    const float *w;
    double *dec;
};

static inline void dot_add(const struct sink *d, size_t row, double value)
{
    const float *w = d->w + row * CLF_DOT_CLASSES;
    for (int c = 0; c < CLF_DOT_CLASSES; c++)
        d->dec[c] += w[c] * value;
}

static size_t emit_group(struct group *g, int off, double scale, size_t o,
                         struct feature_node *out, const struct sink *d)
{
    uint8_t *cnt = g->cnt;
    const uint32_t *touched = g->touched;
    size_t nt = g->nt;
    g->n = g->nt = 0;
    if (nt == 0)
        return o;
    if (scale <= 0) {
        for (size_t i = 0; i < nt; i++)
            cnt[touched[i]] = 0;
        return o;
    }
    double ss = 0;
    for (size_t i = 0; i < nt; i++) {
        double v = tf_table[cnt[touched[i]]];
        ss += v * v;
    }
    double norm = scale / sqrt(ss);
    if (d) {
        /* the sums in registers: same operations, same order as dot_add() */
        _Static_assert(CLF_DOT_CLASSES == 4, "four accumulators");
        double d0 = d->dec[0], d1 = d->dec[1], d2 = d->dec[2], d3 = d->dec[3];
        const float *wg = d->w + (size_t)off * CLF_DOT_CLASSES;
        for (size_t i = 0; i < nt; i++) {
            uint32_t idx = touched[i];
            double value = tf_table[cnt[idx]] * norm;
            const float *w = wg + (size_t)idx * CLF_DOT_CLASSES;
            d0 += w[0] * value;
            d1 += w[1] * value;
            d2 += w[2] * value;
            d3 += w[3] * value;
            cnt[idx] = 0;
        }
        d->dec[0] = d0;
        d->dec[1] = d1;
        d->dec[2] = d2;
        d->dec[3] = d3;
        return o + nt;
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t idx = touched[i];
        out[o].index = off + (int)idx + 1;
        out[o].value = tf_table[cnt[idx]] * norm;
        cnt[idx] = 0;
        o++;
    }
    return o;
}

static size_t extract(struct clf_extractor *ex, const char *text, size_t len,
                      const struct sink *d)
{
    const struct clf_feature_config *cfg = &ex->cfg;
    const unsigned char *p = (const unsigned char *)text;
    struct counters k;
    memset(&k, 0, sizeof(k));
    if (!p)
        len = 0;
    size_t window = clf_scan_window(ex, p, len, &k);
    double v[SIG_COUNT];
    clf_signal_values(&k, len, window, v);

    size_t o = 0;
    for (int i = 0; i < SIG_COUNT; i++) {
        double w = clf_signals[i].weight == SW_LENGTH ? cfg->w_length : cfg->w_struct;
        if (w <= 0)
            continue;
        int slot = ex->first_slot[i] + signal_bin(i, v[i]);
        if (d) {
            dot_add(d, (size_t)slot, w);
        } else {
            ex->out[o].index = slot + 1;
            ex->out[o].value = w;
        }
        o++;
    }
    const struct layout *l = &ex->lay;
    o = emit_group(&ex->word, l->off_word, cfg->w_word, o, ex->out, d);
    o = emit_group(&ex->bigram, l->off_bigram, cfg->w_bigram, o, ex->out, d);
    o = emit_group(&ex->chr, l->off_char, cfg->w_char, o, ex->out, d);
    o = emit_group(&ex->shape, l->off_shape, cfg->w_shape, o, ex->out, d);
    return o;
}

size_t clf_extract(struct clf_extractor *ex, const char *text, size_t len,
                   struct feature_node **out)
{
    size_t o = extract(ex, text, len, NULL);
    ex->out[o].index = -1; /* terminator for callers that do not add a bias node */
    ex->out[o].value = 0;
    *out = ex->out;
    return o;
}

size_t clf_extract_dot(struct clf_extractor *ex, const char *text, size_t len, const float *w,
                       double dec[CLF_DOT_CLASSES])
{
    struct sink d = {w, dec};
    for (int c = 0; c < CLF_DOT_CLASSES; c++)
        dec[c] = 0;
    return extract(ex, text, len, &d);
}

/* ---- introspection ---- */

int clf_feature_index_word(const struct clf_feature_config *cfg, const char *word)
{
    size_t n = strlen(word), m = n < 24 ? n : 24;
    uint32_t h = hash_norm((const unsigned char *)word, m, SEED_WORD, true);
    return layout_of(cfg).off_word + (int)(h & ((1u << cfg->word_bits) - 1)) + 1;
}

int clf_feature_index_chargram(const struct clf_feature_config *cfg, const char *gram)
{
    size_t n = strlen(gram);
    if (n < 1 || n > 8)
        return -1;
    uint64_t reg = 0;
    for (size_t i = 0; i < n; i++)
        reg = (reg << 8) | norm_byte((unsigned char)gram[i]);
    uint32_t h = chargram_hash(reg, chargram_mask((unsigned)n), chargram_salt((unsigned)n));
    return layout_of(cfg).off_char + (int)(h & ((1u << cfg->char_bits) - 1)) + 1;
}
