/* textparse.h: what the text parsers of log-type schemas (csvparse.h, fastmatch.h,
 * regexparse.h) share: the common options of Panther's parser specs (emptyValues,
 * trimSpace, expandFields), their limits, and the row builder that turns captured values
 * into an arena-allocated oc_json_t object.
 *
 * Values become OC_JSON_STRING members in column/pattern order; the schema layer converts
 * them to the declared types later. A value that is empty (after trimming) or equal to one
 * of the empty values is absent: its member is omitted. */
#ifndef OC_PROC_TEXTPARSE_H
#define OC_PROC_TEXTPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

/* A line that yields no event and is not an error (a CSV header, a repeated header, an
 * empty CSV line): *out is NULL. Compare the result against this name, not OC_ERR_EOF. */
#define OC_TEXTPARSE_SKIP OC_ERR_EOF

#define OC_TEXTPARSE_MAX_FIELDS 1024         /* columns, fields or named groups */
#define OC_TEXTPARSE_MAX_PATTERN (64 * 1024) /* bytes of a pattern (regex: after expansion) */
#define OC_TEXTPARSE_MAX_PATTERNS 64         /* fastmatch alternatives, regex parts, defs */
#define OC_TEXTPARSE_MAX_NAME 128            /* bytes of a field name */
#define OC_TEXTPARSE_MAX_EMPTY 64            /* empty values */
#define OC_TEXTPARSE_MAX_EXPAND 64           /* expandFields entries */

/* The options every parser spec has. All pointers may be NULL when the count is 0; the
 * strings are copied. expandFields adds a member named expand_names[i] whose value is
 * expand_templates[i] with every %{field} replaced by that field's value (an absent field
 * expands to nothing; an expansion whose fields are all absent, or that is empty, is absent).
 * Expanded members follow the captured ones. */
typedef struct oc_textparse_opts {
  const char *const *empty_values;
  size_t nempty;
  bool trim_space;
  const char *const *expand_names;
  const char *const *expand_templates;
  size_t nexpand;
} oc_textparse_opts_t;

/* ---- internal to the text parsers (csvparse.c, fastmatch.c, regexparse.c) ---- */

typedef struct oc_tp_ref {
  const char *lit; /* literal text, or NULL for a field reference */
  uint32_t len;    /* literal bytes, or the field name's length */
  const char *name;
  int slot; /* bound field slot; -1: unknown field (expands to nothing) */
} oc_tp_ref_t;

typedef struct oc_tp_expand {
  char *name;
  char *tmpl; /* owns the text the refs point into */
  oc_tp_ref_t *refs;
  size_t nrefs;
} oc_tp_expand_t;

typedef struct oc_tp_common {
  char **empty;
  uint32_t *empty_len;
  size_t nempty;
  bool trim;
  oc_tp_expand_t *expand;
  size_t nexpand;
} oc_tp_common_t;

/* Copies and checks opts (limits, template syntax). false + errstr on a bad option. */
bool oc_tp_common_init(oc_tp_common_t *c, const oc_textparse_opts_t *opts, char *errstr,
                       size_t errstr_size);
/* Resolves the templates' field references against the parser's field names (slot i is
 * names[i]). With strict, a reference to an unknown field or an expanded name that equals
 * a field is an error; without, unknown references expand to nothing (CSV headers). */
bool oc_tp_common_bind(oc_tp_common_t *c, const char *const *names, size_t nnames, bool strict,
                       char *errstr, size_t errstr_size);
void oc_tp_common_deinit(oc_tp_common_t *c);

/* One output object being built. */
typedef struct oc_tp_row {
  oc_json_t *obj;
  oc_json_t *last;
  const char **val; /* per slot, only when there are expansions */
  uint32_t *vlen;
} oc_tp_row_t;

oc_err_t oc_tp_row_begin(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a, size_t nslots);
/* Adds key = value (trimmed, dropped when empty or an empty value). The key must outlive
 * the tree; the value is referenced, not copied. */
oc_err_t oc_tp_row_add(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a, size_t slot,
                       const char *key, size_t key_len, const char *v, size_t vlen);
/* Appends the expansions. */
oc_err_t oc_tp_row_finish(oc_tp_row_t *r, const oc_tp_common_t *c, oc_arena_t *a);

/* printf into errstr (when errstr_size > 0): the parsers' one way to say why. */
void oc_tp_fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* true for the ASCII white space that trimSpace removes. */
static inline bool oc_tp_isspace(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

#endif
