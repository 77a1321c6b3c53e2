/* test_alerts_dedup.c: the alert-forwarder's dedup windows (event time), Threshold,
 * alert ids, match validation and JSON/outbox helpers. */
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/hash.h"
#include "oc_test.h"
#include "services/alert-forwarder/dedup.h"
#include "services/alert-forwarder/forwarder.h"
#include "services/alert-forwarder/outbox.h"

#define MIN_US (60 * INT64_C(1000000))
#define T0 INT64_C(1793527200000000) /* 2026-11-01T10:00:00Z */

static oc_dedup_match_t match_at(int64_t first, int64_t last, uint64_t count, int32_t period,
                                 int32_t threshold) {
  oc_dedup_match_t m = {first, last, count, period, threshold};
  return m;
}

static void test_first_match_opens_window_and_creates(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0 + 5, 3, 60, 1);
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK(r.new_window);
  OC_CHECK_INT(r.action, OC_DEDUP_CREATE);
  OC_CHECK(w.exists);
  OC_CHECK(w.alert_created);
  OC_CHECK_INT(w.window_start_us, T0);
  OC_CHECK_INT(w.first_us, T0);
  OC_CHECK_INT(w.last_us, T0 + 5);
  OC_CHECK_INT(w.event_count, 3);
  OC_CHECK_INT(w.threshold, 1);
}

static void test_forty_matches_one_alert(void) {
  oc_dedup_window_t w = {0};
  int creates = 0, adds = 0;
  for (int i = 0; i < 40; i++) {
    int64_t t = T0 + (int64_t)i * 45 * 1000000; /* 40 events over 30 minutes */
    oc_dedup_match_t m = match_at(t, t, 1, 60, 1);
    oc_dedup_result_t r = oc_dedup_apply(&w, &m);
    if (r.action == OC_DEDUP_CREATE) creates++;
    if (r.action == OC_DEDUP_ADD) adds++;
    OC_CHECK(i == 0 ? r.new_window : !r.new_window);
  }
  OC_CHECK_INT(creates, 1);
  OC_CHECK_INT(adds, 39);
  OC_CHECK_INT(w.event_count, 40);
  OC_CHECK_INT(w.window_start_us, T0);
  OC_CHECK_INT(w.last_us, T0 + 39 * 45 * INT64_C(1000000));
}

static void test_window_boundary_is_event_time(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0, 1, 60, 1);
  oc_dedup_apply(&w, &m);
  /* One microsecond before the end: same window. */
  m = match_at(T0 + 60 * MIN_US - 1, T0 + 60 * MIN_US - 1, 1, 60, 1);
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK(!r.new_window);
  OC_CHECK_INT(r.action, OC_DEDUP_ADD);
  OC_CHECK_INT(w.event_count, 2);
  /* Exactly at window_start + period: a new window with a new alert. */
  m = match_at(T0 + 60 * MIN_US, T0 + 61 * MIN_US, 4, 60, 1);
  r = oc_dedup_apply(&w, &m);
  OC_CHECK(r.new_window);
  OC_CHECK_INT(r.action, OC_DEDUP_CREATE);
  OC_CHECK_INT(w.event_count, 4);
  OC_CHECK_INT(w.window_start_us, T0 + 60 * MIN_US);
  OC_CHECK_INT(w.first_us, T0 + 60 * MIN_US);
  OC_CHECK_INT(w.last_us, T0 + 61 * MIN_US);
}

static void test_window_measured_from_start_not_last_event(void) {
  /* A steady trickle does not keep one window open forever: the window is measured from
   * its start, not from the last event. */
  oc_dedup_window_t w = {0};
  int windows = 0;
  for (int i = 0; i <= 180; i += 10) { /* an event every 10 minutes for 3 hours */
    oc_dedup_match_t m = match_at(T0 + i * MIN_US, T0 + i * MIN_US, 1, 60, 1);
    if (oc_dedup_apply(&w, &m).new_window) windows++;
  }
  OC_CHECK_INT(windows, 4); /* 0-59, 60-119, 120-179, 180 */
}

static void test_late_match_joins_current_window(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0 + MIN_US, 1, 60, 1);
  oc_dedup_apply(&w, &m);
  m = match_at(T0 - 5 * MIN_US, T0 - 4 * MIN_US, 2, 60, 1); /* older events, late */
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK(!r.new_window);
  OC_CHECK_INT(r.action, OC_DEDUP_ADD);
  OC_CHECK_INT(w.window_start_us, T0); /* the window (and its alert id) does not move */
  OC_CHECK_INT(w.first_us, T0 - 5 * MIN_US);
  OC_CHECK_INT(w.last_us, T0 + MIN_US);
  OC_CHECK_INT(w.event_count, 3);
}

static void test_threshold_holds_until_reached(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_action_t seen[7];
  for (int i = 0; i < 7; i++) {
    oc_dedup_match_t m = match_at(T0 + i * MIN_US, T0 + i * MIN_US, 1, 60, 5);
    seen[i] = oc_dedup_apply(&w, &m).action;
  }
  OC_CHECK_INT(seen[0], OC_DEDUP_HELD);
  OC_CHECK_INT(seen[1], OC_DEDUP_HELD);
  OC_CHECK_INT(seen[2], OC_DEDUP_HELD);
  OC_CHECK_INT(seen[3], OC_DEDUP_HELD);
  OC_CHECK_INT(seen[4], OC_DEDUP_CREATE); /* the fifth event */
  OC_CHECK_INT(seen[5], OC_DEDUP_ADD);
  OC_CHECK_INT(seen[6], OC_DEDUP_ADD);
  OC_CHECK_INT(w.event_count, 7);
}

static void test_threshold_three_of_five_stays_held(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0 + MIN_US, 3, 60, 5);
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK_INT(r.action, OC_DEDUP_HELD);
  OC_CHECK(!w.alert_created);
  OC_CHECK_INT(w.event_count, 3);
  OC_CHECK_INT(w.threshold, 5);
}

static void test_threshold_reached_by_one_group(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0, 50, 60, 50);
  OC_CHECK_INT(oc_dedup_apply(&w, &m).action, OC_DEDUP_CREATE);
}

static void test_held_window_expires_and_restarts_count(void) {
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0, 4, 60, 5);
  OC_CHECK_INT(oc_dedup_apply(&w, &m).action, OC_DEDUP_HELD);
  m = match_at(T0 + 90 * MIN_US, T0 + 90 * MIN_US, 1, 60, 5);
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK(r.new_window);
  OC_CHECK_INT(r.action, OC_DEDUP_HELD); /* 1 of 5 in the new window, not 5 of 5 */
  OC_CHECK_INT(w.event_count, 1);
}

static void test_defaults_and_bounds(void) {
  OC_CHECK_INT(oc_dedup_period_us(0), 60 * MIN_US);
  OC_CHECK_INT(oc_dedup_period_us(-3), 60 * MIN_US);
  OC_CHECK_INT(oc_dedup_period_us(15), 15 * MIN_US);
  OC_CHECK_INT(oc_dedup_period_us(INT32_MAX), (int64_t)OC_DEDUP_MAX_PERIOD_MIN * MIN_US);
  OC_CHECK_INT(oc_dedup_threshold(0), 1);
  OC_CHECK_INT(oc_dedup_threshold(-1), 1);
  OC_CHECK_INT(oc_dedup_threshold(7), 7);

  /* Period 0 means the default 60 minutes, not "every match is new". */
  oc_dedup_window_t w = {0};
  oc_dedup_match_t m = match_at(T0, T0, 1, 0, 0);
  oc_dedup_apply(&w, &m);
  m = match_at(T0 + 59 * MIN_US, T0 + 59 * MIN_US, 0, 0, 0); /* count 0 counts as 1 */
  oc_dedup_result_t r = oc_dedup_apply(&w, &m);
  OC_CHECK(!r.new_window);
  OC_CHECK_INT(w.event_count, 2);

  /* Reversed times are tolerated. */
  oc_dedup_window_t w2 = {0};
  m = match_at(T0 + 10, T0, 1, 60, 1);
  oc_dedup_apply(&w2, &m);
  OC_CHECK_INT(w2.window_start_us, T0);
  OC_CHECK_INT(w2.last_us, T0 + 10);

  /* Counts saturate instead of wrapping. */
  oc_dedup_window_t w3 = {0};
  m = match_at(T0, T0, UINT64_MAX, 60, 1);
  oc_dedup_apply(&w3, &m);
  oc_dedup_apply(&w3, &m);
  OC_CHECK(w3.event_count == (uint64_t)OC_DEDUP_MAX_COUNT);

  /* A window start near the end of time never overflows into "expired". */
  oc_dedup_window_t w4 = {0};
  m = match_at(INT64_MAX - 5, INT64_MAX - 5, 1, 60, 1);
  oc_dedup_apply(&w4, &m);
  m = match_at(INT64_MAX - 1, INT64_MAX - 1, 1, 60, 1);
  OC_CHECK(!oc_dedup_apply(&w4, &m).new_window);
}

static void test_keys_and_alert_ids(void) {
  oc_arena_t a;
  char id1[33], id2[33], id3[33], id4[33], expect[33];
  oc_arena_init(&a, 4096);
  OC_CHECK_STR(oc_dedup_key(&a, "AWS.Root", "acct-1", false), "AWS.Root:acct-1");
  OC_CHECK_STR(oc_dedup_key(&a, "AWS.Root", "acct-1", true), "error:AWS.Root:acct-1");
  OC_CHECK_STR(oc_dedup_key(&a, "R", "", false), "R:");

  oc_dedup_alert_id(id1, "AWS.Root:acct-1", T0);
  oc_dedup_alert_id(id2, "AWS.Root:acct-1", T0);
  oc_dedup_alert_id(id3, "AWS.Root:acct-1", T0 + 60 * MIN_US);
  oc_dedup_alert_id(id4, "error:AWS.Root:acct-1", T0);
  OC_CHECK_INT(strlen(id1), 32);
  OC_CHECK_STR(id1, id2); /* deterministic: a replay gets the same id */
  OC_CHECK(strcmp(id1, id3) != 0);
  OC_CHECK(strcmp(id1, id4) != 0);
  /* Defined as the hash of (dedup key, window start in decimal microseconds). */
  const char *parts[2] = {"AWS.Root:acct-1", "1793527200000000"};
  size_t lens[2] = {strlen(parts[0]), strlen(parts[1])};
  oc_hash_hex128(expect, parts, lens, 2);
  OC_CHECK_STR(id1, expect);
  oc_arena_deinit(&a);
}

/* A match group with every string set, as unpack would leave it (writable strings). */
typedef struct {
  Ocelot__V1__RuleMatchGroup g;
  char id[400], rule_id[600], rule_version[16], dedup[1200], log_type[32], title[1200];
  char severity[40], ctx[64], desc[16], ref[16], runbook[16], lake_key[32];
  char *dests[2];
  char dest0[16];
  char *samples[12];
  char sample_buf[12][32];
} match_fixture_t;

static void fixture(match_fixture_t *f) {
  Ocelot__V1__RuleMatchGroup init = OCELOT__V1__RULE_MATCH_GROUP__INIT;
  memset(f, 0, sizeof(*f));
  f->g = init;
  strcpy(f->id, "m-1");
  strcpy(f->rule_id, "AWS.Root");
  strcpy(f->rule_version, "3");
  strcpy(f->dedup, "acct-1");
  strcpy(f->log_type, "AWS.CloudTrail");
  strcpy(f->title, "Root login");
  strcpy(f->severity, "High");
  strcpy(f->ctx, "{\"a\": 1}");
  strcpy(f->lake_key, "rules/x");
  strcpy(f->dest0, "hook");
  f->g.id = f->id;
  f->g.rule_id = f->rule_id;
  f->g.rule_version = f->rule_version;
  f->g.dedup = f->dedup;
  f->g.log_type = f->log_type;
  f->g.title = f->title;
  f->g.severity = f->severity;
  f->g.alert_context_json = f->ctx;
  f->g.description = f->desc;
  f->g.reference = f->ref;
  f->g.runbook = f->runbook;
  f->g.lake_key = f->lake_key;
  f->dests[0] = f->dest0;
  f->g.destinations = f->dests;
  f->g.n_destinations = 1;
  for (int i = 0; i < 12; i++) {
    snprintf(f->sample_buf[i], sizeof(f->sample_buf[i]), "{\"n\":%d}", i);
    f->samples[i] = f->sample_buf[i];
  }
  f->g.sample_events = f->samples;
  f->g.n_sample_events = 2;
  f->g.match_count = 2;
  f->g.first_event_time_us = T0;
  f->g.last_event_time_us = T0 + 1;
}

static void test_match_check_accepts_and_normalizes(void) {
  match_fixture_t f;
  char err[256] = "";
  fixture(&f);
  f.g.n_sample_events = 12;
  f.g.first_event_time_us = T0 + 9;
  f.g.last_event_time_us = T0;
  OC_CHECK(oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK_STR(f.g.severity, "HIGH");
  OC_CHECK_INT(f.g.first_event_time_us, T0);
  OC_CHECK_INT(f.g.last_event_time_us, T0 + 9);
  OC_CHECK_INT(f.g.n_sample_events, OC_FWD_MAX_SAMPLES);

  fixture(&f);
  f.g.severity[0] = '\0';
  f.g.title[0] = '\0';
  f.g.match_count = 0;
  f.g.last_event_time_us = 0;
  OC_CHECK(oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK_STR(f.g.severity, "INFO");
  OC_CHECK_STR(f.g.title, "AWS.Root");
  OC_CHECK_INT(f.g.match_count, 1);
  OC_CHECK_INT(f.g.last_event_time_us, T0);
}

static void test_match_check_cuts_dedup_at_utf8_boundary(void) {
  match_fixture_t f;
  char err[256];
  fixture(&f);
  /* 999 ASCII bytes then a 2-byte character straddling the 1000-byte limit. */
  memset(f.dedup, 'x', 999);
  f.dedup[999] = (char)0xc3;
  f.dedup[1000] = (char)0xa9;
  f.dedup[1001] = 'y';
  f.dedup[1002] = '\0';
  OC_CHECK(oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK_INT(strlen(f.g.dedup), 999);
}

static void test_match_check_rejects(void) {
  match_fixture_t f;
  char err[256];

  fixture(&f);
  f.g.id[0] = '\0';
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK(strstr(err, "no id") != NULL);

  fixture(&f);
  f.g.rule_id[0] = '\0';
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));

  fixture(&f);
  memset(f.id, 'a', 300);
  f.id[300] = '\0';
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK(strstr(err, "match id") != NULL);

  fixture(&f);
  f.title[2] = (char)0xff;
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));
  OC_CHECK(strstr(err, "UTF-8") != NULL);

  fixture(&f);
  f.g.first_event_time_us = -1;
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));

  fixture(&f);
  f.g.last_event_time_us = OC_FWD_MAX_TIME_US + 1;
  OC_CHECK(!oc_fwd_match_check(&f.g, err, sizeof(err)));
}

static void test_json_helpers(void) {
  oc_arena_t a;
  char s1[] = "{\"k\":\"a\\u0000b\"}";
  char s2[] = "{\"k\":\"a\\\\u0000b\"}"; /* an escaped backslash, then text "u0000" */
  char *v;
  oc_arena_init(&a, 4096);
  oc_fwd_jsonb_safe(s1, strlen(s1));
  OC_CHECK_STR(s1, "{\"k\":\"a\\ufffdb\"}");
  oc_fwd_jsonb_safe(s2, strlen(s2));
  OC_CHECK_STR(s2, "{\"k\":\"a\\\\u0000b\"}");

  v = oc_fwd_json_value(&a, "{ \"a\" : [1, 2] }", 16);
  OC_CHECK_STR(v, "{\"a\":[1,2]}");
  v = oc_fwd_json_value(&a, "not json", 8);
  OC_CHECK_STR(v, "\"not json\"");
  OC_CHECK(oc_fwd_json_value(&a, "", 0) == NULL);

  char *samples[] = {"{\"x\":1}", "oops"};
  v = oc_fwd_json_samples(&a, samples, 2);
  OC_CHECK_STR(v, "[{\"x\":1},\"oops\"]");
  OC_CHECK(oc_fwd_json_samples(&a, samples, 0) == NULL);
  oc_arena_deinit(&a);
}

static void test_outbox_unhex(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  OC_CHECK(oc_outbox_unhex(&b, "0a1BfF00", 8));
  OC_CHECK_INT(b.len, 4);
  OC_CHECK(memcmp(b.data, "\x0a\x1b\xff\x00", 4) == 0);
  OC_CHECK(oc_outbox_unhex(&b, "", 0));
  OC_CHECK_INT(b.len, 0);
  OC_CHECK(!oc_outbox_unhex(&b, "abc", 3));
  OC_CHECK(!oc_outbox_unhex(&b, "zz", 2));
  oc_buf_deinit(&b);
}

OC_TEST_MAIN(
    OC_TEST(test_first_match_opens_window_and_creates), OC_TEST(test_forty_matches_one_alert),
    OC_TEST(test_window_boundary_is_event_time),
    OC_TEST(test_window_measured_from_start_not_last_event),
    OC_TEST(test_late_match_joins_current_window), OC_TEST(test_threshold_holds_until_reached),
    OC_TEST(test_threshold_three_of_five_stays_held), OC_TEST(test_threshold_reached_by_one_group),
    OC_TEST(test_held_window_expires_and_restarts_count), OC_TEST(test_defaults_and_bounds),
    OC_TEST(test_keys_and_alert_ids), OC_TEST(test_match_check_accepts_and_normalizes),
    OC_TEST(test_match_check_cuts_dedup_at_utf8_boundary), OC_TEST(test_match_check_rejects),
    OC_TEST(test_json_helpers), OC_TEST(test_outbox_unhex))
