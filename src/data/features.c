/* features.c: the feature plan (which table and width each feature of group "all" gets) and
 * mt_batch_add_row, the one place where a CSV row's text becomes model input with EasyRec's
 * semantics (EASYREC_SEMANTICS.md 1.4): hashing (Fingerprint64 mod N), identity buckets,
 * vocabularies, tag lists with weights, raw values with normalisation and bucketisation,
 * labels, sample weights and 64-bit keys. It does not read files (data/reader.c) and does
 * not look anything up in tables (nn/).
 *
 * Number parsing is hand-written (with a correctly rounded fast path and strtod/strtof as the
 * fallback) because it is the hot path of the reader and must report bad text, which atoi-
 * style functions do not. */
#include "data/features.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* ---- derived per-feature transform ---------------------------------------------------- */
typedef enum {
    K_ID_HASH, K_ID_IDENT, K_ID_VOCAB, K_TAG_HASH, K_TAG_IDENT, K_TAG_VOCAB,
    K_RAW_BUCKET, K_RAW_UNIFORM, K_RAW_PROJ, K_RAW_DENSE, K_BAD
} feat_kind;

static inline feat_kind kind_of(const mt_feature_config *fc) {
    switch (fc->type) {
    case MT_FEAT_ID:
    case MT_FEAT_TAG: {
        int tag = fc->type == MT_FEAT_TAG;
        if (fc->hash_bucket_size > 0) return tag ? K_TAG_HASH : K_ID_HASH;
        if (fc->n_vocab > 0) return tag ? K_TAG_VOCAB : K_ID_VOCAB;
        if (fc->num_buckets > 0) return tag ? K_TAG_IDENT : K_ID_IDENT;
        return K_BAD;
    }
    case MT_FEAT_RAW:
        if (fc->n_boundaries > 0) return K_RAW_BUCKET;
        if (fc->num_buckets > 1 && fc->max_val > fc->min_val) return K_RAW_UNIFORM;
        if (fc->embedding_dim > 0) return K_RAW_PROJ;
        return K_RAW_DENSE;
    }
    return K_BAD;
}

static int raw_dim(const mt_feature_config *fc) { return fc->raw_input_dim > 0 ? fc->raw_input_dim : 1; }

static const char *feat_name(const mt_feature_config *fc) {
    if (fc->feature_name) return fc->feature_name;
    return fc->n_input_names > 0 ? fc->input_names[0] : "?";
}

/* Input field index by name, -1 if absent (local, so this file needs no config code). */
static int input_index(const mt_pipeline *p, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < p->data.n_input_fields; i++)
        if (p->data.input_fields[i].name && strcmp(p->data.input_fields[i].name, name) == 0) return i;
    return -1;
}

/* ---- plan ----------------------------------------------------------------------------- */
static mtrec_status add_key(mt_feature_plan *plan, const mt_pipeline *p, int idx, const char *name,
                            mt_pos pos, mt_err *e) {
    if (idx < 0) idx = input_index(p, name);
    if (idx < 0 || idx >= p->data.n_input_fields)
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: key field '%s' is not an input field",
                       p->path ? p->path : "pipeline", pos.line, pos.col, name ? name : "?");
    for (int k = 0; k < plan->n_keys; k++)
        if (plan->key_fields[k] == idx) return MTREC_OK;
    if (plan->n_keys >= (int)MT_ARRAY_LEN(plan->key_fields))
        return mt_fail(e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: more than %d key fields (gauc uid_field, "
                       "pairwise session_name)", p->path ? p->path : "pipeline", pos.line, pos.col,
                       (int)MT_ARRAY_LEN(plan->key_fields));
    plan->key_fields[plan->n_keys++] = idx;
    return MTREC_OK;
}

/* Build the plan: one item per feature of group "all" (model.group_feature_index order;
 * every feature in config order when the group is empty), tables shared by embedding_name. */
mtrec_status mt_feature_plan_build(const mt_pipeline *p, mt_feature_plan *plan, mt_err *e) {
    memset(plan, 0, sizeof *plan);
    const char *path = p->path ? p->path : "pipeline";
    int n = p->model.n_group_features > 0 ? p->model.n_group_features : p->n_features;
    plan->items = calloc((size_t)(n > 0 ? n : 1), sizeof *plan->items);
    plan->tables = calloc((size_t)(n > 0 ? n : 1), sizeof *plan->tables);
    if (!plan->items || !plan->tables) goto nomem;
    plan->n_labels = p->data.n_label_fields;
    for (int k = 0; k < n; k++) {
        int fi = k;
        if (p->model.n_group_features > 0) {
            fi = p->model.group_feature_index ? p->model.group_feature_index[k] : -1;
            if (fi < 0 && p->model.group_feature_names) {
                for (int j = 0; j < p->n_features; j++)
                    if (strcmp(feat_name(&p->features[j]), p->model.group_feature_names[k]) == 0) fi = j;
            }
            if (fi < 0 || fi >= p->n_features) {
                mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature group 'all' names unknown feature '%s'",
                        path, p->model.pos.line, p->model.pos.col,
                        p->model.group_feature_names ? p->model.group_feature_names[k] : "?");
                goto fail;
            }
        }
        const mt_feature_config *fc = &p->features[fi];
        mt_feature_plan_item *it = &plan->items[plan->n_items];
        it->feature = fi;
        it->combiner = fc->combiner;
        it->table = -1;
        it->dense_offset = -1;
        feat_kind kd = kind_of(fc);
        if (kd == K_BAD) {
            mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s' needs hash_bucket_size, num_buckets or "
                    "vocab_list", path, fc->pos.line, fc->pos.col, feat_name(fc));
            goto fail;
        }
        if (fc->n_input_names < 1 || fc->input_index[0] < 0 || fc->input_index[0] >= p->data.n_input_fields) {
            mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s' has no resolved input field", path,
                    fc->pos.line, fc->pos.col, feat_name(fc));
            goto fail;
        }
        int two = fc->n_input_names > 1;
        if (two && (fc->type != MT_FEAT_TAG || fc->input_index[1] < 0 ||
                    fc->input_index[1] >= p->data.n_input_fields)) {
            mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s': a second input name is only valid for "
                    "TagFeature weights and must be an input field", path, fc->pos.line, fc->pos.col,
                    feat_name(fc));
            goto fail;
        }
        if (two && fc->kv_separator && fc->kv_separator[0]) {
            mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s': kv_separator and two input_names cannot "
                    "be combined (EasyRec: TagFeature error)", path, fc->pos.line, fc->pos.col, feat_name(fc));
            goto fail;
        }
        if (kd == K_RAW_DENSE) {
            it->out = MT_OUT_DENSE;
            it->width = raw_dim(fc);
            it->dense_offset = plan->dense_width;
            plan->dense_width += it->width;
        } else {
            it->out = MT_OUT_EMBED;
            if (fc->embedding_dim <= 0) {
                mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s' needs embedding_dim > 0", path,
                        fc->pos.line, fc->pos.col, feat_name(fc));
                goto fail;
            }
            int64_t rows = 0;
            switch (kd) {
            case K_ID_HASH: case K_TAG_HASH: rows = fc->hash_bucket_size; break;
            case K_ID_VOCAB: case K_TAG_VOCAB: rows = fc->n_vocab; break;
            case K_ID_IDENT: case K_TAG_IDENT: rows = fc->num_buckets; break;
            case K_RAW_BUCKET: rows = (int64_t)(fc->n_boundaries + 1) * raw_dim(fc); break;
            case K_RAW_UNIFORM: rows = (fc->num_buckets + 1) * raw_dim(fc); break;
            case K_RAW_PROJ: rows = raw_dim(fc); break;
            default: break;
            }
            it->width = fc->embedding_dim;
            it->weighted = kd == K_RAW_PROJ || (fc->type == MT_FEAT_TAG && (two || (fc->kv_separator &&
                                                                                    fc->kv_separator[0])));
            const char *tname = fc->embedding_name ? fc->embedding_name : feat_name(fc);
            int t = -1;
            for (int j = 0; j < plan->n_tables; j++)
                if (strcmp(plan->tables[j].name, tname) == 0) t = j;
            if (t >= 0) {
                if (plan->tables[t].rows != rows || plan->tables[t].dim != fc->embedding_dim) {
                    mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: feature '%s' shares embedding '%s' with %lld rows "
                            "x %d, but the table already has %lld rows x %d", path, fc->pos.line, fc->pos.col,
                            feat_name(fc), tname, (long long)rows, fc->embedding_dim,
                            (long long)plan->tables[t].rows, plan->tables[t].dim);
                    goto fail;
                }
            } else {
                t = plan->n_tables;
                plan->tables[t].name = mt_strdup(tname);
                if (!plan->tables[t].name) goto nomem;
                plan->tables[t].rows = rows;
                plan->tables[t].dim = fc->embedding_dim;
                plan->n_tables++;
            }
            it->table = t;
        }
        it->group_offset = plan->group_width;
        plan->group_width += it->width;
        plan->n_items++;
    }
    const mt_dbmtl_config *d = &p->model.dbmtl;
    for (int t = 0; t < d->n_towers; t++) {
        const mt_tower_config *tw = &d->towers[t];
        for (int m = 0; m < tw->n_metrics; m++) {
            const mt_metric_config *mc = &tw->metrics[m];
            if (mc->type == MT_METRIC_GAUC && mc->uid_field)
                if (add_key(plan, p, mc->uid_index, mc->uid_field, mc->pos, e)) goto fail;
        }
        for (int l = 0; l < tw->n_losses; l++) {
            const mt_loss_config *lc = &tw->losses[l];
            if (lc->type == MT_LOSS_PAIR_WISE && lc->session_name)
                if (add_key(plan, p, lc->session_index, lc->session_name, lc->pos, e)) goto fail;
        }
    }
    return MTREC_OK;
nomem:
    mt_fail(e, MTREC_ERR_NOMEM, "out of memory building the feature plan");
fail:
    mt_feature_plan_free(plan);
    return e ? e->code : MTREC_ERR_CONFIG;
}

void mt_feature_plan_free(mt_feature_plan *plan) {
    if (!plan) return;
    for (int i = 0; i < plan->n_tables; i++) free(plan->tables[i].name);
    free(plan->tables);
    free(plan->items);
    memset(plan, 0, sizeof *plan);
}

/* ---- batch ---------------------------------------------------------------------------- */
mtrec_status mt_batch_alloc(const mt_feature_plan *plan, int capacity, mt_batch *b, mt_err *e) {
    memset(b, 0, sizeof *b);
    if (capacity <= 0) return mt_fail(e, MTREC_ERR_ARG, "batch capacity must be positive (got %d)", capacity);
    int ni = plan->n_items;
    size_t cap = (size_t)capacity;
    b->capacity = capacity;
    b->n_items = ni;
    b->offsets = calloc((size_t)(ni ? ni : 1), sizeof *b->offsets);
    b->ids = calloc((size_t)(ni ? ni : 1), sizeof *b->ids);
    b->weights = calloc((size_t)(ni ? ni : 1), sizeof *b->weights);
    b->ids_capacity = calloc((size_t)(ni ? ni : 1), sizeof *b->ids_capacity);
    if (!b->offsets || !b->ids || !b->weights || !b->ids_capacity) goto nomem;
    for (int i = 0; i < ni; i++) {
        const mt_feature_plan_item *it = &plan->items[i];
        if (it->out != MT_OUT_EMBED) continue;
        b->ids_capacity[i] = (int64_t)cap * 4;  /* ids per row reserved; tags grow on demand */
        b->offsets[i] = calloc(cap + 1, sizeof(int32_t));
        b->ids[i] = malloc((size_t)b->ids_capacity[i] * sizeof(int64_t));
        if (!b->offsets[i] || !b->ids[i]) goto nomem;
        if (it->weighted) {
            b->weights[i] = malloc((size_t)b->ids_capacity[i] * sizeof(mt_real));
            if (!b->weights[i]) goto nomem;
        }
    }
    b->dense = mt_calloc_aligned(cap * (size_t)(plan->dense_width ? plan->dense_width : 1) * sizeof(mt_real));
    b->labels = mt_calloc_aligned(cap * (size_t)(plan->n_labels ? plan->n_labels : 1) * sizeof(mt_real));
    b->sample_weight = mt_calloc_aligned(cap * sizeof(mt_real));
    b->keys = calloc(cap * (size_t)(plan->n_keys ? plan->n_keys : 1), sizeof(uint64_t));
    b->row_index = calloc(cap, sizeof(int64_t));
    if (!b->dense || !b->labels || !b->sample_weight || !b->keys || !b->row_index) goto nomem;
    return MTREC_OK;
nomem:
    mt_batch_free(b);
    return mt_fail(e, MTREC_ERR_NOMEM, "out of memory allocating a batch of %d rows", capacity);
}

void mt_batch_free(mt_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->n_items; i++) {
        if (b->offsets) free(b->offsets[i]);
        if (b->ids) free(b->ids[i]);
        if (b->weights) free(b->weights[i]);
    }
    free(b->offsets);
    free(b->ids);
    free(b->weights);
    free(b->ids_capacity);
    free(b->dense);
    free(b->labels);
    free(b->sample_weight);
    free(b->keys);
    free(b->row_index);
    memset(b, 0, sizeof *b);
}

/* Make room for `need` ids of item i in total (amortised doubling). */
static mtrec_status grow_ids(mt_batch *b, int i, int64_t need, mt_err *e) {
    int64_t cap = b->ids_capacity[i] ? b->ids_capacity[i] : 16;
    while (cap < need) cap *= 2;
    if (cap > INT32_MAX) return mt_fail(e, MTREC_ERR_DATA, "more than 2^31 ids for one feature in a batch");
    int64_t *ids = realloc(b->ids[i], (size_t)cap * sizeof *ids);
    if (!ids) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory growing a batch");
    b->ids[i] = ids;
    if (b->weights[i]) {
        mt_real *w = realloc(b->weights[i], (size_t)cap * sizeof *w);
        if (!w) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory growing a batch");
        b->weights[i] = w;
    }
    b->ids_capacity[i] = cap;
    return MTREC_OK;
}

static inline mtrec_status reserve_ids(mt_batch *b, int i, int64_t need, mt_err *e) {
    return need <= b->ids_capacity[i] ? MTREC_OK : grow_ids(b, i, need, e);
}

/* ---- number parsing ------------------------------------------------------------------- */
static inline int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static inline void trim(const char **s, int *n) {
    if (*n > 0 && !is_space(**s) && !is_space((*s)[*n - 1])) return;
    while (*n > 0 && is_space(**s)) { (*s)++; (*n)--; }
    while (*n > 0 && is_space((*s)[*n - 1])) (*n)--;
}

/* Decimal integer with optional sign and surrounding blanks (TF safe_strto64). */
static int parse_i64(const char *s, int n, int64_t *out) {
    trim(&s, &n);
    int neg = 0, i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return 0;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return 0;
        if (v > (lim - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static const double P10D[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float P10F[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* Float text -> value. Fast path: plain decimals whose mantissa and power of ten are exact
 * in the target type (Clinger), so the single multiply/divide is correctly rounded; anything
 * else goes to strtod/strtof (TF also accepts inf/nan, blanks; not hex). */
static int parse_real(const char *s, int n, int as_double, double *out) {
    trim(&s, &n);
    if (n == 0) return 0;
    int i = 0, neg = 0, digits = 0, exp10 = 0, any = 0;
    uint64_t m = 0;
    if (s[i] == '-' || s[i] == '+') neg = s[i++] == '-';
    for (; i < n && (unsigned)(s[i] - '0') <= 9; i++, any = 1)
        if (digits < 19) { m = m * 10 + (unsigned)(s[i] - '0'); if (m) digits++; } else exp10++;
    if (i < n && s[i] == '.') {
        for (i++; i < n && (unsigned)(s[i] - '0') <= 9; i++, any = 1)
            if (digits < 19) { m = m * 10 + (unsigned)(s[i] - '0'); if (m) digits++; exp10--; }
    }
    if (any && i < n && (s[i] == 'e' || s[i] == 'E')) {
        int j = i + 1, eneg = 0, ev = 0, ed = 0;
        if (j < n && (s[j] == '-' || s[j] == '+')) eneg = s[j++] == '-';
        for (; j < n && (unsigned)(s[j] - '0') <= 9; j++, ed++) if (ev < 100000) ev = ev * 10 + (s[j] - '0');
        if (ed) { exp10 += eneg ? -ev : ev; i = j; } else i = n + 1;  /* "1e" is bad */
    }
    if (any && i == n && digits < 19) {
        if (as_double && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;
            v = exp10 >= 0 ? v * P10D[exp10] : v / P10D[-exp10];
            *out = neg ? -v : v;
            return 1;
        }
        if (!as_double && m <= (1ULL << 24) && exp10 >= -10 && exp10 <= 10) {
            float v = (float)m;
            v = exp10 >= 0 ? v * P10F[exp10] : v / P10F[-exp10];
            *out = neg ? -(double)v : (double)v;
            return 1;
        }
    }
    char buf[128];
    if (n >= (int)sizeof buf) return 0;
    for (int k = 0; k < n; k++) {
        if (s[k] == 'x' || s[k] == 'X') return 0;
        buf[k] = s[k];
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = as_double ? strtod(buf, &end) : (double)strtof(buf, &end);
    if (end != buf + n) return 0;
    *out = v;
    return 1;
}

/* ---- field access --------------------------------------------------------------------- */
/* A field's text with EasyRec's CSV defaults applied: empty -> default_val or the type's
 * default ("0" for numbers, "" for strings, "false" for bools). */
static inline void field_text(const mt_pipeline *p, int j, const char *const *text, const int *len,
                              const char **s, int *n) {
    if (len[j] > 0) { *s = text[j]; *n = len[j]; return; }
    const mt_input_field *f = &p->data.input_fields[j];
    if (f->default_val) { *s = f->default_val; *n = (int)strlen(f->default_val); return; }
    switch (f->type) {
    case MT_T_STRING: *s = ""; *n = 0; return;
    case MT_T_BOOL: *s = "false"; *n = 5; return;
    default: *s = "0"; *n = 1; return;
    }
}

static mtrec_status bad_value(const mt_pipeline *p, int j, const char *s, int n, const char *what,
                              const char *where, mt_err *e) {
    return mt_fail(e, MTREC_ERR_DATA, "%s: column '%s' (#%d): '%.*s' is not a valid %s", where,
                   p->data.input_fields[j].name, j, n > 200 ? 200 : n, s, what);
}

/* Numeric value of field j (or of a token of it) as a double, per the field's type. */
static mtrec_status number_of(const mt_pipeline *p, int j, const char *s, int n, const char *where,
                              double *out, mt_err *e) {
    mt_field_type t = p->data.input_fields[j].type;
    int64_t iv;
    switch (t) {
    case MT_T_INT32:
        if (!parse_i64(s, n, &iv) || iv < INT32_MIN || iv > INT32_MAX) return bad_value(p, j, s, n, "INT32", where, e);
        *out = (double)iv;
        return MTREC_OK;
    case MT_T_INT64:
        if (!parse_i64(s, n, &iv)) return bad_value(p, j, s, n, "INT64", where, e);
        *out = (double)iv;
        return MTREC_OK;
    case MT_T_DOUBLE:
        if (!parse_real(s, n, 1, out)) return bad_value(p, j, s, n, "DOUBLE", where, e);
        return MTREC_OK;
    case MT_T_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0) { *out = 1; return MTREC_OK; }
        if (n == 5 && strncasecmp(s, "false", 5) == 0) { *out = 0; return MTREC_OK; }
        if (n == 1 && (s[0] == '0' || s[0] == '1')) { *out = s[0] - '0'; return MTREC_OK; }
        return bad_value(p, j, s, n, "BOOL", where, e);
    default: /* FLOAT, and STRING columns read as numbers (tf.string_to_number float32) */
        if (!parse_real(s, n, 0, out)) return bad_value(p, j, s, n, "FLOAT", where, e);
        return MTREC_OK;
    }
}

/* Write v in decimal into buf (>= 21 bytes); returns the length. */
static int i64_to_text(int64_t v, char *buf) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    int k = 0;
    if (v < 0) buf[k++] = '-';
    while (n) buf[k++] = tmp[--n];
    buf[k] = '\0';
    return k;
}

/* Canonical decimal (what TF's as_string prints): no sign but '-', no leading zero, no
 * blanks, at most 9 digits (so it is in range for INT32). */
static inline int canonical_int(const char *s, int n) {
    int i = s[0] == '-';
    if (i == n || n - i > 9) return 0;
    if (s[i] == '0' && (n - i > 1 || i)) return 0;
    for (; i < n; i++) if ((unsigned)(s[i] - '0') > 9) return 0;
    return 1;
}

/* The string EasyRec hashes or looks up for field j's text: strings as they are, integers
 * as decimal (tf.as_string), floats with `precision` decimals ("%f" when precision < 0, as
 * tf.as_string prints), bools "true"/"false". May point into buf (>= 64 bytes). */
static mtrec_status id_string(const mt_pipeline *p, const mt_feature_config *fc, int j, const char *s,
                              int n, char *buf, const char **os, int *on, const char *where, mt_err *e) {
    mt_field_type t = p->data.input_fields[j].type;
    if (t == MT_T_STRING || (t != MT_T_FLOAT && t != MT_T_DOUBLE && t != MT_T_BOOL && n > 0 &&
                             canonical_int(s, n))) {
        *os = s; *on = n;
        return MTREC_OK;
    }
    double v;
    mtrec_status st = number_of(p, j, s, n, where, &v, e);
    if (st) return st;
    if (t == MT_T_INT32 || t == MT_T_INT64) {
        int64_t iv;
        parse_i64(s, n, &iv);
        *on = i64_to_text(iv, buf);
    } else if (t == MT_T_BOOL) {
        *on = v != 0 ? 4 : 5;
        memcpy(buf, v != 0 ? "true" : "false", (size_t)*on + 1);
    } else {
        int k = fc->precision >= 0 ? snprintf(buf, 64, "%.*f", fc->precision > 30 ? 30 : fc->precision, v)
                                   : snprintf(buf, 64, "%f", v);
        if (k < 0 || k >= 64) return bad_value(p, j, s, n, "number to print as an id", where, e);
        *on = k;
    }
    *os = buf;
    return MTREC_OK;
}

static int64_t vocab_id(const mt_feature_config *fc, const char *s, int n) {
    for (int v = 0; v < fc->n_vocab; v++)
        if ((int)strlen(fc->vocab_list[v]) == n && memcmp(fc->vocab_list[v], s, (size_t)n) == 0) return v;
    return 0;  /* EasyRec: categorical_column_with_vocabulary_list(default_value=0) */
}

/* Next token of s[*pos..n) split on any character of sep, skipping empty tokens (TF
 * string_split). Returns 0 when no token is left. */
static inline int next_token(const char *s, int n, int *pos, const char *sep, int nsep, const char **ts,
                             int *tn) {
    int i = *pos;
    for (;;) {
        if (i >= n) { *pos = i; return 0; }
        int st = i;
        if (nsep == 1) {
            const char c = sep[0];
            while (i < n && s[i] != c) i++;  /* tokens are short: a loop beats memchr */
        } else {
            while (i < n && !memchr(sep, s[i], (size_t)nsep)) i++;
        }
        if (i > st) { *ts = s + st; *tn = i - st; *pos = i + 1; return 1; }
        i++;
    }
}

/* Int id of an identity column (num_buckets): out of [0, N) -> 0 (default_value 0). */
static inline int64_t ident_id(double v, int64_t nb) {
    return (v >= 0 && v < (double)nb) ? (int64_t)v : 0;
}

/* ---- one row -------------------------------------------------------------------------- */
/* Id of one tag token of feature fc (field j). */
static mtrec_status tag_token(const mt_pipeline *p, const mt_feature_config *fc, feat_kind kd, int j,
                              const char *ts, int tn, const char *where, int64_t *id, mt_err *e) {
    if (kd == K_TAG_HASH) {
        *id = mt_hash_bucket(ts, (size_t)tn, fc->hash_bucket_size);
    } else if (kd == K_TAG_VOCAB) {
        *id = vocab_id(fc, ts, tn);
    } else {
        int64_t iv;
        if (!parse_i64(ts, tn, &iv) || iv < INT32_MIN || iv > INT32_MAX)
            return bad_value(p, j, ts, tn, "INT32", where, e);
        *id = ident_id((double)iv, fc->num_buckets);
    }
    return MTREC_OK;
}

static mtrec_status add_tag(const mt_pipeline *p, const mt_feature_config *fc, feat_kind kd, mt_batch *b,
                            int i, int64_t pos, const char *const *text, const int *len, const char *where,
                            int64_t *count, mt_err *e) {
    const char *s, *ts;
    int n, tn, at = 0, j = fc->input_index[0];
    field_text(p, j, text, len, &s, &n);
    const char *sep = fc->separator && fc->separator[0] ? fc->separator : "|";
    int nsep = (int)strlen(sep);
    const char *kv = fc->kv_separator && fc->kv_separator[0] ? fc->kv_separator : NULL;
    int nkv = kv ? (int)strlen(kv) : 0;
    int64_t maxtok = 1;
    if (nsep == 1) {
        for (int k = 0; k < n; k++) maxtok += s[k] == sep[0];
    } else {
        for (int k = 0; k < n; k++) maxtok += memchr(sep, s[k], (size_t)nsep) != NULL;
    }
    mtrec_status st = reserve_ids(b, i, pos + maxtok, e);
    if (st) return st;
    int64_t *ids = b->ids[i];
    mt_real *w = b->weights[i];
    int64_t c = 0;
    while (next_token(s, n, &at, sep, nsep, &ts, &tn)) {
        const char *ks = ts;
        int kn = tn;
        if (kv) {
            int cut = 0;
            while (cut < tn && !memchr(kv, ts[cut], (size_t)nkv)) cut++;
            int rest = cut + 1;
            while (rest < tn && !memchr(kv, ts[rest], (size_t)nkv)) rest++;
            if (cut >= tn || rest < tn)
                return mt_fail(e, MTREC_ERR_DATA, "%s: column '%s' (#%d): tag '%.*s' is not key%svalue", where,
                               p->data.input_fields[j].name, j, tn > 200 ? 200 : tn, ts, kv);
            double wv;
            if (!parse_real(ts + cut + 1, tn - cut - 1, 0, &wv))
                return bad_value(p, j, ts + cut + 1, tn - cut - 1, "FLOAT weight", where, e);
            w[pos + c] = (mt_real)wv;
            kn = cut;
        }
        if ((st = tag_token(p, fc, kd, j, ks, kn, where, &ids[pos + c], e))) return st;
        c++;
    }
    if (fc->n_input_names > 1) {
        int j2 = fc->input_index[1], at2 = 0;
        field_text(p, j2, text, len, &s, &n);
        int64_t c2 = 0;
        while (next_token(s, n, &at2, sep, nsep, &ts, &tn)) {
            double wv;
            if (c2 >= c) { c2++; continue; }
            if (!parse_real(ts, tn, 0, &wv)) return bad_value(p, j2, ts, tn, "FLOAT weight", where, e);
            w[pos + c2++] = (mt_real)wv;
        }
        if (c2 != c)
            return mt_fail(e, MTREC_ERR_DATA, "%s: TagFeature '%s': %lld tags in column '%s' but %lld weights "
                           "in column '%s'", where, feat_name(fc), (long long)c, p->data.input_fields[j].name,
                           (long long)c2, p->data.input_fields[j2].name);
    }
    if (w && fc->combiner != MT_COMBINER_SUM) {
        /* safe_embedding_lookup_sparse prunes weights <= 0 unless the combiner is sum */
        int64_t k = 0;
        for (int64_t q = 0; q < c; q++)
            if (w[pos + q] > 0) { ids[pos + k] = ids[pos + q]; w[pos + k] = w[pos + q]; k++; }
        c = k;
    }
    *count = c;
    return MTREC_OK;
}

/* Raw values of feature fc into v[0..dim): one number, or a `separator` list (zero-filled),
 * normalised by (x-min)/(max-min) when max > min. float32 arithmetic, as in EasyRec's graph. */
static mtrec_status raw_values(const mt_pipeline *p, const mt_feature_config *fc, const char *const *text,
                               const int *len, const char *where, float *v, mt_err *e) {
    double d;
    const char *s;
    int n, j = fc->input_index[0], dim = raw_dim(fc);
    field_text(p, j, text, len, &s, &n);
    mtrec_status st;
    if (dim == 1) {
        if ((st = number_of(p, j, s, n, where, &d, e))) return st;
        v[0] = (float)d;
    } else {
        const char *sep = fc->separator && fc->separator[0] ? fc->separator : "|", *ts;
        int nsep = (int)strlen(sep), at = 0, tn, c = 0;
        for (int k = 0; k < dim; k++) v[k] = 0;
        while (next_token(s, n, &at, sep, nsep, &ts, &tn)) {
            if (c >= dim)
                return mt_fail(e, MTREC_ERR_DATA, "%s: column '%s' (#%d): more than raw_input_dim=%d values",
                               where, p->data.input_fields[j].name, j, dim);
            if (!parse_real(ts, tn, 0, &d)) return bad_value(p, j, ts, tn, "FLOAT", where, e);
            v[c++] = (float)d;
        }
    }
    if (fc->max_val > fc->min_val) {
        float lo = (float)fc->min_val, span = (float)fc->max_val - lo;
        for (int k = 0; k < dim; k++) v[k] = (v[k] - lo) / span;
    }
    return MTREC_OK;
}

/* Number of boundaries <= x (TF Bucketize: upper_bound, so a value equal to a boundary goes
 * to the bucket above it). Compared in float32: Bucketize's boundaries attr is float. */
static int64_t bucket_of(float x, const double *bd, int nb) {
    int lo = 0, hi = nb;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if ((float)bd[mid] <= x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Same for the uniform boundaries q/N, q = 0..N-1 (RawFeature num_buckets over [0, 1]). */
static int64_t uniform_bucket_of(float x, int64_t nb) {
    int64_t lo = 0, hi = nb;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((float)((double)mid / (double)nb) <= x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static mtrec_status add_raw(const mt_pipeline *p, const mt_feature_plan *plan, const mt_feature_config *fc,
                            feat_kind kd, mt_batch *b, int i, int r, int64_t pos, const char *const *text,
                            const int *len, const char *where, int64_t *count, mt_err *e) {
    int dim = raw_dim(fc);
    float stackv[16], *v = stackv;
    if (dim > 16 && !(v = malloc((size_t)dim * sizeof *v))) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    mtrec_status st = raw_values(p, fc, text, len, where, v, e);
    if (st) goto done;
    const mt_feature_plan_item *it = &plan->items[i];
    if (kd == K_RAW_DENSE) {
        mt_real *d = b->dense + (size_t)r * (size_t)plan->dense_width + (size_t)it->dense_offset;
        for (int k = 0; k < dim; k++) d[k] = (mt_real)v[k];
        *count = 0;
        goto done;
    }
    if ((st = reserve_ids(b, i, pos + dim, e))) goto done;
    int64_t c = 0;
    if (kd == K_RAW_PROJ) {
        for (int k = 0; k < dim; k++) {
            if (fc->combiner != MT_COMBINER_SUM && !(v[k] > 0)) continue;  /* pruned, as for tags */
            b->ids[i][pos + c] = k;
            b->weights[i][pos + c] = (mt_real)v[k];
            c++;
        }
    } else if (kd == K_RAW_BUCKET) {
        for (int k = 0; k < dim; k++)
            b->ids[i][pos + c++] = (int64_t)k * (fc->n_boundaries + 1) + bucket_of(v[k], fc->boundaries, fc->n_boundaries);
    } else { /* K_RAW_UNIFORM: boundaries i/N, i = 0..N-1 */
        int64_t nb = fc->num_buckets;
        for (int k = 0; k < dim; k++) b->ids[i][pos + c++] = (int64_t)k * (nb + 1) + uniform_bucket_of(v[k], nb);
    }
    *count = c;
done:
    if (v != stackv) free(v);
    return st;
}

/* Parse one row into row b->n_rows of b (see features.h). On error the batch is unchanged
 * (n_rows is only advanced after every field succeeded). row_index[r] is set to r; the
 * reader overwrites it with the data row number. To reuse a batch, set n_rows = 0. */
mtrec_status mt_batch_add_row(const mt_pipeline *p, const mt_feature_plan *plan, mt_batch *b,
                              const char *const *field_text_, const int *field_len, const char *where,
                              mt_err *e) {
    if (b->n_rows >= b->capacity)
        return mt_fail(e, MTREC_ERR_ARG, "%s: batch is full (%d rows)", where, b->capacity);
    const int r = b->n_rows;
    const char *const *text = field_text_;
    const int *len = field_len;
    mtrec_status st;
    char buf[64];
    for (int i = 0; i < plan->n_items; i++) {
        const mt_feature_plan_item *it = &plan->items[i];
        const mt_feature_config *fc = &p->features[it->feature];
        feat_kind kd = kind_of(fc);
        int64_t pos = it->out == MT_OUT_EMBED ? b->offsets[i][r] : 0, c = 0;
        const char *s;
        int n, j = fc->input_index[0];
        switch (kd) {
        case K_ID_HASH:
        case K_ID_VOCAB:
            field_text(p, j, text, len, &s, &n);
            if (n == 0) break;  /* '' is dropped: zero vector */
            if ((st = id_string(p, fc, j, s, n, buf, &s, &n, where, e))) return st;
            if ((st = reserve_ids(b, i, pos + 1, e))) return st;
            b->ids[i][pos] = kd == K_ID_HASH ? mt_hash_bucket(s, (size_t)n, fc->hash_bucket_size)
                                             : vocab_id(fc, s, n);
            c = 1;
            break;
        case K_ID_IDENT: {
            field_text(p, j, text, len, &s, &n);
            int64_t iv;
            if (p->data.input_fields[j].type == MT_T_STRING && n == 0) break;  /* missing */
            if (!parse_i64(s, n, &iv) || iv < INT32_MIN || iv > INT32_MAX) {
                mt_field_type t = p->data.input_fields[j].type;
                return bad_value(p, j, s, n, t == MT_T_INT64 ? mt_field_type_name(t) : "INT32", where, e);
            }
            if (iv == -1) break;  /* -1 is the identity column's missing value */
            if ((st = reserve_ids(b, i, pos + 1, e))) return st;
            b->ids[i][pos] = ident_id((double)iv, fc->num_buckets);
            c = 1;
            break;
        }
        case K_TAG_HASH:
        case K_TAG_VOCAB:
        case K_TAG_IDENT:
            if ((st = add_tag(p, fc, kd, b, i, pos, text, len, where, &c, e))) return st;
            break;
        default:
            if ((st = add_raw(p, plan, fc, kd, b, i, r, pos, text, len, where, &c, e))) return st;
            break;
        }
        if (it->out == MT_OUT_EMBED) b->offsets[i][r + 1] = (int32_t)(pos + c);
    }
    for (int l = 0; l < plan->n_labels; l++) {
        int j = p->data.label_field_index ? p->data.label_field_index[l] : input_index(p, p->data.label_fields[l]);
        if (j < 0 || j >= p->data.n_input_fields)
            return mt_fail(e, MTREC_ERR_CONFIG, "label field '%s' is not an input field", p->data.label_fields[l]);
        const char *s;
        int n;
        double v;
        field_text(p, j, text, len, &s, &n);
        if ((st = number_of(p, j, s, n, where, &v, e))) return st;
        b->labels[(size_t)r * (size_t)plan->n_labels + (size_t)l] = (mt_real)v;
    }
    b->sample_weight[r] = 1;
    int sw = -1;
    if (p->data.sample_weight) {
        sw = p->data.sample_weight_index;
        if (sw < 0 || sw >= p->data.n_input_fields) sw = input_index(p, p->data.sample_weight);
        if (sw < 0) return mt_fail(e, MTREC_ERR_CONFIG, "sample_weight '%s' is not an input field", p->data.sample_weight);
    }
    if (sw >= 0) {
        const char *s;
        int n;
        double v;
        field_text(p, sw, text, len, &s, &n);
        if ((st = number_of(p, sw, s, n, where, &v, e))) return st;
        b->sample_weight[r] = (mt_real)v;
    }
    for (int k = 0; k < plan->n_keys; k++) {
        const char *s;
        int n;
        field_text(p, plan->key_fields[k], text, len, &s, &n);
        b->keys[(size_t)r * (size_t)plan->n_keys + (size_t)k] = mt_fingerprint64(s, (size_t)n);
    }
    b->row_index[r] = r;
    b->n_rows = r + 1;
    return MTREC_OK;
}
