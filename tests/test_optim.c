/* test_optim.c: train/optim.c against independent scalar references (TF update rules),
 * convergence on least squares, sparse-row equivalence and learning-rate schedules. */
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "test.h"
#include "train/optim.h"
#include "util/rng.h"

static mt_optimizer_config cfg(mt_optimizer_kind k) {
    mt_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = k;
    c.lr.kind = MT_LR_CONSTANT;
    c.lr.learning_rate = 0.01f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.epsilon = 1e-8f;
    c.initial_accumulator_value = 0.1f;
    c.momentum = 0.9f;
    return c;
}

/* Scalar double reference of one parameter, written from the TF op docs, with the Adam
 * bias powers kept as running products like TF's beta1_power/beta2_power variables. */
typedef struct ref_state {
    double p, s0, s1, b1p, b2p;
} ref_state;

static void ref_init(ref_state *r, const mt_optimizer_config *c, double p0) {
    r->p = p0;
    r->s0 = c->kind == MT_OPT_ADAGRAD ? c->initial_accumulator_value : 0.0;
    r->s1 = 0.0;
    r->b1p = 1.0;
    r->b2p = 1.0;
}

static void ref_step(ref_state *r, const mt_optimizer_config *c, double lr, double g) {
    switch (c->kind) {
    case MT_OPT_ADAM: {
        double b1 = c->beta1, b2 = c->beta2;
        r->b1p *= b1;
        r->b2p *= b2;
        double alpha = lr * sqrt(1 - r->b2p) / (1 - r->b1p);
        r->s0 = b1 * r->s0 + (1 - b1) * g;
        r->s1 = b2 * r->s1 + (1 - b2) * g * g;
        r->p -= alpha * r->s0 / (sqrt(r->s1) + c->epsilon);
        break;
    }
    case MT_OPT_ADAGRAD:
        r->s0 += g * g;
        r->p -= lr * g / sqrt(r->s0);
        break;
    case MT_OPT_MOMENTUM:
        r->s0 = c->momentum * r->s0 + g;
        if (c->use_nesterov) r->p -= lr * g + lr * c->momentum * r->s0;
        else r->p -= lr * r->s0;
        break;
    case MT_OPT_SGD:
        r->p -= lr * g;
        break;
    }
}

static const char *kind_name(const mt_optimizer_config *c) {
    switch (c->kind) {
    case MT_OPT_ADAM: return "adam";
    case MT_OPT_ADAGRAD: return "adagrad";
    case MT_OPT_MOMENTUM: return c->use_nesterov ? "nesterov" : "momentum";
    case MT_OPT_SGD: return "sgd";
    }
    return "?";
}

#define N_KINDS 5
static mt_optimizer_config kinds(int i) {
    mt_optimizer_config c = cfg(i == 0 ? MT_OPT_ADAM : i == 1 ? MT_OPT_ADAGRAD
                                : i == 4 ? MT_OPT_SGD : MT_OPT_MOMENTUM);
    if (i == 3) c.use_nesterov = 1;
    return c;
}

static void test_slots(void) {
    CHECK(mt_optim_slots(MT_OPT_ADAM) == 2);
    CHECK(mt_optim_slots(MT_OPT_ADAGRAD) == 1);
    CHECK(mt_optim_slots(MT_OPT_MOMENTUM) == 1);
    CHECK(mt_optim_slots(MT_OPT_SGD) == 0);
    mt_real s0[3] = {5, 5, 5}, s1[3] = {5, 5, 5};
    mt_optimizer_config c = cfg(MT_OPT_ADAGRAD);
    c.initial_accumulator_value = 0.25f;
    mt_optim_init_slots(&c, s0, NULL, 3);
    CHECK(s0[0] == 0.25f && s0[2] == 0.25f);
    c = cfg(MT_OPT_ADAM);
    mt_optim_init_slots(&c, s0, s1, 3);
    CHECK(s0[1] == 0 && s1[1] == 0);
}

/* Every optimizer over 12 steps with varying gradients and learning rates. */
static void test_against_scalar_reference(void) {
    enum { N = 37, STEPS = 12 };
    for (int k = 0; k < N_KINDS; k++) {
        mt_optimizer_config c = kinds(k);
        mt_rng r;
        mt_rng_seed(&r, 100 + (uint64_t)k);
        mt_real p[N], p0[N], g[N], s0[N], s1[N];
        ref_state ref[N];
        for (int i = 0; i < N; i++) {
            p0[i] = p[i] = (mt_real)mt_rng_normal(&r);
            ref_init(&ref[i], &c, p[i]);
        }
        mt_optim_init_slots(&c, s0, s1, N);
        double worst = 0;
        for (int t = 1; t <= STEPS; t++) {
            float lr = 0.05f / (float)t;
            for (int i = 0; i < N; i++) {
                g[i] = (mt_real)(mt_rng_normal(&r) * (i % 5 == 0 ? 1e-3 : 1.0));
                ref_step(&ref[i], &c, lr, g[i]);
            }
            mt_optim_update(&c, t, lr, p, g, s0, s1, N);
            for (int i = 0; i < N; i++) {
                double d = fabs(p[i] - ref[i].p) / (1e-3 + fabs(ref[i].p));
                if (d > worst) worst = d;
            }
        }
        CHECK_MSG(worst < 2e-5, "%s: worst relative deviation %g", kind_name(&c), worst);
        /* and the updates really moved every parameter */
        int moved = 0;
        for (int i = 0; i < N; i++) moved += p[i] != p0[i];
        CHECK_MSG(moved == N, "%s: only %d of %d parameters moved", kind_name(&c), moved, N);
    }
}

/* The vectorised update (8 lanes) gives the same bits as the scalar loop: one call over 37
 * elements vs 37 calls of one element, for every optimizer. */
static void test_vector_equals_scalar(void) {
    enum { N = 37 };
    for (int k = 0; k < N_KINDS; k++) {
        mt_optimizer_config c = kinds(k);
        mt_rng r;
        mt_rng_seed(&r, 300 + (uint64_t)k);
        mt_real p[N], q[N], g[N], s0[N], s1[N], t0[N], t1[N];
        for (int i = 0; i < N; i++) p[i] = q[i] = (mt_real)mt_rng_normal(&r);
        mt_optim_init_slots(&c, s0, s1, N);
        mt_optim_init_slots(&c, t0, t1, N);
        for (int t = 1; t <= 5; t++) {
            for (int i = 0; i < N; i++) g[i] = (mt_real)mt_rng_normal(&r);
            mt_optim_update(&c, t, 0.01f, p, g, s0, s1, N);
            for (int i = 0; i < N; i++) mt_optim_update(&c, t, 0.01f, q + i, g + i, t0 + i, t1 + i, 1);
        }
        CHECK_MSG(memcmp(p, q, sizeof p) == 0, "%s: vector and scalar updates differ", kind_name(&c));
    }
}

/* mt_optim_update_blocks: the same bits as mt_optim_update for every kind, on 1 and 2
 * threads, and its callback sees each block exactly once, after that block's update. */
typedef struct blocks_seen {
    const mt_real *p, *after;  /* params, and the expected values after the update */
    int calls[80];
    int early;                 /* a callback before its block was updated */
} blocks_seen;
static void blocks_cb(void *ctx, size_t a, size_t b) {
    blocks_seen *s = ctx;
    if (a % 512 != 0 || b - a > 512 || a / 512 >= 80) {
        s->early = 1;
        return;
    }
    s->calls[a / 512]++;
    if (memcmp(s->p + a, s->after + a, (b - a) * sizeof *s->p)) s->early = 1;
}
static void test_update_blocks(void) {
    enum { N = 40000 };  /* above the parallel threshold; 79 blocks of 512, the last partial */
    static mt_real p[N], q[N], g[N], s0[N], s1[N], t0[N], t1[N];
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < N_KINDS; k++) {
            omp_set_num_threads(threads);
            mt_optimizer_config c = kinds(k);
            mt_rng r;
            mt_rng_seed(&r, 700 + (uint64_t)k);
            for (int i = 0; i < N; i++) p[i] = q[i] = (mt_real)mt_rng_normal(&r);
            mt_optim_init_slots(&c, s0, s1, N);
            mt_optim_init_slots(&c, t0, t1, N);
            for (int t = 1; t <= 3; t++) {
                for (int i = 0; i < N; i++) g[i] = (mt_real)mt_rng_normal(&r);
                mt_optim_update(&c, t, 0.01f, q, g, t0, t1, N);
                blocks_seen seen = {.p = p, .after = q};
                mt_optim_update_blocks(&c, t, 0.01f, p, g, s0, s1, N, 512, blocks_cb, &seen);
                int once = 1;
                for (int b = 0; b < 79; b++) once &= seen.calls[b] == 1;
                once &= seen.calls[79] == 0;
                CHECK_MSG(once && !seen.early, "%s, %d threads: callbacks", kind_name(&c), threads);
            }
            CHECK_MSG(memcmp(p, q, sizeof p) == 0, "%s, %d threads: block and flat updates differ",
                      kind_name(&c), threads);
            CHECK(memcmp(s0, t0, sizeof s0) == 0);
        }
    omp_set_num_threads(1);
}

/* Known first steps by hand: Adam's first step is lr * sign(g) (up to eps). */
static void test_hand_values(void) {
    mt_optimizer_config c = cfg(MT_OPT_ADAM);
    mt_real p[2] = {1, 1}, g[2] = {0.5f, -2.0f}, s0[2], s1[2];
    mt_optim_init_slots(&c, s0, s1, 2);
    mt_optim_update(&c, 1, 0.1f, p, g, s0, s1, 2);
    CHECK_NEAR(p[0], 0.9, 1e-6);
    CHECK_NEAR(p[1], 1.1, 1e-6);
    c = cfg(MT_OPT_ADAGRAD);
    mt_real q[1] = {1}, h[1] = {0.3f}, a[1];
    mt_optim_init_slots(&c, a, NULL, 1);
    mt_optim_update(&c, 1, 0.1f, q, h, a, NULL, 1);
    CHECK_NEAR(a[0], 0.1 + 0.09, 1e-6);
    CHECK_NEAR(q[0], 1 - 0.1 * 0.3 / sqrt(0.19), 1e-6);
    c = cfg(MT_OPT_MOMENTUM);
    mt_real m[1] = {0}, x[1] = {0}, gg[1] = {1};
    mt_optim_update(&c, 1, 0.1f, x, gg, m, NULL, 1);
    mt_optim_update(&c, 2, 0.1f, x, gg, m, NULL, 1);
    CHECK_NEAR(m[0], 1.9, 1e-6);
    CHECK_NEAR(x[0], -(0.1 + 0.19), 1e-6);
}

/* Least squares y = X w* + b* + noise, full batch, fitted by every optimizer. */
static void test_fit_linear_regression(void) {
    enum { N = 256, D = 5, P = D + 1 };
    const double w_true[P] = {1.5, -2.0, 0.5, 0.0, 3.0, 0.7}; /* last = bias */
    const double noise = 0.05;
    static double X[N][D], Y[N];
    mt_rng r;
    mt_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        Y[i] = w_true[D];
        for (int j = 0; j < D; j++) {
            X[i][j] = mt_rng_normal(&r);
            Y[i] += w_true[j] * X[i][j];
        }
        Y[i] += noise * mt_rng_normal(&r);
    }
    const float lrs[N_KINDS] = {0.05f, 0.5f, 0.02f, 0.02f, 0.1f};
    for (int k = 0; k < N_KINDS; k++) {
        mt_optimizer_config c = kinds(k);
        mt_real w[P] = {0}, g[P], s0[P], s1[P];
        mt_optim_init_slots(&c, s0, s1, P);
        double loss = 0, loss0 = -1;
        for (int t = 1; t <= 1500; t++) {
            double gd[P] = {0};
            loss = 0;
            for (int i = 0; i < N; i++) {
                double e = w[D] - Y[i];
                for (int j = 0; j < D; j++) e += w[j] * X[i][j];
                loss += e * e / N;
                for (int j = 0; j < D; j++) gd[j] += 2 * e * X[i][j] / N;
                gd[D] += 2 * e / N;
            }
            if (loss0 < 0) loss0 = loss;
            for (int j = 0; j < P; j++) g[j] = (mt_real)gd[j];
            mt_optim_update(&c, t, lrs[k], w, g, s0, s1, P);
        }
        CHECK_MSG(loss < 2 * noise * noise, "%s: final loss %g (start %g)", kind_name(&c), loss, loss0);
        double werr = 0;
        for (int j = 0; j < P; j++) werr = fmax(werr, fabs(w[j] - w_true[j]));
        CHECK_MSG(werr < 0.03, "%s: max weight error %g", kind_name(&c), werr);
    }
}

/* Sparse rows: equal to a dense update of the same rows; other rows (and slots) untouched. */
static void test_rows_match_dense(void) {
    enum { R = 9, DIM = 4 };
    const int64_t rows[] = {7, 2, 5};
    const int n_rows = 3;
    for (int k = 0; k < N_KINDS; k++) {
        mt_optimizer_config c = kinds(k);
        mt_rng r;
        mt_rng_seed(&r, 50 + (uint64_t)k);
        mt_real tab[R * DIM], s0[R * DIM], s1[R * DIM];
        mt_real tab0[R * DIM], s00[R * DIM], s10[R * DIM];
        for (int i = 0; i < R * DIM; i++) tab[i] = (mt_real)mt_rng_normal(&r);
        mt_optim_init_slots(&c, s0, s1, R * DIM);
        /* a first, dense-ish step so slots are not all at their initial values */
        mt_real gall[R * DIM];
        for (int i = 0; i < R * DIM; i++) gall[i] = (mt_real)mt_rng_normal(&r);
        mt_optim_update(&c, 1, 0.1f, tab, gall, s0, s1, R * DIM);
        memcpy(tab0, tab, sizeof tab);
        memcpy(s00, s0, sizeof s0);
        memcpy(s10, s1, sizeof s1);
        mt_real grads[3 * DIM];
        for (int i = 0; i < n_rows * DIM; i++) grads[i] = (mt_real)mt_rng_normal(&r);
        for (int step = 2; step <= 4; step++) {
            mt_optim_update_rows(&c, step, 0.05f, tab, s0, s1, DIM, rows, grads, n_rows);
            for (int q = 0; q < n_rows; q++) {
                size_t off = (size_t)rows[q] * DIM;
                mt_optim_update(&c, step, 0.05f, tab0 + off, grads + q * DIM, s00 + off,
                                s10 + off, DIM);
            }
        }
        int same = memcmp(tab, tab0, sizeof tab) == 0;
        int nslots = mt_optim_slots(c.kind);
        if (nslots >= 1) same = same && memcmp(s0, s00, sizeof s0) == 0;
        if (nslots >= 2) same = same && memcmp(s1, s10, sizeof s1) == 0;
        CHECK_MSG(same, "%s: rows update differs from dense update", kind_name(&c));
        /* rows 0, 1, 3, 4, 6, 8 unchanged since the first step (compare with a replay) */
        mt_real tab1[R * DIM], s01[R * DIM], s11[R * DIM];
        mt_rng_seed(&r, 50 + (uint64_t)k);
        for (int i = 0; i < R * DIM; i++) tab1[i] = (mt_real)mt_rng_normal(&r);
        mt_optim_init_slots(&c, s01, s11, R * DIM);
        for (int i = 0; i < R * DIM; i++) gall[i] = (mt_real)mt_rng_normal(&r);
        mt_optim_update(&c, 1, 0.1f, tab1, gall, s01, s11, R * DIM);
        int untouched = 1, touched = 1;
        for (int row = 0; row < R; row++) {
            int listed = row == 7 || row == 2 || row == 5;
            int eq = memcmp(tab + row * DIM, tab1 + row * DIM, DIM * sizeof(mt_real)) == 0;
            if (nslots >= 1) eq = eq && memcmp(s0 + row * DIM, s01 + row * DIM, DIM * sizeof(mt_real)) == 0;
            if (nslots >= 2) eq = eq && memcmp(s1 + row * DIM, s11 + row * DIM, DIM * sizeof(mt_real)) == 0;
            if (listed) touched = touched && !eq;
            else untouched = untouched && eq;
        }
        CHECK_MSG(untouched, "%s: an unlisted row changed", kind_name(&c));
        CHECK_MSG(touched, "%s: a listed row did not change", kind_name(&c));
    }
}

/* mt_optim_update_tables (all tables' rows in one parallel loop, chunks dealt out to the
 * threads) equals mt_optim_update_rows table by table, bit for bit, at 1 and 2 threads:
 * tables of 1, 300 and 1000 distinct rows (several chunks), for every optimizer. */
static void test_tables_match_rows(void) {
    enum { T = 3, DIM = 16, ROWS = 4000 };
    const int nr[T] = {1, 300, 1000};
    for (int k = 0; k < N_KINDS; k++) {
        mt_optimizer_config c = kinds(k);
        mt_rng r;
        mt_rng_seed(&r, 80 + (uint64_t)k);
        size_t n = (size_t)ROWS * DIM;
        mt_real *w[2][T], *s0[2][T], *s1[2][T], *g[T];
        int64_t *rows[T];
        for (int t = 0; t < T; t++) {
            for (int v = 0; v < 2; v++) {
                w[v][t] = malloc(n * sizeof(mt_real));
                s0[v][t] = malloc(n * sizeof(mt_real));
                s1[v][t] = malloc(n * sizeof(mt_real));
            }
            for (size_t i = 0; i < n; i++) w[0][t][i] = (mt_real)mt_rng_normal(&r);
            mt_optim_init_slots(&c, s0[0][t], s1[0][t], n);
            memcpy(w[1][t], w[0][t], n * sizeof(mt_real));
            memcpy(s0[1][t], s0[0][t], n * sizeof(mt_real));
            memcpy(s1[1][t], s1[0][t], n * sizeof(mt_real));
            rows[t] = malloc((size_t)nr[t] * sizeof(int64_t));
            for (int q = 0; q < nr[t]; q++) rows[t][q] = (int64_t)q * 3 + (q % 2);  /* distinct */
            g[t] = malloc((size_t)nr[t] * DIM * sizeof(mt_real));
            for (int i = 0; i < nr[t] * DIM; i++) g[t][i] = (mt_real)mt_rng_normal(&r);
        }
        mt_real before = w[0][2][0];  /* row 0 of table 2: listed */
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            mt_rows_update u[T];
            for (int t = 0; t < T; t++)
                u[t] = (mt_rows_update){w[1][t], s0[1][t], s1[1][t], DIM, rows[t], g[t], nr[t]};
            for (int step = 1; step <= 2; step++) {
                int64_t st = (threads - 1) * 2 + step;
                for (int t = 0; t < T; t++)
                    mt_optim_update_rows(&c, st, 0.05f, w[0][t], s0[0][t], s1[0][t], DIM, rows[t], g[t], nr[t]);
                mt_optim_update_tables(&c, st, 0.05f, u, T);
            }
            int same = 1;
            for (int t = 0; t < T; t++) {
                same = same && memcmp(w[0][t], w[1][t], n * sizeof(mt_real)) == 0;
                if (mt_optim_slots(c.kind) >= 1) same = same && memcmp(s0[0][t], s0[1][t], n * sizeof(mt_real)) == 0;
                if (mt_optim_slots(c.kind) >= 2) same = same && memcmp(s1[0][t], s1[1][t], n * sizeof(mt_real)) == 0;
            }
            CHECK_MSG(same, "%s, %d thread(s): tables update differs from rows updates", kind_name(&c), threads);
        }
        CHECK(w[1][2][0] != before);  /* the updates did change the tables */
        for (int t = 0; t < T; t++) {
            for (int v = 0; v < 2; v++) {
                free(w[v][t]);
                free(s0[v][t]);
                free(s1[v][t]);
            }
            free(rows[t]);
            free(g[t]);
        }
    }
    omp_set_num_threads(1);
}

static mt_lr_config exp_cfg(float lr0, int64_t decay_steps, float factor, int staircase) {
    mt_lr_config c;
    memset(&c, 0, sizeof c);
    c.kind = MT_LR_EXP_DECAY;
    c.initial_learning_rate = lr0;
    c.decay_steps = decay_steps;
    c.decay_factor = factor;
    c.staircase = staircase;
    return c;
}

static void test_lr_schedules(void) {
    mt_lr_config k;
    memset(&k, 0, sizeof k);
    k.kind = MT_LR_CONSTANT;
    k.learning_rate = 0.002f;
    CHECK(mt_lr_at(&k, 0) == 0.002f && mt_lr_at(&k, 123456789) == 0.002f);

    mt_lr_config s = exp_cfg(0.1f, 1000, 0.5f, 1);
    CHECK_NEAR(mt_lr_at(&s, 0), 0.1, 1e-8);
    CHECK_NEAR(mt_lr_at(&s, 999), 0.1, 1e-8);
    CHECK_NEAR(mt_lr_at(&s, 1000), 0.05, 1e-8);
    CHECK_NEAR(mt_lr_at(&s, 2500), 0.025, 1e-8);

    mt_lr_config e = exp_cfg(0.1f, 1000, 0.5f, 0);
    CHECK_NEAR(mt_lr_at(&e, 500), 0.1 * sqrt(0.5), 1e-8);
    CHECK_NEAR(mt_lr_at(&e, 2500), 0.1 * pow(0.5, 2.5), 1e-8);

    e.min_learning_rate = 0.02f;
    CHECK_NEAR(mt_lr_at(&e, 1000), 0.05, 1e-8);
    CHECK_NEAR(mt_lr_at(&e, 4000), 0.02, 1e-8); /* 0.1/16 clamped */

    /* EasyRec burn-in: linear from burnin_learning_rate at step 0 towards lr0, then decay
     * counted from the end of the burn-in. */
    mt_lr_config b = exp_cfg(0.1f, 1000, 0.5f, 1);
    b.burnin_learning_rate = 0.02f;
    b.burnin_steps = 100;
    CHECK_NEAR(mt_lr_at(&b, 0), 0.02, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 50), 0.06, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 99), 0.02 + 0.99 * 0.08, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 100), 0.1, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 1099), 0.1, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 1100), 0.05, 1e-8);
    /* burnin_learning_rate 0 means "hold lr0 during the burn-in" */
    b.burnin_learning_rate = 0;
    CHECK_NEAR(mt_lr_at(&b, 10), 0.1, 1e-8);
    CHECK_NEAR(mt_lr_at(&b, 1100), 0.05, 1e-8);
}

static void test_norm_and_scale(void) {
    mt_real g[2] = {3, 4};
    CHECK_NEAR(mt_sumsq(g, 2), 5.0, 1e-9);
    CHECK(mt_sumsq(g, 0) == 0.0);
    enum { N = 100000 };
    mt_real *v = malloc(N * sizeof *v);
    mt_rng r;
    mt_rng_seed(&r, 9);
    double want = 0;
    for (int i = 0; i < N; i++) {
        v[i] = (mt_real)mt_rng_normal(&r);
        want += (double)v[i] * v[i];
    }
    CHECK_CLOSE(mt_sumsq(v, N), sqrt(want), 1e-12, 0);
    /* clip to norm 1.5 */
    mt_scale(v, N, (mt_real)(1.5 / sqrt(want)));
    CHECK_CLOSE(mt_sumsq(v, N), 1.5, 1e-6, 0);
    free(v);
}

int main(void) {
    RUN(test_slots);
    RUN(test_against_scalar_reference);
    RUN(test_vector_equals_scalar);
    RUN(test_update_blocks);
    RUN(test_hand_values);
    RUN(test_fit_linear_regression);
    RUN(test_rows_match_dense);
    RUN(test_tables_match_rows);
    RUN(test_lr_schedules);
    RUN(test_norm_and_scale);
    return test_summary();
}
