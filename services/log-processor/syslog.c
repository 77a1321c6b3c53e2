/* syslog.c: RFC 5424 and RFC 3164 lines to JSON objects (see syslog.h). Both parsers
 * make one forward pass over the line and build the tree directly in the caller's arena;
 * strings point into the line except SD param values that had escapes. RFC 5424 is read
 * strictly (it has a grammar); RFC 3164 is a description of what BSD senders did, so it is
 * read leniently, the way rsyslog and go-syslog's best-effort mode read it. */
#include "services/log-processor/syslog.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/timeutil.h"

/* RFC 5424 field lengths (section 6) */
#define MAX_HOSTNAME 255
#define MAX_APPNAME 48
#define MAX_PROCID 128
#define MAX_MSGID 32
#define MAX_SDNAME 32
/* RFC 3164 says 32 for a TAG; real ones (systemd units, Java) run longer */
#define MAX_TAG 64

__attribute__((format(printf, 5, 6))) static oc_json_t *fail(char *errstr, size_t errstr_size,
                                                             const char *kind, size_t off,
                                                             const char *fmt, ...) {
  if (errstr && errstr_size) {
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(errstr, errstr_size, "%s: %s at byte %zu", kind, why, off);
  }
  return NULL;
}

static oc_json_t *node(oc_arena_t *a, oc_json_type_t type, const char *s, size_t len) {
  oc_json_t *v = oc_arena_alloc(a, sizeof(*v));
  if (!v) return NULL;
  memset(v, 0, sizeof(*v));
  v->type = type;
  v->s = s;
  v->len = (uint32_t)len;
  return v;
}

/* An object under construction: members are appended in order. */
typedef struct {
  oc_arena_t *a;
  oc_json_t *obj;
  oc_json_t *tail;
} builder_t;

static void add(builder_t *b, const char *key, size_t key_len, oc_json_t *v) {
  v->key = key;
  v->key_len = (uint32_t)key_len;
  if (b->tail)
    b->tail->next = v;
  else
    b->obj->child = v;
  b->tail = v;
  b->obj->len++;
}

static bool add_str(builder_t *b, const char *key, const char *s, size_t len) {
  oc_json_t *v = node(b->a, OC_JSON_STRING, s, len);
  if (!v) return false;
  add(b, key, strlen(key), v);
  return true;
}

/* v is 0..999 */
static bool add_int(builder_t *b, const char *key, int v) {
  char *d = oc_arena_alloc(b->a, 4);
  if (!d) return false;
  int n = 0;
  if (v >= 100) d[n++] = (char)('0' + v / 100);
  if (v >= 10) d[n++] = (char)('0' + v / 10 % 10);
  d[n++] = (char)('0' + v % 10);
  oc_json_t *j = node(b->a, OC_JSON_NUMBER, d, (size_t)n);
  if (!j) return false;
  add(b, key, strlen(key), j);
  return true;
}

static bool builder_init(builder_t *b, oc_arena_t *a) {
  b->a = a;
  b->tail = NULL;
  b->obj = node(a, OC_JSON_OBJECT, NULL, 0);
  return b->obj != NULL;
}

static size_t trim_eol(const char *line, size_t len) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  return len;
}

/* "<" 1*3DIGIT ">" with a value of 0..191. Returns NULL or a reason. */
static const char *parse_pri(const char *s, size_t n, size_t *i, int *pri) {
  if (*i >= n || s[*i] != '<') return "expected \"<\" (the priority)";
  (*i)++;
  int v = 0, digits = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
    if (++digits > 3) return "priority has more than 3 digits";
    v = v * 10 + (s[*i] - '0');
    (*i)++;
  }
  if (digits == 0) return "expected the priority value";
  if (*i >= n || s[*i] != '>') return "expected \">\" after the priority";
  if (v > 191) return "priority is greater than 191";
  (*i)++;
  *pri = v;
  return NULL;
}

static bool add_pri(builder_t *b, int pri) {
  return add_int(b, "priority", pri) && add_int(b, "facility", pri >> 3) &&
         add_int(b, "severity", pri & 7);
}

static bool is_print(unsigned char c) {
  return c >= 33 && c <= 126;
}

/* ---- RFC 5424 ---- */

/* A header field: 1..max printable ASCII bytes followed by a space. */
static bool header_field(const char *s, size_t n, size_t *i, size_t max, size_t *start,
                         size_t *flen) {
  size_t j = *i;
  while (j < n && j - *i <= max && is_print((unsigned char)s[j]))
    j++;
  if (j == *i || j - *i > max || j >= n || s[j] != ' ') return false;
  *start = *i;
  *flen = j - *i;
  *i = j + 1;
  return true;
}

static bool is_sdname(unsigned char c) {
  return is_print(c) && c != '=' && c != ']' && c != '"';
}

static size_t sdname_len(const char *s, size_t n, size_t i) {
  size_t j = i;
  while (j < n && is_sdname((unsigned char)s[j]))
    j++;
  return j - i;
}

/* PARAM-VALUE between quotes at s[*i] (just after the opening quote). Returns the end
 * (the closing quote) or n when unterminated; *esc tells whether it has backslashes. */
static size_t value_end(const char *s, size_t n, size_t i, bool *esc) {
  *esc = false;
  while (i < n && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < n) {
      *esc = true;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/* RFC 5424 6.3.3: \" \\ \] are escapes; a backslash before anything else is kept. */
static char *unescape(oc_arena_t *a, const char *s, size_t len, size_t *out_len) {
  char *d = oc_arena_alloc(a, len ? len : 1);
  if (!d) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == ']'))
      i++;
    d[k++] = s[i];
  }
  *out_len = k;
  return d;
}

#define K5424 "rfc5424"

static oc_json_t *parse_sd(oc_arena_t *a, const char *s, size_t n, size_t *ip, char *errstr,
                           size_t errstr_size) {
  size_t i = *ip;
  oc_json_t *sd = node(a, OC_JSON_OBJECT, NULL, 0);
  if (!sd) goto nomem;
  builder_t elems = {a, sd, NULL};
  while (i < n && s[i] == '[') {
    if (sd->len >= OC_SYSLOG_MAX_SD_ELEMENTS)
      return fail(errstr, errstr_size, K5424, i, "more than %d structured data elements",
                  OC_SYSLOG_MAX_SD_ELEMENTS);
    i++;
    size_t id_len = sdname_len(s, n, i);
    if (id_len == 0 || id_len > MAX_SDNAME)
      return fail(errstr, errstr_size, K5424, i, "expected an SD-ID of 1 to %d characters",
                  MAX_SDNAME);
    const char *id = s + i;
    for (const oc_json_t *e = sd->child; e; e = e->next)
      if (e->key_len == id_len && memcmp(e->key, id, id_len) == 0)
        return fail(errstr, errstr_size, K5424, i, "SD-ID \"%.*s\" repeated", (int)id_len, id);
    i += id_len;
    oc_json_t *elem = node(a, OC_JSON_OBJECT, NULL, 0);
    if (!elem) goto nomem;
    add(&elems, id, id_len, elem);
    builder_t params = {a, elem, NULL};
    for (;;) {
      if (i < n && s[i] == ']') {
        i++;
        break;
      }
      if (i >= n || s[i] != ' ')
        return fail(errstr, errstr_size, K5424, i,
                    "expected \" \" or \"]\" in structured data element");
      i++;
      size_t name_len = sdname_len(s, n, i);
      if (name_len == 0 || name_len > MAX_SDNAME)
        return fail(errstr, errstr_size, K5424, i, "expected a PARAM-NAME of 1 to %d characters",
                    MAX_SDNAME);
      const char *name = s + i;
      i += name_len;
      if (i >= n || s[i] != '=')
        return fail(errstr, errstr_size, K5424, i, "expected \"=\" after PARAM-NAME");
      i++;
      if (i >= n || s[i] != '"')
        return fail(errstr, errstr_size, K5424, i, "expected '\"' before PARAM-VALUE");
      i++;
      bool esc;
      size_t end = value_end(s, n, i, &esc);
      if (end >= n) return fail(errstr, errstr_size, K5424, i, "unterminated PARAM-VALUE");
      const char *val = s + i;
      size_t val_len = end - i;
      if (esc && !(val = unescape(a, s + i, end - i, &val_len))) goto nomem;
      i = end + 1;
      /* a repeated name keeps the last value, as a map would */
      oc_json_t *dup = NULL;
      for (oc_json_t *p = elem->child; p; p = p->next)
        if (p->key_len == name_len && memcmp(p->key, name, name_len) == 0) dup = p;
      if (dup) {
        dup->s = val;
        dup->len = (uint32_t)val_len;
        continue;
      }
      if (elem->len >= OC_SYSLOG_MAX_SD_PARAMS)
        return fail(errstr, errstr_size, K5424, (size_t)(name - s),
                    "more than %d params in structured data element", OC_SYSLOG_MAX_SD_PARAMS);
      oc_json_t *v = node(a, OC_JSON_STRING, val, val_len);
      if (!v) goto nomem;
      add(&params, name, name_len, v);
    }
  }
  *ip = i;
  return sd;
nomem:
  return fail(errstr, errstr_size, K5424, i, "out of memory");
}

oc_json_t *oc_syslog_parse_rfc5424(oc_arena_t *a, const char *line, size_t len, char *errstr,
                                   size_t errstr_size) {
  const char *s = line;
  size_t n = line ? trim_eol(line, len) : 0;
  if (n > UINT32_MAX) return fail(errstr, errstr_size, K5424, 0, "line too long");
  size_t i = 0;
  int pri = 0;
  const char *why = parse_pri(s, n, &i, &pri);
  if (why) return fail(errstr, errstr_size, K5424, i, "%s", why);

  /* VERSION = NONZERO-DIGIT 0*2DIGIT */
  size_t ver = i;
  if (i >= n || s[i] < '1' || s[i] > '9')
    return fail(errstr, errstr_size, K5424, i, "expected the version after the priority");
  i++;
  while (i < n && i - ver < 3 && s[i] >= '0' && s[i] <= '9')
    i++;
  size_t ver_len = i - ver;
  if (i >= n || s[i] != ' ')
    return fail(errstr, errstr_size, K5424, i, "expected a space after the version");
  i++;

  size_t f[5][2]; /* timestamp, hostname, appname, procid, msgid: start, length */
  static const struct {
    const char *what;
    size_t max;
  } fields[5] = {{"timestamp", 64},
                 {"hostname", MAX_HOSTNAME},
                 {"app-name", MAX_APPNAME},
                 {"procid", MAX_PROCID},
                 {"msgid", MAX_MSGID}};
  for (int k = 0; k < 5; k++) {
    size_t at = i;
    if (!header_field(s, n, &i, fields[k].max, &f[k][0], &f[k][1]))
      return fail(errstr, errstr_size, K5424, at,
                  "expected %s (1 to %zu printable characters) and a space", fields[k].what,
                  fields[k].max);
  }
  bool ts_nil = f[0][1] == 1 && s[f[0][0]] == '-';
  int64_t ts_us;
  if (!ts_nil && (f[0][1] < 11 || (s[f[0][0] + 10] != 'T' && s[f[0][0] + 10] != 't') ||
                  !oc_time_parse_rfc3339(s + f[0][0], f[0][1], &ts_us)))
    return fail(errstr, errstr_size, K5424, f[0][0], "invalid timestamp \"%.*s\"", (int)f[0][1],
                s + f[0][0]);

  builder_t b;
  if (!builder_init(&b, a) || !add_pri(&b, pri)) goto nomem;
  oc_json_t *v = node(a, OC_JSON_NUMBER, s + ver, ver_len);
  if (!v) goto nomem;
  add(&b, "version", 7, v);
  static const char *const keys[5] = {"timestamp", "hostname", "appname", "procid", "msgid"};
  for (int k = 0; k < 5; k++) {
    if (f[k][1] == 1 && s[f[k][0]] == '-') continue; /* NILVALUE */
    if (!add_str(&b, keys[k], s + f[k][0], f[k][1])) goto nomem;
  }

  if (i < n && s[i] == '-') {
    i++;
  } else if (i < n && s[i] == '[') {
    oc_json_t *sd = parse_sd(a, s, n, &i, errstr, errstr_size);
    if (!sd) return NULL;
    add(&b, "structured_data", 15, sd);
  } else {
    return fail(errstr, errstr_size, K5424, i, "expected structured data (\"[\" or \"-\")");
  }
  if (i < n) {
    if (s[i] != ' ')
      return fail(errstr, errstr_size, K5424, i, "expected a space after the structured data");
    i++;
    if (n - i >= 3 && memcmp(s + i, "\xef\xbb\xbf", 3) == 0) i += 3; /* BOM */
    if (i < n && !add_str(&b, "message", s + i, n - i)) goto nomem;
  }
  return b.obj;
nomem:
  return fail(errstr, errstr_size, K5424, i, "out of memory");
}

/* ---- RFC 3164 ---- */

#define K3164 "rfc3164"

static oc_timefmt_t bsd_fmt, bsd_frac_fmt;
static pthread_once_t bsd_once = PTHREAD_ONCE_INIT;

static void bsd_init(void) {
  /* constant layouts: compiling cannot fail */
  (void)oc_timefmt_compile(&bsd_fmt, "%b %e %H:%M:%S", NULL, 0);
  (void)oc_timefmt_compile(&bsd_frac_fmt, "%b %e %H:%M:%S.%f", NULL, 0);
}

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* "Mmm dd hh:mm:ss[.frac]" (day space-padded or not) or an RFC 3339 token at s[*i].
 * Returns false when neither is there. */
static bool parse_3164_time(const char *s, size_t n, size_t *i, int64_t ref_us, int64_t *us) {
  size_t j = *i;
  if (j < n && is_digit(s[j])) {
    while (j < n && s[j] != ' ')
      j++;
    if (j - *i < 11 || (s[*i + 10] != 'T' && s[*i + 10] != 't') ||
        !oc_time_parse_rfc3339(s + *i, j - *i, us))
      return false;
    *i = j;
    return true;
  }
  if (n - j < 3 || !is_alpha(s[j]) || !is_alpha(s[j + 1]) || !is_alpha(s[j + 2])) return false;
  j += 3;
  if (j >= n || s[j] != ' ') return false;
  j++;
  if (j < n && s[j] == ' ') j++;
  size_t d = j;
  while (j < n && j - d < 2 && is_digit(s[j]))
    j++;
  if (j == d || j >= n || s[j] != ' ') return false;
  j++;
  if (n - j < 8) return false;
  j += 8; /* hh:mm:ss, checked by the format */
  bool frac = false;
  if (j < n && s[j] == '.' && j + 1 < n && is_digit(s[j + 1])) {
    frac = true;
    j++;
    while (j < n && is_digit(s[j]))
      j++;
  }
  pthread_once(&bsd_once, bsd_init);
  if (!oc_timefmt_parse(frac ? &bsd_frac_fmt : &bsd_fmt, s + *i, j - *i, ref_us, us)) return false;
  *i = j;
  return true;
}

/* A token that is a tag rather than a hostname: "sshd:", "sshd[42]:", "sshd[42]". */
static bool looks_like_tag(const char *s, size_t len) {
  return len && (s[len - 1] == ':' || memchr(s, '[', len) != NULL);
}

oc_json_t *oc_syslog_parse_rfc3164(oc_arena_t *a, const char *line, size_t len, int64_t ref_us,
                                   char *errstr, size_t errstr_size) {
  const char *s = line;
  size_t n = line ? trim_eol(line, len) : 0;
  if (n > UINT32_MAX) return fail(errstr, errstr_size, K3164, 0, "line too long");
  size_t i = 0;
  int pri = 0;
  const char *why = parse_pri(s, n, &i, &pri);
  if (why) return fail(errstr, errstr_size, K3164, i, "%s", why);
  int64_t us;
  size_t ts_at = i;
  if (!parse_3164_time(s, n, &i, ref_us, &us))
    return fail(errstr, errstr_size, K3164, ts_at,
                "expected a timestamp (\"Mmm dd hh:mm:ss\" or RFC 3339)");
  if (i < n && s[i] != ' ')
    return fail(errstr, errstr_size, K3164, i, "expected a space after the timestamp");

  builder_t b;
  if (!builder_init(&b, a) || !add_pri(&b, pri)) goto nomem;
  char *ts = oc_arena_alloc(a, 32);
  if (!ts) goto nomem;
  oc_time_format_rfc3339(us, ts);
  if (!add_str(&b, "timestamp", ts, strlen(ts))) goto nomem;
  while (i < n && s[i] == ' ')
    i++;

  /* HOSTNAME, unless the first word is already the tag */
  size_t e = i;
  while (e < n && s[e] != ' ')
    e++;
  bool ascii = true;
  for (size_t k = i; k < e && ascii; k++)
    ascii = is_print((unsigned char)s[k]);
  if (e > i && ascii && e - i <= MAX_HOSTNAME && !looks_like_tag(s + i, e - i)) {
    if (!add_str(&b, "hostname", s + i, e - i)) goto nomem;
    i = e;
    while (i < n && s[i] == ' ')
      i++;
  }

  /* TAG[PID]: TAG: or TAG[PID] ; a bare word without either is the start of the message */
  size_t t = i;
  while (t < n && t - i <= MAX_TAG && is_print((unsigned char)s[t]) && s[t] != '[' && s[t] != ':')
    t++;
  if (t > i && t - i <= MAX_TAG && t < n && (s[t] == '[' || s[t] == ':')) {
    size_t tag = i, tag_len = t - i;
    size_t pid = 0, pid_len = 0;
    size_t m = t;
    bool ok = true;
    if (s[m] == '[') {
      size_t p = m + 1;
      while (p < n && p - (m + 1) <= MAX_PROCID && s[p] != ']' && is_print((unsigned char)s[p]))
        p++;
      ok = p < n && s[p] == ']' && p > m + 1 && p - (m + 1) <= MAX_PROCID;
      if (ok) {
        pid = m + 1;
        pid_len = p - pid;
        m = p + 1;
        if (m < n && s[m] == ':') m++;
      }
    } else {
      m++; /* ':' */
    }
    if (ok && (m == n || s[m] == ' ')) {
      if (!add_str(&b, "appname", s + tag, tag_len)) goto nomem;
      if (pid_len && !add_str(&b, "procid", s + pid, pid_len)) goto nomem;
      i = m < n ? m + 1 : m;
    }
  }
  if (i < n && !add_str(&b, "message", s + i, n - i)) goto nomem;
  return b.obj;
nomem:
  return fail(errstr, errstr_size, K3164, i, "out of memory");
}
