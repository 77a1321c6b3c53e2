/* Unit tests for metrics.c: Prometheus text format, counters and gauges, histogram
 * buckets/sum/count, label and HELP escaping, thread safety. */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "oc_test.h"

static char *render(oc_metrics_t *m) {
  size_t len = 0;
  char *text = oc_metrics_render(m, &len);
  OC_CHECK(text != NULL);
  if (text) OC_CHECK_INT(len, strlen(text));
  return text;
}

static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; p && *p;) {
    if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0')) return true;
    p = strchr(p, '\n');
    if (p) p++;
  }
  return false;
}

static void test_counters_and_gauges(void) {
  oc_metrics_t *m = oc_metrics_new();
  oc_metrics_declare(m, "ocelot_things_total", OC_METRIC_COUNTER, "Things seen.", NULL, 0);
  oc_metrics_inc(m, "ocelot_things_total", "topic=\"a\"", 2);
  oc_metrics_inc(m, "ocelot_things_total", "topic=\"a\"", 1);
  oc_metrics_inc(m, "ocelot_things_total", "topic=\"b\"", 0);
  oc_metrics_set(m, "ocelot_level", "", 1.5);
  oc_metrics_set(m, "ocelot_level", "", -0.25);
  oc_metrics_set(m, "ocelot_big", NULL, 12345678901.0);
  OC_CHECK(oc_metrics_get(m, "ocelot_things_total", "topic=\"a\"") == 3);
  OC_CHECK(oc_metrics_get(m, "ocelot_things_total", "topic=\"zzz\"") == 0);
  OC_CHECK(oc_metrics_get(m, "ocelot_level", "") == -0.25);

  char *text = render(m);
  OC_CHECK(has_line(text, "# HELP ocelot_things_total Things seen."));
  OC_CHECK(has_line(text, "# TYPE ocelot_things_total counter"));
  OC_CHECK(has_line(text, "ocelot_things_total{topic=\"a\"} 3"));
  OC_CHECK(has_line(text, "ocelot_things_total{topic=\"b\"} 0"));
  OC_CHECK(has_line(text, "# TYPE ocelot_level gauge"));
  OC_CHECK(has_line(text, "ocelot_level -0.25"));
  OC_CHECK(has_line(text, "ocelot_big 12345678901"));
  /* HELP/TYPE come right before the family's samples, once. */
  const char *type = strstr(text, "# TYPE ocelot_things_total counter\n");
  OC_CHECK(type && strstr(type, "ocelot_things_total{topic=\"a\"}") ==
                       type + strlen("# TYPE ocelot_things_total counter\n"));
  OC_CHECK(strstr(type + 1, "# TYPE ocelot_things_total") == NULL);
  free(text);
  oc_metrics_destroy(m);
}

static void test_histogram_default_buckets(void) {
  oc_metrics_t *m = oc_metrics_new();
  oc_metrics_observe(m, "ocelot_latency_seconds", "", 0.003);
  oc_metrics_observe(m, "ocelot_latency_seconds", "", 0.02);
  oc_metrics_observe(m, "ocelot_latency_seconds", "", 0.005); /* on a bound: le is inclusive */
  oc_metrics_observe(m, "ocelot_latency_seconds", "", 7);
  oc_metrics_observe(m, "ocelot_latency_seconds", "", 100);
  char *text = render(m);
  OC_CHECK(has_line(text, "# TYPE ocelot_latency_seconds histogram"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"0.001\"} 0"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"0.005\"} 2"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"0.01\"} 2"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"0.025\"} 3"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"5\"} 3"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"10\"} 4"));
  OC_CHECK(has_line(text, "ocelot_latency_seconds_bucket{le=\"+Inf\"} 5"));
  const char *sum = strstr(text, "\nocelot_latency_seconds_sum ");
  OC_CHECK(sum &&
           fabs(strtod(sum + strlen("\nocelot_latency_seconds_sum "), NULL) - 107.028) < 1e-9);
  OC_CHECK(has_line(text, "ocelot_latency_seconds_count 5"));
  OC_CHECK(oc_metrics_get(m, "ocelot_latency_seconds", "") == 5);
  free(text);
  oc_metrics_destroy(m);
}

static void test_histogram_custom_buckets_and_labels(void) {
  static const double b[] = {1, 2, 2, 0.5, 4}; /* not increasing: 2 and 0.5 are dropped */
  oc_metrics_t *m = oc_metrics_new();
  oc_metrics_declare(m, "ocelot_size", OC_METRIC_HISTOGRAM, "Sizes.", b, 5);
  oc_metrics_observe(m, "ocelot_size", "kind=\"x\"", 0.5);
  oc_metrics_observe(m, "ocelot_size", "kind=\"x\"", 3);
  oc_metrics_observe(m, "ocelot_size", "kind=\"y\"", 9);
  char *text = render(m);
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"x\",le=\"1\"} 1"));
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"x\",le=\"2\"} 1"));
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"x\",le=\"4\"} 2"));
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"x\",le=\"+Inf\"} 2"));
  OC_CHECK(has_line(text, "ocelot_size_sum{kind=\"x\"} 3.5"));
  OC_CHECK(has_line(text, "ocelot_size_count{kind=\"x\"} 2"));
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"y\",le=\"4\"} 0"));
  OC_CHECK(has_line(text, "ocelot_size_bucket{kind=\"y\",le=\"+Inf\"} 1"));
  OC_CHECK(strstr(text, "le=\"0.5\"") == NULL);
  /* Exactly 4 bucket lines per series. */
  int buckets = 0;
  for (const char *p = text; (p = strstr(p, "ocelot_size_bucket{kind=\"x\"")); p++)
    buckets++;
  OC_CHECK_INT(buckets, 4);
  free(text);
  oc_metrics_destroy(m);
}

static void test_label_escape(void) {
  char out[64];
  OC_CHECK_STR(oc_metrics_label_escape("a\"b\\c\nd", out, sizeof(out)), "a\\\"b\\\\c\\nd");
  OC_CHECK_STR(oc_metrics_label_escape("plain", out, sizeof(out)), "plain");
  OC_CHECK_STR(oc_metrics_label_escape("", out, sizeof(out)), "");
  /* Truncation never splits an escape and always terminates. */
  OC_CHECK_STR(oc_metrics_label_escape("ab\"cd", out, 4), "ab");
  OC_CHECK_STR(oc_metrics_label_escape("abc", out, 1), "");
  char big[8];
  memset(big, 'z', sizeof(big));
  oc_metrics_label_escape("0123456789", big, sizeof(big));
  OC_CHECK_STR(big, "0123456");

  /* An escaped value renders as written. */
  oc_metrics_t *m = oc_metrics_new();
  char labels[128], esc[64];
  snprintf(labels, sizeof(labels), "topic=\"%s\"",
           oc_metrics_label_escape("we\"ird\n", esc, sizeof(esc)));
  oc_metrics_inc(m, "ocelot_x_total", labels, 1);
  oc_metrics_declare(m, "ocelot_y", OC_METRIC_GAUGE, "Line one\nline \\two", NULL, 0);
  oc_metrics_set(m, "ocelot_y", "", 1);
  char *text = render(m);
  OC_CHECK(has_line(text, "ocelot_x_total{topic=\"we\\\"ird\\n\"} 1"));
  OC_CHECK(has_line(text, "# HELP ocelot_y Line one\\nline \\\\two"));
  free(text);
  oc_metrics_destroy(m);
}

static void test_special_values(void) {
  oc_metrics_t *m = oc_metrics_new();
  oc_metrics_set(m, "ocelot_inf", "", 1.0 / 0.0);
  oc_metrics_set(m, "ocelot_small", "", 0.1);
  oc_metrics_declare(m, "ocelot_declared_only", OC_METRIC_COUNTER, "No samples yet.", NULL, 0);
  char *text = render(m);
  OC_CHECK(has_line(text, "ocelot_inf +Inf"));
  OC_CHECK(has_line(text, "ocelot_small 0.1"));
  OC_CHECK(has_line(text, "# TYPE ocelot_declared_only counter"));
  free(text);
  oc_metrics_destroy(m);
}

static void *hammer(void *arg) {
  oc_metrics_t *m = arg;
  for (int i = 0; i < 20000; i++) {
    oc_metrics_inc(m, "ocelot_c_total", "t=\"1\"", 1);
    oc_metrics_observe(m, "ocelot_h", "", 0.01);
    if (i % 1000 == 0) free(oc_metrics_render(m, NULL));
  }
  return NULL;
}

static void test_threads(void) {
  oc_metrics_t *m = oc_metrics_new();
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, hammer, m);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  OC_CHECK(oc_metrics_get(m, "ocelot_c_total", "t=\"1\"") == 80000);
  OC_CHECK(oc_metrics_get(m, "ocelot_h", "") == 80000);
  oc_metrics_destroy(m);
}

static void test_many_series(void) {
  oc_metrics_t *m = oc_metrics_new();
  char labels[64];
  for (int i = 0; i < 5000; i++) {
    snprintf(labels, sizeof(labels), "partition=\"%d\"", i);
    oc_metrics_set(m, "ocelot_lag", labels, i);
  }
  for (int i = 0; i < 5000; i += 499) {
    snprintf(labels, sizeof(labels), "partition=\"%d\"", i);
    OC_CHECK(oc_metrics_get(m, "ocelot_lag", labels) == i);
  }
  char *text = render(m);
  OC_CHECK(has_line(text, "ocelot_lag{partition=\"4999\"} 4999"));
  free(text);
  oc_metrics_destroy(m);
}

OC_TEST_MAIN(OC_TEST(test_counters_and_gauges), OC_TEST(test_histogram_default_buckets),
             OC_TEST(test_histogram_custom_buckets_and_labels), OC_TEST(test_label_escape),
             OC_TEST(test_special_values), OC_TEST(test_threads), OC_TEST(test_many_series))
