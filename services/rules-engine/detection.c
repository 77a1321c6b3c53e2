/* detection.c: compiles YAML match expressions into a tree of nodes with pre-split paths,
 * pre-parsed values (text, lower-cased text, number, boolean, null) and sorted IsIn
 * sets, and evaluates the tree against an event without allocating. Semantics are
 * documented in detection.h. */
#include "services/rules-engine/detection.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

/* ---- keys and contexts ------------------------------------------------------------- */

struct oc_det_keys {
  char **names;
  size_t *lens;
  size_t n, cap;
};

oc_det_keys_t *oc_det_keys_new(void) {
  return calloc(1, sizeof(oc_det_keys_t));
}

void oc_det_keys_destroy(oc_det_keys_t *keys) {
  if (!keys) return;
  for (size_t i = 0; i < keys->n; i++)
    free(keys->names[i]);
  free(keys->names);
  free(keys->lens);
  free(keys);
}

size_t oc_det_keys_count(const oc_det_keys_t *keys) {
  return keys ? keys->n : 0;
}

/* Slot of name, added when new; -1 when out of memory (the path then goes uncached). */
static int32_t oc_det_keys_intern(oc_det_keys_t *keys, const char *name, size_t len) {
  if (!keys) return -1;
  for (size_t i = 0; i < keys->n; i++)
    if (keys->lens[i] == len && memcmp(keys->names[i], name, len) == 0) return (int32_t)i;
  if (keys->n >= INT32_MAX) return -1;
  if (keys->n == keys->cap) {
    size_t cap = keys->cap ? keys->cap * 2 : 32;
    char **names = realloc(keys->names, cap * sizeof(*names));
    if (!names) return -1;
    keys->names = names;
    size_t *lens = realloc(keys->lens, cap * sizeof(*lens));
    if (!lens) return -1;
    keys->lens = lens;
    keys->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, name, len);
  copy[len] = '\0';
  keys->names[keys->n] = copy;
  keys->lens[keys->n] = len;
  return (int32_t)keys->n++;
}

oc_det_ctx_t *oc_det_ctx_new(const oc_det_keys_t *keys) {
  oc_det_ctx_t *ctx = calloc(1, sizeof(*ctx));
  if (!ctx) return NULL;
  ctx->nslots = oc_det_keys_count(keys);
  if (ctx->nslots) {
    ctx->slots = calloc(ctx->nslots, sizeof(*ctx->slots));
    ctx->gen = calloc(ctx->nslots, sizeof(*ctx->gen));
    if (!ctx->slots || !ctx->gen) {
      oc_det_ctx_destroy(ctx);
      return NULL;
    }
  }
  ctx->cur = 1;
  return ctx;
}

void oc_det_ctx_destroy(oc_det_ctx_t *ctx) {
  if (!ctx) return;
  free(ctx->slots);
  free(ctx->gen);
  free(ctx);
}

void oc_det_ctx_set_event(oc_det_ctx_t *ctx, const oc_json_t *root) {
  ctx->root = root;
  if (++ctx->cur == 0) { /* wrapped: forget every cached lookup */
    if (ctx->nslots) memset(ctx->gen, 0, ctx->nslots * sizeof(*ctx->gen));
    ctx->cur = 1;
  }
}

/* ---- paths ------------------------------------------------------------------------- */

static bool oc_det_digits(const char *s, size_t n, size_t *out) {
  size_t v = 0;
  if (n == 0 || n > 9) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (size_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

static void oc_det_path_finish(oc_det_keys_t *keys, oc_det_path_t *out) {
  out->slot = -1;
  if (out->nsteps && out->steps[0].kind == OC_DET_STEP_KEY)
    out->slot = oc_det_keys_intern(keys, out->steps[0].key, out->steps[0].len);
  out->multi = out->deep;
  for (uint32_t i = 0; i < out->nsteps; i++)
    if (out->steps[i].kind == OC_DET_STEP_ANY) out->multi = true;
}

bool oc_det_path_compile(oc_arena_t *a, oc_det_keys_t *keys, oc_det_path_syntax_t syntax,
                         const char *text, size_t len, oc_det_path_t *out, char *errstr,
                         size_t errstr_size) {
  oc_det_step_t steps[OC_DET_MAX_PATH_STEPS];
  uint32_t n = 0;
  memset(out, 0, sizeof(*out));
  if (len == 0) {
    snprintf(errstr, errstr_size, "empty key");
    return false;
  }
  if (memchr(text, '\0', len)) {
    snprintf(errstr, errstr_size, "key contains a NUL byte");
    return false;
  }
  out->text = oc_arena_strndup(a, text, len);
  if (!out->text) goto nomem;
  if (syntax == OC_DET_PATH_KEY) {
    steps[0].kind = OC_DET_STEP_KEY;
    steps[0].key = out->text;
    steps[0].len = (uint32_t)len;
    steps[0].index = 0;
    n = 1;
  } else {
    size_t i = 0;
    for (;;) {
      if (n == OC_DET_MAX_PATH_STEPS) {
        snprintf(errstr, errstr_size, "key path \"%.*s\" has more than %d steps", (int)len, text,
                 OC_DET_MAX_PATH_STEPS);
        return false;
      }
      oc_det_step_t *st = &steps[n];
      memset(st, 0, sizeof(*st));
      if (text[i] == '[') {
        const char *close = memchr(text + i, ']', len - i);
        if (!close) goto bad;
        size_t inner = (size_t)(close - text) - i - 1;
        if (inner == 1 && text[i + 1] == '*') {
          st->kind = OC_DET_STEP_ANY;
        } else if (oc_det_digits(text + i + 1, inner, &st->index)) {
          st->kind = OC_DET_STEP_INDEX;
        } else {
          goto bad;
        }
        i = (size_t)(close - text) + 1;
      } else {
        size_t j = i;
        while (j < len && text[j] != '.' && text[j] != '[')
          j++;
        if (j == i) goto bad; /* empty segment */
        st->key = oc_arena_strndup(a, text + i, j - i);
        if (!st->key) goto nomem;
        st->len = (uint32_t)(j - i);
        st->kind =
            oc_det_digits(text + i, j - i, &st->index) ? OC_DET_STEP_NUMKEY : OC_DET_STEP_KEY;
        i = j;
      }
      n++;
      if (i == len) break;
      if (text[i] == '.') {
        i++;
        if (i == len || text[i] == '.') goto bad;
      } else if (text[i] != '[') {
        goto bad;
      }
    }
  }
  oc_det_step_t *copy = oc_arena_alloc(a, n * sizeof(*copy));
  if (!copy) goto nomem;
  memcpy(copy, steps, n * sizeof(*copy));
  out->steps = copy;
  out->nsteps = n;
  oc_det_path_finish(keys, out);
  return true;
bad:
  snprintf(errstr, errstr_size, "malformed key path \"%.*s\"", (int)len, text);
  return false;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return false;
}

bool oc_det_path_compile_deep(oc_arena_t *a, oc_det_keys_t *keys, const char *const *names,
                              const size_t *lens, size_t n, oc_det_path_t *out, char *errstr,
                              size_t errstr_size) {
  memset(out, 0, sizeof(*out));
  if (n == 0) {
    snprintf(errstr, errstr_size, "DeepKey is empty");
    return false;
  }
  if (n > OC_DET_MAX_PATH_STEPS) {
    snprintf(errstr, errstr_size, "DeepKey has more than %d keys", OC_DET_MAX_PATH_STEPS);
    return false;
  }
  oc_det_step_t *steps = oc_arena_alloc(a, n * sizeof(*steps));
  size_t textlen = 0;
  if (!steps) goto nomem;
  for (size_t i = 0; i < n; i++) {
    if (lens[i] == 0 || memchr(names[i], '\0', lens[i])) {
      snprintf(errstr, errstr_size, "DeepKey entry %zu is empty or contains a NUL byte", i + 1);
      return false;
    }
    memset(&steps[i], 0, sizeof(steps[i]));
    steps[i].kind = OC_DET_STEP_KEY;
    steps[i].key = oc_arena_strndup(a, names[i], lens[i]);
    if (!steps[i].key) goto nomem;
    steps[i].len = (uint32_t)lens[i];
    textlen += lens[i] + 1;
  }
  char *text = oc_arena_alloc(a, textlen + 1), *p = text;
  if (!text) goto nomem;
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = '.';
    memcpy(p, names[i], lens[i]);
    p += lens[i];
  }
  *p = '\0';
  out->text = text;
  out->steps = steps;
  out->nsteps = (uint32_t)n;
  out->deep = true;
  oc_det_path_finish(keys, out);
  return true;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return false;
}

static bool oc_det_walk(const oc_json_t *cur, const oc_det_step_t *st, uint32_t left, bool deep,
                        oc_det_leaf_fn fn, const void *arg) {
  if (!cur) return fn(arg, NULL);
  if (left == 0) {
    if (deep && cur->type == OC_JSON_ARRAY) {
      for (const oc_json_t *e = cur->child; e; e = e->next)
        if (oc_det_walk(e, st, 0, deep, fn, arg)) return true;
      return cur->child ? false : fn(arg, NULL);
    }
    return fn(arg, cur);
  }
  switch (st->kind) {
    case OC_DET_STEP_KEY:
      if (deep && cur->type == OC_JSON_ARRAY) {
        for (const oc_json_t *e = cur->child; e; e = e->next)
          if (oc_det_walk(e, st, left, deep, fn, arg)) return true;
        return cur->child ? false : fn(arg, NULL);
      }
      return oc_det_walk(oc_json_getn(cur, st->key, st->len), st + 1, left - 1, deep, fn, arg);
    case OC_DET_STEP_NUMKEY:
      if (cur->type == OC_JSON_ARRAY)
        return oc_det_walk(oc_json_at(cur, st->index), st + 1, left - 1, deep, fn, arg);
      return oc_det_walk(oc_json_getn(cur, st->key, st->len), st + 1, left - 1, deep, fn, arg);
    case OC_DET_STEP_INDEX:
      return oc_det_walk(oc_json_at(cur, st->index), st + 1, left - 1, deep, fn, arg);
    case OC_DET_STEP_ANY:
      if (cur->type != OC_JSON_ARRAY || !cur->child) return fn(arg, NULL);
      for (const oc_json_t *e = cur->child; e; e = e->next)
        if (oc_det_walk(e, st + 1, left - 1, deep, fn, arg)) return true;
      return false;
  }
  return false;
}

bool oc_det_path_any(oc_det_ctx_t *ctx, const oc_det_path_t *path, oc_det_leaf_fn fn,
                     const void *arg) {
  const oc_json_t *root = ctx->root;
  if (!root) return fn(arg, NULL);
  if (path->slot >= 0 && (size_t)path->slot < ctx->nslots && root->type == OC_JSON_OBJECT) {
    size_t s = (size_t)path->slot;
    const oc_json_t *v;
    if (ctx->gen[s] == ctx->cur) {
      v = ctx->slots[s];
    } else {
      v = oc_json_getn(root, path->steps[0].key, path->steps[0].len);
      ctx->slots[s] = v;
      ctx->gen[s] = ctx->cur;
    }
    return oc_det_walk(v, path->steps + 1, path->nsteps - 1, path->deep, fn, arg);
  }
  return oc_det_walk(root, path->steps, path->nsteps, path->deep, fn, arg);
}

static bool oc_det_leaf_first(const void *arg, const oc_json_t *v) {
  if (!v) return false;
  *(const oc_json_t **)arg = v;
  return true;
}

const oc_json_t *oc_det_path_first(oc_det_ctx_t *ctx, const oc_det_path_t *path) {
  const oc_json_t *found = NULL;
  oc_det_path_any(ctx, path, oc_det_leaf_first, (const void *)&found);
  return found;
}

/* ---- values ------------------------------------------------------------------------ */

typedef struct oc_det_value {
  const char *s; /* text as written, NUL-terminated */
  uint32_t len;
  const char *lower; /* ASCII lower-cased */
  bool is_null;      /* unquoted null, ~ or empty */
  bool is_bool, bval;
  bool is_num;
  double num;
} oc_det_value_t;

typedef enum {
  OC_DET_ALL,
  OC_DET_ANY,
  OC_DET_ONLYONE,
  OC_DET_NONE,
  OC_DET_MATCH, /* key + condition (+ Value / Values) */
  OC_DET_MULTI, /* condition over two keys (Values: [{Key..}, {Key..}]) */
  OC_DET_LIST,  /* AnyElement / AllElements / OnlyOneElement / NoElement + Expressions */
  OC_DET_CONST  /* AlwaysTrue / AlwaysFalse */
} oc_det_op_t;

typedef enum {
  OC_DET_ARG_NONE,   /* no Value */
  OC_DET_ARG_VALUE,  /* Value: scalar */
  OC_DET_ARG_NUMBER, /* Value: a number */
  OC_DET_ARG_VALUES, /* Values: [scalars] */
  OC_DET_ARG_CIDRS,  /* Value: CIDR or Values: [CIDRs] */
  OC_DET_ARG_EXPRS,  /* Expressions: [match expressions], evaluated per array element */
  OC_DET_ARG_CONST   /* no key, no Value */
} oc_det_arg_t;

/* A predicate on two values reached by two keys (multi-key match expressions). */
typedef bool (*oc_det_pair_fn)(const oc_json_t *a, const oc_json_t *b);

typedef enum { OC_DET_Q_ANY, OC_DET_Q_ALL, OC_DET_Q_ONE } oc_det_quant_t;

typedef struct oc_det_cond {
  const char *name;
  oc_det_arg_t arg;
  bool negate;         /* the result of leaf (any value) is negated */
  oc_det_leaf_fn leaf; /* positive predicate on one value; NULL value = absent */
  oc_det_pair_fn pair; /* the same test between two keys' values; NULL = no multi-key form */
  int extra;           /* ARG_EXPRS: the quantifier; ARG_CONST: the result */
} oc_det_cond_t;

/* An IP network: 16 bytes (IPv4 as ::ffff:a.b.c.d) and a prefix length over them. */
typedef struct oc_det_cidr {
  uint8_t addr[16];
  uint32_t bits;
} oc_det_cidr_t;

struct oc_det_node {
  oc_det_op_t op;
  int line;
  /* combinators */
  oc_det_node_t **kids;
  uint32_t nkids;
  /* match expressions */
  const oc_det_cond_t *cond;
  oc_det_path_t path;
  oc_det_value_t val;
  /* IsIn / IsNotIn */
  const oc_det_value_t *strs; /* sorted by (len, bytes) */
  uint32_t nstrs;
  const double *nums; /* sorted */
  uint32_t nnums;
  bool in_null, in_true, in_false;
  /* IsIPAddressInCIDR / NotInCIDR */
  const oc_det_cidr_t *cidrs;
  uint32_t ncidrs;
  /* MULTI: the second key (path is the first) */
  oc_det_path_t path2;
  /* LIST: the Expressions (an All), evaluated with each element as the root */
  const oc_det_node_t *sub;
};

static bool oc_det_numeric_text(const char *s, size_t n, double *out) {
  char buf[64];
  if (n == 0 || n >= sizeof(buf)) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
      return false;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  double d = strtod(buf, &end);
  if (end != buf + n || !isfinite(d)) return false;
  *out = d;
  return true;
}

static bool oc_det_json_number(const oc_json_t *v, double *out) {
  if (v->type == OC_JSON_NUMBER) return oc_json_double(v, out);
  if (v->type == OC_JSON_STRING) return oc_det_numeric_text(v->s, v->len, out);
  return false;
}

static inline char oc_det_lc(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool oc_det_ieq(const char *a, const char *lower, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (oc_det_lc(a[i]) != lower[i]) return false;
  return true;
}

/* Case-insensitive substring search of needle (lower-cased) in hay. */
static bool oc_det_icontains(const char *hay, size_t hn, const char *lower, size_t nn) {
  if (nn == 0) return true;
  if (nn > hn) return false;
  for (size_t i = 0; i + nn <= hn; i++)
    if (oc_det_lc(hay[i]) == lower[0] && oc_det_ieq(hay + i, lower, nn)) return true;
  return false;
}

static bool oc_det_value_compile(oc_arena_t *a, const yaml_node_t *node, oc_det_value_t *val) {
  size_t n = node->data.scalar.length;
  const char *s = (const char *)node->data.scalar.value;
  memset(val, 0, sizeof(*val));
  val->s = oc_arena_strndup(a, s, n);
  char *lower = oc_arena_strndup(a, s, n);
  if (!val->s || !lower) return false;
  for (size_t i = 0; i < n; i++)
    lower[i] = oc_det_lc(lower[i]);
  val->lower = lower;
  val->len = (uint32_t)n;
  bool plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (plain && (n == 0 || strcmp(lower, "~") == 0 || strcmp(lower, "null") == 0))
    val->is_null = true;
  if (strcmp(lower, "true") == 0 || strcmp(lower, "false") == 0) {
    val->is_bool = true;
    val->bval = lower[0] == 't';
  }
  val->is_num = oc_det_numeric_text(s, n, &val->num);
  return true;
}

/* ---- leaf predicates --------------------------------------------------------------- */

static bool oc_det_eq(const oc_det_value_t *val, const oc_json_t *v) {
  switch (v->type) {
    case OC_JSON_STRING:
      return !val->is_null && v->len == val->len && memcmp(v->s, val->s, v->len) == 0;
    case OC_JSON_NUMBER: {
      double d;
      if (!val->is_num) return false;
      if (v->len == val->len && memcmp(v->s, val->s, v->len) == 0) return true;
      return oc_json_double(v, &d) && d == val->num;
    }
    case OC_JSON_TRUE:
      return val->is_bool && val->bval;
    case OC_JSON_FALSE:
      return val->is_bool && !val->bval;
    case OC_JSON_NULL:
      return val->is_null;
    default:
      return false;
  }
}

static bool oc_det_ieq_value(const oc_det_value_t *val, const oc_json_t *v) {
  if (v->type == OC_JSON_STRING)
    return !val->is_null && v->len == val->len && oc_det_ieq(v->s, val->lower, v->len);
  return oc_det_eq(val, v);
}

static bool oc_det_leaf_equals(const void *arg, const oc_json_t *v) {
  return v && oc_det_eq(&((const oc_det_node_t *)arg)->val, v);
}

static bool oc_det_leaf_iequals(const void *arg, const oc_json_t *v) {
  return v && oc_det_ieq_value(&((const oc_det_node_t *)arg)->val, v);
}

static bool oc_det_leaf_contains(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  if (!v) return false;
  if (v->type == OC_JSON_STRING)
    return val->len == 0 || memmem(v->s, v->len, val->s, val->len) != NULL;
  if (v->type == OC_JSON_ARRAY) {
    for (const oc_json_t *e = v->child; e; e = e->next)
      if (oc_det_eq(val, e)) return true;
  }
  return false;
}

static bool oc_det_leaf_icontains(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  if (!v) return false;
  if (v->type == OC_JSON_STRING) return oc_det_icontains(v->s, v->len, val->lower, val->len);
  if (v->type == OC_JSON_ARRAY) {
    for (const oc_json_t *e = v->child; e; e = e->next)
      if (oc_det_ieq_value(val, e)) return true;
  }
  return false;
}

static bool oc_det_leaf_starts(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  return v && v->type == OC_JSON_STRING && v->len >= val->len &&
         memcmp(v->s, val->s, val->len) == 0;
}

static bool oc_det_leaf_istarts(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  return v && v->type == OC_JSON_STRING && v->len >= val->len &&
         oc_det_ieq(v->s, val->lower, val->len);
}

static bool oc_det_leaf_ends(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  return v && v->type == OC_JSON_STRING && v->len >= val->len &&
         memcmp(v->s + v->len - val->len, val->s, val->len) == 0;
}

static bool oc_det_leaf_iends(const void *arg, const oc_json_t *v) {
  const oc_det_value_t *val = &((const oc_det_node_t *)arg)->val;
  return v && v->type == OC_JSON_STRING && v->len >= val->len &&
         oc_det_ieq(v->s + v->len - val->len, val->lower, val->len);
}

static bool oc_det_leaf_exists(const void *arg, const oc_json_t *v) {
  return v != NULL;
}

static bool oc_det_leaf_null(const void *arg, const oc_json_t *v) {
  return !v || v->type == OC_JSON_NULL;
}

static bool oc_det_leaf_null_or_empty(const void *arg, const oc_json_t *v) {
  if (!v || v->type == OC_JSON_NULL) return true;
  if (v->type == OC_JSON_STRING) return v->len == 0;
  if (v->type == OC_JSON_ARRAY || v->type == OC_JSON_OBJECT) return v->child == NULL;
  return false;
}

static bool oc_det_leaf_gt(const void *arg, const oc_json_t *v) {
  double d;
  return v && oc_det_json_number(v, &d) && d > ((const oc_det_node_t *)arg)->val.num;
}

static bool oc_det_leaf_ge(const void *arg, const oc_json_t *v) {
  double d;
  return v && oc_det_json_number(v, &d) && d >= ((const oc_det_node_t *)arg)->val.num;
}

static bool oc_det_leaf_lt(const void *arg, const oc_json_t *v) {
  double d;
  return v && oc_det_json_number(v, &d) && d < ((const oc_det_node_t *)arg)->val.num;
}

static bool oc_det_leaf_le(const void *arg, const oc_json_t *v) {
  double d;
  return v && oc_det_json_number(v, &d) && d <= ((const oc_det_node_t *)arg)->val.num;
}

static int oc_det_strcmp(const char *a, size_t an, const char *b, size_t bn) {
  if (an != bn) return an < bn ? -1 : 1;
  return memcmp(a, b, an);
}

static bool oc_det_leaf_in(const void *arg, const oc_json_t *v) {
  const oc_det_node_t *m = arg;
  if (!v) return false;
  switch (v->type) {
    case OC_JSON_STRING: {
      size_t lo = 0, hi = m->nstrs;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = oc_det_strcmp(v->s, v->len, m->strs[mid].s, m->strs[mid].len);
        if (c == 0) return true;
        if (c < 0)
          hi = mid;
        else
          lo = mid + 1;
      }
      return false;
    }
    case OC_JSON_NUMBER: {
      double d;
      if (!m->nnums || !oc_json_double(v, &d)) return false;
      size_t lo = 0, hi = m->nnums;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->nums[mid] == d) return true;
        if (d < m->nums[mid])
          hi = mid;
        else
          lo = mid + 1;
      }
      return false;
    }
    case OC_JSON_TRUE:
      return m->in_true;
    case OC_JSON_FALSE:
      return m->in_false;
    case OC_JSON_NULL:
      return m->in_null;
    default:
      return false;
  }
}

/* ---- IP addresses ------------------------------------------------------------------ */

/* Parses an IPv4 or IPv6 address (no zone, no brackets, no surrounding space) into 16
 * bytes, IPv4 as ::ffff:a.b.c.d; *v4_text says whether it was written as IPv4. */
static bool oc_det_ip_parse(const char *s, size_t n, uint8_t out[16], bool *v4_text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (n == 0 || n >= sizeof(buf)) return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (memchr(buf, ':', n)) {
    *v4_text = false;
    return inet_pton(AF_INET6, buf, out) == 1;
  }
  memset(out, 0, 10);
  out[10] = out[11] = 0xff;
  *v4_text = true;
  return inet_pton(AF_INET, buf, out + 12) == 1;
}

static bool oc_det_ip_mapped(const uint8_t a[16]) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, 12) == 0;
}

static bool oc_det_ip_of(const oc_json_t *v, uint8_t out[16], bool *v4_text) {
  return v && v->type == OC_JSON_STRING && oc_det_ip_parse(v->s, v->len, out, v4_text);
}

/* Private: RFC 1918, shared address space (100.64.0.0/10), loopback, link-local, IPv6
 * unique local (fc00::/7), link-local (fe80::/10) and ::1. */
static bool oc_det_ip_private(const uint8_t a[16]) {
  if (oc_det_ip_mapped(a)) {
    const uint8_t *b = a + 12;
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 100 && (b[1] & 0xc0) == 64) || b[0] == 127 || (b[0] == 169 && b[1] == 254);
  }
  static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
         memcmp(a, loop, 16) == 0;
}

/* Public: routable unicast: not private, not "this network" (0.0.0.0/8, ::), not
 * multicast, reserved or broadcast (224.0.0.0 and up, ff00::/8). */
static bool oc_det_ip_public(const uint8_t a[16]) {
  static const uint8_t zero[16] = {0};
  if (oc_det_ip_private(a)) return false;
  if (oc_det_ip_mapped(a)) return a[12] != 0 && a[12] < 224;
  return a[0] != 0xff && memcmp(a, zero, 16) != 0;
}

static bool oc_det_cidr_has(const oc_det_cidr_t *c, const uint8_t a[16]) {
  uint32_t full = c->bits / 8, rest = c->bits % 8;
  if (memcmp(c->addr, a, full) != 0) return false;
  if (!rest) return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (c->addr[full] & mask) == (a[full] & mask);
}

/* "a.b.c.d/n", "x::y/n" or a bare address (/32, /128). Host bits are cleared. */
static bool oc_det_cidr_parse(const char *s, size_t n, oc_det_cidr_t *out) {
  const char *slash = memchr(s, '/', n);
  size_t alen = slash ? (size_t)(slash - s) : n;
  bool v4;
  if (!oc_det_ip_parse(s, alen, out->addr, &v4)) return false;
  uint32_t max = v4 ? 32 : 128, bits = max;
  if (slash) {
    size_t plen = n - alen - 1, p;
    if (plen == 0 || plen > 3 || !oc_det_digits(slash + 1, plen, &p) || p > max) return false;
    bits = (uint32_t)p;
  }
  out->bits = v4 ? bits + 96 : bits;
  for (uint32_t i = out->bits; i < 128; i++)
    out->addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
  return true;
}

static bool oc_det_leaf_ip(const void *arg, const oc_json_t *v) {
  uint8_t a[16];
  bool v4;
  return oc_det_ip_of(v, a, &v4);
}

static bool oc_det_leaf_ipv4(const void *arg, const oc_json_t *v) {
  uint8_t a[16];
  bool v4;
  return oc_det_ip_of(v, a, &v4) && v4;
}

static bool oc_det_leaf_ipv6(const void *arg, const oc_json_t *v) {
  uint8_t a[16];
  bool v4;
  return oc_det_ip_of(v, a, &v4) && !v4;
}

static bool oc_det_leaf_ip_private(const void *arg, const oc_json_t *v) {
  uint8_t a[16];
  bool v4;
  return oc_det_ip_of(v, a, &v4) && oc_det_ip_private(a);
}

static bool oc_det_leaf_ip_public(const void *arg, const oc_json_t *v) {
  uint8_t a[16];
  bool v4;
  return oc_det_ip_of(v, a, &v4) && oc_det_ip_public(a);
}

static bool oc_det_leaf_in_cidr(const void *arg, const oc_json_t *v) {
  const oc_det_node_t *m = arg;
  uint8_t a[16];
  bool v4;
  if (!oc_det_ip_of(v, a, &v4)) return false;
  for (uint32_t i = 0; i < m->ncidrs; i++)
    if (oc_det_cidr_has(&m->cidrs[i], a)) return true;
  return false;
}

/* ---- two-key predicates (multi-key match expressions) ------------------------------ */

static bool oc_det_ieq2(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (oc_det_lc(a[i]) != oc_det_lc(b[i])) return false;
  return true;
}

/* Equality between two event values: strings by bytes, numbers (or numeric strings
 * against numbers) numerically, booleans and null by type; objects and arrays never. */
static bool oc_det_pair_eq(const oc_json_t *a, const oc_json_t *b) {
  double x, y;
  if (a->type == OC_JSON_STRING && b->type == OC_JSON_STRING)
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
  if (a->type == OC_JSON_NUMBER || b->type == OC_JSON_NUMBER)
    return oc_det_json_number(a, &x) && oc_det_json_number(b, &y) && x == y;
  if (a->type == OC_JSON_ARRAY || a->type == OC_JSON_OBJECT) return false;
  return a->type == b->type; /* true, false, null */
}

static bool oc_det_pair_ieq(const oc_json_t *a, const oc_json_t *b) {
  if (a->type == OC_JSON_STRING && b->type == OC_JSON_STRING)
    return a->len == b->len && oc_det_ieq2(a->s, b->s, a->len);
  return oc_det_pair_eq(a, b);
}

static bool oc_det_pair_nums(const oc_json_t *a, const oc_json_t *b, double *x, double *y) {
  return oc_det_json_number(a, x) && oc_det_json_number(b, y);
}

static bool oc_det_pair_gt(const oc_json_t *a, const oc_json_t *b) {
  double x, y;
  return oc_det_pair_nums(a, b, &x, &y) && x > y;
}

static bool oc_det_pair_ge(const oc_json_t *a, const oc_json_t *b) {
  double x, y;
  return oc_det_pair_nums(a, b, &x, &y) && x >= y;
}

static bool oc_det_pair_lt(const oc_json_t *a, const oc_json_t *b) {
  double x, y;
  return oc_det_pair_nums(a, b, &x, &y) && x < y;
}

static bool oc_det_pair_le(const oc_json_t *a, const oc_json_t *b) {
  double x, y;
  return oc_det_pair_nums(a, b, &x, &y) && x <= y;
}

/* a contains b: a substring of a string, or an element of an array equal to b. */
static bool oc_det_pair_contains_ci(const oc_json_t *a, const oc_json_t *b, bool ci) {
  if (a->type == OC_JSON_ARRAY) {
    for (const oc_json_t *e = a->child; e; e = e->next)
      if (ci ? oc_det_pair_ieq(e, b) : oc_det_pair_eq(e, b)) return true;
    return false;
  }
  if (a->type != OC_JSON_STRING || b->type != OC_JSON_STRING) return false;
  if (b->len == 0) return true;
  if (!ci) return memmem(a->s, a->len, b->s, b->len) != NULL;
  for (size_t i = 0; i + b->len <= a->len; i++)
    if (oc_det_ieq2(a->s + i, b->s, b->len)) return true;
  return false;
}

static bool oc_det_pair_contains(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_contains_ci(a, b, false);
}

static bool oc_det_pair_icontains(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_contains_ci(a, b, true);
}

static bool oc_det_pair_strs(const oc_json_t *a, const oc_json_t *b) {
  return a->type == OC_JSON_STRING && b->type == OC_JSON_STRING && a->len >= b->len;
}

static bool oc_det_pair_starts(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_strs(a, b) && memcmp(a->s, b->s, b->len) == 0;
}

static bool oc_det_pair_istarts(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_strs(a, b) && oc_det_ieq2(a->s, b->s, b->len);
}

static bool oc_det_pair_ends(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_strs(a, b) && memcmp(a->s + a->len - b->len, b->s, b->len) == 0;
}

static bool oc_det_pair_iends(const oc_json_t *a, const oc_json_t *b) {
  return oc_det_pair_strs(a, b) && oc_det_ieq2(a->s + a->len - b->len, b->s, b->len);
}

/* The conditions. Names are matched case-insensitively. */
static const oc_det_cond_t oc_det_conds[] = {
    {"Equals", OC_DET_ARG_VALUE, false, oc_det_leaf_equals, oc_det_pair_eq, 0},
    {"DoesNotEqual", OC_DET_ARG_VALUE, true, oc_det_leaf_equals, oc_det_pair_eq, 0},
    {"IEquals", OC_DET_ARG_VALUE, false, oc_det_leaf_iequals, oc_det_pair_ieq, 0},
    {"IDoesNotEqual", OC_DET_ARG_VALUE, true, oc_det_leaf_iequals, oc_det_pair_ieq, 0},
    {"IsIn", OC_DET_ARG_VALUES, false, oc_det_leaf_in, NULL, 0},
    {"IsNotIn", OC_DET_ARG_VALUES, true, oc_det_leaf_in, NULL, 0},
    {"Contains", OC_DET_ARG_VALUE, false, oc_det_leaf_contains, oc_det_pair_contains, 0},
    {"DoesNotContain", OC_DET_ARG_VALUE, true, oc_det_leaf_contains, oc_det_pair_contains, 0},
    {"IContains", OC_DET_ARG_VALUE, false, oc_det_leaf_icontains, oc_det_pair_icontains, 0},
    {"IDoesNotContain", OC_DET_ARG_VALUE, true, oc_det_leaf_icontains, oc_det_pair_icontains, 0},
    {"StartsWith", OC_DET_ARG_VALUE, false, oc_det_leaf_starts, oc_det_pair_starts, 0},
    {"DoesNotStartWith", OC_DET_ARG_VALUE, true, oc_det_leaf_starts, oc_det_pair_starts, 0},
    {"IStartsWith", OC_DET_ARG_VALUE, false, oc_det_leaf_istarts, oc_det_pair_istarts, 0},
    {"IDoesNotStartWith", OC_DET_ARG_VALUE, true, oc_det_leaf_istarts, oc_det_pair_istarts, 0},
    {"EndsWith", OC_DET_ARG_VALUE, false, oc_det_leaf_ends, oc_det_pair_ends, 0},
    {"DoesNotEndWith", OC_DET_ARG_VALUE, true, oc_det_leaf_ends, oc_det_pair_ends, 0},
    {"IEndsWith", OC_DET_ARG_VALUE, false, oc_det_leaf_iends, oc_det_pair_iends, 0},
    {"IDoesNotEndWith", OC_DET_ARG_VALUE, true, oc_det_leaf_iends, oc_det_pair_iends, 0},
    {"Exists", OC_DET_ARG_NONE, false, oc_det_leaf_exists, NULL, 0},
    {"DoesNotExist", OC_DET_ARG_NONE, true, oc_det_leaf_exists, NULL, 0},
    {"IsNull", OC_DET_ARG_NONE, false, oc_det_leaf_null, NULL, 0},
    {"IsNotNull", OC_DET_ARG_NONE, true, oc_det_leaf_null, NULL, 0},
    {"IsNullOrEmpty", OC_DET_ARG_NONE, false, oc_det_leaf_null_or_empty, NULL, 0},
    {"IsNotNullOrEmpty", OC_DET_ARG_NONE, true, oc_det_leaf_null_or_empty, NULL, 0},
    {"GreaterThan", OC_DET_ARG_NUMBER, false, oc_det_leaf_gt, oc_det_pair_gt, 0},
    {"IsGreaterThan", OC_DET_ARG_NUMBER, false, oc_det_leaf_gt, oc_det_pair_gt, 0},
    {"GreaterThanOrEqual", OC_DET_ARG_NUMBER, false, oc_det_leaf_ge, oc_det_pair_ge, 0},
    {"IsGreaterThanOrEqual", OC_DET_ARG_NUMBER, false, oc_det_leaf_ge, oc_det_pair_ge, 0},
    {"LessThan", OC_DET_ARG_NUMBER, false, oc_det_leaf_lt, oc_det_pair_lt, 0},
    {"IsLessThan", OC_DET_ARG_NUMBER, false, oc_det_leaf_lt, oc_det_pair_lt, 0},
    {"LessThanOrEqual", OC_DET_ARG_NUMBER, false, oc_det_leaf_le, oc_det_pair_le, 0},
    {"IsLessThanOrEqual", OC_DET_ARG_NUMBER, false, oc_det_leaf_le, oc_det_pair_le, 0},
    {"IsIPAddress", OC_DET_ARG_NONE, false, oc_det_leaf_ip, NULL, 0},
    {"IsIPv4Address", OC_DET_ARG_NONE, false, oc_det_leaf_ipv4, NULL, 0},
    {"IsIPAddressIPv4", OC_DET_ARG_NONE, false, oc_det_leaf_ipv4, NULL, 0},
    {"IsIPv6Address", OC_DET_ARG_NONE, false, oc_det_leaf_ipv6, NULL, 0},
    {"IsIPAddressIPv6", OC_DET_ARG_NONE, false, oc_det_leaf_ipv6, NULL, 0},
    {"IsIPAddressPrivate", OC_DET_ARG_NONE, false, oc_det_leaf_ip_private, NULL, 0},
    {"IsIPAddressPublic", OC_DET_ARG_NONE, false, oc_det_leaf_ip_public, NULL, 0},
    {"IsIPAddressInCIDR", OC_DET_ARG_CIDRS, false, oc_det_leaf_in_cidr, NULL, 0},
    {"IsIPAddressNotInCIDR", OC_DET_ARG_CIDRS, true, oc_det_leaf_in_cidr, NULL, 0},
    {"AnyElement", OC_DET_ARG_EXPRS, false, NULL, NULL, OC_DET_Q_ANY},
    {"AllElements", OC_DET_ARG_EXPRS, false, NULL, NULL, OC_DET_Q_ALL},
    {"OnlyOneElement", OC_DET_ARG_EXPRS, false, NULL, NULL, OC_DET_Q_ONE},
    {"NoElement", OC_DET_ARG_EXPRS, true, NULL, NULL, OC_DET_Q_ANY},
    {"AlwaysTrue", OC_DET_ARG_CONST, false, NULL, NULL, 1},
    {"AlwaysFalse", OC_DET_ARG_CONST, false, NULL, NULL, 0},
};
#define OC_DET_NCONDS (sizeof(oc_det_conds) / sizeof(oc_det_conds[0]))

const char *oc_det_condition_name(size_t i) {
  return i < OC_DET_NCONDS ? oc_det_conds[i].name : NULL;
}

static const oc_det_cond_t *oc_det_cond_find(const char *name, size_t len) {
  for (size_t i = 0; i < OC_DET_NCONDS; i++)
    if (strlen(oc_det_conds[i].name) == len && strncasecmp(oc_det_conds[i].name, name, len) == 0)
      return &oc_det_conds[i];
  return NULL;
}

/* ---- compilation ------------------------------------------------------------------- */

typedef struct oc_det_compiler {
  oc_arena_t *a;
  oc_det_keys_t *keys;
  yaml_document_t *doc;
  size_t nodes;
  int err_line;
  char *errstr;
  size_t errstr_size;
} oc_det_compiler_t;

static oc_det_node_t *oc_det_fail(oc_det_compiler_t *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static oc_det_node_t *oc_det_fail(oc_det_compiler_t *c, const yaml_node_t *at, const char *fmt,
                                  ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->errstr, c->errstr_size, fmt, ap);
  va_end(ap);
  c->err_line = at ? (int)at->start_mark.line + 1 : 0;
  return NULL;
}

static bool oc_det_is(const yaml_node_t *key, const char *name) {
  return key && key->type == YAML_SCALAR_NODE && key->data.scalar.length == strlen(name) &&
         memcmp(key->data.scalar.value, name, key->data.scalar.length) == 0;
}

static const char *oc_det_kind(const yaml_node_t *n) {
  switch (n->type) {
    case YAML_SCALAR_NODE:
      return "a scalar";
    case YAML_SEQUENCE_NODE:
      return "a list";
    case YAML_MAPPING_NODE:
      return "a mapping";
    default:
      return "nothing";
  }
}

static oc_det_node_t *oc_det_compile_node(oc_det_compiler_t *c, yaml_node_t *node, int depth);

static oc_det_node_t *oc_det_compile_list(oc_det_compiler_t *c, oc_det_op_t op, const char *what,
                                          yaml_node_t *seq, int depth) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return oc_det_fail(c, seq, "%s must be a list of match expressions, found %s", what,
                       oc_det_kind(seq));
  size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (n == 0) return oc_det_fail(c, seq, "%s is an empty list", what);
  oc_det_node_t *node = oc_arena_alloc(c->a, sizeof(*node));
  oc_det_node_t **kids = oc_arena_alloc(c->a, n * sizeof(*kids));
  if (!node || !kids) return oc_det_fail(c, seq, "out of memory");
  memset(node, 0, sizeof(*node));
  node->op = op;
  node->line = (int)seq->start_mark.line + 1;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
    if (!item) return oc_det_fail(c, seq, "%s has a broken entry", what);
    if (item->type != YAML_MAPPING_NODE)
      return oc_det_fail(c, item, "%s entries must be match expressions (mappings), found %s", what,
                         oc_det_kind(item));
    kids[i] = oc_det_compile_node(c, item, depth + 1);
    if (!kids[i]) return NULL;
  }
  node->kids = kids;
  node->nkids = (uint32_t)n;
  return node;
}

static int oc_det_value_cmp(const void *pa, const void *pb) {
  const oc_det_value_t *a = pa, *b = pb;
  return oc_det_strcmp(a->s, a->len, b->s, b->len);
}

static int oc_det_double_cmp(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return a < b ? -1 : a > b ? 1 : 0;
}

static bool oc_det_compile_values(oc_det_compiler_t *c, oc_det_node_t *m, yaml_node_t *seq) {
  if (seq->type != YAML_SEQUENCE_NODE) {
    oc_det_fail(c, seq, "Values must be a list, found %s", oc_det_kind(seq));
    return false;
  }
  size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (n == 0) {
    oc_det_fail(c, seq, "Values is an empty list");
    return false;
  }
  if (n > OC_DET_MAX_VALUES) {
    oc_det_fail(c, seq, "Values has more than %d entries", OC_DET_MAX_VALUES);
    return false;
  }
  oc_det_value_t *strs = oc_arena_alloc(c->a, n * sizeof(*strs));
  double *nums = oc_arena_alloc(c->a, n * sizeof(*nums));
  if (!strs || !nums) {
    oc_det_fail(c, seq, "out of memory");
    return false;
  }
  size_t ns = 0, nn = 0;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
    oc_det_value_t v;
    if (!item || item->type != YAML_SCALAR_NODE) {
      oc_det_fail(c, item ? item : seq, "Values entries must be scalars, found %s",
                  item ? oc_det_kind(item) : "nothing");
      return false;
    }
    if (!oc_det_value_compile(c->a, item, &v)) {
      oc_det_fail(c, item, "out of memory");
      return false;
    }
    if (v.is_null) {
      m->in_null = true;
      continue;
    }
    if (v.is_bool) {
      if (v.bval)
        m->in_true = true;
      else
        m->in_false = true;
    }
    if (v.is_num) nums[nn++] = v.num;
    strs[ns++] = v;
  }
  if (ns) qsort(strs, ns, sizeof(*strs), oc_det_value_cmp);
  if (nn) qsort(nums, nn, sizeof(*nums), oc_det_double_cmp);
  m->strs = strs;
  m->nstrs = (uint32_t)ns;
  m->nums = nums;
  m->nnums = (uint32_t)nn;
  return true;
}

/* Compiles a Key / KeyPath / DeepKey specifier (spec_key names which) into *out. */
static bool oc_det_compile_spec(oc_det_compiler_t *c, const char *which, yaml_node_t *spec,
                                oc_det_path_t *out) {
  char why[256];
  if (strcmp(which, "DeepKey") != 0) {
    if (spec->type != YAML_SCALAR_NODE) {
      oc_det_fail(c, spec, "%s must be a string, found %s", which, oc_det_kind(spec));
      return false;
    }
    if (!oc_det_path_compile(c->a, c->keys,
                             strcmp(which, "Key") == 0 ? OC_DET_PATH_KEY : OC_DET_PATH_KEYPATH,
                             (const char *)spec->data.scalar.value, spec->data.scalar.length, out,
                             why, sizeof(why))) {
      oc_det_fail(c, spec, "%s", why);
      return false;
    }
    return true;
  }
  if (spec->type != YAML_SEQUENCE_NODE) {
    oc_det_fail(c, spec, "DeepKey must be a list of keys, found %s", oc_det_kind(spec));
    return false;
  }
  size_t n = (size_t)(spec->data.sequence.items.top - spec->data.sequence.items.start);
  const char *names[OC_DET_MAX_PATH_STEPS];
  size_t lens[OC_DET_MAX_PATH_STEPS];
  if (n > OC_DET_MAX_PATH_STEPS) {
    oc_det_fail(c, spec, "DeepKey has more than %d keys", OC_DET_MAX_PATH_STEPS);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, spec->data.sequence.items.start[i]);
    if (!item || item->type != YAML_SCALAR_NODE) {
      oc_det_fail(c, item ? item : spec, "DeepKey entries must be strings");
      return false;
    }
    names[i] = (const char *)item->data.scalar.value;
    lens[i] = item->data.scalar.length;
  }
  if (!oc_det_path_compile_deep(c->a, c->keys, names, lens, n, out, why, sizeof(why))) {
    oc_det_fail(c, spec, "%s", why);
    return false;
  }
  return true;
}

/* One entry of a multi-key Values list: a mapping with exactly one key specifier. */
static bool oc_det_compile_key_entry(oc_det_compiler_t *c, yaml_node_t *item, oc_det_path_t *out) {
  static const char *const specs[] = {"Key", "KeyPath", "DeepKey"};
  if (item->type != YAML_MAPPING_NODE ||
      item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1) {
    oc_det_fail(c, item,
                "multi-key Values entries must be one of {Key: ...}, {KeyPath: ...}, "
                "{DeepKey: [...]}");
    return false;
  }
  yaml_node_pair_t *p = item->data.mapping.pairs.start;
  yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
  yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
  for (size_t i = 0; k && v && i < 3; i++)
    if (oc_det_is(k, specs[i])) return oc_det_compile_spec(c, specs[i], v, out);
  oc_det_fail(c, item, "multi-key Values entries take Key, KeyPath or DeepKey");
  return false;
}

static bool oc_det_compile_cidrs(oc_det_compiler_t *c, oc_det_node_t *m, yaml_node_t *value,
                                 yaml_node_t *values) {
  yaml_node_t *one = value;
  size_t n = 1;
  if (values) {
    if (values->type != YAML_SEQUENCE_NODE) {
      oc_det_fail(c, values, "Values must be a list of CIDRs, found %s", oc_det_kind(values));
      return false;
    }
    n = (size_t)(values->data.sequence.items.top - values->data.sequence.items.start);
    if (n == 0 || n > OC_DET_MAX_VALUES) {
      oc_det_fail(c, values, "Values must list between 1 and %d CIDRs", OC_DET_MAX_VALUES);
      return false;
    }
  }
  oc_det_cidr_t *cidrs = oc_arena_alloc(c->a, n * sizeof(*cidrs));
  if (!cidrs) {
    oc_det_fail(c, value ? value : values, "out of memory");
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item =
        values ? yaml_document_get_node(c->doc, values->data.sequence.items.start[i]) : one;
    if (!item || item->type != YAML_SCALAR_NODE) {
      oc_det_fail(c, item ? item : values, "a CIDR must be a string, found %s",
                  item ? oc_det_kind(item) : "nothing");
      return false;
    }
    if (!oc_det_cidr_parse((const char *)item->data.scalar.value, item->data.scalar.length,
                           &cidrs[i])) {
      oc_det_fail(c, item, "malformed CIDR \"%.*s\"",
                  (int)(item->data.scalar.length > 64 ? 64 : item->data.scalar.length),
                  (const char *)item->data.scalar.value);
      return false;
    }
  }
  m->cidrs = cidrs;
  m->ncidrs = (uint32_t)n;
  return true;
}

static oc_det_node_t *oc_det_compile_match(oc_det_compiler_t *c, yaml_node_t *map, int depth) {
  yaml_node_t *key = NULL, *keypath = NULL, *deepkey = NULL, *cond = NULL, *value = NULL,
              *values = NULL, *exprs = NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    yaml_node_t **slot = NULL;
    if (!k || !v) return oc_det_fail(c, map, "broken mapping");
    if (oc_det_is(k, "Key"))
      slot = &key;
    else if (oc_det_is(k, "KeyPath"))
      slot = &keypath;
    else if (oc_det_is(k, "DeepKey"))
      slot = &deepkey;
    else if (oc_det_is(k, "Condition"))
      slot = &cond;
    else if (oc_det_is(k, "Value"))
      slot = &value;
    else if (oc_det_is(k, "Values"))
      slot = &values;
    else if (oc_det_is(k, "Expressions"))
      slot = &exprs;
    if (!slot) {
      if (k->type != YAML_SCALAR_NODE)
        return oc_det_fail(c, k, "match expression keys must be scalars");
      return oc_det_fail(c, k, "unknown key \"%.*s\" in match expression",
                         (int)k->data.scalar.length, (const char *)k->data.scalar.value);
    }
    if (*slot) return oc_det_fail(c, k, "duplicate key in match expression");
    *slot = v;
  }
  int nspec = (key != NULL) + (keypath != NULL) + (deepkey != NULL);
  if (nspec > 1)
    return oc_det_fail(c, map, "a match expression takes only one of Key, KeyPath and DeepKey");
  if (!cond) return oc_det_fail(c, map, "match expression without Condition");
  if (cond->type != YAML_SCALAR_NODE)
    return oc_det_fail(c, cond, "Condition must be a name, found %s", oc_det_kind(cond));

  oc_det_node_t *m = oc_arena_alloc(c->a, sizeof(*m));
  if (!m) return oc_det_fail(c, map, "out of memory");
  memset(m, 0, sizeof(*m));
  m->op = OC_DET_MATCH;
  m->line = (int)map->start_mark.line + 1;
  m->cond = oc_det_cond_find((const char *)cond->data.scalar.value, cond->data.scalar.length);
  if (!m->cond)
    return oc_det_fail(c, cond, "unknown condition \"%.*s\"", (int)cond->data.scalar.length,
                       (const char *)cond->data.scalar.value);
  if (exprs && m->cond->arg != OC_DET_ARG_EXPRS)
    return oc_det_fail(c, exprs,
                       "condition %s takes no Expressions (only AnyElement, AllElements, "
                       "OnlyOneElement and NoElement do)",
                       m->cond->name);

  /* Absolute: no key, no value. */
  if (m->cond->arg == OC_DET_ARG_CONST) {
    if (nspec || value || values)
      return oc_det_fail(c, map, "condition %s takes no key and no Value", m->cond->name);
    m->op = OC_DET_CONST;
    return m;
  }

  /* Multi-key: no key specifier, Values lists two keys. */
  if (nspec == 0) {
    yaml_node_t *first = values && values->type == YAML_SEQUENCE_NODE &&
                                 values->data.sequence.items.top > values->data.sequence.items.start
                             ? yaml_document_get_node(c->doc, values->data.sequence.items.start[0])
                             : NULL;
    if (!first || first->type != YAML_MAPPING_NODE)
      return oc_det_fail(c, map, "match expression without Key, KeyPath or DeepKey");
    if (!m->cond->pair)
      return oc_det_fail(c, values, "condition %s cannot compare two keys", m->cond->name);
    if (value) return oc_det_fail(c, value, "a multi-key match expression takes no Value");
    if (values->data.sequence.items.top - values->data.sequence.items.start != 2)
      return oc_det_fail(c, values, "a multi-key match expression compares exactly two keys");
    yaml_node_t *second = yaml_document_get_node(c->doc, values->data.sequence.items.start[1]);
    if (!second) return oc_det_fail(c, values, "Values has a broken entry");
    if (!oc_det_compile_key_entry(c, first, &m->path)) return NULL;
    if (!oc_det_compile_key_entry(c, second, &m->path2)) return NULL;
    m->op = OC_DET_MULTI;
    return m;
  }

  if (key && !oc_det_compile_spec(c, "Key", key, &m->path)) return NULL;
  if (keypath && !oc_det_compile_spec(c, "KeyPath", keypath, &m->path)) return NULL;
  if (deepkey && !oc_det_compile_spec(c, "DeepKey", deepkey, &m->path)) return NULL;

  switch (m->cond->arg) {
    case OC_DET_ARG_NONE:
      if (value || values)
        return oc_det_fail(c, value ? value : values, "condition %s takes no Value", m->cond->name);
      break;
    case OC_DET_ARG_VALUE:
    case OC_DET_ARG_NUMBER:
      if (values)
        return oc_det_fail(c, values, "condition %s takes one Value, not Values", m->cond->name);
      if (!value) return oc_det_fail(c, map, "condition %s needs a Value", m->cond->name);
      if (value->type != YAML_SCALAR_NODE)
        return oc_det_fail(c, value, "Value must be a scalar, found %s", oc_det_kind(value));
      if (!oc_det_value_compile(c->a, value, &m->val))
        return oc_det_fail(c, value, "out of memory");
      if (m->cond->arg == OC_DET_ARG_NUMBER && !m->val.is_num)
        return oc_det_fail(c, value, "condition %s needs a numeric Value, found \"%s\"",
                           m->cond->name, m->val.s);
      break;
    case OC_DET_ARG_VALUES:
      if (value)
        return oc_det_fail(c, value, "condition %s needs Values (a list), not Value",
                           m->cond->name);
      if (!values) return oc_det_fail(c, map, "condition %s needs Values", m->cond->name);
      if (!oc_det_compile_values(c, m, values)) return NULL;
      break;
    case OC_DET_ARG_CIDRS:
      if (!value == !values)
        return oc_det_fail(c, value ? value : map,
                           "condition %s needs a CIDR as Value or a list of them as Values",
                           m->cond->name);
      if (!oc_det_compile_cidrs(c, m, value, values)) return NULL;
      break;
    case OC_DET_ARG_EXPRS: {
      if (value || values)
        return oc_det_fail(c, value ? value : values, "condition %s takes Expressions, not Value",
                           m->cond->name);
      if (!exprs) return oc_det_fail(c, map, "condition %s needs Expressions", m->cond->name);
      /* Inside, paths start at an element: they must not use the event's key cache. */
      oc_det_keys_t *keys = c->keys;
      c->keys = NULL;
      m->sub = oc_det_compile_list(c, OC_DET_ALL, "Expressions", exprs, depth);
      c->keys = keys;
      if (!m->sub) return NULL;
      m->op = OC_DET_LIST;
      break;
    }
    case OC_DET_ARG_CONST:
      break;
  }
  return m;
}

static oc_det_node_t *oc_det_compile_node(oc_det_compiler_t *c, yaml_node_t *node, int depth) {
  if (depth > OC_DET_MAX_DEPTH)
    return oc_det_fail(c, node, "match expressions nested deeper than %d", OC_DET_MAX_DEPTH);
  if (++c->nodes > OC_DET_MAX_NODES)
    return oc_det_fail(c, node, "detection has more than %d match expressions", OC_DET_MAX_NODES);
  if (node->type == YAML_SEQUENCE_NODE)
    return oc_det_compile_list(c, OC_DET_ALL, "Detection", node, depth);
  if (node->type != YAML_MAPPING_NODE)
    return oc_det_fail(c, node, "expected a match expression, found %s", oc_det_kind(node));

  static const struct {
    const char *name;
    oc_det_op_t op;
  } combinators[] = {
      {"All", OC_DET_ALL}, {"Any", OC_DET_ANY}, {"OnlyOne", OC_DET_ONLYONE}, {"None", OC_DET_NONE}};
  size_t npairs = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
  for (size_t i = 0; i < npairs; i++) {
    yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    for (size_t j = 0; j < sizeof(combinators) / sizeof(combinators[0]); j++) {
      if (!oc_det_is(k, combinators[j].name)) continue;
      if (npairs != 1)
        return oc_det_fail(c, node, "%s must be the only key of its mapping", combinators[j].name);
      yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
      if (!v) return oc_det_fail(c, node, "broken mapping");
      return oc_det_compile_list(c, combinators[j].op, combinators[j].name, v, depth);
    }
  }
  if (npairs == 0) return oc_det_fail(c, node, "empty match expression");
  return oc_det_compile_match(c, node, depth);
}

oc_det_node_t *oc_det_compile(oc_arena_t *a, oc_det_keys_t *keys, yaml_document_t *doc,
                              yaml_node_t *node, int *err_line, char *errstr, size_t errstr_size) {
  oc_det_compiler_t c = {
      .a = a, .keys = keys, .doc = doc, .errstr = errstr, .errstr_size = errstr_size};
  oc_det_node_t *root = oc_det_compile_node(&c, node, 0);
  if (!root && err_line) *err_line = c.err_line;
  return root;
}

/* ---- gates ------------------------------------------------------------------------- */

static bool oc_det_plain_string(const oc_det_value_t *v) {
  return !v->is_null && !v->is_num && !v->is_bool;
}

static bool oc_det_match_gate(const oc_det_node_t *m, oc_det_gate_t *gate) {
  if (m->op != OC_DET_MATCH || m->cond->negate) return false;
  if (m->path.deep || m->path.nsteps != 1 || m->path.steps[0].kind != OC_DET_STEP_KEY) return false;
  if (m->cond->leaf == oc_det_leaf_equals) {
    if (!oc_det_plain_string(&m->val)) return false;
    gate->nvalues = 1;
  } else if (m->cond->leaf == oc_det_leaf_in) {
    if (m->nnums || m->in_null || m->in_true || m->in_false || !m->nstrs) return false;
    for (uint32_t i = 0; i < m->nstrs; i++)
      if (!oc_det_plain_string(&m->strs[i])) return false;
    gate->nvalues = m->nstrs;
  } else {
    return false;
  }
  gate->path = &m->path;
  gate->match = m;
  return true;
}

bool oc_det_gate(const oc_det_node_t *root, oc_det_gate_t *gate) {
  if (root->op == OC_DET_MATCH) return oc_det_match_gate(root, gate);
  if (root->op != OC_DET_ALL) return false;
  for (uint32_t i = 0; i < root->nkids; i++)
    if (oc_det_match_gate(root->kids[i], gate)) return true;
  return false;
}

size_t oc_det_gates(const oc_det_node_t *root, oc_det_gate_t *gates, size_t max) {
  size_t n = 0;
  if (max == 0) return 0;
  if (root->op == OC_DET_MATCH) return oc_det_match_gate(root, &gates[0]) ? 1 : 0;
  if (root->op != OC_DET_ALL) return 0;
  for (uint32_t i = 0; i < root->nkids && n < max; i++)
    if (oc_det_match_gate(root->kids[i], &gates[n])) n++;
  return n;
}

void oc_det_gate_value(const oc_det_gate_t *gate, size_t i, const char **s, size_t *len) {
  const oc_det_node_t *m = gate->match;
  const oc_det_value_t *v = m->cond->leaf == oc_det_leaf_in ? &m->strs[i] : &m->val;
  *s = v->s;
  *len = v->len;
}

/* ---- evaluation -------------------------------------------------------------------- */

typedef struct oc_det_pair_arg {
  const oc_det_node_t *m;
  oc_det_ctx_t *ctx;
  const oc_json_t *a;
} oc_det_pair_arg_t;

static bool oc_det_leaf_pair_second(const void *arg, const oc_json_t *b) {
  const oc_det_pair_arg_t *p = arg;
  return b && p->m->cond->pair(p->a, b);
}

/* Any value of the first key against any value of the second. */
static bool oc_det_leaf_pair_first(const void *arg, const oc_json_t *a) {
  const oc_det_pair_arg_t *p = arg;
  if (!a) return false;
  oc_det_pair_arg_t q = {.m = p->m, .ctx = p->ctx, .a = a};
  return oc_det_path_any(p->ctx, &p->m->path2, oc_det_leaf_pair_second, &q);
}

typedef struct oc_det_list_arg {
  const oc_det_node_t *m;
  oc_det_ctx_t *ctx;
} oc_det_list_arg_t;

/* The quantifier over the elements of one array the key reached, each element being the
 * root of the nested Expressions. Not an array (or absent): false. */
static bool oc_det_leaf_list(const void *arg, const oc_json_t *v) {
  const oc_det_list_arg_t *l = arg;
  if (!v || v->type != OC_JSON_ARRAY) return false;
  oc_det_ctx_t *ctx = l->ctx;
  const oc_json_t *saved = ctx->root;
  oc_det_quant_t q = (oc_det_quant_t)l->m->cond->extra;
  uint32_t hits = 0;
  bool result = q == OC_DET_Q_ALL;
  for (const oc_json_t *e = v->child; e; e = e->next) {
    ctx->root = e;
    bool ok = oc_det_eval(ctx, l->m->sub);
    if (q == OC_DET_Q_ANY && ok) {
      result = true;
      break;
    }
    if (q == OC_DET_Q_ALL && !ok) {
      result = false;
      break;
    }
    if (q == OC_DET_Q_ONE && ok && ++hits > 1) break;
  }
  ctx->root = saved;
  return q == OC_DET_Q_ONE ? hits == 1 : result;
}

bool oc_det_eval(oc_det_ctx_t *ctx, const oc_det_node_t *node) {
  switch (node->op) {
    case OC_DET_ALL:
      for (uint32_t i = 0; i < node->nkids; i++)
        if (!oc_det_eval(ctx, node->kids[i])) return false;
      return true;
    case OC_DET_ANY:
      for (uint32_t i = 0; i < node->nkids; i++)
        if (oc_det_eval(ctx, node->kids[i])) return true;
      return false;
    case OC_DET_ONLYONE: {
      uint32_t hits = 0;
      for (uint32_t i = 0; i < node->nkids; i++)
        if (oc_det_eval(ctx, node->kids[i]) && ++hits > 1) return false;
      return hits == 1;
    }
    case OC_DET_NONE:
      for (uint32_t i = 0; i < node->nkids; i++)
        if (oc_det_eval(ctx, node->kids[i])) return false;
      return true;
    case OC_DET_MATCH:
      return oc_det_path_any(ctx, &node->path, node->cond->leaf, node) != node->cond->negate;
    case OC_DET_MULTI: {
      oc_det_pair_arg_t p = {.m = node, .ctx = ctx, .a = NULL};
      return oc_det_path_any(ctx, &node->path, oc_det_leaf_pair_first, &p) != node->cond->negate;
    }
    case OC_DET_LIST: {
      oc_det_list_arg_t l = {.m = node, .ctx = ctx};
      return oc_det_path_any(ctx, &node->path, oc_det_leaf_list, &l) != node->cond->negate;
    }
    case OC_DET_CONST:
      return node->cond->extra != 0;
  }
  return false;
}
