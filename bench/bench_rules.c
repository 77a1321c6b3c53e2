/* bench_rules.c: YAML detections over normalized CloudTrail events on one core.
 * Loads examples/detections plus generated detections (to 150 rules by default, all for
 * AWS.CloudTrail; see add_variants for their shapes), generates N events (default 200,000, ~1.4 KB
 * each, a few percent matching) in memory, and reports events/s and MB/s for
 *   1. JSON parsing alone (the floor),
 *   2. parsing + every rule of the log type + title/dedup rendering for matches,
 *   3. a zstd lake file through oc_scan_file() (decompression, parsing, rules,
 *      grouping; no Kafka, no output files).
 *
 *   bench_rules [-n EVENTS] [--rules N] [--dir EXAMPLES_DIR]
 *
 * Linked with the rules-engine's library (tests/unit/rules/CMakeLists.txt adds it). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/lake.h"
#include "common/timeutil.h"
#include "services/rules-engine/ruleset.h"
#include "services/rules-engine/scan.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static const char *pick(const char *const *a, size_t n) {
  return a[rnd() % n];
}
#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const USERS[] = {"alice", "bob", "carol", "dave", "erin", "svc-backup"};
static const char *const IPS[] = {"198.51.100.7", "198.51.100.23",  "203.0.113.5",
                                  "203.0.113.88", "192.0.2.13",     "10.0.4.17",
                                  "172.16.9.1",   "2001:db8:5::17", "198.51.100.200"};
static const char *const AGENTS[] = {
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.1.0-13-amd64 exe/x86_64.debian.12 prompt/off",
    "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.4",
    "terraform/1.6.2 (+https://www.terraform.io) terraform-provider-aws/5.21.0 aws-sdk-go/1.45.24",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119"};
static const char *const REGIONS[] = {"us-east-1", "us-east-1", "us-west-2", "eu-west-1"};
static const struct {
  const char *source, *name;
} NOISE[] = {
    {"s3.amazonaws.com", "GetObject"},
    {"s3.amazonaws.com", "PutObject"},
    {"s3.amazonaws.com", "ListObjects"},
    {"ec2.amazonaws.com", "DescribeInstances"},
    {"ec2.amazonaws.com", "DescribeSecurityGroups"},
    {"sts.amazonaws.com", "AssumeRole"},
    {"kms.amazonaws.com", "Decrypt"},
    {"iam.amazonaws.com", "GetUser"},
    {"logs.amazonaws.com", "PutLogEvents"},
    {"lambda.amazonaws.com", "Invoke"},
};

/* One normalized CloudTrail event as a JSON line. */
static size_t gen_event(char *out, size_t size, uint64_t i, int64_t t_us) {
  char et[32], pt[32];
  const char *user = PICK(USERS), *ip = PICK(IPS), *region = PICK(REGIONS);
  const char *source = NOISE[rnd() % 10].source, *name = NULL;
  const char *type = "IAMUser", *extra = "";
  char extra_buf[512];
  unsigned r = (unsigned)(rnd() % 1000);
  size_t k = rnd() % 10;
  source = NOISE[k].source;
  name = NOISE[k].name;
  if (r < 5) { /* root console login */
    source = "signin.amazonaws.com";
    name = "ConsoleLogin";
    type = "Root";
    extra =
        ",\"responseElements\":{\"ConsoleLogin\":\"Success\"},"
        "\"additionalEventData\":{\"MobileVersion\":\"No\",\"MFAUsed\":\"Yes\"}";
  } else if (r < 25) { /* console logins, some without MFA */
    source = "signin.amazonaws.com";
    name = "ConsoleLogin";
    extra = (r & 1) ? ",\"responseElements\":{\"ConsoleLogin\":\"Success\"},"
                      "\"additionalEventData\":{\"MobileVersion\":\"No\",\"MFAUsed\":\"No\"}"
                    : ",\"responseElements\":{\"ConsoleLogin\":\"Success\"},"
                      "\"additionalEventData\":{\"MobileVersion\":\"No\",\"MFAUsed\":\"Yes\"}";
  } else if (r < 28) {
    source = "iam.amazonaws.com";
    name = "CreateAccessKey";
    extra = ",\"requestParameters\":{\"userName\":\"svc-backup\"}";
  } else if (r < 30) {
    source = "cloudtrail.amazonaws.com";
    name = "StopLogging";
    extra =
        ",\"requestParameters\":{\"name\":\"arn:aws:cloudtrail:us-east-1:123456789012:trail/org\"}";
  } else if (r < 33) {
    source = "ec2.amazonaws.com";
    name = "AuthorizeSecurityGroupIngress";
    snprintf(extra_buf, sizeof(extra_buf),
             ",\"requestParameters\":{\"groupId\":\"sg-%08x\",\"ipPermissions\":{\"items\":["
             "{\"ipProtocol\":\"tcp\",\"fromPort\":22,\"toPort\":22,\"ipRanges\":{\"items\":"
             "[{\"cidrIp\":\"%s\"}]}}]}}",
             (unsigned)(rnd() & 0xffffffff), (r & 1) ? "0.0.0.0/0" : "10.0.0.0/8");
    extra = extra_buf;
  } else if (r < 40) {
    extra =
        ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User is not authorized to "
        "perform this action\"";
  } else {
    snprintf(extra_buf, sizeof(extra_buf),
             ",\"requestParameters\":{\"bucketName\":\"logs-%u\",\"key\":\"data/%016llx.json\"},"
             "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::logs-1/x\"},"
             "{\"accountId\":\"123456789012\",\"type\":\"AWS::S3::Bucket\","
             "\"ARN\":\"arn:aws:s3:::logs-1\"}]",
             (unsigned)(rnd() % 9), (unsigned long long)rnd());
    extra = extra_buf;
  }
  oc_time_format_panther(t_us, et);
  oc_time_format_panther(t_us + 60000000, pt);
  int n = snprintf(
      out, size,
      "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"%s\",\"principalId\":"
      "\"AIDA%016llX\",\"arn\":\"arn:aws:iam::123456789012:%s%s\",\"accountId\":\"123456789012\","
      "\"userName\":\"%s\",\"sessionContext\":{\"sessionIssuer\":{},\"webIdFederationData\":{},"
      "\"attributes\":{\"creationDate\":\"2026-11-01T09:00:00Z\",\"mfaAuthenticated\":\"false\"}}},"
      "\"eventTime\":\"2026-11-01T10:00:00Z\",\"eventSource\":\"%s\",\"eventName\":\"%s\","
      "\"awsRegion\":\"%s\",\"sourceIPAddress\":\"%s\",\"userAgent\":\"%s\","
      "\"requestID\":\"%016llX\",\"eventID\":\"%08llx-%04llx-4%03llx-a%03llx-%012llx\","
      "\"readOnly\":%s,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
      "\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\","
      "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\","
      "\"clientProvidedHostHeader\":\"%s\"}%s,"
      "\"p_log_type\":\"AWS.CloudTrail\",\"p_row_id\":\"%016llx%08llx\",\"p_event_time\":\"%s\","
      "\"p_parse_time\":\"%s\",\"p_source_id\":\"ct\",\"p_source_label\":\"CloudTrail\","
      "\"p_any_ip_addresses\":[\"%s\"],\"p_any_aws_account_ids\":[\"123456789012\"],"
      "\"p_any_usernames\":[\"%s\"]}",
      type, (unsigned long long)rnd(), strcmp(type, "Root") == 0 ? "root" : "user/",
      strcmp(type, "Root") == 0 ? "" : user, user, source, name, region, ip, PICK(AGENTS),
      (unsigned long long)rnd(), (unsigned long long)(rnd() & 0xffffffff),
      (unsigned long long)(rnd() & 0xffff), (unsigned long long)(rnd() & 0xfff),
      (unsigned long long)(rnd() & 0xfff), (unsigned long long)(rnd() & 0xffffffffffffull),
      (r % 3) ? "true" : "false", source, extra, (unsigned long long)rnd(), (unsigned long long)i,
      et, pt, ip, user);
  return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Generated detections: the shapes of a real CloudTrail pack. Most are gated by
 * eventName (Equals or IsIn), some only by eventSource, a few are ungated; inside them
 * nested combinators, DeepKey, KeyPath wildcards, IsIn lists, CIDR and IP checks, list
 * conditions over resources, multi-key comparisons, AlertContext and
 * DynamicSeverities. */
static const char *const API_NAMES[] = {"DeleteBucket",
                                        "PutBucketVersioning",
                                        "DeleteFlowLogs",
                                        "DisableKey",
                                        "CreateUser",
                                        "AttachUserPolicy",
                                        "PutRolePolicy",
                                        "UpdateAssumeRolePolicy",
                                        "CreateLoginProfile",
                                        "DeactivateMFADevice",
                                        "DeleteDetector",
                                        "StopInstances",
                                        "ModifyInstanceAttribute",
                                        "CreateKeyPair",
                                        "GetSecretValue",
                                        "DeleteTrail",
                                        "PutBucketPolicy",
                                        "CreateAccessKey",
                                        "PutBucketAcl",
                                        "DeleteLogGroup",
                                        "CreateRole",
                                        "DetachRolePolicy",
                                        "ScheduleKeyDeletion",
                                        "RunInstances",
                                        "CreateSnapshot",
                                        "ModifySnapshotAttribute",
                                        "PutEventSelectors",
                                        "UpdateTrail",
                                        "DeleteVpc",
                                        "CreateVpcPeeringConnection",
                                        "ConsoleLogin",
                                        "StopLogging"};
#define NAPI (sizeof(API_NAMES) / sizeof(API_NAMES[0]))
static const char *const SOURCES[] = {
    "iam.amazonaws.com", "s3.amazonaws.com",         "ec2.amazonaws.com",   "kms.amazonaws.com",
    "sts.amazonaws.com", "cloudtrail.amazonaws.com", "lambda.amazonaws.com"};

static const char *const VARIANT_HEAD =
    "AnalysisType: rule\nRuleID: Bench.Variant%03d\nDisplayName: Generated detection %d\n"
    "LogTypes: [AWS.CloudTrail]\nSeverity: %s\n";

static void add_variants(oc_ruleset_t *rs, int count) {
  static const char *const sev[] = {"Info", "Low", "Medium", "High", "Critical"};
  char text[8192], head[512];
  for (int i = 0; i < count; i++) {
    const char *n1 = API_NAMES[i % NAPI], *n2 = API_NAMES[(i * 7 + 3) % NAPI],
               *n3 = API_NAMES[(i * 11 + 5) % NAPI], *src = SOURCES[i % 7];
    snprintf(head, sizeof(head), VARIANT_HEAD, i, i, sev[i % 5]);
    int kind = i % 15;
    if (i % 30 == 29) kind = 15; /* ungated: 5 of 150 */
    switch (kind) {
      case 0:
      case 1: /* eventName + no error + a principal type outside a list */
        snprintf(text, sizeof(text),
                 "%sAlertTitle: \"%s by {userIdentity.arn} from {sourceIPAddress}\"\n"
                 "Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: %s\n"
                 "  - Key: errorCode\n    Condition: DoesNotExist\n"
                 "  - KeyPath: userIdentity.type\n    Condition: IsNotIn\n"
                 "    Values: [AWSService, AWSAccount]\n",
                 head, n1, n1);
        break;
      case 2: /* IsIn of names, GroupBy, AlertContext */
        snprintf(
            text, sizeof(text),
            "%sGroupBy:\n  - KeyPath: userIdentity.userName\n"
            "AlertContext:\n  user: {KeyPath: userIdentity.arn}\n  ip: {Key: sourceIPAddress}\n"
            "  region: {Key: awsRegion}\n"
            "Detection:\n  - Key: eventName\n    Condition: IsIn\n    Values: [%s, %s, %s]\n"
            "  - KeyPath: userIdentity.sessionContext.attributes.mfaAuthenticated\n"
            "    Condition: Equals\n    Value: \"false\"\n",
            head, n1, n2, n3);
        break;
      case 3: /* from outside the corporate networks (CIDRs), public addresses only */
        snprintf(text, sizeof(text),
                 "%sAlertTitle: \"{eventName} from {sourceIPAddress}\"\n"
                 "Detection:\n  - Key: eventName\n    Condition: IsIn\n    Values: [%s, %s]\n"
                 "  - Key: sourceIPAddress\n    Condition: IsIPAddressNotInCIDR\n"
                 "    Values: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 198.51.100.0/25, "
                 "\"2001:db8:%x::/48\"]\n"
                 "  - Key: sourceIPAddress\n    Condition: IsIPAddressPublic\n",
                 head, n1, n2, i);
        break;
      case 4: /* DeepKey into security group rules */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventName\n    Condition: IsIn\n"
                 "    Values: [AuthorizeSecurityGroupIngress, %s]\n"
                 "  - DeepKey: [requestParameters, ipPermissions, items, ipRanges, items, cidrIp]\n"
                 "    Condition: Equals\n    Value: 0.0.0.0/0\n"
                 "  - DeepKey: [requestParameters, ipPermissions, items, fromPort]\n"
                 "    Condition: LessThanOrEqual\n    Value: %d\n",
                 head, n2, 22 + i);
        break;
      case 5: /* list condition over resources */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventName\n    Condition: Equals\n    Value: %s\n"
                 "  - Key: resources\n    Condition: AnyElement\n    Expressions:\n"
                 "      - Key: type\n        Condition: Equals\n        Value: AWS::S3::Bucket\n"
                 "      - Key: ARN\n        Condition: EndsWith\n        Value: \"-%d\"\n",
                 head, (i & 1) ? "GetObject" : n1, i % 9);
        break;
      case 6: /* eventSource gate only: errors from one service by humans */
        snprintf(text, sizeof(text),
                 "%sAlertTitle: \"{eventName} errors in {awsRegion}\"\n"
                 "DynamicSeverities:\n  - ChangeTo: High\n    Conditions:\n"
                 "      - KeyPath: userIdentity.type\n        Condition: Equals\n"
                 "        Value: Root\n"
                 "Detection:\n  - Key: eventSource\n    Condition: Equals\n    Value: %s\n"
                 "  - Key: errorCode\n    Condition: IsIn\n"
                 "    Values: [AccessDenied, UnauthorizedOperation, Client.UnauthorizedOperation]\n"
                 "  - Any:\n      - Key: userAgent\n        Condition: IContains\n"
                 "        Value: aws-cli\n      - Key: userAgent\n        Condition: IStartsWith\n"
                 "        Value: mozilla\n",
                 head, src);
        break;
      case 7: /* console logins without MFA from some networks, None combinator */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventName\n    Condition: Equals\n"
                 "    Value: ConsoleLogin\n  - None:\n"
                 "      - KeyPath: additionalEventData.MFAUsed\n        Condition: Equals\n"
                 "        Value: \"Yes\"\n      - Key: sourceIPAddress\n"
                 "        Condition: IsIPAddressInCIDR\n        Values: [198.51.100.%d/32, "
                 "10.0.0.0/8]\n",
                 head, i % 256);
        break;
      case 8: /* cross-account: multi-key comparison */
        snprintf(
            text, sizeof(text),
            "%sDetection:\n  - Key: eventName\n    Condition: IsIn\n    Values: [AssumeRole, %s]\n"
            "  - Condition: DoesNotEqual\n    Values:\n      - KeyPath: userIdentity.accountId\n"
            "      - Key: recipientAccountId\n",
            head, n1);
        break;
      case 9: /* source + name in one rule (the index picks the name) */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventSource\n    Condition: Equals\n    Value: %s\n"
                 "  - Key: eventName\n    Condition: IsIn\n    Values: [%s, %s]\n"
                 "  - KeyPath: requestParameters.bucketName\n    Condition: StartsWith\n"
                 "    Value: logs-%d\n",
                 head, src, n1, n2, i % 9);
        break;
      case 10: /* wildcards over resources */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - KeyPath: \"resources[*].type\"\n    Condition: Equals\n"
                 "    Value: AWS::S3::Bucket\n  - Key: eventName\n    Condition: Equals\n"
                 "    Value: %s\n  - KeyPath: requestParameters.key\n    Condition: Contains\n"
                 "    Value: \"%03x\"\n",
                 head, (i & 1) ? "PutObject" : n2, i * 37 % 4096);
        break;
      case 11: /* IAM changes with DynamicSeverities and AlertContext */
        snprintf(
            text, sizeof(text),
            "%sAlertTitle: \"IAM change {eventName} on {requestParameters.userName}\"\n"
            "AlertContext:\n  - KeyName: actor\n    KeyValue: {KeyPath: userIdentity.arn}\n"
            "  - KeyName: target\n    KeyValue: {KeyPath: requestParameters.userName}\n"
            "DynamicSeverities:\n  - ChangeTo: Critical\n    Conditions:\n"
            "      - KeyPath: userIdentity.type\n        Condition: Equals\n        Value: Root\n"
            "  - ChangeTo: High\n    Conditions:\n      - Key: sourceIPAddress\n"
            "        Condition: IsIPAddressPublic\n"
            "Detection:\n  - Key: eventName\n    Condition: IsIn\n"
            "    Values: [CreateAccessKey, %s, %s]\n"
            "  - KeyPath: requestParameters.userName\n    Condition: IsNotNullOrEmpty\n",
            head, n1, n3);
        break;
      case 12: /* names by prefix inside an Any, gated by source */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventSource\n    Condition: IsIn\n    Values: [%s, %s]\n"
                 "  - Any:\n      - Key: eventName\n        Condition: StartsWith\n"
                 "        Value: Delete\n      - Key: eventName\n        Condition: StartsWith\n"
                 "        Value: Disable\n  - Key: readOnly\n    Condition: Equals\n"
                 "    Value: false\n",
                 head, src, SOURCES[(i + 3) % 7]);
        break;
      case 13: /* OnlyOne of tests, IPv6 or private source */
        snprintf(text, sizeof(text),
                 "%sDetection:\n  - Key: eventName\n    Condition: Equals\n    Value: %s\n"
                 "  - OnlyOne:\n      - Key: sourceIPAddress\n        Condition: IsIPv6Address\n"
                 "      - Key: sourceIPAddress\n        Condition: IsIPAddressPrivate\n"
                 "  - Key: awsRegion\n    Condition: IsNotIn\n    Values: [us-east-1, us-west-2]\n",
                 head, n2);
        break;
      case 14: /* region/user lists, GroupBy DeepKey */
        snprintf(text, sizeof(text),
                 "%sGroupBy:\n  - DeepKey: [userIdentity, userName]\n"
                 "Detection:\n  - Key: eventName\n    Condition: Equals\n    Value: %s\n"
                 "  - KeyPath: userIdentity.userName\n    Condition: IsIn\n"
                 "    Values: [alice, bob, svc-backup, svc-%d]\n"
                 "  - Key: awsRegion\n    Condition: IsIn\n    Values: [eu-west-1, ap-south-1]\n",
                 head, n3, i);
        break;
      default: /* ungated: known-bad addresses or tools, any API */
        snprintf(text, sizeof(text),
                 "%sAlertTitle: \"Suspicious client {userAgent}\"\n"
                 "Detection:\n  - Any:\n      - Key: sourceIPAddress\n"
                 "        Condition: IsIPAddressInCIDR\n"
                 "        Values: [203.0.113.%d/32, 192.0.2.128/25, \"2001:db8:bad::/48\"]\n"
                 "      - Key: userAgent\n        Condition: IContains\n        Value: sqlmap\n"
                 "      - Key: userAgent\n        Condition: IContains\n        Value: kali\n"
                 "  - Key: errorCode\n    Condition: DoesNotExist\n",
                 head, (i * 13) % 256);
        break;
    }
    if (oc_ruleset_add(rs, text, strlen(text), "generated", NULL, NULL, false) != OC_RULE_OK)
      fprintf(stderr, "variant %d did not load\n", i);
  }
}

static const char *default_dir(char *buf, size_t size) {
  const char *src = getenv("OCELOT_SOURCE_DIR");
  if (src) {
    snprintf(buf, size, "%s/examples/detections", src);
    return buf;
  }
  /* __FILE__ is the absolute path of this file in CMake builds: <root>/bench/bench_rules.c */
  snprintf(buf, size, "%s", __FILE__);
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  size_t n = strlen(buf);
  snprintf(buf + n, size - n, "%s/examples/detections", n ? "" : ".");
  return buf;
}

int main(int argc, char **argv) {
  size_t nevents = 200000;
  int min_rules = 150;
  char dirbuf[1024], err[512];
  const char *dir = default_dir(dirbuf, sizeof(dirbuf));
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
      nevents = (size_t)strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
      min_rules = atoi(argv[++i]);
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else {
      fprintf(stderr, "usage: %s [-n EVENTS] [--rules N] [--dir EXAMPLES_DIR]\n", argv[0]);
      return 2;
    }
  }

  /* Rules. */
  double t0 = now_s();
  oc_ruleset_t *rs = oc_ruleset_new();
  if (oc_ruleset_load_dir(rs, dir, err, sizeof(err)) != OC_OK)
    fprintf(stderr, "warning: %s (only generated rules)\n", err);
  for (size_t i = 0; i < oc_ruleset_nmsgs(rs); i++)
    fprintf(stderr, "%s: %s\n", oc_ruleset_msg(rs, i)->origin, oc_ruleset_msg(rs, i)->text);
  /* How many the directory gave (a set is counted once finished). */
  int from_dir = 0;
  {
    oc_ruleset_t *tmp = oc_ruleset_new();
    oc_ruleset_load_dir(tmp, dir, err, sizeof(err));
    oc_ruleset_finish(tmp, err, sizeof(err));
    from_dir = (int)oc_ruleset_count(tmp);
    oc_ruleset_destroy(tmp);
  }
  add_variants(rs, min_rules > from_dir ? min_rules - from_dir : 0);
  if (oc_ruleset_finish(rs, err, sizeof(err)) != OC_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  double t_load = now_s() - t0;
  for (size_t i = 0; i < oc_ruleset_nmsgs(rs); i++)
    if (strcmp(oc_ruleset_msg(rs, i)->origin, "generated") == 0)
      fprintf(stderr, "generated: line %d: %s\n", oc_ruleset_msg(rs, i)->line,
              oc_ruleset_msg(rs, i)->text);
  size_t nrules = 0;
  const oc_rule_t *const *rules = oc_ruleset_for_log_type(rs, "AWS.CloudTrail", 14, &nrules);
  (void)rules;
  printf("rules: %zu for AWS.CloudTrail (%d from %s, %zu generated), loaded in %.1f ms\n", nrules,
         from_dir, dir, nrules - (size_t)from_dir, t_load * 1000);

  /* Events. */
  char *text = NULL;
  size_t *offs = malloc((nevents + 1) * sizeof(*offs));
  size_t cap = nevents * 1600 + 4096, len = 0;
  text = malloc(cap);
  if (!text || !offs) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int64_t t_us = INT64_C(1793527200) * 1000000;
  for (size_t i = 0; i < nevents; i++) {
    offs[i] = len;
    if (cap - len < 4096) {
      cap *= 2;
      text = realloc(text, cap);
      if (!text) return 1;
    }
    len += gen_event(text + len, cap - len, i, t_us + (int64_t)i * 1000);
    text[len++] = '\n';
  }
  offs[nevents] = len;
  double mb = (double)len / 1e6;
  printf("events: %zu, %.1f MB (%.0f bytes each)\n", nevents, mb, (double)len / (double)nevents);

  /* 1. Parsing alone. */
  oc_arena_t arena;
  oc_arena_init(&arena, 1 << 20);
  size_t bad = 0;
  t0 = now_s();
  for (size_t i = 0; i < nevents; i++) {
    if ((i & 255) == 0) oc_arena_reset(&arena);
    if (!oc_json_parse(&arena, text + offs[i], offs[i + 1] - offs[i] - 1, 128, err, sizeof(err)))
      bad++;
  }
  double t_parse = now_s() - t0;
  printf("1. parse only:              %9.0f events/s  %7.1f MB/s%s\n", nevents / t_parse,
         mb / t_parse, bad ? "  (PARSE ERRORS)" : "");

  /* 2. Parse + rules + title/dedup for matches: (a) every rule of the log type on every
   * event; (b) only the candidates the gate index offers, as the engine does. */
  oc_det_ctx_t *ctx = oc_ruleset_ctx(rs);
  const oc_ruleset_type_t *rtype = oc_ruleset_type(rs, "AWS.CloudTrail", 14);
  oc_buf_t title, dedup;
  oc_buf_init(&title);
  oc_buf_init(&dedup);
  double t_rules[2];
  uint64_t matches[2] = {0, 0}, evals[2] = {0, 0};
  for (int gated = 0; gated < 2; gated++) {
    t0 = now_s();
    for (size_t i = 0; i < nevents; i++) {
      if ((i & 255) == 0) oc_arena_reset(&arena);
      oc_json_t *root =
          oc_json_parse(&arena, text + offs[i], offs[i + 1] - offs[i] - 1, 128, err, sizeof(err));
      if (!root) continue;
      const oc_json_t *lt = oc_json_getn(root, "p_log_type", 10);
      oc_rule_span_t all;
      const oc_rule_span_t *spans = &all;
      size_t nspans = 1;
      oc_det_ctx_set_event(ctx, root);
      if (gated)
        nspans = oc_ruleset_candidates(rs, oc_ruleset_type(rs, lt->s, lt->len), ctx, &spans);
      else
        all.rules = oc_ruleset_for_log_type(rs, lt->s, lt->len, &all.n);
      for (size_t s = 0; s < nspans; s++) {
        for (size_t j = 0; j < spans[s].n; j++) {
          const oc_rule_t *rule = spans[s].rules[j];
          evals[gated]++;
          if (!oc_rule_matches(rule, ctx)) continue;
          matches[gated]++;
          oc_buf_reset(&title);
          oc_buf_reset(&dedup);
          oc_rule_render_title(rule, ctx, &title);
          oc_rule_render_dedup(rule, ctx, title.data, title.len, &dedup);
        }
      }
    }
    t_rules[gated] = now_s() - t0;
  }
  (void)rtype;
  printf(
      "2a. parse + all %zu rules:  %9.0f events/s  %7.1f MB/s  (%llu matches, %.0f ns per rule "
      "evaluation beyond parsing)\n",
      nrules, nevents / t_rules[0], mb / t_rules[0], (unsigned long long)matches[0],
      (t_rules[0] - t_parse) * 1e9 / (double)(evals[0] ? evals[0] : 1));
  printf(
      "2b. parse + gated rules:    %9.0f events/s  %7.1f MB/s  (%llu matches, %.1f rules "
      "evaluated per event)%s\n",
      nevents / t_rules[1], mb / t_rules[1], (unsigned long long)matches[1],
      (double)evals[1] / (double)nevents,
      matches[0] != matches[1] ? "  MISMATCH: gated and full evaluation differ" : "");

  /* 3. Through a zstd lake file with grouping. */
  char root_dir[] = "/tmp/oc-bench-rules-XXXXXX", key[1024], path[2048];
  uint64_t bytes = 0;
  if (!mkdtemp(root_dir)) {
    perror("mkdtemp");
    return 1;
  }
  oc_lake_writer_t *w =
      oc_lake_writer_open(root_dir, "logs", "aws_cloudtrail", t_us, "bench", 3, err, sizeof(err));
  if (!w) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  for (size_t i = 0; i < nevents; i++)
    oc_lake_writer_append(w, text + offs[i], offs[i + 1] - offs[i] - 1);
  if (oc_lake_writer_commit(w, key, sizeof(key), &bytes, err, sizeof(err)) != OC_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  snprintf(path, sizeof(path), "%s/%s", root_dir, key);
  oc_scan_t scan;
  oc_scan_init(&scan);
  oc_scan_opts_t opts = {
      .default_log_type = "AWS.CloudTrail", .default_time_us = t_us, .max_line = 1 << 20};
  t0 = now_s();
  oc_err_t e = oc_scan_file(&scan, rs, path, &opts, err, sizeof(err));
  double t_scan = now_s() - t0;
  if (e != OC_OK) fprintf(stderr, "scan: %s\n", err);
  printf(
      "3. zstd lake file scan:     %9.0f events/s  %7.1f MB/s  (%.1f MB compressed, %zu groups,"
      " %llu matches)\n",
      nevents / t_scan, mb / t_scan, (double)bytes / 1e6, scan.ngroups,
      (unsigned long long)scan.matches);
  printf("per core (one thread, zstd lake file, %zu rules): %.0f events/s; target 200000: %s\n",
         nrules, nevents / t_scan, nevents / t_scan >= 200000 ? "met" : "MISSED");
  oc_scan_deinit(&scan);
  unlink(path);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root_dir);

  oc_buf_deinit(&title);
  oc_buf_deinit(&dedup);
  oc_arena_deinit(&arena);
  oc_ruleset_destroy(rs);
  free(text);
  free(offs);
  return 0;
}
