/* pyevent.h: Panther's event object for Python rules, written in C over the engine's
 * parsed event (oc_json_t), so Python objects exist only for the fields a rule touches.
 *
 * Types (in the built-in module _ocelot; pyhost registers them with collections.abc):
 *   ImmutableCaseInsensitiveDict  an immutable Mapping over a JSON object: e[k], k in e,
 *       len, iteration (keys in document order), get, keys, values, items (lists),
 *       copy() / to_dict() (deep plain dicts and lists), deep_get(*keys, default=None),
 *       deep_walk(*keys, default=None, return_val='all'), == with dicts and Mappings.
 *       Lookup is exact first, then ASCII case-insensitive. Nested objects and arrays
 *       are wrapped lazily (and cached per container) on first access.
 *   PantherEvent  the top-level event: the above plus udm(*keys, default=None),
 *       udm_path(key) and event_time_epoch().
 *   ImmutableList  an immutable sequence over a JSON array: len, [i], slices (tuples),
 *       iteration, in, index, count, copy(); == with lists, tuples and ImmutableLists.
 * Semantics follow panther_core: deep_get is case-insensitive and turns None into the
 * default; deep_walk works on the raw containers (exact keys) and returns plain values;
 * udm uses the data model's Method (called with the event) or Path, and falls back to
 * deep_get when the model has no such field (or there is no model).
 *
 * Lifetime: the JSON tree belongs to the caller. oc_pyevent_release() ends the event:
 * any wrapper a rule kept (in a global, say) raises RuntimeError from then on instead of
 * reading freed memory. All functions need the GIL (the pyhost thread). */
#ifndef OC_RULES_PYEVENT_H
#define OC_RULES_PYEVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

typedef struct _object PyObject; /* as Python's object.h declares it */

/* Adds the types to module m; 0, or -1 with a Python exception set. */
int oc_pyevent_add_types(PyObject *m);

/* A data model: paths maps a field name to a path text ("a.b", "$.a.b[0]", "a[*].b"),
 * methods maps a field name to a callable taking the event. Both dicts are borrowed
 * (a new reference is kept). NULL with a Python exception set on failure. */
PyObject *oc_pyevent_datamodel_new(PyObject *paths, PyObject *methods);

/* Wraps root (a JSON object) as a PantherEvent; data_model from
 * oc_pyevent_datamodel_new() or NULL. New reference, or NULL with a Python exception
 * set. root must stay valid until oc_pyevent_release(). */
PyObject *oc_pyevent_new(const oc_json_t *root, PyObject *data_model);
/* Invalidates every wrapper of the event and drops the caller's reference. */
void oc_pyevent_release(PyObject *ev);

/* Deep conversion to plain Python values (dict, list, str, int, float, bool, None).
 * New reference or NULL with a Python exception set. */
PyObject *oc_pyevent_plain(const oc_json_t *v);

/* Resolves a data-model path text against root, the way udm() does: the value, or a
 * list of values when the path has [*] and reaches several (new references, wrapped as
 * the event wraps them), Py_None when absent. Exposed for tests. */
PyObject *oc_pyevent_resolve_path(PyObject *ev, const char *path);

#endif
