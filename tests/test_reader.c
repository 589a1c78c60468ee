/* test_reader.c: the batch reader (data/reader.c): order and coverage per epoch with and
 * without shuffle, determinism by seed, identical batches with the reader thread on/off,
 * epochs, header mapping, column-count errors and ignore_error, error propagation, early
 * close, and the real Taobao and Hillstrom files (expected counts computed here by a naive
 * independent parse, and checked against the data READMEs). Pipelines are built by hand. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <unistd.h>

#include "data/features.h"
#include "test.h"
#include "util/hash.h"

#include "tpipe.h"

/* ---- temp files ----------------------------------------------------------------------- */
static char g_dir[256];

static const char *tpath(const char *name) {
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* rows [from, to): id,name,tags,x,clk with tags "t<id%7>|t<id%3>" (empty for id%5==0) */
static const char *write_rows(const char *name, int from, int to) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "w");
    for (int i = from; i < to && f; i++) {
        if (i % 5 == 0) fprintf(f, "%d,n%d,,%d.5,%d\n", i, i, i, i % 2);
        else fprintf(f, "%d,n%d,t%d|t%d,%d.5,%d\n", i, i, i % 7, i % 3, i, i % 2);
    }
    if (f) fclose(f);
    return p;
}

static const char *write_text(const char *name, const char *text) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "w");
    if (f) { fputs(text, f); fclose(f); }
    return p;
}

/* id (dense raw), name hash, tags hash, x dense raw; label clk */
static void small_pipeline(tpipe *t) {
    tp_init(t, "id:INT32,name:STRING,tags:STRING,x:FLOAT,clk:INT32");
    tp_feature(t, MT_FEAT_RAW, "id", NULL, 0);
    tp_feature(t, MT_FEAT_ID, "name", NULL, 4)->hash_bucket_size = 1000;
    tp_feature(t, MT_FEAT_TAG, "tags", NULL, 4)->hash_bucket_size = 50;
    tp_feature(t, MT_FEAT_RAW, "x", NULL, 0);
    tp_label(t, "clk");
}

/* Everything a reader delivers, flattened for comparison. */
typedef struct trace {
    int64_t *ids;        /* row id (from the dense 'id' column), in delivery order */
    int64_t *row_index;
    uint64_t digest;     /* hash over every batch's content */
    int n, cap, batches, last_batch_rows;
    int64_t skipped, rows;
    int rc;
    mt_err err;
} trace;

static uint64_t mixin(uint64_t h, const void *p, size_t n) { return mt_fnv1a64(p, n, h ? h : 1); }

static void read_all(const mt_pipeline *p, const char *spec, mt_reader_opts o, int max_batches, trace *tr) {
    memset(tr, 0, sizeof *tr);
    mt_feature_plan plan;
    mt_err e = {0};
    tr->rc = -2;
    if (mt_feature_plan_build(p, &plan, &e)) { tr->err = e; return; }
    mt_reader *r;
    if (mt_reader_open(p, &plan, spec, &o, &r, &e)) {
        tr->err = e;
        mt_feature_plan_free(&plan);
        return;
    }
    const mt_batch *b;
    int k;
    while ((max_batches <= 0 || tr->batches < max_batches) && (k = mt_reader_next(r, &b, &e)) == 1) {
        tr->batches++;
        tr->last_batch_rows = b->n_rows;
        for (int i = 0; i < b->n_rows; i++) {
            if (tr->n == tr->cap) {
                tr->cap = tr->cap ? tr->cap * 2 : 1024;
                tr->ids = realloc(tr->ids, (size_t)tr->cap * sizeof *tr->ids);
                tr->row_index = realloc(tr->row_index, (size_t)tr->cap * sizeof *tr->row_index);
            }
            tr->ids[tr->n] = (int64_t)b->dense[(size_t)i * (size_t)plan.dense_width];
            tr->row_index[tr->n++] = b->row_index[i];
        }
        uint64_t h = tr->digest;
        h = mixin(h, &b->n_rows, sizeof b->n_rows);
        for (int i = 0; i < plan.n_items; i++) {
            if (plan.items[i].out != MT_OUT_EMBED) continue;
            h = mixin(h, b->offsets[i], (size_t)(b->n_rows + 1) * sizeof(int32_t));
            h = mixin(h, b->ids[i], (size_t)b->offsets[i][b->n_rows] * sizeof(int64_t));
        }
        h = mixin(h, b->dense, (size_t)b->n_rows * (size_t)plan.dense_width * sizeof(mt_real));
        h = mixin(h, b->labels, (size_t)b->n_rows * (size_t)plan.n_labels * sizeof(mt_real));
        h = mixin(h, b->row_index, (size_t)b->n_rows * sizeof(int64_t));
        tr->digest = h;
    }
    if (max_batches <= 0 || tr->batches < max_batches) {
        tr->rc = k;
        tr->err = e;
    } else {
        tr->rc = 1;
    }
    tr->skipped = mt_reader_skipped(r);
    tr->rows = mt_reader_rows(r);
    mt_reader_close(r);
    mt_feature_plan_free(&plan);
}

static void trace_free(trace *t) {
    free(t->ids);
    free(t->row_index);
}

/* Each id in [0, n) occurs exactly `times` times. */
static int each_once(const trace *t, int n, int times) {
    int *c = calloc((size_t)n, sizeof *c), ok = t->n == n * times;
    for (int i = 0; i < t->n; i++) {
        if (t->ids[i] < 0 || t->ids[i] >= n) { ok = 0; continue; }
        c[t->ids[i]]++;
    }
    for (int i = 0; i < n; i++) ok &= c[i] == times;
    free(c);
    return ok;
}

static mt_reader_opts opts(int batch, int shuffle, int buf, uint64_t seed, int epochs, int prefetch) {
    mt_reader_opts o = {batch, shuffle, buf, seed, epochs, prefetch};
    return o;
}

/* ---- tests ---------------------------------------------------------------------------- */
static void test_sequential(void) {
    tpipe t;
    small_pipeline(&t);
    write_rows("a.csv", 0, 100);
    write_rows("b.csv", 100, 250);
    char spec[1200];
    snprintf(spec, sizeof spec, "%s,%s", tpath("b.csv"), tpath("a.csv"));  /* order as given */
    trace tr;
    read_all(&t.p, spec, opts(16, 0, 0, 1, 1, 0), 0, &tr);
    CHECK(tr.rc == 0);
    CHECK(tr.n == 250 && tr.rows == 250 && tr.batches == 16 && tr.last_batch_rows == 250 - 15 * 16);
    int inorder = 1;
    for (int i = 0; i < tr.n; i++) {
        int64_t want = i < 150 ? 100 + i : i - 150;
        inorder &= tr.ids[i] == want && tr.row_index[i] == i;
    }
    CHECK(inorder);
    /* the same with the reader thread: identical batches */
    trace tr2;
    read_all(&t.p, spec, opts(16, 0, 0, 1, 1, 3), 0, &tr2);
    CHECK(tr2.rc == 0 && tr2.digest == tr.digest && tr2.n == 250 && tr2.batches == 16);
    trace_free(&tr);
    trace_free(&tr2);
    tp_free(&t);
}

static void test_shuffle_determinism(void) {
    tpipe t;
    small_pipeline(&t);
    write_rows("a.csv", 0, 100);
    write_rows("b.csv", 100, 250);
    write_rows("c.csv", 250, 300);
    char spec[1200];
    snprintf(spec, sizeof spec, "%s/?.csv", g_dir);  /* glob */
    trace a, b, c, d, e2;
    read_all(&t.p, spec, opts(32, 1, 64, 7, 1, 0), 0, &a);
    read_all(&t.p, spec, opts(32, 1, 64, 7, 1, 0), 0, &b);
    read_all(&t.p, spec, opts(32, 1, 64, 8, 1, 0), 0, &c);
    read_all(&t.p, spec, opts(32, 1, 64, 7, 1, 4), 0, &d);
    read_all(&t.p, spec, opts(32, 1, 64, 7, 1, 1), 0, &e2);
    CHECK(a.rc == 0 && each_once(&a, 300, 1));
    CHECK(c.rc == 0 && each_once(&c, 300, 1));
    int sorted = 1, same_ab = a.n == b.n, diff_ac = 0;
    for (int i = 0; i < a.n; i++) {
        sorted &= i == 0 || a.ids[i] > a.ids[i - 1];
        same_ab &= a.ids[i] == b.ids[i];
        diff_ac += a.ids[i] != c.ids[i];
    }
    CHECK(!sorted);
    CHECK(same_ab && a.digest == b.digest);
    CHECK(diff_ac > 100 && a.digest != c.digest);
    CHECK(d.digest == a.digest && d.n == 300 && e2.digest == a.digest);  /* thread on/off */
    /* row_index: each epoch position 0..299 exactly once, and it travels with its row */
    int *seen = calloc(300, sizeof *seen), ok = 1;
    for (int i = 0; i < a.n; i++) {
        if (a.row_index[i] < 0 || a.row_index[i] >= 300) { ok = 0; continue; }
        seen[a.row_index[i]]++;
    }
    for (int i = 0; i < 300; i++) ok &= seen[i] == 1;
    free(seen);
    CHECK(ok);
    /* shuffle buffer of 1 == no row shuffle (only file order changes) */
    trace f;
    read_all(&t.p, spec, opts(32, 1, 1, 7, 1, 0), 0, &f);
    int runs = 0;
    for (int i = 1; i < f.n; i++) runs += f.ids[i] != f.ids[i - 1] + 1;
    CHECK(f.n == 300 && runs <= 2);
    trace_free(&a); trace_free(&b); trace_free(&c); trace_free(&d); trace_free(&e2); trace_free(&f);
    tp_free(&t);
}

static void test_epochs(void) {
    tpipe t;
    small_pipeline(&t);
    const char *p = write_rows("e.csv", 0, 100);
    trace a, b, c;
    read_all(&t.p, p, opts(30, 0, 0, 1, 2, 0), 0, &a);
    CHECK(a.rc == 0 && each_once(&a, 100, 2));
    CHECK(a.batches == 7 && a.last_batch_rows == 20);   /* batches span the epoch boundary */
    CHECK(a.ids[99] == 99 && a.ids[100] == 0 && a.row_index[100] == 0);
    read_all(&t.p, p, opts(30, 1, 16, 3, 2, 0), 0, &b);
    read_all(&t.p, p, opts(30, 1, 16, 3, 2, 2), 0, &c);
    CHECK(b.rc == 0 && each_once(&b, 100, 2) && b.digest == c.digest);
    /* each epoch on its own holds every row once; the two epochs are shuffled differently */
    trace half = b;
    half.n = 100;
    int diff = 0;
    for (int i = 0; i < 100; i++) diff += b.ids[i] != b.ids[100 + i];
    CHECK(each_once(&half, 100, 1) && diff > 20);
    /* forever (num_epochs 0): stops only when we stop; close mid-stream with the thread */
    trace d;
    read_all(&t.p, p, opts(64, 1, 32, 5, 0, 2), 50, &d);
    CHECK(d.rc == 1 && d.batches == 50 && d.n == 50 * 64);
    trace_free(&a); trace_free(&b); trace_free(&c); trace_free(&d);
    tp_free(&t);
}

/* Close at every point of the stream, with the thread busy, waiting on a full queue, or done. */
static void test_close_early(void) {
    tpipe t;
    small_pipeline(&t);
    const char *p = write_rows("ce.csv", 0, 200);
    mt_feature_plan plan;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    int ok = 1;
    for (int prefetch = 1; prefetch <= 3; prefetch++) {
        for (int stop_after = 0; stop_after <= 30; stop_after += 3) {
            mt_reader *r;
            mt_reader_opts o = opts(8, stop_after % 2, 16, (uint64_t)stop_after, stop_after % 4, prefetch);
            if (mt_reader_open(&t.p, &plan, p, &o, &r, &e)) { ok = 0; continue; }
            const mt_batch *b;
            for (int i = 0; i < stop_after; i++) {
                if (mt_reader_next(r, &b, &e) != 1) { ok = 0; break; }
                ok &= b->n_rows == 8;
            }
            mt_reader_close(r);
        }
    }
    CHECK(ok);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_header_mapping(void) {
    tpipe t;
    small_pipeline(&t);
    t.p.data.with_header = 1;
    const char *p = write_text("h.csv", "extra,clk,x,tags,name,id\r\n"
                                        "zz,1,2.5,a|b,bob,7\r\n"
                                        "zz,0,,,,8\r\n");
    mt_feature_plan plan;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    mt_reader *r;
    mt_reader_opts o = opts(10, 0, 0, 1, 1, 0);
    CHECK(mt_reader_open(&t.p, &plan, p, &o, &r, &e) == MTREC_OK);
    const mt_batch *b;
    int k = mt_reader_next(r, &b, &e);
    CHECK_MSG(k == 1, "%s", e.msg);
    if (k == 1) {
        CHECK(b->n_rows == 2);
        CHECK(b->dense[0] == 7 && b->dense[1] == 2.5f && b->labels[0] == 1);
        CHECK(b->dense[2] == 8 && b->dense[3] == 0 && b->labels[1] == 0);
        CHECK(b->offsets[1][1] == 1 && b->ids[1][0] == mt_hash_bucket("bob", 3, 1000));
        CHECK(b->offsets[1][2] == 1);   /* empty name dropped */
        CHECK(b->offsets[2][1] == 2 && b->ids[2][0] == mt_hash_bucket("a", 1, 50) && b->offsets[2][2] == 2);
    }
    CHECK(mt_reader_next(r, &b, &e) == 0);
    CHECK(mt_reader_next(r, &b, &e) == 0);
    mt_reader_close(r);
    /* a missing input field names the file and the field */
    const char *q = write_text("h2.csv", "clk,x,tags,id\n1,2,a,3\n");
    CHECK(mt_reader_open(&t.p, &plan, q, &o, &r, &e) == MTREC_OK);
    CHECK(mt_reader_next(r, &b, &e) == -1);
    CHECK(e.code == MTREC_ERR_DATA);
    CHECK_CONTAINS(e.msg, "h2.csv:1: header has no column 'name'");
    mt_reader_close(r);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

static void test_column_errors(void) {
    tpipe t;
    small_pipeline(&t);
    const char *p = write_text("bad.csv", "1,a,x,1.5,0\n2,b,y,2.5,1\n3,c,z,3.5\n4,d,w,4.5,0,9\n5,e,v,x5,1\n6,f,u,6.5,0\n");
    trace a, b, c;
    read_all(&t.p, p, opts(4, 0, 0, 1, 1, 0), 0, &a);
    CHECK(a.rc == -1 && a.err.code == MTREC_ERR_DATA);
    char want[700];
    snprintf(want, sizeof want, "%s:3: expected 5 columns, found 4", p);
    CHECK_STR_EQ(a.err.msg, want);
    CHECK(a.batches == 0 && a.n == 0);
    /* with the thread: same error; batches completed before it are still delivered */
    read_all(&t.p, p, opts(2, 0, 0, 1, 1, 2), 0, &b);
    CHECK(b.rc == -1 && b.batches == 1 && b.n == 2);
    CHECK_STR_EQ(b.err.msg, want);
    /* ignore_error: short, long and non-numeric rows are skipped and counted */
    t.p.data.ignore_error = 1;
    read_all(&t.p, p, opts(4, 0, 0, 1, 1, 0), 0, &a);
    read_all(&t.p, p, opts(4, 0, 0, 1, 1, 3), 0, &c);
    CHECK(a.rc == 0 && a.n == 3 && a.skipped == 3 && a.rows == 3);
    CHECK(a.ids[0] == 1 && a.ids[1] == 2 && a.ids[2] == 6);
    CHECK(c.rc == 0 && c.digest == a.digest && c.skipped == 3);
    t.p.data.ignore_error = 0;
    /* a bad value without ignore_error: file, row, column */
    const char *q = write_text("bad2.csv", "1,a,x,1.5,0\n2,b,y,oops,1\n");
    trace d;
    read_all(&t.p, q, opts(4, 0, 0, 1, 1, 0), 0, &d);
    snprintf(want, sizeof want, "%s:2: column 'x' (#3): 'oops' is not a valid FLOAT", q);
    CHECK(d.rc == -1);
    CHECK_STR_EQ(d.err.msg, want);
    /* a missing file */
    mt_feature_plan plan;
    mt_reader *r;
    mt_err e = {0};
    mt_reader_opts o = opts(4, 0, 0, 1, 1, 0);
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(mt_reader_open(&t.p, &plan, tpath("nope.csv"), &o, &r, &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "nope.csv");
    mt_feature_plan_free(&plan);
    trace_free(&a); trace_free(&b); trace_free(&c); trace_free(&d);
    tp_free(&t);
}

/* ---- real data ------------------------------------------------------------------------ */
static void test_taobao(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/taobao_easyrec_dbmtl/taobao_test_data", test_shared_dir());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    /* independent naive parse (no quotes in this file): counts to compare with */
    static const char *names[20] = {"clk", "buy", "pid", "adgroup_id", "cate_id", "campaign_id", "customer",
                                    "brand", "user_id", "cms_segid", "cms_group_id", "final_gender_code",
                                    "age_level", "pvalue_level", "shopping_level", "occupation",
                                    "new_user_class_level", "tag_category_list", "tag_brand_list", "price"};
    long rows = 0, clk = 0, buy = 0, empty_seg = 0, empty_pvalue = 0, null_brand = 0, tag_tokens = 0;
    long price_sum = 0, empty_tags = 0;
    uint64_t brand_hash_sum = 0;
    char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        char *col[20];
        int n = 0;
        line[strcspn(line, "\n")] = 0;
        for (char *s = line; n < 20;) {
            col[n++] = s;
            char *c = strchr(s, ',');
            if (!c) break;
            *c = 0;
            s = c + 1;
        }
        if (n != 20) continue;
        rows++;
        clk += atoi(col[0]);
        buy += atoi(col[1]);
        empty_seg += col[9][0] == 0;
        empty_pvalue += col[13][0] == 0;
        null_brand += strcmp(col[7], "NULL") == 0;
        if (col[7][0]) brand_hash_sum += (uint64_t)mt_hash_bucket(col[7], strlen(col[7]), 100000);
        empty_tags += col[17][0] == 0;
        for (char *s = col[17]; *s;) {
            size_t k = strcspn(s, "|");
            tag_tokens += k > 0;
            s += k + (s[k] == '|');
        }
        price_sum += atoi(col[19]) < 50 ? atoi(col[19]) : 0;
    }
    fclose(f);
    /* the data README's numbers */
    CHECK(rows == 10000 && clk == 533 && buy == 4 && empty_seg == 425 && empty_pvalue == 5276);
    CHECK(null_brand == 3161 && empty_tags == 4202);

    tpipe t;
    char spec[2048];
    int k = 0;
    for (int i = 0; i < 20; i++)
        k += snprintf(spec + k, sizeof spec - (size_t)k, "%s%s:%s", i ? "," : "", names[i],
                      (i < 2 || i == 19) ? "INT32" : "STRING");
    tp_init(&t, spec);
    static const int64_t buckets[20] = {0, 0, 10, 100000, 10000, 100000, 100000, 100000, 100000, 100,
                                        100, 10, 10, 10, 10, 10, 10, 100000, 100000, 0};
    for (int i = 2; i < 17; i++) tp_feature(&t, MT_FEAT_ID, names[i], NULL, 16)->hash_bucket_size = buckets[i];
    tp_feature(&t, MT_FEAT_TAG, names[17], NULL, 16)->hash_bucket_size = 100000;
    tp_feature(&t, MT_FEAT_TAG, names[18], NULL, 16)->hash_bucket_size = 100000;
    tp_feature(&t, MT_FEAT_ID, names[19], NULL, 16)->num_buckets = 50;
    tp_label(&t, "clk");
    tp_label(&t, "buy");
    mt_feature_plan plan;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_items == 18 && plan.group_width == 18 * 16 && plan.dense_width == 0);
    for (int prefetch = 0; prefetch <= 2; prefetch += 2) {
        mt_reader *r;
        mt_reader_opts o = opts(4096, 0, 0, 2020, 1, prefetch);
        CHECK(mt_reader_open(&t.p, &plan, path, &o, &r, &e) == MTREC_OK);
        const mt_batch *b;
        long n = 0, lclk = 0, lbuy = 0, no_seg = 0, no_pvalue = 0, null_b = 0, toks = 0, notag = 0, psum = 0;
        int batches = 0, rc;
        uint64_t bsum = 0;
        const int64_t null_id = mt_hash_bucket("NULL", 4, 100000);
        while ((rc = mt_reader_next(r, &b, &e)) == 1) {
            batches++;
            for (int i = 0; i < b->n_rows; i++) {
                lclk += (long)b->labels[2 * i];
                lbuy += (long)b->labels[2 * i + 1];
                no_seg += b->offsets[7][i + 1] == b->offsets[7][i];     /* cms_segid: item 7 */
                no_pvalue += b->offsets[11][i + 1] == b->offsets[11][i];
                int nb = b->offsets[5][i + 1] - b->offsets[5][i];     /* brand: item 5 */
                if (nb == 1) {
                    null_b += b->ids[5][b->offsets[5][i]] == null_id;
                    bsum += (uint64_t)b->ids[5][b->offsets[5][i]];
                }
                int nt = b->offsets[15][i + 1] - b->offsets[15][i];
                toks += nt;
                notag += nt == 0;
                CHECK(b->offsets[17][i + 1] - b->offsets[17][i] == 1);  /* price always 1 id */
                psum += b->ids[17][b->offsets[17][i]];
                n++;
            }
        }
        CHECK(rc == 0);
        CHECK(n == 10000 && batches == 3 && mt_reader_rows(r) == 10000);
        CHECK(lclk == clk && lbuy == buy);
        CHECK(no_seg == empty_seg && no_pvalue == empty_pvalue);
        CHECK(null_b >= null_brand && bsum == brand_hash_sum);
        CHECK(toks == tag_tokens && notag == empty_tags);
        CHECK(psum == price_sum);
        mt_reader_close(r);
    }
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

/* The same file through a pipeline loaded from EasyRec config text (config/pipeline_load.c):
 * checks that the loader's resolved indices are what features.c and reader.c expect. As in
 * EasyRec's dbmtl_on_taobao, final_gender_code is configured but not in group "all":
 * 17 features x 16 = 272 inputs. A gauc uid_field makes user_id a 64-bit key. */
static void test_taobao_loaded_config(void) {
    static const char *names[20] = {"clk", "buy", "pid", "adgroup_id", "cate_id", "campaign_id", "customer",
                                    "brand", "user_id", "cms_segid", "cms_group_id", "final_gender_code",
                                    "age_level", "pvalue_level", "shopping_level", "occupation",
                                    "new_user_class_level", "tag_category_list", "tag_brand_list", "price"};
    static const int64_t buckets[20] = {0, 0, 10, 100000, 10000, 100000, 100000, 100000, 100000, 100,
                                        100, 10, 10, 10, 10, 10, 10, 100000, 100000, 0};
    char path[512];
    snprintf(path, sizeof path, "%s/data/taobao_easyrec_dbmtl/taobao_test_data", test_shared_dir());
    static char cfg[16384];
    int k = 0;
#define W(...) (k += snprintf(cfg + k, sizeof cfg - (size_t)k, __VA_ARGS__))
    W("model_dir: 'experiments/x'\neval_input_path: '%s'\ndata_config {\n  batch_size: 4096\n"
      "  label_fields: 'clk'\n  label_fields: 'buy'\n  input_type: CSVInput\n", path);
    for (int i = 0; i < 20; i++)
        W("  input_fields { input_name: '%s' input_type: %s }\n", names[i], (i < 2 || i == 19) ? "INT32" : "STRING");
    W("}\nfeature_config: {\n");
    for (int i = 2; i < 17; i++)
        W("  features { input_names: '%s' feature_type: IdFeature embedding_dim: 16 hash_bucket_size: %lld }\n",
          names[i], (long long)buckets[i]);
    W("  features { input_names: 'tag_category_list' feature_type: TagFeature separator: '|' "
      "hash_bucket_size: 100000 embedding_dim: 16 }\n");
    W("  features { input_names: 'tag_brand_list' feature_type: TagFeature separator: '|' "
      "hash_bucket_size: 100000 embedding_dim: 16 }\n");
    W("  features { input_names: 'price' feature_type: IdFeature embedding_dim: 16 num_buckets: 50 }\n}\n");
    W("model_config {\n  model_class: 'DBMTL'\n  feature_groups {\n    group_name: 'all'\n");
    for (int i = 2; i < 20; i++)
        if (i != 11) W("    feature_names: '%s'\n", names[i]);
    W("    wide_deep: DEEP\n  }\n  dbmtl {\n    bottom_dnn { hidden_units: [64] }\n"
      "    task_towers { tower_name: 'ctr' label_name: 'clk' loss_type: CLASSIFICATION\n"
      "      metrics_set: { auc {} }\n      metrics_set: { gauc { uid_field: 'user_id' } }\n"
      "      dnn { hidden_units: [32] } }\n"
      "    task_towers { tower_name: 'cvr' label_name: 'buy' loss_type: CLASSIFICATION\n"
      "      dnn { hidden_units: [32] } relation_tower_names: ['ctr'] relation_dnn { hidden_units: [8] } }\n"
      "  }\n}\n");
#undef W
    mt_pipeline p;
    mt_err e = {0};
    mtrec_status st = mt_pipeline_load_text("taobao.config", cfg, &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    mt_feature_plan plan;
    CHECK(mt_feature_plan_build(&p, &plan, &e) == MTREC_OK);
    CHECK(plan.n_items == 17 && plan.group_width == 272 && plan.n_tables == 17 && plan.dense_width == 0);
    CHECK(plan.n_labels == 2 && plan.n_keys == 1 && plan.key_fields[0] == 8);
    CHECK(p.features[plan.items[9].feature].input_index[0] == 12);  /* age_level after the gap */
    mt_reader *r;
    mt_reader_opts o = opts(p.data.batch_size, 0, 0, 1, 1, 2);
    CHECK(mt_reader_open(&p, &plan, p.eval_input_path, &o, &r, &e) == MTREC_OK);
    const mt_batch *b;
    long n = 0, clk = 0, key_ok = 0, uid_ok = 0;
    FILE *f = fopen(path, "r");
    char line[1 << 16];
    int rc;
    while ((rc = mt_reader_next(r, &b, &e)) == 1) {
        for (int i = 0; i < b->n_rows && f && fgets(line, sizeof line, f); i++, n++) {
            /* user_id is the 9th column of the same physical row */
            char *u = line;
            for (int c = 0; c < 8; c++) u = strchr(u, ',') + 1;
            size_t ul = strcspn(u, ",");
            key_ok += b->keys[i] == mt_fingerprint64(u, ul);
            uid_ok += b->ids[6][b->offsets[6][i]] == mt_hash_bucket(u, ul, 100000);
            clk += (long)b->labels[2 * i];
        }
    }
    if (f) fclose(f);
    CHECK(rc == 0 && n == 10000 && key_ok == 10000 && uid_ok == 10000 && clk == 533);
    mt_reader_close(r);
    mt_feature_plan_free(&plan);
    mt_pipeline_free(&p);
}

static int64_t hbs(const char *s, int64_t n) { return mt_hash_bucket(s, strlen(s), n); }

static void test_hillstrom(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/hillstrom_email/"
             "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
             test_shared_dir());
    tpipe t;
    /* input_fields in an order different from the file's columns: the header maps them */
    tp_init(&t, "visit:INT32,conversion:INT32,spend:DOUBLE,segment:STRING,history_segment:STRING,"
                "history:DOUBLE,recency:INT32,zip_code:STRING,channel:STRING,mens:INT32,womens:INT32,"
                "newbie:INT32");
    t.p.data.with_header = 1;
    tp_feature(&t, MT_FEAT_ID, "history_segment", NULL, 8)->hash_bucket_size = 1000;
    tp_feature(&t, MT_FEAT_ID, "recency", NULL, 8)->num_buckets = 13;
    tp_feature(&t, MT_FEAT_ID, "zip_code", NULL, 8)->hash_bucket_size = 100;
    tp_feature(&t, MT_FEAT_RAW, "history", NULL, 0);
    tp_label(&t, "visit");
    tp_label(&t, "conversion");
    tp_label(&t, "spend");
    mt_feature_plan plan;
    mt_err e = {0};
    CHECK(mt_feature_plan_build(&t.p, &plan, &e) == MTREC_OK);
    mt_reader *r;
    mt_reader_opts o = opts(1000, 1, 500, 11, 1, 2);
    CHECK(mt_reader_open(&t.p, &plan, path, &o, &r, &e) == MTREC_OK);
    if (e.code) fprintf(stderr, "%s\n", e.msg);
    const int64_t h6 = hbs("6) $750 - $1,000", 1000), h7 = hbs("7) $1,000 +", 1000);
    const int64_t rural = mt_hash_bucket("Rural", 5, 100);
    long n = 0, visit = 0, conv = 0, quoted = 0, nrural = 0, bad_recency = 0;
    double spend = 0, hist_min = 1e9, hist_max = 0;
    const mt_batch *b;
    int rc;
    while ((rc = mt_reader_next(r, &b, &e)) == 1) {
        for (int i = 0; i < b->n_rows; i++) {
            visit += (long)b->labels[3 * i];
            conv += (long)b->labels[3 * i + 1];
            spend += b->labels[3 * i + 2];
            int64_t hs = b->ids[0][b->offsets[0][i]];
            quoted += hs == h6 || hs == h7;
            int64_t rec = b->ids[1][b->offsets[1][i]];
            bad_recency += rec < 1 || rec > 12;
            nrural += b->ids[2][b->offsets[2][i]] == rural;
            hist_min = fmin(hist_min, b->dense[i]);
            hist_max = fmax(hist_max, b->dense[i]);
            n++;
        }
    }
    if (rc < 0) fprintf(stderr, "%s\n", e.msg);
    CHECK(rc == 0 && n == 64000);
    CHECK(visit == 9394 && conv == 578);
    CHECK_NEAR(spend / conv, 116.36, 0.01);
    CHECK(quoted == 3167);          /* "6) $750 - $1,000" and "7) $1,000 +" kept whole */
    CHECK(nrural == 9563);
    CHECK(bad_recency == 0);
    CHECK_NEAR(hist_min, 29.99, 1e-4);
    CHECK_NEAR(hist_max, 3345.93, 1e-3);
    mt_reader_close(r);
    mt_feature_plan_free(&plan);
    tp_free(&t);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mtrec_test_reader_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_sequential);
    RUN(test_shuffle_determinism);
    RUN(test_epochs);
    RUN(test_close_early);
    RUN(test_header_mapping);
    RUN(test_column_errors);
    RUN(test_taobao);
    RUN(test_taobao_loaded_config);
    RUN(test_hillstrom);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_summary();
}
