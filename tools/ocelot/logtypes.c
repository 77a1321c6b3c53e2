/* logtypes.c: `ocelot logtypes test` and `ocelot logtypes put` — what a team uses while
 * writing a custom schema: run sample lines through exactly the parsers, classifier and
 * normalization the log-processor uses and print each normalized event or the reason a
 * line was rejected; then store the schema in the log_types table. */
#include "tools/ocelot/logtypes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/reader.h"
#include "common/timeutil.h"
#include "services/log-processor/classify.h"
#include "services/log-processor/indicators.h"
#include "services/log-processor/logtypes.h"
#include "services/log-processor/normalize.h"
#include "services/log-processor/records.h"

#define OC_CLI_LT_MAX_LINE (1024 * 1024)
#define OC_CLI_LT_DEPTH 64

static void oc_cli_lt_test_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot logtypes test [options] <schema.yml|LogType>... <sample-file>\n\n"
          "Runs every line of the sample file (plain, gzip or zstd; JSON lines or a\n"
          "{\"Records\":[...]} file) through the given log types as the log-processor does\n"
          "and prints each normalized event as a JSON line, or `line N: rejected (reason): why`.\n"
          "With several types each line is classified among them. A LogType name is looked up\n"
          "among the managed schemas (OCELOT_SCHEMAS_DIR).\n\n"
          "Options:\n"
          "  --parse-time RFC3339  p_parse_time (and the reference for year-less times);\n"
          "                        default: now\n"
          "  --source ID           p_source_id and p_source_label (default: test)\n"
          "  --quiet               print only rejections and the summary\n"
          "Exit status: 0 when every line was accepted, 1 when some were rejected, 2 on a\n"
          "usage error or a schema that does not load.\n");
}

static bool oc_cli_lt_is_file(const char *a) {
  size_t n = strlen(a);
  return strchr(a, '/') || (n > 4 && strcmp(a + n - 4, ".yml") == 0) ||
         (n > 5 && strcmp(a + n - 5, ".yaml") == 0);
}

typedef struct {
  oc_classifier_t *cls;
  oc_arena_t arena;
  oc_indset_t ind;
  oc_buf_t out;
  const char *source;
  const char *object;
  int64_t parse_us;
  bool quiet;
  uint64_t events, rejected;
} oc_cli_lt_run_t;

static const char *const oc_cli_lt_reasons[] = {
    [OC_CLS_OK] = "ok",
    [OC_CLS_SKIP] = "skip",
    [OC_CLS_INVALID_UTF8] = "invalid_utf8",
    [OC_CLS_INVALID_JSON] = "invalid_json",
    [OC_CLS_MAX_DEPTH] = "max_depth_exceeded",
    [OC_CLS_NOT_OBJECT] = "not_an_object",
    [OC_CLS_BAD_TIME] = "invalid_event_time",
    [OC_CLS_NO_TYPE] = "no_matching_log_type",
    [OC_CLS_NOMEM] = "out_of_memory",
};

static int oc_cli_lt_line(oc_cli_lt_run_t *t, const char *line, size_t len, uint64_t no,
                          bool records) {
  oc_cls_out_t co;
  char rowid[33];
  oc_arena_reset(&t->arena);
  oc_indset_reset(&t->ind);
  oc_cls_result_t r =
      oc_classifier_line(t->cls, &t->arena, line, len, records, t->parse_us, &t->ind, &co);
  if (r == OC_CLS_SKIP) return 0;
  if (r == OC_CLS_NOMEM) {
    oc_cli_errorf("out of memory");
    return -1;
  }
  if (r != OC_CLS_OK) {
    t->rejected++;
    printf("line %llu: rejected (%s): %s\n", (unsigned long long)no, oc_cli_lt_reasons[r],
           co.error);
    return 0;
  }
  t->events++;
  if (t->quiet) return 0;
  oc_normalize_row_id(rowid, t->source, t->object, strlen(t->object), "", no);
  oc_norm_meta_t meta = {.log_type = co.type->name,
                         .row_id = rowid,
                         .event_time_us = co.event_time_us,
                         .parse_time_us = t->parse_us,
                         .source_id = t->source,
                         .source_label = t->source,
                         .indicators = &t->ind,
                         .patches = co.patches};
  oc_normalize_event(&t->out, co.ev, &meta);
  if (!oc_buf_ok(&t->out)) {
    oc_cli_errorf("out of memory");
    return -1;
  }
  fwrite(t->out.data, 1, t->out.len, stdout);
  fputc('\n', stdout);
  return 0;
}

int oc_cli_logtypes_test(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"parse-time", required_argument, NULL, 'p'},
                                       {"source", required_argument, NULL, 's'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  oc_cli_lt_run_t t = {.source = "test"};
  oc_logtypes_t *own = NULL, *managed = NULL;
  const oc_logtype_t *types[OC_CLASSIFY_MAX_TYPES];
  size_t ntypes = 0;
  oc_reader_t *r = NULL;
  oc_records_t rs;
  bool have_rs = false;
  char errstr[1024];
  int c, rc = OC_CLI_EXIT_USAGE;

  (void)cli;
  t.parse_us = oc_now_us();
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'p':
        if (!oc_time_parse_rfc3339(optarg, strlen(optarg), &t.parse_us)) {
          oc_cli_errorf("--parse-time: \"%s\" is not an RFC 3339 time", optarg);
          return OC_CLI_EXIT_USAGE;
        }
        break;
      case 's':
        t.source = optarg;
        break;
      case 'q':
        t.quiet = true;
        break;
      case 'h':
        oc_cli_lt_test_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("logtypes test", c, argv);
    }
  }
  if (argc - optind < 2) {
    oc_cli_lt_test_usage(stderr);
    return OC_CLI_EXIT_USAGE;
  }
  own = oc_logtypes_new(NULL);
  oc_arena_init(&t.arena, 256 * 1024);
  oc_indset_init(&t.ind);
  oc_buf_init(&t.out);
  if (!own) goto nomem;
  for (int i = optind; i < argc - 1; i++) {
    const oc_logtype_t *lt;
    if (ntypes == OC_CLASSIFY_MAX_TYPES) {
      oc_cli_errorf("at most %d log types", OC_CLASSIFY_MAX_TYPES);
      goto out;
    }
    if (oc_cli_lt_is_file(argv[i])) {
      oc_schema_t *s = oc_schema_load_file(argv[i], errstr, sizeof(errstr));
      if (!s) {
        oc_cli_errorf("%s", errstr);
        goto out;
      }
      char name[160];
      snprintf(name, sizeof(name), "%s", s->name);
      if (oc_logtypes_add_schema(own, s, false, errstr, sizeof(errstr)) != OC_OK) {
        oc_cli_errorf("%s", errstr);
        goto out;
      }
      lt = oc_logtypes_find(own, name);
    } else {
      if (!managed) {
        size_t nfailed = 0;
        managed = oc_logtypes_new(NULL);
        if (!managed) goto nomem;
        if (oc_logtypes_load_dir(managed, oc_logtypes_default_dir(), true, NULL, &nfailed, errstr,
                                 sizeof(errstr)) != OC_OK) {
          oc_cli_errorf("%s", errstr);
          goto out;
        }
      }
      lt = oc_logtypes_find(managed, argv[i]);
      if (!lt) {
        oc_cli_errorf("unknown log type \"%s\" (not in %s)", argv[i], oc_logtypes_default_dir());
        goto out;
      }
    }
    types[ntypes++] = lt;
  }
  t.cls = oc_classifier_new(OC_CLI_LT_DEPTH, errstr, sizeof(errstr));
  if (!t.cls || oc_classifier_begin(t.cls, types, ntypes, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  const char *path = argv[argc - 1];
  const char *base = strrchr(path, '/');
  t.object = base ? base + 1 : path;
  r = oc_reader_open(path, OC_CLI_LT_MAX_LINE, errstr, sizeof(errstr));
  if (!r) {
    oc_cli_errorf("%s", errstr);
    rc = OC_CLI_EXIT_FAIL;
    goto out;
  }
  bool json = false;
  for (size_t i = 0; i < ntypes; i++)
    json |= types[i]->schema->parser.kind == OC_PARSER_JSON;
  bool records = json && oc_records_detect(r);
  oc_records_init(&rs, r, OC_CLI_LT_MAX_LINE);
  have_rs = true;
  rc = OC_CLI_EXIT_FAIL;
  for (;;) {
    const char *line;
    size_t len;
    uint64_t no;
    oc_err_t e = records ? oc_records_next(&rs, &line, &len) : oc_reader_next_line(r, &line, &len);
    no = records ? oc_records_index(&rs) : oc_reader_line_no(r);
    if (e == OC_ERR_EOF) break;
    if (e == OC_ERR_LIMIT) {
      t.rejected++;
      printf("line %llu: rejected (line_too_long): longer than %d bytes\n", (unsigned long long)no,
             OC_CLI_LT_MAX_LINE);
      continue;
    }
    if (e != OC_OK) {
      t.rejected++;
      printf("line %llu: rejected (corrupt_input): %s\n", (unsigned long long)no + 1,
             records ? oc_records_error(&rs) : oc_reader_error(r));
      break;
    }
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t'))
      k++;
    if (!records && k == len) continue; /* blank */
    if (oc_cli_lt_line(&t, line, len, no, records) != 0) goto out;
  }
  fprintf(stderr, "%llu events, %llu rejected\n", (unsigned long long)t.events,
          (unsigned long long)t.rejected);
  rc = t.rejected ? OC_CLI_EXIT_FAIL : OC_CLI_EXIT_OK;
  goto out;
nomem:
  oc_cli_errorf("out of memory");
  rc = OC_CLI_EXIT_FAIL;
out:
  if (have_rs) oc_records_deinit(&rs);
  oc_reader_destroy(r);
  oc_classifier_destroy(t.cls);
  oc_buf_deinit(&t.out);
  oc_indset_deinit(&t.ind);
  oc_arena_deinit(&t.arena);
  oc_logtypes_destroy(own);
  oc_logtypes_destroy(managed);
  return rc;
}

int oc_cli_logtypes_put(oc_cli_t *cli, int argc, char **argv) {
  char errstr[1024];
  oc_pg_t *pg = NULL;
  PGresult *res = NULL;
  FILE *f = NULL;
  char *text = NULL;
  size_t len = 0, cap = 0;
  int rc = OC_CLI_EXIT_USAGE;
  if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fprintf(argc == 2 ? stdout : stderr,
            "Usage: ocelot logtypes put <schema.yml>\n\n"
            "Compiles the schema (refusing it with file, line and reason when it does not) and\n"
            "stores it in the log_types table under its name; processors pick it up at their next\n"
            "refresh. Managed type names cannot be replaced.\n");
    return argc == 2 ? OC_CLI_EXIT_OK : OC_CLI_EXIT_USAGE;
  }
  oc_schema_t *s = oc_schema_load_file(argv[1], errstr, sizeof(errstr));
  if (!s) {
    oc_cli_errorf("%s", errstr);
    return OC_CLI_EXIT_USAGE;
  }
  f = fopen(argv[1], "rb");
  if (!f) {
    oc_cli_errorf("could not open \"%s\"", argv[1]);
    goto out;
  }
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 16384;
      char *g = realloc(text, cap);
      if (!g) goto out;
      text = g;
    }
    size_t got = fread(text + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  text[len] = '\0';
  pg = oc_cli_pg_open(cli, true);
  rc = OC_CLI_EXIT_FAIL;
  if (!pg) goto out;
  {
    const char *params[2] = {s->name, text};
    if (oc_pg_exec(pg, &res,
                   "INSERT INTO log_types (name, schema) VALUES ($1, $2) ON CONFLICT (name) DO"
                   " UPDATE SET schema = EXCLUDED.schema, event_time_field = NULL,"
                   " required_fields = '{}', updated_at = now()",
                   2, params, errstr, sizeof(errstr)) != OC_OK) {
      oc_cli_errorf("could not store log type \"%s\": %s", s->name, errstr);
      goto out;
    }
  }
  printf("stored log type %s\n", s->name);
  rc = OC_CLI_EXIT_OK;
out:
  PQclear(res);
  oc_pg_destroy(pg);
  if (f) fclose(f);
  free(text);
  oc_schema_destroy(s);
  return rc;
}
