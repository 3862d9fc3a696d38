/*
 * switchyard migrate: apply migrations/NNNN_name.sql in order.
 *
 * Each file runs in its own transaction together with its schema_migrations row
 * (version, name, SHA-256 of the file bytes). A session advisory lock serialises
 * concurrent runs; the second run waits, then finds nothing left to apply. Applied
 * files must not change: a checksum mismatch stops the run before anything is applied.
 * Every run ends by creating the daily request partitions for the next days, then
 * re-creating the dashboard views (the .sql files of dashboards/, in name order, in one
 * transaction).
 */
#include "tools/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/opts.h"
#include "common/pg.h"
#include "tools/migration.h"

#define MIGRATE_MAX_FILES 1000
#define MIGRATE_MAX_FILE_BYTES (16 * 1024 * 1024)
#define MIGRATE_PARTITION_DAYS 7
/* pg_advisory_lock key: "symigrat" as a big-endian int64. */
#define MIGRATE_LOCK_KEY "8320787568578077044"

struct migrate_opts {
    const char *database_url;
    char dir[512];
    char dash_dir[512];
    int dash_explicit; /* --dashboards-dir or $SWITCHYARD_DASHBOARDS_DIR: must exist */
    int dry_run;
};

struct migrate_file {
    struct ctl_migration m;
    char *sql; /* NUL-terminated file bytes */
    size_t len;
    char checksum[65];
    int applied;
};

static void migrate_usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard migrate [options]\n"
            "\n"
            "Apply the migration files NNNN_name.sql in order, each in its own transaction,\n"
            "recording version, name and SHA-256 in schema_migrations, then create the daily\n"
            "requests partitions for the next %d days and re-create the dashboard views.\n"
            "A re-run applies no migration.\n"
            "\n"
            "options:\n"
            "  --database-url URL  PostgreSQL URL (default: $SWITCHYARD_DATABASE_URL)\n"
            "  --dir DIR           migrations directory (default: $SWITCHYARD_MIGRATIONS_DIR,\n"
            "                      else migrations/ beside the binary's directory, else\n"
            "                      ./migrations)\n"
            "  --dashboards-dir DIR\n"
            "                      dashboard views: its *.sql files, re-created in name\n"
            "                      order after the migrations, in one transaction (default:\n"
            "                      $SWITCHYARD_DASHBOARDS_DIR, else dashboards/ beside the\n"
            "                      migrations directory, skipped if that does not exist)\n"
            "  --dry-run           list what would be applied, change nothing\n"
            "  -h, --help          this text\n"
            "\n"
            "exit status: 0 done, 1 failed (nothing half-applied), 2 usage error\n",
            MIGRATE_PARTITION_DAYS);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $SWITCHYARD_MIGRATIONS_DIR, else <dir of binary>/../migrations, else ./migrations. */
static void migrate_default_dir(char *out, size_t outlen)
{
    const char *env = getenv("SWITCHYARD_MIGRATIONS_DIR");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *bindir = dirname(exe);     /* .../build */
        char *parent = dirname(bindir);  /* ... */
        snprintf(out, outlen, "%s/migrations", parent);
        if (is_dir(out))
            return;
    }
    snprintf(out, outlen, "migrations");
}

/* 0 ok, 1 --help printed, 2 usage error (message printed). */
static const sy_opts migrate_cmd = {"migrate", "'switchyard migrate --help'",
                                    SY_OPTS_QUOTED_MISSING};

static int migrate_parse_args(int argc, char **argv, struct migrate_opts *o)
{
    static const struct option longopts[] = {
        {"database-url", required_argument, NULL, 'u'},
        {"dir", required_argument, NULL, 'd'},
        {"dashboards-dir", required_argument, NULL, 'D'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    const char *dir = NULL, *dash_dir = getenv("SWITCHYARD_DASHBOARDS_DIR");

    memset(o, 0, sizeof(*o));
    o->database_url = getenv("SWITCHYARD_DATABASE_URL");
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->database_url = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'D':
            dash_dir = optarg;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'h':
            migrate_usage(stdout);
            return 1;
        default:
            return sy_opts_getopt_error(&migrate_cmd, c, argv);
        }
    }
    if (optind < argc)
        return sy_opts_unexpected(&migrate_cmd, argv[optind]);
    if (sy_pg_url_option("migrate", o->database_url) != 0)
        return SY_EXIT_USAGE;
    if (dir)
        snprintf(o->dir, sizeof(o->dir), "%s", dir);
    else
        migrate_default_dir(o->dir, sizeof(o->dir));
    if (dash_dir && *dash_dir) {
        snprintf(o->dash_dir, sizeof(o->dash_dir), "%s", dash_dir);
        o->dash_explicit = 1;
    } else {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", o->dir);
        snprintf(o->dash_dir, sizeof(o->dash_dir), "%s/dashboards", dirname(tmp));
    }
    return 0;
}

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf;
            if (ncap > MIGRATE_MAX_FILE_BYTES + 1) {
                snprintf(err, errlen, "%s: larger than %d bytes", path, MIGRATE_MAX_FILE_BYTES);
                goto fail;
            }
            nbuf = realloc(buf, ncap);
            if (!nbuf) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = len;
    return 0;
fail:
    if (f)
        fclose(f);
    free(buf);
    return -1;
}

static void free_files(struct migrate_file *files, int n)
{
    for (int i = 0; i < n; i++)
        free(files[i].sql);
    free(files);
}

/* Lists, orders and reads dir. Returns the count (files in *out), or -1 with err set. */
static int load_files(const char *dir, struct migrate_file **out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t nnames = 0;
    struct ctl_migration *plan = NULL;
    struct migrate_file *files = NULL;
    int count = -1, loaded = 0;
    struct dirent *de;

    if (!d) {
        snprintf(err, errlen, "migrations directory %s: %s", dir, strerror(errno));
        return -1;
    }
    names = calloc(MIGRATE_MAX_FILES + 1, sizeof(*names));
    plan = calloc(MIGRATE_MAX_FILES, sizeof(*plan));
    if (!names || !plan) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (is_dir(path))
            continue;
        if (nnames == MIGRATE_MAX_FILES) {
            snprintf(err, errlen, "%s: more than %d files", dir, MIGRATE_MAX_FILES);
            goto fail;
        }
        if (!(names[nnames] = strdup(de->d_name))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        nnames++;
    }
    count = ctl_migration_plan((const char *const *)names, nnames, plan, MIGRATE_MAX_FILES, err,
                               errlen);
    if (count < 0)
        goto fail;
    if (count == 0) {
        snprintf(err, errlen, "%s: no migration files", dir);
        count = -1;
        goto fail;
    }
    files = calloc((size_t)count, sizeof(*files));
    if (!files) {
        snprintf(err, errlen, "out of memory");
        count = -1;
        goto fail;
    }
    for (loaded = 0; loaded < count; loaded++) {
        char path[1024];
        struct migrate_file *f = &files[loaded];
        f->m = plan[loaded];
        snprintf(path, sizeof(path), "%s/%s", dir, f->m.file);
        if (read_file(path, &f->sql, &f->len, err, errlen) != 0)
            goto fail_files;
        if (ctl_sha256_hex(f->sql, f->len, f->checksum) != 0) {
            snprintf(err, errlen, "%s: SHA-256 failed", path);
            loaded++;
            goto fail_files;
        }
    }
    *out = files;
    files = NULL;
    goto done;
fail_files:
    free_files(files, loaded);
    files = NULL;
fail:
    count = -1;
done:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(plan);
    closedir(d);
    return count;
}

/* Runs a command without parameters, expecting no rows. 0 or -1 with err set. */
static int exec_cmd(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        sy_pg_error(conn, err, errlen);
    PQclear(res);
    return ok ? 0 : -1;
}

/* 1-based line of a 1-based character position (PostgreSQL counts characters). */
static int line_of_position(const char *sql, long pos)
{
    int line = 1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars >= pos)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

/* Applies one file and its schema_migrations row in one transaction. */
static int apply_one(PGconn *conn, const char *dir, const struct migrate_file *f, char *err,
                     size_t errlen)
{
    char version[16];
    const char *params[3];
    PGresult *res = NULL;
    char msg[512];

    if (exec_cmd(conn, "BEGIN", msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s/%s: BEGIN failed: %s", dir, f->m.file, msg);
        return -1;
    }
    res = PQexec(conn, f->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
        PQresultStatus(res) != PGRES_EMPTY_QUERY) {
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        sy_pg_error(conn, msg, sizeof(msg));
        if (primary && pos)
            snprintf(err, errlen, "%s/%s:%d: %s", dir, f->m.file,
                     line_of_position(f->sql, atol(pos)), primary);
        else
            snprintf(err, errlen, "%s/%s: %s", dir, f->m.file, primary ? primary : msg);
        goto fail;
    }
    PQclear(res);
    snprintf(version, sizeof(version), "%d", f->m.version);
    params[0] = version;
    params[1] = f->m.name;
    params[2] = f->checksum;
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, name, checksum) "
                       "VALUES ($1::integer, $2, $3)",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sy_pg_error(conn, msg, sizeof(msg));
        snprintf(err, errlen, "%s/%s: recording it in schema_migrations failed: %s", dir,
                 f->m.file, msg);
        goto fail;
    }
    PQclear(res);
    res = NULL;
    if (exec_cmd(conn, "COMMIT", msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s/%s: COMMIT failed: %s", dir, f->m.file, msg);
        goto fail;
    }
    return 0;
fail:
    PQclear(res);
    if (exec_cmd(conn, "ROLLBACK", msg, sizeof(msg)) != 0 && PQstatus(conn) != CONNECTION_OK)
        snprintf(err + strlen(err), errlen - strlen(err), " (connection lost)");
    return -1;
}

/* Marks files already applied; refuses changed, renamed or unknown applied versions. */
static int check_applied(PGconn *conn, const char *dir, struct migrate_file *files, int n,
                         int table_exists, char *err, size_t errlen)
{
    PGresult *res;
    int rc = -1;

    if (!table_exists)
        return 0;
    res = PQexec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        sy_pg_error(conn, msg, sizeof(msg));
        snprintf(err, errlen, "reading schema_migrations: %s", msg);
        goto fail;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        int version = atoi(PQgetvalue(res, r, 0));
        const char *name = PQgetvalue(res, r, 1);
        const char *sum = PQgetvalue(res, r, 2);
        if (version < 1 || version > n) {
            snprintf(err, errlen,
                     "the database has migration %04d_%s applied, but %s has no file for "
                     "version %04d (is this binary older than the database?)",
                     version, name, dir, version);
            goto fail;
        }
        struct migrate_file *f = &files[version - 1];
        if (strcmp(f->m.name, name) != 0) {
            snprintf(err, errlen, "%s/%s: version %04d was applied as %04d_%s.sql", dir,
                     f->m.file, version, version, name);
            goto fail;
        }
        if (strcmp(f->checksum, sum) != 0) {
            snprintf(err, errlen,
                     "%s/%s: checksum changed since it was applied (applied sha256 %.12s, "
                     "file sha256 %.12s); add a new migration instead of editing this one",
                     dir, f->m.file, sum, f->checksum);
            goto fail;
        }
        f->applied = 1;
    }
    rc = 0;
fail:
    PQclear(res);
    return rc;
}

static int table_exists(PGconn *conn, int *exists, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sy_pg_error(conn, err, errlen);
        PQclear(res);
        return -1;
    }
    *exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

/* Creates the request partitions if the function exists; -1 with err on failure. */
static int create_partitions(PGconn *conn, int *created, char *err, size_t errlen)
{
    char days[16];
    const char *params[1] = {days};
    PGresult *res;

    *created = -1;
    res = PQexec(conn, "SELECT to_regprocedure('sy_create_request_partitions(integer,date)') "
                       "IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sy_pg_error(conn, err, errlen);
        PQclear(res);
        return -1;
    }
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        PQclear(res);
        return 0;
    }
    PQclear(res);
    snprintf(days, sizeof(days), "%d", MIGRATE_PARTITION_DAYS);
    res = PQexecParams(conn, "SELECT sy_create_request_partitions($1::integer)", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sy_pg_error(conn, err, errlen);
        PQclear(res);
        return -1;
    }
    *created = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads dir's *.sql files (not hidden), in name order, into files[].sql (m.file = the name).
 * A missing dir that was not asked for explicitly is no dashboards. Returns the count,
 * or -1 with err set.
 */
static int load_dashboards(const char *dir, int explicit_dir, struct migrate_file **out,
                           char *err, size_t errlen)
{
    DIR *d;
    struct dirent *de;
    char *names[MIGRATE_MAX_FILES];
    int n = 0, loaded = 0;
    struct migrate_file *files = NULL;

    *out = NULL;
    if (!explicit_dir && !is_dir(dir))
        return 0;
    if (!(d = opendir(dir))) {
        snprintf(err, errlen, "dashboards directory %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[1024];
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".sql") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (is_dir(path))
            continue;
        if (len >= sizeof(files->m.file) || n == MIGRATE_MAX_FILES) {
            snprintf(err, errlen, "%s/%s: name too long or too many files", dir, de->d_name);
            goto fail;
        }
        if (!(names[n] = strdup(de->d_name))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        n++;
    }
    qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
    if (n > 0 && !(files = calloc((size_t)n, sizeof(*files)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (loaded = 0; loaded < n; loaded++) {
        char path[1024];
        snprintf(files[loaded].m.file, sizeof(files[loaded].m.file), "%s", names[loaded]);
        snprintf(path, sizeof(path), "%s/%s", dir, names[loaded]);
        if (read_file(path, &files[loaded].sql, &files[loaded].len, err, errlen) != 0)
            goto fail;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    closedir(d);
    *out = files;
    return n;
fail:
    if (files)
        free_files(files, loaded);
    for (int i = 0; i < n; i++)
        free(names[i]);
    closedir(d);
    return -1;
}

/* Runs every dashboard file in one transaction; -1 with err (file:line) on failure. */
static int apply_dashboards(PGconn *conn, const char *dir, const struct migrate_file *files,
                            int n, char *err, size_t errlen)
{
    char msg[512];

    if (exec_cmd(conn, "BEGIN", msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "dashboards: BEGIN failed: %s", msg);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PGresult *res = PQexec(conn, files[i].sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
            const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
            sy_pg_error(conn, msg, sizeof(msg));
            if (primary && pos)
                snprintf(err, errlen, "%s/%s:%d: %s (no dashboard view changed)", dir,
                         files[i].m.file, line_of_position(files[i].sql, atol(pos)), primary);
            else
                snprintf(err, errlen, "%s/%s: %s (no dashboard view changed)", dir,
                         files[i].m.file, primary ? primary : msg);
            PQclear(res);
            (void)exec_cmd(conn, "ROLLBACK", msg, sizeof(msg));
            return -1;
        }
        PQclear(res);
    }
    if (exec_cmd(conn, "COMMIT", msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "dashboards: COMMIT failed: %s", msg);
        return -1;
    }
    return 0;
}

int migrate_main(int argc, char **argv)
{
    struct migrate_opts o;
    struct migrate_file *files = NULL, *dash = NULL;
    PGconn *conn = NULL;
    char err[2048], redacted[512];
    int n = 0, ndash = 0, rc = 1, exists = 0, applied = 0, partitions = -1;

    switch (migrate_parse_args(argc, argv, &o)) {
    case 0:
        break;
    case 1:
        return 0;
    default:
        return 2;
    }
    n = load_files(o.dir, &files, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        return 1;
    }
    ndash = load_dashboards(o.dash_dir, o.dash_explicit, &dash, err, sizeof(err));
    if (ndash < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        free_files(files, n);
        return 1;
    }
    conn = sy_pg_connect(o.database_url, "switchyard-migrate", 0, err, sizeof(err));
    if (!conn) {
        sy_pg_redact_url(o.database_url, redacted, sizeof(redacted));
        fprintf(stderr, "migrate: cannot connect to PostgreSQL at %s: %s\n", redacted, err);
        goto fail;
    }
    if (exec_cmd(conn, "SET client_min_messages = warning", err, sizeof(err)) != 0 ||
        exec_cmd(conn, "SET lock_timeout = '120s'", err, sizeof(err)) != 0)
        goto fail_msg;
    if (!o.dry_run) {
        /* Waits for any concurrent run; released when we disconnect. */
        if (exec_cmd(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, sizeof(err)) != 0)
            goto fail_msg;
        if (exec_cmd(conn,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY,"
                     " name text NOT NULL,"
                     " checksum text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     err, sizeof(err)) != 0)
            goto fail_msg;
    }
    if (table_exists(conn, &exists, err, sizeof(err)) != 0 ||
        check_applied(conn, o.dir, files, n, exists, err, sizeof(err)) != 0)
        goto fail_msg;
    for (int i = 0; i < n; i++) {
        if (files[i].applied)
            continue;
        if (o.dry_run) {
            printf("would apply %s (sha256 %.12s)\n", files[i].m.file, files[i].checksum);
            applied++;
            continue;
        }
        if (apply_one(conn, o.dir, &files[i], err, sizeof(err)) != 0)
            goto fail_msg;
        printf("applied %s (sha256 %.12s)\n", files[i].m.file, files[i].checksum);
        fflush(stdout);
        applied++;
    }
    if (o.dry_run) {
        printf("dry run: %d of %d migrations pending\n", applied, n);
        if (ndash > 0)
            printf("would re-create dashboards from %s (%d files)\n", o.dash_dir, ndash);
    } else {
        if (create_partitions(conn, &partitions, err, sizeof(err)) != 0)
            goto fail_msg;
        printf("database at version %04d (%d applied", n, applied);
        if (partitions >= 0)
            printf(", %d request partitions created", partitions);
        printf(")\n");
        if (ndash > 0) {
            if (apply_dashboards(conn, o.dash_dir, dash, ndash, err, sizeof(err)) != 0)
                goto fail_msg;
            printf("dashboards re-created from %s (%d files)\n", o.dash_dir, ndash);
        }
    }
    rc = 0;
    goto done;
fail_msg:
    fprintf(stderr, "migrate: %s\n", err);
fail:
    rc = 1;
done:
    PQfinish(conn);
    free_files(files, n);
    free_files(dash, ndash);
    return rc;
}
