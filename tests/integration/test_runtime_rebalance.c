/* test_runtime_rebalance: two instances in one consumer group share the partitions; when
 * one joins or leaves mid-stream the rebalance drops held, uncommitted records (the new
 * owner gets them) and nothing is lost: every input has its output. */
#include "runtime_testlib.h"

static char in_topic[128], out_topic[128], group_name[128];
static atomic_int next_instance;
static atomic_int handled[2];

static oc_err_t rb_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  *opaque = &handled[atomic_fetch_add(&next_instance, 1) % 2];
  return OC_OK;
}

static oc_err_t rb_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  atomic_int *count = opaque;
  usleep(20 * 1000);
  for (size_t i = 0; i < n; i++) {
    oc_err_t err = oc_svc_produce(svc, out_topic, msgs[i].key, msgs[i].key_len, msgs[i].value,
                                  msgs[i].len, NULL);
    if (err) return err;
  }
  atomic_fetch_add(count, (int)n);
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {.name = "rt-rebalance",
                                     .topics = topics,
                                     .ntopics = 1,
                                     .init = rb_init,
                                     .handle_batch = rb_batch};

static void produce_range(rd_kafka_t *p, int from, int to) {
  char key[32], val[32];
  for (int i = from; i < to; i++) {
    snprintf(key, sizeof(key), "k-%d", i);
    snprintf(val, sizeof(val), "v-%d", i);
    tl_produce(p, in_topic, -1, key, val, NULL);
  }
  tl_flush(p);
}

static int missing_outputs(int count) {
  tl_rec_t *recs;
  size_t n = tl_read_all(out_topic, &recs);
  char *seen = calloc((size_t)count, 1);
  int missing = 0, k;
  for (size_t i = 0; i < n; i++)
    if (sscanf(recs[i].value, "v-%d", &k) == 1 && k >= 0 && k < count) seen[k] = 1;
  for (int i = 0; i < count; i++)
    missing += !seen[i];
  free(seen);
  tl_recs_free(recs, n);
  return missing;
}

static void test_join_and_leave(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t a, b;

  tl_env_defaults();
  setenv("OCELOT_BATCH_MAX", "25", 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-rb-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-rb-out");
  tl_unique(group_name, sizeof(group_name), "rt-rb-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  produce_range(p, 0, 400);
  OC_CHECK(tl_partitions(out_topic) > 0);

  OC_CHECK_INT(tl_svc_start(&a, &handler), 0);
  TL_WAIT(atomic_load(&handled[0]) >= 50, 60, "first instance working");
  OC_CHECK_INT(tl_svc_start(&b, &handler), 0);
  produce_range(p, 400, 600);
  TL_WAIT(tl_committed_total(group_name, in_topic) == 600, 90, "600 committed by two instances");
  /* More input once both own partitions: both must handle some of it. */
  int a0 = atomic_load(&handled[0]), b0 = atomic_load(&handled[1]);
  produce_range(p, 600, 800);
  TL_WAIT(tl_committed_total(group_name, in_topic) == 800, 90, "800 committed");
  OC_CHECK(atomic_load(&handled[0]) > a0);
  OC_CHECK(atomic_load(&handled[1]) > b0);

  /* The second instance leaves; the first takes over its partitions. */
  OC_CHECK_INT(tl_svc_stop(&b), 0);
  produce_range(p, 800, 900);
  TL_WAIT(tl_committed_total(group_name, in_topic) == 900, 90, "900 committed after a leave");
  OC_CHECK_INT(tl_svc_stop(&a), 0);

  OC_CHECK_INT(missing_outputs(900), 0);
  OC_CHECK(atomic_load(&handled[0]) + atomic_load(&handled[1]) >= 900);
  rd_kafka_destroy(p);
}

OC_TEST_MAIN(OC_TEST(test_join_and_leave))
