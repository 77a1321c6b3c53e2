/* object.c: one input object from the object store to lake files (see object.h).
 *
 * Memory per object is flat: the reader's fixed buffers, one line or record (bounded by
 * max_line), that line's parse tree in proc->arena (reset before every line, so no
 * malloc per event once the arena has warmed up), one reused output buffer, and one
 * zstd stream per open lake file. */
#include "services/log-processor/object.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/lake.h"
#include "common/log.h"
#include "common/reader.h"
#include "services/log-processor/classify.h"
#include "services/log-processor/normalize.h"
#include "services/log-processor/quarantine.h"
#include "services/log-processor/records.h"

#define OC_OBJPROC_ARENA_CHUNK (256 * 1024)
#define OC_OBJPROC_MAX_OPEN 64 /* lake files open at once per object */
#define OC_OBJPROC_ERR_MAX 200 /* bytes of the first error kept per reason, for the log */

struct oc_objproc {
  oc_objproc_config_t cfg;
  oc_metrics_t *metrics;
  oc_arena_t arena;
  oc_buf_t out;    /* the normalized line */
  oc_buf_t object; /* "bucket/key" */
  oc_lakeset_t set;
  oc_quarantine_t q;
  oc_classifier_t *cls;
  oc_indset_t ind;
  oc_cls_out_t cls_out;
  char first_error[OC_REJ__N][OC_OBJPROC_ERR_MAX];
};

static const char *const oc_reject_names[OC_REJ__N] = {
    [OC_REJ_INVALID_UTF8] = "invalid_utf8",
    [OC_REJ_INVALID_JSON] = "invalid_json",
    [OC_REJ_MAX_DEPTH] = "max_depth_exceeded",
    [OC_REJ_LINE_TOO_LONG] = "line_too_long",
    [OC_REJ_NOT_OBJECT] = "not_an_object",
    [OC_REJ_NO_LOG_TYPE] = "no_matching_log_type",
    [OC_REJ_BAD_EVENT_TIME] = "invalid_event_time",
    [OC_REJ_TOO_MANY_PARTITIONS] = "too_many_partitions",
    [OC_REJ_TRUNCATED] = "truncated_input",
    [OC_REJ_CORRUPT] = "corrupt_input",
};

const char *oc_reject_name(oc_reject_t r) {
  return r >= 0 && r < OC_REJ__N ? oc_reject_names[r] : "unknown";
}

oc_objproc_t *oc_objproc_new(const oc_objproc_config_t *cfg, oc_metrics_t *metrics, char *errstr,
                             size_t errstr_size) {
  oc_objproc_t *proc;
  if (!cfg->object_root || !cfg->object_root[0] || !cfg->lake_root || !cfg->lake_root[0] ||
      cfg->max_line == 0 || cfg->max_depth < 1 || cfg->zstd_level < OC_LAKE_ZSTD_MIN ||
      cfg->zstd_level > OC_LAKE_ZSTD_MAX || cfg->zstd_level == 0 || cfg->file_max_rows == 0) {
    snprintf(errstr, errstr_size,
             "invalid processor configuration: roots must be set, max line, depth and rows "
             "positive, zstd level -7..-1 or 1..19");
    return NULL;
  }
  proc = calloc(1, sizeof(*proc));
  if (!proc) {
    snprintf(errstr, errstr_size, "could not create the object processor: out of memory");
    return NULL;
  }
  proc->cfg = *cfg;
  proc->metrics = metrics;
  proc->cls = oc_classifier_new(cfg->max_depth, errstr, errstr_size);
  if (!proc->cls) {
    free(proc);
    return NULL;
  }
  oc_indset_init(&proc->ind);
  oc_arena_init(&proc->arena, OC_OBJPROC_ARENA_CHUNK);
  oc_buf_init(&proc->out);
  oc_buf_init(&proc->object);
  oc_lakeset_init(&proc->set, cfg->lake_root, cfg->zstd_level, cfg->file_max_rows,
                  OC_OBJPROC_MAX_OPEN);
  oc_quarantine_init(&proc->q, cfg->lake_root, cfg->zstd_level, cfg->file_max_rows);
  if (metrics) {
    oc_metrics_declare(metrics, "ocelot_processor_objects_total", OC_METRIC_COUNTER,
                       "Input objects processed, per source.", NULL, 0);
    oc_metrics_declare(metrics, "ocelot_processor_objects_rejected_total", OC_METRIC_COUNTER,
                       "Input objects refused whole (unsafe path, symlink, not a file).", NULL, 0);
    oc_metrics_declare(metrics, "ocelot_processor_lines_rejected_total", OC_METRIC_COUNTER,
                       "Input lines rejected and quarantined, per source and reason.", NULL, 0);
    oc_metrics_declare(metrics, "ocelot_processor_events_total", OC_METRIC_COUNTER,
                       "Events written to the lake, per source and log type.", NULL, 0);
    oc_metrics_declare(metrics, "ocelot_processor_bytes_total", OC_METRIC_COUNTER,
                       "Decompressed input bytes read, per source.", NULL, 0);
  }
  return proc;
}

void oc_objproc_destroy(oc_objproc_t *proc) {
  if (!proc) return;
  oc_classifier_destroy(proc->cls);
  oc_indset_deinit(&proc->ind);
  oc_lakeset_deinit(&proc->set);
  oc_quarantine_deinit(&proc->q);
  oc_buf_deinit(&proc->out);
  oc_buf_deinit(&proc->object);
  oc_arena_deinit(&proc->arena);
  free(proc);
}

void oc_objproc_forget_types(oc_objproc_t *proc) {
  oc_classifier_forget(proc->cls);
}

size_t oc_objproc_quarantine_files(const oc_objproc_t *proc, const char *const **keys) {
  *keys = (const char *const *)proc->q.keys;
  return proc->q.nkeys;
}

/* State of one run. */
typedef struct {
  oc_objproc_t *proc;
  const oc_objproc_source_t *src;
  oc_objproc_result_t *res;
  const char *etag;
  int64_t parse_time_us;
  char *errstr;
  size_t errstr_size;
} oc_run_t;

/* Counts and quarantines one rejection. Fails only when the quarantine cannot be
 * written (transient: the object is retried). */
static oc_err_t oc_run_reject(oc_run_t *run, oc_reject_t why, uint64_t line_no, const char *error,
                              const char *raw, size_t raw_len, uint64_t raw_bytes, bool raw_cut) {
  oc_objproc_result_t *res = run->res;
  oc_err_t err;
  res->rejected++;
  if (res->rejected_by[why]++ == 0) {
    res->first_line[why] = line_no;
    size_t n = error ? strnlen(error, OC_OBJPROC_ERR_MAX - 1) : 0;
    memcpy(run->proc->first_error[why], error ? error : "", n);
    run->proc->first_error[why][n] = '\0';
  }
  err = oc_quarantine_add(&run->proc->q, line_no, oc_reject_name(why), error, raw, raw_len,
                          raw_bytes, raw_cut, run->errstr, run->errstr_size);
  if (!err) res->quarantined++;
  return err;
}

static bool oc_run_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
  return true;
}

static const oc_reject_t oc_cls_rejects[] = {
    [OC_CLS_INVALID_UTF8] = OC_REJ_INVALID_UTF8, [OC_CLS_INVALID_JSON] = OC_REJ_INVALID_JSON,
    [OC_CLS_MAX_DEPTH] = OC_REJ_MAX_DEPTH,       [OC_CLS_NOT_OBJECT] = OC_REJ_NOT_OBJECT,
    [OC_CLS_BAD_TIME] = OC_REJ_BAD_EVENT_TIME,   [OC_CLS_NO_TYPE] = OC_REJ_NO_LOG_TYPE,
};

/* One line or record: parse, classify, normalize, append. */
static oc_err_t oc_run_line(oc_run_t *run, const char *line, size_t len, uint64_t line_no) {
  oc_objproc_t *proc = run->proc;
  const oc_objproc_source_t *src = run->src;
  char rowid[33];
  const oc_logtype_t *lt;
  int64_t event_time_us;
  oc_err_t err;
  oc_norm_meta_t meta;
  oc_cls_out_t *co = &proc->cls_out;
  oc_cls_result_t cr;

  run->res->lines++;
  oc_arena_reset(&proc->arena);
  oc_indset_reset(&proc->ind);
  cr = oc_classifier_line(proc->cls, &proc->arena, line, len, run->res->records_form,
                          run->parse_time_us, &proc->ind, co);
  if (cr == OC_CLS_SKIP) {
    run->res->lines--; /* a header line is not an event */
    return OC_OK;
  }
  if (cr == OC_CLS_NOMEM) {
    snprintf(run->errstr, run->errstr_size, "could not parse a line: out of memory");
    return OC_ERR_NOMEM;
  }
  if (cr != OC_CLS_OK) {
    return oc_run_reject(run, oc_cls_rejects[cr], line_no, co->error, line, len, len, false);
  }
  lt = co->type;
  event_time_us = co->event_time_us;
  oc_normalize_row_id(rowid, src->id, proc->object.data, proc->object.len, run->etag, line_no);
  meta.log_type = lt->name;
  meta.row_id = rowid;
  meta.event_time_us = event_time_us;
  meta.parse_time_us = run->parse_time_us;
  meta.source_id = src->id;
  meta.source_label = src->label;
  meta.indicators = &proc->ind;
  meta.patches = co->patches;
  oc_normalize_event(&proc->out, co->ev, &meta);
  if (!oc_buf_ok(&proc->out)) {
    snprintf(run->errstr, run->errstr_size, "could not normalize an event: out of memory");
    return OC_ERR_NOMEM;
  }
  err = oc_lakeset_append(&proc->set, lt->name, event_time_us, proc->out.data, proc->out.len,
                          run->errstr, run->errstr_size);
  if (err == OC_ERR_LIMIT) {
    char why_text[256];
    snprintf(why_text, sizeof(why_text), "%s", run->errstr);
    return oc_run_reject(run, OC_REJ_TOO_MANY_PARTITIONS, line_no, why_text, line, len, len, false);
  }
  if (err) return err;
  run->res->events++;
  return OC_OK;
}

/* Streams the object through oc_run_line. Errors returned are transient or internal. */
static oc_err_t oc_run_stream(oc_run_t *run, oc_reader_t *r) {
  oc_objproc_t *proc = run->proc;
  oc_records_t rs;
  bool json = false;
  oc_err_t err = OC_OK;
  for (size_t i = 0; i < run->src->ntypes; i++)
    if (run->src->types[i] && run->src->types[i]->schema->parser.kind == OC_PARSER_JSON)
      json = true;
  /* The {"Records":[...]} file form (CloudTrail's, and any JSON type's). */
  run->res->records_form = json && oc_records_detect(r);
  oc_records_init(&rs, r, proc->cfg.max_line);
  for (;;) {
    const char *line;
    size_t len;
    uint64_t line_no;
    oc_err_t rerr;
    if (run->res->records_form) {
      rerr = oc_records_next(&rs, &line, &len);
      line_no = oc_records_index(&rs);
    } else {
      rerr = oc_reader_next_line(r, &line, &len);
      line_no = oc_reader_line_no(r);
    }
    if (rerr == OC_ERR_EOF) break;
    if (rerr == OC_OK) {
      if (!run->res->records_form && oc_run_blank(line, len)) continue;
      err = oc_run_line(run, line, len, line_no);
    } else if (rerr == OC_ERR_LIMIT) {
      char msg[128];
      run->res->lines++;
      snprintf(msg, sizeof(msg), "%s longer than %zu bytes",
               run->res->records_form ? "record" : "line", proc->cfg.max_line);
      err = oc_run_reject(run, OC_REJ_LINE_TOO_LONG, line_no, msg, line, len, len, true);
    } else if (rerr == OC_ERR_DECODE) {
      /* Damaged compression: what came before it is kept; one rejection for the rest. */
      const char *why = oc_reader_error(r);
      oc_reject_t rej = strstr(why, "truncated") ? OC_REJ_TRUNCATED : OC_REJ_CORRUPT;
      uint64_t at = (run->res->records_form ? oc_records_index(&rs) : oc_reader_line_no(r)) + 1;
      err = oc_run_reject(run, rej, at, why, NULL, 0, 0, false);
      break;
    } else if (rerr == OC_ERR_INVALID) { /* the Records structure is broken */
      char why[256];
      snprintf(why, sizeof(why), "%s", oc_records_error(&rs));
      err = oc_run_reject(run, strstr(why, "end of input") ? OC_REJ_TRUNCATED : OC_REJ_INVALID_JSON,
                          oc_records_index(&rs) + 1, why, NULL, 0, 0, false);
      break;
    } else {
      snprintf(run->errstr, run->errstr_size, "could not read object \"%s\": %s", proc->object.data,
               rerr == OC_ERR_NOMEM ? "out of memory" : oc_reader_error(r));
      err = rerr == OC_ERR_NOMEM ? OC_ERR_NOMEM : OC_ERR_IO;
    }
    if (err) break;
  }
  oc_records_deinit(&rs);
  run->res->bytes_in = oc_reader_bytes_in(r);
  run->res->bytes_out = oc_reader_bytes_out(r);
  return err;
}

/* Opens the object, or tells why not: OC_OK with *r; OC_ERR_EOF when the object itself
 * is refused (res->object_reason/error set); else an error to return. */
static oc_err_t oc_run_open(oc_run_t *run, const char *bucket, const char *key, oc_reader_t **r) {
  oc_objproc_t *proc = run->proc;
  oc_objproc_result_t *res = run->res;
  char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX], why[512];
  struct stat st;
  size_t rlen;
  *r = NULL;
  if (oc_lake_confine(proc->cfg.object_root, bucket, key, path, sizeof(path), why, sizeof(why))) {
    snprintf(res->object_reason, sizeof(res->object_reason), "unsafe_path");
    snprintf(res->object_error, sizeof(res->object_error), "%s", why);
    return OC_ERR_EOF;
  }
  if (lstat(path, &st) != 0) {
    int e = errno;
    snprintf(run->errstr, run->errstr_size, "could not open \"%s\": %s", path, strerror(e));
    return e == ENOENT || e == ENOTDIR ? OC_ERR_NOT_FOUND
           : e == EACCES               ? OC_ERR_INVALID
                                       : OC_ERR_IO;
  }
  if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
    snprintf(res->object_reason, sizeof(res->object_reason), "%s",
             S_ISLNK(st.st_mode) ? "symlink" : "not_a_file");
    snprintf(res->object_error, sizeof(res->object_error), "refused object \"%.200s/%.200s\": %s",
             bucket, key, S_ISLNK(st.st_mode) ? "is a symbolic link" : "not a regular file");
    return OC_ERR_EOF;
  }
  /* A symbolic link among the directories could still lead out of the root. */
  if (!realpath(proc->cfg.object_root, root) || !realpath(path, real)) {
    int e = errno;
    snprintf(run->errstr, run->errstr_size, "could not resolve \"%s\": %s", path, strerror(e));
    return e == ENOENT ? OC_ERR_NOT_FOUND : e == EACCES ? OC_ERR_INVALID : OC_ERR_IO;
  }
  rlen = strlen(root);
  if (strncmp(real, root, rlen) != 0 || (rlen > 1 && real[rlen] != '/')) {
    snprintf(res->object_reason, sizeof(res->object_reason), "path_escapes_root");
    snprintf(res->object_error, sizeof(res->object_error),
             "refused object \"%.200s/%.200s\": it resolves outside the object root", bucket, key);
    return OC_ERR_EOF;
  }
  errno = 0;
  *r = oc_reader_open(path, proc->cfg.max_line, run->errstr, run->errstr_size);
  if (!*r) {
    int e = errno;
    if (e == ENOENT) return OC_ERR_NOT_FOUND;
    if (e == ELOOP || e == EISDIR) {
      snprintf(res->object_reason, sizeof(res->object_reason), "%s",
               e == ELOOP ? "symlink" : "not_a_file");
      snprintf(res->object_error, sizeof(res->object_error), "%s", run->errstr);
      return OC_ERR_EOF;
    }
    return e == EACCES ? OC_ERR_INVALID : OC_ERR_IO;
  }
  return OC_OK;
}

static void oc_run_label(char *out, size_t size, const char *s) {
  oc_metrics_label_escape(s ? s : "", out, size);
}

/* Metrics and the per-reason log lines of a finished object. */
static void oc_run_report(oc_run_t *run) {
  oc_objproc_t *proc = run->proc;
  oc_objproc_result_t *res = run->res;
  const oc_objproc_source_t *src = run->src;
  char sid[300], labels[1024], lt[300];
  oc_run_label(sid, sizeof(sid), src->id);
  for (int i = 0; i < OC_REJ__N; i++) {
    char count[24], first[24];
    if (!res->rejected_by[i]) continue;
    snprintf(count, sizeof(count), "%llu", (unsigned long long)res->rejected_by[i]);
    snprintf(first, sizeof(first), "%llu", (unsigned long long)res->first_line[i]);
    oc_log_kv(OC_LOG_WARN, "lines rejected", "source", src->id, "object", proc->object.data,
              "reason", oc_reject_name(i), "count", count, "first_line", first, "error",
              proc->first_error[i], NULL);
    if (!proc->metrics) continue;
    if ((i == OC_REJ_NO_LOG_TYPE || i == OC_REJ_BAD_EVENT_TIME) && src->ntypes == 1) {
      oc_run_label(lt, sizeof(lt), src->types[0]->name);
      snprintf(labels, sizeof(labels), "source=\"%s\",log_type=\"%s\",reason=\"%s\"", sid, lt,
               oc_reject_name(i));
    } else {
      snprintf(labels, sizeof(labels), "source=\"%s\",reason=\"%s\"", sid, oc_reject_name(i));
    }
    oc_metrics_inc(proc->metrics, "ocelot_processor_lines_rejected_total", labels,
                   res->rejected_by[i]);
  }
  if (!proc->metrics) return;
  snprintf(labels, sizeof(labels), "source=\"%s\"", sid);
  if (res->object_rejected) {
    snprintf(labels, sizeof(labels), "source=\"%s\",reason=\"%s\"", sid, res->object_reason);
    oc_metrics_inc(proc->metrics, "ocelot_processor_objects_rejected_total", labels, 1);
    return;
  }
  oc_metrics_inc(proc->metrics, "ocelot_processor_objects_total", labels, 1);
  oc_metrics_inc(proc->metrics, "ocelot_processor_bytes_total", labels, res->bytes_out);
  for (size_t t = 0; t < src->ntypes; t++) {
    uint64_t n = 0;
    if (!src->types[t]) continue;
    for (size_t f = 0; f < res->nfiles; f++)
      if (strcmp(res->files[f].log_type, src->types[t]->name) == 0) n += res->files[f].rows;
    if (!n) continue;
    oc_run_label(lt, sizeof(lt), src->types[t]->name);
    snprintf(labels, sizeof(labels), "source=\"%s\",log_type=\"%s\"", sid, lt);
    oc_metrics_inc(proc->metrics, "ocelot_processor_events_total", labels, n);
  }
}

oc_err_t oc_objproc_run(oc_objproc_t *proc, const oc_objproc_source_t *src, const char *bucket,
                        const char *key, const char *etag, int64_t parse_time_us,
                        oc_objproc_result_t *res, char *errstr, size_t errstr_size) {
  oc_run_t run = {proc, src, res, etag ? etag : "", parse_time_us, errstr, errstr_size};
  oc_reader_t *r = NULL;
  char base[33];
  oc_err_t err;

  memset(res, 0, sizeof(*res));
  if (errstr_size) errstr[0] = '\0';
  oc_buf_reset(&proc->object);
  oc_buf_puts(&proc->object, bucket ? bucket : "");
  oc_buf_putc(&proc->object, '/');
  oc_buf_puts(&proc->object, key ? key : "");
  if (!oc_buf_ok(&proc->object)) {
    snprintf(errstr, errstr_size, "could not start an object: out of memory");
    return OC_ERR_NOMEM;
  }
  oc_hash_hex128_strs(base, src->id, bucket ? bucket : "", key ? key : "", run.etag, NULL);
  oc_lakeset_begin(&proc->set, base);
  oc_quarantine_begin(&proc->q, base, src->id, proc->object.data, proc->object.len, parse_time_us);

  if (oc_classifier_begin(proc->cls, src->types, src->ntypes, errstr, errstr_size) != OC_OK) {
    char why[600];
    snprintf(why, sizeof(why), "no usable log type for source \"%s\": %s", src->id,
             errstr_size && errstr[0] ? errstr : "none given");
    snprintf(errstr, errstr_size, "%s", why);
    return OC_ERR_INVALID;
  }
  err = oc_run_open(&run, bucket, key, &r);
  if (err == OC_ERR_EOF) { /* refused whole: counted, logged, quarantined, done */
    res->object_rejected = true;
    oc_log_kv(OC_LOG_WARN, "object rejected", "source", src->id, "bucket", bucket ? bucket : "",
              "key", key ? key : "", "reason", res->object_reason, "error", res->object_error,
              NULL);
    err = oc_quarantine_add(&proc->q, 0, res->object_reason, res->object_error, NULL, 0, 0, false,
                            errstr, errstr_size);
    if (!err) err = oc_quarantine_commit(&proc->q, errstr, errstr_size);
    if (err) goto fail;
    res->quarantined = 1;
    oc_run_report(&run);
    return OC_OK;
  }
  if (err) goto fail;

  err = oc_run_stream(&run, r);
  oc_reader_destroy(r);
  if (err) goto fail;
  err = oc_lakeset_commit(&proc->set, errstr, errstr_size);
  if (err) goto fail;
  err = oc_quarantine_commit(&proc->q, errstr, errstr_size);
  if (err) goto fail;
  res->files = proc->set.files;
  res->nfiles = proc->set.nfiles;
  oc_run_report(&run);
  return OC_OK;
fail:
  oc_lakeset_abort(&proc->set);
  oc_quarantine_abort(&proc->q);
  res->files = NULL;
  res->nfiles = 0;
  /* Nothing of a failed run is reported as done: errors here are retried. */
  return err;
}
