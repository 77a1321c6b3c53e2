/* title.c: AlertTitle templates compiled into literal and key-path parts (title.h). */
#include "services/rules-engine/title.h"

#include <stdio.h>
#include <string.h>

typedef struct oc_title_part {
  const char *lit; /* literal text, or NULL for a placeholder */
  size_t len;
  oc_det_path_t path;
} oc_title_part_t;

struct oc_title {
  oc_title_part_t *parts;
  size_t nparts;
};

static bool oc_title_add_lit(oc_arena_t *a, oc_title_part_t *parts, size_t *n, const char *s,
                             size_t len) {
  if (len == 0) return true;
  char *copy = oc_arena_strndup(a, s, len);
  if (!copy) return false;
  parts[*n].lit = copy;
  parts[*n].len = len;
  (*n)++;
  return true;
}

oc_title_t *oc_title_compile(oc_arena_t *a, oc_det_keys_t *keys, const char *tmpl, size_t len,
                             char *errstr, size_t errstr_size) {
  oc_title_part_t parts[OC_TITLE_MAX_PARTS];
  size_t n = 0, i = 0, lit_start = 0;
  char why[256];
  oc_title_t *t = NULL;

  while (i < len) {
    char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < len && tmpl[i + 1] == c) {
      /* "{{" / "}}": the literal so far plus one brace. */
      if (n + 2 > OC_TITLE_MAX_PARTS) goto too_many;
      if (!oc_title_add_lit(a, parts, &n, tmpl + lit_start, i + 1 - lit_start)) goto nomem;
      i += 2;
      lit_start = i;
      continue;
    }
    if (c != '{') {
      i++;
      continue;
    }
    const char *close = memchr(tmpl + i + 1, '}', len - i - 1);
    if (!close) {
      snprintf(errstr, errstr_size, "AlertTitle has an unterminated placeholder at offset %zu", i);
      return NULL;
    }
    if (n + 2 > OC_TITLE_MAX_PARTS) goto too_many;
    if (!oc_title_add_lit(a, parts, &n, tmpl + lit_start, i - lit_start)) goto nomem;
    const char *p = tmpl + i + 1, *e = close;
    while (p < e && (*p == ' ' || *p == '\t'))
      p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (p == e) {
      snprintf(errstr, errstr_size, "AlertTitle has an empty placeholder at offset %zu", i);
      return NULL;
    }
    if (memchr(p, '{', (size_t)(e - p))) {
      snprintf(errstr, errstr_size, "AlertTitle has a nested '{' at offset %zu", i);
      return NULL;
    }
    memset(&parts[n], 0, sizeof(parts[n]));
    if (!oc_det_path_compile(a, keys, OC_DET_PATH_KEYPATH, p, (size_t)(e - p), &parts[n].path, why,
                             sizeof(why))) {
      snprintf(errstr, errstr_size, "AlertTitle placeholder: %s", why);
      return NULL;
    }
    n++;
    i = (size_t)(close - tmpl) + 1;
    lit_start = i;
  }
  if (n + 1 > OC_TITLE_MAX_PARTS) goto too_many;
  if (!oc_title_add_lit(a, parts, &n, tmpl + lit_start, len - lit_start)) goto nomem;

  t = oc_arena_alloc(a, sizeof(*t));
  if (!t) goto nomem;
  t->nparts = n;
  t->parts = oc_arena_alloc(a, (n ? n : 1) * sizeof(*t->parts));
  if (!t->parts) goto nomem;
  memcpy(t->parts, parts, n * sizeof(*t->parts));
  return t;
too_many:
  snprintf(errstr, errstr_size, "AlertTitle has more than %d parts", OC_TITLE_MAX_PARTS);
  return NULL;
nomem:
  snprintf(errstr, errstr_size, "out of memory");
  return NULL;
}

void oc_title_append_value(oc_buf_t *out, const oc_json_t *v) {
  if (!v || v->type == OC_JSON_NULL) {
    oc_buf_puts(out, OC_TITLE_MISSING);
    return;
  }
  switch (v->type) {
    case OC_JSON_STRING:
    case OC_JSON_NUMBER:
      oc_buf_append(out, v->s, v->len);
      break;
    case OC_JSON_TRUE:
      oc_buf_puts(out, "true");
      break;
    case OC_JSON_FALSE:
      oc_buf_puts(out, "false");
      break;
    default:
      oc_json_serialize(out, v);
      break;
  }
}

void oc_title_truncate(oc_buf_t *out, size_t start, size_t max) {
  if (!out->data || out->len <= start + max) return;
  size_t cut = start + max;
  /* Step back over continuation bytes so a character is not split. */
  while (cut > start && ((unsigned char)out->data[cut] & 0xC0) == 0x80)
    cut--;
  out->len = cut;
  out->data[cut] = '\0';
}

void oc_title_render(const oc_title_t *t, oc_det_ctx_t *ctx, oc_buf_t *out) {
  size_t start = out->len;
  for (size_t i = 0; i < t->nparts; i++) {
    const oc_title_part_t *part = &t->parts[i];
    if (part->lit)
      oc_buf_append(out, part->lit, part->len);
    else
      oc_title_append_value(out, oc_det_path_first(ctx, &part->path));
    if (out->len > start + OC_TITLE_MAX) break;
  }
  oc_title_truncate(out, start, OC_TITLE_MAX);
}
