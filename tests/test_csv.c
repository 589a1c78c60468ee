/* test_csv.c: the streaming CSV reader (data/csv.c) and input path expansion.
 * Most cases run at several read-buffer sizes (down to 4 bytes) so every record and
 * field boundary also falls on a refill or a buffer growth. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/csv.h"
#include "test.h"
#include "util/common.h"
#include "util/rng.h"

/* Internal entry point of csv.c (explicit initial buffer size). */
mtrec_status mt_csv_open_bufsize(const char *path, char sep, size_t bufsize, mt_csv **out,
                                 mt_err *e);

static char g_dir[256];
static const size_t k_bufsizes[] = {4, 5, 7, 16, 61, 0 /* 0 = mt_csv_open default */};

/* ------------------------------------------------------------------ helpers */

static const char *tmp_path(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

static const char *write_file(const char *name, const void *data, size_t n) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return p;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static const char *write_text(const char *name, const char *s) { return write_file(name, s, strlen(s)); }

/* Write data gzip-compressed, split into `members` concatenated gzip members. */
static const char *write_gz(const char *name, const void *data, size_t n, int members) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (f) fclose(f);
    size_t per = members > 1 ? n / (size_t)members + 1 : n;
    for (size_t off = 0; off < n; off += per) {
        gzFile gz = gzopen(p, "ab");
        if (!gz) break;
        gzwrite(gz, (const char *)data + off, (unsigned)MT_MIN(per, n - off));
        gzclose(gz);
    }
    return p;
}

/* Growing text buffer for dumps. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        b->s = realloc(b->s, nc);
        b->cap = nc;
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)k);
}

/* Read the whole file into "row_no:[f1][f2]...\n" lines; a failure appends
 * "ERR <status> <message>\n". Returns a malloc'ed string. */
static char *dump_buf(const char *path, char sep, size_t bufsize) {
    sbuf b = {0};
    sb_put(&b, "", 0);
    mt_csv *c = NULL;
    mt_err e = {0};
    mtrec_status st = bufsize ? mt_csv_open_bufsize(path, sep, bufsize, &c, &e)
                              : mt_csv_open(path, sep, &c, &e);
    if (st != MTREC_OK) {
        sb_printf(&b, "ERR %s ", mtrec_status_str(st));
        sb_put(&b, e.msg, strlen(e.msg));
        return b.s;
    }
    mt_csv_row r;
    int k;
    while ((k = mt_csv_next(c, &r, &e)) == 1) {
        sb_printf(&b, "%lld:", (long long)r.row_no);
        for (int i = 0; i < r.n_fields; i++) {
            sb_put(&b, "[", 1);
            sb_put(&b, r.field[i], (size_t)r.len[i]);
            sb_put(&b, "]", 1);
        }
        sb_put(&b, "\n", 1);
    }
    if (k < 0) {
        sb_printf(&b, "ERR %s ", mtrec_status_str(e.code));
        sb_put(&b, e.msg, strlen(e.msg));
    }
    mt_csv_close(c);
    return b.s;
}

/* Check that `text` parses to `want` with separator sep at every buffer size. */
static void check_parse(const char *text, char sep, const char *want) {
    const char *p = write_text("case.csv", text);
    for (size_t i = 0; i < sizeof k_bufsizes / sizeof *k_bufsizes; i++) {
        char *got = dump_buf(p, sep, k_bufsizes[i]);
        CHECK_MSG(strcmp(got, want) == 0, "bufsize %zu: got\n%s\nwant\n%s", k_bufsizes[i], got, want);
        free(got);
    }
}

/* ------------------------------------------------------------------ dialect */

static void test_quotes(void) {
    check_parse("a,\"b,c\",\"d\ne\",\"f\"\"g\"\nh,\"\",\"\"\"\"\n", ',',
                "1:[a][b,c][d\ne][f\"g]\n2:[h][][\"]\n");
    /* CR LF inside quotes is content; "" at both ends of a field */
    check_parse("\"x\r\ny\",\"\"\"q\"\"\"\n", ',', "1:[x\r\ny][\"q\"]\n");
    /* the separator and a quote right before the closing quote */
    check_parse("\",\",\"a\"\"\"\n", ',', "1:[,][a\"]\n");
}

static void test_lenient_quotes(void) {
    /* a quote inside an unquoted field is literal; text after a closing quote is kept */
    check_parse("ab\"c,\"x\"y,z\n", ',', "1:[ab\"c][xy][z]\n");
    check_parse("a\"\"b,\"p\"\"q\"r s\n", ',', "1:[a\"\"b][p\"qr s]\n");
    check_parse(" \"a,b\"\n", ',', "1:[ \"a][b\"]\n");
}

static void test_crlf(void) {
    check_parse("a,b\r\nc,d\r\n", ',', "1:[a][b]\n2:[c][d]\n");
    check_parse("a,\"b\"\r\n\"c\",\r\n", ',', "1:[a][b]\n2:[c][]\n");
    /* a CR that is not before LF is data */
    check_parse("a\rb,c\r\n", ',', "1:[a\rb][c]\n");
}

static void test_last_line_without_newline(void) {
    check_parse("a,b\nc,d", ',', "1:[a][b]\n2:[c][d]\n");
    check_parse("a,b\n\"c\nd\"", ',', "1:[a][b]\n2:[c\nd]\n");
    check_parse("x,y\r", ',', "1:[x][y]\n");
    check_parse("x,\"y\"\r", ',', "1:[x][y]\n");
    check_parse("x,", ',', "1:[x][]\n");
}

static void test_empty_fields(void) {
    check_parse("a,b,\n,,\n\"\",x\n,\n", ',', "1:[a][b][]\n2:[][][]\n3:[][x]\n4:[][]\n");
    check_parse("a,b,\r\n", ',', "1:[a][b][]\n");
}

static void test_separators(void) {
    const char *text = "a\tb|c;d\x01" "e\t\"f\tg|h\"\n";
    check_parse(text, '\t', "1:[a][b|c;d\x01" "e][f\tg|h]\n");
    check_parse(text, '|', "1:[a\tb][c;d\x01" "e\t\"f\tg][h\"]\n");
    check_parse(text, ';', "1:[a\tb|c][d\x01" "e\t\"f\tg|h\"]\n");
    check_parse(text, '\x01', "1:[a\tb|c;d][e\t\"f\tg|h\"]\n");
    check_parse("\"a|b\"|c||\n", '|', "1:[a|b][c][][]\n");

    mt_csv *c = NULL;
    mt_err e = {0};
    const char *p = write_text("sep.csv", "a\n");
    CHECK(mt_csv_open(p, '"', &c, &e) == MTREC_ERR_ARG && c == NULL);
    CHECK(mt_csv_open(p, '\n', &c, &e) == MTREC_ERR_ARG && c == NULL);
}

static void test_blank_lines_and_row_no(void) {
    check_parse("\n\na\n\r\n\nb\n\n", ',', "3:[a]\n6:[b]\n");
    /* a multi-line quoted field is one physical record */
    check_parse("h1,h2\n1,\"x\ny\nz\"\n2,b\n\n\"p\r\nq\",\"\n\"\n3,c", ',',
                "1:[h1][h2]\n2:[1][x\ny\nz]\n3:[2][b]\n5:[p\r\nq][\n]\n6:[3][c]\n");
    check_parse("", ',', "");
    check_parse("\n\r\n\n", ',', "");
    /* a UTF-8 byte-order mark is dropped */
    check_parse("\xEF\xBB\xBFid,v\n1,2\n", ',', "1:[id][v]\n2:[1][2]\n");
}

static void test_unterminated_quote(void) {
    char want[1024];
    const char *p = write_text("unterm.csv", "a,b\nc,d\n\ne,\"f\ng,h\n");
    snprintf(want, sizeof want, "1:[a][b]\n2:[c][d]\nERR MTREC_ERR_DATA %s:4: unterminated quoted field", p);
    for (size_t i = 0; i < sizeof k_bufsizes / sizeof *k_bufsizes; i++) {
        char *got = dump_buf(p, ',', k_bufsizes[i]);
        CHECK_MSG(strcmp(got, want) == 0, "bufsize %zu: got\n%s", k_bufsizes[i], got);
        free(got);
    }
    /* the error is sticky */
    mt_csv *c = NULL;
    mt_err e = {0};
    mt_csv_row r;
    CHECK(mt_csv_open(write_text("unterm2.csv", "\"abc"), ',', &c, &e) == MTREC_OK);
    CHECK(mt_csv_next(c, &r, &e) == -1);
    CHECK_CONTAINS(e.msg, "unterm2.csv:1: unterminated quoted field");
    mt_err_clear(&e);
    CHECK(mt_csv_next(c, &r, &e) == -1 && e.code == MTREC_ERR_DATA);
    mt_csv_close(c);
}

static void test_long_record_grows_buffer(void) {
    size_t n = 200000;
    char *text = malloc(2 * n + 64);
    size_t k = 0;
    text[k++] = '"';
    for (size_t i = 0; i < n; i++) text[k++] = (char)('a' + i % 26);
    memcpy(text + k, "\",x\n", 4);
    k += 4;
    for (size_t i = 0; i < 5000; i++) text[k++] = ',';
    text[k++] = '\n';
    const char *p = write_file("long.csv", text, k);
    mt_csv *c = NULL;
    mt_err e = {0};
    mt_csv_row r;
    CHECK(mt_csv_open_bufsize(p, ',', 8, &c, &e) == MTREC_OK);
    CHECK(mt_csv_next(c, &r, &e) == 1);
    CHECK(r.n_fields == 2 && r.len[0] == (int)n && memcmp(r.field[0], text + 1, n) == 0);
    CHECK(mt_csv_next(c, &r, &e) == 1);
    CHECK(r.n_fields == 5001 && r.row_no == 2 && r.len[5000] == 0);
    CHECK(mt_csv_next(c, &r, &e) == 0);
    mt_csv_close(c);
    free(text);
}

/* ------------------------------------------------------------------ gzip */

static void test_gzip(void) {
    /* a generated file with every dialect feature, long enough to span many reads */
    sbuf b = {0};
    mt_rng rng;
    mt_rng_seed(&rng, 7);
    for (int i = 0; i < 20000; i++) {
        sb_printf(&b, "%d,\"q,%d\"\"x\",", i, (int)mt_rng_below(&rng, 1000));
        if (i % 7 == 0) sb_put(&b, "\"multi\nline\"", 12);
        sb_put(&b, i % 3 ? "\r\n" : "\n", i % 3 ? 2 : 1);
        if (i % 11 == 0) sb_put(&b, "\n", 1);
    }
    const char *plain = write_file("g.csv", b.s, b.n);
    const char *gz1 = write_gz("g.csv.gz", b.s, b.n, 1);
    const char *gz3 = write_gz("g_members_no_suffix", b.s, b.n, 3);
    char *want = dump_buf(plain, ',', 0);
    CHECK(strncmp(want, "1:[0][q,", 8) == 0 && !strstr(want, "ERR"));
    CHECK(strstr(want, "[multi\nline]") != NULL);
    size_t sizes[] = {0, 4096, 13};
    for (int s = 0; s < 3; s++) {
        char *g1 = dump_buf(gz1, ',', sizes[s]);
        char *g3 = dump_buf(gz3, ',', sizes[s]);
        CHECK_MSG(strcmp(g1, want) == 0, "gz bufsize %zu differs", sizes[s]);
        CHECK_MSG(strcmp(g3, want) == 0, "multi-member gz bufsize %zu differs", sizes[s]);
        free(g1);
        free(g3);
    }
    free(want);

    /* a gzip file cut short is an I/O error, not a silent end of data */
    FILE *f = fopen(gz1, "rb");
    char *raw = malloc(b.n + 1024);
    size_t nraw = f ? fread(raw, 1, b.n + 1024, f) : 0;
    if (f) fclose(f);
    CHECK(nraw > 100);
    const char *cut = write_file("cut.csv.gz", raw, nraw / 2);
    char *got = dump_buf(cut, ',', 0);
    CHECK_CONTAINS(got, "ERR MTREC_ERR_IO");
    CHECK_CONTAINS(got, "cut.csv.gz");
    free(got);
    /* corrupt deflate data */
    for (size_t i = 20; i < 60 && i < nraw; i++) raw[i] ^= 0x5a;
    const char *bad = write_file("bad.csv.gz", raw, nraw);
    got = dump_buf(bad, ',', 0);
    CHECK_CONTAINS(got, "ERR MTREC_ERR_IO");
    free(got);
    free(raw);
    free(b.s);
}

/* ------------------------------------------------------------------ open errors, paths */

static void test_missing_file(void) {
    mt_csv *c = (mt_csv *)1;
    mt_err e = {0};
    const char *p = tmp_path("does_not_exist.csv");
    CHECK(mt_csv_open(p, ',', &c, &e) == MTREC_ERR_IO && c == NULL);
    char want[700];
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", p);
    CHECK_STR_EQ(e.msg, want);
    CHECK(mt_csv_open(g_dir, ',', &c, &e) == MTREC_ERR_IO && c == NULL);
    CHECK_CONTAINS(e.msg, "Is a directory");
}

static void test_paths_expand(void) {
    char sub[400];
    snprintf(sub, sizeof sub, "%s/in", g_dir);
    CHECK(mkdir(sub, 0700) == 0);
    const char *names[] = {"in/p2.csv", "in/p10.csv", "in/p1.csv", "in/x.txt", "in/[lit].csv"};
    for (int i = 0; i < 5; i++) write_text(names[i], "a\n");

    char spec[2048], want[2048];
    char **v = NULL;
    int n = -1;
    mt_err e = {0};
    snprintf(spec, sizeof spec, "  %s/in/p*.csv ,%s/in/x.txt,, %s/in/[lit].csv ", g_dir, g_dir, g_dir);
    CHECK(mt_paths_expand(spec, &v, &n, &e) == MTREC_OK);
    CHECK(n == 5);
    if (n == 5) {
        const char *order[] = {"p1.csv", "p10.csv", "p2.csv", "x.txt", "[lit].csv"};
        for (int i = 0; i < 5; i++) {
            snprintf(want, sizeof want, "%s/in/%s", g_dir, order[i]);
            CHECK_STR_EQ(v[i], want);
        }
    }
    mt_paths_free(v, n);

    /* a glob is a glob: [0-9] classes, ? */
    snprintf(spec, sizeof spec, "%s/in/p?.csv", g_dir);
    CHECK(mt_paths_expand(spec, &v, &n, &e) == MTREC_OK && n == 2);
    mt_paths_free(v, n);

    snprintf(spec, sizeof spec, "%s/in/p1.csv,%s/in/q*.csv", g_dir, g_dir);
    v = (char **)1;
    CHECK(mt_paths_expand(spec, &v, &n, &e) == MTREC_ERR_IO && v == NULL && n == 0);
    snprintf(want, sizeof want, "no file matches '%s/in/q*.csv'", g_dir);
    CHECK_STR_EQ(e.msg, want);

    snprintf(spec, sizeof spec, "%s/in/p1.csv, %s/in/nope.csv", g_dir, g_dir);
    CHECK(mt_paths_expand(spec, &v, &n, &e) == MTREC_ERR_IO);
    snprintf(want, sizeof want, "cannot open '%s/in/nope.csv': No such file or directory", g_dir);
    CHECK_STR_EQ(e.msg, want);

    CHECK(mt_paths_expand(" , ", &v, &n, &e) == MTREC_ERR_ARG);
    CHECK(mt_paths_expand("", &v, &n, &e) == MTREC_ERR_ARG);
}

/* ------------------------------------------------------------------ real data */

static void test_hillstrom(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/data/hillstrom_email/"
             "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
             test_shared_dir());
    mt_csv *c = NULL;
    mt_err e = {0};
    CHECK_MSG(mt_csv_open(p, ',', &c, &e) == MTREC_OK, "%s", e.msg);
    if (!c) return;
    mt_csv_row r;
    int k, rows = 0, bad = 0, quoted_comma = 0, seg6 = 0, seg7 = 0, visits = 0;
    int64_t last = 0;
    while ((k = mt_csv_next(c, &r, &e)) == 1) {
        rows++;
        if (r.n_fields != 12 || r.row_no != last + 1) bad++;
        last = r.row_no;
        if (r.n_fields != 12) continue;
        if (rows == 1) {
            CHECK(r.len[0] == 7 && memcmp(r.field[0], "recency", 7) == 0);
            CHECK(r.len[11] == 5 && memcmp(r.field[11], "spend", 5) == 0); /* CR dropped */
            continue;
        }
        if (memchr(r.field[1], ',', (size_t)r.len[1])) quoted_comma++;
        if (r.len[1] == 16 && memcmp(r.field[1], "6) $750 - $1,000", 16) == 0) seg6++;
        if (r.len[1] == 11 && memcmp(r.field[1], "7) $1,000 +", 11) == 0) seg7++;
        if (r.len[9] == 1 && r.field[9][0] == '1') visits++;
        if (r.len[11] > 0 && r.field[11][r.len[11] - 1] == '\r') bad++;
    }
    CHECK_MSG(k == 0, "%s", e.msg);
    CHECK(rows == 64001 && last == 64001);
    CHECK(bad == 0);
    CHECK(quoted_comma == 3167 && seg6 + seg7 == 3167 && seg6 > 0 && seg7 > 0);
    CHECK(visits == 9394); /* README: 9,394 visit positives */
    mt_csv_close(c);
}

static void test_taobao(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/data/taobao_easyrec_dbmtl/taobao_test_data", test_shared_dir());
    mt_csv *c = NULL;
    mt_err e = {0};
    CHECK_MSG(mt_csv_open(p, ',', &c, &e) == MTREC_OK, "%s", e.msg);
    if (!c) return;
    mt_csv_row r;
    int k, rows = 0, bad = 0, brand_null = 0, segid_empty = 0, tags_empty = 0, tags_multi = 0,
           clk = 0;
    while ((k = mt_csv_next(c, &r, &e)) == 1) {
        rows++;
        if (r.n_fields != 20 || r.row_no != rows) {
            bad++;
            continue;
        }
        if (r.len[7] == 4 && memcmp(r.field[7], "NULL", 4) == 0) brand_null++;
        if (r.len[9] == 0) segid_empty++;
        if (r.len[17] == 0) tags_empty++;
        if (memchr(r.field[17], '|', (size_t)r.len[17])) tags_multi++;
        if (r.field[0][0] == '1') clk++;
    }
    CHECK_MSG(k == 0, "%s", e.msg);
    CHECK(rows == 10000 && bad == 0);
    /* counts from the data README */
    CHECK(brand_null == 3161);
    CHECK(segid_empty == 425);
    CHECK(tags_empty == 4202);
    CHECK(tags_multi > 5000);
    CHECK(clk == 533);
    mt_csv_close(c);
}

/* ------------------------------------------------------------------ randomized */

/* Random bytes, biased toward the special characters: must not crash, and the result
 * must not depend on the read-buffer size. */
static void test_random_bytes(void) {
    static const char alpha[] = ",,\"\"\"\r\n\n\n\t|ab \x01";
    mt_rng rng;
    mt_rng_seed(&rng, 12345);
    int mismatches = 0, errors = 0, ok = 0;
    char data[600];
    for (int it = 0; it < 400; it++) {
        size_t n = mt_rng_below(&rng, sizeof data);
        for (size_t i = 0; i < n; i++)
            data[i] = it % 4 == 0 ? (char)mt_rng_below(&rng, 256)
                                  : alpha[mt_rng_below(&rng, sizeof alpha - 1)];
        const char *p = write_file("rand.csv", data, n);
        char sep = ",|\t\x01"[it % 4];
        char *ref = dump_buf(p, sep, 0);
        for (size_t b = 4; b < 40; b += 5) {
            char *got = dump_buf(p, sep, b);
            if (strcmp(got, ref) != 0) mismatches++;
            free(got);
        }
        if (strstr(ref, "ERR")) errors++;
        else ok++;
        free(ref);
    }
    CHECK(mismatches == 0);
    CHECK(ok > 50 && errors > 50); /* both paths were exercised */
}

/* Random tables written with RFC 4180 quoting must read back exactly. */
static void test_roundtrip(void) {
    static const char alpha[] = "ab,\"\r\n|\t x";
    mt_rng rng;
    mt_rng_seed(&rng, 99);
    int fails = 0;
    for (int it = 0; it < 200; it++) {
        char sep = ",|\t;"[it % 4];
        sbuf file = {0}, want = {0};
        sb_put(&file, "", 0);
        sb_put(&want, "", 0);
        int nrows = 1 + (int)mt_rng_below(&rng, 8);
        for (int r = 0; r < nrows; r++) {
            int nf = 1 + (int)mt_rng_below(&rng, 6);
            sb_printf(&want, "%d:", r + 1);
            for (int f = 0; f < nf; f++) {
                char v[16];
                int len = (int)mt_rng_below(&rng, sizeof v);
                for (int i = 0; i < len; i++) v[i] = alpha[mt_rng_below(&rng, sizeof alpha - 1)];
                int quote = mt_rng_below(&rng, 4) == 0 || (nf == 1 && len == 0);
                for (int i = 0; i < len; i++)
                    if (v[i] == sep || v[i] == '"' || v[i] == '\r' || v[i] == '\n') quote = 1;
                if (f) sb_put(&file, &sep, 1);
                if (quote) {
                    sb_put(&file, "\"", 1);
                    for (int i = 0; i < len; i++) sb_put(&file, v[i] == '"' ? "\"\"" : &v[i], v[i] == '"' ? 2 : 1);
                    sb_put(&file, "\"", 1);
                } else {
                    sb_put(&file, v, (size_t)len);
                }
                sb_put(&want, "[", 1);
                sb_put(&want, v, (size_t)len);
                sb_put(&want, "]", 1);
            }
            sb_put(&want, "\n", 1);
            if (r + 1 < nrows || mt_rng_below(&rng, 2)) sb_put(&file, it % 3 ? "\r\n" : "\n", it % 3 ? 2 : 1);
        }
        const char *p = write_file("rt.csv", file.s, file.n);
        for (size_t b = 0; b < 30; b += 7) {
            char *got = dump_buf(p, sep, b);
            if (strcmp(got, want.s) != 0) {
                if (!fails) fprintf(stderr, "roundtrip: got\n%s\nwant\n%s\n", got, want.s);
                fails++;
            }
            free(got);
        }
        free(file.s);
        free(want.s);
    }
    CHECK(fails == 0);
}

/* ------------------------------------------------------------------ main */

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/mtrec_csv_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_quotes);
    RUN(test_lenient_quotes);
    RUN(test_crlf);
    RUN(test_last_line_without_newline);
    RUN(test_empty_fields);
    RUN(test_separators);
    RUN(test_blank_lines_and_row_no);
    RUN(test_unterminated_quote);
    RUN(test_long_record_grows_buffer);
    RUN(test_gzip);
    RUN(test_missing_file);
    RUN(test_paths_expand);
    RUN(test_hillstrom);
    RUN(test_taobao);
    RUN(test_random_bytes);
    RUN(test_roundtrip);
    rm_rf(g_dir);
    return test_summary();
}
