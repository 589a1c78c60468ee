/* model_io.h: saving and restoring a model's tensors (dense parameters, BN moving
 * statistics, embedding tables, optionally optimizer slots) through io/checkpoint.c, with
 * the pipeline's shape fingerprint so a checkpoint from another model shape is refused. */
#ifndef MT_MODEL_IO_H
#define MT_MODEL_IO_H

#include <stdint.h>

#include "model/dbmtl.h"

/* Write model m at global step `step` to path (atomically). with_opt: include optimizer
 * slots (checkpoints) or not (exports). */
mtrec_status mt_model_save(mt_model *m, const char *path, int64_t step, int with_opt, mt_err *e);
/* Same; bf16 != 0 stores dense kernels and embedding tables as BF16 (rounded to nearest
 * even: half the size; the products of a bf16 export round them the same way anyway).
 * Exports only: with_opt and bf16 together are MTREC_ERR_ARG. Loading accepts either. */
mtrec_status mt_model_save_ex(mt_model *m, const char *path, int64_t step, int with_opt, int bf16,
                              mt_err *e);

/* Restore from path. with_opt: also optimizer slots (resume); the config fingerprint must
 * match, else MTREC_ERR_CHECKPOINT. *step (may be NULL) gets the stored global step. */
mtrec_status mt_model_load(mt_model *m, const char *path, int with_opt, int64_t *step, mt_err *e);

/* Warm start (fine_tune_checkpoint): copy every tensor whose name and shape match; others
 * keep their initial values. *loaded / *skipped count tensors (may be NULL). */
mtrec_status mt_model_warm_start(mt_model *m, const char *path, int *loaded, int *skipped, mt_err *e);

/* Build an inference-only model of p for batches of up to max_batch rows on `threads` cores
 * and load checkpoint_path, or model_dir's latest checkpoint when it is NULL (none ->
 * MTREC_ERR_CHECKPOINT saying so). On success the caller owns *mm and *m (free the model,
 * then the backend); *step (may be NULL) gets the checkpoint's global step. On failure both
 * are NULL. Used by evaluate, predict and export. */
mtrec_status mt_model_open_checkpoint(const mt_pipeline *p, const char *checkpoint_path,
                                      int max_batch, int threads, mt_mm **mm, mt_model **m,
                                      int64_t *step, mt_err *e);

#endif
