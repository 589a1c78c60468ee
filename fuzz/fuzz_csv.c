/* fuzz_csv.c: libFuzzer target for the CSV reader (data/csv.c).
 *
 * Input: byte 0 selects the dialect, bytes 1.. are the file content.
 *   byte 0 one of , | TAB ; 0x01 0x00 SPACE -> that separator, plain file, default buffer;
 *   any other byte b -> separator ',', gzip-compressed if b & 1, initial read buffer
 *   {default, 4, 5, 7, 16, 61, 128, 1000}[(b >> 1) & 7] bytes (small buffers put every
 *   boundary on a refill).
 * The content goes to a temporary file, is read to the end, and every row is compared with
 * a deliberately naive byte-at-a-time reference splitter of the same dialect (see the
 * comment at the top of csv.c); any difference aborts, so the fuzzer finds logic errors,
 * not only memory errors. Build and run with fuzz/run_fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/csv.h"

mtrec_status mt_csv_open_bufsize(const char *path, char sep, size_t bufsize, mt_csv **out,
                                 mt_err *e);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_path[256];

static void cleanup(void) {
    if (g_path[0]) unlink(g_path);
}

static const char *temp_path(void) {
    if (!g_path[0]) {
        /* a tmpfs is ~10x faster than a disk for a file rewritten every run */
        const char *t = getenv("TMPDIR");
        if (!t) t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_path, sizeof g_path, "%s/fuzz_csv_XXXXXX", t);
        int fd = mkstemp(g_path);
        if (fd < 0) abort();
        close(fd);
        atexit(cleanup);
    }
    return g_path;
}

/* ------------------------------------------------------------------ reference */

typedef struct ref {
    const uint8_t *d;
    size_t n, i;
    char sep;
    long long row_no;
    char *f;           /* fields of the current row, concatenated */
    int *len, nf;
} ref;

/* Next record of the reference splitter: 1 row, 0 end, -1 unterminated quote. */
static int ref_next(ref *r) {
    const uint8_t *d = r->d;
    size_t n = r->n;
    for (;;) {
        if (r->i >= n) return 0;
        size_t p = r->i;
        if (d[p] == '\n' || (d[p] == '\r' && (p + 1 == n || d[p + 1] == '\n'))) {
            r->i = d[p] == '\n' ? p + 1 : (p + 1 == n ? n : p + 2);
            r->row_no++;
            continue;
        }
        break;
    }
    r->row_no++;
    r->nf = 0;
    size_t flen = 0;
    for (;;) {
        size_t start = flen;
        if (r->i < n && d[r->i] == '"') {
            r->i++;
            for (;;) {
                if (r->i >= n) return -1;
                if (d[r->i] == '"') {
                    if (r->i + 1 < n && d[r->i + 1] == '"') {
                        r->f[flen++] = '"';
                        r->i += 2;
                        continue;
                    }
                    r->i++;
                    break;
                }
                r->f[flen++] = (char)d[r->i++];
            }
        }
        size_t tail = flen;
        while (r->i < n && d[r->i] != (uint8_t)r->sep && d[r->i] != '\n') r->f[flen++] = (char)d[r->i++];
        int at_sep = r->i < n && d[r->i] == (uint8_t)r->sep;
        if (!at_sep && flen > tail && r->f[flen - 1] == '\r') flen--; /* CR before LF/EOF */
        r->len[r->nf++] = (int)(flen - start);
        if (at_sep) {
            r->i++;
            continue;
        }
        if (r->i < n) r->i++; /* the LF */
        return 1;
    }
}

/* ------------------------------------------------------------------ target */

static void write_input(const char *path, const uint8_t *d, size_t n, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g) abort();
        if (n && gzwrite(g, d, (unsigned)n) != (int)n) abort();
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) abort();
        if (n && fwrite(d, 1, n, f) != n) abort();
        fclose(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t bufsizes[8] = {0, 4, 5, 7, 16, 61, 128, 1000};
    if (size < 1) return 0;
    uint8_t b = data[0];
    char sep = ',';
    int gz = 0;
    size_t bufsize = 0;
    if (b && memchr(",|\t;\x01 ", b, 6)) sep = (char)b;
    else if (b == 0) sep = '\0';
    else {
        gz = b & 1;
        bufsize = bufsizes[(b >> 1) & 7];
    }
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    const char *path = temp_path();
    write_input(path, d, n, gz);

    mt_csv *c = NULL;
    mt_err e = {0};
    mtrec_status st = bufsize ? mt_csv_open_bufsize(path, sep, bufsize, &c, &e)
                              : mt_csv_open(path, sep, &c, &e);
    if (st != MTREC_OK) {
        fprintf(stderr, "open failed: %s\n", e.msg);
        abort();
    }

    ref r = {d, n, 0, sep, 0, malloc(n + 1), malloc((n + 2) * sizeof(int)), 0};
    if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0) r.i = 3;
    mt_csv_row row;
    for (;;) {
        int k = mt_csv_next(c, &row, &e);
        int rk = ref_next(&r);
        if (k != rk) {
            fprintf(stderr, "mt_csv_next=%d reference=%d at ref row %lld (%s)\n", k, rk, r.row_no, e.msg);
            abort();
        }
        if (k <= 0) {
            if (k < 0 && !strstr(e.msg, "unterminated quoted field")) abort();
            break;
        }
        if (row.row_no != r.row_no || row.n_fields != r.nf) {
            fprintf(stderr, "row %lld/%lld: %d fields, reference %d\n", (long long)row.row_no,
                    r.row_no, row.n_fields, r.nf);
            abort();
        }
        size_t off = 0;
        for (int i = 0; i < row.n_fields; i++) {
            if (row.len[i] != r.len[i] || memcmp(row.field[i], r.f + off, (size_t)r.len[i]) != 0) {
                fprintf(stderr, "row %lld field %d differs: '%.*s' vs reference '%.*s'\n",
                        (long long)row.row_no, i, row.len[i], row.field[i], r.len[i], r.f + off);
                abort();
            }
            off += (size_t)r.len[i];
        }
    }
    free(r.f);
    free(r.len);
    mt_csv_close(c);
    return 0;
}
