/* test_storage_pg.c: the Postgres adapter and the migrations runner against a real
 * server (run under tests/lib/withstack.py, which exports OCELOT_PG_DSN for a fresh
 * database): migrations once and idempotent, the advisory lock, error classes,
 * refused connections, and reconnecting after the server ends the session, idle and
 * inside a transaction. */
#include "common/migrate.h"
#include "common/pg.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oc_test.h"

static const char *dsn;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The test DSN in key=value form plus extra settings (values quoted). */
static void kv_dsn(char *out, size_t out_size, const char *extra) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(dsn, &err);
  size_t n = 0;
  out[0] = '\0';
  if (!opts) {
    fprintf(stderr, "cannot parse OCELOT_PG_DSN: %s\n", err ? err : "?");
    exit(2);
  }
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val || !o->val[0]) continue;
    n += (size_t)snprintf(out + n, out_size - n, "%s='%s' ", o->keyword, o->val);
  }
  snprintf(out + n, out_size - n, "%s", extra ? extra : "");
  PQconninfoFree(opts);
}

/* Runs sql and returns the first column of the first row (static buffer), or NULL. */
static const char *q1(oc_pg_t *pg, const char *sql) {
  static char val[4][256];
  static int k;
  char errstr[512];
  PGresult *res = NULL;
  char *out = val[k++ % 4];
  if (oc_pg_exec(pg, &res, sql, 0, NULL, errstr, sizeof(errstr)) != OC_OK) {
    fprintf(stderr, "query failed: %s: %s\n", sql, errstr);
    return NULL;
  }
  if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
    PQclear(res);
    return NULL;
  }
  snprintf(out, 256, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return out;
}

static oc_pg_t *connect_or_die(const char *d) {
  char errstr[512];
  oc_pg_t *pg = oc_pg_new(d);
  if (!pg || oc_pg_connect(pg, errstr, sizeof(errstr)) != OC_OK) {
    fprintf(stderr, "cannot connect to %s: %s\n", d, pg ? errstr : "oom");
    exit(1);
  }
  return pg;
}

static const char *conninfo_value(PGconn *conn, const char *key) {
  static char v[64];
  PQconninfoOption *opts = PQconninfo(conn);
  v[0] = '\0';
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    if (strcmp(o->keyword, key) == 0 && o->val) snprintf(v, sizeof(v), "%s", o->val);
  PQconninfoFree(opts);
  return v;
}

static void test_connect_timeout(void) {
  char d[2048];
  oc_pg_t *pg = connect_or_die(dsn);
  OC_CHECK(oc_pg_ok(pg));
  OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "connect_timeout"), "3");
  oc_pg_destroy(pg);
  kv_dsn(d, sizeof(d), "");
  pg = connect_or_die(d);
  OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "connect_timeout"), "3");
  oc_pg_destroy(pg);
  kv_dsn(d, sizeof(d), "connect_timeout=7");
  pg = connect_or_die(d);
  OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "connect_timeout"), "7");
  oc_pg_destroy(pg);
  if (strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0) {
    snprintf(d, sizeof(d), "%s%sconnect_timeout=9", dsn, strchr(dsn, '?') ? "&" : "?");
    pg = connect_or_die(d);
    OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "connect_timeout"), "9");
    oc_pg_destroy(pg);
    snprintf(d, sizeof(d), "%s%sapplication_name=x", dsn, strchr(dsn, '?') ? "&" : "?");
    pg = connect_or_die(d);
    OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "connect_timeout"), "3");
    OC_CHECK_STR(conninfo_value(oc_pg_conn(pg), "application_name"), "x");
    oc_pg_destroy(pg);
  }
}

/* A connection whose tables land in schema s (created empty). */
static oc_pg_t *fresh_schema(oc_pg_t *admin, const char *s) {
  char sql[256], d[2048], extra[128];
  snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", s);
  q1(admin, sql);
  snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", s);
  q1(admin, sql);
  snprintf(extra, sizeof(extra), "options='-c search_path=%s'", s);
  kv_dsn(d, sizeof(d), extra);
  return connect_or_die(d);
}

static void test_migrate(void) {
  char errstr[512] = "";
  int applied = -1;
  PGresult *res = NULL;
  oc_pg_t *admin = connect_or_die(dsn);
  oc_pg_t *pg = fresh_schema(admin, "storage_fresh");
  const char *first_at;
  OC_CHECK(oc_migrations_count >= 1);
  OC_CHECK_INT(oc_migrate_run(pg, &applied, errstr, sizeof(errstr)), OC_OK);
  if (errstr[0]) fprintf(stderr, "migrate: %s\n", errstr);
  OC_CHECK_INT(applied, oc_migrations_count);
  OC_CHECK_INT(
      oc_pg_exec(admin, &res, "SELECT name FROM storage_fresh.schema_migrations ORDER BY name", 0,
                 NULL, errstr, sizeof(errstr)),
      OC_OK);
  if (res) {
    OC_CHECK_INT(PQntuples(res), oc_migrations_count);
    for (int i = 0; i < PQntuples(res) && (size_t)i < oc_migrations_count; i++)
      OC_CHECK_STR(PQgetvalue(res, i, 0), oc_migrations[i].name);
    PQclear(res);
  }
  /* the schema is there */
  OC_CHECK_STR(q1(admin, "SELECT count(*) FROM storage_fresh.sources"), "0");
  OC_CHECK_STR(q1(admin, "SELECT count(*) FROM storage_fresh.alerts"), "0");
  first_at = q1(admin, "SELECT max(applied_at)::text FROM storage_fresh.schema_migrations");
  OC_CHECK(first_at != NULL);
  char at[64];
  snprintf(at, sizeof(at), "%s", first_at ? first_at : "");
  /* again, on the same and on another connection: nothing to do */
  OC_CHECK_INT(oc_migrate_run(pg, &applied, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(applied, 0);
  oc_pg_destroy(pg);
  {
    char d[2048];
    kv_dsn(d, sizeof(d), "options='-c search_path=storage_fresh'");
    pg = connect_or_die(d);
  }
  OC_CHECK_INT(oc_migrate_run(pg, &applied, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(applied, 0);
  {
    char want[32];
    snprintf(want, sizeof(want), "%zu", oc_migrations_count);
    OC_CHECK_STR(q1(admin, "SELECT count(*) FROM storage_fresh.schema_migrations"), want);
  }
  OC_CHECK_STR(q1(admin, "SELECT max(applied_at)::text FROM storage_fresh.schema_migrations"), at);
  oc_pg_destroy(pg);

  /* The default database of the stack is empty too: migrate it for real. */
  pg = connect_or_die(dsn);
  OC_CHECK_INT(oc_migrate_run(pg, &applied, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(applied, oc_migrations_count);
  OC_CHECK_INT(oc_migrate_run(pg, &applied, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(applied, 0);
  oc_pg_destroy(pg);
  oc_pg_destroy(admin);
}

/* A second runner waits for the advisory lock held by the first. */
static void test_migrate_lock(void) {
  oc_pg_t *admin = connect_or_die(dsn);
  oc_pg_t *tmp = fresh_schema(admin, "storage_locked");
  pid_t child;
  int status = -1;
  double t0;
  oc_pg_destroy(tmp);
  OC_CHECK(q1(admin, "SELECT pg_advisory_lock(122472694050676)::text") != NULL);
  child = fork();
  if (child == 0) {
    char d[2048], errstr[512];
    int applied = -1;
    oc_pg_t *pg;
    kv_dsn(d, sizeof(d), "options='-c search_path=storage_locked'");
    pg = oc_pg_new(d);
    oc_err_t err = oc_migrate_run(pg, &applied, errstr, sizeof(errstr));
    oc_pg_destroy(pg);
    _exit(err == OC_OK && applied == (int)oc_migrations_count ? 0 : 1);
  }
  sleep_ms(800);
  OC_CHECK_INT(waitpid(child, &status, WNOHANG), 0); /* still waiting for the lock */
  OC_CHECK(q1(admin, "SELECT to_regclass('storage_locked.schema_migrations')::text") == NULL);
  OC_CHECK_STR(q1(admin, "SELECT pg_advisory_unlock(122472694050676)::text"), "true");
  t0 = now_s();
  while (waitpid(child, &status, WNOHANG) == 0 && now_s() - t0 < 20)
    sleep_ms(50);
  OC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  OC_CHECK(q1(admin, "SELECT to_regclass('storage_locked.schema_migrations')::text") != NULL);
  oc_pg_destroy(admin);
}

static void check_class(oc_pg_t *pg, const char *sql, oc_err_t want, const char *text) {
  char errstr[512] = "";
  PGresult *res = (PGresult *)1;
  oc_err_t err = oc_pg_exec(pg, &res, sql, 0, NULL, errstr, sizeof(errstr));
  if (err != want) fprintf(stderr, "%s: got %s (%s)\n", sql, oc_err_name(err), errstr);
  OC_CHECK_INT(err, want);
  OC_CHECK(res == NULL);
  if (!strstr(errstr, text)) fprintf(stderr, "errstr \"%s\" lacks \"%s\"\n", errstr, text);
  OC_CHECK(strstr(errstr, text) != NULL);
  OC_CHECK(oc_pg_ok(pg)); /* the session survives statement errors */
}

static void test_errors(void) {
  oc_pg_t *pg = connect_or_die(dsn);
  char errstr[512];
  PGresult *res = NULL;
  check_class(pg, "SELEC 1", OC_ERR_INVALID, "syntax error");
  check_class(pg, "SELEC 1", OC_ERR_INVALID, "SQLSTATE 42601");
  check_class(pg, "SELECT 'x'::int", OC_ERR_INVALID, "22P02");
  OC_CHECK(q1(pg, "CREATE TABLE storage_u (id int PRIMARY KEY)") == NULL);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_u VALUES (1)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  check_class(pg, "INSERT INTO storage_u VALUES (1)", OC_ERR_INVALID, "23505");
  check_class(pg, "DO $$BEGIN RAISE EXCEPTION 'ser' USING ERRCODE = '40001'; END$$",
              OC_ERR_CONFLICT, "40001");
  check_class(pg, "DO $$BEGIN RAISE EXCEPTION 'dl' USING ERRCODE = '40P01'; END$$", OC_ERR_CONFLICT,
              "40P01");
  check_class(pg, "DO $$BEGIN RAISE EXCEPTION 'shut' USING ERRCODE = '57P01'; END$$",
              OC_ERR_UNAVAILABLE, "57P01");
  check_class(pg, "DO $$BEGIN RAISE EXCEPTION 'conns' USING ERRCODE = '53300'; END$$",
              OC_ERR_UNAVAILABLE, "53300");
  check_class(pg, "DO $$BEGIN RAISE EXCEPTION 'conn' USING ERRCODE = '08006'; END$$",
              OC_ERR_UNAVAILABLE, "08006");
  /* parameters: NULL is SQL NULL; binary values keep NUL bytes */
  {
    const char *params[2] = {NULL, "abc"};
    OC_CHECK_INT(oc_pg_exec(pg, &res, "SELECT $1::text IS NULL, $2::text", 2, params, errstr,
                            sizeof(errstr)),
                 OC_OK);
    if (res) {
      OC_CHECK_STR(PQgetvalue(res, 0, 0), "t");
      OC_CHECK_STR(PQgetvalue(res, 0, 1), "abc");
      PQclear(res);
    }
    const char *vals[1] = {"a\0b"};
    int lens[1] = {3}, fmts[1] = {1};
    OC_CHECK_INT(oc_pg_execp(pg, &res, "SELECT octet_length($1::bytea)", 1, vals, lens, fmts,
                             errstr, sizeof(errstr)),
                 OC_OK);
    if (res) {
      OC_CHECK_STR(PQgetvalue(res, 0, 0), "3");
      PQclear(res);
    }
    /* execp without parameters is one statement (extended protocol) */
    OC_CHECK_INT(
        oc_pg_execp(pg, NULL, "SELECT 1; SELECT 2", 0, NULL, NULL, NULL, errstr, sizeof(errstr)),
        OC_ERR_INVALID);
  }
  /* commit of a failed transaction reports it */
  OC_CHECK_INT(oc_pg_begin(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_u VALUES (2)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  OC_CHECK_INT(oc_pg_exec(pg, NULL, "SELEC", 0, NULL, errstr, sizeof(errstr)), OC_ERR_INVALID);
  OC_CHECK_INT(oc_pg_commit(pg, errstr, sizeof(errstr)), OC_ERR_INVALID);
  OC_CHECK(strstr(errstr, "rolled back") != NULL);
  OC_CHECK_STR(q1(pg, "SELECT count(*) FROM storage_u"), "1");
  /* and a good one commits */
  OC_CHECK_INT(oc_pg_begin(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_u VALUES (3)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  OC_CHECK_INT(oc_pg_commit(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_STR(q1(pg, "SELECT count(*) FROM storage_u"), "2");
  oc_pg_destroy(pg);
}

static void test_closed_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  char d[2048], extra[64], errstr[512];
  double t0;
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  snprintf(extra, sizeof(extra), "host=127.0.0.1 port=%d", ntohs(sa.sin_port));
  kv_dsn(d, sizeof(d), extra); /* later settings win */
  oc_pg_t *pg = oc_pg_new(d);
  t0 = now_s();
  OC_CHECK_INT(oc_pg_exec(pg, NULL, "SELECT 1", 0, NULL, errstr, sizeof(errstr)),
               OC_ERR_UNAVAILABLE);
  OC_CHECK(strncmp(errstr, "could not connect to Postgres: ", 31) == 0);
  OC_CHECK(now_s() - t0 < 2.0);
  oc_pg_destroy(pg);
}

/* Ends pg's session from another one and waits until the server has let it go. */
static void terminate(oc_pg_t *admin, oc_pg_t *pg) {
  char sql[160];
  int pid = PQbackendPID(oc_pg_conn(pg));
  double t0 = now_s();
  snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::text", pid);
  OC_CHECK_STR(q1(admin, sql), "true");
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
  while (now_s() - t0 < 10) {
    const char *n = q1(admin, sql);
    if (n && strcmp(n, "0") == 0) break;
    sleep_ms(20);
  }
  sleep_ms(50);
}

static void test_reconnect_idle(void) {
  oc_pg_t *admin = connect_or_die(dsn), *pg = connect_or_die(dsn);
  char pid1[32];
  const char *pid2;
  snprintf(pid1, sizeof(pid1), "%s", q1(pg, "SELECT pg_backend_pid()"));
  terminate(admin, pg);
  /* The closed session is noticed before sending: the statement just works. */
  pid2 = q1(pg, "SELECT pg_backend_pid()");
  OC_CHECK(pid2 != NULL);
  OC_CHECK(pid2 && strcmp(pid1, pid2) != 0);
  OC_CHECK(oc_pg_ok(pg));
  /* Without waiting: at most one failure, classed unavailable, then it works. */
  {
    char sql[128], errstr[512];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(oc_pg_conn(pg)));
    q1(admin, sql);
    oc_err_t err = oc_pg_exec(pg, NULL, "SELECT 1", 0, NULL, errstr, sizeof(errstr));
    if (err) {
      OC_CHECK_INT(err, OC_ERR_UNAVAILABLE);
      err = oc_pg_exec(pg, NULL, "SELECT 1", 0, NULL, errstr, sizeof(errstr));
    }
    OC_CHECK_INT(err, OC_OK);
  }
  oc_pg_destroy(pg);
  oc_pg_destroy(admin);
}

static void test_reconnect_in_transaction(void) {
  oc_pg_t *admin = connect_or_die(dsn), *pg = connect_or_die(dsn);
  char errstr[512];
  OC_CHECK(q1(admin, "CREATE TABLE storage_t (id int PRIMARY KEY)") == NULL);
  OC_CHECK_INT(oc_pg_begin(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_t VALUES (1)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  terminate(admin, pg);
  /* Must not run outside the transaction on a new session. */
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_t VALUES (2)", 0, NULL, errstr, sizeof(errstr)),
      OC_ERR_UNAVAILABLE);
  OC_CHECK(strstr(errstr, "inside a transaction") != NULL);
  OC_CHECK(!oc_pg_ok(pg));
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_t VALUES (3)", 0, NULL, errstr, sizeof(errstr)),
      OC_ERR_UNAVAILABLE);
  OC_CHECK_INT(oc_pg_commit(pg, errstr, sizeof(errstr)), OC_ERR_UNAVAILABLE);
  oc_pg_rollback(pg);
  OC_CHECK_STR(q1(pg, "SELECT count(*) FROM storage_t"), "0");
  OC_CHECK_STR(q1(admin, "SELECT count(*) FROM storage_t"), "0");
  /* Same, ended with rollback: then the work is redone and commits. */
  OC_CHECK_INT(oc_pg_begin(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_t VALUES (1)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  terminate(admin, pg);
  OC_CHECK_INT(oc_pg_commit(pg, errstr, sizeof(errstr)), OC_ERR_UNAVAILABLE);
  oc_pg_rollback(pg);
  OC_CHECK_INT(oc_pg_begin(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_INT(
      oc_pg_exec(pg, NULL, "INSERT INTO storage_t VALUES (1)", 0, NULL, errstr, sizeof(errstr)),
      OC_OK);
  OC_CHECK_INT(oc_pg_commit(pg, errstr, sizeof(errstr)), OC_OK);
  OC_CHECK_STR(q1(admin, "SELECT count(*) FROM storage_t"), "1");
  OC_CHECK(oc_pg_ok(pg));
  oc_pg_destroy(pg);
  oc_pg_destroy(admin);
}

int main(void) {
  static const oc_test_case_t cases[] = {
      OC_TEST(test_connect_timeout),
      OC_TEST(test_migrate),
      OC_TEST(test_migrate_lock),
      OC_TEST(test_errors),
      OC_TEST(test_closed_port),
      OC_TEST(test_reconnect_idle),
      OC_TEST(test_reconnect_in_transaction),
  };
  dsn = getenv("OCELOT_PG_DSN");
  if (!dsn || !dsn[0]) {
    fprintf(stderr, "OCELOT_PG_DSN is not set; run under tests/lib/withstack.py --pg\n");
    return 1;
  }
  return oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
}
