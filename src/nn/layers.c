/* layers.c: dense, batch norm, activations, dropout, row softmax, MMoE mixing and column
 * copies, each as a forward/backward pair over row-major mt_real buffers (see nn.h).
 *
 * Every backward ACCUMULATES (+=) into its gradient outputs; input-gradient pointers may be
 * NULL. Nothing here allocates. Large loops run on the OpenMP pool sized by mt_mm_create
 * (the same pool oneDNN uses); every reduction is split by column block so each output is
 * summed by one thread in a fixed order, which keeps results independent of thread count.
 * The matrix products themselves live in matmul.c; embedding bags in embedding.c. */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

#ifdef MT_DOUBLE
#define R_EXP exp
#define R_TANH tanh
#define R_ERF erf
#define R_SQRT sqrt
#else
#define R_EXP expf
#define R_TANH tanhf
#define R_ERF erff
#define R_SQRT sqrtf
#endif

/* Below this many elements a loop stays on the calling thread (fork/join costs ~1-2 us). */
#define PAR_MIN 32768
/* Column block of the per-column reductions (BN, bias gradient): one block's partial sums
 * live on the stack and a block of B rows stays in L2. */
#define CB 64

/* ---- dense ------------------------------------------------------------------------------ */

/* out[B,N] = in[B,K] @ W[K,N] + b[N]  (b may be NULL: no bias) */
mtrec_status mt_dense_forward(mt_mm *m, mt_real *out, const mt_real *in, const mt_real *W,
                              const mt_real *b, int B, int K, int N) {
    mtrec_status s = mt_mm_gemm(m, 0, 0, B, N, K, in, W, 0, out);
    if (s != MTREC_OK || !b) return s;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int r = 0; r < B; r++) {
        mt_real *restrict o = out + (size_t)r * N;
        for (int j = 0; j < N; j++) o[j] += b[j];
    }
    return MTREC_OK;
}

/* db[N] += column sums of dout[B,N] */
static void colsum_acc(mt_real *restrict db, const mt_real *restrict dout, int B, int N) {
    int nblk = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * CB, w = MT_MIN(CB, N - j0);
        mt_real acc[CB];
        for (int j = 0; j < w; j++) acc[j] = 0;
        for (int r = 0; r < B; r++) {
            const mt_real *restrict d = dout + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) acc[j] += d[j];
        }
        for (int j = 0; j < w; j++) db[j0 + j] += acc[j];
    }
}

/* din[B,K] += dout @ W^T; dW[K,N] += in^T @ dout; db[N] += sum_rows(dout). Any of din, dW,
 * db may be NULL. */
mtrec_status mt_dense_backward(mt_mm *m, mt_real *din, mt_real *dW, mt_real *db,
                               const mt_real *dout, const mt_real *in, const mt_real *W,
                               int B, int K, int N) {
    mtrec_status s;
    if (din && (s = mt_mm_gemm(m, 0, 1, B, K, N, dout, W, 1, din)) != MTREC_OK) return s;
    if (dW && (s = mt_mm_gemm(m, 1, 0, K, N, B, in, dout, 1, dW)) != MTREC_OK) return s;
    if (db) colsum_acc(db, dout, B, N);
    return MTREC_OK;
}

/* ---- batch norm ------------------------------------------------------------------------- */

/* Training forward (see nn.h). Two-pass statistics per column in double; gamma/beta NULL
 * mean 1/0. mean[N], rstd[N] are written; moving stats updated when non-NULL. */
void mt_bn_forward_train(mt_real *out, mt_real *mean, mt_real *rstd, const mt_real *in,
                         const mt_real *gamma, const mt_real *beta, mt_real *moving_mean,
                         mt_real *moving_var, int B, int N, mt_real momentum, mt_real eps) {
    if (B <= 0 || N <= 0) return;
    int nblk = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * CB, w = MT_MIN(CB, N - j0);
        double mu[CB], var[CB];
        mt_real sc[CB], sh[CB];
        for (int j = 0; j < w; j++) mu[j] = var[j] = 0;
        for (int r = 0; r < B; r++) {
            const mt_real *restrict x = in + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) mu[j] += x[j];
        }
        for (int j = 0; j < w; j++) mu[j] /= B;
        for (int r = 0; r < B; r++) {
            const mt_real *restrict x = in + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) {
                double d = x[j] - mu[j];
                var[j] += d * d;
            }
        }
        for (int j = 0; j < w; j++) {
            int c = j0 + j;
            var[j] /= B; /* biased batch variance, as TF's non-fused batch_normalization */
            double rs = 1.0 / sqrt(var[j] + (double)eps);
            mean[c] = (mt_real)mu[j];
            rstd[c] = (mt_real)rs;
            double g = gamma ? gamma[c] : 1.0;
            sc[j] = (mt_real)(g * rs);
            sh[j] = (mt_real)((beta ? beta[c] : 0.0) - mu[j] * g * rs);
            if (moving_mean)
                moving_mean[c] = momentum * moving_mean[c] + (1 - momentum) * (mt_real)mu[j];
            if (moving_var)
                moving_var[c] = momentum * moving_var[c] + (1 - momentum) * (mt_real)var[j];
        }
        for (int r = 0; r < B; r++) {
            const mt_real *x = in + (size_t)r * N + j0;
            mt_real *o = out + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) o[j] = x[j] * sc[j] + sh[j];
        }
    }
}

/* Inference: out = gamma * (in - moving_mean) / sqrt(moving_var + eps) + beta. */
void mt_bn_forward_infer(mt_real *out, const mt_real *in, const mt_real *gamma,
                         const mt_real *beta, const mt_real *moving_mean,
                         const mt_real *moving_var, int B, int N, mt_real eps) {
    if (B <= 0 || N <= 0) return;
    int nblk = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * CB, w = MT_MIN(CB, N - j0);
        mt_real sc[CB], sh[CB];
        for (int j = 0; j < w; j++) {
            int c = j0 + j;
            double rs = 1.0 / sqrt((double)moving_var[c] + (double)eps);
            double g = gamma ? gamma[c] : 1.0;
            sc[j] = (mt_real)(g * rs);
            sh[j] = (mt_real)((beta ? beta[c] : 0.0) - (double)moving_mean[c] * g * rs);
        }
        for (int r = 0; r < B; r++) {
            const mt_real *x = in + (size_t)r * N + j0;
            mt_real *o = out + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) o[j] = x[j] * sc[j] + sh[j];
        }
    }
}

/* With xhat = (x - mean) * rstd, s1 = sum_b dout, s2 = sum_b dout * xhat (per column):
 * dbeta += s1; dgamma += s2; din += gamma * rstd * (dout - s1/B - xhat * s2/B). */
void mt_bn_backward(mt_real *din, mt_real *dgamma, mt_real *dbeta, const mt_real *dout,
                    const mt_real *in, const mt_real *mean, const mt_real *rstd,
                    const mt_real *gamma, int B, int N) {
    if (B <= 0 || N <= 0) return;
    int nblk = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * CB, w = MT_MIN(CB, N - j0);
        mt_real s1[CB], s2[CB], mu[CB], rs[CB], k[CB];
        for (int j = 0; j < w; j++) {
            s1[j] = s2[j] = 0;
            mu[j] = mean[j0 + j];
            rs[j] = rstd[j0 + j];
        }
        for (int r = 0; r < B; r++) {
            const mt_real *restrict x = in + (size_t)r * N + j0;
            const mt_real *restrict d = dout + (size_t)r * N + j0;
            for (int j = 0; j < w; j++) {
                s1[j] += d[j];
                s2[j] += d[j] * (x[j] - mu[j]) * rs[j];
            }
        }
        for (int j = 0; j < w; j++) {
            if (dbeta) dbeta[j0 + j] += s1[j];
            if (dgamma) dgamma[j0 + j] += s2[j];
            k[j] = (gamma ? gamma[j0 + j] : 1) * rs[j];
            s1[j] /= B;
            s2[j] /= B;
        }
        if (!din) continue;
        for (int r = 0; r < B; r++) {
            const mt_real *restrict x = in + (size_t)r * N + j0;
            const mt_real *restrict d = dout + (size_t)r * N + j0;
            mt_real *restrict g = din + (size_t)r * N + j0;
            for (int j = 0; j < w; j++)
                g[j] += k[j] * (d[j] - s1[j] - (x[j] - mu[j]) * rs[j] * s2[j]);
        }
    }
}

/* ---- activations ------------------------------------------------------------------------ */

#define LEAKY_ALPHA ((mt_real)0.2) /* tf.nn.leaky_relu default */
#define SELU_ALPHA ((mt_real)1.6732632423543772848170429916717)
#define SELU_SCALE ((mt_real)1.0507009873554804934193349852946)
#define INV_SQRT2 ((mt_real)0.70710678118654752440)
#define INV_SQRT2PI ((mt_real)0.39894228040143267794)

/* Logistic function without overflow for large |x|. */
static inline mt_real sigm(mt_real x) {
    if (x >= 0) return 1 / (1 + R_EXP(-x));
    mt_real e = R_EXP(x);
    return e / (1 + e);
}

/* out[n] = f(in[n]); out may equal in. */
void mt_act_forward(mt_activation a, mt_real *out, const mt_real *in, int64_t n) {
    switch (a) {
    case MT_ACT_RELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
        break;
    case MT_ACT_LEAKY_RELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : LEAKY_ALPHA * in[i];
        break;
    case MT_ACT_ELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : R_EXP(in[i]) - 1;
        break;
    case MT_ACT_SELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = in[i] > 0 ? SELU_SCALE * in[i] : SELU_SCALE * SELU_ALPHA * (R_EXP(in[i]) - 1);
        break;
    case MT_ACT_TANH:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = R_TANH(in[i]);
        break;
    case MT_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = sigm(in[i]);
        break;
    case MT_ACT_SWISH:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] * sigm(in[i]);
        break;
    case MT_ACT_GELU: /* tf.nn.gelu(approximate=False): x * Phi(x) with the exact erf */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = (mt_real)0.5 * in[i] * (1 + R_ERF(in[i] * INV_SQRT2));
        break;
    case MT_ACT_LINEAR:
        if (out != in) memmove(out, in, (size_t)n * sizeof *out);
        break;
    }
}

/* din[n] += dout[n] * f'(in[n]); out = f(in) is used where it is cheaper. */
void mt_act_backward(mt_activation a, mt_real *din, const mt_real *dout, const mt_real *in,
                     const mt_real *out, int64_t n) {
    if (!din) return;
    mt_real *restrict g = din;
    switch (a) {
    case MT_ACT_RELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : 0;
        break;
    case MT_ACT_LEAKY_RELU:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : LEAKY_ALPHA * dout[i];
        break;
    case MT_ACT_ELU: /* f' = 1 (x > 0) or exp(x) = out + 1 */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : dout[i] * (out[i] + 1);
        break;
    case MT_ACT_SELU: /* f' = scale (x > 0) or scale*alpha*exp(x) = out + scale*alpha */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            g[i] += in[i] > 0 ? SELU_SCALE * dout[i]
                              : dout[i] * (out[i] + SELU_SCALE * SELU_ALPHA);
        break;
    case MT_ACT_TANH:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i] * (1 - out[i] * out[i]);
        break;
    case MT_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i] * out[i] * (1 - out[i]);
        break;
    case MT_ACT_SWISH: /* f' = s + x s (1 - s), s = sigmoid(x) */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            mt_real s = sigm(in[i]);
            g[i] += dout[i] * s * (1 + in[i] * (1 - s));
        }
        break;
    case MT_ACT_GELU: /* f' = Phi(x) + x phi(x) */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            mt_real x = in[i];
            mt_real cdf = (mt_real)0.5 * (1 + R_ERF(x * INV_SQRT2));
            mt_real pdf = INV_SQRT2PI * R_EXP((mt_real)-0.5 * x * x);
            g[i] += dout[i] * (cdf + x * pdf);
        }
        break;
    case MT_ACT_LINEAR:
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i];
        break;
    }
}

/* ---- dropout ---------------------------------------------------------------------------- */

/* Inverted dropout as tf.nn.dropout: keep where uniform >= ratio, scale kept values by
 * 1/(1-ratio). The mask is drawn sequentially from rng (deterministic for a seed). ratio <= 0
 * or rng == NULL: mask all 1; ratio >= 1: mask all 0. out may equal in. */
void mt_dropout_forward(mt_real *out, mt_real *mask, const mt_real *in, int64_t n,
                        mt_real ratio, mt_rng *rng) {
    if (ratio <= 0 || !rng) {
        for (int64_t i = 0; i < n; i++) mask[i] = 1;
        if (out != in) memmove(out, in, (size_t)n * sizeof *out);
        return;
    }
    mt_real scale = ratio >= 1 ? 0 : (mt_real)(1.0 / (1.0 - (double)ratio));
    for (int64_t i = 0; i < n; i++) mask[i] = mt_rng_uniform(rng) >= (double)ratio ? scale : 0;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] * mask[i];
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
            o[j] = R_EXP(x[j] - mx);
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

/* dst[b, dst_off + j] = src[b, src_off + j], j < width */
void mt_copy_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                  int src_stride, int src_off, int B, int width) {
    if (width <= 0) return;
    for (int r = 0; r < B; r++)
        memcpy(dst + (size_t)r * dst_stride + dst_off, src + (size_t)r * src_stride + src_off,
               (size_t)width * sizeof *dst);
}

/* dst[b, dst_off + j] += src[b, src_off + j], j < width */
void mt_add_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                 int src_stride, int src_off, int B, int width) {
    for (int r = 0; r < B; r++) {
        mt_real *restrict d = dst + (size_t)r * dst_stride + dst_off;
        const mt_real *restrict s = src + (size_t)r * src_stride + src_off;
        for (int j = 0; j < width; j++) d[j] += s[j];
    }
}
