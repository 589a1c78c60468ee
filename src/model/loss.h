/* loss.h: per-tower losses with EasyRec semantics (EASYREC_SEMANTICS.md 1.3): sigmoid /
 * softmax cross-entropy, L2, sigmoid-L2, cross-entropy on probabilities, and EasyRec's
 * pairwise logistic loss. Weighted reduction is TensorFlow's SUM_BY_NONZERO_WEIGHTS:
 * sum_i w_i * l_i / #(w_i != 0) (0 when every weight is 0). Implemented in model/loss.c. */
#ifndef MT_LOSS_H
#define MT_LOSS_H

#include <stdint.h>

#include "config/pipeline.h"
#include "util/common.h"

typedef struct mt_loss_args {
    mt_loss_type type;
    int num_class;            /* 1 for binary/regression; C > 1 -> softmax over C logits */
    const mt_real *logits;    /* [B, num_class] */
    const mt_real *label;     /* [B] (class index as a real for num_class > 1) */
    const mt_real *weight;    /* [B] per-sample weights (sample weight x task space), or NULL = 1 */
    const uint64_t *session;  /* [B] session keys for PAIR_WISE_LOSS, or NULL (one session) */
    mt_real margin;           /* PAIR_WISE_LOSS */
    mt_real temperature;      /* PAIR_WISE_LOSS, 1 */
    int B;
} mt_loss_args;

/* Returns the reduced loss; when dlogits is non-NULL also accumulates
 * dlogits[B, num_class] += scale * d(loss)/d(logits). */
double mt_loss_eval(const mt_loss_args *a, mt_real scale, mt_real *dlogits);

/* Name EasyRec logs the loss under: "cross_entropy_loss_<tower>", "l2_loss_<tower>",
 * "pairwise_loss_<tower>" ... written into buf. */
void mt_loss_log_name(mt_loss_type t, const char *tower, char *buf, int buflen);

#endif
