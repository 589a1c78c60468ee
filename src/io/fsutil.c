/* fsutil.c: atomic file writes (temp + fsync + rename + fsync of the folder), mkdir -p and
 * path helpers for src/io. Owns the crash-safety of every file mtrec writes; it does not
 * know about file formats (see checkpoint.c for the checkpoint container). */
#include "io/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "util/common.h"

/* Writes are issued in pieces of at most this many bytes (Linux caps a single write at
 * ~2 GiB anyway; this keeps each call bounded). */
#define MT_WRITE_CHUNK ((size_t)64 << 20)

char *mt_path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return mt_strdup(".");
    if (slash == path) return mt_strdup("/");
    return mt_strndup(path, (size_t)(slash - path));
}

char *mt_path_join(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int need_slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)need_slash + nl + 1);
    if (!p) return NULL;
    memcpy(p, dir, dl);
    if (need_slash) p[dl] = '/';
    memcpy(p + dl + (size_t)need_slash, name, nl + 1);
    return p;
}

mtrec_status mt_fsync_dir(const char *dir, mt_err *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return mt_fail(e, MTREC_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some file systems do not support fsync on folders; that is not a write failure. */
    if (rc != 0 && err != EINVAL && err != ENOTSUP)
        return mt_fail(e, MTREC_ERR_IO, "%s: fsync of folder failed: %s", dir, strerror(err));
    return MTREC_OK;
}

mtrec_status mt_afile_open(mt_afile *f, const char *path, mt_err *e) {
    f->fd = -1;
    f->path = f->tmp = NULL;
    f->written = 0;
    if (!path || !*path) return mt_fail(e, MTREC_ERR_ARG, "atomic write: empty path");
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    size_t pl = strlen(path), sl = strlen(suffix);
    f->path = mt_strdup(path);
    f->tmp = malloc(pl + sl + 1);
    if (!f->path || !f->tmp) {
        mt_afile_abort(f);
        return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->tmp, path, pl);
    memcpy(f->tmp + pl, suffix, sl + 1);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int err = errno;
        mtrec_status st = mt_fail(e, MTREC_ERR_IO, "%s: cannot create temp file %s: %s", path,
                                  f->tmp, strerror(err));
        free(f->tmp);  /* not ours to unlink: open failed, so we created nothing */
        f->tmp = NULL;
        mt_afile_abort(f);
        return st;
    }
    return MTREC_OK;
}

/* len bytes in big chunks, retrying short writes and EINTR: at the file position (off < 0,
 * counted in f->written) or at offset off (pwrite). */
static mtrec_status afile_put(mt_afile *f, const void *data, size_t len, int64_t off, mt_err *e) {
    const char *p = data;
    if (f->fd < 0) return mt_fail(e, MTREC_ERR_INTERNAL, "atomic write: file not open");
    while (len > 0) {
        size_t n = MT_MIN(len, MT_WRITE_CHUNK);
        ssize_t w = off < 0 ? write(f->fd, p, n) : pwrite(f->fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return mt_fail(e, MTREC_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        }
        if (w == 0) return mt_fail(e, MTREC_ERR_IO, "%s: write failed: wrote 0 bytes", f->path);
        p += w;
        len -= (size_t)w;
        if (off < 0) f->written += (uint64_t)w;
        else off += w;
    }
    return MTREC_OK;
}

mtrec_status mt_afile_write(mt_afile *f, const void *data, size_t len, mt_err *e) {
    return afile_put(f, data, len, -1, e);
}

mtrec_status mt_afile_pwrite(mt_afile *f, const void *data, size_t len, uint64_t off,
                             mt_err *e) {
    if (off > (uint64_t)INT64_MAX) return mt_fail(e, MTREC_ERR_ARG, "%s: offset too large", f->path);
    return afile_put(f, data, len, (int64_t)off, e);
}

void mt_afile_abort(mt_afile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    f->tmp = f->path = NULL;
}

mtrec_status mt_afile_commit(mt_afile *f, mt_err *e) {
    mtrec_status st = MTREC_OK;
    if (f->fd < 0) return mt_fail(e, MTREC_ERR_INTERNAL, "atomic write: file not open");
    if (fsync(f->fd) != 0) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
        mt_afile_abort(f);
        return st;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
        mt_afile_abort(f);
        return st;
    }
    if (rename(f->tmp, f->path) != 0) {
        st = mt_fail(e, MTREC_ERR_IO, "%s: cannot replace file: %s", f->path, strerror(errno));
        mt_afile_abort(f);
        return st;
    }
    free(f->tmp);  /* renamed: nothing left to unlink */
    f->tmp = NULL;
    char *dir = mt_path_dirname(f->path);
    if (!dir) st = mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", f->path);
    else st = mt_fsync_dir(dir, e);
    free(dir);
    mt_afile_abort(f);
    return st;
}

/* Public one-shot form (declared in io/checkpoint.h). */
mtrec_status mt_write_file_atomic(const char *path, const void *data, size_t len, mt_err *e) {
    mt_afile f;
    mtrec_status st = mt_afile_open(&f, path, e);
    if (st != MTREC_OK) return st;
    if (len > 0 && (st = mt_afile_write(&f, data, len, e)) != MTREC_OK) {
        mt_afile_abort(&f);
        return st;
    }
    return mt_afile_commit(&f, e);
}

/* mkdir -p: creates each missing component (mode 0755); an existing folder is fine, an
 * existing non-folder is MTREC_ERR_IO naming it. */
mtrec_status mt_mkdirs(const char *path, mt_err *e) {
    if (!path || !*path) return mt_fail(e, MTREC_ERR_ARG, "mkdirs: empty path");
    char *p = mt_strdup(path);
    if (!p) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", path);
    mtrec_status st = MTREC_OK;
    size_t len = strlen(p);
    for (size_t i = 1; i <= len && st == MTREC_OK; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        if (p[i - 1] == '/') continue; /* "a//b" or trailing '/' */
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0) {
            int err = errno;
            struct stat sb;
            if (err != EEXIST)
                st = mt_fail(e, MTREC_ERR_IO, "%s: cannot create folder %s: %s", path, p,
                             strerror(err));
            else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
                st = mt_fail(e, MTREC_ERR_IO, "%s: cannot create folder %s: exists and is not a folder",
                             path, p);
        }
        p[i] = saved;
    }
    free(p);
    return st;
}
