/* dbmtl.c: DBMTL forward, loss and backward (the model's math; buffers and names are set up
 * in model/model_build.c). Reads like the paper: embeddings, bottom, experts and gates,
 * towers, relation DAG, outputs; the backward runs the same steps in reverse order. */
#include "model/dbmtl.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "model/loss.h"

#define P(m, off) ((m)->params + (off))
#define G(m, off) ((m)->grads + (off))
#define S(m, off) ((m)->stats + (off))

/* ---- one DNN layer: dense -> [BN] -> activation -> [dropout] --------------------------- */
/* Training with BN: z = x W + b (bias in the product's epilogue), then batch statistics,
 * normalisation and activation in one fused pass writing act_out (the BN output `pre` is
 * not stored: the backward recomputes it from z). Inference with BN: the moving statistics
 * fold into a per-column scale/shift applied, with the activation when it fuses, in the
 * product's epilogue: one call per layer. Without BN: product + bias + activation fused;
 * z is kept only when the activation's derivative needs its input (swish, gelu). */
static mtrec_status layer_forward(mt_model *m, mt_mm *mm, mt_layer *L, int B, int training,
                                  int inner, int have_z, mt_err *e) {
    int64_t n = (int64_t)B * L->out;
    const int stable = 1 | (m->frozen_weights ? MT_MM_CONST_B : 0);
    const mt_real *W = P(m, L->W), *bias = P(m, L->b);
    mtrec_status st = MTREC_OK;
    if (L->use_bn && training) {
        if (!have_z)  /* (have_z: the split tower's product, made by layer_product_rows) */
            st = mt_dense_affine_act_forward(mm, L->z, L->x, W, bias, NULL, NULL, B, L->in, L->out,
                                             MT_ACT_LINEAR, stable);
        /* bf16 hand-off (mt_model.bf16_handoff): act_out is read only by the next layer's
         * products (inner, no dropout) and not by this layer's backward */
        uint16_t *out16 = m->bf16_handoff && inner && !L->mask && !mt_act_grad_needs_output(L->act)
                              ? mt_mm_bf16_slot(mm, L->act_out, (size_t)n)
                              : NULL;
        if (st == MTREC_OK)
            mt_bn_act_forward_train_to(L->act_out, out16, 0, L->mean, L->rstd, L->z, P(m, L->gamma),
                                       P(m, L->beta), S(m, L->mmean), S(m, L->mvar), B, L->out,
                                       (mt_real)MT_BN_MOMENTUM, (mt_real)MT_BN_EPS, L->act);
    } else if (L->use_bn) {
        /* [out] each (scratch rows are >= max_width wide even for max_batch 1; unused in forward) */
        mt_real *sc = m->scratch[1], *sh = m->scratch[2];
        mt_bn_fold_infer(sc, sh, P(m, L->gamma), P(m, L->beta), S(m, L->mmean), S(m, L->mvar), L->out,
                         (mt_real)MT_BN_EPS);
        st = mt_dense_affine_act_forward(mm, L->act_out, L->x, W, bias, sc, sh, B, L->in, L->out, L->act,
                                         stable);
    } else if (training && mt_act_grad_needs_input(L->act)) {
        st = mt_dense_affine_act_forward(mm, L->z, L->x, W, bias, NULL, NULL, B, L->in, L->out,
                                         MT_ACT_LINEAR, stable);
        if (st == MTREC_OK) mt_act_forward(L->act, L->act_out, L->z, n);
    } else {
        st = mt_dense_affine_act_forward(mm, L->act_out, L->x, W, bias, NULL, NULL, B, L->in, L->out,
                                         L->act, stable);
    }
    if (st != MTREC_OK) return mt_fail(e, st, "dense layer %d->%d failed in the matrix backend: %s", L->in, L->out,
                                          mt_mm_last_error(mm));
    if (L->mask) mt_dropout_forward(L->h, L->mask, L->act_out, n, training ? L->dropout : 0, L->rng);
    return MTREC_OK;
}

/* Layer L's weight gradient G(W) += x^T dz as an OpenMP task of its own, when the towers'
 * backward defers them (mt_model.defer_wgrad): fp32 with the AVX-512 kernel and the running
 * thread's packing buffer, or bf16 on the running thread's backend wg_mm[k], reading this
 * lane's bf16 copies of x and dz where it made them (NULL: none made, the f32 values are
 * valid). 1 when the task was made, 0 when the caller computes it. */
static int wgrad_deferred(mt_model *m, mt_mm *mm, mt_layer *L, const mt_real *dz, int B) {
#ifndef MT_DOUBLE
    if (!m->defer_wgrad) return 0;
    mt_real *gw = G(m, L->W);
    const mt_real *x = L->x;
    int K = L->in, N = L->out;
    if (mt_mm_wgrad_direct(mm)) {
        float *const *pack = m->wg_pack;
#pragma omp task firstprivate(gw, pack, x, dz, K, N, B)
        mt_mm_wgrad_avx512(K, N, B, x, dz, 1, gw, N, pack[omp_get_thread_num() & 1]);
        return 1;
    }
    if (!m->wg_mm[0] || !mt_mm_uses_bf16(mm)) return 0;
    const uint16_t *x16 = mt_mm_bf16_copy(mm, x, (size_t)B * K);
    const uint16_t *z16 = mt_mm_bf16_copy(mm, dz, (size_t)B * N);
#pragma omp task firstprivate(m, gw, x, x16, dz, z16, K, N, B)
    {
        int k = omp_get_thread_num() & 1;
        mt_mm *w = m->wg_mm[k];
        mtrec_status s = MTREC_ERR_NOMEM;
        if ((!x16 || mt_mm_bf16_alias(w, x, (size_t)B * K, x16)) &&
            (!z16 || mt_mm_bf16_alias(w, dz, (size_t)B * N, z16)))
            s = mt_mm_gemm_ex(w, 1, 0, K, N, B, x, dz, 1, gw, MT_MM_STABLE_A | MT_MM_STABLE_B);
        if (s != MTREC_OK && m->wg_status[k] == MTREC_OK) m->wg_status[k] = s;
    }
    return 1;
#else
    (void)m, (void)mm, (void)L, (void)dz, (void)B;
    return 0;
#endif
}

/* dh (complete: written or accumulated by its consumers) -> parameter grads and dx. One fused
 * pass turns dh into dz in place (dropout mask, activation derivative, BN backward, bias
 * gradient; dh is not read again in this step); the products then give dW (accumulated) and
 * dx (written when dx_acc == 0: this layer is its only producer, so it needs no zeroing). */
static mtrec_status layer_backward(mt_model *m, mt_mm *mm, mt_layer *L, int B, int dx_acc) {
    mt_real *dz = L->dh;
    if (L->use_bn) {
        /* bf16 hand-off: dz goes straight into the bf16 operand of the two products below */
        uint16_t *dz16 = m->bf16_handoff ? mt_mm_bf16_slot(mm, dz, (size_t)B * L->out) : NULL;
        mt_bn_act_backward_to(dz, dz16, G(m, L->gamma), G(m, L->beta), G(m, L->b), L->dh, L->mask,
                              L->act_out, L->z, L->mean, L->rstd, P(m, L->gamma), P(m, L->beta), B,
                              L->out, L->act);
    } else
        mt_act_bias_backward(dz, G(m, L->b), L->dh, L->mask, L->z, L->act_out, B, L->out, L->act);
    mt_real *dW = wgrad_deferred(m, mm, L, dz, B) ? NULL : G(m, L->W);
    return mt_dense_backward_ex(mm, L->dx, dx_acc, dW, NULL, dz, L->x, P(m, L->W), B, L->in, L->out, 1);
}

/* The stack's training or inference forward; have_z0: the first layer's product z is made
 * already (the split tower: split_tower). */
static mtrec_status mlp_forward_z0(mt_model *m, mt_mm *mm, mt_mlp *mlp, int B, int training, int have_z0,
                                   mt_err *e) {
    mlp->fwd_mm = training ? mm : NULL;
    for (int i = 0; i < mlp->n; i++) {
        mtrec_status st = layer_forward(m, mm, &mlp->layers[i], B, training, i + 1 < mlp->n, i == 0 && have_z0, e);
        if (st != MTREC_OK) return st;
    }
    return MTREC_OK;
}

static mtrec_status mlp_forward(mt_model *m, mt_mm *mm, mt_mlp *mlp, int B, int training, mt_err *e) {
    return mlp_forward_z0(m, mm, mlp, B, training, 0, e);
}

/* The tower lanes' load, balanced: with an odd number of towers lane 0 has one more (towers
 * t % 2), so in the training forward the last tower's first product z = x W + b (BN layer:
 * its product is separate from the rest) runs as two row halves, the second on the other
 * lane (towers_graph): live5's towers' forward on two threads 1.94 -> ~1.75 of the one-thread
 * time's ideal 1.68. The halves are the same two products on one thread (the plain loop),
 * so the results do not depend on the thread count. -1: no such tower. */
static int split_tower(const mt_model *m) {
    int t = m->n_towers - 1;
    if (!m->lanes || m->num_expert || m->n_towers < 3 || m->n_towers % 2 == 0) return -1;
    const mt_mlp *d = &m->towers[t].dnn;
    return d->n > 0 && d->layers[0].use_bn ? t : -1;
}

/* Rows [r0, r0 + nr) of the split tower's first product z = x W + b on backend mm. On a
 * bf16 backend the rows of x past the first come from the bottom output's bf16 hand-off
 * (whose f32 values are then not written), lent as their own range. */
static mtrec_status layer_product_rows(mt_model *m, mt_mm *mm, mt_layer *L, int r0, int nr, mt_err *e) {
    if (nr <= 0) return MTREC_OK;
    const mt_real *x = L->x + (size_t)r0 * L->in;
    if (r0 > 0 && m->bsplit_out16 && L->x == m->bottom.y &&
        !mt_mm_bf16_alias(mm, x, (size_t)nr * L->in, m->bsplit_out16 + (size_t)r0 * L->in))
        return mt_fail(e, MTREC_ERR_NOMEM, "out of memory lending a bf16 copy to another lane's backend");
    const int stable = 1 | (m->frozen_weights ? MT_MM_CONST_B : 0);
    mtrec_status st = mt_dense_affine_act_forward(mm, L->z + (size_t)r0 * L->out, x, P(m, L->W), P(m, L->b), NULL,
                                                  NULL, nr, L->in, L->out, MT_ACT_LINEAR, stable);
    if (st != MTREC_OK)
        return mt_fail(e, st, "dense layer %d->%d failed in the matrix backend: %s", L->in, L->out,
                       mt_mm_last_error(mm));
    return MTREC_OK;
}

/* Only the MLP's output gradient is accumulated by several consumers and needs zeroing; the
 * inner layers' dh are written by the layer above (layer_backward with dx_acc == 0). */
static void mlp_zero_grads(mt_mlp *mlp, int B) {
    if (mlp->n > 0) mt_zero(mlp->dy, (int64_t)B * mlp->out);
}

/* Backward through the layers, last to first. in_fresh: mlp->dx has no other producer, so the
 * first layer writes it instead of accumulating (the caller did not zero it). */
static mtrec_status mlp_backward(mt_model *m, mt_mm *mm, mt_mlp *mlp, int B, int in_fresh, mt_err *e) {
    if (mlp->n > 0 && mlp->fwd_mm != mm)  /* a scheduling bug, not bad input */
        return mt_fail(e, MTREC_ERR_INTERNAL, "internal error: a dense stack's backward runs on another "
                       "matrix backend than its training forward");
    for (int i = mlp->n - 1; i >= 0; i--) {
        mtrec_status st = layer_backward(m, mm, &mlp->layers[i], B, i == 0 ? !in_fresh : 0);
        if (st != MTREC_OK) return mt_fail(e, st, "backward of a dense layer failed in the matrix backend: %s",
                                                mt_mm_last_error(mm));
    }
    return MTREC_OK;
}

/* One tower's dnn stack on lane t % 2's backend. The lane's first tower (in execution order)
 * writes its lane_dx, later ones accumulate (with MMoE each tower accumulates into its own,
 * zeroed dtask_in). */
static mtrec_status lane_tower(mt_model *m, int t, int backward, int wrote[2], int B, mt_err *e) {
    mt_mlp *d = &m->towers[t].dnn;
    int k = t % 2;
    int fresh = m->lane_dx[k] && !wrote[k];
    wrote[k] = 1;
    return backward ? mlp_backward(m, m->lane_mm[k], d, B, fresh, e)
                    : mlp_forward(m, m->lane_mm[k], d, B, 1, e);
}

static mtrec_status head_forward(mt_model *m, mt_tower *T, int B, int training, mt_err *e);
static mtrec_status head_backward(mt_model *m, mt_tower *T, int B, mt_err *e);

/* The towers as a task graph (see mt_model.lanes), on two threads when the pool has two:
 * lane k runs the dnn stacks of towers k, k+2, ... in a chain on its own single-threaded
 * backend; the heads (relation and output layers, shared backend) run in a chain in config
 * order (forward) or reverse order (backward), each head after its own tower's dnn
 * (forward) or before it (backward). So the heads overlap the other lane's towers instead
 * of leaving a thread idle. Every chain's order is fixed (forward ascending, backward
 * descending), whatever the number of threads, so the results are too. */
static mtrec_status towers_graph(mt_model *m, int B, int backward, int wrote[2], mt_err *e) {
    int n = m->n_towers;
    mtrec_status st_lane[2] = {MTREC_OK, MTREC_OK}, st_head = MTREC_OK;
    mt_err le[2], he;
    memset(le, 0, sizeof le);
    memset(&he, 0, sizeof he);
    wrote[0] = wrote[1] = 0;
    char lane_tok[2], head_tok, dnn_tok[n > 0 ? n : 1];
    (void)lane_tok; (void)head_tok; (void)dnn_tok;  /* dependence tokens only */
    int nth = omp_get_max_threads() >= 2 ? 2 : 1;
    m->defer_wgrad = backward && nth == 2 &&
                     ((m->wg_pack[0] && m->wg_pack[1]) || (m->wg_mm[0] && m->wg_mm[1]));
    m->wg_status[0] = m->wg_status[1] = MTREC_OK;
#pragma omp parallel num_threads(nth)
#pragma omp single
    {
        if (!backward) {
            int ts = split_tower(m), r0 = mt_half_row(B);
            char half_tok;
            (void)half_tok;
            for (int t = 0; t < n; t++) {
                if (m->towers[t].dnn.n == 0) continue;
                int k = t % 2;
                if (t == ts) {  /* its first product in row halves, the second on lane 1 - k */
                    mt_layer *L0 = &m->towers[t].dnn.layers[0];
#pragma omp task depend(inout : lane_tok[k]) firstprivate(k, L0)
                    if (st_lane[k] == MTREC_OK) st_lane[k] = layer_product_rows(m, m->lane_mm[k], L0, 0, r0, &le[k]);
#pragma omp task depend(inout : lane_tok[1 - k]) depend(out : half_tok) firstprivate(k, L0)
                    if (st_lane[1 - k] == MTREC_OK)
                        st_lane[1 - k] = layer_product_rows(m, m->lane_mm[1 - k], L0, r0, B - r0, &le[1 - k]);
#pragma omp task depend(inout : lane_tok[k]) depend(in : half_tok) depend(out : dnn_tok[t]) firstprivate(t, k)
                    if (st_lane[k] == MTREC_OK)
                        st_lane[k] = mlp_forward_z0(m, m->lane_mm[k], &m->towers[t].dnn, B, 1, 1, &le[k]);
                    continue;
                }
#pragma omp task depend(inout : lane_tok[k]) depend(out : dnn_tok[t]) firstprivate(t, k)
                if (st_lane[k] == MTREC_OK) st_lane[k] = lane_tower(m, t, 0, wrote, B, &le[k]);
            }
            for (int t = 0; t < n; t++) {
#pragma omp task depend(in : dnn_tok[t]) depend(inout : head_tok) firstprivate(t)
                if (st_head == MTREC_OK) st_head = head_forward(m, &m->towers[t], B, 1, &he);
            }
        } else {
            for (int t = n - 1; t >= 0; t--) {
#pragma omp task depend(inout : head_tok) depend(out : dnn_tok[t]) firstprivate(t)
                if (st_head == MTREC_OK) st_head = head_backward(m, &m->towers[t], B, &he);
            }
            for (int t = n - 1; t >= 0; t--) {
                if (m->towers[t].dnn.n == 0) continue;
                int k = t % 2;
#pragma omp task depend(in : dnn_tok[t]) depend(inout : lane_tok[k]) firstprivate(t, k)
                if (st_lane[k] == MTREC_OK) st_lane[k] = lane_tower(m, t, 1, wrote, B, &le[k]);
            }
        }
    } /* (the region's end waits for every task, the deferred weight gradients too) */
    m->defer_wgrad = 0;
    for (int k = 0; k < 2; k++)
        if (m->wg_status[k] != MTREC_OK)
            return mt_fail(e, m->wg_status[k], "a tower layer's weight gradient failed in the matrix backend: %s",
                           mt_mm_last_error(m->wg_mm[k]));
    if (st_head != MTREC_OK) {
        if (e) *e = he;
        return st_head;
    }
    return mt_lanes_status(st_lane, le, e);
}

/* bottom.dy += the lanes' shares of it (lane_dx or expert_dx), in lane order */
static void add_lane_shares(mt_model *m, mt_real *const share[2], const int wrote[2], int B) {
    for (int k = 0; k < 2; k++)
        if (share[k] && wrote[k]) mt_add_cols(m->bottom.dy, m->bottom.out, 0, share[k], m->bottom.out, 0, B, m->bottom.out);
}

/* Whether the towers' lanes' shares are bottom.dy's only producers (lanes without MMoE, every
 * tower with dnn layers: else a head or a gate adds into it directly): then the backward does
 * not zero it first but writes it from the shares in one pass (set_lane_shares). */
static int dy_from_shares(const mt_model *m) {
    if (!m->lanes || m->num_expert || m->bottom.n == 0 || !m->lane_dx[0] || !m->lane_dx[1]) return 0;
    for (int t = 0; t < m->n_towers; t++)
        if (m->towers[t].dnn.n == 0) return 0;
    return 1;
}

/* bottom.dy = (0 + lane_dx[0]) + lane_dx[1] (the shares that were written), in one pass: the
 * same operations, in the same order, as zeroing it and adding the shares in lane order */
static void set_lane_shares(mt_model *m, const int wrote[2], int B) {
    int W = m->bottom.out;
    const mt_real *a = wrote[0] ? m->lane_dx[0] : wrote[1] ? m->lane_dx[1] : NULL;
    const mt_real *b = wrote[0] && wrote[1] ? m->lane_dx[1] : NULL;
#pragma omp parallel for schedule(static) if ((int64_t)B * W >= mt_nn_par_min())
    for (int r = 0; r < B; r++) {
        mt_real *restrict d = m->bottom.dy + (size_t)r * W;
        const mt_real *restrict x = a ? a + (size_t)r * W : NULL, *restrict y = b ? b + (size_t)r * W : NULL;
        if (y) {
#pragma omp simd
            for (int j = 0; j < W; j++) d[j] = ((mt_real)0 + x[j]) + y[j];
        } else if (x) {
#pragma omp simd
            for (int j = 0; j < W; j++) d[j] = (mt_real)0 + x[j];
        } else {
            memset(d, 0, (size_t)W * sizeof *d);
        }
    }
}

/* 3. MMoE experts, forward or backward. With lanes (training) they run as two lanes of
 * single-threaded work like the towers (experts k, k+2, ... on lane k, on two threads when
 * the pool has two; backward in descending order, each lane summing its experts' input
 * gradient in expert_dx[k], added to bottom.dy in lane order: the same arithmetic at any
 * thread count). Otherwise one after another on the shared backend. */
static mtrec_status experts_run(mt_model *m, int B, int backward, int training, mt_err *e) {
    int E = m->num_expert;
    mtrec_status st = MTREC_OK;
    if (!m->lanes || !training) {
        for (int i = 0; i < E && st == MTREC_OK; i++)
            st = backward ? mlp_backward(m, m->mm, &m->experts[E - 1 - i], B, 0, e)
                          : mlp_forward(m, m->mm, &m->experts[i], B, training, e);
        return st;
    }
    mtrec_status sl[2] = {MTREC_OK, MTREC_OK};
    mt_err le[2];
    memset(le, 0, sizeof le);
    int wrote[2] = {0, 0};
    int nth = omp_get_max_threads() >= 2 ? 2 : 1;
#pragma omp parallel num_threads(nth)
    for (int k = omp_get_thread_num(); k < 2; k += nth) {
        int last = k + ((E - 1 - k) / 2) * 2;  /* lane k's last expert */
        for (int x = backward ? last : k; x >= 0 && x < E && sl[k] == MTREC_OK; x += backward ? -2 : 2) {
            sl[k] = backward ? mlp_backward(m, m->lane_mm[k], &m->experts[x], B, !wrote[k], &le[k])
                             : mlp_forward(m, m->lane_mm[k], &m->experts[x], B, 1, &le[k]);
            wrote[k] = 1;
        }
    }
    if ((st = mt_lanes_status(sl, le, e)) == MTREC_OK && backward) add_lane_shares(m, m->expert_dx, wrote, B);
    return st;
}

/* 3. MMoE gate of tower T: gate = softmax(dense(H)), task_in = sum gate * expert */
static mtrec_status gate_forward(mt_model *m, mt_tower *T, int B, mt_err *e) {
    if (!m->num_expert) return MTREC_OK;
    mtrec_status st = mt_dense_forward(m->mm, T->gate_logits, m->bottom.y, P(m, T->gate_W), P(m, T->gate_b), B,
                                       m->bottom.out, m->num_expert);
    if (st != MTREC_OK) return mt_fail(e, st, "gate of tower %s failed", T->cfg->tower_name);
    mt_softmax_forward(T->gate, T->gate_logits, B, m->num_expert);
    mt_mix_forward(T->task_in, T->gate, m->expert_out, B, m->num_expert, m->experts[0].out);
    return MTREC_OK;
}

/* Columns [off, off + w) of tower T's relation input = src [B, w]: in f32 into rel_in, or
 * as bf16 into in16 (its bf16 hand-off) when not NULL. */
static void rel_in_put(mt_tower *T, uint16_t *in16, int off, const mt_real *src, int w, int B) {
    if (in16)
        mt_copy_cols_bf16(in16, T->rel_in_width, off, src, w, 0, B, w);
    else
        mt_copy_cols(T->rel_in, T->rel_in_width, off, src, w, 0, B, w);
}

/* 5-6. Bayesian relation of tower T: concat(own tower, parents' relation outputs) ->
 * relation_dnn, then the output logits */
static mtrec_status head_forward(mt_model *m, mt_tower *T, int B, int training, mt_err *e) {
    /* bf16 hand-off (mt_model.bf16_handoff): with a relation dnn, the concatenation is read
     * only by its first layer's products, so it is written straight as their bf16 operand
     * (no f32 copy, no conversion pass); without one it is the output layer's f32 input */
    uint16_t *in16 = training && m->bf16_handoff && T->rel.n > 0
                         ? mt_mm_bf16_slot(m->mm, T->rel_in, (size_t)B * T->rel_in_width)
                         : NULL;
    rel_in_put(T, in16, 0, T->dnn.y, T->dnn.out, B);
    int off = T->dnn.out;
    for (int r = 0; r < T->cfg->n_relations; r++) {
        const mt_tower *Pt = &m->towers[T->cfg->relation_index[r]];
        rel_in_put(T, in16, off, Pt->rel.y, Pt->rel.out, B);
        off += Pt->rel.out;
    }
    mtrec_status st = mlp_forward(m, m->mm, &T->rel, B, training, e);
    if (st != MTREC_OK) return st;
    if (T->cfg->num_class == 1)
        mt_dense1_forward(T->logits, T->rel.y, P(m, T->out_W), P(m, T->out_b), B, T->rel.out);
    else
        st = mt_dense_forward(m->mm, T->logits, T->rel.y, P(m, T->out_W), P(m, T->out_b), B, T->rel.out,
                              T->cfg->num_class);
    if (st != MTREC_OK) return mt_fail(e, st, "output of tower %s failed", T->cfg->tower_name);
    return MTREC_OK;
}

/* ---- forward ----------------------------------------------------------------------------- */
mtrec_status mt_model_forward(mt_model *m, const mt_batch *b, int training, mt_err *e) {
    int B = b->n_rows;
    if (B <= 0 || B > m->max_batch)
        return mt_fail(e, MTREC_ERR_ARG, "batch of %d rows (model sized for 1..%d)", B, m->max_batch);
    m->B = B;
    mt_mm_new_step(m->mm);  /* weights and activations change from here: new bf16 copies */
    for (int k = 0; k < 2; k++)  /* (also when this forward does not use the lanes: the backward does) */
        if (m->lane_mm[k]) mt_mm_new_step(m->lane_mm[k]);
    for (int k = 0; k < 2; k++)
        if (m->wg_mm[k]) mt_mm_new_step(m->wg_mm[k]);
    const mt_feature_plan *plan = &m->plan;
    int gw = plan->group_width;

    /* 1. embeddings (and raw dense values) -> X[B, group_width], split by rows: each thread
     * fills whole rows of X (split by features, the threads wrote neighbouring columns of
     * the same rows: cache lines shared at every feature boundary, slower on 2 threads than
     * on 1) */
    int64_t emb_work = 0;
    for (int i = 0; i < plan->n_items; i++) emb_work += (int64_t)B * plan->items[i].width;
    /* bf16 hand-off of X (mt_model.bf16_handoff) in training with the bottom split on two
     * threads: each thread writes its rows' bf16 copy right after them (in L2), the copy
     * both lanes' first-layer products read, instead of each lane's backend converting all
     * of X (bf16 +1-2%; on one thread the single conversion stays oneDNN's) */
    uint16_t *X16 = training && m->bottom_split && m->bf16_handoff && m->bottom.n > 0 &&
                            omp_get_max_threads() >= 2 && m->lane_mm[1] != m->lane_mm[0]
                        ? mt_mm_bf16_slot(m->lane_mm[0], m->X, (size_t)B * gw)
                        : NULL;
    /* in training with embedding regularisation, each thread also sums the squares of its
     * row blocks of X while they are in cache (mt_model.emb_part), when its rows are whole
     * blocks */
    int sumsq = training && m->emb_part && m->p->model.embedding_regularization > 0, parts = 0;
    m->emb_part_ready = 0;
#pragma omp parallel if (B >= 32 && emb_work >= mt_nn_par_min())
    {
        int nth = omp_get_num_threads(), t = omp_get_thread_num();
        int per = ((B + nth - 1) / nth + 15) & ~15, r0 = MT_MIN(B, t * per), nr = MT_MIN(B, r0 + per) - r0;
        for (int i = 0; i < plan->n_items && nr > 0; i++) {
            const mt_feature_plan_item *it = &plan->items[i];
            if (it->out == MT_OUT_EMBED) {
                const mt_table *T = &m->tables[it->table];
                mt_embbag_forward(m->X + (size_t)r0 * gw, gw, it->group_offset, T->w, T->plan->dim,
                                  b->offsets[i] + r0, b->ids[i], it->weighted ? b->weights[i] : NULL, nr,
                                  it->combiner);
            } else {
                mt_copy_cols(m->X + (size_t)r0 * gw, gw, it->group_offset, b->dense + (size_t)r0 * plan->dense_width,
                             plan->dense_width, it->dense_offset, nr, it->width);
            }
        }
        if (X16 && nr > 0) mt_copy_cols_bf16(X16 + (size_t)r0 * gw, gw, 0, m->X + (size_t)r0 * gw, gw, 0, nr, gw);
        int blocks = sumsq && (nth == 1 || per % MT_EMB_ROWS == 0);  /* the same on every thread */
        if (blocks)
            for (int k = r0 / MT_EMB_ROWS; k * MT_EMB_ROWS < r0 + nr; k++) m->emb_part[k] = mt_model_emb_block_sumsq(m, k, B);
        if (t == 0) parts = blocks;
    }
    m->emb_part_ready = parts;
    if (X16 && !mt_mm_bf16_alias(m->lane_mm[1], m->X, (size_t)B * gw, X16))
        return mt_fail(e, MTREC_ERR_NOMEM, "out of memory lending a bf16 copy to another lane's backend");

    /* 2. bottom (in training as two column halves on the lanes when m->bottom_split) */
    m->bsplit_ready = training && m->bottom_split;
    mtrec_status st = m->bsplit_ready ? mt_bottom_split_forward(m, B, e)
                                      : mlp_forward(m, m->mm, &m->bottom, B, training, e);
    if (st != MTREC_OK) return st;

    /* 3. MMoE: experts (each with its own dropout stream, like the towers below), then per
     * tower gate = softmax(dense(H)), task_in = sum gate * expert */
    if (m->num_expert) {
        if (training)
            for (int x = 0; x < m->num_expert; x++) mt_rng_seed(&m->expert_rng[x], mt_rng_next(&m->rng));
        if ((st = experts_run(m, B, 0, training, e)) != MTREC_OK) return st;
    }

    /* each tower's dropout stream for this step, drawn here in tower order (its masks then do
     * not depend on when or on which thread the tower runs) */
    if (training)
        for (int t = 0; t < m->n_towers; t++) mt_rng_seed(&m->towers[t].rng, mt_rng_next(&m->rng));

    /* 3b-6: per tower, in config order: gate (MMoE), task tower, Bayesian relation, output.
     * With lanes on two threads the gates run first and the towers and heads as the task
     * graph of towers_graph; the gates, towers and heads only change schedule, not results.
     * (On one thread the plain loop is kept: a tower's output is still in cache for its
     * relation layer; its dnn still runs on its lane's backend, as its backward will, so
     * the bf16 copies made here serve the backward too.) */
    int lanes = m->lanes && training && omp_get_max_threads() >= 2;
    for (int t = 0; t < m->n_towers; t++) {
        mt_tower *T = &m->towers[t];
        mt_mm *tmm = m->lanes && training ? m->lane_mm[t % 2] : m->mm;
        if ((st = gate_forward(m, T, B, e)) != MTREC_OK) return st;
        if (!lanes && training && t == split_tower(m)) {  /* the same two products as on two threads */
            int r0 = mt_half_row(B);
            mt_layer *L0 = &T->dnn.layers[0];
            if ((st = layer_product_rows(m, tmm, L0, 0, r0, e)) != MTREC_OK ||
                (st = layer_product_rows(m, tmm, L0, r0, B - r0, e)) != MTREC_OK ||
                (st = mlp_forward_z0(m, tmm, &T->dnn, B, training, 1, e)) != MTREC_OK)
                return st;
        } else if (!lanes && (st = mlp_forward(m, tmm, &T->dnn, B, training, e)) != MTREC_OK) return st;
        if (!lanes && (st = head_forward(m, T, B, training, e)) != MTREC_OK) return st;
    }
    if (lanes) {
        int wrote[2];
        if ((st = towers_graph(m, B, 0, wrote, e)) != MTREC_OK) return st;
    }
    return MTREC_OK;
}

/* ---- loss ------------------------------------------------------------------------------- */
/* EasyRec per-sample weight of a tower: sample weight (if use_sample_weight) times the
 * task-space weight (in/out by the indicator label). */
static void tower_weights(const mt_model *m, const mt_tower *T, const mt_batch *b, mt_real *w) {
    const mt_tower_config *c = T->cfg;
    int nl = m->plan.n_labels;
    for (int i = 0; i < b->n_rows; i++) {
        mt_real v = c->use_sample_weight ? b->sample_weight[i] : 1;
        if (c->task_space_label_index >= 0) {
            int in = b->labels[(size_t)i * nl + c->task_space_label_index] > 0;
            v *= in ? c->in_task_space_weight : c->out_task_space_weight;
        }
        w[i] = v;
    }
}

static const uint64_t *session_keys(const mt_model *m, const mt_batch *b, int field, uint64_t *tmp) {
    if (field < 0) return NULL;
    for (int k = 0; k < m->plan.n_keys; k++) {
        if (m->plan.key_fields[k] != field) continue;
        for (int i = 0; i < b->n_rows; i++) tmp[i] = b->keys[(size_t)i * m->plan.n_keys + k];
        return tmp;
    }
    return NULL;
}

/* ---- l2 regularization ------------------------------------------------------------------ */
/* Each kernel is summed in fixed chunks (partial sums added in order), so the result does not
 * depend on the number of threads. */
#define L2_CHUNKS 32
#define L2_PAR_MIN 65536

/* sum w^2 over one tensor (kernel_sumsq: the loss without a backward) */
static double l2_tensor(const mt_real *w, size_t n) {
    double part[L2_CHUNKS];
    size_t chunk = (n + L2_CHUNKS - 1) / L2_CHUNKS;
    chunk = (chunk + 15) & ~(size_t)15;
#pragma omp parallel for schedule(static) if (n >= L2_PAR_MIN)
    for (int c = 0; c < L2_CHUNKS; c++) {
        size_t a = (size_t)c * chunk, b = a + chunk < n ? a + chunk : n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t k = a; k < b; k++) s += (double)w[k] * w[k];
        part[c] = a < n ? s : 0;
    }
    double s = 0;
    for (int c = 0; c < L2_CHUNKS; c++) s += part[c];
    return s;
}

/* The dense gradients' starting values over params [a, b) (one block: see mt_model.grad_part):
 * l2 * W on kernels (when l2 > 0), zero elsewhere (padding included); returns the sum of
 * the block's squared kernel weights. */
static double grads_start_block(mt_model *m, size_t a, size_t b, mt_real l2) {
    int lo = 0, hi = m->n_gseg - 1;  /* the last tensor starting at or before a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (m->gseg_start[mid] <= a) lo = mid;
        else hi = mid - 1;
    }
    double s = 0;
    const mt_real *restrict w = m->params;
    mt_real *restrict g = m->grads;
    for (int t = lo; a < b; t++) {
        size_t e = t + 1 < m->n_gseg && m->gseg_start[t + 1] < b ? m->gseg_start[t + 1] : b;
        if (t < m->n_gseg && m->gseg_kernel[t] && l2 > 0) {
#pragma omp simd reduction(+ : s)
            for (size_t k = a; k < e; k++) {
                s += (double)w[k] * w[k];
                g[k] = l2 * w[k];
            }
        } else {
            memset(g + a, 0, (e - a) * sizeof *g);
        }
        a = e;
    }
    return s;
}

void mt_model_prime_grads_block(void *model, size_t a, size_t b) {
    mt_model *m = model;
    m->grad_part[a / MT_GRAD_BLOCK] =
        grads_start_block(m, a, b, (mt_real)m->p->model.dbmtl.l2_regularization);
}

/* sum of the blocks' partial sums, in block order */
static double grad_part_sum(const mt_model *m) {
    double s = 0;
    for (size_t k = 0; k < (m->n_params + MT_GRAD_BLOCK - 1) / MT_GRAD_BLOCK; k++) s += m->grad_part[k];
    return s;
}

void mt_model_grads_primed(mt_model *m) {
    m->primed_l2 = (mt_real)m->p->model.dbmtl.l2_regularization;
    m->primed_sumsq = m->primed_l2 > 0 ? grad_part_sum(m) : 0;
    m->grads_primed = 1;
}

/* Start of the backward: kernels' gradients = l2 * W (when l2 > 0), every other dense
 * gradient zero, unless the optimizer's pass primed them already for this l2. Returns the
 * sum of squares of the kernels (0 when l2 == 0). */
static double init_dense_grads(mt_model *m, mt_real l2) {
    int primed = m->grads_primed && m->primed_l2 == l2;
    m->grads_primed = 0;  /* used (or refused) once */
    if (primed) return m->primed_sumsq;
    size_t nb = (m->n_params + MT_GRAD_BLOCK - 1) / MT_GRAD_BLOCK;
#pragma omp parallel for schedule(static) if (m->n_params >= L2_PAR_MIN)
    for (size_t k = 0; k < nb; k++) {
        size_t a = k * MT_GRAD_BLOCK, b = a + MT_GRAD_BLOCK < m->n_params ? a + MT_GRAD_BLOCK : m->n_params;
        m->grad_part[k] = grads_start_block(m, a, b, l2);
    }
    return l2 > 0 ? grad_part_sum(m) : 0;
}

/* sum of squares of every dense kernel */
static double kernel_sumsq(const mt_model *m) {
    double s = 0;
    for (int i = 0; i < m->n_info; i++) {
        const mt_param_info *pi = &m->info[i];
        if (pi->is_kernel)
            s += l2_tensor(m->params + pi->offset, (size_t)pi->shape[0] * (size_t)pi->shape[1]);
    }
    return s;
}

/* Backward of tower T's output and relation layers, then the concat gradient split: own
 * tower's part into dnn.dy, each parent's part into its relation output's gradient. */
static mtrec_status head_backward(mt_model *m, mt_tower *T, int B, mt_err *e) {
    mtrec_status st = MTREC_OK;
    if (T->cfg->num_class == 1)
        mt_dense1_backward(T->rel.dy, G(m, T->out_W), G(m, T->out_b), T->dlogits, T->rel.y, P(m, T->out_W), B,
                           T->rel.out);
    else
        st = mt_dense_backward(m->mm, T->rel.dy, G(m, T->out_W), G(m, T->out_b), T->dlogits, T->rel.y,
                               P(m, T->out_W), B, T->rel.out, T->cfg->num_class);
    if (st != MTREC_OK) return mt_fail(e, st, "backward of output %s failed", T->cfg->tower_name);
    if ((st = mlp_backward(m, m->mm, &T->rel, B, 1, e)) != MTREC_OK) return st;  /* sole producer of drel_in */
    mt_add_cols(T->dnn.dy, T->dnn.out, 0, T->drel_in, T->rel_in_width, 0, B, T->dnn.out);
    int off = T->dnn.out;
    for (int r = 0; r < T->cfg->n_relations; r++) {
        mt_tower *Pt = &m->towers[T->cfg->relation_index[r]];
        mt_add_cols(Pt->rel.dy, Pt->rel.out, 0, T->drel_in, T->rel_in_width, off, B, Pt->rel.out);
        off += Pt->rel.out;
    }
    return MTREC_OK;
}

/* Backward of tower T's MMoE mix and gate (dtask_in complete) */
static mtrec_status gate_backward(mt_model *m, mt_tower *T, int B, mt_err *e) {
    if (!m->num_expert) return MTREC_OK;
    int D = m->experts[0].out;
    mt_mix_backward(T->dgate, m->expert_dout, T->dtask_in, T->gate, m->expert_out, B, m->num_expert, D);
    mt_real *dgl = m->scratch[2];
    memset(dgl, 0, (size_t)B * (size_t)m->num_expert * sizeof *dgl);
    mt_softmax_backward(dgl, T->dgate, T->gate, B, m->num_expert);
    mtrec_status st = mt_dense_backward(m->mm, m->bottom.dy, G(m, T->gate_W), G(m, T->gate_b), dgl, m->bottom.y,
                                        P(m, T->gate_W), B, m->bottom.out, m->num_expert);
    if (st != MTREC_OK) return mt_fail(e, st, "backward of gate %s failed", T->cfg->tower_name);
    return MTREC_OK;
}

/* ---- embedding regularization ----------------------------------------------------------- */
/* sum of squares of the embedded columns of X's row block k (EMB_ROWS rows: see
 * mt_model.emb_part; features in plan order within the block) */
double mt_model_emb_block_sumsq(const mt_model *m, int k, int B) {
    int gw = m->plan.group_width;
    double s = 0;
    for (int i = 0; i < m->plan.n_items; i++) {
        const mt_feature_plan_item *it = &m->plan.items[i];
        if (it->out != MT_OUT_EMBED) continue;
        for (int r = k * MT_EMB_ROWS; r < B && r < (k + 1) * MT_EMB_ROWS; r++) {
            const mt_real *x = m->X + (size_t)r * gw + it->group_offset;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < it->width; j++) s += (double)x[j] * x[j];
        }
    }
    return s;
}

/* sum of squares of the embedded columns of X: the blocks' sums (from the forward's
 * embedding stage when it made them) added in order */
static double emb_sumsq(mt_model *m, int B) {
    int gw = m->plan.group_width, nb = (B + MT_EMB_ROWS - 1) / MT_EMB_ROWS;
    if (!m->emb_part_ready) {
#pragma omp parallel for schedule(static) if ((int64_t)B * gw >= mt_nn_par_min())
        for (int k = 0; k < nb; k++) m->emb_part[k] = mt_model_emb_block_sumsq(m, k, B);
        m->emb_part_ready = 1;
    }
    double t = 0;
    for (int k = 0; k < nb; k++) t += m->emb_part[k];
    return t;
}

void mt_model_emb_reg_rows(mt_model *m, int r0, int nr, mt_real er) {
    int gw = m->plan.group_width;
    for (int r = r0; r < r0 + nr; r++)
        for (int i = 0; i < m->plan.n_items; i++) {
            const mt_feature_plan_item *it = &m->plan.items[i];
            if (it->out != MT_OUT_EMBED) continue;
            const mt_real *restrict x = m->X + (size_t)r * gw + it->group_offset;
            mt_real *restrict dx = m->dX + (size_t)r * gw + it->group_offset;
#pragma omp simd
            for (int j = 0; j < it->width; j++) dx[j] += er * x[j];
        }
}

/* dX += er * X on the embedded columns, all rows */
static void emb_reg_grad(mt_model *m, int B, mt_real er) {
    int gw = m->plan.group_width;
#pragma omp parallel for schedule(static) if ((int64_t)B * gw >= mt_nn_par_min())
    for (int r = 0; r < B; r++) mt_model_emb_reg_rows(m, r, 1, er);
}

/* threads of the per-tower loss loop at most: thread k's label column is scratch[0] + k * B
 * and its session keys scratch[1] + 2k * B, inside the 16 spare columns of each */
#define LOSS_THREADS 8

mtrec_status mt_model_loss_backward(mt_model *m, const mt_batch *b, int regularize, int backward,
                                    mt_err *e) {
    int B = m->B;
    if (b->n_rows != B) return mt_fail(e, MTREC_ERR_ARG, "loss on a batch other than the forward's");
    const mt_pipeline *p = m->p;
    int nl = m->plan.n_labels;
    double total = 0;
    double reg = 0;
    double l2 = regularize ? p->model.dbmtl.l2_regularization : 0;
    if (backward) {
        /* dense gradients start at their l2 term (kernels) or zero; the products accumulate */
        reg += 0.5 * l2 * init_dense_grads(m, (mt_real)l2);
        if (m->bottom.n == 0) mt_zero(m->dX, (int64_t)B * m->plan.group_width);
        if (!dy_from_shares(m)) mlp_zero_grads(&m->bottom, B);
        for (int x = 0; x < m->num_expert; x++) mlp_zero_grads(&m->experts[x], B);
        for (int t = 0; t < m->n_tables; t++) mt_sparse_grad_reset(&m->tables[t].grad);
    } else if (l2 > 0) {
        reg += 0.5 * l2 * kernel_sumsq(m);
    }

    /* per-tower losses, weighted by tower weight (x loss weight for losses{} lists), and for
     * a backward first the zeroing of the tower's accumulated gradients: the towers spread
     * over up to LOSS_THREADS threads, each with its own label column and session keys;
     * each tower's loss in T->loss, summed below in tower order (the same total whatever
     * the threads) */
    int nth = MT_MIN(MT_MIN(omp_get_max_threads(), m->n_towers), LOSS_THREADS);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1 && B >= 256)
    for (int t = 0; t < m->n_towers; t++) {
        mt_tower *T = &m->towers[t];
        const mt_tower_config *c = T->cfg;
        int tid = omp_get_thread_num();
        mt_real *label = m->scratch[0] + (size_t)tid * B;                  /* [B] */
        uint64_t *keys = (uint64_t *)(m->scratch[1] + (size_t)tid * 2 * B);  /* [B] */
        if (backward) {
            mlp_zero_grads(&T->dnn, B);
            mlp_zero_grads(&T->rel, B);
            if (T->rel.n == 0) mt_zero(T->drel_in, (int64_t)B * T->rel_in_width);
            memset(T->dlogits, 0, (size_t)B * (size_t)T->cfg->num_class * sizeof(mt_real));
            if (m->num_expert) {
                mt_zero(T->dtask_in, (int64_t)B * m->experts[0].out);
                memset(T->dgate, 0, (size_t)B * (size_t)m->num_expert * sizeof(mt_real));
            }
        }
        for (int i = 0; i < B; i++) label[i] = b->labels[(size_t)i * nl + c->label_index];
        tower_weights(m, T, b, T->loss_w);
        mt_loss_args a = {.num_class = c->num_class, .logits = T->logits, .label = label,
                          .weight = T->loss_w, .B = B, .temperature = 1};
        T->loss = 0;
        if (c->n_losses == 0) {
            a.type = c->loss_type;
            double l = mt_loss_eval(&a, (mt_real)c->weight, backward ? T->dlogits : NULL);
            T->loss = c->weight * l;
        } else {
            for (int k = 0; k < c->n_losses; k++) {
                const mt_loss_config *lc = &c->losses[k];
                a.type = lc->type;
                a.margin = lc->margin;
                a.temperature = lc->temperature > 0 ? lc->temperature : 1;
                a.session = session_keys(m, b, lc->session_index, keys);
                double s = (double)lc->weight * c->weight;
                double l = mt_loss_eval(&a, (mt_real)s, backward ? T->dlogits : NULL);
                T->loss += s * l;
            }
        }
    }
    for (int t = 0; t < m->n_towers; t++) total += m->towers[t].loss;

    /* embedding regularization: emb_reg * 1/2 ||looked-up||^2 (its gradient is added to dX
     * after the bottom's backward, which writes dX) */
    double er_loss = regularize ? p->model.embedding_regularization : 0;
    if (er_loss > 0) reg += 0.5 * er_loss * emb_sumsq(m, B);
    m->reg_loss = reg;
    m->total_loss = total + reg;
    if (!backward) return MTREC_OK;

    /* ---- backward: towers in reverse config order (children before parents) ---------- */
    mtrec_status st;
    int lanes = m->lanes;
    for (int t = m->n_towers - 1; t >= 0 && !lanes; t--) {
        mt_tower *T = &m->towers[t];
        if ((st = head_backward(m, T, B, e)) != MTREC_OK) return st;
        if ((st = mlp_backward(m, m->mm, &T->dnn, B, 0, e)) != MTREC_OK) return st;
        if ((st = gate_backward(m, T, B, e)) != MTREC_OK) return st;
    }
    if (lanes) {
        int wrote[2];
        if ((st = towers_graph(m, B, 1, wrote, e)) != MTREC_OK) return st;
        if (dy_from_shares(m)) set_lane_shares(m, wrote, B);
        else add_lane_shares(m, m->lane_dx, wrote, B);
        for (int t = m->n_towers - 1; t >= 0; t--)
            if ((st = gate_backward(m, &m->towers[t], B, e)) != MTREC_OK) return st;
    }
    if (m->num_expert && (st = experts_run(m, B, 1, 1, e)) != MTREC_OK) return st;
    /* embedding regularization gradient: dX += emb_reg * X on the embedded columns; the
     * bottom split adds it to each half of dX's rows as it writes them (mt_model.emb_reg_rows) */
    double er = regularize ? p->model.embedding_regularization : 0;
    m->emb_reg_rows = m->bsplit_ready && er > 0 ? (mt_real)er : 0;
    st = m->bsplit_ready ? mt_bottom_split_backward(m, B, e)
                         : mlp_backward(m, m->mm, &m->bottom, B, 1, e);  /* sole producer of dX */
    int reg_done = m->emb_reg_rows > 0;
    m->emb_reg_rows = 0;
    if (st != MTREC_OK) return st;
    if (er > 0 && !reg_done) emb_reg_grad(m, B, (mt_real)er);

    /* embeddings: sparse row gradients, the tables in parallel (each table's features in
     * plan order on one thread: a table's sums do not depend on the thread count) */
    const mt_feature_plan *plan = &m->plan;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed) if (B * plan->n_items >= 4096)
    for (int t = 0; t < m->n_tables; t++) {
        mt_table *T = &m->tables[t];
        for (int i = 0; i < plan->n_items && !failed; i++) {
            const mt_feature_plan_item *it = &plan->items[i];
            if (it->out != MT_OUT_EMBED || it->table != t) continue;
            failed |= mt_embbag_backward(&T->grad, m->dX, plan->group_width, it->group_offset, T->plan->dim,
                                         b->offsets[i], b->ids[i], it->weighted ? b->weights[i] : NULL, B,
                                         it->combiner) != MTREC_OK;
        }
    }
    if (failed) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory in the embedding gradient");
    return MTREC_OK;
}

/* ---- outputs ---------------------------------------------------------------------------- */
int mt_model_output_width(const mt_model *m, int tower) {
    int c = m->towers[tower].cfg->num_class;
    return c > 1 ? c : 1;
}

void mt_model_outputs(const mt_model *m, int tower, float *out) {
    const mt_tower *T = &m->towers[tower];
    int C = T->cfg->num_class, B = m->B;
    mt_loss_type lt = T->cfg->n_losses ? T->cfg->losses[0].type : T->cfg->loss_type;
    for (int i = 0; i < B; i++) {
        const mt_real *z = T->logits + (size_t)i * C;
        if (C > 1) {
            double mx = z[0], s = 0;
            for (int k = 1; k < C; k++) mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < C; k++) s += exp((double)z[k] - mx);
            for (int k = 0; k < C; k++) out[(size_t)i * C + k] = (float)(exp((double)z[k] - mx) / s);
        } else if (lt == MT_LOSS_L2) {
            out[i] = (float)z[0];
        } else {
            out[i] = (float)(1.0 / (1.0 + exp(-(double)z[0])));
        }
    }
}
