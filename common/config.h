/* config.h: declarative configuration from OCELOT_* environment variables.
 * Each service declares a table of oc_cfgdef_t; the same table drives parsing,
 * validation, bounds checks, --help output and the README's configuration section.
 * OCELOT_KAFKA_<PROP> variables pass through to librdkafka as <prop> ('_' -> '.',
 * lower-cased), e.g. OCELOT_KAFKA_SESSION_TIMEOUT_MS=10000 -> session.timeout.ms. */
#ifndef OC_CONFIG_H
#define OC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { OC_CFG_STR, OC_CFG_INT, OC_CFG_BOOL } oc_cfg_type_t;

typedef struct oc_cfgdef {
  const char *env; /* full variable name, "OCELOT_PG_DSN" */
  oc_cfg_type_t type;
  const char *def;    /* default as text; NULL = no default (empty / 0 / false) */
  long long min, max; /* bounds for OC_CFG_INT; ignored when min == max == 0 */
  const char *help;   /* one line */
} oc_cfgdef_t;

typedef struct oc_config oc_config_t;

oc_config_t *oc_config_new(const char *prog);
void oc_config_destroy(oc_config_t *cfg);
/* Adds a table (kept by pointer: static storage). A variable declared twice keeps the
 * first declaration. */
void oc_config_add(oc_config_t *cfg, const oc_cfgdef_t *defs, size_t n);
/* Reads the environment and argv. Returns 0 when ready to run, 1 when --help or
 * --help-markdown was printed (exit 0), -1 on a bad value (errstr says which and why). */
int oc_config_load(oc_config_t *cfg, int argc, char **argv, char *errstr, size_t errstr_size);
/* Values; the name must be declared (asserts, a programming error otherwise). Strings
 * are owned by cfg. */
const char *oc_config_str(const oc_config_t *cfg, const char *env);
long long oc_config_int(const oc_config_t *cfg, const char *env);
bool oc_config_bool(const oc_config_t *cfg, const char *env);
/* Overrides a value (tests, tools). */
void oc_config_set(oc_config_t *cfg, const char *env, const char *value);
/* --help text and a markdown table of every declared variable. */
void oc_config_print_help(const oc_config_t *cfg, FILE *out);
void oc_config_print_markdown(const oc_config_t *cfg, FILE *out);
/* Calls fn(property, value) for every OCELOT_KAFKA_<PROP> in the environment except
 * OCELOT_KAFKA_BROKERS (which becomes bootstrap.servers). */
void oc_config_kafka_props(void (*fn)(const char *prop, const char *value, void *opaque),
                           void *opaque);

#endif
