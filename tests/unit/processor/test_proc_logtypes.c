/* Log types: built-in CloudTrail, custom types, classification by required fields. */
#include <stdint.h>

#include "common/arena.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/logtypes.h"

static oc_arena_t arena;

static const oc_json_t *J(const char *text) {
  char err[256];
  const oc_json_t *v = oc_json_parse(&arena, text, strlen(text), 64, err, sizeof(err));
  if (!v) fprintf(stderr, "bad test JSON: %s\n", err);
  return v;
}

static const char *classify(const oc_logtype_t *const *types, size_t n, const char *text,
                            int64_t *et, oc_lt_result_t *why) {
  const oc_logtype_t *t = oc_logtypes_classify(types, n, J(text), 1000, et, why);
  return t ? t->name : "(none)";
}

static void test_two_types_by_required_fields(void) {
  oc_logtypes_t *reg = oc_logtypes_new();
  char err[256];
  int64_t et = 0;
  oc_lt_result_t why;
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
  /* both match: the more specific type (more required fields) wins, whatever the order */
  OC_CHECK_STR(classify(types, 2,
                        "{\"user\":\"bob\",\"result\":\"ok\",\"method\":\"GET\",\"path\":\"/\","
                        "\"status\":200}",
                        &et, &why),
               "App.Web");
  /* a null required field is missing */
  OC_CHECK_STR(classify(types, 2, "{\"user\":null,\"result\":\"ok\"}", &et, &why), "(none)");
  OC_CHECK_INT(why, OC_LT_MISSING_FIELD);
  OC_CHECK_STR(classify(types, 2, "{\"something\":\"else\"}", &et, &why), "(none)");
  OC_CHECK_INT(why, OC_LT_MISSING_FIELD);
  /* a present but malformed time rejects the type */
  OC_CHECK_STR(
      classify(types, 2, "{\"user\":\"bob\",\"result\":\"ok\",\"when\":\"yesterday\"}", &et, &why),
      "(none)");
  OC_CHECK_INT(why, OC_LT_BAD_TIME);
  OC_CHECK_STR(classify(types, 2, "{\"user\":\"bob\",\"result\":\"ok\",\"when\":12}", &et, &why),
               "(none)");
  /* ... but the other type can still take the event */
  OC_CHECK_STR(classify(types, 2,
                        "{\"user\":\"b\",\"result\":\"ok\",\"when\":\"x\",\"method\":\"GET\","
                        "\"path\":\"/\",\"status\":1}",
                        &et, &why),
               "App.Web");
  /* not an object */
  OC_CHECK_STR(classify(types, 2, "[1,2]", &et, &why), "(none)");
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_ties_go_to_the_earlier_type(void) {
  oc_logtypes_t *reg = oc_logtypes_new();
  char err[256];
  int64_t et;
  oc_lt_result_t why;
  const char *a_req[] = {"x"};
  const char *b_req[] = {"y"};
  OC_CHECK_INT(oc_logtypes_add(reg, "T.A", NULL, a_req, 1, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_logtypes_add(reg, "T.B", NULL, b_req, 1, err, sizeof(err)), OC_OK);
  const oc_logtype_t *ab[] = {oc_logtypes_find(reg, "T.A"), oc_logtypes_find(reg, "T.B")};
  const oc_logtype_t *ba[] = {oc_logtypes_find(reg, "T.B"), oc_logtypes_find(reg, "T.A")};
  OC_CHECK_STR(classify(ab, 2, "{\"x\":1,\"y\":2}", &et, &why), "T.A");
  OC_CHECK_STR(classify(ba, 2, "{\"x\":1,\"y\":2}", &et, &why), "T.B");
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_cloudtrail_builtin(void) {
  oc_logtypes_t *reg = oc_logtypes_new();
  const oc_logtype_t *ct = oc_logtypes_find(reg, "AWS.CloudTrail");
  int64_t et = 0;
  OC_CHECK(ct != NULL && ct->builtin);
  OC_CHECK_INT(oc_logtypes_count(reg), 1);
  const char *good =
      "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-01T10:00:00.250Z\",\"eventSource\":"
      "\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\","
      "\"eventID\":\"e\"}";
  OC_CHECK_INT(oc_logtype_match(ct, J(good), 5, &et), OC_LT_MATCH);
  OC_CHECK_INT(et, INT64_C(1793527200250000));
  /* eventTime is required */
  OC_CHECK_INT(oc_logtype_match(ct,
                                J("{\"eventVersion\":\"1.08\",\"eventSource\":\"s\",\"eventName\":"
                                  "\"n\",\"awsRegion\":\"r\",\"eventID\":\"e\"}"),
                                5, &et),
               OC_LT_MISSING_FIELD);
  OC_CHECK_INT(
      oc_logtype_match(ct,
                       J("{\"eventVersion\":\"1.08\",\"eventTime\":\"bad\",\"eventSource\":"
                         "\"s\",\"eventName\":\"n\",\"awsRegion\":\"r\",\"eventID\":\"e\"}"),
                       5, &et),
      OC_LT_BAD_TIME);
  oc_logtypes_destroy(reg);
  oc_arena_reset(&arena);
}

static void test_add_validation(void) {
  oc_logtypes_t *reg = oc_logtypes_new();
  char err[256];
  const char *ok[] = {"a.b", "c"};
  const char *bad_path[] = {"a..b"};
  const char *many[OC_LOGTYPE_MAX_REQUIRED + 1];
  for (int i = 0; i <= OC_LOGTYPE_MAX_REQUIRED; i++)
    many[i] = "f";
  OC_CHECK_INT(oc_logtypes_add(reg, "AWS.CloudTrail", NULL, ok, 2, err, sizeof(err)),
               OC_ERR_INVALID);
  OC_CHECK(strstr(err, "already defined") != NULL);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Ok", "a.b", ok, 2, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Ok", NULL, NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "", NULL, NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Bad", NULL, bad_path, 1, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_logtypes_add(reg, "X.Bad", ".x", NULL, 0, err, sizeof(err)), OC_ERR_INVALID);
  OC_CHECK_INT(
      oc_logtypes_add(reg, "X.Many", NULL, many, OC_LOGTYPE_MAX_REQUIRED + 1, err, sizeof(err)),
      OC_ERR_LIMIT);
  OC_CHECK_INT(oc_logtypes_count(reg), 2);
  const oc_logtype_t *t = oc_logtypes_find(reg, "X.Ok");
  OC_CHECK(t && t->nrequired == 2 && strcmp(t->event_time_field, "a.b") == 0 && !t->builtin);
  OC_CHECK(oc_logtypes_find(reg, "x.ok") == NULL);
  oc_logtypes_destroy(reg);
}

static void setup(void) {
  oc_arena_init(&arena, 16384);
}
static void teardown(void) {
  oc_arena_deinit(&arena);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_two_types_by_required_fields),
             OC_TEST(test_ties_go_to_the_earlier_type), OC_TEST(test_cloudtrail_builtin),
             OC_TEST(test_add_validation), OC_TEST(teardown))
