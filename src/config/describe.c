/* describe.c: `mtrec check` output for a loaded pipeline and its feature plan (describe.h).
 * Owns: the widths of every DBMTL block derived from the config (the same rules as
 * model/model_build.c: a DNN is the identity when absent, empty or [0]; MMoE only with
 * num_expert > 0 and a non-identity expert_dnn), the parameter arithmetic, and the text.
 * Does not own validation: p is a pipeline that mt_pipeline_load accepted; an inconsistent
 * plan or index is reported as MTREC_ERR_ARG instead of being trusted. */
#include "config/describe.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- widths and counts ------------------------------------------------------------------ */

static int dnn_is_identity(const mt_dnn_config *d) {
    return !d->present || d->n_layers == 0 || (d->n_layers == 1 && d->hidden_units[0] == 0);
}

static int dnn_out(const mt_dnn_config *d, int in) {
    return dnn_is_identity(d) ? in : d->hidden_units[d->n_layers - 1];
}

/* Add the parameters of DNN d applied to width `in`. */
static void dnn_count(const mt_dnn_config *d, int in, mt_param_counts *c) {
    if (dnn_is_identity(d)) return;
    for (int i = 0; i < d->n_layers; i++) {
        int64_t out = d->hidden_units[i];
        c->kernels += (int64_t)in * out;
        c->biases += out;
        if (d->use_bn) c->bn_affine += 2 * out, c->bn_moving += 2 * out;
        in = (int)out;
    }
}

/* Widths of every block, computed once from the config. */
typedef struct arch {
    int in;            /* group "all" width */
    int bottom_out;
    int n_expert;      /* 0: no MMoE */
    int task_in;       /* width entering each tower's dnn */
    int *tower_out, *rel_in, *rel_out;  /* per tower */
} arch;

static void arch_free(arch *a) {
    free(a->tower_out), free(a->rel_in), free(a->rel_out);
    memset(a, 0, sizeof *a);
}

/* Check that plan matches p well enough to index through it. */
static mtrec_status check_plan(const mt_pipeline *p, const mt_feature_plan *plan, mt_err *e) {
    if (!p || !plan) return mt_fail(e, MTREC_ERR_ARG, "describe: NULL pipeline or plan");
    for (int i = 0; i < plan->n_items; i++) {
        const mt_feature_plan_item *it = &plan->items[i];
        if (it->feature < 0 || it->feature >= p->n_features)
            return mt_fail(e, MTREC_ERR_ARG, "describe: plan item %d names feature %d of %d", i,
                           it->feature, p->n_features);
        if (it->out == MT_OUT_EMBED && (it->table < 0 || it->table >= plan->n_tables))
            return mt_fail(e, MTREC_ERR_ARG, "describe: plan item %d names table %d of %d", i,
                           it->table, plan->n_tables);
    }
    const mt_dbmtl_config *d = &p->model.dbmtl;
    for (int t = 0; t < d->n_towers; t++)
        for (int j = 0; j < d->towers[t].n_relations; j++) {
            int r = d->towers[t].relation_index[j];
            if (r < 0 || r >= t)
                return mt_fail(e, MTREC_ERR_ARG,
                               "describe: tower %s: relation %d is not an earlier tower",
                               d->towers[t].tower_name, r);
        }
    return MTREC_OK;
}

static mtrec_status arch_build(const mt_pipeline *p, const mt_feature_plan *plan, arch *a,
                               mt_err *e) {
    memset(a, 0, sizeof *a);
    mtrec_status st = check_plan(p, plan, e);
    if (st) return st;
    const mt_dbmtl_config *d = &p->model.dbmtl;
    int n = d->n_towers;
    a->tower_out = calloc((size_t)(n ? n : 1), sizeof(int));
    a->rel_in = calloc((size_t)(n ? n : 1), sizeof(int));
    a->rel_out = calloc((size_t)(n ? n : 1), sizeof(int));
    if (!a->tower_out || !a->rel_in || !a->rel_out) {
        arch_free(a);
        return mt_fail(e, MTREC_ERR_NOMEM, "describe: out of memory");
    }
    a->in = plan->group_width;
    a->bottom_out = dnn_out(&d->bottom_dnn, a->in);
    a->n_expert = d->num_expert > 0 && !dnn_is_identity(&d->expert_dnn) ? d->num_expert : 0;
    a->task_in = a->n_expert ? dnn_out(&d->expert_dnn, a->bottom_out) : a->bottom_out;
    for (int t = 0; t < n; t++) {
        const mt_tower_config *T = &d->towers[t];
        a->tower_out[t] = dnn_out(&T->dnn, a->task_in);
        a->rel_in[t] = a->tower_out[t];
        for (int j = 0; j < T->n_relations; j++) a->rel_in[t] += a->rel_out[T->relation_index[j]];
        a->rel_out[t] = dnn_out(&T->relation_dnn, a->rel_in[t]);
    }
    return MTREC_OK;
}

static void counts_from_arch(const mt_pipeline *p, const mt_feature_plan *plan, const arch *a,
                             mt_param_counts *c) {
    const mt_dbmtl_config *d = &p->model.dbmtl;
    memset(c, 0, sizeof *c);
    dnn_count(&d->bottom_dnn, a->in, c);
    for (int x = 0; x < a->n_expert; x++) dnn_count(&d->expert_dnn, a->bottom_out, c);
    for (int t = 0; t < d->n_towers; t++) {
        const mt_tower_config *T = &d->towers[t];
        if (a->n_expert) {
            c->kernels += (int64_t)a->bottom_out * a->n_expert;
            c->biases += a->n_expert;
        }
        dnn_count(&T->dnn, a->task_in, c);
        dnn_count(&T->relation_dnn, a->rel_in[t], c);
        c->kernels += (int64_t)a->rel_out[t] * T->num_class;
        c->biases += T->num_class;
    }
    for (int i = 0; i < plan->n_tables; i++) c->embedding += plan->tables[i].rows * plan->tables[i].dim;
    c->dense_trainable = c->kernels + c->biases + c->bn_affine;
    c->total_trainable = c->dense_trainable + c->embedding;
}

mtrec_status mt_pipeline_param_counts(const mt_pipeline *p, const mt_feature_plan *plan,
                                      mt_param_counts *c, mt_err *e) {
    if (!c) return mt_fail(e, MTREC_ERR_ARG, "describe: NULL counts");
    arch a;
    mtrec_status st = arch_build(p, plan, &a, e);
    if (st) return st;
    counts_from_arch(p, plan, &a, c);
    arch_free(&a);
    return MTREC_OK;
}

/* ---- text pieces ------------------------------------------------------------------------ */

static const char *field_default(const mt_input_field *f) {
    if (f->default_val) return f->default_val;
    switch (f->type) {
    case MT_T_INT32: case MT_T_INT64: return "0";
    case MT_T_FLOAT: case MT_T_DOUBLE: return "0.0";
    case MT_T_STRING: return "\"\"";
    case MT_T_BOOL: return "false";
    }
    return "?";
}

static const char *feature_type_name(mt_feature_type t) {
    return t == MT_FEAT_ID ? "IdFeature" : t == MT_FEAT_TAG ? "TagFeature" : "RawFeature";
}

static const char *optimizer_name(mt_optimizer_kind k) {
    switch (k) {
    case MT_OPT_ADAM: return "adam";
    case MT_OPT_ADAGRAD: return "adagrad";
    case MT_OPT_MOMENTUM: return "momentum";
    case MT_OPT_SGD: return "sgd";
    }
    return "?";
}

/* Append printf-style text to buf[*len..cap). Truncates silently (display only). */
static void cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cat(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len = MT_MIN(cap - 1, *len + (size_t)n);
}

/* The id part of an Id/Tag feature: how a value becomes a row number. */
static void id_transform(const mt_feature_config *f, char *b, size_t cap, size_t *n, int tag) {
    if (f->hash_bucket_size > 0)
        cat(b, cap, n, tag ? "hash mod %lld" : "hash(Fingerprint64) mod %lld",
            (long long)f->hash_bucket_size);
    else if (f->num_buckets > 0)
        cat(b, cap, n, "identity num_buckets %lld (out of range -> 0)", (long long)f->num_buckets);
    else if (f->n_vocab > 0)
        cat(b, cap, n, "vocab_list of %d values", f->n_vocab);
    else
        cat(b, cap, n, "(no bucketing)");
}

/* "what the feature does", in words. */
static void feature_transform(const mt_feature_config *f, const mt_feature_plan_item *it,
                              char *b, size_t cap) {
    size_t n = 0;
    b[0] = 0;
    if (f->type == MT_FEAT_ID) {
        id_transform(f, b, cap, &n, 0);
    } else if (f->type == MT_FEAT_TAG) {
        cat(b, cap, &n, "tags '%s' ", f->separator ? f->separator : "|");
        id_transform(f, b, cap, &n, 1);
        if (it->weighted) {
            cat(b, cap, &n, ", weighted");
            if (f->kv_separator) cat(b, cap, &n, " (kv '%s')", f->kv_separator);
            else if (f->n_input_names > 1) cat(b, cap, &n, " (by %s)", f->input_names[1]);
        }
        cat(b, cap, &n, ", combiner %s", it->combiner == MT_COMBINER_MEAN ? "mean" : "sum");
    } else {
        cat(b, cap, &n, "raw");
        if (f->raw_input_dim > 1) cat(b, cap, &n, "[%d]", f->raw_input_dim);
        int norm = f->max_val > f->min_val;
        if (norm) cat(b, cap, &n, " (x-%g)/(%g-%g)", f->min_val, f->max_val, f->min_val);
        if (f->n_boundaries > 0)
            cat(b, cap, &n, " -> %d boundaries -> %d buckets", f->n_boundaries, f->n_boundaries + 1);
        else if (f->num_buckets > 1 && norm)
            cat(b, cap, &n, " -> %lld uniform buckets", (long long)f->num_buckets);
        else if (it->out == MT_OUT_EMBED)
            cat(b, cap, &n, " x table [%d x %d]", f->raw_input_dim, f->embedding_dim);
        else
            cat(b, cap, &n, " dense");
    }
}

/* ---- printing --------------------------------------------------------------------------- */

/* One DNN block: "  <label>: in -> a -> b" then one line per layer. */
static void print_dnn(FILE *o, const char *indent, const char *label, const mt_dnn_config *d, int in) {
    if (dnn_is_identity(d)) {
        fprintf(o, "%s%s: identity (%d)%s\n", indent, label, in, d->present ? "" : ", absent");
        return;
    }
    fprintf(o, "%s%s: %d", indent, label, in);
    for (int i = 0; i < d->n_layers; i++) fprintf(o, " -> %d", d->hidden_units[i]);
    fputc('\n', o);
    for (int i = 0; i < d->n_layers; i++) {
        int64_t out = d->hidden_units[i];
        fprintf(o, "%s  layer %d: dense %d -> %lld (%lld kernel + %lld bias)", indent, i + 1, in,
                (long long)out, (long long)in * out, (long long)out);
        if (d->use_bn)
            fprintf(o, ", BN %lld (%lld trainable + %lld moving)", (long long)out,
                    (long long)(2 * out), (long long)(2 * out));
        fprintf(o, ", %s", mt_activation_name(d->activation));
        if (i < d->n_dropout && d->dropout_ratio[i] > 0) fprintf(o, ", dropout %g", d->dropout_ratio[i]);
        fputc('\n', o);
        in = (int)out;
    }
}

static void print_inputs(FILE *o, const mt_pipeline *p) {
    const mt_data_config *dc = &p->data;
    int w = 4;
    for (int i = 0; i < dc->n_input_fields; i++) w = MT_MAX(w, (int)strlen(dc->input_fields[i].name));
    fprintf(o, "input fields (%d, CSV column order):\n", dc->n_input_fields);
    fprintf(o, "  %3s  %-*s  %-6s  %-8s  %s\n", "#", w, "name", "type", "default", "role");
    for (int i = 0; i < dc->n_input_fields; i++) {
        const mt_input_field *f = &dc->input_fields[i];
        char role[512];
        size_t n = 0;
        role[0] = 0;
        for (int l = 0; l < dc->n_label_fields; l++) {
            if (!dc->label_field_index || dc->label_field_index[l] != i) continue;
            cat(role, sizeof role, &n, "%slabel %d", n ? "; " : "", l);
            int nt = 0;
            for (int t = 0; t < p->model.dbmtl.n_towers; t++)
                if (p->model.dbmtl.towers[t].label_index == l)
                    cat(role, sizeof role, &n, "%s%s", nt++ ? ", " : " (tower ",
                        p->model.dbmtl.towers[t].tower_name);
            if (nt) cat(role, sizeof role, &n, ")");
        }
        if (dc->sample_weight_index == i) cat(role, sizeof role, &n, "%ssample weight", n ? "; " : "");
        int nf = 0;
        for (int k = 0; k < p->n_features; k++) {
            const mt_feature_config *fc = &p->features[k];
            if (fc->input_index[0] == i || fc->input_index[1] == i)
                cat(role, sizeof role, &n, "%s%s", nf++ ? ", " : n ? "; feature " : "feature ",
                    fc->feature_name);
        }
        for (int t = 0; t < p->model.dbmtl.n_towers; t++) {
            const mt_tower_config *T = &p->model.dbmtl.towers[t];
            for (int m = 0; m < T->n_metrics; m++)
                if (T->metrics[m].uid_index == i)
                    cat(role, sizeof role, &n, "%sgauc uid (%s)", n ? "; " : "", T->tower_name);
            for (int m = 0; m < T->n_losses; m++)
                if (T->losses[m].session_index == i)
                    cat(role, sizeof role, &n, "%spairwise session (%s)", n ? "; " : "", T->tower_name);
        }
        fprintf(o, "  %3d  %-*s  %-6s  %-8s  %s\n", i, w, f->name, mt_field_type_name(f->type),
                field_default(f), n ? role : "unused");
    }
}

static void print_features(FILE *o, const mt_pipeline *p, const mt_feature_plan *plan) {
    int w = 4, wt = 5;
    for (int i = 0; i < plan->n_items; i++)
        w = MT_MAX(w, (int)strlen(p->features[plan->items[i].feature].feature_name));
    for (int i = 0; i < plan->n_tables; i++) wt = MT_MAX(wt, (int)strlen(plan->tables[i].name));
    fprintf(o, "\nfeatures (%d, group \"all\" in order):\n", plan->n_items);
    fprintf(o, "  %-*s  %-10s  %5s  %6s  %-*s  %s\n", w, "name", "type", "width", "offset", wt,
            "table", "transform");
    int n_embed = 0, n_dense = 0;
    for (int i = 0; i < plan->n_items; i++) {
        const mt_feature_plan_item *it = &plan->items[i];
        const mt_feature_config *f = &p->features[it->feature];
        char tr[320];
        feature_transform(f, it, tr, sizeof tr);
        const char *table = it->out == MT_OUT_EMBED ? plan->tables[it->table].name : "-";
        fprintf(o, "  %-*s  %-10s  %5d  %6d  %-*s  %s\n", w, f->feature_name,
                feature_type_name(f->type), it->width, it->group_offset, wt, table, tr);
        if (it->out == MT_OUT_EMBED) n_embed++;
        else n_dense++;
    }
    fprintf(o, "group \"all\" width: %d (%d embedded, %d dense features)\n", plan->group_width,
            n_embed, n_dense);
    for (int k = 0; k < p->n_features; k++) {
        int in_group = 0;
        for (int i = 0; i < plan->n_items; i++) in_group |= plan->items[i].feature == k;
        if (!in_group)
            fprintf(o, "not in group \"all\" (parsed, still an export input): %s\n",
                    p->features[k].feature_name);
    }

    fprintf(o, "\nembedding tables (%d):\n", plan->n_tables);
    for (int t = 0; t < plan->n_tables; t++) {
        const mt_table_plan *tp = &plan->tables[t];
        int users = 0;
        for (int i = 0; i < plan->n_items; i++)
            users += plan->items[i].out == MT_OUT_EMBED && plan->items[i].table == t;
        fprintf(o, "  %-*s  %lld x %d = %lld, embedding_dim %d", wt, tp->name, (long long)tp->rows,
                tp->dim, (long long)tp->rows * tp->dim, tp->dim);
        if (users > 1) {
            fprintf(o, ", shared by");
            int k = 0;
            for (int i = 0; i < plan->n_items; i++)
                if (plan->items[i].out == MT_OUT_EMBED && plan->items[i].table == t)
                    fprintf(o, "%s %s", k++ ? "," : "", p->features[plan->items[i].feature].feature_name);
        }
        fputc('\n', o);
    }
}

static void print_tower(FILE *o, const mt_pipeline *p, const arch *a, int t) {
    const mt_dbmtl_config *d = &p->model.dbmtl;
    const mt_tower_config *T = &d->towers[t];
    const char *label = T->label_name ? T->label_name : "?";
    fprintf(o, "  tower %s (label %s):\n", T->tower_name, label);
    if (a->n_expert)
        fprintf(o, "    gate: dense %d -> %d (%lld kernel + %d bias), softmax; input = sum of gated "
                   "experts (%d)\n",
                a->bottom_out, a->n_expert, (long long)a->bottom_out * a->n_expert, a->n_expert,
                a->task_in);
    print_dnn(o, "    ", "dnn", &T->dnn, a->task_in);
    fprintf(o, "    relation input: %d = %d (dnn)", a->rel_in[t], a->tower_out[t]);
    for (int j = 0; j < T->n_relations; j++) {
        int r = T->relation_index[j];
        fprintf(o, " + %d (%s)", a->rel_out[r], d->towers[r].tower_name);
    }
    fputc('\n', o);
    print_dnn(o, "    ", "relation_dnn", &T->relation_dnn, a->rel_in[t]);
    fprintf(o, "    output: dense %d -> %d (%lld kernel + %d bias), no activation\n", a->rel_out[t],
            T->num_class, (long long)a->rel_out[t] * T->num_class, T->num_class);
    fprintf(o, "    loss: %s, weight %g, num_class %d", mt_loss_type_name(T->loss_type), T->weight,
            T->num_class);
    if (!T->use_sample_weight) fprintf(o, ", sample weight off");
    fputc('\n', o);
    for (int m = 0; m < T->n_losses; m++) {
        const mt_loss_config *L = &T->losses[m];
        fprintf(o, "      losses[%d]: %s, weight %g", m, mt_loss_type_name(L->type), L->weight);
        if (L->type == MT_LOSS_PAIR_WISE)
            fprintf(o, ", margin %g, temperature %g, session %s", L->margin, L->temperature,
                    L->session_name ? L->session_name : "(whole batch)");
        fputc('\n', o);
    }
    if (T->task_space_indicator_label)
        fprintf(o, "      task space: %s > 0 -> weight %g, else %g\n", T->task_space_indicator_label,
                T->in_task_space_weight, T->out_task_space_weight);
    fprintf(o, "    metrics:");
    for (int m = 0; m < T->n_metrics; m++) {
        const mt_metric_config *M = &T->metrics[m];
        fprintf(o, "%s %s", m ? "," : "", mt_metric_name(M->type));
        if (M->type == MT_METRIC_GAUC)
            fprintf(o, " (uid %s, %s)", M->uid_field ? M->uid_field : "?",
                    M->reduction == MT_GAUC_MEAN ? "mean"
                    : M->reduction == MT_GAUC_MEAN_BY_SAMPLE_NUM ? "mean_by_sample_num"
                                                                 : "mean_by_positive_num");
    }
    fprintf(o, "%s\n", T->n_metrics ? "" : " none");
}

/* Depth-first over the reduced DAG, printing each root-to-leaf path. */
static void print_paths(FILE *o, const mt_dbmtl_config *d, const unsigned char *edge, int n, int *path,
                        int depth, int *budget) {
    int t = path[depth - 1], leaf = 1;
    for (int c = t + 1; c < n; c++) {
        if (!edge[t * n + c]) continue;
        leaf = 0;
        path[depth] = c;
        print_paths(o, d, edge, n, path, depth + 1, budget);
    }
    if (leaf && (*budget)-- > 0) {
        fprintf(o, "    ");
        for (int i = 0; i < depth; i++)
            fprintf(o, "%s%s", i ? " -> " : "", d->towers[path[i]].tower_name);
        fputc('\n', o);
    }
}

/* Parents of each tower, then root-to-leaf chains over the transitive reduction (an edge
 * p -> t is left out of the chains when p is already an ancestor of another parent of t, e.g.
 * is_click -> view_costtime beside is_click -> is_view -> view_costtime). */
static mtrec_status print_dag(FILE *o, const mt_pipeline *p, mt_err *e) {
    const mt_dbmtl_config *d = &p->model.dbmtl;
    int n = d->n_towers;
    fprintf(o, "\nrelation DAG (a tower's relation input = its dnn output + its parents' relation "
               "outputs):\n");
    for (int t = 0; t < n; t++) {
        const mt_tower_config *T = &d->towers[t];
        fprintf(o, "  %s <- ", T->tower_name);
        for (int j = 0; j < T->n_relations; j++)
            fprintf(o, "%s%s", j ? ", " : "", d->towers[T->relation_index[j]].tower_name);
        fprintf(o, "%s\n", T->n_relations ? "" : "(root)");
    }
    if (n == 0) return MTREC_OK;
    unsigned char *anc = calloc((size_t)n * n, 1), *edge = calloc((size_t)n * n, 1);
    int *path = calloc((size_t)n, sizeof(int));
    if (!anc || !edge || !path) {
        free(anc), free(edge), free(path);
        return mt_fail(e, MTREC_ERR_NOMEM, "describe: out of memory");
    }
    /* anc[t*n+q]: q is an ancestor of t (relations only point to earlier towers) */
    for (int t = 0; t < n; t++)
        for (int j = 0; j < d->towers[t].n_relations; j++) {
            int r = d->towers[t].relation_index[j];
            anc[t * n + r] = 1;
            for (int q = 0; q < r; q++) anc[t * n + q] |= anc[r * n + q];
        }
    for (int t = 0; t < n; t++) {
        const mt_tower_config *T = &d->towers[t];
        for (int j = 0; j < T->n_relations; j++) {
            int r = T->relation_index[j], implied = 0;
            for (int k = 0; k < T->n_relations; k++) {
                int q = T->relation_index[k];
                if (q != r && anc[q * n + r]) implied = 1;
            }
            if (!implied) edge[r * n + t] = 1;
        }
    }
    fprintf(o, "  chains (root to leaf):\n");
    int budget = 1000;
    for (int t = 0; t < n; t++) {
        if (d->towers[t].n_relations) continue;
        path[0] = t;
        print_paths(o, d, edge, n, path, 1, &budget);
    }
    if (budget < 0) fprintf(o, "    ... (more chains not shown)\n");
    free(anc), free(edge), free(path);
    return MTREC_OK;
}

mtrec_status mt_pipeline_describe(const mt_pipeline *p, const mt_feature_plan *plan, FILE *out,
                                  mt_err *e) {
    if (!out) return mt_fail(e, MTREC_ERR_ARG, "describe: NULL output stream");
    arch a;
    mtrec_status st = arch_build(p, plan, &a, e);
    if (st) return st;
    mt_param_counts c;
    counts_from_arch(p, plan, &a, &c);
    const mt_dbmtl_config *d = &p->model.dbmtl;
    const mt_data_config *dc = &p->data;
    FILE *o = out;

    fprintf(o, "pipeline: %s\n", p->path ? p->path : "(text)");
    fprintf(o, "  model_class %s, model_dir %s\n", p->model.model_class ? p->model.model_class : "?",
            p->model_dir ? p->model_dir : "(unset)");
    fprintf(o, "  train_input_path %s\n  eval_input_path %s\n",
            p->train_input_path ? p->train_input_path : "(unset)",
            p->eval_input_path ? p->eval_input_path : "(unset)");
    fprintf(o, "  data: %s, separator '%c', with_header %s, batch_size %d, shuffle %s (buffer %d), "
               "num_epochs %d%s\n",
            dc->input_type ? dc->input_type : "?", dc->separator, dc->with_header ? "true" : "false",
            dc->batch_size, dc->shuffle ? "true" : "false", dc->shuffle_buffer_size, dc->num_epochs,
            dc->ignore_error ? ", ignore_error" : "");
    const mt_train_config *tc = &p->train;
    fprintf(o, "  train: %s, ", optimizer_name(tc->optimizer.kind));
    if (tc->optimizer.lr.kind == MT_LR_EXP_DECAY)
        fprintf(o, "lr %g x %g every %lld steps%s (min %g)", tc->optimizer.lr.initial_learning_rate,
                tc->optimizer.lr.decay_factor, (long long)tc->optimizer.lr.decay_steps,
                tc->optimizer.lr.staircase ? " (staircase)" : "", tc->optimizer.lr.min_learning_rate);
    else
        fprintf(o, "lr %g", tc->optimizer.lr.learning_rate);
    fprintf(o, ", num_steps %lld, checkpoints every %lld steps (keep %d), log every %lld steps\n",
            (long long)tc->num_steps, (long long)tc->save_checkpoints_steps, tc->keep_checkpoint_max,
            (long long)tc->log_step_count_steps);
    fprintf(o, "  regularization: l2 %g on dense kernels, embedding %g on looked-up embeddings\n\n",
            d->l2_regularization, p->model.embedding_regularization);

    print_inputs(o, p);
    print_features(o, p, plan);

    fprintf(o, "\nmodel (DBMTL), dense layers: dense (kernel + bias) -> BN -> activation -> "
               "dropout:\n");
    print_dnn(o, "  ", "bottom_dnn", &d->bottom_dnn, a.in);
    if (a.n_expert) {
        fprintf(o, "  experts: %d x [%d", a.n_expert, a.bottom_out);
        for (int i = 0; i < d->expert_dnn.n_layers; i++) fprintf(o, " -> %d", d->expert_dnn.hidden_units[i]);
        fprintf(o, "], one softmax gate %d -> %d per tower\n", a.bottom_out, a.n_expert);
        print_dnn(o, "    ", "expert_dnn (each)", &d->expert_dnn, a.bottom_out);
    } else if (d->num_expert > 0) {
        fprintf(o, "  experts: none (num_expert %d but expert_dnn is empty)\n", d->num_expert);
    }
    for (int t = 0; t < d->n_towers; t++) print_tower(o, p, &a, t);

    st = print_dag(o, p, e);
    if (st) {
        arch_free(&a);
        return st;
    }

    fprintf(o, "\nparameters:\n");
    fprintf(o, "  dense kernels            %lld\n", (long long)c.kernels);
    fprintf(o, "  dense biases             %lld\n", (long long)c.biases);
    fprintf(o, "  BN gamma + beta          %lld\n", (long long)c.bn_affine);
    fprintf(o, "  dense trainable          %lld\n", (long long)c.dense_trainable);
    fprintf(o, "  embedding (%d tables)    %lld\n", plan->n_tables, (long long)c.embedding);
    fprintf(o, "  total trainable          %lld\n", (long long)c.total_trainable);
    fprintf(o, "  BN moving mean + var     %lld (non-trainable, not in the totals)\n",
            (long long)c.bn_moving);

    fprintf(o, "\nignored TF-only fields (accepted, no effect):");
    for (int i = 0; i < p->n_ignored; i++) fprintf(o, "%s %s", i ? "," : "", p->ignored_fields[i]);
    fprintf(o, "%s\n", p->n_ignored ? "" : " none");
    arch_free(&a);
    if (fflush(o) != 0 || ferror(o)) return mt_fail(e, MTREC_ERR_IO, "describe: write failed");
    return MTREC_OK;
}
