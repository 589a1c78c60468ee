/* test_checkpoint.c: checkpoint files (round trip, corrupt-file refusal, atomic writes) and
 * the model_dir index (latest, commit, pruning). Works in the float and the MT_DOUBLE build.
 * Everything is written under a fresh temp folder, removed at the end unless
 * MTREC_TEST_KEEP=1 (then its path is printed to stderr, e.g. for tools/read_ckpt.py). */
#include <errno.h>
#include <math.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "io/checkpoint.h"
#include "test.h"

static char g_dir[256];

static char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

/* Deterministic float values with a wide range (incl. -0, tiny, huge); exact in float. */
static void fill(mt_real *x, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        float v = (float)((int32_t)(s >> 8) - (1 << 23)) / (float)(1 << 20);
        if (i % 97 == 3) v = -0.0f;
        if (i % 101 == 5) v = 1e-40f; /* subnormal */
        if (i % 103 == 7) v = 3.0e38f;
        x[i] = (mt_real)v;
    }
}

static mt_real *make(int64_t n, uint32_t seed) {
    mt_real *x = malloc(sizeof(mt_real) * (size_t)(n ? n : 1));
    fill(x, n, seed);
    return x;
}

/* Bitwise equality of the values (so -0.0 vs 0.0 would be caught). */
static int same(const mt_real *a, const mt_real *b, int64_t n) {
    return n == 0 || memcmp(a, b, sizeof(mt_real) * (size_t)n) == 0;
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static unsigned char *slurp(const char *p, long *len) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len + 1);
    if (fread(b, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return b;
}

static void spit(const char *p, const void *b, long len) {
    FILE *f = fopen(p, "wb");
    if (!f) return;
    if (len > 0) fwrite(b, 1, (size_t)len, f);
    fclose(f);
}

static void spits(const char *p, const char *s) { spit(p, s, (long)strlen(s)); }

/* Hand-made safetensors file: 8-byte length, json (unpadded unless caller pads), data. */
static void write_raw(const char *p, const char *json, const void *data, long dlen) {
    size_t jl = strlen(json);
    unsigned char *b = malloc(8 + jl + (size_t)dlen);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    if (dlen) memcpy(b + 8 + jl, data, (size_t)dlen);
    spit(p, b, 8 + (long)jl + dlen);
    free(b);
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    if (!d) return -1;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* Opens path expecting failure `code` with a message containing `needle` and the path. */
static void expect_open_fail(const char *path, mtrec_status code, const char *needle) {
    mt_ckpt *c = (mt_ckpt *)1;
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_ckpt_open(path, &c, &e);
    CHECK_MSG(st == code, "%s: got %s, want %s (%s)", path, mtrec_status_str(st),
              mtrec_status_str(code), e.msg);
    CHECK(c == NULL);
    CHECK_CONTAINS(e.msg, needle);
    CHECK_CONTAINS(e.msg, path);
    mt_ckpt_close(c);
}

/* ------------------------------------------------------------------ round trip */

#define BIG_N 10000000

static void test_roundtrip(void) {
    mt_real *k = make(272 * 512, 1), *b = make(512, 2), *one = make(1, 3), *sc = make(1, 4),
            *t4 = make(2 * 3 * 4 * 5, 5), *big = make(BIG_N, 6);
    mt_tensor_ref t[] = {
        {"bottom/dnn_0/kernel", k, {272, 512}, 2, 0},
        {"bottom/dnn_0/bias", b, {512}, 1, 0},
        {"one", one, {1}, 1, 0},
        {"global_step_scalar", sc, {0}, 0, 0},
        {"empty", NULL, {0, 5}, 2, 0},
        {"t4", t4, {2, 3, 4, 5}, 4, 0},
        {"emb/table", big, {BIG_N / 16, 16}, 2, 0},
    };
    mt_kv meta[] = {{"step", "100"}, {"fingerprint", "a\"b\\c\n\xc3\xa9"}, {"empty", ""}};
    const char *p = tpath("model.ckpt-100");
    mt_err e;
    mt_err_clear(&e);
    mtrec_status st = mt_ckpt_write(p, t, (int)MT_ARRAY_LEN(t), meta, 3, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    long expect_data = 4L * (272 * 512 + 512 + 1 + 1 + 0 + 120 + BIG_N);
    long len = 0;
    unsigned char *raw = slurp(p, &len);
    CHECK(raw != NULL);
    if (raw) {
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
        CHECK(hl % 8 == 0);
        CHECK(raw[8] == '{');
        CHECK((long)(8 + hl) + expect_data == len);
        CHECK(memmem(raw + 8, hl, "\"dtype\":\"F32\"", 13) != NULL);
        free(raw);
    }

    mt_ckpt *c = NULL;
    st = mt_ckpt_open(p, &c, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (!c) return;
    CHECK(mt_ckpt_count(c) == (int)MT_ARRAY_LEN(t));
    for (int i = 0; i < (int)MT_ARRAY_LEN(t); i++) CHECK_STR_EQ(mt_ckpt_name(c, i), t[i].name);
    CHECK(mt_ckpt_name(c, -1) == NULL && mt_ckpt_name(c, 99) == NULL);
    CHECK(mt_ckpt_has(c, "t4") && !mt_ckpt_has(c, "t5") && !mt_ckpt_has(c, "__metadata__"));
    CHECK_STR_EQ(mt_ckpt_meta(c, "step"), "100");
    CHECK_STR_EQ(mt_ckpt_meta(c, "fingerprint"), meta[1].value);
    CHECK_STR_EQ(mt_ckpt_meta(c, "empty"), "");
    CHECK_STR_EQ(mt_ckpt_meta(c, "format"), "mtrec-ckpt-1");
    CHECK(mt_ckpt_meta(c, "crc32") != NULL);
    CHECK(mt_ckpt_meta(c, "nope") == NULL);

    for (int i = 0; i < (int)MT_ARRAY_LEN(t); i++) {
        int64_t n = 1;
        for (int d = 0; d < t[i].ndim; d++) n *= t[i].shape[d];
        mt_real *got = malloc(sizeof(mt_real) * (size_t)(n ? n : 1));
        for (int64_t j = 0; j < n; j++) got[j] = (mt_real)12345;
        st = mt_ckpt_read(c, t[i].name, got, n, t[i].shape, t[i].ndim, &e);
        CHECK_MSG(st == MTREC_OK, "%s", e.msg);
        CHECK_MSG(same(got, t[i].data, n), "tensor %s differs", t[i].name);
        if (n > 0) { /* shape == NULL: count-only check */
            got[0] = (mt_real)7;
            CHECK(mt_ckpt_read(c, t[i].name, got, n, NULL, 0, &e) == MTREC_OK);
            CHECK(got[0] == t[i].data[0]);
        }
        free(got);
    }
    CHECK(sc[0] != (mt_real)0); /* the scalar is a real value, not a default */

    /* Shape and count mismatches, missing tensor: messages name file, tensor and shapes. */
    int64_t want[2] = {272, 1024};
    st = mt_ckpt_read(c, "bottom/dnn_0/kernel", k, 272 * 1024, want, 2, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "tensor 'bottom/dnn_0/kernel' has shape [272,512], expected [272,1024]");
    CHECK_CONTAINS(e.msg, p);
    int64_t want1[1] = {272 * 512};
    st = mt_ckpt_read(c, "bottom/dnn_0/kernel", k, 272 * 512, want1, 1, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "expected [139264]");
    st = mt_ckpt_read(c, "bottom/dnn_0/bias", b, 511, NULL, 0, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "expected 511 values");
    st = mt_ckpt_read(c, "x", b, 1, NULL, 0, &e);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "missing tensor 'x'");
    mt_ckpt_close(c);
    mt_ckpt_close(NULL);

    /* No tensors at all is a valid (if useless) file. */
    const char *p0 = tpath("zero.ckpt");
    CHECK(mt_ckpt_write(p0, NULL, 0, NULL, 0, &e) == MTREC_OK);
    CHECK(mt_ckpt_open(p0, &c, &e) == MTREC_OK);
    CHECK(mt_ckpt_count(c) == 0);
    mt_ckpt_close(c);

    free(k), free(b), free(one), free(sc), free(t4), free(big);
}

/* Bad writer arguments are refused before anything touches the disk. */
static void test_write_args(void) {
    mt_real x[4] = {1, 2, 3, 4};
    mt_err e;
    const char *p = tpath("args.ckpt");
    mt_tensor_ref dup[] = {{"a", x, {4}, 1, 0}, {"a", x, {4}, 1, 0}};
    CHECK(mt_ckpt_write(p, dup, 2, NULL, 0, &e) == MTREC_ERR_ARG);
    CHECK_CONTAINS(e.msg, "duplicate tensor name 'a'");
    mt_tensor_ref nodata[] = {{"a", NULL, {4}, 1, 0}};
    CHECK(mt_ckpt_write(p, nodata, 1, NULL, 0, &e) == MTREC_ERR_ARG);
    mt_tensor_ref neg[] = {{"a", x, {-1}, 1, 0}};
    CHECK(mt_ckpt_write(p, neg, 1, NULL, 0, &e) == MTREC_ERR_ARG);
    mt_tensor_ref ok[] = {{"a", x, {4}, 1, 0}};
    mt_kv reserved[] = {{"crc32", "1"}};
    CHECK(mt_ckpt_write(p, ok, 1, reserved, 1, &e) == MTREC_ERR_ARG);
    CHECK_CONTAINS(e.msg, "reserved");
    CHECK(file_size(p) == -1);
    CHECK(count_tmp_files(g_dir) == 0);
}

/* ------------------------------------------------------------------ corrupt files */

/* A small valid file to mutate: tensors a[3,4], b[5]. */
static const char *small_ckpt(void) {
    static mt_real a[12], b[5];
    fill(a, 12, 11);
    fill(b, 5, 12);
    mt_tensor_ref t[] = {{"a", a, {3, 4}, 2, 0}, {"b", b, {5}, 1, 0}};
    mt_kv meta[] = {{"step", "7"}};
    const char *p = tpath("small.ckpt");
    mt_err e;
    CHECK(mt_ckpt_write(p, t, 2, meta, 1, &e) == MTREC_OK);
    return p;
}

static void test_corrupt(void) {
    const char *src = small_ckpt();
    long len = 0;
    unsigned char *raw = slurp(src, &len), *m = malloc((size_t)len + 1);
    if (!raw || len < 100) {
        CHECK(0);
        free(raw), free(m);
        return;
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
    long dlen = len - 8 - (long)hl;
    CHECK(dlen == 4 * 17);
    char want[200];

    /* one flipped bit in the data */
    memcpy(m, raw, (size_t)len);
    m[len - 10] ^= 0x10;
    const char *p = tpath("flip.ckpt");
    spit(p, m, len);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "flip.ckpt: checksum mismatch (file is corrupt)");

    /* truncated data */
    p = tpath("trunc.ckpt");
    spit(p, raw, len - 12);
    snprintf(want, sizeof want, "trunc.ckpt: truncated: header says %ld bytes of data, file has %ld",
             dlen, dlen - 12);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, want);

    /* truncated inside the header, and shorter than the length field */
    p = tpath("trunc_hdr.ckpt");
    spit(p, raw, 8 + (long)hl / 2);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "truncated: header length");
    p = tpath("trunc5.ckpt");
    spit(p, raw, 5);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "truncated: 5 bytes");

    /* garbage header length */
    memcpy(m, raw, (size_t)len);
    memcpy(m, "\xde\xad\xbe\xef\x01\x02\x03\x04", 8);
    p = tpath("garbage.ckpt");
    spit(p, m, len);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "garbage header length");

    /* a PNG is not a checkpoint either */
    p = tpath("picture.png");
    spit(p, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "garbage header length");

    /* invalid JSON: break a quote in the header (same length) */
    memcpy(m, raw, (size_t)len);
    unsigned char *q = memchr(m + 8, '"', hl);
    if (q) *q = '}';
    p = tpath("badjson.ckpt");
    spit(p, m, len);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "badjson.ckpt: header is not valid JSON");

    memcpy(m, raw, (size_t)len);
    q = memchr(m + 8, ':', hl);
    if (q) *q = ',';
    p = tpath("badjson2.ckpt");
    spit(p, m, len);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "badjson2.ckpt: header is not valid JSON (at byte");

    /* JSON, but not an object */
    p = tpath("array.ckpt");
    write_raw(p, "[1,2,3]", NULL, 0);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "header is not a JSON object");

    /* empty and missing files */
    p = tpath("empty.ckpt");
    spit(p, "", 0);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "empty.ckpt: empty file");
    expect_open_fail(tpath("no_such.ckpt"), MTREC_ERR_IO, "No such file");
    expect_open_fail(g_dir, MTREC_ERR_IO, "not a regular file");

    free(raw), free(m);
}

/* Hand-written headers: offsets, sizes, dtypes, foreign (non-mtrec) safetensors files. */
static void test_bad_headers(void) {
    float d[6] = {1.5f, -2, 3, 4, 5, 6.25f};
    const char *p = tpath("hand.ckpt");

    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT,
                     "tensor 'a': data_offsets [16,24] out of range (data section is 8 bytes)");

    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", d, 12);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "tensor 'a': data_offsets [0,12] span 12 bytes, shape [2] needs 8");

    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              d, 16);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "overlap or leave a gap");

    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 12);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "4 bytes of data after the last tensor");

    write_raw(p, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", d, 4);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "tensor 'a' has dtype F16");

    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "bad shape entry");

    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "needs dtype, shape and data_offsets");

    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"__metadata__\":{\"format\":\"mtrec-ckpt-1\"}}",
              d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "crc32 missing");

    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"__metadata__\":{\"format\":\"mtrec-ckpt-9\",\"crc32\":\"0\"}}",
              d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "format 'mtrec-ckpt-9' is not supported");

    /* A foreign safetensors file (no crc, tensors out of offset order) reads fine. */
    write_raw(p,
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]},"
              "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
              "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}   ",
              d, 24);
    mt_ckpt *c = NULL;
    mt_err e;
    CHECK_MSG(mt_ckpt_open(p, &c, &e) == MTREC_OK, "%s", e.msg);
    if (c) {
        mt_real w[4], s = 0;
        int64_t shp[2] = {2, 2};
        CHECK(mt_ckpt_read(c, "w", w, 4, shp, 2, &e) == MTREC_OK);
        CHECK(w[0] == (mt_real)d[2] && w[3] == (mt_real)d[5]);
        CHECK(mt_ckpt_read(c, "s", &s, 1, shp, 0, &e) == MTREC_OK);
        CHECK(s == (mt_real)d[0]);
        CHECK_STR_EQ(mt_ckpt_name(c, 0), "s"); /* names come in data order */
        mt_ckpt_close(c);
    }

    /* Decimal crc32 is accepted too: 0 is wrong for this data. */
    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"__metadata__\":{\"format\":\"mtrec-ckpt-1\",\"crc32\":\"0\"}}",
              d, 8);
    expect_open_fail(p, MTREC_ERR_CHECKPOINT, "checksum mismatch");
}

/* ------------------------------------------------------------------ atomic writes */

static int reads_back(const char *p, const mt_real *x, int64_t n) {
    mt_ckpt *c = NULL;
    mt_err e;
    if (mt_ckpt_open(p, &c, &e) != MTREC_OK) return 0;
    mt_real *got = malloc(sizeof(mt_real) * (size_t)n);
    int ok = mt_ckpt_read(c, "w", got, n, NULL, 0, &e) == MTREC_OK && same(got, x, n);
    free(got);
    mt_ckpt_close(c);
    return ok;
}

static void test_atomic(void) {
    enum { N = 300000 };
    mt_real *v1 = make(N, 21), *v2 = make(N, 22);
    mt_tensor_ref t1[] = {{"w", v1, {N}, 1, 0}}, t2[] = {{"w", v2, {N}, 1, 0}};
    mt_err e;
    const char *p = tpath("atomic.ckpt");
    CHECK(mt_ckpt_write(p, t1, 1, NULL, 0, &e) == MTREC_OK);
    CHECK(reads_back(p, v1, N));

    /* Failure in the middle of writing the data: the temp file is a link to /dev/full
     * (works for root, unlike chmod). The old file must survive, the temp must go. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    if (symlink("/dev/full", tmp) == 0) {
        mtrec_status st = mt_ckpt_write(p, t2, 1, NULL, 0, &e);
        CHECK(st == MTREC_ERR_IO);
        CHECK_CONTAINS(e.msg, "atomic.ckpt: write failed");
        CHECK(reads_back(p, v1, N));
        CHECK(access(tmp, F_OK) != 0 && errno == ENOENT);
        st = mt_write_file_atomic(p, "x", 1, &e); /* same for the plain helper */
        CHECK(st == MTREC_OK); /* link is gone now: a normal write succeeds */
        CHECK(file_size(p) == 1);
        CHECK(mt_ckpt_write(p, t1, 1, NULL, 0, &e) == MTREC_OK);
    } else {
        CHECK_MSG(0, "symlink %s: %s", tmp, strerror(errno));
    }

    /* Failure at the rename: the target is a folder. */
    const char *dp = tpath("a_folder");
    CHECK(mkdir(dp, 0755) == 0);
    CHECK(mt_ckpt_write(dp, t2, 1, NULL, 0, &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "a_folder: cannot replace file");
    CHECK(mt_write_file_atomic(dp, "abc", 3, &e) == MTREC_ERR_IO);

    /* Failure at open: the folder does not exist. */
    CHECK(mt_ckpt_write(tpath("nope/x.ckpt"), t2, 1, NULL, 0, &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "nope/x.ckpt: cannot create temp file");

    /* The old checkpoint is intact and nothing temporary is left. */
    CHECK(reads_back(p, v1, N));
    CHECK(count_tmp_files(g_dir) == 0);

    /* A successful overwrite replaces the content. */
    CHECK(mt_ckpt_write(p, t2, 1, NULL, 0, &e) == MTREC_OK);
    CHECK(reads_back(p, v2, N));
    CHECK(!reads_back(p, v1, N));
    CHECK(mt_write_file_atomic(tpath("eval_result.txt"), "auc: 0.5\n", 9, &e) == MTREC_OK);
    long len = 0;
    unsigned char *txt = slurp(tpath("eval_result.txt"), &len);
    CHECK(len == 9 && txt && memcmp(txt, "auc: 0.5\n", 9) == 0);
    free(txt);
    CHECK(count_tmp_files(g_dir) == 0);
    free(v1), free(v2);
}

/* ------------------------------------------------------------------ model_dir */

static void test_mkdirs(void) {
    mt_err e;
    CHECK(mt_mkdirs(tpath("m/a/b//c/"), &e) == MTREC_OK);
    struct stat sb;
    CHECK(stat(tpath("m/a/b/c"), &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(mt_mkdirs(tpath("m/a/b/c"), &e) == MTREC_OK); /* exists: fine */
    spit(tpath("m/file"), "x", 1);
    CHECK(mt_mkdirs(tpath("m/file/sub"), &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "m/file");
    CHECK(mt_mkdirs("", &e) == MTREC_ERR_ARG);
}

static void test_index(void) {
    mt_err e;
    const char *dir = tpath("model_dir/sub");
    CHECK(mt_mkdirs(dir, &e) == MTREC_OK);
    char *lp = mt_ckpt_latest(dir);
    CHECK(lp == NULL); /* nothing yet */
    free(lp);
    CHECK(mt_ckpt_latest(tpath("does/not/exist")) == NULL);

    char *pp = mt_ckpt_path("d/", 12);
    CHECK_STR_EQ(pp, "d/model.ckpt-12");
    free(pp);

    /* Distractors the scan must ignore and pruning must not delete. */
    char dist1[600], dist2[600];
    snprintf(dist1, sizeof dist1, "%s/model.ckpt-9.index", dir);
    snprintf(dist2, sizeof dist2, "%s/model.ckpt-8x", dir);
    spit(dist1, "x", 1);
    spit(dist2, "x", 1);

    mt_real w[3];
    for (int64_t step = 1; step <= 5; step++) {
        fill(w, 3, (uint32_t)step);
        mt_tensor_ref t[] = {{"w", w, {3}, 1, 0}};
        char sv[24];
        snprintf(sv, sizeof sv, "%lld", (long long)step);
        mt_kv meta[] = {{"step", sv}};
        char *p = mt_ckpt_path(dir, step);
        CHECK(mt_ckpt_write(p, t, 1, meta, 1, &e) == MTREC_OK);
        CHECK_MSG(mt_ckpt_commit(dir, step, 3, &e) == MTREC_OK, "%s", e.msg);
        char *l = mt_ckpt_latest(dir);
        CHECK_STR_EQ(l, p);
        free(l);
        free(p);
    }
    for (int64_t step = 1; step <= 5; step++) {
        char *p = mt_ckpt_path(dir, step);
        CHECK_MSG((file_size(p) > 0) == (step >= 3), "step %lld", (long long)step);
        free(p);
    }
    CHECK(file_size(dist1) == 1 && file_size(dist2) == 1);

    /* EasyRec / TF CheckpointState text. */
    char ip[600];
    snprintf(ip, sizeof ip, "%s/checkpoint", dir);
    long len = 0;
    unsigned char *txt = slurp(ip, &len);
    const char *want = "model_checkpoint_path: \"model.ckpt-5\"\n"
                       "all_model_checkpoint_paths: \"model.ckpt-3\"\n"
                       "all_model_checkpoint_paths: \"model.ckpt-4\"\n"
                       "all_model_checkpoint_paths: \"model.ckpt-5\"\n";
    if (txt) txt[len > 0 ? len : 0] = '\0';
    CHECK_STR_EQ((char *)txt, want);
    free(txt);

    /* The latest really is step 5's file. */
    char *l = mt_ckpt_latest(dir);
    mt_ckpt *c = NULL;
    CHECK(l && mt_ckpt_open(l, &c, &e) == MTREC_OK);
    CHECK_STR_EQ(mt_ckpt_meta(c, "step"), "5");
    mt_ckpt_close(c);
    free(l);

    /* Index gone: directory scan. Stale index (names a deleted file): scan too. */
    CHECK(unlink(ip) == 0);
    char *p5 = mt_ckpt_path(dir, 5), *p4 = mt_ckpt_path(dir, 4);
    l = mt_ckpt_latest(dir);
    CHECK_STR_EQ(l, p5);
    free(l);
    spits(ip, "model_checkpoint_path: \"model.ckpt-77\"\n");
    l = mt_ckpt_latest(dir);
    CHECK_STR_EQ(l, p5);
    free(l);
    /* The index wins over the scan when its file exists, also as an absolute path or a
     * path relative to the working folder (what TF writes for relative model_dirs). */
    char buf[800];
    int n = snprintf(buf, sizeof buf, "model_checkpoint_path: \"%s\"\n"
                                      "all_model_checkpoint_paths: \"%s\"\n", p4, p4);
    spit(ip, buf, n);
    l = mt_ckpt_latest(dir);
    CHECK_STR_EQ(l, p4);
    free(l);
    spits(ip, "model_checkpoint_path: \"rel/model_dir/model.ckpt-4\"\n");
    l = mt_ckpt_latest(dir);
    CHECK_STR_EQ(l, p4);
    free(l);
    free(p5), free(p4);

    /* Committing an earlier step keeps later files of an older run untouched and unlisted. */
    fill(w, 3, 99);
    mt_tensor_ref t[] = {{"w", w, {3}, 1, 0}};
    char *p2 = mt_ckpt_path(dir, 2);
    CHECK(mt_ckpt_write(p2, t, 1, NULL, 0, &e) == MTREC_OK);
    CHECK(mt_ckpt_commit(dir, 2, 1, &e) == MTREC_OK);
    l = mt_ckpt_latest(dir);
    CHECK_STR_EQ(l, p2);
    free(l), free(p2);
    char *p5b = mt_ckpt_path(dir, 5);
    CHECK(file_size(p5b) > 0);
    free(p5b);
    txt = slurp(ip, &len);
    if (txt) txt[len > 0 ? len : 0] = '\0';
    CHECK_STR_EQ((char *)txt, "model_checkpoint_path: \"model.ckpt-2\"\n"
                              "all_model_checkpoint_paths: \"model.ckpt-2\"\n");
    free(txt);

    /* Argument errors. */
    CHECK(mt_ckpt_commit(dir, 42, 3, &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "model.ckpt-42: cannot commit");
    CHECK(mt_ckpt_commit(dir, 5, 0, &e) == MTREC_ERR_ARG);
    CHECK(count_tmp_files(dir) == 0);
}


/* BF16 tensors (bf16 exports): written rounded to nearest even, read back exactly as those
 * bf16 values, next to F32 tensors in the same file; the header says BF16 and the data is
 * 2 bytes per element. */
static void test_bf16(void) {
    const float one = 1.0f, eps = 1.0f / 256; /* 1 + 2^-8: halfway between two bf16 values */
    mt_real v[] = {one, one + eps, one + 3 * eps, -2.5f, 1e-3f, 3.0e38f, 0.0f, -0.0f,
                   (mt_real)INFINITY, (mt_real)NAN, 1.0f + 5 * eps / 4};
    /* expected bf16 values: ties go to the even mantissa, others to the nearest (1e-3 and
     * 3e38 as torch's float32 -> bfloat16 conversion gives them) */
    const float want[] = {1.0f, 1.0f, one + 4 * eps, -2.5f, 0.00099945068359375f, 3.00405527047391e+38f, 0.0f, -0.0f,
                          INFINITY, NAN, one + 2 * eps};
    mt_real f32[3] = {1.0f + eps, 2, 3};
    mt_tensor_ref t[] = {{"h", v, {11}, 1, 1}, {"f", f32, {3}, 1, 0}};
    const char *p = tpath("bf16.safetensors");
    mt_err e = {0};
    CHECK(mt_ckpt_write(p, t, 2, NULL, 0, &e) == MTREC_OK);
    long len = 0;
    unsigned char *raw = slurp(p, &len);
    CHECK(raw != NULL);
    if (raw) {
        CHECK(strstr((char *)raw + 8, "\"dtype\":\"BF16\"") != NULL);
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
        CHECK(len == (long)(8 + hl + 11 * 2 + 3 * 4));
    }
    free(raw);
    mt_ckpt *c = NULL;
    CHECK_MSG(mt_ckpt_open(p, &c, &e) == MTREC_OK, "%s", e.msg);
    if (!c) return;
    mt_real got[11], g3[3];
    int64_t sh[1] = {11};
    CHECK_MSG(mt_ckpt_read(c, "h", got, 11, sh, 1, &e) == MTREC_OK, "%s", e.msg);
    for (int i = 0; i < 11; i++) {
        if (isnan(want[i])) CHECK(isnan((double)got[i]));
        else CHECK_MSG((float)got[i] == want[i] && !signbit((double)got[i]) == !signbit(want[i]),
                       "[%d] %.9g -> %.9g, want %.9g", i, (double)v[i], (double)got[i], (double)want[i]);
    }
    CHECK(mt_ckpt_read(c, "f", g3, 3, NULL, 0, &e) == MTREC_OK);
    CHECK(g3[0] == f32[0] && g3[2] == 3); /* F32 next to it: exact */
    mt_ckpt_close(c);
    /* a BF16 entry whose byte span is F32-sized is refused */
    const char *q = tpath("bf16_bad.safetensors");
    const char hdr[] = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    FILE *fp = fopen(q, "wb");
    if (fp) {
        uint64_t hl = sizeof hdr - 1;
        unsigned char lb[8];
        for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(hl >> (8 * i));
        fwrite(lb, 1, 8, fp);
        fwrite(hdr, 1, hl, fp);
        fwrite("\0\0\0\0\0\0\0\0", 1, 8, fp);
        fclose(fp);
    }
    c = NULL;
    CHECK(mt_ckpt_open(q, &c, &e) == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "needs 4");
    mt_ckpt_close(c);
}

/* ------------------------------------------------------------------ main */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mtrec_ckpt_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_roundtrip);
    RUN(test_write_args);
    RUN(test_corrupt);
    RUN(test_bad_headers);
    RUN(test_atomic);
    RUN(test_mkdirs);
    RUN(test_index);
    RUN(test_bf16);
    const char *keep = getenv("MTREC_TEST_KEEP");
    if (keep && *keep == '1') fprintf(stderr, "kept test files in %s\n", g_dir);
    else nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
