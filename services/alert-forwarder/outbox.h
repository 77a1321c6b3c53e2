/* outbox.h: the transactional outbox of the alert-forwarder. New alerts are written to
 * the outbox table in the same transaction as the dedup state; the relay publishes the
 * rows to Kafka and deletes them only after the broker acknowledged them. A crash
 * between the acknowledgement and the delete publishes a row twice (the same alert id;
 * alert-delivery absorbs it); nothing is ever lost. Several forwarder instances can
 * relay at once: rows are claimed with FOR UPDATE SKIP LOCKED. */
#ifndef OC_FWD_OUTBOX_H
#define OC_FWD_OUTBOX_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/pg.h"
#include "common/runtime.h"

#define OC_OUTBOX_BATCH 500      /* rows claimed per relay transaction */
#define OC_OUTBOX_ROUNDS 8       /* relay transactions per call at most */
#define OC_OUTBOX_FLUSH_MS 15000 /* how long the relay waits for the broker */

/* Adds one row inside the caller's open transaction. */
oc_err_t oc_outbox_add(oc_pg_t *pg, const char *topic, const char *key, const void *payload,
                       size_t len, char *errstr, size_t errstr_size);

/* Publishes what the outbox holds: per round, in one transaction, claims up to
 * OC_OUTBOX_BATCH rows, produces them with oc_svc_produce(), waits for the broker
 * (oc_svc_flush) and deletes them. Repeats while rounds come back full. *published gets
 * the rows published and deleted (also on error: the rounds that completed).
 * scratch is a reusable buffer for decoded payloads. On failure the round is rolled
 * back and a transient error returned; the rows stay for the next call. */
oc_err_t oc_outbox_relay(oc_svc_t *svc, oc_pg_t *pg, oc_buf_t *scratch, size_t *published,
                         char *errstr, size_t errstr_size);

/* Decodes hex digits (as encode(bytea, 'hex') writes them) into out; false on a bad
 * digit or an odd length. */
bool oc_outbox_unhex(oc_buf_t *out, const char *hex, size_t len);

#endif
