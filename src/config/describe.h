/* describe.h: the human-readable summary that `mtrec check -c CONFIG` prints for a loaded
 * pipeline and its feature plan: input fields and their roles, every feature's transform and
 * table, the group width, the DBMTL layer shapes block by block, parameter counts, the
 * relation DAG as root-to-leaf chains, losses, metrics and the ignored TF-only fields.
 * Also the parameter arithmetic on its own (mt_pipeline_param_counts), so the model builder
 * and tests can cross-check their sizes against it. */
#ifndef MT_DESCRIBE_H
#define MT_DESCRIBE_H

#include <stdint.h>
#include <stdio.h>

#include "config/pipeline.h"
#include "data/features.h"

/* Parameter counts of the DBMTL model a pipeline + plan describe.
 * Dense layer in->out: in*out kernel + out bias; BN over out: 2*out trainable (gamma, beta)
 * and 2*out moving statistics (mean, variance: not trainable, not in the totals);
 * MMoE gate per tower: in*num_expert + num_expert; output: in*num_class + num_class. */
typedef struct mt_param_counts {
    int64_t kernels;          /* dense kernels (those get l2_regularization) */
    int64_t biases;           /* dense biases */
    int64_t bn_affine;        /* BN gamma + beta */
    int64_t dense_trainable;  /* kernels + biases + bn_affine */
    int64_t bn_moving;        /* BN moving mean + variance (non-trainable) */
    int64_t embedding;        /* sum over tables of rows x dim */
    int64_t total_trainable;  /* dense_trainable + embedding */
} mt_param_counts;

/* Count the parameters (see mt_param_counts). Errors: MTREC_ERR_ARG on NULL or an
 * inconsistent plan/relation index. */
mtrec_status mt_pipeline_param_counts(const mt_pipeline *p, const mt_feature_plan *plan,
                                      mt_param_counts *c, mt_err *e);

/* Print the summary to out. plan must come from mt_feature_plan_build(p) (or be filled the
 * same way). Errors: MTREC_ERR_ARG (NULL, inconsistent plan), MTREC_ERR_IO (write failed). */
mtrec_status mt_pipeline_describe(const mt_pipeline *p, const mt_feature_plan *plan, FILE *out,
                                  mt_err *e);

#endif
