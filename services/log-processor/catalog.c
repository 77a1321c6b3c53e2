/* catalog.c: sources and log types as the processor sees them (see catalog.h). */
#include "services/log-processor/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/json.h"
#include "common/log.h"

static void oc_catalog_source_free(oc_catalog_source_t *s) {
  free(s->id);
  free(s->label);
  for (size_t i = 0; i < s->nlog_types; i++)
    free(s->log_types[i]);
  free(s->log_types);
}

oc_catalog_t *oc_catalog_new(const oc_logtypes_t *managed) {
  oc_catalog_t *cat = calloc(1, sizeof(*cat));
  if (!cat) return NULL;
  cat->types = oc_logtypes_new(managed);
  if (!cat->types) {
    free(cat);
    return NULL;
  }
  return cat;
}

void oc_catalog_destroy(oc_catalog_t *cat) {
  if (!cat) return;
  for (size_t i = 0; i < cat->nsources; i++)
    oc_catalog_source_free(&cat->sources[i]);
  free(cat->sources);
  oc_logtypes_destroy(cat->types);
  free(cat);
}

oc_err_t oc_catalog_add_source(oc_catalog_t *cat, const char *id, const char *label, bool enabled,
                               const char *const *log_types, size_t nlog_types) {
  oc_catalog_source_t s = {0}, *ns;
  size_t pos;
  if (!id || !id[0] || nlog_types > OC_CATALOG_MAX_SOURCE_TYPES || oc_catalog_find(cat, id))
    return OC_ERR_INVALID;
  s.id = strdup(id);
  s.label = strdup(label ? label : "");
  s.enabled = enabled;
  s.log_types = calloc(nlog_types ? nlog_types : 1, sizeof(*s.log_types));
  if (!s.id || !s.label || !s.log_types) goto nomem;
  for (size_t i = 0; i < nlog_types; i++) {
    s.log_types[i] = strdup(log_types[i]);
    if (!s.log_types[i]) goto nomem;
    s.nlog_types++;
  }
  ns = realloc(cat->sources, (cat->nsources + 1) * sizeof(*ns));
  if (!ns) goto nomem;
  cat->sources = ns;
  for (pos = cat->nsources; pos > 0 && strcmp(cat->sources[pos - 1].id, id) > 0; pos--)
    cat->sources[pos] = cat->sources[pos - 1];
  cat->sources[pos] = s;
  cat->nsources++;
  return OC_OK;
nomem:
  oc_catalog_source_free(&s);
  return OC_ERR_NOMEM;
}

const oc_catalog_source_t *oc_catalog_find(const oc_catalog_t *cat, const char *id) {
  size_t lo = 0, hi = cat ? cat->nsources : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(cat->sources[mid].id, id);
    if (c == 0) return &cat->sources[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

size_t oc_catalog_resolve(const oc_catalog_t *cat, const oc_catalog_source_t *src,
                          const oc_logtype_t **out, size_t max, const char **unknown) {
  size_t n = 0;
  if (unknown) *unknown = NULL;
  for (size_t i = 0; i < src->nlog_types && n < max; i++) {
    const oc_logtype_t *t = oc_logtypes_find(cat->types, src->log_types[i]);
    if (t)
      out[n++] = t;
    else if (unknown && !*unknown)
      *unknown = src->log_types[i];
  }
  return n;
}

oc_catalog_t *oc_catalog_load_pg(oc_pg_t *pg, const oc_logtypes_t *managed, oc_err_t *err,
                                 char *errstr, size_t errstr_size) {
  oc_catalog_t *cat = oc_catalog_new(managed);
  PGresult *res = NULL;
  oc_arena_t a;
  char perr[256];
  oc_arena_init(&a, 16 * 1024);
  if (!cat) {
    *err = OC_ERR_NOMEM;
    snprintf(errstr, errstr_size, "could not load the catalog: out of memory");
    goto fail;
  }
  *err = oc_logtypes_load_pg(cat->types, pg, errstr, errstr_size);
  if (*err) goto fail;
  *err = oc_pg_exec(pg, &res,
                    "SELECT id, label, enabled, array_to_json(log_types)::text FROM sources"
                    " ORDER BY id",
                    0, NULL, errstr, errstr_size);
  if (*err) goto fail;
  for (int i = 0; i < PQntuples(res); i++) {
    const char *id = PQgetvalue(res, i, 0);
    const char *types_json = PQgetvalue(res, i, 3);
    const char *names[OC_CATALOG_MAX_SOURCE_TYPES];
    size_t n = 0;
    const oc_json_t *arr;
    oc_arena_reset(&a);
    arr = oc_json_parse(&a, types_json, strlen(types_json), 4, perr, sizeof(perr));
    for (const oc_json_t *v = arr && arr->type == OC_JSON_ARRAY ? arr->child : NULL; v;
         v = v->next) {
      if (v->type != OC_JSON_STRING || n == OC_CATALOG_MAX_SOURCE_TYPES) continue;
      names[n] = oc_arena_strndup(&a, v->s, v->len);
      if (names[n]) n++;
    }
    *err = oc_catalog_add_source(cat, id, PQgetvalue(res, i, 1),
                                 strcmp(PQgetvalue(res, i, 2), "t") == 0, names, n);
    if (*err == OC_ERR_NOMEM) {
      snprintf(errstr, errstr_size, "could not load the catalog: out of memory");
      goto fail;
    }
    *err = OC_OK;
  }
  PQclear(res);
  oc_arena_deinit(&a);
  return cat;
fail:
  PQclear(res);
  oc_arena_deinit(&a);
  oc_catalog_destroy(cat);
  return NULL;
}
