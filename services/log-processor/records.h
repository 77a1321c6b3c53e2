/* records.h: a streaming splitter for CloudTrail's file form {"Records":[{...},{...}]}.
 * It walks the (decompressed) bytes of an oc_reader_t with oc_reader_fill/consume and
 * hands out each element of every top-level "Records" array as its own JSON text, so a
 * file of any size is read in fixed memory: one element, at most max_elem bytes, is the
 * most it ever holds. Other top-level members are skipped; several top-level objects
 * one after another (concatenated files) are read in turn.
 * The splitter finds element boundaries only (strings, escapes, nesting); the elements
 * themselves are validated by the JSON parser. Not thread-safe. */
#ifndef OC_PROC_RECORDS_H
#define OC_PROC_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/reader.h"

typedef struct oc_records {
  oc_reader_t *r; /* borrowed */
  size_t max_elem;
  oc_buf_t elem; /* an element that spans refills */
  int state;
  uint64_t index; /* 1-based index of the last element returned, over the whole file */
  char errmsg[256];
} oc_records_t;

/* True when the next bytes of r look like {"Records":[ (whitespace allowed). Consumes
 * nothing. */
bool oc_records_detect(oc_reader_t *r);

void oc_records_init(oc_records_t *rs, oc_reader_t *r, size_t max_elem);
void oc_records_deinit(oc_records_t *rs);
/* Next element. *elem stays valid until the next call.
 *  OC_OK          an element (oc_records_index() numbers it);
 *  OC_ERR_EOF     the end of the input;
 *  OC_ERR_LIMIT   an element longer than max_elem: skipped as it streamed past; *elem, *len
 *                 give its first max_elem bytes; the next call continues after it;
 *  OC_ERR_INVALID the structure around the elements is broken (terminal; the reason is
 *                 in oc_records_error());
 *  OC_ERR_DECODE  the compressed stream is damaged (terminal; oc_reader_error());
 *  OC_ERR_IO / OC_ERR_NOMEM. */
oc_err_t oc_records_next(oc_records_t *rs, const char **elem, size_t *len);
static inline uint64_t oc_records_index(const oc_records_t *rs) {
  return rs->index;
}
const char *oc_records_error(const oc_records_t *rs);

#endif
