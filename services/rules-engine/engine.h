/* engine.h: the rules-engine's handler for the service runtime.
 *
 * It consumes processed-files (ProcessedFile claim checks). For kind logs it reads the
 * lake file at $OCELOT_LAKE_ROOT/<lake_key>, runs the detections of each event's log
 * type (scan.h) and produces one RuleMatchGroup per (rule, dedup string) to
 * rule-matches, keyed "<rule_id>:<dedup>", with the deterministic id
 * hash(lake key, rule id, rule version, dedup). With OCELOT_RULES_WRITE_MATCHES (off by
 * default, because consumers of processed-files that count rows must then tell the kinds
 * apart) matched events are also written to the lake under rules/ and announced with a
 * ProcessedFile of kind rules. Other kinds are ignored (committed).
 *
 * Rules come from OCELOT_RULES_DIR and the rules table (ruleset.h); both are checked
 * every OCELOT_RULES_REFRESH_MS from tick() and reloaded when they changed (directory:
 * file names, sizes and mtimes; table: count, max(updated_at), sum(version)). Until the
 * table has been read once, batches wait (transient error: not ready).
 *
 * Python rules: with OCELOT_RULES_PACK_DIR, the Panther pack there is loaded once at start
 * into the embedded interpreter (pyscan.h) and its enabled rules run on every file after
 * the YAML detections, each Python rule on each event under OCELOT_RULES_PY_BUDGET_MS;
 * their groups (rule errors included, is_error, deduplicated apart) go to rule-matches
 * the same way. Packs stored by `ocelot rules upload` (packstore.h) run too; the Python
 * rules reload without a restart on a notice on Redis channel ocelot:rules-changed and
 * every OCELOT_RULES_RELOAD_MS (a failed reload keeps the running rules). Rules may use
 * panther_detection_helpers.caching (pycache.h, Redis at OCELOT_REDIS_URL); Redis down
 * makes the file a transient failure. Python rules found in OCELOT_RULES_DIR are still
 * only counted as skipped.
 *
 * Failures: an undecodable record -> OC_ERR_DECODE; a missing lake file ->
 * OC_ERR_NOT_FOUND; a lake key outside the lake -> OC_ERR_INVALID; a corrupt compressed
 * stream -> OC_ERR_DECODE (all dead-lettered after the attempts, requeue-able); a
 * corrupt line is counted and skipped; local I/O errors are transient (batch retried). */
#ifndef OC_RULES_ENGINE_H
#define OC_RULES_ENGINE_H

#include <stddef.h>

#include "common/config.h"
#include "common/runtime.h"

extern const oc_cfgdef_t oc_rules_cfgdefs[];
extern const size_t oc_rules_ncfgdefs;
extern const oc_handler_t oc_rules_handler;

#endif
