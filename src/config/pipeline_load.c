/* pipeline_load.c: mt_pipeline_load / _load_text / _free, lookups, the shape fingerprint, enum
 * names, and the build + validation of the top level, train_config, eval_config, data_config
 * and export_config. Features and model_config are built in pipeline_validate.c.
 * Order: parse (textformat.c) -> schema walk (schema.c) -> these builders, each section's
 * cross-field checks with "cfg:line:col: message" errors. */
#include "config/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "util/hash.h"

#define NOMEM(e, cfg) mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", cfg)

/* ---- enum names ------------------------------------------------------------------------ */

const char *mt_loss_type_name(mt_loss_type t) {
    switch (t) {
    case MT_LOSS_CLASSIFICATION: return "CLASSIFICATION";
    case MT_LOSS_L2: return "L2_LOSS";
    case MT_LOSS_SIGMOID_L2: return "SIGMOID_L2_LOSS";
    case MT_LOSS_CROSS_ENTROPY: return "CROSS_ENTROPY_LOSS";
    case MT_LOSS_PAIR_WISE: return "PAIR_WISE_LOSS";
    }
    return "UNKNOWN";
}

const char *mt_activation_name(mt_activation a) {
    switch (a) {
    case MT_ACT_RELU: return "relu";
    case MT_ACT_LEAKY_RELU: return "leaky_relu";
    case MT_ACT_ELU: return "elu";
    case MT_ACT_SELU: return "selu";
    case MT_ACT_TANH: return "tanh";
    case MT_ACT_SIGMOID: return "sigmoid";
    case MT_ACT_SWISH: return "swish";
    case MT_ACT_GELU: return "gelu";
    case MT_ACT_LINEAR: return "linear";
    }
    return "unknown";
}

/* EasyRec's metric names, as used in "<metric>_<tower>" keys. */
const char *mt_field_type_name(mt_field_type t) {
    switch (t) {
    case MT_T_INT32: return "INT32";
    case MT_T_INT64: return "INT64";
    case MT_T_FLOAT: return "FLOAT";
    case MT_T_DOUBLE: return "DOUBLE";
    case MT_T_STRING: return "STRING";
    case MT_T_BOOL: return "BOOL";
    }
    return "STRING";
}

const char *mt_metric_name(mt_metric_type m) {
    switch (m) {
    case MT_METRIC_AUC: return "auc";
    case MT_METRIC_GAUC: return "gauc";
    case MT_METRIC_MSE: return "mean_squared_error";
    case MT_METRIC_MAE: return "mean_absolute_error";
    case MT_METRIC_RMSE: return "root_mean_squared_error";
    case MT_METRIC_ACCURACY: return "accuracy";
    }
    return "unknown";
}

/* ---- lookups ----------------------------------------------------------------------------- */

int mt_pipeline_input_index(const mt_pipeline *p, const char *name) {
    if (!p || !name) return -1;
    for (int i = 0; i < p->data.n_input_fields; i++)
        if (p->data.input_fields[i].name && !strcmp(p->data.input_fields[i].name, name)) return i;
    return -1;
}

int mt_pipeline_feature_index(const mt_pipeline *p, const char *name) {
    if (!p || !name) return -1;
    for (int i = 0; i < p->n_features; i++)
        if (p->features[i].feature_name && !strcmp(p->features[i].feature_name, name)) return i;
    return -1;
}

/* ---- free -------------------------------------------------------------------------------- */

static void free_strs(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

static void free_dnn(mt_dnn_config *d) {
    free(d->hidden_units);
    free(d->dropout_ratio);
}

void mt_pipeline_free(mt_pipeline *p) {
    if (!p) return;
    free(p->path);
    free(p->text);
    free(p->train_input_path);
    free(p->eval_input_path);
    free(p->model_dir);
    free(p->train.fine_tune_checkpoint);
    free(p->train.mixed_precision);
    free(p->data.input_type);
    for (int i = 0; p->data.input_fields && i < p->data.n_input_fields; i++) {
        free(p->data.input_fields[i].name);
        free(p->data.input_fields[i].default_val);
    }
    free(p->data.input_fields);
    free_strs(p->data.label_fields, p->data.n_label_fields);
    free(p->data.label_field_index);
    free(p->data.sample_weight);
    for (int i = 0; p->features && i < p->n_features; i++) {
        mt_feature_config *f = &p->features[i];
        free(f->feature_name);
        free_strs(f->input_names, f->n_input_names);
        free(f->boundaries);
        free(f->separator);
        free(f->kv_separator);
        free(f->embedding_name);
        free_strs(f->vocab_list, f->n_vocab);
    }
    free(p->features);
    mt_model_config *m = &p->model;
    free(m->model_class);
    free_strs(m->group_feature_names, m->n_group_features);
    free(m->group_feature_index);
    free_dnn(&m->dbmtl.bottom_dnn);
    free_dnn(&m->dbmtl.expert_dnn);
    for (int i = 0; m->dbmtl.towers && i < m->dbmtl.n_towers; i++) {
        mt_tower_config *t = &m->dbmtl.towers[i];
        free(t->tower_name);
        free(t->label_name);
        free_dnn(&t->dnn);
        free_strs(t->relation_tower_names, t->n_relations);
        free(t->relation_index);
        free_dnn(&t->relation_dnn);
        free(t->task_space_indicator_label);
        for (int j = 0; t->losses && j < t->n_losses; j++) {
            free(t->losses[j].loss_name);
            free(t->losses[j].session_name);
        }
        free(t->losses);
        for (int j = 0; t->metrics && j < t->n_metrics; j++) free(t->metrics[j].uid_field);
        free(t->metrics);
    }
    free(m->dbmtl.towers);
    free_strs(p->ignored_fields, p->n_ignored);
    memset(p, 0, sizeof *p);
}

/* ---- fingerprint ------------------------------------------------------------------------- */

typedef struct { uint64_t h; } fp_state;

static void fp_bytes(fp_state *s, const void *d, size_t n) {
    uint64_t len = n;
    s->h = mt_fnv1a64(&len, sizeof len, s->h);   /* length-prefixed: no ambiguity */
    s->h = mt_fnv1a64(d, n, s->h);
}
static void fp_int(fp_state *s, int64_t v) { fp_bytes(s, &v, sizeof v); }
static void fp_str(fp_state *s, const char *str) {
    if (str) fp_bytes(s, str, strlen(str));
    else fp_int(s, -1);
}
static void fp_dnn(fp_state *s, const mt_dnn_config *d) {
    fp_int(s, d->present);
    fp_int(s, d->n_layers);
    for (int i = 0; i < d->n_layers; i++) fp_int(s, d->hidden_units[i]);
    fp_int(s, d->use_bn);   /* batch norm adds parameters */
}

uint64_t mt_pipeline_shape_fingerprint(const mt_pipeline *p) {
    fp_state s = {14695981039346656037ULL};
    fp_str(&s, "mtrec-shape-v1");
    if (!p) return s.h;
    fp_int(&s, p->n_features);
    for (int i = 0; i < p->n_features; i++) {
        const mt_feature_config *f = &p->features[i];
        fp_str(&s, f->feature_name);
        fp_int(&s, f->type);
        fp_int(&s, f->embedding_dim);
        fp_int(&s, f->hash_bucket_size);
        fp_int(&s, f->num_buckets);
        fp_int(&s, f->n_boundaries);
        fp_int(&s, f->n_vocab);
        fp_int(&s, f->raw_input_dim);
        fp_str(&s, f->embedding_name);
    }
    const mt_model_config *m = &p->model;
    fp_int(&s, m->n_group_features);
    for (int i = 0; i < m->n_group_features; i++) fp_str(&s, m->group_feature_names[i]);
    fp_dnn(&s, &m->dbmtl.bottom_dnn);
    fp_dnn(&s, &m->dbmtl.expert_dnn);
    fp_int(&s, m->dbmtl.num_expert);
    fp_int(&s, m->dbmtl.n_towers);
    for (int i = 0; i < m->dbmtl.n_towers; i++) {
        const mt_tower_config *t = &m->dbmtl.towers[i];
        fp_str(&s, t->tower_name);
        fp_int(&s, t->num_class);
        fp_dnn(&s, &t->dnn);
        fp_int(&s, t->n_relations);
        for (int j = 0; j < t->n_relations; j++) fp_int(&s, t->relation_index[j]);
        fp_dnn(&s, &t->relation_dnn);
    }
    return s.h;
}

/* ---- train_config -------------------------------------------------------------------------- */

static mtrec_status positive(const char *cfg, mt_cfg c, const char *field, double v, int allow_zero,
                             mt_err *e) {
    if (v > 0 || (allow_zero && v == 0)) return MTREC_OK;
    mt_pos at = mt_cfg_pos(c, field);
    return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: %s must be %s, got %g", cfg, at.line, at.col,
                   field, allow_zero ? "non-negative" : "positive", v);
}

/* Fill the learning-rate schedule from a LearningRate block (absent -> constant 0.002). */
static mtrec_status build_lr(const char *cfg, mt_cfg opt, mt_lr_config *lr, mt_err *e) {
    mt_cfg l = mt_cfg_sub(opt, "learning_rate");
    mt_cfg cst = mt_cfg_sub(l, "constant_learning_rate");
    mt_cfg exp = mt_cfg_sub(l, "exponential_decay_learning_rate");
    if (l.node && !cst.node && !exp.node) {
        mt_pos at = mt_cfg_msg_pos(l);
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: learning_rate needs constant_learning_rate "
                       "or exponential_decay_learning_rate", cfg, at.line, at.col);
    }
    lr->kind = exp.node ? MT_LR_EXP_DECAY : MT_LR_CONSTANT;
    lr->learning_rate = (float)mt_cfg_num(cst, "learning_rate");
    lr->initial_learning_rate = (float)mt_cfg_num(exp, "initial_learning_rate");
    lr->decay_steps = mt_cfg_int(exp, "decay_steps");
    lr->decay_factor = (float)mt_cfg_num(exp, "decay_factor");
    lr->staircase = mt_cfg_bool(exp, "staircase");
    lr->burnin_learning_rate = (float)mt_cfg_num(exp, "burnin_learning_rate");
    lr->burnin_steps = mt_cfg_int(exp, "burnin_steps");
    lr->min_learning_rate = (float)mt_cfg_num(exp, "min_learning_rate");
    mtrec_status st;
    if (lr->kind == MT_LR_CONSTANT)
        return positive(cfg, cst, "learning_rate", lr->learning_rate, 0, e);
    if ((st = positive(cfg, exp, "initial_learning_rate", lr->initial_learning_rate, 0, e)) ||
        (st = positive(cfg, exp, "decay_steps", (double)lr->decay_steps, 0, e)) ||
        (st = positive(cfg, exp, "decay_factor", lr->decay_factor, 0, e)) ||
        (st = positive(cfg, exp, "burnin_learning_rate", lr->burnin_learning_rate, 1, e)) ||
        (st = positive(cfg, exp, "min_learning_rate", lr->min_learning_rate, 1, e)))
        return st;
    return MTREC_OK;
}

static mtrec_status unit_interval(const char *cfg, mt_cfg c, const char *field, double v, mt_err *e) {
    if (v >= 0 && v < 1) return MTREC_OK;
    mt_pos at = mt_cfg_pos(c, field);
    return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: %s must be in [0, 1), got %g", cfg, at.line,
                   at.col, field, v);
}

static mtrec_status build_train(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e) {
    mt_cfg tc = mt_cfg_sub(root, "train_config");
    mt_train_config *t = &p->train;
    mt_optimizer_config *o = &t->optimizer;
    mtrec_status st;
    if (mt_cfg_count(tc, "optimizer_config") > 1) {
        const mt_tf_node *n = mt_cfg_node_at(tc, "optimizer_config", 1);
        return mt_fail(e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: more than one "
                       "optimizer_config", cfg, n->line, n->col);
    }
    mt_cfg oc = mt_cfg_sub(tc, "optimizer_config");
    /* adam_optimizer and lazy_adam_optimizer both train as Adam with lazy (touched rows only)
     * embedding updates; see README "Semantics" */
    static const char *const names[] = {"adam_optimizer", "adagrad_optimizer", "momentum_optimizer",
                                        "sgd_optimizer", "lazy_adam_optimizer"};
    static const mt_optimizer_kind kinds[] = {MT_OPT_ADAM, MT_OPT_ADAGRAD, MT_OPT_MOMENTUM, MT_OPT_SGD,
                                              MT_OPT_ADAM};
    mt_cfg which = mt_cfg_sub(oc, "adam_optimizer");   /* absent: Adam with defaults */
    o->kind = MT_OPT_ADAM;
    int found = 0;
    for (int i = 0; i < 5; i++) {
        mt_cfg c = mt_cfg_sub(oc, names[i]);
        if (c.node) { which = c; o->kind = kinds[i]; found = 1; }
    }
    if (oc.node && !found) {
        mt_pos at = mt_cfg_msg_pos(oc);
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: optimizer_config needs one of adam_optimizer, "
                       "lazy_adam_optimizer, adagrad_optimizer, momentum_optimizer or sgd_optimizer", cfg, at.line, at.col);
    }
    if ((st = build_lr(cfg, which, &o->lr, e))) return st;
    mt_cfg adam = mt_cfg_sub(oc, "adam_optimizer");
    if (!adam.node) adam = mt_cfg_sub(oc, "lazy_adam_optimizer");
    mt_cfg ada = mt_cfg_sub(oc, "adagrad_optimizer");
    mt_cfg mom = mt_cfg_sub(oc, "momentum_optimizer");
    o->beta1 = (float)mt_cfg_num(adam, "beta1");
    o->beta2 = (float)mt_cfg_num(adam, "beta2");
    o->epsilon = 1e-8f;   /* tf.train.AdamOptimizer's default; EasyRec has no field for it */
    o->initial_accumulator_value = (float)mt_cfg_num(ada, "initial_accumulator_value");
    o->momentum = (float)mt_cfg_num(mom, "momentum_optimizer_value");
    o->use_nesterov = 0;
    if ((st = unit_interval(cfg, adam, "beta1", o->beta1, e)) ||
        (st = unit_interval(cfg, adam, "beta2", o->beta2, e)) ||
        (st = positive(cfg, ada, "initial_accumulator_value", o->initial_accumulator_value, 0, e)) ||
        (st = unit_interval(cfg, mom, "momentum_optimizer_value", o->momentum, e)))
        return st;
    t->num_steps = mt_cfg_int(tc, "num_steps");
    t->save_checkpoints_steps = mt_cfg_int(tc, "save_checkpoints_steps");
    t->keep_checkpoint_max = (int)mt_cfg_int(tc, "keep_checkpoint_max");
    t->log_step_count_steps = mt_cfg_int(tc, "log_step_count_steps");
    t->gradient_clipping_by_norm = (float)mt_cfg_num(tc, "gradient_clipping_by_norm");
    if ((st = positive(cfg, tc, "gradient_clipping_by_norm", t->gradient_clipping_by_norm, 1, e)))
        return st;
    const char *ft = mt_cfg_str(tc, "fine_tune_checkpoint");
    if (ft && *ft && !(t->fine_tune_checkpoint = mt_cfg_strdup(ft))) return NOMEM(e, cfg);
    const char *mp = mt_cfg_str(tc, "mixed_precision");
    if (mp && !(t->mixed_precision = mt_cfg_strdup(mp))) return NOMEM(e, cfg);
    t->seed = mt_cfg_int(tc, "seed");
    p->eval.num_examples = mt_cfg_int(mt_cfg_sub(root, "eval_config"), "num_examples");
    p->export_cfg.multi_placeholder = mt_cfg_bool(mt_cfg_sub(root, "export_config"), "multi_placeholder");
    return MTREC_OK;
}

/* ---- data_config --------------------------------------------------------------------------- */

/* Error for a name that is not an input field, with a did-you-mean over the input names. */
mtrec_status mt_pipeline_no_input(const char *cfg, const mt_tf_node *n, const mt_pipeline *p,
                                  const char *what, mt_err *e) {
    const char *cands[256];
    int nc = 0;
    for (int i = 0; i < p->data.n_input_fields && nc < 256; i++) cands[nc++] = p->data.input_fields[i].name;
    const char *dm = mt_did_you_mean(n->str, cands, nc);
    return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: %s '%.64s' is not an input field of data_config%s%s%s",
                   cfg, n->vline, n->vcol, what, n->str, dm ? "; did you mean '" : "", dm ? dm : "",
                   dm ? "'?" : "");
}

static int is_numeric(mt_field_type t) { return t != MT_T_STRING; }

static mtrec_status build_data(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e) {
    mt_cfg dc = mt_cfg_sub(root, "data_config");
    mt_data_config *d = &p->data;
    mtrec_status st;
    d->pos = mt_cfg_msg_pos(dc);
    int64_t bs = mt_cfg_int(dc, "batch_size");
    if ((st = positive(cfg, dc, "batch_size", (double)bs, 0, e))) return st;
    d->batch_size = (int)bs;
    if (!(d->input_type = mt_cfg_strdup(mt_cfg_str(dc, "input_type")))) return NOMEM(e, cfg);
    int nf = mt_cfg_count(dc, "input_fields");
    if (nf == 0)
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: data_config has no input_fields", cfg,
                       d->pos.line, d->pos.col);
    if (!(d->input_fields = calloc((size_t)nf, sizeof *d->input_fields))) return NOMEM(e, cfg);
    static const char *const tnames[] = {"INT32", "INT64", "FLOAT", "DOUBLE", "STRING", "BOOL"};
    for (int i = 0; i < nf; i++) {
        mt_cfg fc = mt_cfg_at(dc, "input_fields", i);
        mt_input_field *f = &d->input_fields[i];
        d->n_input_fields = i + 1;
        f->pos = mt_cfg_msg_pos(fc);
        const mt_tf_node *nn = mt_cfg_node(fc, "input_name");
        if (!(f->name = mt_cfg_strdup(nn->str))) return NOMEM(e, cfg);
        if (!f->name[0])
            return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: input_name must not be empty", cfg,
                           nn->vline, nn->vcol);
        for (int j = 0; j < i; j++)
            if (!strcmp(d->input_fields[j].name, f->name))
                return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: duplicate input field '%s' (first at "
                               "%d:%d)", cfg, nn->vline, nn->vcol, f->name,
                               d->input_fields[j].pos.line, d->input_fields[j].pos.col);
        const char *tn = mt_cfg_str(fc, "input_type");
        f->type = MT_T_STRING;
        for (int k = 0; k < 6; k++)
            if (!strcmp(tn, tnames[k])) f->type = (mt_field_type)k;
        const char *dv = mt_cfg_str(fc, "default_val");
        if (dv && !(f->default_val = mt_cfg_strdup(dv))) return NOMEM(e, cfg);
    }
    int nl = mt_cfg_count(dc, "label_fields");
    if (nl > 0) {
        if (!(d->label_fields = calloc((size_t)nl, sizeof(char *))) ||
            !(d->label_field_index = calloc((size_t)nl, sizeof(int))))
            return NOMEM(e, cfg);
    }
    for (int i = 0; i < nl; i++) {
        const mt_tf_node *n = mt_cfg_node_at(dc, "label_fields", i);
        d->n_label_fields = i + 1;
        if (!(d->label_fields[i] = mt_cfg_strdup(n->str))) return NOMEM(e, cfg);
        d->label_field_index[i] = mt_pipeline_input_index(p, n->str);
        if (d->label_field_index[i] < 0) return mt_pipeline_no_input(cfg, n, p, "label field", e);
        for (int j = 0; j < i; j++)
            if (!strcmp(d->label_fields[j], n->str))
                return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: label field '%s' is listed twice", cfg,
                               n->vline, n->vcol, n->str);
    }
    d->separator = mt_cfg_str(dc, "separator")[0];
    d->shuffle = mt_cfg_bool(dc, "shuffle");
    d->shuffle_buffer_size = (int)mt_cfg_int(dc, "shuffle_buffer_size");
    if (d->shuffle && (st = positive(cfg, dc, "shuffle_buffer_size", d->shuffle_buffer_size, 0, e)))
        return st;
    d->num_epochs = (int)mt_cfg_int(dc, "num_epochs");
    d->with_header = mt_cfg_bool(dc, "with_header");
    d->ignore_error = mt_cfg_bool(dc, "ignore_error");
    d->sample_weight_index = -1;
    const mt_tf_node *sw = mt_cfg_node(dc, "sample_weight");
    if (sw) {
        if (!(d->sample_weight = mt_cfg_strdup(sw->str))) return NOMEM(e, cfg);
        if ((d->sample_weight_index = mt_pipeline_input_index(p, sw->str)) < 0)
            return mt_pipeline_no_input(cfg, sw, p, "sample_weight", e);
        if (!is_numeric(d->input_fields[d->sample_weight_index].type))
            return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: sample_weight field '%s' must have a "
                           "numeric input_type (FLOAT, DOUBLE, INT32, INT64)", cfg, sw->vline,
                           sw->vcol, sw->str);
    }
    return MTREC_OK;
}

/* ---- entry points ---------------------------------------------------------------------------- */

static mtrec_status build_all(const char *cfg, const mt_tf_node *tree, mt_pipeline *p, mt_err *e) {
    mt_cfg root = mt_cfg_root(tree);
    mtrec_status st;
    const char *s;
    if ((s = mt_cfg_str(root, "train_input_path")) && !(p->train_input_path = mt_cfg_strdup(s)))
        return NOMEM(e, cfg);
    if ((s = mt_cfg_str(root, "eval_input_path")) && !(p->eval_input_path = mt_cfg_strdup(s)))
        return NOMEM(e, cfg);
    const mt_tf_node *md = mt_cfg_node(root, "model_dir");
    if (!md->str[0])
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: model_dir must not be empty", cfg, md->vline,
                       md->vcol);
    if (!(p->model_dir = mt_cfg_strdup(md->str))) return NOMEM(e, cfg);
    if ((st = build_train(cfg, root, p, e))) return st;
    if ((st = build_data(cfg, root, p, e))) return st;
    if ((st = mt_pipeline_build_features(cfg, root, p, e))) return st;
    return mt_pipeline_build_model(cfg, root, p, e);
}

mtrec_status mt_pipeline_load_text(const char *name, const char *text, mt_pipeline *out, mt_err *e) {
    if (!out) return mt_fail(e, MTREC_ERR_ARG, "mt_pipeline_load_text: out is NULL");
    const char *cfg = name ? name : "<config>";
    mt_tf_node *tree = NULL;
    mt_schema_ignored ign;
    memset(&ign, 0, sizeof ign);
    mt_pipeline p;
    memset(&p, 0, sizeof p);
    mtrec_status st = mt_tf_parse(cfg, text ? text : "", &tree, e);
    if (!st) st = mt_schema_check(cfg, tree, &ign, e);
    if (!st) st = build_all(cfg, tree, &p, e);
    if (!st) {
        if (!(p.path = mt_cfg_strdup(cfg)) || !(p.text = mt_cfg_strdup(text ? text : "")))
            st = NOMEM(e, cfg);
    }
    if (!st) {
        p.ignored_fields = ign.paths;
        p.n_ignored = ign.n;
        memset(&ign, 0, sizeof ign);
    }
    mt_schema_ignored_free(&ign);
    mt_tf_free(tree);
    if (st) {
        mt_pipeline_free(&p);
        return st;
    }
    *out = p;
    return MTREC_OK;
}

mtrec_status mt_pipeline_load(const char *path, mt_pipeline *out, mt_err *e) {
    if (!path || !out) return mt_fail(e, MTREC_ERR_ARG, "mt_pipeline_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return mt_fail(e, MTREC_ERR_IO, "%s: cannot open config: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); return NOMEM(e, path); }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return mt_fail(e, MTREC_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    size_t z = strlen(buf);
    if (z != n) {   /* a NUL byte would silently truncate the text: report where it is */
        int line = 1, col = 1;
        for (size_t i = 0; i < z; i++) {
            if (buf[i] == '\n') { line++; col = 1; } else col++;
        }
        free(buf);
        return mt_fail(e, MTREC_ERR_PARSE, "%s:%d:%d: unexpected NUL byte", path, line, col);
    }
    mtrec_status st = mt_pipeline_load_text(path, buf, out, e);
    free(buf);
    return st;
}
