/* rowops.c: the elementwise and row-wise layers besides dense / BN / activations: dropout
 * (counter-based masks), row softmax (MMoE gates), MMoE mixing of the experts, column copies
 * and zeroing (see nn.h). Each large loop runs on the OpenMP pool, split so that results do
 * not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "nn/layers_internal.h" /* PAR_MIN */
#include "nn/vecmath.h"       /* mt_bf16_from_f32 */

/* ---- dropout ---------------------------------------------------------------------------- */

/* Inverted dropout as tf.nn.dropout: keep where uniform >= ratio, scale kept values by
 * 1/(1-ratio). One 64-bit key is drawn from rng per call; element i's uniform is 32 bits of
 * the SplitMix64 output for (key, i / 2) (a counter-based stream: element i's value does not
 * depend on the others, so the masks are drawn on every thread, in vectorised blocks, with
 * the same result at any thread count). rng == NULL or ratio <= 0: mask all 1; ratio >= 1:
 * mask all 0. out may equal in. */
#define DROP_BLOCK 4096 /* elements per parallel block (even) */
static inline uint64_t splitmix64_at(uint64_t key, uint64_t i) {
    uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mt_dropout_forward(mt_real *out, mt_real *mask, const mt_real *in, int64_t n,
                        mt_real ratio, mt_rng *rng) {
    if (ratio <= 0 || !rng) {
        for (int64_t i = 0; i < n; i++) mask[i] = 1;
        if (out != in) memmove(out, in, (size_t)n * sizeof *out);
        return;
    }
    mt_real scale = ratio >= 1 ? 0 : (mt_real)(1.0 / (1.0 - (double)ratio));
    /* keep iff u32 >= thr, i.e. u32 / 2^32 >= ratio */
    double t = ceil((double)ratio * 4294967296.0);
    uint64_t thr = t > 4294967296.0 ? 4294967296ull : (uint64_t)t;
    uint64_t key = mt_rng_next(rng);
    int64_t nblk = (n + DROP_BLOCK - 1) / DROP_BLOCK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t i0 = blk * DROP_BLOCK, len = MT_MIN(DROP_BLOCK, n - i0);
        uint32_t u[DROP_BLOCK];
        for (int64_t k = 0; k < (len + 1) / 2; k++) {
            uint64_t z = splitmix64_at(key, (uint64_t)(i0 / 2 + k));
            u[2 * k] = (uint32_t)z;
            u[2 * k + 1] = (uint32_t)(z >> 32);
        }
        mt_real *restrict mk = mask + i0, *o = out + i0;
        const mt_real *x = in + i0;  /* may be o */
#pragma omp simd
        for (int64_t k = 0; k < len; k++) {
            mt_real v = (uint64_t)u[k] >= thr ? scale : 0;
            mk[k] = v;
            o[k] = x[k] * v;
        }
    }
}

/* din += dout * mask */
void mt_dropout_backward(mt_real *din, const mt_real *dout, const mt_real *mask, int64_t n) {
    if (!din) return;
    mt_real *restrict g = din;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) g[i] += dout[i] * mask[i];
}

/* ---- softmax ---------------------------------------------------------------------------- */

/* Row-wise softmax with the row max subtracted; out may equal in. */
void mt_softmax_forward(mt_real *out, const mt_real *in, int B, int N) {
    if (N <= 0) return;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        const mt_real *x = in + (size_t)r * N;
        mt_real *o = out + (size_t)r * N;
        mt_real mx = x[0];
        for (int j = 1; j < N; j++) mx = x[j] > mx ? x[j] : mx;
        double sum = 0;
        for (int j = 0; j < N; j++) {
            o[j] = mt_rexp(x[j] - mx);
            sum += o[j];
        }
        mt_real inv = (mt_real)(1.0 / sum);
        for (int j = 0; j < N; j++) o[j] *= inv;
    }
}

/* din[B,N] += out * (dout - sum(dout*out)) per row */
void mt_softmax_backward(mt_real *din, const mt_real *dout, const mt_real *out, int B, int N) {
    if (!din) return;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        const mt_real *restrict d = dout + (size_t)r * N;
        const mt_real *restrict y = out + (size_t)r * N;
        mt_real *restrict g = din + (size_t)r * N;
        mt_real dot = 0;
        for (int j = 0; j < N; j++) dot += d[j] * y[j];
        for (int j = 0; j < N; j++) g[j] += y[j] * (d[j] - dot);
    }
}

/* ---- MMoE mixing ------------------------------------------------------------------------ */

/* out[B,D] = sum_e gate[b,e] * experts[e][b,:] */
void mt_mix_forward(mt_real *out, const mt_real *gate, const mt_real *const *experts, int B,
                    int E, int D) {
#pragma omp parallel for schedule(static) if ((int64_t)B * E * D >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        mt_real *restrict o = out + (size_t)r * D;
        for (int j = 0; j < D; j++) o[j] = 0;
        for (int e = 0; e < E; e++) {
            mt_real gw = gate[(size_t)r * E + e];
            const mt_real *restrict x = experts[e] + (size_t)r * D;
            for (int j = 0; j < D; j++) o[j] += gw * x[j];
        }
    }
}

/* dgate[b,e] += <dout[b], expert_e[b]>; dexperts[e][b,:] += gate[b,e] * dout[b,:].
 * dgate, dexperts, or any dexperts[e] may be NULL. */
void mt_mix_backward(mt_real *dgate, mt_real *const *dexperts, const mt_real *dout,
                     const mt_real *gate, const mt_real *const *experts, int B, int E, int D) {
#pragma omp parallel for schedule(static) if ((int64_t)B * E * D >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        const mt_real *restrict d = dout + (size_t)r * D;
        for (int e = 0; e < E; e++) {
            if (dgate) {
                const mt_real *restrict x = experts[e] + (size_t)r * D;
                mt_real dot = 0;
#pragma omp simd reduction(+ : dot)
                for (int j = 0; j < D; j++) dot += d[j] * x[j];
                dgate[(size_t)r * E + e] += dot;
            }
            if (dexperts && dexperts[e]) {
                mt_real gw = gate[(size_t)r * E + e];
                mt_real *restrict g = dexperts[e] + (size_t)r * D;
                for (int j = 0; j < D; j++) g[j] += gw * d[j];
            }
        }
    }
}

/* ---- column copies ---------------------------------------------------------------------- */

/* dst16[b, dst_off + j] = bf16(src[b, src_off + j]), j < width (round to nearest even; by
 * the CPU's own conversion where the BN kernels use it: mt_bf16_row_avx512) */
void mt_copy_cols_bf16(uint16_t *dst16, int dst_stride, int dst_off, const mt_real *src,
                       int src_stride, int src_off, int B, int width) {
    if (width <= 0) return;
#ifndef MT_DOUBLE
    int native = mt_bn_kernels_avx512(-1) && __atomic_load_n(&mt_bn_native_bf16, __ATOMIC_RELAXED) > 0;
#endif
#pragma omp parallel for schedule(static) if ((int64_t)B * width >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        uint16_t *restrict d = dst16 + (size_t)r * dst_stride + dst_off;
        const mt_real *restrict s = src + (size_t)r * src_stride + src_off;
#ifndef MT_DOUBLE
        if (native) {
            mt_bf16_row_avx512(d, s, width);
            continue;
        }
#endif
#pragma omp simd
        for (int j = 0; j < width; j++) d[j] = mt_bf16_from_f32((float)s[j]);
    }
}

/* dst[b, dst_off + j] = src[b, src_off + j], j < width */
void mt_copy_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                  int src_stride, int src_off, int B, int width) {
    if (width <= 0) return;
#pragma omp parallel for schedule(static) if ((int64_t)B * width >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        mt_real *restrict d = dst + (size_t)r * dst_stride + dst_off;
        const mt_real *restrict s = src + (size_t)r * src_stride + src_off;
#pragma omp simd
        for (int j = 0; j < width; j++) d[j] = s[j];
    }
}

/* dst[b, dst_off + j] += src[b, src_off + j], j < width */
void mt_add_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                 int src_stride, int src_off, int B, int width) {
#pragma omp parallel for schedule(static) if ((int64_t)B * width >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        mt_real *restrict d = dst + (size_t)r * dst_stride + dst_off;
        const mt_real *restrict s = src + (size_t)r * src_stride + src_off;
#pragma omp simd
        for (int j = 0; j < width; j++) d[j] += s[j];
    }
}

/* x[0..n) = 0, on every thread when n is large */
void mt_zero(mt_real *x, int64_t n) {
    if (n < PAR_MIN) {
        if (n > 0) memset(x, 0, (size_t)n * sizeof *x);
        return;
    }
    int64_t chunk = 16384;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n; c += chunk)
        memset(x + c, 0, (size_t)(n - c < chunk ? n - c : chunk) * sizeof *x);
}
