/* bottom_split.c: the bottom MLP in training as two column halves on two threads (see
 * mt_model.bottom_split). The towers already run as two lanes of single-threaded work; the
 * bottom's products, split by oneDNN over both threads, scaled worst (bf16 on 2 threads:
 * 1.4-1.5x, a third of the step; bench/README.md). Here every layer's output is kept as two
 * halves of columns, each contiguous, and thread k owns half k of every layer:
 *
 *   forward   z_k = sum_h x_h W_hk + b_k     (x_h: the halves of the layer's input; the
 *             first layer's input X is one block), then BN + activation of its own columns;
 *   backward  dz_k = BN/activation backward of its columns (in place over dh_k),
 *             dW_hk = x_h^T dz_k, and after one barrier the input gradient's half k,
 *             dh_prev_k = sum_j dz_j W_kj^T (the first layer: rows half k of dX).
 *
 * Each half's products run single-threaded on lane backend k (model.lane_mm[k]); the kernel
 * is packed into its (h, k) blocks once per forward. One parallel region per pass, one
 * barrier per layer. On one thread the same blocks run one after the other, so results do
 * not depend on the thread count. Only the training path: inference keeps mlp_forward. */
#include <string.h>

#include <omp.h>

#include "model/dbmtl.h"

#define P(m, off) ((m)->params + (off))
#define G(m, off) ((m)->grads + (off))
#define S(m, off) ((m)->stats + (off))

/* widths of the input halves of bottom layer i (the first layer: all of X in block 0) */
static void in_halves(const mt_model *m, int i, int win[2]) {
    if (i == 0) {
        win[0] = m->bottom.in;
        win[1] = 0;
    } else {
        win[0] = m->bsplit[i - 1].w[0];
        win[1] = m->bsplit[i - 1].w[1];
    }
}

/* input half h of layer i, [B, win[h]] */
static const mt_real *in_half(const mt_model *m, int i, int h, int B) {
    if (i == 0) return m->X;
    const mt_half_layer *q = &m->bsplit[i - 1];
    return q->act + (h ? (size_t)B * q->w[0] : 0);
}

/* block (h, k) of the packed kernel, [win[h], w[k]] */
static size_t block_off(const mt_half_layer *q, const int win[2], int out, int h, int k) {
    return (h ? (size_t)win[0] * out : 0) + (k ? (size_t)win[h] * q->w[0] : 0);
}

/* Half k of bottom layer i: its layer, halves, width w, first column c, and the offset of its
 * [B, w] blocks in the half-major buffers. */
typedef struct half_ctx {
    mt_layer *L;
    mt_half_layer *q;
    int win[2], w, c;
    size_t hoff;
} half_ctx;

static half_ctx half_of(mt_model *m, int i, int k, int B) {
    half_ctx h = {.L = &m->bottom.layers[i], .q = &m->bsplit[i]};
    h.w = h.q->w[k];
    h.c = k ? h.q->w[0] : 0;
    h.hoff = k ? (size_t)B * h.q->w[0] : 0;
    in_halves(m, i, h.win);
    return h;
}

static mtrec_status layer_fwd_half(mt_model *m, int i, int k, int B, mt_mm *mm, mt_err *e) {
    half_ctx hc = half_of(m, i, k, B);
    mt_layer *L = hc.L;
    mt_half_layer *q = hc.q;
    int *win = hc.win, w = hc.w, c = hc.c;
    if (w == 0) return MTREC_OK;
    const int st = MT_MM_STABLE_A | MT_MM_STABLE_B;
    mt_real *z = L->z + hc.hoff, *act = q->act + hc.hoff;
    /* pack this half's columns of the kernel, by input half; on a bf16 backend with the
     * hand-off straight into the blocks' bf16 copies (products are the only readers) */
    for (int h = 0; h < 2; h++) {
        mt_real *blk = q->Wp + block_off(q, win, L->out, h, k);
        const mt_real *src = P(m, L->W) + (size_t)(h ? win[0] : 0) * L->out;
        q->wp16[h][k] = m->bf16_handoff && win[h] > 0 ? mt_mm_bf16_slot(mm, blk, (size_t)win[h] * w) : NULL;
        if (q->wp16[h][k]) mt_copy_cols_bf16(q->wp16[h][k], w, 0, src, L->out, c, win[h], w);
        else mt_copy_cols(blk, w, 0, src, L->out, c, win[h], w);
    }
    mtrec_status s = mt_mm_gemm_epilogue(mm, B, w, win[0], in_half(m, i, 0, B), q->Wp + block_off(q, win, L->out, 0, k),
                                         P(m, L->b) + c, NULL, NULL, MT_ACT_LINEAR, z, st);
    if (s == MTREC_OK && win[1] > 0)
        s = mt_mm_gemm_ex(mm, 0, 0, B, w, win[1], in_half(m, i, 1, B), q->Wp + block_off(q, win, L->out, 1, k), 1, z,
                          st);
    if (s != MTREC_OK)
        return mt_fail(e, s, "bottom layer %d->%d failed in the matrix backend: %s", L->in, L->out,
                       mt_mm_last_error(mm));
    /* bf16 hand-off (mt_model.bf16_handoff) of an inner layer's output: the next layer's
     * products read it (on both lanes: run() lends the copy to the other lane's backend) */
    int last = i == m->bottom.n - 1;
    int handoff = m->bf16_handoff && !last && !mt_act_grad_needs_output(L->act);
    q->act16[k] = handoff && L->use_bn ? mt_mm_bf16_slot(mm, act, (size_t)B * w) : NULL;
    /* the last layer: its half of the bottom output's bf16 copy (row-major, see run()) */
    uint16_t *o16 = q->act16[k], *out16 = last ? m->bsplit_out16 : NULL;
    if (out16) o16 = out16 + c;
    if (L->use_bn)
        mt_bn_act_forward_train_to(act, o16, out16 ? L->out : 0, L->mean + c, L->rstd + c, z,
                                   P(m, L->gamma) + c, P(m, L->beta) + c, S(m, L->mmean) + c,
                                   S(m, L->mvar) + c, B, w, (mt_real)MT_BN_MOMENTUM, (mt_real)MT_BN_EPS,
                                   L->act);
    else
        mt_act_forward(L->act, act, z, (int64_t)B * w);
    if (last && !out16)  /* the towers read the bottom output row-major */
        mt_copy_cols(L->act_out, L->out, c, act, w, 0, B, w);
    return MTREC_OK;
}

/* Phase 1 of layer i's backward for half k: dz_k (in place over dh_k) and the kernel blocks'
 * gradients of its columns. */
static mtrec_status layer_bwd_half(mt_model *m, int i, int k, int B, mt_mm *mm, mt_err *e) {
    half_ctx hc = half_of(m, i, k, B);
    mt_layer *L = hc.L;
    mt_half_layer *q = hc.q;
    int *win = hc.win, w = hc.w, c = hc.c;
    if (w == 0) return MTREC_OK;
    mt_real *dz = q->dh + hc.hoff;
    const mt_real *z = L->z + hc.hoff, *act = q->act + hc.hoff;
    if (i == m->bottom.n - 1)  /* the towers wrote the bottom output's gradient row-major */
        mt_copy_cols(dz, w, 0, L->dh, L->out, c, B, w);
    /* bf16 hand-off of dz_k: read only by the products below and by layer_dx_half */
    q->dz16[k] = m->bf16_handoff && L->use_bn ? mt_mm_bf16_slot(mm, dz, (size_t)B * w) : NULL;
    if (L->use_bn)
        mt_bn_act_backward_to(dz, q->dz16[k], G(m, L->gamma) + c, G(m, L->beta) + c, G(m, L->b) + c, dz,
                              NULL, act, z, L->mean + c, L->rstd + c, P(m, L->gamma) + c, P(m, L->beta) + c,
                              B, w, L->act);
    else
        mt_act_bias_backward(dz, G(m, L->b) + c, dz, NULL, z, act, B, w, L->act);
    for (int h = 0; h < 2; h++) {  /* gradient rows of input half h, columns c.., in place */
        if (win[h] == 0) continue;
        mt_real *gw = G(m, L->W) + (size_t)(h ? win[0] : 0) * L->out + c;
        mtrec_status s = mt_mm_gemm_ld(mm, 1, 0, win[h], w, B, in_half(m, i, h, B), dz, 1, gw, L->out,
                                       MT_MM_STABLE_A | MT_MM_STABLE_B);
        if (s != MTREC_OK)
            return mt_fail(e, s, "backward of a bottom layer failed in the matrix backend: %s", mt_mm_last_error(mm));
    }
    return MTREC_OK;
}

/* Phase 2 (after every dz of layer i exists): half k of the input gradient, i.e. half k of the
 * layer below's dh (its own half-k buffer), or rows half k of dX for the first layer. */
/* Lend half h's handed-off bf16 copy of src[n] (at offset off in it) to backend mm; an error
 * only when mm cannot take it (src's f32 values were never written). */
static mtrec_status lend(mt_mm *mm, const uint16_t *copy, const mt_real *src, size_t off, size_t n,
                         mt_err *e) {
    if (!copy || mt_mm_bf16_alias(mm, src + off, n, copy + off)) return MTREC_OK;
    return mt_fail(e, MTREC_ERR_NOMEM, "out of memory lending a bf16 copy to another lane's backend");
}

static mtrec_status layer_dx_half(mt_model *m, int i, int k, int B, mt_mm *mm, int one_mm, mt_err *e) {
    half_ctx hc = half_of(m, i, k, B);
    mt_layer *L = hc.L;
    mt_half_layer *q = hc.q;
    int *win = hc.win;
    const int st = MT_MM_STABLE_A | MT_MM_STABLE_B;
    mtrec_status s = MTREC_OK;
    int beta = 0;
    int r0 = k ? mt_half_row(B) : 0, nr = k ? B - r0 : mt_half_row(B);  /* first layer: rows of dX */
    for (int j = 0; j < 2 && s == MTREC_OK; j++) {
        int w = q->w[j];
        if (w == 0) continue;
        const mt_real *dz = q->dh + (j ? (size_t)B * q->w[0] : 0);
        /* the block of the kernel this product reads, packed by lane j: its bf16 copy */
        int hb = i == 0 ? 0 : k;
        if (j != k && !one_mm &&
            (s = lend(mm, q->wp16[hb][j], q->Wp + block_off(q, win, L->out, hb, j), 0, (size_t)win[hb] * w, e)) !=
                MTREC_OK)
            return s;
        if (i == 0) {  /* rows [r0, r0 + nr) of dX = sum_j dz_j[rows] W_0j^T */
            if ((s = lend(mm, q->dz16[j], dz, (size_t)r0 * w, (size_t)nr * w, e)) != MTREC_OK) return s;
            s = mt_mm_gemm_ex(mm, 0, 1, nr, win[0], w, dz + (size_t)r0 * w, q->Wp + block_off(q, win, L->out, 0, j),
                              (mt_real)beta, m->dX + (size_t)r0 * win[0], st);
        } else {  /* half k of the layer below's dh = sum_j dz_j W_kj^T */
            if (win[k] == 0) return MTREC_OK;
            if (j != k && !one_mm && (s = lend(mm, q->dz16[j], dz, 0, (size_t)B * w, e)) != MTREC_OK)
                return s;
            mt_half_layer *below = &m->bsplit[i - 1];
            s = mt_mm_gemm_ex(mm, 0, 1, B, win[k], w, dz, q->Wp + block_off(q, win, L->out, k, j), (mt_real)beta,
                              below->dh + (k ? (size_t)B * below->w[0] : 0), st);
        }
        beta = 1;
    }
    if (s != MTREC_OK)
        return mt_fail(e, s, "backward of a bottom layer failed in the matrix backend: %s", mt_mm_last_error(mm));
    /* the embedding regularisation's gradient on these rows of dX, while they are in cache */
    if (i == 0 && m->emb_reg_rows > 0) mt_model_emb_reg_rows(m, r0, nr, m->emb_reg_rows);
    return MTREC_OK;
}

/* The bf16 hand-off of the bottom output (forward, bf16 backends): the last layer's BN writes
 * both halves straight into one row-major bf16 copy, lent to every backend that reads the
 * bottom output (the lanes' for the towers, the shared one), and the f32 output is not
 * written. Only when products are its only readers: BN + an activation whose gradient
 * does not need its output, no MMoE (the gates' weight gradient reads it unflagged), every
 * tower with dnn layers (else a relation layer copies it). NULL: the f32 path. */
static uint16_t *out_handoff(mt_model *m, int B) {
    const mt_layer *L = &m->bottom.layers[m->bottom.n - 1];
    if (!m->bf16_handoff || !L->use_bn || mt_act_grad_needs_output(L->act) || m->num_expert) return NULL;
    for (int t = 0; t < m->n_towers; t++)
        if (m->towers[t].dnn.n == 0) return NULL;
    return mt_mm_bf16_slot(m->lane_mm[0], L->act_out, (size_t)B * L->out);
}

/* Lends the bottom output's copy (in lane 0's backend) to the other backends. */
static mtrec_status lend_out(mt_model *m, int B, mt_err *e) {
    const mt_layer *L = &m->bottom.layers[m->bottom.n - 1];
    mt_mm *others[2] = {m->lane_mm[1], m->mm};
    mtrec_status st = MTREC_OK;
    for (int j = 0; j < 2 && st == MTREC_OK; j++)
        if (others[j] && others[j] != m->lane_mm[0])
            st = lend(others[j], m->bsplit_out16, L->act_out, 0, (size_t)B * L->out, e);
    return st;
}

/* Runs pass `backward` of the bottom on one or two threads; half k always on lane k. */
static mtrec_status run(mt_model *m, int B, int backward, mt_err *e) {
    int n = m->bottom.n;
    mtrec_status sl[2] = {MTREC_OK, MTREC_OK};
    mt_err le[2];
    memset(le, 0, sizeof le);
    int nth = omp_get_max_threads() >= 2 ? 2 : 1;
    if (!backward) m->bsplit_out16 = out_handoff(m, B);
    /* the backend of half k: lane k's on two threads; on one thread lane 0's for both halves,
     * so operands that both halves read (X, the kernel blocks, the dz halves) are converted to
     * bf16 once, not twice (the products and conversions are the same single-threaded ones
     * either way, so the results are too) */
    mt_mm *mm[2] = {m->lane_mm[0], m->lane_mm[nth >= 2 ? 1 : 0]};
    int one_mm = mm[0] == mm[1];
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        for (int s = 0; s < n; s++) {
            int i = backward ? n - 1 - s : s;
            for (int k = t; k < 2; k += T)
                if (sl[k] == MTREC_OK)
                    sl[k] = backward ? layer_bwd_half(m, i, k, B, mm[k], &le[k]) : layer_fwd_half(m, i, k, B, mm[k], &le[k]);
#pragma omp barrier
            if (backward) {
                for (int k = t; k < 2; k += T)
                    if (sl[k] == MTREC_OK) sl[k] = layer_dx_half(m, i, k, B, mm[k], one_mm, &le[k]);
#pragma omp barrier
            } else if (!one_mm) {  /* each lane's backend also needs the other half's copy */
                const mt_half_layer *q = &m->bsplit[i];
                for (int k = t; k < 2; k += T)
                    if (sl[k] == MTREC_OK)
                        sl[k] = lend(mm[k], q->act16[1 - k], q->act + (k ? 0 : (size_t)B * q->w[0]), 0,
                                     (size_t)B * q->w[1 - k], &le[k]);
            }
        }
    }
    mtrec_status st = mt_lanes_status(sl, le, e);
    if (st == MTREC_OK && !backward && m->bsplit_out16) st = lend_out(m, B, e);
    return st;
}

mtrec_status mt_bottom_split_forward(mt_model *m, int B, mt_err *e) { return run(m, B, 0, e); }
mtrec_status mt_bottom_split_backward(mt_model *m, int B, mt_err *e) { return run(m, B, 1, e); }
