/* predictor.c: the serving C API (include/mtrec.h, mtrec_model_* / mtrec_predict_*) and the
 * signature shared by exports and predict (serve/serve_io.h).
 *
 * An mtrec_model is one loaded export: the pipeline parsed from its pipeline.config, the
 * signature, and one inference-only mt_model owning the weights. Each mtrec_predictor is
 * an inference-only mt_model sharing those weights (read-only) with its own activations,
 * matrix backend (mt_mm, one thread) and batch, so predictors run concurrently without
 * locks. Rows become batches through data/features.c's mt_batch_add_row, the same code as
 * training, evaluation and `mtrec predict`.
 *
 * Row counts are padded (capped at max_rows) by repeating the last row: up to a power of two
 * below 16 rows, above that to a multiple of max(16, 2^ceil(log2 n) / 8), so at most 12.5%
 * of the rows are padding (100 rows run as 112) while the matrix backend sees at most about
 * 8 batch shapes per doubling of the row count (each shape costs a JIT-compiled primitive,
 * created on first use); rows are independent in inference, so the padding does not change
 * the real rows' outputs. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fsutil.h"
#include "io/model_io.h"
#include "serve/predictor.h"
#include "serve/serve_io.h"
#include "util/common.h"

/* ---- signature (serve_io.h) ------------------------------------------------------------- */

static mt_loss_type tower_loss(const mt_tower_config *tc) {
    return tc->n_losses ? tc->losses[0].type : tc->loss_type;
}

static char *fmt_name(const char *a, const char *t, int k) {
    char buf[512];
    if (k >= 0) snprintf(buf, sizeof buf, "%s_%s_%d", a, t, k);
    else snprintf(buf, sizeof buf, "%s_%s", a, t);
    return mt_strdup(buf);
}

void mt_serve_io_free(mt_serve_io *io) {
    if (!io) return;
    free(io->input_field);
    for (int j = 0; j < io->n_outputs && io->output_names; j++) free(io->output_names[j]);
    free(io->output_names);
    memset(io, 0, sizeof *io);
}

mtrec_status mt_serve_io_build(const mt_pipeline *p, mt_serve_io *io, mt_err *e) {
    memset(io, 0, sizeof *io);
    int nf = p->data.n_input_fields;
    char *used = calloc((size_t)(nf > 0 ? nf : 1), 1);
    io->input_field = malloc((size_t)(nf > 0 ? nf : 1) * sizeof *io->input_field);
    if (!used || !io->input_field) goto nomem;
    for (int f = 0; f < p->n_features; f++)
        for (int k = 0; k < 2; k++) {
            int j = p->features[f].input_index[k];
            if (j >= 0 && j < nf) used[j] = 1;
        }
    const mt_dbmtl_config *d = &p->model.dbmtl;
    for (int t = 0; t < d->n_towers; t++)
        for (int k = 0; k < d->towers[t].n_metrics; k++) {
            const mt_metric_config *mc = &d->towers[t].metrics[k];
            if (mc->type == MT_METRIC_GAUC && mc->uid_index >= 0 && mc->uid_index < nf) used[mc->uid_index] = 1;
        }
    for (int j = 0; j < nf; j++)
        if (used[j]) io->input_field[io->n_inputs++] = j;
    free(used);
    used = NULL;

    int cap = 0;
    for (int t = 0; t < d->n_towers; t++) cap += 2 * (d->towers[t].num_class > 1 ? d->towers[t].num_class : 1) + 1;
    io->output_names = calloc((size_t)(cap > 0 ? cap : 1), sizeof *io->output_names);
    if (!io->output_names) goto nomem;
    for (int t = 0; t < d->n_towers; t++) {
        const mt_tower_config *tc = &d->towers[t];
        const char *tn = tc->tower_name;
        int C = tc->num_class;
        mt_loss_type lt = tower_loss(tc);
        char **o = io->output_names;
        int *n = &io->n_outputs;
        if (C <= 1 && (lt == MT_LOSS_L2 || lt == MT_LOSS_SIGMOID_L2)) {
            if (!(o[(*n)++] = fmt_name("y", tn, -1))) goto nomem;
        } else if (C <= 2) {
            if (!(o[(*n)++] = fmt_name("probs", tn, -1))) goto nomem;
            if (!(o[(*n)++] = fmt_name("logits", tn, -1))) goto nomem;
            if (C == 2 && !(o[(*n)++] = fmt_name("y", tn, -1))) goto nomem;
        } else {
            for (int k = 0; k < C; k++)
                if (!(o[(*n)++] = fmt_name("probs", tn, k))) goto nomem;
            for (int k = 0; k < C; k++)
                if (!(o[(*n)++] = fmt_name("logits", tn, k))) goto nomem;
            if (!(o[(*n)++] = fmt_name("y", tn, -1))) goto nomem;
        }
    }
    return MTREC_OK;
nomem:
    free(used);
    mt_serve_io_free(io);
    return mt_fail(e, MTREC_ERR_NOMEM, "out of memory building the serving signature");
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

void mt_serve_outputs(const mt_model *m, int n, float *out, size_t row_stride) {
    for (int r = 0; r < n; r++) {
        float *o = out + (size_t)r * row_stride;
        int j = 0;
        for (int t = 0; t < m->n_towers; t++) {
            const mt_tower *T = &m->towers[t];
            int C = T->cfg->num_class;
            mt_loss_type lt = tower_loss(T->cfg);
            const mt_real *z = T->logits + (size_t)r * (size_t)(C > 1 ? C : 1);
            if (C <= 1) {
                if (lt == MT_LOSS_L2) o[j++] = (float)z[0];
                else if (lt == MT_LOSS_SIGMOID_L2) o[j++] = (float)sigmoid((double)z[0]);
                else {
                    o[j++] = (float)sigmoid((double)z[0]);
                    o[j++] = (float)z[0];
                }
                continue;
            }
            /* softmax as mt_model_outputs computes it (max-shifted, in double) */
            double mx = z[0], s = 0;
            int arg = 0;
            for (int k = 1; k < C; k++)
                if (z[k] > mx) { mx = z[k]; arg = k; }
            for (int k = 0; k < C; k++) s += exp((double)z[k] - mx);
            if (C == 2) {
                o[j++] = (float)(exp((double)z[1] - mx) / s);
                o[j++] = (float)z[1];
            } else {
                for (int k = 0; k < C; k++) o[j++] = (float)(exp((double)z[k] - mx) / s);
                for (int k = 0; k < C; k++) o[j++] = (float)z[k];
            }
            o[j++] = (float)arg;
        }
    }
}

const char *mt_serve_filler(const mt_pipeline *p, int field) {
    for (int l = 0; l < p->data.n_label_fields; l++)
        if (p->data.label_field_index && p->data.label_field_index[l] == field) return "0";
    if (p->data.sample_weight && p->data.sample_weight_index == field) return "0";
    return NULL;
}

/* ---- model ------------------------------------------------------------------------------ */
struct mtrec_model {
    char *dir;              /* version folder */
    char *version;          /* its last path component */
    mt_pipeline p;          /* from the export's pipeline.config */
    mt_serve_io io;
    mt_mm *mm;
    mt_model *m;            /* owns the weights; predictors share them */
    int64_t global_step;
    int bf16;               /* signature "precision": "bf16": predictors run bf16 products */
};

struct mtrec_predictor {
    const mtrec_model *model;
    mt_mm *mm;
    mt_model *m;            /* activations only: weights are model->m's */
    mt_batch b;
    int max_rows;
    const char **text;      /* [n_input_fields] */
    int *len;
};

static mtrec_status publish(mt_err *e) { return mt_err_publish(e); }

static mtrec_status arg_error(const char *fmt, const char *fn) {
    mt_err e = {0};
    mt_fail(&e, MTREC_ERR_ARG, fmt, fn);
    return publish(&e);
}

static int has_signature(const char *dir) {
    char *p = mt_path_join(dir, "signature.json");
    struct stat sb;
    int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    free(p);
    return ok;
}

/* The signature recorded in the export must be the one this pipeline gives; its precision
 * ("fp32" when absent) goes to md->bf16. */
static mtrec_status check_signature(mtrec_model *md, const cJSON *sig, mt_err *e) {
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(sig, "inputs");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(sig, "outputs");
    const mt_pipeline *p = &md->p;
    if (cJSON_GetArraySize(ins) != md->io.n_inputs || cJSON_GetArraySize(outs) != md->io.n_outputs)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s/signature.json: %d inputs and %d outputs, but its "
                       "pipeline.config gives %d and %d", md->dir, cJSON_GetArraySize(ins),
                       cJSON_GetArraySize(outs), md->io.n_inputs, md->io.n_outputs);
    const cJSON *prec = cJSON_GetObjectItemCaseSensitive(sig, "precision");
    if (prec && !(cJSON_IsString(prec) && (!strcmp(prec->valuestring, "fp32") || !strcmp(prec->valuestring, "bf16"))))
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s/signature.json: \"precision\" must be \"fp32\" or \"bf16\"",
                       md->dir);
    md->bf16 = prec && !strcmp(prec->valuestring, "bf16");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ins) {
        const char *want = p->data.input_fields[md->io.input_field[i]].name;
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, want) != 0)
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s/signature.json: input #%d is not '%s' as in "
                           "its pipeline.config", md->dir, i, want);
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(it, outs) {
        if (!cJSON_IsString(it) || strcmp(it->valuestring, md->io.output_names[i]) != 0)
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s/signature.json: output #%d is not '%s' as in "
                           "its pipeline.config", md->dir, i, md->io.output_names[i]);
        i++;
    }
    return MTREC_OK;
}

mtrec_status mtrec_model_load(const char *path, mtrec_model **out) {
    mt_err e = {0};
    if (!out) return arg_error("%s: out is NULL", "mtrec_model_load");
    *out = NULL;
    if (!path || !*path) return arg_error("%s: empty path", "mtrec_model_load");
    mtrec_model *md = calloc(1, sizeof *md);
    if (!md) { mt_fail(&e, MTREC_ERR_NOMEM, "out of memory loading %s", path); return publish(&e); }
    cJSON *sig = NULL;
    char *text = NULL, *cpath = NULL, *wpath = NULL;
    mtrec_status st = MTREC_OK;
    md->dir = has_signature(path) ? mt_strdup(path) : mt_export_latest(path);
    if (!md->dir) {
        struct stat sb;
        st = mt_fail(&e, stat(path, &sb) == 0 ? MTREC_ERR_CHECKPOINT : MTREC_ERR_IO,
                     "%s: no complete export here (a version folder with model.safetensors, "
                     "pipeline.config and signature.json, or an export_dir holding such folders)", path);
        goto done;
    }
    const char *slash = strrchr(md->dir, '/');
    while (slash && slash[1] == '\0' && slash > md->dir) {  /* "dir/123/" */
        const char *q = slash - 1;
        while (q > md->dir && *q != '/') q--;
        slash = *q == '/' ? q : NULL;
    }
    md->version = mt_strdup(slash ? slash + 1 : md->dir);
    if (md->version) {
        char *tail = strchr(md->version, '/');
        if (tail) *tail = '\0';
    }
    cpath = mt_path_join(md->dir, "pipeline.config");
    wpath = mt_path_join(md->dir, "model.safetensors");
    if (!md->version || !cpath || !wpath) { st = mt_fail(&e, MTREC_ERR_NOMEM, "out of memory loading %s", path); goto done; }
    if ((st = mt_export_verify(md->dir, &sig, &text, &e)) != MTREC_OK) goto done;
    if ((st = mt_pipeline_load_text(cpath, text, &md->p, &e)) != MTREC_OK) goto done;
    if ((st = mt_serve_io_build(&md->p, &md->io, &e)) != MTREC_OK) goto done;
    if ((st = check_signature(md, sig, &e)) != MTREC_OK) goto done;
    if ((st = mt_mm_create(1, 0, &md->mm, &e)) != MTREC_OK) goto done;
    if ((st = mt_model_create_ex(&md->p, 1, md->mm, (uint64_t)md->p.train.seed, NULL, 1, &md->m, &e)) != MTREC_OK)
        goto done;
    if ((st = mt_model_load(md->m, wpath, 0, &md->global_step, &e)) != MTREC_OK) goto done;
done:
    cJSON_Delete(sig);
    free(text);
    free(cpath);
    free(wpath);
    if (st != MTREC_OK) {
        mtrec_model_free(md);
        return publish(&e);
    }
    *out = md;
    return MTREC_OK;
}

void mtrec_model_free(mtrec_model *md) {
    if (!md) return;
    mt_model_free(md->m);
    mt_mm_free(md->mm);
    mt_serve_io_free(&md->io);
    mt_pipeline_free(&md->p);
    free(md->dir);
    free(md->version);
    free(md);
}

const char *mtrec_model_version(const mtrec_model *md) { return md ? md->version : NULL; }

const char *mtrec_model_precision(const mtrec_model *md) { return md ? (md->bf16 ? "bf16" : "fp32") : NULL; }

int mtrec_model_num_inputs(const mtrec_model *md) { return md ? md->io.n_inputs : 0; }

static const mt_input_field *input_at(const mtrec_model *md, int i) {
    if (!md || i < 0 || i >= md->io.n_inputs) return NULL;
    return &md->p.data.input_fields[md->io.input_field[i]];
}

const char *mtrec_model_input_name(const mtrec_model *md, int i) {
    const mt_input_field *f = input_at(md, i);
    return f ? f->name : NULL;
}

const char *mtrec_input_type_name(mtrec_input_type t) {
    switch (t) {
    case MTREC_INPUT_INT32: return "INT32";
    case MTREC_INPUT_INT64: return "INT64";
    case MTREC_INPUT_FLOAT: return "FLOAT";
    case MTREC_INPUT_DOUBLE: return "DOUBLE";
    case MTREC_INPUT_STRING: return "STRING";
    case MTREC_INPUT_BOOL: return "BOOL";
    }
    return "UNKNOWN";
}

mtrec_input_type mtrec_model_input_type(const mtrec_model *md, int i) {
    const mt_input_field *f = input_at(md, i);
    if (!f) return MTREC_INPUT_STRING;
    switch (f->type) {
    case MT_T_INT32: return MTREC_INPUT_INT32;
    case MT_T_INT64: return MTREC_INPUT_INT64;
    case MT_T_FLOAT: return MTREC_INPUT_FLOAT;
    case MT_T_DOUBLE: return MTREC_INPUT_DOUBLE;
    case MT_T_BOOL: return MTREC_INPUT_BOOL;
    case MT_T_STRING: break;
    }
    return MTREC_INPUT_STRING;
}

const char *mtrec_model_input_default(const mtrec_model *md, int i) {
    const mt_input_field *f = input_at(md, i);
    if (!f) return NULL;
    return f->default_val ? f->default_val : "";
}

int mtrec_model_input_index(const mtrec_model *md, const char *name) {
    if (!md || !name) return -1;
    for (int i = 0; i < md->io.n_inputs; i++)
        if (strcmp(md->p.data.input_fields[md->io.input_field[i]].name, name) == 0) return i;
    return -1;
}

int mtrec_model_num_outputs(const mtrec_model *md) { return md ? md->io.n_outputs : 0; }

const char *mtrec_model_output_name(const mtrec_model *md, int j) {
    if (!md || j < 0 || j >= md->io.n_outputs) return NULL;
    return md->io.output_names[j];
}

size_t mtrec_predict_output_size(const mtrec_model *md, int n_rows) {
    if (!md || n_rows <= 0) return 0;
    return (size_t)n_rows * (size_t)md->io.n_outputs;
}

/* ---- predictor -------------------------------------------------------------------------- */
mtrec_status mtrec_predictor_create(const mtrec_model *md, int max_rows, mtrec_predictor **out) {
    mt_err e = {0};
    if (!out) return arg_error("%s: out is NULL", "mtrec_predictor_create");
    *out = NULL;
    if (!md) return arg_error("%s: model is NULL", "mtrec_predictor_create");
    if (max_rows <= 0 || max_rows > (1 << 24)) {
        mt_fail(&e, MTREC_ERR_ARG, "mtrec_predictor_create: max_rows must be in 1..%d, got %d", 1 << 24, max_rows);
        return publish(&e);
    }
    mtrec_predictor *pr = calloc(1, sizeof *pr);
    int nf = md->p.data.n_input_fields;
    mtrec_status st = MTREC_OK;
    if (!pr) { mt_fail(&e, MTREC_ERR_NOMEM, "out of memory creating a predictor"); return publish(&e); }
    pr->model = md;
    pr->max_rows = max_rows;
    pr->text = calloc((size_t)(nf > 0 ? nf : 1), sizeof *pr->text);
    pr->len = calloc((size_t)(nf > 0 ? nf : 1), sizeof *pr->len);
    if (!pr->text || !pr->len) { st = mt_fail(&e, MTREC_ERR_NOMEM, "out of memory creating a predictor"); goto done; }
    if ((st = mt_mm_create(1, md->bf16, &pr->mm, &e)) != MTREC_OK) goto done;
    if ((st = mt_model_create_ex(&md->p, max_rows, pr->mm, (uint64_t)md->p.train.seed, md->m, 1, &pr->m, &e)))
        goto done;
    pr->m->frozen_weights = 1;  /* an export's weights never change: bf16 kernels made once */
    if ((st = mt_batch_alloc(&pr->m->plan, max_rows, &pr->b, &e)) != MTREC_OK) goto done;
    /* fields outside the signature keep their filler for the predictor's lifetime */
    for (int j = 0; j < nf; j++) {
        const char *f = mt_serve_filler(&md->p, j);
        pr->text[j] = f ? f : "";
        pr->len[j] = f ? (int)strlen(f) : 0;
    }
done:
    if (st != MTREC_OK) {
        mtrec_predictor_free(pr);
        return publish(&e);
    }
    *out = pr;
    return MTREC_OK;
}

void mtrec_predictor_free(mtrec_predictor *pr) {
    if (!pr) return;
    mt_batch_free(&pr->b);
    mt_model_free(pr->m);
    mt_mm_free(pr->mm);
    free(pr->text);
    free(pr->len);
    free(pr);
}

/* Where row r's input i comes from: row form (values[r * n + i]) or column form. */
typedef struct cell_src {
    const char *const *values;
    const char *const *const *columns;
} cell_src;

static const char *cell(const cell_src *s, int n_inputs, int r, int i) {
    if (s->values) return s->values[(size_t)r * (size_t)n_inputs + (size_t)i];
    return s->columns[i] ? s->columns[i][r] : NULL;
}

static int pad_rows(int n, int max_rows) {
    int p2 = 1;
    while (p2 < n && p2 < (1 << 30)) p2 *= 2;
    int g = p2 / 8 > 16 ? p2 / 8 : 16;
    int k = n <= 16 ? p2 : (n + g - 1) / g * g;
    return k < max_rows ? k : max_rows;
}

/* Rows [c0, c0 + n) of src as one batch of npad >= n rows (padding repeats the last real
 * row), forward, outputs of the n real rows into out. */
static mtrec_status predict_chunk(mtrec_predictor *pr, const cell_src *src, int c0, int n, int npad,
                                  float *out, mt_err *e) {
    const mtrec_model *md = pr->model;
    int ni = md->io.n_inputs;
    char where[48];
    pr->b.n_rows = 0;
    for (int r = 0; r < npad; r++) {
        if (r < n) {  /* padding rows repeat the last real row's text */
            for (int i = 0; i < ni; i++) {
                const char *v = cell(src, ni, c0 + r, i);
                size_t l = v ? strlen(v) : 0;
                if (l > INT_MAX)
                    return mt_fail(e, MTREC_ERR_DATA, "row %d: column '%s': value longer than %d bytes", c0 + r,
                                   mtrec_model_input_name(md, i), INT_MAX);
                pr->text[md->io.input_field[i]] = v ? v : "";
                pr->len[md->io.input_field[i]] = (int)l;
            }
        }
        snprintf(where, sizeof where, "row %d", c0 + (r < n ? r : n - 1));
        mtrec_status st = mt_batch_add_row(&md->p, &pr->m->plan, &pr->b, pr->text, pr->len, where, e);
        if (st != MTREC_OK) return st;
    }
    mtrec_status st = mt_model_forward(pr->m, &pr->b, 0, e);
    if (st != MTREC_OK) return st;
    mt_serve_outputs(pr->m, n, out, (size_t)md->io.n_outputs);
    return MTREC_OK;
}

static mtrec_status predict(mtrec_predictor *pr, int n_rows, const cell_src *src, float *out,
                            size_t out_len, const char *fn) {
    mt_err e = {0};
    if (!pr) { mt_fail(&e, MTREC_ERR_ARG, "%s: predictor is NULL", fn); return publish(&e); }
    const mtrec_model *md = pr->model;
    if (n_rows <= 0) { mt_fail(&e, MTREC_ERR_ARG, "%s: n_rows must be positive, got %d", fn, n_rows); return publish(&e); }
    if ((src->values == NULL && src->columns == NULL) || !out) {
        mt_fail(&e, MTREC_ERR_ARG, "%s: %s is NULL", fn, !out ? "out" : src->values ? "columns" : "values");
        return publish(&e);
    }
    size_t need = mtrec_predict_output_size(md, n_rows);
    if (out_len < need) {
        mt_fail(&e, MTREC_ERR_ARG, "%s: out_len %zu is too small: %d rows x %d outputs need %zu floats",
                fn, out_len, n_rows, md->io.n_outputs, need);
        return publish(&e);
    }
    for (int c0 = 0; c0 < n_rows; c0 += pr->max_rows) {
        int n = n_rows - c0 < pr->max_rows ? n_rows - c0 : pr->max_rows;
        mtrec_status st = predict_chunk(pr, src, c0, n, pad_rows(n, pr->max_rows),
                                        out + (size_t)c0 * (size_t)md->io.n_outputs, &e);
        if (st != MTREC_OK) return publish(&e);
    }
    return MTREC_OK;
}

mtrec_status mtrec_predictor_warm_up(mtrec_predictor *pr, int max_rows) {
    if (!pr) return arg_error("%s: predictor is NULL", "mtrec_predictor_warm_up");
    int top = max_rows < pr->max_rows ? max_rows : pr->max_rows;
    if (top <= 0) return MTREC_OK;
    const mtrec_model *md = pr->model;
    /* one row of defaults (NULL values), repeated by the padding up to each batch shape */
    const char **vals = calloc((size_t)(md->io.n_inputs > 0 ? md->io.n_inputs : 1), sizeof *vals);
    float *out = malloc(mtrec_predict_output_size(md, 1) * sizeof *out + sizeof *out);
    cell_src src = {.values = vals, .columns = NULL};
    mtrec_status st = MTREC_OK;
    if (!vals || !out) {
        mt_err e = {0};
        mt_fail(&e, MTREC_ERR_NOMEM, "mtrec_predictor_warm_up: out of memory");
        st = publish(&e);
    }
    for (int n = 1, last = 0; st == MTREC_OK && n <= top; n++) {
        int shape = pad_rows(n, pr->max_rows);
        if (shape == last) continue;
        last = shape;
        mt_err e = {0};
        if ((st = predict_chunk(pr, &src, 0, 1, shape, out, &e)) != MTREC_OK) st = publish(&e);
    }
    free(vals);
    free(out);
    return st;
}

mtrec_status mtrec_predict_rows(mtrec_predictor *pr, int n_rows, const char *const *values,
                                float *out, size_t out_len) {
    cell_src s = {.values = values, .columns = NULL};
    if (!values) {
        mt_err e = {0};
        mt_fail(&e, MTREC_ERR_ARG, "mtrec_predict_rows: values is NULL");
        return publish(&e);
    }
    return predict(pr, n_rows, &s, out, out_len, "mtrec_predict_rows");
}

mtrec_status mtrec_predict_columns(mtrec_predictor *pr, int n_rows,
                                   const char *const *const *columns, float *out, size_t out_len) {
    cell_src s = {.values = NULL, .columns = columns};
    if (!columns) {
        mt_err e = {0};
        mt_fail(&e, MTREC_ERR_ARG, "mtrec_predict_columns: columns is NULL");
        return publish(&e);
    }
    return predict(pr, n_rows, &s, out, out_len, "mtrec_predict_columns");
}
