/* predict_csv.c: `mtrec predict`: every row of the input files (in file order, then row
 * order; .gz ok) through a checkpoint's model, written as CSV:
 *   header:  reserved columns..., output columns (serve/serve_io.h names)
 *   rows:    the reserved columns' raw text (quoted when it holds ',', '"', CR or LF),
 *            then the outputs printed with %.9g (float round trip)
 * The output separator is always ',' whatever data_config.separator is. The file goes
 * through the atomic writer (temp, fsync, rename), gzip-compressed when output_path ends
 * with ".gz", so a reader never sees a partial file.
 *
 * Column handling follows the training reader (data/reader.c): without a header every row
 * must have exactly one column per input field (else "file:row: expected N columns, found
 * M"); with data_config.with_header each file's header maps columns by name. Unlike
 * training, a header may lack fields that prediction does not read (labels, sample
 * weight): they get the serving filler; fields the model reads and reserved columns must be
 * there. With ignore_error, rows with a wrong column count or a bad value are skipped (and
 * get no output row). Rows become batches through mt_batch_add_row, as everywhere else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/csv.h"
#include "io/checkpoint.h"
#include "io/fsutil.h"
#include "io/model_io.h"
#include "serve/predictor.h"
#include "serve/serve_io.h"
#include "util/common.h"

#define OUT_FLUSH ((size_t)1 << 20)

/* ---- buffered output, optionally gzip, through the atomic writer ------------------------ */
typedef struct outw {
    mt_afile f;
    int gz, zinit;
    z_stream zs;
    char *buf;
    size_t n, cap;
    unsigned char *zbuf;
} outw;

static mtrec_status ow_open(outw *w, const char *path, mt_err *e) {
    memset(w, 0, sizeof *w);
    w->f.fd = -1;
    size_t pl = strlen(path);
    w->gz = pl > 3 && strcmp(path + pl - 3, ".gz") == 0;
    w->cap = 2 * OUT_FLUSH;
    w->buf = malloc(w->cap);
    if (w->gz) w->zbuf = malloc(OUT_FLUSH);
    if (!w->buf || (w->gz && !w->zbuf)) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    if (w->gz) {
        /* windowBits 15 + 16: gzip container */
        if (deflateInit2(&w->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return mt_fail(e, MTREC_ERR_NOMEM, "%s: cannot start gzip", path);
        w->zinit = 1;
    }
    return mt_afile_open(&w->f, path, e);
}

static mtrec_status ow_deflate(outw *w, const void *data, size_t len, int flush, mt_err *e) {
    w->zs.next_in = (Bytef *)data;
    w->zs.avail_in = (uInt)len;
    for (;;) {
        w->zs.next_out = w->zbuf;
        w->zs.avail_out = (uInt)OUT_FLUSH;
        int rc = deflate(&w->zs, flush);
        if (rc == Z_STREAM_ERROR) return mt_fail(e, MTREC_ERR_INTERNAL, "%s: gzip failed", w->f.path);
        size_t have = OUT_FLUSH - w->zs.avail_out;
        if (have) {
            mtrec_status st = mt_afile_write(&w->f, w->zbuf, have, e);
            if (st != MTREC_OK) return st;
        }
        if (flush == Z_FINISH ? rc == Z_STREAM_END : (w->zs.avail_in == 0 && w->zs.avail_out != 0)) break;
    }
    return MTREC_OK;
}

static mtrec_status ow_flush(outw *w, mt_err *e) {
    if (!w->n) return MTREC_OK;
    mtrec_status st = w->gz ? ow_deflate(w, w->buf, w->n, Z_NO_FLUSH, e) : mt_afile_write(&w->f, w->buf, w->n, e);
    w->n = 0;
    return st;
}

static mtrec_status ow_put(outw *w, const char *s, size_t len, mt_err *e) {
    if (w->n + len > w->cap) {
        mtrec_status st = ow_flush(w, e);
        if (st != MTREC_OK) return st;
        if (len > w->cap) return w->gz ? ow_deflate(w, s, len, Z_NO_FLUSH, e) : mt_afile_write(&w->f, s, len, e);
    }
    memcpy(w->buf + w->n, s, len);
    w->n += len;
    return w->n >= OUT_FLUSH ? ow_flush(w, e) : MTREC_OK;
}

/* A CSV field: quoted (with doubled quotes) when it holds ',', '"', CR or LF. */
static mtrec_status ow_field(outw *w, const char *s, size_t len, mt_err *e) {
    int q = 0;
    for (size_t i = 0; i < len && !q; i++) q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!q) return ow_put(w, s, len, e);
    mtrec_status st = ow_put(w, "\"", 1, e);
    size_t from = 0;
    for (size_t i = 0; i < len && st == MTREC_OK; i++)
        if (s[i] == '"') {
            st = ow_put(w, s + from, i + 1 - from, e);  /* through the quote, then one more */
            if (st == MTREC_OK) st = ow_put(w, "\"", 1, e);
            from = i + 1;
        }
    if (st == MTREC_OK) st = ow_put(w, s + from, len - from, e);
    if (st == MTREC_OK) st = ow_put(w, "\"", 1, e);
    return st;
}

static mtrec_status ow_commit(outw *w, mt_err *e) {
    mtrec_status st = ow_flush(w, e);
    if (st == MTREC_OK && w->gz) st = ow_deflate(w, NULL, 0, Z_FINISH, e);
    if (st == MTREC_OK) st = mt_afile_commit(&w->f, e);
    return st;
}

static void ow_free(outw *w) {
    mt_afile_abort(&w->f);  /* no-op after a commit */
    if (w->zinit) deflateEnd(&w->zs);
    free(w->buf);
    free(w->zbuf);
    memset(w, 0, sizeof *w);
}

/* ---- the prediction run ----------------------------------------------------------------- */
typedef struct pcsv {
    const mt_pipeline *p;
    mt_model *m;
    mt_serve_io io;
    mt_batch b;
    int *rc; int n_rc;              /* reserved columns: input field indices */
    char **rc_names;
    char *needed;                   /* [n_fields]: read by the model or reserved */
    int *col_of;                    /* [n_fields]: column of each field in the current file, -1 = filler */
    const char **text; int *len;    /* [n_fields] */
    char *rbuf; size_t rn, rcap;    /* reserved text of the batch's rows */
    size_t *roff;                   /* [B * n_rc + 1] offsets into rbuf */
    float *outv;                    /* [B * n_outputs] */
    outw w;
    int64_t rows;
} pcsv;

static mtrec_status parse_reserved(pcsv *c, const char *spec, mt_err *e) {
    if (!spec || !*spec) return MTREC_OK;
    int cap = 1;
    for (const char *s = spec; *s; s++) cap += *s == ',';
    c->rc = calloc((size_t)cap, sizeof *c->rc);
    c->rc_names = calloc((size_t)cap, sizeof *c->rc_names);
    if (!c->rc || !c->rc_names) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    const char *s = spec;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t')) { s++; n--; }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        char *name = mt_strndup(s, n);
        if (!name) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
        int j = mt_pipeline_input_index(c->p, name);
        c->rc_names[c->n_rc] = name;
        c->rc[c->n_rc++] = j;
        if (j < 0)
            return mt_fail(e, MTREC_ERR_ARG, "reserved column '%s' is not an input field of %s", name,
                           c->p->path ? c->p->path : "the pipeline");
        if (!end) break;
        s = end + 1;
    }
    return MTREC_OK;
}

/* Forward the batch and write its rows. */
static mtrec_status flush_batch(pcsv *c, mt_err *e) {
    int B = c->b.n_rows, no = c->io.n_outputs;
    if (B == 0) return MTREC_OK;
    mtrec_status st = mt_model_forward(c->m, &c->b, 0, e);
    if (st != MTREC_OK) return st;
    mt_serve_outputs(c->m, B, c->outv, (size_t)no);
    char num[40];
    for (int r = 0; r < B && st == MTREC_OK; r++) {
        int first = 1;
        for (int k = 0; k < c->n_rc && st == MTREC_OK; k++) {
            size_t a = c->roff[(size_t)r * c->n_rc + k], z = c->roff[(size_t)r * c->n_rc + k + 1];
            if (!first) st = ow_put(&c->w, ",", 1, e);
            if (st == MTREC_OK) st = ow_field(&c->w, c->rbuf + a, z - a, e);
            first = 0;
        }
        for (int j = 0; j < no && st == MTREC_OK; j++) {
            int n = snprintf(num, sizeof num, "%s%.9g", first ? "" : ",", (double)c->outv[(size_t)r * no + j]);
            first = 0;
            st = ow_put(&c->w, num, (size_t)n, e);
        }
        if (st == MTREC_OK) st = ow_put(&c->w, "\n", 1, e);
    }
    c->rows += B;
    c->b.n_rows = 0;
    c->rn = 0;
    return st;
}

/* Map fields to the header's columns (BOM on the first column tolerated). */
static mtrec_status map_header(pcsv *c, const char *path, const mt_csv_row *h, mt_err *e) {
    const mt_pipeline *p = c->p;
    for (int j = 0; j < p->data.n_input_fields; j++) {
        const char *name = p->data.input_fields[j].name;
        size_t nl = strlen(name);
        c->col_of[j] = -1;
        for (int k = 0; k < h->n_fields && c->col_of[j] < 0; k++) {
            const char *f = h->field[k];
            int fl = h->len[k];
            if (k == 0 && fl >= 3 && memcmp(f, "\xEF\xBB\xBF", 3) == 0) { f += 3; fl -= 3; }
            if ((size_t)fl == nl && memcmp(f, name, nl) == 0) c->col_of[j] = k;
        }
        if (c->col_of[j] < 0 && c->needed[j])
            return mt_fail(e, MTREC_ERR_DATA, "%s:%lld: header has no column '%s' (input field #%d)", path,
                           (long long)h->row_no, name, j);
    }
    return MTREC_OK;
}

/* Append row r's reserved texts to rbuf. */
static mtrec_status keep_reserved(pcsv *c, int r, mt_err *e) {
    for (int k = 0; k < c->n_rc; k++) {
        int j = c->rc[k];
        size_t n = (size_t)c->len[j];
        if (c->rn + n > c->rcap) {
            size_t cap = c->rcap ? c->rcap : 4096;
            while (cap < c->rn + n) cap *= 2;
            char *nb = realloc(c->rbuf, cap);
            if (!nb) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory keeping reserved columns");
            c->rbuf = nb;
            c->rcap = cap;
        }
        if (n) memcpy(c->rbuf + c->rn, c->text[j], n);
        c->rn += n;
        c->roff[(size_t)r * c->n_rc + k + 1] = c->rn;
    }
    return MTREC_OK;
}

static mtrec_status predict_file(pcsv *c, const char *path, int64_t *skipped, mt_err *e) {
    const mt_pipeline *p = c->p;
    int nf = p->data.n_input_fields;
    mt_csv *csv = NULL;
    mtrec_status st = mt_csv_open(path, p->data.separator ? p->data.separator : ',', &csv, e);
    if (st != MTREC_OK) return st;
    int n_cols = nf;
    for (int j = 0; j < nf; j++) c->col_of[j] = j;
    mt_csv_row row;
    int k;
    if (p->data.with_header) {
        k = mt_csv_next(csv, &row, e);
        if (k < 0) st = e ? e->code : MTREC_ERR_DATA;
        else if (k == 0) { mt_csv_close(csv); return MTREC_OK; }
        else if ((st = map_header(c, path, &row, e)) == MTREC_OK) n_cols = row.n_fields;
    }
    char where[4200];
    while (st == MTREC_OK && (k = mt_csv_next(csv, &row, e)) != 0) {
        if (k < 0) { st = e ? e->code : MTREC_ERR_DATA; break; }
        if (row.n_fields != n_cols) {
            if (p->data.ignore_error) { (*skipped)++; continue; }
            st = mt_fail(e, MTREC_ERR_DATA, "%s:%lld: expected %d columns, found %d", path,
                         (long long)row.row_no, n_cols, row.n_fields);
            break;
        }
        for (int j = 0; j < nf; j++) {
            int col = c->col_of[j];
            if (col >= 0) {
                c->text[j] = row.field[col];
                c->len[j] = row.len[col];
            } else {
                const char *f = mt_serve_filler(p, j);
                c->text[j] = f ? f : "";
                c->len[j] = f ? (int)strlen(f) : 0;
            }
        }
        snprintf(where, sizeof where, "%s:%lld", path, (long long)row.row_no);
        int r = c->b.n_rows;
        st = mt_batch_add_row(p, &c->m->plan, &c->b, c->text, c->len, where, e);
        if (st == MTREC_ERR_DATA && p->data.ignore_error) { (*skipped)++; st = MTREC_OK; continue; }
        if (st != MTREC_OK) break;
        if ((st = keep_reserved(c, r, e)) != MTREC_OK) break;
        if (c->b.n_rows == c->b.capacity) st = flush_batch(c, e);
    }
    mt_csv_close(csv);
    return st;
}

mtrec_status mt_predict_csv(const mt_pipeline *p, const char *checkpoint_path, const char *input_spec,
                            const char *output_path, const char *reserved_cols, int threads,
                            int64_t *rows, mt_err *e) {
    if (rows) *rows = 0;
    if (!p) return mt_fail(e, MTREC_ERR_ARG, "predict: no pipeline");
    if (!input_spec || !*input_spec) return mt_fail(e, MTREC_ERR_ARG, "predict: no input path (--input_path)");
    if (!output_path || !*output_path) return mt_fail(e, MTREC_ERR_ARG, "predict: no output path (--output_path)");
    pcsv c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.w.f.fd = -1;
    mt_mm *mm = NULL;
    char **paths = NULL;
    int n_paths = 0, nf = p->data.n_input_fields;
    int64_t skipped = 0;
    mtrec_status st = parse_reserved(&c, reserved_cols, e);
    if (st != MTREC_OK) goto done;
    int B = p->data.batch_size > 0 ? p->data.batch_size : 32;
    if ((st = mt_model_open_checkpoint(p, checkpoint_path, B, threads, &mm, &c.m, NULL, e)) != MTREC_OK)
        goto done;
    if ((st = mt_serve_io_build(p, &c.io, e)) != MTREC_OK) goto done;
    if ((st = mt_batch_alloc(&c.m->plan, B, &c.b, e)) != MTREC_OK) goto done;
    c.needed = calloc((size_t)(nf > 0 ? nf : 1), 1);
    c.col_of = calloc((size_t)(nf > 0 ? nf : 1), sizeof *c.col_of);
    c.text = calloc((size_t)(nf > 0 ? nf : 1), sizeof *c.text);
    c.len = calloc((size_t)(nf > 0 ? nf : 1), sizeof *c.len);
    c.roff = calloc((size_t)B * (size_t)c.n_rc + 1, sizeof *c.roff);
    c.outv = malloc((size_t)B * (size_t)(c.io.n_outputs > 0 ? c.io.n_outputs : 1) * sizeof *c.outv);
    if (!c.needed || !c.col_of || !c.text || !c.len || !c.roff || !c.outv) {
        st = mt_fail(e, MTREC_ERR_NOMEM, "out of memory in predict");
        goto done;
    }
    for (int i = 0; i < c.io.n_inputs; i++) c.needed[c.io.input_field[i]] = 1;
    for (int k = 0; k < c.n_rc; k++) c.needed[c.rc[k]] = 1;
    if ((st = mt_paths_expand(input_spec, &paths, &n_paths, e)) != MTREC_OK) goto done;
    if ((st = ow_open(&c.w, output_path, e)) != MTREC_OK) goto done;
    /* header */
    for (int k = 0; k < c.n_rc && st == MTREC_OK; k++) {
        if (k) st = ow_put(&c.w, ",", 1, e);
        if (st == MTREC_OK) st = ow_field(&c.w, c.rc_names[k], strlen(c.rc_names[k]), e);
    }
    for (int j = 0; j < c.io.n_outputs && st == MTREC_OK; j++) {
        if (j || c.n_rc) st = ow_put(&c.w, ",", 1, e);
        if (st == MTREC_OK) st = ow_field(&c.w, c.io.output_names[j], strlen(c.io.output_names[j]), e);
    }
    if (st == MTREC_OK) st = ow_put(&c.w, "\n", 1, e);
    for (int i = 0; i < n_paths && st == MTREC_OK; i++) st = predict_file(&c, paths[i], &skipped, e);
    if (st == MTREC_OK) st = flush_batch(&c, e);
    if (st == MTREC_OK) st = ow_commit(&c.w, e);
    if (st == MTREC_OK && rows) *rows = c.rows;
done:
    ow_free(&c.w);
    mt_paths_free(paths, n_paths);
    for (int k = 0; k < c.n_rc; k++) free(c.rc_names[k]);
    free(c.rc_names);
    free(c.rc);
    free(c.needed);
    free(c.col_of);
    free((void *)c.text);
    free(c.len);
    free(c.rbuf);
    free(c.roff);
    free(c.outv);
    mt_batch_free(&c.b);
    mt_serve_io_free(&c.io);
    mt_model_free(c.m);
    mt_mm_free(mm);
    return st;
}
