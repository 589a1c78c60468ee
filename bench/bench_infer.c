/* bench_infer.c: serving throughput through the public C API (include/mtrec.h): an export is
 * loaded once (mtrec_model_load), each thread gets its own predictor (mtrec_predictor_create)
 * and calls mtrec_predict_rows on batches of text rows taken from a CSV file, so the number
 * includes what a server pays per request: text -> features (the training code path), the
 * forward pass, and the output transform. Rows/s is total rows over wall time, best of --reps
 * runs of --seconds each, for every thread count in --threads (comma list).
 *
 * Build and run (from the repo root; bench/bench_all.sh does both):
 *   make lib && cc -std=c11 -D_GNU_SOURCE -O2 -march=x86-64-v3 -Iinclude -Isrc \
 *       bench/bench_infer.c build/release/libmtrec.a -fopenmp -ldnnl -lz -lcjson \
 *       -lmicrohttpd -lpthread -lm -o build/bench/bench_infer
 *   build/bench/bench_infer EXPORT_DIR CSV [--batch 1024] [--threads 1,2] [--seconds 2]
 *
 * The CSV needs a header naming the model's inputs (an `mtrec synth` file does); fields are
 * split on ',' without quote handling (synth data has no quoted fields). One line per thread
 * count: "RESULT infer batch=B threads=T rows_per_s=R ...". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mtrec.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- rows of text in the model's input order ---------------------------------------------- */
typedef struct rows {
    int n, n_inputs;
    char **lines;           /* owned line buffers (fields point into them) */
    const char **values;    /* [n * n_inputs] */
} rows;

static int load_rows(const char *path, const mtrec_model *m, int max_rows, rows *R) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return -1; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ni = mtrec_model_num_inputs(m);
    int col_of[512], n_cols = 0;
    char *hdr[512];
    if ((len = getline(&line, &cap, f)) <= 0) { fprintf(stderr, "%s: empty\n", path); return -1; }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    for (char *tok = strtok(line, ","); tok && n_cols < 512; tok = strtok(NULL, ",")) hdr[n_cols++] = tok;
    for (int i = 0; i < ni && i < 512; i++) {
        col_of[i] = -1;
        for (int c = 0; c < n_cols; c++)
            if (!strcmp(hdr[c], mtrec_model_input_name(m, i))) col_of[i] = c;
        if (col_of[i] < 0) {
            fprintf(stderr, "%s: no column '%s' (the model's input %d)\n", path, mtrec_model_input_name(m, i), i);
            return -1;
        }
    }
    R->n_inputs = ni;
    R->lines = calloc((size_t)max_rows, sizeof *R->lines);
    R->values = calloc((size_t)max_rows * (size_t)ni, sizeof *R->values);
    if (!R->lines || !R->values) return -1;
    R->n = 0;
    while (R->n < max_rows && (len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        char *copy = strdup(line);
        if (!copy) return -1;
        R->lines[R->n] = copy;
        const char *fields[512];
        int nf = 0;
        char *p = copy;
        fields[nf++] = p;
        for (; *p; p++)
            if (*p == ',' && nf < 512) { *p = 0; fields[nf++] = p + 1; }
        for (int i = 0; i < ni; i++)
            R->values[(size_t)R->n * ni + i] = col_of[i] < nf ? fields[col_of[i]] : "";
        R->n++;
    }
    free(line);
    fclose(f);
    return R->n > 0 ? 0 : -1;
}

/* ---- one predicting thread ------------------------------------------------------------------ */
typedef struct worker {
    const mtrec_model *m;
    const rows *R;
    int batch, offset;
    double seconds;
    pthread_barrier_t *bar;
    long done;              /* rows predicted */
    int failed;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    mtrec_predictor *p = NULL;
    size_t out_len = mtrec_predict_output_size(w->m, w->batch);
    float *out = malloc(out_len * sizeof *out);
    if (!out || mtrec_predictor_create(w->m, w->batch, &p) != MTREC_OK) w->failed = 1;
    /* warm-up: primitive creation for this batch shape, first touch of buffers */
    int nb = w->R->n / w->batch;
    for (int k = 0; k < 2 && !w->failed; k++)
        if (mtrec_predict_rows(p, w->batch, w->R->values, out, out_len) != MTREC_OK) w->failed = 1;
    pthread_barrier_wait(w->bar);
    double t0 = now();
    long done = 0;
    int k = w->offset;
    while (!w->failed && now() - t0 < w->seconds) {
        const char *const *v = w->R->values + (size_t)(k % nb) * w->batch * w->R->n_inputs;
        if (mtrec_predict_rows(p, w->batch, v, out, out_len) != MTREC_OK) {
            fprintf(stderr, "predict: %s\n", mtrec_last_error());
            w->failed = 1;
        }
        done += w->batch;
        k++;
    }
    w->done = done;
    pthread_barrier_wait(w->bar);
    mtrec_predictor_free(p);
    free(out);
    return NULL;
}

/* rows/s of T threads for `seconds` */
static double run(const mtrec_model *m, const rows *R, int batch, int T, double seconds, int *failed) {
    pthread_t th[64];
    worker w[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
    for (int t = 0; t < T; t++) {
        w[t] = (worker){m, R, batch, t * 3, seconds, &bar, 0, 0};
        pthread_create(&th[t], NULL, work, &w[t]);
    }
    pthread_barrier_wait(&bar);
    double t0 = now();
    pthread_barrier_wait(&bar);  /* every worker stopped */
    double dt = now() - t0;
    long rows_done = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        rows_done += w[t].done;
        *failed |= w[t].failed;
    }
    pthread_barrier_destroy(&bar);
    return (double)rows_done / dt;
}

int main(int argc, char **argv) {
    const char *exp = NULL, *csv = NULL, *tlist = "1,2";
    int batch = 1024, reps = 3;
    double seconds = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--batch") && v) { batch = atoi(v); i++; }
        else if (!strcmp(a, "--threads") && v) { tlist = v; i++; }
        else if (!strcmp(a, "--seconds") && v) { seconds = atof(v); i++; }
        else if (!strcmp(a, "--reps") && v) { reps = atoi(v); i++; }
        else if (a[0] == '-') { exp = NULL; break; }
        else if (!exp) exp = a;
        else if (!csv) csv = a;
    }
    if (!exp || !csv || batch < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_infer EXPORT_DIR CSV [--batch B] [--threads 1,2] [--seconds S] [--reps R]\n");
        return 2;
    }
    mtrec_model *m = NULL;
    if (mtrec_model_load(exp, &m) != MTREC_OK) { fprintf(stderr, "%s\n", mtrec_last_error()); return 1; }
    rows R = {0};
    int want = batch * 8 > 8192 ? batch * 8 : 8192;
    if (load_rows(csv, m, want, &R) != 0) return 1;
    if (R.n < batch) { fprintf(stderr, "%s: fewer than %d rows\n", csv, batch); return 1; }
    printf("model %s (version %s): %d inputs, %d outputs; %d rows of text in memory\n", exp,
           mtrec_model_version(m), mtrec_model_num_inputs(m), mtrec_model_num_outputs(m), R.n);
    char *tl = strdup(tlist);
    for (char *tok = strtok(tl, ","); tok; tok = strtok(NULL, ",")) {
        int T = atoi(tok);
        if (T < 1 || T > 64) continue;
        double best = 0;
        int failed = 0;
        for (int r = 0; r < reps; r++) {
            double x = run(m, &R, batch, T, seconds, &failed);
            if (x > best) best = x;
        }
        if (failed) { fprintf(stderr, "prediction failed\n"); return 1; }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("batch %d, %d thread(s) (one predictor each): %.0f rows/s best of %d x %.1f s\n", batch, T,
               best, reps, seconds);
        printf("RESULT infer batch=%d threads=%d rows_per_s=%.0f rss_mb=%.0f\n", batch, T, best,
               ru.ru_maxrss / 1024.0);
    }
    free(tl);
    for (int i = 0; i < R.n; i++) free(R.lines[i]);
    free(R.lines);
    free(R.values);
    mtrec_model_free(m);
    return 0;
}
