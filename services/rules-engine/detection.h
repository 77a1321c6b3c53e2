/* detection.h: the Detection: key of a YAML detection (Panther's match expressions)
 * compiled once into a native match tree, and evaluated against parsed events without
 * allocating.
 *
 * Key specifiers:
 *   Key: name            one top-level member, taken literally (dots included)
 *   KeyPath: a.b[0].c    dotted path; "[N]" or an all-digit segment indexes an array
 *                        (an all-digit segment on an object is a member name), "[*]"
 *                        means any element of an array
 *   DeepKey: [a, b, c]   member names; arrays met on the way (and at the end) are walked
 *                        into, as Panther's deep_walk does
 * Values: `Value: x` (a scalar) or `Values: [x, y]` (IsIn / IsNotIn).
 * Combinators: All, Any, OnlyOne, None over lists of match expressions, nesting freely;
 * a bare list is an implicit All.
 *
 * Comparison semantics (tested in tests/unit/rules):
 *  - A path that reaches several values (a wildcard, DeepKey over arrays) matches when
 *    the condition holds for ANY of them; a step that finds nothing offers "absent".
 *    Negative conditions (DoesNotEqual, IsNotIn, DoesNotContain, DoesNotExist,
 *    IsNotNull, IsNotNullOrEmpty, ...) are exactly the negation of their positive twin,
 *    so they are true when the key is absent.
 *  - JSON string vs Value: byte comparison with the Value's text as written (Value: 5
 *    equals "5"; Value: "No" equals "No"). JSON number: numeric comparison when the
 *    Value reads as a number (5, 5.0 and "5" all equal JSON 5), else no match. JSON
 *    true/false: equals Value true/false (any case, quoted or not). JSON null: equals
 *    only an unquoted null, ~ or empty Value. Objects and arrays never equal a scalar.
 *  - IEquals and the I* string conditions compare ASCII case-insensitively; numbers and
 *    booleans compare by their text there.
 *  - Contains: substring of a string, or (for a JSON array) an element that Equals.
 *  - GreaterThan / LessThan (and ...OrEqual): numbers, or strings that read as numbers;
 *    the Value must be numeric (checked at load).
 *  - Exists: present, even when null. IsNull: absent or null. IsNullOrEmpty: absent,
 *    null, "", [] or {}.
 *  - IP conditions take JSON strings holding an address (no zone, no brackets):
 *    IsIPAddress, IsIPv4Address (alias IsIPAddressIPv4), IsIPv6Address (IsIPAddressIPv6;
 *    "::ffff:1.2.3.4" is IPv6 text), IsIPAddressPrivate (RFC 1918, 100.64.0.0/10,
 *    loopback, link-local, fc00::/7, fe80::/10, ::1), IsIPAddressPublic (an address that
 *    is not private, not 0.0.0.0/8 or ::, not 224.0.0.0 and above, not ff00::/8;
 *    documentation ranges count as public), IsIPAddressInCIDR / IsIPAddressNotInCIDR
 *    (Value: one CIDR or Values: a list, IPv4 and IPv6, compiled at load; a bare address
 *    is a /32 or /128; host bits are ignored; IPv4-mapped IPv6 addresses match IPv4
 *    networks). A value that is not an address is not in any CIDR.
 *  - AlwaysTrue / AlwaysFalse take no key and no Value.
 *  - List conditions AnyElement, AllElements, OnlyOneElement, NoElement take a key and
 *    `Expressions:` (an implicit All), evaluated with each element of the array the key
 *    reaches as the root (keys inside are relative to the element). Not an array or
 *    absent: AnyElement/AllElements/OnlyOneElement are false, NoElement true; an empty
 *    array: AllElements true (vacuously), AnyElement/OnlyOneElement false.
 *  - Multi-key: no key specifier and `Values: [{Key|KeyPath|DeepKey}, {...}]` (exactly
 *    two) compare two fields of the event with Equals, IEquals, Contains, StartsWith,
 *    EndsWith (and their DoesNot / I forms) or GreaterThan / LessThan (...OrEqual, Is...).
 *    True when any value of the first key and any value of the second satisfy it
 *    (absent: false, so the negative forms are true). Equality: strings by bytes,
 *    numbers (or numeric strings against numbers) numerically, true/false/null by type.
 *    Ordering: both numeric.
 * Adding a condition is one line in the table in detection.c (plus its leaf predicate
 * when it is a new kind of test). */
#ifndef OC_RULES_DETECTION_H
#define OC_RULES_DETECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/arena.h"
#include "common/json.h"

/* Limits on what a detection may contain (input-controlled sizes). */
#define OC_DET_MAX_DEPTH 32      /* nesting of combinators */
#define OC_DET_MAX_NODES 10000   /* match expressions + combinators in one detection */
#define OC_DET_MAX_PATH_STEPS 32 /* segments in one key path */
#define OC_DET_MAX_VALUES 100000 /* entries of one Values list */

/* Interns the first member name of every path of a rule set, so an event's top-level
 * members are looked up once per event however many rules name them. */
typedef struct oc_det_keys oc_det_keys_t;
oc_det_keys_t *oc_det_keys_new(void);
void oc_det_keys_destroy(oc_det_keys_t *keys); /* accepts NULL */
size_t oc_det_keys_count(const oc_det_keys_t *keys);

/* Per-event evaluation state: the event and the cache of its top-level members. One per
 * thread; created for a rule set (its keys) and reused for every event. */
typedef struct oc_det_ctx {
  const oc_json_t *root;
  const oc_json_t **slots;
  uint32_t *gen;
  uint32_t cur;
  size_t nslots;
} oc_det_ctx_t;

/* keys may be NULL (no caching). NULL when out of memory. */
oc_det_ctx_t *oc_det_ctx_new(const oc_det_keys_t *keys);
void oc_det_ctx_destroy(oc_det_ctx_t *ctx); /* accepts NULL */
/* Points the context at a new event (a parsed JSON value, normally an object). */
void oc_det_ctx_set_event(oc_det_ctx_t *ctx, const oc_json_t *root);

typedef enum {
  OC_DET_STEP_KEY = 0, /* member name */
  OC_DET_STEP_NUMKEY,  /* all-digit segment: array index on arrays, member name on objects */
  OC_DET_STEP_INDEX,   /* [N] */
  OC_DET_STEP_ANY      /* [*] */
} oc_det_step_kind_t;

typedef struct oc_det_step {
  oc_det_step_kind_t kind;
  uint32_t len;    /* KEY / NUMKEY: bytes of key */
  const char *key; /* NUL-terminated */
  size_t index;    /* NUMKEY / INDEX */
} oc_det_step_t;

typedef struct oc_det_path {
  const oc_det_step_t *steps;
  uint32_t nsteps;
  bool deep;        /* DeepKey: walk into arrays */
  bool multi;       /* can reach more than one value ([*] or deep) */
  int32_t slot;     /* cache slot of the first step, -1 when none */
  const char *text; /* as written, for messages */
} oc_det_path_t;

typedef enum { OC_DET_PATH_KEY, OC_DET_PATH_KEYPATH } oc_det_path_syntax_t;

/* Compiles a Key (literal member name) or KeyPath (dotted) text into *out, allocating in
 * a. keys may be NULL. false with a reason in errstr when malformed. */
bool oc_det_path_compile(oc_arena_t *a, oc_det_keys_t *keys, oc_det_path_syntax_t syntax,
                         const char *text, size_t len, oc_det_path_t *out, char *errstr,
                         size_t errstr_size);
/* A DeepKey from a list of member names. */
bool oc_det_path_compile_deep(oc_arena_t *a, oc_det_keys_t *keys, const char *const *names,
                              const size_t *lens, size_t n, oc_det_path_t *out, char *errstr,
                              size_t errstr_size);

/* Calls fn for the values the path reaches in ctx's event (fn(NULL) for "absent") until
 * fn returns true; returns whether it did. */
typedef bool (*oc_det_leaf_fn)(const void *arg, const oc_json_t *v);
bool oc_det_path_any(oc_det_ctx_t *ctx, const oc_det_path_t *path, oc_det_leaf_fn fn,
                     const void *arg);
/* The first present value the path reaches, or NULL. */
const oc_json_t *oc_det_path_first(oc_det_ctx_t *ctx, const oc_det_path_t *path);

/* A compiled match tree. Lives in the arena it was compiled into. */
typedef struct oc_det_node oc_det_node_t;

/* Compiles the value of a Detection: key (a list = implicit All, or one match expression
 * or combinator). On failure NULL, *err_line the 1-based line of the offending node and
 * the reason in errstr. */
oc_det_node_t *oc_det_compile(oc_arena_t *a, oc_det_keys_t *keys, yaml_document_t *doc,
                              yaml_node_t *node, int *err_line, char *errstr, size_t errstr_size);
/* Evaluates the tree against ctx's current event. Does not allocate. */
bool oc_det_eval(oc_det_ctx_t *ctx, const oc_det_node_t *node);

/* A gate: a match expression every match of a tree depends on, of the form "top-level
 * member K is a JSON string equal to one of these strings" (Equals or IsIn on a one-step
 * Key/KeyPath, directly under the root All, with values that are plain strings: no
 * numbers, booleans or null, which could equal non-string JSON). A rule set indexes
 * rules by their gate so an event only meets the rules its K value can satisfy. */
typedef struct oc_det_gate {
  const oc_det_path_t *path; /* one KEY step */
  size_t nvalues;
  const oc_det_node_t *match;
} oc_det_gate_t;
/* Finds the tree's gate (the first qualifying one); false when it has none. */
bool oc_det_gate(const oc_det_node_t *root, oc_det_gate_t *gate);
/* Every gate of the tree, in order, at most max; returns how many. A rule set picks the
 * most selective one (ruleset.c). */
size_t oc_det_gates(const oc_det_node_t *root, oc_det_gate_t *gates, size_t max);
/* The i-th gate string (i < nvalues). */
void oc_det_gate_value(const oc_det_gate_t *gate, size_t i, const char **s, size_t *len);

/* Condition names known to the compiler, NULL-terminated (for messages and docs). */
const char *oc_det_condition_name(size_t i);

#endif
