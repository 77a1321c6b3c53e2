/* runtime_testlib.h: helpers for the runtime's integration tests (test_runtime_*.c),
 * which run under tests/lib/withstack.py against a fresh development broker
 * (OCELOT_KAFKA_BROKERS). A service runs in a thread through oc_svc_new/oc_svc_run;
 * the test produces input, reads topics back, asks the broker for committed offsets and
 * talks to the service's HTTP endpoints. Header-only: each test is one program. */
#ifndef OC_RUNTIME_TESTLIB_H
#define OC_RUNTIME_TESTLIB_H

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/runtime.h"
#include "oc_test.h"

static inline double tl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void tl_sleep_ms(int ms) {
  usleep((useconds_t)ms * 1000);
}

/* Waits up to timeout_s for cond; on timeout records a failure naming `what`. */
#define TL_WAIT(cond, timeout_s, what)                                                      \
  ({                                                                                        \
    double until_ = tl_now() + (timeout_s);                                                 \
    int ok_ = 0;                                                                            \
    while (!(ok_ = !!(cond)) && tl_now() < until_)                                          \
      tl_sleep_ms(50);                                                                      \
    if (!ok_) {                                                                             \
      fprintf(stderr, "%s:%d: timed out after %.0f s waiting for %s\n", __FILE__, __LINE__, \
              (double)(timeout_s), what);                                                   \
      oc_test_failures_++;                                                                  \
    }                                                                                       \
    ok_;                                                                                    \
  })

static inline const char *tl_brokers(void) {
  const char *b = getenv("OCELOT_KAFKA_BROKERS");
  if (!b || !*b) {
    fprintf(stderr, "OCELOT_KAFKA_BROKERS is not set (run under tests/lib/withstack.py)\n");
    exit(2);
  }
  return b;
}

/* Fast settings for tests; a test may override them before starting a service. */
static inline void tl_env_defaults(void) {
  setenv("OCELOT_HTTP_PORT", "0", 1);
  setenv("OCELOT_BATCH_WAIT_MS", "50", 1);
  setenv("OCELOT_RETRY_BACKOFF_MS", "50", 1);
  setenv("OCELOT_RETRY_BACKOFF_MAX_MS", "400", 1);
  setenv("OCELOT_MAX_ATTEMPTS", "3", 1);
  setenv("OCELOT_LOG_LEVEL", "info", 1);
  setenv("OCELOT_KAFKA_SESSION_TIMEOUT_MS", "6000", 1);
  setenv("OCELOT_KAFKA_HEARTBEAT_INTERVAL_MS", "500", 1);
  setenv("OCELOT_KAFKA_MAX_POLL_INTERVAL_MS", "20000", 1);
  setenv("OCELOT_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS", "2000", 1);
}

static inline void tl_unique(char *out, size_t size, const char *prefix) {
  static int counter;
  snprintf(out, size, "%s-%ld-%d-%ld", prefix, (long)getpid(), ++counter,
           (long)(time(NULL) % 100000));
}

static inline rd_kafka_t *tl_producer(void) {
  char errstr[512];
  rd_kafka_t *p =
      oc_kafka_producer_new(tl_brokers(), "test-producer", NULL, NULL, errstr, sizeof(errstr));
  if (!p) {
    fprintf(stderr, "producer: %s\n", errstr);
    exit(2);
  }
  return p;
}

/* Produces one record (partition < 0: by key); headers are taken. */
static inline void tl_produce(rd_kafka_t *p, const char *topic, int32_t partition, const char *key,
                              const char *value, rd_kafka_headers_t *hdrs) {
  rd_kafka_resp_err_t err = rd_kafka_producev(
      p, RD_KAFKA_V_TOPIC(topic),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_KEY((void *)key, key ? strlen(key) : 0),
      RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
  if (err) {
    fprintf(stderr, "produce to %s: %s\n", topic, rd_kafka_err2str(err));
    exit(2);
  }
}

static inline void tl_flush(rd_kafka_t *p) {
  if (rd_kafka_flush(p, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "flush timed out\n");
    exit(2);
  }
}

/* Makes sure a topic exists (the broker auto-creates it on first metadata request). */
static inline int tl_partitions(const char *topic) {
  rd_kafka_t *p = tl_producer();
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  int n = 0;
  for (int i = 0; i < 50 && n == 0; i++) {
    if (rd_kafka_metadata(p, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && !md->topics[0].err) n = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    if (!n) tl_sleep_ms(100);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(p);
  return n;
}

typedef struct {
  int32_t partition;
  int64_t offset;
  char *key; /* NULL for a null key */
  size_t key_len;
  char *value;
  size_t len;
  rd_kafka_headers_t *hdrs; /* copy; may be NULL */
} tl_rec_t;

static inline void tl_recs_free(tl_rec_t *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(r[i].key);
    free(r[i].value);
    if (r[i].hdrs) rd_kafka_headers_destroy(r[i].hdrs);
  }
  free(r);
}

static inline char *tl_dup(const void *p, size_t n) {
  if (!p) return NULL;
  char *s = malloc(n + 1);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Low and high watermarks from the broker; (0, 0) for a missing topic. */
static inline void tl_watermarks(const char *topic, int32_t partition, int64_t *lo, int64_t *hi) {
  rd_kafka_t *p = tl_producer();
  *lo = *hi = 0;
  if (rd_kafka_query_watermark_offsets(p, topic, partition, lo, hi, 5000)) *lo = *hi = 0;
  rd_kafka_destroy(p);
}

static inline int64_t tl_count(const char *topic) {
  int np = tl_partitions(topic);
  int64_t total = 0;
  for (int i = 0; i < np; i++) {
    int64_t lo, hi;
    tl_watermarks(topic, i, &lo, &hi);
    total += hi - lo;
  }
  return total;
}

/* Every record of the topic from the start to the current end, all partitions. */
static inline size_t tl_read_all(const char *topic, tl_rec_t **out) {
  char errstr[512], group[128];
  int np = tl_partitions(topic);
  size_t n = 0, cap = 64;
  tl_rec_t *recs = calloc(cap, sizeof(*recs));
  int64_t *hi = calloc((size_t)np + 1, sizeof(*hi));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  tl_unique(group, sizeof(group), "reader");
  rd_kafka_conf_set(conf, "bootstrap.servers", tl_brokers(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
  rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(np);
  int64_t remaining = 0;
  for (int i = 0; i < np; i++) {
    int64_t lo;
    rd_kafka_query_watermark_offsets(c, topic, i, &lo, &hi[i], 5000);
    remaining += hi[i] - lo;
    rd_kafka_topic_partition_list_add(list, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c, list);
  rd_kafka_topic_partition_list_destroy(list);
  double until = tl_now() + 30;
  while (remaining > 0 && tl_now() < until) {
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c, 200);
    if (!rkm) continue;
    if (!rkm->err && rkm->offset < hi[rkm->partition]) {
      if (n == cap) recs = realloc(recs, (cap *= 2) * sizeof(*recs));
      tl_rec_t *r = &recs[n++];
      rd_kafka_headers_t *h = NULL;
      r->partition = rkm->partition;
      r->offset = rkm->offset;
      r->key = tl_dup(rkm->key, rkm->key_len);
      r->key_len = rkm->key_len;
      r->value = tl_dup(rkm->payload, rkm->len);
      r->len = rkm->len;
      r->hdrs = rd_kafka_message_headers(rkm, &h) == 0 && h ? rd_kafka_headers_copy(h) : NULL;
      remaining--;
    }
    rd_kafka_message_destroy(rkm);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  free(hi);
  *out = recs;
  return n;
}

static inline const char *tl_hdr(const tl_rec_t *r, const char *name, char *buf, size_t size) {
  const void *v;
  size_t len;
  if (!r->hdrs || rd_kafka_header_get_last(r->hdrs, name, &v, &len)) return NULL;
  if (len >= size) len = size - 1;
  memcpy(buf, v, len);
  buf[len] = '\0';
  return buf;
}

/* The group's committed offset for a partition (-1 when none). */
static inline int64_t tl_committed(const char *group, const char *topic, int32_t partition) {
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", tl_brokers(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
  rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic, partition);
  int64_t off = -1;
  if (rd_kafka_committed(c, list, 10000) == 0 && !list->elems[0].err && list->elems[0].offset >= 0)
    off = list->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(c);
  return off;
}

/* Sum over partitions of committed offsets (partitions without a commit count 0). */
static inline int64_t tl_committed_total(const char *group, const char *topic) {
  int np = tl_partitions(topic);
  int64_t total = 0;
  for (int i = 0; i < np; i++) {
    int64_t off = tl_committed(group, topic, i);
    if (off > 0) total += off;
  }
  return total;
}

/* GET http://127.0.0.1:port/path; returns the status (or -1), body copied to body. */
static inline int tl_http_get(int port, const char *path, char *body, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  char req[512];
  int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *resp = malloc(cap);
  for (;;) {
    if (len + 4096 > cap) resp = realloc(resp, cap *= 2);
    ssize_t r = read(fd, resp + len, cap - len - 1);
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  resp[len] = '\0';
  int status = -1;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) status = -1;
  char *b = strstr(resp, "\r\n\r\n");
  if (body && size) snprintf(body, size, "%s", b ? b + 4 : "");
  free(resp);
  return status;
}

/* Value of the sample `series` (e.g. "name{topic=\"x\"}") in Prometheus text; NAN if absent. */
static inline double tl_metric(const char *text, const char *series) {
  size_t n = strlen(series);
  for (const char *p = text; p && *p;) {
    if (strncmp(p, series, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NAN;
}

static inline double tl_svc_metric(int port, const char *series) {
  static char body[1 << 20];
  if (tl_http_get(port, "/metrics", body, sizeof(body)) != 200) return NAN;
  return tl_metric(body, series);
}

typedef struct {
  oc_svc_t *svc;
  pthread_t th;
  int rc;
  int port;
} tl_svc_t;

static inline void *tl_svc_main(void *arg) {
  tl_svc_t *t = arg;
  t->rc = oc_svc_run(t->svc);
  return NULL;
}

/* Starts a service for h in a thread with the current environment. */
static inline int tl_svc_start(tl_svc_t *t, const oc_handler_t *h) {
  char *argv[] = {(char *)h->name, NULL};
  int rc = 0;
  memset(t, 0, sizeof(*t));
  t->svc = oc_svc_new(h, 1, argv, &rc);
  if (!t->svc) {
    fprintf(stderr, "oc_svc_new failed: exit code %d\n", rc);
    return -1;
  }
  t->port = oc_svc_http_port(t->svc);
  pthread_create(&t->th, NULL, tl_svc_main, t);
  return 0;
}

static inline int tl_svc_stop(tl_svc_t *t) {
  oc_svc_request_stop(t->svc);
  pthread_join(t->th, NULL);
  oc_svc_destroy(t->svc);
  t->svc = NULL;
  return t->rc;
}

static inline bool tl_svc_ready(tl_svc_t *t) {
  char body[256];
  return tl_http_get(t->port, "/readyz", body, sizeof(body)) == 200;
}

#endif
