/* test_runtime_dlq: a record failed with oc_msg_fail is retried (alone) up to
 * OCELOT_MAX_ATTEMPTS, then lands in "<topic>.dlq" with its key, value and non-oc
 * headers untouched and the eight oc-* headers; the stream moves on. A record that fails
 * once and then succeeds is not dead-lettered. */
#include "runtime_testlib.h"

#define MAX_ATTEMPTS 3

static char in_topic[128], out_topic[128], dlq_topic[160], group_name[128];
static atomic_int attempts_a, attempts_b, attempts_flaky, ok_handled, ok_calls_max;
static atomic_int ok_seen[64];

static int ok_index(const oc_msg_t *m) {
  int k;
  char buf[32];
  if (m->len == 0 || m->len >= sizeof(buf)) return -1;
  memcpy(buf, m->value, m->len);
  buf[m->len] = '\0';
  if (sscanf(buf, "ok-%d", &k) == 1 && k >= 0 && k < 32) return k;
  if (sscanf(buf, "late-%d", &k) == 1 && k >= 0 && k < 32) return 32 + k;
  return -1;
}

static oc_err_t dlq_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  for (size_t i = 0; i < n; i++) {
    oc_msg_t *m = &msgs[i];
    const char *v = m->value;
    if (m->len == 8 && memcmp(v, "poison-A", 8) == 0) {
      OC_CHECK_INT(m->attempts, atomic_fetch_add(&attempts_a, 1));
      oc_msg_fail(m, OC_ERR_DECODE, "cannot decode record %.*s", (int)m->len, v);
      continue;
    }
    if (m->len == 8 && memcmp(v, "poison-B", 8) == 0) {
      atomic_fetch_add(&attempts_b, 1);
      oc_msg_fail(m, OC_ERR_REMOTE, "peer refused \"it\"\nnewline");
      continue;
    }
    if (m->len == 7 && memcmp(v, "flaky-1", 7) == 0) {
      if (atomic_fetch_add(&attempts_flaky, 1) == 0) {
        oc_msg_fail(m, OC_ERR_INVALID, "first attempt fails");
        continue;
      }
    }
    int k = ok_index(m);
    if (k >= 0) {
      int c = atomic_fetch_add(&ok_seen[k], 1) + 1;
      if (c > atomic_load(&ok_calls_max)) atomic_store(&ok_calls_max, c);
    }
    oc_err_t err = oc_svc_produce(svc, out_topic, m->key, m->key_len, m->value, m->len, NULL);
    if (err) return err;
    atomic_fetch_add(&ok_handled, 1);
  }
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {
    .name = "rt-dlq", .topics = topics, .ntopics = 1, .handle_batch = dlq_batch};

static const tl_rec_t *find_value(const tl_rec_t *recs, size_t n, const char *value) {
  for (size_t i = 0; i < n; i++)
    if (recs[i].value && strcmp(recs[i].value, value) == 0) return &recs[i];
  return NULL;
}

static int header_count(const tl_rec_t *r, const char *name) {
  const void *v;
  size_t len;
  int c = 0;
  while (r->hdrs && rd_kafka_header_get(r->hdrs, (size_t)c, name, &v, &len) == 0)
    c++;
  return c;
}

static void check_failed_at(const char *s) {
  int y, mo, d, h, mi, se, us;
  char z = 0;
  OC_CHECK(s != NULL);
  if (!s) return;
  OC_CHECK_INT(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6d%c", &y, &mo, &d, &h, &mi, &se, &us, &z), 8);
  OC_CHECK(z == 'Z');
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = se};
  time_t t = timegm(&tm);
  OC_CHECK(llabs((long long)(time(NULL) - t)) < 300);
}

static void test_poison_goes_to_dlq(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t t;
  char val[32], buf[512], series[512];

  tl_env_defaults();
  setenv("OCELOT_MAX_ATTEMPTS", "3", 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-dlq-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-dlq-out");
  tl_unique(group_name, sizeof(group_name), "rt-dlq-group");
  snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", in_topic);
  setenv("OCELOT_GROUP_ID", group_name, 1);

  /* Partition 0, in order: ok-0 poison-A ok-1 flaky-1 ok-2 poison-B ok-3..ok-9 */
  tl_produce(p, in_topic, 0, "k0", "ok-0", NULL);
  rd_kafka_headers_t *h = rd_kafka_headers_new(4);
  rd_kafka_header_add(h, "h1", -1, "v1", -1);
  rd_kafka_header_add(h, "trace", -1, "abc", -1);
  rd_kafka_header_add(h, "oc-error", -1, "stale error from an earlier life", -1);
  rd_kafka_header_add(h, "empty", -1, NULL, 0);
  tl_produce(p, in_topic, 0, "kA", "poison-A", h);
  tl_produce(p, in_topic, 0, "k1", "ok-1", NULL);
  tl_produce(p, in_topic, 0, "kf", "flaky-1", NULL);
  tl_produce(p, in_topic, 0, "k2", "ok-2", NULL);
  tl_produce(p, in_topic, 0, NULL, "poison-B", NULL);
  for (int i = 3; i < 10; i++) {
    snprintf(val, sizeof(val), "ok-%d", i);
    tl_produce(p, in_topic, 0, NULL, val, NULL);
  }
  tl_flush(p);

  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 13, 60, "all 13 records committed");
  OC_CHECK_INT(atomic_load(&attempts_a), MAX_ATTEMPTS);
  OC_CHECK_INT(atomic_load(&attempts_b), MAX_ATTEMPTS);
  OC_CHECK_INT(atomic_load(&attempts_flaky), 2);
  OC_CHECK_INT(atomic_load(&ok_handled), 11);  /* ok-0..ok-9 and flaky-1 */
  OC_CHECK_INT(atomic_load(&ok_calls_max), 1); /* retries touch only the failed records */

  /* The stream moves on: later records are handled. */
  for (int i = 0; i < 5; i++) {
    snprintf(val, sizeof(val), "late-%d", i);
    tl_produce(p, in_topic, 0, NULL, val, NULL);
  }
  tl_flush(p);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 18, 60, "later records committed");
  OC_CHECK_INT(atomic_load(&ok_handled), 16);

  snprintf(series, sizeof(series), "ocelot_records_dead_lettered_total{topic=\"%s\"}", in_topic);
  OC_CHECK(tl_svc_metric(t.port, series) == 2);
  snprintf(series, sizeof(series), "ocelot_records_failed_total{topic=\"%s\"}", in_topic);
  OC_CHECK(tl_svc_metric(t.port, series) == 2 * MAX_ATTEMPTS + 1);
  OC_CHECK_INT(tl_svc_stop(&t), 0);

  tl_rec_t *recs;
  size_t n = tl_read_all(dlq_topic, &recs);
  OC_CHECK_INT(n, 2);
  const tl_rec_t *a = find_value(recs, n, "poison-A");
  OC_CHECK(a != NULL);
  if (a) {
    OC_CHECK(a->key && a->key_len == 2 && memcmp(a->key, "kA", 2) == 0);
    OC_CHECK_STR(tl_hdr(a, "h1", buf, sizeof(buf)), "v1");
    OC_CHECK_STR(tl_hdr(a, "trace", buf, sizeof(buf)), "abc");
    OC_CHECK_INT(header_count(a, "empty"), 1);
    OC_CHECK_INT(header_count(a, "oc-error"), 1);
    OC_CHECK_STR(tl_hdr(a, "oc-error", buf, sizeof(buf)), "cannot decode record poison-A");
    OC_CHECK_STR(tl_hdr(a, "oc-error-class", buf, sizeof(buf)), "OC_ERR_DECODE");
    OC_CHECK_STR(tl_hdr(a, "oc-service", buf, sizeof(buf)), "rt-dlq");
    OC_CHECK_STR(tl_hdr(a, "oc-source-topic", buf, sizeof(buf)), in_topic);
    OC_CHECK_STR(tl_hdr(a, "oc-source-partition", buf, sizeof(buf)), "0");
    OC_CHECK_STR(tl_hdr(a, "oc-source-offset", buf, sizeof(buf)), "1");
    OC_CHECK_STR(tl_hdr(a, "oc-attempts", buf, sizeof(buf)), "3");
    check_failed_at(tl_hdr(a, "oc-failed-at", buf, sizeof(buf)));
  }
  const tl_rec_t *b = find_value(recs, n, "poison-B");
  OC_CHECK(b != NULL);
  if (b) {
    OC_CHECK(b->key == NULL); /* a null key stays null */
    OC_CHECK_STR(tl_hdr(b, "oc-error", buf, sizeof(buf)), "peer refused \"it\"\nnewline");
    OC_CHECK_STR(tl_hdr(b, "oc-error-class", buf, sizeof(buf)), "OC_ERR_REMOTE");
    OC_CHECK_STR(tl_hdr(b, "oc-source-offset", buf, sizeof(buf)), "5");
    OC_CHECK_STR(tl_hdr(b, "oc-attempts", buf, sizeof(buf)), "3");
    check_failed_at(tl_hdr(b, "oc-failed-at", buf, sizeof(buf)));
  }
  tl_recs_free(recs, n);

  n = tl_read_all(out_topic, &recs);
  OC_CHECK_INT(n, 16);
  OC_CHECK(find_value(recs, n, "flaky-1") != NULL);
  OC_CHECK(find_value(recs, n, "late-4") != NULL);
  OC_CHECK(find_value(recs, n, "poison-A") == NULL);
  tl_recs_free(recs, n);
  rd_kafka_destroy(p);
}

OC_TEST_MAIN(OC_TEST(test_poison_goes_to_dlq))
