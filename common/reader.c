/* reader.c: streaming, decompressing line reader for input files.
 *
 * Memory is fixed whatever the file size: a 256 KiB input buffer, a 256 KiB decompressed
 * buffer (plain files use one buffer for both), the codec's state (zstd windows are
 * capped), and a line buffer that only grows, up to max_line, for lines that span a
 * refill. A line longer than max_line is skipped as it streams past, never buffered.
 *
 * Lines that lie wholly inside the decompressed buffer are handed out in place (no copy).
 * Decoding errors are deferred until the bytes decoded before them have been read, so the
 * lines before the damage are still returned. */
#include "common/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define OC_READER_BUF (256 * 1024)
#define OC_READER_PEEK_MAX 4096
/* 16 MiB: enough for every zstd level up to 19 (level 19 uses 8 MiB); --long=27 frames
 * are refused instead of allocating 128 MiB per reader. */
#define OC_READER_ZSTD_WINDOW_LOG_MAX 24

struct oc_reader {
  int fd;
  oc_compress_t comp;
  size_t max_line;

  unsigned char *in; /* compressed bytes (plain: the only buffer, out aliases it) */
  size_t in_pos, in_len;
  bool in_eof;

  char *out; /* decompressed bytes not yet consumed: out[out_pos, out_len) */
  size_t out_pos, out_len;

  z_stream zs;
  bool zs_ready;
  bool member_open; /* inside a gzip member */
  ZSTD_DCtx *zd;
  bool frame_open; /* inside a zstd frame */

  bool started; /* BOM check done */
  bool done;    /* the decompressed stream ended cleanly */
  oc_err_t err; /* terminal error (OC_ERR_DECODE, OC_ERR_IO, OC_ERR_NOMEM) */
  char errmsg[256];

  char *line; /* a line that spanned a refill; at most max_line bytes */
  size_t line_cap, line_len;

  uint64_t line_no, bytes_in, bytes_out;
};

static oc_err_t oc_reader_fail(oc_reader_t *r, oc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static oc_err_t oc_reader_fail(oc_reader_t *r, oc_err_t err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
  va_end(ap);
  r->err = err;
  return err;
}

/* Reads more compressed input into r->in (after dropping what was consumed). */
static oc_err_t oc_reader_read_in(oc_reader_t *r) {
  ssize_t n;
  if (r->in_pos == r->in_len) r->in_pos = r->in_len = 0;
  if (r->in_len == OC_READER_BUF) return OC_OK;
  do {
    n = read(r->fd, r->in + r->in_len, OC_READER_BUF - r->in_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return oc_reader_fail(r, OC_ERR_IO, "could not read input: %s", strerror(errno));
  if (n == 0) r->in_eof = true;
  r->in_len += (size_t)n;
  r->bytes_in += (uint64_t)n;
  return OC_OK;
}

static oc_err_t oc_reader_more_plain(oc_reader_t *r) {
  ssize_t n;
  do {
    n = read(r->fd, r->out + r->out_len, OC_READER_BUF - r->out_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return oc_reader_fail(r, OC_ERR_IO, "could not read input: %s", strerror(errno));
  if (n == 0) {
    r->done = true;
    return OC_ERR_EOF;
  }
  r->out_len += (size_t)n;
  r->bytes_in += (uint64_t)n;
  r->bytes_out += (uint64_t)n;
  return OC_OK;
}

static oc_err_t oc_reader_more_gzip(oc_reader_t *r) {
  for (;;) {
    size_t in_avail, out_space, used, made;
    int ret;
    if (r->in_pos == r->in_len && !r->in_eof) {
      if (oc_reader_read_in(r)) return r->err;
      continue;
    }
    if (!r->member_open) {
      if (r->in_pos == r->in_len) { /* input ended between members: a clean end */
        r->done = true;
        return OC_ERR_EOF;
      }
      /* Concatenated members (gzip a b > c, pigz, log shippers appending) are one
       * stream: every member is read. */
      if (inflateReset(&r->zs) != Z_OK)
        return oc_reader_fail(r, OC_ERR_DECODE, "corrupt gzip stream: cannot reset");
      r->member_open = true;
    }
    in_avail = r->in_len - r->in_pos;
    out_space = OC_READER_BUF - r->out_len;
    r->zs.next_in = r->in + r->in_pos;
    r->zs.avail_in = (uInt)in_avail;
    r->zs.next_out = (unsigned char *)r->out + r->out_len;
    r->zs.avail_out = (uInt)out_space;
    ret = inflate(&r->zs, Z_NO_FLUSH);
    used = in_avail - r->zs.avail_in;
    made = out_space - r->zs.avail_out;
    r->in_pos += used;
    r->out_len += made;
    r->bytes_out += made;
    if (ret == Z_STREAM_END) {
      r->member_open = false;
      if (made) return OC_OK;
      continue;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR)
      return oc_reader_fail(r, OC_ERR_DECODE, "corrupt gzip stream after %llu bytes: %s",
                            (unsigned long long)r->bytes_in,
                            r->zs.msg ? r->zs.msg : "inflate failed");
    if (made) return OC_OK;
    if (used) continue;
    if (r->in_pos < r->in_len) /* cannot happen with output space; do not spin */
      return oc_reader_fail(r, OC_ERR_DECODE, "corrupt gzip stream: inflate made no progress");
    if (r->in_eof)
      return oc_reader_fail(r, OC_ERR_DECODE, "truncated gzip stream after %llu bytes",
                            (unsigned long long)r->bytes_in);
  }
}

static oc_err_t oc_reader_more_zstd(oc_reader_t *r) {
  for (;;) {
    ZSTD_inBuffer ib;
    ZSTD_outBuffer ob;
    size_t ret, used, made;
    if (r->in_pos == r->in_len && !r->in_eof) {
      if (oc_reader_read_in(r)) return r->err;
      continue;
    }
    if (r->in_pos == r->in_len && !r->frame_open) {
      r->done = true;
      return OC_ERR_EOF;
    }
    ib = (ZSTD_inBuffer){r->in, r->in_len, r->in_pos};
    ob = (ZSTD_outBuffer){r->out, OC_READER_BUF, r->out_len};
    /* Frames follow each other in one stream; the context starts the next by itself. */
    ret = ZSTD_decompressStream(r->zd, &ob, &ib);
    if (ZSTD_isError(ret)) {
      if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
        return oc_reader_fail(r, OC_ERR_DECODE,
                              "corrupt zstd frame: needs a window larger than %d MiB",
                              1 << (OC_READER_ZSTD_WINDOW_LOG_MAX - 20));
      return oc_reader_fail(r, OC_ERR_DECODE, "corrupt zstd frame after %llu bytes: %s",
                            (unsigned long long)r->bytes_in, ZSTD_getErrorName(ret));
    }
    used = ib.pos - r->in_pos;
    made = ob.pos - r->out_len;
    r->in_pos = ib.pos;
    r->out_len = ob.pos;
    r->bytes_out += made;
    r->frame_open = ret != 0;
    if (made) return OC_OK;
    if (used) continue;
    if (r->in_pos < r->in_len)
      return oc_reader_fail(r, OC_ERR_DECODE, "corrupt zstd frame: no progress");
    if (r->in_eof)
      return oc_reader_fail(r, OC_ERR_DECODE, "truncated zstd stream after %llu bytes",
                            (unsigned long long)r->bytes_in);
  }
}

/* Appends decompressed bytes after the unconsumed ones. OC_OK when at least one byte was
 * added, OC_ERR_EOF at a clean end, else the terminal error (again on every call). */
static oc_err_t oc_reader_more(oc_reader_t *r) {
  if (r->err) return r->err;
  if (r->done) return OC_ERR_EOF;
  if (r->out_pos > 0) {
    memmove(r->out, r->out + r->out_pos, r->out_len - r->out_pos);
    r->out_len -= r->out_pos;
    r->out_pos = 0;
  }
  if (r->out_len == OC_READER_BUF) return OC_OK; /* full already */
  switch (r->comp) {
    case OC_COMPRESS_GZIP:
      return oc_reader_more_gzip(r);
    case OC_COMPRESS_ZSTD:
      return oc_reader_more_zstd(r);
    default:
      return oc_reader_more_plain(r);
  }
}

/* Strips a UTF-8 byte order mark at the very start of the decompressed stream. */
static void oc_reader_start(oc_reader_t *r) {
  if (r->started) return;
  r->started = true;
  while (r->out_len - r->out_pos < 3) {
    if (oc_reader_more(r) != OC_OK) break;
  }
  if (r->out_len - r->out_pos >= 3 && memcmp(r->out + r->out_pos, "\xEF\xBB\xBF", 3) == 0)
    r->out_pos += 3;
}

static const char *oc_reader_unsupported(const unsigned char *b, size_t n) {
  if (n >= 6 && memcmp(b,
                       "\xFD"
                       "7zXZ\0",
                       6) == 0)
    return "xz";
  if (n >= 3 && memcmp(b, "BZh", 3) == 0 && n >= 4 && b[3] >= '1' && b[3] <= '9') return "bzip2";
  if (n >= 4 && memcmp(b, "\x04\x22\x4D\x18", 4) == 0) return "lz4";
  if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) return "zip";
  return NULL;
}

oc_reader_t *oc_reader_new_fd(int fd, size_t max_line, char *errstr, size_t errstr_size) {
  oc_reader_t *r = NULL;
  const char *other;
  if (max_line == 0) {
    if (errstr_size) snprintf(errstr, errstr_size, "invalid reader: max_line must be positive");
    goto fail;
  }
  r = calloc(1, sizeof(*r));
  if (!r) goto nomem;
  r->fd = fd;
  r->max_line = max_line;
  r->in = malloc(OC_READER_BUF);
  if (!r->in) goto nomem;
  /* Enough bytes to recognise the format by its magic, not by its name. */
  while (r->in_len < 6 && !r->in_eof) {
    if (oc_reader_read_in(r)) {
      if (errstr_size) snprintf(errstr, errstr_size, "%s", r->errmsg);
      goto fail;
    }
  }
  if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
    r->comp = OC_COMPRESS_GZIP;
  } else if (r->in_len >= 4 &&
             ((memcmp(r->in, "\x28\xB5\x2F\xFD", 4) == 0) ||
              ((r->in[0] & 0xF0) == 0x50 && memcmp(r->in + 1, "\x2A\x4D\x18", 3) == 0))) {
    r->comp = OC_COMPRESS_ZSTD; /* a frame, or a skippable frame before one */
  } else {
    r->comp = OC_COMPRESS_NONE;
  }
  if (r->comp == OC_COMPRESS_NONE) {
    r->out = (char *)r->in;
    r->out_len = r->in_len;
    r->bytes_out = r->in_len;
    r->done = r->in_eof;
    other = oc_reader_unsupported(r->in, r->in_len);
    if (other) { /* refuse it whole rather than split compressed bytes into lines */
      r->out_len = 0;
      oc_reader_fail(r, OC_ERR_DECODE, "unsupported compression: %s (gzip and zstd are read)",
                     other);
    }
    return r;
  }
  r->out = malloc(OC_READER_BUF);
  if (!r->out) goto nomem;
  if (r->comp == OC_COMPRESS_GZIP) {
    /* 15+32: a gzip or zlib header, detected by zlib. */
    if (inflateInit2(&r->zs, 15 + 32) != Z_OK) goto nomem;
    r->zs_ready = true;
  } else {
    r->zd = ZSTD_createDCtx();
    if (!r->zd) goto nomem;
    if (ZSTD_isError(
            ZSTD_DCtx_setParameter(r->zd, ZSTD_d_windowLogMax, OC_READER_ZSTD_WINDOW_LOG_MAX)))
      goto nomem;
  }
  return r;
nomem:
  if (errstr_size) snprintf(errstr, errstr_size, "could not create reader: out of memory");
fail:
  if (r) {
    oc_reader_destroy(r); /* closes fd */
  } else if (fd >= 0) {
    close(fd);
  }
  return NULL;
}

oc_reader_t *oc_reader_open(const char *path, size_t max_line, char *errstr, size_t errstr_size) {
  struct stat st;
  int fd, saved;
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    saved = errno;
    if (errstr_size)
      snprintf(errstr, errstr_size, "could not open \"%s\": %s", path,
               saved == ELOOP ? "is a symbolic link" : strerror(saved));
    errno = saved; /* callers tell ENOENT (permanent) from the rest */
    return NULL;
  }
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    if (errstr_size) snprintf(errstr, errstr_size, "could not open \"%s\": is a directory", path);
    errno = EISDIR;
    return NULL;
  }
  oc_reader_t *r = oc_reader_new_fd(fd, max_line, errstr, errstr_size);
  if (!r && errstr_size) {
    char why[256];
    snprintf(why, sizeof(why), "%s", errstr);
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", path, why);
  }
  return r;
}

void oc_reader_destroy(oc_reader_t *r) {
  if (!r) return;
  if (r->fd >= 0) close(r->fd);
  if (r->zs_ready) inflateEnd(&r->zs);
  ZSTD_freeDCtx(r->zd);
  if (r->out != (char *)r->in) free(r->out);
  free(r->in);
  free(r->line);
  free(r);
}

oc_compress_t oc_reader_compression(const oc_reader_t *r) {
  return r->comp;
}

/* Keeps up to max_line bytes of a line that spans refills; counts the rest in *extra
 * without storing it. *extra_cr tells whether the last byte beyond the limit was '\r'. */
static oc_err_t oc_reader_append(oc_reader_t *r, const char *p, size_t n, size_t *extra,
                                 bool *extra_cr) {
  size_t room = r->max_line - r->line_len;
  size_t take = n < room ? n : room;
  if (take) {
    size_t need = r->line_len + take;
    if (need > r->line_cap) {
      size_t cap = r->line_cap ? r->line_cap * 2 : 4096;
      char *nl;
      if (cap < need) cap = need;
      if (cap > r->max_line) cap = r->max_line;
      nl = realloc(r->line, cap);
      if (!nl) return oc_reader_fail(r, OC_ERR_NOMEM, "could not grow line buffer");
      r->line = nl;
      r->line_cap = cap;
    }
    memcpy(r->line + r->line_len, p, take);
    r->line_len += take;
  }
  if (n > take) {
    *extra += n - take;
    *extra_cr = p[n - 1] == '\r';
  }
  return OC_OK;
}

static oc_err_t oc_reader_finish_line(oc_reader_t *r, size_t extra, bool extra_cr,
                                      const char **line, size_t *len) {
  r->line_no++;
  *line = r->line ? r->line : "";
  if (extra == 0) {
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r') r->line_len--;
    *len = r->line_len;
    return OC_OK;
  }
  *len = r->line_len;
  /* Exactly max_line bytes of content, then CR LF. */
  if (extra == 1 && extra_cr) return OC_OK;
  return OC_ERR_LIMIT;
}

oc_err_t oc_reader_next_line(oc_reader_t *r, const char **line, size_t *len) {
  size_t extra = 0;
  bool extra_cr = false, partial = false;
  oc_err_t err;
  *line = NULL;
  *len = 0;
  oc_reader_start(r);
  r->line_len = 0;
  for (;;) {
    size_t avail = r->out_len - r->out_pos, n;
    char *p = r->out + r->out_pos;
    char *nl;
    if (avail == 0) {
      err = oc_reader_more(r);
      if (err == OC_OK) continue;
      /* A last line without a newline counts at a clean end, not before damage. */
      if (err == OC_ERR_EOF && partial) return oc_reader_finish_line(r, extra, extra_cr, line, len);
      return err;
    }
    nl = memchr(p, '\n', avail);
    n = nl ? (size_t)(nl - p) : avail;
    if (nl && !partial) { /* the whole line is in the buffer: hand it out in place */
      r->out_pos += n + 1;
      r->line_no++;
      if (n > 0 && p[n - 1] == '\r') n--;
      *line = p;
      if (n > r->max_line) {
        *len = r->max_line;
        return OC_ERR_LIMIT;
      }
      *len = n;
      return OC_OK;
    }
    err = oc_reader_append(r, p, n, &extra, &extra_cr);
    if (err) return err;
    partial = true;
    r->out_pos += n + (nl ? 1 : 0);
    if (nl) return oc_reader_finish_line(r, extra, extra_cr, line, len);
  }
}

uint64_t oc_reader_line_no(const oc_reader_t *r) {
  return r->line_no;
}

oc_err_t oc_reader_fill(oc_reader_t *r, const char **p, size_t *avail) {
  oc_err_t err;
  oc_reader_start(r);
  while (r->out_pos == r->out_len) {
    err = oc_reader_more(r);
    if (err) {
      *p = NULL;
      *avail = 0;
      return err;
    }
  }
  *p = r->out + r->out_pos;
  *avail = r->out_len - r->out_pos;
  return OC_OK;
}

void oc_reader_consume(oc_reader_t *r, size_t n) {
  size_t avail = r->out_len - r->out_pos;
  r->out_pos += n < avail ? n : avail;
}

size_t oc_reader_peek(oc_reader_t *r, const char **p, size_t n) {
  size_t avail;
  if (n > OC_READER_PEEK_MAX) n = OC_READER_PEEK_MAX;
  oc_reader_start(r);
  while (r->out_len - r->out_pos < n) {
    if (oc_reader_more(r) != OC_OK) break;
  }
  avail = r->out_len - r->out_pos;
  *p = r->out + r->out_pos;
  return avail < n ? avail : n;
}

const char *oc_reader_error(const oc_reader_t *r) {
  return r->errmsg;
}

uint64_t oc_reader_bytes_out(const oc_reader_t *r) {
  return r->bytes_out;
}

uint64_t oc_reader_bytes_in(const oc_reader_t *r) {
  return r->bytes_in;
}
