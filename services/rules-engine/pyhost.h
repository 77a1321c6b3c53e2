/* pyhost.h: the embedded CPython 3.11 interpreter that runs Panther Python rules.
 *
 * One interpreter per process, started by oc_pyhost_init() in the thread that will run
 * every rule (Python's main thread: the time budget relies on it). The built-in module
 * `_ocelot` carries the event types (pyevent.h); a small bootstrap module `_ocelot_boot`
 * (Python source embedded in pyhost.c) loads rule and helper files, resolves imports of
 * global helpers by module name, describes exceptions and teaches json.dumps the event
 * types. Nothing here is thread-safe: every call must come from the initializing thread.
 *
 * Time budget: oc_pyhost_arm(ms) before calling rule code and oc_pyhost_disarm() after;
 * if the code is still running when the budget is spent, a watchdog thread schedules a
 * pending call that raises OcelotTimeoutError (a BaseException, so a rule's bare
 * `except Exception` does not swallow it) in the running Python code. Code stuck inside
 * one long C call (a huge regex) is only interrupted when it returns to bytecode.
 *
 * Memory cap: the interpreter's raw allocator and pymalloc's arena allocator are wrapped
 * (installed before Python starts) and count the bytes Python holds. Between
 * oc_pyhost_mem_arm() and oc_pyhost_mem_disarm() an allocation by the initializing
 * thread that would take the growth since arming past the cap fails, so Python raises
 * MemoryError in the rule; oc_pyhost_mem_hit() tells whether that happened (a rule that
 * swallows the MemoryError is still reported). Counting relies on glibc's
 * malloc_usable_size() for the raw domain (Python's default raw allocator is malloc). */
#ifndef OC_RULES_PYHOST_H
#define OC_RULES_PYHOST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _object PyObject; /* as Python's object.h declares it */

/* Starts the interpreter (idempotent). false with a reason when Python cannot start. */
bool oc_pyhost_init(char *errstr, size_t errstr_size);
/* Stops the watchdog and finalizes the interpreter (accepts a host never started). */
void oc_pyhost_fini(void);
bool oc_pyhost_ready(void);

/* The bootstrap module (borrowed reference), NULL before init. */
PyObject *oc_pyhost_boot(void);

/* Makes `import name` load the file at path (a global helper). Later registrations of
 * the same name replace the earlier one; already imported modules are dropped. */
bool oc_pyhost_register_global(const char *name, const char *path, char *errstr,
                               size_t errstr_size);
/* Forgets every registered global helper and its imported module (before a reload). */
void oc_pyhost_clear_globals(void);

/* Executes the file at path as a fresh module named name (not added to sys.modules).
 * New reference, or NULL with "file:line: Class: message" in errstr. */
PyObject *oc_pyhost_load_file(const char *name, const char *path, char *errstr, size_t errstr_size);

/* A Python exception, described. */
typedef struct oc_pyexc {
  char cls[128];   /* class name: "KeyError" */
  char repr[1024]; /* repr(exc): "KeyError('x')" */
  char msg[2048];  /* "KeyError: 'x' (rules/foo.py, line 12, in rule)" */
  bool timeout;    /* it was the time budget */
  bool memory;     /* a MemoryError raised by the memory cap */
} oc_pyexc_t;

/* Takes the pending exception (there must be one), describes it and clears it. The
 * location is the innermost frame of the traceback. */
void oc_pyhost_fetch_exc(oc_pyexc_t *exc);

/* Time budget of the code run until oc_pyhost_disarm(); ms <= 0 means none. Arming while
 * armed keeps the first budget. The watchdog polls every 2 ms, so a budget is late by at
 * most that (arming reads no clock: it is on the path of every rule call). */
void oc_pyhost_arm(int ms);
void oc_pyhost_disarm(void);
/* Times the watchdog interrupted rule code since init. */
unsigned long oc_pyhost_timeouts(void);

/* Memory cap of one evaluation in bytes (0: none, the default). Any thread. */
void oc_pyhost_set_memory_cap(size_t bytes);
size_t oc_pyhost_memory_cap(void);
/* Bytes Python holds now (raw blocks and pymalloc arenas), for tests and metrics. */
size_t oc_pyhost_memory_used(void);
/* Starts / ends a capped evaluation (no-ops without a cap). */
void oc_pyhost_mem_arm(void);
void oc_pyhost_mem_disarm(void);
/* Whether an allocation was refused since the last oc_pyhost_mem_arm(). */
bool oc_pyhost_mem_hit(void);
/* Evaluations stopped by the memory cap since start. */
unsigned long oc_pyhost_memory_errors(void);

/* Fork support, for the worker process (pyworker.h). oc_pyhost_fork() forks with
 * Python's fork protocol (PyOS_BeforeFork / AfterFork_*): in the child it reinitializes
 * the interpreter's threads and restarts the watchdog. Returns fork()'s result. */
int oc_pyhost_fork(void);

/* Takes the pending Python exception and writes "what: <its text>" into errstr (for load
 * and set-up failures; rule exceptions go through oc_pyhost_fetch_exc). */
void oc_pyhost_errtext(char *errstr, size_t errstr_size, const char *what);

#endif
