/* gemm_wgrad_avx512.c: the fp32 weight-gradient product C (+)= X^T dZ of a dense layer
 * (X: the layer's input, K rows of M; dZ: the gradient of its output, K rows of N; K is the
 * batch), hand-written for AVX-512 and compiled under -march=x86-64-v4 (the Makefile's
 * ISA_FLAGS for this file); matmul.c sends fp32 products with a transposed A here when the
 * CPU has AVX-512 (mt_mm_wgrad_kernel) and oneDNN's matmul otherwise.
 *
 * Why by hand: in training, X was written by the forward pass long before and comes from L3;
 * oneDNN 2.6's matmul reads a transposed A in a strided order and ran these products at
 * 50-115 GFLOP/s in the model against 150-160 when the same call was repeated at once with
 * its operands in L2 (bench/README.md, "Weight gradients by hand"). Here the batch is walked
 * in chunks of WG_KC rows, each a contiguous block of X and of dZ (sequential reads the
 * hardware prefetchers follow), the next chunk prefetched into L2 while this one computes;
 * the chunk of dZ is packed into panels of 32 columns (L1-resident, no cache-set conflicts
 * from the row stride), and a 12 x 32 register tile (24 accumulators) sweeps the chunk's
 * rows of X with broadcast FMAs.
 *
 * Summation order: for each C element, the chunks in batch order, each chunk's rows in order
 * inside one register, then added to C: fixed by the shape alone (not by threads or timing).
 * Absent from the double build (gradient tests use the reference loops). */
#ifndef MT_DOUBLE
#include "nn/gemm_avx512.h"
#include "nn/nn.h"

#define WG_NR 32  /* columns of a panel: two 16-lane vectors */
#define WG_MR 12  /* rows of X's transpose per register tile */
#define WG_KC 64  /* batch rows per chunk: 64 x 32 floats = 8 KB per packed panel */

/* One MR x 32 tile: acc[r][0..32) = sum over the chunk's kc rows of x[k*ldx + r] * bp[k][..],
 * added to C (acc) or written over it; m1 masks the second vector's columns. */
#define WG_TILE(MR)                                                                          \
    static void wg_tile_##MR(int kc, const float *x, ptrdiff_t ldx, const float *bp,         \
                             float *c, ptrdiff_t ldc, int acc, __mmask16 m0, __mmask16 m1) { \
        __m512 c0[MR], c1[MR];                                                               \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                              \
            c0[r] = _mm512_setzero_ps();                                                     \
            c1[r] = _mm512_setzero_ps();                                                     \
        }                                                                                    \
        for (int k = 0; k < kc; k++) {                                                       \
            const __m512 b0 = _mm512_load_ps(bp + (ptrdiff_t)k * WG_NR);                    \
            const __m512 b1 = _mm512_load_ps(bp + (ptrdiff_t)k * WG_NR + 16);                \
            const float *xr = x + (ptrdiff_t)k * ldx;                                        \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                          \
                const __m512 a = _mm512_set1_ps(xr[r]);                                      \
                c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);                                       \
                c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);                                       \
            }                                                                                \
        }                                                                                    \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++)                                \
            gemm_store_row(c + (ptrdiff_t)r * ldc, c0[r], c1[r], acc, m0, m1);               \
    }
WG_TILE(1) WG_TILE(2) WG_TILE(3) WG_TILE(4) WG_TILE(5) WG_TILE(6)
WG_TILE(7) WG_TILE(8) WG_TILE(9) WG_TILE(10) WG_TILE(11) WG_TILE(12)

typedef void (*wg_tile_fn)(int, const float *, ptrdiff_t, const float *, float *, ptrdiff_t,
                           int, __mmask16, __mmask16);
static const wg_tile_fn wg_tiles[WG_MR + 1] = {
    NULL,         wg_tile_1,  wg_tile_2,  wg_tile_3, wg_tile_4,  wg_tile_5, wg_tile_6,
    wg_tile_7,    wg_tile_8,  wg_tile_9,  wg_tile_10, wg_tile_11, wg_tile_12};

size_t mt_mm_wgrad_pack_floats(int N) {
    return (size_t)WG_KC * WG_NR * (size_t)((N + WG_NR - 1) / WG_NR);
}

void mt_mm_wgrad_avx512(int M, int N, int K, const float *X, const float *dZ, int beta,
                        float *C, int ldc, float *pack) {
    const int np = (N + WG_NR - 1) / WG_NR;
    for (int k0 = 0; k0 < K; k0 += WG_KC) {
        const int kc = K - k0 < WG_KC ? K - k0 : WG_KC;
        /* pack this chunk of dZ: panel p holds rows k0..k0+kc of columns 32p..32p+32,
         * zero-padded past N */
        for (int k = 0; k < kc; k++) {
            const float *src = dZ + (ptrdiff_t)(k0 + k) * N;
            for (int p = 0; p < np; p++) {
                float *d = pack + ((ptrdiff_t)p * WG_KC + k) * WG_NR;
                const int j0 = p * WG_NR, nw = N - j0;
                _mm512_store_ps(d, _mm512_maskz_loadu_ps(gemm_mask(nw), src + j0));
                _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(gemm_mask(nw - 16), src + j0 + 16));
            }
        }
        const int acc = k0 > 0 || beta;
        const float *x = X + (ptrdiff_t)k0 * M;
        /* the next chunk's rows of X and dZ (two contiguous blocks) are prefetched into L2
         * a few lines per tile while this chunk computes */
        const int kn = K - k0 - kc < WG_KC ? K - k0 - kc : WG_KC;
        const char *px = (const char *)(x + (ptrdiff_t)kc * M);
        const char *pz = (const char *)(dZ + (ptrdiff_t)(k0 + kc) * N);
        const ptrdiff_t lx = ((ptrdiff_t)kn * M * 4 + 63) / 64, lz = ((ptrdiff_t)kn * N * 4 + 63) / 64;
        const ptrdiff_t ntile = (ptrdiff_t)np * ((M + WG_MR - 1) / WG_MR);
        const ptrdiff_t per = (lx + lz + ntile - 1) / ntile;
        ptrdiff_t next = 0;
        for (int p = 0; p < np; p++) {
            const int j0 = p * WG_NR, nw = N - j0;
            const __mmask16 m0 = gemm_mask(nw), m1 = gemm_mask(nw - 16);
            const float *bp = pack + (ptrdiff_t)p * WG_KC * WG_NR;
            for (int i0 = 0; i0 < M; i0 += WG_MR) {
                const int mr = M - i0 < WG_MR ? M - i0 : WG_MR;
                for (ptrdiff_t e = next + per; next < e && next < lx + lz; next++)
                    _mm_prefetch(next < lx ? px + next * 64 : pz + (next - lx) * 64, _MM_HINT_T1);
                wg_tiles[mr](kc, x + i0, M, bp, C + (ptrdiff_t)i0 * ldc + j0, ldc, acc, m0, m1);
            }
        }
    }
}
#else
typedef int mt_gemm_wgrad_avx512_unused; /* (a translation unit must not be empty) */
#endif
