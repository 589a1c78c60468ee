/* metrics.c: evaluation metrics over a whole evaluation set held in memory (eval/metrics.h).
 * Owns: exact ROC AUC (midrank ties), EasyRec-style GAUC, MSE/MAE/RMSE, accuracy and log
 * loss. Does not own streaming accumulation (the evaluator gathers scores first) or metric
 * naming. Every sum is accumulated in double. Functions cannot report errors: an empty
 * input, a single-class AUC or a failed scratch allocation yields NAN.
 * AUC is written by hand because no Debian C library offers an exact, tie-aware ROC AUC. */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>

/* One row as the AUC routines see it. */
typedef struct auc_item {
    uint64_t group; /* 0 for plain AUC */
    float score;
    uint8_t pos;
} auc_item;

/* Orders by group, then by score ascending (NaN scores last within a group). */
static int auc_item_cmp(const void *pa, const void *pb) {
    const auc_item *a = pa, *b = pb;
    if (a->group != b->group) return a->group < b->group ? -1 : 1;
    int an = isnan(a->score), bn = isnan(b->score);
    if (an || bn) return an - bn;
    return (a->score > b->score) - (a->score < b->score);
}

/* Scores equal for tie purposes (two NaNs tie with each other). */
static int same_score(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

/* AUC of it[0..n) sorted by score ascending: the probability that a random positive outranks
 * a random negative, ties counting one half (= Mann-Whitney U / (P*N) with midranks).
 * *n_pos receives P. NAN when P or N is 0. */
static double auc_sorted(const auc_item *it, int64_t n, int64_t *n_pos) {
    double wins = 0.0; /* pairs (pos, neg) with pos above neg, ties as 0.5 */
    int64_t neg_below = 0, P = 0, N = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, p = 0, q = 0;
        while (j < n && same_score(it[j].score, it[i].score)) {
            if (it[j].pos) p++; else q++;
            j++;
        }
        wins += (double)p * (double)neg_below + 0.5 * (double)p * (double)q;
        neg_below += q;
        P += p;
        N += q;
        i = j;
    }
    if (n_pos) *n_pos = P;
    if (P == 0 || N == 0) return NAN;
    return wins / ((double)P * (double)N);
}

double mt_metric_auc(const float *score, const float *label, int64_t n) {
    if (n <= 0) return NAN;
    auc_item *it = malloc((size_t)n * sizeof *it);
    if (!it) return NAN;
    for (int64_t i = 0; i < n; i++) {
        it[i].group = 0;
        it[i].score = score[i];
        it[i].pos = label[i] > 0.5f;
    }
    qsort(it, (size_t)n, sizeof *it, auc_item_cmp);
    double auc = auc_sorted(it, n, NULL);
    free(it);
    return auc;
}

/* EasyRec core/metrics.py _separated_auc_impl: per group sklearn roc_auc_score, groups whose
 * labels are all 0 or all 1 skipped, then np.average with weights 1 (mean), the group size
 * (mean_by_sample_num) or its number of positives (mean_by_positive_num; EasyRec sums the
 * label, the same for 0/1 labels). mtrec returns NAN where EasyRec returns 0.0 for "no
 * qualifying group", so an empty metric is not mistaken for a real one. */
double mt_metric_gauc(const float *score, const float *label, const uint64_t *group, int64_t n,
                      mt_gauc_reduction reduction) {
    if (n <= 0) return NAN;
    auc_item *it = malloc((size_t)n * sizeof *it);
    if (!it) return NAN;
    for (int64_t i = 0; i < n; i++) {
        it[i].group = group[i];
        it[i].score = score[i];
        it[i].pos = label[i] > 0.5f;
    }
    qsort(it, (size_t)n, sizeof *it, auc_item_cmp);
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && it[j].group == it[i].group) j++;
        int64_t npos = 0;
        double auc = auc_sorted(it + i, j - i, &npos);
        if (!isnan(auc)) {
            double w = 1.0;
            if (reduction == MT_GAUC_MEAN_BY_SAMPLE_NUM) w = (double)(j - i);
            else if (reduction == MT_GAUC_MEAN_BY_POSITIVE_NUM) w = (double)npos;
            num += w * auc;
            den += w;
        }
        i = j;
    }
    free(it);
    return den > 0.0 ? num / den : NAN;
}

double mt_metric_mse(const float *pred, const float *label, int64_t n) {
    if (n <= 0) return NAN;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)label[i];
        s += d * d;
    }
    return s / (double)n;
}

double mt_metric_mae(const float *pred, const float *label, int64_t n) {
    if (n <= 0) return NAN;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)pred[i] - (double)label[i]);
    return s / (double)n;
}

double mt_metric_rmse(const float *pred, const float *label, int64_t n) {
    return sqrt(mt_metric_mse(pred, label, n));
}

double mt_metric_accuracy_binary(const float *prob, const float *label, int64_t n) {
    if (n <= 0) return NAN;
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++) hit += (prob[i] > 0.5f) == (label[i] > 0.5f);
    return (double)hit / (double)n;
}

/* Class index of a real label: (int)label when it lies in [0, k), else -1 (no UB on NaN or
 * huge values). */
static int class_of(float label, int k) {
    if (!(label >= 0.0f) || label >= (float)k) return -1;
    return (int)label;
}

/* Index of the largest of p[0..k) (first one on ties, like tf.argmax). */
static int argmax_row(const float *p, int k) {
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

double mt_metric_accuracy_multi(const float *probs, int k, const float *label, int64_t n) {
    if (n <= 0 || k <= 0) return NAN;
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++) hit += argmax_row(probs + i * k, k) == class_of(label[i], k);
    return (double)hit / (double)n;
}

#define LOGLOSS_EPS 1e-7

static double clip_prob(double p) {
    if (!(p >= LOGLOSS_EPS)) return LOGLOSS_EPS; /* also maps NaN to eps */
    if (p > 1.0 - LOGLOSS_EPS) return 1.0 - LOGLOSS_EPS;
    return p;
}

double mt_metric_logloss(const float *prob, const float *label, int64_t n) {
    if (n <= 0) return NAN;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p = clip_prob(prob[i]), y = label[i];
        s -= y * log(p) + (1.0 - y) * log(1.0 - p);
    }
    return s / (double)n;
}

/* Labels outside [0, k) make the result NAN (there is no probability to score). */
double mt_metric_logloss_multi(const float *probs, int k, const float *label, int64_t n) {
    if (n <= 0 || k <= 0) return NAN;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        int c = class_of(label[i], k);
        if (c < 0) return NAN;
        s -= log(clip_prob(probs[i * k + c]));
    }
    return s / (double)n;
}
