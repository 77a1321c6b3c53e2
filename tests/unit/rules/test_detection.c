/* test_detection.c: YAML match expressions (every condition and combinator, type
 * coercion, missing keys, KeyPath arrays, DeepKey), rule metadata and load errors with
 * lines, AlertTitle templates and dedup strings. */
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
  OC_CHECK(strstr(err, "python rules are not supported yet") != NULL);
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

OC_TEST_MAIN(OC_TEST(test_equals), OC_TEST(test_type_coercion), OC_TEST(test_is_in),
             OC_TEST(test_strings), OC_TEST(test_presence), OC_TEST(test_numbers),
             OC_TEST(test_key_paths), OC_TEST(test_deep_key), OC_TEST(test_combinators),
             OC_TEST(test_load_errors), OC_TEST(test_metadata), OC_TEST(test_titles),
             OC_TEST(test_dedup))

/* The event is parsed before main runs the cases. */
__attribute__((constructor)) static void setup(void) {
  oc_arena_init(&arena, 64 * 1024);
  event = parse(EVENT);
}
