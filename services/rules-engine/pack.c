/* pack.c: Panther detection packs from a directory (pack.h). */
#include "services/rules-engine/pack.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/json.h"

/* ---- YAML 1.2 scalars -------------------------------------------------------------- */

static bool oc_yaml_is_null(const char *s, size_t n) {
  return n == 0 || (n == 1 && s[0] == '~') ||
         (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int oc_yaml_bool(const char *s, size_t n) {
  if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) return 1;
  if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
    return 0;
  return -1;
}

static bool oc_all(const char *s, size_t n, const char *set) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr(set, s[i])) return false;
  return true;
}

/* A plain scalar that YAML 1.2's core schema reads as a number, appended as JSON. */
static bool oc_yaml_number(const char *s, size_t n, oc_buf_t *out) {
  size_t i = 0;
  bool neg = false;
  if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const char *digits = s[1] == 'o' ? "01234567" : "0123456789abcdefABCDEF";
    char tmp[32];
    if (n - 2 >= sizeof(tmp) || !oc_all(s + 2, n - 2, digits)) return false;
    memcpy(tmp, s + 2, n - 2);
    tmp[n - 2] = '\0';
    errno = 0;
    unsigned long long v = strtoull(tmp, NULL, s[1] == 'o' ? 8 : 16);
    if (errno) return false;
    oc_buf_append_u64(out, v);
    return true;
  }
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  size_t int_start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9')
    i++;
  size_t int_end = i, frac_start = 0, frac_end = 0, exp_start = 0;
  bool dot = false;
  if (i < n && s[i] == '.') {
    dot = true;
    frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    frac_end = i;
  }
  if (int_end == int_start && (!dot || frac_end == frac_start)) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    exp_start = i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    if (i >= n || !oc_all(s + i, n - i, "0123456789")) return false;
    i = n;
  }
  if (i != n) return false;
  if (neg) oc_buf_putc(out, '-');
  /* JSON: no leading zeros, digits on both sides of the point. */
  size_t z = int_start;
  while (z + 1 < int_end && s[z] == '0')
    z++;
  if (int_end == int_start)
    oc_buf_putc(out, '0');
  else
    oc_buf_append(out, s + z, int_end - z);
  if (dot) {
    oc_buf_putc(out, '.');
    if (frac_end == frac_start)
      oc_buf_putc(out, '0');
    else
      oc_buf_append(out, s + frac_start, frac_end - frac_start);
  }
  if (exp_start) {
    oc_buf_putc(out, 'e');
    const char *e = s + exp_start + 1;
    if (*e == '+') e++;
    oc_buf_append(out, e, (size_t)(s + n - e));
  }
  return true;
}

static bool oc_yaml_json(yaml_document_t *doc, yaml_node_t *node, oc_buf_t *out, int depth,
                         size_t max_bytes, char *errstr, size_t errstr_size) {
  if (depth <= 0) {
    snprintf(errstr, errstr_size, "nested too deeply (line %zu)", node->start_mark.line + 1);
    return false;
  }
  if (out->len > max_bytes) {
    snprintf(errstr, errstr_size, "larger than %zu bytes as JSON", max_bytes);
    return false;
  }
  switch (node->type) {
    case YAML_SCALAR_NODE: {
      const char *s = (const char *)node->data.scalar.value;
      size_t n = node->data.scalar.length;
      if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        int b;
        if (oc_yaml_is_null(s, n)) {
          oc_buf_puts(out, "null");
          return true;
        }
        if ((b = oc_yaml_bool(s, n)) >= 0) {
          oc_buf_puts(out, b ? "true" : "false");
          return true;
        }
        size_t mark = out->len;
        if (oc_yaml_number(s, n, out)) return true;
        out->len = mark;
      }
      oc_json_write_string(out, s, n);
      return true;
    }
    case YAML_SEQUENCE_NODE: {
      oc_buf_putc(out, '[');
      for (yaml_node_item_t *it = node->data.sequence.items.start;
           it < node->data.sequence.items.top; it++) {
        if (it != node->data.sequence.items.start) oc_buf_putc(out, ',');
        if (!oc_yaml_json(doc, yaml_document_get_node(doc, *it), out, depth - 1, max_bytes, errstr,
                          errstr_size))
          return false;
      }
      oc_buf_putc(out, ']');
      return true;
    }
    case YAML_MAPPING_NODE: {
      oc_buf_putc(out, '{');
      for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
           p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) {
          snprintf(errstr, errstr_size, "a mapping key is not a scalar (line %zu)",
                   node->start_mark.line + 1);
          return false;
        }
        if (p != node->data.mapping.pairs.start) oc_buf_putc(out, ',');
        oc_json_write_string(out, (const char *)k->data.scalar.value, k->data.scalar.length);
        oc_buf_putc(out, ':');
        if (!oc_yaml_json(doc, yaml_document_get_node(doc, p->value), out, depth - 1, max_bytes,
                          errstr, errstr_size))
          return false;
      }
      oc_buf_putc(out, '}');
      return true;
    }
    default:
      oc_buf_puts(out, "null");
      return true;
  }
}

bool oc_pack_yaml_to_json(yaml_document_t *doc, yaml_node_t *node, oc_buf_t *out, int max_depth,
                          size_t max_bytes, char *errstr, size_t errstr_size) {
  size_t start = out->len;
  if (!oc_yaml_json(doc, node, out, max_depth, start + max_bytes, errstr, errstr_size))
    return false;
  if (out->len - start > max_bytes) {
    snprintf(errstr, errstr_size, "larger than %zu bytes as JSON", max_bytes);
    return false;
  }
  if (!oc_buf_ok(out)) {
    snprintf(errstr, errstr_size, "out of memory");
    return false;
  }
  return true;
}

/* ---- pack -------------------------------------------------------------------------- */

oc_pack_t *oc_pack_new(void) {
  oc_pack_t *pack = calloc(1, sizeof(*pack));
  if (!pack) return NULL;
  oc_arena_init(&pack->arena, 64 * 1024);
  pack->keys = oc_det_keys_new();
  if (!pack->keys) {
    oc_pack_destroy(pack);
    return NULL;
  }
  return pack;
}

void oc_pack_destroy(oc_pack_t *pack) {
  if (!pack) return;
  oc_det_keys_destroy(pack->keys);
  free(pack->items);
  free(pack->msgs);
  oc_arena_deinit(&pack->arena);
  free(pack);
}

void oc_pack_msgf(oc_pack_t *pack, const char *origin, int line, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  if (pack->nmsgs == pack->msgs_cap) {
    size_t cap = pack->msgs_cap ? pack->msgs_cap * 2 : 16;
    oc_pack_msg_t *m = realloc(pack->msgs, cap * sizeof(*m));
    if (!m) return;
    pack->msgs = m;
    pack->msgs_cap = cap;
  }
  oc_pack_msg_t *m = &pack->msgs[pack->nmsgs];
  m->origin = oc_arena_strdup(&pack->arena, origin ? origin : "");
  m->text = oc_arena_strdup(&pack->arena, text);
  m->line = line;
  if (m->origin && m->text) pack->nmsgs++;
}

const oc_pack_item_t *oc_pack_find(const oc_pack_t *pack, oc_pack_kind_t kind, const char *id) {
  bool rulish = kind == OC_PACK_RULE || kind == OC_PACK_SCHEDULED_RULE;
  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    bool it_rulish = it->kind == OC_PACK_RULE || it->kind == OC_PACK_SCHEDULED_RULE;
    if ((it->kind == kind || (rulish && it_rulish)) && strcmp(it->id, id) == 0) return it;
  }
  return NULL;
}

typedef struct {
  oc_pack_t *pack;
  yaml_document_t *doc;
  const char *origin;
  oc_pack_item_t *item;
  char why[512];
  int line;
} oc_pack_parser_t;

static bool oc_pfail(oc_pack_parser_t *p, yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool oc_pfail(oc_pack_parser_t *p, yaml_node_t *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why, sizeof(p->why), fmt, ap);
  va_end(ap);
  p->line = at ? (int)at->start_mark.line + 1 : 0;
  return false;
}

static yaml_node_t *oc_pget(oc_pack_parser_t *p, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
       pr++) {
    yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
    if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
        memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
      return yaml_document_get_node(p->doc, pr->value);
  }
  return NULL;
}

static bool oc_pstr(oc_pack_parser_t *p, yaml_node_t *v, const char *name, const char **out) {
  if (!v) {
    *out = "";
    return true;
  }
  if (v->type != YAML_SCALAR_NODE) return oc_pfail(p, v, "%s must be a string", name);
  *out =
      oc_arena_strndup(&p->pack->arena, (const char *)v->data.scalar.value, v->data.scalar.length);
  if (!*out) return oc_pfail(p, v, "out of memory");
  if (strlen(*out) != v->data.scalar.length) return oc_pfail(p, v, "%s contains a NUL", name);
  return true;
}

static bool oc_pbool(oc_pack_parser_t *p, yaml_node_t *v, const char *name, bool dflt, bool *out) {
  *out = dflt;
  if (!v) return true;
  int b = -1;
  if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    b = oc_yaml_bool((const char *)v->data.scalar.value, v->data.scalar.length);
  if (b < 0) return oc_pfail(p, v, "%s must be true or false", name);
  *out = b == 1;
  return true;
}

static bool oc_pint(oc_pack_parser_t *p, yaml_node_t *v, const char *name, int dflt, int min,
                    int max, int *out) {
  *out = dflt;
  if (!v) return true;
  char *end;
  long x = 0;
  if (v->type == YAML_SCALAR_NODE && v->data.scalar.length > 0 && v->data.scalar.length < 12) {
    errno = 0;
    x = strtol((const char *)v->data.scalar.value, &end, 10);
    if (!errno && *end == '\0' && x >= min && x <= max) {
      *out = (int)x;
      return true;
    }
  }
  return oc_pfail(p, v, "%s must be an integer from %d to %d", name, min, max);
}

/* A list of strings (a single scalar counts as a one-element list). */
static bool oc_pstrs(oc_pack_parser_t *p, yaml_node_t *v, const char *name, oc_pack_strs_t *out) {
  out->v = NULL;
  out->n = 0;
  if (!v) return true;
  if (v->type == YAML_SCALAR_NODE) {
    if (oc_yaml_is_null((const char *)v->data.scalar.value, v->data.scalar.length)) return true;
    out->v = oc_arena_alloc(&p->pack->arena, sizeof(char *));
    if (!out->v) return oc_pfail(p, v, "out of memory");
    out->n = 1;
    return oc_pstr(p, v, name, &out->v[0]);
  }
  if (v->type != YAML_SEQUENCE_NODE) return oc_pfail(p, v, "%s must be a list of strings", name);
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  out->v = oc_arena_alloc(&p->pack->arena, (n ? n : 1) * sizeof(char *));
  if (!out->v) return oc_pfail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *s = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    if (!s || s->type != YAML_SCALAR_NODE)
      return oc_pfail(p, s ? s : v, "%s must be a list of strings", name);
    if (!oc_pstr(p, s, name, &out->v[out->n])) return false;
    out->n++;
  }
  return true;
}

static char *oc_pjson(oc_pack_parser_t *p, yaml_node_t *v, const char *what, size_t *len) {
  oc_buf_t b;
  char why[256];
  oc_buf_init(&b);
  if (!oc_pack_yaml_to_json(p->doc, v, &b, OC_PACK_MAX_DEPTH, OC_PACK_MAX_JSON, why, sizeof(why))) {
    oc_buf_deinit(&b);
    oc_pfail(p, v, "%s: %s", what, why);
    return NULL;
  }
  char *s = oc_arena_strndup(&p->pack->arena, b.data ? b.data : "", b.len);
  if (len) *len = b.len;
  oc_buf_deinit(&b);
  if (!s) oc_pfail(p, v, "out of memory");
  return s;
}

static bool oc_ptests(oc_pack_parser_t *p, yaml_node_t *v) {
  oc_pack_item_t *it = p->item;
  if (!v) return true;
  if (v->type != YAML_SEQUENCE_NODE) return oc_pfail(p, v, "Tests must be a list");
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  it->tests = oc_arena_alloc(&p->pack->arena, (n ? n : 1) * sizeof(*it->tests));
  if (!it->tests) return oc_pfail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *t = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    oc_pack_test_t *test = &it->tests[i];
    memset(test, 0, sizeof(*test));
    if (!t || t->type != YAML_MAPPING_NODE)
      return oc_pfail(p, t ? t : v, "a test must be a mapping");
    test->line = (int)t->start_mark.line + 1;
    if (!oc_pstr(p, oc_pget(p, t, "Name"), "Name", &test->name)) return false;
    if (!test->name[0]) return oc_pfail(p, t, "a test needs a Name");
    yaml_node_t *exp = oc_pget(p, t, "ExpectedResult");
    if (!exp) return oc_pfail(p, t, "test \"%s\" needs an ExpectedResult", test->name);
    if (!oc_pbool(p, exp, "ExpectedResult", false, &test->expected)) return false;
    yaml_node_t *log = oc_pget(p, t, "Log");
    if (!log) return oc_pfail(p, t, "test \"%s\" needs a Log", test->name);
    if (log->type == YAML_SCALAR_NODE) { /* a JSON document in a string */
      if (!oc_pstr(p, log, "Log", &test->log_json)) return false;
      test->log_len = strlen(test->log_json);
    } else {
      test->log_json = oc_pjson(p, log, "Log", &test->log_len);
      if (!test->log_json) return false;
    }
    yaml_node_t *mocks = oc_pget(p, t, "Mocks");
    if (mocks && mocks->type != YAML_SEQUENCE_NODE)
      return oc_pfail(p, mocks, "Mocks must be a list");
    if (mocks) {
      size_t nm = (size_t)(mocks->data.sequence.items.top - mocks->data.sequence.items.start);
      test->mocks = oc_arena_alloc(&p->pack->arena, (nm ? nm : 1) * sizeof(*test->mocks));
      if (!test->mocks) return oc_pfail(p, mocks, "out of memory");
      for (size_t j = 0; j < nm; j++) {
        yaml_node_t *m = yaml_document_get_node(p->doc, mocks->data.sequence.items.start[j]);
        oc_pack_mock_t *mock = &test->mocks[j];
        if (!m || m->type != YAML_MAPPING_NODE)
          return oc_pfail(p, mocks, "a mock must be a mapping");
        if (!oc_pstr(p, oc_pget(p, m, "objectName"), "objectName", &mock->name)) return false;
        if (!mock->name[0]) return oc_pfail(p, m, "a mock needs an objectName");
        yaml_node_t *rv = oc_pget(p, m, "returnValue");
        mock->value_json = rv ? oc_pjson(p, rv, "returnValue", NULL) : "null";
        if (!mock->value_json) return false;
        test->nmocks++;
      }
    }
    it->ntests++;
  }
  return true;
}

static bool oc_pmappings(oc_pack_parser_t *p, yaml_node_t *v) {
  oc_pack_item_t *it = p->item;
  if (!v) return true;
  if (v->type != YAML_SEQUENCE_NODE) return oc_pfail(p, v, "Mappings must be a list");
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  it->mappings = oc_arena_alloc(&p->pack->arena, (n ? n : 1) * sizeof(*it->mappings));
  if (!it->mappings) return oc_pfail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *m = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    oc_pack_mapping_t *map = &it->mappings[i];
    const char *path, *method;
    if (!m || m->type != YAML_MAPPING_NODE) return oc_pfail(p, v, "a mapping must be a mapping");
    if (!oc_pstr(p, oc_pget(p, m, "Name"), "Name", &map->name)) return false;
    if (!oc_pstr(p, oc_pget(p, m, "Path"), "Path", &path)) return false;
    if (!oc_pstr(p, oc_pget(p, m, "Method"), "Method", &method)) return false;
    if (!map->name[0]) return oc_pfail(p, m, "a mapping needs a Name");
    if (!path[0] == !method[0])
      return oc_pfail(p, m, "mapping \"%s\" needs exactly one of Path and Method", map->name);
    if (method[0] && !it->py_path)
      return oc_pfail(p, m, "mapping \"%s\" has a Method but the data model has no Filename",
                      map->name);
    map->path = path[0] ? path : NULL;
    map->method = method[0] ? method : NULL;
    it->nmappings++;
  }
  return true;
}

static bool oc_pfilename(oc_pack_parser_t *p, yaml_node_t *v, bool required) {
  oc_pack_item_t *it = p->item;
  const char *fn;
  struct stat st;
  if (!v) return required ? oc_pfail(p, NULL, "Filename is required") : true;
  if (!oc_pstr(p, v, "Filename", &fn)) return false;
  if (!fn[0] || strstr(fn, "..") || fn[0] == '/')
    return oc_pfail(p, v, "Filename \"%s\" must name a file next to the metadata", fn);
  const char *slash = strrchr(p->origin, '/');
  int dirlen = slash ? (int)(slash - p->origin) : 1;
  const char *dir = slash ? p->origin : ".";
  it->py_path = oc_arena_sprintf(&p->pack->arena, "%.*s/%s", dirlen, dir, fn);
  if (!it->py_path) return oc_pfail(p, v, "out of memory");
  if (stat(it->py_path, &st) != 0 || !S_ISREG(st.st_mode))
    return oc_pfail(p, v, "Filename \"%s\": could not open \"%s\": %s", fn, it->py_path,
                    stat(it->py_path, &st) != 0 ? strerror(errno) : "not a file");
  const char *base = strrchr(fn, '/');
  base = base ? base + 1 : fn;
  const char *dot = strrchr(base, '.');
  it->module_name =
      oc_arena_strndup(&p->pack->arena, base, dot ? (size_t)(dot - base) : strlen(base));
  return it->module_name != NULL;
}

static bool oc_pseverity(oc_pack_parser_t *p, yaml_node_t *v) {
  static const char *const levels[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
  const char *s;
  if (!v) return oc_pfail(p, NULL, "Severity is required");
  if (!oc_pstr(p, v, "Severity", &s)) return false;
  for (size_t i = 0; i < 5; i++)
    if (strcasecmp(s, levels[i]) == 0) {
      p->item->severity = levels[i];
      return true;
    }
  return oc_pfail(p, v, "Severity \"%s\" is not one of Info, Low, Medium, High, Critical", s);
}

static bool oc_preports(oc_pack_parser_t *p, yaml_node_t *v) {
  oc_pack_strs_t *r = &p->item->reports;
  if (!v) return true;
  if (v->type != YAML_MAPPING_NODE) return oc_pfail(p, v, "Reports must be a mapping");
  size_t cap = 0;
  for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
    yaml_node_t *vals = yaml_document_get_node(p->doc, pr->value);
    cap += vals && vals->type == YAML_SEQUENCE_NODE
               ? (size_t)(vals->data.sequence.items.top - vals->data.sequence.items.start)
               : 1;
  }
  r->v = oc_arena_alloc(&p->pack->arena, (cap ? cap : 1) * sizeof(char *));
  if (!r->v) return oc_pfail(p, v, "out of memory");
  for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
    const char *fw;
    oc_pack_strs_t vals;
    if (!oc_pstr(p, yaml_document_get_node(p->doc, pr->key), "Reports key", &fw)) return false;
    if (!oc_pstrs(p, yaml_document_get_node(p->doc, pr->value), "Reports", &vals)) return false;
    for (size_t i = 0; i < vals.n && r->n < cap; i++)
      r->v[r->n++] = oc_arena_sprintf(&p->pack->arena, "%s:%s", fw, vals.v[i]);
  }
  return true;
}

static bool oc_pitem(oc_pack_parser_t *p, yaml_node_t *root, bool *skipped) {
  oc_pack_item_t *it = p->item;
  const char *type;
  *skipped = false;
  if (!oc_pstr(p, oc_pget(p, root, "AnalysisType"), "AnalysisType", &type)) return false;
  if (!type[0]) return oc_pfail(p, root, "AnalysisType is required");
  const char *idkey;
  if (strcmp(type, "rule") == 0) {
    it->kind = OC_PACK_RULE;
    idkey = "RuleID";
  } else if (strcmp(type, "scheduled_rule") == 0) {
    it->kind = OC_PACK_SCHEDULED_RULE;
    idkey = "RuleID";
  } else if (strcmp(type, "datamodel") == 0) {
    it->kind = OC_PACK_DATAMODEL;
    idkey = "DataModelID";
  } else if (strcmp(type, "global") == 0) {
    it->kind = OC_PACK_GLOBAL;
    idkey = "GlobalID";
  } else {
    *skipped = true;
    return oc_pfail(p, root, "AnalysisType %s is not supported; skipped", type);
  }
  yaml_node_t *idn = oc_pget(p, root, idkey);
  if (!oc_pstr(p, idn, idkey, &it->id)) return false;
  if (!it->id[0]) return oc_pfail(p, root, "%s is required", idkey);
  if (strlen(it->id) > 256) return oc_pfail(p, idn, "%s is longer than 256 bytes", idkey);
  if (oc_pack_find(p->pack, it->kind, it->id))
    return oc_pfail(p, idn, "%s \"%s\" is already defined", idkey, it->id);

  it->display_name = it->severity = it->description = it->reference = it->runbook = "";
  if (!oc_pbool(p, oc_pget(p, root, "Enabled"), "Enabled", true, &it->enabled)) return false;
  bool rulish = it->kind == OC_PACK_RULE || it->kind == OC_PACK_SCHEDULED_RULE;
  if (rulish && !oc_pget(p, root, "Filename") && oc_pget(p, root, "Detection")) {
    *skipped = true; /* a YAML detection: ruleset.h runs it natively */
    return oc_pfail(p, root, "a YAML detection; skipped");
  }
  if (!oc_pfilename(p, oc_pget(p, root, "Filename"), rulish || it->kind == OC_PACK_GLOBAL))
    return false;
  if (!oc_pstrs(p, oc_pget(p, root, "LogTypes"), "LogTypes", &it->log_types)) return false;
  if (it->kind == OC_PACK_GLOBAL) return true;
  if (it->kind == OC_PACK_DATAMODEL) {
    if (it->log_types.n == 0) return oc_pfail(p, root, "LogTypes is required");
    return oc_pmappings(p, oc_pget(p, root, "Mappings"));
  }
  if (it->kind == OC_PACK_RULE && it->log_types.n == 0)
    return oc_pfail(p, root, "LogTypes is required");
  if (!oc_pseverity(p, oc_pget(p, root, "Severity"))) return false;
  if (!oc_pstr(p, oc_pget(p, root, "DisplayName"), "DisplayName", &it->display_name) ||
      !oc_pstr(p, oc_pget(p, root, "Description"), "Description", &it->description) ||
      !oc_pstr(p, oc_pget(p, root, "Reference"), "Reference", &it->reference) ||
      !oc_pstr(p, oc_pget(p, root, "Runbook"), "Runbook", &it->runbook) ||
      !oc_pstrs(p, oc_pget(p, root, "Tags"), "Tags", &it->tags) ||
      !oc_pstrs(p, oc_pget(p, root, "SummaryAttributes"), "SummaryAttributes",
                &it->summary_attributes) ||
      !oc_pstrs(p, oc_pget(p, root, "OutputIds"), "OutputIds", &it->output_ids) ||
      !oc_preports(p, oc_pget(p, root, "Reports")) ||
      !oc_pbool(p, oc_pget(p, root, "CreateAlert"), "CreateAlert", true, &it->create_alert) ||
      !oc_pint(p, oc_pget(p, root, "DedupPeriodMinutes"), "DedupPeriodMinutes", 60, 1, 10080,
               &it->dedup_period_minutes) ||
      !oc_pint(p, oc_pget(p, root, "Threshold"), "Threshold", 1, 1, 1000000, &it->threshold))
    return false;
  yaml_node_t *filters = oc_pget(p, root, "InlineFilters");
  if (filters && !(filters->type == YAML_SCALAR_NODE && filters->data.scalar.length == 0)) {
    int line = 0;
    char why[256];
    it->inline_filters =
        oc_det_compile(&p->pack->arena, p->pack->keys, p->doc, filters, &line, why, sizeof(why));
    if (!it->inline_filters) {
      oc_pfail(p, filters, "InlineFilters: %s", why);
      if (line) p->line = line;
      return false;
    }
  }
  return oc_ptests(p, oc_pget(p, root, "Tests"));
}

bool oc_pack_add(oc_pack_t *pack, const char *text, size_t len, const char *origin) {
  yaml_parser_t parser;
  yaml_document_t doc;
  bool parser_ok = false, doc_ok = false, ok = false, skipped = false;
  oc_pack_parser_t p = {.pack = pack, .doc = &doc, .origin = origin};

  if (len > OC_PACK_MAX_FILE) {
    oc_pfail(&p, NULL, "file is larger than %d bytes", OC_PACK_MAX_FILE);
    goto out;
  }
  if (!yaml_parser_initialize(&parser)) {
    oc_pfail(&p, NULL, "out of memory");
    goto out;
  }
  parser_ok = true;
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    snprintf(p.why, sizeof(p.why), "YAML syntax error: %s%s%s",
             parser.problem ? parser.problem : "malformed document", parser.context ? " " : "",
             parser.context ? parser.context : "");
    p.line = (int)parser.problem_mark.line + 1;
    goto out;
  }
  doc_ok = true;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root || root->type != YAML_MAPPING_NODE) {
    oc_pfail(&p, root, "the metadata must be a mapping");
    goto out;
  }
  p.item = oc_arena_alloc(&pack->arena, sizeof(*p.item));
  if (!p.item) {
    oc_pfail(&p, NULL, "out of memory");
    goto out;
  }
  memset(p.item, 0, sizeof(*p.item));
  p.item->yml_path = oc_arena_strdup(&pack->arena, origin);
  if (!oc_pitem(&p, root, &skipped)) goto out;
  if (pack->nitems == pack->items_cap) {
    size_t cap = pack->items_cap ? pack->items_cap * 2 : 64;
    oc_pack_item_t **v = realloc(pack->items, cap * sizeof(*v));
    if (!v) {
      oc_pfail(&p, NULL, "out of memory");
      goto out;
    }
    pack->items = v;
    pack->items_cap = cap;
  }
  pack->items[pack->nitems++] = p.item;
  ok = true;
out:
  if (!ok) {
    if (skipped)
      pack->skipped++;
    else
      oc_pack_msgf(pack, origin, p.line, "%s", p.why);
  }
  if (doc_ok) yaml_document_delete(&doc);
  if (parser_ok) yaml_parser_delete(&parser);
  return ok;
}

static int oc_pack_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool oc_pack_has_ext(const char *name) {
  size_t n = strlen(name);
  return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
         (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static void oc_pack_walk(oc_pack_t *pack, const char *dir, int depth, size_t *nfiles) {
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  if (!d) {
    oc_pack_msgf(pack, dir, 0, "could not open directory: %s", strerror(errno));
    return;
  }
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **v = realloc(names, cap * sizeof(*v));
      if (!v) break;
      names = v;
    }
    names[n] = strdup(de->d_name);
    if (names[n]) n++;
  }
  closedir(d);
  qsort(names, n, sizeof(*names), oc_pack_cmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth >= OC_PACK_MAX_DIR_DEPTH)
        oc_pack_msgf(pack, path, 0, "directory nested deeper than %d levels; skipped",
                     OC_PACK_MAX_DIR_DEPTH);
      else
        oc_pack_walk(pack, path, depth + 1, nfiles);
      continue;
    }
    if (!S_ISREG(st.st_mode) || !oc_pack_has_ext(names[i])) continue;
    if (++*nfiles > OC_PACK_MAX_FILES) {
      if (*nfiles == OC_PACK_MAX_FILES + 1)
        oc_pack_msgf(pack, path, 0, "more than %d files; the rest are skipped", OC_PACK_MAX_FILES);
      continue;
    }
    if (st.st_size > OC_PACK_MAX_FILE) {
      oc_pack_msgf(pack, path, 0, "file is larger than %d bytes", OC_PACK_MAX_FILE);
      continue;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
      oc_pack_msgf(pack, path, 0, "could not open file: %s", strerror(errno));
      continue;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t len = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (text) {
      text[len] = '\0';
      oc_pack_add(pack, text, len, path);
    }
    free(text);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

bool oc_pack_load_dir(oc_pack_t *pack, const char *dir, char *errstr, size_t errstr_size) {
  struct stat st;
  size_t nfiles = 0;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(errstr, errstr_size, "could not open pack directory \"%s\": %s", dir,
             stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
    return false;
  }
  oc_pack_walk(pack, dir, 0, &nfiles);
  return true;
}
