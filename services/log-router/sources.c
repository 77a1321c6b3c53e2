/* sources.c: longest bucket+prefix matching of objects to sources (see sources.h). */
#include "services/log-router/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oc_source_table_t *oc_source_table_new(void) {
  return calloc(1, sizeof(oc_source_table_t));
}

void oc_source_table_destroy(oc_source_table_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    free(t->v[i].id);
    free(t->v[i].bucket);
    free(t->v[i].prefix);
  }
  free(t->v);
  free(t);
}

oc_err_t oc_source_table_add(oc_source_table_t *t, const char *id, const char *bucket,
                             const char *prefix, bool enabled) {
  oc_route_source_t *s;
  if (!id || !id[0] || !bucket || !bucket[0]) return OC_ERR_INVALID;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    oc_route_source_t *v = realloc(t->v, cap * sizeof(*v));
    if (!v) return OC_ERR_NOMEM;
    t->v = v;
    t->cap = cap;
  }
  s = &t->v[t->n];
  s->id = strdup(id);
  s->bucket = strdup(bucket);
  s->prefix = strdup(prefix ? prefix : "");
  if (!s->id || !s->bucket || !s->prefix) {
    free(s->id);
    free(s->bucket);
    free(s->prefix);
    return OC_ERR_NOMEM;
  }
  s->prefix_len = strlen(s->prefix);
  s->enabled = enabled;
  t->n++;
  t->finished = false;
  return OC_OK;
}

/* bucket ascending, then prefix length descending (longest first), then id ascending. */
static int oc_route_cmp(const void *a, const void *b) {
  const oc_route_source_t *x = a, *y = b;
  int c = strcmp(x->bucket, y->bucket);
  if (c) return c;
  if (x->prefix_len != y->prefix_len) return x->prefix_len > y->prefix_len ? -1 : 1;
  return strcmp(x->id, y->id);
}

void oc_source_table_finish(oc_source_table_t *t) {
  if (t->n > 1) qsort(t->v, t->n, sizeof(*t->v), oc_route_cmp);
  t->finished = true;
}

size_t oc_source_table_count(const oc_source_table_t *t) {
  return t ? t->n : 0;
}

const oc_route_source_t *oc_source_table_match(const oc_source_table_t *t, const char *bucket,
                                               const char *key) {
  size_t lo = 0, hi, klen;
  if (!t || !t->finished || !bucket || !key) return NULL;
  hi = t->n;
  /* first entry of the bucket */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(t->v[mid].bucket, bucket) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  klen = strlen(key);
  for (size_t i = lo; i < t->n && strcmp(t->v[i].bucket, bucket) == 0; i++) {
    const oc_route_source_t *s = &t->v[i];
    if (!s->enabled || s->prefix_len > klen) continue;
    if (memcmp(key, s->prefix, s->prefix_len) == 0) return s;
  }
  return NULL;
}

oc_source_table_t *oc_source_table_load_pg(oc_pg_t *pg, oc_err_t *err, char *errstr,
                                           size_t errstr_size) {
  PGresult *res = NULL;
  oc_source_table_t *t = oc_source_table_new();
  if (!t) {
    *err = OC_ERR_NOMEM;
    snprintf(errstr, errstr_size, "could not load sources: out of memory");
    return NULL;
  }
  *err = oc_pg_exec(pg, &res, "SELECT id, bucket, prefix, enabled FROM sources", 0, NULL, errstr,
                    errstr_size);
  if (*err) goto fail;
  for (int i = 0; i < PQntuples(res); i++) {
    *err = oc_source_table_add(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                               PQgetvalue(res, i, 2), strcmp(PQgetvalue(res, i, 3), "t") == 0);
    if (*err == OC_ERR_NOMEM) {
      snprintf(errstr, errstr_size, "could not load sources: out of memory");
      goto fail;
    }
    *err = OC_OK; /* a row the schema should have refused is skipped */
  }
  PQclear(res);
  oc_source_table_finish(t);
  return t;
fail:
  PQclear(res);
  oc_source_table_destroy(t);
  return NULL;
}
