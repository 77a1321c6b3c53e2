/* test_runtime_transient: a transient error (a dependency down) retries the same records
 * without counting attempts, dead-lettering or advancing; /readyz answers 503 with the
 * reason during it and 200 after. A broker outage (in-process mock cluster with its
 * broker taken down) also makes the service not ready until the broker is back. */
#include "runtime_testlib.h"

#include <librdkafka/rdkafka_mock.h>

#define N1 30
#define N2 10

static char in_topic[128], out_topic[128], group_name[128];
static atomic_bool outage, tick_outage;
static atomic_int calls, outage_calls, sig_mismatch, handled;
static unsigned long long first_sig;
static atomic_int first_n;

static unsigned long long batch_sig(const oc_msg_t *msgs, size_t n) {
  unsigned long long s = n;
  for (size_t i = 0; i < n; i++)
    s = s * 31 + (unsigned long long)msgs[i].partition * 1000003ULL +
        (unsigned long long)msgs[i].offset;
  return s;
}

static oc_err_t flaky_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  atomic_fetch_add(&calls, 1);
  if (atomic_load(&outage)) {
    unsigned long long sig = batch_sig(msgs, n);
    if (atomic_fetch_add(&outage_calls, 1) == 0) {
      first_sig = sig;
      atomic_store(&first_n, (int)n);
    } else if (sig != first_sig) {
      atomic_fetch_add(&sig_mismatch, 1);
    }
    for (size_t i = 0; i < n; i++)
      OC_CHECK_INT(msgs[i].attempts, 0);
    return OC_ERR_UNAVAILABLE;
  }
  for (size_t i = 0; i < n; i++) {
    oc_err_t err = oc_svc_produce(svc, out_topic, msgs[i].key, msgs[i].key_len, msgs[i].value,
                                  msgs[i].len, NULL);
    if (err) return err;
    atomic_fetch_add(&handled, 1);
  }
  return OC_OK;
}

static oc_err_t flaky_tick(oc_svc_t *svc, void *opaque) {
  return atomic_load(&tick_outage) ? OC_ERR_TIMEOUT : OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {.name = "rt-transient",
                                     .topics = topics,
                                     .ntopics = 1,
                                     .handle_batch = flaky_batch,
                                     .tick = flaky_tick,
                                     .tick_ms = 100};

static int readyz(tl_svc_t *t, char *body, size_t size) {
  return tl_http_get(t->port, "/readyz", body, size);
}

static void test_outage_does_not_advance(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t t;
  char key[32], val[32], body[2048], series[512];

  tl_env_defaults();
  setenv("OCELOT_RETRY_BACKOFF_MAX_MS", "200", 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-tr-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-tr-out");
  tl_unique(group_name, sizeof(group_name), "rt-tr-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  for (int i = 0; i < N1; i++) {
    snprintf(key, sizeof(key), "k-%d", i);
    snprintf(val, sizeof(val), "v-%d", i);
    tl_produce(p, in_topic, -1, key, val, NULL);
  }
  tl_flush(p);

  atomic_store(&outage, true);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(atomic_load(&outage_calls) >= 5, 60, "handler retried during the outage");
  /* More input during the outage: the paused partitions do not hand it over. */
  for (int i = 0; i < N2; i++) {
    snprintf(val, sizeof(val), "w-%d", i);
    tl_produce(p, in_topic, -1, NULL, val, NULL);
  }
  tl_flush(p);
  int before = atomic_load(&outage_calls);
  TL_WAIT(atomic_load(&outage_calls) >= before + 5, 60, "more retries");

  OC_CHECK_INT(readyz(&t, body, sizeof(body)), 503);
  OC_CHECK(strstr(body, "dependency unavailable") != NULL);
  OC_CHECK_INT(tl_http_get(t.port, "/healthz", body, sizeof(body)), 200);
  OC_CHECK_STR(body, "ok\n");
  OC_CHECK_INT(atomic_load(&sig_mismatch), 0); /* the very same records every time */
  OC_CHECK(atomic_load(&first_n) > 0);
  OC_CHECK_INT(tl_committed_total(group_name, in_topic), 0);
  snprintf(series, sizeof(series), "ocelot_records_failed_total{topic=\"%s\"}", in_topic);
  OC_CHECK(tl_svc_metric(t.port, series) == 0);
  snprintf(series, sizeof(series), "ocelot_records_dead_lettered_total{topic=\"%s\"}", in_topic);
  OC_CHECK(tl_svc_metric(t.port, series) == 0);
  OC_CHECK(tl_svc_metric(t.port, "ocelot_transient_errors_total{source=\"handler\"}") >= 10);
  OC_CHECK(tl_svc_metric(t.port, "ocelot_ready") == 0);

  /* The dependency comes back: everything is handled, nothing dead-lettered. */
  atomic_store(&outage, false);
  TL_WAIT(tl_committed_total(group_name, in_topic) == N1 + N2, 60, "all records committed");
  TL_WAIT(readyz(&t, body, sizeof(body)) == 200, 10, "ready after the outage");
  OC_CHECK_STR(body, "ready\n");
  OC_CHECK_INT(atomic_load(&handled), N1 + N2);
  OC_CHECK(tl_svc_metric(t.port, "ocelot_ready") == 1);

  /* A periodic task's transient error also makes the service not ready. */
  atomic_store(&tick_outage, true);
  TL_WAIT(readyz(&t, body, sizeof(body)) == 503, 10, "not ready while tick fails");
  OC_CHECK(strstr(body, "periodic work") != NULL);
  atomic_store(&tick_outage, false);
  TL_WAIT(readyz(&t, body, sizeof(body)) == 200, 10, "ready when tick succeeds");
  OC_CHECK_INT(tl_svc_stop(&t), 0);

  char dlq[160];
  snprintf(dlq, sizeof(dlq), "%s.dlq", in_topic);
  OC_CHECK_INT(tl_count(dlq), 0);
  OC_CHECK_INT(tl_count(out_topic), N1 + N2);
  rd_kafka_destroy(p);
}

static void test_broker_outage_not_ready(void) {
  char errstr[512], body[2048];
  const char *saved = getenv("OCELOT_KAFKA_BROKERS");
  char *saved_brokers = strdup(saved ? saved : "");
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr));
  rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mrk);
  tl_svc_t t;

  tl_env_defaults();
  setenv("OCELOT_KAFKA_BROKERS", rd_kafka_mock_cluster_bootstraps(mc), 1);
  setenv("OCELOT_KAFKA_RECONNECT_BACKOFF_MAX_MS", "500", 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-bo-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-bo-out");
  tl_unique(group_name, sizeof(group_name), "rt-bo-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  rd_kafka_mock_topic_create(mc, in_topic, 2, 1);
  rd_kafka_mock_topic_create(mc, out_topic, 2, 1);

  atomic_store(&outage, false);
  atomic_store(&handled, 0);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  rd_kafka_t *p = tl_producer();
  tl_produce(p, in_topic, 0, NULL, "v-0", NULL);
  tl_flush(p);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 1, 60, "first record committed");
  TL_WAIT(readyz(&t, body, sizeof(body)) == 200, 10, "ready");

  rd_kafka_mock_broker_set_down(mc, 1);
  TL_WAIT(readyz(&t, body, sizeof(body)) == 503, 60, "not ready while the broker is down");
  OC_CHECK(strstr(body, "broker") != NULL);
  OC_CHECK_INT(tl_http_get(t.port, "/healthz", body, sizeof(body)), 200);

  rd_kafka_mock_broker_set_up(mc, 1);
  TL_WAIT(readyz(&t, body, sizeof(body)) == 200, 60, "ready when the broker is back");
  tl_produce(p, in_topic, 0, NULL, "v-1", NULL);
  tl_flush(p);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 2, 60, "consuming again");
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  rd_kafka_destroy(p);

  unsetenv("OCELOT_KAFKA_RECONNECT_BACKOFF_MAX_MS");
  setenv("OCELOT_KAFKA_BROKERS", saved_brokers, 1);
  free(saved_brokers);
  rd_kafka_destroy(mrk);
}

OC_TEST_MAIN(OC_TEST(test_outage_does_not_advance), OC_TEST(test_broker_outage_not_ready))
