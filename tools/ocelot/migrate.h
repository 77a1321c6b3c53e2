/* migrate.h (CLI): `ocelot migrate`, applying the migrations (migrations/NNNN_*.sql) to
 * OCELOT_PG_DSN. */
#ifndef OC_CLI_MIGRATE_H
#define OC_CLI_MIGRATE_H

#include "tools/ocelot/cli.h"

int oc_cli_migrate(oc_cli_t *cli, int argc, char **argv);

#endif
