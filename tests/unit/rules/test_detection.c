/* test_detection.c: YAML match expressions (every condition and combinator, type
 * coercion, missing keys, KeyPath arrays, DeepKey), rule metadata and load errors with
 * lines, AlertTitle templates and dedup strings; IP conditions, AlwaysTrue/False, list
 * conditions with nested Expressions, multi-key comparisons, AlertContext and
 * DynamicSeverities. */
#include "services/rules-engine/detection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc_test.h"
#include "services/rules-engine/rule.h"
#include "services/rules-engine/title.h"

static const char *EVENT =
    "{\"eventName\":\"ConsoleLogin\",\"recipientAccountId\":\"123456789012\","
    "\"userIdentity\":{\"type\":\"Root\",\"userName\":\"alice\","
    "\"sessionContext\":{\"attributes\":{\"mfaAuthenticated\":\"false\"}}},"
    "\"port\":443,\"ratio\":0.5,\"count\":\"12\",\"flag\":true,\"off\":false,"
    "\"nothing\":null,\"empty\":\"\",\"emptyArr\":[],\"emptyObj\":{},"
    "\"resources\":[{\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::b1\"},"
    "{\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::1:role/x\"}],"
    "\"tags\":[\"prod\",\"pci\"],\"a.b\":\"literal-dotted\","
    "\"requestParameters\":{\"ipPermissions\":{\"items\":["
    "{\"ipRanges\":{\"items\":[{\"cidrIp\":\"10.0.0.0/8\"}]}},"
    "{\"ipRanges\":{\"items\":[{\"cidrIp\":\"0.0.0.0/0\"}]}}]}},"
    "\"num\":\"007\",\"mixed\":\"HeLLo World\",\"big\":1e3,\"neg\":-2,"
    "\"obj\":{\"k\":[1,2]},\"unicode\":\"caf\\u00e9\"}";

static oc_arena_t arena;
static oc_json_t *event;

static oc_json_t *parse(const char *text) {
  char err[256];
  oc_json_t *v = oc_json_parse(&arena, text, strlen(text), 64, err, sizeof(err));
  if (!v) fprintf(stderr, "bad test JSON: %s\n", err);
  return v;
}

static const char *HEAD =
    "AnalysisType: rule\nRuleID: Test.Rule\nLogTypes: [Test.Log]\n"
    "Severity: Low\n";

/* Loads HEAD + body; returns the status, *out the rule. */
static oc_rule_status_t load(const char *body, oc_rule_t **out, int *line, char *err,
                             size_t err_size) {
  char text[20000];
  snprintf(text, sizeof(text), "%s%s", HEAD, body);
  return oc_rule_parse(text, strlen(text), "test.yml", NULL, NULL, NULL, out, line, err, err_size);
}

/* 1 match, 0 no match, -1 load error. detection is the Detection: block's body. */
static int eval_on(const char *detection, const oc_json_t *ev) {
  char body[16384], err[512];
  int line = 0;
  oc_rule_t *rule = NULL;
  snprintf(body, sizeof(body), "Detection:\n%s", detection);
  if (load(body, &rule, &line, err, sizeof(err)) != OC_RULE_OK) {
    fprintf(stderr, "load error (line %d): %s\n", line, err);
    return -1;
  }
  /* With a key cache, and without: the results must agree. */
  oc_det_ctx_t *plain = oc_det_ctx_new(NULL);
  oc_det_ctx_set_event(plain, ev);
  int r1 = oc_rule_matches(rule, plain);
  oc_det_ctx_destroy(plain);
  oc_rule_destroy(rule);

  oc_det_keys_t *keys = oc_det_keys_new();
  snprintf(body, sizeof(body), "%sDetection:\n%s", HEAD, detection);
  oc_rule_parse(body, strlen(body), "test.yml", NULL, NULL, keys, &rule, &line, err, sizeof(err));
  oc_det_ctx_t *cached = oc_det_ctx_new(keys);
  oc_det_ctx_set_event(cached, ev);
  int r2 = oc_rule_matches(rule, cached);
  int r3 = oc_rule_matches(rule, cached); /* second time from the cache */
  oc_det_ctx_destroy(cached);
  oc_rule_destroy(rule);
  oc_det_keys_destroy(keys);
  if (r1 != r2 || r2 != r3) {
    fprintf(stderr, "cached and uncached evaluation differ for:\n%s\n", detection);
    return -2;
  }
  return r1;
}

static int m(const char *detection) {
  return eval_on(detection, event);
}

/* One match expression. */
static int m1(const char *spec, const char *cond, const char *value_line) {
  char d[2048];
  snprintf(d, sizeof(d), "  - %s\n    Condition: %s\n%s%s%s", spec, cond, value_line ? "    " : "",
           value_line ? value_line : "", value_line ? "\n" : "");
  return m(d);
}

static void test_equals(void) {
  OC_CHECK_INT(m1("Key: eventName", "Equals", "Value: ConsoleLogin"), 1);
  OC_CHECK_INT(m1("Key: eventName", "Equals", "Value: consolelogin"), 0);
  OC_CHECK_INT(m1("KeyPath: userIdentity.type", "Equals", "Value: Root"), 1);
  OC_CHECK_INT(m1("KeyPath: userIdentity.type", "Equals", "Value: IAMUser"), 0);
  OC_CHECK_INT(m1("KeyPath: userIdentity.sessionContext.attributes.mfaAuthenticated", "Equals",
                  "Value: \"false\""),
               1);
  /* Key is taken literally; KeyPath splits. */
  OC_CHECK_INT(m1("Key: a.b", "Equals", "Value: literal-dotted"), 1);
  OC_CHECK_INT(m1("KeyPath: a.b", "Exists", NULL), 0);
  OC_CHECK_INT(m1("Key: unicode", "Equals", "Value: \"caf\\u00e9\""), 1);
  OC_CHECK_INT(m1("Key: eventName", "DoesNotEqual", "Value: ConsoleLogin"), 0);
  OC_CHECK_INT(m1("Key: eventName", "DoesNotEqual", "Value: Other"), 1);
  /* Missing keys: Equals false, DoesNotEqual true. */
  OC_CHECK_INT(m1("Key: missing", "Equals", "Value: x"), 0);
  OC_CHECK_INT(m1("KeyPath: userIdentity.nope.deeper", "DoesNotEqual", "Value: x"), 1);
  /* Case-insensitive. */
  OC_CHECK_INT(m1("Key: mixed", "IEquals", "Value: hello world"), 1);
  OC_CHECK_INT(m1("Key: mixed", "IEquals", "Value: HELLO WORLD"), 1);
  OC_CHECK_INT(m1("Key: mixed", "IEquals", "Value: hello"), 0);
  OC_CHECK_INT(m1("Key: mixed", "IDoesNotEqual", "Value: hello world"), 0);
  OC_CHECK_INT(m1("Key: flag", "IEquals", "Value: TRUE"), 1);
}

static void test_type_coercion(void) {
  /* JSON number vs YAML: numeric comparison when the Value reads as a number. */
  OC_CHECK_INT(m1("Key: port", "Equals", "Value: 443"), 1);
  OC_CHECK_INT(m1("Key: port", "Equals", "Value: \"443\""), 1);
  OC_CHECK_INT(m1("Key: port", "Equals", "Value: 443.0"), 1);
  OC_CHECK_INT(m1("Key: port", "Equals", "Value: 444"), 0);
  OC_CHECK_INT(m1("Key: port", "Equals", "Value: https"), 0);
  OC_CHECK_INT(m1("Key: big", "Equals", "Value: 1000"), 1);
  OC_CHECK_INT(m1("Key: neg", "Equals", "Value: -2"), 1);
  /* JSON string vs YAML: the Value's text as written. */
  OC_CHECK_INT(m1("Key: count", "Equals", "Value: 12"), 1);
  OC_CHECK_INT(m1("Key: count", "Equals", "Value: 12.0"), 0);
  OC_CHECK_INT(m1("Key: num", "Equals", "Value: 7"), 0);
  OC_CHECK_INT(m1("Key: num", "Equals", "Value: \"007\""), 1);
  OC_CHECK_INT(m1("Key: num", "Equals", "Value: 007"), 1);
  /* Booleans. */
  OC_CHECK_INT(m1("Key: flag", "Equals", "Value: true"), 1);
  OC_CHECK_INT(m1("Key: flag", "Equals", "Value: \"True\""), 1);
  OC_CHECK_INT(m1("Key: flag", "Equals", "Value: false"), 0);
  OC_CHECK_INT(m1("Key: flag", "Equals", "Value: 1"), 0);
  OC_CHECK_INT(m1("Key: off", "Equals", "Value: False"), 1);
  /* null: only an unquoted null. */
  OC_CHECK_INT(m1("Key: nothing", "Equals", "Value: null"), 1);
  OC_CHECK_INT(m1("Key: nothing", "Equals", "Value: ~"), 1);
  OC_CHECK_INT(m1("Key: nothing", "Equals", "Value: \"null\""), 0);
  OC_CHECK_INT(m1("Key: empty", "Equals", "Value: \"\""), 1);
  OC_CHECK_INT(m1("Key: empty", "Equals", "Value: null"), 0);
  /* Objects and arrays never equal a scalar. */
  OC_CHECK_INT(m1("Key: tags", "Equals", "Value: prod"), 0);
  OC_CHECK_INT(m1("Key: obj", "Equals", "Value: x"), 0);
}

static void test_is_in(void) {
  OC_CHECK_INT(
      m("  - Key: eventName\n    Condition: IsIn\n    Values: [GetObject, ConsoleLogin]\n"), 1);
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: IsIn\n    Values: [GetObject, PutObject]\n"),
               0);
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: IsNotIn\n    Values: [GetObject]\n"), 1);
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: IsNotIn\n    Values: [ConsoleLogin]\n"), 0);
  OC_CHECK_INT(m("  - Key: port\n    Condition: IsIn\n    Values: [80, 443]\n"), 1);
  OC_CHECK_INT(m("  - Key: port\n    Condition: IsIn\n    Values: [\"443\"]\n"), 1);
  OC_CHECK_INT(m("  - Key: port\n    Condition: IsIn\n    Values: [80, 8080]\n"), 0);
  OC_CHECK_INT(m("  - Key: count\n    Condition: IsIn\n    Values: [11, 12]\n"), 1);
  OC_CHECK_INT(m("  - Key: flag\n    Condition: IsIn\n    Values: [true]\n"), 1);
  OC_CHECK_INT(m("  - Key: off\n    Condition: IsIn\n    Values: [true]\n"), 0);
  OC_CHECK_INT(m("  - Key: nothing\n    Condition: IsIn\n    Values: [null, x]\n"), 1);
  OC_CHECK_INT(m("  - Key: missing\n    Condition: IsIn\n    Values: [x]\n"), 0);
  OC_CHECK_INT(m("  - Key: missing\n    Condition: IsNotIn\n    Values: [x]\n"), 1);
  /* A long list, unsorted, with the value in the middle: sorted and searched. */
  char d[8192], *p = d;
  p += sprintf(p, "  - Key: eventName\n    Condition: IsIn\n    Values:\n");
  for (int i = 300; i > 0; i--) {
    if (i == 150) p += sprintf(p, "      - ConsoleLogin\n");
    p += sprintf(p, "      - Event%03d\n", i);
  }
  OC_CHECK_INT(m(d), 1);
  d[0] = '\0';
  p = d;
  p += sprintf(p, "  - Key: eventName\n    Condition: IsIn\n    Values:\n");
  for (int i = 0; i < 300; i++)
    p += sprintf(p, "      - ConsoleLogin%d\n", i);
  OC_CHECK_INT(m(d), 0);
}

static void test_strings(void) {
  OC_CHECK_INT(m1("Key: mixed", "Contains", "Value: \"LLo W\""), 1);
  OC_CHECK_INT(m1("Key: mixed", "Contains", "Value: llo"), 0);
  OC_CHECK_INT(m1("Key: mixed", "IContains", "Value: llo w"), 1);
  OC_CHECK_INT(m1("Key: mixed", "DoesNotContain", "Value: xyz"), 1);
  OC_CHECK_INT(m1("Key: mixed", "DoesNotContain", "Value: World"), 0);
  OC_CHECK_INT(m1("Key: missing", "DoesNotContain", "Value: World"), 1);
  /* Contains on an array: an element equals. */
  OC_CHECK_INT(m1("Key: tags", "Contains", "Value: prod"), 1);
  OC_CHECK_INT(m1("Key: tags", "Contains", "Value: pro"), 0);
  OC_CHECK_INT(m1("Key: tags", "DoesNotContain", "Value: dev"), 1);
  OC_CHECK_INT(m1("Key: tags", "IContains", "Value: PCI"), 1);
  OC_CHECK_INT(m1("Key: port", "Contains", "Value: 4"), 0); /* numbers are not strings */
  OC_CHECK_INT(m1("Key: mixed", "StartsWith", "Value: HeLLo"), 1);
  OC_CHECK_INT(m1("Key: mixed", "StartsWith", "Value: hello"), 0);
  OC_CHECK_INT(m1("Key: mixed", "IStartsWith", "Value: hello"), 1);
  OC_CHECK_INT(m1("Key: mixed", "DoesNotStartWith", "Value: World"), 1);
  OC_CHECK_INT(m1("Key: mixed", "EndsWith", "Value: World"), 1);
  OC_CHECK_INT(m1("Key: mixed", "EndsWith", "Value: world"), 0);
  OC_CHECK_INT(m1("Key: mixed", "IEndsWith", "Value: WORLD"), 1);
  OC_CHECK_INT(m1("Key: mixed", "DoesNotEndWith", "Value: World"), 0);
  OC_CHECK_INT(m1("Key: mixed", "EndsWith", "Value: \"a longer value than the string\""), 0);
  OC_CHECK_INT(m1("Key: empty", "StartsWith", "Value: \"\""), 1);
}

static void test_presence(void) {
  OC_CHECK_INT(m1("Key: nothing", "Exists", NULL), 1);
  OC_CHECK_INT(m1("Key: missing", "Exists", NULL), 0);
  OC_CHECK_INT(m1("Key: missing", "DoesNotExist", NULL), 1);
  OC_CHECK_INT(m1("Key: nothing", "DoesNotExist", NULL), 0);
  OC_CHECK_INT(m1("Key: nothing", "IsNull", NULL), 1);
  OC_CHECK_INT(m1("Key: missing", "IsNull", NULL), 1);
  OC_CHECK_INT(m1("Key: empty", "IsNull", NULL), 0);
  OC_CHECK_INT(m1("Key: port", "IsNotNull", NULL), 1);
  OC_CHECK_INT(m1("Key: nothing", "IsNotNull", NULL), 0);
  OC_CHECK_INT(m1("Key: missing", "IsNotNull", NULL), 0);
  static const char *empties[] = {"empty", "emptyArr", "emptyObj", "missing", "nothing"};
  for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
    char spec[64];
    snprintf(spec, sizeof(spec), "Key: %s", empties[i]);
    OC_CHECK_INT(m1(spec, "IsNullOrEmpty", NULL), 1);
    OC_CHECK_INT(m1(spec, "IsNotNullOrEmpty", NULL), 0);
  }
  OC_CHECK_INT(m1("Key: port", "IsNullOrEmpty", NULL), 0);
  OC_CHECK_INT(m1("Key: off", "IsNullOrEmpty", NULL), 0);
  OC_CHECK_INT(m1("Key: tags", "IsNotNullOrEmpty", NULL), 1);
}

static void test_numbers(void) {
  OC_CHECK_INT(m1("Key: port", "GreaterThan", "Value: 400"), 1);
  OC_CHECK_INT(m1("Key: port", "GreaterThan", "Value: 443"), 0);
  OC_CHECK_INT(m1("Key: port", "GreaterThanOrEqual", "Value: 443"), 1);
  OC_CHECK_INT(m1("Key: port", "LessThan", "Value: 1000"), 1);
  OC_CHECK_INT(m1("Key: port", "LessThanOrEqual", "Value: 442"), 0);
  OC_CHECK_INT(m1("Key: ratio", "LessThan", "Value: 1"), 1);
  OC_CHECK_INT(m1("Key: ratio", "IsGreaterThan", "Value: 0.25"), 1);
  OC_CHECK_INT(m1("Key: count", "GreaterThan", "Value: 10"), 1); /* numeric string */
  OC_CHECK_INT(m1("Key: eventName", "GreaterThan", "Value: 1"), 0);
  OC_CHECK_INT(m1("Key: missing", "LessThan", "Value: 1"), 0);
  OC_CHECK_INT(m1("Key: neg", "LessThan", "Value: 0"), 1);
  OC_CHECK_INT(m1("Key: port", "GreaterThan", "Value: abc"), -1); /* rejected at load */
}

static void test_key_paths(void) {
  OC_CHECK_INT(m1("KeyPath: resources[*].type", "Equals", "Value: AWS::IAM::Role"), 1);
  OC_CHECK_INT(m1("KeyPath: resources[*].type", "Equals", "Value: AWS::EC2::Instance"), 0);
  OC_CHECK_INT(m1("KeyPath: resources[0].type", "Equals", "Value: AWS::IAM::Role"), 0);
  OC_CHECK_INT(m1("KeyPath: resources[1].type", "Equals", "Value: AWS::IAM::Role"), 1);
  OC_CHECK_INT(m1("KeyPath: resources.1.type", "Equals", "Value: AWS::IAM::Role"), 1);
  OC_CHECK_INT(m1("KeyPath: resources[7].type", "Exists", NULL), 0);
  OC_CHECK_INT(m1("KeyPath: resources[*].ARN", "StartsWith", "Value: \"arn:aws:iam\""), 1);
  /* Negation is of the whole "any": no element equals. */
  OC_CHECK_INT(m1("KeyPath: resources[*].type", "DoesNotEqual", "Value: AWS::IAM::Role"), 0);
  OC_CHECK_INT(m1("KeyPath: resources[*].type", "DoesNotEqual", "Value: Other"), 1);
  OC_CHECK_INT(m1("KeyPath: resources[*].missing", "IsNull", NULL), 1);
  OC_CHECK_INT(m1("KeyPath: resources[*].type", "Exists", NULL), 1);
  OC_CHECK_INT(m1("KeyPath: emptyArr[*].type", "Exists", NULL), 0);
  OC_CHECK_INT(m1("KeyPath: eventName[*]", "Exists", NULL), 0); /* not an array */
  OC_CHECK_INT(m1("KeyPath: obj.k[1]", "Equals", "Value: 2"), 1);
  OC_CHECK_INT(m1("KeyPath: obj.k", "Contains", "Value: 1"), 1);
  OC_CHECK_INT(m1("KeyPath: requestParameters.ipPermissions.items[*].ipRanges.items[*].cidrIp",
                  "Equals", "Value: 0.0.0.0/0"),
               1);
  /* Malformed paths are load errors. */
  OC_CHECK_INT(m1("KeyPath: a..b", "Exists", NULL), -1);
  OC_CHECK_INT(m1("KeyPath: a[x]", "Exists", NULL), -1);
  OC_CHECK_INT(m1("KeyPath: \"a[0\"", "Exists", NULL), -1);
}

static void test_deep_key(void) {
  OC_CHECK_INT(m("  - DeepKey: [requestParameters, ipPermissions, items, ipRanges, items, cidrIp]\n"
                 "    Condition: Equals\n    Value: 0.0.0.0/0\n"),
               1);
  OC_CHECK_INT(m("  - DeepKey: [requestParameters, ipPermissions, items, ipRanges, items, cidrIp]\n"
                 "    Condition: Contains\n    Value: \"0.0.0.0/0\"\n"),
               1);
  OC_CHECK_INT(m("  - DeepKey: [requestParameters, ipPermissions, items, ipRanges, items, cidrIp]\n"
                 "    Condition: Equals\n    Value: 192.168.0.0/16\n"),
               0);
  OC_CHECK_INT(m("  - DeepKey: [userIdentity, type]\n    Condition: Equals\n    Value: Root\n"), 1);
  OC_CHECK_INT(
      m("  - DeepKey: [resources, type]\n    Condition: Equals\n    Value: AWS::S3::Bucket\n"), 1);
  /* A final array is walked into too. */
  OC_CHECK_INT(m("  - DeepKey: [tags]\n    Condition: Equals\n    Value: pci\n"), 1);
  OC_CHECK_INT(m("  - DeepKey: [userIdentity, nope]\n    Condition: DoesNotExist\n"), 1);
  OC_CHECK_INT(m("  - DeepKey: []\n    Condition: Exists\n"), -1);
}

static void test_combinators(void) {
  const char *t1 =
      "      - Key: eventName\n        Condition: Equals\n        Value: ConsoleLogin\n";
  const char *t2 =
      "      - KeyPath: userIdentity.type\n        Condition: Equals\n        Value: Root\n";
  const char *f1 = "      - Key: eventName\n        Condition: Equals\n        Value: Nope\n";
  const char *f2 = "      - Key: port\n        Condition: LessThan\n        Value: 10\n";
  char d[4096];
#define COMB(op, a, b) (snprintf(d, sizeof(d), "  - " op ":\n%s%s", a, b), m(d))
  OC_CHECK_INT(COMB("All", t1, t2), 1);
  OC_CHECK_INT(COMB("All", t1, f1), 0);
  OC_CHECK_INT(COMB("Any", f1, t2), 1);
  OC_CHECK_INT(COMB("Any", f1, f2), 0);
  OC_CHECK_INT(COMB("OnlyOne", t1, f1), 1);
  OC_CHECK_INT(COMB("OnlyOne", t1, t2), 0);
  OC_CHECK_INT(COMB("OnlyOne", f1, f2), 0);
  OC_CHECK_INT(COMB("None", f1, f2), 1);
  OC_CHECK_INT(COMB("None", f1, t2), 0);
#undef COMB
  /* A bare list is an implicit All; nesting works at any depth. */
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n"
                 "  - Key: port\n    Condition: Equals\n    Value: 80\n"),
               0);
  OC_CHECK_INT(m("  - Any:\n"
                 "      - All:\n"
                 "          - Key: eventName\n            Condition: Equals\n            Value: X\n"
                 "      - All:\n"
                 "          - Key: eventName\n            Condition: Equals\n"
                 "            Value: ConsoleLogin\n"
                 "          - None:\n"
                 "              - Key: flag\n                Condition: Equals\n"
                 "                Value: false\n"
                 "              - OnlyOne:\n"
                 "                  - Key: port\n                    Condition: Equals\n"
                 "                    Value: 443\n"
                 "                  - Key: ratio\n                    Condition: Equals\n"
                 "                    Value: 0.5\n"),
               1);
  /* Detection as a single mapping (not a list). */
  OC_CHECK_INT(
      m("  Any:\n    - Key: eventName\n      Condition: Equals\n      Value: ConsoleLogin\n"), 1);
}

/* Load errors: the reason and the line of the offending node. */
static void expect_error(const char *body, int want_line, const char *want_text) {
  oc_rule_t *rule = NULL;
  char err[512] = "";
  int line = -1;
  oc_rule_status_t st = load(body, &rule, &line, err, sizeof(err));
  OC_CHECK_INT(st, OC_RULE_ERROR);
  OC_CHECK(rule == NULL);
  if (want_line >= 0 && line != want_line) fprintf(stderr, "(line %d) %s\n", line, err);
  if (want_line >= 0) OC_CHECK_INT(line, want_line);
  if (!strstr(err, want_text)) {
    fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want_text);
    OC_CHECK(0);
  }
  oc_rule_destroy(rule);
}

static void test_load_errors(void) {
  /* HEAD is four lines: Detection starts on line 5. */
  expect_error("Detection:\n  - Key: eventName\n    Condition: Equal\n    Value: x\n", 7,
               "unknown condition \"Equal\"");
  expect_error("Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: [a, b]\n", 8,
               "Value must be a scalar");
  expect_error("Detection:\n  - Key: eventName\n    Condition: IsIn\n    Value: a\n", 8,
               "needs Values");
  expect_error("Detection:\n  - Key: eventName\n    Condition: Equals\n", 6, "needs a Value");
  expect_error("Detection:\n  - Key: a\n    KeyPath: b\n    Condition: Exists\n", 6, "only one of");
  expect_error("Detection:\n  - Condition: Exists\n", 6, "without Key");
  expect_error("Detection:\n  - Key: a\n    Condition: Exists\n    Colour: red\n", 8,
               "unknown key \"Colour\"");
  expect_error("Detection:\n  - All: []\n", 6, "All is an empty list");
  expect_error("Detection:\n  - Key: a\n    Condition: Exists\n    Value: 1\n", 8,
               "takes no Value");
  expect_error("Detection:\n  - Any:\n      - Key: a\n        Condition: Exists\n    Key: b\n", 6,
               "only key");
  expect_error("Detection: []\n", 5, "empty list");
  expect_error("Detection: yes\n", 5, "expected a match expression");
  expect_error("Detection:\n  - - Key: a\n      Condition: Exists\n", 6, "found a list");
  expect_error("Severity2: x\n", -1, "missing Detection");
  expect_error("DedupPeriodMinutes: soon\nDetection:\n  - Key: a\n    Condition: Exists\n", 5,
               "DedupPeriodMinutes must be an integer");
  expect_error("Threshold: 0\nDetection:\n  - Key: a\n    Condition: Exists\n", 5,
               "Threshold must be between 1");
  expect_error("Enabled: maybe\nDetection:\n  - Key: a\n    Condition: Exists\n", 5,
               "Enabled must be true or false");
  expect_error("AlertTitle: \"Login {eventName\"\nDetection:\n  - Key: a\n    Condition: Exists\n",
               5, "unterminated placeholder");
  expect_error("GroupBy: [{Colour: x}]\nDetection:\n  - Key: a\n    Condition: Exists\n", 5,
               "GroupBy entries take");
  expect_error("Detection:\n  - Key: a\n    Condition: Exists\n  bad: [\n", 8, "YAML syntax error");
  expect_error("Detection:\n  - Key: a\n    Condition: Exists\n---\nRuleID: x\n", 0,
               "more than one YAML document");

  /* Whole documents without HEAD. */
  struct {
    const char *text;
    int line;
    const char *want;
  } docs[] = {
      {"LogTypes: [A]\nSeverity: Low\nDetection:\n  - Key: a\n    Condition: Exists\n", 0,
       "missing RuleID"},
      {"RuleID: x\nSeverity: Low\nDetection:\n  - Key: a\n    Condition: Exists\n", 0,
       "missing LogTypes"},
      {"RuleID: x\nLogTypes: [A]\nDetection:\n  - Key: a\n    Condition: Exists\n", 0,
       "missing Severity"},
      {"RuleID: x\nLogTypes: [A]\nSeverity: Urgent\nDetection:\n  - Key: a\n    Condition: "
       "Exists\n",
       3, "Severity must be one of"},
      {"RuleID: [x]\nLogTypes: [A]\nSeverity: Low\nDetection:\n  - Key: a\n    Condition: Exists\n",
       1, "RuleID must be a string"},
      {"RuleID: x\nLogTypes: {a: b}\nSeverity: Low\nDetection:\n  - Key: a\n    Condition: "
       "Exists\n",
       2, "LogTypes must be a list"},
      {"RuleID: x\nRuleID: y\nLogTypes: [A]\nSeverity: Low\nDetection: []\n", 2, "duplicate key"},
      {"- just\n- a list\n", 1, "must be a mapping"},
      {"", 0, "empty document"},
      {"RuleID: \"unterminated\nLogTypes: [A]\n", 3, "YAML syntax error"},
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    oc_rule_t *rule = NULL;
    char err[512] = "";
    int line = -1;
    oc_rule_status_t st = oc_rule_parse(docs[i].text, strlen(docs[i].text), "t.yml", NULL, NULL,
                                        NULL, &rule, &line, err, sizeof(err));
    OC_CHECK_INT(st, OC_RULE_ERROR);
    if (docs[i].line) OC_CHECK_INT(line, docs[i].line);
    if (!strstr(err, docs[i].want)) {
      fprintf(stderr, "doc %zu: error \"%s\" lacks \"%s\"\n", i, err, docs[i].want);
      OC_CHECK(0);
    }
  }

  /* Self-referencing aliases and deep nesting are bounded. */
  char deep[8192], *p = deep;
  p += sprintf(p, "Detection:\n");
  for (int i = 0; i < 40; i++)
    p += sprintf(p, "%*s- Any:\n", 2 + i * 4, "");
  p += sprintf(p, "%*s- Key: a\n%*sCondition: Exists\n", 2 + 40 * 4, "", 4 + 40 * 4, "");
  expect_error(deep, -1, "nested deeper than");
  expect_error("Detection: &a\n  - Any: *a\n", -1, "");
}

static void test_metadata(void) {
  const char *text =
      "AnalysisType: rule\nRuleID: AWS.Test\nDisplayName: A test\nEnabled: false\n"
      "LogTypes:\n  - AWS.CloudTrail\n  - AWS.S3ServerAccess\nSeverity: critical\n"
      "DedupPeriodMinutes: 15\nThreshold: 5\nDescription: |\n  Two\n  lines\n"
      "Reference: https://example.com\nRunbook: Do things.\nTags: [a, b]\n"
      "OutputIds: [hook-1, hook-2]\nTests:\n  - Name: ignored\n    Log: {}\n"
      "Detection:\n  - Key: a\n    Condition: Exists\n";
  oc_rule_t *rule = NULL;
  char err[512];
  int line;
  OC_CHECK_INT(
      oc_rule_parse(text, strlen(text), "m.yml", NULL, NULL, NULL, &rule, &line, err, sizeof(err)),
      OC_RULE_OK);
  if (!rule) return;
  OC_CHECK_STR(rule->id, "AWS.Test");
  OC_CHECK_STR(rule->display_name, "A test");
  OC_CHECK(!rule->enabled);
  OC_CHECK_INT(rule->nlog_types, 2);
  OC_CHECK_STR(rule->log_types[1], "AWS.S3ServerAccess");
  OC_CHECK_STR(rule->severity, "CRITICAL");
  OC_CHECK_INT(rule->dedup_period_minutes, 15);
  OC_CHECK_INT(rule->threshold, 5);
  OC_CHECK_STR(rule->description, "Two\nlines\n");
  OC_CHECK_STR(rule->reference, "https://example.com");
  OC_CHECK_STR(rule->runbook, "Do things.");
  OC_CHECK_INT(rule->ntags, 2);
  OC_CHECK_INT(rule->ndestinations, 2);
  OC_CHECK_STR(rule->destinations[1], "hook-2");
  OC_CHECK_STR(rule->origin, "m.yml");
  OC_CHECK_INT(strlen(rule->version), 32); /* a hash of the text */
  char *v1 = strdup(rule->version);
  oc_rule_destroy(rule);

  /* Same text, same version; one byte more, another; an explicit version wins. */
  oc_rule_parse(text, strlen(text), "m.yml", NULL, NULL, NULL, &rule, &line, err, sizeof(err));
  OC_CHECK_STR(rule->version, v1);
  oc_rule_destroy(rule);
  char text2[4096];
  snprintf(text2, sizeof(text2), "%s# comment\n", text);
  oc_rule_parse(text2, strlen(text2), "m.yml", NULL, NULL, NULL, &rule, &line, err, sizeof(err));
  OC_CHECK(strcmp(rule->version, v1) != 0);
  oc_rule_destroy(rule);
  oc_rule_parse(text, strlen(text), "m.yml", "7", NULL, NULL, &rule, &line, err, sizeof(err));
  OC_CHECK_STR(rule->version, "7");
  oc_rule_destroy(rule);
  free(v1);

  /* Defaults. */
  OC_CHECK_INT(
      load("Detection:\n  - Key: a\n    Condition: Exists\n", &rule, &line, err, sizeof(err)),
      OC_RULE_OK);
  OC_CHECK(rule->enabled);
  OC_CHECK_INT(rule->dedup_period_minutes, 60);
  OC_CHECK_INT(rule->threshold, 1);
  OC_CHECK_STR(rule->severity, "LOW");
  OC_CHECK_STR(rule->description, "");
  OC_CHECK(rule->title == NULL);
  oc_rule_destroy(rule);

  /* Python rules and other analysis types are skipped, not errors. */
  const char *py =
      "AnalysisType: rule\nFilename: root_login.py\nRuleID: Py.Rule\n"
      "LogTypes: [AWS.CloudTrail]\nSeverity: High\n";
  OC_CHECK_INT(
      oc_rule_parse(py, strlen(py), "p.yml", NULL, NULL, NULL, &rule, &line, err, sizeof(err)),
      OC_RULE_PYTHON);
  OC_CHECK(rule == NULL);
  OC_CHECK(strstr(err, "a Python rule: it runs from a pack") != NULL);
  const char *pol = "AnalysisType: policy\nPolicyID: P\nResourceTypes: [AWS.S3.Bucket]\n";
  OC_CHECK_INT(
      oc_rule_parse(pol, strlen(pol), "p.yml", NULL, NULL, NULL, &rule, &line, err, sizeof(err)),
      OC_RULE_NOT_A_RULE);
  /* A table row without RuleID takes the row id. */
  const char *noid =
      "LogTypes: [A]\nSeverity: Info\nDetection:\n  - Key: a\n    Condition: Exists\n";
  OC_CHECK_INT(
      oc_rule_parse(noid, strlen(noid), "row", "3", "Row.Id", NULL, &rule, &line, err, sizeof(err)),
      OC_RULE_OK);
  OC_CHECK_STR(rule->id, "Row.Id");
  OC_CHECK_STR(rule->severity, "INFO");
  oc_rule_destroy(rule);

  /* InlineFilters must hold as well as Detection. */
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n"
                 "InlineFilters:\n  - Key: port\n    Condition: Equals\n    Value: 80\n"),
               0);
  OC_CHECK_INT(m("  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n"
                 "InlineFilters:\n  - Key: port\n    Condition: Equals\n    Value: 443\n"),
               1);
}

/* Title of a template against EVENT. */
static char *title_of(const char *tmpl) {
  static char out[2048];
  char err[256];
  oc_arena_t a;
  oc_buf_t b;
  oc_arena_init(&a, 4096);
  oc_buf_init(&b);
  oc_title_t *t = oc_title_compile(&a, NULL, tmpl, strlen(tmpl), err, sizeof(err));
  if (!t) {
    snprintf(out, sizeof(out), "ERROR: %s", err);
  } else {
    oc_det_ctx_t *ctx = oc_det_ctx_new(NULL);
    oc_det_ctx_set_event(ctx, event);
    oc_title_render(t, ctx, &b);
    snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
    oc_det_ctx_destroy(ctx);
  }
  oc_buf_deinit(&b);
  oc_arena_deinit(&a);
  return out;
}

static void test_titles(void) {
  OC_CHECK_STR(title_of("Root console login in account {recipientAccountId}"),
               "Root console login in account 123456789012");
  OC_CHECK_STR(title_of("{userIdentity.userName} ({userIdentity.type})"), "alice (Root)");
  OC_CHECK_STR(title_of("MFA: {userIdentity.sessionContext.attributes.mfaAuthenticated}"),
               "MFA: false");
  OC_CHECK_STR(title_of("user {userIdentity.arn}"), "user <missing>");
  OC_CHECK_STR(title_of("null {nothing}"), "null <missing>");
  OC_CHECK_STR(title_of("port {port}, ratio {ratio}, flag {flag}, off {off}"),
               "port 443, ratio 0.5, flag true, off false");
  OC_CHECK_STR(title_of("{ resources[*].type }"), "AWS::S3::Bucket");
  OC_CHECK_STR(title_of("{resources[1].ARN}"), "arn:aws:iam::1:role/x");
  OC_CHECK_STR(title_of("{obj}"), "{\"k\":[1,2]}");
  OC_CHECK_STR(title_of("{tags}"), "[\"prod\",\"pci\"]");
  OC_CHECK_STR(title_of("literal {{braces}} and }"), "literal {braces} and }");
  OC_CHECK_STR(title_of("no placeholders"), "no placeholders");
  OC_CHECK_STR(title_of(""), "");
  OC_CHECK(strncmp(title_of("bad {eventName"), "ERROR:", 6) == 0);
  OC_CHECK(strncmp(title_of("bad {}"), "ERROR:", 6) == 0);
  OC_CHECK(strncmp(title_of("bad {a..b}"), "ERROR:", 6) == 0);

  /* Long titles are cut at OC_TITLE_MAX bytes on a character boundary. */
  char tmpl[3000];
  size_t n = 0;
  tmpl[n++] = 'x';
  while (n + 2 < 2100) {
    tmpl[n++] = (char)0xc3; /* é */
    tmpl[n++] = (char)0xa9;
  }
  tmpl[n] = '\0';
  char *t = title_of(tmpl);
  OC_CHECK(strlen(t) <= OC_TITLE_MAX);
  OC_CHECK(strlen(t) >= OC_TITLE_MAX - 1);
  OC_CHECK_INT(oc_utf8_valid_prefix(t, strlen(t)), strlen(t));
}

static char *dedup_of(const char *body) {
  static char out[2048];
  oc_rule_t *rule = NULL;
  char err[512];
  int line;
  oc_buf_t title, dedup;
  if (load(body, &rule, &line, err, sizeof(err)) != OC_RULE_OK) {
    snprintf(out, sizeof(out), "ERROR: %s", err);
    return out;
  }
  oc_buf_init(&title);
  oc_buf_init(&dedup);
  oc_det_ctx_t *ctx = oc_det_ctx_new(NULL);
  oc_det_ctx_set_event(ctx, event);
  oc_rule_render_title(rule, ctx, &title);
  oc_rule_render_dedup(rule, ctx, title.data ? title.data : "", title.len, &dedup);
  snprintf(out, sizeof(out), "%s|%s", title.data ? title.data : "", dedup.data ? dedup.data : "");
  oc_det_ctx_destroy(ctx);
  oc_buf_deinit(&title);
  oc_buf_deinit(&dedup);
  oc_rule_destroy(rule);
  return out;
}

static void test_dedup(void) {
  const char *det = "Detection:\n  - Key: eventName\n    Condition: Exists\n";
  char body[1024];
  /* No AlertTitle: title is the DisplayName, else the RuleID; dedup the default string. */
  snprintf(body, sizeof(body), "%s", det);
  OC_CHECK_STR(dedup_of(body), "Test.Rule|defaultDedupString:Test.Rule");
  snprintf(body, sizeof(body), "DisplayName: Root Login\n%s", det);
  OC_CHECK_STR(dedup_of(body), "Root Login|defaultDedupString:Test.Rule");
  /* AlertTitle: the dedup is the title. */
  snprintf(body, sizeof(body), "AlertTitle: \"Login by {userIdentity.userName}\"\n%s", det);
  OC_CHECK_STR(dedup_of(body), "Login by alice|Login by alice");
  /* GroupBy: the joined values, absent ones as <missing>. */
  snprintf(body, sizeof(body),
           "AlertTitle: \"Login by {userIdentity.userName}\"\n"
           "GroupBy:\n  - Key: recipientAccountId\n  - KeyPath: userIdentity.type\n"
           "  - KeyPath: userIdentity.arn\n  - DeepKey: [resources, type]\n%s",
           det);
  OC_CHECK_STR(dedup_of(body), "Login by alice|123456789012:Root:<missing>:AWS::S3::Bucket");
}

/* ---- IP conditions, absolute, list and multi-key expressions ----------------------- */

static const char *EVENT2 =
    "{\"src\":\"10.1.2.3\",\"pub\":\"8.8.8.8\",\"v6\":\"2001:db8::1\",\"ula\":\"fd12::1\","
    "\"ll\":\"fe80::1\",\"mapped\":\"::ffff:192.168.1.1\",\"bad\":\"300.1.1.1\","
    "\"notip\":\"hello\",\"num\":17,\"loop\":\"127.0.0.1\",\"cg\":\"100.64.3.4\","
    "\"mc\":\"224.0.0.1\",\"zero\":\"0.0.0.0\",\"doc\":\"203.0.113.5\","
    "\"v6pub\":\"2606:4700::1111\",\"spaced\":\" 8.8.8.8\",\"cidrtext\":\"10.0.0.0/8\","
    "\"ips\":[\"10.0.0.1\",\"8.8.4.4\"],\"name\":\"root\","
    "\"items\":[{\"name\":\"a\",\"port\":22,\"cidr\":\"0.0.0.0/0\"},"
    "{\"name\":\"b\",\"port\":443,\"cidr\":\"10.0.0.0/8\"}],"
    "\"emptyList\":[],\"matrix\":[{\"inner\":[{\"v\":1}]},{\"inner\":[{\"v\":2}]}],"
    "\"pairs\":[{\"v\":3,\"w\":3},{\"v\":9,\"w\":1}],"
    "\"a\":5,\"b\":7,\"sa\":\"5\",\"nine\":9,\"s1\":\"Hello\",\"s2\":\"hello\",\"s3\":\"ell\","
    "\"arn\":\"arn:aws:iam::123:user/bob\",\"user\":\"bob\",\"nested\":{\"x\":5},"
    "\"list2\":[{\"v\":3},{\"v\":9}],\"t\":true,\"t2\":true,\"n1\":null,\"n2\":null}";
static oc_json_t *event2;

static int m2(const char *detection) {
  return eval_on(detection, event2);
}

static int ip(const char *key, const char *cond) {
  char d[512];
  snprintf(d, sizeof(d), "  - Key: %s\n    Condition: %s\n", key, cond);
  return m2(d);
}

static int cidr(const char *key, const char *cond, const char *value_line) {
  char d[512];
  snprintf(d, sizeof(d), "  - KeyPath: %s\n    Condition: %s\n    %s\n", key, cond, value_line);
  return m2(d);
}

static void test_ip_conditions(void) {
  OC_CHECK_INT(ip("src", "IsIPAddress"), 1);
  OC_CHECK_INT(ip("v6", "IsIPAddress"), 1);
  OC_CHECK_INT(ip("mapped", "IsIPAddress"), 1);
  OC_CHECK_INT(ip("bad", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("notip", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("num", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("spaced", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("cidrtext", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("absent", "IsIPAddress"), 0);
  OC_CHECK_INT(ip("src", "IsIPv4Address"), 1);
  OC_CHECK_INT(ip("src", "isipaddressipv4"), 1); /* alias, names any case */
  OC_CHECK_INT(ip("v6", "IsIPv4Address"), 0);
  OC_CHECK_INT(ip("mapped", "IsIPv4Address"), 0);
  OC_CHECK_INT(ip("v6", "IsIPv6Address"), 1);
  OC_CHECK_INT(ip("mapped", "IsIPv6Address"), 1);
  OC_CHECK_INT(ip("src", "IsIPv6Address"), 0);
  OC_CHECK_INT(ip("notip", "IsIPv6Address"), 0);

  const char *priv[] = {"src", "loop", "cg", "ula", "ll", "mapped"};
  for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
    OC_CHECK_INT(ip(priv[i], "IsIPAddressPrivate"), 1);
    OC_CHECK_INT(ip(priv[i], "IsIPAddressPublic"), 0);
  }
  const char *pub[] = {"pub", "v6pub", "doc", "v6"};
  for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
    OC_CHECK_INT(ip(pub[i], "IsIPAddressPublic"), 1);
    OC_CHECK_INT(ip(pub[i], "IsIPAddressPrivate"), 0);
  }
  const char *neither[] = {"mc", "zero", "notip", "absent", "num"};
  for (size_t i = 0; i < sizeof(neither) / sizeof(neither[0]); i++) {
    OC_CHECK_INT(ip(neither[i], "IsIPAddressPublic"), 0);
    OC_CHECK_INT(ip(neither[i], "IsIPAddressPrivate"), 0);
  }

  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.0.0.0/8"), 1);
  OC_CHECK_INT(cidr("pub", "IsIPAddressInCIDR", "Value: 10.0.0.0/8"), 0);
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.1.2.3/8"), 1); /* host bits */
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.1.0.0/17"), 1);
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.1.128.0/17"), 0);
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.1.2.3"), 1); /* bare = /32 */
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 10.1.2.4"), 0);
  OC_CHECK_INT(cidr("pub", "IsIPAddressInCIDR", "Value: 0.0.0.0/0"), 1);
  OC_CHECK_INT(cidr("v6", "IsIPAddressInCIDR", "Value: 0.0.0.0/0"), 0);
  OC_CHECK_INT(cidr("v6", "IsIPAddressInCIDR", "Value: 2001:db8::/32"), 1);
  OC_CHECK_INT(cidr("v6", "IsIPAddressInCIDR", "Value: 2001:db9::/32"), 0);
  OC_CHECK_INT(cidr("src", "IsIPAddressInCIDR", "Value: 2001:db8::/32"), 0);
  OC_CHECK_INT(cidr("mapped", "IsIPAddressInCIDR", "Values: [10.0.0.0/8, 192.168.0.0/16]"), 1);
  OC_CHECK_INT(cidr("pub", "IsIPAddressInCIDR", "Values: [10.0.0.0/8, 192.168.0.0/16]"), 0);
  OC_CHECK_INT(cidr("pub", "IsIPAddressInCIDR", "Values: [10.0.0.0/8, \"8.8.8.0/24\"]"), 1);
  OC_CHECK_INT(cidr("ips[*]", "IsIPAddressInCIDR", "Value: 8.8.0.0/16"), 1); /* any element */
  OC_CHECK_INT(cidr("ips[0]", "IsIPAddressInCIDR", "Value: 8.8.0.0/16"), 0);
  OC_CHECK_INT(cidr("notip", "IsIPAddressInCIDR", "Value: 0.0.0.0/0"), 0);
  OC_CHECK_INT(cidr("src", "IsIPAddressNotInCIDR", "Value: 10.0.0.0/8"), 0);
  OC_CHECK_INT(cidr("pub", "IsIPAddressNotInCIDR", "Value: 10.0.0.0/8"), 1);
  OC_CHECK_INT(cidr("absent", "IsIPAddressNotInCIDR", "Value: 10.0.0.0/8"), 1);
  OC_CHECK_INT(cidr("notip", "IsIPAddressNotInCIDR", "Value: 10.0.0.0/8"), 1);
  OC_CHECK_INT(cidr("pub", "IsIPAddressNotInCIDR", "Values: [10.0.0.0/8, 8.0.0.0/7]"), 0);
}

static void test_absolute(void) {
  OC_CHECK_INT(m2("  - Condition: AlwaysTrue\n"), 1);
  OC_CHECK_INT(m2("  - Condition: AlwaysFalse\n"), 0);
  OC_CHECK_INT(m2("  - Any:\n      - Condition: AlwaysFalse\n      - Key: user\n"
                  "        Condition: Equals\n        Value: bob\n"),
               1);
  OC_CHECK_INT(m2("  - Key: user\n    Condition: Equals\n    Value: bob\n"
                  "  - Condition: AlwaysFalse\n"),
               0);
  OC_CHECK_INT(m2("  - None:\n      - Condition: AlwaysFalse\n"), 1);
}

static void test_list_conditions(void) {
  const char *fmt = "  - Key: %s\n    Condition: %s\n    Expressions:\n%s";
  char d[2048];
#define LIST(key, cond, exprs) (snprintf(d, sizeof(d), fmt, key, cond, exprs), m2(d))
  const char *port22 = "      - Key: port\n        Condition: Equals\n        Value: 22\n";
  const char *port80 = "      - Key: port\n        Condition: Equals\n        Value: 80\n";
  const char *over20 = "      - Key: port\n        Condition: GreaterThan\n        Value: 20\n";
  const char *over100 = "      - Key: port\n        Condition: GreaterThan\n        Value: 100\n";
  OC_CHECK_INT(LIST("items", "AnyElement", port22), 1);
  OC_CHECK_INT(LIST("items", "AnyElement", port80), 0);
  OC_CHECK_INT(LIST("items", "AllElements", over20), 1);
  OC_CHECK_INT(LIST("items", "AllElements", over100), 0);
  OC_CHECK_INT(LIST("items", "OnlyOneElement", over100), 1);
  OC_CHECK_INT(LIST("items", "OnlyOneElement", over20), 0);
  OC_CHECK_INT(LIST("items", "OnlyOneElement", port80), 0);
  OC_CHECK_INT(LIST("items", "NoElement", port80), 1);
  OC_CHECK_INT(LIST("items", "NoElement", port22), 0);
  /* Several expressions hold for one element (an implicit All per element). */
  OC_CHECK_INT(LIST("items", "AnyElement",
                    "      - Key: name\n        Condition: Equals\n        Value: a\n"
                    "      - Key: port\n        Condition: Equals\n        Value: 443\n"),
               0);
  OC_CHECK_INT(LIST("items", "AnyElement",
                    "      - Key: name\n        Condition: Equals\n        Value: b\n"
                    "      - Key: port\n        Condition: Equals\n        Value: 443\n"),
               1);
  /* Keys are relative to the element, even when the event has a member of that name
   * (and the key cache must not answer for the element). */
  OC_CHECK_INT(LIST("items", "AnyElement",
                    "      - Key: name\n        Condition: Equals\n        Value: root\n"),
               0);
  OC_CHECK_INT(LIST("items", "AnyElement", "      - Key: user\n        Condition: Exists\n"), 0);
  OC_CHECK_INT(LIST("items", "AnyElement",
                    "      - Key: cidr\n        Condition: Equals\n        Value: 0.0.0.0/0\n"),
               1);
  /* Absent, not an array, empty. */
  OC_CHECK_INT(LIST("absent", "AnyElement", port22), 0);
  OC_CHECK_INT(LIST("absent", "AllElements", port22), 0);
  OC_CHECK_INT(LIST("absent", "NoElement", port22), 1);
  OC_CHECK_INT(LIST("user", "AnyElement", port22), 0);
  OC_CHECK_INT(LIST("emptyList", "AllElements", port22), 1);
  OC_CHECK_INT(LIST("emptyList", "AnyElement", port22), 0);
  OC_CHECK_INT(LIST("emptyList", "OnlyOneElement", port22), 0);
  /* Nested lists and a combinator inside. */
  OC_CHECK_INT(LIST("matrix", "AnyElement",
                    "      - Key: inner\n        Condition: AnyElement\n        Expressions:\n"
                    "          - Key: v\n            Condition: Equals\n            Value: 2\n"),
               1);
  OC_CHECK_INT(LIST("matrix", "AllElements",
                    "      - Key: inner\n        Condition: AnyElement\n        Expressions:\n"
                    "          - Key: v\n            Condition: Equals\n            Value: 2\n"),
               0);
  OC_CHECK_INT(LIST("items", "AllElements",
                    "      - Any:\n          - Key: port\n            Condition: Equals\n"
                    "            Value: 22\n          - Key: name\n            Condition: Equals\n"
                    "            Value: b\n"),
               1);
  /* A multi-key comparison inside, per element. */
  const char *vw =
      "      - Condition: Equals\n        Values:\n          - Key: v\n"
      "          - Key: w\n";
  OC_CHECK_INT(LIST("pairs", "AnyElement", vw), 1);
  OC_CHECK_INT(LIST("pairs", "AllElements", vw), 0);
  /* After the list, the root is the event again. */
  snprintf(d, sizeof(d), fmt, "items", "AnyElement", port22);
  strcat(d, "  - Key: user\n    Condition: Equals\n    Value: bob\n");
  OC_CHECK_INT(m2(d), 1);
#undef LIST
}

static int multi(const char *cond, const char *k1, const char *k2) {
  char d[512];
  snprintf(d, sizeof(d), "  - Condition: %s\n    Values:\n      - %s\n      - %s\n", cond, k1, k2);
  return m2(d);
}

static void test_multi_key(void) {
  OC_CHECK_INT(multi("Equals", "Key: a", "Key: a"), 1);
  OC_CHECK_INT(multi("Equals", "Key: a", "Key: b"), 0);
  OC_CHECK_INT(multi("Equals", "Key: a", "Key: sa"), 1); /* 5 and "5" */
  OC_CHECK_INT(multi("Equals", "Key: t", "Key: t2"), 1);
  OC_CHECK_INT(multi("Equals", "Key: n1", "Key: n2"), 1);
  OC_CHECK_INT(multi("Equals", "Key: t", "Key: n1"), 0);
  OC_CHECK_INT(multi("Equals", "KeyPath: nested.x", "Key: a"), 1);
  OC_CHECK_INT(multi("Equals", "Key: a", "Key: missing"), 0);
  OC_CHECK_INT(multi("DoesNotEqual", "Key: a", "Key: b"), 1);
  OC_CHECK_INT(multi("DoesNotEqual", "Key: a", "Key: sa"), 0);
  OC_CHECK_INT(multi("DoesNotEqual", "Key: a", "Key: missing"), 1);
  OC_CHECK_INT(multi("GreaterThan", "Key: b", "Key: a"), 1);
  OC_CHECK_INT(multi("IsGreaterThan", "Key: a", "Key: b"), 0);
  OC_CHECK_INT(multi("LessThan", "Key: a", "Key: b"), 1);
  OC_CHECK_INT(multi("LessThanOrEqual", "Key: a", "Key: sa"), 1);
  OC_CHECK_INT(multi("GreaterThan", "Key: s1", "Key: a"), 0); /* not numeric */
  OC_CHECK_INT(multi("Equals", "Key: s1", "Key: s2"), 0);
  OC_CHECK_INT(multi("IEquals", "Key: s1", "Key: s2"), 1);
  OC_CHECK_INT(multi("IDoesNotEqual", "Key: s1", "Key: s2"), 0);
  OC_CHECK_INT(multi("Contains", "Key: s1", "Key: s3"), 1);
  OC_CHECK_INT(multi("Contains", "Key: s3", "Key: s1"), 0);
  OC_CHECK_INT(multi("EndsWith", "Key: arn", "Key: user"), 1);
  OC_CHECK_INT(multi("StartsWith", "Key: arn", "Key: user"), 0);
  OC_CHECK_INT(multi("IStartsWith", "Key: s2", "Key: s1"), 1);
  OC_CHECK_INT(multi("DoesNotEndWith", "Key: arn", "Key: user"), 0);
  /* Multi-valued keys: any pair. */
  OC_CHECK_INT(multi("Equals", "KeyPath: \"list2[*].v\"", "Key: nine"), 1);
  OC_CHECK_INT(multi("Equals", "DeepKey: [list2, v]", "Key: b"), 0);
  OC_CHECK_INT(multi("Equals", "DeepKey: [list2, v]", "DeepKey: [pairs, v]"), 1);
}

static void test_new_load_errors(void) {
  /* HEAD is four lines: "Detection:" is line 5, the first expression line 6. */
  expect_error(
      "Detection:\n  - Key: src\n    Condition: IsIPAddressInCIDR\n"
      "    Value: 10.0.0.0/33\n",
      8, "malformed CIDR \"10.0.0.0/33\"");
  expect_error(
      "Detection:\n  - Key: src\n    Condition: IsIPAddressNotInCIDR\n"
      "    Values:\n      - 10.0.0.0/8\n      - banana\n",
      10, "malformed CIDR \"banana\"");
  expect_error(
      "Detection:\n  - Key: src\n    Condition: IsIPAddressInCIDR\n"
      "    Values:\n      - [10.0.0.0/8]\n",
      9, "a CIDR must be a string");
  expect_error("Detection:\n  - Key: src\n    Condition: IsIPAddressInCIDR\n", 6, "needs a CIDR");
  expect_error("Detection:\n  - Key: src\n    Condition: IsIPAddress\n    Value: x\n", 8,
               "takes no Value");
  expect_error("Detection:\n  - Key: src\n    Condition: AlwaysTrue\n", 6, "takes no key");
  expect_error("Detection:\n  - Key: items\n    Condition: AnyElement\n", 6, "needs Expressions");
  expect_error(
      "Detection:\n  - Key: items\n    Condition: Equals\n    Value: 1\n"
      "    Expressions:\n      - Key: a\n        Condition: Exists\n",
      10, "takes no Expressions");
  expect_error(
      "Detection:\n  - Key: items\n    Condition: AllElements\n"
      "    Expressions: {Key: a}\n",
      8, "Expressions must be a list");
  expect_error(
      "Detection:\n  - Key: items\n    Condition: AnyElement\n    Expressions:\n"
      "      - Key: port\n        Condition: Equals\n        Value: 1\n"
      "      - Key: port\n        Condition: Equal\n        Value: 2\n",
      13, "unknown condition \"Equal\"");
  expect_error("Detection:\n  - Condition: Equals\n    Values:\n      - Key: a\n", 8,
               "exactly two keys");
  expect_error(
      "Detection:\n  - Condition: Equals\n    Values:\n      - Key: a\n      - Key: b\n"
      "      - Key: c\n",
      8, "exactly two keys");
  expect_error("Detection:\n  - Condition: IsIn\n    Values:\n      - Key: a\n      - Key: b\n", 8,
               "cannot compare two keys");
  expect_error(
      "Detection:\n  - Condition: Equals\n    Values:\n      - Key: a\n"
      "      - Nope: b\n",
      9, "take Key, KeyPath or DeepKey");
  expect_error(
      "Detection:\n  - Condition: Equals\n    Values:\n      - Key: a\n"
      "      - KeyPath: \"a..b\"\n",
      9, "malformed key path");
  expect_error("Detection:\n  - Condition: Equals\n    Values: [x, y]\n", 6,
               "without Key, KeyPath or DeepKey");
}

/* ---- AlertContext and DynamicSeverities -------------------------------------------- */

static oc_rule_t *load_ok(const char *body) {
  oc_rule_t *rule = NULL;
  char err[512];
  int line = 0;
  if (load(body, &rule, &line, err, sizeof(err)) != OC_RULE_OK) {
    fprintf(stderr, "load error (line %d): %s\n", line, err);
    return NULL;
  }
  return rule;
}

static const char *DET_ANY = "Detection:\n  - Condition: AlwaysTrue\n";

static void context_of(const char *ctxdef, const oc_json_t *ev, char *out, size_t size) {
  char body[4096];
  snprintf(body, sizeof(body), "%s%s", ctxdef, DET_ANY);
  out[0] = '\0';
  oc_rule_t *rule = load_ok(body);
  if (!rule) return;
  oc_det_ctx_t *ctx = oc_det_ctx_new(NULL);
  oc_det_ctx_set_event(ctx, ev);
  oc_buf_t b;
  oc_buf_init(&b);
  if (oc_rule_render_context(rule, ctx, &b))
    snprintf(out, size, "%s", b.data ? b.data : "");
  else
    snprintf(out, size, "(none)");
  oc_buf_deinit(&b);
  oc_det_ctx_destroy(ctx);
  oc_rule_destroy(rule);
}

static void test_alert_context(void) {
  char got[4096];
  context_of(
      "AlertContext:\n  user:\n    KeyPath: userIdentity.userName\n"
      "  port: {Key: port}\n  missing: {Key: nope}\n"
      "  types: {KeyPath: \"resources[*].type\"}\n  obj: {Key: obj}\n"
      "  kind: userIdentity.type\n  ports: {DeepKey: [requestParameters, ipPermissions, "
      "items, ipRanges, items, cidrIp]}\n  none: {KeyPath: \"nope[*]\"}\n",
      event, got, sizeof(got));
  OC_CHECK_STR(got,
               "{\"user\":\"alice\",\"port\":443,\"missing\":null,"
               "\"types\":[\"AWS::S3::Bucket\",\"AWS::IAM::Role\"],\"obj\":{\"k\":[1,2]},"
               "\"kind\":\"Root\",\"ports\":[\"10.0.0.0/8\",\"0.0.0.0/0\"],\"none\":[]}");
  /* Panther's list form. */
  context_of(
      "AlertContext:\n  - KeyName: account\n    KeyValue:\n      Key: recipientAccountId\n"
      "  - KeyName: mixed\n    KeyValue: {Key: mixed}\n",
      event, got, sizeof(got));
  OC_CHECK_STR(got, "{\"account\":\"123456789012\",\"mixed\":\"HeLLo World\"}");
  context_of("", event, got, sizeof(got));
  OC_CHECK_STR(got, "(none)");

  /* Over the limit: replaced by an error object. */
  size_t big = 120 * 1024;
  char *text = malloc(big + 64);
  memcpy(text, "{\"huge\":\"", 9);
  memset(text + 9, 'x', big);
  memcpy(text + 9 + big, "\"}", 3);
  oc_json_t *ev = parse(text);
  context_of("AlertContext:\n  one: {Key: huge}\n", ev, got, sizeof(got));
  OC_CHECK(strlen(got) == sizeof(got) - 1); /* fits the limit: cut only by this buffer */
  context_of("AlertContext:\n  one: {Key: huge}\n  two: {Key: huge}\n", ev, got, sizeof(got));
  OC_CHECK_STR(got, "{\"_error\":\"alert context is larger than 204800 bytes\"}");
  free(text);

  /* Errors name the line. HEAD is four lines. */
  expect_error(
      "AlertContext:\n  a: {Key: x}\n  a: {Key: y}\nDetection:\n  - Condition: AlwaysTrue\n", 7,
      "duplicate AlertContext name \"a\"");
  expect_error("AlertContext:\n  a: {Nope: x}\nDetection:\n  - Condition: AlwaysTrue\n", 6,
               "take Key, KeyPath or DeepKey");
  expect_error("AlertContext:\n  a: \"x..y\"\nDetection:\n  - Condition: AlwaysTrue\n", 6,
               "malformed key path");
  expect_error("AlertContext:\n  - KeyName: a\nDetection:\n  - Condition: AlwaysTrue\n", 6,
               "needs KeyName and KeyValue");
  expect_error("AlertContext: yes\nDetection:\n  - Condition: AlwaysTrue\n", 5,
               "AlertContext must be a mapping");
}

static const char *severity_of(const char *dynsev, const oc_json_t *ev) {
  static char out[64];
  char body[4096];
  snprintf(body, sizeof(body), "%s%s", dynsev, DET_ANY);
  oc_rule_t *rule = load_ok(body);
  if (!rule) return "(load error)";
  oc_det_keys_t *keys = NULL;
  oc_det_ctx_t *ctx = oc_det_ctx_new(keys);
  oc_det_ctx_set_event(ctx, ev);
  snprintf(out, sizeof(out), "%s", oc_rule_severity_for(rule, ctx));
  oc_det_ctx_destroy(ctx);
  oc_rule_destroy(rule);
  return out;
}

static void test_dynamic_severities(void) {
  const char *two =
      "DynamicSeverities:\n  - ChangeTo: critical\n    Conditions:\n"
      "      - Key: port\n        Condition: GreaterThan\n        Value: %d\n"
      "  - ChangeTo: High\n    Conditions:\n      - KeyPath: userIdentity.type\n"
      "        Condition: Equals\n        Value: %s\n";
  char d[1024];
  snprintf(d, sizeof(d), two, 1000, "Root");
  OC_CHECK_STR(severity_of(d, event), "HIGH"); /* the first fails, the second holds */
  snprintf(d, sizeof(d), two, 100, "Root");
  OC_CHECK_STR(severity_of(d, event), "CRITICAL"); /* the first that holds wins */
  snprintf(d, sizeof(d), two, 1000, "IAMUser");
  OC_CHECK_STR(severity_of(d, event), "LOW"); /* none: the rule's Severity */
  OC_CHECK_STR(severity_of("", event), "LOW");

  expect_error(
      "DynamicSeverities:\n  - ChangeTo: Urgent\n    Conditions:\n"
      "      - Condition: AlwaysTrue\n"
      "Detection:\n  - Condition: AlwaysTrue\n",
      6, "ChangeTo must be one of");
  expect_error(
      "DynamicSeverities:\n  - ChangeTo: High\n"
      "Detection:\n  - Condition: AlwaysTrue\n",
      6, "without Conditions");
  expect_error(
      "DynamicSeverities:\n  - ChangeTo: High\n    Conditions:\n"
      "      - Key: a\n        Condition: Bogus\n"
      "Detection:\n  - Condition: AlwaysTrue\n",
      9, "DynamicSeverities: unknown condition \"Bogus\"");
  expect_error(
      "DynamicSeverities:\n  - ChangeTo: High\n    Conditions: []\n"
      "    Extra: 1\nDetection:\n  - Condition: AlwaysTrue\n",
      8, "take ChangeTo and Conditions");
}

OC_TEST_MAIN(OC_TEST(test_equals), OC_TEST(test_type_coercion), OC_TEST(test_is_in),
             OC_TEST(test_strings), OC_TEST(test_presence), OC_TEST(test_numbers),
             OC_TEST(test_key_paths), OC_TEST(test_deep_key), OC_TEST(test_combinators),
             OC_TEST(test_load_errors), OC_TEST(test_metadata), OC_TEST(test_titles),
             OC_TEST(test_dedup), OC_TEST(test_ip_conditions), OC_TEST(test_absolute),
             OC_TEST(test_list_conditions), OC_TEST(test_multi_key), OC_TEST(test_new_load_errors),
             OC_TEST(test_alert_context), OC_TEST(test_dynamic_severities))

/* The event is parsed before main runs the cases. */
__attribute__((constructor)) static void setup(void) {
  oc_arena_init(&arena, 64 * 1024);
  event = parse(EVENT);
  event2 = parse(EVENT2);
}
