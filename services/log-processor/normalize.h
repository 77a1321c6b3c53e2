/* normalize.h: the lake line of one event: the event's own members, serialized compactly,
 * followed by Panther's standard fields p_log_type, p_row_id, p_event_time, p_parse_time,
 * p_source_id and p_source_label, then the indicator arrays p_any_* (times in Panther's "YYYY-MM-DD
 * HH:MM:SS.ffffff000"). Members of the event named p_* are Ocelot's: they are replaced, not
 * duplicated. The output has no raw newline (strings are escaped), so it is one valid JSON line. */
#ifndef OC_PROC_NORMALIZE_H
#define OC_PROC_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "services/log-processor/indicators.h"
#include "services/log-processor/schema.h"

typedef struct oc_norm_meta {
  const char *log_type;
  const char *row_id; /* 32 hex characters */
  int64_t event_time_us;
  int64_t parse_time_us;
  const char *source_id;
  const char *source_label;
  oc_indset_t *indicators; /* the p_any_* fields; NULL = none */
  /* When set (classify.h), the event's own members are written as its source text with
   * the changed spans replaced, not re-serialized: the same JSON, without the cost. */
  const oc_patches_t *patches;
} oc_norm_meta_t;

/* Replaces out's contents with the line (no trailing newline). ev must be an object.
 * Allocation failure is reported through oc_buf_ok(out). */
void oc_normalize_event(oc_buf_t *out, const oc_json_t *ev, const oc_norm_meta_t *m);

/* p_row_id: oc_hash_hex128 over (source id, "bucket/key", etag, line number as decimal).
 * The line number is the 1-based line of a JSON-lines file or the 1-based record index
 * of a {"Records":[...]} file, so both forms of the same object give the same ids. */
void oc_normalize_row_id(char out[33], const char *source_id, const char *object, size_t object_len,
                         const char *etag, uint64_t line_no);

#endif
