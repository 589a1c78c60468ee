/* layers_internal.h: what layers.c (dense, batch norm, activations), bn_fused.c (the fused
 * BN + activation training kernels) and rowops.c share: the parallel-loop threshold, the column
 * blocking of per-column reductions and the activations' constants. Not part of nn.h's API. */
#ifndef MT_LAYERS_INTERNAL_H
#define MT_LAYERS_INTERNAL_H

#include <omp.h>

#include "nn/nn.h"
#include "nn/vecmath.h" /* mt_rexp etc.: inlined and vectorisable; libm's calls are not */

/* Below this many elements a loop stays on the calling thread: a fork/join costs ~1 us with a
 * spinning pool, 20-50 us when idle threads sleep (mt_nn_threads_sleep). */
#define PAR_MIN mt_nn_par_min()

/* Column block of the per-column reductions (BN, bias gradient): one block's partial sums
 * live on the stack (CB wide at most). A block walks all B rows; wider blocks walk longer
 * runs of each row (better for the prefetchers: 64-column blocks of a 512-wide layer read
 * 256 bytes of every 2 KB row), narrower ones keep what a second pass reads in L2: the BN
 * forward (reads its input twice, writes once) takes up to CB_FWD = 256 columns, the
 * backward passes (three arrays between their two passes) CB_BWD = 128 (1024 rows x 128
 * x 3 x 4 bytes = 1.5 MB of a 2 MB L2). bench/README.md has the measurements. */
#define CB 256
#define CB_FWD 256
#define CB_BWD 128

/* Column block for per-column reductions at the pool's current size: at most cap, at least
 * 16 (a cache line), small enough that thin layers still give every thread a block. The
 * block width changes only the split of work, never any column's arithmetic. */
static inline int col_block(int N, int cap) {
    /* the threads the caller's parallel loop will get: 1 inside another parallel region (no
     * nested parallelism: e.g. the bottom's halves, the tower lanes) */
    int T = omp_get_active_level() >= omp_get_max_active_levels() ? 1 : omp_get_max_threads();
    int w = (N + T - 1) / T;
    w = (w + 15) & ~15;
    return w < 16 ? 16 : w > cap ? cap : w;
}

/* 1 where the CPU converts f32 -> bf16 itself (AVX512-BF16's vcvtne2ps2bf16: round to
 * nearest even like mt_bf16_from_f32, and like oneDNN's own conversions on such CPUs,
 * denormals to zero): the AVX-512 copy of the BN kernels writes its bf16 hand-off with it.
 * Decided by the BN kernels' dispatch (bn_fused.c) before the copy first runs; -1 before. */
extern int mt_bn_native_bf16;
/* dst[0..n) = bf16 of src[0..n) by the AVX-512 copy's conversion (bn_fused.c bf16_row): for
 * mt_copy_cols_bf16 where that copy runs and mt_bn_native_bf16 > 0 */
void mt_bf16_row_avx512(uint16_t *dst, const float *src, int n);

#define LEAKY_ALPHA ((mt_real)0.2) /* tf.nn.leaky_relu default */
#define SELU_ALPHA ((mt_real)1.6732632423543772848170429916717)
#define SELU_SCALE ((mt_real)1.0507009873554804934193349852946)
#define INV_SQRT2 ((mt_real)0.70710678118654752440)
#define INV_SQRT2PI ((mt_real)0.39894228040143267794)

/* Logistic function without overflow for large |x|. */
static inline mt_real sigm(mt_real x) {
    mt_real e = mt_rexp(-(x >= 0 ? x : -x)), s = 1 / (1 + e);  /* branch-free: it vectorises */
    return x >= 0 ? s : e * s;
}

#endif
