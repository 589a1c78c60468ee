#!/usr/bin/env bash
# bench_bf16_auc.sh: does mixed precision (train_config { mixed_precision: "BF16" }) keep the
# AUCs of fp32 training? A paired study: for each seed, the same model, data and data order
# trained in fp32 and in bf16 (`mtrec train`, 2 threads), evaluated on the same rows. Prints
# every pair, and per AUC the mean difference bf16 - fp32, its standard deviation, standard
# error and 95% interval (Student t), for live5 synth and for Hillstrom.
#
# A difference can only be read against the noise of the measurement itself: fp32 training
# is chaotic (a change of rounding anywhere moves the final weights), so every seed is also
# trained by a second fp32 build of the same code whose own loops round differently
# (build/fpalt: compiled with -ffp-contract=fast: a*b+c in mtrec's own loops becomes one fused
# multiply-add, rounded once instead of twice, where the release build (ISO C) keeps two;
# the products are oneDNN's either way), and the same statistics are printed for
# fp32(alt) - fp32: the difference that rounding alone makes.
#
# Usage (from the repo root): bash bench/bench_bf16_auc.sh
# Environment: ROWS (live5 training rows, default 1000000), EVAL_ROWS (default 500000),
# SEEDS (default "1 2 3 4 5 6"), HSEEDS (Hillstrom seeds, default "1 2 3 4 5 6 7 8"; "" skips
# Hillstrom), THREADS (default nproc), ALT_MTREC (the second fp32 binary; default: build/fpalt
# built here; "none" skips it), REUSE=1 (keep the finished runs of an earlier call, e.g. to
# add seeds). About 15 minutes on the 2-vCPU guest with the defaults.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=build/bench/auc
LOG=$B/log
mkdir -p "$B" "$LOG"
ROWS=${ROWS:-1000000}
EVAL_ROWS=${EVAL_ROWS:-500000}
SEEDS=${SEEDS:-"1 2 3 4 5 6"}
HSEEDS=${HSEEDS-"1 2 3 4 5 6 7 8"}
THREADS=${THREADS:-$(nproc)}
ALT_MTREC=${ALT_MTREC:-build/fpalt/mtrec}
[ "$ALT_MTREC" = none ] && ALT_MTREC=
MTREC=build/release/mtrec
HDATA=../shared/data/hillstrom_email/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv

say() { printf '%s\n' "$*"; }
make -s MODE=release build/release/mtrec >"$LOG/build.txt" 2>&1 || { cat "$LOG/build.txt"; exit 1; }
if [ "$ALT_MTREC" = build/fpalt/mtrec ]; then
    make -s MODE=release B=build/fpalt CFLAGS=-ffp-contract=fast build/fpalt/mtrec >>"$LOG/build.txt" 2>&1 ||
        { cat "$LOG/build.txt"; exit 1; }
fi

# stats FILE: lines "diff" -> n, mean, sd, se, 95% interval
stats() {
    awk '{ x[NR] = $1; s += $1 } END {
        n = NR; if (n == 0) { print "no pairs"; exit }
        m = s / n; v = 0; for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
        sd = n > 1 ? sqrt(v / (n - 1)) : 0; se = sd / sqrt(n)
        split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23 2.20 2.18 2.16 2.14 2.13", t, " ")
        q = n - 1 >= 1 && n - 1 <= 15 ? t[n - 1] : 2.0
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { y = x[i]; x[i] = x[j]; x[j] = y }
        med = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
        printf "n %2d  mean %+.4f  median %+.4f  sd %.4f  se %.4f  95%% interval [%+.4f, %+.4f]\n", n, m, med, sd, se, m - q * se, m + q * se
    }' "$1"
}

# study NAME CONFIG_MAKER TASKS SEEDS: trains every seed in fp32 / bf16 (/ alt fp32);
# CONFIG_MAKER OUT MODEL_DIR BF16 SEED writes a config
study() {
    local name=$1 mk=$2 tasks=$3 seeds=$4
    say "== $name: fp32 vs bf16 (mtrec train --threads $THREADS), seeds $seeds"
    for task in $tasks; do : >"$LOG/${name}_${task}.bf16"; : >"$LOG/${name}_${task}.alt"; done
    for seed in $seeds; do
        local row="seed $seed:"
        for run in fp32 bf16 ${ALT_MTREC:+alt}; do
            local d="$ROOT/$B/model_${name}_${seed}_$run" bin=$MTREC bf=0
            [ "$run" = bf16 ] && bf=1
            [ "$run" = alt ] && bin=$ALT_MTREC
            # REUSE=1: a finished run of this seed is kept (its log has the AUCs and is newer
            # than the binary that trained it)
            if [ "${REUSE:-0}" = 1 ] && [ "$LOG/${name}_${seed}_$run.out" -nt "$bin" ] &&
                grep -q '^auc_' "$LOG/${name}_${seed}_$run.out"; then continue; fi
            rm -rf "$d"
            $mk "$B/${name}_${seed}_$run.config" "$d" "$bf" "$seed"
            $bin train -c "$B/${name}_${seed}_$run.config" --threads "$THREADS" --seed "$seed" \
                >"$LOG/${name}_${seed}_$run.out" 2>"$LOG/${name}_${seed}_$run.err" ||
                { say "train failed: $LOG/${name}_${seed}_$run.err"; tail -n3 "$LOG/${name}_${seed}_$run.err"; exit 1; }
        done
        for task in $tasks; do
            local a0 a1 a2
            a0=$(awk -v k="auc_$task" '$1 == k { print $2 }' "$LOG/${name}_${seed}_fp32.out")
            a1=$(awk -v k="auc_$task" '$1 == k { print $2 }' "$LOG/${name}_${seed}_bf16.out")
            awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.6f\n", b - a }' >>"$LOG/${name}_${task}.bf16"
            row="$row $task fp32 $a0 bf16 $a1"
            if [ -n "$ALT_MTREC" ]; then
                a2=$(awk -v k="auc_$task" '$1 == k { print $2 }' "$LOG/${name}_${seed}_alt.out")
                awk -v a="$a0" -v b="$a2" 'BEGIN { printf "%.6f\n", b - a }' >>"$LOG/${name}_${task}.alt"
                row="$row alt $a2"
            fi
            row="$row;"
        done
        say "$row"
    done
    for task in $tasks; do
        say "  auc_$task bf16 - fp32:      $(stats "$LOG/${name}_${task}.bf16")"
        [ -n "$ALT_MTREC" ] && say "  auc_$task fp32(alt) - fp32: $(stats "$LOG/${name}_${task}.alt")"
    done
}

# ---- live5 synth ---------------------------------------------------------------------------
[ -s "$B/train_$ROWS.csv" ] || $MTREC synth --rows "$ROWS" --output_path "$B/train_$ROWS.csv" --seed 1 >/dev/null || exit 1
[ -s "$B/eval_$EVAL_ROWS.csv" ] || $MTREC synth --rows "$EVAL_ROWS" --output_path "$B/eval_$EVAL_ROWS.csv" --seed 2 >/dev/null || exit 1
# mkcfg TEMPLATE TRAIN_CSV EVAL_CSV OUT MODEL_DIR BF16 SEED: a copy of TEMPLATE with these
mkcfg() {
    sed -e "s#^train_input_path:.*#train_input_path: \"$2\"#" \
        -e "s#^eval_input_path:.*#eval_input_path: \"$3\"#" \
        -e "s#^model_dir:.*#model_dir: \"$5\"#" "$1" >"$4"
    [ "$6" = 1 ] && sed -i 's#^train_config {#train_config {\n  mixed_precision: "BF16"#' "$4"
    sed -i "s#^train_config {#train_config {\n  seed: $7#" "$4"
}
live5_cfg() { mkcfg examples/live5.config "$ROOT/$B/train_$ROWS.csv" "$ROOT/$B/eval_$EVAL_ROWS.csv" "$@"; }
say "live5 synth: $ROWS training rows (1 epoch), $EVAL_ROWS evaluation rows; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
study live5 live5_cfg "is_click is_view is_on_mic" "$SEEDS"

# ---- Hillstrom -----------------------------------------------------------------------------
if [ -n "$HSEEDS" ]; then
    if [ ! -s "$HDATA" ]; then
        say "Hillstrom data not found at $HDATA: skipped"
    else
        mkdir -p build/data
        [ -s build/data/hillstrom_train.csv ] ||
            python3 tools/split_rows.py "$HDATA" build/data/hillstrom_train.csv build/data/hillstrom_eval.csv --mod 4 --header || exit 1
        hill_cfg() { mkcfg examples/hillstrom.config "$ROOT/build/data/hillstrom_train.csv" "$ROOT/build/data/hillstrom_eval.csv" "$@"; }
        say "Hillstrom: 48,000 training rows ($(grep -o 'num_epochs: [0-9]*' examples/hillstrom.config | head -n1)), 16,000 evaluation rows"
        study hillstrom hill_cfg "visit conversion" "$HSEEDS"
    fi
fi
say "logs: $LOG/"
