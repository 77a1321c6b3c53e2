/* main.c: the alert-forwarder: rule-matches -> dedup windows and alerts in Postgres,
 * relayed through the outbox to the alerts topic. */
#include "services/alert-forwarder/forwarder.h"

int main(int argc, char **argv) {
  return oc_runtime_main(&oc_forwarder_handler, argc, argv);
}
