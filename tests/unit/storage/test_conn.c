/* test_conn.c: Postgres and Redis adapter behaviour that needs no server: URL parsing,
 * refused connections classed as OC_ERR_UNAVAILABLE (quickly), error texts. */
#include "common/pg.h"
#include "common/redis.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "oc_test.h"

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_redis_urls(void) {
  static const char *good[] = {
      "redis://127.0.0.1:6379/0", "redis://localhost", "redis://h:1/15",       "h:6380",
      "redis://:secret@h:6379/2", "redis://user:pw@h", "redis://[::1]:6379/1", "redis://h:6379/",
  };
  static const char *bad[] = {
      "",
      "http://h:6379",
      "redis://",
      "redis://h:0",
      "redis://h:70000",
      "redis://h:12ab",
      "redis://h:6379/x",
      "redis://h:6379/-1",
      "redis://[::1",
      "redis://h h:1",
  };
  char errstr[256];
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    oc_redis_t *r = oc_redis_new(good[i], errstr, sizeof(errstr));
    if (!r) fprintf(stderr, "refused \"%s\": %s\n", good[i], errstr);
    OC_CHECK(r != NULL);
    oc_redis_destroy(r);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    oc_redis_t *r;
    errstr[0] = '\0';
    r = oc_redis_new(bad[i], errstr, sizeof(errstr));
    if (r) fprintf(stderr, "accepted \"%s\"\n", bad[i]);
    OC_CHECK(r == NULL);
    OC_CHECK(strncmp(errstr, "invalid Redis URL", 17) == 0);
    oc_redis_destroy(r);
  }
  oc_redis_destroy(NULL);
}

static void test_redis_refused(void) {
  char url[64], errstr[256] = "", want[64];
  int port = closed_port();
  double t0;
  redisReply *reply = (redisReply *)1;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", port);
  oc_redis_t *r = oc_redis_new(url, errstr, sizeof(errstr));
  OC_CHECK(r != NULL);
  if (!r) return;
  t0 = now_s();
  OC_CHECK_INT(oc_redis_connect(r, errstr, sizeof(errstr)), OC_ERR_UNAVAILABLE);
  snprintf(want, sizeof(want), "could not connect to Redis at 127.0.0.1:%d: ", port);
  OC_CHECK(strncmp(errstr, want, strlen(want)) == 0);
  OC_CHECK_INT(oc_redis_cmd(r, &reply, errstr, sizeof(errstr), "PING"), OC_ERR_UNAVAILABLE);
  OC_CHECK(reply == NULL);
  OC_CHECK(now_s() - t0 < 1.0);
  oc_redis_destroy(r);
}

static void test_pg_refused(void) {
  char dsn[128], errstr[512] = "";
  int port = closed_port();
  double t0;
  PGresult *res = (PGresult *)1;
  /* both DSN forms */
  for (int form = 0; form < 2; form++) {
    if (form == 0)
      snprintf(dsn, sizeof(dsn), "postgresql://ocelot@127.0.0.1:%d/ocelot", port);
    else
      snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%d user=ocelot dbname=ocelot", port);
    oc_pg_t *pg = oc_pg_new(dsn);
    OC_CHECK(pg != NULL);
    if (!pg) return;
    OC_CHECK(!oc_pg_ok(pg));
    OC_CHECK(oc_pg_conn(pg) == NULL);
    t0 = now_s();
    OC_CHECK_INT(oc_pg_connect(pg, errstr, sizeof(errstr)), OC_ERR_UNAVAILABLE);
    OC_CHECK(strncmp(errstr, "could not connect to Postgres: ", 31) == 0);
    OC_CHECK(strchr(errstr, '\n') == NULL); /* first line only */
    OC_CHECK_INT(oc_pg_exec(pg, &res, "SELECT 1", 0, NULL, errstr, sizeof(errstr)),
                 OC_ERR_UNAVAILABLE);
    OC_CHECK(res == NULL);
    OC_CHECK(now_s() - t0 < 2.0);
    oc_pg_rollback(pg); /* accepts a dead connection */
    OC_CHECK(!oc_pg_ok(pg));
    oc_pg_destroy(pg);
  }
  OC_CHECK_INT(oc_pg_result_err(NULL), OC_ERR_UNAVAILABLE);
  oc_pg_destroy(NULL);
}

OC_TEST_MAIN(OC_TEST(test_redis_urls), OC_TEST(test_redis_refused), OC_TEST(test_pg_refused))
