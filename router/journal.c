#include "router/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

/* A segment is cut at the first batch closed after it is this old. */
#define RT_JOURNAL_SEGMENT_US 1000000
#define SEG_PREFIX "events-"
#define SEG_SUFFIX ".jl"

struct rt_jseg {
    char path[PATH_MAX];
    size_t refs; /* batches taken from it and not yet confirmed, +1 while current or read */
    int keep;    /* holds events no process confirmed: never deleted by this one */
};

struct rt_journal {
    char dir[PATH_MAX - 64]; /* room for the segment name after it */
    int lock_fd;
    uint64_t next_seq;
    rt_jseg *cur; /* NULL until the first event after a cut */
    int fd;       /* cur's file */
    off_t size;   /* cur's length: a failed write is cut back to it */
    int64_t cur_opened_us;
    time_t last_err_log;
};

/* The last reference gone: the file goes too, unless it must be kept. */
static void seg_put(rt_jseg *s)
{
    if (--s->refs)
        return;
    if (!s->keep && unlink(s->path) && errno != ENOENT)
        sy_log(SY_WARN, "journal segment not deleted", "path=%s reason=%s", s->path,
               strerror(errno));
    free(s);
}

static int parse_seq(const char *name, uint64_t *seq)
{
    size_t n = strlen(name), pl = strlen(SEG_PREFIX), sl = strlen(SEG_SUFFIX);
    if (n != pl + 16 + sl || strncmp(name, SEG_PREFIX, pl) || strcmp(name + n - sl, SEG_SUFFIX))
        return -1;
    uint64_t v = 0;
    for (size_t i = pl; i < pl + 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, sorted; *n of them. NULL and *n = 0 when none. */
static uint64_t *list_segments(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    uint64_t *seqs = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seq;
        if (parse_seq(e->d_name, &seq))
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *p = realloc(seqs, nc * sizeof(*p));
            if (!p)
                break;
            seqs = p;
            cap = nc;
        }
        seqs[(*n)++] = seq;
    }
    closedir(d);
    if (*n)
        qsort(seqs, *n, sizeof(*seqs), cmp_u64);
    return seqs;
}

static void seg_path(const rt_journal *j, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/" SEG_PREFIX "%016" PRIx64 SEG_SUFFIX, j->dir, seq);
}

rt_journal *rt_journal_open(const char *dir, char *err, size_t errlen)
{
    char lock[PATH_MAX];
    if (strlen(dir) >= PATH_MAX - 64) {
        snprintf(err, errlen, "journal directory name too long");
        return NULL;
    }
    if (mkdir(dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create journal directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(lock, sizeof(lock), "%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", lock, strerror(errno));
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno == EWOULDBLOCK)
            snprintf(err, errlen, "journal directory %s is in use by another router process",
                     dir);
        else
            snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(errno));
        close(fd);
        return NULL;
    }
    rt_journal *j = calloc(1, sizeof(*j));
    if (!j) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    snprintf(j->dir, sizeof(j->dir), "%s", dir);
    j->lock_fd = fd;
    j->fd = -1;
    size_t n;
    uint64_t *seqs = list_segments(dir, &n);
    j->next_seq = n ? seqs[n - 1] + 1 : 1;
    free(seqs);
    return j;
}

/* One segment's events, in groups of max_events, to fn. */
static long replay_segment(rt_journal *j, uint64_t seq, size_t max_events,
                           rt_journal_replay_fn fn, void *arg)
{
    rt_jseg *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    seg_path(j, seq, s->path, sizeof(s->path));
    FILE *f = fopen(s->path, "rb");
    if (!f) {
        sy_log(SY_ERROR, "journal segment unreadable", "path=%s reason=%s", s->path,
               strerror(errno));
        free(s);
        return -1;
    }
    s->refs = 1; /* while reading: a group confirmed meanwhile cannot delete it */
    long total = 0;
    char *line = NULL, *buf = NULL;
    size_t line_cap = 0, len = 0, cap = 0, k = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) > 0) {
        if (line[got - 1] != '\n') { /* the write the process died in */
            sy_log(SY_WARN, "journal: incomplete last event skipped", "path=%s bytes=%zd",
                   s->path, got);
            break;
        }
        if (--got == 0)
            continue;
        if (len + (size_t)got + 1 > cap) {
            size_t nc = cap ? cap : 4096;
            while (nc < len + (size_t)got + 1)
                nc *= 2;
            char *p = realloc(buf, nc);
            if (!p) {
                s->keep = 1;
                break;
            }
            buf = p;
            cap = nc;
        }
        if (k)
            buf[len++] = '\n';
        memcpy(buf + len, line, (size_t)got);
        len += (size_t)got;
        if (++k == max_events) {
            s->refs++;
            fn(arg, s, buf, len, k);
            total += (long)k;
            buf = NULL;
            len = cap = k = 0;
        }
    }
    if (ferror(f))
        s->keep = 1;
    fclose(f);
    free(line);
    if (k && !s->keep) {
        s->refs++;
        fn(arg, s, buf, len, k);
        total += (long)k;
        buf = NULL;
    }
    free(buf);
    int kept = s->keep;
    if (kept) /* a later start can read it again */
        sy_log(SY_ERROR, "journal segment not fully read, kept", "path=%s events_sent=%ld",
               s->path, total);
    seg_put(s);
    return kept ? -1 : total;
}

long rt_journal_replay(rt_journal *j, size_t max_events, rt_journal_replay_fn fn, void *arg)
{
    size_t n;
    uint64_t *seqs = list_segments(j->dir, &n);
    long total = 0;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        long got = replay_segment(j, seqs[i], max_events ? max_events : 1, fn, arg);
        if (got < 0)
            failed = 1;
        else
            total += got;
    }
    free(seqs);
    if (n)
        sy_log(SY_INFO, "journal replayed", "dir=%s segments=%zu events=%ld", j->dir, n, total);
    return failed ? -1 : total;
}

/* At most one line a second; reason NULL: errno's. */
static void log_error(rt_journal *j, const char *what, const char *path, const char *reason)
{
    time_t now = time(NULL);
    if (now == j->last_err_log)
        return;
    j->last_err_log = now;
    sy_log(SY_ERROR, "journal write failed, events only in memory", "what=%s path=%s reason=%s",
           what, path, reason ? reason : strerror(errno));
}

static int seg_start(rt_journal *j)
{
    rt_jseg *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    seg_path(j, j->next_seq, s->path, sizeof(s->path));
    int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error(j, "create", s->path, NULL);
        free(s);
        return -1;
    }
    s->refs = 1; /* current */
    j->next_seq++;
    j->cur = s;
    j->fd = fd;
    j->size = 0;
    j->cur_opened_us = sy_clock_mono_us();
    return 0;
}

static void seg_cut(rt_journal *j)
{
    close(j->fd);
    j->fd = -1;
    rt_jseg *s = j->cur;
    j->cur = NULL;
    seg_put(s);
}

rt_jseg *rt_journal_append(rt_journal *j, const char *json, size_t len)
{
    if (!j->cur && seg_start(j))
        return NULL;
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    ssize_t put = writev(j->fd, iov, 2);
    if (put == (ssize_t)len + 1) {
        j->size += put;
        return j->cur;
    }
    char reason[64] = "";
    if (put >= 0) /* a full disk or a file size limit, part way */
        snprintf(reason, sizeof(reason), "wrote %zd of %zu bytes", put, len + 1);
    log_error(j, "write", j->cur->path, put >= 0 ? reason : NULL);
    /* a torn line would join the next event's */
    if (put > 0 && ftruncate(j->fd, j->size)) {
        j->cur->keep = 1; /* whatever it holds stays readable up to the torn line */
        seg_cut(j);
    }
    return NULL;
}

void rt_jseg_hold(rt_journal *j, rt_jseg *seg)
{
    if (seg)
        seg->refs++;
    if (j->cur && sy_clock_mono_us() - j->cur_opened_us >= RT_JOURNAL_SEGMENT_US)
        seg_cut(j);
}

void rt_jseg_done(rt_jseg *seg)
{
    if (seg)
        seg_put(seg);
}

void rt_jseg_keep(rt_jseg *seg)
{
    if (!seg)
        return;
    seg->keep = 1;
    seg_put(seg);
}

void rt_journal_close(rt_journal *j, int all_confirmed)
{
    if (!j)
        return;
    if (j->cur) {
        if (!all_confirmed)
            j->cur->keep = 1;
        seg_cut(j);
    }
    close(j->lock_fd);
    free(j);
}
