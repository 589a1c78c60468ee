/* test_bf16_handoff.c: the bf16 hand-off (mt_model.bf16_handoff): BN kernels that write a
 * product's bf16 operand themselves (mt_mm_bf16_slot) must give exactly the bits of writing
 * f32 and letting the backend convert. One training forward + backward of a DBMTL model with
 * three-layer towers (inner layers hand off their outputs, every BN layer its dz, the heads
 * their relation dnn's concatenated input, with one and two parents), a tower
 * whose activation's gradient reads its output (tanh: no hand-off) and one with dropout (no
 * hand-off of the masked layers), on 1 and 2 threads, with the hand-off on and off: same
 * loss, same gradient bits. Without AMX, bf16 falls back to fp32 and the slot API must say
 * so (NULL), and the comparison still holds. */
#include <string.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "model/dbmtl.h"
#include "test.h"
#include "util/rng.h"

static const char *CFG =
    "model_dir: '/tmp/mtrec_handoff'\n"
    "train_input_path: 'unused.csv'\n"
    "train_config { mixed_precision: 'BF16' }\n"
    "data_config { input_type: CSVInput batch_size: 64\n"
    "  input_fields { input_name: 'uid' input_type: STRING }\n"
    "  input_fields { input_name: 'tags' input_type: STRING }\n"
    "  input_fields { input_name: 'x' input_type: FLOAT }\n"
    "  input_fields { input_name: 'click' input_type: INT32 }\n"
    "  input_fields { input_name: 'buy' input_type: INT32 }\n"
    "  input_fields { input_name: 'spend' input_type: FLOAT }\n"
    "  label_fields: ['click', 'buy', 'spend'] }\n"
    "feature_config { features { input_names: 'uid' feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 50 }\n"
    "  features { input_names: 'tags' feature_type: TagFeature embedding_dim: 8 hash_bucket_size: 40 }\n"
    "  features { input_names: 'x' feature_type: RawFeature } }\n"
    "model_config { model_class: 'DBMTL'\n"
    "  feature_groups { group_name: 'all' feature_names: ['uid', 'tags', 'x'] wide_deep: DEEP }\n"
    "  dbmtl { bottom_dnn { hidden_units: [48, 32] }\n"
    "    task_towers { tower_name: 'click' label_name: 'click' dnn { hidden_units: [32, 24, 16] }\n"
    "      relation_dnn { hidden_units: [8] } }\n"
    "    task_towers { tower_name: 'buy' label_name: 'buy' dnn { hidden_units: [32, 24, 16] activation: 'tanh' }\n"
    "      relation_tower_names: ['click'] relation_dnn { hidden_units: [8] } }\n"
    "    task_towers { tower_name: 'spend' label_name: 'spend' loss_type: L2_LOSS\n"
    "      dnn { hidden_units: [32, 24, 16] dropout_ratio: [0.2, 0.0, 0.1] }\n"
    "      relation_tower_names: ['click', 'buy'] relation_dnn { hidden_units: [8] } }\n"
    "  }\n}\n";

/* one forward + backward from the same parameters and rng state; the dense gradients into g */
static double step(mt_model *m, const mt_batch *b, const mt_rng *rng0, mt_real *g) {
    mt_err e = {0};
    m->rng = *rng0;
    CHECK_MSG(mt_model_forward(m, b, 1, &e) == MTREC_OK, "%s", e.msg);
    CHECK_MSG(mt_model_loss_backward(m, b, 1, 1, &e) == MTREC_OK, "%s", e.msg);
    memcpy(g, m->grads, m->n_params * sizeof *g);
    return m->total_loss;
}

static void run(int threads) {
    mt_err e = {0};
    mt_pipeline p = {0};
    mtrec_status st = mt_pipeline_load_text("handoff.config", CFG, &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st != MTREC_OK) return;
    mt_mm *mm = NULL;
    CHECK(mt_mm_create(threads, 1, &mm, &e) == MTREC_OK);
    mt_model *m = NULL;
    st = mt_model_create(&p, 64, mm, 11, &m, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st != MTREC_OK) { mt_mm_free(mm); mt_pipeline_free(&p); return; }
    CHECK(m->lanes && m->bf16_handoff == 1);
    /* the slot API answers for bf16 backends only */
    mt_real probe[4];
    CHECK((mt_mm_bf16_slot(mm, probe, 4) != NULL) == (mt_mm_uses_bf16(mm) != 0));

    mt_batch b;
    CHECK(mt_batch_alloc(&m->plan, 64, &b, &e) == MTREC_OK);
    mt_rng r;
    mt_rng_seed(&r, 5);
    for (int i = 0; i < 64; i++) {
        char f[6][32];
        snprintf(f[0], 32, "u%d", (int)(mt_rng_uniform(&r) * 30));
        snprintf(f[1], 32, "t%d|t%d", (int)(mt_rng_uniform(&r) * 9), (int)(mt_rng_uniform(&r) * 9));
        snprintf(f[2], 32, "%.3f", 2 * mt_rng_uniform(&r) - 1);
        int click = mt_rng_uniform(&r) < 0.4, buy = click && mt_rng_uniform(&r) < 0.5;
        snprintf(f[3], 32, "%d", click);
        snprintf(f[4], 32, "%d", buy);
        snprintf(f[5], 32, "%.2f", buy ? 10 * mt_rng_uniform(&r) : 0.0);
        const char *row[6];
        int len[6];
        for (int j = 0; j < 6; j++) {
            row[j] = f[j];
            len[j] = (int)strlen(f[j]);
        }
        st = mt_batch_add_row(&p, &m->plan, &b, row, len, "handoff:row", &e);
        CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    }
    mt_rng rng0 = m->rng;
    mt_real *g1 = malloc(m->n_params * sizeof *g1), *g0 = malloc(m->n_params * sizeof *g0);
    double l1 = step(m, &b, &rng0, g1);
    m->bf16_handoff = 0;
    double l0 = step(m, &b, &rng0, g0);
    m->bf16_handoff = 1;
    double l1b = step(m, &b, &rng0, g1);  /* and back: a hand-off after a step without one */
    size_t diff = 0, nonzero = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        diff += memcmp(&g1[i], &g0[i], sizeof g1[i]) != 0;
        nonzero += g1[i] != 0;
    }
    printf("# %d thread(s), %s: loss %.6f / %.6f / %.6f, %zu of %zu gradients differ\n", threads,
           mt_mm_backend_name(mm), l1, l0, l1b, diff, m->n_params);
    CHECK(l1 == l0 && l1b == l0);
    CHECK_MSG(diff == 0, "%zu gradients differ with the hand-off", diff);
    CHECK(nonzero > m->n_params / 2);
    free(g1);
    free(g0);
    mt_batch_free(&b);
    mt_model_free(m);
    mt_mm_free(mm);
    mt_pipeline_free(&p);
}

static void test_handoff_1thread(void) { run(1); }
static void test_handoff_2threads(void) { run(2); }

int main(void) {
    RUN(test_handoff_1thread);
    RUN(test_handoff_2threads);
    return test_summary();
}
