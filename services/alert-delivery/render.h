/* render.h: an Alert as the JSON body alert-delivery POSTs to webhooks. */
#ifndef OC_DLV_RENDER_H
#define OC_DLV_RENDER_H

#include <stdbool.h>

#include "common/arena.h"
#include "common/buf.h"
#include "ocelot/v1/messages.pb-c.h"

#define OC_RENDER_JSON_DEPTH 64

/* Appends the body to out, one compact JSON object with, in this order:
 *   id, rule_id, rule_version, title, severity, dedup, event_count,
 *   first_event_time, last_event_time, created_at (RFC 3339, microseconds, Z),
 *   log_type, is_error, context (the alert context parsed: any JSON value; null when
 *   empty; a string when it is not JSON), description, reference, runbook,
 *   destinations (array of output ids), sample_events (array of the events parsed; an
 *   event that is not JSON appears as a string).
 * Invalid UTF-8 in any text becomes U+FFFD. a is scratch space for parsing (the caller
 * resets it). Returns oc_buf_ok(out). */
bool oc_render_alert(oc_buf_t *out, const Ocelot__V1__Alert *alert, oc_arena_t *a);

#endif
