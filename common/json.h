/* json.h: the JSON layer on every event's hot path: parse into an arena-allocated tree
 * (no malloc per value), look up members and dotted paths, serialize compactly.
 * Written here rather than taken from a library because it is the measured hot path of
 * every service (bench/bench_json.c); strings without escapes point into the input. */
#ifndef OC_JSON_H
#define OC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"

typedef enum {
  OC_JSON_NULL = 0,
  OC_JSON_FALSE,
  OC_JSON_TRUE,
  OC_JSON_NUMBER,
  OC_JSON_STRING,
  OC_JSON_ARRAY,
  OC_JSON_OBJECT
} oc_json_type_t;

typedef struct oc_json oc_json_t;
struct oc_json {
  oc_json_type_t type;
  uint32_t len;    /* STRING/NUMBER: bytes in s; ARRAY/OBJECT: number of children */
  const char *s;   /* STRING: unescaped UTF-8 (may point into the input; not
                      NUL-terminated); NUMBER: the literal as written */
  const char *key; /* member name (unescaped) when the parent is an object, else NULL */
  uint32_t key_len;
  oc_json_t *child; /* ARRAY/OBJECT: first child, in document order */
  oc_json_t *next;  /* next sibling */
};

#define OC_JSON_DEFAULT_MAX_DEPTH 128

/* Parses exactly one JSON value (surrounding whitespace allowed). Validates UTF-8 (in
 * strings and elsewhere), rejects nesting deeper than max_depth, trailing garbage,
 * control characters in strings and lone surrogates in \u escapes.
 * The tree and any unescaped strings live in the arena; strings without escapes point
 * into text, so text must outlive the tree.
 * Returns NULL and writes a reason with the byte offset into errstr on failure. */
oc_json_t *oc_json_parse(oc_arena_t *a, const char *text, size_t len, int max_depth, char *errstr,
                         size_t errstr_size);

/* Member of an object by exact key; NULL when absent or obj is not an object. */
const oc_json_t *oc_json_get(const oc_json_t *obj, const char *key);
const oc_json_t *oc_json_getn(const oc_json_t *obj, const char *key, size_t key_len);
/* Case-insensitive (ASCII) member lookup, exact match preferred. */
const oc_json_t *oc_json_get_ci(const oc_json_t *obj, const char *key, size_t key_len);
/* Dotted path: "userIdentity.sessionContext.attributes.mfaAuthenticated"; a segment that
 * is all digits indexes an array ("Records.0.eventName"); "a[0].b" works too. */
const oc_json_t *oc_json_path(const oc_json_t *root, const char *path);
/* i-th element of an array, NULL when out of range. */
const oc_json_t *oc_json_at(const oc_json_t *arr, size_t i);

static inline bool oc_json_is_string(const oc_json_t *v) {
  return v && v->type == OC_JSON_STRING;
}
/* Number value as double / int64; false when not a number or out of range. */
bool oc_json_double(const oc_json_t *v, double *out);
bool oc_json_int64(const oc_json_t *v, int64_t *out);
/* Equal string contents (v must be a string). */
bool oc_json_streq(const oc_json_t *v, const char *s);

/* Appends the compact serialization of v. */
void oc_json_serialize(oc_buf_t *out, const oc_json_t *v);
/* Appends s as a quoted, escaped JSON string. Invalid UTF-8 bytes become U+FFFD. */
void oc_json_write_string(oc_buf_t *out, const char *s, size_t len);
/* Returns the length of the longest valid UTF-8 prefix; == len when all valid. */
size_t oc_utf8_valid_prefix(const char *s, size_t len);

#endif
