/* forwarder.h: the alert-forwarder's handler for the service runtime. It consumes
 * rule-matches (RuleMatchGroup) and applies each batch in ONE Postgres transaction:
 *  - the inbox: processed_matches records every match id; an id seen before is skipped,
 *    so a redelivered or replayed batch changes nothing;
 *  - alert_dedup: the open window per dedup key (dedup.h: event time, Threshold);
 *  - alerts: created when the window reaches its threshold, later matches in the window
 *    update its counts (no new delivery); alert_events links match ids to alert ids;
 *  - outbox: one Alert protobuf per created alert (topic alerts, key alert id), written
 *    at the end of the transaction so it carries the batch's final counts.
 * After the commit, and from tick() every 500 ms, the outbox relay (outbox.h) publishes.
 * The tick also forgets processed match ids older than OCELOT_INBOX_RETENTION_HOURS
 * (default 30 days), so the inbox stays bounded.
 * Failures: a record that does not decode or fails validation is permanent for that
 * record (oc_msg_fail, nothing written for it); a Postgres statement that fails
 * permanently for one record fails that record and the transaction is redone without
 * it; Postgres down (or a serialization conflict) rolls back and returns the transient
 * error, the runtime retries the batch and the inbox keeps it idempotent. */
#ifndef OC_FWD_FORWARDER_H
#define OC_FWD_FORWARDER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/runtime.h"
#include "ocelot/v1/messages.pb-c.h"

/* Limits on what a RuleMatchGroup may carry. Ids over their limit are rejected; the
 * dedup string and title are cut (at a UTF-8 boundary, deterministically, as Panther
 * cuts them) and long texts are cut; extra destinations and samples are dropped. */
#define OC_FWD_MAX_ID 256
#define OC_FWD_MAX_RULE_ID 512
#define OC_FWD_MAX_DEDUP 1000
#define OC_FWD_MAX_TITLE 1000
#define OC_FWD_MAX_SEVERITY 32
#define OC_FWD_MAX_TEXT (64 * 1024)     /* description, reference, runbook, log type */
#define OC_FWD_MAX_CONTEXT (256 * 1024) /* alert context JSON; larger is dropped */
#define OC_FWD_MAX_DESTINATIONS 64
#define OC_FWD_MAX_SAMPLES 10
#define OC_FWD_MAX_SAMPLE (64 * 1024)                  /* one sample event; larger are dropped */
#define OC_FWD_MAX_TIME_US INT64_C(253402300799999999) /* 9999-12-31T23:59:59.999999Z */

extern const oc_cfgdef_t oc_forwarder_cfgdefs[];
extern const size_t oc_forwarder_ncfgdefs;
extern const oc_handler_t oc_forwarder_handler;

/* Validates and normalizes a decoded match in place (see the limits above; severity is
 * upper-cased, empty becomes INFO; an empty title becomes the rule id; first/last event times must
 * lie in 1970..9999 and are ordered). false + errstr when the record must be rejected. */
bool oc_fwd_match_check(Ocelot__V1__RuleMatchGroup *g, char *errstr, size_t errstr_size);

/* Makes compact JSON text acceptable to jsonb: the escape \u0000 (which jsonb refuses)
 * becomes \ufffd, in place (same length). */
void oc_fwd_jsonb_safe(char *json, size_t len);

/* JSON for a jsonb column: text that parses is re-serialized compactly; text that does
 * not becomes a JSON string; empty text gives NULL. Allocated in a. */
char *oc_fwd_json_value(oc_arena_t *a, const char *text, size_t len);
/* JSON array of the samples (each as oc_fwd_json_value), NULL when there are none. */
char *oc_fwd_json_samples(oc_arena_t *a, char *const *samples, size_t n);

#endif
