/* pyscan.h: the live engine's Python rules. A Panther pack (pack.h) loaded into the rule
 * host (pyrule.h) once, and a lake file run through it: each event of a log type with
 * Python rules becomes one PantherEvent (with the log type's data model), each enabled
 * rule of that log type (AnalysisType rule; scheduled rules need queries and are not run
 * here) runs after its native InlineFilters, and the matches are grouped per (rule,
 * dedup, error or not) with the first match's title, severity, alert context,
 * description, reference, runbook and destinations, the count, first/last event time
 * and a few sample events. A rule that raises on an event gives a rule-error group
 * (dedup = exception class) and the other rules still run; a rule past its time budget
 * is interrupted (pyhost.h) and counts as an error the same way.
 *
 * Memory: events are parsed into an arena reset every OC_PYSCAN_ARENA_LINES lines;
 * groups live in a second arena until the next file. Not thread-safe; the thread that
 * started the rule host. */
#ifndef OC_RULES_PYSCAN_H
#define OC_RULES_PYSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "services/rules-engine/pack.h"
#include "services/rules-engine/pyrule.h"

#define OC_PYSCAN_MAX_SAMPLES 5
#define OC_PYSCAN_SAMPLE_GROUP_BYTES (256 * 1024)
#define OC_PYSCAN_MAX_GROUPS 100000 /* groups of one file; more matches are counted only */
#define OC_PYSCAN_ARENA_LINES 256

typedef struct oc_pyscan_rules oc_pyscan_rules_t;

/* Loads the pack at dir (starting the rule host when needed). Load problems are in
 * pack->msgs (see oc_pyscan_rules_pack). NULL with the reason when the directory
 * cannot be read or Python does not start. */
oc_pyscan_rules_t *oc_pyscan_rules_load(const char *dir, int budget_ms, char *errstr,
                                        size_t errstr_size);
void oc_pyscan_rules_destroy(oc_pyscan_rules_t *psr); /* accepts NULL */
const oc_pack_t *oc_pyscan_rules_pack(const oc_pyscan_rules_t *psr);
size_t oc_pyscan_rules_count(const oc_pyscan_rules_t *psr); /* enabled rules that run */
/* Whether a log type has Python rules. */
bool oc_pyscan_rules_has_type(const oc_pyscan_rules_t *psr, const char *log_type, size_t len);
/* The version of a rule: a hash of its metadata and Python file. */
const char *oc_pyscan_rule_version(const oc_pyscan_rules_t *psr, const oc_pyrule_t *rule);

typedef struct oc_pymatch_group {
  const oc_pyrule_t *rule;
  const char *version;
  const char *log_type;
  bool is_error;
  char *dedup;
  size_t dedup_len;
  char *title, *severity, *alert_context, *description, *reference, *runbook;
  char **destinations;
  size_t ndestinations;
  bool skip_delivery; /* destinations() returned [] */
  uint64_t count;
  int64_t first_us, last_us;
  const char *samples[OC_PYSCAN_MAX_SAMPLES];
  size_t nsamples, sample_bytes;
  uint64_t hash;
} oc_pymatch_group_t;

typedef struct oc_pyscan {
  oc_pymatch_group_t **groups; /* results of the last file, in order of first match */
  size_t ngroups, groups_cap;
  uint64_t events, matches, errors, timeouts, dropped_groups;
  oc_arena_t ev, keep;
  oc_pyresult_t res;
} oc_pyscan_t;

void oc_pyscan_init(oc_pyscan_t *ps);
void oc_pyscan_deinit(oc_pyscan_t *ps);

/* Runs the pack's rules over the lake file at path (JSON lines, zstd/gzip/plain).
 * default_log_type and default_time_us as in scan.h. OC_OK, OC_ERR_NOT_FOUND,
 * OC_ERR_DECODE (corrupt stream), OC_ERR_IO or OC_ERR_NOMEM. Bad lines are skipped (the
 * YAML scan counts them). */
oc_err_t oc_pyscan_file(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, const char *path,
                        const char *default_log_type, int64_t default_time_us, size_t max_line,
                        char *errstr, size_t errstr_size);

#endif
