/*
 * ingest's minute groups of a batch (ingest/rollup.h).
 */
#include "ingest/rollup.h"

#include <stdlib.h>
#include <string.h>

#include "wire/event.h"

/* Column positions in the tuple (wire/event.h's order). */
enum {
#define RU_COL(key, col, type, required) RU_##key,
    WIRE_EVENT_FIELDS(RU_COL)
#undef RU_COL
    RU_NCOLS
};

#define RU_MINUTE_US INT64_C(60000000)
#define RU_DAY_US INT64_C(86400000000)

const char ing_groups_sql_create[] =
    "CREATE TEMP TABLE IF NOT EXISTS " ING_GROUPS_TABLE " (t timestamptz, experiment text, "
    "phase text, routed_bp integer, cohort text, task_type text, i integer, n bigint, "
    "errors bigint, cost_sum double precision, cost_sq double precision, "
    "baseline_cost_sum double precision, latency_sum_us bigint, tokens_in bigint, "
    "cached_tokens bigint, fallback_tier bigint, fallback_default bigint) "
    "ON COMMIT DELETE ROWS";
const char ing_groups_sql_copy[] = "COPY " ING_GROUPS_TABLE " FROM STDIN (FORMAT binary)";

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

static char *put_be(char *o, uint64_t v, int bytes)
{
    for (int k = bytes - 1; k >= 0; k--)
        *o++ = (char)(v >> (8 * k) & 0xff);
    return o;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t k = 0; k < n; k++)
        h = (h ^ b[k]) * UINT64_C(1099511628211);
    return h;
}

void ing_groups_reset(struct ing_groups *g)
{
    g->n = 0;
    g->textlen = 0;
    g->day = -2; /* no row yet */
    g->unusable = 0;
    if (g->slots)
        memset(g->slots, 0, g->nslots * sizeof(*g->slots));
}

void ing_groups_free(struct ing_groups *g)
{
    free(g->v);
    free(g->slots);
    free(g->text);
    memset(g, 0, sizeof(*g));
}

static int grow_slots(struct ing_groups *g)
{
    size_t ns = g->nslots ? g->nslots * 2 : 1024;
    uint32_t *s = calloc(ns, sizeof(*s));
    if (!s)
        return -1;
    for (size_t k = 0; k < g->n; k++) {
        size_t j = g->v[k].hash & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)(k + 1);
    }
    free(g->slots);
    g->slots = s;
    g->nslots = ns;
    return 0;
}

/* A text field's value, or dflt for NULL. */
struct ru_str {
    const char *s;
    size_t n;
};

static struct ru_str str_or(const unsigned char *p, int64_t len, const char *dflt)
{
    if (len < 0)
        return (struct ru_str){dflt, strlen(dflt)};
    return (struct ru_str){(const char *)p, (size_t)len};
}

static int same(const struct ing_groups *g, const struct ing_group *e, int64_t t, int32_t bp,
                int32_t i, const struct ru_str k[4])
{
    if (e->t != t || e->routed_bp != bp || e->i != i)
        return 0;
    const char *s = g->text + e->str;
    for (int j = 0; j < 4; j++) {
        if (e->len[j] != k[j].n || memcmp(s, k[j].s, k[j].n) != 0)
            return 0;
        s += k[j].n;
    }
    return 1;
}

static struct ing_group *find_or_add(struct ing_groups *g, int64_t t, int32_t bp, int32_t i,
                                     const struct ru_str k[4])
{
    uint64_t h = UINT64_C(14695981039346656037);
    h = fnv(h, &t, sizeof(t));
    h = fnv(h, &bp, sizeof(bp));
    h = fnv(h, &i, sizeof(i));
    for (int j = 0; j < 4; j++) {
        h = fnv(h, k[j].s, k[j].n);
        h = fnv(h, "", 1);
    }
    if ((g->n + 1) * 2 > g->nslots && grow_slots(g) != 0)
        return NULL;
    size_t j = h & (g->nslots - 1);
    for (; g->slots[j]; j = (j + 1) & (g->nslots - 1)) {
        struct ing_group *e = &g->v[g->slots[j] - 1];
        if (e->hash == h && same(g, e, t, bp, i, k))
            return e;
    }
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 256;
        struct ing_group *nv = realloc(g->v, nc * sizeof(*nv));
        if (!nv)
            return NULL;
        g->v = nv;
        g->cap = nc;
    }
    size_t need = k[0].n + k[1].n + k[2].n + k[3].n;
    if (g->textlen + need > g->textcap) {
        size_t nc = g->textcap ? g->textcap : 4096;
        while (g->textlen + need > nc)
            nc *= 2;
        char *nt = realloc(g->text, nc);
        if (!nt)
            return NULL;
        g->text = nt;
        g->textcap = nc;
    }
    struct ing_group *e = &g->v[g->n];
    memset(e, 0, sizeof(*e));
    e->t = t;
    e->routed_bp = bp;
    e->i = i;
    e->hash = h;
    e->str = g->textlen;
    for (int q = 0; q < 4; q++) {
        memcpy(g->text + g->textlen, k[q].s, k[q].n);
        g->textlen += k[q].n;
        e->len[q] = k[q].n;
    }
    g->slots[j] = (uint32_t)++g->n;
    return e;
}

static double real8(const unsigned char *p)
{
    uint64_t u = be(p, 8);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

int ing_groups_add(struct ing_groups *g, const char *tuple, size_t len, const int64_t *bounds,
                   size_t nbounds)
{
    const unsigned char *p = (const unsigned char *)tuple, *end = p + len, *f[RU_NCOLS];
    int64_t fl[RU_NCOLS];

    if (g->unusable)
        return 0;
    if (len < 2 || be(p, 2) != RU_NCOLS)
        goto unusable;
    p += 2;
    for (int k = 0; k < RU_NCOLS; k++) {
        if (end - p < 4)
            goto unusable;
        fl[k] = (int32_t)(uint32_t)be(p, 4);
        p += 4;
        if (fl[k] > end - p)
            goto unusable;
        f[k] = p;
        p += fl[k] > 0 ? fl[k] : 0;
    }
    /* the sizes the binary converter writes (ingest/event.c) */
    if (fl[RU_ts_us] != 8 || (fl[RU_routed_bp] >= 0 && fl[RU_routed_bp] != 4) ||
        (fl[RU_status] >= 0 && fl[RU_status] != 4) ||
        (fl[RU_tokens_in] >= 0 && fl[RU_tokens_in] != 4) ||
        (fl[RU_cached_tokens] >= 0 && fl[RU_cached_tokens] != 4) ||
        (fl[RU_latency_us] >= 0 && fl[RU_latency_us] != 8) ||
        (fl[RU_cost_usd] >= 0 && fl[RU_cost_usd] != 8) ||
        (fl[RU_baseline_cost_usd] >= 0 && fl[RU_baseline_cost_usd] != 8))
        goto unusable;

    /* event.c's range, 1970..9999: anything else is no tuple of event.c's */
    int64_t pgts = (int64_t)be(f[RU_ts_us], 8);
    if (pgts < -WIRE_PG_EPOCH_US || pgts > WIRE_TS_US_MAX - WIRE_PG_EPOCH_US)
        goto unusable;
    int64_t ts = pgts + WIRE_PG_EPOCH_US;
    int64_t day = ts / RU_DAY_US;
    if (g->day == -2)
        g->day = day;
    else if (g->day != day)
        goto unusable; /* several days: the stage path */

    int64_t lat = fl[RU_latency_us] < 0 ? 0 : (int64_t)be(f[RU_latency_us], 8);
    int64_t x = (lat > 0 ? lat : 0) - 1;
    size_t lo = 0, hi = nbounds; /* how many bounds are <= x: width_bucket */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bounds[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct ru_str k[4] = {str_or(f[RU_experiment], fl[RU_experiment], ""),
                          str_or(f[RU_phase], fl[RU_phase], ""),
                          str_or(f[RU_cohort], fl[RU_cohort], ""),
                          str_or(f[RU_task_type], fl[RU_task_type], "none")};
    int32_t bp = fl[RU_routed_bp] < 0 ? 0 : (int32_t)(uint32_t)be(f[RU_routed_bp], 4);
    struct ing_group *e = find_or_add(g, ts - ts % RU_MINUTE_US, bp, (int32_t)lo + 1, k);
    if (!e)
        return -1;

    e->n++;
    if (fl[RU_status] >= 0 && (int32_t)(uint32_t)be(f[RU_status], 4) >= 500)
        e->errors++;
    if (fl[RU_cost_usd] >= 0) {
        double c = real8(f[RU_cost_usd]), c2 = c * c;
        e->cost_sum = e->has_cost ? e->cost_sum + c : c;
        e->cost_sq = e->has_cost ? e->cost_sq + c2 : c2;
        e->has_cost = 1;
    }
    if (fl[RU_baseline_cost_usd] >= 0) {
        double b = real8(f[RU_baseline_cost_usd]);
        e->baseline_sum = e->has_baseline ? e->baseline_sum + b : b;
        e->has_baseline = 1;
    }
    if (fl[RU_latency_us] >= 0 && __builtin_add_overflow(e->latency_sum, lat, &e->latency_sum))
        goto unusable; /* PostgreSQL's numeric sum would not fit the rollup's bigint either */
    if (fl[RU_tokens_in] >= 0)
        e->tokens_in += (int32_t)(uint32_t)be(f[RU_tokens_in], 4);
    if (fl[RU_cached_tokens] >= 0)
        e->cached_tokens += (int32_t)(uint32_t)be(f[RU_cached_tokens], 4);
    if (fl[RU_fallback] == 4 && !memcmp(f[RU_fallback], "tier", 4))
        e->fallback_tier++;
    else if (fl[RU_fallback] == 7 && !memcmp(f[RU_fallback], "default", 7))
        e->fallback_default++;
    return 0;
unusable:
    g->unusable = 1;
    return 0;
}

static int reserve(struct ing_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > nc)
        nc *= 2;
    char *p = realloc(b->data, nc);
    if (!p)
        return -1;
    b->data = p;
    b->cap = nc;
    return 0;
}

static char *put8(char *o, uint64_t v) { return put_be(put_be(o, 8, 4), v, 8); }
static char *put4(char *o, uint32_t v) { return put_be(put_be(o, 4, 4), v, 4); }

static char *putd(char *o, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return put8(o, u);
}

int ing_groups_tuples(const struct ing_groups *g, struct ing_buf *out)
{
    for (size_t k = 0; k < g->n; k++) {
        const struct ing_group *e = &g->v[k];
        size_t strs = e->len[0] + e->len[1] + e->len[2] + e->len[3];
        if (reserve(out, 2 + 17 * 12 + strs) != 0)
            return -1;
        char *o = out->data + out->len;
        const char *s = g->text + e->str;
        o = put_be(o, 17, 2);
        o = put8(o, (uint64_t)(e->t - WIRE_PG_EPOCH_US));
        for (int q = 0; q < 4; q++) {
            o = put_be(o, e->len[q], 4);
            memcpy(o, s, e->len[q]);
            o += e->len[q];
            s += e->len[q];
            if (q == 1) /* routed_bp comes after phase */
                o = put4(o, (uint32_t)e->routed_bp);
        }
        o = put4(o, (uint32_t)e->i);
        o = put8(o, (uint64_t)e->n);
        o = put8(o, (uint64_t)e->errors);
        o = putd(o, e->cost_sum);
        o = putd(o, e->cost_sq);
        o = putd(o, e->baseline_sum);
        o = put8(o, (uint64_t)e->latency_sum);
        o = put8(o, (uint64_t)e->tokens_in);
        o = put8(o, (uint64_t)e->cached_tokens);
        o = put8(o, (uint64_t)e->fallback_tier);
        o = put8(o, (uint64_t)e->fallback_default);
        out->len = (size_t)(o - out->data);
    }
    return 0;
}
