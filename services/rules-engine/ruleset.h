/* ruleset.h: the detections the engine runs, indexed by log type. A rule set is built
 * once (a directory of YAML files and/or the rules table), finished, and then only
 * read; a reload builds a new set and swaps it in, so evaluation never sees a half-made
 * one. Not thread-safe.
 *
 * Sources: every *.yml / *.yaml under a directory (recursively, in name order; hidden
 * entries skipped), and the rules table (kind 'yaml'; a disabled row masks a directory
 * rule with the same id; kind 'python' rows are counted and skipped). A table rule
 * replaces a directory rule with the same RuleID; two files with one RuleID: the first
 * in path order loads, the second is a load error. A document that does not load is
 * reported (origin, line, reason), counted, and the rest load. */
#ifndef OC_RULES_RULESET_H
#define OC_RULES_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/pg.h"
#include "services/rules-engine/rule.h"

#define OC_RULESET_MAX_DIR_DEPTH 16
#define OC_RULESET_MAX_FILES 100000

typedef struct oc_ruleset oc_ruleset_t;

typedef struct oc_ruleset_stats {
  size_t loaded; /* enabled rules in the index */
  size_t loaded_dir, loaded_table;
  size_t disabled;   /* Enabled: false, or a disabled table row */
  size_t python;     /* Python rules: run by the pack side of the engine, skipped here */
  size_t not_rules;  /* other AnalysisTypes skipped */
  size_t errors;     /* documents that did not load, duplicate ids */
  size_t overridden; /* directory rules replaced by a table rule */
} oc_ruleset_stats_t;

typedef enum { OC_RULESET_MSG_INFO, OC_RULESET_MSG_ERROR } oc_ruleset_msg_level_t;

typedef struct oc_ruleset_msg {
  oc_ruleset_msg_level_t level;
  char *origin; /* file path or "rules table row <id>" */
  int line;     /* 1-based, 0 when unknown */
  char *text;   /* reason */
} oc_ruleset_msg_t;

oc_ruleset_t *oc_ruleset_new(void);        /* NULL when out of memory */
void oc_ruleset_destroy(oc_ruleset_t *rs); /* accepts NULL */

/* Loads every detection file under dir. Errors in files are recorded, not returned;
 * returns OC_ERR_NOT_FOUND when dir does not exist, OC_ERR_IO when it cannot be read. */
oc_err_t oc_ruleset_load_dir(oc_ruleset_t *rs, const char *dir, char *errstr, size_t errstr_size);
/* Adds one document. version NULL = a hash of the text. */
oc_rule_status_t oc_ruleset_add(oc_ruleset_t *rs, const char *text, size_t len, const char *origin,
                                const char *version, const char *fallback_id, bool from_table);
/* Loads the rules table. A Postgres error is returned (transient when it is down) and
 * leaves the set as it was before the call. */
oc_err_t oc_ruleset_load_table(oc_ruleset_t *rs, oc_pg_t *pg, char *errstr, size_t errstr_size);
/* Resolves duplicate ids and builds the index. Call once, after loading. */
oc_err_t oc_ruleset_finish(oc_ruleset_t *rs, char *errstr, size_t errstr_size);

/* The enabled rules for a log type (empty when none). Valid until destroy. */
const oc_rule_t *const *oc_ruleset_for_log_type(const oc_ruleset_t *rs, const char *log_type,
                                                size_t len, size_t *n);
/* A log type's rules, prepared for evaluation: rules gated on a top-level member's value
 * (oc_det_gate) are only offered for events with that value. */
typedef struct oc_ruleset_type oc_ruleset_type_t;
typedef struct oc_rule_span {
  const oc_rule_t *const *rules;
  size_t n;
} oc_rule_span_t;
/* NULL when the log type has no rules. */
const oc_ruleset_type_t *oc_ruleset_type(const oc_ruleset_t *rs, const char *log_type, size_t len);
/* The rules of t that can match ctx's current event (a superset of those that do), as
 * spans in a buffer owned by rs, valid until the next call; every rule appears at most
 * once. Returns the number of spans. Does not allocate. */
size_t oc_ruleset_candidates(oc_ruleset_t *rs, const oc_ruleset_type_t *t, oc_det_ctx_t *ctx,
                             const oc_rule_span_t **spans);
/* Every enabled rule, in id order. */
size_t oc_ruleset_count(const oc_ruleset_t *rs);
const oc_rule_t *oc_ruleset_rule(const oc_ruleset_t *rs, size_t i);
const oc_rule_t *oc_ruleset_find(const oc_ruleset_t *rs, const char *id);
/* The evaluation context for this set's rules (one per set, single thread). */
oc_det_ctx_t *oc_ruleset_ctx(oc_ruleset_t *rs);
const oc_ruleset_stats_t *oc_ruleset_stats(const oc_ruleset_t *rs);
/* Load messages (errors and skipped rules), in load order. */
size_t oc_ruleset_nmsgs(const oc_ruleset_t *rs);
const oc_ruleset_msg_t *oc_ruleset_msg(const oc_ruleset_t *rs, size_t i);

/* A cheap fingerprint of a directory's detection files (names, sizes, mtimes), to tell
 * whether it changed. 0 when the directory is missing. */
uint64_t oc_ruleset_dir_fingerprint(const char *dir);

#endif
