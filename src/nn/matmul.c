/* matmul.c: the matrix backend (mt_mm) behind every dense product.
 *
 * Float build: oneDNN 2.6 matmul primitives (C API). One engine + one stream per mt_mm;
 * one primitive per (ta, tb, M, N, K, beta) created on first use and cached; transposes are
 * expressed with memory strides; beta = 1 is the `sum` post-op (dst is read and added).
 * The memory objects are created once and re-pointed with dnnl_memory_set_data_handle per
 * call. bf16 mode (AMX only; see below): A and B are converted to bf16 by cached oneDNN
 * reorder primitives into scratch buffers owned by the mt_mm (grown only when a larger
 * primitive is created, never per call); the product accumulates and writes fp32.
 *
 * MT_DOUBLE build (gradient tests only): a plain reference triple loop over doubles, no
 * oneDNN calls.
 *
 * Not thread-safe: one mt_mm serves one thread of control (its products use `threads`
 * OpenMP threads internally). It does not own A, B or C. */
#include "nn/nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#ifndef MT_DOUBLE
#include <dnnl.h>
#endif

#define MM_NAME_MAX 160
#define MM_MSG_MAX 256

/* ---- MT_DOUBLE: reference loops --------------------------------------------------------- */
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
int mt_mm_uses_bf16(const mt_mm *m) { (void)m; return 0; }
const char *mt_mm_backend_name(const mt_mm *m) { return m ? m->name : "none"; }
const char *mt_mm_last_error(const mt_mm *m) { return m ? m->msg : ""; }

/* C = op(A) op(B) + beta C with plain loops; the accumulator is a double per element. */
mtrec_status mt_mm_gemm(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                        const mt_real *B, mt_real beta, mt_real *C) {
    if (!m || M < 0 || N < 0 || K < 0 || (beta != 0 && beta != 1)) return MTREC_ERR_ARG;
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
            C[(size_t)i * N + j] = (beta != 0 ? C[(size_t)i * N + j] : 0) + acc;
        }
    }
    return MTREC_OK;
}

#else /* ---- float build: oneDNN -------------------------------------------------------- */

/* One cached product shape. For fp32, ma/mb point at the caller's A/B each call; for bf16
 * they point at the mt_mm's bf16 scratch and ra/rb (reorders f32 -> bf16 over the flat
 * element range of A and B) fill it from the caller's buffers (ra_src/rb_src). */
typedef struct mm_prim {
    int ta, tb, M, N, K, beta;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t ma, mb, mc;
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
    char name[MM_NAME_MAX];
    char msg[MM_MSG_MAX];
};

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
    snprintf(m->name, sizeof m->name, "oneDNN %d.%d.%d %s (%s)", v->major, v->minor, v->patch,
             m->bf16 ? "bf16" : "fp32", m->largest_impl ? m->largest_impl : "no product yet");
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
    if (m->strm) dnnl_stream_destroy(m->strm);
    if (m->eng) dnnl_engine_destroy(m->eng);
    free(m);
}

int mt_mm_uses_bf16(const mt_mm *m) { return m ? m->bf16 : 0; }
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

/* Create and cache the primitive for one shape; returns its index or -1 (m->msg set). */
static int mm_prim_create(mt_mm *m, int ta, int tb, int M, int N, int K, int beta,
                          mtrec_status *err) {
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
    p.ta = ta; p.tb = tb; p.M = M; p.N = N; p.K = K; p.beta = beta;
    dnnl_data_type_t dt = m->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a, b, c;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    /* A stored [M,K] (strides K,1) or [K,M] (op(A)[i,k] at k*M+i: strides 1,M). */
    DTRY(mm_md(&a, M, K, ta ? 1 : K, ta ? M : 1, dt), "memory desc A");
    DTRY(mm_md(&b, K, N, tb ? 1 : N, tb ? K : 1, dt), "memory desc B");
    DTRY(mm_md(&c, M, N, N, 1, dnnl_f32), "memory desc C");
    dnnl_matmul_desc_t d;
    DTRY(dnnl_matmul_desc_init(&d, &a, &b, NULL, &c), "matmul desc");
    DTRY(dnnl_primitive_attr_create(&attr), "attr");
    if (beta) {
        DTRY(dnnl_post_ops_create(&po), "post ops");
        DTRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post op");
        DTRY(dnnl_primitive_attr_set_post_ops(attr, po), "set post ops");
    }
    DTRY(dnnl_primitive_desc_create(&p.pd, &d, attr, m->eng, NULL), "matmul primitive desc");
    DTRY(dnnl_primitive_desc_query(p.pd, dnnl_query_impl_info_str, 0, &p.impl), "impl query");
    DTRY(dnnl_primitive_create(&p.prim, p.pd), "matmul primitive");
    DTRY(dnnl_memory_create(&p.ma, &a, m->eng, DNNL_MEMORY_NONE), "memory A");
    DTRY(dnnl_memory_create(&p.mb, &b, m->eng, DNNL_MEMORY_NONE), "memory B");
    DTRY(dnnl_memory_create(&p.mc, &c, m->eng, DNNL_MEMORY_NONE), "memory C");
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
    double flops = 2.0 * M * N * K;
    if (flops >= m->largest_flops) {
        m->largest_flops = flops;
        m->largest_impl = p.impl;
        mm_update_name(m);
    }
    m->prims[m->n_prims] = p;
    return m->n_prims++;
fail:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    mm_prim_destroy(&p);
    *err = st;
    return -1;
}

static int mm_find(mt_mm *m, int ta, int tb, int M, int N, int K, int beta) {
    if (m->last_hit >= 0) {
        const mm_prim *p = &m->prims[m->last_hit];
        if (p->M == M && p->N == N && p->K == K && p->ta == ta && p->tb == tb && p->beta == beta)
            return m->last_hit;
    }
    for (int i = 0; i < m->n_prims; i++) {
        const mm_prim *p = &m->prims[i];
        if (p->M == M && p->N == N && p->K == K && p->ta == ta && p->tb == tb && p->beta == beta)
            return i;
    }
    return -1;
}

mtrec_status mt_mm_gemm(mt_mm *m, int ta, int tb, int M, int N, int K, const mt_real *A,
                        const mt_real *B, mt_real beta, mt_real *C) {
    if (!m) return MTREC_ERR_ARG;
    if (M < 0 || N < 0 || K < 0 || (beta != 0 && beta != 1)) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: bad arguments M=%d N=%d K=%d beta=%g",
                 M, N, K, (double)beta);
        return MTREC_ERR_ARG;
    }
    if (M == 0 || N == 0) return MTREC_OK;
    if (!C || (K > 0 && (!A || !B))) {
        snprintf(m->msg, sizeof m->msg, "mt_mm_gemm: NULL buffer");
        return MTREC_ERR_ARG;
    }
    if (K == 0) { /* empty sum: C = beta * C */
        if (beta == 0) memset(C, 0, (size_t)M * N * sizeof *C);
        return MTREC_OK;
    }
    ta = ta != 0;
    tb = tb != 0;
    int bi = beta != 0;
    mtrec_status st = MTREC_OK;
    int idx = mm_find(m, ta, tb, M, N, K, bi);
    if (omp_get_max_threads() != m->threads) omp_set_num_threads(m->threads);
    if (idx < 0) {
        mtrec_status err = MTREC_ERR_BACKEND;
        idx = mm_prim_create(m, ta, tb, M, N, K, bi, &err);
        if (idx < 0) return err;
    }
    m->last_hit = idx;
    mm_prim *p = &m->prims[idx];
    if (m->bf16) {
        DTRY(dnnl_memory_set_data_handle(p->ra_src, (void *)A), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->rb_src, (void *)B), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->ra_dst, m->abuf), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->rb_dst, m->bbuf), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->ma, m->abuf), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->mb, m->bbuf), "set handle");
        dnnl_exec_arg_t ca[2] = {{DNNL_ARG_FROM, p->ra_src}, {DNNL_ARG_TO, p->ra_dst}};
        DTRY(dnnl_primitive_execute(p->ra, m->strm, 2, ca), "bf16 convert A");
        dnnl_exec_arg_t cb[2] = {{DNNL_ARG_FROM, p->rb_src}, {DNNL_ARG_TO, p->rb_dst}};
        DTRY(dnnl_primitive_execute(p->rb, m->strm, 2, cb), "bf16 convert B");
    } else {
        DTRY(dnnl_memory_set_data_handle(p->ma, (void *)A), "set handle");
        DTRY(dnnl_memory_set_data_handle(p->mb, (void *)B), "set handle");
    }
    DTRY(dnnl_memory_set_data_handle(p->mc, C), "set handle");
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, p->ma}, {DNNL_ARG_WEIGHTS, p->mb}, {DNNL_ARG_DST, p->mc}};
    DTRY(dnnl_primitive_execute(p->prim, m->strm, 3, args), "matmul execute");
    DTRY(dnnl_stream_wait(m->strm), "stream wait");
    return MTREC_OK;
fail:
    return st;
}

#endif /* MT_DOUBLE */
