/* reader.c: the batch reader: CSV files (data/csv.c) -> rows mapped to input_fields (by
 * position, or by the header with with_header) -> shuffle buffer -> batches built by
 * mt_batch_add_row (data/features.c), over num_epochs, optionally in a reader thread that
 * keeps a bounded queue of ready batches ahead of compute.
 *
 * Order semantics follow EasyRec's CSVInput (tf.data): per epoch the file list is shuffled,
 * rows pass a shuffle buffer of shuffle_buffer rows (fill, emit a random element, refill;
 * drained at the end of the epoch), epochs repeat, and batches are cut from that stream, so a
 * batch may span two epochs and only the very last batch is short. Everything is drawn from
 * rngs seeded by (seed, epoch): the same seed gives the same batches, with or without the
 * thread. Differences from EasyRec: each file's own header maps its columns (EasyRec reads
 * the first file's header only), and ignore_error skips the bad row (tf.data's ignore_errors
 * after batch() drops the whole batch that contains it).
 *
 * Memory: shuffle slots and batches are allocated at open and grow only when a row is longer
 * than any before (amortised), so the steady state allocates nothing per row. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/features.h"
#include "util/hash.h"
#include "util/rng.h"

/* A row copied out of the CSV buffer, waiting in the shuffle buffer. */
typedef struct slot {
    char *buf;
    size_t cap;
    int *off, *len;        /* [n_input_fields] */
    int file;
    int64_t row_no, row_index;
} slot;

struct mt_reader {
    const mt_pipeline *p;
    const mt_feature_plan *plan;
    mt_reader_opts o;
    int n_in;                       /* input fields */
    char **paths;
    int n_paths;
    int *order;                     /* file order of this epoch */
    /* input position */
    int epoch, file_pos, finished, input_done;
    mt_csv *csv;
    int cur_file;
    int *col_of;                    /* [n_in]: column of input field j in the current file */
    int n_cols;                     /* columns each row of the current file must have */
    int64_t epoch_rows;             /* rows read this epoch (row_index counter) */
    int64_t epoch_good;             /* rows that made it into a batch this epoch */
    int64_t skipped;                /* producer side */
    mt_rng rng;                     /* row shuffle of this epoch */
    /* current row view */
    const char **text;
    int *tlen;
    int row_file;
    int64_t row_no, row_index;
    char *where;
    int where_file, where_pre;
    /* shuffle buffer */
    slot *slots, **sp, *out;
    int n_filled;
    /* batches */
    mt_batch *pool;
    int64_t *pool_skipped;          /* skipped count when each pool batch was completed */
    int n_pool;
    /* consumer side */
    int64_t rows_delivered, skipped_seen;
    int sync_state;                 /* 0 running, else the sticky return value (0 / -1) */
    mt_err sync_err;
    /* thread */
    int threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_free;
    int *freel, n_free, *q, q_head, q_count, held;
    int prod_done, prod_rc;
    int64_t final_skipped;          /* producer's skipped count at the end */
    mt_err prod_err;
    atomic_int stop;
};

/* ---- input: files, header mapping, column checks -------------------------------------- */
static uint64_t epoch_seed(uint64_t seed, int epoch, uint64_t salt) {
    return mt_hash_mix64(seed ^ mt_hash_mix64((uint64_t)epoch * 0x9e3779b97f4a7c15ULL + salt));
}

static void start_epoch(mt_reader *r) {
    for (int i = 0; i < r->n_paths; i++) r->order[i] = i;
    if (r->o.shuffle && r->n_paths > 1) {
        mt_rng fr;
        mt_rng_seed(&fr, epoch_seed(r->o.seed, r->epoch, 1));
        for (int i = r->n_paths - 1; i > 0; i--) {
            int k = (int)mt_rng_below(&fr, (uint64_t)i + 1), t = r->order[i];
            r->order[i] = r->order[k];
            r->order[k] = t;
        }
    }
    mt_rng_seed(&r->rng, epoch_seed(r->o.seed, r->epoch, 2));
    r->file_pos = 0;
    r->input_done = 0;
    r->epoch_rows = 0;
    r->epoch_good = 0;
}

/* Map input fields to the columns of the header row h. */
static mtrec_status map_header(mt_reader *r, const mt_csv_row *h, mt_err *e) {
    for (int j = 0; j < r->n_in; j++) {
        const char *name = r->p->data.input_fields[j].name;
        size_t nl = strlen(name);
        r->col_of[j] = -1;
        for (int c = 0; c < h->n_fields && r->col_of[j] < 0; c++) {
            const char *f = h->field[c];
            int fl = h->len[c];
            if (c == 0 && fl >= 3 && memcmp(f, "\xEF\xBB\xBF", 3) == 0) { f += 3; fl -= 3; }  /* BOM */
            if ((size_t)fl == nl && memcmp(f, name, nl) == 0) r->col_of[j] = c;
        }
        if (r->col_of[j] < 0)
            return mt_fail(e, MTREC_ERR_DATA, "%s:%lld: header has no column '%s' (input field #%d)",
                           r->paths[r->cur_file], (long long)h->row_no, name, j);
    }
    r->n_cols = h->n_fields;
    return MTREC_OK;
}

/* Open the next file of this epoch; 0 when none is left. */
static int open_next_file(mt_reader *r, mt_err *e) {
    mt_csv_close(r->csv);
    r->csv = NULL;
    if (r->file_pos >= r->n_paths) return 0;
    r->cur_file = r->order[r->file_pos++];
    if (mt_csv_open(r->paths[r->cur_file], r->p->data.separator ? r->p->data.separator : ',', &r->csv, e))
        return -1;
    for (int j = 0; j < r->n_in; j++) r->col_of[j] = j;
    r->n_cols = r->n_in;
    if (r->p->data.with_header) {
        mt_csv_row h;
        int k = mt_csv_next(r->csv, &h, e);
        if (k < 0) return -1;
        if (k > 0 && map_header(r, &h, e)) return -1;
    }
    return 1;
}

/* Next data row of this epoch in file order into the row view (pointing into the CSV
 * buffer): 1, 0 at the end of the epoch's input, -1 on error. Rows with the wrong column
 * count are errors, or skipped and counted under ignore_error. */
static int read_input_row(mt_reader *r, mt_err *e) {
    for (;;) {
        if (!r->csv) {
            int k = open_next_file(r, e);
            if (k <= 0) return k;
        }
        mt_csv_row row;
        int k = mt_csv_next(r->csv, &row, e);
        if (k < 0) return -1;
        if (k == 0) {
            mt_csv_close(r->csv);
            r->csv = NULL;
            continue;
        }
        if (row.n_fields != r->n_cols) {
            if (r->p->data.ignore_error) {
                r->skipped++;
                continue;
            }
            return mt_fail(e, MTREC_ERR_DATA, "%s:%lld: expected %d columns, found %d", r->paths[r->cur_file],
                           (long long)row.row_no, r->n_cols, row.n_fields), -1;
        }
        for (int j = 0; j < r->n_in; j++) {
            int c = r->col_of[j];
            r->text[j] = row.field[c];
            r->tlen[j] = row.len[c];
        }
        r->row_file = r->cur_file;
        r->row_no = row.row_no;
        r->row_index = r->epoch_rows++;
        return 1;
    }
}

/* Copy the row view into slot s (grows its buffer only when the row is the longest yet). */
static int slot_store(mt_reader *r, slot *s) {
    size_t need = 0;
    for (int j = 0; j < r->n_in; j++) need += (size_t)r->tlen[j];
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < need) cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) return -1;
        s->buf = nb;
        s->cap = cap;
    }
    size_t at = 0;
    for (int j = 0; j < r->n_in; j++) {
        if (r->tlen[j]) memcpy(s->buf + at, r->text[j], (size_t)r->tlen[j]);
        s->off[j] = (int)at;
        s->len[j] = r->tlen[j];
        at += (size_t)r->tlen[j];
    }
    s->file = r->row_file;
    s->row_no = r->row_no;
    s->row_index = r->row_index;
    return 0;
}

/* Next row of the epoch's stream (through the shuffle buffer when shuffling). */
static int next_row(mt_reader *r, mt_err *e) {
    if (!r->o.shuffle) return read_input_row(r, e);
    int cap = r->o.shuffle_buffer > 0 ? r->o.shuffle_buffer : 1;
    while (!r->input_done && r->n_filled < cap) {
        int k = read_input_row(r, e);
        if (k < 0) return -1;
        if (k == 0) { r->input_done = 1; break; }
        if (slot_store(r, r->sp[r->n_filled])) {
            mt_fail(e, MTREC_ERR_NOMEM, "out of memory in the shuffle buffer");
            return -1;
        }
        r->n_filled++;
    }
    if (r->n_filled == 0) return 0;
    int k = (int)mt_rng_below(&r->rng, (uint64_t)r->n_filled);
    slot *t = r->out;
    r->out = r->sp[k];
    r->sp[k] = r->sp[r->n_filled - 1];
    r->sp[r->n_filled - 1] = t;
    r->n_filled--;
    for (int j = 0; j < r->n_in; j++) {
        r->text[j] = r->out->buf + r->out->off[j];
        r->tlen[j] = r->out->len[j];
    }
    r->row_file = r->out->file;
    r->row_no = r->out->row_no;
    r->row_index = r->out->row_index;
    return 1;
}

/* "path:row" for messages, rewriting only the row number when the file is unchanged. */
static const char *row_where(mt_reader *r) {
    if (r->where_file != r->row_file) {
        size_t n = strlen(r->paths[r->row_file]);
        memcpy(r->where, r->paths[r->row_file], n);
        r->where[n] = ':';
        r->where_pre = (int)n + 1;
        r->where_file = r->row_file;
    }
    char tmp[24];
    int n = 0;
    uint64_t v = (uint64_t)r->row_no;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    char *w = r->where + r->where_pre;
    while (n) *w++ = tmp[--n];
    *w = '\0';
    return r->where;
}

/* Fill b with up to batch_size rows, crossing epochs. 1: b has rows; 0: no rows left;
 * -1: error. */
static int fill_batch(mt_reader *r, mt_batch *b, mt_err *e) {
    b->n_rows = 0;
    while (b->n_rows < b->capacity && !r->finished) {
        if (atomic_load_explicit(&r->stop, memory_order_relaxed)) return 0;
        int k = next_row(r, e);
        if (k < 0) return -1;
        if (k == 0) {  /* end of epoch */
            r->epoch++;
            if ((r->o.num_epochs > 0 && r->epoch >= r->o.num_epochs) || r->epoch_good == 0) {
                r->finished = 1;  /* an epoch without rows would repeat forever */
                break;
            }
            start_epoch(r);
            continue;
        }
        mtrec_status st = mt_batch_add_row(r->p, r->plan, b, r->text, r->tlen, row_where(r), e);
        if (st == MTREC_ERR_DATA && r->p->data.ignore_error) {
            r->skipped++;
            continue;
        }
        if (st) return -1;
        b->row_index[b->n_rows - 1] = r->row_index;
        r->epoch_good++;
    }
    return b->n_rows > 0;
}

/* ---- reader thread -------------------------------------------------------------------- */
static void *producer(void *arg) {
    mt_reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!atomic_load(&r->stop) && (r->n_free == 0 || r->q_count >= r->o.prefetch))
            pthread_cond_wait(&r->cv_free, &r->mu);
        if (atomic_load(&r->stop)) {
            r->prod_done = 1;
            pthread_cond_broadcast(&r->cv_ready);
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        int k = r->freel[--r->n_free];
        pthread_mutex_unlock(&r->mu);

        mt_err err = {0};
        int rc = fill_batch(r, &r->pool[k], &err);

        pthread_mutex_lock(&r->mu);
        if (rc > 0) {
            r->pool_skipped[k] = r->skipped;
            r->q[(r->q_head + r->q_count) % r->n_pool] = k;
            r->q_count++;
        } else {
            r->freel[r->n_free++] = k;
            r->prod_done = 1;
            r->prod_rc = rc;
            r->prod_err = err;
            r->final_skipped = r->skipped;
        }
        pthread_cond_broadcast(&r->cv_ready);
        pthread_mutex_unlock(&r->mu);
        if (rc <= 0) return NULL;
    }
}

/* ---- public API ----------------------------------------------------------------------- */
void mt_reader_close(mt_reader *r) {
    if (!r) return;
    if (r->threaded) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->stop, 1);
        pthread_cond_broadcast(&r->cv_free);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv_ready);
        pthread_cond_destroy(&r->cv_free);
    }
    mt_csv_close(r->csv);
    if (r->slots) {
        for (int i = 0; i <= r->o.shuffle_buffer; i++) {
            free(r->slots[i].buf);
            free(r->slots[i].off);
            free(r->slots[i].len);
        }
    }
    free(r->slots);
    free(r->sp);
    if (r->pool)
        for (int i = 0; i < r->n_pool; i++) mt_batch_free(&r->pool[i]);
    free(r->pool);
    free(r->pool_skipped);
    free(r->freel);
    free(r->q);
    free(r->text);
    free(r->tlen);
    free(r->col_of);
    free(r->order);
    free(r->where);
    mt_paths_free(r->paths, r->n_paths);
    free(r);
}

mtrec_status mt_reader_open(const mt_pipeline *p, const mt_feature_plan *plan, const char *spec,
                            const mt_reader_opts *o, mt_reader **out, mt_err *e) {
    *out = NULL;
    if (!spec || !*spec) return mt_fail(e, MTREC_ERR_ARG, "no input path given");
    if (o->batch_size <= 0) return mt_fail(e, MTREC_ERR_ARG, "batch_size must be positive (got %d)", o->batch_size);
    if (o->prefetch < 0 || o->shuffle_buffer < 0 || o->num_epochs < 0)
        return mt_fail(e, MTREC_ERR_ARG, "negative prefetch, shuffle_buffer or num_epochs");
    mt_reader *r = calloc(1, sizeof *r);
    if (!r) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory opening the reader");
    r->p = p;
    r->plan = plan;
    r->o = *o;
    if (r->o.shuffle && r->o.shuffle_buffer < 1) r->o.shuffle_buffer = 1;
    if (!r->o.shuffle) r->o.shuffle_buffer = 0;
    r->n_in = p->data.n_input_fields;
    r->where_file = -1;
    mtrec_status st = mt_paths_expand(spec, &r->paths, &r->n_paths, e);
    if (st) { free(r); return st; }
    size_t maxpath = 0;
    for (int i = 0; i < r->n_paths; i++) maxpath = MT_MAX(maxpath, strlen(r->paths[i]));
    size_t nin = (size_t)(r->n_in > 0 ? r->n_in : 1);
    r->order = calloc((size_t)(r->n_paths > 0 ? r->n_paths : 1), sizeof *r->order);
    r->col_of = calloc(nin, sizeof *r->col_of);
    r->text = calloc(nin, sizeof *r->text);
    r->tlen = calloc(nin, sizeof *r->tlen);
    r->where = malloc(maxpath + 32);
    if (!r->order || !r->col_of || !r->text || !r->tlen || !r->where) goto nomem;
    if (r->o.shuffle) {
        int ns = r->o.shuffle_buffer + 1;  /* + the slot of the row being emitted */
        r->slots = calloc((size_t)ns, sizeof *r->slots);
        r->sp = calloc((size_t)ns, sizeof *r->sp);
        if (!r->slots || !r->sp) goto nomem;
        for (int i = 0; i < ns; i++) {
            r->slots[i].off = malloc(nin * sizeof(int));
            r->slots[i].len = malloc(nin * sizeof(int));
            if (!r->slots[i].off || !r->slots[i].len) goto nomem;
            r->sp[i] = &r->slots[i];
        }
        r->out = r->sp[ns - 1];
    }
    r->threaded = o->prefetch > 0;
    r->n_pool = r->threaded ? o->prefetch + 2 : 1;
    r->pool = calloc((size_t)r->n_pool, sizeof *r->pool);
    r->pool_skipped = calloc((size_t)r->n_pool, sizeof *r->pool_skipped);
    r->freel = calloc((size_t)r->n_pool, sizeof *r->freel);
    r->q = calloc((size_t)r->n_pool, sizeof *r->q);
    if (!r->pool || !r->pool_skipped || !r->freel || !r->q) goto nomem;
    for (int i = 0; i < r->n_pool; i++) {
        if ((st = mt_batch_alloc(plan, o->batch_size, &r->pool[i], e))) {
            r->threaded = 0;
            mt_reader_close(r);
            return st;
        }
        r->freel[r->n_free++] = i;
    }
    r->held = -1;
    start_epoch(r);
    if (r->threaded) {
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv_ready, NULL);
        pthread_cond_init(&r->cv_free, NULL);
        if (pthread_create(&r->th, NULL, producer, r) != 0) {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv_ready);
            pthread_cond_destroy(&r->cv_free);
            r->threaded = 0;
            mt_reader_close(r);
            return mt_fail(e, MTREC_ERR_INTERNAL, "cannot start the reader thread");
        }
    }
    *out = r;
    return MTREC_OK;
nomem:
    r->threaded = 0;
    mt_reader_close(r);
    return mt_fail(e, MTREC_ERR_NOMEM, "out of memory opening the reader");
}

int mt_reader_next(mt_reader *r, const mt_batch **b, mt_err *e) {
    *b = NULL;
    if (!r->threaded) {
        if (r->sync_state) {
            if (r->sync_state < 0 && e) *e = r->sync_err;
            return r->sync_state < 0 ? -1 : 0;
        }
        mt_err err = {0};
        int rc = fill_batch(r, &r->pool[0], &err);
        if (rc > 0) {
            *b = &r->pool[0];
            r->rows_delivered += r->pool[0].n_rows;
            r->skipped_seen = r->skipped;
            return 1;
        }
        r->skipped_seen = r->skipped;
        r->sync_state = rc < 0 ? -1 : 1;
        r->sync_err = err;
        if (rc < 0 && e) *e = err;
        return rc < 0 ? -1 : 0;
    }
    pthread_mutex_lock(&r->mu);
    if (r->held >= 0) {
        r->freel[r->n_free++] = r->held;
        r->held = -1;
        pthread_cond_broadcast(&r->cv_free);
    }
    while (r->q_count == 0 && !r->prod_done) pthread_cond_wait(&r->cv_ready, &r->mu);
    int rc;
    if (r->q_count > 0) {
        int k = r->q[r->q_head];
        r->q_head = (r->q_head + 1) % r->n_pool;
        r->q_count--;
        r->held = k;
        r->skipped_seen = r->pool_skipped[k];
        r->rows_delivered += r->pool[k].n_rows;
        *b = &r->pool[k];
        pthread_cond_broadcast(&r->cv_free);
        rc = 1;
    } else {
        rc = r->prod_rc < 0 ? -1 : 0;
        r->skipped_seen = r->final_skipped;
        if (rc < 0 && e) *e = r->prod_err;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int64_t mt_reader_skipped(const mt_reader *r) { return r->skipped_seen; }
int64_t mt_reader_rows(const mt_reader *r) { return r->rows_delivered; }
