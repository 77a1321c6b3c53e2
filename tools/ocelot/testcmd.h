/* testcmd.h (CLI): `ocelot test <pack-dir>`, the equivalent of Panther's analysis tool
 * `test`: runs every Python detection's Tests (Log, ExpectedResult, Mocks) through the
 * rules-engine's own loader and rule host. */
#ifndef OC_CLI_TESTCMD_H
#define OC_CLI_TESTCMD_H

#include "tools/ocelot/cli.h"

int oc_cli_test(oc_cli_t *cli, int argc, char **argv);

#endif
