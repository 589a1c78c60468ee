/* test_export.c: export bundles (io/export.c): the version folder layout, the signature of
 * a small config (TagFeature weight input, gauc uid field, an unused field, L2 and 3-class
 * towers), strictly increasing versions with older ones kept, no temp folder left, the
 * weights round trip without optimizer state, exporting a checkpoint, and refusal of
 * corrupt, truncated and incomplete exports by mtrec_model_load. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/pipeline.h"
#include "io/checkpoint.h"
#include "io/model_io.h"
#include "model/dbmtl.h"
#include "serve/predictor.h"
#include "serve/serve_io.h"
#include "test.h"
#include "util/rng.h"

static char g_dir[] = "/tmp/mtrec_export_XXXXXX";

static const char *CFG =
    "model_dir: 'unused_model_dir'\n"
    "train_input_path: 'unused.csv'\n"
    "data_config { input_type: CSVInput batch_size: 8\n"
    "  input_fields { input_name: 'click' input_type: INT32 }\n"
    "  input_fields { input_name: 'uid' input_type: STRING }\n"
    "  input_fields { input_name: 'tags' input_type: STRING }\n"
    "  input_fields { input_name: 'tag_w' input_type: STRING }\n"
    "  input_fields { input_name: 'price' input_type: FLOAT default_val: '1.5' }\n"
    "  input_fields { input_name: 'cat' input_type: INT64 }\n"
    "  input_fields { input_name: 'spend' input_type: DOUBLE }\n"
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
    "    bottom_dnn { hidden_units: [8] }\n"
    "    task_towers { tower_name: 'ctr' label_name: 'click' metrics_set: { auc {} }\n"
    "      metrics_set: { gauc { uid_field: 'sess' } } dnn { hidden_units: [6] } }\n"
    "    task_towers { tower_name: 'spend' label_name: 'spend' loss_type: L2_LOSS\n"
    "      relation_tower_names: ['ctr'] relation_dnn { hidden_units: [4] } }\n"
    "    task_towers { tower_name: 'kind' label_name: 'kind' num_class: 3 }\n"
    "  }\n}\n"
    "train_config { optimizer_config { adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } } } }\n";

typedef struct fixture {
    mt_pipeline p;
    mt_mm *mm;
    mt_model *m;
} fixture;

/* A model with random weights and non-trivial BN statistics. */
static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    mt_err e = {0};
    mtrec_status st = mt_pipeline_load_text("export_test.config", CFG, &f->p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return -1;
    st = mt_mm_create(1, 0, &f->mm, &e);
    if (st == MTREC_OK) st = mt_model_create(&f->p, 8, f->mm, 7, &f->m, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return -1;
    mt_rng r;
    mt_rng_seed(&r, 99);
    for (int i = 0; i < f->m->n_info; i++) {  /* (tensors are padded: only their elements) */
        const mt_param_info *pi = &f->m->info[i];
        if (!pi->is_stat) continue;
        mt_real *d = mt_model_param_data(f->m, pi);
        for (int64_t k = 0; k < pi->shape[0] * (pi->ndim > 1 ? pi->shape[1] : 1); k++)
            d[k] = (mt_real)(0.5 + mt_rng_uniform(&r));
    }
    return 0;
}

static void fixture_close(fixture *f) {
    mt_model_free(f->m);
    mt_mm_free(f->mm);
    mt_pipeline_free(&f->p);
}

/* "a/b" in one of 8 rotating buffers: for immediate use only; keep a copy (keep()) of
 * anything used later. */
static char *path2(const char *a, const char *b) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    if (snprintf(buf[k], sizeof buf[k], "%s/%s", a, b) >= (int)sizeof buf[k]) buf[k][0] = 0;
    return buf[k];
}

typedef struct pathbuf {
    char s[1024];
} pathbuf;

static pathbuf keep(const char *p) {
    pathbuf b;
    if (snprintf(b.s, sizeof b.s, "%s", p) >= (int)sizeof b.s) b.s[0] = 0;
    return b;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static long long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static cJSON *load_json(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static const char *base(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void test_layout_and_signature(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    pathbuf edb = keep(path2(g_dir, "sig"));
    char *ed = edb.s;
    char *vdir = NULL;
    mtrec_status st = mt_export_write_step(f.m, 42, 0, ed, &vdir, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) { fixture_close(&f); return; }
    const char *v = base(vdir);
    CHECK(strspn(v, "0123456789") == strlen(v) && strlen(v) >= 10);
    CHECK(exists(path2(vdir, "model.safetensors")));
    CHECK(exists(path2(vdir, "pipeline.config")));
    CHECK(exists(path2(vdir, "signature.json")));
    CHECK(count_entries(ed, ".tmp") == 0);
    CHECK(count_entries(vdir, "") == 5);  /* the three files plus . and .. */

    cJSON *sig = load_json(path2(vdir, "signature.json"));
    CHECK(sig != NULL);
    if (sig) {
        /* one input per field read by a feature (both TagFeature inputs) or a gauc uid field,
         * in input_fields order; labels and 'unused' are not inputs */
        const char *names[] = {"uid", "tags", "tag_w", "price", "cat", "sess"};
        const char *types[] = {"STRING", "STRING", "STRING", "FLOAT", "INT64", "STRING"};
        const char *defs[] = {"", "", "", "1.5", "", ""};
        int index[] = {1, 2, 3, 4, 5, 9};
        const cJSON *ins = cJSON_GetObjectItem(sig, "inputs");
        CHECK(cJSON_GetArraySize(ins) == 6);
        for (int i = 0; i < 6 && i < cJSON_GetArraySize(ins); i++) {
            const cJSON *in = cJSON_GetArrayItem(ins, i);
            CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(in, "name")), names[i]);
            CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(in, "type")), types[i]);
            CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(in, "default")), defs[i]);
            CHECK(cJSON_GetObjectItem(in, "index") && cJSON_GetObjectItem(in, "index")->valueint == index[i]);
        }
        const char *outs[] = {"probs_ctr", "logits_ctr", "y_spend", "probs_kind_0", "probs_kind_1",
                              "probs_kind_2", "logits_kind_0", "logits_kind_1", "logits_kind_2", "y_kind"};
        const cJSON *os = cJSON_GetObjectItem(sig, "outputs");
        CHECK(cJSON_GetArraySize(os) == 10);
        for (int j = 0; j < 10 && j < cJSON_GetArraySize(os); j++)
            CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetArrayItem(os, j)), outs[j]);
        const cJSON *gs = cJSON_GetObjectItem(sig, "global_step");
        CHECK(gs && gs->valuedouble == 42);
        const cJSON *files = cJSON_GetObjectItem(sig, "files");
        const cJSON *fw = cJSON_GetObjectItem(files, "model.safetensors");
        const cJSON *fc = cJSON_GetObjectItem(files, "pipeline.config");
        CHECK(fw && cJSON_GetObjectItem(fw, "size") &&
              cJSON_GetObjectItem(fw, "size")->valuedouble == (double)file_size(path2(vdir, "model.safetensors")));
        CHECK(fc && cJSON_GetObjectItem(fc, "size") &&
              cJSON_GetObjectItem(fc, "size")->valuedouble == (double)strlen(CFG));
        CHECK(fw && cJSON_IsNumber(cJSON_GetObjectItem(fw, "crc32")));
        cJSON_Delete(sig);
    }
    /* the bundled config is the pipeline's text */
    FILE *fp = fopen(path2(vdir, "pipeline.config"), "rb");
    char buf[8192] = {0};
    if (fp) {
        size_t n = fread(buf, 1, sizeof buf - 1, fp);
        buf[n] = 0;
        fclose(fp);
    }
    CHECK_STR_EQ(buf, CFG);

    /* the C API sees the same signature */
    mtrec_model *md = NULL;
    st = mtrec_model_load(vdir, &md);
    CHECK_MSG(st == MTREC_OK, "%s", mtrec_last_error());
    if (md) {
        CHECK_STR_EQ(mtrec_model_version(md), v);
        CHECK(mtrec_model_num_inputs(md) == 6);
        CHECK(mtrec_model_num_outputs(md) == 10);
        CHECK_STR_EQ(mtrec_model_input_name(md, 2), "tag_w");
        CHECK(mtrec_model_input_type(md, 4) == MTREC_INPUT_INT64);
        CHECK(mtrec_model_input_type(md, 3) == MTREC_INPUT_FLOAT);
        CHECK_STR_EQ(mtrec_model_input_default(md, 3), "1.5");
        CHECK_STR_EQ(mtrec_model_input_default(md, 0), "");
        CHECK(mtrec_model_input_index(md, "sess") == 5);
        CHECK(mtrec_model_input_index(md, "click") == -1);
        CHECK(mtrec_model_input_index(md, "unused") == -1);
        CHECK(mtrec_model_input_name(md, 6) == NULL);
        CHECK_STR_EQ(mtrec_model_output_name(md, 9), "y_kind");
        CHECK(mtrec_model_output_name(md, -1) == NULL);
        CHECK(mtrec_predict_output_size(md, 3) == 30);
    }
    mtrec_model_free(md);
    /* a version folder given with a trailing '/' */
    md = NULL;
    char slashed[1100];
    snprintf(slashed, sizeof slashed, "%s/", vdir);
    CHECK(mtrec_model_load(slashed, &md) == MTREC_OK);
    CHECK_STR_EQ(md ? mtrec_model_version(md) : NULL, v);
    mtrec_model_free(md);
    free(vdir);
    fixture_close(&f);
}

/* Weights, BN statistics and tables come back exactly; no optimizer slots are stored. */
static void test_weights_round_trip(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    char *vdir = NULL;
    mtrec_status st = mt_export_write(f.m, path2(g_dir, "rt"), &vdir, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) { fixture_close(&f); return; }
    mt_ckpt *c = NULL;
    st = mt_ckpt_open(path2(vdir, "model.safetensors"), &c, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    int slots = 0;
    for (int i = 0; c && i < mt_ckpt_count(c); i++) slots += strstr(mt_ckpt_name(c, i), "/Adam") != NULL;
    CHECK(c && mt_ckpt_count(c) > 0);
    CHECK(slots == 0);
    mt_ckpt_close(c);

    mt_model *m2 = NULL;
    st = mt_model_create_ex(&f.p, 4, f.mm, 12345, NULL, 1, &m2, &e);
    CHECK(st == MTREC_OK);
    if (m2) {
        int64_t step = -1;
        st = mt_model_load(m2, path2(vdir, "model.safetensors"), 0, &step, &e);
        CHECK_MSG(st == MTREC_OK, "%s", e.msg);
        CHECK(step == 0);
        CHECK(m2->n_params == f.m->n_params && m2->n_stats == f.m->n_stats);
        CHECK(memcmp(m2->params, f.m->params, f.m->n_params * sizeof(mt_real)) == 0);
        CHECK(memcmp(m2->stats, f.m->stats, f.m->n_stats * sizeof(mt_real)) == 0);
        for (int t = 0; t < f.m->n_tables; t++)
            CHECK(memcmp(m2->tables[t].w, f.m->tables[t].w,
                         (size_t)f.m->tables[t].plan->rows * f.m->tables[t].plan->dim * sizeof(mt_real)) == 0);
    }
    mt_model_free(m2);
    free(vdir);
    fixture_close(&f);
}


/* --precision bf16: kernels and tables come back as bf16 values (low 16 bits zero) within half
 * a bf16 ulp (2^-9 relative) of the originals; biases, BN parameters and statistics exact;
 * the signature says "precision": "bf16" (an fp32 export says "fp32"). */
static void test_bf16_weights(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    char *vdir = NULL;
    mtrec_status st = mt_export_write_step(f.m, 5, 1, path2(g_dir, "bf16"), &vdir, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) { fixture_close(&f); return; }
    cJSON *sig = load_json(path2(vdir, "signature.json"));
    const cJSON *pr = sig ? cJSON_GetObjectItemCaseSensitive(sig, "precision") : NULL;
    CHECK(cJSON_IsString(pr) && !strcmp(pr->valuestring, "bf16"));
    cJSON_Delete(sig);
    mt_model *m2 = NULL;
    CHECK(mt_model_create_ex(&f.p, 4, f.mm, 12345, NULL, 1, &m2, &e) == MTREC_OK);
    if (m2) CHECK_MSG(mt_model_load(m2, path2(vdir, "model.safetensors"), 0, NULL, &e) == MTREC_OK, "%s", e.msg);
    int n_kernel = 0, n_rounded = 0, bad = 0;
    for (int i = 0; m2 && i < f.m->n_info; i++) {
        const mt_param_info *pi = &f.m->info[i];
        const mt_real *a = mt_model_param_data(f.m, pi), *b = mt_model_param_data(m2, &m2->info[i]);
        int64_t n = pi->shape[0] * (pi->ndim > 1 ? pi->shape[1] : 1);
        n_kernel += pi->is_kernel;
        for (int64_t k = 0; k < n; k++) {
            if (!pi->is_kernel) {
                if (a[k] != b[k] && bad < 3) printf("# %s[%lld] %.9g -> %.9g\n", pi->name, (long long)k, (double)a[k], (double)b[k]);
                bad += a[k] != b[k];
                continue;
            }
            uint32_t u;
            float fb = (float)b[k];
            memcpy(&u, &fb, 4);
            bad += (u & 0xffff) != 0 || !(fabs((double)a[k] - fb) <= fabs((double)a[k]) / 256);
            n_rounded += a[k] != b[k];
        }
    }
    for (int t = 0; m2 && t < f.m->n_tables; t++) {
        int64_t n = (int64_t)f.m->tables[t].plan->rows * f.m->tables[t].plan->dim;
        for (int64_t k = 0; k < n; k++) {
            float fa = (float)f.m->tables[t].w[k], fb = (float)m2->tables[t].w[k];
            uint32_t u;
            memcpy(&u, &fb, 4);
            bad += (u & 0xffff) != 0 || !(fabs((double)fa - fb) <= fabs((double)fa) / 256);
            n_rounded += fa != fb;
        }
    }
    CHECK(n_kernel > 0);
    CHECK(n_rounded > 0);  /* random fp32 weights do need rounding */
    CHECK_MSG(bad == 0, "%d values not bf16 within half an ulp / not exact", bad);
    mt_model_free(m2);
    free(vdir);
    /* fp32 export: says so */
    CHECK(mt_export_write_step(f.m, 5, 0, path2(g_dir, "fp32"), &vdir, &e) == MTREC_OK);
    sig = vdir ? load_json(path2(vdir, "signature.json")) : NULL;
    pr = sig ? cJSON_GetObjectItemCaseSensitive(sig, "precision") : NULL;
    CHECK(cJSON_IsString(pr) && !strcmp(pr->valuestring, "fp32"));
    cJSON_Delete(sig);
    free(vdir);
    /* checkpoints keep fp32: bf16 with optimizer state is refused */
    CHECK(mt_model_save_ex(f.m, path2(g_dir, "x.ckpt"), 1, 1, 1, &e) == MTREC_ERR_ARG);
    fixture_close(&f);
}

static void test_versions_increase(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    pathbuf edb = keep(path2(g_dir, "versions"));
    char *ed = edb.s;
    char *v[3] = {0};
    for (int i = 0; i < 3; i++) {
        mtrec_status st = mt_export_write(f.m, ed, &v[i], &e);
        CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    }
    if (v[0] && v[1] && v[2]) {
        long long a = atoll(base(v[0])), b = atoll(base(v[1])), c = atoll(base(v[2]));
        CHECK(a < b && b < c);
        for (int i = 0; i < 3; i++) CHECK(exists(path2(v[i], "model.safetensors")));  /* older kept */
        char *latest = mt_export_latest(ed);
        CHECK_STR_EQ(latest, v[2]);
        free(latest);
        CHECK(count_entries(ed, ".tmp") == 0);
        /* a version above the clock (e.g. written on a machine whose clock ran ahead) still
         * orders the next export after it */
        pathbuf aheadb = keep(path2(ed, "99999999999"));
        char *ahead = aheadb.s;
        CHECK(mkdir(ahead, 0755) == 0);
        char *v4 = NULL;
        CHECK(mt_export_write(f.m, ed, &v4, &e) == MTREC_OK);
        CHECK_STR_EQ(v4 ? base(v4) : NULL, "100000000000");
        /* the incomplete folder is never "latest"; the loader takes the newest complete one */
        latest = mt_export_latest(ed);
        CHECK_STR_EQ(latest, v4);
        free(latest);
        rmdir(ahead);
        mtrec_model *md = NULL;
        CHECK(mtrec_model_load(ed, &md) == MTREC_OK);
        CHECK_STR_EQ(md ? mtrec_model_version(md) : NULL, "100000000000");
        mtrec_model_free(md);
        free(v4);
    }
    CHECK(mt_export_latest(path2(g_dir, "no_such_dir")) == NULL);
    for (int i = 0; i < 3; i++) free(v[i]);
    fixture_close(&f);
}

static void test_export_checkpoint(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    pathbuf mdb = keep(path2(g_dir, "model"));
    char *md_dir = mdb.s;
    CHECK(mt_mkdirs(md_dir, &e) == MTREC_OK);
    char *ck = mt_ckpt_path(md_dir, 7);
    CHECK(mt_model_save(f.m, ck, 7, 1, &e) == MTREC_OK);
    CHECK(mt_ckpt_commit(md_dir, 7, 3, &e) == MTREC_OK);
    free(ck);
    /* the pipeline's model_dir points at the checkpoints */
    char *old = f.p.model_dir;
    f.p.model_dir = md_dir;
    char *vdir = NULL;
    mtrec_status st = mt_export_checkpoint(&f.p, NULL, path2(g_dir, "from_ckpt"), 0, &vdir, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    f.p.model_dir = old;
    if (vdir) {
        cJSON *sig = load_json(path2(vdir, "signature.json"));
        const cJSON *gs = sig ? cJSON_GetObjectItem(sig, "global_step") : NULL;
        CHECK(gs && gs->valuedouble == 7);
        cJSON_Delete(sig);
        /* optimizer state of the checkpoint is dropped */
        CHECK(file_size(path2(vdir, "model.safetensors")) < file_size(path2(md_dir, "model.ckpt-7")));
        mtrec_model *md = NULL;
        CHECK(mtrec_model_load(vdir, &md) == MTREC_OK);
        mtrec_model_free(md);
    }
    free(vdir);
    /* no checkpoint: a clear error */
    pathbuf emptyb = keep(path2(g_dir, "empty_model_dir"));
    f.p.model_dir = emptyb.s;
    st = mt_export_checkpoint(&f.p, NULL, path2(g_dir, "never"), 0, NULL, &e);
    f.p.model_dir = old;
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(e.msg, "no checkpoint");
    CHECK(!exists(path2(g_dir, "never")));
    fixture_close(&f);
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) { if (a) fclose(a); if (b) fclose(b); return -1; }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
    return 0;
}

static void test_corrupt_refused(void) {
    fixture f;
    if (fixture_open(&f)) { fixture_close(&f); return; }
    mt_err e = {0};
    char *vdir = NULL;
    CHECK(mt_export_write(f.m, path2(g_dir, "corrupt"), &vdir, &e) == MTREC_OK);
    if (!vdir) { fixture_close(&f); return; }
    pathbuf wb = keep(path2(vdir, "model.safetensors")), savedb = keep(path2(g_dir, "weights.bak"));
    char *w = wb.s, *saved = savedb.s;
    CHECK(copy_file(w, saved) == 0);
    mtrec_model *md = NULL;

    /* one flipped byte in the tensor data */
    FILE *fp = fopen(w, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, -5, SEEK_END);
        int ch = fgetc(fp);
        fseek(fp, -5, SEEK_END);
        fputc(ch ^ 0x40, fp);
        fclose(fp);
    }
    mtrec_status st = mtrec_model_load(vdir, &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK(md == NULL);
    CHECK_CONTAINS(mtrec_last_error(), "model.safetensors");
    CHECK_CONTAINS(mtrec_last_error(), "CRC32");

    /* truncated */
    CHECK(copy_file(saved, w) == 0);
    CHECK(truncate(w, file_size(w) - 16) == 0);
    st = mtrec_model_load(vdir, &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(mtrec_last_error(), "model.safetensors");
    CHECK_CONTAINS(mtrec_last_error(), "size");

    /* restored: loads again */
    CHECK(copy_file(saved, w) == 0);
    st = mtrec_model_load(vdir, &md);
    CHECK_MSG(st == MTREC_OK, "%s", mtrec_last_error());
    mtrec_model_free(md);
    md = NULL;

    /* an edited config no longer matches its checksum */
    pathbuf cfgb = keep(path2(vdir, "pipeline.config"));
    char *cfgp = cfgb.s;
    fp = fopen(cfgp, "ab");
    if (fp) { fputs("# edited\n", fp); fclose(fp); }
    st = mtrec_model_load(vdir, &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(mtrec_last_error(), "pipeline.config");

    /* a missing file */
    unlink(cfgp);
    st = mtrec_model_load(vdir, &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(mtrec_last_error(), "pipeline.config");
    CHECK(md == NULL);
    /* ... and the folder no longer counts as a complete version */
    CHECK(mt_export_latest(path2(g_dir, "corrupt")) == NULL);
    st = mtrec_model_load(path2(g_dir, "corrupt"), &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(mtrec_last_error(), "no complete export");

    /* garbage signature */
    fp = fopen(path2(vdir, "signature.json"), "wb");
    if (fp) { fputs("{\"inputs\": [", fp); fclose(fp); }
    st = mtrec_model_load(vdir, &md);
    CHECK(st == MTREC_ERR_CHECKPOINT);
    CHECK_CONTAINS(mtrec_last_error(), "signature.json");

    st = mtrec_model_load(path2(g_dir, "does_not_exist"), &md);
    CHECK(st == MTREC_ERR_IO);
    CHECK(mtrec_model_load(NULL, &md) == MTREC_ERR_ARG);
    CHECK(mtrec_model_load(vdir, NULL) == MTREC_ERR_ARG);
    CHECK_CONTAINS(mtrec_last_error(), "NULL");
    free(vdir);
    fixture_close(&f);
}

static void test_bad_args(void) {
    mt_err e = {0};
    CHECK(mt_export_write(NULL, g_dir, NULL, &e) == MTREC_ERR_ARG);
    CHECK(mt_export_checkpoint(NULL, NULL, g_dir, 0, NULL, &e) == MTREC_ERR_ARG);
    CHECK(mtrec_model_num_inputs(NULL) == 0);
    CHECK(mtrec_model_version(NULL) == NULL);
    mtrec_model_free(NULL);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_layout_and_signature);
    RUN(test_weights_round_trip);
    RUN(test_bf16_weights);
    RUN(test_versions_increase);
    RUN(test_export_checkpoint);
    RUN(test_corrupt_refused);
    RUN(test_bad_args);
    if (!getenv("MTREC_KEEP_TMP")) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
