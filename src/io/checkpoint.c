/* checkpoint.c: mtrec checkpoint files and the model_dir index (see checkpoint.h).
 *
 * Container: safetensors. [u64 LE header length N][N bytes JSON header, space-padded to a
 * multiple of 8][data section]. The header maps each tensor name to
 *   {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}   (offsets in the data
 * section) and "__metadata__" to string key/values: the caller's plus "format":
 * "mtrec-ckpt-1" and "crc32": "0x%08x" (zlib crc32 of the whole data section).
 * Tensors are float32 on disk, or bfloat16 when the writer asks (mt_tensor_ref.bf16: bf16
 * exports), converted from/to mt_real; bf16 is rounded to nearest even, as oneDNN does.
 *
 * Reading maps the file (mmap) and copies each tensor once into the caller's buffer; the
 * header is parsed with cJSON. Files written by other safetensors writers (e.g. Python's
 * safetensors.numpy.save_file) are accepted when all tensors are F32; their CRC is checked
 * only when they carry a "crc32" key. Writing streams header + data through the atomic
 * writer of fsutil.c (no copy of the tensors in the float build).
 *
 * The index is TensorFlow's CheckpointState text format as EasyRec leaves it in model_dir:
 *   model_checkpoint_path: "model.ckpt-5"
 *   all_model_checkpoint_paths: "model.ckpt-3"   (oldest first, latest last)
 * The text is simple enough that it is written and scanned by hand here. */
#include "io/checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/fsutil.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c assumes a little-endian host (the file format is little-endian)"
#endif

#define CK_FORMAT "mtrec-ckpt-1"
#define CK_MAX_DIMS 8                      /* on disk; writers use at most 4 (mt_tensor_ref) */
#define CK_MAX_HEADER ((uint64_t)100 << 20) /* same limit as the safetensors library */
#define CK_MAX_BYTES ((uint64_t)1 << 53)   /* JSON numbers stay exact below 2^53 */
#define CK_CONV_CHUNK 65536                /* elements per conversion chunk (MT_DOUBLE) */

typedef struct ck_tensor {
    const char *name;  /* points into the cJSON tree */
    int ndim;
    int64_t shape[CK_MAX_DIMS];
    uint64_t begin, end, numel;
    int bf16;          /* dtype BF16 (2 bytes per element), else F32 */
} ck_tensor;

struct mt_ckpt {
    char *path;
    unsigned char *map;  /* whole file, read-only mapping */
    size_t map_len;
    const unsigned char *data;  /* data section inside map */
    uint64_t data_len;
    cJSON *root;
    const cJSON *meta;  /* "__metadata__" or NULL */
    ck_tensor *t;       /* in data order */
    ck_tensor **by_name;
    int n;
};

/* ---------------------------------------------------------------- shapes & helpers */

/* "[272,512]" into buf. */
static const char *shape_str(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t k = 0;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? "," : "", shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

/* Element count of a shape, or -1 when it is negative or its byte size reaches 2^53. */
static int64_t shape_numel(const int64_t *shape, int ndim) {
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        uint64_t d = (uint64_t)shape[i];
        if (d != 0 && n > CK_MAX_BYTES / 4 / d) return -1;
        n *= d;
    }
    return (int64_t)n;
}

/* ---------------------------------------------------------------- writing */

/* Header JSON for the given tensors/metadata and data CRC, followed by space padding so
 * that 8 + length is a multiple of 8. Returns malloc'ed text, its padded length in *len. */
static char *build_header(const mt_tensor_ref *t, int n, const mt_kv *meta, int n_meta,
                          uint32_t crc, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    char *txt = NULL, *out = NULL;
    if (!root) return NULL;
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_AddObjectToObject(root, t[i].name);
        cJSON *shape = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
        if (!shape || !cJSON_AddStringToObject(o, "dtype", t[i].bf16 ? "BF16" : "F32")) goto done;
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON *num = cJSON_CreateNumber((double)t[i].shape[d]);
            if (!num || !cJSON_AddItemToArray(shape, num)) goto done;
        }
        uint64_t bytes = (uint64_t)shape_numel(t[i].shape, t[i].ndim) * (t[i].bf16 ? 2 : 4);
        double offs[2] = {(double)off, (double)(off + bytes)};
        cJSON *oa = cJSON_CreateDoubleArray(offs, 2);
        if (!oa || !cJSON_AddItemToObject(o, "data_offsets", oa)) goto done;
        off += bytes;
    }
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    if (!m) goto done;
    for (int i = 0; i < n_meta; i++)
        if (!cJSON_AddStringToObject(m, meta[i].key, meta[i].value)) goto done;
    char crc_txt[16];
    snprintf(crc_txt, sizeof crc_txt, "0x%08x", (unsigned)crc); /* fixed width: see write */
    if (!cJSON_AddStringToObject(m, "format", CK_FORMAT) ||
        !cJSON_AddStringToObject(m, "crc32", crc_txt))
        goto done;
    txt = cJSON_PrintUnformatted(root);
    if (!txt) goto done;
    size_t tl = strlen(txt), padded = (tl + 7) & ~(size_t)7;
    out = malloc(padded + 1);
    if (out) {
        memcpy(out, txt, tl);
        memset(out + tl, ' ', padded - tl);
        out[padded] = '\0';
        *len = padded;
    }
done:
    free(txt);
    cJSON_Delete(root);
    return out;
}

/* Argument checks for mt_ckpt_write; names the offending tensor/key. */
static mtrec_status check_write_args(const char *path, const mt_tensor_ref *t, int n,
                                     const mt_kv *meta, int n_meta, mt_err *e) {
    if (!path || !*path) return mt_fail(e, MTREC_ERR_ARG, "checkpoint write: empty path");
    if (n < 0 || (n > 0 && !t) || n_meta < 0 || (n_meta > 0 && !meta))
        return mt_fail(e, MTREC_ERR_ARG, "%s: bad tensor or metadata list", path);
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = t[i].name;
        if (!nm || !*nm) return mt_fail(e, MTREC_ERR_ARG, "%s: tensor %d has no name", path, i);
        if (strcmp(nm, "__metadata__") == 0)
            return mt_fail(e, MTREC_ERR_ARG, "%s: '__metadata__' is not a tensor name", path);
        if (t[i].ndim < 0 || t[i].ndim > 4)
            return mt_fail(e, MTREC_ERR_ARG, "%s: tensor '%s': ndim %d not in 0..4", path, nm,
                           t[i].ndim);
        int64_t numel = shape_numel(t[i].shape, t[i].ndim);
        if (numel < 0)
            return mt_fail(e, MTREC_ERR_ARG, "%s: tensor '%s': bad shape", path, nm);
        if (numel > 0 && !t[i].data)
            return mt_fail(e, MTREC_ERR_ARG, "%s: tensor '%s': no data", path, nm);
        total += (uint64_t)numel * (t[i].bf16 ? 2 : 4);
        if (total >= CK_MAX_BYTES)
            return mt_fail(e, MTREC_ERR_ARG, "%s: tensors too large for one file", path);
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, nm) == 0)
                return mt_fail(e, MTREC_ERR_ARG, "%s: duplicate tensor name '%s'", path, nm);
    }
    for (int i = 0; i < n_meta; i++) {
        const char *k = meta[i].key;
        if (!k || !meta[i].value)
            return mt_fail(e, MTREC_ERR_ARG, "%s: metadata %d has no key or value", path, i);
        if (strcmp(k, "format") == 0 || strcmp(k, "crc32") == 0)
            return mt_fail(e, MTREC_ERR_ARG, "%s: metadata key '%s' is reserved", path, k);
        for (int j = 0; j < i; j++)
            if (strcmp(meta[j].key, k) == 0)
                return mt_fail(e, MTREC_ERR_ARG, "%s: duplicate metadata key '%s'", path, k);
    }
    return MTREC_OK;
}

/* float -> bfloat16, round to nearest even (NaN stays a quiet NaN), as oneDNN's reorder. */
static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Streams the data section (float32, or bfloat16 for tensors that ask) into f, accumulating
 * its CRC. Converted tensors go through a chunk buffer; float32 ones (float build) are
 * written straight from the caller's memory. */
static mtrec_status write_data(mt_afile *f, const mt_tensor_ref *t, int n, uint32_t *crc_out,
                               mt_err *e) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    float *buf = NULL;
    mtrec_status st = MTREC_OK;
    for (int i = 0; i < n && st == MTREC_OK; i++) {
        size_t numel = (size_t)shape_numel(t[i].shape, t[i].ndim);
        if (numel == 0) continue;
#ifndef MT_DOUBLE
        if (!t[i].bf16) {
            crc = crc32_z(crc, (const Bytef *)t[i].data, numel * sizeof(float));
            st = mt_afile_write(f, t[i].data, numel * sizeof(float), e);
            continue;
        }
#endif
        if (!buf && !(buf = malloc(sizeof(float) * CK_CONV_CHUNK))) {
            st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", f->path);
            break;
        }
        for (size_t s = 0; s < numel && st == MTREC_OK; s += CK_CONV_CHUNK) {
            size_t m = MT_MIN((size_t)CK_CONV_CHUNK, numel - s), bytes;
            if (t[i].bf16) {
                uint16_t *h = (uint16_t *)buf;
                for (size_t k = 0; k < m; k++) h[k] = f32_to_bf16((float)t[i].data[s + k]);
                bytes = m * 2;
            } else {
                for (size_t k = 0; k < m; k++) buf[k] = (float)t[i].data[s + k];
                bytes = m * sizeof(float);
            }
            crc = crc32_z(crc, (const Bytef *)buf, bytes);
            st = mt_afile_write(f, buf, bytes, e);
        }
    }
    free(buf);
    *crc_out = (uint32_t)crc;
    return st;
}

/* Header first with a placeholder CRC, then the data while its CRC is computed, then the
 * header again with the real CRC (same length: the CRC is printed fixed-width), so the
 * tensors are read from memory only once. */
mtrec_status mt_ckpt_write(const char *path, const mt_tensor_ref *t, int n, const mt_kv *meta,
                           int n_meta, mt_err *e) {
    mtrec_status st = check_write_args(path, t, n, meta, n_meta, e);
    if (st != MTREC_OK) return st;
    size_t hlen = 0, hlen2 = 0;
    char *hdr = build_header(t, n, meta, n_meta, 0, &hlen), *hdr2 = NULL;
    if (!hdr) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory building header", path);
    mt_afile f;
    if ((st = mt_afile_open(&f, path, e)) != MTREC_OK) {
        free(hdr);
        return st;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    uint32_t crc = 0;
    st = mt_afile_write(&f, lenbuf, 8, e);
    if (st == MTREC_OK) st = mt_afile_write(&f, hdr, hlen, e);
    if (st == MTREC_OK) st = write_data(&f, t, n, &crc, e);
    if (st == MTREC_OK) {
        hdr2 = build_header(t, n, meta, n_meta, crc, &hlen2);
        if (!hdr2) st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory building header", path);
        else if (hlen2 != hlen)
            st = mt_fail(e, MTREC_ERR_INTERNAL, "%s: header length changed", path);
        else st = mt_afile_pwrite(&f, hdr2, hlen2, 8, e);
    }
    free(hdr);
    free(hdr2);
    if (st != MTREC_OK) {
        mt_afile_abort(&f);
        return st;
    }
    return mt_afile_commit(&f, e);
}

/* ---------------------------------------------------------------- reading */

/* Non-negative integral JSON number below 2^53 into *out. */
static int json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= (double)CK_MAX_BYTES)) return 0;
    uint64_t u = (uint64_t)v;
    if ((double)u != v) return 0;
    *out = u;
    return 1;
}

/* Fills ct from one header entry; message names the tensor. */
static mtrec_status parse_entry(const char *path, const cJSON *o, ck_tensor *ct, mt_err *e) {
    const char *nm = o->string;
    ct->name = nm;
    if (!cJSON_IsObject(o))
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s': header entry is not an object",
                       path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path,
                       nm);
    ct->bf16 = strcmp(dt->valuestring, "BF16") == 0;
    if (strcmp(dt->valuestring, "F32") != 0 && !ct->bf16)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: tensor '%s' has dtype %s; mtrec reads only F32 and BF16", path, nm,
                       dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > CK_MAX_DIMS)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s' has %d dimensions (max %d)",
                       path, nm, nd, CK_MAX_DIMS);
    ct->ndim = nd;
    int d = 0;
    for (const cJSON *x = sh->child; x; x = x->next, d++) {
        uint64_t v;
        if (!json_u64(x, &v))
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s': bad shape entry %d", path,
                           nm, d);
        ct->shape[d] = (int64_t)v;
    }
    int64_t numel = shape_numel(ct->shape, nd);
    if (numel < 0)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s': shape too large", path, nm);
    ct->numel = (uint64_t)numel;
    if (cJSON_GetArraySize(of) != 2 || !json_u64(of->child, &ct->begin) ||
        !json_u64(of->child->next, &ct->end) || ct->end < ct->begin)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s': bad data_offsets", path, nm);
    uint64_t es = ct->bf16 ? 2 : 4;
    if (ct->end - ct->begin != ct->numel * es) {
        char sb[160];
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] span %" PRIu64
                       " bytes, shape %s needs %" PRIu64,
                       path, nm, ct->begin, ct->end, ct->end - ct->begin,
                       shape_str(sb, sizeof sb, ct->shape, nd), ct->numel * es);
    }
    return MTREC_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const ck_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(ck_tensor *const *)a)->name, (*(ck_tensor *const *)b)->name);
}

/* Header → tensor table; checks sizes, ranges, contiguity, duplicates, metadata, CRC. */
static mtrec_status parse_header(mt_ckpt *c, const char *hdr, size_t hlen, mt_err *e) {
    const char *path = c->path;
    const char *end = NULL;
    c->root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!c->root) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: header is not valid JSON (at byte %zu of %zu): corrupt file", path,
                       at, hlen);
    }
    for (const char *p = end; p && p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return mt_fail(e, MTREC_ERR_CHECKPOINT,
                           "%s: header is not valid JSON (unexpected bytes after the object at "
                           "byte %zu of %zu): corrupt file",
                           path, (size_t)(p - hdr), hlen);
    if (!cJSON_IsObject(c->root))
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: header is not a JSON object", path);
    int n = 0;
    for (const cJSON *o = c->root->child; o; o = o->next)
        if (strcmp(o->string, "__metadata__") != 0) n++;
    c->t = calloc((size_t)(n ? n : 1), sizeof *c->t);
    c->by_name = calloc((size_t)(n ? n : 1), sizeof *c->by_name);
    if (!c->t || !c->by_name) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    c->n = n;
    uint64_t need = 0;
    int i = 0;
    for (const cJSON *o = c->root->child; o; o = o->next) {
        if (strcmp(o->string, "__metadata__") == 0) {
            if (c->meta)
                return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: two __metadata__ entries", path);
            c->meta = o;
            continue;
        }
        mtrec_status st = parse_entry(path, o, &c->t[i], e);
        if (st != MTREC_OK) return st;
        need += c->t[i].numel * (c->t[i].bf16 ? 2 : 4);
        i++;
    }
    if (need > c->data_len)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: truncated: header says %" PRIu64 " bytes of data, file has %" PRIu64,
                       path, need, c->data_len);
    for (i = 0; i < n; i++)
        if (c->t[i].end > c->data_len)
            return mt_fail(e, MTREC_ERR_CHECKPOINT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                           "] out of range (data section is %" PRIu64 " bytes)",
                           path, c->t[i].name, c->t[i].begin, c->t[i].end, c->data_len);
    qsort(c->t, (size_t)n, sizeof *c->t, cmp_begin);
    uint64_t at = 0;
    for (i = 0; i < n; i++) {
        if (c->t[i].begin != at)
            return mt_fail(e, MTREC_ERR_CHECKPOINT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                           "] overlap or leave a gap (expected begin %" PRIu64 ")",
                           path, c->t[i].name, c->t[i].begin, c->t[i].end, at);
        at = c->t[i].end;
    }
    if (at != c->data_len)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: %" PRIu64 " bytes of data after the last tensor: corrupt file", path,
                       c->data_len - at);
    for (i = 0; i < n; i++) c->by_name[i] = &c->t[i];
    qsort(c->by_name, (size_t)n, sizeof *c->by_name, cmp_name);
    for (i = 1; i < n; i++)
        if (strcmp(c->by_name[i - 1]->name, c->by_name[i]->name) == 0)
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: duplicate tensor '%s'", path,
                           c->by_name[i]->name);
    if (c->meta) {
        if (!cJSON_IsObject(c->meta))
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: __metadata__ is not an object", path);
        for (const cJSON *m = c->meta->child; m; m = m->next)
            if (!cJSON_IsString(m))
                return mt_fail(e, MTREC_ERR_CHECKPOINT,
                               "%s: metadata '%s' is not a string", path, m->string);
    }
    return MTREC_OK;
}

/* Format and checksum policy: an mtrec file must say format mtrec-ckpt-1 and carry a crc32;
 * any file with a crc32 has it verified. */
static mtrec_status check_crc(mt_ckpt *c, mt_err *e) {
    const char *fmt = mt_ckpt_meta(c, "format"), *crc_txt = mt_ckpt_meta(c, "crc32");
    if (fmt && strncmp(fmt, "mtrec-ckpt-", 11) == 0 && strcmp(fmt, CK_FORMAT) != 0)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: format '%s' is not supported (this mtrec reads %s)", c->path, fmt,
                       CK_FORMAT);
    if (fmt && strcmp(fmt, CK_FORMAT) == 0 && !crc_txt)
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: crc32 missing from metadata", c->path);
    if (!crc_txt) return MTREC_OK;
    int hex = crc_txt[0] == '0' && (crc_txt[1] == 'x' || crc_txt[1] == 'X');
    char *endp = NULL;
    errno = 0;
    unsigned long long want = strtoull(crc_txt, &endp, hex ? 16 : 10);
    if (errno || endp == crc_txt || *endp || want > 0xffffffffULL || crc_txt[0] == '-')
        return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: bad crc32 '%s' in metadata", c->path,
                       crc_txt);
    uLong got = crc32_z(crc32_z(0L, Z_NULL, 0), c->data, (z_size_t)c->data_len);
    if ((unsigned long long)got != want)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: checksum mismatch (file is corrupt): crc32 0x%08lx, header says "
                       "0x%08llx",
                       c->path, (unsigned long)got, want);
    return MTREC_OK;
}

/* Maps the file, checks the header length, parses and verifies everything up front so
 * that later reads cannot fail on corruption. */
mtrec_status mt_ckpt_open(const char *path, mt_ckpt **out, mt_err *e) {
    if (out) *out = NULL;
    if (!path || !out) return mt_fail(e, MTREC_ERR_ARG, "checkpoint open: NULL argument");
    mt_ckpt *c = calloc(1, sizeof *c);
    char *hdr = NULL;
    mtrec_status st = MTREC_OK;
    int fd = -1;
    if (!c || !(c->path = mt_strdup(path))) {
        st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size == 0) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: empty file (0 bytes): not a checkpoint", path);
        goto fail;
    }
    if (size < 8) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT,
                     "%s: truncated: %" PRIu64 " bytes, shorter than the 8-byte header length",
                     path, size);
        goto fail;
    }
    c->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        st = mt_fail(e, MTREC_ERR_IO, "%s: cannot map file: %s", path, strerror(errno));
        goto fail;
    }
    c->map_len = (size_t)size;
    close(fd);
    fd = -1;
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)c->map[i] << (8 * i);
    if (hlen < 2 || hlen > CK_MAX_HEADER) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT,
                     "%s: garbage header length %" PRIu64 " (file is %" PRIu64
                     " bytes): not a checkpoint or corrupt",
                     path, hlen, size);
        goto fail;
    }
    if (hlen > size - 8) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT,
                     "%s: truncated: header length is %" PRIu64 " bytes, file has %" PRIu64
                     " after the length",
                     path, hlen, size - 8);
        goto fail;
    }
    c->data = c->map + 8 + hlen;
    c->data_len = size - 8 - hlen;
    /* cJSON gets its own NUL-terminated copy of the (small) header. */
    hdr = mt_strndup((const char *)c->map + 8, (size_t)hlen);
    if (!hdr) {
        st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((st = parse_header(c, hdr, (size_t)hlen, e)) != MTREC_OK) goto fail;
    if ((st = check_crc(c, e)) != MTREC_OK) goto fail;
    free(hdr);
    *out = c;
    return MTREC_OK;
fail:
    if (fd >= 0) close(fd);
    free(hdr);
    mt_ckpt_close(c);
    return st;
}

void mt_ckpt_close(mt_ckpt *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->map_len);
    cJSON_Delete(c->root);
    free(c->t);
    free(c->by_name);
    free(c->path);
    free(c);
}

const char *mt_ckpt_meta(const mt_ckpt *c, const char *key) {
    if (!c || !c->meta || !key) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int mt_ckpt_count(const mt_ckpt *c) { return c ? c->n : 0; }

const char *mt_ckpt_name(const mt_ckpt *c, int i) {
    return c && i >= 0 && i < c->n ? c->t[i].name : NULL;
}

static const ck_tensor *find(const mt_ckpt *c, const char *name) {
    if (!c || !name || c->n == 0) return NULL;
    ck_tensor key = {.name = name}, *kp = &key;
    ck_tensor **hit = bsearch(&kp, c->by_name, (size_t)c->n, sizeof *c->by_name, cmp_name);
    return hit ? *hit : NULL;
}

int mt_ckpt_has(const mt_ckpt *c, const char *name) { return find(c, name) != NULL; }

int64_t mt_ckpt_numel(const mt_ckpt *c, const char *name, int64_t *shape, int *ndim) {
    const ck_tensor *t = find(c, name);
    if (!t) return -1;
    if (ndim) *ndim = t->ndim;
    for (int i = 0; shape && i < t->ndim && i < 4; i++) shape[i] = t->shape[i];
    return (int64_t)t->numel;
}

mtrec_status mt_ckpt_read(const mt_ckpt *c, const char *name, mt_real *dst, int64_t n,
                          const int64_t *shape, int ndim, mt_err *e) {
    if (!c || !name) return mt_fail(e, MTREC_ERR_ARG, "checkpoint read: NULL argument");
    const ck_tensor *t = find(c, name);
    if (!t) return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: missing tensor '%s'", c->path, name);
    char have[200], want[200];
    if (shape) {
        int same = ndim == t->ndim;
        for (int i = 0; same && i < ndim; i++) same = shape[i] == t->shape[i];
        if (!same)
            return mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: tensor '%s' has shape %s, expected %s",
                           c->path, name, shape_str(have, sizeof have, t->shape, t->ndim),
                           shape_str(want, sizeof want, shape, ndim < 0 ? 0 : ndim));
    }
    if (n < 0 || (uint64_t)n != t->numel)
        return mt_fail(e, MTREC_ERR_CHECKPOINT,
                       "%s: tensor '%s' has shape %s (%" PRIu64 " values), expected %" PRId64
                       " values",
                       c->path, name, shape_str(have, sizeof have, t->shape, t->ndim), t->numel,
                       n);
    if (n > 0 && !dst) return mt_fail(e, MTREC_ERR_ARG, "checkpoint read: NULL destination");
    const unsigned char *src = c->data + t->begin;
    if (t->bf16) { /* exact: every bf16 value is a float */
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)src[2 * i] << 16 | (uint32_t)src[2 * i + 1] << 24;
            float f;
            memcpy(&f, &u, 4);
            dst[i] = (mt_real)f;
        }
        return MTREC_OK;
    }
#ifdef MT_DOUBLE
    for (int64_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, src + 4 * i, 4);
        dst[i] = (mt_real)f;
    }
#else
    if (n > 0) memcpy(dst, src, (size_t)n * 4);
#endif
    return MTREC_OK;
}

/* ---------------------------------------------------------------- model_dir index */

char *mt_ckpt_path(const char *dir, int64_t step) {
    char name[48];
    snprintf(name, sizeof name, "model.ckpt-%" PRId64, step);
    return mt_path_join(dir && *dir ? dir : ".", name);
}

/* Step of an exact "model.ckpt-<digits>" name (not ".tmp.*", ".index", ...), else -1. */
static int64_t name_step(const char *name) {
    static const char pre[] = "model.ckpt-";
    if (strncmp(name, pre, sizeof pre - 1) != 0) return -1;
    const char *d = name + sizeof pre - 1;
    if (*d < '0' || *d > '9') return -1;
    int64_t v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*d - '0');
    }
    return v;
}

static int is_regular(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Steps of the checkpoint files in dir (malloc'ed, ascending) into *steps; count or -1. */
static int scan_steps(const char *dir, int64_t **steps) {
    *steps = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t s = name_step(de->d_name);
        if (s < 0) continue;
        char *p = mt_path_join(dir, de->d_name);
        int ok = is_regular(p);
        free(p);
        if (!ok) continue;
        if (n == cap) {
            int64_t *g = realloc(*steps, sizeof **steps * (size_t)(cap = cap ? 2 * cap : 16));
            if (!g) {
                closedir(d);
                free(*steps);
                *steps = NULL;
                return -1;
            }
            *steps = g;
        }
        (*steps)[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of files */
        for (int j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            int64_t x = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = x;
        }
    return n;
}

/* Value of `model_checkpoint_path: "..."` in dir/checkpoint (malloc'ed) or NULL. */
static char *index_latest(const char *dir) {
    char *ip = mt_path_join(dir, "checkpoint");
    FILE *f = ip ? fopen(ip, "r") : NULL;
    free(ip);
    if (!f) return NULL;
    char line[4096], *val = NULL;
    while (!val && fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        static const char key[] = "model_checkpoint_path:";
        if (strncmp(p, key, sizeof key - 1) != 0) continue;
        const char *q1 = strchr(p, '"'), *q2 = q1 ? strrchr(q1 + 1, '"') : NULL;
        if (q1 && q2 && q2 > q1 + 1) val = mt_strndup(q1 + 1, (size_t)(q2 - q1 - 1));
    }
    fclose(f);
    return val;
}

/* The index names the latest checkpoint; a name relative to dir (what mtrec writes) or an
 * absolute path (what TF writes with absolute model_dirs). A stale or missing index falls
 * back to the highest-step model.ckpt-<step> file in dir. */
char *mt_ckpt_latest(const char *dir) {
    if (!dir || !*dir) dir = ".";
    char *val = index_latest(dir), *p = NULL;
    if (val) {
        p = val[0] == '/' ? mt_strdup(val) : mt_path_join(dir, val);
        if (!is_regular(p)) { /* e.g. "rel/model_dir/model.ckpt-5" written by TF */
            free(p);
            const char *base = strrchr(val, '/');
            p = mt_path_join(dir, base ? base + 1 : val);
            if (!is_regular(p)) {
                free(p);
                p = NULL;
            }
        }
        free(val);
        if (p) return p;
    }
    int64_t *steps;
    int n = scan_steps(dir, &steps);
    if (n > 0) p = mt_ckpt_path(dir, steps[n - 1]);
    free(steps);
    return p;
}

/* Keeps `step` and the newest keep_max-1 checkpoints older than it (by step number);
 * checkpoints with a higher step than `step` (left by an earlier run) are neither listed
 * nor deleted. Writes the index first (atomically), then deletes the pruned files. */
mtrec_status mt_ckpt_commit(const char *dir, int64_t step, int keep_max, mt_err *e) {
    if (!dir || !*dir) dir = ".";
    if (keep_max <= 0 || step < 0)
        return mt_fail(e, MTREC_ERR_ARG, "%s: commit: bad step %" PRId64 " or keep_max %d", dir,
                       step, keep_max);
    char *path = mt_ckpt_path(dir, step);
    if (!path) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", dir);
    if (!is_regular(path)) {
        mtrec_status st = mt_fail(e, MTREC_ERR_IO, "%s: cannot commit: no such checkpoint file",
                                  path);
        free(path);
        return st;
    }
    free(path);
    int64_t *steps;
    int n = scan_steps(dir, &steps);
    if (n < 0) return mt_fail(e, MTREC_ERR_IO, "%s: cannot list folder: %s", dir, strerror(errno));
    int older = 0; /* steps[0..older) are < step */
    while (older < n && steps[older] < step) older++;
    int keep_older = MT_MIN(older, keep_max - 1);
    int first_kept = older - keep_older;
    /* Index text, TF CheckpointState text format (names relative to dir). */
    size_t cap = 96 * (size_t)(keep_older + 2);
    char *txt = malloc(cap);
    if (!txt) {
        free(steps);
        return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", dir);
    }
    size_t len = (size_t)snprintf(txt, cap, "model_checkpoint_path: \"model.ckpt-%" PRId64 "\"\n",
                                  step);
    for (int i = first_kept; i < older; i++)
        len += (size_t)snprintf(txt + len, cap - len,
                                "all_model_checkpoint_paths: \"model.ckpt-%" PRId64 "\"\n",
                                steps[i]);
    len += (size_t)snprintf(txt + len, cap - len,
                            "all_model_checkpoint_paths: \"model.ckpt-%" PRId64 "\"\n", step);
    char *ip = mt_path_join(dir, "checkpoint");
    mtrec_status st = ip ? mt_write_file_atomic(ip, txt, len, e)
                         : mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", dir);
    free(ip);
    free(txt);
    for (int i = 0; st == MTREC_OK && i < first_kept; i++) {
        char *old = mt_ckpt_path(dir, steps[i]);
        if (!old) st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", dir);
        else if (unlink(old) != 0 && errno != ENOENT)
            st = mt_fail(e, MTREC_ERR_IO, "%s: cannot delete old checkpoint: %s", old,
                         strerror(errno));
        free(old);
    }
    free(steps);
    if (st == MTREC_OK && first_kept > 0) st = mt_fsync_dir(dir, e);
    return st;
}
