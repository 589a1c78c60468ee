/* fmapeak.c: the machine's fp32 FMA peak, the denominator of every "fraction of peak" in
 * bench/README.md. Each thread runs a loop of independent fused multiply-adds on vector
 * registers (16 accumulators: enough to cover the FMA latency on two ports), with no memory
 * traffic; GFLOP/s = FMAs x lanes x 2 / seconds. One thread gives the peak of one core; one
 * thread per online CPU, started together behind a barrier, gives the peak of all cores.
 * AVX-512 (16 lanes) when the CPU has it, else AVX2+FMA (8 lanes). Best of --reps runs.
 *
 * Build: cc -std=c11 -D_GNU_SOURCE -O2 bench/fmapeak.c -lpthread -o build/bench/fmapeak
 * Run:   build/bench/fmapeak [--threads N] [--reps R] [--seconds S]
 * The last line is machine-readable ("RESULT fma ..."). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NACC 16

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* iters x NACC FMAs on 16-float registers; returns a value that depends on every lane so
 * the loop cannot be removed. */
__attribute__((target("avx512f"), noinline)) static float fma_avx512(long iters) {
    __m512 acc[NACC];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < NACC; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < NACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    }
    __m512 s = acc[0];
    for (int k = 1; k < NACC; k++) s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) static float fma_avx2(long iters) {
    __m256 acc[NACC];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < NACC; k++) acc[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < NACC; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    }
    __m256 s = acc[0];
    for (int k = 1; k < NACC; k++) s = _mm256_add_ps(s, acc[k]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

static int use512;
static int lanes(void) { return use512 ? 16 : 8; }
static float run_fma(long iters) { return use512 ? fma_avx512(iters) : fma_avx2(iters); }

typedef struct job {
    long iters;
    pthread_barrier_t *bar;
    float sink;
    double t0, t1;          /* this thread's start and end */
} job;

static void *worker(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->bar);
    j->t0 = now();
    j->sink = run_fma(j->iters);
    j->t1 = now();
    return NULL;
}

/* GFLOP/s of T threads each running `iters` loop iterations, over the span from the first
 * thread's start to the last one's end (timed by the workers themselves, so a late wake-up
 * of the main thread cannot shorten it). */
static double measure(int T, long iters) {
    pthread_t th[256];
    job jb[256];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
    for (int t = 0; t < T; t++) {
        jb[t] = (job){iters, &bar, 0, 0, 0};
        pthread_create(&th[t], NULL, worker, &jb[t]);
    }
    pthread_barrier_wait(&bar);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    double t0 = jb[0].t0, t1 = jb[0].t1;
    for (int t = 1; t < T; t++) {
        if (jb[t].t0 < t0) t0 = jb[t].t0;
        if (jb[t].t1 > t1) t1 = jb[t].t1;
    }
    double dt = t1 - t0;
    pthread_barrier_destroy(&bar);
    float s = 0;
    for (int t = 0; t < T; t++) s += jb[t].sink;
    if (s == 12345.0f) printf("#\n");  /* keeps the results live */
    return (double)T * (double)iters * NACC * lanes() * 2.0 / dt / 1e9;
}

int main(int argc, char **argv) {
    int T = (int)sysconf(_SC_NPROCESSORS_ONLN), reps = 5;
    double secs = 0.25;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) secs = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: fmapeak [--threads N] [--reps R] [--seconds S]\n");
            return 2;
        }
    }
    if (T < 1) T = 1;
    if (T > 256) T = 256;
    __builtin_cpu_init();
    use512 = __builtin_cpu_supports("avx512f");
    if (!use512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        fprintf(stderr, "fmapeak: needs AVX2+FMA or AVX-512\n");
        return 1;
    }
    /* calibrate the iteration count to about `secs` seconds on one thread */
    long iters = 4000000;
    double g = measure(1, iters);
    iters = (long)(secs * g * 1e9 / (NACC * lanes() * 2.0));
    if (iters < 1000) iters = 1000;
    if (iters > 4000000000L) iters = 4000000000L;
    double best1 = 0, bestT = 0;
    for (int r = 0; r < reps; r++) {
        double a = measure(1, iters), b = measure(T, iters);
        if (a > best1) best1 = a;
        if (b > bestT) bestT = b;
    }
    printf("fp32 FMA peak (%s, %d accumulators, best of %d): 1 core %.1f GFLOP/s, %d threads %.1f "
           "GFLOP/s (%.2fx)\n", use512 ? "AVX-512, 16 lanes" : "AVX2, 8 lanes", NACC, reps, best1,
           T, bestT, bestT / best1);
    printf("RESULT fma isa=%s peak_1core=%.1f peak_all=%.1f threads=%d\n", use512 ? "avx512" : "avx2",
           best1, bestT, T);
    return 0;
}
