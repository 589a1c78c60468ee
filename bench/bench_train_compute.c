/* bench_train_compute.c: compute-only training speed of a pipeline's DBMTL model. Batches are
 * read from a CSV once (mt_reader) and kept in memory, then whole training steps run over
 * them: forward, loss + backward, and the trainer's update (mt_optim_update on the dense
 * buffer, mt_optim_update_rows on every table's touched rows), as
 * src/train/trainer.c mt_train_apply_update does (timed in two phases here; no clipping:
 * live5 sets none).
 *
 * Reports examples/s (best of --reps timed runs of --steps steps each, and the median),
 * the model's matrix FLOPs (2*B*in*out per dense kernel forward, x3 for a training step:
 * forward, input gradient, weight gradient), effective GFLOP/s, the fraction of --peak
 * GFLOP/s when given, and peak RSS. With --phases it also times forward, loss+backward and
 * the update separately (one extra run).
 *
 * Build and run (from the repo root; bench/bench_all.sh does both):
 *   make lib && cc -std=c11 -D_GNU_SOURCE -O2 -march=x86-64-v3 -Iinclude -Isrc \
 *       bench/bench_train_compute.c build/release/libmtrec.a -fopenmp -ldnnl -lz -lcjson \
 *       -lpthread -lm -o build/bench_train_compute
 *   build/release/mtrec synth --rows 50000 --output_path build/bench/live5_50k.csv
 *   OMP_WAIT_POLICY=passive build/bench_train_compute examples/live5.config \
 *       build/bench/live5_50k.csv --threads 2 --batch 1024
 *
 * The last line is machine-readable ("RESULT train key=value ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "model/dbmtl.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "util/common.h"

typedef struct opts {
    const char *config, *csv;
    int threads, batch, steps, reps, nbatches, bf16, phases;
    double peak;
} opts;

static int usage(void) {
    fprintf(stderr, "usage: bench_train_compute CONFIG CSV [--threads T] [--batch B] [--steps N] "
                    "[--reps R] [--batches NB] [--bf16] [--peak GFLOPS] [--phases]\n");
    return 2;
}

/* ---- batches kept in memory -------------------------------------------------------------- */
/* A deep copy of a reader batch with exact-size arrays (the reader reuses its own). */
typedef struct held_batch {
    mt_batch b;
} held_batch;

static void *dup_mem(const void *src, size_t bytes) {
    if (!src) return NULL;
    void *d = malloc(bytes ? bytes : 1);
    if (d) memcpy(d, src, bytes);
    return d;
}

static int batch_copy(const mt_feature_plan *plan, const mt_batch *s, mt_batch *d) {
    memset(d, 0, sizeof *d);
    int n = s->n_rows, ni = s->n_items;
    d->n_rows = n;
    d->capacity = n;
    d->n_items = ni;
    d->offsets = calloc((size_t)ni, sizeof *d->offsets);
    d->ids = calloc((size_t)ni, sizeof *d->ids);
    d->weights = calloc((size_t)ni, sizeof *d->weights);
    d->ids_capacity = calloc((size_t)ni, sizeof *d->ids_capacity);
    if (!d->offsets || !d->ids || !d->weights || !d->ids_capacity) return -1;
    for (int i = 0; i < ni; i++) {
        if (!s->offsets || !s->offsets[i]) continue;
        int64_t nid = s->offsets[i][n];
        d->offsets[i] = dup_mem(s->offsets[i], (size_t)(n + 1) * sizeof(int32_t));
        d->ids[i] = dup_mem(s->ids[i], (size_t)nid * sizeof(int64_t));
        if (s->weights && s->weights[i])
            d->weights[i] = dup_mem(s->weights[i], (size_t)nid * sizeof(mt_real));
        d->ids_capacity[i] = nid;
    }
    d->dense = dup_mem(s->dense, (size_t)n * (size_t)plan->dense_width * sizeof(mt_real));
    d->labels = dup_mem(s->labels, (size_t)n * (size_t)plan->n_labels * sizeof(mt_real));
    d->sample_weight = dup_mem(s->sample_weight, (size_t)n * sizeof(mt_real));
    d->keys = dup_mem(s->keys, (size_t)n * (size_t)plan->n_keys * sizeof(uint64_t));
    d->row_index = dup_mem(s->row_index, (size_t)n * sizeof(int64_t));
    return 0;
}

static void batch_release(mt_batch *d) {
    for (int i = 0; i < d->n_items; i++) {
        if (d->offsets) free(d->offsets[i]);
        if (d->ids) free(d->ids[i]);
        if (d->weights) free(d->weights[i]);
    }
    free(d->offsets); free(d->ids); free(d->weights); free(d->ids_capacity);
    free(d->dense); free(d->labels); free(d->sample_weight); free(d->keys); free(d->row_index);
}

/* ---- one training step, as the trainer does it ------------------------------------------ */
static double t_fwd, t_bwd, t_upd;

static mtrec_status train_step(mt_model *m, const mt_batch *b, int64_t step, int timed, mt_err *e) {
    const mt_pipeline *p = m->p;
    double t0 = timed ? mt_now() : 0;
    mtrec_status st = mt_model_forward(m, b, 1, e);
    if (st != MTREC_OK) return st;
    double t1 = timed ? mt_now() : 0;
    if ((st = mt_model_loss_backward(m, b, 1, 1, e)) != MTREC_OK) return st;
    double t2 = timed ? mt_now() : 0;
    mt_train_apply_update(m, step, mt_lr_at(&p->train.optimizer.lr, step));  /* the trainer's */
    if (timed) {
        t_fwd += t1 - t0;
        t_bwd += t2 - t1;
        t_upd += mt_now() - t2;
    }
    return MTREC_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    opts o = {.threads = 1, .batch = 1024, .steps = 30, .reps = 5, .nbatches = 16};
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--threads") && v) { o.threads = atoi(v); i++; }
        else if (!strcmp(a, "--batch") && v) { o.batch = atoi(v); i++; }
        else if (!strcmp(a, "--steps") && v) { o.steps = atoi(v); i++; }
        else if (!strcmp(a, "--reps") && v) { o.reps = atoi(v); i++; }
        else if (!strcmp(a, "--batches") && v) { o.nbatches = atoi(v); i++; }
        else if (!strcmp(a, "--peak") && v) { o.peak = atof(v); i++; }
        else if (!strcmp(a, "--bf16")) o.bf16 = 1;
        else if (!strcmp(a, "--phases")) o.phases = 1;
        else if (a[0] == '-') return usage();
        else if (pos == 0) { o.config = a; pos++; }
        else if (pos == 1) { o.csv = a; pos++; }
        else return usage();
    }
    if (!o.config || !o.csv || o.threads < 1 || o.batch < 1 || o.steps < 1 || o.reps < 1 ||
        o.nbatches < 1)
        return usage();

    mt_err e = {0};
    mt_pipeline p;
    memset(&p, 0, sizeof p);
    if (mt_pipeline_load(o.config, &p, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); return 1; }
    p.data.batch_size = o.batch;
    int bf16 = o.bf16 || (p.train.mixed_precision && !strcmp(p.train.mixed_precision, "BF16"));
    mt_mm *mm = NULL;
    mt_model *m = NULL;
    if (mt_mm_create(o.threads, bf16, &mm, &e) != MTREC_OK ||
        mt_model_create(&p, o.batch, mm, 7, &m, &e) != MTREC_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }

    /* read the batches once */
    mt_batch *held = calloc((size_t)o.nbatches, sizeof *held);
    int nb = 0;
    mt_reader_opts ro = {.batch_size = o.batch, .shuffle = 0, .seed = 1, .num_epochs = 1};
    mt_reader *rd = NULL;
    if (!held || mt_reader_open(&p, &m->plan, o.csv, &ro, &rd, &e) != MTREC_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const mt_batch *b;
    int rc;
    while (nb < o.nbatches && (rc = mt_reader_next(rd, &b, &e)) == 1) {
        if (b->n_rows != o.batch) break;  /* full batches only */
        if (batch_copy(&m->plan, b, &held[nb]) != 0) { fprintf(stderr, "out of memory\n"); return 1; }
        nb++;
    }
    mt_reader_close(rd);
    if (nb == 0) { fprintf(stderr, "%s: no full batch of %d rows\n", o.csv, o.batch); return 1; }

    /* model matrix FLOPs per example: 2*in*out per dense kernel (forward) */
    double fwd_flops = 0;
    for (int i = 0; i < m->n_info; i++)
        if (m->info[i].is_kernel) fwd_flops += 2.0 * (double)m->info[i].shape[0] * (double)m->info[i].shape[1];
    double step_flops = 3.0 * fwd_flops * o.batch;

    /* warm-up: primitive creation (JIT), first touch of every buffer */
    int64_t step = 0;
    for (int k = 0; k < 3; k++, step++)
        if (train_step(m, &held[step % nb], step, 0, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); return 1; }

    double *rate = calloc((size_t)o.reps, sizeof *rate);
    for (int r = 0; r < o.reps; r++) {
        double t0 = mt_now();
        for (int k = 0; k < o.steps; k++, step++)
            if (train_step(m, &held[step % nb], step, 0, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); return 1; }
        rate[r] = (double)o.steps * o.batch / (mt_now() - t0);
    }
    if (o.phases) {
        for (int k = 0; k < o.steps; k++, step++)
            if (train_step(m, &held[step % nb], step, 1, &e) != MTREC_OK) { fprintf(stderr, "%s\n", e.msg); return 1; }
    }
    qsort(rate, (size_t)o.reps, sizeof *rate, cmp_double);
    double best = rate[o.reps - 1], med = rate[o.reps / 2];
    double gflops = best / o.batch * step_flops / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    printf("model: %s, %zu dense / %lld embedding parameters, backend %s, BN kernels %s\n", o.config,
           mt_model_dense_count(m), (long long)mt_model_embedding_count(m), mt_mm_backend_name(mm),
           mt_bn_kernels_avx512(-1) ? "AVX-512 copy" : "plain copy");
    printf("batch %d, %d thread(s), %s: %.0f examples/s best of %d (median %.0f), %.2f ms/step, "
           "%.3f GFLOP/step -> %.1f GFLOP/s", o.batch, o.threads, bf16 ? "bf16" : "fp32", best,
           o.reps, med, 1e3 * o.batch / best, step_flops / 1e9, gflops);
    if (o.peak > 0) printf(" = %.1f%% of %.0f GFLOP/s peak", 100 * gflops / o.peak, o.peak);
    printf("\n");
    if (o.phases) {
        double tot = t_fwd + t_bwd + t_upd;
        printf("phases (one run of %d steps): forward %.2f ms (%.0f%%), loss+backward %.2f ms (%.0f%%), "
               "update (dense and embedding rows) %.2f ms (%.0f%%)\n", o.steps, 1e3 * t_fwd / o.steps,
               100 * t_fwd / tot, 1e3 * t_bwd / o.steps, 100 * t_bwd / tot, 1e3 * t_upd / o.steps,
               100 * t_upd / tot);
    }
    printf("RESULT train batch=%d threads=%d bf16=%d ex_per_s=%.0f median=%.0f ms_per_step=%.3f "
           "gflop_per_step=%.4f gflops=%.1f peak_frac=%.3f rss_mb=%.0f loss=%.5f\n",
           o.batch, o.threads, bf16, best, med, 1e3 * o.batch / best, step_flops / 1e9, gflops,
           o.peak > 0 ? gflops / o.peak : 0.0, ru.ru_maxrss / 1024.0, m->total_loss);
    free(rate);
    for (int i = 0; i < nb; i++) batch_release(&held[i]);
    free(held);
    mt_model_free(m);
    mt_mm_free(mm);
    mt_pipeline_free(&p);
    return 0;
}
