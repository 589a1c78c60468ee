/* mtrec.h: the public C API of mtrec (DBMTL multi-target recommendation models).
 *
 * Conventions: every public name starts with mtrec_; objects are typed opaque handles
 * created by mtrec_<object>_create/_load and released by the matching _free (which accepts
 * NULL). Functions return an mtrec_status; on failure, mtrec_last_error() returns a message
 * for the calling thread that names the place (file:line:col for configs, file:row:column
 * for data). Buffers passed in are owned by the caller. */
#ifndef MTREC_H
#define MTREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mtrec_status {
    MTREC_OK = 0,
    MTREC_ERR_ARG,          /* invalid argument from the caller */
    MTREC_ERR_IO,           /* missing file, read or write failure */
    MTREC_ERR_PARSE,        /* config text is not valid protobuf text format */
    MTREC_ERR_CONFIG,       /* config is well formed but invalid (unknown field, bad value) */
    MTREC_ERR_UNSUPPORTED,  /* valid EasyRec field that mtrec does not support yet */
    MTREC_ERR_DATA,         /* bad input data row or value */
    MTREC_ERR_CHECKPOINT,   /* corrupt or mismatched checkpoint / export */
    MTREC_ERR_NOMEM,        /* allocation failed */
    MTREC_ERR_BACKEND,      /* matrix library failure */
    MTREC_ERR_INTERRUPTED,  /* stopped by a signal (after saving) */
    MTREC_ERR_INTERNAL      /* broken invariant: a bug in mtrec */
} mtrec_status;

/* Short constant name of a status code ("MTREC_ERR_CONFIG"). Never NULL. */
const char *mtrec_status_str(mtrec_status s);

/* Message of the last failed call on this thread; "" if none. Owned by mtrec,
 * valid until the next call on this thread. */
const char *mtrec_last_error(void);

/* Library version string, e.g. "0.1.0". */
const char *mtrec_version(void);


/* ==== Serving: load an exported model and predict ======================================== *
 * An export (`mtrec export`) is a folder `<export_dir>/<version>/` holding the weights, the
 * pipeline config and a signature. One mtrec_model is the loaded, read-only weights; it can
 * be shared by any number of threads, each with its own mtrec_predictor (scratch buffers).
 *
 *   mtrec_model *m; mtrec_predictor *p;
 *   if (mtrec_model_load("exports/", &m) != MTREC_OK) puts(mtrec_last_error());
 *   mtrec_predictor_create(m, 256, &p);
 *   float *out = malloc(mtrec_predict_output_size(m, n) * sizeof(float));
 *   mtrec_predict_rows(p, n, values, out, mtrec_predict_output_size(m, n));
 *   mtrec_predictor_free(p); mtrec_model_free(m);
 */
typedef struct mtrec_model mtrec_model;
typedef struct mtrec_predictor mtrec_predictor;

typedef enum mtrec_input_type {
    MTREC_INPUT_INT32, MTREC_INPUT_INT64, MTREC_INPUT_FLOAT, MTREC_INPUT_DOUBLE,
    MTREC_INPUT_STRING, MTREC_INPUT_BOOL
} mtrec_input_type;

/* Load an export. `path` is a version folder, or an export_dir whose newest (highest
 * numbered) complete version is taken. Verifies checksums. On failure *out is NULL. */
mtrec_status mtrec_model_load(const char *path, mtrec_model **out);
/* Release a model (NULL ok). All its predictors must be freed first. */
void mtrec_model_free(mtrec_model *m);
/* Version folder name the model was loaded from (e.g. "1764524400"). Owned by the model. */
const char *mtrec_model_version(const mtrec_model *m);
/* Precision of the export: "fp32", or "bf16" (`mtrec export --precision bf16`: kernels and
 * tables stored as bfloat16; predictors run their products in bf16 with fp32 accumulation on
 * CPUs with AMX, and in fp32 on the bf16-rounded weights elsewhere). Constant string. */
const char *mtrec_model_precision(const mtrec_model *m);

/* Inputs: one per input field that the features (and gauc keys) use, in input_fields order
 * (EasyRec's multi-placeholder signature). Names, types and defaults are owned by the model. */
int mtrec_model_num_inputs(const mtrec_model *m);
const char *mtrec_model_input_name(const mtrec_model *m, int i);
mtrec_input_type mtrec_model_input_type(const mtrec_model *m, int i);
const char *mtrec_model_input_default(const mtrec_model *m, int i);  /* "" when none */
/* Name of an input type ("INT32", ..., "STRING"); "UNKNOWN" for other values. Constant. */
const char *mtrec_input_type_name(mtrec_input_type t);
/* Index of an input by name, or -1. */
int mtrec_model_input_index(const mtrec_model *m, const char *name);

/* Outputs: columns per row, e.g. probs_ctr, logits_ctr (binary), probs_t_0..probs_t_{C-1}
 * and logits_t_0.. (C > 2 classes; C = 2 gives probs_t/logits_t of class 1), y_t (L2 and
 * sigmoid-L2 regression), in tower order. Names owned by the model. */
int mtrec_model_num_outputs(const mtrec_model *m);
const char *mtrec_model_output_name(const mtrec_model *m, int j);
/* Floats needed for n rows of output: n * mtrec_model_num_outputs(m). */
size_t mtrec_predict_output_size(const mtrec_model *m, int n_rows);

/* A predictor: scratch for up to max_rows rows per call (larger calls are split). One per
 * thread; calls on different predictors of one model may run concurrently. */
mtrec_status mtrec_predictor_create(const mtrec_model *m, int max_rows, mtrec_predictor **out);
void mtrec_predictor_free(mtrec_predictor *p);
/* Optional, before the first real call: run one prediction (of default-valued rows) for
 * every internal batch shape a call of up to max_rows rows can use, so the matrix backend's
 * just-in-time compiled kernels exist before latency matters (otherwise the first call of
 * each new size pays it: ~5 ms fp32, ~30 ms bf16 for live5). Costs about that per shape;
 * `mtrec serve` does it for every predictor before a version starts serving. */
mtrec_status mtrec_predictor_warm_up(mtrec_predictor *p, int max_rows);

/* Row form: values[r * num_inputs + i] is input i of row r as text (as in a CSV field);
 * NULL or "" takes the input's default. out gets n_rows * num_outputs floats, row-major;
 * out_len (in floats) must be at least mtrec_predict_output_size(m, n_rows). */
mtrec_status mtrec_predict_rows(mtrec_predictor *p, int n_rows, const char *const *values,
                                float *out, size_t out_len);
/* Column form: columns[i][r] is input i of row r (columns[i] may be NULL: all defaults). */
mtrec_status mtrec_predict_columns(mtrec_predictor *p, int n_rows,
                                   const char *const *const *columns, float *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif /* MTREC_H */
