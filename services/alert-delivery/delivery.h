/* delivery.h: the alert-delivery handler for the service runtime. It consumes alerts
 * (Alert protobuf) and sends each to its destinations: the alert's own destinations
 * (output ids; unknown or disabled ones are logged and skipped) or, when it names none,
 * every enabled output. An alert with skip_delivery is not sent anywhere.
 *
 * Exactly-once per (alert, output), as far as a destination allows: before sending,
 * alert_deliveries is asked whether that pair already succeeded (then it is skipped;
 * this absorbs duplicate publishes of an alert and requeues); every attempt is recorded
 * there (attempt number, success, status, error, duration). A send can repeat only if
 * the process dies between the destination accepting and the record being written; the
 * Idempotency-Key header (the alert id) lets the destination drop such a repeat.
 *
 * Failures: a destination that fails (non-2xx, timeout, connection refused) fails the
 * record with OC_ERR_REMOTE; the runtime retries it with backoff (only outputs without
 * a success are sent again) and after OCELOT_MAX_ATTEMPTS dead-letters it to
 * alerts.dlq, from where `ocelot requeue` brings it back. Postgres down is transient:
 * the batch waits (nothing is sent meanwhile, nothing is dead-lettered). */
#ifndef OC_DLV_DELIVERY_H
#define OC_DLV_DELIVERY_H

#include <stddef.h>

#include "common/config.h"
#include "common/runtime.h"

extern const oc_cfgdef_t oc_delivery_cfgdefs[];
extern const size_t oc_delivery_ncfgdefs;
extern const oc_handler_t oc_delivery_handler;

#endif
