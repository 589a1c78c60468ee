/* csv.h: streaming CSV reader (RFC 4180 quotes, CRLF or LF, any single-character separator,
 * transparent .gz via zlib) and input path expansion (comma lists and globs).
 * It only splits text into fields; typing and features are data/features.c's job. */
#ifndef MT_CSV_H
#define MT_CSV_H

#include <stdint.h>

#include "util/err.h"

typedef struct mt_csv mt_csv;

/* One parsed row. Field i is field[i][0..len[i]) (NOT NUL-terminated in general; quotes
 * removed and "" unescaped). Valid until the next mt_csv_next/mt_csv_close call. */
typedef struct mt_csv_row {
    const char **field;
    const int *len;
    int n_fields;
    int64_t row_no;      /* 1-based physical record number in the file (header counts) */
} mt_csv_row;

/* Open path (".gz" suffix or gzip magic -> decompress). sep is the field separator. */
mtrec_status mt_csv_open(const char *path, char sep, mt_csv **out, mt_err *e);

/* Next record: returns 1 with *row filled, 0 at end of file, -1 on error (e filled with
 * "file:row: ..."; e.g. an unterminated quote at end of file). Blank lines are skipped. */
int mt_csv_next(mt_csv *c, mt_csv_row *row, mt_err *e);

/* Path of the file being read (as given). */
const char *mt_csv_path(const mt_csv *c);

void mt_csv_close(mt_csv *c);

/* Expand an EasyRec *_input_path value: comma-separated entries, each a file or a glob
 * pattern (sorted matches). A glob with no match or a missing file is MTREC_ERR_IO naming it.
 * *paths is a malloc'ed array of malloc'ed strings; free with mt_paths_free. */
mtrec_status mt_paths_expand(const char *spec, char ***paths, int *n, mt_err *e);
void mt_paths_free(char **paths, int n);

#endif
