/* pg.c: a libpq connection that reconnects, and the one place where libpq results and
 * SQLSTATEs become oc_err_t.
 *
 * Reconnecting is lazy: a call that finds the connection lost fails with
 * OC_ERR_UNAVAILABLE and the next call resets it (PQreset), bounded by connect_timeout.
 * Before sending, a connection the server already closed while we were idle
 * (pg_terminate_backend, restart, idle timeout) is noticed with a non-blocking read and
 * replaced, so nothing was sent on it and the statement runs on the new session.
 * A connection lost inside a transaction is never replaced silently: the statements that
 * follow would run outside the transaction. Calls fail until the caller ends the
 * transaction with oc_pg_rollback() (or oc_pg_commit(), or starts a new one). */
#include "common/pg.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OC_PG_CONNECT_TIMEOUT "3"

struct oc_pg {
  char *dsn; /* as given, plus connect_timeout when it had none */
  PGconn *conn;
  bool in_tx;   /* the server had a transaction open after the last call */
  bool tx_lost; /* the connection died while a transaction was open */
};

static void oc_pg_quiet_notice(void *arg, const char *message) {
  /* NOTICEs ("relation already exists, skipping") are not errors; services log JSON
   * lines only, so libpq's default print to stderr is silenced. */
  (void)arg;
  (void)message;
}

static bool oc_pg_is_uri(const char *dsn) {
  return strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0;
}

/* True when the DSN (either form) sets connect_timeout. Unparseable DSNs are left for
 * PQconnectdb to report. */
static bool oc_pg_dsn_has_timeout(const char *dsn) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(dsn, &err);
  bool found = false;
  if (!opts) {
    PQfreemem(err);
    return true; /* do not touch what we cannot parse */
  }
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && o->val[0]) found = true;
  }
  PQconninfoFree(opts);
  return found;
}

static char *oc_pg_dsn_with_timeout(const char *dsn) {
  size_t len = strlen(dsn);
  const char *sep;
  char *out;
  if (oc_pg_dsn_has_timeout(dsn)) return strdup(dsn);
  if (oc_pg_is_uri(dsn)) {
    if (len > 0 && (dsn[len - 1] == '?' || dsn[len - 1] == '&'))
      sep = "";
    else
      sep = strchr(dsn, '?') ? "&" : "?";
  } else {
    sep = len > 0 ? " " : "";
  }
  out = malloc(len + strlen(sep) + sizeof("connect_timeout=" OC_PG_CONNECT_TIMEOUT));
  if (!out) return NULL;
  sprintf(out, "%s%sconnect_timeout=" OC_PG_CONNECT_TIMEOUT, dsn, sep);
  return out;
}

oc_pg_t *oc_pg_new(const char *dsn) {
  oc_pg_t *pg = calloc(1, sizeof(*pg));
  if (!pg) return NULL;
  pg->dsn = oc_pg_dsn_with_timeout(dsn ? dsn : "");
  if (!pg->dsn) {
    free(pg);
    return NULL;
  }
  return pg;
}

void oc_pg_destroy(oc_pg_t *pg) {
  if (!pg) return;
  if (pg->conn) PQfinish(pg->conn);
  free(pg->dsn);
  free(pg);
}

/* Copies the first line of msg (libpq messages carry hints on later lines). */
static void oc_pg_first_line(char *out, size_t out_size, const char *msg) {
  size_t n;
  if (!out || out_size == 0) return;
  if (!msg) msg = "";
  n = strcspn(msg, "\n");
  if (n >= out_size) n = out_size - 1;
  memcpy(out, msg, n);
  out[n] = '\0';
}

/* Records the transaction state after a call, and whether a transaction was lost. */
static void oc_pg_note(oc_pg_t *pg) {
  PGTransactionStatusType ts;
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
    if (pg->in_tx) pg->tx_lost = true;
    pg->in_tx = false;
    return;
  }
  ts = PQtransactionStatus(pg->conn);
  pg->in_tx = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

/* True when the connection still looks alive. A server that ended the session while we
 * were idle has left an error message and then EOF on the socket; libpq takes the first
 * for a notice, so input is consumed while the socket stays readable, until the EOF
 * marks the connection bad. Costs one poll(2) when nothing is pending. */
static bool oc_pg_alive(oc_pg_t *pg) {
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) return false;
  if (PQtransactionStatus(pg->conn) == PQTRANS_ACTIVE) return true; /* mid-query */
  for (int i = 0; i < 8; i++) {
    struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
    if (pfd.fd < 0) return false;
    if (poll(&pfd, 1, 0) <= 0) break;
    if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK) return false;
  }
  return true;
}

oc_err_t oc_pg_connect(oc_pg_t *pg, char *errstr, size_t errstr_size) {
  char msg[512];
  if (oc_pg_alive(pg)) return OC_OK;
  oc_pg_note(pg);
  if (pg->conn) {
    PQreset(pg->conn);
  } else {
    pg->conn = PQconnectdb(pg->dsn);
    if (!pg->conn) {
      if (errstr_size)
        snprintf(errstr, errstr_size, "could not connect to Postgres: out of memory");
      return OC_ERR_NOMEM;
    }
    PQsetNoticeProcessor(pg->conn, oc_pg_quiet_notice, NULL);
  }
  if (PQstatus(pg->conn) != CONNECTION_OK) {
    oc_pg_first_line(msg, sizeof(msg), PQerrorMessage(pg->conn));
    if (errstr_size) snprintf(errstr, errstr_size, "could not connect to Postgres: %s", msg);
    return OC_ERR_UNAVAILABLE;
  }
  pg->in_tx = false;
  return OC_OK;
}

PGconn *oc_pg_conn(oc_pg_t *pg) {
  if (!pg || !pg->conn || PQstatus(pg->conn) != CONNECTION_OK) return NULL;
  return pg->conn;
}

bool oc_pg_ok(const oc_pg_t *pg) {
  return pg && pg->conn && PQstatus(pg->conn) == CONNECTION_OK && !pg->tx_lost;
}

static bool oc_pg_status_ok(ExecStatusType st) {
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY ||
         st == PGRES_SINGLE_TUPLE;
}

oc_err_t oc_pg_result_err(const PGresult *res) {
  const char *state;
  if (!res) return OC_ERR_UNAVAILABLE;
  if (oc_pg_status_ok(PQresultStatus(res))) return OC_OK;
  state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  /* libpq's own errors carry no SQLSTATE; nearly all of them are a lost or unusable
   * connection ("server closed the connection unexpectedly"). */
  if (!state || strlen(state) != 5) return OC_ERR_UNAVAILABLE;
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
      strncmp(state, "53", 2) == 0)
    return OC_ERR_UNAVAILABLE;
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) return OC_ERR_CONFLICT;
  return OC_ERR_INVALID;
}

/* Fills errstr from a failed result: "<primary message> (SQLSTATE xxxxx)". */
static void oc_pg_describe(oc_pg_t *pg, const PGresult *res, char *errstr, size_t errstr_size) {
  char msg[512];
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!errstr_size) return;
  if (primary) {
    oc_pg_first_line(msg, sizeof(msg), primary);
  } else if (res && PQresultErrorMessage(res)[0]) {
    oc_pg_first_line(msg, sizeof(msg), PQresultErrorMessage(res));
  } else if (pg->conn && PQerrorMessage(pg->conn)[0]) {
    oc_pg_first_line(msg, sizeof(msg), PQerrorMessage(pg->conn));
  } else if (res) {
    snprintf(msg, sizeof(msg), "unexpected result status %s", PQresStatus(PQresultStatus(res)));
  } else {
    snprintf(msg, sizeof(msg), "no result");
  }
  if (state)
    snprintf(errstr, errstr_size, "%s (SQLSTATE %s)", msg, state);
  else
    snprintf(errstr, errstr_size, "%s", msg);
}

static oc_err_t oc_pg_run(oc_pg_t *pg, PGresult **res, const char *sql, int nparams,
                          const char *const *values, const int *lengths, const int *formats,
                          char *errstr, size_t errstr_size) {
  PGresult *r;
  oc_err_t err;
  if (res) *res = NULL;
  if (pg->tx_lost) {
    if (errstr_size)
      snprintf(errstr, errstr_size,
               "the Postgres connection was lost inside a transaction; roll it back first");
    return OC_ERR_UNAVAILABLE;
  }
  err = oc_pg_connect(pg, errstr, errstr_size);
  if (err) return err;
  if (pg->tx_lost) { /* oc_pg_connect found the session gone mid-transaction */
    if (errstr_size)
      snprintf(errstr, errstr_size,
               "the Postgres connection was lost inside a transaction; roll it back first");
    return OC_ERR_UNAVAILABLE;
  }
  /* Without parameters the simple protocol runs a script (migrations); with them, the
   * extended protocol keeps values out of the SQL text. */
  if (nparams == 0 && !values)
    r = PQexec(pg->conn, sql);
  else
    r = PQexecParams(pg->conn, sql, nparams, NULL, values, lengths, formats, 0);
  err = oc_pg_result_err(r);
  if (!err) {
    oc_pg_note(pg);
    if (res)
      *res = r;
    else
      PQclear(r);
    return OC_OK;
  }
  oc_pg_describe(pg, r, errstr, errstr_size);
  if (PQstatus(pg->conn) != CONNECTION_OK) err = OC_ERR_UNAVAILABLE;
  PQclear(r);
  oc_pg_note(pg);
  return err;
}

oc_err_t oc_pg_exec(oc_pg_t *pg, PGresult **res, const char *sql, int nparams,
                    const char *const *params, char *errstr, size_t errstr_size) {
  return oc_pg_run(pg, res, sql, nparams, nparams ? params : NULL, NULL, NULL, errstr, errstr_size);
}

oc_err_t oc_pg_execp(oc_pg_t *pg, PGresult **res, const char *sql, int nparams,
                     const char *const *values, const int *lengths, const int *formats,
                     char *errstr, size_t errstr_size) {
  static const char *const none[1] = {NULL};
  /* Always the extended protocol here, even without parameters. */
  return oc_pg_run(pg, res, sql, nparams, nparams ? values : none, lengths, formats, errstr,
                   errstr_size);
}

oc_err_t oc_pg_begin(oc_pg_t *pg, char *errstr, size_t errstr_size) {
  /* Starting over is the caller's way of saying it knows the old transaction is gone. */
  pg->tx_lost = false;
  return oc_pg_run(pg, NULL, "BEGIN", 0, NULL, NULL, NULL, errstr, errstr_size);
}

oc_err_t oc_pg_commit(oc_pg_t *pg, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_err_t err;
  if (pg->tx_lost) {
    pg->tx_lost = false;
    if (errstr_size)
      snprintf(errstr, errstr_size,
               "could not commit: the Postgres connection was lost inside the transaction");
    return OC_ERR_UNAVAILABLE;
  }
  err = oc_pg_run(pg, &res, "COMMIT", 0, NULL, NULL, NULL, errstr, errstr_size);
  if (err) {
    /* Whatever happened, that transaction is over (committed or not, the caller retries
     * the whole unit of work). */
    pg->tx_lost = false;
    return err;
  }
  /* COMMIT of a transaction that already failed succeeds with the tag ROLLBACK. */
  if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
    if (errstr_size)
      snprintf(errstr, errstr_size,
               "could not commit: the transaction had failed and was rolled back");
    err = OC_ERR_INVALID;
  }
  PQclear(res);
  return err;
}

void oc_pg_rollback(oc_pg_t *pg) {
  PGresult *res;
  if (!pg) return;
  pg->tx_lost = false;
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) return;
  if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE) return;
  res = PQexec(pg->conn, "ROLLBACK");
  PQclear(res);
  oc_pg_note(pg);
}
