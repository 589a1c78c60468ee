/* test_model_dbl.c: whole-model gradient check in double precision (MT_DOUBLE build):
 * DBMTL with embeddings (hashed id, weighted-mean tags, raw dense), bottom with BN, MMoE,
 * towers with relations (a DAG with two parents), sigmoid CE, softmax CE (3 classes) and L2
 * losses, l2 and embedding regularization: every analytic gradient (dense parameters and
 * the touched embedding rows) against central finite differences of the total loss. */
#include <math.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "model/dbmtl.h"
#include "test.h"

static const char *CFG_HEAD =
    "model_dir: '/tmp/mtrec_gradcheck'\n"
    "train_input_path: 'unused.csv'\n"
    "data_config { input_type: CSVInput batch_size: 16\n"
    "  input_fields { input_name: 'uid' input_type: STRING }\n"
    "  input_fields { input_name: 'tags' input_type: STRING }\n"
    "  input_fields { input_name: 'x' input_type: FLOAT }\n"
    "  input_fields { input_name: 'click' input_type: INT32 }\n"
    "  input_fields { input_name: 'buy' input_type: INT32 }\n"
    "  input_fields { input_name: 'spend' input_type: FLOAT }\n"
    "  input_fields { input_name: 'kind' input_type: INT32 }\n"
    "  label_fields: ['click', 'buy', 'spend', 'kind'] }\n"
    "feature_config { features { input_names: 'uid' feature_type: IdFeature embedding_dim: 3 hash_bucket_size: 20 }\n"
    "  features { input_names: 'tags' feature_type: TagFeature embedding_dim: 3 hash_bucket_size: 30 kv_separator: ':' combiner: 'mean' }\n"
    "  features { input_names: 'x' feature_type: RawFeature } }\n"
    "model_config { model_class: 'DBMTL'\n"
    "  feature_groups { group_name: 'all' feature_names: ['uid', 'tags', 'x'] wide_deep: DEEP }\n"
    "  embedding_regularization: 0.01\n"
    "  dbmtl {\n";

static const char *CFG_TOWERS =
    "    task_towers { tower_name: 'click' label_name: 'click' dnn { hidden_units: [5] activation: 'tanh' }\n"
    "      relation_dnn { hidden_units: [4] activation: 'elu' } }\n"
    "    task_towers { tower_name: 'buy' label_name: 'buy' dnn { hidden_units: [5] activation: 'swish' }\n"
    "      relation_tower_names: ['click'] relation_dnn { hidden_units: [3] activation: 'sigmoid' } weight: 0.7 }\n"
    "    task_towers { tower_name: 'spend' label_name: 'spend' loss_type: L2_LOSS dnn { hidden_units: [4] activation: 'gelu' }\n"
    "      relation_tower_names: ['click', 'buy'] relation_dnn { hidden_units: [3] activation: 'selu' } }\n"
    "    task_towers { tower_name: 'kind' label_name: 'kind' num_class: 3\n"
    "      relation_tower_names: ['buy'] }\n"
    "    l2_regularization: 0.001\n  }\n}\n";

/* variant 0: plain, 1: MMoE, 2: a bottom wide enough that the training split of its layers
 * into column halves (model.bottom_split) has two non-empty halves (16 + 4, 16 + 2) */
static char *make_config(int variant) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s%s%s", CFG_HEAD,
             variant == 1 ? "    bottom_dnn { hidden_units: [7] activation: 'tanh' }\n"
                            "    expert_dnn { hidden_units: [6] activation: 'leaky_relu' } num_expert: 2\n"
             : variant == 2 ? "    bottom_dnn { hidden_units: [20, 18] activation: 'tanh' }\n"
                            : "    bottom_dnn { hidden_units: [7, 6] activation: 'tanh' }\n",
             CFG_TOWERS);
    return buf;
}

static const char *ROWS[][7] = {
    {"u1", "a:1.5|b:0.5", "0.3", "1", "1", "12.5", "2"},
    {"u2", "b:1|c:2|d:1", "-1.2", "0", "0", "0", "0"},
    {"u1", "", "2.0", "1", "0", "3", "1"},
    {"u3", "a:0.7", "0.0", "0", "0", "0", "2"},
    {"u4", "c:1|c:1", "1.1", "1", "1", "20", "1"},
    {"u2", "d:0.2|e:3", "-0.4", "1", "0", "1", "0"},
    {"u5", "e:1", "0.9", "0", "0", "0", "1"},
};

static double total_loss(mt_model *m, const mt_batch *b) {
    mt_err e = {0};
    if (mt_model_forward(m, b, 1, &e) != MTREC_OK) return NAN;
    if (mt_model_loss_backward(m, b, 1, 0, &e) != MTREC_OK) return NAN;
    return m->total_loss;
}

static void gradcheck(int variant) {
    mt_err e = {0};
    mt_pipeline p = {0};
    mtrec_status st = mt_pipeline_load_text("gradcheck.config", make_config(variant), &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st != MTREC_OK) return;
    mt_mm *mm = NULL;
    CHECK(mt_mm_create(1, 0, &mm, &e) == MTREC_OK);
    mt_model *m = NULL;
    st = mt_model_create(&p, 16, mm, 7, &m, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st != MTREC_OK) { mt_mm_free(mm); mt_pipeline_free(&p); return; }
    CHECK(m->lanes && m->bottom_split);  /* the training paths under test */
    if (variant == 2) CHECK(m->bsplit[0].w[1] > 0 && m->bsplit[1].w[1] > 0);
    mt_batch b;
    CHECK(mt_batch_alloc(&m->plan, 16, &b, &e) == MTREC_OK);
    for (size_t r = 0; r < MT_ARRAY_LEN(ROWS); r++) {
        int len[7];
        for (int j = 0; j < 7; j++) len[j] = (int)strlen(ROWS[r][j]);
        st = mt_batch_add_row(&p, &m->plan, &b, ROWS[r], len, "gradcheck:row", &e);
        CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    }
    /* larger weights than the default init so every path carries signal */
    mt_rng r;
    mt_rng_seed(&r, 99);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += (mt_real)(0.3 * mt_rng_normal(&r));
    for (int t = 0; t < m->n_tables; t++)
        for (int64_t i = 0; i < m->tables[t].plan->rows * m->tables[t].plan->dim; i++)
            m->tables[t].w[i] = (mt_real)(0.5 * mt_rng_normal(&r));

    CHECK(mt_model_forward(m, &b, 1, &e) == MTREC_OK);
    CHECK(mt_model_loss_backward(m, &b, 1, 1, &e) == MTREC_OK);
    double L0 = m->total_loss;
    CHECK(isfinite(L0) && L0 > 0);
    mt_real *g = malloc(m->n_params * sizeof *g);
    memcpy(g, m->grads, m->n_params * sizeof *g);

    const double eps = 1e-6;
    int checked = 0, bad = 0, nonzero = 0;
    double worst = 0;
    for (int i = 0; i < m->n_info; i++) {
        const mt_param_info *pi = &m->info[i];
        if (pi->is_stat) continue;
        size_t n = (size_t)pi->shape[0] * (size_t)(pi->ndim > 1 ? pi->shape[1] : 1);
        for (size_t k = 0; k < n; k++) {
            mt_real *w = m->params + pi->offset + k;
            mt_real old = *w;
            *w = old + eps;
            double lp = total_loss(m, &b);
            *w = old - eps;
            double lm = total_loss(m, &b);
            *w = old;
            double fd = (lp - lm) / (2 * eps), an = g[pi->offset + k];
            /* relative error with an absolute floor: the loss (~10) evaluated twice in
             * double has ~1e-15 relative round-off, i.e. ~1e-8 after dividing by 2*eps */
            double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-3);
            if (err > worst) worst = err;
            if (err > 1e-5) {
                if (bad < 5) fprintf(stderr, "  %s[%zu]: analytic %.10g fd %.10g\n", pi->name, k, an, fd);
                bad++;
            }
            if (fabs(an) > 1e-8) nonzero++;
            checked++;
        }
    }
    /* embedding rows the batch touched */
    int emb_checked = 0;
    CHECK(mt_model_forward(m, &b, 1, &e) == MTREC_OK);
    CHECK(mt_model_loss_backward(m, &b, 1, 1, &e) == MTREC_OK);
    for (int t = 0; t < m->n_tables; t++) {
        mt_table *T = &m->tables[t];
        int dim = T->plan->dim, nrows = T->grad.n;
        mt_real *sg = malloc((size_t)nrows * dim * sizeof *sg);
        int64_t *rows = malloc((size_t)nrows * sizeof *rows);
        memcpy(sg, T->grad.grad, (size_t)nrows * dim * sizeof *sg);
        memcpy(rows, T->grad.rows, (size_t)nrows * sizeof *rows);
        for (int s = 0; s < nrows; s++)
            for (int j = 0; j < dim; j++) {
                mt_real *w = T->w + rows[s] * dim + j;
                mt_real old = *w;
                *w = old + eps;
                double lp = total_loss(m, &b);
                *w = old - eps;
                double lm = total_loss(m, &b);
                *w = old;
                double fd = (lp - lm) / (2 * eps), an = sg[(size_t)s * dim + j];
                double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-3);
                if (err > worst) worst = err;
                if (err > 1e-5) {
                    if (bad < 10) fprintf(stderr, "  table %s row %lld[%d]: analytic %.10g fd %.10g\n",
                                          T->plan->name, (long long)rows[s], j, an, fd);
                    bad++;
                }
                emb_checked++;
            }
        free(sg);
        free(rows);
    }
    fprintf(stderr, "gradcheck variant %d: %d dense + %d embedding entries, worst rel err %.3g\n", variant,
            checked, emb_checked, worst);
    CHECK(checked > 100);
    CHECK(emb_checked > 20);
    CHECK(nonzero > checked / 2);
    CHECK_MSG(bad == 0, "%d gradient entries disagree with finite differences", bad);
    free(g);
    mt_batch_free(&b);
    mt_model_free(m);
    mt_mm_free(mm);
    mt_pipeline_free(&p);
}

static void test_gradcheck_plain(void) { gradcheck(0); }
static void test_gradcheck_mmoe(void) { gradcheck(1); }
static void test_gradcheck_bottom_halves(void) { gradcheck(2); }

int main(void) {
    RUN(test_gradcheck_plain);
    RUN(test_gradcheck_mmoe);
    RUN(test_gradcheck_bottom_halves);
    return test_summary();
}
