/* schema.h: log-type schemas in Panther's log-schema format (version 0), compiled once
 * into a field tree with per-level hash lookups, then applied to every parsed event:
 * required fields checked, declared members validated and normalized to their types
 * (timestamps rewritten in Panther's format), the event time found, and the indicator
 * scanners the fields name run. Undeclared members pass through unchanged.
 *
 * A schema names its parser: json (default), csv, fastmatch, regex or native; the
 * parser turns a line into an oc_json_t object and this module does the rest, so every
 * parser shares one validator. The file format is described in schemas/README.md.
 * A compiled schema is immutable and may be shared by threads; apply() uses only the
 * caller's arena and indicator set. */
#ifndef OC_PROC_SCHEMA_H
#define OC_PROC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/json.h"
#include "common/timefmt.h"
#include "services/log-processor/indicators.h"

#define OC_SCHEMA_MAX_BYTES (1024 * 1024) /* a schema document */
#define OC_SCHEMA_MAX_FIELDS 4096         /* fields in one schema, all levels */
#define OC_SCHEMA_MAX_DEPTH 32            /* nesting of object/array fields */
#define OC_SCHEMA_MAX_FORMATS 8           /* timeFormats per field */
#define OC_SCHEMA_MAX_PATTERNS 64         /* fastmatch/regex alternatives, csv columns 1024 */
#define OC_SCHEMA_MAX_COLUMNS 1024

typedef enum {
  OC_FT_STRING = 0,
  OC_FT_INT, /* 32-bit */
  OC_FT_SMALLINT,
  OC_FT_BIGINT,
  OC_FT_FLOAT,
  OC_FT_BOOLEAN,
  OC_FT_TIMESTAMP,
  OC_FT_OBJECT,
  OC_FT_ARRAY,
  OC_FT_JSON
} oc_ftype_t;

typedef enum {
  OC_PARSER_JSON = 0,
  OC_PARSER_CSV,
  OC_PARSER_FASTMATCH,
  OC_PARSER_REGEX,
  OC_PARSER_NATIVE
} oc_parser_kind_t;

typedef struct oc_sfield oc_sfield_t;
struct oc_sfield {
  const char *name; /* member name; NULL for an array's element */
  uint32_t name_len;
  oc_ftype_t type;
  bool required;
  bool is_event_time;
  uint32_t indicators; /* bit (1u << oc_ind_kind_t) per scanner */
  oc_timefmt_t *formats;
  size_t nformats;
  char **allow, **deny; /* validate: string values */
  size_t nallow, ndeny;
  oc_sfield_t *fields; /* OBJECT: members, in declaration order */
  size_t nfields;
  size_t nrequired;     /* OBJECT: required members */
  uint32_t *slots;      /* OBJECT: open-addressing table of field index + 1 (0 = empty) */
  uint32_t slot_mask;   /* table size - 1 */
  oc_sfield_t *element; /* ARRAY: the element type */
  bool walk;            /* OBJECT/ARRAY: something below needs a visit (fields, checks) */
};

typedef struct oc_schema_parser {
  oc_parser_kind_t kind;
  char *native;    /* NATIVE: the parser name ("Syslog.RFC5424") */
  char delimiter;  /* CSV */
  bool has_header; /* CSV */
  bool trim_space; /* CSV, FASTMATCH, REGEX */
  char **columns;  /* CSV columns */
  size_t ncolumns;
  char **match; /* FASTMATCH alternatives / REGEX pieces (joined) */
  size_t nmatch;
  char **defs;  /* REGEX patternDefinitions: name, pattern, name, pattern... */
  size_t ndefs; /* pairs */
  char **empty_values;
  size_t nempty;
} oc_schema_parser_t;

typedef struct oc_schema {
  char *name; /* "AWS.CloudTrail" */
  char *description;
  char *reference_url;
  char *origin; /* file or "log_types table" */
  oc_schema_parser_t parser;
  oc_sfield_t root; /* an OBJECT */
  bool has_event_time;
  bool aws;         /* AWS.* and Amazon.*: the whole event is walked for AWS indicators */
  oc_arena_t arena; /* everything above lives here */
} oc_schema_t;

/* Compiles a schema document. origin names it in messages. NULL on failure with
 * "origin:line: reason" in errstr (YAML errors, unknown types, formats or indicators,
 * two event-time fields, limits). */
oc_schema_t *oc_schema_load(const char *text, size_t len, const char *origin, char *errstr,
                            size_t errstr_size);
oc_schema_t *oc_schema_load_file(const char *path, char *errstr, size_t errstr_size);
/* A JSON schema from the legacy columns of the log_types table: dotted required paths
 * and an optional dotted RFC 3339 event-time path (required when given). */
oc_schema_t *oc_schema_from_fields(const char *name, const char *event_time_path,
                                   const char *const *required, size_t nrequired, char *errstr,
                                   size_t errstr_size);
void oc_schema_destroy(oc_schema_t *s); /* accepts NULL */

typedef enum {
  OC_SA_OK = 0,
  OC_SA_MISSING, /* a required field is absent or null */
  OC_SA_TYPE,    /* a declared member has the wrong type */
  OC_SA_TIME,    /* a timestamp matches none of its formats */
  OC_SA_DENIED,  /* validate allow/deny refused a value */
  OC_SA_NOT_OBJECT
} oc_sa_result_t;

/* Where the normalized event differs from its JSON source text: each changed value's
 * span in the source and its new JSON text, in document order. With these the lake line
 * is the source text with the spans replaced (normalize.h), instead of a serialization of
 * the whole tree: the measured hot path of the processor. A change that cannot be
 * expressed as a span (a value written with escapes) sets broken; the caller then
 * serializes the tree. */
typedef struct oc_patch {
  const char *at; /* in the source text */
  uint32_t len;
  const char *with; /* JSON text (arena) */
  uint32_t with_len;
} oc_patch_t;

typedef struct oc_patches {
  const char *src; /* the JSON text the event was parsed from */
  size_t src_len;
  oc_patch_t *v; /* grown with realloc, kept across events */
  size_t n, cap;
  bool broken;
} oc_patches_t;

void oc_patches_deinit(oc_patches_t *p);
/* Starts an event parsed from src[0..len). */
static inline void oc_patches_begin(oc_patches_t *p, const char *src, size_t len) {
  p->src = src;
  p->src_len = len;
  p->n = 0;
  p->broken = false;
}

/* Applies s to ev (an object, modified in place: normalized values are arena nodes).
 * With check_only nothing is modified and no indicators are collected: a classifier uses
 * it to test a candidate without disturbing the event for the next one.
 * ind may be NULL (no indicators). On OC_SA_OK *event_time_us is the event time, or
 * ref_us when the schema has none or the event lacks it; ref_us also dates year-less
 * timestamps. Otherwise errstr names the field and the problem. */
oc_sa_result_t oc_schema_apply(const oc_schema_t *s, oc_arena_t *a, oc_json_t *ev, bool check_only,
                               oc_indset_t *ind, int64_t ref_us, int64_t *event_time_us,
                               char *errstr, size_t errstr_size);
/* The same, also recording the changes into patches (may be NULL; ignored with
 * check_only). */
oc_sa_result_t oc_schema_apply_patched(const oc_schema_t *s, oc_arena_t *a, oc_json_t *ev,
                                       bool check_only, oc_indset_t *ind, int64_t ref_us,
                                       int64_t *event_time_us, oc_patches_t *patches, char *errstr,
                                       size_t errstr_size);

const char *oc_ftype_name(oc_ftype_t t);

#endif
