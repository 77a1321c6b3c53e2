/* pg.h: a Postgres connection (libpq) that reconnects. Errors are translated once, here:
 * connection failures and SQLSTATE classes 08 (connection), 57P0x (shutdown),
 * 53 (insufficient resources) -> OC_ERR_UNAVAILABLE; 40001/40P01 -> OC_ERR_CONFLICT;
 * everything else -> OC_ERR_INVALID. Not thread-safe: one oc_pg_t per thread. */
#ifndef OC_PG_H
#define OC_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef struct oc_pg oc_pg_t;

/* Does not connect. dsn is a libpq connection string or URI; connect_timeout defaults
 * to 3 s unless the DSN sets it. */
oc_pg_t *oc_pg_new(const char *dsn);
void oc_pg_destroy(oc_pg_t *pg);
/* Connects if not connected (or the connection went bad). Cheap when connected. */
oc_err_t oc_pg_connect(oc_pg_t *pg, char *errstr, size_t errstr_size);
/* The live connection for direct libpq use, or NULL. */
PGconn *oc_pg_conn(oc_pg_t *pg);
/* Runs one statement with text parameters (NULL entries are SQL NULL). On success *res
 * holds the result (caller PQclear()s it; res may be NULL to discard). Connects first
 * if needed. A lost connection is reset so the next call reconnects. */
oc_err_t oc_pg_exec(oc_pg_t *pg, PGresult **res, const char *sql, int nparams,
                    const char *const *params, char *errstr, size_t errstr_size);
/* Same with binary-capable params (lengths/formats as PQexecParams). */
oc_err_t oc_pg_execp(oc_pg_t *pg, PGresult **res, const char *sql, int nparams,
                     const char *const *values, const int *lengths, const int *formats,
                     char *errstr, size_t errstr_size);
oc_err_t oc_pg_begin(oc_pg_t *pg, char *errstr, size_t errstr_size);
oc_err_t oc_pg_commit(oc_pg_t *pg, char *errstr, size_t errstr_size);
void oc_pg_rollback(oc_pg_t *pg); /* best effort; accepts a dead connection */
/* Error class for a failed result (NULL result = connection trouble). */
oc_err_t oc_pg_result_err(const PGresult *res);
/* True when the last call left the connection usable. */
bool oc_pg_ok(const oc_pg_t *pg);

#endif
