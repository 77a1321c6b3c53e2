/* test_alerts_outputs.c: webhook output configs, and the webhook client against a tiny
 * HTTP server on a loopback socket (headers, status handling, no redirects, timeout,
 * keep-alive). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oc_test.h"
#include "services/alert-delivery/outputs.h"
#include "services/alert-delivery/webhook.h"

static oc_err_t parse(oc_output_t *o, const char *config, char *err, size_t errsz) {
  return oc_output_parse(o, "hook", "webhook", "Test hook", true, config, strlen(config), err,
                         errsz);
}

static void test_parse_full_config(void) {
  oc_output_t o;
  char err[256] = "";
  OC_CHECK_INT(parse(&o,
                     "{\"url\":\"http://127.0.0.1:9/hook\",\"timeout_ms\":3000,"
                     "\"headers\":{\"Authorization\":\"Bearer abc\",\"X-Empty\":\"\"},"
                     "\"unknown\":1}",
                     err, sizeof(err)),
               OC_OK);
  OC_CHECK_STR(o.id, "hook");
  OC_CHECK_STR(o.name, "Test hook");
  OC_CHECK_STR(o.url, "http://127.0.0.1:9/hook");
  OC_CHECK_INT(o.timeout_ms, 3000);
  OC_CHECK(o.enabled);
  OC_CHECK_INT(o.nheaders, 2);
  if (o.nheaders == 2) {
    OC_CHECK_STR(o.headers[0].name, "Authorization");
    OC_CHECK_STR(o.headers[0].value, "Bearer abc");
    OC_CHECK_STR(o.headers[0].line, "Authorization: Bearer abc");
    OC_CHECK_STR(o.headers[1].line, "X-Empty;");
  }
  oc_output_deinit(&o);
}

static void test_parse_defaults(void) {
  oc_output_t o;
  char err[256];
  OC_CHECK_INT(parse(&o, "{\"url\":\"https://hooks.example.com/x\"}", err, sizeof(err)), OC_OK);
  OC_CHECK_INT(o.timeout_ms, OC_OUTPUT_DEFAULT_TIMEOUT_MS);
  OC_CHECK_INT(o.nheaders, 0);
  oc_output_deinit(&o);
  OC_CHECK_INT(
      parse(&o, "{\"url\":\"http://h/\",\"timeout_ms\":null,\"headers\":{}}", err, sizeof(err)),
      OC_OK);
  OC_CHECK_INT(o.timeout_ms, OC_OUTPUT_DEFAULT_TIMEOUT_MS);
  oc_output_deinit(&o);
}

static void expect_invalid(const char *config, const char *why) {
  oc_output_t o;
  char err[256] = "";
  oc_err_t rc = parse(&o, config, err, sizeof(err));
  OC_CHECK_INT(rc, OC_ERR_INVALID);
  if (!strstr(err, why)) {
    fprintf(stderr, "config %s: error \"%s\" does not mention \"%s\"\n", config, err, why);
    OC_CHECK(0);
  }
  oc_output_deinit(&o); /* safe after a failure */
}

static void test_parse_rejects(void) {
  expect_invalid("", "not JSON");
  expect_invalid("[1]", "not a JSON object");
  expect_invalid("{}", "no \"url\"");
  expect_invalid("{\"url\":5}", "no \"url\"");
  expect_invalid("{\"url\":\"ftp://x/\"}", "not http");
  expect_invalid("{\"url\":\"file:///etc/passwd\"}", "not http");
  expect_invalid("{\"url\":\"http://a b/\"}", "control character");
  expect_invalid("{\"url\":\"http://h/\",\"timeout_ms\":0}", "timeout_ms");
  expect_invalid("{\"url\":\"http://h/\",\"timeout_ms\":600001}", "timeout_ms");
  expect_invalid("{\"url\":\"http://h/\",\"timeout_ms\":1.5}", "timeout_ms");
  expect_invalid("{\"url\":\"http://h/\",\"timeout_ms\":\"100\"}", "timeout_ms");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":[]}", "object of strings");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":{\"Bad Name\":\"v\"}}", "valid token");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":{\"X-A\":\"v\\r\\nX-B: w\"}}",
                 "control character");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":{\"X-A\":1}}", "must be a string");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":{\"idempotency-key\":\"k\"}}",
                 "set by Ocelot");
  expect_invalid("{\"url\":\"http://h/\",\"headers\":{\"Content-Type\":\"text/plain\"}}",
                 "set by Ocelot");

  oc_output_t o;
  char err[256];
  OC_CHECK_INT(oc_output_parse(&o, "x", "slack", "n", true, "{}", 2, err, sizeof(err)),
               OC_ERR_INVALID);
  OC_CHECK(strstr(err, "unsupported output type") != NULL);
  oc_output_deinit(&o);
}

/* ---- a one-thread HTTP server on a loopback socket ---- */

typedef struct {
  int lfd;
  int port;
  const char *reply; /* full HTTP response to send, or NULL to never answer */
  int max_requests;  /* requests to serve in total */
  int accepts;       /* connections accepted */
  int requests;
  char last[8192]; /* last request (headers and body) */
} server_t;

static void *server_main(void *opaque) {
  server_t *s = opaque;
  while (s->requests < s->max_requests) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    s->accepts++;
    while (s->requests < s->max_requests) {
      /* Reads one request: headers, then Content-Length bytes. */
      size_t got = 0;
      char *hdr_end = NULL;
      long clen = 0;
      for (;;) {
        ssize_t r = read(fd, s->last + got, sizeof(s->last) - 1 - got);
        if (r <= 0) goto conn_done;
        got += (size_t)r;
        s->last[got] = '\0';
        if (!hdr_end && (hdr_end = strstr(s->last, "\r\n\r\n")) != NULL) {
          char *cl = strcasestr(s->last, "Content-Length:");
          if (cl && cl < hdr_end) clen = strtol(cl + 15, NULL, 10);
        }
        if (hdr_end && got >= (size_t)(hdr_end + 4 - s->last) + (size_t)clen) break;
      }
      s->requests++;
      if (!s->reply) {
        sleep(3); /* never answers within the client's timeout */
        goto conn_done;
      }
      if (write(fd, s->reply, strlen(s->reply)) < 0) goto conn_done;
    }
  conn_done:
    close(fd);
  }
  return NULL;
}

static void server_start(server_t *s, pthread_t *th, const char *reply, int max_requests) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  memset(s, 0, sizeof(*s));
  s->reply = reply;
  s->max_requests = max_requests;
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  OC_CHECK(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  OC_CHECK(listen(s->lfd, 4) == 0);
  getsockname(s->lfd, (struct sockaddr *)&sa, &len);
  s->port = ntohs(sa.sin_port);
  pthread_create(th, NULL, server_main, s);
}

static void server_stop(server_t *s, pthread_t th) {
  shutdown(s->lfd, SHUT_RDWR);
  close(s->lfd);
  pthread_join(th, NULL);
}

static void output_for(oc_output_t *o, int port, long timeout_ms, char *err, size_t errsz) {
  char config[256];
  snprintf(config, sizeof(config),
           "{\"url\":\"http://127.0.0.1:%d/hook\",\"timeout_ms\":%ld,"
           "\"headers\":{\"Authorization\":\"Bearer t0k\"}}",
           port, timeout_ms);
  OC_CHECK_INT(parse(o, config, err, errsz), OC_OK);
}

#define OK_REPLY \
  "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}"

static void test_webhook_success_headers_keepalive(void) {
  server_t s;
  pthread_t th;
  oc_output_t o;
  oc_webhook_result_t res;
  char err[256];
  const char *body = "{\"id\":\"a1\"}";
  oc_webhook_t *wh = oc_webhook_new("ocelot-test", err, sizeof(err));
  OC_CHECK(wh != NULL);
  server_start(&s, &th, OK_REPLY, 2);
  output_for(&o, s.port, 2000, err, sizeof(err));

  oc_webhook_post(wh, &o, "a1", body, strlen(body), &res);
  OC_CHECK(res.ok);
  OC_CHECK_INT(res.status, 200);
  OC_CHECK_STR(res.error, "");
  OC_CHECK(strncmp(s.last, "POST /hook HTTP/1.1\r\n", 21) == 0);
  OC_CHECK(strstr(s.last, "\r\nIdempotency-Key: a1\r\n") != NULL);
  OC_CHECK(strstr(s.last, "\r\nX-Ocelot-Alert-Id: a1\r\n") != NULL);
  OC_CHECK(strstr(s.last, "\r\nContent-Type: application/json\r\n") != NULL);
  OC_CHECK(strstr(s.last, "\r\nAuthorization: Bearer t0k\r\n") != NULL);
  OC_CHECK(strstr(s.last, "\r\n\r\n{\"id\":\"a1\"}") != NULL);

  oc_webhook_post(wh, &o, "a2", body, strlen(body), &res);
  OC_CHECK(res.ok);
  OC_CHECK(strstr(s.last, "\r\nIdempotency-Key: a2\r\n") != NULL);
  server_stop(&s, th);
  OC_CHECK_INT(s.requests, 2);
  OC_CHECK_INT(s.accepts, 1); /* the second request reused the connection */
  oc_output_deinit(&o);
  oc_webhook_destroy(wh);
}

static void test_webhook_500_and_redirect_fail(void) {
  server_t s;
  pthread_t th;
  oc_output_t o;
  oc_webhook_result_t res;
  char err[256];
  oc_webhook_t *wh = oc_webhook_new("ocelot-test", err, sizeof(err));

  server_start(&s, &th, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nboom\n", 1);
  output_for(&o, s.port, 2000, err, sizeof(err));
  oc_webhook_post(wh, &o, "a1", "{}", 2, &res);
  OC_CHECK(!res.ok);
  OC_CHECK_INT(res.status, 500);
  OC_CHECK_STR(res.error, "HTTP 500: boom ");
  server_stop(&s, th);
  oc_output_deinit(&o);

  server_start(&s, &th,
               "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
               "Content-Length: 0\r\n\r\n",
               1);
  output_for(&o, s.port, 2000, err, sizeof(err));
  oc_webhook_post(wh, &o, "a1", "{}", 2, &res);
  OC_CHECK(!res.ok);
  OC_CHECK_INT(res.status, 302); /* not followed */
  server_stop(&s, th);
  OC_CHECK_INT(s.requests, 1);
  oc_output_deinit(&o);
  oc_webhook_destroy(wh);
}

static void test_webhook_timeout_and_refused(void) {
  server_t s;
  pthread_t th;
  oc_output_t o;
  oc_webhook_result_t res;
  char err[256];
  oc_webhook_t *wh = oc_webhook_new("ocelot-test", err, sizeof(err));

  server_start(&s, &th, NULL, 1);
  output_for(&o, s.port, 300, err, sizeof(err));
  oc_webhook_post(wh, &o, "a1", "{}", 2, &res);
  OC_CHECK(!res.ok);
  OC_CHECK_INT(res.status, 0);
  OC_CHECK(res.error[0] != '\0');
  OC_CHECK(res.duration_us >= 250000 && res.duration_us < 2000000);
  int port = s.port;
  server_stop(&s, th);
  oc_output_deinit(&o);

  output_for(&o, port, 1000, err, sizeof(err)); /* nobody listens there any more */
  oc_webhook_post(wh, &o, "a1", "{}", 2, &res);
  OC_CHECK(!res.ok);
  OC_CHECK_INT(res.status, 0);
  OC_CHECK(res.error[0] != '\0');
  oc_output_deinit(&o);
  oc_webhook_destroy(wh);
}

int main(void) {
  static const oc_test_case_t cases[] = {
      OC_TEST(test_parse_full_config),
      OC_TEST(test_parse_defaults),
      OC_TEST(test_parse_rejects),
      OC_TEST(test_webhook_success_headers_keepalive),
      OC_TEST(test_webhook_500_and_redirect_fail),
      OC_TEST(test_webhook_timeout_and_refused),
  };
  int rc;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  curl_global_cleanup();
  return rc;
}
