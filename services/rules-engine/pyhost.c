/* pyhost.c: the embedded interpreter, its bootstrap module and the time-budget watchdog
 * (pyhost.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "services/rules-engine/pyhost.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    "memory_cap_mb = 0\n"
    "def describe(exc):\n"
    "    if isinstance(exc, OcelotTimeoutError) and not exc.args:\n"
    "        exc.args = ('rule ran past its time budget of %d ms' % budget_ms,)\n"
    "    if isinstance(exc, MemoryError) and not exc.args and memory_cap_mb:\n"
    "        exc.args = ('rule went past its memory cap of %d MB' % memory_cap_mb,)\n"
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
/* Odd while armed, even while not; only the rules' thread writes it (with the GIL), so
 * arming costs two plain stores and no clock read: the watchdog times an arming itself,
 * from the first poll that sees it (the budget is late by at most one poll). */
static atomic_ulong oc_wd_seq;
static unsigned long oc_wd_seq_local; /* the rules' thread's copy */
static atomic_int oc_wd_budget;       /* ms of the current arming */
static atomic_ulong oc_wd_fired_seq;  /* the arming an exception was raised for */
static atomic_ulong oc_wd_timeouts;
static int oc_wd_budget_ms; /* the last budget, for the message */

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
 * the arming race-free: the rule's thread arms and disarms without releasing it. */
static void *oc_wd_main(void *arg) {
  struct timespec nap = {0, OC_PYHOST_POLL_MS * 1000000L};
  unsigned long seen = 0;
  long since = 0;
  (void)arg;
  while (!atomic_load(&oc_wd_stop)) {
    nanosleep(&nap, NULL);
    unsigned long seq = atomic_load_explicit(&oc_wd_seq, memory_order_acquire);
    if (!(seq & 1)) continue;
    long now = oc_wd_now_ms();
    if (seq != seen) {
      seen = seq;
      since = now - OC_PYHOST_POLL_MS / 2; /* armed some time during the nap */
      continue;
    }
    if (now - since < atomic_load(&oc_wd_budget)) continue;
    if (atomic_load(&oc_wd_fired_seq) == seq) continue;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!atomic_load(&oc_wd_stop) && atomic_load(&oc_wd_seq) == seq) {
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
  if (ms <= 0 || (oc_wd_seq_local & 1)) return;
  oc_wd_budget_ms = ms;
  atomic_store_explicit(&oc_wd_budget, ms, memory_order_relaxed);
  atomic_store_explicit(&oc_wd_seq, ++oc_wd_seq_local, memory_order_release);
}

void oc_pyhost_disarm(void) {
  if (!(oc_wd_seq_local & 1)) return;
  unsigned long seq = oc_wd_seq_local;
  atomic_store_explicit(&oc_wd_seq, ++oc_wd_seq_local, memory_order_release);
  /* A timeout raised as the code returned would otherwise hit the next call. */
  if (atomic_load_explicit(&oc_wd_fired_seq, memory_order_acquire) == seq)
    PyThreadState_SetAsyncExc(oc_wd_main_tid, NULL);
}

unsigned long oc_pyhost_timeouts(void) {
  return atomic_load(&oc_wd_timeouts);
}

/* ---- memory cap -------------------------------------------------------------------- */

/* pymalloc serves small blocks from arenas taken from the arena allocator and passes
 * bigger ones to the raw allocator, so these two see every byte Python holds. The count
 * is signed: blocks allocated before the wrappers were installed and freed after make it
 * drift down a little, which only makes the cap a bit more lenient. */
static PyMemAllocatorEx oc_mem_raw_prev;
static PyObjectArenaAllocator oc_mem_arena_prev;
static bool oc_mem_installed;
static atomic_long oc_mem_used;
static atomic_size_t oc_mem_cap_bytes;
static atomic_ulong oc_mem_errors;
static _Thread_local bool oc_mem_armed; /* only the evaluating thread is capped */
static _Thread_local long oc_mem_base;
static _Thread_local long oc_mem_limit;
static _Thread_local bool oc_mem_hit_flag;

static bool oc_mem_refuse(size_t size) {
  if (!oc_mem_armed) return false;
  long used = atomic_load_explicit(&oc_mem_used, memory_order_relaxed);
  if (size > (size_t)LONG_MAX / 2 || used - oc_mem_base + (long)size > oc_mem_limit) {
    if (!oc_mem_hit_flag) atomic_fetch_add(&oc_mem_errors, 1);
    oc_mem_hit_flag = true;
    return true;
  }
  return false;
}

static void oc_mem_count(long delta) {
  atomic_fetch_add_explicit(&oc_mem_used, delta, memory_order_relaxed);
}

static void *oc_mem_raw_malloc(void *ctx, size_t size) {
  (void)ctx;
  if (oc_mem_refuse(size)) return NULL;
  void *p = oc_mem_raw_prev.malloc(oc_mem_raw_prev.ctx, size);
  if (p) oc_mem_count((long)malloc_usable_size(p));
  return p;
}

static void *oc_mem_raw_calloc(void *ctx, size_t nelem, size_t elsize) {
  (void)ctx;
  if (elsize && nelem > SIZE_MAX / elsize) return NULL;
  if (oc_mem_refuse(nelem * elsize)) return NULL;
  void *p = oc_mem_raw_prev.calloc(oc_mem_raw_prev.ctx, nelem, elsize);
  if (p) oc_mem_count((long)malloc_usable_size(p));
  return p;
}

static void *oc_mem_raw_realloc(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  size_t old = ptr ? malloc_usable_size(ptr) : 0;
  if (size > old && oc_mem_refuse(size - old)) return NULL;
  void *p = oc_mem_raw_prev.realloc(oc_mem_raw_prev.ctx, ptr, size);
  if (p) oc_mem_count((long)malloc_usable_size(p) - (long)old);
  return p;
}

static void oc_mem_raw_free(void *ctx, void *ptr) {
  (void)ctx;
  if (!ptr) return;
  oc_mem_count(-(long)malloc_usable_size(ptr));
  oc_mem_raw_prev.free(oc_mem_raw_prev.ctx, ptr);
}

static void *oc_mem_arena_alloc(void *ctx, size_t size) {
  (void)ctx;
  if (oc_mem_refuse(size)) return NULL;
  void *p = oc_mem_arena_prev.alloc(oc_mem_arena_prev.ctx, size);
  if (p) oc_mem_count((long)size);
  return p;
}

static void oc_mem_arena_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  if (ptr) oc_mem_count(-(long)size);
  oc_mem_arena_prev.free(oc_mem_arena_prev.ctx, ptr, size);
}

/* Before Python starts, so every block it frees went through the wrappers. */
static void oc_mem_install(void) {
  if (oc_mem_installed) return;
  PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &oc_mem_raw_prev);
  PyMemAllocatorEx raw = {NULL, oc_mem_raw_malloc, oc_mem_raw_calloc, oc_mem_raw_realloc,
                          oc_mem_raw_free};
  PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
  PyObject_GetArenaAllocator(&oc_mem_arena_prev);
  PyObjectArenaAllocator arena = {NULL, oc_mem_arena_alloc, oc_mem_arena_free};
  PyObject_SetArenaAllocator(&arena);
  oc_mem_installed = true;
}

void oc_pyhost_set_memory_cap(size_t bytes) {
  atomic_store(&oc_mem_cap_bytes, bytes);
}

size_t oc_pyhost_memory_cap(void) {
  return atomic_load(&oc_mem_cap_bytes);
}

size_t oc_pyhost_memory_used(void) {
  long used = atomic_load(&oc_mem_used);
  return used > 0 ? (size_t)used : 0;
}

void oc_pyhost_mem_arm(void) {
  size_t cap = atomic_load(&oc_mem_cap_bytes);
  oc_mem_hit_flag = false;
  if (!cap || !oc_mem_installed) return;
  oc_mem_base = atomic_load(&oc_mem_used);
  oc_mem_limit = cap > (size_t)LONG_MAX / 2 ? LONG_MAX / 2 : (long)cap;
  oc_mem_armed = true;
}

void oc_pyhost_mem_disarm(void) {
  oc_mem_armed = false;
}

bool oc_pyhost_mem_hit(void) {
  return oc_mem_hit_flag;
}

unsigned long oc_pyhost_memory_errors(void) {
  return atomic_load(&oc_mem_errors);
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

void oc_pyhost_errtext(char *errstr, size_t errstr_size, const char *what) {
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
  oc_mem_install();
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
  bool memory = oc_mem_hit_flag && value && PyErr_GivenExceptionMatches(value, PyExc_MemoryError);
  if (memory && oc_pyhost_bootmod) {
    PyObject *mb = PyLong_FromSize_t(atomic_load(&oc_mem_cap_bytes) / (1024 * 1024));
    if (!mb || PyObject_SetAttrString(oc_pyhost_bootmod, "memory_cap_mb", mb) != 0) PyErr_Clear();
    Py_XDECREF(mb);
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
    exc->memory = memory;
  } else {
    PyErr_Clear();
    const char *name = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    snprintf(exc->cls, sizeof(exc->cls), "%s", name);
    snprintf(exc->repr, sizeof(exc->repr), "%s()", name);
    snprintf(exc->msg, sizeof(exc->msg), "%s (could not describe the exception)", name);
    exc->memory = memory;
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

/* ---- fork -------------------------------------------------------------------------- */

int oc_pyhost_fork(void) {
  if (!oc_pyhost_started) return (int)fork();
  PyOS_BeforeFork();
  pid_t pid = fork();
  if (pid != 0) {
    int saved = errno;
    PyOS_AfterFork_Parent();
    errno = saved;
    return (int)pid;
  }
  PyOS_AfterFork_Child();
  /* Only the forking thread survives: start a watchdog of the child's own. */
  atomic_store(&oc_wd_stop, false);
  oc_wd_seq_local += 2 - (oc_wd_seq_local & 1); /* disarmed, and a fresh number */
  atomic_store(&oc_wd_seq, oc_wd_seq_local);
  atomic_store(&oc_wd_fired_seq, 0);
  oc_wd_main_tid = PyThread_get_thread_ident();
  oc_wd_running = pthread_create(&oc_wd_thread, NULL, oc_wd_main, NULL) == 0;
  return 0;
}
