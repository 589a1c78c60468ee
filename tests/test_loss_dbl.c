/* test_loss_dbl.c: model/loss.c in double precision (MT_DOUBLE): hand values, TF's
 * SUM_BY_NONZERO_WEIGHTS reduction, central finite-difference gradients for every loss,
 * and the pairwise loss against an independent brute-force reference. */
#include <stdint.h>
#include <string.h>

#include "model/loss.h"
#include "test.h"
#include "util/rng.h"

#ifndef MT_DOUBLE
#error "test_loss_dbl.c must be built with -DMT_DOUBLE"
#endif

static mt_loss_args args(mt_loss_type t, int C, const mt_real *x, const mt_real *y,
                         const mt_real *w, int B) {
    mt_loss_args a;
    memset(&a, 0, sizeof a);
    a.type = t;
    a.num_class = C;
    a.logits = x;
    a.label = y;
    a.weight = w;
    a.temperature = 1;
    a.B = B;
    return a;
}

static void test_hand_values(void) {
    mt_real x0[1] = {0}, y1[1] = {1}, y0[1] = {0};
    mt_loss_args a = args(MT_LOSS_CLASSIFICATION, 1, x0, y1, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(2.0), 1e-15);
    mt_real x2[1] = {2};
    a = args(MT_LOSS_CLASSIFICATION, 1, x2, y0, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(1 + exp(2.0)), 1e-14);
    /* huge logits stay finite (stable form) */
    mt_real xb[2] = {800, -800}, yb[2] = {0, 1};
    a = args(MT_LOSS_CLASSIFICATION, 1, xb, yb, NULL, 2);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), 800.0, 1e-9);
    /* gradient of sigmoid CE at 0 with label 1 is -1/2 */
    mt_real d[1] = {0};
    a = args(MT_LOSS_CLASSIFICATION, 1, x0, y1, NULL, 1);
    mt_loss_eval(&a, 1, d);
    CHECK_NEAR(d[0], -0.5, 1e-15);

    mt_real u[3] = {0.3, 0.3, 0.3}, c1[1] = {1};
    a = args(MT_LOSS_CLASSIFICATION, 3, u, c1, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(3.0), 1e-14);
    mt_real v[3] = {1, 2, 3}, c2[1] = {2};
    a = args(MT_LOSS_CLASSIFICATION, 3, v, c2, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0, 1e-14);

    mt_real x3[2] = {3, -1}, y3[2] = {1, 1};
    a = args(MT_LOSS_L2, 1, x3, y3, NULL, 2);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), (4.0 + 4.0) / 2, 1e-14);
    a = args(MT_LOSS_SIGMOID_L2, 1, x0, y1, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), 0.25, 1e-15);
    a = args(MT_LOSS_CROSS_ENTROPY, 1, x0, y1, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), -log(0.5 + 1e-7), 1e-15);
    /* log_loss epsilon: a confidently wrong prediction costs -log(1e-7 + ~0) */
    mt_real x40[1] = {-40};
    a = args(MT_LOSS_CROSS_ENTROPY, 1, x40, y1, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), -log(1e-7 + 1 / (1 + exp(40.0))), 1e-9);
    mt_real x40p[1] = {40};
    a = args(MT_LOSS_CROSS_ENTROPY, 1, x40p, y0, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), -log(1e-7 + 1 / (1 + exp(40.0))), 1e-9);
    /* soft label 0.3 at logit 1 */
    mt_real x1[1] = {1}, y03[1] = {0.3};
    double p1 = 1 / (1 + exp(-1.0));
    a = args(MT_LOSS_CROSS_ENTROPY, 1, x1, y03, NULL, 1);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), -0.3 * log(p1 + 1e-7) - 0.7 * log(1 - p1 + 1e-7), 1e-14);

    mt_real px[2] = {0, 0}, py[2] = {1, 0};
    a = args(MT_LOSS_PAIR_WISE, 1, px, py, NULL, 2);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(2.0), 1e-15);
    a.margin = 1;
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), log(1 + exp(1.0)), 1e-14);
}

/* Weighted reduction: sum w*l / #(w != 0); masked samples leave both sums. */
static void test_reduction(void) {
    mt_real x[4] = {0.5, -1.0, 2.0, 0.1}, y[4] = {1, 0, 0, 1}, w[4] = {2, 0, 0.5, 1};
    double l[4];
    for (int i = 0; i < 4; i++) {
        mt_loss_args one = args(MT_LOSS_CLASSIFICATION, 1, x + i, y + i, NULL, 1);
        l[i] = mt_loss_eval(&one, 1, NULL);
    }
    mt_loss_args a = args(MT_LOSS_CLASSIFICATION, 1, x, y, w, 4);
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), (2 * l[0] + 0.5 * l[2] + l[3]) / 3.0, 1e-14);
    /* no weights = mean */
    a.weight = NULL;
    CHECK_NEAR(mt_loss_eval(&a, 1, NULL), (l[0] + l[1] + l[2] + l[3]) / 4.0, 1e-14);
    /* masked sample: no gradient; accumulation adds to what is there */
    mt_real d[4] = {10, 10, 10, 10};
    a.weight = w;
    mt_loss_eval(&a, 1, d);
    CHECK(d[1] == 10);
    CHECK_NEAR(d[0] - 10, 2 * (1 / (1 + exp(-0.5)) - 1) / 3.0, 1e-14);
    /* scale multiplies the gradient, not the value */
    mt_real d2[4] = {0};
    double v = mt_loss_eval(&a, -0.5, d2);
    CHECK_NEAR(v, (2 * l[0] + 0.5 * l[2] + l[3]) / 3.0, 1e-14);
    CHECK_NEAR(d2[0], -0.5 * (d[0] - 10), 1e-14);
    /* all-zero weights: 0 loss, 0 gradient, for every loss type */
    mt_real z[4] = {0};
    mt_loss_type types[] = {MT_LOSS_CLASSIFICATION, MT_LOSS_L2, MT_LOSS_SIGMOID_L2,
                            MT_LOSS_CROSS_ENTROPY, MT_LOSS_PAIR_WISE};
    for (size_t k = 0; k < MT_ARRAY_LEN(types); k++) {
        mt_real dz[4] = {0};
        a = args(types[k], 1, x, y, z, 4);
        CHECK(mt_loss_eval(&a, 1, dz) == 0.0);
        CHECK(dz[0] == 0 && dz[1] == 0 && dz[2] == 0 && dz[3] == 0);
    }
    /* empty batch */
    a = args(MT_LOSS_L2, 1, x, y, NULL, 0);
    CHECK(mt_loss_eval(&a, 1, NULL) == 0.0);
}

/* Central differences of mt_loss_eval against its analytic gradient. Returns the largest
 * |analytic - numeric| / (1e-6 + |numeric|). */
static double grad_check(mt_loss_args a, mt_real scale) {
    int n = a.B * a.num_class;
    mt_real *x = malloc((size_t)n * sizeof *x), *d = malloc((size_t)n * sizeof *d);
    memcpy(x, a.logits, (size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) d[i] = 0.25; /* accumulation base */
    a.logits = x;
    mt_loss_eval(&a, scale, d);
    double worst = 0, h = 1e-5;
    for (int i = 0; i < n; i++) {
        mt_real keep = x[i];
        x[i] = keep + h;
        double lp = mt_loss_eval(&a, 1, NULL);
        x[i] = keep - h;
        double lm = mt_loss_eval(&a, 1, NULL);
        x[i] = keep;
        double num = scale * (lp - lm) / (2 * h), ana = d[i] - 0.25;
        double err = fabs(ana - num) / (1e-6 + fabs(num));
        if (err > worst) worst = err;
    }
    free(x);
    free(d);
    return worst;
}

static void test_finite_differences(void) {
    enum { B = 24, C = 3 };
    mt_rng r;
    mt_rng_seed(&r, 21);
    mt_real x[B * C], y[B], yc[B], w[B];
    uint64_t sess[B];
    for (int i = 0; i < B * C; i++) x[i] = 2 * mt_rng_normal(&r);
    for (int i = 0; i < B; i++) {
        y[i] = mt_rng_uniform(&r) < 0.4 ? 1 : 0;
        yc[i] = (mt_real)mt_rng_below(&r, C);
        w[i] = i % 5 == 0 ? 0 : 0.2 + 2 * mt_rng_uniform(&r);
        sess[i] = mt_rng_below(&r, 4);
    }
    mt_real ysoft[B], ygrade[B];
    for (int i = 0; i < B; i++) {
        ysoft[i] = mt_rng_uniform(&r);          /* regression / soft labels */
        ygrade[i] = (mt_real)mt_rng_below(&r, 4); /* graded relevance, with ties */
    }
    const mt_real scale = 0.7;
    for (int weighted = 0; weighted < 2; weighted++) {
        const mt_real *wp = weighted ? w : NULL;
        mt_loss_args a = args(MT_LOSS_CLASSIFICATION, 1, x, y, wp, B);
        CHECK_MSG(grad_check(a, scale) < 1e-6, "sigmoid CE weighted=%d", weighted);
        a = args(MT_LOSS_CLASSIFICATION, C, x, yc, wp, B);
        CHECK_MSG(grad_check(a, scale) < 1e-6, "softmax CE weighted=%d", weighted);
        a = args(MT_LOSS_L2, 1, x, ysoft, wp, B);
        CHECK_MSG(grad_check(a, scale) < 1e-6, "L2 weighted=%d", weighted);
        a = args(MT_LOSS_SIGMOID_L2, 1, x, ysoft, wp, B);
        CHECK_MSG(grad_check(a, scale) < 1e-6, "sigmoid L2 weighted=%d", weighted);
        a = args(MT_LOSS_CROSS_ENTROPY, 1, x, ysoft, wp, B);
        CHECK_MSG(grad_check(a, scale) < 1e-6, "log loss weighted=%d", weighted);
        a = args(MT_LOSS_PAIR_WISE, 1, x, ygrade, wp, B);
        a.margin = 0.3;
        a.temperature = 0.7;
        CHECK_MSG(grad_check(a, scale) < 1e-6, "pairwise weighted=%d", weighted);
        a.session = sess;
        CHECK_MSG(grad_check(a, scale) < 1e-6, "pairwise sessions weighted=%d", weighted);
    }
}

/* Independent reference: list the pairs, then sum w_i * log(1 + exp(-z)) over them and
 * divide by the number of pairs whose weight is nonzero. */
static double brute_pairwise(const mt_real *x, const mt_real *y, const mt_real *w,
                             const uint64_t *s, int B, double margin, double T) {
    double sum = 0;
    long nonzero = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            if (i == j || y[i] <= y[j]) continue;
            if (s && s[i] != s[j]) continue;
            double wi = w ? w[i] : 1.0;
            double z = (x[i] - x[j] - margin) / T;
            sum += wi * log(1 + exp(-z));
            if (wi != 0) nonzero++;
        }
    return nonzero ? sum / nonzero : 0.0;
}

static void test_pairwise_bruteforce(void) {
    enum { B = 40 };
    mt_rng r;
    mt_rng_seed(&r, 77);
    mt_real x[B], y[B], w[B];
    uint64_t s[B];
    for (int i = 0; i < B; i++) {
        x[i] = mt_rng_normal(&r);
        y[i] = (mt_real)mt_rng_below(&r, 3);
        w[i] = i % 7 == 3 ? 0 : mt_rng_uniform(&r) * 3;
        s[i] = 1000 + mt_rng_below(&r, 5);
    }
    for (int withs = 0; withs < 2; withs++)
        for (int withw = 0; withw < 2; withw++) {
            mt_loss_args a = args(MT_LOSS_PAIR_WISE, 1, x, y, withw ? w : NULL, B);
            a.session = withs ? s : NULL;
            a.margin = withs ? 0.25 : 0;
            a.temperature = withw ? 1.5 : 1;
            double want = brute_pairwise(x, y, a.weight, a.session, B, a.margin, a.temperature);
            CHECK_NEAR(mt_loss_eval(&a, 1, NULL), want, 1e-12);
        }
    /* sessions that separate every positive from every negative: no pairs, loss 0 */
    mt_real xs[4] = {1, 2, 3, 4}, ys[4] = {1, 1, 0, 0};
    uint64_t ss[4] = {1, 1, 2, 2};
    mt_loss_args a = args(MT_LOSS_PAIR_WISE, 1, xs, ys, NULL, 4);
    a.session = ss;
    mt_real d[4] = {0};
    CHECK(mt_loss_eval(&a, 1, d) == 0.0);
    CHECK(d[0] == 0 && d[3] == 0);
    a.session = NULL;
    CHECK(mt_loss_eval(&a, 1, NULL) > 0.0);
}

static void test_invalid(void) {
    mt_real x[6] = {1, 2, 3, 4, 5, 6}, bad[2] = {1, 3}, ok[2] = {1, 0}, w0[2] = {1, 0};
    mt_real d[6] = {0};
    mt_loss_args a = args(MT_LOSS_CLASSIFICATION, 3, x, bad, NULL, 2);
    CHECK(isnan(mt_loss_eval(&a, 1, d)));
    CHECK(d[0] == 0 && d[5] == 0);
    /* a masked sample's label is not looked at */
    a.weight = w0;
    CHECK(!isnan(mt_loss_eval(&a, 1, NULL)));
    a = args(MT_LOSS_L2, 2, x, ok, NULL, 2);
    CHECK(isnan(mt_loss_eval(&a, 1, NULL)));
}

static void test_log_names(void) {
    char buf[64];
    mt_loss_log_name(MT_LOSS_CLASSIFICATION, "ctr", buf, sizeof buf);
    CHECK_STR_EQ(buf, "cross_entropy_loss_ctr");
    mt_loss_log_name(MT_LOSS_L2, "price", buf, sizeof buf);
    CHECK_STR_EQ(buf, "l2_loss_price");
    mt_loss_log_name(MT_LOSS_SIGMOID_L2, "cvr", buf, sizeof buf);
    CHECK_STR_EQ(buf, "l2_loss_cvr");
    mt_loss_log_name(MT_LOSS_CROSS_ENTROPY, "cvr", buf, sizeof buf);
    CHECK_STR_EQ(buf, "cross_entropy_loss_cvr");
    mt_loss_log_name(MT_LOSS_PAIR_WISE, "ctr", buf, sizeof buf);
    CHECK_STR_EQ(buf, "pairwise_loss_ctr");
    char small[8];
    mt_loss_log_name(MT_LOSS_PAIR_WISE, "ctr", small, sizeof small);
    CHECK_STR_EQ(small, "pairwis");
}

int main(void) {
    RUN(test_hand_values);
    RUN(test_reduction);
    RUN(test_finite_differences);
    RUN(test_pairwise_bruteforce);
    RUN(test_invalid);
    RUN(test_log_names);
    return test_summary();
}
