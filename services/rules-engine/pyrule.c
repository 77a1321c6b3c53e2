/* pyrule.c: loading a pack's Python files and running one rule on one event
 * (pyrule.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pyrule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "services/rules-engine/pyevent.h"

static const char *const oc_pyfn_names[OC_PYFN_COUNT] = {
    "rule",        "title",     "dedup",   "severity",    "alert_context",
    "description", "reference", "runbook", "destinations"};

static PyObject *oc_pyrule_mapping_abc;

/* A file's top-level code (and the helpers it imports) get this long to load. */
#define OC_PYRULE_LOAD_BUDGET_MS 10000

static PyObject *oc_pyrule_load_file(const char *name, const char *path, char *errstr,
                                     size_t errstr_size) {
  oc_pyhost_arm(OC_PYRULE_LOAD_BUDGET_MS);
  PyObject *m = oc_pyhost_load_file(name, path, errstr, errstr_size);
  oc_pyhost_disarm();
  return m;
}

/* ---- loading ----------------------------------------------------------------------- */

static void oc_pyrules_load_datamodels(oc_pyrules_t *prs, oc_pack_t *pack) {
  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    char why[2048];
    PyObject *module = NULL, *paths = NULL, *methods = NULL, *dm = NULL;
    if (it->kind != OC_PACK_DATAMODEL || !it->enabled) continue;
    if (it->py_path) {
      char name[300];
      snprintf(name, sizeof(name), "datamodel_%s", it->module_name);
      module = oc_pyrule_load_file(name, it->py_path, why, sizeof(why));
      if (!module) {
        oc_pack_msgf(pack, it->py_path, 0, "data model %s: %s", it->id, why);
        continue;
      }
    }
    paths = PyDict_New();
    methods = PyDict_New();
    if (!paths || !methods) goto next;
    for (size_t j = 0; j < it->nmappings; j++) {
      const oc_pack_mapping_t *m = &it->mappings[j];
      PyObject *v = NULL;
      if (m->path) {
        v = PyUnicode_FromString(m->path);
        if (!v || PyDict_SetItemString(paths, m->name, v) != 0) PyErr_Clear();
      } else {
        v = PyObject_GetAttrString(module, m->method);
        if (!v || !PyCallable_Check(v)) {
          PyErr_Clear();
          oc_pack_msgf(pack, it->yml_path, 0,
                       "data model %s: mapping %s: Method %s is not a function in %s", it->id,
                       m->name, m->method, it->py_path);
          Py_XDECREF(v);
          goto next;
        }
        if (PyDict_SetItemString(methods, m->name, v) != 0) PyErr_Clear();
      }
      Py_XDECREF(v);
    }
    dm = oc_pyevent_datamodel_new(paths, methods);
    if (!dm) {
      PyErr_Clear();
      goto next;
    }
    for (size_t j = 0; j < it->log_types.n; j++) {
      if (PyDict_GetItemString(prs->datamodels, it->log_types.v[j])) {
        oc_pack_msgf(pack, it->yml_path, 0, "data model %s: log type %s already has a data model",
                     it->id, it->log_types.v[j]);
        continue;
      }
      if (PyDict_SetItemString(prs->datamodels, it->log_types.v[j], dm) != 0) PyErr_Clear();
    }
  next:
    Py_XDECREF(dm);
    Py_XDECREF(paths);
    Py_XDECREF(methods);
    Py_XDECREF(module);
  }
}

oc_pyrules_t *oc_pyrules_load(oc_pack_t *pack, char *errstr, size_t errstr_size) {
  oc_pyrules_t *prs = calloc(1, sizeof(*prs));
  if (!prs) goto nomem;
  prs->pack = pack;
  prs->datamodels = PyDict_New();
  prs->rules = calloc(pack->nitems ? pack->nitems : 1, sizeof(*prs->rules));
  if (!prs->datamodels || !prs->rules) goto nomem;
  if (!oc_pyrule_mapping_abc) {
    PyObject *abc = PyImport_ImportModule("collections.abc");
    if (abc) oc_pyrule_mapping_abc = PyObject_GetAttrString(abc, "Mapping");
    Py_XDECREF(abc);
    if (!oc_pyrule_mapping_abc) {
      PyErr_Clear();
      snprintf(errstr, errstr_size, "could not import collections.abc.Mapping");
      oc_pyrules_destroy(prs);
      return NULL;
    }
  }

  oc_pyhost_clear_globals();
  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    char why[1024];
    if (it->kind != OC_PACK_GLOBAL || !it->py_path) continue;
    if (!oc_pyhost_register_global(it->module_name, it->py_path, why, sizeof(why)) ||
        (strcmp(it->id, it->module_name) != 0 &&
         !oc_pyhost_register_global(it->id, it->py_path, why, sizeof(why))))
      oc_pack_msgf(pack, it->yml_path, 0, "global %s: %s", it->id, why);
  }
  oc_pyrules_load_datamodels(prs, pack);

  for (size_t i = 0; i < pack->nitems; i++) {
    const oc_pack_item_t *it = pack->items[i];
    char why[2048], name[300];
    if (it->kind != OC_PACK_RULE && it->kind != OC_PACK_SCHEDULED_RULE) continue;
    snprintf(name, sizeof(name), "%s", it->module_name);
    PyObject *module = oc_pyrule_load_file(name, it->py_path, why, sizeof(why));
    if (!module) {
      oc_pack_msgf(pack, it->py_path, 0, "rule %s: %s", it->id, why);
      continue;
    }
    oc_pyrule_t *r = &prs->rules[prs->nrules];
    memset(r, 0, sizeof(*r));
    r->item = it;
    r->module = module;
    for (int f = 0; f < OC_PYFN_COUNT; f++) {
      PyObject *fn = PyObject_GetAttrString(module, oc_pyfn_names[f]);
      if (fn && PyCallable_Check(fn)) {
        r->fn[f] = fn;
      } else {
        Py_XDECREF(fn);
        PyErr_Clear();
      }
    }
    if (!r->fn[OC_PYFN_RULE]) {
      oc_pack_msgf(pack, it->py_path, 0, "rule %s: the file defines no rule(event) function",
                   it->id);
      for (int f = 0; f < OC_PYFN_COUNT; f++)
        Py_CLEAR(r->fn[f]);
      Py_CLEAR(r->module);
      continue;
    }
    prs->nrules++;
  }
  return prs;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  PyErr_Clear();
  oc_pyrules_destroy(prs);
  return NULL;
}

void oc_pyrules_destroy(oc_pyrules_t *prs) {
  if (!prs) return;
  for (size_t i = 0; i < prs->nrules; i++) {
    for (int f = 0; f < OC_PYFN_COUNT; f++)
      Py_CLEAR(prs->rules[i].fn[f]);
    Py_CLEAR(prs->rules[i].module);
  }
  free(prs->rules);
  Py_CLEAR(prs->datamodels);
  free(prs);
}

PyObject *oc_pyrules_datamodel(const oc_pyrules_t *prs, const char *log_type, size_t len) {
  char key[512];
  if (!log_type || len >= sizeof(key)) return NULL;
  memcpy(key, log_type, len);
  key[len] = '\0';
  return PyDict_GetItemString(prs->datamodels, key);
}

const oc_pyrule_t *oc_pyrules_find(const oc_pyrules_t *prs, const char *id) {
  for (size_t i = 0; i < prs->nrules; i++)
    if (strcmp(prs->rules[i].item->id, id) == 0) return &prs->rules[i];
  return NULL;
}

/* ---- results ----------------------------------------------------------------------- */

void oc_pyresult_init(oc_pyresult_t *res) {
  memset(res, 0, sizeof(*res));
  oc_buf_init(&res->title);
  oc_buf_init(&res->dedup);
  oc_buf_init(&res->severity);
  oc_buf_init(&res->alert_context);
  oc_buf_init(&res->description);
  oc_buf_init(&res->reference);
  oc_buf_init(&res->runbook);
  oc_buf_init(&res->destinations);
}

void oc_pyresult_deinit(oc_pyresult_t *res) {
  oc_buf_deinit(&res->title);
  oc_buf_deinit(&res->dedup);
  oc_buf_deinit(&res->severity);
  oc_buf_deinit(&res->alert_context);
  oc_buf_deinit(&res->description);
  oc_buf_deinit(&res->reference);
  oc_buf_deinit(&res->runbook);
  oc_buf_deinit(&res->destinations);
}

/* Per rule call: the flags only (the 3 KB exception description is cleared by its first
 * bytes); the strings are reset by oc_pyresult_reset_bufs() on a match or an error. */
static void oc_pyresult_reset(oc_pyresult_t *res) {
  res->matched = res->error = res->destinations_set = res->title_truncated = false;
  res->exc.cls[0] = res->exc.repr[0] = res->exc.msg[0] = '\0';
  res->exc.timeout = res->exc.memory = false;
  res->aux_error[0] = '\0';
  res->naux_errors = 0;
  res->ndestinations = 0;
}

static void oc_pyresult_reset_bufs(oc_pyresult_t *res) {
  oc_buf_reset(&res->title);
  oc_buf_reset(&res->dedup);
  oc_buf_reset(&res->severity);
  oc_buf_reset(&res->alert_context);
  oc_buf_reset(&res->description);
  oc_buf_reset(&res->reference);
  oc_buf_reset(&res->runbook);
  oc_buf_reset(&res->destinations);
}

static void oc_aux_fail(oc_pyresult_t *res, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void oc_aux_fail(oc_pyresult_t *res, const char *fn, const char *fmt, ...) {
  if (res->naux_errors++ == 0) {
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(res->aux_error, sizeof(res->aux_error), "%s(): %s", fn, text);
  }
}

/* Appends a str, cut to OC_PYRULE_MAX_STR characters with the truncation suffix. */
static bool oc_put_str(PyObject *s, oc_buf_t *out, bool *truncated) {
  Py_ssize_t n, len = PyUnicode_GET_LENGTH(s);
  const char *u;
  if (truncated) *truncated = false;
  if (len > OC_PYRULE_MAX_STR) {
    PyObject *cut =
        PyUnicode_Substring(s, 0, OC_PYRULE_MAX_STR - (Py_ssize_t)strlen(OC_PYRULE_TRUNCATED));
    if (!cut) return false;
    u = PyUnicode_AsUTF8AndSize(cut, &n);
    if (u) {
      oc_buf_append(out, u, (size_t)n);
      oc_buf_puts(out, OC_PYRULE_TRUNCATED);
    }
    Py_DECREF(cut);
    if (truncated) *truncated = true;
    return u != NULL;
  }
  u = PyUnicode_AsUTF8AndSize(s, &n);
  if (!u) return false;
  oc_buf_append(out, u, (size_t)n);
  return true;
}

/* Calls an auxiliary function; the result (new reference) or NULL after recording why. */
static PyObject *oc_aux_call(const oc_pyrule_t *rule, oc_pyfn_t f, PyObject *ev,
                             oc_pyresult_t *res) {
  PyObject *r = PyObject_CallOneArg(rule->fn[f], ev);
  if (!r) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    oc_aux_fail(res, oc_pyfn_names[f], "%s", exc.msg);
  }
  return r;
}

/* An auxiliary function that must return a str, into out. */
static bool oc_aux_str(const oc_pyrule_t *rule, oc_pyfn_t f, PyObject *ev, oc_pyresult_t *res,
                       oc_buf_t *out, bool *truncated) {
  if (!rule->fn[f]) return false;
  PyObject *r = oc_aux_call(rule, f, ev, res);
  bool ok = false;
  if (!r) return false;
  if (!PyUnicode_Check(r)) {
    oc_aux_fail(res, oc_pyfn_names[f], "returned %s, expected str", Py_TYPE(r)->tp_name);
  } else {
    size_t mark = out->len;
    ok = oc_put_str(r, out, truncated);
    if (!ok) {
      out->len = mark;
      PyErr_Clear();
      oc_aux_fail(res, oc_pyfn_names[f], "returned a string that is not valid UTF-8");
    }
  }
  Py_DECREF(r);
  return ok;
}

static void oc_put_error_context(oc_buf_t *out, const char *msg) {
  oc_buf_reset(out);
  oc_buf_puts(out, "{\"_error\":");
  oc_json_write_string(out, msg, strlen(msg));
  oc_buf_putc(out, '}');
}

static void oc_aux_context(const oc_pyrule_t *rule, PyObject *ev, oc_pyresult_t *res) {
  char msg[900];
  PyObject *r, *s = NULL;
  if (!rule->fn[OC_PYFN_ALERT_CONTEXT]) return;
  r = PyObject_CallOneArg(rule->fn[OC_PYFN_ALERT_CONTEXT], ev);
  if (!r) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    oc_aux_fail(res, "alert_context", "%s", exc.msg);
    oc_put_error_context(&res->alert_context, exc.msg);
    return;
  }
  int is_map = PyObject_IsInstance(r, oc_pyrule_mapping_abc);
  if (is_map != 1) {
    PyErr_Clear();
    snprintf(msg, sizeof(msg), "alert_context returned %s, expected a Mapping",
             Py_TYPE(r)->tp_name);
    goto fail;
  }
  s = PyObject_CallMethod(oc_pyhost_boot(), "dumps_context", "O", r);
  if (!s) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    snprintf(msg, sizeof(msg), "alert_context could not be encoded as JSON: %.800s", exc.msg);
    goto fail;
  }
  Py_ssize_t n;
  const char *u = PyUnicode_AsUTF8AndSize(s, &n);
  if (!u) {
    PyErr_Clear();
    snprintf(msg, sizeof(msg), "alert_context is not valid UTF-8");
    goto fail;
  }
  if (n > OC_PYRULE_MAX_CONTEXT) {
    /* Panther's documented fallback, not a failure of the function. */
    snprintf(msg, sizeof(msg), "alert_context size is %zd characters, bigger than maximum of %d KB",
             n, OC_PYRULE_MAX_CONTEXT / 1024);
    oc_put_error_context(&res->alert_context, msg);
    Py_DECREF(s);
    Py_DECREF(r);
    return;
  }
  oc_buf_append(&res->alert_context, u, (size_t)n);
  Py_DECREF(s);
  Py_DECREF(r);
  return;
fail:
  oc_aux_fail(res, "alert_context", "%s", msg);
  oc_put_error_context(&res->alert_context, msg);
  Py_XDECREF(s);
  Py_DECREF(r);
}

static void oc_put_destinations_meta(const oc_pyrule_t *rule, oc_pyresult_t *res) {
  const oc_pack_strs_t *ids = &rule->item->output_ids;
  oc_buf_reset(&res->destinations);
  res->ndestinations = 0;
  for (size_t i = 0; i < ids->n && i < OC_PYRULE_MAX_DESTINATIONS; i++) {
    oc_buf_append(&res->destinations, ids->v[i], strlen(ids->v[i]) + 1);
    res->ndestinations++;
  }
  res->destinations_set = ids->n > 0;
}

static void oc_aux_destinations(const oc_pyrule_t *rule, PyObject *ev, oc_pyresult_t *res) {
  PyObject *r;
  if (!rule->fn[OC_PYFN_DESTINATIONS] || !(r = oc_aux_call(rule, OC_PYFN_DESTINATIONS, ev, res))) {
    oc_put_destinations_meta(rule, res);
    return;
  }
  if (r == Py_None) { /* no opinion: the rule's OutputIds */
    Py_DECREF(r);
    oc_put_destinations_meta(rule, res);
    return;
  }
  if (!PyList_Check(r) && !PyTuple_Check(r)) {
    oc_aux_fail(res, "destinations", "returned %s, expected a list of str", Py_TYPE(r)->tp_name);
    Py_DECREF(r);
    oc_put_destinations_meta(rule, res);
    return;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(r);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *d = PySequence_Fast_GET_ITEM(r, i);
    Py_ssize_t len;
    const char *u = PyUnicode_Check(d) ? PyUnicode_AsUTF8AndSize(d, &len) : NULL;
    if (!u || memchr(u, '\0', (size_t)len)) {
      PyErr_Clear();
      oc_aux_fail(res, "destinations", "element %zd is %s, expected str", i, Py_TYPE(d)->tp_name);
      Py_DECREF(r);
      oc_put_destinations_meta(rule, res);
      return;
    }
    if (res->ndestinations < OC_PYRULE_MAX_DESTINATIONS) {
      oc_buf_append(&res->destinations, u, (size_t)len + 1);
      res->ndestinations++;
    }
  }
  res->destinations_set = true;
  Py_DECREF(r);
}

static void oc_aux_severity(const oc_pyrule_t *rule, PyObject *ev, oc_pyresult_t *res) {
  static const char *const levels[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
  oc_buf_t *out = &res->severity;
  if (oc_aux_str(rule, OC_PYFN_SEVERITY, ev, res, out, NULL)) {
    if (strcasecmp(out->data, "DEFAULT") != 0) {
      for (size_t i = 0; i < 5; i++)
        if (strcasecmp(out->data, levels[i]) == 0) {
          oc_buf_reset(out);
          oc_buf_puts(out, levels[i]);
          return;
        }
      oc_aux_fail(res, "severity",
                  "returned \"%.100s\", expected one of INFO, LOW, MEDIUM, HIGH, "
                  "CRITICAL or DEFAULT",
                  out->data);
    }
  }
  oc_buf_reset(out);
  oc_buf_puts(out, rule->item->severity);
}

static void oc_put_meta(oc_buf_t *out, const char *s) {
  size_t len = strlen(s);
  if (len > OC_PYRULE_MAX_STR) {
    /* counted in bytes here; cut on a UTF-8 boundary */
    size_t keep = OC_PYRULE_MAX_STR - strlen(OC_PYRULE_TRUNCATED);
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
      keep--;
    oc_buf_append(out, s, keep);
    oc_buf_puts(out, OC_PYRULE_TRUNCATED);
    return;
  }
  oc_buf_append(out, s, len);
}

static void oc_pyrule_disarm(void) {
  oc_pyhost_mem_disarm();
  oc_pyhost_disarm();
}

/* rule() hit the memory cap but returned (it swallowed the MemoryError). */
static void oc_pyrule_memory_error(const oc_pyrule_t *rule, oc_pyresult_t *res) {
  size_t mb = oc_pyhost_memory_cap() / (1024 * 1024);
  snprintf(res->exc.cls, sizeof(res->exc.cls), "MemoryError");
  snprintf(res->exc.repr, sizeof(res->exc.repr),
           "MemoryError('rule went past its memory cap of %zu MB')", mb);
  snprintf(res->exc.msg, sizeof(res->exc.msg),
           "MemoryError: rule went past its memory cap of %zu MB (%s)", mb, rule->item->py_path);
  res->exc.memory = true;
}

bool oc_pyrule_eval(const oc_pyrule_t *rule, PyObject *ev, int budget_ms, oc_pyresult_t *res) {
  const oc_pack_item_t *it = rule->item;
  oc_pyresult_reset(res);
  oc_pyhost_arm(budget_ms);
  oc_pyhost_mem_arm();
  PyObject *r = PyObject_CallOneArg(rule->fn[OC_PYFN_RULE], ev);
  if (!r) {
    oc_pyrule_disarm();
    oc_pyhost_fetch_exc(&res->exc);
    goto error;
  }
  if (oc_pyhost_mem_hit()) { /* the rule caught the MemoryError and went on */
    oc_pyrule_disarm();
    Py_DECREF(r);
    oc_pyrule_memory_error(rule, res);
    goto error;
  }
  if (!PyBool_Check(r)) {
    oc_pyrule_disarm();
    snprintf(res->exc.cls, sizeof(res->exc.cls), "FunctionReturnTypeError");
    snprintf(res->exc.repr, sizeof(res->exc.repr),
             "FunctionReturnTypeError('detection [%.200s] function [rule] returned [%.100s], "
             "expected [bool]')",
             it->id, Py_TYPE(r)->tp_name);
    snprintf(res->exc.msg, sizeof(res->exc.msg),
             "FunctionReturnTypeError: detection [%.200s] function [rule] returned [%.100s], "
             "expected [bool] (%s)",
             it->id, Py_TYPE(r)->tp_name, it->py_path);
    Py_DECREF(r);
    goto error;
  }
  res->matched = r == Py_True;
  Py_DECREF(r);
  if (!res->matched) {
    oc_pyrule_disarm();
    return false;
  }
  oc_pyresult_reset_bufs(res);

  bool title_ok = oc_aux_str(rule, OC_PYFN_TITLE, ev, res, &res->title, &res->title_truncated);
  if (!title_ok) {
    oc_buf_reset(&res->title);
    oc_put_meta(&res->title, it->display_name[0] ? it->display_name : it->id);
  }
  if (!oc_aux_str(rule, OC_PYFN_DEDUP, ev, res, &res->dedup, NULL) || res->dedup.len == 0) {
    oc_buf_reset(&res->dedup);
    if (title_ok) {
      oc_buf_append(&res->dedup, res->title.data, res->title.len);
    } else {
      oc_buf_puts(&res->dedup, "defaultDedupString:");
      oc_buf_puts(&res->dedup, it->id);
    }
  }
  oc_aux_severity(rule, ev, res);
  oc_aux_context(rule, ev, res);
  if (!oc_aux_str(rule, OC_PYFN_DESCRIPTION, ev, res, &res->description, NULL)) {
    oc_buf_reset(&res->description);
    oc_put_meta(&res->description, it->description);
  }
  if (!oc_aux_str(rule, OC_PYFN_REFERENCE, ev, res, &res->reference, NULL)) {
    oc_buf_reset(&res->reference);
    oc_put_meta(&res->reference, it->reference);
  }
  if (!oc_aux_str(rule, OC_PYFN_RUNBOOK, ev, res, &res->runbook, NULL)) {
    oc_buf_reset(&res->runbook);
    oc_put_meta(&res->runbook, it->runbook);
  }
  oc_aux_destinations(rule, ev, res);
  oc_pyrule_disarm();
  return true;

error:
  res->error = true;
  oc_pyresult_reset_bufs(res);
  oc_buf_puts(&res->title, res->exc.repr);
  oc_buf_puts(&res->dedup, res->exc.cls);
  oc_buf_puts(&res->severity, it->severity);
  oc_put_meta(&res->description, res->exc.msg);
  return false;
}
