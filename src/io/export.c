/* export.c: `mtrec export` bundles: <export_dir>/<version>/ holding
 *   model.safetensors  weights, BN statistics and tables (no optimizer state); with
 *                      precision bf16, dense kernels and tables are stored as BF16
 *   pipeline.config    the pipeline's text as loaded
 *   signature.json     {"inputs": [{"name", "type", "default", "index"}...], "outputs": [...],
 *                       "global_step", "model_class", "mtrec_version", "precision" ("fp32" |
 *                       "bf16": the predictors of a bf16 export run their products in bf16),
 *                       "files": {"model.safetensors": {"size", "crc32"}, "pipeline.config": ...}}
 * version = unix time in seconds, raised above every existing numeric version so versions
 * strictly increase. Everything is written into "<export_dir>/.tmp-<version>-<pid>/" (each
 * file fsynced), the folder is renamed to <version> and export_dir is fsynced, so a reader
 * never sees a partial version. Older versions are kept. Also verification of a version
 * folder for loading (sizes and CRC32s) and the choice of the newest complete version.
 * It does not load weights into a model (serve/predictor.c does). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "io/checkpoint.h"
#include "io/fsutil.h"
#include "io/model_io.h"
#include "serve/predictor.h"
#include "serve/serve_io.h"
#include "util/common.h"

#define EXPORT_WEIGHTS "model.safetensors"
#define EXPORT_CONFIG "pipeline.config"
#define EXPORT_SIGNATURE "signature.json"

/* ---- small file helpers ----------------------------------------------------------------- */

/* Whole file into memory (NUL-terminated); *len gets its size. MTREC_ERR_IO naming path. */
static mtrec_status read_all(const char *path, char **out, size_t *len, mt_err *e) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mt_fail(e, MTREC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    mtrec_status st = MTREC_OK;
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (!buf) st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory reading the file", path);
    else if (ferror(f)) st = mt_fail(e, MTREC_ERR_IO, "%s: read failed", path);
    fclose(f);
    if (st != MTREC_OK) { free(buf); return st; }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MTREC_OK;
}

/* CRC32 (zlib) and size of a file, streamed. */
static mtrec_status file_crc(const char *path, uint32_t *crc, uint64_t *size, mt_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return mt_fail(e, MTREC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    uLong c = crc32(0L, Z_NULL, 0);
    uint64_t n = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        c = crc32(c, buf, (uInt)got);
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return mt_fail(e, MTREC_ERR_IO, "%s: read failed", path);
    *crc = (uint32_t)c;
    *size = n;
    return MTREC_OK;
}

static int is_version_name(const char *s) {
    if (!*s || strlen(s) > 18) return 0;
    for (const char *q = s; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    return 1;
}

static int is_file(const char *dir, const char *name) {
    char *p = mt_path_join(dir, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    free(p);
    return ok;
}

static int is_complete_version(const char *dir) {
    return is_file(dir, EXPORT_WEIGHTS) && is_file(dir, EXPORT_CONFIG) && is_file(dir, EXPORT_SIGNATURE);
}

/* Highest numeric version folder under export_dir (complete or not when !complete), or -1. */
static long long max_version(const char *export_dir, int complete, mt_err *e) {
    DIR *d = opendir(export_dir);
    if (!d) return -1;
    long long best = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_version_name(de->d_name)) continue;
        long long v = strtoll(de->d_name, NULL, 10);
        if (v <= best) continue;
        char *p = mt_path_join(export_dir, de->d_name);
        struct stat sb;
        int ok = p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (!complete || is_complete_version(p));
        free(p);
        if (ok) best = v;
    }
    closedir(d);
    (void)e;
    return best;
}

char *mt_export_latest(const char *export_dir) {
    if (!export_dir) return NULL;
    long long v = max_version(export_dir, 1, NULL);
    if (v < 0) return NULL;
    char name[32];
    snprintf(name, sizeof name, "%lld", v);
    return mt_path_join(export_dir, name);
}

/* Remove a temp folder and the files we may have left in it (no recursion: it is flat). */
static void remove_tmp_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = mt_path_join(dir, de->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- signature -------------------------------------------------------------------------- */
static cJSON *build_signature(const mt_pipeline *p, const mt_serve_io *io, int64_t step, int bf16,
                              uint32_t w_crc, uint64_t w_size, uint32_t c_crc, uint64_t c_size) {
    cJSON *root = cJSON_CreateObject();
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
    int bad = !root || !inputs;
    for (int i = 0; i < io->n_inputs && !bad; i++) {
        const mt_input_field *f = &p->data.input_fields[io->input_field[i]];
        cJSON *o = cJSON_CreateObject();
        bad |= !o || !cJSON_AddItemToArray(inputs, o);
        if (bad) break;
        bad |= !cJSON_AddStringToObject(o, "name", f->name);
        bad |= !cJSON_AddStringToObject(o, "type", mt_field_type_name(f->type));
        bad |= !cJSON_AddStringToObject(o, "default", f->default_val ? f->default_val : "");
        bad |= !cJSON_AddNumberToObject(o, "index", io->input_field[i]);
    }
    cJSON *outputs = bad ? NULL : cJSON_AddArrayToObject(root, "outputs");
    bad |= !outputs;
    for (int j = 0; j < io->n_outputs && !bad; j++) {
        cJSON *s = cJSON_CreateString(io->output_names[j]);
        bad |= !s || !cJSON_AddItemToArray(outputs, s);
    }
    if (!bad) {
        bad |= !cJSON_AddNumberToObject(root, "global_step", (double)step);
        bad |= !cJSON_AddStringToObject(root, "model_class", p->model.model_class ? p->model.model_class : "DBMTL");
        bad |= !cJSON_AddStringToObject(root, "mtrec_version", mtrec_version());
        bad |= !cJSON_AddStringToObject(root, "precision", bf16 ? "bf16" : "fp32");
        cJSON *files = cJSON_AddObjectToObject(root, "files");
        cJSON *fw = files ? cJSON_AddObjectToObject(files, EXPORT_WEIGHTS) : NULL;
        cJSON *fc = files ? cJSON_AddObjectToObject(files, EXPORT_CONFIG) : NULL;
        bad |= !fw || !fc;
        if (!bad) {
            bad |= !cJSON_AddNumberToObject(fw, "size", (double)w_size);
            bad |= !cJSON_AddNumberToObject(fw, "crc32", (double)w_crc);
            bad |= !cJSON_AddNumberToObject(fc, "size", (double)c_size);
            bad |= !cJSON_AddNumberToObject(fc, "crc32", (double)c_crc);
        }
    }
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Write the three files into tmp (an existing empty folder). */
static mtrec_status write_files(mt_model *m, int64_t step, int bf16, const char *tmp, mt_err *e) {
    const mt_pipeline *p = m->p;
    mt_serve_io io = {0};
    char *wpath = mt_path_join(tmp, EXPORT_WEIGHTS), *cpath = mt_path_join(tmp, EXPORT_CONFIG);
    char *spath = mt_path_join(tmp, EXPORT_SIGNATURE), *json = NULL;
    cJSON *sig = NULL;
    mtrec_status st = MTREC_OK;
    if (!wpath || !cpath || !spath) { st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", tmp); goto done; }
    if ((st = mt_serve_io_build(p, &io, e)) != MTREC_OK) goto done;
    if ((st = mt_model_save_ex(m, wpath, step, 0, bf16, e)) != MTREC_OK) goto done;
    size_t clen = strlen(p->text);
    if ((st = mt_write_file_atomic(cpath, p->text, clen, e)) != MTREC_OK) goto done;
    uint32_t wcrc;
    uint64_t wsize;
    /* the CRC is of the bytes on disk, read back: what a loader will check */
    if ((st = file_crc(wpath, &wcrc, &wsize, e)) != MTREC_OK) goto done;
    uint32_t ccrc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p->text, (uInt)clen);
    sig = build_signature(p, &io, step, bf16, wcrc, wsize, ccrc, clen);
    json = sig ? cJSON_Print(sig) : NULL;
    if (!json) { st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory building the signature", spath); goto done; }
    st = mt_write_file_atomic(spath, json, strlen(json), e);
done:
    cJSON_free(json);
    cJSON_Delete(sig);
    mt_serve_io_free(&io);
    free(wpath);
    free(cpath);
    free(spath);
    return st;
}

mtrec_status mt_export_write_step(mt_model *m, int64_t global_step, int bf16, const char *export_dir,
                                  char **version_dir, mt_err *e) {
    if (version_dir) *version_dir = NULL;
    if (!m || !export_dir || !*export_dir)
        return mt_fail(e, MTREC_ERR_ARG, "export: no model or empty export_dir");
    if (!m->p->text)
        return mt_fail(e, MTREC_ERR_ARG, "export: the pipeline has no config text to bundle");
    mtrec_status st = mt_mkdirs(export_dir, e);
    if (st != MTREC_OK) return st;
    long long v = (long long)time(NULL);
    long long mx = max_version(export_dir, 0, e);
    if (v <= mx) v = mx + 1;
    char name[96];
    snprintf(name, sizeof name, ".tmp-%lld-%ld", v, (long)getpid());
    char *tmp = mt_path_join(export_dir, name);
    if (!tmp) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", export_dir);
    remove_tmp_dir(tmp);  /* a leftover of a crashed run with our pid */
    if (mkdir(tmp, 0755) != 0) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    st = write_files(m, global_step, bf16, tmp, e);
    if (st == MTREC_OK) st = mt_fsync_dir(tmp, e);
    char *final = NULL;
    /* rename to the first free version at or above v (another exporter may race us: rename
     * onto an existing non-empty folder fails, and we move on to the next number) */
    for (int tries = 0; st == MTREC_OK; tries++, v++) {
        snprintf(name, sizeof name, "%lld", v);
        free(final);
        final = mt_path_join(export_dir, name);
        if (!final) { st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", export_dir); break; }
        struct stat sb;
        if (lstat(final, &sb) == 0) continue;
        if (rename(tmp, final) == 0) break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || tries > 1000)
            st = mt_fail(e, MTREC_ERR_IO, "%s: cannot rename %s to %s: %s", export_dir, tmp, final,
                         strerror(errno));
    }
    if (st == MTREC_OK) st = mt_fsync_dir(export_dir, e);
    else remove_tmp_dir(tmp);
    free(tmp);
    if (st == MTREC_OK && version_dir) *version_dir = final;
    else free(final);
    return st;
}

mtrec_status mt_export_write(mt_model *m, const char *export_dir, char **version_dir, mt_err *e) {
    return mt_export_write_step(m, 0, 0, export_dir, version_dir, e);
}

mtrec_status mt_export_checkpoint(const mt_pipeline *p, const char *checkpoint_path,
                                  const char *export_dir, int bf16, char **version_dir, mt_err *e) {
    if (version_dir) *version_dir = NULL;
    if (!p) return mt_fail(e, MTREC_ERR_ARG, "export: no pipeline");
    mt_mm *mm = NULL;
    mt_model *m = NULL;
    int64_t step = 0;
    mtrec_status st = mt_model_open_checkpoint(p, checkpoint_path, 1, 1, &mm, &m, &step, e);
    if (st == MTREC_OK) st = mt_export_write_step(m, step, bf16, export_dir, version_dir, e);
    mt_model_free(m);
    mt_mm_free(mm);
    return st;
}

/* ---- verification (loading) ------------------------------------------------------------- */
mtrec_status mt_export_verify(const char *version_dir, cJSON **signature, char **config_text,
                              mt_err *e) {
    *signature = NULL;
    *config_text = NULL;
    char *spath = mt_path_join(version_dir, EXPORT_SIGNATURE);
    char *cpath = mt_path_join(version_dir, EXPORT_CONFIG);
    char *text = NULL, *ctext = NULL, *fpath = NULL;
    size_t len = 0, clen = 0;
    cJSON *sig = NULL;
    mtrec_status st = MTREC_OK;
    if (!spath || !cpath) { st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", version_dir); goto done; }
    if ((st = read_all(spath, &text, &len, e)) != MTREC_OK) goto done;
    sig = cJSON_ParseWithLength(text, len);
    const cJSON *files = sig ? cJSON_GetObjectItemCaseSensitive(sig, "files") : NULL;
    if (!sig || !cJSON_IsObject(files) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(sig, "inputs")) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(sig, "outputs"))) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: not a valid signature (JSON with inputs, outputs and files)", spath);
        goto done;
    }
    const char *required[] = {EXPORT_WEIGHTS, EXPORT_CONFIG};
    for (size_t k = 0; k < MT_ARRAY_LEN(required); k++)
        if (!cJSON_GetObjectItemCaseSensitive(files, required[k])) {
            st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: lists no checksum for %s", spath, required[k]);
            goto done;
        }
    const cJSON *it;
    cJSON_ArrayForEach(it, files) {
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(it, "size");
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(it, "crc32");
        if (!it->string || strchr(it->string, '/') || !cJSON_IsNumber(sz) || !cJSON_IsNumber(cr)) {
            st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: bad entry '%s' in files", spath, it->string ? it->string : "?");
            goto done;
        }
        free(fpath);
        fpath = mt_path_join(version_dir, it->string);
        if (!fpath) { st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", version_dir); goto done; }
        uint32_t crc;
        uint64_t size;
        if ((st = file_crc(fpath, &crc, &size, e)) != MTREC_OK) {
            if (e) {
                e->code = MTREC_ERR_CHECKPOINT;
                mt_err_prefix(e, "export is incomplete");
            }
            st = MTREC_ERR_CHECKPOINT;
            goto done;
        }
        if ((double)size != sz->valuedouble) {
            st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: size %" PRIu64 " bytes, the signature recorded %.0f: "
                         "the export is truncated or corrupt", fpath, size, sz->valuedouble);
            goto done;
        }
        if ((double)crc != cr->valuedouble) {
            st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: CRC32 %08x differs from the signature's %08" PRIx32
                         ": the export is corrupt", fpath, crc, (uint32_t)cr->valuedouble);
            goto done;
        }
    }
    if ((st = read_all(cpath, &ctext, &clen, e)) != MTREC_OK) {
        if (e) e->code = MTREC_ERR_CHECKPOINT;
        st = MTREC_ERR_CHECKPOINT;
        goto done;
    }
    /* the config could have changed between the CRC pass and this read */
    uint32_t ccrc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)ctext, (uInt)clen);
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(files, EXPORT_CONFIG), "crc32");
    if ((double)ccrc != cc->valuedouble) {
        st = mt_fail(e, MTREC_ERR_CHECKPOINT, "%s: changed while loading", cpath);
        goto done;
    }
    *signature = sig;
    *config_text = ctext;
    sig = NULL;
    ctext = NULL;
done:
    cJSON_Delete(sig);
    free(text);
    free(ctext);
    free(fpath);
    free(spath);
    free(cpath);
    return st;
}
