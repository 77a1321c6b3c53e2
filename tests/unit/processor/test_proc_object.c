/* Per-object processing without Kafka: good files to lake files, and bad input (a
 * truncated gzip, corrupt zstd, invalid UTF-8, a 5 MB line, JSON nested 10,000 deep, a
 * `../` key, a symlink, a missing object) counted, quarantined, with the rest processed;
 * both CloudTrail file forms giving identical rows; deterministic names and rotation. */
#include <stdint.h>
#include <time.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/metrics.h"
#include "oc_test.h"
#include "proc_testlib.h"
#include "services/log-processor/logtypes.h"
#include "services/log-processor/object.h"
#include "services/log-processor/processor.h"

#define T0 INT64_C(1793527200) /* 2026-11-01T10:00:00Z */
#define PARSE_US INT64_C(1795883860123456)

static char *dir;
static char objroot[512], lakeroot[512];
static oc_logtypes_t *reg;

/* One CloudTrail event (~1.2 KB) at T0 + sec. */
static void ct_event(oc_buf_t *b, int i, int64_t sec) {
  time_t t = (time_t)(T0 + sec);
  struct tm tm;
  char ts[32];
  gmtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  oc_buf_appendf(
      b,
      "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":"
      "\"AIDA%012d\",\"arn\":\"arn:aws:iam::123456789012:user/alice\",\"accountId\":"
      "\"123456789012\",\"userName\":\"alice\"},\"eventTime\":\"%s\",\"eventSource\":"
      "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
      "\"sourceIPAddress\":\"198.51.100.%d\",\"userAgent\":\"aws-cli/2.13.0 Python/3.11.4\","
      "\"requestParameters\":{\"bucketName\":\"logs-1\",\"key\":\"data/%08x.json\"},"
      "\"responseElements\":null,\"requestID\":\"%016X\",\"eventID\":\"ev-%d\",\"readOnly\":true,"
      "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::logs-1/data/x.json\"}],"
      "\"eventType\":\"AwsApiCall\",\"recipientAccountId\":\"123456789012\"}",
      i, ts, i % 250 + 1, (unsigned)i * 2654435761u, (unsigned)i * 40503u, i);
}

static void ct_lines(oc_buf_t *b, int from, int n, int64_t sec_step) {
  for (int i = from; i < from + n; i++) {
    ct_event(b, i, (int64_t)i * sec_step);
    oc_buf_putc(b, '\n');
  }
}

static void put(const char *bucket, const char *key, const void *data, size_t len) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s/%s", objroot, bucket, key);
  tl_write(path, data, len);
}

static oc_objproc_t *new_proc(uint64_t max_rows, size_t max_line, oc_metrics_t *m) {
  char err[256];
  oc_objproc_config_t cfg = {objroot, lakeroot, max_line, 64, 3, max_rows};
  oc_objproc_t *p = oc_objproc_new(&cfg, m, err, sizeof(err));
  if (!p) fprintf(stderr, "%s\n", err);
  return p;
}

static const oc_logtype_t *ct_types[1];
static const oc_objproc_source_t src = {"ct", "CloudTrail", ct_types, 1};

static oc_err_t run(oc_objproc_t *p, const char *bucket, const char *key, const char *etag,
                    oc_objproc_result_t *res) {
  char err[1024] = "";
  oc_err_t rc = oc_objproc_run(p, &src, bucket, key, etag, PARSE_US, res, err, sizeof(err));
  if (rc) fprintf(stderr, "run %s/%s: %s\n", bucket, key, err);
  return rc;
}

static uint64_t file_rows(const oc_objproc_result_t *res) {
  uint64_t n = 0;
  for (size_t i = 0; i < res->nfiles; i++)
    n += res->files[i].rows;
  return n;
}

/* Every lake line of the run, in file order. Checks each is one valid JSON object. */
static void lake_lines(const oc_objproc_result_t *res, tl_lines_t *out) {
  char path[2048];
  for (size_t i = 0; i < res->nfiles; i++) {
    snprintf(path, sizeof(path), "%s/%s", lakeroot, res->files[i].key);
    long n = tl_read_lines(path, out);
    OC_CHECK_INT(n, (long)res->files[i].rows);
  }
  oc_arena_t a;
  char err[256];
  int bad = 0;
  oc_arena_init(&a, 65536);
  for (size_t i = 0; i < out->n; i++) {
    const oc_json_t *v = oc_json_parse(&a, out->v[i], strlen(out->v[i]), 64, err, sizeof(err));
    if (!v || v->type != OC_JSON_OBJECT || !oc_json_get(v, "p_row_id")) bad++;
    oc_arena_reset(&a);
  }
  oc_arena_deinit(&a);
  OC_CHECK_INT(bad, 0);
}

/* The quarantine records of the last run. */
static void quarantine_lines(oc_objproc_t *p, tl_lines_t *out) {
  const char *const *keys;
  char path[2048];
  size_t n = oc_objproc_quarantine_files(p, &keys);
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof(path), "%s/%s", lakeroot, keys[i]);
    OC_CHECK(tl_read_lines(path, out) >= 0);
  }
}

static void test_good_file(void) {
  oc_buf_t b;
  oc_objproc_result_t res;
  oc_objproc_t *p = new_proc(100000, 1 << 20, NULL);
  oc_buf_init(&b);
  ct_lines(&b, 0, 500, 1);
  put("logs", "good/a.json", b.data, b.len);
  OC_CHECK_INT(run(p, "logs", "good/a.json", "e1", &res), OC_OK);
  OC_CHECK_INT(res.lines, 500);
  OC_CHECK_INT(res.events, 500);
  OC_CHECK_INT(res.rejected, 0);
  OC_CHECK_INT(res.nfiles, 1);
  OC_CHECK_INT(file_rows(&res), 500);
  OC_CHECK_INT(res.bytes_out, b.len);
  OC_CHECK(!res.records_form);
  if (res.nfiles == 1) {
    OC_CHECK_STR(res.files[0].log_type, "AWS.CloudTrail");
    OC_CHECK(strncmp(res.files[0].key, "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/",
                     54) == 0);
    OC_CHECK(strstr(res.files[0].key, "-000000.json.zst") != NULL);
    OC_CHECK_INT(res.files[0].first_event_us, T0 * 1000000);
    OC_CHECK_INT(res.files[0].last_event_us, (T0 + 499) * 1000000);
    OC_CHECK(res.files[0].bytes > 0);
  }
  tl_lines_t lines = {0};
  lake_lines(&res, &lines);
  OC_CHECK_INT(lines.n, 500);
  if (lines.n) {
    OC_CHECK(strstr(lines.v[0], "\"p_event_time\":\"2026-11-01 10:00:00.000000000\"") != NULL);
    OC_CHECK(strstr(lines.v[0], "\"p_source_label\":\"CloudTrail\"") != NULL);
  }
  tl_lines_free(&lines);
  oc_objproc_destroy(p);
  oc_buf_deinit(&b);
}

static void test_bad_lines_are_counted_and_the_rest_processed(void) {
  oc_buf_t b;
  oc_objproc_result_t res;
  oc_metrics_t *m = oc_metrics_new();
  oc_objproc_t *p = new_proc(100000, 1 << 20, m);
  oc_buf_init(&b);
  ct_lines(&b, 0, 100, 1);
  oc_buf_puts(&b,
              "{\"eventName\": \"bad \xff\xfe utf8\", \"eventTime\": \"2026-11-01T10:00:00Z\"}\n");
  ct_lines(&b, 100, 100, 1);
  oc_buf_puts(&b, "{\"pad\": \"");
  for (int i = 0; i < 5 * 1024 * 1024; i++)
    oc_buf_putc(&b, 'x');
  oc_buf_puts(&b, "\"}\n");
  for (int i = 0; i < 10000; i++)
    oc_buf_putc(&b, '[');
  for (int i = 0; i < 10000; i++)
    oc_buf_putc(&b, ']');
  oc_buf_puts(&b, "\n\n   \r\n[1,2]\n{\"foo\":1}\n{\"a\":\n");
  ct_lines(&b, 200, 100, 1);
  OC_CHECK(oc_buf_ok(&b));
  put("logs", "mixed.json", b.data, b.len);
  OC_CHECK_INT(run(p, "logs", "mixed.json", "e1", &res), OC_OK);
  OC_CHECK_INT(res.events, 300);
  OC_CHECK_INT(file_rows(&res), 300);
  OC_CHECK_INT(res.rejected_by[OC_REJ_INVALID_UTF8], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_LINE_TOO_LONG], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_MAX_DEPTH], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_NOT_OBJECT], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_NO_LOG_TYPE], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_INVALID_JSON], 1);
  OC_CHECK_INT(res.rejected, 6);
  OC_CHECK_INT(res.quarantined, 6);
  OC_CHECK_INT(res.lines, 306); /* blank lines are not lines */
  OC_CHECK_INT(res.first_line[OC_REJ_INVALID_UTF8], 101);
  OC_CHECK_INT(res.first_line[OC_REJ_LINE_TOO_LONG], 202);
  OC_CHECK_INT(res.first_line[OC_REJ_MAX_DEPTH], 203);

  /* metrics */
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_lines_rejected_total",
                              "source=\"ct\",reason=\"invalid_utf8\""),
               1);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_lines_rejected_total",
                              "source=\"ct\",reason=\"line_too_long\""),
               1);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_lines_rejected_total",
                              "source=\"ct\",reason=\"max_depth_exceeded\""),
               1);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_lines_rejected_total",
                              "source=\"ct\",log_type=\"AWS.CloudTrail\",reason=\"no_matching_log_"
                              "type\""),
               1);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_events_total",
                              "source=\"ct\",log_type=\"AWS.CloudTrail\""),
               300);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_objects_total", "source=\"ct\""), 1);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_bytes_total", "source=\"ct\""), b.len);

  /* quarantine records: one JSON object per rejection, with reason, line and raw */
  tl_lines_t q = {0};
  quarantine_lines(p, &q);
  OC_CHECK_INT(q.n, 6);
  oc_arena_t a;
  char err[256];
  int seen_long = 0, seen_utf8 = 0;
  oc_arena_init(&a, 1 << 20);
  for (size_t i = 0; i < q.n; i++) {
    OC_CHECK(strlen(q.v[i]) < 6 * 65536 + 4096); /* raw is capped at 64 KiB */
    const oc_json_t *v = oc_json_parse(&a, q.v[i], strlen(q.v[i]), 64, err, sizeof(err));
    OC_CHECK(v != NULL);
    if (!v) continue;
    OC_CHECK(oc_json_streq(oc_json_get(v, "source_id"), "ct"));
    OC_CHECK(oc_json_streq(oc_json_get(v, "object"), "logs/mixed.json"));
    OC_CHECK(oc_json_is_string(oc_json_get(v, "raw")));
    if (oc_json_streq(oc_json_get(v, "reason"), "line_too_long")) {
      seen_long = 1;
      OC_CHECK(oc_json_get(v, "raw_truncated") &&
               oc_json_get(v, "raw_truncated")->type == OC_JSON_TRUE);
      OC_CHECK_INT(oc_json_get(v, "raw")->len, 64 * 1024);
      int64_t line;
      OC_CHECK(oc_json_int64(oc_json_get(v, "line"), &line) && line == 202);
    }
    if (oc_json_streq(oc_json_get(v, "reason"), "invalid_utf8")) {
      seen_utf8 = 1;
      const oc_json_t *raw = oc_json_get(v, "raw");
      /* the invalid bytes became U+FFFD */
      OC_CHECK(raw && memmem(raw->s, raw->len, "\xef\xbf\xbd\xef\xbf\xbd", 6) != NULL);
      OC_CHECK(oc_json_get(v, "raw_truncated") == NULL);
      int64_t rb;
      OC_CHECK(oc_json_int64(oc_json_get(v, "raw_bytes"), &rb) && rb == 65);
    }
    oc_arena_reset(&a);
  }
  OC_CHECK(seen_long && seen_utf8);
  oc_arena_deinit(&a);
  tl_lines_free(&q);
  oc_objproc_destroy(p);
  oc_metrics_destroy(m);
  oc_buf_deinit(&b);
}

static void test_bad_records_are_counted_and_the_rest_processed(void) {
  oc_buf_t b;
  size_t gzlen;
  oc_objproc_result_t res;
  oc_objproc_t *p = new_proc(100000, 64 * 1024, NULL);
  oc_buf_init(&b);
  oc_buf_puts(&b, "{\"Records\":[");
  ct_event(&b, 0, 0);
  oc_buf_puts(&b, ",{\"eventName\":\"bad \xff utf8\"},");
  for (int i = 0; i < 10000; i++)
    oc_buf_putc(&b, '[');
  for (int i = 0; i < 10000; i++)
    oc_buf_putc(&b, ']');
  oc_buf_puts(&b, ",{\"pad\":\"");
  for (int i = 0; i < 100000; i++)
    oc_buf_putc(&b, i % 50 ? 'x' : '}');
  oc_buf_puts(&b, "\"},5,{\"eventName\":\"x\"},");
  ct_event(&b, 6, 1);
  oc_buf_puts(&b, "]}");
  unsigned char *gz = tl_gzip(b.data, b.len, &gzlen);
  put("logs", "badrecords.json.gz", gz, gzlen);
  OC_CHECK_INT(run(p, "logs", "badrecords.json.gz", "e1", &res), OC_OK);
  OC_CHECK(res.records_form);
  OC_CHECK_INT(res.events, 2);
  OC_CHECK_INT(res.lines, 7);
  OC_CHECK_INT(res.rejected_by[OC_REJ_INVALID_UTF8], 1);
  OC_CHECK_INT(res.first_line[OC_REJ_INVALID_UTF8], 2);
  OC_CHECK_INT(res.rejected_by[OC_REJ_MAX_DEPTH], 1);
  OC_CHECK_INT(res.first_line[OC_REJ_MAX_DEPTH], 3);
  OC_CHECK_INT(res.rejected_by[OC_REJ_LINE_TOO_LONG], 1);
  OC_CHECK_INT(res.first_line[OC_REJ_LINE_TOO_LONG], 4);
  OC_CHECK_INT(res.rejected_by[OC_REJ_NOT_OBJECT], 1);
  OC_CHECK_INT(res.rejected_by[OC_REJ_NO_LOG_TYPE], 1);
  OC_CHECK_INT(res.rejected, 5);
  /* a broken structure after good records: those are kept, one rejection for the rest */
  oc_buf_reset(&b);
  oc_buf_puts(&b, "{\"Records\":[");
  ct_event(&b, 0, 0);
  oc_buf_putc(&b, ',');
  ct_event(&b, 1, 0);
  oc_buf_puts(&b, " x ");
  ct_event(&b, 2, 0);
  oc_buf_puts(&b, "]}");
  put("logs", "broken.json", b.data, b.len);
  OC_CHECK_INT(run(p, "logs", "broken.json", "e1", &res), OC_OK);
  OC_CHECK_INT(res.events, 2);
  OC_CHECK_INT(res.rejected_by[OC_REJ_INVALID_JSON], 1);
  OC_CHECK_INT(file_rows(&res), 2);
  free(gz);
  oc_objproc_destroy(p);
  oc_buf_deinit(&b);
}

static void test_truncated_gzip(void) {
  oc_buf_t b;
  size_t gzlen;
  oc_objproc_result_t res;
  oc_metrics_t *m = oc_metrics_new();
  oc_objproc_t *p = new_proc(100000, 1 << 20, m);
  oc_buf_init(&b);
  ct_lines(&b, 0, 300, 1);
  unsigned char *gz = tl_gzip(b.data, b.len, &gzlen);
  put("logs", "truncated.json.gz", gz, gzlen / 2);
  OC_CHECK_INT(run(p, "logs", "truncated.json.gz", "e1", &res), OC_OK);
  OC_CHECK(res.events > 0 && res.events < 300);
  OC_CHECK_INT(res.rejected_by[OC_REJ_TRUNCATED], 1);
  OC_CHECK_INT(res.rejected, 1);
  OC_CHECK_INT(file_rows(&res), res.events); /* committed */
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_lines_rejected_total",
                              "source=\"ct\",reason=\"truncated_input\""),
               1);
  tl_lines_t lines = {0};
  lake_lines(&res, &lines);
  OC_CHECK_INT(lines.n, res.events);
  tl_lines_free(&lines);
  free(gz);
  oc_objproc_destroy(p);
  oc_metrics_destroy(m);
  oc_buf_deinit(&b);
}

static void test_corrupt_and_truncated_zstd(void) {
  oc_buf_t b;
  size_t zlen;
  oc_objproc_result_t res;
  oc_objproc_t *p = new_proc(100000, 1 << 20, NULL);
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  oc_buf_init(&b);
  ct_lines(&b, 0, 3000, 1);
  /* with a content checksum, as the lake writes them, damage is always detected */
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  unsigned char *z = malloc(ZSTD_compressBound(b.len));
  zlen = ZSTD_compress2(cctx, z, ZSTD_compressBound(b.len), b.data, b.len);
  OC_CHECK(!ZSTD_isError(zlen));
  put("logs", "cut.json.zst", z, zlen * 2 / 3);
  OC_CHECK_INT(run(p, "logs", "cut.json.zst", "e1", &res), OC_OK);
  OC_CHECK(res.events > 0 && res.events < 3000);
  OC_CHECK_INT(res.rejected_by[OC_REJ_TRUNCATED], 1);
  OC_CHECK_INT(res.rejected, 1);
  OC_CHECK_INT(file_rows(&res), res.events);
  for (size_t i = zlen * 3 / 4; i < zlen * 3 / 4 + 64; i++)
    z[i] ^= 0x5a;
  put("logs", "corrupt.json.zst", z, zlen);
  OC_CHECK_INT(run(p, "logs", "corrupt.json.zst", "e1", &res), OC_OK);
  OC_CHECK(res.events < 3000);
  OC_CHECK_INT(res.rejected_by[OC_REJ_CORRUPT], 1);
  OC_CHECK_INT(file_rows(&res), res.events);
  ZSTD_freeCCtx(cctx);
  free(z);
  oc_objproc_destroy(p);
  oc_buf_deinit(&b);
}

static void test_unsafe_keys_are_refused(void) {
  oc_objproc_result_t res;
  oc_metrics_t *m = oc_metrics_new();
  oc_objproc_t *p = new_proc(100000, 1 << 20, m);
  char path[1024], target[1024];
  static const char *keys[] = {"a/../../../etc/passwd", "/etc/passwd", "../x", "a/./b"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    OC_CHECK_INT(run(p, "logs", keys[i], "", &res), OC_OK);
    OC_CHECK(res.object_rejected);
    OC_CHECK_STR(res.object_reason, "unsafe_path");
    OC_CHECK_INT(res.nfiles, 0);
    OC_CHECK_INT(res.quarantined, 1);
  }
  OC_CHECK_INT(run(p, "..", "x", "", &res), OC_OK);
  OC_CHECK(res.object_rejected);
  OC_CHECK_INT(oc_metrics_get(m, "ocelot_processor_objects_rejected_total",
                              "source=\"ct\",reason=\"unsafe_path\""),
               5);
  /* the quarantine holds the refusal */
  OC_CHECK_INT(run(p, "logs", "a/../../../etc/passwd", "", &res), OC_OK);
  tl_lines_t q = {0};
  quarantine_lines(p, &q);
  OC_CHECK_INT(q.n, 1);
  if (q.n) {
    OC_CHECK(strstr(q.v[0], "\"reason\":\"unsafe_path\"") != NULL);
    OC_CHECK(strstr(q.v[0], "etc/passwd") != NULL);
  }
  tl_lines_free(&q);
  /* a symbolic link, to a file outside the root or through a linked directory */
  snprintf(target, sizeof(target), "%s/outside.json", dir);
  tl_write(target, "{}\n", 3);
  snprintf(path, sizeof(path), "%s/logs/link.json", objroot);
  OC_CHECK(symlink(target, path) == 0);
  OC_CHECK_INT(run(p, "logs", "link.json", "", &res), OC_OK);
  OC_CHECK(res.object_rejected);
  OC_CHECK_STR(res.object_reason, "symlink");
  snprintf(path, sizeof(path), "%s/logs/linkdir", objroot);
  OC_CHECK(symlink(dir, path) == 0);
  OC_CHECK_INT(run(p, "logs", "linkdir/outside.json", "", &res), OC_OK);
  OC_CHECK(res.object_rejected);
  OC_CHECK_STR(res.object_reason, "path_escapes_root");
  /* a directory */
  OC_CHECK_INT(run(p, "logs", "good", "", &res), OC_OK);
  OC_CHECK_STR(res.object_reason, "not_a_file");
  /* missing: not found (retried, dead-lettered, requeue-able) */
  OC_CHECK_INT(run(p, "logs", "nope.json", "", &res), OC_ERR_NOT_FOUND);
  OC_CHECK_INT(run(p, "nobucket", "nope.json", "", &res), OC_ERR_NOT_FOUND);
  oc_objproc_destroy(p);
  oc_metrics_destroy(m);
}

/* The same events as CloudTrail's {"Records":[...]} (gzip) and as JSON lines (plain), under
 * the same object identity: identical lake rows. */
static void test_records_and_lines_give_identical_rows(void) {
  oc_buf_t lines, recs;
  size_t gzlen;
  oc_objproc_result_t res;
  tl_lines_t a = {0}, b = {0};
  oc_objproc_t *p = new_proc(100000, 1 << 20, NULL);
  oc_buf_init(&lines);
  oc_buf_init(&recs);
  oc_buf_puts(&recs, "{\"Records\": [");
  for (int i = 0; i < 2000; i++) {
    ct_event(&lines, i, i * 3);
    oc_buf_putc(&lines, '\n');
    if (i) oc_buf_puts(&recs, ",\n ");
    ct_event(&recs, i, i * 3);
  }
  oc_buf_puts(&recs, "]}");
  unsigned char *gz = tl_gzip(recs.data, recs.len, &gzlen);
  put("logs", "same.json.gz", gz, gzlen);
  OC_CHECK_INT(run(p, "logs", "same.json.gz", "v1", &res), OC_OK);
  OC_CHECK(res.records_form);
  OC_CHECK_INT(res.events, 2000);
  OC_CHECK_INT(res.nfiles, 2); /* 6000 s: two event hours */
  lake_lines(&res, &a);
  put("logs", "same.json.gz", lines.data, lines.len);
  OC_CHECK_INT(run(p, "logs", "same.json.gz", "v1", &res), OC_OK);
  OC_CHECK(!res.records_form);
  OC_CHECK_INT(res.events, 2000);
  lake_lines(&res, &b);
  OC_CHECK_INT(a.n, 2000);
  OC_CHECK_INT(b.n, a.n);
  int diff = 0;
  for (size_t i = 0; i < a.n && i < b.n; i++)
    diff += strcmp(a.v[i], b.v[i]) != 0;
  OC_CHECK_INT(diff, 0);
  tl_lines_free(&a);
  tl_lines_free(&b);
  free(gz);
  oc_objproc_destroy(p);
  oc_buf_deinit(&lines);
  oc_buf_deinit(&recs);
}

static int count_files(const char *d) {
  char cmd[1024];
  int n = -1;
  snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", d);
  FILE *f = popen(cmd, "r");
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = -1;
    pclose(f);
  }
  return n;
}

static void test_rotation_and_deterministic_names(void) {
  oc_buf_t b;
  oc_objproc_result_t res;
  char keys[8][512], dirpath[1024];
  oc_objproc_t *p = new_proc(100, 1 << 20, NULL);
  oc_buf_init(&b);
  ct_lines(&b, 0, 250, 1); /* one hour */
  /* then one event per hour, far later: 100 more partitions, more than the 64 files a run
   * keeps open, so the least recently used are committed early */
  ct_lines(&b, 250, 100, 3600);
  put("logs", "rot/x.json", b.data, b.len);
  OC_CHECK_INT(run(p, "logs", "rot/x.json", "e9", &res), OC_OK);
  OC_CHECK_INT(res.events, 350);
  OC_CHECK_INT(res.nfiles, 103);
  OC_CHECK_INT(file_rows(&res), 350);
  for (size_t i = 0; i < 2 && i < res.nfiles; i++)
    snprintf(keys[i], sizeof(keys[i]), "%s", res.files[i].key);
  if (res.nfiles >= 3) {
    OC_CHECK_INT(res.files[0].rows, 100);
    OC_CHECK_INT(res.files[1].rows, 100);
    OC_CHECK(strstr(keys[0], "-000000.json.zst") && strstr(keys[1], "-000001.json.zst"));
    OC_CHECK_STR(res.files[0].log_type, "AWS.CloudTrail");
  }
  for (size_t i = 2; i < res.nfiles; i++) { /* the rest of hour 10 is the third file */
    if (strstr(res.files[i].key, "hour=10/") && strstr(res.files[i].key, "day=01/")) {
      OC_CHECK(strstr(res.files[i].key, "-000002.json.zst") != NULL);
      OC_CHECK_INT(res.files[i].rows, 50);
      snprintf(keys[2], sizeof(keys[2]), "%s", res.files[i].key);
    }
  }
  snprintf(dirpath, sizeof(dirpath), "%s/logs/aws_cloudtrail", lakeroot);
  int before = count_files(dirpath);
  /* a re-run writes the same names: files are replaced, not added */
  OC_CHECK_INT(run(p, "logs", "rot/x.json", "e9", &res), OC_OK);
  for (size_t i = 0; i < 2 && i < res.nfiles; i++)
    OC_CHECK_STR(res.files[i].key, keys[i]);
  int found = 0;
  for (size_t i = 0; i < res.nfiles; i++)
    found += strcmp(res.files[i].key, keys[2]) == 0;
  OC_CHECK_INT(found, 1);
  OC_CHECK_INT(count_files(dirpath), before);
  /* another version of the object gets other names */
  OC_CHECK_INT(run(p, "logs", "rot/x.json", "e10", &res), OC_OK);
  if (res.nfiles) OC_CHECK(strcmp(res.files[0].key, keys[0]) != 0);
  oc_objproc_destroy(p);
  oc_buf_deinit(&b);
}

static void test_two_log_types_in_one_object(void) {
  char err[256];
  const char *req[] = {"action", "src"};
  OC_CHECK_INT(oc_logtypes_add(reg, "Custom.Firewall", "ts", req, 2, err, sizeof(err)), OC_OK);
  const oc_logtype_t *types[] = {ct_types[0], oc_logtypes_find(reg, "Custom.Firewall")};
  oc_objproc_source_t two = {"mix", "Mixed", types, 2};
  oc_buf_t b;
  oc_objproc_result_t res;
  oc_objproc_t *p = new_proc(100000, 1 << 20, NULL);
  oc_buf_init(&b);
  for (int i = 0; i < 40; i++) {
    if (i % 4 == 0)
      oc_buf_appendf(
          &b, "{\"ts\":\"2026-11-02T03:04:05Z\",\"action\":\"deny\",\"src\":\"10.0.0.%d\"}\n", i);
    else
      ct_lines(&b, i, 1, 1);
  }
  oc_buf_puts(&b, "{\"ts\":\"2026-11-02T03:04:05Z\",\"action\":\"deny\"}\n"); /* neither */
  put("logs", "mix.json", b.data, b.len);
  OC_CHECK_INT(oc_objproc_run(p, &two, "logs", "mix.json", "", PARSE_US, &res, err, sizeof(err)),
               OC_OK);
  OC_CHECK_INT(res.events, 40);
  OC_CHECK_INT(res.rejected_by[OC_REJ_NO_LOG_TYPE], 1);
  OC_CHECK_INT(res.nfiles, 2);
  uint64_t fw = 0, ct = 0;
  for (size_t i = 0; i < res.nfiles; i++) {
    if (strcmp(res.files[i].log_type, "Custom.Firewall") == 0) {
      fw += res.files[i].rows;
      OC_CHECK(strstr(res.files[i].key, "logs/custom_firewall/year=2026/month=11/day=02/hour=03/"));
    } else {
      ct += res.files[i].rows;
    }
  }
  OC_CHECK_INT(fw, 10);
  OC_CHECK_INT(ct, 30);
  oc_objproc_destroy(p);
  oc_buf_deinit(&b);
}

static void setup(void) {
  dir = tl_tmpdir("objproc");
  snprintf(objroot, sizeof(objroot), "%s/objects", dir);
  snprintf(lakeroot, sizeof(lakeroot), "%s/lake", dir);
  tl_mkdirs(objroot);
  tl_mkdirs(lakeroot);
  char err_lt[512];
  reg = oc_processor_load_types(NULL, NULL, err_lt, sizeof(err_lt));
  if (!reg) fprintf(stderr, "%s\n", err_lt);
  ct_types[0] = oc_logtypes_find(reg, "AWS.CloudTrail");
}

static void teardown(void) {
  oc_logtypes_destroy(reg);
  if (getenv("OC_KEEP_TMP"))
    fprintf(stderr, "kept %s\n", dir);
  else
    tl_rmrf(dir);
  free(dir);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_good_file),
             OC_TEST(test_bad_lines_are_counted_and_the_rest_processed),
             OC_TEST(test_bad_records_are_counted_and_the_rest_processed),
             OC_TEST(test_truncated_gzip), OC_TEST(test_corrupt_and_truncated_zstd),
             OC_TEST(test_unsafe_keys_are_refused),
             OC_TEST(test_records_and_lines_give_identical_rows),
             OC_TEST(test_rotation_and_deterministic_names),
             OC_TEST(test_two_log_types_in_one_object), OC_TEST(teardown))
