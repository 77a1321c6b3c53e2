/* log.h: JSON-lines logging to stderr, one object per line:
 * {"ts":"2026-11-28T16:37:40.123Z","level":"info","service":"log-router","msg":"..."}
 * Thread-safe: each line is written with a single write(2). */
#ifndef OC_LOG_H
#define OC_LOG_H

#include <stdarg.h>

typedef enum { OC_LOG_DEBUG = 0, OC_LOG_INFO, OC_LOG_WARN, OC_LOG_ERROR } oc_log_level_t;

/* Sets the service name written on every line and the minimum level. Call once at start. */
void oc_log_init(const char *service, oc_log_level_t min_level);
/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int oc_log_level_parse(const char *s);
void oc_log(oc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oc_logv(oc_log_level_t level, const char *fmt, va_list ap);
/* Like oc_log, with extra string fields: pairs of key, value, terminated by NULL.
 * oc_log_kv(OC_LOG_WARN, "line rejected", "source", id, "reason", why, NULL); */
void oc_log_kv(oc_log_level_t level, const char *msg, ...);

#define OC_DEBUG(...) oc_log(OC_LOG_DEBUG, __VA_ARGS__)
#define OC_INFO(...) oc_log(OC_LOG_INFO, __VA_ARGS__)
#define OC_WARN(...) oc_log(OC_LOG_WARN, __VA_ARGS__)
#define OC_ERROR(...) oc_log(OC_LOG_ERROR, __VA_ARGS__)

#endif
