/* testcmd.c (CLI): `ocelot test <pack-dir>` (testcmd.h).
 *
 * For each rule (and scheduled rule) of the pack that passes the filters, each test's
 * Log becomes a PantherEvent (with the data model of the Log's p_log_type, else of the
 * first of the rule's LogTypes that has one), the Mocks replace names in the rule's
 * module with MagicMock(return_value=...), the InlineFilters run natively, then rule()
 * and, on a match, every auxiliary function. A test passes when rule() returned the
 * ExpectedResult and nothing raised. A file that did not load and a rule with fewer
 * tests than --minimum-tests count as failures too. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tools/ocelot/testcmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "services/rules-engine/detection.h"
#include "services/rules-engine/pack.h"
#include "services/rules-engine/pyevent.h"
#include "services/rules-engine/pycache.h"
#include "services/rules-engine/pyhost.h"
#include "services/rules-engine/pyrule.h"

#define OC_TEST_MAX_FILTERS 32

typedef struct {
  const char *key;
  char *values; /* comma-separated alternatives */
} oc_test_filter_t;

typedef struct {
  oc_test_filter_t filters[OC_TEST_MAX_FILTERS];
  size_t nfilters;
  long long min_tests;
  long long budget_ms;
  bool json, verbose;
  size_t passed, failed;
  PyObject *magicmock, *json_loads;
  oc_buf_t line;
} oc_test_run_t;

static void oc_test_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot test <pack-dir> [options]\n\n"
          "Runs the Tests of every Python detection in a Panther detection pack.\n\n"
          "Options:\n"
          "  --filter KEY=V1[,V2]   only items whose KEY has one of the values (repeatable; all\n"
          "                         must hold). KEY: RuleID, LogTypes, Severity, Tags,\n"
          "                         AnalysisType, Enabled\n"
          "  --minimum-tests N      a rule with fewer than N tests fails\n"
          "  --budget-ms N          time budget of one rule on one event (default 1000)\n"
          "  --json                 one JSON line per test (rule, test, passed, log, matched,\n"
          "                         title, dedup, severity, ...) instead of text\n"
          "  -v, --verbose          print passing tests too\n\n"
          "panther_detection_helpers.caching works in tests (Mocks can replace its functions):\n"
          "with OCELOT_REDIS_URL set it uses that Redis, otherwise an in-process store that\n"
          "lives for the run (tests see each other's state, in file order).\n\n"
          "Prints each failure, then \"N passed, N failed\". Exits 1 when anything failed.\n");
}

/* ---- filters ----------------------------------------------------------------------- */

static bool oc_test_value_in(const char *values, const char *v) {
  const char *p = values;
  size_t vlen = strlen(v);
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n == vlen && strncasecmp(p, v, n) == 0) return true;
    p += n;
    if (*p == ',') p++;
  }
  return false;
}

static bool oc_test_any_in(const char *values, const oc_pack_strs_t *s) {
  for (size_t i = 0; i < s->n; i++)
    if (oc_test_value_in(values, s->v[i])) return true;
  return false;
}

static bool oc_test_selected(const oc_test_run_t *run, const oc_pack_item_t *it) {
  for (size_t i = 0; i < run->nfilters; i++) {
    const oc_test_filter_t *f = &run->filters[i];
    bool ok;
    if (strcasecmp(f->key, "RuleID") == 0)
      ok = oc_test_value_in(f->values, it->id);
    else if (strcasecmp(f->key, "LogTypes") == 0)
      ok = oc_test_any_in(f->values, &it->log_types);
    else if (strcasecmp(f->key, "Severity") == 0)
      ok = oc_test_value_in(f->values, it->severity);
    else if (strcasecmp(f->key, "Tags") == 0)
      ok = oc_test_any_in(f->values, &it->tags);
    else if (strcasecmp(f->key, "AnalysisType") == 0)
      ok = oc_test_value_in(f->values,
                            it->kind == OC_PACK_SCHEDULED_RULE ? "scheduled_rule" : "rule");
    else /* Enabled */
      ok = oc_test_value_in(f->values, it->enabled ? "true" : "false");
    if (!ok) return false;
  }
  return true;
}

/* ---- output ------------------------------------------------------------------------ */

static void oc_test_json_str(oc_buf_t *b, const char *key, const char *s, size_t len) {
  oc_buf_appendf(b, ",\"%s\":", key);
  oc_json_write_string(b, s, len);
}

/* The Log of the test being reported (JSON), or NULL; for --json. */
static const char *oc_test_cur_log;

static void oc_test_report(oc_test_run_t *run, const char *rule_id, const char *test, bool passed,
                           const char *reason, const oc_pyresult_t *res) {
  if (passed)
    run->passed++;
  else
    run->failed++;
  if (run->json) {
    oc_buf_t *b = &run->line;
    oc_buf_reset(b);
    oc_buf_puts(b, "{\"rule\":");
    oc_json_write_string(b, rule_id, strlen(rule_id));
    oc_test_json_str(b, "test", test, strlen(test));
    oc_buf_appendf(b, ",\"passed\":%s", passed ? "true" : "false");
    if (reason) oc_test_json_str(b, "reason", reason, strlen(reason));
    if (oc_test_cur_log) {
      oc_buf_puts(b, ",\"log\":");
      oc_buf_puts(b, oc_test_cur_log);
    }
    if (res) {
      oc_buf_appendf(b, ",\"matched\":%s,\"error\":%s", res->matched ? "true" : "false",
                     res->error ? "true" : "false");
      if (res->error || res->matched) {
        oc_test_json_str(b, "title", res->title.data ? res->title.data : "", res->title.len);
        oc_test_json_str(b, "dedup", res->dedup.data ? res->dedup.data : "", res->dedup.len);
        oc_test_json_str(b, "severity", res->severity.data ? res->severity.data : "",
                         res->severity.len);
      }
      if (res->error) oc_test_json_str(b, "message", res->exc.msg, strlen(res->exc.msg));
      if (res->matched) {
        oc_test_json_str(b, "description", res->description.data ? res->description.data : "",
                         res->description.len);
        oc_test_json_str(b, "reference", res->reference.data ? res->reference.data : "",
                         res->reference.len);
        oc_test_json_str(b, "runbook", res->runbook.data ? res->runbook.data : "",
                         res->runbook.len);
        oc_buf_puts(b, ",\"alert_context\":");
        oc_buf_puts(b, res->alert_context.len ? res->alert_context.data : "null");
        oc_buf_puts(b, ",\"destinations\":");
        if (!res->destinations_set) {
          oc_buf_puts(b, "null");
        } else {
          const char *d = res->destinations.data;
          oc_buf_putc(b, '[');
          for (size_t i = 0; i < res->ndestinations; i++) {
            size_t n = strlen(d);
            if (i) oc_buf_putc(b, ',');
            oc_json_write_string(b, d, n);
            d += n + 1;
          }
          oc_buf_putc(b, ']');
        }
        if (res->aux_error[0])
          oc_test_json_str(b, "aux_error", res->aux_error, strlen(res->aux_error));
      }
    }
    oc_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, stdout);
    return;
  }
  if (!passed)
    printf("FAIL %s: %s: %s\n", rule_id, test, reason ? reason : "failed");
  else if (run->verbose)
    printf("PASS %s: %s\n", rule_id, test);
}

/* ---- mocks ------------------------------------------------------------------------- */

typedef struct {
  PyObject *name;
  PyObject *old; /* NULL when the module did not have it */
} oc_test_saved_t;

/* Patches the mocks onto the rule's module; false with a reason (nothing left patched). */
static bool oc_test_mock(oc_test_run_t *run, const oc_pyrule_t *rule, const oc_pack_test_t *test,
                         oc_test_saved_t *saved, size_t *nsaved, char *why, size_t why_size) {
  PyObject *dict = PyModule_GetDict(rule->module);
  *nsaved = 0;
  for (size_t i = 0; i < test->nmocks; i++) {
    const oc_pack_mock_t *m = &test->mocks[i];
    PyObject *name = PyUnicode_FromString(m->name), *old, *value = NULL, *mock = NULL, *kw = NULL;
    if (!name) goto fail;
    old = PyDict_GetItemWithError(dict, name);
    if (!old) {
      snprintf(why, why_size, "mock \"%s\": the rule's module has no such name", m->name);
      Py_DECREF(name);
      PyErr_Clear();
      goto undo;
    }
    value = PyObject_CallFunction(run->json_loads, "s", m->value_json);
    kw = value ? Py_BuildValue("{s:O}", "return_value", value) : NULL;
    PyObject *noargs = kw ? PyTuple_New(0) : NULL;
    mock = noargs ? PyObject_Call(run->magicmock, noargs, kw) : NULL;
    Py_XDECREF(noargs);
    Py_XDECREF(kw);
    Py_XDECREF(value);
    if (!mock) {
      Py_DECREF(name);
      goto fail;
    }
    Py_INCREF(old);
    saved[*nsaved].name = name;
    saved[*nsaved].old = old;
    (*nsaved)++;
    int rc = PyDict_SetItem(dict, name, mock);
    Py_DECREF(mock);
    if (rc != 0) goto fail;
  }
  return true;
fail : {
  oc_pyexc_t exc;
  oc_pyhost_fetch_exc(&exc);
  snprintf(why, why_size, "could not apply the mocks: %s", exc.msg);
}
undo:
  for (size_t i = 0; i < *nsaved; i++) {
    PyDict_SetItem(dict, saved[i].name, saved[i].old);
    Py_DECREF(saved[i].name);
    Py_DECREF(saved[i].old);
  }
  *nsaved = 0;
  return false;
}

static void oc_test_unmock(const oc_pyrule_t *rule, oc_test_saved_t *saved, size_t nsaved) {
  PyObject *dict = PyModule_GetDict(rule->module);
  for (size_t i = 0; i < nsaved; i++) {
    if (PyDict_SetItem(dict, saved[i].name, saved[i].old) != 0) PyErr_Clear();
    Py_DECREF(saved[i].name);
    Py_DECREF(saved[i].old);
  }
}

/* ---- running ----------------------------------------------------------------------- */

static PyObject *oc_test_datamodel(const oc_pyrules_t *prs, const oc_pack_item_t *it,
                                   const oc_json_t *root) {
  const oc_json_t *lt = oc_json_get(root, "p_log_type");
  if (oc_json_is_string(lt)) return oc_pyrules_datamodel(prs, lt->s, lt->len);
  for (size_t i = 0; i < it->log_types.n; i++) {
    PyObject *dm = oc_pyrules_datamodel(prs, it->log_types.v[i], strlen(it->log_types.v[i]));
    if (dm) return dm;
  }
  return NULL;
}

static void oc_test_one(oc_test_run_t *run, const oc_pyrules_t *prs, const oc_pyrule_t *rule,
                        const oc_pack_test_t *test, oc_det_ctx_t *ctx, oc_arena_t *arena,
                        oc_pyresult_t *res) {
  const oc_pack_item_t *it = rule->item;
  char why[2048], perr[256];
  oc_test_saved_t saved[64];
  size_t nsaved = 0;
  PyObject *ev = NULL;

  oc_arena_reset(arena);
  oc_test_cur_log = NULL;
  oc_json_t *root = oc_json_parse(arena, test->log_json, test->log_len, OC_JSON_DEFAULT_MAX_DEPTH,
                                  perr, sizeof(perr));
  if (!root || root->type != OC_JSON_OBJECT) {
    snprintf(why, sizeof(why), "the Log is not a JSON object%s%s", root ? "" : ": ",
             root ? "" : perr);
    oc_test_report(run, it->id, test->name, false, why, NULL);
    return;
  }
  oc_test_cur_log = test->log_json; /* valid JSON from here on */
  if (test->nmocks > sizeof(saved) / sizeof(saved[0])) {
    oc_test_report(run, it->id, test->name, false, "more than 64 mocks", NULL);
    return;
  }
  if (!oc_test_mock(run, rule, test, saved, &nsaved, why, sizeof(why))) {
    oc_test_report(run, it->id, test->name, false, why, NULL);
    return;
  }
  ev = oc_pyevent_new(root, oc_test_datamodel(prs, it, root));
  if (!ev) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    oc_test_report(run, it->id, test->name, false, exc.msg, NULL);
    goto out;
  }
  bool filtered = false;
  if (it->inline_filters) {
    oc_det_ctx_set_event(ctx, root);
    filtered = !oc_det_eval(ctx, it->inline_filters);
  }
  if (filtered) {
    memset(res->aux_error, 0, sizeof(res->aux_error));
    res->matched = res->error = false;
    res->naux_errors = 0;
  } else {
    oc_pyrule_eval(rule, ev, (int)run->budget_ms, res);
  }
  if (res->error) {
    snprintf(why, sizeof(why), "rule() raised: %.2000s", res->exc.msg);
    oc_test_report(run, it->id, test->name, false, why, res);
  } else if (res->matched != test->expected) {
    snprintf(why, sizeof(why), "expected %s, rule returned %s%s", test->expected ? "true" : "false",
             res->matched ? "true" : "false", filtered ? " (InlineFilters did not match)" : "");
    oc_test_report(run, it->id, test->name, false, why, res);
  } else if (res->aux_error[0]) {
    snprintf(why, sizeof(why), "%.1000s", res->aux_error);
    oc_test_report(run, it->id, test->name, false, why, res);
  } else {
    oc_test_report(run, it->id, test->name, true, NULL, res);
  }
out:
  oc_test_cur_log = NULL;
  oc_pyevent_release(ev);
  oc_test_unmock(rule, saved, nsaved);
}

static int oc_test_pack(oc_test_run_t *run, const char *dir) {
  char errstr[1024];
  int rc = OC_CLI_EXIT_FAIL;
  oc_pack_t *pack = oc_pack_new();
  oc_pyrules_t *prs = NULL;
  oc_det_ctx_t *ctx = NULL;
  oc_arena_t arena;
  oc_pyresult_t res;
  size_t nrules = 0;

  oc_arena_init(&arena, 64 * 1024);
  oc_pyresult_init(&res);
  if (!pack) {
    oc_cli_errorf("out of memory");
    goto out;
  }
  if (!oc_pack_load_dir(pack, dir, errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    rc = OC_CLI_EXIT_USAGE;
    goto out;
  }
  if (!oc_pyhost_init(errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  PyObject *mockmod = PyImport_ImportModule("unittest.mock"),
           *jsonmod = PyImport_ImportModule("json");
  if (mockmod) run->magicmock = PyObject_GetAttrString(mockmod, "MagicMock");
  if (jsonmod) run->json_loads = PyObject_GetAttrString(jsonmod, "loads");
  Py_XDECREF(mockmod);
  Py_XDECREF(jsonmod);
  if (!run->magicmock || !run->json_loads) {
    PyErr_Clear();
    oc_cli_errorf("could not import unittest.mock and json");
    goto out;
  }
  /* panther_detection_helpers.caching: Redis when OCELOT_REDIS_URL is set, else an
   * in-process store (kept for the whole run, in test order). */
  if (!oc_pycache_use_redis(getenv("OCELOT_REDIS_URL"), errstr, sizeof(errstr)) ||
      !oc_pycache_install(errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  prs = oc_pyrules_load(pack, errstr, sizeof(errstr));
  ctx = oc_det_ctx_new(pack->keys);
  if (!prs || !ctx) {
    oc_cli_errorf("%s", prs ? "out of memory" : errstr);
    goto out;
  }
  for (size_t i = 0; i < pack->nmsgs; i++) {
    const oc_pack_msg_t *m = &pack->msgs[i];
    char where[4200];
    if (m->line)
      snprintf(where, sizeof(where), "%s:%d", m->origin, m->line);
    else
      snprintf(where, sizeof(where), "%s", m->origin);
    oc_test_report(run, where, "load", false, m->text, NULL);
  }
  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    if (it->kind != OC_PACK_RULE && it->kind != OC_PACK_SCHEDULED_RULE) continue;
    if (!oc_test_selected(run, it)) continue;
    const oc_pyrule_t *rule = oc_pyrules_find(prs, it->id);
    if (!rule) continue; /* its load error is reported above */
    nrules++;
    if ((long long)it->ntests < run->min_tests) {
      char why[128];
      snprintf(why, sizeof(why), "has %zu tests, fewer than --minimum-tests %lld", it->ntests,
               run->min_tests);
      oc_test_report(run, it->id, "minimum-tests", false, why, NULL);
    }
    for (size_t t = 0; t < it->ntests; t++)
      oc_test_one(run, prs, rule, &it->tests[t], ctx, &arena, &res);
  }
  if (!run->json) {
    if (nrules == 0 && pack->nmsgs == 0) printf("no detections matched\n");
    printf("%zu passed, %zu failed\n", run->passed, run->failed);
  }
  rc = run->failed ? OC_CLI_EXIT_FAIL : OC_CLI_EXIT_OK;
out:
  oc_det_ctx_destroy(ctx);
  if (oc_pyhost_ready()) {
    oc_pyrules_destroy(prs);
    Py_CLEAR(run->magicmock);
    Py_CLEAR(run->json_loads);
  }
  oc_pyresult_deinit(&res);
  oc_arena_deinit(&arena);
  oc_pack_destroy(pack);
  oc_pycache_use_redis(NULL, NULL, 0);
  return rc;
}

int oc_cli_test(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"filter", required_argument, NULL, 'f'},
                                       {"minimum-tests", required_argument, NULL, 'm'},
                                       {"budget-ms", required_argument, NULL, 'b'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  oc_test_run_t run = {.budget_ms = 1000};
  int c, rc = OC_CLI_EXIT_USAGE;
  static const char *const keys[] = {"RuleID", "LogTypes",     "Severity",
                                     "Tags",   "AnalysisType", "Enabled"};

  oc_buf_init(&run.line);
  optind = 1;
  while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
    switch (c) {
      case 'f': {
        char *eq = strchr(optarg, '=');
        size_t k;
        if (!eq || eq == optarg || !eq[1]) {
          oc_cli_errorf("--filter needs KEY=VALUE, got \"%s\"", optarg);
          goto out;
        }
        *eq = '\0';
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
          if (strcasecmp(optarg, keys[k]) == 0) break;
        if (k == sizeof(keys) / sizeof(keys[0])) {
          oc_cli_errorf(
              "--filter: unknown key \"%s\" (use RuleID, LogTypes, Severity, Tags, "
              "AnalysisType or Enabled)",
              optarg);
          goto out;
        }
        if (run.nfilters == OC_TEST_MAX_FILTERS) {
          oc_cli_errorf("too many --filter options (the limit is %d)", OC_TEST_MAX_FILTERS);
          goto out;
        }
        run.filters[run.nfilters].key = keys[k];
        run.filters[run.nfilters].values = eq + 1;
        run.nfilters++;
        break;
      }
      case 'm':
        if (!oc_cli_parse_ll("--minimum-tests", optarg, 0, 1000000, &run.min_tests)) goto out;
        break;
      case 'b':
        if (!oc_cli_parse_ll("--budget-ms", optarg, 0, 3600000, &run.budget_ms)) goto out;
        break;
      case 'j':
        run.json = true;
        break;
      case 'v':
        run.verbose = true;
        break;
      case 'h':
        oc_test_usage(stdout);
        rc = OC_CLI_EXIT_OK;
        goto out;
      default:
        rc = oc_cli_bad_option("test", c, argv);
        goto out;
    }
  }
  if (argc - optind != 1) {
    oc_cli_errorf("test needs exactly one pack directory");
    oc_test_usage(stderr);
    goto out;
  }
  rc = oc_test_pack(&run, argv[optind]);
  fflush(stdout);
  oc_pyhost_fini();
out:
  oc_buf_deinit(&run.line);
  return rc;
}
