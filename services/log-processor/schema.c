/* schema.c: loading log-type schemas and applying them to events (see schema.h).
 *
 * Loading uses libyaml's document API; everything a schema owns lives in its arena.
 * Applying is on the hot path of every event: one pass over the event's members per
 * declared object level, a hash lookup per member, no allocation except the arena nodes
 * of values that change form (a timestamp in Panther's format, a numeric string). */
#include "services/log-processor/schema.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/timeutil.h"

#define OC_SCHEMA_ARENA_CHUNK (16 * 1024)

static void *oc_arena_calloc(oc_arena_t *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  void *p = oc_arena_alloc(a, bytes ? bytes : 1);
  if (p) memset(p, 0, bytes);
  return p;
}

static const char *const oc_ftype_names[] = {
    [OC_FT_STRING] = "string",       [OC_FT_INT] = "int",       [OC_FT_SMALLINT] = "smallint",
    [OC_FT_BIGINT] = "bigint",       [OC_FT_FLOAT] = "float",   [OC_FT_BOOLEAN] = "boolean",
    [OC_FT_TIMESTAMP] = "timestamp", [OC_FT_OBJECT] = "object", [OC_FT_ARRAY] = "array",
    [OC_FT_JSON] = "json",
};

const char *oc_ftype_name(oc_ftype_t t) {
  return t <= OC_FT_JSON ? oc_ftype_names[t] : "unknown";
}

/* Native parsers the processor has (object.c dispatches on these names). */
static const char *const oc_schema_natives[] = {"Syslog.RFC3164", "Syslog.RFC5424"};

/* ---- loading ---- */

typedef struct {
  yaml_document_t doc;
  oc_schema_t *s;
  const char *origin;
  char *errstr;
  size_t errstr_size;
  size_t nfields;    /* all levels, for the limit */
  yaml_node_t *defs; /* the definitions mapping, or NULL */
  int ref_depth;     /* refs being expanded, against cycles */
  bool event_time_seen;
} oc_sload_t;

static bool oc_sload_fail(oc_sload_t *L, const yaml_node_t *at, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (at)
    snprintf(L->errstr, L->errstr_size, "%s:%zu: %s", L->origin, (size_t)at->start_mark.line + 1,
             msg);
  else
    snprintf(L->errstr, L->errstr_size, "%s: %s", L->origin, msg);
  return false;
}

static bool oc_y_scalar_is(const yaml_node_t *n, const char *s) {
  return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
         memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static yaml_node_t *oc_y_get(oc_sload_t *L, const yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
    if (oc_y_scalar_is(yaml_document_get_node(&L->doc, p->key), key))
      return yaml_document_get_node(&L->doc, p->value);
  return NULL;
}

/* A scalar copied into the arena; NULL (with an error) when n is not a scalar. */
static char *oc_y_str(oc_sload_t *L, const yaml_node_t *n, const char *what) {
  if (!n || n->type != YAML_SCALAR_NODE) {
    oc_sload_fail(L, n, "%s must be a string", what);
    return NULL;
  }
  char *s = oc_arena_alloc(&L->s->arena, n->data.scalar.length + 1);
  if (!s) {
    oc_sload_fail(L, n, "out of memory");
    return NULL;
  }
  memcpy(s, n->data.scalar.value, n->data.scalar.length);
  s[n->data.scalar.length] = '\0';
  return s;
}

/* true/false (YAML 1.2 core schema, as Panther reads it); absent = dflt. */
static bool oc_y_bool(oc_sload_t *L, const yaml_node_t *n, const char *what, bool dflt, bool *out) {
  if (!n) {
    *out = dflt;
    return true;
  }
  if (oc_y_scalar_is(n, "true") || oc_y_scalar_is(n, "True") || oc_y_scalar_is(n, "TRUE")) {
    *out = true;
    return true;
  }
  if (oc_y_scalar_is(n, "false") || oc_y_scalar_is(n, "False") || oc_y_scalar_is(n, "FALSE")) {
    *out = false;
    return true;
  }
  return oc_sload_fail(L, n, "%s must be true or false", what);
}

/* A sequence of scalars (or one scalar) copied into the arena. */
static bool oc_y_strlist(oc_sload_t *L, const yaml_node_t *n, const char *what, size_t max,
                         char ***out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  if (!n) return true;
  if (n->type == YAML_SCALAR_NODE) {
    char **v = oc_arena_alloc(&L->s->arena, sizeof(*v));
    if (!v || !(v[0] = oc_y_str(L, n, what)))
      return v ? false : oc_sload_fail(L, n, "out of memory");
    *out = v;
    *nout = 1;
    return true;
  }
  if (n->type != YAML_SEQUENCE_NODE) return oc_sload_fail(L, n, "%s must be a list", what);
  size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (k > max) return oc_sload_fail(L, n, "%s has %zu entries; at most %zu", what, k, max);
  char **v = oc_arena_alloc(&L->s->arena, (k ? k : 1) * sizeof(*v));
  if (!v) return oc_sload_fail(L, n, "out of memory");
  for (size_t i = 0; i < k; i++) {
    v[i] = oc_y_str(L, yaml_document_get_node(&L->doc, n->data.sequence.items.start[i]), what);
    if (!v[i]) return false;
  }
  *out = v;
  *nout = k;
  return true;
}

/* Member names are hashed for every member of every event: a few multiplications over
 * the length and the first and last eight bytes, not a loop over every byte (names that
 * share a prefix, eventName/eventTime/eventType, still differ in those bytes). */
static inline uint32_t oc_schema_hash(const char *s, size_t n) {
  uint64_t a = 0, b = 0, h;
  memcpy(&a, s, n < 8 ? n : 8);
  if (n > 8) memcpy(&b, s + n - (n < 16 ? n - 8 : 8), n < 16 ? n - 8 : 8);
  h = (a ^ (uint64_t)n * 0x9E3779B97F4A7C15ull) * 0xff51afd7ed558ccdull;
  h = (h ^ b ^ (h >> 29)) * 0xc4ceb9fe1a85ec53ull;
  return (uint32_t)(h ^ (h >> 32));
}

/* Builds an object field's lookup table; refuses duplicate member names. */
static bool oc_schema_index(oc_arena_t *a, oc_sfield_t *f, const char **dup) {
  uint32_t size = 4;
  while (size < f->nfields * 2)
    size <<= 1;
  f->slots = oc_arena_calloc(a, size, sizeof(*f->slots));
  if (!f->slots) return false;
  f->slot_mask = size - 1;
  f->nrequired = 0;
  for (size_t i = 0; i < f->nfields; i++) {
    oc_sfield_t *m = &f->fields[i];
    uint32_t j = oc_schema_hash(m->name, m->name_len) & f->slot_mask;
    while (f->slots[j]) {
      const oc_sfield_t *o = &f->fields[f->slots[j] - 1];
      if (o->name_len == m->name_len && memcmp(o->name, m->name, m->name_len) == 0) {
        *dup = m->name;
        return false;
      }
      j = (j + 1) & f->slot_mask;
    }
    f->slots[j] = (uint32_t)i + 1;
    if (m->required) f->nrequired++;
  }
  return true;
}

static bool oc_sload_field(oc_sload_t *L, const yaml_node_t *n, oc_sfield_t *f, bool element,
                           int depth);

static bool oc_sload_fields(oc_sload_t *L, const yaml_node_t *seq, oc_sfield_t *f, int depth) {
  if (!seq || seq->type != YAML_SEQUENCE_NODE)
    return oc_sload_fail(L, seq, "an object field needs a list of fields");
  size_t k = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  L->nfields += k;
  if (L->nfields > OC_SCHEMA_MAX_FIELDS)
    return oc_sload_fail(L, seq, "more than %d fields", OC_SCHEMA_MAX_FIELDS);
  f->fields = oc_arena_calloc(&L->s->arena, k ? k : 1, sizeof(*f->fields));
  if (!f->fields) return oc_sload_fail(L, seq, "out of memory");
  f->nfields = k;
  for (size_t i = 0; i < k; i++) {
    yaml_node_t *item = yaml_document_get_node(&L->doc, seq->data.sequence.items.start[i]);
    if (!oc_sload_field(L, item, &f->fields[i], false, depth + 1)) return false;
  }
  const char *dup = NULL;
  if (!oc_schema_index(&L->s->arena, f, &dup))
    return dup ? oc_sload_fail(L, seq, "field \"%s\" is declared twice", dup)
               : oc_sload_fail(L, seq, "out of memory");
  f->walk = true;
  return true;
}

static bool oc_sload_type(oc_sload_t *L, const yaml_node_t *n, oc_ftype_t *out) {
  for (int t = 0; t <= OC_FT_JSON; t++)
    if (oc_y_scalar_is(n, oc_ftype_names[t])) {
      *out = (oc_ftype_t)t;
      return true;
    }
  if (oc_y_scalar_is(n, "ref")) return false; /* handled by the caller */
  if (n && n->type == YAML_SCALAR_NODE)
    return oc_sload_fail(L, n, "unknown field type \"%.*s\"", (int)n->data.scalar.length,
                         (const char *)n->data.scalar.value);
  return oc_sload_fail(L, n, "a field needs a type");
}

static bool oc_sload_field(oc_sload_t *L, const yaml_node_t *n, oc_sfield_t *f, bool element,
                           int depth) {
  if (depth > OC_SCHEMA_MAX_DEPTH)
    return oc_sload_fail(L, n, "fields nested deeper than %d", OC_SCHEMA_MAX_DEPTH);
  if (!n || n->type != YAML_MAPPING_NODE) return oc_sload_fail(L, n, "a field must be a mapping");
  if (!element) {
    char *name = oc_y_str(L, oc_y_get(L, n, "name"), "a field's name");
    if (!name) return false;
    if (!name[0]) return oc_sload_fail(L, n, "a field's name is empty");
    if (strncmp(name, "p_", 2) == 0)
      return oc_sload_fail(L, n, "field \"%s\": names starting with p_ are Ocelot's own", name);
    f->name = name;
    f->name_len = (uint32_t)strlen(name);
  }
  const yaml_node_t *tn = oc_y_get(L, n, "type");
  if (oc_y_scalar_is(tn, "ref")) {
    /* A reference to a named definition: compile the definition in place. */
    const yaml_node_t *target = oc_y_get(L, n, "target");
    const yaml_node_t *def = NULL;
    if (!target || target->type != YAML_SCALAR_NODE)
      return oc_sload_fail(L, n, "a ref field needs a target");
    if (L->defs && L->defs->type == YAML_MAPPING_NODE)
      for (yaml_node_pair_t *p = L->defs->data.mapping.pairs.start;
           p < L->defs->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            k->data.scalar.length == target->data.scalar.length &&
            memcmp(k->data.scalar.value, target->data.scalar.value, k->data.scalar.length) == 0)
          def = yaml_document_get_node(&L->doc, p->value);
      }
    if (!def)
      return oc_sload_fail(L, target, "ref target \"%.*s\" is not in definitions",
                           (int)target->data.scalar.length,
                           (const char *)target->data.scalar.value);
    if (++L->ref_depth > 8) return oc_sload_fail(L, n, "refs nested deeper than 8 (a cycle?)");
    const char *name = f->name;
    uint32_t name_len = f->name_len;
    bool required;
    if (!oc_y_bool(L, oc_y_get(L, n, "required"), "required", false, &required)) return false;
    if (!oc_sload_field(L, def, f, true, depth)) return false;
    L->ref_depth--;
    f->name = name;
    f->name_len = name_len;
    f->required = required;
    return true;
  }
  if (!oc_sload_type(L, tn, &f->type)) return false;
  if (!oc_y_bool(L, oc_y_get(L, n, "required"), "required", false, &f->required)) return false;
  if (!oc_y_bool(L, oc_y_get(L, n, "isEventTime"), "isEventTime", false, &f->is_event_time))
    return false;
  if (element && f->required) f->required = false; /* meaningless for elements */

  /* indicators */
  char **ind;
  size_t nind;
  if (!oc_y_strlist(L, oc_y_get(L, n, "indicators"), "indicators", OC_IND__N, &ind, &nind))
    return false;
  for (size_t i = 0; i < nind; i++) {
    oc_ind_kind_t k;
    if (!oc_ind_kind_parse(ind[i], strlen(ind[i]), &k))
      return oc_sload_fail(L, n, "field \"%s\": unknown indicator \"%s\"", f->name ? f->name : "[]",
                           ind[i]);
    f->indicators |= 1u << k;
  }
  if (f->indicators && f->type != OC_FT_STRING && f->type != OC_FT_ARRAY)
    return oc_sload_fail(L, n, "field \"%s\": indicators need a string field",
                         f->name ? f->name : "[]");

  /* time formats */
  char **fmts = NULL, **one = NULL;
  size_t nfmts = 0, none = 0;
  if (!oc_y_strlist(L, oc_y_get(L, n, "timeFormats"), "timeFormats", OC_SCHEMA_MAX_FORMATS, &fmts,
                    &nfmts) ||
      !oc_y_strlist(L, oc_y_get(L, n, "timeFormat"), "timeFormat", 1, &one, &none))
    return false;
  if (f->type == OC_FT_TIMESTAMP) {
    char **all = nfmts ? fmts : one;
    size_t nall = nfmts ? nfmts : none;
    if (nall == 0) return oc_sload_fail(L, n, "timestamp field \"%s\" needs timeFormats", f->name);
    f->formats = oc_arena_calloc(&L->s->arena, nall, sizeof(*f->formats));
    if (!f->formats) return oc_sload_fail(L, n, "out of memory");
    for (size_t i = 0; i < nall; i++) {
      char why[200];
      if (!oc_timefmt_compile(&f->formats[i], all[i], why, sizeof(why)))
        return oc_sload_fail(L, n, "field \"%s\": time format \"%s\": %s", f->name, all[i], why);
    }
    f->nformats = nall;
  } else if (nfmts || none) {
    return oc_sload_fail(L, n, "field \"%s\": timeFormats need a timestamp field",
                         f->name ? f->name : "[]");
  }
  if (f->is_event_time) {
    if (f->type != OC_FT_TIMESTAMP)
      return oc_sload_fail(L, n, "field \"%s\": isEventTime needs a timestamp field", f->name);
    if (element) return oc_sload_fail(L, n, "isEventTime cannot be set on an array element");
    if (L->event_time_seen)
      return oc_sload_fail(L, n, "a second isEventTime field (\"%s\")", f->name);
    L->event_time_seen = true;
  }

  /* validate */
  const yaml_node_t *v = oc_y_get(L, n, "validate");
  if (v) {
    if (v->type != YAML_MAPPING_NODE) return oc_sload_fail(L, v, "validate must be a mapping");
    if (f->type != OC_FT_STRING) return oc_sload_fail(L, v, "validate needs a string field");
    if (!oc_y_strlist(L, oc_y_get(L, v, "allow"), "validate.allow", 65536, &f->allow, &f->nallow) ||
        !oc_y_strlist(L, oc_y_get(L, v, "deny"), "validate.deny", 65536, &f->deny, &f->ndeny))
      return false;
  }

  if (f->type == OC_FT_OBJECT) {
    const yaml_node_t *fs = oc_y_get(L, n, "fields");
    if (!fs)
      return oc_sload_fail(L, n, "object field \"%s\" needs fields", f->name ? f->name : "[]");
    if (!oc_sload_fields(L, fs, f, depth)) return false;
  } else if (f->type == OC_FT_ARRAY) {
    const yaml_node_t *el = oc_y_get(L, n, "element");
    if (!el)
      return oc_sload_fail(L, n, "array field \"%s\" needs an element", f->name ? f->name : "[]");
    f->element = oc_arena_calloc(&L->s->arena, 1, sizeof(*f->element));
    if (!f->element) return oc_sload_fail(L, n, "out of memory");
    if (!oc_sload_field(L, el, f->element, true, depth + 1)) return false;
    /* indicators on the array apply to string elements */
    if (f->indicators && f->element->type == OC_FT_STRING) f->element->indicators |= f->indicators;
    f->indicators = 0;
    f->walk = true;
  } else if (oc_y_get(L, n, "fields") && f->type != OC_FT_JSON) {
    return oc_sload_fail(L, n, "field \"%s\": fields need an object field",
                         f->name ? f->name : "[]");
  }
  return true;
}

static bool oc_sload_parser(oc_sload_t *L, const yaml_node_t *n) {
  oc_schema_parser_t *p = &L->s->parser;
  p->kind = OC_PARSER_JSON;
  p->delimiter = ',';
  if (!n) return true;
  if (n->type != YAML_MAPPING_NODE) return oc_sload_fail(L, n, "parser must be a mapping");
  size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  if (k != 1)
    return oc_sload_fail(L, n,
                         "parser must name exactly one of json, csv, fastmatch, regex, native");
  yaml_node_t *key = yaml_document_get_node(&L->doc, n->data.mapping.pairs.start[0].key);
  yaml_node_t *o = yaml_document_get_node(&L->doc, n->data.mapping.pairs.start[0].value);
  if (oc_y_scalar_is(key, "json")) return true;
  if (!o || (o->type != YAML_MAPPING_NODE && !oc_y_scalar_is(key, "native")))
    return oc_sload_fail(L, n, "parser options must be a mapping");
  if (!oc_y_strlist(L, oc_y_get(L, o, "emptyValues"), "emptyValues", 64, &p->empty_values,
                    &p->nempty) ||
      !oc_y_bool(L, oc_y_get(L, o, "trimSpace"), "trimSpace", false, &p->trim_space))
    return false;
  if (oc_y_scalar_is(key, "csv")) {
    p->kind = OC_PARSER_CSV;
    const yaml_node_t *d = oc_y_get(L, o, "delimiter");
    if (d) {
      char *ds = oc_y_str(L, d, "delimiter");
      if (!ds) return false;
      if (strcmp(ds, "\\t") == 0) ds = "\t";
      if (strlen(ds) != 1) return oc_sload_fail(L, d, "delimiter must be one character");
      p->delimiter = ds[0];
    }
    if (!oc_y_bool(L, oc_y_get(L, o, "hasHeader"), "hasHeader", false, &p->has_header) ||
        !oc_y_strlist(L, oc_y_get(L, o, "columns"), "columns", OC_SCHEMA_MAX_COLUMNS, &p->columns,
                      &p->ncolumns))
      return false;
    if (!p->has_header && !p->ncolumns)
      return oc_sload_fail(L, o, "csv needs hasHeader or columns");
    return true;
  }
  if (oc_y_scalar_is(key, "fastmatch") || oc_y_scalar_is(key, "regex")) {
    p->kind = oc_y_scalar_is(key, "regex") ? OC_PARSER_REGEX : OC_PARSER_FASTMATCH;
    if (!oc_y_strlist(L, oc_y_get(L, o, "match"), "match", OC_SCHEMA_MAX_PATTERNS, &p->match,
                      &p->nmatch))
      return false;
    if (!p->nmatch)
      return oc_sload_fail(L, o, "%s needs match patterns",
                           p->kind == OC_PARSER_REGEX ? "regex" : "fastmatch");
    const yaml_node_t *defs = oc_y_get(L, o, "patternDefinitions");
    if (defs && p->kind == OC_PARSER_REGEX) {
      if (defs->type != YAML_MAPPING_NODE)
        return oc_sload_fail(L, defs, "patternDefinitions must be a mapping");
      size_t nd = (size_t)(defs->data.mapping.pairs.top - defs->data.mapping.pairs.start);
      if (nd > 256) return oc_sload_fail(L, defs, "more than 256 patternDefinitions");
      p->defs = oc_arena_alloc(&L->s->arena, (nd ? nd : 1) * 2 * sizeof(*p->defs));
      if (!p->defs) return oc_sload_fail(L, defs, "out of memory");
      for (size_t i = 0; i < nd; i++) {
        yaml_node_pair_t *pr = &defs->data.mapping.pairs.start[i];
        if (!(p->defs[2 * i] =
                  oc_y_str(L, yaml_document_get_node(&L->doc, pr->key), "a pattern name")) ||
            !(p->defs[2 * i + 1] =
                  oc_y_str(L, yaml_document_get_node(&L->doc, pr->value), "a pattern")))
          return false;
      }
      p->ndefs = nd;
    }
    return true;
  }
  if (oc_y_scalar_is(key, "native")) {
    p->kind = OC_PARSER_NATIVE;
    const yaml_node_t *nm = o && o->type == YAML_MAPPING_NODE ? oc_y_get(L, o, "name") : o;
    if (!(p->native = oc_y_str(L, nm, "native parser name"))) return false;
    for (size_t i = 0; i < sizeof(oc_schema_natives) / sizeof(oc_schema_natives[0]); i++)
      if (strcmp(p->native, oc_schema_natives[i]) == 0) return true;
    return oc_sload_fail(
        L, nm, "unknown native parser \"%s\" (known: Syslog.RFC3164, Syslog.RFC5424)", p->native);
  }
  return oc_sload_fail(L, key, "unknown parser (known: json, csv, fastmatch, regex, native)");
}

static oc_schema_t *oc_schema_alloc(void) {
  oc_schema_t *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  oc_arena_init(&s->arena, OC_SCHEMA_ARENA_CHUNK);
  s->root.type = OC_FT_OBJECT;
  return s;
}

static void oc_schema_set_name(oc_schema_t *s) {
  s->aws = strncmp(s->name, "AWS.", 4) == 0 || strncmp(s->name, "Amazon.", 7) == 0;
}

oc_schema_t *oc_schema_load(const char *text, size_t len, const char *origin, char *errstr,
                            size_t errstr_size) {
  yaml_parser_t parser;
  oc_sload_t L = {
      .origin = origin ? origin : "schema", .errstr = errstr, .errstr_size = errstr_size};
  bool ok = false, have_doc = false;
  if (len > OC_SCHEMA_MAX_BYTES) {
    snprintf(errstr, errstr_size, "%s: larger than %d bytes", L.origin, OC_SCHEMA_MAX_BYTES);
    return NULL;
  }
  L.s = oc_schema_alloc();
  if (!L.s || !yaml_parser_initialize(&parser)) {
    snprintf(errstr, errstr_size, "%s: out of memory", L.origin);
    oc_schema_destroy(L.s);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &L.doc)) {
    snprintf(errstr, errstr_size, "%s:%zu: invalid YAML: %s", L.origin,
             (size_t)parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
    goto out;
  }
  have_doc = true;
  yaml_node_t *root = yaml_document_get_root_node(&L.doc);
  if (!root || root->type != YAML_MAPPING_NODE) {
    oc_sload_fail(&L, root, "a schema must be a mapping");
    goto out;
  }
  const yaml_node_t *ver = oc_y_get(&L, root, "version");
  if (ver && !oc_y_scalar_is(ver, "0")) {
    oc_sload_fail(&L, ver, "unsupported schema version (expected 0)");
    goto out;
  }
  const yaml_node_t *nm = oc_y_get(&L, root, "schema");
  if (!nm) {
    oc_sload_fail(&L, root, "missing \"schema\" (the log type name)");
    goto out;
  }
  if (!(L.s->name = oc_y_str(&L, nm, "schema"))) goto out;
  if (!L.s->name[0] || strlen(L.s->name) > 128 || strchr(L.s->name, '/') ||
      strchr(L.s->name, ' ')) {
    oc_sload_fail(&L, nm, "invalid log type name \"%s\"", L.s->name);
    goto out;
  }
  const yaml_node_t *d = oc_y_get(&L, root, "description");
  if (d && !(L.s->description = oc_y_str(&L, d, "description"))) goto out;
  d = oc_y_get(&L, root, "referenceURL");
  if (d && !(L.s->reference_url = oc_y_str(&L, d, "referenceURL"))) goto out;
  L.defs = oc_y_get(&L, root, "definitions");
  if (!oc_sload_parser(&L, oc_y_get(&L, root, "parser"))) goto out;
  const yaml_node_t *fs = oc_y_get(&L, root, "fields");
  if (!fs) {
    oc_sload_fail(&L, root, "missing \"fields\"");
    goto out;
  }
  if (!oc_sload_fields(&L, fs, &L.s->root, 0)) goto out;
  if (L.s->parser.kind == OC_PARSER_CSV && L.s->parser.ncolumns) {
    for (size_t i = 0; i < L.s->parser.ncolumns; i++) {
      const char *c = L.s->parser.columns[i];
      bool found = false;
      for (size_t j = 0; j < L.s->root.nfields && !found; j++)
        found = strcmp(L.s->root.fields[j].name, c) == 0;
      if (!found) {
        oc_sload_fail(&L, fs, "csv column \"%s\" is not a declared field", c);
        goto out;
      }
    }
  }
  L.s->has_event_time = L.event_time_seen;
  if (!(L.s->origin = oc_arena_strdup(&L.s->arena, L.origin))) {
    oc_sload_fail(&L, NULL, "out of memory");
    goto out;
  }
  oc_schema_set_name(L.s);
  ok = true;
out:
  if (have_doc) yaml_document_delete(&L.doc);
  yaml_parser_delete(&parser);
  if (!ok) {
    oc_schema_destroy(L.s);
    return NULL;
  }
  return L.s;
}

oc_schema_t *oc_schema_load_file(const char *path, char *errstr, size_t errstr_size) {
  struct stat st;
  oc_schema_t *s = NULL;
  char *text = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(errstr, errstr_size, "\"%s\" is not a regular file", path);
    goto out;
  }
  if (st.st_size > OC_SCHEMA_MAX_BYTES) {
    snprintf(errstr, errstr_size, "%s: larger than %d bytes", path, OC_SCHEMA_MAX_BYTES);
    goto out;
  }
  text = malloc((size_t)st.st_size + 1);
  if (!text) {
    snprintf(errstr, errstr_size, "%s: out of memory", path);
    goto out;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(errstr, errstr_size, "could not read \"%s\": %s", path,
               r ? strerror(errno) : "short read");
      goto out;
    }
    got += (size_t)r;
  }
  s = oc_schema_load(text, got, path, errstr, errstr_size);
out:
  free(text);
  close(fd);
  return s;
}

/* ---- schemas from the legacy log_types columns ---- */

static oc_sfield_t *oc_schema_child(oc_schema_t *s, oc_sfield_t *obj, const char *name, size_t n,
                                    size_t cap) {
  for (size_t i = 0; i < obj->nfields; i++)
    if (obj->fields[i].name_len == n && memcmp(obj->fields[i].name, name, n) == 0)
      return &obj->fields[i];
  if (!obj->fields) {
    obj->fields = oc_arena_calloc(&s->arena, cap, sizeof(*obj->fields));
    if (!obj->fields) return NULL;
  }
  if (obj->nfields >= cap) return NULL;
  oc_sfield_t *f = &obj->fields[obj->nfields++];
  char *copy = oc_arena_alloc(&s->arena, n + 1);
  if (!copy) return NULL;
  memcpy(copy, name, n);
  copy[n] = '\0';
  f->name = copy;
  f->name_len = (uint32_t)n;
  f->type = OC_FT_JSON;
  return f;
}

static bool oc_schema_add_path(oc_schema_t *s, const char *path, bool time, size_t cap) {
  oc_sfield_t *obj = &s->root;
  const char *p = path;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n == 0) return false;
    oc_sfield_t *f = oc_schema_child(s, obj, p, n, cap);
    if (!f) return false;
    if (!time) f->required = true; /* the event time (and what leads to it) is optional */
    if (!dot) {
      if (time) {
        if (f->type == OC_FT_OBJECT) return false; /* required paths run through it */
        f->type = OC_FT_TIMESTAMP;
        f->is_event_time = true;
        f->formats = oc_arena_calloc(&s->arena, 1, sizeof(*f->formats));
        char why[64];
        if (!f->formats || !oc_timefmt_compile(f->formats, "rfc3339", why, sizeof(why)))
          return false;
        f->nformats = 1;
      }
      return true;
    }
    if (f->type == OC_FT_TIMESTAMP) return false; /* a path through the time field */
    f->type = OC_FT_OBJECT;
    f->walk = true;
    obj = f;
    p = dot + 1;
  }
}

static bool oc_schema_reindex(oc_schema_t *s, oc_sfield_t *f) {
  const char *dup = NULL;
  if (f->type != OC_FT_OBJECT) return true;
  if (!oc_schema_index(&s->arena, f, &dup)) return false;
  for (size_t i = 0; i < f->nfields; i++)
    if (!oc_schema_reindex(s, &f->fields[i])) return false;
  return true;
}

oc_schema_t *oc_schema_from_fields(const char *name, const char *event_time_path,
                                   const char *const *required, size_t nrequired, char *errstr,
                                   size_t errstr_size) {
  oc_schema_t *s = oc_schema_alloc();
  size_t cap = nrequired + 1;
  if (!s || !(s->name = oc_arena_strdup(&s->arena, name)) ||
      !(s->origin = oc_arena_strdup(&s->arena, "log_types table"))) {
    snprintf(errstr, errstr_size, "log type \"%s\": out of memory", name);
    oc_schema_destroy(s);
    return NULL;
  }
  s->parser.kind = OC_PARSER_JSON;
  s->root.walk = true;
  for (size_t i = 0; i < nrequired; i++)
    if (!event_time_path || strcmp(required[i], event_time_path) != 0)
      if (!oc_schema_add_path(s, required[i], false, cap)) {
        snprintf(errstr, errstr_size, "log type \"%s\": invalid required field \"%s\"", name,
                 required[i]);
        oc_schema_destroy(s);
        return NULL;
      }
  if (event_time_path && event_time_path[0]) {
    if (!oc_schema_add_path(s, event_time_path, true, cap)) {
      snprintf(errstr, errstr_size, "log type \"%s\": invalid event-time field \"%s\"", name,
               event_time_path);
      oc_schema_destroy(s);
      return NULL;
    }
    s->has_event_time = true;
  }
  if (!s->root.fields) s->root.fields = oc_arena_calloc(&s->arena, 1, sizeof(*s->root.fields));
  if (!s->root.fields || !oc_schema_reindex(s, &s->root)) {
    snprintf(errstr, errstr_size, "log type \"%s\": out of memory", name);
    oc_schema_destroy(s);
    return NULL;
  }
  oc_schema_set_name(s);
  return s;
}

void oc_schema_destroy(oc_schema_t *s) {
  if (!s) return;
  oc_arena_deinit(&s->arena);
  free(s);
}

/* ---- applying ---- */

typedef struct {
  const oc_schema_t *s;
  oc_arena_t *a;
  bool check_only;
  oc_indset_t *ind;
  int64_t ref_us;
  int64_t *event_time_us;
  char *errstr;
  size_t errstr_size;
  /* path of the member being checked, for messages */
  oc_patches_t *patches; /* NULL: not recorded */
  const char *path[OC_SCHEMA_MAX_DEPTH + 2];
  uint32_t path_len[OC_SCHEMA_MAX_DEPTH + 2];
  int depth;
} oc_sapply_t;

static oc_sa_result_t oc_sa_fail(oc_sapply_t *A, oc_sa_result_t r, const char *fmt, ...) {
  char where[256], msg[256];
  size_t w = 0;
  va_list ap;
  where[0] = '\0';
  for (int i = 0; i < A->depth && w < sizeof(where) - 1; i++) {
    int k = snprintf(where + w, sizeof(where) - w, "%s%.*s", i ? "." : "", (int)A->path_len[i],
                     A->path[i] ? A->path[i] : "[]");
    if (k < 0) break;
    w += (size_t)k;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(A->errstr, A->errstr_size, "%s: field \"%s\": %s", A->s->name, where, msg);
  return r;
}

static const oc_sfield_t *oc_schema_lookup(const oc_sfield_t *obj, const char *k, size_t n) {
  uint32_t j = oc_schema_hash(k, n) & obj->slot_mask;
  for (uint32_t idx; (idx = obj->slots[j]) != 0; j = (j + 1) & obj->slot_mask) {
    const oc_sfield_t *f = &obj->fields[idx - 1];
    if (f->name_len == n && memcmp(f->name, k, n) == 0) return f;
  }
  return NULL;
}

/* An integer literal (optional '-', digits) within [lo, hi]? Leading/trailing spaces in
 * strings are not accepted, as Panther's decoder does not. */
static bool oc_sa_int(const char *s, size_t n, int64_t lo, int64_t hi) {
  size_t i = 0;
  bool neg = n && s[0] == '-';
  uint64_t v = 0;
  if (neg) i = 1;
  if (i == n || n - i > 19) return false;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return false;
    int64_t x = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return x >= lo;
  }
  return v <= (uint64_t)INT64_MAX && (int64_t)v <= hi;
}

/* A JSON number literal? (for float fields given as strings) */
static bool oc_sa_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i == n) return false;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    i++;
    if (i == n || s[i] < '0' || s[i] > '9') return false;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i == n || s[i] < '0' || s[i] > '9') return false;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  return i == n;
}

static bool oc_sa_in(char *const *list, size_t n, const char *s, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0) return true;
  return false;
}

void oc_patches_deinit(oc_patches_t *p) {
  free(p->v);
  memset(p, 0, sizeof(*p));
}

/* Records that v (as parsed from the source) becomes the JSON text with[0..n). The span of
 * a string includes its quotes; a string written with escapes is not in the source and
 * cannot be patched. */
static void oc_sa_patch(oc_sapply_t *A, const oc_json_t *v, const char *with, size_t n) {
  oc_patches_t *P = A->patches;
  const char *at;
  size_t len;
  if (!P || P->broken) return;
  if ((v->type != OC_JSON_STRING && v->type != OC_JSON_NUMBER) || !v->s || v->s < P->src ||
      v->s + v->len > P->src + P->src_len)
    goto broken;
  at = v->s;
  len = v->len;
  if (v->type == OC_JSON_STRING) {
    if (at == P->src || at + len >= P->src + P->src_len || at[-1] != '"' || at[len] != '"')
      goto broken;
    at--;
    len += 2;
  }
  if (P->n && P->v[P->n - 1].at + P->v[P->n - 1].len > at) goto broken; /* not in order */
  if (P->n == P->cap) {
    size_t cap = P->cap ? P->cap * 2 : 16;
    oc_patch_t *g = realloc(P->v, cap * sizeof(*g));
    if (!g) goto broken;
    P->v = g;
    P->cap = cap;
  }
  P->v[P->n++] = (oc_patch_t){at, (uint32_t)len, with, (uint32_t)n};
  return;
broken:
  P->broken = true;
}

/* with as a quoted JSON string in the arena (the text needs no escaping). */
static char *oc_sa_quoted(oc_arena_t *a, const char *s, size_t n) {
  char *q = oc_arena_alloc(a, n + 2);
  if (!q) return NULL;
  q[0] = '"';
  memcpy(q + 1, s, n);
  q[n + 1] = '"';
  return q;
}

static void oc_sa_indicators(oc_sapply_t *A, uint32_t mask, const char *s, size_t n) {
  if (!A->ind || A->check_only) return;
  for (int k = 0; mask; k++, mask >>= 1)
    if (mask & 1u) oc_indset_scan(A->ind, (oc_ind_kind_t)k, s, n);
}

static oc_sa_result_t oc_sa_object(oc_sapply_t *A, const oc_sfield_t *f, oc_json_t *obj);

static oc_sa_result_t oc_sa_value(oc_sapply_t *A, const oc_sfield_t *f, oc_json_t *v) {
  switch (f->type) {
    case OC_FT_STRING:
      if (v->type == OC_JSON_NUMBER) {
        if (!A->check_only) {
          if (A->patches) {
            char *q = oc_sa_quoted(A->a, v->s, v->len);
            if (q)
              oc_sa_patch(A, v, q, v->len + 2);
            else
              A->patches->broken = true;
          }
          v->type = OC_JSON_STRING;
        }
      } else if (v->type == OC_JSON_TRUE || v->type == OC_JSON_FALSE) {
        if (!A->check_only) {
          if (A->patches) A->patches->broken = true; /* literals keep no source span */
          v->s = v->type == OC_JSON_TRUE ? "true" : "false";
          v->len = v->type == OC_JSON_TRUE ? 4 : 5;
          v->type = OC_JSON_STRING;
        }
      } else if (v->type != OC_JSON_STRING) {
        return oc_sa_fail(A, OC_SA_TYPE, "expected a string");
      }
      if (f->nallow && !oc_sa_in(f->allow, f->nallow, v->s, v->len))
        return oc_sa_fail(A, OC_SA_DENIED, "value \"%.*s\" is not allowed",
                          (int)(v->len > 64 ? 64 : v->len), v->s);
      if (f->ndeny && oc_sa_in(f->deny, f->ndeny, v->s, v->len))
        return oc_sa_fail(A, OC_SA_DENIED, "value \"%.*s\" is denied",
                          (int)(v->len > 64 ? 64 : v->len), v->s);
      if (f->indicators) oc_sa_indicators(A, f->indicators, v->s, v->len);
      return OC_SA_OK;
    case OC_FT_INT:
    case OC_FT_SMALLINT:
    case OC_FT_BIGINT: {
      int64_t lo = f->type == OC_FT_SMALLINT ? INT16_MIN
                   : f->type == OC_FT_INT    ? INT32_MIN
                                             : INT64_MIN;
      int64_t hi = f->type == OC_FT_SMALLINT ? INT16_MAX
                   : f->type == OC_FT_INT    ? INT32_MAX
                                             : INT64_MAX;
      if ((v->type != OC_JSON_NUMBER && v->type != OC_JSON_STRING) ||
          !oc_sa_int(v->s, v->len, lo, hi))
        return oc_sa_fail(A, OC_SA_TYPE, "expected an integer (%s)", oc_ftype_name(f->type));
      if (!A->check_only && v->type == OC_JSON_STRING) {
        oc_json_t orig = *v;
        /* "007" is a fine integer in a text log but not a JSON number: drop leading zeros */
        size_t sign = v->s[0] == '-', z = sign;
        while (z + 1 < v->len && v->s[z] == '0')
          z++;
        if (z > sign) {
          char *c = oc_arena_alloc(A->a, v->len - z + sign + 1);
          if (!c) return oc_sa_fail(A, OC_SA_TYPE, "out of memory");
          if (sign) c[0] = '-';
          memcpy(c + sign, v->s + z, v->len - z);
          v->len = (uint32_t)(v->len - z + sign);
          v->s = c;
        }
        if (v->len == 2 && v->s[0] == '-' && v->s[1] == '0') {
          v->s = "0";
          v->len = 1;
        }
        v->type = OC_JSON_NUMBER;
        oc_sa_patch(A, &orig, v->s, v->len);
      }
      return OC_SA_OK;
    }
    case OC_FT_FLOAT:
      if (v->type == OC_JSON_NUMBER) return OC_SA_OK;
      if (v->type != OC_JSON_STRING || !oc_sa_number(v->s, v->len))
        return oc_sa_fail(A, OC_SA_TYPE, "expected a number");
      if (!A->check_only) {
        oc_sa_patch(A, v, v->s, v->len);
        v->type = OC_JSON_NUMBER;
      }
      return OC_SA_OK;
    case OC_FT_BOOLEAN:
      if (v->type == OC_JSON_TRUE || v->type == OC_JSON_FALSE) return OC_SA_OK;
      if (v->type == OC_JSON_STRING && (v->len == 4 || v->len == 5)) {
        bool t = v->len == 4 && strncasecmp(v->s, "true", 4) == 0;
        bool fl = v->len == 5 && strncasecmp(v->s, "false", 5) == 0;
        if (t || fl) {
          if (!A->check_only) {
            oc_sa_patch(A, v, t ? "true" : "false", t ? 4 : 5);
            v->type = t ? OC_JSON_TRUE : OC_JSON_FALSE;
          }
          return OC_SA_OK;
        }
      }
      return oc_sa_fail(A, OC_SA_TYPE, "expected a boolean");
    case OC_FT_TIMESTAMP: {
      int64_t us = 0;
      size_t i = 0;
      if (v->type != OC_JSON_STRING && v->type != OC_JSON_NUMBER)
        return oc_sa_fail(A, OC_SA_TYPE, "expected a timestamp");
      for (; i < f->nformats; i++)
        if (oc_timefmt_parse(&f->formats[i], v->s, v->len, A->ref_us, &us)) break;
      if (i == f->nformats)
        return oc_sa_fail(A, OC_SA_TIME, "\"%.*s\" matches none of its time formats",
                          (int)(v->len > 64 ? 64 : v->len), v->s);
      if (f->is_event_time) *A->event_time_us = us;
      if (!A->check_only) {
        /* "YYYY-MM-DD HH:MM:SS.ffffff000" between quotes: the node's text is out + 1 */
        char *out = oc_arena_alloc(A->a, 34);
        if (!out) return oc_sa_fail(A, OC_SA_TYPE, "out of memory");
        out[0] = '"';
        oc_time_format_panther(us, out + 1);
        size_t tn = strlen(out + 1);
        out[tn + 1] = '"';
        oc_sa_patch(A, v, out, tn + 2);
        v->type = OC_JSON_STRING;
        v->s = out + 1;
        v->len = (uint32_t)tn;
      }
      return OC_SA_OK;
    }
    case OC_FT_OBJECT:
      if (v->type != OC_JSON_OBJECT) return oc_sa_fail(A, OC_SA_TYPE, "expected an object");
      return oc_sa_object(A, f, v);
    case OC_FT_ARRAY: {
      if (v->type != OC_JSON_ARRAY) return oc_sa_fail(A, OC_SA_TYPE, "expected an array");
      if (A->depth > OC_SCHEMA_MAX_DEPTH) return OC_SA_OK;
      A->path[A->depth] = NULL;
      A->path_len[A->depth] = 2;
      A->depth++;
      for (oc_json_t *e = v->child; e; e = e->next) {
        if (e->type == OC_JSON_NULL) continue;
        oc_sa_result_t r = oc_sa_value(A, f->element, e);
        if (r != OC_SA_OK) return r;
      }
      A->depth--;
      return OC_SA_OK;
    }
    case OC_FT_JSON:
      return OC_SA_OK;
  }
  return OC_SA_OK;
}

static oc_sa_result_t oc_sa_object(oc_sapply_t *A, const oc_sfield_t *f, oc_json_t *obj) {
  size_t seen = 0;
  uint64_t seen_mask = 0; /* required fields seen, by position among the first 64 fields */
  if (A->depth > OC_SCHEMA_MAX_DEPTH) return OC_SA_OK;
  for (oc_json_t *m = obj->child; m; m = m->next) {
    if (!m->key) continue;
    const oc_sfield_t *sf = oc_schema_lookup(f, m->key, m->key_len);
    if (!sf || m->type == OC_JSON_NULL) continue;
    if (sf->required) {
      size_t idx = (size_t)(sf - f->fields);
      if (idx < 64) {
        if (!(seen_mask & (1ull << idx))) {
          seen_mask |= 1ull << idx;
          seen++;
        }
      } else {
        seen++;
      }
    }
    A->path[A->depth] = sf->name;
    A->path_len[A->depth] = sf->name_len;
    A->depth++;
    oc_sa_result_t r = oc_sa_value(A, sf, m);
    A->depth--;
    if (r != OC_SA_OK) return r;
  }
  if (seen < f->nrequired) {
    for (size_t i = 0; i < f->nfields; i++) {
      const oc_sfield_t *sf = &f->fields[i];
      if (!sf->required) continue;
      const oc_json_t *m = oc_json_getn(obj, sf->name, sf->name_len);
      if (!m || m->type == OC_JSON_NULL) {
        A->path[A->depth] = sf->name;
        A->path_len[A->depth] = sf->name_len;
        A->depth++;
        return oc_sa_fail(A, OC_SA_MISSING, "required but %s", m ? "null" : "missing");
      }
    }
  }
  return OC_SA_OK;
}

oc_sa_result_t oc_schema_apply(const oc_schema_t *s, oc_arena_t *a, oc_json_t *ev, bool check_only,
                               oc_indset_t *ind, int64_t ref_us, int64_t *event_time_us,
                               char *errstr, size_t errstr_size) {
  return oc_schema_apply_patched(s, a, ev, check_only, ind, ref_us, event_time_us, NULL, errstr,
                                 errstr_size);
}

oc_sa_result_t oc_schema_apply_patched(const oc_schema_t *s, oc_arena_t *a, oc_json_t *ev,
                                       bool check_only, oc_indset_t *ind, int64_t ref_us,
                                       int64_t *event_time_us, oc_patches_t *patches, char *errstr,
                                       size_t errstr_size) {
  oc_sapply_t A = {.s = s,
                   .patches = check_only ? NULL : patches,
                   .a = a,
                   .check_only = check_only,
                   .ind = ind,
                   .ref_us = ref_us,
                   .event_time_us = event_time_us,
                   .errstr = errstr,
                   .errstr_size = errstr_size};
  *event_time_us = ref_us;
  if (!ev || ev->type != OC_JSON_OBJECT) {
    snprintf(errstr, errstr_size, "%s: the event is not a JSON object", s->name);
    return OC_SA_NOT_OBJECT;
  }
  oc_sa_result_t r = oc_sa_object(&A, &s->root, ev);
  if (r == OC_SA_OK && s->aws && ind && !check_only) oc_indset_walk_aws(ind, ev);
  return r;
}
