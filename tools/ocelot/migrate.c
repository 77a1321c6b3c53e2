/* migrate.c (CLI): `ocelot migrate` applies the embedded migrations once each, in order
 * (common/migrate.c), and says how many ran. */
#include "tools/ocelot/migrate.h"

#include <getopt.h>
#include <stdio.h>

#include "common/migrate.h"

static void oc_cli_migrate_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot migrate\n\n"
          "Applies the pending database migrations (migrations/*.sql, embedded in the binary)\n"
          "to OCELOT_PG_DSN, each once, in order, and prints how many ran.\n");
}

int oc_cli_migrate(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  char errstr[1024];
  oc_pg_t *pg = NULL;
  int c, applied = 0, rc = OC_CLI_EXIT_FAIL;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'h') {
      oc_cli_migrate_usage(stdout);
      return OC_CLI_EXIT_OK;
    }
    return oc_cli_bad_option("migrate", c, argv);
  }
  if (optind < argc) {
    oc_cli_errorf("migrate takes no arguments (got \"%s\")", argv[optind]);
    return OC_CLI_EXIT_USAGE;
  }
  pg = oc_cli_pg_open(cli, false);
  if (!pg) goto out;
  if (oc_migrate_run(pg, &applied, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    if (applied) oc_cli_errorf("%d migration(s) were applied before the failure", applied);
    goto out;
  }
  printf("applied %d migration%s (%zu known)\n", applied, applied == 1 ? "" : "s",
         oc_migrations_count);
  rc = OC_CLI_EXIT_OK;
out:
  oc_pg_destroy(pg);
  return rc;
}
