/* test_alerts_render.c: Alert -> webhook JSON, against golden text. */
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "oc_test.h"
#include "services/alert-delivery/render.h"

static char *render(const Ocelot__V1__Alert *al, oc_buf_t *b, oc_arena_t *a) {
  oc_buf_reset(b);
  OC_CHECK(oc_render_alert(b, al, a));
  return b->data;
}

static void test_golden_full_alert(void) {
  Ocelot__V1__Alert al = OCELOT__V1__ALERT__INIT;
  char *dests[] = {"hook", "pager"};
  char *samples[] = {"{\"eventName\": \"ConsoleLogin\", \"n\": [1, 2.5e3, true, null]}",
                     "not json at all"};
  oc_buf_t b;
  oc_arena_t a;
  oc_buf_init(&b);
  oc_arena_init(&a, 4096);

  al.alert_id = "0123456789abcdef0123456789abcdef";
  al.rule_id = "Test.Console.RootLogin";
  al.rule_version = "2";
  al.title = "Root console login in account 123456789012";
  al.severity = "HIGH";
  al.dedup = "123456789012";
  al.event_count = 40;
  al.first_event_time_us = INT64_C(1793527200000000); /* 2026-11-01T10:00:00Z */
  al.last_event_time_us = INT64_C(1793528955123456);  /* 2026-11-01T10:29:15.123456Z */
  al.created_at_us = INT64_C(1793530000000001);
  al.log_type = "AWS.CloudTrail";
  al.alert_context_json = "{ \"ip\" : \"198.51.100.7\", \"tags\": [\"a\"] }";
  al.description = "Line one\nline \"two\"";
  al.reference = "https://example.com/ref";
  al.runbook = "";
  al.n_destinations = 2;
  al.destinations = dests;
  al.n_sample_events = 2;
  al.sample_events = samples;

  OC_CHECK_STR(render(&al, &b, &a),
               "{\"id\":\"0123456789abcdef0123456789abcdef\","
               "\"rule_id\":\"Test.Console.RootLogin\",\"rule_version\":\"2\","
               "\"title\":\"Root console login in account 123456789012\","
               "\"severity\":\"HIGH\",\"dedup\":\"123456789012\",\"event_count\":40,"
               "\"first_event_time\":\"2026-11-01T10:00:00.000000Z\","
               "\"last_event_time\":\"2026-11-01T10:29:15.123456Z\","
               "\"created_at\":\"2026-11-01T10:46:40.000001Z\","
               "\"log_type\":\"AWS.CloudTrail\",\"is_error\":false,"
               "\"context\":{\"ip\":\"198.51.100.7\",\"tags\":[\"a\"]},"
               "\"description\":\"Line one\\nline \\\"two\\\"\","
               "\"reference\":\"https://example.com/ref\",\"runbook\":\"\","
               "\"destinations\":[\"hook\",\"pager\"],"
               "\"sample_events\":[{\"eventName\":\"ConsoleLogin\",\"n\":[1,2.5e3,true,null]},"
               "\"not json at all\"]}");
  oc_buf_deinit(&b);
  oc_arena_deinit(&a);
}

static void test_golden_minimal_error_alert(void) {
  Ocelot__V1__Alert al = OCELOT__V1__ALERT__INIT;
  oc_buf_t b;
  oc_arena_t a;
  oc_buf_init(&b);
  oc_arena_init(&a, 4096);
  al.alert_id = "e1";
  al.rule_id = "R";
  al.is_error = 1;
  al.title = "bad \xff byte"; /* invalid UTF-8 becomes U+FFFD */
  OC_CHECK_STR(render(&al, &b, &a),
               "{\"id\":\"e1\",\"rule_id\":\"R\",\"rule_version\":\"\","
               "\"title\":\"bad \xef\xbf\xbd byte\",\"severity\":\"\",\"dedup\":\"\","
               "\"event_count\":0,\"first_event_time\":\"1970-01-01T00:00:00.000000Z\","
               "\"last_event_time\":\"1970-01-01T00:00:00.000000Z\","
               "\"created_at\":\"1970-01-01T00:00:00.000000Z\",\"log_type\":\"\","
               "\"is_error\":true,\"context\":null,\"description\":\"\",\"reference\":\"\","
               "\"runbook\":\"\",\"destinations\":[],\"sample_events\":[]}");
  oc_buf_deinit(&b);
  oc_arena_deinit(&a);
}

static void test_context_not_json_is_a_string(void) {
  Ocelot__V1__Alert al = OCELOT__V1__ALERT__INIT;
  oc_buf_t b;
  oc_arena_t a;
  oc_buf_init(&b);
  oc_arena_init(&a, 4096);
  al.alert_id = "x";
  al.alert_context_json = "{\"unterminated\": ";
  render(&al, &b, &a);
  OC_CHECK(strstr(b.data, "\"context\":\"{\\\"unterminated\\\": \"") != NULL);
  /* Scalars stay scalars. */
  al.alert_context_json = "42";
  render(&al, &b, &a);
  OC_CHECK(strstr(b.data, "\"context\":42,") != NULL);
  oc_buf_deinit(&b);
  oc_arena_deinit(&a);
}

OC_TEST_MAIN(OC_TEST(test_golden_full_alert), OC_TEST(test_golden_minimal_error_alert),
             OC_TEST(test_context_not_json_is_a_string))
