/* runtime.h: the one service runtime. It owns configuration, logging, the Kafka
 * consume -> handle -> produce -> commit loop, retries, dead-lettering, signals, health
 * and metrics. A service supplies only an oc_handler_t.
 *
 * The loop, per batch (up to OCELOT_BATCH_MAX records or OCELOT_BATCH_WAIT_MS):
 *  1. handle_batch() is called with the pending records. Per record the handler either
 *     succeeds (does nothing) or marks it failed with oc_msg_fail() (permanent for that
 *     record). Returning a transient error (oc_err_is_transient) means "a dependency is
 *     down": the runtime marks the service not ready, pauses its partitions (polling on
 *     so it keeps its group membership), backs off exponentially and calls the handler
 *     again with the same records, forever, without counting attempts: an outage never
 *     floods a DLQ.
 *  2. Records marked failed are retried (only them) after a backoff, up to
 *     OCELOT_MAX_ATTEMPTS attempts; then they are produced to "<topic>.dlq" with the key,
 *     value and headers untouched plus the oc-* headers (DESIGN.md).
 *  3. Everything the handler produced with oc_svc_produce() is flushed and confirmed
 *     (idempotent producer, acks=all). If any delivery failed, the batch is handled again.
 *  4. Offsets are committed synchronously, then the batch's arena is reset.
 * SIGTERM/SIGINT: finish the batch, commit, call destroy, exit 0.
 * Everything runs on one thread (the loop); only the HTTP server runs on another and it
 * reads metrics and the ready flag only. */
#ifndef OC_RUNTIME_H
#define OC_RUNTIME_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/config.h"
#include "common/err.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/redis.h"

typedef struct oc_svc oc_svc_t;

typedef struct oc_msg {
  const char *topic;
  int32_t partition;
  int64_t offset;
  const void *key; /* may be NULL */
  size_t key_len;
  const void *value; /* may be NULL */
  size_t len;
  int64_t timestamp_ms;
  const rd_kafka_message_t *rkm; /* for headers (rd_kafka_message_headers) */
  int attempts;                  /* attempts before this one */
  /* Set by oc_msg_fail(). */
  oc_err_t err;
  char errmsg[512];
} oc_msg_t;

typedef struct oc_handler {
  const char *name;          /* service name: logs, metrics, default group id */
  const char *const *topics; /* subscription; "^..." entries are regexes */
  size_t ntopics;
  const oc_cfgdef_t *cfgdefs; /* the service's own configuration table */
  size_t ncfgdefs;
  bool needs_pg;    /* connect to OCELOT_PG_DSN and run migrations at start */
  bool needs_redis; /* connect to OCELOT_REDIS_URL */
  /* After configuration and connections, before consuming. Return non-OK to exit 1. */
  oc_err_t (*init)(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size);
  /* See the loop above. msgs[i].err is OC_OK on entry. */
  oc_err_t (*handle_batch)(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque);
  /* Optional periodic work on the loop thread about every tick_ms (outbox relay, lake
   * flushes). A transient error marks the service not ready until a tick succeeds. */
  oc_err_t (*tick)(oc_svc_t *svc, void *opaque);
  int tick_ms;
  /* Optional readiness check beyond the runtime's own (called from the loop thread). */
  void (*destroy)(oc_svc_t *svc, void *opaque);
} oc_handler_t;

/* The whole service: parses config (--help), starts logging, HTTP, clients, runs the
 * loop until SIGTERM. Returns the process exit code. */
int oc_runtime_main(const oc_handler_t *h, int argc, char **argv);

/* Marks a record permanently failed for this attempt; the message goes to the DLQ
 * header oc-error. */
void oc_msg_fail(oc_msg_t *msg, oc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queues a record for produce; confirmed before the batch's offsets are committed.
 * headers may be NULL (ownership of headers passes to the runtime). Copies key/value. */
oc_err_t oc_svc_produce(oc_svc_t *svc, const char *topic, const void *key, size_t key_len,
                        const void *value, size_t len, rd_kafka_headers_t *headers);
/* Waits until everything produced so far is acknowledged. OC_OK only if every record
 * since the last successful flush was delivered; otherwise a transient error. For use
 * in tick() before marking outbox rows published. */
oc_err_t oc_svc_flush(oc_svc_t *svc, int timeout_ms);

const oc_config_t *oc_svc_config(const oc_svc_t *svc);
oc_metrics_t *oc_svc_metrics(oc_svc_t *svc);
const char *oc_svc_name(const oc_svc_t *svc);
/* Connections (NULL when the handler did not ask for them). Reconnect on use. */
oc_pg_t *oc_svc_pg(oc_svc_t *svc);
oc_redis_t *oc_svc_redis(oc_svc_t *svc);
/* Arena reset after each committed batch. */
oc_arena_t *oc_svc_arena(oc_svc_t *svc);
/* Readiness reported on /readyz; `why` is shown in the body when not ready. */
void oc_svc_set_ready(oc_svc_t *svc, bool ready, const char *why);
bool oc_svc_stopping(const oc_svc_t *svc);

/* Lower-level entry points, for tests and embedding. oc_runtime_main() is oc_svc_new()
 * + SIGTERM/SIGINT handlers + oc_svc_run() + oc_svc_destroy().
 * oc_svc_new parses configuration (environment and argv), starts logging, metrics and
 * the HTTP listener. NULL with *exit_code set when the process should exit: 0 after
 * --help, 2 on bad configuration, 1 on other errors.
 * oc_svc_run connects (Postgres, Redis, Kafka), calls init, runs the loop until
 * oc_svc_request_stop() or a signal, finishes the batch, commits, calls destroy and
 * closes the clients. Returns the exit code. Call it once, on the thread that owns svc.
 * oc_svc_request_stop may be called from any thread. */
oc_svc_t *oc_svc_new(const oc_handler_t *h, int argc, char **argv, int *exit_code);
int oc_svc_run(oc_svc_t *svc);
void oc_svc_request_stop(oc_svc_t *svc);
void oc_svc_destroy(oc_svc_t *svc); /* accepts NULL */
/* The HTTP listener's port (useful with OCELOT_HTTP_PORT=0). */
int oc_svc_http_port(const oc_svc_t *svc);
/* Current readiness as /readyz reports it; why (may be NULL) gets the reasons. Any thread.
 * Note: besides after each committed batch, the runtime also resets oc_svc_arena() before
 * it hands a batch to handle_batch again after a transient error (so a long outage does
 * not grow it); handlers must not keep arena pointers across handle_batch calls. */
bool oc_svc_ready(oc_svc_t *svc, char *why, size_t why_size);

/* Configuration every service shares (brokers, Postgres, Redis, HTTP, batching,
 * retries). Exposed so tools and docs can list it. */
extern const oc_cfgdef_t oc_runtime_cfgdefs[];
extern const size_t oc_runtime_ncfgdefs;

#endif
