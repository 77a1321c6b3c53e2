/* arena.c: the per-batch bump allocator behind every hot path (see arena.h).
 *
 * Invariant relied on by callers that bump a->ptr inline (json.c): a->ptr is always
 * 8-byte aligned, because every request is rounded up to a multiple of 8 and chunk data
 * starts 16-byte aligned. */
#include "common/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OC_ARENA_ALIGN 8
#define OC_ARENA_DEFAULT_CHUNK (64 * 1024)
/* Reset keeps up to this much in standard chunks for the next batch. Handing them back to
 * malloc every batch made glibc trim and re-fault them: ~40% of the JSON benchmark's time
 * went to page faults before. */
#define OC_ARENA_RETAIN (32u * 1024 * 1024)

struct oc_arena_chunk {
  oc_arena_chunk_t *next;  /* older chunk */
  oc_arena_chunk_t *spare; /* in the head chunk only: free chunks kept by reset */
  size_t size;             /* usable bytes in data */
  /* keeps data 16-byte aligned on LP64 whatever the two fields above add up to */
  _Alignas(16) char data[];
};

static size_t oc_arena_round(size_t n) {
  return (n + (OC_ARENA_ALIGN - 1)) & ~(size_t)(OC_ARENA_ALIGN - 1);
}

void oc_arena_init(oc_arena_t *a, size_t chunk_size) {
  memset(a, 0, sizeof(*a));
  if (chunk_size < 256) chunk_size = chunk_size ? 256 : OC_ARENA_DEFAULT_CHUNK;
  a->chunk_size = oc_arena_round(chunk_size);
}

void oc_arena_deinit(oc_arena_t *a) {
  if (!a) return;
  oc_arena_chunk_t *c = a->head ? a->head->spare : NULL;
  while (c) {
    oc_arena_chunk_t *next = c->spare;
    free(c);
    c = next;
  }
  c = a->head;
  while (c) {
    oc_arena_chunk_t *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->ptr = a->end = NULL;
  a->total = 0;
}

void oc_arena_reset(oc_arena_t *a) {
  /* Every chunk, used or spare, either goes on the new spare list (standard size, within
   * the retention budget) or is freed (oversized ones were for one unusual request). */
  oc_arena_chunk_t *spares = NULL;
  size_t kept = 0;
  oc_arena_chunk_t *lists[2] = {a->head ? a->head->spare : NULL, a->head};
  for (int l = 0; l < 2; l++) {
    oc_arena_chunk_t *c = lists[l];
    while (c) {
      oc_arena_chunk_t *next = l == 0 ? c->spare : c->next;
      if (c->size == a->chunk_size && kept + c->size <= OC_ARENA_RETAIN) {
        c->spare = spares;
        spares = c;
        kept += c->size;
      } else {
        free(c);
      }
      c = next;
    }
  }
  a->total = kept;
  a->head = spares;
  if (spares) {
    a->head->next = NULL; /* its spare field already links the other kept chunks */
    a->ptr = a->head->data;
    a->end = a->head->data + a->head->size;
  } else {
    a->ptr = a->end = NULL;
  }
}

static oc_arena_chunk_t *oc_arena_chunk_new(size_t size) {
  if (size > SIZE_MAX - sizeof(oc_arena_chunk_t)) return NULL;
  oc_arena_chunk_t *c = malloc(sizeof(*c) + size);
  if (!c) return NULL;
  c->next = NULL;
  c->spare = NULL;
  c->size = size;
  return c;
}

void *oc_arena_alloc(oc_arena_t *a, size_t n) {
  if (n == 0) n = OC_ARENA_ALIGN;
  if (n > SIZE_MAX - OC_ARENA_ALIGN) return NULL;
  n = oc_arena_round(n);
  if ((size_t)(a->end - a->ptr) >= n) {
    void *p = a->ptr;
    a->ptr += n;
    return p;
  }
  if (a->chunk_size == 0) oc_arena_init(a, 0); /* zeroed struct: behave as initialised */
  if (n > a->chunk_size / 4 && a->head) {
    /* Large request: a chunk of its own, linked behind the current one so the free
     * space left in the current chunk is not thrown away. */
    oc_arena_chunk_t *c = oc_arena_chunk_new(n);
    if (!c) return NULL;
    c->next = a->head->next;
    a->head->next = c;
    a->total += n;
    return c->data;
  }
  oc_arena_chunk_t *spares = a->head ? a->head->spare : NULL, *c;
  size_t size;
  if (spares && n <= a->chunk_size) {
    c = spares; /* reuse a chunk kept by the last reset (already counted in total) */
    spares = c->spare;
    size = c->size;
  } else {
    size = n > a->chunk_size ? n : a->chunk_size;
    c = oc_arena_chunk_new(size);
    if (!c) return NULL;
    a->total += size;
  }
  if (a->head) a->head->spare = NULL;
  c->spare = spares;
  c->next = a->head;
  a->head = c;
  a->ptr = c->data + n;
  a->end = c->data + size;
  return c->data;
}

char *oc_arena_strndup(oc_arena_t *a, const char *s, size_t n) {
  if (n == SIZE_MAX) return NULL;
  char *d = oc_arena_alloc(a, n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *oc_arena_strdup(oc_arena_t *a, const char *s) {
  return oc_arena_strndup(a, s, strlen(s));
}

char *oc_arena_sprintf(oc_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *d = oc_arena_alloc(a, (size_t)n + 1);
  if (!d) return NULL;
  va_start(ap, fmt);
  vsnprintf(d, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return d;
}
