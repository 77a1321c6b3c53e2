/* hash.c: deterministic ids over libxxhash's XXH3 (see hash.h). The output is part of
 * stored data (row ids, lake file names), so it must never change between versions. */
#include "common/hash.h"

#include <stdarg.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: no malloc per id */
#include <xxhash.h>

static const char oc_hash_sep = 0x1f;

uint64_t oc_hash64(const void *p, size_t n) {
  return XXH3_64bits(p, n);
}

static void oc_hash_hex_out(char out[33], XXH128_hash_t h) {
  static const char hex[] = "0123456789abcdef";
  XXH128_canonical_t canon; /* big-endian: high64 first, same on every platform */
  XXH128_canonicalFromHash(&canon, h);
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[canon.digest[i] >> 4];
    out[2 * i + 1] = hex[canon.digest[i] & 0xf];
  }
  out[32] = '\0';
}

void oc_hash_hex128(char out[33], const char *const *parts, const size_t *lens, size_t nparts) {
  XXH3_state_t st;
  XXH3_INITSTATE(&st);
  XXH3_128bits_reset(&st);
  for (size_t i = 0; i < nparts; i++) {
    if (lens[i]) XXH3_128bits_update(&st, parts[i], lens[i]);
    XXH3_128bits_update(&st, &oc_hash_sep, 1);
  }
  oc_hash_hex_out(out, XXH3_128bits_digest(&st));
}

void oc_hash_hex128_strs(char out[33], ...) {
  XXH3_state_t st;
  XXH3_INITSTATE(&st);
  XXH3_128bits_reset(&st);
  va_list ap;
  va_start(ap, out);
  const char *s;
  while ((s = va_arg(ap, const char *)) != NULL) {
    size_t n = strlen(s);
    if (n) XXH3_128bits_update(&st, s, n);
    XXH3_128bits_update(&st, &oc_hash_sep, 1);
  }
  va_end(ap);
  oc_hash_hex_out(out, XXH3_128bits_digest(&st));
}
