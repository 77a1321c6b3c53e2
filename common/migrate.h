/* migrate.h: applies migrations/NNNN_*.sql (embedded at build time) once each, in name order,
 * each in its own transaction, recorded in schema_migrations. A Postgres advisory lock
 * serialises concurrent runners (several services starting at once). */
#ifndef OC_MIGRATE_H
#define OC_MIGRATE_H

#include <stddef.h>

#include "common/err.h"
#include "common/pg.h"

typedef struct oc_migration {
  const char *name; /* file name, e.g. "0001_init.sql" */
  const char *sql;
} oc_migration_t;

extern const oc_migration_t oc_migrations[];
extern const size_t oc_migrations_count;

/* Applies pending migrations; *applied (may be NULL) gets how many ran now. */
oc_err_t oc_migrate_run(oc_pg_t *pg, int *applied, char *errstr, size_t errstr_size);

#endif
