/* Unit tests for config.c: environment parsing, defaults, bounds and type errors, bool
 * spellings, --help and markdown output, OCELOT_KAFKA_<PROP> passthrough, and the
 * runtime's shared table. */
#include "common/config.h"

#include <stdlib.h>

#include "common/runtime.h"
#include "oc_test.h"

static const oc_cfgdef_t defs[] = {
    {"OCELOT_T_STR", OC_CFG_STR, "hello", 0, 0, "a string"},
    {"OCELOT_T_INT", OC_CFG_INT, "5", 1, 10, "an integer | with a pipe"},
    {"OCELOT_T_BIG", OC_CFG_INT, "-3", 0, 0, "an unbounded integer"},
    {"OCELOT_T_BOOL", OC_CFG_BOOL, "true", 0, 0, "a boolean"},
    {"OCELOT_T_NODEF", OC_CFG_STR, NULL, 0, 0, "no default"},
    {"OCELOT_T_NODEF_INT", OC_CFG_INT, NULL, 0, 0, "no default int"},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static char *argv1[] = {"prog", NULL};

static void clear_env(void) {
  for (size_t i = 0; i < NDEFS; i++)
    unsetenv(defs[i].env);
}

static oc_config_t *load(int *rc, char *errstr, size_t size) {
  oc_config_t *cfg = oc_config_new("/usr/bin/prog");
  oc_config_add(cfg, defs, NDEFS);
  errstr[0] = '\0';
  *rc = oc_config_load(cfg, 1, argv1, errstr, size);
  return cfg;
}

static void test_defaults(void) {
  char err[256];
  int rc;
  clear_env();
  oc_config_t *cfg = load(&rc, err, sizeof(err));
  OC_CHECK_INT(rc, 0);
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_STR"), "hello");
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_INT"), 5);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_BIG"), -3);
  OC_CHECK(oc_config_bool(cfg, "OCELOT_T_BOOL"));
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_NODEF"), "");
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_NODEF_INT"), 0);
  oc_config_destroy(cfg);
}

static void test_env_values(void) {
  char err[256];
  int rc;
  clear_env();
  setenv("OCELOT_T_STR", "from env", 1);
  setenv("OCELOT_T_INT", " 10 ", 1);
  setenv("OCELOT_T_BIG", "-9000000000", 1);
  setenv("OCELOT_T_BOOL", "OFF", 1);
  setenv("OCELOT_T_NODEF", "x", 1);
  oc_config_t *cfg = load(&rc, err, sizeof(err));
  OC_CHECK_INT(rc, 0);
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_STR"), "from env");
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_INT"), 10);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_BIG"), -9000000000LL);
  OC_CHECK(!oc_config_bool(cfg, "OCELOT_T_BOOL"));
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_NODEF"), "x");
  oc_config_destroy(cfg);

  /* Empty means "use the default". */
  setenv("OCELOT_T_INT", "", 1);
  setenv("OCELOT_T_STR", "", 1);
  cfg = load(&rc, err, sizeof(err));
  OC_CHECK_INT(rc, 0);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_INT"), 5);
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_STR"), "hello");
  oc_config_destroy(cfg);
  clear_env();
}

static void test_bounds_and_type_errors(void) {
  char err[256];
  int rc;
  oc_config_t *cfg;
  static const struct {
    const char *env, *value, *needle;
  } cases[] = {
      {"OCELOT_T_INT", "0", "between 1 and 10"},
      {"OCELOT_T_INT", "11", "between 1 and 10"},
      {"OCELOT_T_INT", "12abc", "not an integer"},
      {"OCELOT_T_INT", "abc", "not an integer"},
      {"OCELOT_T_INT", "99999999999999999999999", "not an integer"},
      {"OCELOT_T_BIG", "1.5", "not an integer"},
      {"OCELOT_T_BOOL", "maybe", "not a boolean"},
      {"OCELOT_T_BOOL", "2", "not a boolean"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    clear_env();
    setenv(cases[i].env, cases[i].value, 1);
    cfg = load(&rc, err, sizeof(err));
    OC_CHECK_INT(rc, -1);
    OC_CHECK(strstr(err, cases[i].env) != NULL);
    OC_CHECK(strstr(err, cases[i].needle) != NULL);
    if (rc != -1 || !strstr(err, cases[i].needle))
      fprintf(stderr, "case %s=%s: \"%s\"\n", cases[i].env, cases[i].value, err);
    oc_config_destroy(cfg);
  }
  /* The bounds themselves are accepted. */
  clear_env();
  setenv("OCELOT_T_INT", "1", 1);
  cfg = load(&rc, err, sizeof(err));
  OC_CHECK_INT(rc, 0);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_INT"), 1);
  oc_config_destroy(cfg);
  clear_env();
}

static void test_bool_spellings(void) {
  static const char *const yes[] = {"1", "true", "TRUE", "yes", "Yes", "on", "ON"};
  static const char *const no[] = {"0", "false", "False", "no", "NO", "off", "Off"};
  char err[256];
  int rc;
  for (size_t i = 0; i < 7; i++) {
    setenv("OCELOT_T_BOOL", yes[i], 1);
    oc_config_t *cfg = load(&rc, err, sizeof(err));
    OC_CHECK_INT(rc, 0);
    OC_CHECK(oc_config_bool(cfg, "OCELOT_T_BOOL"));
    oc_config_destroy(cfg);
    setenv("OCELOT_T_BOOL", no[i], 1);
    cfg = load(&rc, err, sizeof(err));
    OC_CHECK_INT(rc, 0);
    OC_CHECK(!oc_config_bool(cfg, "OCELOT_T_BOOL"));
    oc_config_destroy(cfg);
  }
  clear_env();
}

static void test_argv(void) {
  char err[256];
  char *bad[] = {"prog", "--verbose", NULL};
  oc_config_t *cfg = oc_config_new("prog");
  oc_config_add(cfg, defs, NDEFS);
  OC_CHECK_INT(oc_config_load(cfg, 2, bad, err, sizeof(err)), -1);
  OC_CHECK(strstr(err, "--verbose") != NULL);
  oc_config_destroy(cfg);
}

static void test_first_declaration_wins(void) {
  static const oc_cfgdef_t other[] = {{"OCELOT_T_STR", OC_CFG_STR, "other", 0, 0, "dup"},
                                      {"OCELOT_T_EXTRA", OC_CFG_INT, "7", 0, 0, "extra"}};
  char err[256];
  clear_env();
  oc_config_t *cfg = oc_config_new("prog");
  oc_config_add(cfg, defs, NDEFS);
  oc_config_add(cfg, other, 2);
  OC_CHECK_INT(oc_config_load(cfg, 1, argv1, err, sizeof(err)), 0);
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_STR"), "hello");
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_EXTRA"), 7);
  oc_config_set(cfg, "OCELOT_T_EXTRA", "42");
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_T_EXTRA"), 42);
  oc_config_set(cfg, "OCELOT_T_STR", "set");
  OC_CHECK_STR(oc_config_str(cfg, "OCELOT_T_STR"), "set");
  oc_config_destroy(cfg);
}

static char *render(void (*fn)(const oc_config_t *, FILE *), const oc_config_t *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  fn(cfg, f);
  fclose(f);
  return text;
}

static void test_help_output(void) {
  oc_config_t *cfg = oc_config_new("/opt/bin/ocelot-thing");
  oc_config_add(cfg, defs, NDEFS);
  char *help = render(oc_config_print_help, cfg);
  OC_CHECK(strstr(help, "Usage: ocelot-thing [--help | --help-markdown]") != NULL);
  OC_CHECK(
      strstr(help,
             "  OCELOT_T_INT (integer, 1..10, default \"5\")\n      an integer | with a pipe\n") !=
      NULL);
  OC_CHECK(strstr(help, "  OCELOT_T_STR (string, default \"hello\")\n      a string\n") != NULL);
  OC_CHECK(strstr(help, "  OCELOT_T_BOOL (boolean, default \"true\")\n") != NULL);
  OC_CHECK(strstr(help, "  OCELOT_T_NODEF (string, no default)\n") != NULL);
  OC_CHECK(strstr(help, "OCELOT_KAFKA_SESSION_TIMEOUT_MS=10000 -> session.timeout.ms") != NULL);
  /* Declaration order is kept. */
  OC_CHECK(strstr(help, "OCELOT_T_STR") < strstr(help, "OCELOT_T_INT"));
  free(help);

  char *md = render(oc_config_print_markdown, cfg);
  OC_CHECK(strncmp(md, "| Variable | Type | Default | Description |\n|---|---|---|---|\n", 61) ==
           0);
  OC_CHECK(
      strstr(md, "| `OCELOT_T_INT` | integer (1..10) | `5` | an integer \\| with a pipe |\n") !=
      NULL);
  OC_CHECK(strstr(md, "| `OCELOT_T_NODEF` | string |  | no default |\n") != NULL);
  OC_CHECK(strstr(md, "`OCELOT_KAFKA_<PROPERTY>`") != NULL);
  free(md);
  oc_config_destroy(cfg);
}

typedef struct {
  char props[16][128];
  int n;
} props_t;

static void collect(const char *prop, const char *value, void *opaque) {
  props_t *p = opaque;
  if (p->n < 16) snprintf(p->props[p->n++], sizeof(p->props[0]), "%s=%s", prop, value);
}

static bool has(const props_t *p, const char *kv) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->props[i], kv) == 0) return true;
  return false;
}

static void test_kafka_passthrough(void) {
  props_t p = {0};
  setenv("OCELOT_KAFKA_SESSION_TIMEOUT_MS", "10000", 1);
  setenv("OCELOT_KAFKA_CLIENT_RACK", "r1", 1);
  setenv("OCELOT_KAFKA_BROKERS", "host:9092", 1);
  setenv("OCELOT_KAFKA_", "ignored", 1);
  setenv("OCELOT_KAFKAX", "ignored", 1);
  oc_config_kafka_props(collect, &p);
  OC_CHECK(has(&p, "session.timeout.ms=10000"));
  OC_CHECK(has(&p, "client.rack=r1"));
  for (int i = 0; i < p.n; i++) {
    OC_CHECK(strncmp(p.props[i], "brokers", 7) != 0);
    OC_CHECK(strstr(p.props[i], "ignored") == NULL);
  }
  OC_CHECK_INT(p.n, 2);
  unsetenv("OCELOT_KAFKA_SESSION_TIMEOUT_MS");
  unsetenv("OCELOT_KAFKA_CLIENT_RACK");
  unsetenv("OCELOT_KAFKA_BROKERS");
  unsetenv("OCELOT_KAFKA_");
  unsetenv("OCELOT_KAFKAX");
}

/* The shared table is exactly the brief's list, with its defaults. */
static void test_runtime_table(void) {
  static const struct {
    const char *env, *def;
  } want[] = {
      {"OCELOT_KAFKA_BROKERS", "127.0.0.1:9092"},
      {"OCELOT_GROUP_ID", NULL},
      {"OCELOT_PG_DSN", "postgresql://ocelot@127.0.0.1:5432/ocelot"},
      {"OCELOT_REDIS_URL", "redis://127.0.0.1:6379/0"},
      {"OCELOT_HTTP_ADDR", "127.0.0.1"},
      {"OCELOT_HTTP_PORT", "0"},
      {"OCELOT_LOG_LEVEL", "info"},
      {"OCELOT_BATCH_MAX", "500"},
      {"OCELOT_BATCH_WAIT_MS", "200"},
      {"OCELOT_MAX_ATTEMPTS", "3"},
      {"OCELOT_RETRY_BACKOFF_MS", "200"},
      {"OCELOT_RETRY_BACKOFF_MAX_MS", "5000"},
      {"OCELOT_INSTANCE_ID", NULL},
  };
  OC_CHECK_INT(oc_runtime_ncfgdefs, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]) && i < oc_runtime_ncfgdefs; i++) {
    OC_CHECK_STR(oc_runtime_cfgdefs[i].env, want[i].env);
    if (want[i].def)
      OC_CHECK_STR(oc_runtime_cfgdefs[i].def, want[i].def);
    else
      OC_CHECK(oc_runtime_cfgdefs[i].def == NULL);
    OC_CHECK(oc_runtime_cfgdefs[i].help && *oc_runtime_cfgdefs[i].help);
  }
  /* Every default passes its own validation. */
  char err[256];
  for (size_t i = 0; i < oc_runtime_ncfgdefs; i++)
    unsetenv(oc_runtime_cfgdefs[i].env);
  oc_config_t *cfg = oc_config_new("svc");
  oc_config_add(cfg, oc_runtime_cfgdefs, oc_runtime_ncfgdefs);
  OC_CHECK_INT(oc_config_load(cfg, 1, argv1, err, sizeof(err)), 0);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_BATCH_MAX"), 500);
  OC_CHECK_INT(oc_config_int(cfg, "OCELOT_RETRY_BACKOFF_MAX_MS"), 5000);
  setenv("OCELOT_BATCH_MAX", "0", 1);
  OC_CHECK_INT(oc_config_load(cfg, 1, argv1, err, sizeof(err)), -1);
  OC_CHECK(strstr(err, "OCELOT_BATCH_MAX") != NULL);
  setenv("OCELOT_HTTP_PORT", "70000", 1);
  unsetenv("OCELOT_BATCH_MAX");
  OC_CHECK_INT(oc_config_load(cfg, 1, argv1, err, sizeof(err)), -1);
  OC_CHECK(strstr(err, "OCELOT_HTTP_PORT") != NULL);
  unsetenv("OCELOT_HTTP_PORT");
  oc_config_destroy(cfg);
}

OC_TEST_MAIN(OC_TEST(test_defaults), OC_TEST(test_env_values), OC_TEST(test_bounds_and_type_errors),
             OC_TEST(test_bool_spellings), OC_TEST(test_argv), OC_TEST(test_first_declaration_wins),
             OC_TEST(test_help_output), OC_TEST(test_kafka_passthrough),
             OC_TEST(test_runtime_table))
