/* regexparse.c: the regex parser of log-type schemas on PCRE2 (see regexparse.h): grok
 * references are expanded into one pattern, compiled once with JIT, and matched with a
 * per-thread match data block, so a line costs no malloc. */
#include "services/log-processor/regexparse.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define RX_MATCH_LIMIT 1000000 /* backtracking steps per line */
#define RX_MAX_GROUPS 4096     /* capture groups, named or not: bounds the match data */
#define RX_MAX_DEPTH 16        /* nesting of %{...} references */
#define RX_JIT_STACK_MAX (1024 * 1024)

/* Grok-style built-ins, written for PCRE2. */
static const char *const builtin_defs[][2] = {
    {"DATA", ".*?"},
    {"GREEDYDATA", ".*"},
    {"NOTSPACE", "\\S+"},
    {"SPACE", "\\s*"},
    {"WORD", "\\b\\w+\\b"},
    {"INT", "(?:[+-]?(?:[0-9]+))"},
    {"POSINT", "\\b(?:[1-9][0-9]*)\\b"},
    {"NONNEGINT", "\\b(?:[0-9]+)\\b"},
    {"NUMBER", "(?:[+-]?(?:(?:[0-9]+(?:\\.[0-9]*)?)|(?:\\.[0-9]+)))"},
    {"BASE10NUM", "(?:[+-]?(?:(?:[0-9]+(?:\\.[0-9]*)?)|(?:\\.[0-9]+)))"},
    {"BASE16NUM", "(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))"},
    {"IPV4",
     "(?<![0-9])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}"
     "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?![0-9])"},
    {"IPV6",
     "(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|"
     "(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}|:(?::[0-9A-Fa-f]{1,4}){1,7}|::)"
     "(?:%[0-9A-Za-z]+)?"},
    {"IP", "(?:%{IPV6}|%{IPV4})"},
    {"HOSTNAME",
     "\\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
     "(?:\\.?|\\b)"},
    {"IPORHOST", "(?:%{IP}|%{HOSTNAME})"},
    {"HOSTPORT", "%{IPORHOST}:%{POSINT}"},
    {"USERNAME", "[a-zA-Z0-9._-]+"},
    {"USER", "%{USERNAME}"},
    {"EMAILADDRESS", "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+@%{HOSTNAME}"},
    {"QUOTEDSTRING", "\"(?:[^\"\\\\]|\\\\.)*\""},
    {"UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"},
    {"MAC", "(?:[A-Fa-f0-9]{2}[:-]){5}[A-Fa-f0-9]{2}"},
    {"URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\\-]*)+"},
    {"MONTH",
     "\\b(?:[Jj]an|[Ff]eb|[Mm]ar|[Aa]pr|[Mm]ay|[Jj]un|[Jj]ul|[Aa]ug|[Ss]ep|[Oo]ct|[Nn]ov|"
     "[Dd]ec)[a-z]*\\b"},
    {"MONTHNUM", "(?:0?[1-9]|1[0-2])"},
    {"MONTHDAY", "(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"},
    {"YEAR", "(?:\\d\\d){1,2}"},
    {"HOUR", "(?:2[0123]|[01]?[0-9])"},
    {"MINUTE", "(?:[0-5][0-9])"},
    {"SECOND", "(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"},
    {"TIME", "%{HOUR}:%{MINUTE}(?::%{SECOND})?"},
    {"ISO8601_TIMEZONE", "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"},
    {"TIMESTAMP_ISO8601",
     "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?"
     "%{ISO8601_TIMEZONE}?"},
    {"SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}"},
    {"LOGLEVEL",
     "(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|"
     "[Ww]arn(?:ing)?|WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|"
     "CRIT(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|[Ee]merg(?:ency)?|EMERG(?:ENCY)?)"},
};
#define NBUILTIN (sizeof(builtin_defs) / sizeof(builtin_defs[0]))

typedef struct rx_group {
  uint32_t num; /* capture group number */
  char *name;
  uint32_t name_len;
} rx_group_t;

struct oc_regexparse {
  pcre2_code *code;
  pcre2_match_context *mctx; /* read-only after new: limits and the JIT stack callback */
  uint32_t pairs;            /* ovector pairs a match needs */
  rx_group_t *groups;        /* named groups by group number */
  size_t ngroups;
  char *pattern; /* the expanded pattern */
  oc_tp_common_t common;
};

typedef struct rx_defs {
  const char *const *names;
  const char *const *pats;
  size_t n;
} rx_defs_t;

/* ---- per-thread match state ---- */

typedef struct rx_thread {
  pcre2_match_data *md;
  uint32_t pairs;
  pcre2_jit_stack *js;
} rx_thread_t;

static _Thread_local rx_thread_t *rx_tls;
static pthread_key_t rx_key;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;
static bool rx_key_ok;

static void rx_thread_free(void *v) {
  rx_thread_t *t = v;
  if (!t) return;
  pcre2_match_data_free(t->md);
  pcre2_jit_stack_free(t->js);
  free(t);
}

static void rx_key_init(void) {
  rx_key_ok = pthread_key_create(&rx_key, rx_thread_free) == 0;
}

void oc_regexparse_thread_release(void) {
  if (!rx_tls) return;
  rx_thread_free(rx_tls);
  rx_tls = NULL;
  if (rx_key_ok) pthread_setspecific(rx_key, NULL);
}

/* The calling thread's state with room for pairs ovector pairs; NULL on OOM. */
static rx_thread_t *rx_thread(uint32_t pairs) {
  rx_thread_t *t = rx_tls;
  if (t && t->pairs >= pairs) return t;
  if (!t) {
    pthread_once(&rx_once, rx_key_init);
    if (!(t = calloc(1, sizeof(*t)))) return NULL;
    t->js = pcre2_jit_stack_create(32 * 1024, RX_JIT_STACK_MAX, NULL); /* NULL: default stack */
    rx_tls = t;
    if (rx_key_ok) pthread_setspecific(rx_key, t);
  }
  uint32_t want = pairs < 32 ? 32 : pairs;
  pcre2_match_data *md = pcre2_match_data_create(want, NULL);
  if (!md) return NULL;
  pcre2_match_data_free(t->md);
  t->md = md;
  t->pairs = want;
  return t;
}

static pcre2_jit_stack *rx_jit_stack(void *unused) {
  return rx_tls ? rx_tls->js : NULL;
}

/* ---- grok expansion ---- */

static bool is_word(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_';
}

static const char *find_def(const rx_defs_t *d, const char *name, size_t len) {
  for (size_t i = 0; i < d->n; i++)
    if (strlen(d->names[i]) == len && memcmp(d->names[i], name, len) == 0) return d->pats[i];
  for (size_t i = 0; i < NBUILTIN; i++)
    if (strlen(builtin_defs[i][0]) == len && memcmp(builtin_defs[i][0], name, len) == 0)
      return builtin_defs[i][1];
  return NULL;
}

/* Appends s with %{NAME} and %{NAME:field} expanded. Text that only looks like a reference
 * (%{2,3}, %{ x}) is copied as it is. */
static bool expand(oc_buf_t *b, const rx_defs_t *d, const char *s, size_t n, int depth,
                   char *errstr, size_t errstr_size) {
  if (depth > RX_MAX_DEPTH) {
    oc_tp_fail(errstr, errstr_size, "pattern definitions nest deeper than %d (a cycle?)",
               RX_MAX_DEPTH);
    return false;
  }
  size_t i = 0, lit = 0;
  while (i < n) {
    if (!(s[i] == '%' && i + 2 < n && s[i + 1] == '{' && (is_word(s[i + 2])) &&
          !(s[i + 2] >= '0' && s[i + 2] <= '9'))) {
      i++;
      continue;
    }
    size_t j = i + 2;
    while (j < n && is_word(s[j]))
      j++;
    size_t name_end = j, field = 0, field_end = 0;
    if (j < n && s[j] == ':') {
      field = ++j;
      while (j < n && is_word(s[j]))
        j++;
      field_end = j;
      if (field_end == field) field = 0;
    }
    if (j >= n || s[j] != '}' || (field_end && !field)) { /* not a reference */
      i++;
      continue;
    }
    const char *name = s + i + 2;
    size_t nlen = name_end - (i + 2);
    const char *def = find_def(d, name, nlen);
    if (!def) {
      oc_tp_fail(errstr, errstr_size, "unknown pattern %%{%.*s}", (int)nlen, name);
      return false;
    }
    oc_buf_append(b, s + lit, i - lit);
    if (field)
      oc_buf_appendf(b, "(?P<%.*s>", (int)(field_end - field), s + field);
    else
      oc_buf_puts(b, "(?:");
    if (!expand(b, d, def, strlen(def), depth + 1, errstr, errstr_size)) return false;
    oc_buf_putc(b, ')');
    if (b->len > OC_TEXTPARSE_MAX_PATTERN) break;
    i = j + 1;
    lit = i;
  }
  if (i >= lit) oc_buf_append(b, s + lit, n - lit);
  if (!oc_buf_ok(b)) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    return false;
  }
  if (b->len > OC_TEXTPARSE_MAX_PATTERN) {
    oc_tp_fail(errstr, errstr_size, "expanded regex pattern is longer than %d bytes",
               OC_TEXTPARSE_MAX_PATTERN);
    return false;
  }
  return true;
}

static int cmp_group(const void *x, const void *y) {
  const rx_group_t *a = x, *b = y;
  return a->num < b->num ? -1 : a->num > b->num;
}

/* Reads the named groups out of the compiled code, in group order. */
static bool load_groups(oc_regexparse_t *p, char *errstr, size_t errstr_size) {
  uint32_t capcount = 0, namecount = 0, entry = 0;
  PCRE2_SPTR table = NULL;
  pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &capcount);
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &namecount);
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
  if (capcount >= RX_MAX_GROUPS) {
    oc_tp_fail(errstr, errstr_size, "regex has %u capture groups, more than the limit of %d",
               capcount, RX_MAX_GROUPS);
    return false;
  }
  if (namecount == 0) {
    oc_tp_fail(errstr, errstr_size, "regex has no named groups, so it would capture no fields");
    return false;
  }
  if (namecount > OC_TEXTPARSE_MAX_FIELDS) {
    oc_tp_fail(errstr, errstr_size, "regex has %u named groups, more than the limit of %d",
               namecount, OC_TEXTPARSE_MAX_FIELDS);
    return false;
  }
  p->pairs = capcount + 1;
  if (!(p->groups = calloc(namecount, sizeof(*p->groups)))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    return false;
  }
  for (uint32_t i = 0; i < namecount; i++) {
    PCRE2_SPTR e = table + (size_t)i * entry;
    const char *name = (const char *)e + 2;
    /* the table is sorted by name: a duplicate (?J) name sits next to its twin */
    if (i && strcmp(p->groups[p->ngroups - 1].name, name) == 0) {
      oc_tp_fail(errstr, errstr_size, "regex names group \"%s\" more than once", name);
      return false;
    }
    rx_group_t *g = &p->groups[p->ngroups];
    g->num = ((uint32_t)e[0] << 8) | e[1];
    if (!(g->name = strdup(name))) {
      oc_tp_fail(errstr, errstr_size, "out of memory");
      return false;
    }
    g->name_len = (uint32_t)strlen(name);
    p->ngroups++;
  }
  qsort(p->groups, p->ngroups, sizeof(*p->groups), cmp_group);
  return true;
}

oc_regexparse_t *oc_regexparse_new(const char *const *match, size_t nmatch,
                                   const char *const *def_names, const char *const *def_patterns,
                                   size_t ndefs, const oc_textparse_opts_t *opts, char *errstr,
                                   size_t errstr_size) {
  oc_regexparse_t *p = NULL;
  oc_buf_t joined, b;
  oc_buf_init(&joined);
  oc_buf_init(&b);
  if (nmatch == 0 || nmatch > OC_TEXTPARSE_MAX_PATTERNS) {
    oc_tp_fail(errstr, errstr_size, "regex parser needs 1 to %d match parts, got %zu",
               OC_TEXTPARSE_MAX_PATTERNS, nmatch);
    goto err;
  }
  if (ndefs > OC_TEXTPARSE_MAX_PATTERNS) {
    oc_tp_fail(errstr, errstr_size, "more than %d pattern definitions", OC_TEXTPARSE_MAX_PATTERNS);
    goto err;
  }
  for (size_t i = 0; i < ndefs; i++) {
    const char *nm = def_names[i];
    bool ok = nm && *nm && strlen(nm) <= OC_TEXTPARSE_MAX_NAME && def_patterns[i] &&
              strlen(def_patterns[i]) <= OC_TEXTPARSE_MAX_PATTERN && !(*nm >= '0' && *nm <= '9');
    for (const char *c = nm; ok && *c; c++)
      ok = is_word(*c);
    if (!ok) {
      oc_tp_fail(errstr, errstr_size, "bad pattern definition \"%.64s\"", nm ? nm : "");
      goto err;
    }
  }
  for (size_t i = 0; i < nmatch; i++) {
    oc_buf_puts(&joined, match[i] ? match[i] : "");
    if (joined.len > OC_TEXTPARSE_MAX_PATTERN) {
      oc_tp_fail(errstr, errstr_size, "regex pattern is longer than %d bytes",
                 OC_TEXTPARSE_MAX_PATTERN);
      goto err;
    }
  }
  if (!oc_buf_ok(&joined)) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  rx_defs_t defs = {def_names, def_patterns, ndefs};
  if (!expand(&b, &defs, joined.data ? joined.data : "", joined.len, 0, errstr, errstr_size))
    goto err;
  if (!(p = calloc(1, sizeof(*p)))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  if (!oc_tp_common_init(&p->common, opts, errstr, errstr_size)) goto err;
  oc_buf_putc(&b, '\0');
  if (!oc_buf_ok(&b) || !(p->pattern = strdup(b.data))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  int errcode;
  PCRE2_SIZE erroff;
  p->code = pcre2_compile((PCRE2_SPTR)p->pattern, strlen(p->pattern),
                          PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
  if (!p->code) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(errcode, msg, sizeof(msg));
    oc_tp_fail(errstr, errstr_size, "invalid regex at offset %zu of \"%.80s%s\": %s",
               (size_t)erroff, p->pattern, strlen(p->pattern) > 80 ? "..." : "", (const char *)msg);
    goto err;
  }
  (void)pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
  if (!load_groups(p, errstr, errstr_size)) goto err;
  const char **names = calloc(p->ngroups, sizeof(*names));
  if (!names) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  for (size_t i = 0; i < p->ngroups; i++)
    names[i] = p->groups[i].name;
  bool bound = oc_tp_common_bind(&p->common, names, p->ngroups, true, errstr, errstr_size);
  free(names);
  if (!bound) goto err;
  if (!(p->mctx = pcre2_match_context_create(NULL))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  pcre2_set_match_limit(p->mctx, RX_MATCH_LIMIT);
  pcre2_jit_stack_assign(p->mctx, rx_jit_stack, NULL);
  oc_buf_deinit(&joined);
  oc_buf_deinit(&b);
  return p;
err:
  oc_buf_deinit(&joined);
  oc_buf_deinit(&b);
  oc_regexparse_destroy(p);
  return NULL;
}

void oc_regexparse_destroy(oc_regexparse_t *p) {
  if (!p) return;
  pcre2_code_free(p->code);
  pcre2_match_context_free(p->mctx);
  for (size_t i = 0; i < p->ngroups; i++)
    free(p->groups[i].name);
  free(p->groups);
  free(p->pattern);
  oc_tp_common_deinit(&p->common);
  free(p);
}

const char *oc_regexparse_pattern(const oc_regexparse_t *p) {
  return p->pattern;
}

/* A copy of line in a with each byte of an invalid UTF-8 sequence replaced by U+FFFD, as
 * RE2 (Panther's engine) sees such bytes; valid is the length of the valid prefix. */
static const char *repair_utf8(oc_arena_t *a, const char *line, size_t len, size_t valid,
                               size_t *out_len) {
  if (len > (SIZE_MAX - 1) / 3) return NULL;
  char *buf = oc_arena_alloc(a, 3 * len + 1), *o = buf;
  if (!buf) return NULL;
  size_t i = 0;
  while (i < len) {
    memcpy(o, line + i, valid);
    o += valid;
    i += valid;
    if (i == len) break;
    memcpy(o, "\xEF\xBF\xBD", 3);
    o += 3;
    i++;
    valid = oc_utf8_valid_prefix(line + i, len - i);
  }
  *out_len = (size_t)(o - buf);
  return buf;
}

oc_err_t oc_regexparse_line(const oc_regexparse_t *p, oc_arena_t *a, const char *line, size_t len,
                            oc_json_t **out, char *errstr, size_t errstr_size) {
  *out = NULL;
  if (!line) line = "";
  rx_thread_t *t = rx_thread(p->pairs);
  if (!t) return OC_ERR_NOMEM;
  size_t valid = oc_utf8_valid_prefix(line, len);
  if (valid < len) { /* match a repaired copy; values then point into it */
    if (!(line = repair_utf8(a, line, len, valid, &len))) return OC_ERR_NOMEM;
  }
  /* oc_utf8_valid_prefix is as strict as PCRE2 (no overlongs, surrogates or > U+10FFFF), so
   * PCRE2 need not check again */
  int rc = pcre2_match(p->code, (PCRE2_SPTR)line, len, 0, PCRE2_NO_UTF_CHECK, t->md, p->mctx);
  if (rc < 0) {
    switch (rc) {
      case PCRE2_ERROR_NOMATCH:
        oc_tp_fail(errstr, errstr_size, "line does not match the regex");
        return OC_ERR_INVALID;
      case PCRE2_ERROR_MATCHLIMIT:
      case PCRE2_ERROR_DEPTHLIMIT:
      case PCRE2_ERROR_HEAPLIMIT:
      case PCRE2_ERROR_JIT_STACKLIMIT:
        oc_tp_fail(errstr, errstr_size, "matching the regex exceeded its backtracking limit");
        return OC_ERR_LIMIT;
      case PCRE2_ERROR_NOMEMORY:
        return OC_ERR_NOMEM;
      default: {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        oc_tp_fail(errstr, errstr_size, "regex match failed: %s", (const char *)msg);
        return OC_ERR_INVALID;
      }
    }
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
  oc_tp_row_t row;
  oc_err_t err = oc_tp_row_begin(&row, &p->common, a, p->ngroups);
  for (size_t i = 0; !err && i < p->ngroups; i++) {
    const rx_group_t *g = &p->groups[i];
    if (g->num >= (uint32_t)rc) continue; /* groups past rc - 1 did not take part */
    PCRE2_SIZE s = ov[2 * g->num], e = ov[2 * g->num + 1];
    if (s == PCRE2_UNSET || e == PCRE2_UNSET || e < s || e > len) continue; /* \K oddities */
    err = oc_tp_row_add(&row, &p->common, a, i, g->name, g->name_len, line + s, e - s);
  }
  if (!err) err = oc_tp_row_finish(&row, &p->common, a);
  if (err) return err;
  *out = row.obj;
  return OC_OK;
}
