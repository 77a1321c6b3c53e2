/* main.c: the ocelot operator CLI. Reads the same OCELOT_* environment as the services
 * (the runtime's table plus the object store and lake roots) and dispatches to one
 * command group per file: requeue.c, sources.c, notify.c, topic.c, migrate.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/runtime.h"
#include "tools/ocelot/cli.h"
#include "tools/ocelot/migrate.h"
#include "tools/ocelot/notify.h"
#include "tools/ocelot/requeue.h"
#include "tools/ocelot/sources.h"
#include "tools/ocelot/testcmd.h"
#include "tools/ocelot/topic.h"

static const oc_cfgdef_t oc_cli_cfgdefs[] = {
    {OC_CLI_ENV_OBJECT_ROOT, OC_CFG_STR, "./state/objects", 0, 0,
     "root of the local object store: objects live at <root>/<bucket>/<key>"},
    {OC_CLI_ENV_LAKE_ROOT, OC_CFG_STR, "./state/lake", 0, 0, "root of the local data lake"},
};

static const oc_cli_cmd_t oc_cli_cmds[] = {
    {"migrate", oc_cli_migrate, "apply pending database migrations"},
    {"sources", oc_cli_sources, "add, list or remove log sources (bucket/prefix -> log types)"},
    {"outputs", oc_cli_outputs, "add or list alert destinations"},
    {"rules", oc_cli_rules, "store YAML detections in the database, list them"},
    {"logtypes", oc_cli_logtypes, "test log-type schemas on samples; store or list custom ones"},
    {"notify", oc_cli_notify, "announce an object of the object store to input-notifications"},
    {"ingest", oc_cli_ingest, "copy files into the object store and announce them"},
    {"watch", oc_cli_watch, "move files dropped in a directory into the object store"},
    {"requeue", oc_cli_requeue, "move dead letters from <topic>.dlq back to their topic"},
    {"topic", oc_cli_topic, "dump a topic as JSON lines, or produce a record"},
    {"test", oc_cli_test, "run the unit tests of a Panther detection pack"},
};

static void oc_cli_usage(const oc_config_t *cfg, FILE *out) {
  char *env = NULL;
  size_t envlen = 0;
  FILE *mem;
  fprintf(out,
          "Usage: ocelot <command> [options]\n"
          "       ocelot <command> --help\n"
          "       ocelot --help | --help-markdown\n\n"
          "The operator tool of Ocelot.\n\nCommands:\n");
  for (size_t i = 0; i < sizeof(oc_cli_cmds) / sizeof(oc_cli_cmds[0]); i++)
    fprintf(out, "  %-10s %s\n", oc_cli_cmds[i].name, oc_cli_cmds[i].summary);
  fprintf(out, "\n");
  /* The configuration list without oc_config's own "Usage:" line. */
  mem = open_memstream(&env, &envlen);
  if (!mem) return;
  oc_config_print_help(cfg, mem);
  fclose(mem);
  if (env) {
    const char *body = strstr(env, "\n\n");
    fputs(body ? body + 2 : env, out);
  }
  free(env);
}

int main(int argc, char **argv) {
  oc_cli_t cli = {0};
  char errstr[512];
  const char *cmd = argc > 1 ? argv[1] : NULL;
  int rc = OC_CLI_EXIT_USAGE, level;

  signal(SIGPIPE, SIG_IGN);
  cli.cfg = oc_config_new("ocelot");
  if (!cli.cfg) {
    fprintf(stderr, "ocelot: out of memory\n");
    return OC_CLI_EXIT_FAIL;
  }
  oc_config_add(cli.cfg, oc_cli_cfgdefs, sizeof(oc_cli_cfgdefs) / sizeof(oc_cli_cfgdefs[0]));
  oc_config_add(cli.cfg, oc_runtime_cfgdefs, oc_runtime_ncfgdefs);

  if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    oc_cli_usage(cli.cfg, cmd ? stdout : stderr);
    rc = cmd ? OC_CLI_EXIT_OK : OC_CLI_EXIT_USAGE;
    goto out;
  }
  if (strcmp(cmd, "--help-markdown") == 0) {
    oc_config_print_markdown(cli.cfg, stdout);
    rc = OC_CLI_EXIT_OK;
    goto out;
  }
  /* Only the environment: the command parses its own arguments. */
  if (oc_config_load(cli.cfg, 1, argv, errstr, sizeof(errstr)) != 0) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  level = oc_log_level_parse(oc_config_str(cli.cfg, "OCELOT_LOG_LEVEL"));
  if (level < 0) {
    oc_cli_errorf("invalid value for OCELOT_LOG_LEVEL: \"%s\" (use debug, info, warn or error)",
                  oc_config_str(cli.cfg, "OCELOT_LOG_LEVEL"));
    goto out;
  }
  /* One-shot commands print their own messages; client chatter at info level would only
   * bury them (debug still shows everything). `watch` runs for long and logs at the
   * configured level. */
  if (strcmp(cmd, "watch") != 0 && level == OC_LOG_INFO) level = OC_LOG_WARN;
  oc_log_init("ocelot", (oc_log_level_t)level);

  for (size_t i = 0; i < sizeof(oc_cli_cmds) / sizeof(oc_cli_cmds[0]); i++) {
    if (strcmp(oc_cli_cmds[i].name, cmd) == 0) {
      rc = oc_cli_cmds[i].fn(&cli, argc - 1, argv + 1);
      goto out;
    }
  }
  oc_cli_errorf("unknown command \"%s\"", cmd);
  fprintf(stderr, "Try \"ocelot --help\".\n");
out:
  fflush(stdout);
  oc_config_destroy(cli.cfg);
  return rc;
}
