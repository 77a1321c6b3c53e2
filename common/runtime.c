/* runtime.c: the one service runtime (see runtime.h for the loop it implements).
 *
 * Threads: everything below runs on the loop thread, including librdkafka callbacks
 * (rebalance from rd_kafka_consumer_poll, delivery reports from rd_kafka_poll/flush on
 * the producer). The HTTP thread reads only the metrics (own mutex), the readiness
 * slots (svc->mu) and a few atomics.
 *
 * A batch's records stay in memory (svc->rkms) until their offsets are committed; a
 * record is in one of the OC_REC_* states. Offsets are committed only when every record
 * is OK or its dead letter is acknowledged, and every output the handler produced for
 * the batch is acknowledged. */
#include "common/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/migrate.h"

#define OC_POLL_MS 100        /* longest blocking poll: bounds stop latency */
#define OC_HTTP_MAX_BODY 4096 /* the runtime's endpoints take no body */
#define OC_TICK_DEFAULT_MS 1000
#define OC_HEARTBEAT_MS 10000
#define OC_HEARTBEAT_TTL_S 30
#define OC_LAG_MS 5000
#define OC_LAG_QUERIES_MAX 64 /* broker round trips per lag update while paused */
#define OC_BROKER_CHECK_MS 2000
#define OC_STOP_GRACE_MS 10000     /* how long a stopping service waits for the broker */
#define OC_STALL_S 900             /* /healthz fails when the loop is stuck this long */
#define OC_LOG_EVERY_US 10000000LL /* repeated errors are logged at most every 10 s */
#define OC_TOPIC_MAX 249           /* Kafka's limit on topic names */
#define OC_ARENA_CHUNK (256 * 1024)

/* Record states within a batch. */
enum { OC_REC_PENDING = 0, OC_REC_OK, OC_REC_DEAD, OC_REC_DLQ_SENT, OC_REC_DLQ_DONE };

/* Delivery-report tags (msg_opaque): outside a batch, a handler output, or a dead letter
 * (OC_TAG_DLQ + record sequence number). */
#define OC_TAG_OTHER ((uintptr_t)0)
#define OC_TAG_OUTPUT ((uintptr_t)1)
#define OC_TAG_DLQ ((uintptr_t)2)

/* Readiness conditions; the service is ready when none is set. */
enum {
  OC_NR_STARTING,
  OC_NR_PG,
  OC_NR_BROKER,
  OC_NR_HANDLER,
  OC_NR_DELIVERY,
  OC_NR_COMMIT,
  OC_NR_TICK,
  OC_NR_SERVICE,
  OC_NR__N
};

typedef struct {
  char *topic;
  char *labels; /* topic="..." */
  uint64_t in, out, failed, dead, lost;
  bool consumed; /* series of a consumed topic exist (at 0) */
} oc_tstats_t;

typedef struct {
  char *topic;
  int32_t partition;
  int64_t next;      /* offset expected next from the fetcher; -1 unknown */
  int64_t committed; /* next offset to consume per the group; -1 unknown */
} oc_part_t;

typedef struct {
  int key;
  int64_t last_us;
  unsigned suppressed;
} oc_ratelimit_t;

struct oc_svc {
  const oc_handler_t *h;
  void *opaque;
  bool initialized;
  oc_config_t *cfg;
  oc_metrics_t *metrics;
  oc_http_t *http;
  rd_kafka_t *consumer;
  rd_kafka_t *producer;
  oc_pg_t *pg;
  oc_redis_t *redis;
  oc_arena_t arena;
  bool arena_ready;
  char group[256];
  char instance[256];
  char client_id[512];
  int batch_max;
  int batch_wait_ms;
  int max_attempts;
  int64_t backoff_ms;
  int64_t backoff_max_ms;

  atomic_bool stop_requested;
  atomic_bool loop_running;
  atomic_llong loop_beat_us; /* monotonic time of the last loop iteration */

  pthread_mutex_t mu; /* guards nr[] */
  char nr[OC_NR__N][256];
  bool was_ready;

  /* The batch. */
  rd_kafka_message_t **rkms;
  oc_msg_t *msgs;
  uint8_t *state;
  uint64_t *seqs;
  oc_msg_t *work;
  size_t *work_idx;
  size_t n;
  uint64_t next_seq;
  bool holding;    /* a batch is being worked on: polled records go to carry */
  bool in_handler; /* inside handle_batch: produced records are batch outputs */
  bool paused;
  rd_kafka_message_t **carry;
  size_t ncarry;

  /* Deliveries. */
  uint64_t dr_outstanding;
  uint64_t flush_failed; /* since the last oc_svc_flush */
  uint64_t batch_failed; /* handler outputs of the current batch */
  rd_kafka_resp_err_t dr_err;

  oc_tstats_t *tstats;
  size_t ntstats, captstats;
  oc_part_t *parts;
  size_t nparts, capparts, last_part;

  int64_t next_tick_us, next_heartbeat_us, next_lag_us, next_broker_check_us;
  bool producer_fatal_logged;
  oc_ratelimit_t rl[16];
};

static volatile sig_atomic_t oc_runtime_signalled;

const oc_cfgdef_t oc_runtime_cfgdefs[] = {
    {"OCELOT_KAFKA_BROKERS", OC_CFG_STR, "127.0.0.1:9092", 0, 0,
     "Kafka bootstrap servers (host:port[,host:port...])"},
    {"OCELOT_GROUP_ID", OC_CFG_STR, NULL, 0, 0, "Kafka consumer group (default: the service name)"},
    {"OCELOT_PG_DSN", OC_CFG_STR, "postgresql://ocelot@127.0.0.1:5432/ocelot", 0, 0,
     "Postgres connection string (libpq DSN or URI)"},
    {"OCELOT_REDIS_URL", OC_CFG_STR, "redis://127.0.0.1:6379/0", 0, 0,
     "Redis URL (redis://host:port[/db])"},
    {"OCELOT_HTTP_ADDR", OC_CFG_STR, "127.0.0.1", 0, 0,
     "address of the /healthz, /readyz and /metrics listener"},
    {"OCELOT_HTTP_PORT", OC_CFG_INT, "0", 0, 65535,
     "port of the HTTP listener (0 = any free port, logged at start)"},
    {"OCELOT_LOG_LEVEL", OC_CFG_STR, "info", 0, 0, "minimum log level: debug, info, warn, error"},
    {"OCELOT_BATCH_MAX", OC_CFG_INT, "500", 1, 100000,
     "most records handed to the handler at once"},
    {"OCELOT_BATCH_WAIT_MS", OC_CFG_INT, "200", 0, 600000,
     "how long a batch waits for more records after its first one"},
    {"OCELOT_MAX_ATTEMPTS", OC_CFG_INT, "3", 1, 1000,
     "attempts for a failing record before it goes to <topic>.dlq"},
    {"OCELOT_RETRY_BACKOFF_MS", OC_CFG_INT, "200", 1, 3600000,
     "first retry delay (doubles per retry)"},
    {"OCELOT_RETRY_BACKOFF_MAX_MS", OC_CFG_INT, "5000", 1, 3600000, "longest retry delay"},
    {"OCELOT_INSTANCE_ID", OC_CFG_STR, NULL, 0, 0,
     "this instance's name in heartbeats and client ids (default: hostname-pid)"},
};
const size_t oc_runtime_ncfgdefs = sizeof(oc_runtime_cfgdefs) / sizeof(oc_runtime_cfgdefs[0]);

static const double oc_batch_buckets[] = {.005, .01, .025, .05, .1, .25, .5,
                                          1,    2.5, 5,    10,  30, 60,  120};

/* ---- small helpers ---- */

static int64_t oc_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t oc_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t oc_backoff(const oc_svc_t *svc, int retry) {
  int64_t ms = svc->backoff_ms;
  for (int i = 1; i < retry && ms < svc->backoff_max_ms; i++)
    ms *= 2;
  return ms < svc->backoff_max_ms ? ms : svc->backoff_max_ms;
}

/* True when a line keyed `key` may be logged now; *suppressed gets how many were not. */
static bool oc_ratelimit(oc_svc_t *svc, int key, unsigned *suppressed) {
  int64_t now = oc_mono_us();
  oc_ratelimit_t *slot = NULL, *oldest = &svc->rl[0];
  for (size_t i = 0; i < sizeof(svc->rl) / sizeof(svc->rl[0]); i++) {
    if (svc->rl[i].last_us && svc->rl[i].key == key) {
      slot = &svc->rl[i];
      break;
    }
    if (svc->rl[i].last_us < oldest->last_us) oldest = &svc->rl[i];
  }
  if (!slot) {
    *oldest = (oc_ratelimit_t){.key = key, .last_us = now, .suppressed = 0};
    *suppressed = 0;
    return true;
  }
  if (now - slot->last_us < OC_LOG_EVERY_US) {
    slot->suppressed++;
    return false;
  }
  *suppressed = slot->suppressed;
  slot->suppressed = 0;
  slot->last_us = now;
  return true;
}

/* ---- readiness ---- */

static void oc_nr_update_locked(oc_svc_t *svc) {
  bool ready = true;
  for (int i = 0; i < OC_NR__N; i++)
    if (svc->nr[i][0]) ready = false;
  if (ready != svc->was_ready) {
    svc->was_ready = ready;
    oc_metrics_set(svc->metrics, "ocelot_ready", "", ready ? 1 : 0);
    if (ready) oc_log(OC_LOG_INFO, "ready");
  }
}

static void oc_nr_set(oc_svc_t *svc, int slot, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void oc_nr_set(oc_svc_t *svc, int slot, const char *fmt, ...) {
  char why[sizeof(svc->nr[0])];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  if (!why[0]) snprintf(why, sizeof(why), "not ready");
  pthread_mutex_lock(&svc->mu);
  bool changed = strcmp(svc->nr[slot], why) != 0;
  bool was_set = svc->nr[slot][0] != '\0';
  memcpy(svc->nr[slot], why, sizeof(why));
  oc_nr_update_locked(svc);
  pthread_mutex_unlock(&svc->mu);
  if (changed && !was_set && slot != OC_NR_STARTING) oc_log(OC_LOG_WARN, "not ready: %s", why);
}

static void oc_nr_clear(oc_svc_t *svc, int slot) {
  pthread_mutex_lock(&svc->mu);
  if (svc->nr[slot][0]) {
    svc->nr[slot][0] = '\0';
    oc_nr_update_locked(svc);
  }
  pthread_mutex_unlock(&svc->mu);
}

static bool oc_nr_is_set(oc_svc_t *svc, int slot) {
  pthread_mutex_lock(&svc->mu);
  bool set = svc->nr[slot][0] != '\0';
  pthread_mutex_unlock(&svc->mu);
  return set;
}

/* Ready flag and the reasons joined with "; ". */
static bool oc_svc_readiness(oc_svc_t *svc, char *why, size_t size) {
  size_t off = 0;
  bool ready = true;
  why[0] = '\0';
  pthread_mutex_lock(&svc->mu);
  for (int i = 0; i < OC_NR__N; i++) {
    if (!svc->nr[i][0]) continue;
    ready = false;
    int w = snprintf(why + off, size - off, "%s%s", off ? "; " : "", svc->nr[i]);
    if (w < 0 || (size_t)w >= size - off) break;
    off += (size_t)w;
  }
  pthread_mutex_unlock(&svc->mu);
  return ready;
}

void oc_svc_set_ready(oc_svc_t *svc, bool ready, const char *why) {
  if (ready)
    oc_nr_clear(svc, OC_NR_SERVICE);
  else
    oc_nr_set(svc, OC_NR_SERVICE, "%s", why && *why ? why : "not ready");
}

bool oc_svc_stopping(const oc_svc_t *svc) {
  return oc_runtime_signalled || atomic_load(&svc->stop_requested);
}

void oc_svc_request_stop(oc_svc_t *svc) {
  atomic_store(&svc->stop_requested, true);
}

/* ---- accessors ---- */

const oc_config_t *oc_svc_config(const oc_svc_t *svc) {
  return svc->cfg;
}
oc_metrics_t *oc_svc_metrics(oc_svc_t *svc) {
  return svc->metrics;
}
const char *oc_svc_name(const oc_svc_t *svc) {
  return svc->h->name;
}
oc_pg_t *oc_svc_pg(oc_svc_t *svc) {
  return svc->pg;
}
oc_redis_t *oc_svc_redis(oc_svc_t *svc) {
  return svc->redis;
}
oc_arena_t *oc_svc_arena(oc_svc_t *svc) {
  return &svc->arena;
}
int oc_svc_http_port(const oc_svc_t *svc) {
  return oc_http_port(svc->http);
}

bool oc_svc_ready(oc_svc_t *svc, char *why, size_t why_size) {
  char tmp[8];
  if (!why || !why_size) return oc_svc_readiness(svc, tmp, sizeof(tmp));
  return oc_svc_readiness(svc, why, why_size);
}

/* ---- per-topic statistics, pushed to the metrics once per batch ---- */

static oc_tstats_t *oc_tstats(oc_svc_t *svc, const char *topic) {
  for (size_t i = 0; i < svc->ntstats; i++)
    if (strcmp(svc->tstats[i].topic, topic) == 0) return &svc->tstats[i];
  if (svc->ntstats == svc->captstats) {
    size_t cap = svc->captstats ? svc->captstats * 2 : 16;
    oc_tstats_t *t = realloc(svc->tstats, cap * sizeof(*t));
    if (!t) return NULL;
    svc->tstats = t;
    svc->captstats = cap;
  }
  char esc[2 * OC_TOPIC_MAX + 2], labels[2 * OC_TOPIC_MAX + 16];
  oc_metrics_label_escape(topic, esc, sizeof(esc));
  snprintf(labels, sizeof(labels), "topic=\"%s\"", esc);
  oc_tstats_t *ts = &svc->tstats[svc->ntstats];
  *ts = (oc_tstats_t){.topic = strdup(topic), .labels = strdup(labels)};
  if (!ts->topic || !ts->labels) {
    free(ts->topic);
    free(ts->labels);
    return NULL;
  }
  svc->ntstats++;
  return ts;
}

/* Makes the series of a consumed topic visible at 0 before anything happens. */
static void oc_tstats_consumed(oc_svc_t *svc, oc_tstats_t *ts) {
  if (ts->consumed) return;
  ts->consumed = true;
  oc_metrics_inc(svc->metrics, "ocelot_records_in_total", ts->labels, 0);
  oc_metrics_inc(svc->metrics, "ocelot_records_failed_total", ts->labels, 0);
  oc_metrics_inc(svc->metrics, "ocelot_records_dead_lettered_total", ts->labels, 0);
  oc_metrics_inc(svc->metrics, "ocelot_offsets_lost_total", ts->labels, 0);
}

static void oc_tstats_push(oc_svc_t *svc) {
  for (size_t i = 0; i < svc->ntstats; i++) {
    oc_tstats_t *ts = &svc->tstats[i];
    if (ts->in) oc_metrics_inc(svc->metrics, "ocelot_records_in_total", ts->labels, ts->in);
    if (ts->out) oc_metrics_inc(svc->metrics, "ocelot_records_out_total", ts->labels, ts->out);
    if (ts->failed)
      oc_metrics_inc(svc->metrics, "ocelot_records_failed_total", ts->labels, ts->failed);
    if (ts->dead)
      oc_metrics_inc(svc->metrics, "ocelot_records_dead_lettered_total", ts->labels, ts->dead);
    if (ts->lost) oc_metrics_inc(svc->metrics, "ocelot_offsets_lost_total", ts->labels, ts->lost);
    ts->in = ts->out = ts->failed = ts->dead = ts->lost = 0;
  }
}

/* ---- assigned partitions ---- */

static oc_part_t *oc_part_find(oc_svc_t *svc, const char *topic, int32_t partition) {
  /* Records come in runs from one partition: try the last hit first. */
  size_t last = svc->last_part;
  if (last < svc->nparts && svc->parts[last].partition == partition &&
      strcmp(svc->parts[last].topic, topic) == 0)
    return &svc->parts[last];
  for (size_t i = 0; i < svc->nparts; i++)
    if (svc->parts[i].partition == partition && strcmp(svc->parts[i].topic, topic) == 0) {
      svc->last_part = i;
      return &svc->parts[i];
    }
  return NULL;
}

static void oc_lag_labels(const char *topic, int32_t partition, char *out, size_t size) {
  char esc[2 * OC_TOPIC_MAX + 2];
  oc_metrics_label_escape(topic, esc, sizeof(esc));
  snprintf(out, size, "topic=\"%s\",partition=\"%d\"", esc, (int)partition);
}

static void oc_parts_add(oc_svc_t *svc, const rd_kafka_topic_partition_list_t *list) {
  rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(list);
  rd_kafka_resp_err_t err = rd_kafka_committed(svc->consumer, committed, 5000);
  for (int i = 0; i < list->cnt; i++) {
    const rd_kafka_topic_partition_t *tp = &list->elems[i];
    oc_part_t *p = oc_part_find(svc, tp->topic, tp->partition);
    if (!p) {
      if (svc->nparts == svc->capparts) {
        size_t cap = svc->capparts ? svc->capparts * 2 : 16;
        oc_part_t *np = realloc(svc->parts, cap * sizeof(*np));
        if (!np) continue;
        svc->parts = np;
        svc->capparts = cap;
      }
      p = &svc->parts[svc->nparts];
      p->topic = strdup(tp->topic);
      if (!p->topic) continue;
      p->partition = tp->partition;
      svc->nparts++;
    }
    int64_t off = -1;
    if (!err && committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        committed->elems[i].offset >= 0)
      off = committed->elems[i].offset;
    p->committed = off;
    p->next = off;
  }
  if (err)
    oc_log(OC_LOG_WARN, "could not fetch committed offsets of the new assignment: %s",
           rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(committed);
}

static void oc_parts_remove(oc_svc_t *svc, const rd_kafka_topic_partition_list_t *list) {
  for (int i = 0; i < list->cnt; i++) {
    oc_part_t *p = oc_part_find(svc, list->elems[i].topic, list->elems[i].partition);
    if (!p) continue;
    char labels[2 * OC_TOPIC_MAX + 48];
    oc_lag_labels(p->topic, p->partition, labels, sizeof(labels));
    oc_metrics_set(svc->metrics, "ocelot_consumer_lag", labels, 0); /* another owner now */
    free(p->topic);
    *p = svc->parts[--svc->nparts];
  }
}

static bool oc_list_has(const rd_kafka_topic_partition_list_t *list,
                        const rd_kafka_message_t *rkm) {
  const char *topic = rd_kafka_topic_name(rkm->rkt);
  for (int i = 0; i < list->cnt; i++)
    if (list->elems[i].partition == rkm->partition && strcmp(list->elems[i].topic, topic) == 0)
      return true;
  return false;
}

/* Drops held and carried records of revoked partitions: they were not committed, so
 * the partitions' next owner consumes them again. */
static void oc_drop_revoked(oc_svc_t *svc, const rd_kafka_topic_partition_list_t *list) {
  size_t k = 0, dropped = 0;
  for (size_t i = 0; i < svc->n; i++) {
    if (oc_list_has(list, svc->rkms[i])) {
      rd_kafka_message_destroy(svc->rkms[i]);
      dropped++;
      continue;
    }
    svc->rkms[k] = svc->rkms[i];
    svc->msgs[k] = svc->msgs[i];
    svc->state[k] = svc->state[i];
    svc->seqs[k] = svc->seqs[i];
    k++;
  }
  svc->n = k;
  k = 0;
  for (size_t i = 0; i < svc->ncarry; i++) {
    if (oc_list_has(list, svc->carry[i])) {
      rd_kafka_message_destroy(svc->carry[i]);
      dropped++;
      continue;
    }
    svc->carry[k++] = svc->carry[i];
  }
  svc->ncarry = k;
  if (dropped)
    oc_log(OC_LOG_INFO, "dropped %zu uncommitted records of revoked partitions", dropped);
}

static void oc_list_describe(const rd_kafka_topic_partition_list_t *list, char *out, size_t size) {
  size_t off = 0;
  out[0] = '\0';
  for (int i = 0; i < list->cnt; i++) {
    int w = snprintf(out + off, size - off, "%s%s[%d]", i ? " " : "", list->elems[i].topic,
                     (int)list->elems[i].partition);
    if (w < 0 || (size_t)w >= size - off) break;
    off += (size_t)w;
  }
}

static void oc_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *list, void *opaque) {
  oc_svc_t *svc = opaque;
  bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  char desc[1024];
  oc_list_describe(list, desc, sizeof(desc));

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    oc_log_kv(OC_LOG_INFO, "partitions assigned", "partitions", desc, NULL);
    if (coop) {
      rd_kafka_error_t *error = rd_kafka_incremental_assign(rk, list);
      if (error) {
        oc_log(OC_LOG_ERROR, "could not assign partitions: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      }
    } else {
      rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, list);
      if (aerr) oc_log(OC_LOG_ERROR, "could not assign partitions: %s", rd_kafka_err2str(aerr));
    }
    oc_parts_add(svc, list);
    if (svc->paused) rd_kafka_pause_partitions(rk, list);
    return;
  }

  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    oc_log_kv(OC_LOG_INFO, rd_kafka_assignment_lost(rk) ? "partitions lost" : "partitions revoked",
              "partitions", desc, NULL);
  } else {
    oc_log(OC_LOG_ERROR, "rebalance error: %s", rd_kafka_err2str(err));
  }
  oc_drop_revoked(svc, list);
  oc_parts_remove(svc, list);
  if (coop) {
    rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, list);
    if (error) {
      oc_log(OC_LOG_ERROR, "could not unassign partitions: %s", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_assign(rk, NULL);
  }
}

/* ---- pause / resume ---- */

static void oc_svc_pause(oc_svc_t *svc) {
  rd_kafka_topic_partition_list_t *list = NULL;
  if (svc->paused || !svc->consumer) return;
  if (rd_kafka_assignment(svc->consumer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list) {
    if (list->cnt) rd_kafka_pause_partitions(svc->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  svc->paused = true;
}

static void oc_svc_resume(oc_svc_t *svc) {
  rd_kafka_topic_partition_list_t *list = NULL;
  if (!svc->paused || !svc->consumer) return;
  if (rd_kafka_assignment(svc->consumer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list) {
    if (list->cnt) rd_kafka_resume_partitions(svc->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  svc->paused = false;
}

/* ---- producing ---- */

static void oc_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
  oc_svc_t *svc = opaque;
  uintptr_t tag = (uintptr_t)rkm->_private;
  const char *topic = rd_kafka_topic_name(rkm->rkt);
  if (svc->dr_outstanding) svc->dr_outstanding--;

  if (tag >= OC_TAG_DLQ) {
    uint64_t seq = (uint64_t)(tag - OC_TAG_DLQ);
    for (size_t i = 0; i < svc->n; i++) {
      if (svc->seqs[i] != seq || svc->state[i] != OC_REC_DLQ_SENT) continue;
      if (rkm->err) {
        svc->state[i] = OC_REC_DEAD; /* produce it again */
      } else {
        svc->state[i] = OC_REC_DLQ_DONE;
        oc_tstats_t *src = oc_tstats(svc, svc->msgs[i].topic);
        if (src) src->dead++;
      }
      break;
    }
  }
  if (rkm->err) {
    unsigned sup;
    if (!svc->dr_err) svc->dr_err = rkm->err;
    svc->flush_failed++;
    if (tag == OC_TAG_OUTPUT) svc->batch_failed++;
    oc_metrics_inc(svc->metrics, "ocelot_delivery_failures_total", "", 1);
    if (oc_ratelimit(svc, 1000000 + (int)rkm->err, &sup))
      oc_log(OC_LOG_WARN, "could not deliver a record to \"%s\": %s (%u similar suppressed)", topic,
             rd_kafka_err2str(rkm->err), sup);
    return;
  }
  oc_tstats_t *ts = oc_tstats(svc, topic);
  if (ts) ts->out++;
}

static rd_kafka_resp_err_t oc_produce(oc_svc_t *svc, const char *topic, const void *key,
                                      size_t key_len, const void *value, size_t len,
                                      rd_kafka_headers_t *headers, uintptr_t tag) {
  rd_kafka_resp_err_t err;
  int64_t deadline = oc_mono_us() + 30 * 1000000LL;
  for (;;) {
    err = rd_kafka_producev(
        svc->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, key_len),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || oc_mono_us() > deadline) break;
    rd_kafka_poll(svc->producer, 100); /* make room: serve delivery reports */
  }
  if (err) {
    if (headers) rd_kafka_headers_destroy(headers); /* not taken by librdkafka on failure */
    return err;
  }
  svc->dr_outstanding++;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

oc_err_t oc_svc_produce(oc_svc_t *svc, const char *topic, const void *key, size_t key_len,
                        const void *value, size_t len, rd_kafka_headers_t *headers) {
  if (!svc->producer) {
    if (headers) rd_kafka_headers_destroy(headers);
    return OC_ERR_UNAVAILABLE;
  }
  rd_kafka_resp_err_t err = oc_produce(svc, topic, key, key_len, value, len, headers,
                                       svc->in_handler ? OC_TAG_OUTPUT : OC_TAG_OTHER);
  if (!err) return OC_OK;
  unsigned sup;
  if (oc_ratelimit(svc, 8000000 + (int)err, &sup))
    oc_log(OC_LOG_WARN, "could not produce to \"%s\": %s (%u similar suppressed)", topic,
           rd_kafka_err2str(err), sup);
  if (svc->in_handler) svc->batch_failed++;
  return oc_kafka_err(err);
}

static void oc_periodic(oc_svc_t *svc);
static rd_kafka_message_t *oc_poll(oc_svc_t *svc, int timeout_ms);
static void oc_hold(oc_svc_t *svc, rd_kafka_message_t *rkm);

/* Waits for outstanding deliveries up to timeout_ms (< 0: until done or stopping, then
 * OC_STOP_GRACE_MS more). With loop set it keeps the consumer polled. */
static bool oc_wait_deliveries(oc_svc_t *svc, int timeout_ms, bool loop) {
  int64_t start = oc_mono_us();
  int64_t stop_at = 0;
  while (svc->dr_outstanding > 0) {
    int64_t now = oc_mono_us();
    if (timeout_ms >= 0 && now - start >= (int64_t)timeout_ms * 1000) return false;
    if (timeout_ms < 0 && oc_svc_stopping(svc)) {
      if (!stop_at) stop_at = now + OC_STOP_GRACE_MS * 1000LL;
      if (now >= stop_at) return false;
    }
    rd_kafka_flush(svc->producer, OC_POLL_MS / 2);
    if (loop) {
      rd_kafka_message_t *rkm = oc_poll(svc, 0);
      if (rkm) oc_hold(svc, rkm);
      oc_periodic(svc);
    }
    if (svc->dr_outstanding > 0 && now - start > 5000000LL && loop)
      oc_nr_set(svc, OC_NR_DELIVERY, "waiting for the broker to acknowledge %llu records",
                (unsigned long long)svc->dr_outstanding);
  }
  return true;
}

oc_err_t oc_svc_flush(oc_svc_t *svc, int timeout_ms) {
  if (!svc->producer) return OC_ERR_UNAVAILABLE;
  if (!oc_wait_deliveries(svc, timeout_ms, false)) return OC_ERR_TIMEOUT;
  if (svc->flush_failed) {
    oc_err_t err = oc_kafka_err(svc->dr_err);
    svc->flush_failed = 0;
    svc->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
  }
  return OC_OK;
}

/* ---- consuming ---- */

static bool oc_broker_down_err(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL;
}

static void oc_consumer_error(oc_svc_t *svc, rd_kafka_message_t *rkm) {
  rd_kafka_resp_err_t err = rkm->err;
  const char *topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
  char detail[512];
  unsigned sup;
  snprintf(detail, sizeof(detail), "%s", rd_kafka_message_errstr(rkm));

  if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  if (err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    /* The count of lost offsets comes from the gap seen at the next record. */
    oc_log_kv(OC_LOG_ERROR, "committed offset no longer exists on the broker: records were lost",
              "topic", topic, "error", rd_kafka_err2name(err), "detail", detail, NULL);
    return;
  }
  char labels[96];
  snprintf(labels, sizeof(labels), "error=\"%s\"", rd_kafka_err2name(err));
  oc_metrics_inc(svc->metrics, "ocelot_consumer_errors_total", labels, 1);
  if (oc_broker_down_err(err)) {
    oc_nr_set(svc, OC_NR_BROKER, "broker unreachable: %s", detail);
    svc->next_broker_check_us = oc_mono_us() + OC_BROKER_CHECK_MS * 1000LL;
  } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT) {
    /* One connection failed; the periodic check decides whether the broker is down. */
    if (!svc->next_broker_check_us)
      svc->next_broker_check_us = oc_mono_us() + OC_BROKER_CHECK_MS * 1000LL;
  }
  if (oc_ratelimit(svc, (int)err, &sup))
    oc_log_kv(OC_LOG_WARN, "kafka consumer error", "error", rd_kafka_err2name(err), "topic", topic,
              "detail", detail, NULL);
  (void)sup;
}

/* Client-level errors of the consumer (served by rd_kafka_consumer_poll on the loop
 * thread): broker connectivity decides readiness. */
static void oc_consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  oc_svc_t *svc = opaque;
  rd_kafka_resp_err_t rerr = (rd_kafka_resp_err_t)err;
  char labels[96];
  unsigned sup;
  snprintf(labels, sizeof(labels), "error=\"%s\"", rd_kafka_err2name(rerr));
  oc_metrics_inc(svc->metrics, "ocelot_consumer_errors_total", labels, 1);
  if (rerr == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    oc_log(OC_LOG_ERROR, "kafka consumer fatal error: %s", fatal);
    oc_nr_set(svc, OC_NR_BROKER, "kafka consumer failed: %s", fatal);
    return;
  }
  if (oc_broker_down_err(rerr)) {
    oc_nr_set(svc, OC_NR_BROKER, "broker unreachable: %s", reason);
    svc->next_broker_check_us = oc_mono_us() + OC_BROKER_CHECK_MS * 1000LL;
  } else if (rerr == RD_KAFKA_RESP_ERR__TRANSPORT) {
    /* One connection failed; a check shortly decides whether the broker is down. */
    if (!svc->next_broker_check_us)
      svc->next_broker_check_us = oc_mono_us() + OC_BROKER_CHECK_MS * 1000LL;
  }
  if (oc_ratelimit(svc, (int)rerr, &sup))
    oc_log_kv(OC_LOG_WARN, "kafka consumer error", "error", rd_kafka_err2name(rerr), "reason",
              reason, NULL);
}

/* Counts the records and notices offsets that vanished: a jump past the offset expected
 * next means the broker no longer had them (retention, or the development broker's
 * size cap). That is data loss, reported loudly, never skipped silently. */
static void oc_accept(oc_svc_t *svc, const rd_kafka_message_t *rkm) {
  const char *topic = rd_kafka_topic_name(rkm->rkt);
  oc_tstats_t *ts = oc_tstats(svc, topic);
  oc_part_t *p = oc_part_find(svc, topic, rkm->partition);
  if (ts) {
    oc_tstats_consumed(svc, ts);
    ts->in++;
  }
  if (!p) return;
  if (p->next >= 0 && rkm->offset > p->next) {
    int64_t lost = rkm->offset - p->next;
    char from[32], to[32], part[16];
    snprintf(from, sizeof(from), "%lld", (long long)p->next);
    snprintf(to, sizeof(to), "%lld", (long long)rkm->offset - 1);
    snprintf(part, sizeof(part), "%d", (int)rkm->partition);
    oc_log_kv(OC_LOG_ERROR,
              "records lost: offsets vanished from the broker before they were consumed", "topic",
              topic, "partition", part, "first_lost_offset", from, "last_lost_offset", to, NULL);
    if (ts) ts->lost += (uint64_t)lost;
  }
  p->next = rkm->offset + 1;
}

/* One poll: returns a record, or NULL (nothing, or an error event that was handled). */
static rd_kafka_message_t *oc_poll(oc_svc_t *svc, int timeout_ms) {
  if (!svc->consumer) {
    if (timeout_ms > 0) usleep((useconds_t)timeout_ms * 1000);
    return NULL;
  }
  rd_kafka_message_t *rkm = rd_kafka_consumer_poll(svc->consumer, timeout_ms);
  if (!rkm) return NULL;
  if (rkm->err) {
    oc_consumer_error(svc, rkm);
    rd_kafka_message_destroy(rkm);
    return NULL;
  }
  oc_accept(svc, rkm);
  if (oc_nr_is_set(svc, OC_NR_BROKER)) oc_nr_clear(svc, OC_NR_BROKER);
  return rkm;
}

/* A record polled while a batch is held: keep it for the next batch. */
static void oc_hold(oc_svc_t *svc, rd_kafka_message_t *rkm) {
  if (svc->ncarry < (size_t)svc->batch_max) {
    svc->carry[svc->ncarry++] = rkm;
    return;
  }
  /* Cannot keep it: rewind the partition so it is fetched again. */
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(rkm->rkt), rkm->partition)->offset =
      rkm->offset;
  rd_kafka_error_t *error = rd_kafka_seek_partitions(svc->consumer, list, 5000);
  if (error) {
    oc_log(OC_LOG_ERROR, "could not rewind %s[%d] to %lld: %s", rd_kafka_topic_name(rkm->rkt),
           (int)rkm->partition, (long long)rkm->offset, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
  oc_part_t *p = oc_part_find(svc, rd_kafka_topic_name(rkm->rkt), rkm->partition);
  if (p) p->next = rkm->offset;
  oc_tstats_t *ts = oc_tstats(svc, rd_kafka_topic_name(rkm->rkt));
  if (ts && ts->in) ts->in--;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_message_destroy(rkm);
}

/* Waits ms while keeping the group membership and periodic work alive. Returns early
 * when the service is stopping. */
static void oc_wait(oc_svc_t *svc, int64_t ms) {
  int64_t until = oc_mono_us() + ms * 1000;
  for (;;) {
    int64_t left = (until - oc_mono_us()) / 1000;
    if (left <= 0 || oc_svc_stopping(svc)) return;
    rd_kafka_message_t *rkm = oc_poll(svc, left < OC_POLL_MS ? (int)left : OC_POLL_MS);
    if (rkm) oc_hold(svc, rkm);
    oc_periodic(svc);
  }
}

/* ---- periodic work ---- */

static void oc_json_escape(const char *in, char *out, size_t size) {
  size_t o = 0;
  for (; *in && o + 7 < size; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
}

static void oc_heartbeat(oc_svc_t *svc) {
  char why[512], ewhy[1100], ename[256], einst[512], ts[40], key[600], json[2048];
  char errstr[256];
  struct tm tm;
  int64_t now = oc_wall_us();
  time_t secs = (time_t)(now / 1000000);
  bool ready = oc_svc_readiness(svc, why, sizeof(why));
  gmtime_r(&secs, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  oc_json_escape(svc->h->name, ename, sizeof(ename));
  oc_json_escape(svc->instance, einst, sizeof(einst));
  oc_json_escape(why, ewhy, sizeof(ewhy));
  snprintf(key, sizeof(key), "ocelot:heartbeat:%s:%s", svc->h->name, svc->instance);
  snprintf(json, sizeof(json),
           "{\"service\":\"%s\",\"instance\":\"%s\",\"pid\":%ld,\"ts\":\"%s\",\"ready\":%s,"
           "\"reason\":\"%s\"}",
           ename, einst, (long)getpid(), ts, ready ? "true" : "false", ewhy);
  oc_err_t err = oc_redis_cmd(svc->redis, NULL, errstr, sizeof(errstr), "SET %s %s EX %d", key,
                              json, OC_HEARTBEAT_TTL_S);
  if (err) {
    unsigned sup;
    if (oc_ratelimit(svc, 2000000, &sup))
      oc_log(OC_LOG_WARN, "could not write heartbeat to redis: %s", errstr);
  }
}

static void oc_update_lag(oc_svc_t *svc) {
  if (!svc->consumer || !svc->nparts) return;
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)svc->nparts);
  for (size_t i = 0; i < svc->nparts; i++)
    rd_kafka_topic_partition_list_add(list, svc->parts[i].topic, svc->parts[i].partition);
  rd_kafka_position(svc->consumer, list);
  int queries = 0;
  for (size_t i = 0; i < svc->nparts; i++) {
    oc_part_t *p = &svc->parts[i];
    int64_t lo = -1, hi = -1, base;
    rd_kafka_resp_err_t err;
    /* Paused partitions are not fetched, so their cached end offset goes stale: ask the
     * broker then (not while it is unreachable: that would only block the loop). */
    if (svc->paused && queries < OC_LAG_QUERIES_MAX && !oc_nr_is_set(svc, OC_NR_BROKER) &&
        ++queries)
      err = rd_kafka_query_watermark_offsets(svc->consumer, p->topic, p->partition, &lo, &hi, 200);
    else
      err = rd_kafka_get_watermark_offsets(svc->consumer, p->topic, p->partition, &lo, &hi);
    if (err || hi < 0) continue;
    base = p->committed >= 0            ? p->committed
           : list->elems[i].offset >= 0 ? list->elems[i].offset
                                        : lo;
    if (base < 0) continue;
    char labels[2 * OC_TOPIC_MAX + 48];
    oc_lag_labels(p->topic, p->partition, labels, sizeof(labels));
    oc_metrics_set(svc->metrics, "ocelot_consumer_lag", labels,
                   (double)(hi > base ? hi - base : 0));
  }
  rd_kafka_topic_partition_list_destroy(list);
}

static void oc_check_broker(oc_svc_t *svc) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_t *rk = svc->consumer ? svc->consumer : svc->producer;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 500);
  if (md) rd_kafka_metadata_destroy(md);
  if (!err) {
    svc->next_broker_check_us = 0;
    if (oc_nr_is_set(svc, OC_NR_BROKER)) {
      oc_log(OC_LOG_INFO, "broker reachable again");
      oc_nr_clear(svc, OC_NR_BROKER);
    }
    return;
  }
  oc_nr_set(svc, OC_NR_BROKER, "broker unreachable: %s", rd_kafka_err2str(err));
  svc->next_broker_check_us = oc_mono_us() + OC_BROKER_CHECK_MS * 1000LL;
}

static bool oc_make_producer(oc_svc_t *svc, char *errstr, size_t errstr_size) {
  const char *brokers = oc_config_str(svc->cfg, "OCELOT_KAFKA_BROKERS");
  svc->producer =
      oc_kafka_producer_new(brokers, svc->client_id, oc_dr_cb, svc, errstr, errstr_size);
  return svc->producer != NULL;
}

/* An idempotent producer with a fatal error cannot produce again: replace it. Its
 * undelivered records count as failed deliveries (the batch is handled again). */
static void oc_replace_producer(oc_svc_t *svc) {
  char reason[512], errstr[512];
  rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(svc->producer, reason, sizeof(reason));
  oc_log(OC_LOG_ERROR, "kafka producer failed (%s: %s); creating a new one",
         rd_kafka_err2name(ferr), reason);
  rd_kafka_purge(svc->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(svc->producer, 0); /* purged records report as failed */
  rd_kafka_destroy(svc->producer);
  svc->producer = NULL;
  if (svc->dr_outstanding) {
    svc->flush_failed++;
    svc->batch_failed++;
    svc->dr_outstanding = 0;
  }
  for (size_t i = 0; i < svc->n; i++)
    if (svc->state[i] == OC_REC_DLQ_SENT) svc->state[i] = OC_REC_DEAD;
  if (!oc_make_producer(svc, errstr, sizeof(errstr))) {
    oc_nr_set(svc, OC_NR_DELIVERY, "no kafka producer: %s", errstr);
  }
}

static void oc_periodic(oc_svc_t *svc) {
  int64_t now = oc_mono_us();
  atomic_store(&svc->loop_beat_us, now);
  if (svc->producer) {
    rd_kafka_poll(svc->producer, 0);
    if (rd_kafka_fatal_error(svc->producer, NULL, 0)) oc_replace_producer(svc);
  } else {
    char errstr[512];
    if (oc_make_producer(svc, errstr, sizeof(errstr))) oc_nr_clear(svc, OC_NR_DELIVERY);
  }
  if (svc->next_broker_check_us && now >= svc->next_broker_check_us) oc_check_broker(svc);
  if (svc->h->tick && now >= svc->next_tick_us) {
    int ms = svc->h->tick_ms > 0 ? svc->h->tick_ms : OC_TICK_DEFAULT_MS;
    svc->next_tick_us = now + (int64_t)ms * 1000;
    oc_err_t err = svc->h->tick(svc, svc->opaque);
    if (err == OC_OK) {
      oc_nr_clear(svc, OC_NR_TICK);
    } else if (oc_err_is_transient(err)) {
      oc_nr_set(svc, OC_NR_TICK, "periodic work: %s", oc_err_str(err));
    } else {
      unsigned sup;
      if (oc_ratelimit(svc, 3000000 + (int)err, &sup))
        oc_log(OC_LOG_ERROR, "periodic work failed: %s (%u similar suppressed)", oc_err_str(err),
               sup);
    }
  }
  if (svc->redis && now >= svc->next_heartbeat_us) {
    svc->next_heartbeat_us = now + OC_HEARTBEAT_MS * 1000LL;
    oc_heartbeat(svc);
  }
  if (now >= svc->next_lag_us) {
    svc->next_lag_us = now + OC_LAG_MS * 1000LL;
    oc_update_lag(svc);
  }
  oc_tstats_push(svc);
}

/* ---- the batch ---- */

static void oc_batch_add(oc_svc_t *svc, rd_kafka_message_t *rkm) {
  size_t i = svc->n++;
  oc_msg_t *m = &svc->msgs[i];
  svc->rkms[i] = rkm;
  svc->state[i] = OC_REC_PENDING;
  svc->seqs[i] = ++svc->next_seq;
  m->topic = rd_kafka_topic_name(rkm->rkt);
  m->partition = rkm->partition;
  m->offset = rkm->offset;
  m->key = rkm->key;
  m->key_len = rkm->key_len;
  m->value = rkm->payload;
  m->len = rkm->len;
  m->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
  m->rkm = rkm;
  m->attempts = 0;
  m->err = OC_OK;
  m->errmsg[0] = '\0';
}

static void oc_batch_release(oc_svc_t *svc) {
  for (size_t i = 0; i < svc->n; i++)
    rd_kafka_message_destroy(svc->rkms[i]);
  svc->n = 0;
}

/* Fills the batch: carried records first, then polls until batch_max records or
 * batch_wait_ms after the first one. Returns with an empty batch after one idle poll so
 * the caller's periodic work runs. */
static void oc_batch_collect(oc_svc_t *svc) {
  int64_t first_us = 0;
  size_t k = 0;
  while (k < svc->ncarry && svc->n < (size_t)svc->batch_max)
    oc_batch_add(svc, svc->carry[k++]);
  memmove(svc->carry, svc->carry + k, (svc->ncarry - k) * sizeof(*svc->carry));
  svc->ncarry -= k;
  if (svc->n) first_us = oc_mono_us();

  while (svc->n < (size_t)svc->batch_max && !oc_svc_stopping(svc)) {
    int timeout = OC_POLL_MS;
    if (first_us) {
      int64_t left = (first_us + (int64_t)svc->batch_wait_ms * 1000 - oc_mono_us()) / 1000;
      if (left <= 0) break;
      if (left < timeout) timeout = (int)left;
    }
    rd_kafka_message_t *rkm = oc_poll(svc, timeout);
    if (!rkm) {
      if (!first_us) return;
      oc_periodic(svc);
      continue;
    }
    oc_batch_add(svc, rkm);
    if (!first_us) first_us = oc_mono_us();
  }
}

/* The commit list: for every partition in the batch, the highest offset + 1. */
static rd_kafka_topic_partition_list_t *oc_commit_list(oc_svc_t *svc) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
  for (size_t i = 0; i < svc->n; i++) {
    const oc_msg_t *m = &svc->msgs[i];
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(list, m->topic, m->partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(list, m->topic, m->partition), tp->offset = -1;
    if (m->offset + 1 > tp->offset) tp->offset = m->offset + 1;
  }
  return list;
}

static bool oc_commit_gone(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
         err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
         err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID || err == RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST ||
         err == RD_KAFKA_RESP_ERR__STATE;
}

/* Commits the batch synchronously. true when committed (or nothing was left to commit);
 * false when the service is stopping and the commit could not be made in time. */
static bool oc_batch_commit(oc_svc_t *svc) {
  int retry = 0;
  int64_t stop_at = 0;
  while (svc->n > 0) {
    rd_kafka_topic_partition_list_t *list = oc_commit_list(svc);
    rd_kafka_resp_err_t err = rd_kafka_commit(svc->consumer, list, 0);
    for (int i = 0; !err && i < list->cnt; i++)
      err = list->elems[i].err;
    if (!err) {
      for (int i = 0; i < list->cnt; i++) {
        oc_part_t *p = oc_part_find(svc, list->elems[i].topic, list->elems[i].partition);
        if (p) p->committed = list->elems[i].offset;
      }
      rd_kafka_topic_partition_list_destroy(list);
      oc_metrics_inc(svc->metrics, "ocelot_commits_total", "", 1);
      oc_nr_clear(svc, OC_NR_COMMIT);
      if (oc_nr_is_set(svc, OC_NR_BROKER)) oc_nr_clear(svc, OC_NR_BROKER);
      return true;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (oc_commit_gone(err)) {
      oc_log(OC_LOG_WARN,
             "offsets of %zu records not committed after a group change (%s); the partitions' "
             "new owner consumes them again",
             svc->n, rd_kafka_err2str(err));
      oc_nr_clear(svc, OC_NR_COMMIT);
      return true;
    }
    oc_metrics_inc(svc->metrics, "ocelot_transient_errors_total", "source=\"commit\"", 1);
    oc_nr_set(svc, OC_NR_COMMIT, "could not commit offsets: %s", rd_kafka_err2str(err));
    if (oc_svc_stopping(svc)) {
      int64_t now = oc_mono_us();
      if (!stop_at) stop_at = now + OC_STOP_GRACE_MS * 1000LL;
      if (now >= stop_at) return false;
      usleep(OC_POLL_MS * 1000);
    }
    /* Polling may run a rebalance, which drops the records of revoked partitions. */
    oc_wait(svc, oc_backoff(svc, ++retry));
  }
  oc_nr_clear(svc, OC_NR_COMMIT); /* nothing left to commit: revoked meanwhile */
  return true;
}

/* Produces dead letters for records in OC_REC_DEAD. */
static void oc_batch_dead_letter(oc_svc_t *svc) {
  char dlq[OC_TOPIC_MAX + 8];
  int64_t now = oc_wall_us();
  for (size_t i = 0; i < svc->n; i++) {
    if (svc->state[i] != OC_REC_DEAD) continue;
    const oc_msg_t *m = &svc->msgs[i];
    const rd_kafka_message_t *rkm = svc->rkms[i];
    snprintf(dlq, sizeof(dlq), "%s%s", m->topic, OC_DLQ_SUFFIX);
    rd_kafka_headers_t *hdrs =
        oc_kafka_dlq_headers(rkm, svc->h->name, m->err, m->errmsg, m->attempts, now);
    if (!hdrs) continue; /* out of memory: tried again after the backoff */
    rd_kafka_resp_err_t err = oc_produce(svc, dlq, rkm->key, rkm->key_len, rkm->payload, rkm->len,
                                         hdrs, OC_TAG_DLQ + (uintptr_t)svc->seqs[i]);
    if (err) {
      unsigned sup;
      if (oc_ratelimit(svc, 4000000 + (int)err, &sup))
        oc_log(OC_LOG_WARN, "could not produce a dead letter to \"%s\": %s", dlq,
               rd_kafka_err2str(err));
      continue;
    }
    svc->state[i] = OC_REC_DLQ_SENT;
  }
}

static size_t oc_batch_count(const oc_svc_t *svc, int state) {
  size_t c = 0;
  for (size_t i = 0; i < svc->n; i++)
    c += svc->state[i] == state;
  return c;
}

/* Records the handler's verdicts. Returns the highest attempt count among records that
 * will be retried (0: none). */
static int oc_batch_verdicts(oc_svc_t *svc, size_t nw, oc_err_t rc) {
  int retry_attempts = 0;
  size_t nfailed = 0;
  const oc_msg_t *first = NULL;
  for (size_t j = 0; j < nw; j++) {
    oc_msg_t *w = &svc->work[j];
    size_t i = svc->work_idx[j];
    oc_msg_t *m = &svc->msgs[i];
    if (w->err == OC_OK && rc != OC_OK) {
      w->err = rc;
      snprintf(w->errmsg, sizeof(w->errmsg), "handler failed the batch: %s", oc_err_str(rc));
    }
    if (w->err == OC_OK) {
      svc->state[i] = OC_REC_OK;
      continue;
    }
    m->err = w->err;
    memcpy(m->errmsg, w->errmsg, sizeof(m->errmsg));
    m->attempts++;
    nfailed++;
    if (!first) first = m;
    oc_tstats_t *ts = oc_tstats(svc, m->topic);
    if (ts) ts->failed++;
    if (m->attempts >= svc->max_attempts) {
      char part[16], off[32], att[16];
      snprintf(part, sizeof(part), "%d", (int)m->partition);
      snprintf(off, sizeof(off), "%lld", (long long)m->offset);
      snprintf(att, sizeof(att), "%d", m->attempts);
      oc_log_kv(OC_LOG_WARN, "record failed for the last time; dead-lettering it", "topic",
                m->topic, "partition", part, "offset", off, "attempts", att, "error_class",
                oc_err_name(m->err), "error", m->errmsg, NULL);
      svc->state[i] = OC_REC_DEAD;
    } else if (m->attempts > retry_attempts) {
      retry_attempts = m->attempts;
    }
  }
  if (nfailed && retry_attempts) {
    unsigned sup;
    if (oc_ratelimit(svc, 5000000, &sup))
      oc_log(OC_LOG_WARN, "%zu records failed, retrying (first: %s[%d]@%lld: %s)", nfailed,
             first->topic, (int)first->partition, (long long)first->offset, first->errmsg);
  }
  return retry_attempts;
}

/* Works on the held batch until it is committed (or dropped by a rebalance, or
 * abandoned because the service is stopping). */
static void oc_batch_run(oc_svc_t *svc) {
  int64_t t0 = oc_mono_us();
  int transient = 0, delivery = 0;
  bool committed = false;
  size_t nrecords = svc->n;

  svc->holding = true;
  svc->batch_failed = 0;
  for (;;) {
    if (svc->n == 0) break;

    /* 1. The handler, on the records still pending. */
    size_t nw = 0;
    for (size_t i = 0; i < svc->n; i++) {
      if (svc->state[i] != OC_REC_PENDING) continue;
      svc->work[nw] = svc->msgs[i];
      svc->work[nw].err = OC_OK;
      svc->work[nw].errmsg[0] = '\0';
      svc->work_idx[nw++] = i;
    }
    if (nw) {
      svc->in_handler = true;
      oc_err_t rc = svc->h->handle_batch(svc, svc->work, nw, svc->opaque);
      svc->in_handler = false;
      atomic_store(&svc->loop_beat_us, oc_mono_us());
      if (rc != OC_OK && oc_err_is_transient(rc)) {
        transient++;
        oc_metrics_inc(svc->metrics, "ocelot_transient_errors_total", "source=\"handler\"", 1);
        oc_nr_set(svc, OC_NR_HANDLER, "handler reported: %s", oc_err_str(rc));
        if (oc_svc_stopping(svc)) break;
        int64_t ms = oc_backoff(svc, transient);
        unsigned sup;
        if (oc_ratelimit(svc, 6000000 + (int)rc, &sup))
          oc_log(OC_LOG_WARN,
                 "handler reported a transient error (%s); retrying %zu records in "
                 "%lld ms without advancing",
                 oc_err_name(rc), nw, (long long)ms);
        oc_svc_pause(svc);
        oc_arena_reset(&svc->arena); /* nothing of the failed attempt is kept */
        oc_wait(svc, ms);
        continue;
      }
      if (transient) {
        oc_log(OC_LOG_INFO, "handler recovered after %d transient errors", transient);
        transient = 0;
      }
      oc_nr_clear(svc, OC_NR_HANDLER);
      int retry = oc_batch_verdicts(svc, nw, rc);
      if (retry) {
        oc_svc_pause(svc);
        oc_wait(svc, oc_backoff(svc, retry));
        continue;
      }
    }

    /* 2. Dead letters, 3. confirmation of everything produced. */
    oc_batch_dead_letter(svc);
    if (!oc_wait_deliveries(svc, -1, true)) break; /* stopping, broker gone */
    if (svc->batch_failed || oc_batch_count(svc, OC_REC_DEAD)) {
      delivery++;
      oc_metrics_inc(svc->metrics, "ocelot_transient_errors_total", "source=\"delivery\"", 1);
      oc_nr_set(svc, OC_NR_DELIVERY, "could not deliver records: %s",
                svc->dr_err ? rd_kafka_err2str(svc->dr_err) : "produce failed");
      if (oc_svc_stopping(svc)) break;
      if (svc->batch_failed) {
        /* Outputs were lost: handle the records again (dead ones stay dead). */
        for (size_t i = 0; i < svc->n; i++)
          if (svc->state[i] == OC_REC_OK) svc->state[i] = OC_REC_PENDING;
        svc->batch_failed = 0;
      }
      svc->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
      oc_svc_pause(svc);
      oc_wait(svc, oc_backoff(svc, delivery));
      continue;
    }
    if (delivery) oc_nr_clear(svc, OC_NR_DELIVERY);
    svc->flush_failed = 0;
    svc->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;

    /* 4. The commit. */
    committed = oc_batch_commit(svc);
    break;
  }

  if (!committed && svc->n)
    oc_log(OC_LOG_WARN, "stopping with %zu records not committed; they will be consumed again",
           svc->n);
  if (committed && svc->n)
    oc_metrics_observe(svc->metrics, "ocelot_batch_duration_seconds", "",
                       (double)(oc_mono_us() - t0) / 1e6);
  (void)nrecords;
  oc_batch_release(svc);
  oc_tstats_push(svc);
  oc_arena_reset(&svc->arena);
  svc->holding = false;
  oc_svc_resume(svc);
}

/* ---- HTTP ---- */

static void oc_svc_http(const oc_http_req_t *req, oc_http_resp_t *resp, void *opaque) {
  oc_svc_t *svc = opaque;
  bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  char text[1200];
  int status = 200;
  const char *ctype = "text/plain; charset=utf-8";

  if (strcmp(req->path, "/metrics") == 0 && get) {
    size_t len = 0;
    char *body = oc_metrics_render(svc->metrics, &len);
    resp->status = body ? 200 : 500;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = body;
    resp->body_len = body ? len : 0;
    return;
  }
  if (strcmp(req->path, "/healthz") == 0 && get) {
    int64_t idle = (oc_mono_us() - atomic_load(&svc->loop_beat_us)) / 1000000;
    if (!atomic_load(&svc->loop_running)) {
      status = 503;
      snprintf(text, sizeof(text), "loop not running\n");
    } else if (idle > OC_STALL_S) {
      status = 503;
      snprintf(text, sizeof(text), "loop stalled for %lld s\n", (long long)idle);
    } else {
      snprintf(text, sizeof(text), "ok\n");
    }
  } else if (strcmp(req->path, "/readyz") == 0 && get) {
    char why[1024];
    if (oc_svc_readiness(svc, why, sizeof(why))) {
      snprintf(text, sizeof(text), "ready\n");
    } else {
      status = 503;
      snprintf(text, sizeof(text), "not ready: %s\n", why);
    }
  } else if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0 ||
             strcmp(req->path, "/metrics") == 0) {
    status = 405;
    snprintf(text, sizeof(text), "method not allowed\n");
  } else {
    status = 404;
    snprintf(text, sizeof(text), "not found\n");
  }
  resp->status = status;
  resp->content_type = ctype;
  resp->body = strdup(text);
  resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* ---- life cycle ---- */

static void oc_declare_metrics(oc_metrics_t *m) {
  oc_metrics_declare(m, "ocelot_records_in_total", OC_METRIC_COUNTER,
                     "Records consumed, per topic.", NULL, 0);
  oc_metrics_declare(m, "ocelot_records_out_total", OC_METRIC_COUNTER,
                     "Records produced and acknowledged by the broker, per topic.", NULL, 0);
  oc_metrics_declare(m, "ocelot_records_failed_total", OC_METRIC_COUNTER,
                     "Failed handling attempts of records, per source topic.", NULL, 0);
  oc_metrics_declare(m, "ocelot_records_dead_lettered_total", OC_METRIC_COUNTER,
                     "Records moved to <topic>.dlq, per source topic.", NULL, 0);
  oc_metrics_declare(m, "ocelot_offsets_lost_total", OC_METRIC_COUNTER,
                     "Offsets that vanished from the broker before they were consumed.", NULL, 0);
  oc_metrics_declare(m, "ocelot_batch_duration_seconds", OC_METRIC_HISTOGRAM,
                     "Time from handing a batch to the handler until its offsets are committed.",
                     oc_batch_buckets, sizeof(oc_batch_buckets) / sizeof(oc_batch_buckets[0]));
  oc_metrics_declare(m, "ocelot_consumer_lag", OC_METRIC_GAUGE,
                     "Records between the committed offset and the end of the partition.", NULL, 0);
  oc_metrics_declare(m, "ocelot_transient_errors_total", OC_METRIC_COUNTER,
                     "Transient errors that made the runtime back off, by source.", NULL, 0);
  oc_metrics_declare(m, "ocelot_delivery_failures_total", OC_METRIC_COUNTER,
                     "Produced records the broker did not acknowledge.", NULL, 0);
  oc_metrics_declare(m, "ocelot_consumer_errors_total", OC_METRIC_COUNTER,
                     "Errors reported by the Kafka consumer, by error.", NULL, 0);
  oc_metrics_declare(m, "ocelot_commits_total", OC_METRIC_COUNTER, "Offset commits made.", NULL, 0);
  oc_metrics_declare(m, "ocelot_ready", OC_METRIC_GAUGE, "1 when the service reports ready.", NULL,
                     0);
}

/* Configuration problems are reported before the configured log level is known. */
static void oc_config_error(const char *msg) {
  oc_log(OC_LOG_ERROR, "invalid configuration: %s", msg);
}

oc_svc_t *oc_svc_new(const oc_handler_t *h, int argc, char **argv, int *exit_code) {
  char errstr[512];
  const char *prog = argc > 0 && argv && argv[0] ? argv[0] : h->name;
  oc_svc_t *svc = calloc(1, sizeof(*svc));
  int rc = 1;
  if (!svc) goto fail;
  svc->h = h;
  oc_log_init(h->name, OC_LOG_INFO);
  pthread_mutex_init(&svc->mu, NULL);
  svc->was_ready = true;
  snprintf(svc->nr[OC_NR_STARTING], sizeof(svc->nr[0]), "starting");
  svc->cfg = oc_config_new(prog);
  if (!svc->cfg) goto fail;
  oc_config_add(svc->cfg, oc_runtime_cfgdefs, oc_runtime_ncfgdefs);
  if (h->cfgdefs && h->ncfgdefs) oc_config_add(svc->cfg, h->cfgdefs, h->ncfgdefs);
  int lrc = oc_config_load(svc->cfg, argc, argv, errstr, sizeof(errstr));
  if (lrc == 1) {
    rc = 0;
    goto fail;
  }
  if (lrc < 0) {
    oc_config_error(errstr);
    rc = 2;
    goto fail;
  }
  int level = oc_log_level_parse(oc_config_str(svc->cfg, "OCELOT_LOG_LEVEL"));
  if (level < 0) {
    snprintf(errstr, sizeof(errstr),
             "invalid value for OCELOT_LOG_LEVEL: \"%s\" (use debug, info, warn or error)",
             oc_config_str(svc->cfg, "OCELOT_LOG_LEVEL"));
    oc_config_error(errstr);
    rc = 2;
    goto fail;
  }
  svc->batch_max = (int)oc_config_int(svc->cfg, "OCELOT_BATCH_MAX");
  svc->batch_wait_ms = (int)oc_config_int(svc->cfg, "OCELOT_BATCH_WAIT_MS");
  svc->max_attempts = (int)oc_config_int(svc->cfg, "OCELOT_MAX_ATTEMPTS");
  svc->backoff_ms = oc_config_int(svc->cfg, "OCELOT_RETRY_BACKOFF_MS");
  svc->backoff_max_ms = oc_config_int(svc->cfg, "OCELOT_RETRY_BACKOFF_MAX_MS");
  if (svc->backoff_max_ms < svc->backoff_ms) {
    snprintf(errstr, sizeof(errstr),
             "OCELOT_RETRY_BACKOFF_MAX_MS (%lld) must not be smaller than "
             "OCELOT_RETRY_BACKOFF_MS (%lld)",
             (long long)svc->backoff_max_ms, (long long)svc->backoff_ms);
    oc_config_error(errstr);
    rc = 2;
    goto fail;
  }
  oc_log_init(h->name, (oc_log_level_t)level);

  const char *group = oc_config_str(svc->cfg, "OCELOT_GROUP_ID");
  snprintf(svc->group, sizeof(svc->group), "%s", *group ? group : h->name);
  const char *inst = oc_config_str(svc->cfg, "OCELOT_INSTANCE_ID");
  if (*inst) {
    snprintf(svc->instance, sizeof(svc->instance), "%s", inst);
  } else {
    char host[200] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(svc->instance, sizeof(svc->instance), "%s-%ld", host, (long)getpid());
  }
  snprintf(svc->client_id, sizeof(svc->client_id), "%s-%s", h->name, svc->instance);

  svc->metrics = oc_metrics_new();
  size_t cap = (size_t)svc->batch_max;
  svc->rkms = calloc(cap, sizeof(*svc->rkms));
  svc->msgs = calloc(cap, sizeof(*svc->msgs));
  svc->state = calloc(cap, sizeof(*svc->state));
  svc->seqs = calloc(cap, sizeof(*svc->seqs));
  svc->work = calloc(cap, sizeof(*svc->work));
  svc->work_idx = calloc(cap, sizeof(*svc->work_idx));
  svc->carry = calloc(cap, sizeof(*svc->carry));
  if (!svc->metrics || !svc->rkms || !svc->msgs || !svc->state || !svc->seqs || !svc->work ||
      !svc->work_idx || !svc->carry) {
    oc_log(OC_LOG_ERROR, "out of memory");
    goto fail;
  }
  oc_arena_init(&svc->arena, OC_ARENA_CHUNK);
  svc->arena_ready = true;
  oc_declare_metrics(svc->metrics);
  oc_metrics_set(svc->metrics, "ocelot_ready", "", 0);
  svc->was_ready = false;
  for (size_t i = 0; i < h->ntopics; i++) {
    if (h->topics[i][0] == '^') continue; /* regex: series appear with the topics */
    oc_tstats_t *ts = oc_tstats(svc, h->topics[i]);
    if (ts) oc_tstats_consumed(svc, ts);
  }

  const char *addr = oc_config_str(svc->cfg, "OCELOT_HTTP_ADDR");
  svc->http = oc_http_start(addr, (int)oc_config_int(svc->cfg, "OCELOT_HTTP_PORT"),
                            OC_HTTP_MAX_BODY, oc_svc_http, svc, errstr, sizeof(errstr));
  if (!svc->http) {
    oc_log(OC_LOG_ERROR, "%s", errstr);
    goto fail;
  }
  {
    char port[16];
    snprintf(port, sizeof(port), "%d", oc_http_port(svc->http));
    oc_log_kv(OC_LOG_INFO, "http listening", "addr", addr, "port", port, NULL);
  }
  *exit_code = 0;
  return svc;

fail:
  oc_svc_destroy(svc);
  *exit_code = rc;
  return NULL;
}

/* Postgres at start: connect and migrate, retrying while it is unavailable. false when
 * a permanent error (exit 1) or a stop request ends the wait (*stopped set). */
static bool oc_start_pg(oc_svc_t *svc, bool *stopped) {
  char errstr[512];
  int retry = 0;
  svc->pg = oc_pg_new(oc_config_str(svc->cfg, "OCELOT_PG_DSN"));
  if (!svc->pg) {
    oc_log(OC_LOG_ERROR, "out of memory");
    return false;
  }
  for (;;) {
    int applied = 0;
    oc_err_t err = oc_pg_connect(svc->pg, errstr, sizeof(errstr));
    if (!err) err = oc_migrate_run(svc->pg, &applied, errstr, sizeof(errstr));
    if (!err) {
      if (applied) oc_log(OC_LOG_INFO, "applied %d database migrations", applied);
      oc_nr_clear(svc, OC_NR_PG);
      return true;
    }
    if (!oc_err_is_transient(err)) {
      oc_log(OC_LOG_ERROR, "could not prepare the database: %s", errstr);
      return false;
    }
    oc_nr_set(svc, OC_NR_PG, "postgres unavailable: %s", errstr);
    int64_t ms = oc_backoff(svc, ++retry);
    unsigned sup;
    if (oc_ratelimit(svc, 7000000, &sup))
      oc_log(OC_LOG_WARN, "postgres unavailable, retrying in %lld ms: %s", (long long)ms, errstr);
    for (int64_t waited = 0; waited < ms; waited += OC_POLL_MS) {
      if (oc_svc_stopping(svc)) {
        oc_log(OC_LOG_INFO, "stopping while waiting for postgres");
        *stopped = true;
        return false;
      }
      atomic_store(&svc->loop_beat_us, oc_mono_us());
      usleep(OC_POLL_MS * 1000);
    }
  }
}

int oc_svc_run(oc_svc_t *svc) {
  const oc_handler_t *h = svc->h;
  char errstr[512];
  int rc = 1;
  bool stopped = false;

  atomic_store(&svc->loop_beat_us, oc_mono_us());
  atomic_store(&svc->loop_running, true);
  oc_log_kv(OC_LOG_INFO, "starting", "group", svc->group, "instance", svc->instance, "brokers",
            oc_config_str(svc->cfg, "OCELOT_KAFKA_BROKERS"), NULL);

  if (h->needs_pg && !oc_start_pg(svc, &stopped)) {
    rc = stopped ? 0 : 1;
    goto out;
  }
  if (h->needs_redis) {
    svc->redis = oc_redis_new(oc_config_str(svc->cfg, "OCELOT_REDIS_URL"), errstr, sizeof(errstr));
    if (!svc->redis) {
      oc_log(OC_LOG_ERROR, "invalid OCELOT_REDIS_URL: %s", errstr);
      goto out;
    }
    if (oc_redis_connect(svc->redis, errstr, sizeof(errstr)) != OC_OK)
      oc_log(OC_LOG_WARN, "redis unavailable at start (will reconnect on use): %s", errstr);
  }
  if (!oc_make_producer(svc, errstr, sizeof(errstr))) {
    oc_log(OC_LOG_ERROR, "could not create the kafka producer: %s", errstr);
    goto out;
  }
  if (h->ntopics) {
    rd_kafka_conf_t *conf =
        oc_kafka_consumer_conf(oc_config_str(svc->cfg, "OCELOT_KAFKA_BROKERS"), svc->group,
                               svc->client_id, errstr, sizeof(errstr));
    if (conf) {
      rd_kafka_conf_set_rebalance_cb(conf, oc_rebalance_cb);
      rd_kafka_conf_set_error_cb(conf, oc_consumer_error_cb);
      rd_kafka_conf_set_opaque(conf, svc);
      svc->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
      if (!svc->consumer) rd_kafka_conf_destroy(conf);
    }
    if (!svc->consumer) {
      oc_log(OC_LOG_ERROR, "could not create the kafka consumer: %s", errstr);
      goto out;
    }
    rd_kafka_poll_set_consumer(svc->consumer);
  }
  if (h->init) {
    errstr[0] = '\0';
    oc_err_t err = h->init(svc, &svc->opaque, errstr, sizeof(errstr));
    if (err) {
      oc_log(OC_LOG_ERROR, "could not initialize: %s", errstr[0] ? errstr : oc_err_str(err));
      goto out;
    }
  }
  svc->initialized = true;
  if (h->ntopics) {
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)h->ntopics);
    for (size_t i = 0; i < h->ntopics; i++)
      rd_kafka_topic_partition_list_add(subs, h->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(svc->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
      oc_log(OC_LOG_ERROR, "could not subscribe: %s", rd_kafka_err2str(err));
      goto out;
    }
  }
  oc_nr_clear(svc, OC_NR_STARTING);

  for (;;) {
    oc_periodic(svc);
    if (!oc_svc_stopping(svc)) oc_batch_collect(svc);
    if (svc->n) oc_batch_run(svc);
    if (oc_svc_stopping(svc)) break;
  }
  oc_log(OC_LOG_INFO, "stopping");
  rc = 0;

out:
  oc_nr_set(svc, OC_NR_STARTING, "stopping");
  for (size_t i = 0; i < svc->ncarry; i++)
    rd_kafka_message_destroy(svc->carry[i]);
  svc->ncarry = 0;
  if (svc->initialized && h->destroy) h->destroy(svc, svc->opaque);
  svc->initialized = false;
  if (svc->producer) {
    if (!oc_wait_deliveries(svc, OC_STOP_GRACE_MS, false))
      oc_log(OC_LOG_WARN, "%llu produced records were not acknowledged before stopping",
             (unsigned long long)svc->dr_outstanding);
  }
  if (svc->consumer) {
    rd_kafka_consumer_close(svc->consumer); /* leaves the group: a quick rebalance */
    rd_kafka_destroy(svc->consumer);
    svc->consumer = NULL;
  }
  oc_tstats_push(svc);
  atomic_store(&svc->loop_running, false);
  return rc;
}

void oc_svc_destroy(oc_svc_t *svc) {
  if (!svc) return;
  oc_http_stop(svc->http);
  if (svc->initialized && svc->h->destroy) svc->h->destroy(svc, svc->opaque);
  oc_batch_release(svc);
  for (size_t i = 0; i < svc->ncarry; i++)
    rd_kafka_message_destroy(svc->carry[i]);
  if (svc->consumer) {
    rd_kafka_consumer_close(svc->consumer);
    rd_kafka_destroy(svc->consumer);
  }
  if (svc->producer) {
    rd_kafka_purge(svc->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(svc->producer);
  }
  if (svc->pg) oc_pg_destroy(svc->pg);
  if (svc->redis) oc_redis_destroy(svc->redis);
  if (svc->arena_ready) oc_arena_deinit(&svc->arena);
  for (size_t i = 0; i < svc->ntstats; i++) {
    free(svc->tstats[i].topic);
    free(svc->tstats[i].labels);
  }
  free(svc->tstats);
  for (size_t i = 0; i < svc->nparts; i++)
    free(svc->parts[i].topic);
  free(svc->parts);
  free(svc->rkms);
  free(svc->msgs);
  free(svc->state);
  free(svc->seqs);
  free(svc->work);
  free(svc->work_idx);
  free(svc->carry);
  oc_metrics_destroy(svc->metrics);
  oc_config_destroy(svc->cfg);
  pthread_mutex_destroy(&svc->mu);
  free(svc);
}

static void oc_runtime_on_signal(int sig) {
  oc_runtime_signalled = 1;
}

int oc_runtime_main(const oc_handler_t *h, int argc, char **argv) {
  int rc;
  struct sigaction sa;
  oc_svc_t *svc;
  /* Installed first, so a stop request during start-up is a clean stop too. The handler
   * only sets a flag; the loop notices it within OC_POLL_MS. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = oc_runtime_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  svc = oc_svc_new(h, argc, argv, &rc);
  if (!svc) return rc;
  rc = oc_svc_run(svc);
  oc_svc_destroy(svc);
  return rc;
}

void oc_msg_fail(oc_msg_t *msg, oc_err_t err, const char *fmt, ...) {
  va_list ap;
  msg->err = err == OC_OK ? OC_ERR_INTERNAL : err;
  va_start(ap, fmt);
  if (fmt)
    vsnprintf(msg->errmsg, sizeof(msg->errmsg), fmt, ap);
  else
    msg->errmsg[0] = '\0';
  va_end(ap);
}
