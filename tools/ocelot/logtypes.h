/* logtypes.h: `ocelot logtypes test` (run sample lines through schemas as the processor
 * does) and `ocelot logtypes put` (store a schema in the log_types table). */
#ifndef OC_CLI_LOGTYPES_H
#define OC_CLI_LOGTYPES_H

#include "tools/ocelot/cli.h"

int oc_cli_logtypes_test(oc_cli_t *cli, int argc, char **argv);
int oc_cli_logtypes_put(oc_cli_t *cli, int argc, char **argv);

#endif
