/*
 * JSON logs: one object per line on stderr.
 *
 *   sy_log(SY_INFO, "listening", "port=%d", port)   ->
 *   {"ts":"2026-11-28T02:50:01.123Z","level":"info","msg":"listening","port":8080}
 *
 * The optional kv format is a list of key=value pairs separated by spaces,
 * formatted with printf. The pairs are split at the spaces of the format, so a
 * value printed with a conversion keeps its own spaces:
 *
 *   sy_log(SY_ERROR, "cannot start a worker", "reason=%s", strerror(errno))   ->
 *   ...,"msg":"cannot start a worker","reason":"Connection refused"}
 *
 * A value that parses as a number (or true/false/null) is emitted bare,
 * anything else as a JSON string. sy_log_kv() takes explicit pairs instead.
 */
#ifndef SY_LOG_H
#define SY_LOG_H

enum sy_log_level { SY_DEBUG, SY_INFO, SY_WARN, SY_ERROR };

void sy_log_set_level(enum sy_log_level level);
int sy_log_parse_level(const char *s, enum sy_log_level *out);
void sy_log_set_component(const char *component); /* "router", "sim", ... */

void sy_log(enum sy_log_level level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Explicit pairs: keys and string values, NULL-terminated:
 * sy_log_kv(SY_WARN, "upstream failed", "request_id", id, "reason", why, NULL); */
void sy_log_kv(enum sy_log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
