/* notification.h: decoding of what arrives on input-notifications into a list of
 * ObjectNotification:
 *  - a protobuf ObjectNotification (one object);
 *  - S3 event notification JSON: {"Records":[{"eventName":"ObjectCreated:Put","eventTime":
 *    ..., "s3":{"bucket":{"name":...},"object":{"key":...,"size":...,"eTag":...}}}]}
 *    with URL-encoded keys ('+' is a space, %XX a byte); records of other events
 *    (ObjectRemoved, ...) are skipped; the s3:TestEvent S3 sends on setup gives nothing;
 *  - the same wrapped in an SNS notification ({"Type":"Notification","Message":"..."});
 *  - EventBridge "Object Created" events ({"source":"aws.s3","detail":{"bucket":{"name"},
 *    "object":{"key",...}}}, keys not encoded).
 * Everything is allocated in the arena. */
#ifndef OC_ROUTER_NOTIFICATION_H
#define OC_ROUTER_NOTIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "ocelot/v1/messages.pb-c.h"

#define OC_NOTIF_MAX_RECORDS 1000 /* objects in one message */
#define OC_NOTIF_BUCKET_MAX 255   /* bytes of a bucket name */
#define OC_NOTIF_KEY_MAX 4096     /* bytes of a decoded key */
#define OC_NOTIF_JSON_DEPTH 32

typedef struct oc_notif_list {
  Ocelot__V1__ObjectNotification **v; /* in the arena */
  size_t n;
} oc_notif_list_t;

/* Decodes one record value. received_at_us fills ObjectNotification.received_at_us when
 * the input has none. OC_ERR_DECODE (with errstr) when the value is neither form or a
 * field is malformed (bad percent-encoding, over-long key, missing bucket); OC_ERR_NOMEM.
 * An empty list with OC_OK means nothing to route (a test event, only removals). */
oc_err_t oc_notif_decode(oc_arena_t *a, const void *value, size_t len, int64_t received_at_us,
                         oc_notif_list_t *out, char *errstr, size_t errstr_size);

/* URL-decodes s[0..n) ('+' -> ' ', %XX -> byte) into a NUL-terminated arena string.
 * NULL with errstr for a bad escape or an encoded NUL. */
char *oc_notif_url_decode(oc_arena_t *a, const char *s, size_t n, char *errstr, size_t errstr_size);

#endif
