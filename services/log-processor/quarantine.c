/* quarantine.c: the quarantine writer (see quarantine.h). */
#include "services/log-processor/quarantine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

void oc_quarantine_init(oc_quarantine_t *q, const char *root, int zstd_level, uint64_t max_rows) {
  memset(q, 0, sizeof(*q));
  q->root = root;
  q->zstd_level = zstd_level;
  q->max_rows = max_rows ? max_rows : 1;
  oc_buf_init(&q->line);
}

static void oc_quarantine_clear_keys(oc_quarantine_t *q) {
  for (size_t i = 0; i < q->nkeys; i++)
    free(q->keys[i]);
  q->nkeys = 0;
}

void oc_quarantine_deinit(oc_quarantine_t *q) {
  oc_quarantine_abort(q);
  oc_quarantine_clear_keys(q);
  free(q->keys);
  oc_buf_deinit(&q->line);
  memset(q, 0, sizeof(*q));
}

void oc_quarantine_begin(oc_quarantine_t *q, const char *base, const char *source_id,
                         const char *object, size_t object_len, int64_t parse_time_us) {
  oc_quarantine_abort(q);
  oc_quarantine_clear_keys(q);
  snprintf(q->base, sizeof(q->base), "%s", base);
  snprintf(q->source_id, sizeof(q->source_id), "%s", source_id);
  q->object = object;
  q->object_len = object_len;
  q->parse_time_us = parse_time_us;
  q->seq = 0;
  q->rows = 0;
}

static oc_err_t oc_quarantine_close(oc_quarantine_t *q, char *errstr, size_t errstr_size) {
  char key[1024];
  oc_err_t err;
  if (!q->w) return OC_OK;
  err = oc_lake_writer_commit(q->w, key, sizeof(key), NULL, errstr, errstr_size);
  q->w = NULL;
  if (err) return err;
  if (q->nkeys == q->cap_keys) {
    size_t cap = q->cap_keys ? q->cap_keys * 2 : 4;
    char **nk = realloc(q->keys, cap * sizeof(*nk));
    if (!nk) return OC_OK; /* the file is in place; only the list for tests is short */
    q->keys = nk;
    q->cap_keys = cap;
  }
  q->keys[q->nkeys] = strdup(key);
  if (q->keys[q->nkeys]) q->nkeys++;
  return OC_OK;
}

oc_err_t oc_quarantine_add(oc_quarantine_t *q, uint64_t line_no, const char *reason,
                           const char *error, const char *raw, size_t raw_len, uint64_t raw_bytes,
                           bool raw_cut, char *errstr, size_t errstr_size) {
  oc_buf_t *b = &q->line;
  bool cut = raw_cut || raw_len > OC_QUARANTINE_RAW_MAX;
  oc_err_t err;
  if (raw_len > OC_QUARANTINE_RAW_MAX) raw_len = OC_QUARANTINE_RAW_MAX;
  if (!q->w) {
    char name[64];
    snprintf(name, sizeof(name), "%s-q%06u", q->base, q->seq++);
    q->w = oc_lake_writer_open(q->root, "quarantine", q->source_id, q->parse_time_us, name,
                               q->zstd_level, errstr, errstr_size);
    if (!q->w) return OC_ERR_IO;
  }
  oc_buf_reset(b);
  oc_buf_puts(b, "{\"source_id\":");
  oc_json_write_string(b, q->source_id, strlen(q->source_id));
  oc_buf_puts(b, ",\"object\":");
  oc_json_write_string(b, q->object ? q->object : "", q->object ? q->object_len : 0);
  oc_buf_puts(b, ",\"line\":");
  oc_buf_append_u64(b, line_no);
  oc_buf_puts(b, ",\"reason\":");
  oc_json_write_string(b, reason, strlen(reason));
  if (error && error[0]) {
    oc_buf_puts(b, ",\"error\":");
    oc_json_write_string(b, error, strlen(error));
  }
  oc_buf_puts(b, ",\"raw\":");
  oc_json_write_string(b, raw ? raw : "", raw ? raw_len : 0);
  oc_buf_puts(b, ",\"raw_bytes\":");
  oc_buf_append_u64(b, raw_bytes);
  if (cut) oc_buf_puts(b, ",\"raw_truncated\":true");
  oc_buf_putc(b, '}');
  if (!oc_buf_ok(b)) {
    snprintf(errstr, errstr_size, "could not build a quarantine record: out of memory");
    return OC_ERR_NOMEM;
  }
  err = oc_lake_writer_append(q->w, b->data, b->len);
  if (err) {
    snprintf(errstr, errstr_size, "could not write a quarantine record for source \"%s\"",
             q->source_id);
    return err;
  }
  q->rows++;
  if (oc_lake_writer_rows(q->w) >= q->max_rows) return oc_quarantine_close(q, errstr, errstr_size);
  return OC_OK;
}

oc_err_t oc_quarantine_commit(oc_quarantine_t *q, char *errstr, size_t errstr_size) {
  return oc_quarantine_close(q, errstr, errstr_size);
}

void oc_quarantine_abort(oc_quarantine_t *q) {
  if (q->w) oc_lake_writer_abort(q->w);
  q->w = NULL;
}
