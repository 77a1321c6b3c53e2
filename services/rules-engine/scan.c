/* scan.c: one lake file through the rule set, matches grouped per (rule, dedup) (scan.h). */
#include "services/rules-engine/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/json.h"
#include "common/reader.h"
#include "common/timeutil.h"

void oc_scan_init(oc_scan_t *scan) {
  memset(scan, 0, sizeof(*scan));
  oc_arena_init(&scan->ev, 256 * 1024);
  oc_arena_init(&scan->keep, 256 * 1024);
  oc_buf_init(&scan->title);
  oc_buf_init(&scan->dedup);
  oc_buf_init(&scan->line);
  oc_buf_init(&scan->context);
}

static void oc_scan_abort_writers(oc_scan_t *scan) {
  for (size_t i = 0; i < scan->ntypes; i++) {
    oc_lake_writer_abort(scan->types[i].writer);
    scan->types[i].writer = NULL;
  }
}

void oc_scan_reset(oc_scan_t *scan) {
  oc_scan_abort_writers(scan);
  scan->ngroups = 0;
  scan->ntypes = 0;
  scan->noutputs = 0;
  scan->lines = scan->events = scan->matches = scan->other_events = 0;
  scan->bad_json = scan->not_object = scan->too_long = scan->no_log_type = scan->no_time = 0;
  scan->first_error[0] = '\0';
  scan->sample_bytes = 0;
  if (scan->table) memset(scan->table, 0, scan->table_cap * sizeof(*scan->table));
  oc_arena_reset(&scan->ev);
  oc_arena_reset(&scan->keep);
}

void oc_scan_deinit(oc_scan_t *scan) {
  oc_scan_abort_writers(scan);
  free(scan->groups);
  free(scan->types);
  free(scan->outputs);
  free(scan->table);
  oc_arena_deinit(&scan->ev);
  oc_arena_deinit(&scan->keep);
  oc_buf_deinit(&scan->title);
  oc_buf_deinit(&scan->dedup);
  oc_buf_deinit(&scan->line);
  oc_buf_deinit(&scan->context);
  memset(scan, 0, sizeof(*scan));
}

void oc_scan_output_name(const char *input_key, char *out, size_t out_size) {
  static const char *const exts[] = {".json.zst", ".json.gz", ".jsonl.zst", ".jsonl.gz",
                                     ".json",     ".jsonl",   ".zst",       ".gz"};
  const char *base = strrchr(input_key, '/');
  base = base ? base + 1 : input_key;
  size_t n = strlen(base);
  for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
    size_t e = strlen(exts[i]);
    if (n > e && strcmp(base + n - e, exts[i]) == 0) {
      n -= e;
      break;
    }
  }
  if (n > 200) n = 200;
  if (n == 0 || out_size < 34) {
    char hex[33];
    oc_hash_hex128_strs(hex, input_key, (const char *)NULL);
    snprintf(out, out_size, "%s", hex);
    return;
  }
  if (n >= out_size) n = out_size - 1;
  for (size_t i = 0; i < n; i++) {
    char c = base[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '=';
    out[i] = ok ? c : '_';
  }
  out[n] = '\0';
  if (out[0] == '.') out[0] = '_'; /* never a hidden file, never "." or ".." */
}

/* ---- groups ------------------------------------------------------------------------ */

static uint64_t oc_scan_group_hash(const oc_rule_t *rule, const char *dedup, size_t len) {
  uint64_t h = oc_hash64(dedup, len);
  return h ^ ((uint64_t)(uintptr_t)rule * 0x9e3779b97f4a7c15ULL);
}

static bool oc_scan_table_grow(oc_scan_t *scan) {
  size_t cap = scan->table_cap ? scan->table_cap * 2 : 1024;
  oc_match_group_t **table = calloc(cap, sizeof(*table));
  if (!table) return false;
  for (size_t i = 0; i < scan->ngroups; i++) {
    size_t j = scan->groups[i]->hash & (cap - 1);
    while (table[j])
      j = (j + 1) & (cap - 1);
    table[j] = scan->groups[i];
  }
  free(scan->table);
  scan->table = table;
  scan->table_cap = cap;
  return true;
}

/* The group of (rule, dedup), or NULL with *slot set where a new one goes. */
static oc_match_group_t *oc_scan_group_find(oc_scan_t *scan, const oc_rule_t *rule,
                                            const char *dedup, size_t len, uint64_t h,
                                            size_t *slot) {
  size_t mask = scan->table_cap - 1, j = h & mask;
  for (;;) {
    oc_match_group_t *g = scan->table[j];
    if (!g) {
      *slot = j;
      return NULL;
    }
    if (g->hash == h && g->rule == rule && g->dedup_len == len && memcmp(g->dedup, dedup, len) == 0)
      return g;
    j = (j + 1) & mask;
  }
}

static oc_match_group_t *oc_scan_group_new(oc_scan_t *scan, const oc_rule_t *rule,
                                           const char *log_type, const char *dedup, size_t len,
                                           uint64_t h) {
  size_t slot = 0;
  if ((scan->ngroups + 1) * 2 > scan->table_cap && !oc_scan_table_grow(scan)) return NULL;
  if (scan->ngroups == scan->cap_groups) {
    size_t cap = scan->cap_groups ? scan->cap_groups * 2 : 256;
    oc_match_group_t **groups = realloc(scan->groups, cap * sizeof(*groups));
    if (!groups) return NULL;
    scan->groups = groups;
    scan->cap_groups = cap;
  }
  oc_match_group_t *g = oc_arena_alloc(&scan->keep, sizeof(*g));
  if (!g) return NULL;
  memset(g, 0, sizeof(*g));
  g->dedup = oc_arena_strndup(&scan->keep, dedup, len);
  if (!g->dedup) return NULL;
  g->rule = rule;
  g->log_type = log_type;
  g->dedup_len = len;
  g->hash = h;
  oc_scan_group_find(scan, rule, dedup, len, h, &slot);
  scan->table[slot] = g;
  scan->groups[scan->ngroups++] = g;
  return g;
}

/* ---- log types --------------------------------------------------------------------- */

static oc_scan_type_t *oc_scan_type_find(oc_scan_t *scan, const char *lt, size_t len) {
  for (size_t i = 0; i < scan->ntypes; i++)
    if (strlen(scan->types[i].log_type) == len && memcmp(scan->types[i].log_type, lt, len) == 0)
      return &scan->types[i];
  return NULL;
}

static oc_scan_type_t *oc_scan_type_add(oc_scan_t *scan, const char *lt, size_t len) {
  if (scan->ntypes == scan->cap_types) {
    size_t cap = scan->cap_types ? scan->cap_types * 2 : 4;
    oc_scan_type_t *types = realloc(scan->types, cap * sizeof(*types));
    if (!types) return NULL;
    scan->types = types;
    scan->cap_types = cap;
  }
  oc_scan_type_t *t = &scan->types[scan->ntypes];
  memset(t, 0, sizeof(*t));
  t->log_type = oc_arena_strndup(&scan->keep, lt, len);
  if (!t->log_type) return NULL;
  scan->ntypes++;
  return t;
}

/* ---- the rules/ output ------------------------------------------------------------- */

static void oc_scan_put_field(oc_buf_t *b, const char *name, const char *v, size_t len) {
  oc_buf_putc(b, ',');
  oc_json_write_string(b, name, strlen(name));
  oc_buf_putc(b, ':');
  oc_json_write_string(b, v, len);
}

static oc_err_t oc_scan_write_match(oc_scan_t *scan, const oc_scan_opts_t *opts, oc_scan_type_t *t,
                                    const oc_rule_t *rule, const char *severity, const char *line,
                                    size_t len, const oc_json_t *root, int64_t ev_us, char *errstr,
                                    size_t errstr_size) {
  if (!t->writer) {
    char table[256], name[256];
    oc_lake_table_name(t->log_type, table, sizeof(table));
    oc_scan_output_name(opts->input_key ? opts->input_key : "", name, sizeof(name));
    t->writer = oc_lake_writer_open(opts->lake_root, "rules", table, ev_us, name,
                                    opts->zstd_level ? opts->zstd_level : 3, errstr, errstr_size);
    if (!t->writer) return OC_ERR_IO;
    t->first_us = t->last_us = ev_us;
  }
  if (ev_us < t->first_us) t->first_us = ev_us;
  if (ev_us > t->last_us) t->last_us = ev_us;
  /* The event as read, its closing brace replaced by the rule fields. */
  while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
    len--;
  if (!len || line[len - 1] != '}') return OC_OK; /* cannot happen for a parsed object */
  oc_buf_reset(&scan->line);
  oc_buf_append(&scan->line, line, len - 1);
  if (root->child == NULL) {
    /* "{}": no comma before the first field */
    oc_json_write_string(&scan->line, "p_rule_id", 9);
    oc_buf_putc(&scan->line, ':');
    oc_json_write_string(&scan->line, rule->id, strlen(rule->id));
  } else {
    oc_scan_put_field(&scan->line, "p_rule_id", rule->id, strlen(rule->id));
  }
  oc_scan_put_field(&scan->line, "p_rule_version", rule->version, strlen(rule->version));
  oc_scan_put_field(&scan->line, "p_rule_severity", severity, strlen(severity));
  oc_scan_put_field(&scan->line, "p_alert_title", scan->title.data ? scan->title.data : "",
                    scan->title.len);
  oc_scan_put_field(&scan->line, "p_dedup", scan->dedup.data ? scan->dedup.data : "",
                    scan->dedup.len);
  if (rule->ncontext) { /* an object, as Panther writes p_alert_context */
    oc_buf_puts(&scan->line, ",\"p_alert_context\":");
    oc_buf_append(&scan->line, scan->context.data, scan->context.len);
  }
  oc_buf_putc(&scan->line, '}');
  if (!oc_buf_ok(&scan->line)) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  oc_err_t err = oc_lake_writer_append(t->writer, scan->line.data, scan->line.len);
  if (err != OC_OK)
    snprintf(errstr, errstr_size, "could not write rule matches to the lake: %s", oc_err_str(err));
  return err;
}

static oc_err_t oc_scan_commit(oc_scan_t *scan, char *errstr, size_t errstr_size) {
  size_t n = 0;
  for (size_t i = 0; i < scan->ntypes; i++)
    if (scan->types[i].writer) n++;
  if (!n) return OC_OK;
  free(scan->outputs);
  scan->outputs = calloc(n, sizeof(*scan->outputs));
  if (!scan->outputs) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  for (size_t i = 0; i < scan->ntypes; i++) {
    oc_scan_type_t *t = &scan->types[i];
    if (!t->writer) continue;
    oc_scan_output_t *o = &scan->outputs[scan->noutputs];
    o->rows = oc_lake_writer_rows(t->writer);
    o->first_us = t->first_us;
    o->last_us = t->last_us;
    snprintf(o->log_type, sizeof(o->log_type), "%s", t->log_type);
    oc_lake_writer_t *w = t->writer;
    t->writer = NULL;
    oc_err_t err = oc_lake_writer_commit(w, o->key, sizeof(o->key), &o->bytes, errstr, errstr_size);
    if (err != OC_OK) return err;
    scan->noutputs++;
  }
  return OC_OK;
}

/* ---- the scan ---------------------------------------------------------------------- */

static void oc_scan_bad_line(oc_scan_t *scan, uint64_t line_no, const char *why) {
  if (!scan->first_error[0])
    snprintf(scan->first_error, sizeof(scan->first_error), "line %llu: %.200s",
             (unsigned long long)line_no, why);
}

static bool oc_scan_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
  return true;
}

/* One matched event for one rule. */
static oc_err_t oc_scan_match(oc_scan_t *scan, const oc_scan_opts_t *opts, oc_det_ctx_t *ctx,
                              oc_scan_type_t *t, const oc_rule_t *rule, const char *line,
                              size_t len, const oc_json_t *root, int64_t ev_us, char *errstr,
                              size_t errstr_size) {
  bool writing = opts->lake_root != NULL;
  bool title_done = false, extras_done = false;
  const char *severity = rule->severity;
  oc_buf_reset(&scan->title);
  oc_buf_reset(&scan->dedup);
  oc_buf_reset(&scan->context);
  if (writing) { /* every written match carries its own severity and context */
    severity = oc_rule_severity_for(rule, ctx);
    oc_rule_render_context(rule, ctx, &scan->context);
    extras_done = true;
  }
  if (writing || (rule->title && !rule->ngroup_by)) {
    oc_rule_render_title(rule, ctx, &scan->title);
    title_done = true;
  }
  oc_rule_render_dedup(rule, ctx, scan->title.data ? scan->title.data : "", scan->title.len,
                       &scan->dedup);
  if (!oc_buf_ok(&scan->title) || !oc_buf_ok(&scan->dedup)) goto nomem;
  const char *dedup = scan->dedup.data ? scan->dedup.data : "";
  uint64_t h = oc_scan_group_hash(rule, dedup, scan->dedup.len);
  size_t slot;
  oc_match_group_t *g =
      scan->table_cap ? oc_scan_group_find(scan, rule, dedup, scan->dedup.len, h, &slot) : NULL;
  if (!g) {
    g = oc_scan_group_new(scan, rule, t->log_type, dedup, scan->dedup.len, h);
    if (!g) goto nomem;
    if (!title_done) oc_rule_render_title(rule, ctx, &scan->title);
    if (!oc_buf_ok(&scan->title)) goto nomem;
    g->title =
        oc_arena_strndup(&scan->keep, scan->title.data ? scan->title.data : "", scan->title.len);
    if (!g->title) goto nomem;
    /* The group's severity and context are its first match's. */
    if (!extras_done) {
      severity = oc_rule_severity_for(rule, ctx);
      oc_rule_render_context(rule, ctx, &scan->context);
    }
    if (!oc_buf_ok(&scan->context)) goto nomem;
    g->severity = severity;
    g->alert_context = oc_arena_strndup(&scan->keep, scan->context.data ? scan->context.data : "",
                                        scan->context.len);
    if (!g->alert_context) goto nomem;
    g->first_us = g->last_us = ev_us;
  }
  g->count++;
  if (ev_us < g->first_us) g->first_us = ev_us;
  if (ev_us > g->last_us) g->last_us = ev_us;
  if (g->nsamples < OC_SCAN_MAX_SAMPLES && g->sample_bytes + len <= OC_SCAN_SAMPLE_GROUP_BYTES &&
      scan->sample_bytes + len <= OC_SCAN_SAMPLE_FILE_BYTES) {
    char *copy = oc_arena_strndup(&scan->keep, line, len);
    if (!copy) goto nomem;
    g->samples[g->nsamples] = copy;
    g->sample_lens[g->nsamples] = len;
    g->nsamples++;
    g->sample_bytes += len;
    scan->sample_bytes += len;
  }
  scan->matches++;
  t->matches++;
  if (writing)
    return oc_scan_write_match(scan, opts, t, rule, severity, line, len, root, ev_us, errstr,
                               errstr_size);
  return OC_OK;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return OC_ERR_NOMEM;
}

oc_err_t oc_scan_file(oc_scan_t *scan, oc_ruleset_t *rs, const char *path,
                      const oc_scan_opts_t *opts, char *errstr, size_t errstr_size) {
  char why[512];
  oc_err_t err = OC_OK;
  oc_det_ctx_t *ctx = oc_ruleset_ctx(rs);
  oc_scan_type_t *cur_type = NULL;
  const oc_ruleset_type_t *rtype = NULL;
  size_t since_reset = 0;
  const char *def_lt =
      opts->default_log_type && *opts->default_log_type ? opts->default_log_type : NULL;

  oc_scan_reset(scan);
  if (!ctx) {
    snprintf(errstr, errstr_size, "rule set is not finished");
    return OC_ERR_INTERNAL;
  }
  oc_reader_t *r =
      oc_reader_open(path, opts->max_line ? opts->max_line : 4 * 1024 * 1024, why, sizeof(why));
  if (!r) {
    bool missing = errno == ENOENT;
    snprintf(errstr, errstr_size, "%s", why);
    return missing ? OC_ERR_NOT_FOUND : OC_ERR_IO;
  }
  for (;;) {
    const char *line;
    size_t len;
    oc_err_t rerr = oc_reader_next_line(r, &line, &len);
    if (rerr == OC_ERR_EOF) break;
    if (rerr == OC_ERR_LIMIT) {
      scan->lines++;
      scan->too_long++;
      oc_scan_bad_line(scan, oc_reader_line_no(r), "line too long");
      continue;
    }
    if (rerr != OC_OK) {
      snprintf(errstr, errstr_size, "could not read lake file \"%s\": %s", path,
               oc_reader_error(r) ? oc_reader_error(r) : oc_err_str(rerr));
      err = rerr == OC_ERR_DECODE ? OC_ERR_DECODE : OC_ERR_IO;
      goto out;
    }
    scan->lines++;
    if (oc_scan_blank(line, len)) continue;
    if (++since_reset >= OC_SCAN_ARENA_LINES) {
      oc_arena_reset(&scan->ev);
      since_reset = 0;
    }
    oc_json_t *root =
        oc_json_parse(&scan->ev, line, len, OC_JSON_DEFAULT_MAX_DEPTH, why, sizeof(why));
    if (!root) {
      scan->bad_json++;
      oc_scan_bad_line(scan, oc_reader_line_no(r), why);
      continue;
    }
    if (root->type != OC_JSON_OBJECT) {
      scan->not_object++;
      oc_scan_bad_line(scan, oc_reader_line_no(r), "not a JSON object");
      continue;
    }

    /* Log type: the event's p_log_type, else the file's. */
    const oc_json_t *lt = oc_json_getn(root, "p_log_type", 10);
    const char *lts = NULL;
    size_t ltn = 0;
    if (lt && lt->type == OC_JSON_STRING && lt->len) {
      lts = lt->s;
      ltn = lt->len;
    } else if (def_lt) {
      lts = def_lt;
      ltn = strlen(def_lt);
    } else {
      scan->no_log_type++;
      oc_scan_bad_line(scan, oc_reader_line_no(r), "no p_log_type");
      continue;
    }
    if (!cur_type || strlen(cur_type->log_type) != ltn || memcmp(cur_type->log_type, lts, ltn)) {
      rtype = oc_ruleset_type(rs, lts, ltn);
      cur_type = oc_scan_type_find(scan, lts, ltn);
      if (!cur_type && !rtype && scan->ntypes >= OC_SCAN_MAX_TYPES) {
        /* A file naming ever more log types without rules: counted, not tracked. */
        scan->events++;
        scan->other_events++;
        continue;
      }
      if (!cur_type) cur_type = oc_scan_type_add(scan, lts, ltn);
      if (!cur_type) {
        snprintf(errstr, errstr_size, "out of memory");
        err = OC_ERR_NOMEM;
        goto out;
      }
    }
    scan->events++;
    cur_type->events++;
    if (!rtype) continue;

    oc_det_ctx_set_event(ctx, root);
    int64_t ev_us = 0;
    bool have_time = false;
    const oc_rule_span_t *spans;
    size_t nspans = oc_ruleset_candidates(rs, rtype, ctx, &spans);
    for (size_t s = 0; s < nspans; s++) {
      for (size_t i = 0; i < spans[s].n; i++) {
        const oc_rule_t *rule = spans[s].rules[i];
        if (!oc_rule_matches(rule, ctx)) continue;
        if (!have_time) {
          const oc_json_t *et = oc_json_getn(root, "p_event_time", 12);
          if (!et || et->type != OC_JSON_STRING || !oc_time_parse_rfc3339(et->s, et->len, &ev_us)) {
            ev_us = opts->default_time_us;
            scan->no_time++;
          }
          have_time = true;
        }
        err = oc_scan_match(scan, opts, ctx, cur_type, rule, line, len, root, ev_us, errstr,
                            errstr_size);
        if (err != OC_OK) goto out;
      }
    }
  }
  if (opts->lake_root) err = oc_scan_commit(scan, errstr, errstr_size);
out:
  if (err != OC_OK) oc_scan_abort_writers(scan);
  oc_reader_destroy(r);
  return err;
}
