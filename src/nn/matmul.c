/* matmul.c: the matrix backend (mt_mm) behind every dense product.
 *
 * Float build: oneDNN 2.6 matmul primitives (C API). One engine + one stream per mt_mm;
 * one primitive per (ta, tb, M, N, K, beta) created on first use and cached; transposes are
 * expressed with memory strides; beta = 1 is the `sum` post-op (dst is read and added).
 * The memory objects are created once and re-pointed with dnnl_memory_set_data_handle per
 * call. mt_mm_gemm_epilogue adds a fused epilogue to the plain product (bias argument,
 * per-column scale and shift as binary post-ops, relu/leaky-relu as an eltwise post-op), so a
 * dense layer's bias, its inference batch norm and its activation cost no extra pass over the
 * output. bf16 mode (AMX only; see below): A and B are converted to bf16 by cached oneDNN
 * reorder primitives into scratch buffers owned by the mt_mm (grown only when a larger
 * primitive is created, never per call); the product accumulates and writes fp32.
 *
 * MT_DOUBLE build (gradient tests only): a plain reference triple loop over doubles, no
 * oneDNN calls.
 *
 * Not thread-safe: one mt_mm serves one thread of control (its products use `threads`
 * OpenMP threads internally). It does not own A, B or C. */
#include "nn/nn.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <omp.h>

#ifndef MT_DOUBLE
#include <dnnl.h>
#endif

#define MM_NAME_MAX 160
#define MM_MSG_MAX 256

/* ---- how expensive is a parallel region? ------------------------------------------------ */
/* With OMP_WAIT_POLICY=passive idle pool threads sleep, and every parallel region pays a
 * wake-up: 20-50 us measured on the 2-vCPU KVM guest (a spinning pool: under 1 us, but it
 * collapses when another process wants the core). Small products and loops then run faster
 * on the calling thread. libgomp reads the variable at load; it is read here once. */
int mt_nn_threads_sleep(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        const char *w = getenv("OMP_WAIT_POLICY");
        v = w && (!strcasecmp(w, "passive"));
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

/* The epilogue of mt_mm_gemm_epilogue applied in place by a plain loop (the MT_DOUBLE build,
 * and the K == 0 corner): C = act(scale * (C + bias) + shift), each part optional. */
static mtrec_status mt_mm_epilogue_ref(mt_real *C, int M, int N, const mt_real *bias,
                                       const mt_real *scale, const mt_real *shift,
                                       mt_activation act) {
    const mt_real slope = act == MT_ACT_LEAKY_RELU ? (mt_real)0.2 : 0;
    for (int i = 0; i < M; i++) {
        mt_real *c = C + (size_t)i * N;
        for (int j = 0; j < N; j++) {
            mt_real v = c[j];
            if (bias) v += bias[j];
            if (scale) v *= scale[j];
            if (shift) v += shift[j];
            if (act != MT_ACT_LINEAR && !(v > 0)) v *= slope;
            c[j] = v;
        }
    }
    return MTREC_OK;
}

/* ---- MT_DOUBLE: reference loops --------------------------------------------------------- */
/* Activations the product epilogue can apply (both builds). */
int mt_mm_act_fusable(mt_activation a) {
    return a == MT_ACT_RELU || a == MT_ACT_LEAKY_RELU || a == MT_ACT_LINEAR;
}

#ifdef MT_DOUBLE

struct mt_mm {
    int threads;
    char name[MM_NAME_MAX];
    char msg[MM_MSG_MAX];
};

mtrec_status mt_mm_create(int threads, int bf16, mt_mm **out, mt_err *e) {
    (void)bf16;
    if (!out) return mt_fail(e, MTREC_ERR_ARG, "mt_mm_create: out is NULL");
    *out = NULL;
    mt_mm *m = calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MTREC_ERR_NOMEM, "mt_mm_create: out of memory");
    m->threads = threads > 0 ? threads : omp_get_num_procs();
    omp_set_num_threads(m->threads); /* the pool of the elementwise loops */
    snprintf(m->name, sizeof m->name, "reference double (MT_DOUBLE)");
    *out = m;
    return MTREC_OK;
}

void mt_mm_free(mt_mm *m) { free(m); }
void mt_mm_new_step(mt_mm *m) { (void)m; }
uint16_t *mt_mm_bf16_slot(mt_mm *m, const mt_real *src, size_t n) {
    (void)m, (void)src, (void)n;
    return NULL;
}
int mt_mm_bf16_alias(mt_mm *m, const mt_real *src, size_t n, const uint16_t *copy) {
    (void)m, (void)src, (void)n, (void)copy;
    return 0;
}
const uint16_t *mt_mm_bf16_copy(const mt_mm *m, const mt_real *src, size_t n) {
    (void)m, (void)src, (void)n;
    return NULL;
}

mtrec_status mt_mm_gemm_ex(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int stable) {
    (void)stable;
    return mt_mm_gemm(m, ta, tb, M, N, K, A, B, beta, C);
}
int mt_mm_uses_bf16(const mt_mm *m) { (void)m; return 0; }
int mt_mm_wgrad_kernel(int set) { (void)set; return 0; }
int mt_mm_fwd_kernel(int set) { (void)set; return 0; }
int mt_mm_wgrad_direct(const mt_mm *m) { (void)m; return 0; }
const char *mt_mm_backend_name(const mt_mm *m) { return m ? m->name : "none"; }
const char *mt_mm_last_error(const mt_mm *m) { return m ? m->msg : ""; }

/* C = op(A) op(B) + beta C with plain loops; the accumulator is a double per element. */
mtrec_status mt_mm_gemm_ld(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int ldc, int stable) {
    (void)stable;
    if (!m || M < 0 || N < 0 || K < 0 || ldc < N || (beta != 0 && beta != 1)) return MTREC_ERR_ARG;
    if (M == 0 || N == 0) return MTREC_OK;
    if (!C || (K > 0 && (!A || !B))) return MTREC_ERR_ARG;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * M + i] : A[(size_t)i * K + k];
                double b = tb ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
                acc += a * b;
            }
            C[(size_t)i * ldc + j] = (beta != 0 ? C[(size_t)i * ldc + j] : 0) + acc;
        }
    }
    return MTREC_OK;
}

mtrec_status mt_mm_gemm(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                        const mt_real *B, mt_real beta, mt_real *C) {
    return mt_mm_gemm_ld(m, ta, tb, M, N, K, A, B, beta, C, N, 0);
}

mtrec_status mt_mm_gemm_epilogue(mt_mm *m, int M, int N, int K, const mt_real *A,
                                 const mt_real *B, const mt_real *bias, const mt_real *scale,
                                 const mt_real *shift, mt_activation act, mt_real *C,
                                 int stable) {
    (void)stable;
    if (!mt_mm_act_fusable(act)) return MTREC_ERR_ARG;
    mtrec_status st = mt_mm_gemm(m, 0, 0, M, N, K, A, B, 0, C);
    if (st != MTREC_OK || M == 0 || N == 0) return st;
    return mt_mm_epilogue_ref(C, M, N, bias, scale, shift, act);
}

#else /* ---- float build: oneDNN -------------------------------------------------------- */

/* The bf16 copy of one stable operand. */
typedef struct mm_cvt {
    const void *src;
    size_t n;                   /* elements converted in step gen */
    unsigned gen;
    int frozen;                 /* MT_MM_CONST_B: converted once, valid for every step */
    int ext;                    /* buf is another mt_mm's copy (mt_mm_bf16_alias): not owned */
    void *buf;
    size_t bytes;
} mm_cvt;

/* One cached product shape. For fp32, ma/mb point at the caller's A/B each call; for bf16
 * they point at the mt_mm's bf16 scratch and ra/rb (reorders f32 -> bf16 over the flat
 * element range of A and B) fill it from the caller's buffers (ra_src/rb_src). */
typedef struct mm_key {
    int ta, tb, M, N, K, beta;
    int ldc;                    /* C's row stride (>= N) */
    int bias, scale, shift;     /* epilogue parts present */
    int act;                    /* 0 none, 1 relu with slope alpha */
    float alpha;
} mm_key;

typedef struct mm_prim {
    mm_key k;
    int nthr;                   /* threads it was created for (1: runs on the caller) */
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t ma, mb, mc;
    dnnl_memory_t mbias, mscale, mshift;
    dnnl_primitive_t ra, rb;
    dnnl_memory_t ra_src, rb_src, ra_dst, rb_dst;
    const char *impl;  /* owned by pd */
} mm_prim;

struct mt_mm {
    int threads;
    int bf16;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    mm_prim *prims;
    int n_prims, cap_prims;
    int last_hit;
    double largest_flops;
    const char *largest_impl;
    void *abuf, *bbuf;          /* bf16 scratch for A and B (64-byte aligned) */
    size_t abuf_bytes, bbuf_bytes;
    /* bf16 copies of stable operands (see mt_mm_new_step), keyed by source pointer; filled
     * at most once per step (gen), buffers kept and reused across steps */
    struct mm_cvt *cvt;
    int n_cvt, cap_cvt, cvt_next;
    unsigned gen;
    int wgrad;                  /* fp32 X^T dZ products by mt_mm_wgrad_avx512 */
    float *wg_pack;             /* its packed panels of dZ */
    size_t wg_pack_n;
    int fwd;                    /* fp32 A op(B) (+ bias) products by mt_mm_fwd_avx512 */
    float *fw_pack;             /* its packed panels of op(B) */
    size_t fw_pack_n;
    char name[MM_NAME_MAX];
    char msg[MM_MSG_MAX];
};

/* Products below this many flops run on one thread (see mt_nn_threads_sleep): about 100 us
 * of single-thread work when a wake-up costs tens of us; 4x more flops on AMX (bf16), where
 * the same flops take about a quarter of the time. */
static double mm_serial_flops(const mt_mm *m) {
    return (mt_nn_threads_sleep() ? 16e6 : 2e6) * (m->bf16 ? 4 : 1);
}

/* The threads a product of M x N x K runs on: one below the serial threshold, else all of
 * m's (oneDNN's primitives and the forward kernel alike). */
static int mm_product_threads(const mt_mm *m, int M, int N, int K) {
    return 2.0 * M * N * K < mm_serial_flops(m) ? 1 : m->threads;
}

/* Record a oneDNN failure in m->msg and return MTREC_ERR_BACKEND. */
static mtrec_status mm_dnnl_fail(mt_mm *m, const char *what, dnnl_status_t s) {
    snprintf(m->msg, sizeof m->msg, "oneDNN %s failed: status %d", what, (int)s);
    return MTREC_ERR_BACKEND;
}

#define DTRY(call, what)                                                             \
    do {                                                                             \
        dnnl_status_t s_ = (call);                                                   \
        if (s_ != dnnl_success) { st = mm_dnnl_fail(m, what, s_); goto fail; }       \
    } while (0)

static void mm_update_name(mt_mm *m) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(m->name, sizeof m->name, "oneDNN %d.%d.%d %s (%s)%s%s", v->major, v->minor, v->patch,
             m->bf16 ? "bf16" : "fp32", m->largest_impl ? m->largest_impl : "no oneDNN product yet",
             m->wgrad ? " + AVX-512 weight-gradient kernel" : "",
             m->fwd ? " + AVX-512 forward/input-gradient kernel" : "");
}

/* (here, not in gemm_wgrad_avx512.c / gemm_fwd_avx512.c: those are compiled for AVX-512) */
static int mm_cpu_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/* -1: not decided yet; 0: oneDNN for every product; 1: mt_mm_wgrad_avx512 for fp32 X^T dZ */
static int wgrad_sel = -1;

int mt_mm_wgrad_kernel(int set) {
    /* MTREC_WGRAD_AVX512=0 keeps oneDNN (to compare); set: tests */
    return mt_switch(&wgrad_sel, set, "MTREC_WGRAD_AVX512", mm_cpu_avx512f);
}

/* -1: not decided yet; 0: oneDNN for every product; 1: mt_mm_fwd_avx512 for fp32 A op(B) */
static int fwd_sel = -1;

int mt_mm_fwd_kernel(int set) {
    /* MTREC_FWD_AVX512=0 keeps oneDNN (to compare); set: tests */
    return mt_switch(&fwd_sel, set, "MTREC_FWD_AVX512", mm_cpu_avx512f);
}

/* The CPU can run bf16 products fast only with AMX: measured on this workplace's machines
 * (shared/bench/gemm/RESULTS.md), bf16 on AVX512_BF16 without AMX is ~1.7x slower than fp32,
 * so bf16 is enabled only where the effective ISA includes AMX. */
static int mm_cpu_has_amx(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    unsigned amx = (unsigned)dnnl_cpu_isa_avx512_core_amx;
    return (isa & amx) == amx;
}

mtrec_status mt_mm_create(int threads, int bf16, mt_mm **out, mt_err *e) {
    if (!out) return mt_fail(e, MTREC_ERR_ARG, "mt_mm_create: out is NULL");
    *out = NULL;
    if (threads < 1) threads = omp_get_num_procs();
    mt_mm *m = calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MTREC_ERR_NOMEM, "mt_mm_create: out of memory");
    m->threads = threads;
    m->last_hit = -1;
    /* oneDNN (OpenMP runtime) sizes its work split from omp_get_max_threads() at primitive
     * creation, so the pool size is set before any primitive exists. */
    omp_set_num_threads(threads);
    dnnl_status_t s = dnnl_engine_create(&m->eng, dnnl_cpu, 0);
    if (s == dnnl_success) s = dnnl_stream_create(&m->strm, m->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        mt_mm_free(m);
        return mt_fail(e, MTREC_ERR_BACKEND, "mt_mm_create: oneDNN engine/stream: status %d",
                       (int)s);
    }
    m->bf16 = bf16 && mm_cpu_has_amx();
    m->wgrad = !m->bf16 && mt_mm_wgrad_kernel(-1);
    m->fwd = !m->bf16 && mt_mm_fwd_kernel(-1);
    mm_update_name(m);
    *out = m;
    return MTREC_OK;
}

static void mm_prim_destroy(mm_prim *p) {
    if (p->ra) dnnl_primitive_destroy(p->ra);
    if (p->rb) dnnl_primitive_destroy(p->rb);
    if (p->ra_src) dnnl_memory_destroy(p->ra_src);
    if (p->ra_dst) dnnl_memory_destroy(p->ra_dst);
    if (p->rb_dst) dnnl_memory_destroy(p->rb_dst);
    if (p->rb_src) dnnl_memory_destroy(p->rb_src);
    if (p->ma) dnnl_memory_destroy(p->ma);
    if (p->mb) dnnl_memory_destroy(p->mb);
    if (p->mc) dnnl_memory_destroy(p->mc);
    if (p->mbias) dnnl_memory_destroy(p->mbias);
    if (p->mscale) dnnl_memory_destroy(p->mscale);
    if (p->mshift) dnnl_memory_destroy(p->mshift);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof *p);
}

void mt_mm_free(mt_mm *m) {
    if (!m) return;
    for (int i = 0; i < m->n_prims; i++) mm_prim_destroy(&m->prims[i]);
    free(m->prims);
    free(m->abuf);
    free(m->bbuf);
    for (int i = 0; i < m->n_cvt; i++)
        if (!m->cvt[i].ext) free(m->cvt[i].buf);
    free(m->cvt);
    free(m->wg_pack);
    free(m->fw_pack);
    if (m->strm) dnnl_stream_destroy(m->strm);
    if (m->eng) dnnl_engine_destroy(m->eng);
    free(m);
}

int mt_mm_uses_bf16(const mt_mm *m) { return m ? m->bf16 : 0; }
int mt_mm_wgrad_direct(const mt_mm *m) { return m ? m->wgrad : 0; }

/* A hand-written kernel's packing buffer *buf of *n floats, grown to need floats when a
 * larger product first comes (never per call); 0, or -1 with m->msg set. */
static int mm_pack_buf(mt_mm *m, float **buf, size_t *n, size_t need) {
    if (need <= *n) return 0;
    free(*buf);
    *buf = mt_alloc_aligned(need * sizeof(float));
    *n = *buf ? need : 0;
    if (*buf) return 0;
    snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: out of memory");
    return -1;
}

/* C (+)= X^T dZ by mt_mm_wgrad_avx512 with this mt_mm's packing buffer (K > 0) */
static mtrec_status mm_wgrad(mt_mm *m, int M, int N, int K, const mt_real *X, const mt_real *dZ,
                             int beta, mt_real *C, int ldc) {
    if (mm_pack_buf(m, &m->wg_pack, &m->wg_pack_n, mt_mm_wgrad_pack_floats(N))) return MTREC_ERR_NOMEM;
    mt_mm_wgrad_avx512(M, N, K, X, dZ, beta, C, ldc, m->wg_pack);
    return MTREC_OK;
}

/* Whether mt_mm_fwd_avx512 takes this plain-A product: not for a handful of rows (serving),
 * where packing B would dominate, nor fewer than 16 columns (most of each vector idle). It
 * does not block K, so only while the packed B stays in half of L2 (512 KB: K x N up to
 * 512 x 256 or 256 x 512): with 1024 x 1024 it ran at 60-70% of oneDNN's speed
 * (bench/README.md). */
#define MM_FWD_MAX_PACK_FLOATS (128 * 1024)
static int mm_fwd_takes(const mt_mm *m, int M, int N, int K) {
    return m->fwd && M >= 32 && N >= 16 && mt_mm_fwd_pack_floats(K, N) <= MM_FWD_MAX_PACK_FLOATS;
}

/* C = act(scale * (A op(B) + bias) + shift) (+ C) by mt_mm_fwd_avx512 with this mt_mm's
 * packing buffer (K > 0; each epilogue part optional), on the backend's threads where oneDNN
 * would use them too (a product above the serial threshold, not from inside a parallel
 * region, where a nested one gets one thread: the towers' heads in dbmtl.c towers_graph) */
static mtrec_status mm_fwd(mt_mm *m, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, const mt_real *bias, const mt_real *scale,
                           const mt_real *shift, mt_activation act, int beta, mt_real *C,
                           int ldc) {
    if (mm_pack_buf(m, &m->fw_pack, &m->fw_pack_n, mt_mm_fwd_pack_floats(K, N))) return MTREC_ERR_NOMEM;
    int nthr = omp_get_active_level() < omp_get_max_active_levels() ? mm_product_threads(m, M, N, K) : 1;
    mt_mm_fwd_avx512(tb, M, N, K, A, B, bias, scale, shift, act != MT_ACT_LINEAR,
                     act == MT_ACT_LEAKY_RELU ? 0.2f : 0.0f, beta, C, ldc, m->fw_pack, nthr);
    return MTREC_OK;
}
const char *mt_mm_backend_name(const mt_mm *m) { return m ? m->name : "none"; }
/* Detail of the last MTREC_ERR_BACKEND from mt_mm_gemm ("" if none). */
const char *mt_mm_last_error(const mt_mm *m) { return m ? m->msg : ""; }

/* 2-D memory descriptor rows x cols with the given strides. */
static dnnl_status_t mm_md(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t rs,
                           int64_t cs, dnnl_data_type_t dt) {
    dnnl_dims_t d = {rows, cols}, s = {rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 2, d, dt, s);
}

/* Grow a bf16 scratch buffer to hold n elements (only at primitive creation). */
static int mm_grow(void **buf, size_t *bytes, size_t n) {
    size_t need = n * 2;
    if (need <= *bytes) return 0;
    need = (need + 63) & ~(size_t)63;
    void *nb = mt_alloc_aligned(need);
    if (!nb) return -1;
    free(*buf);
    *buf = nb;
    *bytes = need;
    return 0;
}

/* Reorder f32 [n] -> bf16 [n] over flat buffers (A and B are dense whatever their
 * transpose); *src and *dst receive memory objects whose handles are set per call. */
static dnnl_status_t mm_make_cvt(mt_mm *m, int64_t n, dnnl_primitive_t *prim,
                                 dnnl_memory_t *src, dnnl_memory_t *dst) {
    dnnl_memory_desc_t sd, dd;
    dnnl_dims_t d = {n};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&sd, 1, d, dnnl_f32, dnnl_a);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dd, 1, d, dnnl_bf16, dnnl_a);
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, &sd, m->eng, &dd, m->eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(prim, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s == dnnl_success) s = dnnl_memory_create(src, &sd, m->eng, DNNL_MEMORY_NONE);
    if (s == dnnl_success) s = dnnl_memory_create(dst, &dd, m->eng, DNNL_MEMORY_NONE);
    return s;
}

/* Create and cache the primitive for one key; returns its index or -1 (m->msg set). */
static int mm_prim_create(mt_mm *m, const mm_key *k, mtrec_status *err) {
    mtrec_status st = MTREC_OK;
    if (m->n_prims == m->cap_prims) {
        int nc = m->cap_prims ? 2 * m->cap_prims : 16;
        mm_prim *np = realloc(m->prims, (size_t)nc * sizeof *np);
        if (!np) {
            snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: out of memory caching a primitive");
            *err = MTREC_ERR_NOMEM;
            return -1;
        }
        m->prims = np;
        m->cap_prims = nc;
    }
    mm_prim p;
    memset(&p, 0, sizeof p);
    p.k = *k;
    int ta = k->ta, tb = k->tb, M = k->M, N = k->N, K = k->K;
    /* oneDNN fixes a primitive's thread count from the pool size at creation */
    p.nthr = mm_product_threads(m, M, N, K);
    omp_set_num_threads(p.nthr);
    dnnl_data_type_t dt = m->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a, b, c, bias, vec;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    /* A stored [M,K] (strides K,1) or [K,M] (op(A)[i,k] at k*M+i: strides 1,M). */
    DTRY(mm_md(&a, M, K, ta ? 1 : K, ta ? M : 1, dt), "memory desc A");
    DTRY(mm_md(&b, K, N, tb ? 1 : N, tb ? K : 1, dt), "memory desc B");
    DTRY(mm_md(&c, M, N, k->ldc, 1, dnnl_f32), "memory desc C");
    DTRY(mm_md(&bias, 1, N, N, 1, dnnl_f32), "memory desc bias");
    vec = bias;  /* per-column scale/shift: [1, N] broadcast over rows */
    dnnl_matmul_desc_t d;
    DTRY(dnnl_matmul_desc_init(&d, &a, &b, k->bias ? &bias : NULL, &c), "matmul desc");
    DTRY(dnnl_primitive_attr_create(&attr), "attr");
    if (k->beta || k->scale || k->shift || k->act) {
        DTRY(dnnl_post_ops_create(&po), "post ops");
        if (k->beta) DTRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post op");
        if (k->scale) DTRY(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &vec), "scale post op");
        if (k->shift) DTRY(dnnl_post_ops_append_binary(po, dnnl_binary_add, &vec), "shift post op");
        if (k->act)
            DTRY(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, k->alpha, 0.0f),
                 "relu post op");
        DTRY(dnnl_primitive_attr_set_post_ops(attr, po), "set post ops");
    }
    DTRY(dnnl_primitive_desc_create(&p.pd, &d, attr, m->eng, NULL), "matmul primitive desc");
    DTRY(dnnl_primitive_desc_query(p.pd, dnnl_query_impl_info_str, 0, &p.impl), "impl query");
    DTRY(dnnl_primitive_create(&p.prim, p.pd), "matmul primitive");
    DTRY(dnnl_memory_create(&p.ma, &a, m->eng, DNNL_MEMORY_NONE), "memory A");
    DTRY(dnnl_memory_create(&p.mb, &b, m->eng, DNNL_MEMORY_NONE), "memory B");
    DTRY(dnnl_memory_create(&p.mc, &c, m->eng, DNNL_MEMORY_NONE), "memory C");
    if (k->bias) DTRY(dnnl_memory_create(&p.mbias, &bias, m->eng, DNNL_MEMORY_NONE), "memory bias");
    if (k->scale) DTRY(dnnl_memory_create(&p.mscale, &vec, m->eng, DNNL_MEMORY_NONE), "memory scale");
    if (k->shift) DTRY(dnnl_memory_create(&p.mshift, &vec, m->eng, DNNL_MEMORY_NONE), "memory shift");
    if (m->bf16) {
        if (mm_grow(&m->abuf, &m->abuf_bytes, (size_t)M * K) ||
            mm_grow(&m->bbuf, &m->bbuf_bytes, (size_t)K * N)) {
            snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: out of memory for bf16 scratch");
            st = MTREC_ERR_NOMEM;
            goto fail;
        }
        DTRY(mm_make_cvt(m, (int64_t)M * K, &p.ra, &p.ra_src, &p.ra_dst), "bf16 reorder A");
        DTRY(mm_make_cvt(m, (int64_t)K * N, &p.rb, &p.rb_src, &p.rb_dst), "bf16 reorder B");
    }
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    omp_set_num_threads(m->threads);
    double flops = 2.0 * M * N * K;
    if (flops >= m->largest_flops) {
        m->largest_flops = flops;
        m->largest_impl = p.impl;
        mm_update_name(m);
    }
    m->prims[m->n_prims] = p;
    return m->n_prims++;
fail:
    omp_set_num_threads(m->threads);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    mm_prim_destroy(&p);
    *err = st;
    return -1;
}

static int mm_key_eq(const mm_key *a, const mm_key *b) {
    return a->M == b->M && a->N == b->N && a->K == b->K && a->ldc == b->ldc && a->ta == b->ta && a->tb == b->tb &&
           a->beta == b->beta && a->bias == b->bias && a->scale == b->scale &&
           a->shift == b->shift && a->act == b->act && a->alpha == b->alpha;
}

static int mm_find(mt_mm *m, const mm_key *k) {
    if (m->last_hit >= 0 && mm_key_eq(&m->prims[m->last_hit].k, k)) return m->last_hit;
    for (int i = 0; i < m->n_prims; i++)
        if (mm_key_eq(&m->prims[i].k, k)) return i;
    return -1;
}

void mt_mm_new_step(mt_mm *m) {
    if (m) m->gen++;
}

/* The cache entry of src (made when absent); -1 only when out of memory. Entries come back
 * in the same order every step, so the search starts after the last hit. */
static int mm_cvt_entry(mt_mm *m, const void *src) {
    int idx = -1;
    for (int k = 0; k < m->n_cvt; k++) {
        int i = (m->cvt_next + k) % m->n_cvt;
        if (m->cvt[i].src == src) { idx = i; break; }
    }
    if (idx < 0) {
        if (m->n_cvt == m->cap_cvt) {
            int nc = m->cap_cvt ? 2 * m->cap_cvt : 64;
            mm_cvt *nv = realloc(m->cvt, (size_t)nc * sizeof *nv);
            if (!nv) return -1;
            m->cvt = nv;
            m->cap_cvt = nc;
        }
        idx = m->n_cvt++;
        memset(&m->cvt[idx], 0, sizeof m->cvt[idx]);
        m->cvt[idx].src = src;
        m->cvt[idx].gen = m->gen - 1;
    }
    m->cvt_next = (idx + 1) % m->n_cvt;
    return idx;
}

/* The bf16 buffer for stable operand src[n]: *ready says it already holds this step's copy.
 * NULL only when out of memory (first steps only: buffers are kept across steps). */
static void *mm_cvt_buf(mt_mm *m, const void *src, size_t n, int frozen, int *ready) {
    int idx = mm_cvt_entry(m, src);
    if (idx < 0) return NULL;
    mm_cvt *c = &m->cvt[idx];
    /* (a ready copy of more values serves a request for its first n: the towers' split
     * product reads the first rows of an operand whose whole copy another product made) */
    *ready = c->n >= n && (c->gen == m->gen || (frozen && c->frozen));
    if (!*ready && c->ext) {  /* an alias of an earlier step: convert into a buffer of our own */
        c->buf = NULL;
        c->bytes = 0;
        c->ext = 0;
    }
    if (!*ready && mm_grow(&c->buf, &c->bytes, n)) return NULL;
    if (!*ready) {
        c->n = n;
        c->gen = m->gen;
        c->frozen = frozen;
    }
    return c->buf;
}

static mtrec_status mm_exec(mt_mm *m, mm_prim *p, const mm_key *k, const mt_real *A,
                            const mt_real *B, const mt_real *bias, const mt_real *scale,
                            const mt_real *shift, mt_real *C, int stable);

int mt_mm_bf16_alias(mt_mm *m, const mt_real *src, size_t n, const uint16_t *copy) {
#ifdef MT_MM_NO_STABLE_CACHE
    return 0;
#endif
    if (!m || !m->bf16 || !src || !copy || n == 0) return 0;
    int idx = mm_cvt_entry(m, src);
    if (idx < 0) return 0;
    mm_cvt *c = &m->cvt[idx];
    if (c->buf != (void *)copy) {  /* (the same buffer: a sub-range aliased onto itself) */
        if (!c->ext) free(c->buf);
        c->buf = (void *)copy;
        c->bytes = 0;
        c->ext = 1;
    }
    c->n = n;
    c->gen = m->gen;
    c->frozen = 0;
    return 1;
}

uint16_t *mt_mm_bf16_slot(mt_mm *m, const mt_real *src, size_t n) {
#ifdef MT_MM_NO_STABLE_CACHE
    return NULL; /* every operand converted on every call: nothing to hand over */
#endif
    if (!m || !m->bf16 || !src || n == 0) return NULL;
    int ready;
    /* the entry now counts as this step's copy (mm_cvt_buf marks it when it was not) */
    return mm_cvt_buf(m, src, n, 0, &ready);
}

const uint16_t *mt_mm_bf16_copy(const mt_mm *m, const mt_real *src, size_t n) {
    if (!m || !m->bf16 || !src) return NULL;
    for (int i = 0; i < m->n_cvt; i++) {
        const mm_cvt *c = &m->cvt[i];
        if (c->src == src)
            return c->buf && c->n == n && (c->gen == m->gen || c->frozen) ? c->buf : NULL;
    }
    return NULL;
}

/* Run the product described by k (shape already validated, K > 0). */
static mtrec_status mm_run(mt_mm *m, const mm_key *k, const mt_real *A, const mt_real *B,
                           const mt_real *bias, const mt_real *scale, const mt_real *shift,
                           mt_real *C, int stable) {
    mtrec_status st = MTREC_OK;
    int idx = mm_find(m, k);
    if (omp_get_max_threads() != m->threads) omp_set_num_threads(m->threads);
    if (idx < 0) {
        mtrec_status err = MTREC_ERR_BACKEND;
        idx = mm_prim_create(m, k, &err);
        if (idx < 0) return err;
    }
    m->last_hit = idx;
    mm_prim *p = &m->prims[idx];
    /* small products (and their bf16 conversions) run on the calling thread; the pool size
     * is restored before returning, for the elementwise loops */
    if (p->nthr != m->threads) omp_set_num_threads(p->nthr);
    st = mm_exec(m, p, k, A, B, bias, scale, shift, C, stable);
    if (p->nthr != m->threads) omp_set_num_threads(m->threads);
    return st;
}

/* Convert (bf16) and execute one cached primitive. */
static mtrec_status mm_exec(mt_mm *m, mm_prim *p, const mm_key *k, const mt_real *A,
                            const mt_real *B, const mt_real *bias, const mt_real *scale,
                            const mt_real *shift, mt_real *C, int stable) {
    mtrec_status st = MTREC_OK;
#ifdef MT_MM_NO_STABLE_CACHE /* debug switch: convert every operand on every call */
    stable = 0;
#endif
    if (m->bf16) {
        /* stable operands: converted once per step into their own cached buffer */
        int ready_a = 0, ready_b = 0;
        void *abuf = m->abuf, *bbuf = m->bbuf;
        if (stable & MT_MM_STABLE_A) abuf = mm_cvt_buf(m, A, (size_t)k->M * k->K, 0, &ready_a);
        if (stable & (MT_MM_STABLE_B | MT_MM_CONST_B))
            bbuf = mm_cvt_buf(m, B, (size_t)k->K * k->N, (stable & MT_MM_CONST_B) != 0, &ready_b);
        if (!abuf || !bbuf) {
            snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: out of memory for bf16 copies");
            return MTREC_ERR_NOMEM;
        }
        if (!ready_a) {
            DTRY(dnnl_memory_set_data_handle(p->ra_src, (void *)A), "set handle");
            DTRY(dnnl_memory_set_data_handle(p->ra_dst, abuf), "set handle");
            dnnl_exec_arg_t ca[2] = {{DNNL_ARG_FROM, p->ra_src}, {DNNL_ARG_TO, p->ra_dst}};
            DTRY(dnnl_primitive_execute(p->ra, m->strm, 2, ca), "bf16 convert A");
        }
        if (!ready_b) {
            DTRY(dnnl_memory_set_data_handle(p->rb_src, (void *)B), "set handle");
            DTRY(dnnl_memory_set_data_handle(p->rb_dst, bbuf), "set handle");
            dnnl_exec_arg_t cb[2] = {{DNNL_ARG_FROM, p->rb_src}, {DNNL_ARG_TO, p->rb_dst}};
            DTRY(dnnl_primitive_execute(p->rb, m->strm, 2, cb), "bf16 convert B");
        }
        DTRY(dnnl_memory_set_data_handle(p->ma, abuf), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->mb, bbuf), "set handle");
    } else {
        DTRY(dnnl_memory_set_data_handle(p->ma, (void *)A), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->mb, (void *)B), "set handle");
    }
    DTRY(dnnl_memory_set_data_handle(p->mc, C), "set handle");
    dnnl_exec_arg_t args[6] = {
        {DNNL_ARG_SRC, p->ma}, {DNNL_ARG_WEIGHTS, p->mb}, {DNNL_ARG_DST, p->mc}};
    int nargs = 3, post = k->beta;  /* post-op index of the first binary (after the sum) */
    if (k->bias) {
        DTRY(dnnl_memory_set_data_handle(p->mbias, (void *)bias), "set handle");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, p->mbias};
    }
    if (k->scale) {
        DTRY(dnnl_memory_set_data_handle(p->mscale, (void *)scale), "set handle");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(post) | DNNL_ARG_SRC_1,
                                          p->mscale};
        post++;
    }
    if (k->shift) {
        DTRY(dnnl_memory_set_data_handle(p->mshift, (void *)shift), "set handle");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(post) | DNNL_ARG_SRC_1,
                                          p->mshift};
    }
    DTRY(dnnl_primitive_execute(p->prim, m->strm, nargs, args), "matmul execute");
    DTRY(dnnl_stream_wait(m->strm), "stream wait");
    return MTREC_OK;
fail:
    return st;
}

mtrec_status mt_mm_gemm(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                        const mt_real *B, mt_real beta, mt_real *C) {
    return mt_mm_gemm_ex(m, ta, tb, M, N, K, A, B, beta, C, 0);
}

mtrec_status mt_mm_gemm_ex(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int stable) {
    return mt_mm_gemm_ld(m, ta, tb, M, N, K, A, B, beta, C, N, stable);
}

mtrec_status mt_mm_gemm_ld(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                           const mt_real *B, mt_real beta, mt_real *C, int ldc, int stable) {
    if (!m) return MTREC_ERR_ARG;
    if (M < 0 || N < 0 || K < 0 || ldc < N || (beta != 0 && beta != 1)) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: bad arguments M=%d N=%d K=%d ldc=%d beta=%g",
                 M, N, K, ldc, (double)beta);
        return MTREC_ERR_ARG;
    }
    if (M == 0 || N == 0) return MTREC_OK;
    if (!C || (K > 0 && (!A || !B))) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: NULL buffer");
        return MTREC_ERR_ARG;
    }
    if (K == 0) { /* empty sum: C = beta * C */
        if (beta == 0)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
        return MTREC_OK;
    }
    if (ta && !tb && m->wgrad) return mm_wgrad(m, M, N, K, A, B, beta != 0, C, ldc);
    if (!ta && mm_fwd_takes(m, M, N, K))
        return mm_fwd(m, tb, M, N, K, A, B, NULL, NULL, NULL, MT_ACT_LINEAR, beta != 0, C, ldc);
    mm_key k = {.ta = ta != 0, .tb = tb != 0, .M = M, .N = N, .K = K, .beta = beta != 0, .ldc = ldc};
    return mm_run(m, &k, A, B, NULL, NULL, NULL, C, stable);
}

mtrec_status mt_mm_gemm_epilogue(mt_mm *m, int M, int N, int K, const mt_real *A,
                                 const mt_real *B, const mt_real *bias, const mt_real *scale,
                                 const mt_real *shift, mt_activation act, mt_real *C,
                                 int stable) {
    if (!m) return MTREC_ERR_ARG;
    if (M < 0 || N < 0 || K < 0 || !mt_mm_act_fusable(act)) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm_epilogue: bad arguments M=%d N=%d K=%d act=%d",
                 M, N, K, (int)act);
        return MTREC_ERR_ARG;
    }
    if (M == 0 || N == 0) return MTREC_OK;
    if (!C || (K > 0 && (!A || !B))) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm_epilogue: NULL buffer");
        return MTREC_ERR_ARG;
    }
    if (K == 0) {
        memset(C, 0, (size_t)M * N * sizeof *C);
        return mt_mm_epilogue_ref(C, M, N, bias, scale, shift, act);
    }
    if (mm_fwd_takes(m, M, N, K)) return mm_fwd(m, 0, M, N, K, A, B, bias, scale, shift, act, 0, C, N);
    mm_key k = {.M = M, .N = N, .K = K, .ldc = N, .bias = bias != NULL, .scale = scale != NULL,
                .shift = shift != NULL, .act = act != MT_ACT_LINEAR,
                .alpha = act == MT_ACT_LEAKY_RELU ? 0.2f : 0.0f};
    return mm_run(m, &k, A, B, bias, scale, shift, C, stable);
}

#endif /* MT_DOUBLE */
