/* http.h: a small HTTP server over libmicrohttpd (internal polling thread). Handlers run
 * on the server thread: they must only read thread-safe state. Used for /healthz,
 * /readyz, /metrics on every service, and later by the api service. */
#ifndef OC_HTTP_H
#define OC_HTTP_H

#include <stddef.h>

typedef struct oc_http oc_http_t;

typedef struct oc_http_req {
  const char *method;
  const char *path; /* without the query string */
  const char *body; /* NULL when empty */
  size_t body_len;
} oc_http_req_t;

typedef struct oc_http_resp {
  int status;
  const char *content_type; /* static string */
  char *body;               /* malloc'd by the handler; the server frees it */
  size_t body_len;
} oc_http_resp_t;

typedef void (*oc_http_handler_fn)(const oc_http_req_t *req, oc_http_resp_t *resp, void *opaque);

/* Listens on addr:port (port 0 = pick one; oc_http_port() tells which). Bodies over
 * max_body bytes are refused with 413. NULL + errstr on failure. */
oc_http_t *oc_http_start(const char *addr, int port, size_t max_body, oc_http_handler_fn fn,
                         void *opaque, char *errstr, size_t errstr_size);
int oc_http_port(const oc_http_t *h);
void oc_http_stop(oc_http_t *h); /* accepts NULL */

#endif
