/* evaluate.h: run a model over an evaluation set and compute each tower's metrics_set
 * (names `<metric>_<tower>` as EasyRec: auc_ctr, mean_squared_error_spend, ...) plus log
 * loss for classifiers; write them as JSON with global_step (model_dir/eval_result.txt). */
#ifndef MT_EVALUATE_H
#define MT_EVALUATE_H

#include <stdint.h>

#include "model/dbmtl.h"

typedef struct mt_metric_value {
    char name[192];
    double value;
} mt_metric_value;

typedef struct mt_eval_result {
    mt_metric_value *v; int n;
    int64_t rows;
    int64_t global_step;
} mt_eval_result;

/* Evaluate m (inference mode) on the files of `spec`, at most max_rows rows (0 = all). */
mtrec_status mt_evaluate(mt_model *m, const char *spec, int64_t max_rows, int64_t global_step,
                         mt_eval_result *r, mt_err *e);

/* Write {"<metric>": value, ..., "global_step": N} atomically. */
mtrec_status mt_eval_result_write_json(const mt_eval_result *r, const char *path, mt_err *e);

/* Value by name, or NAN. */
double mt_eval_result_get(const mt_eval_result *r, const char *name);

void mt_eval_result_free(mt_eval_result *r);

#endif
