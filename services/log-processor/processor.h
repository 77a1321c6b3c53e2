/* processor.h: the log-processor's handler for the service runtime. It consumes the
 * source.<id> topics (ObjectNotification with source_id), processes each object with
 * oc_objproc_run() and produces one ProcessedFile (kind logs) per lake file to
 * processed-files, keyed by the lake key.
 * Failures: an unknown or disabled source, a source without any known log type, a
 * missing or unreadable object are permanent for that record (oc_msg_fail: retried, then
 * dead-lettered to source.<id>.dlq, requeue-able); Postgres down while a source must be
 * looked up and local I/O errors are transient (the batch is retried, nothing is
 * dead-lettered); bad input inside an object is counted and quarantined. */
#ifndef OC_PROC_PROCESSOR_H
#define OC_PROC_PROCESSOR_H

#include <stddef.h>

#include "common/config.h"
#include "common/runtime.h"
#include "services/log-processor/logtypes.h"

/* Subscription: every source.<id> topic except the dead-letter topics (*.dlq), so the
 * processor never consumes its own dead letters. */
#define OC_PROCESSOR_TOPIC_REGEX "^source\\..*([^q]|[^l]q|[^d]lq|[^.]dlq)$"

extern const oc_cfgdef_t oc_processor_cfgdefs[];
extern const size_t oc_processor_ncfgdefs;
extern const oc_handler_t oc_processor_handler;

/* The process-wide registry: every schema under managed_dir (empty: the default, see
 * oc_logtypes_default_dir) and, when set, custom_dir. A managed schema that does not load
 * fails the start (NULL + errstr); a custom one is logged and skipped. */
oc_logtypes_t *oc_processor_load_types(const char *managed_dir, const char *custom_dir,
                                       char *errstr, size_t errstr_size);

#endif
