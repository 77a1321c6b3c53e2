/* lake.h: the local lake in Panther's layout:
 *   <root>/<kind>/<table>/year=YYYY/month=MM/day=DD/hour=HH/<name>.json.zst
 * kind is "logs", "rules" or "rule_errors"; table is the log type lower-cased with '.'
 * replaced by '_'. Files are written to "<final>.tmp-<pid>" with streaming zstd and
 * renamed into place on commit, so readers never see half a file and a rewrite with the
 * same name replaces, not adds. Also object-store path confinement for inputs. */
#ifndef OC_LAKE_H
#define OC_LAKE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct oc_lake_writer oc_lake_writer_t;

/* "AWS.CloudTrail" -> "aws_cloudtrail" into out. */
void oc_lake_table_name(const char *log_type, char *out, size_t out_size);
/* Relative key for a file: "logs/aws_cloudtrail/year=2026/month=11/day=28/hour=16/<name>.json.zst"
 */
void oc_lake_key(char *out, size_t out_size, const char *kind, const char *table,
                 int64_t event_time_us, const char *name);

/* zstd levels a lake file may use: 1..19, or zstd's fast levels -7..-1 (0, zstd's
 * "default", is refused so a level is always explicit). */
#define OC_LAKE_ZSTD_MIN (-7)
#define OC_LAKE_ZSTD_MAX 19

/* zstd_level as above (1 is the processor's default: lake JSON files are short-lived,
 * the compactor rewrites them as Parquet). Creates directories as needed. */
oc_lake_writer_t *oc_lake_writer_open(const char *root, const char *kind, const char *table,
                                      int64_t event_time_us, const char *name, int zstd_level,
                                      char *errstr, size_t errstr_size);
/* Appends one line (a '\n' is added). */
oc_err_t oc_lake_writer_append(oc_lake_writer_t *w, const char *line, size_t len);
uint64_t oc_lake_writer_rows(const oc_lake_writer_t *w);
/* Finishes the zstd frame, fsyncs, renames into place and frees w. key_out gets the
 * relative lake key, *bytes the compressed size. On error the temp file is removed. */
oc_err_t oc_lake_writer_commit(oc_lake_writer_t *w, char *key_out, size_t key_out_size,
                               uint64_t *bytes, char *errstr, size_t errstr_size);
/* Drops the temp file and frees w. Accepts NULL. */
void oc_lake_writer_abort(oc_lake_writer_t *w);

/* Joins root/bucket/key after confining it: rejects empty parts, absolute keys, NUL,
 * '\\', and any "." or ".." path component, and buckets containing '/'. OC_ERR_INVALID
 * with a reason in errstr when refused. */
oc_err_t oc_lake_confine(const char *root, const char *bucket, const char *key, char *out,
                         size_t out_size, char *errstr, size_t errstr_size);

#endif
