/* Decoding of input-notifications: protobuf ObjectNotification and S3 event JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "oc_test.h"
#include "services/log-router/notification.h"

static oc_arena_t arena;

static oc_err_t decode_str(const char *json, oc_notif_list_t *out, char *errstr, size_t n) {
  return oc_notif_decode(&arena, json, strlen(json), 42, out, errstr, n);
}

static void test_s3_records(void) {
  const char *json =
      "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":"
      "\"us-east-1\",\"eventTime\":\"2026-11-01T10:00:00.000Z\",\"eventName\":\"ObjectCreated:"
      "Put\",\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":\"logs\",\"arn\":"
      "\"arn:aws:s3:::logs\"},\"object\":{\"key\":\"AWSLogs/123456789012/CloudTrail/my+file%"
      "3A1%2B2.json.gz\",\"size\":1024,\"eTag\":\"0123abcd\",\"sequencer\":\"0A1B\"}}},"
      "{\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"logs\"},"
      "\"object\":{\"key\":\"gone.json\"}}},"
      " {\"eventName\":\"ObjectCreated:CompleteMultipartUpload\",\"s3\":{\"bucket\":{\"name\":"
      "\"other\"},\"object\":{\"key\":\"a/%C3%A9t%C3%A9.log\",\"size\":7}}}]}";
  oc_notif_list_t l;
  char err[512] = "";
  OC_CHECK_INT(decode_str(json, &l, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(l.n, 2); /* the removal is skipped */
  if (l.n != 2) return;
  OC_CHECK_STR(l.v[0]->bucket, "logs");
  OC_CHECK_STR(l.v[0]->key, "AWSLogs/123456789012/CloudTrail/my file:1+2.json.gz");
  OC_CHECK_INT(l.v[0]->size, 1024);
  OC_CHECK_STR(l.v[0]->etag, "0123abcd");
  OC_CHECK_INT(l.v[0]->mtime_us, INT64_C(1793527200000000));
  OC_CHECK_INT(l.v[0]->received_at_us, 42);
  OC_CHECK_STR(l.v[0]->source_id, "");
  OC_CHECK_STR(l.v[1]->bucket, "other");
  OC_CHECK_STR(l.v[1]->key, "a/\xc3\xa9t\xc3\xa9.log");
  OC_CHECK_INT(l.v[1]->size, 7);
  OC_CHECK_STR(l.v[1]->etag, "");
  oc_arena_reset(&arena);
}

static void test_url_decode(void) {
  char err[256];
  char *s = oc_notif_url_decode(&arena, "a+b%20c%2fd%2F%7e", 17, err, sizeof(err));
  OC_CHECK_STR(s, "a b c/d/~");
  OC_CHECK(oc_notif_url_decode(&arena, "bad%zz", 6, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "percent") != NULL);
  OC_CHECK(oc_notif_url_decode(&arena, "cut%4", 5, err, sizeof(err)) == NULL);
  OC_CHECK(oc_notif_url_decode(&arena, "cut%", 4, err, sizeof(err)) == NULL);
  OC_CHECK(oc_notif_url_decode(&arena, "nul%00x", 7, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "NUL") != NULL);
  s = oc_notif_url_decode(&arena, "", 0, err, sizeof(err));
  OC_CHECK_STR(s, "");
  oc_arena_reset(&arena);
}

static void test_bad_json(void) {
  oc_notif_list_t l;
  char err[512];
  static const char *bad[] = {
      "{\"Records\":[",                                                       /* truncated */
      "{\"Records\":{}}",                                                     /* not an array */
      "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}",                /* no s3 */
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{}}}]}", /* no key */
      "{\"Records\":[{\"s3\":{\"bucket\":{},\"object\":{\"key\":\"k\"}}}]}",  /* no bucket */
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"a%zz\"}}}]}",
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"\"}}}]}",
      "{\"hello\":\"world\"}",
      "[1,2,3]",
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\\u0000c\"},\"object\":{\"key\":\"k\"}}}]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    oc_err_t rc = decode_str(bad[i], &l, err, sizeof(err));
    if (rc != OC_ERR_DECODE) fprintf(stderr, "case %zu: %d\n", i, rc);
    OC_CHECK_INT(rc, OC_ERR_DECODE);
    OC_CHECK(err[0] != '\0');
  }
  /* invalid UTF-8 in the JSON */
  const char raw[] = "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\xff\"}}}]}";
  OC_CHECK_INT(oc_notif_decode(&arena, raw, sizeof(raw) - 1, 0, &l, err, sizeof(err)),
               OC_ERR_DECODE);
  /* a key past the limit */
  size_t n = OC_NOTIF_KEY_MAX + 100;
  char *big = malloc(n + 200);
  int off = snprintf(big, n + 200,
                     "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"");
  memset(big + off, 'k', n);
  strcpy(big + off + n, "\"}}}]}");
  OC_CHECK_INT(decode_str(big, &l, err, sizeof(err)), OC_ERR_DECODE);
  free(big);
  OC_CHECK_INT(oc_notif_decode(&arena, "", 0, 0, &l, err, sizeof(err)), OC_ERR_DECODE);
  oc_arena_reset(&arena);
}

static void test_test_event_and_wrappers(void) {
  oc_notif_list_t l;
  char err[512];
  OC_CHECK_INT(decode_str("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Time\":"
                          "\"2026-11-01T10:00:00Z\",\"Bucket\":\"logs\"}",
                          &l, err, sizeof(err)),
               OC_OK);
  OC_CHECK_INT(l.n, 0);
  /* SNS envelope */
  OC_CHECK_INT(decode_str("{\"Type\":\"Notification\",\"MessageId\":\"x\",\"Message\":"
                          "\"{\\\"Records\\\":[{\\\"eventName\\\":\\\"ObjectCreated:Put\\\","
                          "\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"logs\\\"},\\\"object\\\":"
                          "{\\\"key\\\":\\\"a+b.json\\\"}}}]}\"}",
                          &l, err, sizeof(err)),
               OC_OK);
  OC_CHECK_INT(l.n, 1);
  if (l.n == 1) OC_CHECK_STR(l.v[0]->key, "a b.json");
  /* EventBridge: keys are not URL-encoded there */
  OC_CHECK_INT(decode_str("{\"version\":\"0\",\"detail-type\":\"Object Created\",\"source\":"
                          "\"aws.s3\",\"time\":\"2026-11-01T10:00:00Z\",\"detail\":{\"bucket\":"
                          "{\"name\":\"logs\"},\"object\":{\"key\":\"a+b%20.json\",\"size\":5,"
                          "\"etag\":\"e1\"}}}",
                          &l, err, sizeof(err)),
               OC_OK);
  OC_CHECK_INT(l.n, 1);
  if (l.n == 1) {
    OC_CHECK_STR(l.v[0]->key, "a+b%20.json");
    OC_CHECK_STR(l.v[0]->etag, "e1");
    OC_CHECK_INT(l.v[0]->size, 5);
  }
  oc_arena_reset(&arena);
}

static void test_protobuf(void) {
  Ocelot__V1__ObjectNotification on = OCELOT__V1__OBJECT_NOTIFICATION__INIT;
  oc_notif_list_t l;
  uint8_t buf[512];
  char err[512];
  size_t len;
  on.bucket = "logs";
  on.key = "cloudtrail/x y.json.gz"; /* protobuf keys are never URL-decoded */
  on.size = 99;
  on.etag = "1793527200000000-99";
  on.mtime_us = 1793527200000000;
  on.received_at_us = 7;
  len = ocelot__v1__object_notification__pack(&on, buf);
  OC_CHECK_INT(oc_notif_decode(&arena, buf, len, 42, &l, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(l.n, 1);
  if (l.n == 1) {
    OC_CHECK_STR(l.v[0]->bucket, "logs");
    OC_CHECK_STR(l.v[0]->key, "cloudtrail/x y.json.gz");
    OC_CHECK_STR(l.v[0]->etag, "1793527200000000-99");
    OC_CHECK_INT(l.v[0]->size, 99);
    OC_CHECK_INT(l.v[0]->received_at_us, 7);
  }
  /* no received time: the router's clock */
  on.received_at_us = 0;
  len = ocelot__v1__object_notification__pack(&on, buf);
  OC_CHECK_INT(oc_notif_decode(&arena, buf, len, 42, &l, err, sizeof(err)), OC_OK);
  if (l.n == 1) OC_CHECK_INT(l.v[0]->received_at_us, 42);
  /* truncated protobuf */
  OC_CHECK_INT(oc_notif_decode(&arena, buf, len - 3, 0, &l, err, sizeof(err)), OC_ERR_DECODE);
  /* garbage */
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
  OC_CHECK_INT(oc_notif_decode(&arena, junk, sizeof(junk), 0, &l, err, sizeof(err)), OC_ERR_DECODE);
  /* decodes, but names no object */
  Ocelot__V1__ObjectNotification empty = OCELOT__V1__OBJECT_NOTIFICATION__INIT;
  empty.size = 5;
  len = ocelot__v1__object_notification__pack(&empty, buf);
  OC_CHECK_INT(oc_notif_decode(&arena, buf, len, 0, &l, err, sizeof(err)), OC_ERR_DECODE);
  oc_arena_reset(&arena);
}

static void test_record_limit(void) {
  oc_notif_list_t l;
  char err[512];
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_puts(&b, "{\"Records\":[");
  for (int i = 0; i <= OC_NOTIF_MAX_RECORDS; i++)
    oc_buf_appendf(&b, "%s{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k%d\"}}}",
                   i ? "," : "", i);
  oc_buf_puts(&b, "]}");
  OC_CHECK_INT(decode_str(b.data, &l, err, sizeof(err)), OC_ERR_DECODE);
  OC_CHECK(strstr(err, "more than") != NULL);
  oc_buf_deinit(&b);
  oc_arena_reset(&arena);
}

static void setup(void) {
  oc_arena_init(&arena, 64 * 1024);
}

static void teardown(void) {
  oc_arena_deinit(&arena);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_s3_records), OC_TEST(test_url_decode),
             OC_TEST(test_bad_json), OC_TEST(test_test_event_and_wrappers), OC_TEST(test_protobuf),
             OC_TEST(test_record_limit), OC_TEST(teardown))
