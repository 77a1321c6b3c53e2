/* pyhost.c: the embedded interpreter, its bootstrap module and the time-budget watchdog
 * (pyhost.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pyhost.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "services/rules-engine/pyevent.h"

/* Python side of the host: file loading, global helpers by module name, exception
 * descriptions, json.dumps of the event types, and the ABC registrations that make the
 * C types a Mapping and a Sequence. Kept in Python because none of it is per event. */
static const char oc_pyhost_boot_src[] =
    "import sys, json, importlib.util, traceback, collections.abc\n"
    "import _ocelot\n"
    "collections.abc.Mapping.register(_ocelot.ImmutableCaseInsensitiveDict)\n"
    "collections.abc.Sequence.register(_ocelot.ImmutableList)\n"
    "class OcelotTimeoutError(BaseException):\n"
    "    '''a rule ran past its time budget'''\n"
    "_json_default = json.JSONEncoder.default\n"
    "def _ocelot_json_default(self, o):\n"
    "    if isinstance(o, (_ocelot.ImmutableCaseInsensitiveDict, _ocelot.ImmutableList)):\n"
    "        return o.copy()\n"
    "    return _json_default(self, o)\n"
    "json.JSONEncoder.default = _ocelot_json_default\n"
    "def _ctx_default(o):\n"
    "    if isinstance(o, (_ocelot.ImmutableCaseInsensitiveDict, _ocelot.ImmutableList)):\n"
    "        return o.copy()\n"
    "    return str(o)\n"
    "def dumps_context(ctx):\n"
    "    if not isinstance(ctx, dict):\n"
    "        ctx = dict(ctx)\n"
    "    return json.dumps(ctx, default=_ctx_default)\n"
    "def is_mapping(o):\n"
    "    return isinstance(o, collections.abc.Mapping)\n"
    "_globals = {}\n"
    "class _GlobalFinder:\n"
    "    @classmethod\n"
    "    def find_spec(cls, name, path=None, target=None):\n"
    "        p = _globals.get(name)\n"
    "        return importlib.util.spec_from_file_location(name, p) if p else None\n"
    "sys.meta_path.insert(0, _GlobalFinder)\n"
    "def register_global(name, path):\n"
    "    _globals[name] = path\n"
    "    sys.modules.pop(name, None)\n"
    "def clear_globals():\n"
    "    for n in list(_globals):\n"
    "        sys.modules.pop(n, None)\n"
    "    _globals.clear()\n"
    "def load_file(name, path):\n"
    "    spec = importlib.util.spec_from_file_location(name, path)\n"
    "    if spec is None:\n"
    "        raise ImportError('cannot load %s' % path)\n"
    "    mod = importlib.util.module_from_spec(spec)\n"
    "    spec.loader.exec_module(mod)\n"
    "    return mod\n"
    "budget_ms = 0\n"
    "def describe(exc):\n"
    "    if isinstance(exc, OcelotTimeoutError) and not exc.args:\n"
    "        exc.args = ('rule ran past its time budget of %d ms' % budget_ms,)\n"
    "    where = ''\n"
    "    if isinstance(exc, SyntaxError) and exc.filename:\n"
    "        where = '%s, line %s' % (exc.filename, exc.lineno)\n"
    "    else:\n"
    "        tb, last = exc.__traceback__, None\n"
    "        while tb is not None:\n"
    "            last, tb = tb, tb.tb_next\n"
    "        if last is not None:\n"
    "            co = last.tb_frame.f_code\n"
    "            where = '%s, line %d, in %s' % (co.co_filename, last.tb_lineno, co.co_name)\n"
    "    try:\n"
    "        r = repr(exc)\n"
    "    except BaseException:\n"
    "        r = type(exc).__name__ + '(...)'\n"
    "    if isinstance(exc, SyntaxError):\n"
    "        text = '%s: %s' % (type(exc).__name__, exc.msg)\n"
    "    else:\n"
    "        text = ''.join(traceback.format_exception_only(type(exc), exc)).strip()\n"
    "        text = ' '.join(text.split('\\n'))\n"
    "    if where:\n"
    "        text += ' (' + where + ')'\n"
    "    return type(exc).__name__, r, text, isinstance(exc, OcelotTimeoutError)\n";

static PyObject *oc_pyhost_bootmod;
static PyObject *oc_pyhost_timeout_exc;
static bool oc_pyhost_started;

/* ---- watchdog ---------------------------------------------------------------------- */

#define OC_PYHOST_POLL_MS 2

static pthread_t oc_wd_thread;
static bool oc_wd_running;
static atomic_bool oc_wd_stop;
static atomic_ulong oc_wd_seq;       /* changes at every arm and disarm */
static atomic_long oc_wd_deadline;   /* monotonic ms; 0 when disarmed */
static atomic_ulong oc_wd_fired_seq; /* the arming a pending call was queued for */
static atomic_ulong oc_wd_timeouts;
static int oc_wd_budget_ms;

static long oc_wd_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long oc_wd_main_tid; /* Python's id of the thread that runs rules */

/* The watchdog. Py_AddPendingCall from another thread does not wake 3.11's eval loop
 * (it recomputes the eval breaker for the calling thread), so the watchdog takes the
 * GIL, which the rule's thread gives up within the switch interval (5 ms), and raises
 * the timeout there with PyThreadState_SetAsyncExc. Holding the GIL makes the check of
 * the arming race-free: the rule's thread disarms without releasing it. */
static void *oc_wd_main(void *arg) {
  struct timespec nap = {0, OC_PYHOST_POLL_MS * 1000000L};
  while (!atomic_load(&oc_wd_stop)) {
    nanosleep(&nap, NULL);
    long deadline = atomic_load(&oc_wd_deadline);
    unsigned long seq = atomic_load(&oc_wd_seq);
    if (deadline == 0 || oc_wd_now_ms() < deadline) continue;
    if (atomic_load(&oc_wd_fired_seq) == seq) continue;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!atomic_load(&oc_wd_stop) && atomic_load(&oc_wd_seq) == seq &&
        atomic_load(&oc_wd_deadline) != 0) {
      /* SetAsyncExc takes the class; describe() gives it its message. */
      if (PyThreadState_SetAsyncExc(oc_wd_main_tid, oc_pyhost_timeout_exc) == 1)
        atomic_fetch_add(&oc_wd_timeouts, 1);
    }
    atomic_store(&oc_wd_fired_seq, seq);
    PyGILState_Release(g);
  }
  return NULL;
}

void oc_pyhost_arm(int ms) {
  if (ms <= 0) return;
  oc_wd_budget_ms = ms;
  atomic_fetch_add(&oc_wd_seq, 1);
  atomic_store(&oc_wd_deadline, oc_wd_now_ms() + ms);
}

void oc_pyhost_disarm(void) {
  if (atomic_load(&oc_wd_deadline) == 0) return;
  unsigned long seq = atomic_load(&oc_wd_seq);
  atomic_store(&oc_wd_deadline, 0);
  atomic_fetch_add(&oc_wd_seq, 1);
  /* A timeout raised as the code returned would otherwise hit the next call. */
  if (atomic_load(&oc_wd_fired_seq) == seq) PyThreadState_SetAsyncExc(oc_wd_main_tid, NULL);
}

unsigned long oc_pyhost_timeouts(void) {
  return atomic_load(&oc_wd_timeouts);
}

/* ---- interpreter ------------------------------------------------------------------- */

static PyObject *oc_pyhost_init_module(void) {
  static PyModuleDef def = {PyModuleDef_HEAD_INIT,
                            "_ocelot",
                            "Ocelot's rule host: the Panther event types.",
                            -1,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL};
  PyObject *m = PyModule_Create(&def);
  if (!m) return NULL;
  if (oc_pyevent_add_types(m) != 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}

/* The pending exception as text, for start-up failures. */
static void oc_pyhost_errtext(char *errstr, size_t errstr_size, const char *what) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject *s = value ? PyObject_Str(value) : NULL;
  const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
  snprintf(errstr, errstr_size, "%s: %s", what, text ? text : "unknown error");
  Py_XDECREF(s);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
}

bool oc_pyhost_init(char *errstr, size_t errstr_size) {
  PyConfig config;
  PyStatus st;
  PyObject *code = NULL;

  if (oc_pyhost_started) return true;
  if (PyImport_AppendInittab("_ocelot", oc_pyhost_init_module) != 0) {
    snprintf(errstr, errstr_size, "could not register the _ocelot module");
    return false;
  }
  /* Isolated: no PYTHON* environment, no user site, no signal handlers (the service
   * runtime owns SIGTERM/SIGINT). System site-packages stay importable for rules. */
  PyConfig_InitIsolatedConfig(&config);
  config.site_import = 1;
  st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st)) {
    snprintf(errstr, errstr_size, "could not start Python: %s",
             st.err_msg ? st.err_msg : "unknown error");
    return false;
  }
  code = Py_CompileString(oc_pyhost_boot_src, "<ocelot-boot>", Py_file_input);
  if (code) oc_pyhost_bootmod = PyImport_ExecCodeModule("_ocelot_boot", code);
  Py_XDECREF(code);
  if (oc_pyhost_bootmod)
    oc_pyhost_timeout_exc = PyObject_GetAttrString(oc_pyhost_bootmod, "OcelotTimeoutError");
  if (!oc_pyhost_bootmod || !oc_pyhost_timeout_exc) {
    oc_pyhost_errtext(errstr, errstr_size, "could not start the rule host");
    Py_CLEAR(oc_pyhost_bootmod);
    Py_FinalizeEx();
    return false;
  }
  atomic_store(&oc_wd_stop, false);
  oc_wd_main_tid = PyThread_get_thread_ident();
  if (pthread_create(&oc_wd_thread, NULL, oc_wd_main, NULL) == 0) oc_wd_running = true;
  oc_pyhost_started = true;
  return true;
}

void oc_pyhost_fini(void) {
  if (!oc_pyhost_started) return;
  if (oc_wd_running) {
    atomic_store(&oc_wd_stop, true);
    PyThreadState *ts = PyEval_SaveThread(); /* the watchdog may be waiting for the GIL */
    pthread_join(oc_wd_thread, NULL);
    PyEval_RestoreThread(ts);
    oc_wd_running = false;
  }
  Py_CLEAR(oc_pyhost_timeout_exc);
  Py_CLEAR(oc_pyhost_bootmod);
  Py_FinalizeEx();
  oc_pyhost_started = false;
}

bool oc_pyhost_ready(void) {
  return oc_pyhost_started;
}

PyObject *oc_pyhost_boot(void) {
  return oc_pyhost_bootmod;
}

void oc_pyhost_fetch_exc(oc_pyexc_t *exc) {
  PyObject *type, *value, *tb, *d = NULL;
  memset(exc, 0, sizeof(*exc));
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (value && tb) PyException_SetTraceback(value, tb);
  if (value && oc_pyhost_bootmod && PyErr_GivenExceptionMatches(value, oc_pyhost_timeout_exc)) {
    PyObject *ms = PyLong_FromLong(oc_wd_budget_ms);
    if (!ms || PyObject_SetAttrString(oc_pyhost_bootmod, "budget_ms", ms) != 0) PyErr_Clear();
    Py_XDECREF(ms);
  }
  if (value && oc_pyhost_bootmod)
    d = PyObject_CallMethod(oc_pyhost_bootmod, "describe", "O", value);
  const char *cls = NULL, *repr = NULL, *msg = NULL;
  int timeout = 0;
  if (d && PyArg_ParseTuple(d, "sssp", &cls, &repr, &msg, &timeout)) {
    snprintf(exc->cls, sizeof(exc->cls), "%s", cls);
    snprintf(exc->repr, sizeof(exc->repr), "%s", repr);
    snprintf(exc->msg, sizeof(exc->msg), "%s", msg);
    exc->timeout = timeout != 0;
  } else {
    PyErr_Clear();
    const char *name = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    snprintf(exc->cls, sizeof(exc->cls), "%s", name);
    snprintf(exc->repr, sizeof(exc->repr), "%s()", name);
    snprintf(exc->msg, sizeof(exc->msg), "%s (could not describe the exception)", name);
  }
  Py_XDECREF(d);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
}

bool oc_pyhost_register_global(const char *name, const char *path, char *errstr,
                               size_t errstr_size) {
  PyObject *r = PyObject_CallMethod(oc_pyhost_bootmod, "register_global", "ss", name, path);
  if (!r) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    snprintf(errstr, errstr_size, "%s", exc.msg);
    return false;
  }
  Py_DECREF(r);
  return true;
}

void oc_pyhost_clear_globals(void) {
  if (!oc_pyhost_bootmod) return;
  PyObject *r = PyObject_CallMethod(oc_pyhost_bootmod, "clear_globals", NULL);
  if (!r) PyErr_Clear();
  Py_XDECREF(r);
}

PyObject *oc_pyhost_load_file(const char *name, const char *path, char *errstr,
                              size_t errstr_size) {
  PyObject *m = PyObject_CallMethod(oc_pyhost_bootmod, "load_file", "ss", name, path);
  if (!m) {
    oc_pyexc_t exc;
    oc_pyhost_fetch_exc(&exc);
    snprintf(errstr, errstr_size, "%s", exc.msg);
  }
  return m;
}
