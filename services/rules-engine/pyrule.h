/* pyrule.h: a pack's Python side loaded into the pyhost interpreter, and one rule run
 * against one event with Panther's rules for its functions.
 *
 * Loading (oc_pyrules_load): every global helper is made importable by module name
 * (pyhost.h), every enabled data model's Filename is executed and its Mappings become a
 * DataModel per log type (pyevent.h), every rule's Filename is executed as a module of
 * its own; a rule file without a callable rule() or whose top level raises is recorded
 * as a load error (file, line, reason) and the others load. Loading one file (its top
 * level and the helpers it imports) has a budget of 10 s.
 *
 * Running (oc_pyrule_eval), after the native InlineFilters (checked by the caller):
 *  - rule(event) must return a bool; an exception or another type makes the result an
 *    error: dedup = the exception's class name, title = its repr, message with file and
 *    line (the rule-error alert, deduplicated apart from the rule's alerts).
 *  - On a match: title, dedup, severity, alert_context, description, reference, runbook,
 *    destinations, when defined. Strings over OC_PYRULE_MAX_STR characters are cut to
 *    that length ending in "... (truncated)". severity is INFO..CRITICAL or DEFAULT (the
 *    rule's Severity) in any case. alert_context must be a Mapping and at most
 *    OC_PYRULE_MAX_CONTEXT bytes as JSON, else {"_error": ...}. destinations must be a
 *    list of strings (first OC_PYRULE_MAX_DESTINATIONS kept); [] means skip delivery.
 *  - A failing auxiliary function (exception or wrong type) falls back: title to the
 *    DisplayName, else the RuleID; dedup to the title (when title() worked), else
 *    "defaultDedupString:<RuleID>"; severity, description, reference, runbook and
 *    destinations to the metadata. The failure is recorded in aux_error; in strict mode
 *    (ocelot test) the caller treats it as a failed test.
 * Every call runs under the time budget (pyhost.h) when one is given and under the memory
 * cap (pyhost.h) when one is set: rule() stopped by the cap is an error, class MemoryError,
 * even when the rule caught it. Needs the GIL. */
#ifndef OC_RULES_PYRULE_H
#define OC_RULES_PYRULE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "services/rules-engine/pack.h"
#include "services/rules-engine/pyhost.h"

#define OC_PYRULE_MAX_STR 1000
#define OC_PYRULE_TRUNCATED "... (truncated)"
#define OC_PYRULE_MAX_CONTEXT (200 * 1024)
#define OC_PYRULE_MAX_DESTINATIONS 10

typedef enum {
  OC_PYFN_RULE = 0,
  OC_PYFN_TITLE,
  OC_PYFN_DEDUP,
  OC_PYFN_SEVERITY,
  OC_PYFN_ALERT_CONTEXT,
  OC_PYFN_DESCRIPTION,
  OC_PYFN_REFERENCE,
  OC_PYFN_RUNBOOK,
  OC_PYFN_DESTINATIONS,
  OC_PYFN_COUNT
} oc_pyfn_t;

typedef struct oc_pyrule {
  const oc_pack_item_t *item; /* borrowed from the pack */
  PyObject *module;
  PyObject *fn[OC_PYFN_COUNT]; /* NULL when the module does not define it */
} oc_pyrule_t;

typedef struct oc_pyrules {
  const oc_pack_t *pack; /* borrowed */
  oc_pyrule_t *rules;    /* rules and scheduled rules that loaded (enabled or not) */
  size_t nrules;
  PyObject *datamodels; /* dict: log type -> DataModel */
} oc_pyrules_t;

/* Loads the Python side of pack (the host must be started). Load errors are added to
 * pack's messages. NULL only when out of memory or Python fails as a whole. */
oc_pyrules_t *oc_pyrules_load(oc_pack_t *pack, char *errstr, size_t errstr_size);
void oc_pyrules_destroy(oc_pyrules_t *prs); /* accepts NULL */
/* The data model of a log type (borrowed), or NULL. */
PyObject *oc_pyrules_datamodel(const oc_pyrules_t *prs, const char *log_type, size_t len);
const oc_pyrule_t *oc_pyrules_find(const oc_pyrules_t *prs, const char *id);

typedef struct oc_pyresult {
  bool matched;
  bool error;     /* rule() raised or did not return a bool */
  oc_pyexc_t exc; /* when error: cls, repr and msg */
  oc_buf_t title, dedup, severity, alert_context, description, reference, runbook;
  oc_buf_t destinations; /* NUL-separated */
  size_t ndestinations;
  bool destinations_set; /* from destinations() (or OutputIds); with 0 = skip delivery */
  char aux_error[1024];  /* the first auxiliary failure, "" when none */
  size_t naux_errors;
  bool title_truncated;
} oc_pyresult_t;

void oc_pyresult_init(oc_pyresult_t *res);
void oc_pyresult_deinit(oc_pyresult_t *res);

/* Runs the rule on ev (a PantherEvent). Fills res (reset first; its strings are set only
 * when res->matched or res->error, stale otherwise). budget_ms <= 0: no
 * time budget. Returns res->matched. */
bool oc_pyrule_eval(const oc_pyrule_t *rule, PyObject *ev, int budget_ms, oc_pyresult_t *res);

#endif
