/* hash.h: deterministic ids (row ids, match ids, lake file names) over libxxhash's XXH3. */
#ifndef OC_HASH_H
#define OC_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t oc_hash64(const void *p, size_t n);
/* 128-bit XXH3 of the concatenation of the parts, each followed by a 0x1f separator so
 * ("ab","c") and ("a","bc") differ. Writes 32 lowercase hex characters and a NUL. */
void oc_hash_hex128(char out[33], const char *const *parts, const size_t *lens, size_t nparts);
/* Convenience: NUL-terminated strings, terminated by a NULL argument. */
void oc_hash_hex128_strs(char out[33], ...);

#endif
