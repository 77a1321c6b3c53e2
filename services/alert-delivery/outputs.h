/* outputs.h: alert destinations (the outputs table) as alert-delivery uses them: the
 * webhook configuration parsed and checked once, and a cache refreshed periodically. */
#ifndef OC_DLV_OUTPUTS_H
#define OC_DLV_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/pg.h"

#define OC_OUTPUT_DEFAULT_TIMEOUT_MS 5000
#define OC_OUTPUT_MAX_TIMEOUT_MS 600000
#define OC_OUTPUT_MAX_HEADERS 32
#define OC_OUTPUT_MAX_URL 4096
#define OC_OUTPUT_MAX_HEADER 8192 /* one header value */
#define OC_OUTPUT_MAX_CONFIG (64 * 1024)
#define OC_OUTPUTS_MAX 10000 /* rows read from the table */

typedef struct oc_output_header {
  char *name;
  char *value;
  char *line; /* "Name: value", as libcurl takes it */
} oc_output_header_t;

typedef struct oc_output {
  char *id;
  char *name;
  char *type; /* "webhook" */
  bool enabled;
  char *url;
  long timeout_ms;
  oc_output_header_t *headers;
  size_t nheaders;
} oc_output_t;

/* Parses a webhook output's config ({"url": "http(s)://...", "timeout_ms": 5000,
 * "headers": {"Name": "value"}}) into out (zeroed first; strings are malloc'd, release
 * with oc_output_deinit, also after a failure). Checks: url present, http or https,
 * no control characters; timeout_ms an integer 1..600000 (default 5000); headers an
 * object of strings with token names and values without CR/LF, at most 32, and none
 * that Ocelot sets itself (Content-Type, Idempotency-Key, X-Ocelot-Alert-Id,
 * Content-Length, Host, Transfer-Encoding). Unknown members are ignored. */
oc_err_t oc_output_parse(oc_output_t *out, const char *id, const char *type, const char *name,
                         bool enabled, const char *config, size_t config_len, char *errstr,
                         size_t errstr_size);
void oc_output_deinit(oc_output_t *o); /* accepts a zeroed or half-built output */

/* The cached table. */
typedef struct oc_outputs {
  oc_output_t *v;
  size_t n;
  bool loaded;          /* read at least once */
  int64_t loaded_at_us; /* monotonic */
} oc_outputs_t;

void oc_outputs_init(oc_outputs_t *set);
void oc_outputs_deinit(oc_outputs_t *set);
/* Reads every output; rows whose config does not parse are logged and left out. The
 * set is replaced only on success (a failed read keeps the old one). */
oc_err_t oc_outputs_load(oc_outputs_t *set, oc_pg_t *pg, char *errstr, size_t errstr_size);
const oc_output_t *oc_outputs_find(const oc_outputs_t *set, const char *id);

#endif
