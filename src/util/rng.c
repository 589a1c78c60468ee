/* rng.c: xoshiro256** seeded by splitmix64 (see rng.h). Written by hand: a few lines, and
 * training must be bit-reproducible across machines, which libc's rand() is not. */
#include "util/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mt_rng_seed(mt_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mt_rng_next(mt_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mt_rng_uniform(mt_rng *r) { return (double)(mt_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t mt_rng_below(mt_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    /* rejection sampling keeps it unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = mt_rng_next(r);
    while (x >= limit);
    return x % n;
}

double mt_rng_normal(mt_rng *r) {
    double u1 = mt_rng_uniform(r), u2 = mt_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double mt_rng_truncated_normal(mt_rng *r, double stddev) {
    double z;
    do z = mt_rng_normal(r);
    while (z < -2.0 || z > 2.0);
    return z * stddev;
}
