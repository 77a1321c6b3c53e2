/* http.c: a small HTTP server over libmicrohttpd with its own polling thread. It buffers
 * request bodies up to max_body (refusing larger ones with 413), calls one handler per
 * request and sends what the handler filled in. */
#include "common/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

#define OC_HTTP_CONN_LIMIT 128
#define OC_HTTP_CONN_TIMEOUT_S 30

struct oc_http {
  struct MHD_Daemon *daemon;
  size_t max_body;
  oc_http_handler_fn fn;
  void *opaque;
  int port;
};

typedef struct {
  char *body;
  size_t len;
  bool too_large;
} oc_http_conn_t;

static enum MHD_Result oc_http_send(struct MHD_Connection *conn, int status,
                                    const char *content_type, char *body, size_t len) {
  struct MHD_Response *resp;
  enum MHD_Result ret;
  if (body)
    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  else
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  ret = MHD_queue_response(conn, (unsigned int)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result oc_http_send_text(struct MHD_Connection *conn, int status,
                                         const char *text) {
  char *body = strdup(text);
  if (!body) return MHD_NO;
  return oc_http_send(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result oc_http_too_large(struct MHD_Connection *conn, size_t max_body) {
  char msg[128];
  snprintf(msg, sizeof(msg), "request body too large (limit %zu bytes)\n", max_body);
  return oc_http_send_text(conn, 413, msg);
}

static enum MHD_Result oc_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
  oc_http_t *h = cls;
  oc_http_conn_t *c = *con_cls;

  if (!c) {
    c = calloc(1, sizeof(*c));
    if (!c) return MHD_NO;
    *con_cls = c;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
      char *end;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno || end == cl || n > h->max_body) {
        c->too_large = true;
        return oc_http_too_large(conn, h->max_body); /* before reading the body */
      }
    }
    return MHD_YES;
  }

  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (c->too_large) return MHD_YES; /* discard */
    if (n > h->max_body - c->len) {
      c->too_large = true;
      free(c->body);
      c->body = NULL;
      c->len = 0;
      return MHD_YES;
    }
    char *nb = realloc(c->body, c->len + n + 1);
    if (!nb) return MHD_NO;
    memcpy(nb + c->len, upload_data, n);
    c->body = nb;
    c->len += n;
    c->body[c->len] = '\0';
    return MHD_YES;
  }

  if (c->too_large) return oc_http_too_large(conn, h->max_body);

  oc_http_req_t req = {.method = method, .path = url, .body = c->body, .body_len = c->len};
  oc_http_resp_t resp = {0};
  h->fn(&req, &resp, h->opaque);
  if (resp.status < 100 || resp.status > 599) {
    free(resp.body);
    return oc_http_send_text(conn, 500, "internal error\n");
  }
  return oc_http_send(conn, resp.status, resp.content_type, resp.body, resp.body_len);
}

static void oc_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
  oc_http_conn_t *c = *con_cls;
  if (!c) return;
  free(c->body);
  free(c);
  *con_cls = NULL;
}

static void oc_http_logger(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  oc_log(OC_LOG_WARN, "http server: %s", msg);
}

oc_http_t *oc_http_start(const char *addr, int port, size_t max_body, oc_http_handler_fn fn,
                         void *opaque, char *errstr, size_t errstr_size) {
  oc_http_t *h = NULL;
  struct addrinfo hints = {0}, *ai = NULL;
  char portstr[16];
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
  int rc;

  if (port < 0 || port > 65535) {
    snprintf(errstr, errstr_size, "invalid HTTP port %d", port);
    goto fail;
  }
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof(portstr), "%d", port);
  rc = getaddrinfo(addr && *addr ? addr : "127.0.0.1", portstr, &hints, &ai);
  if (rc != 0 || !ai) {
    snprintf(errstr, errstr_size, "could not resolve HTTP address \"%s\": %s", addr ? addr : "",
             gai_strerror(rc));
    goto fail;
  }
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;

  h = calloc(1, sizeof(*h));
  if (!h) {
    snprintf(errstr, errstr_size, "out of memory");
    goto fail;
  }
  h->max_body = max_body;
  h->fn = fn;
  h->opaque = opaque;
  h->daemon = MHD_start_daemon(
      flags, (uint16_t)port, NULL, NULL, oc_http_access, h, MHD_OPTION_EXTERNAL_LOGGER,
      oc_http_logger, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
      oc_http_completed, h, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)OC_HTTP_CONN_LIMIT,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)OC_HTTP_CONN_TIMEOUT_S, MHD_OPTION_END);
  if (!h->daemon) {
    snprintf(errstr, errstr_size, "could not listen on %s:%d: %s", addr ? addr : "", port,
             errno ? strerror(errno) : "libmicrohttpd failed to start");
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info && info->port ? info->port : port;
  freeaddrinfo(ai);
  return h;

fail:
  if (ai) freeaddrinfo(ai);
  free(h);
  return NULL;
}

int oc_http_port(const oc_http_t *h) {
  return h ? h->port : 0;
}

void oc_http_stop(oc_http_t *h) {
  if (!h) return;
  if (h->daemon) MHD_stop_daemon(h->daemon);
  free(h);
}
