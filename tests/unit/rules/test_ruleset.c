/* test_ruleset.c: loading a directory (a broken file next to good ones: the good ones
 * load, the broken one is reported with file and line), skipping Python rules, the
 * log-type index, duplicate ids, table rules replacing directory rules, and the bundled
 * examples/detections. */
#include "services/rules-engine/ruleset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "oc_test.h"

static char tmpdir[256];

static void write_file(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
  /* parents */
  for (char *p = path + strlen(tmpdir) + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "could not write %s: %s\n", path, strerror(errno));
    return;
  }
  fputs(text, f);
  fclose(f);
}

static const char *GOOD_CT =
    "AnalysisType: rule\nRuleID: Good.CloudTrail\nLogTypes: [AWS.CloudTrail]\nSeverity: High\n"
    "Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n";
static const char *GOOD_BOTH =
    "AnalysisType: rule\nRuleID: Good.Both\nLogTypes: [AWS.CloudTrail, Okta.SystemLog, "
    "AWS.CloudTrail]\nSeverity: Low\n"
    "Detection:\n  - Key: eventName\n    Condition: Exists\n";
static const char *GOOD_NESTED =
    "AnalysisType: rule\nRuleID: Good.Nested\nLogTypes: [Okta.SystemLog]\nSeverity: Medium\n"
    "Detection:\n  - Key: eventType\n    Condition: StartsWith\n    Value: user.session\n";
static const char *DISABLED =
    "AnalysisType: rule\nRuleID: Off.Rule\nEnabled: false\nLogTypes: [AWS.CloudTrail]\n"
    "Severity: Low\nDetection:\n  - Key: a\n    Condition: Exists\n";
/* Line 7: the unknown condition. */
static const char *BROKEN_COND =
    "AnalysisType: rule\nRuleID: Broken.Cond\nLogTypes: [AWS.CloudTrail]\nSeverity: High\n"
    "Detection:\n  - Key: eventName\n    Condition: Equalz\n    Value: x\n";
/* A YAML syntax error (unclosed flow sequence). */
static const char *BROKEN_SYNTAX =
    "AnalysisType: rule\nRuleID: Broken.Syntax\nLogTypes: [AWS.CloudTrail\nSeverity: High\n";
static const char *PYTHON =
    "AnalysisType: rule\nFilename: some_rule.py\nRuleID: Py.Rule\nLogTypes: [AWS.CloudTrail]\n"
    "Severity: High\n";
static const char *DUP =
    "AnalysisType: rule\nRuleID: Good.CloudTrail\nLogTypes: [AWS.CloudTrail]\nSeverity: Low\n"
    "Detection:\n  - Key: x\n    Condition: Exists\n";

static const oc_ruleset_msg_t *find_msg(const oc_ruleset_t *rs, const char *origin_suffix) {
  for (size_t i = 0; i < oc_ruleset_nmsgs(rs); i++) {
    const oc_ruleset_msg_t *m = oc_ruleset_msg(rs, i);
    size_t n = strlen(m->origin), s = strlen(origin_suffix);
    if (n >= s && strcmp(m->origin + n - s, origin_suffix) == 0) return m;
  }
  return NULL;
}

static void test_directory(void) {
  char err[512];
  write_file("a_good.yml", GOOD_CT);
  write_file("b_both.yaml", GOOD_BOTH);
  write_file("okta/sub/nested.YML", GOOD_NESTED);
  write_file("c_disabled.yml", DISABLED);
  write_file("d_broken_cond.yml", BROKEN_COND);
  write_file("e_broken_syntax.yml", BROKEN_SYNTAX);
  write_file("f_python.yml", PYTHON);
  write_file("g_dup.yml", DUP);
  write_file(".hidden.yml", BROKEN_COND);     /* hidden: ignored */
  write_file(".git/config.yml", BROKEN_COND); /* hidden folder: ignored */
  write_file("notes.txt", "not a detection"); /* not yml: ignored */
  write_file("some_rule.py", "def rule(e):\n  return True\n");

  oc_ruleset_t *rs = oc_ruleset_new();
  OC_CHECK_INT(oc_ruleset_load_dir(rs, tmpdir, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  const oc_ruleset_stats_t *st = oc_ruleset_stats(rs);
  OC_CHECK_INT(st->loaded, 3);
  OC_CHECK_INT(st->loaded_dir, 3);
  OC_CHECK_INT(st->loaded_table, 0);
  OC_CHECK_INT(st->disabled, 1);
  OC_CHECK_INT(st->python, 1);
  OC_CHECK_INT(st->errors, 3); /* two broken files and a duplicate id */

  const oc_ruleset_msg_t *m = find_msg(rs, "/d_broken_cond.yml");
  OC_CHECK(m != NULL);
  if (m) {
    OC_CHECK_INT(m->level, OC_RULESET_MSG_ERROR);
    OC_CHECK_INT(m->line, 7);
    OC_CHECK(strstr(m->text, "unknown condition \"Equalz\"") != NULL);
  }
  m = find_msg(rs, "/e_broken_syntax.yml");
  OC_CHECK(m != NULL);
  if (m) {
    OC_CHECK_INT(m->level, OC_RULESET_MSG_ERROR);
    OC_CHECK(m->line >= 3);
    OC_CHECK(strstr(m->text, "YAML syntax error") != NULL);
  }
  m = find_msg(rs, "/f_python.yml");
  OC_CHECK(m != NULL);
  if (m) {
    OC_CHECK_INT(m->level, OC_RULESET_MSG_INFO);
    OC_CHECK(strstr(m->text, "a Python rule: it runs from a pack") != NULL);
  }
  m = find_msg(rs, "/g_dup.yml");
  OC_CHECK(m != NULL);
  if (m) OC_CHECK(strstr(m->text, "duplicate RuleID Good.CloudTrail") != NULL);
  OC_CHECK(find_msg(rs, "/.hidden.yml") == NULL);
  OC_CHECK(find_msg(rs, "config.yml") == NULL);

  /* The first file in path order wins a duplicate id. */
  const oc_rule_t *good = oc_ruleset_find(rs, "Good.CloudTrail");
  OC_CHECK(good != NULL);
  if (good) {
    OC_CHECK_STR(good->severity, "HIGH");
    OC_CHECK(strstr(good->origin, "a_good.yml") != NULL);
  }
  OC_CHECK(oc_ruleset_find(rs, "Off.Rule") == NULL);
  OC_CHECK(oc_ruleset_find(rs, "Broken.Cond") == NULL);

  /* Index by log type. */
  size_t n = 0;
  const oc_rule_t *const *rules = oc_ruleset_for_log_type(rs, "AWS.CloudTrail", 14, &n);
  OC_CHECK_INT(n, 2);
  if (n == 2) {
    OC_CHECK_STR(rules[0]->id, "Good.Both");
    OC_CHECK_STR(rules[1]->id, "Good.CloudTrail");
  }
  rules = oc_ruleset_for_log_type(rs, "Okta.SystemLog", 14, &n);
  OC_CHECK_INT(n, 2);
  rules = oc_ruleset_for_log_type(rs, "AWS.CloudTrailX", 15, &n);
  OC_CHECK_INT(n, 0);
  rules = oc_ruleset_for_log_type(rs, "AWS.Cloud", 9, &n);
  OC_CHECK_INT(n, 0);
  rules = oc_ruleset_for_log_type(rs, "Zzz", 3, &n);
  OC_CHECK_INT(n, 0);
  OC_CHECK(oc_ruleset_ctx(rs) != NULL);
  oc_ruleset_destroy(rs);

  /* Fingerprints follow changes. */
  uint64_t fp1 = oc_ruleset_dir_fingerprint(tmpdir);
  OC_CHECK(fp1 != 0);
  OC_CHECK(oc_ruleset_dir_fingerprint(tmpdir) == fp1);
  write_file("h_new.yml", GOOD_NESTED);
  OC_CHECK(oc_ruleset_dir_fingerprint(tmpdir) != fp1);
  OC_CHECK(oc_ruleset_dir_fingerprint("/nonexistent/ocelot/rules") == 0);

  rs = oc_ruleset_new();
  OC_CHECK_INT(oc_ruleset_load_dir(rs, "/nonexistent/ocelot/rules", err, sizeof(err)),
               OC_ERR_NOT_FOUND);
  oc_ruleset_destroy(rs);
}

static void test_table_precedence(void) {
  char err[512];
  oc_ruleset_t *rs = oc_ruleset_new();
  OC_CHECK_INT(oc_ruleset_add(rs, GOOD_CT, strlen(GOOD_CT), "dir/a.yml", NULL, NULL, false),
               OC_RULE_OK);
  const char *table_version =
      "AnalysisType: rule\nRuleID: Good.CloudTrail\nLogTypes: [AWS.CloudTrail]\n"
      "Severity: Critical\nDetection:\n  - Key: eventName\n    Condition: Exists\n";
  OC_CHECK_INT(oc_ruleset_add(rs, table_version, strlen(table_version), "rules table row x", "4",
                              "Good.CloudTrail", true),
               OC_RULE_OK);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  const oc_rule_t *r = oc_ruleset_find(rs, "Good.CloudTrail");
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_STR(r->severity, "CRITICAL");
    OC_CHECK_STR(r->version, "4");
    OC_CHECK(r->from_table);
  }
  OC_CHECK_INT(oc_ruleset_stats(rs)->overridden, 1);
  OC_CHECK_INT(oc_ruleset_stats(rs)->errors, 0);
  OC_CHECK_INT(oc_ruleset_count(rs), 1);
  oc_ruleset_destroy(rs);
}

/* The bundled examples all load, each for AWS.CloudTrail. */
static void test_examples(void) {
  char dir[512], err[512];
  const char *src = getenv("OCELOT_SOURCE_DIR");
  snprintf(dir, sizeof(dir), "%s/examples/detections", src ? src : ".");
  oc_ruleset_t *rs = oc_ruleset_new();
  OC_CHECK_INT(oc_ruleset_load_dir(rs, dir, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  for (size_t i = 0; i < oc_ruleset_nmsgs(rs); i++) {
    const oc_ruleset_msg_t *m = oc_ruleset_msg(rs, i);
    fprintf(stderr, "%s:%d: %s\n", m->origin, m->line, m->text);
  }
  OC_CHECK_INT(oc_ruleset_stats(rs)->errors, 0);
  static const char *ids[] = {"AWS.Console.RootLogin",
                              "AWS.IAM.AccessKeyCreated",
                              "AWS.CloudTrail.StoppedOrDeleted",
                              "AWS.S3.BucketPolicyModified",
                              "AWS.EC2.SecurityGroupOpenToWorld",
                              "AWS.Console.LoginWithoutMFA"};
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    const oc_rule_t *r = oc_ruleset_find(rs, ids[i]);
    if (!r) fprintf(stderr, "missing example %s\n", ids[i]);
    OC_CHECK(r != NULL);
    if (r) OC_CHECK(r->title != NULL);
  }
  const oc_rule_t *mfa = oc_ruleset_find(rs, "AWS.Console.LoginWithoutMFA");
  if (mfa) OC_CHECK_INT(mfa->threshold, 5);
  size_t n = 0;
  oc_ruleset_for_log_type(rs, "AWS.CloudTrail", 14, &n);
  OC_CHECK(n >= 6);
  oc_ruleset_destroy(rs);
}

/* Gated evaluation (oc_ruleset_candidates) finds exactly what evaluating every rule
 * finds, offers each rule at most once, and skips rules an event cannot satisfy. */
static void test_candidates(void) {
  static const char *const rules[] = {
      /* gated on eventName (Equals) */
      "RuleID: G1\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventName\n"
      "    Condition: Equals\n    Value: Login\n",
      /* gated on eventName (IsIn, a value listed twice) */
      "RuleID: G2\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: x\n    Condition: Exists\n"
      "  - Key: eventName\n    Condition: IsIn\n    Values: [Login, Logout, Login]\n",
      /* gated on another member */
      "RuleID: G3\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - KeyPath: src\n"
      "    Condition: Equals\n    Value: a\n",
      /* not gated: numeric value (JSON 5 equals it), boolean, negation, Any, nested path */
      "RuleID: U1\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventName\n"
      "    Condition: Equals\n    Value: 5\n",
      "RuleID: U2\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventName\n"
      "    Condition: IsIn\n    Values: [Login, true]\n",
      "RuleID: U3\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventName\n"
      "    Condition: DoesNotEqual\n    Value: Login\n",
      "RuleID: U4\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Any:\n      - Key: eventName\n"
      "        Condition: Equals\n        Value: Login\n      - Key: x\n"
      "        Condition: Exists\n",
      "RuleID: U5\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - KeyPath: a.eventName\n"
      "    Condition: Equals\n    Value: Login\n",
      "RuleID: U6\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - KeyPath: \"7\"\n"
      "    Condition: Equals\n    Value: Login\n",
  };
  static const char *const events[] = {
      "{\"eventName\":\"Login\"}",
      "{\"eventName\":\"Login\",\"x\":1,\"src\":\"a\"}",
      "{\"eventName\":\"Logout\",\"x\":null}",
      "{\"eventName\":\"Other\",\"src\":\"b\"}",
      "{\"eventName\":5}",
      "{\"eventName\":\"5\"}",
      "{\"eventName\":true}",
      "{\"eventName\":[\"Login\"]}",
      "{\"a\":{\"eventName\":\"Login\"},\"7\":\"Login\"}",
      "{}",
  };
  char err[256];
  oc_ruleset_t *rs = oc_ruleset_new();
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    OC_CHECK_INT(oc_ruleset_add(rs, rules[i], strlen(rules[i]), "r", NULL, NULL, false),
                 OC_RULE_OK);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  const oc_ruleset_type_t *t = oc_ruleset_type(rs, "L", 1);
  OC_CHECK(t != NULL);
  OC_CHECK(oc_ruleset_type(rs, "M", 1) == NULL);
  size_t nall = 0;
  const oc_rule_t *const *all = oc_ruleset_for_log_type(rs, "L", 1, &nall);
  oc_det_ctx_t *ctx = oc_ruleset_ctx(rs);
  oc_arena_t arena;
  oc_arena_init(&arena, 4096);
  for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++) {
    oc_json_t *ev = oc_json_parse(&arena, events[e], strlen(events[e]), 16, err, sizeof(err));
    OC_CHECK(ev != NULL);
    if (!ev) continue;
    oc_det_ctx_set_event(ctx, ev);
    char full[256] = "", gated[256] = "";
    for (size_t i = 0; i < nall; i++)
      if (oc_rule_matches(all[i], ctx)) {
        strcat(full, all[i]->id);
        strcat(full, " ");
      }
    const oc_rule_span_t *spans;
    size_t ns = oc_ruleset_candidates(rs, t, ctx, &spans), offered = 0;
    const oc_rule_t *seen[64];
    for (size_t s = 0; s < ns; s++)
      for (size_t i = 0; i < spans[s].n; i++) {
        for (size_t k = 0; k < offered; k++)
          OC_CHECK(seen[k] != spans[s].rules[i]);
        if (offered < 64) seen[offered++] = spans[s].rules[i];
      }
    /* same set, compared in id order */
    for (size_t i = 0; i < nall; i++)
      for (size_t k = 0; k < offered; k++)
        if (seen[k] == all[i] && oc_rule_matches(all[i], ctx)) {
          strcat(gated, all[i]->id);
          strcat(gated, " ");
        }
    if (strcmp(full, gated) != 0)
      fprintf(stderr, "event %s: all \"%s\" gated \"%s\"\n", events[e], full, gated);
    OC_CHECK_STR(gated, full);
    if (e == 3) OC_CHECK_INT(offered, 6); /* "Other": only the six ungated rules */
    if (e == 1) OC_CHECK_INT(offered, 9); /* Login + src a: everything */
  }
  oc_arena_deinit(&arena);
  oc_ruleset_destroy(rs);
}

/* A rule with several gates is indexed under the member with the most gate values
 * (eventName rather than eventSource); new expression kinds beside a gate keep it. */
static void test_best_gate(void) {
  static const char *const rules[] = {
      "RuleID: S1\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventSource\n"
      "    Condition: Equals\n    Value: iam\n  - Key: eventName\n    Condition: Equals\n"
      "    Value: CreateUser\n",
      "RuleID: S2\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventSource\n"
      "    Condition: Equals\n    Value: iam\n",
      "RuleID: N1\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Key: eventName\n"
      "    Condition: IsIn\n    Values: [A, B, C]\n  - Key: items\n    Condition: AnyElement\n"
      "    Expressions:\n      - Key: v\n        Condition: Exists\n",
      "RuleID: N2\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Condition: Equals\n"
      "    Values:\n      - Key: p\n      - Key: q\n  - Key: eventName\n    Condition: Equals\n"
      "    Value: D\n",
      "RuleID: U1\nLogTypes: [L]\nSeverity: Low\nDetection:\n  - Condition: AlwaysTrue\n",
  };
  static const struct {
    const char *event, *offered, *matched;
  } cases[] = {
      {"{\"eventSource\":\"iam\",\"eventName\":\"GetUser\"}", "S2 U1 ", "S2 U1 "},
      {"{\"eventSource\":\"iam\",\"eventName\":\"CreateUser\"}", "S1 S2 U1 ", "S1 S2 U1 "},
      {"{\"eventSource\":\"s3\",\"eventName\":\"CreateUser\"}", "S1 U1 ", "U1 "},
      {"{\"eventName\":\"B\",\"items\":[{\"w\":1},{\"v\":1}]}", "N1 U1 ", "N1 U1 "},
      {"{\"eventName\":\"D\",\"p\":1,\"q\":1}", "N2 U1 ", "N2 U1 "},
      {"{\"eventName\":\"X\",\"p\":1,\"q\":1}", "U1 ", "U1 "},
  };
  char err[256];
  oc_ruleset_t *rs = oc_ruleset_new();
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    OC_CHECK_INT(oc_ruleset_add(rs, rules[i], strlen(rules[i]), "r", NULL, NULL, false),
                 OC_RULE_OK);
  OC_CHECK_INT(oc_ruleset_finish(rs, err, sizeof(err)), OC_OK);
  const oc_ruleset_type_t *t = oc_ruleset_type(rs, "L", 1);
  size_t nall = 0;
  const oc_rule_t *const *all = oc_ruleset_for_log_type(rs, "L", 1, &nall);
  oc_det_ctx_t *ctx = oc_ruleset_ctx(rs);
  oc_arena_t arena;
  oc_arena_init(&arena, 4096);
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    oc_json_t *ev =
        oc_json_parse(&arena, cases[c].event, strlen(cases[c].event), 16, err, sizeof(err));
    OC_CHECK(ev != NULL);
    if (!ev) continue;
    oc_det_ctx_set_event(ctx, ev);
    const oc_rule_span_t *spans;
    size_t ns = oc_ruleset_candidates(rs, t, ctx, &spans);
    char offered[256] = "", matched[256] = "";
    for (size_t i = 0; i < nall; i++) /* in id order */
      for (size_t s = 0; s < ns; s++)
        for (size_t j = 0; j < spans[s].n; j++)
          if (spans[s].rules[j] == all[i]) {
            strcat(offered, all[i]->id);
            strcat(offered, " ");
            if (oc_rule_matches(all[i], ctx)) {
              strcat(matched, all[i]->id);
              strcat(matched, " ");
            }
          }
    OC_CHECK_STR(offered, cases[c].offered);
    OC_CHECK_STR(matched, cases[c].matched);
  }
  oc_arena_deinit(&arena);
  oc_ruleset_destroy(rs);
}

static void cleanup(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void setup(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/oc-test-ruleset-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    exit(1);
  }
  atexit(cleanup);
}

static void test_setup(void) {
  setup();
}

OC_TEST_MAIN(OC_TEST(test_setup), OC_TEST(test_directory), OC_TEST(test_table_precedence),
             OC_TEST(test_candidates), OC_TEST(test_best_gate), OC_TEST(test_examples))
