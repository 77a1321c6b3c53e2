/* Log types and classification: the managed registry from schemas/, legacy custom types,
 * chained registries, classification among several types by required fields and by
 * penalty, parsers of different kinds in one source. */
#include <stdint.h>

#include "common/arena.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/classify.h"
#include "services/log-processor/logtypes.h"

static oc_arena_t arena;
static oc_logtypes_t *managed;

static oc_schema_t *S(const char *yaml) {
  char err[512];
  oc_schema_t *s = oc_schema_load(yaml, strlen(yaml), "test.yml", err, sizeof(err));
  if (!s) fprintf(stderr, "schema: %s\n", err);
  return s;
}

/* Classifies text among types with a fresh classifier per call unless c is given. */
static const char *classify_with(oc_classifier_t *c, const char *text, int64_t *et,
                                 oc_cls_result_t *why) {
  oc_cls_out_t out;
  oc_cls_result_t r = oc_classifier_line(c, &arena, text, strlen(text), false, 1000, NULL, &out);
  if (why) *why = r;
  if (et) *et = out.event_time_us;
  return r == OC_CLS_OK ? out.type->name : "(none)";
}

static const char *classify(const oc_logtype_t *const *types, size_t n, const char *text,
                            int64_t *et, oc_cls_result_t *why) {
  char err[256];
  oc_classifier_t *c = oc_classifier_new(64, err, sizeof(err));
  OC_CHECK_INT(oc_classifier_begin(c, types, n, err, sizeof(err)), OC_OK);
  const char *name = classify_with(c, text, et, why);
  oc_classifier_destroy(c);
  return name;
}

static void test_managed_registry(void) {
  const oc_logtype_t *ct = oc_logtypes_find(managed, "AWS.CloudTrail");
  OC_CHECK(ct != NULL && ct->builtin);
  OC_CHECK(oc_logtypes_count(managed) >= 50);
  OC_CHECK(oc_logtypes_find(managed, "Syslog.RFC5424") != NULL);
  OC_CHECK(oc_logtypes_find(managed, "aws.cloudtrail") == NULL);
  /* every managed schema carries a description and compiled fields */
  for (size_t i = 0; i < oc_logtypes_count(managed); i++) {
    const oc_logtype_t *t = oc_logtypes_at(managed, i);
    OC_CHECK(t->schema->root.nfields > 0);
    if (i) OC_CHECK(strcmp(oc_logtypes_at(managed, i - 1)->name, t->name) < 0);
  }
  int64_t et = 0;
  const oc_logtype_t *types[] = {ct};
  const char *good =
      "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-01T10:00:00.250Z\",\"eventSource\":"
      "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
      "\"eventID\":\"e\",\"eventType\":\"AwsApiCall\"}";
  OC_CHECK_STR(classify(types, 1, good, &et, NULL), "AWS.CloudTrail");
  OC_CHECK_INT(et, INT64_C(1793527200250000));
  oc_cls_result_t why;
  OC_CHECK_STR(classify(types, 1,
                        "{\"eventVersion\":\"1.08\",\"eventSource\":\"s\",\"eventName\":"
                        "\"n\",\"awsRegion\":\"r\",\"eventID\":\"e\"}",
                        &et, &why),
               "(none)");
  OC_CHECK_INT(why, OC_CLS_NO_TYPE);
  OC_CHECK_STR(classify(types, 1,
                        "{\"eventVersion\":\"1.08\",\"eventTime\":\"bad\",\"eventSource\":"
                        "\"s\",\"eventName\":\"n\",\"awsRegion\":\"r\",\"eventID\":\"e\"}",
                        &et, &why),
               "(none)");
  OC_CHECK_INT(why, OC_CLS_BAD_TIME);
  OC_CHECK_STR(classify(types, 1, "{\"eventVersion\":", &et, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_INVALID_JSON);
  OC_CHECK_STR(classify(types, 1, "[1,2]", &et, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_NOT_OBJECT);
  oc_arena_reset(&arena);
}

static void test_two_types_by_required_fields(void) {
  oc_logtypes_t *reg = oc_logtypes_new(managed);
  char err[256];
  int64_t et = 0;
  oc_cls_result_t why;
  const char *web_req[] = {"method", "path", "status"};
  const char *auth_req[] = {"user", "result"};
  OC_CHECK_INT(oc_logtypes_add(reg, "App.Web", "time", web_req, 3, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_logtypes_add(reg, "App.Auth", "when", auth_req, 2, err, sizeof(err)), OC_OK);
  const oc_logtype_t *types[] = {oc_logtypes_find(reg, "App.Auth"),
                                 oc_logtypes_find(reg, "App.Web")};
  OC_CHECK_STR(classify(types, 2, "{\"method\":\"GET\",\"path\":\"/\",\"status\":200}", &et, &why),
               "App.Web");
  OC_CHECK_INT(et, 1000); /* no time field in the event: parse time */
  OC_CHECK_STR(
      classify(types, 2, "{\"user\":\"bob\",\"result\":\"ok\",\"when\":\"2026-11-01T10:00:00Z\"}",
               &et, &why),
      "App.Auth");
  OC_CHECK_INT(et, INT64_C(1793527200000000));
  /* both match: the more specific type (more required fields) is tried first */
  OC_CHECK_STR(classify(types, 2,
                        "{\"user\":\"bob\",\"result\":\"ok\",\"method\":\"GET\",\"path\":\"/\","
                        "\"status\":200}",
                        &et, &why),
               "App.Web");
  /* a null required field is missing */
  OC_CHECK_STR(classify(types, 2, "{\"user\":null,\"result\":\"ok\"}", &et, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_NO_TYPE);
  /* a present but malformed time rejects the type, the other can still take the event */
  OC_CHECK_STR(classify(types, 2,
                        "{\"user\":\"b\",\"result\":\"ok\",\"when\":\"x\",\"method\":\"GET\","
                        "\"path\":\"/\",\"status\":1}",
                        &et, &why),
               "App.Web");
  OC_CHECK_STR(classify(types, 2, "{\"user\":\"bob\",\"result\":\"ok\",\"when\":12}", &et, &why),
               "(none)");
  /* the chained registry sees the managed types; a managed name cannot be redefined */
  OC_CHECK(oc_logtypes_find(reg, "AWS.CloudTrail") != NULL);
  OC_CHECK_INT(oc_logtypes_count(reg), 2);
  const char *ok[] = {"a"};
  OC_CHECK_INT(oc_logtypes_add(reg, "AWS.CloudTrail", NULL, ok, 1, err, sizeof(err)),
               OC_ERR_INVALID);
  OC_CHECK(strstr(err, "already defined") != NULL);
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_penalties_settle_on_the_stream_type(void) {
  oc_logtypes_t *reg = oc_logtypes_new(NULL);
  char err[256];
  OC_CHECK_INT(oc_logtypes_add_schema(reg, S("schema: T.A\nfields:\n  - {name: x, type: string}\n"),
                                      false, err, sizeof(err)),
               OC_OK);
  OC_CHECK_INT(oc_logtypes_add_schema(reg, S("schema: T.B\nfields:\n  - {name: y, type: bigint}\n"),
                                      false, err, sizeof(err)),
               OC_OK);
  const oc_logtype_t *ab[] = {oc_logtypes_find(reg, "T.A"), oc_logtypes_find(reg, "T.B")};
  oc_classifier_t *c = oc_classifier_new(64, err, sizeof(err));
  OC_CHECK_INT(oc_classifier_begin(c, ab, 2, err, sizeof(err)), OC_OK);
  /* ties: the source's order */
  OC_CHECK_STR(classify_with(c, "{\"x\":\"1\",\"y\":2}", NULL, NULL), "T.A");
  /* T.A rejects ("x" is an object), T.B takes it and becomes the first choice */
  OC_CHECK_STR(classify_with(c, "{\"x\":{},\"y\":2}", NULL, NULL), "T.B");
  OC_CHECK_STR(classify_with(c, "{\"x\":\"1\",\"y\":2}", NULL, NULL), "T.B");
  /* until it rejects a line */
  OC_CHECK_STR(classify_with(c, "{\"x\":\"1\",\"y\":\"no\"}", NULL, NULL), "T.A");
  OC_CHECK_STR(classify_with(c, "{\"x\":\"1\",\"y\":2}", NULL, NULL), "T.A");
  /* neither: the reason names both */
  oc_cls_result_t why;
  OC_CHECK_STR(classify_with(c, "{\"x\":[],\"y\":\"no\"}", NULL, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_NO_TYPE);
  /* a new stream starts afresh */
  OC_CHECK_INT(oc_classifier_begin(c, ab, 2, err, sizeof(err)), OC_OK);
  OC_CHECK_STR(classify_with(c, "{\"x\":\"1\",\"y\":2}", NULL, NULL), "T.A");
  oc_classifier_destroy(c);
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_mixed_parsers(void) {
  const oc_logtype_t *types[] = {oc_logtypes_find(managed, "Syslog.RFC5424"),
                                 oc_logtypes_find(managed, "Okta.SystemLog"),
                                 oc_logtypes_find(managed, "Apache.AccessCommon"),
                                 oc_logtypes_find(managed, "AWS.CloudTrail")};
  char err[256];
  for (size_t i = 0; i < 4; i++)
    OC_CHECK(types[i] != NULL);
  oc_classifier_t *c = oc_classifier_new(64, err, sizeof(err));
  OC_CHECK_INT(oc_classifier_begin(c, types, 4, err, sizeof(err)), OC_OK);
  OC_CHECK_STR(classify_with(c,
                             "<34>1 2026-11-01T10:00:00.003Z mymachine.example.com su - ID47 - "
                             "'su root' failed for lonvick on /dev/pts/8",
                             NULL, NULL),
               "Syslog.RFC5424");
  OC_CHECK_STR(classify_with(c,
                             "192.0.2.10 - frank [10/Oct/2026:13:55:36 -0700] \"GET /a.gif "
                             "HTTP/1.0\" 200 2326",
                             NULL, NULL),
               "Apache.AccessCommon");
  OC_CHECK_STR(classify_with(c,
                             "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-01T10:00:00Z\","
                             "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\","
                             "\"awsRegion\":\"us-east-1\",\"eventID\":\"e\",\"eventType\":"
                             "\"AwsApiCall\"}",
                             NULL, NULL),
               "AWS.CloudTrail");
  oc_cls_result_t why;
  OC_CHECK_STR(classify_with(c, "neither syslog nor apache nor json", NULL, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_NO_TYPE);
  OC_CHECK_STR(classify_with(c, "bad \xff utf8", NULL, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_INVALID_UTF8);
  oc_classifier_destroy(c);
  oc_arena_reset(&arena);
}

/* A custom schema of every parser kind, written as a team would, classified together. */
static void test_custom_schema_per_parser_kind(void) {
  oc_logtypes_t *reg = oc_logtypes_new(managed);
  char err[512];
  static const char *const docs[] = {
      "schema: Custom.Csv\nparser:\n  csv: {delimiter: ';', columns: [when, who, n]}\nfields:\n"
      "  - {name: when, type: timestamp, timeFormat: unix, isEventTime: true, required: true}\n"
      "  - {name: who, type: string, required: true, indicators: [email]}\n"
      "  - {name: n, type: bigint, required: true}\n",
      "schema: Custom.Fm\nparser:\n  fastmatch:\n    match: ['%{when} [%{level}] %{msg}']\n"
      "fields:\n  - {name: when, type: timestamp, timeFormats: ['%Y/%m/%d %H:%M:%S'], isEventTime: "
      "true, required: true}\n  - {name: level, type: string, required: true, validate: {allow: "
      "[INFO, WARN]}}\n  - {name: msg, type: string}\n",
      "schema: Custom.Re\nparser:\n  regex:\n    match: ['^GOT (?P<count>\\d+) FROM ', "
      "'(?P<ip>\\S+)$']\nfields:\n  - {name: count, type: int, required: true}\n"
      "  - {name: ip, type: string, indicators: [ip]}\n",
      "schema: Custom.Sys\nparser:\n  native: {name: Syslog.RFC5424}\nfields:\n"
      "  - {name: priority, type: int, required: true}\n"
      "  - {name: timestamp, type: timestamp, timeFormat: rfc3339, isEventTime: true}\n"
      "  - {name: appname, type: string, required: true, validate: {allow: [sshd]}}\n",
      "schema: Custom.Json\nfields:\n  - {name: kind, type: string, required: true}\n"};
  const oc_logtype_t *types[5];
  for (size_t i = 0; i < 5; i++) {
    oc_schema_t *s = S(docs[i]);
    OC_CHECK(s != NULL);
    if (!s) return;
    const char *name = s->name;
    char copy[64];
    snprintf(copy, sizeof(copy), "%s", name);
    OC_CHECK_INT(oc_logtypes_add_schema(reg, s, false, err, sizeof(err)), OC_OK);
    types[i] = oc_logtypes_find(reg, copy);
  }
  oc_classifier_t *c = oc_classifier_new(64, err, sizeof(err));
  OC_CHECK_INT(oc_classifier_begin(c, types, 5, err, sizeof(err)), OC_OK);
  int64_t et = 0;
  OC_CHECK_STR(classify_with(c, "1793527200;a@example.com;7", &et, NULL), "Custom.Csv");
  OC_CHECK_INT(et, INT64_C(1793527200000000));
  OC_CHECK_STR(classify_with(c, "2026/11/01 10:00:01 [WARN] disk almost full", &et, NULL),
               "Custom.Fm");
  OC_CHECK_INT(et, INT64_C(1793527201000000));
  OC_CHECK_STR(classify_with(c, "GOT 12 FROM 192.0.2.4", NULL, NULL), "Custom.Re");
  OC_CHECK_STR(classify_with(c, "<38>1 2026-11-01T10:00:02Z h sshd 77 - - Accepted key", &et, NULL),
               "Custom.Sys");
  OC_CHECK_INT(et, INT64_C(1793527202000000));
  OC_CHECK_STR(classify_with(c, "{\"kind\":\"x\"}", NULL, NULL), "Custom.Json");
  /* each kind's own rejections: a bad level, a non-numeric count, another app */
  oc_cls_result_t why;
  OC_CHECK_STR(classify_with(c, "2026/11/01 10:00:01 [DEBUG] x", NULL, &why), "(none)");
  OC_CHECK_INT(why, OC_CLS_NO_TYPE);
  OC_CHECK_STR(classify_with(c, "<38>1 2026-11-01T10:00:02Z h cron 77 - - x", NULL, &why),
               "(none)");
  OC_CHECK_STR(classify_with(c, "1793527200;a@example.com;seven", NULL, &why), "(none)");
  oc_classifier_destroy(c);
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_add_validation(void) {
  oc_logtypes_t *reg = oc_logtypes_new(NULL);
  char err[256];
  const char *ok[] = {"a.b", "c"};
  const char *bad_path[] = {"a..b"};
  const char *many[OC_LOGTYPE_MAX_REQUIRED + 1];
  for (int i = 0; i <= OC_LOGTYPE_MAX_REQUIRED; i++)
    many[i] = "f";
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Ok", "a", ok, 2, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "\"a\"") != NULL); /* required paths through the time field */
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Ok", "t", ok, 2, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Ok", NULL, NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "", NULL, NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Bad", NULL, bad_path, 1, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Bad", ".x", NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(
      oc_logtypes_add(reg, "X.Many", NULL, many, OC_LOGTYPE_MAX_REQUIRED + 1, err, sizeof(err)),
      OC_ERR_LIMIT);
  OC_CHECK_INT(oc_logtypes_count(reg), 1);
  const oc_logtype_t *t = oc_logtypes_find(reg, "X.Ok");
  OC_CHECK(t && !t->builtin && t->schema->has_event_time);
  int64_t et;
  const oc_logtype_t *types[] = {t};
  OC_CHECK_STR(
      classify(types, 1, "{\"a\":{\"b\":1},\"c\":2,\"t\":\"2026-11-01T10:00:00Z\"}", &et, NULL),
      "X.Ok");
  OC_CHECK_STR(
      classify(types, 1, "{\"a\":{\"x\":1},\"c\":2,\"t\":\"2026-11-01T10:00:00Z\"}", &et, NULL),
      "(none)");
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_load_dir_reports_bad_files(void) {
  char dir[] = "/tmp/oc-lt-XXXXXX", path[256], err[256];
  OC_CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/good.yml", dir);
  FILE *f = fopen(path, "w");
  fputs("schema: Custom.Good\nfields:\n  - {name: a, type: string, required: true}\n", f);
  fclose(f);
  snprintf(path, sizeof(path), "%s/bad.yml", dir);
  f = fopen(path, "w");
  fputs("schema: Custom.Bad\nfields:\n  - {name: a, type: strin}\n", f);
  fclose(f);
  oc_logtypes_t *reg = oc_logtypes_new(NULL);
  size_t loaded = 0, failed = 0;
  OC_CHECK_INT(oc_logtypes_load_dir(reg, dir, false, &loaded, &failed, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(loaded, 1);
  OC_CHECK_INT(failed, 1);
  OC_CHECK(oc_logtypes_find(reg, "Custom.Good") != NULL);
  OC_CHECK(oc_logtypes_find(reg, "Custom.Bad") == NULL);
  OC_CHECK_INT(oc_logtypes_load_dir(reg, "/nonexistent/oc", false, NULL, NULL, err, sizeof(err)),
               OC_ERR_NOT_FOUND);
  oc_logtypes_destroy(reg);
  unlink(path);
  snprintf(path, sizeof(path), "%s/good.yml", dir);
  unlink(path);
  rmdir(dir);
}

static void setup(void) {
  char err[512];
  size_t failed = 0;
  oc_arena_init(&arena, 16384);
  managed = oc_logtypes_new(NULL);
  OC_CHECK_INT(oc_logtypes_load_dir(managed, oc_logtypes_default_dir(), true, NULL, &failed, err,
                                    sizeof(err)),
               OC_OK);
  OC_CHECK_INT(failed, 0);
}
static void teardown(void) {
  oc_logtypes_destroy(managed);
  oc_arena_deinit(&arena);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_managed_registry),
             OC_TEST(test_two_types_by_required_fields),
             OC_TEST(test_penalties_settle_on_the_stream_type), OC_TEST(test_mixed_parsers),
             OC_TEST(test_custom_schema_per_parser_kind), OC_TEST(test_add_validation),
             OC_TEST(test_load_dir_reports_bad_files), OC_TEST(teardown))
