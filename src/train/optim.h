/* optim.h: optimizers and learning-rate schedules with EasyRec/TensorFlow semantics.
 * Dense parameters are one flat buffer updated by one loop; embedding rows are updated
 * sparsely (only the rows a batch touched) with the same per-element rule ("lazy" for Adam:
 * untouched rows keep their moments, like PyTorch SparseAdam / TF LazyAdam). */
#ifndef MT_OPTIM_H
#define MT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "config/pipeline.h"
#include "util/common.h"

/* Number of state slots per parameter: adam 2 (m, v), adagrad 1, momentum 1, sgd 0. */
int mt_optim_slots(mt_optimizer_kind k);

/* Initial value of each slot (adagrad's accumulator starts at initial_accumulator_value). */
void mt_optim_init_slots(const mt_optimizer_config *c, mt_real *s0, mt_real *s1, size_t n);

/* Learning rate at global step `step` (0-based, the step being taken):
 * constant; exponential decay lr0 * factor^(step/decay_steps) (floored when staircase),
 * at least min_learning_rate; with burnin_steps > 0, linear warm-up from
 * burnin_learning_rate to the schedule's value over the first burnin_steps steps. */
float mt_lr_at(const mt_lr_config *c, int64_t step);

/* One update of n elements. t = 1-based update count (Adam bias correction).
 * s0/s1: the slots (NULL where unused). */
void mt_optim_update(const mt_optimizer_config *c, int64_t t, float lr, mt_real *param,
                     const mt_real *grad, mt_real *s0, mt_real *s1, size_t n);

/* The same update in blocks of `block` elements, each thread a contiguous run of them; right
 * after a block [a, b) is updated, the thread that updated it calls after(ctx, a, b) when
 * after is not NULL (the block is still in its L1: the trainer writes the next step's
 * starting gradient there). The same arithmetic per element as mt_optim_update (which is
 * this without a callback), so the same results. */
void mt_optim_update_blocks(const mt_optimizer_config *c, int64_t t, float lr, mt_real *param,
                            const mt_real *grad, mt_real *s0, mt_real *s1, size_t n,
                            size_t block, void (*after)(void *ctx, size_t a, size_t b),
                            void *ctx);

/* Sparse rows: for each k < n_rows, row rows[k] of table/s0/s1 ([*, dim]) is updated with
 * grads[k*dim ..]. Same rule as mt_optim_update. */
void mt_optim_update_rows(const mt_optimizer_config *c, int64_t t, float lr, mt_real *table,
                          mt_real *s0, mt_real *s1, int dim, const int64_t *rows,
                          const mt_real *grads, int n_rows);

/* The sparse rows of several tables in one call, on all threads: each table's rows must be
 * distinct (as an mt_sparse_grad lists them), so that chunks of rows can run on any thread
 * in any order with the same results as mt_optim_update_rows table by table. */
typedef struct mt_rows_update {
    mt_real *table, *s0, *s1;
    int dim;
    const int64_t *rows;
    const mt_real *grads;
    int n_rows;
} mt_rows_update;
void mt_optim_update_tables(const mt_optimizer_config *c, int64_t t, float lr,
                            const mt_rows_update *u, int n);

/* Global L2 norm helper for gradient_clipping_by_norm: returns sqrt(sum g^2). */
double mt_sumsq(const mt_real *g, size_t n);
void mt_scale(mt_real *g, size_t n, mt_real s);

#endif
