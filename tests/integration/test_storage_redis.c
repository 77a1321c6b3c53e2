/* test_storage_redis.c: the Redis adapter against a real server (run under
 * tests/lib/withstack.py, which exports OCELOT_REDIS_URL): commands and replies, error
 * replies, database selection, reconnecting after CLIENT KILL, the command timeout,
 * and an unreachable server. */
#include "common/redis.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "oc_test.h"

static const char *url;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static oc_redis_t *client(const char *u) {
  char errstr[256];
  oc_redis_t *r = oc_redis_new(u, errstr, sizeof(errstr));
  if (!r) {
    fprintf(stderr, "bad url %s: %s\n", u, errstr);
    exit(1);
  }
  return r;
}

/* OCELOT_REDIS_URL with its database replaced by db. */
static void url_db(char *out, size_t out_size, int db) {
  const char *hp = strstr(url, "://");
  const char *slash;
  hp = hp ? hp + 3 : url;
  slash = strchr(hp, '/');
  snprintf(out, out_size, "%.*s/%d", (int)(slash ? slash - url : (long)strlen(url)), url, db);
  if (!strstr(url, "://")) {
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "redis://%s", out);
    snprintf(out, out_size, "%s", tmp);
  }
}

static long long client_id(oc_redis_t *r) {
  char errstr[256];
  redisReply *rep = NULL;
  long long id = -1;
  if (oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "CLIENT ID") == OC_OK &&
      rep->type == REDIS_REPLY_INTEGER)
    id = rep->integer;
  if (rep) freeReplyObject(rep);
  return id;
}

static void test_commands(void) {
  oc_redis_t *r = client(url);
  char errstr[256] = "";
  redisReply *rep = NULL;
  OC_CHECK_INT(oc_redis_connect(r, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "SET %s %s", "st:k", "v 1"), OC_OK);
  OC_CHECK_INT(oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "GET %s", "st:k"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "v 1") == 0);
  if (rep) freeReplyObject(rep);
  /* argv with binary values */
  {
    const char *argv[3] = {"SET", "st:bin", "a\0b"};
    size_t lens[3] = {3, 6, 3};
    const char *gargv[2] = {"GET", "st:bin"};
    OC_CHECK_INT(oc_redis_cmdargv(r, NULL, 3, argv, lens, errstr, sizeof(errstr)), OC_OK);
    OC_CHECK_INT(oc_redis_cmdargv(r, &rep, 2, gargv, NULL, errstr, sizeof(errstr)), OC_OK);
    OC_CHECK(rep && rep->type == REDIS_REPLY_STRING && rep->len == 3 &&
             memcmp(rep->str, "a\0b", 3) == 0);
    if (rep) freeReplyObject(rep);
    OC_CHECK_INT(oc_redis_cmdargv(r, &rep, 0, argv, NULL, errstr, sizeof(errstr)), OC_ERR_INVALID);
  }
  OC_CHECK_INT(oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "INCR st:n"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
  if (rep) freeReplyObject(rep);
  OC_CHECK_INT(oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "GET st:missing"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_NIL);
  if (rep) freeReplyObject(rep);
  /* an error reply is the caller's mistake; the connection stays */
  rep = (redisReply *)1;
  OC_CHECK_INT(oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "INCR st:k"), OC_ERR_INVALID);
  OC_CHECK(rep == NULL);
  OC_CHECK(strncmp(errstr, "Redis error: ERR", 16) == 0);
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "NOSUCHCOMMAND"), OC_ERR_INVALID);
  OC_CHECK_INT(oc_redis_cmd(r, &rep, errstr, sizeof(errstr), "PING"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0);
  if (rep) freeReplyObject(rep);
  oc_redis_destroy(r);
}

static void test_select_db(void) {
  char u7[256], u0[256], errstr[256];
  redisReply *rep = NULL;
  url_db(u7, sizeof(u7), 7);
  url_db(u0, sizeof(u0), 0);
  oc_redis_t *r7 = client(u7), *r0 = client(u0), *again = client(u7);
  OC_CHECK_INT(oc_redis_cmd(r7, NULL, errstr, sizeof(errstr), "SET st:db seven"), OC_OK);
  OC_CHECK_INT(oc_redis_cmd(r0, &rep, errstr, sizeof(errstr), "GET st:db"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_NIL);
  if (rep) freeReplyObject(rep);
  OC_CHECK_INT(oc_redis_cmd(again, &rep, errstr, sizeof(errstr), "GET st:db"), OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "seven") == 0);
  if (rep) freeReplyObject(rep);
  oc_redis_destroy(r7);
  oc_redis_destroy(r0);
  /* the database is selected again after a reconnect */
  {
    oc_redis_t *killer = client(url);
    long long id = client_id(again);
    OC_CHECK(id > 0);
    OC_CHECK_INT(oc_redis_cmd(killer, NULL, errstr, sizeof(errstr), "CLIENT KILL ID %lld", id),
                 OC_OK);
    OC_CHECK_INT(oc_redis_cmd(again, &rep, errstr, sizeof(errstr), "GET st:db"), OC_OK);
    OC_CHECK(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "seven") == 0);
    if (rep) freeReplyObject(rep);
    oc_redis_destroy(killer);
  }
  oc_redis_destroy(again);
  /* a database the server does not have */
  {
    char u[256];
    url_db(u, sizeof(u), 99999);
    oc_redis_t *bad = client(u);
    OC_CHECK_INT(oc_redis_connect(bad, errstr, sizeof(errstr)), OC_ERR_UNAVAILABLE);
    OC_CHECK(strstr(errstr, "could not select database") != NULL);
    oc_redis_destroy(bad);
  }
}

static void test_client_kill(void) {
  oc_redis_t *r = client(url), *killer = client(url);
  char errstr[256];
  redisReply *rep = NULL;
  long long id1 = client_id(r), id2;
  OC_CHECK(id1 > 0);
  OC_CHECK_INT(oc_redis_cmd(killer, &rep, errstr, sizeof(errstr), "CLIENT KILL ID %lld", id1),
               OC_OK);
  OC_CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
  if (rep) freeReplyObject(rep);
  sleep_ms(20);
  /* noticed before sending: the command goes out on a new connection */
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "SET st:after-kill 1"), OC_OK);
  id2 = client_id(r);
  OC_CHECK(id2 > 0 && id2 != id1);
  oc_redis_destroy(r);
  oc_redis_destroy(killer);
}

/* A command the server does not answer within 2 s fails as unavailable; the next call
 * reconnects. */
static void test_command_timeout(void) {
  oc_redis_t *r = client(url), *pauser = client(url);
  char errstr[256] = "";
  double t0, took;
  OC_CHECK_INT(oc_redis_connect(r, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(oc_redis_cmd(pauser, NULL, errstr, sizeof(errstr), "CLIENT PAUSE 3500 ALL"), OC_OK);
  t0 = now_s();
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "GET st:k"), OC_ERR_UNAVAILABLE);
  took = now_s() - t0;
  OC_CHECK(took > 1.5 && took < 3.0);
  OC_CHECK(strncmp(errstr, "Redis command failed", 20) == 0);
  OC_CHECK(strstr(errstr, "no reply within 2000 ms") != NULL);
  while (now_s() - t0 < 4.0)
    sleep_ms(100);
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "GET st:k"), OC_OK);
  oc_redis_destroy(r);
  oc_redis_destroy(pauser);
}

static void test_unreachable(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  char u[64], errstr[256];
  double t0;
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  snprintf(u, sizeof(u), "redis://127.0.0.1:%d/0", ntohs(sa.sin_port));
  oc_redis_t *r = client(u);
  t0 = now_s();
  OC_CHECK_INT(oc_redis_cmd(r, NULL, errstr, sizeof(errstr), "PING"), OC_ERR_UNAVAILABLE);
  OC_CHECK(strncmp(errstr, "could not connect to Redis at 127.0.0.1:", 40) == 0);
  OC_CHECK(now_s() - t0 < 1.0);
  oc_redis_destroy(r);
}

int main(void) {
  static const oc_test_case_t cases[] = {
      OC_TEST(test_commands),        OC_TEST(test_select_db),   OC_TEST(test_client_kill),
      OC_TEST(test_command_timeout), OC_TEST(test_unreachable),
  };
  url = getenv("OCELOT_REDIS_URL");
  if (!url || !url[0]) {
    fprintf(stderr, "OCELOT_REDIS_URL is not set; run under tests/lib/withstack.py --redis\n");
    return 1;
  }
  return oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
}
