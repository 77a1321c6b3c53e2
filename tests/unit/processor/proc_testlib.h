/* proc_testlib.h: small helpers for the log-processor unit tests: temporary
 * directories, files, gzip/zstd compression and reading lake files back. */
#ifndef OC_PROC_TESTLIB_H
#define OC_PROC_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/reader.h"

static inline void tl_mkdirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(tmp, 0755);
      *p = '/';
    }
  }
  mkdir(tmp, 0755);
}

/* Writes data to path, creating the directories above it. */
static inline void tl_write(const char *path, const void *data, size_t len) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    tl_mkdirs(dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  if (len && fwrite(data, 1, len, f) != len) exit(2);
  fclose(f);
}

/* gzip of data (malloc'd; *out_len). */
static inline unsigned char *tl_gzip(const void *data, size_t len, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(2);
  size_t cap = deflateBound(&zs, len) + 64;
  unsigned char *out = malloc(cap);
  zs.next_in = (unsigned char *)data;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) exit(2);
  *out_len = zs.total_out;
  deflateEnd(&zs);
  return out;
}

static inline unsigned char *tl_zstd(const void *data, size_t len, size_t *out_len) {
  size_t cap = ZSTD_compressBound(len);
  unsigned char *out = malloc(cap);
  size_t n = ZSTD_compress(out, cap, data, len, 3);
  if (ZSTD_isError(n)) exit(2);
  *out_len = n;
  return out;
}

typedef struct {
  char **v;
  size_t n, cap;
} tl_lines_t;

static inline void tl_lines_free(tl_lines_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* Appends every line of a (zstd) file to l. Returns the number read, -1 on error. */
static inline long tl_read_lines(const char *path, tl_lines_t *l) {
  char err[512];
  const char *line;
  size_t len;
  long n = 0;
  oc_reader_t *r = oc_reader_open(path, 64 * 1024 * 1024, err, sizeof(err));
  if (!r) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  oc_err_t rc;
  while ((rc = oc_reader_next_line(r, &line, &len)) == OC_OK) {
    if (l->n == l->cap) {
      l->cap = l->cap ? l->cap * 2 : 64;
      l->v = realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n] = malloc(len + 1);
    memcpy(l->v[l->n], line, len);
    l->v[l->n][len] = '\0';
    l->n++;
    n++;
  }
  oc_reader_destroy(r);
  return rc == OC_ERR_EOF ? n : -1;
}

static inline char *tl_tmpdir(const char *tag) {
  char *d = malloc(256);
  snprintf(d, 256, "/tmp/oc-%s-XXXXXX", tag);
  if (!mkdtemp(d)) exit(2);
  return d;
}

static inline void tl_rmrf(const char *dir) {
  char cmd[512];
  if (strncmp(dir, "/tmp/oc-", 8) != 0) return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
