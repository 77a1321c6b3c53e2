/* processor.c: the log-processor's handler (see processor.h). */
#include "services/log-processor/processor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kafka.h"
#include "common/lake.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "ocelot/v1/messages.pb-c.h"
#include "services/log-processor/catalog.h"
#include "services/log-processor/object.h"

#define OC_PROC_MISS_REFRESH_US 1000000 /* refresh on a miss at most once a second */
#define OC_PROC_LOG_EVERY_US 10000000   /* repeated catalog errors logged every 10 s */

const oc_cfgdef_t oc_processor_cfgdefs[] = {
    {"OCELOT_OBJECT_ROOT", OC_CFG_STR, "./state/objects", 0, 0,
     "root of the local object store: objects are <root>/<bucket>/<key>"},
    {"OCELOT_LAKE_ROOT", OC_CFG_STR, "./state/lake", 0, 0, "root directory of the lake"},
    {"OCELOT_MAX_LINE_BYTES", OC_CFG_INT, "1048576", 64, 268435456,
     "longest input line or CloudTrail record in bytes; longer ones are quarantined"},
    {"OCELOT_MAX_JSON_DEPTH", OC_CFG_INT, "64", 1, 4096,
     "deepest JSON nesting accepted in an event; deeper ones are quarantined"},
    {"OCELOT_LAKE_ZSTD_LEVEL", OC_CFG_INT, "1", OC_LAKE_ZSTD_MIN, OC_LAKE_ZSTD_MAX,
     "zstd level of lake files: 1..19, or -7..-1 for zstd's faster levels (0 is refused)"},
    {"OCELOT_LAKE_FILE_MAX_ROWS", OC_CFG_INT, "100000", 1, 1000000000,
     "rows per lake file; a partition with more rows continues in the next file"},
    {"OCELOT_SOURCES_REFRESH_MS", OC_CFG_INT, "10000", 100, 3600000,
     "how often the sources and log types are re-read from Postgres"},
    {"OCELOT_SCHEMAS_DIR", OC_CFG_STR, "", 0, 0,
     "directory of the managed log-type schema files (default: the bundled schemas/)"},
    {"OCELOT_CUSTOM_SCHEMAS_DIR", OC_CFG_STR, "", 0, 0,
     "directory of custom log-type schema files (Custom.*), loaded at start; empty = none"},
};
const size_t oc_processor_ncfgdefs = sizeof(oc_processor_cfgdefs) / sizeof(oc_processor_cfgdefs[0]);

typedef struct {
  oc_objproc_t *proc;
  oc_logtypes_t *managed; /* bundled and directory schemas, loaded once */
  oc_catalog_t *cat;
  int64_t refresh_us;
  int64_t last_attempt_us; /* monotonic; 0 = never */
  int64_t last_log_us;
  oc_err_t last_err;
  oc_buf_t pb; /* a packed ProcessedFile */
} oc_processor_t;

/* Re-reads the catalog when due (force: a miss, at most once a second). Returns the
 * state of the last attempt; a failure keeps the previous snapshot. */
static oc_err_t oc_processor_refresh(oc_processor_t *p, oc_svc_t *svc, bool force) {
  int64_t now = oc_monotonic_us();
  oc_catalog_t *cat;
  oc_err_t err;
  char errstr[512];
  if (p->last_attempt_us) {
    int64_t age = now - p->last_attempt_us;
    if (force ? age < OC_PROC_MISS_REFRESH_US : (p->cat && age < p->refresh_us)) return p->last_err;
  }
  p->last_attempt_us = now;
  cat = oc_catalog_load_pg(oc_svc_pg(svc), p->managed, &err, errstr, sizeof(errstr));
  if (!cat) {
    if (p->last_err == OC_OK || now - p->last_log_us > OC_PROC_LOG_EVERY_US) {
      oc_log_kv(OC_LOG_WARN, "could not read sources and log types", "error", errstr, NULL);
      p->last_log_us = now;
    }
    p->last_err = err ? err : OC_ERR_UNAVAILABLE;
    return p->last_err;
  }
  if (p->last_err != OC_OK) oc_log(OC_LOG_INFO, "sources and log types read again");
  oc_objproc_forget_types(p->proc); /* parsers built from the old custom schemas */
  oc_catalog_destroy(p->cat);
  p->cat = cat;
  p->last_err = OC_OK;
  return OC_OK;
}

oc_logtypes_t *oc_processor_load_types(const char *managed_dir, const char *custom_dir,
                                       char *errstr, size_t errstr_size) {
  oc_logtypes_t *lt = oc_logtypes_new(NULL);
  size_t loaded = 0, failed = 0, cloaded = 0, cfailed = 0;
  char n1[24], n2[24], n3[24], n4[24];
  if (!lt) {
    snprintf(errstr, errstr_size, "could not load log types: out of memory");
    return NULL;
  }
  if (!managed_dir || !managed_dir[0]) managed_dir = oc_logtypes_default_dir();
  /* Managed schemas that do not load are a packaging error: refuse to start. */
  if (oc_logtypes_load_dir(lt, managed_dir, true, &loaded, &failed, errstr, errstr_size) != OC_OK ||
      loaded == 0 || failed) {
    if (!failed && loaded == 0)
      snprintf(errstr, errstr_size, "no log-type schemas in \"%s\" (OCELOT_SCHEMAS_DIR)",
               managed_dir);
    else if (failed)
      snprintf(errstr, errstr_size,
               "%zu managed log-type schemas in \"%s\" did not load (see the log)", failed,
               managed_dir);
    oc_logtypes_destroy(lt);
    return NULL;
  }
  /* A broken custom schema is the user's: it is logged and the others run. */
  if (custom_dir && custom_dir[0] &&
      oc_logtypes_load_dir(lt, custom_dir, false, &cloaded, &cfailed, errstr, errstr_size) != OC_OK)
    oc_log_kv(OC_LOG_ERROR, "custom schema directory not loaded", "error", errstr, NULL);
  snprintf(n1, sizeof(n1), "%zu", loaded);
  snprintf(n2, sizeof(n2), "%zu", cloaded);
  snprintf(n3, sizeof(n3), "%zu", cfailed);
  snprintf(n4, sizeof(n4), "%zu", oc_logtypes_count(lt));
  oc_log_kv(OC_LOG_INFO, "log types loaded", "managed", n1, "custom", n2, "custom_failed", n3,
            "total", n4, "directory", managed_dir, NULL);
  return lt;
}

static oc_err_t oc_processor_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  const oc_config_t *cfg = oc_svc_config(svc);
  oc_processor_t *p = calloc(1, sizeof(*p));
  oc_objproc_config_t pc;
  if (!p) {
    snprintf(errstr, errstr_size, "could not start the processor: out of memory");
    return OC_ERR_NOMEM;
  }
  pc.object_root = oc_config_str(cfg, "OCELOT_OBJECT_ROOT");
  pc.lake_root = oc_config_str(cfg, "OCELOT_LAKE_ROOT");
  pc.max_line = (size_t)oc_config_int(cfg, "OCELOT_MAX_LINE_BYTES");
  pc.max_depth = (int)oc_config_int(cfg, "OCELOT_MAX_JSON_DEPTH");
  pc.zstd_level = (int)oc_config_int(cfg, "OCELOT_LAKE_ZSTD_LEVEL");
  pc.file_max_rows = (uint64_t)oc_config_int(cfg, "OCELOT_LAKE_FILE_MAX_ROWS");
  p->refresh_us = oc_config_int(cfg, "OCELOT_SOURCES_REFRESH_MS") * 1000;
  p->managed =
      oc_processor_load_types(oc_config_str(cfg, "OCELOT_SCHEMAS_DIR"),
                              oc_config_str(cfg, "OCELOT_CUSTOM_SCHEMAS_DIR"), errstr, errstr_size);
  if (!p->managed) {
    free(p);
    return OC_ERR_INVALID;
  }
  p->proc = oc_objproc_new(&pc, oc_svc_metrics(svc), errstr, errstr_size);
  if (!p->proc) {
    oc_logtypes_destroy(p->managed);
    free(p);
    return OC_ERR_INVALID;
  }
  oc_buf_init(&p->pb);
  oc_metrics_declare(oc_svc_metrics(svc), "ocelot_processor_files_total", OC_METRIC_COUNTER,
                     "Lake files written and announced on processed-files, per log type.", NULL, 0);
  /* Postgres may still be starting: a failure here is retried on the first batch. */
  oc_processor_refresh(p, svc, false);
  oc_log_kv(OC_LOG_INFO, "log-processor ready", "object_root", pc.object_root, "lake_root",
            pc.lake_root, NULL);
  *opaque = p;
  return OC_OK;
}

static void oc_processor_destroy(oc_svc_t *svc, void *opaque) {
  oc_processor_t *p = opaque;
  if (!p) return;
  oc_objproc_destroy(p->proc);
  oc_catalog_destroy(p->cat);
  oc_logtypes_destroy(p->managed);
  oc_buf_deinit(&p->pb);
  free(p);
}

/* protobuf-c allocations for unpacking go to the batch arena. */
static void *oc_pb_alloc(void *data, size_t size) {
  return oc_arena_alloc(data, size ? size : 1);
}
static void oc_pb_free(void *data, void *ptr) {}

static bool oc_topic_is_dlq(const char *topic) {
  size_t n = strlen(topic), s = strlen(OC_DLQ_SUFFIX);
  return n >= s && strcmp(topic + n - s, OC_DLQ_SUFFIX) == 0;
}

/* The source id of a notification: its source_id, else the topic's suffix. */
static const char *oc_msg_source_id(const oc_msg_t *msg, const Ocelot__V1__ObjectNotification *on) {
  size_t plen = strlen(OC_TOPIC_SOURCE_PREFIX);
  if (on->source_id && on->source_id[0]) return on->source_id;
  if (strncmp(msg->topic, OC_TOPIC_SOURCE_PREFIX, plen) == 0) return msg->topic + plen;
  return "";
}

static oc_err_t oc_processor_produce(oc_processor_t *p, oc_svc_t *svc,
                                     const oc_catalog_source_t *src,
                                     Ocelot__V1__ObjectNotification *on,
                                     const oc_objproc_result_t *res) {
  for (size_t i = 0; i < res->nfiles; i++) {
    const oc_lakefile_t *f = &res->files[i];
    Ocelot__V1__ProcessedFile pf = OCELOT__V1__PROCESSED_FILE__INIT;
    size_t len;
    oc_err_t err;
    char labels[512], lt[300];
    pf.kind = OCELOT__V1__FILE_KIND__FILE_KIND_LOGS;
    pf.log_type = f->log_type;
    pf.lake_key = f->key;
    pf.row_count = f->rows;
    pf.bytes = f->bytes;
    pf.first_event_time_us = f->first_event_us;
    pf.last_event_time_us = f->last_event_us;
    pf.source_id = src->id;
    pf.source_label = src->label;
    pf.input = on;
    len = ocelot__v1__processed_file__get_packed_size(&pf);
    oc_buf_reset(&p->pb);
    if (!oc_buf_reserve(&p->pb, len)) return OC_ERR_NOMEM;
    ocelot__v1__processed_file__pack(&pf, (uint8_t *)p->pb.data);
    err = oc_svc_produce(svc, OC_TOPIC_PROCESSED, f->key, strlen(f->key), p->pb.data, len, NULL);
    if (err) return err;
    oc_metrics_label_escape(f->log_type, lt, sizeof(lt));
    snprintf(labels, sizeof(labels), "log_type=\"%s\"", lt);
    oc_metrics_inc(oc_svc_metrics(svc), "ocelot_processor_files_total", labels, 1);
  }
  return OC_OK;
}

/* One notification whose source is resolved. A transient error is returned (the batch
 * is retried); everything else is this record's verdict. */
static oc_err_t oc_processor_one(oc_processor_t *p, oc_svc_t *svc, oc_msg_t *msg,
                                 Ocelot__V1__ObjectNotification *on, const char *sid) {
  const oc_catalog_source_t *src = oc_catalog_find(p->cat, sid);
  const oc_logtype_t *types[OC_CATALOG_MAX_SOURCE_TYPES];
  const char *unknown = NULL;
  oc_objproc_source_t os;
  oc_objproc_result_t res;
  char errstr[1024];
  oc_err_t err;
  size_t ntypes;
  if (!src) {
    oc_msg_fail(msg, OC_ERR_NOT_FOUND, "unknown source \"%s\" for object \"%s/%s\"", sid,
                on->bucket, on->key);
    return OC_OK;
  }
  if (!src->enabled) {
    oc_msg_fail(msg, OC_ERR_NOT_FOUND, "source \"%s\" is disabled", sid);
    return OC_OK;
  }
  ntypes = oc_catalog_resolve(p->cat, src, types, OC_CATALOG_MAX_SOURCE_TYPES, &unknown);
  if (ntypes == 0) {
    oc_msg_fail(msg, OC_ERR_NOT_FOUND,
                "source \"%s\" has no known log type (\"%s\" is not defined)", sid,
                unknown ? unknown : "");
    return OC_OK;
  }
  if (unknown)
    oc_log_kv(OC_LOG_WARN, "source names an unknown log type", "source", sid, "log_type", unknown,
              NULL);
  os.id = src->id;
  os.label = src->label;
  os.types = types;
  os.ntypes = ntypes;
  err = oc_objproc_run(p->proc, &os, on->bucket, on->key, on->etag, oc_now_us(), &res, errstr,
                       sizeof(errstr));
  if (err == OC_OK) {
    on->source_id = src->id;
    return oc_processor_produce(p, svc, src, on, &res);
  }
  if (oc_err_is_transient(err)) {
    oc_log_kv(OC_LOG_WARN, "could not process object; retrying", "source", sid, "bucket",
              on->bucket, "key", on->key, "error", errstr, NULL);
    return err;
  }
  oc_msg_fail(msg, err, "%s", errstr);
  return OC_OK;
}

static oc_err_t oc_processor_handle(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  oc_processor_t *p = opaque;
  ProtobufCAllocator alloc = {oc_pb_alloc, oc_pb_free, oc_svc_arena(svc)};
  Ocelot__V1__ObjectNotification **ons;
  bool miss = false;
  oc_err_t err;

  oc_processor_refresh(p, svc, false);
  if (!p->cat) return OC_ERR_UNAVAILABLE; /* never read yet: wait for Postgres */
  ons = oc_arena_alloc(oc_svc_arena(svc), (n ? n : 1) * sizeof(*ons));
  if (!ons) return OC_ERR_NOMEM;

  /* 1. Decode everything and find the sources before any work, so an outage noticed
   * here does not repeat work for records already handled in this attempt. */
  for (size_t i = 0; i < n; i++) {
    oc_msg_t *msg = &msgs[i];
    const oc_catalog_source_t *src;
    ons[i] = NULL;
    if (oc_topic_is_dlq(msg->topic)) continue; /* not ours: dead letters wait for requeue */
    ons[i] = ocelot__v1__object_notification__unpack(&alloc, msg->len, msg->value);
    if (!ons[i] || !ons[i]->bucket || !ons[i]->bucket[0] || !ons[i]->key || !ons[i]->key[0]) {
      oc_msg_fail(msg, OC_ERR_DECODE,
                  "could not decode an ObjectNotification with a bucket and a key (%zu bytes)",
                  msg->len);
      ons[i] = NULL;
      continue;
    }
    src = oc_catalog_find(p->cat, oc_msg_source_id(msg, ons[i]));
    if (!src || !src->enabled) {
      miss = true;
    } else {
      const oc_logtype_t *types[OC_CATALOG_MAX_SOURCE_TYPES];
      const char *unknown = NULL;
      oc_catalog_resolve(p->cat, src, types, OC_CATALOG_MAX_SOURCE_TYPES, &unknown);
      if (unknown) miss = true; /* perhaps `ocelot logtypes add` just ran */
    }
  }
  if (miss) {
    err = oc_processor_refresh(p, svc, true);
    if (err) return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
  }

  /* 2. The objects. */
  for (size_t i = 0; i < n; i++) {
    if (!ons[i]) continue;
    err = oc_processor_one(p, svc, &msgs[i], ons[i], oc_msg_source_id(&msgs[i], ons[i]));
    if (err) return err;
  }
  return OC_OK;
}

static const char *const oc_processor_topics[] = {OC_PROCESSOR_TOPIC_REGEX};

const oc_handler_t oc_processor_handler = {
    .name = "log-processor",
    .topics = oc_processor_topics,
    .ntopics = 1,
    .cfgdefs = oc_processor_cfgdefs,
    .ncfgdefs = sizeof(oc_processor_cfgdefs) / sizeof(oc_processor_cfgdefs[0]),
    .needs_pg = true,
    .needs_redis = false,
    .init = oc_processor_init,
    .handle_batch = oc_processor_handle,
    .destroy = oc_processor_destroy,
};
