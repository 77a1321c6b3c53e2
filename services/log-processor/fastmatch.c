/* fastmatch.c: the fastmatch parser of log-type schemas (see fastmatch.h). A pattern is
 * compiled into a prefix and a list of (field, literal that follows) pairs; matching is a
 * memchr/memmem per field, left to right, never backtracking. */
#include "services/log-processor/fastmatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fm_field {
  const char *name; /* NULL: captured and discarded */
  uint32_t name_len;
  int slot;
  const char *lit; /* literal text after the field; empty only for the last field */
  uint32_t lit_len;
  bool quoted; /* starts after '"' and lit starts with '"': ends at an unescaped '"' */
} fm_field_t;

typedef struct fm_pattern {
  char *text; /* owns the names and literals */
  const char *prefix;
  uint32_t prefix_len;
  fm_field_t *fields;
  size_t nfields;
} fm_pattern_t;

struct oc_fastmatch {
  fm_pattern_t *pats;
  size_t npats;
  char **names; /* the fields of all alternatives, by slot */
  size_t nnames;
  size_t max_fields;
  oc_tp_common_t common;
};

typedef struct span {
  const char *v;
  size_t len;
} span_t;

/* The slot of a field name, adding it to the union of names when new; -1 on OOM. */
static int slot_of(oc_fastmatch_t *p, const char *name, size_t len) {
  for (size_t i = 0; i < p->nnames; i++)
    if (strlen(p->names[i]) == len && memcmp(p->names[i], name, len) == 0) return (int)i;
  char **names = realloc(p->names, (p->nnames + 1) * sizeof(*names));
  if (!names) return -1;
  p->names = names;
  if (!(p->names[p->nnames] = strndup(name, len))) return -1;
  return (int)p->nnames++;
}

static bool compile_pattern(oc_fastmatch_t *p, fm_pattern_t *pt, size_t idx, const char *src,
                            char *errstr, size_t errstr_size) {
  size_t n = strlen(src), cap = 0;
  if (n > OC_TEXTPARSE_MAX_PATTERN) {
    oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu is longer than %d bytes", idx + 1,
               OC_TEXTPARSE_MAX_PATTERN);
    return false;
  }
  for (size_t i = 0; i + 1 < n; i++)
    if (src[i] == '%' && src[i + 1] == '{') cap++;
  if (cap > OC_TEXTPARSE_MAX_FIELDS) {
    oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu has more than %d fields", idx + 1,
               OC_TEXTPARSE_MAX_FIELDS);
    return false;
  }
  if (!(pt->text = strdup(src)) || !(pt->fields = calloc(cap ? cap : 1, sizeof(*pt->fields)))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    return false;
  }
  const char *s = pt->text;
  size_t i = 0, lit = 0;
  while (i < n) {
    if (!(s[i] == '%' && i + 1 < n && s[i + 1] == '{')) {
      i++;
      continue;
    }
    const char *end = memchr(s + i + 2, '}', n - i - 2);
    if (!end) {
      oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu: unterminated %%{ at byte %zu",
                 idx + 1, i);
      return false;
    }
    const char *name = s + i + 2;
    size_t nlen = (size_t)(end - name);
    if (nlen > OC_TEXTPARSE_MAX_NAME) {
      oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu: field name at byte %zu is too long",
                 idx + 1, i);
      return false;
    }
    if (pt->nfields == 0) {
      pt->prefix = s;
      pt->prefix_len = (uint32_t)i;
    } else {
      fm_field_t *prev = &pt->fields[pt->nfields - 1];
      if (i == lit) {
        oc_tp_fail(errstr, errstr_size,
                   "fastmatch pattern %zu: fields at byte %zu have no literal text between them",
                   idx + 1, i);
        return false;
      }
      prev->lit = s + lit;
      prev->lit_len = (uint32_t)(i - lit);
    }
    fm_field_t *f = &pt->fields[pt->nfields++];
    f->slot = -1;
    if (nlen && !(nlen == 1 && name[0] == '_')) {
      for (size_t k = 0; k + 1 < pt->nfields; k++)
        if (pt->fields[k].name && pt->fields[k].name_len == nlen &&
            memcmp(pt->fields[k].name, name, nlen) == 0) {
          oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu: field \"%.*s\" appears twice",
                     idx + 1, (int)nlen, name);
          return false;
        }
      f->name = name;
      f->name_len = (uint32_t)nlen;
      if ((f->slot = slot_of(p, name, nlen)) < 0) {
        oc_tp_fail(errstr, errstr_size, "out of memory");
        return false;
      }
    }
    i = (size_t)(end - s) + 1;
    lit = i;
  }
  if (pt->nfields == 0) {
    oc_tp_fail(errstr, errstr_size, "fastmatch pattern %zu has no fields", idx + 1);
    return false;
  }
  fm_field_t *last = &pt->fields[pt->nfields - 1];
  last->lit = s + lit;
  last->lit_len = (uint32_t)(n - lit);
  for (size_t k = 0; k < pt->nfields; k++) {
    const char *before = k ? pt->fields[k - 1].lit : pt->prefix;
    uint32_t blen = k ? pt->fields[k - 1].lit_len : pt->prefix_len;
    fm_field_t *f = &pt->fields[k];
    f->quoted = blen && before[blen - 1] == '"' && f->lit_len && f->lit[0] == '"';
  }
  return true;
}

oc_fastmatch_t *oc_fastmatch_new(const char *const *patterns, size_t npatterns,
                                 const oc_textparse_opts_t *opts, char *errstr,
                                 size_t errstr_size) {
  oc_fastmatch_t *p = NULL;
  if (npatterns == 0 || npatterns > OC_TEXTPARSE_MAX_PATTERNS) {
    oc_tp_fail(errstr, errstr_size, "fastmatch parser needs 1 to %d patterns, got %zu",
               OC_TEXTPARSE_MAX_PATTERNS, npatterns);
    return NULL;
  }
  if (!(p = calloc(1, sizeof(*p))) || !(p->pats = calloc(npatterns, sizeof(*p->pats)))) {
    oc_tp_fail(errstr, errstr_size, "out of memory");
    goto err;
  }
  if (!oc_tp_common_init(&p->common, opts, errstr, errstr_size)) goto err;
  for (size_t i = 0; i < npatterns; i++) {
    p->npats++;
    if (!compile_pattern(p, &p->pats[i], i, patterns[i] ? patterns[i] : "", errstr, errstr_size))
      goto err;
    if (p->pats[i].nfields > p->max_fields) p->max_fields = p->pats[i].nfields;
  }
  if (p->nnames > OC_TEXTPARSE_MAX_FIELDS) {
    oc_tp_fail(errstr, errstr_size, "fastmatch patterns name more than %d fields",
               OC_TEXTPARSE_MAX_FIELDS);
    goto err;
  }
  if (!oc_tp_common_bind(&p->common, (const char *const *)p->names, p->nnames, true, errstr,
                         errstr_size))
    goto err;
  return p;
err:
  oc_fastmatch_destroy(p);
  return NULL;
}

void oc_fastmatch_destroy(oc_fastmatch_t *p) {
  if (!p) return;
  for (size_t i = 0; i < p->npats; i++) {
    free(p->pats[i].text);
    free(p->pats[i].fields);
  }
  free(p->pats);
  for (size_t i = 0; i < p->nnames; i++)
    free(p->names[i]);
  free(p->names);
  oc_tp_common_deinit(&p->common);
  free(p);
}

/* The first '"' at or after from that is not escaped by an odd run of backslashes. */
static const char *closing_quote(const char *line, size_t from, size_t len) {
  size_t k = from;
  while (k < len) {
    const char *q = memchr(line + k, '"', len - k);
    if (!q) return NULL;
    size_t bs = 0;
    while (q - bs > line + from && q[-1 - (ptrdiff_t)bs] == '\\')
      bs++;
    if (bs % 2 == 0) return q;
    k = (size_t)(q - line) + 1;
  }
  return NULL;
}

/* \" -> " and \\ -> \ ; any other backslash stays. NULL on OOM. */
static const char *unescape(oc_arena_t *a, const char *v, size_t len, size_t *out_len) {
  char *buf = oc_arena_alloc(a, len ? len : 1), *o = buf;
  if (!buf) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (v[i] == '\\' && i + 1 < len && (v[i + 1] == '"' || v[i + 1] == '\\')) i++;
    *o++ = v[i];
  }
  *out_len = (size_t)(o - buf);
  return buf;
}

typedef struct miss {
  size_t at;
  const char *what;
  const char *lit;
  uint32_t lit_len;
} miss_t;

/* Matches one alternative into f[]; false with *m (where and why) when it does not. */
static bool match_one(const fm_pattern_t *pt, oc_arena_t *a, const char *line, size_t len,
                      span_t *f, miss_t *m, bool *nomem) {
  size_t pos = pt->prefix_len;
  if (len < pt->prefix_len || memcmp(line, pt->prefix, pt->prefix_len) != 0) {
    *m = (miss_t){0, "expected", pt->prefix, pt->prefix_len};
    return false;
  }
  for (size_t k = 0; k < pt->nfields; k++) {
    const fm_field_t *fd = &pt->fields[k];
    const bool last = k + 1 == pt->nfields;
    if (fd->lit_len == 0) { /* the last field takes the rest */
      f[k] = (span_t){line + pos, len - pos};
      pos = len;
    } else if (fd->quoted) {
      const char *q = closing_quote(line, pos, len);
      if (!q) {
        *m = (miss_t){pos, "no closing quote for the field starting", NULL, 0};
        return false;
      }
      size_t qi = (size_t)(q - line), vlen = qi - pos;
      if (memchr(line + pos, '\\', vlen)) {
        const char *v = unescape(a, line + pos, vlen, &vlen);
        if (!v) {
          *nomem = true;
          return false;
        }
        f[k] = (span_t){v, vlen};
      } else {
        f[k] = (span_t){line + pos, vlen};
      }
      if (len - qi < fd->lit_len || memcmp(line + qi, fd->lit, fd->lit_len) != 0) {
        *m = (miss_t){qi, "expected", fd->lit, fd->lit_len};
        return false;
      }
      pos = qi + fd->lit_len;
    } else if (last) { /* the pattern ends with literal text: it must end the line */
      if (len - pos < fd->lit_len || memcmp(line + len - fd->lit_len, fd->lit, fd->lit_len) != 0) {
        *m = (miss_t){len, "expected the line to end with", fd->lit, fd->lit_len};
        return false;
      }
      f[k] = (span_t){line + pos, len - fd->lit_len - pos};
      pos = len;
    } else {
      const char *q = fd->lit_len == 1 ? memchr(line + pos, fd->lit[0], len - pos)
                                       : memmem(line + pos, len - pos, fd->lit, fd->lit_len);
      if (!q) {
        *m = (miss_t){pos, "expected somewhere after", fd->lit, fd->lit_len};
        return false;
      }
      f[k] = (span_t){line + pos, (size_t)(q - line) - pos};
      pos = (size_t)(q - line) + fd->lit_len;
    }
  }
  if (pos != len) {
    *m = (miss_t){pos, "unexpected text after the end of the pattern", NULL, 0};
    return false;
  }
  return true;
}

oc_err_t oc_fastmatch_line(const oc_fastmatch_t *p, oc_arena_t *a, const char *line, size_t len,
                           oc_json_t **out, char *errstr, size_t errstr_size) {
  *out = NULL;
  if (!line) line = "";
  if (len > UINT32_MAX) {
    oc_tp_fail(errstr, errstr_size, "line of %zu bytes is too long", len);
    return OC_ERR_LIMIT;
  }
  span_t *f = oc_arena_alloc(a, p->max_fields * sizeof(*f));
  if (!f) return OC_ERR_NOMEM;
  miss_t best = {0, NULL, NULL, 0};
  size_t best_pat = 0;
  for (size_t i = 0; i < p->npats; i++) {
    const fm_pattern_t *pt = &p->pats[i];
    miss_t m;
    bool nomem = false;
    if (!match_one(pt, a, line, len, f, &m, &nomem)) {
      if (nomem) return OC_ERR_NOMEM;
      if (!best.what || m.at > best.at) {
        best = m;
        best_pat = i;
      }
      continue;
    }
    oc_tp_row_t row;
    oc_err_t err = oc_tp_row_begin(&row, &p->common, a, p->nnames);
    for (size_t k = 0; !err && k < pt->nfields; k++) {
      const fm_field_t *fd = &pt->fields[k];
      if (fd->name)
        err = oc_tp_row_add(&row, &p->common, a, (size_t)fd->slot, fd->name, fd->name_len, f[k].v,
                            f[k].len);
    }
    if (!err) err = oc_tp_row_finish(&row, &p->common, a);
    if (err) return err;
    *out = row.obj;
    return OC_OK;
  }
  char alt[48] = "";
  if (p->npats > 1) snprintf(alt, sizeof(alt), " (alternative %zu of %zu)", best_pat + 1, p->npats);
  if (best.lit)
    oc_tp_fail(errstr, errstr_size,
               "line does not match the fastmatch pattern%s: %s \"%.*s%s\" at byte %zu", alt,
               best.what, (int)(best.lit_len > 40 ? 40 : best.lit_len), best.lit,
               best.lit_len > 40 ? "..." : "", best.at);
  else
    oc_tp_fail(errstr, errstr_size, "line does not match the fastmatch pattern%s: %s at byte %zu",
               alt, best.what, best.at);
  return OC_ERR_INVALID;
}
