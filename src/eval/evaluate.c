/* evaluate.c: evaluation driver: reads the eval files once (no shuffle), runs the model in
 * inference mode, keeps every tower's outputs and labels (and gauc group keys) in memory,
 * then computes the metrics of each tower's metrics_set (eval/metrics.c). */
#include "eval/evaluate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "io/checkpoint.h"

typedef struct tower_store {
    float *out;      /* [n, width] */
    float *label;    /* [n] */
    uint64_t *keys;  /* [n, n_keys] */
    int width;
} tower_store;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int add_metric(mt_eval_result *r, const char *metric, const char *tower, double v) {
    mt_metric_value *nv = realloc(r->v, (size_t)(r->n + 1) * sizeof *nv);
    if (!nv) return -1;
    r->v = nv;
    snprintf(r->v[r->n].name, sizeof r->v[r->n].name, "%s_%s", metric, tower);
    r->v[r->n].value = v;
    r->n++;
    return 0;
}

static int key_slot(const mt_feature_plan *plan, int field) {
    for (int k = 0; k < plan->n_keys; k++)
        if (plan->key_fields[k] == field) return k;
    return -1;
}

mtrec_status mt_evaluate(mt_model *m, const char *spec, int64_t max_rows, int64_t global_step,
                         mt_eval_result *r, mt_err *e) {
    memset(r, 0, sizeof *r);
    r->global_step = global_step;
    if (!spec || !*spec) return mt_fail(e, MTREC_ERR_ARG, "no eval_input_path to evaluate on");
    const mt_pipeline *p = m->p;
    mt_reader_opts o = {.batch_size = m->max_batch, .shuffle = 0, .num_epochs = 1, .prefetch = 2,
                        .seed = 0};
    mt_reader *rd = NULL;
    mtrec_status st = mt_reader_open(p, &m->plan, spec, &o, &rd, e);
    if (st != MTREC_OK) return st;
    int nt = m->n_towers, nk = m->plan.n_keys, nl = m->plan.n_labels;
    tower_store *ts = calloc((size_t)nt, sizeof *ts);
    size_t *caps = calloc((size_t)nt * 3, sizeof *caps);
    int max_w = 1;
    for (int t = 0; t < nt; t++) max_w = MT_MAX(max_w, mt_model_output_width(m, t));
    float *tmp = malloc((size_t)m->max_batch * (size_t)max_w * sizeof *tmp);  /* one tower's outputs */
    int64_t n = 0;
    if (!ts || !caps || !tmp) { st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory in evaluation"); goto done; }
    for (int t = 0; t < nt; t++) ts[t].width = mt_model_output_width(m, t);
    for (;;) {
        const mt_batch *b = NULL;
        int rc = mt_reader_next(rd, &b, e);
        if (rc < 0) { st = e ? e->code : MTREC_ERR_DATA; goto done; }
        if (rc == 0) break;
        if ((st = mt_model_forward(m, b, 0, e)) != MTREC_OK) goto done;
        int B = b->n_rows;
        if (max_rows > 0 && n + B > max_rows) B = (int)(max_rows - n);
        for (int t = 0; t < nt; t++) {
            tower_store *s = &ts[t];
            int w = s->width;
            if (grow((void **)&s->out, &caps[3 * t], (size_t)(n + B) * w, sizeof(float)) ||
                grow((void **)&s->label, &caps[3 * t + 1], (size_t)(n + B), sizeof(float)) ||
                (nk && grow((void **)&s->keys, &caps[3 * t + 2], (size_t)(n + B) * nk, sizeof(uint64_t)))) {
                st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory storing predictions");
                goto done;
            }
            mt_model_outputs(m, t, tmp);
            memcpy(s->out + (size_t)n * w, tmp, (size_t)B * w * sizeof(float));
            int li = m->towers[t].cfg->label_index;
            for (int i = 0; i < B; i++) s->label[n + i] = (float)b->labels[(size_t)i * nl + li];
            if (nk) memcpy(s->keys + (size_t)n * nk, b->keys, (size_t)B * nk * sizeof(uint64_t));
        }
        n += B;
        if (max_rows > 0 && n >= max_rows) break;
    }
    r->rows = n;
    if (n == 0) { st = mt_fail(e, MTREC_ERR_DATA, "%s: no rows to evaluate", spec); goto done; }
    for (int t = 0; t < nt && st == MTREC_OK; t++) {
        const mt_tower_config *c = m->towers[t].cfg;
        tower_store *s = &ts[t];
        const char *tn = c->tower_name;
        int w = s->width;
        int is_cls = c->loss_type != MT_LOSS_L2 && c->loss_type != MT_LOSS_SIGMOID_L2;
        /* score column for binary metrics: the prob (w == 1) or the class-1 prob (w == 2) */
        float *score = s->out;
        float *col = NULL;
        if (w == 2) {
            col = malloc((size_t)n * sizeof *col);
            if (!col) { st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); break; }
            for (int64_t i = 0; i < n; i++) col[i] = s->out[i * 2 + 1];
            score = col;
        }
        for (int k = 0; k < c->n_metrics; k++) {
            const mt_metric_config *mc = &c->metrics[k];
            double v = NAN;
            const char *name = mt_metric_name(mc->type);
            switch (mc->type) {
            case MT_METRIC_AUC: if (w <= 2) v = mt_metric_auc(score, s->label, n); break;
            case MT_METRIC_GAUC: {
                int ks = key_slot(&m->plan, mc->uid_index);
                if (w <= 2 && ks >= 0) {
                    uint64_t *g = malloc((size_t)n * sizeof *g);
                    if (!g) { st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); break; }
                    for (int64_t i = 0; i < n; i++) g[i] = s->keys[i * nk + ks];
                    v = mt_metric_gauc(score, s->label, g, n, mc->reduction);
                    free(g);
                }
                break;
            }
            case MT_METRIC_MSE: if (w == 1) v = mt_metric_mse(s->out, s->label, n); break;
            case MT_METRIC_MAE: if (w == 1) v = mt_metric_mae(s->out, s->label, n); break;
            case MT_METRIC_RMSE: if (w == 1) v = mt_metric_rmse(s->out, s->label, n); break;
            case MT_METRIC_ACCURACY:
                v = w == 1 ? mt_metric_accuracy_binary(s->out, s->label, n)
                           : mt_metric_accuracy_multi(s->out, w, s->label, n);
                break;
            }
            if (add_metric(r, name, tn, v)) st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
        }
        if (is_cls && st == MTREC_OK) {
            double ll = w == 1 ? mt_metric_logloss(s->out, s->label, n)
                               : mt_metric_logloss_multi(s->out, w, s->label, n);
            if (add_metric(r, "logloss", tn, ll)) st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
        }
        free(col);
    }
done:
    for (int t = 0; ts && t < nt; t++) {
        free(ts[t].out);
        free(ts[t].label);
        free(ts[t].keys);
    }
    free(ts);
    free(caps);
    free(tmp);
    mt_reader_close(rd);
    if (st != MTREC_OK) mt_eval_result_free(r);
    return st;
}

mtrec_status mt_eval_result_write_json(const mt_eval_result *r, const char *path, mt_err *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n; i++) {
        if (isnan(r->v[i].value)) cJSON_AddNullToObject(o, r->v[i].name);
        else cJSON_AddNumberToObject(o, r->v[i].name, r->v[i].value);
    }
    cJSON_AddNumberToObject(o, "global_step", (double)r->global_step);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    size_t len = strlen(s);
    char *buf = malloc(len + 2);
    if (!buf) { free(s); return mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); }
    memcpy(buf, s, len);
    buf[len] = '\n';
    free(s);
    mtrec_status st = mt_write_file_atomic(path, buf, len + 1, e);
    free(buf);
    return st;
}

double mt_eval_result_get(const mt_eval_result *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].name, name)) return r->v[i].value;
    return NAN;
}

void mt_eval_result_free(mt_eval_result *r) {
    if (!r) return;
    free(r->v);
    r->v = NULL;
    r->n = 0;
}
