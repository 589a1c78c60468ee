/* nn.h: the layers of the model as forward/backward pairs over row-major mt_real buffers,
 * and the matrix backend behind every dense product (oneDNN matmul in the float build,
 * a plain reference loop in the MT_DOUBLE build used by gradient tests).
 *
 * Conventions (llm.c style):
 *  - B = rows in the batch. Shapes are written above each function.
 *  - Dense kernels are [in, out] (TensorFlow's layout); biases [out].
 *  - Every backward ACCUMULATES (+=) into parameter gradients and into input gradients;
 *    the caller zeroes gradient buffers once per step. Input-gradient pointers may be NULL
 *    (not needed, e.g. for the first layer's input). Exceptions, marked WRITTEN below: the
 *    fused training kernels (mt_bn_act_backward, mt_act_bias_backward) and
 *    mt_dense_backward_ex with din_acc == 0 write their input gradient, so a buffer with a
 *    single producer needs no zeroing.
 *  - No allocation inside forward/backward; scratch is passed in.
 * Implemented in nn/matmul.c, nn/layers.c, nn/bn_fused.c, nn/rowops.c, nn/embedding.c. */
#ifndef MT_NN_H
#define MT_NN_H

#include <stdint.h>

#include "config/pipeline.h"
#include "util/common.h"
#include "util/err.h"
#include "util/rng.h"

/* ---- matrix backend ------------------------------------------------------------------- */
/* 1 when idle OpenMP threads sleep (OMP_WAIT_POLICY=passive): each parallel region then pays
 * a wake-up of tens of microseconds, so products and loops keep small work on the calling
 * thread (larger thresholds). */
int mt_nn_threads_sleep(void);
/* Elements below which an elementwise loop stays on the calling thread (larger when idle
 * threads sleep); for callers that parallelise over several small nn calls at once. */
int64_t mt_nn_par_min(void);

typedef struct mt_mm mt_mm;

/* threads: cores to use for products (and the OpenMP pool used by elementwise loops).
 * bf16: run products in bfloat16 with fp32 accumulation where the CPU has AMX/AVX512-BF16
 * (ignored, with fp32 kept, when it has not; see mt_mm_uses_bf16). */
mtrec_status mt_mm_create(int threads, int bf16, mt_mm **out, mt_err *e);
void mt_mm_free(mt_mm *m);
int mt_mm_uses_bf16(const mt_mm *m);
const char *mt_mm_backend_name(const mt_mm *m);  /* e.g. "oneDNN 2.6 fp32 (brg:avx512_core)" */
/* Detail of the last backend failure (the oneDNN status), "" if none. */
const char *mt_mm_last_error(const mt_mm *m);

/* C[M,N] = op(A)[M,K] * op(B)[K,N] + beta * C. Row-major. ta: A is stored [K,M];
 * tb: B is stored [N,K]. beta is 0 or 1. Primitives are created once per shape and cached. */
mtrec_status mt_mm_gemm(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                        const mt_real *B, mt_real beta, mt_real *C);

/* Stable operands. An operand flagged stable (MT_MM_STABLE_A / _B in `stable`) promises
 * that its contents stay unchanged until the next mt_mm_new_step (the weights and the
 * activations within one training step, or one inference batch). In bf16 mode its bf16 copy
 * is then made once per step, keyed by its address, and reused by every product that reads
 * it (forward, input gradient, weight gradient); in fp32 the flag changes nothing. */
#define MT_MM_STABLE_A 1
#define MT_MM_STABLE_B 2
/* B never changes while this mt_mm lives (weights frozen for inference: a loaded export).
 * Its bf16 copy is made on first use and kept across steps (mt_mm_new_step does not make
 * it stale). Use only with an mt_mm that serves one frozen model. */
#define MT_MM_CONST_B 4
/* The bf16 copy of stable operand src[n] (dense), for its producer to write directly: from
 * this call to the next mt_mm_new_step, products of this mt_mm that read src as a stable
 * operand read this buffer instead of converting src, so the caller must fill it (bf16,
 * round to nearest even: mt_bf16_from_f32) before the first such product, and src itself
 * is then never read by them. NULL when the mt_mm does not run bf16 (or out of memory):
 * then write src as usual. */
uint16_t *mt_mm_bf16_slot(mt_mm *m, const mt_real *src, size_t n);
/* Another mt_mm's bf16 copy of src[n] (e.g. from its mt_mm_bf16_slot, already written) serves
 * as this mt_mm's copy until the next mt_mm_new_step: products here then read `copy`, which
 * must stay valid and unchanged that long. 1 when taken; 0 when this mt_mm does not run bf16
 * (or out of memory): it then converts src itself, which must hold the f32 values. */
int mt_mm_bf16_alias(mt_mm *m, const mt_real *src, size_t n, const uint16_t *copy);
/* This step's bf16 copy of stable operand src[n] held by m (converted by one of its products,
 * written through mt_mm_bf16_slot or lent by mt_mm_bf16_alias), or NULL: for lending it to
 * another mt_mm (mt_mm_bf16_alias). NULL also when m does not run bf16. */
const uint16_t *mt_mm_bf16_copy(const mt_mm *m, const mt_real *src, size_t n);
/* Start a new step: every stable operand's bf16 copy is stale from here on. */
void mt_mm_new_step(mt_mm *m);
/* gemm_wgrad_avx512.c (float build): C (+)= X^T dZ, X [K, M], dZ [K, N] row-major and
 * contiguous, C [M, N] row-major with leading dimension ldc >= N; beta 0 or 1; pack holds
 * mt_mm_wgrad_pack_floats(N) floats, 64-byte aligned. Only where mt_mm_wgrad_kernel(-1) says
 * the CPU has AVX-512F (or mt_mm_wgrad_direct of a backend). */
size_t mt_mm_wgrad_pack_floats(int N);
void mt_mm_wgrad_avx512(int M, int N, int K, const float *X, const float *dZ, int beta,
                        float *C, int ldc, float *pack);
/* Whether mt_mm objects created from now on send fp32 products with a transposed A and a
 * plain B (C (+)= A^T B: the weight gradients) to mt_mm_wgrad_avx512: -1 asks (the first
 * call decides: yes where the CPU has AVX-512, unless MTREC_WGRAD_AVX512=0), 0/1 sets it
 * (tests; 1 only takes effect where the CPU has it). Always 0 in the double build. */
int mt_mm_wgrad_kernel(int set);
/* 1 when m's fp32 products C (+)= A^T B go to mt_mm_wgrad_avx512 (so a caller may run one
 * itself, e.g. as a task on another thread, with the same result). */
int mt_mm_wgrad_direct(const mt_mm *m);
/* gemm_fwd_avx512.c (float build): C = f(A op(B)) (+ C), A [M, K] row-major and
 * contiguous, op(B) = B [K, N] (tb 0) or B^T with B [N, K] (tb 1), C [M, N] row-major with
 * leading dimension ldc >= N, f(v) = act(scale * (v + bias) + shift) per column as in
 * mt_mm_gemm_epilogue (bias, scale, shift [N] or NULL; act 0: none, 1: where !(v > 0),
 * v * slope); beta 0 or 1 adds C after f; pack holds mt_mm_fwd_pack_floats(K, N) floats,
 * 64-byte aligned; nthr > 1 splits the rows over that many OpenMP threads (the same result).
 * Only where mt_mm_fwd_kernel(-1) says the CPU has AVX-512F. */
size_t mt_mm_fwd_pack_floats(int K, int N);
void mt_mm_fwd_avx512(int tb, int M, int N, int K, const float *A, const float *B,
                      const float *bias, const float *scale, const float *shift, int act,
                      float slope, int beta, float *C, int ldc, float *pack, int nthr);
/* Whether mt_mm objects created from now on send fp32 products with a plain A (forward and
 * input gradients, with any mt_mm_gemm_epilogue epilogue) to
 * mt_mm_fwd_avx512: -1 asks (the first call decides: yes where the CPU has AVX-512, unless
 * MTREC_FWD_AVX512=0), 0/1 sets it (tests). Always 0 in the double build. */
int mt_mm_fwd_kernel(int set);
/* mt_mm_gemm with stability flags. */
mtrec_status mt_mm_gemm_ex(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int stable);
/* mt_mm_gemm_ex into a block of a wider matrix: row i of C starts at C + i * ldc (ldc >= N);
 * e.g. beta 1 accumulates a product into some columns of a gradient in place. */
mtrec_status mt_mm_gemm_ld(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int ldc, int stable);

/* Activations the backend can apply inside a product's epilogue (relu, leaky_relu, linear). */
int mt_mm_act_fusable(mt_activation a);
/* C[M,N] = act(scale[N] * (A[M,K] @ B[K,N] + bias[N]) + shift[N]) in one backend call (the
 * bias is the product's bias argument, scale/shift per-column post-ops, act an eltwise
 * post-op). bias, scale, shift may each be NULL (that part is skipped); act must be one
 * mt_mm_act_fusable accepts. Row-major, no transposes, C is written (beta 0). stable: as
 * for mt_mm_gemm_ex. */
mtrec_status mt_mm_gemm_epilogue(mt_mm *m, int M, int N, int K, const mt_real *A,
                                 const mt_real *B, const mt_real *bias, const mt_real *scale,
                                 const mt_real *shift, mt_activation act, mt_real *C,
                                 int stable);

/* ---- dense ---------------------------------------------------------------------------- */
/* out[B,N] = in[B,K] @ W[K,N] + b[N] */
mtrec_status mt_dense_forward(mt_mm *m, mt_real *out, const mt_real *in, const mt_real *W,
                              const mt_real *b, int B, int K, int N);
/* din[B,K] += dout @ W^T; dW[K,N] += in^T @ dout; db[N] += sum_rows(dout) */
mtrec_status mt_dense_backward(mt_mm *m, mt_real *din, mt_real *dW, mt_real *db,
                               const mt_real *dout, const mt_real *in, const mt_real *W,
                               int B, int K, int N);

/* As mt_dense_backward, but din is WRITTEN (=) when din_acc == 0 (no zeroing needed by the
 * caller); dW and db still accumulate; db may be NULL (e.g. already summed by a fused
 * backward such as mt_bn_act_backward). stable != 0: dout, in and W are stable operands
 * (see mt_mm_gemm_ex). */
mtrec_status mt_dense_backward_ex(mt_mm *m, mt_real *din, int din_acc, mt_real *dW,
                                  mt_real *db, const mt_real *dout, const mt_real *in,
                                  const mt_real *W, int B, int K, int N, int stable);
/* The same for one output column (N = 1), as plain loops: out[B] = in[B,K] w[K] + b[0];
 * din[B,K] += dout w^T, dw[K] += in^T dout, db[0] += sum(dout) (any of the three may be NULL). */
void mt_dense1_forward(mt_real *out, const mt_real *in, const mt_real *w, const mt_real *b, int B,
                       int K);
void mt_dense1_backward(mt_real *din, mt_real *dw, mt_real *db, const mt_real *dout,
                        const mt_real *in, const mt_real *w, int B, int K);
/* out[B,N] = act(scale * (in @ W + b) + shift): the inference layer, with batch norm on moving
 * statistics folded into scale/shift (per column; NULL when there is no BN). One backend call
 * when mt_mm_act_fusable(act), else the product plus one activation pass. stable != 0: in
 * and W are stable operands (see mt_mm_gemm_ex); MT_MM_CONST_B in stable also marks W as
 * frozen for the mt_mm's lifetime. */
mtrec_status mt_dense_affine_act_forward(mt_mm *m, mt_real *out, const mt_real *in,
                                         const mt_real *W, const mt_real *b,
                                         const mt_real *scale, const mt_real *shift, int B,
                                         int K, int N, mt_activation act, int stable);

/* ---- batch norm (TF semantics: biased batch variance, moving = m*moving + (1-m)*batch) -- */
/* Training: out[B,N] = gamma * (in - mean) * rstd + beta with batch stats; saves mean[N],
 * rstd[N] for backward; updates moving_mean/moving_var[N] (when non-NULL) with momentum. */
void mt_bn_forward_train(mt_real *out, mt_real *mean, mt_real *rstd, const mt_real *in,
                         const mt_real *gamma, const mt_real *beta, mt_real *moving_mean,
                         mt_real *moving_var, int B, int N, mt_real momentum, mt_real eps);
/* Inference: uses the moving statistics. */
void mt_bn_forward_infer(mt_real *out, const mt_real *in, const mt_real *gamma,
                         const mt_real *beta, const mt_real *moving_mean,
                         const mt_real *moving_var, int B, int N, mt_real eps);
/* Inference BN as a per-column affine map: scale[N] = gamma * rsqrt(moving_var + eps),
 * shift[N] = beta - moving_mean * scale (computed in double), for mt_dense_affine_act_forward.
 * gamma/beta NULL mean 1/0. */
void mt_bn_fold_infer(mt_real *scale, mt_real *shift, const mt_real *gamma, const mt_real *beta,
                      const mt_real *moving_mean, const mt_real *moving_var, int N, mt_real eps);
/* din[B,N] +=, dgamma[N] +=, dbeta[N] += */
void mt_bn_backward(mt_real *din, mt_real *dgamma, mt_real *dbeta, const mt_real *dout,
                    const mt_real *in, const mt_real *mean, const mt_real *rstd,
                    const mt_real *gamma, int B, int N);

/* Fused training forward of BN and activation: out[B,N] = act(gamma * (in - mean) * rstd +
 * beta) with batch statistics (same semantics and outputs as mt_bn_forward_train followed by
 * mt_act_forward, but the BN output is not stored: mt_bn_act_backward recomputes it). */
void mt_bn_act_forward_train(mt_real *out, mt_real *mean, mt_real *rstd, const mt_real *in,
                             const mt_real *gamma, const mt_real *beta, mt_real *moving_mean,
                             mt_real *moving_var, int B, int N, mt_real momentum, mt_real eps,
                             mt_activation act);
/* Fused backward of [dropout] -> activation -> BN -> bias: with g = dout * mask * act'(pre)
 * (mask may be NULL; out = act(pre) as written by mt_bn_act_forward_train, pre recomputed from
 * in), din[B,N] is WRITTEN with the BN input gradient; dgamma, dbeta and dbias [N] accumulate
 * (+=; dbias = column sums of din, the dense bias gradient; any of the three may be NULL).
 * din may be dout itself (in place: each element is read before it is written); it must not
 * alias the other inputs. */
void mt_bn_act_backward(mt_real *din, mt_real *dgamma, mt_real *dbeta, mt_real *dbias,
                        const mt_real *dout, const mt_real *mask, const mt_real *out,
                        const mt_real *in, const mt_real *mean, const mt_real *rstd,
                        const mt_real *gamma, const mt_real *beta, int B, int N,
                        mt_activation act);
/* Fused backward of [dropout] -> activation -> bias without BN: din[B,N] is WRITTEN with
 * dout * mask * act'(in) (mask may be NULL; out = act(in); `in` is read only by activations
 * whose derivative needs it, see mt_act_grad_needs_input), dbias[N] += column sums of din.
 * din may be dout itself (in place). */
void mt_act_bias_backward(mt_real *din, mt_real *dbias, const mt_real *dout,
                          const mt_real *mask, const mt_real *in, const mt_real *out, int B,
                          int N, mt_activation act);
/* 1 when the activation's derivative cannot be computed from its output alone (swish, gelu). */
int mt_act_grad_needs_input(mt_activation a);
/* 1 when mt_bn_act_backward reads `out` (the derivative comes from the output: elu, selu,
 * tanh, sigmoid); else `out` is not read and may hold anything. */
int mt_act_grad_needs_output(mt_activation a);

/* mt_bn_act_forward_train / mt_bn_act_backward writing their result in bf16 (round to
 * nearest even) to out16 / din16 [B,N] instead of to out / din, when out16 / din16 is
 * non-NULL: for a result read only by products, as their bf16 operand (mt_mm_bf16_slot).
 * out16's rows are ld16 elements apart (0: N), e.g. a column block of a wider matrix.
 * The backward still uses din as scratch (its first pass); the f32 result is not written.
 * Same values as the f32 calls followed by the backend's conversion. Float build only (the
 * double build ignores out16 / din16 and writes f32). */
void mt_bn_act_forward_train_to(mt_real *out, uint16_t *out16, int ld16, mt_real *mean,
                                mt_real *rstd, const mt_real *in, const mt_real *gamma,
                                const mt_real *beta, mt_real *moving_mean, mt_real *moving_var,
                                int B, int N, mt_real momentum, mt_real eps, mt_activation act);
void mt_bn_act_backward_to(mt_real *din, uint16_t *din16, mt_real *dgamma, mt_real *dbeta,
                           mt_real *dbias, const mt_real *dout, const mt_real *mask,
                           const mt_real *out, const mt_real *in, const mt_real *mean,
                           const mt_real *rstd, const mt_real *gamma, const mt_real *beta,
                           int B, int N, mt_activation act);

/* Which copy of the fused BN kernels above (and of mt_act_bias_backward) runs: 1 the AVX-512
 * one (-march=x86-64-v4), 0 the plain one (the build's -march). set < 0: ask (decided on
 * first use: AVX-512 where the CPU has it, unless the environment has MTREC_BN_AVX512=0);
 * set 0 / 1: choose (1 takes only where the CPU has AVX-512; for tests and benchmarks, not
 * while kernels run). Returns the copy in use. Both copies compute the same bits. */
int mt_bn_kernels_avx512(int set);

/* ---- activations ---------------------------------------------------------------------- */
/* out[n] = f(in[n]) (in place allowed) */
void mt_act_forward(mt_activation a, mt_real *out, const mt_real *in, int64_t n);
/* din[n] += dout[n] * f'(in[n]); `out` is f(in) (used where cheaper). */
void mt_act_backward(mt_activation a, mt_real *din, const mt_real *dout, const mt_real *in,
                     const mt_real *out, int64_t n);

/* ---- dropout (inverted: kept values scaled by 1/(1-ratio)) ----------------------------- */
/* mask[n] is written as 0 or 1/(1-ratio); out = in * mask. ratio 0 -> copy, mask all 1.
 * Draws one value from rng; the mask is a function of it alone (not of the thread count). */
void mt_dropout_forward(mt_real *out, mt_real *mask, const mt_real *in, int64_t n,
                        mt_real ratio, mt_rng *rng);
/* din += dout * mask */
void mt_dropout_backward(mt_real *din, const mt_real *dout, const mt_real *mask, int64_t n);

/* ---- softmax over rows (MMoE gates) --------------------------------------------------- */
/* out[B,N] = softmax(in[B,N]) row-wise (in place allowed) */
void mt_softmax_forward(mt_real *out, const mt_real *in, int B, int N);
/* din[B,N] += out * (dout - sum(dout*out)) */
void mt_softmax_backward(mt_real *din, const mt_real *dout, const mt_real *out, int B, int N);

/* ---- MMoE mixing ---------------------------------------------------------------------- */
/* out[B,D] = sum_e gate[B,E][b,e] * experts[e][B,D]  (experts: E pointers to [B,D]) */
void mt_mix_forward(mt_real *out, const mt_real *gate, const mt_real *const *experts, int B,
                    int E, int D);
/* dgate[B,E] += <dout[b], expert_e[b]>; dexperts[e][B,D] += gate[b,e] * dout[b] */
void mt_mix_backward(mt_real *dgate, mt_real *const *dexperts, const mt_real *dout,
                     const mt_real *gate, const mt_real *const *experts, int B, int E, int D);

/* ---- column copy (concat / split) ----------------------------------------------------- */
/* x[0..n) = 0 (on every thread when n is large). */
void mt_zero(mt_real *x, int64_t n);
/* dst[b, dst_off + j] = src[b, src_off + j] for j < width (strides in elements) */
void mt_copy_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                  int src_stride, int src_off, int B, int width);
/* mt_copy_cols into a bf16 matrix (round to nearest even: a product's bf16 operand written
 * through mt_mm_bf16_slot, the same bits as the backend converting the f32 copy) */
void mt_copy_cols_bf16(uint16_t *dst16, int dst_stride, int dst_off, const mt_real *src,
                       int src_stride, int src_off, int B, int width);
/* dst[b, dst_off + j] += src[b, src_off + j] */
void mt_add_cols(mt_real *dst, int dst_stride, int dst_off, const mt_real *src,
                 int src_stride, int src_off, int B, int width);

/* ---- embedding bag -------------------------------------------------------------------- */
/* out[b, out_off .. out_off+dim) = combine_{k in offsets[b]..offsets[b+1]} w_k * table[ids_k]
 * (w_k = 1 when weights is NULL; mean divides by the sum of weights, or the count; an
 * empty bag gives zeros). out has row stride out_stride. table is [rows, dim]. */
void mt_embbag_forward(mt_real *out, int out_stride, int out_off, const mt_real *table, int dim,
                       const int32_t *offsets, const int64_t *ids, const mt_real *weights,
                       int B, mt_combiner combiner);

/* Sparse gradient of one table for one batch: the distinct rows touched and their
 * gradient rows. Capacity grows only when a batch touches more rows than ever before. */
typedef struct mt_sparse_grad {
    int dim;
    int n;                 /* distinct rows in use */
    int cap;
    int64_t *rows;         /* [cap] table row of each slot, in first-touch order */
    mt_real *grad;         /* [cap, dim] */
    int64_t *hkeys;        /* open-addressing index row -> slot */
    int32_t *hvals;
    int hcap;              /* power of two, >= 2*cap */
} mt_sparse_grad;

mtrec_status mt_sparse_grad_init(mt_sparse_grad *g, int dim, int initial_cap, mt_err *e);
void mt_sparse_grad_free(mt_sparse_grad *g);
/* Forget all rows (O(n), not O(cap)). */
void mt_sparse_grad_reset(mt_sparse_grad *g);
/* Slot for row (inserted with a zero gradient row if new); -1 only on allocation failure. */
int mt_sparse_grad_slot(mt_sparse_grad *g, int64_t row);

/* g[row] += d combine / d table[row] * dout[b, out_off..]  for every id in the batch */
mtrec_status mt_embbag_backward(mt_sparse_grad *g, const mt_real *dout, int out_stride,
                                int out_off, int dim, const int32_t *offsets,
                                const int64_t *ids, const mt_real *weights, int B,
                                mt_combiner combiner);

#endif
