/* ruleset.c: loading detections from a directory and the rules table, resolving
 * duplicate ids, and the log-type index (ruleset.h). */
#include "services/rules-engine/ruleset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"

typedef struct oc_ruleset_entry {
  oc_rule_t *rule;
  size_t order; /* load order */
} oc_ruleset_entry_t;

/* Rules gated on one value of one top-level member (detection.h, oc_det_gate). */
typedef struct oc_ruleset_gateval {
  const char *s;
  size_t len;
  const oc_rule_t **rules;
  size_t n;
} oc_ruleset_gateval_t;

typedef struct oc_ruleset_gatekey {
  const oc_det_path_t *path;  /* one KEY step (from the first rule gated on it) */
  oc_ruleset_gateval_t *vals; /* sorted by (len, bytes) */
  size_t nvals;
} oc_ruleset_gatekey_t;

struct oc_ruleset_type {
  const char *log_type; /* points into a rule */
  size_t len;
  const oc_rule_t **rules; /* all, in id order */
  size_t n;
  const oc_rule_t **ungated; /* rules without a gate: always evaluated */
  size_t nungated;
  oc_ruleset_gatekey_t *keys;
  size_t nkeys;
};

struct oc_ruleset {
  oc_det_keys_t *keys;
  oc_det_ctx_t *ctx;
  /* while loading */
  oc_ruleset_entry_t *loaded;
  size_t nloaded, caploaded;
  char **masked; /* ids of disabled table rows */
  size_t nmasked, capmasked;
  /* after finish */
  const oc_rule_t **rules; /* enabled, sorted by id */
  size_t nrules;
  oc_ruleset_type_t *types; /* sorted by log type */
  size_t ntypes;
  const oc_rule_t **type_rules; /* storage for types[].rules */
  oc_arena_t idx;               /* gate indexes */
  oc_rule_span_t *spans;        /* scratch for oc_ruleset_candidates */
  bool finished;
  oc_ruleset_stats_t stats;
  oc_ruleset_msg_t *msgs;
  size_t nmsgs, capmsgs;
};

oc_ruleset_t *oc_ruleset_new(void) {
  oc_ruleset_t *rs = calloc(1, sizeof(*rs));
  if (!rs) return NULL;
  rs->keys = oc_det_keys_new();
  if (!rs->keys) {
    free(rs);
    return NULL;
  }
  oc_arena_init(&rs->idx, 64 * 1024);
  return rs;
}

void oc_ruleset_destroy(oc_ruleset_t *rs) {
  if (!rs) return;
  for (size_t i = 0; i < rs->nloaded; i++)
    oc_rule_destroy(rs->loaded[i].rule);
  free(rs->loaded);
  for (size_t i = 0; i < rs->nmasked; i++)
    free(rs->masked[i]);
  free(rs->masked);
  free(rs->rules);
  free(rs->types);
  free(rs->type_rules);
  free(rs->spans);
  oc_arena_deinit(&rs->idx);
  for (size_t i = 0; i < rs->nmsgs; i++) {
    free(rs->msgs[i].origin);
    free(rs->msgs[i].text);
  }
  free(rs->msgs);
  oc_det_ctx_destroy(rs->ctx);
  oc_det_keys_destroy(rs->keys);
  free(rs);
}

static void oc_ruleset_note(oc_ruleset_t *rs, oc_ruleset_msg_level_t level, const char *origin,
                            int line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void oc_ruleset_note(oc_ruleset_t *rs, oc_ruleset_msg_level_t level, const char *origin,
                            int line, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  if (level == OC_RULESET_MSG_ERROR) rs->stats.errors++;
  if (rs->nmsgs == rs->capmsgs) {
    size_t cap = rs->capmsgs ? rs->capmsgs * 2 : 16;
    oc_ruleset_msg_t *msgs = realloc(rs->msgs, cap * sizeof(*msgs));
    if (!msgs) return; /* the count above still tells */
    rs->msgs = msgs;
    rs->capmsgs = cap;
  }
  oc_ruleset_msg_t *m = &rs->msgs[rs->nmsgs];
  m->level = level;
  m->line = line;
  m->origin = strdup(origin ? origin : "");
  m->text = strdup(text);
  if (!m->origin || !m->text) {
    free(m->origin);
    free(m->text);
    return;
  }
  rs->nmsgs++;
}

oc_rule_status_t oc_ruleset_add(oc_ruleset_t *rs, const char *text, size_t len, const char *origin,
                                const char *version, const char *fallback_id, bool from_table) {
  char why[1024];
  int line = 0;
  oc_rule_t *rule = NULL;
  oc_rule_status_t st = oc_rule_parse(text, len, origin, version, fallback_id, rs->keys, &rule,
                                      &line, why, sizeof(why));
  switch (st) {
    case OC_RULE_ERROR:
      oc_ruleset_note(rs, OC_RULESET_MSG_ERROR, origin, line, "%s", why);
      return st;
    case OC_RULE_PYTHON:
      rs->stats.python++;
      oc_ruleset_note(rs, OC_RULESET_MSG_INFO, origin, 0, "%s", why);
      return st;
    case OC_RULE_NOT_A_RULE:
      rs->stats.not_rules++;
      oc_ruleset_note(rs, OC_RULESET_MSG_INFO, origin, 0, "%s", why);
      return st;
    case OC_RULE_OK:
      break;
  }
  rule->from_table = from_table;
  if (rs->nloaded == rs->caploaded) {
    size_t cap = rs->caploaded ? rs->caploaded * 2 : 64;
    oc_ruleset_entry_t *loaded = realloc(rs->loaded, cap * sizeof(*loaded));
    if (!loaded) {
      oc_ruleset_note(rs, OC_RULESET_MSG_ERROR, origin, 0, "out of memory");
      oc_rule_destroy(rule);
      return OC_RULE_ERROR;
    }
    rs->loaded = loaded;
    rs->caploaded = cap;
  }
  rs->loaded[rs->nloaded].rule = rule;
  rs->loaded[rs->nloaded].order = rs->nloaded;
  rs->nloaded++;
  return OC_RULE_OK;
}

/* ---- directory --------------------------------------------------------------------- */

typedef struct oc_ruleset_files {
  char **paths;
  size_t n, cap;
  bool truncated;
} oc_ruleset_files_t;

static bool oc_ruleset_is_detection(const char *name) {
  size_t n = strlen(name);
  return (n > 4 && strcasecmp(name + n - 4, ".yml") == 0) ||
         (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0);
}

static int oc_ruleset_strcmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects detection file paths under dir, in sorted order per directory. */
static oc_err_t oc_ruleset_list(const char *dir, int depth, oc_ruleset_files_t *files) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? OC_ERR_NOT_FOUND : OC_ERR_IO;
  char **names = NULL;
  size_t n = 0, cap = 0;
  oc_err_t err = OC_OK;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue; /* ., .., hidden files and folders */
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 32;
      char **grown = realloc(names, ncap * sizeof(*grown));
      if (!grown) {
        err = OC_ERR_NOMEM;
        goto out;
      }
      names = grown;
      cap = ncap;
    }
    names[n] = strdup(de->d_name);
    if (!names[n]) {
      err = OC_ERR_NOMEM;
      goto out;
    }
    n++;
  }
  if (n) qsort(names, n, sizeof(*names), oc_ruleset_strcmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) continue;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < OC_RULESET_MAX_DIR_DEPTH) {
        err = oc_ruleset_list(path, depth + 1, files);
        if (err == OC_ERR_NOMEM) goto out;
        err = OC_OK; /* an unreadable subfolder does not stop the rest */
      }
      continue;
    }
    if (!S_ISREG(st.st_mode) || !oc_ruleset_is_detection(names[i])) continue;
    if (files->n >= OC_RULESET_MAX_FILES) {
      files->truncated = true;
      continue;
    }
    if (files->n == files->cap) {
      size_t ncap = files->cap ? files->cap * 2 : 64;
      char **grown = realloc(files->paths, ncap * sizeof(*grown));
      if (!grown) {
        err = OC_ERR_NOMEM;
        goto out;
      }
      files->paths = grown;
      files->cap = ncap;
    }
    files->paths[files->n] = strdup(path);
    if (!files->paths[files->n]) {
      err = OC_ERR_NOMEM;
      goto out;
    }
    files->n++;
  }
out:
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return err;
}

static void oc_ruleset_files_free(oc_ruleset_files_t *files) {
  for (size_t i = 0; i < files->n; i++)
    free(files->paths[i]);
  free(files->paths);
}

/* Reads a whole file of at most max bytes into a malloc'd buffer. */
static char *oc_ruleset_read(const char *path, size_t max, size_t *len, char *errstr,
                             size_t errstr_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *buf = NULL;
  size_t n = 0;
  if (fd < 0) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", path, strerror(errno));
    return NULL;
  }
  buf = malloc(max + 1);
  if (!buf) {
    snprintf(errstr, errstr_size, "out of memory");
    goto fail;
  }
  for (;;) {
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      snprintf(errstr, errstr_size, "could not read \"%s\": %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > max) {
      snprintf(errstr, errstr_size, "detection is larger than %zu bytes", max);
      goto fail;
    }
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return buf;
fail:
  free(buf);
  close(fd);
  return NULL;
}

oc_err_t oc_ruleset_load_dir(oc_ruleset_t *rs, const char *dir, char *errstr, size_t errstr_size) {
  oc_ruleset_files_t files = {0};
  oc_err_t err = oc_ruleset_list(dir, 0, &files);
  if (err != OC_OK) {
    snprintf(errstr, errstr_size, "could not read rules directory \"%s\": %s", dir,
             err == OC_ERR_NOT_FOUND ? "no such directory" : oc_err_str(err));
    oc_ruleset_files_free(&files);
    return err;
  }
  if (files.truncated)
    oc_ruleset_note(rs, OC_RULESET_MSG_ERROR, dir, 0,
                    "more than %d detection files; the rest skipped", OC_RULESET_MAX_FILES);
  for (size_t i = 0; i < files.n; i++) {
    char why[512];
    size_t len = 0;
    char *text = oc_ruleset_read(files.paths[i], OC_RULE_MAX_TEXT, &len, why, sizeof(why));
    if (!text) {
      oc_ruleset_note(rs, OC_RULESET_MSG_ERROR, files.paths[i], 0, "%s", why);
      continue;
    }
    oc_ruleset_add(rs, text, len, files.paths[i], NULL, NULL, false);
    free(text);
  }
  oc_ruleset_files_free(&files);
  return OC_OK;
}

uint64_t oc_ruleset_dir_fingerprint(const char *dir) {
  oc_ruleset_files_t files = {0};
  uint64_t h = 0;
  if (oc_ruleset_list(dir, 0, &files) != OC_OK) {
    oc_ruleset_files_free(&files);
    return 0;
  }
  h = 0x9e3779b97f4a7c15ULL ^ files.n;
  for (size_t i = 0; i < files.n; i++) {
    struct stat st;
    uint64_t parts[4] = {h, 0, 0, 0};
    if (stat(files.paths[i], &st) == 0) {
      parts[1] = (uint64_t)st.st_size;
      parts[2] = (uint64_t)st.st_mtim.tv_sec;
      parts[3] = (uint64_t)st.st_mtim.tv_nsec;
    }
    h = oc_hash64(parts, sizeof(parts)) ^ oc_hash64(files.paths[i], strlen(files.paths[i]));
  }
  oc_ruleset_files_free(&files);
  return h ? h : 1;
}

/* ---- rules table ------------------------------------------------------------------- */

static bool oc_ruleset_mask(oc_ruleset_t *rs, const char *id) {
  if (rs->nmasked == rs->capmasked) {
    size_t cap = rs->capmasked ? rs->capmasked * 2 : 16;
    char **grown = realloc(rs->masked, cap * sizeof(*grown));
    if (!grown) return false;
    rs->masked = grown;
    rs->capmasked = cap;
  }
  rs->masked[rs->nmasked] = strdup(id);
  if (!rs->masked[rs->nmasked]) return false;
  rs->nmasked++;
  return true;
}

oc_err_t oc_ruleset_load_table(oc_ruleset_t *rs, oc_pg_t *pg, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err =
      oc_pg_exec(pg, &res, "SELECT id, version::text, kind, body, enabled FROM rules ORDER BY id",
                 0, NULL, errstr, errstr_size);
  if (err != OC_OK) return err;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++) {
    const char *id = PQgetvalue(res, i, 0);
    const char *version = PQgetvalue(res, i, 1);
    const char *kind = PQgetvalue(res, i, 2);
    const char *body = PQgetvalue(res, i, 3);
    size_t body_len = (size_t)PQgetlength(res, i, 3);
    bool enabled = strcmp(PQgetvalue(res, i, 4), "t") == 0;
    char origin[512];
    snprintf(origin, sizeof(origin), "rules table row %s", id);
    if (!enabled) {
      rs->stats.disabled++;
      if (!oc_ruleset_mask(rs, id)) {
        err = OC_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        break;
      }
      continue;
    }
    if (strcmp(kind, "yaml") != 0) {
      /* Python rules of uploaded packs: the Python side of the engine loads them
       * (packstore.h); the YAML set only counts them. */
      rs->stats.python++;
      continue;
    }
    oc_ruleset_add(rs, body, body_len, origin, version, id, true);
  }
  PQclear(res);
  return err;
}

/* ---- finishing and lookups --------------------------------------------------------- */

static int oc_ruleset_entry_cmp(const void *pa, const void *pb) {
  const oc_ruleset_entry_t *a = pa, *b = pb;
  int c = strcmp(a->rule->id, b->rule->id);
  if (c) return c;
  if (a->rule->from_table != b->rule->from_table) return a->rule->from_table ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

typedef struct oc_ruleset_pair {
  const char *log_type;
  const oc_rule_t *rule;
} oc_ruleset_pair_t;

static int oc_ruleset_pair_cmp(const void *pa, const void *pb) {
  const oc_ruleset_pair_t *a = pa, *b = pb;
  int c = strcmp(a->log_type, b->log_type);
  if (c) return c;
  return strcmp(a->rule->id, b->rule->id);
}

static bool oc_ruleset_is_masked(const oc_ruleset_t *rs, const char *id) {
  for (size_t i = 0; i < rs->nmasked; i++)
    if (strcmp(rs->masked[i], id) == 0) return true;
  return false;
}

typedef struct oc_ruleset_gpair {
  size_t key; /* index into the type's keys */
  const char *s;
  size_t len;
  size_t rule; /* index into the type's rules */
} oc_ruleset_gpair_t;

static int oc_ruleset_gpair_cmp(const void *pa, const void *pb) {
  const oc_ruleset_gpair_t *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  int c = memcmp(a->s, b->s, a->len);
  if (c) return c;
  return a->rule < b->rule ? -1 : a->rule > b->rule;
}

#define OC_RULESET_MAX_GATES 8 /* gates considered per rule */

typedef struct oc_ruleset_keyscore {
  const char *key;
  uint32_t len;
  size_t values;
} oc_ruleset_keyscore_t;

static oc_ruleset_keyscore_t *oc_ruleset_score_of(oc_ruleset_keyscore_t *scores, size_t n,
                                                  const oc_det_gate_t *g) {
  const oc_det_step_t *st = &g->path->steps[0];
  for (size_t k = 0; k < n; k++)
    if (scores[k].len == st->len && memcmp(scores[k].key, st->key, st->len) == 0) return &scores[k];
  return NULL;
}

/* A rule with several gates (eventSource and eventName, say) is indexed under the one
 * most likely to leave it out: the member with the most distinct gate values over the
 * log type's rules (a proxy for the member's cardinality: eventName has hundreds of
 * values, eventSource tens), then the gate with the fewest values. Returns false when
 * the rule has no gate. scores may be NULL (first gate). */
static bool oc_ruleset_best_gate(const oc_rule_t *rule, oc_ruleset_keyscore_t *scores,
                                 size_t nscores, oc_det_gate_t *best) {
  oc_det_gate_t gates[OC_RULESET_MAX_GATES];
  size_t n = oc_det_gates(rule->detection, gates, OC_RULESET_MAX_GATES);
  if (n == 0) return false;
  size_t bi = 0;
  for (size_t i = 1; scores && i < n; i++) {
    oc_ruleset_keyscore_t *a = oc_ruleset_score_of(scores, nscores, &gates[i]),
                          *b = oc_ruleset_score_of(scores, nscores, &gates[bi]);
    size_t sa = a ? a->values : 0, sb = b ? b->values : 0;
    if (sa > sb || (sa == sb && gates[i].nvalues < gates[bi].nvalues)) bi = i;
  }
  *best = gates[bi];
  return true;
}

/* Splits a type's rules into ungated ones and per-(key, value) lists. */
static bool oc_ruleset_index_type(oc_ruleset_t *rs, oc_ruleset_type_t *t) {
  oc_ruleset_gpair_t *pairs = NULL;
  size_t npairs = 0, cap = 0, nscores = 0;
  bool ok = false;
  t->ungated = oc_arena_alloc(&rs->idx, (t->n ? t->n : 1) * sizeof(*t->ungated));
  t->keys = oc_arena_alloc(&rs->idx, (t->n ? t->n : 1) * sizeof(*t->keys));
  oc_ruleset_keyscore_t *scores = calloc(t->n * OC_RULESET_MAX_GATES + 1, sizeof(*scores));
  if (!t->ungated || !t->keys || !scores) goto out;
  /* Gate values per member over all the rules' gates. */
  for (size_t i = 0; i < t->n; i++) {
    oc_det_gate_t gates[OC_RULESET_MAX_GATES];
    size_t ng = oc_det_gates(t->rules[i]->detection, gates, OC_RULESET_MAX_GATES);
    for (size_t j = 0; j < ng; j++) {
      oc_ruleset_keyscore_t *sc = oc_ruleset_score_of(scores, nscores, &gates[j]);
      if (!sc) {
        sc = &scores[nscores++];
        sc->key = gates[j].path->steps[0].key;
        sc->len = gates[j].path->steps[0].len;
      }
      sc->values += gates[j].nvalues;
    }
  }
  for (size_t i = 0; i < t->n; i++) {
    oc_det_gate_t g;
    if (!oc_ruleset_best_gate(t->rules[i], scores, nscores, &g)) {
      t->ungated[t->nungated++] = t->rules[i];
      continue;
    }
    const oc_det_step_t *st = &g.path->steps[0];
    size_t k = 0;
    while (k < t->nkeys && !(t->keys[k].path->steps[0].len == st->len &&
                             memcmp(t->keys[k].path->steps[0].key, st->key, st->len) == 0))
      k++;
    if (k == t->nkeys) {
      memset(&t->keys[k], 0, sizeof(t->keys[k]));
      t->keys[k].path = g.path;
      t->nkeys++;
    }
    for (size_t v = 0; v < g.nvalues; v++) {
      if (npairs == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        oc_ruleset_gpair_t *grown = realloc(pairs, ncap * sizeof(*grown));
        if (!grown) goto out;
        pairs = grown;
        cap = ncap;
      }
      pairs[npairs].key = k;
      pairs[npairs].rule = i;
      oc_det_gate_value(&g, v, &pairs[npairs].s, &pairs[npairs].len);
      npairs++;
    }
  }
  if (npairs) qsort(pairs, npairs, sizeof(*pairs), oc_ruleset_gpair_cmp);
  /* Count distinct values per key, then fill. Equal (key, value, rule) pairs (a value
   * listed twice) collapse into one entry. */
  for (size_t i = 0; i < npairs;) {
    size_t j = i;
    oc_ruleset_gatekey_t *gk = &t->keys[pairs[i].key];
    while (j < npairs && pairs[j].key == pairs[i].key && pairs[j].len == pairs[i].len &&
           memcmp(pairs[j].s, pairs[i].s, pairs[i].len) == 0)
      j++;
    gk->nvals++;
    i = j;
  }
  for (size_t k = 0; k < t->nkeys; k++) {
    t->keys[k].vals = oc_arena_alloc(&rs->idx, t->keys[k].nvals * sizeof(*t->keys[k].vals));
    if (!t->keys[k].vals) goto out;
    t->keys[k].nvals = 0;
  }
  for (size_t i = 0; i < npairs;) {
    size_t j = i;
    oc_ruleset_gatekey_t *gk = &t->keys[pairs[i].key];
    while (j < npairs && pairs[j].key == pairs[i].key && pairs[j].len == pairs[i].len &&
           memcmp(pairs[j].s, pairs[i].s, pairs[i].len) == 0)
      j++;
    oc_ruleset_gateval_t *gv = &gk->vals[gk->nvals++];
    gv->s = pairs[i].s;
    gv->len = pairs[i].len;
    gv->rules = oc_arena_alloc(&rs->idx, (j - i) * sizeof(*gv->rules));
    if (!gv->rules) goto out;
    gv->n = 0;
    for (size_t p = i; p < j; p++)
      if (p == i || pairs[p].rule != pairs[p - 1].rule)
        gv->rules[gv->n++] = t->rules[pairs[p].rule];
    i = j;
  }
  ok = true;
out:
  free(pairs);
  free(scores);
  return ok;
}

oc_err_t oc_ruleset_finish(oc_ruleset_t *rs, char *errstr, size_t errstr_size) {
  oc_ruleset_pair_t *pairs = NULL;
  size_t npairs = 0;
  oc_err_t err = OC_ERR_NOMEM;

  if (rs->finished) return OC_OK;
  if (rs->nloaded) qsort(rs->loaded, rs->nloaded, sizeof(*rs->loaded), oc_ruleset_entry_cmp);
  rs->rules = calloc(rs->nloaded ? rs->nloaded : 1, sizeof(*rs->rules));
  if (!rs->rules) goto out;
  size_t total_types = 0;
  for (size_t i = 0; i < rs->nloaded; i++) {
    oc_rule_t *rule = rs->loaded[i].rule;
    if (i > 0 && strcmp(rs->loaded[i - 1].rule->id, rule->id) == 0) {
      const oc_rule_t *first = rs->loaded[i - 1].rule;
      /* Walk back to the winner of this id. */
      for (size_t j = i; j-- > 0 && strcmp(rs->loaded[j].rule->id, rule->id) == 0;)
        first = rs->loaded[j].rule;
      if (first->from_table && !rule->from_table) {
        rs->stats.overridden++;
        oc_ruleset_note(rs, OC_RULESET_MSG_INFO, rule->origin, 0,
                        "rule %s is replaced by the rules table's version", rule->id);
      } else {
        oc_ruleset_note(rs, OC_RULESET_MSG_ERROR, rule->origin, 0,
                        "duplicate RuleID %s (already loaded from %s)", rule->id, first->origin);
      }
      continue;
    }
    if (!rule->enabled) {
      rs->stats.disabled++;
      continue;
    }
    if (!rule->from_table && oc_ruleset_is_masked(rs, rule->id)) {
      oc_ruleset_note(rs, OC_RULESET_MSG_INFO, rule->origin, 0,
                      "rule %s is disabled in the rules table", rule->id);
      continue;
    }
    rs->rules[rs->nrules++] = rule;
    total_types += rule->nlog_types;
    if (rule->from_table)
      rs->stats.loaded_table++;
    else
      rs->stats.loaded_dir++;
  }
  rs->stats.loaded = rs->nrules;

  pairs = calloc(total_types ? total_types : 1, sizeof(*pairs));
  rs->type_rules = calloc(total_types ? total_types : 1, sizeof(*rs->type_rules));
  rs->types = calloc(total_types ? total_types : 1, sizeof(*rs->types));
  if (!pairs || !rs->type_rules || !rs->types) goto out;
  for (size_t i = 0; i < rs->nrules; i++)
    for (size_t j = 0; j < rs->rules[i]->nlog_types; j++) {
      /* A rule naming one log type twice is indexed once. */
      bool dup = false;
      for (size_t k = 0; k < j; k++)
        if (strcmp(rs->rules[i]->log_types[k], rs->rules[i]->log_types[j]) == 0) dup = true;
      if (dup) continue;
      pairs[npairs].log_type = rs->rules[i]->log_types[j];
      pairs[npairs].rule = rs->rules[i];
      npairs++;
    }
  if (npairs) qsort(pairs, npairs, sizeof(*pairs), oc_ruleset_pair_cmp);
  for (size_t i = 0; i < npairs; i++) {
    if (rs->ntypes == 0 || strcmp(rs->types[rs->ntypes - 1].log_type, pairs[i].log_type) != 0) {
      oc_ruleset_type_t *t = &rs->types[rs->ntypes++];
      t->log_type = pairs[i].log_type;
      t->len = strlen(t->log_type);
      t->rules = &rs->type_rules[i];
      t->n = 0;
    }
    rs->type_rules[i] = pairs[i].rule;
    rs->types[rs->ntypes - 1].n++;
  }
  size_t maxspans = 1;
  for (size_t i = 0; i < rs->ntypes; i++) {
    if (!oc_ruleset_index_type(rs, &rs->types[i])) goto out;
    if (rs->types[i].nkeys + 1 > maxspans) maxspans = rs->types[i].nkeys + 1;
  }
  rs->spans = calloc(maxspans, sizeof(*rs->spans));
  if (!rs->spans) goto out;
  rs->ctx = oc_det_ctx_new(rs->keys);
  if (!rs->ctx) goto out;
  rs->finished = true;
  err = OC_OK;
out:
  if (err != OC_OK) snprintf(errstr, errstr_size, "out of memory building the rule index");
  free(pairs);
  return err;
}

size_t oc_ruleset_candidates(oc_ruleset_t *rs, const oc_ruleset_type_t *t, oc_det_ctx_t *ctx,
                             const oc_rule_span_t **spans) {
  size_t ns = 0;
  *spans = rs->spans;
  if (!t) return 0;
  if (t->nungated) {
    rs->spans[ns].rules = t->ungated;
    rs->spans[ns].n = t->nungated;
    ns++;
  }
  for (size_t k = 0; k < t->nkeys; k++) {
    const oc_ruleset_gatekey_t *gk = &t->keys[k];
    const oc_json_t *v = oc_det_path_first(ctx, gk->path);
    if (!v || v->type != OC_JSON_STRING) continue;
    size_t lo = 0, hi = gk->nvals;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const oc_ruleset_gateval_t *gv = &gk->vals[mid];
      int c = v->len != gv->len ? (v->len < gv->len ? -1 : 1) : memcmp(v->s, gv->s, v->len);
      if (c == 0) {
        rs->spans[ns].rules = gv->rules;
        rs->spans[ns].n = gv->n;
        ns++;
        break;
      }
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  }
  return ns;
}

const oc_ruleset_type_t *oc_ruleset_type(const oc_ruleset_t *rs, const char *log_type, size_t len) {
  size_t lo = 0, hi = rs->ntypes;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const oc_ruleset_type_t *t = &rs->types[mid];
    size_t m = t->len < len ? t->len : len;
    int c = memcmp(log_type, t->log_type, m);
    if (c == 0) c = len < t->len ? -1 : len > t->len ? 1 : 0;
    if (c == 0) return t;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

const oc_rule_t *const *oc_ruleset_for_log_type(const oc_ruleset_t *rs, const char *log_type,
                                                size_t len, size_t *n) {
  size_t lo = 0, hi = rs->ntypes;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const oc_ruleset_type_t *t = &rs->types[mid];
    size_t m = t->len < len ? t->len : len;
    int c = memcmp(log_type, t->log_type, m);
    if (c == 0) c = len < t->len ? -1 : len > t->len ? 1 : 0;
    if (c == 0) {
      *n = t->n;
      return t->rules;
    }
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  *n = 0;
  return NULL;
}

size_t oc_ruleset_count(const oc_ruleset_t *rs) {
  return rs->nrules;
}

const oc_rule_t *oc_ruleset_rule(const oc_ruleset_t *rs, size_t i) {
  return i < rs->nrules ? rs->rules[i] : NULL;
}

const oc_rule_t *oc_ruleset_find(const oc_ruleset_t *rs, const char *id) {
  for (size_t i = 0; i < rs->nrules; i++)
    if (strcmp(rs->rules[i]->id, id) == 0) return rs->rules[i];
  return NULL;
}

oc_det_ctx_t *oc_ruleset_ctx(oc_ruleset_t *rs) {
  return rs->ctx;
}

const oc_ruleset_stats_t *oc_ruleset_stats(const oc_ruleset_t *rs) {
  return &rs->stats;
}

size_t oc_ruleset_nmsgs(const oc_ruleset_t *rs) {
  return rs->nmsgs;
}

const oc_ruleset_msg_t *oc_ruleset_msg(const oc_ruleset_t *rs, size_t i) {
  return i < rs->nmsgs ? &rs->msgs[i] : NULL;
}
