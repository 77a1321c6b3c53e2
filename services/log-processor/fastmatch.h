/* fastmatch.h: the fastmatch parser of log-type schemas (Panther's `parser: fastmatch:`),
 * patterns of literal text and %{field} captures, without regular expressions:
 *   '%{remote_ip} %{identity} %{user} [%{timestamp}] "%{method} %{request_uri} %{protocol}"'
 * - A field captures up to the first occurrence of the literal text that follows it; the
 *   last field of a pattern with no literal after it takes the rest of the line. When the
 *   pattern ends with literal text, the last field ends where that text ends the line.
 * - %{} and %{_} capture and discard.
 * - A field that starts right after a '"' and whose literal starts with '"' ends at the
 *   first unescaped '"'; \" and \\ in it are unescaped in the value.
 * - Literal text must match exactly and the whole line must be consumed.
 * - Two fields with no literal between them are refused (the split would be ambiguous), as
 *   is a pattern without fields or naming a field twice.
 * Alternatives are tried in order; the first that matches wins.
 * A compiled parser is read-only: one may be shared by threads. */
#ifndef OC_PROC_FASTMATCH_H
#define OC_PROC_FASTMATCH_H

#include "services/log-processor/textparse.h"

typedef struct oc_fastmatch oc_fastmatch_t;

/* patterns: 1..OC_TEXTPARSE_MAX_PATTERNS alternatives, each at most OC_TEXTPARSE_MAX_PATTERN
 * bytes and OC_TEXTPARSE_MAX_FIELDS fields. Templates of opts->expand_* may refer to any
 * field of any alternative. opts may be NULL. Everything is copied. NULL + errstr when a
 * pattern or option is bad. */
oc_fastmatch_t *oc_fastmatch_new(const char *const *patterns, size_t npatterns,
                                 const oc_textparse_opts_t *opts, char *errstr, size_t errstr_size);
/* OC_OK with *out an object (nodes and unescaped values in a, other values point into line,
 * keys into p); OC_ERR_INVALID + errstr when no alternative matches (the reason given is
 * that of the alternative that matched furthest); OC_ERR_LIMIT, OC_ERR_NOMEM. */
oc_err_t oc_fastmatch_line(const oc_fastmatch_t *p, oc_arena_t *a, const char *line, size_t len,
                           oc_json_t **out, char *errstr, size_t errstr_size);
void oc_fastmatch_destroy(oc_fastmatch_t *p); /* accepts NULL */

#endif
