/* test_predict.c: the serving C API (serve/predictor.c) and `mtrec predict`
 * (serve/predict_csv.c) on a tiny model trained for a few steps on a synthetic CSV:
 *  - C API predictions equal mt_model_forward's outputs of the checkpoint on the same rows
 *    (batches from mt_reader, shuffle off) for binary, regression and 3-class towers;
 *  - every row alone equals the batch; row form equals column form; chunking beyond
 *    max_rows; defaults for NULL / ""; 4 threads with their own predictors agree with one;
 *  - bad values and bad arguments give MTREC_ERR_DATA / MTREC_ERR_ARG with messages;
 *  - mt_predict_csv: header, reserved columns copied (quoted when needed), predictions equal
 *    the forward path, gzip output, header-mapped input, wrong column counts, ignore_error. */
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config/pipeline.h"
#include "data/features.h"
#include "io/checkpoint.h"
#include "io/model_io.h"
#include "model/dbmtl.h"
#include "serve/predictor.h"
#include "train/trainer.h"
#include "test.h"

#define N_ROWS 203
#define N_FIELDS 10
#define N_OUT 10

static char g_dir[] = "/tmp/mtrec_predict_XXXXXX";
static char g_csv[600], g_model_dir[600], g_export[600];

/* data rows as text, input_fields order: click uid tags tag_w price cat spend kind unused sess */
static char g_rows[N_ROWS][N_FIELDS][32];
static float g_expect[N_ROWS][N_OUT];  /* from mt_model_forward on reader batches */
static mt_pipeline g_p;
static mtrec_model *g_model;
static int g_ready;

static const char *FIELD_NAMES[N_FIELDS] = {"click", "uid", "tags", "tag_w", "price", "cat",
                                            "spend", "kind", "unused", "sess"};

static const char *CFG_FMT =
    "model_dir: '%s'\n"
    "train_input_path: '%s'\n"
    "data_config { input_type: CSVInput batch_size: 16 %s\n"
    "  input_fields { input_name: 'click' input_type: INT32 }\n"
    "  input_fields { input_name: 'uid' input_type: STRING }\n"
    "  input_fields { input_name: 'tags' input_type: STRING }\n"
    "  input_fields { input_name: 'tag_w' input_type: STRING }\n"
    "  input_fields { input_name: 'price' input_type: FLOAT default_val: '1.5' }\n"
    "  input_fields { input_name: 'cat' input_type: INT32 }\n"
    "  input_fields { input_name: 'spend' input_type: FLOAT }\n"
    "  input_fields { input_name: 'kind' input_type: INT32 }\n"
    "  input_fields { input_name: 'unused' input_type: STRING }\n"
    "  input_fields { input_name: 'sess' input_type: STRING }\n"
    "  label_fields: ['click', 'spend', 'kind'] }\n"
    "feature_config {\n"
    "  features { input_names: 'uid' feature_type: IdFeature embedding_dim: 4 hash_bucket_size: 50 }\n"
    "  features { input_names: ['tags', 'tag_w'] feature_type: TagFeature embedding_dim: 4 hash_bucket_size: 30 }\n"
    "  features { input_names: 'price' feature_type: RawFeature }\n"
    "  features { input_names: 'cat' feature_type: IdFeature embedding_dim: 3 num_buckets: 10 } }\n"
    "model_config { model_class: 'DBMTL'\n"
    "  feature_groups { group_name: 'all' feature_names: ['uid', 'tags', 'price', 'cat'] wide_deep: DEEP }\n"
    "  dbmtl {\n"
    "    bottom_dnn { hidden_units: [16] }\n"
    "    task_towers { tower_name: 'ctr' label_name: 'click' metrics_set: { auc {} }\n"
    "      metrics_set: { gauc { uid_field: 'sess' } } dnn { hidden_units: [8] } }\n"
    "    task_towers { tower_name: 'spend' label_name: 'spend' loss_type: L2_LOSS\n"
    "      relation_tower_names: ['ctr'] relation_dnn { hidden_units: [4] } }\n"
    "    task_towers { tower_name: 'kind' label_name: 'kind' num_class: 3 dnn { hidden_units: [6] } }\n"
    "    l2_regularization: 1e-5\n"
    "  }\n}\n"
    "train_config { num_steps: 40 log_step_count_steps: 1000\n"
    "  optimizer_config { adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.02 } } } } }\n";

static int load_cfg(const char *data_extra, mt_pipeline *p) {
    char cfg[8192];
    snprintf(cfg, sizeof cfg, CFG_FMT, g_model_dir, g_csv, data_extra);
    mt_err e = {0};
    mtrec_status st = mt_pipeline_load_text("predict_test.config", cfg, p, &e);
    if (st) fprintf(stderr, "config: %s\n", e.msg);
    return st == MTREC_OK ? 0 : -1;
}

static uint64_t g_lcg = 12345;
static unsigned rnd(unsigned n) {
    g_lcg = g_lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((g_lcg >> 33) % n);
}

/* A CSV field as text (quoted when it holds the separator or a quote). */
static void put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void make_rows(void) {
    for (int r = 0; r < N_ROWS; r++) {
        unsigned u = rnd(12), c = rnd(10), k = rnd(3);
        int click = (u % 3 == 0) ^ (rnd(5) == 0);
        double price = 0.1 * rnd(40);
        char(*f)[32] = g_rows[r];
        snprintf(f[0], 32, "%d", click);
        if (u == 3) snprintf(f[1], 32, "u,\"%u\"", u);  /* needs quoting in CSV */
        else snprintf(f[1], 32, "u%u", u);
        int nt = (int)rnd(4);
        f[2][0] = f[3][0] = 0;
        for (int t = 0; t < nt; t++) {
            char tok[16];
            snprintf(tok, sizeof tok, "%st%u", t ? "|" : "", rnd(8));
            strcat(f[2], tok);
            snprintf(tok, sizeof tok, "%s%.1f", t ? "|" : "", 0.5 + 0.5 * rnd(4));
            strcat(f[3], tok);
        }
        if (r % 17 == 5) f[4][0] = 0;  /* empty: default 1.5 */
        else snprintf(f[4], 32, "%.1f", price);
        snprintf(f[5], 32, "%u", c);
        snprintf(f[6], 32, "%.2f", click ? 2.0 + price : 0.1 * c);
        snprintf(f[7], 32, "%u", (c + u) % 3 == 0 ? k : (c % 3));
        snprintf(f[8], 32, "x%d", r);
        snprintf(f[9], 32, "s%u", rnd(6));
    }
}

static int write_csv(const char *path, int header, const int *order, int n_cols, int n_rows) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (header)
        for (int c = 0; c < n_cols; c++) fprintf(f, "%s%s", c ? "," : "", FIELD_NAMES[order[c]]);
    if (header) fputc('\n', f);
    for (int r = 0; r < n_rows; r++) {
        for (int c = 0; c < n_cols; c++) {
            if (c) fputc(',', f);
            put_field(f, g_rows[r][order[c]]);
        }
        fputc('\n', f);
    }
    fclose(f);
    return 0;
}

static const int ALL_COLS[N_FIELDS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

/* Reference outputs: the latest checkpoint, reader batches (shuffle off), mt_model_forward,
 * mt_model_outputs and the towers' logits, arranged as the documented output columns. */
static int compute_expected(void) {
    mt_err e = {0};
    char *ck = mt_ckpt_latest(g_model_dir);
    if (!ck) return -1;
    mt_mm *mm = NULL;
    mt_model *m = NULL;
    mt_reader *rd = NULL;
    int ok = mt_mm_create(1, 0, &mm, &e) == MTREC_OK &&
             mt_model_create_ex(&g_p, 16, mm, 1, NULL, 1, &m, &e) == MTREC_OK &&
             mt_model_load(m, ck, 0, NULL, &e) == MTREC_OK;
    mt_reader_opts o = {.batch_size = 16, .shuffle = 0, .num_epochs = 1, .prefetch = 0};
    ok = ok && mt_reader_open(&g_p, &m->plan, g_csv, &o, &rd, &e) == MTREC_OK;
    int n = 0;
    const mt_batch *b;
    int rc;
    while (ok && (rc = mt_reader_next(rd, &b, &e)) > 0) {
        if (mt_model_forward(m, b, 0, &e) != MTREC_OK) { ok = 0; break; }
        float ctr[16], spend[16], kind[48];
        mt_model_outputs(m, 0, ctr);
        mt_model_outputs(m, 1, spend);
        mt_model_outputs(m, 2, kind);
        for (int i = 0; i < b->n_rows; i++) {
            int64_t r = b->row_index[i];
            if (r < 0 || r >= N_ROWS) { ok = 0; break; }
            float *x = g_expect[r];
            x[0] = ctr[i];
            x[1] = (float)m->towers[0].logits[i];
            x[2] = spend[i];
            const mt_real *z = m->towers[2].logits + 3 * i;
            int arg = 0;
            for (int k = 0; k < 3; k++) {
                x[3 + k] = kind[3 * i + k];
                x[6 + k] = (float)z[k];
                if (z[k] > z[arg]) arg = k;
            }
            x[9] = (float)arg;
            n++;
        }
    }
    if (e.msg[0]) fprintf(stderr, "reference: %s\n", e.msg);
    mt_reader_close(rd);
    mt_model_free(m);
    mt_mm_free(mm);
    free(ck);
    return ok && n == N_ROWS ? 0 : -1;
}

static int setup(void) {
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return -1; }
    snprintf(g_csv, sizeof g_csv, "%s/data.csv", g_dir);
    snprintf(g_model_dir, sizeof g_model_dir, "%s/model", g_dir);
    snprintf(g_export, sizeof g_export, "%s/export", g_dir);
    make_rows();
    if (write_csv(g_csv, 0, ALL_COLS, N_FIELDS, N_ROWS)) return -1;
    if (load_cfg("", &g_p)) return -1;
    mt_err e = {0};
    mt_train_opts o = {.threads = 1, .evaluate = 0};
    mt_train_summary s;
    mtrec_status st = mt_train(&g_p, &o, &s, &e);
    mt_eval_result_free(&s.eval);
    if (st) { fprintf(stderr, "train: %s\n", e.msg); return -1; }
    if (s.global_step != 40) { fprintf(stderr, "trained %lld steps\n", (long long)s.global_step); return -1; }
    if (compute_expected()) return -1;
    char *v = NULL;
    if ((st = mt_export_checkpoint(&g_p, NULL, g_export, 0, &v, &e))) { fprintf(stderr, "export: %s\n", e.msg); return -1; }
    free(v);
    if (mtrec_model_load(g_export, &g_model)) { fprintf(stderr, "load: %s\n", mtrec_last_error()); return -1; }
    return 0;
}

/* values for the API in row form: the signature's inputs of rows [r0, r0+n) */
static const char **row_values(int r0, int n) {
    int ni = mtrec_model_num_inputs(g_model);
    const char **v = calloc((size_t)n * ni, sizeof *v);
    for (int i = 0; i < ni; i++) {
        const char *name = mtrec_model_input_name(g_model, i);
        int f = -1;
        for (int k = 0; k < N_FIELDS; k++)
            if (!strcmp(FIELD_NAMES[k], name)) f = k;
        for (int r = 0; r < n; r++) v[(size_t)r * ni + i] = f >= 0 ? g_rows[r0 + r][f] : NULL;
    }
    return v;
}

/* number of entries where a and b differ beyond rtol/atol (prints the first few) */
static int n_diff(const float *a, const float *b, size_t n, double rtol, double atol, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i], m = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
        if (!(fabs(x - y) <= rtol * m + atol)) {
            if (bad < 5) fprintf(stderr, "%s: [%zu] %.9g vs %.9g\n", what, i, x, y);
            bad++;
        }
    }
    return bad;
}

static float *predict_rows_alloc(mtrec_predictor *pr, int r0, int n) {
    const char **v = row_values(r0, n);
    size_t len = mtrec_predict_output_size(g_model, n);
    float *out = malloc(len * sizeof *out);
    mtrec_status st = mtrec_predict_rows(pr, n, v, out, len);
    CHECK_MSG(st == MTREC_OK, "%s", mtrec_last_error());
    free(v);
    if (st) { free(out); return NULL; }
    return out;
}

static void test_api_matches_forward(void) {
    CHECK(mtrec_model_num_outputs(g_model) == N_OUT);
    CHECK_STR_EQ(mtrec_model_output_name(g_model, 0), "probs_ctr");
    CHECK_STR_EQ(mtrec_model_output_name(g_model, 2), "y_spend");
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(g_model, 64, &pr) == MTREC_OK);
    float *out = pr ? predict_rows_alloc(pr, 0, N_ROWS) : NULL;
    if (out) {
        CHECK(n_diff(out, &g_expect[0][0], (size_t)N_ROWS * N_OUT, 1e-5, 1e-6, "api vs forward") == 0);
        /* the model learned something: outputs vary across rows */
        int varied = 0;
        for (int r = 1; r < N_ROWS; r++) varied += out[r * N_OUT] != out[0];
        CHECK(varied > N_ROWS / 2);
        /* probabilities are probabilities */
        for (int r = 0; r < N_ROWS; r++) CHECK_NEAR(out[r * N_OUT + 3] + out[r * N_OUT + 4] + out[r * N_OUT + 5], 1.0, 1e-5);
    }
    free(out);
    mtrec_predictor_free(pr);
}

static void test_single_row_equals_batch(void) {
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(g_model, 256, &pr) == MTREC_OK);
    if (!pr) return;
    float *all = predict_rows_alloc(pr, 0, N_ROWS);
    int bad = 0;
    for (int r = 0; r < N_ROWS && all; r++) {
        float *one = predict_rows_alloc(pr, r, 1);
        if (!one) { bad++; continue; }
        bad += n_diff(one, all + (size_t)r * N_OUT, N_OUT, 1e-6, 1e-7, "single vs batch") > 0;
        free(one);
    }
    CHECK(all != NULL);
    CHECK(bad == 0);
    /* max_rows below the request: chunks of 7 give the same rows */
    mtrec_predictor *small = NULL;
    CHECK(mtrec_predictor_create(g_model, 7, &small) == MTREC_OK);
    float *chunked = small ? predict_rows_alloc(small, 0, N_ROWS) : NULL;
    CHECK(chunked && all && n_diff(chunked, all, (size_t)N_ROWS * N_OUT, 1e-6, 1e-7, "chunked") == 0);
    free(chunked);
    free(all);
    mtrec_predictor_free(small);
    mtrec_predictor_free(pr);
}

static void test_rows_equal_columns(void) {
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(g_model, 32, &pr) == MTREC_OK);
    if (!pr) return;
    int n = 50, ni = mtrec_model_num_inputs(g_model);
    const char **v = row_values(10, n);
    const char ***cols = calloc((size_t)ni, sizeof *cols);
    for (int i = 0; i < ni; i++) {
        cols[i] = calloc((size_t)n, sizeof **cols);
        for (int r = 0; r < n; r++) cols[i][r] = v[(size_t)r * ni + i];
    }
    size_t len = mtrec_predict_output_size(g_model, n);
    float *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
    CHECK(mtrec_predict_rows(pr, n, v, a, len) == MTREC_OK);
    CHECK(mtrec_predict_columns(pr, n, (const char *const *const *)cols, b, len) == MTREC_OK);
    CHECK(memcmp(a, b, len * sizeof *a) == 0);
    CHECK(n_diff(a, &g_expect[10][0], len, 1e-5, 1e-6, "columns vs forward") == 0);

    /* defaults: a NULL column, NULL cells and "" cells are the same; price's default is 1.5 */
    int ip = mtrec_model_input_index(g_model, "price"), it = mtrec_model_input_index(g_model, "tags");
    CHECK(ip >= 0 && it >= 0);
    if (ip >= 0 && it >= 0) {
        const char **saved = cols[ip];
        cols[ip] = NULL;
        for (int r = 0; r < n; r++) v[(size_t)r * ni + ip] = (r % 2) ? "" : NULL;
        CHECK(mtrec_predict_rows(pr, n, v, a, len) == MTREC_OK);
        CHECK(mtrec_predict_columns(pr, n, (const char *const *const *)cols, b, len) == MTREC_OK);
        CHECK(memcmp(a, b, len * sizeof *a) == 0);
        for (int r = 0; r < n; r++) v[(size_t)r * ni + ip] = "1.5";
        CHECK(mtrec_predict_rows(pr, n, v, b, len) == MTREC_OK);
        CHECK(memcmp(a, b, len * sizeof *a) == 0);
        for (int r = 0; r < n; r++) v[(size_t)r * ni + ip] = "3.5";
        CHECK(mtrec_predict_rows(pr, n, v, b, len) == MTREC_OK);
        CHECK(memcmp(a, b, len * sizeof *a) != 0);  /* the input matters */
        cols[ip] = saved;
    }
    for (int i = 0; i < ni; i++) free(cols[i]);
    free(cols);
    free(v);
    free(a);
    free(b);
    mtrec_predictor_free(pr);
}

/* ---- threads ----------------------------------------------------------------------------- */
#define N_THREADS 4
#define N_CALLS 40

typedef struct call {
    int r0, n;
    float *ref;
} call;

static call g_calls[N_CALLS];

typedef struct worker {
    int id, bad, failed;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    mtrec_predictor *pr = NULL;
    if (mtrec_predictor_create(g_model, 32, &pr) != MTREC_OK) { w->failed = 1; return NULL; }
    float *out = malloc((size_t)N_ROWS * N_OUT * sizeof *out);
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < N_CALLS; k++) {
            call *c = &g_calls[(k + w->id * 7) % N_CALLS];
            const char **v = row_values(c->r0, c->n);
            size_t len = mtrec_predict_output_size(g_model, c->n);
            if (mtrec_predict_rows(pr, c->n, v, out, len) != MTREC_OK) w->failed = 1;
            else if (memcmp(out, c->ref, len * sizeof *out) != 0) w->bad++;
            free(v);
        }
    free(out);
    mtrec_predictor_free(pr);
    return NULL;
}

static void test_threads_agree(void) {
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(g_model, 32, &pr) == MTREC_OK);
    if (!pr) return;
    for (int k = 0; k < N_CALLS; k++) {
        g_calls[k].n = 1 + (k * 13) % 70;
        g_calls[k].r0 = (k * 37) % (N_ROWS - g_calls[k].n);
        g_calls[k].ref = predict_rows_alloc(pr, g_calls[k].r0, g_calls[k].n);
        CHECK(g_calls[k].ref != NULL);
    }
    mtrec_predictor_free(pr);
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (worker){.id = t};
        CHECK(pthread_create(&th[t], NULL, work, &w[t]) == 0);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(w[t].failed == 0);
        CHECK_MSG(w[t].bad == 0, "thread %d: %d calls differ", t, w[t].bad);
    }
    for (int k = 0; k < N_CALLS; k++) free(g_calls[k].ref);
}

/* ---- errors ------------------------------------------------------------------------------ */
static void test_bad_inputs(void) {
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(g_model, 2, &pr) == MTREC_OK);
    if (!pr) return;
    int n = 6, ni = mtrec_model_num_inputs(g_model), ic = mtrec_model_input_index(g_model, "cat");
    const char **v = row_values(0, n);
    size_t len = mtrec_predict_output_size(g_model, n);
    float *out = malloc(len * sizeof *out);
    v[5 * ni + ic] = "abc";  /* row 5: third chunk of max_rows 2 */
    CHECK(mtrec_predict_rows(pr, n, v, out, len) == MTREC_ERR_DATA);
    CHECK_CONTAINS(mtrec_last_error(), "row 5");
    CHECK_CONTAINS(mtrec_last_error(), "column 'cat'");
    CHECK_CONTAINS(mtrec_last_error(), "abc");
    v[5 * ni + ic] = "3";
    int ip = mtrec_model_input_index(g_model, "price");
    v[1 * ni + ip] = "1.5x";
    CHECK(mtrec_predict_rows(pr, n, v, out, len) == MTREC_ERR_DATA);
    CHECK_CONTAINS(mtrec_last_error(), "row 1: column 'price'");
    v[1 * ni + ip] = "2";
    /* the predictor still works after errors */
    CHECK(mtrec_predict_rows(pr, n, v, out, len) == MTREC_OK);

    CHECK(mtrec_predict_rows(pr, n, v, out, len - 1) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "out_len");
    CHECK(mtrec_predict_rows(pr, 0, v, out, len) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "n_rows");
    CHECK(mtrec_predict_rows(pr, -3, v, out, len) == MTREC_ERR_ARG);
    CHECK(mtrec_predict_rows(pr, n, NULL, out, len) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "values");
    CHECK(mtrec_predict_rows(pr, n, v, NULL, len) == MTREC_ERR_ARG);
    CHECK(mtrec_predict_rows(NULL, n, v, out, len) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "predictor");
    CHECK(mtrec_predict_columns(pr, n, NULL, out, len) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "columns");
    mtrec_predictor *p2 = (mtrec_predictor *)1;
    CHECK(mtrec_predictor_create(g_model, 0, &p2) == MTREC_ERR_ARG);
    CHECK(p2 == NULL);
    CHECK_CONTAINS(mtrec_last_error(), "max_rows");
    CHECK(mtrec_predictor_create(NULL, 4, &p2) == MTREC_ERR_ARG);
    CHECK(mtrec_predictor_create(g_model, 4, NULL) == MTREC_ERR_ARG);
    CHECK(mtrec_predict_output_size(g_model, 0) == 0);
    CHECK(mtrec_predict_output_size(NULL, 3) == 0);
    mtrec_predictor_free(NULL);
    free(out);
    free(v);
    mtrec_predictor_free(pr);
}

/* ---- mt_predict_csv ---------------------------------------------------------------------- */
/* Read a whole (optionally gzip) file. */
static char *slurp(const char *path, size_t *n) {
    gzFile g = gzopen(path, "rb");
    if (!g) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    int k;
    while ((k = gzread(g, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)k;
        if (len == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    gzclose(g);
    buf[len] = 0;
    if (n) *n = len;
    return buf;
}

/* Split one CSV line (RFC 4180 quotes) into fields (unescaped, in place into out[]). */
static int split_line(const char **s, char out[][64], int max) {
    int n = 0;
    const char *p = *s;
    for (;;) {
        char *o = out[n];
        int k = 0;
        if (*p == '"') {
            p++;
            for (; *p; p++) {
                if (*p == '"' && p[1] == '"') { o[k++] = '"'; p++; }
                else if (*p == '"') { p++; break; }
                else o[k++] = *p;
            }
        } else {
            while (*p && *p != ',' && *p != '\n') o[k++] = *p++;
        }
        o[k] = 0;
        if (n < max - 1) n++;
        if (*p == ',') { p++; continue; }
        if (*p == '\n') p++;
        break;
    }
    *s = p;
    return n;
}

static int check_output(const char *path, int with_reserved) {
    char *txt = slurp(path, NULL);
    CHECK(txt != NULL);
    if (!txt) return -1;
    const char *p = txt;
    char f[16][64];
    int n = split_line(&p, f, 16), off = with_reserved ? 2 : 0;
    CHECK(n == N_OUT + off);
    if (with_reserved) {
        CHECK_STR_EQ(f[0], "uid");
        CHECK_STR_EQ(f[1], "click");
    }
    CHECK_STR_EQ(f[off], "probs_ctr");
    CHECK_STR_EQ(f[off + 9], "y_kind");
    int rows = 0, bad = 0, bad_reserved = 0;
    while (*p && rows < N_ROWS) {
        n = split_line(&p, f, 16);
        if (n != N_OUT + off) { bad++; break; }
        float got[N_OUT];
        for (int j = 0; j < N_OUT; j++) got[j] = strtof(f[off + j], NULL);
        bad += n_diff(got, g_expect[rows], N_OUT, 1e-5, 1e-6, "predict csv") > 0;
        if (with_reserved) bad_reserved += strcmp(f[0], g_rows[rows][1]) != 0 || strcmp(f[1], g_rows[rows][0]) != 0;
        rows++;
    }
    CHECK(rows == N_ROWS);
    CHECK(*p == 0);
    CHECK(bad == 0);
    CHECK(bad_reserved == 0);
    free(txt);
    return 0;
}

static void test_predict_csv(void) {
    mt_err e = {0};
    char out[700], outgz[700];
    snprintf(out, sizeof out, "%s/pred.csv", g_dir);
    snprintf(outgz, sizeof outgz, "%s/pred.csv.gz", g_dir);
    int64_t rows = -1;
    mtrec_status st = mt_predict_csv(&g_p, NULL, g_csv, out, "uid, click", 2, &rows, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(rows == N_ROWS);
    check_output(out, 1);
    /* the quoted uid is quoted again in the output */
    char *txt = slurp(out, NULL);
    CHECK_CONTAINS(txt, "\n\"u,\"\"3\"\"\",");
    /* gzip output: the same bytes once decompressed; the file really is gzip */
    st = mt_predict_csv(&g_p, NULL, g_csv, outgz, "uid,click", 1, &rows, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    char *gz = slurp(outgz, NULL);
    CHECK(txt && gz && strcmp(txt, gz) == 0);
    FILE *fp = fopen(outgz, "rb");
    int b0 = fp ? fgetc(fp) : -1, b1 = fp ? fgetc(fp) : -1;
    if (fp) fclose(fp);
    CHECK(b0 == 0x1f && b1 == 0x8b);
    free(txt);
    free(gz);
    /* no reserved columns, explicit checkpoint path */
    char *ck = mt_ckpt_latest(g_model_dir);
    st = mt_predict_csv(&g_p, ck, g_csv, out, NULL, 1, &rows, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    check_output(out, 0);
    free(ck);
    /* no temp files left beside the output */
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
}

/* with_header: columns mapped by name, in another order, without the label columns */
static void test_predict_csv_header(void) {
    mt_pipeline p = {0};
    if (load_cfg("with_header: true", &p)) { CHECK(0); return; }
    char in[700], out[700];
    snprintf(in, sizeof in, "%s/header.csv", g_dir);
    snprintf(out, sizeof out, "%s/pred_header.csv", g_dir);
    const int order[] = {9, 5, 4, 3, 2, 1};  /* sess cat price tag_w tags uid */
    CHECK(write_csv(in, 1, order, 6, N_ROWS) == 0);
    mt_err e = {0};
    int64_t rows = 0;
    mtrec_status st = mt_predict_csv(&p, NULL, in, out, "uid", 1, &rows, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(rows == N_ROWS);
    char *txt = slurp(out, NULL);
    const char *q = txt ? strchr(txt, '\n') : NULL;
    if (q) q++;  /* past the header line */
    int bad = 0, n = 0;
    char f[16][64];
    while (q && *q && n < N_ROWS) {
        if (split_line(&q, f, 16) != N_OUT + 1) { bad++; break; }
        float got[N_OUT];
        for (int j = 0; j < N_OUT; j++) got[j] = strtof(f[1 + j], NULL);
        bad += n_diff(got, g_expect[n], N_OUT, 1e-5, 1e-6, "header csv") > 0;
        bad += strcmp(f[0], g_rows[n][1]) != 0;
        n++;
    }
    CHECK(n == N_ROWS);
    CHECK(bad == 0);
    free(txt);
    /* a header without a column the model reads */
    const int missing[] = {9, 4, 3, 2, 1};
    CHECK(write_csv(in, 1, missing, 5, 3) == 0);
    st = mt_predict_csv(&p, NULL, in, out, NULL, 1, &rows, &e);
    CHECK(st == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "header has no column 'cat'");
    CHECK_CONTAINS(e.msg, "header.csv:1");
    mt_pipeline_free(&p);
}

static void test_predict_csv_errors(void) {
    mt_err e = {0};
    char bad[700], out[700];
    snprintf(bad, sizeof bad, "%s/bad.csv", g_dir);
    snprintf(out, sizeof out, "%s/pred_bad.csv", g_dir);
    CHECK(write_csv(bad, 0, ALL_COLS, N_FIELDS, 5) == 0);
    FILE *fp = fopen(bad, "ab");
    fputs("1,u1,t1,1,2.0,3,0.5,1,x\n", fp);  /* row 6: 9 columns */
    fclose(fp);
    int64_t rows = -1;
    mtrec_status st = mt_predict_csv(&g_p, NULL, bad, out, NULL, 1, &rows, &e);
    CHECK(st == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "bad.csv:6");
    CHECK_CONTAINS(e.msg, "expected 10 columns, found 9");
    CHECK(access(out, F_OK) != 0);  /* nothing written on failure */
    CHECK(rows == 0);

    /* ignore_error: the short row and a row with a bad value are skipped */
    fp = fopen(bad, "ab");
    fputs("1,u1,t1,1,2.0,notanint,0.5,1,x,s1\n", fp);
    fclose(fp);
    mt_pipeline p = {0};
    if (load_cfg("ignore_error: true", &p)) { CHECK(0); return; }
    st = mt_predict_csv(&p, NULL, bad, out, "unused", 1, &rows, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(rows == 5);
    char *txt = slurp(out, NULL);
    CHECK_CONTAINS(txt, "\nx4,");
    CHECK(txt && !strstr(txt, "\nx,"));
    free(txt);
    mt_pipeline_free(&p);

    st = mt_predict_csv(&g_p, NULL, g_csv, out, "uid,nope", 1, &rows, &e);
    CHECK(st == MTREC_ERR_ARG);
    CHECK_CONTAINS(e.msg, "'nope'");
    st = mt_predict_csv(&g_p, NULL, "/nonexistent/x.csv", out, NULL, 1, &rows, &e);
    CHECK(st == MTREC_ERR_IO);
    st = mt_predict_csv(&g_p, NULL, g_csv, NULL, NULL, 1, &rows, &e);
    CHECK(st == MTREC_ERR_ARG);
    char nockpt[700];
    snprintf(nockpt, sizeof nockpt, "%s/nockpt", g_dir);
    char *saved = g_p.model_dir;
    g_p.model_dir = nockpt;
    st = mt_predict_csv(&g_p, NULL, g_csv, out, NULL, 1, &rows, &e);
    g_p.model_dir = saved;
    CHECK(st == MTREC_ERR_CHECKPOINT);
}


/* A bf16 export (`mtrec export --precision bf16`): half the weight bytes, signature and API
 * say bf16, predictions within bf16 rounding of the fp32 model's (products in bf16 on AMX;
 * elsewhere fp32 products on bf16-rounded weights), repeated calls identical (the frozen
 * weights' bf16 copies are reused), one row equal to the same row in a batch of 112 padded
 * rows up to bf16 noise, and argmax columns consistent with their own probabilities. */
static void test_bf16_export(void) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/export_bf16", g_dir);
    mt_err e = {0};
    char *v = NULL;
    CHECK_MSG(mt_export_checkpoint(&g_p, NULL, dir, 1, &v, &e) == MTREC_OK, "%s", e.msg);
    mtrec_model *m16 = NULL;
    CHECK_MSG(v && mtrec_model_load(v, &m16) == MTREC_OK, "%s", mtrec_last_error());
    char w32[800], w16[800];
    snprintf(w16, sizeof w16, "%s/model.safetensors", v ? v : "");
    snprintf(w32, sizeof w32, "%s/%s/model.safetensors", g_export, mtrec_model_version(g_model));
    struct stat s32, s16;
    CHECK(stat(w32, &s32) == 0 && stat(w16, &s16) == 0);
    printf("# weights: fp32 %lld bytes, bf16 %lld\n", (long long)s32.st_size, (long long)s16.st_size);
    CHECK(s16.st_size < s32.st_size); /* kernels and tables in 2 bytes (test_export checks each) */
    free(v);
    if (!m16) return;
    CHECK_STR_EQ(mtrec_model_precision(m16), "bf16");
    CHECK_STR_EQ(mtrec_model_precision(g_model), "fp32");
    mtrec_predictor *pr = NULL;
    CHECK(mtrec_predictor_create(m16, 256, &pr) == MTREC_OK);
    const char **vals = row_values(0, N_ROWS);
    size_t len = mtrec_predict_output_size(m16, N_ROWS);
    float *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b), one[N_OUT];
    CHECK(pr && mtrec_predict_rows(pr, N_ROWS, vals, a, len) == MTREC_OK);
    CHECK(pr && mtrec_predict_rows(pr, N_ROWS, vals, b, len) == MTREC_OK);
    CHECK(memcmp(a, b, len * sizeof *a) == 0);
    double dp = 0, dl = 0;
    int bad_arg = 0;
    for (int r = 0; r < N_ROWS; r++) {
        const float *o = a + (size_t)r * N_OUT, *x = g_expect[r];
        int probs[4] = {0, 3, 4, 5}, logits[5] = {1, 2, 6, 7, 8};
        for (int k = 0; k < 4; k++) dp = fmax(dp, fabs(o[probs[k]] - x[probs[k]]));
        for (int k = 0; k < 5; k++) dl = fmax(dl, fabs(o[logits[k]] - x[logits[k]]) / (1 + fabs(x[logits[k]])));
        int am = o[4] > o[3] ? 1 : 0;
        if (o[5] > o[3 + am]) am = 2;
        bad_arg += o[9] != (float)am;
    }
    printf("# bf16 export vs fp32: max |dprob| %.4g, max |dlogit|/(1+|logit|) %.4g\n", dp, dl);
    CHECK(dp < 0.02);
    CHECK(dl < 0.05);
    CHECK(dp > 0 || dl > 0 || !s16.st_size); /* the weights really were rounded */
    CHECK(bad_arg == 0);
    /* one row alone (1-row shape) vs inside the padded batch */
    double d1 = 0;
    for (int r = 0; r < N_ROWS && pr; r += 17) {
        CHECK(mtrec_predict_rows(pr, 1, vals + (size_t)r * mtrec_model_num_inputs(m16), one, N_OUT) == MTREC_OK);
        for (int k = 0; k < N_OUT - 1; k++) d1 = fmax(d1, fabs(one[k] - a[(size_t)r * N_OUT + k]) / (1 + fabs(a[(size_t)r * N_OUT + k])));
    }
    CHECK(d1 < 0.02);
    free(a);
    free(b);
    free(vals);
    mtrec_predictor_free(pr);
    mtrec_model_free(m16);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void test_setup(void) { CHECK(g_ready); }

int main(void) {
    g_ready = setup() == 0;
    RUN(test_setup);
    if (g_ready) {
        RUN(test_api_matches_forward);
        RUN(test_single_row_equals_batch);
        RUN(test_rows_equal_columns);
        RUN(test_threads_agree);
        RUN(test_bad_inputs);
        RUN(test_predict_csv);
        RUN(test_predict_csv_header);
        RUN(test_predict_csv_errors);
        RUN(test_bf16_export);
    }
    mtrec_model_free(g_model);
    mt_pipeline_free(&g_p);
    if (!getenv("MTREC_KEEP_TMP")) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
