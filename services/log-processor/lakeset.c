/* lakeset.c: per-object lake files (see lakeset.h). */
#include "services/log-processor/lakeset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OC_US_PER_HOUR INT64_C(3600000000)

struct oc_lakepart {
  const char *log_type;
  int64_t hour; /* floor(event time / 1 h) */
  unsigned seq; /* number of the next file */
  oc_lake_writer_t *w;
  int64_t first_us, last_us;
  uint64_t used; /* LRU clock */
};

void oc_lakeset_init(oc_lakeset_t *set, const char *root, int zstd_level, uint64_t max_rows,
                     size_t max_open) {
  memset(set, 0, sizeof(*set));
  set->root = root;
  set->zstd_level = zstd_level;
  set->max_rows = max_rows ? max_rows : 1;
  set->max_open = max_open ? max_open : 1;
}

static void oc_lakeset_clear_files(oc_lakeset_t *set) {
  for (size_t i = 0; i < set->nfiles; i++) {
    free(set->files[i].log_type);
    free(set->files[i].key);
  }
  set->nfiles = 0;
}

void oc_lakeset_deinit(oc_lakeset_t *set) {
  oc_lakeset_abort(set);
  oc_lakeset_clear_files(set);
  free(set->files);
  free(set->parts);
  memset(set, 0, sizeof(*set));
}

void oc_lakeset_begin(oc_lakeset_t *set, const char *base) {
  oc_lakeset_abort(set);
  oc_lakeset_clear_files(set);
  set->nparts = 0;
  set->last = 0;
  set->clock = 0;
  snprintf(set->base, sizeof(set->base), "%s", base);
}

static int64_t oc_lakeset_hour(int64_t us) {
  int64_t h = us / OC_US_PER_HOUR;
  if (us % OC_US_PER_HOUR < 0) h--;
  return h;
}

/* Commits p's open file and records it. */
static oc_err_t oc_lakeset_close(oc_lakeset_t *set, oc_lakepart_t *p, char *errstr,
                                 size_t errstr_size) {
  char key[1024];
  uint64_t bytes = 0, rows;
  oc_lakefile_t *f;
  oc_err_t err;
  if (!p->w) return OC_OK;
  rows = oc_lake_writer_rows(p->w);
  if (set->nfiles == set->cap_files) {
    size_t cap = set->cap_files ? set->cap_files * 2 : 16;
    oc_lakefile_t *nf = realloc(set->files, cap * sizeof(*nf));
    if (!nf) {
      snprintf(errstr, errstr_size, "could not commit a lake file: out of memory");
      return OC_ERR_NOMEM;
    }
    set->files = nf;
    set->cap_files = cap;
  }
  err = oc_lake_writer_commit(p->w, key, sizeof(key), &bytes, errstr, errstr_size);
  p->w = NULL;
  set->nopen--;
  if (err) return err;
  f = &set->files[set->nfiles];
  f->log_type = strdup(p->log_type);
  f->key = strdup(key);
  if (!f->log_type || !f->key) {
    free(f->log_type);
    free(f->key);
    snprintf(errstr, errstr_size, "could not record lake file \"%s\": out of memory", key);
    return OC_ERR_NOMEM;
  }
  f->rows = rows;
  f->bytes = bytes;
  f->first_event_us = p->first_us;
  f->last_event_us = p->last_us;
  set->nfiles++;
  return OC_OK;
}

static oc_err_t oc_lakeset_open(oc_lakeset_t *set, oc_lakepart_t *p, int64_t event_time_us,
                                char *errstr, size_t errstr_size) {
  char table[160], name[64];
  oc_err_t err;
  if (set->nopen >= set->max_open) { /* commit the least recently used file */
    oc_lakepart_t *lru = NULL;
    for (size_t i = 0; i < set->nparts; i++)
      if (set->parts[i].w && (!lru || set->parts[i].used < lru->used)) lru = &set->parts[i];
    if (lru && (err = oc_lakeset_close(set, lru, errstr, errstr_size)) != OC_OK) return err;
  }
  oc_lake_table_name(p->log_type, table, sizeof(table));
  snprintf(name, sizeof(name), "%s-%06u", set->base, p->seq++);
  p->w = oc_lake_writer_open(set->root, "logs", table, event_time_us, name, set->zstd_level, errstr,
                             errstr_size);
  if (!p->w) return OC_ERR_IO;
  set->nopen++;
  p->first_us = p->last_us = event_time_us;
  return OC_OK;
}

oc_err_t oc_lakeset_append(oc_lakeset_t *set, const char *log_type, int64_t event_time_us,
                           const char *line, size_t len, char *errstr, size_t errstr_size) {
  int64_t hour = oc_lakeset_hour(event_time_us);
  oc_lakepart_t *p = NULL;
  oc_err_t err;
  /* events mostly arrive in time order: the last partition is the likely one */
  if (set->last < set->nparts && set->parts[set->last].hour == hour &&
      strcmp(set->parts[set->last].log_type, log_type) == 0) {
    p = &set->parts[set->last];
  } else {
    for (size_t i = 0; i < set->nparts; i++) {
      if (set->parts[i].hour == hour && strcmp(set->parts[i].log_type, log_type) == 0) {
        p = &set->parts[i];
        set->last = i;
        break;
      }
    }
  }
  if (!p) {
    if (set->nparts >= OC_LAKESET_MAX_PARTITIONS) {
      snprintf(errstr, errstr_size, "the object spans more than %d (log type, hour) partitions",
               OC_LAKESET_MAX_PARTITIONS);
      return OC_ERR_LIMIT;
    }
    if (set->nparts == set->cap_parts) {
      size_t cap = set->cap_parts ? set->cap_parts * 2 : 16;
      oc_lakepart_t *np = realloc(set->parts, cap * sizeof(*np));
      if (!np) {
        snprintf(errstr, errstr_size, "could not add a lake partition: out of memory");
        return OC_ERR_NOMEM;
      }
      set->parts = np;
      set->cap_parts = cap;
    }
    p = &set->parts[set->nparts];
    memset(p, 0, sizeof(*p));
    p->log_type = log_type;
    p->hour = hour;
    set->last = set->nparts++;
  }
  p->used = ++set->clock;
  if (!p->w && (err = oc_lakeset_open(set, p, event_time_us, errstr, errstr_size)) != OC_OK)
    return err;
  err = oc_lake_writer_append(p->w, line, len);
  if (err) {
    snprintf(errstr, errstr_size, "could not append to a lake file of %s: %s", log_type,
             err == OC_ERR_INVALID ? "line contains a newline" : "write failed");
    return err;
  }
  if (event_time_us < p->first_us) p->first_us = event_time_us;
  if (event_time_us > p->last_us) p->last_us = event_time_us;
  if (oc_lake_writer_rows(p->w) >= set->max_rows)
    return oc_lakeset_close(set, p, errstr, errstr_size);
  return OC_OK;
}

oc_err_t oc_lakeset_commit(oc_lakeset_t *set, char *errstr, size_t errstr_size) {
  oc_err_t first = OC_OK;
  for (size_t i = 0; i < set->nparts; i++) {
    oc_err_t err = oc_lakeset_close(set, &set->parts[i], errstr, errstr_size);
    if (err && !first) first = err;
    if (first) {
      oc_lakeset_abort(set);
      break;
    }
  }
  return first;
}

void oc_lakeset_abort(oc_lakeset_t *set) {
  for (size_t i = 0; i < set->nparts; i++) {
    if (set->parts[i].w) {
      oc_lake_writer_abort(set->parts[i].w);
      set->parts[i].w = NULL;
    }
  }
  set->nopen = 0;
}
