/* test_lake.c: lake table names and keys, the atomic zstd writer, and object path
 * confinement. */
#include "common/lake.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "oc_test.h"

static char root[] = "/tmp/oc-test-lake-XXXXXX";

/* 2026-11-28 16:37:40.123456 UTC */
#define T_2026_11_28_16 (1795883860123456LL)

static void test_table_name(void) {
  char out[64];
  oc_lake_table_name("AWS.CloudTrail", out, sizeof(out));
  OC_CHECK_STR(out, "aws_cloudtrail");
  oc_lake_table_name("Custom.My-App/../x", out, sizeof(out));
  OC_CHECK_STR(out, "custom_my_app____x");
  oc_lake_table_name("Okta.SystemLog", out, 5);
  OC_CHECK_STR(out, "okta");
  oc_lake_table_name("", out, sizeof(out));
  OC_CHECK_STR(out, "");
}

static void test_key(void) {
  char key[256];
  oc_lake_key(key, sizeof(key), "logs", "aws_cloudtrail", T_2026_11_28_16, "f1");
  OC_CHECK_STR(key, "logs/aws_cloudtrail/year=2026/month=11/day=28/hour=16/f1.json.zst");
  /* zero padding: 2026-01-02 03:04:05 UTC */
  oc_lake_key(key, sizeof(key), "rules", "t", 1767323045000000LL, "n");
  OC_CHECK_STR(key, "rules/t/year=2026/month=01/day=02/hour=03/n.json.zst");
  /* the last microsecond of an hour stays in it */
  oc_lake_key(key, sizeof(key), "logs", "t", 1767326399999999LL, "n");
  OC_CHECK_STR(key, "logs/t/year=2026/month=01/day=02/hour=03/n.json.zst");
  /* before 1970 rounds down, not toward zero */
  oc_lake_key(key, sizeof(key), "logs", "t", -500000LL, "n");
  OC_CHECK_STR(key, "logs/t/year=1969/month=12/day=31/hour=23/n.json.zst");
  oc_lake_key(key, sizeof(key), "logs", "t", 0, "n");
  OC_CHECK_STR(key, "logs/t/year=1970/month=01/day=01/hour=00/n.json.zst");
  /* absurd times keep the fixed shape */
  oc_lake_key(key, sizeof(key), "logs", "t", INT64_MAX, "n");
  OC_CHECK_STR(key, "logs/t/year=9999/month=12/day=31/hour=23/n.json.zst");
}

static void test_confine(void) {
  static const struct {
    const char *bucket, *key;
    int ok;
  } cases[] = {
      {"b", "x.json", 1},
      {"b", "a/b/c.json.gz", 1},
      {"b", "..a/b..", 1},
      {"b", "a/.hidden", 1},
      {"my-bucket.1", "2026/11/28/f", 1},
      {"b", "", 0},
      {"b", "/etc/passwd", 0},
      {"b", "../x", 0},
      {"b", "a/../../x", 0},
      {"b", "a/..", 0},
      {"b", "..", 0},
      {"b", ".", 0},
      {"b", "./a", 0},
      {"b", "a/./b", 0},
      {"b", "a//b", 0},
      {"b", "a/", 0},
      {"b", "a\\..\\b", 0},
      {"", "a", 0},
      {"b/c", "a", 0},
      {"..", "a", 0},
      {".", "a", 0},
      {"b\\c", "a", 0},
  };
  char out[PATH_MAX], errstr[512];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    oc_err_t err = oc_lake_confine("/srv/objects", cases[i].bucket, cases[i].key, out, sizeof(out),
                                   errstr, sizeof(errstr));
    if (cases[i].ok) {
      char want[PATH_MAX];
      snprintf(want, sizeof(want), "/srv/objects/%s/%s", cases[i].bucket, cases[i].key);
      OC_CHECK_INT(err, OC_OK);
      OC_CHECK_STR(out, want);
    } else {
      if (err != OC_ERR_INVALID)
        fprintf(stderr, "accepted bucket \"%s\" key \"%s\"\n", cases[i].bucket, cases[i].key);
      OC_CHECK_INT(err, OC_ERR_INVALID);
      OC_CHECK(strncmp(errstr, "refused object path", 19) == 0);
      OC_CHECK_STR(out, "");
    }
  }
  /* Longer than PATH_MAX overall, and longer than the caller's buffer. */
  {
    char *key = malloc(PATH_MAX + 10);
    memset(key, 'k', PATH_MAX + 9);
    key[PATH_MAX + 9] = '\0';
    OC_CHECK_INT(oc_lake_confine("/r", "b", key, out, sizeof(out), errstr, sizeof(errstr)),
                 OC_ERR_INVALID);
    OC_CHECK(strstr(errstr, "too long") != NULL);
    free(key);
    OC_CHECK_INT(oc_lake_confine("/r", "b", "abcdef", out, 8, errstr, sizeof(errstr)),
                 OC_ERR_INVALID);
  }
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  char *p;
  long sz;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  p = malloc((size_t)sz + 1);
  *n = fread(p, 1, (size_t)sz, f);
  fclose(f);
  return p;
}

/* Decompresses a whole zstd file (frame content size may be unknown: streamed). */
static char *unzstd(const char *path, size_t *n) {
  size_t cn;
  char *c = slurp(path, &cn), *d;
  size_t cap = 64 << 20;
  if (!c) return NULL;
  d = malloc(cap);
  *n = ZSTD_decompress(d, cap, c, cn);
  free(c);
  if (ZSTD_isError(*n)) {
    free(d);
    return NULL;
  }
  return d;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static void test_writer_commit(void) {
  char errstr[256] = "", key[512], path[PATH_MAX], dir[512], line[256], want_key[512];
  char *expect = malloc(4 << 20), *got, *big;
  size_t elen = 0, glen, blen = 300 * 1024;
  uint64_t bytes = 0;
  struct stat st;
  mode_t mask = umask(022);
  umask(mask);
  oc_lake_writer_t *w = oc_lake_writer_open(root, "logs", "aws_cloudtrail", T_2026_11_28_16, "f1",
                                            3, errstr, sizeof(errstr));
  OC_CHECK(w != NULL);
  if (!w) {
    fprintf(stderr, "%s\n", errstr);
    free(expect);
    return;
  }
  snprintf(dir, sizeof(dir), "%s/logs/aws_cloudtrail/year=2026/month=11/day=28/hour=16", root);
  snprintf(path, sizeof(path), "%s/f1.json.zst", dir);
  for (int i = 0; i < 20000; i++) {
    int k = snprintf(line, sizeof(line), "{\"n\":%d,\"msg\":\"event number %d\"}", i, i * 7);
    OC_CHECK_INT(oc_lake_writer_append(w, line, (size_t)k), OC_OK);
    memcpy(expect + elen, line, (size_t)k);
    elen += (size_t)k;
    expect[elen++] = '\n';
  }
  /* a line bigger than the staging buffer */
  big = malloc(blen);
  for (size_t i = 0; i < blen; i++)
    big[i] = (char)('a' + (i * 7) % 26);
  OC_CHECK_INT(oc_lake_writer_append(w, big, blen), OC_OK);
  memcpy(expect + elen, big, blen);
  elen += blen;
  expect[elen++] = '\n';
  OC_CHECK_INT(oc_lake_writer_append(w, "tail", 4), OC_OK);
  memcpy(expect + elen, "tail\n", 5);
  elen += 5;
  /* an embedded newline would split an event: refused, nothing written */
  OC_CHECK_INT(oc_lake_writer_append(w, "a\nb", 3), OC_ERR_INVALID);
  OC_CHECK_INT(oc_lake_writer_rows(w), 20002);
  /* Before commit: only the temp file. */
  OC_CHECK(stat(path, &st) != 0);
  OC_CHECK_INT(count_entries(dir), 1);
  OC_CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == (0755 & ~mask));
  OC_CHECK_INT(oc_lake_writer_commit(w, key, sizeof(key), &bytes, errstr, sizeof(errstr)), OC_OK);
  oc_lake_key(want_key, sizeof(want_key), "logs", "aws_cloudtrail", T_2026_11_28_16, "f1");
  OC_CHECK_STR(key, want_key);
  OC_CHECK(stat(path, &st) == 0);
  OC_CHECK_INT(st.st_size, bytes);
  OC_CHECK_INT(count_entries(dir), 1); /* the temp name is gone */
  got = unzstd(path, &glen);
  OC_CHECK(got != NULL);
  OC_CHECK_INT(glen, elen);
  OC_CHECK(got && glen == elen && memcmp(got, expect, elen) == 0);
  free(got);
  free(big);
  free(expect);
}

static void test_writer_abort_and_replace(void) {
  char errstr[256] = "", key[512], path[PATH_MAX], dir[512];
  char *got;
  size_t glen;
  oc_lake_writer_t *w;
  snprintf(dir, sizeof(dir), "%s/rules/t/year=2026/month=11/day=28/hour=16", root);
  snprintf(path, sizeof(path), "%s/same.json.zst", dir);
  /* abort leaves nothing */
  w = oc_lake_writer_open(root, "rules", "t", T_2026_11_28_16, "same", 3, errstr, sizeof(errstr));
  OC_CHECK(w != NULL);
  if (!w) return;
  OC_CHECK_INT(oc_lake_writer_append(w, "x", 1), OC_OK);
  OC_CHECK_INT(count_entries(dir), 1);
  oc_lake_writer_abort(w);
  OC_CHECK_INT(count_entries(dir), 0);
  oc_lake_writer_abort(NULL);
  /* first version */
  w = oc_lake_writer_open(root, "rules", "t", T_2026_11_28_16, "same", 3, errstr, sizeof(errstr));
  OC_CHECK(w != NULL);
  if (!w) return;
  OC_CHECK_INT(oc_lake_writer_append(w, "old1", 4), OC_OK);
  OC_CHECK_INT(oc_lake_writer_append(w, "old2", 4), OC_OK);
  OC_CHECK_INT(oc_lake_writer_commit(w, key, sizeof(key), NULL, errstr, sizeof(errstr)), OC_OK);
  /* the same name again replaces it */
  w = oc_lake_writer_open(root, "rules", "t", T_2026_11_28_16, "same", 19, errstr, sizeof(errstr));
  OC_CHECK(w != NULL);
  if (!w) return;
  OC_CHECK_INT(oc_lake_writer_append(w, "new", 3), OC_OK);
  /* readers still see the old file while the new one is written */
  got = unzstd(path, &glen);
  OC_CHECK(got && glen == 10 && memcmp(got, "old1\nold2\n", 10) == 0);
  free(got);
  OC_CHECK_INT(oc_lake_writer_commit(w, NULL, 0, NULL, errstr, sizeof(errstr)), OC_OK);
  got = unzstd(path, &glen);
  OC_CHECK(got && glen == 4 && memcmp(got, "new\n", 4) == 0);
  free(got);
  OC_CHECK_INT(count_entries(dir), 1);
  /* an empty file is a valid, empty zstd frame */
  w = oc_lake_writer_open(root, "rules", "t", T_2026_11_28_16, "empty", 3, errstr, sizeof(errstr));
  OC_CHECK(w != NULL);
  if (!w) return;
  OC_CHECK_INT(oc_lake_writer_commit(w, NULL, 0, NULL, errstr, sizeof(errstr)), OC_OK);
  snprintf(path, sizeof(path), "%s/empty.json.zst", dir);
  got = unzstd(path, &glen);
  OC_CHECK(got != NULL && glen == 0);
  free(got);
}

static void test_writer_refuses(void) {
  char errstr[256] = "";
  OC_CHECK(oc_lake_writer_open(root, "logs", "../x", 0, "n", 3, errstr, sizeof(errstr)) == NULL);
  OC_CHECK(strlen(errstr) > 0);
  OC_CHECK(oc_lake_writer_open(root, "logs", "t", 0, "a/b", 3, errstr, sizeof(errstr)) == NULL);
  OC_CHECK(oc_lake_writer_open(root, "", "t", 0, "n", 3, errstr, sizeof(errstr)) == NULL);
  OC_CHECK(oc_lake_writer_open(root, "logs", "t", 0, "n", 0, errstr, sizeof(errstr)) == NULL);
  OC_CHECK(oc_lake_writer_open(root, "logs", "t", 0, "n", 20, errstr, sizeof(errstr)) == NULL);
  /* a file where a directory must go */
  {
    char p[PATH_MAX];
    FILE *f;
    snprintf(p, sizeof(p), "%s/blocked", root);
    f = fopen(p, "w");
    fclose(f);
    OC_CHECK(oc_lake_writer_open(root, "blocked", "t", 0, "n", 3, errstr, sizeof(errstr)) == NULL);
    OC_CHECK(strncmp(errstr, "could not create directory", 26) == 0);
  }
}

int main(void) {
  static const oc_test_case_t cases[] = {
      OC_TEST(test_table_name),
      OC_TEST(test_key),
      OC_TEST(test_confine),
      OC_TEST(test_writer_commit),
      OC_TEST(test_writer_abort_and_replace),
      OC_TEST(test_writer_refuses),
  };
  char cmd[300];
  int rc;
  if (!mkdtemp(root)) return 2;
  rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
