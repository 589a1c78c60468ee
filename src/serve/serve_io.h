/* serve_io.h: internal: the serving signature of a pipeline, shared by exports
 * (io/export.c writes it into signature.json), the C API (serve/predictor.c) and
 * `mtrec predict` (serve/predict_csv.c), so every path names and computes the same columns.
 *
 * Inputs: one per input field read by a feature (both inputs of a two-input TagFeature,
 * even for features outside group "all", as EasyRec's multi-placeholder signature) or by a
 * gauc metric (uid_field), in input_fields order.
 *
 * Outputs, per tower in tower order (EasyRec prediction keys, EASYREC_SEMANTICS.md 1.2);
 * the loss is the tower's first losses{} entry, else its loss_type:
 *   num_class 1, L2_LOSS:         y_<t> = logit
 *   num_class 1, SIGMOID_L2_LOSS: y_<t> = sigmoid(logit)
 *   num_class 1, other losses:    probs_<t> = sigmoid(logit), logits_<t>
 *   num_class 2:                  probs_<t>, logits_<t> (class 1), y_<t> = argmax (0/1)
 *   num_class C > 2:              probs_<t>_0..C-1 (softmax), logits_<t>_0..C-1, y_<t> = argmax
 * Implemented in serve/predictor.c. */
#ifndef MT_SERVE_IO_H
#define MT_SERVE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "config/pipeline.h"
#include "model/dbmtl.h"

typedef struct mt_serve_io {
    int n_inputs;
    int *input_field;       /* [n_inputs] index into p->data.input_fields */
    int n_outputs;
    char **output_names;    /* [n_outputs] */
} mt_serve_io;

/* Build the signature of p. On failure io is zeroed (MTREC_ERR_NOMEM). */
mtrec_status mt_serve_io_build(const mt_pipeline *p, mt_serve_io *io, mt_err *e);
void mt_serve_io_free(mt_serve_io *io);

/* Output columns of rows [0, n) of m's last forward (n <= m->B), computed from the towers'
 * logits: row r's columns go to out[r * row_stride + 0 .. n_outputs). */
void mt_serve_outputs(const mt_model *m, int n, float *out, size_t row_stride);

/* "INT32", "INT64", "FLOAT", "DOUBLE", "STRING", "BOOL". */

/* Text that a field outside the signature gets when a row is built from signature inputs
 * only: "0" for labels and the sample weight (parsed as numbers, unused by prediction),
 * NULL (empty: the field's default) for anything else. */
const char *mt_serve_filler(const mt_pipeline *p, int field);

/* mt_export_write with the global step recorded in the weights and signature.json
 * (mt_export_write records 0: the model does not know its step) and the precision (bf16:
 * kernels and tables stored as BF16, "precision": "bf16" in the signature). io/export.c. */
mtrec_status mt_export_write_step(mt_model *m, int64_t global_step, int bf16, const char *export_dir,
                                  char **version_dir, mt_err *e);

/* Verify and read an export's files: "<version_dir>/signature.json" parsed, every file it
 * lists checked against its recorded size and CRC32 (MTREC_ERR_CHECKPOINT naming the file),
 * pipeline.config returned (malloc'ed, NUL-terminated) in *config_text. *signature gets the
 * parsed cJSON (free with cJSON_Delete). io/export.c. */
struct cJSON;
mtrec_status mt_export_verify(const char *version_dir, struct cJSON **signature,
                              char **config_text, mt_err *e);

#endif
