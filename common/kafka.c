/* kafka.c: librdkafka clients with Ocelot's settings, error translation and the
 * dead-letter headers. Every client logs through oc_log and takes OCELOT_KAFKA_<PROP>
 * overrides last, so any librdkafka setting is reachable from the environment. */
#include "common/kafka.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"

typedef struct {
  rd_kafka_conf_t *conf;
  char *errstr;
  size_t errstr_size;
  bool failed;
} oc_kafka_props_ctx_t;

static void oc_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  oc_log_level_t lvl = level <= 3   ? OC_LOG_ERROR
                       : level == 4 ? OC_LOG_WARN
                       : level <= 6 ? OC_LOG_INFO
                                    : OC_LOG_DEBUG;
  /* OCELOT_KAFKA_<PROP> goes to producers and consumers alike; librdkafka's note that a
   * consumer property is ignored by a producer (and vice versa) is expected. */
  if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by this")) lvl = OC_LOG_DEBUG;
  oc_log_kv(lvl, "librdkafka", "client", rk ? rd_kafka_name(rk) : "", "facility", fac, "detail",
            buf, NULL);
}

static void oc_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    oc_log_kv(OC_LOG_ERROR, "kafka client fatal error", "client", rd_kafka_name(rk), "error",
              rd_kafka_err2name(ferr), "reason", fatal, NULL);
    return;
  }
  oc_log_kv(OC_LOG_WARN, "kafka client error", "client", rd_kafka_name(rk), "error",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), "reason", reason, NULL);
}

static bool oc_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                         size_t errstr_size) {
  char why[256];
  if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
    snprintf(errstr, errstr_size, "could not set kafka property %s=\"%s\": %s", name, value, why);
    return false;
  }
  return true;
}

static void oc_kafka_prop_cb(const char *prop, const char *value, void *opaque) {
  oc_kafka_props_ctx_t *ctx = opaque;
  char why[256];
  if (ctx->failed) return;
  if (rd_kafka_conf_set(ctx->conf, prop, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
    snprintf(ctx->errstr, ctx->errstr_size,
             "invalid kafka property from the environment (%s=\"%s\"): %s", prop, value, why);
    ctx->failed = true;
  }
}

/* Common settings; NULL + errstr on failure. */
static rd_kafka_conf_t *oc_kafka_conf_new(const char *brokers, const char *client_id, char *errstr,
                                          size_t errstr_size) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (!oc_kafka_set(conf, "bootstrap.servers", brokers && *brokers ? brokers : "127.0.0.1:9092",
                    errstr, errstr_size))
    goto fail;
  if (client_id && *client_id && !oc_kafka_set(conf, "client.id", client_id, errstr, errstr_size))
    goto fail;
  rd_kafka_conf_set_log_cb(conf, oc_kafka_log_cb);
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* Applies OCELOT_KAFKA_<PROP> last; false + errstr when one is rejected. */
static bool oc_kafka_apply_env(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size) {
  oc_kafka_props_ctx_t ctx = {conf, errstr, errstr_size, false};
  oc_config_kafka_props(oc_kafka_prop_cb, &ctx);
  return !ctx.failed;
}

rd_kafka_t *oc_kafka_producer_new(const char *brokers, const char *client_id,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *errstr, size_t errstr_size) {
  rd_kafka_t *rk;
  rd_kafka_conf_t *conf = oc_kafka_conf_new(brokers, client_id, errstr, errstr_size);
  if (!conf) return NULL;
  if (!oc_kafka_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
      !oc_kafka_set(conf, "acks", "all", errstr, errstr_size) ||
      !oc_kafka_set(conf, "linger.ms", "5", errstr, errstr_size) ||
      !oc_kafka_apply_env(conf, errstr, errstr_size)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_error_cb(conf, oc_kafka_error_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
  if (!rk) rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
  return rk;
}

rd_kafka_conf_t *oc_kafka_consumer_conf(const char *brokers, const char *group_id,
                                        const char *client_id, char *errstr, size_t errstr_size) {
  rd_kafka_conf_t *conf;
  if (!group_id || !*group_id) {
    snprintf(errstr, errstr_size, "a consumer needs a group id");
    return NULL;
  }
  conf = oc_kafka_conf_new(brokers, client_id, errstr, errstr_size);
  if (!conf) return NULL;
  if (!oc_kafka_set(conf, "group.id", group_id, errstr, errstr_size) ||
      !oc_kafka_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
      !oc_kafka_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
      !oc_kafka_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) ||
      !oc_kafka_apply_env(conf, errstr, errstr_size)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  return conf;
}

rd_kafka_t *oc_kafka_consumer_new(const char *brokers, const char *group_id, const char *client_id,
                                  void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                       rd_kafka_topic_partition_list_t *, void *),
                                  void *opaque, char *errstr, size_t errstr_size) {
  rd_kafka_t *rk;
  rd_kafka_conf_t *conf = oc_kafka_consumer_conf(brokers, group_id, client_id, errstr, errstr_size);
  if (!conf) return NULL;
  if (rebalance_cb) rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_error_cb(conf, oc_kafka_error_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

oc_err_t oc_kafka_err(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return OC_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return OC_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return OC_ERR_LIMIT;
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
      return OC_ERR_INVALID;
    case RD_KAFKA_RESP_ERR__NOENT:
      return OC_ERR_NOT_FOUND;
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
      return OC_ERR_CONFLICT;
    default:
      /* Broker, transport, coordinator, leadership, authorization and quota errors:
       * waiting (or an operator) fixes them, and a record must never be dead-lettered
       * because the broker had a bad minute. */
      return OC_ERR_UNAVAILABLE;
  }
}

const char *oc_kafka_header(const rd_kafka_message_t *rkm, const char *name, char *buf,
                            size_t size) {
  rd_kafka_headers_t *hdrs = NULL;
  const void *val = NULL;
  size_t len = 0;
  if (!rkm || !buf || size == 0) return NULL;
  if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs) return NULL;
  if (rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR) return NULL;
  if (len >= size) len = size - 1;
  if (len) memcpy(buf, val, len);
  buf[len] = '\0';
  return buf;
}

static bool oc_is_oc_header(const char *name) {
  return strncmp(name, "oc-", 3) == 0;
}

rd_kafka_headers_t *oc_kafka_headers_without_oc(const rd_kafka_message_t *rkm) {
  rd_kafka_headers_t *src = NULL, *dst;
  size_t cnt = 0;
  if (rkm && rd_kafka_message_headers(rkm, &src) == RD_KAFKA_RESP_ERR_NO_ERROR && src)
    cnt = rd_kafka_header_cnt(src);
  dst = rd_kafka_headers_new(cnt + 8);
  if (!dst) return NULL;
  for (size_t i = 0; i < cnt; i++) {
    const char *name;
    const void *val;
    size_t len;
    if (rd_kafka_header_get_all(src, i, &name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (oc_is_oc_header(name)) continue;
    rd_kafka_header_add(dst, name, -1, val, val ? (ssize_t)len : 0);
  }
  return dst;
}

rd_kafka_headers_t *oc_kafka_dlq_headers(const rd_kafka_message_t *rkm, const char *service,
                                         oc_err_t err, const char *errmsg, int attempts,
                                         int64_t failed_at_us) {
  rd_kafka_headers_t *hdrs = oc_kafka_headers_without_oc(rkm);
  char num[32], ts[48];
  struct tm tm;
  time_t secs;
  if (!hdrs) return NULL;
  if (!errmsg || !*errmsg) errmsg = oc_err_str(err);
  rd_kafka_header_add(hdrs, OC_HDR_ERROR, -1, errmsg, -1);
  rd_kafka_header_add(hdrs, OC_HDR_ERROR_CLASS, -1, oc_err_name(err), -1);
  rd_kafka_header_add(hdrs, OC_HDR_SERVICE, -1, service ? service : "", -1);
  rd_kafka_header_add(hdrs, OC_HDR_SOURCE_TOPIC, -1,
                      rkm && rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "", -1);
  snprintf(num, sizeof(num), "%d", rkm ? (int)rkm->partition : -1);
  rd_kafka_header_add(hdrs, OC_HDR_SOURCE_PARTITION, -1, num, -1);
  snprintf(num, sizeof(num), "%lld", rkm ? (long long)rkm->offset : -1LL);
  rd_kafka_header_add(hdrs, OC_HDR_SOURCE_OFFSET, -1, num, -1);
  snprintf(num, sizeof(num), "%d", attempts);
  rd_kafka_header_add(hdrs, OC_HDR_ATTEMPTS, -1, num, -1);
  secs = (time_t)(failed_at_us / 1000000);
  gmtime_r(&secs, &tm);
  snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(failed_at_us % 1000000));
  rd_kafka_header_add(hdrs, OC_HDR_FAILED_AT, -1, ts, -1);
  return hdrs;
}
