/* textformat.h: protobuf text-format parser producing a position-carrying node tree.
 * Owns only the syntax (tokens, nesting, string escapes, lists); it knows nothing about
 * EasyRec's schema (config/schema.c) or the typed pipeline (config/pipeline_load.c).
 * Every node keeps the 1-based line:col of its field name and of its value. */
#ifndef MT_TEXTFORMAT_H
#define MT_TEXTFORMAT_H

#include <stddef.h>

#include "util/err.h"

typedef enum {
    MT_TF_MESSAGE,  /* `name { ... }`, `name: { ... }`, `name < ... >` */
    MT_TF_STRING,   /* quoted string(s); `str` holds the decoded bytes (may contain NUL) */
    MT_TF_IDENT,    /* bare identifier: enum value, true/false, inf, nan */
    MT_TF_NUMBER    /* numeric token as written, sign included ("-1e-6", "0x1F", "-inf") */
} mt_tf_kind;

typedef struct mt_tf_node {
    char *name;                   /* field name (NULL for the root) */
    int line, col;                /* position of the field name */
    int vline, vcol;              /* position of the value (first string for concatenations) */
    mt_tf_kind kind;
    char *str; size_t len;        /* scalar text: decoded string, identifier or number token */
    int in_list;                  /* 1 when the value came from a `[a, b]` list */
    struct mt_tf_node *kids; int n_kids, cap_kids;  /* MT_TF_MESSAGE children, in order */
    const void *schema;           /* annotation slot for config/schema.c (field descriptor) */
} mt_tf_node;

/* Parse `text` (NUL-terminated) into a tree whose root is an MT_TF_MESSAGE with name NULL.
 * `name` prefixes error messages ("name:line:col: ..."). Returns MTREC_ERR_PARSE on bad
 * syntax, MTREC_ERR_NOMEM on allocation failure; *root is set only on success. */
mtrec_status mt_tf_parse(const char *name, const char *text, mt_tf_node **root, mt_err *e);

/* Free a tree returned by mt_tf_parse (NULL accepted). */
void mt_tf_free(mt_tf_node *root);

/* Last child named `field` of message `msg` (NULL if none or msg is NULL). */
const mt_tf_node *mt_tf_find(const mt_tf_node *msg, const char *field);

/* Number of children named `field`. */
int mt_tf_count(const mt_tf_node *msg, const char *field);

#endif
