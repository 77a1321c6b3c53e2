/* rule.c: a YAML detection document -> oc_rule_t (see rule.h for the format). Parsing
 * uses libyaml's document loader; every error names the line of the offending node. */
#include "services/rules-engine/rule.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"

#define OC_RULE_MAX_FIELD (64 * 1024) /* Description, Runbook, AlertTitle, ... */
#define OC_RULE_MAX_LIST 1000         /* LogTypes, Tags, OutputIds, GroupBy entries */

typedef struct oc_rule_parser {
  yaml_document_t *doc;
  oc_rule_t *rule;
  int err_line;
  char *errstr;
  size_t errstr_size;
} oc_rule_parser_t;

static bool oc_rule_fail(oc_rule_parser_t *p, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool oc_rule_fail(oc_rule_parser_t *p, const yaml_node_t *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->errstr, p->errstr_size, fmt, ap);
  va_end(ap);
  p->err_line = at ? (int)at->start_mark.line + 1 : 0;
  return false;
}

static const char *oc_rule_kind(const yaml_node_t *n) {
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

static bool oc_rule_key_is(const yaml_node_t *k, const char *name) {
  return k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(name) &&
         memcmp(k->data.scalar.value, name, k->data.scalar.length) == 0;
}

/* A string scalar copied into the rule's arena. Control characters other than tab and
 * newline are refused (they end up in titles, logs and headers). */
static bool oc_rule_string(oc_rule_parser_t *p, const yaml_node_t *v, const char *name, size_t max,
                           bool single_line, const char **out) {
  if (v->type != YAML_SCALAR_NODE)
    return oc_rule_fail(p, v, "%s must be a string, found %s", name, oc_rule_kind(v));
  size_t n = v->data.scalar.length;
  const unsigned char *s = v->data.scalar.value;
  if (n > max) return oc_rule_fail(p, v, "%s is longer than %zu bytes", name, max);
  for (size_t i = 0; i < n; i++) {
    if (s[i] < 0x20 && s[i] != '\t' && (single_line || s[i] != '\n'))
      return oc_rule_fail(p, v, "%s contains a control character", name);
  }
  *out = oc_arena_strndup(&p->rule->arena, (const char *)s, n);
  if (!*out) return oc_rule_fail(p, v, "out of memory");
  return true;
}

static bool oc_rule_string_list(oc_rule_parser_t *p, const yaml_node_t *v, const char *name,
                                const char ***out, size_t *nout) {
  if (v->type == YAML_SCALAR_NODE) { /* "LogTypes: AWS.CloudTrail" is read as a list of one */
    const char **list = oc_arena_alloc(&p->rule->arena, sizeof(*list));
    if (!list) return oc_rule_fail(p, v, "out of memory");
    if (!oc_rule_string(p, v, name, OC_RULE_MAX_ID, true, &list[0])) return false;
    *out = list;
    *nout = 1;
    return true;
  }
  if (v->type != YAML_SEQUENCE_NODE)
    return oc_rule_fail(p, v, "%s must be a list of strings, found %s", name, oc_rule_kind(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n > OC_RULE_MAX_LIST)
    return oc_rule_fail(p, v, "%s has more than %d entries", name, OC_RULE_MAX_LIST);
  const char **list = oc_arena_alloc(&p->rule->arena, (n ? n : 1) * sizeof(*list));
  if (!list) return oc_rule_fail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    if (!item) return oc_rule_fail(p, v, "%s has a broken entry", name);
    if (!oc_rule_string(p, item, name, OC_RULE_MAX_ID, true, &list[i])) return false;
  }
  *out = list;
  *nout = n;
  return true;
}

static bool oc_rule_int(oc_rule_parser_t *p, const yaml_node_t *v, const char *name, long min,
                        long max, int *out) {
  char buf[32], *end;
  if (v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0 ||
      v->data.scalar.length >= sizeof(buf))
    return oc_rule_fail(p, v, "%s must be an integer", name);
  memcpy(buf, v->data.scalar.value, v->data.scalar.length);
  buf[v->data.scalar.length] = '\0';
  long x = strtol(buf, &end, 10);
  if (*end != '\0' || buf[0] == ' ')
    return oc_rule_fail(p, v, "%s must be an integer, found \"%s\"", name, buf);
  if (x < min || x > max)
    return oc_rule_fail(p, v, "%s must be between %ld and %ld, found %ld", name, min, max, x);
  *out = (int)x;
  return true;
}

static bool oc_rule_bool(oc_rule_parser_t *p, const yaml_node_t *v, const char *name, bool *out) {
  static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
  if (v->type == YAML_SCALAR_NODE) {
    for (size_t i = 0; i < 3; i++) {
      if (v->data.scalar.length == strlen(yes[i]) &&
          strncasecmp((const char *)v->data.scalar.value, yes[i], v->data.scalar.length) == 0) {
        *out = true;
        return true;
      }
      if (v->data.scalar.length == strlen(no[i]) &&
          strncasecmp((const char *)v->data.scalar.value, no[i], v->data.scalar.length) == 0) {
        *out = false;
        return true;
      }
    }
  }
  return oc_rule_fail(p, v, "%s must be true or false", name);
}

static const char *const oc_rule_levels[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

/* A severity name (any case) -> its upper-case static string. */
static bool oc_rule_level(oc_rule_parser_t *p, const yaml_node_t *v, const char *name,
                          const char **out) {
  if (v->type == YAML_SCALAR_NODE) {
    for (size_t i = 0; i < sizeof(oc_rule_levels) / sizeof(oc_rule_levels[0]); i++) {
      if (v->data.scalar.length == strlen(oc_rule_levels[i]) &&
          strncasecmp((const char *)v->data.scalar.value, oc_rule_levels[i],
                      v->data.scalar.length) == 0) {
        *out = oc_rule_levels[i];
        return true;
      }
    }
    return oc_rule_fail(p, v, "%s must be one of Info, Low, Medium, High, Critical, found \"%.*s\"",
                        name, (int)(v->data.scalar.length > 64 ? 64 : v->data.scalar.length),
                        (const char *)v->data.scalar.value);
  }
  return oc_rule_fail(p, v, "%s must be a string, found %s", name, oc_rule_kind(v));
}

static bool oc_rule_severity(oc_rule_parser_t *p, const yaml_node_t *v) {
  return oc_rule_level(p, v, "Severity", &p->rule->severity);
}

/* A key specifier: a mapping with exactly one of Key, KeyPath, DeepKey (or, when
 * allow_text, a scalar read as a KeyPath). what names the field in messages. */
static bool oc_rule_key_spec(oc_rule_parser_t *p, yaml_node_t *item, oc_det_keys_t *keys,
                             const char *what, bool allow_text, oc_det_path_t *out) {
  char why[256];
  if (allow_text && item->type == YAML_SCALAR_NODE) {
    if (!oc_det_path_compile(&p->rule->arena, keys, OC_DET_PATH_KEYPATH,
                             (const char *)item->data.scalar.value, item->data.scalar.length, out,
                             why, sizeof(why)))
      return oc_rule_fail(p, item, "%s: %s", what, why);
    return true;
  }
  if (item->type != YAML_MAPPING_NODE ||
      item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1)
    return oc_rule_fail(
        p, item, "%s entries must be one of {Key: ...}, {KeyPath: ...}, {DeepKey: [...]}", what);
  yaml_node_pair_t *pair = item->data.mapping.pairs.start;
  yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
  yaml_node_t *val = yaml_document_get_node(p->doc, pair->value);
  if (!k || !val) return oc_rule_fail(p, item, "broken %s entry", what);
  bool ok;
  if (oc_rule_key_is(k, "Key") || oc_rule_key_is(k, "KeyPath")) {
    if (val->type != YAML_SCALAR_NODE) return oc_rule_fail(p, val, "%s key must be a string", what);
    ok = oc_det_path_compile(
        &p->rule->arena, keys, oc_rule_key_is(k, "Key") ? OC_DET_PATH_KEY : OC_DET_PATH_KEYPATH,
        (const char *)val->data.scalar.value, val->data.scalar.length, out, why, sizeof(why));
  } else if (oc_rule_key_is(k, "DeepKey")) {
    const char *names[OC_DET_MAX_PATH_STEPS];
    size_t lens[OC_DET_MAX_PATH_STEPS];
    size_t nn = val->type == YAML_SEQUENCE_NODE
                    ? (size_t)(val->data.sequence.items.top - val->data.sequence.items.start)
                    : 0;
    if (val->type != YAML_SEQUENCE_NODE || nn > OC_DET_MAX_PATH_STEPS)
      return oc_rule_fail(p, val, "%s DeepKey must be a list of at most %d keys", what,
                          OC_DET_MAX_PATH_STEPS);
    for (size_t j = 0; j < nn; j++) {
      yaml_node_t *s = yaml_document_get_node(p->doc, val->data.sequence.items.start[j]);
      if (!s || s->type != YAML_SCALAR_NODE)
        return oc_rule_fail(p, val, "DeepKey entries must be strings");
      names[j] = (const char *)s->data.scalar.value;
      lens[j] = s->data.scalar.length;
    }
    ok = oc_det_path_compile_deep(&p->rule->arena, keys, names, lens, nn, out, why, sizeof(why));
  } else {
    return oc_rule_fail(p, k, "%s entries take Key, KeyPath or DeepKey", what);
  }
  if (!ok) return oc_rule_fail(p, val, "%s: %s", what, why);
  return true;
}

static bool oc_rule_group_by(oc_rule_parser_t *p, const yaml_node_t *v, oc_det_keys_t *keys) {
  if (v->type != YAML_SEQUENCE_NODE)
    return oc_rule_fail(p, v, "GroupBy must be a list, found %s", oc_rule_kind(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n > OC_RULE_MAX_LIST)
    return oc_rule_fail(p, v, "GroupBy has more than %d entries", OC_RULE_MAX_LIST);
  oc_det_path_t *paths = oc_arena_alloc(&p->rule->arena, (n ? n : 1) * sizeof(*paths));
  if (!paths) return oc_rule_fail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    if (!item) return oc_rule_fail(p, v, "GroupBy has a broken entry");
    if (!oc_rule_key_spec(p, item, keys, "GroupBy", false, &paths[i])) return false;
  }
  p->rule->group_by = paths;
  p->rule->ngroup_by = n;
  return true;
}

/* One AlertContext entry named by the scalar name_node. */
static bool oc_rule_context_entry(oc_rule_parser_t *p, yaml_node_t *name_node, yaml_node_t *spec,
                                  oc_det_keys_t *keys, size_t i) {
  oc_rule_t *rule = p->rule;
  oc_rule_context_t *e = &rule->context[i];
  if (!oc_rule_string(p, name_node, "AlertContext name", OC_RULE_MAX_ID, true, &e->name))
    return false;
  if (!*e->name) return oc_rule_fail(p, name_node, "AlertContext name is empty");
  for (size_t j = 0; j < i; j++)
    if (strcmp(rule->context[j].name, e->name) == 0)
      return oc_rule_fail(p, name_node, "duplicate AlertContext name \"%s\"", e->name);
  return oc_rule_key_spec(p, spec, keys, "AlertContext", true, &e->path);
}

/* AlertContext: a mapping {name: key specifier}, or Panther's list
 * [{KeyName: name, KeyValue: key specifier}]. */
static bool oc_rule_alert_context(oc_rule_parser_t *p, yaml_node_t *v, oc_det_keys_t *keys) {
  oc_rule_t *rule = p->rule;
  bool map = v->type == YAML_MAPPING_NODE;
  if (!map && v->type != YAML_SEQUENCE_NODE)
    return oc_rule_fail(p, v, "AlertContext must be a mapping of names to keys, found %s",
                        oc_rule_kind(v));
  size_t n = map ? (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start)
                 : (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n == 0) return oc_rule_fail(p, v, "AlertContext is empty");
  if (n > OC_RULE_MAX_LIST)
    return oc_rule_fail(p, v, "AlertContext has more than %d entries", OC_RULE_MAX_LIST);
  rule->context = oc_arena_alloc(&rule->arena, n * sizeof(*rule->context));
  if (!rule->context) return oc_rule_fail(p, v, "out of memory");
  memset(rule->context, 0, n * sizeof(*rule->context));
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *name = NULL, *spec = NULL;
    if (map) {
      name = yaml_document_get_node(p->doc, v->data.mapping.pairs.start[i].key);
      spec = yaml_document_get_node(p->doc, v->data.mapping.pairs.start[i].value);
      if (!name || !spec) return oc_rule_fail(p, v, "broken AlertContext entry");
    } else {
      yaml_node_t *item = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
      if (!item || item->type != YAML_MAPPING_NODE)
        return oc_rule_fail(p, item ? item : v,
                            "AlertContext list entries must be {KeyName: ..., KeyValue: ...}");
      for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
           pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *val = yaml_document_get_node(p->doc, pr->value);
        if (!k || !val) return oc_rule_fail(p, item, "broken AlertContext entry");
        if (oc_rule_key_is(k, "KeyName") && !name)
          name = val;
        else if (oc_rule_key_is(k, "KeyValue") && !spec)
          spec = val;
        else
          return oc_rule_fail(p, k,
                              "AlertContext list entries take KeyName and KeyValue once each");
      }
      if (!name || !spec)
        return oc_rule_fail(p, item, "AlertContext entry needs KeyName and KeyValue");
    }
    if (!oc_rule_context_entry(p, name, spec, keys, i)) return false;
  }
  rule->ncontext = n;
  return true;
}

/* DynamicSeverities: [{ChangeTo: SEVERITY, Conditions: [match expressions]}]. */
static bool oc_rule_dynamic_severities(oc_rule_parser_t *p, yaml_node_t *v, oc_det_keys_t *keys) {
  oc_rule_t *rule = p->rule;
  char why[512];
  if (v->type != YAML_SEQUENCE_NODE)
    return oc_rule_fail(p, v, "DynamicSeverities must be a list, found %s", oc_rule_kind(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n == 0) return oc_rule_fail(p, v, "DynamicSeverities is empty");
  if (n > OC_RULE_MAX_LIST)
    return oc_rule_fail(p, v, "DynamicSeverities has more than %d entries", OC_RULE_MAX_LIST);
  rule->dynamic_severities = oc_arena_alloc(&rule->arena, n * sizeof(*rule->dynamic_severities));
  if (!rule->dynamic_severities) return oc_rule_fail(p, v, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(p->doc, v->data.sequence.items.start[i]);
    yaml_node_t *to = NULL, *conds = NULL;
    if (!item || item->type != YAML_MAPPING_NODE)
      return oc_rule_fail(p, item ? item : v,
                          "DynamicSeverities entries must be {ChangeTo: ..., Conditions: [...]}");
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top;
         pr++) {
      yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
      yaml_node_t *val = yaml_document_get_node(p->doc, pr->value);
      if (!k || !val) return oc_rule_fail(p, item, "broken DynamicSeverities entry");
      if (oc_rule_key_is(k, "ChangeTo") && !to)
        to = val;
      else if (oc_rule_key_is(k, "Conditions") && !conds)
        conds = val;
      else
        return oc_rule_fail(p, k,
                            "DynamicSeverities entries take ChangeTo and Conditions once each");
    }
    if (!to) return oc_rule_fail(p, item, "DynamicSeverities entry without ChangeTo");
    if (!conds) return oc_rule_fail(p, item, "DynamicSeverities entry without Conditions");
    oc_rule_dynsev_t *d = &rule->dynamic_severities[i];
    if (!oc_rule_level(p, to, "ChangeTo", &d->severity)) return false;
    int line = 0;
    d->conditions = oc_det_compile(&rule->arena, keys, p->doc, conds, &line, why, sizeof(why));
    if (!d->conditions) {
      snprintf(p->errstr, p->errstr_size, "DynamicSeverities: %s", why);
      p->err_line = line;
      return false;
    }
  }
  rule->ndynamic_severities = n;
  return true;
}

/* The top-level members we read; the rest are ignored. */
typedef struct oc_rule_fields {
  yaml_node_t *analysis_type, *rule_id, *display_name, *enabled, *log_types, *severity, *dedup,
      *threshold, *title, *description, *reference, *runbook, *tags, *outputs, *group_by,
      *detection, *inline_filters, *filename, *alert_context, *dynamic_severities;
} oc_rule_fields_t;

static bool oc_rule_collect(oc_rule_parser_t *p, yaml_node_t *root, oc_rule_fields_t *f) {
  static const struct {
    const char *name;
    size_t off;
  } known[] = {
      {"AnalysisType", offsetof(oc_rule_fields_t, analysis_type)},
      {"RuleID", offsetof(oc_rule_fields_t, rule_id)},
      {"DisplayName", offsetof(oc_rule_fields_t, display_name)},
      {"Enabled", offsetof(oc_rule_fields_t, enabled)},
      {"LogTypes", offsetof(oc_rule_fields_t, log_types)},
      {"Severity", offsetof(oc_rule_fields_t, severity)},
      {"DedupPeriodMinutes", offsetof(oc_rule_fields_t, dedup)},
      {"Threshold", offsetof(oc_rule_fields_t, threshold)},
      {"AlertTitle", offsetof(oc_rule_fields_t, title)},
      {"Description", offsetof(oc_rule_fields_t, description)},
      {"Reference", offsetof(oc_rule_fields_t, reference)},
      {"Runbook", offsetof(oc_rule_fields_t, runbook)},
      {"Tags", offsetof(oc_rule_fields_t, tags)},
      {"OutputIds", offsetof(oc_rule_fields_t, outputs)},
      {"GroupBy", offsetof(oc_rule_fields_t, group_by)},
      {"Detection", offsetof(oc_rule_fields_t, detection)},
      {"InlineFilters", offsetof(oc_rule_fields_t, inline_filters)},
      {"Filename", offsetof(oc_rule_fields_t, filename)},
      {"AlertContext", offsetof(oc_rule_fields_t, alert_context)},
      {"DynamicSeverities", offsetof(oc_rule_fields_t, dynamic_severities)},
  };
  memset(f, 0, sizeof(*f));
  for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top;
       pair++) {
    yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
    yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
    if (!k || !v) return oc_rule_fail(p, root, "broken mapping");
    if (k->type != YAML_SCALAR_NODE) return oc_rule_fail(p, k, "top-level keys must be strings");
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
      if (!oc_rule_key_is(k, known[i].name)) continue;
      yaml_node_t **slot = (yaml_node_t **)((char *)f + known[i].off);
      if (*slot) return oc_rule_fail(p, k, "duplicate key %s", known[i].name);
      *slot = v;
      break;
    }
  }
  return true;
}

static bool oc_rule_build(oc_rule_parser_t *p, yaml_node_t *root, const oc_rule_fields_t *f,
                          const char *fallback_id, oc_det_keys_t *keys) {
  oc_rule_t *rule = p->rule;
  char why[512];
  int line = 0;

  if (f->rule_id) {
    if (!oc_rule_string(p, f->rule_id, "RuleID", OC_RULE_MAX_ID, true, &rule->id)) return false;
  } else if (fallback_id) {
    rule->id = oc_arena_strdup(&rule->arena, fallback_id);
    if (!rule->id) return oc_rule_fail(p, root, "out of memory");
  } else {
    return oc_rule_fail(p, root, "missing RuleID");
  }
  if (!*rule->id) return oc_rule_fail(p, f->rule_id, "RuleID is empty");
  if (f->display_name && !oc_rule_string(p, f->display_name, "DisplayName", OC_RULE_MAX_FIELD, true,
                                         &rule->display_name))
    return false;
  if (f->enabled && !oc_rule_bool(p, f->enabled, "Enabled", &rule->enabled)) return false;
  if (!f->log_types) return oc_rule_fail(p, root, "missing LogTypes");
  if (!oc_rule_string_list(p, f->log_types, "LogTypes", &rule->log_types, &rule->nlog_types))
    return false;
  if (rule->nlog_types == 0) return oc_rule_fail(p, f->log_types, "LogTypes is empty");
  if (!f->severity) return oc_rule_fail(p, root, "missing Severity");
  if (!oc_rule_severity(p, f->severity)) return false;
  if (f->dedup &&
      !oc_rule_int(p, f->dedup, "DedupPeriodMinutes", 1, 10080, &rule->dedup_period_minutes))
    return false;
  if (f->threshold && !oc_rule_int(p, f->threshold, "Threshold", 1, 1000000, &rule->threshold))
    return false;
  if (f->description && !oc_rule_string(p, f->description, "Description", OC_RULE_MAX_FIELD, false,
                                        &rule->description))
    return false;
  if (f->reference &&
      !oc_rule_string(p, f->reference, "Reference", OC_RULE_MAX_FIELD, false, &rule->reference))
    return false;
  if (f->runbook &&
      !oc_rule_string(p, f->runbook, "Runbook", OC_RULE_MAX_FIELD, false, &rule->runbook))
    return false;
  if (f->tags && !oc_rule_string_list(p, f->tags, "Tags", &rule->tags, &rule->ntags)) return false;
  if (f->outputs &&
      !oc_rule_string_list(p, f->outputs, "OutputIds", &rule->destinations, &rule->ndestinations))
    return false;
  if (f->title) {
    const char *tmpl;
    if (!oc_rule_string(p, f->title, "AlertTitle", OC_RULE_MAX_FIELD, false, &tmpl)) return false;
    rule->title = oc_title_compile(&rule->arena, keys, tmpl, strlen(tmpl), why, sizeof(why));
    if (!rule->title) return oc_rule_fail(p, f->title, "%s", why);
  }
  if (f->group_by && !oc_rule_group_by(p, f->group_by, keys)) return false;
  if (f->alert_context && !oc_rule_alert_context(p, f->alert_context, keys)) return false;
  if (f->dynamic_severities && !oc_rule_dynamic_severities(p, f->dynamic_severities, keys))
    return false;
  if (!f->detection) return oc_rule_fail(p, root, "missing Detection");
  rule->detection =
      oc_det_compile(&rule->arena, keys, p->doc, f->detection, &line, why, sizeof(why));
  if (!rule->detection) {
    snprintf(p->errstr, p->errstr_size, "Detection: %s", why);
    p->err_line = line;
    return false;
  }
  if (f->inline_filters) {
    rule->inline_filters =
        oc_det_compile(&rule->arena, keys, p->doc, f->inline_filters, &line, why, sizeof(why));
    if (!rule->inline_filters) {
      snprintf(p->errstr, p->errstr_size, "InlineFilters: %s", why);
      p->err_line = line;
      return false;
    }
  }
  return true;
}

oc_rule_status_t oc_rule_parse(const char *text, size_t len, const char *origin,
                               const char *version, const char *fallback_id, oc_det_keys_t *keys,
                               oc_rule_t **out, int *err_line, char *errstr, size_t errstr_size) {
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  bool parser_ok = false, doc_ok = false;
  oc_rule_status_t status = OC_RULE_ERROR;
  oc_rule_parser_t p = {.doc = &doc, .errstr = errstr, .errstr_size = errstr_size};
  oc_rule_t *rule = NULL;
  oc_rule_fields_t f;

  *out = NULL;
  if (err_line) *err_line = 0;
  if (len > OC_RULE_MAX_TEXT) {
    snprintf(errstr, errstr_size, "detection is larger than %d bytes", OC_RULE_MAX_TEXT);
    goto out;
  }
  if (memchr(text, '\0', len)) {
    snprintf(errstr, errstr_size, "detection contains a NUL byte");
    goto out;
  }
  if (!yaml_parser_initialize(&parser)) {
    snprintf(errstr, errstr_size, "out of memory");
    goto out;
  }
  parser_ok = true;
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    snprintf(errstr, errstr_size, "YAML syntax error: %s%s%s",
             parser.problem ? parser.problem : "malformed document", parser.context ? " " : "",
             parser.context ? parser.context : "");
    p.err_line = (int)parser.problem_mark.line + 1;
    goto out;
  }
  doc_ok = true;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    snprintf(errstr, errstr_size, "empty document");
    goto out;
  }
  if (root->type != YAML_MAPPING_NODE) {
    oc_rule_fail(&p, root, "a detection must be a mapping, found %s", oc_rule_kind(root));
    goto out;
  }
  if (!yaml_parser_load(&parser, &extra)) {
    snprintf(errstr, errstr_size, "YAML syntax error: %s",
             parser.problem ? parser.problem : "malformed document");
    p.err_line = (int)parser.problem_mark.line + 1;
    goto out;
  }
  bool more = yaml_document_get_root_node(&extra) != NULL;
  yaml_document_delete(&extra);
  if (more) {
    snprintf(errstr, errstr_size, "more than one YAML document in one detection");
    goto out;
  }

  rule = calloc(1, sizeof(*rule));
  if (!rule) {
    snprintf(errstr, errstr_size, "out of memory");
    goto out;
  }
  oc_arena_init(&rule->arena, 16 * 1024);
  p.rule = rule;
  if (!oc_rule_collect(&p, root, &f)) goto out;

  if (f.analysis_type) {
    const char *type;
    if (!oc_rule_string(&p, f.analysis_type, "AnalysisType", OC_RULE_MAX_ID, true, &type)) goto out;
    if (strcasecmp(type, "rule") != 0) {
      snprintf(errstr, errstr_size, "AnalysisType %s is not a rule; skipped", type);
      status = OC_RULE_NOT_A_RULE;
      goto out;
    }
  }
  if (f.filename) {
    snprintf(errstr, errstr_size,
             "a Python rule: it runs from a pack (OCELOT_RULES_PACK_DIR or ocelot rules upload), "
             "not from the YAML detections");
    status = OC_RULE_PYTHON;
    goto out;
  }

  rule->enabled = true;
  rule->dedup_period_minutes = 60;
  rule->threshold = 1;
  rule->display_name = rule->description = rule->reference = rule->runbook = "";
  if (!oc_rule_build(&p, root, &f, fallback_id, keys)) goto out;

  rule->origin = oc_arena_strdup(&rule->arena, origin ? origin : "");
  if (version) {
    rule->version = oc_arena_strdup(&rule->arena, version);
  } else {
    char hex[33];
    const char *parts[1] = {text};
    size_t lens[1] = {len};
    oc_hash_hex128(hex, parts, lens, 1);
    rule->version = oc_arena_strdup(&rule->arena, hex);
  }
  if (!rule->origin || !rule->version) {
    snprintf(errstr, errstr_size, "out of memory");
    goto out;
  }
  status = OC_RULE_OK;
  *out = rule;
  rule = NULL;
out:
  if (status == OC_RULE_ERROR && err_line) *err_line = p.err_line;
  oc_rule_destroy(rule);
  if (doc_ok) yaml_document_delete(&doc);
  if (parser_ok) yaml_parser_delete(&parser);
  return status;
}

void oc_rule_destroy(oc_rule_t *rule) {
  if (!rule) return;
  oc_arena_deinit(&rule->arena);
  free(rule);
}

bool oc_rule_matches(const oc_rule_t *rule, oc_det_ctx_t *ctx) {
  if (rule->inline_filters && !oc_det_eval(ctx, rule->inline_filters)) return false;
  return oc_det_eval(ctx, rule->detection);
}

void oc_rule_render_title(const oc_rule_t *rule, oc_det_ctx_t *ctx, oc_buf_t *out) {
  if (rule->title) {
    oc_title_render(rule->title, ctx, out);
    return;
  }
  size_t start = out->len;
  oc_buf_puts(out, *rule->display_name ? rule->display_name : rule->id);
  oc_title_truncate(out, start, OC_TITLE_MAX);
}

void oc_rule_render_dedup(const oc_rule_t *rule, oc_det_ctx_t *ctx, const char *title,
                          size_t title_len, oc_buf_t *out) {
  size_t start = out->len;
  if (rule->ngroup_by) {
    for (size_t i = 0; i < rule->ngroup_by; i++) {
      if (i) oc_buf_putc(out, ':');
      oc_title_append_value(out, oc_det_path_first(ctx, &rule->group_by[i]));
      if (out->len > start + OC_RULE_MAX_DEDUP) break;
    }
  } else if (rule->title) {
    oc_buf_append(out, title, title_len);
  } else {
    oc_buf_puts(out, "defaultDedupString:");
    oc_buf_puts(out, rule->id);
  }
  oc_title_truncate(out, start, OC_RULE_MAX_DEDUP);
}

const char *oc_rule_severity_for(const oc_rule_t *rule, oc_det_ctx_t *ctx) {
  for (size_t i = 0; i < rule->ndynamic_severities; i++)
    if (oc_det_eval(ctx, rule->dynamic_severities[i].conditions))
      return rule->dynamic_severities[i].severity;
  return rule->severity;
}

typedef struct oc_rule_ctx_walk {
  oc_buf_t *out;
  size_t n;
} oc_rule_ctx_walk_t;

static bool oc_rule_ctx_collect(const void *arg, const oc_json_t *v) {
  oc_rule_ctx_walk_t *w = (oc_rule_ctx_walk_t *)arg;
  if (!v) return false;
  if (w->n++) oc_buf_putc(w->out, ',');
  oc_json_serialize(w->out, v);
  return w->out->len > OC_RULE_MAX_CONTEXT; /* stop walking once over the limit */
}

bool oc_rule_render_context(const oc_rule_t *rule, oc_det_ctx_t *ctx, oc_buf_t *out) {
  if (!rule->ncontext) return false;
  size_t start = out->len;
  oc_buf_putc(out, '{');
  for (size_t i = 0; i < rule->ncontext && out->len - start <= OC_RULE_MAX_CONTEXT; i++) {
    const oc_rule_context_t *e = &rule->context[i];
    if (i) oc_buf_putc(out, ',');
    oc_json_write_string(out, e->name, strlen(e->name));
    oc_buf_putc(out, ':');
    if (e->path.multi) {
      oc_rule_ctx_walk_t w = {.out = out, .n = 0};
      oc_buf_putc(out, '[');
      oc_det_path_any(ctx, &e->path, oc_rule_ctx_collect, &w);
      oc_buf_putc(out, ']');
    } else {
      const oc_json_t *v = oc_det_path_first(ctx, &e->path);
      if (v)
        oc_json_serialize(out, v);
      else
        oc_buf_puts(out, "null");
    }
  }
  oc_buf_putc(out, '}');
  if (out->len - start > OC_RULE_MAX_CONTEXT) {
    out->len = start;
    if (out->data) out->data[start] = '\0';
    oc_buf_appendf(out, "{\"_error\":\"alert context is larger than %d bytes\"}",
                   OC_RULE_MAX_CONTEXT);
  }
  return true;
}
