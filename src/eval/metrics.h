/* metrics.h: evaluation metrics over whole evaluation sets (scores and labels in memory).
 * AUC is exact ROC AUC with midrank ties (mtrec's decision; EasyRec approximates with 200
 * thresholds). GAUC follows EasyRec: per-group AUC, single-class groups skipped. */
#ifndef MT_METRICS_H
#define MT_METRICS_H

#include <stdint.h>

#include "config/pipeline.h"

/* Exact ROC AUC of score against binary label (label > 0.5 is positive). NAN if only one
 * class is present. Sorts a private copy; O(n log n). */
double mt_metric_auc(const float *score, const float *label, int64_t n);

/* Grouped AUC: group[i] keys rows by user. Reduction mean | mean_by_sample_num |
 * mean_by_positive_num over groups with both classes. NAN if no group qualifies. */
double mt_metric_gauc(const float *score, const float *label, const uint64_t *group, int64_t n,
                      mt_gauc_reduction reduction);

double mt_metric_mse(const float *pred, const float *label, int64_t n);
double mt_metric_mae(const float *pred, const float *label, int64_t n);
double mt_metric_rmse(const float *pred, const float *label, int64_t n);

/* Binary accuracy: (prob > 0.5) == (label > 0.5). */
double mt_metric_accuracy_binary(const float *prob, const float *label, int64_t n);
/* Multi-class accuracy: argmax of probs[n, k] == (int)label. */
double mt_metric_accuracy_multi(const float *probs, int k, const float *label, int64_t n);

/* Mean binary log loss of probabilities (clipped to [1e-7, 1-1e-7]). */
double mt_metric_logloss(const float *prob, const float *label, int64_t n);
/* Mean multi-class log loss: probs[n, k], integer labels. */
double mt_metric_logloss_multi(const float *probs, int k, const float *label, int64_t n);

#endif
