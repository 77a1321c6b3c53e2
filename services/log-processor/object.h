/* object.h: the processing of one input object, without Kafka: confine its path to the
 * object root, stream it (plain, gzip or zstd; JSON lines or CloudTrail's
 * {"Records":[...]} form), parse and classify every line among the source's log types,
 * write normalized events to lake files per (log type, event hour) and rejected input to
 * the quarantine, count and log the rejections (one log line per object and reason),
 * and commit the files. The log-processor's handler calls it once per ObjectNotification;
 * tests and the benchmark call it directly.
 * An oc_objproc_t keeps its buffers and arena between objects; one per thread. */
#ifndef OC_PROC_OBJECT_H
#define OC_PROC_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/metrics.h"
#include "services/log-processor/lakeset.h"
#include "services/log-processor/logtypes.h"

typedef struct oc_objproc oc_objproc_t;

typedef struct oc_objproc_config {
  const char *object_root; /* objects are <object_root>/<bucket>/<key> */
  const char *lake_root;
  size_t max_line; /* longest line or record, bytes */
  int max_depth;   /* deepest JSON nesting */
  int zstd_level;
  uint64_t file_max_rows; /* rows per lake file before the next one starts */
} oc_objproc_config_t;

typedef struct oc_objproc_source {
  const char *id;
  const char *label;
  const oc_logtype_t *const *types; /* the source's known log types, in its order */
  size_t ntypes;
} oc_objproc_source_t;

/* Why a line (or the whole object) was rejected; the names are metric labels. */
typedef enum {
  OC_REJ_INVALID_UTF8 = 0,
  OC_REJ_INVALID_JSON,
  OC_REJ_MAX_DEPTH,
  OC_REJ_LINE_TOO_LONG,
  OC_REJ_NOT_OBJECT,
  OC_REJ_NO_LOG_TYPE,
  OC_REJ_BAD_EVENT_TIME,
  OC_REJ_TOO_MANY_PARTITIONS,
  OC_REJ_TRUNCATED, /* compressed stream ends early: the lines before it are kept */
  OC_REJ_CORRUPT,   /* compressed stream damaged or unsupported */
  OC_REJ__N
} oc_reject_t;

/* "invalid_utf8", "invalid_json", "max_depth_exceeded", "line_too_long", "not_an_object",
 * "no_matching_log_type", "invalid_event_time", "too_many_partitions", "truncated_input",
 * "corrupt_input". */
const char *oc_reject_name(oc_reject_t r);

typedef struct oc_objproc_result {
  uint64_t lines;    /* non-blank lines (or records) read */
  uint64_t events;   /* written to the lake */
  uint64_t rejected; /* lines counted in rejected_by (a truncation counts once) */
  uint64_t rejected_by[OC_REJ__N];
  uint64_t first_line[OC_REJ__N]; /* line of the first rejection per reason */
  uint64_t bytes_in, bytes_out;   /* compressed / decompressed bytes read */
  uint64_t quarantined;           /* quarantine records written */
  bool records_form;              /* read as {"Records":[...]} */
  /* The whole object was refused (unsafe path, symlink, not a file): counted, logged and
   * quarantined, and the run still returns OC_OK. */
  bool object_rejected;
  char object_reason[32];
  char object_error[640];
  /* Committed lake files, valid until the next oc_objproc_run() or destroy. */
  const oc_lakefile_t *files;
  size_t nfiles;
} oc_objproc_result_t;

/* cfg's strings are borrowed and must outlive proc. metrics may be NULL; when set, runs
 * update ocelot_processor_{objects,objects_rejected,lines_rejected,events,bytes}_total.
 * NULL with errstr on failure. */
oc_objproc_t *oc_objproc_new(const oc_objproc_config_t *cfg, oc_metrics_t *metrics, char *errstr,
                             size_t errstr_size);
void oc_objproc_destroy(oc_objproc_t *proc); /* accepts NULL */

/* Processes bucket/key (version etag, may be "") for src, with p_parse_time =
 * parse_time_us. Returns
 *   OC_OK            the object is done: files committed (res->files), rejections counted,
 *                    quarantined and logged; also when the object itself was refused
 *                    (res->object_rejected);
 *   OC_ERR_NOT_FOUND the object does not exist (retry later / dead-letter);
 *   OC_ERR_INVALID   it cannot be read for a reason that needs an operator (permission);
 *   OC_ERR_IO, OC_ERR_NOMEM  transient: nothing was committed by this run except files
 *                    that had filled up (re-running overwrites them with the same names).
 * errstr says why on errors. */
oc_err_t oc_objproc_run(oc_objproc_t *proc, const oc_objproc_source_t *src, const char *bucket,
                        const char *key, const char *etag, int64_t parse_time_us,
                        oc_objproc_result_t *res, char *errstr, size_t errstr_size);

/* Drops the parsers compiled from the log types of earlier runs: call it before the
 * schemas they came from are freed (a catalog refresh). */
void oc_objproc_forget_types(oc_objproc_t *proc);

/* The quarantine files the last run committed (relative lake keys). */
size_t oc_objproc_quarantine_files(const oc_objproc_t *proc, const char *const **keys);

#endif
