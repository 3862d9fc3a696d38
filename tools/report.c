/*
 * switchyard report: print the dashboard views (dashboards/, created by 'switchyard
 * migrate') as aligned text tables, CSV or JSON.
 *
 * One blocking libpq session: SET TimeZone = 'UTC', optionally switchyard.since (which
 * every view reads through sy_dash_since()), then one SELECT per view, filtered by
 * experiment when asked, in a fixed order per view.
 */
#include "tools/report.h"

#include <ctype.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "common/pg.h"

/* Table cells longer than this many characters are cut (CSV and JSON never are). */
#define REPORT_CELL_MAX 60

#define PHASE_ORD                                                                             \
    "array_position(ARRAY['shadow','canary','ramp','full','paused','rolled_back',"            \
    "'held_back']::text[], phase), phase"
#define COHORT_ORD                                                                            \
    "array_position(ARRAY['holdout','control','shadow','routed']::text[], cohort), cohort"
#define TASK_ORD                                                                              \
    "array_position(ARRAY['simple','code','reasoning','complex','none','all']::text[], "       \
    "task_type), task_type"
#define ARM_ORDER "experiment, " PHASE_ORD ", routed_pct, " COHORT_ORD ", " TASK_ORD

struct report_view {
    const char *name;
    const char *order_by;
    int summary; /* printed when no --view is given */
};

static const struct report_view views[] = {
    {"dash_savings", ARM_ORDER, 1},
    {"dash_quality", ARM_ORDER, 1},
    {"dash_latency", ARM_ORDER, 1},
    {"dash_phase_history", "experiment, entered_at, task_type, phase", 1},
    {"dash_shadow_routing", "experiment, " TASK_ORD ", requests DESC, would_have_model", 1},
    {"dash_classifier_accuracy", "experiment, " TASK_ORD, 1},
    {"dash_arms", ARM_ORDER, 0},
    {"dash_decisions", "experiment, ts, decision_id", 0},
};
#define NVIEWS (sizeof(views) / sizeof(views[0]))

enum report_format { FMT_TABLE, FMT_CSV, FMT_JSON };

struct report_opts {
    const char *database_url;
    const char *experiment;
    const char *since;
    const struct report_view *view; /* NULL: the summary */
    enum report_format format;
    /* --since resolved: an interval for now() - x, or a timestamp */
    char since_interval[64];
    const char *since_ts;
};

static void report_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard report [options]\n"
            "\n"
            "Print the dashboard views (see dashboards/README.md): cost and savings against\n"
            "the single-model baseline, quality with 95%% intervals, latency percentiles per\n"
            "experiment x phase x cohort x task type, the phase history with each decision's\n"
            "evidence, and the shadow phase's routing and classifier accuracy.\n"
            "\n"
            "options:\n"
            "  --database-url URL   PostgreSQL URL (default: $SWITCHYARD_DATABASE_URL)\n"
            "  --experiment NAME    only this experiment\n"
            "  --since WHEN         only data from WHEN on: an age (30m, 24h, 7d, 2w, 90s)\n"
            "                       or an RFC 3339 time (2026-11-27T00:00:00Z)\n"
            "  --view NAME          one view (the dash_ prefix may be left out); default: the\n"
            "                       summary (savings, quality, latency, phase_history,\n"
            "                       shadow_routing, classifier_accuracy); also arms, decisions\n"
            "  --format FMT         table (default; cells over %d characters are cut), csv\n"
            "                       (needs --view: one table per file) or json (an object:\n"
            "                       view name -> array of rows)\n"
            "  -h, --help           this text\n"
            "\n"
            "exit status: 0 done, 1 database error, 2 usage error\n",
            REPORT_CELL_MAX);
}

static const struct report_view *find_view(const char *name)
{
    for (size_t i = 0; i < NVIEWS; i++) {
        const char *v = views[i].name;
        if (!strcmp(name, v) || !strcmp(name, v + strlen("dash_")))
            return &views[i];
    }
    return NULL;
}

/* "N[smhdw]" -> "N seconds" etc. 0 or -1. */
static int parse_age(const char *s, char *out, size_t outlen)
{
    const char *p = s;
    static const struct {
        char unit;
        const char *word;
    } units[] = {{'s', "seconds"}, {'m', "minutes"}, {'h', "hours"}, {'d', "days"}, {'w', "weeks"}};

    while (isdigit((unsigned char)*p))
        p++;
    if (p == s || p - s > 9 || p[0] == '\0' || p[1] != '\0')
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (*p == units[i].unit) {
            snprintf(out, outlen, "%.*s %s", (int)(p - s), s, units[i].word);
            return 0;
        }
    return -1;
}

static int digits(const char *s, int n, int lo, int hi)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? 0 : -1;
}

/* RFC 3339: YYYY-MM-DD[Tt ]HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM). 0 or -1. */
static int is_rfc3339(const char *s)
{
    size_t len = strlen(s);
    const char *p;

    if (len < 20 || digits(s, 4, 0, 9999) || s[4] != '-' || digits(s + 5, 2, 1, 12) ||
        s[7] != '-' || digits(s + 8, 2, 1, 31) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, 0, 23) || s[13] != ':' || digits(s + 14, 2, 0, 59) || s[16] != ':' ||
        digits(s + 17, 2, 0, 60))
        return -1;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
        return 0;
    if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && !digits(p + 1, 2, 0, 23) &&
        p[3] == ':' && !digits(p + 4, 2, 0, 59))
        return 0;
    return -1;
}

/* 0 ok, 1 --help printed, 2 usage error (message printed). */
static const sy_opts report_cmd = {"report", "'switchyard report --help'",
                                   SY_OPTS_QUOTED_MISSING};

static int report_parse_args(int argc, char **argv, struct report_opts *o)
{
    static const struct option longopts[] = {
        {"database-url", required_argument, NULL, 'u'},
        {"experiment", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 's'},
        {"view", required_argument, NULL, 'v'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->database_url = getenv("SWITCHYARD_DATABASE_URL");
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->database_url = optarg;
            break;
        case 'e':
            if (!*optarg) {
                fprintf(stderr, "report: --experiment: empty name\n");
                return 2;
            }
            o->experiment = optarg;
            break;
        case 's':
            o->since = optarg;
            break;
        case 'v':
            o->view = find_view(optarg);
            if (!o->view) {
                fprintf(stderr, "report: --view: unknown view '%s' (one of:", optarg);
                for (size_t i = 0; i < NVIEWS; i++)
                    fprintf(stderr, " %s", views[i].name + strlen("dash_"));
                fprintf(stderr, ")\n");
                return 2;
            }
            break;
        case 'f':
            if (!strcmp(optarg, "table"))
                o->format = FMT_TABLE;
            else if (!strcmp(optarg, "csv"))
                o->format = FMT_CSV;
            else if (!strcmp(optarg, "json"))
                o->format = FMT_JSON;
            else {
                fprintf(stderr, "report: --format: expected table, csv or json, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            report_usage(stdout);
            return 1;
        default:
            return sy_opts_getopt_error(&report_cmd, c, argv);
        }
    }
    if (optind < argc)
        return sy_opts_unexpected(&report_cmd, argv[optind]);
    if (o->since) {
        if (parse_age(o->since, o->since_interval, sizeof(o->since_interval)) != 0) {
            if (is_rfc3339(o->since) != 0) {
                fprintf(stderr,
                        "report: --since: expected an age like 30m, 24h, 7d or an RFC 3339 "
                        "time like 2026-11-27T00:00:00Z, got '%s'\n",
                        o->since);
                return 2;
            }
            o->since_ts = o->since;
        }
    }
    if (o->format == FMT_CSV && !o->view) {
        fprintf(stderr, "report: --format csv prints one view: add --view NAME\n");
        return 2;
    }
    if (sy_pg_url_option("report", o->database_url) != 0)
        return SY_EXIT_USAGE;
    return 0;
}

/* ---- output ---- */

static int is_numeric_type(Oid t)
{
    /* int8, int2, int4, float4, float8, numeric */
    return t == 20 || t == 21 || t == 23 || t == 700 || t == 701 || t == 1700;
}

/* Characters (UTF-8 code points) in s[0..len). */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* The table form of a cell: NULL "-", control characters as spaces, cut at
 * REPORT_CELL_MAX characters. Returns a malloc'd string or NULL. */
static char *table_cell(const PGresult *res, int r, int c)
{
    const char *v;
    size_t len, keep, chars = 0, i;
    char *out;

    if (PQgetisnull(res, r, c))
        return strdup("-");
    v = PQgetvalue(res, r, c);
    len = strlen(v);
    /* cut: the first REPORT_CELL_MAX - 3 characters, then "..." */
    keep = utf8_chars(v, len) > REPORT_CELL_MAX ? REPORT_CELL_MAX - 3 : (size_t)-1;
    out = malloc(len + 4);
    if (!out)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch & 0xC0) != 0x80 && chars++ == keep) {
            memcpy(out + i, "...", 4);
            return out;
        }
        out[i] = ch < 0x20 || ch == 0x7F ? ' ' : (char)ch;
    }
    out[len] = '\0';
    return out;
}

static void put_padded(const char *s, size_t width, int right, int last)
{
    size_t n = utf8_chars(s, strlen(s));
    if (right)
        for (size_t i = n; i < width; i++)
            putchar(' ');
    fputs(s, stdout);
    if (!right && !last)
        for (size_t i = n; i < width; i++)
            putchar(' ');
}

static int print_table(const char *name, const PGresult *res)
{
    int nrows = PQntuples(res), ncols = PQnfields(res), rc = -1;
    size_t *width = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof(*width));
    char **cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof(*cells));

    if (!width || !cells) {
        fprintf(stderr, "report: out of memory\n");
        goto done;
    }
    for (int c = 0; c < ncols; c++)
        width[c] = utf8_chars(PQfname(res, c), strlen(PQfname(res, c)));
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            char *cell = table_cell(res, r, c);
            size_t w;
            if (!cell) {
                fprintf(stderr, "report: out of memory\n");
                goto done;
            }
            cells[(size_t)r * (size_t)ncols + (size_t)c] = cell;
            w = utf8_chars(cell, strlen(cell));
            if (w > width[c])
                width[c] = w;
        }
    printf("== %s ==\n", name);
    for (int c = 0; c < ncols; c++) {
        if (c)
            fputs("  ", stdout);
        put_padded(PQfname(res, c), width[c], is_numeric_type(PQftype(res, c)), c == ncols - 1);
    }
    putchar('\n');
    for (int c = 0; c < ncols; c++) {
        if (c)
            fputs("  ", stdout);
        for (size_t i = 0; i < width[c]; i++)
            putchar('-');
    }
    putchar('\n');
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (c)
                fputs("  ", stdout);
            put_padded(cells[(size_t)r * (size_t)ncols + (size_t)c], width[c],
                       is_numeric_type(PQftype(res, c)), c == ncols - 1);
        }
        putchar('\n');
    }
    printf("(%d row%s)\n", nrows, nrows == 1 ? "" : "s");
    rc = 0;
done:
    if (cells)
        for (size_t i = 0; i < (size_t)nrows * (size_t)ncols; i++)
            free(cells[i]);
    free(cells);
    free(width);
    return rc;
}

static void put_csv_field(const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const PGresult *res)
{
    int nrows = PQntuples(res), ncols = PQnfields(res);
    for (int c = 0; c < ncols; c++) {
        if (c)
            putchar(',');
        put_csv_field(PQfname(res, c));
    }
    fputs("\r\n", stdout);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (c)
                putchar(',');
            if (!PQgetisnull(res, r, c))
                put_csv_field(PQgetvalue(res, r, c));
        }
        fputs("\r\n", stdout);
    }
}

static void put_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        default:
            if (*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
    }
    putchar('"');
}

/* A JSON number needs a digit first after an optional minus (no NaN, Infinity). */
static int json_number_ok(const char *v)
{
    if (*v == '-')
        v++;
    return isdigit((unsigned char)*v);
}

static void print_json_rows(const PGresult *res)
{
    int nrows = PQntuples(res), ncols = PQnfields(res);
    putchar('[');
    for (int r = 0; r < nrows; r++) {
        fputs(r ? ",\n  {" : "\n  {", stdout);
        for (int c = 0; c < ncols; c++) {
            Oid t = PQftype(res, c);
            const char *v = PQgetvalue(res, r, c);
            if (c)
                putchar(',');
            put_json_string(PQfname(res, c));
            putchar(':');
            if (PQgetisnull(res, r, c))
                fputs("null", stdout);
            else if (t == 16) /* bool */
                fputs(v[0] == 't' ? "true" : "false", stdout);
            else if (t == 114 || t == 3802) /* json, jsonb */
                fputs(v, stdout);
            else if (is_numeric_type(t) && json_number_ok(v))
                fputs(v, stdout);
            else
                put_json_string(v);
        }
        putchar('}');
    }
    fputs(nrows ? "\n]" : "]", stdout);
}

/* ---- queries ---- */

static PGresult *query_view(PGconn *conn, const struct report_opts *o,
                            const struct report_view *v, char *err, size_t errlen)
{
    char sql[1024];
    const char *params[1] = {o->experiment};
    PGresult *res;

    snprintf(sql, sizeof(sql), "SELECT * FROM %s%s ORDER BY %s", v->name,
             o->experiment ? " WHERE experiment = $1" : "", v->order_by);
    res = PQexecParams(conn, sql, o->experiment ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        char msg[512];
        sy_pg_error(conn, msg, sizeof(msg));
        if (state && !strcmp(state, "42P01"))
            snprintf(err, errlen, "view %s does not exist: run 'switchyard migrate' (it creates "
                                  "the dashboards views)", v->name);
        else
            snprintf(err, errlen, "%s: %s", v->name, msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int session_setup(PGconn *conn, const struct report_opts *o, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
                                 "SET IntervalStyle = 'postgres'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(conn, err, errlen);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (!o->since)
        return 0;
    if (o->since_ts) {
        const char *p[1] = {o->since_ts};
        res = PQexecParams(conn,
                           "SELECT set_config('switchyard.since', $1::timestamptz::text, false)",
                           1, NULL, p, NULL, NULL, 0);
    } else {
        const char *p[1] = {o->since_interval};
        res = PQexecParams(conn,
                           "SELECT set_config('switchyard.since', "
                           "(now() - $1::interval)::text, false)",
                           1, NULL, p, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        sy_pg_error(conn, msg, sizeof(msg));
        snprintf(err, errlen, "--since '%s': %s", o->since, primary ? primary : msg);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

int report_main(int argc, char **argv)
{
    struct report_opts o;
    PGconn *conn = NULL;
    char err[1024], redacted[512];
    int rc = 1, printed = 0;

    switch (report_parse_args(argc, argv, &o)) {
    case 0:
        break;
    case 1:
        return 0;
    default:
        return 2;
    }
    conn = sy_pg_connect(o.database_url, "switchyard-report", 60000, err, sizeof(err));
    if (!conn) {
        sy_pg_redact_url(o.database_url, redacted, sizeof(redacted));
        fprintf(stderr, "report: cannot connect to PostgreSQL at %s: %s\n", redacted, err);
        return 1;
    }
    if (session_setup(conn, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "report: %s\n", err);
        goto done;
    }
    if (o.format == FMT_JSON)
        putchar('{');
    for (size_t i = 0; i < NVIEWS; i++) {
        const struct report_view *v = &views[i];
        PGresult *res;
        if (o.view ? v != o.view : !v->summary)
            continue;
        res = query_view(conn, &o, v, err, sizeof(err));
        if (!res) {
            if (o.format == FMT_JSON)
                putchar('\n');
            fflush(stdout);
            fprintf(stderr, "report: %s\n", err);
            goto done;
        }
        switch (o.format) {
        case FMT_TABLE:
            if (printed)
                putchar('\n');
            if (print_table(v->name, res) != 0) {
                PQclear(res);
                goto done;
            }
            break;
        case FMT_CSV:
            print_csv(res);
            break;
        case FMT_JSON:
            fputs(printed ? ",\n" : "\n", stdout);
            put_json_string(v->name);
            fputs(": ", stdout);
            print_json_rows(res);
            break;
        }
        printed++;
        PQclear(res);
    }
    if (o.format == FMT_JSON)
        fputs("\n}\n", stdout);
    rc = 0;
done:
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "report: writing the output failed\n");
        rc = 1;
    }
    PQfinish(conn);
    return rc;
}
