/* arena.h: per-batch bump allocator. Allocate freely while handling a batch, then
 * oc_arena_reset() once after the commit. Not thread-safe; one arena per thread. */
#ifndef OC_ARENA_H
#define OC_ARENA_H

#include <stddef.h>

typedef struct oc_arena_chunk oc_arena_chunk_t;

typedef struct oc_arena {
  oc_arena_chunk_t *head; /* current chunk; older chunks are linked behind it */
  char *ptr;              /* next free byte in head */
  char *end;              /* end of head */
  size_t chunk_size;      /* default size of new chunks */
  size_t total;           /* bytes held in all chunks */
} oc_arena_t;

void oc_arena_init(oc_arena_t *a, size_t chunk_size);
void oc_arena_deinit(oc_arena_t *a);
/* Rewinds. Every pointer handed out becomes invalid. Standard-size chunks (up to 32 MiB)
 * are kept for the next batch; oversized ones and the excess are freed. */
void oc_arena_reset(oc_arena_t *a);
/* 8-byte aligned; NULL only when malloc fails. Requests larger than the chunk size get
 * a chunk of their own. */
void *oc_arena_alloc(oc_arena_t *a, size_t n);
/* Copies n bytes and adds a NUL. */
char *oc_arena_strndup(oc_arena_t *a, const char *s, size_t n);
char *oc_arena_strdup(oc_arena_t *a, const char *s);
char *oc_arena_sprintf(oc_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
