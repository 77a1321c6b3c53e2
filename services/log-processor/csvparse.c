/* csvparse.c: the csv parser of log-type schemas (see csvparse.h). One pass per line:
 * memchr to the next delimiter or quote, values point into the line unless "" had to be
 * unescaped. Names taken from a header are copied into the caller's arena with each row,
 * so a tree never points into header storage that the next stream replaces. */
#include "services/log-processor/csvparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { HDR_WANT = 0, HDR_DONE, HDR_BAD } hdr_state_t;

typedef struct span {
  const char *v;
  size_t len;
} span_t;

struct oc_csvparse {
  char delim;
  bool has_header;
  oc_tp_common_t common;
  char **cols; /* configured columns */
  uint32_t *col_len;
  size_t ncols;
  hdr_state_t hstate;
  char *hdr_line; /* the raw header line, to skip repeats of it */
  size_t hdr_len;
  char *hnames; /* names from the header, NUL-separated */
  size_t hnames_len;
  uint32_t *hoff, *hlen;
  size_t nhcols;
  char hdr_err[160];
};

static bool valid_name(const char *s, size_t len, char *errstr, size_t errstr_size) {
  if (len == 0) {
    oc_tp_fail(errstr, errstr_size, "empty column name");
    return false;
  }
  if (len > OC_TEXTPARSE_MAX_NAME) {
    oc_tp_fail(errstr, errstr_size, "column name \"%.40s...\" is longer than %d bytes", s,
               OC_TEXTPARSE_MAX_NAME);
    return false;
  }
  return true;
}

oc_csvparse_t *oc_csvparse_new(char delimiter, bool has_header, const char *const *columns,
                               size_t ncolumns, const oc_textparse_opts_t *opts, char *errstr,
                               size_t errstr_size) {
  oc_csvparse_t *p = NULL;
  if (delimiter == '"' || delimiter == '\r' || delimiter == '\n' || delimiter == '\0') {
    oc_tp_fail(errstr, errstr_size, "invalid csv delimiter 0x%02x", (unsigned char)delimiter);
    return NULL;
  }
  if (!has_header && ncolumns == 0) {
    oc_tp_fail(errstr, errstr_size, "csv parser needs columns when there is no header");
    return NULL;
  }
  if (ncolumns > OC_TEXTPARSE_MAX_FIELDS) {
    oc_tp_fail(errstr, errstr_size, "csv parser has %zu columns, more than the limit of %d",
               ncolumns, OC_TEXTPARSE_MAX_FIELDS);
    return NULL;
  }
  if (!(p = calloc(1, sizeof(*p)))) goto nomem;
  p->delim = delimiter;
  p->has_header = has_header;
  if (!oc_tp_common_init(&p->common, opts, errstr, errstr_size)) goto err;
  if (ncolumns) {
    p->cols = calloc(ncolumns, sizeof(*p->cols));
    p->col_len = calloc(ncolumns, sizeof(*p->col_len));
    if (!p->cols || !p->col_len) goto nomem;
    for (size_t i = 0; i < ncolumns; i++) {
      const char *c = columns[i] ? columns[i] : "";
      size_t len = strlen(c);
      if (!valid_name(c, len, errstr, errstr_size)) goto err;
      for (size_t j = 0; j < i; j++)
        if (strcmp(p->cols[j], c) == 0) {
          oc_tp_fail(errstr, errstr_size, "column \"%s\" appears twice", c);
          goto err;
        }
      if (!(p->cols[i] = strdup(c))) goto nomem;
      p->col_len[i] = (uint32_t)len;
      p->ncols++;
    }
    if (!oc_tp_common_bind(&p->common, (const char *const *)p->cols, p->ncols, true, errstr,
                           errstr_size))
      goto err;
  }
  return p;
nomem:
  oc_tp_fail(errstr, errstr_size, "out of memory");
err:
  oc_csvparse_destroy(p);
  return NULL;
}

void oc_csvparse_reset(oc_csvparse_t *p) {
  p->hstate = HDR_WANT;
}

static void free_header(oc_csvparse_t *p) {
  free(p->hdr_line);
  free(p->hnames);
  free(p->hoff);
  free(p->hlen);
  p->hdr_line = p->hnames = NULL;
  p->hoff = p->hlen = NULL;
  p->hdr_len = p->hnames_len = p->nhcols = 0;
}

void oc_csvparse_destroy(oc_csvparse_t *p) {
  if (!p) return;
  free_header(p);
  for (size_t i = 0; i < p->ncols; i++)
    free(p->cols[i]);
  free(p->cols);
  free(p->col_len);
  oc_tp_common_deinit(&p->common);
  free(p);
}

/* Reads the field that starts at *pos; leaves *pos at the delimiter after it or at len. */
static oc_err_t read_field(const oc_csvparse_t *p, oc_arena_t *a, const char *line, size_t len,
                           size_t *pos, span_t *out, char *errstr, size_t errstr_size) {
  const char d = p->delim;
  size_t i = *pos, j = i;
  if (p->common.trim)
    while (j < len && line[j] != d && oc_tp_isspace(line[j]))
      j++;
  if (j < len && line[j] == '"') {
    size_t start = j + 1, k = start, blen = 0;
    char *buf = NULL;
    for (;;) {
      const char *q = k < len ? memchr(line + k, '"', len - k) : NULL;
      if (!q) {
        oc_tp_fail(errstr, errstr_size, "unterminated quoted field starting at byte %zu", j);
        return OC_ERR_INVALID;
      }
      size_t qi = (size_t)(q - line);
      if (qi + 1 < len && line[qi + 1] == '"') { /* "" is one quote */
        if (!buf && !(buf = oc_arena_alloc(a, len - start))) return OC_ERR_NOMEM;
        memcpy(buf + blen, line + k, qi + 1 - k);
        blen += qi + 1 - k;
        k = qi + 2;
        continue;
      }
      if (buf) {
        memcpy(buf + blen, line + k, qi - k);
        blen += qi - k;
        *out = (span_t){buf, blen};
      } else {
        *out = (span_t){line + start, qi - start};
      }
      k = qi + 1;
      break;
    }
    if (p->common.trim)
      while (k < len && line[k] != d && oc_tp_isspace(line[k]))
        k++;
    if (k < len && line[k] != d) {
      oc_tp_fail(errstr, errstr_size, "unexpected character after the closing quote at byte %zu",
                 k);
      return OC_ERR_INVALID;
    }
    *pos = k;
    return OC_OK;
  }
  /* one byte loop for both the delimiter and a stray quote: fields are short, and two
   * memchr calls per field cost more than this */
  size_t e = i;
  while (e < len && line[e] != d && line[e] != '"')
    e++;
  if (e < len && line[e] == '"') {
    oc_tp_fail(errstr, errstr_size, "bare quote in unquoted field at byte %zu", e);
    return OC_ERR_INVALID;
  }
  *out = (span_t){line + i, e - i};
  *pos = e;
  return OC_OK;
}

/* Takes the first line of a stream: remembers it and, without configured columns, its
 * names. A bad header leaves the stream in HDR_BAD: its data lines cannot be named. */
static oc_err_t take_header(oc_csvparse_t *p, oc_arena_t *a, const char *line, size_t len,
                            char *errstr, size_t errstr_size) {
  oc_err_t err = OC_ERR_INVALID;
  span_t *f = NULL;
  size_t n = 0, pos = 0, total = 0;
  free_header(p);
  p->hstate = HDR_BAD;
  p->hdr_err[0] = '\0';
  if (!(p->hdr_line = malloc(len ? len : 1))) goto nomem;
  memcpy(p->hdr_line, line, len);
  p->hdr_len = len;
  if (p->ncols) { /* configured columns: the header is only skipped */
    p->hstate = HDR_DONE;
    return OC_TEXTPARSE_SKIP;
  }
  if (!(f = oc_arena_alloc(a, OC_TEXTPARSE_MAX_FIELDS * sizeof(*f)))) goto nomem;
  for (;;) {
    if (n == OC_TEXTPARSE_MAX_FIELDS) {
      snprintf(p->hdr_err, sizeof(p->hdr_err), "csv header has more than %d columns",
               OC_TEXTPARSE_MAX_FIELDS);
      err = OC_ERR_LIMIT;
      goto out;
    }
    if ((err = read_field(p, a, line, len, &pos, &f[n], p->hdr_err, sizeof(p->hdr_err)))) goto out;
    /* names are always trimmed: "srcaddr " is never meant */
    while (f[n].len && oc_tp_isspace(*f[n].v)) {
      f[n].v++;
      f[n].len--;
    }
    while (f[n].len && oc_tp_isspace(f[n].v[f[n].len - 1]))
      f[n].len--;
    if (!valid_name(f[n].v, f[n].len, p->hdr_err, sizeof(p->hdr_err))) {
      err = OC_ERR_INVALID;
      goto out;
    }
    for (size_t k = 0; k < n; k++)
      if (f[k].len == f[n].len && memcmp(f[k].v, f[n].v, f[n].len) == 0) {
        snprintf(p->hdr_err, sizeof(p->hdr_err), "csv header names column \"%.*s\" twice",
                 (int)f[n].len, f[n].v);
        err = OC_ERR_INVALID;
        goto out;
      }
    total += f[n].len + 1;
    n++;
    if (pos == len) break;
    pos++; /* the delimiter */
  }
  p->hnames = malloc(total);
  p->hoff = malloc(n * sizeof(*p->hoff));
  p->hlen = malloc(n * sizeof(*p->hlen));
  const char **names = oc_arena_alloc(a, n * sizeof(*names));
  if (!p->hnames || !p->hoff || !p->hlen || !names) goto nomem;
  size_t off = 0;
  for (size_t k = 0; k < n; k++) {
    memcpy(p->hnames + off, f[k].v, f[k].len);
    p->hnames[off + f[k].len] = '\0';
    p->hoff[k] = (uint32_t)off;
    p->hlen[k] = (uint32_t)f[k].len;
    names[k] = p->hnames + off;
    off += f[k].len + 1;
  }
  p->hnames_len = total;
  p->nhcols = n;
  /* a template may name a column this stream lacks: it expands to nothing */
  oc_tp_common_bind(&p->common, names, n, false, NULL, 0);
  p->hstate = HDR_DONE;
  return OC_TEXTPARSE_SKIP;
nomem:
  snprintf(p->hdr_err, sizeof(p->hdr_err), "out of memory");
  err = OC_ERR_NOMEM;
out:
  oc_tp_fail(errstr, errstr_size, "%s", p->hdr_err);
  return err;
}

oc_err_t oc_csvparse_line(oc_csvparse_t *p, oc_arena_t *a, const char *line, size_t len,
                          oc_json_t **out, char *errstr, size_t errstr_size) {
  *out = NULL;
  if (!line) line = "";
  if (len == 0) return OC_TEXTPARSE_SKIP;
  if (len > UINT32_MAX) {
    oc_tp_fail(errstr, errstr_size, "line of %zu bytes is too long", len);
    return OC_ERR_LIMIT;
  }
  if (p->has_header) {
    if (p->hstate == HDR_WANT) return take_header(p, a, line, len, errstr, errstr_size);
    if (p->hdr_line && len == p->hdr_len && memcmp(line, p->hdr_line, len) == 0)
      return OC_TEXTPARSE_SKIP;
    if (p->hstate == HDR_BAD) {
      oc_tp_fail(errstr, errstr_size, "no usable csv header in this stream: %s", p->hdr_err);
      return OC_ERR_INVALID;
    }
  }
  const bool named = p->ncols > 0; /* else the header's names */
  const size_t ncols = named ? p->ncols : p->nhcols;
  const char *kbase = NULL;
  if (!named) {
    char *k = oc_arena_alloc(a, p->hnames_len);
    if (!k) return OC_ERR_NOMEM;
    memcpy(k, p->hnames, p->hnames_len);
    kbase = k;
  }
  oc_tp_row_t row;
  oc_err_t err = oc_tp_row_begin(&row, &p->common, a, ncols);
  if (err) return err;
  size_t n = 0, pos = 0;
  for (;;) {
    span_t f;
    if ((err = read_field(p, a, line, len, &pos, &f, errstr, errstr_size))) return err;
    if (n < ncols) {
      err = named
                ? oc_tp_row_add(&row, &p->common, a, n, p->cols[n], p->col_len[n], f.v, f.len)
                : oc_tp_row_add(&row, &p->common, a, n, kbase + p->hoff[n], p->hlen[n], f.v, f.len);
      if (err) return err;
    }
    n++;
    if (pos == len) break;
    if (n == OC_TEXTPARSE_MAX_FIELDS) {
      oc_tp_fail(errstr, errstr_size, "line has more than %d columns, expected %zu",
                 OC_TEXTPARSE_MAX_FIELDS, ncols);
      return OC_ERR_LIMIT;
    }
    pos++; /* the delimiter */
  }
  if (n != ncols) {
    oc_tp_fail(errstr, errstr_size, "line has %zu columns, expected %zu", n, ncols);
    return OC_ERR_INVALID;
  }
  if ((err = oc_tp_row_finish(&row, &p->common, a))) return err;
  *out = row.obj;
  return OC_OK;
}
