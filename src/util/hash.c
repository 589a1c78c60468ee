/* hash.c: FarmHash Fingerprint64 (farmhashna::Hash64) in portable C, plus a 64-bit mixer
 * and FNV-1a. Written by hand because Debian's libfarmhash is C++ only; the algorithm
 * follows google/farmhash (MIT) and is checked against libfarmhash's own output in
 * tests/test_hash.c (vectors produced by tools/farmhash_vectors.cc). Loads are
 * little-endian as FarmHash's fingerprints are defined on little-endian byte order. */
#include "util/hash.h"

#include <string.h>

static const uint64_t K0 = 0xc3a5c85c97cb3127ULL;
static const uint64_t K1 = 0xb492b66fbe98f273ULL;
static const uint64_t K2 = 0x9ae16a3b2f90404fULL;

static inline uint64_t load64(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t load32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t rot(uint64_t v, int s) { return (v >> s) | (v << (64 - s)); }
static inline uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

/* Murmur-style combine of two words with multiplier mul. */
static inline uint64_t len16(uint64_t u, uint64_t v, uint64_t mul) {
    uint64_t a = (u ^ v) * mul;
    a ^= a >> 47;
    uint64_t b = (v ^ a) * mul;
    b ^= b >> 47;
    return b * mul;
}

static inline uint64_t len0to16(const char *s, size_t len) {
    if (len >= 8) {
        uint64_t mul = K2 + len * 2;
        uint64_t a = load64(s) + K2;
        uint64_t b = load64(s + len - 8);
        uint64_t c = rot(b, 37) * mul + a;
        uint64_t d = (rot(a, 25) + b) * mul;
        return len16(c, d, mul);
    }
    if (len >= 4) {
        uint64_t mul = K2 + len * 2;
        uint64_t a = load32(s);
        return len16(len + (a << 3), load32(s + len - 4), mul);
    }
    if (len > 0) {
        uint8_t a = (uint8_t)s[0], b = (uint8_t)s[len >> 1], c = (uint8_t)s[len - 1];
        uint32_t y = (uint32_t)a + ((uint32_t)b << 8);
        uint32_t z = (uint32_t)len + ((uint32_t)c << 2);
        return shift_mix(y * K2 ^ z * K0) * K2;
    }
    return K2;
}

static inline uint64_t len17to32(const char *s, size_t len) {
    uint64_t mul = K2 + len * 2;
    uint64_t a = load64(s) * K1;
    uint64_t b = load64(s + 8);
    uint64_t c = load64(s + len - 8) * mul;
    uint64_t d = load64(s + len - 16) * K2;
    return len16(rot(a + b, 43) + rot(c, 30) + d, a + rot(b + K2, 18) + c, mul);
}

static uint64_t len33to64(const char *s, size_t len) {
    uint64_t mul = K2 + len * 2;
    uint64_t a = load64(s) * K2;
    uint64_t b = load64(s + 8);
    uint64_t c = load64(s + len - 8) * mul;
    uint64_t d = load64(s + len - 16) * K2;
    uint64_t y = rot(a + b, 43) + rot(c, 30) + d;
    uint64_t z = len16(y, a + rot(b + K2, 18) + c, mul);
    uint64_t e = load64(s + 16) * mul;
    uint64_t f = load64(s + 24);
    uint64_t g = (y + load64(s + len - 32)) * mul;
    uint64_t h = (z + load64(s + len - 24)) * mul;
    return len16(rot(e + f, 43) + rot(g, 30) + h, e + rot(f + a, 18) + g, mul);
}

/* 16-byte state update over 32 input bytes at s with seeds a, b -> (*o1, *o2). */
static inline void weak32(const char *s, uint64_t a, uint64_t b, uint64_t *o1, uint64_t *o2) {
    uint64_t w = load64(s), x = load64(s + 8), y = load64(s + 16), z = load64(s + 24);
    a += w;
    b = rot(b + a + z, 21);
    uint64_t c = a;
    a += x;
    a += y;
    b += rot(a, 44);
    *o1 = a + z;
    *o2 = b + c;
}

/* Strings over 64 bytes: 64-byte blocks, then the last 64 bytes (overlapping). */
static uint64_t len_long(const char *s, size_t len) {
    const uint64_t seed = 81;
    uint64_t x = seed, y = seed * K1 + 113, z = shift_mix(y * K2 + 113) * K2;
    uint64_t v1 = 0, v2 = 0, w1 = 0, w2 = 0, t;
    x = x * K2 + load64(s);
    const char *end = s + ((len - 1) / 64) * 64;
    const char *last64 = s + len - 64;
    do {
        x = rot(x + y + v1 + load64(s + 8), 37) * K1;
        y = rot(y + v2 + load64(s + 48), 42) * K1;
        x ^= w2;
        y += v1 + load64(s + 40);
        z = rot(z + w1, 33) * K1;
        weak32(s, v2 * K1, x + w1, &v1, &v2);
        weak32(s + 32, z + w2, y + load64(s + 16), &w1, &w2);
        t = z; z = x; x = t;
        s += 64;
    } while (s != end);
    uint64_t mul = K1 + ((z & 0xff) << 1);
    s = last64;
    w1 += (len - 1) & 63;
    v1 += w1;
    w1 += v1;
    x = rot(x + y + v1 + load64(s + 8), 37) * mul;
    y = rot(y + v2 + load64(s + 48), 42) * mul;
    x ^= w2 * 9;
    y += v1 * 9 + load64(s + 40);
    z = rot(z + w1, 33) * mul;
    weak32(s, v2 * mul, x + w1, &v1, &v2);
    weak32(s + 32, z + w2, y + load64(s + 16), &w1, &w2);
    t = z; z = x; x = t;
    return len16(len16(v1, w1, mul) + shift_mix(y) * K0 + z, len16(v2, w2, mul) + x, mul);
}

uint64_t mt_fingerprint64(const char *s, size_t len) {
    if (len <= 16) return len0to16(s, len);
    if (len <= 32) return len17to32(s, len);
    if (len <= 64) return len33to64(s, len);
    return len_long(s, len);
}

/* splitmix64 finaliser: a bijective 64-bit mixer. */
uint64_t mt_hash_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* FNV-1a over len bytes; seed 0 means the standard offset basis. */
uint64_t mt_fnv1a64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = seed ? seed : 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
