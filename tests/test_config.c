/* test_config.c: the pipeline.config reader: text-format syntax, EasyRec's own DBMTL samples,
 * defaults, every validation error class with its message and line:col, unsupported fields,
 * the shape fingerprint, and regressions found by fuzz/fuzz_config.c. */
#include <stdarg.h>
#include <time.h>

#include "config/pipeline.h"
#include "config/textformat.h"
#include "test.h"

#define CFG "tests/fixtures/configs/"

static mtrec_status load(const char *path, mt_pipeline *p, mt_err *e) {
    memset(p, 0, sizeof *p);
    mt_err_clear(e);
    return mt_pipeline_load(path, p, e);
}

static int group_has(const mt_pipeline *p, const char *name) {
    for (int i = 0; i < p->model.n_group_features; i++)
        if (!strcmp(p->model.group_feature_names[i], name)) return 1;
    return 0;
}

static int has_ignored(const mt_pipeline *p, const char *path) {
    for (int i = 0; i < p->n_ignored; i++)
        if (!strcmp(p->ignored_fields[i], path)) return 1;
    return 0;
}

/* ---- EasyRec samples ------------------------------------------------------------------- */

static void check_taobao_common(const mt_pipeline *p) {
    CHECK(p->n_features == 18);                 /* 18 configured ... */
    CHECK(p->model.n_group_features == 17);     /* ... 17 in group "all" */
    CHECK(!group_has(p, "final_gender_code"));
    CHECK(mt_pipeline_feature_index(p, "final_gender_code") >= 0);
    CHECK_STR_EQ(p->model.group_feature_names[0], "user_id");
    CHECK_STR_EQ(p->model.group_feature_names[16], "tag_brand_list");
    for (int i = 0; i < p->model.n_group_features; i++)
        CHECK_STR_EQ(p->features[p->model.group_feature_index[i]].feature_name,
                     p->model.group_feature_names[i]);
    CHECK(p->data.n_input_fields == 20);
    CHECK(p->data.batch_size == 4096);
    CHECK_STR_EQ(p->data.input_type, "CSVInput");
    CHECK(p->data.n_label_fields == 2);
    CHECK_STR_EQ(p->data.label_fields[1], "buy");
    CHECK(p->data.label_field_index[0] == 0 && p->data.label_field_index[1] == 1);
    CHECK(p->data.input_fields[19].type == MT_T_INT32);
    CHECK(p->data.input_fields[2].type == MT_T_STRING);
    int price = mt_pipeline_feature_index(p, "price");
    CHECK(price >= 0 && p->features[price].type == MT_FEAT_ID && p->features[price].num_buckets == 50);
    CHECK(price >= 0 && p->features[price].input_index[0] == 19 && p->features[price].input_index[1] == -1);
    int cate = mt_pipeline_feature_index(p, "cate_id");
    CHECK(cate >= 0 && p->features[cate].hash_bucket_size == 10000 && p->features[cate].embedding_dim == 16);
    int tag = mt_pipeline_feature_index(p, "tag_brand_list");
    CHECK(tag >= 0 && p->features[tag].type == MT_FEAT_TAG);
    CHECK(tag >= 0 && !strcmp(p->features[tag].separator, "|") && p->features[tag].combiner == MT_COMBINER_SUM);
    const mt_dbmtl_config *d = &p->model.dbmtl;
    CHECK(d->n_towers == 2);
    CHECK_STR_EQ(d->towers[0].tower_name, "ctr");
    CHECK_STR_EQ(d->towers[1].label_name, "buy");
    CHECK(d->towers[1].label_index == 1);
    CHECK(d->towers[1].n_relations == 1 && d->towers[1].relation_index[0] == 0);
    CHECK(d->towers[0].n_relations == 0);
    CHECK(d->towers[0].dnn.n_layers == 4 && d->towers[0].dnn.hidden_units[0] == 256 &&
          d->towers[0].dnn.hidden_units[3] == 32);
    CHECK(d->towers[1].relation_dnn.present && d->towers[1].relation_dnn.n_layers == 1 &&
          d->towers[1].relation_dnn.hidden_units[0] == 32);
    CHECK(d->towers[0].n_metrics == 1 && d->towers[0].metrics[0].type == MT_METRIC_AUC);
    CHECK(d->towers[0].loss_type == MT_LOSS_CLASSIFICATION && d->towers[0].num_class == 1);
    CHECK_NEAR(d->towers[1].weight, 1.0, 0);
    CHECK_CLOSE(d->l2_regularization, 1e-6, 1e-6, 0);
    CHECK_CLOSE(p->model.embedding_regularization, 5e-6, 1e-6, 0);
    const mt_optimizer_config *o = &p->train.optimizer;
    CHECK(o->kind == MT_OPT_ADAM && o->lr.kind == MT_LR_EXP_DECAY);
    CHECK_CLOSE(o->lr.initial_learning_rate, 0.001, 1e-6, 0);
    CHECK(o->lr.decay_steps == 1000);
    CHECK_NEAR(o->lr.decay_factor, 0.5, 0);
    CHECK_CLOSE(o->lr.min_learning_rate, 1e-7, 1e-6, 0);
    CHECK(o->lr.staircase == 1);
    CHECK_CLOSE(o->beta1, 0.9, 1e-6, 0);
    CHECK_CLOSE(o->beta2, 0.999, 1e-6, 0);
    CHECK(p->train.save_checkpoints_steps == 100 && p->train.log_step_count_steps == 100);
    CHECK_STR_EQ(p->model.model_class, "DBMTL");
    CHECK(has_ignored(p, "train_config.sync_replicas"));
    CHECK(has_ignored(p, "data_config.prefetch_size"));
    CHECK(has_ignored(p, "train_config.optimizer_config.use_moving_average"));
}

static void test_easyrec_dbmtl_on_taobao(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "easyrec/dbmtl_on_taobao.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    check_taobao_common(&p);
    const mt_dnn_config *b = &p.model.dbmtl.bottom_dnn;
    CHECK(b->present && b->n_layers == 3 && b->hidden_units[0] == 1024 && b->hidden_units[1] == 512 &&
          b->hidden_units[2] == 256);
    CHECK(b->activation == MT_ACT_RELU && b->use_bn == 1 && b->n_dropout == 0);
    CHECK(!p.model.dbmtl.expert_dnn.present && p.model.dbmtl.num_expert == 0);
    CHECK(p.train.num_steps == 5000);
    CHECK_STR_EQ(p.model_dir, "experiments/dbmtl_taobao_ckpt");
    CHECK_STR_EQ(p.train_input_path, "data/test/tb_data/taobao_train_data");
    CHECK_STR_EQ(p.path, CFG "easyrec/dbmtl_on_taobao.config");
    CHECK(p.text && strstr(p.text, "dbmtl {"));
    mt_pipeline_free(&p);
    CHECK(p.features == NULL && p.n_features == 0);
    mt_pipeline_free(&p);   /* zeroed: accepted again */
}

static void test_easyrec_dbmtl_mmoe(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "easyrec/dbmtl_mmoe_on_taobao.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    check_taobao_common(&p);
    const mt_dbmtl_config *d = &p.model.dbmtl;
    CHECK(d->bottom_dnn.n_layers == 1 && d->bottom_dnn.hidden_units[0] == 1024);
    CHECK(d->expert_dnn.present && d->expert_dnn.n_layers == 4 && d->expert_dnn.hidden_units[0] == 256);
    CHECK(d->num_expert == 8);
    CHECK(p.train.num_steps == 100);
    mt_pipeline_free(&p);
}

static void test_easyrec_feature_config_syntax(void) {
    mt_pipeline a, b;
    mt_err e;
    mtrec_status sa = load(CFG "easyrec/dbmtl_on_taobao.config", &a, &e);
    mtrec_status sb = load(CFG "easyrec/dbmtl_on_taobao_test_feature_config.config", &b, &e);
    CHECK_MSG(sa == MTREC_OK && sb == MTREC_OK, "%s", e.msg);
    if (sa || sb) return;
    check_taobao_common(&b);
    /* only the text syntax differs (single quotes, `features : {`): same shape */
    CHECK(mt_pipeline_shape_fingerprint(&a) == mt_pipeline_shape_fingerprint(&b));
    for (int i = 0; i < a.n_features && i < b.n_features; i++)
        CHECK_STR_EQ(a.features[i].feature_name, b.features[i].feature_name);
    CHECK(strcmp(a.train_input_path, b.train_input_path) != 0);
    mt_pipeline_free(&a);
    mt_pipeline_free(&b);
}

static void expect_file_err(const char *path, mtrec_status code, const char *where, const char *text) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(path, &p, &e);
    CHECK_MSG(st == code, "%s: got %s: %s", path, mtrec_status_str(st), e.msg);
    CHECK_CONTAINS(e.msg, where);
    CHECK_CONTAINS(e.msg, text);
    if (!st) mt_pipeline_free(&p);
}

static void test_easyrec_refused_samples(void) {
    expect_file_err(CFG "easyrec/dbmtl_on_taobao_with_multi_loss.config", MTREC_ERR_UNSUPPORTED,
                    "dbmtl_on_taobao_with_multi_loss.config:255:19: ",
                    "not supported yet: activation 'dice'");
    expect_file_err(CFG "easyrec/dbmtl_on_sequence_feature_taobao.config", MTREC_ERR_UNSUPPORTED,
                    "dbmtl_on_sequence_feature_taobao.config:209:17: ",
                    "not supported yet: feature_type SequenceFeature");
    expect_file_err(CFG "easyrec/dbmtl_cmbf_on_movielens.config", MTREC_ERR_UNSUPPORTED,
                    "dbmtl_cmbf_on_movielens.config:148:19: ",
                    "not supported yet: feature_type SequenceFeature");
    expect_file_err(CFG "no_such_file.config", MTREC_ERR_IO, "no_such_file.config", "cannot open");
}

/* ---- mtrec's own fixtures ---------------------------------------------------------------- */

static void test_live5_design(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "live5_design.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    const mt_dbmtl_config *d = &p.model.dbmtl;
    CHECK(d->n_towers == 5);
    CHECK(d->bottom_dnn.n_layers == 2 && d->bottom_dnn.hidden_units[1] == 256);
    CHECK_STR_EQ(d->towers[2].tower_name, "view_costtime");
    CHECK(d->towers[2].loss_type == MT_LOSS_L2);
    CHECK(d->towers[2].n_metrics == 1 && d->towers[2].metrics[0].type == MT_METRIC_MSE);
    CHECK(d->towers[2].n_relations == 2 && d->towers[2].relation_index[0] == 0 &&
          d->towers[2].relation_index[1] == 1);
    CHECK(d->towers[4].n_relations == 2 && d->towers[4].relation_index[1] == 3);
    CHECK(d->towers[4].label_index == 4 && p.data.label_field_index[4] == 4);
    CHECK(d->towers[3].dnn.n_layers == 3 && d->towers[3].dnn.hidden_units[1] == 96);
    CHECK_CLOSE(d->l2_regularization, 1e-6, 1e-6, 0);
    CHECK(p.data.with_header == 1);
    int age = mt_pipeline_feature_index(&p, "user_age");
    CHECK(age >= 0 && p.features[age].type == MT_FEAT_RAW && p.features[age].n_boundaries == 4);
    int tags = mt_pipeline_feature_index(&p, "user_tags");
    CHECK(tags >= 0 && p.features[tags].combiner == MT_COMBINER_MEAN);
    CHECK(p.n_ignored == 0);
    mt_pipeline_free(&p);
}

static void test_tricky_syntax(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "tricky_syntax.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    CHECK_STR_EQ(p.train_input_path, "data/train_part.csv");
    CHECK_STR_EQ(p.model_dir, "exp/tricky!!\t\"q\"\\");
    const mt_optimizer_config *o = &p.train.optimizer;
    CHECK(o->kind == MT_OPT_MOMENTUM && o->momentum == 0.0f);
    CHECK(o->lr.kind == MT_LR_CONSTANT);
    CHECK_CLOSE(o->lr.learning_rate, 0.05, 1e-6, 0);
    CHECK(p.train.num_steps == 16);
    CHECK(isinf(p.train.gradient_clipping_by_norm));
    CHECK(p.train.seed == -7);
    CHECK_STR_EQ(p.train.mixed_precision, "BF16");
    CHECK(p.data.batch_size == 8 && p.data.shuffle == 0 && p.data.separator == '\t');
    CHECK(p.data.n_label_fields == 3 && p.data.label_field_index[2] == 2);
    CHECK(p.data.n_input_fields == 7);
    CHECK(p.data.input_fields[1].type == MT_T_FLOAT);
    CHECK_STR_EQ(p.data.input_fields[4].default_val, "-1.5");
    CHECK(p.data.input_fields[3].type == MT_T_STRING && p.data.input_fields[3].default_val == NULL);
    CHECK(p.data.sample_weight_index == 6);
    int uid = mt_pipeline_feature_index(&p, "uid");
    CHECK(uid == 0 && p.features[0].hash_bucket_size == 1000);
    const mt_feature_config *xb = &p.features[1];
    CHECK_STR_EQ(xb->feature_name, "xb");
    CHECK(xb->n_boundaries == 5);
    if (xb->n_boundaries == 5) {
        CHECK(isinf(xb->boundaries[0]) && xb->boundaries[0] < 0);
        CHECK_NEAR(xb->boundaries[1], -2.5, 0);
        CHECK_NEAR(xb->boundaries[2], 1, 0);
        CHECK_NEAR(xb->boundaries[3], 2, 0);
        CHECK_NEAR(xb->boundaries[4], 3, 0);
    }
    CHECK(p.features[2].n_vocab == 3 && !strcmp(p.features[2].vocab_list[2], "c"));
    CHECK_STR_EQ(p.features[2].separator, ";");
    CHECK_STR_EQ(p.features[3].embedding_name, "uid_emb");
    CHECK(p.model.n_group_features == 5 && !strcmp(p.model.group_feature_names[4], "uid3"));
    CHECK(p.model.group_feature_index[4] == 4);
    const mt_dbmtl_config *d = &p.model.dbmtl;
    CHECK(d->bottom_dnn.n_dropout == 2);
    CHECK_CLOSE(d->bottom_dnn.dropout_ratio[0], 0.1, 1e-6, 0);
    CHECK(d->bottom_dnn.activation == MT_ACT_LEAKY_RELU && d->bottom_dnn.use_bn == 0);
    CHECK(d->expert_dnn.n_layers == 1 && d->expert_dnn.activation == MT_ACT_SWISH && d->num_expert == 3);
    const mt_tower_config *a = &d->towers[0], *b = &d->towers[1], *c = &d->towers[2];
    CHECK_STR_EQ(a->label_name, "y1");   /* label_fields[0] */
    CHECK_STR_EQ(b->label_name, "y2");   /* label_fields[1] */
    CHECK(a->dnn.activation == MT_ACT_LINEAR);
    CHECK(a->n_losses == 2 && a->losses[1].type == MT_LOSS_PAIR_WISE);
    if (a->n_losses == 2) {
        CHECK_NEAR(a->losses[0].weight, 0.5, 0);
        CHECK_CLOSE(a->losses[1].margin, 0.1, 1e-6, 0);
        CHECK_NEAR(a->losses[1].temperature, 2, 0);
        CHECK_STR_EQ(a->losses[1].loss_name, "pair");
        CHECK(a->losses[1].session_index == 3);
        CHECK(a->losses[0].session_index == -1 && a->losses[0].temperature == 1.0f);
    }
    CHECK(a->n_metrics == 2 && a->metrics[0].type == MT_METRIC_GAUC && a->metrics[0].uid_index == 3);
    CHECK(a->n_metrics == 2 && a->metrics[0].reduction == MT_GAUC_MEAN_BY_SAMPLE_NUM &&
          a->metrics[1].type == MT_METRIC_ACCURACY);
    CHECK(a->task_space_label_index == 2 && a->out_task_space_weight == 0.0f);
    CHECK(b->loss_type == MT_LOSS_L2 && b->use_sample_weight == 0 && !b->dnn.present);
    CHECK(b->n_relations == 1 && b->relation_index[0] == 0);
    CHECK(b->n_metrics == 1 && b->metrics[0].type == MT_METRIC_RMSE);
    CHECK(c->num_class == 3 && c->n_relations == 2 && c->relation_index[1] == 1 && c->label_index == 0);
    CHECK(d->l2_regularization == 0.0f);
    CHECK(p.export_cfg.multi_placeholder == 0);
    CHECK(has_ignored(&p, "export_config.placeholder_named_by_input"));
    CHECK(has_ignored(&p, "eval_config.metrics_set"));
    mt_pipeline_free(&p);
}

static void test_defaults(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "minimal.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    CHECK(p.data.batch_size == 32 && p.data.separator == ',' && p.data.shuffle == 1);
    CHECK(p.data.shuffle_buffer_size == 32 && p.data.num_epochs == 0 && p.data.with_header == 0);
    CHECK(p.data.sample_weight == NULL && p.data.sample_weight_index == -1 && p.data.ignore_error == 0);
    CHECK(p.data.input_fields[1].type == MT_T_STRING);
    const mt_optimizer_config *o = &p.train.optimizer;
    CHECK(o->kind == MT_OPT_ADAM && o->lr.kind == MT_LR_CONSTANT);
    CHECK_CLOSE(o->lr.learning_rate, 0.002, 1e-6, 0);
    CHECK(o->lr.decay_steps == 4000000 && o->lr.staircase == 1);
    CHECK_CLOSE(o->lr.decay_factor, 0.95, 1e-6, 0);
    CHECK_CLOSE(o->epsilon, 1e-8, 1e-6, 0);
    CHECK_CLOSE(o->initial_accumulator_value, 0.1, 1e-6, 0);
    CHECK_CLOSE(o->momentum, 0.9, 1e-6, 0);
    CHECK(p.train.num_steps == 0 && p.train.save_checkpoints_steps == 1000);
    CHECK(p.train.keep_checkpoint_max == 10 && p.train.log_step_count_steps == 10);
    CHECK(p.train.seed == 2020 && p.train.mixed_precision == NULL && p.train.fine_tune_checkpoint == NULL);
    CHECK(p.train.gradient_clipping_by_norm == 0.0f && p.eval.num_examples == 0);
    CHECK(p.export_cfg.multi_placeholder == 1);
    CHECK_CLOSE(p.model.dbmtl.l2_regularization, 1e-4, 1e-6, 0);
    CHECK(p.model.embedding_regularization == 0.0f);
    const mt_tower_config *t = &p.model.dbmtl.towers[0];
    CHECK_STR_EQ(t->label_name, "y");
    CHECK(t->label_index == 0 && t->loss_type == MT_LOSS_CLASSIFICATION && t->num_class == 1);
    CHECK(t->weight == 1.0f && t->in_task_space_weight == 1.0f && t->out_task_space_weight == 1.0f);
    CHECK(t->use_sample_weight == 1 && t->task_space_label_index == -1 && t->n_losses == 0);
    CHECK(!t->dnn.present && !t->relation_dnn.present && !p.model.dbmtl.bottom_dnn.present);
    const mt_feature_config *f = &p.features[0];
    CHECK_STR_EQ(f->feature_name, "a");
    CHECK_STR_EQ(f->separator, "|");
    CHECK(f->combiner == MT_COMBINER_SUM && f->precision == -1 && f->raw_input_dim == 1);
    CHECK(f->embedding_name == NULL && f->kv_separator == NULL && f->type == MT_FEAT_ID);
    CHECK(f->input_index[0] == 1 && f->input_index[1] == -1);
    CHECK(p.model.pos.line == 9 && p.model.pos.col == 1);
    CHECK(t->pos.line == 12 && t->pos.col == 11);
    mt_pipeline_free(&p);
}

static void test_sgd_extension(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "sgd_extension.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    CHECK(p.train.optimizer.kind == MT_OPT_SGD);
    CHECK_CLOSE(p.train.optimizer.lr.learning_rate, 0.1, 1e-6, 0);
    CHECK(p.train.seed == 42);
    CHECK(p.model.dbmtl.towers[0].loss_type == MT_LOSS_SIGMOID_L2);
    CHECK(p.features[0].num_buckets == 100 && p.data.input_fields[1].type == MT_T_INT64);
    mt_pipeline_free(&p);
}

/* EasyRec's lazy_adam_optimizer trains as mtrec's Adam (which is lazy on embedding rows). */
static void test_lazy_adam(void) {
    FILE *f = fopen("examples/live5.config", "rb");
    CHECK(f != NULL);
    if (!f) return;
    static char buf[65536], out[65600];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *hit = strstr(buf, "adam_optimizer {");
    CHECK(hit != NULL);
    if (!hit) return;
    snprintf(out, sizeof out, "%.*slazy_%s", (int)(hit - buf), buf, hit);
    CHECK(strstr(out, "lazy_adam_optimizer {") != NULL);
    mt_pipeline p;
    mt_err e;
    mtrec_status st = mt_pipeline_load_text("lazy.config", out, &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    CHECK(p.train.optimizer.kind == MT_OPT_ADAM);
    CHECK(p.train.optimizer.lr.kind == MT_LR_EXP_DECAY);
    CHECK_CLOSE(p.train.optimizer.lr.initial_learning_rate, 0.001, 1e-6, 0);
    CHECK_CLOSE(p.train.optimizer.beta2, 0.999, 1e-6, 0);
    mt_pipeline_free(&p);
}

/* ---- templated configs for error cases ------------------------------------------------------ */

static const char *const TEMPLATE =
    "model_dir: \"m\"\n"
    "@TOP@\n"
    "train_config {\n"
    "  optimizer_config {\n"
    "    @OPT@\n"
    "  }\n"
    "  @TRAIN@\n"
    "}\n"
    "data_config {\n"
    "  input_type: CSVInput\n"
    "  label_fields: [\"y\", \"z\"]\n"
    "  input_fields { input_name: \"y\" input_type: INT32 }\n"
    "  input_fields { input_name: \"z\" input_type: INT32 }\n"
    "  input_fields { input_name: \"a\" }\n"
    "  input_fields { input_name: \"b\" input_type: INT64 }\n"
    "  @DATA@\n"
    "}\n"
    "feature_config {\n"
    "  features { input_names: \"a\" hash_bucket_size: 10 embedding_dim: 4 }\n"
    "  features { input_names: \"b\" num_buckets: 10 embedding_dim: 4 }\n"
    "  @FEAT@\n"
    "}\n"
    "model_config {\n"
    "  model_class: \"DBMTL\"\n"
    "  feature_groups { group_name: \"all\" feature_names: [\"a\", \"b\"] @GROUP@ }\n"
    "  @MODEL@\n"
    "  dbmtl {\n"
    "    @DBMTL@\n"
    "    task_towers { tower_name: \"t1\" @T1@ }\n"
    "    task_towers { tower_name: \"t2\" @T2@ }\n"
    "  }\n"
    "}\n";

static const char *const MARKERS[] = {"@TOP@", "@OPT@", "@TRAIN@", "@DATA@", "@FEAT@",
                                      "@GROUP@", "@MODEL@", "@DBMTL@", "@T1@", "@T2@"};
#define N_MARKERS 10

/* Expand TEMPLATE with `snippet` at `marker` (others empty, @OPT@ defaults to Adam). */
static char *expand(const char *marker, const char *snippet, int *line, int *col) {
    char *out = malloc(strlen(TEMPLATE) + strlen(snippet) + 64);
    const char *s = TEMPLATE;
    char *o = out;
    int l = 1, c = 1;
    while (*s) {
        int m = -1;
        if (*s == '@')
            for (int k = 0; k < N_MARKERS; k++)
                if (!strncmp(s, MARKERS[k], strlen(MARKERS[k]))) m = k;
        if (m < 0) {
            if (*s == '\n') { l++; c = 1; } else c++;
            *o++ = *s++;
            continue;
        }
        const char *rep = "";
        if (!strcmp(MARKERS[m], marker)) {
            rep = snippet;
            *line = l;
            *col = c;
        } else if (!strcmp(MARKERS[m], "@OPT@")) {
            rep = "adam_optimizer {}";
        }
        size_t n = strlen(rep);
        memcpy(o, rep, n);
        o += n;
        c += (int)n;
        s += strlen(MARKERS[m]);
    }
    *o = '\0';
    return out;
}

/* Load TEMPLATE+snippet; expect `code`, a message containing `text`, and the position
 * "t.config:L:C:" of the first occurrence of `at` inside the snippet. */
static void expect_err(const char *marker, const char *snippet, mtrec_status code, const char *at,
                       const char *text) {
    int line = 0, col = 0;
    char *cfg = expand(marker, snippet, &line, &col);
    mt_pipeline p;
    memset(&p, 0, sizeof p);
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_pipeline_load_text("t.config", cfg, &p, &e);
    CHECK_MSG(st == code, "[%s] expected %s, got %s: %s", snippet, mtrec_status_str(code),
              mtrec_status_str(st), e.msg);
    if (at) {
        const char *hit = strstr(snippet, at);
        char where[64];
        snprintf(where, sizeof where, "t.config:%d:%d: ", line, col + (hit ? (int)(hit - snippet) : 0));
        CHECK_MSG(hit && strncmp(e.msg, where, strlen(where)) == 0, "[%s] want prefix %s in: %s",
                  snippet, where, e.msg);
    }
    CHECK_MSG(strstr(e.msg, text) != NULL, "[%s] want \"%s\" in: %s", snippet, text, e.msg);
    CHECK(p.features == NULL && p.path == NULL);   /* *out untouched on error */
    if (!st) mt_pipeline_free(&p);
    free(cfg);
}

static void expect_ok(const char *marker, const char *snippet) {
    int line, col;
    char *cfg = expand(marker, snippet, &line, &col);
    mt_pipeline p;
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_pipeline_load_text("t.config", cfg, &p, &e);
    CHECK_MSG(st == MTREC_OK, "[%s] %s", snippet, e.msg);
    if (!st) mt_pipeline_free(&p);
    free(cfg);
}

/* The template (defaults) with the first `from` replaced by `to`. */
static void expect_replace(const char *from, const char *to, mtrec_status code, const char *where,
                           const char *text) {
    int line, col;
    char *cfg = expand("@NONE@", "", &line, &col);
    char *hit = strstr(cfg, from);
    CHECK(hit != NULL);
    if (!hit) { free(cfg); return; }
    char *out = malloc(strlen(cfg) + strlen(to) + 1);
    size_t pre = (size_t)(hit - cfg);
    memcpy(out, cfg, pre);
    strcpy(out + pre, to);
    strcat(out, hit + strlen(from));
    mt_pipeline p;
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_pipeline_load_text("t.config", out, &p, &e);
    CHECK_MSG(st == code, "[%s] got %s: %s", to, mtrec_status_str(st), e.msg);
    CHECK_MSG(strncmp(e.msg, where, strlen(where)) == 0, "[%s] want prefix %s in: %s", to, where, e.msg);
    CHECK_CONTAINS(e.msg, text);
    if (!st) mt_pipeline_free(&p);
    free(out);
    free(cfg);
}

static void test_template_is_valid(void) {
    expect_ok("@TOP@", "");
    expect_ok("@T2@", "relation_tower_names: \"t1\"");
    expect_ok("@OPT@", "momentum_optimizer { momentum_optimizer_value: 0 }");
    expect_ok("@OPT@", "adagrad_optimizer { learning_rate { exponential_decay_learning_rate { "
                       "burnin_learning_rate: 0.0001 burnin_steps: 100 } } }");
    expect_ok("@FEAT@", "features { input_names: \"a\" feature_name: \"a_tag\" feature_type: TagFeature "
                        "kv_separator: \":\" embedding_dim: 2 num_buckets: 7 }");
    expect_ok("@DBMTL@", "bottom_dnn { hidden_units: [4] activation: \"tf.nn.relu\" }");
    expect_ok("@T1@", "dnn { hidden_units: [4] activation: \"gelu\" } losses { loss_type: CROSS_ENTROPY_LOSS }");
}

static void test_err_unknown_field(void) {
    expect_err("@T1@", "dnn { hiden_units: [8] }", MTREC_ERR_CONFIG, "hiden_units",
               "unknown field 'hiden_units' in dnn; did you mean 'hidden_units'?");
    expect_err("@DATA@", "batch_sise: 3", MTREC_ERR_CONFIG, "batch_sise",
               "unknown field 'batch_sise' in data_config; did you mean 'batch_size'?");
    expect_err("@TOP@", "zzqqxxyy: 1", MTREC_ERR_CONFIG, "zzqqxxyy",
               "unknown field 'zzqqxxyy' in the top level");
    expect_err("@FEAT@", "features { input_names: \"a\" embeding_dim: 4 }", MTREC_ERR_CONFIG,
               "embeding_dim", "did you mean 'embedding_dim'?");
}

static void test_err_wrong_type(void) {
    expect_err("@DATA@", "batch_size: \"abc\"", MTREC_ERR_CONFIG, "\"abc\"",
               "field 'batch_size' expects a non-negative integer, got string \"abc\"");
    expect_err("@DATA@", "batch_size: 1.5", MTREC_ERR_CONFIG, "1.5", "expects a non-negative integer");
    expect_err("@DATA@", "batch_size: -4", MTREC_ERR_CONFIG, "-4", "out of range");
    expect_err("@DATA@", "shuffle: yes", MTREC_ERR_CONFIG, "yes", "expects true or false, got 'yes'");
    expect_err("@DATA@", "sample_weight: wt", MTREC_ERR_CONFIG, "wt", "expects a quoted string");
    expect_err("@DBMTL@", "l2_regularization: \"1e-4\"", MTREC_ERR_CONFIG, "\"1e-4\"", "expects a number");
    expect_err("@DBMTL@", "bottom_dnn: 5", MTREC_ERR_CONFIG, "5", "field 'bottom_dnn' is a message");
    expect_err("@DATA@", "batch_size { }", MTREC_ERR_CONFIG, "batch_size", "not a message block");
    expect_replace("input_type: CSVInput", "input_type: \"CSVInput\"", MTREC_ERR_CONFIG,
                   "t.config:10:15: ", "field 'input_type' expects an unquoted enum value, got string");
    expect_err("@DBMTL@", "l2_regularization: nan", MTREC_ERR_CONFIG, "nan", "must be a finite number");
}

static void test_err_missing_required(void) {
    mt_pipeline p;
    mt_err e;
    mtrec_status st = mt_pipeline_load_text("t.config", "data_config { input_type: CSVInput }", &p, &e);
    CHECK(st == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "t.config:1:1: missing required field 'model_dir' in the top level");
    /* tower_name: reported at the tower block */
    expect_err("@DBMTL@", "task_towers { label_name: \"y\" }", MTREC_ERR_CONFIG, "task_towers",
               "missing required field 'tower_name' in task_towers");
    expect_err("@DATA@", "input_fields { input_type: INT32 }", MTREC_ERR_CONFIG, "input_fields",
               "missing required field 'input_name' in input_fields");
    st = mt_pipeline_load_text("t.config", "model_dir: \"m\"\n\ndata_config {\n  batch_size: 1 }\n"
                               "model_config { model_class: \"DBMTL\" }", &p, &e);
    CHECK(st == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "t.config:3:1: missing required field 'input_type' in data_config");
    expect_err("@T1@", "metrics_set { gauc { } }", MTREC_ERR_CONFIG, "gauc",
               "missing required field 'uid_field' in gauc");
}

static void test_err_feature_references(void) {
    expect_err("@GROUP@", "feature_names: \"c\"", MTREC_ERR_CONFIG, "\"c\"",
               "feature 'c' in feature group \"all\" is not defined by any feature config");
    expect_err("@GROUP@", "feature_names: \"bb\"", MTREC_ERR_CONFIG, "\"bb\"", "did you mean 'b'?");
    expect_err("@GROUP@", "feature_names: \"a\"", MTREC_ERR_CONFIG, "\"a\"",
               "feature 'a' is listed twice in feature group");
    expect_err("@FEAT@", "features { input_names: \"nope\" hash_bucket_size: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, "\"nope\"", "input name 'nope' is not an input field of data_config");
    expect_err("@FEAT@", "features { input_names: \"bb\" hash_bucket_size: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, "\"bb\"", "did you mean 'b'?");
    expect_err("@FEAT@", "features { input_names: \"b\" num_buckets: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, "\"b\"", "duplicate feature name 'b' (first defined at 20:3)");
    expect_err("@FEAT@", "features { input_names: [\"a\", \"b\"] hash_bucket_size: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, "\"b\"", "IdFeature takes one input name, got 2");
}

static void test_err_relations(void) {
    expect_err("@T2@", "relation_tower_names: \"t9\"", MTREC_ERR_CONFIG, "\"t9\"",
               "relation tower 't9' of tower 't2' names no tower; did you mean 't1'?");
    expect_err("@T1@", "relation_tower_names: \"t2\"", MTREC_ERR_CONFIG, "\"t2\"",
               "relation tower 't2' of tower 't1' is defined later (at 30:5)");
    expect_err("@T1@", "relation_tower_names: \"t2\"", MTREC_ERR_CONFIG, "\"t2\"", "cycle");
    expect_err("@T2@", "relation_tower_names: [\"t1\", \"t2\"]", MTREC_ERR_CONFIG, "\"t2\"",
               "tower 't2' lists itself in relation_tower_names");
    expect_err("@T2@", "relation_tower_names: [\"t1\", \"t1\"]", MTREC_ERR_CONFIG, "\"t1\"]",
               "relation tower 't1' is listed twice");
    expect_err("@T2@", "tower_name: \"t1\"", MTREC_ERR_CONFIG, "tower_name",
               "field 'tower_name' is set more than once (first at 30:19)");
    expect_err("@DBMTL@", "task_towers { tower_name: \"t2\" }", MTREC_ERR_CONFIG, NULL,
               "duplicate tower name 't2' (first at 28:5)");
}

static void test_err_labels(void) {
    expect_err("@T1@", "label_name: \"yy\"", MTREC_ERR_CONFIG, "\"yy\"",
               "label_name 'yy' of tower 't1' is not in data_config.label_fields; did you mean 'y'?");
    expect_err("@T1@", "label_name: \"a\"", MTREC_ERR_CONFIG, "\"a\"",
               "label_name 'a' of tower 't1' is an input field but not in data_config.label_fields");
    expect_err("@DATA@", "label_fields: \"w\"", MTREC_ERR_CONFIG, "\"w\"",
               "label field 'w' is not an input field of data_config");
    expect_err("@DATA@", "label_fields: \"y\"", MTREC_ERR_CONFIG, "\"y\"", "label field 'y' is listed twice");
    expect_err("@DBMTL@", "task_towers { tower_name: \"t0\" }", MTREC_ERR_CONFIG, NULL,
               "tower 't2' has no label_name and data_config.label_fields has no entry 3");
    expect_err("@T1@", "task_space_indicator_label: \"q\"", MTREC_ERR_CONFIG, "\"q\"",
               "task_space_indicator_label 'q' of tower 't1' is not in data_config.label_fields");
    expect_err("@DATA@", "sample_weight: \"ww\"", MTREC_ERR_CONFIG, "\"ww\"",
               "sample_weight 'ww' is not an input field");
    expect_err("@DATA@", "sample_weight: \"a\"", MTREC_ERR_CONFIG, "\"a\"", "must have a numeric input_type");
    expect_err("@T1@", "metrics_set { gauc { uid_field: \"uidd\" } }", MTREC_ERR_CONFIG, "\"uidd\"",
               "gauc uid_field 'uidd' is not an input field");
    expect_err("@T1@", "losses { loss_type: PAIR_WISE_LOSS pairwise_loss { session_name: \"s\" } }",
               MTREC_ERR_CONFIG, "\"s\"", "session_name 's' is not an input field");
}

static void test_err_dnn(void) {
    expect_err("@DBMTL@", "bottom_dnn { }", MTREC_ERR_CONFIG, "bottom_dnn", "bottom_dnn has no hidden_units");
    expect_err("@DBMTL@", "bottom_dnn { hidden_units: [8, 0] }", MTREC_ERR_CONFIG, "0]",
               "hidden_units in bottom_dnn must be positive, got 0");
    expect_err("@T1@", "dnn { hidden_units: [8, 4] dropout_ratio: 0.5 }", MTREC_ERR_CONFIG, "0.5",
               "dropout_ratio in dnn has 1 entries but hidden_units has 2");
    expect_err("@T1@", "relation_dnn { hidden_units: [8] dropout_ratio: [1.0] }", MTREC_ERR_CONFIG, "1.0",
               "dropout_ratio in relation_dnn must be in [0, 1), got 1.0");
    expect_err("@T1@", "relation_dnn { hidden_units: [8] dropout_ratio: [-0.1] }", MTREC_ERR_CONFIG, "-0.1",
               "must be in [0, 1)");
    expect_err("@DBMTL@", "bottom_dnn { hidden_units: 4 activation: \"rleu\" }", MTREC_ERR_CONFIG,
               "\"rleu\"", "unknown activation 'rleu'; did you mean 'relu'?");
    expect_err("@DBMTL@", "expert_dnn { hidden_units: 4 }", MTREC_ERR_CONFIG, "expert_dnn",
               "expert_dnn needs num_expert >= 1");
    expect_err("@DBMTL@", "num_expert: 4", MTREC_ERR_CONFIG, "num_expert", "expert_dnn is missing");
    expect_err("@T1@", "num_class: 0", MTREC_ERR_CONFIG, "num_class", "num_class must be at least 1");
    expect_err("@T1@", "weight: -1", MTREC_ERR_CONFIG, "weight", "weight must be non-negative");
}

static void test_err_feature_tables(void) {
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" embedding_dim: 4 hash_bucket_size: 9 num_buckets: 5 }",
               MTREC_ERR_CONFIG, "num_buckets",
               "IdFeature 'f' sets both hash_bucket_size and num_buckets; use exactly one of "
               "hash_bucket_size, num_buckets or vocab_list");
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" embedding_dim: 4 }",
               MTREC_ERR_CONFIG, "features", "IdFeature 'f' needs one of hash_bucket_size, num_buckets or vocab_list");
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" feature_type: TagFeature vocab_list: [\"x\"] hash_bucket_size: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, "hash_bucket_size", "TagFeature 'f' sets both hash_bucket_size and vocab_list");
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" hash_bucket_size: 9 embedding_dim: 0 }",
               MTREC_ERR_CONFIG, "embedding_dim", "IdFeature 'f' needs embedding_dim > 0");
    expect_err("@FEAT@", "features { input_names: \"b\" feature_name: \"f\" feature_type: RawFeature boundaries: [1, 2] }",
               MTREC_ERR_CONFIG, "features", "RawFeature 'f' is bucketized (boundaries or num_buckets) and needs embedding_dim > 0");
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" hash_bucket_size: 9 embedding_dim: 8 embedding_name: \"a\" } "
                         "features { input_names: \"a\" feature_name: \"g\" hash_bucket_size: 9 embedding_dim: 4 embedding_name: \"a\" }",
               MTREC_ERR_CONFIG, "features { input_names: \"a\" feature_name: \"g\"", "share embedding_name 'a'");
    expect_err("@FEAT@", "features { input_names: \"a\" feature_name: \"f\" feature_type: RawFeature min_val: 2 max_val: 1 }",
               MTREC_ERR_CONFIG, "max_val", "max_val (1) is below min_val (2)");
    expect_err("@TOP@", "feature_configs { input_names: \"a\" hash_bucket_size: 3 embedding_dim: 2 }",
               MTREC_ERR_CONFIG, NULL, "use either repeated 'feature_configs'");
}

static void test_err_enums_and_separator(void) {
    expect_err("@FEAT@", "features { input_names: \"a\" feature_type: IdFeatur }", MTREC_ERR_CONFIG,
               "IdFeatur", "unknown FeatureType value 'IdFeatur' for 'feature_type'; did you mean 'IdFeature'?");
    expect_err("@T1@", "loss_type: CLASIFICATION", MTREC_ERR_CONFIG, "CLASIFICATION",
               "did you mean 'CLASSIFICATION'?");
    expect_err("@T1@", "loss_type: WHATEVER_LOSS_XYZ", MTREC_ERR_CONFIG, "WHATEVER",
               "(expected one of: CLASSIFICATION, L2_LOSS");
    expect_err("@FEAT@", "features { input_names: \"a\" hash_bucket_size: 3 embedding_dim: 2 combiner: \"meen\" feature_name: \"q\" }",
               MTREC_ERR_CONFIG, "\"meen\"", "unknown combiner 'meen'; did you mean 'mean'?");
    expect_err("@DATA@", "separator: \",,\"", MTREC_ERR_CONFIG, "\",,\"", "separator must be a single character");
    expect_err("@DATA@", "separator: \"\"", MTREC_ERR_CONFIG, "\"\"", "separator must be a single character");
    expect_err("@TRAIN@", "mixed_precision: \"bf16x\"", MTREC_ERR_CONFIG, "\"bf16x\"", "unknown mixed_precision");
    expect_err("@OPT@", "adam_optimizer {} adagrad_optimizer {}", MTREC_ERR_CONFIG, "adagrad_optimizer",
               "'adagrad_optimizer' and 'adam_optimizer' (at 5:5) are alternatives");
    expect_err("@OPT@", "adam_optimizer { learning_rate { } }", MTREC_ERR_CONFIG, "learning_rate",
               "learning_rate needs constant_learning_rate or exponential_decay_learning_rate");
    expect_err("@OPT@", "use_moving_average: false", MTREC_ERR_CONFIG, NULL,
               "optimizer_config needs one of adam_optimizer");
    expect_err("@OPT@", "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0 } } }",
               MTREC_ERR_CONFIG, "learning_rate: 0", "learning_rate must be positive");
    expect_err("@OPT@", "adam_optimizer { beta1: 1.5 }", MTREC_ERR_CONFIG, "beta1", "beta1 must be in [0, 1)");
    expect_err("@DATA@", "batch_size: 0", MTREC_ERR_CONFIG, "batch_size", "batch_size must be positive");
}

static void test_err_unsupported(void) {
    static const struct { const char *marker, *snippet, *at, *text; } cases[] = {
        {"@DBMTL@", "bottom_cmbf { multi_head_num: 2 }", "bottom_cmbf", "not supported yet: bottom_cmbf"},
        {"@DBMTL@", "bottom_uniter { }", "bottom_uniter", "not supported yet: bottom_uniter"},
        {"@MODEL@", "variational_dropout { regularization_lambda: 0.01 }", "variational_dropout",
         "not supported yet: variational_dropout"},
        {"@MODEL@", "kd { loss_type: L2_LOSS }", "kd", "not supported yet: kd"},
        {"@MODEL@", "backbone { }", "backbone", "not supported yet: backbone"},
        {"@MODEL@", "loss_weight_strategy: Uncertainty", "Uncertainty",
         "not supported yet: loss_weight_strategy Uncertainty"},
        {"@MODEL@", "seq_att_groups { }", "seq_att_groups", "not supported yet: seq_att_groups"},
        {"@GROUP@", "sequence_features { group_name: \"s\" seq_att_map { key: \"a\" } }",
         "sequence_features", "not supported yet: sequence_features"},
        {"@T1@", "losses { loss_type: JRC_LOSS }", "JRC_LOSS", "not supported yet: loss_type JRC_LOSS"},
        {"@T1@", "loss_type: F1_REWEIGHTED_LOSS", "F1_", "not supported yet: loss_type F1_REWEIGHTED_LOSS"},
        {"@T1@", "losses { loss_type: CLASSIFICATION jrc_loss { session_name: \"a\" } }", "jrc_loss",
         "not supported yet: jrc_loss"},
        {"@T1@", "num_class: 2 loss_type: L2_LOSS", "num_class",
         "not supported yet: num_class 2 with loss_type L2_LOSS"},
        {"@T1@", "num_class: 3 losses { loss_type: PAIR_WISE_LOSS }", "loss_type",
         "not supported yet: num_class 3 with loss_type PAIR_WISE_LOSS"},
        {"@T1@", "task_space_indicator_name: \"a\"", "task_space", "not supported yet: task_space_indicator_name"},
        {"@DATA@", "negative_sampler { }", "negative_sampler", "not supported yet: negative_sampler"},
        {"@OPT@", "rms_prop_optimizer { }", "rms_prop", "not supported yet: rms_prop_optimizer"},
        {"@OPT@", "ftrl_optimizer { }", "ftrl", "not supported yet: ftrl_optimizer"},
        {"@OPT@", "adam_optimizer { learning_rate { cosine_decay_learning_rate { } } }", "cosine",
         "not supported yet: cosine_decay_learning_rate"},
        {"@OPT@", "adam_optimizer {} use_moving_average: true", "true",
         "not supported yet: use_moving_average: true"},
        {"@FEAT@", "features { input_names: \"a\" vocab_file: \"v.txt\" }", "vocab_file",
         "not supported yet: vocab_file"},
        {"@FEAT@", "features { input_names: \"a\" feature_type: SequenceFeature }", "SequenceFeature",
         "not supported yet: feature_type SequenceFeature"},
        {"@FEAT@", "features { input_names: \"a\" feature_type: ComboFeature }", "Combo",
         "not supported yet: feature_type ComboFeature"},
        {"@DBMTL@", "bottom_dnn { hidden_units: 4 activation: \"prelu\" }", "\"prelu\"",
         "not supported yet: activation 'prelu'"},
        {"@DBMTL@", "bottom_dnn { hidden_units: 4 activation: 'tf.nn.dice' }", "'tf.nn.dice'",
         "not supported yet: activation 'tf.nn.dice'"},
        {"@TOP@", "kafka_train_input { server: \"x\" }", "kafka", "not supported yet: kafka_train_input"},
        {"@TOP@", "datahub_eval_input { }", "datahub", "not supported yet: datahub_eval_input"},
        {"@TOP@", "hive_train_input { }", "hive", "not supported yet: hive_train_input"},
        {"@TRAIN@", "incr_save_config { }", "incr", "not supported yet: incr_save_config"},
        {"@TRAIN@", "optimizer_config { adam_optimizer {} }", "optimizer_config",
         "not supported yet: more than one optimizer_config"},
        {"@FEAT@", "features { input_names: \"a\" feature_type: IdFeature initializer { } }", "initializer",
         "not supported yet: initializer"},
        {"@TRAIN@", "force_restore_shape_compatible: true", "true",
         "not supported yet: force_restore_shape_compatible: true (only the default false is)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_err(cases[i].marker, cases[i].snippet, MTREC_ERR_UNSUPPORTED, cases[i].at, cases[i].text);
    expect_replace("model_class: \"DBMTL\"", "model_class: \"MultiTaskModel\"", MTREC_ERR_UNSUPPORTED,
                   "t.config:24:16: ", "not supported yet: model_class 'MultiTaskModel'");
    expect_replace("model_class: \"DBMTL\"", "model_class: \"DBMLT\"", MTREC_ERR_CONFIG,
                   "t.config:24:16: ", "unknown model_class 'DBMLT'; did you mean 'DBMTL'?");
    expect_replace("input_type: CSVInput", "input_type: OdpsInput", MTREC_ERR_UNSUPPORTED,
                   "t.config:10:15: ", "not supported yet: input_type OdpsInput");
    expect_replace("input_type: CSVInput", "input_type: CSVInptu", MTREC_ERR_CONFIG,
                   "t.config:10:15: ", "did you mean 'CSVInput'?");
    expect_replace("group_name: \"all\"", "group_name: \"user\"", MTREC_ERR_UNSUPPORTED,
                   "t.config:25:32: ", "not supported yet: feature group 'user'");
    expect_replace("group_name: \"all\" feature_names", "feature_names", MTREC_ERR_CONFIG,
                   "t.config:25:3: ", "feature_groups needs group_name: \"all\"");
}

/* ---- syntax errors ----------------------------------------------------------------------- */

static void expect_parse(const char *text, const char *where, const char *msg) {
    mt_pipeline p;
    memset(&p, 0, sizeof p);
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_pipeline_load_text("s.config", text, &p, &e);
    CHECK_MSG(st == MTREC_ERR_PARSE, "[%s] got %s: %s", text, mtrec_status_str(st), e.msg);
    CHECK_MSG(strncmp(e.msg, where, strlen(where)) == 0, "[%s] want prefix %s in: %s", text, where, e.msg);
    CHECK_CONTAINS(e.msg, msg);
    if (!st) mt_pipeline_free(&p);
}

static void test_parse_errors(void) {
    expect_parse("model_dir: \"abc\n", "s.config:1:12: ", "unterminated string (missing closing \")");
    expect_parse("# c\nmodel_dir: 'abc", "s.config:2:12: ", "unterminated string (missing closing ')");
    expect_parse("data_config {\n  batch_size: 1\n", "s.config:1:13: ", "missing '}' to close 'data_config'");
    expect_parse("a { b < c: 1 }", "s.config:1:14: ", "mismatched '}': expected '>' to close 'b' (opened at 1:7)");
    expect_parse("a { b < c: 1 ", "s.config:1:7: ", "missing '>' to close 'b'");
    expect_parse("model_dir: \"m\" }", "s.config:1:16: ", "unexpected '}': no open block to close");
    expect_parse("model_dir \"m\"", "s.config:1:11: ", "expected ':' or '{' after field name 'model_dir'");
    expect_parse("x: \"a\\qb\"", "s.config:1:6: ", "invalid escape '\\q' in string");
    expect_parse("x: \"\\x\"", "s.config:1:5: ", "invalid \\x escape");
    expect_parse("x: \"\\777\"", "s.config:1:5: ", "octal escape out of range");
    expect_parse("data_config {\n  batch_size:\n}", "s.config:3:1: ", "expected a value, got '}'");
    expect_parse("x: ", "s.config:1:4: ", "expected a value, got end of input");
    expect_parse("x: [1, 2", "s.config:1:4: ", "unterminated list: missing ']' for 'x'");
    expect_parse("x: [1 2]", "s.config:1:7: ", "expected ',' or ']' in list, got '2'");
    expect_parse("x: 1\n  @", "s.config:2:3: ", "unexpected character '@'");
    expect_parse("x: - \"s\"", "s.config:1:6: ", "expected a number after '-'");
    expect_parse(": 1", "s.config:1:1: ", "expected a field name, got ':'");
    expect_parse("[ext.field]: 1", "s.config:1:1: ", "expected a field name, got '['");
    char deep[2000] = "";
    for (int i = 0; i < 300; i++) strcat(deep, "a{");
    expect_parse(deep, "s.config:1:", "messages nested too deeply");
}

/* The tree itself: positions, list expansion, string decoding, number tokens. */
static void test_textformat_tree(void) {
    const char *text = "a: 1\n b { c: 'x' \"y\" ; d: [-2, 0x1F, .5, -inf] }\n"
                       "e: [{f: t}, {f: False}] g < h: \"\\101\\x42\\u00e9\\n\" >\ni: ident";
    mt_tf_node *root = NULL;
    mt_err e;
    mtrec_status st = mt_tf_parse("n", text, &root, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    CHECK(root->n_kids == 6);
    CHECK(mt_tf_count(root, "e") == 2);
    const mt_tf_node *b = mt_tf_find(root, "b");
    CHECK(b && b->kind == MT_TF_MESSAGE && b->line == 2 && b->col == 2);
    const mt_tf_node *c = mt_tf_find(b, "c");
    CHECK(c && c->kind == MT_TF_STRING && !strcmp(c->str, "xy") && c->vline == 2 && c->vcol == 9);
    CHECK(mt_tf_count(b, "d") == 4);
    if (b && b->n_kids == 5) {
        CHECK(b->kids[1].kind == MT_TF_NUMBER && !strcmp(b->kids[1].str, "-2") && b->kids[1].in_list);
        CHECK(!strcmp(b->kids[2].str, "0x1F") && b->kids[2].vcol == 27);
        CHECK(!strcmp(b->kids[3].str, ".5"));
        CHECK(b->kids[4].kind == MT_TF_NUMBER && !strcmp(b->kids[4].str, "-inf"));
    }
    const mt_tf_node *g = mt_tf_find(root, "g");
    const mt_tf_node *h = g ? mt_tf_find(g, "h") : NULL;
    CHECK(h && h->len == 5 && !memcmp(h->str, "AB\xc3\xa9\n", 5));
    const mt_tf_node *i = mt_tf_find(root, "i");
    CHECK(i && i->kind == MT_TF_IDENT && !strcmp(i->str, "ident") && i->line == 4);
    const mt_tf_node *e2 = mt_tf_find(root, "e");
    CHECK(e2 && e2->kind == MT_TF_MESSAGE && e2->n_kids == 1 && !strcmp(e2->kids[0].str, "False"));
    mt_tf_free(root);
    /* NUL inside a decoded string is kept with its length, and refused for string fields */
    st = mt_tf_parse("n", "s: \"a\\0b\"", &root, &e);
    CHECK(st == MTREC_OK && root->kids[0].len == 3);
    if (!st) mt_tf_free(root);
    mt_pipeline p;
    st = mt_pipeline_load_text("z.config", "model_dir: \"a\\0b\"", &p, &e);
    CHECK(st == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "z.config:1:12: string for 'model_dir' contains a NUL byte");
    /* empty input is a valid (empty) message, then fails validation */
    st = mt_pipeline_load_text("z.config", "", &p, &e);
    CHECK(st == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "missing required field 'model_dir'");
    CHECK(mt_pipeline_load_text(NULL, "", NULL, &e) == MTREC_ERR_ARG);
    CHECK(mt_pipeline_load_text("z", "model_dir: 1", &p, NULL) == MTREC_ERR_CONFIG);   /* NULL err ok */
}

/* ---- fingerprint ------------------------------------------------------------------------- */

static uint64_t fp_of(const char *marker, const char *snippet, const char *from, const char *to) {
    int line, col;
    char *cfg = expand(marker, snippet, &line, &col);
    if (from) {
        char *hit = strstr(cfg, from);
        if (hit) {
            char *out = malloc(strlen(cfg) + strlen(to) + 1);
            memcpy(out, cfg, (size_t)(hit - cfg));
            strcpy(out + (hit - cfg), to);
            strcat(out, hit + strlen(from));
            free(cfg);
            cfg = out;
        }
    }
    mt_pipeline p;
    mt_err e;
    uint64_t h = 0;
    if (mt_pipeline_load_text("f.config", cfg, &p, &e) == MTREC_OK) {
        h = mt_pipeline_shape_fingerprint(&p);
        mt_pipeline_free(&p);
    } else {
        fprintf(stderr, "fp_of: %s\n", e.msg);
    }
    free(cfg);
    return h;
}

static void test_shape_fingerprint(void) {
    uint64_t base = fp_of("@NONE@", "", NULL, NULL);
    CHECK(base != 0);
    CHECK(fp_of("@NONE@", "", NULL, NULL) == base);   /* stable */
    /* not part of the shape */
    CHECK(fp_of("@NONE@", "", "model_dir: \"m\"", "model_dir: \"other\"") == base);
    CHECK(fp_of("@TRAIN@", "num_steps: 77", NULL, NULL) == base);
    CHECK(fp_of("@OPT@", "adagrad_optimizer {}", NULL, NULL) == base);
    CHECK(fp_of("@DATA@", "batch_size: 7", NULL, NULL) == base);
    CHECK(fp_of("@T1@", "weight: 0.5 dnn { hidden_units: 3 activation: \"tanh\" }", NULL, NULL) ==
          fp_of("@T1@", "dnn { hidden_units: 3 }", NULL, NULL));
    /* part of the shape */
    uint64_t v[] = {
        fp_of("@NONE@", "", "embedding_dim: 4 }\n  features { input_names: \"b\"",
              "embedding_dim: 5 }\n  features { input_names: \"b\""),
        fp_of("@NONE@", "", "hash_bucket_size: 10", "hash_bucket_size: 11"),
        fp_of("@NONE@", "", "feature_names: [\"a\", \"b\"]", "feature_names: [\"b\", \"a\"]"),
        fp_of("@DBMTL@", "bottom_dnn { hidden_units: [8] }", NULL, NULL),
        fp_of("@DBMTL@", "bottom_dnn { hidden_units: [9] }", NULL, NULL),
        fp_of("@DBMTL@", "bottom_dnn { hidden_units: [9] use_bn: false }", NULL, NULL),
        fp_of("@DBMTL@", "expert_dnn { hidden_units: [9] } num_expert: 2", NULL, NULL),
        fp_of("@DBMTL@", "expert_dnn { hidden_units: [9] } num_expert: 3", NULL, NULL),
        fp_of("@T2@", "relation_tower_names: \"t1\"", NULL, NULL),
        fp_of("@T1@", "num_class: 2", NULL, NULL),
        fp_of("@NONE@", "", "tower_name: \"t2\"", "tower_name: \"t3\""),
        fp_of("@T1@", "dnn { hidden_units: 3 }", NULL, NULL),
        fp_of("@T1@", "relation_dnn { hidden_units: 3 }", NULL, NULL),
        fp_of("@FEAT@", "features { input_names: \"a\" feature_name: \"c\" num_buckets: 4 embedding_dim: 2 }", NULL, NULL),
    };
    int n = (int)(sizeof v / sizeof v[0]);
    for (int i = 0; i < n; i++) {
        CHECK_MSG(v[i] != 0 && v[i] != base, "variant %d has the base fingerprint", i);
        for (int j = 0; j < i; j++) CHECK_MSG(v[i] != v[j], "variants %d and %d collide", i, j);
    }
}

/* ---- misc -------------------------------------------------------------------------------- */

static void test_enum_names_and_lookups(void) {
    CHECK_STR_EQ(mt_loss_type_name(MT_LOSS_PAIR_WISE), "PAIR_WISE_LOSS");
    CHECK_STR_EQ(mt_loss_type_name(MT_LOSS_SIGMOID_L2), "SIGMOID_L2_LOSS");
    CHECK_STR_EQ(mt_activation_name(MT_ACT_LEAKY_RELU), "leaky_relu");
    CHECK_STR_EQ(mt_activation_name(MT_ACT_LINEAR), "linear");
    CHECK_STR_EQ(mt_metric_name(MT_METRIC_AUC), "auc");
    CHECK_STR_EQ(mt_metric_name(MT_METRIC_RMSE), "root_mean_squared_error");
    mt_pipeline p;
    mt_err e;
    mtrec_status st = load(CFG "minimal.config", &p, &e);
    CHECK(st == MTREC_OK);
    if (st) return;
    CHECK(mt_pipeline_input_index(&p, "a") == 1 && mt_pipeline_input_index(&p, "zz") == -1);
    CHECK(mt_pipeline_feature_index(&p, "a") == 0 && mt_pipeline_feature_index(&p, NULL) == -1);
    CHECK(mt_pipeline_input_index(NULL, "a") == -1);
    mt_pipeline_free(&p);
}

/* Inputs that crashed or misbehaved under fuzz/fuzz_config.c (keep each one). */
static void test_fuzz_regressions(void) {
    static const char *const inputs[] = {
        "",
        "a",
        "a:",
        "a{",
        "\"",
        "a: '\\",
        "a: \"\\u12\"",
        "a: -",
        "a: [",
        "a: [{",
        "a: [{}",
        "a: 0x",
        "a: 1e",
        "a: .",
        "model_dir: \"m\" model_config { dbmtl { task_towers { tower_name: \"t\" relation_tower_names: \"t\" } } }",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        mt_pipeline p;
        mt_err e;
        mt_err_clear(&e);
        mtrec_status st = mt_pipeline_load_text("fz", inputs[i], &p, &e);
        CHECK_MSG(st != MTREC_OK && e.msg[0] != '\0', "[%s] %s", inputs[i], e.msg);
        if (!st) mt_pipeline_free(&p);
    }
}

/* Long repeated fields load in linear time (a quadratic walk took minutes on 200k entries). */
static void test_long_vocab_list(void) {
    enum { N = 100000 };
    char *cfg = malloc((size_t)N * 12 + 1024);
    char *o = cfg;
    o += sprintf(o, "model_dir: \"m\"\ndata_config { input_type: CSVInput label_fields: \"y\" "
                    "input_fields { input_name: \"y\" } input_fields { input_name: \"a\" } }\n"
                    "feature_config { features { input_names: \"a\" embedding_dim: 2 vocab_list: [");
    for (int i = 0; i < N; i++) o += sprintf(o, "%s\"v%d\"", i ? "," : "", i);
    sprintf(o, "] } }\nmodel_config { model_class: \"DBMTL\" feature_groups { group_name: \"all\" "
               "feature_names: \"a\" } dbmtl { task_towers { tower_name: \"t\" } } }\n");
    mt_pipeline p;
    mt_err e;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    mtrec_status st = mt_pipeline_load_text("big", cfg, &p, &e);
    double dt = (double)clock() / CLOCKS_PER_SEC - t0;
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (!st) {
        CHECK(p.features[0].n_vocab == N);
        CHECK_STR_EQ(p.features[0].vocab_list[N - 1], "v99999");
        mt_pipeline_free(&p);
    }
    CHECK_MSG(dt < 20.0, "took %.1f s", dt);
    free(cfg);
}

int main(void) {
    RUN(test_easyrec_dbmtl_on_taobao);
    RUN(test_easyrec_dbmtl_mmoe);
    RUN(test_easyrec_feature_config_syntax);
    RUN(test_easyrec_refused_samples);
    RUN(test_live5_design);
    RUN(test_tricky_syntax);
    RUN(test_defaults);
    RUN(test_sgd_extension);
    RUN(test_template_is_valid);
    RUN(test_err_unknown_field);
    RUN(test_err_wrong_type);
    RUN(test_err_missing_required);
    RUN(test_err_feature_references);
    RUN(test_err_relations);
    RUN(test_err_labels);
    RUN(test_err_dnn);
    RUN(test_err_feature_tables);
    RUN(test_err_enums_and_separator);
    RUN(test_err_unsupported);
    RUN(test_parse_errors);
    RUN(test_textformat_tree);
    RUN(test_shape_fingerprint);
    RUN(test_enum_names_and_lookups);
    RUN(test_fuzz_regressions);
    RUN(test_long_vocab_list);
    RUN(test_lazy_adam);
    return test_summary();
}
