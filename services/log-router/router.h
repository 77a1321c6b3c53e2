/* router.h: the log-router's handler for the service runtime. It consumes
 * input-notifications, decodes each record into objects (notification.h), finds each
 * object's source by longest bucket+prefix match (sources.h; cached from Postgres,
 * re-read every OCELOT_SOURCES_REFRESH_MS and, at most once a second, on a miss) and
 * produces the ObjectNotification, source_id set, to "source.<id>" keyed "bucket/key".
 * An undecodable record fails with OC_ERR_DECODE; an object no enabled source matches
 * fails the record with OC_ERR_NOT_FOUND (so it is dead-lettered after the attempts and
 * can be requeued once the source exists); a record is routed only when all of its
 * objects match. Postgres down when a lookup needs it is a transient error (the batch
 * waits; nothing is dead-lettered). */
#ifndef OC_ROUTER_ROUTER_H
#define OC_ROUTER_ROUTER_H

#include <stddef.h>

#include "common/config.h"
#include "common/runtime.h"

extern const oc_cfgdef_t oc_router_cfgdefs[];
extern const size_t oc_router_ncfgdefs;
extern const oc_handler_t oc_router_handler;

#endif
