/* Normalized lake lines: exact golden output for a CloudTrail event and a custom type,
 * row ids, replaced p_ members, escaping. */
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/timeutil.h"
#include "oc_test.h"
#include "services/log-processor/classify.h"
#include "services/log-processor/logtypes.h"
#include "services/log-processor/processor.h"
#include "services/log-processor/normalize.h"

static const int64_t PARSE_US = INT64_C(1795883860123456); /* 2026-11-28 16:37:40.123456 */

static oc_logtypes_t *managed;
static bool raw; /* run(): write from the source text and patches (the processor's path) */

/* Classifies text among types as the processor does (schema normalization and
 * indicators included), normalizes it as line line_no of logs/ct/a.json (etag e1) for
 * source ct; returns the line (static buffer). */
static const char *run(const char *text, const oc_logtype_t *const *types, size_t n,
                       const char *label, uint64_t line_no) {
  static oc_buf_t out;
  static char line[8192];
  oc_arena_t a;
  oc_indset_t ind;
  oc_cls_out_t co;
  char err[256], rowid[33];
  oc_classifier_t *c = oc_classifier_new(64, err, sizeof(err));
  oc_arena_init(&a, 4096);
  oc_indset_init(&ind);
  oc_buf_init(&out);
  line[0] = '\0';
  OC_CHECK_INT(oc_classifier_begin(c, types, n, err, sizeof(err)), OC_OK);
  oc_cls_result_t r = oc_classifier_line(c, &a, text, strlen(text), false, PARSE_US, &ind, &co);
  OC_CHECK_INT(r, OC_CLS_OK);
  if (r != OC_CLS_OK) fprintf(stderr, "rejected: %s\n", co.error);
  if (r == OC_CLS_OK) {
    oc_normalize_row_id(rowid, "ct", "logs/ct/a.json", 14, "e1", line_no);
    oc_norm_meta_t m = {co.type->name, rowid, co.event_time_us,       PARSE_US, "ct",
                        label,         &ind,  raw ? co.patches : NULL};
    oc_normalize_event(&out, co.ev, &m);
    OC_CHECK(oc_buf_ok(&out));
    snprintf(line, sizeof(line), "%s", out.data);
  }
  oc_buf_deinit(&out);
  oc_indset_deinit(&ind);
  oc_arena_deinit(&a);
  oc_classifier_destroy(c);
  return line;
}

static void test_cloudtrail_golden(void) {
  const oc_logtype_t *types[] = {oc_logtypes_find(managed, "AWS.CloudTrail")};
  const char *in =
      "{ \"eventVersion\": \"1.08\", \"userIdentity\": {\"type\": \"Root\", \"principalId\": "
      "\"123456789012\", \"arn\": \"arn:aws:iam::123456789012:root\"},\n"
      "  \"eventTime\": \"2026-11-01T10:00:05Z\", \"eventSource\": \"signin.amazonaws.com\", "
      "\"eventName\": \"ConsoleLogin\", \"awsRegion\": \"us-east-1\", \"sourceIPAddress\": "
      "\"198.51.100.7\", \"requestParameters\": null, \"responseElements\": {\"ConsoleLogin\": "
      "\"Success\"}, \"eventID\": \"3c0f8a4e-1b2c-4d5e-8f90-123456789abc\", \"readOnly\": false, "
      "\"resources\": [], \"n\": 1.50e3, \"eventType\": \"AwsConsoleSignIn\", \"p_log_type\": "
      "\"Spoofed\", "
      "\"p_any_ip_addresses\": []}";
  const char *want =
      "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"Root\",\"principalId\":"
      "\"123456789012\",\"arn\":\"arn:aws:iam::123456789012:root\"},\"eventTime\":"
      "\"2026-11-01 10:00:05.000000000\",\"eventSource\":\"signin.amazonaws.com\",\"eventName\":"
      "\"ConsoleLogin\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"198.51.100.7\","
      "\"requestParameters\":null,\"responseElements\":{\"ConsoleLogin\":\"Success\"},"
      "\"eventID\":\"3c0f8a4e-1b2c-4d5e-8f90-123456789abc\",\"readOnly\":false,\"resources\":[],"
      "\"n\":1.50e3,\"eventType\":\"AwsConsoleSignIn\","
      "\"p_log_type\":\"AWS.CloudTrail\",\"p_row_id\":\"ROWID\","
      "\"p_event_time\":\"2026-11-01 10:00:05.000000000\","
      "\"p_parse_time\":\"2026-11-28 16:37:40.123456000\",\"p_source_id\":\"ct\","
      "\"p_source_label\":\"CloudTrail \\\"prod\\\"\",\"p_any_ip_addresses\":[\"198.51.100.7\"],"
      "\"p_any_aws_account_ids\":[\"123456789012\"],"
      "\"p_any_aws_arns\":[\"arn:aws:iam::123456789012:root\"]}";
  char rowid[33], expect[4096];
  /* p_row_id is XXH3-128 over (source id, bucket/key, etag, line number) */
  oc_hash_hex128_strs(rowid, "ct", "logs/ct/a.json", "e1", "3", NULL);
  OC_CHECK_STR(rowid, "d190cf1fee991979e99a9ac0d07ec347");
  const char *rw = strstr(want, "ROWID");
  snprintf(expect, sizeof(expect), "%.*s%s%s", (int)(rw - want), want, rowid, rw + 5);
  OC_CHECK_STR(run(in, types, 1, "CloudTrail \"prod\"", 3), expect);
}

static void test_custom_golden(void) {
  oc_logtypes_t *reg = oc_logtypes_new(managed);
  const char *req[] = {"action", "src.ip"};
  char err[256];
  OC_CHECK_INT(oc_logtypes_add(reg, "Custom.Firewall", "ts", req, 2, err, sizeof(err)), OC_OK);
  const char *noreq[] = {"msg"};
  OC_CHECK_INT(oc_logtypes_add(reg, "Custom.NoTime", NULL, noreq, 1, err, sizeof(err)), OC_OK);
  const oc_logtype_t *types[] = {oc_logtypes_find(reg, "AWS.CloudTrail"),
                                 oc_logtypes_find(reg, "Custom.Firewall")};
  char rowid[33], expect[2048];
  oc_hash_hex128_strs(rowid, "ct", "logs/ct/a.json", "e1", "12", NULL);
  snprintf(expect, sizeof(expect),
           "{\"ts\":\"2026-11-01 08:00:00.500000000\",\"action\":\"deny\",\"src\":{\"ip\":"
           "\"10.0.0.1\",\"port\":443},\"msg\":\"line1\\nline2 \\u0001 \xe2\x80\xa8 \xc3\xa9\","
           "\"p_log_type\":\"Custom.Firewall\",\"p_row_id\":\"%s\","
           "\"p_event_time\":\"2026-11-01 08:00:00.500000000\","
           "\"p_parse_time\":\"2026-11-28 16:37:40.123456000\",\"p_source_id\":\"ct\","
           "\"p_source_label\":\"FW\"}",
           rowid);
  const char *got =
      run("{\"ts\":\"2026-11-01T10:00:00.5+02:00\",\"action\":\"deny\",\"src\":{"
          "\"ip\":\"10.0.0.1\",\"port\":443},\"msg\":\"line1\\nline2 \\u0001 "
          "\\u2028 \\u00e9\"}",
          types, 2, "FW", 12);
  OC_CHECK_STR(got, expect);
  OC_CHECK(strchr(got, '\n') == NULL);
  /* no event-time field: p_event_time is the parse time */
  const oc_logtype_t *nt[] = {oc_logtypes_find(reg, "Custom.NoTime")};
  oc_hash_hex128_strs(rowid, "ct", "logs/ct/a.json", "e1", "1", NULL);
  snprintf(expect, sizeof(expect),
           "{\"msg\":\"hi\",\"p_log_type\":\"Custom.NoTime\",\"p_row_id\":\"%s\","
           "\"p_event_time\":\"2026-11-28 16:37:40.123456000\","
           "\"p_parse_time\":\"2026-11-28 16:37:40.123456000\",\"p_source_id\":\"ct\","
           "\"p_source_label\":\"\"}",
           rowid);
  OC_CHECK_STR(run("{\"msg\":\"hi\"}", nt, 1, "", 1), expect);
  oc_logtypes_destroy(reg);
}

/* The processor writes lake lines from the source text with the changed spans patched;
 * that must be the same JSON as serializing the normalized tree. */
static void test_raw_copy_equals_serialization(void) {
  static const char *const inputs[] = {
      "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-01T10:00:05Z\",\"eventSource\":\"s3."
      "amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\",\"eventID\":\"e\","
      "\"eventType\":\"AwsApiCall\",\"readOnly\":\"true\",\"n\":1.50e3,\"sourceIPAddress\":"
      "\"192.0.2.1\",\"userAgent\":\"caf\\u00e9 "
      "\\\"x\\\"\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\"}}",
      /* whitespace kept, a p_ member forces serialization */
      "{ \"eventVersion\": \"1.08\", \"eventTime\": \"2026-11-01T10:00:05Z\", \"eventSource\": "
      "\"s\", "
      "\"eventName\": \"n\", \"awsRegion\": \"r\", \"eventID\": \"e\", \"eventType\": \"t\", "
      "\"p_any_ip_addresses\": [\"1.1.1.1\"] }",
      "{ \"eventVersion\": \"1.08\", \"eventTime\": \"2026-11-01T10:00:05Z\", \"eventSource\": "
      "\"s\", "
      "\"eventName\": \"n\", \"awsRegion\": \"r\", \"eventID\": \"e\", \"eventType\": \"t\" }  ",
      /* an escaped timestamp cannot be patched: serialized */
      "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-01T10:00:05\\u005a\",\"eventSource\":"
      "\"s\","
      "\"eventName\":\"n\",\"awsRegion\":\"r\",\"eventID\":\"e\",\"eventType\":\"t\"}",
  };
  const oc_logtype_t *types[] = {oc_logtypes_find(managed, "AWS.CloudTrail")};
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    char a[8192], b[8192], err[256];
    raw = false;
    snprintf(a, sizeof(a), "%s", run(inputs[i], types, 1, "L", 1));
    raw = true;
    snprintf(b, sizeof(b), "%s", run(inputs[i], types, 1, "L", 1));
    raw = false;
    oc_arena_t ar;
    oc_buf_t x, y;
    oc_arena_init(&ar, 4096);
    oc_buf_init(&x);
    oc_buf_init(&y);
    const oc_json_t *ja = oc_json_parse(&ar, a, strlen(a), 64, err, sizeof(err));
    const oc_json_t *jb = oc_json_parse(&ar, b, strlen(b), 64, err, sizeof(err));
    OC_CHECK(ja && jb);
    if (ja && jb) {
      oc_json_serialize(&x, ja);
      oc_json_serialize(&y, jb);
      OC_CHECK_STR(x.data, y.data);
    }
    if (i == 0) {
      /* untouched members are the source's own text; changed ones are patched in */
      OC_CHECK(strstr(b, "\"n\":1.50e3,") != NULL);
      OC_CHECK(strstr(b, "\"userAgent\":\"caf\\u00e9 \\\"x\\\"\"") != NULL);
      OC_CHECK(strstr(b, "\"eventTime\":\"2026-11-01 10:00:05.000000000\"") != NULL);
      OC_CHECK(strstr(b, "\"readOnly\":true,") != NULL);
      OC_CHECK(strcmp(a, b) != 0); /* the serializer unescapes: the raw path really ran */
    } else if (i == 2) {
      OC_CHECK(
          strncmp(b,
                  "{ \"eventVersion\": \"1.08\", \"eventTime\": \"2026-11-01 10:00:05.000000000\"",
                  60) == 0);
    } else {
      OC_CHECK_STR(a, b); /* fell back to serializing */
    }
    oc_buf_deinit(&x);
    oc_buf_deinit(&y);
    oc_arena_deinit(&ar);
  }
}

static void test_row_ids(void) {
  char a[33], b[33], c[33], d[33];
  oc_normalize_row_id(a, "ct", "logs/k", 6, "e1", 1);
  oc_normalize_row_id(b, "ct", "logs/k", 6, "e1", 2);
  oc_normalize_row_id(c, "ct", "logs/k", 6, "e2", 1);
  oc_normalize_row_id(d, "ct", "logs/k", 6, "e1", 1);
  OC_CHECK_STR(a, d); /* deterministic */
  OC_CHECK(strcmp(a, b) != 0);
  OC_CHECK(strcmp(a, c) != 0);
  OC_CHECK_INT(strlen(a), 32);
  oc_normalize_row_id(a, "ct", "x", 1, "", UINT64_C(18446744073709551615));
  oc_hash_hex128_strs(b, "ct", "x", "", "18446744073709551615", NULL);
  OC_CHECK_STR(a, b);
}

static void test_empty_object(void) {
  oc_arena_t ar;
  oc_buf_t out;
  char err[64];
  oc_arena_init(&ar, 1024);
  oc_buf_init(&out);
  const oc_json_t *ev = oc_json_parse(&ar, "{}", 2, 8, err, sizeof(err));
  oc_norm_meta_t m = {"T", "00000000000000000000000000000000", 0, 0, "s", "l", NULL, NULL};
  oc_normalize_event(&out, ev, &m);
  OC_CHECK_STR(out.data,
               "{\"p_log_type\":\"T\",\"p_row_id\":\"00000000000000000000000000000000\","
               "\"p_event_time\":\"1970-01-01 00:00:00.000000000\",\"p_parse_time\":"
               "\"1970-01-01 00:00:00.000000000\",\"p_source_id\":\"s\",\"p_source_label\":\"l\"}");
  oc_buf_deinit(&out);
  oc_arena_deinit(&ar);
}

static void setup(void) {
  char err[512];
  managed = oc_processor_load_types(NULL, NULL, err, sizeof(err));
  if (!managed) fprintf(stderr, "%s\n", err);
  OC_CHECK(managed != NULL);
}
static void teardown(void) {
  oc_logtypes_destroy(managed);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_cloudtrail_golden), OC_TEST(test_custom_golden),
             OC_TEST(test_raw_copy_equals_serialization), OC_TEST(test_row_ids),
             OC_TEST(test_empty_object), OC_TEST(teardown))
