/* pipeline_validate.c: builds the features[] and model_config parts of mt_pipeline from a
 * schema-checked tree and performs their cross-field checks: input/feature/tower name
 * references, feature table settings, DNN sizes, tower relations (earlier towers only, which
 * also rules out cycles), labels, losses and metrics. Every error names cfg:line:col.
 * Called by pipeline_load.c after data_config is built (names resolve against it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

#define NOMEM(e, cfg) mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", cfg)

static mtrec_status fail_at(mt_err *e, mtrec_status code, const char *cfg, mt_pos at,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static mtrec_status fail_at(mt_err *e, mtrec_status code, const char *cfg, mt_pos at,
                            const char *fmt, ...) {
    char m[MT_ERR_MSG_MAX - 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return mt_fail(e, code, "%s:%d:%d: %s", cfg, at.line, at.col, m);
}

static mt_pos vpos(const mt_tf_node *n) {
    mt_pos p = {n->vline, n->vcol};
    return p;
}

/* Copy the repeated string field `field` of c into *out (count in *n). */
static mtrec_status dup_strs(const char *cfg, mt_cfg c, const char *field, char ***out, int *n,
                             mt_err *e) {
    int k = mt_cfg_count(c, field);
    *n = 0;
    if (k == 0) return MTREC_OK;
    if (!(*out = calloc((size_t)k, sizeof(char *)))) return NOMEM(e, cfg);
    for (int j = 0; j < c.node->n_kids; j++) {   /* one pass: vocab lists can be long */
        const mt_tf_node *s = &c.node->kids[j];
        if (strcmp(s->name, field)) continue;
        if (!((*out)[*n] = mt_cfg_strdup(s->str))) return NOMEM(e, cfg);
        (*n)++;
    }
    return MTREC_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *suggest(const char *s, char *const *names, int n) {
    return mt_did_you_mean(s, (const char *const *)names, n);
}

/* ---- features ---------------------------------------------------------------------------- */

static const char *const feat_type_names[] = {"IdFeature", "TagFeature", "RawFeature"};

/* Id/Tag: exactly one of hash_bucket_size, num_buckets, vocab_list; an embedding. */
static mtrec_status check_categorical(const char *cfg, mt_cfg fc, const mt_feature_config *f,
                                      mt_err *e) {
    const char *tn = feat_type_names[f->type];
    const char *set[3];
    const mt_tf_node *nodes[3];
    int ns = 0;
    if (f->hash_bucket_size > 0) { set[ns] = "hash_bucket_size"; nodes[ns++] = mt_cfg_node(fc, "hash_bucket_size"); }
    if (f->num_buckets > 0) { set[ns] = "num_buckets"; nodes[ns++] = mt_cfg_node(fc, "num_buckets"); }
    if (f->n_vocab > 0) { set[ns] = "vocab_list"; nodes[ns++] = mt_cfg_node_at(fc, "vocab_list", 0); }
    if (ns == 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, f->pos, "%s '%s' needs one of hash_bucket_size, "
                       "num_buckets or vocab_list", tn, f->feature_name);
    if (ns > 1) {
        const mt_tf_node *last = nodes[0];
        for (int i = 1; i < ns; i++)
            if (nodes[i]->line > last->line || (nodes[i]->line == last->line && nodes[i]->col > last->col))
                last = nodes[i];
        mt_pos at = {last->line, last->col};
        return fail_at(e, MTREC_ERR_CONFIG, cfg, at, "%s '%s' sets both %s and %s%s%s; use exactly "
                       "one of hash_bucket_size, num_buckets or vocab_list", tn, f->feature_name,
                       set[0], set[1], ns > 2 ? " and " : "", ns > 2 ? set[2] : "");
    }
    if (f->embedding_dim <= 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(fc, "embedding_dim"),
                       "%s '%s' needs embedding_dim > 0", tn, f->feature_name);
    return MTREC_OK;
}

static mtrec_status build_feature(const char *cfg, mt_cfg fc, mt_pipeline *p, int idx, mt_err *e) {
    mt_feature_config *f = &p->features[idx];
    mtrec_status st;
    f->pos = mt_cfg_msg_pos(fc);
    f->input_index[0] = f->input_index[1] = -1;
    const char *tn = mt_cfg_str(fc, "feature_type");
    f->type = !strcmp(tn, "TagFeature") ? MT_FEAT_TAG : !strcmp(tn, "RawFeature") ? MT_FEAT_RAW : MT_FEAT_ID;
    if ((st = dup_strs(cfg, fc, "input_names", &f->input_names, &f->n_input_names, e))) return st;
    if (f->n_input_names == 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, f->pos, "feature has no input_names");
    int max_in = f->type == MT_FEAT_TAG ? 2 : 1;
    if (f->n_input_names > max_in) {
        const mt_tf_node *n = mt_cfg_node_at(fc, "input_names", max_in);
        return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "%s takes %s, got %d input_names",
                       feat_type_names[f->type], max_in == 1 ? "one input name" :
                       "one or two input names (values, weights)", f->n_input_names);
    }
    for (int i = 0; i < f->n_input_names; i++) {
        const mt_tf_node *n = mt_cfg_node_at(fc, "input_names", i);
        if ((f->input_index[i] = mt_pipeline_input_index(p, n->str)) < 0)
            return mt_pipeline_no_input(cfg, n, p, "input name", e);
    }
    const mt_tf_node *fn = mt_cfg_node(fc, "feature_name");
    if (!(f->feature_name = mt_cfg_strdup(fn ? fn->str : f->input_names[0]))) return NOMEM(e, cfg);
    mt_pos name_at = fn ? vpos(fn) : vpos(mt_cfg_node_at(fc, "input_names", 0));
    if (!f->feature_name[0])
        return fail_at(e, MTREC_ERR_CONFIG, cfg, name_at, "feature_name must not be empty");
    for (int j = 0; j < idx; j++)
        if (!strcmp(p->features[j].feature_name, f->feature_name))
            return fail_at(e, MTREC_ERR_CONFIG, cfg, name_at, "duplicate feature name '%s' (first "
                           "defined at %d:%d); set feature_name to tell them apart", f->feature_name,
                           p->features[j].pos.line, p->features[j].pos.col);
    f->embedding_dim = (int)mt_cfg_int(fc, "embedding_dim");
    f->hash_bucket_size = mt_cfg_int(fc, "hash_bucket_size");
    f->num_buckets = mt_cfg_int(fc, "num_buckets");
    int nb = mt_cfg_count(fc, "boundaries");
    if (nb > 0) {
        if (!(f->boundaries = malloc((size_t)nb * sizeof(double)))) return NOMEM(e, cfg);
        for (int j = 0; j < fc.node->n_kids; j++)
            if (!strcmp(fc.node->kids[j].name, "boundaries"))
                mt_tf_to_double(&fc.node->kids[j], &f->boundaries[f->n_boundaries++]);
        qsort(f->boundaries, (size_t)nb, sizeof(double), cmp_double);  /* EasyRec sorts too */
    }
    if (!(f->separator = mt_cfg_strdup(mt_cfg_str(fc, "separator")))) return NOMEM(e, cfg);
    const mt_tf_node *kv = mt_cfg_node(fc, "kv_separator");
    if (kv && !(f->kv_separator = mt_cfg_strdup(kv->str))) return NOMEM(e, cfg);
    f->combiner = !strcmp(mt_cfg_str(fc, "combiner"), "mean") ? MT_COMBINER_MEAN : MT_COMBINER_SUM;
    const char *en = mt_cfg_str(fc, "embedding_name");
    if (en && en[0] && !(f->embedding_name = mt_cfg_strdup(en))) return NOMEM(e, cfg);
    if ((st = dup_strs(cfg, fc, "vocab_list", &f->vocab_list, &f->n_vocab, e))) return st;
    f->min_val = mt_cfg_num(fc, "min_val");
    f->max_val = mt_cfg_num(fc, "max_val");
    f->raw_input_dim = (int)mt_cfg_int(fc, "raw_input_dim");
    f->precision = (int)mt_cfg_int(fc, "precision");
    if (f->raw_input_dim < 1)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(fc, "raw_input_dim"),
                       "raw_input_dim must be at least 1");
    if (f->min_val > f->max_val)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(fc, "max_val"), "feature '%s': max_val "
                       "(%g) is below min_val (%g)", f->feature_name, f->max_val, f->min_val);
    if (f->type == MT_FEAT_TAG && !f->separator[0])
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(fc, "separator"),
                       "TagFeature '%s' needs a non-empty separator", f->feature_name);
    if (f->type != MT_FEAT_RAW) return check_categorical(cfg, fc, f, e);
    int bucketized = f->n_boundaries > 0 || (f->num_buckets > 1 && f->max_val > f->min_val);
    if (bucketized && f->embedding_dim <= 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(fc, "embedding_dim"), "RawFeature '%s' "
                       "is bucketized (boundaries or num_buckets) and needs embedding_dim > 0",
                       f->feature_name);
    return MTREC_OK;
}

/* Table size of a feature's embedding (for embedding_name sharing checks). */
static int64_t table_rows(const mt_feature_config *f) {
    if (f->type == MT_FEAT_RAW)
        return f->n_boundaries ? f->n_boundaries + 1 : f->num_buckets > 1 ? f->num_buckets : f->raw_input_dim;
    return f->hash_bucket_size ? f->hash_bucket_size : f->num_buckets ? f->num_buckets : f->n_vocab + 1;
}

mtrec_status mt_pipeline_build_features(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e) {
    mt_cfg v2 = mt_cfg_sub(root, "feature_config");
    int n_legacy = mt_cfg_count(root, "feature_configs");
    if (n_legacy && v2.node) {
        const mt_tf_node *l = mt_cfg_node_at(root, "feature_configs", 0);
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_msg_pos(v2), "use either repeated "
                       "'feature_configs' (first at %d:%d) or 'feature_config { features { } }', not "
                       "both", l->line, l->col);
    }
    mt_cfg src = n_legacy ? root : v2;
    const char *field = n_legacy ? "feature_configs" : "features";
    int nf = mt_cfg_count(src, field);
    if (nf == 0) {
        mt_pos at = v2.node ? mt_cfg_msg_pos(v2) : mt_cfg_msg_pos(mt_cfg_sub(root, "model_config"));
        return fail_at(e, MTREC_ERR_CONFIG, cfg, at, "no features: add feature_config { features "
                       "{ input_names: ... } }");
    }
    if (!(p->features = calloc((size_t)nf, sizeof *p->features))) return NOMEM(e, cfg);
    for (int i = 0; i < nf; i++) {
        p->n_features = i + 1;
        mtrec_status st = build_feature(cfg, mt_cfg_at(src, field, i), p, i, e);
        if (st) return st;
    }
    for (int i = 0; i < nf; i++) {   /* features sharing a table must agree on its shape */
        const mt_feature_config *a = &p->features[i];
        if (!a->embedding_name) continue;
        for (int j = 0; j < i; j++) {
            const mt_feature_config *b = &p->features[j];
            if (!b->embedding_name || strcmp(a->embedding_name, b->embedding_name)) continue;
            if (a->embedding_dim != b->embedding_dim || table_rows(a) != table_rows(b))
                return fail_at(e, MTREC_ERR_CONFIG, cfg, a->pos, "features '%s' and '%s' share "
                               "embedding_name '%s' but their tables differ (dim %d x %lld rows vs "
                               "%d x %lld rows)", b->feature_name, a->feature_name, a->embedding_name,
                               b->embedding_dim, (long long)table_rows(b), a->embedding_dim,
                               (long long)table_rows(a));
            break;
        }
    }
    return MTREC_OK;
}

/* ---- model ---------------------------------------------------------------------------------- */

static mtrec_status build_dnn(const char *cfg, mt_cfg parent, const char *field, mt_dnn_config *d,
                              mt_err *e) {
    mt_cfg c = mt_cfg_sub(parent, field);
    d->activation = MT_ACT_RELU;
    d->use_bn = 1;
    d->present = c.node != NULL;
    if (!c.node) return MTREC_OK;
    d->pos = mt_cfg_msg_pos(c);
    int n = mt_cfg_count(c, "hidden_units");
    if (n == 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, d->pos, "%s has no hidden_units (write "
                       "hidden_units: [256, 128] or remove the block)", field);
    if (!(d->hidden_units = calloc((size_t)n, sizeof(int)))) return NOMEM(e, cfg);
    d->n_layers = n;
    for (int i = 0; i < n; i++) {
        const mt_tf_node *u = mt_cfg_node_at(c, "hidden_units", i);
        int64_t v = 0;
        mt_tf_to_int64(u, &v);
        if (v <= 0)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(u), "hidden_units in %s must be positive, "
                           "got %lld", field, (long long)v);
        d->hidden_units[i] = (int)v;
    }
    int nd = mt_cfg_count(c, "dropout_ratio");
    if (nd > 0) {
        const mt_tf_node *first = mt_cfg_node_at(c, "dropout_ratio", 0);
        if (nd != n)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(first), "dropout_ratio in %s has %d "
                           "entries but hidden_units has %d (one ratio per layer)", field, nd, n);
        if (!(d->dropout_ratio = calloc((size_t)nd, sizeof(float)))) return NOMEM(e, cfg);
        d->n_dropout = nd;
        for (int i = 0; i < nd; i++) {
            const mt_tf_node *r = mt_cfg_node_at(c, "dropout_ratio", i);
            double v = 0;
            mt_tf_to_double(r, &v);
            if (!(v >= 0 && v < 1))
                return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(r), "dropout_ratio in %s must be in "
                               "[0, 1), got %s", field, r->str);
            d->dropout_ratio[i] = (float)v;
        }
    }
    mt_activation_parse(mt_cfg_str(c, "activation"), &d->activation);
    d->use_bn = mt_cfg_bool(c, "use_bn");
    return MTREC_OK;
}

static mt_loss_type loss_of(const char *s) {
    static const char *const names[] = {"CLASSIFICATION", "L2_LOSS", "SIGMOID_L2_LOSS",
                                        "CROSS_ENTROPY_LOSS", "PAIR_WISE_LOSS"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) return (mt_loss_type)i;
    return MT_LOSS_CLASSIFICATION;
}

static mtrec_status nonneg(const char *cfg, mt_cfg c, const char *field, double v, mt_err *e) {
    if (v >= 0) return MTREC_OK;
    return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(c, field), "%s must be non-negative, got %g",
                   field, v);
}

static mtrec_status build_losses(const char *cfg, mt_cfg tc, mt_tower_config *t, mt_pipeline *p,
                                 mt_err *e) {
    int nl = mt_cfg_count(tc, "losses");
    if (nl == 0) return MTREC_OK;
    if (!(t->losses = calloc((size_t)nl, sizeof *t->losses))) return NOMEM(e, cfg);
    for (int i = 0; i < nl; i++) {
        mt_cfg lc = mt_cfg_at(tc, "losses", i);
        mt_loss_config *l = &t->losses[i];
        t->n_losses = i + 1;
        l->pos = mt_cfg_msg_pos(lc);
        l->type = loss_of(mt_cfg_str(lc, "loss_type"));
        l->weight = (float)mt_cfg_num(lc, "weight");
        l->session_index = -1;
        mtrec_status st;
        if ((st = nonneg(cfg, lc, "weight", l->weight, e))) return st;
        const char *ln = mt_cfg_str(lc, "loss_name");
        if (ln && !(l->loss_name = mt_cfg_strdup(ln))) return NOMEM(e, cfg);
        mt_cfg pw = mt_cfg_sub(lc, "pairwise_loss");
        if (pw.node && l->type != MT_LOSS_PAIR_WISE)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_msg_pos(pw), "pairwise_loss parameters "
                           "given but loss_type is %s (use PAIR_WISE_LOSS)", mt_loss_type_name(l->type));
        l->margin = (float)mt_cfg_num(pw, "margin");
        l->temperature = (float)mt_cfg_num(pw, "temperature");
        if (!(l->temperature > 0))
            return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(pw, "temperature"),
                           "temperature must be positive, got %g", l->temperature);
        const mt_tf_node *sn = mt_cfg_node(pw, "session_name");
        if (sn) {
            if (!(l->session_name = mt_cfg_strdup(sn->str))) return NOMEM(e, cfg);
            if ((l->session_index = mt_pipeline_input_index(p, sn->str)) < 0)
                return mt_pipeline_no_input(cfg, sn, p, "session_name", e);
        }
        if (t->num_class > 1 && l->type != MT_LOSS_CLASSIFICATION)
            return fail_at(e, MTREC_ERR_UNSUPPORTED, cfg, mt_cfg_pos(lc, "loss_type"),
                           "not supported yet: num_class %d with loss_type %s (only CLASSIFICATION "
                           "supports num_class > 1)", t->num_class, mt_loss_type_name(l->type));
    }
    return MTREC_OK;
}

static mtrec_status build_metrics(const char *cfg, mt_cfg tc, mt_tower_config *t, mt_pipeline *p,
                                  mt_err *e) {
    static const char *const names[] = {"auc", "gauc", "mean_squared_error", "mean_absolute_error",
                                        "root_mean_squared_error", "accuracy"};
    int nm = mt_cfg_count(tc, "metrics_set");
    if (nm == 0) return MTREC_OK;
    if (!(t->metrics = calloc((size_t)nm, sizeof *t->metrics))) return NOMEM(e, cfg);
    for (int i = 0; i < nm; i++) {
        mt_cfg mc = mt_cfg_at(tc, "metrics_set", i);
        mt_metric_config *m = &t->metrics[i];
        t->n_metrics = i + 1;
        m->pos = mt_cfg_msg_pos(mc);
        m->uid_index = -1;
        int k = -1;
        for (int j = 0; j < 6; j++)
            if (mt_cfg_has(mc, names[j])) k = j;
        if (k < 0)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, m->pos, "metrics_set names no metric (write "
                           "e.g. metrics_set { auc {} })");
        m->type = (mt_metric_type)k;
        if (m->type != MT_METRIC_GAUC) continue;
        mt_cfg g = mt_cfg_sub(mc, "gauc");
        const mt_tf_node *uid = mt_cfg_node(g, "uid_field");
        if (!(m->uid_field = mt_cfg_strdup(uid->str))) return NOMEM(e, cfg);
        if ((m->uid_index = mt_pipeline_input_index(p, uid->str)) < 0)
            return mt_pipeline_no_input(cfg, uid, p, "gauc uid_field", e);
        const char *r = mt_cfg_str(g, "reduction");
        m->reduction = !strcmp(r, "mean_by_sample_num") ? MT_GAUC_MEAN_BY_SAMPLE_NUM
                       : !strcmp(r, "mean_by_positive_num") ? MT_GAUC_MEAN_BY_POSITIVE_NUM
                                                             : MT_GAUC_MEAN;
    }
    return MTREC_OK;
}

/* Index of `label` in data_config.label_fields, or an error naming the tower. */
static mtrec_status find_label(const char *cfg, const mt_tf_node *n, const char *label,
                               const char *tower, const char *what, mt_pos at, const mt_pipeline *p,
                               int *out, mt_err *e) {
    const mt_data_config *d = &p->data;
    for (int i = 0; i < d->n_label_fields; i++)
        if (!strcmp(d->label_fields[i], label)) { *out = i; return MTREC_OK; }
    if (n) at = vpos(n);
    if (mt_pipeline_input_index(p, label) >= 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, at, "%s '%s' of tower '%s' is an input field but not "
                       "in data_config.label_fields; add label_fields: \"%s\"", what, label, tower, label);
    const char *dm = suggest(label, d->label_fields, d->n_label_fields);
    return fail_at(e, MTREC_ERR_CONFIG, cfg, at, "%s '%s' of tower '%s' is not in "
                   "data_config.label_fields%s%s%s", what, label, tower, dm ? "; did you mean '" : "",
                   dm ? dm : "", dm ? "'?" : "");
}

/* relation_tower_names of tower i: each must name an earlier tower. */
static mtrec_status build_relations(const char *cfg, mt_cfg db, mt_cfg tc, int i, mt_pipeline *p,
                                    mt_err *e) {
    mt_tower_config *towers = p->model.dbmtl.towers, *t = &towers[i];
    mtrec_status st = dup_strs(cfg, tc, "relation_tower_names", &t->relation_tower_names,
                               &t->n_relations, e);
    if (st) return st;
    if (t->n_relations && !(t->relation_index = calloc((size_t)t->n_relations, sizeof(int))))
        return NOMEM(e, cfg);
    int nt = mt_cfg_count(db, "task_towers");
    for (int j = 0; j < t->n_relations; j++) {
        const mt_tf_node *n = mt_cfg_node_at(tc, "relation_tower_names", j);
        const char *r = n->str;
        if (!strcmp(r, t->tower_name))
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "tower '%s' lists itself in "
                           "relation_tower_names", r);
        for (int k = 0; k < j; k++)
            if (!strcmp(t->relation_tower_names[k], r))
                return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "relation tower '%s' is listed "
                               "twice in tower '%s'", r, t->tower_name);
        t->relation_index[j] = -1;
        for (int k = 0; k < i; k++)
            if (!strcmp(towers[k].tower_name, r)) t->relation_index[j] = k;
        if (t->relation_index[j] >= 0) continue;
        const char *names[256];
        int nn = 0;
        for (int k = 0; k < nt && nn < 256; k++) {
            mt_cfg o = mt_cfg_at(db, "task_towers", k);
            const char *on = mt_cfg_str(o, "tower_name");
            if (!on) continue;
            names[nn++] = on;
            if (k > i && !strcmp(on, r)) {
                mt_pos at = mt_cfg_msg_pos(o);
                return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "relation tower '%s' of tower '%s' "
                               "is defined later (at %d:%d); relation towers must come earlier in "
                               "task_towers, which also rules out a cycle; move '%s' above '%s'",
                               r, t->tower_name, at.line, at.col, r, t->tower_name);
            }
        }
        const char *dm = mt_did_you_mean(r, names, nn);
        return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "relation tower '%s' of tower '%s' names "
                       "no tower%s%s%s", r, t->tower_name, dm ? "; did you mean '" : "", dm ? dm : "",
                       dm ? "'?" : "");
    }
    return MTREC_OK;
}

static mtrec_status build_tower(const char *cfg, mt_cfg db, int i, mt_pipeline *p, mt_err *e) {
    mt_cfg tc = mt_cfg_at(db, "task_towers", i);
    mt_tower_config *t = &p->model.dbmtl.towers[i];
    mtrec_status st;
    t->pos = mt_cfg_msg_pos(tc);
    t->task_space_label_index = -1;
    const mt_tf_node *nn = mt_cfg_node(tc, "tower_name");
    if (!(t->tower_name = mt_cfg_strdup(nn->str))) return NOMEM(e, cfg);
    if (!t->tower_name[0])
        return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(nn), "tower_name must not be empty");
    for (int k = 0; k < i; k++)
        if (!strcmp(p->model.dbmtl.towers[k].tower_name, t->tower_name))
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(nn), "duplicate tower name '%s' (first at "
                           "%d:%d)", t->tower_name, p->model.dbmtl.towers[k].pos.line,
                           p->model.dbmtl.towers[k].pos.col);
    const mt_tf_node *ln = mt_cfg_node(tc, "label_name");
    if (!ln && i >= p->data.n_label_fields)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, t->pos, "tower '%s' has no label_name and "
                       "data_config.label_fields has no entry %d for it", t->tower_name, i + 1);
    if (!(t->label_name = mt_cfg_strdup(ln ? ln->str : p->data.label_fields[i]))) return NOMEM(e, cfg);
    if ((st = find_label(cfg, ln, t->label_name, t->tower_name, "label_name", t->pos, p,
                         &t->label_index, e)))
        return st;
    t->loss_type = loss_of(mt_cfg_str(tc, "loss_type"));
    t->num_class = (int)mt_cfg_int(tc, "num_class");
    if (t->num_class < 1)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(tc, "num_class"), "num_class must be at "
                       "least 1");
    if (t->num_class > 1 && t->loss_type != MT_LOSS_CLASSIFICATION && !mt_cfg_has(tc, "losses"))
        return fail_at(e, MTREC_ERR_UNSUPPORTED, cfg, mt_cfg_pos(tc, "num_class"), "not supported "
                       "yet: num_class %d with loss_type %s (only CLASSIFICATION supports num_class "
                       "> 1)", t->num_class, mt_loss_type_name(t->loss_type));
    if ((st = build_dnn(cfg, tc, "dnn", &t->dnn, e))) return st;
    if ((st = build_relations(cfg, db, tc, i, p, e))) return st;
    if ((st = build_dnn(cfg, tc, "relation_dnn", &t->relation_dnn, e))) return st;
    t->weight = (float)mt_cfg_num(tc, "weight");
    t->in_task_space_weight = (float)mt_cfg_num(tc, "in_task_space_weight");
    t->out_task_space_weight = (float)mt_cfg_num(tc, "out_task_space_weight");
    if ((st = nonneg(cfg, tc, "weight", t->weight, e)) ||
        (st = nonneg(cfg, tc, "in_task_space_weight", t->in_task_space_weight, e)) ||
        (st = nonneg(cfg, tc, "out_task_space_weight", t->out_task_space_weight, e)))
        return st;
    const mt_tf_node *ts = mt_cfg_node(tc, "task_space_indicator_label");
    if (ts) {
        if (!(t->task_space_indicator_label = mt_cfg_strdup(ts->str))) return NOMEM(e, cfg);
        if ((st = find_label(cfg, ts, ts->str, t->tower_name, "task_space_indicator_label", t->pos,
                             p, &t->task_space_label_index, e)))
            return st;
    }
    t->use_sample_weight = mt_cfg_bool(tc, "use_sample_weight");
    if ((st = build_losses(cfg, tc, t, p, e))) return st;
    return build_metrics(cfg, tc, t, p, e);
}

/* The one feature group "all": names resolved to feature indices. */
static mtrec_status build_group(const char *cfg, mt_cfg mc, mt_pipeline *p, mt_err *e) {
    mt_model_config *m = &p->model;
    int ng = mt_cfg_count(mc, "feature_groups");
    if (ng == 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, m->pos, "model_config needs feature_groups { "
                       "group_name: \"all\" feature_names: ... }");
    for (int g = 0; g < ng; g++) {
        mt_cfg gc = mt_cfg_at(mc, "feature_groups", g);
        const mt_tf_node *gn = mt_cfg_node(gc, "group_name");
        if (!gn)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_msg_pos(gc), "feature_groups needs "
                           "group_name: \"all\"");
        if (strcmp(gn->str, "all"))
            return fail_at(e, MTREC_ERR_UNSUPPORTED, cfg, vpos(gn), "not supported yet: feature "
                           "group '%.64s' (DBMTL reads only the group \"all\")", gn->str);
        if (g > 0)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(gn), "feature group \"all\" is defined twice");
        mtrec_status st = dup_strs(cfg, gc, "feature_names", &m->group_feature_names,
                                   &m->n_group_features, e);
        if (st) return st;
        if (m->n_group_features == 0)
            return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_msg_pos(gc), "feature group \"all\" has "
                           "no feature_names");
        if (!(m->group_feature_index = calloc((size_t)m->n_group_features, sizeof(int))))
            return NOMEM(e, cfg);
        char *fnames[1024];
        int nfn = 0;
        for (int i = 0; i < p->n_features && nfn < 1024; i++) fnames[nfn++] = p->features[i].feature_name;
        for (int i = 0; i < m->n_group_features; i++) {
            const mt_tf_node *n = mt_cfg_node_at(gc, "feature_names", i);
            for (int j = 0; j < i; j++)
                if (!strcmp(m->group_feature_names[j], n->str))
                    return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "feature '%s' is listed twice in "
                                   "feature group \"all\"", n->str);
            if ((m->group_feature_index[i] = mt_pipeline_feature_index(p, n->str)) >= 0) continue;
            const char *dm = suggest(n->str, fnames, nfn);
            return fail_at(e, MTREC_ERR_CONFIG, cfg, vpos(n), "feature '%.64s' in feature group "
                           "\"all\" is not defined by any feature config%s%s%s", n->str,
                           dm ? "; did you mean '" : "", dm ? dm : "", dm ? "'?" : "");
        }
    }
    return MTREC_OK;
}

mtrec_status mt_pipeline_build_model(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e) {
    mt_cfg mc = mt_cfg_sub(root, "model_config");
    mt_model_config *m = &p->model;
    mtrec_status st;
    m->pos = mt_cfg_msg_pos(mc);
    if (!(m->model_class = mt_cfg_strdup(mt_cfg_str(mc, "model_class")))) return NOMEM(e, cfg);
    m->embedding_regularization = (float)mt_cfg_num(mc, "embedding_regularization");
    if ((st = nonneg(cfg, mc, "embedding_regularization", m->embedding_regularization, e))) return st;
    if ((st = build_group(cfg, mc, p, e))) return st;
    mt_cfg db = mt_cfg_sub(mc, "dbmtl");
    mt_dbmtl_config *d = &m->dbmtl;
    d->pos = mt_cfg_msg_pos(db);
    if ((st = build_dnn(cfg, db, "bottom_dnn", &d->bottom_dnn, e))) return st;
    if ((st = build_dnn(cfg, db, "expert_dnn", &d->expert_dnn, e))) return st;
    d->num_expert = (int)mt_cfg_int(db, "num_expert");
    if (d->expert_dnn.present && d->num_expert < 1)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_has(db, "num_expert") ?
                       mt_cfg_pos(db, "num_expert") : d->expert_dnn.pos, "expert_dnn needs "
                       "num_expert >= 1 (the number of MMoE experts)");
    if (!d->expert_dnn.present && d->num_expert > 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, mt_cfg_pos(db, "num_expert"), "num_expert is set "
                       "but expert_dnn is missing (write expert_dnn { hidden_units: [...] })");
    d->l2_regularization = (float)mt_cfg_num(db, "l2_regularization");
    if ((st = nonneg(cfg, db, "l2_regularization", d->l2_regularization, e))) return st;
    int nt = mt_cfg_count(db, "task_towers");
    if (nt == 0)
        return fail_at(e, MTREC_ERR_CONFIG, cfg, d->pos, "dbmtl needs at least one task_towers");
    if (!(d->towers = calloc((size_t)nt, sizeof *d->towers))) return NOMEM(e, cfg);
    for (int i = 0; i < nt; i++) {
        d->n_towers = i + 1;
        if ((st = build_tower(cfg, db, i, p, e))) return st;
    }
    return MTREC_OK;
}
