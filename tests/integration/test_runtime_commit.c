/* test_runtime_commit: a handler's outputs are durable before the input offsets are
 * committed. A service copies every input record to an output topic; after it stops, a
 * new instance in the same group resumes after the committed records, and every output
 * is present. With deliveries failing (fault injection in an in-process mock cluster)
 * the batch is handled again and nothing is committed until the outputs are acked. */
#include "runtime_testlib.h"

#include <librdkafka/rdkafka_mock.h>

#define N1 200
#define N2 100

static char in_topic[128], out_topic[128];
static atomic_int handled_v, handled_w, calls;
static atomic_int committed_seen_during_retry = -2;
static char group_name[128];

static oc_err_t copy_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  int call = atomic_fetch_add(&calls, 1);
  if (opaque && call == 1) {
    /* Second call in the fault test: the failed first attempt must not be committed. */
    atomic_store(&committed_seen_during_retry, (int)tl_committed(group_name, in_topic, 0));
  }
  for (size_t i = 0; i < n; i++) {
    oc_err_t err = oc_svc_produce(svc, out_topic, msgs[i].key, msgs[i].key_len, msgs[i].value,
                                  msgs[i].len, NULL);
    if (err) return err;
    if (msgs[i].len && ((const char *)msgs[i].value)[0] == 'v') atomic_fetch_add(&handled_v, 1);
    if (msgs[i].len && ((const char *)msgs[i].value)[0] == 'w') atomic_fetch_add(&handled_w, 1);
  }
  return OC_OK;
}

static oc_err_t fault_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  *opaque = (void *)1;
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static oc_handler_t handler = {
    .name = "rt-commit", .topics = topics, .ntopics = 1, .handle_batch = copy_batch};

/* Every value appears exactly once among the records. */
static int check_values(const char *prefix, int count, tl_rec_t *recs, size_t n) {
  int *seen = calloc((size_t)count, sizeof(int));
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    int k;
    if (recs[i].value && recs[i].value[0] == prefix[0] &&
        sscanf(recs[i].value + 2, "%d", &k) == 1 && k >= 0 && k < count)
      seen[k]++;
  }
  for (int k = 0; k < count; k++)
    if (seen[k] != 1) {
      if (bad < 5) fprintf(stderr, "value %s-%d seen %d times\n", prefix, k, seen[k]);
      bad++;
    }
  free(seen);
  return bad;
}

static void test_restart_resumes_after_commit(void) {
  tl_svc_t t;
  rd_kafka_t *p = tl_producer();
  char key[32], val[32];

  tl_env_defaults();
  tl_unique(in_topic, sizeof(in_topic), "rt-commit-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-commit-out");
  tl_unique(group_name, sizeof(group_name), "rt-commit-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  for (int i = 0; i < N1; i++) {
    snprintf(key, sizeof(key), "k-%d", i);
    snprintf(val, sizeof(val), "v-%d", i);
    tl_produce(p, in_topic, -1, key, val, NULL);
  }
  tl_flush(p);
  OC_CHECK(tl_partitions(out_topic) > 0);

  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed_total(group_name, in_topic) == N1, 60, "first run commits all records");
  OC_CHECK_INT(atomic_load(&handled_v), N1);
  OC_CHECK_INT(tl_svc_stop(&t), 0);

  tl_rec_t *recs;
  size_t n = tl_read_all(out_topic, &recs);
  OC_CHECK_INT(n, N1);
  OC_CHECK_INT(check_values("v", N1, recs, n), 0);
  tl_recs_free(recs, n);

  /* More input while nobody consumes; a new instance continues after the commit. */
  for (int i = 0; i < N2; i++) {
    snprintf(key, sizeof(key), "k-%d", i);
    snprintf(val, sizeof(val), "w-%d", i);
    tl_produce(p, in_topic, -1, key, val, NULL);
  }
  tl_flush(p);
  atomic_store(&handled_v, 0);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed_total(group_name, in_topic) == N1 + N2, 60,
          "second run commits the new records");
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  OC_CHECK_INT(atomic_load(&handled_v), 0); /* nothing before the commit came back */
  OC_CHECK_INT(atomic_load(&handled_w), N2);

  n = tl_read_all(out_topic, &recs);
  OC_CHECK_INT(n, N1 + N2);
  OC_CHECK_INT(check_values("v", N1, recs, n), 0);
  OC_CHECK_INT(check_values("w", N2, recs, n), 0);
  tl_recs_free(recs, n);
  rd_kafka_destroy(p);
}

/* Produce requests fail (injected); the batch must be handled again and committed only
 * after its outputs are acknowledged. */
static void test_failed_delivery_is_handled_again(void) {
  char errstr[512];
  const char *saved = getenv("OCELOT_KAFKA_BROKERS");
  char *saved_brokers = strdup(saved ? saved : "");
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr));
  rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mrk);
  tl_svc_t t;
  char val[32];

  tl_env_defaults();
  setenv("OCELOT_KAFKA_BROKERS", rd_kafka_mock_cluster_bootstraps(mc), 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-fault-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-fault-out");
  tl_unique(group_name, sizeof(group_name), "rt-fault-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  rd_kafka_mock_topic_create(mc, in_topic, 1, 1);
  rd_kafka_mock_topic_create(mc, out_topic, 1, 1);
  rd_kafka_t *p = tl_producer();
  for (int i = 0; i < 20; i++) {
    snprintf(val, sizeof(val), "v-%d", i);
    tl_produce(p, in_topic, 0, NULL, val, NULL);
  }
  tl_flush(p);
  rd_kafka_destroy(p);

  /* The service's first produce requests are refused by the broker. */
  rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 2,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  atomic_store(&calls, 0);
  atomic_store(&handled_v, 0);
  oc_handler_t h = handler;
  h.name = "rt-fault";
  h.init = fault_init;
  OC_CHECK_INT(tl_svc_start(&t, &h), 0);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 20, 60, "commit after redelivery");
  OC_CHECK(atomic_load(&calls) >= 2);
  OC_CHECK_INT(atomic_load(&committed_seen_during_retry), -1);
  OC_CHECK(tl_svc_metric(t.port, "ocelot_delivery_failures_total") >= 1);
  OC_CHECK_INT(tl_svc_stop(&t), 0);

  tl_rec_t *recs;
  size_t n = tl_read_all(out_topic, &recs);
  OC_CHECK(n >= 20);
  int *seen = calloc(20, sizeof(int));
  for (size_t i = 0; i < n; i++) {
    int k;
    if (sscanf(recs[i].value, "v-%d", &k) == 1 && k >= 0 && k < 20) seen[k]++;
  }
  for (int k = 0; k < 20; k++)
    OC_CHECK(seen[k] >= 1);
  free(seen);
  tl_recs_free(recs, n);

  setenv("OCELOT_KAFKA_BROKERS", saved_brokers, 1);
  free(saved_brokers);
  rd_kafka_destroy(mrk);
}

/* A "^..." entry subscribes by regex (log-processor's source.* topics). */
static char rx_topics[2][128], rx_pattern[160];
static const char *rx_subs[1] = {rx_pattern};

static void test_regex_subscription(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t t;
  char prefix[96];
  tl_env_defaults();
  tl_unique(prefix, sizeof(prefix), "rt-rx");
  snprintf(rx_topics[0], sizeof(rx_topics[0]), "%s.a", prefix);
  snprintf(rx_topics[1], sizeof(rx_topics[1]), "%s.b", prefix);
  snprintf(rx_pattern, sizeof(rx_pattern), "^%s\\..*", prefix);
  tl_unique(out_topic, sizeof(out_topic), "rt-rx-out");
  tl_unique(group_name, sizeof(group_name), "rt-rx-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  for (int i = 0; i < 10; i++) {
    tl_produce(p, rx_topics[0], -1, NULL, "v-a", NULL);
    tl_produce(p, rx_topics[1], -1, NULL, "v-b", NULL);
  }
  tl_flush(p);
  oc_handler_t h = handler;
  h.name = "rt-regex";
  h.topics = rx_subs;
  OC_CHECK_INT(tl_svc_start(&t, &h), 0);
  TL_WAIT(tl_committed_total(group_name, rx_topics[0]) == 10 &&
              tl_committed_total(group_name, rx_topics[1]) == 10,
          60, "both topics of the pattern consumed");
  char series[256];
  snprintf(series, sizeof(series), "ocelot_records_in_total{topic=\"%s\"}", rx_topics[1]);
  OC_CHECK(tl_svc_metric(t.port, series) == 10);
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  OC_CHECK_INT(tl_count(out_topic), 20);
  rd_kafka_destroy(p);
}

OC_TEST_MAIN(OC_TEST(test_restart_resumes_after_commit),
             OC_TEST(test_failed_delivery_is_handled_again), OC_TEST(test_regex_subscription))
