/* test_reader.c: the streaming reader over plain, gzip and zstd input, damaged input,
 * line edge cases, the line-length limit and the byte-level API. */
#include "common/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "oc_test.h"

static char tmpdir[] = "/tmp/oc-test-reader-XXXXXX";
static int file_seq;

/* Writes data to a new file in tmpdir and returns its path (static buffer per call). */
static const char *put_file(const void *data, size_t n) {
  static char path[4][256];
  char *p = path[file_seq % 4];
  FILE *f;
  snprintf(p, 256, "%s/f%d", tmpdir, file_seq++);
  f = fopen(p, "wb");
  if (!f) abort();
  if (n && fwrite(data, 1, n, f) != n) abort();
  fclose(f);
  return p;
}

typedef struct {
  char *p;
  size_t n, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

/* One gzip member holding src. */
static void gzip_member(bytes_t *out, const char *src, size_t n) {
  z_stream zs;
  unsigned char buf[65536];
  int ret;
  memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  zs.next_in = (unsigned char *)src;
  zs.avail_in = (uInt)n;
  do {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    ret = deflate(&zs, Z_FINISH);
    bytes_add(out, buf, sizeof(buf) - zs.avail_out);
  } while (ret == Z_OK);
  if (ret != Z_STREAM_END) abort();
  deflateEnd(&zs);
}

static void zstd_frame(bytes_t *out, const char *src, size_t n, int checksum) {
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  size_t cap = ZSTD_compressBound(n), got;
  char *buf = malloc(cap);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
  got = ZSTD_compress2(cctx, buf, cap, src, n);
  if (ZSTD_isError(got)) abort();
  bytes_add(out, buf, got);
  free(buf);
  ZSTD_freeCCtx(cctx);
}

/* Numbered lines with pseudo-random hex, so compressed data is large too. */
static void make_lines(bytes_t *b, int from, int count) {
  unsigned x = 2463534242u + (unsigned)from;
  char line[160];
  for (int i = from; i < from + count; i++) {
    int k = snprintf(line, sizeof(line), "line %07d ", i);
    for (int j = 0; j < 32; j++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      k += snprintf(line + k, sizeof(line) - (size_t)k, "%x", x & 0xf);
    }
    line[k++] = '\n';
    bytes_add(b, line, (size_t)k);
  }
}

/* Reads every line and compares with the lines in expect (LF-separated). Returns how
 * many matched; *last_err gets the code that ended reading. */
static int read_compare(oc_reader_t *r, const bytes_t *expect, oc_err_t *last_err) {
  const char *line;
  size_t len, off = 0;
  int n = 0;
  oc_err_t err;
  while ((err = oc_reader_next_line(r, &line, &len)) == OC_OK) {
    const char *nl = memchr(expect->p + off, '\n', expect->n - off);
    size_t want = nl ? (size_t)(nl - (expect->p + off)) : expect->n - off;
    if (off >= expect->n || len != want || memcmp(line, expect->p + off, len) != 0) {
      fprintf(stderr, "line %d differs (len %zu, want %zu)\n", n + 1, len, want);
      *last_err = OC_ERR_INTERNAL;
      return n;
    }
    off += want + 1;
    n++;
    if ((uint64_t)n != oc_reader_line_no(r)) {
      *last_err = OC_ERR_INTERNAL;
      return n;
    }
  }
  *last_err = err;
  return n;
}

static oc_reader_t *open_bytes(const bytes_t *b, size_t max_line) {
  char errstr[256] = "";
  oc_reader_t *r = oc_reader_open(put_file(b->p, b->n), max_line, errstr, sizeof(errstr));
  if (!r) fprintf(stderr, "open: %s\n", errstr);
  return r;
}

static void test_plain(void) {
  bytes_t b = {0};
  const char *line;
  size_t len;
  const char *text = "a\nbb\n\nccc\n";
  bytes_add(&b, text, strlen(text));
  oc_reader_t *r = open_bytes(&b, 100);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_NONE);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK(len == 1 && memcmp(line, "a", 1) == 0);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK(len == 2 && memcmp(line, "bb", 2) == 0);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK_INT(len, 0);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK(len == 3 && memcmp(line, "ccc", 3) == 0);
  OC_CHECK_INT(oc_reader_line_no(r), 4);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
  OC_CHECK_INT(oc_reader_bytes_out(r), strlen(text));
  oc_reader_destroy(r);
  free(b.p);
}

static void test_plain_large(void) {
  bytes_t b = {0};
  oc_err_t err;
  make_lines(&b, 0, 30000); /* ~1.4 MB: many refills, lines spanning buffer edges */
  oc_reader_t *r = open_bytes(&b, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(read_compare(r, &b, &err), 30000);
  OC_CHECK_INT(err, OC_ERR_EOF);
  OC_CHECK_INT(oc_reader_bytes_in(r), b.n);
  oc_reader_destroy(r);
  free(b.p);
}

static void test_gzip(void) {
  bytes_t plain = {0}, gz = {0};
  oc_err_t err;
  make_lines(&plain, 0, 30000);
  gzip_member(&gz, plain.p, plain.n);
  OC_CHECK(gz.n > 256 * 1024); /* input refills happen too */
  oc_reader_t *r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_GZIP);
  OC_CHECK_INT(read_compare(r, &plain, &err), 30000);
  OC_CHECK_INT(err, OC_ERR_EOF);
  OC_CHECK_INT(oc_reader_bytes_in(r), gz.n);
  OC_CHECK_INT(oc_reader_bytes_out(r), plain.n);
  oc_reader_destroy(r);
  free(plain.p);
  free(gz.p);
}

static void test_gzip_multi_member(void) {
  bytes_t a = {0}, b = {0}, all = {0}, gz = {0};
  oc_err_t err;
  make_lines(&a, 0, 100);
  make_lines(&b, 100, 20000);
  bytes_add(&all, a.p, a.n);
  bytes_add(&all, b.p, b.n);
  gzip_member(&gz, a.p, a.n);
  gzip_member(&gz, "", 0); /* an empty member in between */
  gzip_member(&gz, b.p, b.n);
  oc_reader_t *r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(read_compare(r, &all, &err), 20100);
  OC_CHECK_INT(err, OC_ERR_EOF);
  oc_reader_destroy(r);
  free(a.p);
  free(b.p);
  free(all.p);
  free(gz.p);
}

static void test_gzip_truncated(void) {
  bytes_t plain = {0}, gz = {0};
  const char *line;
  size_t len;
  oc_err_t err;
  int n;
  make_lines(&plain, 0, 20000);
  gzip_member(&gz, plain.p, plain.n);
  gz.n /= 2;
  oc_reader_t *r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  n = read_compare(r, &plain, &err); /* every line returned is whole and right */
  OC_CHECK(n > 1000 && n < 20000);
  OC_CHECK_INT(err, OC_ERR_DECODE);
  OC_CHECK(strncmp(oc_reader_error(r), "truncated gzip stream after ", 28) == 0);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_DECODE); /* terminal */
  OC_CHECK_INT(oc_reader_line_no(r), n);
  oc_reader_destroy(r);

  /* Cut inside the 10-byte header: still a decode error, not EOF. */
  gz.n = 5;
  r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_DECODE);
    oc_reader_destroy(r);
  }
  free(plain.p);
  free(gz.p);
}

static void test_gzip_corrupt(void) {
  bytes_t plain = {0}, gz = {0};
  oc_err_t err;
  make_lines(&plain, 0, 2000);
  gzip_member(&gz, plain.p, plain.n);
  bytes_add(&gz, "garbage after the member", 24);
  oc_reader_t *r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(read_compare(r, &plain, &err), 2000);
  OC_CHECK_INT(err, OC_ERR_DECODE);
  OC_CHECK(strstr(oc_reader_error(r), "corrupt gzip stream") != NULL);
  oc_reader_destroy(r);
  free(plain.p);
  free(gz.p);
}

static void test_zstd(void) {
  bytes_t a = {0}, b = {0}, all = {0}, zs = {0};
  oc_err_t err;
  make_lines(&a, 0, 25000);
  make_lines(&b, 25000, 5000);
  bytes_add(&all, a.p, a.n);
  bytes_add(&all, b.p, b.n);
  zstd_frame(&zs, a.p, a.n, 1);
  zstd_frame(&zs, b.p, b.n, 0); /* a second frame */
  oc_reader_t *r = open_bytes(&zs, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_ZSTD);
  OC_CHECK_INT(read_compare(r, &all, &err), 30000);
  OC_CHECK_INT(err, OC_ERR_EOF);
  OC_CHECK_INT(oc_reader_bytes_in(r), zs.n);
  OC_CHECK_INT(oc_reader_bytes_out(r), all.n);
  oc_reader_destroy(r);
  free(a.p);
  free(b.p);
  free(all.p);
  free(zs.p);
}

static void test_zstd_corrupt(void) {
  bytes_t plain = {0}, zs = {0};
  const char *line;
  size_t len;
  oc_err_t err;
  make_lines(&plain, 0, 20000);
  zstd_frame(&zs, plain.p, plain.n, 1);
  for (size_t i = zs.n / 2; i < zs.n / 2 + 64; i++)
    zs.p[i] ^= 0x5a;
  oc_reader_t *r = open_bytes(&zs, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  while ((err = oc_reader_next_line(r, &line, &len)) == OC_OK) {
  }
  OC_CHECK_INT(err, OC_ERR_DECODE);
  OC_CHECK(strncmp(oc_reader_error(r), "corrupt zstd frame", 18) == 0);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_DECODE);
  oc_reader_destroy(r);

  /* Truncated: lines before the cut, then a decode error naming it. */
  zs.n = 0;
  zstd_frame(&zs, plain.p, plain.n, 0);
  zs.n = zs.n * 3 / 4;
  r = open_bytes(&zs, 1000);
  OC_CHECK(r != NULL);
  if (r) {
    int n = read_compare(r, &plain, &err);
    OC_CHECK(n > 0 && n < 20000);
    OC_CHECK_INT(err, OC_ERR_DECODE);
    OC_CHECK(strncmp(oc_reader_error(r), "truncated zstd stream after ", 28) == 0);
    oc_reader_destroy(r);
  }
  free(plain.p);
  free(zs.p);
}

static void test_bom_crlf_final(void) {
  const char *line;
  size_t len;
  bytes_t b = {0}, gz = {0};
  const char *text = "\xEF\xBB\xBF{\"a\":1}\r\nx\ry\r\n\r\nlast";
  bytes_add(&b, text, strlen(text));
  for (int pass = 0; pass < 2; pass++) {
    oc_reader_t *r;
    if (pass == 1) gzip_member(&gz, b.p, b.n);
    r = open_bytes(pass ? &gz : &b, 100);
    OC_CHECK(r != NULL);
    if (!r) continue;
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 7 && memcmp(line, "{\"a\":1}", 7) == 0); /* BOM and CR gone */
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 3 && memcmp(line, "x\ry", 3) == 0); /* a lone CR stays */
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK_INT(len, 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 4 && memcmp(line, "last", 4) == 0); /* no final newline */
    OC_CHECK_INT(oc_reader_line_no(r), 4);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    oc_reader_destroy(r);
  }
  /* A BOM later in the file is data. */
  b.n = 0;
  bytes_add(&b,
            "a\n\xEF\xBB\xBF"
            "b\n",
            7);
  oc_reader_t *r = open_bytes(&b, 100);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK_INT(len, 4);
    oc_reader_destroy(r);
  }
  free(b.p);
  free(gz.p);
}

static void test_empty(void) {
  const char *line = "x";
  size_t len = 9;
  bytes_t b = {0}, gz = {0};
  oc_reader_t *r = open_bytes(&b, 100);
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_NONE);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    OC_CHECK_INT(len, 0);
    OC_CHECK_INT(oc_reader_line_no(r), 0);
    oc_reader_destroy(r);
  }
  /* Only a BOM; a gzip of nothing. */
  bytes_add(&b, "\xEF\xBB\xBF", 3);
  r = open_bytes(&b, 100);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    oc_reader_destroy(r);
  }
  gzip_member(&gz, "", 0);
  r = open_bytes(&gz, 100);
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_GZIP);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    oc_reader_destroy(r);
  }
  free(b.p);
  free(gz.p);
}

static void test_overlong(void) {
  const char *line;
  size_t len;
  bytes_t b = {0};
  char big[100];
  memset(big, 'a', sizeof(big));
  bytes_add(&b, "short\n", 6);
  bytes_add(&b, big, sizeof(big));
  bytes_add(&b, "\n0123456789\n0123456789\r\n01234567890\nnext", 40);
  oc_reader_t *r = open_bytes(&b, 10);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_LIMIT);
  OC_CHECK(len == 10 && memcmp(line, "aaaaaaaaaa", 10) == 0);
  OC_CHECK_INT(oc_reader_line_no(r), 2);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK); /* exactly max_line */
  OC_CHECK_INT(len, 10);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK); /* max_line plus CR LF */
  OC_CHECK_INT(len, 10);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_LIMIT); /* max_line + 1 */
  OC_CHECK_INT(oc_reader_line_no(r), 5);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK(len == 4 && memcmp(line, "next", 4) == 0);
  OC_CHECK_INT(oc_reader_line_no(r), 6);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
  oc_reader_destroy(r);
  free(b.p);
}

/* Lines longer than the 256 KiB buffer, at and around a limit above it. */
static void test_span_limit(void) {
  const size_t max = 300 * 1024;
  const char *line;
  size_t len;
  bytes_t b = {0};
  char *big = malloc(max + 2);
  for (size_t i = 0; i < max + 2; i++)
    big[i] = (char)('a' + i % 26);
  bytes_add(&b, "x\n", 2);
  bytes_add(&b, big, max); /* exactly max */
  bytes_add(&b, "\n", 1);
  bytes_add(&b, big, max); /* max plus CR LF */
  bytes_add(&b, "\r\n", 2);
  bytes_add(&b, big, max + 1); /* one too many */
  bytes_add(&b, "\r\ny\n", 4);
  bytes_add(&b, big, max + 2); /* too long and unterminated at EOF */
  oc_reader_t *r = open_bytes(&b, max);
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == max && memcmp(line, big, max) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == max && memcmp(line, big, max) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_LIMIT);
    OC_CHECK(len == max && memcmp(line, big, max) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 1 && line[0] == 'y');
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_LIMIT);
    OC_CHECK_INT(oc_reader_line_no(r), 6);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    oc_reader_destroy(r);
  }
  free(big);
  free(b.p);
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* A 5 MB line with a 1 MiB limit, plain and gzip: skipped, the lines around it read,
 * and the reader's memory stays near buffers + max_line. */
static void test_huge_line(void) {
  const size_t huge = 5 * 1000 * 1000, max = 1024 * 1024;
  char path[2][256];
  char chunk[65536], errstr[256];
  const char *line;
  size_t len;
  FILE *f;
  z_stream zs;
  unsigned char zbuf[65536];
  memset(chunk, 'x', sizeof(chunk));
  snprintf(path[0], sizeof(path[0]), "%s/huge.txt", tmpdir);
  snprintf(path[1], sizeof(path[1]), "%s/huge.gz", tmpdir);
  f = fopen(path[0], "wb");
  fputs("before\n", f);
  for (size_t done = 0; done < huge; done += sizeof(chunk))
    fwrite(chunk, 1, huge - done < sizeof(chunk) ? huge - done : sizeof(chunk), f);
  fputs("\nafter\n", f);
  fclose(f);
  /* gzip it by streaming, without holding 5 MB */
  {
    FILE *in = fopen(path[0], "rb"), *out = fopen(path[1], "wb");
    size_t n;
    int flush;
    memset(&zs, 0, sizeof(zs));
    deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    do {
      n = fread(chunk, 1, sizeof(chunk), in);
      flush = n < sizeof(chunk) ? Z_FINISH : Z_NO_FLUSH;
      zs.next_in = (unsigned char *)chunk;
      zs.avail_in = (uInt)n;
      do {
        zs.next_out = zbuf;
        zs.avail_out = sizeof(zbuf);
        deflate(&zs, flush);
        fwrite(zbuf, 1, sizeof(zbuf) - zs.avail_out, out);
      } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
    deflateEnd(&zs);
    fclose(in);
    fclose(out);
  }
  for (int i = 0; i < 2; i++) {
    long before = maxrss_kb();
    oc_reader_t *r = oc_reader_open(path[i], max, errstr, sizeof(errstr));
    OC_CHECK(r != NULL);
    if (!r) continue;
    OC_CHECK_INT(oc_reader_compression(r), i ? OC_COMPRESS_GZIP : OC_COMPRESS_NONE);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 6 && memcmp(line, "before", 6) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_LIMIT);
    OC_CHECK_INT(len, max);
    OC_CHECK(line[0] == 'x' && line[max - 1] == 'x');
    OC_CHECK_INT(oc_reader_line_no(r), 2);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 5 && memcmp(line, "after", 5) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    OC_CHECK_INT(oc_reader_bytes_out(r), huge + 14);
#if !defined(__SANITIZE_ADDRESS__)
    /* Buffers (512 KiB) + line buffer (<= 1 MiB) + zlib; far below the 5 MB line. */
    OC_CHECK(maxrss_kb() - before < 2500);
#else
    (void)before;
#endif
    oc_reader_destroy(r);
  }
}

static void test_peek_fill_consume(void) {
  const char *p, *line;
  size_t avail, len, n;
  bytes_t plain = {0}, gz = {0};
  bytes_add(&plain, "hello world\nsecond\n", 19);
  make_lines(&plain, 0, 10000);
  gzip_member(&gz, plain.p, plain.n);
  oc_reader_t *r = open_bytes(&gz, 1000);
  OC_CHECK(r != NULL);
  if (!r) return;
  OC_CHECK_INT(oc_reader_peek(r, &p, 5), 5);
  OC_CHECK(memcmp(p, "hello", 5) == 0);
  OC_CHECK_INT(oc_reader_peek(r, &p, 5), 5); /* peeking does not consume */
  OC_CHECK(memcmp(p, "hello", 5) == 0);
  OC_CHECK_INT(oc_reader_peek(r, &p, 100000), 4096); /* capped */
  OC_CHECK_INT(oc_reader_fill(r, &p, &avail), OC_OK);
  OC_CHECK(avail >= 12 && memcmp(p, "hello world\n", 12) == 0);
  oc_reader_consume(r, 6);
  OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
  OC_CHECK(len == 5 && memcmp(line, "world", 5) == 0);
  /* Consume to 100 bytes before the end of what is decoded, then peek past it: the
   * reader must move the rest down and decode more. */
  OC_CHECK_INT(oc_reader_fill(r, &p, &avail), OC_OK);
  OC_CHECK(avail > 200);
  oc_reader_consume(r, avail - 100);
  n = oc_reader_peek(r, &p, 4096);
  OC_CHECK_INT(n, 4096);
  {
    size_t at = 12 + (avail - 100);
    OC_CHECK(memcmp(p, plain.p + at, 4096) == 0);
  }
  /* Drain with fill/consume and count bytes. */
  {
    uint64_t total = 12 + (avail - 100);
    oc_err_t err;
    while ((err = oc_reader_fill(r, &p, &avail)) == OC_OK) {
      total += avail;
      oc_reader_consume(r, avail);
    }
    OC_CHECK_INT(err, OC_ERR_EOF);
    OC_CHECK_INT(total, plain.n);
    OC_CHECK_INT(oc_reader_peek(r, &p, 10), 0);
  }
  oc_reader_destroy(r);
  free(plain.p);
  free(gz.p);
}

static void test_open_errors_and_fd(void) {
  char errstr[256] = "", path[300], link_path[300];
  int fds[2];
  const char *line;
  size_t len;
  oc_reader_t *r;
  snprintf(path, sizeof(path), "%s/missing", tmpdir);
  errno = 0;
  OC_CHECK(oc_reader_open(path, 100, errstr, sizeof(errstr)) == NULL);
  OC_CHECK_INT(errno, ENOENT);
  OC_CHECK(strncmp(errstr, "could not open \"", 16) == 0);
  /* The last component must not be a symlink. */
  snprintf(path, sizeof(path), "%s", put_file("a\n", 2));
  snprintf(link_path, sizeof(link_path), "%s/link", tmpdir);
  OC_CHECK(symlink(path, link_path) == 0);
  OC_CHECK(oc_reader_open(link_path, 100, errstr, sizeof(errstr)) == NULL);
  OC_CHECK(strstr(errstr, "symbolic link") != NULL);
  OC_CHECK(oc_reader_open(tmpdir, 100, errstr, sizeof(errstr)) == NULL);
  /* A pipe: new_fd owns it. */
  OC_CHECK(pipe(fds) == 0);
  OC_CHECK(write(fds[1], "p1\np2", 5) == 5);
  close(fds[1]);
  r = oc_reader_new_fd(fds[0], 100, errstr, sizeof(errstr));
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_OK);
    OC_CHECK(len == 2 && memcmp(line, "p2", 2) == 0);
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_EOF);
    oc_reader_destroy(r);
  }
  /* Other compressions are refused with a reason, not split into garbage lines. */
  r = oc_reader_open(put_file("\xFD"
                              "7zXZ\0\0\0\n\n",
                              10),
                     100, errstr, sizeof(errstr));
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_INT(oc_reader_next_line(r, &line, &len), OC_ERR_DECODE);
    OC_CHECK(strstr(oc_reader_error(r), "unsupported compression: xz") != NULL);
    oc_reader_destroy(r);
  }
}

static void setup(void) {
  if (!mkdtemp(tmpdir)) abort();
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void) {
  static const oc_test_case_t cases[] = {
      /* first: its memory check compares peak RSS before and after */
      OC_TEST(test_huge_line),
      OC_TEST(test_plain),
      OC_TEST(test_plain_large),
      OC_TEST(test_gzip),
      OC_TEST(test_gzip_multi_member),
      OC_TEST(test_gzip_truncated),
      OC_TEST(test_gzip_corrupt),
      OC_TEST(test_zstd),
      OC_TEST(test_zstd_corrupt),
      OC_TEST(test_bom_crlf_final),
      OC_TEST(test_empty),
      OC_TEST(test_overlong),
      OC_TEST(test_span_limit),
      OC_TEST(test_peek_fill_consume),
      OC_TEST(test_open_errors_and_fd),
  };
  int rc;
  setup();
  rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  teardown();
  return rc;
}
