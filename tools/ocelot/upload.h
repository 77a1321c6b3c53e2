/* upload.h (CLI): `ocelot rules upload <pack-dir>`: validates a Panther detection pack as
 * the rules-engine loads it and stores it, versioned, in Postgres (packstore.h), then
 * tells the engines on the Redis channel ocelot:rules-changed. */
#ifndef OC_CLI_UPLOAD_H
#define OC_CLI_UPLOAD_H

#include "tools/ocelot/cli.h"

int oc_cli_rules_upload(oc_cli_t *cli, int argc, char **argv);

#endif
