/* sources.c (CLI): the commands that write Ocelot's configuration tables: sources,
 * outputs, rules and log types. Arguments are validated here with the same rules the
 * schema enforces, so an operator gets a message naming the option rather than a
 * constraint name; every write is an upsert, so rerunning a setup script is harmless. */
#include "tools/ocelot/sources.h"
#include "tools/ocelot/upload.h"
#include "tools/ocelot/logtypes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"

#define OC_CLI_MAX_LIST 64            /* log types per source, headers per output */
#define OC_CLI_MAX_NAME 128           /* ids, log type names */
#define OC_CLI_MAX_TEXT 1024          /* labels, buckets, prefixes, URLs, header values */
#define OC_CLI_MAX_RULE (1024 * 1024) /* bytes of one rule file */

/* ---- validation ---- */

static bool oc_cli_has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

static bool oc_cli_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool oc_cli_source_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 128) return false;
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
        (id[0] >= '0' && id[0] <= '9')))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!oc_cli_name_char(id[i])) return false;
  return true;
}

/* A required text option: present, non-empty, printable, at most max bytes. */
static bool oc_cli_text_ok(const char *opt, const char *v, size_t max, bool required) {
  if (!v) {
    if (required) oc_cli_errorf("%s is required", opt);
    return !required;
  }
  if (required && !*v) {
    oc_cli_errorf("%s must not be empty", opt);
    return false;
  }
  if (strlen(v) > max) {
    oc_cli_errorf("%s is too long (%zu bytes; the limit is %zu)", opt, strlen(v), max);
    return false;
  }
  if (oc_cli_has_ctl(v)) {
    oc_cli_errorf("%s must not contain control characters", opt);
    return false;
  }
  return true;
}

static bool oc_cli_logtype_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > OC_CLI_MAX_NAME) return false;
  for (size_t i = 0; i < n; i++)
    if (!oc_cli_name_char(name[i])) return false;
  return true;
}

/* Splits a comma-separated option value into list (strdup'd entries), skipping empty
 * pieces. false after printing the error. */
static bool oc_cli_list_add(const char *opt, const char *value, char **list, size_t *n) {
  const char *p = value;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    while (len && (p[0] == ' ' || p[0] == '\t'))
      p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      len--;
    if (len) {
      if (*n >= OC_CLI_MAX_LIST) {
        oc_cli_errorf("too many values for %s (the limit is %d)", opt, OC_CLI_MAX_LIST);
        return false;
      }
      list[*n] = strndup(p, len);
      if (!list[*n]) {
        oc_cli_errorf("out of memory");
        return false;
      }
      (*n)++;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return true;
}

static void oc_cli_list_free(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
}

/* A Postgres text[] literal: {"a","b"} with " and \ escaped. */
static void oc_cli_pg_array(oc_buf_t *b, char *const *list, size_t n) {
  oc_buf_putc(b, '{');
  for (size_t i = 0; i < n; i++) {
    if (i) oc_buf_putc(b, ',');
    oc_buf_putc(b, '"');
    for (const char *s = list[i]; *s; s++) {
      if (*s == '"' || *s == '\\') oc_buf_putc(b, '\\');
      oc_buf_putc(b, *s);
    }
    oc_buf_putc(b, '"');
  }
  oc_buf_putc(b, '}');
}

/* ---- output ---- */

/* Prints every row of res as a table aligned on the widest cell of each column; empty
 * cells show as "-". Control characters are shown as '?'. */
static void oc_cli_print_table(const char *const *headers, int ncols, const PGresult *res) {
  size_t widths[16] = {0};
  int rows = PQntuples(res);
  if (ncols > 16 || PQnfields(res) < ncols) return;
  for (int c = 0; c < ncols; c++)
    widths[c] = strlen(headers[c]);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < ncols; c++) {
      size_t w = strlen(PQgetvalue(res, r, c));
      if (w == 0) w = 1;
      if (w > widths[c]) widths[c] = w;
    }
  for (int c = 0; c < ncols; c++)
    printf("%-*s%s", c + 1 < ncols ? (int)widths[c] : 0, headers[c], c + 1 < ncols ? "  " : "\n");
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < ncols; c++) {
      const char *v = PQgetvalue(res, r, c);
      size_t len = strlen(v);
      if (len == 0) v = "-", len = 1;
      for (const char *s = v; *s; s++)
        putchar((unsigned char)*s < 0x20 ? '?' : *s);
      if (c + 1 < ncols) printf("%*s", (int)(widths[c] - len + 2), "");
    }
    putchar('\n');
  }
}

/* Runs a query and prints it as a table. */
static int oc_cli_list(oc_cli_t *cli, const char *what, const char *sql, const char *const *headers,
                       int ncols, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  char errstr[1024];
  PGresult *res = NULL;
  oc_pg_t *pg;
  int c, rc = OC_CLI_EXIT_FAIL;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("Usage: ocelot %s\n\nPrints a table of every row.\n", what);
      return OC_CLI_EXIT_OK;
    }
    return oc_cli_bad_option(what, c, argv);
  }
  if (optind < argc) {
    oc_cli_errorf("%s takes no arguments (got \"%s\")", what, argv[optind]);
    return OC_CLI_EXIT_USAGE;
  }
  pg = oc_cli_pg_open(cli, true);
  if (!pg) return OC_CLI_EXIT_FAIL;
  if (oc_pg_exec(pg, &res, sql, 0, NULL, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("could not list (%s): %s", what, errstr);
    goto out;
  }
  oc_cli_print_table(headers, ncols, res);
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  return rc;
}

/* ---- sources ---- */

static void oc_cli_sources_add_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot sources add --id ID --label LABEL --bucket BUCKET [--prefix PREFIX]\n"
          "                          --log-type TYPE [--log-type TYPE...] [--disabled]\n\n"
          "Adds a log source, or updates the one with the same id. Objects of BUCKET whose key\n"
          "starts with PREFIX (the longest matching prefix wins) are parsed as the given log\n"
          "types.\n\n"
          "  --id ID          [A-Za-z0-9][A-Za-z0-9._-]{0,127}; also names topic source.<ID>\n"
          "  --label LABEL    human name, written to p_source_label\n"
          "  --bucket BUCKET  bucket (a directory under OCELOT_OBJECT_ROOT locally)\n"
          "  --prefix PREFIX  key prefix (default: the whole bucket)\n"
          "  --log-type TYPE  log type of the source (repeatable, or comma-separated)\n"
          "  --disabled       store the source disabled\n");
}

static int oc_cli_sources_add(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"id", required_argument, NULL, 'i'},       {"label", required_argument, NULL, 'l'},
      {"bucket", required_argument, NULL, 'b'},   {"prefix", required_argument, NULL, 'p'},
      {"log-type", required_argument, NULL, 't'}, {"disabled", no_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  const char *id = NULL, *label = NULL, *bucket = NULL, *prefix = "";
  char *types[OC_CLI_MAX_LIST];
  size_t ntypes = 0;
  bool enabled = true;
  char errstr[1024];
  oc_buf_t arr;
  PGresult *res = NULL;
  oc_pg_t *pg = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;

  oc_buf_init(&arr);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'i':
        id = optarg;
        break;
      case 'l':
        label = optarg;
        break;
      case 'b':
        bucket = optarg;
        break;
      case 'p':
        prefix = optarg;
        break;
      case 't':
        if (!oc_cli_list_add("--log-type", optarg, types, &ntypes)) goto out;
        break;
      case 'd':
        enabled = false;
        break;
      case 'h':
        oc_cli_sources_add_usage(stdout);
        rc = OC_CLI_EXIT_OK;
        goto out;
      default:
        rc = oc_cli_bad_option("sources add", c, argv);
        goto out;
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!id) {
    oc_cli_errorf("--id is required");
    goto out;
  }
  if (!oc_cli_source_id_ok(id)) {
    oc_cli_errorf(
        "invalid source id \"%s\": it must start with a letter or digit and contain only "
        "letters, digits, '.', '_' and '-' (at most 128 characters)",
        id);
    goto out;
  }
  if (!oc_cli_text_ok("--label", label, OC_CLI_MAX_TEXT, true) ||
      !oc_cli_text_ok("--bucket", bucket, OC_CLI_MAX_TEXT, true) ||
      !oc_cli_text_ok("--prefix", prefix, OC_CLI_MAX_TEXT, false))
    goto out;
  if (strchr(bucket, '/') || strcmp(bucket, ".") == 0 || strcmp(bucket, "..") == 0) {
    oc_cli_errorf("invalid bucket \"%s\": a bucket name cannot contain '/' or be \".\" or \"..\"",
                  bucket);
    goto out;
  }
  if (prefix[0] == '/') {
    oc_cli_errorf("invalid prefix \"%s\": keys are relative, drop the leading '/'", prefix);
    goto out;
  }
  if (ntypes == 0) {
    oc_cli_errorf("at least one --log-type is required");
    goto out;
  }
  for (size_t i = 0; i < ntypes; i++) {
    if (!oc_cli_logtype_ok(types[i])) {
      oc_cli_errorf("invalid log type \"%s\": use letters, digits, '.', '_' and '-' (at most %d)",
                    types[i], OC_CLI_MAX_NAME);
      goto out;
    }
  }
  oc_cli_pg_array(&arr, types, ntypes);
  if (!oc_buf_ok(&arr)) {
    oc_cli_errorf("out of memory");
    goto out;
  }

  rc = OC_CLI_EXIT_FAIL;
  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  {
    const char *params[6] = {id, label, bucket, prefix, arr.data, enabled ? "true" : "false"};
    oc_err_t err = oc_pg_exec(
        pg, &res,
        "INSERT INTO sources (id, label, bucket, prefix, log_types, enabled)"
        " VALUES ($1, $2, $3, $4, $5::text[], $6::boolean)"
        " ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, bucket = EXCLUDED.bucket,"
        " prefix = EXCLUDED.prefix, log_types = EXCLUDED.log_types,"
        " enabled = EXCLUDED.enabled, updated_at = now()"
        " RETURNING (xmax = 0) AS inserted",
        6, params, errstr, sizeof(errstr));
    if (err != OC_OK) {
      if (strstr(errstr, "23505")) {
        /* UNIQUE (bucket, prefix): name the source that already has them. */
        const char *p2[3] = {bucket, prefix, id};
        PGresult *owner = NULL;
        char why[512];
        if (oc_pg_exec(pg, &owner,
                       "SELECT id FROM sources WHERE bucket = $1 AND prefix = $2 AND id <> $3", 3,
                       p2, why, sizeof(why)) == OC_OK &&
            PQntuples(owner) > 0) {
          oc_cli_errorf("bucket \"%s\" with prefix \"%s\" already belongs to source \"%s\"", bucket,
                        prefix, PQgetvalue(owner, 0, 0));
          PQclear(owner);
          goto out;
        }
        PQclear(owner);
      }
      oc_cli_errorf("could not store source \"%s\": %s", id, errstr);
      goto out;
    }
  }
  printf("%s source %s (bucket %s, prefix \"%s\", log types ",
         strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "added" : "updated", id, bucket, prefix);
  for (size_t i = 0; i < ntypes; i++)
    printf("%s%s", i ? "," : "", types[i]);
  printf(")%s\n", enabled ? "" : ", disabled");
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  oc_buf_deinit(&arr);
  oc_cli_list_free(types, ntypes);
  return rc;
}

static int oc_cli_sources_list(oc_cli_t *cli, int argc, char **argv) {
  static const char *const headers[] = {"ID", "LABEL", "BUCKET", "PREFIX", "LOG TYPES", "ENABLED"};
  return oc_cli_list(cli, "sources list",
                     "SELECT id, label, bucket, prefix, array_to_string(log_types, ','),"
                     " CASE WHEN enabled THEN 'yes' ELSE 'no' END FROM sources ORDER BY id",
                     headers, 6, argc, argv);
}

/* `<group> remove --id ID` for a table keyed by id. */
static int oc_cli_remove(oc_cli_t *cli, const char *group, const char *table, const char *noun,
                         int argc, char **argv) {
  static const struct option opts[] = {
      {"id", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *id = NULL;
  char errstr[1024], sql[128], what[64];
  PGresult *res = NULL;
  oc_pg_t *pg = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;
  snprintf(what, sizeof(what), "%s remove", group);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'i') {
      id = optarg;
    } else if (c == 'h') {
      printf("Usage: ocelot %s --id ID\n\nDeletes the %s with that id.\n", what, noun);
      return OC_CLI_EXIT_OK;
    } else {
      return oc_cli_bad_option(what, c, argv);
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    return OC_CLI_EXIT_USAGE;
  }
  if (!oc_cli_text_ok("--id", id, OC_CLI_MAX_TEXT, true)) return OC_CLI_EXIT_USAGE;
  rc = OC_CLI_EXIT_FAIL;
  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = $1", table);
  if (oc_pg_exec(pg, &res, sql, 1, &id, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("could not remove %s \"%s\": %s", noun, id, errstr);
    goto out;
  }
  if (strcmp(PQcmdTuples(res), "0") == 0) {
    oc_cli_errorf("%s \"%s\" does not exist", noun, id);
    goto out;
  }
  printf("removed %s %s\n", noun, id);
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  return rc;
}

static int oc_cli_sources_remove(oc_cli_t *cli, int argc, char **argv) {
  return oc_cli_remove(cli, "sources", "sources", "source", argc, argv);
}

int oc_cli_sources(oc_cli_t *cli, int argc, char **argv) {
  static const oc_cli_cmd_t cmds[] = {
      {"add", oc_cli_sources_add, "add or update a source"},
      {"list", oc_cli_sources_list, "print every source"},
      {"remove", oc_cli_sources_remove, "delete a source"},
  };
  return oc_cli_dispatch(cli, "sources", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}

/* ---- outputs ---- */

static bool oc_cli_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void oc_cli_outputs_add_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot outputs add --id ID --type webhook --name NAME --url URL\n"
          "                          [--timeout-ms N] [--header NAME:VALUE...] [--disabled]\n\n"
          "Adds an alert destination, or updates the one with the same id.\n\n"
          "  --id ID            [A-Za-z0-9][A-Za-z0-9._-]{0,127}; rules name it in Destinations\n"
          "  --type webhook     the kind of destination (this version: webhook)\n"
          "  --name NAME        human name\n"
          "  --url URL          http:// or https:// endpoint receiving a POST per alert\n"
          "  --timeout-ms N     request timeout (default 5000)\n"
          "  --header K:V       extra request header (repeatable)\n"
          "  --disabled         store the output disabled\n");
}

static int oc_cli_outputs_add(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                       {"type", required_argument, NULL, 't'},
                                       {"name", required_argument, NULL, 'n'},
                                       {"url", required_argument, NULL, 'u'},
                                       {"timeout-ms", required_argument, NULL, 'T'},
                                       {"header", required_argument, NULL, 'H'},
                                       {"disabled", no_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *id = NULL, *type = NULL, *name = NULL, *url = NULL;
  const char *hdrs[OC_CLI_MAX_LIST];
  size_t nhdrs = 0;
  long long timeout_ms = 5000;
  bool enabled = true;
  char errstr[1024];
  oc_buf_t conf;
  PGresult *res = NULL;
  oc_pg_t *pg = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;

  oc_buf_init(&conf);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'i':
        id = optarg;
        break;
      case 't':
        type = optarg;
        break;
      case 'n':
        name = optarg;
        break;
      case 'u':
        url = optarg;
        break;
      case 'T':
        if (!oc_cli_parse_ll("--timeout-ms", optarg, 1, 600000, &timeout_ms)) goto out;
        break;
      case 'H':
        if (nhdrs >= OC_CLI_MAX_LIST) {
          oc_cli_errorf("too many --header options (the limit is %d)", OC_CLI_MAX_LIST);
          goto out;
        }
        hdrs[nhdrs++] = optarg;
        break;
      case 'd':
        enabled = false;
        break;
      case 'h':
        oc_cli_outputs_add_usage(stdout);
        rc = OC_CLI_EXIT_OK;
        goto out;
      default:
        rc = oc_cli_bad_option("outputs add", c, argv);
        goto out;
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!id) {
    oc_cli_errorf("--id is required");
    goto out;
  }
  if (!oc_cli_source_id_ok(id)) {
    oc_cli_errorf(
        "invalid output id \"%s\": it must start with a letter or digit and contain only "
        "letters, digits, '.', '_' and '-' (at most 128 characters)",
        id);
    goto out;
  }
  if (!type) type = "webhook";
  if (strcmp(type, "webhook") != 0) {
    oc_cli_errorf("unsupported output type \"%s\" (supported: webhook)", type);
    goto out;
  }
  if (!oc_cli_text_ok("--name", name, OC_CLI_MAX_TEXT, true) ||
      !oc_cli_text_ok("--url", url, OC_CLI_MAX_TEXT, true))
    goto out;
  if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
    oc_cli_errorf("invalid --url \"%s\": it must start with http:// or https://", url);
    goto out;
  }

  oc_buf_puts(&conf, "{\"url\":");
  oc_json_write_string(&conf, url, strlen(url));
  oc_buf_appendf(&conf, ",\"timeout_ms\":%lld,\"headers\":{", timeout_ms);
  for (size_t i = 0; i < nhdrs; i++) {
    const char *colon = strchr(hdrs[i], ':');
    const char *v;
    if (!colon || colon == hdrs[i]) {
      oc_cli_errorf("invalid --header \"%s\": use NAME:VALUE", hdrs[i]);
      goto out;
    }
    for (const char *k = hdrs[i]; k < colon; k++) {
      if (!oc_cli_token_char(*k)) {
        oc_cli_errorf("invalid --header \"%s\": the name may not contain '%c'", hdrs[i], *k);
        goto out;
      }
    }
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    if (!oc_cli_text_ok("--header", v, OC_CLI_MAX_TEXT, false)) goto out;
    if (i) oc_buf_putc(&conf, ',');
    oc_json_write_string(&conf, hdrs[i], (size_t)(colon - hdrs[i]));
    oc_buf_putc(&conf, ':');
    oc_json_write_string(&conf, v, strlen(v));
  }
  oc_buf_puts(&conf, "}}");
  if (!oc_buf_ok(&conf)) {
    oc_cli_errorf("out of memory");
    goto out;
  }

  rc = OC_CLI_EXIT_FAIL;
  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  {
    const char *params[5] = {id, type, name, conf.data, enabled ? "true" : "false"};
    if (oc_pg_exec(pg, &res,
                   "INSERT INTO outputs (id, type, name, config, enabled)"
                   " VALUES ($1, $2, $3, $4::jsonb, $5::boolean)"
                   " ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, name = EXCLUDED.name,"
                   " config = EXCLUDED.config, enabled = EXCLUDED.enabled"
                   " RETURNING (xmax = 0) AS inserted",
                   5, params, errstr, sizeof(errstr)) != OC_OK) {
      oc_cli_errorf("could not store output \"%s\": %s", id, errstr);
      goto out;
    }
  }
  printf("%s output %s (%s %s)%s\n", strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "added" : "updated",
         id, type, url, enabled ? "" : ", disabled");
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  oc_buf_deinit(&conf);
  return rc;
}

static int oc_cli_outputs_list(oc_cli_t *cli, int argc, char **argv) {
  static const char *const headers[] = {"ID", "TYPE", "NAME", "ENABLED", "TIMEOUT MS", "URL"};
  return oc_cli_list(cli, "outputs list",
                     "SELECT id, type, name, CASE WHEN enabled THEN 'yes' ELSE 'no' END,"
                     " coalesce(config->>'timeout_ms', ''), coalesce(config->>'url', '')"
                     " FROM outputs ORDER BY id",
                     headers, 6, argc, argv);
}

static int oc_cli_outputs_remove(oc_cli_t *cli, int argc, char **argv) {
  return oc_cli_remove(cli, "outputs", "outputs", "output", argc, argv);
}

int oc_cli_outputs(oc_cli_t *cli, int argc, char **argv) {
  static const oc_cli_cmd_t cmds[] = {
      {"add", oc_cli_outputs_add, "add or update an alert destination"},
      {"list", oc_cli_outputs_list, "print every destination"},
      {"remove", oc_cli_outputs_remove, "delete a destination"},
  };
  return oc_cli_dispatch(cli, "outputs", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}

/* ---- rules ---- */

/* The value of a top-level "Name: value" line of a YAML document (no indentation), with
 * quotes and a trailing comment removed, copied into out. false when absent. */
static bool oc_cli_yaml_top(const char *text, const char *name, char *out, size_t out_size) {
  size_t nlen = strlen(name);
  const char *line = text;
  while (line && *line) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (len > nlen && strncmp(line, name, nlen) == 0 && line[nlen] == ':') {
      const char *v = line + nlen + 1, *end = line + len;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
      if (v < end && (*v == '"' || *v == '\'')) {
        const char *close = memchr(v + 1, *v, (size_t)(end - v - 1));
        if (close) end = close;
        v++;
      } else {
        for (const char *h = v; h < end; h++)
          if (*h == '#' && (h == v || h[-1] == ' ' || h[-1] == '\t')) {
            end = h;
            break;
          }
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
          end--;
      }
      if ((size_t)(end - v) >= out_size) return false;
      memcpy(out, v, (size_t)(end - v));
      out[end - v] = '\0';
      return true;
    }
    line = eol ? eol + 1 : NULL;
  }
  return false;
}

static void oc_cli_rules_put_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot rules put FILE.yml [--id ID]\n\n"
          "Stores a YAML detection in the rules table (the rules-engine loads it from there).\n"
          "The id comes from --id or from the file's RuleID: line. Storing an existing id\n"
          "replaces its body and increments its version. Enabled: false stores it disabled.\n");
}

static int oc_cli_rules_put(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"id", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *id = NULL, *path;
  char file_id[OC_CLI_MAX_TEXT + 1], enabled_text[32], errstr[1024];
  bool enabled = true;
  char *body = NULL;
  size_t len = 0;
  PGresult *res = NULL;
  oc_pg_t *pg = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'i') {
      id = optarg;
    } else if (c == 'h') {
      oc_cli_rules_put_usage(stdout);
      return OC_CLI_EXIT_OK;
    } else {
      return oc_cli_bad_option("rules put", c, argv);
    }
  }
  if (argc - optind != 1) {
    oc_cli_errorf("rules put needs exactly one file");
    return OC_CLI_EXIT_USAGE;
  }
  path = argv[optind];
  rc = OC_CLI_EXIT_FAIL;
  body = oc_cli_read_file(path, OC_CLI_MAX_RULE, &len);
  if (!body) goto out;
  if (memchr(body, '\0', len) || oc_utf8_valid_prefix(body, len) != len) {
    oc_cli_errorf("\"%s\" is not UTF-8 text", path);
    goto out;
  }
  if (oc_cli_yaml_top(body, "RuleID", file_id, sizeof(file_id)) && *file_id) {
    if (id && strcmp(id, file_id) != 0)
      oc_cli_errorf("warning: --id \"%s\" overrides RuleID \"%s\" of \"%s\"", id, file_id, path);
    if (!id) id = file_id;
  }
  if (!id) {
    oc_cli_errorf("\"%s\" has no RuleID: line; give the id with --id", path);
    rc = OC_CLI_EXIT_USAGE;
    goto out;
  }
  if (!oc_cli_text_ok("rule id", id, OC_CLI_MAX_NAME * 2, true)) goto out;
  if (oc_cli_yaml_top(body, "Enabled", enabled_text, sizeof(enabled_text))) {
    if (strcasecmp(enabled_text, "false") == 0 || strcasecmp(enabled_text, "no") == 0 ||
        strcasecmp(enabled_text, "off") == 0)
      enabled = false;
  }

  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  {
    const char *params[3] = {id, body, enabled ? "true" : "false"};
    if (oc_pg_exec(
            pg, &res,
            "INSERT INTO rules (id, kind, body, enabled) VALUES ($1, 'yaml', $2, $3::boolean)"
            " ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, kind = EXCLUDED.kind,"
            " enabled = EXCLUDED.enabled, version = rules.version + 1, updated_at = now()"
            " RETURNING version",
            3, params, errstr, sizeof(errstr)) != OC_OK) {
      oc_cli_errorf("could not store rule \"%s\": %s", id, errstr);
      goto out;
    }
  }
  printf("stored rule %s version %s%s\n", id, PQgetvalue(res, 0, 0), enabled ? "" : " (disabled)");
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  free(body);
  return rc;
}

static int oc_cli_rules_list(oc_cli_t *cli, int argc, char **argv) {
  static const char *const headers[] = {"ID", "VERSION", "KIND", "ENABLED", "UPDATED"};
  return oc_cli_list(cli, "rules list",
                     "SELECT id, version::text, kind, CASE WHEN enabled THEN 'yes' ELSE 'no' END,"
                     " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                     " FROM rules ORDER BY id",
                     headers, 5, argc, argv);
}

static int oc_cli_rules_remove(oc_cli_t *cli, int argc, char **argv) {
  return oc_cli_remove(cli, "rules", "rules", "rule", argc, argv);
}

int oc_cli_rules(oc_cli_t *cli, int argc, char **argv) {
  static const oc_cli_cmd_t cmds[] = {
      {"put", oc_cli_rules_put, "store a YAML detection (new version on update)"},
      {"list", oc_cli_rules_list, "print every stored rule"},
      {"remove", oc_cli_rules_remove, "delete a stored rule"},
      {"upload", oc_cli_rules_upload, "store a Panther pack, versioned (engines reload it)"},
  };
  return oc_cli_dispatch(cli, "rules", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}

/* ---- log types ---- */

static void oc_cli_logtypes_add_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot logtypes add --name NAME [--time-field PATH] [--required a,b...]\n\n"
          "Adds a custom JSON log type, or updates the one with the same name.\n\n"
          "  --name NAME        e.g. Custom.Firewall (letters, digits, '.', '_', '-')\n"
          "  --time-field PATH  dotted path of the event time (default: the parse time)\n"
          "  --required LIST    fields every event must have (comma-separated, repeatable)\n");
}

static int oc_cli_logtypes_add(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"time-field", required_argument, NULL, 't'},
                                       {"required", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = NULL, *time_field = NULL;
  char *req[OC_CLI_MAX_LIST];
  size_t nreq = 0;
  char errstr[1024];
  oc_buf_t arr;
  PGresult *res = NULL;
  oc_pg_t *pg = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;

  oc_buf_init(&arr);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'n':
        name = optarg;
        break;
      case 't':
        time_field = optarg;
        break;
      case 'r':
        if (!oc_cli_list_add("--required", optarg, req, &nreq)) goto out;
        break;
      case 'h':
        oc_cli_logtypes_add_usage(stdout);
        rc = OC_CLI_EXIT_OK;
        goto out;
      default:
        rc = oc_cli_bad_option("logtypes add", c, argv);
        goto out;
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!name) {
    oc_cli_errorf("--name is required");
    goto out;
  }
  if (!oc_cli_logtype_ok(name)) {
    oc_cli_errorf(
        "invalid log type name \"%s\": use letters, digits, '.', '_' and '-' (at most %d)", name,
        OC_CLI_MAX_NAME);
    goto out;
  }
  if (time_field && !oc_cli_text_ok("--time-field", time_field, OC_CLI_MAX_TEXT, true)) goto out;
  for (size_t i = 0; i < nreq; i++)
    if (!oc_cli_text_ok("--required", req[i], OC_CLI_MAX_TEXT, true)) goto out;
  oc_cli_pg_array(&arr, req, nreq);
  if (!oc_buf_ok(&arr)) {
    oc_cli_errorf("out of memory");
    goto out;
  }

  rc = OC_CLI_EXIT_FAIL;
  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  {
    const char *params[3] = {name, time_field, arr.data};
    if (oc_pg_exec(pg, &res,
                   "INSERT INTO log_types (name, event_time_field, required_fields)"
                   " VALUES ($1, $2, $3::text[])"
                   " ON CONFLICT (name) DO UPDATE SET event_time_field = EXCLUDED.event_time_field,"
                   " required_fields = EXCLUDED.required_fields, updated_at = now()"
                   " RETURNING (xmax = 0) AS inserted",
                   3, params, errstr, sizeof(errstr)) != OC_OK) {
      oc_cli_errorf("could not store log type \"%s\": %s", name, errstr);
      goto out;
    }
  }
  printf("%s log type %s (time field %s)\n",
         strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "added" : "updated", name,
         time_field ? time_field : "none: parse time");
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  oc_buf_deinit(&arr);
  oc_cli_list_free(req, nreq);
  return rc;
}

static int oc_cli_logtypes_list(oc_cli_t *cli, int argc, char **argv) {
  static const char *const headers[] = {"NAME", "TIME FIELD", "REQUIRED"};
  return oc_cli_list(cli, "logtypes list",
                     "SELECT name, coalesce(event_time_field, ''),"
                     " array_to_string(required_fields, ',') FROM log_types ORDER BY name",
                     headers, 3, argc, argv);
}

int oc_cli_logtypes(oc_cli_t *cli, int argc, char **argv) {
  static const oc_cli_cmd_t cmds[] = {
      {"add", oc_cli_logtypes_add, "add or update a custom JSON log type (legacy columns)"},
      {"put", oc_cli_logtypes_put, "store a log-type schema file in the database"},
      {"test", oc_cli_logtypes_test, "run sample lines through schemas, print the events"},
      {"list", oc_cli_logtypes_list, "print every custom log type"},
  };
  return oc_cli_dispatch(cli, "logtypes", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
