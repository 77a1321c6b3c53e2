/* metrics.h: Prometheus counters, gauges and histograms. Thread-safe (one mutex; the
 * hot paths aggregate per batch or per file and call in once). Series are identified by
 * a metric name and a label string such as `topic="alerts",reason="decode"`. */
#ifndef OC_METRICS_H
#define OC_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct oc_metrics oc_metrics_t;

typedef enum { OC_METRIC_COUNTER, OC_METRIC_GAUGE, OC_METRIC_HISTOGRAM } oc_metric_type_t;

oc_metrics_t *oc_metrics_new(void);
void oc_metrics_destroy(oc_metrics_t *m);
/* Declares HELP/TYPE for a family; optional for counters/gauges, required before
 * observing a histogram with non-default buckets. buckets may be NULL (defaults:
 * .001 .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 seconds). */
void oc_metrics_declare(oc_metrics_t *m, const char *name, oc_metric_type_t type, const char *help,
                        const double *buckets, size_t nbuckets);
void oc_metrics_inc(oc_metrics_t *m, const char *name, const char *labels, uint64_t by);
void oc_metrics_set(oc_metrics_t *m, const char *name, const char *labels, double value);
void oc_metrics_observe(oc_metrics_t *m, const char *name, const char *labels, double value);
/* Current value of a counter or gauge series (0 when absent); for tests and tools. */
double oc_metrics_get(oc_metrics_t *m, const char *name, const char *labels);
/* Prometheus text exposition format 0.0.4. Returns malloc'd text (caller frees). */
char *oc_metrics_render(oc_metrics_t *m, size_t *len);
/* Escapes a label value ("\\", "\"", "\n") into out; returns out. */
char *oc_metrics_label_escape(const char *in, char *out, size_t out_size);

#endif
