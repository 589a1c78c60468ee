/* test_matmul.c: the oneDNN matrix backend (float build) against a double-precision
 * reference loop written here: all four transpose combinations, beta 0 and 1, odd shapes,
 * cached primitives reused with other buffers, 1 and 2 threads, bf16 mode where the CPU
 * has it, its bf16 hand-off slots (mt_mm_bf16_slot, mt_mm_bf16_alias), argument errors; and
 * mt_dense_forward/backward through the backend. */
#include <stdint.h>

#include "nn/nn.h"
#include "nn/vecmath.h"
#include "test.h"
#include "util/rng.h"

/* Fill with uniform values in [-1, 1). */
static void fill(mt_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * mt_rng_uniform(r) - 1);
}

/* Element (i,j) of op(A) op(B) + beta C0 in double; *mag = sum_k |a b| + beta |C0|. */
static double ref_elem(int ta, int tb, int M, int N, int K, const float *A, const float *B,
                       int beta, const float *C0, int i, int j, double *mag) {
    double acc = 0, m = 0;
    for (int k = 0; k < K; k++) {
        double a = ta ? A[(size_t)k * M + i] : A[(size_t)i * K + k];
        double b = tb ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
        acc += a * b;
        m += fabs(a * b);
    }
    if (beta) {
        acc += C0[(size_t)i * N + j];
        m += fabs(C0[(size_t)i * N + j]);
    }
    *mag = m;
    return acc;
}

/* Runs one product twice (second time on fresh buffers so the cached primitive is re-pointed)
 * and returns the number of elements outside tolerance rel * mag + 1e-6. */
static int run_case(mt_mm *m, mt_rng *r, int ta, int tb, int M, int N, int K, int beta,
                    double rel) {
    int bad = 0;
    for (int rep = 0; rep < 2; rep++) {
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
        float *C = malloc(nc * sizeof *C), *C0 = malloc(nc * sizeof *C0);
        fill(r, A, na);
        fill(r, B, nb);
        fill(r, C0, nc);
        memcpy(C, C0, nc * sizeof *C);
        mtrec_status s = mt_mm_gemm(m, ta, tb, M, N, K, A, B, (float)beta, C);
        CHECK_MSG(s == MTREC_OK, "gemm status %d", (int)s);
        /* big products: every 13th element (all rows and columns are still visited) */
        size_t step = nc > 65536 ? 13 : 1;
        for (size_t i = 0; i < nc; i += step) {
            double mag, ref = ref_elem(ta, tb, M, N, K, A, B, beta, C0, (int)(i / N),
                                       (int)(i % N), &mag);
            if (!(fabs(C[i] - ref) <= rel * mag + 1e-6)) {
                if (bad < 3)
                    fprintf(stderr, "  ta=%d tb=%d %dx%dx%d beta=%d [%zu]: %.8g vs %.8g\n", ta,
                            tb, M, N, K, beta, i, C[i], ref);
                bad++;
            }
        }
        free(A); free(B); free(C); free(C0);
    }
    return bad;
}

/* {25, 97, 130}: as a weight gradient (ta=1), a tail in every loop of mt_mm_wgrad_avx512
 * (rows of 12, panels of 32 columns, batch chunks of 64). With a plain A (ta=0), from 32 rows
 * on, 16 columns on and a packed B up to 512 KB, mt_mm_fwd_avx512 on a one-thread backend:
 * {37, 45, 300} has a row tile of 1 and a panel of 13 columns (two vectors, the second
 * masked), {100, 20, 1} K = 1 and a panel of 20, {1024, 512, 256} the largest B it takes and
 * rows far past the prefetch distance; {64, 600, 300} is over its B limit (oneDNN). */
static const int shapes[][3] = {{1, 1, 1},     {3, 5, 7},       {17, 33, 65},
                                {1024, 512, 256}, {64, 1, 9},   {25, 97, 130},
                                {37, 45, 300},  {100, 20, 1},   {64, 600, 300}};

static void sweep(int threads, int bf16, double rel) {
    mt_mm *m = NULL;
    mt_err e;
    CHECK(mt_mm_create(threads, bf16, &m, &e) == MTREC_OK);
    if (!m) return;
    mt_rng r;
    mt_rng_seed(&r, 42 + (uint64_t)threads);
    for (size_t s = 0; s < MT_ARRAY_LEN(shapes); s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta = 0; beta < 2; beta++) {
                    int bad = run_case(m, &r, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                                       beta, rel);
                    CHECK_MSG(bad == 0, "threads=%d bf16=%d ta=%d tb=%d %dx%dx%d beta=%d: %d bad",
                              threads, bf16, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                              beta, bad);
                }
    printf("# %d thread(s): %s\n", threads, mt_mm_backend_name(m));
    mt_mm_free(m);
}

/* fp32: accumulation of K products, each within 2^-24 relative; K eps bounds it. */
static void test_fp32_1thread(void) { sweep(1, 0, 1e-6 + 256 * 6e-8); }
static void test_fp32_2threads(void) { sweep(2, 0, 1e-6 + 256 * 6e-8); }

/* The same sweep with the weight-gradient products (ta=1, tb=0) on oneDNN instead of the
 * hand-written AVX-512 kernel, and the backend's name saying which one runs. */
/* mt_mm_gemm_ld: a product into a block (columns 5..5+N) of a wider matrix, written (beta 0)
 * or accumulated (beta 1); the elements around the block are untouched. Every transpose
 * combination (ta=1, tb=0 on the AVX-512 weight-gradient kernel where the CPU has it); a
 * row stride below N is refused. The plain-A products (ta=0) run on the AVX-512
 * forward/input-gradient kernel where the CPU has it (41 rows: three tiles of 12 and 5). */
static void test_gemm_ld_block(void) {
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    if (!m) return;
    enum { M = 41, N = 45, K = 150, LD = 60, C0 = 5 };
    float *A = malloc(sizeof(float) * M * K), *Bm = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * LD), *R = malloc(sizeof(float) * M * LD);
    mt_rng r;
    mt_rng_seed(&r, 7);
    fill(&r, A, (size_t)M * K);
    fill(&r, Bm, (size_t)K * N);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                fill(&r, C, (size_t)M * LD);
                memcpy(R, C, sizeof(float) * M * LD);
                CHECK(mt_mm_gemm_ld(m, ta, tb, M, N, K, A, Bm, (float)beta, C + C0, LD, 0) == MTREC_OK);
                int bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < LD; j++) {
                        double ref = R[i * LD + j], mag = fabs(ref);
                        if (j >= C0 && j < C0 + N) {
                            double p = ref_elem(ta, tb, M, N, K, A, Bm, 0, NULL, i, j - C0, &mag);
                            ref = beta ? ref + p : p;
                            if (beta) mag += fabs((double)R[i * LD + j]);
                        }
                        bad += !(fabs(C[i * LD + j] - ref) <= 2e-5 * mag + 1e-6);
                    }
                CHECK_MSG(bad == 0, "ta=%d tb=%d beta=%d: %d elements off", ta, tb, beta, bad);
            }
    CHECK(mt_mm_gemm_ld(m, 1, 0, M, N, K, A, Bm, 1, C, N - 1, 0) == MTREC_ERR_ARG);
    free(A); free(Bm); free(C); free(R);
    mt_mm_free(m);
}

static void test_fp32_wgrad_kernel_off(void) {
    int had = mt_mm_wgrad_kernel(-1);
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    if (m) {
        float a = 1, b = 2, c = 0;  /* a product sets the name's implementation part */
        CHECK(mt_mm_gemm(m, 1, 0, 1, 1, 1, &a, &b, 0, &c) == MTREC_OK && c == 2);
        CHECK_MSG((strstr(mt_mm_backend_name(m), "weight-gradient") != NULL) == had,
                  "name '%s', kernel %d", mt_mm_backend_name(m), had);
        mt_mm_free(m);
    }
    if (!had) printf("# this CPU has no AVX-512: the weight gradients always run on oneDNN\n");
    CHECK(mt_mm_wgrad_kernel(0) == 0);
    sweep(1, 0, 1e-6 + 256 * 6e-8);
    test_gemm_ld_block();  /* the block products on oneDNN too */
    mt_mm_wgrad_kernel(had);
    CHECK(mt_mm_wgrad_kernel(-1) == had);
}

/* mt_mm_gemm_epilogue on a one-thread backend against double loops: with a bias only (the
 * training forward), without one, with bias, scale, shift and relu, and with scale and
 * leaky relu (inference's folded batch norm): the AVX-512 forward kernel where the CPU has
 * it, oneDNN's post-ops otherwise (and below the kernel's 32 rows). Shapes with tails in the
 * kernel's rows and panels, and one below its 32 rows. */
static void test_epilogue_bias(void) {
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    if (!m) return;
    static const int sh[][3] = {{37, 45, 300}, {1024, 96, 128}, {64, 7, 5}, {20, 33, 17}};
    mt_rng r;
    mt_rng_seed(&r, 11);
    for (size_t s = 0; s < MT_ARRAY_LEN(sh); s++) {
        const int M = sh[s][0], N = sh[s][1], K = sh[s][2];
        float *A = malloc(sizeof(float) * M * K), *Bm = malloc(sizeof(float) * K * N);
        float *C = malloc(sizeof(float) * M * N), *v = malloc(sizeof(float) * 3 * N);
        fill(&r, A, (size_t)M * K);
        fill(&r, Bm, (size_t)K * N);
        fill(&r, v, (size_t)3 * N);
        for (int mode = 0; mode < 4; mode++) {  /* 0 bias, 1 none, 2 bias scale shift relu,
                                                 * 3 scale leaky relu */
            const float *bias = mode == 1 || mode == 3 ? NULL : v;
            const float *scale = mode >= 2 ? v + N : NULL, *shift = mode == 2 ? v + 2 * N : NULL;
            mt_activation act = mode == 2 ? MT_ACT_RELU : mode == 3 ? MT_ACT_LEAKY_RELU : MT_ACT_LINEAR;
            fill(&r, C, (size_t)M * N);  /* written over, never read */
            CHECK(mt_mm_gemm_epilogue(m, M, N, K, A, Bm, bias, scale, shift, act, C, 0) == MTREC_OK);
            int bad = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double mag, ref = ref_elem(0, 0, M, N, K, A, Bm, 0, NULL, i, j, &mag);
                    if (bias) ref += bias[j], mag += fabs(bias[j]);
                    if (scale) ref *= scale[j], mag *= fabs(scale[j]);
                    if (shift) ref += shift[j], mag += fabs(shift[j]);
                    if (act == MT_ACT_RELU && ref < 0) ref = 0;
                    if (act == MT_ACT_LEAKY_RELU && ref < 0) ref *= 0.2, mag *= 0.2;
                    bad += !(fabs(C[(size_t)i * N + j] - ref) <= 2e-5 * mag + 1e-6);
                }
            CHECK_MSG(bad == 0, "%dx%dx%d mode %d: %d elements off", M, N, K, mode, bad);
        }
        free(A); free(Bm); free(C); free(v);
    }
    mt_mm_free(m);
}

/* The same sweep, the block products and the epilogue products with the plain-A products on
 * oneDNN instead of the hand-written AVX-512 forward/input-gradient kernel, and the backend's
 * name saying which one runs. */
static void test_fp32_fwd_kernel_off(void) {
    int had = mt_mm_fwd_kernel(-1);
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    if (m) {
        CHECK_MSG((strstr(mt_mm_backend_name(m), "forward/input-gradient") != NULL) == had,
                  "name '%s', kernel %d", mt_mm_backend_name(m), had);
        mt_mm_free(m);
    }
    if (!had) printf("# this CPU has no AVX-512: the forward products always run on oneDNN\n");
    CHECK(mt_mm_fwd_kernel(0) == 0);
    sweep(1, 0, 1e-6 + 256 * 6e-8);
    test_gemm_ld_block();
    test_epilogue_bias();
    mt_mm_fwd_kernel(had);
    CHECK(mt_mm_fwd_kernel(-1) == had);
}

/* A large product on a two-thread backend (the forward kernel splits its row tiles over the
 * threads) gives the bits of a one-thread backend: plain, accumulated with a transposed B,
 * and with the inference epilogue. */
static void test_fwd_threads_same_bits(void) {
    mt_mm *m1 = NULL, *m2 = NULL;
    CHECK(mt_mm_create(1, 0, &m1, NULL) == MTREC_OK);
    CHECK(mt_mm_create(2, 0, &m2, NULL) == MTREC_OK);
    if (!m1 || !m2) { mt_mm_free(m1); mt_mm_free(m2); return; }
    enum { M = 1000, N = 200, K = 300 };  /* 2MNK far above the serial threshold */
    float *A = malloc(sizeof(float) * M * K), *Bm = malloc(sizeof(float) * K * N);
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    float *v = malloc(sizeof(float) * 3 * N);
    mt_rng r;
    mt_rng_seed(&r, 5);
    fill(&r, A, (size_t)M * K);
    fill(&r, Bm, (size_t)K * N);
    fill(&r, v, (size_t)3 * N);
    fill(&r, C1, (size_t)M * N);
    memcpy(C2, C1, sizeof(float) * M * N);
    CHECK(mt_mm_gemm(m1, 0, 1, M, N, K, A, Bm, 1, C1) == MTREC_OK);  /* B read as [N, K] */
    CHECK(mt_mm_gemm(m2, 0, 1, M, N, K, A, Bm, 1, C2) == MTREC_OK);
    CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0);
    CHECK(mt_mm_gemm_epilogue(m1, M, N, K, A, Bm, v, v + N, v + 2 * N, MT_ACT_RELU, C1, 0) == MTREC_OK);
    CHECK(mt_mm_gemm_epilogue(m2, M, N, K, A, Bm, v, v + N, v + 2 * N, MT_ACT_RELU, C2, 0) == MTREC_OK);
    CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0);
    free(A); free(Bm); free(C1); free(C2); free(v);
    mt_mm_free(m1);
    mt_mm_free(m2);
}

/* 1 if /proc/cpuinfo lists amx_bf16 (then the kernel lets oneDNN use AMX on Linux). */
static int cpuinfo_has_amx(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int has = 0;
    while (!has && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5) && strstr(line, " amx_bf16")) has = 1;
    fclose(f);
    return has;
}

/* bf16: inputs rounded to 8 significant bits (relative 2^-9 each), fp32 accumulation. */
static void test_bf16(void) {
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 1, &m, NULL) == MTREC_OK);
    if (!m) return;
    int uses = mt_mm_uses_bf16(m);
    const char *name = mt_mm_backend_name(m);
    printf("# bf16 available: %d (%s)\n", uses, name);
    CHECK((strstr(name, "bf16") != NULL) == (uses != 0));
    if (cpuinfo_has_amx()) CHECK(uses == 1); /* AMX present: bf16 must be taken */
    mt_mm_free(m);
    if (uses) {
        sweep(1, 1, 2 * 0.0040);
        sweep(2, 1, 2 * 0.0040);
        /* bf16 must actually round: a value needing more than 8 mantissa bits changes */
        CHECK(mt_mm_create(1, 1, &m, NULL) == MTREC_OK);
        float a = 1.0f + 1.0f / 1024, b = 1.0f, c = 0;
        CHECK(mt_mm_gemm(m, 0, 0, 1, 1, 1, &a, &b, 0, &c) == MTREC_OK);
        CHECK(c == 1.0f);
        mt_mm_free(m);
    }
}


/* bf16 copies of stable operands: MT_MM_STABLE_B is re-converted after mt_mm_new_step (a
 * changed B is seen); MT_MM_CONST_B is converted once and kept across steps (the contract:
 * B never changes, so a changed B is deliberately NOT seen, which shows the copy is reused). */
static void test_bf16_stable_and_const(void) {
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 1, &m, NULL) == MTREC_OK);
    if (!m) return;
    if (!mt_mm_uses_bf16(m)) {
        printf("# no AMX: bf16 cache semantics not exercised\n");
        CHECK(mt_mm_uses_bf16(m) == 0);
        mt_mm_free(m);
        return;
    }
    enum { M = 8, K = 16, N = 4 };
    float A[M * K], B[K * N], C[M * N];
    for (int i = 0; i < M * K; i++) A[i] = 1;
    for (int i = 0; i < K * N; i++) B[i] = 1;
    mt_mm_new_step(m);
    CHECK(mt_mm_gemm_ex(m, 0, 0, M, N, K, A, B, 0, C, MT_MM_STABLE_B) == MTREC_OK);
    CHECK(C[0] == K);
    for (int i = 0; i < K * N; i++) B[i] = 2;
    mt_mm_new_step(m);
    CHECK(mt_mm_gemm_ex(m, 0, 0, M, N, K, A, B, 0, C, MT_MM_STABLE_B) == MTREC_OK);
    CHECK(C[0] == 2 * K); /* new step: re-converted */
    float W[K * N];
    for (int i = 0; i < K * N; i++) W[i] = 3;
    CHECK(mt_mm_gemm_ex(m, 0, 0, M, N, K, A, W, 0, C, MT_MM_CONST_B) == MTREC_OK);
    CHECK(C[0] == 3 * K);
    for (int i = 0; i < K * N; i++) W[i] = 5;
    mt_mm_new_step(m);
    CHECK(mt_mm_gemm_ex(m, 0, 0, M, N, K, A, W, 0, C, MT_MM_CONST_B) == MTREC_OK);
    CHECK(C[0] == 3 * K); /* frozen: the first copy is reused */
    mt_mm_free(m);
}

/* Hand-off slots: a product reads what the producer wrote into mt_mm_bf16_slot (not the f32
 * source, deliberately left different here), another backend reads it too once lent with
 * mt_mm_bf16_alias, and after mt_mm_new_step both convert the f32 source again. fp32
 * backends give no slot and take no alias. */
static void test_bf16_slot_and_alias(void) {
    mt_mm *a = NULL, *b = NULL;
    CHECK(mt_mm_create(1, 1, &a, NULL) == MTREC_OK);
    CHECK(mt_mm_create(1, 1, &b, NULL) == MTREC_OK);
    if (!a || !b) { mt_mm_free(a); mt_mm_free(b); return; }
    enum { M = 4, K = 8, N = 2 };
    float X[M * K], W[K * N], C[M * N];
    for (int i = 0; i < M * K; i++) X[i] = 1;  /* the f32 source: all ones */
    for (int i = 0; i < K * N; i++) W[i] = 1;
    if (!mt_mm_uses_bf16(a)) {
        printf("# no AMX: slots not exercised\n");
        CHECK(mt_mm_bf16_slot(a, X, M * K) == NULL);
        CHECK(mt_mm_bf16_alias(b, X, M * K, (const uint16_t *)X) == 0);
        CHECK(mt_mm_bf16_copy(a, X, M * K) == NULL);
        mt_mm_free(a);
        mt_mm_free(b);
        return;
    }
    mt_mm_new_step(a);
    mt_mm_new_step(b);
    uint16_t *slot = mt_mm_bf16_slot(a, X, M * K);
    CHECK(slot != NULL);
    if (!slot) { mt_mm_free(a); mt_mm_free(b); return; }
    for (int i = 0; i < M * K; i++) slot[i] = mt_bf16_from_f32(2.0f);  /* the producer's copy */
    CHECK(mt_mm_gemm_ex(a, 0, 0, M, N, K, X, W, 0, C, MT_MM_STABLE_A) == MTREC_OK);
    CHECK(C[0] == 2 * K && C[M * N - 1] == 2 * K);  /* read the slot, not X */
    CHECK(mt_mm_bf16_copy(a, X, M * K) == slot);      /* this step's copy, to lend */
    CHECK(mt_mm_bf16_copy(a, X, M * K - 1) == NULL);  /* (another size: not that copy) */
    CHECK(mt_mm_bf16_copy(a, W, K * N) == NULL);      /* W was not a stable operand */
    CHECK(mt_mm_bf16_alias(b, X, M * K, slot) == 1);
    CHECK(mt_mm_bf16_copy(b, X, M * K) == slot);
    CHECK(mt_mm_gemm_ex(b, 0, 0, M, N, K, X, W, 0, C, MT_MM_STABLE_A) == MTREC_OK);
    CHECK(C[0] == 2 * K);  /* the lent copy */
    mt_mm_new_step(a);
    mt_mm_new_step(b);
    CHECK(mt_mm_bf16_copy(a, X, M * K) == NULL && mt_mm_bf16_copy(b, X, M * K) == NULL);  /* stale */
    CHECK(mt_mm_gemm_ex(a, 0, 0, M, N, K, X, W, 0, C, MT_MM_STABLE_A) == MTREC_OK);
    CHECK(C[0] == K);  /* a new step: X converted again */
    CHECK(mt_mm_gemm_ex(b, 0, 0, M, N, K, X, W, 0, C, MT_MM_STABLE_A) == MTREC_OK);
    CHECK(C[0] == K);  /* the alias is stale too: b converts X into a buffer of its own */
    mt_mm_free(a);  /* b no longer points into a's buffer for any step */
    CHECK(mt_mm_gemm_ex(b, 0, 0, M, N, K, X, W, 0, C, MT_MM_STABLE_A) == MTREC_OK);
    CHECK(C[0] == K);
    mt_mm_free(b);
}

static void test_name_and_errors(void) {
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 0, &m, NULL) == MTREC_OK);
    CHECK(mt_mm_uses_bf16(m) == 0);
    CHECK_CONTAINS(mt_mm_backend_name(m), "oneDNN 2.");
    CHECK_CONTAINS(mt_mm_backend_name(m), "fp32");
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {9, 9, 9, 9};
    CHECK(mt_mm_gemm(m, 0, 0, 2, 2, 3, A, B, 2, C) == MTREC_ERR_ARG);
    CHECK(mt_mm_gemm(m, 0, 0, -1, 2, 3, A, B, 0, C) == MTREC_ERR_ARG);
    CHECK(mt_mm_gemm(m, 0, 0, 2, 2, 3, NULL, B, 0, C) == MTREC_ERR_ARG);
    CHECK(mt_mm_gemm(NULL, 0, 0, 2, 2, 3, A, B, 0, C) == MTREC_ERR_ARG);
    CHECK(C[0] == 9); /* failed calls leave C alone */
    /* K = 0: empty sum, C = beta * C */
    CHECK(mt_mm_gemm(m, 0, 0, 2, 2, 0, A, B, 1, C) == MTREC_OK);
    CHECK(C[3] == 9);
    CHECK(mt_mm_gemm(m, 0, 0, 2, 2, 0, A, B, 0, C) == MTREC_OK);
    CHECK(C[0] == 0 && C[3] == 0);
    /* [2,3] x [3,2] by hand: [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]] */
    CHECK(mt_mm_gemm(m, 0, 0, 2, 2, 3, A, B, 0, C) == MTREC_OK);
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11);
    CHECK(strstr(mt_mm_backend_name(m), "no oneDNN product yet") == NULL); /* impl string now */
    mt_mm_free(m);
    mt_mm_free(NULL);
    CHECK(mt_mm_create(1, 0, NULL, NULL) == MTREC_ERR_ARG);
}

/* Two backends with different thread counts used alternately stay correct. */
static void test_interleaved_backends(void) {
    mt_mm *m1 = NULL, *m2 = NULL;
    CHECK(mt_mm_create(1, 0, &m1, NULL) == MTREC_OK);
    CHECK(mt_mm_create(2, 0, &m2, NULL) == MTREC_OK);
    mt_rng r;
    mt_rng_seed(&r, 7);
    for (int i = 0; i < 3; i++) {
        CHECK(run_case(m1, &r, 0, 1, 200, 96, 130, 1, 1e-5) == 0);
        CHECK(run_case(m2, &r, 0, 1, 200, 96, 130, 1, 1e-5) == 0);
    }
    mt_mm_free(m1);
    mt_mm_free(m2);
}

/* Dense layer in the float build against loops written here. */
static void test_dense_float(void) {
    enum { B = 37, K = 19, N = 23 };
    static float in[B * K], W[K * N], b[N], out[B * N], dout[B * N];
    static float din[B * K], dW[K * N], db[N];
    mt_rng r;
    mt_rng_seed(&r, 3);
    fill(&r, in, B * K); fill(&r, W, K * N); fill(&r, b, N); fill(&r, dout, B * N);
    fill(&r, din, B * K); fill(&r, dW, K * N); fill(&r, db, N);
    static float din0[B * K], dW0[K * N], db0[N];
    memcpy(din0, din, sizeof din); memcpy(dW0, dW, sizeof dW); memcpy(db0, db, sizeof db);
    mt_mm *m = NULL;
    CHECK(mt_mm_create(2, 0, &m, NULL) == MTREC_OK);
    CHECK(mt_dense_forward(m, out, in, W, b, B, K, N) == MTREC_OK);
    CHECK(mt_dense_backward(m, din, dW, db, dout, in, W, B, K, N) == MTREC_OK);
    int bad = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) {
            double s = b[j];
            for (int k = 0; k < K; k++) s += (double)in[i * K + k] * W[k * N + j];
            bad += !(fabs(out[i * N + j] - s) < 1e-5);
        }
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++) {
            double s = din0[i * K + k];
            for (int j = 0; j < N; j++) s += (double)dout[i * N + j] * W[k * N + j];
            bad += !(fabs(din[i * K + k] - s) < 1e-5);
        }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) {
            double s = dW0[k * N + j];
            for (int i = 0; i < B; i++) s += (double)in[i * K + k] * dout[i * N + j];
            bad += !(fabs(dW[k * N + j] - s) < 1e-5);
        }
    for (int j = 0; j < N; j++) {
        double s = db0[j];
        for (int i = 0; i < B; i++) s += dout[i * N + j];
        bad += !(fabs(db[j] - s) < 1e-5);
    }
    CHECK_MSG(bad == 0, "%d dense elements off", bad);
    mt_mm_free(m);
}

int main(void) {
    RUN(test_name_and_errors);
    RUN(test_fp32_1thread);
    RUN(test_fp32_2threads);
    RUN(test_gemm_ld_block);
    RUN(test_fp32_wgrad_kernel_off);
    RUN(test_epilogue_bias);
    RUN(test_fp32_fwd_kernel_off);
    RUN(test_fwd_threads_same_bits);
    RUN(test_bf16);
    RUN(test_bf16_stable_and_const);
    RUN(test_bf16_slot_and_alias);
    RUN(test_interleaved_backends);
    RUN(test_dense_float);
    return test_summary();
}
