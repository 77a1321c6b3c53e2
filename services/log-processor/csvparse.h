/* csvparse.h: the csv parser of log-type schemas (Panther's `parser: csv:`): one line of
 * delimited values into an object keyed by the configured columns or the stream's header.
 * RFC 4180 quoting: a field that starts with '"' ends at the next lone '"', may hold the
 * delimiter, and "" inside it is one '"'. A '"' inside an unquoted field is an error, as
 * in Go's encoding/csv. Lines arrive without their line break (the reader strips CRLF),
 * so a quoted field cannot span lines. An empty line yields nothing.
 *
 * A parser holds the header state of one input stream: not thread-safe; use one per
 * stream (or per thread) and oc_csvparse_reset() when a new stream starts. */
#ifndef OC_PROC_CSVPARSE_H
#define OC_PROC_CSVPARSE_H

#include "services/log-processor/textparse.h"

typedef struct oc_csvparse oc_csvparse_t;

/* delimiter: one byte other than '"', CR and LF (' ' and '\t' allowed).
 * has_header: the first line of a stream is a header; any later line equal to it (byte for
 * byte) is skipped too. Without columns the header names the columns (names must be
 * unique and not empty); with columns the header is only skipped.
 * columns: the names, required without has_header; at most OC_TEXTPARSE_MAX_FIELDS.
 * opts may be NULL. Everything is copied. NULL + errstr on bad options. */
oc_csvparse_t *oc_csvparse_new(char delimiter, bool has_header, const char *const *columns,
                               size_t ncolumns, const oc_textparse_opts_t *opts, char *errstr,
                               size_t errstr_size);
/* Starts a new input stream: the next line is a header again (when has_header). */
void oc_csvparse_reset(oc_csvparse_t *p);
/* Parses one line (without its line break).
 * OC_OK: *out is an object (nodes and unescaped values in a; other values point into
 * line, keys into the parser or a: line and p must outlive the tree; reset() does not
 * invalidate earlier trees).
 * OC_TEXTPARSE_SKIP: a header line, a repeat of it, or an empty line; *out is NULL.
 * OC_ERR_INVALID: a column count other than expected, bad quoting, a bad header, or a
 * data line in a stream whose header was bad; OC_ERR_LIMIT: more than
 * OC_TEXTPARSE_MAX_FIELDS columns; OC_ERR_NOMEM. Each with a reason in errstr. */
oc_err_t oc_csvparse_line(oc_csvparse_t *p, oc_arena_t *a, const char *line, size_t len,
                          oc_json_t **out, char *errstr, size_t errstr_size);
void oc_csvparse_destroy(oc_csvparse_t *p); /* accepts NULL */

#endif
