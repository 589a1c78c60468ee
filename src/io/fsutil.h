/* fsutil.h: internal file-system helpers of src/io: a streaming atomic file writer (temp
 * file "<path>.tmp.<pid>" in the same folder, fsync, rename over path, fsync of the folder)
 * and small path helpers. The public one-shot forms, mt_write_file_atomic and mt_mkdirs,
 * are declared in io/checkpoint.h. Not thread-safe for two writers of the same path in
 * one process (they would share the temp name). */
#ifndef MT_FSUTIL_H
#define MT_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct mt_afile {
    int fd;      /* -1 when closed */
    char *path;  /* final path */
    char *tmp;   /* "<path>.tmp.<pid>" */
    uint64_t written;
} mt_afile;

/* Create the temp file for path. On failure nothing is left behind and *f is inert. */
mtrec_status mt_afile_open(mt_afile *f, const char *path, mt_err *e);
/* Append len bytes (in big chunks, retrying short writes / EINTR). */
mtrec_status mt_afile_write(mt_afile *f, const void *data, size_t len, mt_err *e);
/* Overwrite len bytes at offset (already written region; used to patch a header). */
mtrec_status mt_afile_pwrite(mt_afile *f, const void *data, size_t len, uint64_t off,
                             mt_err *e);
/* fsync, close, rename over path, fsync the folder. On failure the temp file is removed
 * and the old file at path is untouched. Always releases f. */
mtrec_status mt_afile_commit(mt_afile *f, mt_err *e);
/* Close and remove the temp file; path is untouched. Safe on an inert or released f. */
void mt_afile_abort(mt_afile *f);

/* malloc'ed folder part of path ("." when there is no '/'). NULL on OOM. */
char *mt_path_dirname(const char *path);
/* malloc'ed "dir/name" (no doubled '/'). NULL on OOM. */
char *mt_path_join(const char *dir, const char *name);
/* fsync a folder so a rename/unlink in it is durable. */
mtrec_status mt_fsync_dir(const char *dir, mt_err *e);

#endif
