/* scan.h: runs a rule set over one lake file (zstd/gzip/plain JSON lines) and groups the
 * matches per (rule, dedup string): count, first/last event time, the title of the
 * first match (and its severity and AlertContext) and a few sample events. Optionally
 * writes every matched event, with p_rule_id, p_rule_version, p_rule_severity (its
 * DynamicSeverities result), p_alert_title, p_dedup and p_alert_context (rules with an
 * AlertContext) added, to the
 * lake under kind "rules" (one file per log type, named after the input file, so a
 * rerun replaces it).
 *
 * Memory: events are parsed into an arena reset every OC_SCAN_ARENA_LINES lines; groups,
 * titles and samples live in a second arena until oc_scan_reset(). Nothing is
 * malloc'd per event. A corrupt line (invalid JSON, not an object, too long) is counted
 * and skipped; a corrupt compressed stream fails the whole file. Not thread-safe. */
#ifndef OC_RULES_SCAN_H
#define OC_RULES_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/lake.h"
#include "services/rules-engine/ruleset.h"

#define OC_SCAN_MAX_SAMPLES 5
#define OC_SCAN_SAMPLE_GROUP_BYTES (256 * 1024)      /* samples of one group */
#define OC_SCAN_SAMPLE_FILE_BYTES (64 * 1024 * 1024) /* samples of one file */
#define OC_SCAN_ARENA_LINES 256
#define OC_SCAN_MAX_TYPES 256 /* log types tracked per file (more only when they have rules) */

typedef struct oc_match_group {
  const oc_rule_t *rule; /* borrowed from the rule set */
  const char *log_type;
  char *dedup;
  size_t dedup_len;
  char *title;
  const char *severity; /* the first match's (DynamicSeverities), a static string */
  char *alert_context;  /* the first match's AlertContext as JSON; "" when the rule has none */
  uint64_t count;
  int64_t first_us, last_us;
  const char *samples[OC_SCAN_MAX_SAMPLES];
  size_t sample_lens[OC_SCAN_MAX_SAMPLES];
  size_t nsamples;
  size_t sample_bytes;
  uint64_t hash;
} oc_match_group_t;

typedef struct oc_scan_type {
  char *log_type;
  uint64_t events;
  uint64_t matches;
  /* rules/ lake output for this log type */
  oc_lake_writer_t *writer;
  int64_t first_us, last_us;
} oc_scan_type_t;

typedef struct oc_scan_output {
  char log_type[256];
  char key[1024]; /* relative lake key */
  uint64_t rows;
  uint64_t bytes;
  int64_t first_us, last_us;
} oc_scan_output_t;

typedef struct oc_scan_opts {
  const char *default_log_type; /* when an event has no p_log_type (may be NULL) */
  int64_t default_time_us;      /* when an event has no usable p_event_time */
  size_t max_line;              /* longest line read */
  const char *lake_root;        /* where rules/ files go; NULL = do not write them */
  const char *input_key;        /* names the rules/ files */
  int zstd_level;
} oc_scan_opts_t;

typedef struct oc_scan {
  /* results of the last oc_scan_file() */
  oc_match_group_t **groups; /* in order of first match */
  size_t ngroups;
  oc_scan_type_t *types;
  size_t ntypes;
  oc_scan_output_t *outputs;
  size_t noutputs;
  uint64_t lines, events, matches;
  uint64_t other_events; /* events of untracked log types (past OC_SCAN_MAX_TYPES, no rules) */
  uint64_t bad_json, not_object, too_long, no_log_type, no_time;
  char first_error[256]; /* the first bad line's reason, "" when none */
  /* internals */
  oc_arena_t ev;   /* parsed events, reset every OC_SCAN_ARENA_LINES */
  oc_arena_t keep; /* groups, titles, samples */
  oc_buf_t title, dedup, line, context;
  oc_match_group_t **table;
  size_t table_cap;
  size_t cap_groups, cap_types;
  size_t sample_bytes;
} oc_scan_t;

void oc_scan_init(oc_scan_t *scan);
void oc_scan_deinit(oc_scan_t *scan);
/* Forgets the results (and aborts unwritten outputs), keeping memory for the next file. */
void oc_scan_reset(oc_scan_t *scan);

/* Scans the file at path. Resets scan first. Returns
 *   OC_OK             results in scan (outputs committed when lake_root was given);
 *   OC_ERR_NOT_FOUND  the file does not exist;
 *   OC_ERR_DECODE     the compressed stream is corrupt or truncated;
 *   OC_ERR_IO         reading or writing failed (the disk; transient);
 *   OC_ERR_NOMEM.
 * On error no output file is left behind. */
oc_err_t oc_scan_file(oc_scan_t *scan, oc_ruleset_t *rs, const char *path,
                      const oc_scan_opts_t *opts, char *errstr, size_t errstr_size);

/* The deterministic file name for rules/ output of an input lake key:
 * its base name without ".json.zst"/".json.gz"/... (characters outside [A-Za-z0-9._=-]
 * become '_'), or a hash of the key when that leaves nothing. */
void oc_scan_output_name(const char *input_key, char *out, size_t out_size);

#endif
