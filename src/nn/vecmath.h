/* vecmath.h: exp, erf and tanh of a float as branch-free arithmetic, inlined, so that GCC
 * vectorises the activation loops that call them. glibc's expf, erff and tanhf are calls
 * GCC vectorises only under -ffast-math (which we do not use): with them a swish, gelu, elu,
 * selu, tanh or sigmoid layer ran scalar, and live5 trained 2.4x slower with swish than with
 * relu. No Debian library offers inlinable vector math for plain C loops (libmvec is reached
 * only through -ffast-math), hence these few lines.
 *
 * Accuracy, float in and out (tests/test_vecmath.c checks it against double libm on dense
 * grids): mt_vexpf within 1 ulp (Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, and a
 * degree-6 polynomial for e^r with the Cephes expf coefficients); mt_verff within 3e-7
 * absolute (Abramowitz & Stegun 7.1.26, 1.5e-7, above 0.75; the Maclaurin series below);
 * mt_vtanhf within 1.5 ulp (Cephes tanhf's odd polynomial below 0.625, else
 * 1 - 2 / (e^2x + 1)). Saturation as libm: exp is 0 below -87.34 and inf above 88.72
 * (between 88.38 and 88.72 it returns e^88.38 = 2.4e38 instead of up to 3.4e38); NaN in,
 * NaN out. The double build (MT_DOUBLE) keeps libm. */
#ifndef MT_VECMATH_H
#define MT_VECMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float mt_vexpf(float x) {
    const float lo = -87.33654f, hi = 88.37626f;
    float xc = x < lo ? lo : x > hi ? hi : x;
    float k = rintf(xc * 1.44269504088896341f);
    float r = fmaf(k, -0.693359375f, xc);  /* ln2 in two parts: the first has few bits */
    r = fmaf(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    union { uint32_t u; float f; } two_k = {.u = (uint32_t)((int32_t)k + 127) << 23};
    float y = p * two_k.f;
    y = x < lo ? 0.0f : y;
    y = x > 88.72283f ? INFINITY : y;
    return x != x ? x : y;
}

static inline float mt_verff(float x) {
    float a = fabsf(x);
    float t = 1.0f / fmaf(0.3275911f, a, 1.0f);
    float q = 1.061405429f;
    q = fmaf(q, t, -1.453152027f);
    q = fmaf(q, t, 1.421413741f);
    q = fmaf(q, t, -0.284496736f);
    q = fmaf(q, t, 0.254829592f);
    float big = 1.0f - q * t * mt_vexpf(-a * a);
    /* below 0.75 the form above cancels: the Maclaurin series of erf, 8 terms
     * (2/sqrt(pi) sum (-1)^n a^(2n+1) / (n! (2n+1)); the next term is under 1e-8 there) */
    float z = a * a;
    float s = -1.4925650e-05f; /* 2/sqrt(pi) (-1)^n / (n! (2n+1)), n = 7 .. 0 */
    s = fmaf(s, z, 1.2055333e-04f);
    s = fmaf(s, z, -8.5483270e-04f);
    s = fmaf(s, z, 5.2239776e-03f);
    s = fmaf(s, z, -2.6866171e-02f);
    s = fmaf(s, z, 1.1283792e-01f);
    s = fmaf(s, z, -3.7612639e-01f);
    s = fmaf(s, z, 1.1283792e+00f);
    float small = a * s;
    float y = a < 0.75f ? small : big;
    y = a > 4.0f ? 1.0f : y;
    return copysignf(y, x);
}

static inline float mt_vtanhf(float x) {
    float a = fabsf(x), z = x * x;
    float p = -5.70498872745e-3f;
    p = fmaf(p, z, 2.06390887954e-2f);
    p = fmaf(p, z, -5.37397155531e-2f);
    p = fmaf(p, z, 1.33314422036e-1f);
    p = fmaf(p, z, -3.33332819422e-1f);
    float small = fmaf(p * z, x, x);
    float big = 1.0f - 2.0f / (mt_vexpf(2.0f * a) + 1.0f);
    big = copysignf(big, x);
    return a < 0.625f ? small : big;
}

/* f32 -> bf16 with round to nearest even (the same bits as oneDNN's reorder), quiet NaN kept
 * NaN; branch-free so that loops storing bf16 vectorise (GCC turns the memcpy into a
 * register move). For kernels that write a product's bf16 operand themselves
 * (mt_mm_bf16_slot). */
static inline uint16_t mt_bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r);
}

/* exp, tanh and erf of an mt_real: the functions above in the float build, libm's in the
 * double build (gradient tests) */
#ifdef MT_DOUBLE
#define mt_rexp exp
#define mt_rtanh tanh
#define mt_rerf erf
#else
#define mt_rexp mt_vexpf
#define mt_rtanh mt_vtanhf
#define mt_rerf mt_verff
#endif

#endif
