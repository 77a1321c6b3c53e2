/* classify.c: per-line parsing and classification among a source's log types (see
 * classify.h). */
#include "services/log-processor/classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/log-processor/csvparse.h"
#include "services/log-processor/fastmatch.h"
#include "services/log-processor/regexparse.h"
#include "services/log-processor/syslog.h"

#define OC_CLS_MAX_PARSERS 256 /* compiled text parsers kept per classifier */
#define OC_CLS_MAX_PENALTY 1000

/* A compiled parser for one schema, kept across streams. */
typedef struct oc_cls_parser {
  const oc_schema_t *schema;
  oc_csvparse_t *csv;
  oc_fastmatch_t *fm;
  oc_regexparse_t *re;
} oc_cls_parser_t;

typedef struct oc_cls_cand {
  const oc_logtype_t *type;
  oc_cls_parser_t *parser; /* NULL for json and native */
  unsigned penalty;
  size_t nrequired;
  size_t index; /* in the source's list */
} oc_cls_cand_t;

struct oc_classifier {
  int max_depth;
  oc_cls_parser_t parsers[OC_CLS_MAX_PARSERS];
  size_t nparsers;
  oc_cls_cand_t cands[OC_CLASSIFY_MAX_TYPES];
  size_t ncands, njson;
  oc_patches_t patches;
};

oc_classifier_t *oc_classifier_new(int max_depth, char *errstr, size_t errstr_size) {
  oc_classifier_t *c = calloc(1, sizeof(*c));
  if (!c) {
    snprintf(errstr, errstr_size, "could not create a classifier: out of memory");
    return NULL;
  }
  c->max_depth = max_depth;
  return c;
}

void oc_classifier_forget(oc_classifier_t *c) {
  for (size_t i = 0; i < c->nparsers; i++) {
    oc_csvparse_destroy(c->parsers[i].csv);
    oc_fastmatch_destroy(c->parsers[i].fm);
    oc_regexparse_destroy(c->parsers[i].re);
  }
  memset(c->parsers, 0, sizeof(c->parsers));
  c->nparsers = 0;
  c->ncands = 0;
}

void oc_classifier_destroy(oc_classifier_t *c) {
  if (!c) return;
  oc_classifier_forget(c);
  oc_patches_deinit(&c->patches);
  free(c);
}

static oc_cls_parser_t *oc_cls_parser_get(oc_classifier_t *c, const oc_schema_t *s, char *errstr,
                                          size_t errstr_size) {
  const oc_schema_parser_t *p = &s->parser;
  for (size_t i = 0; i < c->nparsers; i++)
    if (c->parsers[i].schema == s) return &c->parsers[i];
  if (c->nparsers == OC_CLS_MAX_PARSERS) { /* begin() makes room first */
    snprintf(errstr, errstr_size, "%s: too many compiled parsers", s->name);
    return NULL;
  }
  oc_cls_parser_t *cp = &c->parsers[c->nparsers];
  oc_textparse_opts_t opts = {.empty_values = (const char *const *)p->empty_values,
                              .nempty = p->nempty,
                              .trim_space = p->trim_space};
  memset(cp, 0, sizeof(*cp));
  cp->schema = s;
  switch (p->kind) {
    case OC_PARSER_CSV:
      cp->csv = oc_csvparse_new(p->delimiter, p->has_header, (const char *const *)p->columns,
                                p->ncolumns, &opts, errstr, errstr_size);
      if (!cp->csv) return NULL;
      break;
    case OC_PARSER_FASTMATCH:
      cp->fm =
          oc_fastmatch_new((const char *const *)p->match, p->nmatch, &opts, errstr, errstr_size);
      if (!cp->fm) return NULL;
      break;
    case OC_PARSER_REGEX: {
      const char *names[256], *pats[256];
      for (size_t i = 0; i < p->ndefs && i < 256; i++) {
        names[i] = p->defs[2 * i];
        pats[i] = p->defs[2 * i + 1];
      }
      cp->re = oc_regexparse_new((const char *const *)p->match, p->nmatch, names, pats, p->ndefs,
                                 &opts, errstr, errstr_size);
      if (!cp->re) return NULL;
      break;
    }
    default:
      break;
  }
  c->nparsers++;
  return cp;
}

static int oc_cls_cand_cmp(const oc_cls_cand_t *a, const oc_cls_cand_t *b) {
  if (a->penalty != b->penalty) return a->penalty < b->penalty ? -1 : 1;
  if (a->nrequired != b->nrequired) return a->nrequired > b->nrequired ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static void oc_cls_sort(oc_classifier_t *c) {
  for (size_t i = 1; i < c->ncands; i++) {
    oc_cls_cand_t x = c->cands[i];
    size_t j = i;
    while (j > 0 && oc_cls_cand_cmp(&x, &c->cands[j - 1]) < 0) {
      c->cands[j] = c->cands[j - 1];
      j--;
    }
    c->cands[j] = x;
  }
}

static size_t oc_cls_count_required(const oc_sfield_t *f) {
  size_t n = 0;
  for (size_t i = 0; i < f->nfields; i++) {
    if (f->fields[i].required) n++;
    if (f->fields[i].type == OC_FT_OBJECT && f->fields[i].required)
      n += oc_cls_count_required(&f->fields[i]);
  }
  return n;
}

oc_err_t oc_classifier_begin(oc_classifier_t *c, const oc_logtype_t *const *types, size_t n,
                             char *errstr, size_t errstr_size) {
  c->ncands = 0;
  c->njson = 0;
  if (errstr_size) errstr[0] = '\0';
  /* Room for every parser this stream may need, so none is dropped while in use. */
  if (c->nparsers + (n < OC_CLASSIFY_MAX_TYPES ? n : OC_CLASSIFY_MAX_TYPES) > OC_CLS_MAX_PARSERS)
    oc_classifier_forget(c);
  for (size_t i = 0; i < n && c->ncands < OC_CLASSIFY_MAX_TYPES; i++) {
    if (!types[i]) continue;
    const oc_schema_t *s = types[i]->schema;
    oc_cls_cand_t *cd = &c->cands[c->ncands];
    cd->type = types[i];
    cd->parser = NULL;
    cd->penalty = 0;
    cd->nrequired = oc_cls_count_required(&s->root);
    cd->index = i;
    if (s->parser.kind == OC_PARSER_CSV || s->parser.kind == OC_PARSER_FASTMATCH ||
        s->parser.kind == OC_PARSER_REGEX) {
      cd->parser = oc_cls_parser_get(c, s, errstr, errstr_size);
      if (!cd->parser) continue; /* reason left in errstr */
      if (cd->parser->csv) oc_csvparse_reset(cd->parser->csv);
    }
    if (s->parser.kind == OC_PARSER_JSON) c->njson++;
    c->ncands++;
  }
  oc_cls_sort(c);
  return c->ncands ? OC_OK : OC_ERR_INVALID;
}

/* Nesting depth of a JSON text beyond max? Used only to name a parse failure. */
static bool oc_cls_too_deep(const char *s, size_t n, int max) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (ch == '\\')
        esc = true;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == '{' || ch == '[') {
      if (++depth > max) return true;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return false;
}

typedef struct {
  bool tried, ok;
  oc_json_t *ev;
  oc_cls_result_t why; /* when !ok */
  char err[256];
} oc_cls_json_t;

static void oc_cls_json(oc_classifier_t *c, oc_arena_t *a, const char *line, size_t len,
                        oc_cls_json_t *j) {
  j->tried = true;
  j->ev = oc_json_parse(a, line, len, c->max_depth, j->err, sizeof(j->err));
  if (!j->ev) {
    if (strstr(j->err, "out of memory"))
      j->why = OC_CLS_NOMEM;
    else if (oc_utf8_valid_prefix(line, len) != len)
      j->why = OC_CLS_INVALID_UTF8;
    else if (oc_cls_too_deep(line, len, c->max_depth))
      j->why = OC_CLS_MAX_DEPTH;
    else
      j->why = OC_CLS_INVALID_JSON;
    return;
  }
  if (j->ev->type != OC_JSON_OBJECT) {
    snprintf(j->err, sizeof(j->err), "the line is not a JSON object");
    j->why = OC_CLS_NOT_OBJECT;
    return;
  }
  j->ok = true;
}

oc_cls_result_t oc_classifier_line(oc_classifier_t *c, oc_arena_t *a, const char *line, size_t len,
                                   bool json_only, int64_t ref_us, oc_indset_t *ind,
                                   oc_cls_out_t *out) {
  oc_cls_json_t j = {0};
  oc_cls_result_t first_why = OC_CLS_NO_TYPE;
  const oc_logtype_t *first_type = NULL;
  size_t tried = 0, tried_text = 0;
  int utf8 = -1; /* unknown */
  bool penalized = false;
  out->ev = NULL;
  out->type = NULL;
  out->event_time_us = ref_us;
  out->patches = NULL;
  out->error[0] = '\0';

  for (size_t i = 0; i < c->ncands; i++) {
    oc_cls_cand_t *cd = &c->cands[i];
    const oc_schema_t *s = cd->type->schema;
    oc_json_t *ev = NULL;
    oc_cls_result_t why = OC_CLS_NO_TYPE;
    char err[512];
    err[0] = '\0';
    if (json_only && s->parser.kind != OC_PARSER_JSON) continue;
    tried++;
    if (s->parser.kind != OC_PARSER_JSON) tried_text++;
    if (s->parser.kind == OC_PARSER_JSON) {
      if (!j.tried) oc_cls_json(c, a, line, len, &j);
      if (j.why == OC_CLS_NOMEM) return OC_CLS_NOMEM;
      if (!j.ok) {
        why = j.why;
        snprintf(err, sizeof(err), "%s", j.err);
      } else {
        ev = j.ev;
      }
    } else {
      oc_err_t perr = OC_OK;
      if (utf8 < 0) utf8 = oc_utf8_valid_prefix(line, len) == len;
      if (!utf8) {
        why = OC_CLS_INVALID_UTF8;
        snprintf(err, sizeof(err), "the line is not valid UTF-8 (at byte %zu)",
                 oc_utf8_valid_prefix(line, len));
      } else if (s->parser.kind == OC_PARSER_NATIVE) {
        if (strcmp(s->parser.native, "Syslog.RFC5424") == 0)
          ev = oc_syslog_parse_rfc5424(a, line, len, err, sizeof(err));
        else
          ev = oc_syslog_parse_rfc3164(a, line, len, ref_us, err, sizeof(err));
      } else if (cd->parser->csv) {
        perr = oc_csvparse_line(cd->parser->csv, a, line, len, &ev, err, sizeof(err));
      } else if (cd->parser->fm) {
        perr = oc_fastmatch_line(cd->parser->fm, a, line, len, &ev, err, sizeof(err));
      } else if (cd->parser->re) {
        perr = oc_regexparse_line(cd->parser->re, a, line, len, &ev, err, sizeof(err));
      }
      if (perr == OC_TEXTPARSE_SKIP) {
        cd->penalty = 0;
        return OC_CLS_SKIP;
      }
      if (perr == OC_ERR_NOMEM) return OC_CLS_NOMEM;
      if (perr != OC_OK) ev = NULL;
    }
    if (ev) {
      /* A JSON tree shared by several candidates is only checked until one accepts. */
      bool shared = s->parser.kind == OC_PARSER_JSON && c->njson > 1;
      int64_t et = ref_us;
      oc_sa_result_t r = OC_SA_OK;
      if (shared) r = oc_schema_apply(s, a, ev, true, NULL, ref_us, &et, err, sizeof(err));
      bool json = s->parser.kind == OC_PARSER_JSON;
      if (r == OC_SA_OK) {
        if (ind) oc_indset_reset(ind);
        if (json) oc_patches_begin(&c->patches, line, len);
        r = oc_schema_apply_patched(s, a, ev, false, ind, ref_us, &et, json ? &c->patches : NULL,
                                    err, sizeof(err));
      }
      if (r == OC_SA_OK) {
        out->ev = ev;
        out->patches = json && !c->patches.broken ? &c->patches : NULL;
        out->type = cd->type;
        out->event_time_us = et;
        if (cd->penalty || penalized) {
          cd->penalty = 0;
          oc_cls_sort(c);
        }
        return OC_CLS_OK;
      }
      why = r == OC_SA_TIME         ? OC_CLS_BAD_TIME
            : r == OC_SA_NOT_OBJECT ? OC_CLS_NOT_OBJECT
                                    : OC_CLS_NO_TYPE;
    }
    if (cd->penalty < OC_CLS_MAX_PENALTY) cd->penalty++;
    penalized = true;
    if (!first_type) {
      first_type = cd->type;
      first_why = why;
    }
    /* every candidate's reason, as far as they fit: "T.A: why; T.B: why" */
    size_t used = strlen(out->error);
    const char *why_text = err[0] ? err : "the line does not parse";
    bool named = strncmp(why_text, s->name, strlen(s->name)) == 0; /* schema errors are */
    if (used + 4 < sizeof(out->error))
      snprintf(out->error + used, sizeof(out->error) - used, "%s%s%s%s", used ? "; " : "",
               named ? "" : s->name, named ? "" : ": ", why_text);
  }
  if (penalized) oc_cls_sort(c);
  out->type = first_type;
  if (tried > 1) {
    char tmp[sizeof(out->error)];
    int k = snprintf(tmp, sizeof(tmp), "none of %zu log types accepted the line; ", tried);
    snprintf(tmp + k, sizeof(tmp) - (size_t)k, "%.*s", (int)(sizeof(tmp) - (size_t)k - 1),
             out->error);
    memcpy(out->error, tmp, sizeof(tmp));
    /* "not JSON" is no verdict on a line that text parsers also refused */
    if (tried_text && (first_why == OC_CLS_INVALID_JSON || first_why == OC_CLS_NOT_OBJECT ||
                       first_why == OC_CLS_MAX_DEPTH))
      first_why = OC_CLS_NO_TYPE;
  }
  if (!tried) {
    snprintf(out->error, sizeof(out->error), "no JSON log type for a {\"Records\":[...]} file");
    return OC_CLS_NO_TYPE;
  }
  return first_why;
}
