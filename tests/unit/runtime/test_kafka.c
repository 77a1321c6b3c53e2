/* Unit tests for kafka.c (no broker): error classes, the consumer settings and
 * OCELOT_KAFKA_<PROP> applied last, a bad passthrough property failing loudly. */
#include "common/kafka.h"

#include <stdlib.h>

#include "oc_test.h"

static void test_error_classes(void) {
  OC_CHECK_INT(oc_kafka_err(RD_KAFKA_RESP_ERR_NO_ERROR), OC_OK);
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR__TRANSPORT)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR__QUEUE_FULL)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)));
  OC_CHECK(oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS)));
  OC_CHECK_INT(oc_kafka_err(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), OC_ERR_TIMEOUT);
  OC_CHECK_INT(oc_kafka_err(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), OC_ERR_LIMIT);
  OC_CHECK_INT(oc_kafka_err(RD_KAFKA_RESP_ERR_INVALID_MSG), OC_ERR_INVALID);
  OC_CHECK_INT(oc_kafka_err(RD_KAFKA_RESP_ERR_INVALID_RECORD), OC_ERR_INVALID);
  OC_CHECK(!oc_err_is_transient(oc_kafka_err(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)));
}

static void test_consumer_conf(void) {
  char errstr[512], v[256];
  size_t n;
  setenv("OCELOT_KAFKA_AUTO_OFFSET_RESET", "latest", 1);
  setenv("OCELOT_KAFKA_SESSION_TIMEOUT_MS", "7000", 1);
  rd_kafka_conf_t *conf =
      oc_kafka_consumer_conf("127.0.0.1:1", "grp", "cid", errstr, sizeof(errstr));
  OC_CHECK(conf != NULL);
  if (conf) {
    n = sizeof(v);
    OC_CHECK(rd_kafka_conf_get(conf, "enable.auto.commit", v, &n) == RD_KAFKA_CONF_OK);
    OC_CHECK_STR(v, "false");
    n = sizeof(v);
    rd_kafka_conf_get(conf, "enable.auto.offset.store", v, &n);
    OC_CHECK_STR(v, "false");
    n = sizeof(v);
    rd_kafka_conf_get(conf, "group.id", v, &n);
    OC_CHECK_STR(v, "grp");
    n = sizeof(v);
    rd_kafka_conf_get(conf, "bootstrap.servers", v, &n);
    OC_CHECK_STR(v, "127.0.0.1:1");
    n = sizeof(v);
    rd_kafka_conf_get(conf, "session.timeout.ms", v, &n);
    OC_CHECK_STR(v, "7000");
    /* Passthrough comes last: it overrides Ocelot's own default. */
    n = sizeof(v);
    rd_kafka_conf_get(conf, "auto.offset.reset", v, &n);
    OC_CHECK(strcmp(v, "latest") == 0 || strcmp(v, "largest") == 0); /* librdkafka's alias */
    rd_kafka_conf_destroy(conf);
  }
  unsetenv("OCELOT_KAFKA_AUTO_OFFSET_RESET");
  unsetenv("OCELOT_KAFKA_SESSION_TIMEOUT_MS");

  conf = oc_kafka_consumer_conf("127.0.0.1:1", "", "cid", errstr, sizeof(errstr));
  OC_CHECK(conf == NULL);
  OC_CHECK(strstr(errstr, "group") != NULL);
}

static void test_bad_property(void) {
  char errstr[512];
  setenv("OCELOT_KAFKA_NO_SUCH_THING", "1", 1);
  rd_kafka_t *rk = oc_kafka_producer_new("127.0.0.1:1", "t", NULL, NULL, errstr, sizeof(errstr));
  OC_CHECK(rk == NULL);
  OC_CHECK(strstr(errstr, "no.such.thing") != NULL);
  if (rk) rd_kafka_destroy(rk);
  rk = oc_kafka_consumer_new("127.0.0.1:1", "g", "t", NULL, NULL, errstr, sizeof(errstr));
  OC_CHECK(rk == NULL);
  unsetenv("OCELOT_KAFKA_NO_SUCH_THING");

  setenv("OCELOT_KAFKA_ACKS", "not-a-number", 1);
  rk = oc_kafka_producer_new("127.0.0.1:1", "t", NULL, NULL, errstr, sizeof(errstr));
  OC_CHECK(rk == NULL);
  OC_CHECK(strstr(errstr, "acks") != NULL);
  unsetenv("OCELOT_KAFKA_ACKS");

  rk = oc_kafka_producer_new("127.0.0.1:1", "t", NULL, NULL, errstr, sizeof(errstr));
  OC_CHECK(rk != NULL);
  if (rk) rd_kafka_destroy(rk);
}

static void test_header_absent(void) {
  char buf[16];
  OC_CHECK(oc_kafka_header(NULL, "x", buf, sizeof(buf)) == NULL);
}

OC_TEST_MAIN(OC_TEST(test_error_classes), OC_TEST(test_consumer_conf), OC_TEST(test_bad_property),
             OC_TEST(test_header_absent))
