/* Unit tests for http.c: requests reach the handler with method, path (no query string)
 * and body; the handler's status, type and body come back; bodies over the limit are
 * refused with 413 whether announced by Content-Length or sent chunked; the listener
 * binds the address it was given. */
#include "common/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oc_test.h"

static void echo(const oc_http_req_t *req, oc_http_resp_t *resp, void *opaque) {
  char buf[4096];
  int *calls = opaque;
  (*calls)++;
  if (strcmp(req->path, "/missing") == 0) {
    resp->status = 404;
    resp->content_type = "text/plain";
    resp->body = strdup("not found\n");
    resp->body_len = strlen(resp->body);
    return;
  }
  if (strcmp(req->path, "/empty") == 0) {
    resp->status = 204;
    return;
  }
  snprintf(buf, sizeof(buf), "%s %s %zu:%.*s", req->method, req->path, req->body_len,
           (int)req->body_len, req->body ? req->body : "");
  resp->status = 200;
  resp->content_type = "text/plain; charset=utf-8";
  resp->body = strdup(buf);
  resp->body_len = strlen(buf);
}

/* Sends raw bytes, returns the whole response (malloc'd). */
static char *roundtrip(int port, const char *req, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return strdup("");
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (w <= 0) break; /* the server may close early after a 413 */
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  size_t cap = 8192, n = 0;
  char *out = malloc(cap);
  for (;;) {
    if (n + 1024 > cap) out = realloc(out, cap *= 2);
    ssize_t r = recv(fd, out + n, cap - n - 1, 0);
    if (r <= 0) break;
    n += (size_t)r;
  }
  out[n] = '\0';
  close(fd);
  return out;
}

static int status_of(const char *resp) {
  int status = -1;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -1;
  return status;
}

static const char *body_of(const char *resp) {
  const char *b = strstr(resp, "\r\n\r\n");
  return b ? b + 4 : "";
}

static void test_requests(void) {
  char errstr[256];
  int calls = 0;
  oc_http_t *h = oc_http_start("127.0.0.1", 0, 1024, echo, &calls, errstr, sizeof(errstr));
  OC_CHECK(h != NULL);
  if (!h) {
    fprintf(stderr, "%s\n", errstr);
    return;
  }
  int port = oc_http_port(h);
  OC_CHECK(port > 0);

  const char *get = "GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  char *r = roundtrip(port, get, strlen(get));
  OC_CHECK_INT(status_of(r), 200);
  OC_CHECK_STR(body_of(r), "GET /hello 0:");
  OC_CHECK(strstr(r, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
  free(r);

  const char *post =
      "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
  r = roundtrip(port, post, strlen(post));
  OC_CHECK_INT(status_of(r), 200);
  OC_CHECK_STR(body_of(r), "POST /in 5:hello");
  free(r);

  const char *chunked =
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
  r = roundtrip(port, chunked, strlen(chunked));
  OC_CHECK_INT(status_of(r), 200);
  OC_CHECK_STR(body_of(r), "POST /c 7:abcdefg");
  free(r);

  const char *missing = "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  r = roundtrip(port, missing, strlen(missing));
  OC_CHECK_INT(status_of(r), 404);
  free(r);

  const char *empty = "GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  r = roundtrip(port, empty, strlen(empty));
  OC_CHECK_INT(status_of(r), 204);
  free(r);

  /* Exactly at the limit is fine. */
  char *req = malloc(4096);
  int n = snprintf(
      req, 4096,
      "POST /max HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n");
  memset(req + n, 'b', 1024);
  r = roundtrip(port, req, (size_t)n + 1024);
  OC_CHECK_INT(status_of(r), 200);
  OC_CHECK(strncmp(body_of(r), "POST /max 1024:bbb", 18) == 0);
  free(r);
  free(req);

  int before = calls;
  /* Announced too large: refused before the body is read, the handler is not called. */
  const char *big =
      "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n";
  r = roundtrip(port, big, strlen(big));
  OC_CHECK_INT(status_of(r), 413);
  free(r);

  /* Chunked past the limit. */
  size_t cap = 8192;
  req = malloc(cap);
  n = snprintf(
      req, cap,
      "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  for (int i = 0; i < 3; i++) {
    n += snprintf(req + n, cap - (size_t)n, "200\r\n");
    memset(req + n, 'c', 512);
    n += 512;
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
  }
  n += snprintf(req + n, cap - (size_t)n, "0\r\n\r\n");
  r = roundtrip(port, req, (size_t)n);
  OC_CHECK_INT(status_of(r), 413);
  free(r);
  free(req);
  OC_CHECK_INT(calls, before);

  oc_http_stop(h);
}

static void test_bind_address(void) {
  char errstr[256];
  int calls = 0;
  oc_http_t *h = oc_http_start("127.0.0.1", 0, 16, echo, &calls, errstr, sizeof(errstr));
  OC_CHECK(h != NULL);
  /* Another listener on the same port fails with a message naming it. */
  oc_http_t *h2 =
      oc_http_start("127.0.0.1", oc_http_port(h), 16, echo, &calls, errstr, sizeof(errstr));
  OC_CHECK(h2 == NULL);
  OC_CHECK(strstr(errstr, "could not listen on 127.0.0.1:") != NULL);
  oc_http_stop(h2);
  oc_http_stop(h);

  OC_CHECK(oc_http_start("no such host.invalid", 0, 16, echo, &calls, errstr, sizeof(errstr)) ==
           NULL);
  OC_CHECK(strstr(errstr, "could not resolve") != NULL);
  OC_CHECK(oc_http_start("127.0.0.1", 70000, 16, echo, &calls, errstr, sizeof(errstr)) == NULL);
  oc_http_stop(NULL);
}

OC_TEST_MAIN(OC_TEST(test_requests), OC_TEST(test_bind_address))
