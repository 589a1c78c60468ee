/* model_io.c: model <-> checkpoint tensors (see model_io.h). Tensor names: the dense names
 * registered in model_build.c, "embedding/<table>/weights", and optimizer slots as
 * "<name>/<slot>" with TensorFlow's slot names (Adam, Adam_1, Adagrad, Momentum). */
#include "io/model_io.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "train/optim.h"

static const char *slot_name(mt_optimizer_kind k, int i) {
    switch (k) {
    case MT_OPT_ADAM: return i == 0 ? "Adam" : "Adam_1";
    case MT_OPT_ADAGRAD: return "Adagrad";
    case MT_OPT_MOMENTUM: return "Momentum";
    case MT_OPT_SGD: break;
    }
    return "slot";
}

typedef struct tensor_list {
    mt_tensor_ref *t;
    char (*names)[192];
    mt_real **dst;            /* writable pointer of each tensor (for loads) */
    int n, cap;
} tensor_list;

static int tl_add(tensor_list *l, const char *name, mt_real *data, int64_t d0, int64_t d1, int ndim) {
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 128;
        mt_tensor_ref *nt = realloc(l->t, (size_t)nc * sizeof *nt);
        if (!nt) return -1;
        l->t = nt;
        char (*nn)[192] = realloc(l->names, (size_t)nc * sizeof *nn);
        if (!nn) return -1;
        l->names = nn;
        mt_real **nd = realloc(l->dst, (size_t)nc * sizeof *nd);
        if (!nd) return -1;
        l->dst = nd;
        l->cap = nc;
    }
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    mt_tensor_ref *r = &l->t[l->n];
    memset(r, 0, sizeof *r);
    r->data = data;
    r->shape[0] = d0;
    r->shape[1] = d1;
    r->ndim = ndim;
    l->dst[l->n] = data;
    l->n++;
    return 0;
}

static void tl_free(tensor_list *l) {
    free(l->t);
    free(l->names);
    free(l->dst);
}

/* Every tensor of the model, optionally with optimizer slots. bf16: dense kernels and
 * embedding tables are marked for BF16 storage (biases, BN parameters and statistics stay
 * F32: they are small, and BN's folded scale is sensitive to rounding). */
static mtrec_status collect(mt_model *m, int with_opt, int bf16, tensor_list *l, mt_err *e) {
    int slots = with_opt ? mt_optim_slots(m->p->train.optimizer.kind) : 0;
    mt_optimizer_kind k = m->p->train.optimizer.kind;
    char nm[192];
    int bad = 0;
    for (int i = 0; i < m->n_info && !bad; i++) {
        mt_param_info *pi = &m->info[i];
        mt_real *d = mt_model_param_data(m, pi);
        bad |= tl_add(l, pi->name, d, pi->shape[0], pi->shape[1], pi->ndim);
        if (!bad) l->t[l->n - 1].bf16 = bf16 && pi->is_kernel;
        for (int s = 0; s < slots && !pi->is_stat && !bad; s++) {
            snprintf(nm, sizeof nm, "%s/%s", pi->name, slot_name(k, s));
            bad |= tl_add(l, nm, (s == 0 ? m->opt_s0 : m->opt_s1) + pi->offset, pi->shape[0],
                          pi->shape[1], pi->ndim);
        }
    }
    for (int t = 0; t < m->n_tables && !bad; t++) {
        mt_table *T = &m->tables[t];
        snprintf(nm, sizeof nm, "embedding/%s/weights", T->plan->name);
        bad |= tl_add(l, nm, T->w, T->plan->rows, T->plan->dim, 2);
        if (!bad) l->t[l->n - 1].bf16 = bf16;
        for (int s = 0; s < slots && !bad; s++) {
            snprintf(nm, sizeof nm, "embedding/%s/weights/%s", T->plan->name, slot_name(k, s));
            bad |= tl_add(l, nm, s == 0 ? T->s0 : T->s1, T->plan->rows, T->plan->dim, 2);
        }
    }
    if (bad) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory listing model tensors");
    for (int i = 0; i < l->n; i++) l->t[i].name = l->names[i];
    return MTREC_OK;
}

mtrec_status mt_model_save(mt_model *m, const char *path, int64_t step, int with_opt, mt_err *e) {
    return mt_model_save_ex(m, path, step, with_opt, 0, e);
}

mtrec_status mt_model_save_ex(mt_model *m, const char *path, int64_t step, int with_opt, int bf16,
                              mt_err *e) {
    tensor_list l = {0};
    if (with_opt && bf16)
        return mt_fail(e, MTREC_ERR_ARG, "%s: bf16 weights are for exports, not checkpoints", path);
    mtrec_status st = collect(m, with_opt, bf16, &l, e);
    if (st == MTREC_OK) {
        char stepbuf[32], fp[32];
        snprintf(stepbuf, sizeof stepbuf, "%" PRId64, step);
        snprintf(fp, sizeof fp, "%016" PRIx64, mt_pipeline_shape_fingerprint(m->p));
        mt_kv meta[] = {{"global_step", stepbuf},
                        {"config_fingerprint", fp},
                        {"optimizer_state", with_opt ? "yes" : "no"},
                        {"weights_dtype", bf16 ? "BF16" : "F32"},
                        {"mtrec_version", mtrec_version()}};
        st = mt_ckpt_write(path, l.t, l.n, meta, (int)MT_ARRAY_LEN(meta), e);
    }
    tl_free(&l);
    return st;
}

mtrec_status mt_model_load(mt_model *m, const char *path, int with_opt, int64_t *step, mt_err *e) {
    mt_ckpt *c = NULL;
    mtrec_status st = mt_ckpt_open(path, &c, e);
    if (st != MTREC_OK) return st;
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, mt_pipeline_shape_fingerprint(m->p));
    const char *cfp = mt_ckpt_meta(c, "config_fingerprint");
    if (!cfp || strcmp(cfp, fp) != 0) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT,
                     "%s: checkpoint was written for another model (config fingerprint %s, this "
                     "config has %s): features, tables or layers differ; use another model_dir or "
                     "fine_tune_checkpoint to warm-start",
                     path, cfp ? cfp : "(none)", fp);
        mt_ckpt_close(c);
        return st;
    }
    if (with_opt) {
        const char *os = mt_ckpt_meta(c, "optimizer_state");
        if (!os || strcmp(os, "yes") != 0) with_opt = 0;  /* an export: weights only */
    }
    tensor_list l = {0};
    st = collect(m, with_opt, 0, &l, e);
    for (int i = 0; st == MTREC_OK && i < l.n; i++) {
        int64_t n = l.t[i].shape[0] * (l.t[i].ndim > 1 ? l.t[i].shape[1] : 1);
        st = mt_ckpt_read(c, l.t[i].name, l.dst[i], n, l.t[i].shape, l.t[i].ndim, e);
    }
    if (st == MTREC_OK && step) {
        const char *s = mt_ckpt_meta(c, "global_step");
        *step = s ? strtoll(s, NULL, 10) : 0;
    }
    tl_free(&l);
    mt_ckpt_close(c);
    return st;
}

mtrec_status mt_model_open_checkpoint(const mt_pipeline *p, const char *checkpoint_path,
                                      int max_batch, int threads, mt_mm **mm, mt_model **m,
                                      int64_t *step, mt_err *e) {
    *mm = NULL;
    *m = NULL;
    const char *dir = p->model_dir ? p->model_dir : ".";
    char *path = checkpoint_path ? mt_strdup(checkpoint_path) : mt_ckpt_latest(dir);
    if (!path)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "no checkpoint in model_dir '%s' (train first, or pass --checkpoint_path)", dir);
    mtrec_status st = mt_mm_create(threads > 0 ? threads : 1, 0, mm, e);
    if (st == MTREC_OK)
        st = mt_model_create_ex(p, max_batch > 0 ? max_batch : 32, *mm, (uint64_t)p->train.seed, NULL, 1, m, e);
    if (st == MTREC_OK) st = mt_model_load(*m, path, 0, step, e);
    free(path);
    if (st != MTREC_OK) {
        mt_model_free(*m);
        mt_mm_free(*mm);
        *m = NULL;
        *mm = NULL;
    }
    return st;
}

mtrec_status mt_model_warm_start(mt_model *m, const char *path, int *loaded, int *skipped, mt_err *e) {
    mt_ckpt *c = NULL;
    mtrec_status st = mt_ckpt_open(path, &c, e);
    if (st != MTREC_OK) return st;
    tensor_list l = {0};
    int nl = 0, ns = 0;
    st = collect(m, 0, 0, &l, e);
    for (int i = 0; st == MTREC_OK && i < l.n; i++) {
        if (!mt_ckpt_has(c, l.t[i].name)) { ns++; continue; }
        int64_t n = l.t[i].shape[0] * (l.t[i].ndim > 1 ? l.t[i].shape[1] : 1);
        mt_err tmp = {0};
        if (mt_ckpt_read(c, l.t[i].name, l.dst[i], n, l.t[i].shape, l.t[i].ndim, &tmp) == MTREC_OK)
            nl++;
        else
            ns++;
    }
    tl_free(&l);
    mt_ckpt_close(c);
    if (loaded) *loaded = nl;
    if (skipped) *skipped = ns;
    if (st == MTREC_OK && nl == 0)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: no tensor matches this model (names or shapes differ)", path);
    return st;
}
