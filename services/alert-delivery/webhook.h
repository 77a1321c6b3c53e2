/* webhook.h: POSTing an alert to a webhook output over libcurl. One handle is reused for
 * every request, so connections to the same destination stay open (keep-alive).
 * Not thread-safe: one oc_webhook_t per thread. */
#ifndef OC_DLV_WEBHOOK_H
#define OC_DLV_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services/alert-delivery/outputs.h"

#define OC_WEBHOOK_MAX_RESPONSE (1024 * 1024) /* response bytes read; more ends the read */
#define OC_WEBHOOK_KEEP_RESPONSE 512          /* bytes kept for error messages */

typedef struct oc_webhook oc_webhook_t;

typedef struct oc_webhook_result {
  bool ok;     /* a 2xx answer */
  long status; /* HTTP status, 0 when none was received */
  int64_t duration_us;
  char error[512];                         /* why it failed (empty on success) */
  char body[OC_WEBHOOK_KEEP_RESPONSE + 1]; /* start of the response body */
} oc_webhook_result_t;

/* NULL + errstr when libcurl cannot be set up. Call curl_global_init() first. */
oc_webhook_t *oc_webhook_new(const char *user_agent, char *errstr, size_t errstr_size);
void oc_webhook_destroy(oc_webhook_t *wh); /* accepts NULL */

/* POSTs body (JSON) to the output's url with Content-Type: application/json,
 * Idempotency-Key and X-Ocelot-Alert-Id set to alert_id, the output's extra headers;
 * the output's timeout for the whole request (and for connecting), no redirects,
 * http/https only, at most OC_WEBHOOK_MAX_RESPONSE bytes of the answer read.
 * Always fills res. */
void oc_webhook_post(oc_webhook_t *wh, const oc_output_t *out, const char *alert_id,
                     const char *body, size_t len, oc_webhook_result_t *res);

#endif
