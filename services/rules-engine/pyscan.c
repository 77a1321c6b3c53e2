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
#include "services/rules-engine/pyworker.h"

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
  oc_pyscan_opts_t opts;
  oc_pyworker_t *worker; /* isolated mode */
  /* the worker child's own state (never used in the parent) */
  bool wready;
  oc_arena_t warena;
  oc_pyresult_t wres;
};

struct oc_pyscan_pending {
  size_t off, len; /* the line in ps->chunk */
  uint16_t type;   /* index in psr->types */
  int64_t ev_us;
  uint64_t line_no;
};

static bool oc_pyscan_serve(void *opaque, const char *req, size_t len, oc_buf_t *reply);

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
  oc_pyscan_opts_t opts = {budget_ms, OC_PYSCAN_DEFAULT_MEMORY_MB, true, 0};
  return oc_pyscan_rules_load_opts(dir, &opts, errstr, errstr_size);
}

oc_pyscan_rules_t *oc_pyscan_rules_load_opts(const char *dir, const oc_pyscan_opts_t *opts,
                                             char *errstr, size_t errstr_size) {
  oc_pyscan_rules_t *psr = calloc(1, sizeof(*psr));
  oc_buf_t text;
  oc_buf_init(&text);
  if (!psr || !(psr->pack = oc_pack_new())) goto nomem;
  psr->opts = *opts;
  if (psr->opts.memory_mb > SIZE_MAX / (1024 * 1024) / 2)
    psr->opts.memory_mb = SIZE_MAX / (1024 * 1024) / 2;
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
  if (psr->ntypes > UINT16_MAX) {
    snprintf(errstr, errstr_size, "the pack has more than %d log types", UINT16_MAX);
    goto fail;
  }
  oc_pyhost_set_memory_cap(psr->opts.memory_mb * 1024 * 1024);
  if (psr->opts.isolate) {
    /* rule code gets budget_ms per call; a worker silent for much longer is stuck in C */
    int hang_ms = psr->opts.budget_ms > 0 ? 2 * psr->opts.budget_ms + 5000 : 0;
    if (psr->opts.hang_ms > 0) hang_ms = psr->opts.hang_ms;
    char why[256];
    psr->worker = oc_pyworker_new(oc_pyscan_serve, psr, hang_ms, errstr, errstr_size);
    if (!psr->worker) goto fail;
    if (oc_pyworker_start(psr->worker, why, sizeof(why)) != OC_OK) {
      snprintf(errstr, errstr_size, "%s", why);
      goto fail;
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
  oc_pyworker_destroy(psr->worker);
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

int oc_pyscan_rules_worker_pid(const oc_pyscan_rules_t *psr) {
  return oc_pyworker_pid(psr->worker);
}

unsigned long oc_pyscan_rules_worker_restarts(const oc_pyscan_rules_t *psr) {
  unsigned long n = oc_pyworker_spawns(psr->worker);
  return n ? n - 1 : 0;
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
  oc_buf_init(&ps->chunk);
  oc_buf_init(&ps->req);
  oc_buf_init(&ps->reply);
}

void oc_pyscan_deinit(oc_pyscan_t *ps) {
  free(ps->groups);
  free(ps->gindex);
  free(ps->pending);
  oc_buf_deinit(&ps->chunk);
  oc_buf_deinit(&ps->req);
  oc_buf_deinit(&ps->reply);
  oc_arena_deinit(&ps->ev);
  oc_arena_deinit(&ps->keep);
  oc_pyresult_deinit(&ps->res);
  memset(ps, 0, sizeof(*ps));
}

static char *oc_keep(oc_pyscan_t *ps, const oc_buf_t *b) {
  return oc_arena_strndup(&ps->keep, b->data ? b->data : "", b->len);
}

/* The group index, grown to keep it at most half full (rehashing every group). */
static bool oc_pyscan_index_grow(oc_pyscan_t *ps) {
  size_t cap = ps->gindex_cap ? ps->gindex_cap * 2 : 256;
  uint32_t *ix = calloc(cap, sizeof(*ix));
  if (!ix) return false;
  for (size_t i = 0; i < ps->ngroups; i++) {
    size_t slot = ps->groups[i]->hash & (cap - 1);
    while (ix[slot])
      slot = (slot + 1) & (cap - 1);
    ix[slot] = (uint32_t)i + 1;
  }
  free(ps->gindex);
  ps->gindex = ix;
  ps->gindex_cap = cap;
  return true;
}

/* A file may hold many distinct dedup strings (one per user, per IP): groups are found
 * through a hash index, not by a scan. */
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
  if ((ps->ngroups + 1) * 2 > ps->gindex_cap && !oc_pyscan_index_grow(ps)) goto nomem;
  size_t slot = h & (ps->gindex_cap - 1);
  for (uint32_t ix; (ix = ps->gindex[slot]) != 0; slot = (slot + 1) & (ps->gindex_cap - 1)) {
    oc_pymatch_group_t *g = ps->groups[ix - 1];
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
  ps->gindex[slot] = (uint32_t)ps->ngroups + 1; /* slot: the empty one the lookup ended on */
  ps->groups[ps->ngroups++] = g;
  return g;
nomem:
  *nomem = true;
  return NULL;
}

/* One match or rule error of rule on the event line[0..len): counters, group, sample. */
static oc_err_t oc_pyscan_record(oc_pyscan_t *ps, const oc_pyscan_rules_t *psr,
                                 const oc_pyrule_t *rule, const char *log_type,
                                 const oc_pyresult_t *res, int64_t ev_us, const char *line,
                                 size_t len, char *errstr, size_t errstr_size) {
  if (res->error) {
    ps->errors++;
    if (res->exc.timeout) ps->timeouts++;
    if (res->exc.memory) ps->memory_errors++;
  } else {
    ps->matches++;
  }
  bool nomem;
  oc_pymatch_group_t *g = oc_pyscan_group(ps, psr, rule, log_type, res, ev_us, &nomem);
  if (nomem) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  if (!g) {
    ps->dropped_groups++;
    return OC_OK;
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
  return OC_OK;
}

typedef bool (*oc_pyscan_hit_fn)(void *ctx, const oc_pyrule_t *rule, const oc_pyresult_t *res);

/* The rules of t on one parsed event; hit() for every match or rule error. 0, -1 when
 * the event object cannot be built (out of memory), -2 when hit() failed. */
static int oc_pyscan_eval_event(oc_pyscan_rules_t *psr, const oc_pyscan_type_t *t,
                                const oc_json_t *root, oc_pyresult_t *res, oc_pyscan_hit_fn hit,
                                void *ctx) {
  PyObject *ev = oc_pyevent_new(root, t->dm);
  if (!ev) {
    PyErr_Clear();
    return -1;
  }
  oc_det_ctx_set_event(psr->ctx, root);
  for (size_t i = 0; i < t->n; i++) {
    const oc_pyrule_t *rule = t->rules[i];
    if (rule->item->inline_filters && !oc_det_eval(psr->ctx, rule->item->inline_filters)) continue;
    oc_pyrule_eval(rule, ev, psr->opts.budget_ms, res);
    oc_pyworker_progress();
    if (!res->matched && !res->error) continue;
    if (!hit(ctx, rule, res)) {
      oc_pyevent_release(ev);
      return -2;
    }
  }
  oc_pyevent_release(ev);
  return 0;
}

/* ---- in-process -------------------------------------------------------------------- */

typedef struct {
  oc_pyscan_t *ps;
  const oc_pyscan_rules_t *psr;
  const char *log_type;
  int64_t ev_us;
  const char *line;
  size_t len;
  char *errstr;
  size_t errstr_size;
  oc_err_t err;
} oc_pyscan_local_t;

static bool oc_pyscan_local_hit(void *ctx, const oc_pyrule_t *rule, const oc_pyresult_t *res) {
  oc_pyscan_local_t *l = ctx;
  l->err = oc_pyscan_record(l->ps, l->psr, rule, l->log_type, res, l->ev_us, l->line, l->len,
                            l->errstr, l->errstr_size);
  return l->err == OC_OK;
}

/* ---- the worker's side ------------------------------------------------------------- */

/* Request: u32 n, then n times (u16 type index, u32 length, the line).
 * Reply: u32 nhits, then per hit u32 event index (in the request), u32 rule index (in
 * prs->rules), u8 flags, u16 ndestinations and 8 strings (u32 length, bytes): title,
 * dedup, severity, alert_context, description, reference, runbook, destinations. */
enum {
  OC_PYHIT_MATCHED = 1,
  OC_PYHIT_ERROR = 2,
  OC_PYHIT_TIMEOUT = 4,
  OC_PYHIT_MEMORY = 8,
  OC_PYHIT_DESTINATIONS = 16
};
#define OC_PYHIT_NSTR 8

static void oc_put_u32(oc_buf_t *b, uint32_t v) {
  oc_buf_append(b, &v, sizeof(v));
}
static void oc_put_u16(oc_buf_t *b, uint16_t v) {
  oc_buf_append(b, &v, sizeof(v));
}

typedef struct {
  const char *p, *end;
} oc_rd_t;

static bool oc_get(oc_rd_t *rd, void *out, size_t n) {
  if ((size_t)(rd->end - rd->p) < n) return false;
  memcpy(out, rd->p, n);
  rd->p += n;
  return true;
}

static bool oc_get_bytes(oc_rd_t *rd, const char **s, uint32_t *len) {
  if (!oc_get(rd, len, sizeof(*len)) || (size_t)(rd->end - rd->p) < *len) return false;
  *s = rd->p;
  rd->p += *len;
  return true;
}

typedef struct {
  const oc_pyscan_rules_t *psr;
  oc_buf_t *reply;
  uint32_t ev, nhits;
} oc_pyscan_wctx_t;

static bool oc_pyscan_worker_hit(void *ctx, const oc_pyrule_t *rule, const oc_pyresult_t *res) {
  oc_pyscan_wctx_t *w = ctx;
  const oc_buf_t *strs[OC_PYHIT_NSTR] = {&res->title,         &res->dedup,       &res->severity,
                                         &res->alert_context, &res->description, &res->reference,
                                         &res->runbook,       &res->destinations};
  uint8_t flags = (res->matched ? OC_PYHIT_MATCHED : 0) | (res->error ? OC_PYHIT_ERROR : 0) |
                  (res->exc.timeout ? OC_PYHIT_TIMEOUT : 0) |
                  (res->exc.memory ? OC_PYHIT_MEMORY : 0) |
                  (res->destinations_set ? OC_PYHIT_DESTINATIONS : 0);
  oc_put_u32(w->reply, w->ev);
  oc_put_u32(w->reply, (uint32_t)(rule - w->psr->prs->rules));
  oc_buf_append(w->reply, &flags, 1);
  oc_put_u16(w->reply, (uint16_t)res->ndestinations);
  for (int i = 0; i < OC_PYHIT_NSTR; i++) {
    oc_put_u32(w->reply, (uint32_t)strs[i]->len);
    if (strs[i]->len) oc_buf_append(w->reply, strs[i]->data, strs[i]->len);
  }
  w->nhits++;
  return oc_buf_ok(w->reply) && w->reply->len < OC_PYWORKER_MAX_FRAME;
}

/* Runs in the worker child. false ends it (the parent sees a death and splits). */
static bool oc_pyscan_serve(void *opaque, const char *req, size_t len, oc_buf_t *reply) {
  oc_pyscan_rules_t *psr = opaque;
  oc_rd_t rd = {req, req + len};
  uint32_t n;
  char why[256];
  if (!psr->wready) {
    oc_arena_init(&psr->warena, 256 * 1024);
    oc_pyresult_init(&psr->wres);
    psr->wready = true;
  }
  if (!oc_get(&rd, &n, sizeof(n))) return false;
  oc_pyscan_wctx_t w = {psr, reply, 0, 0};
  oc_put_u32(reply, 0); /* nhits, patched below */
  for (uint32_t i = 0; i < n; i++) {
    uint16_t type;
    const char *line;
    uint32_t llen;
    if (!oc_get(&rd, &type, sizeof(type)) || !oc_get_bytes(&rd, &line, &llen)) return false;
    if (type >= psr->ntypes) return false;
    if (i % OC_PYSCAN_ARENA_LINES == 0) oc_arena_reset(&psr->warena);
    oc_json_t *root =
        oc_json_parse(&psr->warena, line, llen, OC_JSON_DEFAULT_MAX_DEPTH, why, sizeof(why));
    if (!root || root->type != OC_JSON_OBJECT) continue; /* the parent parsed it: cannot be */
    w.ev = i;
    if (oc_pyscan_eval_event(psr, &psr->types[type], root, &psr->wres, oc_pyscan_worker_hit, &w) !=
        0)
      return false;
  }
  if (!oc_buf_ok(reply)) return false;
  memcpy(reply->data, &w.nhits, sizeof(w.nhits));
  return true;
}

/* ---- the engine's side of the worker ----------------------------------------------- */

static oc_err_t oc_pyscan_apply(oc_pyscan_t *ps, const oc_pyscan_rules_t *psr, size_t lo, size_t hi,
                                char *errstr, size_t errstr_size) {
  oc_rd_t rd = {ps->reply.data, ps->reply.data + ps->reply.len};
  oc_pyresult_t *res = &ps->res;
  oc_buf_t *strs[OC_PYHIT_NSTR] = {&res->title,         &res->dedup,       &res->severity,
                                   &res->alert_context, &res->description, &res->reference,
                                   &res->runbook,       &res->destinations};
  uint32_t nhits;
  if (!oc_get(&rd, &nhits, sizeof(nhits))) goto bad;
  for (uint32_t h = 0; h < nhits; h++) {
    uint32_t ev, ri;
    uint8_t flags;
    uint16_t ndest;
    if (!oc_get(&rd, &ev, sizeof(ev)) || !oc_get(&rd, &ri, sizeof(ri)) || !oc_get(&rd, &flags, 1) ||
        !oc_get(&rd, &ndest, sizeof(ndest)))
      goto bad;
    if (ev >= hi - lo || ri >= psr->prs->nrules) goto bad;
    memset(&res->exc, 0, sizeof(res->exc));
    for (int i = 0; i < OC_PYHIT_NSTR; i++) {
      const char *s;
      uint32_t slen;
      if (!oc_get_bytes(&rd, &s, &slen)) goto bad;
      oc_buf_reset(strs[i]);
      oc_buf_append(strs[i], s, slen);
    }
    res->matched = flags & OC_PYHIT_MATCHED;
    res->error = flags & OC_PYHIT_ERROR;
    res->exc.timeout = flags & OC_PYHIT_TIMEOUT;
    res->exc.memory = flags & OC_PYHIT_MEMORY;
    res->destinations_set = flags & OC_PYHIT_DESTINATIONS;
    res->ndestinations = ndest;
    /* the destinations must be ndest NUL-terminated strings */
    size_t nul = 0;
    for (size_t i = 0; i < res->destinations.len; i++)
      nul += res->destinations.data[i] == '\0';
    if (nul != ndest ||
        (res->destinations.len && res->destinations.data[res->destinations.len - 1]))
      goto bad;
    const struct oc_pyscan_pending *p = &ps->pending[lo + ev];
    oc_err_t err =
        oc_pyscan_record(ps, psr, &psr->prs->rules[ri], psr->types[p->type].log_type, res, p->ev_us,
                         ps->chunk.data + p->off, p->len, errstr, errstr_size);
    if (err != OC_OK) return err;
  }
  return OC_OK;
bad:
  snprintf(errstr, errstr_size, "the python host's reply is malformed");
  return OC_ERR_INTERNAL;
}

static oc_err_t oc_pyscan_poison(oc_pyscan_t *ps, const oc_pyscan_rules_t *psr, size_t i,
                                 const char *why, char *errstr, size_t errstr_size) {
  const struct oc_pyscan_pending *p = &ps->pending[i];
  if (++ps->poison > OC_PYSCAN_MAX_POISON) {
    snprintf(errstr, errstr_size, "the python host crashed on more than %d events of the file: %s",
             OC_PYSCAN_MAX_POISON, why);
    return OC_ERR_INTERNAL;
  }
  if (!ps->poisons) {
    ps->poisons = oc_arena_alloc(&ps->keep, OC_PYSCAN_MAX_POISON * sizeof(*ps->poisons));
    if (!ps->poisons) goto nomem;
  }
  oc_pypoison_t *pp = &ps->poisons[ps->npoisons];
  memset(pp, 0, sizeof(*pp));
  pp->line = oc_arena_strndup(&ps->keep, ps->chunk.data + p->off, p->len);
  if (!pp->line) goto nomem;
  pp->len = p->len;
  pp->log_type = psr->types[p->type].log_type;
  pp->time_us = p->ev_us;
  pp->line_no = p->line_no;
  snprintf(pp->reason, sizeof(pp->reason), "%s", why);
  ps->npoisons++;
  return OC_OK;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return OC_ERR_NOMEM;
}

#define OC_PYSCAN_MAX_DEATHS 1000 /* per file, poison or not */

/* Events pending[lo..hi) through the worker; attempt 0 first try, 1 retried or split,
 * 2 a single event's retry. */
static oc_err_t oc_pyscan_run(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, size_t lo, size_t hi,
                              int attempt, char *errstr, size_t errstr_size) {
  char why[160];
  oc_buf_reset(&ps->req);
  oc_put_u32(&ps->req, (uint32_t)(hi - lo));
  for (size_t i = lo; i < hi; i++) {
    const struct oc_pyscan_pending *p = &ps->pending[i];
    oc_put_u16(&ps->req, p->type);
    oc_put_u32(&ps->req, (uint32_t)p->len);
    oc_buf_append(&ps->req, ps->chunk.data + p->off, p->len);
  }
  if (!oc_buf_ok(&ps->req)) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  oc_err_t err =
      oc_pyworker_call(psr->worker, ps->req.data, ps->req.len, &ps->reply, why, sizeof(why));
  if (err == OC_OK) return oc_pyscan_apply(ps, psr, lo, hi, errstr, errstr_size);
  if (err != OC_ERR_INTERNAL) {
    snprintf(errstr, errstr_size, "%s", why);
    return err;
  }
  if (++ps->host_deaths > OC_PYSCAN_MAX_DEATHS) {
    snprintf(errstr, errstr_size, "the python host died %d times on the file: %s",
             OC_PYSCAN_MAX_DEATHS, why);
    return OC_ERR_INTERNAL;
  }
  if (hi - lo == 1) {
    if (attempt < 2) return oc_pyscan_run(ps, psr, lo, hi, 2, errstr, errstr_size);
    return oc_pyscan_poison(ps, psr, lo, why, errstr, errstr_size);
  }
  if (attempt == 0) return oc_pyscan_run(ps, psr, lo, hi, 1, errstr, errstr_size);
  size_t mid = lo + (hi - lo) / 2;
  err = oc_pyscan_run(ps, psr, lo, mid, 1, errstr, errstr_size);
  if (err != OC_OK) return err;
  return oc_pyscan_run(ps, psr, mid, hi, 1, errstr, errstr_size);
}

static oc_err_t oc_pyscan_flush(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, char *errstr,
                                size_t errstr_size) {
  oc_err_t err = OC_OK;
  if (ps->npending) err = oc_pyscan_run(ps, psr, 0, ps->npending, 0, errstr, errstr_size);
  ps->npending = 0;
  oc_buf_reset(&ps->chunk);
  return err;
}

static oc_err_t oc_pyscan_queue(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, const oc_pyscan_type_t *t,
                                int64_t ev_us, const char *line, size_t len, char *errstr,
                                size_t errstr_size) {
  if (ps->npending == ps->pending_cap) {
    size_t cap = ps->pending_cap ? ps->pending_cap * 2 : OC_PYSCAN_CHUNK_EVENTS;
    struct oc_pyscan_pending *v = realloc(ps->pending, cap * sizeof(*v));
    if (!v) goto nomem;
    ps->pending = v;
    ps->pending_cap = cap;
  }
  struct oc_pyscan_pending *p = &ps->pending[ps->npending];
  p->off = ps->chunk.len;
  p->len = len;
  p->type = (uint16_t)(t - psr->types);
  p->ev_us = ev_us;
  p->line_no = ps->line_no;
  oc_buf_append(&ps->chunk, line, len);
  if (!oc_buf_ok(&ps->chunk)) goto nomem;
  ps->npending++;
  if (ps->npending >= OC_PYSCAN_CHUNK_EVENTS || ps->chunk.len >= OC_PYSCAN_CHUNK_BYTES)
    return oc_pyscan_flush(ps, psr, errstr, errstr_size);
  return OC_OK;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return OC_ERR_NOMEM;
}

/* ---- a file ------------------------------------------------------------------------ */

oc_err_t oc_pyscan_file(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, const char *path,
                        const char *default_log_type, int64_t default_time_us, size_t max_line,
                        char *errstr, size_t errstr_size) {
  char why[512];
  oc_err_t err = OC_OK;
  size_t since_reset = 0;
  const char *def_lt = default_log_type && *default_log_type ? default_log_type : NULL;
  char ltbuf[256];

  ps->ngroups = 0;
  if (ps->gindex) memset(ps->gindex, 0, ps->gindex_cap * sizeof(*ps->gindex));
  ps->events = ps->matches = ps->errors = ps->timeouts = ps->dropped_groups = 0;
  ps->memory_errors = ps->poison = ps->host_deaths = 0;
  ps->poisons = NULL;
  ps->npoisons = 0;
  ps->npending = 0;
  ps->line_no = 0;
  oc_buf_reset(&ps->chunk);
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
    ps->line_no++;
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
    if (psr->worker) {
      err = oc_pyscan_queue(ps, psr, t, ev_us, line, len, errstr, errstr_size);
      if (err != OC_OK) goto out;
      continue;
    }
    oc_pyscan_local_t l = {ps, psr, t->log_type, ev_us, line, len, errstr, errstr_size, OC_OK};
    int rc = oc_pyscan_eval_event(psr, t, root, &ps->res, oc_pyscan_local_hit, &l);
    if (rc == -1) {
      snprintf(errstr, errstr_size, "out of memory");
      err = OC_ERR_NOMEM;
      goto out;
    }
    if (rc != 0) {
      err = l.err;
      goto out;
    }
  }
  if (psr->worker) err = oc_pyscan_flush(ps, psr, errstr, errstr_size);
out:
  oc_reader_destroy(r);
  return err;
}
