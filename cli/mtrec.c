/* mtrec.c: the command-line tool: subcommands, their flags and usage texts. The only place
 * that prints to stdout or calls exit(); everything else is in libmtrec. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/describe.h"
#include "config/pipeline.h"
#include "data/features.h"
#include "data/synth.h"
#include "eval/evaluate.h"
#include "serve/http_server.h"
#include "serve/predictor.h"
#include "train/trainer.h"

static const char *USAGE =
    "usage: mtrec <command> [flags]\n"
    "\n"
    "commands:\n"
    "  train    -c CONFIG   train (resumes from model_dir), then evaluate on eval_input_path\n"
    "  evaluate -c CONFIG   metrics per task -> stdout and model_dir/eval_result.txt\n"
    "  check    -c CONFIG   validate; print features, layer shapes, parameter counts, relation DAG\n"
    "  predict  -c CONFIG --input_path IN --output_path OUT [--reserved_cols a,b]\n"
    "           [--model_dir D | --checkpoint_path F]   batch prediction, CSV -> CSV\n"
    "  export   -c CONFIG --export_dir DIR [--checkpoint_path F] [--precision fp32|bf16]\n"
    "                                    versioned, self-contained model (bf16: half the size,\n"
    "                                    products in bfloat16 on AMX when served)\n"
    "  serve    --model_path EXPORT_DIR [--model_name NAME] [--port 8501] [--threads N]\n"
    "           [--host 127.0.0.1] [--max_body_bytes N] [--max_rows N]   HTTP (TF Serving REST)\n"
    "  synth    --rows N --output_path P [--seed S]   write the built-in live-stream data set\n"
    "\n"
    "flags (EasyRec names; command-line values override the config):\n"
    "  -c, --pipeline_config_path PATH   the pipeline.config\n"
    "  --model_dir DIR                   checkpoints and eval_result.txt\n"
    "  --train_input_path SPEC           comma list / glob of CSV files (.gz ok)\n"
    "  --eval_input_path SPEC\n"
    "  --checkpoint_path FILE            use this checkpoint instead of model_dir's latest\n"
    "  --input_path SPEC, --output_path P, --reserved_cols a,b   (predict)\n"
    "  --export_dir DIR                  (export)\n"
    "  --num_steps N                     override train_config.num_steps\n"
    "  --threads N                       cores to use (default 1)\n"
    "  --seed S                          training / synth seed\n"
    "  -q, --quiet                       no progress bar or step logs\n";

typedef struct cli_args {
    const char *cmd, *config, *model_dir, *train_input, *eval_input, *checkpoint, *output;
    const char *input, *reserved, *export_dir, *model_path, *model_name, *host;
    int bf16;  /* export --precision bf16 */
    int64_t port, max_body, max_rows;
    int has_port;
    int64_t num_steps, rows;
    int threads, quiet, has_seed, threads_set;
    uint64_t seed;
} cli_args;

static int die_usage(const char *msg, const char *arg) {
    fprintf(stderr, "mtrec: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", USAGE);
    return 2;
}

static int parse_int64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, cli_args *a) {
    memset(a, 0, sizeof *a);
    a->num_steps = -1;
    a->rows = -1;
    a->threads = 1;
    if (argc < 2) return die_usage("no command given", NULL);
    a->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        const char *v = NULL;
        char buf[256];
        const char *eq = strchr(f, '=');
        if (f[0] == '-' && f[1] == '-' && eq) {  /* --flag=value */
            size_t n = (size_t)(eq - f);
            if (n >= sizeof buf) return die_usage("flag too long", f);
            memcpy(buf, f, n);
            buf[n] = 0;
            v = eq + 1;
            f = buf;
        }
        int is_bool = !strcmp(f, "-q") || !strcmp(f, "--quiet");
        if (is_bool) { a->quiet = 1; continue; }
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) { fputs(USAGE, stdout); exit(0); }
        if (!v) {
            if (i + 1 >= argc) return die_usage("missing value for flag", f);
            v = argv[++i];
        }
        int64_t n;
        if (!strcmp(f, "-c") || !strcmp(f, "--pipeline_config_path")) a->config = v;
        else if (!strcmp(f, "--model_dir")) a->model_dir = v;
        else if (!strcmp(f, "--train_input_path")) a->train_input = v;
        else if (!strcmp(f, "--eval_input_path")) a->eval_input = v;
        else if (!strcmp(f, "--checkpoint_path")) a->checkpoint = v;
        else if (!strcmp(f, "--output_path")) a->output = v;
        else if (!strcmp(f, "--input_path")) a->input = v;
        else if (!strcmp(f, "--reserved_cols")) a->reserved = v;
        else if (!strcmp(f, "--export_dir")) a->export_dir = v;
        else if (!strcmp(f, "--precision")) {
            if (!strcasecmp(v, "fp32")) a->bf16 = 0;
            else if (!strcasecmp(v, "bf16")) a->bf16 = 1;
            else return die_usage("--precision needs fp32 or bf16", v);
        }
        else if (!strcmp(f, "--model_path")) a->model_path = v;
        else if (!strcmp(f, "--model_name")) a->model_name = v;
        else if (!strcmp(f, "--host")) a->host = v;
        else if (!strcmp(f, "--port")) { if (parse_int64(v, &a->port) || a->port < 0 || a->port > 65535) return die_usage("--port needs an integer in 0..65535", v); a->has_port = 1; }
        else if (!strcmp(f, "--max_body_bytes")) { if (parse_int64(v, &a->max_body) || a->max_body < 1) return die_usage("--max_body_bytes needs a positive integer", v); }
        else if (!strcmp(f, "--max_rows")) { if (parse_int64(v, &a->max_rows) || a->max_rows < 1 || a->max_rows > 1000000) return die_usage("--max_rows needs an integer in 1..1000000", v); }
        else if (!strcmp(f, "--num_steps")) { if (parse_int64(v, &a->num_steps) || a->num_steps < 0) return die_usage("--num_steps needs a non-negative integer", v); }
        else if (!strcmp(f, "--rows")) { if (parse_int64(v, &a->rows) || a->rows < 0) return die_usage("--rows needs a non-negative integer", v); }
        else if (!strcmp(f, "--threads")) { if (parse_int64(v, &n) || n < 1 || n > 256) return die_usage("--threads needs an integer in 1..256", v); a->threads = (int)n; a->threads_set = 1; }
        else if (!strcmp(f, "--seed")) { if (parse_int64(v, &n)) return die_usage("--seed needs an integer", v); a->seed = (uint64_t)n; a->has_seed = 1; }
        else return die_usage("unknown flag", f);
    }
    return 0;
}

/* ---- logging and progress ----------------------------------------------------------------- */
typedef struct log_ctx {
    int quiet, tty, bar_shown;
    double t0, last_draw;
} log_ctx;

static void clear_bar(log_ctx *c) {
    if (c->bar_shown) { fputs("\r\033[K", stderr); c->bar_shown = 0; }
}

static void on_log(void *ctx, mt_log_level lv, const char *line) {
    log_ctx *c = ctx;
    if (c->quiet && lv == MT_LOG_INFO) return;
    clear_bar(c);
    fprintf(stderr, "%s%s\n", lv == MT_LOG_WARN ? "warning: " : "", line);
}

static void on_progress(void *ctx, int64_t step, int64_t total, double eps) {
    log_ctx *c = ctx;
    if (c->quiet || !c->tty) return;
    double now = mt_now(), el = now - c->t0;
    if (now - c->last_draw < 0.1 && step != total) return;  /* at most 10 redraws a second */
    c->last_draw = now;
    if (total > 0) {
        int w = 30, filled = (int)(w * (double)step / (double)total);
        if (filled > w) filled = w;
        double eta = step > 0 ? el * (double)(total - step) / (double)step : 0;
        fprintf(stderr, "\r[%.*s%*s] %" PRId64 "/%" PRId64 " %.0f ex/s ETA %02d:%02d", filled,
                "==============================", w - filled, "", step, total, eps, (int)eta / 60, (int)eta % 60);
    } else {
        fprintf(stderr, "\rstep %" PRId64 " %.0f ex/s %02d:%02d elapsed", step, eps, (int)el / 60, (int)el % 60);
    }
    c->bar_shown = 1;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

/* ---- commands ------------------------------------------------------------------------------ */
static int fail(const mt_err *e) {
    fprintf(stderr, "mtrec: error: %s\n", e->msg[0] ? e->msg : mtrec_status_str(e->code));
    return 1;
}

/* Load the config and apply command-line overrides (CLI-owned strings; restored before free). */
typedef struct saved_paths {
    char *model_dir, *train, *eval;
} saved_paths;

static int load_config(const cli_args *a, mt_pipeline *p, saved_paths *sv, mt_err *e) {
    if (!a->config) return -2;
    if (mt_pipeline_load(a->config, p, e) != MTREC_OK) return -1;
    sv->model_dir = p->model_dir;
    sv->train = p->train_input_path;
    sv->eval = p->eval_input_path;
    if (a->model_dir) p->model_dir = (char *)a->model_dir;
    if (a->train_input) p->train_input_path = (char *)a->train_input;
    if (a->eval_input) p->eval_input_path = (char *)a->eval_input;
    if (a->num_steps >= 0) p->train.num_steps = a->num_steps;
    if (a->has_seed) p->train.seed = (int64_t)a->seed;
    return 0;
}

static void free_config(mt_pipeline *p, const saved_paths *sv) {
    p->model_dir = sv->model_dir;
    p->train_input_path = sv->train;
    p->eval_input_path = sv->eval;
    mt_pipeline_free(p);
}

static void print_metrics(const mt_eval_result *r) {
    printf("%-40s %12s\n", "metric", "value");
    for (int i = 0; i < r->n; i++) {
        if (isnan(r->v[i].value)) printf("%-40s %12s\n", r->v[i].name, "n/a");
        else printf("%-40s %12.6f\n", r->v[i].name, r->v[i].value);
    }
    printf("%-40s %12" PRId64 "\n", "global_step", r->global_step);
    printf("%-40s %12" PRId64 "\n", "eval_rows", r->rows);
}

static int cmd_check(const cli_args *a) {
    mt_err e = {0};
    mt_pipeline p = {0};
    saved_paths sv;
    int rc = load_config(a, &p, &sv, &e);
    if (rc == -2) return die_usage("check needs -c CONFIG", NULL);
    if (rc) return fail(&e);
    mt_feature_plan plan = {0};
    int ret = 0;
    if (mt_feature_plan_build(&p, &plan, &e) != MTREC_OK) ret = fail(&e);
    else if (mt_pipeline_describe(&p, &plan, stdout, &e) != MTREC_OK) ret = fail(&e);
    else printf("config OK: %s\n", a->config);
    mt_feature_plan_free(&plan);
    free_config(&p, &sv);
    return ret;
}

static int cmd_train(const cli_args *a) {
    mt_err e = {0};
    mt_pipeline p = {0};
    saved_paths sv;
    int rc = load_config(a, &p, &sv, &e);
    if (rc == -2) return die_usage("train needs -c CONFIG", NULL);
    if (rc) return fail(&e);
    log_ctx lc = {.quiet = a->quiet, .tty = isatty(2), .t0 = mt_now()};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mt_train_opts o = {.threads = a->threads, .evaluate = 1, .stop = &g_stop, .log = on_log,
                       .progress = on_progress, .ctx = &lc};
    mt_train_summary s;
    mtrec_status st = mt_train(&p, &o, &s, &e);
    clear_bar(&lc);
    int ret = 0;
    if (st != MTREC_OK) {
        ret = st == MTREC_ERR_INTERRUPTED ? 130 : fail(&e);
        if (st == MTREC_ERR_INTERRUPTED) fprintf(stderr, "mtrec: %s\n", e.msg);
    } else if (s.evaluated) {
        printf("evaluation of %s at step %" PRId64 " (%s/eval_result.txt):\n", p.eval_input_path, s.global_step, p.model_dir);
        print_metrics(&s.eval);
    }
    mt_eval_result_free(&s.eval);
    free_config(&p, &sv);
    return ret;
}

static int cmd_evaluate(const cli_args *a) {
    mt_err e = {0};
    mt_pipeline p = {0};
    saved_paths sv;
    int rc = load_config(a, &p, &sv, &e);
    if (rc == -2) return die_usage("evaluate needs -c CONFIG", NULL);
    if (rc) return fail(&e);
    mt_eval_result r;
    int ret = 0;
    if (mt_eval_checkpoint(&p, a->checkpoint, a->threads, &r, &e) != MTREC_OK) ret = fail(&e);
    else print_metrics(&r);
    mt_eval_result_free(&r);
    free_config(&p, &sv);
    return ret;
}

static int cmd_predict(const cli_args *a) {
    if (!a->input || !a->output) return die_usage("predict needs --input_path and --output_path", NULL);
    mt_err e = {0};
    mt_pipeline p = {0};
    saved_paths sv;
    int rc = load_config(a, &p, &sv, &e);
    if (rc == -2) return die_usage("predict needs -c CONFIG", NULL);
    if (rc) return fail(&e);
    int64_t rows = 0;
    double t0 = mt_now();
    int ret = 0;
    if (mt_predict_csv(&p, a->checkpoint, a->input, a->output, a->reserved, a->threads, &rows, &e) != MTREC_OK)
        ret = fail(&e);
    else
        fprintf(stderr, "predicted %" PRId64 " rows -> %s in %.2f s\n", rows, a->output, mt_now() - t0);
    free_config(&p, &sv);
    return ret;
}

static int cmd_export(const cli_args *a) {
    if (!a->export_dir) return die_usage("export needs --export_dir DIR", NULL);
    mt_err e = {0};
    mt_pipeline p = {0};
    saved_paths sv;
    int rc = load_config(a, &p, &sv, &e);
    if (rc == -2) return die_usage("export needs -c CONFIG", NULL);
    if (rc) return fail(&e);
    char *dir = NULL;
    int ret = 0;
    if (mt_export_checkpoint(&p, a->checkpoint, a->export_dir, a->bf16, &dir, &e) != MTREC_OK) ret = fail(&e);
    else printf("exported %s\n", dir);
    free(dir);
    free_config(&p, &sv);
    return ret;
}

static void serve_log(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static int cmd_serve(const cli_args *a) {
    if (!a->model_path) return die_usage("serve needs --model_path EXPORT_DIR", NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mt_serve_opts o = {.model_path = a->model_path, .model_name = a->model_name, .host = a->host,
                       .port = a->has_port ? (int)a->port : MT_SERVE_DEFAULT_PORT,
                       .threads = a->threads_set ? a->threads : 2,
                       .max_body_bytes = (size_t)a->max_body, .max_rows = (int)a->max_rows,
                       .stop = &g_stop, .log = a->quiet ? NULL : serve_log};
    mt_err e = {0};
    if (mt_serve_run(&o, &e) != MTREC_OK) return fail(&e);
    return 0;
}

static int cmd_synth(const cli_args *a) {
    if (a->rows < 0 || !a->output) return die_usage("synth needs --rows N and --output_path P", NULL);
    mt_err e = {0};
    double t0 = mt_now();
    if (mt_synth_write(a->output, a->rows, a->has_seed ? a->seed : 1, &e) != MTREC_OK) return fail(&e);
    fprintf(stderr, "wrote %" PRId64 " rows to %s in %.2f s\n", a->rows, a->output, mt_now() - t0);
    return 0;
}

int main(int argc, char **argv) {
    cli_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (!strcmp(a.cmd, "train")) return cmd_train(&a);
    if (!strcmp(a.cmd, "evaluate") || !strcmp(a.cmd, "eval")) return cmd_evaluate(&a);
    if (!strcmp(a.cmd, "check")) return cmd_check(&a);
    if (!strcmp(a.cmd, "synth")) return cmd_synth(&a);
    if (!strcmp(a.cmd, "predict")) return cmd_predict(&a);
    if (!strcmp(a.cmd, "export")) return cmd_export(&a);
    if (!strcmp(a.cmd, "serve")) return cmd_serve(&a);
    if (!strcmp(a.cmd, "-h") || !strcmp(a.cmd, "--help") || !strcmp(a.cmd, "help")) { fputs(USAGE, stdout); return 0; }
    if (!strcmp(a.cmd, "--version") || !strcmp(a.cmd, "version")) { printf("mtrec %s\n", mtrec_version()); return 0; }
    return die_usage("unknown command", a.cmd);
}
