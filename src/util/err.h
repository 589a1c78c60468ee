/* err.h: internal error reporting. Every fallible internal function takes an `mt_err *`
 * (may be NULL) and returns an mtrec_status; mt_fail() fills the message and returns the
 * code, so call sites read `return mt_fail(e, MTREC_ERR_DATA, "%s:%lld: ...", ...);`.
 * Messages name the place: file:line:col for configs, file:row[:column] for data. */
#ifndef MT_ERR_H
#define MT_ERR_H

#include "mtrec.h"

#define MT_ERR_MSG_MAX 1024

typedef struct mt_err {
    mtrec_status code;
    char msg[MT_ERR_MSG_MAX];
} mt_err;

/* Set e (if non-NULL) to code and the formatted message; returns code. */
mtrec_status mt_fail(mt_err *e, mtrec_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "<prefix>: <old message>". Returns e->code. */
mtrec_status mt_err_prefix(mt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clear e to MTREC_OK and "". */
void mt_err_clear(mt_err *e);

/* Store e as this thread's public last error (mtrec_last_error). Returns e->code. */
mtrec_status mt_err_publish(const mt_err *e);

#endif
