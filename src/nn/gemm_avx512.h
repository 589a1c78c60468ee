/* gemm_avx512.h: what the hand-written AVX-512 product kernels share (gemm_fwd_avx512.c,
 * gemm_wgrad_avx512.c; both compiled with -march=x86-64-v4): the lane mask of a panel's
 * vector and the write-out of one row of a 12 x 32 register tile. Include only from files
 * compiled for AVX-512. */
#ifndef MTREC_NN_GEMM_AVX512_H
#define MTREC_NN_GEMM_AVX512_H

#include <immintrin.h>
#include <stddef.h>

/* The first n of a vector's 16 lanes (all for n >= 16, none for n <= 0). */
static inline __mmask16 gemm_mask(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* One tile row's two vectors into C's row cr: added to what cr holds when acc, then stored
 * through the panel's lane masks (m0 for columns 0-15, m1 for 16-31). */
static inline __attribute__((always_inline)) void gemm_store_row(float *cr, __m512 v0, __m512 v1,
                                                                 int acc, __mmask16 m0,
                                                                 __mmask16 m1) {
    if (acc) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
}

#endif
