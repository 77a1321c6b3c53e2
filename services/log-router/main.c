/* main.c: the log-router: input-notifications -> source.<id>. */
#include "services/log-router/router.h"

int main(int argc, char **argv) {
  return oc_runtime_main(&oc_router_handler, argc, argv);
}
