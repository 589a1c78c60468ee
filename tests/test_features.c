/* test_features.c: the feature plan and mt_batch_add_row against EasyRec's semantics
 * (EASYREC_SEMANTICS.md 1.4): hashing, identity buckets, vocabularies, tags and weights,
 * raw values (normalised, bucketised, projected, dense), shared tables, labels, sample
 * weights, keys and data error messages. Expected ids are computed independently here
 * (Fingerprint64 is checked against libfarmhash in test_hash.c). Pipelines are built by
 * hand (zero-initialised, then the fields features.c reads), so this test does not depend
 * on the config loader. */
#include <stdint.h>

#include "data/features.h"
#include "test.h"
#include "util/hash.h"

#include "tpipe.h"

/* Feed one row "a,b,c" (no quoting) into b. */
static mtrec_status feed(tpipe *t, const mt_feature_plan *plan, mt_batch *b, const char *row, mt_err *e) {
    const char *text[64];
    int len[64], n = 0;
    const char *s = row;
    for (;;) {
        const char *c = strchr(s, ',');
        text[n] = s;
        len[n] = c ? (int)(c - s) : (int)strlen(s);
        n++;
        if (!c) break;
        s = c + 1;
    }
    CHECK(n == t->p.data.n_input_fields);
    char where[32];
    snprintf(where, sizeof where, "f.csv:%d", b->n_rows + 1);
    return mt_batch_add_row(&t->p, plan, b, text, len, where, e);
}

static int64_t hb(const char *s, int64_t n) { return mt_hash_bucket(s, strlen(s), n); }

/* ids of item i in row r */
static int nids(const mt_batch *b, int i, int r) { return b->offsets[i][r + 1] - b->offsets[i][r]; }
static int64_t id_at(const mt_batch *b, int i, int r, int k) { return b->ids[i][b->offsets[i][r] + k]; }
static double w_at(const mt_batch *b, int i, int r, int k) { return b->weights[i][b->offsets[i][r] + k]; }

/* ---- tests ---------------------------------------------------------------------------- */
static void test_id_hash(void) {
    tpipe t;
    tp_init(&t, "user:STRING,age:INT32,cnt:INT64=42,price:FLOAT,score:DOUBLE,flag:BOOL");
    tp_feature(&t, MT_FEAT_ID, "user", NULL, 8)->hash_bucket_size = 1000;
    tp_feature(&t, MT_FEAT_ID, "age", NULL, 8)->hash_bucket_size = 97;
    tp_feature(&t, MT_FEAT_ID, "cnt", NULL, 8)->hash_bucket_size = 97;
    mt_feature_config *pf = tp_feature(&t, MT_FEAT_ID, "price", NULL, 8);
    pf->hash_bucket_size = 1 << 20;
    pf->precision = 2;
    tp_feature(&t, MT_FEAT_ID, "score", NULL, 8)->hash_bucket_size = 1 << 20;
    tp_feature(&t, MT_FEAT_ID, "flag", NULL, 8)->hash_bucket_size = 1 << 20;
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_items == 6 && plan.n_tables == 6 && plan.group_width == 48);
    CHECK(plan.tables[0].rows == 1000 && plan.tables[0].dim == 8);
    CHECK_STR_EQ(plan.tables[0].name, "user");
    CHECK(mt_batch_alloc(&plan, 8, &b, &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, "abc,7,5,0.1,1.5,true", &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, ",,,,,", &e) == MTREC_OK);          /* every default */
    CHECK(feed(&t, &plan, &b, "NULL,007,-12, 3 ,-0.25,0", &e) == MTREC_OK);
    CHECK(b.n_rows == 3);
    /* row 0 */
    CHECK(nids(&b, 0, 0) == 1 && id_at(&b, 0, 0, 0) == hb("abc", 1000));
    CHECK(id_at(&b, 1, 0, 0) == hb("7", 97));
    CHECK(id_at(&b, 2, 0, 0) == hb("5", 97));
    CHECK(id_at(&b, 3, 0, 0) == hb("0.10", 1 << 20));        /* FLOAT, precision 2 */
    CHECK(id_at(&b, 4, 0, 0) == hb("1.500000", 1 << 20));    /* precision unset: tf.as_string %f */
    CHECK(id_at(&b, 5, 0, 0) == hb("true", 1 << 20));
    /* row 1: '' string dropped; empty INT -> "0"; INT64 default_val 42; FLOAT 0.0 */
    CHECK(nids(&b, 0, 1) == 0);
    CHECK(nids(&b, 1, 1) == 1 && id_at(&b, 1, 1, 0) == hb("0", 97));
    CHECK(id_at(&b, 2, 1, 0) == hb("42", 97));
    CHECK(id_at(&b, 3, 1, 0) == hb("0.00", 1 << 20));
    CHECK(id_at(&b, 5, 1, 0) == hb("false", 1 << 20));
    /* row 2: NULL is a string like any other; integers are reprinted canonically */
    CHECK(id_at(&b, 0, 2, 0) == hb("NULL", 1000));
    CHECK(id_at(&b, 1, 2, 0) == hb("7", 97));
    CHECK(id_at(&b, 2, 2, 0) == hb("-12", 97));
    CHECK(id_at(&b, 3, 2, 0) == hb("3.00", 1 << 20));
    CHECK(id_at(&b, 4, 2, 0) == hb("-0.250000", 1 << 20));
    for (int r = 0; r < 3; r++) CHECK(b.row_index[r] == r && b.sample_weight[r] == 1);
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_errors(void) {
    tpipe t;
    tp_init(&t, "user:STRING,age:INT32,big:INT64,price:FLOAT,clk:INT32");
    tp_feature(&t, MT_FEAT_ID, "user", NULL, 4)->hash_bucket_size = 10;
    tp_feature(&t, MT_FEAT_ID, "age", NULL, 4)->hash_bucket_size = 10;
    tp_feature(&t, MT_FEAT_RAW, "price", NULL, 0);
    tp_labels(&t, "clk", NULL);
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(mt_batch_alloc(&plan, 2, &b, &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, "u,abc,1,1.0,0", &e) == MTREC_ERR_DATA);
    CHECK(e.code == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:1: column 'age' (#1): 'abc' is not a valid INT32");
    CHECK(b.n_rows == 0);                                   /* failed row left no trace */
    CHECK(feed(&t, &plan, &b, "u,1,1,1.0x,0", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:1: column 'price' (#3): '1.0x' is not a valid FLOAT");
    CHECK(feed(&t, &plan, &b, "u,1,1,1,yes", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:1: column 'clk' (#4): 'yes' is not a valid INT32");
    CHECK(feed(&t, &plan, &b, "u,3000000000,1,1,1", &e) == MTREC_ERR_DATA);  /* INT32 overflow */
    CHECK_CONTAINS(e.msg, "'3000000000' is not a valid INT32");
    CHECK(feed(&t, &plan, &b, "u,1.5,1,1,1", &e) == MTREC_ERR_DATA);
    CHECK(b.n_rows == 0);
    CHECK(feed(&t, &plan, &b, "u,1,1,1e3,1", &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, "u,1,1,inf,1", &e) == MTREC_OK);
    CHECK(b.n_rows == 2 && b.dense[0] == 1000 && isinf(b.dense[1]));
    CHECK(feed(&t, &plan, &b, "u,1,1,1,1", &e) == MTREC_ERR_ARG);  /* batch full */
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_num_buckets_vocab(void) {
    tpipe t;
    tp_init(&t, "n:INT32,s:STRING,d:INT32=-1,v:STRING");
    tp_feature(&t, MT_FEAT_ID, "n", NULL, 4)->num_buckets = 10;
    tp_feature(&t, MT_FEAT_ID, "s", NULL, 4)->num_buckets = 10;
    tp_feature(&t, MT_FEAT_ID, "d", NULL, 4)->num_buckets = 10;
    mt_feature_config *v = tp_feature(&t, MT_FEAT_ID, "v", NULL, 4);
    char *vocab[] = {tp_str(&t, "a"), tp_str(&t, "bb"), tp_str(&t, "c")};
    v->vocab_list = vocab;
    v->n_vocab = 3;
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.tables[0].rows == 10 && plan.tables[3].rows == 3);
    CHECK(mt_batch_alloc(&plan, 8, &b, &e) == MTREC_OK);
    const char *rows[] = {"3,3,3,bb", "10,10,,zz", "-3,-1,-1,", ",,5,a", "9,0,0,c"};
    for (int r = 0; r < 5; r++) CHECK(feed(&t, &plan, &b, rows[r], &e) == MTREC_OK);
    CHECK(id_at(&b, 0, 0, 0) == 3 && id_at(&b, 1, 0, 0) == 3 && id_at(&b, 2, 0, 0) == 3);
    CHECK(id_at(&b, 3, 0, 0) == 1);                          /* vocab index */
    CHECK(id_at(&b, 0, 1, 0) == 0 && id_at(&b, 1, 1, 0) == 0); /* out of range -> 0 */
    CHECK(nids(&b, 2, 1) == 0);                              /* empty -> default_val -1 -> missing */
    CHECK(id_at(&b, 3, 1, 0) == 0);                          /* oov -> 0 */
    CHECK(nids(&b, 0, 2) == 1 && id_at(&b, 0, 2, 0) == 0);    /* -3 -> 0 */
    CHECK(nids(&b, 1, 2) == 0 && nids(&b, 2, 2) == 0);        /* -1 -> missing */
    CHECK(nids(&b, 3, 2) == 0);                              /* '' dropped */
    CHECK(nids(&b, 0, 3) == 1 && id_at(&b, 0, 3, 0) == 0);    /* empty INT -> 0 -> id 0 */
    CHECK(nids(&b, 1, 3) == 0);                              /* empty STRING -> missing */
    CHECK(id_at(&b, 2, 3, 0) == 5 && id_at(&b, 3, 3, 0) == 0);
    CHECK(id_at(&b, 0, 4, 0) == 9 && id_at(&b, 1, 4, 0) == 0 && id_at(&b, 3, 4, 0) == 2);
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_tags(void) {
    tpipe t;
    tp_init(&t, "tags:STRING,nums:STRING,kv:STRING,tw:STRING,ww:STRING,kvm:STRING");
    tp_feature(&t, MT_FEAT_TAG, "tags", NULL, 4)->hash_bucket_size = 1000;
    tp_feature(&t, MT_FEAT_TAG, "nums", NULL, 4)->num_buckets = 10;
    mt_feature_config *kv = tp_feature(&t, MT_FEAT_TAG, "kv", NULL, 4);
    kv->hash_bucket_size = 1000;
    kv->kv_separator = tp_str(&t, ":");
    tp_feature(&t, MT_FEAT_TAG, "tw", "ww", 4)->hash_bucket_size = 1000;
    mt_feature_config *kvm = tp_feature(&t, MT_FEAT_TAG, "kvm", NULL, 4);
    kvm->hash_bucket_size = 1000;
    kvm->kv_separator = tp_str(&t, ":");
    kvm->combiner = MT_COMBINER_MEAN;
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(!plan.items[0].weighted && !plan.items[1].weighted);
    CHECK(plan.items[2].weighted && plan.items[3].weighted && plan.items[4].weighted);
    CHECK(plan.items[4].combiner == MT_COMBINER_MEAN && plan.items[0].combiner == MT_COMBINER_SUM);
    CHECK(mt_batch_alloc(&plan, 4, &b, &e) == MTREC_OK);
    CHECK(b.weights[0] == NULL && b.weights[2] != NULL);
    CHECK(feed(&t, &plan, &b, "a||b|,1|5|-1|99|,x:0.5|y:2,p|q|r,0.25||0.5|2,a:0|b:-1|c:2", &e) == MTREC_OK);
    CHECK(nids(&b, 0, 0) == 2 && id_at(&b, 0, 0, 0) == hb("a", 1000) && id_at(&b, 0, 0, 1) == hb("b", 1000));
    CHECK(nids(&b, 1, 0) == 4 && id_at(&b, 1, 0, 0) == 1 && id_at(&b, 1, 0, 1) == 5);
    CHECK(id_at(&b, 1, 0, 2) == 0 && id_at(&b, 1, 0, 3) == 0);  /* tags: -1 and 99 -> 0 */
    CHECK(nids(&b, 2, 0) == 2 && id_at(&b, 2, 0, 0) == hb("x", 1000) && id_at(&b, 2, 0, 1) == hb("y", 1000));
    CHECK_NEAR(w_at(&b, 2, 0, 0), 0.5, 0);
    CHECK_NEAR(w_at(&b, 2, 0, 1), 2.0, 0);
    CHECK(nids(&b, 3, 0) == 3 && id_at(&b, 3, 0, 2) == hb("r", 1000));
    CHECK_NEAR(w_at(&b, 3, 0, 0), 0.25, 0);
    CHECK_NEAR(w_at(&b, 3, 0, 1), 0.5, 0);
    CHECK_NEAR(w_at(&b, 3, 0, 2), 2.0, 0);
    /* mean combiner: weights <= 0 pruned (safe_embedding_lookup_sparse) */
    CHECK(nids(&b, 4, 0) == 1 && id_at(&b, 4, 0, 0) == hb("c", 1000));
    /* empty everything */
    CHECK(feed(&t, &plan, &b, ",,,,,", &e) == MTREC_OK);
    for (int i = 0; i < 5; i++) CHECK(nids(&b, i, 1) == 0);
    /* errors: count mismatch, kv without separator, bad weight, bad int token */
    CHECK(feed(&t, &plan, &b, ",,,p|q,1,", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:3: TagFeature 'tw': 2 tags in column 'tw' but 1 weights in column 'ww'");
    CHECK(feed(&t, &plan, &b, ",,x|y:1,,,", &e) == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "f.csv:3: column 'kv' (#2): tag 'x' is not key:value");
    CHECK(feed(&t, &plan, &b, ",,x:z,,,", &e) == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "'z' is not a valid FLOAT weight");
    CHECK(feed(&t, &plan, &b, ",3|x,,,,", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:3: column 'nums' (#1): 'x' is not a valid INT32");
    CHECK(b.n_rows == 2);
    /* growth beyond the initial reservation (4 ids per row) */
    char big[4096];
    int k = 0;
    for (int i = 0; i < 300; i++) k += snprintf(big + k, sizeof big - (size_t)k, "t%d|", i);
    char row[4200];
    snprintf(row, sizeof row, "%s,,,,,", big);
    CHECK(feed(&t, &plan, &b, row, &e) == MTREC_OK);
    CHECK(nids(&b, 0, 2) == 300 && b.ids_capacity[0] >= 302);
    CHECK(id_at(&b, 0, 2, 299) == hb("t299", 1000) && id_at(&b, 0, 0, 1) == hb("b", 1000));
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_raw(void) {
    tpipe t;
    tp_init(&t, "x:FLOAT,v:STRING,bx:DOUBLE,u:FLOAT,pe:STRING,i:INT32");
    mt_feature_config *x = tp_feature(&t, MT_FEAT_RAW, "x", NULL, 0);
    x->min_val = 2;
    x->max_val = 10;
    tp_feature(&t, MT_FEAT_RAW, "v", NULL, 0)->raw_input_dim = 3;
    mt_feature_config *bx = tp_feature(&t, MT_FEAT_RAW, "bx", NULL, 4);
    double bounds[] = {0, 0.7, 2};  /* 0.7f < 0.7: float32 compare matters */
    bx->boundaries = bounds;
    bx->n_boundaries = 3;
    mt_feature_config *u = tp_feature(&t, MT_FEAT_RAW, "u", NULL, 4);
    u->num_buckets = 4;
    u->min_val = 0;
    u->max_val = 100;
    mt_feature_config *pe = tp_feature(&t, MT_FEAT_RAW, "pe", NULL, 6);
    pe->raw_input_dim = 2;
    tp_feature(&t, MT_FEAT_RAW, "i", NULL, 0);
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.items[0].out == MT_OUT_DENSE && plan.items[0].dense_offset == 0 && plan.items[0].width == 1);
    CHECK(plan.items[1].out == MT_OUT_DENSE && plan.items[1].dense_offset == 1 && plan.items[1].width == 3);
    CHECK(plan.items[5].out == MT_OUT_DENSE && plan.items[5].dense_offset == 4);
    CHECK(plan.dense_width == 5);
    CHECK(plan.items[2].out == MT_OUT_EMBED && plan.tables[plan.items[2].table].rows == 4);
    CHECK(plan.tables[plan.items[3].table].rows == 5);
    CHECK(plan.tables[plan.items[4].table].rows == 2 && plan.tables[plan.items[4].table].dim == 6);
    CHECK(plan.items[4].weighted && !plan.items[2].weighted);
    CHECK(plan.group_width == 1 + 3 + 4 + 4 + 6 + 1);
    CHECK(plan.items[2].group_offset == 4 && plan.items[3].group_offset == 8 && plan.items[4].group_offset == 12);
    CHECK(mt_batch_alloc(&plan, 8, &b, &e) == MTREC_OK);
    /* bucket edges: -1 -> 0, 0 -> 1 (equal goes up), 0.7 -> 2 (equal in float32, as TF's
       Bucketize compares; in double 0.7f < 0.7), 0.69 -> 1, 2 -> 3, 5 -> 3 */
    const char *bxv[] = {"-1", "0", "0.7", "0.69", "2", "5"};
    const int64_t want_b[] = {0, 1, 2, 1, 3, 3};
    const char *uv[] = {"0", "24.9", "25", "50", "99", "100"};
    const int64_t want_u[] = {1, 1, 2, 3, 4, 4};
    for (int r = 0; r < 6; r++) {
        char row[128];
        snprintf(row, sizeof row, "%d,1|2,%s,%s,3|-4,%d", 2 + r, bxv[r], uv[r], r - 2);
        CHECK(feed(&t, &plan, &b, row, &e) == MTREC_OK);
    }
    CHECK(feed(&t, &plan, &b, ",,,,,", &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, "1,1|2|3|4,,,,", &e) == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "more than raw_input_dim=3 values");
    for (int r = 0; r < 6; r++) {
        const mt_real *d = b.dense + r * 5;
        CHECK_NEAR(d[0], r / 8.0, 1e-6);          /* (x - 2) / (10 - 2) */
        CHECK(d[1] == 1 && d[2] == 2 && d[3] == 0);  /* zero-filled to raw_input_dim */
        CHECK(d[4] == r - 2);
        CHECK(nids(&b, 2, r) == 1 && id_at(&b, 2, r, 0) == want_b[r]);
        CHECK(nids(&b, 3, r) == 1 && id_at(&b, 3, r, 0) == want_u[r]);
        CHECK(nids(&b, 4, r) == 2 && id_at(&b, 4, r, 0) == 0 && id_at(&b, 4, r, 1) == 1);
        CHECK(w_at(&b, 4, r, 0) == 3 && w_at(&b, 4, r, 1) == -4);  /* sum keeps every weight */
    }
    /* empty row: FLOAT default 0 -> normalised (0-2)/8; DOUBLE 0 -> bucket 1 */
    CHECK_NEAR(b.dense[6 * 5], -0.25, 1e-7);
    CHECK(id_at(&b, 2, 6, 0) == 1 && id_at(&b, 3, 6, 0) == 1);
    CHECK(nids(&b, 4, 6) == 2 && w_at(&b, 4, 6, 0) == 0);
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_shared_tables_and_group(void) {
    tpipe t;
    tp_init(&t, "a:STRING,b:STRING,c:STRING,d:FLOAT");
    mt_feature_config *fa = tp_feature(&t, MT_FEAT_ID, "a", NULL, 8);
    fa->hash_bucket_size = 500;
    fa->embedding_name = tp_str(&t, "shared");
    mt_feature_config *fb = tp_feature(&t, MT_FEAT_TAG, "b", NULL, 8);
    fb->hash_bucket_size = 500;
    fb->embedding_name = tp_str(&t, "shared");
    fb->combiner = MT_COMBINER_MEAN;
    tp_feature(&t, MT_FEAT_ID, "c", NULL, 4)->hash_bucket_size = 50;
    tp_feature(&t, MT_FEAT_RAW, "d", NULL, 0);
    /* group order differs from config order: d, c, b (a is configured but not in the group) */
    int gi[] = {3, 2, 1};
    char *gn[] = {"d", "c", "b"};
    t.p.model.group_feature_index = gi;
    t.p.model.group_feature_names = gn;
    t.p.model.n_group_features = 3;
    mt_feature_plan plan;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_items == 3 && plan.items[0].feature == 3 && plan.items[1].feature == 2 && plan.items[2].feature == 1);
    CHECK(plan.items[0].group_offset == 0 && plan.items[1].group_offset == 1 && plan.items[2].group_offset == 5);
    CHECK(plan.group_width == 13 && plan.dense_width == 1);
    CHECK(plan.items[2].combiner == MT_COMBINER_MEAN);
    mt_feature_plan_free(&plan);
    /* all four: a and b share one table */
    t.p.model.n_group_features = 0;
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_items == 4 && plan.n_tables == 2);
    CHECK(plan.items[0].table == plan.items[1].table);
    CHECK_STR_EQ(plan.tables[plan.items[0].table].name, "shared");
    mt_feature_plan_free(&plan);
    /* disagreeing shapes -> config error with b's position */
    fb->hash_bucket_size = 600;
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "pipeline.config:12:3: feature 'b' shares embedding 'shared'");
    CHECK(plan.items == NULL);
    fb->hash_bucket_size = 500;
    fb->embedding_dim = 4;
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_ERR_CONFIG);
    /* no bucket spec, no embedding_dim */
    fb->embedding_dim = 8;
    fb->hash_bucket_size = 0;
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "needs hash_bucket_size, num_buckets or vocab_list");
    fb->hash_bucket_size = 500;
    fa->embedding_dim = 0;
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "pipeline.config:11:3: feature 'a' needs embedding_dim > 0");
    tp_free(&t);
}

static void test_labels_weights_keys(void) {
    tpipe t;
    tp_init(&t, "uid:STRING,sess:INT64,clk:INT32,dur:FLOAT,w:FLOAT=2.5,item:STRING");
    tp_feature(&t, MT_FEAT_ID, "item", NULL, 4)->hash_bucket_size = 100;
    tp_labels(&t, "clk", "dur");
    t.p.data.sample_weight = tp_str(&t, "w");
    t.p.data.sample_weight_index = 4;
    /* two towers: gauc on uid in both, pairwise loss on sess, and uid again */
    mt_tower_config *tw = tp_zalloc(&t, 2 * sizeof *tw);
    for (int i = 0; i < 2; i++) {
        tw[i].metrics = tp_zalloc(&t, 2 * sizeof(mt_metric_config));
        tw[i].n_metrics = 2;
        tw[i].metrics[0].type = MT_METRIC_AUC;
        tw[i].metrics[0].uid_index = -1;
        tw[i].metrics[1].type = MT_METRIC_GAUC;
        tw[i].metrics[1].uid_field = tp_str(&t, "uid");
        tw[i].metrics[1].uid_index = 0;
    }
    tw[1].losses = tp_zalloc(&t, 2 * sizeof(mt_loss_config));
    tw[1].n_losses = 2;
    tw[1].losses[0].type = MT_LOSS_PAIR_WISE;
    tw[1].losses[0].session_name = tp_str(&t, "sess");
    tw[1].losses[0].session_index = -1;   /* resolved by name */
    tw[1].losses[1].type = MT_LOSS_PAIR_WISE;
    tw[1].losses[1].session_name = tp_str(&t, "uid");
    tw[1].losses[1].session_index = 0;
    t.p.model.dbmtl.towers = tw;
    t.p.model.dbmtl.n_towers = 2;
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_keys == 2 && plan.key_fields[0] == 0 && plan.key_fields[1] == 1);
    CHECK(plan.n_labels == 2);
    CHECK(mt_batch_alloc(&plan, 4, &b, &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, "u1,77,1,12.5,0.5,i", &e) == MTREC_OK);
    CHECK(feed(&t, &plan, &b, ",,,,,", &e) == MTREC_OK);
    CHECK(b.labels[0] == 1 && b.labels[1] == 12.5f);
    CHECK(b.labels[2] == 0 && b.labels[3] == 0);
    CHECK(b.sample_weight[0] == 0.5f && b.sample_weight[1] == 2.5f);   /* default_val */
    CHECK(b.keys[0] == mt_fingerprint64("u1", 2) && b.keys[1] == mt_fingerprint64("77", 2));
    CHECK(b.keys[2] == mt_fingerprint64("", 0) && b.keys[3] == mt_fingerprint64("0", 1));
    CHECK(feed(&t, &plan, &b, "u,1,1,1,heavy,i", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:3: column 'w' (#4): 'heavy' is not a valid FLOAT");
    CHECK(feed(&t, &plan, &b, "u,1,1,1.x,1,i", &e) == MTREC_ERR_DATA);
    CHECK_STR_EQ(e.msg, "f.csv:3: column 'dur' (#3): '1.x' is not a valid FLOAT");
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    /* a bad key field name is a config error */
    tw[1].losses[0].session_name = tp_str(&t, "nope");
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_ERR_CONFIG);
    CHECK_CONTAINS(e.msg, "key field 'nope' is not an input field");
    tp_free(&t);
}

/* Float parsing: the fast path must agree with strtof/strtod bit for bit. */
static void test_number_parsing(void) {
    tpipe t;
    tp_init(&t, "f:FLOAT,d:DOUBLE");
    tp_feature(&t, MT_FEAT_RAW, "f", NULL, 0);
    tp_labels(&t, "d", NULL);
    mt_feature_plan plan;
    mt_batch b;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(mt_batch_alloc(&plan, 1, &b, &e) == MTREC_OK);
    const char *vals[] = {"0.1", "0.3", "123.456", "-7.25e-3", "16777217", "3.4028235e38", "1e-45",
                          "0.000001", "9999999.9", "  42 ", "+.5", "5.", "1234567890123456789012",
                          "0.1234567", "2.5e10"};
    int bad = 0;
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        char row[128];
        snprintf(row, sizeof row, "%s,%s", vals[k], vals[k]);
        b.n_rows = 0;
        mtrec_status st = feed(&t, &plan, &b, row, &e);
        float wf = strtof(vals[k], NULL);
        double wd = strtod(vals[k], NULL);
        if (st != MTREC_OK || b.dense[0] != wf || b.labels[0] != (mt_real)wd) {
            bad++;
            fprintf(stderr, "parse '%s': st %d got %.9g want %.9g\n", vals[k], st, b.dense[0], wf);
        }
    }
    CHECK(bad == 0);
    const char *invalid[] = {"", "abc", "1e", "0x10", "1..2", "--1", ".", "1 2"};
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) {
        char row[64];
        snprintf(row, sizeof row, "%s,1", invalid[k]);
        b.n_rows = 0;
        /* "" is not invalid: it is the default (0) */
        CHECK((feed(&t, &plan, &b, row, &e) == MTREC_OK) == (invalid[k][0] == 0));
    }
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

int main(void) {
    RUN(test_id_hash);
    RUN(test_errors);
    RUN(test_num_buckets_vocab);
    RUN(test_tags);
    RUN(test_raw);
    RUN(test_shared_tables_and_group);
    RUN(test_labels_weights_keys);
    RUN(test_number_parsing);
    return test_summary();
}
