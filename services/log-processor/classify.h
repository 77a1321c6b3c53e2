/* classify.h: turns one input line into a normalized event of one of a source's log
 * types, as Panther's classifier does: each candidate type parses the line with its own
 * parser (json, csv, fastmatch, regex, native syslog) and checks it against its schema;
 * candidates are tried in order of penalty (a type that rejects a line gains one, the
 * winner's drops to zero), then most required fields, then the source's order, and the
 * first that accepts wins. A stream of one type settles on its parser after a line or
 * two. With one candidate there is no guessing: its reason is the line's reason.
 * A classifier keeps per-type parser state (a CSV header) per stream; one per thread. */
#ifndef OC_PROC_CLASSIFY_H
#define OC_PROC_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "services/log-processor/indicators.h"
#include "services/log-processor/logtypes.h"

#define OC_CLASSIFY_MAX_TYPES 64

typedef enum {
  OC_CLS_OK = 0,
  OC_CLS_SKIP,         /* not an event and not an error (a CSV header line) */
  OC_CLS_INVALID_UTF8, /* the line is not valid UTF-8 */
  OC_CLS_INVALID_JSON, /* a JSON-only source and the line is not JSON */
  OC_CLS_MAX_DEPTH,    /* JSON nested deeper than the limit */
  OC_CLS_NOT_OBJECT,   /* JSON, but not an object */
  OC_CLS_BAD_TIME,     /* the best candidate failed only on its event time */
  OC_CLS_NO_TYPE,      /* no candidate accepted the line */
  OC_CLS_NOMEM
} oc_cls_result_t;

typedef struct oc_classifier oc_classifier_t;

oc_classifier_t *oc_classifier_new(int max_depth, char *errstr, size_t errstr_size);
void oc_classifier_destroy(oc_classifier_t *c); /* accepts NULL */
/* Starts a stream (one input object) over types[0..n) (n <= OC_CLASSIFY_MAX_TYPES):
 * penalties and parser state start afresh. A type whose parser cannot be built is
 * dropped with a reason in errstr (returns OC_ERR_INVALID when none is left). */
oc_err_t oc_classifier_begin(oc_classifier_t *c, const oc_logtype_t *const *types, size_t n,
                             char *errstr, size_t errstr_size);
/* Forgets compiled parsers (call when the schemas they were built from may be freed). */
void oc_classifier_forget(oc_classifier_t *c);

typedef struct oc_cls_out {
  oc_json_t *ev;            /* the normalized event (in the arena) */
  const oc_logtype_t *type; /* the winner; on a rejection the candidate the reason is from */
  int64_t event_time_us;
  /* For an event parsed from JSON text: that text and the spans normalization changed
   * (normalize.h writes the lake line from them). NULL for the other parsers, or when
   * the changes cannot be expressed as spans. Valid until the next line. */
  const oc_patches_t *patches;
  char error[512]; /* the reason of a rejection */
} oc_cls_out_t;

/* Classifies and normalizes one line; indicators are collected into ind (reset first by
 * the caller). ref_us is the parse time. json_only: the line is a record of a
 * {"Records":[...]} file, so only JSON candidates apply. */
oc_cls_result_t oc_classifier_line(oc_classifier_t *c, oc_arena_t *a, const char *line, size_t len,
                                   bool json_only, int64_t ref_us, oc_indset_t *ind,
                                   oc_cls_out_t *out);

#endif
