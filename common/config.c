/* config.c: the declarative OCELOT_* configuration. Tables are added by pointer; values
 * are read from the environment once by oc_config_load() and validated against the
 * table (types, bounds), so a bad value stops the process at start with a clear message
 * instead of misbehaving later. */
#include "common/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define OC_KAFKA_PREFIX "OCELOT_KAFKA_"
#define OC_KAFKA_PROP_MAX 256

typedef struct {
  const oc_cfgdef_t *def;
  char *value; /* malloc'd; NULL = not loaded yet (the default applies) */
  long long ival;
  bool bval;
} oc_cfgent_t;

struct oc_config {
  char *prog;
  oc_cfgent_t *ents;
  size_t n, cap;
};

oc_config_t *oc_config_new(const char *prog) {
  oc_config_t *cfg = calloc(1, sizeof(*cfg));
  if (!cfg) return NULL;
  if (prog) {
    const char *slash = strrchr(prog, '/');
    cfg->prog = strdup(slash ? slash + 1 : prog);
  } else {
    cfg->prog = strdup("ocelot");
  }
  if (!cfg->prog) {
    free(cfg);
    return NULL;
  }
  return cfg;
}

void oc_config_destroy(oc_config_t *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n; i++)
    free(cfg->ents[i].value);
  free(cfg->ents);
  free(cfg->prog);
  free(cfg);
}

static oc_cfgent_t *oc_config_find(const oc_config_t *cfg, const char *env) {
  for (size_t i = 0; i < cfg->n; i++)
    if (strcmp(cfg->ents[i].def->env, env) == 0) return &cfg->ents[i];
  return NULL;
}

void oc_config_add(oc_config_t *cfg, const oc_cfgdef_t *defs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (oc_config_find(cfg, defs[i].env)) continue; /* the first declaration wins */
    if (cfg->n == cfg->cap) {
      size_t cap = cfg->cap ? cfg->cap * 2 : 32;
      oc_cfgent_t *ents = realloc(cfg->ents, cap * sizeof(*ents));
      if (!ents) abort(); /* start-up only; nothing sensible to do without the table */
      cfg->ents = ents;
      cfg->cap = cap;
    }
    cfg->ents[cfg->n++] = (oc_cfgent_t){.def = &defs[i]};
  }
}

static bool oc_cfg_bounded(const oc_cfgdef_t *def) {
  return !(def->min == 0 && def->max == 0);
}

static int oc_parse_int(const char *s, long long *out) {
  char *end;
  while (isspace((unsigned char)*s))
    s++;
  if (!*s) return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s) return -1;
  while (isspace((unsigned char)*end))
    end++;
  if (*end) return -1;
  *out = v;
  return 0;
}

static int oc_parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
    if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
  }
  return -1;
}

/* Parses text (NULL or "" = the default) into ent. Returns 0 or -1 with errstr. */
static int oc_config_parse(oc_cfgent_t *ent, const char *text, char *errstr, size_t errstr_size) {
  const oc_cfgdef_t *def = ent->def;
  bool from_default = !text || !*text;
  const char *src = from_default ? (def->def ? def->def : "") : text;
  long long iv = 0;
  bool bv = false;

  switch (def->type) {
    case OC_CFG_STR:
      break;
    case OC_CFG_INT:
      if (!*src) break; /* no default: 0 */
      if (oc_parse_int(src, &iv) != 0) {
        snprintf(errstr, errstr_size, "invalid value for %s: \"%s\" is not an integer", def->env,
                 src);
        return -1;
      }
      if (oc_cfg_bounded(def) && (iv < def->min || iv > def->max)) {
        snprintf(errstr, errstr_size,
                 "invalid value for %s: %lld is out of range (must be between %lld and %lld)",
                 def->env, iv, def->min, def->max);
        return -1;
      }
      break;
    case OC_CFG_BOOL:
      if (!*src) break; /* no default: false */
      if (oc_parse_bool(src, &bv) != 0) {
        snprintf(errstr, errstr_size,
                 "invalid value for %s: \"%s\" is not a boolean (use true/false, 1/0, "
                 "yes/no, on/off)",
                 def->env, src);
        return -1;
      }
      break;
  }
  char *copy = strdup(src);
  if (!copy) {
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
  }
  free(ent->value);
  ent->value = copy;
  ent->ival = iv;
  ent->bval = bv;
  return 0;
}

int oc_config_load(oc_config_t *cfg, int argc, char **argv, char *errstr, size_t errstr_size) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      oc_config_print_help(cfg, stdout);
      fflush(stdout);
      return 1;
    }
    if (strcmp(argv[i], "--help-markdown") == 0) {
      oc_config_print_markdown(cfg, stdout);
      fflush(stdout);
      return 1;
    }
    snprintf(errstr, errstr_size,
             "unrecognized argument \"%s\" (configuration comes from OCELOT_* environment "
             "variables; see --help)",
             argv[i]);
    return -1;
  }
  for (size_t i = 0; i < cfg->n; i++) {
    if (oc_config_parse(&cfg->ents[i], getenv(cfg->ents[i].def->env), errstr, errstr_size) != 0)
      return -1;
  }
  return 0;
}

/* Loads the default lazily so values can be read before (or without) oc_config_load. */
static oc_cfgent_t *oc_config_get(const oc_config_t *cfg, const char *env) {
  oc_cfgent_t *ent = oc_config_find(cfg, env);
  assert(ent && "configuration variable not declared");
  if (!ent) abort();
  if (!ent->value) {
    char errstr[256];
    if (oc_config_parse(ent, NULL, errstr, sizeof(errstr)) != 0) {
      /* A default that does not parse is a bug in the table. */
      fprintf(stderr, "bad default in configuration table: %s\n", errstr);
      abort();
    }
  }
  return ent;
}

const char *oc_config_str(const oc_config_t *cfg, const char *env) {
  return oc_config_get(cfg, env)->value;
}

long long oc_config_int(const oc_config_t *cfg, const char *env) {
  return oc_config_get(cfg, env)->ival;
}

bool oc_config_bool(const oc_config_t *cfg, const char *env) {
  return oc_config_get(cfg, env)->bval;
}

void oc_config_set(oc_config_t *cfg, const char *env, const char *value) {
  oc_cfgent_t *ent = oc_config_find(cfg, env);
  char errstr[256];
  assert(ent && "configuration variable not declared");
  if (!ent) return;
  if (oc_config_parse(ent, value, errstr, sizeof(errstr)) != 0) {
    /* Tools and tests set values they own; keep the text, numbers fall back to 0. */
    char *copy = strdup(value ? value : "");
    if (!copy) return;
    free(ent->value);
    ent->value = copy;
    ent->ival = 0;
    ent->bval = false;
  }
}

static const char *oc_cfg_type_name(oc_cfg_type_t t) {
  switch (t) {
    case OC_CFG_INT:
      return "integer";
    case OC_CFG_BOOL:
      return "boolean";
    default:
      return "string";
  }
}

void oc_config_print_help(const oc_config_t *cfg, FILE *out) {
  fprintf(out, "Usage: %s [--help | --help-markdown]\n\n", cfg->prog);
  fprintf(out, "Configuration comes from environment variables (unset or empty = default):\n\n");
  for (size_t i = 0; i < cfg->n; i++) {
    const oc_cfgdef_t *def = cfg->ents[i].def;
    fprintf(out, "  %s (%s", def->env, oc_cfg_type_name(def->type));
    if (def->type == OC_CFG_INT && oc_cfg_bounded(def))
      fprintf(out, ", %lld..%lld", def->min, def->max);
    if (def->def && *def->def)
      fprintf(out, ", default \"%s\")\n", def->def);
    else
      fprintf(out, ", no default)\n");
    fprintf(out, "      %s\n", def->help ? def->help : "");
  }
  fprintf(out,
          "\n  OCELOT_KAFKA_<PROPERTY>\n"
          "      any librdkafka property, passed through as <property> lower-cased with '_' "
          "-> '.',\n"
          "      e.g. OCELOT_KAFKA_SESSION_TIMEOUT_MS=10000 -> session.timeout.ms=10000\n");
}

/* Markdown table cell: '|' escaped, newlines flattened. */
static void oc_md_cell(FILE *out, const char *s) {
  for (; s && *s; s++) {
    if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n')
      fputc(' ', out);
    else
      fputc(*s, out);
  }
}

void oc_config_print_markdown(const oc_config_t *cfg, FILE *out) {
  fprintf(out, "| Variable | Type | Default | Description |\n");
  fprintf(out, "|---|---|---|---|\n");
  for (size_t i = 0; i < cfg->n; i++) {
    const oc_cfgdef_t *def = cfg->ents[i].def;
    fprintf(out, "| `%s` | %s", def->env, oc_cfg_type_name(def->type));
    if (def->type == OC_CFG_INT && oc_cfg_bounded(def))
      fprintf(out, " (%lld..%lld)", def->min, def->max);
    fprintf(out, " | ");
    if (def->def && *def->def) {
      fputc('`', out);
      oc_md_cell(out, def->def);
      fputc('`', out);
    }
    fprintf(out, " | ");
    oc_md_cell(out, def->help);
    fprintf(out, " |\n");
  }
  fprintf(out,
          "| `OCELOT_KAFKA_<PROPERTY>` | string | | any librdkafka property, passed through as "
          "`<property>` lower-cased with `_` → `.` (e.g. `OCELOT_KAFKA_SESSION_TIMEOUT_MS` → "
          "`session.timeout.ms`) |\n");
}

void oc_config_kafka_props(void (*fn)(const char *prop, const char *value, void *opaque),
                           void *opaque) {
  const size_t plen = strlen(OC_KAFKA_PREFIX);
  for (char **e = environ; e && *e; e++) {
    const char *kv = *e;
    const char *eq = strchr(kv, '=');
    char prop[OC_KAFKA_PROP_MAX];
    size_t n;
    if (!eq || strncmp(kv, OC_KAFKA_PREFIX, plen) != 0) continue;
    n = (size_t)(eq - kv) - plen;
    if (n == 0 || n >= sizeof(prop)) continue;
    if (n == strlen("BROKERS") && strncmp(kv + plen, "BROKERS", n) == 0) continue;
    for (size_t i = 0; i < n; i++) {
      char c = kv[plen + i];
      prop[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
    }
    prop[n] = '\0';
    fn(prop, eq + 1, opaque);
  }
}
