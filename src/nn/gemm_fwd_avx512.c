/* gemm_fwd_avx512.c: the fp32 products of a dense layer with a plain (row-major) A,
 * C (+)= A op(B) (+ bias): the forward z = x W + b (op(B) = W; in inference with the
 * folded batch norm and the activation too: act(scale * (x W + b) + shift)) and the input
 * gradient dx (+)= dz W^T (op(B) = W^T), hand-written for AVX-512 and compiled under -march=x86-64-v4
 * (the Makefile's ISA_FLAGS for this file); matmul.c sends such products here where the CPU
 * has AVX-512 (mt_mm_fwd_kernel), oneDNN's matmul otherwise; a large product on a
 * multi-threaded backend is split over the threads by row tiles.
 *
 * Why by hand: in training, A and C come from far away: x and dz were written a layer
 * earlier but C (z, dx) was last touched a step ago, and on this guest one core reads L3 at
 * ~26 GB/s. With operands that cold (a microbenchmark touching 160 MB between calls), oneDNN
 * 2.6 ran the live5 shapes at 60-160 GFLOP/s (60-75 for the narrow N = 32 and K = 32 ones),
 * the same as inside the model; this kernel, which asks for the lines of the tile two tiles
 * ahead while it computes (prefetcht0; prefetchw for C measured the same), at 115-170
 * GFLOP/s: 1.2x over the 15 shapes, up to 2x on the narrow ones (bench/README.md,
 * "Forward and input-gradient products by hand"). With hot operands it is ~5% slower than
 * oneDNN, which is not the case in a training step.
 *
 * The loop: op(B) is packed once per call into panels of 32 columns ([K][32] each, zero
 * padded past N; a transposed B through gathers); then for each 12-row tile of A (its
 * 12 x K block stays in L1) every panel in turn: a 12 x 32 register tile (24 accumulators)
 * of broadcast FMAs over the whole K, then + bias (* scale, + shift, activation), (+ C),
 * stored. No K blocking: a panel is
 * K x 128 bytes and is read from L2 when it does not fit L1.
 *
 * Summation order: each C element sums k = 0..K-1 in order in one register, then adds the
 * bias, then C (beta 1): fixed by the shape alone (not by threads or timing). Absent from the
 * double build (gradient tests use the reference loops). */
#ifndef MT_DOUBLE
#include <omp.h>

#include "nn/gemm_avx512.h"
#include "nn/nn.h"

#define FW_NR 32 /* columns of a panel: two 16-lane vectors */
#define FW_MR 12 /* rows of A per register tile */
#define FW_PFD 2 /* tiles ahead whose A and C lines are prefetched */

/* A panel's epilogue: v = acc + bias, then * scale, + shift, then where !(v > 0) v * slope
 * (relu, leaky relu), each part only where its flag is set; b/s/h[0] are the panel's
 * columns 0-15, [1] 16-31. */
enum { FW_SCALE = 1, FW_SHIFT = 2, FW_ACT = 4 };
typedef struct fw_epi {
    __m512 b[2], s[2], h[2], slope;
    int flags;
} fw_epi;

/* Prefetch cursors: the lines [a, a_end) of A and [c, c_end) of C still to ask for. */
typedef struct fw_pf {
    const char *a, *a_end;
    const char *c, *c_end;
} fw_pf;

/* One MR x 32 tile: c[r][0..32) = bias + sum over k of a[r*lda + k] * bp[k][..] (+ c). The
 * rows of A are addressed from four bases three rows apart with the row stride as index
 * (base + s, base + 2s), so the twelve broadcasts need five registers; each k step also asks
 * for one line of the tiles ahead in A and one in C. */
#define FW_ROW(r, base, o)                                               \
    if (r < rows) {                                                      \
        const __m512 av = _mm512_set1_ps(base[o]);                       \
        c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);                          \
        c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);                          \
    }
#define FW_STORE(r)                                                                   \
    if (r < rows) {                                                                   \
        __m512 v0 = _mm512_add_ps(c0[r], ep->b[0]), v1 = _mm512_add_ps(c1[r], ep->b[1]); \
        if (ep->flags) fw_epilogue(ep, &v0, &v1);                                     \
        gemm_store_row(c + (ptrdiff_t)r * ldc, v0, v1, acc, m0, m1);                  \
    }
static inline __attribute__((always_inline)) __m512 fw_act(__m512 v, __m512 slope) {
    const __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_mul_ps(v, (__mmask16)~pos, v, slope);
}
/* The parts after the bias (scale, shift, activation), in the reference loop's order
 * (matmul.c mt_mm_epilogue_ref): separate multiplies and adds, no fused multiply-add. */
static inline __attribute__((always_inline)) void fw_epilogue(const fw_epi *ep, __m512 *v0,
                                                              __m512 *v1) {
    if (ep->flags & FW_SCALE) *v0 = _mm512_mul_ps(*v0, ep->s[0]), *v1 = _mm512_mul_ps(*v1, ep->s[1]);
    if (ep->flags & FW_SHIFT) *v0 = _mm512_add_ps(*v0, ep->h[0]), *v1 = _mm512_add_ps(*v1, ep->h[1]);
    if (ep->flags & FW_ACT) *v0 = fw_act(*v0, ep->slope), *v1 = fw_act(*v1, ep->slope);
}
#define FW_TILE(MR)                                                                            \
    static void fw_tile_##MR(int K, const float *a, ptrdiff_t s, const float *bp,             \
                             const fw_epi *ep, float *c, ptrdiff_t ldc, int acc, __mmask16 m0, \
                             __mmask16 m1, fw_pf *pf) {                                        \
        enum { rows = MR };                                                                    \
        __m512 c0[FW_MR], c1[FW_MR];                                                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < FW_MR; r++) {                             \
            c0[r] = _mm512_setzero_ps();                                                       \
            c1[r] = _mm512_setzero_ps();                                                       \
        }                                                                                      \
        const float *a0 = a, *a3 = a + 3 * s, *a6 = a + 6 * s, *a9 = a + 9 * s;                \
        const char *pa = pf->a, *pa_end = pf->a_end;                                           \
        const char *pc = pf->c, *pc_end = pf->c_end;                                                 \
        for (int k = 0; k < K; k++) {                                                          \
            const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);                \
            bp += FW_NR;                                                                       \
            FW_ROW(0, a0, 0) FW_ROW(1, a0, s) FW_ROW(2, a0, 2 * s)                             \
            FW_ROW(3, a3, 0) FW_ROW(4, a3, s) FW_ROW(5, a3, 2 * s)                             \
            FW_ROW(6, a6, 0) FW_ROW(7, a6, s) FW_ROW(8, a6, 2 * s)                             \
            FW_ROW(9, a9, 0) FW_ROW(10, a9, s) FW_ROW(11, a9, 2 * s)                           \
            a0++, a3++, a6++, a9++;                                                            \
            if (pa < pa_end) {                                                                 \
                _mm_prefetch(pa, _MM_HINT_T0);                                                 \
                pa += 64;                                                                      \
            }                                                                                  \
            if (pc < pc_end) {                                                                 \
                _mm_prefetch(pc, _MM_HINT_T0);                                                 \
                pc += 64;                                                                      \
            }                                                                                  \
        }                                                                                      \
        pf->a = pa, pf->c = pc;                                                                \
        FW_STORE(0) FW_STORE(1) FW_STORE(2) FW_STORE(3) FW_STORE(4) FW_STORE(5)                \
        FW_STORE(6) FW_STORE(7) FW_STORE(8) FW_STORE(9) FW_STORE(10) FW_STORE(11)              \
    }
FW_TILE(1) FW_TILE(2) FW_TILE(3) FW_TILE(4) FW_TILE(5) FW_TILE(6)
FW_TILE(7) FW_TILE(8) FW_TILE(9) FW_TILE(10) FW_TILE(11) FW_TILE(12)

typedef void (*fw_tile_fn)(int, const float *, ptrdiff_t, const float *, const fw_epi *, float *,
                           ptrdiff_t, int, __mmask16, __mmask16, fw_pf *);
static const fw_tile_fn fw_tiles[FW_MR + 1] = {
    NULL,      fw_tile_1, fw_tile_2, fw_tile_3,  fw_tile_4,  fw_tile_5, fw_tile_6,
    fw_tile_7, fw_tile_8, fw_tile_9, fw_tile_10, fw_tile_11, fw_tile_12};

size_t mt_mm_fwd_pack_floats(int K, int N) {
    return (size_t)K * FW_NR * (size_t)((N + FW_NR - 1) / FW_NR);
}

/* Panel p of op(B): rows k = 0..K-1 of columns 32p..32p+32, zero past N. op(B)[k][j] is
 * B[k*N + j] (tb 0: contiguous loads) or B[j*K + k] (tb 1: a gather down B's rows). */
static void fw_pack(int tb, int N, int K, const float *B, float *pack) {
    const int np = (N + FW_NR - 1) / FW_NR;
    if (!tb) {
        for (int k = 0; k < K; k++) {
            const float *src = B + (ptrdiff_t)k * N;
            for (int p = 0; p < np; p++) {
                float *d = pack + ((ptrdiff_t)p * K + k) * FW_NR;
                const int nw = N - p * FW_NR;
                _mm512_store_ps(d, _mm512_maskz_loadu_ps(gemm_mask(nw), src + p * FW_NR));
                _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(gemm_mask(nw - 16), src + p * FW_NR + 16));
            }
        }
        return;
    }
    const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(K));
    for (int p = 0; p < np; p++) {
        const int nw = N - p * FW_NR;
        const __mmask16 m0 = gemm_mask(nw), m1 = gemm_mask(nw - 16);
        const float *src0 = B + (ptrdiff_t)p * FW_NR * K, *src1 = src0 + (ptrdiff_t)16 * K;
        float *d = pack + (ptrdiff_t)p * K * FW_NR;
        for (int k = 0; k < K; k++, d += FW_NR) {
            _mm512_store_ps(d, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, rows, src0 + k, 4));
            _mm512_store_ps(d + 16, m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, rows, src1 + k, 4)
                                       : _mm512_setzero_ps());
        }
    }
}

/* v[0..16) of the panel's vector q (0: columns 0-15, 1: 16-31) of per-column vector x, or
 * the value `none` where x is NULL */
static __m512 fw_col_vec(const float *x, int p, int q, __mmask16 m, float none) {
    return x ? _mm512_maskz_loadu_ps(m, x + p * FW_NR + 16 * q) : _mm512_set1_ps(none);
}

/* Rows [0, M) of C = f(A op(B)) (+ C) from the packed op(B): the row tiles in order, each
 * over every panel. */
static void fw_rows(int M, int N, int K, const float *A, const float *bias, const float *scale,
                    const float *shift, int flags, float slope, int beta, float *C, int ldc,
                    const float *pack) {
    const int np = (N + FW_NR - 1) / FW_NR;
    /* the prefetch cursors run FW_PFD tiles ahead of the tile being computed (C only when
     * its rows are contiguous: ldc == N) */
    const char *a_all_end = (const char *)(A + (ptrdiff_t)M * K);
    const char *c_all_end = (const char *)(C + (ptrdiff_t)M * ldc);
    const int first = FW_PFD * FW_MR < M ? FW_PFD * FW_MR : M; /* (no pointer past the end) */
    fw_pf pf = {(const char *)(A + (ptrdiff_t)first * K), NULL,
                ldc == N ? (const char *)(C + (ptrdiff_t)first * ldc) : NULL, NULL};
    for (int i0 = 0; i0 < M; i0 += FW_MR) {
        const int mr = M - i0 < FW_MR ? M - i0 : FW_MR;
        /* this tile's share: the lines of tile i0 / 12 + FW_PFD */
        const ptrdiff_t ahead = (ptrdiff_t)i0 + (FW_PFD + 1) * FW_MR;
        pf.a_end = ahead < M ? (const char *)(A + ahead * K) : a_all_end;
        if (pf.a > pf.a_end) pf.a = pf.a_end;
        if (ldc == N) {
            pf.c_end = ahead < M ? (const char *)(C + ahead * ldc) : c_all_end;
            if (pf.c > pf.c_end) pf.c = pf.c_end;
        } else {
            pf.c = pf.c_end = NULL;
        }
        const float *a = A + (ptrdiff_t)i0 * K;
        for (int p = 0; p < np; p++) {
            const int nw = N - p * FW_NR;
            const __mmask16 m0 = gemm_mask(nw), m1 = gemm_mask(nw - 16);
            const fw_epi ep = {{fw_col_vec(bias, p, 0, m0, 0), fw_col_vec(bias, p, 1, m1, 0)},
                               {fw_col_vec(scale, p, 0, m0, 1), fw_col_vec(scale, p, 1, m1, 1)},
                               {fw_col_vec(shift, p, 0, m0, 0), fw_col_vec(shift, p, 1, m1, 0)},
                               _mm512_set1_ps(slope), flags};
            fw_tiles[mr](K, a, K, pack + (ptrdiff_t)p * K * FW_NR, &ep,
                         C + (ptrdiff_t)i0 * ldc + p * FW_NR, ldc, beta, m0, m1, &pf);
        }
    }
}

void mt_mm_fwd_avx512(int tb, int M, int N, int K, const float *A, const float *B,
                      const float *bias, const float *scale, const float *shift, int act,
                      float slope, int beta, float *C, int ldc, float *pack, int nthr) {
    const int flags = (scale ? FW_SCALE : 0) | (shift ? FW_SHIFT : 0) | (act ? FW_ACT : 0);
    fw_pack(tb, N, K, B, pack);
    if (nthr <= 1) {
        fw_rows(M, N, K, A, bias, scale, shift, flags, slope, beta, C, ldc, pack);
        return;
    }
    /* thread t: a contiguous range of whole row tiles (each element's sum is the same
     * whichever thread computes it, so the result does not depend on nthr) */
    const int tiles = (M + FW_MR - 1) / FW_MR;
#pragma omp parallel num_threads(nthr)
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
        const int t0 = (int)((long long)tiles * t / T), t1 = (int)((long long)tiles * (t + 1) / T);
        const int r0 = t0 * FW_MR, r1 = t1 * FW_MR < M ? t1 * FW_MR : M;
        if (r1 > r0)
            fw_rows(r1 - r0, N, K, A + (ptrdiff_t)r0 * K, bias, scale, shift, flags, slope, beta,
                    C + (ptrdiff_t)r0 * ldc, ldc, pack);
    }
}
#else
typedef int mt_gemm_fwd_avx512_unused; /* (a translation unit must not be empty) */
#endif
