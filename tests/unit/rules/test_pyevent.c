/* Unit tests of the Panther event type over oc_json_t (pyevent.h), run in the embedded
 * interpreter (pyhost.h): each check runs a snippet with the event bound to `e` and
 * compares repr(r) with the expected text. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/rules-engine/pyevent.h"
#include "services/rules-engine/pyhost.h"

static oc_arena_t arena;
static char result[4096];

static PyObject *make_event(const char *json, PyObject *dm) {
  char err[256];
  oc_json_t *root = oc_json_parse(&arena, json, strlen(json), 64, err, sizeof(err));
  if (!root) {
    fprintf(stderr, "bad test JSON: %s\n", err);
    return NULL;
  }
  PyObject *ev = oc_pyevent_new(root, dm);
  if (!ev) PyErr_Print();
  return ev;
}

/* Runs code with e bound; returns repr(r), or "EXC:<class>" when it raised. */
static const char *run(PyObject *ev, const char *code) {
  PyObject *g = PyDict_New(), *v = NULL;
  PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
  if (ev) PyDict_SetItemString(g, "e", ev);
  PyObject *x = PyRun_String(code, Py_file_input, g, g);
  if (x) {
    v = PyDict_GetItemString(g, "r");
    PyObject *rep = v ? PyObject_Repr(v) : NULL;
    snprintf(result, sizeof(result), "%s", rep ? PyUnicode_AsUTF8(rep) : "NO r");
    Py_XDECREF(rep);
    Py_DECREF(x);
  } else {
    PyObject *t, *val, *tb;
    PyErr_Fetch(&t, &val, &tb);
    snprintf(result, sizeof(result), "EXC:%s", t ? ((PyTypeObject *)t)->tp_name : "?");
    Py_XDECREF(t);
    Py_XDECREF(val);
    Py_XDECREF(tb);
  }
  Py_DECREF(g);
  return result;
}

#define CHECK_RUN(ev, code, expect) OC_CHECK_STR(run((ev), (code)), (expect))

static void test_lookup(void) {
  PyObject *e = make_event("{\"a\":1,\"A\":2,\"Name\":\"x\",\"n\":null}", NULL);
  CHECK_RUN(e, "r = (e['a'], e['A'], e['name'], e['NAME'])", "(1, 2, 'x', 'x')");
  CHECK_RUN(e, "r = e['missing']", "EXC:KeyError");
  CHECK_RUN(e, "r = ('nAmE' in e, 'zz' in e, 5 in e, e.get('zz', 7), e.get('n', 7))",
            "(True, False, False, 7, None)");
  CHECK_RUN(e, "r = (len(e), list(e), e.keys(), e.values())",
            "(4, ['a', 'A', 'Name', 'n'], ['a', 'A', 'Name', 'n'], [1, 2, 'x', None])");
  CHECK_RUN(e, "r = e.items()[2]", "('Name', 'x')");
  oc_pyevent_release(e);
}

static void test_immutable_mapping(void) {
  PyObject *e = make_event("{\"o\":{\"k\":1},\"l\":[1,2,{\"x\":\"y\"}]}", NULL);
  CHECK_RUN(e, "e['o'] = 1", "EXC:TypeError");
  CHECK_RUN(e, "del e['o']", "EXC:TypeError");
  CHECK_RUN(e, "e['o']['k'] = 2", "EXC:TypeError");
  CHECK_RUN(e, "e['l'][0] = 2", "EXC:TypeError");
  CHECK_RUN(e, "hash(e)", "EXC:TypeError");
  CHECK_RUN(e,
            "from collections.abc import Mapping, Sequence\n"
            "r = (isinstance(e, Mapping), isinstance(e, dict), isinstance(e['o'], Mapping),\n"
            "     isinstance(e['l'], Sequence), isinstance(e['l'], list))",
            "(True, False, True, True, False)");
  CHECK_RUN(e, "r = (type(e).__name__, type(e['o']).__name__, type(e['l']).__name__)",
            "('PantherEvent', 'ImmutableCaseInsensitiveDict', 'ImmutableList')");
  CHECK_RUN(e, "r = (e['o'] is e['o'], e['l'] is e['l'])", "(True, True)"); /* cached */
  oc_pyevent_release(e);
}

static void test_lists(void) {
  PyObject *e = make_event("{\"l\":[1,2,3],\"n\":[[1],[2]],\"o\":[{\"K\":\"v\"}]}", NULL);
  CHECK_RUN(e, "r = (e['l'] == [1, 2, 3], e['l'] == (1, 2, 3), e['l'] != [3, 2, 1])",
            "(True, True, True)");
  CHECK_RUN(e, "r = (e['l'] == [1, 2], e['l'] == 'abc', e['n'] == [[1], [2]])",
            "(False, False, True)");
  CHECK_RUN(e, "r = (len(e['l']), e['l'][-1], e['l'][0:2], 2 in e['l'], e['l'].index(3))",
            "(3, 3, (1, 2), True, 2)");
  CHECK_RUN(e, "r = (e['o'][0]['k'], list(e['l']), e['l'].count(1), e['l'] < [1, 2, 4])",
            "('v', [1, 2, 3], 1, True)");
  CHECK_RUN(e, "r = e['l'][3]", "EXC:IndexError");
  CHECK_RUN(e, "r = type(e['n'].copy()[0]).__name__", "'list'");
  oc_pyevent_release(e);
}

static void test_numbers(void) {
  PyObject *e = make_event(
      "{\"i\":1,\"f\":1.5,\"x\":1e3,\"neg\":-7,\"big\":123456789012345678901234567890,"
      "\"t\":true,\"s\":\"caf\\u00e9\"}",
      NULL);
  CHECK_RUN(e, "r = (e['i'], e['f'], e['x'], e['neg'], e['big'], e['t'], e['s'])",
            "(1, 1.5, 1000.0, -7, 123456789012345678901234567890, True, 'café')");
  oc_pyevent_release(e);
}

static void test_deep_get(void) {
  PyObject *e = make_event(
      "{\"userIdentity\":{\"sessionContext\":{\"attributes\":{\"mfa\":\"true\"}}},"
      "\"l\":[{\"a\":1}],\"n\":null}",
      NULL);
  CHECK_RUN(e, "r = e.deep_get('USERIDENTITY', 'sessioncontext', 'Attributes', 'MFA')", "'true'");
  CHECK_RUN(e, "r = e.deep_get('userIdentity', 'missing', default='d')", "'d'");
  CHECK_RUN(e, "r = e.deep_get('n', default='d')", "'d'");      /* None -> default */
  CHECK_RUN(e, "r = e.deep_get('l', 'a', default='d')", "'d'"); /* no walking into lists */
  CHECK_RUN(e, "r = e.deep_get('userIdentity', 'sessionContext')['ATTRIBUTES']['mfa']", "'true'");
  CHECK_RUN(e, "r = e.deep_get('userIdentity', bogus=1)", "EXC:TypeError");
  oc_pyevent_release(e);
}

static void test_deep_walk(void) {
  PyObject *e = make_event(
      "{\"R\":[{\"p\":{\"b\":\"x\"}},{\"p\":{\"b\":\"y\"}},{\"p\":{\"b\":\"x\"}},{\"p\":{}}],"
      "\"empty\":[[],[[]]],\"one\":[{\"v\":[\"only\"]}],\"obj\":{\"k\":{\"z\":[1,2]}},"
      "\"n\":null,\"Case\":1}",
      NULL);
  CHECK_RUN(e, "r = e.deep_walk('R', 'p', 'b')", "['x', 'y']");
  CHECK_RUN(e, "r = e.deep_walk('R', 'p', 'b', return_val='first')", "'x'");
  CHECK_RUN(e, "r = e.deep_walk('R', 'p', 'b', return_val='last')", "'y'");
  CHECK_RUN(e, "r = e.deep_walk('R', 'p', 'b', return_val='bogus')", "'all'"); /* as Panther */
  CHECK_RUN(e, "r = e.deep_walk('empty', default='d')", "'d'");
  CHECK_RUN(e, "r = e.deep_walk('one', 'v')", "'only'");
  CHECK_RUN(e, "r = e.deep_walk('obj', 'k')", "{'z': [1, 2]}");
  CHECK_RUN(e, "r = type(e.deep_walk('obj', 'k', 'z')).__name__", "'list'");
  CHECK_RUN(e, "r = e.deep_walk('n', default='d')", "'d'");
  CHECK_RUN(e, "r = e.deep_walk('case', default='d')", "'d'"); /* raw containers: exact keys */
  CHECK_RUN(e, "r = e.deep_walk('Case', 'x', default='d')", "'d'");
  CHECK_RUN(e, "r = e.deep_walk('R', 'p')", "EXC:TypeError"); /* dicts are unhashable */
  oc_pyevent_release(e);
}

static void test_udm(void) {
  PyObject *g = PyDict_New();
  PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
  PyObject *x = PyRun_String(
      "paths = {'user': '$.actor.name', 'ip': 'src', 'first': 'res[0].id', 'all': 'res[*].id',\n"
      "         'sub': 'actor'}\n"
      "def kind(event):\n"
      "    return 'k-' + event['type']\n"
      "methods = {'kind': kind}\n",
      Py_file_input, g, g);
  OC_CHECK(x != NULL);
  Py_XDECREF(x);
  PyObject *dm = oc_pyevent_datamodel_new(PyDict_GetItemString(g, "paths"),
                                          PyDict_GetItemString(g, "methods"));
  OC_CHECK(dm != NULL);
  PyObject *e = make_event(
      "{\"actor\":{\"name\":\"alice\",\"Inner\":{\"v\":1}},\"src\":\"1.2.3.4\",\"type\":\"t\","
      "\"res\":[{\"id\":\"a\"},{\"id\":\"b\"}],\"plain\":5}",
      dm);
  CHECK_RUN(e, "r = (e.udm('user'), e.udm('ip'), e.udm('kind'), e.udm('first'))",
            "('alice', '1.2.3.4', 'k-t', 'a')");
  CHECK_RUN(e, "r = e.udm('all')", "EXC:Exception"); /* several matches */
  CHECK_RUN(e, "r = (e.udm('plain'), e.udm('nothing', default='d'), e.udm(default='z'))",
            "(5, 'd', 'z')");
  CHECK_RUN(e, "r = (e.udm('sub', 'inner', 'V'), e.udm('sub', 'x', default='d'))", "(1, 'd')");
  CHECK_RUN(e, "r = (e.udm_path('user'), e.udm_path('kind'), e.udm_path('nothing'))",
            "('$.actor.name', 'kind', None)");
  oc_pyevent_release(e);
  /* without a data model: deep_get */
  e = make_event("{\"user\":{\"Name\":\"bob\"}}", NULL);
  CHECK_RUN(e, "r = (e.udm('user', 'name'), e.udm_path('user'))", "('bob', None)");
  oc_pyevent_release(e);
  Py_DECREF(dm);
  Py_DECREF(g);
}

static void test_copy_json_time(void) {
  PyObject *e = make_event(
      "{\"p_event_time\":\"2024-03-01 12:00:05.123456000\",\"o\":{\"l\":[1,{\"a\":null}]},"
      "\"f\":2.5}",
      NULL);
  CHECK_RUN(e, "c = e.copy()\nr = (type(c).__name__, type(c['o']).__name__, type(c['o']['l']))",
            "('dict', 'dict', <class 'list'>)");
  CHECK_RUN(e, "r = e.to_dict() == e and e == e.copy() and e['o'] == {'l': [1, {'a': None}]}",
            "True");
  CHECK_RUN(e, "import json\nr = json.dumps(e)",
            "'{\"p_event_time\": \"2024-03-01 12:00:05.123456000\", \"o\": {\"l\": [1, {\"a\": "
            "null}]}, \"f\": 2.5}'");
  CHECK_RUN(e, "import json\nr = json.dumps([e['o']['l']])", "'[[1, {\"a\": null}]]'");
  CHECK_RUN(e, "r = e.event_time_epoch()", "1709294405");
  oc_pyevent_release(e);
  e = make_event("{\"p_event_time\":\"2024-03-01T12:00:05Z\"}", NULL);
  CHECK_RUN(e, "r = e.event_time_epoch()", "1709294405");
  oc_pyevent_release(e);
  e = make_event("{\"p_event_time\":\"yesterday\"}", NULL);
  CHECK_RUN(e, "r = e.event_time_epoch()", "EXC:ValueError");
  oc_pyevent_release(e);
  e = make_event("{}", NULL);
  CHECK_RUN(e, "r = e.event_time_epoch()", "None");
  oc_pyevent_release(e);
}

/* A wrapper kept past the event's release raises instead of reading freed memory. */
static void test_release(void) {
  PyObject *e = make_event("{\"o\":{\"k\":1},\"l\":[1]}", NULL);
  PyObject *g = PyDict_New();
  PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
  PyDict_SetItemString(g, "e", e);
  PyObject *x = PyRun_String("o = e['o']\nl = e['l']\n", Py_file_input, g, g);
  Py_XDECREF(x);
  PyDict_DelItemString(g, "e");
  oc_pyevent_release(e);
  PyObject *o = PyDict_GetItemString(g, "o"), *l = PyDict_GetItemString(g, "l");
  CHECK_RUN(o, "r = e['k']", "EXC:RuntimeError");
  CHECK_RUN(o, "r = len(e)", "EXC:RuntimeError");
  CHECK_RUN(l, "r = e[0]", "EXC:RuntimeError");
  Py_DECREF(g);
}

/* Python objects are made only for what a rule touches: a 200-member event costs one
 * wrapper until a member is read. */
static void test_lazy(void) {
  char json[20000];
  size_t n = (size_t)snprintf(json, sizeof(json), "{");
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"k%d\":{\"v\":%d}", i ? "," : "", i, i);
  snprintf(json + n, sizeof(json) - n, "}");
  const char *count =
      "import gc, _ocelot\n"
      "def count():\n"
      "    return sum(1 for o in gc.get_objects() if isinstance(o, "
      "_ocelot.ImmutableCaseInsensitiveDict))\n";
  run(NULL, count);
  PyObject *g = PyDict_New();
  PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
  PyObject *x = PyRun_String(count, Py_file_input, g, g);
  Py_XDECREF(x);
  PyObject *fn = PyDict_GetItemString(g, "count");
  PyObject *before = PyObject_CallNoArgs(fn);
  PyObject *e = make_event(json, NULL);
  PyObject *after = PyObject_CallNoArgs(fn);
  OC_CHECK_INT(PyLong_AsLong(after) - PyLong_AsLong(before), 1);
  CHECK_RUN(e, "r = e['k150']['v']", "150");
  PyObject *touched = PyObject_CallNoArgs(fn);
  OC_CHECK_INT(PyLong_AsLong(touched) - PyLong_AsLong(before), 2);
  Py_XDECREF(before);
  Py_XDECREF(after);
  Py_XDECREF(touched);
  oc_pyevent_release(e);
  Py_DECREF(g);
}

int main(void) {
  char err[512];
  oc_arena_init(&arena, 64 * 1024);
  if (!oc_pyhost_init(err, sizeof(err))) {
    fprintf(stderr, "could not start Python: %s\n", err);
    return 1;
  }
  static const oc_test_case_t cases[] = {
      OC_TEST(test_lookup),  OC_TEST(test_immutable_mapping), OC_TEST(test_lists),
      OC_TEST(test_numbers), OC_TEST(test_deep_get),          OC_TEST(test_deep_walk),
      OC_TEST(test_udm),     OC_TEST(test_copy_json_time),    OC_TEST(test_release),
      OC_TEST(test_lazy),
  };
  int rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  oc_pyhost_fini();
  oc_arena_deinit(&arena);
  return rc;
}
