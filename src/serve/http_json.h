/* http_json.h: the JSON side of `mtrec serve` (serve/http_json.c), kept apart from the HTTP
 * plumbing so it can be read and tested without sockets:
 *  - decoding a TF Serving predict body into the text values mtrec_predict_rows/_columns take
 *    (numbers printed as a CSV would hold them, tag lists joined with '|', null = default);
 *  - encoding predictions, model status, metadata and errors;
 *  - a growable text buffer (mt_sbuf) and a grow-only text arena reused across requests.
 * Parsing uses cJSON; the responses are written by hand because they are flat and large
 * (10^5 floats), where building a cJSON tree first would double the work. */
#ifndef MT_HTTP_JSON_H
#define MT_HTTP_JSON_H

#include <stdarg.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "mtrec.h"
#include "util/err.h"

/* ---- text buffer ---------------------------------------------------------------------- */
/* Appends never fail loudly: on allocation failure `oom` is set and later appends are
 * ignored; check oom once before using p. p is malloc'ed (hand it to free()). */
typedef struct mt_sbuf {
    char *p;
    size_t len, cap;
    int oom;
} mt_sbuf;

void mt_sbuf_put(mt_sbuf *b, const char *s, size_t n);
void mt_sbuf_puts(mt_sbuf *b, const char *s);
void mt_sbuf_printf(mt_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quoted, escaped). */
void mt_sbuf_json_str(mt_sbuf *b, const char *s);
void mt_sbuf_free(mt_sbuf *b);

/* ---- per-slot request scratch ---------------------------------------------------------- */
/* A grow-only bump allocator: blocks are kept and reused after a reset (http_json.c). */
typedef struct mt_arena_blk mt_arena_blk;
typedef struct mt_arena {
    mt_arena_blk *head, *cur;
} mt_arena;

/* Grow-only buffers of one predictor slot, reused by every request that holds the slot, so
 * the request path allocates nothing once warm beyond cJSON's tree and the response text. */
typedef struct mt_req_scratch {
    const char **values;   /* n_rows * n_inputs text pointers */
    size_t values_cap;
    const char ***columns; /* n_inputs column starts (column form) */
    int columns_cap;
    int *stamp;            /* per input: last row that set it (duplicate-key check) */
    int *next_key;         /* [n_inputs + 1]: input that followed input i - 1 (i = 0: row
                            * start) in the previous row: the first name guess (rows usually
                            * list their keys in one order), -1 none */
    int stamp_cap;
    mt_arena arena;        /* converted numbers and joined lists */
} mt_req_scratch;

void mt_req_scratch_free(mt_req_scratch *s);

/* A decoded predict request; its pointers live in the scratch and the cJSON tree. */
typedef struct mt_predict_req {
    int columnar;                      /* 1: "inputs" form, 0: "instances" form */
    int n_rows;
    const char *const *values;         /* row form: values[r * n_inputs + i] */
    const char *const *const *columns; /* column form: columns[i][r]; columns[i] NULL = absent */
} mt_predict_req;

/* ---- decoding -------------------------------------------------------------------------- */
/* Parse a request body (len bytes, not NUL-terminated). On malformed JSON: MTREC_ERR_DATA
 * with the byte offset, line and column. *root is freed with cJSON_Delete. */
mtrec_status mt_http_parse_json(const char *body, size_t len, cJSON **root, mt_err *e);

/* Decode a parsed predict body for model m into req (pointers into s and root).
 * On failure *http_code is 400 (bad request) or 413 (more than max_rows rows) or 500 (out of
 * memory) and e names the offending key, row and input ("instances[3].user_id: ..."). */
mtrec_status mt_http_decode_predict(const cJSON *root, const mtrec_model *m, int max_rows,
                                    mt_req_scratch *s, mt_predict_req *req, int *http_code,
                                    mt_err *e);

/* ---- encoding -------------------------------------------------------------------------- */
/* {"predictions":[{out_0: v, ...}, ...]} (row form) or {"outputs":{out_0:[...], ...}}
 * (column form) from out[r * num_outputs + j]. Non-finite values are written as null. */
void mt_http_encode_predictions(mt_sbuf *b, const mtrec_model *m, int columnar, int n_rows,
                                const float *out);
/* {"error": msg} */
void mt_http_encode_error(mt_sbuf *b, const char *msg);
/* Install cJSON hooks that take the nodes of each parsed body from a per-thread arena
 * (process-wide; call once before any thread parses). The tree of mt_http_parse_json must
 * then be deleted on the thread that parsed it, before that thread parses again. */
void mt_http_json_use_arena(void);
/* Shortest decimal text that reads back (strtof) as v, NUL-terminated into buf (>= 32
 * bytes); "null" for NaN and infinities. Returns the length. */
int mt_json_format_float(float v, char *buf);
/* TF Serving's GET /v1/models/NAME answer for the serving version. */
void mt_http_encode_status(mt_sbuf *b, const mtrec_model *m);
/* GET /v1/models/NAME/metadata: TF Serving's shape with the inputs (name, dtype, mtrec
 * type, default) and outputs of the signature, in signature order. */
void mt_http_encode_metadata(mt_sbuf *b, const char *name, const mtrec_model *m);

#endif
