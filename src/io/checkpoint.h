/* checkpoint.h: named-tensor files (safetensors container: 8-byte little-endian header
 * length, JSON header, raw little-endian float32 or bfloat16 data) with mtrec metadata (step, config
 * fingerprint, CRC32 of the data) in the header's "__metadata__". Written atomically:
 * temp file in the same folder, fsync, rename, fsync of the folder. Also the EasyRec-style
 * `checkpoint` index file in model_dir and keep_checkpoint_max pruning. */
#ifndef MT_CHECKPOINT_H
#define MT_CHECKPOINT_H

#include <stdint.h>

#include "util/common.h"
#include "util/err.h"

typedef struct mt_tensor_ref {
    const char *name;
    const mt_real *data;   /* converted to float32 on write */
    int64_t shape[4];
    int ndim;
    int bf16;              /* store as BF16 (round to nearest even) instead of F32 */
} mt_tensor_ref;

typedef struct mt_kv {
    const char *key, *value;
} mt_kv;

/* Write tensors + string metadata atomically to path. */
mtrec_status mt_ckpt_write(const char *path, const mt_tensor_ref *t, int n, const mt_kv *meta,
                           int n_meta, mt_err *e);

typedef struct mt_ckpt mt_ckpt;

/* Open and verify (header JSON, sizes, CRC32). Corrupt/truncated -> MTREC_ERR_CHECKPOINT
 * naming the file and what is wrong. */
mtrec_status mt_ckpt_open(const char *path, mt_ckpt **out, mt_err *e);
void mt_ckpt_close(mt_ckpt *c);
/* Metadata value or NULL. */
const char *mt_ckpt_meta(const mt_ckpt *c, const char *key);
int mt_ckpt_count(const mt_ckpt *c);
const char *mt_ckpt_name(const mt_ckpt *c, int i);
/* Copy tensor `name` (F32 or BF16 on disk) into dst (converting to mt_real); its element count must equal n and
 * its shape must equal shape[0..ndim) when shape != NULL; else MTREC_ERR_CHECKPOINT naming
 * the tensor, the expected and found shapes. Missing tensor -> MTREC_ERR_CHECKPOINT. */
mtrec_status mt_ckpt_read(const mt_ckpt *c, const char *name, mt_real *dst, int64_t n,
                          const int64_t *shape, int ndim, mt_err *e);
int mt_ckpt_has(const mt_ckpt *c, const char *name);
/* Element count of tensor `name` (-1 if absent); its shape (up to 4 dims) into shape/ndim
 * when non-NULL. */
int64_t mt_ckpt_numel(const mt_ckpt *c, const char *name, int64_t *shape, int *ndim);

/* model_dir helpers (EasyRec layout): "model.ckpt-<step>" files and a `checkpoint` text file
 * whose first line is `model_checkpoint_path: "model.ckpt-<step>"`. */
/* Path of the latest checkpoint in dir (malloc'ed) or NULL when there is none. */
char *mt_ckpt_latest(const char *dir);
/* Record path as latest (atomically) and delete all but the newest keep_max (>0). */
mtrec_status mt_ckpt_commit(const char *dir, int64_t step, int keep_max, mt_err *e);
/* "dir/model.ckpt-<step>" (malloc'ed). */
char *mt_ckpt_path(const char *dir, int64_t step);

/* Atomic whole-file write helper used by exports and eval_result.txt as well. */
mtrec_status mt_write_file_atomic(const char *path, const void *data, size_t len, mt_err *e);
/* mkdir -p */
mtrec_status mt_mkdirs(const char *path, mt_err *e);

#endif
