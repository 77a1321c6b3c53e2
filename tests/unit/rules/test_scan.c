/* test_scan.c: a lake file through a rule set: groups per (rule, dedup) with counts,
 * first/last event times from p_event_time, the first match's title and at most five
 * samples; bad lines counted and skipped; a missing file and a damaged stream reported;
 * the rules/ output written with the rule fields added and a deterministic name. */
#include "services/rules-engine/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/reader.h"
#include "common/timeutil.h"
#include "oc_test.h"

static char root[256];

static const char *ROOT_LOGIN =
    "AnalysisType: rule\nRuleID: T.RootLogin\nLogTypes: [AWS.CloudTrail]\nSeverity: High\n"
    "AlertTitle: \"Root login in {recipientAccountId}\"\n"
    "Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n"
    "  - KeyPath: userIdentity.type\n    Condition: Equals\n    Value: Root\n";
static const char *BY_IP =
    "AnalysisType: rule\nRuleID: T.ByIP\nLogTypes: [AWS.CloudTrail]\nSeverity: Low\n"
    "GroupBy:\n  - Key: sourceIPAddress\n"
    "Detection:\n  - Key: eventName\n    Condition: StartsWith\n    Value: Get\n";
static const char *NO_TITLE =
    "AnalysisType: rule\nRuleID: T.NoTitle\nLogTypes: [AWS.CloudTrail]\nSeverity: Info\n"
    "Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: StopLogging\n";
static const char *OKTA =
    "AnalysisType: rule\nRuleID: T.Okta\nLogTypes: [Okta.SystemLog]\nSeverity: Info\n"
    "Detection:\n  - Key: eventName\n    Condition: Exists\n";

static oc_ruleset_t *rules(void) {
  char err[256];
  oc_ruleset_t *rs = oc_ruleset_new();
  oc_ruleset_add(rs, ROOT_LOGIN, strlen(ROOT_LOGIN), "a.yml", NULL, NULL, false);
  oc_ruleset_add(rs, BY_IP, strlen(BY_IP), "b.yml", NULL, NULL, false);
  oc_ruleset_add(rs, NO_TITLE, strlen(NO_TITLE), "c.yml", NULL, NULL, false);
  oc_ruleset_add(rs, OKTA, strlen(OKTA), "d.yml", NULL, NULL, false);
  if (oc_ruleset_finish(rs, err, sizeof(err)) != OC_OK) fprintf(stderr, "%s\n", err);
  return rs;
}

/* A normalized CloudTrail line. */
static const char *ct(const char *name, const char *type, const char *account, const char *ip,
                      const char *time) {
  static char line[2048];
  snprintf(line, sizeof(line),
           "{\"eventName\":\"%s\",\"userIdentity\":{\"type\":\"%s\"},\"recipientAccountId\":\"%s\","
           "\"sourceIPAddress\":\"%s\",\"p_log_type\":\"AWS.CloudTrail\","
           "\"p_event_time\":\"%s\"}",
           name, type, account, ip, time);
  return line;
}

/* Writes lines (joined by \n) as a zstd lake file; returns its relative key. */
static void write_lake(const char *name, const char *const *lines, size_t n, char *key,
                       size_t key_size) {
  char err[256];
  uint64_t bytes;
  int64_t t;
  oc_time_parse_rfc3339("2026-11-01T10:00:00Z", 20, &t);
  oc_lake_writer_t *w =
      oc_lake_writer_open(root, "logs", "aws_cloudtrail", t, name, 3, err, sizeof(err));
  if (!w) {
    fprintf(stderr, "lake writer: %s\n", err);
    return;
  }
  for (size_t i = 0; i < n; i++)
    oc_lake_writer_append(w, lines[i], strlen(lines[i]));
  if (oc_lake_writer_commit(w, key, key_size, &bytes, err, sizeof(err)) != OC_OK)
    fprintf(stderr, "lake commit: %s\n", err);
}

static const oc_match_group_t *group(const oc_scan_t *scan, const char *rule_id,
                                     const char *dedup) {
  for (size_t i = 0; i < scan->ngroups; i++)
    if (strcmp(scan->groups[i]->rule->id, rule_id) == 0 &&
        strcmp(scan->groups[i]->dedup, dedup) == 0)
      return scan->groups[i];
  return NULL;
}

static int64_t us(const char *panther) {
  int64_t v = 0;
  oc_time_parse_rfc3339(panther, strlen(panther), &v);
  return v;
}

static void test_scan_groups(void) {
  char key[1024], path[2048], err[512];
  static char store[64][2048];
  const char *lines[64];
  size_t n = 0;
#define ADD(s) (snprintf(store[n], sizeof(store[n]), "%s", (s)), lines[n] = store[n], n++)
  /* 7 root logins in account A (times out of order), 2 in account B. */
  ADD(ct("ConsoleLogin", "Root", "A", "1.1.1.1", "2026-11-01 10:05:00.000000000"));
  ADD(ct("ConsoleLogin", "Root", "A", "1.1.1.2", "2026-11-01 10:01:00.250000000"));
  ADD(ct("ConsoleLogin", "Root", "B", "1.1.1.3", "2026-11-01 10:02:00.000000000"));
  for (int i = 0; i < 5; i++)
    ADD(ct("ConsoleLogin", "Root", "A", "1.1.1.4", "2026-11-01 10:03:00.000000000"));
  ADD(ct("ConsoleLogin", "Root", "A", "1.1.1.5", "2026-11-01 10:09:59.999999000"));
  ADD(ct("ConsoleLogin", "Root", "B", "1.1.1.6", "2026-11-01 10:04:00.000000000"));
  ADD(ct("ConsoleLogin", "IAMUser", "A", "1.1.1.7", "2026-11-01 10:04:00.000000000"));
  /* GroupBy sourceIPAddress: two IPs. */
  ADD(ct("GetObject", "IAMUser", "A", "9.9.9.9", "2026-11-01 10:00:01.000000000"));
  ADD(ct("GetObject", "IAMUser", "A", "9.9.9.9", "2026-11-01 10:00:02.000000000"));
  ADD(ct("GetBucketAcl", "IAMUser", "A", "8.8.8.8", "2026-11-01 10:00:03.000000000"));
  /* No AlertTitle: default dedup. No p_event_time: the file's default time. */
  ADD("{\"eventName\":\"StopLogging\",\"p_log_type\":\"AWS.CloudTrail\"}");
  /* Another log type in the same file, and one without p_log_type (file default). */
  ADD("{\"eventName\":\"user.session.start\",\"p_log_type\":\"Okta.SystemLog\","
      "\"p_event_time\":\"2026-11-01 10:00:00.000000000\"}");
  ADD("{\"eventName\":\"StopLogging\"}");
  /* Bad lines: counted, skipped. */
  ADD("{\"eventName\": \"ConsoleLogin\", broken");
  ADD("[1,2,3]");
  ADD("");
  ADD("   ");
  ADD("{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\"},"
      "\"recipientAccountId\":\"A\",\"p_log_type\":\"Unknown.Type\"}");
#undef ADD
  write_lake("input-file-1", lines, n, key, sizeof(key));
  snprintf(path, sizeof(path), "%s/%s", root, key);

  oc_ruleset_t *rs = rules();
  oc_scan_t scan;
  oc_scan_init(&scan);
  oc_scan_opts_t opts = {.default_log_type = "AWS.CloudTrail",
                         .default_time_us = us("2026-11-01T09:00:00Z"),
                         .max_line = 1 << 20};
  OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(scan.bad_json, 1);
  OC_CHECK_INT(scan.not_object, 1);
  OC_CHECK_INT(scan.events, 18);
  OC_CHECK(strstr(scan.first_error, "line 18") != NULL);

  const oc_match_group_t *g = group(&scan, "T.RootLogin", "Root login in A");
  OC_CHECK(g != NULL);
  if (g) {
    OC_CHECK_INT(g->count, 8);
    OC_CHECK_STR(g->title, "Root login in A");
    OC_CHECK_INT(g->first_us, us("2026-11-01T10:01:00.25Z"));
    OC_CHECK_INT(g->last_us, us("2026-11-01T10:09:59.999999Z"));
    OC_CHECK_INT(g->nsamples, 5);
    OC_CHECK(strstr(g->samples[0], "1.1.1.1") != NULL); /* the first five, in file order */
    OC_CHECK(strstr(g->samples[1], "1.1.1.2") != NULL);
    OC_CHECK_STR(g->log_type, "AWS.CloudTrail");
  }
  g = group(&scan, "T.RootLogin", "Root login in B");
  OC_CHECK(g != NULL);
  if (g) {
    OC_CHECK_INT(g->count, 2);
    OC_CHECK_INT(g->nsamples, 2);
  }
  g = group(&scan, "T.ByIP", "9.9.9.9");
  OC_CHECK(g != NULL);
  if (g) {
    OC_CHECK_INT(g->count, 2);
    OC_CHECK_STR(g->title, "T.ByIP");
  }
  g = group(&scan, "T.ByIP", "8.8.8.8");
  OC_CHECK(g != NULL && g->count == 1);
  g = group(&scan, "T.NoTitle", "defaultDedupString:T.NoTitle");
  OC_CHECK(g != NULL);
  if (g) {
    OC_CHECK_INT(g->count, 2);
    OC_CHECK_INT(g->first_us, us("2026-11-01T09:00:00Z"));
  }
  g = group(&scan, "T.Okta", "defaultDedupString:T.Okta");
  OC_CHECK(g != NULL);
  if (g) OC_CHECK_STR(g->log_type, "Okta.SystemLog");
  OC_CHECK_INT(scan.ngroups, 6);
  OC_CHECK_INT(scan.matches, 8 + 2 + 3 + 2 + 1);
  OC_CHECK_INT(scan.noutputs, 0); /* no lake_root: nothing written */
  /* Per log type event counts. */
  bool saw_unknown = false;
  for (size_t i = 0; i < scan.ntypes; i++) {
    if (strcmp(scan.types[i].log_type, "AWS.CloudTrail") == 0)
      OC_CHECK_INT(scan.types[i].events, 16);
    if (strcmp(scan.types[i].log_type, "Unknown.Type") == 0) saw_unknown = true;
  }
  OC_CHECK(saw_unknown);

  /* The same file again gives the same result (the scan is reusable). */
  OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(scan.ngroups, 6);
  OC_CHECK_INT(scan.matches, 16);

  /* Missing file, damaged stream. */
  char missing[2048];
  snprintf(missing, sizeof(missing), "%s/logs/none.json.zst", root);
  OC_CHECK_INT(oc_scan_file(&scan, rs, missing, &opts, err, sizeof(err)), OC_ERR_NOT_FOUND);
  struct stat st;
  stat(path, &st);
  OC_CHECK(truncate(path, st.st_size - 7) == 0);
  OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_ERR_DECODE);

  oc_scan_deinit(&scan);
  oc_ruleset_destroy(rs);
}

static void test_scan_output(void) {
  char key[1024], path[2048], err[512];
  const char *lines[3];
  static char a[2048], b[2048];
  snprintf(a, sizeof(a), "%s",
           ct("ConsoleLogin", "Root", "A", "1.1.1.1", "2026-11-01 10:05:00.000000000"));
  snprintf(b, sizeof(b), "%s",
           ct("GetObject", "IAMUser", "A", "9.9.9.9", "2026-11-01 10:06:00.000000000"));
  lines[0] = a;
  lines[1] = b;
  lines[2] = "{\"eventName\":\"Nothing\",\"p_log_type\":\"AWS.CloudTrail\"}";
  write_lake("20261101T10-abc", lines, 3, key, sizeof(key));
  snprintf(path, sizeof(path), "%s/%s", root, key);

  oc_ruleset_t *rs = rules();
  oc_scan_t scan;
  oc_scan_init(&scan);
  oc_scan_opts_t opts = {.default_log_type = "AWS.CloudTrail",
                         .default_time_us = us("2026-11-01T09:00:00Z"),
                         .lake_root = root,
                         .input_key = key,
                         .zstd_level = 3};
  OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(scan.noutputs, 1);
  if (scan.noutputs != 1) goto out;
  oc_scan_output_t *o = &scan.outputs[0];
  OC_CHECK_STR(o->key,
               "rules/aws_cloudtrail/year=2026/month=11/day=01/hour=10/20261101T10-abc.json.zst");
  OC_CHECK_STR(o->log_type, "AWS.CloudTrail");
  OC_CHECK_INT(o->rows, 2);
  OC_CHECK(o->bytes > 0);
  OC_CHECK_INT(o->first_us, us("2026-11-01T10:05:00Z"));
  OC_CHECK_INT(o->last_us, us("2026-11-01T10:06:00Z"));

  char out[2048];
  snprintf(out, sizeof(out), "%s/%s", root, o->key);
  oc_reader_t *r = oc_reader_open(out, 1 << 20, err, sizeof(err));
  OC_CHECK(r != NULL);
  if (r) {
    const char *line;
    size_t len;
    int nlines = 0;
    oc_arena_t arena;
    oc_arena_init(&arena, 4096);
    while (oc_reader_next_line(r, &line, &len) == OC_OK) {
      oc_json_t *v = oc_json_parse(&arena, line, len, 64, err, sizeof(err));
      OC_CHECK(v != NULL);
      if (!v) continue;
      nlines++;
      const oc_json_t *id = oc_json_get(v, "p_rule_id");
      if (nlines == 1) {
        OC_CHECK(oc_json_streq(id, "T.RootLogin"));
        OC_CHECK(oc_json_streq(oc_json_get(v, "p_alert_title"), "Root login in A"));
        OC_CHECK(oc_json_streq(oc_json_get(v, "p_dedup"), "Root login in A"));
        OC_CHECK(oc_json_streq(oc_json_get(v, "p_rule_severity"), "HIGH"));
        OC_CHECK(oc_json_streq(oc_json_path(v, "userIdentity.type"), "Root"));
        OC_CHECK(oc_json_is_string(oc_json_get(v, "p_rule_version")));
      } else {
        OC_CHECK(oc_json_streq(id, "T.ByIP"));
        OC_CHECK(oc_json_streq(oc_json_get(v, "p_dedup"), "9.9.9.9"));
        OC_CHECK(oc_json_streq(oc_json_get(v, "p_alert_title"), "T.ByIP"));
      }
    }
    OC_CHECK_INT(nlines, 2);
    oc_arena_deinit(&arena);
    oc_reader_destroy(r);
  }
  /* No temp files left behind. */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "find '%s/rules' -name '*.tmp*' | grep -q .", root);
  OC_CHECK(system(cmd) != 0);
out:
  oc_scan_deinit(&scan);
  oc_ruleset_destroy(rs);
}

/* DynamicSeverities and AlertContext: a group keeps its first match's; every written
 * match carries its own. */
static void test_scan_severity_context(void) {
  static const char *DYN =
      "AnalysisType: rule\nRuleID: T.Dyn\nLogTypes: [AWS.CloudTrail]\nSeverity: Low\n"
      "GroupBy:\n  - Key: eventName\n"
      "AlertContext:\n  ip: {Key: sourceIPAddress}\n  type: {KeyPath: userIdentity.type}\n"
      "DynamicSeverities:\n  - ChangeTo: Critical\n    Conditions:\n"
      "      - Key: sourceIPAddress\n        Condition: IsIPAddressPrivate\n"
      "Detection:\n  - Key: eventName\n    Condition: StartsWith\n    Value: Get\n";
  char key[1024], path[2048], err[512];
  static char store[4][2048];
  const char *lines[4];
  snprintf(store[0], sizeof(store[0]), "%s",
           ct("GetObject", "IAMUser", "A", "10.0.0.1", "2026-11-01 10:01:00.000000000"));
  snprintf(store[1], sizeof(store[1]), "%s",
           ct("GetObject", "Root", "A", "9.9.9.9", "2026-11-01 10:02:00.000000000"));
  snprintf(store[2], sizeof(store[2]), "%s",
           ct("GetBucketAcl", "IAMUser", "A", "8.8.8.8", "2026-11-01 10:03:00.000000000"));
  snprintf(store[3], sizeof(store[3]), "%s",
           ct("StopLogging", "IAMUser", "A", "8.8.8.8", "2026-11-01 10:04:00.000000000"));
  for (int i = 0; i < 4; i++)
    lines[i] = store[i];
  write_lake("20261101T10-dyn", lines, 4, key, sizeof(key));
  snprintf(path, sizeof(path), "%s/%s", root, key);

  oc_ruleset_t *rs = oc_ruleset_new();
  OC_CHECK_INT(oc_ruleset_add(rs, DYN, strlen(DYN), "dyn.yml", NULL, NULL, false), OC_RULE_OK);
  oc_ruleset_add(rs, NO_TITLE, strlen(NO_TITLE), "c.yml", NULL, NULL, false);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  oc_scan_t scan;
  oc_scan_init(&scan);
  oc_scan_opts_t opts = {.default_log_type = "AWS.CloudTrail",
                         .default_time_us = us("2026-11-01T09:00:00Z"),
                         .lake_root = root,
                         .input_key = key,
                         .zstd_level = 3};
  for (int pass = 0; pass < 2; pass++) { /* without and with the rules/ output */
    if (pass == 0)
      opts.lake_root = NULL;
    else
      opts.lake_root = root;
    OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_OK);
    OC_CHECK_INT(scan.ngroups, 3);
    const oc_match_group_t *g = group(&scan, "T.Dyn", "GetObject");
    OC_CHECK(g != NULL);
    if (g) {
      OC_CHECK_INT(g->count, 2);
      OC_CHECK_STR(g->severity, "CRITICAL");
      OC_CHECK_STR(g->alert_context, "{\"ip\":\"10.0.0.1\",\"type\":\"IAMUser\"}");
    }
    g = group(&scan, "T.Dyn", "GetBucketAcl");
    OC_CHECK(g != NULL);
    if (g) {
      OC_CHECK_STR(g->severity, "LOW");
      OC_CHECK_STR(g->alert_context, "{\"ip\":\"8.8.8.8\",\"type\":\"IAMUser\"}");
    }
    g = group(&scan, "T.NoTitle", "defaultDedupString:T.NoTitle");
    OC_CHECK(g != NULL);
    if (g) {
      OC_CHECK_STR(g->severity, "INFO");
      OC_CHECK_STR(g->alert_context, "");
    }
  }
  OC_CHECK_INT(scan.noutputs, 1);
  if (scan.noutputs == 1) {
    char out[2048];
    snprintf(out, sizeof(out), "%s/%s", root, scan.outputs[0].key);
    oc_reader_t *r = oc_reader_open(out, 1 << 20, err, sizeof(err));
    OC_CHECK(r != NULL);
    const char *want_sev[] = {"CRITICAL", "LOW", "LOW", "INFO"};
    const char *want_ip[] = {"10.0.0.1", "9.9.9.9", "8.8.8.8", NULL};
    const char *line;
    size_t len;
    int n = 0;
    oc_arena_t arena;
    oc_arena_init(&arena, 4096);
    while (r && oc_reader_next_line(r, &line, &len) == OC_OK && n < 4) {
      oc_json_t *v = oc_json_parse(&arena, line, len, 64, err, sizeof(err));
      OC_CHECK(v != NULL);
      if (!v) break;
      OC_CHECK(oc_json_streq(oc_json_get(v, "p_rule_severity"), want_sev[n]));
      const oc_json_t *c = oc_json_get(v, "p_alert_context");
      if (want_ip[n]) {
        OC_CHECK(c && c->type == OC_JSON_OBJECT);
        OC_CHECK(oc_json_streq(oc_json_get(c, "ip"), want_ip[n]));
        OC_CHECK(oc_json_streq(oc_json_get(c, "type"), n == 1 ? "Root" : "IAMUser"));
      } else {
        OC_CHECK(c == NULL);
      }
      n++;
    }
    OC_CHECK_INT(n, 4);
    oc_arena_deinit(&arena);
    oc_reader_destroy(r);
  }
  oc_scan_deinit(&scan);
  oc_ruleset_destroy(rs);
}

/* Log types without rules past OC_SCAN_MAX_TYPES are counted, not tracked one by one. */
static void test_many_log_types(void) {
  char key[1024], path[2048], err[512];
  static char store[400][128];
  const char *lines[400];
  size_t n = 0;
  for (; n < 300; n++) {
    snprintf(store[n], sizeof(store[n]), "{\"eventName\":\"x\",\"p_log_type\":\"Custom.T%zu\"}", n);
    lines[n] = store[n];
  }
  /* A type with rules after the cap is still tracked and matched. */
  snprintf(store[n], sizeof(store[n]), "%s",
           "{\"eventName\":\"StopLogging\",\"p_log_type\":\"AWS.CloudTrail\"}");
  lines[n] = store[n];
  n++;
  write_lake("many-types", lines, n, key, sizeof(key));
  snprintf(path, sizeof(path), "%s/%s", root, key);
  oc_ruleset_t *rs = rules();
  oc_scan_t scan;
  oc_scan_init(&scan);
  oc_scan_opts_t opts = {.default_time_us = 1};
  OC_CHECK_INT(oc_scan_file(&scan, rs, path, &opts, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(scan.events, 301);
  OC_CHECK_INT(scan.ntypes, OC_SCAN_MAX_TYPES + 1);
  OC_CHECK_INT(scan.other_events, 300 - OC_SCAN_MAX_TYPES);
  OC_CHECK_INT(scan.matches, 1);
  oc_scan_deinit(&scan);
  oc_ruleset_destroy(rs);
}

static void test_output_name(void) {
  char name[256];
  oc_scan_output_name("logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/abc-123.json.zst",
                      name, sizeof(name));
  OC_CHECK_STR(name, "abc-123");
  oc_scan_output_name("logs/x/y/we ird$name.json.gz", name, sizeof(name));
  OC_CHECK_STR(name, "we_ird_name");
  oc_scan_output_name("logs/x/..json.zst", name, sizeof(name));
  OC_CHECK(name[0] != '.' && strchr(name, '/') == NULL);
  char again[256];
  oc_scan_output_name("", name, sizeof(name));
  oc_scan_output_name("", again, sizeof(again));
  OC_CHECK_STR(name, again);
  OC_CHECK_INT(strlen(name), 32);
}

static void cleanup(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

static void test_setup(void) {
  snprintf(root, sizeof(root), "/tmp/oc-test-scan-XXXXXX");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    exit(1);
  }
  atexit(cleanup);
}

OC_TEST_MAIN(OC_TEST(test_setup), OC_TEST(test_scan_groups), OC_TEST(test_scan_output),
             OC_TEST(test_scan_severity_context), OC_TEST(test_many_log_types),
             OC_TEST(test_output_name))
