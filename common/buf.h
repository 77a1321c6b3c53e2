/* buf.h: a growable byte buffer. Allocation failure is sticky: once it happens every
 * later append is a no-op and oc_buf_ok() returns false, so callers check once. */
#ifndef OC_BUF_H
#define OC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oc_buf {
  char *data; /* always NUL-terminated when non-NULL (the NUL is not counted in len) */
  size_t len;
  size_t cap;
  bool oom;
} oc_buf_t;

void oc_buf_init(oc_buf_t *b);
void oc_buf_deinit(oc_buf_t *b);
void oc_buf_reset(oc_buf_t *b); /* len = 0, keeps memory */
bool oc_buf_reserve(oc_buf_t *b, size_t extra);
void oc_buf_append(oc_buf_t *b, const void *p, size_t n);
void oc_buf_putc(oc_buf_t *b, char c);
void oc_buf_puts(oc_buf_t *b, const char *s);
void oc_buf_appendf(oc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oc_buf_append_u64(oc_buf_t *b, uint64_t v);
void oc_buf_append_i64(oc_buf_t *b, int64_t v);
static inline bool oc_buf_ok(const oc_buf_t *b) {
  return !b->oom;
}
/* Hands the data to the caller (free() it); the buffer becomes empty. */
char *oc_buf_steal(oc_buf_t *b, size_t *len);

#endif
