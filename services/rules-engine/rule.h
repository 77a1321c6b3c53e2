/* rule.h: one YAML detection file (Panther's format) parsed into a rule: metadata,
 * compiled Detection match tree, AlertTitle template and GroupBy keys.
 *
 * Top-level keys: AnalysisType (rule; others are skipped), RuleID (required),
 * DisplayName, Enabled (true), LogTypes (required list), Severity (required; Info, Low,
 * Medium, High, Critical in any case, kept upper-case), DedupPeriodMinutes (60,
 * 1..10080), Threshold (1, 1..1000000), AlertTitle, Description, Reference, Runbook,
 * Tags, OutputIds (the destinations), GroupBy (a list of {Key|KeyPath|DeepKey}),
 * InlineFilters (match expressions that must hold too), Detection (required),
 * AlertContext (a mapping {name: {Key|KeyPath|DeepKey} or "dotted.path"}, or Panther's
 * list [{KeyName: name, KeyValue: {KeyPath: ...}}]), DynamicSeverities (a list of
 * {ChangeTo: SEVERITY, Conditions: [match expressions]}; the first whose Conditions hold
 * sets the severity of a match, else Severity). Other
 * keys (Tests, Reports, SummaryAttributes, ...) are accepted and ignored. A document
 * with Filename: is a Python rule (run from a pack, pyrule.h), reported as OC_RULE_PYTHON.
 *
 * Dedup string: GroupBy values joined with ':' (absent ones as OC_TITLE_MISSING); else
 * the rendered AlertTitle when there is one; else "defaultDedupString:<RuleID>". Cut
 * to OC_RULE_MAX_DEDUP bytes. The title without an AlertTitle is the DisplayName, else
 * the RuleID. */
#ifndef OC_RULES_RULE_H
#define OC_RULES_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "services/rules-engine/detection.h"
#include "services/rules-engine/title.h"

#define OC_RULE_MAX_TEXT (1024 * 1024) /* bytes of one detection document */
#define OC_RULE_MAX_DEDUP 1000
#define OC_RULE_MAX_ID 256
#define OC_RULE_MAX_CONTEXT (200 * 1024) /* bytes of one rendered AlertContext */

typedef enum {
  OC_RULE_OK = 0,     /* a YAML detection (it may be disabled: rule->enabled) */
  OC_RULE_PYTHON,     /* a Python rule (Filename:): skipped for now */
  OC_RULE_NOT_A_RULE, /* AnalysisType other than rule (policy, global, data_model, ...) */
  OC_RULE_ERROR       /* malformed */
} oc_rule_status_t;

typedef struct oc_rule_context {
  const char *name;
  oc_det_path_t path;
} oc_rule_context_t;

typedef struct oc_rule_dynsev {
  const char *severity; /* INFO ... CRITICAL */
  oc_det_node_t *conditions;
} oc_rule_dynsev_t;

typedef struct oc_rule {
  oc_arena_t arena; /* owns everything below */
  const char *id;
  const char *version;
  const char *origin;                            /* file path, or "rules table row <id>" */
  const char *display_name;                      /* "" when absent */
  const char *severity;                          /* INFO, LOW, MEDIUM, HIGH, CRITICAL */
  const char *description, *reference, *runbook; /* "" when absent */
  const char **log_types;
  size_t nlog_types;
  const char **tags;
  size_t ntags;
  const char **destinations;
  size_t ndestinations;
  int dedup_period_minutes;
  int threshold;
  bool enabled;
  bool from_table;
  oc_title_t *title; /* NULL without AlertTitle */
  oc_det_path_t *group_by;
  size_t ngroup_by;
  oc_det_node_t *detection;
  oc_det_node_t *inline_filters; /* NULL when none */
  oc_rule_context_t *context;    /* AlertContext, in the order written */
  size_t ncontext;
  oc_rule_dynsev_t *dynamic_severities;
  size_t ndynamic_severities;
} oc_rule_t;

/* Parses one YAML document. origin names it in messages; version NULL = a hash of the
 * text; fallback_id (may be NULL) is used when the document has no RuleID (table rows).
 * On OC_RULE_OK *out gets the rule (caller destroys it). Otherwise *out is NULL and
 * errstr says why (the reason only, no origin); for OC_RULE_ERROR *err_line is the
 * 1-based line or 0 when unknown. */
oc_rule_status_t oc_rule_parse(const char *text, size_t len, const char *origin,
                               const char *version, const char *fallback_id, oc_det_keys_t *keys,
                               oc_rule_t **out, int *err_line, char *errstr, size_t errstr_size);
void oc_rule_destroy(oc_rule_t *rule); /* accepts NULL */

/* Whether the rule matches ctx's current event. Does not allocate. */
bool oc_rule_matches(const oc_rule_t *rule, oc_det_ctx_t *ctx);
/* Appends the alert title for the current event. */
void oc_rule_render_title(const oc_rule_t *rule, oc_det_ctx_t *ctx, oc_buf_t *out);
/* Appends the dedup string; title is the rendered title (used when the rule has an
 * AlertTitle and no GroupBy). */
void oc_rule_render_dedup(const oc_rule_t *rule, oc_det_ctx_t *ctx, const char *title,
                          size_t title_len, oc_buf_t *out);

/* The severity of a match on ctx's current event: the ChangeTo of the first
 * DynamicSeverities entry whose Conditions hold, else rule->severity. A static string. */
const char *oc_rule_severity_for(const oc_rule_t *rule, oc_det_ctx_t *ctx);
/* Appends the AlertContext of ctx's current event as a JSON object (each name -> the
 * value its key reaches, null when absent; keys that can reach several values give an
 * array of them). Over OC_RULE_MAX_CONTEXT bytes it is replaced by {"_error": "..."}.
 * Returns false, appending nothing, when the rule has no AlertContext. */
bool oc_rule_render_context(const oc_rule_t *rule, oc_det_ctx_t *ctx, oc_buf_t *out);

#endif
