/* metrics.c: Prometheus counters, gauges and histograms behind one mutex. A series is
 * found through a small hash table on (name, labels); families keep declaration order
 * so /metrics output is stable. Allocation happens only when a series first appears. */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OC_METRICS_MAX_BUCKETS 64
#define OC_METRICS_HASH_SIZE 1024

static const double oc_default_buckets[] = {.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

typedef struct oc_series oc_series_t;
typedef struct oc_family oc_family_t;

struct oc_series {
  oc_family_t *fam;
  char *labels;
  double value;      /* counter or gauge */
  uint64_t *buckets; /* histogram: per-bucket (non-cumulative) counts */
  uint64_t count;
  double sum;
  oc_series_t *hnext; /* hash chain */
  oc_series_t *fnext; /* family order */
};

struct oc_family {
  char *name;
  char *help;
  oc_metric_type_t type;
  double *bounds;
  size_t nbounds;
  oc_series_t *first, *last;
  oc_family_t *next;
};

struct oc_metrics {
  pthread_mutex_t mu;
  oc_family_t *first, *last;
  oc_series_t *hash[OC_METRICS_HASH_SIZE];
};

oc_metrics_t *oc_metrics_new(void) {
  oc_metrics_t *m = calloc(1, sizeof(*m));
  if (!m) return NULL;
  pthread_mutex_init(&m->mu, NULL);
  return m;
}

void oc_metrics_destroy(oc_metrics_t *m) {
  if (!m) return;
  for (oc_family_t *f = m->first, *fn; f; f = fn) {
    fn = f->next;
    for (oc_series_t *s = f->first, *sn; s; s = sn) {
      sn = s->fnext;
      free(s->labels);
      free(s->buckets);
      free(s);
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
  }
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static uint32_t oc_metrics_hash(const char *name, const char *labels) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = name; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ 0xffu) * 16777619u;
  for (const char *p = labels; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h % OC_METRICS_HASH_SIZE;
}

static oc_family_t *oc_family_find(oc_metrics_t *m, const char *name) {
  for (oc_family_t *f = m->first; f; f = f->next)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static bool oc_family_set_buckets(oc_family_t *f, const double *buckets, size_t n) {
  if (!buckets || n == 0) {
    buckets = oc_default_buckets;
    n = sizeof(oc_default_buckets) / sizeof(oc_default_buckets[0]);
  }
  if (n > OC_METRICS_MAX_BUCKETS) n = OC_METRICS_MAX_BUCKETS;
  double *b = malloc(n * sizeof(*b));
  if (!b) return false;
  /* Keep only strictly increasing finite bounds; +Inf is implicit. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(buckets[i])) continue;
    if (k > 0 && buckets[i] <= b[k - 1]) continue;
    b[k++] = buckets[i];
  }
  free(f->bounds);
  f->bounds = b;
  f->nbounds = k;
  return true;
}

static oc_family_t *oc_family_get(oc_metrics_t *m, const char *name, oc_metric_type_t type) {
  oc_family_t *f = oc_family_find(m, name);
  if (f) return f;
  f = calloc(1, sizeof(*f));
  if (!f) return NULL;
  f->name = strdup(name);
  f->type = type;
  if (!f->name || (type == OC_METRIC_HISTOGRAM && !oc_family_set_buckets(f, NULL, 0))) {
    free(f->name);
    free(f);
    return NULL;
  }
  if (m->last)
    m->last->next = f;
  else
    m->first = f;
  m->last = f;
  return f;
}

void oc_metrics_declare(oc_metrics_t *m, const char *name, oc_metric_type_t type, const char *help,
                        const double *buckets, size_t nbuckets) {
  pthread_mutex_lock(&m->mu);
  oc_family_t *f = oc_family_get(m, name, type);
  if (!f) goto out;
  if (help && (!f->help || strcmp(f->help, help) != 0)) {
    char *h = strdup(help);
    if (h) {
      free(f->help);
      f->help = h;
    }
  }
  /* Buckets can change only while no series exists (their counts depend on them). */
  if (type == OC_METRIC_HISTOGRAM && f->type == OC_METRIC_HISTOGRAM && !f->first)
    oc_family_set_buckets(f, buckets, nbuckets);
out:
  pthread_mutex_unlock(&m->mu);
}

/* Called with the lock held. */
static oc_series_t *oc_series_get(oc_metrics_t *m, const char *name, const char *labels,
                                  oc_metric_type_t type) {
  if (!labels) labels = "";
  uint32_t h = oc_metrics_hash(name, labels);
  for (oc_series_t *s = m->hash[h]; s; s = s->hnext)
    if (strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0) return s;
  oc_family_t *f = oc_family_get(m, name, type);
  if (!f) return NULL;
  oc_series_t *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  s->fam = f;
  s->labels = strdup(labels);
  if (f->type == OC_METRIC_HISTOGRAM) s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t));
  if (!s->labels || (f->type == OC_METRIC_HISTOGRAM && !s->buckets)) {
    free(s->labels);
    free(s->buckets);
    free(s);
    return NULL;
  }
  s->hnext = m->hash[h];
  m->hash[h] = s;
  if (f->last)
    f->last->fnext = s;
  else
    f->first = s;
  f->last = s;
  return s;
}

void oc_metrics_inc(oc_metrics_t *m, const char *name, const char *labels, uint64_t by) {
  pthread_mutex_lock(&m->mu);
  oc_series_t *s = oc_series_get(m, name, labels, OC_METRIC_COUNTER);
  if (s && s->fam->type != OC_METRIC_HISTOGRAM) s->value += (double)by;
  pthread_mutex_unlock(&m->mu);
}

void oc_metrics_set(oc_metrics_t *m, const char *name, const char *labels, double value) {
  pthread_mutex_lock(&m->mu);
  oc_series_t *s = oc_series_get(m, name, labels, OC_METRIC_GAUGE);
  if (s && s->fam->type != OC_METRIC_HISTOGRAM) s->value = value;
  pthread_mutex_unlock(&m->mu);
}

void oc_metrics_observe(oc_metrics_t *m, const char *name, const char *labels, double value) {
  pthread_mutex_lock(&m->mu);
  oc_series_t *s = oc_series_get(m, name, labels, OC_METRIC_HISTOGRAM);
  if (s && s->fam->type == OC_METRIC_HISTOGRAM && !isnan(value)) {
    size_t i = 0;
    while (i < s->fam->nbounds && value > s->fam->bounds[i])
      i++;
    s->buckets[i]++; /* i == nbounds: only the +Inf bucket */
    s->count++;
    s->sum += value;
  }
  pthread_mutex_unlock(&m->mu);
}

double oc_metrics_get(oc_metrics_t *m, const char *name, const char *labels) {
  double v = 0;
  if (!labels) labels = "";
  pthread_mutex_lock(&m->mu);
  for (oc_series_t *s = m->hash[oc_metrics_hash(name, labels)]; s; s = s->hnext) {
    if (strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0) {
      v = s->fam->type == OC_METRIC_HISTOGRAM ? (double)s->count : s->value;
      break;
    }
  }
  pthread_mutex_unlock(&m->mu);
  return v;
}

char *oc_metrics_label_escape(const char *in, char *out, size_t out_size) {
  size_t o = 0;
  if (!out_size) return out;
  for (; in && *in; in++) {
    const char *rep = NULL;
    if (*in == '\\')
      rep = "\\\\";
    else if (*in == '"')
      rep = "\\\"";
    else if (*in == '\n')
      rep = "\\n";
    size_t n = rep ? 2 : 1;
    if (o + n >= out_size) break;
    if (rep)
      memcpy(out + o, rep, 2);
    else
      out[o] = *in;
    o += n;
  }
  out[o] = '\0';
  return out;
}

/* A small growable text buffer for rendering; allocation failure is sticky. */
typedef struct {
  char *p;
  size_t len, cap;
  bool oom;
} oc_mbuf_t;

static void oc_mbuf_add(oc_mbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void oc_mbuf_puts(oc_mbuf_t *b, const char *s) {
  oc_mbuf_add(b, s, strlen(s));
}

static void oc_mbuf_printf(oc_mbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void oc_mbuf_printf(oc_mbuf_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  oc_mbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Shortest text that reads back as the same double; Prometheus spellings for specials. */
static void oc_fmt_double(double v, char *out, size_t size) {
  if (isnan(v)) {
    snprintf(out, size, "NaN");
  } else if (isinf(v)) {
    snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
  } else if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(out, size, "%.0f", v);
  } else {
    for (int prec = 6; prec <= 17; prec++) {
      snprintf(out, size, "%.*g", prec, v);
      if (strtod(out, NULL) == v) break;
    }
  }
}

static void oc_render_help(oc_mbuf_t *b, const oc_family_t *f) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  if (f->help) {
    oc_mbuf_printf(b, "# HELP %s ", f->name);
    for (const char *p = f->help; *p; p++) {
      if (*p == '\\')
        oc_mbuf_puts(b, "\\\\");
      else if (*p == '\n')
        oc_mbuf_puts(b, "\\n");
      else
        oc_mbuf_add(b, p, 1);
    }
    oc_mbuf_puts(b, "\n");
  }
  oc_mbuf_printf(b, "# TYPE %s %s\n", f->name, types[f->type]);
}

/* name{labels[,extra]} value */
static void oc_render_line(oc_mbuf_t *b, const char *name, const char *suffix, const char *labels,
                           const char *extra, const char *value) {
  oc_mbuf_puts(b, name);
  oc_mbuf_puts(b, suffix);
  bool has_labels = labels && *labels;
  if (has_labels || extra) {
    oc_mbuf_puts(b, "{");
    if (has_labels) oc_mbuf_puts(b, labels);
    if (has_labels && extra) oc_mbuf_puts(b, ",");
    if (extra) oc_mbuf_puts(b, extra);
    oc_mbuf_puts(b, "}");
  }
  oc_mbuf_puts(b, " ");
  oc_mbuf_puts(b, value);
  oc_mbuf_puts(b, "\n");
}

char *oc_metrics_render(oc_metrics_t *m, size_t *len) {
  oc_mbuf_t b = {0};
  char num[64], le[96];
  pthread_mutex_lock(&m->mu);
  for (const oc_family_t *f = m->first; f; f = f->next) {
    if (!f->first && !f->help) continue;
    oc_render_help(&b, f);
    for (const oc_series_t *s = f->first; s; s = s->fnext) {
      if (f->type != OC_METRIC_HISTOGRAM) {
        oc_fmt_double(s->value, num, sizeof(num));
        oc_render_line(&b, f->name, "", s->labels, NULL, num);
        continue;
      }
      uint64_t cum = 0;
      for (size_t i = 0; i <= f->nbounds; i++) {
        cum += s->buckets[i];
        if (i < f->nbounds) {
          char bound[48];
          oc_fmt_double(f->bounds[i], bound, sizeof(bound));
          snprintf(le, sizeof(le), "le=\"%s\"", bound);
        } else {
          snprintf(le, sizeof(le), "le=\"+Inf\"");
        }
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
        oc_render_line(&b, f->name, "_bucket", s->labels, le, num);
      }
      oc_fmt_double(s->sum, num, sizeof(num));
      oc_render_line(&b, f->name, "_sum", s->labels, NULL, num);
      snprintf(num, sizeof(num), "%llu", (unsigned long long)s->count);
      oc_render_line(&b, f->name, "_count", s->labels, NULL, num);
    }
  }
  pthread_mutex_unlock(&m->mu);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  if (!b.p) oc_mbuf_add(&b, "", 0);
  if (b.oom) return NULL;
  if (len) *len = b.len;
  return b.p;
}
