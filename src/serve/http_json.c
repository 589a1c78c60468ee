/* http_json.c: JSON decoding of predict bodies and encoding of every `mtrec serve` answer
 * (see http_json.h). Owns no sockets and no model state; http_server.c calls it. */
#include "serve/http_json.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tag lists sent as JSON arrays are joined with this, the features' default separator. */
#define MT_LIST_SEP '|'

/* ==== text buffer ========================================================================= */
static int sbuf_reserve(mt_sbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return -1; }
    b->p = p;
    b->cap = cap;
    return 0;
}

void mt_sbuf_put(mt_sbuf *b, const char *s, size_t n) {
    if (sbuf_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mt_sbuf_puts(mt_sbuf *b, const char *s) { mt_sbuf_put(b, s, strlen(s)); }

void mt_sbuf_printf(mt_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if ((size_t)n < sizeof tmp) { mt_sbuf_put(b, tmp, (size_t)n); return; }
    if (sbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mt_sbuf_json_str(mt_sbuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    mt_sbuf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mt_sbuf_put(b, run, (size_t)(s - run));
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') { esc[1] = (char)c; mt_sbuf_put(b, esc, 2); }
        else if (c == '\n') mt_sbuf_put(b, "\\n", 2);
        else if (c == '\t') mt_sbuf_put(b, "\\t", 2);
        else if (c == '\r') mt_sbuf_put(b, "\\r", 2);
        else mt_sbuf_put(b, esc, 6);
        run = s + 1;
    }
    mt_sbuf_put(b, run, (size_t)(s - run));
    mt_sbuf_put(b, "\"", 1);
}

void mt_sbuf_free(mt_sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ==== arena ============================================================================== */
/* Used for the slots' text (converted numbers, joined lists) and for cJSON's nodes (below). */
struct mt_arena_blk {
    mt_arena_blk *next;
    size_t used, cap;
    _Alignas(16) char data[];
};

#define ARENA_BLOCK (64 * 1024)

/* n bytes (16-byte aligned when align16) from the arena: the current block, else the next
 * kept block that fits, else a new block linked after the current one. NULL when out of
 * memory. */
static char *arena_alloc(mt_arena *a, size_t n, int align16) {
    mt_arena_blk *b = a->cur;
    size_t at = b ? (align16 ? (b->used + 15) & ~(size_t)15 : b->used) : 0;
    while (b && (at > b->cap || b->cap - at < n)) {
        b = b->next;
        at = 0;
        if (b) b->used = 0;
    }
    if (!b) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        at = 0;
        if (a->cur) { b->next = a->cur->next; a->cur->next = b; }
        else { b->next = a->head; a->head = b; }
    }
    a->cur = b;
    char *p = b->data + at;
    b->used = at + n;
    return p;
}

static void arena_reset(mt_arena *a) {
    a->cur = a->head;
    if (a->head) a->head->used = 0;
}

static void arena_free(mt_arena *a) {
    for (mt_arena_blk *b = a->head, *n; b; b = n) { n = b->next; free(b); }
    a->head = a->cur = NULL;
}

/* 1 when p lies in one of the arena's blocks */
static int arena_owns(const mt_arena *a, const void *p) {
    for (const mt_arena_blk *b = a->head; b; b = b->next)
        if ((const char *)p >= b->data && (const char *)p < b->data + b->cap) return 1;
    return 0;
}

void mt_req_scratch_free(mt_req_scratch *s) {
    arena_free(&s->arena);
    free(s->values);
    free(s->columns);
    free(s->stamp);
    free(s->next_key);
    memset(s, 0, sizeof *s);
}

/* Grow s's arrays to hold n_vals values and n_in inputs. */
static int scratch_reserve(mt_req_scratch *s, size_t n_vals, int n_in) {
    if (n_vals > s->values_cap) {
        const char **v = realloc(s->values, n_vals * sizeof *v);
        if (!v) return -1;
        s->values = v;
        s->values_cap = n_vals;
    }
    if (n_in > s->columns_cap) {
        const char ***c = realloc(s->columns, (size_t)n_in * sizeof *c);
        if (!c) return -1;
        s->columns = c;
        s->columns_cap = n_in;
    }
    if (n_in > s->stamp_cap) {
        int *st = realloc(s->stamp, (size_t)n_in * sizeof *st);
        if (!st) return -1;
        s->stamp = st;
        int *nk = realloc(s->next_key, ((size_t)n_in + 1) * sizeof *nk);
        if (!nk) return -1;
        s->next_key = nk;
        s->stamp_cap = n_in;
    }
    return 0;
}

/* ==== decoding ============================================================================ */
/* ==== cJSON's allocations of a request body: a per-thread arena ========================== */
/* A 100-row body is ~3,500 cJSON nodes and strings, each a malloc and a free (10-13% of a
 * request in perf). With mt_http_json_use_arena() installed as cJSON's hooks, the nodes of
 * the tree mt_http_parse_json builds come from a per-thread bump arena, reset at the next
 * parse on the same thread (the server parses and deletes a body on one thread, and a
 * thread holds one body at a time); freeing an arena pointer is a no-op, anything else
 * (cJSON used outside a parse, e.g. export signatures) goes to malloc/free. The blocks are
 * released when the thread exits (a pthread key destructor). Hand-written: glibc has no
 * per-thread region allocator, and cJSON's hooks are the interface it offers. */
typedef struct json_arena {
    mt_arena a;
    int active;      /* inside mt_http_parse_json */
    int keyed;       /* registered for the thread-exit destructor */
} json_arena;

static _Thread_local json_arena tl_json;
static pthread_key_t json_key;
static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_arena_release(void *p) { arena_free(&((json_arena *)p)->a); }

static void json_key_init(void) { (void)pthread_key_create(&json_key, json_arena_release); }

static void *json_alloc(size_t n) {
    json_arena *t = &tl_json;
    if (!t->active) return malloc(n);
    if (!t->keyed) {
        pthread_once(&json_once, json_key_init);
        t->keyed = pthread_setspecific(json_key, t) == 0;
    }
    return arena_alloc(&t->a, n, 1);
}

static void json_release(void *p) {
    if (!arena_owns(&tl_json.a, p)) free(p);
}

void mt_http_json_use_arena(void) {
    static cJSON_Hooks hooks = {json_alloc, json_release};
    cJSON_InitHooks(&hooks);
}

mtrec_status mt_http_parse_json(const char *body, size_t len, cJSON **root, mt_err *e) {
    *root = NULL;
    if (len == 0) return mt_fail(e, MTREC_ERR_DATA, "empty request body (expected a JSON object)");
    const char *end = NULL;
    arena_reset(&tl_json.a);  /* the previous body's tree is dead: its blocks are reused */
    tl_json.active = 1;
    cJSON *r = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    tl_json.active = 0;
    size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
    if (r) {  /* only whitespace may follow the value */
        while (off < len && (body[off] == ' ' || body[off] == '\t' || body[off] == '\n' || body[off] == '\r')) off++;
        if (off == len) { *root = r; return MTREC_OK; }
        cJSON_Delete(r);
    }
    int line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (body[i] == '\n') { line++; col = 1; } else col++;
    }
    return mt_fail(e, MTREC_ERR_DATA, "malformed JSON at byte %zu (line %d, column %d)%s", off, line, col,
                   r ? ": trailing characters after the value" : "");
}

/* Text of a JSON number as a CSV would hold it: integers without a decimal point, other
 * values with the fewest digits (15..17) that read back to the same double. */
static int number_text(double v, char buf[40]) {
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) return snprintf(buf, 40, "%" PRId64, (int64_t)v);
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return n;
}

static int is_text_bool(mtrec_input_type t) { return t == MTREC_INPUT_BOOL || t == MTREC_INPUT_STRING; }

/* Text of one scalar JSON value (string, number, bool) for an input of type t into buf (for
 * numbers and bools) or *s (strings, pointing into the tree). Returns the length, -1 when
 * the value is not a scalar. */
static int scalar_text(const cJSON *v, mtrec_input_type t, char buf[40], const char **s) {
    if (cJSON_IsString(v)) { *s = v->valuestring; return (int)strlen(v->valuestring); }
    *s = buf;
    if (cJSON_IsNumber(v)) return number_text(v->valuedouble, buf);
    if (cJSON_IsBool(v)) {
        const char *b = cJSON_IsTrue(v) ? (is_text_bool(t) ? "true" : "1") : (is_text_bool(t) ? "false" : "0");
        strcpy(buf, b);
        return (int)strlen(b);
    }
    return -1;
}

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    return "an invalid value";
}

/* Text of value v for input i into *out (NULL for null = the input's default); arrays of
 * scalars are joined with '|'. Returns 0, -1 when out of memory, or -2 when v (or, for a
 * list, item *bad_item) is not a valid value. */
static int value_text(const cJSON *v, mtrec_input_type t, mt_req_scratch *s, const char **out, int *bad_item) {
    char buf[40];
    const char *txt;
    if (cJSON_IsNull(v)) { *out = NULL; return 0; }
    if (cJSON_IsString(v)) { *out = v->valuestring; return 0; }
    if (cJSON_IsArray(v)) {  /* a list of tags: two passes, sizes then text */
        size_t total = 0;
        int k = 0;
        for (const cJSON *x = v->child; x; x = x->next, k++) {
            int n = scalar_text(x, t, buf, &txt);
            if (n < 0) { *bad_item = k; return -2; }
            total += (size_t)n + 1;
        }
        char *p = arena_alloc(&s->arena, total ? total : 1, 0);
        if (!p) return -1;
        size_t at = 0;
        for (const cJSON *x = v->child; x; x = x->next) {
            int n = scalar_text(x, t, buf, &txt);
            if (at) p[at++] = MT_LIST_SEP;
            memcpy(p + at, txt, (size_t)n);
            at += (size_t)n;
        }
        p[at] = '\0';
        *out = p;
        return 0;
    }
    *bad_item = -1;
    int n = scalar_text(v, t, buf, &txt);
    if (n < 0) return -2;
    char *p = arena_alloc(&s->arena, (size_t)n + 1, 0);
    if (!p) return -1;
    memcpy(p, txt, (size_t)n + 1);
    *out = p;
    return 0;
}

/* The message of a value_text failure; `where` names the value ("instances[3].user_id"). */
static mtrec_status value_error(int rc, const cJSON *v, int bad_item, const char *where, int *http_code, mt_err *e) {
    if (rc == -1) { *http_code = 500; return mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); }
    *http_code = 400;
    if (bad_item >= 0)
        return mt_fail(e, MTREC_ERR_DATA, "%s[%d]: list items must be strings, numbers or booleans, not %s", where,
                       bad_item, json_kind(cJSON_GetArrayItem(v, bad_item)));
    return mt_fail(e, MTREC_ERR_DATA, "%s: values must be numbers, strings, booleans, null or lists, not %s", where,
                   json_kind(v));
}

/* Index of input `name`, or a 400 naming it (typos must not silently become defaults). */
static mtrec_status input_of(const mtrec_model *m, const char *name, const char *where, int *idx, mt_err *e) {
    *idx = mtrec_model_input_index(m, name);
    if (*idx >= 0) return MTREC_OK;
    return mt_fail(e, MTREC_ERR_DATA, "%s: unknown input '%s' (GET /v1/models/<name>/metadata lists the inputs)",
                   where, name);
}

static mtrec_status rows_limit(int n, int max_rows, const char *what, int *http_code, mt_err *e) {
    *http_code = 400;
    if (n == 0) { *http_code = 400; return mt_fail(e, MTREC_ERR_DATA, "%s is empty: nothing to predict", what); }
    if (n > max_rows) {
        *http_code = 413;
        return mt_fail(e, MTREC_ERR_DATA, "%s has %d rows, more than the limit of %d per request", what, n, max_rows);
    }
    return MTREC_OK;
}

static mtrec_status decode_instances(const cJSON *inst, const mtrec_model *m, int max_rows, mt_req_scratch *s,
                                     mt_predict_req *req, int *http_code, mt_err *e) {
    *http_code = 400;
    if (!cJSON_IsArray(inst))
        return mt_fail(e, MTREC_ERR_DATA, "\"instances\" must be an array of objects, not %s", json_kind(inst));
    int n = cJSON_GetArraySize(inst), ni = mtrec_model_num_inputs(m);
    mtrec_status st = rows_limit(n, max_rows, "\"instances\"", http_code, e);
    if (st) return st;
    if (scratch_reserve(s, (size_t)n * (size_t)ni, ni)) { *http_code = 500; return mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); }
    const char **vals = s->values;
    for (size_t k = 0; k < (size_t)n * (size_t)ni; k++) vals[k] = NULL;
    for (int i = 0; i < ni; i++) s->stamp[i] = -1;
    for (int i = 0; i <= ni; i++) s->next_key[i] = -1;
    int r = 0;
    char where[48];
    for (const cJSON *row = inst->child; row; row = row->next, r++) {
        if (!cJSON_IsObject(row)) {
            snprintf(where, sizeof where, "instances[%d]", r);
            return mt_fail(e, MTREC_ERR_DATA, "%s must be an object {input: value, ...}, not %s", where, json_kind(row));
        }
        int prev = -1;
        for (const cJSON *f = row->child; f; f = f->next) {
            int i = s->next_key[prev + 1];
            if (i < 0 || strcmp(mtrec_model_input_name(m, i), f->string) != 0) {
                snprintf(where, sizeof where, "instances[%d]", r);
                if (input_of(m, f->string, where, &i, e)) return MTREC_ERR_DATA;
                s->next_key[prev + 1] = i;
            }
            prev = i;
            if (s->stamp[i] == r)
                return mt_fail(e, MTREC_ERR_DATA, "instances[%d]: input '%s' given twice", r, f->string);
            s->stamp[i] = r;
            int bad, rc = value_text(f, mtrec_model_input_type(m, i), s, &vals[(size_t)r * ni + i], &bad);
            if (rc) {
                char w[96];
                snprintf(w, sizeof w, "instances[%d].%s", r, f->string);
                return value_error(rc, f, bad, w, http_code, e);
            }
        }
    }
    req->columnar = 0;
    req->n_rows = n;
    req->values = vals;
    req->columns = NULL;
    return MTREC_OK;
}

static mtrec_status decode_inputs(const cJSON *in, const mtrec_model *m, int max_rows, mt_req_scratch *s,
                                  mt_predict_req *req, int *http_code, mt_err *e) {
    *http_code = 400;
    if (!cJSON_IsObject(in))
        return mt_fail(e, MTREC_ERR_DATA, "\"inputs\" must be an object {input: [values], ...}, not %s", json_kind(in));
    int ni = mtrec_model_num_inputs(m), n = -1;
    const char *first = NULL;
    for (const cJSON *c = in->child; c; c = c->next) {  /* names, kinds and a common length */
        int i;
        if (input_of(m, c->string, "inputs", &i, e)) return MTREC_ERR_DATA;
        if (!cJSON_IsArray(c))
            return mt_fail(e, MTREC_ERR_DATA, "inputs.%s must be an array with one value per row, not %s", c->string,
                           json_kind(c));
        int len = cJSON_GetArraySize(c);
        if (n < 0) { n = len; first = c->string; }
        else if (len != n)
            return mt_fail(e, MTREC_ERR_DATA, "inputs.%s has %d values but inputs.%s has %d: every input needs one per row",
                           c->string, len, first, n);
    }
    if (n < 0) n = 0;
    mtrec_status st = rows_limit(n, max_rows, "\"inputs\"", http_code, e);
    if (st) return st;
    if (scratch_reserve(s, (size_t)n * (size_t)ni, ni)) { *http_code = 500; return mt_fail(e, MTREC_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < ni; i++) s->columns[i] = NULL;
    for (const cJSON *c = in->child; c; c = c->next) {
        int i = mtrec_model_input_index(m, c->string);
        if (s->columns[i]) return mt_fail(e, MTREC_ERR_DATA, "inputs: input '%s' given twice", c->string);
        const char **col = s->values + (size_t)i * (size_t)n;
        s->columns[i] = col;
        mtrec_input_type t = mtrec_model_input_type(m, i);
        int r = 0;
        for (const cJSON *v = c->child; v; v = v->next, r++) {
            int bad, rc = value_text(v, t, s, &col[r], &bad);
            if (rc) {
                char w[96];
                snprintf(w, sizeof w, "inputs.%s[%d]", c->string, r);
                return value_error(rc, v, bad, w, http_code, e);
            }
        }
    }
    req->columnar = 1;
    req->n_rows = n;
    req->values = NULL;
    req->columns = (const char *const *const *)s->columns;
    return MTREC_OK;
}

mtrec_status mt_http_decode_predict(const cJSON *root, const mtrec_model *m, int max_rows, mt_req_scratch *s,
                                    mt_predict_req *req, int *http_code, mt_err *e) {
    *http_code = 400;
    memset(req, 0, sizeof *req);
    arena_reset(&s->arena);
    if (!cJSON_IsObject(root))
        return mt_fail(e, MTREC_ERR_DATA, "the request must be a JSON object with \"instances\" or \"inputs\", not %s",
                       json_kind(root));
    const cJSON *inst = NULL, *in = NULL;
    for (const cJSON *k = root->child; k; k = k->next) {
        if (!strcmp(k->string, "instances")) inst = k;
        else if (!strcmp(k->string, "inputs")) in = k;
        else if (!strcmp(k->string, "signature_name")) {
            if (!cJSON_IsString(k)) return mt_fail(e, MTREC_ERR_DATA, "\"signature_name\" must be a string");
        } else
            return mt_fail(e, MTREC_ERR_DATA, "unknown key \"%s\" in the request (expected \"instances\" or \"inputs\")",
                           k->string);
    }
    if (inst && in) return mt_fail(e, MTREC_ERR_DATA, "give either \"instances\" (rows) or \"inputs\" (columns), not both");
    if (!inst && !in) return mt_fail(e, MTREC_ERR_DATA, "the request needs \"instances\" (rows) or \"inputs\" (columns)");
    mtrec_status st = inst ? decode_instances(inst, m, max_rows, s, req, http_code, e)
                           : decode_inputs(in, m, max_rows, s, req, http_code, e);
    if (st == MTREC_OK) *http_code = 200;
    return st;
}

/* ==== encoding ============================================================================ */
/* 10^n in long double for n in 0..60 (compiler-rounded literals: exact for n <= 27, since
 * 5^27 < 2^64; correctly rounded above). */
static const long double k_pow10l[61] = {1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L, 1e28L, 1e29L, 1e30L, 1e31L, 1e32L, 1e33L, 1e34L, 1e35L, 1e36L, 1e37L, 1e38L, 1e39L, 1e40L, 1e41L, 1e42L, 1e43L, 1e44L, 1e45L, 1e46L, 1e47L, 1e48L, 1e49L, 1e50L, 1e51L, 1e52L, 1e53L, 1e54L, 1e55L, 1e56L, 1e57L, 1e58L, 1e59L, 1e60L};

/* |v| (as d) printed with p significant digits: the nearest p-digit decimal m * 10^(e10-p+1);
 * 1 if it reads back as the float v. Scales by exact powers of ten with one multiplication
 * or division (never an inexact reciprocal), so a decimal exactly halfway between two
 * floats rounds to even as strtof does. *e10 moves up when rounding carries into a new
 * decade. */
static int digits_round_trip(long double d, float av, int p, int *e10, long long *m) {
    static const long long top[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                      1000000000};
    int e = *e10, k = p - 1 - e;
    long double pk = k_pow10l[k < 0 ? -k : k];
    long long q = llroundl(k >= 0 ? d * pk : d / pk);
    if (q >= top[p]) { /* carried into the next decade: same digit count one power higher */
        e++;
        k--;
        pk = k_pow10l[k < 0 ? -k : k];
        q = llroundl(k >= 0 ? d * pk : d / pk);
    }
    long double back = k >= 0 ? (long double)q / pk : (long double)q * pk;
    *m = q;
    *e10 = e;
    return (float)back == av;
}

/* Shortest decimal text (at most 9 significant digits) that reads back as v, in plain
 * notation for 1e-5 <= |v| < 1e17 and d.ddde[+-]X otherwise; "null" for NaN/inf (JSON has
 * no such numbers). Hand-written because printf has no shortest-float conversion and
 * "%.9g" was 5-7% of a 100-row request. The digit count is found by bisection (more
 * digits never read back worse, except next to powers of two, hence the final downward
 * check) in long double (64-bit mantissa), whose error (~1e-19 relative) is far below what
 * separates a 9-digit decimal from a float rounding boundary; snprintf is the fallback.
 * tests/test_http_json.c compares it with strtof and printf on 600k floats. */
int mt_json_format_float(float v, char *buf) {
    if (!isfinite(v)) { memcpy(buf, "null", 5); return 4; }
    char *o = buf;
    if (signbit(v)) *o++ = '-';
    float av = fabsf(v);
    long double d = (long double)av;
    if (d == 0) { *o++ = '0'; *o = '\0'; return (int)(o - buf); }
    /* decimal exponent: 10^e10 <= d < 10^(e10+1), from the binary exponent then corrected */
    int be;
    frexpf(av, &be);
    int e10 = (int)floor((be - 1) * 0.30102999566398120);
    for (;;) {
        long double lo = e10 >= 0 ? k_pow10l[e10] : 1 / k_pow10l[-e10];
        if (lo > d) e10--;
        else if (lo * 10 <= d) e10++;
        else break;
    }
    int lo_p = 1, hi_p = 9, best_e = e10;
    long long best_m = 0, m;
    int e = e10;
    if (!digits_round_trip(d, av, 9, &e, &m)) return snprintf(buf, 32, "%.9g", (double)v);
    best_m = m;
    best_e = e;
    while (lo_p < hi_p) { /* invariant: hi_p digits read back */
        int mid = (lo_p + hi_p) / 2;
        e = e10;
        if (digits_round_trip(d, av, mid, &e, &m)) { hi_p = mid; best_m = m; best_e = e; }
        else lo_p = mid + 1;
    }
    int p = hi_p;
    while (p > 1) {
        e = e10;
        if (!digits_round_trip(d, av, p - 1, &e, &m)) break;
        p--;
        best_m = m;
        best_e = e;
    }
    m = best_m;
    e10 = best_e;
    char dig[12];
    for (int k = p - 1; k >= 0; k--) { dig[k] = (char)('0' + m % 10); m /= 10; }
    if (e10 >= -5 && e10 < 17) {
        if (e10 < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int k = 0; k < -e10 - 1; k++) *o++ = '0';
            memcpy(o, dig, (size_t)p);
            o += p;
        } else if (e10 >= p - 1) {
            memcpy(o, dig, (size_t)p);
            o += p;
            for (int k = 0; k < e10 - (p - 1); k++) *o++ = '0';
        } else {
            memcpy(o, dig, (size_t)e10 + 1);
            o += e10 + 1;
            *o++ = '.';
            memcpy(o, dig + e10 + 1, (size_t)(p - e10 - 1));
            o += p - e10 - 1;
        }
    } else {
        *o++ = dig[0];
        if (p > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)p - 1);
            o += p - 1;
        }
        o += sprintf(o, "e%d", e10);
    }
    *o = '\0';
    return (int)(o - buf);
}

static void put_float(mt_sbuf *b, float v) {
    char tmp[32];
    int n = mt_json_format_float(v, tmp);
    mt_sbuf_put(b, tmp, (size_t)n);
}

void mt_http_encode_predictions(mt_sbuf *b, const mtrec_model *m, int columnar, int n_rows, const float *out) {
    int no = mtrec_model_num_outputs(m);
    /* one allocation of about the answer's size instead of a chain of doublings */
    size_t names = 0;
    for (int j = 0; j < no; j++) names += strlen(mtrec_model_output_name(m, j)) + 4;
    sbuf_reserve(b, 32 + (columnar ? names + (size_t)n_rows * (size_t)no * 16
                                   : (size_t)n_rows * (names + (size_t)no * 16 + 4)));
    if (!columnar) {
        mt_sbuf_puts(b, "{\"predictions\":[");
        for (int r = 0; r < n_rows; r++) {
            mt_sbuf_puts(b, r ? ",{" : "{");
            for (int j = 0; j < no; j++) {
                if (j) mt_sbuf_put(b, ",", 1);
                mt_sbuf_json_str(b, mtrec_model_output_name(m, j));
                mt_sbuf_put(b, ":", 1);
                put_float(b, out[(size_t)r * no + j]);
            }
            mt_sbuf_put(b, "}", 1);
        }
        mt_sbuf_puts(b, "]}");
        return;
    }
    mt_sbuf_puts(b, "{\"outputs\":{");
    for (int j = 0; j < no; j++) {
        if (j) mt_sbuf_put(b, ",", 1);
        mt_sbuf_json_str(b, mtrec_model_output_name(m, j));
        mt_sbuf_put(b, ":[", 2);
        for (int r = 0; r < n_rows; r++) {
            if (r) mt_sbuf_put(b, ",", 1);
            put_float(b, out[(size_t)r * no + j]);
        }
        mt_sbuf_put(b, "]", 1);
    }
    mt_sbuf_puts(b, "}}");
}

void mt_http_encode_error(mt_sbuf *b, const char *msg) {
    mt_sbuf_puts(b, "{\"error\":");
    mt_sbuf_json_str(b, msg);
    mt_sbuf_puts(b, "}");
}

void mt_http_encode_status(mt_sbuf *b, const mtrec_model *m) {
    mt_sbuf_puts(b, "{\"model_version_status\":[{\"version\":");
    mt_sbuf_json_str(b, mtrec_model_version(m));
    mt_sbuf_puts(b, ",\"state\":\"AVAILABLE\",\"status\":{\"error_code\":\"OK\",\"error_message\":\"\"}}]}");
}

void mt_http_encode_metadata(mt_sbuf *b, const char *name, const mtrec_model *m) {
    mt_sbuf_puts(b, "{\"model_spec\":{\"name\":");
    mt_sbuf_json_str(b, name);
    mt_sbuf_puts(b, ",\"signature_name\":\"serving_default\",\"version\":");
    mt_sbuf_json_str(b, mtrec_model_version(m));
    mt_sbuf_puts(b, "},\"metadata\":{\"precision\":");
    mt_sbuf_json_str(b, mtrec_model_precision(m));
    mt_sbuf_puts(b, ",\"signature_def\":{\"signature_def\":{\"serving_default\":{\"inputs\":{");
    for (int i = 0, ni = mtrec_model_num_inputs(m); i < ni; i++) {
        const char *in = mtrec_model_input_name(m, i), *ty = mtrec_input_type_name(mtrec_model_input_type(m, i));
        if (i) mt_sbuf_put(b, ",", 1);
        mt_sbuf_json_str(b, in);
        mt_sbuf_puts(b, ":{\"name\":");
        mt_sbuf_json_str(b, in);
        mt_sbuf_printf(b, ",\"dtype\":\"DT_%s\",\"type\":\"%s\",\"default\":", ty, ty);
        mt_sbuf_json_str(b, mtrec_model_input_default(m, i));
        mt_sbuf_puts(b, "}");
    }
    mt_sbuf_puts(b, "},\"outputs\":{");
    for (int j = 0, no = mtrec_model_num_outputs(m); j < no; j++) {
        if (j) mt_sbuf_put(b, ",", 1);
        mt_sbuf_json_str(b, mtrec_model_output_name(m, j));
        mt_sbuf_puts(b, ":{\"name\":");
        mt_sbuf_json_str(b, mtrec_model_output_name(m, j));
        mt_sbuf_puts(b, ",\"dtype\":\"DT_FLOAT\"}");
    }
    mt_sbuf_puts(b, "},\"method_name\":\"tensorflow/serving/predict\"}}}}}");
}
