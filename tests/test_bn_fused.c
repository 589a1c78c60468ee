/* test_bn_fused.c: the fused training kernels of src/nn/layers.c (float build) against the
 * unfused layers they replace, for column counts that split into thread blocks of 16..64
 * columns and ragged ones (5, 100, 130), several activations, with and without a dropout
 * mask:
 *   mt_bn_act_forward_train  = mt_bn_forward_train + mt_act_forward
 *   mt_bn_act_backward       = mask, mt_act_backward, mt_bn_backward, bias column sums
 *   mt_act_bias_backward     = mask, mt_act_backward, bias column sums
 * and the fused results are bit-identical at 1 and 2 threads (columns are split differently,
 * each column's arithmetic is not), and between the kernels' plain and AVX-512 copies
 * (mt_bn_kernels_avx512), f32 and bf16 outputs alike. The unfused layers have their own
 * finite-difference tests in test_nn_dbl.c. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers_internal.h" /* mt_bn_native_bf16 */
#include "nn/nn.h"
#include "test.h"
#include "util/rng.h"

typedef struct bufs {
    int B, N;
    float *in, *gamma, *beta, *dout, *mask;
    float *out, *mean, *rstd, *mm, *mv;                  /* fused forward */
    float *din, *dg, *dbt, *dbias;                       /* fused backward */
} bufs;

static float *fa(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static void fill(mt_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)mt_rng_uniform(r);
}

static void bufs_init(bufs *b, int B, int N, unsigned seed) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->N = N;
    size_t n = (size_t)B * N;
    mt_rng r;
    mt_rng_seed(&r, seed);
    b->in = fa(n); b->dout = fa(n); b->mask = fa(n); b->gamma = fa(N); b->beta = fa(N);
    fill(&r, b->in, n, -2, 3);
    for (int j = 0; j < N; j++)  /* columns with different offsets and scales */
        for (int i = 0; i < B; i++) b->in[(size_t)i * N + j] = b->in[(size_t)i * N + j] * (1 + j % 7) + (float)(j % 5);
    fill(&r, b->dout, n, -1, 1);
    for (size_t i = 0; i < n; i++) b->mask[i] = mt_rng_uniform(&r) < 0.2 ? 0.0f : 1.25f;
    fill(&r, b->gamma, N, 0.5f, 1.5f);
    fill(&r, b->beta, N, -0.5f, 0.5f);
    b->out = fa(n); b->mean = fa(N); b->rstd = fa(N); b->mm = fa(N); b->mv = fa(N);
    b->din = fa(n); b->dg = fa(N); b->dbt = fa(N); b->dbias = fa(N);
    for (int j = 0; j < N; j++) b->mv[j] = 1;
}

static void bufs_free(bufs *b) {
    float *all[] = {b->in, b->gamma, b->beta, b->dout, b->mask, b->out, b->mean, b->rstd, b->mm,
                    b->mv, b->din, b->dg, b->dbt, b->dbias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static void run_fused(bufs *b, mt_activation a, int use_mask) {
    mt_bn_act_forward_train(b->out, b->mean, b->rstd, b->in, b->gamma, b->beta, b->mm, b->mv, b->B, b->N,
                            0.9f, 1e-3f, a);
    memset(b->dg, 0, (size_t)b->N * sizeof(float));
    memset(b->dbt, 0, (size_t)b->N * sizeof(float));
    memset(b->dbias, 0, (size_t)b->N * sizeof(float));
    mt_bn_act_backward(b->din, b->dg, b->dbt, b->dbias, b->dout, use_mask ? b->mask : NULL, b->out, b->in,
                       b->mean, b->rstd, b->gamma, b->beta, b->B, b->N, a);
}

/* entries of x and y further apart than tol * (scale + |y|) */
static int n_far(const float *x, const float *y, size_t n, double tol, double scale) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += !(fabs((double)x[i] - y[i]) <= tol * (scale + fabs((double)y[i])));
    return bad;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

static void check_case(int B, int N, mt_activation a, int use_mask) {
    bufs f;
    bufs_init(&f, B, N, (unsigned)(N * 31 + (int)a * 7 + use_mask));
    size_t n = (size_t)B * N;
    omp_set_num_threads(2);
    run_fused(&f, a, use_mask);

    /* reference: unfused layers */
    float *pre = fa(n), *out = fa(n), *mean = fa(N), *rstd = fa(N), *mm = fa(N), *mv = fa(N);
    for (int j = 0; j < N; j++) mv[j] = 1;
    mt_bn_forward_train(pre, mean, rstd, f.in, f.gamma, f.beta, mm, mv, B, N, 0.9f, 1e-3f);
    mt_act_forward(a, out, pre, (int64_t)n);
    float *g = fa(n), *dpre = fa(n), *din = fa(n), *dg = fa(N), *dbt = fa(N), *dbias = fa(N);
    for (size_t i = 0; i < n; i++) g[i] = f.dout[i] * (use_mask ? f.mask[i] : 1);
    mt_act_backward(a, dpre, g, pre, out, (int64_t)n);
    mt_bn_backward(din, dg, dbt, dpre, f.in, mean, rstd, f.gamma, B, N);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) dbias[j] += din[(size_t)i * N + j];

    int bad = 0;
    bad += n_far(f.mean, mean, (size_t)N, 1e-5, 1);
    bad += n_far(f.rstd, rstd, (size_t)N, 1e-5, 0);
    bad += n_far(f.mm, mm, (size_t)N, 1e-5, 1);
    bad += n_far(f.mv, mv, (size_t)N, 1e-5, 1);
    bad += n_far(f.out, out, n, 1e-5, 1);
    double sd = max_abs(din, n), sg = max_abs(dg, (size_t)N), sb = max_abs(dbt, (size_t)N);
    bad += n_far(f.din, din, n, 1e-4, sd);
    bad += n_far(f.dg, dg, (size_t)N, 1e-4, sg);
    bad += n_far(f.dbt, dbt, (size_t)N, 1e-4, sb);
    bad += n_far(f.dbias, dbias, (size_t)N, 1e-3, sd * 8);
    CHECK_MSG(bad == 0, "B=%d N=%d act=%d mask=%d: %d values differ from the unfused layers", B, N, (int)a,
              use_mask, bad);

    /* 1 thread: the same bits */
    bufs s;
    bufs_init(&s, B, N, (unsigned)(N * 31 + (int)a * 7 + use_mask));
    omp_set_num_threads(1);
    run_fused(&s, a, use_mask);
    omp_set_num_threads(2);
    int same = !memcmp(s.out, f.out, n * sizeof(float)) && !memcmp(s.din, f.din, n * sizeof(float)) &&
               !memcmp(s.mean, f.mean, (size_t)N * 4) && !memcmp(s.rstd, f.rstd, (size_t)N * 4) &&
               !memcmp(s.dg, f.dg, (size_t)N * 4) && !memcmp(s.dbt, f.dbt, (size_t)N * 4) &&
               !memcmp(s.dbias, f.dbias, (size_t)N * 4);
    CHECK_MSG(same, "B=%d N=%d act=%d: 1 and 2 threads differ", B, N, (int)a);
    bufs_free(&s);

    /* activation + bias backward without BN */
    float *d2 = fa(n), *db2 = fa(N), *d3 = fa(n), *db3 = fa(N);
    mt_act_bias_backward(d2, db2, f.dout, use_mask ? f.mask : NULL, pre, out, B, N, a);
    mt_act_backward(a, d3, g, pre, out, (int64_t)n);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) db3[j] += d3[(size_t)i * N + j];
    double s3 = max_abs(d3, n);
    CHECK_MSG(n_far(d2, d3, n, 1e-6, s3) == 0 && n_far(db2, db3, (size_t)N, 1e-4, s3 * 8) == 0,
              "act_bias_backward B=%d N=%d act=%d", B, N, (int)a);
    free(d2); free(db2); free(d3); free(db3);
    free(pre); free(out); free(mean); free(rstd); free(mm); free(mv);
    free(g); free(dpre); free(din); free(dg); free(dbt); free(dbias);
    bufs_free(&f);
}

static void test_fused_vs_unfused(void) {
    const int widths[] = {5, 16, 32, 48, 64, 96, 100, 128, 130, 256};
    const mt_activation acts[] = {MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_LINEAR, MT_ACT_TANH, MT_ACT_SWISH};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++)
            check_case(1000, widths[w], acts[k], (int)(w + k) % 2);
    check_case(64, 64, MT_ACT_RELU, 1);   /* one row block */
    check_case(3, 48, MT_ACT_GELU, 0);    /* tiny batch */
}

/* Every output of the three kernels (f32, and the bf16 hand-off outputs) from one copy. */
typedef struct outs {
    float *out, *mean, *rstd, *mm, *mv, *din, *dg, *dbt, *dbias, *d2, *db2;
    uint16_t *out16, *din16;
} outs;

static void run_copy(const bufs *b, mt_activation a, int use_mask, outs *o) {
    int B = b->B, N = b->N;
    size_t n = (size_t)B * N;
    float **f[] = {&o->out, &o->din, &o->d2};
    for (int i = 0; i < 3; i++) *f[i] = fa(n);
    float **v[] = {&o->mean, &o->rstd, &o->mm, &o->mv, &o->dg, &o->dbt, &o->dbias, &o->db2};
    for (int i = 0; i < 8; i++) *v[i] = fa((size_t)N);
    for (int j = 0; j < N; j++) o->mv[j] = 1;
    o->out16 = calloc(n, 2);
    o->din16 = calloc(n, 2);
    const float *mask = use_mask ? b->mask : NULL;
    mt_bn_act_forward_train(o->out, o->mean, o->rstd, b->in, b->gamma, b->beta, o->mm, o->mv, B, N, 0.9f,
                            1e-3f, a);
    mt_bn_act_forward_train_to(NULL, o->out16, 0, o->mean, o->rstd, b->in, b->gamma, b->beta, NULL, NULL, B,
                               N, 0.9f, 1e-3f, a);
    mt_bn_act_backward(o->din, o->dg, o->dbt, o->dbias, b->dout, mask, o->out, b->in, o->mean, o->rstd,
                       b->gamma, b->beta, B, N, a);
    float *scratch = fa(n);
    mt_bn_act_backward_to(scratch, o->din16, NULL, NULL, NULL, b->dout, mask, o->out, b->in, o->mean,
                          o->rstd, b->gamma, b->beta, B, N, a);
    free(scratch);
    mt_act_bias_backward(o->d2, o->db2, b->dout, mask, b->in, o->out, B, N, a);
}

static int outs_same(const outs *x, const outs *y, size_t n, size_t N) {
    return !memcmp(x->out, y->out, n * 4) && !memcmp(x->din, y->din, n * 4) &&
           !memcmp(x->d2, y->d2, n * 4) && !memcmp(x->out16, y->out16, n * 2) &&
           !memcmp(x->din16, y->din16, n * 2) && !memcmp(x->mean, y->mean, N * 4) &&
           !memcmp(x->rstd, y->rstd, N * 4) && !memcmp(x->mm, y->mm, N * 4) &&
           !memcmp(x->mv, y->mv, N * 4) && !memcmp(x->dg, y->dg, N * 4) &&
           !memcmp(x->dbt, y->dbt, N * 4) && !memcmp(x->dbias, y->dbias, N * 4) &&
           !memcmp(x->db2, y->db2, N * 4);
}

static void outs_free(outs *o) {
    float *all[] = {o->out, o->mean, o->rstd, o->mm, o->mv, o->din, o->dg, o->dbt, o->dbias, o->d2, o->db2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    free(o->out16);
    free(o->din16);
}

/* The plain and the AVX-512 copy of the kernels give the same bits (widths that take the
 * 16- and 32-column strips and ragged ones, every activation, masks, 1 and 2 threads), the
 * AVX-512 copy with either bf16 conversion. */
static void test_isa_copies_same_bits(void) {
    int had = mt_bn_kernels_avx512(-1);
    if (!mt_bn_kernels_avx512(1)) {
        printf("  (this CPU has no AVX-512: only the plain copy exists here)\n");
        mt_bn_kernels_avx512(had);
        return;
    }
    /* where the CPU converts to bf16 itself, the copy's hand-off outputs use it
     * (mt_bn_native_bf16): the same bits as the integer conversion for these values */
    int native = mt_bn_native_bf16;
    printf("  (bf16 hand-off conversion in the AVX-512 copy: %s)\n",
           native > 0 ? "vcvtne2ps2bf16, and the integer one" : "integer");
    CHECK(native == 0 || native == 1);
    const int widths[] = {5, 16, 32, 48, 64, 96, 100, 128, 256};
    const mt_activation acts[] = {MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_LINEAR, MT_ACT_TANH,
                                  MT_ACT_SIGMOID, MT_ACT_ELU, MT_ACT_SELU, MT_ACT_SWISH, MT_ACT_GELU};
    int cases = 0, same = 0;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
            int B = 300 + (int)w * 37, N = widths[w], use_mask = (int)(w + k) % 2;
            bufs b;
            bufs_init(&b, B, N, (unsigned)(N * 13 + (int)k));
            omp_set_num_threads(1 + (int)(k % 2));
            outs x, y;
            mt_bn_kernels_avx512(0);
            run_copy(&b, acts[k], use_mask, &x);
            mt_bn_kernels_avx512(1);
            run_copy(&b, acts[k], use_mask, &y);
            int ok = outs_same(&x, &y, (size_t)B * N, (size_t)N);
            if (native > 0) {  /* and the AVX-512 copy with the integer bf16 conversion */
                outs z;
                mt_bn_native_bf16 = 0;
                run_copy(&b, acts[k], use_mask, &z);
                mt_bn_native_bf16 = native;
                ok &= outs_same(&x, &z, (size_t)B * N, (size_t)N);
                outs_free(&z);
            }
            CHECK_MSG(ok, "B=%d N=%d act=%d mask=%d: the AVX-512 copy differs from the plain one", B, N,
                      (int)acts[k], use_mask);
            cases++;
            same += ok;
            outs_free(&x);
            outs_free(&y);
            bufs_free(&b);
        }
    omp_set_num_threads(2);
    CHECK(cases == 81 && same == cases);
    mt_bn_kernels_avx512(had);
}

/* mt_copy_cols_bf16 (the relation inputs', X's and the bottom kernel blocks' hand-off): each
 * value as mt_bf16_from_f32 rounds it, into the right columns only, with the CPU's own
 * conversion and with the integer one (ragged widths, offsets, 1 and 2 threads). */
static void test_copy_cols_bf16(void) {
    int native = mt_bn_native_bf16;
    const int widths[] = {1, 5, 16, 33, 64, 100};
    mt_rng r;
    mt_rng_seed(&r, 77);
    int bad = 0, cases = 0;
    for (int v = 0; v < 2; v++) {
        mt_bn_native_bf16 = v ? native : 0;
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
            for (int th = 1; th <= 2; th++) {
                omp_set_num_threads(th);
                int B = 700, W = widths[w], ss = W + 3, ds = W + 7;
                float *src = fa((size_t)B * ss);
                uint16_t *dst = malloc((size_t)B * ds * 2);
                for (int i = 0; i < B * ss; i++) src[i] = (float)(mt_rng_normal(&r) * 3.0);
                src[1] = 0.0f;
                src[2] = -0.0f;
                memset(dst, 0xab, (size_t)B * ds * 2);
                mt_copy_cols_bf16(dst, ds, 4, src, ss, 2, B, W > ds - 4 ? ds - 4 : W);
                for (int i = 0; i < B; i++)
                    for (int j = 0; j < ds; j++) {
                        int in = j >= 4 && j < 4 + W;
                        uint16_t want = in ? mt_bf16_from_f32(src[(size_t)i * ss + 2 + j - 4]) : 0xabab;
                        bad += dst[(size_t)i * ds + j] != want;
                    }
                cases++;
                free(src);
                free(dst);
            }
    }
    mt_bn_native_bf16 = native;
    omp_set_num_threads(2);
    CHECK_MSG(bad == 0, "%d values differ", bad);
    CHECK(cases == 24);
}

int main(void) {
    RUN(test_fused_vs_unfused);
    RUN(test_isa_copies_same_bits);
    RUN(test_copy_cols_bf16);
    return test_summary();
}
