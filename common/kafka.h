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
rd_kafka_t *oc_kafka_consumer_new(const char *brokers, const char *group_id, const char *client_id,
                                  void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                       rd_kafka_topic_partition_list_t *, void *),
                                  void *opaque, char *errstr, size_t errstr_size);
/* The consumer's configuration as oc_kafka_consumer_new() builds it (group, manual
 * offsets, OCELOT_KAFKA_<PROP> applied), for callers that add callbacks (error_cb,
 * rebalance_cb, opaque) before rd_kafka_new(). Call rd_kafka_poll_set_consumer() on the
 * new handle. NULL + errstr on failure; the caller owns the result. */
rd_kafka_conf_t *oc_kafka_consumer_conf(const char *brokers, const char *group_id,
                                        const char *client_id, char *errstr, size_t errstr_size);
/* Translates a librdkafka error into oc_err_t (broker/transport/timeouts -> transient;
 * message too large, invalid record -> permanent). */
oc_err_t oc_kafka_err(rd_kafka_resp_err_t err);
/* Header value as a NUL-terminated copy into buf; returns buf or NULL when absent. */
const char *oc_kafka_header(const rd_kafka_message_t *rkm, const char *name, char *buf,
                            size_t size);

/* Headers for a dead letter of rkm: its headers without any oc-* ones, plus the eight
 * OC_HDR_* headers (oc-failed-at is RFC 3339 UTC). errmsg may be empty (then
 * oc_err_str(err)). The caller owns the result (rd_kafka_headers_destroy, or pass it to
 * a produce call that takes ownership). NULL only when out of memory. */
rd_kafka_headers_t *oc_kafka_dlq_headers(const rd_kafka_message_t *rkm, const char *service,
                                         oc_err_t err, const char *errmsg, int attempts,
                                         int64_t failed_at_us);
/* A copy of rkm's headers without the oc-* ones (what requeue sends back). The caller
 * owns the result. NULL only when out of memory. */
rd_kafka_headers_t *oc_kafka_headers_without_oc(const rd_kafka_message_t *rkm);

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
