/* tpipe.h: hand-built pipelines for the data tests (test_features.c, test_reader.c), so they
 * do not depend on the config loader: a zeroed mt_pipeline filled with exactly the fields
 * data/features.c and data/reader.c read. Everything allocated is freed by tp_free. */
#ifndef MT_TEST_TPIPE_H
#define MT_TEST_TPIPE_H

#include <stdlib.h>
#include <string.h>

#include "config/pipeline.h"

typedef struct tpipe {
    mt_pipeline p;
    void *allocs[1024];
    int n_allocs;
} tpipe;

static inline void *tp_keep(tpipe *t, void *x) {
    if (t->n_allocs < (int)(sizeof t->allocs / sizeof t->allocs[0])) t->allocs[t->n_allocs++] = x;
    return x;
}
static inline char *tp_str(tpipe *t, const char *s) { return s ? tp_keep(t, strdup(s)) : NULL; }
static inline void *tp_zalloc(tpipe *t, size_t n) { return tp_keep(t, calloc(1, n ? n : 1)); }

static inline mt_field_type tp_type(const char *s) {
    if (!strcmp(s, "INT32")) return MT_T_INT32;
    if (!strcmp(s, "INT64")) return MT_T_INT64;
    if (!strcmp(s, "FLOAT")) return MT_T_FLOAT;
    if (!strcmp(s, "DOUBLE")) return MT_T_DOUBLE;
    if (!strcmp(s, "BOOL")) return MT_T_BOOL;
    return MT_T_STRING;
}

/* spec: "name:TYPE[=default],..." */
static inline void tp_init(tpipe *t, const char *spec) {
    memset(t, 0, sizeof *t);
    t->p.path = tp_str(t, "pipeline.config");
    t->p.data.input_fields = tp_zalloc(t, 64 * sizeof(mt_input_field));
    t->p.features = tp_zalloc(t, 32 * sizeof(mt_feature_config));
    t->p.data.sample_weight_index = -1;
    t->p.data.separator = ',';
    t->p.data.batch_size = 32;
    t->p.data.label_fields = tp_zalloc(t, 8 * sizeof(char *));
    t->p.data.label_field_index = tp_zalloc(t, 8 * sizeof(int));
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        mt_input_field *f = &t->p.data.input_fields[t->p.data.n_input_fields++];
        char *colon = strchr(tok, ':'), *eq = strchr(tok, '=');
        if (eq) { *eq = 0; f->default_val = tp_str(t, eq + 1); }
        f->type = MT_T_STRING;
        if (colon) { *colon = 0; f->type = tp_type(colon + 1); }
        f->name = tp_str(t, tok);
    }
}

static inline int tp_input(tpipe *t, const char *name) {
    for (int i = 0; i < t->p.data.n_input_fields; i++)
        if (!strcmp(t->p.data.input_fields[i].name, name)) return i;
    return -1;
}

/* Add a feature (in group "all", in call order) reading input `in` (and `in2` if set). */
static inline mt_feature_config *tp_feature(tpipe *t, mt_feature_type type, const char *in, const char *in2, int dim) {
    mt_feature_config *f = &t->p.features[t->p.n_features++];
    f->type = type;
    f->n_input_names = in2 ? 2 : 1;
    f->input_names = tp_zalloc(t, 2 * sizeof(char *));
    f->input_names[0] = tp_str(t, in);
    f->input_index[0] = tp_input(t, in);
    f->input_index[1] = -1;
    if (in2) { f->input_names[1] = tp_str(t, in2); f->input_index[1] = tp_input(t, in2); }
    f->feature_name = tp_str(t, in);
    f->embedding_dim = dim;
    f->separator = tp_str(t, "|");
    f->raw_input_dim = 1;
    f->precision = -1;
    f->pos.line = 10 + t->p.n_features;
    f->pos.col = 3;
    return f;
}

/* Append a label field (at most 8). */
static inline void tp_label(tpipe *t, const char *name) {
    int k = t->p.data.n_label_fields++;
    t->p.data.label_fields[k] = tp_str(t, name);
    t->p.data.label_field_index[k] = tp_input(t, name);
}

static inline void tp_labels(tpipe *t, const char *a, const char *b) {
    if (a) tp_label(t, a);
    if (b) tp_label(t, b);
}

static inline void tp_free(tpipe *t) {
    for (int i = 0; i < t->n_allocs; i++) free(t->allocs[i]);
    t->n_allocs = 0;
}

#endif
