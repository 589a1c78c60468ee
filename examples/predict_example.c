/* predict_example.c: load an mtrec export and predict with the C API, using nothing but
 * <mtrec.h>. Build against an installed mtrec (see examples/README.md):
 *
 *   cc -std=c11 predict_example.c $(pkg-config --cflags --libs --static mtrec) -o predict_example
 *   ./predict_example exports/                      # two built-in rows
 *   ./predict_example exports/ "user_id=u1,price=2.5" "user_id=u2"
 *
 * The export is an `mtrec export` folder (or one of its version folders). Each ROW argument
 * is a comma-separated list of input=value pairs; inputs not named take their defaults.
 * Without ROW arguments the two rows are "every input at its default" and "every input
 * set to 1" (valid text for every input type). It prints the signature, predicts the two
 * rows in row form and in column form, prints the outputs and checks that both forms
 * agree. Exit status 0 only on success. */
#include <mtrec.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ROWS 2

/* Fill row r of values (row form) from "name=value,name=value"; spec is modified. */
static int parse_row(const mtrec_model *m, char *spec, const char **values, int r) {
    int ni = mtrec_model_num_inputs(m);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            fprintf(stderr, "predict_example: '%s' is not name=value\n", tok);
            return -1;
        }
        *eq = '\0';
        int i = mtrec_model_input_index(m, tok);
        if (i < 0) {
            fprintf(stderr, "predict_example: the model has no input '%s'\n", tok);
            return -1;
        }
        values[(size_t)r * ni + i] = eq + 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 2 + N_ROWS) {
        fprintf(stderr, "usage: %s EXPORT_DIR [ROW ROW]   (ROW: input=value,input=value...)\n", argv[0]);
        return 2;
    }
    mtrec_model *m = NULL;
    mtrec_predictor *p = NULL;
    const char **values = NULL, ***columns = NULL;
    float *out_rows = NULL, *out_cols = NULL;
    int rc = 1;

    if (mtrec_model_load(argv[1], &m) != MTREC_OK) {
        fprintf(stderr, "predict_example: %s\n", mtrec_last_error());
        return 1;
    }
    int ni = mtrec_model_num_inputs(m), no = mtrec_model_num_outputs(m);
    printf("model version %s (%s weights, mtrec %s)\ninputs:\n", mtrec_model_version(m), mtrec_model_precision(m),
           mtrec_version());
    for (int i = 0; i < ni; i++)
        printf("  %-24s %-6s default '%s'\n", mtrec_model_input_name(m, i),
               mtrec_input_type_name(mtrec_model_input_type(m, i)), mtrec_model_input_default(m, i));
    printf("outputs:");
    for (int j = 0; j < no; j++) printf(" %s", mtrec_model_output_name(m, j));
    printf("\n");

    /* the rows, as text: values[r * ni + i] (NULL = the input's default) */
    values = calloc((size_t)N_ROWS * ni, sizeof *values);
    columns = calloc((size_t)ni, sizeof *columns);
    size_t len = mtrec_predict_output_size(m, N_ROWS);
    out_rows = malloc(len * sizeof *out_rows);
    out_cols = malloc(len * sizeof *out_cols);
    if (!values || !columns || !out_rows || !out_cols) {
        fprintf(stderr, "predict_example: out of memory\n");
        goto done;
    }
    if (argc == 2 + N_ROWS) {
        for (int r = 0; r < N_ROWS; r++)
            if (parse_row(m, argv[2 + r], values, r)) goto done;
    } else {
        for (int i = 0; i < ni; i++) values[(size_t)1 * ni + i] = "1";
    }

    /* one predictor per thread; this program has one thread. A server would warm it up first
     * (mtrec_predictor_warm_up) so no request pays the kernels' compilation. */
    if (mtrec_predictor_create(m, 16, &p) != MTREC_OK || mtrec_predictor_warm_up(p, 16) != MTREC_OK ||
        mtrec_predict_rows(p, N_ROWS, values, out_rows, len) != MTREC_OK) {
        fprintf(stderr, "predict_example: %s\n", mtrec_last_error());
        goto done;
    }
    /* the same rows in column form: columns[i][r] */
    for (int i = 0; i < ni; i++) {
        columns[i] = calloc(N_ROWS, sizeof **columns);
        if (!columns[i]) {
            fprintf(stderr, "predict_example: out of memory\n");
            goto done;
        }
        for (int r = 0; r < N_ROWS; r++) columns[i][r] = values[(size_t)r * ni + i];
    }
    if (mtrec_predict_columns(p, N_ROWS, (const char *const *const *)columns, out_cols, len) != MTREC_OK) {
        fprintf(stderr, "predict_example: %s\n", mtrec_last_error());
        goto done;
    }
    for (int r = 0; r < N_ROWS; r++) {
        printf("row %d:", r);
        for (int j = 0; j < no; j++) printf(" %s=%.6g", mtrec_model_output_name(m, j), out_rows[(size_t)r * no + j]);
        printf("\n");
    }
    if (memcmp(out_rows, out_cols, len * sizeof *out_rows) != 0) {
        fprintf(stderr, "predict_example: row form and column form disagree\n");
        goto done;
    }
    printf("row form and column form agree\n");
    rc = 0;
done:
    for (int i = 0; columns && i < ni; i++) free(columns[i]);
    free(columns);
    free(values);
    free(out_rows);
    free(out_cols);
    mtrec_predictor_free(p);
    mtrec_model_free(m);
    return rc;
}
