/* normalize.c: builds lake lines (see normalize.h). */
#include "services/log-processor/normalize.h"

#include <stdint.h>
#include <string.h>

#include "common/hash.h"
#include "common/timeutil.h"

/* Panther reserves the p_ prefix: event members named p_* are dropped, so the standard
 * fields and indicator arrays written here are never duplicated. */
static int oc_norm_is_ours(const oc_json_t *member) {
  return member->key_len >= 2 && member->key[0] == 'p' && member->key[1] == '_';
}

static void oc_norm_field(oc_buf_t *out, const char *name, const char *value, int *first) {
  if (!*first) oc_buf_putc(out, ',');
  *first = 0;
  oc_buf_putc(out, '"');
  oc_buf_puts(out, name);
  oc_buf_append(out, "\":", 2);
  oc_json_write_string(out, value ? value : "", value ? strlen(value) : 0);
}

/* The source text of ev with the patches applied, without its closing brace, when that
 * is a faithful copy: one object, no member named p_*, no raw newline (a {"Records":[...]}
 * element may span lines). false: serialize instead. */
static bool oc_norm_raw(oc_buf_t *out, const oc_json_t *ev, const oc_patches_t *P) {
  const char *s = P->src, *end = P->src + P->src_len;
  if (!ev || ev->len == 0 || P->broken) return false;
  for (const oc_json_t *c = ev->child; c; c = c->next)
    if (oc_norm_is_ours(c)) return false;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    end--;
  if (end == s || end[-1] != '}') return false;
  end--; /* the closing brace */
  if (memchr(s, '\n', (size_t)(end - s))) return false;
  for (size_t i = 0; i < P->n; i++) {
    const oc_patch_t *p = &P->v[i];
    if (p->at < s || p->at + p->len > end) return false;
    oc_buf_append(out, s, (size_t)(p->at - s));
    oc_buf_append(out, p->with, p->with_len);
    s = p->at + p->len;
  }
  oc_buf_append(out, s, (size_t)(end - s));
  return true;
}

void oc_normalize_event(oc_buf_t *out, const oc_json_t *ev, const oc_norm_meta_t *m) {
  char et[32], pt[32];
  int first = 1;
  oc_buf_reset(out);
  if (m->patches && oc_norm_raw(out, ev, m->patches)) {
    first = 0;
    ev = NULL; /* written */
  } else {
    oc_buf_reset(out);
    oc_buf_putc(out, '{');
  }
  for (const oc_json_t *c = ev ? ev->child : NULL; c; c = c->next) {
    if (oc_norm_is_ours(c)) continue;
    if (!first) oc_buf_putc(out, ',');
    first = 0;
    oc_json_write_string(out, c->key ? c->key : "", c->key ? c->key_len : 0);
    oc_buf_putc(out, ':');
    oc_json_serialize(out, c);
  }
  /* the parse time is the same for every event of an object: formatted once */
  static _Thread_local int64_t cached_us = INT64_MIN;
  static _Thread_local char cached[32];
  if (cached_us != m->parse_time_us) {
    oc_time_format_panther(m->parse_time_us, cached);
    cached_us = m->parse_time_us;
  }
  memcpy(pt, cached, sizeof(pt));
  oc_time_format_panther(m->event_time_us, et);
  oc_norm_field(out, "p_log_type", m->log_type, &first);
  oc_norm_field(out, "p_row_id", m->row_id, &first);
  oc_norm_field(out, "p_event_time", et, &first);
  oc_norm_field(out, "p_parse_time", pt, &first);
  oc_norm_field(out, "p_source_id", m->source_id, &first);
  oc_norm_field(out, "p_source_label", m->source_label, &first);
  if (m->indicators) oc_indset_write(m->indicators, out);
  oc_buf_putc(out, '}');
}

void oc_normalize_row_id(char out[33], const char *source_id, const char *object, size_t object_len,
                         const char *etag, uint64_t line_no) {
  char num[24];
  size_t n = 0;
  const char *parts[4];
  size_t lens[4];
  /* decimal without printf: this runs once per event */
  char tmp[24];
  size_t k = 0;
  do {
    tmp[k++] = (char)('0' + line_no % 10);
    line_no /= 10;
  } while (line_no);
  while (k)
    num[n++] = tmp[--k];
  parts[0] = source_id;
  lens[0] = strlen(source_id);
  parts[1] = object;
  lens[1] = object_len;
  parts[2] = etag ? etag : "";
  lens[2] = etag ? strlen(etag) : 0;
  parts[3] = num;
  lens[3] = n;
  oc_hash_hex128(out, parts, lens, 4);
}
