/* migrate.c: applies the embedded migrations once each, in order.
 *
 * A session-level advisory lock on a fixed key is held for the whole run, so services
 * starting together apply each migration exactly once: the others wait, then find
 * everything recorded. Each migration and its schema_migrations row commit together,
 * so a failure leaves the schema at the last migration that fully applied. */
#include "common/migrate.h"

#include <stdio.h>
#include <string.h>

/* "ocelot" in ASCII; any fixed bigint shared by every runner would do. */
#define OC_MIGRATE_LOCK_KEY "122472694050676"

static oc_err_t oc_migrate_one(oc_pg_t *pg, const oc_migration_t *m, bool *ran, char *errstr,
                               size_t errstr_size) {
  const char *params[1] = {m->name};
  PGresult *res = NULL;
  char why[512] = "";
  oc_err_t err;
  *ran = false;
  err = oc_pg_begin(pg, why, sizeof(why));
  if (err) goto out;
  err = oc_pg_exec(pg, &res, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params, why,
                   sizeof(why));
  if (err) goto out;
  if (PQntuples(res) > 0) {
    err = oc_pg_commit(pg, why, sizeof(why));
    goto out;
  }
  err = oc_pg_exec(pg, NULL, m->sql, 0, NULL, why, sizeof(why));
  if (err) goto out;
  err = oc_pg_exec(pg, NULL, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, params, why,
                   sizeof(why));
  if (err) goto out;
  err = oc_pg_commit(pg, why, sizeof(why));
  if (!err) *ran = true;
out:
  PQclear(res);
  if (err) {
    oc_pg_rollback(pg);
    if (errstr_size)
      snprintf(errstr, errstr_size, "could not apply migration \"%s\": %s", m->name, why);
  }
  return err;
}

oc_err_t oc_migrate_run(oc_pg_t *pg, int *applied, char *errstr, size_t errstr_size) {
  char why[512] = "";
  bool locked = false;
  int n = 0;
  oc_err_t err;
  if (applied) *applied = 0;
  err = oc_pg_connect(pg, why, sizeof(why));
  if (err) goto fail;
  /* Blocks while another runner holds it; released with the session if we die. */
  err = oc_pg_exec(pg, NULL, "SELECT pg_advisory_lock(" OC_MIGRATE_LOCK_KEY ")", 0, NULL, why,
                   sizeof(why));
  if (err) goto fail;
  locked = true;
  err = oc_pg_exec(pg, NULL,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " name text PRIMARY KEY,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL, why, sizeof(why));
  if (err) goto fail;
  for (size_t i = 0; i < oc_migrations_count; i++) {
    bool ran;
    err = oc_migrate_one(pg, &oc_migrations[i], &ran, errstr, errstr_size);
    if (err) goto out;
    if (ran) n++;
  }
  goto out;
fail:
  if (errstr_size) snprintf(errstr, errstr_size, "could not run migrations: %s", why);
out:
  if (locked)
    (void)oc_pg_exec(pg, NULL, "SELECT pg_advisory_unlock(" OC_MIGRATE_LOCK_KEY ")", 0, NULL, why,
                     sizeof(why));
  if (applied) *applied = n;
  return err;
}
