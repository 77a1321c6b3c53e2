/* notify.h (CLI): getting objects into the pipeline: `ocelot notify` (announce an
 * object already in the object store), `ocelot ingest` (copy files in, then announce)
 * and `ocelot watch` (move files dropped in a directory in, then announce). */
#ifndef OC_CLI_NOTIFY_H
#define OC_CLI_NOTIFY_H

#include <stdbool.h>

#include "tools/ocelot/cli.h"

int oc_cli_notify(oc_cli_t *cli, int argc, char **argv);
int oc_cli_ingest(oc_cli_t *cli, int argc, char **argv);
int oc_cli_watch(oc_cli_t *cli, int argc, char **argv);

/* True when key is a relative object key that stays inside its bucket: non-empty, at
 * most 1024 bytes, no leading '/', no empty, "." or ".." segments, no control bytes. */
bool oc_cli_object_key_ok(const char *key);

#endif
