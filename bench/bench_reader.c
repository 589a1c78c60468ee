/* bench_reader.c: throughput of the batch reader (CSV parsing + features + batching), read
 * in full once without a reader thread and once with one, reporting rows/s and MB/s.
 *
 * Build and run (from the repo root):
 *   make lib && cc -std=c11 -D_GNU_SOURCE -O2 -march=x86-64-v3 -Iinclude -Isrc \
 *       bench/bench_reader.c build/release/libmtrec.a -fopenmp -ldnnl -lz -lcjson -lpthread -lm \
 *       -o build/bench_reader
 *   build/release/mtrec synth --rows 1000000 --output_path build/live5_1m.csv
 *   build/bench_reader examples/live5.config build/live5_1m.csv [batch_size] [repeats]
 *   build/bench_reader --wide 1000000 build/wide_1m.csv [batch_size] [repeats]
 *
 * --wide writes (then reads) a 25-column file shaped like the brief's live5-like row: 5 labels,
 * 16 hashed string id columns, one '|' tag list, 3 numbers, with a pipeline built in here.
 *
 * With the thread, the consumer does nothing but touch each batch, so the number shows the
 * reader's own rate (one producer core); without it, the caller's thread does the work.
 * Besides wall-clock rows/s it prints rows per CPU-second of the whole process (both threads),
 * which stays meaningful on a shared machine where other jobs steal the cores. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "util/common.h"
#include "util/rng.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(const mt_pipeline *p, const mt_feature_plan *plan, const char *path, int batch, int prefetch,
               double *secs, double *cpu, int64_t *rows) {
    mt_reader_opts o = {batch, 0, 0, 1, 1, prefetch};
    mt_reader *r;
    mt_err e = {0};
    double t0 = mt_now(), c0 = cpu_now();
    if (mt_reader_open(p, plan, path, &o, &r, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const mt_batch *b;
    int k;
    int64_t n = 0, sink = 0;
    while ((k = mt_reader_next(r, &b, &e)) == 1) {
        n += b->n_rows;
        sink += b->row_index[b->n_rows - 1];
    }
    mt_reader_close(r);
    *secs = mt_now() - t0;
    *cpu = cpu_now() - c0;
    if (k < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    *rows = n + (sink == -1);  /* keep the loop from being optimised away */
    return 0;
}

/* ---- --wide: a generated 25-column file and its pipeline -------------------------------- */
#define WIDE_IDS 16
static const long wide_buckets[WIDE_IDS] = {1000000, 200000, 100000, 100000, 50000, 10000, 10000, 1000,
                                            1000, 500, 100, 100, 50, 20, 10, 10};

static int write_wide(const char *path, long rows) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return 1; }
    fputs("clk,view,dur,mic,mic_dur", f);
    for (int i = 0; i < WIDE_IDS; i++) fprintf(f, ",id%d", i);
    fputs(",tags,num0,num1,num2\n", f);
    mt_rng r;
    mt_rng_seed(&r, 42);
    for (long n = 0; n < rows; n++) {
        int clk = mt_rng_uniform(&r) < 0.1, view = clk && mt_rng_uniform(&r) < 0.5;
        fprintf(f, "%d,%d,%.1f,%d,%.1f", clk, view, view ? 100 * mt_rng_uniform(&r) : 0.0, 0, 0.0);
        for (int i = 0; i < WIDE_IDS; i++) {
            /* skewed popularity: the square of a uniform picks small ids more often */
            double u = mt_rng_uniform(&r);
            fprintf(f, ",%ld", (long)(u * u * (double)wide_buckets[i] * 2) + 1000 * i);
        }
        int nt = (int)mt_rng_below(&r, 6);
        fputc(',', f);
        for (int t = 0; t < nt; t++) fprintf(f, "%st%d", t ? "|" : "", (int)mt_rng_below(&r, 300));
        fprintf(f, ",%.2f,%d,%.1f\n", 10 * mt_rng_uniform(&r), (int)mt_rng_below(&r, 30), 600 * mt_rng_uniform(&r));
    }
    return fclose(f) != 0;
}

static char *wide_config(void) {
    static char buf[16384];
    int k = 0;
#define W(...) (k += snprintf(buf + k, sizeof buf - (size_t)k, __VA_ARGS__))
    W("model_dir: \"/tmp/bench_reader_model\"\ndata_config {\n  input_type: CSVInput\n  with_header: true\n");
    const char *lab[5] = {"clk", "view", "dur", "mic", "mic_dur"};
    for (int i = 0; i < 5; i++)
        W("  input_fields { input_name: \"%s\" input_type: %s }\n", lab[i], i == 2 || i == 4 ? "FLOAT" : "INT32");
    for (int i = 0; i < WIDE_IDS; i++) W("  input_fields { input_name: \"id%d\" input_type: STRING }\n", i);
    W("  input_fields { input_name: \"tags\" input_type: STRING }\n");
    W("  input_fields { input_name: \"num0\" input_type: FLOAT }\n");
    W("  input_fields { input_name: \"num1\" input_type: INT32 }\n");
    W("  input_fields { input_name: \"num2\" input_type: FLOAT }\n");
    for (int i = 0; i < 5; i++) W("  label_fields: \"%s\"\n", lab[i]);
    W("}\nfeature_config {\n");
    for (int i = 0; i < WIDE_IDS; i++)
        W("  features { input_names: \"id%d\" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: %ld }\n",
          i, wide_buckets[i]);
    W("  features { input_names: \"tags\" feature_type: TagFeature embedding_dim: 8 hash_bucket_size: 1000 }\n");
    W("  features { input_names: \"num0\" feature_type: RawFeature }\n");
    W("  features { input_names: \"num1\" feature_type: RawFeature embedding_dim: 8 boundaries: [3, 7, 14, 21] }\n");
    W("  features { input_names: \"num2\" feature_type: RawFeature min_val: 0 max_val: 600 }\n");
    W("}\nmodel_config {\n  model_class: \"DBMTL\"\n  feature_groups {\n    group_name: \"all\"\n");
    for (int i = 0; i < WIDE_IDS; i++) W("    feature_names: \"id%d\"\n", i);
    W("    feature_names: [\"tags\", \"num0\", \"num1\", \"num2\"]\n    wide_deep: DEEP\n  }\n  dbmtl {\n");
    for (int i = 0; i < 5; i++)
        W("    task_towers { tower_name: \"%s\" label_name: \"%s\" loss_type: %s dnn { hidden_units: [8] } }\n",
          lab[i], lab[i], i == 2 || i == 4 ? "L2_LOSS" : "CLASSIFICATION");
    W("  }\n}\n");
#undef W
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s pipeline.config data.csv [batch_size] [repeats]\n"
                        "       %s --wide ROWS out.csv [batch_size] [repeats]\n", argv[0], argv[0]);
        return 2;
    }
    int wide = strcmp(argv[1], "--wide") == 0;
    if (wide) {
        if (argc < 4) return 2;
        if (write_wide(argv[3], atol(argv[2]))) return 1;
        argv += 1;
        argc -= 1;
    }
    int batch = argc > 3 ? atoi(argv[3]) : 1024, reps = argc > 4 ? atoi(argv[4]) : 3;
    mt_pipeline p;
    mt_feature_plan plan;
    mt_err e = {0};
    mtrec_status ls = wide ? mt_pipeline_load_text("wide.config", wide_config(), &p, &e)
                           : mt_pipeline_load(argv[1], &p, &e);
    if (ls || mt_feature_plan_build(&p, &plan, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    struct stat st;
    double mb = stat(argv[2], &st) == 0 ? (double)st.st_size / 1e6 : 0;
    printf("%s: %.1f MB, %d input fields, %d features (%d tables, %d dense), batch %d\n", argv[2], mb,
           p.data.n_input_fields, plan.n_items, plan.n_tables, plan.dense_width, batch);
    for (int prefetch = 0; prefetch <= 4; prefetch += 4) {
        double best = 1e30, best_cpu = 1e30;
        int64_t rows = 0;
        for (int i = 0; i < reps; i++) {
            double s, c;
            if (run(&p, &plan, argv[2], batch, prefetch, &s, &c, &rows)) return 1;
            if (s < best) best = s;
            if (c < best_cpu) best_cpu = c;
        }
        printf("%-15s %8lld rows  wall %6.3f s  %9.0f rows/s  %6.1f MB/s | cpu %6.3f s  %9.0f rows/cpu-s\n",
               prefetch ? "reader thread:" : "no thread:", (long long)rows, best, (double)rows / best,
               mb / best, best_cpu, (double)rows / best_cpu);
    }
    mt_feature_plan_free(&plan);
    mt_pipeline_free(&p);
    return 0;
}
