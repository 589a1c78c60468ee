/* bn_fused_avx512.c: the AVX-512 copy of the fused BN + activation training kernels: the same
 * source, bn_fused.c, compiled under -march=x86-64-v4 (the Makefile's ISA_FLAGS for this
 * file), its entry points suffixed _avx512; bn_fused.c picks this copy at run time when the
 * CPU has AVX-512 (mt_bn_kernels_avx512). Absent from the double build (gradient tests). */
#ifndef MT_DOUBLE
#define MT_BN_AVX512_COPY 1
#include "nn/bn_fused.c"
#else
typedef int mt_bn_fused_avx512_unused; /* (a translation unit must not be empty) */
#endif
