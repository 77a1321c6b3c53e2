/* log.c: JSON-lines logging to stderr. Each line is built in a stack buffer and written
 * with one write(2), so lines from several threads never interleave. Strings are
 * escaped as JSON; invalid UTF-8 becomes U+FFFD so every line stays valid JSON. */
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OC_LOG_LINE_MAX 16384 /* longer lines are truncated, marked with "..." */
#define OC_LOG_MSG_MAX 8192
#define OC_LOG_RESERVE 8 /* room for the closing "}\n" after a truncated value */

static char oc_log_service[128];
static oc_log_level_t oc_log_min = OC_LOG_INFO;

static const char *const oc_log_level_names[] = {"debug", "info", "warn", "error"};

typedef struct {
  char *p;
  size_t len;
  size_t cap;  /* usable bytes, excluding OC_LOG_RESERVE */
  size_t mark; /* length after the last complete field */
  bool full;
} oc_line_t;

static void oc_line_raw(oc_line_t *l, const char *s, size_t n) {
  if (l->full) return;
  if (n > l->cap - l->len) {
    l->full = true;
    return;
  }
  memcpy(l->p + l->len, s, n);
  l->len += n;
}

static void oc_line_str(oc_line_t *l, const char *s) {
  oc_line_raw(l, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t oc_utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned int cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return len;
}

/* Appends s as a quoted JSON string. When it does not fit, as much as fits is written,
 * followed by "..." and the closing quote (which always fit thanks to the reserve). */
static void oc_line_json(oc_line_t *l, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  char esc[8];
  if (l->full) return;
  if (l->cap - l->len < 5) { /* the quotes and the "..." marker must fit */
    l->full = true;
    return;
  }
  l->p[l->len++] = '"';
  for (size_t i = 0; i < n && !l->full;) {
    const char *out = esc;
    size_t outn;
    size_t adv = 1;
    unsigned char c = u[i];
    if (c == '"') {
      out = "\\\"", outn = 2;
    } else if (c == '\\') {
      out = "\\\\", outn = 2;
    } else if (c == '\n') {
      out = "\\n", outn = 2;
    } else if (c == '\r') {
      out = "\\r", outn = 2;
    } else if (c == '\t') {
      out = "\\t", outn = 2;
    } else if (c < 0x20 || c == 0x7f) {
      outn = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
    } else if (c < 0x80) {
      out = (const char *)&u[i], outn = 1;
    } else {
      adv = oc_utf8_len(&u[i], n - i);
      if (adv == 0) {
        out = "\\ufffd", outn = 6, adv = 1;
      } else {
        out = (const char *)&u[i], outn = adv;
      }
    }
    if (outn > l->cap - l->len - 4) { /* keep room for ..." */
      l->full = true;
      break;
    }
    memcpy(l->p + l->len, out, outn);
    l->len += outn;
    i += adv;
  }
  if (l->full) {
    /* Every append above left room for the marker and the closing quote. */
    memcpy(l->p + l->len, "...\"", 4);
    l->len += 4;
  } else {
    l->p[l->len++] = '"'; /* fits: appends keep 4 bytes free */
  }
  l->mark = l->len;
}

void oc_log_init(const char *service, oc_log_level_t min_level) {
  snprintf(oc_log_service, sizeof(oc_log_service), "%s", service ? service : "");
  if (min_level < OC_LOG_DEBUG || min_level > OC_LOG_ERROR) min_level = OC_LOG_INFO;
  oc_log_min = min_level;
}

int oc_log_level_parse(const char *s) {
  if (!s) return -1;
  for (int i = 0; i < 4; i++)
    if (strcasecmp(s, oc_log_level_names[i]) == 0) return i;
  if (strcasecmp(s, "warning") == 0) return OC_LOG_WARN;
  return -1;
}

/* Writes one line: fixed fields, msg, and kv pairs (NULL-terminated) when ap_kv != NULL. */
static void oc_log_write(oc_log_level_t level, const char *msg, va_list *ap_kv) {
  char buf[OC_LOG_LINE_MAX + OC_LOG_RESERVE];
  oc_line_t l = {buf, 0, OC_LOG_LINE_MAX, 0, false};
  struct timespec ts;
  struct tm tm;
  char tbuf[96];

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(ts.tv_nsec / 1000000));
  oc_line_str(&l, "{\"ts\":\"");
  oc_line_str(&l, tbuf);
  oc_line_str(&l, "\",\"level\":\"");
  oc_line_str(&l, oc_log_level_names[level]);
  oc_line_str(&l, "\"");
  if (oc_log_service[0]) {
    oc_line_str(&l, ",\"service\":");
    oc_line_json(&l, oc_log_service, strlen(oc_log_service));
  }
  oc_line_str(&l, ",\"msg\":");
  oc_line_json(&l, msg, strlen(msg));
  if (ap_kv) {
    for (;;) {
      const char *k = va_arg(*ap_kv, const char *);
      const char *v;
      if (!k) break;
      v = va_arg(*ap_kv, const char *);
      if (l.full) continue; /* drain the arguments */
      oc_line_str(&l, ",");
      oc_line_json(&l, k, strlen(k));
      oc_line_str(&l, ":");
      if (v)
        oc_line_json(&l, v, strlen(v));
      else
        oc_line_str(&l, "null");
    }
  }
  /* Drop a half-written field, then close the object: the reserve leaves room. */
  if (l.full) l.len = l.mark;
  memcpy(l.p + l.len, "}\n", 2);
  l.len += 2;

  size_t off = 0;
  while (off < l.len) {
    ssize_t w = write(STDERR_FILENO, buf + off, l.len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    off += (size_t)w;
  }
}

void oc_logv(oc_log_level_t level, const char *fmt, va_list ap) {
  char msg[OC_LOG_MSG_MAX];
  if (level < OC_LOG_DEBUG || level > OC_LOG_ERROR) level = OC_LOG_ERROR;
  if (level < oc_log_min) return;
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  if (n < 0) snprintf(msg, sizeof(msg), "(bad log format \"%s\")", fmt);
  if (n >= (int)sizeof(msg)) memcpy(msg + sizeof(msg) - 4, "...", 4);
  oc_log_write(level, msg, NULL);
}

void oc_log(oc_log_level_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  oc_logv(level, fmt, ap);
  va_end(ap);
}

void oc_log_kv(oc_log_level_t level, const char *msg, ...) {
  va_list ap;
  if (level < OC_LOG_DEBUG || level > OC_LOG_ERROR) level = OC_LOG_ERROR;
  if (level < oc_log_min) return;
  va_start(ap, msg);
  oc_log_write(level, msg ? msg : "", &ap);
  va_end(ap);
}
