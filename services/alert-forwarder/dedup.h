/* dedup.h: the alert-forwarder's dedup window and Threshold decisions as pure functions
 * (no Postgres, no clock), so the rules are stated and tested in one place.
 *
 * A dedup window belongs to one dedup key (rule id + dedup string). Windows are measured
 * in EVENT time, not wall-clock time: a window opens at the first event time of the match
 * that opens it and covers DedupPeriodMinutes from there. A match whose first event time
 * is at or past window_start + period opens a new window; anything earlier (including
 * late, out-of-order matches older than the window start) is counted into the current
 * one. Because the window start and hence the alert id derive only from the events,
 * replaying the same logs (a requeue, a reprocessed file, a restored backlog) gives the
 * same alerts with the same ids rather than new ones stamped with today's clock. */
#ifndef OC_FWD_DEDUP_H
#define OC_FWD_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

#define OC_DEDUP_DEFAULT_PERIOD_MIN 60
#define OC_DEDUP_MAX_PERIOD_MIN (366 * 24 * 60) /* a year: bounds the arithmetic */
#define OC_DEDUP_MAX_COUNT (INT64_C(1) << 53)   /* event counts saturate here */

/* The open window of one dedup key (a row of alert_dedup). */
typedef struct oc_dedup_window {
  bool exists; /* false: no window yet for this key */
  int64_t window_start_us;
  int64_t first_us, last_us; /* first/last event time counted into the window */
  uint64_t event_count;
  int32_t threshold;
  bool alert_created; /* the alerts row exists (threshold reached) */
} oc_dedup_window_t;

/* What one RuleMatchGroup brings. */
typedef struct oc_dedup_match {
  int64_t first_us, last_us;
  uint64_t count;
  int32_t period_minutes; /* <= 0: the default, 60 */
  int32_t threshold;      /* <= 0: 1 */
} oc_dedup_match_t;

typedef enum {
  OC_DEDUP_HELD = 0, /* counted; the window is still below its threshold: no alert yet */
  OC_DEDUP_CREATE,   /* counted; the window reached its threshold now: create the alert */
  OC_DEDUP_ADD       /* counted into a window whose alert already exists */
} oc_dedup_action_t;

typedef struct oc_dedup_result {
  oc_dedup_action_t action;
  bool new_window; /* the match opened a new window (w was reset) */
} oc_dedup_result_t;

/* Applies match m to window w (updated in place) and says what to do. The threshold of
 * the window becomes the match's (the rule's current setting). Counts saturate at
 * OC_DEDUP_MAX_COUNT; m->first_us > m->last_us is tolerated (swapped). */
oc_dedup_result_t oc_dedup_apply(oc_dedup_window_t *w, const oc_dedup_match_t *m);

/* The period in microseconds for DedupPeriodMinutes (defaults and bounds applied). */
int64_t oc_dedup_period_us(int32_t minutes);
/* Threshold with its default (<= 0 -> 1). */
int32_t oc_dedup_threshold(int32_t threshold);
/* "<rule_id>:<dedup>", or "error:<rule_id>:<dedup>" for rule-error matches, so errors
 * deduplicate apart from the rule's alerts. Allocated in a; NULL when out of memory. */
char *oc_dedup_key(oc_arena_t *a, const char *rule_id, const char *dedup, bool is_error);
/* The window's alert id: 32 hex characters of oc_hash_hex128(dedup_key, window start as
 * decimal microseconds). Deterministic, so a retried or replayed window keeps its id. */
void oc_dedup_alert_id(char out[33], const char *dedup_key, int64_t window_start_us);

#endif
