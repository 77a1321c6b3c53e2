/* logtypes.c: the registry of compiled log-type schemas (see logtypes.h). */
#include "services/log-processor/logtypes.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/arena.h"
#include "common/log.h"

#define OC_LOGTYPES_MAX 4096 /* types per registry; the rest are logged and skipped */
#define OC_LOGTYPES_MAX_FILES 4096
#define OC_LOGTYPES_MAX_DEPTH 4 /* directory levels under a schema directory */

#ifndef OC_SCHEMAS_DIR_DEFAULT
#define OC_SCHEMAS_DIR_DEFAULT "/usr/share/ocelot/schemas"
#endif

struct oc_logtypes {
  const oc_logtypes_t *base;
  oc_logtype_t **v; /* sorted by name, for find */
  size_t n, cap;
};

const char *oc_logtypes_default_dir(void) {
  const char *d = getenv("OCELOT_SCHEMAS_DIR");
  return d && d[0] ? d : OC_SCHEMAS_DIR_DEFAULT;
}

oc_logtypes_t *oc_logtypes_new(const oc_logtypes_t *base) {
  oc_logtypes_t *lt = calloc(1, sizeof(*lt));
  if (lt) lt->base = base;
  return lt;
}

static void oc_logtype_free(oc_logtype_t *t) {
  if (!t) return;
  oc_schema_destroy(t->schema);
  free(t);
}

void oc_logtypes_destroy(oc_logtypes_t *lt) {
  if (!lt) return;
  for (size_t i = 0; i < lt->n; i++)
    oc_logtype_free(lt->v[i]);
  free(lt->v);
  free(lt);
}

/* Index of name in lt->v, or of where it would go. */
static size_t oc_logtypes_pos(const oc_logtypes_t *lt, const char *name, bool *found) {
  size_t lo = 0, hi = lt->n;
  *found = false;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(name, lt->v[mid]->name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

const oc_logtype_t *oc_logtypes_find(const oc_logtypes_t *lt, const char *name) {
  bool found;
  for (; lt && name; lt = lt->base) {
    size_t i = oc_logtypes_pos(lt, name, &found);
    if (found) return lt->v[i];
  }
  return NULL;
}

size_t oc_logtypes_count(const oc_logtypes_t *lt) {
  return lt ? lt->n : 0;
}

const oc_logtype_t *oc_logtypes_at(const oc_logtypes_t *lt, size_t i) {
  return lt && i < lt->n ? lt->v[i] : NULL;
}

oc_err_t oc_logtypes_add_schema(oc_logtypes_t *lt, oc_schema_t *s, bool builtin, char *errstr,
                                size_t errstr_size) {
  bool found;
  size_t pos;
  oc_logtype_t *t;
  if (oc_logtypes_find(lt, s->name)) {
    snprintf(errstr, errstr_size, "log type \"%s\" is already defined", s->name);
    oc_schema_destroy(s);
    return OC_ERR_INVALID;
  }
  if (lt->n >= OC_LOGTYPES_MAX) {
    snprintf(errstr, errstr_size, "too many log types (at most %d)", OC_LOGTYPES_MAX);
    oc_schema_destroy(s);
    return OC_ERR_LIMIT;
  }
  if (lt->n == lt->cap) {
    size_t cap = lt->cap ? lt->cap * 2 : 16;
    oc_logtype_t **v = realloc(lt->v, cap * sizeof(*v));
    if (!v) goto nomem;
    lt->v = v;
    lt->cap = cap;
  }
  t = calloc(1, sizeof(*t));
  if (!t) goto nomem;
  t->name = s->name;
  t->schema = s;
  t->builtin = builtin;
  pos = oc_logtypes_pos(lt, s->name, &found);
  memmove(&lt->v[pos + 1], &lt->v[pos], (lt->n - pos) * sizeof(*lt->v));
  lt->v[pos] = t;
  lt->n++;
  return OC_OK;
nomem:
  snprintf(errstr, errstr_size, "could not add log type \"%s\": out of memory", s->name);
  oc_schema_destroy(s);
  return OC_ERR_NOMEM;
}

/* A path usable as nested field names: bounded, printable, no empty segment. */
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
  size_t nlen = name ? strlen(name) : 0;
  oc_schema_t *s;
  if (nlen == 0 || nlen > OC_LOGTYPE_NAME_MAX) {
    snprintf(errstr, errstr_size, "invalid log type name \"%.128s\": expected 1..%d bytes",
             name ? name : "", OC_LOGTYPE_NAME_MAX);
    return OC_ERR_INVALID;
  }
  if (oc_logtypes_find(lt, name)) {
    snprintf(errstr, errstr_size, "log type \"%s\" is already defined", name);
    return OC_ERR_INVALID;
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
  s = oc_schema_from_fields(name, event_time_field, required, nrequired, errstr, errstr_size);
  if (!s) return OC_ERR_INVALID;
  return oc_logtypes_add_schema(lt, s, false, errstr, errstr_size);
}

static int oc_logtypes_strcmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool oc_logtypes_is_yaml(const char *n) {
  size_t l = strlen(n);
  return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static void oc_logtypes_scan(oc_logtypes_t *lt, const char *dir, int depth, bool builtin,
                             size_t *nloaded, size_t *nfailed, size_t *nfiles) {
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  if (!d) {
    oc_log_kv(OC_LOG_WARN, "could not read a schema directory", "directory", dir, "error",
              strerror(errno), NULL);
    (*nfailed)++;
    return;
  }
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **grown = realloc(names, ncap * sizeof(*grown));
      if (!grown) break;
      names = grown;
      cap = ncap;
    }
    if (!(names[n] = strdup(de->d_name))) break;
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof(*names), oc_logtypes_strcmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096], errstr[1024];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < OC_LOGTYPES_MAX_DEPTH)
        oc_logtypes_scan(lt, path, depth + 1, builtin, nloaded, nfailed, nfiles);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !oc_logtypes_is_yaml(names[i])) continue;
    if (++*nfiles > OC_LOGTYPES_MAX_FILES) {
      if (*nfiles == OC_LOGTYPES_MAX_FILES + 1)
        oc_log_kv(OC_LOG_WARN, "too many schema files; the rest are skipped", "directory", dir,
                  NULL);
      (*nfailed)++;
      continue;
    }
    oc_schema_t *s = oc_schema_load_file(path, errstr, sizeof(errstr));
    if (!s || oc_logtypes_add_schema(lt, s, builtin, errstr, sizeof(errstr)) != OC_OK) {
      oc_log_kv(OC_LOG_ERROR, "log type schema not loaded", "file", path, "error", errstr, NULL);
      (*nfailed)++;
      continue;
    }
    (*nloaded)++;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

oc_err_t oc_logtypes_load_dir(oc_logtypes_t *lt, const char *dir, bool builtin, size_t *nloaded,
                              size_t *nfailed, char *errstr, size_t errstr_size) {
  struct stat st;
  size_t loaded = 0, failed = 0, files = 0;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(errstr, errstr_size, "schema directory \"%s\" does not exist", dir);
    return OC_ERR_NOT_FOUND;
  }
  oc_logtypes_scan(lt, dir, 0, builtin, &loaded, &failed, &files);
  if (nloaded) *nloaded = loaded;
  if (nfailed) *nfailed = failed;
  return OC_OK;
}

/* One legacy log_types row: required_fields arrives as JSON text (array_to_json). */
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
                   "SELECT name, event_time_field, array_to_json(required_fields)::text, schema"
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
                "a managed log type of that name exists", NULL);
      continue;
    }
    if (!PQgetisnull(res, i, 3) && PQgetlength(res, i, 3) > 0) {
      char why[1024], origin[200];
      snprintf(origin, sizeof(origin), "log_types[%s]", name);
      oc_schema_t *s = oc_schema_load(PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3), origin,
                                      why, sizeof(why));
      if (s && strcmp(s->name, name) != 0) {
        snprintf(why, sizeof(why), "%s: the schema names \"%s\", the row \"%s\"", origin, s->name,
                 name);
        oc_schema_destroy(s);
        s = NULL;
      }
      if (!s || oc_logtypes_add_schema(lt, s, false, why, sizeof(why)) != OC_OK)
        oc_log_kv(OC_LOG_WARN, "log type skipped", "log_type", name, "reason", why, NULL);
    } else {
      oc_logtypes_add_row(lt, &a, name, tf, PQgetvalue(res, i, 2));
    }
    oc_arena_reset(&a);
  }
  oc_arena_deinit(&a);
  PQclear(res);
  return OC_OK;
}
