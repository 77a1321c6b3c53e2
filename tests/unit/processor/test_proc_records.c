/* The {"Records":[...]} splitter: exact element text over plain and gzip input, with
 * strings holding brackets, braces and escaped quotes, elements crossing the reader's
 * buffer boundaries, over-long elements, other members, and broken structure. */
#include <stdint.h>

#include "common/buf.h"
#include "oc_test.h"
#include "proc_testlib.h"
#include "services/log-processor/records.h"

static char *dir;

/* Element i: nested strings with brackets and escapes, a padding of varying size. */
static void make_elem(oc_buf_t *b, int i) {
  size_t pad = (size_t)((i * 7919) % 6000);
  oc_buf_reset(b);
  oc_buf_appendf(b,
                 "{\"i\":%d,\"s\":\"br]ck}ts{[ \\\"q\\\" \\\\\",\"n\":{\"a\":[1,[2,{\"x\":\"]\"}]],"
                 "\"e\":\"\\\\\"}, \"pad\" : \"",
                 i);
  for (size_t k = 0; k < pad; k++)
    oc_buf_putc(b, (char)('a' + k % 26));
  oc_buf_puts(b, "\"}");
}

/* {"Records":[e0,e1,...]} with whitespace between the elements. */
static void make_doc(oc_buf_t *doc, int n) {
  oc_buf_t e;
  oc_buf_init(&e);
  oc_buf_puts(doc, "\xEF\xBB\xBF {\"Records\" : [\n");
  for (int i = 0; i < n; i++) {
    make_elem(&e, i);
    if (i) oc_buf_puts(doc, i % 3 ? "," : " ,\n  ");
    oc_buf_append(doc, e.data, e.len);
  }
  oc_buf_puts(doc, "\n] }\n");
  oc_buf_deinit(&e);
}

static oc_reader_t *open_file(const char *name, const void *data, size_t len) {
  char path[512], err[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  tl_write(path, data, len);
  oc_reader_t *r = oc_reader_open(path, 1 << 20, err, sizeof(err));
  if (!r) fprintf(stderr, "%s\n", err);
  return r;
}

static void check_all(oc_reader_t *r, int n, size_t max_elem) {
  oc_records_t rs;
  oc_buf_t want;
  const char *el;
  size_t len;
  int got = 0, bad = 0;
  oc_buf_init(&want);
  OC_CHECK(oc_records_detect(r));
  oc_records_init(&rs, r, max_elem);
  for (;;) {
    oc_err_t rc = oc_records_next(&rs, &el, &len);
    if (rc == OC_ERR_EOF) break;
    OC_CHECK_INT(rc, OC_OK);
    if (rc != OC_OK) break;
    make_elem(&want, got);
    if (len != want.len || memcmp(el, want.data, len) != 0) bad++;
    got++;
    OC_CHECK_INT(oc_records_index(&rs), got);
  }
  OC_CHECK_INT(got, n);
  OC_CHECK_INT(bad, 0);
  oc_records_deinit(&rs);
  oc_buf_deinit(&want);
}

static void test_plain_and_gzip(void) {
  oc_buf_t doc;
  size_t gzlen;
  oc_buf_init(&doc);
  make_doc(&doc, 700); /* ~2 MB: elements cross many 256 KiB buffer boundaries */
  OC_CHECK(doc.len > 1500000);
  oc_reader_t *r = open_file("plain.json", doc.data, doc.len);
  if (r) check_all(r, 700, 1 << 20);
  oc_reader_destroy(r);
  unsigned char *gz = tl_gzip(doc.data, doc.len, &gzlen);
  r = open_file("records.json.gz", gz, gzlen);
  if (r) {
    OC_CHECK_INT(oc_reader_compression(r), OC_COMPRESS_GZIP);
    check_all(r, 700, 1 << 20);
  }
  oc_reader_destroy(r);
  free(gz);
  oc_buf_deinit(&doc);
}

static void test_over_long_element(void) {
  oc_buf_t doc;
  oc_records_t rs;
  const char *el;
  size_t len;
  oc_buf_init(&doc);
  oc_buf_puts(&doc, "{\"Records\":[{\"a\":1},{\"big\":\"");
  for (int i = 0; i < 600000; i++)
    oc_buf_putc(&doc, i % 100 == 0 ? ']' : 'x'); /* brackets inside the string */
  oc_buf_puts(&doc, "\"},{\"b\":\"}\"},{\"c\":3}]}");
  oc_reader_t *r = open_file("long.json", doc.data, doc.len);
  oc_records_init(&rs, r, 4096);
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_OK);
  OC_CHECK(len == 7 && memcmp(el, "{\"a\":1}", 7) == 0);
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_ERR_LIMIT);
  OC_CHECK_INT(len, 4096);
  OC_CHECK(memcmp(el, "{\"big\":\"", 8) == 0);
  OC_CHECK_INT(oc_records_index(&rs), 2);
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_OK);
  OC_CHECK(len == 9 && memcmp(el, "{\"b\":\"}\"}", 9) == 0);
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_OK);
  OC_CHECK(len == 7 && memcmp(el, "{\"c\":3}", 7) == 0);
  OC_CHECK_INT(oc_records_index(&rs), 4);
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_ERR_EOF);
  oc_records_deinit(&rs);
  oc_reader_destroy(r);
  oc_buf_deinit(&doc);
}

static void test_other_members_and_concatenation(void) {
  static const char doc[] =
      "{\"Records\":[{\"x\":\"[\"}],\"Digest\":{\"a\":[1,2,\"]}\"]},\"n\":null,\"k\":\"\\\"}\"}"
      "\n{\"meta\":[{\"Records\":[{\"no\":1}]}],\"Records\":[ 1 , \"s]\" ,null,[{}],{}]}"
      "{\"Records\":[]}{}";
  static const char *want[] = {"{\"x\":\"[\"}", "1", "\"s]\"", "null", "[{}]", "{}"};
  oc_records_t rs;
  const char *el;
  size_t len;
  oc_reader_t *r = open_file("multi.json", doc, sizeof(doc) - 1);
  OC_CHECK(oc_records_detect(r));
  oc_records_init(&rs, r, 4096);
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_OK);
    OC_CHECK(len == strlen(want[i]) && memcmp(el, want[i], len) == 0);
  }
  OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_ERR_EOF);
  OC_CHECK_INT(oc_records_index(&rs), 6);
  oc_records_deinit(&rs);
  oc_reader_destroy(r);
}

static void test_broken_structure(void) {
  static const struct {
    const char *doc;
    int good;
  } cases[] = {
      {"{\"Records\":[{\"a\":1} {\"b\":2}]}", 1}, {"{\"Records\":[{\"a\":1},{\"b\":2}", 2},
      {"{\"Records\":[{\"a\":1},{\"b\":", 1},     {"{\"Records\":[{\"a\":1}]} garbage", 1},
      {"{\"Records\" [{\"a\":1}]}", 0},           {"{\"Records\":[,]}", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    oc_records_t rs;
    const char *el;
    size_t len;
    int good = 0;
    oc_err_t rc;
    oc_reader_t *r = open_file("broken.json", cases[i].doc, strlen(cases[i].doc));
    oc_records_init(&rs, r, 4096);
    while ((rc = oc_records_next(&rs, &el, &len)) == OC_OK)
      good++;
    if (rc != OC_ERR_INVALID || good != cases[i].good)
      fprintf(stderr, "case %zu: rc %d good %d\n", i, rc, good);
    OC_CHECK_INT(rc, OC_ERR_INVALID);
    OC_CHECK_INT(good, cases[i].good);
    OC_CHECK(oc_records_error(&rs)[0] != '\0');
    OC_CHECK_INT(oc_records_next(&rs, &el, &len), OC_ERR_INVALID); /* terminal */
    oc_records_deinit(&rs);
    oc_reader_destroy(r);
  }
}

static void test_truncated_gzip(void) {
  oc_buf_t doc;
  size_t gzlen;
  oc_records_t rs;
  const char *el;
  size_t len;
  int good = 0;
  oc_err_t rc;
  oc_buf_init(&doc);
  make_doc(&doc, 700);
  unsigned char *gz = tl_gzip(doc.data, doc.len, &gzlen);
  oc_reader_t *r = open_file("cut.json.gz", gz, gzlen / 2);
  oc_records_init(&rs, r, 1 << 20);
  while ((rc = oc_records_next(&rs, &el, &len)) == OC_OK)
    good++;
  OC_CHECK_INT(rc, OC_ERR_DECODE);
  OC_CHECK(good > 100 && good < 700);
  OC_CHECK(strstr(oc_records_error(&rs), "truncated") != NULL);
  oc_records_deinit(&rs);
  oc_reader_destroy(r);
  free(gz);
  oc_buf_deinit(&doc);
}

static void test_detect(void) {
  static const struct {
    const char *doc;
    bool yes;
  } cases[] = {
      {"{\"Records\":[]}", true},
      {" \n\t{ \"Records\" :\n [ {}]}", true},
      {"{\"eventName\":\"x\",\"Records\":[]}", false},
      {"{\"Recordsx\":[]}", false},
      {"{\"Records\":{}}", false},
      {"{\"Records\"", false},
      {"", false},
      {"[{\"Records\":[]}]", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    oc_reader_t *r = open_file("detect.json", cases[i].doc, strlen(cases[i].doc));
    OC_CHECK(oc_records_detect(r) == cases[i].yes);
    /* detection consumes nothing */
    const char *p;
    OC_CHECK_INT(oc_reader_peek(r, &p, 4096), strlen(cases[i].doc));
    oc_reader_destroy(r);
  }
}

static void setup(void) {
  dir = tl_tmpdir("records");
}

static void teardown(void) {
  tl_rmrf(dir);
  free(dir);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_plain_and_gzip), OC_TEST(test_over_long_element),
             OC_TEST(test_other_members_and_concatenation), OC_TEST(test_broken_structure),
             OC_TEST(test_truncated_gzip), OC_TEST(test_detect), OC_TEST(teardown))
