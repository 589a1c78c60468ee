/* test_train.c: the training loop end to end on small live5 synth data: a resumed run ends
 * with exactly the weights of an uninterrupted one; checkpoints are kept/pruned; corrupt and
 * mismatched checkpoints are refused with clear messages; warm start; evaluation writes
 * eval_result.txt; the model learns (AUC well above chance). */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "config/pipeline.h"
#include "data/synth.h"
#include "io/checkpoint.h"
#include "train/trainer.h"
#include "test.h"

static char g_dir[256];

static const char *CFG =
    "train_input_path: '%s/train.csv'\n"
    "eval_input_path: '%s/eval.csv'\n"
    "model_dir: '%s/%s'\n"
    "train_config { optimizer_config { adam_optimizer { learning_rate { exponential_decay_learning_rate {\n"
    "  initial_learning_rate: 0.003 decay_steps: 20 decay_factor: 0.9 } } } }\n"
    "  num_steps: %d save_checkpoints_steps: 7 keep_checkpoint_max: 2 log_step_count_steps: 5\n"
    "  gradient_clipping_by_norm: 5.0 %s }\n"
    "data_config { input_type: CSVInput with_header: true batch_size: 128 shuffle: true num_epochs: 0\n"
    "  input_fields { input_name: 'is_click' input_type: INT32 }\n"
    "  input_fields { input_name: 'is_view' input_type: INT32 }\n"
    "  input_fields { input_name: 'view_costtime' input_type: FLOAT }\n"
    "  input_fields { input_name: 'user_id' input_type: STRING }\n"
    "  input_fields { input_name: 'anchor_id' input_type: STRING }\n"
    "  input_fields { input_name: 'network' input_type: STRING }\n"
    "  input_fields { input_name: 'anchor_category' input_type: STRING }\n"
    "  input_fields { input_name: 'anchor_tags' input_type: STRING }\n"
    "  input_fields { input_name: 'user_watch_minutes_7d' input_type: FLOAT }\n"
    "  label_fields: ['is_click', 'is_view', 'view_costtime'] }\n"
    "feature_config {\n"
    "  features { input_names: 'user_id' feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 5000 }\n"
    "  features { input_names: 'anchor_id' feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 2000 }\n"
    "  features { input_names: 'network' feature_type: IdFeature embedding_dim: 4 hash_bucket_size: 20 }\n"
    "  features { input_names: 'anchor_category' feature_type: IdFeature embedding_dim: 4 hash_bucket_size: 50 }\n"
    "  features { input_names: 'anchor_tags' feature_type: TagFeature embedding_dim: 4 hash_bucket_size: 500 }\n"
    "  features { input_names: 'user_watch_minutes_7d' feature_type: RawFeature boundaries: [10, 60, 300] embedding_dim: 4 }\n"
    "}\n"
    "model_config { model_class: 'DBMTL'\n"
    "  feature_groups { group_name: 'all' feature_names: ['user_id', 'anchor_id', 'network', 'anchor_category', 'anchor_tags', 'user_watch_minutes_7d'] wide_deep: DEEP }\n"
    "  embedding_regularization: 1e-5\n"
    "  dbmtl { bottom_dnn { hidden_units: [%d] }\n"
    "    task_towers { tower_name: 'is_click' label_name: 'is_click' dnn { hidden_units: [16] dropout_ratio: [0.1] }\n"
    "      relation_dnn { hidden_units: [8] } metrics_set { auc {} } }\n"
    "    task_towers { tower_name: 'is_view' label_name: 'is_view' dnn { hidden_units: [16] }\n"
    "      relation_tower_names: ['is_click'] relation_dnn { hidden_units: [8] } metrics_set { auc {} } }\n"
    "    task_towers { tower_name: 'view_costtime' label_name: 'view_costtime' loss_type: L2_LOSS dnn { hidden_units: [16] }\n"
    "      relation_tower_names: ['is_click', 'is_view'] relation_dnn { hidden_units: [8] } metrics_set { mean_squared_error {} } }\n"
    "    l2_regularization: 1e-5 } }\n";

static int g_no_dropout;  /* load(): drop the is_click tower's dropout */
static int g_mmoe;        /* load(): add 3 MMoE experts (with dropout) after the bottom */

static int load(mt_pipeline *p, const char *model, int steps, int bottom, const char *extra) {
    static char text[8192];
    snprintf(text, sizeof text, CFG, g_dir, g_dir, g_dir, model, steps, extra ? extra : "", bottom);
    char *dr = strstr(text, "dropout_ratio: [0.1] ");
    if (g_no_dropout && dr) memmove(dr, dr + 21, strlen(dr + 21) + 1);
    if (g_mmoe) {
        const char *ins = " expert_dnn { hidden_units: [16, 12] dropout_ratio: [0.1, 0.1] } num_expert: 3";
        char *at = strstr(text, "dbmtl { bottom_dnn {");
        at = at ? strchr(at, '\n') : NULL;
        if (at && strlen(text) + strlen(ins) < sizeof text) {
            memmove(at + strlen(ins), at, strlen(at) + 1);
            memcpy(at, ins, strlen(ins));
        }
    }
    mt_err e = {0};
    mtrec_status st = mt_pipeline_load_text("test_train.config", text, p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    return st == MTREC_OK ? 0 : -1;
}

static int g_threads = 1;

static mtrec_status train(mt_pipeline *p, mt_train_summary *s, int evaluate, mt_err *e) {
    mt_train_opts o = {.threads = g_threads, .evaluate = evaluate};
    return mt_train(p, &o, s, e);
}

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mtrec_test_train_XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); exit(1); }
    char path[512];
    mt_err e = {0};
    snprintf(path, sizeof path, "%s/train.csv", g_dir);
    if (mt_synth_write(path, 40000, 1, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    snprintf(path, sizeof path, "%s/eval.csv", g_dir);
    if (mt_synth_write(path, 3000, 2, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); exit(1); }
}

/* Compare every tensor of two checkpoint files; returns the number of differing floats. */
static int64_t ckpt_diff(const char *a, const char *b) {
    mt_ckpt *ca = NULL, *cb = NULL;
    mt_err e = {0};
    if (mt_ckpt_open(a, &ca, &e) != MTREC_OK || mt_ckpt_open(b, &cb, &e) != MTREC_OK) {
        fprintf(stderr, "%s\n", e.msg);
        mt_ckpt_close(ca);
        return -1;
    }
    int64_t diff = 0;
    if (mt_ckpt_count(ca) != mt_ckpt_count(cb)) diff = -2;
    for (int i = 0; i < mt_ckpt_count(ca) && diff >= 0; i++) {
        const char *name = mt_ckpt_name(ca, i);
        int64_t n = mt_ckpt_numel(ca, name, NULL, NULL);
        if (n <= 0 || n != mt_ckpt_numel(cb, name, NULL, NULL)) { diff = -3; break; }
        mt_real *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
        mt_err ta = {0};
        if (mt_ckpt_read(ca, name, va, n, NULL, 0, &ta) != MTREC_OK) diff = -4;
        mt_err t = {0};
        if (diff >= 0 && mt_ckpt_read(cb, name, vb, n, NULL, 0, &t) != MTREC_OK) diff = -4;
        for (int64_t k = 0; k < n && diff >= 0; k++) diff += va[k] != vb[k];
        free(va);
        free(vb);
    }
    mt_ckpt_close(ca);
    mt_ckpt_close(cb);
    return diff;
}

static void test_train_evaluate_learns(void) {
    mt_pipeline p = {0};
    if (load(&p, "full", 1000, 32, NULL)) return;
    mt_err e = {0};
    mt_train_summary s;
    mtrec_status st = train(&p, &s, 1, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(s.global_step == 1000);
    CHECK(s.examples == 1000 * 128);
    CHECK(s.evaluated);
    double auc = mt_eval_result_get(&s.eval, "auc_is_click");
    CHECK_MSG(auc > 0.55, "auc_is_click = %f", auc);  /* small data: ~0.56; chance is 0.5 */
    CHECK(mt_eval_result_get(&s.eval, "mean_squared_error_view_costtime") >= 0);
    CHECK(s.eval.rows == 3000);
    /* eval_result.txt is JSON with global_step */
    char path[512], buf[4096] = {0};
    snprintf(path, sizeof path, "%s/full/eval_result.txt", g_dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) { CHECK(fread(buf, 1, sizeof buf - 1, f) > 0); fclose(f); }
    CHECK_CONTAINS(buf, "\"auc_is_click\"");
    CHECK_CONTAINS(buf, "\"global_step\":\t1000");
    /* keep_checkpoint_max 2, every 7 steps: 994 and the final 1000 remain, 987 is gone */
    snprintf(path, sizeof path, "%s/full/model.ckpt-1000", g_dir);
    CHECK(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/full/model.ckpt-994", g_dir);
    CHECK(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/full/model.ckpt-987", g_dir);
    CHECK(access(path, F_OK) != 0);
    mt_eval_result_free(&s.eval);
    mt_pipeline_free(&p);
}

static void test_resume_equals_uninterrupted(void) {
    mt_pipeline full = {0}, half = {0}, rest = {0};
    if (load(&full, "u", 24, 32, NULL) || load(&half, "r", 10, 32, NULL) || load(&rest, "r", 24, 32, NULL)) return;
    mt_err e = {0};
    mt_train_summary s;
    CHECK(train(&full, &s, 0, &e) == MTREC_OK);
    CHECK(train(&half, &s, 0, &e) == MTREC_OK);
    CHECK(s.global_step == 10);
    CHECK(train(&rest, &s, 0, &e) == MTREC_OK);
    CHECK(s.resumed_from_step == 10);
    CHECK(s.global_step == 24);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/u/model.ckpt-24", g_dir);
    snprintf(b, sizeof b, "%s/r/model.ckpt-24", g_dir);
    int64_t d = ckpt_diff(a, b);
    CHECK_MSG(d == 0, "resumed run differs from the uninterrupted one in %lld values", (long long)d);
    mt_pipeline_free(&full);
    mt_pipeline_free(&half);
    mt_pipeline_free(&rest);
}


/* 1 and 2 threads end with the same weights bit for bit, with and without dropout in a tower
 * and with MMoE experts (the towers, and the experts, run in two lanes on two threads,
 * model.lanes; each draws its dropout masks from its own stream), and the dropout really
 * changes the weights. */
static void test_threads_same_weights(void) {
    for (int nd = 0; nd < 3; nd++) {  /* 2: MMoE, experts in lanes too */
        g_no_dropout = nd == 1;
        g_mmoe = nd == 2;
        mt_pipeline p1 = {0}, p2 = {0};
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "t1_%d", nd);
        snprintf(n2, sizeof n2, "t2_%d", nd);
        if (load(&p1, n1, 15, 32, NULL) || load(&p2, n2, 15, 32, NULL)) { g_no_dropout = g_mmoe = 0; return; }
        CHECK((strstr(p1.text, "dropout_ratio") == NULL) == (nd == 1));
        CHECK((strstr(p1.text, "num_expert") != NULL) == (nd == 2));
        mt_err e = {0};
        mt_train_summary s;
        g_threads = 1;
        CHECK_MSG(train(&p1, &s, 0, &e) == MTREC_OK, "%s", e.msg);
        g_threads = 2;
        CHECK_MSG(train(&p2, &s, 0, &e) == MTREC_OK, "%s", e.msg);
        g_threads = 1;
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/%s/model.ckpt-15", g_dir, n1);
        snprintf(b, sizeof b, "%s/%s/model.ckpt-15", g_dir, n2);
        int64_t d = ckpt_diff(a, b);
        CHECK_MSG(d == 0, "%s: 2 threads differ from 1 thread in %lld values",
                  nd == 0 ? "dropout" : nd == 1 ? "no dropout" : "MMoE", (long long)d);
        mt_pipeline_free(&p1);
        mt_pipeline_free(&p2);
    }
    g_no_dropout = g_mmoe = 0;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/t1_0/model.ckpt-15", g_dir);
    snprintf(b, sizeof b, "%s/t1_1/model.ckpt-15", g_dir);
    CHECK_MSG(ckpt_diff(a, b) > 0, "the tower's dropout changed no weight");
}


/* 1 if /proc/cpuinfo lists amx_bf16 (then bf16 products really run in bf16). */
static int cpu_has_amx(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int has = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5) && strstr(line, " amx_bf16")) has = 1;
    if (f) fclose(f);
    return has;
}

/* mixed_precision: "BF16" trains (products in bf16 on AMX, fp32 master weights): same
 * number of steps, a model as good as fp32 within small-data noise, weights that really
 * differ from fp32's when the CPU has AMX (else bf16 falls back to fp32: identical), and
 * the same bits at 1 and 2 threads (tower lanes on). */
static void test_bf16_training(void) {
    g_no_dropout = 1;
    mt_pipeline p32 = {0}, p16 = {0}, p16b = {0};
    const char *bf = "mixed_precision: 'BF16'";
    if (load(&p32, "b32", 300, 32, NULL) || load(&p16, "b16", 300, 32, bf) || load(&p16b, "b16t", 300, 32, bf)) {
        g_no_dropout = 0;
        return;
    }
    g_no_dropout = 0;
    mt_err e = {0};
    mt_train_summary s32, s16, s16b;
    CHECK_MSG(train(&p32, &s32, 1, &e) == MTREC_OK, "%s", e.msg);
    CHECK_MSG(train(&p16, &s16, 1, &e) == MTREC_OK, "%s", e.msg);
    g_threads = 2;
    CHECK_MSG(train(&p16b, &s16b, 0, &e) == MTREC_OK, "%s", e.msg);
    g_threads = 1;
    CHECK(s16.global_step == 300 && s16b.global_step == 300);
    double a32 = mt_eval_result_get(&s32.eval, "auc_is_view"), a16 = mt_eval_result_get(&s16.eval, "auc_is_view");
    printf("# auc_is_view fp32 %.4f bf16 %.4f\n", a32, a16);
    CHECK_MSG(fabs(a32 - a16) < 0.03, "auc_is_view fp32 %.4f vs bf16 %.4f", a32, a16);
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/b32/model.ckpt-300", g_dir);
    snprintf(b, sizeof b, "%s/b16/model.ckpt-300", g_dir);
    snprintf(c, sizeof c, "%s/b16t/model.ckpt-300", g_dir);
    int64_t d = ckpt_diff(a, b);
    CHECK_MSG(cpu_has_amx() ? d > 0 : d == 0, "bf16 vs fp32 weights: %lld values differ (AMX %d)", (long long)d,
              cpu_has_amx());
    d = ckpt_diff(b, c);
    CHECK_MSG(d == 0, "bf16: 2 threads differ from 1 thread in %lld values", (long long)d);
    mt_eval_result_free(&s32.eval);
    mt_eval_result_free(&s16.eval);
    mt_pipeline_free(&p32);
    mt_pipeline_free(&p16);
    mt_pipeline_free(&p16b);
}

static void test_mismatched_checkpoint_refused(void) {
    mt_pipeline a = {0}, b = {0};
    if (load(&a, "mm", 3, 32, NULL) || load(&b, "mm", 6, 24, NULL)) return;
    mt_err e = {0};
    mt_train_summary s;
    CHECK(train(&a, &s, 0, &e) == MTREC_OK);
    mtrec_status st = train(&b, &s, 0, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "another model");
    CHECK_CONTAINS(e.msg, "model.ckpt-3");
    mt_pipeline_free(&a);
    mt_pipeline_free(&b);
}

static void test_corrupt_checkpoint_refused(void) {
    mt_pipeline a = {0}, b = {0};
    if (load(&a, "cc", 3, 32, NULL) || load(&b, "cc", 6, 32, NULL)) return;
    mt_err e = {0};
    mt_train_summary s;
    CHECK(train(&a, &s, 0, &e) == MTREC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/cc/model.ckpt-3", g_dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, -100, SEEK_END);
    int c = fgetc(f);
    fseek(f, -100, SEEK_END);
    fputc(c ^ 0x5a, f);
    fclose(f);
    mtrec_status st = train(&b, &s, 0, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "model.ckpt-3");
    CHECK_CONTAINS(e.msg, "checksum");
    mt_pipeline_free(&a);
    mt_pipeline_free(&b);
}

static void test_fine_tune_warm_start(void) {
    mt_pipeline a = {0}, b = {0};
    char extra[512];
    snprintf(extra, sizeof extra, "fine_tune_checkpoint: '%s/ws/model.ckpt-5'", g_dir);
    if (load(&a, "ws", 5, 32, NULL) || load(&b, "ws2", 0, 32, extra)) return;
    b.train.num_steps = 1;
    mt_err e = {0};
    mt_train_summary s;
    CHECK(train(&a, &s, 0, &e) == MTREC_OK);
    mtrec_status st = train(&b, &s, 0, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(s.global_step == 1);  /* warm start restores weights, not the step */
    CHECK(s.resumed_from_step == -1);
    mt_pipeline_free(&a);
    mt_pipeline_free(&b);
}

static void test_missing_input_file(void) {
    mt_pipeline a = {0};
    if (load(&a, "missing", 3, 32, NULL)) return;
    char *old = a.train_input_path;
    a.train_input_path = "/nonexistent/mtrec/train.csv";
    mt_err e = {0};
    mt_train_summary s;
    mtrec_status st = train(&a, &s, 0, &e);
    CHECK(st == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "/nonexistent/mtrec/train.csv");
    a.train_input_path = old;
    mt_pipeline_free(&a);
}

int main(void) {
    setup();
    RUN(test_train_evaluate_learns);
    RUN(test_resume_equals_uninterrupted);
    RUN(test_threads_same_weights);
    RUN(test_bf16_training);
    RUN(test_mismatched_checkpoint_refused);
    RUN(test_corrupt_checkpoint_refused);
    RUN(test_fine_tune_warm_start);
    RUN(test_missing_input_file);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_summary();
}
