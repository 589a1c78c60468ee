/* err.c: status strings, formatted error messages, the per-thread last error. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_last_error[MT_ERR_MSG_MAX];

const char *mtrec_status_str(mtrec_status s) {
    switch (s) {
    case MTREC_OK: return "MTREC_OK";
    case MTREC_ERR_ARG: return "MTREC_ERR_ARG";
    case MTREC_ERR_IO: return "MTREC_ERR_IO";
    case MTREC_ERR_PARSE: return "MTREC_ERR_PARSE";
    case MTREC_ERR_CONFIG: return "MTREC_ERR_CONFIG";
    case MTREC_ERR_UNSUPPORTED: return "MTREC_ERR_UNSUPPORTED";
    case MTREC_ERR_DATA: return "MTREC_ERR_DATA";
    case MTREC_ERR_CHECKPOINT: return "MTREC_ERR_CHECKPOINT";
    case MTREC_ERR_NOMEM: return "MTREC_ERR_NOMEM";
    case MTREC_ERR_BACKEND: return "MTREC_ERR_BACKEND";
    case MTREC_ERR_INTERRUPTED: return "MTREC_ERR_INTERRUPTED";
    case MTREC_ERR_INTERNAL: return "MTREC_ERR_INTERNAL";
    }
    return "MTREC_ERR_UNKNOWN";
}

const char *mtrec_last_error(void) { return g_last_error; }

const char *mtrec_version(void) { return "0.1.0"; }

mtrec_status mt_fail(mt_err *e, mtrec_status code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

mtrec_status mt_err_prefix(mt_err *e, const char *fmt, ...) {
    if (!e) return MTREC_ERR_INTERNAL;
    char pre[MT_ERR_MSG_MAX], old[MT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* pre + ": " + old, truncated to the buffer (built by hand: snprintf of two full-size
     * buffers trips -Wformat-truncation) */
    size_t np = strnlen(pre, sizeof pre), no = strnlen(old, sizeof old), cap = sizeof e->msg - 1;
    size_t k = np < cap ? np : cap;
    memcpy(e->msg, pre, k);
    if (k + 2 <= cap) { memcpy(e->msg + k, ": ", 2); k += 2; }
    size_t r = cap - k < no ? cap - k : no;
    memcpy(e->msg + k, old, r);
    e->msg[k + r] = '\0';
    return e->code;
}

void mt_err_clear(mt_err *e) {
    if (!e) return;
    e->code = MTREC_OK;
    e->msg[0] = '\0';
}

mtrec_status mt_err_publish(const mt_err *e) {
    if (!e) return MTREC_OK;
    snprintf(g_last_error, sizeof g_last_error, "%s", e->msg);
    return e->code;
}
