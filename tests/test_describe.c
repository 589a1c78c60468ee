/* test_describe.c: `mtrec check` output (config/describe.c) for small hand-made pipelines:
 * layer shapes, relation input widths, parameter counts worked out by hand below, the
 * relation DAG chains, feature transforms, shared tables; and examples/live5.config end to
 * end once the config loader and the feature plan build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/describe.h"
#include "model/dbmtl.h"
#include "test.h"

/* ---- a small pipeline built by hand ------------------------------------------------------ */

typedef struct fixture {
    mt_pipeline p;
    mt_feature_plan plan;
    mt_input_field fields[6];
    char *labels[2];
    int label_index[2];
    mt_feature_config feats[5];
    char *in_names[5][1];
    double bounds[3];
    char *group[5];
    mt_tower_config towers[4];
    mt_metric_config metrics[4];
    char *rel_names[4][2];
    int rel_index[4][2];
    mt_feature_plan_item items[5];
    mt_table_plan tables[3];
    char *ignored[2];
} fixture;

static int U8[] = {8}, U65[] = {6, 5}, U3[] = {3}, U4[] = {4}, U2[] = {2};
static float DROP_HALF[] = {0.5f};

static mt_dnn_config dnn(int *units, int n, int bn) {
    mt_dnn_config d;
    memset(&d, 0, sizeof d);
    d.present = 1, d.hidden_units = units, d.n_layers = n, d.use_bn = bn, d.activation = MT_ACT_RELU;
    return d;
}

static void feature(fixture *f, int k, const char *name, mt_feature_type t, int input, int dim) {
    mt_feature_config *c = &f->feats[k];
    memset(c, 0, sizeof *c);
    c->feature_name = (char *)name;
    f->in_names[k][0] = (char *)name;
    c->input_names = f->in_names[k];
    c->n_input_names = 1;
    c->input_index[0] = input, c->input_index[1] = -1;
    c->type = t, c->embedding_dim = dim, c->separator = (char *)"|", c->raw_input_dim = 1;
    f->group[k] = (char *)name;
}

static void tower(fixture *f, int t, const char *name, mt_loss_type lt, mt_dnn_config d,
                  mt_dnn_config rel, int n_rel, int r0, int r1) {
    mt_tower_config *T = &f->towers[t];
    memset(T, 0, sizeof *T);
    T->tower_name = (char *)name, T->label_name = (char *)name;
    T->loss_type = lt, T->num_class = 1, T->weight = 1.0f, T->use_sample_weight = 1;
    T->dnn = d, T->relation_dnn = rel;
    T->n_relations = n_rel;
    f->rel_index[t][0] = r0, f->rel_index[t][1] = r1;
    T->relation_index = f->rel_index[t];
    for (int j = 0; j < n_rel; j++) f->rel_names[t][j] = f->towers[j == 0 ? r0 : r1].tower_name;
    T->relation_tower_names = f->rel_names[t];
    f->metrics[t].type = lt == MT_LOSS_L2 ? MT_METRIC_MSE : MT_METRIC_AUC;
    f->metrics[t].uid_index = -1;
    T->metrics = &f->metrics[t], T->n_metrics = 1;
    T->task_space_label_index = -1;
    T->label_index = t == 0 ? 0 : 1;
}

/* Inputs: clk, buy, uid, cat, price, tags. Features (group order): uid (hash 100, dim 4,
 * table "uid"), cat (num_buckets 5, dim 4), tags (TagFeature, shares table "uid"),
 * price_b (boundaries [1,2,3] -> 4 buckets, dim 4), price (raw dense). Group width
 * 4 + 4 + 4 + 4 + 1 = 17. Towers: ctr, cvr <- ctr, gmv <- ctr, cvr (L2). */
static void fixture_init(fixture *f) {
    memset(f, 0, sizeof *f);
    mt_pipeline *p = &f->p;
    const char *names[6] = {"clk", "buy", "uid", "cat", "price", "tags"};
    mt_field_type types[6] = {MT_T_INT32, MT_T_INT32, MT_T_STRING, MT_T_INT32, MT_T_FLOAT, MT_T_STRING};
    for (int i = 0; i < 6; i++) f->fields[i].name = (char *)names[i], f->fields[i].type = types[i];
    f->fields[4].default_val = (char *)"-1.5";
    p->path = (char *)"hand.config";
    p->model_dir = (char *)"/tmp/m";
    p->data.input_fields = f->fields, p->data.n_input_fields = 6;
    f->labels[0] = (char *)"clk", f->labels[1] = (char *)"buy";
    f->label_index[0] = 0, f->label_index[1] = 1;
    p->data.label_fields = f->labels, p->data.n_label_fields = 2;
    p->data.label_field_index = f->label_index;
    p->data.sample_weight_index = -1;
    p->data.separator = ',', p->data.batch_size = 32, p->data.input_type = (char *)"CSVInput";

    feature(f, 0, "uid", MT_FEAT_ID, 2, 4);
    f->feats[0].hash_bucket_size = 100;
    feature(f, 1, "cat", MT_FEAT_ID, 3, 4);
    f->feats[1].num_buckets = 5;
    feature(f, 2, "tags", MT_FEAT_TAG, 5, 4);
    f->feats[2].hash_bucket_size = 100;
    f->feats[2].embedding_name = (char *)"uid";
    feature(f, 3, "price_b", MT_FEAT_RAW, 4, 4);
    f->bounds[0] = 1, f->bounds[1] = 2, f->bounds[2] = 3;
    f->feats[3].boundaries = f->bounds, f->feats[3].n_boundaries = 3;
    feature(f, 4, "price", MT_FEAT_RAW, 4, 0);
    p->features = f->feats, p->n_features = 5;
    p->model.model_class = (char *)"DBMTL";
    p->model.group_feature_names = f->group, p->model.n_group_features = 5;

    mt_dbmtl_config *d = &p->model.dbmtl;
    d->bottom_dnn = dnn(U8, 1, 1);
    mt_dnn_config absent;
    memset(&absent, 0, sizeof absent);
    mt_dnn_config cvr_rel = dnn(U2, 1, 0);
    cvr_rel.dropout_ratio = DROP_HALF, cvr_rel.n_dropout = 1;
    tower(f, 0, "ctr", MT_LOSS_CLASSIFICATION, dnn(U65, 2, 1), dnn(U3, 1, 1), 0, -1, -1);
    tower(f, 1, "cvr", MT_LOSS_CLASSIFICATION, dnn(U4, 1, 0), cvr_rel, 1, 0, -1);
    tower(f, 2, "gmv", MT_LOSS_L2, absent, absent, 2, 0, 1);
    d->towers = f->towers, d->n_towers = 3;
    d->l2_regularization = 1e-6f;
    f->ignored[0] = (char *)"prefetch_size", f->ignored[1] = (char *)"sync_replicas";
    p->ignored_fields = f->ignored, p->n_ignored = 2;

    /* the plan, as mt_feature_plan_build would make it */
    mt_feature_plan *pl = &f->plan;
    f->tables[0] = (mt_table_plan){(char *)"uid", 100, 4};
    f->tables[1] = (mt_table_plan){(char *)"cat", 5, 4};
    f->tables[2] = (mt_table_plan){(char *)"price_b", 4, 4};
    int tab[5] = {0, 1, 0, 2, -1}, off = 0;
    for (int i = 0; i < 5; i++) {
        mt_feature_plan_item *it = &f->items[i];
        it->feature = i;
        it->out = tab[i] >= 0 ? MT_OUT_EMBED : MT_OUT_DENSE;
        it->table = tab[i];
        it->width = tab[i] >= 0 ? 4 : 1;
        it->group_offset = off;
        off += it->width;
        it->combiner = MT_COMBINER_SUM;
    }
    pl->items = f->items, pl->n_items = 5;
    pl->tables = f->tables, pl->n_tables = 3;
    pl->group_width = off;
    pl->dense_width = 1;
    pl->n_labels = 2;
}

/* describe into a malloc'ed string */
static char *describe(const fixture *f, mtrec_status *st) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    mt_err e;
    *st = mt_pipeline_describe(&f->p, &f->plan, m, &e);
    fclose(m);
    if (*st) fprintf(stderr, "describe: %s\n", e.msg);
    return buf;
}

static void test_param_counts_by_hand(void) {
    fixture f;
    fixture_init(&f);
    mt_param_counts c;
    mt_err e;
    CHECK(mt_pipeline_param_counts(&f.p, &f.plan, &c, &e) == MTREC_OK);
    CHECK(f.plan.group_width == 17);
    /* bottom 17->8 (BN); ctr dnn 8->6->5 (BN), rel 5->3 (BN), out 3->1;
     * cvr dnn 8->4, rel (4+3)->2, out 2->1; gmv dnn identity (8), rel identity (8+3+2), out 13->1 */
    long long kernels = 17 * 8 + (8 * 6 + 6 * 5 + 5 * 3 + 3 * 1) + (8 * 4 + 7 * 2 + 2 * 1) + 13 * 1;
    long long biases = 8 + (6 + 5 + 3 + 1) + (4 + 2 + 1) + 1;
    long long bn = 2 * 8 + 2 * (6 + 5 + 3);
    long long emb = 100 * 4 + 5 * 4 + 4 * 4;
    CHECK(c.kernels == kernels);
    CHECK(c.biases == biases);
    CHECK(c.bn_affine == bn);
    CHECK(c.bn_moving == bn);
    CHECK(c.dense_trainable == kernels + biases + bn);
    CHECK(c.embedding == emb);
    CHECK(c.total_trainable == kernels + biases + bn + emb);
    CHECK(c.dense_trainable == 368);  /* the sum above, worked out once by hand */
}

static void test_describe_text(void) {
    fixture f;
    fixture_init(&f);
    mtrec_status st;
    char *s = describe(&f, &st);
    CHECK(st == MTREC_OK);
    /* input fields: types, defaults, roles */
    CHECK_CONTAINS(s, "clk");
    CHECK_CONTAINS(s, "label 0 (tower ctr)");
    CHECK_CONTAINS(s, "label 1 (tower cvr, gmv)");
    CHECK_CONTAINS(s, "-1.5");
    CHECK_CONTAINS(s, "feature price_b, price");
    /* features */
    CHECK_CONTAINS(s, "hash(Fingerprint64) mod 100");
    CHECK_CONTAINS(s, "identity num_buckets 5 (out of range -> 0)");
    CHECK_CONTAINS(s, "tags '|' hash mod 100, combiner sum");
    CHECK_CONTAINS(s, "raw -> 3 boundaries -> 4 buckets");
    CHECK_CONTAINS(s, "raw dense");
    CHECK_CONTAINS(s, "group \"all\" width: 17 (4 embedded, 1 dense features)");
    CHECK_CONTAINS(s, "100 x 4 = 400, embedding_dim 4, shared by uid, tags");
    /* layers */
    CHECK_CONTAINS(s, "bottom_dnn: 17 -> 8\n");
    CHECK_CONTAINS(s, "layer 1: dense 17 -> 8 (136 kernel + 8 bias), BN 8 (16 trainable + 16 moving), relu\n");
    CHECK_CONTAINS(s, "dnn: 8 -> 6 -> 5\n");
    CHECK_CONTAINS(s, "layer 2: dense 6 -> 5 (30 kernel + 5 bias), BN 5 (10 trainable + 10 moving), relu\n");
    CHECK_CONTAINS(s, "relation input: 5 = 5 (dnn)\n");
    CHECK_CONTAINS(s, "relation input: 7 = 4 (dnn) + 3 (ctr)\n");
    CHECK_CONTAINS(s, "layer 1: dense 7 -> 2 (14 kernel + 2 bias), relu, dropout 0.5\n");
    CHECK_CONTAINS(s, "dnn: identity (8), absent\n");
    CHECK_CONTAINS(s, "relation input: 13 = 8 (dnn) + 3 (ctr) + 2 (cvr)\n");
    CHECK_CONTAINS(s, "relation_dnn: identity (13), absent\n");
    CHECK_CONTAINS(s, "output: dense 13 -> 1 (13 kernel + 1 bias)");
    CHECK_CONTAINS(s, "loss: L2_LOSS, weight 1, num_class 1");
    CHECK_CONTAINS(s, "metrics: mean_squared_error");
    CHECK_CONTAINS(s, "loss: CLASSIFICATION, weight 1, num_class 1");
    /* DAG: gmv has two parents; ctr -> gmv is implied by ctr -> cvr -> gmv */
    CHECK_CONTAINS(s, "gmv <- ctr, cvr\n");
    CHECK_CONTAINS(s, "ctr <- (root)\n");
    CHECK_CONTAINS(s, "    ctr -> cvr -> gmv\n");
    CHECK(strstr(s, "    ctr -> gmv\n") == NULL);
    /* totals */
    CHECK_CONTAINS(s, "dense trainable          368\n");
    CHECK_CONTAINS(s, "total trainable          804\n");
    CHECK_CONTAINS(s, "BN moving mean + var     44 (non-trainable");
    CHECK_CONTAINS(s, "ignored TF-only fields (accepted, no effect): prefetch_size, sync_replicas\n");
    free(s);
}

/* Two independent parents: the child appears on both chains; a second child of the root
 * gives a second chain; MMoE experts and gates change widths and counts. */
static void test_dag_two_roots_and_mmoe(void) {
    fixture f;
    fixture_init(&f);
    mt_dbmtl_config *d = &f.p.model.dbmtl;
    mt_dnn_config absent;
    memset(&absent, 0, sizeof absent);
    /* a (root), b (root), c <- a, b, x <- a */
    tower(&f, 0, "a", MT_LOSS_CLASSIFICATION, dnn(U4, 1, 0), absent, 0, -1, -1);
    tower(&f, 1, "b", MT_LOSS_CLASSIFICATION, dnn(U4, 1, 0), absent, 0, -1, -1);
    tower(&f, 2, "c", MT_LOSS_CLASSIFICATION, dnn(U4, 1, 0), absent, 2, 0, 1);
    tower(&f, 3, "x", MT_LOSS_CLASSIFICATION, dnn(U4, 1, 0), absent, 1, 0, -1);
    d->n_towers = 4;
    d->num_expert = 2;
    d->expert_dnn = dnn(U3, 1, 1);
    mtrec_status st;
    char *s = describe(&f, &st);
    CHECK(st == MTREC_OK);
    CHECK_CONTAINS(s, "    a -> c\n");
    CHECK_CONTAINS(s, "    a -> x\n");
    CHECK_CONTAINS(s, "    b -> c\n");
    CHECK_CONTAINS(s, "c <- a, b\n");
    CHECK_CONTAINS(s, "experts: 2 x [8 -> 3], one softmax gate 8 -> 2 per tower\n");
    CHECK_CONTAINS(s, "gate: dense 8 -> 2 (16 kernel + 2 bias)");
    CHECK_CONTAINS(s, "dnn: 3 -> 4\n");
    CHECK_CONTAINS(s, "relation input: 12 = 4 (dnn) + 4 (a) + 4 (b)\n");
    free(s);

    mt_param_counts c;
    CHECK(mt_pipeline_param_counts(&f.p, &f.plan, &c, NULL) == MTREC_OK);
    /* bottom 17->8 BN; 2 experts 8->3 BN; 4 gates 8->2; towers 3->4 each;
     * outputs: a 4->1, b 4->1, c 12->1, x 8->1 */
    long long k = 17 * 8 + 2 * (8 * 3) + 4 * (8 * 2) + 4 * (3 * 4) + (4 + 4 + 12 + 8);
    long long b = 8 + 2 * 3 + 4 * 2 + 4 * 4 + 4;
    long long bn = 2 * 8 + 2 * (2 * 3);
    CHECK(c.kernels == k);
    CHECK(c.biases == b);
    CHECK(c.bn_affine == bn && c.bn_moving == bn);

    /* num_expert without expert_dnn: no MMoE (as EasyRec and model_build) */
    d->expert_dnn.present = 0;
    CHECK(mt_pipeline_param_counts(&f.p, &f.plan, &c, NULL) == MTREC_OK);
    CHECK(c.kernels == 17 * 8 + 4 * (8 * 4) + (4 + 4 + 12 + 8));
}

static void test_bad_plan_is_an_error(void) {
    fixture f;
    fixture_init(&f);
    f.items[1].table = 7;
    mt_err e;
    FILE *m = fopen("/dev/null", "w");
    CHECK(mt_pipeline_describe(&f.p, &f.plan, m, &e) == MTREC_ERR_ARG);
    CHECK_CONTAINS(e.msg, "table 7");
    fixture_init(&f);
    f.rel_index[1][0] = 1;  /* a tower naming itself */
    CHECK(mt_pipeline_describe(&f.p, &f.plan, m, &e) == MTREC_ERR_ARG);
    CHECK(mt_pipeline_describe(NULL, &f.plan, m, &e) == MTREC_ERR_ARG);
    CHECK(mt_pipeline_describe(&f.p, &f.plan, NULL, &e) == MTREC_ERR_ARG);
    fclose(m);
}

/* examples/live5.config loads, plans and describes with the shapes of DESIGN.md. */
static void test_live5_config(void) {
    mt_pipeline p;
    mt_feature_plan plan;
    memset(&p, 0, sizeof p), memset(&plan, 0, sizeof plan);
    mt_err e;
    mtrec_status st = mt_pipeline_load("examples/live5.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    st = mt_feature_plan_build(&p, &plan, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) {
        mt_pipeline_free(&p);
        return;
    }
    CHECK(p.data.n_input_fields == 22);
    CHECK(p.data.n_label_fields == 5);
    CHECK(plan.n_items == 17);
    /* 15 embedded features x 16 + 2 raw values */
    CHECK(plan.group_width == 15 * 16 + 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    st = mt_pipeline_describe(&p, &plan, m, &e);
    fclose(m);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK_CONTAINS(buf, "bottom_dnn: 242 -> 512 -> 256\n");
    CHECK_CONTAINS(buf, "dnn: 256 -> 128 -> 96 -> 64\n");
    CHECK_CONTAINS(buf, "relation input: 128 = 64 (dnn) + 32 (is_click) + 32 (is_view)\n");
    CHECK_CONTAINS(buf, "relation input: 128 = 64 (dnn) + 32 (is_click) + 32 (is_on_mic)\n");
    CHECK_CONTAINS(buf, "    is_click -> is_view -> view_costtime\n");
    CHECK_CONTAINS(buf, "    is_click -> is_on_mic -> on_mic_duration\n");
    CHECK_CONTAINS(buf, "hash(Fingerprint64) mod 200000");
    CHECK_CONTAINS(buf, "raw -> 5 boundaries -> 6 buckets");
    CHECK_CONTAINS(buf, "loss: L2_LOSS");
    mt_param_counts c;
    CHECK(mt_pipeline_param_counts(&p, &plan, &c, &e) == MTREC_OK);
    /* dense part by hand: bottom, 5 x tower dnn, relations (in 64, 96, 128, 96, 128), outputs */
    long long bottom = 242LL * 512 + 512 + 2 * 512 + 512 * 256 + 256 + 2 * 256;
    long long tower = 256 * 128 + 128 + 2 * 128 + 128 * 96 + 96 + 2 * 96 + 96 * 64 + 64 + 2 * 64;
    long long rel_ins = 64 + 96 + 128 + 96 + 128;
    long long rel = rel_ins * 32 + 5 * (32 + 2 * 32);
    long long outs = 5 * (32 + 1);
    CHECK(c.dense_trainable == bottom + 5 * tower + rel + outs);
    CHECK(c.bn_moving == 2 * (512 + 256) + 5 * 2 * (128 + 96 + 64 + 32));
    CHECK(c.embedding == 16LL * (200000 + 50000 + 3 + 8 + 1000 + 10 + 50 + 24 + 7 + 10 + 100 + 10 +
                                 10000 + 6 + 8));
    /* the model builder allocates exactly what describe counts */
    mt_mm *mm = NULL;
    mt_model *model = NULL;
    st = mt_mm_create(1, 0, &mm, &e);
    if (!st) st = mt_model_create(&p, 4, mm, 1, &model, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (!st) {
        CHECK((long long)mt_model_dense_count(model) == (long long)c.dense_trainable);
        CHECK((long long)model->n_stats == (long long)c.bn_moving);
        CHECK((long long)mt_model_embedding_count(model) == (long long)c.embedding);
    }
    mt_model_free(model);
    mt_mm_free(mm);
    free(buf);
    mt_feature_plan_free(&plan);
    mt_pipeline_free(&p);
}

int main(void) {
    RUN(test_param_counts_by_hand);
    RUN(test_describe_text);
    RUN(test_dag_two_roots_and_mmoe);
    RUN(test_bad_plan_is_an_error);
    RUN(test_live5_config);
    return test_summary();
}
