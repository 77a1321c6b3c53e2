/* textparse.c: the options and row builder shared by the CSV, fastmatch and regex parsers
 * of log-type schemas. */
#include "services/log-processor/textparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *errstr, size_t errstr_size, const char *fmt, const char *a) {
  if (errstr && errstr_size) snprintf(errstr, errstr_size, fmt, a);
}

/* Splits a template into literals and %{name} references. */
static bool parse_template(oc_tp_expand_t *e, char *errstr, size_t errstr_size) {
  const char *s = e->tmpl;
  size_t n = strlen(s), cap = 1;
  for (size_t i = 0; i + 1 < n; i++)
    if (s[i] == '%' && s[i + 1] == '{') cap += 2;
  e->refs = calloc(cap + 1, sizeof(*e->refs));
  if (!e->refs) {
    set_err(errstr, errstr_size, "out of memory%s", "");
    return false;
  }
  size_t i = 0, lit = 0;
  while (i < n) {
    if (s[i] == '%' && i + 1 < n && s[i + 1] == '{') {
      const char *end = memchr(s + i + 2, '}', n - i - 2);
      if (!end) {
        set_err(errstr, errstr_size, "expandFields \"%s\": unterminated %%{ in template", e->name);
        return false;
      }
      size_t nlen = (size_t)(end - (s + i + 2));
      if (nlen == 0 || nlen > OC_TEXTPARSE_MAX_NAME) {
        set_err(errstr, errstr_size, "expandFields \"%s\": empty or over-long field reference",
                e->name);
        return false;
      }
      if (i > lit) e->refs[e->nrefs++] = (oc_tp_ref_t){s + lit, (uint32_t)(i - lit), NULL, -1};
      e->refs[e->nrefs++] = (oc_tp_ref_t){NULL, (uint32_t)nlen, s + i + 2, -1};
      i += 2 + nlen + 1;
      lit = i;
    } else {
      i++;
    }
  }
  if (n > lit) e->refs[e->nrefs++] = (oc_tp_ref_t){s + lit, (uint32_t)(n - lit), NULL, -1};
  return true;
}

bool oc_tp_common_init(oc_tp_common_t *c, const oc_textparse_opts_t *opts, char *errstr,
                       size_t errstr_size) {
  memset(c, 0, sizeof(*c));
  if (!opts) return true;
  c->trim = opts->trim_space;
  if (opts->nempty > OC_TEXTPARSE_MAX_EMPTY) {
    set_err(errstr, errstr_size, "more than %s empty values", "64");
    return false;
  }
  if (opts->nexpand > OC_TEXTPARSE_MAX_EXPAND) {
    set_err(errstr, errstr_size, "more than %s expandFields entries", "64");
    return false;
  }
  if (opts->nempty) {
    c->empty = calloc(opts->nempty, sizeof(*c->empty));
    c->empty_len = calloc(opts->nempty, sizeof(*c->empty_len));
    if (!c->empty || !c->empty_len) goto nomem;
    for (size_t i = 0; i < opts->nempty; i++) {
      const char *v = opts->empty_values[i] ? opts->empty_values[i] : "";
      size_t len = strlen(v);
      if (len > OC_TEXTPARSE_MAX_NAME) {
        set_err(errstr, errstr_size, "empty value \"%.40s...\" is too long", v);
        return false;
      }
      if (!(c->empty[i] = strdup(v))) goto nomem;
      c->empty_len[i] = (uint32_t)len;
      c->nempty++;
    }
  }
  if (opts->nexpand) {
    c->expand = calloc(opts->nexpand, sizeof(*c->expand));
    if (!c->expand) goto nomem;
    for (size_t i = 0; i < opts->nexpand; i++) {
      oc_tp_expand_t *e = &c->expand[i];
      const char *name = opts->expand_names[i], *tmpl = opts->expand_templates[i];
      if (!name || !*name || strlen(name) > OC_TEXTPARSE_MAX_NAME) {
        set_err(errstr, errstr_size, "expandFields: empty or over-long field name%s", "");
        return false;
      }
      if (!tmpl || strlen(tmpl) > OC_TEXTPARSE_MAX_PATTERN) {
        set_err(errstr, errstr_size, "expandFields \"%s\": missing or over-long template", name);
        return false;
      }
      for (size_t j = 0; j < i; j++)
        if (strcmp(c->expand[j].name, name) == 0) {
          set_err(errstr, errstr_size, "expandFields: \"%s\" appears twice", name);
          return false;
        }
      c->nexpand++;
      if (!(e->name = strdup(name)) || !(e->tmpl = strdup(tmpl))) goto nomem;
      if (!parse_template(e, errstr, errstr_size)) return false;
    }
  }
  return true;
nomem:
  set_err(errstr, errstr_size, "out of memory%s", "");
  return false;
}

bool oc_tp_common_bind(oc_tp_common_t *c, const char *const *names, size_t nnames, bool strict,
                       char *errstr, size_t errstr_size) {
  for (size_t i = 0; i < c->nexpand; i++) {
    oc_tp_expand_t *e = &c->expand[i];
    if (strict)
      for (size_t k = 0; k < nnames; k++)
        if (strcmp(names[k], e->name) == 0) {
          set_err(errstr, errstr_size, "expandFields: \"%s\" is also a captured field", e->name);
          return false;
        }
    for (size_t j = 0; j < e->nrefs; j++) {
      oc_tp_ref_t *r = &e->refs[j];
      if (r->lit) continue;
      r->slot = -1;
      for (size_t k = 0; k < nnames; k++)
        if (strlen(names[k]) == r->len && memcmp(names[k], r->name, r->len) == 0) {
          r->slot = (int)k;
          break;
        }
      if (r->slot < 0 && strict) {
        char nm[OC_TEXTPARSE_MAX_NAME + 1];
        snprintf(nm, sizeof(nm), "%.*s", (int)r->len, r->name);
        set_err(errstr, errstr_size, "expandFields: unknown field \"%s\" in template", nm);
        return false;
      }
    }
  }
  return true;
}

void oc_tp_common_deinit(oc_tp_common_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nempty; i++)
    free(c->empty[i]);
  free(c->empty);
  free(c->empty_len);
  for (size_t i = 0; i < c->nexpand; i++) {
    free(c->expand[i].name);
    free(c->expand[i].tmpl);
    free(c->expand[i].refs);
  }
  free(c->expand);
  memset(c, 0, sizeof(*c));
}

oc_err_t oc_tp_row_begin(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a, size_t nslots) {
  memset(r, 0, sizeof(*r));
  r->obj = oc_arena_alloc(a, sizeof(*r->obj));
  if (!r->obj) return OC_ERR_NOMEM;
  memset(r->obj, 0, sizeof(*r->obj));
  r->obj->type = OC_JSON_OBJECT;
  if (c->nexpand && nslots) {
    r->val = oc_arena_alloc(a, nslots * sizeof(*r->val));
    r->vlen = oc_arena_alloc(a, nslots * sizeof(*r->vlen));
    if (!r->val || !r->vlen) return OC_ERR_NOMEM;
    memset(r->val, 0, nslots * sizeof(*r->val));
    memset(r->vlen, 0, nslots * sizeof(*r->vlen));
  }
  return OC_OK;
}

static oc_err_t append(oc_tp_row_t *r, oc_arena_t *a, const char *key, size_t key_len,
                       const char *v, size_t vlen) {
  oc_json_t *m = oc_arena_alloc(a, sizeof(*m));
  if (!m) return OC_ERR_NOMEM;
  *m = (oc_json_t){.type = OC_JSON_STRING,
                   .len = (uint32_t)vlen,
                   .s = v,
                   .key = key,
                   .key_len = (uint32_t)key_len};
  if (r->last)
    r->last->next = m;
  else
    r->obj->child = m;
  r->last = m;
  r->obj->len++;
  return OC_OK;
}

oc_err_t oc_tp_row_add(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a, size_t slot,
                       const char *key, size_t key_len, const char *v, size_t vlen) {
  if (c->trim) {
    while (vlen && oc_tp_isspace(*v)) {
      v++;
      vlen--;
    }
    while (vlen && oc_tp_isspace(v[vlen - 1]))
      vlen--;
  }
  if (vlen == 0) return OC_OK;
  if (vlen > UINT32_MAX) return OC_ERR_LIMIT;
  for (size_t i = 0; i < c->nempty; i++)
    if (c->empty_len[i] == vlen && memcmp(c->empty[i], v, vlen) == 0) return OC_OK;
  if (r->val) {
    r->val[slot] = v;
    r->vlen[slot] = (uint32_t)vlen;
  }
  return append(r, a, key, key_len, v, vlen);
}

oc_err_t oc_tp_row_finish(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a) {
  for (size_t i = 0; i < c->nexpand; i++) {
    const oc_tp_expand_t *e = &c->expand[i];
    size_t n = 0, nfields = 0, present = 0;
    for (size_t j = 0; j < e->nrefs; j++) {
      const oc_tp_ref_t *ref = &e->refs[j];
      size_t k = ref->lit ? ref->len : (ref->slot >= 0 && r->val ? r->vlen[ref->slot] : 0);
      if (!ref->lit) {
        nfields++;
        present += k > 0;
      }
      n += k;
    }
    /* absent when every field it refers to is absent: no " " for a missing request */
    if (n == 0 || (nfields && !present)) continue;
    if (n > UINT32_MAX) return OC_ERR_LIMIT;
    char *buf = oc_arena_alloc(a, n), *p = buf;
    if (!buf) return OC_ERR_NOMEM;
    for (size_t j = 0; j < e->nrefs; j++) {
      const oc_tp_ref_t *ref = &e->refs[j];
      if (ref->lit) {
        memcpy(p, ref->lit, ref->len);
        p += ref->len;
      } else if (ref->slot >= 0 && r->val && r->vlen[ref->slot]) {
        memcpy(p, r->val[ref->slot], r->vlen[ref->slot]);
        p += r->vlen[ref->slot];
      }
    }
    oc_err_t err = append(r, a, e->name, strlen(e->name), buf, n);
    if (err) return err;
  }
  return OC_OK;
}

void oc_tp_fail(char *errstr, size_t errstr_size, const char *fmt, ...) {
  if (!errstr || !errstr_size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
}
