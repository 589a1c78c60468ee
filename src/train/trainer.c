/* trainer.c: the training loop and the evaluate-a-checkpoint driver (see trainer.h).
 * One step: forward (training mode) -> losses + regularization -> backward -> optional
 * global-norm clipping -> dense update (one flat loop) + sparse row updates. */
#include "train/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "io/checkpoint.h"
#include "io/model_io.h"
#include "model/loss.h"
#include "train/optim.h"

static void logf_(const mt_train_opts *o, mt_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(const mt_train_opts *o, mt_log_level lv, const char *fmt, ...) {
    if (!o || !o->log) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->ctx, lv, line);
}

/* Global L2 norm of all gradients (dense and the batch's sparse rows). */
static double grad_norm(const mt_model *m) {
    /* mt_sumsq returns the L2 norm of one buffer; combine the squares */
    double n = mt_sumsq(m->grads, m->n_params), s = n * n;
    for (int t = 0; t < m->n_tables; t++) {
        n = mt_sumsq(m->tables[t].grad.grad, (size_t)m->tables[t].grad.n * (size_t)m->tables[t].plan->dim);
        s += n * n;
    }
    return sqrt(s);
}

void mt_train_apply_update(mt_model *m, int64_t step, float lr) {
    const mt_optimizer_config *oc = &m->p->train.optimizer;
    float clip = m->p->train.gradient_clipping_by_norm;
    if (clip > 0) {
        double n = grad_norm(m);
        if (n > clip) {
            mt_real s = (mt_real)(clip / n);
            mt_scale(m->grads, m->n_params, s);
            for (int t = 0; t < m->n_tables; t++)
                mt_scale(m->tables[t].grad.grad, (size_t)m->tables[t].grad.n * (size_t)m->tables[t].plan->dim, s);
        }
    }
    int64_t tt = step + 1;
    /* each block of weights updated, its gradient starts the next step at once (l2 * W or
     * zero: mt_model_prime_grads_block), so the backward does not read every weight again */
    mt_optim_update_blocks(oc, tt, lr, m->params, m->grads, m->opt_s0, m->opt_s1, m->n_params,
                           MT_GRAD_BLOCK, mt_model_prime_grads_block, m);
    mt_model_grads_primed(m);
    /* the tables' touched rows, up to 32 tables per parallel loop (one loop for most models) */
    for (int t0 = 0; t0 < m->n_tables; t0 += 32) {
        mt_rows_update u[32];
        int n = m->n_tables - t0 < 32 ? m->n_tables - t0 : 32;
        for (int i = 0; i < n; i++) {
            mt_table *T = &m->tables[t0 + i];
            u[i] = (mt_rows_update){T->w, T->s0, T->s1, T->plan->dim, T->grad.rows, T->grad.grad, T->grad.n};
        }
        mt_optim_update_tables(oc, tt, lr, u, n);
    }
}

static mtrec_status save_ckpt(mt_model *m, const mt_pipeline *p, int64_t step, mt_err *e) {
    char *path = mt_ckpt_path(p->model_dir, step);
    if (!path) return mt_fail(e, MTREC_ERR_NOMEM, "out of memory");
    mtrec_status st = mt_model_save(m, path, step, 1, e);
    free(path);
    if (st == MTREC_OK) st = mt_ckpt_commit(p->model_dir, step, p->train.keep_checkpoint_max, e);
    return st;
}

mtrec_status mt_train(const mt_pipeline *p, const mt_train_opts *o, mt_train_summary *s, mt_err *e) {
    memset(s, 0, sizeof *s);
    s->resumed_from_step = -1;
    if (!p->model_dir || !*p->model_dir) return mt_fail(e, MTREC_ERR_CONFIG, "%s: model_dir is not set", p->path);
    if (!p->train_input_path || !*p->train_input_path)
        return mt_fail(e, MTREC_ERR_CONFIG, "%s: train_input_path is not set", p->path);
    mtrec_status st = mt_mkdirs(p->model_dir, e);
    if (st != MTREC_OK) return st;

    int bf16 = p->train.mixed_precision && !strcmp(p->train.mixed_precision, "BF16");
    mt_mm *mm = NULL;
    mt_model *m = NULL;
    mt_reader *rd = NULL;
    if ((st = mt_mm_create(o->threads > 0 ? o->threads : 1, bf16, &mm, e)) != MTREC_OK) return st;
    uint64_t seed = (uint64_t)p->train.seed;
    int B = p->data.batch_size;
    if ((st = mt_model_create(p, B, mm, seed, &m, e)) != MTREC_OK) goto done;
    logf_(o, MT_LOG_INFO, "model: %zu dense parameters, %" PRId64 " embedding parameters in %d tables",
          mt_model_dense_count(m), mt_model_embedding_count(m), m->n_tables);

    /* resume, or warm start */
    int64_t step = 0;
    char *latest = mt_ckpt_latest(p->model_dir);
    if (latest) {
        st = mt_model_load(m, latest, 1, &step, e);
        if (st == MTREC_OK) {
            logf_(o, MT_LOG_INFO, "resuming from %s (step %" PRId64 ")", latest, step);
            s->resumed_from_step = (int)step;
        }
        free(latest);
        if (st != MTREC_OK) goto done;
    } else if (p->train.fine_tune_checkpoint && *p->train.fine_tune_checkpoint) {
        int nl = 0, ns = 0;
        const char *ft = p->train.fine_tune_checkpoint;
        char *ftl = mt_ckpt_latest(ft);  /* a model_dir is accepted too */
        st = mt_model_warm_start(m, ftl ? ftl : ft, &nl, &ns, e);
        if (st == MTREC_OK)
            logf_(o, MT_LOG_INFO, "warm start from %s: %d tensors loaded, %d kept initial", ftl ? ftl : ft, nl, ns);
        free(ftl);
        if (st != MTREC_OK) goto done;
    }

    /* The reader thread parses ahead only when a core is left for it: with every core in the
     * compute pool it preempts pool threads in the middle of a product and stalls the team
     * (A/B on 2 cores, 2 threads: inline parsing, ~0.5 us per row, was 2-4% faster end to
     * end). Batches are the same either way. */
    int spare = (o->threads > 0 ? o->threads : 1) < omp_get_num_procs();
    mt_reader_opts ro = {.batch_size = B, .shuffle = p->data.shuffle,
                         .shuffle_buffer = p->data.shuffle_buffer_size, .seed = seed,
                         .num_epochs = p->data.num_epochs, .prefetch = spare ? 4 : 0};
    if ((st = mt_reader_open(p, &m->plan, p->train_input_path, &ro, &rd, e)) != MTREC_OK) goto done;
    /* replay the reader to the resumed position: batches are a pure function of the seed */
    for (int64_t k = 0; k < step; k++) {
        const mt_batch *b;
        int rc = mt_reader_next(rd, &b, e);
        if (rc < 0) { st = e ? e->code : MTREC_ERR_DATA; goto done; }
        if (rc == 0) break;
    }

    int64_t num_steps = p->train.num_steps;
    int64_t log_every = p->train.log_step_count_steps > 0 ? p->train.log_step_count_steps : 10;
    int64_t save_every = p->train.save_checkpoints_steps;
    int64_t last_saved = step, start_step = step;
    double t0 = mt_now(), tlog = t0;
    int64_t ex_log = 0;
    char names[16][192];
    for (int t = 0; t < m->n_towers && t < 16; t++)
        mt_loss_log_name(m->towers[t].cfg->n_losses ? m->towers[t].cfg->losses[0].type
                                                    : m->towers[t].cfg->loss_type,
                         m->towers[t].cfg->tower_name, names[t], (int)sizeof names[t]);
    while (num_steps <= 0 || step < num_steps) {
        if (o->stop && *o->stop) {
            logf_(o, MT_LOG_WARN, "interrupted at step %" PRId64 ": saving a checkpoint", step);
            if (step > last_saved && (st = save_ckpt(m, p, step, e)) != MTREC_OK) goto done;
            st = mt_fail(e, MTREC_ERR_INTERRUPTED, "training interrupted at step %" PRId64 " (checkpoint saved)", step);
            goto done;
        }
        const mt_batch *b;
        int rc = mt_reader_next(rd, &b, e);
        if (rc < 0) { st = e ? e->code : MTREC_ERR_DATA; goto done; }
        if (rc == 0) break;
        mt_rng_seed(&m->rng, seed * 0x9E3779B97F4A7C15ull + (uint64_t)step);
        if ((st = mt_model_forward(m, b, 1, e)) != MTREC_OK) goto done;
        if ((st = mt_model_loss_backward(m, b, 1, 1, e)) != MTREC_OK) goto done;
        if (!isfinite(m->total_loss)) {
            st = mt_fail(e, MTREC_ERR_DATA, "loss became %f at step %" PRId64 " (diverged: lower the learning rate, "
                         "check labels and inputs)", m->total_loss, step);
            goto done;
        }
        float lr = mt_lr_at(&p->train.optimizer.lr, step);
        mt_train_apply_update(m, step, lr);
        step++;
        s->examples += b->n_rows;
        ex_log += b->n_rows;
        s->last_loss = m->total_loss;
        double now = mt_now();
        if (o->progress) o->progress(o->ctx, step, num_steps, (double)s->examples / (now - t0 + 1e-9));
        if (step % log_every == 0) {
            char line[1536];
            int k = snprintf(line, sizeof line, "step %" PRId64 ": ", step);
            for (int t = 0; t < m->n_towers && t < 16 && k < (int)sizeof line - 64; t++)
                k += snprintf(line + k, sizeof line - (size_t)k, "%s=%.5f ", names[t], m->towers[t].loss);
            snprintf(line + k, sizeof line - (size_t)k, "regularization=%.5f total_loss=%.5f lr=%.6g examples/s=%.0f",
                     m->reg_loss, m->total_loss, lr, (double)ex_log / (now - tlog + 1e-9));
            logf_(o, MT_LOG_INFO, "%s", line);
            tlog = now;
            ex_log = 0;
        }
        if (save_every > 0 && step % save_every == 0) {
            if ((st = save_ckpt(m, p, step, e)) != MTREC_OK) goto done;
            last_saved = step;
        }
    }
    s->seconds = mt_now() - t0;
    s->global_step = step;
    s->examples_per_sec = s->seconds > 0 ? (double)s->examples / s->seconds : 0;
    if (step > last_saved && (st = save_ckpt(m, p, step, e)) != MTREC_OK) goto done;
    logf_(o, MT_LOG_INFO, "trained %" PRId64 " steps (%" PRId64 " examples) in %.1f s: %.0f examples/s",
          step - start_step, s->examples, s->seconds, s->examples_per_sec);
    logf_(o, MT_LOG_INFO, "matrix backend: %s; batch-norm kernels: %s", mt_mm_backend_name(mm),
          mt_bn_kernels_avx512(-1) ? "AVX-512 copy" : "plain copy (the build's -march)");
    if (mt_reader_skipped(rd) > 0)
        logf_(o, MT_LOG_WARN, "ignore_error: skipped %" PRId64 " bad rows", mt_reader_skipped(rd));
    mt_reader_close(rd);
    rd = NULL;

    if (o->evaluate && p->eval_input_path && *p->eval_input_path) {
        st = mt_evaluate(m, p->eval_input_path, p->eval.num_examples, step, &s->eval, e);
        if (st != MTREC_OK) goto done;
        s->evaluated = 1;
        char path[4096];
        snprintf(path, sizeof path, "%s/eval_result.txt", p->model_dir);
        st = mt_eval_result_write_json(&s->eval, path, e);
    }
done:
    mt_reader_close(rd);
    mt_model_free(m);
    mt_mm_free(mm);
    return st;
}

mtrec_status mt_eval_checkpoint(const mt_pipeline *p, const char *checkpoint_path, int threads,
                                mt_eval_result *r, mt_err *e) {
    memset(r, 0, sizeof *r);
    mt_mm *mm = NULL;
    mt_model *m = NULL;
    int64_t step = 0;
    mtrec_status st = mt_model_open_checkpoint(p, checkpoint_path, p->data.batch_size, threads, &mm, &m, &step, e);
    if (st == MTREC_OK) st = mt_evaluate(m, p->eval_input_path, p->eval.num_examples, step, r, e);
    if (st == MTREC_OK && p->model_dir) {
        char out[4096];
        snprintf(out, sizeof out, "%s/eval_result.txt", p->model_dir);
        st = mt_eval_result_write_json(r, out, e);
    }
    mt_model_free(m);
    mt_mm_free(mm);
    return st;
}
