/* Longest bucket+prefix matching of objects to sources. */
#include <string.h>

#include "oc_test.h"
#include "services/log-router/sources.h"

static const char *match_id(const oc_source_table_t *t, const char *bucket, const char *key) {
  const oc_route_source_t *s = oc_source_table_match(t, bucket, key);
  return s ? s->id : "(none)";
}

static void test_longest_prefix(void) {
  oc_source_table_t *t = oc_source_table_new();
  OC_CHECK(oc_source_table_add(t, "all", "logs", "", true) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "ct", "logs", "cloudtrail/", true) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "ct-east", "logs", "cloudtrail/us-east-1/", true) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "other", "logs2", "cloudtrail/", true) == OC_OK);
  oc_source_table_finish(t);
  OC_CHECK_STR(match_id(t, "logs", "cloudtrail/us-east-1/a.json.gz"), "ct-east");
  OC_CHECK_STR(match_id(t, "logs", "cloudtrail/us-west-2/a.json.gz"), "ct");
  OC_CHECK_STR(match_id(t, "logs", "cloudtrail/"), "ct");
  OC_CHECK_STR(match_id(t, "logs", "cloudtrail"), "all"); /* prefix longer than the key */
  OC_CHECK_STR(match_id(t, "logs", "vpc/flow.log"), "all");
  OC_CHECK_STR(match_id(t, "logs2", "cloudtrail/x"), "other");
  OC_CHECK_STR(match_id(t, "logs2", "vpc/x"), "(none)");
  OC_CHECK_STR(match_id(t, "log", "cloudtrail/x"), "(none)"); /* buckets match exactly */
  OC_CHECK_STR(match_id(t, "logs22", "cloudtrail/x"), "(none)");
  OC_CHECK_STR(match_id(t, "unknown-bucket", "fw/x.json.gz"), "(none)");
  oc_source_table_destroy(t);
}

static void test_disabled_sources_do_not_match(void) {
  oc_source_table_t *t = oc_source_table_new();
  OC_CHECK(oc_source_table_add(t, "ct", "logs", "cloudtrail/", true) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "ct-east", "logs", "cloudtrail/us-east-1/", false) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "off", "quiet", "", false) == OC_OK);
  oc_source_table_finish(t);
  /* the longer prefix is disabled: the shorter enabled one takes the object */
  OC_CHECK_STR(match_id(t, "logs", "cloudtrail/us-east-1/a.json"), "ct");
  /* a bucket whose only source is disabled has no match */
  OC_CHECK_STR(match_id(t, "quiet", "a.json"), "(none)");
  oc_source_table_destroy(t);
}

static void test_equal_length_ties(void) {
  /* The schema forbids two sources with the same bucket and prefix; if a table holds
   * them anyway, the smaller id wins whatever the insertion order. */
  const char *orders[2][2] = {{"b-src", "a-src"}, {"a-src", "b-src"}};
  for (int k = 0; k < 2; k++) {
    oc_source_table_t *t = oc_source_table_new();
    OC_CHECK(oc_source_table_add(t, orders[k][0], "logs", "app/", true) == OC_OK);
    OC_CHECK(oc_source_table_add(t, orders[k][1], "logs", "app/", true) == OC_OK);
    /* same length, different prefix: only one can match a given key */
    OC_CHECK(oc_source_table_add(t, "c-src", "logs", "apq/", true) == OC_OK);
    oc_source_table_finish(t);
    OC_CHECK_STR(match_id(t, "logs", "app/x.log"), "a-src");
    OC_CHECK_STR(match_id(t, "logs", "apq/x.log"), "c-src");
    oc_source_table_destroy(t);
  }
  /* a disabled winner of the tie hands the object to the other one */
  oc_source_table_t *t = oc_source_table_new();
  OC_CHECK(oc_source_table_add(t, "a-src", "logs", "app/", false) == OC_OK);
  OC_CHECK(oc_source_table_add(t, "b-src", "logs", "app/", true) == OC_OK);
  oc_source_table_finish(t);
  OC_CHECK_STR(match_id(t, "logs", "app/x.log"), "b-src");
  oc_source_table_destroy(t);
}

static void test_many_buckets(void) {
  oc_source_table_t *t = oc_source_table_new();
  char id[32], bucket[32];
  for (int i = 0; i < 500; i++) {
    snprintf(id, sizeof(id), "s%03d", i);
    snprintf(bucket, sizeof(bucket), "bucket-%03d", (i * 7) % 500);
    OC_CHECK(oc_source_table_add(t, id, bucket, i % 2 ? "p/" : "", true) == OC_OK);
  }
  oc_source_table_finish(t);
  OC_CHECK_INT(oc_source_table_count(t), 500);
  for (int i = 0; i < 500; i++) {
    snprintf(id, sizeof(id), "s%03d", i);
    snprintf(bucket, sizeof(bucket), "bucket-%03d", (i * 7) % 500);
    OC_CHECK_STR(match_id(t, bucket, "p/key"), id);
  }
  oc_source_table_destroy(t);
}

static void test_invalid_entries(void) {
  oc_source_table_t *t = oc_source_table_new();
  OC_CHECK(oc_source_table_add(t, "", "logs", "", true) == OC_ERR_INVALID);
  OC_CHECK(oc_source_table_add(t, "x", "", "", true) == OC_ERR_INVALID);
  OC_CHECK(oc_source_table_match(t, "logs", "k") == NULL); /* not finished */
  oc_source_table_finish(t);
  OC_CHECK(oc_source_table_match(t, "logs", "k") == NULL);
  oc_source_table_destroy(t);
  oc_source_table_destroy(NULL);
}

OC_TEST_MAIN(OC_TEST(test_longest_prefix), OC_TEST(test_disabled_sources_do_not_match),
             OC_TEST(test_equal_length_ties), OC_TEST(test_many_buckets),
             OC_TEST(test_invalid_entries))
