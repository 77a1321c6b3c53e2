/* main.c: the log-processor: source.<id> topics -> lake files + processed-files. */
#include "services/log-processor/processor.h"

int main(int argc, char **argv) {
  return oc_runtime_main(&oc_processor_handler, argc, argv);
}
