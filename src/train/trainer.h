/* trainer.h: the training loop (train -> checkpoints -> evaluate), EasyRec's train_and_eval.
 * Resumes from the latest checkpoint in model_dir (replaying the reader to the same
 * position, so a resumed run ends with the same weights as an uninterrupted one for the same
 * seed and thread count), warm-starts from fine_tune_checkpoint, logs every
 * log_step_count_steps, saves every save_checkpoints_steps keeping keep_checkpoint_max, and
 * stops cleanly (after saving) when *stop becomes non-zero. */
#ifndef MT_TRAINER_H
#define MT_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "config/pipeline.h"
#include "eval/evaluate.h"

typedef enum { MT_LOG_INFO, MT_LOG_WARN } mt_log_level;

typedef struct mt_train_opts {
    int threads;                       /* cores for products and elementwise loops (>= 1) */
    int evaluate;                      /* evaluate on eval_input_path at the end */
    volatile sig_atomic_t *stop;       /* set by a signal handler; NULL = never */
    /* Log sink (NULL = silent): one line per call, no trailing newline. */
    void (*log)(void *ctx, mt_log_level level, const char *line);
    /* Progress sink (NULL = none): called every step with the step, the planned total
     * (0 = unknown) and examples/s. */
    void (*progress)(void *ctx, int64_t step, int64_t total, double examples_per_sec);
    void *ctx;
} mt_train_opts;

typedef struct mt_train_summary {
    int64_t global_step;
    int64_t examples;
    double seconds;
    double examples_per_sec;
    double last_loss;
    int resumed_from_step;             /* -1 when training started fresh */
    mt_eval_result eval;               /* filled when opts.evaluate (free with mt_eval_result_free) */
    int evaluated;
} mt_train_summary;

/* One optimizer step at 0-based global step `step` with learning rate lr, from the gradients
 * of the last mt_model_loss_backward: optional global-norm clipping (dense and the batch's
 * sparse rows together), the dense update, then the touched embedding rows. */
void mt_train_apply_update(mt_model *m, int64_t step, float lr);

mtrec_status mt_train(const mt_pipeline *p, const mt_train_opts *o, mt_train_summary *s, mt_err *e);

/* Evaluate the latest checkpoint of model_dir (or `checkpoint_path`) on eval_input_path and
 * write model_dir/eval_result.txt. */
mtrec_status mt_eval_checkpoint(const mt_pipeline *p, const char *checkpoint_path, int threads,
                                mt_eval_result *r, mt_err *e);

#endif
