/* bench_indicators.c: cost of Panther's indicator fields per event
 * (services/log-processor/indicators.c) on CloudTrail-shaped events.
 *
 * Generates DISTINCT events (varied ids, addresses, ARNs, tags) with a fixed-seed PRNG and
 * times two loops over them: parse alone, and parse + indicators (reset, the schema's ip
 * scanner on sourceIPAddress, the AWS walk over the whole event, write() into a reused
 * buffer), as the processor does them, with the tree hot in cache after its parse. The
 * difference is the cost of the indicators. argv[1] = events per loop (default
 * 1,000,000). Prints ns/event for the best of a few interleaved passes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "services/log-processor/indicators.h"

#define DISTINCT 1000
#define PASSES 5

static uint64_t rng_state = 0x1DC0FFEE1DC0FFEEull;

static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void hex(char *out, size_t n) {
  static const char H[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    out[i] = H[rng() % 16];
  out[n] = '\0';
}

static void digits(char *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = (char)('0' + rng() % 10);
  out[n] = '\0';
}

static const char *roles[] = {"OrgAccessRole", "LogProcessingRole", "PipelineWorker", "ci-deploy"};
static const char *events[] = {"RunInstances", "AssumeRole", "GetObject", "PutBucketTagging"};

static int gen(char *buf, size_t cap) {
  char acct[13], acct2[13], inst[18], inst2[18], req[9];
  digits(acct, 12);
  digits(acct2, 12);
  hex(inst, 17);
  hex(inst2, 17);
  hex(req, 8);
  const char *role = roles[rng() % 4];
  unsigned ip = (unsigned)rng();
  return snprintf(
      buf, cap,
      "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":"
      "\"AROA%s:alice\",\"arn\":\"arn:aws:sts::%s:assumed-role/%s/alice\",\"accountId\":\"%s\","
      "\"accessKeyId\":\"ASIA%s\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
      "\"principalId\":\"AROA%s\",\"arn\":\"arn:aws:iam::%s:role/%s\",\"accountId\":\"%s\","
      "\"userName\":\"%s\"},\"attributes\":{\"creationDate\":\"2026-11-01T09:00:00Z\","
      "\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"2026-11-01T10:00:05Z\",\"eventSource\":"
      "\"ec2.amazonaws.com\",\"eventName\":\"%s\",\"awsRegion\":\"us-east-1\","
      "\"sourceIPAddress\":\"%u.%u.%u.%u\",\"userAgent\":\"aws-cli/2.9.13 Python/3.9.11\","
      "\"requestParameters\":{\"instanceType\":\"t3.micro\",\"tagSpecificationSet\":{\"items\":"
      "[{\"resourceType\":\"instance\",\"tags\":[{\"key\":\"Name\",\"value\":\"web-%s\"},{\"key\":"
      "\"env\",\"value\":\"prod\"}]}]}},\"responseElements\":{\"requestId\":\"%s\","
      "\"instancesSet\":{\"items\":[{\"instanceId\":\"i-%s\",\"imageId\":\"ami-0abcdef12345678\","
      "\"privateIpAddress\":\"10.0.0.5\"}]}},\"requestID\":\"%s\",\"eventID\":\"%s-1b2c-4d5e\","
      "\"readOnly\":false,\"resources\":[{\"ARN\":\"arn:aws:ec2:us-east-1:%s:instance/i-%s\","
      "\"accountId\":\"%s\",\"type\":\"AWS::EC2::Instance\"}],\"eventType\":\"AwsApiCall\","
      "\"managementEvent\":true,\"recipientAccountId\":\"%s\",\"eventCategory\":\"Management\"}",
      req, acct, role, acct, req, req, acct, role, acct, role, events[rng() % 4], ip >> 24,
      (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, req, req, inst, req, req, acct2, inst2, acct2,
      acct);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over n events: parse each (arena reset per event), and when ind is set compute
 * its indicators as the processor does. Returns seconds. */
static double run(long n, bool ind, char text[][4096], const size_t *lens, oc_arena_t *a,
                  oc_indset_t *s, oc_buf_t *out, size_t *values, size_t *outbytes) {
  char err[256];
  *values = *outbytes = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    oc_arena_reset(a);
    const oc_json_t *e =
        oc_json_parse(a, text[i % DISTINCT], lens[i % DISTINCT], 64, err, sizeof(err));
    if (!e) abort();
    if (!ind) continue;
    oc_indset_reset(s);
    const oc_json_t *ip = oc_json_get(e, "sourceIPAddress");
    if (oc_json_is_string(ip)) oc_indset_scan(s, OC_IND_IP, ip->s, ip->len);
    oc_indset_walk_aws(s, e);
    oc_buf_reset(out);
    if (!oc_indset_write(s, out)) abort();
    *values += oc_indset_size(s);
    *outbytes += out->len;
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n <= 0) n = 1000000;
  static char text[DISTINCT][4096];
  static size_t lens[DISTINCT];
  size_t bytes = 0;
  for (int i = 0; i < DISTINCT; i++) {
    int len = gen(text[i], sizeof(text[i]));
    if (len <= 0 || (size_t)len >= sizeof(text[i])) return 1;
    lens[i] = (size_t)len;
    bytes += lens[i];
  }
  oc_arena_t a;
  oc_indset_t s;
  oc_buf_t out;
  oc_arena_init(&a, 256 * 1024);
  oc_indset_init(&s);
  oc_buf_init(&out);
  size_t values = 0, outbytes = 0;
  double best_parse = 1e30, best_both = 1e30;
  for (int pass = 0; pass < PASSES; pass++) { /* interleaved, so load hits both alike */
    double t = run(n, false, text, lens, &a, &s, &out, &values, &outbytes);
    if (t < best_parse) best_parse = t;
    t = run(n, true, text, lens, &a, &s, &out, &values, &outbytes);
    if (t < best_both) best_both = t;
  }
  double ns_parse = best_parse * 1e9 / (double)n, ns_both = best_both * 1e9 / (double)n;
  printf("indicators: %ld CloudTrail events (%d distinct, avg %zu B), best of %d passes\n", n,
         DISTINCT, bytes / DISTINCT, PASSES);
  printf("  parse alone            %8.1f ns/event\n", ns_parse);
  printf("  parse + indicators     %8.1f ns/event\n", ns_both);
  printf("  indicators (the delta) %8.1f ns/event = %.0f events/s; %.1f values, %.0f B out/event\n",
         ns_both - ns_parse, 1e9 / (ns_both - ns_parse), (double)values / (double)n,
         (double)outbytes / (double)n);
  oc_indset_reset(&s);
  char err[256];
  oc_arena_reset(&a);
  oc_indset_walk_aws(&s, oc_json_parse(&a, text[0], lens[0], 64, err, sizeof(err)));
  oc_buf_reset(&out);
  oc_indset_write(&s, &out);
  printf("  sample (walk only): %s\n", out.data ? out.data : "");
  oc_buf_deinit(&out);
  oc_indset_deinit(&s);
  oc_arena_deinit(&a);
  return 0;
}
