/* title.h: AlertTitle templates. "Root login in {recipientAccountId} from
 * {sourceIPAddress}": each {placeholder} is a KeyPath (see detection.h: dots, [N], [*])
 * resolved against the event when a rule matches; "{{" and "}}" are literal braces.
 * A placeholder renders a string as is, a number as written, true/false, an object or
 * array as compact JSON, and an absent or null value as OC_TITLE_MISSING. With [*] the
 * first value present is used. A rendered title is cut to OC_TITLE_MAX bytes (on a
 * UTF-8 character boundary). Compiled once at load; rendering does not allocate beyond
 * growing the caller's buffer. */
#ifndef OC_RULES_TITLE_H
#define OC_RULES_TITLE_H

#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "services/rules-engine/detection.h"

#define OC_TITLE_MISSING "<missing>"
#define OC_TITLE_MAX 1000
#define OC_TITLE_MAX_PARTS 256

typedef struct oc_title oc_title_t;

/* Compiles tmpl into a. NULL with a reason in errstr when malformed (an unterminated or
 * empty placeholder, a bad key path, too many placeholders). */
oc_title_t *oc_title_compile(oc_arena_t *a, oc_det_keys_t *keys, const char *tmpl, size_t len,
                             char *errstr, size_t errstr_size);
/* Appends the title for ctx's current event to out. */
void oc_title_render(const oc_title_t *t, oc_det_ctx_t *ctx, oc_buf_t *out);
/* Appends the text form of one value (OC_TITLE_MISSING for NULL or null). */
void oc_title_append_value(oc_buf_t *out, const oc_json_t *v);
/* Cuts out back to at most start + max bytes without splitting a UTF-8 character. */
void oc_title_truncate(oc_buf_t *out, size_t start, size_t max);

#endif
