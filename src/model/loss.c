/* loss.c: per-tower losses and their gradients with EasyRec semantics (model/loss.h,
 * EASYREC_SEMANTICS.md 1.3; easy_rec/python/builders/loss_builder.py, loss/pairwise_loss.py).
 * Owns one loss term of one tower: its value and d(loss)/d(logits). Does not own the
 * combination of losses across towers (tower weight, losses{} weight), the sample-weight /
 * task-space arithmetic that produces `weight`, or regularization.
 *
 * Pointwise losses (per sample i, logit x_i, label y_i):
 *   CLASSIFICATION, 1 class  tf.losses.sigmoid_cross_entropy  max(x,0) - x*y + log1p(e^-|x|)
 *   CLASSIFICATION, C > 1    tf.losses.sparse_softmax_cross_entropy  logsumexp(x) - x[y]
 *   L2_LOSS                  tf.losses.mean_squared_error on y_t = x:        (x - y)^2
 *   SIGMOID_L2_LOSS          the same on y_t = sigmoid(x):                   (s(x) - y)^2
 *   CROSS_ENTROPY_LOSS       tf.losses.log_loss on p = s(x), eps 1e-7:
 *                            -y*log(p + eps) - (1-y)*log(1 - p + eps)
 * reduced by TF's SUM_BY_NONZERO_WEIGHTS: sum_i w_i*l_i / #(w_i != 0), 0 when no weight is
 * nonzero. Samples with w_i == 0 are skipped outright (TF would form 0*l_i; identical unless
 * l_i is infinite).
 *
 * PAIR_WISE_LOSS (pairwise_loss.py pairwise_loss): every ordered pair (i, j) of the batch
 * with y_i > y_j, restricted to equal session keys when given, contributes
 * softplus(-z_ij), z_ij = (x_i - x_j - margin) / temperature, with the weight of its
 * higher-labelled sample w_i (EasyRec tiles the weight column across the row); reduced
 * SUM_BY_NONZERO_WEIGHTS over pairs; a batch without pairs gives 0 (EasyRec maps NaN to 0).
 * EasyRec's PAIR_WISE_LOSS has no temperature (its PAIRWISE_LOGISTIC_LOSS has it, without a
 * margin); with temperature 1 this is exactly EasyRec's. */
#include "model/loss.h"

#include <math.h>
#include <stdio.h>

#define LOG_LOSS_EPS 1e-7

/* Stable logistic function. */
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Stable log(1 + e^u). */
static double softplus(double u) { return (u > 0 ? u : 0.0) + log1p(exp(-fabs(u))); }

/* Loss l and dl/dx of one sample for the single-logit pointwise losses. */
static double point_loss(mt_loss_type t, double x, double y, double *dl) {
    switch (t) {
    case MT_LOSS_CLASSIFICATION: {
        /* one exp for both: sigmoid(x) exactly as sigmoid() computes it, and the loss */
        double e = exp(-fabs(x));
        *dl = (x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - y;
        return (x > 0 ? x : 0.0) - x * y + log1p(e);
    }
    case MT_LOSS_L2:
        *dl = 2.0 * (x - y);
        return (x - y) * (x - y);
    case MT_LOSS_SIGMOID_L2: {
        double p = sigmoid(x), q = sigmoid(-x);
        *dl = 2.0 * (p - y) * p * q;
        return (p - y) * (p - y);
    }
    case MT_LOSS_CROSS_ENTROPY: {
        double p = sigmoid(x), q = sigmoid(-x); /* q = 1 - p without cancellation */
        double a = p + LOG_LOSS_EPS, b = q + LOG_LOSS_EPS;
        *dl = (-y / a + (1.0 - y) / b) * p * q;
        return -y * log(a) - (1.0 - y) * log(b);
    }
    case MT_LOSS_PAIR_WISE:
        break;
    }
    *dl = 0.0;
    return 0.0;
}

/* Class index of a real label when it lies in [0, C), else -1. */
static int class_index(mt_real y, int C) {
    if (!(y >= 0) || y >= (mt_real)C) return -1;
    return (int)y;
}

/* Softmax cross-entropy of one row x[C] against class c; adds g * d/dx into d (if non-NULL). */
static double softmax_ce_row(const mt_real *x, int C, int c, double g, mt_real *d) {
    double mx = x[0];
    for (int k = 1; k < C; k++)
        if (x[k] > mx) mx = x[k];
    double sum = 0.0;
    for (int k = 0; k < C; k++) sum += exp((double)x[k] - mx);
    double lse = mx + log(sum);
    if (d)
        for (int k = 0; k < C; k++)
            d[k] += (mt_real)(g * (exp((double)x[k] - lse) - (k == c ? 1.0 : 0.0)));
    return lse - (double)x[c];
}

static double weight_of(const mt_loss_args *a, int i) { return a->weight ? (double)a->weight[i] : 1.0; }

/* SUM_BY_NONZERO_WEIGHTS reduction of a pointwise loss. */
static double pointwise_eval(const mt_loss_args *a, double scale, mt_real *dlogits) {
    const int C = a->num_class;
    int64_t count = 0;
    for (int i = 0; i < a->B; i++) count += weight_of(a, i) != 0.0;
    if (count == 0) return 0.0;
    const double inv = 1.0 / (double)count;
    double total = 0.0;
    for (int i = 0; i < a->B; i++) {
        double w = weight_of(a, i);
        if (w == 0.0) continue;
        if (C > 1) {
            int c = class_index(a->label[i], C);
            total += w * softmax_ce_row(a->logits + (size_t)i * C, C, c, scale * w * inv,
                                        dlogits ? dlogits + (size_t)i * C : NULL);
        } else {
            double dl;
            total += w * point_loss(a->type, a->logits[i], a->label[i], &dl);
            if (dlogits) dlogits[i] += (mt_real)(scale * w * inv * dl);
        }
    }
    return total * inv;
}

/* Whether samples i and j share a session (always, when no keys are given). */
static int same_session(const mt_loss_args *a, int i, int j) {
    return !a->session || a->session[i] == a->session[j];
}

/* EasyRec pairwise logistic loss over all qualifying (i, j) pairs; O(B^2). */
static double pairwise_eval(const mt_loss_args *a, double scale, mt_real *dlogits) {
    const double T = a->temperature > 0 ? (double)a->temperature : 1.0;
    const double m = a->margin;
    int64_t count = 0;
    for (int i = 0; i < a->B; i++) {
        if (weight_of(a, i) == 0.0) continue;
        for (int j = 0; j < a->B; j++)
            count += a->label[i] > a->label[j] && same_session(a, i, j);
    }
    if (count == 0) return 0.0;
    const double inv = 1.0 / (double)count;
    double total = 0.0;
    for (int i = 0; i < a->B; i++) {
        double w = weight_of(a, i);
        if (w == 0.0) continue;
        for (int j = 0; j < a->B; j++) {
            if (!(a->label[i] > a->label[j]) || !same_session(a, i, j)) continue;
            double z = ((double)a->logits[i] - (double)a->logits[j] - m) / T;
            total += w * softplus(-z);
            if (dlogits) {
                /* d softplus(-z)/dz = -sigmoid(-z); dz/dx_i = 1/T, dz/dx_j = -1/T */
                double g = -scale * w * inv * sigmoid(-z) / T;
                dlogits[i] += (mt_real)g;
                dlogits[j] -= (mt_real)g;
            }
        }
    }
    return total * inv;
}

/* Invalid arguments (missing logits or labels, num_class < 1, num_class > 1 for a loss other
 * than CLASSIFICATION, a class label outside [0, num_class)) return NAN and leave dlogits
 * untouched; an empty batch returns 0. */
double mt_loss_eval(const mt_loss_args *a, mt_real scale, mt_real *dlogits) {
    if (!a || a->B <= 0) return 0.0;
    if (!a->logits || !a->label || a->num_class < 1) return NAN;
    if (a->num_class > 1) {
        if (a->type != MT_LOSS_CLASSIFICATION) return NAN;
        for (int i = 0; i < a->B; i++)
            if (weight_of(a, i) != 0.0 && class_index(a->label[i], a->num_class) < 0) return NAN;
    }
    switch (a->type) {
    case MT_LOSS_CLASSIFICATION:
    case MT_LOSS_L2:
    case MT_LOSS_SIGMOID_L2:
    case MT_LOSS_CROSS_ENTROPY:
        return pointwise_eval(a, (double)scale, dlogits);
    case MT_LOSS_PAIR_WISE:
        return pairwise_eval(a, (double)scale, dlogits);
    }
    return NAN;
}

void mt_loss_log_name(mt_loss_type t, const char *tower, char *buf, int buflen) {
    if (!buf || buflen <= 0) return;
    const char *base = "cross_entropy_loss";
    switch (t) {
    case MT_LOSS_CLASSIFICATION:
    case MT_LOSS_CROSS_ENTROPY: base = "cross_entropy_loss"; break;
    case MT_LOSS_L2:
    case MT_LOSS_SIGMOID_L2: base = "l2_loss"; break;
    case MT_LOSS_PAIR_WISE: base = "pairwise_loss"; break;
    }
    if (tower) snprintf(buf, (size_t)buflen, "%s_%s", base, tower);
    else snprintf(buf, (size_t)buflen, "%s", base);
}
