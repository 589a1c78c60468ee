/* http_server.h: `mtrec serve`, an HTTP server speaking TensorFlow Serving's REST shape over
 * libmicrohttpd (serve/http_server.c) with JSON decoding/encoding in serve/http_json.c.
 *
 *   POST /v1/models/NAME:predict   {"instances":[{field: value, ...}, ...]}  (row form)
 *                                  -> {"predictions":[{"probs_ctr": 0.1, ...}, ...]}
 *                                  {"inputs":{field:[v1, v2, ...], ...}}      (column form)
 *                                  -> {"outputs":{"probs_ctr":[...], ...}}
 *   GET  /v1/models/NAME           model_version_status (TF Serving's shape)
 *   GET  /v1/models/NAME/metadata  signature: inputs (name, type, default) and outputs
 *   GET  /metrics                  Prometheus text format
 * NAME may be followed by /versions/N (TF Serving): N must be the serving version, else 404.
 * Bad requests get 4xx with {"error": "..."}; the server keeps serving.
 *
 * model_path is an export_dir (`mtrec export`) or one version folder of it. Every
 * poll_seconds the newest complete version under export_dir is looked up; when it differs
 * from the one serving, it is loaded with its predictor pool and swapped in atomically.
 * Requests in flight finish on the model they started with (reference counted); a version
 * that fails to load is logged and skipped. Signals belong to the caller (the CLI sets
 * *stop); this module installs no handlers. */
#ifndef MT_HTTP_SERVER_H
#define MT_HTTP_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "mtrec.h"
#include "util/err.h"

typedef struct mt_serve_opts {
    const char *model_path;      /* export_dir or a version folder (required) */
    const char *model_name;      /* NAME in the URLs; NULL -> "model" */
    const char *host;            /* address to bind; NULL -> "127.0.0.1" */
    int port;                    /* TCP port; 0 = pick a free one; < 0 -> 8501 */
    int threads;                 /* request threads = predictors per version; <= 0 -> 2 */
    size_t max_body_bytes;       /* 0 -> 8 MiB; larger bodies get 413 */
    int max_rows;                /* rows per request; <= 0 -> 10000; more get 413 */
    double poll_seconds;         /* new-version polling period; 0 -> 2; < 0 -> never */
    volatile sig_atomic_t *stop; /* required: serving ends once *stop != 0 */
    /* Log lines (no trailing newline); may be called from server threads, serialized.
     * NULL = silent. */
    void (*log)(void *ctx, const char *line);
    void *ctx;
    /* Called once, from mt_serve_run's thread, when listening (with the bound port). */
    void (*on_ready)(void *ctx, int port);
} mt_serve_opts;

/* Default port when the caller has none (the CLI passes it; port 0 means "any free"). */
#define MT_SERVE_DEFAULT_PORT 8501

/* Load the model, listen, serve until *stop; then stop accepting, let requests in flight
 * finish (at most 30 s), free everything and return MTREC_OK. Fails (without serving) when
 * the model cannot be loaded (its status) or the address cannot be bound (MTREC_ERR_IO). */
mtrec_status mt_serve_run(const mt_serve_opts *o, mt_err *e);

#endif
