/* dbmtl.h: the DBMTL model: parameters, activations, forward and backward.
 *
 *   batch --embedding bags--> X[B, group_width] (group "all", feature_names order)
 *     --bottom_dnn--> H (identity when absent)
 *     --MMoE (num_expert experts + one softmax gate per tower) or shared H--> task_in[t]
 *     --dnn[t]--> T[t]
 *     --relation_dnn[t](concat(T[t], R[p] for p in relation_tower_names[t]))--> R[t]
 *     --output dense--> logits[t][B, num_class]
 *
 * Dense parameters live in one flat buffer (`params`), with `grads` mirroring it, so the
 * optimizer is one loop; BN moving statistics live in `stats` (not trained); embedding
 * tables are separate with row-wise (sparse) gradients. Every activation buffer is sized
 * once for `max_batch`; forward/backward never allocate. Built in model/model_build.c,
 * computed in model/dbmtl.c (forward, then backward in reverse order). */
#ifndef MT_DBMTL_H
#define MT_DBMTL_H

#include <stddef.h>
#include <stdint.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "nn/nn.h"

#define MT_BN_MOMENTUM 0.99
#define MT_BN_EPS 1e-3

/* A named dense tensor inside `params` (or `stats`). */
typedef struct mt_param_info {
    char name[128];
    size_t offset;            /* element offset into params (or stats) */
    int64_t shape[2];
    int ndim;
    int is_kernel;            /* gets l2_regularization */
    int is_stat;              /* lives in stats, not params (BN moving mean/variance) */
} mt_param_info;

/* One DNN layer: dense -> [BN] -> activation -> [dropout]. */
typedef struct mt_layer {
    int in, out;
    size_t W, b, gamma, beta;   /* offsets into params */
    size_t mmean, mvar;         /* offsets into stats */
    int use_bn;
    mt_activation act;
    mt_real dropout;
    mt_rng *rng;                /* stream of its dropout masks: the tower's for a tower dnn
                                 * layer, else the model's */
    const mt_real *x;           /* input [B, in] */
    mt_real *dx;                /* gradient of the input (accumulated), or NULL */
    mt_real *z;                 /* dense output [B, out] */
    mt_real *pre;               /* activation input: BN output, or z without BN */
    mt_real *act_out;           /* [B, out] */
    mt_real *mask;              /* dropout mask [B, out] or NULL */
    mt_real *h;                 /* layer output: dropout(act_out), or act_out */
    mt_real *mean, *rstd;       /* BN batch statistics [out] */
    mt_real *dh;                /* gradient of h [B, out] (accumulated) */
} mt_layer;

/* A bottom layer computed as two halves of its columns in training (mt_model.bottom_split,
 * model/bottom_split.c). */
typedef struct mt_half_layer {
    int w[2];                   /* widths of the halves: columns [0, w[0]) and [w[0], out) */
    mt_real *Wp;                /* the kernel by blocks (input half h, output half k) of
                                 * [in_h, w_k], packed one after another (its gradient is
                                 * accumulated in place: mt_mm_gemm_ld) */
    mt_real *act, *dh;          /* the output and its gradient as halves ([B, w[0]] then
                                 * [B, w[1]]): the layer's own act_out / dh buffers, except
                                 * for the last layer, whose act_out / dh stay row-major */
    uint16_t *act16[2], *dz16[2];  /* this step's bf16 hand-offs of half k's output and dz
                                 * (mt_model.bf16_handoff), in lane k's backend, or NULL */
    uint16_t *wp16[2][2];       /* this step's bf16 hand-off of kernel block (h, k), packed
                                 * by lane k straight from the kernel (no f32 Wp then), in
                                 * its backend, or NULL */
} mt_half_layer;

/* A stack of layers; n == 0 is the identity (y aliases x, dy aliases dx). */
typedef struct mt_mlp {
    int n;
    mt_layer *layers;
    int in, out;
    const mt_real *x;
    mt_real *dx;
    const mt_real *y;
    mt_real *dy;
    const mt_mm *fwd_mm;        /* backend of the last training forward: the backward must run
                                 * on the same one (bf16 copies, hand-offs, live in it) */
} mt_mlp;

typedef struct mt_tower {
    int index;
    const mt_tower_config *cfg;
    size_t gate_W, gate_b;      /* MMoE gate dense (in -> num_expert) */
    mt_real *gate_logits, *gate, *dgate;  /* [B, E] */
    mt_real *task_in, *dtask_in; /* [B, expert out] (MMoE) or aliases of the bottom output */
    mt_mlp dnn;                 /* task tower */
    mt_real *rel_in, *drel_in;  /* concat buffer [B, rel_in_width] */
    int rel_in_width;
    mt_mlp rel;                 /* relation dnn (identity when absent) */
    size_t out_W, out_b;        /* output dense rel.out -> num_class */
    mt_real *logits, *dlogits;  /* [B, num_class] */
    mt_real *loss_w;            /* [B] per-sample loss weights (scratch) */
    double loss;                /* weighted tower loss of the last loss_backward */
    mt_rng rng;                 /* dropout masks of the dnn: seeded from the model's rng at
                                 * every training forward, so a tower draws the same masks
                                 * whichever thread runs it and when (tower lanes) */
} mt_tower;

typedef struct mt_table {
    const mt_table_plan *plan;
    mt_real *w;                 /* [rows, dim] */
    mt_real *s0, *s1;           /* optimizer slots, same shape, or NULL */
    mt_sparse_grad grad;
} mt_table;

typedef struct mt_model {
    const mt_pipeline *p;
    mt_feature_plan plan;
    mt_mm *mm;
    int max_batch;
    int B;                      /* rows of the last forward */
    /* dense parameters */
    mt_param_info *info; int n_info, cap_info;
    size_t n_params, n_stats;
    mt_real *params, *grads, *stats;
    mt_real *opt_s0, *opt_s1;   /* optimizer slots mirroring params, or NULL */
    /* embeddings */
    mt_table *tables; int n_tables;
    /* activations */
    mt_real *X, *dX;            /* [B, group_width] */
    mt_mlp bottom;
    int num_expert;
    mt_mlp *experts;            /* [num_expert] */
    mt_rng *expert_rng;         /* [num_expert] dropout streams, seeded as the towers' */
    const mt_real **expert_out; /* [num_expert] pointers for mt_mix_* */
    mt_real **expert_dout;
    mt_tower *towers; int n_towers;
    mt_real *scratch[3];        /* [max_batch, max_width] each */
    int max_width;
    mt_rng rng;                 /* dropout of the bottom, experts and relation layers; seeds
                                 * the towers' streams */
    /* the last loss */
    double total_loss, reg_loss;
    /* The dense gradients' starting values (l2 * W on kernels, zero elsewhere), written in
     * blocks of MT_GRAD_BLOCK elements, each with its partial sum of squared kernel weights
     * in grad_part (summed in block order): by the backward (dbmtl.c init_dense_grads), or
     * ahead of it by the optimizer's pass over each block it just updated
     * (mt_model_prime_grads_block; the trainer's mt_train_apply_update), which saves the
     * backward a pass over every weight. grads_primed: the grads hold those values for the
     * current weights with l2 = primed_l2, and primed_sumsq their sum; cleared by the
     * backward that uses them and by mt_model_param_data (a writer of weights). */
    double *grad_part;          /* [ceil(n_params / MT_GRAD_BLOCK)], training models */
    size_t *gseg_start;         /* where each non-stat tensor starts in params, ascending */
    int *gseg_kernel;           /* ... and whether it is a kernel */
    int n_gseg;
    int grads_primed;
    mt_real primed_l2;
    double primed_sumsq;
    int inference_only;         /* no gradients or optimizer slots */
    int shares_weights;         /* params, stats and tables belong to another model */
    /* Tower lanes (training models with >= 2 towers whose dnn has layers): the
     * towers' dnn stacks run as two lanes (towers t % 2), on two threads when there are
     * two, each lane with its own single-threaded matrix backend, so 5 small towers cost
     * 2 fork/joins per step instead of dozens (dbmtl.c towers_graph: the lanes and the
     * relation/output layers as a task graph). Without MMoE each lane accumulates its towers'
     * share of the bottom output's gradient in lane_dx, added to bottom.dy in lane order:
     * the same arithmetic at any thread count. */
    int lanes;
    mt_mm *lane_mm[2];
    mt_real *lane_dx[2];        /* [max_batch, bottom.out] or NULL (MMoE: towers own theirs) */
    /* With MMoE and lanes, the experts run as lanes too (experts x % 2, dbmtl.c experts_run),
     * each lane summing its experts' share of the bottom output's gradient here, added to
     * bottom.dy in lane order. */
    mt_real *expert_dx[2];      /* [max_batch, bottom.out] or NULL */
    /* In the towers' backward on two threads, each layer's weight gradient X^T dz runs as its
     * own task (dbmtl.c layer_backward), off the chain of input gradients: the thread with
     * the shorter lane (towers 1, 3 against 0, 2, 4) takes the other lane's. fp32 with the
     * AVX-512 weight-gradient kernel: wg_pack[k] is its packing buffer for the team's thread
     * k; bf16: wg_mm[k] is thread k's single-threaded bf16 backend, reading the lane's bf16
     * copies of X and dz (mt_mm_bf16_alias). The same product either way, so the same bits.
     * wg_status[k]: a failure in thread k's tasks. */
    int defer_wgrad;
    float *wg_pack[2];
    mt_mm *wg_mm[2];
    mtrec_status wg_status[2];
    /* Bottom split (training with lanes, no dropout in the bottom): each bottom layer as two
     * column halves, half k on thread k with lane_mm[k] (model/bottom_split.c). */
    int bottom_split;
    mt_half_layer *bsplit;      /* [bottom.n] */
    int bsplit_ready;           /* the last forward went through the split */
    double *emb_part;           /* [max_batch / MT_EMB_ROWS + 1] the embedding regularisation's
                                 * sums of squares of X by row blocks (training models) */
    int emb_part_ready;         /* emb_part holds this forward's (its embedding stage's) */
    mt_real emb_reg_rows;       /* in the split's backward: the embedding regularisation's
                                 * scale, whose gradient it adds to its rows of dX as it
                                 * writes them (mt_model_emb_reg_rows), or 0 */
    uint16_t *bsplit_out16;     /* this step's bf16 hand-off of the bottom output, or NULL
                                 * (model/bottom_split.c out_handoff) */
    /* bf16 hand-off (training on a bf16 backend): a dnn layer's BN + activation output that
     * only the next layer of the same stack reads, and every BN layer's dz (read only by its
     * two products), are written by the BN kernels directly as the backend's bf16 operand
     * (mt_mm_bf16_slot) instead of in f32 and converted by the backend: half the bytes, one
     * pass less. Same bits either way (tests/test_bf16_handoff.c turns it off to compare). */
    int bf16_handoff;
    int frozen_weights;         /* weights never change while this model and its mt_mm live
                                 * (a loaded export): bf16 copies of kernels are made once */
    /* activation buffers owned by the model (model_build.c) */
    void **allocs_; int n_allocs_;
} mt_model;

/* Build the model for pipeline p (kept by reference: it must outlive the model), sized for
 * batches of up to max_batch rows. Parameters are initialised from `seed` (glorot-uniform
 * kernels, zero biases, BN gamma 1 / beta 0, moving mean 0 / variance 1, embeddings
 * truncated normal). optimizer slots are allocated for p->train.optimizer. */
mtrec_status mt_model_create(const mt_pipeline *p, int max_batch, mt_mm *mm, uint64_t seed,
                             mt_model **out, mt_err *e);
/* Same, with options: share != NULL makes this model use share's weights (params, BN
 * statistics, tables; read-only use: inference), e.g. one per serving thread over one
 * loaded export; inference != 0 allocates no gradients or optimizer slots (then only
 * mt_model_forward(training = 0) may be called). share must outlive this model. */
mtrec_status mt_model_create_ex(const mt_pipeline *p, int max_batch, mt_mm *mm, uint64_t seed,
                                const mt_model *share, int inference, mt_model **out, mt_err *e);
void mt_model_free(mt_model *m);

/* Forward pass. training: batch statistics (and moving-stat updates), dropout with masks
 * drawn from m->rng (the towers' dnn from their own streams, seeded from m->rng); else
 * moving statistics and no dropout. */
mtrec_status mt_model_forward(mt_model *m, const mt_batch *b, int training, mt_err *e);

/* Loss of the last forward against b's labels: per-tower losses (EasyRec weighting) plus,
 * when `regularize`, l2 on dense kernels and embedding regularization. With backward != 0
 * gradients are zeroed and computed (dense into m->grads, embeddings into the tables'
 * sparse grads). Returns MTREC_OK; the total is in m->total_loss, per tower in towers[t].loss. */
mtrec_status mt_model_loss_backward(mt_model *m, const mt_batch *b, int regularize, int backward,
                                    mt_err *e);

/* The status of work run as two lanes: the first failed lane's (its message into e), else
 * MTREC_OK. */
static inline mtrec_status mt_lanes_status(const mtrec_status st[2], const mt_err le[2], mt_err *e) {
    for (int k = 0; k < 2; k++)
        if (st[k] != MTREC_OK) {
            if (e) *e = le[k];
            return st[k];
        }
    return MTREC_OK;
}

/* The bottom MLP's training passes as column halves (model/bottom_split.c); used by
 * mt_model_forward / mt_model_loss_backward when m->bottom_split. */
/* The first row of the second of two row halves of a batch of B (16-row aligned, at most
 * B): where the bottom split divides dX's rows and the split tower its first product. */
static inline int mt_half_row(int B) {
    int h = (B / 2 + 15) & ~15;
    return h < B ? h : B;
}

mtrec_status mt_bottom_split_forward(mt_model *m, int B, mt_err *e);
mtrec_status mt_bottom_split_backward(mt_model *m, int B, mt_err *e);

/* Elements per block of the dense gradients' starting values (see mt_model.grad_part) */
#define MT_GRAD_BLOCK 1024
/* Write the starting values of grads [a, b) (a a multiple of MT_GRAD_BLOCK, b - a <=
 * MT_GRAD_BLOCK) for the model's l2_regularization and the block's partial sum; model is an
 * mt_model (the signature of mt_optim_update_blocks' callback). */
void mt_model_prime_grads_block(void *model, size_t a, size_t b);
/* After every block went through mt_model_prime_grads_block: the grads are primed. */
void mt_model_grads_primed(mt_model *m);

/* Rows per block of the embedding regularisation's sum of squares: fixed, so the sum does
 * not depend on the threads. */
#define MT_EMB_ROWS 64
double mt_model_emb_block_sumsq(const mt_model *m, int k, int B);

/* dX += er * X on the embedded columns of rows [r0, r0 + nr) (the embedding
 * regularisation's gradient), on the calling thread. */
void mt_model_emb_reg_rows(mt_model *m, int r0, int nr, mt_real er);

/* Find a dense tensor by name (NULL if absent). */
const mt_param_info *mt_model_param(const mt_model *m, const char *name);
/* Pointer to a tensor's data (params or stats); clears m->grads_primed (the caller may
 * write the weights). */
mt_real *mt_model_param_data(mt_model *m, const mt_param_info *pi);

/* Counts for reports. */
size_t mt_model_dense_count(const mt_model *m);
int64_t mt_model_embedding_count(const mt_model *m);

/* Output transforms per tower from logits of the last forward: prob (sigmoid / softmax) or
 * regression value. out gets [B, width] where width = mt_model_output_width. */
int mt_model_output_width(const mt_model *m, int tower);
void mt_model_outputs(const mt_model *m, int tower, float *out);

#endif
