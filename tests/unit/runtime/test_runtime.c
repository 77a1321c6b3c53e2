/* Unit tests for runtime.c without a broker: --help / --help-markdown print the merged
 * table, bad configuration exits 2, the HTTP endpoints answer before the loop runs
 * (not ready, not healthy, metrics, 404), readiness reasons, oc_msg_fail. */
#include "common/runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oc_test.h"

static const oc_cfgdef_t svc_defs[] = {
    {"OCELOT_TEST_SVC_THING", OC_CFG_INT, "7", 1, 9, "a service-specific knob"},
};
static const char *const topics[] = {"some-topic"};

static oc_err_t nop_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  return OC_OK;
}

static const oc_handler_t handler = {.name = "unit-svc",
                                     .topics = topics,
                                     .ntopics = 1,
                                     .cfgdefs = svc_defs,
                                     .ncfgdefs = 1,
                                     .handle_batch = nop_batch};

/* Runs oc_svc_new with argv while stdout goes to a file; returns what was printed. */
static char *new_capturing(char **argv, int argc, oc_svc_t **svc, int *rc) {
  char path[] = "/tmp/oc-test-rt-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(STDOUT_FILENO);
  fflush(stdout);
  dup2(fd, STDOUT_FILENO);
  *svc = oc_svc_new(&handler, argc, argv, rc);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)size + 1);
  if (pread(fd, text, (size_t)size, 0) != size) text[0] = '\0';
  close(fd);
  unlink(path);
  return text;
}

static void test_help(void) {
  char *argv[] = {"/usr/bin/ocelot-unit", "--help", NULL};
  oc_svc_t *svc;
  int rc = -1;
  char *out = new_capturing(argv, 2, &svc, &rc);
  OC_CHECK(svc == NULL);
  OC_CHECK_INT(rc, 0);
  OC_CHECK(strstr(out, "Usage: ocelot-unit") != NULL);
  OC_CHECK(strstr(out, "OCELOT_KAFKA_BROKERS (string, default \"127.0.0.1:9092\")") != NULL);
  OC_CHECK(strstr(out, "OCELOT_BATCH_MAX (integer, 1..100000, default \"500\")") != NULL);
  OC_CHECK(strstr(out, "OCELOT_TEST_SVC_THING (integer, 1..9, default \"7\")") != NULL);
  /* Runtime variables first, then the service's. */
  OC_CHECK(strstr(out, "OCELOT_INSTANCE_ID") < strstr(out, "OCELOT_TEST_SVC_THING"));
  free(out);

  char *argv2[] = {"x", "--help-markdown", NULL};
  out = new_capturing(argv2, 2, &svc, &rc);
  OC_CHECK(svc == NULL);
  OC_CHECK_INT(rc, 0);
  OC_CHECK(
      strstr(out, "| `OCELOT_PG_DSN` | string | `postgresql://ocelot@127.0.0.1:5432/ocelot` |") !=
      NULL);
  OC_CHECK(
      strstr(out, "| `OCELOT_TEST_SVC_THING` | integer (1..9) | `7` | a service-specific knob |") !=
      NULL);
  free(out);
}

static void test_bad_configuration(void) {
  static const struct {
    const char *env, *value;
  } bad[] = {{"OCELOT_BATCH_MAX", "0"},
             {"OCELOT_LOG_LEVEL", "loud"},
             {"OCELOT_RETRY_BACKOFF_MAX_MS", "10"},
             {"OCELOT_TEST_SVC_THING", "10"},
             {"OCELOT_HTTP_PORT", "-1"}};
  char *argv[] = {"svc", NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = -1;
    setenv(bad[i].env, bad[i].value, 1);
    oc_svc_t *svc = oc_svc_new(&handler, 1, argv, &rc);
    OC_CHECK(svc == NULL);
    OC_CHECK_INT(rc, 2);
    if (svc) oc_svc_destroy(svc);
    unsetenv(bad[i].env);
  }
  char *argv2[] = {"svc", "extra", NULL};
  int rc = -1;
  OC_CHECK(oc_svc_new(&handler, 2, argv2, &rc) == NULL);
  OC_CHECK_INT(rc, 2);
}

static int http_get(int port, const char *path, char *body, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  char req[256];
  int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) return -1;
  char resp[16384];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof(resp) - 1 && (r = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
    len += (size_t)r;
  resp[len] = '\0';
  close(fd);
  int status = -1;
  sscanf(resp, "HTTP/1.%*d %d", &status);
  const char *b = strstr(resp, "\r\n\r\n");
  snprintf(body, size, "%s", b ? b + 4 : "");
  return status;
}

static void test_endpoints_before_run(void) {
  char *argv[] = {"svc", NULL};
  char body[8192], why[256];
  int rc = -1;
  setenv("OCELOT_HTTP_PORT", "0", 1);
  oc_svc_t *svc = oc_svc_new(&handler, 1, argv, &rc);
  OC_CHECK(svc != NULL);
  if (!svc) return;
  OC_CHECK_INT(rc, 0);
  int port = oc_svc_http_port(svc);
  OC_CHECK(port > 0);
  OC_CHECK_STR(oc_svc_name(svc), "unit-svc");
  OC_CHECK_INT(oc_config_int(oc_svc_config(svc), "OCELOT_TEST_SVC_THING"), 7);
  OC_CHECK(oc_svc_arena(svc) != NULL);
  OC_CHECK(oc_svc_pg(svc) == NULL);
  OC_CHECK(oc_svc_redis(svc) == NULL);

  OC_CHECK_INT(http_get(port, "/readyz", body, sizeof(body)), 503);
  OC_CHECK_STR(body, "not ready: starting\n");
  OC_CHECK_INT(http_get(port, "/healthz", body, sizeof(body)), 503);
  OC_CHECK_INT(http_get(port, "/metrics", body, sizeof(body)), 200);
  OC_CHECK(strstr(body, "\nocelot_ready 0\n") != NULL);
  OC_CHECK(strstr(body, "ocelot_records_in_total{topic=\"some-topic\"} 0\n") != NULL);
  OC_CHECK(strstr(body, "# TYPE ocelot_batch_duration_seconds histogram\n") != NULL);
  OC_CHECK_INT(http_get(port, "/other", body, sizeof(body)), 404);

  oc_svc_set_ready(svc, false, "warming the cache");
  OC_CHECK(!oc_svc_ready(svc, why, sizeof(why)));
  OC_CHECK(strstr(why, "warming the cache") != NULL);
  OC_CHECK_INT(http_get(port, "/readyz", body, sizeof(body)), 503);
  OC_CHECK(strstr(body, "starting; warming the cache") != NULL);
  oc_svc_set_ready(svc, true, NULL);
  OC_CHECK(!oc_svc_ready(svc, why, sizeof(why)));
  OC_CHECK_STR(why, "starting");
  OC_CHECK(!oc_svc_stopping(svc));
  oc_svc_request_stop(svc);
  OC_CHECK(oc_svc_stopping(svc));
  oc_svc_destroy(svc);
  oc_svc_destroy(NULL);
}

static void test_msg_fail(void) {
  oc_msg_t m = {0};
  oc_msg_fail(&m, OC_ERR_DECODE, "bad %s at %d", "thing", 3);
  OC_CHECK_INT(m.err, OC_ERR_DECODE);
  OC_CHECK_STR(m.errmsg, "bad thing at 3");
  oc_msg_fail(&m, OC_OK, "%s", "ok is not a failure");
  OC_CHECK_INT(m.err, OC_ERR_INTERNAL);
  char big[2000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  oc_msg_fail(&m, OC_ERR_LIMIT, "%s", big);
  OC_CHECK_INT(strlen(m.errmsg), sizeof(m.errmsg) - 1);
}

OC_TEST_MAIN(OC_TEST(test_help), OC_TEST(test_bad_configuration),
             OC_TEST(test_endpoints_before_run), OC_TEST(test_msg_fail))
