/* test_runtime_metrics: /metrics exposes records in/out/failed/dead-lettered per topic,
 * the batch latency histogram and the consumer lag per partition (which grows while the
 * handler is held up by a transient error and drops back to 0 once caught up); the
 * health endpoints answer as documented. */
#include "runtime_testlib.h"

static char in_topic[128], out_topic[128], group_name[128];
static atomic_bool held;

static oc_err_t metered_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  if (atomic_load(&held)) return OC_ERR_TIMEOUT;
  for (size_t i = 0; i < n; i++) {
    if (msgs[i].len == 3 && memcmp(msgs[i].value, "bad", 3) == 0) {
      oc_msg_fail(&msgs[i], OC_ERR_DECODE, "bad record");
      continue;
    }
    oc_err_t err = oc_svc_produce(svc, out_topic, NULL, 0, msgs[i].value, msgs[i].len, NULL);
    if (err) return err;
  }
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {
    .name = "rt-metrics", .topics = topics, .ntopics = 1, .handle_batch = metered_batch};

static double metric(tl_svc_t *t, const char *fmt, const char *topic) {
  char series[512];
  snprintf(series, sizeof(series), fmt, topic);
  return tl_svc_metric(t->port, series);
}

static void test_metrics_and_endpoints(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t t;
  char val[32], dlq[160];
  static char body[1 << 20];

  tl_env_defaults();
  tl_unique(in_topic, sizeof(in_topic), "rt-met-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-met-out");
  tl_unique(group_name, sizeof(group_name), "rt-met-group");
  snprintf(dlq, sizeof(dlq), "%s.dlq", in_topic);
  setenv("OCELOT_GROUP_ID", group_name, 1);
  for (int i = 0; i < 20; i++) {
    snprintf(val, sizeof(val), i == 7 ? "bad" : "v-%d", i);
    tl_produce(p, in_topic, 0, NULL, val, NULL);
  }
  tl_flush(p);

  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 20, 60, "20 records committed");
  OC_CHECK(metric(&t, "ocelot_records_in_total{topic=\"%s\"}", in_topic) == 20);
  OC_CHECK(metric(&t, "ocelot_records_out_total{topic=\"%s\"}", out_topic) == 19);
  OC_CHECK(metric(&t, "ocelot_records_out_total{topic=\"%s\"}", dlq) == 1);
  OC_CHECK(metric(&t, "ocelot_records_failed_total{topic=\"%s\"}", in_topic) == 3);
  OC_CHECK(metric(&t, "ocelot_records_dead_lettered_total{topic=\"%s\"}", in_topic) == 1);
  OC_CHECK(metric(&t, "ocelot_offsets_lost_total{topic=\"%s\"}", in_topic) == 0);

  OC_CHECK_INT(tl_http_get(t.port, "/metrics", body, sizeof(body)), 200);
  OC_CHECK(strstr(body, "# TYPE ocelot_batch_duration_seconds histogram\n") != NULL);
  OC_CHECK(strstr(body, "# TYPE ocelot_records_in_total counter\n") != NULL);
  OC_CHECK(strstr(body, "# TYPE ocelot_consumer_lag gauge\n") != NULL);
  double count = tl_metric(body, "ocelot_batch_duration_seconds_count");
  OC_CHECK(count >= 1);
  OC_CHECK(tl_metric(body, "ocelot_batch_duration_seconds_bucket{le=\"+Inf\"}") == count);
  OC_CHECK(tl_metric(body, "ocelot_batch_duration_seconds_sum") > 0);
  OC_CHECK(tl_metric(body, "ocelot_batch_duration_seconds_bucket{le=\"0.005\"}") <= count);

  /* Lag: 0 once caught up; grows while the handler is held back. */
  char lag[512];
  snprintf(lag, sizeof(lag), "ocelot_consumer_lag{topic=\"%s\",partition=\"0\"}", in_topic);
  TL_WAIT(tl_svc_metric(t.port, lag) == 0, 20, "lag 0 when caught up");
  atomic_store(&held, true);
  for (int i = 0; i < 5; i++)
    tl_produce(p, in_topic, 0, NULL, "later", NULL);
  tl_flush(p);
  TL_WAIT(tl_svc_metric(t.port, lag) == 5, 30, "lag 5 while held back");
  atomic_store(&held, false);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 25, 60, "caught up");
  TL_WAIT(tl_svc_metric(t.port, lag) == 0, 30, "lag back to 0");

  /* Endpoints. */
  OC_CHECK_INT(tl_http_get(t.port, "/healthz", body, sizeof(body)), 200);
  OC_CHECK_STR(body, "ok\n");
  OC_CHECK_INT(tl_http_get(t.port, "/readyz", body, sizeof(body)), 200);
  OC_CHECK_STR(body, "ready\n");
  OC_CHECK_INT(tl_http_get(t.port, "/nope", body, sizeof(body)), 404);
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  rd_kafka_destroy(p);
}

OC_TEST_MAIN(OC_TEST(test_metrics_and_endpoints))
