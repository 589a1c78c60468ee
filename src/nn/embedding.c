/* embedding.c: the embedding bag (sum / mean of table rows per example, optionally
 * weighted) and its sparse gradient: one gradient row per distinct table row touched in a
 * batch, found through an open-addressing hash (linear probing, key -1 = empty).
 *
 * Pruning follows TF's safe_embedding_lookup_sparse, which EasyRec's embedding columns use:
 * ids < 0 and, when weights are given, entries with weight <= 0 are dropped before
 * combining; a bag left empty gives zeros. 'mean' divides by the sum of the kept weights
 * (by the kept count when unweighted), as embedding_lookup_sparse's 'mean' combiner.
 * This file does not own the tables or apply updates (train/optim does). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "util/hash.h"

#define PAR_MIN 32768

/* Entry k of a bag is used (TF safe lookup pruning). */
static inline int bag_keep(const int64_t *ids, const mt_real *weights, int64_t k) {
    return ids[k] >= 0 && (!weights || weights[k] > 0);
}

/* Combined scale of bag b's entries: 1 for sum, 1/(sum of kept weights or count) for mean;
 * 0 when the bag is empty after pruning. */
static mt_real bag_scale(const int32_t *offsets, const int64_t *ids, const mt_real *weights,
                         int b, mt_combiner combiner) {
    double den = 0;
    int any = 0;
    for (int64_t k = offsets[b]; k < offsets[b + 1]; k++) {
        if (!bag_keep(ids, weights, k)) continue;
        any = 1;
        den += weights ? (double)weights[k] : 1.0;
    }
    if (!any) return 0;
    return combiner == MT_COMBINER_MEAN ? (mt_real)(1.0 / den) : 1;
}

/* Bags ahead whose table rows the forward prefetches */
#define EMB_PF_BAGS 8

/* Ask for the cache lines of one table row of dim values. */
static inline void emb_prefetch_row(const mt_real *row, int dim) {
    const char *p = (const char *)row, *end = (const char *)(row + dim);
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
}

/* out[b, out_off .. out_off+dim) = combine over the bag (see nn.h and the file comment). */
void mt_embbag_forward(mt_real *out, int out_stride, int out_off, const mt_real *table, int dim,
                       const int32_t *offsets, const int64_t *ids, const mt_real *weights,
                       int B, mt_combiner combiner) {
    if (B <= 0 || dim <= 0) return;
    int64_t work = ((int64_t)offsets[B] - offsets[0]) * dim;
#pragma omp parallel for schedule(static) if (work >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        /* the table rows of bag b + EMB_PF_BAGS are asked for now: a large table's rows come
         * from L3 or memory, and the loop below would otherwise wait for each in turn */
        if (b + EMB_PF_BAGS < B)
            for (int64_t k = offsets[b + EMB_PF_BAGS]; k < offsets[b + EMB_PF_BAGS + 1]; k++)
                if (ids[k] >= 0) emb_prefetch_row(table + (size_t)ids[k] * dim, dim);
        mt_real *restrict o = out + (size_t)b * out_stride + out_off;
        for (int j = 0; j < dim; j++) o[j] = 0;
        for (int64_t k = offsets[b]; k < offsets[b + 1]; k++) {
            if (!bag_keep(ids, weights, k)) continue;
            const mt_real *restrict t = table + (size_t)ids[k] * dim;
            mt_real w = weights ? weights[k] : 1;
            for (int j = 0; j < dim; j++) o[j] += w * t[j];
        }
        if (combiner == MT_COMBINER_MEAN) {
            mt_real s = bag_scale(offsets, ids, weights, b, combiner);
            for (int j = 0; j < dim; j++) o[j] *= s;
        }
    }
}

/* ---- sparse gradient -------------------------------------------------------------------- */

static inline size_t sg_home(const mt_sparse_grad *g, int64_t row) {
    return (size_t)(mt_hash_mix64((uint64_t)row) & (uint64_t)(g->hcap - 1));
}

/* Hash position holding row, or the empty position where it would go. */
static size_t sg_probe(const mt_sparse_grad *g, int64_t row) {
    size_t mask = (size_t)g->hcap - 1, p = sg_home(g, row);
    while (g->hkeys[p] != -1 && g->hkeys[p] != row) p = (p + 1) & mask;
    return p;
}

/* Allocate a hash index of hcap positions (all empty) and insert the n rows in use. */
static int sg_rehash(mt_sparse_grad *g, int hcap) {
    int64_t *k = malloc((size_t)hcap * sizeof *k);
    int32_t *v = malloc((size_t)hcap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (int i = 0; i < hcap; i++) k[i] = -1;
    free(g->hkeys);
    free(g->hvals);
    g->hkeys = k;
    g->hvals = v;
    g->hcap = hcap;
    for (int i = 0; i < g->n; i++) {
        size_t p = sg_probe(g, g->rows[i]);
        g->hkeys[p] = g->rows[i];
        g->hvals[p] = i;
    }
    return 0;
}

/* Grow slot capacity to new_cap (keeping the n rows in use) and the index to >= 2*new_cap. */
static int sg_grow(mt_sparse_grad *g, int new_cap) {
    int64_t *rows = realloc(g->rows, (size_t)new_cap * sizeof *rows);
    if (!rows) return -1;
    g->rows = rows;
    mt_real *grad = mt_alloc_aligned((size_t)new_cap * g->dim * sizeof *grad);
    if (!grad) return -1;
    if (g->n) memcpy(grad, g->grad, (size_t)g->n * g->dim * sizeof *grad);
    free(g->grad);
    g->grad = grad;
    g->cap = new_cap;
    if (g->hcap < 2 * new_cap) {
        int h = g->hcap ? g->hcap : 16;
        while (h < 2 * new_cap) h *= 2;
        if (sg_rehash(g, h)) return -1;
    }
    return 0;
}

mtrec_status mt_sparse_grad_init(mt_sparse_grad *g, int dim, int initial_cap, mt_err *e) {
    if (!g) return mt_fail(e, MTREC_ERR_ARG, "mt_sparse_grad_init: g is NULL");
    memset(g, 0, sizeof *g);
    if (dim <= 0) return mt_fail(e, MTREC_ERR_ARG, "mt_sparse_grad_init: dim %d <= 0", dim);
    if (initial_cap < 16) initial_cap = 16;
    if (initial_cap > (1 << 28))
        return mt_fail(e, MTREC_ERR_ARG, "mt_sparse_grad_init: capacity %d too large",
                       initial_cap);
    g->dim = dim;
    if (sg_grow(g, initial_cap)) {
        mt_sparse_grad_free(g);
        return mt_fail(e, MTREC_ERR_NOMEM, "mt_sparse_grad_init: out of memory (%d rows x %d)",
                       initial_cap, dim);
    }
    return MTREC_OK;
}

void mt_sparse_grad_free(mt_sparse_grad *g) {
    if (!g) return;
    free(g->rows);
    free(g->grad);
    free(g->hkeys);
    free(g->hvals);
    memset(g, 0, sizeof *g);
}

/* Forget all rows in O(n): the positions of all n keys are found first (overwriting rows[],
 * no longer needed) and only then emptied, so no probe chain is cut while still searched. */
void mt_sparse_grad_reset(mt_sparse_grad *g) {
    if (!g || !g->hkeys) return;
    for (int i = 0; i < g->n; i++) g->rows[i] = (int64_t)sg_probe(g, g->rows[i]);
    for (int i = 0; i < g->n; i++) g->hkeys[g->rows[i]] = -1;
    g->n = 0;
}

/* Slot of row, inserted with a zeroed gradient row if new; -1 on allocation failure or a
 * negative row. */
int mt_sparse_grad_slot(mt_sparse_grad *g, int64_t row) {
    if (row < 0 || !g->hkeys) return -1;
    size_t p = sg_probe(g, row);
    if (g->hkeys[p] == row) return g->hvals[p];
    if (g->n == g->cap) {
        if (g->cap > (1 << 29) || sg_grow(g, 2 * g->cap)) return -1;
        p = sg_probe(g, row);
    }
    int s = g->n++;
    g->rows[s] = row;
    memset(g->grad + (size_t)s * g->dim, 0, (size_t)g->dim * sizeof *g->grad);
    g->hkeys[p] = row;
    g->hvals[p] = s;
    return s;
}

/* g[row] += (w_k * scale_b) * dout[b, out_off..] for every kept id k of every bag b. */
mtrec_status mt_embbag_backward(mt_sparse_grad *g, const mt_real *dout, int out_stride,
                                int out_off, int dim, const int32_t *offsets,
                                const int64_t *ids, const mt_real *weights, int B,
                                mt_combiner combiner) {
    if (!g || g->dim != dim) return MTREC_ERR_ARG;
    for (int b = 0; b < B; b++) {
        mt_real s = bag_scale(offsets, ids, weights, b, combiner);
        if (s == 0) continue;
        const mt_real *restrict d = dout + (size_t)b * out_stride + out_off;
        for (int64_t k = offsets[b]; k < offsets[b + 1]; k++) {
            if (!bag_keep(ids, weights, k)) continue;
            int slot = mt_sparse_grad_slot(g, ids[k]);
            if (slot < 0) return MTREC_ERR_NOMEM;
            mt_real c = (weights ? weights[k] : 1) * s;
            mt_real *restrict gr = g->grad + (size_t)slot * dim;
            for (int j = 0; j < dim; j++) gr[j] += c * d[j];
        }
    }
    return MTREC_OK;
}
