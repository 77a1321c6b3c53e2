/* outbox.c: writing and relaying the alert-forwarder's transactional outbox. */
#include "services/alert-forwarder/outbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

oc_err_t oc_outbox_add(oc_pg_t *pg, const char *topic, const char *key, const void *payload,
                       size_t len, char *errstr, size_t errstr_size) {
  const char *values[3] = {topic, key, payload};
  int lengths[3] = {0, 0, (int)len};
  int formats[3] = {0, 0, 1};
  if (len > (size_t)INT32_MAX) {
    snprintf(errstr, errstr_size, "outbox payload of %zu bytes is too large", len);
    return OC_ERR_LIMIT;
  }
  return oc_pg_execp(pg, NULL, "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)", 3,
                     values, lengths, formats, errstr, errstr_size);
}

static int oc_outbox_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool oc_outbox_unhex(oc_buf_t *out, const char *hex, size_t len) {
  oc_buf_reset(out);
  if (len % 2) return false;
  if (!oc_buf_reserve(out, len / 2 + 1)) return false;
  for (size_t i = 0; i < len; i += 2) {
    int hi = oc_outbox_hexval(hex[i]), lo = oc_outbox_hexval(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->data[out->len++] = (char)(hi << 4 | lo);
  }
  out->data[out->len] = '\0';
  return true;
}

/* One relay transaction. *n gets the rows published; *full whether the claim was full. */
static oc_err_t oc_outbox_round(oc_svc_t *svc, oc_pg_t *pg, oc_buf_t *scratch, size_t *n,
                                bool *full, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_buf_t ids;
  oc_err_t err;
  int rows;
  char sql[256];

  *n = 0;
  *full = false;
  oc_buf_init(&ids);
  err = oc_pg_begin(pg, errstr, errstr_size);
  if (err) goto out;
  snprintf(sql, sizeof(sql),
           "SELECT id, topic, key, encode(payload, 'hex') FROM outbox ORDER BY id LIMIT %d"
           " FOR UPDATE SKIP LOCKED",
           OC_OUTBOX_BATCH);
  err = oc_pg_exec(pg, &res, sql, 0, NULL, errstr, errstr_size);
  if (err) goto out;
  rows = PQntuples(res);
  if (rows == 0) goto out; /* committed below: nothing held */
  oc_buf_putc(&ids, '{');
  for (int i = 0; i < rows; i++) {
    const char *id = PQgetvalue(res, i, 0), *topic = PQgetvalue(res, i, 1);
    const char *key = PQgetvalue(res, i, 2), *hex = PQgetvalue(res, i, 3);
    if (!oc_outbox_unhex(scratch, hex, (size_t)PQgetlength(res, i, 3))) {
      snprintf(errstr, errstr_size, "could not decode the payload of outbox row %s", id);
      err = oc_buf_ok(scratch) ? OC_ERR_INTERNAL : OC_ERR_NOMEM;
      goto out;
    }
    err = oc_svc_produce(svc, topic, key, strlen(key), scratch->data, scratch->len, NULL);
    if (err) {
      snprintf(errstr, errstr_size, "could not produce outbox row %s to \"%s\": %s", id, topic,
               oc_err_str(err));
      goto out;
    }
    if (i) oc_buf_putc(&ids, ',');
    oc_buf_puts(&ids, id);
  }
  oc_buf_putc(&ids, '}');
  if (!oc_buf_ok(&ids)) {
    snprintf(errstr, errstr_size, "out of memory");
    err = OC_ERR_NOMEM;
    goto out;
  }
  err = oc_svc_flush(svc, OC_OUTBOX_FLUSH_MS);
  if (err) {
    snprintf(errstr, errstr_size, "the broker did not acknowledge %d outbox records: %s", rows,
             oc_err_str(err));
    goto out;
  }
  {
    const char *params[1] = {ids.data};
    err = oc_pg_exec(pg, NULL, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1, params, errstr,
                     errstr_size);
    if (err) goto out;
  }
  *n = (size_t)rows;
  *full = rows >= OC_OUTBOX_BATCH;
out:
  PQclear(res);
  oc_buf_deinit(&ids);
  if (err == OC_OK) {
    err = oc_pg_commit(pg, errstr, errstr_size);
    if (err) *n = 0; /* not deleted: the rows go out again (same alert ids) */
  } else {
    oc_pg_rollback(pg);
  }
  if (err && !oc_err_is_transient(err)) {
    /* A row that can never be relayed would block the ones behind it only if it failed
     * every time; keep trying, loudly, rather than drop an alert. */
    oc_log(OC_LOG_ERROR, "outbox relay failed: %s", errstr);
    err = OC_ERR_UNAVAILABLE;
  }
  return err;
}

oc_err_t oc_outbox_relay(oc_svc_t *svc, oc_pg_t *pg, oc_buf_t *scratch, size_t *published,
                         char *errstr, size_t errstr_size) {
  oc_err_t err = OC_OK;
  *published = 0;
  for (int round = 0; round < OC_OUTBOX_ROUNDS; round++) {
    size_t n = 0;
    bool full = false;
    err = oc_outbox_round(svc, pg, scratch, &n, &full, errstr, errstr_size);
    *published += n;
    if (err || !full) break;
  }
  return err;
}
