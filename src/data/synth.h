/* synth.h: the built-in live-streaming data set ("live5"), drawn from a known Bayesian network
 *
 *   features x (user, anchor, context) -> is_click -> is_view   -> view_costtime
 *                                                  -> is_on_mic -> on_mic_duration
 *
 * The *world* (every user's and anchor's attributes and latent vectors) is a pure function of
 * the id, through a fixed salt and mt_hash_mix64, so the same id means the same thing in every
 * file and for every seed; the seed only drives which (user, anchor, context) rows are drawn
 * and the label noise. Same seed and row count -> the same bytes.
 *
 * CSV layout (header row first, ',' separated, no quoting needed), MT_SYNTH_N_COLUMNS columns:
 *   is_click, is_view, view_costtime, is_on_mic, on_mic_duration,          (targets)
 *   user_id, anchor_id, gender, age_level, city, device, network, hour, weekday, user_level,
 *   anchor_category, anchor_level, anchor_tags, user_active_days, anchor_fans_log,
 *   user_watch_minutes_7d, anchor_live_minutes                            (17 features)
 * examples/live5.config is the matching EasyRec pipeline. */
#ifndef MT_SYNTH_H
#define MT_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/rng.h"

#define MT_SYNTH_N_COLUMNS 22
#define MT_SYNTH_N_USERS 200000
#define MT_SYNTH_N_ANCHORS 20000
#define MT_SYNTH_N_CATEGORIES 10
#define MT_SYNTH_LATENT 8
#define MT_SYNTH_MAX_TAGS 6
#define MT_SYNTH_ROW_MAX 512      /* bytes one formatted row (with '\n') can take, at most */

/* One drawn row: the feature values, the labels, and the ground truth behind them. */
typedef struct mt_synth_row {
    /* features */
    int64_t user_id, anchor_id;   /* external ids (printed as decimal strings) */
    int gender;                   /* 0 unknown (printed empty), 1, 2 */
    int age_level;                /* 1..7 */
    int city;                     /* 0..299, -1 missing (printed empty) */
    int device, network;          /* indices into mt_synth_device_name / _network_name */
    int hour, weekday;            /* 0..23, 0..6 (5, 6 = weekend) */
    int user_level;               /* 1..9 */
    int category;                 /* index into mt_synth_category_name */
    int anchor_level;             /* 1..9 */
    int n_tags;                   /* 0..MT_SYNTH_MAX_TAGS */
    int tags[MT_SYNTH_MAX_TAGS];  /* tag numbers, printed "t<n>" joined by '|' */
    double user_active_days;      /* 1..30 (integer valued) */
    double anchor_fans_log;       /* log(1 + fans), 2 decimals */
    double user_watch_minutes_7d; /* 1 decimal */
    double anchor_live_minutes;   /* minutes since the live session started, 1 decimal */
    /* labels */
    int is_click, is_view, is_on_mic;
    double view_costtime;         /* seconds, > 0 iff is_view (1 decimal) */
    double on_mic_duration;       /* seconds, > 0 iff is_on_mic (1 decimal) */
    /* ground truth (not written to the file) */
    double affinity;              /* user x anchor latent affinity, about N(0, 1) */
    double p_click;               /* P(click | x) */
    double p_view;                /* P(view | click, x) */
    double p_on_mic;              /* P(on_mic | click, x) */
} mt_synth_row;

/* Row generator state: the rng plus world tables derived once from fixed salts. */
typedef struct mt_synth {
    mt_rng rng;
    double cat_center[MT_SYNTH_N_CATEGORIES][MT_SYNTH_LATENT];
    double age_proto[8][MT_SYNTH_LATENT];
    double gender_proto[3][MT_SYNTH_LATENT];
    double tag_weight[200];
} mt_synth;

/* Start a generator for `seed` (world tables do not depend on the seed). */
void mt_synth_init(mt_synth *s, uint64_t seed);

/* Draw the next row into *row. */
void mt_synth_next(mt_synth *s, mt_synth_row *row);

/* Format row as one CSV line ending in '\n' into buf (at least MT_SYNTH_ROW_MAX bytes);
 * returns the number of bytes written (no NUL terminator is counted). */
size_t mt_synth_format_row(const mt_synth_row *row, char *buf);

/* The header line (column names joined by ',', no newline). Static storage. */
const char *mt_synth_header(void);

/* Category / device / network names by index (static strings; "?" if out of range). */
const char *mt_synth_category_name(int i);
const char *mt_synth_device_name(int i);
const char *mt_synth_network_name(int i);

/* Write the header and `rows` rows drawn with `seed` to path (".gz" suffix: gzip, via zlib).
 * Errors: MTREC_ERR_ARG (NULL path, rows < 0), MTREC_ERR_IO (naming the path); a partly
 * written file is removed on error. */
mtrec_status mt_synth_write(const char *path, int64_t rows, uint64_t seed, mt_err *e);

#endif
