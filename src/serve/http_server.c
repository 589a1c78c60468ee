/* http_server.c: `mtrec serve` (see http_server.h): the libmicrohttpd daemon, routing, the
 * reference-counted serving model with its predictor pool, hot swap of new versions,
 * Prometheus metrics and the graceful drain. JSON lives in http_json.c.
 *
 * Threads: MHD's pool of `threads` request threads calls on_request; mt_serve_run's own
 * thread waits for *stop and polls model_path for new versions. A request holds a reference
 * to the model it started with and one predictor slot of that model's pool. */
#include "serve/http_server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/http_json.h"
#include "serve/predictor.h"
#include "util/common.h"

#define DRAIN_SECONDS 30.0
/* Rows per predictor call; larger requests are split by the predictor. */
#define PREDICTOR_BATCH 256

/* ==== the serving model: weights + predictor pool, reference counted ====================== */
typedef struct pred_slot {
    mtrec_predictor *p;
    float *out;             /* grow-only output buffer */
    size_t out_cap;         /* in floats */
    mt_req_scratch scratch; /* grow-only decoding buffers */
} pred_slot;

typedef struct serve_model {
    mtrec_model *m;
    pred_slot *slots;
    int n_slots;
    int *free_ids;          /* stack of free slot indices, guarded by mu */
    int n_free;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int refs;        /* the server's reference + one per request using it */
} serve_model;

static void serve_model_free(serve_model *sm) {
    if (!sm) return;
    for (int i = 0; i < sm->n_slots; i++) {
        mtrec_predictor_free(sm->slots[i].p);
        free(sm->slots[i].out);
        mt_req_scratch_free(&sm->slots[i].scratch);
    }
    free(sm->slots);
    free(sm->free_ids);
    pthread_mutex_destroy(&sm->mu);
    pthread_cond_destroy(&sm->cv);
    mtrec_model_free(sm->m);
    free(sm);
}

/* Load the export at path and create n predictors; refs starts at 1 (the caller's). */
static mtrec_status serve_model_load(const char *path, int n, serve_model **out, mt_err *e) {
    *out = NULL;
    serve_model *sm = calloc(1, sizeof *sm);
    if (!sm) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&sm->mu, NULL);
    pthread_cond_init(&sm->cv, NULL);
    atomic_init(&sm->refs, 1);
    mtrec_status st = mtrec_model_load(path, &sm->m);
    if (st != MTREC_OK) {
        mt_fail(e, st, "%s", mtrec_last_error());
        serve_model_free(sm);
        return st;
    }
    sm->slots = calloc((size_t)n, sizeof *sm->slots);
    sm->free_ids = calloc((size_t)n, sizeof *sm->free_ids);
    if (!sm->slots || !sm->free_ids) { serve_model_free(sm); return mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        st = mtrec_predictor_create(sm->m, PREDICTOR_BATCH, &sm->slots[i].p);
        if (st == MTREC_OK) {
            sm->n_slots = i + 1;
            /* every batch shape compiled now, not during the first requests (or after a swap) */
            st = mtrec_predictor_warm_up(sm->slots[i].p, PREDICTOR_BATCH);
        }
        if (st != MTREC_OK) {
            mt_fail(e, st, "%s", mtrec_last_error());
            serve_model_free(sm);
            return st;
        }
        sm->free_ids[sm->n_free++] = i;
    }
    *out = sm;
    return MTREC_OK;
}

/* Drop one reference; the last one frees the model (after a swap, the last request). */
static void serve_model_release(serve_model *sm) {
    if (sm && atomic_fetch_sub(&sm->refs, 1) == 1) serve_model_free(sm);
}

/* Take a free slot (waits when all are busy: only when more requests than pool threads). */
static int slot_take(serve_model *sm) {
    pthread_mutex_lock(&sm->mu);
    while (sm->n_free == 0) pthread_cond_wait(&sm->cv, &sm->mu);
    int id = sm->free_ids[--sm->n_free];
    pthread_mutex_unlock(&sm->mu);
    return id;
}

static void slot_put(serve_model *sm, int id) {
    pthread_mutex_lock(&sm->mu);
    sm->free_ids[sm->n_free++] = id;
    pthread_cond_signal(&sm->cv);
    pthread_mutex_unlock(&sm->mu);
}

/* ==== metrics ============================================================================= */
static const int k_codes[] = {200, 400, 404, 405, 413, 500, 503};
#define N_CODES ((int)MT_ARRAY_LEN(k_codes))
static const double k_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                   0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
#define N_BUCKETS ((int)MT_ARRAY_LEN(k_buckets))

typedef struct metrics {
    atomic_ullong by_code[N_CODES + 1]; /* last: any other code */
    atomic_ullong errors, rows;
    atomic_ullong hist[N_BUCKETS + 1];  /* per bucket (not cumulative); last: > 1 s */
    atomic_ullong hist_count, hist_sum_ns;
    atomic_ullong swaps, load_failures;
} metrics;

/* ==== server state ======================================================================== */
typedef struct server {
    const char *name, *model_path;
    int max_rows;
    size_t max_body;
    pthread_mutex_t cur_mu;  /* guards cur (the pointer swap and taking a reference) */
    serve_model *cur;
    atomic_int inflight;     /* requests between their first callback and completion */
    atomic_int stopping;
    metrics mx;
    pthread_mutex_t log_mu;
    void (*log)(void *ctx, const char *line);
    void *ctx;
} server;

static void slog(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(server *s, const char *fmt, ...) {
    if (!s->log) return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->log_mu);
    s->log(s->ctx, line);
    pthread_mutex_unlock(&s->log_mu);
}

/* MHD's own error messages (bind failures, broken connections) go to the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    server *s = cls;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    slog(s, "http: %s", line);
}

static serve_model *model_acquire(server *s) {
    pthread_mutex_lock(&s->cur_mu);
    serve_model *sm = s->cur;
    atomic_fetch_add(&sm->refs, 1);
    pthread_mutex_unlock(&s->cur_mu);
    return sm;
}

/* ==== requests ============================================================================ */
typedef enum route {
    R_NONE, R_PREDICT, R_STATUS, R_METADATA, R_METRICS
} route;

typedef struct req_state {
    double t0;
    route rt;
    char version[24]; /* from /versions/N, "" if none */
    char *body;
    size_t len, cap;
    size_t seen;   /* body bytes received, kept or not */
    int too_large;
} req_state;

/* Queue `code` with body b (taken: freed here or by MHD). */
static enum MHD_Result respond(server *s, struct MHD_Connection *c, req_state *rs, unsigned code, mt_sbuf *b,
                               const char *ctype, const char *allow) {
    struct MHD_Response *r;
    if (b->oom) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        mt_sbuf_free(b);
        code = 500;
        r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
        if (r) b->p = NULL;
        mt_sbuf_free(b);
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    if (ok != MHD_YES) return ok;

    int k = 0;
    while (k < N_CODES && k_codes[k] != (int)code) k++;
    atomic_fetch_add(&s->mx.by_code[k], 1);
    if (code >= 400) atomic_fetch_add(&s->mx.errors, 1);
    if (rs && rs->rt == R_PREDICT) {
        double dt = mt_now() - rs->t0;
        int bk = 0;
        while (bk < N_BUCKETS && dt > k_buckets[bk]) bk++;
        atomic_fetch_add(&s->mx.hist[bk], 1);
        atomic_fetch_add(&s->mx.hist_count, 1);
        atomic_fetch_add(&s->mx.hist_sum_ns, (unsigned long long)(dt * 1e9));
    }
    return ok;
}

static enum MHD_Result respond_json(server *s, struct MHD_Connection *c, req_state *rs, unsigned code, mt_sbuf *b) {
    return respond(s, c, rs, code, b, "application/json", NULL);
}

static enum MHD_Result respond_error(server *s, struct MHD_Connection *c, req_state *rs, unsigned code,
                                     const char *allow, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static enum MHD_Result respond_error(server *s, struct MHD_Connection *c, req_state *rs, unsigned code,
                                     const char *allow, const char *fmt, ...) {
    char msg[MT_ERR_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mt_sbuf b = {0};
    mt_http_encode_error(&b, msg);
    return respond(s, c, rs, code, &b, "application/json", allow);
}

/* Route url: "/v1/models/NAME[/versions/N][:predict|/metadata]" or "/metrics". A version in
 * the path goes to version[] (checked against the serving one when answering). Returns
 * R_NONE with a message for anything else (404). */
static route route_of(server *s, const char *url, char version[24], char *msg, size_t msg_len) {
    version[0] = '\0';
    if (!strcmp(url, "/metrics")) return R_METRICS;
    static const char pre[] = "/v1/models/";
    size_t nl = strlen(s->name);
    const char *nm = url + sizeof pre - 1;
    if (strncmp(url, pre, sizeof pre - 1)) goto no_path;
    size_t k = strcspn(nm, ":/");
    if (k != nl || strncmp(nm, s->name, nl)) {
        snprintf(msg, msg_len, "model '%.*s' not found (this server serves '%s')", (int)(k > 200 ? 200 : k), nm, s->name);
        return R_NONE;
    }
    const char *rest = nm + nl;
    static const char ver[] = "/versions/";
    if (!strncmp(rest, ver, sizeof ver - 1)) {
        const char *v = rest + sizeof ver - 1;
        size_t vl = strspn(v, "0123456789");
        if (vl == 0 || vl >= 24) goto no_path;
        memcpy(version, v, vl);
        version[vl] = '\0';
        rest = v + vl;
    }
    if (!strcmp(rest, ":predict")) return R_PREDICT;
    if (!strcmp(rest, "") || !strcmp(rest, "/")) return R_STATUS;
    if (!strcmp(rest, "/metadata")) return R_METADATA;
no_path:
    snprintf(msg, msg_len, "no such path: %.200s (try POST /v1/models/%s:predict)", url, s->name);
    return R_NONE;
}

/* A request naming a version must name the serving one: else 404 (and 1). */
static int version_missing(server *s, struct MHD_Connection *c, req_state *rs, const serve_model *sm,
                           enum MHD_Result *ret) {
    const char *v = mtrec_model_version(sm->m);
    if (!rs->version[0] || !strcmp(rs->version, v)) return 0;
    *ret = respond_error(s, c, rs, 404, NULL, "version %s of model '%s' is not available (serving version %s)",
                         rs->version, s->name, v);
    return 1;
}

/* POST :predict with the whole body in rs: decode, predict on a pooled predictor, encode. */
static enum MHD_Result handle_predict(server *s, struct MHD_Connection *c, req_state *rs) {
    mt_err e = {0};
    cJSON *root = NULL;
    if (mt_http_parse_json(rs->body, rs->len, &root, &e) != MTREC_OK)
        return respond_error(s, c, rs, 400, NULL, "%s", e.msg);
    serve_model *sm = model_acquire(s);
    enum MHD_Result ret;
    if (version_missing(s, c, rs, sm, &ret)) {
        cJSON_Delete(root);
        serve_model_release(sm);
        return ret;
    }
    int id = slot_take(sm);
    pred_slot *sl = &sm->slots[id];
    mt_predict_req rq;
    int code = 200;
    mt_sbuf b = {0};
    if (mt_http_decode_predict(root, sm->m, s->max_rows, &sl->scratch, &rq, &code, &e) != MTREC_OK) {
        mt_http_encode_error(&b, e.msg);
    } else {
        size_t need = mtrec_predict_output_size(sm->m, rq.n_rows);
        if (need > sl->out_cap) {
            float *o = realloc(sl->out, need * sizeof *o);
            if (o) { sl->out = o; sl->out_cap = need; }
        }
        mtrec_status st = MTREC_ERR_NOMEM;
        if (need <= sl->out_cap)
            st = rq.columnar ? mtrec_predict_columns(sl->p, rq.n_rows, rq.columns, sl->out, need)
                             : mtrec_predict_rows(sl->p, rq.n_rows, rq.values, sl->out, need);
        if (st == MTREC_OK) {
            mt_http_encode_predictions(&b, sm->m, rq.columnar, rq.n_rows, sl->out);
            atomic_fetch_add(&s->mx.rows, (unsigned long long)rq.n_rows);
        } else {
            code = st == MTREC_ERR_DATA || st == MTREC_ERR_ARG ? 400 : 500;
            mt_http_encode_error(&b, st == MTREC_ERR_NOMEM ? "out of memory" : mtrec_last_error());
        }
    }
    slot_put(sm, id);
    cJSON_Delete(root);  /* values pointed into it */
    serve_model_release(sm);
    return respond_json(s, c, rs, (unsigned)code, &b);
}

static void put_metrics(server *s, mt_sbuf *b) {
    metrics *mx = &s->mx;
    mt_sbuf_puts(b, "# HELP mtrec_requests_total HTTP requests answered, by status code.\n"
                    "# TYPE mtrec_requests_total counter\n");
    for (int k = 0; k <= N_CODES; k++) {
        unsigned long long v = atomic_load(&mx->by_code[k]);
        if (k < N_CODES) mt_sbuf_printf(b, "mtrec_requests_total{code=\"%d\"} %llu\n", k_codes[k], v);
        else mt_sbuf_printf(b, "mtrec_requests_total{code=\"other\"} %llu\n", v);
    }
    mt_sbuf_printf(b, "# HELP mtrec_request_errors_total HTTP requests answered with a 4xx or 5xx status.\n"
                      "# TYPE mtrec_request_errors_total counter\nmtrec_request_errors_total %llu\n",
                   atomic_load(&mx->errors));
    mt_sbuf_printf(b, "# HELP mtrec_rows_predicted_total Rows predicted by successful predict requests.\n"
                      "# TYPE mtrec_rows_predicted_total counter\nmtrec_rows_predicted_total %llu\n",
                   atomic_load(&mx->rows));
    mt_sbuf_puts(b, "# HELP mtrec_request_duration_seconds Time to answer a predict request, from its headers.\n"
                    "# TYPE mtrec_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int k = 0; k < N_BUCKETS; k++) {
        cum += atomic_load(&mx->hist[k]);
        mt_sbuf_printf(b, "mtrec_request_duration_seconds_bucket{le=\"%g\"} %llu\n", k_buckets[k], cum);
    }
    unsigned long long count = atomic_load(&mx->hist_count);
    mt_sbuf_printf(b, "mtrec_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", count);
    mt_sbuf_printf(b, "mtrec_request_duration_seconds_sum %.9f\n", (double)atomic_load(&mx->hist_sum_ns) * 1e-9);
    mt_sbuf_printf(b, "mtrec_request_duration_seconds_count %llu\n", count);
    serve_model *sm = model_acquire(s);
    mt_sbuf_puts(b, "# HELP mtrec_model_version The model version being served (value 1).\n"
                    "# TYPE mtrec_model_version gauge\nmtrec_model_version{model=\"");
    mt_sbuf_puts(b, s->name);  /* names and versions are checked to be label-safe at start */
    mt_sbuf_puts(b, "\",version=\"");
    mt_sbuf_puts(b, mtrec_model_version(sm->m));
    mt_sbuf_puts(b, "\"} 1\n");
    serve_model_release(sm);
    mt_sbuf_printf(b, "# HELP mtrec_model_swaps_total New model versions swapped in while serving.\n"
                      "# TYPE mtrec_model_swaps_total counter\nmtrec_model_swaps_total %llu\n",
                   atomic_load(&mx->swaps));
    mt_sbuf_printf(b, "# HELP mtrec_model_load_failures_total New model versions that failed to load.\n"
                      "# TYPE mtrec_model_load_failures_total counter\nmtrec_model_load_failures_total %llu\n",
                   atomic_load(&mx->load_failures));
}

/* GET routes: answered at once from the serving model. */
static enum MHD_Result handle_get(server *s, struct MHD_Connection *c, req_state *rs) {
    mt_sbuf b = {0};
    if (rs->rt == R_METRICS) {
        put_metrics(s, &b);
        return respond(s, c, rs, 200, &b, "text/plain; version=0.0.4; charset=utf-8", NULL);
    }
    serve_model *sm = model_acquire(s);
    enum MHD_Result ret;
    if (version_missing(s, c, rs, sm, &ret)) {
        serve_model_release(sm);
        return ret;
    }
    if (rs->rt == R_STATUS) mt_http_encode_status(&b, sm->m);
    else mt_http_encode_metadata(&b, s->name, sm->m);
    serve_model_release(sm);
    return respond_json(s, c, rs, 200, &b);
}

/* MHD's access handler: called once with the headers, then with each piece of the body, then
 * once more with *upload_data_size == 0. Errors found from the headers alone (path, method,
 * Content-Length over the limit) are answered at once, before any of the body is read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    server *s = cls;
    req_state *rs = *con_cls;
    if (!rs) {
        rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        rs->t0 = mt_now();
        *con_cls = rs;
        atomic_fetch_add(&s->inflight, 1);
        char msg[512];
        rs->rt = route_of(s, url, rs->version, msg, sizeof msg);
        if (rs->rt == R_NONE) return respond_error(s, c, rs, 404, NULL, "%s", msg);
        int is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
        int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
        if (rs->rt == R_PREDICT && !is_post)
            return respond_error(s, c, rs, 405, "POST", "%.20s is not allowed on %.200s: use POST", method, url);
        if (rs->rt != R_PREDICT && !is_get)
            return respond_error(s, c, rs, 405, "GET, HEAD", "%.20s is not allowed on %.200s: use GET", method, url);
        if (rs->rt != R_PREDICT) return handle_get(s, c, rs);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            unsigned long long n = strtoull(cl, NULL, 10);
            if (n > s->max_body)
                return respond_error(s, c, rs, 413, NULL, "request body of %llu bytes is over the limit of %zu bytes", n,
                                     s->max_body);
            /* reserve what is announced, up to 1 MiB: the rest when it really arrives */
            size_t want = n < ((size_t)1 << 20) ? (size_t)n : (size_t)1 << 20;
            if (want && !(rs->body = malloc(want))) return respond_error(s, c, rs, 500, NULL, "out of memory");
            rs->cap = rs->body ? want : 0;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {  /* a piece of the body (chunked bodies have no Content-Length) */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        /* MHD cannot answer before the body ends: a chunked body over the limit is discarded
         * as it comes and answered 413 at its end; past 4x the limit the connection is closed */
        rs->seen += n;
        if (rs->seen / 4 > s->max_body) return MHD_NO;
        if (rs->too_large || rs->len + n > s->max_body) {
            rs->too_large = 1;
            free(rs->body);
            rs->body = NULL;
            rs->len = rs->cap = 0;
            return MHD_YES;
        }
        if (rs->len + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 4096;
            while (cap < rs->len + n) cap *= 2;
            if (cap > s->max_body) cap = s->max_body;
            char *p = realloc(rs->body, cap);
            if (!p) return MHD_NO;
            rs->body = p;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, n);
        rs->len += n;
        return MHD_YES;
    }
    if (rs->too_large)
        return respond_error(s, c, rs, 413, NULL, "request body is over the limit of %zu bytes", s->max_body);
    return handle_predict(s, c, rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    server *s = cls;
    req_state *rs = *con_cls;
    if (!rs) return;
    free(rs->body);
    free(rs);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ==== hot swap ============================================================================ */
/* Path of the version to serve from model_path: its newest complete version, or model_path
 * itself when it is a version folder. malloc'ed. */
static char *version_path(const char *model_path) {
    char *p = mt_export_latest(model_path);
    return p ? p : mt_strdup(model_path);
}

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *b = path + n;
    while (b > path && b[-1] != '/') b--;
    return b;
}

/* Version names appear in Prometheus labels and logs: allow only a conservative set. */
static int label_safe(const char *v) {
    for (; *v; v++)
        if (*v == '"' || *v == '\\' || *v == '\n') return 0;
    return 1;
}

/* If model_path's newest version is not the one serving (nor one that failed before), load
 * it with its pool and swap it in; requests holding the old model finish on it. */
static void poll_versions(server *s, int threads, char **failed) {
    char *latest = mt_export_latest(s->model_path);
    if (!latest) return;
    const char *ver = base_name(latest);
    int same = !strcmp(ver, mtrec_model_version(s->cur->m)) || (*failed && !strcmp(*failed, latest));
    if (same) { free(latest); return; }
    mt_err e = {0};
    serve_model *sm = NULL;
    double t0 = mt_now();
    if (!label_safe(ver)) mt_fail(&e, MTREC_ERR_CHECKPOINT, "version name has quotes, backslashes or newlines");
    else serve_model_load(latest, threads, &sm, &e);
    if (!sm) {
        atomic_fetch_add(&s->mx.load_failures, 1);
        slog(s, "new version %s failed to load, still serving version %s: %s", latest, mtrec_model_version(s->cur->m),
             e.msg);
        free(*failed);
        *failed = latest;
        return;
    }
    pthread_mutex_lock(&s->cur_mu);
    serve_model *old = s->cur;
    s->cur = sm;
    pthread_mutex_unlock(&s->cur_mu);
    atomic_fetch_add(&s->mx.swaps, 1);
    slog(s, "now serving version %s of model '%s' from %s (loaded in %.3f s; was version %s)", mtrec_model_version(sm->m),
         s->name, latest, mt_now() - t0, mtrec_model_version(old->m));
    serve_model_release(old);
    free(latest);
}

/* ==== the run loop ======================================================================== */
static mtrec_status resolve_addr(const char *host, int port, struct sockaddr_storage *ss, int *v6, mt_err *e) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    int rc = getaddrinfo(host, ports, &hints, &res);
    if (rc || !res) return mt_fail(e, MTREC_ERR_ARG, "serve: cannot resolve host '%s': %s", host, gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return MTREC_OK;
}

static void sleep_seconds(double sec) {
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {}
}

mtrec_status mt_serve_run(const mt_serve_opts *o, mt_err *e) {
    if (!o || !o->model_path || !o->stop) return mt_fail(e, MTREC_ERR_ARG, "serve: model_path and stop are required");
    server s;
    memset(&s, 0, sizeof s);
    s.name = o->model_name && *o->model_name ? o->model_name : "model";
    s.model_path = o->model_path;
    s.max_rows = o->max_rows > 0 ? o->max_rows : 10000;
    s.max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)8 << 20;
    s.log = o->log;
    s.ctx = o->ctx;
    int threads = o->threads > 0 ? o->threads : 2;
    int port = o->port < 0 ? MT_SERVE_DEFAULT_PORT : o->port;
    double poll = o->poll_seconds == 0 ? 2.0 : o->poll_seconds;
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    if (port > 65535) return mt_fail(e, MTREC_ERR_ARG, "serve: port %d is out of range", port);
    mt_http_json_use_arena();  /* request bodies parse into per-thread arenas */
    if (strpbrk(s.name, "/:\"\\?# \n")) return mt_fail(e, MTREC_ERR_ARG, "serve: model name '%s' may not hold / : \" \\ ? # or blanks", s.name);

    char *path = version_path(o->model_path);
    if (!path) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    double t0 = mt_now();
    mtrec_status st = serve_model_load(path, threads, &s.cur, e);
    if (st == MTREC_OK && !label_safe(mtrec_model_version(s.cur->m)))
        st = mt_fail(e, MTREC_ERR_CHECKPOINT, "version name has quotes, backslashes or newlines");
    if (st != MTREC_OK) {
        mt_err_prefix(e, "serve: cannot load the model at %s", path);
        serve_model_release(s.cur);
        free(path);
        return st;
    }
    struct sockaddr_storage addr;
    int v6 = 0;
    if ((st = resolve_addr(host, port, &addr, &v6, e)) != MTREC_OK) {
        serve_model_release(s.cur);
        free(path);
        return st;
    }
    pthread_mutex_init(&s.cur_mu, NULL);
    pthread_mutex_init(&s.log_mu, NULL);
    slog(&s, "loaded version %s of model '%s' from %s in %.3f s (%d inputs, %d outputs, %s weights, %d predictors)",
         mtrec_model_version(s.cur->m), s.name, path, mt_now() - t0, mtrec_model_num_inputs(s.cur->m),
         mtrec_model_num_outputs(s.cur->m), mtrec_model_precision(s.cur->m), threads);
    free(path);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, &s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
        /* last: a pool of one thread is no pool (MHD warns), so the list ends here then */
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (unsigned)threads,
        MHD_OPTION_END);
    if (!d) {
        st = mt_fail(e, MTREC_ERR_IO, "serve: cannot listen on %s:%d (address in use or not available)", host, port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? (int)info->port : port;
    slog(&s, "listening on %s%s%s:%d (model '%s': POST /v1/models/%s:predict; %d threads)", v6 ? "[" : "", host,
         v6 ? "]" : "", bound, s.name, s.name, threads);
    if (o->on_ready) o->on_ready(o->ctx, bound);

    char *failed = NULL;
    double next_poll = mt_now() + poll;
    while (!*o->stop) {
        sleep_seconds(0.02);
        if (poll > 0 && mt_now() >= next_poll) {
            poll_versions(&s, threads, &failed);
            next_poll = mt_now() + poll;
        }
    }
    free(failed);

    /* drain: stop accepting, let requests in flight finish, then stop the threads */
    atomic_store(&s.stopping, 1);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    int left = atomic_load(&s.inflight);
    slog(&s, "stopping: %d request%s in flight", left, left == 1 ? "" : "s");
    double until = mt_now() + DRAIN_SECONDS;
    while (atomic_load(&s.inflight) > 0 && mt_now() < until) sleep_seconds(0.005);
    if ((left = atomic_load(&s.inflight)) > 0) slog(&s, "stopping: gave up waiting for %d request%s", left, left == 1 ? "" : "s");
    MHD_stop_daemon(d);
    slog(&s, "stopped after %llu predict requests", (unsigned long long)atomic_load(&s.mx.hist_count));
    st = MTREC_OK;
out:
    serve_model_release(s.cur);
    pthread_mutex_destroy(&s.cur_mu);
    pthread_mutex_destroy(&s.log_mu);
    return st;
}
