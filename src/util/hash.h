/* hash.h: FarmHash Fingerprint64 (farmhashna::Hash64, what TensorFlow's
 * string_to_hash_bucket_fast uses), so mtrec's bucket ids equal EasyRec's, plus a
 * 64-bit mixer and FNV-1a for internal keys (checksums use zlib's crc32 elsewhere). */
#ifndef MT_HASH_H
#define MT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t mt_fingerprint64(const char *s, size_t len);

/* EasyRec/TF bucket: Fingerprint64(s) mod n (unsigned). n > 0. */
static inline int64_t mt_hash_bucket(const char *s, size_t len, int64_t n) {
    return (int64_t)(mt_fingerprint64(s, len) % (uint64_t)n);
}

uint64_t mt_hash_mix64(uint64_t x);
uint64_t mt_fnv1a64(const void *data, size_t len, uint64_t seed);

#endif
