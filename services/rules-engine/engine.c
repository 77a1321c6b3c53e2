/* engine.c: the rules-engine's handler (engine.h): rule reloads, lake files through the
 * rule set, RuleMatchGroup and ProcessedFile output, metrics. */
#include "services/rules-engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/kafka.h"
#include "common/lake.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "ocelot/v1/messages.pb-c.h"
#include "services/rules-engine/packstore.h"
#include "services/rules-engine/pycache.h"
#include "services/rules-engine/pyhost.h"
#include "services/rules-engine/pyscan.h"
#include "services/rules-engine/ruleset.h"
#include "services/rules-engine/scan.h"

const oc_cfgdef_t oc_rules_cfgdefs[] = {
    {"OCELOT_RULES_DIR", OC_CFG_STR, "./examples/detections", 0, 0,
     "directory of YAML detections (*.yml, *.yaml, searched recursively)"},
    {"OCELOT_RULES_REFRESH_MS", OC_CFG_INT, "5000", 100, 3600000,
     "how often the rules directory and the rules table are checked for changes"},
    {"OCELOT_LAKE_ROOT", OC_CFG_STR, "./state/lake", 0, 0, "root directory of the lake"},
    {"OCELOT_RULES_MAX_LINE_BYTES", OC_CFG_INT, "8388608", 1024, 268435456,
     "longest lake line (event) the engine reads; longer ones are counted and skipped"},
    {"OCELOT_RULES_WRITE_MATCHES", OC_CFG_BOOL, "false", 0, 0,
     "also write matched events to the lake under rules/ and announce each file on "
     "processed-files (kind rules)"},
    {"OCELOT_LAKE_ZSTD_LEVEL", OC_CFG_INT, "3", 1, 19, "zstd level of lake files"},
    {"OCELOT_RULES_PACK_DIR", OC_CFG_STR, "", 0, 0,
     "Panther detection pack whose Python rules run in the embedded interpreter (empty: "
     "none), together with the packs stored by `ocelot rules upload` (a stored item wins "
     "over one of this directory with the same id); reloaded when either changes"},
    {"OCELOT_RULES_RELOAD_MS", OC_CFG_INT, "10000", 100, 3600000,
     "how often the stored packs and OCELOT_RULES_PACK_DIR are checked for changes (a "
     "notice on the Redis channel ocelot:rules-changed reloads at once); a reload that "
     "fails keeps the running rules"},
    {"OCELOT_RULES_PY_BUDGET_MS", OC_CFG_INT, "1000", 0, 600000,
     "time budget of one Python rule on one event (0: none); a rule past it is interrupted "
     "and reported as a rule error"},
    {"OCELOT_RULES_PY_MEMORY_MB", OC_CFG_INT, "256", 0, 65536,
     "memory cap of one Python rule evaluation in MiB (0: none); a rule past it gets a "
     "MemoryError, reported as a rule error"},
    {"OCELOT_RULES_PY_ISOLATE", OC_CFG_BOOL, "true", 0, 0,
     "run Python rules in a worker process: a crash of the interpreter on an event restarts "
     "the worker, the event is dead-lettered and the rest of the file is evaluated"},
};
const size_t oc_rules_ncfgdefs = sizeof(oc_rules_cfgdefs) / sizeof(oc_rules_cfgdefs[0]);

typedef struct oc_engine {
  const char *rules_dir;
  const char *lake_root;
  int64_t refresh_us;
  size_t max_line;
  bool write_matches;
  int zstd_level;
  oc_metrics_t *metrics;
  oc_ruleset_t *rs;
  bool table_loaded; /* rs includes the rules table */
  uint64_t dir_fp;   /* fingerprint rs was built from */
  char table_fp[256];
  int64_t next_refresh_us; /* monotonic */
  oc_err_t last_refresh;
  oc_scan_t scan;
  oc_buf_t pb;
  const char *pack_dir;
  oc_pyscan_rules_t *py; /* NULL without Python rules */
  oc_pyscan_t pyscan;
  int py_budget_ms;
  size_t py_memory_mb;
  bool py_isolate;
  bool pack_loaded;  /* the stored packs have been read once */
  char pack_fp[512]; /* packstore fingerprint py was built from */
  uint64_t pack_dir_fp;
  char *py_root; /* materialized directory py was loaded from, or NULL */
  bool host_started, cache_installed;
  int64_t reload_us, next_pack_check_us;
  oc_packstore_watch_t *watch;
  oc_err_t last_pack_err;
} oc_engine_t;

/* ---- rules ------------------------------------------------------------------------- */

static void oc_engine_report(oc_engine_t *e, const oc_ruleset_t *rs) {
  const oc_ruleset_stats_t *st = oc_ruleset_stats(rs);
  for (size_t i = 0; i < oc_ruleset_nmsgs(rs); i++) {
    const oc_ruleset_msg_t *m = oc_ruleset_msg(rs, i);
    char line[16];
    snprintf(line, sizeof(line), "%d", m->line);
    if (m->level == OC_RULESET_MSG_ERROR)
      oc_log_kv(OC_LOG_ERROR, "could not load detection", "file", m->origin, "line", line, "reason",
                m->text, NULL);
    else
      oc_log_kv(OC_LOG_INFO, "detection skipped", "file", m->origin, "reason", m->text, NULL);
  }
  oc_metrics_inc(e->metrics, "ocelot_rules_load_errors_total", "", st->errors);
  oc_metrics_inc(e->metrics, "ocelot_rules_reloads_total", "", 1);
  oc_metrics_set(e->metrics, "ocelot_rules_loaded", "origin=\"directory\"", (double)st->loaded_dir);
  oc_metrics_set(e->metrics, "ocelot_rules_loaded", "origin=\"table\"", (double)st->loaded_table);
  oc_metrics_set(e->metrics, "ocelot_rules_skipped", "reason=\"python\"", (double)st->python);
  oc_metrics_set(e->metrics, "ocelot_rules_skipped", "reason=\"disabled\"", (double)st->disabled);
  oc_metrics_set(e->metrics, "ocelot_rules_skipped", "reason=\"not_a_rule\"",
                 (double)st->not_rules);
  oc_metrics_set(e->metrics, "ocelot_rules_skipped", "reason=\"error\"", (double)st->errors);
  char loaded[32], dir[32], table[32], errors[32], python[32];
  snprintf(loaded, sizeof(loaded), "%zu", st->loaded);
  snprintf(dir, sizeof(dir), "%zu", st->loaded_dir);
  snprintf(table, sizeof(table), "%zu", st->loaded_table);
  snprintf(errors, sizeof(errors), "%zu", st->errors);
  snprintf(python, sizeof(python), "%zu", st->python);
  oc_log_kv(OC_LOG_INFO, "rules loaded", "rules", loaded, "from_directory", dir, "from_table",
            table, "errors", errors, "python_skipped", python, "directory", e->rules_dir, NULL);
}

/* Fingerprint of the rules table; transient error when Postgres is down. */
static oc_err_t oc_engine_table_fp(oc_pg_t *pg, char *out, size_t out_size, char *errstr,
                                   size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err = oc_pg_exec(pg, &res,
                            "SELECT count(*), coalesce(max(updated_at)::text, ''),"
                            " coalesce(sum(version), 0) FROM rules",
                            0, NULL, errstr, errstr_size);
  if (err != OC_OK) return err;
  snprintf(out, out_size, "%s/%s/%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
           PQgetvalue(res, 0, 2));
  PQclear(res);
  return OC_OK;
}

/* Rebuilds the rule set when the directory or the table changed (or always with force).
 * On failure the current set stays. */
static oc_err_t oc_engine_reload(oc_engine_t *e, oc_svc_t *svc, bool force) {
  char errstr[1024], table_fp[256];
  oc_pg_t *pg = oc_svc_pg(svc);
  oc_ruleset_t *rs = NULL;
  oc_err_t err;
  uint64_t dir_fp = oc_ruleset_dir_fingerprint(e->rules_dir);

  if (!pg) {
    snprintf(errstr, sizeof(errstr), "no Postgres connection");
    err = OC_ERR_UNAVAILABLE;
    goto fail;
  }
  err = oc_engine_table_fp(pg, table_fp, sizeof(table_fp), errstr, sizeof(errstr));
  if (err != OC_OK) goto fail;
  if (!force && e->rs && e->table_loaded && dir_fp == e->dir_fp &&
      strcmp(table_fp, e->table_fp) == 0)
    return OC_OK;

  rs = oc_ruleset_new();
  if (!rs) {
    snprintf(errstr, sizeof(errstr), "out of memory");
    err = OC_ERR_NOMEM;
    goto fail;
  }
  err = oc_ruleset_load_dir(rs, e->rules_dir, errstr, sizeof(errstr));
  if (err == OC_ERR_NOT_FOUND) {
    if (dir_fp != e->dir_fp || !e->rs)
      oc_log_kv(OC_LOG_WARN, "rules directory not found; only the rules table is used", "directory",
                e->rules_dir, NULL);
  } else if (err != OC_OK) {
    oc_log_kv(OC_LOG_ERROR, "could not read the rules directory", "error", errstr, NULL);
  }
  err = oc_ruleset_load_table(rs, pg, errstr, sizeof(errstr));
  if (err != OC_OK) goto fail;
  err = oc_ruleset_finish(rs, errstr, sizeof(errstr));
  if (err != OC_OK) goto fail;

  oc_engine_report(e, rs);
  oc_ruleset_destroy(e->rs);
  e->rs = rs;
  e->table_loaded = true;
  e->dir_fp = dir_fp;
  snprintf(e->table_fp, sizeof(e->table_fp), "%s", table_fp);
  if (e->last_refresh != OC_OK) oc_log(OC_LOG_INFO, "rules table read again");
  e->last_refresh = OC_OK;
  return OC_OK;
fail:
  oc_ruleset_destroy(rs);
  if (e->last_refresh == OC_OK)
    oc_log_kv(OC_LOG_WARN, "could not reload rules; keeping the current ones", "error", errstr,
              NULL);
  e->last_refresh = err;
  return err;
}

/* ---- Python rules ------------------------------------------------------------------ */

static void oc_engine_pack_report(oc_engine_t *e, const oc_pyscan_rules_t *psr, const char *from) {
  const oc_pack_t *pack = oc_pyscan_rules_pack(psr);
  for (size_t i = 0; i < pack->nmsgs; i++) {
    char line[16];
    snprintf(line, sizeof(line), "%d", pack->msgs[i].line);
    oc_log_kv(OC_LOG_ERROR, "could not load detection", "file", pack->msgs[i].origin, "line", line,
              "reason", pack->msgs[i].text, NULL);
  }
  char n[32], nerr[32];
  snprintf(n, sizeof(n), "%zu", oc_pyscan_rules_count(psr));
  snprintf(nerr, sizeof(nerr), "%zu", pack->nmsgs);
  oc_metrics_set(e->metrics, "ocelot_rules_python_loaded", "", (double)oc_pyscan_rules_count(psr));
  oc_metrics_inc(e->metrics, "ocelot_rules_load_errors_total", "", pack->nmsgs);
  oc_log_kv(OC_LOG_INFO, "python rules loaded", "rules", n, "errors", nerr, "pack", e->pack_dir,
            "from", from, NULL);
}

static bool oc_engine_str_in(char **v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0) return true;
  return false;
}

/* Builds the directory the Python rules load from: OCELOT_RULES_PACK_DIR alone when no
 * pack is stored; otherwise a fresh temporary directory with the stored packs (t/) and
 * a copy of OCELOT_RULES_PACK_DIR without the items the stored packs replace (d/). */
static oc_err_t oc_engine_pack_tree(oc_engine_t *e, oc_pg_t *pg, char **root, const char **load,
                                    char *errstr, size_t errstr_size) {
  char **ids = NULL, sub[4200], tmpl[4096];
  size_t nids = 0, nitems = 0, nskipped = 0;
  oc_err_t err = oc_packstore_ids(pg, &ids, &nids, errstr, errstr_size);
  *root = NULL;
  *load = NULL;
  if (err) return err;
  if (nids == 0) {
    oc_packstore_ids_free(ids, nids);
    *load = e->pack_dir[0] ? e->pack_dir : NULL;
    return OC_OK;
  }
  const char *tmpdir = getenv("TMPDIR");
  snprintf(tmpl, sizeof(tmpl), "%s/ocelot-rules-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
  if (!mkdtemp(tmpl)) {
    snprintf(errstr, errstr_size, "could not create a directory for the stored packs: %s",
             strerror(errno));
    oc_packstore_ids_free(ids, nids);
    return OC_ERR_IO;
  }
  snprintf(sub, sizeof(sub), "%s/t", tmpl);
  err = oc_packstore_materialize(pg, sub, &nitems, &nskipped, errstr, errstr_size);
  if (!err && nskipped)
    oc_log(OC_LOG_WARN, "skipped %zu stored pack items with unsafe paths", nskipped);
  if (!err && e->pack_dir[0]) {
    oc_pack_t *probe = oc_pack_new();
    const char **skip = NULL;
    size_t nskip = 0;
    char why[1024];
    if (probe && oc_pack_load_dir(probe, e->pack_dir, why, sizeof(why)) &&
        (skip = calloc(probe->nitems + 1, sizeof(*skip)))) {
      for (size_t i = 0; i < probe->nitems; i++)
        if (oc_engine_str_in(ids, nids, probe->items[i]->id))
          skip[nskip++] = probe->items[i]->yml_path;
    }
    snprintf(sub, sizeof(sub), "%s/d", tmpl);
    if (!oc_packstore_copy_dir(e->pack_dir, sub, skip, nskip, errstr, errstr_size)) err = OC_ERR_IO;
    free(skip);
    oc_pack_destroy(probe);
  }
  oc_packstore_ids_free(ids, nids);
  if (err) {
    oc_packstore_remove_dir(tmpl);
    return err;
  }
  *root = strdup(tmpl);
  if (!*root) {
    oc_packstore_remove_dir(tmpl);
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  *load = *root;
  return OC_OK;
}

/* Reloads the Python rules when the stored packs or OCELOT_RULES_PACK_DIR changed (or
 * always with force). A reload that fails, or that loads with more errors than the
 * running rules had, keeps the running rules. */
static oc_err_t oc_engine_pack_reload(oc_engine_t *e, oc_svc_t *svc, bool force) {
  char errstr[1024], fp[512] = "";
  oc_pg_t *pg = oc_svc_pg(svc);
  char *root = NULL;
  const char *load = NULL;
  oc_pyscan_rules_t *psr = NULL;
  oc_err_t err;
  uint64_t dir_fp = oc_packstore_dir_fingerprint(e->pack_dir);

  if (!pg) {
    snprintf(errstr, sizeof(errstr), "no Postgres connection");
    err = OC_ERR_UNAVAILABLE;
    goto fail;
  }
  err = oc_packstore_fingerprint(pg, fp, sizeof(fp), errstr, sizeof(errstr));
  if (err) goto fail;
  if (!force && e->pack_loaded && strcmp(fp, e->pack_fp) == 0 && dir_fp == e->pack_dir_fp)
    return OC_OK;
  err = oc_engine_pack_tree(e, pg, &root, &load, errstr, sizeof(errstr));
  if (err) goto fail;
  if (load) {
    if (!e->host_started) {
      if (!oc_pyhost_init(errstr, sizeof(errstr))) {
        err = OC_ERR_INVALID;
        goto fail;
      }
      e->host_started = true;
    }
    if (!e->cache_installed) {
      if (!oc_pycache_use_redis(oc_config_str(oc_svc_config(svc), "OCELOT_REDIS_URL"), errstr,
                                sizeof(errstr)) ||
          !oc_pycache_install(errstr, sizeof(errstr))) {
        err = OC_ERR_INVALID;
        goto fail;
      }
      e->cache_installed = true;
    }
    char why[512];
    oc_pyscan_opts_t popts = {e->py_budget_ms, e->py_memory_mb, e->py_isolate, 0};
    psr = oc_pyscan_rules_load_opts(load, &popts, why, sizeof(why));
    if (!psr) {
      snprintf(errstr, sizeof(errstr), "could not load the Python rules of \"%s\": %s",
               e->pack_dir[0] ? e->pack_dir : "the stored packs", why);
      err = OC_ERR_INVALID;
      goto fail;
    }
    if (e->py && oc_pyscan_rules_pack(psr)->nmsgs > oc_pyscan_rules_pack(e->py)->nmsgs) {
      const oc_pack_t *pack = oc_pyscan_rules_pack(psr);
      for (size_t i = 0; i < pack->nmsgs; i++)
        oc_log_kv(OC_LOG_ERROR, "could not load detection", "file", pack->msgs[i].origin, "reason",
                  pack->msgs[i].text, NULL);
      snprintf(errstr, sizeof(errstr), "the new rules load with %zu errors (the running ones: %zu)",
               pack->nmsgs, oc_pyscan_rules_pack(e->py)->nmsgs);
      err = OC_ERR_INVALID;
      goto fail;
    }
    oc_engine_pack_report(e, psr, root ? "stored packs" : "directory");
  } else if (e->py) {
    oc_log(OC_LOG_INFO, "no Python rules any more: no pack stored or configured");
    oc_metrics_set(e->metrics, "ocelot_rules_python_loaded", "", 0);
  }
  oc_pyscan_rules_destroy(e->py);
  e->py = psr;
  oc_packstore_remove_dir(e->py_root);
  free(e->py_root);
  e->py_root = root;
  snprintf(e->pack_fp, sizeof(e->pack_fp), "%s", fp);
  e->pack_dir_fp = dir_fp;
  if (e->pack_loaded)
    oc_metrics_inc(e->metrics, "ocelot_rules_python_reloads_total", "result=\"ok\"", 1);
  e->pack_loaded = true;
  e->last_pack_err = OC_OK;
  return OC_OK;
fail:
  oc_pyscan_rules_destroy(psr);
  if (root) oc_packstore_remove_dir(root);
  free(root);
  if (oc_err_is_transient(err)) {
    if (e->last_pack_err == OC_OK)
      oc_log_kv(OC_LOG_WARN, "could not check the stored packs; keeping the current rules", "error",
                errstr, NULL);
  } else {
    oc_metrics_inc(e->metrics, "ocelot_rules_python_reloads_total", "result=\"failed\"", 1);
    oc_log_kv(OC_LOG_ERROR,
              e->py ? "python rules reload failed; keeping the running rules"
                    : "could not load the python rules",
              "error", errstr, NULL);
    /* do not retry the same content in a loop: wait for the next change */
    if (e->pack_loaded || e->py) {
      snprintf(e->pack_fp, sizeof(e->pack_fp), "%s", pg && err != OC_ERR_UNAVAILABLE ? fp : "");
      e->pack_dir_fp = dir_fp;
    }
  }
  e->last_pack_err = err;
  return err;
}

static void oc_engine_destroy(oc_svc_t *svc, void *opaque);

/* ---- lifecycle --------------------------------------------------------------------- */

static oc_err_t oc_engine_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  const oc_config_t *cfg = oc_svc_config(svc);
  oc_engine_t *e = calloc(1, sizeof(*e));
  if (!e) {
    snprintf(errstr, errstr_size, "could not start the rules-engine: out of memory");
    return OC_ERR_NOMEM;
  }
  e->rules_dir = oc_config_str(cfg, "OCELOT_RULES_DIR");
  e->lake_root = oc_config_str(cfg, "OCELOT_LAKE_ROOT");
  e->refresh_us = oc_config_int(cfg, "OCELOT_RULES_REFRESH_MS") * 1000;
  e->max_line = (size_t)oc_config_int(cfg, "OCELOT_RULES_MAX_LINE_BYTES");
  e->write_matches = oc_config_bool(cfg, "OCELOT_RULES_WRITE_MATCHES");
  e->zstd_level = (int)oc_config_int(cfg, "OCELOT_LAKE_ZSTD_LEVEL");
  e->metrics = oc_svc_metrics(svc);
  e->last_refresh = OC_OK;
  oc_scan_init(&e->scan);
  oc_buf_init(&e->pb);
  oc_pyscan_init(&e->pyscan);
  e->pack_dir = oc_config_str(cfg, "OCELOT_RULES_PACK_DIR");

  oc_metrics_t *m = e->metrics;
  oc_metrics_declare(m, "ocelot_rules_events_total", OC_METRIC_COUNTER,
                     "Events evaluated, per log type.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_matches_total", OC_METRIC_COUNTER,
                     "Events matched, per rule.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_match_groups_total", OC_METRIC_COUNTER,
                     "RuleMatchGroup records produced to rule-matches.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_files_total", OC_METRIC_COUNTER,
                     "processed-files records handled, per kind (logs, ignored).", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_bad_lines_total", OC_METRIC_COUNTER,
                     "Lake lines skipped, per reason.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_load_errors_total", OC_METRIC_COUNTER,
                     "Detections that failed to load (counted at every reload).", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_reloads_total", OC_METRIC_COUNTER, "Rule set rebuilds.", NULL,
                     0);
  oc_metrics_declare(m, "ocelot_rules_loaded", OC_METRIC_GAUGE,
                     "Enabled detections running, per origin (directory, table).", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_skipped", OC_METRIC_GAUGE,
                     "Detections not running, per reason (python, disabled, not_a_rule, error).",
                     NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_output_rows_total", OC_METRIC_COUNTER,
                     "Matched events written to the lake under rules/.", NULL, 0);
  oc_metrics_inc(m, "ocelot_rules_load_errors_total", "", 0);
  oc_metrics_declare(m, "ocelot_rules_python_errors_total", OC_METRIC_COUNTER,
                     "Python rule calls that raised (rule errors), timeouts included.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_python_timeouts_total", OC_METRIC_COUNTER,
                     "Python rule calls interrupted by the time budget.", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_python_loaded", OC_METRIC_GAUGE,
                     "Enabled Python rules running (OCELOT_RULES_PACK_DIR and stored packs).", NULL,
                     0);
  oc_metrics_declare(m, "ocelot_rules_python_reloads_total", OC_METRIC_COUNTER,
                     "Python rule reloads after a change, per result (ok, failed).", NULL, 0);
  oc_metrics_declare(m, "ocelot_rules_cache_unavailable_total", OC_METRIC_COUNTER,
                     "Files retried because the caching helpers' Redis was unavailable.", NULL, 0);
  e->py_budget_ms = (int)oc_config_int(cfg, "OCELOT_RULES_PY_BUDGET_MS");
  e->py_memory_mb = (size_t)oc_config_int(cfg, "OCELOT_RULES_PY_MEMORY_MB");
  e->py_isolate = oc_config_bool(cfg, "OCELOT_RULES_PY_ISOLATE");
  e->reload_us = oc_config_int(cfg, "OCELOT_RULES_RELOAD_MS") * 1000;
  e->last_pack_err = OC_OK;
  {
    char why[512];
    e->watch = oc_packstore_watch_new(oc_config_str(cfg, "OCELOT_REDIS_URL"), why, sizeof(why));
    if (!e->watch)
      oc_log_kv(OC_LOG_WARN, "no rules-changed notices; relying on the periodic check", "error",
                why, NULL);
  }
  /* Postgres may still be starting: a transient failure is retried by tick and the
   * batches; a pack that cannot load at all stops the service, as before. */
  oc_err_t perr = oc_engine_pack_reload(e, svc, true);
  if (perr != OC_OK && !oc_err_is_transient(perr)) {
    snprintf(errstr, errstr_size, "could not load the Python rules (see the log)");
    oc_engine_destroy(svc, e);
    return perr;
  }
  e->next_pack_check_us = oc_monotonic_us() + e->reload_us;

  /* Postgres may still be starting: a failure here is retried by tick and the batches. */
  oc_engine_reload(e, svc, true);
  e->next_refresh_us = oc_monotonic_us() + e->refresh_us;
  oc_log_kv(OC_LOG_INFO, "rules-engine ready", "rules_dir", e->rules_dir, "lake_root", e->lake_root,
            NULL);
  *opaque = e;
  return OC_OK;
}

static void oc_engine_destroy(oc_svc_t *svc, void *opaque) {
  oc_engine_t *e = opaque;
  if (!e) return;
  oc_scan_deinit(&e->scan);
  oc_ruleset_destroy(e->rs);
  oc_buf_deinit(&e->pb);
  oc_pyscan_deinit(&e->pyscan);
  oc_pyscan_rules_destroy(e->py);
  oc_packstore_remove_dir(e->py_root);
  free(e->py_root);
  oc_packstore_watch_destroy(e->watch);
  if (e->host_started) oc_pyhost_fini();
  free(e);
}

static oc_err_t oc_engine_tick(oc_svc_t *svc, void *opaque) {
  oc_engine_t *e = opaque;
  int64_t now = oc_monotonic_us();
  bool notice = false;
  oc_err_t err = e->last_refresh, perr = e->last_pack_err;
  if (e->watch) {
    char why[512];
    oc_err_t werr = oc_packstore_watch_poll(e->watch, &notice, why, sizeof(why));
    if (werr != OC_OK && notice) /* just lost: say so once */
      oc_log_kv(OC_LOG_WARN, "rules-changed subscription lost; relying on the periodic check",
                "error", why, NULL);
    if (werr != OC_OK) notice = false;
  }
  if (notice || !e->table_loaded || now >= e->next_refresh_us) {
    e->next_refresh_us = now + e->refresh_us;
    err = oc_engine_reload(e, svc, false);
  }
  if (notice || !e->pack_loaded || now >= e->next_pack_check_us) {
    e->next_pack_check_us = now + e->reload_us;
    perr = oc_engine_pack_reload(e, svc, false);
  }
  if (err != OC_OK) return err;
  return oc_err_is_transient(perr) ? perr : OC_OK;
}

/* ---- output ------------------------------------------------------------------------ */

/* Packs a RuleMatchGroup and produces it to rule-matches keyed "<rule_id>:<dedup>", so
 * every match of one dedup key lands on one partition (the forwarder's order). */
static oc_err_t oc_engine_send_group(oc_engine_t *e, oc_svc_t *svc,
                                     const Ocelot__V1__RuleMatchGroup *rmg, const char *rule_id,
                                     const char *dedup, size_t dedup_len) {
  size_t len = ocelot__v1__rule_match_group__get_packed_size(rmg);
  oc_buf_reset(&e->pb);
  if (!oc_buf_reserve(&e->pb, len)) return OC_ERR_NOMEM;
  ocelot__v1__rule_match_group__pack(rmg, (uint8_t *)e->pb.data);
  size_t idlen = strlen(rule_id);
  char *key = oc_arena_alloc(oc_svc_arena(svc), idlen + 1 + dedup_len + 1);
  if (!key) return OC_ERR_NOMEM;
  memcpy(key, rule_id, idlen);
  key[idlen] = ':';
  memcpy(key + idlen + 1, dedup, dedup_len);
  return oc_svc_produce(svc, OC_TOPIC_MATCHES, key, idlen + 1 + dedup_len, e->pb.data, len, NULL);
}

static oc_err_t oc_engine_produce_group(oc_engine_t *e, oc_svc_t *svc, const char *lake_key,
                                        const oc_match_group_t *g) {
  const oc_rule_t *rule = g->rule;
  Ocelot__V1__RuleMatchGroup rmg = OCELOT__V1__RULE_MATCH_GROUP__INIT;
  char id[33];
  const char *parts[4] = {lake_key, rule->id, rule->version, g->dedup};
  size_t lens[4] = {strlen(lake_key), strlen(rule->id), strlen(rule->version), g->dedup_len};
  oc_hash_hex128(id, parts, lens, 4);

  rmg.id = id;
  rmg.rule_id = (char *)rule->id;
  rmg.rule_version = (char *)rule->version;
  rmg.dedup = g->dedup;
  rmg.log_type = (char *)g->log_type;
  rmg.match_count = g->count;
  rmg.first_event_time_us = g->first_us;
  rmg.last_event_time_us = g->last_us;
  rmg.title = g->title;
  rmg.severity = (char *)(g->severity ? g->severity : rule->severity); /* DynamicSeverities */
  if (g->alert_context && g->alert_context[0]) rmg.alert_context_json = (char *)g->alert_context;
  rmg.description = (char *)rule->description;
  rmg.reference = (char *)rule->reference;
  rmg.runbook = (char *)rule->runbook;
  rmg.n_destinations = rule->ndestinations;
  rmg.destinations = (char **)rule->destinations;
  rmg.n_sample_events = g->nsamples;
  rmg.sample_events = (char **)g->samples;
  rmg.is_error = false;
  rmg.dedup_period_minutes = rule->dedup_period_minutes;
  rmg.threshold = rule->threshold;
  rmg.lake_key = (char *)lake_key;

  return oc_engine_send_group(e, svc, &rmg, rule->id, g->dedup, g->dedup_len);
}

static oc_err_t oc_engine_produce_pygroup(oc_engine_t *e, oc_svc_t *svc, const char *lake_key,
                                          const oc_pymatch_group_t *g) {
  const oc_pack_item_t *it = g->rule->item;
  Ocelot__V1__RuleMatchGroup rmg = OCELOT__V1__RULE_MATCH_GROUP__INIT;
  char id[33];
  /* Rule errors are deduplicated apart from the rule's alerts: "error:" in the id. */
  const char *parts[5] = {lake_key, it->id, g->version, g->is_error ? "error" : "match", g->dedup};
  size_t lens[5] = {strlen(lake_key), strlen(it->id), strlen(g->version), strlen(parts[3]),
                    g->dedup_len};
  oc_hash_hex128(id, parts, lens, 5);

  rmg.id = id;
  rmg.rule_id = (char *)it->id;
  rmg.rule_version = (char *)g->version;
  rmg.dedup = g->dedup;
  rmg.log_type = (char *)g->log_type;
  rmg.match_count = g->count;
  rmg.first_event_time_us = g->first_us;
  rmg.last_event_time_us = g->last_us;
  rmg.title = g->title;
  rmg.severity = g->severity;
  rmg.alert_context_json = g->alert_context;
  rmg.description = g->description;
  rmg.reference = g->reference;
  rmg.runbook = g->runbook;
  rmg.n_destinations = g->ndestinations;
  rmg.destinations = g->destinations;
  rmg.skip_delivery = g->skip_delivery;
  rmg.n_sample_events = g->nsamples;
  rmg.sample_events = (char **)g->samples;
  rmg.is_error = g->is_error;
  rmg.dedup_period_minutes = it->dedup_period_minutes;
  rmg.threshold = g->is_error ? 1 : it->threshold;
  rmg.lake_key = (char *)lake_key;

  return oc_engine_send_group(e, svc, &rmg, it->id, g->dedup, g->dedup_len);
}

/* Events on which the Python host crashed (twice, alone: pyscan.h): written to a
 * quarantine lake file and announced on processed-files.dlq with the dead-letter headers,
 * so `ocelot requeue --from processed-files.dlq` runs exactly those events again once the
 * rule is fixed. The rest of the file's results are produced as usual. */
static oc_err_t oc_engine_poison(oc_engine_t *e, oc_svc_t *svc, oc_msg_t *msg,
                                 const Ocelot__V1__ProcessedFile *pf, const char *key) {
  const oc_pyscan_t *ps = &e->pyscan;
  char errstr[512], table[160], name[40], lake_key[1024], n[24];
  uint64_t bytes = 0;
  oc_lake_table_name(pf->log_type && pf->log_type[0] ? pf->log_type : "unknown", table,
                     sizeof(table));
  oc_hash_hex128_strs(name, "python-poison", key, NULL);
  oc_lake_writer_t *w =
      oc_lake_writer_open(e->lake_root, "quarantine", table, ps->poisons[0].time_us, name,
                          e->zstd_level, errstr, sizeof(errstr));
  if (!w) goto io;
  for (size_t i = 0; i < ps->npoisons; i++)
    if (oc_lake_writer_append(w, ps->poisons[i].line, ps->poisons[i].len) != OC_OK) {
      oc_lake_writer_abort(w);
      snprintf(errstr, sizeof(errstr), "could not write the quarantine file");
      goto io;
    }
  if (oc_lake_writer_commit(w, lake_key, sizeof(lake_key), &bytes, errstr, sizeof(errstr)) != OC_OK)
    goto io;
  Ocelot__V1__ProcessedFile q = *pf;
  q.lake_key = lake_key;
  q.row_count = ps->npoisons;
  q.bytes = bytes;
  size_t len = ocelot__v1__processed_file__get_packed_size(&q);
  oc_buf_reset(&e->pb);
  if (!oc_buf_reserve(&e->pb, len)) return OC_ERR_NOMEM;
  ocelot__v1__processed_file__pack(&q, (uint8_t *)e->pb.data);
  char why[400];
  snprintf(why, sizeof(why), "the Python host crashed on %zu event(s) of \"%s\": %s", ps->npoisons,
           key, ps->poisons[0].reason);
  rd_kafka_headers_t *h = oc_kafka_dlq_headers(msg->rkm, oc_svc_name(svc), OC_ERR_INTERNAL, why,
                                               msg->attempts + 1, oc_now_us());
  if (!h) return OC_ERR_NOMEM;
  oc_err_t err = oc_svc_produce(svc, OC_TOPIC_PROCESSED OC_DLQ_SUFFIX, lake_key, strlen(lake_key),
                                e->pb.data, len, h);
  if (err != OC_OK) return err;
  snprintf(n, sizeof(n), "%zu", ps->npoisons);
  oc_metrics_inc(e->metrics, "ocelot_rules_python_poison_events_total", "", ps->npoisons);
  oc_log_kv(OC_LOG_ERROR, "python host crashed on events; they are dead-lettered", "key", key,
            "events", n, "quarantine", lake_key, "reason", ps->poisons[0].reason, NULL);
  return OC_OK;
io:
  oc_log_kv(OC_LOG_WARN, "could not quarantine poison events; retrying the file", "key", key,
            "error", errstr, NULL);
  return OC_ERR_IO;
}

/* The Python rules over the same lake file. A transient error is returned; others are
 * this record's verdict (and OC_OK). */
static oc_err_t oc_engine_file_python(oc_engine_t *e, oc_svc_t *svc, oc_msg_t *msg,
                                      const Ocelot__V1__ProcessedFile *pf, const char *key,
                                      const char *path, int64_t default_time_us) {
  char errstr[1024], labels[600], esc[520];
  oc_pycache_begin();
  oc_err_t err = oc_pyscan_file(&e->pyscan, e->py, path, pf->log_type, default_time_us, e->max_line,
                                errstr, sizeof(errstr));
  bool cache_down = oc_pycache_unavailable(errstr, sizeof(errstr));
  for (size_t i = 0; !cache_down && err == OC_OK && i < e->pyscan.ngroups; i++) {
    const oc_pymatch_group_t *g = e->pyscan.groups[i];
    if (g->is_error && strcmp(g->dedup, OC_PYCACHE_UNAVAILABLE) == 0) {
      cache_down = true;
      snprintf(errstr, sizeof(errstr), "%s", g->title);
    }
  }
  if (cache_down) {
    /* Not the rules' fault: nothing of this file is produced and the batch is retried. */
    oc_metrics_inc(e->metrics, "ocelot_rules_cache_unavailable_total", "", 1);
    oc_log_kv(OC_LOG_WARN, "caching helpers could not reach Redis; retrying the file", "key", key,
              "error", errstr, NULL);
    return OC_ERR_UNAVAILABLE;
  }
  if (err != OC_OK) {
    if (oc_err_is_transient(err)) {
      oc_log_kv(OC_LOG_WARN, "could not run python rules on lake file; retrying", "key", key,
                "error", errstr, NULL);
      return err;
    }
    oc_msg_fail(msg, err, "python rules on lake file \"%s\": %s", key, errstr);
    return OC_OK;
  }
  const oc_pyscan_t *ps = &e->pyscan;
  if (ps->npoisons) {
    err = oc_engine_poison(e, svc, msg, pf, key);
    if (err != OC_OK) return err;
  }
  for (size_t i = 0; i < ps->ngroups; i++) {
    const oc_pymatch_group_t *g = ps->groups[i];
    err = oc_engine_produce_pygroup(e, svc, key, g);
    if (err != OC_OK) return err;
    if (!g->is_error) {
      oc_metrics_label_escape(g->rule->item->id, esc, sizeof(esc));
      snprintf(labels, sizeof(labels), "rule_id=\"%s\"", esc);
      oc_metrics_inc(e->metrics, "ocelot_rules_matches_total", labels, g->count);
    }
  }
  oc_metrics_inc(e->metrics, "ocelot_rules_match_groups_total", "", ps->ngroups);
  if (ps->errors) oc_metrics_inc(e->metrics, "ocelot_rules_python_errors_total", "", ps->errors);
  if (ps->timeouts)
    oc_metrics_inc(e->metrics, "ocelot_rules_python_timeouts_total", "", ps->timeouts);
  if (ps->errors) {
    char n[32];
    snprintf(n, sizeof(n), "%llu", (unsigned long long)ps->errors);
    oc_log_kv(OC_LOG_WARN, "python rules raised on lake file", "key", key, "errors", n, NULL);
  }
  return OC_OK;
}

static oc_err_t oc_engine_produce_output(oc_engine_t *e, oc_svc_t *svc,
                                         const Ocelot__V1__ProcessedFile *in,
                                         const oc_scan_output_t *o) {
  Ocelot__V1__ProcessedFile pf = OCELOT__V1__PROCESSED_FILE__INIT;
  pf.kind = OCELOT__V1__FILE_KIND__FILE_KIND_RULES;
  pf.log_type = (char *)o->log_type;
  pf.lake_key = (char *)o->key;
  pf.row_count = o->rows;
  pf.bytes = o->bytes;
  pf.first_event_time_us = o->first_us;
  pf.last_event_time_us = o->last_us;
  pf.source_id = in->source_id;
  pf.source_label = in->source_label;
  pf.input = in->input;
  size_t len = ocelot__v1__processed_file__get_packed_size(&pf);
  oc_buf_reset(&e->pb);
  if (!oc_buf_reserve(&e->pb, len)) return OC_ERR_NOMEM;
  ocelot__v1__processed_file__pack(&pf, (uint8_t *)e->pb.data);
  return oc_svc_produce(svc, OC_TOPIC_PROCESSED, o->key, strlen(o->key), e->pb.data, len, NULL);
}

static void oc_engine_count(oc_engine_t *e, const oc_scan_t *scan, const char *file_log_type) {
  char labels[600], esc[520];
  uint64_t other = scan->other_events;
  for (size_t i = 0; i < scan->ntypes; i++) {
    const char *lt = scan->types[i].log_type;
    size_t nrules = 0;
    /* Label only log types with rules or the file's own, so event contents cannot grow
     * the number of series without bound. */
    oc_ruleset_for_log_type(e->rs, lt, strlen(lt), &nrules);
    if (!nrules && (!file_log_type || strcmp(lt, file_log_type) != 0)) {
      other += scan->types[i].events;
      continue;
    }
    oc_metrics_label_escape(lt, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "log_type=\"%s\"", esc);
    oc_metrics_inc(e->metrics, "ocelot_rules_events_total", labels, scan->types[i].events);
  }
  if (other) oc_metrics_inc(e->metrics, "ocelot_rules_events_total", "log_type=\"other\"", other);
  for (size_t i = 0; i < scan->ngroups; i++) {
    oc_metrics_label_escape(scan->groups[i]->rule->id, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "rule_id=\"%s\"", esc);
    oc_metrics_inc(e->metrics, "ocelot_rules_matches_total", labels, scan->groups[i]->count);
  }
  oc_metrics_inc(e->metrics, "ocelot_rules_match_groups_total", "", scan->ngroups);
  if (scan->bad_json)
    oc_metrics_inc(e->metrics, "ocelot_rules_bad_lines_total", "reason=\"json\"", scan->bad_json);
  if (scan->not_object)
    oc_metrics_inc(e->metrics, "ocelot_rules_bad_lines_total", "reason=\"not_object\"",
                   scan->not_object);
  if (scan->too_long)
    oc_metrics_inc(e->metrics, "ocelot_rules_bad_lines_total", "reason=\"too_long\"",
                   scan->too_long);
  if (scan->no_log_type)
    oc_metrics_inc(e->metrics, "ocelot_rules_bad_lines_total", "reason=\"no_log_type\"",
                   scan->no_log_type);
  for (size_t i = 0; i < scan->noutputs; i++)
    oc_metrics_inc(e->metrics, "ocelot_rules_output_rows_total", "", scan->outputs[i].rows);
}

/* ---- the batch --------------------------------------------------------------------- */

static void *oc_pb_alloc(void *data, size_t size) {
  return oc_arena_alloc(data, size ? size : 1);
}
static void oc_pb_free(void *data, void *ptr) {}

/* One ProcessedFile of kind logs. A transient error is returned (the batch is retried);
 * everything else is this record's verdict. */
static oc_err_t oc_engine_file(oc_engine_t *e, oc_svc_t *svc, oc_msg_t *msg,
                               const Ocelot__V1__ProcessedFile *pf) {
  char path[4096], errstr[1024];
  const char *key = pf->lake_key ? pf->lake_key : "";
  const char *slash = strchr(key, '/');
  oc_err_t err;

  if (!slash || slash == key) {
    oc_msg_fail(msg, OC_ERR_INVALID, "lake key \"%.200s\" is not <kind>/<table>/...", key);
    return OC_OK;
  }
  char kind[64];
  size_t klen = (size_t)(slash - key);
  if (klen >= sizeof(kind)) {
    oc_msg_fail(msg, OC_ERR_INVALID, "lake key \"%.200s\" is not <kind>/<table>/...", key);
    return OC_OK;
  }
  memcpy(kind, key, klen);
  kind[klen] = '\0';
  err = oc_lake_confine(e->lake_root, kind, slash + 1, path, sizeof(path), errstr, sizeof(errstr));
  if (err != OC_OK) {
    oc_msg_fail(msg, OC_ERR_INVALID, "refused lake key \"%.200s\": %s", key, errstr);
    return OC_OK;
  }

  oc_scan_opts_t opts = {
      .default_log_type = pf->log_type,
      .default_time_us = pf->first_event_time_us ? pf->first_event_time_us : oc_now_us(),
      .max_line = e->max_line,
      .lake_root = e->write_matches ? e->lake_root : NULL,
      .input_key = key,
      .zstd_level = e->zstd_level,
  };
  err = oc_scan_file(&e->scan, e->rs, path, &opts, errstr, sizeof(errstr));
  if (err == OC_OK && e->py) {
    err = oc_engine_file_python(e, svc, msg, pf, key, path, opts.default_time_us);
    if (err != OC_OK || msg->err != OC_OK) return err;
  }
  switch (err) {
    case OC_OK:
      break;
    case OC_ERR_NOT_FOUND:
      oc_msg_fail(msg, OC_ERR_NOT_FOUND, "lake file \"%s\" does not exist", key);
      return OC_OK;
    case OC_ERR_DECODE:
      oc_msg_fail(msg, OC_ERR_DECODE, "lake file \"%s\" is damaged: %s", key, errstr);
      return OC_OK;
    default:
      if (oc_err_is_transient(err)) {
        oc_log_kv(OC_LOG_WARN, "could not run rules on lake file; retrying", "key", key, "error",
                  errstr, NULL);
        return err;
      }
      oc_msg_fail(msg, err, "%s", errstr);
      return OC_OK;
  }

  const oc_scan_t *scan = &e->scan;
  if (scan->first_error[0]) {
    char nbad[32];
    snprintf(nbad, sizeof(nbad), "%llu",
             (unsigned long long)(scan->bad_json + scan->not_object + scan->too_long +
                                  scan->no_log_type));
    oc_log_kv(OC_LOG_WARN, "skipped bad lines in lake file", "key", key, "lines", nbad, "first",
              scan->first_error, NULL);
  }
  for (size_t i = 0; i < scan->ngroups; i++) {
    err = oc_engine_produce_group(e, svc, key, scan->groups[i]);
    if (err != OC_OK) return err;
  }
  for (size_t i = 0; i < scan->noutputs; i++) {
    err = oc_engine_produce_output(e, svc, pf, &scan->outputs[i]);
    if (err != OC_OK) return err;
  }
  oc_engine_count(e, scan, pf->log_type);
  if (scan->ngroups) {
    char groups[32], matches[32];
    snprintf(groups, sizeof(groups), "%zu", scan->ngroups);
    snprintf(matches, sizeof(matches), "%llu", (unsigned long long)scan->matches);
    oc_log_kv(OC_LOG_DEBUG, "rules matched", "key", key, "groups", groups, "matches", matches,
              NULL);
  }
  return OC_OK;
}

static oc_err_t oc_engine_handle(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  oc_engine_t *e = opaque;
  ProtobufCAllocator alloc = {oc_pb_alloc, oc_pb_free, oc_svc_arena(svc)};
  oc_err_t err;

  if (!e->table_loaded) {
    /* Never evaluate without the table's rules: that would silently miss matches. */
    err = oc_engine_reload(e, svc, true);
    if (err != OC_OK) return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
  }
  if (!e->pack_loaded) {
    /* Likewise for the stored packs' Python rules. */
    err = oc_engine_pack_reload(e, svc, true);
    if (err != OC_OK && !e->pack_loaded) return oc_err_is_transient(err) ? err : OC_ERR_UNAVAILABLE;
  }
  for (size_t i = 0; i < n; i++) {
    oc_msg_t *msg = &msgs[i];
    Ocelot__V1__ProcessedFile *pf =
        ocelot__v1__processed_file__unpack(&alloc, msg->len, (const uint8_t *)msg->value);
    if (!pf) {
      oc_msg_fail(msg, OC_ERR_DECODE, "could not decode a ProcessedFile (%zu bytes)", msg->len);
      continue;
    }
    if (pf->kind != OCELOT__V1__FILE_KIND__FILE_KIND_LOGS) {
      oc_metrics_inc(e->metrics, "ocelot_rules_files_total", "kind=\"ignored\"", 1);
      continue;
    }
    err = oc_engine_file(e, svc, msg, pf);
    if (err != OC_OK) return err;
    if (msg->err == OC_OK)
      oc_metrics_inc(e->metrics, "ocelot_rules_files_total", "kind=\"logs\"", 1);
  }
  return OC_OK;
}

static const char *const oc_rules_topics[] = {OC_TOPIC_PROCESSED};

const oc_handler_t oc_rules_handler = {
    .name = "rules-engine",
    .topics = oc_rules_topics,
    .ntopics = 1,
    .cfgdefs = oc_rules_cfgdefs,
    .ncfgdefs = sizeof(oc_rules_cfgdefs) / sizeof(oc_rules_cfgdefs[0]),
    .needs_pg = true,
    .needs_redis = true, /* panther_detection_helpers.caching */
    .init = oc_engine_init,
    .handle_batch = oc_engine_handle,
    .tick = oc_engine_tick,
    .tick_ms = 500,
    .destroy = oc_engine_destroy,
};
