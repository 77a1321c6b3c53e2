/* catalog.h: the processor's snapshot of Postgres: every source (id, label, log types,
 * enabled) and every log type (the managed types plus the log_types table). A snapshot is
 * immutable; the handler replaces it whole on refresh, between objects. */
#ifndef OC_PROC_CATALOG_H
#define OC_PROC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/pg.h"
#include "services/log-processor/logtypes.h"

#define OC_CATALOG_MAX_SOURCE_TYPES 64 /* log types per source */

typedef struct oc_catalog_source {
  char *id;
  char *label;
  bool enabled;
  char **log_types;
  size_t nlog_types;
} oc_catalog_source_t;

typedef struct oc_catalog {
  oc_logtypes_t *types;
  oc_catalog_source_t *sources; /* sorted by id */
  size_t nsources;
} oc_catalog_t;

/* An empty catalog whose log types are those of managed (may be NULL; it must outlive the
 * catalog) plus the custom ones added later. */
oc_catalog_t *oc_catalog_new(const oc_logtypes_t *managed);
/* Reads sources and log_types. NULL with *err (OC_ERR_UNAVAILABLE when Postgres is down)
 * and errstr on failure. */
oc_catalog_t *oc_catalog_load_pg(oc_pg_t *pg, const oc_logtypes_t *managed, oc_err_t *err,
                                 char *errstr, size_t errstr_size);
void oc_catalog_destroy(oc_catalog_t *cat); /* accepts NULL */
/* Adds a source (copies the strings); for tests. Keeps the sort order. */
oc_err_t oc_catalog_add_source(oc_catalog_t *cat, const char *id, const char *label, bool enabled,
                               const char *const *log_types, size_t nlog_types);
const oc_catalog_source_t *oc_catalog_find(const oc_catalog_t *cat, const char *id);
/* The source's log types that are known, in the source's order, into out[0..max).
 * Returns how many; unknown names are skipped (and named in *unknown, if not NULL: the
 * first one). */
size_t oc_catalog_resolve(const oc_catalog_t *cat, const oc_catalog_source_t *src,
                          const oc_logtype_t **out, size_t max, const char **unknown);

#endif
