/* err.h: Ocelot's one error enum and its classes (transient: retry without advancing;
 * permanent: this record cannot be handled, dead-letter it after bounded attempts). */
#ifndef OC_ERR_H
#define OC_ERR_H

#include <stdbool.h>

typedef enum {
  OC_OK = 0,
  OC_ERR_NOMEM = -1,       /* allocation failed (transient) */
  OC_ERR_INVALID = -2,     /* malformed input or argument (permanent) */
  OC_ERR_NOT_FOUND = -3,   /* named thing does not exist (permanent) */
  OC_ERR_IO = -4,          /* local I/O failed (transient) */
  OC_ERR_DECODE = -5,      /* cannot decode a record or file (permanent) */
  OC_ERR_LIMIT = -6,       /* an input-controlled size limit was exceeded (permanent) */
  OC_ERR_UNAVAILABLE = -7, /* a dependency is down: Postgres, Redis, broker (transient) */
  OC_ERR_TIMEOUT = -8,     /* a dependency did not answer in time (transient) */
  OC_ERR_CONFLICT = -9,    /* serialization failure or deadlock, retry (transient) */
  OC_ERR_REMOTE = -10,     /* a remote peer refused the record, e.g. HTTP 4xx/5xx (permanent) */
  OC_ERR_INTERNAL = -11,   /* a bug in Ocelot (permanent) */
  OC_ERR_EOF = -12,        /* end of a stream; not a failure */
  OC_ERR__MIN = -13
} oc_err_t;

/* Human text for an error, e.g. "dependency unavailable". Never NULL. */
const char *oc_err_str(oc_err_t err);
/* Stable short name, e.g. "OC_ERR_UNAVAILABLE"; used in oc-error-class headers. */
const char *oc_err_name(oc_err_t err);
/* True when retrying later can succeed without anyone changing anything. */
bool oc_err_is_transient(oc_err_t err);
/* "transient" or "permanent". */
const char *oc_err_class(oc_err_t err);

#endif
