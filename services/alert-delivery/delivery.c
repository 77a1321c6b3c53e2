/* delivery.c: alerts -> webhooks, each (alert, output) delivered once (see delivery.h). */
#include "services/alert-delivery/delivery.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "ocelot/v1/messages.pb-c.h"
#include "services/alert-delivery/outputs.h"
#include "services/alert-delivery/render.h"
#include "services/alert-delivery/webhook.h"

#define OC_DLV_LOG_EVERY_US (10 * 1000000LL)
#define OC_DLV_MAX_ERROR 1000 /* bytes of an error stored in alert_deliveries */

const oc_cfgdef_t oc_delivery_cfgdefs[] = {
    {"OCELOT_OUTPUTS_REFRESH_MS", OC_CFG_INT, "5000", 100, 3600000,
     "how often the outputs table is read again (milliseconds)"},
};
const size_t oc_delivery_ncfgdefs = sizeof(oc_delivery_cfgdefs) / sizeof(oc_delivery_cfgdefs[0]);

typedef struct oc_dlv {
  oc_outputs_t outputs;
  oc_webhook_t *wh;
  int64_t refresh_us;
  int64_t refresh_log_us; /* last time a failed refresh was logged */
  int64_t pg_log_us;      /* last time a Postgres failure while delivering was logged */
  oc_buf_t body;          /* the JSON of the alert being delivered */
  bool curl_inited;
} oc_dlv_t;

static void *oc_dlv_pb_alloc(void *opaque, size_t size) {
  return oc_arena_alloc(opaque, size);
}
static void oc_dlv_pb_free(void *opaque, void *ptr) {
  (void)opaque;
  (void)ptr;
}

/* Reads the outputs table when it is due. Transient error only when it was never read
 * (an old copy is better than stopping deliveries). */
static oc_err_t oc_dlv_refresh(oc_dlv_t *d, oc_pg_t *pg) {
  char errstr[512];
  oc_err_t err;
  int64_t now = oc_monotonic_us();
  if (d->outputs.loaded && now - d->outputs.loaded_at_us < d->refresh_us) return OC_OK;
  err = oc_outputs_load(&d->outputs, pg, errstr, sizeof(errstr));
  if (err == OC_OK) {
    d->refresh_log_us = 0;
    return OC_OK;
  }
  if (!d->refresh_log_us || now - d->refresh_log_us >= OC_DLV_LOG_EVERY_US) {
    d->refresh_log_us = now;
    oc_log_kv(OC_LOG_WARN, "could not read the outputs table", "error", errstr, NULL);
  }
  if (d->outputs.loaded) return OC_OK;
  return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
}

/* The outputs an alert goes to, in an arena array. */
static const oc_output_t **oc_dlv_targets(oc_dlv_t *d, oc_arena_t *a, const Ocelot__V1__Alert *al,
                                          size_t *n) {
  size_t cap = al->n_destinations ? al->n_destinations : d->outputs.n;
  const oc_output_t **v = oc_arena_alloc(a, (cap ? cap : 1) * sizeof(*v));
  *n = 0;
  if (!v) return NULL;
  if (al->n_destinations == 0) {
    for (size_t i = 0; i < d->outputs.n; i++)
      if (d->outputs.v[i].enabled) v[(*n)++] = &d->outputs.v[i];
    return v;
  }
  for (size_t i = 0; i < al->n_destinations; i++) {
    const char *id = al->destinations[i];
    const oc_output_t *o = oc_outputs_find(&d->outputs, id);
    bool seen = false;
    if (!o) {
      oc_log_kv(OC_LOG_WARN, "alert names an unknown output; not sent there", "alert", al->alert_id,
                "rule", al->rule_id, "output", id, NULL);
      continue;
    }
    if (!o->enabled) {
      oc_log_kv(OC_LOG_INFO, "alert names a disabled output; not sent there", "alert", al->alert_id,
                "output", id, NULL);
      continue;
    }
    for (size_t j = 0; j < *n; j++)
      if (v[j] == o) seen = true;
    if (!seen) v[(*n)++] = o;
  }
  return v;
}

static void oc_dlv_metric(oc_svc_t *svc, const oc_output_t *o, const char *result,
                          const oc_webhook_result_t *res) {
  char esc[300], labels[400];
  oc_metrics_t *m = oc_svc_metrics(svc);
  oc_metrics_label_escape(o->id, esc, sizeof(esc));
  snprintf(labels, sizeof(labels), "output=\"%s\",result=\"%s\"", esc, result);
  oc_metrics_inc(m, "ocelot_deliveries_total", labels, 1);
  if (res) {
    snprintf(labels, sizeof(labels), "output=\"%s\"", esc);
    oc_metrics_observe(m, "ocelot_delivery_duration_seconds", labels,
                       (double)res->duration_us / 1e6);
  }
}

/* Whether (alert, output) already succeeded, and how many attempts were recorded. */
static oc_err_t oc_dlv_state(oc_pg_t *pg, const char *alert_id, const char *output_id, bool *done,
                             long *attempts, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  const char *p[2] = {alert_id, output_id};
  oc_err_t err = oc_pg_exec(pg, &res,
                            "SELECT coalesce(bool_or(success), false), count(*)"
                            " FROM alert_deliveries WHERE alert_id = $1 AND output_id = $2",
                            2, p, errstr, errstr_size);
  if (err) return err;
  *done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  *attempts = strtol(PQgetvalue(res, 0, 1), NULL, 10);
  PQclear(res);
  return OC_OK;
}

static oc_err_t oc_dlv_record(oc_pg_t *pg, const char *alert_id, const char *output_id,
                              long attempt, const oc_webhook_result_t *res, char *errstr,
                              size_t errstr_size) {
  char att[24], status[24], dur[24], errtext[OC_DLV_MAX_ERROR + 1];
  size_t elen = strlen(res->error);
  snprintf(att, sizeof(att), "%ld", attempt);
  snprintf(status, sizeof(status), "%ld", res->status);
  snprintf(dur, sizeof(dur), "%" PRId64, (res->duration_us + 999) / 1000);
  if (elen > OC_DLV_MAX_ERROR) elen = OC_DLV_MAX_ERROR;
  elen = oc_utf8_valid_prefix(res->error, elen);
  memcpy(errtext, res->error, elen);
  errtext[elen] = '\0';
  const char *p[7] = {alert_id,
                      output_id,
                      att,
                      res->ok ? "true" : "false",
                      res->status ? status : NULL,
                      res->ok ? NULL : errtext,
                      dur};
  /* A success that raced another instance's is absorbed by the partial unique index. */
  return oc_pg_exec(pg, NULL,
                    "INSERT INTO alert_deliveries (alert_id, output_id, attempt, success,"
                    " status_code, error, duration_ms) VALUES ($1, $2, $3::integer,"
                    " $4::boolean, $5::integer, $6, $7::integer)"
                    " ON CONFLICT (alert_id, output_id) WHERE success DO NOTHING",
                    7, p, errstr, errstr_size);
}

/* Delivers one alert. Returns a transient error when Postgres is down (the batch is
 * retried); a failed destination fails the record. */
static oc_err_t oc_dlv_alert(oc_svc_t *svc, oc_dlv_t *d, oc_pg_t *pg, oc_msg_t *msg,
                             const Ocelot__V1__Alert *al) {
  oc_arena_t *a = oc_svc_arena(svc);
  char errstr[512], failure[512] = "";
  const oc_output_t **targets;
  size_t n;
  bool rendered = false;
  oc_err_t err;

  targets = oc_dlv_targets(d, a, al, &n);
  if (!targets) return OC_ERR_NOMEM;
  if (n == 0) {
    oc_log_kv(OC_LOG_INFO, "alert has no destination", "alert", al->alert_id, "rule", al->rule_id,
              NULL);
    return OC_OK;
  }
  for (size_t i = 0; i < n; i++) {
    const oc_output_t *o = targets[i];
    oc_webhook_result_t res;
    bool done;
    long attempts;
    err = oc_dlv_state(pg, al->alert_id, o->id, &done, &attempts, errstr, sizeof(errstr));
    if (err) goto pg_failed;
    if (done) {
      oc_dlv_metric(svc, o, "duplicate", NULL);
      continue;
    }
    if (!rendered) {
      oc_buf_reset(&d->body);
      if (!oc_render_alert(&d->body, al, a)) return OC_ERR_NOMEM;
      rendered = true;
    }
    oc_webhook_post(d->wh, o, al->alert_id, d->body.data, d->body.len, &res);
    err = oc_dlv_record(pg, al->alert_id, o->id, attempts + 1, &res, errstr, sizeof(errstr));
    oc_dlv_metric(svc, o, res.ok ? "success" : "failure", &res);
    if (res.ok) {
      char ms[24];
      snprintf(ms, sizeof(ms), "%" PRId64, res.duration_us / 1000);
      oc_log_kv(OC_LOG_INFO, "alert delivered", "alert", al->alert_id, "rule", al->rule_id,
                "output", o->id, "duration_ms", ms, NULL);
    } else {
      char att[24];
      snprintf(att, sizeof(att), "%ld", attempts + 1);
      oc_log_kv(OC_LOG_WARN, "alert delivery failed", "alert", al->alert_id, "output", o->id,
                "attempt", att, "error", res.error, NULL);
      if (!failure[0]) {
        if (res.status)
          snprintf(failure, sizeof(failure), "output \"%.128s\" answered %ld", o->id, res.status);
        else
          snprintf(failure, sizeof(failure), "output \"%.128s\": %.360s", o->id, res.error);
      }
    }
    if (err) goto pg_failed;
  }
  if (failure[0]) oc_msg_fail(msg, OC_ERR_REMOTE, "%s", failure);
  return OC_OK;

pg_failed:
  /* The runtime retries with backoff for as long as the outage lasts: one line per 10 s. */
  if (!d->pg_log_us || oc_monotonic_us() - d->pg_log_us >= OC_DLV_LOG_EVERY_US) {
    d->pg_log_us = oc_monotonic_us();
    oc_log_kv(OC_LOG_WARN, "could not read or record deliveries; the batch will be retried",
              "alert", al->alert_id, "error_class", oc_err_name(err), "error", errstr, NULL);
  }
  return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
}

static oc_err_t oc_dlv_handle(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  oc_dlv_t *d = opaque;
  oc_arena_t *a = oc_svc_arena(svc);
  oc_pg_t *pg = oc_svc_pg(svc);
  ProtobufCAllocator alloc = {oc_dlv_pb_alloc, oc_dlv_pb_free, a};
  oc_err_t err;

  if (!pg) return OC_ERR_UNAVAILABLE;
  err = oc_dlv_refresh(d, pg);
  if (err) return err;
  for (size_t i = 0; i < n; i++) {
    oc_msg_t *msg = &msgs[i];
    Ocelot__V1__Alert *al = ocelot__v1__alert__unpack(&alloc, msg->len, msg->value);
    if (!al) {
      oc_msg_fail(msg, OC_ERR_DECODE, "could not decode an Alert (%zu bytes)", msg->len);
      continue;
    }
    if (!al->alert_id[0]) {
      oc_msg_fail(msg, OC_ERR_INVALID, "alert has no id");
      continue;
    }
    if (al->skip_delivery) {
      oc_log_kv(OC_LOG_INFO, "alert delivery skipped: the rule asked for none", "alert",
                al->alert_id, "rule", al->rule_id, NULL);
      continue;
    }
    err = oc_dlv_alert(svc, d, pg, msg, al);
    if (err) return err;
  }
  return OC_OK;
}

static oc_err_t oc_dlv_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  oc_metrics_t *m = oc_svc_metrics(svc);
  oc_dlv_t *d = calloc(1, sizeof(*d));
  CURLcode crc;
  if (!d) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  oc_outputs_init(&d->outputs);
  oc_buf_init(&d->body);
  d->refresh_us = oc_config_int(oc_svc_config(svc), "OCELOT_OUTPUTS_REFRESH_MS") * 1000;
  crc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (crc != CURLE_OK) {
    snprintf(errstr, errstr_size, "could not initialize libcurl: %s", curl_easy_strerror(crc));
    goto fail;
  }
  d->curl_inited = true;
  d->wh = oc_webhook_new("ocelot-alert-delivery", errstr, errstr_size);
  if (!d->wh) goto fail;
  oc_metrics_declare(m, "ocelot_deliveries_total", OC_METRIC_COUNTER,
                     "alert deliveries per output and result (success, failure, duplicate: "
                     "already delivered, not sent again)",
                     NULL, 0);
  oc_metrics_declare(m, "ocelot_delivery_duration_seconds", OC_METRIC_HISTOGRAM,
                     "time of one delivery request", NULL, 0);
  *opaque = d;
  return OC_OK;
fail:
  oc_webhook_destroy(d->wh);
  if (d->curl_inited) curl_global_cleanup();
  oc_buf_deinit(&d->body);
  free(d);
  return OC_ERR_INTERNAL;
}

static void oc_dlv_destroy(oc_svc_t *svc, void *opaque) {
  oc_dlv_t *d = opaque;
  (void)svc;
  if (!d) return;
  oc_webhook_destroy(d->wh);
  oc_outputs_deinit(&d->outputs);
  oc_buf_deinit(&d->body);
  if (d->curl_inited) curl_global_cleanup();
  free(d);
}

static const char *const oc_dlv_topics[] = {OC_TOPIC_ALERTS};

const oc_handler_t oc_delivery_handler = {
    .name = "alert-delivery",
    .topics = oc_dlv_topics,
    .ntopics = 1,
    .cfgdefs = oc_delivery_cfgdefs,
    .ncfgdefs = sizeof(oc_delivery_cfgdefs) / sizeof(oc_delivery_cfgdefs[0]),
    .needs_pg = true,
    .needs_redis = false,
    .init = oc_dlv_init,
    .handle_batch = oc_dlv_handle,
    .tick = NULL,
    .tick_ms = 0,
    .destroy = oc_dlv_destroy,
};
