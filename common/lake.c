/* lake.c: lake keys, the atomic zstd file writer, and object path confinement.
 *
 * A file becomes visible only complete: it is written to "<final>.tmp-<pid>", fsynced,
 * renamed over the final name (so a rewrite of the same deterministic name replaces the
 * old file) and the directory is fsynced so the rename survives a crash. */
#include "common/lake.h"

#define OC_LAKE_ZSTD_WINDOW_LOG 17

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

/* Event times are clamped to years 0000..9999 so keys keep their fixed shape whatever a
 * log line claims. */
#define OC_LAKE_MIN_SEC (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define OC_LAKE_MAX_SEC (253402300799LL) /* 9999-12-31T23:59:59Z */

struct oc_lake_writer {
  char *key;        /* relative key */
  char *final_path; /* root/key */
  char *tmp_path;   /* final_path.tmp-<pid> */
  int fd;
  ZSTD_CCtx *cctx;
  char *in; /* lines staged before compression */
  size_t in_len, in_cap;
  char *out; /* compressed bytes before write(2) */
  size_t out_cap;
  uint64_t rows, bytes;
  oc_err_t err; /* sticky: the first write or compression failure */
  char errmsg[256];
};

void oc_lake_table_name(const char *log_type, char *out, size_t out_size) {
  size_t i = 0;
  if (!out || out_size == 0) return;
  for (; log_type && log_type[i] && i + 1 < out_size; i++) {
    unsigned char c = (unsigned char)log_type[i];
    if (c >= 'A' && c <= 'Z')
      out[i] = (char)(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
      out[i] = (char)c;
    else /* '.', and anything else that must not reach a path */
      out[i] = '_';
  }
  out[i] = '\0';
}

void oc_lake_key(char *out, size_t out_size, const char *kind, const char *table,
                 int64_t event_time_us, const char *name) {
  struct tm tm;
  time_t t;
  int64_t sec = event_time_us / 1000000;
  if (event_time_us % 1000000 < 0) sec--; /* floor, for times before 1970 */
  if (sec < OC_LAKE_MIN_SEC) sec = OC_LAKE_MIN_SEC;
  if (sec > OC_LAKE_MAX_SEC) sec = OC_LAKE_MAX_SEC;
  t = (time_t)sec;
  if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof(tm));
  snprintf(out, out_size, "%s/%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s.json.zst", kind, table,
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, name);
}

/* A name used as one path component of a lake key. */
static bool oc_lake_component_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.' || c == '='))
      return false;
  }
  return true;
}

/* mkdir -p for the directory part of path (everything before the last '/'). */
static int oc_lake_mkdirs(char *path) {
  char *slash = strrchr(path, '/');
  struct stat st;
  if (!slash || slash == path) return 0;
  *slash = '\0';
  if (stat(path, &st) == 0) {
    *slash = '/';
    if (!S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return -1;
    }
    return 0;
  }
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      *p = '/';
      *slash = '/';
      return -1;
    }
    *p = '/';
  }
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    *slash = '/';
    return -1;
  }
  *slash = '/';
  return 0;
}

static char *oc_lake_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *oc_lake_strdupf(const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

static void oc_lake_writer_free(oc_lake_writer_t *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  ZSTD_freeCCtx(w->cctx);
  free(w->in);
  free(w->out);
  free(w->key);
  free(w->final_path);
  free(w->tmp_path);
  free(w);
}

oc_lake_writer_t *oc_lake_writer_open(const char *root, const char *kind, const char *table,
                                      int64_t event_time_us, const char *name, int zstd_level,
                                      char *errstr, size_t errstr_size) {
  oc_lake_writer_t *w = NULL;
  char key[PATH_MAX];
  if (!root || !root[0] || !kind || !oc_lake_component_ok(kind) || !table ||
      !oc_lake_component_ok(table) || !name || !oc_lake_component_ok(name)) {
    if (errstr_size)
      snprintf(errstr, errstr_size,
               "invalid lake file: bad root, kind \"%s\", table \"%s\" or "
               "name \"%s\"",
               kind ? kind : "", table ? table : "", name ? name : "");
    return NULL;
  }
  if (zstd_level < OC_LAKE_ZSTD_MIN || zstd_level > OC_LAKE_ZSTD_MAX || zstd_level == 0) {
    if (errstr_size)
      snprintf(errstr, errstr_size, "invalid zstd level %d: expected %d..-1 or 1..%d", zstd_level,
               OC_LAKE_ZSTD_MIN, OC_LAKE_ZSTD_MAX);
    return NULL;
  }
  oc_lake_key(key, sizeof(key), kind, table, event_time_us, name);
  w = calloc(1, sizeof(*w));
  if (!w) goto nomem;
  w->fd = -1;
  w->key = strdup(key);
  w->final_path = oc_lake_strdupf("%s/%s", root, key);
  w->tmp_path = w->final_path ? oc_lake_strdupf("%s.tmp-%ld", w->final_path, (long)getpid()) : NULL;
  w->in_cap = ZSTD_CStreamInSize();
  w->out_cap = ZSTD_CStreamOutSize();
  w->in = malloc(w->in_cap);
  w->out = malloc(w->out_cap);
  w->cctx = ZSTD_createCCtx();
  if (!w->key || !w->final_path || !w->tmp_path || !w->in || !w->out || !w->cctx) goto nomem;
  if (strlen(w->tmp_path) >= PATH_MAX) {
    if (errstr_size) snprintf(errstr, errstr_size, "lake path too long: \"%s\"", w->final_path);
    goto fail;
  }
  /* A processor keeps up to 64 lake files open (one per log type and hour of an object);
   * a 128 KiB window keeps each compressor near 0.3 MB instead of ~1 MB, at little cost
   * in ratio for JSON lines. */
  if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, zstd_level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, OC_LAKE_ZSTD_WINDOW_LOG)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
    if (errstr_size) snprintf(errstr, errstr_size, "could not set up zstd level %d", zstd_level);
    goto fail;
  }
  if (oc_lake_mkdirs(w->tmp_path) != 0) {
    if (errstr_size)
      snprintf(errstr, errstr_size, "could not create directory for \"%s\": %s", w->final_path,
               strerror(errno));
    goto fail;
  }
  w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (w->fd < 0) {
    if (errstr_size)
      snprintf(errstr, errstr_size, "could not create \"%s\": %s", w->tmp_path, strerror(errno));
    goto fail;
  }
  return w;
nomem:
  if (errstr_size) snprintf(errstr, errstr_size, "could not open lake file: out of memory");
fail:
  oc_lake_writer_free(w);
  return NULL;
}

static oc_err_t oc_lake_write_all(oc_lake_writer_t *w, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(w->fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      w->err = OC_ERR_IO;
      snprintf(w->errmsg, sizeof(w->errmsg), "could not write \"%s\": %s", w->tmp_path,
               strerror(errno));
      return w->err;
    }
    p += k;
    n -= (size_t)k;
    w->bytes += (uint64_t)k;
  }
  return OC_OK;
}

/* Compresses src (may be empty) and writes what zstd hands back. With ZSTD_e_end it
 * loops until the frame is complete. */
static oc_err_t oc_lake_compress(oc_lake_writer_t *w, const char *src, size_t n,
                                 ZSTD_EndDirective mode) {
  ZSTD_inBuffer ib = {src, n, 0};
  for (;;) {
    ZSTD_outBuffer ob = {w->out, w->out_cap, 0};
    size_t left = ZSTD_compressStream2(w->cctx, &ob, &ib, mode);
    if (ZSTD_isError(left)) {
      w->err = OC_ERR_INTERNAL;
      snprintf(w->errmsg, sizeof(w->errmsg), "could not compress \"%s\": %s", w->tmp_path,
               ZSTD_getErrorName(left));
      return w->err;
    }
    if (ob.pos && oc_lake_write_all(w, w->out, ob.pos)) return w->err;
    if (mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size) return OC_OK;
  }
}

oc_err_t oc_lake_writer_append(oc_lake_writer_t *w, const char *line, size_t len) {
  if (w->err) return w->err;
  /* One event per line: an embedded newline would split it in two for every reader. */
  if (memchr(line, '\n', len)) return OC_ERR_INVALID;
  if (w->in_len + len + 1 > w->in_cap) {
    if (w->in_len && oc_lake_compress(w, w->in, w->in_len, ZSTD_e_continue)) return w->err;
    w->in_len = 0;
    if (len + 1 > w->in_cap) { /* a big line goes straight to zstd */
      if (oc_lake_compress(w, line, len, ZSTD_e_continue) ||
          oc_lake_compress(w, "\n", 1, ZSTD_e_continue))
        return w->err;
      w->rows++;
      return OC_OK;
    }
  }
  memcpy(w->in + w->in_len, line, len);
  w->in[w->in_len + len] = '\n';
  w->in_len += len + 1;
  w->rows++;
  return OC_OK;
}

uint64_t oc_lake_writer_rows(const oc_lake_writer_t *w) {
  return w->rows;
}

static int oc_lake_fsync_dir(const char *path) {
  char *dir = strdup(path);
  char *slash;
  int fd, rc = -1, saved;
  if (!dir) return -1;
  slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    strcpy(dir, ".");
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    rc = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
  }
  saved = errno;
  free(dir);
  errno = saved;
  return rc;
}

oc_err_t oc_lake_writer_commit(oc_lake_writer_t *w, char *key_out, size_t key_out_size,
                               uint64_t *bytes, char *errstr, size_t errstr_size) {
  oc_err_t err = w->err;
  if (!err && oc_lake_compress(w, w->in, w->in_len, ZSTD_e_end)) err = w->err;
  w->in_len = 0;
  if (!err && fsync(w->fd) != 0) {
    err = OC_ERR_IO;
    snprintf(w->errmsg, sizeof(w->errmsg), "could not fsync \"%s\": %s", w->tmp_path,
             strerror(errno));
  }
  if (!err) {
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0) {
      err = OC_ERR_IO;
      snprintf(w->errmsg, sizeof(w->errmsg), "could not close \"%s\": %s", w->tmp_path,
               strerror(errno));
    }
  }
  if (!err && rename(w->tmp_path, w->final_path) != 0) {
    err = OC_ERR_IO;
    snprintf(w->errmsg, sizeof(w->errmsg), "could not rename \"%s\" to \"%s\": %s", w->tmp_path,
             w->final_path, strerror(errno));
  }
  if (err) {
    if (errstr_size) snprintf(errstr, errstr_size, "%s", w->errmsg);
    unlink(w->tmp_path);
    oc_lake_writer_free(w);
    return err;
  }
  /* The file is in place; a failed directory fsync only weakens crash durability of
   * the rename, and the file must not be removed now, so it is reported, not undone. */
  if (oc_lake_fsync_dir(w->final_path) != 0) {
    err = OC_ERR_IO;
    if (errstr_size)
      snprintf(errstr, errstr_size, "could not fsync directory of \"%s\": %s", w->final_path,
               strerror(errno));
  }
  if (key_out && key_out_size) snprintf(key_out, key_out_size, "%s", w->key);
  if (bytes) *bytes = w->bytes;
  oc_lake_writer_free(w);
  return err;
}

void oc_lake_writer_abort(oc_lake_writer_t *w) {
  if (!w) return;
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  unlink(w->tmp_path);
  oc_lake_writer_free(w);
}

oc_err_t oc_lake_confine(const char *root, const char *bucket, const char *key, char *out,
                         size_t out_size, char *errstr, size_t errstr_size) {
  const char *why = NULL;
  size_t need;
  if (out && out_size) out[0] = '\0';
  if (!root || !root[0]) {
    why = "empty object root";
  } else if (!bucket || !bucket[0]) {
    why = "empty bucket";
  } else if (strchr(bucket, '/') || strchr(bucket, '\\')) {
    why = "bucket contains a path separator";
  } else if (strcmp(bucket, ".") == 0 || strcmp(bucket, "..") == 0) {
    why = "bucket is \".\" or \"..\"";
  } else if (!key || !key[0]) {
    why = "empty key";
  } else if (key[0] == '/') {
    why = "absolute key";
  } else if (strchr(key, '\\')) {
    why = "key contains a backslash";
  } else {
    for (const char *p = key; !why;) {
      const char *slash = strchr(p, '/');
      size_t n = slash ? (size_t)(slash - p) : strlen(p);
      if (n == 0)
        why = "key has an empty path component";
      else if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        why = "key has a \".\" or \"..\" path component";
      if (!slash) break;
      p = slash + 1;
    }
  }
  if (!why) {
    need = strlen(root) + 1 + strlen(bucket) + 1 + strlen(key) + 1;
    if (need > PATH_MAX)
      why = "path too long";
    else if (!out || need > out_size)
      why = "path too long for the output buffer";
  }
  if (why) {
    /* The key came from outside: quote at most a bounded prefix of it. */
    if (errstr_size)
      snprintf(errstr, errstr_size, "refused object path \"%.200s/%.200s\": %s",
               bucket ? bucket : "", key ? key : "", why);
    return OC_ERR_INVALID;
  }
  snprintf(out, out_size, "%s/%s/%s", root, bucket, key);
  return OC_OK;
}
