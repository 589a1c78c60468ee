/* predictor.h: internal side of the serving API (include/mtrec.h, mtrec_model_* and
 * mtrec_predict_*) plus exports and batch prediction over CSV:
 *  - io/export.c: `mtrec export` -> <export_dir>/<version>/ {model.safetensors,
 *    pipeline.config, signature.json} written atomically (temp folder, fsync, rename);
 *    older versions kept.
 *  - serve/predictor.c: load an export, predictors, row/column prediction.
 *  - serve/predict_csv.c: `mtrec predict`: streaming CSV (gz too) -> CSV with a header:
 *    reserved columns, then the output columns.
 * All paths share data/features.c's mt_batch_add_row, so a row predicts the same through
 * evaluate, predict, the C API and HTTP. */
#ifndef MT_PREDICTOR_H
#define MT_PREDICTOR_H

#include "mtrec.h"
#include "config/pipeline.h"
#include "model/dbmtl.h"

/* Write an export of model m (trained weights) for pipeline p under export_dir. *version_dir
 * (malloc'ed, may be NULL) gets the folder written. */
mtrec_status mt_export_write(mt_model *m, const char *export_dir, char **version_dir, mt_err *e);

/* Export the latest checkpoint of p->model_dir (or checkpoint_path when non-NULL); bf16:
 * a bf16 export (see mt_export_write_step). */
mtrec_status mt_export_checkpoint(const mt_pipeline *p, const char *checkpoint_path,
                                  const char *export_dir, int bf16, char **version_dir, mt_err *e);

/* Newest complete version folder under export_dir (malloc'ed) or NULL. */
char *mt_export_latest(const char *export_dir);

/* `mtrec predict`: predict every row of the files in input_spec with the model of
 * p->model_dir's latest checkpoint (or checkpoint_path) and write output_path (CSV with a
 * header; ".gz" -> gzip). reserved_cols: comma-separated input columns copied first (NULL
 * = none). Rows follow the input order. *rows gets the count. */
mtrec_status mt_predict_csv(const mt_pipeline *p, const char *checkpoint_path, const char *input_spec,
                            const char *output_path, const char *reserved_cols, int threads,
                            int64_t *rows, mt_err *e);

#endif
