/* quarantine.h: the quarantine area for input the processor rejects, one JSON line per
 * rejected line or object:
 *   {"source_id","object","line","reason","error","raw","raw_bytes"[,"raw_truncated"]}
 * at <lake>/quarantine/<source_id>/year=/month=/day=/hour=/<base>-q<seq>.json.zst,
 * partitioned by parse time. raw is the rejected input as a JSON string (invalid UTF-8
 * becomes U+FFFD), at most OC_QUARANTINE_RAW_MAX bytes of it, with "raw_truncated":true
 * when it was cut; raw_bytes is the size of the input that was seen. */
#ifndef OC_PROC_QUARANTINE_H
#define OC_PROC_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/lake.h"

#define OC_QUARANTINE_RAW_MAX (64 * 1024)

typedef struct oc_quarantine {
  const char *root; /* borrowed */
  int zstd_level;
  uint64_t max_rows;
  char base[40];
  char source_id[160];
  const char *object; /* borrowed: "bucket/key" */
  size_t object_len;
  int64_t parse_time_us;
  oc_lake_writer_t *w;
  unsigned seq;
  uint64_t rows; /* records written for the current object */
  oc_buf_t line;
  char **keys; /* committed files of the current object */
  size_t nkeys, cap_keys;
} oc_quarantine_t;

void oc_quarantine_init(oc_quarantine_t *q, const char *root, int zstd_level, uint64_t max_rows);
void oc_quarantine_deinit(oc_quarantine_t *q); /* aborts an open file */
/* Starts an object. source_id must be a valid lake path component (source ids are). */
void oc_quarantine_begin(oc_quarantine_t *q, const char *base, const char *source_id,
                         const char *object, size_t object_len, int64_t parse_time_us);
/* One record. raw_bytes is the size of the input that was seen; raw_cut says that raw
 * is only a prefix of the input already (a line over the length limit); error may be
 * NULL. */
oc_err_t oc_quarantine_add(oc_quarantine_t *q, uint64_t line_no, const char *reason,
                           const char *error, const char *raw, size_t raw_len, uint64_t raw_bytes,
                           bool raw_cut, char *errstr, size_t errstr_size);
oc_err_t oc_quarantine_commit(oc_quarantine_t *q, char *errstr, size_t errstr_size);
void oc_quarantine_abort(oc_quarantine_t *q);

#endif
