/* router.c: the log-router's handler (see router.h). */
#include "services/log-router/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "services/log-router/notification.h"
#include "services/log-router/sources.h"

#define OC_ROUTER_MISS_REFRESH_US 1000000 /* refresh on a miss at most once a second */
#define OC_ROUTER_LOG_EVERY_US 10000000

const oc_cfgdef_t oc_router_cfgdefs[] = {
    {"OCELOT_SOURCES_REFRESH_MS", OC_CFG_INT, "10000", 100, 3600000,
     "how often the sources are re-read from Postgres"},
};
const size_t oc_router_ncfgdefs = sizeof(oc_router_cfgdefs) / sizeof(oc_router_cfgdefs[0]);

typedef struct {
  oc_source_table_t *table;
  int64_t refresh_us;
  int64_t last_attempt_us; /* monotonic; 0 = never */
  int64_t last_log_us;
  oc_err_t last_err;
  oc_buf_t pb;    /* a packed ObjectNotification */
  oc_buf_t topic; /* "source.<id>" */
  oc_buf_t key;   /* "bucket/key" */
} oc_router_t;

static oc_err_t oc_router_refresh(oc_router_t *rt, oc_svc_t *svc, bool force) {
  int64_t now = oc_monotonic_us();
  oc_source_table_t *t;
  oc_err_t err;
  char errstr[512];
  if (rt->last_attempt_us) {
    int64_t age = now - rt->last_attempt_us;
    if (force ? age < OC_ROUTER_MISS_REFRESH_US : (rt->table && age < rt->refresh_us))
      return rt->last_err;
  }
  rt->last_attempt_us = now;
  t = oc_source_table_load_pg(oc_svc_pg(svc), &err, errstr, sizeof(errstr));
  if (!t) {
    if (rt->last_err == OC_OK || now - rt->last_log_us > OC_ROUTER_LOG_EVERY_US) {
      oc_log_kv(OC_LOG_WARN, "could not read sources", "error", errstr, NULL);
      rt->last_log_us = now;
    }
    rt->last_err = err ? err : OC_ERR_UNAVAILABLE;
    return rt->last_err;
  }
  if (rt->last_err != OC_OK) oc_log(OC_LOG_INFO, "sources read again");
  oc_source_table_destroy(rt->table);
  rt->table = t;
  rt->last_err = OC_OK;
  oc_metrics_set(oc_svc_metrics(svc), "ocelot_router_sources", "", (double)t->n);
  return OC_OK;
}

static oc_err_t oc_router_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  oc_router_t *rt = calloc(1, sizeof(*rt));
  oc_metrics_t *m = oc_svc_metrics(svc);
  if (!rt) {
    snprintf(errstr, errstr_size, "could not start the router: out of memory");
    return OC_ERR_NOMEM;
  }
  rt->refresh_us = oc_config_int(oc_svc_config(svc), "OCELOT_SOURCES_REFRESH_MS") * 1000;
  oc_buf_init(&rt->pb);
  oc_buf_init(&rt->topic);
  oc_buf_init(&rt->key);
  oc_metrics_declare(m, "ocelot_router_objects_routed_total", OC_METRIC_COUNTER,
                     "Objects routed to a source topic, per source.", NULL, 0);
  oc_metrics_declare(m, "ocelot_router_objects_unmatched_total", OC_METRIC_COUNTER,
                     "Attempts to route an object that no enabled source matched.", NULL, 0);
  oc_metrics_declare(m, "ocelot_router_sources", OC_METRIC_GAUGE,
                     "Sources in the routing table (enabled or not).", NULL, 0);
  oc_router_refresh(rt, svc, false); /* a failure is retried on the first batch */
  *opaque = rt;
  return OC_OK;
}

static void oc_router_destroy(oc_svc_t *svc, void *opaque) {
  oc_router_t *rt = opaque;
  if (!rt) return;
  oc_source_table_destroy(rt->table);
  oc_buf_deinit(&rt->pb);
  oc_buf_deinit(&rt->topic);
  oc_buf_deinit(&rt->key);
  free(rt);
}

/* Produces every object of a fully matched record. */
static oc_err_t oc_router_route(oc_router_t *rt, oc_svc_t *svc, const oc_notif_list_t *list) {
  for (size_t j = 0; j < list->n; j++) {
    Ocelot__V1__ObjectNotification *on = list->v[j];
    const oc_route_source_t *src = oc_source_table_match(rt->table, on->bucket, on->key);
    size_t len;
    oc_err_t err;
    char labels[300], esc[260];
    if (!src) return OC_ERR_INTERNAL; /* checked by the caller */
    on->source_id = src->id;
    len = ocelot__v1__object_notification__get_packed_size(on);
    oc_buf_reset(&rt->pb);
    oc_buf_reset(&rt->topic);
    oc_buf_reset(&rt->key);
    oc_buf_reserve(&rt->pb, len);
    oc_buf_puts(&rt->topic, OC_TOPIC_SOURCE_PREFIX);
    oc_buf_puts(&rt->topic, src->id);
    oc_buf_puts(&rt->key, on->bucket);
    oc_buf_putc(&rt->key, '/');
    oc_buf_puts(&rt->key, on->key);
    if (!oc_buf_ok(&rt->pb) || !oc_buf_ok(&rt->topic) || !oc_buf_ok(&rt->key)) return OC_ERR_NOMEM;
    ocelot__v1__object_notification__pack(on, (uint8_t *)rt->pb.data);
    err = oc_svc_produce(svc, rt->topic.data, rt->key.data, rt->key.len, rt->pb.data, len, NULL);
    if (err) return err;
    oc_metrics_label_escape(src->id, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "source=\"%s\"", esc);
    oc_metrics_inc(oc_svc_metrics(svc), "ocelot_router_objects_routed_total", labels, 1);
  }
  return OC_OK;
}

/* The first object of the list no source matches, or NULL. */
static const Ocelot__V1__ObjectNotification *oc_router_unmatched(const oc_router_t *rt,
                                                                 const oc_notif_list_t *list) {
  for (size_t j = 0; j < list->n; j++)
    if (!oc_source_table_match(rt->table, list->v[j]->bucket, list->v[j]->key)) return list->v[j];
  return NULL;
}

static oc_err_t oc_router_handle(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  oc_router_t *rt = opaque;
  oc_arena_t *a = oc_svc_arena(svc);
  oc_notif_list_t *lists;
  int64_t now = oc_now_us();
  bool miss = false;
  oc_err_t err;

  oc_router_refresh(rt, svc, false);
  if (!rt->table) return OC_ERR_UNAVAILABLE; /* never read yet: wait for Postgres */
  lists = oc_arena_alloc(a, (n ? n : 1) * sizeof(*lists));
  if (!lists) return OC_ERR_NOMEM;

  /* 1. Decode, and look for misses before producing anything. */
  for (size_t i = 0; i < n; i++) {
    char errstr[512];
    lists[i].v = NULL;
    lists[i].n = 0;
    err = oc_notif_decode(a, msgs[i].value, msgs[i].len, now, &lists[i], errstr, sizeof(errstr));
    if (err == OC_ERR_NOMEM) return err;
    if (err) {
      oc_msg_fail(&msgs[i], OC_ERR_DECODE, "%s", errstr);
      continue;
    }
    if (oc_router_unmatched(rt, &lists[i])) miss = true;
  }
  if (miss) {
    err = oc_router_refresh(rt, svc, true);
    if (err) return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
  }

  /* 2. Route. */
  for (size_t i = 0; i < n; i++) {
    const Ocelot__V1__ObjectNotification *un;
    if (msgs[i].err) continue;
    un = oc_router_unmatched(rt, &lists[i]);
    if (un) {
      oc_metrics_inc(oc_svc_metrics(svc), "ocelot_router_objects_unmatched_total", "", 1);
      oc_msg_fail(&msgs[i], OC_ERR_NOT_FOUND, "no source matches bucket \"%.200s\" key \"%.200s\"",
                  un->bucket, un->key);
      continue;
    }
    err = oc_router_route(rt, svc, &lists[i]);
    if (err) return err;
  }
  return OC_OK;
}

static const char *const oc_router_topics[] = {OC_TOPIC_INPUT};

const oc_handler_t oc_router_handler = {
    .name = "log-router",
    .topics = oc_router_topics,
    .ntopics = 1,
    .cfgdefs = oc_router_cfgdefs,
    .ncfgdefs = sizeof(oc_router_cfgdefs) / sizeof(oc_router_cfgdefs[0]),
    .needs_pg = true,
    .needs_redis = false,
    .init = oc_router_init,
    .handle_batch = oc_router_handle,
    .destroy = oc_router_destroy,
};
