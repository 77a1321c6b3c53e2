/* redis.c: a hiredis connection that reconnects, with connect and command timeouts.
 *
 * A context that saw an error is dropped and the next call connects again. Before a
 * command is sent, a socket the server already closed (CLIENT KILL, idle timeout,
 * restart) is noticed with a non-blocking peek and replaced, so the command is not lost
 * on a dead connection. A command that fails after it was sent is not retried here: it
 * may have run (INCR), so the caller decides. */
#include "common/redis.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define OC_REDIS_TIMEOUT_MS 2000
#define OC_REDIS_HOST_MAX 255
#define OC_REDIS_SECRET_MAX 512

struct oc_redis {
  char host[OC_REDIS_HOST_MAX + 1];
  int port;
  int db;
  char *user;     /* NULL unless the URL has user:password@ */
  char *password; /* NULL unless the URL has a password */
  redisContext *c;
};

static void oc_redis_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void oc_redis_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  if (!errstr || !errstr_size) return;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
}

static bool oc_redis_parse_int(const char *s, size_t n, long min, long max, long *out) {
  long v = 0;
  if (n == 0 || n > 10) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

static char *oc_redis_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* redis://[[user]:password@]host[:port][/db] or host[:port]. IPv6 hosts in brackets. */
static oc_err_t oc_redis_parse_url(oc_redis_t *r, const char *url, char *errstr,
                                   size_t errstr_size) {
  const char *p = url, *end, *at, *hp_end, *host, *port = NULL;
  size_t host_len, port_len = 0;
  long v;
  if (strncmp(p, "redis://", 8) == 0) {
    p += 8;
  } else if (strstr(p, "://")) {
    oc_redis_errf(errstr, errstr_size, "invalid Redis URL \"%s\": only redis:// is supported", url);
    return OC_ERR_INVALID;
  }
  end = p + strlen(p);
  hp_end = strchr(p, '/');
  if (!hp_end) hp_end = end;
  at = memchr(p, '@', (size_t)(hp_end - p));
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if ((size_t)(at - p) > OC_REDIS_SECRET_MAX) goto bad;
    if (colon) {
      if (colon > p && !(r->user = oc_redis_strndup(p, (size_t)(colon - p)))) goto nomem;
      if (!(r->password = oc_redis_strndup(colon + 1, (size_t)(at - colon - 1)))) goto nomem;
    } else if (at > p) {
      if (!(r->password = oc_redis_strndup(p, (size_t)(at - p)))) goto nomem;
    }
    p = at + 1;
  }
  if (*p == '[') {
    const char *rb = memchr(p, ']', (size_t)(hp_end - p));
    if (!rb) goto bad;
    host = p + 1;
    host_len = (size_t)(rb - host);
    if (rb + 1 < hp_end) {
      if (rb[1] != ':') goto bad;
      port = rb + 2;
      port_len = (size_t)(hp_end - port);
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(hp_end - p));
    host = p;
    host_len = (size_t)((colon ? colon : hp_end) - p);
    if (colon) {
      port = colon + 1;
      port_len = (size_t)(hp_end - port);
    }
  }
  if (host_len == 0 || host_len > OC_REDIS_HOST_MAX) goto bad;
  memcpy(r->host, host, host_len);
  r->host[host_len] = '\0';
  if (strcspn(r->host, " \t\r\n/?#@") != host_len) goto bad;
  r->port = 6379;
  if (port) {
    if (!oc_redis_parse_int(port, port_len, 1, 65535, &v)) goto bad;
    r->port = (int)v;
  }
  r->db = 0;
  if (hp_end < end && hp_end + 1 < end) {
    if (!oc_redis_parse_int(hp_end + 1, (size_t)(end - hp_end - 1), 0, 1000000, &v)) goto bad;
    r->db = (int)v;
  }
  return OC_OK;
bad:
  oc_redis_errf(errstr, errstr_size,
                "invalid Redis URL \"%s\": expected redis://host:port[/db] or host:port", url);
  return OC_ERR_INVALID;
nomem:
  oc_redis_errf(errstr, errstr_size, "out of memory");
  return OC_ERR_NOMEM;
}

oc_redis_t *oc_redis_new(const char *url, char *errstr, size_t errstr_size) {
  oc_redis_t *r;
  if (!url || !url[0]) {
    oc_redis_errf(errstr, errstr_size, "invalid Redis URL: empty");
    return NULL;
  }
  r = calloc(1, sizeof(*r));
  if (!r) {
    oc_redis_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  if (oc_redis_parse_url(r, url, errstr, errstr_size) != OC_OK) {
    oc_redis_destroy(r);
    return NULL;
  }
  return r;
}

static void oc_redis_drop(oc_redis_t *r) {
  if (r->c) redisFree(r->c);
  r->c = NULL;
}

void oc_redis_destroy(oc_redis_t *r) {
  if (!r) return;
  oc_redis_drop(r);
  free(r->user);
  free(r->password);
  free(r);
}

/* True when the socket has been closed by the server or carries unsolicited data
 * (either way the stream is no longer in step with our requests). */
static bool oc_redis_stale(redisContext *c) {
  struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
  char b;
  ssize_t n;
  if (c->fd < 0) return true;
  if (poll(&pfd, 1, 0) <= 0) return false;
  if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  return true;
}

/* Runs a setup command on a fresh context; any failure is the server being unusable. */
static oc_err_t oc_redis_setup(oc_redis_t *r, const char *what, int argc, const char **argv,
                               char *errstr, size_t errstr_size) {
  redisReply *reply = redisCommandArgv(r->c, argc, argv, NULL);
  oc_err_t err = OC_OK;
  if (!reply) {
    oc_redis_errf(errstr, errstr_size, "could not %s on Redis at %s:%d: %s", what, r->host, r->port,
                  r->c->errstr[0] ? r->c->errstr : "connection lost");
    err = OC_ERR_UNAVAILABLE;
  } else if (reply->type == REDIS_REPLY_ERROR) {
    oc_redis_errf(errstr, errstr_size, "could not %s on Redis at %s:%d: %s", what, r->host, r->port,
                  reply->str);
    err = OC_ERR_UNAVAILABLE;
  }
  if (reply) freeReplyObject(reply);
  return err;
}

oc_err_t oc_redis_connect(oc_redis_t *r, char *errstr, size_t errstr_size) {
  struct timeval tv = {OC_REDIS_TIMEOUT_MS / 1000, (OC_REDIS_TIMEOUT_MS % 1000) * 1000};
  oc_err_t err;
  if (r->c && !r->c->err && !oc_redis_stale(r->c)) return OC_OK;
  oc_redis_drop(r);
  r->c = redisConnectWithTimeout(r->host, r->port, tv);
  if (!r->c) {
    oc_redis_errf(errstr, errstr_size, "could not connect to Redis at %s:%d: out of memory",
                  r->host, r->port);
    return OC_ERR_NOMEM;
  }
  if (r->c->err) {
    oc_redis_errf(errstr, errstr_size, "could not connect to Redis at %s:%d: %s", r->host, r->port,
                  r->c->errstr);
    oc_redis_drop(r);
    return OC_ERR_UNAVAILABLE;
  }
  if (redisSetTimeout(r->c, tv) != REDIS_OK) {
    oc_redis_errf(errstr, errstr_size, "could not set the Redis command timeout: %s", r->c->errstr);
    oc_redis_drop(r);
    return OC_ERR_UNAVAILABLE;
  }
  (void)redisEnableKeepAlive(r->c);
  if (r->password) {
    const char *argv[3] = {"AUTH", r->user ? r->user : r->password, r->password};
    err = oc_redis_setup(r, "authenticate", r->user ? 3 : 2, argv, errstr, errstr_size);
    if (err) goto fail;
  }
  if (r->db != 0) {
    char db[16];
    const char *argv[2] = {"SELECT", db};
    snprintf(db, sizeof(db), "%d", r->db);
    err = oc_redis_setup(r, "select database", 2, argv, errstr, errstr_size);
    if (err) goto fail;
  }
  return OC_OK;
fail:
  oc_redis_drop(r);
  return err;
}

redisContext *oc_redis_context(oc_redis_t *r) {
  return r ? r->c : NULL;
}

/* Error replies that mean "not now" rather than "never": the server is loading its
 * data, busy with a script, or failing over. */
static bool oc_redis_transient_reply(const char *s) {
  return strncmp(s, "LOADING", 7) == 0 || strncmp(s, "BUSY", 4) == 0 ||
         strncmp(s, "MASTERDOWN", 10) == 0 || strncmp(s, "TRYAGAIN", 8) == 0;
}

/* Common tail of both command paths: classify what hiredis gave back. */
static oc_err_t oc_redis_finish(oc_redis_t *r, redisReply *rep, redisReply **reply, char *errstr,
                                size_t errstr_size) {
  if (!rep) {
    /* hiredis reports an expired SO_RCVTIMEO as EAGAIN's text */
    bool timed_out = r->c->err == REDIS_ERR_IO && strstr(r->c->errstr, "temporarily unavailable");
    if (timed_out)
      oc_redis_errf(errstr, errstr_size, "Redis command failed at %s:%d: no reply within %d ms",
                    r->host, r->port, OC_REDIS_TIMEOUT_MS);
    else
      oc_redis_errf(errstr, errstr_size, "Redis command failed at %s:%d: %s", r->host, r->port,
                    r->c->errstr[0] ? r->c->errstr : "connection lost");
    oc_redis_drop(r); /* the next call reconnects */
    return OC_ERR_UNAVAILABLE;
  }
  if (rep->type == REDIS_REPLY_ERROR) {
    oc_err_t err = oc_redis_transient_reply(rep->str) ? OC_ERR_UNAVAILABLE : OC_ERR_INVALID;
    oc_redis_errf(errstr, errstr_size, "Redis error: %s", rep->str);
    freeReplyObject(rep);
    return err;
  }
  if (reply)
    *reply = rep;
  else
    freeReplyObject(rep);
  return OC_OK;
}

oc_err_t oc_redis_cmd(oc_redis_t *r, redisReply **reply, char *errstr, size_t errstr_size,
                      const char *fmt, ...) {
  va_list ap;
  redisReply *rep;
  oc_err_t err;
  if (reply) *reply = NULL;
  err = oc_redis_connect(r, errstr, errstr_size);
  if (err) return err;
  va_start(ap, fmt);
  rep = redisvCommand(r->c, fmt, ap);
  va_end(ap);
  return oc_redis_finish(r, rep, reply, errstr, errstr_size);
}

oc_err_t oc_redis_cmdargv(oc_redis_t *r, redisReply **reply, int argc, const char **argv,
                          const size_t *argvlen, char *errstr, size_t errstr_size) {
  redisReply *rep;
  oc_err_t err;
  if (reply) *reply = NULL;
  if (argc <= 0 || !argv) {
    oc_redis_errf(errstr, errstr_size, "empty Redis command");
    return OC_ERR_INVALID;
  }
  err = oc_redis_connect(r, errstr, errstr_size);
  if (err) return err;
  rep = redisCommandArgv(r->c, argc, argv, argvlen);
  return oc_redis_finish(r, rep, reply, errstr, errstr_size);
}
