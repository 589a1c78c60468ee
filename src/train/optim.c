/* optim.c: optimizer update rules and learning-rate schedules (train/optim.h), following the
 * TensorFlow 1.x kernels EasyRec builds (builders/optimizer_builder.py):
 *   Adam      (tf.train.AdamOptimizer)      m += (g-m)(1-b1); v += (g^2-v)(1-b2);
 *                                           p -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)
 *   Adagrad   (tf.train.AdagradOptimizer)   acc += g^2; p -= lr*g/sqrt(acc)
 *   Momentum  (tf.train.MomentumOptimizer)  a = mom*a + g; p -= lr*a
 *                                           (nesterov: p -= lr*(g + mom*a))
 *   SGD       (GradientDescentOptimizer)    p -= lr*g
 * Owns the per-element rules only: buffer layout, gradient zeroing and global-norm clipping
 * decisions belong to the trainer. Sparse row updates are lazy (rows not listed keep their
 * moments), like TF LazyAdam. */
#include "train/optim.h"

#include <math.h>

#include <omp.h>
#if defined(__AVX__) && !defined(MT_DOUBLE)
#include <immintrin.h>
#endif

/* Dense loops go parallel above this many elements (below it threads cost more than they save). */
#define OPTIM_PAR_MIN 32768

#ifdef MT_DOUBLE
#define R_SQRT sqrt
#else
#define R_SQRT sqrtf
#endif

int mt_optim_slots(mt_optimizer_kind k) {
    switch (k) {
    case MT_OPT_ADAM: return 2;
    case MT_OPT_ADAGRAD: return 1;
    case MT_OPT_MOMENTUM: return 1;
    case MT_OPT_SGD: return 0;
    }
    return 0;
}

void mt_optim_init_slots(const mt_optimizer_config *c, mt_real *s0, mt_real *s1, size_t n) {
    mt_real v0 = c->kind == MT_OPT_ADAGRAD ? (mt_real)c->initial_accumulator_value : (mt_real)0;
    int slots = mt_optim_slots(c->kind);
    if (slots >= 1 && s0)
        for (size_t i = 0; i < n; i++) s0[i] = v0;
    if (slots >= 2 && s1)
        for (size_t i = 0; i < n; i++) s1[i] = 0;
}

/* EasyRec learning_schedules.exponential_decay_with_burnin: during the first burnin_steps
 * steps the rate is burnin_learning_rate + step*(lr0 - burnin)/burnin_steps (or lr0 itself
 * when burnin_learning_rate is 0); afterwards tf.train.exponential_decay evaluated at
 * (step - burnin_steps); the result is at least min_learning_rate. The constant schedule
 * has no burn-in or floor in EasyRec's proto, so none is applied. */
float mt_lr_at(const mt_lr_config *c, int64_t step) {
    if (c->kind == MT_LR_CONSTANT) return c->learning_rate;
    double lr0 = c->initial_learning_rate, lr;
    if (c->burnin_steps > 0 && step < c->burnin_steps) {
        if (c->burnin_learning_rate == 0.0f) {
            lr = lr0;
        } else {
            double slope = (lr0 - (double)c->burnin_learning_rate) / (double)c->burnin_steps;
            lr = (double)c->burnin_learning_rate + slope * (double)step;
        }
    } else {
        int64_t s = step - (c->burnin_steps > 0 ? c->burnin_steps : 0);
        double p = c->decay_steps > 0 ? (double)s / (double)c->decay_steps : 0.0;
        if (c->staircase) p = floor(p);
        lr = lr0 * pow((double)c->decay_factor, p);
    }
    if (lr < (double)c->min_learning_rate) lr = c->min_learning_rate;
    return (float)lr;
}

/* Scalars an update needs, computed once per call. */
typedef struct optim_k {
    mt_optimizer_kind kind;
    mt_real lr, lr_t, b1c, b2c, eps, mom;
    int nesterov;
} optim_k;

static optim_k optim_prepare(const mt_optimizer_config *c, int64_t t, float lr) {
    optim_k k = {0};
    k.kind = c->kind;
    k.lr = (mt_real)lr;
    if (c->kind == MT_OPT_ADAM) {
        double tt = (double)(t < 1 ? 1 : t);
        double b1p = pow((double)c->beta1, tt), b2p = pow((double)c->beta2, tt);
        k.lr_t = (mt_real)((double)lr * sqrt(1.0 - b2p) / (1.0 - b1p));
        k.b1c = (mt_real)(1.0 - (double)c->beta1);
        k.b2c = (mt_real)(1.0 - (double)c->beta2);
        k.eps = (mt_real)c->epsilon;
    }
    k.mom = (mt_real)c->momentum;
    k.nesterov = c->use_nesterov;
    return k;
}

/* Adam over one range, 8 lanes at a time where AVX is compiled in. GCC does not vectorise the
 * scalar loop (sqrtf may set errno, so it stays a call), hence the intrinsics. The lanes do
 * the same IEEE operations in the same order as the scalar loop (sub, mul, add, sqrt, div,
 * each exactly rounded; the build does not contract to FMA under -std=c11), so both give
 * bit-identical results and the split point does not matter. */
static void adam_range(mt_real *restrict p, const mt_real *restrict g, mt_real *restrict s0,
                       mt_real *restrict s1, size_t n, mt_real b1c, mt_real b2c, mt_real lr_t,
                       mt_real eps) {
    size_t i = 0;
#if defined(__AVX__) && !defined(MT_DOUBLE)
    const __m256 vb1 = _mm256_set1_ps(b1c), vb2 = _mm256_set1_ps(b2c);
    const __m256 vlr = _mm256_set1_ps(lr_t), veps = _mm256_set1_ps(eps);
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 m = _mm256_loadu_ps(s0 + i), v = _mm256_loadu_ps(s1 + i);
        m = _mm256_add_ps(m, _mm256_mul_ps(_mm256_sub_ps(gi, m), vb1));
        v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), v), vb2));
        _mm256_storeu_ps(s0 + i, m);
        _mm256_storeu_ps(s1 + i, v);
        __m256 u = _mm256_div_ps(_mm256_mul_ps(vlr, m), _mm256_add_ps(_mm256_sqrt_ps(v), veps));
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), u));
    }
#endif
    for (; i < n; i++) {
        mt_real gi = g[i];
        s0[i] += (gi - s0[i]) * b1c;
        s1[i] += (gi * gi - s1[i]) * b2c;
        p[i] -= lr_t * s0[i] / (R_SQRT(s1[i]) + eps);
    }
}

/* Adagrad over one range: intrinsics for the same reason as adam_range, same operations in
 * the same order as the scalar loop (bit-identical). */
static void adagrad_range(mt_real *restrict p, const mt_real *restrict g, mt_real *restrict s0,
                          size_t n, mt_real lr) {
    size_t i = 0;
#if defined(__AVX__) && !defined(MT_DOUBLE)
    const __m256 vlr = _mm256_set1_ps(lr);
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 a = _mm256_add_ps(_mm256_loadu_ps(s0 + i), _mm256_mul_ps(gi, gi));
        _mm256_storeu_ps(s0 + i, a);
        __m256 u = _mm256_div_ps(_mm256_mul_ps(vlr, gi), _mm256_sqrt_ps(a));
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), u));
    }
#endif
    for (; i < n; i++) {
        mt_real gi = g[i];
        s0[i] += gi * gi;
        p[i] -= lr * gi / R_SQRT(s0[i]);
    }
}

/* Apply the rule to elements [0, n) of p/g/s0/s1 on the calling thread (slots unused by the
 * kind may be NULL). */
static void optim_apply_range(const optim_k *k, mt_real *restrict p, const mt_real *restrict g,
                              mt_real *restrict s0, mt_real *restrict s1, size_t n) {
    switch (k->kind) {
    case MT_OPT_ADAM:
        adam_range(p, g, s0, s1, n, k->b1c, k->b2c, k->lr_t, k->eps);
        break;
    case MT_OPT_ADAGRAD:
        adagrad_range(p, g, s0, n, k->lr);
        break;
    case MT_OPT_MOMENTUM: {
        const mt_real lr = k->lr, mom = k->mom;
        const int nest = k->nesterov;
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            mt_real gi = g[i];
            s0[i] = mom * s0[i] + gi;
            p[i] -= nest ? lr * (gi + mom * s0[i]) : lr * s0[i];
        }
        break;
    }
    case MT_OPT_SGD: {
        const mt_real lr = k->lr;
#pragma omp simd
        for (size_t i = 0; i < n; i++) p[i] -= lr * g[i];
        break;
    }
    }
}

/* Dense update in blocks: each thread updates one contiguous run of blocks (every element
 * gets the same arithmetic whatever the split), calling after(ctx, a, b), when given, on
 * each block right after it. */
void mt_optim_update_blocks(const mt_optimizer_config *c, int64_t t, float lr, mt_real *param,
                            const mt_real *grad, mt_real *s0, mt_real *s1, size_t n,
                            size_t block, void (*after)(void *ctx, size_t a, size_t b),
                            void *ctx) {
    optim_k k = optim_prepare(c, t, lr);
    size_t nb = (n + block - 1) / block;
#pragma omp parallel if (n >= OPTIM_PAR_MIN)
    {
        size_t T = (size_t)omp_get_num_threads(), th = (size_t)omp_get_thread_num();
        size_t per = (nb + T - 1) / T, b0 = th * per, b1 = b0 + per < nb ? b0 + per : nb;
        for (size_t q = b0; q < b1; q++) {
            size_t a = q * block, e = a + block < n ? a + block : n;
            optim_apply_range(&k, param + a, grad + a, s0 ? s0 + a : NULL, s1 ? s1 + a : NULL, e - a);
            if (after) after(ctx, a, e);
        }
    }
}

/* elements per block of a plain dense update */
#define OPTIM_BLOCK 1024

void mt_optim_update(const mt_optimizer_config *c, int64_t t, float lr, mt_real *param,
                     const mt_real *grad, mt_real *s0, mt_real *s1, size_t n) {
    mt_optim_update_blocks(c, t, lr, param, grad, s0, s1, n, OPTIM_BLOCK, NULL, NULL);
}

/* Rows are applied in list order, one after another, so a row listed twice is updated
 * twice (callers normally pass each touched row once, with its summed gradient). The rows
 * are scattered over tables much larger than the caches, so the rows a few places ahead
 * are prefetched (parameters and slots) while the current one is updated. */
#define ROW_PREFETCH 8
void mt_optim_update_rows(const mt_optimizer_config *c, int64_t t, float lr, mt_real *table,
                          mt_real *s0, mt_real *s1, int dim, const int64_t *rows,
                          const mt_real *grads, int n_rows) {
    if (dim <= 0 || n_rows <= 0) return;
    optim_k k = optim_prepare(c, t, lr);
    int slots = mt_optim_slots(c->kind);
    size_t last = (size_t)dim - 1;
    for (int r = 0; r < n_rows; r++) {
        if (r + ROW_PREFETCH < n_rows) {
            size_t po = (size_t)rows[r + ROW_PREFETCH] * (size_t)dim;
            __builtin_prefetch(table + po, 1);
            __builtin_prefetch(table + po + last, 1);
            if (slots >= 1) {
                __builtin_prefetch(s0 + po, 1);
                __builtin_prefetch(s0 + po + last, 1);
            }
            if (slots >= 2) {
                __builtin_prefetch(s1 + po, 1);
                __builtin_prefetch(s1 + po + last, 1);
            }
        }
        size_t off = (size_t)rows[r] * (size_t)dim;
        optim_apply_range(&k, table + off, grads + (size_t)r * (size_t)dim,
                          slots >= 1 ? s0 + off : NULL, slots >= 2 ? s1 + off : NULL,
                          (size_t)dim);
    }
}

/* Rows per work item of mt_optim_update_tables (the items are dealt out dynamically: the
 * tables' row counts differ widely) */
#define ROW_CHUNK 128

void mt_optim_update_tables(const mt_optimizer_config *c, int64_t t, float lr,
                            const mt_rows_update *u, int n) {
    size_t work = 0;
    int chunks = 0;
    for (int i = 0; i < n; i++) {
        work += (size_t)u[i].n_rows * (size_t)(u[i].dim > 0 ? u[i].dim : 0);
        chunks += (u[i].n_rows + ROW_CHUNK - 1) / ROW_CHUNK;
    }
#pragma omp parallel for schedule(dynamic, 1) if (work >= OPTIM_PAR_MIN)
    for (int ch = 0; ch < chunks; ch++) {
        int i = 0, first = ch;  /* chunk ch -> (table i, its chunk `first`) */
        while (first >= (u[i].n_rows + ROW_CHUNK - 1) / ROW_CHUNK) first -= (u[i++].n_rows + ROW_CHUNK - 1) / ROW_CHUNK;
        int r0 = first * ROW_CHUNK, nr = u[i].n_rows - r0 < ROW_CHUNK ? u[i].n_rows - r0 : ROW_CHUNK;
        mt_optim_update_rows(c, t, lr, u[i].table, u[i].s0, u[i].s1, u[i].dim, u[i].rows + r0,
                             u[i].grads + (size_t)r0 * (size_t)u[i].dim, nr);
    }
}

double mt_sumsq(const mt_real *g, size_t n) {
    double s = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : s) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

void mt_scale(mt_real *g, size_t n, mt_real s) {
#pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) g[i] *= s;
}
