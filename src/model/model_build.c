/* model_build.c: builds an mt_model from a pipeline: registers every dense tensor (names
 * follow EasyRec's scopes: bottom_dnn/dnn_0/kernel, dnn_<tower>/..., relation_dnn_<tower>/...,
 * expert_<i>/..., gate_<tower>/..., output_<tower>/...), allocates parameters, gradients,
 * optimizer slots, embedding tables and every activation buffer once, and initialises the
 * weights. The math is in model/dbmtl.c. */
#include "model/dbmtl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "train/optim.h"
#include "util/hash.h"

#define TABLE_INIT_ROWS 65536 /* rows per independently seeded block of a table's init */

/* ---- allocation bookkeeping ------------------------------------------------------------ */
typedef struct builder {
    mt_model *m;
    void **allocs; int n_allocs, cap_allocs;  /* activation buffers, freed with the model */
    int failed;
} builder;

static void *b_alloc(builder *b, size_t n_reals) {
    if (b->failed) return NULL;
    if (b->n_allocs == b->cap_allocs) {
        int nc = b->cap_allocs ? 2 * b->cap_allocs : 64;
        void **np = realloc(b->allocs, (size_t)nc * sizeof *np);
        if (!np) { b->failed = 1; return NULL; }
        b->allocs = np;
        b->cap_allocs = nc;
    }
    void *p = mt_calloc_aligned(n_reals * sizeof(mt_real));
    if (!p) { b->failed = 1; return NULL; }
    b->allocs[b->n_allocs++] = p;
    return p;
}

static size_t reg(builder *b, const char *name, int64_t d0, int64_t d1, int ndim, int is_kernel,
                  int is_stat) {
    mt_model *m = b->m;
    if (b->failed) return 0;
    if (m->n_info == m->cap_info) {
        int nc = m->cap_info ? 2 * m->cap_info : 64;
        mt_param_info *ni = realloc(m->info, (size_t)nc * sizeof *ni);
        if (!ni) { b->failed = 1; return 0; }
        m->info = ni;
        m->cap_info = nc;
    }
    mt_param_info *pi = &m->info[m->n_info++];
    memset(pi, 0, sizeof *pi);
    snprintf(pi->name, sizeof pi->name, "%s", name);
    pi->shape[0] = d0;
    pi->shape[1] = d1;
    pi->ndim = ndim;
    pi->is_kernel = is_kernel;
    pi->is_stat = is_stat;
    size_t n = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    size_t *counter = is_stat ? &m->n_stats : &m->n_params;
    pi->offset = *counter;
    *counter += (n + 15) & ~(size_t)15;  /* keep every tensor 64-byte aligned */
    return pi->offset;
}

/* The non-stat tensors' start offsets in params (ascending: reg hands them out in order)
 * and kernel flags, and the per-block partial sums of the gradients' starting values
 * (mt_model.grad_part); 0, or -1 when out of memory. */
static int build_grad_segments(mt_model *m) {
    m->gseg_start = malloc((size_t)(m->n_info ? m->n_info : 1) * sizeof *m->gseg_start);
    m->gseg_kernel = malloc((size_t)(m->n_info ? m->n_info : 1) * sizeof *m->gseg_kernel);
    m->grad_part = calloc(m->n_params / MT_GRAD_BLOCK + 1, sizeof *m->grad_part);
    if (!m->gseg_start || !m->gseg_kernel || !m->grad_part) return -1;
    m->n_gseg = 0;
    for (int i = 0; i < m->n_info; i++) {
        if (m->info[i].is_stat) continue;
        m->gseg_start[m->n_gseg] = m->info[i].offset;
        m->gseg_kernel[m->n_gseg++] = m->info[i].is_kernel;
    }
    return 0;
}

static int is_identity(const mt_dnn_config *c) {
    return !c->present || c->n_layers == 0 || (c->n_layers == 1 && c->hidden_units[0] == 0);
}

/* Register and allocate an MLP over input x (width in), gradient dx (may be NULL). */
static void build_mlp(builder *b, mt_mlp *mlp, const char *scope, const mt_dnn_config *c, int in,
                      const mt_real *x, mt_real *dx, mt_rng *rng) {
    mt_model *m = b->m;
    size_t B = (size_t)m->max_batch;
    memset(mlp, 0, sizeof *mlp);
    mlp->in = in;
    mlp->x = x;
    mlp->dx = dx;
    mlp->out = in;
    mlp->y = x;
    mlp->dy = dx;
    if (is_identity(c)) return;
    mlp->n = c->n_layers;
    mlp->layers = calloc((size_t)mlp->n, sizeof *mlp->layers);
    if (!mlp->layers) { b->failed = 1; mlp->n = 0; return; }
    int w = in;
    for (int i = 0; i < mlp->n; i++) {
        mt_layer *L = &mlp->layers[i];
        char nm[128];
        L->in = w;
        L->out = c->hidden_units[i];
        L->use_bn = c->use_bn;
        L->act = c->activation;
        L->dropout = c->n_dropout == c->n_layers ? (mt_real)c->dropout_ratio[i] : 0;
        L->rng = rng;
        snprintf(nm, sizeof nm, "%s/dnn_%d/kernel", scope, i);
        L->W = reg(b, nm, L->in, L->out, 2, 1, 0);
        snprintf(nm, sizeof nm, "%s/dnn_%d/bias", scope, i);
        L->b = reg(b, nm, L->out, 0, 1, 0, 0);
        if (L->use_bn) {
            snprintf(nm, sizeof nm, "%s/dnn_%d/bn/gamma", scope, i);
            L->gamma = reg(b, nm, L->out, 0, 1, 0, 0);
            snprintf(nm, sizeof nm, "%s/dnn_%d/bn/beta", scope, i);
            L->beta = reg(b, nm, L->out, 0, 1, 0, 0);
            snprintf(nm, sizeof nm, "%s/dnn_%d/bn/moving_mean", scope, i);
            L->mmean = reg(b, nm, L->out, 0, 1, 0, 1);
            snprintf(nm, sizeof nm, "%s/dnn_%d/bn/moving_variance", scope, i);
            L->mvar = reg(b, nm, L->out, 0, 1, 0, 1);
        }
        L->x = i == 0 ? x : mlp->layers[i - 1].h;
        L->dx = i == 0 ? dx : mlp->layers[i - 1].dh;
        size_t n = B * (size_t)L->out;
        L->z = b_alloc(b, n);
        L->pre = L->use_bn ? b_alloc(b, n) : L->z;
        L->act_out = b_alloc(b, n);
        L->mask = L->dropout > 0 ? b_alloc(b, n) : NULL;
        L->h = L->dropout > 0 ? b_alloc(b, n) : L->act_out;
        if (L->use_bn) {
            L->mean = b_alloc(b, (size_t)L->out);
            L->rstd = b_alloc(b, (size_t)L->out);
        }
        L->dh = b_alloc(b, n);
        if (L->out > m->max_width) m->max_width = L->out;
        w = L->out;
    }
    mlp->out = w;
    mlp->y = mlp->layers[mlp->n - 1].h;
    mlp->dy = mlp->layers[mlp->n - 1].dh;
}

/* ---- initialisation -------------------------------------------------------------------- */
static void init_params(mt_model *m, uint64_t seed) {
    mt_rng r;
    mt_rng_seed(&r, seed);
    for (int i = 0; i < m->n_info; i++) {
        const mt_param_info *pi = &m->info[i];
        mt_real *d = (pi->is_stat ? m->stats : m->params) + pi->offset;
        size_t n = (size_t)pi->shape[0] * (size_t)(pi->ndim > 1 ? pi->shape[1] : 1);
        const char *leaf = strrchr(pi->name, '/');
        leaf = leaf ? leaf + 1 : pi->name;
        if (pi->is_kernel) {
            double limit = sqrt(6.0 / (double)(pi->shape[0] + pi->shape[1]));
            for (size_t k = 0; k < n; k++) d[k] = (mt_real)((2.0 * mt_rng_uniform(&r) - 1.0) * limit);
        } else if (!strcmp(leaf, "gamma") || !strcmp(leaf, "moving_variance")) {
            for (size_t k = 0; k < n; k++) d[k] = 1;
        } else {
            for (size_t k = 0; k < n; k++) d[k] = 0;
        }
    }
    for (int t = 0; t < m->n_tables; t++) {
        mt_table *T = &m->tables[t];
        uint64_t tseed = seed ^ mt_fnv1a64(T->plan->name, strlen(T->plan->name), 0x5eed);
        /* TF embedding_column default (EasyRec passes no initializer): truncated normal,
         * stddev 1/sqrt(dim). (EASYREC_SEMANTICS.md says 0.01/sqrt(dim); the source says 1.)
         * Blocks of TABLE_INIT_ROWS rows draw from their own stream (seeded by table and
         * block), so large tables initialise on every core and the values do not depend on
         * the thread count. */
        double sd = 1.0 / sqrt((double)T->plan->dim);
        int64_t rows = T->plan->rows, dim = T->plan->dim;
        int64_t nblk = (rows + TABLE_INIT_ROWS - 1) / TABLE_INIT_ROWS;
#pragma omp parallel for schedule(dynamic, 1) if (nblk > 1)
        for (int64_t blk = 0; blk < nblk; blk++) {
            mt_rng tr;
            mt_rng_seed(&tr, tseed + 0x9e3779b97f4a7c15ull * (uint64_t)blk);
            int64_t r1 = (blk + 1) * TABLE_INIT_ROWS < rows ? (blk + 1) * TABLE_INIT_ROWS : rows;
            for (size_t k = (size_t)(blk * TABLE_INIT_ROWS * dim); k < (size_t)(r1 * dim); k++)
                T->w[k] = (mt_real)mt_rng_truncated_normal(&tr, sd);
        }
    }
}

/* ---- bottom split (see mt_model.bottom_split) ------------------------------------------- */
static void build_bottom_split(builder *b) {
    mt_model *m = b->m;
    mt_mlp *bt = &m->bottom;
    if (!m->lanes || bt->n <= 0) return;
    for (int i = 0; i < bt->n; i++)
        if (bt->layers[i].dropout > 0) return;  /* masks are drawn from the model's stream */
    m->bsplit = calloc((size_t)bt->n, sizeof *m->bsplit);
    if (!m->bsplit) { b->failed = 1; return; }
    size_t B = (size_t)m->max_batch;
    for (int i = 0; i < bt->n && !b->failed; i++) {
        mt_layer *L = &bt->layers[i];
        mt_half_layer *q = &m->bsplit[i];
        int half = ((L->out + 1) / 2 + 15) & ~15;
        q->w[0] = half < L->out ? half : L->out;
        q->w[1] = L->out - q->w[0];
        q->Wp = b_alloc(b, (size_t)L->in * (size_t)L->out);
        int last = i == bt->n - 1;
        q->act = last ? b_alloc(b, B * (size_t)L->out) : L->act_out;
        q->dh = last ? b_alloc(b, B * (size_t)L->out) : L->dh;
    }
    m->bottom_split = !b->failed;
}

/* ---- tower lanes (see mt_model.lanes) -------------------------------------------------- */
static void build_lanes(builder *b, int task_w) {
    mt_model *m = b->m;
    int busy = 0;
    for (int t = 0; t < m->n_towers; t++) busy += m->towers[t].dnn.n > 0;
    if (busy < 2) return;
    int nt = omp_get_max_threads();  /* mt_mm_create sets the pool size: restored below */
    for (int k = 0; k < 2 && !b->failed; k++)
        if (mt_mm_create(1, mt_mm_uses_bf16(m->mm), &m->lane_mm[k], NULL) != MTREC_OK) b->failed = 1;
    omp_set_num_threads(nt);
    if (!m->num_expert)
        for (int k = 0; k < 2 && !b->failed; k++) {
            m->lane_dx[k] = b_alloc(b, (size_t)m->max_batch * (size_t)task_w);
            /* the lane's towers accumulate their input gradient there, not in bottom.dy */
            for (int t = k; t < m->n_towers && m->lane_dx[k]; t += 2)
                if (m->towers[t].dnn.n > 0) {
                    m->towers[t].dnn.dx = m->lane_dx[k];
                    m->towers[t].dnn.layers[0].dx = m->lane_dx[k];
                }
        }
    else
        for (int k = 0; k < 2 && !b->failed; k++) {
            m->expert_dx[k] = b_alloc(b, (size_t)m->max_batch * (size_t)m->bottom.out);
            for (int x = k; x < m->num_expert && m->expert_dx[k]; x += 2) {
                m->experts[x].dx = m->expert_dx[k];
                m->experts[x].layers[0].dx = m->expert_dx[k];
            }
        }
    m->lanes = !b->failed;
#ifndef MT_DOUBLE
    /* the deferred weight gradients' packing buffers or backends (mt_model.defer_wgrad) */
    if (mt_mm_wgrad_direct(m->lane_mm[0]) && mt_mm_wgrad_direct(m->lane_mm[1]))
        for (int k = 0; k < 2; k++) m->wg_pack[k] = b_alloc(b, mt_mm_wgrad_pack_floats(m->max_width));
    if (!b->failed && mt_mm_uses_bf16(m->lane_mm[0]) && mt_mm_uses_bf16(m->lane_mm[1])) {
        for (int k = 0; k < 2; k++)
            if (mt_mm_create(1, 1, &m->wg_mm[k], NULL) != MTREC_OK) b->failed = 1;
        omp_set_num_threads(nt);
    }
#endif
    build_bottom_split(b);
}

/* ---- create / free --------------------------------------------------------------------- */
mtrec_status mt_model_create(const mt_pipeline *p, int max_batch, mt_mm *mm, uint64_t seed,
                             mt_model **out, mt_err *e) {
    return mt_model_create_ex(p, max_batch, mm, seed, NULL, 0, out, e);
}

mtrec_status mt_model_create_ex(const mt_pipeline *p, int max_batch, mt_mm *mm, uint64_t seed,
                                const mt_model *share, int inference, mt_model **out, mt_err *e) {
    if (max_batch <= 0) return mt_fail(e, MTREC_ERR_ARG, "max_batch must be positive");
    mt_model *m = calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory building the model");
    m->p = p;
    m->mm = mm;
    m->max_batch = max_batch;
    m->bf16_handoff = 1;
    mtrec_status st = mt_feature_plan_build(p, &m->plan, e);
    if (st != MTREC_OK) { free(m); return st; }
    builder bd = {.m = m};
    builder *b = &bd;
    size_t B = (size_t)max_batch;
    const mt_dbmtl_config *d = &p->model.dbmtl;

    /* embeddings and the group input */
    int gw = m->plan.group_width;
    m->max_width = gw;
    m->X = b_alloc(b, B * (size_t)gw);
    m->dX = b_alloc(b, B * (size_t)gw);
    m->n_tables = m->plan.n_tables;
    m->tables = calloc((size_t)(m->n_tables ? m->n_tables : 1), sizeof *m->tables);
    if (!m->tables) b->failed = 1;

    /* bottom */
    build_mlp(b, &m->bottom, "bottom_dnn", &d->bottom_dnn, gw, m->X, m->dX, &m->rng);
    int task_w = m->bottom.out;

    /* MMoE experts */
    m->num_expert = (d->num_expert > 0 && !is_identity(&d->expert_dnn)) ? d->num_expert : 0;
    if (m->num_expert) {
        m->experts = calloc((size_t)m->num_expert, sizeof *m->experts);
        m->expert_out = calloc((size_t)m->num_expert, sizeof *m->expert_out);
        m->expert_dout = calloc((size_t)m->num_expert, sizeof *m->expert_dout);
        m->expert_rng = calloc((size_t)m->num_expert, sizeof *m->expert_rng);
        if (!m->experts || !m->expert_out || !m->expert_dout || !m->expert_rng) b->failed = 1;
        for (int i = 0; i < m->num_expert && !b->failed; i++) {
            char scope[64];
            snprintf(scope, sizeof scope, "expert_%d", i);
            build_mlp(b, &m->experts[i], scope, &d->expert_dnn, m->bottom.out, m->bottom.y,
                      m->bottom.dy, &m->expert_rng[i]);
            m->expert_out[i] = m->experts[i].y;
            m->expert_dout[i] = m->experts[i].dy;
        }
        if (!b->failed) task_w = m->experts[0].out;
    }

    /* towers in config order */
    m->n_towers = d->n_towers;
    m->towers = calloc((size_t)m->n_towers, sizeof *m->towers);
    if (!m->towers) b->failed = 1;
    for (int t = 0; t < m->n_towers && !b->failed; t++) {
        mt_tower *T = &m->towers[t];
        const mt_tower_config *tc = &d->towers[t];
        char scope[160];
        T->index = t;
        T->cfg = tc;
        if (m->num_expert) {
            snprintf(scope, sizeof scope, "gate_%s/kernel", tc->tower_name);
            T->gate_W = reg(b, scope, m->bottom.out, m->num_expert, 2, 1, 0);
            snprintf(scope, sizeof scope, "gate_%s/bias", tc->tower_name);
            T->gate_b = reg(b, scope, m->num_expert, 0, 1, 0, 0);
            T->gate_logits = b_alloc(b, B * (size_t)m->num_expert);
            T->gate = b_alloc(b, B * (size_t)m->num_expert);
            T->dgate = b_alloc(b, B * (size_t)m->num_expert);
            T->task_in = b_alloc(b, B * (size_t)task_w);
            T->dtask_in = b_alloc(b, B * (size_t)task_w);
        } else {
            T->task_in = (mt_real *)m->bottom.y;
            T->dtask_in = m->bottom.dy;
        }
        snprintf(scope, sizeof scope, "dnn_%s", tc->tower_name);
        build_mlp(b, &T->dnn, scope, &tc->dnn, task_w, T->task_in, T->dtask_in, &T->rng);
        T->rel_in_width = T->dnn.out;
        for (int r = 0; r < tc->n_relations; r++)
            T->rel_in_width += m->towers[tc->relation_index[r]].rel.out;
        T->rel_in = b_alloc(b, B * (size_t)T->rel_in_width);
        T->drel_in = b_alloc(b, B * (size_t)T->rel_in_width);
        if (T->rel_in_width > m->max_width) m->max_width = T->rel_in_width;
        snprintf(scope, sizeof scope, "relation_dnn_%s", tc->tower_name);
        build_mlp(b, &T->rel, scope, &tc->relation_dnn, T->rel_in_width, T->rel_in, T->drel_in, &m->rng);
        snprintf(scope, sizeof scope, "output_%s/kernel", tc->tower_name);
        T->out_W = reg(b, scope, T->rel.out, tc->num_class, 2, 1, 0);
        snprintf(scope, sizeof scope, "output_%s/bias", tc->tower_name);
        T->out_b = reg(b, scope, tc->num_class, 0, 1, 0, 0);
        T->logits = b_alloc(b, B * (size_t)tc->num_class);
        T->dlogits = b_alloc(b, B * (size_t)tc->num_class);
        T->loss_w = b_alloc(b, B);
    }
    for (int i = 0; i < 3; i++) m->scratch[i] = b_alloc(b, B * (size_t)(m->max_width + 16));
    if (!inference && !b->failed) build_lanes(b, task_w);

    /* flat dense buffers and optimizer slots */
    int slots = inference ? 0 : mt_optim_slots(p->train.optimizer.kind);
    m->inference_only = inference;
    m->shares_weights = share != NULL;
    if (share && (share->n_params != m->n_params || share->n_stats != m->n_stats ||
                  share->n_tables != m->n_tables || share->p != p)) {
        b->failed = 1;
        mt_fail(e, MTREC_ERR_INTERNAL, "shared weights come from another model");
    }
    if (!b->failed) {
        if (share) {
            m->params = share->params;
            m->stats = share->stats;
        } else {
            m->params = mt_calloc_aligned(m->n_params * sizeof(mt_real));
            m->stats = mt_calloc_aligned((m->n_stats ? m->n_stats : 1) * sizeof(mt_real));
        }
        if (!inference) m->grads = mt_calloc_aligned(m->n_params * sizeof(mt_real));
        if (!m->params || (!inference && !m->grads) || !m->stats) b->failed = 1;
        if (slots >= 1 && !(m->opt_s0 = mt_calloc_aligned(m->n_params * sizeof(mt_real)))) b->failed = 1;
        if (slots >= 2 && !(m->opt_s1 = mt_calloc_aligned(m->n_params * sizeof(mt_real)))) b->failed = 1;
    }
    for (int t = 0; t < m->n_tables && !b->failed; t++) {
        mt_table *T = &m->tables[t];
        T->plan = &m->plan.tables[t];
        size_t n = (size_t)T->plan->rows * (size_t)T->plan->dim;
        T->w = share ? share->tables[t].w : mt_alloc_aligned(n * sizeof(mt_real));
        if (!T->w) { b->failed = 1; break; }
        if (slots >= 1 && !(T->s0 = mt_calloc_aligned(n * sizeof(mt_real)))) b->failed = 1;
        if (slots >= 2 && !(T->s1 = mt_calloc_aligned(n * sizeof(mt_real)))) b->failed = 1;
        if (!b->failed && !inference &&
            mt_sparse_grad_init(&T->grad, T->plan->dim, max_batch * 4, e) != MTREC_OK)
            b->failed = 1;
    }
    if (!b->failed && !inference && build_grad_segments(m)) b->failed = 1;
    if (!b->failed && !inference &&
        !(m->emb_part = calloc((size_t)max_batch / MT_EMB_ROWS + 1, sizeof *m->emb_part)))
        b->failed = 1;
    /* the model owns the activation buffers from here on, also when building failed */
    m->allocs_ = bd.allocs;
    m->n_allocs_ = bd.n_allocs;
    if (b->failed) {
        mt_model_free(m);
        if (e && e->code != MTREC_OK && e->msg[0]) return e->code;
        return mt_fail(e, MTREC_ERR_NOMEM, "out of memory building the model");
    }
    if (slots >= 1) mt_optim_init_slots(&p->train.optimizer, m->opt_s0, m->opt_s1, m->n_params);
    for (int t = 0; t < m->n_tables; t++)
        if (slots >= 1)
            mt_optim_init_slots(&p->train.optimizer, m->tables[t].s0, m->tables[t].s1,
                                (size_t)m->tables[t].plan->rows * (size_t)m->tables[t].plan->dim);
    mt_rng_seed(&m->rng, seed ^ 0xd20f0a7ull);
    if (!share) init_params(m, seed);
    *out = m;
    return MTREC_OK;
}

static void free_mlp(mt_mlp *mlp) { free(mlp->layers); }

void mt_model_free(mt_model *m) {
    if (!m) return;
    for (int k = 0; k < 2; k++) mt_mm_free(m->lane_mm[k]);
    for (int k = 0; k < 2; k++) mt_mm_free(m->wg_mm[k]);
    for (int i = 0; i < m->n_allocs_; i++) free(m->allocs_[i]);
    free(m->allocs_);
    free_mlp(&m->bottom);
    for (int i = 0; i < m->num_expert && m->experts; i++) free_mlp(&m->experts[i]);
    free(m->bsplit);
    free(m->experts);
    free(m->expert_rng);
    free((void *)m->expert_out);
    free(m->expert_dout);
    for (int t = 0; t < m->n_towers && m->towers; t++) {
        free_mlp(&m->towers[t].dnn);
        free_mlp(&m->towers[t].rel);
    }
    free(m->towers);
    for (int t = 0; t < m->n_tables && m->tables; t++) {
        if (!m->shares_weights) free(m->tables[t].w);
        free(m->tables[t].s0);
        free(m->tables[t].s1);
        mt_sparse_grad_free(&m->tables[t].grad);
    }
    free(m->tables);
    if (!m->shares_weights) {
        free(m->params);
        free(m->stats);
    }
    free(m->grads);
    free(m->grad_part);
    free(m->emb_part);
    free(m->gseg_start);
    free(m->gseg_kernel);
    free(m->opt_s0);
    free(m->opt_s1);
    free(m->info);
    mt_feature_plan_free(&m->plan);
    free(m);
}

/* ---- queries --------------------------------------------------------------------------- */
const mt_param_info *mt_model_param(const mt_model *m, const char *name) {
    for (int i = 0; i < m->n_info; i++)
        if (!strcmp(m->info[i].name, name)) return &m->info[i];
    return NULL;
}

mt_real *mt_model_param_data(mt_model *m, const mt_param_info *pi) {
    m->grads_primed = 0;
    return (pi->is_stat ? m->stats : m->params) + pi->offset;
}

size_t mt_model_dense_count(const mt_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_info; i++)
        if (!m->info[i].is_stat)
            n += (size_t)m->info[i].shape[0] * (size_t)(m->info[i].ndim > 1 ? m->info[i].shape[1] : 1);
    return n;
}

int64_t mt_model_embedding_count(const mt_model *m) {
    int64_t n = 0;
    for (int t = 0; t < m->n_tables; t++) n += m->plan.tables[t].rows * m->plan.tables[t].dim;
    return n;
}
