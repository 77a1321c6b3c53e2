/* logtypes.h: the log types the processor knows: the built-in AWS.CloudTrail and custom
 * JSON types from the log_types table (an event-time field and required fields), and the
 * classification of one parsed event among a source's types.
 * A registry is built once per catalog refresh and read-only afterwards. Not thread-safe. */
#ifndef OC_PROC_LOGTYPES_H
#define OC_PROC_LOGTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/json.h"
#include "common/pg.h"

#define OC_LOGTYPE_CLOUDTRAIL "AWS.CloudTrail"
#define OC_LOGTYPE_NAME_MAX 128    /* bytes of a log type name */
#define OC_LOGTYPE_PATH_MAX 256    /* bytes of a field path */
#define OC_LOGTYPE_MAX_REQUIRED 64 /* required fields per type */

typedef struct oc_logtype {
  char *name;               /* "AWS.CloudTrail", "Custom.Firewall" */
  char *event_time_field;   /* dotted path of an RFC 3339 time; NULL: parse time */
  bool event_time_required; /* a missing event time rejects the event (CloudTrail) */
  char **required;          /* dotted paths that must be present and not null */
  size_t nrequired;
  bool builtin;
} oc_logtype_t;

typedef struct oc_logtypes oc_logtypes_t;

/* A registry holding the built-in types. NULL when out of memory. */
oc_logtypes_t *oc_logtypes_new(void);
void oc_logtypes_destroy(oc_logtypes_t *lt); /* accepts NULL */
/* Adds a custom type (the strings are copied). A name that is already known (a built-in
 * or an earlier custom type) is refused with OC_ERR_INVALID, as are over-long names and
 * paths or too many required fields. event_time_field may be NULL or empty. */
oc_err_t oc_logtypes_add(oc_logtypes_t *lt, const char *name, const char *event_time_field,
                         const char *const *required, size_t nrequired, char *errstr,
                         size_t errstr_size);
/* Adds every row of the log_types table; a row that cannot be added is logged and
 * skipped. Postgres errors are returned (OC_ERR_UNAVAILABLE when it is down). */
oc_err_t oc_logtypes_load_pg(oc_logtypes_t *lt, oc_pg_t *pg, char *errstr, size_t errstr_size);
/* NULL when unknown. The pointer lives as long as lt. */
const oc_logtype_t *oc_logtypes_find(const oc_logtypes_t *lt, const char *name);
size_t oc_logtypes_count(const oc_logtypes_t *lt);

typedef enum {
  OC_LT_MATCH = 0,
  OC_LT_MISSING_FIELD, /* a required field is absent or null (or the event time) */
  OC_LT_BAD_TIME       /* the event-time field is present but not an RFC 3339 string */
} oc_lt_result_t;

/* Tests one event (any JSON value; non-objects never match) against one type. On a
 * match *event_time_us gets the event time, or parse_time_us when the type has no time
 * field or the event lacks an optional one. */
oc_lt_result_t oc_logtype_match(const oc_logtype_t *t, const oc_json_t *ev, int64_t parse_time_us,
                                int64_t *event_time_us);
/* Picks the type of ev among types[0..n): of the types that match, the one with the
 * most required fields (the most specific); on a tie the earlier in the list. NULL when
 * none matches; *why then says why (OC_LT_BAD_TIME when some type failed only on its
 * event time, else OC_LT_MISSING_FIELD). */
const oc_logtype_t *oc_logtypes_classify(const oc_logtype_t *const *types, size_t n,
                                         const oc_json_t *ev, int64_t parse_time_us,
                                         int64_t *event_time_us, oc_lt_result_t *why);

#endif
