/* buf.c: growable byte buffer with sticky allocation failure (see buf.h). */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oc_buf_init(oc_buf_t *b) {
  memset(b, 0, sizeof(*b));
}

void oc_buf_deinit(oc_buf_t *b) {
  if (!b) return;
  free(b->data);
  memset(b, 0, sizeof(*b));
}

void oc_buf_reset(oc_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

bool oc_buf_reserve(oc_buf_t *b, size_t extra) {
  if (b->oom) return false;
  /* room for extra bytes and the terminating NUL */
  if (extra > SIZE_MAX - 1 - b->len) goto fail;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  char *d = realloc(b->data, cap);
  if (!d) goto fail;
  if (!b->data) d[0] = '\0';
  b->data = d;
  b->cap = cap;
  return true;
fail:
  b->oom = true;
  return false;
}

void oc_buf_append(oc_buf_t *b, const void *p, size_t n) {
  if (!oc_buf_reserve(b, n)) return;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void oc_buf_putc(oc_buf_t *b, char c) {
  if (!oc_buf_reserve(b, 1)) return;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

void oc_buf_puts(oc_buf_t *b, const char *s) {
  oc_buf_append(b, s, strlen(s));
}

void oc_buf_appendf(oc_buf_t *b, const char *fmt, ...) {
  if (b->oom) return;
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof(small)) {
    oc_buf_append(b, small, (size_t)n);
    return;
  }
  if (!oc_buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void oc_buf_append_u64(oc_buf_t *b, uint64_t v) {
  char tmp[20];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  oc_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void oc_buf_append_i64(oc_buf_t *b, int64_t v) {
  if (v < 0) {
    oc_buf_putc(b, '-');
    /* negate in unsigned arithmetic so INT64_MIN works */
    oc_buf_append_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    oc_buf_append_u64(b, (uint64_t)v);
  }
}

char *oc_buf_steal(oc_buf_t *b, size_t *len) {
  char *d = b->data;
  if (len) *len = b->len;
  if (b->oom) {
    /* partial data would be silently wrong: hand out nothing (the flag stays set) */
    free(d);
    d = NULL;
    if (len) *len = 0;
  } else if (!d) {
    /* an empty buffer still hands out a valid empty string */
    d = malloc(1);
    if (d) d[0] = '\0';
  }
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}
