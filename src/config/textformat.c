/* textformat.c: a hand-written protobuf text-format parser that keeps line:col on every node.
 *
 * Why by hand: Debian ships protobuf's text-format parser only inside libprotobuf (C++),
 * which needs compiled .proto descriptors, and protobuf-c has no text-format support; no C
 * library parses text format without descriptors. The grammar is small, and we need exact
 * source positions for every value, which descriptor-based parsers do not expose.
 *
 * Accepted syntax (what protobuf's own TextFormat accepts, minus extensions and Any):
 *   field: value | field { ... } | field: { ... } | field < ... > | field: [v, v] | field [{..}]
 *   values: "double" or 'single' quoted strings (escapes \n \t \r \a \b \f \v \\ \' \" \?
 *   \NNN octal, \xHH hex, \uXXXX), adjacent strings concatenated; identifiers; numbers with
 *   sign, hex, exponents, `.5`, `1.0f`; `-inf`. `#` comments; `;` or `,` after any field.
 * Owns: the node tree (mt_tf_node). Does not own: field names or types (config/schema.c). */
#include "config/textformat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TF_MAX_DEPTH 64

typedef enum { TK_EOF, TK_IDENT, TK_NUMBER, TK_STRING, TK_PUNCT } tk_kind;

typedef struct {
    const char *name;   /* for messages */
    const char *s;      /* whole text */
    size_t i;           /* cursor */
    int line, col;      /* cursor position */
    /* current token */
    tk_kind tk;
    size_t tk_start, tk_end;   /* raw token bytes */
    int tk_line, tk_col;
    char punct;
    char *sval; size_t slen;   /* decoded string for TK_STRING (owned) */
    mt_err *e;
} tf_lexer;

static mtrec_status lx_err(tf_lexer *lx, int line, int col, const char *fmt, const char *a,
                           const char *b) {
    char m[512];
    snprintf(m, sizeof m, fmt, a ? a : "", b ? b : "");
    return mt_fail(lx->e, MTREC_ERR_PARSE, "%s:%d:%d: %s", lx->name, line, col, m);
}

static void lx_adv(tf_lexer *lx) {
    if (lx->s[lx->i] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->i++;
}

/* Describe the current token for messages ("'}'", "end of input", "'foo'"). */
static const char *tk_desc(tf_lexer *lx, char *buf, size_t n) {
    if (lx->tk == TK_EOF) return "end of input";
    size_t len = lx->tk_end - lx->tk_start;
    if (len > 40) len = 40;
    snprintf(buf, n, "'%.*s'", (int)len, lx->s + lx->tk_start);
    return buf;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Append a code point as UTF-8. buf has room (escapes never expand beyond their source). */
static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Lex one quoted string starting at the quote; decoded bytes go to lx->sval/slen. */
static mtrec_status lex_string(tf_lexer *lx) {
    char q = lx->s[lx->i];
    int l0 = lx->line, c0 = lx->col;
    size_t start = lx->i;
    lx_adv(lx);
    size_t cap = 16, n = 0;
    /* decoded length <= raw length, so size the buffer from the raw span first */
    size_t j = lx->i;
    while (lx->s[j] && lx->s[j] != q && lx->s[j] != '\n') j += (lx->s[j] == '\\' && lx->s[j + 1]) ? 2 : 1;
    cap = j - lx->i + 4;
    char *o = malloc(cap);
    if (!o) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
    for (;;) {
        char c = lx->s[lx->i];
        if (c == '\0' || c == '\n') {
            free(o);
            return lx_err(lx, l0, c0, "unterminated string (missing closing %s)",
                          q == '"' ? "\"" : "'", NULL);
        }
        if (c == q) { lx_adv(lx); break; }
        if (c != '\\') { o[n++] = c; lx_adv(lx); continue; }
        int el = lx->line, ec = lx->col;
        lx_adv(lx);
        char d = lx->s[lx->i];
        switch (d) {
        case 'n': o[n++] = '\n'; lx_adv(lx); break;
        case 't': o[n++] = '\t'; lx_adv(lx); break;
        case 'r': o[n++] = '\r'; lx_adv(lx); break;
        case 'a': o[n++] = '\a'; lx_adv(lx); break;
        case 'b': o[n++] = '\b'; lx_adv(lx); break;
        case 'f': o[n++] = '\f'; lx_adv(lx); break;
        case 'v': o[n++] = '\v'; lx_adv(lx); break;
        case '\\': case '\'': case '"': case '?': o[n++] = d; lx_adv(lx); break;
        case 'x': case 'X': {
            lx_adv(lx);
            int v = 0, k = 0;
            while (k < 2 && hexval((unsigned char)lx->s[lx->i]) >= 0) {
                v = v * 16 + hexval((unsigned char)lx->s[lx->i]);
                lx_adv(lx);
                k++;
            }
            if (k == 0) { free(o); return lx_err(lx, el, ec, "invalid \\x escape: expected hex digits", NULL, NULL); }
            o[n++] = (char)v;
            break;
        }
        case 'u': {
            lx_adv(lx);
            unsigned v = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval((unsigned char)lx->s[lx->i]);
                if (h < 0) { free(o); return lx_err(lx, el, ec, "invalid \\u escape: expected 4 hex digits", NULL, NULL); }
                v = v * 16 + (unsigned)h;
                lx_adv(lx);
            }
            n += put_utf8(o + n, v);   /* 6 source bytes -> at most 3 */
            break;
        }
        default:
            if (d >= '0' && d <= '7') {
                int v = 0, k = 0;
                while (k < 3 && lx->s[lx->i] >= '0' && lx->s[lx->i] <= '7') {
                    v = v * 8 + (lx->s[lx->i] - '0');
                    lx_adv(lx);
                    k++;
                }
                if (v > 255) { free(o); return lx_err(lx, el, ec, "octal escape out of range", NULL, NULL); }
                o[n++] = (char)v;
                break;
            }
            free(o);
            if (d == '\0' || d == '\n')
                return lx_err(lx, l0, c0, "unterminated string (missing closing %s)", q == '"' ? "\"" : "'", NULL);
            {
                char bad[8];
                snprintf(bad, sizeof bad, isprint((unsigned char)d) ? "%c" : "\\x%02x", (unsigned char)d);
                return lx_err(lx, el, ec, "invalid escape '\\%s' in string", bad, NULL);
            }
        }
    }
    o[n] = '\0';
    (void)start;
    lx->sval = o;
    lx->slen = n;
    return MTREC_OK;
}

/* Advance to the next token, skipping whitespace and # comments. */
static mtrec_status lx_next(tf_lexer *lx) {
    free(lx->sval);
    lx->sval = NULL;
    lx->slen = 0;
    for (;;) {
        char c = lx->s[lx->i];
        if (c == '#') {
            while (lx->s[lx->i] && lx->s[lx->i] != '\n') lx_adv(lx);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            lx_adv(lx);
        } else {
            break;
        }
    }
    lx->tk_start = lx->i;
    lx->tk_line = lx->line;
    lx->tk_col = lx->col;
    unsigned char c = (unsigned char)lx->s[lx->i];
    if (c == '\0') {
        lx->tk = TK_EOF;
    } else if (isalpha(c) || c == '_') {
        while (isalnum((unsigned char)lx->s[lx->i]) || lx->s[lx->i] == '_') lx_adv(lx);
        lx->tk = TK_IDENT;
    } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)lx->s[lx->i + 1]))) {
        int hex = c == '0' && (lx->s[lx->i + 1] == 'x' || lx->s[lx->i + 1] == 'X');
        for (;;) {
            unsigned char d = (unsigned char)lx->s[lx->i];
            if (isalnum(d) || d == '_' || d == '.') {
                lx_adv(lx);
            } else if ((d == '+' || d == '-') && !hex &&
                       (lx->s[lx->i - 1] == 'e' || lx->s[lx->i - 1] == 'E')) {
                lx_adv(lx);
            } else {
                break;
            }
        }
        lx->tk = TK_NUMBER;
    } else if (c == '"' || c == '\'') {
        mtrec_status st = lex_string(lx);
        if (st) return st;
        lx->tk = TK_STRING;
    } else if (strchr("{}<>[]:,;-", (int)c)) {
        lx->punct = (char)c;
        lx_adv(lx);
        lx->tk = TK_PUNCT;
    } else {
        char b[8];
        snprintf(b, sizeof b, isprint(c) ? "%c" : "\\x%02x", c);
        return lx_err(lx, lx->line, lx->col, "unexpected character '%s'", b, NULL);
    }
    lx->tk_end = lx->i;
    return MTREC_OK;
}

static int is_punct(const tf_lexer *lx, char p) { return lx->tk == TK_PUNCT && lx->punct == p; }

/* ---- tree ------------------------------------------------------------------------------ */

static void node_clear(mt_tf_node *n) {
    for (int i = 0; i < n->n_kids; i++) node_clear(&n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->str);
    memset(n, 0, sizeof *n);
}

void mt_tf_free(mt_tf_node *root) {
    if (!root) return;
    node_clear(root);
    free(root);
}

/* Move *child into parent's children (child is zeroed on success). */
static mtrec_status add_kid(tf_lexer *lx, mt_tf_node *parent, mt_tf_node *child) {
    if (parent->n_kids == parent->cap_kids) {
        int cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
        mt_tf_node *k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
        parent->kids = k;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = *child;
    memset(child, 0, sizeof *child);
    return MTREC_OK;
}

static mtrec_status parse_fields(tf_lexer *lx, mt_tf_node *msg, char close, int depth);

/* Parse a message body after its opening '{' or '<' (current token is that bracket). */
static mtrec_status parse_message(tf_lexer *lx, mt_tf_node *n, int depth) {
    char close = lx->punct == '{' ? '}' : '>';
    n->kind = MT_TF_MESSAGE;
    n->vline = lx->tk_line;
    n->vcol = lx->tk_col;
    if (depth >= TF_MAX_DEPTH)
        return lx_err(lx, lx->tk_line, lx->tk_col, "messages nested too deeply", NULL, NULL);
    mtrec_status st = lx_next(lx);
    if (st) return st;
    return parse_fields(lx, n, close, depth + 1);
}

/* Parse one scalar value (current token) into n. */
static mtrec_status parse_scalar(tf_lexer *lx, mt_tf_node *n) {
    char buf[64];
    n->vline = lx->tk_line;
    n->vcol = lx->tk_col;
    mtrec_status st;
    if (lx->tk == TK_STRING) {
        n->kind = MT_TF_STRING;
        n->str = lx->sval;
        n->len = lx->slen;
        lx->sval = NULL;
        if ((st = lx_next(lx))) return st;
        while (lx->tk == TK_STRING) {   /* adjacent string literals concatenate */
            char *s = realloc(n->str, n->len + lx->slen + 1);
            if (!s) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
            memcpy(s + n->len, lx->sval, lx->slen + 1);
            n->str = s;
            n->len += lx->slen;
            if ((st = lx_next(lx))) return st;
        }
        return MTREC_OK;
    }
    int neg = 0;
    if (is_punct(lx, '-')) {
        neg = 1;
        if ((st = lx_next(lx))) return st;
        if (lx->tk != TK_NUMBER && lx->tk != TK_IDENT)
            return lx_err(lx, lx->tk_line, lx->tk_col, "expected a number after '-', got %s",
                          tk_desc(lx, buf, sizeof buf), NULL);
    }
    if (lx->tk != TK_NUMBER && lx->tk != TK_IDENT)
        return lx_err(lx, lx->tk_line, lx->tk_col, "expected a value, got %s",
                      tk_desc(lx, buf, sizeof buf), NULL);
    size_t len = lx->tk_end - lx->tk_start;
    n->kind = (neg || lx->tk == TK_NUMBER) ? MT_TF_NUMBER : MT_TF_IDENT;
    n->str = malloc(len + 2);
    if (!n->str) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
    if (neg) n->str[0] = '-';
    memcpy(n->str + neg, lx->s + lx->tk_start, len);
    n->str[len + (size_t)neg] = '\0';
    n->len = len + (size_t)neg;
    return lx_next(lx);
}

/* One element of a `[ ... ]` list: a message or a scalar, named like the field. */
static mtrec_status parse_list_item(tf_lexer *lx, mt_tf_node *msg, const mt_tf_node *proto, int depth) {
    mt_tf_node item;
    memset(&item, 0, sizeof item);
    item.line = proto->line;
    item.col = proto->col;
    item.in_list = 1;
    mtrec_status st = MTREC_OK;
    item.name = malloc(strlen(proto->name) + 1);
    if (!item.name) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
    strcpy(item.name, proto->name);
    if (is_punct(lx, '{') || is_punct(lx, '<'))
        st = parse_message(lx, &item, depth);
    else
        st = parse_scalar(lx, &item);
    if (!st) st = add_kid(lx, msg, &item);
    if (st) node_clear(&item);
    return st;
}

/* Parse one `name ...` field (current token is the name) and append it to msg. */
static mtrec_status parse_field(tf_lexer *lx, mt_tf_node *msg, int depth) {
    char buf[64];
    mt_tf_node n;
    memset(&n, 0, sizeof n);
    n.line = lx->tk_line;
    n.col = lx->tk_col;
    size_t nlen = lx->tk_end - lx->tk_start;
    n.name = malloc(nlen + 1);
    if (!n.name) return mt_fail(lx->e, MTREC_ERR_NOMEM, "%s: out of memory", lx->name);
    memcpy(n.name, lx->s + lx->tk_start, nlen);
    n.name[nlen] = '\0';
    mtrec_status st = lx_next(lx);
    int colon = 0;
    if (!st && is_punct(lx, ':')) {
        colon = 1;
        st = lx_next(lx);
    }
    if (st) goto fail;
    if (is_punct(lx, '{') || is_punct(lx, '<')) {
        if ((st = parse_message(lx, &n, depth))) goto fail;
        if ((st = add_kid(lx, msg, &n))) goto fail;
    } else if (is_punct(lx, '[')) {
        int l0 = lx->tk_line, c0 = lx->tk_col;
        if ((st = lx_next(lx))) goto fail;
        if (!is_punct(lx, ']')) {
            for (;;) {
                if ((st = parse_list_item(lx, msg, &n, depth))) goto fail;
                if (is_punct(lx, ',')) {
                    if ((st = lx_next(lx))) goto fail;
                    continue;
                }
                if (is_punct(lx, ']')) break;
                if (lx->tk == TK_EOF)
                    st = lx_err(lx, l0, c0, "unterminated list: missing ']' for '%s'", n.name, NULL);
                else
                    st = lx_err(lx, lx->tk_line, lx->tk_col, "expected ',' or ']' in list, got %s",
                                tk_desc(lx, buf, sizeof buf), NULL);
                goto fail;
            }
        }
        if ((st = lx_next(lx))) goto fail;
        node_clear(&n);
    } else if (!colon) {
        st = lx_err(lx, lx->tk_line, lx->tk_col, "expected ':' or '{' after field name '%s', got %s",
                    n.name, tk_desc(lx, buf, sizeof buf));
        goto fail;
    } else {
        if ((st = parse_scalar(lx, &n))) goto fail;
        if ((st = add_kid(lx, msg, &n))) goto fail;
    }
    if (is_punct(lx, ';') || is_punct(lx, ',')) return lx_next(lx);
    return MTREC_OK;
fail:
    node_clear(&n);
    return st;
}

/* Parse fields until `close` ('}' / '>') or, at top level (close 0), end of input. */
static mtrec_status parse_fields(tf_lexer *lx, mt_tf_node *msg, char close, int depth) {
    char buf[64];
    int l0 = msg->vline, c0 = msg->vcol;
    for (;;) {
        mtrec_status st;
        if (lx->tk == TK_EOF) {
            if (!close) return MTREC_OK;
            char cl[2] = {close, 0};
            return lx_err(lx, l0, c0, "missing '%s' to close '%s' (reached end of input)", cl,
                          msg->name ? msg->name : "");
        }
        if (close && is_punct(lx, close)) return lx_next(lx);
        if (lx->tk != TK_IDENT) {
            if (lx->tk == TK_PUNCT && (lx->punct == '}' || lx->punct == '>') && close) {
                char want[80];
                snprintf(want, sizeof want, "'%c' to close '%.40s' (opened at %d:%d)", close,
                         msg->name ? msg->name : "", l0, c0);
                return lx_err(lx, lx->tk_line, lx->tk_col, "mismatched %s: expected %s",
                              tk_desc(lx, buf, sizeof buf), want);
            }
            if (lx->tk == TK_PUNCT && (lx->punct == '}' || lx->punct == '>') && !close)
                return lx_err(lx, lx->tk_line, lx->tk_col, "unexpected %s: no open block to close",
                              tk_desc(lx, buf, sizeof buf), NULL);
            return lx_err(lx, lx->tk_line, lx->tk_col, "expected a field name, got %s",
                          tk_desc(lx, buf, sizeof buf), NULL);
        }
        if ((st = parse_field(lx, msg, depth))) return st;
    }
}

mtrec_status mt_tf_parse(const char *name, const char *text, mt_tf_node **root, mt_err *e) {
    tf_lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.name = name ? name : "<config>";
    lx.s = text ? text : "";
    lx.line = lx.col = 1;
    lx.e = e;
    mt_tf_node *r = calloc(1, sizeof *r);
    if (!r) return mt_fail(e, MTREC_ERR_NOMEM, "%s: out of memory", lx.name);
    r->kind = MT_TF_MESSAGE;
    r->line = r->col = r->vline = r->vcol = 1;
    mtrec_status st = lx_next(&lx);
    if (!st) st = parse_fields(&lx, r, 0, 0);
    free(lx.sval);
    if (st) {
        mt_tf_free(r);
        return st;
    }
    *root = r;
    return MTREC_OK;
}

const mt_tf_node *mt_tf_find(const mt_tf_node *msg, const char *field) {
    if (!msg || msg->kind != MT_TF_MESSAGE) return NULL;
    for (int i = msg->n_kids - 1; i >= 0; i--)
        if (strcmp(msg->kids[i].name, field) == 0) return &msg->kids[i];
    return NULL;
}

int mt_tf_count(const mt_tf_node *msg, const char *field) {
    int c = 0;
    if (!msg || msg->kind != MT_TF_MESSAGE) return 0;
    for (int i = 0; i < msg->n_kids; i++) c += strcmp(msg->kids[i].name, field) == 0;
    return c;
}
