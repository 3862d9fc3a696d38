/*
 * JSON logs, one object per line, written with a single write(2) so lines
 * from several processes sharing stderr never interleave.
 */
#include "common/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static enum sy_log_level min_level = SY_INFO;
static const char *component;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void sy_log_set_level(enum sy_log_level level) { min_level = level; }
void sy_log_set_component(const char *c) { component = c; }

int sy_log_parse_level(const char *s, enum sy_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, level_names[i])) {
            *out = (enum sy_log_level)i;
            return 0;
        }
    return -1;
}

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > sizeof(l->buf) - 2)
        n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s) { put(l, s, strlen(s)); }

static void put_escaped(struct line *l, const char *s, size_t n)
{
    put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

static int is_bare(const char *v, size_t n)
{
    if (n == 0)
        return 0;
    if ((n == 4 && !memcmp(v, "true", 4)) || (n == 5 && !memcmp(v, "false", 5)) ||
        (n == 4 && !memcmp(v, "null", 4)))
        return 1;
    /* a JSON number: -?digits(.digits)?  (no leading zeros beyond "0") */
    size_t i = 0;
    if (v[i] == '-')
        i++;
    if (i >= n || !isdigit((unsigned char)v[i]))
        return 0;
    if (v[i] == '0' && i + 1 < n && isdigit((unsigned char)v[i + 1]))
        return 0;
    while (i < n && isdigit((unsigned char)v[i]))
        i++;
    if (i < n && v[i] == '.') {
        i++;
        if (i >= n || !isdigit((unsigned char)v[i]))
            return 0;
        while (i < n && isdigit((unsigned char)v[i]))
            i++;
    }
    return i == n;
}

static void begin(struct line *l, enum sy_log_level level, const char *msg)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(ts, sizeof(ts), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000));
    l->len = 0;
    put(l, ts, (size_t)n);
    put_str(l, ",\"level\":\"");
    put_str(l, level_names[level]);
    put_str(l, "\"");
    if (component) {
        put_str(l, ",\"component\":\"");
        put_str(l, component);
        put_str(l, "\"");
    }
    put_str(l, ",\"msg\":");
    put_escaped(l, msg, strlen(msg));
}

static void finish(struct line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l->buf, l->len);
    (void)w;
}

static void put_pair(struct line *l, const char *k, size_t kn, const char *v, size_t vn, int bare)
{
    put(l, ",", 1);
    put_escaped(l, k, kn);
    put(l, ":", 1);
    if (bare)
        put(l, v, vn);
    else
        put_escaped(l, v, vn);
}

/*
 * Pairs are separated by the spaces of the format, not of the formatted text, so a value
 * printed with %s keeps its spaces ("reason=%s" with strerror() gives the whole reason).
 * The format is copied with each separating space (one outside a conversion, where a
 * space is a flag) turned into US (0x1f), formatted once, and split on US. A format too
 * long for the copy is split on spaces after formatting, as if no value had any.
 */
#define KV_SEP '\x1f'

/* Copies fmt (same length) with the spaces outside conversions turned into KV_SEP. */
static int mark_pairs(char *dst, size_t cap, const char *fmt)
{
    size_t n = strlen(fmt);
    int in_conv = 0; /* after a '%', up to its conversion letter */
    if (n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = fmt[i];
        if (in_conv)
            in_conv = strchr("-+ #0'123456789.*hlLqjzt", c) != NULL;
        else if (c == '%')
            in_conv = 1;
        else if (c == ' ')
            c = KV_SEP;
        dst[i] = c;
    }
    dst[n] = '\0';
    return 0;
}

void sy_log(enum sy_log_level level, const char *msg, const char *kvfmt, ...)
{
    if (level < min_level)
        return;
    struct line l;
    char kv[4096], fmt[1024];
    begin(&l, level, msg);
    if (kvfmt && *kvfmt) {
        char sep = KV_SEP;
        const char *f = fmt;
        if (mark_pairs(fmt, sizeof(fmt), kvfmt)) {
            sep = ' ';
            f = kvfmt;
        }
        char seps[2] = {sep, '\0'};
        va_list ap;
        va_start(ap, kvfmt);
        /* f is the caller's format, checked at the call by the format attribute, with only
         * separating spaces replaced */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(kv, sizeof(kv), f, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        for (char *p = kv; *p;) {
            while (*p == sep)
                p++;
            char *end = p + strcspn(p, seps);
            char *eq = memchr(p, '=', (size_t)(end - p));
            if (eq && eq > p) {
                const char *v = eq + 1;
                size_t vn = (size_t)(end - v);
                put_pair(&l, p, (size_t)(eq - p), v, vn, is_bare(v, vn));
            }
            p = end;
        }
    }
    finish(&l);
}

void sy_log_kv(enum sy_log_level level, const char *msg, ...)
{
    if (level < min_level)
        return;
    struct line l;
    va_list ap;
    begin(&l, level, msg);
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!v)
            put_pair(&l, k, strlen(k), "null", 4, 1);
        else
            put_pair(&l, k, strlen(k), v, strlen(v), 0);
    }
    va_end(ap);
    finish(&l);
}
