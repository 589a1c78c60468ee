/* schema.h: EasyRec's pipeline.config schema as tables, the schema walk, and typed access to
 * a checked text-format tree. Internal to src/config/ (pipeline_load.c, pipeline_validate.c).
 *
 * Flow: mt_tf_parse() -> mt_schema_check() (unknown fields with did-you-mean, value types,
 * enum values, unsupported and ignored fields, duplicates, oneofs, required fields; reported
 * in document order) -> the pipeline builders read values through mt_cfg cursors, which fall
 * back to EasyRec's defaults from the same tables when a field is absent. */
#ifndef MT_SCHEMA_H
#define MT_SCHEMA_H

#include <stdint.h>

#include "config/pipeline.h"
#include "config/textformat.h"

typedef enum { MT_SF_MSG, MT_SF_STRING, MT_SF_INT, MT_SF_UINT, MT_SF_UINT64, MT_SF_FLOAT,
               MT_SF_BOOL, MT_SF_ENUM } mt_sf_kind;

enum {
    MT_SF_REPEATED = 1,
    MT_SF_REQUIRED = 2,      /* mtrec needs it (EasyRec `required`, or needed to build) */
    MT_SF_UNSUPPORTED = 4,   /* valid EasyRec field mtrec does not implement: error */
    MT_SF_IGNORED = 8,       /* only tunes TensorFlow: accepted, recorded, ignored */
    MT_SF_DEFAULT_ONLY = 16  /* ignored when equal to its default, unsupported otherwise */
};

typedef struct mt_schema_enum {
    const char *name;
    const char *const *values;        /* supported, NULL-terminated */
    const char *const *unsupported;   /* valid in EasyRec, not in mtrec; NULL-terminated */
} mt_schema_enum;

struct mt_schema_msg;
/* Extra check of a scalar's value (string fields with a closed set of values). */
typedef mtrec_status (*mt_schema_value_check)(const char *cfg, const mt_tf_node *n, mt_err *e);

typedef struct mt_schema_field {
    const char *name;
    mt_sf_kind kind;
    unsigned flags;
    int oneof;                          /* >0: members of one oneof group in this message */
    const char *def;                    /* EasyRec default as text; NULL: none */
    const struct mt_schema_msg *msg;    /* MT_SF_MSG (NULL: any content, for ignored blocks) */
    const mt_schema_enum *enm;          /* MT_SF_ENUM */
    mt_schema_value_check check;
} mt_schema_field;

typedef struct mt_schema_msg {
    const char *name;                   /* protobuf message name, for messages */
    const mt_schema_field *fields;      /* terminated by an entry with name NULL */
} mt_schema_msg;

extern const mt_schema_msg mt_schema_pipeline;  /* EasyRecConfig (the root) */

/* Recorded ignored fields (dotted paths, deduplicated). */
typedef struct mt_schema_ignored {
    char **paths; int n, cap;
} mt_schema_ignored;

/* Walk the tree against the schema (root = mt_schema_pipeline), annotate every node with
 * its field descriptor, record ignored fields in ign. Errors: MTREC_ERR_CONFIG or
 * MTREC_ERR_UNSUPPORTED with "cfg:line:col: message". */
mtrec_status mt_schema_check(const char *cfg, mt_tf_node *root, mt_schema_ignored *ign, mt_err *e);
void mt_schema_ignored_free(mt_schema_ignored *ign);

/* ---- scalar conversion (0 on success, -1 when the text is not of that type) ------------ */
int mt_tf_to_double(const mt_tf_node *n, double *out);
int mt_tf_to_int64(const mt_tf_node *n, int64_t *out);
int mt_tf_to_bool(const mt_tf_node *n, int *out);

/* Edit distance suggestion: the candidate closest to s when close enough, else NULL. */
const char *mt_did_you_mean(const char *s, const char *const *cands, int n);

/* Activation name -> enum: 1 supported, 0 valid in EasyRec but unsupported (dice, prelu, ...),
 * -1 unknown. Accepts "relu", "tf.nn.relu", "tf.relu", "linear"/"None" (identity), ... */
int mt_activation_parse(const char *s, mt_activation *out);

/* ---- cursors over a checked tree --------------------------------------------------------- */
typedef struct mt_cfg {
    const mt_tf_node *node;        /* the message (NULL when absent: every getter -> default) */
    const mt_schema_msg *sm;       /* its schema */
} mt_cfg;

mt_cfg mt_cfg_root(const mt_tf_node *root);
mt_cfg mt_cfg_sub(mt_cfg c, const char *field);          /* last occurrence */
mt_cfg mt_cfg_at(mt_cfg c, const char *field, int i);    /* i-th occurrence */
int mt_cfg_count(mt_cfg c, const char *field);
const mt_tf_node *mt_cfg_node(mt_cfg c, const char *field);             /* last, or NULL */
const mt_tf_node *mt_cfg_node_at(mt_cfg c, const char *field, int i);   /* i-th, or NULL */
int mt_cfg_has(mt_cfg c, const char *field);
/* Values (set, else the schema default, else 0 / NULL). Strings are borrowed. */
const char *mt_cfg_str(mt_cfg c, const char *field);
double mt_cfg_num(mt_cfg c, const char *field);
int64_t mt_cfg_int(mt_cfg c, const char *field);
int mt_cfg_bool(mt_cfg c, const char *field);
/* Position of a field (last occurrence), else of the message, else 1:1. */
mt_pos mt_cfg_pos(mt_cfg c, const char *field);
mt_pos mt_cfg_msg_pos(mt_cfg c);

/* ---- builders shared by pipeline_load.c and pipeline_validate.c --------------------------- */
/* Build features[] and model_config from the checked tree; p->data must be built first.
 * Performs the cross-field checks of those sections (names, references, sizes). */
mtrec_status mt_pipeline_build_features(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e);
mtrec_status mt_pipeline_build_model(const char *cfg, mt_cfg root, mt_pipeline *p, mt_err *e);
char *mt_cfg_strdup(const char *s);   /* NULL-safe strdup */
/* "cfg:l:c: <what> 'x' is not an input field of data_config; did you mean 'y'?" */
mtrec_status mt_pipeline_no_input(const char *cfg, const mt_tf_node *n, const mt_pipeline *p,
                                  const char *what, mt_err *e);

#endif
