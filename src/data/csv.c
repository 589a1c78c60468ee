/* csv.c: the streaming CSV record splitter (see csv.h) and input path expansion.
 *
 * Owns: reading a file (plain or gzip, through zlib) in large blocks, splitting it into
 * records and fields, and expanding "a.csv,dir/part-*.csv" path lists. It does not type
 * values, map columns to input_fields or know about headers: that is data/features.c.
 *
 * Why by hand: libcsv and friends copy every field through a callback; here the hot path
 * is memchr over a big buffer and fields point straight into it, which is what the
 * >= 1M rows/s feature pipeline needs.
 *
 * Dialect (RFC 4180 plus the leniencies real files need):
 *  - records end at LF; a CR just before the LF (CRLF) is dropped; the last record may
 *    lack a line end; blank lines ("" or a lone CR) are skipped;
 *  - a field that starts with '"' is quoted: it may hold the separator, CR, LF, and ""
 *    for one quote; it ends at the next lone '"';
 *  - leniencies (TF decode_csv rejects these; we accept them, as Python's csv does):
 *    a '"' anywhere but the first byte of a field is an ordinary character
 *    (`ab"c` -> `ab"c`), and text after a closing quote is appended literally up to the
 *    next separator or line end (`"ab"c` -> `abc`);
 *  - a UTF-8 byte-order mark at the start of the file is dropped;
 *  - row_no counts physical records: every line end outside quotes (blank lines too), so
 *    for files without multi-line quoted fields it equals the line number.
 * An unterminated quoted field at end of file is an error. */
#include "data/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/common.h"

#define CSV_DEFAULT_BUF (1u << 20)       /* read block; grows only for longer records */
#define CSV_MAX_RECORD ((size_t)1 << 28) /* 256 MiB: beyond this a record is surely broken */
#define CSV_MAX_FIELDS (1 << 20)
#define CSV_MAX_READ (1u << 30)          /* gzread takes an unsigned, returns an int */

struct mt_csv {
    char *path;
    gzFile gz;
    char sep;
    char *buf;            /* buf[pos, end) is read but not yet consumed */
    size_t cap, pos, end;
    int eof;              /* the file has no more bytes beyond buf[end) */
    int bom_checked;
    int64_t row_no;       /* physical records consumed so far */
    /* the current row: */
    const char **field;
    int *len;
    int *soff;            /* >= 0: field lives at scratch + soff (unescaped copy) */
    int fcap;
    char *scratch;        /* unescaped copies of quoted fields of the current row */
    size_t scap, slen;
    mt_err err;           /* sticky: once next() failed it keeps failing the same way */
    int failed;
};

enum { REC_OK = 1, REC_NEED = 0, REC_ERR = -1 };

/* ------------------------------------------------------------------ open / close */

/* Internal: like mt_csv_open with an explicit initial buffer size (tests and the fuzzer
 * use tiny buffers to exercise refills and growth at every byte position). Not in csv.h
 * because no production caller needs it. */
mtrec_status mt_csv_open_bufsize(const char *path, char sep, size_t bufsize, mt_csv **out,
                                 mt_err *e);

mtrec_status mt_csv_open_bufsize(const char *path, char sep, size_t bufsize, mt_csv **out,
                                 mt_err *e) {
    if (out) *out = NULL;
    if (!path || !out) return mt_fail(e, MTREC_ERR_ARG, "mt_csv_open: NULL argument");
    if (sep == '"' || sep == '\n' || sep == '\r')
        return mt_fail(e, MTREC_ERR_ARG, "%s: invalid CSV separator 0x%02x", path,
                       (unsigned)(unsigned char)sep);
    if (bufsize < 4) bufsize = 4;
    if (bufsize > CSV_MAX_RECORD) bufsize = CSV_MAX_RECORD;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mt_fail(e, MTREC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int serr = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (serr) {
        close(fd);
        return mt_fail(e, MTREC_ERR_IO, "cannot open '%s': %s", path, strerror(serr));
    }
    mt_csv *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    }
    c->sep = sep;
    c->cap = bufsize;
    c->path = mt_strdup(path);
    c->buf = malloc(c->cap);
    /* gzdopen reads gzip (any number of members) or passes plain bytes through; it
     * decides by the gzip magic, so a ".gz" suffix is not needed and not trusted. */
    c->gz = gzdopen(fd, "rb");
    if (!c->gz) close(fd);
    if (!c->path || !c->buf || !c->gz) {
        mt_csv_close(c);
        return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    }
    gzbuffer(c->gz, 256u << 10);
    *out = c;
    return MTREC_OK;
}

mtrec_status mt_csv_open(const char *path, char sep, mt_csv **out, mt_err *e) {
    return mt_csv_open_bufsize(path, sep, CSV_DEFAULT_BUF, out, e);
}

const char *mt_csv_path(const mt_csv *c) { return c ? c->path : ""; }

void mt_csv_close(mt_csv *c) {
    if (!c) return;
    if (c->gz) gzclose_r(c->gz);
    free(c->path);
    free(c->buf);
    free(c->field);
    free(c->len);
    free(c->soff);
    free(c->scratch);
    free(c);
}

/* ------------------------------------------------------------------ buffer */

/* Move the unconsumed bytes to the front, grow the buffer if it is full, and read more.
 * Sets c->eof when the file is exhausted. 0 on success, -1 with e filled. */
static int refill(mt_csv *c, mt_err *e) {
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->end - c->pos);
        c->end -= c->pos;
        c->pos = 0;
    }
    if (c->end == c->cap) {
        if (c->cap >= CSV_MAX_RECORD) {
            mt_fail(e, MTREC_ERR_DATA, "%s:%lld: record longer than %zu bytes (unbalanced quote?)",
                    c->path, (long long)c->row_no + 1, CSV_MAX_RECORD);
            return -1;
        }
        size_t ncap = MT_MIN(c->cap * 2, CSV_MAX_RECORD);
        char *nb = realloc(c->buf, ncap);
        if (!nb) {
            mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", c->path);
            return -1;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    size_t want = MT_MIN(c->cap - c->end, (size_t)CSV_MAX_READ);
    int n = gzread(c->gz, c->buf + c->end, (unsigned)want);
    if (n < 0) {
        int zerr = 0;
        const char *msg = gzerror(c->gz, &zerr);
        mt_fail(e, MTREC_ERR_IO, "%s: read error: %s", c->path,
                zerr == Z_ERRNO ? strerror(errno) : msg);
        return -1;
    }
    if (n == 0) {
        int zerr = 0;
        const char *msg = gzerror(c->gz, &zerr);
        if (zerr != Z_OK) { /* Z_BUF_ERROR: gzip stream cut short */
            mt_fail(e, MTREC_ERR_IO, "%s: read error: %s (truncated gzip file?)", c->path, msg);
            return -1;
        }
        c->eof = 1;
    }
    c->end += (size_t)n;
    return 0;
}

/* ------------------------------------------------------------------ row storage */

static int ensure_fields(mt_csv *c, int need, mt_err *e) {
    if (need <= c->fcap) return 0;
    if (need > CSV_MAX_FIELDS) {
        mt_fail(e, MTREC_ERR_DATA, "%s:%lld: more than %d fields", c->path,
                (long long)c->row_no + 1, CSV_MAX_FIELDS);
        return -1;
    }
    int ncap = c->fcap ? c->fcap : 32;
    while (ncap < need) ncap *= 2;
    const char **f = realloc(c->field, (size_t)ncap * sizeof *f);
    if (f) c->field = f;
    int *l = realloc(c->len, (size_t)ncap * sizeof *l);
    if (l) c->len = l;
    int *s = realloc(c->soff, (size_t)ncap * sizeof *s);
    if (s) c->soff = s;
    if (!f || !l || !s) {
        mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", c->path);
        return -1;
    }
    c->fcap = ncap;
    return 0;
}

/* Append n bytes to the scratch area (grows; never shrinks until close). */
static int scratch_put(mt_csv *c, const char *p, size_t n, mt_err *e) {
    if (c->slen + n > c->scap) {
        size_t ncap = c->scap ? c->scap : 4096;
        while (ncap < c->slen + n) ncap *= 2;
        char *ns = realloc(c->scratch, ncap);
        if (!ns) {
            mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", c->path);
            return -1;
        }
        c->scratch = ns;
        c->scap = ncap;
    }
    memcpy(c->scratch + c->slen, p, n);
    c->slen += n;
    return 0;
}

/* Copy the quoted content [a, b) (which holds "" pairs) and then tail [t, te) into the
 * scratch area as field i. */
static int unescape_field(mt_csv *c, int i, const char *a, const char *b, const char *t,
                          const char *te, mt_err *e) {
    size_t start = c->slen;
    while (a < b) {
        const char *q = memchr(a, '"', (size_t)(b - a));
        if (!q) q = b;
        else q++; /* keep one quote of the pair */
        if (scratch_put(c, a, (size_t)(q - a), e)) return -1;
        a = q < b ? q + 1 : b; /* skip the second quote */
    }
    if (scratch_put(c, t, (size_t)(te - t), e)) return -1;
    c->soff[i] = (int)start;
    c->len[i] = (int)(c->slen - start);
    return 0;
}

/* ------------------------------------------------------------------ record splitting */

/* Split the record at buf[pos]. REC_OK: fields stored, pos advanced past the record;
 * REC_NEED: the record may continue past buf[end) (nothing consumed; refill and retry);
 * REC_ERR: e filled. Blank lines are handled by the caller. `le` is the first LF at or
 * after the record start (or end of data at EOF). */
static int split_record(mt_csv *c, char *le, int *n_out, mt_err *e) {
    char *const end = c->buf + c->end;
    const char sep = c->sep;
    char *fs = c->buf + c->pos;
    int nf = 0;
    c->slen = 0;
    for (;;) {
        if (nf == c->fcap && ensure_fields(c, nf + 1, e)) return REC_ERR;
        c->soff[nf] = -1;
        if (fs < end && *fs == '"') {
            /* Quoted field: find the closing quote, skipping "" pairs. */
            char *q = fs + 1, *cq;
            int escaped = 0;
            for (;;) {
                cq = memchr(q, '"', (size_t)(end - q));
                if (!cq) {
                    if (!c->eof) return REC_NEED;
                    mt_fail(e, MTREC_ERR_DATA, "%s:%lld: unterminated quoted field", c->path,
                            (long long)c->row_no + 1);
                    return REC_ERR;
                }
                if (cq + 1 == end && !c->eof) return REC_NEED;
                if (cq + 1 < end && cq[1] == '"') {
                    escaped = 1;
                    q = cq + 2;
                    continue;
                }
                break;
            }
            char *a = cq + 1; /* first byte after the closing quote */
            if (le < a) {     /* the quoted field ran past the line end we knew of */
                le = memchr(a, '\n', (size_t)(end - a));
                if (!le) {
                    if (!c->eof) return REC_NEED;
                    le = end;
                }
            }
            /* Usually the field ends right here; otherwise the tail up to the next
             * separator or line end is kept literally (lenient). */
            char *s = (a < le && *a == sep) ? a : NULL;
            char *te = a;
            int last = 0;
            if (!s && a < le) s = memchr(a, sep, (size_t)(le - a));
            if (s) te = s;
            else {
                last = 1;
                te = le;
                if (te > a && te[-1] == '\r') te--;
            }
            if (escaped || te > a) {
                if (unescape_field(c, nf, fs + 1, cq, a, te, e)) return REC_ERR;
            } else {
                c->field[nf] = fs + 1;
                c->len[nf] = (int)(cq - fs - 1);
            }
            nf++;
            if (last) break;
            fs = s + 1;
        } else {
            char *s = memchr(fs, sep, (size_t)(le - fs));
            if (s) {
                c->field[nf] = fs;
                c->len[nf++] = (int)(s - fs);
                fs = s + 1;
                continue;
            }
            char *fe = le;
            if (fe > fs && fe[-1] == '\r') fe--;
            c->field[nf] = fs;
            c->len[nf++] = (int)(fe - fs);
            break;
        }
    }
    /* Quoted copies went to scratch, which may have moved while growing: fix pointers. */
    if (c->slen)
        for (int i = 0; i < nf; i++)
            if (c->soff[i] >= 0) c->field[i] = c->scratch + c->soff[i];
    c->pos = (size_t)((le < end ? le + 1 : end) - c->buf);
    *n_out = nf;
    return REC_OK;
}

int mt_csv_next(mt_csv *c, mt_csv_row *row, mt_err *e) {
    if (!c || !row) {
        mt_fail(e, MTREC_ERR_ARG, "mt_csv_next: NULL argument");
        return -1;
    }
    if (c->failed) {
        if (e) *e = c->err;
        return -1;
    }
    for (;;) {
        if (!c->bom_checked) {
            if (c->end - c->pos < 3 && !c->eof) {
                if (refill(c, &c->err)) goto fail;
                continue;
            }
            if (c->end - c->pos >= 3 && memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0)
                c->pos += 3;
            c->bom_checked = 1;
        }
        char *p = c->buf + c->pos, *end = c->buf + c->end;
        if (p == end) {
            if (c->eof) return 0;
            if (refill(c, &c->err)) goto fail;
            continue;
        }
        char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le) {
            if (!c->eof) {
                if (refill(c, &c->err)) goto fail;
                continue;
            }
            le = end;
        }
        if (le == p || (le == p + 1 && *p == '\r')) { /* blank line */
            c->pos = (size_t)((le < end ? le + 1 : end) - c->buf);
            c->row_no++;
            continue;
        }
        int nf = 0;
        int r = split_record(c, le, &nf, &c->err);
        if (r == REC_ERR) goto fail;
        if (r == REC_NEED) {
            if (refill(c, &c->err)) goto fail;
            continue;
        }
        c->row_no++;
        row->field = c->field;
        row->len = c->len;
        row->n_fields = nf;
        row->row_no = c->row_no;
        return 1;
    }
fail:
    c->failed = 1;
    if (e) *e = c->err;
    return -1;
}

/* ------------------------------------------------------------------ path expansion */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_path(char ***v, int *n, int *cap, const char *s) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = nc;
    }
    char *d = mt_strdup(s);
    if (!d) return -1;
    (*v)[(*n)++] = d;
    return 0;
}

/* Expand one trimmed entry: an existing path is taken literally (even if it contains
 * glob characters); otherwise a pattern with * ? [ is globbed (matches sorted bytewise,
 * independent of locale); otherwise the path is missing. */
static mtrec_status expand_one(const char *ent, char ***v, int *n, int *cap, mt_err *e) {
    struct stat st;
    if (stat(ent, &st) == 0) {
        if (push_path(v, n, cap, ent)) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
        return MTREC_OK;
    }
    int err = errno;
    if (!strpbrk(ent, "*?[")) return mt_fail(e, MTREC_ERR_IO, "cannot open '%s': %s", ent, strerror(err));
    glob_t g;
    int r = glob(ent, 0, NULL, &g);
    if (r == GLOB_NOMATCH) return mt_fail(e, MTREC_ERR_IO, "no file matches '%s'", ent);
    if (r != 0) {
        if (r != GLOB_NOSPACE) globfree(&g);
        return mt_fail(e, r == GLOB_NOSPACE ? MTREC_ERR_NOMEM : MTREC_ERR_IO,
                       "cannot expand '%s': %s", ent,
                       r == GLOB_NOSPACE ? "out of memory" : "read error");
    }
    int first = *n;
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (push_path(v, n, cap, g.gl_pathv[i])) {
            globfree(&g);
            return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
        }
    globfree(&g);
    qsort(*v + first, (size_t)(*n - first), sizeof **v, cmp_str);
    return MTREC_OK;
}

mtrec_status mt_paths_expand(const char *spec, char ***paths, int *n, mt_err *e) {
    if (!paths || !n) return mt_fail(e, MTREC_ERR_ARG, "mt_paths_expand: NULL argument");
    *paths = NULL;
    *n = 0;
    if (!spec) return mt_fail(e, MTREC_ERR_ARG, "no input path given");
    char **v = NULL;
    int cnt = 0, cap = 0;
    mtrec_status st = MTREC_OK;
    char *ent = malloc(strlen(spec) + 1);
    if (!ent) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *a = p, *b = comma ? comma : p + strlen(p);
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) { /* empty entries ("a,,b", a trailing comma) are ignored */
            memcpy(ent, a, (size_t)(b - a));
            ent[b - a] = '\0';
            st = expand_one(ent, &v, &cnt, &cap, e);
            if (st != MTREC_OK) break;
        }
        if (!comma) break;
        p = comma + 1;
    }
    free(ent);
    if (st == MTREC_OK && cnt == 0) st = mt_fail(e, MTREC_ERR_ARG, "no input path given in '%s'", spec);
    if (st != MTREC_OK) {
        mt_paths_free(v, cnt);
        return st;
    }
    *paths = v;
    *n = cnt;
    return MTREC_OK;
}

void mt_paths_free(char **paths, int n) {
    if (!paths) return;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}
