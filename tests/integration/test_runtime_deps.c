/* test_runtime_deps: a service with needs_pg and needs_redis. When Postgres is down at
 * start the service does not exit: it reports not ready ("postgres unavailable") and
 * retries with backoff until Postgres answers (here: until a TCP forwarder to the real
 * Postgres starts listening), then runs the migrations, calls init and consumes. A stop
 * request while waiting is a clean exit 0. Redis gets the heartbeat key with a TTL. */
#include "runtime_testlib.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <poll.h>

#include "common/migrate.h"

static char in_topic[128], out_topic[128], group_name[128];
static atomic_int init_calls, pg_ok;

static oc_err_t deps_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  atomic_fetch_add(&init_calls, 1);
  if (!oc_svc_pg(svc) || !oc_svc_redis(svc)) {
    snprintf(errstr, errstr_size, "connections missing");
    return OC_ERR_INTERNAL;
  }
  return OC_OK;
}

static oc_err_t deps_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  char errstr[256];
  PGresult *res = NULL;
  oc_err_t err = oc_pg_exec(oc_svc_pg(svc), &res, "SELECT count(*) FROM schema_migrations", 0, NULL,
                            errstr, sizeof(errstr));
  if (err) return err;
  if (PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == (int)oc_migrations_count)
    atomic_fetch_add(&pg_ok, 1);
  PQclear(res);
  for (size_t i = 0; i < n; i++) {
    err = oc_svc_produce(svc, out_topic, NULL, 0, msgs[i].value, msgs[i].len, NULL);
    if (err) return err;
  }
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {.name = "rt-deps",
                                     .topics = topics,
                                     .ntopics = 1,
                                     .needs_pg = true,
                                     .needs_redis = true,
                                     .init = deps_init,
                                     .handle_batch = deps_batch};

/* ---- a TCP forwarder that can start listening late ---- */

typedef struct {
  int listen_fd;
  int target_port;
  atomic_bool stop;
  pthread_t th;
} fwd_t;

typedef struct {
  int a, b;
  atomic_bool *stop;
} relay_t;

static void *relay_main(void *arg) {
  relay_t *r = arg;
  char buf[16384];
  struct pollfd fds[2] = {{.fd = r->a, .events = POLLIN}, {.fd = r->b, .events = POLLIN}};
  while (!atomic_load(r->stop)) {
    if (poll(fds, 2, 200) <= 0) continue;
    for (int i = 0; i < 2; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0 || write(fds[1 - i].fd, buf, (size_t)n) != n) goto out;
    }
  }
out:
  close(r->a);
  close(r->b);
  free(r);
  return NULL;
}

static void *fwd_main(void *arg) {
  fwd_t *f = arg;
  while (!atomic_load(&f->stop)) {
    struct pollfd pfd = {.fd = f->listen_fd, .events = POLLIN};
    if (poll(&pfd, 1, 200) <= 0) continue;
    int c = accept(f->listen_fd, NULL, NULL);
    if (c < 0) continue;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->target_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      close(c);
      close(s);
      continue;
    }
    relay_t *r = malloc(sizeof(*r));
    *r = (relay_t){c, s, &f->stop};
    pthread_t th;
    pthread_create(&th, NULL, relay_main, r);
    pthread_detach(th);
  }
  return NULL;
}

static int fwd_start(fwd_t *f, int port, int target_port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int one = 1;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(f->listen_fd, 16) != 0)
    return -1;
  f->target_port = target_port;
  atomic_store(&f->stop, false);
  pthread_create(&f->th, NULL, fwd_main, f);
  return 0;
}

static void fwd_stop(fwd_t *f) {
  atomic_store(&f->stop, true);
  pthread_join(f->th, NULL);
  close(f->listen_fd);
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof(sa);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

static int pg_port(void) {
  const char *dsn = getenv("OCELOT_PG_DSN");
  const char *p = dsn ? strstr(dsn, "127.0.0.1:") : NULL;
  return p ? atoi(p + strlen("127.0.0.1:")) : -1;
}

static bool heartbeat(redisContext *rc, char *out, size_t size) {
  redisReply *r = rc ? redisCommand(rc, "GET ocelot:heartbeat:rt-deps:test-inst") : NULL;
  bool ok = r && r->type == REDIS_REPLY_STRING;
  if (ok) snprintf(out, size, "%s", r->str);
  if (r) freeReplyObject(r);
  return ok;
}

static char *saved_dsn;

static void setup(void) {
  tl_env_defaults();
  tl_unique(in_topic, sizeof(in_topic), "rt-deps-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-deps-out");
  tl_unique(group_name, sizeof(group_name), "rt-deps-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  setenv("OCELOT_INSTANCE_ID", "test-inst", 1);
  if (!saved_dsn) saved_dsn = strdup(getenv("OCELOT_PG_DSN") ? getenv("OCELOT_PG_DSN") : "");
}

static void test_stop_while_postgres_down(void) {
  tl_svc_t t;
  char dsn[256], body[1024];
  setup();
  snprintf(dsn, sizeof(dsn), "postgresql://ocelot@127.0.0.1:%d/ocelot", free_port());
  setenv("OCELOT_PG_DSN", dsn, 1);
  atomic_store(&init_calls, 0);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_http_get(t.port, "/readyz", body, sizeof(body)) == 503 &&
              strstr(body, "postgres unavailable") != NULL,
          30, "not ready: postgres unavailable");
  OC_CHECK_INT(tl_http_get(t.port, "/healthz", body, sizeof(body)), 200);
  double t0 = tl_now();
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  OC_CHECK(tl_now() - t0 < 5);
  OC_CHECK_INT(atomic_load(&init_calls), 0);
  setenv("OCELOT_PG_DSN", saved_dsn, 1);
}

static void test_postgres_comes_up_later(void) {
  tl_svc_t t;
  fwd_t fwd;
  char dsn[256], body[1024];
  int port = free_port();
  setup();
  int real_port = pg_port();
  OC_CHECK(real_port > 0);
  snprintf(dsn, sizeof(dsn), "postgresql://ocelot@127.0.0.1:%d/ocelot", port);
  setenv("OCELOT_PG_DSN", dsn, 1);
  rd_kafka_t *p = tl_producer();
  tl_produce(p, in_topic, 0, NULL, "one", NULL);
  tl_flush(p);

  atomic_store(&init_calls, 0);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_http_get(t.port, "/readyz", body, sizeof(body)) == 503 &&
              strstr(body, "postgres unavailable") != NULL,
          30, "not ready while postgres is down");
  tl_sleep_ms(1500); /* several retries; it must not give up */
  OC_CHECK_INT(atomic_load(&init_calls), 0);
  OC_CHECK_INT(tl_http_get(t.port, "/healthz", body, sizeof(body)), 200);

  OC_CHECK_INT(fwd_start(&fwd, port, real_port), 0);
  TL_WAIT(tl_svc_ready(&t), 30, "ready once postgres answers");
  OC_CHECK_INT(atomic_load(&init_calls), 1);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 1, 60, "record handled with postgres");
  OC_CHECK(atomic_load(&pg_ok) >= 1); /* migrations ran: all recorded */

  /* Heartbeat in Redis. */
  const char *url = getenv("OCELOT_REDIS_URL");
  char host[64] = "127.0.0.1";
  int rport = 6379;
  OC_CHECK(url && sscanf(url, "redis://%63[^:]:%d", host, &rport) == 2);
  redisContext *rc = redisConnect(host, rport);
  OC_CHECK(rc && !rc->err);
  char hb[1024] = "";
  TL_WAIT(heartbeat(rc, hb, sizeof(hb)), 30, "heartbeat key");
  OC_CHECK(strstr(hb, "\"service\":\"rt-deps\"") != NULL);
  OC_CHECK(strstr(hb, "\"instance\":\"test-inst\"") != NULL);
  OC_CHECK(strstr(hb, "\"ready\":") != NULL);
  redisReply *r = redisCommand(rc, "TTL ocelot:heartbeat:rt-deps:test-inst");
  OC_CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 && r->integer <= 30);
  if (r) freeReplyObject(r);
  redisFree(rc);

  OC_CHECK_INT(tl_svc_stop(&t), 0);
  fwd_stop(&fwd);
  rd_kafka_destroy(p);
  setenv("OCELOT_PG_DSN", saved_dsn, 1);
}

OC_TEST_MAIN(OC_TEST(test_stop_while_postgres_down), OC_TEST(test_postgres_comes_up_later))
