/* layers.c: dense, batch norm and activations, each as a forward/backward pair over row-major
 * mt_real buffers (see nn.h); their fused training kernels (BN + activation + bias) are in
 * bn_fused.c; dropout, row softmax, MMoE mixing and column copies in rowops.c.
 *
 * Every backward ACCUMULATES (+=) into its gradient outputs (except the fused training-path
 * kernels mt_bn_act_backward / mt_act_bias_backward and mt_dense_backward_ex with
 * din_acc == 0, which WRITE their input gradient, so the caller needs no zeroing pass);
 * input-gradient pointers may be NULL. Nothing here allocates. Large loops run on the OpenMP pool
 * sized by mt_mm_create (the same pool oneDNN uses); every reduction is split by column block
 * so each output is summed by one thread in a fixed order, which keeps results independent of
 * thread count.
 * The matrix products themselves live in matmul.c; embedding bags in embedding.c. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "nn/layers_internal.h"

int64_t mt_nn_par_min(void) { return mt_nn_threads_sleep() ? 131072 : 32768; }

/* ---- dense ------------------------------------------------------------------------------ */

/* out[B,N] = in[B,K] @ W[K,N] + b[N]  (b may be NULL: no bias); the bias is the product's
 * own bias argument, added in its epilogue. */
mtrec_status mt_dense_forward(mt_mm *m, mt_real *out, const mt_real *in, const mt_real *W,
                              const mt_real *b, int B, int K, int N) {
    return mt_mm_gemm_epilogue(m, B, N, K, in, W, b, NULL, NULL, MT_ACT_LINEAR, out, 0);
}

/* out = act(scale * (in @ W + b) + shift); see nn.h. */
mtrec_status mt_dense_affine_act_forward(mt_mm *m, mt_real *out, const mt_real *in,
                                         const mt_real *W, const mt_real *b,
                                         const mt_real *scale, const mt_real *shift, int B,
                                         int K, int N, mt_activation act, int stable) {
    int fuse = mt_mm_act_fusable(act);
    mtrec_status s = mt_mm_gemm_epilogue(m, B, N, K, in, W, b, scale, shift,
                                         fuse ? act : MT_ACT_LINEAR, out,
                                         stable ? MT_MM_STABLE_A | MT_MM_STABLE_B | (stable & MT_MM_CONST_B) : 0);
    if (s == MTREC_OK && !fuse) mt_act_forward(act, out, out, (int64_t)B * N);
    return s;
}

/* db[N] += column sums of dout[B,N] (each column summed by one thread, rows in order) */
static void colsum_acc(mt_real *restrict db, const mt_real *restrict dout, int B, int N) {
    int cb = col_block(N, CB), nblk = (N + cb - 1) / cb;
#pragma omp parallel for schedule(static) if ((int64_t)B * N >= PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        int j0 = blk * cb, w = MT_MIN(cb, N - j0);
        mt_real acc[CB];
        for (int j = 0; j < w; j++) acc[j] = 0;
        for (int r = 0; r < B; r++) {
            const mt_real *restrict d = dout + (size_t)r * N + j0;
#pragma omp simd
            for (int j = 0; j < w; j++) acc[j] += d[j];
        }
        for (int j = 0; j < w; j++) db[j0 + j] += acc[j];
    }
}

/* din[B,K] (+)= dout @ W^T; dW[K,N] += in^T @ dout; db[N] += sum_rows(dout). Any of din, dW,
 * db may be NULL. */
mtrec_status mt_dense_backward_ex(mt_mm *m, mt_real *din, int din_acc, mt_real *dW,
                                  mt_real *db, const mt_real *dout, const mt_real *in,
                                  const mt_real *W, int B, int K, int N, int stable) {
    mtrec_status s;
    int st = stable ? MT_MM_STABLE_A | MT_MM_STABLE_B : 0;
    if (din && (s = mt_mm_gemm_ex(m, 0, 1, B, K, N, dout, W, din_acc ? 1 : 0, din, st)) != MTREC_OK)
        return s;
    if (dW && (s = mt_mm_gemm_ex(m, 1, 0, K, N, B, in, dout, 1, dW, st)) != MTREC_OK) return s;
    if (db) colsum_acc(db, dout, B, N);
    return MTREC_OK;
}

mtrec_status mt_dense_backward(mt_mm *m, mt_real *din, mt_real *dW, mt_real *db,
                               const mt_real *dout, const mt_real *in, const mt_real *W,
                               int B, int K, int N) {
    return mt_dense_backward_ex(m, din, 1, dW, db, dout, in, W, B, K, N, 0);
}

/* One output column (a tower's logit): a dot product per row, in plain loops. Through the
 * matrix backend these were three calls of 1024x32 by 32x1 per tower and step, at 3-7
 * GFLOP/s (call overhead, and in bf16 the operands' conversions), on the relation/output
 * chain that the tower lanes wait for. Sums run in a fixed order (thread-count free). */
void mt_dense1_forward(mt_real *out, const mt_real *in, const mt_real *w, const mt_real *b, int B,
                       int K) {
    mt_real bias = b ? b[0] : 0;
    for (int i = 0; i < B; i++) {
        const mt_real *restrict x = in + (size_t)i * K;
        mt_real s = 0;
#pragma omp simd reduction(+ : s)
        for (int k = 0; k < K; k++) s += x[k] * w[k];
        out[i] = s + bias;
    }
}

void mt_dense1_backward(mt_real *din, mt_real *dw, mt_real *db, const mt_real *dout,
                        const mt_real *in, const mt_real *w, int B, int K) {
    double sb = 0;
    for (int i = 0; i < B; i++) {
        mt_real d = dout[i];
        sb += d;
        const mt_real *restrict x = in + (size_t)i * K;
        if (dw) {
#pragma omp simd
            for (int k = 0; k < K; k++) dw[k] += x[k] * d;
        }
        if (din) {
            mt_real *restrict g = din + (size_t)i * K;
#pragma omp simd
            for (int k = 0; k < K; k++) g[k] += d * w[k];
        }
    }
    if (db) db[0] += (mt_real)sb;
}

/* ---- batch norm ------------------------------------------------------------------------- */

/* Training forward (see nn.h): the fused kernel with the identity activation (statistics and
 * normalisation are shared with mt_bn_act_forward_train). gamma/beta NULL mean 1/0. */
void mt_bn_forward_train(mt_real *out, mt_real *mean, mt_real *rstd, const mt_real *in,
                         const mt_real *gamma, const mt_real *beta, mt_real *moving_mean,
                         mt_real *moving_var, int B, int N, mt_real momentum, mt_real eps) {
    mt_bn_act_forward_train(out, mean, rstd, in, gamma, beta, moving_mean, moving_var, B, N,
                            momentum, eps, MT_ACT_LINEAR);
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

/* scale = gamma / sqrt(moving_var + eps), shift = beta - moving_mean * scale (see nn.h) */
void mt_bn_fold_infer(mt_real *scale, mt_real *shift, const mt_real *gamma, const mt_real *beta,
                      const mt_real *moving_mean, const mt_real *moving_var, int N, mt_real eps) {
    for (int c = 0; c < N; c++) {
        double rs = 1.0 / sqrt((double)moving_var[c] + (double)eps);
        double g = gamma ? gamma[c] : 1.0;
        scale[c] = (mt_real)(g * rs);
        shift[c] = (mt_real)((beta ? beta[c] : 0.0) - (double)moving_mean[c] * g * rs);
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

/* out[n] = f(in[n]); out may equal in. */
void mt_act_forward(mt_activation a, mt_real *out, const mt_real *in, int64_t n) {
    switch (a) {
    case MT_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
        break;
    case MT_ACT_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : LEAKY_ALPHA * in[i];
        break;
    case MT_ACT_ELU:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : mt_rexp(in[i]) - 1;
        break;
    case MT_ACT_SELU:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = in[i] > 0 ? SELU_SCALE * in[i] : SELU_SCALE * SELU_ALPHA * (mt_rexp(in[i]) - 1);
        break;
    case MT_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = mt_rtanh(in[i]);
        break;
    case MT_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = sigm(in[i]);
        break;
    case MT_ACT_SWISH:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = in[i] * sigm(in[i]);
        break;
    case MT_ACT_GELU: /* tf.nn.gelu(approximate=False): x * Phi(x) with the exact erf */
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = (mt_real)0.5 * in[i] * (1 + mt_rerf(in[i] * INV_SQRT2));
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
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : 0;
        break;
    case MT_ACT_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : LEAKY_ALPHA * dout[i];
        break;
    case MT_ACT_ELU: /* f' = 1 (x > 0) or exp(x) = out + 1 */
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += in[i] > 0 ? dout[i] : dout[i] * (out[i] + 1);
        break;
    case MT_ACT_SELU: /* f' = scale (x > 0) or scale*alpha*exp(x) = out + scale*alpha */
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            g[i] += in[i] > 0 ? SELU_SCALE * dout[i]
                              : dout[i] * (out[i] + SELU_SCALE * SELU_ALPHA);
        break;
    case MT_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i] * (1 - out[i] * out[i]);
        break;
    case MT_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i] * out[i] * (1 - out[i]);
        break;
    case MT_ACT_SWISH: /* f' = s + x s (1 - s), s = sigmoid(x) */
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            mt_real s = sigm(in[i]);
            g[i] += dout[i] * s * (1 + in[i] * (1 - s));
        }
        break;
    case MT_ACT_GELU: /* f' = Phi(x) + x phi(x) */
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            mt_real x = in[i];
            mt_real cdf = (mt_real)0.5 * (1 + mt_rerf(x * INV_SQRT2));
            mt_real pdf = INV_SQRT2PI * mt_rexp((mt_real)-0.5 * x * x);
            g[i] += dout[i] * (cdf + x * pdf);
        }
        break;
    case MT_ACT_LINEAR:
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += dout[i];
        break;
    }
}
