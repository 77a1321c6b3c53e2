/* webhook.c: one webhook POST over a reused libcurl easy handle (see webhook.h). */
#include "services/alert-delivery/webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#define OC_WEBHOOK_MAX_ID 256

struct oc_webhook {
  CURL *curl;
  char *user_agent;
};

/* Response sink: keeps the start for messages, counts the rest, stops past the cap. */
typedef struct {
  oc_webhook_result_t *res;
  size_t kept;
  size_t total;
  bool capped;
} oc_webhook_sink_t;

static size_t oc_webhook_write(char *ptr, size_t size, size_t nmemb, void *opaque) {
  oc_webhook_sink_t *sink = opaque;
  size_t n = size * nmemb;
  if (sink->total + n > OC_WEBHOOK_MAX_RESPONSE) {
    sink->capped = true;
    return 0; /* ends the transfer with CURLE_WRITE_ERROR */
  }
  sink->total += n;
  if (sink->kept < OC_WEBHOOK_KEEP_RESPONSE) {
    size_t k = OC_WEBHOOK_KEEP_RESPONSE - sink->kept;
    if (k > n) k = n;
    memcpy(sink->res->body + sink->kept, ptr, k);
    sink->kept += k;
    sink->res->body[sink->kept] = '\0';
  }
  return n;
}

oc_webhook_t *oc_webhook_new(const char *user_agent, char *errstr, size_t errstr_size) {
  oc_webhook_t *wh = calloc(1, sizeof(*wh));
  if (!wh) goto oom;
  wh->user_agent = strdup(user_agent ? user_agent : "ocelot");
  if (!wh->user_agent) goto oom;
  wh->curl = curl_easy_init();
  if (!wh->curl) {
    snprintf(errstr, errstr_size, "could not create a libcurl handle");
    oc_webhook_destroy(wh);
    return NULL;
  }
  return wh;
oom:
  snprintf(errstr, errstr_size, "out of memory");
  oc_webhook_destroy(wh);
  return NULL;
}

void oc_webhook_destroy(oc_webhook_t *wh) {
  if (!wh) return;
  if (wh->curl) curl_easy_cleanup(wh->curl);
  free(wh->user_agent);
  free(wh);
}

/* A printable, bounded copy of a response body for messages: control bytes -> ' '. */
static void oc_webhook_clean(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

void oc_webhook_post(oc_webhook_t *wh, const oc_output_t *out, const char *alert_id,
                     const char *body, size_t len, oc_webhook_result_t *res) {
  CURL *c = wh->curl;
  struct curl_slist *hdrs = NULL, *tmp;
  char line[64 + OC_WEBHOOK_MAX_ID];
  char curl_err[CURL_ERROR_SIZE];
  oc_webhook_sink_t sink;
  CURLcode rc;
  int64_t t0 = oc_monotonic_us();

  memset(res, 0, sizeof(*res));
  memset(&sink, 0, sizeof(sink));
  sink.res = res;
  curl_err[0] = '\0';

  if (strlen(alert_id) > OC_WEBHOOK_MAX_ID) {
    snprintf(res->error, sizeof(res->error), "alert id is over %d bytes", OC_WEBHOOK_MAX_ID);
    return;
  }
#define OC_HDR(s)                       \
  do {                                  \
    tmp = curl_slist_append(hdrs, (s)); \
    if (!tmp) goto oom;                 \
    hdrs = tmp;                         \
  } while (0)
  OC_HDR("Content-Type: application/json");
  snprintf(line, sizeof(line), "Idempotency-Key: %s", alert_id);
  OC_HDR(line);
  snprintf(line, sizeof(line), "X-Ocelot-Alert-Id: %s", alert_id);
  OC_HDR(line);
  OC_HDR("Expect:"); /* no 100-continue round trip */
  for (size_t i = 0; i < out->nheaders; i++)
    OC_HDR(out->headers[i].line);
#undef OC_HDR

  /* Reset drops the previous request's options but keeps the connection cache. */
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, out->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, wh->user_agent);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, out->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, out->timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oc_webhook_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);

  rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
  res->duration_us = oc_monotonic_us() - t0;
  oc_webhook_clean(res->body);
  /* The options point at our stack and the header list: clear them before returning. */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
  curl_slist_free_all(hdrs);

  if (rc == CURLE_WRITE_ERROR && sink.capped) {
    /* The destination answered with a status and then an oversized body: the status is
     * the answer; the rest is not read. */
    rc = CURLE_OK;
  }
  if (rc != CURLE_OK) {
    snprintf(res->error, sizeof(res->error), "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    return;
  }
  if (res->status >= 200 && res->status < 300) {
    res->ok = true;
    return;
  }
  if (res->body[0])
    snprintf(res->error, sizeof(res->error), "HTTP %ld: %.300s", res->status, res->body);
  else
    snprintf(res->error, sizeof(res->error), "HTTP %ld", res->status);
  return;

oom:
  curl_slist_free_all(hdrs);
  res->duration_us = oc_monotonic_us() - t0;
  snprintf(res->error, sizeof(res->error), "out of memory");
}
