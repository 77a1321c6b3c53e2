/* regexparse.h: the regex parser of log-type schemas (Panther's `parser: regex:`), on
 * PCRE2. The match list is joined into one pattern; named groups ((?P<name>...) or
 * (?<name>...)) become members in group order; a group that did not take part in the
 * match, or matched nothing, is absent. Grok-style references expand before compiling:
 * %{NAME:field} is (?P<field>NAME's pattern), %{NAME} is (?:NAME's pattern), where NAME is
 * one of patternDefinitions or a built-in (DATA, GREEDYDATA, NOTSPACE, WORD, INT, NUMBER,
 * IP, IPV4, IPV6, HOSTNAME, IPORHOST, ...; a definition may refer to others, a schema's own
 * definition of a built-in name wins). The pattern is not anchored unless it says so.
 * Patterns and lines are UTF-8 (PCRE2_UTF); a line that is not valid UTF-8 is matched with
 * each bad byte replaced by U+FFFD (as RE2, Panther's engine, treats such bytes).
 * Backtracking is bounded (a match limit); a line that exceeds it is rejected.
 *
 * Compiled once (with JIT where available) and read-only afterwards: a parser may be
 * shared by threads. Each thread reuses one match data block and JIT stack across all
 * parsers (allocated on its first line, grown when a parser needs more groups, freed at
 * thread exit or by oc_regexparse_thread_release()). */
#ifndef OC_PROC_REGEXPARSE_H
#define OC_PROC_REGEXPARSE_H

#include "services/log-processor/textparse.h"

typedef struct oc_regexparse oc_regexparse_t;

/* match: 1..OC_TEXTPARSE_MAX_PATTERNS parts, joined without separator. def_names and
 * def_patterns: ndefs pattern definitions (names of letters, digits and '_'). The expanded
 * pattern is at most OC_TEXTPARSE_MAX_PATTERN bytes with at most OC_TEXTPARSE_MAX_FIELDS
 * named groups (at least one), all names unique. opts may be NULL. Everything is copied.
 * NULL + errstr (PCRE2's message and offset for a bad expression). */
oc_regexparse_t *oc_regexparse_new(const char *const *match, size_t nmatch,
                                   const char *const *def_names, const char *const *def_patterns,
                                   size_t ndefs, const oc_textparse_opts_t *opts, char *errstr,
                                   size_t errstr_size);
/* OC_OK with *out an object (nodes in a; values point into line, or into a copy in a when
 * the line had to be repaired; keys into p);
 * OC_ERR_INVALID + errstr when the line does not match; OC_ERR_LIMIT when matching
 * exceeded the backtracking limit; OC_ERR_NOMEM. */
oc_err_t oc_regexparse_line(const oc_regexparse_t *p, oc_arena_t *a, const char *line, size_t len,
                            oc_json_t **out, char *errstr, size_t errstr_size);
void oc_regexparse_destroy(oc_regexparse_t *p); /* accepts NULL */
/* The expanded pattern that was compiled (for error messages and tests). */
const char *oc_regexparse_pattern(const oc_regexparse_t *p);
/* Frees the calling thread's match data and JIT stack now (they are recreated on demand). */
void oc_regexparse_thread_release(void);

#endif
