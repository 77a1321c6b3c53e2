/* lakeset.h: the lake files of one input object, one open oc_lake_writer_t per
 * (log type, event hour), with deterministic names: "<base>-<seq>" where base is a hash
 * of the object's identity and seq counts the files of that partition. A file is
 * committed when it reaches max_rows rows (rotation by row count, never by time, so a
 * re-run over the same object produces the same names and overwrites) and the rest at
 * oc_lakeset_commit(). At most max_open writers are open at once; the least recently
 * used is committed early when another is needed (also deterministic).
 * The committed files are listed in set->files until the next oc_lakeset_begin(). */
#ifndef OC_PROC_LAKESET_H
#define OC_PROC_LAKESET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/lake.h"

#define OC_LAKESET_MAX_PARTITIONS 4096 /* distinct (log type, hour) pairs per object */

typedef struct oc_lakefile {
  char *log_type;
  char *key; /* relative lake key */
  uint64_t rows;
  uint64_t bytes; /* compressed */
  int64_t first_event_us, last_event_us;
} oc_lakefile_t;

typedef struct oc_lakepart oc_lakepart_t;

typedef struct oc_lakeset {
  const char *root; /* borrowed */
  int zstd_level;
  uint64_t max_rows;
  size_t max_open;
  char base[40];
  oc_lakepart_t *parts;
  size_t nparts, cap_parts, nopen, last;
  uint64_t clock; /* LRU */
  oc_lakefile_t *files;
  size_t nfiles, cap_files;
} oc_lakeset_t;

void oc_lakeset_init(oc_lakeset_t *set, const char *root, int zstd_level, uint64_t max_rows,
                     size_t max_open);
void oc_lakeset_deinit(oc_lakeset_t *set); /* aborts open writers */
/* Starts an object: forgets the previous object's partitions and file list. */
void oc_lakeset_begin(oc_lakeset_t *set, const char *base);
/* Appends one line to the file of (log_type, hour of event_time_us). log_type must stay
 * valid until commit/abort. OC_ERR_LIMIT when the object already has
 * OC_LAKESET_MAX_PARTITIONS partitions and this line needs a new one (the line is not
 * written); OC_ERR_IO / OC_ERR_NOMEM / OC_ERR_INVALID with errstr otherwise. */
oc_err_t oc_lakeset_append(oc_lakeset_t *set, const char *log_type, int64_t event_time_us,
                           const char *line, size_t len, char *errstr, size_t errstr_size);
/* Commits every open file, in the order the partitions appeared. */
oc_err_t oc_lakeset_commit(oc_lakeset_t *set, char *errstr, size_t errstr_size);
/* Drops every open file (temp files removed). Files committed already stay listed. */
void oc_lakeset_abort(oc_lakeset_t *set);

#endif
