/* test_runtime_lost: offsets that vanished before they were consumed are data loss,
 * reported loudly (error log and ocelot_offsets_lost_total), never skipped silently.
 * The development broker drops the oldest data of a partition past about 5 MiB; a group
 * whose committed offset fell off that way must count exactly the lost offsets. */
#include "runtime_testlib.h"

#define BIG 80
#define BIG_SIZE (100 * 1024)

static char in_topic[128], group_name[128];
static atomic_int handled;

static oc_err_t count_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  atomic_fetch_add(&handled, (int)n);
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {
    .name = "rt-lost", .topics = topics, .ntopics = 1, .handle_batch = count_batch};

static void test_vanished_offsets_are_counted(void) {
  rd_kafka_t *p = tl_producer();
  tl_svc_t t;
  char series[512];
  int64_t lo, hi;

  tl_env_defaults();
  tl_unique(in_topic, sizeof(in_topic), "rt-lost-in");
  tl_unique(group_name, sizeof(group_name), "rt-lost-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  tl_produce(p, in_topic, 0, NULL, "first", NULL);
  tl_flush(p);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == 1, 60, "first record committed");
  OC_CHECK_INT(tl_svc_stop(&t), 0);

  /* While the group is away, the partition outgrows what the broker keeps. */
  char *big = malloc(BIG_SIZE + 1);
  memset(big, 'x', BIG_SIZE);
  big[BIG_SIZE] = '\0';
  for (int i = 0; i < BIG; i++) {
    tl_produce(p, in_topic, 0, NULL, big, NULL);
    if (i % 10 == 9) tl_flush(p);
  }
  tl_flush(p);
  free(big);
  tl_watermarks(in_topic, 0, &lo, &hi);
  OC_CHECK_INT(hi, BIG + 1);
  OC_CHECK(lo > 1); /* the broker dropped the oldest records */

  atomic_store(&handled, 0);
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed(group_name, in_topic, 0) == hi, 60, "consumed to the end");
  snprintf(series, sizeof(series), "ocelot_offsets_lost_total{topic=\"%s\"}", in_topic);
  OC_CHECK(tl_svc_metric(t.port, series) == (double)(lo - 1));
  OC_CHECK_INT(atomic_load(&handled), hi - lo);
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  rd_kafka_destroy(p);
}

OC_TEST_MAIN(OC_TEST(test_vanished_offsets_are_counted))
