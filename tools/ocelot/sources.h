/* sources.h (CLI): the configuration commands that write Postgres: `ocelot sources`,
 * `ocelot outputs`, `ocelot rules` and `ocelot logtypes`. */
#ifndef OC_CLI_SOURCES_H
#define OC_CLI_SOURCES_H

#include "tools/ocelot/cli.h"

int oc_cli_sources(oc_cli_t *cli, int argc, char **argv);
int oc_cli_outputs(oc_cli_t *cli, int argc, char **argv);
int oc_cli_rules(oc_cli_t *cli, int argc, char **argv);
int oc_cli_logtypes(oc_cli_t *cli, int argc, char **argv);

/* True when id may name a source: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, the check of the
 * sources table (migrations/0001_init.sql). */
bool oc_cli_source_id_ok(const char *id);

#endif
