#!/usr/bin/env bash
# bench_all.sh: the one speed benchmark of issue 5, in one run (about 5-8 minutes):
#   machine, fp32 FMA peak (1 core, all cores), live5 training compute-only (batches in memory)
#   and end to end from CSV (`mtrec train`), the PyTorch peer with the same threads and batch,
#   effective GFLOP/s and fraction of peak, ratios, inference through the C API vs the peer,
#   a batch 256/1024/4096 x 1/2 threads table, peak RSS, and bf16 vs fp32 (speed and AUC).
#
# Usage (from the repo root):  bash bench/bench_all.sh [--quick]
# Environment: THREADS (default: 1 and nproc), ROWS (training rows for the end-to-end run,
# default 400000), PEER_STEPS (default 30), SEEDS (bf16/fp32 AUC seeds, default "1 2 3").
# Everything it writes goes to build/bench/ (data, models, logs: build/bench/log/).
#
# OpenMP: libgomp reads OMP_WAIT_POLICY when a program starts. Unless it is already set,
# the 2-thread numbers are measured twice: "passive" (idle threads sleep: the safe setting on
# a shared machine, each parallel region pays a wake-up) and libgomp's default (threads spin
# a while before sleeping: faster when the cores are free, much slower when another process
# wants them; GOMP_SPINCOUNT=10000 measured the same as the default on a quiet machine and
# bounds the waste when it is not). 1-thread numbers use passive.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=build/bench
LOG=$B/log
mkdir -p "$B" "$LOG"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
NPROC=$(nproc)
ROWS=${ROWS:-400000}
PEER_STEPS=${PEER_STEPS:-30}
SEEDS=${SEEDS:-"1 2 3"}
if [ $QUICK = 1 ]; then ROWS=100000; PEER_STEPS=10; SEEDS="1"; fi
CFG=examples/live5.config
PY=/usr/bin/python3
PEER=../shared/bench/peer_torch_dbmtl.py
T0=$(date +%s)

say() { printf '%s\n' "$*"; }
hr() { say "------------------------------------------------------------------------------------------"; }
# value of key=... in a RESULT line
kv() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | head -n1; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# ---- build -------------------------------------------------------------------------------
say "== build"
make -s MODE=release lib build/release/mtrec >"$LOG/build.txt" 2>&1 || { cat "$LOG/build.txt"; exit 1; }
CC=${CC:-cc}
CFLAGS="-std=c11 -D_GNU_SOURCE -O2 -march=x86-64-v3 -Iinclude -Isrc"
LIBS="build/release/libmtrec.a -fopenmp -ldnnl -lz -lcjson -lmicrohttpd -lpthread -lm"
$CC $CFLAGS bench/fmapeak.c -lpthread -o $B/fmapeak || exit 1
$CC $CFLAGS bench/bench_train_compute.c $LIBS -o $B/bench_train_compute || exit 1
$CC $CFLAGS bench/bench_infer.c $LIBS -o $B/bench_infer || exit 1
MTREC=build/release/mtrec

# ---- machine -----------------------------------------------------------------------------
hr
say "== machine"
say "$(lscpu | sed -n 's/^Model name:[ ]*//p'), $(lscpu | sed -n 's/^CPU(s):[ ]*//p') CPUs," \
    "family $(lscpu | sed -n 's/^CPU family:[ ]*//p') model $(lscpu | sed -n 's/^Model:[ ]*//p')," \
    "flags: $(grep -o -w -E 'avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg); oneDNN $(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || echo '?'), $($PY -c 'import torch; print("torch", torch.__version__)' 2>/dev/null || echo 'torch: missing')"
T2=$NPROC
THREADS=${THREADS:-"1 $T2"}
if [ -n "${OMP_WAIT_POLICY:-}" ]; then POLICIES="$OMP_WAIT_POLICY"; else POLICIES="passive default"; fi
# run CMD under a wait policy ("default" = unset)
withpol() { local p=$1; shift; if [ "$p" = default ]; then env -u OMP_WAIT_POLICY "$@"; else OMP_WAIT_POLICY=$p "$@"; fi; }

# ---- FMA peak ----------------------------------------------------------------------------
hr
say "== fp32 FMA peak (bench/fmapeak.c)"
$B/fmapeak --threads "$NPROC" | tee "$LOG/fmapeak.txt" | head -n1
P1=$(grep '^RESULT' "$LOG/fmapeak.txt" | kv peak_1core)
PALL=$(grep '^RESULT' "$LOG/fmapeak.txt" | kv peak_all)
peak_for() { if [ "$1" = 1 ]; then echo "$P1"; else awk -v a="$PALL" -v t="$1" -v n="$NPROC" 'BEGIN { printf "%.1f", a * t / n }'; fi; }

# ---- data --------------------------------------------------------------------------------
hr
say "== data: mtrec synth, $ROWS training rows (seed 1), 50000 evaluation rows (seed 2)"
[ -s "$B/train_$ROWS.csv" ] || $MTREC synth --rows "$ROWS" --output_path "$B/train_$ROWS.csv" --seed 1 >/dev/null || exit 1
[ -s "$B/eval_50k.csv" ] || $MTREC synth --rows 50000 --output_path "$B/eval_50k.csv" --seed 2 >/dev/null || exit 1
# a config per run: same model and optimizer as examples/live5.config, paths into build/bench
mkcfg() {  # mkcfg OUT MODEL_DIR BATCH BF16(0/1) SEED
    sed -e "s#^train_input_path:.*#train_input_path: \"$ROOT/$B/train_$ROWS.csv\"#" \
        -e "s#^eval_input_path:.*#eval_input_path: \"$ROOT/$B/eval_50k.csv\"#" \
        -e "s#^model_dir:.*#model_dir: \"$2\"#" \
        -e "s#^\([ ]*batch_size:\).*#\1 $3#" "$CFG" >"$1"
    if [ "$4" = 1 ]; then sed -i 's#^train_config {#train_config {\n  mixed_precision: "BF16"#' "$1"; fi
    sed -i "s#^train_config {#train_config {\n  seed: $5#" "$1"
}

# ---- training, compute only --------------------------------------------------------------
hr
say "== training, compute only (bench/bench_train_compute.c: batches in memory; forward, loss, backward, Adam)"
declare -A TR
tc() {  # tc BATCH THREADS POLICY BF16 -> sets TR[...] = examples/s; prints the line
    local bb=$1 t=$2 pol=$3 bf=$4 steps=20 reps=5 extra=""
    [ "$bb" -ge 4096 ] && { steps=6; reps=3; }
    [ $QUICK = 1 ] && { steps=8; reps=2; }
    [ "$bf" = 1 ] && extra="--bf16"
    withpol "$pol" $B/bench_train_compute "$CFG" "$B/train_$ROWS.csv" --threads "$t" --batch "$bb" \
        --steps $steps --reps $reps --batches 8 --peak "$(peak_for "$t")" $extra >"$LOG/train_${bb}_${t}_${pol}_${bf}.txt" 2>&1
    local line; line=$(grep '^RESULT' "$LOG/train_${bb}_${t}_${pol}_${bf}.txt")
    TR["$bb,$t,$pol,$bf"]=$(echo "$line" | kv ex_per_s)
    TRM["$bb,$t,$pol,$bf"]=$(echo "$line" | kv median)
    TRG["$bb,$t,$pol,$bf"]=$(echo "$line" | kv gflops)
    TRR["$bb,$t,$pol,$bf"]=$(echo "$line" | kv rss_mb)
}
declare -A TRG TRR TRM
printf '%-7s %-8s %-8s %-5s %12s %10s %9s %8s\n' batch threads policy prec "examples/s" "GFLOP/s" "of peak" "RSS MB"
for bb in 256 1024 4096; do
    for t in $THREADS; do
        pols=passive; [ "$t" -gt 1 ] && pols=$POLICIES
        for pol in $pols; do
            for bf in 0 1; do
                [ "$bf" = 1 ] && [ "$bb" != 1024 ] && continue
                tc "$bb" "$t" "$pol" "$bf"
                k="$bb,$t,$pol,$bf"
                printf '%-7s %-8s %-8s %-5s %12s %10s %8s%% %8s\n' "$bb" "$t" "$pol" "$([ $bf = 1 ] && echo bf16 || echo fp32)" \
                    "${TR[$k]:-fail}" "${TRG[$k]:-}" "$(awk -v g="${TRG[$k]:-0}" -v p="$(peak_for "$t")" 'BEGIN { printf "%.1f", 100 * g / p }')" "${TRR[$k]:-}"
            done
        done
    done
done
say "(GFLOP/s counts the model's matrix FLOPs, 2*B*in*out per dense kernel forward, x3 per training step: 3.165 MFLOP per example for live5; peak = fmapeak for that many cores)"
# bf16 vs fp32 as a ratio: the box drifts by 10-15% within minutes, so the two are also
# measured interleaved (fp32, bf16, fp32, bf16, ...; best of each), as every A/B in
# bench/README.md is; the table's rows above ran once each, a minute apart
declare -A BFR BF32 BF16
NR=$([ $QUICK = 1 ] && echo 1 || echo 3)
say "bf16 vs fp32, batch 1024, interleaved ($NR rounds of fp32 then bf16, 3 x 20 steps each; best of each):"
for t in $THREADS; do
    pols=passive; [ "$t" -gt 1 ] && pols=$POLICIES
    for pol in $pols; do
        b32=0; b16=0
        for r in $(seq $NR); do
            for bf in 0 1; do
                withpol "$pol" $B/bench_train_compute "$CFG" "$B/train_$ROWS.csv" --threads "$t" --batch 1024 \
                    --steps 20 --reps 3 --batches 8 $([ $bf = 1 ] && echo --bf16) >"$LOG/ab_${t}_${pol}_${bf}_$r.txt" 2>&1
                v=$(grep '^RESULT' "$LOG/ab_${t}_${pol}_${bf}_$r.txt" | kv ex_per_s)
                if [ $bf = 1 ]; then b16=$(awk -v a="$b16" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
                else b32=$(awk -v a="$b32" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }'); fi
            done
        done
        BF32["$t,$pol"]=$b32; BF16["$t,$pol"]=$b16; BFR["$t,$pol"]=$(fdiv "$b16" "$b32")
        say "  threads $t ($pol): fp32 $b32, bf16 $b16 examples/s: bf16 = ${BFR[$t,$pol]}x fp32"
    done
done
# the issue's literal spec: 16 IdFeatures x 16 dims, hash_bucket_size 100000 each (input 256 wide)
say "bench/live5_16id.config (the issue's shape: 16 IdFeatures, embedding_dim 16, hash_bucket_size 100000; same dbmtl block), batch 1024, fp32:"
for t in $THREADS; do
    pol=passive; [ "$t" -gt 1 ] && pol=${POLICIES##* }
    withpol "$pol" $B/bench_train_compute bench/live5_16id.config "$B/train_$ROWS.csv" --threads "$t" --batch 1024 \
        --steps 20 --reps $([ $QUICK = 1 ] && echo 2 || echo 5) --batches 8 --peak "$(peak_for "$t")" >"$LOG/train16id_$t.txt" 2>&1
    line=$(grep '^RESULT' "$LOG/train16id_$t.txt")
    say "  threads $t ($pol): $(echo "$line" | kv ex_per_s) examples/s, $(echo "$line" | kv gflops) GFLOP/s = $(awk -v g="$(echo "$line" | kv gflops)" -v p="$(peak_for "$t")" 'BEGIN { printf "%.1f%%", 100 * g / p }') of peak"
done

# ---- training, end to end from CSV --------------------------------------------------------
hr
say "== training end to end from CSV: mtrec train -c <live5, batch 1024> --threads T ($ROWS rows, reader thread + compute; evaluation not timed)"
declare -A E2E E2ERSS E2EA
for t in $THREADS; do
    pols=passive; [ "$t" -gt 1 ] && pols=$POLICIES
    for pol in $pols; do
        d="$ROOT/$B/model_e2e_${t}_$pol"
        rm -rf "$d"
        mkcfg "$B/e2e_${t}_$pol.config" "$d" 1024 0 1
        withpol "$pol" /usr/bin/time -v $MTREC train -c "$B/e2e_${t}_$pol.config" --threads "$t" \
            >"$LOG/e2e_${t}_$pol.out" 2>"$LOG/e2e_${t}_$pol.err"
        line=$(grep -E '^trained [0-9]+ steps' "$LOG/e2e_${t}_$pol.err" | tail -n1)
        E2E["$t,$pol"]=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) examples\/s.*/\1/p')
        E2ERSS["$t,$pol"]=$(awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$LOG/e2e_${t}_$pol.err")
        c=${TR["1024,$t,$pol,0"]:-0}
        cm=${TRM["1024,$t,$pol,0"]:-0}
        # compute-only again right after (the box drifts: the table's run was minutes ago)
        withpol "$pol" $B/bench_train_compute "$CFG" "$B/train_$ROWS.csv" --threads "$t" --batch 1024 \
            --steps 20 --reps $([ $QUICK = 1 ] && echo 2 || echo 5) --batches 8 >"$LOG/e2e_adj_${t}_$pol.txt" 2>&1
        ca=$(grep '^RESULT' "$LOG/e2e_adj_${t}_$pol.txt" | kv ex_per_s)
        E2EA["$t,$pol"]=$(fdiv "${E2E[$t,$pol]:-0}" "${ca:-0}")
        say "threads $t ($pol): $line | compute-only $c examples/s (best; median $cm) -> end to end = $(fdiv "${E2E[$t,$pol]:-0}" "$c") of compute-only best, $(fdiv "${E2E[$t,$pol]:-0}" "$cm") of its median; compute-only right after: ${ca:-n/a} -> ${E2EA[$t,$pol]}; peak RSS ${E2ERSS[$t,$pol]} MB"
    done
done

say "(end to end is one continuous run that includes the first steps' kernel compilation and page faults; compute-only is the best and the median of several timed runs after a warm-up)"

# ---- inference through the C API -----------------------------------------------------------
hr
say "== inference: C API (bench/bench_infer.c: mtrec_model_load, one mtrec_predictor per thread, mtrec_predict_rows on text rows)"
EXP="$B/export"
rm -rf "$EXP"
firstpol=${POLICIES%% *}
$MTREC export -c "$B/e2e_1_passive.config" --export_dir "$EXP" >"$LOG/export.txt" 2>&1 || { cat "$LOG/export.txt"; exit 1; }
declare -A INF
printf '%-7s %-8s %-8s %12s %9s %9s %10s\n' batch threads policy "rows/s" "GFLOP/s" "of peak" "RSS MB"
# fraction of the fp32 peak of the cores used (a bf16 export's products run on AMX: above 100% is possible)
infer_row() {  # batch threads policy rows/s rss suffix
    local g; g=$(awk -v r="${4:-0}" 'BEGIN { printf "%.1f", r * 1.055e-3 }')
    printf '%-7s %-8s %-8s %12s %9s %8s%% %10s%s\n' "$1" "$2" "$3" "${4:-fail}" "$g" \
        "$(awk -v g="$g" -v p="$(peak_for "$2")" 'BEGIN { printf "%.1f", 100 * g / p }')" "$5" "$6"
}
for bb in 256 1024 4096; do
    for pol in passive; do
        secs=2; [ $QUICK = 1 ] && secs=1
        withpol "$pol" $B/bench_infer "$EXP" "$B/eval_50k.csv" --batch "$bb" --threads "$(echo $THREADS | tr ' ' ',')" \
            --seconds $secs --reps 3 >"$LOG/infer_${bb}_$pol.txt" 2>&1
        for t in $THREADS; do
            line=$(grep "^RESULT infer batch=$bb threads=$t " "$LOG/infer_${bb}_$pol.txt")
            INF["$bb,$t"]=$(echo "$line" | kv rows_per_s)
            infer_row "$bb" "$t" "$pol" "${INF[$bb,$t]:-}" "$(echo "$line" | kv rss_mb)" ""
        done
    done
done
say "(inference GFLOP/s: 1.055 MFLOP forward per row; one predictor per thread, each single-threaded; text parsing included)"
# the same model exported with --precision bf16 (kernels and tables in bf16, products on AMX)
EXP16="$B/export_bf16"
rm -rf "$EXP16"
$MTREC export -c "$B/e2e_1_passive.config" --export_dir "$EXP16" --precision bf16 >"$LOG/export_bf16.txt" 2>&1 \
    || { cat "$LOG/export_bf16.txt"; exit 1; }
declare -A INF16
for bb in 256 1024; do
    secs=2; [ $QUICK = 1 ] && secs=1
    withpol passive $B/bench_infer "$EXP16" "$B/eval_50k.csv" --batch "$bb" --threads "$(echo $THREADS | tr ' ' ',')" \
        --seconds $secs --reps 3 >"$LOG/infer16_${bb}.txt" 2>&1
    for t in $THREADS; do
        line=$(grep "^RESULT infer batch=$bb threads=$t " "$LOG/infer16_${bb}.txt")
        INF16["$bb,$t"]=$(echo "$line" | kv rows_per_s)
        infer_row "$bb" "$t" passive "${INF16[$bb,$t]:-}" "$(echo "$line" | kv rss_mb)" "  (bf16 export)"
    done
done

# ---- the PyTorch peer ------------------------------------------------------------------------
hr
say "== PyTorch peer: $PY $PEER --threads T --batch 1024 --steps $PEER_STEPS (compute only, pre-made tensors)"
declare -A PT PI
if $PY -c 'import torch' 2>/dev/null; then
    for t in $THREADS; do
        $PY "$PEER" --threads "$t" --batch 1024 --steps "$PEER_STEPS" >"$LOG/peer_$t.txt" 2>&1
        line=$(grep '^torch' "$LOG/peer_$t.txt")
        PT[$t]=$(echo "$line" | sed -n 's/.*train \([0-9]*\) samples.*/\1/p')
        PI[$t]=$(echo "$line" | sed -n 's/.*infer \([0-9]*\) samples.*/\1/p')
        say "$line"
    done
else
    say "torch is not importable by $PY: peer skipped (install python3-torch or pip torch)"
fi

# ---- bf16 vs fp32: speed and accuracy ------------------------------------------------------------
hr
say "== mixed precision: train_config { mixed_precision: \"BF16\" } vs fp32 (live5 synth, $ROWS train / 50000 eval rows, mtrec train --threads $T2)"
pol1=${POLICIES%% *}
declare -A AUC0 AUC1
NSEED=0
for seed in $SEEDS; do
    for bf in 0 1; do
        d="$ROOT/$B/model_acc_${seed}_$bf"
        rm -rf "$d"
        mkcfg "$B/acc_${seed}_$bf.config" "$d" 1024 "$bf" "$seed"
        withpol "$pol1" $MTREC train -c "$B/acc_${seed}_$bf.config" --threads "$T2" --seed "$seed" \
            >"$LOG/acc_${seed}_$bf.out" 2>"$LOG/acc_${seed}_$bf.err"
    done
    row="seed $seed:"
    for task in is_click is_view is_on_mic; do
        a0=$(awk -v k="auc_$task" '$1 == k { print $2 }' "$LOG/acc_${seed}_0.out")
        a1=$(awk -v k="auc_$task" '$1 == k { print $2 }' "$LOG/acc_${seed}_1.out")
        row="$row auc_$task fp32 $a0 bf16 $a1 (diff $(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%+.4f", b - a }'));"
        AUC0[$task]=$(awk -v s="${AUC0[$task]:-0}" -v a="$a0" 'BEGIN { print s + a }')
        AUC1[$task]=$(awk -v s="${AUC1[$task]:-0}" -v a="$a1" 'BEGIN { print s + a }')
    done
    NSEED=$((NSEED + 1))
    e0=$(grep -E '^trained' "$LOG/acc_${seed}_0.err" | sed -n 's/.*: \([0-9.]*\) examples\/s.*/\1/p')
    e1=$(grep -E '^trained' "$LOG/acc_${seed}_1.err" | sed -n 's/.*: \([0-9.]*\) examples\/s.*/\1/p')
    say "$row end to end fp32 $e0 / bf16 $e1 examples/s"
done

# ---- summary --------------------------------------------------------------------------------------
hr
say "== summary (batch 1024)"
for t in $THREADS; do
    pols=passive; [ "$t" -gt 1 ] && pols=$POLICIES
    for pol in $pols; do
        c=${TR["1024,$t,$pol,0"]:-0}; g=${TRG["1024,$t,$pol,0"]:-0}; cb=${TR["1024,$t,$pol,1"]:-0}
        say "threads $t ($pol): train fp32 $c examples/s = $g GFLOP/s = $(awk -v g="$g" -v p="$(peak_for "$t")" 'BEGIN { printf "%.1f%%", 100 * g / p }') of the ${t}-core peak ($(awk -v g="$g" -v c="$c" -v b="${BF32[$t,$pol]:-0}" -v p="$(peak_for "$t")" 'BEGIN { if (c > 0 && b > 0) printf "%.1f%%", 100 * g * b / c / p; else printf "n/a" }') in the interleaved runs); vs peer ${PT[$t]:-n/a}: $(fdiv "$c" "${PT[$t]:-0}")x; end to end $(fdiv "${E2E[$t,$pol]:-0}" "$c") of compute-only (${E2EA[$t,$pol]:-n/a} of the run right after); bf16 $cb = $(fdiv "$cb" "$c")x fp32 (interleaved: ${BFR[$t,$pol]:-n/a}x)"
    done
    gi=$(awk -v r="${INF[1024,$t]:-0}" 'BEGIN { printf "%.1f", r * 1.055e-3 }')
    say "threads $t: inference C API fp32 export ${INF[1024,$t]:-n/a} rows/s = $gi GFLOP/s = $(awk -v g="$gi" -v p="$(peak_for "$t")" 'BEGIN { printf "%.1f%%", 100 * g / p }') of the ${t}-core peak / bf16 export ${INF16[1024,$t]:-n/a} rows/s; vs peer ${PI[$t]:-n/a}: $(fdiv "${INF[1024,$t]:-0}" "${PI[$t]:-0}")x / $(fdiv "${INF16[1024,$t]:-0}" "${PI[$t]:-0}")x"
done
best=0
for t in $THREADS; do best=$(awk -v a="$best" -v b="${PI[$t]:-0}" 'BEGIN { print (b > a ? b : a) }'); done
tl=${THREADS##* }
say "inference at $tl threads vs the peer's best run ($best rows/s): fp32 export $(fdiv "${INF[1024,$tl]:-0}" "$best")x, bf16 export $(fdiv "${INF16[1024,$tl]:-0}" "$best")x"

row="bf16 - fp32 AUC, mean of $NSEED seed(s):"
for task in is_click is_view is_on_mic; do
    row="$row $task $(awk -v a="${AUC0[$task]:-0}" -v b="${AUC1[$task]:-0}" -v n="$NSEED" 'BEGIN { if (n > 0) printf "%+.4f", (b - a) / n; else print "n/a" }')"
done
say "$row"
say "(a few seeds cannot resolve 0.002 on is_on_mic: bench/bench_bf16_auc.sh is the paired 12-seed study, with fp32's own rounding noise)"
say "targets (issue 5, 2 threads): train >= 3x peer, >= 50% of fp32 peak; end to end within 15% (>= 0.85); inference >= 3x peer; bf16 >= 2x fp32 with AUC within 0.002"
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg); total $(( $(date +%s) - T0 )) s; logs in $LOG/"
