/* bench_json.c: throughput of the JSON layer (common/json.c) on CloudTrail-shaped events.
 *
 * Generates N events (default 200,000; argv[1] overrides) of about 1.4-1.5 KB each in
 * memory with a fixed-seed PRNG, checks that parse -> serialize reproduces every event
 * byte for byte, then times JSON parse alone and parse+serialize, resetting the arena
 * once per batch of 1,000 events as the service runtime does. Prints MB/s (10^6 bytes of
 * input) and events/s for the best of a few passes, and peak RSS. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"

#define BATCH 1000
#define PASSES 3
#define ARENA_CHUNK (256 * 1024) /* as common/runtime.c */

/* ---- deterministic generator ------------------------------------------------------- */

static uint64_t rng_state = 0x0CE10CE10CE10CE1ull;

static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static unsigned pick(unsigned n) {
  return (unsigned)(rng() % n);
}

static void rand_chars(char *out, size_t n, const char *alphabet) {
  size_t k = strlen(alphabet);
  for (size_t i = 0; i < n; i++)
    out[i] = alphabet[rng() % k];
  out[n] = '\0';
}

static const char UPPER_DIGITS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static const char *regions[] = {"us-east-1",    "us-east-2",      "us-west-2",     "eu-west-1",
                                "eu-central-1", "ap-southeast-2", "ap-northeast-1"};
static const char *roles[] = {"OrgAccessRole", "LogProcessingRole", "PipelineWorker",
                              "ci-deploy",     "SSO_Admin_1a2b",    "lambda-ingest"};
static const char *users[] = {"alice",      "bob",       "carol.ops", "dave@example.com",
                              "svc-backup", "erin-admin"};
static const char *agents[] = {
    "[aws-sdk-go/1.44.100 (go1.19.3; linux; amd64) exec-env/AWS_Lambda_go1.x]",
    "[Boto3/1.26.45 Python/3.10.9 Linux/5.10.157-139.675.amzn2.x86_64 Botocore/1.29.45]",
    "aws-cli/2.9.13 Python/3.9.11 Linux/5.15.0-1026-aws exe/x86_64.ubuntu.22",
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/108.0.0.0 Safari/537.36"),
    "[aws-sdk-java/1.12.376 Linux/5.4.219 OpenJDK_64-Bit_Server_VM/11.0.17+8-LTS]",
    "console.amazonaws.com"};
static const char *ciphers[] = {"ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256",
                                "ECDHE-RSA-AES256-GCM-SHA384"};
static const char *buckets[] = {"corp-logs", "data-lake", "artifacts-77", "uploads-eu",
                                "backup-vault"};

typedef struct {
  char *p;
  size_t len, cap;
} gen_t;

__attribute__((format(printf, 2, 3))) static void put(gen_t *g, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(g->p + g->len, g->cap - g->len, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    if ((size_t)n < g->cap - g->len) {
      g->len += (size_t)n;
      return;
    }
    g->cap *= 2;
    g->p = realloc(g->p, g->cap);
    if (!g->p) abort();
  }
}

static void gen_uuid(char out[37]) {
  char h[33];
  rand_chars(h, 32, HEX);
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static void gen_event(gen_t *g, uint64_t idx) {
  char account[13], principal[22], akid[21], reqid[17], evid[37], ip[16], token[400];
  char t_event[32], t_created[32], sess[16], obj[48];
  snprintf(account, sizeof(account), "%012llu", (unsigned long long)(rng() % 1000000000000ull));
  rand_chars(principal, 21, UPPER_DIGITS);
  memcpy(principal, "AROA", 4);
  rand_chars(akid, 20, UPPER_DIGITS);
  memcpy(akid, "ASIA", 4);
  rand_chars(reqid, 16, UPPER_DIGITS);
  gen_uuid(evid);
  snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 1 + pick(223), pick(256), pick(256), 1 + pick(254));
  uint64_t t = 1795883860ull + idx * 3 + pick(3); /* 2026-11-28T16:37:40Z onwards */
  time_t tt = (time_t)t, tc = (time_t)(t - 600 - pick(3000));
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(t_event, sizeof(t_event), "%Y-%m-%dT%H:%M:%SZ", &tm);
  gmtime_r(&tc, &tm);
  strftime(t_created, sizeof(t_created), "%Y-%m-%dT%H:%M:%SZ", &tm);
  rand_chars(sess, 10, "abcdefghijklmnopqrstuvwxyz0123456789");
  const char *region = regions[pick(7)];
  const char *role = roles[pick(6)];
  const char *bucket = buckets[pick(5)];
  /* the mix of a busy account: S3 data events, role assumptions, EC2, IAM, KMS, logins */
  unsigned r = pick(100);
  enum {
    K_S3,
    K_STS,
    K_EC2,
    K_IAM,
    K_KMS,
    K_SIGNIN
  } kind = r < 30   ? K_S3
           : r < 42 ? K_STS
           : r < 62 ? K_EC2
           : r < 69 ? K_IAM
           : r < 79 ? K_KMS
                    : K_SIGNIN;

  put(g, "{\"eventVersion\":\"1.08\",\"userIdentity\":{");
  if (kind == K_SIGNIN) { /* console logins come from IAM users */
    const char *user = users[pick(6)];
    put(g,
        "\"type\":\"IAMUser\",\"principalId\":\"AIDA%.17s\",\"arn\":\"arn:aws:iam::%s:user/%s\","
        "\"accountId\":\"%s\",\"userName\":\"%s\"},",
        principal + 4, account, user, account, user);
  } else {
    put(g,
        "\"type\":\"AssumedRole\",\"principalId\":\"%s:%s\",\"arn\":\"arn:aws:sts::%s:"
        "assumed-role/%s/%s\",\"accountId\":\"%s\",\"accessKeyId\":\"%s\",\"sessionContext\":"
        "{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"%s\",\"arn\":\"arn:aws:iam::%s:"
        "role/%s\",\"accountId\":\"%s\",\"userName\":\"%s\"},"
        "\"attributes\":{\"creationDate\":\"%s\",\"mfaAuthenticated\":\"%s\"}}},",
        principal, sess, account, role, sess, account, akid, principal, account, role, account,
        role, t_created, pick(4) ? "false" : "true");
  }
  const char *source, *name, *category = "Management", *type = "AwsApiCall";
  int read_only = 1, management = 1;
  if (kind == K_S3) {
    source = "s3.amazonaws.com";
    name = pick(3) ? "GetObject" : "PutObject";
    read_only = name[0] == 'G';
    category = "Data";
    management = 0;
  } else if (kind == K_STS) {
    source = "sts.amazonaws.com";
    name = "AssumeRole";
  } else if (kind == K_EC2) {
    source = "ec2.amazonaws.com";
    name = pick(2) ? "DescribeInstances" : "RunInstances";
    read_only = name[0] == 'D';
  } else if (kind == K_IAM) {
    source = "iam.amazonaws.com";
    name = "CreatePolicy";
    read_only = 0;
  } else if (kind == K_KMS) {
    source = "kms.amazonaws.com";
    name = "Decrypt";
  } else {
    source = "signin.amazonaws.com";
    name = "ConsoleLogin";
    read_only = 0;
    type = "AwsConsoleSignIn";
  }
  put(g,
      "\"eventTime\":\"%s\",\"eventSource\":\"%s\",\"eventName\":\"%s\",\"awsRegion\":\"%s\","
      "\"sourceIPAddress\":\"%s\",\"userAgent\":\"%s\",",
      t_event, source, name, region, ip, kind == K_SIGNIN ? agents[3] : agents[pick(6)]);

  snprintf(obj, sizeof(obj), "%04u/%02u/%05u.gz", 2020 + pick(7), 1 + pick(12), pick(100000));
  if (kind == K_S3) {
    put(g,
        "\"requestParameters\":{\"bucketName\":\"%s\",\"Host\":\"%s.s3.%s.amazonaws.com\","
        "\"key\":\"%s\"},\"responseElements\":null,\"additionalEventData\":"
        "{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"%s\",\"bytesTransferredIn\":%u,"
        "\"bytesTransferredOut\":%u},",
        bucket, bucket, region, obj, ciphers[pick(3)], read_only ? 0 : pick(5000000),
        read_only ? pick(50000000) : 0);
  } else if (kind == K_STS) {
    rand_chars(token, 64, B64);
    put(g,
        "\"requestParameters\":{\"roleArn\":\"arn:aws:iam::%s:role/%s\",\"roleSessionName\":"
        "\"%s\",\"durationSeconds\":%u},\"responseElements\":{\"credentials\":{\"accessKeyId\":"
        "\"%s\",\"sessionToken\":\"%s\",\"expiration\":\"Nov 28, 2026, 5:37:40 PM\"},"
        "\"assumedRoleUser\":{\"assumedRoleId\":\"%s:%s\",\"arn\":\"arn:aws:sts::%s:"
        "assumed-role/%s/%s\"}},",
        account, role, sess, 900 + pick(3) * 1350, akid, token, principal, sess, account, role,
        sess);
  } else if (kind == K_EC2) {
    char iid[18];
    rand_chars(iid, 17, HEX);
    put(g,
        "\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-%s\"},"
        "{\"instanceId\":\"i-%.8s%.9s\"}]},\"filterSet\":{\"items\":[{\"name\":"
        "\"instance-state-name\",\"valueSet\":{\"items\":[{\"value\":\"running\"},{\"value\":"
        "\"stopped\"}]}}]},\"maxResults\":%u,\"includeAllInstances\":false},"
        "\"responseElements\":null,",
        iid, iid + 9, iid, 5 + pick(995));
  } else if (kind == K_IAM) {
    /* an embedded policy document: a string full of escapes, as CloudTrail writes it */
    put(g,
        "\"requestParameters\":{\"policyName\":\"%s-read-%s\",\"description\":\"Managed by "
        "\\\"terraform\\\"\\nDo not edit.\",\"policyDocument\":\"{\\n  \\\"Version\\\": "
        "\\\"2012-10-17\\\",\\n  \\\"Statement\\\": [{\\\"Effect\\\": \\\"Allow\\\", "
        "\\\"Action\\\": [\\\"s3:GetObject\\\", \\\"s3:ListBucket\\\"], \\\"Resource\\\": "
        "\\\"arn:aws:s3:::%s/*\\\"}]\\n}\",\"path\":\"/\"},\"responseElements\":{\"policy\":"
        "{\"policyName\":\"%s-read-%s\",\"policyId\":\"ANPA%.17s\",\"arn\":\"arn:aws:iam::%s:"
        "policy/%s-read-%s\",\"defaultVersionId\":\"v1\",\"attachmentCount\":0,\"isAttachable\":"
        "true,\"createDate\":\"%s\"}},",
        bucket, sess, bucket, bucket, sess, principal + 4, account, bucket, sess, t_event);
  } else if (kind == K_KMS) {
    put(g,
        "\"requestParameters\":{\"encryptionContext\":{\"aws:lambda:FunctionArn\":"
        "\"arn:aws:lambda:%s:%s:function:%s-handler\",\"PARAMETER_ARN\":\"arn:aws:ssm:%s:%s:"
        "parameter/app/%s/db-password\"},\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"},"
        "\"responseElements\":null,",
        region, account, sess, region, account, sess);
  } else {
    put(g,
        "\"requestParameters\":null,\"responseElements\":{\"ConsoleLogin\":\"%s\"},"
        "\"additionalEventData\":{\"LoginTo\":\"https://console.aws.amazon.com/console/home?"
        "hashArgs=%%23&isauthcode=true&state=hashArgsFromTB_%s_%s\",\"MobileVersion\":\"No\","
        "\"MFAIdentifier\":\"arn:aws:iam::%s:mfa/%s\",\"MFAUsed\":\"%s\"},",
        pick(8) ? "Success" : "Failure", region, sess, account, sess, pick(3) ? "Yes" : "No");
  }
  char host[96];
  if (kind == K_S3)
    snprintf(host, sizeof(host), "%s.s3.%s.amazonaws.com", bucket, region);
  else
    snprintf(host, sizeof(host), "%.*s.%s.amazonaws.com", (int)(strchr(source, '.') - source),
             source, region);
  put(g, "\"requestID\":\"%s\",\"eventID\":\"%s\",\"readOnly\":%s,", reqid, evid,
      read_only ? "true" : "false");
  if (kind == K_S3) {
    put(g,
        "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::%s/%s\"},"
        "{\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::%s\"}],",
        bucket, obj, bucket);
  } else if (kind == K_STS) {
    put(g,
        "\"resources\":[{\"accountId\":\"%s\",\"type\":\"AWS::IAM::Role\",\"ARN\":"
        "\"arn:aws:iam::%s:role/%s\"}],",
        account, account, role);
  } else if (kind == K_KMS) {
    char key[37];
    gen_uuid(key);
    put(g,
        "\"resources\":[{\"accountId\":\"%s\",\"type\":\"AWS::KMS::Key\",\"ARN\":"
        "\"arn:aws:kms:%s:%s:key/%s\"}],",
        account, region, account, key);
  }
  put(g,
      "\"eventType\":\"%s\",\"managementEvent\":%s,\"recipientAccountId\":\"%s\","
      "\"eventCategory\":\"%s\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.%c\",\"cipherSuite\":"
      "\"%s\",\"clientProvidedHostHeader\":\"%s\"}",
      type, management ? "true" : "false", account, category, pick(4) ? '2' : '3', ciphers[pick(3)],
      host);
  if (kind == K_SIGNIN) put(g, ",\"sessionCredentialFromConsole\":\"true\"");
  put(g, "}\n");
}

/* ---- measurement ------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; /* KiB on Linux */
}

typedef struct {
  const char **ev;
  size_t *len;
  size_t n;
  size_t bytes;
} corpus_t;

/* One timed pass; returns seconds, or a negative value on a parse failure. */
static double run_pass(const corpus_t *c, oc_arena_t *a, oc_buf_t *out, int serialize,
                       uint64_t *sink) {
  char err[128];
  double t0 = now_s();
  for (size_t i = 0; i < c->n; i++) {
    oc_json_t *v =
        oc_json_parse(a, c->ev[i], c->len[i], OC_JSON_DEFAULT_MAX_DEPTH, err, sizeof(err));
    if (!v) {
      fprintf(stderr, "event %zu: %s\n", i, err);
      return -1;
    }
    *sink += v->len;
    if (serialize) {
      oc_buf_reset(out);
      oc_json_serialize(out, v);
      *sink += out->len;
    }
    if ((i + 1) % BATCH == 0) oc_arena_reset(a);
  }
  oc_arena_reset(a);
  return now_s() - t0;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
  if (n == 0) n = 200000;

  gen_t g = {malloc(1 << 20), 0, 1 << 20};
  if (!g.p) return 1;
  size_t *off = malloc((n + 1) * sizeof(*off));
  for (size_t i = 0; i < n; i++) {
    off[i] = g.len;
    gen_event(&g, i);
  }
  off[n] = g.len;
  corpus_t c = {malloc(n * sizeof(char *)), malloc(n * sizeof(size_t)), n, 0};
  size_t minlen = SIZE_MAX, maxlen = 0;
  for (size_t i = 0; i < n; i++) {
    c.ev[i] = g.p + off[i];
    c.len[i] = off[i + 1] - off[i] - 1; /* without the newline */
    c.bytes += c.len[i];
    if (c.len[i] < minlen) minlen = c.len[i];
    if (c.len[i] > maxlen) maxlen = c.len[i];
  }
  printf("corpus: %zu CloudTrail events, %.1f MB, %.0f bytes/event (min %zu, max %zu)\n", n,
         (double)c.bytes / 1e6, (double)c.bytes / (double)n, minlen, maxlen);
  long rss_corpus = peak_rss_kb();

  oc_arena_t a;
  oc_arena_init(&a, ARENA_CHUNK);
  oc_buf_t out;
  oc_buf_init(&out);

  /* correctness first: serialize(parse(event)) reproduces every (canonical) event */
  char err[128];
  size_t mismatches = 0, arena_peak = 0;
  for (size_t i = 0; i < n; i++) {
    oc_json_t *v = oc_json_parse(&a, c.ev[i], c.len[i], 0, err, sizeof(err));
    if (!v) {
      fprintf(stderr, "event %zu does not parse: %s\n", i, err);
      return 1;
    }
    oc_buf_reset(&out);
    oc_json_serialize(&out, v);
    if (out.len != c.len[i] || memcmp(out.data, c.ev[i], out.len) != 0) {
      if (!mismatches) fprintf(stderr, "event %zu: round trip differs\n", i);
      mismatches++;
    }
    if ((i + 1) % BATCH == 0) {
      if (a.total > arena_peak) arena_peak = a.total;
      oc_arena_reset(&a);
    }
  }
  oc_arena_reset(&a);
  printf("round trip: %zu/%zu events byte-identical; arena peak %.1f MB per %d events\n",
         n - mismatches, n, (double)arena_peak / 1e6, BATCH);
  if (mismatches) return 1;

  uint64_t sink = 0;
  static const char *names[2] = {"json parse", "json parse+serialize"};
  for (int ser = 0; ser < 2; ser++) {
    double best = 1e30;
    for (int p = 0; p < PASSES; p++) {
      double s = run_pass(&c, &a, &out, ser, &sink);
      if (s < 0) return 1;
      if (s < best) best = s;
    }
    printf("%s: %.1f MB/s, %.0f events/s\n", names[ser], (double)c.bytes / 1e6 / best,
           (double)n / best);
  }
  long rss = peak_rss_kb();
  printf("peak RSS: %.1f MB (corpus and generator %.1f MB, so %.1f MB for parsing)\n",
         (double)rss / 1024, (double)rss_corpus / 1024, (double)(rss - rss_corpus) / 1024);
  if (sink == 42) printf("\n"); /* keeps the work observable */

  oc_buf_deinit(&out);
  oc_arena_deinit(&a);
  free(c.ev);
  free(c.len);
  free(off);
  free(g.p);
  return 0;
}
