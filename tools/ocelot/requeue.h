/* requeue.h (CLI): `ocelot requeue`, moving dead letters from <topic>.dlq back to their
 * topic (or another) once the fault is fixed, without losing any on a crash. */
#ifndef OC_CLI_REQUEUE_H
#define OC_CLI_REQUEUE_H

#include "tools/ocelot/cli.h"

int oc_cli_requeue(oc_cli_t *cli, int argc, char **argv);

#endif
