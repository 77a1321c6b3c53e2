/* packstore.c: packs in Postgres, their materialization as directories, and the
 * rules-changed notice (packstore.h). */
#include "services/rules-engine/packstore.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/timeutil.h"

bool oc_packstore_id_ok(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > OC_PACKSTORE_MAX_ID || id[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* A relative path that stays inside its root: no "..", not absolute, no empty part. */
static bool oc_packstore_path_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > 1024 || p[0] == '/') return false;
  for (const char *s = p; *s;) {
    size_t k = strcspn(s, "/");
    if (k == 0 || (k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.')) return false;
    s += k;
    if (*s == '/') s++;
  }
  return true;
}

/* Reads a whole file (at most max bytes) into out. */
static oc_err_t oc_packstore_read(const char *path, size_t max, oc_buf_t *out, char *errstr,
                                  size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  char buf[16384];
  size_t n;
  oc_buf_reset(out);
  if (!f) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", path, strerror(errno));
    return OC_ERR_INVALID;
  }
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    if (out->len + n > max) {
      fclose(f);
      snprintf(errstr, errstr_size, "\"%s\" is larger than %zu bytes", path, max);
      return OC_ERR_INVALID;
    }
    oc_buf_append(out, buf, n);
  }
  fclose(f);
  oc_buf_putc(out, '\0');
  out->len--;
  if (!oc_buf_ok(out)) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  if (memchr(out->data, '\0', out->len) || oc_utf8_valid_prefix(out->data, out->len) != out->len) {
    snprintf(errstr, errstr_size, "\"%s\" is not UTF-8 text", path);
    return OC_ERR_INVALID;
  }
  return OC_OK;
}

/* ---- storing ----------------------------------------------------------------------- */

static const char *oc_packstore_table(oc_pack_kind_t kind, const char **item_type) {
  switch (kind) {
    case OC_PACK_RULE:
    case OC_PACK_SCHEDULED_RULE:
      *item_type = "rule";
      return "rules";
    case OC_PACK_DATAMODEL:
      *item_type = "data_model";
      return "data_models";
    default:
      *item_type = "global";
      return "global_helpers";
  }
}

static oc_err_t oc_packstore_put_item(oc_pg_t *pg, const oc_pack_item_t *it, const char *root,
                                      const char *pack_id, oc_buf_t *yml, oc_buf_t *py,
                                      char digest[33], oc_packstore_stats_t *st, char *errstr,
                                      size_t errstr_size) {
  size_t rootlen = strlen(root);
  while (rootlen > 1 && root[rootlen - 1] == '/')
    rootlen--;
  const char *origin = it->yml_path;
  if (strncmp(origin, root, rootlen) == 0 && origin[rootlen] == '/') origin += rootlen + 1;
  while (*origin == '/')
    origin++;
  if (!oc_packstore_path_ok(origin)) {
    snprintf(errstr, errstr_size, "%s: not a path inside the pack directory \"%s\"", it->yml_path,
             root);
    return OC_ERR_INVALID;
  }
  const char *slash = strrchr(it->yml_path, '/');
  size_t dirlen = slash ? (size_t)(slash - it->yml_path) + 1 : 0;
  const char *filename = NULL;
  if (it->py_path) {
    filename = it->py_path;
    if (dirlen && strncmp(filename, it->yml_path, dirlen) == 0) filename += dirlen;
    if (!oc_packstore_path_ok(filename)) {
      snprintf(errstr, errstr_size, "%s: Filename is not next to the metadata", it->yml_path);
      return OC_ERR_INVALID;
    }
  }
  oc_err_t err = oc_packstore_read(it->yml_path, OC_PACK_MAX_FILE, yml, errstr, errstr_size);
  if (err) return err;
  oc_buf_reset(py);
  if (it->py_path) {
    err = oc_packstore_read(it->py_path, OC_PACKSTORE_MAX_PY, py, errstr, errstr_size);
    if (err) return err;
  }
  const char *parts[4] = {origin, filename ? filename : "", yml->data, py->data ? py->data : ""};
  size_t lens[4] = {strlen(origin), filename ? strlen(filename) : 0, yml->len, py->len};
  oc_hash_hex128(digest, parts, lens, 4);

  const char *item_type, *table = oc_packstore_table(it->kind, &item_type);
  char sql[1024];
  bool is_rule = strcmp(table, "rules") == 0, has_enabled = strcmp(table, "global_helpers") != 0;
  snprintf(sql, sizeof(sql),
           "INSERT INTO %s AS t (id, pack_id, origin, filename, body, python, digest%s%s)"
           " VALUES ($1, $2, $3, $4, $5, $6, $7%s%s)"
           " ON CONFLICT (id) DO UPDATE SET pack_id = EXCLUDED.pack_id, origin = EXCLUDED.origin,"
           " filename = EXCLUDED.filename, body = EXCLUDED.body, python = EXCLUDED.python,"
           " digest = EXCLUDED.digest%s%s, version = t.version + 1, updated_at = now()"
           " WHERE t.digest IS DISTINCT FROM EXCLUDED.digest"
           " OR t.pack_id IS DISTINCT FROM EXCLUDED.pack_id"
           " RETURNING version::text, (xmax = 0)::text",
           table, has_enabled ? ", enabled" : "", is_rule ? ", kind" : "",
           has_enabled ? ", $8" : "", is_rule ? ", 'python'" : "",
           has_enabled ? ", enabled = EXCLUDED.enabled" : "", is_rule ? ", kind = 'python'" : "");
  const char *params[8] = {it->id,    pack_id,
                           origin,    filename,
                           yml->data, it->py_path ? py->data : NULL,
                           digest,    it->enabled ? "true" : "false"};
  PGresult *res = NULL;
  err = oc_pg_exec(pg, &res, sql, has_enabled ? 8 : 7, params, errstr, errstr_size);
  if (err) return err;
  if (PQntuples(res) == 0) {
    st->unchanged++;
    PQclear(res);
    return OC_OK;
  }
  char version[32];
  snprintf(version, sizeof(version), "%s", PQgetvalue(res, 0, 0));
  if (strcmp(PQgetvalue(res, 0, 1), "true") == 0)
    st->created++;
  else
    st->updated++;
  PQclear(res);
  const char *vparams[9] = {item_type, it->id,    version,   pack_id, origin,
                            filename,  yml->data, params[5], digest};
  return oc_pg_exec(pg, NULL,
                    "INSERT INTO pack_item_versions (item_type, id, version, pack_id, origin,"
                    " filename, body, python, digest) VALUES ($1, $2, $3::bigint, $4, $5, $6, $7,"
                    " $8, $9) ON CONFLICT DO NOTHING",
                    9, vparams, errstr, errstr_size);
}

oc_err_t oc_packstore_put(oc_pg_t *pg, const oc_pack_t *pack, const char *root, const char *pack_id,
                          oc_packstore_stats_t *st, char *errstr, size_t errstr_size) {
  oc_buf_t yml, py, ids[3], all;
  oc_err_t err;
  char digest[33];
  PGresult *res = NULL;
  bool began = false;

  memset(st, 0, sizeof(*st));
  oc_buf_init(&yml);
  oc_buf_init(&py);
  oc_buf_init(&all);
  for (int i = 0; i < 3; i++) {
    oc_buf_init(&ids[i]);
    oc_buf_putc(&ids[i], '[');
  }
  if (!oc_packstore_id_ok(pack_id)) {
    snprintf(errstr, errstr_size,
             "invalid pack id \"%s\": 1 to %d letters, digits, '.', '_' or '-' expected", pack_id,
             OC_PACKSTORE_MAX_ID);
    err = OC_ERR_INVALID;
    goto out;
  }
  /* The pack row first: items reference it. Its digest is fixed at the end. */
  err = oc_pg_begin(pg, errstr, errstr_size);
  if (err) goto out;
  began = true;
  const char *pparams[1] = {pack_id};
  err = oc_pg_exec(pg, NULL,
                   "INSERT INTO packs (id, digest) VALUES ($1, '') ON CONFLICT (id) DO NOTHING", 1,
                   pparams, errstr, errstr_size);
  if (err) goto out;
  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    const char *item_type;
    oc_packstore_table(it->kind, &item_type);
    int t = strcmp(item_type, "rule") == 0 ? 0 : strcmp(item_type, "data_model") == 0 ? 1 : 2;
    err = oc_packstore_put_item(pg, it, root, pack_id, &yml, &py, digest, st, errstr, errstr_size);
    if (err) goto out;
    st->items++;
    if (ids[t].len > 1) oc_buf_putc(&ids[t], ',');
    oc_json_write_string(&ids[t], it->id, strlen(it->id));
    oc_buf_puts(&all, it->id);
    oc_buf_putc(&all, '\n');
    oc_buf_puts(&all, digest);
    oc_buf_putc(&all, '\n');
  }
  static const char *const tables[3] = {"rules", "data_models", "global_helpers"};
  for (int t = 0; t < 3; t++) {
    char sql[256];
    oc_buf_putc(&ids[t], ']');
    oc_buf_putc(&ids[t], '\0');
    if (!oc_buf_ok(&ids[t]) || !oc_buf_ok(&all)) {
      snprintf(errstr, errstr_size, "out of memory");
      err = OC_ERR_NOMEM;
      goto out;
    }
    snprintf(sql, sizeof(sql),
             "DELETE FROM %s WHERE pack_id = $1 AND id NOT IN"
             " (SELECT jsonb_array_elements_text($2::jsonb))",
             tables[t]);
    const char *dparams[2] = {pack_id, ids[t].data};
    err = oc_pg_exec(pg, &res, sql, 2, dparams, errstr, errstr_size);
    if (err) goto out;
    st->removed += (size_t)atol(PQcmdTuples(res));
    PQclear(res);
    res = NULL;
  }
  {
    const char *parts[1] = {all.data ? all.data : ""};
    size_t lens[1] = {all.len};
    char nitems[32];
    oc_hash_hex128(digest, parts, lens, 1);
    snprintf(nitems, sizeof(nitems), "%zu", st->items);
    const char *uparams[3] = {pack_id, digest, nitems};
    err = oc_pg_exec(pg, &res,
                     "UPDATE packs SET digest = $2, items = $3::integer,"
                     " version = CASE WHEN digest = '' THEN version ELSE version + 1 END,"
                     " updated_at = now() WHERE id = $1 AND digest IS DISTINCT FROM $2"
                     " RETURNING version::text",
                     3, uparams, errstr, errstr_size);
    if (err) goto out;
    st->pack_changed = PQntuples(res) > 0;
    PQclear(res);
    res = NULL;
    err = oc_pg_exec(pg, &res, "SELECT version FROM packs WHERE id = $1", 1, pparams, errstr,
                     errstr_size);
    if (err) goto out;
    st->pack_version = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
  }
  err = oc_pg_commit(pg, errstr, errstr_size);
  began = false;
out:
  if (res) PQclear(res);
  if (began) oc_pg_rollback(pg);
  oc_buf_deinit(&yml);
  oc_buf_deinit(&py);
  oc_buf_deinit(&all);
  for (int i = 0; i < 3; i++)
    oc_buf_deinit(&ids[i]);
  return err;
}

oc_err_t oc_packstore_fingerprint(oc_pg_t *pg, char *out, size_t out_size, char *errstr,
                                  size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err = oc_pg_exec(
      pg, &res,
      "SELECT (SELECT count(*) || '/' || coalesce(sum(version), 0) || '/' ||"
      "        coalesce(max(updated_at)::text, '') FROM packs) || ';' ||"
      "       (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM rules"
      "        WHERE pack_id IS NOT NULL) || ';' ||"
      "       (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM data_models) || ';' ||"
      "       (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM global_helpers)",
      0, NULL, errstr, errstr_size);
  if (err) return err;
  snprintf(out, out_size, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return OC_OK;
}

oc_err_t oc_packstore_ids(oc_pg_t *pg, char ***ids, size_t *nids, char *errstr,
                          size_t errstr_size) {
  PGresult *res = NULL;
  *ids = NULL;
  *nids = 0;
  oc_err_t err = oc_pg_exec(pg, &res,
                            "SELECT id FROM rules WHERE pack_id IS NOT NULL UNION ALL"
                            " SELECT id FROM data_models UNION ALL SELECT id FROM global_helpers",
                            0, NULL, errstr, errstr_size);
  if (err) return err;
  int n = PQntuples(res);
  char **v = calloc(n ? (size_t)n : 1, sizeof(*v));
  if (!v) {
    PQclear(res);
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  for (int i = 0; i < n; i++)
    if ((v[*nids] = strdup(PQgetvalue(res, i, 0)))) (*nids)++;
  PQclear(res);
  *ids = v;
  return OC_OK;
}

void oc_packstore_ids_free(char **ids, size_t nids) {
  for (size_t i = 0; i < nids; i++)
    free(ids[i]);
  free(ids);
}

/* ---- directories ------------------------------------------------------------------- */

static bool oc_packstore_mkdirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return false;
    *p = '/';
  }
  return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

static bool oc_packstore_write(const char *path, const char *data, size_t len, char *errstr,
                               size_t errstr_size) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  if (slash && !oc_packstore_mkdirs(dir)) {
    snprintf(errstr, errstr_size, "could not create \"%s\": %s", dir, strerror(errno));
    return false;
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    snprintf(errstr, errstr_size, "could not write \"%s\": %s", path, strerror(errno));
    return false;
  }
  return true;
}

oc_err_t oc_packstore_materialize(oc_pg_t *pg, const char *dir, size_t *nitems, size_t *nskipped,
                                  char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err;
  *nitems = 0;
  *nskipped = 0;
  err = oc_pg_exec(pg, &res,
                   "SELECT pack_id, origin, filename, body, python FROM rules"
                   " WHERE pack_id IS NOT NULL AND origin IS NOT NULL UNION ALL"
                   " SELECT pack_id, origin, filename, body, python FROM data_models"
                   " WHERE pack_id IS NOT NULL UNION ALL"
                   " SELECT pack_id, origin, filename, body, python FROM global_helpers"
                   " WHERE pack_id IS NOT NULL",
                   0, NULL, errstr, errstr_size);
  if (err) return err;
  if (!oc_packstore_mkdirs(dir)) {
    snprintf(errstr, errstr_size, "could not create \"%s\": %s", dir, strerror(errno));
    PQclear(res);
    return OC_ERR_IO;
  }
  for (int i = 0; i < PQntuples(res); i++) {
    const char *pack_id = PQgetvalue(res, i, 0), *origin = PQgetvalue(res, i, 1);
    const char *filename = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
    char path[4096];
    if (!oc_packstore_id_ok(pack_id) || !oc_packstore_path_ok(origin) ||
        (filename && !oc_packstore_path_ok(filename))) {
      (*nskipped)++;
      continue;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", dir, pack_id, origin);
    if (!oc_packstore_write(path, PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3), errstr,
                            errstr_size)) {
      err = OC_ERR_IO;
      break;
    }
    if (filename) {
      char *slash = strrchr(path, '/');
      snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "%s", filename);
      if (!oc_packstore_write(path, PQgetisnull(res, i, 4) ? "" : PQgetvalue(res, i, 4),
                              (size_t)PQgetlength(res, i, 4), errstr, errstr_size)) {
        err = OC_ERR_IO;
        break;
      }
    }
    (*nitems)++;
  }
  PQclear(res);
  return err;
}

static bool oc_packstore_copy_file(const char *src, const char *dst, char *errstr,
                                   size_t errstr_size) {
  oc_buf_t b;
  bool ok = false;
  oc_buf_init(&b);
  FILE *f = fopen(src, "rb");
  char buf[16384];
  size_t n;
  if (!f) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", src, strerror(errno));
    goto out;
  }
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && b.len <= OC_PACKSTORE_MAX_PY)
    oc_buf_append(&b, buf, n);
  fclose(f);
  ok = oc_packstore_write(dst, b.data ? b.data : "", b.len, errstr, errstr_size);
out:
  oc_buf_deinit(&b);
  return ok;
}

static bool oc_packstore_copy_walk(const char *src, const char *dst, const char *const *skip,
                                   size_t nskip, int depth, char *errstr, size_t errstr_size) {
  DIR *d = opendir(src);
  struct dirent *de;
  bool ok = true;
  if (!d) {
    snprintf(errstr, errstr_size, "could not open directory \"%s\": %s", src, strerror(errno));
    return false;
  }
  if (!oc_packstore_mkdirs(dst)) {
    snprintf(errstr, errstr_size, "could not create \"%s\": %s", dst, strerror(errno));
    closedir(d);
    return false;
  }
  while (ok && (de = readdir(d))) {
    char s[4096], t[4096];
    struct stat st;
    if (de->d_name[0] == '.') continue;
    snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
    snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
    if (stat(s, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < OC_PACK_MAX_DIR_DEPTH)
        ok = oc_packstore_copy_walk(s, t, skip, nskip, depth + 1, errstr, errstr_size);
      continue;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > OC_PACKSTORE_MAX_PY) continue;
    bool skipped = false;
    for (size_t i = 0; i < nskip && !skipped; i++)
      skipped = strcmp(skip[i], s) == 0;
    if (!skipped) ok = oc_packstore_copy_file(s, t, errstr, errstr_size);
  }
  closedir(d);
  return ok;
}

bool oc_packstore_copy_dir(const char *src, const char *dst, const char *const *skip, size_t nskip,
                           char *errstr, size_t errstr_size) {
  return oc_packstore_copy_walk(src, dst, skip, nskip, 0, errstr, errstr_size);
}

static void oc_packstore_rm_walk(const char *dir, int depth) {
  DIR *d = opendir(dir);
  struct dirent *de;
  if (!d) return;
  while ((de = readdir(d))) {
    char p[4096];
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode) && depth < OC_PACK_MAX_DIR_DEPTH + 4)
      oc_packstore_rm_walk(p, depth + 1);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

void oc_packstore_remove_dir(const char *dir) {
  if (dir && dir[0]) oc_packstore_rm_walk(dir, 0);
}

static uint64_t oc_packstore_fp_walk(const char *dir, int depth, uint64_t h) {
  DIR *d = opendir(dir);
  struct dirent *de;
  if (!d) return h;
  while ((de = readdir(d))) {
    char p[4096];
    struct stat st;
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
    if (stat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < OC_PACK_MAX_DIR_DEPTH) h = oc_packstore_fp_walk(p, depth + 1, h);
      continue;
    }
    /* order-independent: readdir order is not stable */
    uint64_t parts[3] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                         (uint64_t)st.st_mtim.tv_nsec};
    h += oc_hash64(parts, sizeof(parts)) ^ oc_hash64(p, strlen(p));
  }
  closedir(d);
  return h;
}

uint64_t oc_packstore_dir_fingerprint(const char *dir) {
  struct stat st;
  if (!dir || !dir[0] || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  uint64_t h = oc_packstore_fp_walk(dir, 0, 0x9e3779b97f4a7c15ULL);
  return h ? h : 1;
}

/* ---- the notice -------------------------------------------------------------------- */

oc_err_t oc_packstore_notify(oc_redis_t *redis, const char *pack_id, long long *receivers,
                             char *errstr, size_t errstr_size) {
  redisReply *reply = NULL;
  oc_err_t err = oc_redis_cmd(redis, &reply, errstr, errstr_size, "PUBLISH %s %s",
                              OC_PACKSTORE_CHANNEL, pack_id);
  if (err) return err;
  if (receivers) *receivers = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  freeReplyObject(reply);
  return OC_OK;
}

struct oc_packstore_watch {
  oc_redis_t *redis;
  bool subscribed;
  int64_t next_try_us;
};

oc_packstore_watch_t *oc_packstore_watch_new(const char *redis_url, char *errstr,
                                             size_t errstr_size) {
  oc_packstore_watch_t *w = calloc(1, sizeof(*w));
  if (!w) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  w->redis = oc_redis_new(redis_url, errstr, errstr_size);
  if (!w->redis) {
    free(w);
    return NULL;
  }
  return w;
}

void oc_packstore_watch_destroy(oc_packstore_watch_t *w) {
  if (!w) return;
  oc_redis_destroy(w->redis);
  free(w);
}

oc_err_t oc_packstore_watch_poll(oc_packstore_watch_t *w, bool *changed, char *errstr,
                                 size_t errstr_size) {
  *changed = false;
  if (!w->subscribed) {
    int64_t now = oc_monotonic_us();
    redisReply *reply = NULL;
    if (now < w->next_try_us) {
      snprintf(errstr, errstr_size, "not subscribed to %s", OC_PACKSTORE_CHANNEL);
      return OC_ERR_UNAVAILABLE;
    }
    w->next_try_us = now + 1000000;
    /* a context left in subscribe mode is unusable for a new SUBSCRIBE's reply check */
    redisContext *old = oc_redis_context(w->redis);
    if (old && !old->err) old->err = REDIS_ERR_EOF;
    oc_err_t err =
        oc_redis_cmd(w->redis, &reply, errstr, errstr_size, "SUBSCRIBE %s", OC_PACKSTORE_CHANNEL);
    if (err) return err == OC_ERR_INVALID ? OC_ERR_UNAVAILABLE : err;
    freeReplyObject(reply);
    w->subscribed = true;
    *changed = true; /* notices sent while we were away are lost: check now */
    return OC_OK;
  }
  redisContext *c = oc_redis_context(w->redis);
  if (!c || c->err) {
    w->subscribed = false;
    snprintf(errstr, errstr_size, "lost the subscription to %s", OC_PACKSTORE_CHANNEL);
    return OC_ERR_UNAVAILABLE;
  }
  for (int rounds = 0; rounds < 64; rounds++) {
    void *r = NULL;
    if (redisGetReplyFromReader(c, &r) != REDIS_OK) goto lost;
    if (r) {
      redisReply *rep = r;
      if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
          rep->element[0]->type == REDIS_REPLY_STRING &&
          strcmp(rep->element[0]->str, "message") == 0)
        *changed = true;
      freeReplyObject(rep);
      continue;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) <= 0) break;
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL) && !(pfd.revents & POLLIN)) goto lost;
    if (redisBufferRead(c) != REDIS_OK) goto lost;
  }
  return OC_OK;
lost:
  if (!c->err) c->err = REDIS_ERR_EOF;
  w->subscribed = false;
  snprintf(errstr, errstr_size, "lost the subscription to %s: %s", OC_PACKSTORE_CHANNEL,
           c->errstr[0] ? c->errstr : "connection closed");
  *changed = true;
  return OC_ERR_UNAVAILABLE;
}
