/* test_vecmath.c: nn/vecmath.h (the inlined exp, erf and tanh the float activations use)
 * against double-precision libm: errors in ulp of the float result (exp, tanh) or absolute
 * (erf) over dense grids of the whole useful range, the saturation and special values, and
 * that a float activation layer (swish, gelu, tanh, sigmoid, elu) built on them stays within
 * a few ulp of the double formula; and the f32 -> bf16 rounding the BN kernels use when they
 * write a product's operand (round to nearest even, ties, NaN, overflow), against the
 * matrix backend's own conversion. */
#include <float.h>
#include <stdint.h>

#include "nn/nn.h"
#include "nn/vecmath.h"
#include "test.h"
#include "util/rng.h"

/* distance in ulp between float y and the exact value r, in units of the ulp at r */
static double ulp_err(float y, double r) {
    if (r == 0) return y == 0 ? 0 : 1e9;
    int ex;
    frexp(r, &ex);
    double ulp = ldexp(1.0, ex - 24);  /* ulp of a float in [2^(ex-1), 2^ex) */
    if (fabs(r) < FLT_MIN) ulp = ldexp(1.0, -149);
    return fabs((double)y - r) / ulp;
}

static void test_exp(void) {
    double worst = 0, at = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = (float)(-87.0 + 175.0 * i / 2000000.0);  /* [-87, 88]: normal results */
        if (x > 88.37f) break;
        double e = ulp_err(mt_vexpf(x), exp((double)x));
        if (e > worst) { worst = e; at = x; }
    }
    printf("# exp: worst %.2f ulp at %.6g\n", worst, at);
    CHECK_MSG(worst <= 2.0, "exp error %.2f ulp at %g", worst, at);
    CHECK(mt_vexpf(0.0f) == 1.0f);
    CHECK(mt_vexpf(-88.0f) == 0.0f && mt_vexpf(-1e30f) == 0.0f && mt_vexpf(-INFINITY) == 0.0f);
    CHECK(isinf(mt_vexpf(89.0f)) && isinf(mt_vexpf(INFINITY)) && mt_vexpf(89.0f) > 0);
    CHECK(isnan(mt_vexpf(NAN)));
    CHECK(mt_vexpf(88.5f) > 2e38f);  /* saturates high, not wrapped */
}

static void test_erf(void) {
    double worst = 0, at = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = (float)(-6.0 + 12.0 * i / 2000000.0);
        double e = fabs((double)mt_verff(x) - erf((double)x));
        if (e > worst) { worst = e; at = x; }
    }
    printf("# erf: worst %.3g absolute at %.6g\n", worst, at);
    CHECK_MSG(worst <= 3e-7, "erf error %.3g at %g", worst, at);
    CHECK(mt_verff(0.0f) == 0.0f && mt_verff(10.0f) == 1.0f && mt_verff(-10.0f) == -1.0f);
    CHECK(mt_verff(INFINITY) == 1.0f && isnan(mt_verff(NAN)));
    /* small arguments keep their relative accuracy (the series, not 1 - q e^-x^2) */
    CHECK(fabs(mt_verff(1e-6f) / erf(1e-6) - 1) < 1e-6);
}

static void test_tanh(void) {
    double worst = 0, at = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = (float)(-12.0 + 24.0 * i / 2000000.0);
        double e = ulp_err(mt_vtanhf(x), tanh((double)x));
        if (e > worst) { worst = e; at = x; }
    }
    for (int k = -40; k <= 0; k++) {  /* tiny arguments: relative accuracy */
        float x = ldexpf(1.2345f, k);
        double e = ulp_err(mt_vtanhf(x), tanh((double)x));
        if (e > worst) { worst = e; at = x; }
    }
    printf("# tanh: worst %.2f ulp at %.6g\n", worst, at);
    CHECK_MSG(worst <= 3.0, "tanh error %.2f ulp at %g", worst, at);
    CHECK(mt_vtanhf(0.0f) == 0.0f && mt_vtanhf(30.0f) == 1.0f && mt_vtanhf(-INFINITY) == -1.0f);
    CHECK(isnan(mt_vtanhf(NAN)));
}

/* The layer functions the model calls, float, against the formulas in double. */
static double act_ref(mt_activation a, double x) {
    double s = 1 / (1 + exp(-x));
    switch (a) {
    case MT_ACT_SWISH: return x * s;
    case MT_ACT_SIGMOID: return s;
    case MT_ACT_TANH: return tanh(x);
    case MT_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case MT_ACT_ELU: return x > 0 ? x : exp(x) - 1;
    case MT_ACT_SELU: return x > 0 ? 1.0507009873554805 * x : 1.0507009873554805 * 1.6732632423543772 * (exp(x) - 1);
    default: return x;
    }
}

static void test_activation_layers(void) {
    enum { n = 100000 };
    static float in[n], out[n];
    for (int i = 0; i < n; i++) in[i] = (float)(-30.0 + 60.0 * i / (n - 1));
    const mt_activation acts[] = {MT_ACT_SWISH, MT_ACT_SIGMOID, MT_ACT_TANH, MT_ACT_GELU, MT_ACT_ELU, MT_ACT_SELU};
    for (int k = 0; k < 6; k++) {
        mt_act_forward(acts[k], out, in, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double r = act_ref(acts[k], in[i]);
            double e = fabs(out[i] - r) / (fabs(r) > 1 ? fabs(r) : 1);  /* relative above 1, else absolute */
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 1e-6, "activation %d: worst relative error %.3g", (int)acts[k], worst);
    }
}

static uint16_t bf(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return mt_bf16_from_f32(f);
}

static void test_bf16_rounding(void) {
    CHECK(bf(0x3f800000u) == 0x3f80);  /* 1 */
    CHECK(bf(0x3f808000u) == 0x3f80);  /* tie, even below: down */
    CHECK(bf(0x3f818000u) == 0x3f82);  /* tie, odd below: up */
    CHECK(bf(0x3f808001u) == 0x3f81);  /* above the tie: up */
    CHECK(bf(0xbf807fffu) == 0xbf80);  /* below the tie, negative: down in magnitude */
    CHECK(bf(0x7f7fffffu) == 0x7f80);  /* FLT_MAX rounds to inf */
    CHECK(bf(0x7f800000u) == 0x7f80 && bf(0xff800000u) == 0xff80);  /* +-inf */
    uint16_t qn = bf(0x7fc00001u), sn = bf(0x7f800001u), nn = bf(0xffffffffu);
    CHECK((qn & 0x7f80) == 0x7f80 && (qn & 0x7f) != 0);  /* NaNs stay NaN */
    CHECK((sn & 0x7f80) == 0x7f80 && (sn & 0x7f) != 0);
    CHECK((nn & 0x7f80) == 0x7f80 && (nn & 0x7f) != 0);
    /* the backend's bf16 products see the same values: x * 1 for x that needs rounding */
    mt_mm *m = NULL;
    CHECK(mt_mm_create(1, 1, &m, NULL) == MTREC_OK);
    if (m && mt_mm_uses_bf16(m)) {
        mt_rng r;
        mt_rng_seed(&r, 3);
        int bad = 0;
        for (int i = 0; i < 4096; i++) {
            float x = (float)((mt_rng_uniform(&r) - 0.5) * 1e3), one = 1, y;
            CHECK(mt_mm_gemm(m, 0, 0, 1, 1, 1, &x, &one, 0, &y) == MTREC_OK);
            uint32_t yb;
            memcpy(&yb, &y, sizeof yb);
            bad += (yb >> 16) != mt_bf16_from_f32(x) || (yb & 0xffff) != 0;
        }
        CHECK_MSG(bad == 0, "%d of 4096 values round differently from the backend", bad);
    }
    mt_mm_free(m);
}

int main(void) {
    RUN(test_exp);
    RUN(test_erf);
    RUN(test_tanh);
    RUN(test_activation_layers);
    RUN(test_bf16_rounding);
    return test_summary();
}
