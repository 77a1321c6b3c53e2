/* test_arena.c: the per-batch bump allocator (common/arena.c). */
#include "common/arena.h"

#include <stdint.h>
#include <string.h>

#include "oc_test.h"

static int aligned8(const void *p) {
  return ((uintptr_t)p & 7) == 0;
}

static void test_alloc_alignment(void) {
  oc_arena_t a;
  oc_arena_init(&a, 1024);
  char *prev = NULL;
  for (size_t n = 0; n < 200; n++) {
    char *p = oc_arena_alloc(&a, n % 37);
    OC_CHECK(p != NULL);
    OC_CHECK(aligned8(p));
    OC_CHECK(p != prev);
    if (p) memset(p, 0xAB, n % 37); /* writable in full (ASan checks the bounds) */
    prev = p;
  }
  /* zero-size requests still hand out distinct pointers */
  void *z1 = oc_arena_alloc(&a, 0), *z2 = oc_arena_alloc(&a, 0);
  OC_CHECK(z1 && z2 && z1 != z2);
  oc_arena_deinit(&a);
}

static void test_no_overlap(void) {
  oc_arena_t a;
  oc_arena_init(&a, 512);
  enum { N = 500 };
  unsigned char *ptrs[N];
  size_t sizes[N];
  for (size_t i = 0; i < N; i++) {
    sizes[i] = 1 + (i * 7919) % 300;
    ptrs[i] = oc_arena_alloc(&a, sizes[i]);
    memset(ptrs[i], (int)(i & 0xff), sizes[i]);
  }
  int bad = 0;
  for (size_t i = 0; i < N; i++)
    for (size_t k = 0; k < sizes[i]; k++)
      if (ptrs[i][k] != (unsigned char)(i & 0xff)) bad++;
  OC_CHECK_INT(bad, 0);
  OC_CHECK(a.total >= 500 * 150);
  oc_arena_deinit(&a);
}

static void test_large_and_reset(void) {
  oc_arena_t a;
  oc_arena_init(&a, 4096);
  char *small = oc_arena_alloc(&a, 16);
  OC_CHECK(small != NULL);
  char *head_ptr = a.ptr;
  /* a request larger than the chunk gets its own chunk and the current one keeps going */
  char *big = oc_arena_alloc(&a, 100000);
  OC_CHECK(big != NULL);
  memset(big, 1, 100000);
  OC_CHECK(a.ptr == head_ptr);
  char *next = oc_arena_alloc(&a, 16);
  OC_CHECK(next == head_ptr);
  OC_CHECK(a.total >= 4096 + 100000);
  /* fill several chunks, then reset: the standard chunks are kept, the big one freed */
  for (int i = 0; i < 100; i++)
    OC_CHECK(oc_arena_alloc(&a, 1000) != NULL);
  size_t standard = a.total - 100000;
  OC_CHECK(standard >= 4096 * 25 && standard % 4096 == 0);
  oc_arena_reset(&a);
  OC_CHECK_INT(a.total, standard);
  OC_CHECK(a.head != NULL);
  char *again = oc_arena_alloc(&a, 16);
  OC_CHECK(again != NULL && aligned8(again));
  OC_CHECK_INT(a.end - a.ptr, 4096 - 16);
  /* the same workload again reuses the kept chunks: no growth */
  for (int i = 0; i < 100; i++) {
    char *p = oc_arena_alloc(&a, 1000);
    OC_CHECK(p != NULL);
    if (p) memset(p, i, 1000);
  }
  OC_CHECK_INT(a.total, standard);
  /* reset of a fresh arena and double reset are harmless */
  oc_arena_reset(&a);
  oc_arena_reset(&a);
  OC_CHECK_INT(a.total, standard);
  oc_arena_deinit(&a);
  OC_CHECK(a.head == NULL && a.total == 0);
  oc_arena_deinit(&a); /* twice is fine */

  /* when the first chunk was an oversized one it is not kept */
  oc_arena_init(&a, 1024);
  OC_CHECK(oc_arena_alloc(&a, 1 << 20) != NULL);
  OC_CHECK(a.total >= (1 << 20));
  oc_arena_reset(&a);
  OC_CHECK_INT(a.total, 0);
  OC_CHECK(oc_arena_alloc(&a, 10) != NULL);
  OC_CHECK_INT(a.total, 1024);
  oc_arena_deinit(&a);
}

static void test_strings(void) {
  oc_arena_t a;
  oc_arena_init(&a, 0); /* default chunk size */
  OC_CHECK(a.chunk_size >= 4096);
  char *s = oc_arena_strndup(&a, "hello world", 5);
  OC_CHECK_STR(s, "hello");
  s = oc_arena_strndup(&a, "", 0);
  OC_CHECK_STR(s, "");
  s = oc_arena_strdup(&a, "copy");
  OC_CHECK_STR(s, "copy");
  /* embedded bytes are copied exactly, NUL added after n */
  s = oc_arena_strndup(&a, "a\0b", 3);
  OC_CHECK(s && s[0] == 'a' && s[1] == '\0' && s[2] == 'b' && s[3] == '\0');
  s = oc_arena_sprintf(&a, "%s-%d-%05.1f", "x", 42, 3.14159);
  OC_CHECK_STR(s, "x-42-003.1");
  /* longer than any internal scratch buffer */
  char big[5000];
  memset(big, 'q', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  s = oc_arena_sprintf(&a, "<%s>", big);
  OC_CHECK(s && strlen(s) == sizeof(big) + 1 && s[0] == '<' && s[sizeof(big)] == '>');
  oc_arena_deinit(&a);
}

static void test_retention_cap(void) {
  /* a huge batch does not pin its memory forever: at most 32 MiB stay */
  oc_arena_t a;
  oc_arena_init(&a, 1 << 20);
  for (int i = 0; i < 300; i++)
    OC_CHECK(oc_arena_alloc(&a, 200000) != NULL);
  OC_CHECK(a.total > (size_t)40 << 20);
  oc_arena_reset(&a);
  OC_CHECK(a.total <= (size_t)32 << 20 && a.total >= (size_t)16 << 20);
  oc_arena_deinit(&a);
}

static void test_zeroed_struct(void) {
  /* a zero-initialised arena behaves as one initialised with the default size */
  oc_arena_t a = {0};
  void *p = oc_arena_alloc(&a, 10);
  OC_CHECK(p != NULL && aligned8(p));
  OC_CHECK(a.chunk_size > 0);
  oc_arena_deinit(&a);
  oc_arena_t b = {0};
  oc_arena_reset(&b);
  oc_arena_deinit(&b);
  oc_arena_deinit(NULL);
}

static void test_huge_request_fails(void) {
  oc_arena_t a;
  oc_arena_init(&a, 1024);
  OC_CHECK(oc_arena_alloc(&a, SIZE_MAX) == NULL);
  OC_CHECK(oc_arena_alloc(&a, SIZE_MAX - 3) == NULL);
  OC_CHECK(oc_arena_strndup(&a, "x", SIZE_MAX) == NULL);
  /* and the arena still works afterwards */
  OC_CHECK(oc_arena_alloc(&a, 8) != NULL);
  oc_arena_deinit(&a);
}

OC_TEST_MAIN(OC_TEST(test_alloc_alignment), OC_TEST(test_no_overlap), OC_TEST(test_large_and_reset),
             OC_TEST(test_retention_cap), OC_TEST(test_strings), OC_TEST(test_zeroed_struct),
             OC_TEST(test_huge_request_fails))
