/* logtypes.c: built-in and custom log types and event classification (see logtypes.h). */
#include "services/log-processor/logtypes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/log.h"
#include "common/timeutil.h"

#define OC_LOGTYPES_MAX 4096 /* custom types kept; the rest are logged and skipped */

struct oc_logtypes {
  oc_logtype_t **v;
  size_t n, cap;
};

/* The fields CloudTrail always writes (Panther's AWS.CloudTrail schema marks them
 * required); eventTime is the event time. */
static const char *const oc_cloudtrail_required[] = {
    "eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "eventID",
};

static void oc_logtype_free(oc_logtype_t *t) {
  if (!t) return;
  free(t->name);
  free(t->event_time_field);
  for (size_t i = 0; i < t->nrequired; i++)
    free(t->required[i]);
  free(t->required);
  free(t);
}

static oc_err_t oc_logtypes_push(oc_logtypes_t *lt, oc_logtype_t *t) {
  if (lt->n == lt->cap) {
    size_t cap = lt->cap ? lt->cap * 2 : 8;
    oc_logtype_t **v = realloc(lt->v, cap * sizeof(*v));
    if (!v) return OC_ERR_NOMEM;
    lt->v = v;
    lt->cap = cap;
  }
  lt->v[lt->n++] = t;
  return OC_OK;
}

static oc_logtype_t *oc_logtype_build(const char *name, const char *time_field,
                                      const char *const *required, size_t nrequired) {
  oc_logtype_t *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->name = strdup(name);
  if (!t->name) goto fail;
  if (time_field && time_field[0]) {
    t->event_time_field = strdup(time_field);
    if (!t->event_time_field) goto fail;
  }
  if (nrequired) {
    t->required = calloc(nrequired, sizeof(*t->required));
    if (!t->required) goto fail;
    for (size_t i = 0; i < nrequired; i++) {
      t->required[i] = strdup(required[i]);
      if (!t->required[i]) goto fail;
      t->nrequired++;
    }
  }
  return t;
fail:
  oc_logtype_free(t);
  return NULL;
}

oc_logtypes_t *oc_logtypes_new(void) {
  oc_logtypes_t *lt = calloc(1, sizeof(*lt));
  oc_logtype_t *ct;
  if (!lt) return NULL;
  ct = oc_logtype_build(OC_LOGTYPE_CLOUDTRAIL, "eventTime", oc_cloudtrail_required,
                        sizeof(oc_cloudtrail_required) / sizeof(oc_cloudtrail_required[0]));
  if (!ct) goto fail;
  ct->builtin = true;
  ct->event_time_required = true;
  if (oc_logtypes_push(lt, ct) != OC_OK) {
    oc_logtype_free(ct);
    goto fail;
  }
  return lt;
fail:
  oc_logtypes_destroy(lt);
  return NULL;
}

void oc_logtypes_destroy(oc_logtypes_t *lt) {
  if (!lt) return;
  for (size_t i = 0; i < lt->n; i++)
    oc_logtype_free(lt->v[i]);
  free(lt->v);
  free(lt);
}

const oc_logtype_t *oc_logtypes_find(const oc_logtypes_t *lt, const char *name) {
  if (!lt || !name) return NULL;
  for (size_t i = 0; i < lt->n; i++)
    if (strcmp(lt->v[i]->name, name) == 0) return lt->v[i];
  return NULL;
}

size_t oc_logtypes_count(const oc_logtypes_t *lt) {
  return lt ? lt->n : 0;
}

/* A path usable with oc_json_path: bounded, printable, no empty segment. */
static bool oc_logtype_path_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > OC_LOGTYPE_PATH_MAX || p[0] == '.' || p[n - 1] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == 0x7f) return false;
    if (c == '.' && p[i + 1] == '.') return false;
  }
  return true;
}

oc_err_t oc_logtypes_add(oc_logtypes_t *lt, const char *name, const char *event_time_field,
                         const char *const *required, size_t nrequired, char *errstr,
                         size_t errstr_size) {
  oc_logtype_t *t;
  size_t nlen = name ? strlen(name) : 0;
  if (nlen == 0 || nlen > OC_LOGTYPE_NAME_MAX) {
    snprintf(errstr, errstr_size, "invalid log type name \"%.128s\": expected 1..%d bytes",
             name ? name : "", OC_LOGTYPE_NAME_MAX);
    return OC_ERR_INVALID;
  }
  if (oc_logtypes_find(lt, name)) {
    snprintf(errstr, errstr_size, "log type \"%s\" is already defined", name);
    return OC_ERR_INVALID;
  }
  if (lt->n >= OC_LOGTYPES_MAX) {
    snprintf(errstr, errstr_size, "too many log types (at most %d)", OC_LOGTYPES_MAX);
    return OC_ERR_LIMIT;
  }
  if (event_time_field && event_time_field[0] && !oc_logtype_path_ok(event_time_field)) {
    snprintf(errstr, errstr_size, "log type \"%s\": invalid event time field \"%.256s\"", name,
             event_time_field);
    return OC_ERR_INVALID;
  }
  if (nrequired > OC_LOGTYPE_MAX_REQUIRED) {
    snprintf(errstr, errstr_size, "log type \"%s\": too many required fields (%zu, at most %d)",
             name, nrequired, OC_LOGTYPE_MAX_REQUIRED);
    return OC_ERR_LIMIT;
  }
  for (size_t i = 0; i < nrequired; i++) {
    if (!required[i] || !oc_logtype_path_ok(required[i])) {
      snprintf(errstr, errstr_size, "log type \"%s\": invalid required field \"%.256s\"", name,
               required[i] ? required[i] : "");
      return OC_ERR_INVALID;
    }
  }
  t = oc_logtype_build(name, event_time_field, required, nrequired);
  if (!t || oc_logtypes_push(lt, t) != OC_OK) {
    oc_logtype_free(t);
    snprintf(errstr, errstr_size, "could not add log type \"%s\": out of memory", name);
    return OC_ERR_NOMEM;
  }
  return OC_OK;
}

/* One log_types row: required_fields arrives as JSON text (array_to_json). */
static void oc_logtypes_add_row(oc_logtypes_t *lt, oc_arena_t *a, const char *name,
                                const char *time_field, const char *required_json) {
  char errstr[512], perr[256];
  const char *req[OC_LOGTYPE_MAX_REQUIRED + 1];
  size_t nreq = 0;
  const oc_json_t *arr = NULL;
  if (required_json && required_json[0]) {
    arr = oc_json_parse(a, required_json, strlen(required_json), 4, perr, sizeof(perr));
    if (!arr || arr->type != OC_JSON_ARRAY) {
      oc_log_kv(OC_LOG_WARN, "log type skipped", "log_type", name, "reason",
                "required_fields is not an array of strings", NULL);
      return;
    }
  }
  for (const oc_json_t *v = arr ? arr->child : NULL; v; v = v->next) {
    if (v->type != OC_JSON_STRING || nreq > OC_LOGTYPE_MAX_REQUIRED) {
      oc_log_kv(OC_LOG_WARN, "log type skipped", "log_type", name, "reason",
                "required_fields has a non-string or too many entries", NULL);
      return;
    }
    req[nreq++] = oc_arena_strndup(a, v->s, v->len);
    if (!req[nreq - 1]) return;
  }
  if (oc_logtypes_add(lt, name, time_field, req, nreq, errstr, sizeof(errstr)) != OC_OK)
    oc_log_kv(OC_LOG_WARN, "log type skipped", "log_type", name, "reason", errstr, NULL);
}

oc_err_t oc_logtypes_load_pg(oc_logtypes_t *lt, oc_pg_t *pg, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_arena_t a;
  oc_err_t err;
  err = oc_pg_exec(pg, &res,
                   "SELECT name, event_time_field, array_to_json(required_fields)::text"
                   " FROM log_types ORDER BY name",
                   0, NULL, errstr, errstr_size);
  if (err) return err;
  oc_arena_init(&a, 16 * 1024);
  for (int i = 0; i < PQntuples(res); i++) {
    const char *name = PQgetvalue(res, i, 0);
    const char *tf = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
    const oc_logtype_t *old = oc_logtypes_find(lt, name);
    if (old && old->builtin) {
      oc_log_kv(OC_LOG_WARN, "log type skipped", "log_type", name, "reason",
                "a built-in log type of that name exists", NULL);
      continue;
    }
    oc_logtypes_add_row(lt, &a, name, tf, PQgetvalue(res, i, 2));
    oc_arena_reset(&a);
  }
  oc_arena_deinit(&a);
  PQclear(res);
  return OC_OK;
}

/* The value at a dotted path, treating JSON null as absent. */
static const oc_json_t *oc_logtype_field(const oc_json_t *ev, const char *path) {
  const oc_json_t *v = oc_json_path(ev, path);
  return v && v->type != OC_JSON_NULL ? v : NULL;
}

oc_lt_result_t oc_logtype_match(const oc_logtype_t *t, const oc_json_t *ev, int64_t parse_time_us,
                                int64_t *event_time_us) {
  const oc_json_t *tv;
  int64_t us;
  if (!ev || ev->type != OC_JSON_OBJECT) return OC_LT_MISSING_FIELD;
  for (size_t i = 0; i < t->nrequired; i++)
    if (!oc_logtype_field(ev, t->required[i])) return OC_LT_MISSING_FIELD;
  if (!t->event_time_field) {
    *event_time_us = parse_time_us;
    return OC_LT_MATCH;
  }
  tv = oc_logtype_field(ev, t->event_time_field);
  if (!tv) {
    if (t->event_time_required) return OC_LT_MISSING_FIELD;
    *event_time_us = parse_time_us;
    return OC_LT_MATCH;
  }
  if (tv->type != OC_JSON_STRING || !oc_time_parse_rfc3339(tv->s, tv->len, &us))
    return OC_LT_BAD_TIME;
  *event_time_us = us;
  return OC_LT_MATCH;
}

const oc_logtype_t *oc_logtypes_classify(const oc_logtype_t *const *types, size_t n,
                                         const oc_json_t *ev, int64_t parse_time_us,
                                         int64_t *event_time_us, oc_lt_result_t *why) {
  const oc_logtype_t *best = NULL;
  int64_t best_time = parse_time_us, us = parse_time_us;
  bool bad_time = false;
  for (size_t i = 0; i < n; i++) {
    oc_lt_result_t r;
    if (!types[i]) continue;
    if (best && types[i]->nrequired <= best->nrequired) continue; /* cannot win */
    r = oc_logtype_match(types[i], ev, parse_time_us, &us);
    if (r == OC_LT_MATCH) {
      best = types[i];
      best_time = us;
    } else if (r == OC_LT_BAD_TIME) {
      bad_time = true;
    }
  }
  if (best) {
    *event_time_us = best_time;
    if (why) *why = OC_LT_MATCH;
  } else if (why) {
    *why = bad_time ? OC_LT_BAD_TIME : OC_LT_MISSING_FIELD;
  }
  return best;
}
