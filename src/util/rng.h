/* rng.h: small deterministic random generator (splitmix64 seeding, xoshiro256**),
 * used for shuffling, initialisation, dropout masks and synthetic data. */
#ifndef MT_RNG_H
#define MT_RNG_H

#include <stdint.h>

typedef struct mt_rng {
    uint64_t s[4];
} mt_rng;

void mt_rng_seed(mt_rng *r, uint64_t seed);
uint64_t mt_rng_next(mt_rng *r);
/* Uniform in [0, 1). */
double mt_rng_uniform(mt_rng *r);
/* Uniform integer in [0, n). */
uint64_t mt_rng_below(mt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double mt_rng_normal(mt_rng *r);
/* Normal(0, stddev) truncated to 2 stddev (TF truncated_normal). */
double mt_rng_truncated_normal(mt_rng *r, double stddev);

#endif
