/* kafka.h: librdkafka client construction shared by the runtime and the tools, so every
 * client gets the same settings: bootstrap from OCELOT_KAFKA_BROKERS, idempotent
 * producer with acks=all, manual offset commits, and every OCELOT_KAFKA_<PROP>
 * passthrough applied last. */
#ifndef OC_KAFKA_H
#define OC_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Producer. dr_cb may be NULL. Returns NULL + errstr on failure. */
rd_kafka_t *oc_kafka_producer_new(const char *brokers, const char *client_id,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *errstr, size_t errstr_size);
/* Consumer in group_id with enable.auto.commit=false, enable.auto.offset.store=false,
 * auto.offset.reset=earliest. rebalance_cb may be NULL (then the default assign is used).
 * The caller subscribes. */
rd_kafka_t *oc_kafka_consumer_new(const char *brokers, const char *group_id,
                                  const char *client_id,
                                  void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                       rd_kafka_topic_partition_list_t *, void *),
                                  void *opaque, char *errstr, size_t errstr_size);
/* Translates a librdkafka error into oc_err_t (broker/transport/timeouts -> transient;
 * message too large, invalid record -> permanent). */
oc_err_t oc_kafka_err(rd_kafka_resp_err_t err);
/* Header value as a NUL-terminated copy into buf; returns buf or NULL when absent. */
const char *oc_kafka_header(const rd_kafka_message_t *rkm, const char *name, char *buf, size_t size);

/* Dead-letter header names (DESIGN.md). */
#define OC_HDR_ERROR "oc-error"
#define OC_HDR_ERROR_CLASS "oc-error-class"
#define OC_HDR_SERVICE "oc-service"
#define OC_HDR_SOURCE_TOPIC "oc-source-topic"
#define OC_HDR_SOURCE_PARTITION "oc-source-partition"
#define OC_HDR_SOURCE_OFFSET "oc-source-offset"
#define OC_HDR_ATTEMPTS "oc-attempts"
#define OC_HDR_FAILED_AT "oc-failed-at"
#define OC_DLQ_SUFFIX ".dlq"

/* Topic names. */
#define OC_TOPIC_INPUT "input-notifications"
#define OC_TOPIC_SOURCE_PREFIX "source."
#define OC_TOPIC_SOURCE_REGEX "^source\\..*"
#define OC_TOPIC_PROCESSED "processed-files"
#define OC_TOPIC_MATCHES "rule-matches"
#define OC_TOPIC_ALERTS "alerts"

#endif
