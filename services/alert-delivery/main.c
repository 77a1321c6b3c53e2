/* main.c: the alert-delivery service: alerts -> webhooks, each (alert, output) once. */
#include "services/alert-delivery/delivery.h"

int main(int argc, char **argv) {
  return oc_runtime_main(&oc_delivery_handler, argc, argv);
}
