/* pyevent.c: PantherEvent, ImmutableCaseInsensitiveDict and ImmutableList over oc_json_t
 * (pyevent.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pyevent.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OC_PYEV_MAX_PATH_VALUES 1024 /* values a data-model path with [*] may reach */

/* Shared by every wrapper of one event; cleared by oc_pyevent_release(). */
typedef struct {
  PyObject_HEAD int valid;
} oc_pyscope_t;

typedef struct {
  PyObject_HEAD const oc_json_t *node; /* an OBJECT */
  oc_pyscope_t *scope;
  PyObject *cache; /* key -> wrapped value, created on first lookup */
  PyObject *dm;    /* PantherEvent only: the data model or NULL */
} oc_pydict_t;

typedef struct {
  PyObject_HEAD const oc_json_t *node; /* an ARRAY */
  oc_pyscope_t *scope;
  PyObject *items; /* tuple of wrapped elements, built on first element access */
} oc_pylist_t;

typedef struct {
  PyObject_HEAD PyObject *paths;
  PyObject *methods;
} oc_pydm_t;

static PyTypeObject oc_pyscope_type, oc_pydict_type, oc_pyevent_type, oc_pylist_type, oc_pydm_type;

#define OC_IS_DICT(o) PyObject_TypeCheck((o), &oc_pydict_type)
#define OC_IS_LIST(o) PyObject_TypeCheck((o), &oc_pylist_type)

static bool oc_pyscope_ok(const oc_pyscope_t *scope) {
  if (scope->valid) return true;
  PyErr_SetString(PyExc_RuntimeError,
                  "the event is no longer available (a rule kept it past its call)");
  return false;
}

/* ---- values ------------------------------------------------------------------------ */

static PyObject *oc_pynumber(const oc_json_t *v) {
  char buf[64];
  bool isint = true;
  for (uint32_t i = 0; i < v->len; i++)
    if (v->s[i] == '.' || v->s[i] == 'e' || v->s[i] == 'E') isint = false;
  if (v->len < sizeof(buf)) {
    memcpy(buf, v->s, v->len);
    buf[v->len] = '\0';
    return isint ? PyLong_FromString(buf, NULL, 10) : PyFloat_FromDouble(strtod(buf, NULL));
  }
  PyObject *u = PyUnicode_FromStringAndSize(v->s, v->len), *r;
  if (!u) return NULL;
  r = isint ? PyLong_FromUnicodeObject(u, 10) : PyFloat_FromString(u);
  Py_DECREF(u);
  return r;
}

static PyObject *oc_pydict_make(PyTypeObject *type, const oc_json_t *node, oc_pyscope_t *scope,
                                PyObject *dm) {
  oc_pydict_t *d = PyObject_GC_New(oc_pydict_t, type);
  if (!d) return NULL;
  d->node = node;
  Py_INCREF(scope);
  d->scope = scope;
  d->cache = NULL;
  Py_XINCREF(dm);
  d->dm = dm;
  PyObject_GC_Track(d);
  return (PyObject *)d;
}

static PyObject *oc_pylist_make(const oc_json_t *node, oc_pyscope_t *scope) {
  oc_pylist_t *l = PyObject_New(oc_pylist_t, &oc_pylist_type);
  if (!l) return NULL;
  l->node = node;
  Py_INCREF(scope);
  l->scope = scope;
  l->items = NULL;
  return (PyObject *)l;
}

/* The immutable view of one JSON value. New reference. */
static PyObject *oc_pywrap(const oc_json_t *v, oc_pyscope_t *scope) {
  if (!v) Py_RETURN_NONE;
  switch (v->type) {
    case OC_JSON_NULL:
      Py_RETURN_NONE;
    case OC_JSON_TRUE:
      Py_RETURN_TRUE;
    case OC_JSON_FALSE:
      Py_RETURN_FALSE;
    case OC_JSON_NUMBER:
      return oc_pynumber(v);
    case OC_JSON_STRING:
      return PyUnicode_DecodeUTF8(v->s, v->len, "replace");
    case OC_JSON_OBJECT:
      return oc_pydict_make(&oc_pydict_type, v, scope, NULL);
    case OC_JSON_ARRAY:
      return oc_pylist_make(v, scope);
  }
  Py_RETURN_NONE;
}

PyObject *oc_pyevent_plain(const oc_json_t *v) {
  if (!v) Py_RETURN_NONE;
  if (v->type == OC_JSON_OBJECT) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (const oc_json_t *c = v->child; c; c = c->next) {
      PyObject *k = PyUnicode_DecodeUTF8(c->key, c->key_len, "replace");
      PyObject *x = k ? oc_pyevent_plain(c) : NULL;
      int rc = x ? PyDict_SetItem(d, k, x) : -1;
      Py_XDECREF(k);
      Py_XDECREF(x);
      if (rc != 0) {
        Py_DECREF(d);
        return NULL;
      }
    }
    return d;
  }
  if (v->type == OC_JSON_ARRAY) {
    PyObject *l = PyList_New(v->len);
    if (!l) return NULL;
    Py_ssize_t i = 0;
    for (const oc_json_t *c = v->child; c && i < (Py_ssize_t)v->len; c = c->next, i++) {
      PyObject *x = oc_pyevent_plain(c);
      if (!x) {
        Py_DECREF(l);
        return NULL;
      }
      PyList_SET_ITEM(l, i, x);
    }
    return l;
  }
  return oc_pywrap(v, NULL);
}

/* ---- ImmutableCaseInsensitiveDict ---------------------------------------------------- */

static const oc_json_t *oc_pydict_find(oc_pydict_t *d, PyObject *key) {
  Py_ssize_t n;
  if (!PyUnicode_Check(key)) return NULL;
  const char *k = PyUnicode_AsUTF8AndSize(key, &n);
  if (!k) {
    PyErr_Clear();
    return NULL;
  }
  return oc_json_get_ci(d->node, k, (size_t)n);
}

/* The wrapped member for key: a new reference; NULL without an exception when absent. */
static PyObject *oc_pydict_lookup(oc_pydict_t *d, PyObject *key) {
  if (!oc_pyscope_ok(d->scope)) return NULL;
  if (!PyUnicode_Check(key)) return NULL;
  if (d->cache) {
    PyObject *v = PyDict_GetItemWithError(d->cache, key);
    if (v) {
      Py_INCREF(v);
      return v;
    }
    if (PyErr_Occurred()) return NULL;
  }
  const oc_json_t *c = oc_pydict_find(d, key);
  if (!c) return NULL;
  PyObject *v = oc_pywrap(c, d->scope);
  if (!v) return NULL;
  if (!d->cache) d->cache = PyDict_New();
  if (!d->cache || PyDict_SetItem(d->cache, key, v) != 0) PyErr_Clear(); /* only a cache */
  return v;
}

static int oc_pydict_traverse(oc_pydict_t *d, visitproc visit, void *arg) {
  Py_VISIT(d->cache);
  Py_VISIT(d->dm);
  Py_VISIT(d->scope);
  return 0;
}

static int oc_pydict_clear(oc_pydict_t *d) {
  Py_CLEAR(d->cache);
  Py_CLEAR(d->dm);
  Py_CLEAR(d->scope);
  return 0;
}

static void oc_pydict_dealloc(oc_pydict_t *d) {
  PyObject_GC_UnTrack(d);
  oc_pydict_clear(d);
  PyObject_GC_Del(d);
}

static Py_ssize_t oc_pydict_len(oc_pydict_t *d) {
  if (!oc_pyscope_ok(d->scope)) return -1;
  return (Py_ssize_t)d->node->len;
}

static PyObject *oc_pydict_getitem(oc_pydict_t *d, PyObject *key) {
  PyObject *v = oc_pydict_lookup(d, key);
  if (!v && !PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
  return v;
}

static int oc_pydict_contains(oc_pydict_t *d, PyObject *key) {
  if (!oc_pyscope_ok(d->scope)) return -1;
  return oc_pydict_find(d, key) != NULL;
}

/* 0 keys, 1 values, 2 items */
static PyObject *oc_pydict_list(oc_pydict_t *d, int what) {
  if (!oc_pyscope_ok(d->scope)) return NULL;
  PyObject *l = PyList_New(0);
  if (!l) return NULL;
  for (const oc_json_t *c = d->node->child; c; c = c->next) {
    PyObject *k = PyUnicode_DecodeUTF8(c->key, c->key_len, "replace"), *v = NULL, *x = NULL;
    if (!k) goto fail;
    if (what == 0) {
      x = k;
      k = NULL;
    } else {
      v = oc_pydict_lookup(d, k);
      if (!v && !PyErr_Occurred()) v = oc_pywrap(c, d->scope); /* key not valid UTF-8 */
      if (!v) {
        Py_DECREF(k);
        goto fail;
      }
      if (what == 1) {
        x = v;
        v = NULL;
      } else {
        x = PyTuple_Pack(2, k, v);
      }
    }
    Py_XDECREF(k);
    Py_XDECREF(v);
    if (!x || PyList_Append(l, x) != 0) {
      Py_XDECREF(x);
      goto fail;
    }
    Py_DECREF(x);
  }
  return l;
fail:
  Py_DECREF(l);
  return NULL;
}

static PyObject *oc_pydict_iter(oc_pydict_t *d) {
  PyObject *l = oc_pydict_list(d, 0);
  if (!l) return NULL;
  PyObject *it = PyObject_GetIter(l);
  Py_DECREF(l);
  return it;
}

static PyObject *oc_pydict_keys(oc_pydict_t *d, PyObject *unused) {
  return oc_pydict_list(d, 0);
}
static PyObject *oc_pydict_values(oc_pydict_t *d, PyObject *unused) {
  return oc_pydict_list(d, 1);
}
static PyObject *oc_pydict_items(oc_pydict_t *d, PyObject *unused) {
  return oc_pydict_list(d, 2);
}

static PyObject *oc_pydict_to_dict(oc_pydict_t *d, PyObject *unused) {
  if (!oc_pyscope_ok(d->scope)) return NULL;
  return oc_pyevent_plain(d->node);
}

static PyObject *oc_pydict_get(oc_pydict_t *d, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "get() takes a key and an optional default");
    return NULL;
  }
  PyObject *v = oc_pydict_lookup(d, args[0]);
  if (v || PyErr_Occurred()) return v;
  v = nargs == 2 ? args[1] : Py_None;
  Py_INCREF(v);
  return v;
}

/* Keyword arguments of a FASTCALL method: every name must be one of names[]. */
static bool oc_pykwargs(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                        const char *const *names, PyObject **out, size_t nnames) {
  if (!kwnames) return true;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
    const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
    size_t j;
    for (j = 0; k && j < nnames; j++)
      if (strcmp(k, names[j]) == 0) break;
    if (!k || j == nnames) {
      PyErr_Format(PyExc_TypeError, "unexpected keyword argument '%s'", k ? k : "?");
      return false;
    }
    out[j] = args[nargs + i];
  }
  return true;
}

/* deep_get over wrappers, so every level's lookups are cached. */
static PyObject *oc_pydict_deep_get_from(oc_pydict_t *d, PyObject *const *keys, Py_ssize_t nkeys,
                                         PyObject *dflt) {
  PyObject *cur = (PyObject *)d;
  Py_INCREF(cur);
  for (Py_ssize_t i = 0; i < nkeys; i++) {
    PyObject *next = NULL;
    if (OC_IS_DICT(cur)) {
      next = oc_pydict_lookup((oc_pydict_t *)cur, keys[i]);
    } else if (PyDict_Check(cur)) {
      next = PyDict_GetItemWithError(cur, keys[i]);
      Py_XINCREF(next);
    }
    Py_DECREF(cur);
    if (!next) {
      if (PyErr_Occurred()) return NULL;
      Py_INCREF(dflt);
      return dflt;
    }
    cur = next;
  }
  if (cur == Py_None) {
    Py_DECREF(cur);
    Py_INCREF(dflt);
    return dflt;
  }
  return cur;
}

static PyObject *oc_pydict_deep_get(oc_pydict_t *d, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames) {
  static const char *const names[] = {"default"};
  PyObject *dflt = Py_None;
  if (!oc_pykwargs(args, nargs, kwnames, names, &dflt, 1)) return NULL;
  return oc_pydict_deep_get_from(d, args, nargs, dflt);
}

static bool oc_empty_list(const oc_json_t *v) {
  if (!v || v->type != OC_JSON_ARRAY) return false;
  for (const oc_json_t *c = v->child; c; c = c->next)
    if (!oc_empty_list(c)) return false;
  return true;
}

typedef enum { OC_DW_ALL, OC_DW_FIRST, OC_DW_LAST, OC_DW_OTHER } oc_dw_t;

/* panther_base_helpers.deep_walk, on the raw JSON. */
static PyObject *oc_deep_walk(const oc_json_t *obj, PyObject *const *keys, Py_ssize_t nkeys,
                              PyObject *dflt, oc_dw_t rv) {
  if (nkeys == 0) {
    if (oc_empty_list(obj)) {
      Py_INCREF(dflt);
      return dflt;
    }
    return oc_pyevent_plain(obj);
  }
  if (obj && obj->type == OC_JSON_OBJECT) {
    const oc_json_t *child = NULL;
    Py_ssize_t n;
    const char *k = PyUnicode_Check(keys[0]) ? PyUnicode_AsUTF8AndSize(keys[0], &n) : NULL;
    if (k) child = oc_json_getn(obj, k, (size_t)n);
    PyErr_Clear();
    if (!child || child->type == OC_JSON_NULL) {
      Py_INCREF(dflt);
      return dflt;
    }
    return oc_deep_walk(child, keys + 1, nkeys - 1, dflt, rv);
  }
  PyObject *found = PyDict_New(), *list = NULL, *r = NULL;
  if (!found) return NULL;
  if (obj && obj->type == OC_JSON_ARRAY) {
    for (const oc_json_t *c = obj->child; c; c = c->next) {
      PyObject *value = oc_deep_walk(c, keys, nkeys, dflt, rv);
      int rc = 0;
      if (!value) goto out;
      if (value != Py_None) {
        if (PyList_Check(value) || PyTuple_Check(value)) {
          for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(value); i++)
            rc = PyDict_SetItem(found, PySequence_Fast_GET_ITEM(value, i), Py_None);
        } else {
          rc = PyDict_SetItem(found, value, Py_None);
        }
      }
      Py_DECREF(value);
      if (rc != 0) goto out;
    }
  }
  if (PyDict_GET_SIZE(found) == 0) {
    Py_INCREF(dflt);
    r = dflt;
    goto out;
  }
  list = PyDict_Keys(found);
  if (!list) goto out;
  switch (rv) {
    case OC_DW_FIRST:
      r = PyList_GET_ITEM(list, 0);
      Py_INCREF(r);
      break;
    case OC_DW_LAST:
      r = PyList_GET_ITEM(list, PyList_GET_SIZE(list) - 1);
      Py_INCREF(r);
      break;
    case OC_DW_ALL:
      r = PyList_GET_SIZE(list) == 1 ? PyList_GET_ITEM(list, 0) : list;
      Py_INCREF(r);
      break;
    case OC_DW_OTHER: /* panther's {...}.get(return_val, "all") */
      r = PyUnicode_FromString("all");
      break;
  }
out:
  Py_XDECREF(list);
  Py_DECREF(found);
  return r;
}

static PyObject *oc_pydict_deep_walk(oc_pydict_t *d, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames) {
  static const char *const names[] = {"default", "return_val"};
  PyObject *kw[2] = {Py_None, NULL};
  oc_dw_t rv = OC_DW_ALL;
  if (!oc_pykwargs(args, nargs, kwnames, names, kw, 2)) return NULL;
  if (!oc_pyscope_ok(d->scope)) return NULL;
  if (kw[1]) {
    const char *s = PyUnicode_Check(kw[1]) ? PyUnicode_AsUTF8(kw[1]) : NULL;
    PyErr_Clear();
    rv = !s                        ? OC_DW_OTHER
         : strcmp(s, "all") == 0   ? OC_DW_ALL
         : strcmp(s, "first") == 0 ? OC_DW_FIRST
         : strcmp(s, "last") == 0  ? OC_DW_LAST
                                   : OC_DW_OTHER;
  }
  return oc_deep_walk(d->node, args, nargs, kw[0], rv);
}

static PyObject *oc_pydict_repr(oc_pydict_t *d) {
  PyObject *p = oc_pydict_to_dict(d, NULL);
  if (!p) return NULL;
  PyObject *r = PyObject_Repr(p);
  Py_DECREF(p);
  return r;
}

static PyObject *oc_pydict_richcompare(PyObject *a, PyObject *b, int op) {
  if ((op != Py_EQ && op != Py_NE) || !OC_IS_DICT(a) || !(OC_IS_DICT(b) || PyDict_Check(b)))
    Py_RETURN_NOTIMPLEMENTED;
  PyObject *pa = oc_pydict_to_dict((oc_pydict_t *)a, NULL), *pb = NULL, *r = NULL;
  if (!pa) return NULL;
  if (OC_IS_DICT(b)) {
    pb = oc_pydict_to_dict((oc_pydict_t *)b, NULL);
  } else {
    pb = b;
    Py_INCREF(pb);
  }
  if (pb) r = PyObject_RichCompare(pa, pb, op);
  Py_DECREF(pa);
  Py_XDECREF(pb);
  return r;
}

/* ---- data-model paths ---------------------------------------------------------------- */

typedef struct {
  const oc_json_t **v;
  size_t n, cap;
  bool multi, overflow;
} oc_pathset_t;

static bool oc_pathset_add(oc_pathset_t *s, const oc_json_t *v) {
  if (s->n == s->cap) {
    if (s->cap >= OC_PYEV_MAX_PATH_VALUES) {
      s->overflow = true;
      return false;
    }
    size_t cap = s->cap ? s->cap * 2 : 8;
    const oc_json_t **nv = PyMem_Realloc(s->v, cap * sizeof(*nv));
    if (!nv) return false;
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = v;
  return true;
}

/* One step over every current value: a member name (len > 0), an index (idx >= 0) or
 * every element (idx == -2). */
static bool oc_pathset_step(oc_pathset_t *cur, oc_pathset_t *next, const char *name, size_t len,
                            long idx) {
  next->n = 0;
  for (size_t i = 0; i < cur->n; i++) {
    const oc_json_t *v = cur->v[i];
    if (name) {
      const oc_json_t *c = oc_json_getn(v, name, len);
      if (c && !oc_pathset_add(next, c)) return false;
    } else if (idx >= 0) {
      const oc_json_t *c = oc_json_at(v, (size_t)idx);
      if (c && !oc_pathset_add(next, c)) return false;
    } else if (v->type == OC_JSON_ARRAY) {
      next->multi = true;
      for (const oc_json_t *c = v->child; c; c = c->next)
        if (!oc_pathset_add(next, c)) return false;
    }
  }
  return true;
}

/* Resolves path over root into *out (values, in order). false with a Python exception. */
static bool oc_path_resolve(const oc_json_t *root, const char *path, oc_pathset_t *out) {
  oc_pathset_t a = {0}, b = {0}, *cur = &a, *next = &b, *t;
  const char *p = path;
  bool ok = false;
  if (p[0] == '$') p += p[1] == '.' ? 2 : 1;
  if (!oc_pathset_add(cur, root)) goto nomem;
  while (*p) {
    if (*p == '.') {
      p++;
      continue;
    }
    if (*p == '[') {
      const char *end = strchr(p, ']');
      long idx;
      if (!end) goto bad;
      if (end == p + 2 && p[1] == '*') {
        idx = -2;
      } else {
        char *e;
        idx = strtol(p + 1, &e, 10);
        if (e != end || idx < 0) goto bad;
      }
      if (!oc_pathset_step(cur, next, NULL, 0, idx)) goto nomem;
      next->multi |= cur->multi;
      p = end + 1;
    } else {
      size_t len = strcspn(p, ".[");
      if (!oc_pathset_step(cur, next, p, len, -1)) goto nomem;
      next->multi |= cur->multi;
      p += len;
    }
    t = cur;
    cur = next;
    next = t;
  }
  *out = *cur;
  cur->v = NULL;
  ok = true;
  goto out;
bad:
  PyErr_Format(PyExc_ValueError, "bad data model path \"%s\"", path);
  goto out;
nomem:
  if (a.overflow || b.overflow)
    PyErr_Format(PyExc_ValueError, "data model path \"%s\" reaches more than %d values", path,
                 OC_PYEV_MAX_PATH_VALUES);
  else
    PyErr_NoMemory();
out:
  PyMem_Free(a.v);
  PyMem_Free(b.v);
  return ok;
}

PyObject *oc_pyevent_resolve_path(PyObject *ev, const char *path) {
  oc_pydict_t *d = (oc_pydict_t *)ev;
  oc_pathset_t set = {0};
  PyObject *r = NULL;
  if (!OC_IS_DICT(ev)) {
    PyErr_SetString(PyExc_TypeError, "not an event");
    return NULL;
  }
  if (!oc_pyscope_ok(d->scope) || !oc_path_resolve(d->node, path, &set)) return NULL;
  if (set.n == 0) {
    r = Py_None;
    Py_INCREF(r);
  } else if (set.n == 1) {
    r = oc_pywrap(set.v[0], d->scope);
  } else {
    PyErr_Format(PyExc_Exception, "JSONPath [%s] in DataModel matched multiple fields", path);
  }
  PyMem_Free(set.v);
  return r;
}

/* ---- PantherEvent ---------------------------------------------------------------------- */

static PyObject *oc_pyevent_udm_field(oc_pydict_t *d, PyObject *name, bool *found) {
  oc_pydm_t *dm = (oc_pydm_t *)d->dm;
  PyObject *m, *p;
  *found = false;
  if (!dm) return NULL;
  m = PyDict_GetItemWithError(dm->methods, name);
  if (m) {
    *found = true;
    return PyObject_CallOneArg(m, (PyObject *)d);
  }
  if (PyErr_Occurred()) return NULL;
  p = PyDict_GetItemWithError(dm->paths, name);
  if (p) {
    const char *s = PyUnicode_AsUTF8(p);
    *found = true;
    return s ? oc_pyevent_resolve_path((PyObject *)d, s) : NULL;
  }
  return NULL;
}

static PyObject *oc_pyevent_udm(oc_pydict_t *d, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
  static const char *const names[] = {"default"};
  PyObject *dflt = Py_None, *v;
  bool found;
  if (!oc_pykwargs(args, nargs, kwnames, names, &dflt, 1)) return NULL;
  if (!oc_pyscope_ok(d->scope)) return NULL;
  if (nargs == 0) {
    Py_INCREF(dflt);
    return dflt;
  }
  v = oc_pyevent_udm_field(d, args[0], &found);
  if (!found) {
    if (PyErr_Occurred()) return NULL;
    return oc_pydict_deep_get_from(d, args, nargs, dflt);
  }
  if (!v) return NULL;
  if (v != Py_None && nargs > 1) {
    PyObject *r = dflt;
    if (OC_IS_DICT(v)) {
      r = oc_pydict_deep_get_from((oc_pydict_t *)v, args + 1, nargs - 1, dflt);
    } else {
      Py_INCREF(r);
    }
    Py_DECREF(v);
    return r;
  }
  if (v == Py_None) {
    Py_DECREF(v);
    Py_INCREF(dflt);
    return dflt;
  }
  return v;
}

static PyObject *oc_pyevent_udm_path(oc_pydict_t *d, PyObject *key) {
  oc_pydm_t *dm = (oc_pydm_t *)d->dm;
  PyObject *m, *p;
  if (!dm) Py_RETURN_NONE;
  m = PyDict_GetItemWithError(dm->methods, key);
  if (m) return PyObject_GetAttrString(m, "__name__");
  if (PyErr_Occurred()) return NULL;
  p = PyDict_GetItemWithError(dm->paths, key);
  if (p) {
    Py_INCREF(p);
    return p;
  }
  if (PyErr_Occurred()) return NULL;
  Py_RETURN_NONE;
}

/* p_event_time as Unix seconds; None when absent. Accepts Panther's
 * "YYYY-MM-DD HH:MM:SS.fffffffff" and RFC 3339 ("T", optional fraction and "Z"). */
static PyObject *oc_pyevent_event_time_epoch(oc_pydict_t *d, PyObject *unused) {
  if (!oc_pyscope_ok(d->scope)) return NULL;
  const oc_json_t *t = oc_json_get(d->node, "p_event_time");
  if (!t || t->type == OC_JSON_NULL) Py_RETURN_NONE;
  char buf[64];
  struct tm tm = {0};
  if (t->type != OC_JSON_STRING || t->len < 19 || t->len >= sizeof(buf)) goto bad;
  memcpy(buf, t->s, t->len);
  buf[t->len] = '\0';
  if (buf[10] == 'T') buf[10] = ' ';
  const char *rest = strptime(buf, "%Y-%m-%d %H:%M:%S", &tm);
  if (!rest) goto bad;
  if (*rest == '.')
    for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
    }
  if (*rest == 'Z') rest++;
  if (*rest) goto bad;
  return PyLong_FromLongLong((long long)timegm(&tm));
bad:
  PyErr_SetString(PyExc_ValueError, "p_event_time is not a timestamp");
  return NULL;
}

/* ---- ImmutableList ------------------------------------------------------------------- */

static PyObject *oc_pylist_tuple(oc_pylist_t *l) {
  if (!oc_pyscope_ok(l->scope)) return NULL;
  if (l->items) return l->items;
  PyObject *t = PyTuple_New(l->node->len);
  if (!t) return NULL;
  Py_ssize_t i = 0;
  for (const oc_json_t *c = l->node->child; c && i < (Py_ssize_t)l->node->len; c = c->next, i++) {
    PyObject *x = oc_pywrap(c, l->scope);
    if (!x) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, i, x);
  }
  l->items = t;
  return t;
}

static void oc_pylist_dealloc(oc_pylist_t *l) {
  Py_CLEAR(l->items);
  Py_CLEAR(l->scope);
  PyObject_Del(l);
}

static Py_ssize_t oc_pylist_len(oc_pylist_t *l) {
  if (!oc_pyscope_ok(l->scope)) return -1;
  return (Py_ssize_t)l->node->len;
}

static PyObject *oc_pylist_item(oc_pylist_t *l, Py_ssize_t i) {
  PyObject *t = oc_pylist_tuple(l);
  if (!t) return NULL;
  if (i < 0 || i >= PyTuple_GET_SIZE(t)) {
    PyErr_SetString(PyExc_IndexError, "list index out of range");
    return NULL;
  }
  PyObject *x = PyTuple_GET_ITEM(t, i);
  Py_INCREF(x);
  return x;
}

static PyObject *oc_pylist_subscript(oc_pylist_t *l, PyObject *key) {
  PyObject *t = oc_pylist_tuple(l);
  return t ? PyObject_GetItem(t, key) : NULL;
}

static int oc_pylist_contains(oc_pylist_t *l, PyObject *x) {
  PyObject *t = oc_pylist_tuple(l);
  return t ? PySequence_Contains(t, x) : -1;
}

static PyObject *oc_pylist_iter(oc_pylist_t *l) {
  PyObject *t = oc_pylist_tuple(l);
  return t ? PyObject_GetIter(t) : NULL;
}

static PyObject *oc_pylist_forward(oc_pylist_t *l, const char *method, PyObject *args) {
  PyObject *t = oc_pylist_tuple(l), *m, *r;
  if (!t) return NULL;
  m = PyObject_GetAttrString(t, method);
  if (!m) return NULL;
  r = PyObject_Call(m, args, NULL);
  Py_DECREF(m);
  return r;
}
static PyObject *oc_pylist_index(oc_pylist_t *l, PyObject *args) {
  return oc_pylist_forward(l, "index", args);
}
static PyObject *oc_pylist_count(oc_pylist_t *l, PyObject *args) {
  return oc_pylist_forward(l, "count", args);
}
static PyObject *oc_pylist_copy(oc_pylist_t *l, PyObject *unused) {
  if (!oc_pyscope_ok(l->scope)) return NULL;
  return oc_pyevent_plain(l->node);
}

static PyObject *oc_pylist_repr(oc_pylist_t *l) {
  PyObject *p = oc_pylist_copy(l, NULL);
  if (!p) return NULL;
  PyObject *r = PyObject_Repr(p);
  Py_DECREF(p);
  return r;
}

static PyObject *oc_pylist_richcompare(PyObject *a, PyObject *b, int op) {
  PyObject *ta, *tb, *r;
  if (!OC_IS_LIST(a)) Py_RETURN_NOTIMPLEMENTED;
  ta = oc_pylist_tuple((oc_pylist_t *)a);
  if (!ta) return NULL;
  if (OC_IS_LIST(b)) {
    tb = oc_pylist_tuple((oc_pylist_t *)b);
    if (!tb) return NULL;
    Py_INCREF(tb);
  } else if (PyList_Check(b)) {
    tb = PyList_AsTuple(b);
    if (!tb) return NULL;
  } else if (PyTuple_Check(b)) {
    tb = b;
    Py_INCREF(tb);
  } else {
    Py_RETURN_NOTIMPLEMENTED;
  }
  r = PyObject_RichCompare(ta, tb, op);
  Py_DECREF(tb);
  return r;
}

/* ---- data model and scope objects ---------------------------------------------------- */

static void oc_pydm_dealloc(oc_pydm_t *dm) {
  PyObject_GC_UnTrack(dm);
  Py_CLEAR(dm->paths);
  Py_CLEAR(dm->methods);
  PyObject_GC_Del(dm);
}
static int oc_pydm_traverse(oc_pydm_t *dm, visitproc visit, void *arg) {
  Py_VISIT(dm->paths);
  Py_VISIT(dm->methods);
  return 0;
}
static int oc_pydm_clear(oc_pydm_t *dm) {
  Py_CLEAR(dm->paths);
  Py_CLEAR(dm->methods);
  return 0;
}

PyObject *oc_pyevent_datamodel_new(PyObject *paths, PyObject *methods) {
  if (!PyDict_Check(paths) || !PyDict_Check(methods)) {
    PyErr_SetString(PyExc_TypeError, "a data model needs two dicts");
    return NULL;
  }
  oc_pydm_t *dm = PyObject_GC_New(oc_pydm_t, &oc_pydm_type);
  if (!dm) return NULL;
  Py_INCREF(paths);
  Py_INCREF(methods);
  dm->paths = paths;
  dm->methods = methods;
  PyObject_GC_Track(dm);
  return (PyObject *)dm;
}

PyObject *oc_pyevent_new(const oc_json_t *root, PyObject *data_model) {
  if (!root || root->type != OC_JSON_OBJECT) {
    PyErr_SetString(PyExc_TypeError, "an event must be a JSON object");
    return NULL;
  }
  if (data_model && !PyObject_TypeCheck(data_model, &oc_pydm_type)) {
    PyErr_SetString(PyExc_TypeError, "not a data model");
    return NULL;
  }
  oc_pyscope_t *scope = PyObject_New(oc_pyscope_t, &oc_pyscope_type);
  if (!scope) return NULL;
  scope->valid = 1;
  PyObject *ev = oc_pydict_make(&oc_pyevent_type, root, scope, data_model);
  Py_DECREF(scope);
  return ev;
}

void oc_pyevent_release(PyObject *ev) {
  if (!ev) return;
  if (OC_IS_DICT(ev)) ((oc_pydict_t *)ev)->scope->valid = 0;
  Py_DECREF(ev);
}

/* ---- type objects ---------------------------------------------------------------------- */

static PyMappingMethods oc_pydict_as_mapping = {
    .mp_length = (lenfunc)oc_pydict_len,
    .mp_subscript = (binaryfunc)oc_pydict_getitem,
};
static PySequenceMethods oc_pydict_as_sequence = {
    .sq_contains = (objobjproc)oc_pydict_contains,
};

#define OC_DICT_METHODS                                                                            \
  {"get", (PyCFunction)(void (*)(void))oc_pydict_get, METH_FASTCALL, "get(key, default=None)"},    \
      {"keys", (PyCFunction)oc_pydict_keys, METH_NOARGS, "the keys, as a list"},                   \
      {"values", (PyCFunction)oc_pydict_values, METH_NOARGS, "the values, as a list"},             \
      {"items", (PyCFunction)oc_pydict_items, METH_NOARGS, "(key, value) pairs, a list"},          \
      {"copy", (PyCFunction)oc_pydict_to_dict, METH_NOARGS, "a deep plain dict"},                  \
      {"to_dict", (PyCFunction)oc_pydict_to_dict, METH_NOARGS, "a deep plain dict"},               \
      {"deep_get", (PyCFunction)(void (*)(void))oc_pydict_deep_get, METH_FASTCALL | METH_KEYWORDS, \
       "deep_get(*keys, default=None)"},                                                           \
  {                                                                                                \
    "deep_walk", (PyCFunction)(void (*)(void))oc_pydict_deep_walk, METH_FASTCALL | METH_KEYWORDS,  \
        "deep_walk(*keys, default=None, return_val='all')"                                         \
  }

static PyMethodDef oc_pydict_methods[] = {OC_DICT_METHODS, {NULL, NULL, 0, NULL}};

static PyMethodDef oc_pyevent_methods[] = {
    OC_DICT_METHODS,
    {"udm", (PyCFunction)(void (*)(void))oc_pyevent_udm, METH_FASTCALL | METH_KEYWORDS,
     "udm(*keys, default=None): a field through the log type's data model"},
    {"udm_path", (PyCFunction)oc_pyevent_udm_path, METH_O,
     "the data model's path (or method name) for a field, None when unmapped"},
    {"event_time_epoch", (PyCFunction)oc_pyevent_event_time_epoch, METH_NOARGS,
     "p_event_time in Unix seconds"},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods oc_pylist_as_sequence = {
    .sq_length = (lenfunc)oc_pylist_len,
    .sq_item = (ssizeargfunc)oc_pylist_item,
    .sq_contains = (objobjproc)oc_pylist_contains,
};
static PyMappingMethods oc_pylist_as_mapping = {
    .mp_length = (lenfunc)oc_pylist_len,
    .mp_subscript = (binaryfunc)oc_pylist_subscript,
};
static PyMethodDef oc_pylist_methods[] = {
    {"index", (PyCFunction)oc_pylist_index, METH_VARARGS, "index(value)"},
    {"count", (PyCFunction)oc_pylist_count, METH_VARARGS, "count(value)"},
    {"copy", (PyCFunction)oc_pylist_copy, METH_NOARGS, "a deep plain list"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject oc_pyscope_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ocelot.EventScope",
    .tp_basicsize = sizeof(oc_pyscope_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static PyTypeObject oc_pydict_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ocelot.ImmutableCaseInsensitiveDict",
    .tp_doc = "An immutable, case-insensitive Mapping over a JSON object.",
    .tp_basicsize = sizeof(oc_pydict_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_MAPPING,
    .tp_dealloc = (destructor)oc_pydict_dealloc,
    .tp_traverse = (traverseproc)oc_pydict_traverse,
    .tp_clear = (inquiry)oc_pydict_clear,
    .tp_as_mapping = &oc_pydict_as_mapping,
    .tp_as_sequence = &oc_pydict_as_sequence,
    .tp_iter = (getiterfunc)oc_pydict_iter,
    .tp_methods = oc_pydict_methods,
    .tp_repr = (reprfunc)oc_pydict_repr,
    .tp_richcompare = oc_pydict_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
};

static PyTypeObject oc_pyevent_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ocelot.PantherEvent",
    .tp_doc = "The event given to Panther rules: an immutable, case-insensitive Mapping.",
    .tp_basicsize = sizeof(oc_pydict_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_MAPPING,
    .tp_dealloc = (destructor)oc_pydict_dealloc,
    .tp_traverse = (traverseproc)oc_pydict_traverse,
    .tp_clear = (inquiry)oc_pydict_clear,
    .tp_as_mapping = &oc_pydict_as_mapping,
    .tp_as_sequence = &oc_pydict_as_sequence,
    .tp_iter = (getiterfunc)oc_pydict_iter,
    .tp_methods = oc_pyevent_methods,
    .tp_repr = (reprfunc)oc_pydict_repr,
    .tp_richcompare = oc_pydict_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
};

static PyTypeObject oc_pylist_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ocelot.ImmutableList",
    .tp_doc = "An immutable sequence over a JSON array; equal to lists and tuples.",
    .tp_basicsize = sizeof(oc_pylist_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
    .tp_dealloc = (destructor)oc_pylist_dealloc,
    .tp_as_sequence = &oc_pylist_as_sequence,
    .tp_as_mapping = &oc_pylist_as_mapping,
    .tp_iter = (getiterfunc)oc_pylist_iter,
    .tp_methods = oc_pylist_methods,
    .tp_repr = (reprfunc)oc_pylist_repr,
    .tp_richcompare = oc_pylist_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
};

static PyTypeObject oc_pydm_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ocelot.DataModel",
    .tp_basicsize = sizeof(oc_pydm_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)oc_pydm_dealloc,
    .tp_traverse = (traverseproc)oc_pydm_traverse,
    .tp_clear = (inquiry)oc_pydm_clear,
};

int oc_pyevent_add_types(PyObject *m) {
  oc_pyevent_type.tp_base = &oc_pydict_type;
  PyTypeObject *types[] = {&oc_pyscope_type, &oc_pydict_type, &oc_pyevent_type, &oc_pylist_type,
                           &oc_pydm_type};
  const char *names[] = {"EventScope", "ImmutableCaseInsensitiveDict", "PantherEvent",
                         "ImmutableList", "DataModel"};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (PyType_Ready(types[i]) != 0) return -1;
    Py_INCREF(types[i]);
    if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) != 0) {
      Py_DECREF(types[i]);
      return -1;
    }
  }
  return 0;
}
