/* dedup.c: dedup windows and Threshold, as pure functions (see dedup.h). */
#include "services/alert-forwarder/dedup.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/hash.h"

int64_t oc_dedup_period_us(int32_t minutes) {
  if (minutes <= 0) minutes = OC_DEDUP_DEFAULT_PERIOD_MIN;
  if (minutes > OC_DEDUP_MAX_PERIOD_MIN) minutes = OC_DEDUP_MAX_PERIOD_MIN;
  return (int64_t)minutes * 60 * 1000000;
}

int32_t oc_dedup_threshold(int32_t threshold) {
  return threshold <= 0 ? 1 : threshold;
}

static uint64_t oc_dedup_add_count(uint64_t a, uint64_t b) {
  if (a > OC_DEDUP_MAX_COUNT) a = OC_DEDUP_MAX_COUNT;
  if (b > OC_DEDUP_MAX_COUNT) b = OC_DEDUP_MAX_COUNT;
  a += b; /* both <= 2^53: no overflow */
  return a > OC_DEDUP_MAX_COUNT ? OC_DEDUP_MAX_COUNT : a;
}

/* True when event time t is at or past the end of the window starting at start. */
static bool oc_dedup_expired(int64_t start, int64_t period, int64_t t) {
  /* t >= start + period without overflowing: start + period may exceed INT64_MAX only
   * for absurd starts, which then never expire. */
  if (start > INT64_MAX - period) return false;
  return t >= start + period;
}

oc_dedup_result_t oc_dedup_apply(oc_dedup_window_t *w, const oc_dedup_match_t *m) {
  oc_dedup_result_t r = {OC_DEDUP_HELD, false};
  int64_t first = m->first_us, last = m->last_us;
  uint64_t count = m->count ? m->count : 1; /* a group always stands for one match at least */
  int32_t threshold = oc_dedup_threshold(m->threshold);

  if (first > last) {
    int64_t t = first;
    first = last;
    last = t;
  }
  if (!w->exists ||
      oc_dedup_expired(w->window_start_us, oc_dedup_period_us(m->period_minutes), first)) {
    w->exists = true;
    w->window_start_us = first;
    w->first_us = first;
    w->last_us = last;
    w->event_count = 0;
    w->alert_created = false;
    r.new_window = true;
  } else {
    if (first < w->first_us) w->first_us = first;
    if (last > w->last_us) w->last_us = last;
  }
  w->event_count = oc_dedup_add_count(w->event_count, count);
  w->threshold = threshold;
  if (w->alert_created) {
    r.action = OC_DEDUP_ADD;
  } else if (w->event_count >= (uint64_t)threshold) {
    w->alert_created = true;
    r.action = OC_DEDUP_CREATE;
  } else {
    r.action = OC_DEDUP_HELD;
  }
  return r;
}

char *oc_dedup_key(oc_arena_t *a, const char *rule_id, const char *dedup, bool is_error) {
  return oc_arena_sprintf(a, "%s%s:%s", is_error ? "error:" : "", rule_id ? rule_id : "",
                          dedup ? dedup : "");
}

void oc_dedup_alert_id(char out[33], const char *dedup_key, int64_t window_start_us) {
  char start[32];
  const char *parts[2];
  size_t lens[2];
  snprintf(start, sizeof(start), "%" PRId64, window_start_us);
  parts[0] = dedup_key;
  lens[0] = strlen(dedup_key);
  parts[1] = start;
  lens[1] = strlen(start);
  oc_hash_hex128(out, parts, lens, 2);
}
