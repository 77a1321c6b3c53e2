/* main.c: the rules-engine: processed-files -> rule-matches (+ rules/ lake files). */
#include "services/rules-engine/engine.h"

int main(int argc, char **argv) {
  return oc_runtime_main(&oc_rules_handler, argc, argv);
}
