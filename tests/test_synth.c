/* test_synth.c: the built-in live5 data set: determinism, layout, label logic of the Bayesian
 * network, base rates, that the signal is there (and in the dependent tasks too), that ids
 * mean the same thing across rows and seeds, and gzip output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "config/pipeline.h"
#include "data/csv.h"
#include "data/features.h"
#include "data/synth.h"
#include "test.h"

static const char *const COLS[MT_SYNTH_N_COLUMNS] = {
    "is_click", "is_view", "view_costtime", "is_on_mic", "on_mic_duration", "user_id",
    "anchor_id", "gender", "age_level", "city", "device", "network", "hour", "weekday",
    "user_level", "anchor_category", "anchor_level", "anchor_tags", "user_active_days",
    "anchor_fans_log", "user_watch_minutes_7d", "anchor_live_minutes"};
enum { C_CLICK, C_VIEW, C_COST, C_MIC, C_MICDUR, C_USER, C_ANCHOR, C_GENDER, C_AGE, C_CITY,
       C_DEVICE, C_NET, C_HOUR, C_WEEKDAY, C_ULEVEL, C_CAT, C_ALEVEL, C_TAGS };

static char *tmp_path(const char *tag) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/mtrec_test_synth_%d_%s", (int)getpid(), tag);
    return p;
}

/* Whole file (plain or gzip) into memory; *n = bytes. NULL on failure. */
static char *slurp(const char *path, size_t *n) {
    gzFile g = gzopen(path, "rb");  /* reads plain files transparently too */
    if (!g) return NULL;
    size_t cap = 1 << 20, len = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (len == cap) b = realloc(b, (cap *= 2) + 1);
        int r = gzread(g, b + len, (unsigned)(cap - len));
        if (r <= 0) break;
        len += (size_t)r;
    }
    gzclose(g);
    b[len] = 0;
    *n = len;
    return b;
}

/* Split a line (modified in place) on ','; returns the field count (at most max). */
static int split(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < max) f[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static void test_determinism(void) {
    const char *a = tmp_path("a.csv"), *b = tmp_path("b.csv"), *c = tmp_path("c.csv");
    mt_err e;
    CHECK(mt_synth_write(a, 20000, 42, &e) == MTREC_OK);
    CHECK(mt_synth_write(b, 20000, 42, &e) == MTREC_OK);
    CHECK(mt_synth_write(c, 20000, 43, &e) == MTREC_OK);
    size_t na = 0, nb = 0, nc = 0;
    char *A = slurp(a, &na), *B = slurp(b, &nb), *C = slurp(c, &nc);
    CHECK(A && B && C);
    CHECK(na > 20000 * 40);
    CHECK(na == nb && memcmp(A, B, na) == 0);
    CHECK(na != nc || memcmp(A, C, na) != 0);
    /* a shorter run with the same seed is a prefix of the longer one */
    const char *d = tmp_path("d.csv");
    CHECK(mt_synth_write(d, 500, 42, &e) == MTREC_OK);
    size_t nd = 0;
    char *D = slurp(d, &nd);
    CHECK(D && nd < na && memcmp(A, D, nd) == 0);
    free(A), free(B), free(C), free(D);
    remove(a), remove(b), remove(c), remove(d);
}

static void test_layout_and_header(void) {
    const char *path = tmp_path("layout.csv");
    mt_err e;
    CHECK(mt_synth_write(path, 3000, 1, &e) == MTREC_OK);
    size_t n = 0;
    char *t = slurp(path, &n);
    CHECK(t != NULL);
    if (!t) return;
    int lines = 0, bad_cols = 0;
    char *f[64];
    char *save = NULL;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int nf = split(line, f, 64);
        if (nf != MT_SYNTH_N_COLUMNS) bad_cols++;
        if (lines == 0 && nf == MT_SYNTH_N_COLUMNS)
            for (int j = 0; j < nf; j++) CHECK_STR_EQ(f[j], COLS[j]);
        lines++;
    }
    CHECK(lines == 3001);
    CHECK(bad_cols == 0);
    CHECK(n > 0 && t[n - 1] == 0);  /* strtok replaced the final '\n' */
    free(t);
    remove(path);

    /* rows == 0: the header alone */
    CHECK(mt_synth_write(path, 0, 1, &e) == MTREC_OK);
    t = slurp(path, &n);
    CHECK(t && n == strlen(mt_synth_header()) + 1 && t[n - 1] == '\n');
    free(t);
    remove(path);

    /* errors */
    CHECK(mt_synth_write(path, -1, 1, &e) == MTREC_ERR_ARG);
    CHECK(mt_synth_write("/nonexistent-dir/x.csv", 10, 1, &e) == MTREC_ERR_IO);
    CHECK_CONTAINS(e.msg, "/nonexistent-dir/x.csv");
}

/* Reads 100k rows back from text and checks the label logic, base rates and feature effects
 * on the dependent tasks. */
static void test_labels_rates_and_signal_from_csv(void) {
    const char *path = tmp_path("rates.csv");
    mt_err e;
    const int N = 100000;
    CHECK(mt_synth_write(path, N, 7, &e) == MTREC_OK);
    size_t n = 0;
    char *t = slurp(path, &n);
    CHECK(t != NULL);
    if (!t) return;
    long clicks = 0, views = 0, mics = 0, bad = 0, rows = 0, empty_tags = 0, many_tags = 0;
    long cat_n[MT_SYNTH_N_CATEGORIES] = {0}, cat_c[MT_SYNTH_N_CATEGORIES] = {0};
    long net_c[4] = {0}, net_v[4] = {0};
    long cat_cm[MT_SYNTH_N_CATEGORIES] = {0}, cat_m[MT_SYNTH_N_CATEGORIES] = {0};
    char *f[64], *save = NULL;
    int first = 1;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) { first = 0; continue; }
        if (split(line, f, 64) != MT_SYNTH_N_COLUMNS) { bad++; continue; }
        rows++;
        int c = atoi(f[C_CLICK]), v = atoi(f[C_VIEW]), m = atoi(f[C_MIC]);
        double cost = atof(f[C_COST]), dur = atof(f[C_MICDUR]);
        if ((c != 0 && c != 1) || (v != 0 && v != 1) || (m != 0 && m != 1)) bad++;
        if (v && !c) bad++;
        if (m && !c) bad++;
        if ((cost > 0) != (v == 1)) bad++;
        if ((dur > 0) != (m == 1)) bad++;
        if (cost < 0 || dur < 0) bad++;
        clicks += c, views += v, mics += m;
        if (!*f[C_TAGS]) empty_tags++;
        int nt = *f[C_TAGS] ? 1 : 0;
        for (const char *p = f[C_TAGS]; *p; p++) nt += *p == '|';
        if (nt > MT_SYNTH_MAX_TAGS) bad++;
        if (nt >= 4) many_tags++;
        int h = atoi(f[C_HOUR]), wd = atoi(f[C_WEEKDAY]), age = atoi(f[C_AGE]);
        if (h < 0 || h > 23 || wd < 0 || wd > 6 || age < 1 || age > 7) bad++;
        int cat = -1, net = -1;
        for (int k = 0; k < MT_SYNTH_N_CATEGORIES; k++)
            if (!strcmp(f[C_CAT], mt_synth_category_name(k))) cat = k;
        for (int k = 0; k < 4; k++)
            if (!strcmp(f[C_NET], mt_synth_network_name(k))) net = k;
        if (cat < 0 || net < 0) { bad++; continue; }
        cat_n[cat]++, cat_c[cat] += c;
        if (c) net_c[net]++, net_v[net] += v, cat_cm[cat]++, cat_m[cat] += m;
    }
    free(t);
    remove(path);
    CHECK(rows == N);
    CHECK(bad == 0);
    double pc = (double)clicks / N, pv = (double)views / clicks, pm = (double)mics / clicks;
    CHECK_MSG(pc >= 0.10 && pc <= 0.20, "click rate %.4f", pc);
    CHECK_MSG(pv >= 0.40 && pv <= 0.60, "view|click %.4f", pv);
    CHECK_MSG(pm >= 0.10 && pm <= 0.20, "on_mic|click %.4f", pm);
    CHECK(empty_tags > 0 && empty_tags < N / 4);
    CHECK(many_tags > N / 10);
    /* click rate differs between categories */
    double lo = 1, hi = 0;
    for (int k = 0; k < MT_SYNTH_N_CATEGORIES; k++) {
        CHECK(cat_n[k] > 500);
        double r = (double)cat_c[k] / (double)(cat_n[k] ? cat_n[k] : 1);
        if (r < lo) lo = r;
        if (r > hi) hi = r;
    }
    CHECK_MSG(hi > 1.3 * lo, "category click rates %.4f .. %.4f", lo, hi);
    /* view | click depends on the network (wifi vs 3g) */
    double v_wifi = (double)net_v[0] / net_c[0], v_3g = (double)net_v[3] / net_c[3];
    CHECK_MSG(v_wifi > v_3g + 0.1, "view|click wifi %.3f 3g %.3f", v_wifi, v_3g);
    /* on_mic | click depends on the category (chat vs game) */
    double m_chat = (double)cat_m[1] / cat_cm[1], m_game = (double)cat_m[0] / cat_cm[0];
    CHECK_MSG(m_chat > 1.8 * m_game, "mic|click chat %.3f game %.3f", m_chat, m_game);
}

typedef struct auc_pt {
    double p;
    int y;
} auc_pt;
static int cmp_pt(const void *a, const void *b) {
    double x = ((const auc_pt *)a)->p, y = ((const auc_pt *)b)->p;
    return x < y ? -1 : x > y;
}
/* Exact ROC AUC by ranks (probabilities are continuous, ties negligible). */
static double auc(auc_pt *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_pt);
    double rank_sum = 0, np = 0;
    for (int i = 0; i < n; i++)
        if (v[i].y) rank_sum += i + 1, np++;
    double nn = n - np;
    return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

/* The ground truth: affinity and the true probabilities carry real signal, and the labels
 * are drawn from them (the oracle AUC is high but not perfect). */
static void test_signal_ground_truth(void) {
    mt_synth s;
    mt_synth_init(&s, 11);
    mt_synth_row r;
    const int N = 100000;
    auc_pt *pc = malloc(sizeof *pc * N), *pv = malloc(sizeof *pv * N), *pm = malloc(sizeof *pm * N);
    int nc = 0;
    double hi = 0, hin = 0, lo = 0, lon = 0, psum = 0;
    for (int i = 0; i < N; i++) {
        mt_synth_next(&s, &r);
        pc[i].p = r.p_click, pc[i].y = r.is_click;
        psum += r.p_click;
        if (r.is_click) {
            pv[nc].p = r.p_view, pv[nc].y = r.is_view;
            pm[nc].p = r.p_on_mic, pm[nc].y = r.is_on_mic;
            nc++;
        }
        if (r.affinity > 1) hi += r.is_click, hin++;
        if (r.affinity < -1) lo += r.is_click, lon++;
    }
    CHECK(hin > N / 20 && lon > N / 20);
    CHECK_MSG(hi / hin > 3 * (lo / lon), "click rate high-affinity %.3f low %.3f", hi / hin, lo / lon);
    /* labels follow the stated probabilities */
    CHECK_NEAR(psum / N, (double)nc / N, 0.01);
    double ac = auc(pc, N), av = auc(pv, nc), am = auc(pm, nc);
    CHECK_MSG(ac > 0.75 && ac < 0.95, "oracle click AUC %.4f", ac);
    CHECK_MSG(av > 0.62 && av < 0.95, "oracle view|click AUC %.4f", av);
    CHECK_MSG(am > 0.62 && am < 0.95, "oracle on_mic|click AUC %.4f", am);
    free(pc), free(pv), free(pm);
}

/* The same id means the same user/anchor in every row and for every seed. */
static void test_world_is_a_function_of_the_id(void) {
    enum { H = 1 << 16 };
    static int64_t uid[H], aid[H];
    static int ugender[H], uage[H], ucity[H], alevel_cat[H], atags0[H], antags[H];
    memset(uid, 0, sizeof uid), memset(aid, 0, sizeof aid);
    long u_checked = 0, a_checked = 0, mismatch = 0;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        mt_synth s;
        mt_synth_init(&s, seed);
        mt_synth_row r;
        for (int i = 0; i < 30000; i++) {
            mt_synth_next(&s, &r);
            int hu = (int)(r.user_id % H), ha = (int)(r.anchor_id % H);
            if (uid[hu] == r.user_id) {
                u_checked++;
                mismatch += ugender[hu] != r.gender || uage[hu] != r.age_level || ucity[hu] != r.city;
            } else if (!uid[hu]) {
                uid[hu] = r.user_id, ugender[hu] = r.gender, uage[hu] = r.age_level, ucity[hu] = r.city;
            }
            if (aid[ha] == r.anchor_id) {
                a_checked++;
                mismatch += alevel_cat[ha] != r.category || antags[ha] != r.n_tags ||
                            (r.n_tags && atags0[ha] != r.tags[0]);
            } else if (!aid[ha]) {
                aid[ha] = r.anchor_id, alevel_cat[ha] = r.category, antags[ha] = r.n_tags;
                atags0[ha] = r.n_tags ? r.tags[0] : -1;
            }
        }
    }
    CHECK(u_checked > 1000);
    CHECK(a_checked > 10000);
    CHECK(mismatch == 0);
}

/* Popularity is skewed: the most frequent anchor takes a large share, many appear once. */
static void test_skewed_popularity(void) {
    mt_synth s;
    mt_synth_init(&s, 5);
    mt_synth_row r;
    static int count[MT_SYNTH_N_ANCHORS];
    memset(count, 0, sizeof count);
    const int N = 100000;
    int out_of_range = 0;
    for (int i = 0; i < N; i++) {
        mt_synth_next(&s, &r);
        int64_t a = r.anchor_id - 5000000;
        if (a >= 0 && a < MT_SYNTH_N_ANCHORS) count[a]++;
        else out_of_range++;
    }
    CHECK(out_of_range == 0);
    int top = 0, distinct = 0;
    for (int a = 0; a < MT_SYNTH_N_ANCHORS; a++) {
        if (count[a] > top) top = count[a];
        distinct += count[a] > 0;
    }
    CHECK_MSG(top > N / 50, "top anchor %d rows", top);
    CHECK_MSG(distinct > 5000, "%d distinct anchors", distinct);
}

static void test_gzip_output(void) {
    const char *plain = tmp_path("g.csv"), *gz = tmp_path("g.csv.gz");
    mt_err e;
    CHECK(mt_synth_write(plain, 5000, 9, &e) == MTREC_OK);
    CHECK(mt_synth_write(gz, 5000, 9, &e) == MTREC_OK);
    /* really compressed: gzip magic and smaller */
    FILE *f = fopen(gz, "rb");
    unsigned char magic[2] = {0, 0};
    CHECK(f && fread(magic, 1, 2, f) == 2);
    if (f) fclose(f);
    CHECK(magic[0] == 0x1f && magic[1] == 0x8b);
    size_t np = 0, ng = 0;
    char *P = slurp(plain, &np), *G = slurp(gz, &ng);
    CHECK(P && G && np == ng && memcmp(P, G, np) == 0);
    free(P), free(G);
    remove(plain), remove(gz);
}

/* The rows parse under examples/live5.config through the CSV reader and the feature code
 * (every value valid for its type; labels arrive unchanged; gzip too). */
static void test_rows_parse_under_live5_config(void) {
    const char *path = tmp_path("live5.csv.gz");
    mt_err e;
    const int N = 3000;
    CHECK(mt_synth_write(path, N, 3, &e) == MTREC_OK);
    mt_pipeline p;
    mt_feature_plan plan;
    memset(&p, 0, sizeof p), memset(&plan, 0, sizeof plan);
    mtrec_status st = mt_pipeline_load("examples/live5.config", &p, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    if (st) return;
    st = mt_feature_plan_build(&p, &plan, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    mt_batch b;
    memset(&b, 0, sizeof b);
    if (!st) st = mt_batch_alloc(&plan, 64, &b, &e);
    mt_csv *c = NULL;
    if (!st) st = mt_csv_open(path, ',', &c, &e);
    CHECK_MSG(st == MTREC_OK, "%s", e.msg);
    CHECK(p.data.n_input_fields == MT_SYNTH_N_COLUMNS);
    int rows = 0, header_ok = 0, errors = 0, label_mismatch = 0, nonempty_tags = 0;
    mt_csv_row row;
    while (!st && c && mt_csv_next(c, &row, &e) == 1) {
        if (row.row_no == 1) {  /* header: names in input_fields order */
            header_ok = row.n_fields == p.data.n_input_fields;
            for (int j = 0; header_ok && j < row.n_fields; j++)
                header_ok = (int)strlen(p.data.input_fields[j].name) == row.len[j] &&
                            !memcmp(p.data.input_fields[j].name, row.field[j], (size_t)row.len[j]);
            continue;
        }
        if (b.n_rows == b.capacity) b.n_rows = 0;
        int r = b.n_rows;
        if (mt_batch_add_row(&p, &plan, &b, row.field, row.len, "synth", &e) != MTREC_OK) {
            if (errors++ == 0) fprintf(stderr, "%s\n", e.msg);
            continue;
        }
        rows++;
        for (int l = 0; l < plan.n_labels; l++) {
            int j = p.data.label_field_index[l];
            double want = strtod(row.field[j], NULL);
            if (fabs(b.labels[r * plan.n_labels + l] - want) > 1e-3 * (1 + want)) label_mismatch++;
        }
        int tags = mt_pipeline_feature_index(&p, "anchor_tags");
        for (int i = 0; i < plan.n_items; i++)
            if (plan.items[i].feature == tags && b.offsets[i][r + 1] > b.offsets[i][r]) nonempty_tags++;
    }
    CHECK(header_ok);
    CHECK(rows == N);
    CHECK(errors == 0);
    CHECK(label_mismatch == 0);
    CHECK(nonempty_tags > N / 2);
    mt_csv_close(c);
    mt_batch_free(&b);
    mt_feature_plan_free(&plan);
    mt_pipeline_free(&p);
    remove(path);
}

int main(void) {
    RUN(test_determinism);
    RUN(test_layout_and_header);
    RUN(test_labels_rates_and_signal_from_csv);
    RUN(test_signal_ground_truth);
    RUN(test_world_is_a_function_of_the_id);
    RUN(test_skewed_popularity);
    RUN(test_gzip_output);
    RUN(test_rows_parse_under_live5_config);
    return test_summary();
}
