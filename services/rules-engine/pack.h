/* pack.h: a Panther detection pack read from a directory, the way Panther's analysis
 * tool reads one: every *.yml / *.yaml (recursively, in name order, hidden entries
 * skipped) is one analysis item's metadata; Python files are only located here (pyrule.h
 * loads them).
 *
 * AnalysisType: rule and scheduled_rule (RuleID), datamodel (DataModelID), global
 * (GlobalID); other types (policy, saved_query, ...) are counted and skipped.
 * Rule keys: RuleID, Filename (required, relative to the .yml), DisplayName, LogTypes
 * (required unless scheduled), Severity (required: Info..Critical, any case; kept upper
 * case), Enabled (true), DedupPeriodMinutes (60, 1..10080), Threshold (1, 1..1000000),
 * Tags, Reports (framework -> list, kept as "framework:value"), Description, Reference,
 * Runbook, SummaryAttributes, OutputIds, CreateAlert (true), InlineFilters (compiled to a
 * native match tree, detection.h), Tests (Name, ExpectedResult, Log, Mocks of
 * objectName / returnValue). Data models: DataModelID, LogTypes, Enabled, Filename
 * (optional: the file with the Method functions), Mappings of Name plus Path or Method.
 * Globals: GlobalID, Filename; importable under the Filename's stem (and GlobalID).
 * A rule without Filename but with Detection is a YAML detection (ruleset.h): skipped.
 * Unknown keys are accepted, as Panther's schema allows extra keys in packs.
 *
 * Scalars are read as YAML 1.2 (Panther uses a 1.2 loader): true/false in any of their
 * three spellings are booleans, yes/no/on/off and timestamps stay strings, ~ / null /
 * empty are null, 012 is the integer 12, 0o17 and 0x1f are integers.
 *
 * An item that does not load is reported (file, line, reason) and the rest load. */
#ifndef OC_RULES_PACK_H
#define OC_RULES_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "common/arena.h"
#include "common/buf.h"
#include "services/rules-engine/detection.h"

#define OC_PACK_MAX_FILE (1024 * 1024)     /* bytes of one .yml */
#define OC_PACK_MAX_JSON (4 * 1024 * 1024) /* a test's Log or a mock's value as JSON */
#define OC_PACK_MAX_DEPTH 64               /* nesting inside a test's Log */
#define OC_PACK_MAX_FILES 100000
#define OC_PACK_MAX_DIR_DEPTH 16

typedef enum {
  OC_PACK_RULE = 0,
  OC_PACK_SCHEDULED_RULE,
  OC_PACK_DATAMODEL,
  OC_PACK_GLOBAL
} oc_pack_kind_t;

typedef struct oc_pack_strs {
  const char **v;
  size_t n;
} oc_pack_strs_t;

typedef struct oc_pack_mock {
  const char *name;       /* objectName */
  const char *value_json; /* returnValue, as JSON */
} oc_pack_mock_t;

typedef struct oc_pack_test {
  const char *name;
  bool expected;
  const char *log_json; /* the Log as JSON text (NUL-terminated) */
  size_t log_len;
  oc_pack_mock_t *mocks;
  size_t nmocks;
  int line; /* of the test in the .yml */
} oc_pack_test_t;

typedef struct oc_pack_mapping {
  const char *name;
  const char *path;   /* NULL when Method */
  const char *method; /* NULL when Path */
} oc_pack_mapping_t;

typedef struct oc_pack_item {
  oc_pack_kind_t kind;
  const char *id;
  const char *yml_path;
  const char *py_path;     /* Filename resolved against the .yml's directory; NULL if none */
  const char *module_name; /* stem of Filename; NULL if none */
  const char *display_name, *severity, *description, *reference, *runbook; /* "" if absent */
  oc_pack_strs_t log_types, tags, reports, summary_attributes, output_ids;
  bool enabled, create_alert;
  int dedup_period_minutes, threshold;
  oc_det_node_t *inline_filters; /* NULL when none */
  oc_pack_test_t *tests;
  size_t ntests;
  oc_pack_mapping_t *mappings;
  size_t nmappings;
} oc_pack_item_t;

typedef struct oc_pack_msg {
  const char *origin;
  int line; /* 1-based, 0 when unknown */
  const char *text;
} oc_pack_msg_t;

typedef struct oc_pack {
  oc_arena_t arena; /* owns everything below */
  oc_det_keys_t *keys;
  oc_pack_item_t **items; /* in load order */
  size_t nitems, items_cap;
  oc_pack_msg_t *msgs; /* load errors, in load order */
  size_t nmsgs, msgs_cap;
  size_t skipped; /* items of other AnalysisTypes */
} oc_pack_t;

oc_pack_t *oc_pack_new(void);          /* NULL when out of memory */
void oc_pack_destroy(oc_pack_t *pack); /* accepts NULL */

/* Loads every item under dir. Errors in files are recorded as messages; false (with the
 * reason) only when dir cannot be read at all. */
bool oc_pack_load_dir(oc_pack_t *pack, const char *dir, char *errstr, size_t errstr_size);
/* Adds the item of one YAML text; origin is its path (Filename is resolved against its
 * directory). false when it did not load (a message was recorded) or was skipped. */
bool oc_pack_add(oc_pack_t *pack, const char *text, size_t len, const char *origin);

/* Records a message (formatted into the pack's arena). */
void oc_pack_msgf(oc_pack_t *pack, const char *origin, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The item of a kind with that id, or NULL. Rules and scheduled rules share ids. */
const oc_pack_item_t *oc_pack_find(const oc_pack_t *pack, oc_pack_kind_t kind, const char *id);

/* Appends the JSON form of a YAML node, with YAML 1.2 scalars (see above). false with a
 * reason when the node is nested deeper than max_depth, the output passes max_bytes, or
 * a mapping key is not a scalar. */
bool oc_pack_yaml_to_json(yaml_document_t *doc, yaml_node_t *node, oc_buf_t *out, int max_depth,
                          size_t max_bytes, char *errstr, size_t errstr_size);

#endif
