/* test_nn_dbl.c: every layer backward in nn.h against central finite differences, in the
 * double-precision build (MT_DOUBLE). The loss is L = sum(out * R) for a random R, so the
 * analytic gradient of an input x is what backward gives for dout = R. Gradient buffers
 * start at random values and backward is called twice: (g - g0) / 2 must equal the finite
 * difference, which checks the accumulate (+=) contract too. Forward values, batch-norm
 * statistics and the embedding bag are also checked against loops written here. */
#include <stdint.h>

#include <omp.h>

#include "nn/nn.h"
#include "test.h"
#include "util/rng.h"

#define FD_H 1e-6
#define FD_RTOL 1e-6
#define FD_ATOL 1e-8

static mt_rng g_rng;

static void fill(double *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * mt_rng_uniform(&g_rng);
}
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static double *dcopy(const double *x, size_t n) {
    double *y = dalloc(n);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* A forward pass under test: writes out from the current contents of its inputs. */
typedef void (*fwd_fn)(void *ctx, double *out);

static double loss(fwd_fn f, void *ctx, double *out, const double *R, size_t n_out) {
    f(ctx, out);
    double L = 0;
    for (size_t i = 0; i < n_out; i++) L += out[i] * R[i];
    return L;
}

/* Compares an analytic gradient of x (an = (g - g0) / 2 after two backward calls) with
 * central differences of the loss in x; reports the worst element. */
static void check_fd(const char *what, fwd_fn f, void *ctx, size_t n_out, const double *R,
                     double *x, size_t nx, const double *g, const double *g0) {
    double *out = dalloc(n_out);
    int bad = 0;
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < nx; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_H;
        double lp = loss(f, ctx, out, R, n_out);
        x[i] = x0 - FD_H;
        double lm = loss(f, ctx, out, R, n_out);
        x[i] = x0;
        double fd = (lp - lm) / (2 * FD_H);
        double an = (g[i] - (g0 ? g0[i] : 0)) / 2;
        double err = fabs(an - fd), tol = FD_RTOL * fmax(fabs(an), fabs(fd)) + FD_ATOL;
        if (!(err <= tol)) {
            if (!bad || err > worst) { worst = err; wi = i; }
            bad++;
        }
    }
    if (bad)
        fprintf(stderr, "  %s: %d/%zu off, worst [%zu] err %.3g\n", what, bad, nx, wi, worst);
    CHECK_MSG(bad == 0, "%s gradient differs from finite differences", what);
    free(out);
}

/* ---- dense -------------------------------------------------------------------------------- */
typedef struct { mt_mm *m; double *in, *W, *b; int B, K, N; } dense_ctx;
static void dense_fwd(void *c, double *out) {
    dense_ctx *d = c;
    CHECK(mt_dense_forward(d->m, out, d->in, d->W, d->b, d->B, d->K, d->N) == MTREC_OK);
}

static void dense_case(int B, int K, int N) {
    dense_ctx d = {NULL, dalloc((size_t)B * K), dalloc((size_t)K * N), dalloc(N), B, K, N};
    CHECK(mt_mm_create(1, 0, &d.m, NULL) == MTREC_OK);
    fill(d.in, (size_t)B * K, -1, 1); fill(d.W, (size_t)K * N, -1, 1); fill(d.b, N, -1, 1);
    double *R = dalloc((size_t)B * N), *out = dalloc((size_t)B * N);
    fill(R, (size_t)B * N, -1, 1);
    double *din0 = dalloc((size_t)B * K), *dW0 = dalloc((size_t)K * N), *db0 = dalloc(N);
    fill(din0, (size_t)B * K, -1, 1); fill(dW0, (size_t)K * N, -1, 1); fill(db0, N, -1, 1);
    double *din = dcopy(din0, (size_t)B * K), *dW = dcopy(dW0, (size_t)K * N), *db = dcopy(db0, N);
    /* forward against loops written here */
    dense_fwd(&d, out);
    double maxe = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) {
            double s = d.b[j];
            for (int k = 0; k < K; k++) s += d.in[i * K + k] * d.W[k * N + j];
            maxe = fmax(maxe, fabs(out[i * N + j] - s));
        }
    CHECK_NEAR(maxe, 0, 1e-12);
    for (int rep = 0; rep < 2; rep++)
        CHECK(mt_dense_backward(d.m, din, dW, db, R, d.in, d.W, B, K, N) == MTREC_OK);
    check_fd("dense dX", dense_fwd, &d, (size_t)B * N, R, d.in, (size_t)B * K, din, din0);
    check_fd("dense dW", dense_fwd, &d, (size_t)B * N, R, d.W, (size_t)K * N, dW, dW0);
    check_fd("dense db", dense_fwd, &d, (size_t)B * N, R, d.b, N, db, db0);
    /* NULL input gradient: parameter gradients unaffected */
    double *dW2 = dcopy(dW0, (size_t)K * N);
    CHECK(mt_dense_backward(d.m, NULL, dW2, NULL, R, d.in, d.W, B, K, N) == MTREC_OK);
    CHECK(mt_dense_backward(d.m, NULL, dW2, NULL, R, d.in, d.W, B, K, N) == MTREC_OK);
    maxe = 0;
    for (int i = 0; i < K * N; i++) maxe = fmax(maxe, fabs(dW2[i] - dW[i]));
    CHECK_NEAR(maxe, 0, 1e-12);
    mt_mm_free(d.m);
    free(d.in); free(d.W); free(d.b); free(R); free(out);
    free(din0); free(dW0); free(db0); free(din); free(dW); free(db); free(dW2);
}

static void test_dense(void) {
    dense_case(5, 7, 3);
    dense_case(1, 4, 6);
    dense_case(9, 1, 1);
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    CHECK_CONTAINS(mt_mm_backend_name(m), "double");
    CHECK(mt_mm_uses_bf16(m) == 0);
    mt_mm_free(m);
}

/* the one-column dense (a tower's output layer) */
typedef struct { double *in, *w, *b; int B, K; } dense1_ctx;
static void dense1_fwd(void *c, double *out) {
    dense1_ctx *d = c;
    mt_dense1_forward(out, d->in, d->w, d->b, d->B, d->K);
}

static void test_dense1(void) {
    const int shapes[][2] = {{5, 7}, {1, 3}, {33, 32}};
    for (int q = 0; q < 3; q++) {
        int B = shapes[q][0], K = shapes[q][1];
        dense1_ctx d = {dalloc((size_t)B * K), dalloc(K), dalloc(1), B, K};
        fill(d.in, (size_t)B * K, -1, 1); fill(d.w, K, -1, 1); fill(d.b, 1, -1, 1);
        double *R = dalloc(B), *out = dalloc(B);
        fill(R, B, -1, 1);
        dense1_fwd(&d, out);
        double maxe = 0;
        for (int i = 0; i < B; i++) {
            double s = d.b[0];
            for (int k = 0; k < K; k++) s += d.in[i * K + k] * d.w[k];
            maxe = fmax(maxe, fabs(out[i] - s));
        }
        CHECK_NEAR(maxe, 0, 1e-12);
        double *din0 = dalloc((size_t)B * K), *dw0 = dalloc(K), *db0 = dalloc(1);
        fill(din0, (size_t)B * K, -1, 1); fill(dw0, K, -1, 1); fill(db0, 1, -1, 1);
        double *din = dcopy(din0, (size_t)B * K), *dw = dcopy(dw0, K), *db = dcopy(db0, 1);
        for (int rep = 0; rep < 2; rep++) mt_dense1_backward(din, dw, db, R, d.in, d.w, B, K);
        check_fd("dense1 dX", dense1_fwd, &d, B, R, d.in, (size_t)B * K, din, din0);
        check_fd("dense1 dw", dense1_fwd, &d, B, R, d.w, K, dw, dw0);
        check_fd("dense1 db", dense1_fwd, &d, B, R, d.b, 1, db, db0);
        mt_dense1_backward(NULL, NULL, NULL, R, d.in, d.w, B, K);  /* all gradients optional */
        free(d.in); free(d.w); free(d.b); free(R); free(out); free(din0); free(dw0); free(db0);
        free(din); free(dw); free(db);
    }
}

/* ---- batch norm --------------------------------------------------------------------------- */
typedef struct { double *in, *gamma, *beta, *mean, *rstd; int B, N; double eps; } bn_ctx;
static void bn_fwd(void *c, double *out) {
    bn_ctx *b = c;
    mt_bn_forward_train(out, b->mean, b->rstd, b->in, b->gamma, b->beta, NULL, NULL, b->B, b->N,
                        0.99, b->eps);
}

static void bn_case(int B, int N) {
    bn_ctx c = {dalloc((size_t)B * N), dalloc(N), dalloc(N), dalloc(N), dalloc(N), B, N, 1e-3};
    fill(c.in, (size_t)B * N, -2, 2); fill(c.gamma, N, 0.5, 1.5); fill(c.beta, N, -1, 1);
    size_t n = (size_t)B * N;
    double *R = dalloc(n), *out = dalloc(n);
    fill(R, n, -1, 1);
    double *din0 = dalloc(n), *dg0 = dalloc(N), *dbt0 = dalloc(N);
    fill(din0, n, -1, 1); fill(dg0, N, -1, 1); fill(dbt0, N, -1, 1);
    double *din = dcopy(din0, n), *dg = dcopy(dg0, N), *dbt = dcopy(dbt0, N);
    bn_fwd(&c, out);
    for (int rep = 0; rep < 2; rep++)
        mt_bn_backward(din, dg, dbt, R, c.in, c.mean, c.rstd, c.gamma, B, N);
    char name[64];
    snprintf(name, sizeof name, "bn dX B=%d", B);
    check_fd(name, bn_fwd, &c, n, R, c.in, n, din, din0);
    snprintf(name, sizeof name, "bn dgamma B=%d", B);
    check_fd(name, bn_fwd, &c, n, R, c.gamma, N, dg, dg0);
    snprintf(name, sizeof name, "bn dbeta B=%d", B);
    check_fd(name, bn_fwd, &c, n, R, c.beta, N, dbt, dbt0);
    free(c.in); free(c.gamma); free(c.beta); free(c.mean); free(c.rstd); free(R); free(out);
    free(din0); free(dg0); free(dbt0); free(din); free(dg); free(dbt);
}

static void test_bn_grad(void) {
    bn_case(1, 5);
    bn_case(4, 5);
    bn_case(33, 5);
    bn_case(3, 70); /* more than one column block */
}

/* Batch statistics, moving updates and inference against hand computation. */
static void test_bn_stats(void) {
    enum { B = 6, N = 67 };
    double in[B * N], g[N], bt[N], mm[N], mv[N], mm0[N], mv0[N], mean[N], rstd[N];
    double out[B * N], inf[B * N];
    fill(in, B * N, -3, 5); fill(g, N, 0.5, 2); fill(bt, N, -1, 1);
    fill(mm0, N, -1, 1); fill(mv0, N, 0.5, 2);
    memcpy(mm, mm0, sizeof mm); memcpy(mv, mv0, sizeof mv);
    const double mom = 0.99, eps = 1e-3;
    mt_bn_forward_train(out, mean, rstd, in, g, bt, mm, mv, B, N, mom, eps);
    double e_out = 0, e_stat = 0, e_mov = 0, e_inf = 0;
    for (int j = 0; j < N; j++) {
        double s = 0, v = 0;
        for (int i = 0; i < B; i++) s += in[i * N + j];
        s /= B;
        for (int i = 0; i < B; i++) v += (in[i * N + j] - s) * (in[i * N + j] - s);
        v /= B; /* biased */
        e_stat = fmax(e_stat, fabs(mean[j] - s) + fabs(rstd[j] - 1 / sqrt(v + eps)));
        e_mov = fmax(e_mov, fabs(mm[j] - (mom * mm0[j] + (1 - mom) * s)));
        e_mov = fmax(e_mov, fabs(mv[j] - (mom * mv0[j] + (1 - mom) * v)));
        for (int i = 0; i < B; i++)
            e_out = fmax(e_out, fabs(out[i * N + j] -
                                     (g[j] * (in[i * N + j] - s) / sqrt(v + eps) + bt[j])));
    }
    CHECK_NEAR(e_stat, 0, 1e-12);
    CHECK_NEAR(e_mov, 0, 1e-12);
    CHECK_NEAR(e_out, 0, 1e-12);
    mt_bn_forward_infer(inf, in, g, bt, mm, mv, B, N, eps);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < B; i++)
            e_inf = fmax(e_inf, fabs(inf[i * N + j] -
                                     (g[j] * (in[i * N + j] - mm[j]) / sqrt(mv[j] + eps) + bt[j])));
    CHECK_NEAR(e_inf, 0, 1e-12);
    /* EasyRec's MMoE experts: moving 0/1 never updated -> gamma x / sqrt(1 + eps) + beta */
    double z[N], o[N], x1[N];
    for (int j = 0; j < N; j++) { z[j] = 0; o[j] = 1; }
    fill(x1, N, -1, 1);
    mt_bn_forward_infer(inf, x1, g, bt, z, o, 1, N, eps);
    CHECK_NEAR(inf[3], g[3] * x1[3] / sqrt(1 + eps) + bt[3], 1e-12);
    /* B = 1: variance 0, rstd = 1/sqrt(eps), output = beta */
    mt_bn_forward_train(out, mean, rstd, in, g, bt, NULL, NULL, 1, N, mom, eps);
    CHECK_NEAR(rstd[5], 1 / sqrt(eps), 1e-9);
    CHECK_NEAR(out[5], bt[5], 1e-12);
    CHECK_NEAR(mean[5], in[5], 1e-15);
}

/* ---- activations -------------------------------------------------------------------------- */
typedef struct { mt_activation a; double *in; int64_t n; } act_ctx;
static void act_fwd(void *c, double *out) {
    act_ctx *a = c;
    mt_act_forward(a->a, out, a->in, a->n);
}

static void test_act_grad(void) {
    static const char *names[] = {"relu", "leaky_relu", "elu", "selu", "tanh",
                                  "sigmoid", "swish", "gelu", "linear"};
    const mt_activation acts[] = {MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_ELU, MT_ACT_SELU,
                                  MT_ACT_TANH, MT_ACT_SIGMOID, MT_ACT_SWISH, MT_ACT_GELU,
                                  MT_ACT_LINEAR};
    enum { n = 64 };
    for (size_t k = 0; k < MT_ARRAY_LEN(acts); k++) {
        act_ctx c = {acts[k], dalloc(n), n};
        fill(c.in, n, -4, 4);
        for (int i = 0; i < n; i++) /* keep away from the kink at 0 */
            if (fabs(c.in[i]) < 0.05) c.in[i] = c.in[i] < 0 ? -0.05 - c.in[i] : 0.05 + c.in[i];
        double R[n], out[n], g0[n], g[n];
        fill(R, n, -1, 1);
        fill(g0, n, -1, 1);
        memcpy(g, g0, sizeof g);
        act_fwd(&c, out);
        mt_act_backward(acts[k], g, R, c.in, out, n);
        mt_act_backward(acts[k], g, R, c.in, out, n);
        check_fd(names[k], act_fwd, &c, n, R, c.in, n, g, g0);
        /* in place gives the same values */
        double ip[n];
        memcpy(ip, c.in, sizeof ip);
        mt_act_forward(acts[k], ip, ip, n);
        CHECK(memcmp(ip, out, sizeof ip) == 0);
        free(c.in);
    }
}

/* Values at known points (mathematical constants, not outputs of this code). */
static void test_act_values(void) {
    double x[6] = {-1, 1, 0, -1000, 1000, 2}, y[6];
    mt_act_forward(MT_ACT_RELU, y, x, 6);
    CHECK(y[0] == 0 && y[1] == 1 && y[2] == 0 && y[5] == 2);
    mt_act_forward(MT_ACT_LEAKY_RELU, y, x, 6);
    CHECK_NEAR(y[0], -0.2, 1e-15);
    CHECK_NEAR(y[5], 2, 1e-15);
    mt_act_forward(MT_ACT_ELU, y, x, 6);
    CHECK_NEAR(y[0], exp(-1) - 1, 1e-15);
    CHECK_NEAR(y[1], 1, 1e-15);
    mt_act_forward(MT_ACT_SELU, y, x, 6);
    CHECK_NEAR(y[0], -1.1113307378125628, 1e-12); /* scale*alpha*(e^-1 - 1) */
    CHECK_NEAR(y[1], 1.0507009873554805, 1e-12);
    mt_act_forward(MT_ACT_SIGMOID, y, x, 6);
    CHECK_NEAR(y[2], 0.5, 1e-15);
    CHECK_NEAR(y[1], 0.7310585786300049, 1e-12);
    CHECK(y[3] >= 0 && y[3] < 1e-300 && y[4] == 1); /* no overflow, no NaN */
    mt_act_forward(MT_ACT_SWISH, y, x, 6);
    CHECK_NEAR(y[1], 0.7310585786300049, 1e-12);
    CHECK_NEAR(y[0], -0.2689414213699951, 1e-12);
    CHECK(y[3] == 0 || fabs(y[3]) < 1e-300);
    mt_act_forward(MT_ACT_GELU, y, x, 6);
    CHECK_NEAR(y[1], 0.8413447460685429, 1e-12); /* Phi(1): exact erf form */
    CHECK_NEAR(y[0], -0.15865525393145707, 1e-12);
    CHECK_NEAR(y[5], 2 * 0.9772498680518208, 1e-12);
    mt_act_forward(MT_ACT_TANH, y, x, 6);
    CHECK_NEAR(y[1], 0.7615941559557649, 1e-12);
    mt_act_forward(MT_ACT_LINEAR, y, x, 6);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

/* ---- dropout ------------------------------------------------------------------------------ */
typedef struct { double *in, *mask; int64_t n; } drop_ctx;
static void drop_fwd(void *c, double *out) { /* fixed mask: out = in * mask */
    drop_ctx *d = c;
    for (int64_t i = 0; i < d->n; i++) out[i] = d->in[i] * d->mask[i];
}

static void test_dropout(void) {
    enum { n = 20000 };
    double *in = dalloc(n), *out = dalloc(n), *mask = dalloc(n);
    fill(in, n, -1, 1);
    mt_rng r;
    mt_rng_seed(&r, 99);
    const double ratio = 0.3;
    mt_dropout_forward(out, mask, in, n, ratio, &r);
    int kept = 0, badm = 0, bado = 0;
    for (int i = 0; i < n; i++) {
        if (mask[i] != 0) kept++;
        if (!(mask[i] == 0 || fabs(mask[i] - 1 / (1 - ratio)) < 1e-15)) badm++;
        if (fabs(out[i] - in[i] * mask[i]) > 1e-15) bado++;
    }
    CHECK(badm == 0 && bado == 0);
    CHECK_NEAR((double)kept / n, 1 - ratio, 0.02);
    /* same seed, same mask */
    double *mask2 = dalloc(n);
    mt_rng_seed(&r, 99);
    mt_dropout_forward(out, mask2, in, n, ratio, &r);
    CHECK(memcmp(mask, mask2, n * sizeof *mask) == 0);
    /* gradient with the mask fixed */
    enum { m = 50 };
    drop_ctx c = {in, mask, m};
    double R[m], g0[m], g[m];
    fill(R, m, -1, 1); fill(g0, m, -1, 1);
    memcpy(g, g0, sizeof g);
    mt_dropout_backward(g, R, mask, m);
    mt_dropout_backward(g, R, mask, m);
    check_fd("dropout", drop_fwd, &c, m, R, in, m, g, g0);
    /* ratio 0: copy, mask 1 */
    mt_dropout_forward(out, mask2, in, n, 0, &r);
    CHECK(memcmp(out, in, n * sizeof *in) == 0 && mask2[0] == 1 && mask2[n - 1] == 1);
    free(in); free(out); free(mask); free(mask2);
}

/* The masks are drawn on every thread in blocks: the same mask at 1 and 2 threads and for an
 * odd length; consecutive calls, and neighbouring elements, independent; the kept fraction
 * right to a few standard errors for several ratios. */
static void test_dropout_stream(void) {
    enum { n = 1000001 };  /* odd: the last block and the last pair are partial */
    double *in = dalloc(n), *out = dalloc(n), *m1 = dalloc(n), *m2 = dalloc(n), *m3 = dalloc(n);
    fill(in, n, -1, 1);
    const double ratios[] = {0.05, 0.3, 0.5, 0.9};
    for (int q = 0; q < 4; q++) {
        double ratio = ratios[q];
        mt_rng r;
        mt_rng_seed(&r, 7 + (uint64_t)q);
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        mt_dropout_forward(out, m1, in, n, ratio, &r);
        mt_dropout_forward(out, m3, in, n, ratio, &r);  /* next call: a new mask */
        mt_rng_seed(&r, 7 + (uint64_t)q);
        omp_set_num_threads(2);
        mt_dropout_forward(out, m2, in, n, ratio, &r);
        omp_set_num_threads(nt);
        CHECK_MSG(memcmp(m1, m2, n * sizeof *m1) == 0, "ratio %g: 2 threads drew another mask", ratio);
        int64_t kept = 0, both = 0, same_next = 0;
        for (int64_t i = 0; i < n; i++) {
            kept += m1[i] != 0;
            both += (m1[i] != 0) == (m3[i] != 0);
            if (i + 1 < n) same_next += (m1[i] != 0) == (m1[i + 1] != 0);
        }
        double p = 1 - ratio, se = sqrt(p * (1 - p) / n);
        double agree = p * p + (1 - p) * (1 - p);  /* P(two independent draws agree) */
        double se2 = sqrt(agree * (1 - agree) / n);
        CHECK_MSG(fabs((double)kept / n - p) < 5 * se, "ratio %g: kept %.5f", ratio, (double)kept / n);
        CHECK_MSG(fabs((double)both / n - agree) < 5 * se2, "ratio %g: two calls agree on %.5f", ratio,
                  (double)both / n);
        CHECK_MSG(fabs((double)same_next / (n - 1) - agree) < 5 * se2, "ratio %g: neighbours agree on %.5f",
                  ratio, (double)same_next / (n - 1));
    }
    free(in); free(out); free(m1); free(m2); free(m3);
}

/* ---- softmax ------------------------------------------------------------------------------ */
typedef struct { double *in; int B, N; } sm_ctx;
static void sm_fwd(void *c, double *out) {
    sm_ctx *s = c;
    mt_softmax_forward(out, s->in, s->B, s->N);
}

static void test_softmax(void) {
    enum { B = 4, N = 6 };
    double in[B * N], out[B * N], R[B * N], g0[B * N], g[B * N];
    fill(in, B * N, -3, 3); fill(R, B * N, -1, 1); fill(g0, B * N, -1, 1);
    memcpy(g, g0, sizeof g);
    sm_ctx c = {in, B, N};
    sm_fwd(&c, out);
    for (int i = 0; i < B; i++) {
        double s = 0, z = 0;
        for (int j = 0; j < N; j++) z += exp(in[i * N + j]);
        for (int j = 0; j < N; j++) {
            s += out[i * N + j];
            CHECK_NEAR(out[i * N + j], exp(in[i * N + j]) / z, 1e-14);
        }
        CHECK_NEAR(s, 1, 1e-14);
    }
    mt_softmax_backward(g, R, out, B, N);
    mt_softmax_backward(g, R, out, B, N);
    check_fd("softmax", sm_fwd, &c, B * N, R, in, B * N, g, g0);
    double big[3] = {1000, 1001, 999}, o3[3];
    mt_softmax_forward(o3, big, 1, 3);
    CHECK_NEAR(o3[1], 1 / (1 + exp(-1) + exp(-2)), 1e-12);
    mt_softmax_forward(big, big, 1, 3); /* in place */
    CHECK_NEAR(big[1], o3[1], 0);
}

/* ---- MMoE mix ----------------------------------------------------------------------------- */
enum { MB = 3, ME = 4, MD = 5 };
typedef struct { double *gate; double *ex[ME]; } mix_ctx;
static void mix_fwd(void *c, double *out) {
    mix_ctx *m = c;
    mt_mix_forward(out, m->gate, (const double *const *)m->ex, MB, ME, MD);
}

static void test_mix(void) {
    mix_ctx c;
    c.gate = dalloc(MB * ME);
    fill(c.gate, MB * ME, 0, 1);
    double *dex[ME], *dex0[ME];
    for (int e = 0; e < ME; e++) {
        c.ex[e] = dalloc(MB * MD);
        fill(c.ex[e], MB * MD, -1, 1);
        dex0[e] = dalloc(MB * MD);
        fill(dex0[e], MB * MD, -1, 1);
        dex[e] = dcopy(dex0[e], MB * MD);
    }
    double R[MB * MD], out[MB * MD], dg0[MB * ME], dg[MB * ME];
    fill(R, MB * MD, -1, 1); fill(dg0, MB * ME, -1, 1);
    memcpy(dg, dg0, sizeof dg);
    mix_fwd(&c, out);
    double maxe = 0;
    for (int b = 0; b < MB; b++)
        for (int j = 0; j < MD; j++) {
            double s = 0;
            for (int e = 0; e < ME; e++) s += c.gate[b * ME + e] * c.ex[e][b * MD + j];
            maxe = fmax(maxe, fabs(out[b * MD + j] - s));
        }
    CHECK_NEAR(maxe, 0, 1e-14);
    for (int rep = 0; rep < 2; rep++)
        mt_mix_backward(dg, dex, R, c.gate, (const double *const *)c.ex, MB, ME, MD);
    check_fd("mix dgate", mix_fwd, &c, MB * MD, R, c.gate, MB * ME, dg, dg0);
    for (int e = 0; e < ME; e++) {
        char name[32];
        snprintf(name, sizeof name, "mix dexpert %d", e);
        check_fd(name, mix_fwd, &c, MB * MD, R, c.ex[e], MB * MD, dex[e], dex0[e]);
    }
    /* NULL gradients allowed */
    mt_mix_backward(NULL, NULL, R, c.gate, (const double *const *)c.ex, MB, ME, MD);
    double dg2[MB * ME];
    memcpy(dg2, dg0, sizeof dg2);
    mt_mix_backward(dg2, NULL, R, c.gate, (const double *const *)c.ex, MB, ME, MD);
    CHECK_NEAR(dg2[5] - dg0[5], (dg[5] - dg0[5]) / 2, 1e-14);
    free(c.gate);
    for (int e = 0; e < ME; e++) { free(c.ex[e]); free(dex[e]); free(dex0[e]); }
}

/* ---- column copies ------------------------------------------------------------------------ */
typedef struct { double *src; } cc_ctx;
static void cc_fwd(void *c, double *out) { /* out[3,8] = zeros with src[3,5] cols 1..3 at 4.. */
    cc_ctx *k = c;
    memset(out, 0, 3 * 8 * sizeof *out);
    mt_copy_cols(out, 8, 4, k->src, 5, 1, 3, 3);
}

static void test_cols(void) {
    double src[15], dst[24], R[24], g0[15], g[15];
    fill(src, 15, -1, 1); fill(R, 24, -1, 1); fill(g0, 15, -1, 1);
    cc_ctx c = {src};
    cc_fwd(&c, dst);
    int bad = 0;
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 8; j++)
            bad += dst[b * 8 + j] != (j >= 4 && j < 7 ? src[b * 5 + 1 + j - 4] : 0);
    CHECK(bad == 0);
    /* backward of a column copy is add_cols in the other direction */
    memcpy(g, g0, sizeof g);
    mt_add_cols(g, 5, 1, R, 8, 4, 3, 3);
    mt_add_cols(g, 5, 1, R, 8, 4, 3, 3);
    check_fd("copy_cols/add_cols", cc_fwd, &c, 24, R, src, 15, g, g0);
}

/* ---- embedding bag ------------------------------------------------------------------------ */
enum { ER = 20, EDIM = 4, EB = 6 };
/* bags: {3,7,3}, {}, {7}, {0,19,5,-1}, {11,11}, {2,4} */
static const int32_t e_off[EB + 1] = {0, 3, 3, 4, 8, 10, 12};
static const int64_t e_ids[12] = {3, 7, 3, 7, 0, 19, 5, -1, 11, 11, 2, 4};
typedef struct { double *table; const double *w; mt_combiner comb; } eb_ctx;
static void eb_fwd(void *c, double *out) { /* writes columns 2..5 of a [EB,7] buffer */
    eb_ctx *k = c;
    memset(out, 0, EB * 7 * sizeof *out);
    mt_embbag_forward(out, 7, 2, k->table, EDIM, e_off, e_ids, k->w, EB, k->comb);
}

static void emb_case(mt_combiner comb, const double *w, const char *what) {
    eb_ctx c = {dalloc(ER * EDIM), w, comb};
    fill(c.table, ER * EDIM, -1, 1);
    double out[EB * 7], R[EB * 7];
    fill(R, EB * 7, -1, 1);
    eb_fwd(&c, out);
    /* forward against a loop written here (TF safe lookup: drop id < 0 and weight <= 0) */
    double maxe = 0;
    for (int b = 0; b < EB; b++)
        for (int j = 0; j < EDIM; j++) {
            double s = 0, den = 0;
            for (int k = e_off[b]; k < e_off[b + 1]; k++) {
                double wk = w ? w[k] : 1;
                if (e_ids[k] < 0 || wk <= 0) continue;
                s += wk * c.table[e_ids[k] * EDIM + j];
                den += wk;
            }
            if (comb == MT_COMBINER_MEAN && den > 0) s /= den;
            maxe = fmax(maxe, fabs(out[b * 7 + 2 + j] - s));
        }
    CHECK_MSG(maxe < 1e-14, "%s forward err %g", what, maxe);
    CHECK(out[0] == 0 && out[1] == 0 && out[6] == 0); /* outside the segment untouched */
    mt_sparse_grad g;
    CHECK(mt_sparse_grad_init(&g, EDIM, 2, NULL) == MTREC_OK);
    for (int rep = 0; rep < 2; rep++)
        CHECK(mt_embbag_backward(&g, R, 7, 2, EDIM, e_off, e_ids, w, EB, comb) == MTREC_OK);
    /* dense view of the sparse gradient; untouched rows must have no slot */
    double *dense = dalloc(ER * EDIM);
    int touched[ER] = {0};
    for (int s = 0; s < g.n; s++) {
        CHECK(g.rows[s] >= 0 && g.rows[s] < ER);
        CHECK(!touched[g.rows[s]]); /* distinct rows */
        touched[g.rows[s]] = 1;
        for (int j = 0; j < EDIM; j++) dense[g.rows[s] * EDIM + j] = g.grad[s * EDIM + j];
    }
    for (int r = 0; r < ER; r++) {
        int used = 0;
        for (int k = 0; k < 12; k++) used |= e_ids[k] == r && (!w || w[k] > 0);
        CHECK_MSG(used == touched[r], "%s row %d: used %d, slot %d", what, r, used, touched[r]);
    }
    check_fd(what, eb_fwd, &c, EB * 7, R, c.table, ER * EDIM, dense, NULL);
    mt_sparse_grad_free(&g);
    free(c.table);
    free(dense);
}

static void test_embbag(void) {
    emb_case(MT_COMBINER_SUM, NULL, "embbag sum");
    emb_case(MT_COMBINER_MEAN, NULL, "embbag mean");
    const double w[12] = {0.5, 2, 1.5, 3, 0.25, 0, 1, 1, -2, 0.7, 1.2, 0.8};
    emb_case(MT_COMBINER_SUM, w, "embbag weighted sum");
    emb_case(MT_COMBINER_MEAN, w, "embbag weighted mean");
    /* TF's documented example: mean = (2 p1 + 0.5 p3) / 2.5 */
    double table[4 * 2] = {0, 0, 1, 10, 0, 0, 3, 30}, out[2];
    const int32_t off[2] = {0, 2};
    const int64_t ids[2] = {1, 3};
    const double ww[2] = {2.0, 0.5};
    mt_embbag_forward(out, 2, 0, table, 2, off, ids, ww, 1, MT_COMBINER_MEAN);
    CHECK_NEAR(out[0], (2 * 1 + 0.5 * 3) / 2.5, 1e-15);
    CHECK_NEAR(out[1], (2 * 10 + 0.5 * 30) / 2.5, 1e-15);
}

/* Hash structure: growth past the initial capacity, first-touch order, O(n) reset. */
static void test_sparse_grad(void) {
    mt_sparse_grad g;
    CHECK(mt_sparse_grad_init(&g, 0, 16, NULL) == MTREC_ERR_ARG);
    CHECK(mt_sparse_grad_init(&g, 3, 16, NULL) == MTREC_OK);
    int cap0 = g.cap;
    enum { n = 1000 };
    int64_t keys[n];
    int bad = 0;
    for (int i = 0; i < n; i++) {
        keys[i] = (int64_t)i * 7919 + ((int64_t)1 << 40) * (i % 3); /* colliding-ish */
        int s = mt_sparse_grad_slot(&g, keys[i]);
        bad += s != i;
        g.grad[(size_t)s * 3 + 1] = (double)i;
    }
    CHECK(bad == 0);
    CHECK(g.n == n && g.cap >= n && g.cap > cap0 && g.hcap >= 2 * g.cap);
    CHECK((g.hcap & (g.hcap - 1)) == 0);
    bad = 0;
    for (int i = 0; i < n; i++) {
        int s = mt_sparse_grad_slot(&g, keys[i]);
        bad += s != i || g.rows[s] != keys[i] || g.grad[(size_t)s * 3 + 1] != (double)i;
    }
    CHECK(bad == 0 && g.n == n);
    int cap1 = g.cap;
    mt_sparse_grad_reset(&g);
    CHECK(g.n == 0 && g.cap == cap1);
    int empty = 0;
    for (int i = 0; i < g.hcap; i++) empty += g.hkeys[i] == -1;
    CHECK(empty == g.hcap);
    /* after reset: new rows get fresh zeroed slots from 0, old rows are gone */
    CHECK(mt_sparse_grad_slot(&g, keys[500]) == 0);
    CHECK(g.grad[0] == 0 && g.grad[1] == 0 && g.grad[2] == 0);
    CHECK(mt_sparse_grad_slot(&g, 5) == 1);
    CHECK(mt_sparse_grad_slot(&g, keys[500]) == 0);
    CHECK(g.n == 2 && g.cap == cap1);
    CHECK(mt_sparse_grad_slot(&g, -3) == -1);
    mt_sparse_grad_reset(&g);
    mt_sparse_grad_reset(&g);
    CHECK(g.n == 0);
    mt_sparse_grad_free(&g);
    mt_sparse_grad_free(&g);
    CHECK(g.rows == NULL);
}

int main(void) {
    mt_rng_seed(&g_rng, 12345);
    RUN(test_dense);
    RUN(test_dense1);
    RUN(test_bn_grad);
    RUN(test_bn_stats);
    RUN(test_act_grad);
    RUN(test_act_values);
    RUN(test_dropout);
    RUN(test_dropout_stream);
    RUN(test_softmax);
    RUN(test_mix);
    RUN(test_cols);
    RUN(test_embbag);
    RUN(test_sparse_grad);
    return test_summary();
}
