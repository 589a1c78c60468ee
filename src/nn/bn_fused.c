/* bn_fused.c: the fused training kernels of a DNN layer (see nn.h): BN statistics +
 * normalisation + activation forward in one kernel (the BN output is not stored), and
 * [dropout] -> activation -> BN -> bias backward in one (the BN output recomputed bit for bit
 * from z), plus activation + bias backward without BN; optionally writing their result as
 * a product's bf16 operand (the bf16 hand-off, mt_mm_bf16_slot). They exist because the
 * separate passes (dense bias, BN statistics, normalise, activation, and the same again
 * backward) each streamed a whole activation through memory: 60% of a live5 training step
 * before fusion (bench/README.md "Speed").
 * Every column is reduced by one thread in a fixed order (chunks of RB rows summed in float,
 * chunks merged in double), so results do not depend on the thread count or on the column
 * blocking; the column strips below change only the loop order, never a column's
 * arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "nn/layers_internal.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* This file is compiled twice: as itself (AVX2 in the release build, -march=x86-64-v3) and,
 * through bn_fused_avx512.c, with MT_BN_AVX512_COPY under -march=x86-64-v4 (AVX-512: twice
 * the lanes; a live5 training step 2-4% faster in fp32, 10-14% in bf16). The kernels'
 * entry points carry the copy's suffix; the nn.h functions at the end of the plain copy pick
 * one at run time (mt_bn_kernels_avx512). Both copies compute the same bits: -std=c11 keeps
 * GCC from contracting a * b + c into FMAs, and a column's sums run in the same order. */
#ifdef MT_BN_AVX512_COPY
#define BN_FN(name) name##_avx512
#include <immintrin.h>
#else
#define BN_FN(name) name##_base
#endif

#ifndef MT_DOUBLE
/* q[0..w) = bf16 of t[0..w): 32 at a time by the CPU's own conversion in the AVX-512 copy
 * where the CPU has it (mt_bn_native_bf16; that copy is compiled with -mavx512bf16, and GCC
 * emits those instructions only here), else mt_bf16_from_f32 (the same bits for every
 * value but denormals, which the instruction flushes to zero as oneDNN's conversions do).
 * The conversion in integer operations was a third of the bf16 BN passes' instructions. */
ALWAYS_INLINE void bf16_row(uint16_t *restrict q, const float *restrict t, int w) {
    int j0 = 0;
#ifdef MT_BN_AVX512_COPY
    if (__atomic_load_n(&mt_bn_native_bf16, __ATOMIC_RELAXED) > 0)
        for (; j0 + 32 <= w; j0 += 32)
            _mm512_storeu_si512(q + j0, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(t + j0 + 16),
                                                                   _mm512_loadu_ps(t + j0)));
#endif
#pragma omp simd
    for (int j = j0; j < w; j++) q[j] = mt_bf16_from_f32(t[j]);
}
#ifdef MT_BN_AVX512_COPY
void mt_bf16_row_avx512(uint16_t *dst, const float *src, int n) { bf16_row(dst, src, n); }
#endif
#endif

/* f(x) for one value; inlined into loops specialised per activation by act_dispatch. */
ALWAYS_INLINE mt_real act_f(mt_activation a, mt_real x) {
    switch (a) {
    case MT_ACT_RELU: return x > 0 ? x : 0;
    case MT_ACT_LEAKY_RELU: return x > 0 ? x : LEAKY_ALPHA * x;
    case MT_ACT_ELU: return x > 0 ? x : mt_rexp(x) - 1;
    case MT_ACT_SELU: return x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * (mt_rexp(x) - 1);
    case MT_ACT_TANH: return mt_rtanh(x);
    case MT_ACT_SIGMOID: return sigm(x);
    case MT_ACT_SWISH: return x * sigm(x);
    case MT_ACT_GELU: return (mt_real)0.5 * x * (1 + mt_rerf(x * INV_SQRT2));
    case MT_ACT_LINEAR: return x;
    }
    return x;
}

/* d * f'(x). have_x (a compile-time constant at every call) says whether the input x is at
 * hand: then the relu family decides on x > 0; otherwise on y > 0 (the same for y = f(x)).
 * tanh, sigmoid, elu and selu take f' from the output y = f(x), swish and gelu from x
 * (mt_act_grad_needs_input). Same formulas as mt_act_backward. Written as selects of d (not
 * d * (y > 0 ? 1 : 0)): the form GCC if-converts and vectorises. */
ALWAYS_INLINE mt_real act_bwd(mt_activation a, mt_real x, mt_real y, mt_real d, int have_x) {
    switch (a) {
    case MT_ACT_RELU: return (have_x ? x : y) > 0 ? d : 0;
    case MT_ACT_LEAKY_RELU: return (have_x ? x : y) > 0 ? d : LEAKY_ALPHA * d;
    case MT_ACT_ELU: return y > 0 ? d : d * (y + 1);
    case MT_ACT_SELU: return y > 0 ? SELU_SCALE * d : d * (y + SELU_SCALE * SELU_ALPHA);
    case MT_ACT_TANH: return d * (1 - y * y);
    case MT_ACT_SIGMOID: return d * y * (1 - y);
    case MT_ACT_SWISH: {
        mt_real s = sigm(x);
        return d * s * (1 + x * (1 - s));
    }
    case MT_ACT_GELU:
        return d * ((mt_real)0.5 * (1 + mt_rerf(x * INV_SQRT2)) +
                    x * INV_SQRT2PI * mt_rexp((mt_real)-0.5 * x * x));
    case MT_ACT_LINEAR: return d;
    }
    return d;
}

/* One row's output gradient d[w] times its dropout mask mk (NULL: no dropout), into dm: the
 * masked gradient first, in L1, because with d[j] * mk[j] inside the activation's select GCC
 * will not if-convert (a load it would speculate) and the loop ran scalar. */
ALWAYS_INLINE const mt_real *masked_grad(const mt_real *d, const mt_real *mk, mt_real *dm,
                                         int w) {
    if (!mk) return d;
#pragma omp simd
    for (int j = 0; j < w; j++) dm[j] = d[j] * mk[j];
    return dm;
}

/* 1 when act_bwd reads y even though x is at hand */
ALWAYS_INLINE int act_bwd_reads_y(mt_activation a) {
    return a == MT_ACT_ELU || a == MT_ACT_SELU || a == MT_ACT_TANH || a == MT_ACT_SIGMOID;
}

/* The affine form of training BN, pre = x * sc + sh, from the stored (rounded) mean and rstd,
 * so the forward and the backward (which recomputes pre) get bit-identical values. */
ALWAYS_INLINE void bn_affine(mt_real *sc, mt_real *sh, const mt_real *mean, const mt_real *rstd,
                             const mt_real *gamma, const mt_real *beta, int j0, int w) {
    for (int j = 0; j < w; j++) {
        int c = j0 + j;
        double g = gamma ? gamma[c] : 1.0, rs = rstd[c];
        sc[j] = (mt_real)(g * rs);
        sh[j] = (mt_real)((beta ? beta[c] : 0.0) - (double)mean[c] * g * rs);
    }
}

/* Calls KERNEL(args..., A) with A a compile-time constant, so each activation gets its own
 * vectorisable copy of the loop. */
#define ACT_DISPATCH(a, KERNEL, ...)                                                   \
    switch (a) {                                                                       \
    case MT_ACT_RELU: KERNEL(__VA_ARGS__, MT_ACT_RELU); break;                         \
    case MT_ACT_LEAKY_RELU: KERNEL(__VA_ARGS__, MT_ACT_LEAKY_RELU); break;             \
    case MT_ACT_ELU: KERNEL(__VA_ARGS__, MT_ACT_ELU); break;                           \
    case MT_ACT_SELU: KERNEL(__VA_ARGS__, MT_ACT_SELU); break;                         \
    case MT_ACT_TANH: KERNEL(__VA_ARGS__, MT_ACT_TANH); break;                         \
    case MT_ACT_SIGMOID: KERNEL(__VA_ARGS__, MT_ACT_SIGMOID); break;                   \
    case MT_ACT_SWISH: KERNEL(__VA_ARGS__, MT_ACT_SWISH); break;                       \
    case MT_ACT_GELU: KERNEL(__VA_ARGS__, MT_ACT_GELU); break;                         \
    case MT_ACT_LINEAR: KERNEL(__VA_ARGS__, MT_ACT_LINEAR); break;                     \
    }

/* Rows per partial sum in the fused reductions: a column's sum is a sum over blocks of RB
 * rows, each block summed in mt_real and the blocks in double (rounding error grows with RB,
 * not with B). */
#define RB 128

#ifndef MT_DOUBLE
/* Strips of SW columns with their per-column sums in registers (GCC vector extensions: two
 * vectors of VL floats: 8 with AVX2 (-march=x86-64-v3; SSE pairs without it), 16 in the
 * AVX-512 copy, where 16 lanes made the kernels 10-15% faster than 8-lane strips). The loops
 * over a [rows, w] block with `#pragma omp simd` over the columns keep the sums in stack arrays,
 * loaded and stored again for every row; here a strip walks its rows with the sums in
 * registers. Each column's operations and their order are those of the plain loops (the
 * same bits): only the loop order changes. For blocks whose width is a multiple of SW. */
/* the helpers are always inlined, so the 32-byte-vector calling convention GCC warns about
 * on builds without AVX (the sanitizer build) never applies */
#pragma GCC diagnostic ignored "-Wpsabi"
#ifdef __AVX512F__
#define VL 16
#else
#define VL 8
#endif
#define SW (2 * VL)
typedef float vf __attribute__((vector_size(VL * 4)));
typedef int32_t vi __attribute__((vector_size(VL * 4)));
ALWAYS_INLINE vf ldv(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
ALWAYS_INLINE void stv(float *p, vf v) { memcpy(p, &v, sizeof v); }
ALWAYS_INLINE vf relu_gradv(vf pre, vf d) { return (vf)((vi)d & (pre > (vf){0})); }

/* Pass 1 of the relu BN backward over rows [r0, r1) of a block: with g = d [* mask] where
 * pre > 0 (pre = x * sc + sh), p1 = sum g, p2 = sum g * xhat per column. g is not stored:
 * pass 2 recomputes it (cheaper than writing it and reading it back from L2/L3). */
ALWAYS_INLINE void bn_relu_bwd_pass1_strips(const mt_real *dout,
                                            const mt_real *mask, const mt_real *in, int N,
                                            int j0, int w, int r0, int r1, const mt_real *mu,
                                            const mt_real *rs, const mt_real *sc,
                                            const mt_real *sh, mt_real *p1, mt_real *p2) {
    for (int s = 0; s < w; s += SW) {
        vf mu0 = ldv(mu + s), mu1 = ldv(mu + s + VL), rs0 = ldv(rs + s), rs1 = ldv(rs + s + VL);
        vf sc0 = ldv(sc + s), sc1 = ldv(sc + s + VL), sh0 = ldv(sh + s), sh1 = ldv(sh + s + VL);
        vf a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0 + s;
            vf x0 = ldv(in + o), x1 = ldv(in + o + VL), d0 = ldv(dout + o), d1 = ldv(dout + o + VL);
            if (mask) {
                d0 = d0 * ldv(mask + o);
                d1 = d1 * ldv(mask + o + VL);
            }
            vf g0 = relu_gradv(x0 * sc0 + sh0, d0), g1 = relu_gradv(x1 * sc1 + sh1, d1);
            a0 += g0;
            a1 += g1;
            b0 += g0 * ((x0 - mu0) * rs0);
            b1 += g1 * ((x1 - mu1) * rs1);
        }
        stv(p1 + s, a0);
        stv(p1 + s + VL, a1);
        stv(p2 + s, b0);
        stv(p2 + s + VL, b1);
    }
}

/* Pass 2 over rows [r0, r1): din = k * (g - c1 - xhat * c2) in place (or into ob as bf16),
 * p1 = its column sums. g is read from din (pass 1 stored it), or, when relu (non-NULL sc,
 * sh), recomputed from dout [* mask] as pass 1 computed it (din may be dout). */
ALWAYS_INLINE void bn_bwd_pass2_strips(mt_real *din, uint16_t *ob, const mt_real *dout,
                                       const mt_real *mask, const mt_real *sc,
                                       const mt_real *sh, const mt_real *in, int N, int j0,
                                       int w, int r0, int r1, const mt_real *mu,
                                       const mt_real *rs, const mt_real *k, const mt_real *c1,
                                       const mt_real *c2, mt_real *p1) {
    for (int s = 0; s < w; s += SW) {
        vf mu0 = ldv(mu + s), mu1 = ldv(mu + s + VL), rs0 = ldv(rs + s), rs1 = ldv(rs + s + VL);
        vf k0 = ldv(k + s), k1 = ldv(k + s + VL), c10 = ldv(c1 + s), c11 = ldv(c1 + s + VL);
        vf c20 = ldv(c2 + s), c21 = ldv(c2 + s + VL);
        vf sc0 = {0}, sc1 = {0}, sh0 = {0}, sh1 = {0};
        if (sc) {
            sc0 = ldv(sc + s), sc1 = ldv(sc + s + VL), sh0 = ldv(sh + s), sh1 = ldv(sh + s + VL);
        }
        vf a0 = {0}, a1 = {0};
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0 + s;
            vf x0 = ldv(in + o), x1 = ldv(in + o + VL), g0, g1;
            if (sc) {
                vf d0 = ldv(dout + o), d1 = ldv(dout + o + VL);
                if (mask) {
                    d0 = d0 * ldv(mask + o);
                    d1 = d1 * ldv(mask + o + VL);
                }
                g0 = relu_gradv(x0 * sc0 + sh0, d0);
                g1 = relu_gradv(x1 * sc1 + sh1, d1);
            } else {
                g0 = ldv(din + o);
                g1 = ldv(din + o + VL);
            }
            vf v0 = k0 * (g0 - c10 - (x0 - mu0) * rs0 * c20);
            vf v1 = k1 * (g1 - c11 - (x1 - mu1) * rs1 * c21);
            if (ob) {
                float t[SW];
                stv(t, v0);
                stv(t + VL, v1);
                bf16_row(ob + o, t, SW);
            } else {
                stv(din + o, v0);
                stv(din + o + VL, v1);
            }
            a0 += v0;
            a1 += v1;
        }
        stv(p1 + s, a0);
        stv(p1 + s + VL, a1);
    }
}
/* BN statistics of one chunk of rows [r0, r1) of a block: p1 = column sums, cm = p1 / nc,
 * p2 = sums of squared deviations from cm (the second sweep reads the chunk from L1). */
ALWAYS_INLINE void bn_chunk_stats_strips(const mt_real *in, int N, int j0, int w, int r0, int r1,
                                         mt_real *p1, mt_real *cm, mt_real *p2) {
    mt_real nc = (mt_real)(r1 - r0);
    for (int s = 0; s < w; s += SW) {
        vf a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0 + s;
            a0 += ldv(in + o);
            a1 += ldv(in + o + VL);
        }
        vf m0 = a0 / nc, m1 = a1 / nc;
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0 + s;
            vf d0 = ldv(in + o) - m0, d1 = ldv(in + o + VL) - m1;
            b0 += d0 * d0;
            b1 += d1 * d1;
        }
        stv(p1 + s, a0);
        stv(p1 + s + VL, a1);
        stv(cm + s, m0);
        stv(cm + s + VL, m1);
        stv(p2 + s, b0);
        stv(p2 + s + VL, b1);
    }
}
#endif

/* The statistics of one chunk as plain loops (any width; the double build). */
ALWAYS_INLINE void bn_chunk_stats(const mt_real *in, int N, int j0, int w, int r0, int r1,
                                  mt_real *p1, mt_real *cm, mt_real *p2) {
    for (int j = 0; j < w; j++) p1[j] = p2[j] = 0;
    for (int r = r0; r < r1; r++) {
        const mt_real *restrict x = in + (size_t)r * N + j0;
#pragma omp simd
        for (int j = 0; j < w; j++) p1[j] += x[j];
    }
    for (int j = 0; j < w; j++) cm[j] = p1[j] / (mt_real)(r1 - r0);
    for (int r = r0; r < r1; r++) {  /* the chunk is in L1 now */
        const mt_real *restrict x = in + (size_t)r * N + j0;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            mt_real d = x[j] - cm[j];
            p2[j] += d * d;
        }
    }
}

/* One column block [j0, j0+w) of mt_bn_act_forward_train. Statistics in one pass over the
 * data: each chunk of RB rows (RB x CB values: fits in L1) gets an exact two-pass mean and
 * sum of squared deviations, and the chunks are merged in double with Chan et al.'s pairwise
 * update (as accurate as a two-pass over all rows, with no E[x^2] - E[x]^2 cancellation).
 * Then one pass normalises, applies the activation and writes out. */
ALWAYS_INLINE void bn_act_fwd_block(mt_real *out, uint16_t *ob, int ldo, mt_real *mean, mt_real *rstd,
                                    const mt_real *in, const mt_real *gamma,
                                    const mt_real *beta, mt_real *moving_mean,
                                    mt_real *moving_var, int B, int N, mt_real momentum,
                                    mt_real eps, int j0, int w, mt_activation a) {
    mt_real p1[CB], p2[CB], cm[CB], sc[CB], sh[CB];
    double mu[CB], m2[CB];
    for (int j = 0; j < w; j++) mu[j] = m2[j] = 0;
    int n = 0;
    for (int r0 = 0; r0 < B; r0 += RB) {
        int r1 = MT_MIN(B, r0 + RB), nc = r1 - r0;
#ifndef MT_DOUBLE
        if (w % SW == 0)
            bn_chunk_stats_strips(in, N, j0, w, r0, r1, p1, cm, p2);
        else
#endif
            bn_chunk_stats(in, N, j0, w, r0, r1, p1, cm, p2);
        /* merge (n, mu, m2) with the chunk (nc, cm, p2) */
        double f = (double)nc / (double)(n + nc), g = (double)n * (double)nc / (double)(n + nc);
        for (int j = 0; j < w; j++) {
            double dlt = (double)cm[j] - mu[j];
            mu[j] += dlt * f;
            m2[j] += (double)p2[j] + dlt * dlt * g;
        }
        n += nc;
    }
    for (int j = 0; j < w; j++) {
        int c = j0 + j;
        double var = m2[j] / B; /* biased batch variance, as TF's batch_normalization */
        double rs = 1.0 / sqrt(var + (double)eps);
        mean[c] = (mt_real)mu[j];
        rstd[c] = (mt_real)rs;
        if (moving_mean) moving_mean[c] = momentum * moving_mean[c] + (1 - momentum) * mean[c];
        if (moving_var) moving_var[c] = momentum * moving_var[c] + (1 - momentum) * (mt_real)var;
    }
    bn_affine(sc, sh, mean, rstd, gamma, beta, j0, w);
#ifndef MT_DOUBLE
    if (ob) {  /* the output only as the next product's bf16 operand (a row in L1 first) */
        mt_real t[CB];
        for (int r = 0; r < B; r++) {
            const mt_real *restrict x = in + (size_t)r * N + j0;
#pragma omp simd
            for (int j = 0; j < w; j++) t[j] = act_f(a, x[j] * sc[j] + sh[j]);
            bf16_row(ob + (size_t)r * ldo + j0, t, w);
        }
        return;
    }
#endif
    for (int r = 0; r < B; r++) {
        const mt_real *restrict x = in + (size_t)r * N + j0;
        mt_real *restrict o = out + (size_t)r * N + j0;
#pragma omp simd
        for (int j = 0; j < w; j++) o[j] = act_f(a, x[j] * sc[j] + sh[j]);
    }
}

#define BN_ACT_FWD(out, ob, ldo, mean, rstd, in, gamma, beta, mm, mv, B, N, mom, eps, j0, w, A) \
    bn_act_fwd_block(out, ob, ldo, mean, rstd, in, gamma, beta, mm, mv, B, N, mom, eps, j0, w, A)

void BN_FN(mt_bn_act_forward_train_to)(mt_real *out, uint16_t *out16, int ld16, mt_real *mean,
                                mt_real *rstd, const mt_real *in, const mt_real *gamma,
                                const mt_real *beta, mt_real *moving_mean, mt_real *moving_var,
                                int B, int N, mt_real momentum, mt_real eps, mt_activation act) {
    if (B <= 0 || N <= 0) return;
    if (ld16 <= 0) ld16 = N;
    int cb = col_block(N, CB_FWD), nblk = (N + cb - 1) / cb;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * cb, w = MT_MIN(cb, N - j0);
        ACT_DISPATCH(act, BN_ACT_FWD, out, out16, ld16, mean, rstd, in, gamma, beta, moving_mean,
                     moving_var, B, N, momentum, eps, j0, w)
    }
}

/* One column block of mt_bn_act_backward: pass 1 recomputes pre = z * sc + sh exactly as the
 * forward did, writes g = dout * mask * f'(pre) into din and sums g and g * xhat; pass 2 turns
 * din into the BN input gradient in place and sums it for the bias. Both passes touch only
 * this block's columns, which stay in L2 between them; `out` is read only by activations
 * whose derivative comes from their output (act_bwd_reads_y). */
ALWAYS_INLINE void bn_act_bwd_block(mt_real *din, uint16_t *ob, mt_real *dgamma, mt_real *dbeta,
                                    mt_real *dbias, const mt_real *dout, const mt_real *mask,
                                    const mt_real *out, const mt_real *in, const mt_real *mean,
                                    const mt_real *rstd, const mt_real *gamma,
                                    const mt_real *beta, int B, int N, int j0, int w,
                                    mt_activation a) {
    mt_real mu[CB], rs[CB], sc[CB], sh[CB], p1[CB], p2[CB], k[CB], c1[CB], c2[CB];
    double s1[CB], s2[CB], sb[CB];
    bn_affine(sc, sh, mean, rstd, gamma, beta, j0, w);
    for (int j = 0; j < w; j++) {
        mu[j] = mean[j0 + j];
        rs[j] = rstd[j0 + j];
        k[j] = (gamma ? gamma[j0 + j] : 1) * rs[j];
        s1[j] = s2[j] = sb[j] = 0;
    }
#ifndef MT_DOUBLE
    const int strips = w % SW == 0;  /* (the double build has only the plain loops) */
#endif
    for (int r0 = 0; r0 < B; r0 += RB) {
        int r1 = MT_MIN(B, r0 + RB);
        for (int j = 0; j < w; j++) p1[j] = p2[j] = 0;
#ifndef MT_DOUBLE
        if (strips && a == MT_ACT_RELU) {
            bn_relu_bwd_pass1_strips(dout, mask, in, N, j0, w, r0, r1, mu, rs, sc, sh, p1, p2);
            for (int j = 0; j < w; j++) {
                s1[j] += p1[j];
                s2[j] += p2[j];
            }
            continue;
        }
#endif
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0;
            const mt_real *restrict x = in + o, *d = dout + o;
            const mt_real *restrict y = act_bwd_reads_y(a) ? out + o : x;
            mt_real *g = din + o;  /* may be d (in place) */
            mt_real dm[CB];
            d = masked_grad(d, mask ? mask + o : NULL, dm, w);
#pragma omp simd
            for (int j = 0; j < w; j++) {
                mt_real xh = (x[j] - mu[j]) * rs[j];
                mt_real gj = act_bwd(a, x[j] * sc[j] + sh[j], y[j], d[j], 1);
                g[j] = gj;
                p1[j] += gj;
                p2[j] += gj * xh;
            }
        }
        for (int j = 0; j < w; j++) {
            s1[j] += p1[j];
            s2[j] += p2[j];
        }
    }
    for (int j = 0; j < w; j++) {
        if (dbeta) dbeta[j0 + j] += (mt_real)s1[j];
        if (dgamma) dgamma[j0 + j] += (mt_real)s2[j];
        c1[j] = (mt_real)(s1[j] / B);
        c2[j] = (mt_real)(s2[j] / B);
    }
    for (int r0 = 0; r0 < B; r0 += RB) {
        int r1 = MT_MIN(B, r0 + RB);
        for (int j = 0; j < w; j++) p1[j] = 0;
#ifndef MT_DOUBLE
        if (strips) {
            int relu = a == MT_ACT_RELU;  /* pass 1 did not store g: recompute it */
            bn_bwd_pass2_strips(din, ob, dout, mask, relu ? sc : NULL, relu ? sh : NULL, in, N, j0, w, r0,
                                r1, mu, rs, k, c1, c2, p1);
            for (int j = 0; j < w; j++) sb[j] += p1[j];
            continue;
        }
#endif
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0;
            const mt_real *restrict x = in + o;
            mt_real *restrict g = din + o;
#ifndef MT_DOUBLE
            if (ob) {  /* the result only as the products' bf16 operand */
                uint16_t *restrict g16 = ob + o;
#pragma omp simd
                for (int j = 0; j < w; j++) {
                    mt_real v = k[j] * (g[j] - c1[j] - (x[j] - mu[j]) * rs[j] * c2[j]);
                    g16[j] = mt_bf16_from_f32(v);
                    p1[j] += v;
                }
                continue;
            }
#endif
#pragma omp simd
            for (int j = 0; j < w; j++) {
                mt_real v = k[j] * (g[j] - c1[j] - (x[j] - mu[j]) * rs[j] * c2[j]);
                g[j] = v;
                p1[j] += v;
            }
        }
        for (int j = 0; j < w; j++) sb[j] += p1[j];
    }
    if (dbias)
        for (int j = 0; j < w; j++) dbias[j0 + j] += (mt_real)sb[j];
}

#define BN_ACT_BWD(din, ob, dg, dbt, dbias, dout, mask, out, in, mean, rstd, gamma, beta, B, N, \
                   j0, w, A)                                                                   \
    bn_act_bwd_block(din, ob, dg, dbt, dbias, dout, mask, out, in, mean, rstd, gamma, beta, B, N, \
                     j0, w, A)

void BN_FN(mt_bn_act_backward_to)(mt_real *din, uint16_t *din16, mt_real *dgamma, mt_real *dbeta,
                           mt_real *dbias, const mt_real *dout, const mt_real *mask,
                           const mt_real *out, const mt_real *in, const mt_real *mean,
                           const mt_real *rstd, const mt_real *gamma, const mt_real *beta,
                           int B, int N, mt_activation act) {
    if (B <= 0 || N <= 0) return;
    int cb = col_block(N, CB_BWD), nblk = (N + cb - 1) / cb;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * cb, w = MT_MIN(cb, N - j0);
        ACT_DISPATCH(act, BN_ACT_BWD, din, din16, dgamma, dbeta, dbias, dout, mask, out, in,
                     mean, rstd, gamma, beta, B, N, j0, w)
    }
}

/* One column block of mt_act_bias_backward: din = dout * mask * f'(in), column sums. */
ALWAYS_INLINE void act_bias_bwd_block(mt_real *din, mt_real *dbias, const mt_real *dout,
                                      const mt_real *mask, const mt_real *in,
                                      const mt_real *out, int B, int N, int j0, int w,
                                      mt_activation a) {
    mt_real p[CB];
    double sb[CB];
    for (int j = 0; j < w; j++) sb[j] = 0;
    for (int r0 = 0; r0 < B; r0 += RB) {
        int r1 = MT_MIN(B, r0 + RB);
        for (int j = 0; j < w; j++) p[j] = 0;
        for (int r = r0; r < r1; r++) {
            size_t o = (size_t)r * N + j0;
            const mt_real *d = dout + o, *restrict y = out + o;
            const mt_real *restrict x = mt_act_grad_needs_input(a) ? in + o : y;
            mt_real *g = din + o;  /* may be d (in place) */
            mt_real dm[CB];
            d = masked_grad(d, mask ? mask + o : NULL, dm, w);
#pragma omp simd
            for (int j = 0; j < w; j++) {
                mt_real gj = act_bwd(a, x[j], y[j], d[j], 0);
                g[j] = gj;
                p[j] += gj;
            }
        }
        for (int j = 0; j < w; j++) sb[j] += p[j];
    }
    if (dbias)
        for (int j = 0; j < w; j++) dbias[j0 + j] += (mt_real)sb[j];
}

#define ACT_BIAS_BWD(din, dbias, dout, mask, in, out, B, N, j0, w, A) \
    act_bias_bwd_block(din, dbias, dout, mask, in, out, B, N, j0, w, A)

void BN_FN(mt_act_bias_backward)(mt_real *din, mt_real *dbias, const mt_real *dout,
                          const mt_real *mask, const mt_real *in, const mt_real *out, int B,
                          int N, mt_activation act) {
    if (B <= 0 || N <= 0) return;
    int cb = col_block(N, CB), nblk = (N + cb - 1) / cb;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * cb, w = MT_MIN(cb, N - j0);
        ACT_DISPATCH(act, ACT_BIAS_BWD, din, dbias, dout, mask, in, out, B, N, j0, w)
    }
}

#ifndef MT_BN_AVX512_COPY
/* ---- the entry points of nn.h: the AVX-512 copy where the CPU has it -------------------- */

#define BN_KERNEL_PROTOS(SFX)                                                                  \
    void mt_bn_act_forward_train_to##SFX(                                                     \
        mt_real *out, uint16_t *out16, int ld16, mt_real *mean, mt_real *rstd,                \
        const mt_real *in, const mt_real *gamma, const mt_real *beta,                         \
        mt_real *moving_mean, mt_real *moving_var, int B, int N, mt_real momentum,           \
        mt_real eps, mt_activation act);                                                     \
    void mt_bn_act_backward_to##SFX(                                                          \
        mt_real *din, uint16_t *din16, mt_real *dgamma, mt_real *dbeta, mt_real *dbias,       \
        const mt_real *dout, const mt_real *mask, const mt_real *out, const mt_real *in,      \
        const mt_real *mean, const mt_real *rstd, const mt_real *gamma,                       \
        const mt_real *beta, int B, int N, mt_activation act);                                \
    void mt_act_bias_backward##SFX(mt_real *din, mt_real *dbias, const mt_real *dout,         \
                                   const mt_real *mask, const mt_real *in, const mt_real *out, \
                                   int B, int N, mt_activation act);
BN_KERNEL_PROTOS(_base)
#ifndef MT_DOUBLE
BN_KERNEL_PROTOS(_avx512)
#endif

/* -1: not decided yet; 0: the plain copy; 1: the AVX-512 copy */
static int bn_isa = -1;
int mt_bn_native_bf16 = -1;  /* -1: not decided yet */

static int bn_cpu_avx512bf16(void) {
#if !defined(MT_DOUBLE) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

static int bn_cpu_avx512(void) {
#if !defined(MT_DOUBLE) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd");
#else
    return 0;
#endif
}

int mt_bn_kernels_avx512(int set) {
    /* MTREC_BN_AVX512=0 keeps the plain copy (to compare); set: tests */
    int on = mt_switch(&bn_isa, set, "MTREC_BN_AVX512", bn_cpu_avx512);
    /* decided once, before the copy first runs (MTREC_BF16_CVT_NATIVE=0: the integer
     * conversion, to compare) */
    if (on) mt_switch(&mt_bn_native_bf16, -1, "MTREC_BF16_CVT_NATIVE", bn_cpu_avx512bf16);
    return on;
}

#ifndef MT_DOUBLE
#define BN_PICK(fn) (mt_bn_kernels_avx512(-1) ? fn##_avx512 : fn##_base)
#else
#define BN_PICK(fn) fn##_base
#endif

void mt_bn_act_forward_train_to(mt_real *out, uint16_t *out16, int ld16, mt_real *mean,
                                mt_real *rstd, const mt_real *in, const mt_real *gamma,
                                const mt_real *beta, mt_real *moving_mean, mt_real *moving_var,
                                int B, int N, mt_real momentum, mt_real eps, mt_activation act) {
    BN_PICK(mt_bn_act_forward_train_to)(out, out16, ld16, mean, rstd, in, gamma, beta,
                                        moving_mean, moving_var, B, N, momentum, eps, act);
}

void mt_bn_act_backward_to(mt_real *din, uint16_t *din16, mt_real *dgamma, mt_real *dbeta,
                           mt_real *dbias, const mt_real *dout, const mt_real *mask,
                           const mt_real *out, const mt_real *in, const mt_real *mean,
                           const mt_real *rstd, const mt_real *gamma, const mt_real *beta,
                           int B, int N, mt_activation act) {
    BN_PICK(mt_bn_act_backward_to)(din, din16, dgamma, dbeta, dbias, dout, mask, out, in,
                                   mean, rstd, gamma, beta, B, N, act);
}

void mt_act_bias_backward(mt_real *din, mt_real *dbias, const mt_real *dout,
                          const mt_real *mask, const mt_real *in, const mt_real *out, int B,
                          int N, mt_activation act) {
    BN_PICK(mt_act_bias_backward)(din, dbias, dout, mask, in, out, B, N, act);
}

void mt_bn_act_forward_train(mt_real *out, mt_real *mean, mt_real *rstd, const mt_real *in,
                             const mt_real *gamma, const mt_real *beta, mt_real *moving_mean,
                             mt_real *moving_var, int B, int N, mt_real momentum, mt_real eps,
                             mt_activation act) {
    mt_bn_act_forward_train_to(out, NULL, 0, mean, rstd, in, gamma, beta, moving_mean, moving_var,
                               B, N, momentum, eps, act);
}

void mt_bn_act_backward(mt_real *din, mt_real *dgamma, mt_real *dbeta, mt_real *dbias,
                        const mt_real *dout, const mt_real *mask, const mt_real *out,
                        const mt_real *in, const mt_real *mean, const mt_real *rstd,
                        const mt_real *gamma, const mt_real *beta, int B, int N,
                        mt_activation act) {
    mt_bn_act_backward_to(din, NULL, dgamma, dbeta, dbias, dout, mask, out, in, mean, rstd,
                          gamma, beta, B, N, act);
}

int mt_act_grad_needs_input(mt_activation a) { return a == MT_ACT_SWISH || a == MT_ACT_GELU; }
int mt_act_grad_needs_output(mt_activation a) { return act_bwd_reads_y(a); }
#endif /* !MT_BN_AVX512_COPY */
