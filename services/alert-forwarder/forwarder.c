/* forwarder.c: rule-matches -> dedup windows, alerts and the outbox, one Postgres
 * transaction per batch (see forwarder.h). */
#include "services/alert-forwarder/forwarder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "services/alert-forwarder/dedup.h"
#include "services/alert-forwarder/outbox.h"

#define OC_FWD_TICK_MS 500
#define OC_FWD_JSON_DEPTH 64
#define OC_FWD_LOG_EVERY_US (10 * 1000000LL) /* repeated relay errors: one line per 10 s */

#define OC_FWD_PRUNE_EVERY_US (10 * 60 * 1000000LL) /* inbox retention runs this often */
#define OC_FWD_PRUNE_ROWS 10000                     /* rows deleted per statement */
#define OC_FWD_PRUNE_ROUNDS 10                      /* statements per run */

const oc_cfgdef_t oc_forwarder_cfgdefs[] = {
    {"OCELOT_INBOX_RETENTION_HOURS", OC_CFG_INT, "720", 0, 87600,
     "how long processed match ids are remembered (replays older than this count again; "
     "0 = forever)"},
};
const size_t oc_forwarder_ncfgdefs = sizeof(oc_forwarder_cfgdefs) / sizeof(oc_forwarder_cfgdefs[0]);

typedef struct oc_fwd {
  oc_buf_t scratch;      /* relay: decoded payloads */
  int64_t relay_log_us;  /* last time a relay failure was logged */
  int64_t apply_log_us;  /* last time a transient batch failure was logged */
  long long retention_h; /* OCELOT_INBOX_RETENTION_HOURS */
  int64_t pruned_us;     /* last inbox retention run (monotonic) */
} oc_fwd_t;

/* An alert created in the current transaction; its outbox row is written at the end,
 * with the counts of every match of the batch. */
typedef struct oc_fwd_created {
  struct oc_fwd_created *next;
  size_t idx; /* the record that created it */
  char alert_id[33];
  const char *dedup_key;
  const Ocelot__V1__RuleMatchGroup *g;
  uint64_t event_count;
  int64_t first_us, last_us, created_at_us;
} oc_fwd_created_t;

/* What one attempt at the transaction did, applied to the metrics after the commit. */
typedef struct oc_fwd_tally {
  oc_fwd_created_t *created;
  uint64_t created_n, new_n, dup_n, held_n, added_n;
} oc_fwd_tally_t;

/* ---- validation and JSON helpers (exported for tests) ---- */

static bool oc_fwd_text(char *s, size_t limit, bool cut, const char *what, char *errstr,
                        size_t errstr_size) {
  size_t len = strlen(s);
  if (len > limit) {
    if (!cut) {
      snprintf(errstr, errstr_size, "%s is %zu bytes long (the limit is %zu)", what, len, limit);
      return false;
    }
    len = oc_utf8_valid_prefix(s, limit); /* stops before a character cut in half */
    s[len] = '\0';
  }
  if (oc_utf8_valid_prefix(s, len) != len) {
    snprintf(errstr, errstr_size, "%s is not valid UTF-8", what);
    return false;
  }
  return true;
}

bool oc_fwd_match_check(Ocelot__V1__RuleMatchGroup *g, char *errstr, size_t errstr_size) {
  if (!g->id || !g->id[0]) {
    snprintf(errstr, errstr_size, "match group has no id");
    return false;
  }
  if (!g->rule_id || !g->rule_id[0]) {
    snprintf(errstr, errstr_size, "match group \"%.64s\" has no rule id", g->id);
    return false;
  }
  if (!oc_fwd_text(g->id, OC_FWD_MAX_ID, false, "match id", errstr, errstr_size) ||
      !oc_fwd_text(g->rule_id, OC_FWD_MAX_RULE_ID, false, "rule id", errstr, errstr_size) ||
      !oc_fwd_text(g->rule_version, OC_FWD_MAX_ID, true, "rule version", errstr, errstr_size) ||
      !oc_fwd_text(g->dedup, OC_FWD_MAX_DEDUP, true, "dedup string", errstr, errstr_size) ||
      !oc_fwd_text(g->title, OC_FWD_MAX_TITLE, true, "title", errstr, errstr_size) ||
      !oc_fwd_text(g->severity, OC_FWD_MAX_SEVERITY, true, "severity", errstr, errstr_size) ||
      !oc_fwd_text(g->log_type, OC_FWD_MAX_TEXT, true, "log type", errstr, errstr_size) ||
      !oc_fwd_text(g->description, OC_FWD_MAX_TEXT, true, "description", errstr, errstr_size) ||
      !oc_fwd_text(g->reference, OC_FWD_MAX_TEXT, true, "reference", errstr, errstr_size) ||
      !oc_fwd_text(g->runbook, OC_FWD_MAX_TEXT, true, "runbook", errstr, errstr_size) ||
      !oc_fwd_text(g->lake_key, OC_FWD_MAX_TEXT, true, "lake key", errstr, errstr_size))
    return false;
  if (strlen(g->alert_context_json) > OC_FWD_MAX_CONTEXT) {
    oc_log_kv(OC_LOG_WARN, "alert context over the limit dropped", "match", g->id, "rule",
              g->rule_id, NULL);
    g->alert_context_json[0] = '\0';
  }
  for (char *p = g->severity; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
  if (!g->severity[0]) g->severity = "INFO";
  if (!g->title[0]) g->title = g->rule_id; /* an alert always has a title */
  if (g->first_event_time_us < 0 || g->first_event_time_us > OC_FWD_MAX_TIME_US ||
      g->last_event_time_us < 0 || g->last_event_time_us > OC_FWD_MAX_TIME_US) {
    snprintf(errstr, errstr_size, "event times %" PRId64 "..%" PRId64 " us are out of range",
             g->first_event_time_us, g->last_event_time_us);
    return false;
  }
  if (g->last_event_time_us == 0) g->last_event_time_us = g->first_event_time_us;
  if (g->first_event_time_us > g->last_event_time_us) {
    int64_t t = g->first_event_time_us;
    g->first_event_time_us = g->last_event_time_us;
    g->last_event_time_us = t;
  }
  if (g->match_count > (uint64_t)OC_DEDUP_MAX_COUNT) {
    snprintf(errstr, errstr_size, "match count %" PRIu64 " is out of range", g->match_count);
    return false;
  }
  if (g->match_count == 0) g->match_count = 1;
  if (g->n_destinations > OC_FWD_MAX_DESTINATIONS) g->n_destinations = OC_FWD_MAX_DESTINATIONS;
  for (size_t i = 0; i < g->n_destinations; i++)
    if (!oc_fwd_text(g->destinations[i], OC_FWD_MAX_ID, false, "destination", errstr, errstr_size))
      return false;
  /* Samples: keep the first few that are small enough. */
  size_t ns = 0;
  for (size_t i = 0; i < g->n_sample_events && ns < OC_FWD_MAX_SAMPLES; i++) {
    char *s = g->sample_events[i];
    size_t len = strlen(s);
    if (len > OC_FWD_MAX_SAMPLE || oc_utf8_valid_prefix(s, len) != len) continue;
    g->sample_events[ns++] = s;
  }
  g->n_sample_events = ns;
  return true;
}

void oc_fwd_jsonb_safe(char *json, size_t len) {
  bool in_str = false;
  for (size_t i = 0; i < len; i++) {
    if (json[i] == '"') {
      in_str = !in_str;
    } else if (in_str && json[i] == '\\' && i + 1 < len) {
      if (json[i + 1] == 'u' && i + 5 < len && memcmp(json + i + 2, "0000", 4) == 0)
        memcpy(json + i + 2, "fffd", 4);
      i++; /* the escaped character */
    }
  }
}

char *oc_fwd_json_value(oc_arena_t *a, const char *text, size_t len) {
  char err[128];
  oc_buf_t b;
  const oc_json_t *v;
  char *out;
  if (len == 0) return NULL;
  oc_buf_init(&b);
  v = oc_json_parse(a, text, len, OC_FWD_JSON_DEPTH, err, sizeof(err));
  if (v)
    oc_json_serialize(&b, v);
  else
    oc_json_write_string(&b, text, len);
  out = oc_buf_ok(&b) ? oc_arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
  oc_buf_deinit(&b);
  if (out) oc_fwd_jsonb_safe(out, strlen(out));
  return out;
}

char *oc_fwd_json_samples(oc_arena_t *a, char *const *samples, size_t n) {
  oc_buf_t b;
  char *out = NULL;
  if (n == 0) return NULL;
  oc_buf_init(&b);
  oc_buf_putc(&b, '[');
  for (size_t i = 0; i < n; i++) {
    char *v = oc_fwd_json_value(a, samples[i], strlen(samples[i]));
    if (i) oc_buf_putc(&b, ',');
    oc_buf_puts(&b, v ? v : "null");
  }
  oc_buf_putc(&b, ']');
  if (oc_buf_ok(&b)) out = oc_arena_strndup(a, b.data, b.len);
  oc_buf_deinit(&b);
  return out;
}

/* ---- the transaction ---- */

static void *oc_fwd_pb_alloc(void *opaque, size_t size) {
  return oc_arena_alloc(opaque, size);
}
static void oc_fwd_pb_free(void *opaque, void *ptr) {
  (void)opaque;
  (void)ptr; /* the arena is reset after the batch */
}

/* A Postgres text[] literal: {"a","b\"c"}. */
static char *oc_fwd_pg_array(oc_arena_t *a, char *const *v, size_t n) {
  oc_buf_t b;
  char *out = NULL;
  oc_buf_init(&b);
  oc_buf_putc(&b, '{');
  for (size_t i = 0; i < n; i++) {
    if (i) oc_buf_putc(&b, ',');
    oc_buf_putc(&b, '"');
    for (const char *p = v[i]; *p; p++) {
      if (*p == '"' || *p == '\\') oc_buf_putc(&b, '\\');
      oc_buf_putc(&b, *p);
    }
    oc_buf_putc(&b, '"');
  }
  oc_buf_putc(&b, '}');
  if (oc_buf_ok(&b)) out = oc_arena_strndup(a, b.data, b.len);
  oc_buf_deinit(&b);
  return out;
}

static char *oc_fwd_ts(oc_arena_t *a, int64_t us) {
  char buf[32];
  oc_time_format_rfc3339(us, buf);
  return oc_arena_strdup(a, buf);
}

static char *oc_fwd_i64(oc_arena_t *a, int64_t v) {
  return oc_arena_sprintf(a, "%" PRId64, v);
}

static oc_fwd_created_t *oc_fwd_find_created(oc_fwd_tally_t *t, const char *alert_id) {
  for (oc_fwd_created_t *c = t->created; c; c = c->next)
    if (strcmp(c->alert_id, alert_id) == 0) return c;
  return NULL;
}

/* Reads the window of key (locking the row) into w and its alert id into alert_id. */
static oc_err_t oc_fwd_load_window(oc_pg_t *pg, const char *key, oc_dedup_window_t *w,
                                   char alert_id[33], char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  const char *params[1] = {key};
  oc_err_t err = oc_pg_exec(
      pg, &res,
      "SELECT alert_id, (extract(epoch FROM window_start) * 1000000)::bigint, event_count,"
      " (extract(epoch FROM first_event_time) * 1000000)::bigint,"
      " (extract(epoch FROM last_event_time) * 1000000)::bigint, threshold, alert_created"
      " FROM alert_dedup WHERE dedup_key = $1 FOR UPDATE",
      1, params, errstr, errstr_size);
  if (err) return err;
  memset(w, 0, sizeof(*w));
  alert_id[0] = '\0';
  if (PQntuples(res) == 1) {
    w->exists = true;
    snprintf(alert_id, 33, "%s", PQgetvalue(res, 0, 0));
    w->window_start_us = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    w->event_count = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    w->first_us = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    w->last_us = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    w->threshold = (int32_t)strtol(PQgetvalue(res, 0, 5), NULL, 10);
    w->alert_created = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
  }
  PQclear(res);
  return OC_OK;
}

/* Runs one statement and tells whether it touched a row. */
static oc_err_t oc_fwd_exec_count(oc_pg_t *pg, const char *sql, int nparams,
                                  const char *const *params, bool *touched, char *errstr,
                                  size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err = oc_pg_exec(pg, &res, sql, nparams, params, errstr, errstr_size);
  if (err) return err;
  if (touched) *touched = strcmp(PQcmdTuples(res), "0") != 0;
  PQclear(res);
  return OC_OK;
}

/* Applies one match inside the open transaction. */
static oc_err_t oc_fwd_apply_one(oc_pg_t *pg, oc_arena_t *a, size_t idx,
                                 const Ocelot__V1__RuleMatchGroup *g, oc_fwd_tally_t *t,
                                 char *errstr, size_t errstr_size) {
  oc_dedup_window_t w;
  oc_dedup_match_t m;
  oc_dedup_result_t r;
  char alert_id[33];
  bool touched, existed;
  oc_err_t err;
  char *key = oc_dedup_key(a, g->rule_id, g->dedup, g->is_error);
  if (!key) return OC_ERR_NOMEM;

  err = oc_fwd_load_window(pg, key, &w, alert_id, errstr, errstr_size);
  if (err) return err;
  existed = w.exists;
  m.first_us = g->first_event_time_us;
  m.last_us = g->last_event_time_us;
  m.count = g->match_count;
  m.period_minutes = g->dedup_period_minutes;
  m.threshold = g->threshold;
  r = oc_dedup_apply(&w, &m);
  if (r.new_window || !alert_id[0]) oc_dedup_alert_id(alert_id, key, w.window_start_us);

  /* The inbox: a match id seen before changes nothing. */
  {
    const char *p[2] = {g->id, alert_id};
    err = oc_fwd_exec_count(pg,
                            "INSERT INTO processed_matches (id, alert_id) VALUES ($1, $2)"
                            " ON CONFLICT (id) DO NOTHING",
                            2, p, &touched, errstr, errstr_size);
    if (err) return err;
    if (!touched) {
      t->dup_n++;
      return OC_OK;
    }
  }

  char *start = oc_fwd_ts(a, w.window_start_us), *first = oc_fwd_ts(a, w.first_us);
  char *last = oc_fwd_ts(a, w.last_us), *count = oc_fwd_i64(a, (int64_t)w.event_count);
  char *thr = oc_fwd_i64(a, w.threshold);
  if (!start || !first || !last || !count || !thr) return OC_ERR_NOMEM;
  {
    const char *p[10] = {key,   g->rule_id, g->dedup, alert_id, start,
                         count, first,      last,     thr,      w.alert_created ? "true" : "false"};
    if (!existed) {
      err = oc_fwd_exec_count(
          pg,
          "INSERT INTO alert_dedup (dedup_key, rule_id, dedup, alert_id, window_start,"
          " event_count, first_event_time, last_event_time, threshold, alert_created)"
          " VALUES ($1, $2, $3, $4, $5::timestamptz, $6::bigint, $7::timestamptz,"
          " $8::timestamptz, $9::integer, $10::boolean) ON CONFLICT (dedup_key) DO NOTHING",
          10, p, &touched, errstr, errstr_size);
      if (err) return err;
      if (!touched) {
        /* Another forwarder opened the window between our SELECT and INSERT (both saw
         * no row, so no lock was held): redo the batch, it will see the row. */
        snprintf(errstr, errstr_size, "dedup key \"%.200s\" was created concurrently", key);
        return OC_ERR_CONFLICT;
      }
    } else {
      err = oc_fwd_exec_count(
          pg,
          "UPDATE alert_dedup SET rule_id = $2, dedup = $3, alert_id = $4,"
          " window_start = $5::timestamptz, event_count = $6::bigint,"
          " first_event_time = $7::timestamptz, last_event_time = $8::timestamptz,"
          " threshold = $9::integer, alert_created = $10::boolean, updated_at = now()"
          " WHERE dedup_key = $1",
          10, p, NULL, errstr, errstr_size);
      if (err) return err;
    }
  }

  if (r.action == OC_DEDUP_CREATE) {
    int64_t now = oc_now_us();
    char *ctx = oc_fwd_json_value(a, g->alert_context_json, strlen(g->alert_context_json));
    char *dests = oc_fwd_pg_array(a, g->destinations, g->n_destinations);
    char *created = oc_fwd_ts(a, now);
    if (!dests || !created) return OC_ERR_NOMEM;
    const char *p[19] = {alert_id,    g->rule_id,     g->rule_version,
                         key,         g->dedup,       g->title,
                         g->severity, g->log_type,    g->is_error ? "true" : "false",
                         count,       first,          last,
                         ctx,         g->description, g->reference,
                         g->runbook,  dests,          g->skip_delivery ? "true" : "false",
                         created};
    err = oc_fwd_exec_count(
        pg,
        "INSERT INTO alerts (id, rule_id, rule_version, dedup_key, dedup, title, severity,"
        " log_type, is_error, event_count, first_event_time, last_event_time, context,"
        " description, reference, runbook, destinations, skip_delivery, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::boolean, $10::bigint, $11::timestamptz,"
        " $12::timestamptz, $13::jsonb, $14, $15, $16, $17::text[], $18::boolean,"
        " $19::timestamptz, $19::timestamptz) ON CONFLICT (id) DO NOTHING",
        19, p, &touched, errstr, errstr_size);
    if (err) return err;
    if (touched) {
      oc_fwd_created_t *c = oc_arena_alloc(a, sizeof(*c));
      if (!c) return OC_ERR_NOMEM;
      memset(c, 0, sizeof(*c));
      c->idx = idx;
      memcpy(c->alert_id, alert_id, 33);
      c->dedup_key = key;
      c->g = g;
      c->event_count = w.event_count;
      c->first_us = w.first_us;
      c->last_us = w.last_us;
      c->created_at_us = now;
      c->next = t->created;
      t->created = c;
      t->created_n++;
      t->new_n++;
    } else {
      /* The alert exists already (its window state was removed by hand and the same
       * events came again): count into it, never a second alert or delivery. */
      r.action = OC_DEDUP_ADD;
    }
  }
  if (r.action == OC_DEDUP_ADD) {
    const char *p[4] = {alert_id, count, first, last};
    err = oc_fwd_exec_count(pg,
                            "UPDATE alerts SET event_count = $2::bigint,"
                            " first_event_time = $3::timestamptz,"
                            " last_event_time = $4::timestamptz, updated_at = now()"
                            " WHERE id = $1",
                            4, p, NULL, errstr, errstr_size);
    if (err) return err;
    oc_fwd_created_t *c = oc_fwd_find_created(t, alert_id);
    if (c) { /* created earlier in this batch: its outbox row carries the final counts */
      c->event_count = w.event_count;
      c->first_us = w.first_us;
      c->last_us = w.last_us;
    }
    t->added_n++;
  } else if (r.action == OC_DEDUP_HELD) {
    t->held_n++;
  }

  {
    char *samples = oc_fwd_json_samples(a, g->sample_events, g->n_sample_events);
    char *mc = oc_fwd_i64(a, (int64_t)g->match_count);
    if (!mc || (g->n_sample_events && !samples)) return OC_ERR_NOMEM;
    const char *p[4] = {alert_id, g->id, mc, samples};
    err = oc_fwd_exec_count(pg,
                            "INSERT INTO alert_events (alert_id, match_id, match_count,"
                            " sample_events) VALUES ($1, $2, $3::bigint, $4::jsonb)"
                            " ON CONFLICT DO NOTHING",
                            4, p, NULL, errstr, errstr_size);
    if (err) return err;
  }
  return OC_OK;
}

/* The outbox row of an alert created in this transaction. */
static oc_err_t oc_fwd_outbox_created(oc_pg_t *pg, oc_arena_t *a, const oc_fwd_created_t *c,
                                      char *errstr, size_t errstr_size) {
  const Ocelot__V1__RuleMatchGroup *g = c->g;
  Ocelot__V1__Alert al = OCELOT__V1__ALERT__INIT;
  size_t len;
  uint8_t *buf;

  al.alert_id = (char *)c->alert_id;
  al.rule_id = g->rule_id;
  al.rule_version = g->rule_version;
  al.title = g->title;
  al.severity = g->severity;
  al.dedup = g->dedup;
  al.event_count = c->event_count;
  al.first_event_time_us = c->first_us;
  al.last_event_time_us = c->last_us;
  al.created_at_us = c->created_at_us;
  al.alert_context_json = g->alert_context_json;
  al.n_destinations = g->n_destinations;
  al.destinations = g->destinations;
  al.log_type = g->log_type;
  al.description = g->description;
  al.reference = g->reference;
  al.runbook = g->runbook;
  al.is_error = g->is_error;
  al.n_sample_events = g->n_sample_events;
  al.sample_events = g->sample_events;
  al.skip_delivery = g->skip_delivery;
  len = ocelot__v1__alert__get_packed_size(&al);
  buf = oc_arena_alloc(a, len ? len : 1);
  if (!buf) return OC_ERR_NOMEM;
  ocelot__v1__alert__pack(&al, buf);
  return oc_outbox_add(pg, OC_TOPIC_ALERTS, c->alert_id, buf, len, errstr, errstr_size);
}

/* One attempt at the batch's transaction. On error *bad is the index of the record the
 * failing statement belonged to, or n when it belonged to none (the commit). */
static oc_err_t oc_fwd_apply_all(oc_pg_t *pg, oc_arena_t *a, Ocelot__V1__RuleMatchGroup *const *gs,
                                 size_t n, oc_fwd_tally_t *t, size_t *bad, char *errstr,
                                 size_t errstr_size) {
  oc_err_t err;
  *bad = n;
  err = oc_pg_begin(pg, errstr, errstr_size);
  if (err) return err;
  for (size_t i = 0; i < n; i++) {
    if (!gs[i]) continue;
    *bad = i;
    err = oc_fwd_apply_one(pg, a, i, gs[i], t, errstr, errstr_size);
    if (err) return err;
  }
  for (oc_fwd_created_t *c = t->created; c; c = c->next) {
    *bad = c->idx;
    err = oc_fwd_outbox_created(pg, a, c, errstr, errstr_size);
    if (err) return err;
  }
  *bad = n;
  return oc_pg_commit(pg, errstr, errstr_size);
}

static void oc_fwd_count(oc_metrics_t *m, const oc_fwd_tally_t *t) {
  if (t->new_n) oc_metrics_inc(m, "ocelot_matches_total", "result=\"new\"", t->new_n);
  if (t->dup_n) oc_metrics_inc(m, "ocelot_matches_total", "result=\"duplicate\"", t->dup_n);
  if (t->held_n) oc_metrics_inc(m, "ocelot_matches_total", "result=\"held\"", t->held_n);
  if (t->added_n) oc_metrics_inc(m, "ocelot_matches_total", "result=\"added\"", t->added_n);
  if (t->created_n) oc_metrics_inc(m, "ocelot_alerts_created_total", "", t->created_n);
}

/* Publishes the outbox. Failures are logged (at most every 10 s) and returned. */
static oc_err_t oc_fwd_relay(oc_svc_t *svc, oc_fwd_t *f) {
  char errstr[512] = "";
  size_t published = 0;
  oc_pg_t *pg = oc_svc_pg(svc);
  oc_err_t err;
  if (!pg) return OC_ERR_UNAVAILABLE;
  err = oc_outbox_relay(svc, pg, &f->scratch, &published, errstr, sizeof(errstr));
  if (published)
    oc_metrics_inc(oc_svc_metrics(svc), "ocelot_outbox_published_total", "", published);
  if (err) {
    int64_t now = oc_monotonic_us();
    if (!f->relay_log_us || now - f->relay_log_us >= OC_FWD_LOG_EVERY_US) {
      f->relay_log_us = now;
      oc_log_kv(OC_LOG_WARN, "could not relay the outbox; retrying", "error", errstr, NULL);
    }
  } else {
    f->relay_log_us = 0;
  }
  return err;
}

static oc_err_t oc_fwd_handle(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  oc_fwd_t *f = opaque;
  oc_arena_t *a = oc_svc_arena(svc);
  oc_pg_t *pg = oc_svc_pg(svc);
  ProtobufCAllocator alloc = {oc_fwd_pb_alloc, oc_fwd_pb_free, a};
  Ocelot__V1__RuleMatchGroup **gs;
  char errstr[512];
  size_t nvalid = 0;
  oc_fwd_tally_t t;
  oc_err_t err;

  if (!pg) return OC_ERR_UNAVAILABLE;
  gs = oc_arena_alloc(a, (n ? n : 1) * sizeof(*gs));
  if (!gs) return OC_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    oc_msg_t *msg = &msgs[i];
    gs[i] = ocelot__v1__rule_match_group__unpack(&alloc, msg->len, msg->value);
    if (!gs[i]) {
      oc_msg_fail(msg, OC_ERR_DECODE, "could not decode a RuleMatchGroup (%zu bytes)", msg->len);
      continue;
    }
    if (!oc_fwd_match_check(gs[i], errstr, sizeof(errstr))) {
      oc_msg_fail(msg, OC_ERR_INVALID, "invalid match group: %s", errstr);
      gs[i] = NULL;
      continue;
    }
    nvalid++;
  }
  if (nvalid == 0) return OC_OK;

  /* The transaction; a statement that fails permanently fails its record and the
   * transaction is redone without it (at most once per record). */
  for (;;) {
    size_t bad = n;
    memset(&t, 0, sizeof(t));
    err = oc_fwd_apply_all(pg, a, gs, n, &t, &bad, errstr, sizeof(errstr));
    if (err == OC_OK) break;
    oc_pg_rollback(pg);
    if (oc_err_is_transient(err)) {
      /* Retried with backoff for as long as the outage lasts: one line per 10 s. */
      int64_t now = oc_monotonic_us();
      if (!f->apply_log_us || now - f->apply_log_us >= OC_FWD_LOG_EVERY_US) {
        f->apply_log_us = now;
        oc_log_kv(OC_LOG_WARN, "could not apply the batch; it will be retried", "error_class",
                  oc_err_name(err), "error", errstr, NULL);
      }
      return err;
    }
    if (bad >= n) {
      oc_log_kv(OC_LOG_ERROR, "could not commit the batch", "error_class", oc_err_name(err),
                "error", errstr, NULL);
      return err;
    }
    oc_log_kv(OC_LOG_WARN, "match group rejected by Postgres", "match", gs[bad]->id, "rule",
              gs[bad]->rule_id, "error", errstr, NULL);
    oc_msg_fail(&msgs[bad], err, "could not store match group \"%s\": %s", gs[bad]->id, errstr);
    gs[bad] = NULL;
    if (--nvalid == 0) return OC_OK;
  }

  oc_fwd_count(oc_svc_metrics(svc), &t);
  for (const oc_fwd_created_t *c = t.created; c; c = c->next) {
    char events[24];
    snprintf(events, sizeof(events), "%" PRIu64, c->event_count);
    oc_log_kv(OC_LOG_INFO, "alert created", "alert", c->alert_id, "rule", c->g->rule_id,
              "dedup_key", c->dedup_key, "events", events, NULL);
  }
  if (t.created_n) (void)oc_fwd_relay(svc, f); /* else the tick relays anything left */
  return OC_OK;
}

/* Forgets processed match ids older than the retention, a bounded number per run, so
 * the inbox does not grow forever. Failures are left for the next run. */
static void oc_fwd_prune(oc_svc_t *svc, oc_fwd_t *f) {
  char errstr[512], hours[24];
  const char *params[1] = {hours};
  oc_pg_t *pg = oc_svc_pg(svc);
  int64_t now = oc_monotonic_us();
  long long total = 0;
  if (f->retention_h <= 0 || !pg) return;
  if (f->pruned_us && now - f->pruned_us < OC_FWD_PRUNE_EVERY_US) return;
  f->pruned_us = now;
  snprintf(hours, sizeof(hours), "%lld", f->retention_h);
  for (int round = 0; round < OC_FWD_PRUNE_ROUNDS; round++) {
    PGresult *res = NULL;
    char sql[320];
    long long n;
    snprintf(sql, sizeof(sql),
             "DELETE FROM processed_matches WHERE ctid IN (SELECT ctid FROM processed_matches"
             " WHERE processed_at < now() - make_interval(hours => $1::integer) LIMIT %d)",
             OC_FWD_PRUNE_ROWS);
    if (oc_pg_exec(pg, &res, sql, 1, params, errstr, sizeof(errstr)) != OC_OK) {
      oc_log_kv(OC_LOG_WARN, "could not prune the inbox", "error", errstr, NULL);
      break;
    }
    n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    total += n;
    if (n < OC_FWD_PRUNE_ROWS) break;
  }
  if (total > 0) {
    char rows[24];
    snprintf(rows, sizeof(rows), "%lld", total);
    oc_log_kv(OC_LOG_INFO, "pruned processed match ids past the retention", "rows", rows,
              "retention_hours", hours, NULL);
  }
}

static oc_err_t oc_fwd_tick(oc_svc_t *svc, void *opaque) {
  oc_err_t err = oc_fwd_relay(svc, opaque);
  if (err == OC_OK) oc_fwd_prune(svc, opaque);
  return err;
}

static oc_err_t oc_fwd_init(oc_svc_t *svc, void **opaque, char *errstr, size_t errstr_size) {
  oc_metrics_t *m = oc_svc_metrics(svc);
  oc_fwd_t *f = calloc(1, sizeof(*f));
  if (!f) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  oc_buf_init(&f->scratch);
  f->retention_h = oc_config_int(oc_svc_config(svc), "OCELOT_INBOX_RETENTION_HOURS");
  oc_metrics_declare(m, "ocelot_matches_total", OC_METRIC_COUNTER,
                     "rule match groups by outcome: new (created an alert), duplicate (seen "
                     "before), held (below the threshold), added (to an existing alert)",
                     NULL, 0);
  oc_metrics_declare(m, "ocelot_alerts_created_total", OC_METRIC_COUNTER, "alerts created", NULL,
                     0);
  oc_metrics_declare(m, "ocelot_outbox_published_total", OC_METRIC_COUNTER,
                     "outbox rows published to Kafka and removed", NULL, 0);
  static const char *const results[] = {"new", "duplicate", "held", "added"};
  for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
    char labels[32];
    snprintf(labels, sizeof(labels), "result=\"%s\"", results[i]);
    oc_metrics_inc(m, "ocelot_matches_total", labels, 0);
  }
  oc_metrics_inc(m, "ocelot_alerts_created_total", "", 0);
  oc_metrics_inc(m, "ocelot_outbox_published_total", "", 0);
  *opaque = f;
  return OC_OK;
}

static void oc_fwd_destroy(oc_svc_t *svc, void *opaque) {
  oc_fwd_t *f = opaque;
  (void)svc;
  if (!f) return;
  oc_buf_deinit(&f->scratch);
  free(f);
}

static const char *const oc_fwd_topics[] = {OC_TOPIC_MATCHES};

const oc_handler_t oc_forwarder_handler = {
    .name = "alert-forwarder",
    .topics = oc_fwd_topics,
    .ntopics = 1,
    .cfgdefs = oc_forwarder_cfgdefs,
    .ncfgdefs = sizeof(oc_forwarder_cfgdefs) / sizeof(oc_forwarder_cfgdefs[0]),
    .needs_pg = true,
    .needs_redis = false,
    .init = oc_fwd_init,
    .handle_batch = oc_fwd_handle,
    .tick = oc_fwd_tick,
    .tick_ms = OC_FWD_TICK_MS,
    .destroy = oc_fwd_destroy,
};
