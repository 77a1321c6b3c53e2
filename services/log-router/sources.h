/* sources.h: the log-router's table of sources for routing: an object (bucket, key)
 * belongs to the enabled source with the same bucket whose prefix is the longest prefix
 * of the key (an empty prefix matches every key of the bucket). Two sources with the
 * same bucket and equally long matching prefixes have the same prefix, which the schema
 * forbids (UNIQUE (bucket, prefix)); should a table hold them anyway, the smaller id
 * wins, so the choice never depends on load order. A table is immutable once finished;
 * the router replaces it whole on refresh. Not thread-safe. */
#ifndef OC_ROUTER_SOURCES_H
#define OC_ROUTER_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/pg.h"

typedef struct oc_route_source {
  char *id;
  char *bucket;
  char *prefix;
  size_t prefix_len;
  bool enabled;
} oc_route_source_t;

typedef struct oc_source_table {
  oc_route_source_t *v;
  size_t n, cap;
  bool finished;
} oc_source_table_t;

oc_source_table_t *oc_source_table_new(void);
void oc_source_table_destroy(oc_source_table_t *t); /* accepts NULL */
/* Copies the strings. OC_ERR_INVALID for an empty id or bucket, OC_ERR_NOMEM. */
oc_err_t oc_source_table_add(oc_source_table_t *t, const char *id, const char *bucket,
                             const char *prefix, bool enabled);
/* Sorts the table for matching; call after the last add. */
void oc_source_table_finish(oc_source_table_t *t);
/* The matching enabled source, or NULL. The table must be finished. */
const oc_route_source_t *oc_source_table_match(const oc_source_table_t *t, const char *bucket,
                                               const char *key);
size_t oc_source_table_count(const oc_source_table_t *t);
/* Reads every source (disabled ones too: they never match). NULL with *err
 * (OC_ERR_UNAVAILABLE when Postgres is down) and errstr on failure. */
oc_source_table_t *oc_source_table_load_pg(oc_pg_t *pg, oc_err_t *err, char *errstr,
                                           size_t errstr_size);

#endif
