/* test_metrics.c: eval/metrics.c against hand-computed values and brute-force references. */
#include <stdint.h>

#include "eval/metrics.h"
#include "test.h"
#include "util/rng.h"

/* O(n^2) AUC by counting (positive, negative) pairs, ties 1/2. NAN with one class. */
static double brute_auc(const float *s, const float *y, int64_t n) {
    double wins = 0, pairs = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(y[i] > 0.5f)) continue;
        for (int64_t j = 0; j < n; j++) {
            if (y[j] > 0.5f) continue;
            pairs += 1;
            wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    }
    return pairs > 0 ? wins / pairs : NAN;
}

static void test_auc_hand(void) {
    const float s[] = {0.1f, 0.4f, 0.35f, 0.8f}, y[] = {0, 0, 1, 1};
    CHECK_NEAR(mt_metric_auc(s, y, 4), 0.75, 1e-12);
    /* perfect and inverted rankings */
    const float s2[] = {0.9f, 0.8f, 0.2f, 0.1f}, y2[] = {1, 1, 0, 0};
    CHECK_NEAR(mt_metric_auc(s2, y2, 4), 1.0, 1e-12);
    const float y3[] = {0, 0, 1, 1};
    CHECK_NEAR(mt_metric_auc(s2, y3, 4), 0.0, 1e-12);
    /* all tied: 0.5; one tie between a positive and a negative: (1 + 0.5 + 1 + 1) / 4 */
    const float s4[] = {0.5f, 0.5f, 0.5f}, y4[] = {1, 0, 0};
    CHECK_NEAR(mt_metric_auc(s4, y4, 3), 0.5, 1e-12);
    const float s5[] = {0.3f, 0.6f, 0.3f, 0.9f}, y5[] = {0, 1, 1, 0};
    /* pos 0.6 vs neg {0.3, 0.9}: 1 + 0; pos 0.3 vs neg {0.3, 0.9}: 0.5 + 0 -> 1.5/4 */
    CHECK_NEAR(mt_metric_auc(s5, y5, 4), 0.375, 1e-12);
    /* labels are thresholded at 0.5 */
    const float y6[] = {0.2f, 0.0f, 0.7f, 1.0f};
    CHECK_NEAR(mt_metric_auc(s, y6, 4), 0.75, 1e-12);
}

static void test_auc_nan(void) {
    const float s[] = {0.1f, 0.2f, 0.3f}, ones[] = {1, 1, 1}, zeros[] = {0, 0, 0};
    CHECK(isnan(mt_metric_auc(s, ones, 3)));
    CHECK(isnan(mt_metric_auc(s, zeros, 3)));
    CHECK(isnan(mt_metric_auc(s, ones, 0)));
    CHECK(isnan(mt_metric_mse(s, ones, 0)));
    CHECK(isnan(mt_metric_logloss(s, ones, 0)));
    CHECK(isnan(mt_metric_accuracy_binary(s, ones, 0)));
}

/* Random data with many ties (scores quantised to 10 levels) against the pair count. */
static void test_auc_random_vs_bruteforce(void) {
    mt_rng r;
    mt_rng_seed(&r, 7);
    for (int trial = 0; trial < 30; trial++) {
        int64_t n = 1 + (int64_t)mt_rng_below(&r, 400);
        float *s = malloc((size_t)n * sizeof *s), *y = malloc((size_t)n * sizeof *y);
        int levels = trial % 3 == 0 ? 3 : trial % 3 == 1 ? 10 : 1000000;
        for (int64_t i = 0; i < n; i++) {
            s[i] = (float)mt_rng_below(&r, (uint64_t)levels) / (float)levels;
            y[i] = mt_rng_uniform(&r) < 0.3 ? 1.0f : 0.0f;
        }
        double want = brute_auc(s, y, n), got = mt_metric_auc(s, y, n);
        if (isnan(want)) CHECK(isnan(got));
        else CHECK_NEAR(got, want, 1e-12);
        /* the input is not reordered */
        double again = mt_metric_auc(s, y, n);
        CHECK((isnan(got) && isnan(again)) || got == again);
        free(s);
        free(y);
    }
}

/* Hand example: three users.
 * u1: s {0.9, 0.2, 0.5} y {1, 0, 0}                 -> AUC 1,   3 samples, 1 positive
 * u2: s {0.3, 0.6, 0.4, 0.1} y {1, 0, 1, 0}         -> pos 0.3 beats 0.1; pos 0.4 beats 0.1
 *                                                     -> 2/4 = 0.5, 4 samples, 2 positives
 * u3: s {0.7, 0.8} y {1, 1} (single class, skipped)
 * u4: s {0.2, 0.2, 0.9} y {1, 0, 1}                  -> (0.5 + 1)/2 = 0.75, 3 samples, 2 pos */
static void test_gauc_hand(void) {
    const float s[] = {0.9f, 0.3f, 0.2f, 0.6f, 0.7f, 0.5f, 0.4f, 0.8f, 0.1f, 0.2f, 0.2f, 0.9f};
    const float y[] = {1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1};
    const uint64_t g[] = {1, 2, 1, 2, 3, 1, 2, 3, 2, 4, 4, 4};
    double mean = (1.0 + 0.5 + 0.75) / 3.0;
    double by_n = (3 * 1.0 + 4 * 0.5 + 3 * 0.75) / 10.0;
    double by_pos = (1 * 1.0 + 2 * 0.5 + 2 * 0.75) / 5.0;
    CHECK_NEAR(mt_metric_gauc(s, y, g, 12, MT_GAUC_MEAN), mean, 1e-12);
    CHECK_NEAR(mt_metric_gauc(s, y, g, 12, MT_GAUC_MEAN_BY_SAMPLE_NUM), by_n, 1e-12);
    CHECK_NEAR(mt_metric_gauc(s, y, g, 12, MT_GAUC_MEAN_BY_POSITIVE_NUM), by_pos, 1e-12);
    /* only single-class groups: NAN */
    const uint64_t g1[] = {1, 1, 2, 2};
    const float s1[] = {0.1f, 0.2f, 0.3f, 0.4f}, y1[] = {1, 1, 0, 0};
    CHECK(isnan(mt_metric_gauc(s1, y1, g1, 4, MT_GAUC_MEAN)));
    CHECK(isnan(mt_metric_gauc(s1, y1, g1, 0, MT_GAUC_MEAN)));
}

/* One group GAUC equals plain AUC; random groups against per-group brute force. */
static void test_gauc_random(void) {
    mt_rng r;
    mt_rng_seed(&r, 11);
    int64_t n = 600;
    float *s = malloc((size_t)n * sizeof *s), *y = malloc((size_t)n * sizeof *y);
    uint64_t *g = malloc((size_t)n * sizeof *g);
    for (int64_t i = 0; i < n; i++) {
        s[i] = (float)mt_rng_below(&r, 20) / 20.0f;
        y[i] = mt_rng_uniform(&r) < 0.4 ? 1.0f : 0.0f;
        g[i] = 0xfeedULL;
    }
    CHECK_NEAR(mt_metric_gauc(s, y, g, n, MT_GAUC_MEAN), mt_metric_auc(s, y, n), 1e-12);
    int G = 25;
    for (int64_t i = 0; i < n; i++) g[i] = mt_rng_below(&r, (uint64_t)G) * 0x9E3779B97F4A7C15ULL;
    float *gs = malloc((size_t)n * sizeof *gs), *gy = malloc((size_t)n * sizeof *gy);
    double num[3] = {0}, den[3] = {0};
    for (int k = 0; k < G; k++) {
        uint64_t key = (uint64_t)k * 0x9E3779B97F4A7C15ULL;
        int64_t m = 0, npos = 0;
        for (int64_t i = 0; i < n; i++)
            if (g[i] == key) {
                gs[m] = s[i];
                gy[m] = y[i];
                npos += y[i] > 0.5f;
                m++;
            }
        double a = brute_auc(gs, gy, m);
        if (isnan(a)) continue;
        double w[3] = {1.0, (double)m, (double)npos};
        for (int j = 0; j < 3; j++) {
            num[j] += w[j] * a;
            den[j] += w[j];
        }
    }
    CHECK_NEAR(mt_metric_gauc(s, y, g, n, MT_GAUC_MEAN), num[0] / den[0], 1e-12);
    CHECK_NEAR(mt_metric_gauc(s, y, g, n, MT_GAUC_MEAN_BY_SAMPLE_NUM), num[1] / den[1], 1e-12);
    CHECK_NEAR(mt_metric_gauc(s, y, g, n, MT_GAUC_MEAN_BY_POSITIVE_NUM), num[2] / den[2], 1e-12);
    free(s);
    free(y);
    free(g);
    free(gs);
    free(gy);
}

static void test_regression_metrics(void) {
    const float p[] = {1.0f, 2.0f, 4.0f, -1.0f}, y[] = {1.5f, 2.0f, 2.0f, 0.0f};
    /* errors -0.5, 0, 2, -1 */
    CHECK_NEAR(mt_metric_mse(p, y, 4), (0.25 + 0 + 4 + 1) / 4.0, 1e-7);
    CHECK_NEAR(mt_metric_mae(p, y, 4), (0.5 + 0 + 2 + 1) / 4.0, 1e-7);
    CHECK_NEAR(mt_metric_rmse(p, y, 4), sqrt(5.25 / 4.0), 1e-7);
}

static void test_accuracy(void) {
    const float p[] = {0.9f, 0.4f, 0.5f, 0.51f, 0.1f}, y[] = {1, 0, 1, 0, 0};
    /* hits: yes, yes, no (0.5 is not > 0.5), no, yes */
    CHECK_NEAR(mt_metric_accuracy_binary(p, y, 5), 3.0 / 5.0, 1e-12);
    const float probs[] = {0.1f, 0.7f, 0.2f, /**/ 0.5f, 0.3f, 0.2f, /**/ 0.2f, 0.2f, 0.6f,
                           0.3f, 0.3f, 0.4f};
    const float cls[] = {1, 0, 1, 7};
    /* argmax 1, 0, 2, 2 -> hits, hits, miss, miss (label out of range never matches) */
    CHECK_NEAR(mt_metric_accuracy_multi(probs, 3, cls, 4), 0.5, 1e-12);
}

static void test_logloss(void) {
    const float p[] = {0.8f, 0.3f, 1.0f, 0.0f}, y[] = {1, 0, 1, 1};
    double eps = 1e-7;
    double want = -(log(0.8f) + log(1 - 0.3f) + log(1 - eps) + log(eps)) / 4.0;
    CHECK_NEAR(mt_metric_logloss(p, y, 4), want, 1e-6);
    const float probs[] = {0.2f, 0.5f, 0.3f, /**/ 0.6f, 0.1f, 0.3f};
    const float cls[] = {2, 0};
    CHECK_NEAR(mt_metric_logloss_multi(probs, 3, cls, 2), -(log(0.3f) + log(0.6f)) / 2.0, 1e-6);
    const float bad[] = {2, 3};
    CHECK(isnan(mt_metric_logloss_multi(probs, 3, bad, 2)));
}

int main(void) {
    RUN(test_auc_hand);
    RUN(test_auc_nan);
    RUN(test_auc_random_vs_bruteforce);
    RUN(test_gauc_hand);
    RUN(test_gauc_random);
    RUN(test_regression_metrics);
    RUN(test_accuracy);
    RUN(test_logloss);
    return test_summary();
}
