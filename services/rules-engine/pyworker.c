/* pyworker.c: the rule-evaluating child process and its framing (pyworker.h). */
#include "services/rules-engine/pyworker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "services/rules-engine/pyhost.h"

#define OC_PYWORKER_POLL_MS 100

typedef struct {
  atomic_ulong progress;
} oc_pyworker_shared_t;

struct oc_pyworker {
  oc_pyworker_serve_fn serve;
  void *opaque;
  int hang_ms;
  oc_pyworker_shared_t *shared; /* MAP_SHARED: seen by every child */
  pid_t pid;
  int fd;
  unsigned long spawns, deaths;
};

static oc_pyworker_shared_t *oc_pyworker_child_shared; /* set in a child only */

void oc_pyworker_progress(void) {
  if (oc_pyworker_child_shared)
    atomic_fetch_add_explicit(&oc_pyworker_child_shared->progress, 1, memory_order_relaxed);
}

bool oc_pyworker_in_child(void) {
  return oc_pyworker_child_shared != NULL;
}

static long oc_pyworker_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

oc_pyworker_t *oc_pyworker_new(oc_pyworker_serve_fn serve, void *opaque, int hang_ms, char *errstr,
                               size_t errstr_size) {
  oc_pyworker_t *w = calloc(1, sizeof(*w));
  if (!w) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  w->serve = serve;
  w->opaque = opaque;
  w->hang_ms = hang_ms;
  w->fd = -1;
  w->shared =
      mmap(NULL, sizeof(*w->shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (w->shared == MAP_FAILED) {
    snprintf(errstr, errstr_size, "could not map the worker's progress counter: %s",
             strerror(errno));
    free(w);
    return NULL;
  }
  atomic_init(&w->shared->progress, 0);
  return w;
}

/* Closes the socket and reaps the child; kill first when asked. Fills why with how the
 * child ended when why is given. */
static void oc_pyworker_reap(oc_pyworker_t *w, bool kill_it, char *why, size_t why_size) {
  int status = 0;
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (w->pid <= 0) return;
  if (kill_it) kill(w->pid, SIGKILL);
  while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (why && !kill_it) {
    if (WIFSIGNALED(status))
      snprintf(why, why_size, "python host killed by signal %d (%s)", WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
      snprintf(why, why_size, "python host exited with status %d", WEXITSTATUS(status));
  }
  w->pid = 0;
}

void oc_pyworker_destroy(oc_pyworker_t *w) {
  if (!w) return;
  oc_pyworker_reap(w, true, NULL, 0);
  if (w->shared && w->shared != MAP_FAILED) munmap(w->shared, sizeof(*w->shared));
  free(w);
}

/* ---- framing ----------------------------------------------------------------------- */

static bool oc_pyworker_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= (size_t)k;
  }
  return true;
}

static bool oc_pyworker_write_frame(int fd, const void *p, size_t n) {
  uint32_t len = (uint32_t)n;
  return oc_pyworker_write_all(fd, &len, sizeof(len)) && oc_pyworker_write_all(fd, p, n);
}

/* Blocking read of exactly n bytes (the child's side). */
static bool oc_pyworker_read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t k = read(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= (size_t)k;
  }
  return true;
}

/* ---- the child --------------------------------------------------------------------- */

static void oc_pyworker_child(oc_pyworker_t *w, int fd, pid_t parent) {
  struct rlimit nocore = {0, 0};
  oc_buf_t req, reply;
  oc_pyworker_child_shared = w->shared;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  setrlimit(RLIMIT_CORE, &nocore);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_IGN); /* the parent decides when to stop (closing the socket) */
  signal(SIGPIPE, SIG_IGN);
  oc_buf_init(&req);
  oc_buf_init(&reply);
  for (;;) {
    uint32_t len;
    if (!oc_pyworker_read_all(fd, &len, sizeof(len))) _exit(0); /* parent went away */
    if (len > OC_PYWORKER_MAX_FRAME) _exit(1);
    oc_buf_reset(&req);
    if (!oc_buf_reserve(&req, len + 1)) _exit(1);
    if (!oc_pyworker_read_all(fd, req.data, len)) _exit(0);
    req.len = len;
    oc_buf_reset(&reply);
    if (!w->serve(w->opaque, req.data, req.len, &reply)) _exit(1);
    if (!oc_buf_ok(&reply) || reply.len > OC_PYWORKER_MAX_FRAME) _exit(1);
    if (!oc_pyworker_write_frame(fd, reply.data ? reply.data : "", reply.len)) _exit(0);
  }
}

oc_err_t oc_pyworker_start(oc_pyworker_t *w, char *why, size_t why_size) {
  int sv[2];
  if (w->pid > 0) return OC_OK;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    snprintf(why, why_size, "could not create the python host's socket: %s", strerror(errno));
    return OC_ERR_UNAVAILABLE;
  }
  pid_t parent = getpid();
  fflush(NULL); /* or the child's exit could write the parent's buffered output again */
  int pid = oc_pyhost_fork();
  if (pid < 0) {
    snprintf(why, why_size, "could not fork the python host: %s", strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return OC_ERR_UNAVAILABLE;
  }
  if (pid == 0) {
    close(sv[0]);
    oc_pyworker_child(w, sv[1], parent);
    _exit(0);
  }
  close(sv[1]);
  w->pid = pid;
  w->fd = sv[0];
  w->spawns++;
  return OC_OK;
}

int oc_pyworker_pid(const oc_pyworker_t *w) {
  return w && w->pid > 0 ? (int)w->pid : 0;
}

unsigned long oc_pyworker_spawns(const oc_pyworker_t *w) {
  return w ? w->spawns : 0;
}

unsigned long oc_pyworker_deaths(const oc_pyworker_t *w) {
  return w ? w->deaths : 0;
}

/* ---- the parent -------------------------------------------------------------------- */

/* Reads exactly n bytes, watching the child's progress. 1 done, 0 EOF or error,
 * -1 hung (no progress for hang_ms). */
static int oc_pyworker_read_watch(oc_pyworker_t *w, void *p, size_t n) {
  char *c = p;
  unsigned long seen = atomic_load(&w->shared->progress);
  long since = oc_pyworker_now_ms();
  while (n) {
    struct pollfd pfd = {w->fd, POLLIN, 0};
    int r = poll(&pfd, 1, OC_PYWORKER_POLL_MS);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 0;
    if (r == 0) {
      unsigned long now_seen = atomic_load(&w->shared->progress);
      long now = oc_pyworker_now_ms();
      if (now_seen != seen) {
        seen = now_seen;
        since = now;
      } else if (w->hang_ms > 0 && now - since > w->hang_ms) {
        return -1;
      }
      continue;
    }
    ssize_t k = read(w->fd, c, n);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return 0;
    c += k;
    n -= (size_t)k;
  }
  return 1;
}

static oc_err_t oc_pyworker_died(oc_pyworker_t *w, bool hung, const char *what, char *why,
                                 size_t why_size) {
  w->deaths++;
  snprintf(why, why_size, "python host %s", what);
  oc_pyworker_reap(w, hung || strcmp(what, "answered nonsense") == 0, why, why_size);
  if (hung)
    snprintf(why, why_size, "python host made no progress for %d ms and was killed", w->hang_ms);
  return OC_ERR_INTERNAL;
}

oc_err_t oc_pyworker_call(oc_pyworker_t *w, const void *req, size_t len, oc_buf_t *reply, char *why,
                          size_t why_size) {
  uint32_t rlen;
  int r;
  oc_buf_reset(reply);
  if (len > OC_PYWORKER_MAX_FRAME) {
    snprintf(why, why_size, "python host request of %zu bytes is over the limit of %u", len,
             OC_PYWORKER_MAX_FRAME);
    return OC_ERR_LIMIT;
  }
  oc_err_t err = oc_pyworker_start(w, why, why_size);
  if (err != OC_OK) return err;
  if (!oc_pyworker_write_frame(w->fd, req, len)) {
    /* it died before or while reading: EPIPE or a reset */
    return oc_pyworker_died(w, false, "closed its socket", why, why_size);
  }
  r = oc_pyworker_read_watch(w, &rlen, sizeof(rlen));
  if (r <= 0) return oc_pyworker_died(w, r < 0, "closed its socket", why, why_size);
  if (rlen > OC_PYWORKER_MAX_FRAME)
    return oc_pyworker_died(w, false, "answered nonsense", why, why_size);
  if (!oc_buf_reserve(reply, (size_t)rlen + 1)) {
    snprintf(why, why_size, "out of memory");
    oc_pyworker_reap(w, true, NULL, 0); /* its reply is still in the socket */
    return OC_ERR_NOMEM;
  }
  r = oc_pyworker_read_watch(w, reply->data, rlen);
  if (r <= 0) return oc_pyworker_died(w, r < 0, "closed its socket", why, why_size);
  reply->len = rlen;
  return OC_OK;
}
