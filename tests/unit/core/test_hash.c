/* test_hash.c: deterministic ids over XXH3 (common/hash.c). The values are stored in the
 * lake and in Postgres, so the exact outputs are pinned here. */
#include "common/hash.h"

#include <stdint.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "oc_test.h"

static int is_hex32(const char *s) {
  if (strlen(s) != 32) return 0;
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

static void test_hash64(void) {
  /* XXH3-64 of the empty input, seed 0: the published test vector */
  OC_CHECK(oc_hash64("", 0) == UINT64_C(0x2D06800538D394C2));
  OC_CHECK(oc_hash64("abc", 3) == XXH3_64bits("abc", 3));
  OC_CHECK(oc_hash64("abc", 3) == oc_hash64("abc", 3));
  OC_CHECK(oc_hash64("abc", 3) != oc_hash64("abd", 3));
  OC_CHECK(oc_hash64("abc", 3) != oc_hash64("abc", 2));
}

static void test_hex128_format_and_determinism(void) {
  char a[33], b[33];
  const char *parts[] = {"source", "bucket/key.json.gz", "etag", "17"};
  size_t lens[] = {6, 18, 4, 2};
  oc_hash_hex128(a, parts, lens, 4);
  OC_CHECK(is_hex32(a));
  oc_hash_hex128(b, parts, lens, 4);
  OC_CHECK_STR(a, b);
  /* the varargs form gives the same id for the same parts */
  oc_hash_hex128_strs(b, "source", "bucket/key.json.gz", "etag", "17", (char *)NULL);
  OC_CHECK_STR(a, b);
  /* a different line number, a different id */
  oc_hash_hex128_strs(b, "source", "bucket/key.json.gz", "etag", "18", (char *)NULL);
  OC_CHECK(strcmp(a, b) != 0);
  /* parts may contain NULs when lengths are given */
  const char *bin[] = {"a\0b"};
  size_t binlen[] = {3};
  char c[33];
  oc_hash_hex128(c, bin, binlen, 1);
  oc_hash_hex128_strs(b, "a", (char *)NULL);
  OC_CHECK(strcmp(c, b) != 0);
}

static void test_separator_property(void) {
  char x[33], y[33];
  oc_hash_hex128_strs(x, "ab", "c", (char *)NULL);
  oc_hash_hex128_strs(y, "a", "bc", (char *)NULL);
  OC_CHECK(strcmp(x, y) != 0);
  oc_hash_hex128_strs(x, "abc", (char *)NULL);
  OC_CHECK(strcmp(x, y) != 0);
  /* empty parts count */
  oc_hash_hex128_strs(x, "a", "", (char *)NULL);
  oc_hash_hex128_strs(y, "a", (char *)NULL);
  OC_CHECK(strcmp(x, y) != 0);
  oc_hash_hex128_strs(x, "", "a", (char *)NULL);
  oc_hash_hex128_strs(y, "a", "", (char *)NULL);
  OC_CHECK(strcmp(x, y) != 0);
  /* no parts at all is a valid, fixed id distinct from one empty part */
  oc_hash_hex128(x, NULL, NULL, 0);
  oc_hash_hex128_strs(y, "", (char *)NULL);
  OC_CHECK(is_hex32(x) && strcmp(x, y) != 0);
}

static void test_definition(void) {
  /* The id is XXH3-128 of each part followed by 0x1f, written high half first. */
  char got[33], want[33];
  oc_hash_hex128_strs(got, "ab", "c", (char *)NULL);
  XXH128_hash_t h = XXH3_128bits(
      "ab\x1f"
      "c\x1f",
      5);
  snprintf(want, sizeof(want), "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
  OC_CHECK_STR(got, want);
  /* a long input crosses XXH3's streaming block boundaries the same way */
  static char big[5000];
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (char)('a' + i % 26);
  const char *parts[] = {big, big + 1000};
  size_t lens[] = {1000, 4000};
  oc_hash_hex128(got, parts, lens, 2);
  static char cat[5002];
  memcpy(cat, big, 1000);
  cat[1000] = 0x1f;
  memcpy(cat + 1001, big + 1000, 4000);
  cat[5001] = 0x1f;
  h = XXH3_128bits(cat, sizeof(cat));
  snprintf(want, sizeof(want), "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
  OC_CHECK_STR(got, want);
}

static void test_distribution(void) {
  /* 10,000 row-id-like inputs give 10,000 distinct ids */
  enum { N = 10000 };
  static char ids[N][33];
  for (int i = 0; i < N; i++) {
    char line[16];
    snprintf(line, sizeof(line), "%d", i);
    oc_hash_hex128_strs(ids[i], "src", "key", line, (char *)NULL);
  }
  int dup = 0;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      if (memcmp(ids[i], ids[j], 32) == 0) dup++;
  OC_CHECK_INT(dup, 0);
}

OC_TEST_MAIN(OC_TEST(test_hash64), OC_TEST(test_hex128_format_and_determinism),
             OC_TEST(test_separator_property), OC_TEST(test_definition), OC_TEST(test_distribution))
