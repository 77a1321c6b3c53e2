/* timefmt.h: event-time formats of log-type schemas (`timeFormats`): "rfc3339", the Unix
 * epoch in seconds / ms / us / ns, or a strftime-style layout. A format is compiled once
 * (when the schema loads) into a small fixed-size value and then parses many timestamps
 * with no allocation and no dependency on the locale or TZ (no strptime). */
#ifndef OC_TIMEFMT_H
#define OC_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest layout accepted, in bytes of the spec. */
#define OC_TIMEFMT_MAX_SPEC 128

typedef enum {
  OC_TIMEFMT_RFC3339 = 0,
  OC_TIMEFMT_UNIX,    /* seconds, integer or fractional */
  OC_TIMEFMT_UNIX_MS, /* milliseconds */
  OC_TIMEFMT_UNIX_US, /* microseconds */
  OC_TIMEFMT_UNIX_NS, /* nanoseconds */
  OC_TIMEFMT_LAYOUT   /* strftime-style layout */
} oc_timefmt_kind_t;

/* A compiled format: plain data, may be copied, shared between threads read-only. */
typedef struct oc_timefmt {
  oc_timefmt_kind_t kind;
  uint16_t nops;
  uint16_t flags;                        /* which fields the layout sets (internal) */
  unsigned char op[OC_TIMEFMT_MAX_SPEC]; /* directive letter, or 0 for a literal */
  char lit[OC_TIMEFMT_MAX_SPEC];         /* the literal byte when op is 0 */
} oc_timefmt_t;

/* Compiles spec: "rfc3339", "unix", "unix_ms", "unix_us", "unix_ns", or a layout using
 *   %Y (4-digit year) %y (2-digit year, 69..99 -> 19xx) %m %d %e (day, space padded)
 *   %j (day of year) %H %M %S %I (12-hour) %p (AM/PM) %f (fraction, 1-9 digits)
 *   %z (Z, +hh, +hhmm, +hh:mm) %Z (UTC, GMT or Z only) %b %B (English month names,
 *   full or abbreviated) %a %A (English weekday names, skipped) %s (epoch seconds)
 *   %T (= %H:%M:%S) %F (= %Y-%m-%d) %% and literal bytes; a space matches one or more
 *   spaces or tabs.
 * Returns false and a message in errstr for an unknown directive, a trailing '%', an
 * empty or over-long spec, or a directive given twice. */
bool oc_timefmt_compile(oc_timefmt_t *f, const char *spec, char *errstr, size_t errstr_size);

/* Parses the whole of s[0..n) (no NUL needed) into microseconds since the epoch, UTC.
 * Fractions below a microsecond are truncated. Without a zone the time is UTC. Without a
 * year (syslog "%b %d %H:%M:%S") the year of ref_us is used, or the previous year when
 * that would put the time more than a day after ref_us. Unix formats take an optional
 * '-', digits, an optional fraction and exponent (a JSON number or its text).
 * Returns false when s does not match exactly (trailing bytes, Feb 31, hour 25, ...) or
 * the time does not fit in int64 microseconds. No allocation; thread-safe. */
bool oc_timefmt_parse(const oc_timefmt_t *f, const char *s, size_t n, int64_t ref_us,
                      int64_t *out_us);

#endif
