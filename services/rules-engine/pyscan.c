/* pyscan.c: a Panther pack's Python rules over lake files, for the live engine
 * (pyscan.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pyscan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/json.h"
#include "common/reader.h"
#include "common/timeutil.h"
#include "services/rules-engine/pyevent.h"
#include "services/rules-engine/pyhost.h"

typedef struct {
  const char *log_type;
  const oc_pyrule_t **rules;
  size_t n;
  PyObject *dm; /* borrowed from prs */
} oc_pyscan_type_t;

struct oc_pyscan_rules {
  oc_pack_t *pack;
  oc_pyrules_t *prs;
  oc_det_ctx_t *ctx;
  oc_pyscan_type_t *types;
  size_t ntypes;
  char (*versions)[33]; /* per prs->rules[i] */
  size_t nrunning;
  int budget_ms;
};

/* ---- loading ----------------------------------------------------------------------- */

static void oc_pyscan_hash_file(const char *path, oc_buf_t *out) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  char buf[8192];
  size_t n;
  if (!f) return;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && out->len < 2 * OC_PACK_MAX_FILE)
    oc_buf_append(out, buf, n);
  fclose(f);
}

static oc_pyscan_type_t *oc_pyscan_type_get(oc_pyscan_rules_t *psr, const char *lt) {
  for (size_t i = 0; i < psr->ntypes; i++)
    if (strcmp(psr->types[i].log_type, lt) == 0) return &psr->types[i];
  return NULL;
}

oc_pyscan_rules_t *oc_pyscan_rules_load(const char *dir, int budget_ms, char *errstr,
                                        size_t errstr_size) {
  oc_pyscan_rules_t *psr = calloc(1, sizeof(*psr));
  oc_buf_t text;
  oc_buf_init(&text);
  if (!psr || !(psr->pack = oc_pack_new())) goto nomem;
  psr->budget_ms = budget_ms;
  if (!oc_pack_load_dir(psr->pack, dir, errstr, errstr_size)) goto fail;
  if (!oc_pyhost_init(errstr, errstr_size)) goto fail;
  psr->prs = oc_pyrules_load(psr->pack, errstr, errstr_size);
  if (!psr->prs) goto fail;
  psr->ctx = oc_det_ctx_new(psr->pack->keys);
  psr->versions = calloc(psr->prs->nrules ? psr->prs->nrules : 1, sizeof(*psr->versions));
  /* at most one type per (rule, log type) */
  size_t cap = 0;
  for (size_t i = 0; i < psr->prs->nrules; i++)
    cap += psr->prs->rules[i].item->log_types.n;
  psr->types = calloc(cap ? cap : 1, sizeof(*psr->types));
  if (!psr->ctx || !psr->versions || !psr->types) goto nomem;

  for (size_t i = 0; i < psr->prs->nrules; i++) {
    const oc_pyrule_t *rule = &psr->prs->rules[i];
    const oc_pack_item_t *it = rule->item;
    oc_buf_reset(&text);
    oc_pyscan_hash_file(it->yml_path, &text);
    oc_buf_putc(&text, '\0');
    oc_pyscan_hash_file(it->py_path, &text);
    const char *parts[1] = {text.data ? text.data : ""};
    size_t lens[1] = {text.len};
    oc_hash_hex128(psr->versions[i], parts, lens, 1);
    if (it->kind != OC_PACK_RULE || !it->enabled) continue;
    psr->nrunning++;
    for (size_t j = 0; j < it->log_types.n; j++) {
      oc_pyscan_type_t *t = oc_pyscan_type_get(psr, it->log_types.v[j]);
      if (!t) {
        t = &psr->types[psr->ntypes++];
        t->log_type = it->log_types.v[j];
        t->dm = oc_pyrules_datamodel(psr->prs, t->log_type, strlen(t->log_type));
        t->rules = calloc(psr->prs->nrules, sizeof(*t->rules));
        if (!t->rules) goto nomem;
      }
      if (t->n && t->rules[t->n - 1] == rule) continue; /* LogTypes listed twice */
      t->rules[t->n++] = rule;
    }
  }
  oc_buf_deinit(&text);
  return psr;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
fail:
  oc_buf_deinit(&text);
  oc_pyscan_rules_destroy(psr);
  return NULL;
}

void oc_pyscan_rules_destroy(oc_pyscan_rules_t *psr) {
  if (!psr) return;
  for (size_t i = 0; i < psr->ntypes; i++)
    free(psr->types[i].rules);
  free(psr->types);
  free(psr->versions);
  oc_det_ctx_destroy(psr->ctx);
  if (psr->prs) oc_pyrules_destroy(psr->prs);
  oc_pack_destroy(psr->pack);
  free(psr);
}

const oc_pack_t *oc_pyscan_rules_pack(const oc_pyscan_rules_t *psr) {
  return psr->pack;
}

size_t oc_pyscan_rules_count(const oc_pyscan_rules_t *psr) {
  return psr->nrunning;
}

bool oc_pyscan_rules_has_type(const oc_pyscan_rules_t *psr, const char *log_type, size_t len) {
  for (size_t i = 0; i < psr->ntypes; i++)
    if (strlen(psr->types[i].log_type) == len && memcmp(psr->types[i].log_type, log_type, len) == 0)
      return true;
  return false;
}

const char *oc_pyscan_rule_version(const oc_pyscan_rules_t *psr, const oc_pyrule_t *rule) {
  size_t i = (size_t)(rule - psr->prs->rules);
  return i < psr->prs->nrules ? psr->versions[i] : "";
}

/* ---- scanning ---------------------------------------------------------------------- */

void oc_pyscan_init(oc_pyscan_t *ps) {
  memset(ps, 0, sizeof(*ps));
  oc_arena_init(&ps->ev, 256 * 1024);
  oc_arena_init(&ps->keep, 256 * 1024);
  oc_pyresult_init(&ps->res);
}

void oc_pyscan_deinit(oc_pyscan_t *ps) {
  free(ps->groups);
  oc_arena_deinit(&ps->ev);
  oc_arena_deinit(&ps->keep);
  oc_pyresult_deinit(&ps->res);
  memset(ps, 0, sizeof(*ps));
}

static char *oc_keep(oc_pyscan_t *ps, const oc_buf_t *b) {
  return oc_arena_strndup(&ps->keep, b->data ? b->data : "", b->len);
}

/* Groups are few per file; a linear scan over hashes keeps this simple. */
static oc_pymatch_group_t *oc_pyscan_group(oc_pyscan_t *ps, const oc_pyscan_rules_t *psr,
                                           const oc_pyrule_t *rule, const char *log_type,
                                           const oc_pyresult_t *res, int64_t ev_us, bool *nomem) {
  const char *parts[3] = {rule->item->id, res->error ? "e" : "m",
                          res->dedup.data ? res->dedup.data : ""};
  size_t lens[3] = {strlen(rule->item->id), 1, res->dedup.len};
  char hex[33];
  oc_hash_hex128(hex, parts, lens, 3);
  uint64_t h = strtoull(hex + 16, NULL, 16);
  *nomem = false;
  for (size_t i = 0; i < ps->ngroups; i++) {
    oc_pymatch_group_t *g = ps->groups[i];
    if (g->hash == h && g->rule == rule && g->is_error == res->error &&
        g->dedup_len == res->dedup.len && memcmp(g->dedup, res->dedup.data, g->dedup_len) == 0)
      return g;
  }
  if (ps->ngroups >= OC_PYSCAN_MAX_GROUPS) return NULL;
  if (ps->ngroups == ps->groups_cap) {
    size_t cap = ps->groups_cap ? ps->groups_cap * 2 : 64;
    oc_pymatch_group_t **v = realloc(ps->groups, cap * sizeof(*v));
    if (!v) goto nomem;
    ps->groups = v;
    ps->groups_cap = cap;
  }
  oc_pymatch_group_t *g = oc_arena_alloc(&ps->keep, sizeof(*g));
  if (!g) goto nomem;
  memset(g, 0, sizeof(*g));
  g->rule = rule;
  g->version = oc_pyscan_rule_version(psr, rule);
  g->log_type = oc_arena_strdup(&ps->keep, log_type);
  g->is_error = res->error;
  g->hash = h;
  g->dedup = oc_keep(ps, &res->dedup);
  g->dedup_len = res->dedup.len;
  g->title = oc_keep(ps, &res->title);
  g->severity = oc_keep(ps, &res->severity);
  g->alert_context = oc_keep(ps, &res->alert_context);
  g->description = oc_keep(ps, &res->description);
  g->reference = oc_keep(ps, &res->reference);
  g->runbook = oc_keep(ps, &res->runbook);
  g->first_us = g->last_us = ev_us;
  if (!g->log_type || !g->dedup || !g->title || !g->severity || !g->alert_context ||
      !g->description || !g->reference || !g->runbook)
    goto nomem;
  if (!res->error && res->destinations_set) {
    g->skip_delivery = res->ndestinations == 0;
    g->destinations = oc_arena_alloc(&ps->keep, (res->ndestinations + 1) * sizeof(char *));
    if (!g->destinations) goto nomem;
    const char *d = res->destinations.data;
    for (size_t i = 0; i < res->ndestinations; i++) {
      size_t n = strlen(d);
      g->destinations[i] = oc_arena_strndup(&ps->keep, d, n);
      if (!g->destinations[i]) goto nomem;
      d += n + 1;
    }
    g->ndestinations = res->ndestinations;
  }
  ps->groups[ps->ngroups++] = g;
  return g;
nomem:
  *nomem = true;
  return NULL;
}

oc_err_t oc_pyscan_file(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, const char *path,
                        const char *default_log_type, int64_t default_time_us, size_t max_line,
                        char *errstr, size_t errstr_size) {
  char why[512];
  oc_err_t err = OC_OK;
  size_t since_reset = 0;
  const char *def_lt = default_log_type && *default_log_type ? default_log_type : NULL;
  char ltbuf[256];

  ps->ngroups = 0;
  ps->events = ps->matches = ps->errors = ps->timeouts = ps->dropped_groups = 0;
  oc_arena_reset(&ps->ev);
  oc_arena_reset(&ps->keep);
  if (!psr->ntypes) return OC_OK;
  oc_reader_t *r = oc_reader_open(path, max_line ? max_line : 4 * 1024 * 1024, why, sizeof(why));
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
    if (rerr == OC_ERR_LIMIT) continue;
    if (rerr != OC_OK) {
      snprintf(errstr, errstr_size, "could not read lake file \"%s\": %s", path,
               oc_reader_error(r) ? oc_reader_error(r) : oc_err_str(rerr));
      err = rerr == OC_ERR_DECODE ? OC_ERR_DECODE : OC_ERR_IO;
      goto out;
    }
    if (++since_reset >= OC_PYSCAN_ARENA_LINES) {
      oc_arena_reset(&ps->ev);
      since_reset = 0;
    }
    oc_json_t *root =
        oc_json_parse(&ps->ev, line, len, OC_JSON_DEFAULT_MAX_DEPTH, why, sizeof(why));
    if (!root || root->type != OC_JSON_OBJECT) continue;
    const oc_json_t *lt = oc_json_getn(root, "p_log_type", 10);
    const char *lts = def_lt;
    if (lt && lt->type == OC_JSON_STRING && lt->len && lt->len < sizeof(ltbuf)) {
      memcpy(ltbuf, lt->s, lt->len);
      ltbuf[lt->len] = '\0';
      lts = ltbuf;
    }
    if (!lts) continue;
    oc_pyscan_type_t *t = oc_pyscan_type_get(psr, lts);
    if (!t) continue;
    ps->events++;

    int64_t ev_us;
    const oc_json_t *et = oc_json_getn(root, "p_event_time", 12);
    if (!et || et->type != OC_JSON_STRING || !oc_time_parse_rfc3339(et->s, et->len, &ev_us))
      ev_us = default_time_us;
    PyObject *ev = oc_pyevent_new(root, t->dm);
    if (!ev) {
      PyErr_Clear();
      snprintf(errstr, errstr_size, "out of memory");
      err = OC_ERR_NOMEM;
      goto out;
    }
    oc_det_ctx_set_event(psr->ctx, root);
    for (size_t i = 0; i < t->n; i++) {
      const oc_pyrule_t *rule = t->rules[i];
      if (rule->item->inline_filters && !oc_det_eval(psr->ctx, rule->item->inline_filters))
        continue;
      oc_pyrule_eval(rule, ev, psr->budget_ms, &ps->res);
      if (!ps->res.matched && !ps->res.error) continue;
      if (ps->res.error) {
        ps->errors++;
        if (ps->res.exc.timeout) ps->timeouts++;
      } else {
        ps->matches++;
      }
      bool nomem;
      oc_pymatch_group_t *g = oc_pyscan_group(ps, psr, rule, lts, &ps->res, ev_us, &nomem);
      if (nomem) {
        oc_pyevent_release(ev);
        snprintf(errstr, errstr_size, "out of memory");
        err = OC_ERR_NOMEM;
        goto out;
      }
      if (!g) {
        ps->dropped_groups++;
        continue;
      }
      g->count++;
      if (ev_us < g->first_us) g->first_us = ev_us;
      if (ev_us > g->last_us) g->last_us = ev_us;
      if (g->nsamples < OC_PYSCAN_MAX_SAMPLES &&
          g->sample_bytes + len <= OC_PYSCAN_SAMPLE_GROUP_BYTES) {
        char *copy = oc_arena_strndup(&ps->keep, line, len);
        if (copy) {
          g->samples[g->nsamples++] = copy;
          g->sample_bytes += len;
        }
      }
    }
    oc_pyevent_release(ev);
  }
out:
  oc_reader_destroy(r);
  return err;
}
