/* pipeline.h: the typed, validated EasyRec pipeline that every later stage reads.
 * Produced by mt_pipeline_load() (config/pipeline_load.c) from a pipeline.config file:
 * text-format parse (config/textformat.c) -> schema check + EasyRec defaults + cross-field
 * validation. After a successful load every field holds EasyRec's default when it was not
 * set, every name reference is resolved to an index, and towers are in config order.
 * All strings and arrays are owned by the pipeline and released by mt_pipeline_free(). */
#ifndef MT_PIPELINE_H
#define MT_PIPELINE_H

#include <stdint.h>

#include "util/err.h"

/* Source position of a config node (1-based line and column). */
typedef struct mt_pos {
    int line, col;
} mt_pos;

/* ---- data_config ------------------------------------------------------------------------ */
typedef enum { MT_T_INT32, MT_T_INT64, MT_T_FLOAT, MT_T_DOUBLE, MT_T_STRING, MT_T_BOOL } mt_field_type;

typedef struct mt_input_field {
    char *name;
    mt_field_type type;      /* input_type, default STRING */
    char *default_val;       /* NULL: EasyRec's default for the type (0, 0.0, "", false) */
    mt_pos pos;
} mt_input_field;

typedef struct mt_data_config {
    int batch_size;               /* 32 */
    char *input_type;             /* "CSVInput" (required); others -> unsupported */
    mt_input_field *input_fields; int n_input_fields;
    char **label_fields; int n_label_fields;
    int *label_field_index;       /* resolved: index of each label in input_fields */
    char separator;               /* ',' (single character) */
    int shuffle;                  /* 1 */
    int shuffle_buffer_size;      /* 32 */
    int num_epochs;               /* 0 = repeat forever (bounded by num_steps) */
    int with_header;              /* 0 */
    char *sample_weight;          /* NULL or an input field name */
    int sample_weight_index;      /* resolved, -1 if none */
    int ignore_error;             /* 0 */
    mt_pos pos;
} mt_data_config;

/* ---- features ------------------------------------------------------------------------- */
typedef enum { MT_FEAT_ID, MT_FEAT_TAG, MT_FEAT_RAW } mt_feature_type;
typedef enum { MT_COMBINER_SUM, MT_COMBINER_MEAN } mt_combiner;

typedef struct mt_feature_config {
    char *feature_name;           /* defaults to input_names[0] */
    char **input_names; int n_input_names;
    int input_index[2];           /* resolved indices into input_fields; [1] = -1 unless 2 inputs
                                     (TagFeature weights as a second input) */
    mt_feature_type type;
    int embedding_dim;            /* 0 */
    int64_t hash_bucket_size;     /* 0 */
    int64_t num_buckets;          /* 0 */
    double *boundaries; int n_boundaries;  /* sorted ascending after validation */
    char *separator;              /* "|" */
    char *kv_separator;           /* NULL: none */
    mt_combiner combiner;         /* sum */
    char *embedding_name;         /* NULL: own table (named after feature_name) */
    char **vocab_list; int n_vocab;
    double min_val, max_val;      /* 0, 0 */
    int raw_input_dim;            /* 1 */
    int precision;                /* -1 */
    mt_pos pos;
} mt_feature_config;

/* ---- model ---------------------------------------------------------------------------- */
typedef enum {
    MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_ELU, MT_ACT_SELU, MT_ACT_TANH, MT_ACT_SIGMOID,
    MT_ACT_SWISH, MT_ACT_GELU, MT_ACT_LINEAR
} mt_activation;

typedef struct mt_dnn_config {
    int present;                  /* 0 when the block was absent (identity) */
    int *hidden_units; int n_layers;
    float *dropout_ratio; int n_dropout;  /* 0 or n_layers entries */
    mt_activation activation;     /* relu ('tf.nn.relu') */
    int use_bn;                   /* 1 */
    mt_pos pos;
} mt_dnn_config;

typedef enum {
    MT_LOSS_CLASSIFICATION, MT_LOSS_L2, MT_LOSS_SIGMOID_L2, MT_LOSS_CROSS_ENTROPY,
    MT_LOSS_PAIR_WISE
} mt_loss_type;

typedef struct mt_loss_config {
    mt_loss_type type;
    float weight;                 /* 1.0 */
    char *loss_name;              /* NULL */
    /* PAIR_WISE_LOSS parameters (EasyRec PairwiseLoss message) */
    float margin;                 /* 0 */
    float temperature;            /* 1 */
    char *session_name;           /* NULL: whole batch is one session */
    int session_index;            /* resolved input field index, -1 if none */
    mt_pos pos;
} mt_loss_config;

typedef enum {
    MT_METRIC_AUC, MT_METRIC_GAUC, MT_METRIC_MSE, MT_METRIC_MAE, MT_METRIC_RMSE,
    MT_METRIC_ACCURACY
} mt_metric_type;

typedef enum { MT_GAUC_MEAN, MT_GAUC_MEAN_BY_SAMPLE_NUM, MT_GAUC_MEAN_BY_POSITIVE_NUM } mt_gauc_reduction;

typedef struct mt_metric_config {
    mt_metric_type type;
    char *uid_field;              /* gauc */
    int uid_index;                /* resolved input field index, -1 if none */
    mt_gauc_reduction reduction;  /* mean */
    mt_pos pos;
} mt_metric_config;

typedef struct mt_tower_config {
    char *tower_name;             /* required */
    char *label_name;             /* defaults to label_fields[i] */
    int label_index;              /* resolved index into data_config.label_fields */
    mt_loss_type loss_type;       /* CLASSIFICATION */
    int num_class;                /* 1 */
    mt_dnn_config dnn;
    char **relation_tower_names; int n_relations;
    int *relation_index;          /* resolved indices of earlier towers */
    mt_dnn_config relation_dnn;   /* absent -> identity */
    float weight;                 /* 1.0 */
    char *task_space_indicator_label;  /* NULL */
    int task_space_label_index;   /* index into label_fields, -1 */
    float in_task_space_weight, out_task_space_weight;  /* 1.0, 1.0 */
    mt_loss_config *losses; int n_losses;  /* the losses{} list; empty -> loss_type alone */
    int use_sample_weight;        /* 1 */
    mt_metric_config *metrics; int n_metrics;
    mt_pos pos;
} mt_tower_config;

typedef struct mt_dbmtl_config {
    mt_dnn_config bottom_dnn;
    mt_dnn_config expert_dnn;
    int num_expert;               /* 0: no MMoE */
    mt_tower_config *towers; int n_towers;
    float l2_regularization;      /* 1e-4 */
    mt_pos pos;
} mt_dbmtl_config;

typedef struct mt_model_config {
    char *model_class;            /* "DBMTL" */
    char **group_feature_names; int n_group_features;  /* feature group "all", in order */
    int *group_feature_index;     /* resolved indices into features[] */
    float embedding_regularization;  /* 0 */
    mt_dbmtl_config dbmtl;
    mt_pos pos;
} mt_model_config;

/* ---- train / eval / export ------------------------------------------------------------- */
typedef enum { MT_OPT_ADAM, MT_OPT_ADAGRAD, MT_OPT_MOMENTUM, MT_OPT_SGD } mt_optimizer_kind;
typedef enum { MT_LR_CONSTANT, MT_LR_EXP_DECAY } mt_lr_kind;

typedef struct mt_lr_config {
    mt_lr_kind kind;
    float learning_rate;          /* constant: 0.002 */
    float initial_learning_rate;  /* exp: 0.002 */
    int64_t decay_steps;          /* 4000000 */
    float decay_factor;           /* 0.95 */
    int staircase;                /* 1 */
    float burnin_learning_rate;   /* 0 (EasyRec's warm-up) */
    int64_t burnin_steps;         /* 0 */
    float min_learning_rate;      /* 0 */
} mt_lr_config;

typedef struct mt_optimizer_config {
    mt_optimizer_kind kind;       /* adam */
    mt_lr_config lr;
    float beta1, beta2, epsilon;  /* 0.9, 0.999, 1e-8 */
    float initial_accumulator_value;  /* adagrad 0.1 */
    float momentum;               /* momentum_optimizer_value 0.9 */
    int use_nesterov;             /* 0 */
} mt_optimizer_config;

typedef struct mt_train_config {
    mt_optimizer_config optimizer;
    int64_t num_steps;            /* 0 = until data ends (num_epochs) */
    int64_t save_checkpoints_steps;  /* 1000 */
    int keep_checkpoint_max;      /* 10 */
    int64_t log_step_count_steps; /* 10 */
    float gradient_clipping_by_norm;  /* 0 = off */
    char *fine_tune_checkpoint;   /* NULL */
    char *mixed_precision;        /* NULL, "BF16" */
    int64_t seed;                 /* mtrec extension: 2020 */
} mt_train_config;

typedef struct mt_eval_config {
    int64_t num_examples;         /* 0 = all */
} mt_eval_config;

typedef struct mt_export_config {
    int multi_placeholder;        /* 1 */
} mt_export_config;

/* ---- the whole pipeline --------------------------------------------------------------- */
typedef struct mt_pipeline {
    char *path;                   /* file it was loaded from */
    char *text;                   /* its full text (kept for export and fingerprints) */
    char *train_input_path, *eval_input_path, *model_dir;
    mt_train_config train;
    mt_eval_config eval;
    mt_data_config data;
    mt_feature_config *features; int n_features;
    mt_model_config model;
    mt_export_config export_cfg;
    char **ignored_fields; int n_ignored;  /* TF-only fields accepted and ignored (for check) */
} mt_pipeline;

/* Load, default and validate a pipeline config. On error returns MTREC_ERR_IO, _PARSE,
 * _CONFIG or _UNSUPPORTED with "path:line:col: message" in e, and *out untouched.
 * On success *out owns everything (free with mt_pipeline_free). */
mtrec_status mt_pipeline_load(const char *path, mt_pipeline *out, mt_err *e);

/* Same, from text in memory; `name` is used in messages in place of a path. */
mtrec_status mt_pipeline_load_text(const char *name, const char *text, mt_pipeline *out, mt_err *e);

/* Release everything owned by p and zero it. Accepts a zeroed pipeline. */
void mt_pipeline_free(mt_pipeline *p);

/* Find by name; -1 if absent. */
int mt_pipeline_input_index(const mt_pipeline *p, const char *name);
int mt_pipeline_feature_index(const mt_pipeline *p, const char *name);

/* 64-bit fingerprint of the parts of the pipeline that shape parameters (features, tables,
 * model layers): checkpoints store it and refuse to load under another shape. */
uint64_t mt_pipeline_shape_fingerprint(const mt_pipeline *p);

/* Enum <-> name helpers ("CLASSIFICATION", "relu", "auc", ...). */
const char *mt_loss_type_name(mt_loss_type t);
const char *mt_activation_name(mt_activation a);
const char *mt_metric_name(mt_metric_type m);
const char *mt_field_type_name(mt_field_type t);  /* "INT32", ..., "STRING" */

#endif
