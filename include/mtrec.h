/* mtrec.h: the public C API of mtrec (DBMTL multi-target recommendation models).
 *
 * Conventions: every public name starts with mtrec_; objects are typed opaque handles
 * created by mtrec_<object>_create/_load and released by the matching _free (which accepts
 * NULL). Functions return an mtrec_status; on failure, mtrec_last_error() returns a message
 * for the calling thread that names the place (file:line:col for configs, file:row:column
 * for data). Buffers passed in are owned by the caller. */
#ifndef MTREC_H
#define MTREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mtrec_status {
    MTREC_OK = 0,
    MTREC_ERR_ARG,          /* invalid argument from the caller */
    MTREC_ERR_IO,           /* missing file, read or write failure */
    MTREC_ERR_PARSE,        /* config text is not valid protobuf text format */
    MTREC_ERR_CONFIG,       /* config is well formed but invalid (unknown field, bad value) */
    MTREC_ERR_UNSUPPORTED,  /* valid EasyRec field that mtrec does not support yet */
    MTREC_ERR_DATA,         /* bad input data row or value */
    MTREC_ERR_CHECKPOINT,   /* corrupt or mismatched checkpoint / export */
    MTREC_ERR_NOMEM,        /* allocation failed */
    MTREC_ERR_BACKEND,      /* matrix library failure */
    MTREC_ERR_INTERRUPTED,  /* stopped by a signal (after saving) */
    MTREC_ERR_INTERNAL      /* broken invariant: a bug in mtrec */
} mtrec_status;

/* Short constant name of a status code ("MTREC_ERR_CONFIG"). Never NULL. */
const char *mtrec_status_str(mtrec_status s);

/* Message of the last failed call on this thread; "" if none. Owned by mtrec,
 * valid until the next call on this thread. */
const char *mtrec_last_error(void);

/* Library version string, e.g. "0.1.0". */
const char *mtrec_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MTREC_H */
