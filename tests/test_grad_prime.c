/* test_grad_prime.c: the dense gradients' starting values written by the optimizer's pass
 * (mt_train_apply_update -> mt_model_prime_grads_block, mt_model.grads_primed) must be
 * exactly what the backward writes itself (init_dense_grads): two models with the same
 * history, one backward on primed gradients and one after the priming was dropped (by
 * mt_model_param_data, as any writer of weights drops it), give the same loss and gradient
 * bits, with l2 on (the primed l2) and off (a backward without regularization may not use
 * gradients primed for another l2). */
#include <string.h>

#include <omp.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "model/dbmtl.h"
#include "test.h"
#include "train/trainer.h"
#include "util/rng.h"

static const char *CFG =
    "model_dir: '/tmp/mtrec_prime'\n"
    "train_input_path: 'unused.csv'\n"
    "data_config { input_type: CSVInput batch_size: 64\n"
    "  input_fields { input_name: 'uid' input_type: STRING }\n"
    "  input_fields { input_name: 'x' input_type: FLOAT }\n"
    "  input_fields { input_name: 'click' input_type: INT32 }\n"
    "  input_fields { input_name: 'buy' input_type: INT32 }\n"
    "  label_fields: ['click', 'buy'] }\n"
    "feature_config { features { input_names: 'uid' feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 50 }\n"
    "  features { input_names: 'x' feature_type: RawFeature } }\n"
    "model_config { model_class: 'DBMTL'\n"
    "  feature_groups { group_name: 'all' feature_names: ['uid', 'x'] wide_deep: DEEP }\n"
    "  dbmtl { bottom_dnn { hidden_units: [1100, 24] }\n"
    "    task_towers { tower_name: 'click' label_name: 'click' dnn { hidden_units: [16] dropout_ratio: [0.1] }\n"
    "      relation_dnn { hidden_units: [8] } }\n"
    "    task_towers { tower_name: 'buy' label_name: 'buy' dnn { hidden_units: [16] }\n"
    "      relation_tower_names: ['click'] relation_dnn { hidden_units: [8] } }\n"
    "    l2_regularization: 0.01 }\n"
    "  embedding_regularization: 1e-4\n}\n";

static void fill(mt_pipeline *p, mt_model *m, mt_batch *b) {
    mt_err e = {0};
    mt_rng r;
    mt_rng_seed(&r, 9);
    for (int i = 0; i < 64; i++) {
        char f[4][32];
        snprintf(f[0], 32, "u%d", (int)(mt_rng_uniform(&r) * 30));
        snprintf(f[1], 32, "%.3f", 2 * mt_rng_uniform(&r) - 1);
        int click = mt_rng_uniform(&r) < 0.4;
        snprintf(f[2], 32, "%d", click);
        snprintf(f[3], 32, "%d", click && mt_rng_uniform(&r) < 0.5);
        const char *row[4] = {f[0], f[1], f[2], f[3]};
        int len[4];
        for (int j = 0; j < 4; j++) len[j] = (int)strlen(f[j]);
        CHECK(mt_batch_add_row(p, &m->plan, b, row, len, "prime:row", &e) == MTREC_OK);
    }
}

/* two training steps; before the second backward the priming is dropped when `drop`; the
 * second backward regularizes when `reg`. The second step's gradients into g, its loss out. */
static double two_steps(mt_pipeline *p, int drop, int reg, mt_real **g, size_t *n) {
    mt_err e = {0};
    mt_mm *mm = NULL;
    CHECK(mt_mm_create(2, 0, &mm, &e) == MTREC_OK);
    mt_model *m = NULL;
    CHECK_MSG(mt_model_create(p, 64, mm, 11, &m, &e) == MTREC_OK, "%s", e.msg);
    mt_batch b;
    CHECK(mt_batch_alloc(&m->plan, 64, &b, &e) == MTREC_OK);
    fill(p, m, &b);
    CHECK(mt_model_forward(m, &b, 1, &e) == MTREC_OK);
    CHECK(mt_model_loss_backward(m, &b, 1, 1, &e) == MTREC_OK);
    CHECK(!m->grads_primed);
    mt_train_apply_update(m, 0, 0.01f);
    CHECK(m->grads_primed && m->primed_l2 > 0 && m->primed_sumsq > 0);
    if (drop) {
        mt_model_param_data(m, &m->info[0]);
        CHECK(!m->grads_primed);
    }
    CHECK(mt_model_forward(m, &b, 1, &e) == MTREC_OK);
    CHECK(mt_model_loss_backward(m, &b, reg, 1, &e) == MTREC_OK);
    CHECK(!m->grads_primed);  /* used (or refused) once */
    *n = m->n_params;
    *g = malloc(m->n_params * sizeof **g);
    memcpy(*g, m->grads, m->n_params * sizeof **g);
    double loss = m->total_loss;
    mt_batch_free(&b);
    mt_model_free(m);
    mt_mm_free(mm);
    return loss;
}

static void test_primed_equals_backward(void) {
    mt_err e = {0};
    mt_pipeline p = {0};
    CHECK_MSG(mt_pipeline_load_text("prime.config", CFG, &p, &e) == MTREC_OK, "%s", e.msg);
    omp_set_num_threads(2);
    for (int reg = 1; reg >= 0; reg--) {
        mt_real *g1, *g0;
        size_t n1, n0;
        double l1 = two_steps(&p, 0, reg, &g1, &n1), l0 = two_steps(&p, 1, reg, &g0, &n0);
        CHECK(n1 == n0);
        size_t diff = 0, nonzero = 0;
        for (size_t i = 0; i < n1 && n1 == n0; i++) {
            diff += memcmp(&g1[i], &g0[i], sizeof g1[i]) != 0;
            nonzero += g1[i] != 0;
        }
        printf("# regularize %d: loss %.9f / %.9f, %zu of %zu gradients differ\n", reg, l1, l0, diff, n1);
        CHECK(l1 == l0);
        CHECK_MSG(diff == 0, "%zu gradients differ between primed and plain starts", diff);
        CHECK(nonzero > n1 / 2);
        free(g1);
        free(g0);
    }
    mt_pipeline_free(&p);
}

int main(void) {
    RUN(test_primed_equals_backward);
    return test_summary();
}
