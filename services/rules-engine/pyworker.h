/* pyworker.h: a child process that evaluates Python rules for the engine, so that a crash
 * of the interpreter (a segfault in an extension, abort(), a stuck C call) kills the
 * child, not the service.
 *
 * The child is a fork of the caller taken after the pack loaded (oc_pyhost_fork), so it
 * starts with the rules already imported; after a death the next call forks a fresh one.
 * Parent and child talk over a socketpair with frames of a 4-byte length (host order,
 * at most OC_PYWORKER_MAX_FRAME) and a payload: one request frame, one reply frame. The
 * serve function runs in the child and defines the payloads.
 *
 * Hangs: the child calls oc_pyworker_progress() after each unit of work (a rule on an
 * event); a counter in shared memory lets the parent tell a slow batch from a stuck
 * child, and a child without progress for hang_ms is killed (SIGKILL) and reported as
 * dead. The child dies with its parent (PR_SET_PDEATHSIG) and writes no core files.
 * Not thread-safe: one caller thread, the one that owns the Python host. */
#ifndef OC_RULES_PYWORKER_H
#define OC_RULES_PYWORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define OC_PYWORKER_MAX_FRAME (64u * 1024 * 1024)

typedef struct oc_pyworker oc_pyworker_t;

/* Runs in the child: answers the request req[0..len) into reply (reset by the caller).
 * Returning false ends the child (exit status 1). */
typedef bool (*oc_pyworker_serve_fn)(void *opaque, const char *req, size_t len, oc_buf_t *reply);

/* A worker that forks lazily at the first call. hang_ms <= 0: no hang detection. NULL
 * with the reason when the shared counter cannot be mapped. */
oc_pyworker_t *oc_pyworker_new(oc_pyworker_serve_fn serve, void *opaque, int hang_ms, char *errstr,
                               size_t errstr_size);
/* Closes the socket, kills and reaps the child. Accepts NULL. */
void oc_pyworker_destroy(oc_pyworker_t *w);

/* Sends req, waits for the reply into reply (reset first). OC_OK; OC_ERR_INTERNAL when
 * the child died, hung or answered nonsense (why says which: "killed by signal 11
 * (Segmentation fault)"), the child is gone and the next call forks a new one;
 * OC_ERR_UNAVAILABLE when no child could be forked (transient); OC_ERR_LIMIT when req is
 * over OC_PYWORKER_MAX_FRAME. */
oc_err_t oc_pyworker_call(oc_pyworker_t *w, const void *req, size_t len, oc_buf_t *reply, char *why,
                          size_t why_size);

/* Forks the child now when none runs (after a death the call does it anyway). */
oc_err_t oc_pyworker_start(oc_pyworker_t *w, char *why, size_t why_size);
int oc_pyworker_pid(const oc_pyworker_t *w); /* 0 when no child runs */
unsigned long oc_pyworker_spawns(const oc_pyworker_t *w);
unsigned long oc_pyworker_deaths(const oc_pyworker_t *w);

/* In the child: one more unit of work done. A no-op in a process that is not a worker. */
void oc_pyworker_progress(void);
/* Whether this process is a worker child. */
bool oc_pyworker_in_child(void);

#endif
