/* pyscan.h: the live engine's Python rules. A Panther pack (pack.h) loaded into the rule
 * host (pyrule.h) once, and a lake file run through it: each event of a log type with
 * Python rules becomes one PantherEvent (with the log type's data model), each enabled
 * rule of that log type (AnalysisType rule; scheduled rules need queries and are not run
 * here) runs after its native InlineFilters, and the matches are grouped per (rule,
 * dedup, error or not) with the first match's title, severity, alert context,
 * description, reference, runbook and destinations, the count, first/last event time
 * and a few sample events. A rule that raises on an event gives a rule-error group
 * (dedup = exception class) and the other rules still run; a rule past its time budget
 * is interrupted (pyhost.h) and counts as an error the same way; so does a rule that
 * goes past the memory cap (MemoryError, pyhost.h).
 *
 * Isolation (opts.isolate, the default of oc_pyscan_rules_load): the rules run in a
 * worker process forked after the pack loaded (pyworker.h); the engine's process only
 * reads the file, groups and reports. Events go to the worker in chunks of up to
 * OC_PYSCAN_CHUNK_EVENTS events / OC_PYSCAN_CHUNK_BYTES; a chunk's results count only
 * when the worker answers for the whole chunk. When the worker dies (a crash, an abort,
 * a stuck C call) a fresh one is forked and the chunk is retried once; if it dies again
 * the chunk is split in halves, recursively, and an event that kills the worker on its
 * own twice is a poison event: left out of the results, counted in ps->poison and kept
 * (up to OC_PYSCAN_MAX_POISON per file, with the reason) in ps->poisons for the caller
 * to dead-letter. Every other event is evaluated normally. A file with more than
 * OC_PYSCAN_MAX_POISON poison events fails as a whole (OC_ERR_INTERNAL): the host is
 * broken, not an event. Without isolation (ocelot test, benchmarks) a crash is the
 * process's crash.
 *
 * Memory: events are parsed into an arena reset every OC_PYSCAN_ARENA_LINES lines;
 * groups live in a second arena until the next file. Not thread-safe; the thread that
 * started the rule host. */
#ifndef OC_RULES_PYSCAN_H
#define OC_RULES_PYSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "services/rules-engine/pack.h"
#include "services/rules-engine/pyrule.h"

#define OC_PYSCAN_MAX_SAMPLES 5
#define OC_PYSCAN_SAMPLE_GROUP_BYTES (256 * 1024)
#define OC_PYSCAN_MAX_GROUPS 100000 /* groups of one file; more matches are counted only */
#define OC_PYSCAN_ARENA_LINES 256
#define OC_PYSCAN_CHUNK_EVENTS 256
#define OC_PYSCAN_CHUNK_BYTES (4 * 1024 * 1024)
#define OC_PYSCAN_MAX_POISON 100
#define OC_PYSCAN_DEFAULT_MEMORY_MB 256

typedef struct oc_pyscan_rules oc_pyscan_rules_t;

typedef struct oc_pyscan_opts {
  int budget_ms;    /* per rule per event; <= 0: none */
  size_t memory_mb; /* cap of one rule call's memory growth (pyhost.h); 0: none */
  bool isolate;     /* evaluate in a worker process (crash isolation) */
  int hang_ms;      /* a worker without progress this long is killed; 0: 2 * budget + 5 s */
} oc_pyscan_opts_t;

/* Loads the pack at dir (starting the rule host when needed); with opts->isolate the
 * worker is forked here. Load problems are in pack->msgs (see oc_pyscan_rules_pack).
 * NULL with the reason when the directory cannot be read, Python does not start or no
 * worker can be forked. The memory cap is process-wide (the last load sets it). */
oc_pyscan_rules_t *oc_pyscan_rules_load_opts(const char *dir, const oc_pyscan_opts_t *opts,
                                             char *errstr, size_t errstr_size);
/* oc_pyscan_rules_load_opts with isolate = true and memory_mb =
 * OC_PYSCAN_DEFAULT_MEMORY_MB. */
oc_pyscan_rules_t *oc_pyscan_rules_load(const char *dir, int budget_ms, char *errstr,
                                        size_t errstr_size);
/* The worker process: its pid (0 when none runs or not isolated), forks and deaths. */
int oc_pyscan_rules_worker_pid(const oc_pyscan_rules_t *psr);
unsigned long oc_pyscan_rules_worker_restarts(const oc_pyscan_rules_t *psr);
void oc_pyscan_rules_destroy(oc_pyscan_rules_t *psr); /* accepts NULL */
const oc_pack_t *oc_pyscan_rules_pack(const oc_pyscan_rules_t *psr);
size_t oc_pyscan_rules_count(const oc_pyscan_rules_t *psr); /* enabled rules that run */
/* Whether a log type has Python rules. */
bool oc_pyscan_rules_has_type(const oc_pyscan_rules_t *psr, const char *log_type, size_t len);
/* The version of a rule: a hash of its metadata and Python file. */
const char *oc_pyscan_rule_version(const oc_pyscan_rules_t *psr, const oc_pyrule_t *rule);

typedef struct oc_pymatch_group {
  const oc_pyrule_t *rule;
  const char *version;
  const char *log_type;
  bool is_error;
  char *dedup;
  size_t dedup_len;
  char *title, *severity, *alert_context, *description, *reference, *runbook;
  char **destinations;
  size_t ndestinations;
  bool skip_delivery; /* destinations() returned [] */
  uint64_t count;
  int64_t first_us, last_us;
  const char *samples[OC_PYSCAN_MAX_SAMPLES];
  size_t nsamples, sample_bytes;
  uint64_t hash;
} oc_pymatch_group_t;

/* An event that crashed the Python host (isolated mode), for the caller to dead-letter. */
typedef struct oc_pypoison {
  const char *line; /* the lake line, NUL-terminated (ps->keep) */
  size_t len;
  const char *log_type;
  int64_t time_us;
  uint64_t line_no; /* 1-based line number in the lake file */
  char reason[160]; /* "python host killed by signal 11 (Segmentation fault)" */
} oc_pypoison_t;

typedef struct oc_pyscan {
  oc_pymatch_group_t **groups; /* results of the last file, in order of first match */
  size_t ngroups, groups_cap;
  uint32_t *gindex;  /* open addressing by group hash: index into groups + 1, 0 = empty */
  size_t gindex_cap; /* a power of two, at least twice ngroups */
  uint64_t events, matches, errors, timeouts, dropped_groups;
  oc_arena_t ev, keep;
  oc_pyresult_t res;
  /* isolated mode, per file */
  uint64_t memory_errors; /* rule calls stopped by the memory cap (also in errors) */
  uint64_t poison;        /* poison events (left out of every result) */
  uint64_t host_deaths;   /* worker deaths while scanning the file */
  oc_pypoison_t *poisons; /* the first OC_PYSCAN_MAX_POISON of them (ps->keep) */
  size_t npoisons;
  /* chunk being sent to the worker */
  struct oc_pyscan_pending *pending;
  size_t npending, pending_cap;
  oc_buf_t chunk, req, reply;
  uint64_t line_no;
} oc_pyscan_t;

void oc_pyscan_init(oc_pyscan_t *ps);
void oc_pyscan_deinit(oc_pyscan_t *ps);

/* Runs the pack's rules over the lake file at path (JSON lines, zstd/gzip/plain).
 * default_log_type and default_time_us as in scan.h. OC_OK, OC_ERR_NOT_FOUND,
 * OC_ERR_DECODE (corrupt stream), OC_ERR_IO or OC_ERR_NOMEM. Bad lines are skipped (the
 * YAML scan counts them). */
oc_err_t oc_pyscan_file(oc_pyscan_t *ps, oc_pyscan_rules_t *psr, const char *path,
                        const char *default_log_type, int64_t default_time_us, size_t max_line,
                        char *errstr, size_t errstr_size);

#endif
