/* features.h: the feature plan (how each configured feature becomes model input), the
 * batch layout that the model consumes, and the batch reader (CSV files -> batches, with
 * shuffle, epochs and a reader thread filling a bounded queue ahead of compute).
 *
 * Feature semantics follow EASYREC_SEMANTICS.md 1.4 exactly (implemented in
 * data/features.c); the reader lives in data/reader.c. */
#ifndef MT_FEATURES_H
#define MT_FEATURES_H

#include <stdint.h>

#include "config/pipeline.h"
#include "util/common.h"

/* ---- plan ----------------------------------------------------------------------------- */
typedef enum {
    MT_OUT_EMBED,   /* looked up in an embedding table: CSR ids (+ optional weights) */
    MT_OUT_DENSE    /* raw values concatenated as they are (RawFeature without embedding) */
} mt_feature_out;

typedef struct mt_table_plan {
    char *name;           /* embedding_name or feature_name */
    int64_t rows;         /* hash_bucket_size | num_buckets | vocab size(+oov) | #boundaries+1 |
                             raw_input_dim */
    int dim;              /* embedding_dim */
} mt_table_plan;

typedef struct mt_feature_plan_item {
    int feature;          /* index into pipeline features[] */
    mt_feature_out out;
    int table;            /* MT_OUT_EMBED: index into tables[] */
    int width;            /* output width: dim (embed) or raw_input_dim (dense) */
    int group_offset;     /* column offset of this feature in the concatenated group input */
    int dense_offset;     /* MT_OUT_DENSE: column offset inside batch.dense */
    mt_combiner combiner;
    int weighted;         /* batch carries per-id weights */
} mt_feature_plan_item;

typedef struct mt_feature_plan {
    mt_feature_plan_item *items; int n_items;   /* one per feature in group "all" order */
    mt_table_plan *tables; int n_tables;        /* shared by embedding_name */
    int group_width;      /* width of the concatenated input (sum of item widths) */
    int dense_width;      /* total width of MT_OUT_DENSE items */
    int n_labels;         /* == data.n_label_fields */
    int key_fields[8]; int n_keys;  /* input fields carried as 64-bit keys (gauc uid,
                                       pairwise session); see batch.keys */
} mt_feature_plan;

/* Build the plan for a loaded pipeline. Errors: MTREC_ERR_CONFIG/UNSUPPORTED with position. */
mtrec_status mt_feature_plan_build(const mt_pipeline *p, mt_feature_plan *plan, mt_err *e);
void mt_feature_plan_free(mt_feature_plan *plan);

/* ---- batch ---------------------------------------------------------------------------- */
/* Per plan item i with out == MT_OUT_EMBED: row r's ids are ids[i][offsets[i][r] ..
 * offsets[i][r+1]), each in [0, table rows); weights[i] is NULL unless item.weighted.
 * An empty range means a missing value (zero vector). */
typedef struct mt_batch {
    int n_rows;           /* rows in this batch (the last one may be short) */
    int capacity;         /* rows allocated */
    int n_items;
    int32_t **offsets;    /* [n_items][capacity+1] (NULL for dense items) */
    int64_t **ids;        /* [n_items][ids_capacity[i]] */
    mt_real **weights;    /* [n_items][...] or NULL */
    int64_t *ids_capacity;
    mt_real *dense;       /* [capacity][dense_width] */
    mt_real *labels;      /* [capacity][n_labels], label_fields order */
    mt_real *sample_weight;  /* [capacity], 1.0 unless data.sample_weight is set */
    uint64_t *keys;       /* [capacity][n_keys]: Fingerprint64 of the raw key field text */
    int64_t *row_index;   /* [capacity]: global 0-based data row number of each row (order
                             checks, predict alignment) */
} mt_batch;

mtrec_status mt_batch_alloc(const mt_feature_plan *plan, int capacity, mt_batch *b, mt_err *e);
void mt_batch_free(mt_batch *b);

/* Parse one CSV row (fields already split, already mapped to input_fields order through
 * `map`) into row r of batch b. Used by the reader and by predict/serve so all paths
 * share one feature code. field_text[j]/field_len[j] is input field j's raw text (len 0 =
 * empty -> EasyRec default). `where` names the place for errors ("file:row"). */
mtrec_status mt_batch_add_row(const mt_pipeline *p, const mt_feature_plan *plan, mt_batch *b,
                              const char *const *field_text, const int *field_len,
                              const char *where, mt_err *e);

/* ---- reader --------------------------------------------------------------------------- */
typedef struct mt_reader_opts {
    int batch_size;
    int shuffle;          /* shuffle buffer on (train) or off (eval, predict) */
    int shuffle_buffer;   /* rows */
    uint64_t seed;
    int num_epochs;       /* 0 = forever */
    int prefetch;         /* ready batches queued by the reader thread; 0 = no thread */
} mt_reader_opts;

typedef struct mt_reader mt_reader;

/* Open the files of an *_input_path spec. The header (with_header) maps columns by name. */
mtrec_status mt_reader_open(const mt_pipeline *p, const mt_feature_plan *plan, const char *spec,
                            const mt_reader_opts *o, mt_reader **out, mt_err *e);

/* Next batch: returns 1 with *b pointing at a batch owned by the reader and valid until the
 * next call, 0 when all epochs are done, -1 on error (e filled). */
int mt_reader_next(mt_reader *r, const mt_batch **b, mt_err *e);

/* Rows skipped under ignore_error, and rows delivered so far. */
int64_t mt_reader_skipped(const mt_reader *r);
int64_t mt_reader_rows(const mt_reader *r);

void mt_reader_close(mt_reader *r);

#endif
