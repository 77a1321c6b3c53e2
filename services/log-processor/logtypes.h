/* logtypes.h: the registry of log types the processor knows. Every type is a compiled
 * schema (schema.h): the managed types bundled as schema files (schemas/ in the repo),
 * custom types from a directory, and rows of the log_types table (a schema document, or
 * the legacy event-time and required-field columns).
 * A registry may chain to a base registry (the managed types, loaded once per process)
 * so a catalog refresh rebuilds only the custom types. Read-only once built; not
 * thread-safe while being built. */
#ifndef OC_PROC_LOGTYPES_H
#define OC_PROC_LOGTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/json.h"
#include "common/pg.h"
#include "services/log-processor/schema.h"

#define OC_LOGTYPE_CLOUDTRAIL "AWS.CloudTrail"
#define OC_LOGTYPE_NAME_MAX 128    /* bytes of a log type name */
#define OC_LOGTYPE_PATH_MAX 256    /* bytes of a field path */
#define OC_LOGTYPE_MAX_REQUIRED 64 /* required fields per legacy type */

typedef struct oc_logtype {
  const char *name; /* the schema's name */
  oc_schema_t *schema;
  bool builtin; /* a managed type (bundled schema file) */
} oc_logtype_t;

typedef struct oc_logtypes oc_logtypes_t;

/* An empty registry; base (may be NULL) is searched after this one and must outlive
 * it. NULL when out of memory. */
oc_logtypes_t *oc_logtypes_new(const oc_logtypes_t *base);
void oc_logtypes_destroy(oc_logtypes_t *lt); /* accepts NULL */
/* Adds a compiled schema; the registry owns it from the call on (also on failure). A
 * name that is already known here or in the base is refused with OC_ERR_INVALID. */
oc_err_t oc_logtypes_add_schema(oc_logtypes_t *lt, oc_schema_t *s, bool builtin, char *errstr,
                                size_t errstr_size);
/* Adds a legacy JSON type: dotted required paths, an optional RFC 3339 event-time path. */
oc_err_t oc_logtypes_add(oc_logtypes_t *lt, const char *name, const char *event_time_field,
                         const char *const *required, size_t nrequired, char *errstr,
                         size_t errstr_size);
/* Loads every *.yml / *.yaml under dir (recursively, in name order). A file that does not
 * compile is logged with its file, line and reason and skipped; *nloaded / *nfailed
 * count them (either may be NULL). OC_ERR_NOT_FOUND when dir does not exist. */
oc_err_t oc_logtypes_load_dir(oc_logtypes_t *lt, const char *dir, bool builtin, size_t *nloaded,
                              size_t *nfailed, char *errstr, size_t errstr_size);
/* Adds every row of the log_types table; a row that cannot be added is logged and
 * skipped. Postgres errors are returned (OC_ERR_UNAVAILABLE when it is down). */
oc_err_t oc_logtypes_load_pg(oc_logtypes_t *lt, oc_pg_t *pg, char *errstr, size_t errstr_size);
/* NULL when unknown (here or in the base). The pointer lives as long as its registry. */
const oc_logtype_t *oc_logtypes_find(const oc_logtypes_t *lt, const char *name);
size_t oc_logtypes_count(const oc_logtypes_t *lt); /* this registry's own types */
const oc_logtype_t *oc_logtypes_at(const oc_logtypes_t *lt, size_t i);

/* The directory of the bundled schema files: $OCELOT_SCHEMAS_DIR, else the build's
 * default (the source tree's schemas/, or /usr/share/ocelot/schemas in the image). */
const char *oc_logtypes_default_dir(void);

#endif
