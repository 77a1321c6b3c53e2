/* bench_processor.c: the log-processor's per-object work in process, without Kafka.
 * Generates a CloudTrail JSON-lines file (default 200,000 events of ~1.5 KB), writes it
 * plain, gzip- and zstd-compressed, plus the same events in CloudTrail's own gzip
 * {"Records":[...]} form, and runs oc_objproc_run() over each variant in a child process
 * of its own, printing events/s, MB/s (uncompressed input bytes per wall-clock second),
 * MB per CPU second (the same on an idle core; steadier on a busy machine) and the
 * child's peak RSS.
 *
 *   bench_processor [-n EVENTS] [--keep] [--dir DIR]
 *   bench_processor --input FILE [--type LOGTYPE]   one existing file of any log type
 *                                                   (default AWS.CloudTrail), in process
 *
 * It links the log-processor's library (bench/CMakeLists.txt). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#include "services/log-processor/object.h"
#include "services/log-processor/processor.h"

#define T0 INT64_C(1793527200) /* 2026-11-01T10:00:00Z */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static const char *const names[] = {"GetObject",         "PutObject",   "ListBuckets",
                                    "DescribeInstances", "AssumeRole",  "Decrypt",
                                    "GetCallerIdentity", "ConsoleLogin"};
static const char *const sources[] = {"s3.amazonaws.com", "ec2.amazonaws.com", "sts.amazonaws.com",
                                      "kms.amazonaws.com", "signin.amazonaws.com"};

/* One realistic CloudTrail event (~1.5 KB), as the trail writes it, at T0 + ms. */
static void make_event(oc_buf_t *b, uint64_t i, int64_t ms) {
  char ts[32];
  time_t t = (time_t)(T0 + ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  uint64_t r1 = rnd(), r2 = rnd(), r3 = rnd(), r4 = rnd();
  oc_buf_appendf(
      b,
      "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":"
      "\"AROA%016llX:i-session\",\"arn\":\"arn:aws:sts::123456789012:assumed-role/"
      "lambda-ingest-exec/"
      "i-session\",\"accountId\":\"123456789012\",\"accessKeyId\":\"ASIA%016llX\","
      "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA%016llX\","
      "\"arn\":\"arn:aws:iam::123456789012:role/"
      "lambda-ingest-exec\",\"accountId\":\"123456789012\","
      "\"userName\":\"lambda-ingest-exec\"},\"webIdFederationData\":{},\"attributes\":{"
      "\"creationDate\":\"%s\",\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"%s\","
      "\"eventSource\":\"%s\",\"eventName\":\"%s\",\"awsRegion\":\"us-east-1\","
      "\"sourceIPAddress\":\"198.51.100.%llu\",\"userAgent\":\"aws-sdk-go-v2/1.21.0 os/linux "
      "lang/go#1.21.1\",\"requestParameters\":{"
      "\"bucketName\":\"logs-%llu\",\"Host\":\"logs-%llu.s3.us-east-1.amazonaws.com\",\"key\":"
      "\"data/2026/11/01/%016llx.json.gz\"},\"responseElements\":null,"
      "\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":"
      "\"ECDHE-RSA-AES128-GCM-SHA256\",\"bytesTransferredIn\":0,\"AuthenticationMethod\":"
      "\"AuthHeader\",\"x-amz-id-2\":\"%016llx%016llx%016llx\",\"bytesTransferredOut\":%llu},"
      "\"requestID\":\"%016llX\",\"eventID\":\"%08llx-%04llx-%04llx-%04llx-%012llx\","
      "\"readOnly\":true,\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":"
      "\"arn:aws:s3:::logs-%llu/data/2026/11/01/%016llx.json.gz\"}],\"eventType\":"
      "\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"123456789012\","
      "\"eventCategory\":\"Data\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":"
      "\"ECDHE-RSA-AES128-GCM-SHA256\",\"clientProvidedHostHeader\":"
      "\"logs-%llu.s3.us-east-1.amazonaws.com\"}}\n",
      (unsigned long long)r1, (unsigned long long)r2, (unsigned long long)(r1 >> 3), ts, ts,
      sources[i % 5], names[r3 % 8], (unsigned long long)(r3 % 254 + 1),
      (unsigned long long)(r4 % 9), (unsigned long long)(r4 % 9), (unsigned long long)r2,
      (unsigned long long)r1, (unsigned long long)r2, (unsigned long long)r3,
      (unsigned long long)(r4 % 100000), (unsigned long long)r4,
      (unsigned long long)(r1 & 0xffffffff), (unsigned long long)(r2 & 0xffff),
      (unsigned long long)(r3 & 0xffff), (unsigned long long)(r4 & 0xffff),
      (unsigned long long)(r1 >> 16 & 0xffffffffffffull), (unsigned long long)(r4 % 9),
      (unsigned long long)r2, (unsigned long long)(r4 % 9));
}

static void die(const char *what) {
  fprintf(stderr, "bench_processor: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Streams n events to <dir>/objects/bench/ct.json, .json.gz and .json.zst; returns the
 * uncompressed size. */
static uint64_t generate(const char *objdir, long n) {
  char path[1024];
  oc_buf_t b;
  uint64_t total = 0;
  snprintf(path, sizeof(path), "%s/ct.json", objdir);
  FILE *plain = fopen(path, "wb");
  snprintf(path, sizeof(path), "%s/ct.json.gz", objdir);
  gzFile gz = gzopen(path, "wb6");
  snprintf(path, sizeof(path), "%s/ct.json.zst", objdir);
  FILE *zf = fopen(path, "wb");
  snprintf(path, sizeof(path), "%s/ct-records.json.gz", objdir);
  gzFile rgz = gzopen(path, "wb6"); /* CloudTrail's own form: {"Records":[...]} */
  oc_buf_t ev;
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  size_t zcap = ZSTD_CStreamOutSize();
  char *zout = malloc(zcap);
  if (!plain || !gz || !zf || !rgz || !cctx || !zout) die("could not create the input files");
  oc_buf_init(&ev);
  gzputs(rgz, "{\"Records\":[");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  oc_buf_init(&b);
  for (long i = 0; i <= n; i++) {
    int last = i == n;
    if (!last) { /* 20 events a second */
      oc_buf_reset(&ev);
      make_event(&ev, (uint64_t)i, (int64_t)i * 50);
      oc_buf_append(&b, ev.data, ev.len);
      if (i) gzputc(rgz, ',');
      if (gzwrite(rgz, ev.data, (unsigned)ev.len - 1) != (int)ev.len - 1) die("gzwrite");
    }
    if (b.len >= (1 << 20) || last) {
      ZSTD_inBuffer in = {b.data, b.len, 0};
      if (fwrite(b.data, 1, b.len, plain) != b.len) die("write");
      if (b.len && gzwrite(gz, b.data, (unsigned)b.len) != (int)b.len) die("gzwrite");
      for (;;) {
        ZSTD_outBuffer out = {zout, zcap, 0};
        size_t left = ZSTD_compressStream2(cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) die("zstd");
        if (out.pos && fwrite(zout, 1, out.pos, zf) != out.pos) die("write");
        if (last ? left == 0 : in.pos == in.size) break;
      }
      total += b.len;
      oc_buf_reset(&b);
    }
  }
  gzputs(rgz, "]}");
  gzclose(rgz);
  oc_buf_deinit(&ev);
  fclose(plain);
  gzclose(gz);
  fclose(zf);
  ZSTD_freeCCtx(cctx);
  free(zout);
  oc_buf_deinit(&b);
  return total;
}

typedef struct {
  int ok;
  double secs, cpu; /* wall and CPU (user + system) seconds of the run */
  uint64_t events, rejected, bytes_out, bytes_in, files, lake_bytes;
} bench_out_t;

static const char *bench_type = "AWS.CloudTrail"; /* --type */

static void run_child(const char *objroot, const char *lakeroot, const char *key, int fd) {
  bench_out_t o = {0};
  char err[1024];
  /* the processor's default lake level unless OC_BENCH_ZSTD_LEVEL says otherwise */
  const char *lv = getenv("OC_BENCH_ZSTD_LEVEL");
  oc_objproc_config_t cfg = {objroot, lakeroot, 1 << 20, 64, lv ? atoi(lv) : 1, 100000};
  oc_logtypes_t *reg = oc_processor_load_types(NULL, NULL, err, sizeof(err));
  if (!reg) {
    fprintf(stderr, "%s\n", err);
    _exit(1);
  }
  const oc_logtype_t *types[] = {oc_logtypes_find(reg, bench_type)};
  if (!types[0]) {
    fprintf(stderr, "unknown log type %s\n", bench_type);
    _exit(1);
  }
  oc_objproc_source_t src = {"bench", "Bench CloudTrail", types, 1};
  oc_objproc_result_t res;
  oc_objproc_t *p = oc_objproc_new(&cfg, NULL, err, sizeof(err));
  if (!p) {
    fprintf(stderr, "%s\n", err);
    _exit(1);
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  int64_t t0 = oc_monotonic_us();
  oc_err_t rc = oc_objproc_run(p, &src, "bench", key, "v1", oc_now_us(), &res, err, sizeof(err));
  int64_t t1 = oc_monotonic_us();
  getrusage(RUSAGE_SELF, &r1);
  o.cpu =
      (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
      (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
               r0.ru_stime.tv_usec) /
          1e6;
  if (rc) fprintf(stderr, "run %s: %s\n", key, err);
  o.ok = rc == OC_OK;
  o.secs = (double)(t1 - t0) / 1e6;
  o.events = res.events;
  o.rejected = res.rejected;
  o.bytes_out = res.bytes_out;
  o.bytes_in = res.bytes_in;
  o.files = res.nfiles;
  for (size_t i = 0; i < res.nfiles; i++)
    o.lake_bytes += res.files[i].bytes;
  if (write(fd, &o, sizeof(o)) != (ssize_t)sizeof(o)) _exit(1);
  oc_objproc_destroy(p);
  oc_logtypes_destroy(reg);
  _exit(0);
}

int main(int argc, char **argv) {
  long n = 200000;
  int keep = 0;
  const char *base = NULL, *input = NULL;
  char dir[512], objroot[600], lakeroot[600], objdir[700];
  static const char *const keys[] = {"ct.json", "ct.json.gz", "ct.json.zst", "ct-records.json.gz"};
  static const char *const labels[] = {"plain", "gzip", "zstd", "records.gz"};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
      n = atol(argv[++i]);
    else if (strcmp(argv[i], "--keep") == 0)
      keep = 1;
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      base = argv[++i];
    else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
      input = argv[++i];
    else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
      bench_type = argv[++i];
    else {
      fprintf(stderr,
              "usage: bench_processor [-n EVENTS] [--keep] [--dir DIR] [--input FILE [--type "
              "LOGTYPE]]\n");
      return 2;
    }
  }
  if (n < 1 || n > 100000000) {
    fprintf(stderr, "bench_processor: -n must be 1..100000000\n");
    return 2;
  }
  snprintf(dir, sizeof(dir), "%s/oc-bench-processor-XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp");
  snprintf(objroot, sizeof(objroot), "%s/objects", dir);
  snprintf(lakeroot, sizeof(lakeroot), "%s/lake", dir);
  snprintf(objdir, sizeof(objdir), "%s/bench", objroot);
  if (mkdir(objroot, 0755) || mkdir(lakeroot, 0755) || mkdir(objdir, 0755)) die("mkdir");
  oc_log_init("bench_processor", OC_LOG_WARN);

  if (input) { /* one existing file, in this process (for perf record) */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s/in'", input, objdir);
    if (system(cmd) != 0) die("cp");
    int pfd[2];
    bench_out_t o = {0};
    if (pipe(pfd)) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      run_child(objroot, lakeroot, "in", pfd[1]);
    }
    close(pfd[1]);
    if (read(pfd[0], &o, sizeof(o)) != (ssize_t)sizeof(o)) die("read");
    struct rusage ru;
    if (wait4(pid, NULL, 0, &ru) < 0) die("wait4");
    printf(
        "%s: %s: %llu events, %llu rejected, %.1f MB in %.3f s (%.3f cpu s): %.1f MB/s, "
        "%.1f MB/cpu-s, %.0f events/cpu-s, peak RSS %.1f MB\n",
        input, bench_type, (unsigned long long)o.events, (unsigned long long)o.rejected,
        (double)o.bytes_out / 1e6, o.secs, o.cpu, (double)o.bytes_out / 1e6 / o.secs,
        (double)o.bytes_out / 1e6 / o.cpu, (double)o.events / o.cpu, ru.ru_maxrss / 1024.0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return o.ok ? 0 : 1;
  }
  int64_t g0 = oc_monotonic_us();
  uint64_t total = generate(objdir, n);
  printf("generated %ld CloudTrail events, %.1f MB uncompressed (%.0f bytes/event) in %.1f s\n", n,
         (double)total / 1e6, (double)total / (double)n, (double)(oc_monotonic_us() - g0) / 1e6);
  printf("%-10s %10s %10s %12s %10s %10s %8s %7s %12s\n", "input", "in MB", "seconds", "events/s",
         "MB/s", "MB/cpu-s", "files", "rej", "peak RSS MB");
  int failed = 0;
  for (int v = 0; v < 4; v++) {
    int pfd[2];
    bench_out_t o = {0};
    struct rusage ru;
    int status = 0;
    if (pipe(pfd)) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      close(pfd[0]);
      run_child(objroot, lakeroot, keys[v], pfd[1]);
    }
    close(pfd[1]);
    ssize_t got = read(pfd[0], &o, sizeof(o));
    close(pfd[0]);
    if (wait4(pid, &status, 0, &ru) < 0) die("wait4");
    if (got != (ssize_t)sizeof(o) || !o.ok || o.events != (uint64_t)n) {
      fprintf(stderr, "bench_processor: %s run failed (%llu of %ld events)\n", labels[v],
              (unsigned long long)o.events, n);
      failed = 1;
      continue;
    }
    printf("%-10s %10.1f %10.3f %12.0f %10.1f %10.1f %8llu %7llu %12.1f\n", labels[v],
           (double)o.bytes_in / 1e6, o.secs, (double)o.events / o.secs,
           (double)o.bytes_out / 1e6 / o.secs, (double)o.bytes_out / 1e6 / o.cpu,
           (unsigned long long)o.files, (unsigned long long)o.rejected,
           (double)ru.ru_maxrss / 1024.0);
  }
  if (keep) {
    printf("kept %s\n", dir);
  } else {
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  return failed;
}
