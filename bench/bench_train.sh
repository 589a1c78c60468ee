#!/usr/bin/env bash
# bench_train.sh: live5 DBMTL training speed, mtrec vs the PyTorch peer, at batch 1024 on
# 2 threads and on 1 thread.
#   mtrec: `mtrec train -c examples/live5.config` on a synth file (CSV parsing, feature
#     transforms, hashing and batching included, in its reader thread), a fixed number of
#     steps; examples/s from its final log line
#     "trained N steps (M examples) in S s: X examples/s" (the training loop only: model
#     building before it and the evaluation after it are not counted).
#   peer: ../shared/bench/peer_torch_dbmtl.py --threads T --batch 1024 --features 16 --dim 16:
#     the same layer sizes and task DAG in PyTorch, COMPUTE ONLY (random ids in pre-made
#     tensors, no parsing), 16 embedded features of 100k rows x 16 (live5: 15 embedded + 2
#     raw values), torch.optim.Adam (dense: every embedding row every step).
# Both run with OMP_WAIT_POLICY=passive (a spinning OpenMP pool collapses when anything
# else runs on these shared vCPUs: ../shared/bench/gemm/RESULTS.md, pitfall 3). Each pair
# is repeated REPS times; the best and the median are printed with the load average.
#
# usage: bench/bench_train.sh        (from the repository root, after make -j2)
# env:   ROWS (200000), STEPS (150), REPS (3), THREADS_LIST ("2 1"),
#        MTREC (build/release/mtrec), PY (/usr/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
STEPS=${STEPS:-150}
REPS=${REPS:-3}
THREADS_LIST=${THREADS_LIST:-"2 1"}
MTREC=${MTREC:-build/release/mtrec}
PY=${PY:-/usr/bin/python3}
PEER=../shared/bench/peer_torch_dbmtl.py
export OMP_WAIT_POLICY=passive
D=build/bench_train
[ -x "$MTREC" ] || { echo "bench_train.sh: $MTREC not found: run make -j2 first" >&2; exit 1; }
mkdir -p "$D"
[ -s "$D/live5_$ROWS.csv" ] || "$MTREC" synth --rows "$ROWS" --seed 1 --output_path "$D/live5_$ROWS.csv" >&2
[ -s "$D/live5_eval.csv" ] || "$MTREC" synth --rows 5000 --seed 2 --output_path "$D/live5_eval.csv" >&2

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u +%F)"
echo "mtrec: live5, $ROWS-row synth CSV, batch 1024, $STEPS steps; peer: $PEER --batch 1024 --features 16 --dim 16 (60 steps)"
echo
echo "| threads | run | load avg (1 min) | mtrec examples/s | PyTorch peer samples/s | mtrec / peer |"
echo "|---|---|---|---|---|---|"
declare -A M P
for T in $THREADS_LIST; do
  for r in $(seq 1 "$REPS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    rm -rf "$D/model"
    # without -q: -q also hides the final "trained ..." line; stderr is a file, so no progress bar
    "$MTREC" train -c examples/live5.config --train_input_path "$D/live5_$ROWS.csv" \
      --eval_input_path "$D/live5_eval.csv" --model_dir "$D/model" --num_steps "$STEPS" \
      --threads "$T" --seed 1 > "$D/mtrec-t$T-r$r.out" 2> "$D/mtrec-t$T-r$r.log"
    m=$(sed -n 's/.*trained [0-9]* steps ([0-9]* examples) in [0-9.]* s: \([0-9]*\) examples\/s.*/\1/p' "$D/mtrec-t$T-r$r.log")
    [ -n "$m" ] || { echo "no 'trained' line in $D/mtrec-t$T-r$r.log" >&2; exit 1; }
    "$PY" "$PEER" --threads "$T" --batch 1024 --features 16 --dim 16 > "$D/peer-t$T-r$r.log" 2>&1
    p=$(sed -n 's/.*: train \([0-9]*\) samples\/s.*/\1/p' "$D/peer-t$T-r$r.log")
    [ -n "$p" ] || { echo "no 'train' figure in $D/peer-t$T-r$r.log" >&2; exit 1; }
    M[$T]="${M[$T]:-} $m"; P[$T]="${P[$T]:-} $p"
    echo "| $T | $r | $load | $m | $p | $(awk -v a="$m" -v b="$p" 'BEGIN{printf "%.2f", a/b}') |"
  done
done
echo
for T in $THREADS_LIST; do
  awk -v t="$T" -v m="${M[$T]}" -v p="${P[$T]}" 'function med(s,  a,n,i,j,x){n=split(s,a," ");
      for(i=1;i<=n;i++)for(j=i+1;j<=n;j++)if(a[j]<a[i]){x=a[i];a[i]=a[j];a[j]=x}
      return n%2?a[(n+1)/2]:(a[n/2]+a[n/2+1])/2}
    function best(s,  a,n,i,b){n=split(s,a," ");b=0;for(i=1;i<=n;i++)if(a[i]+0>b)b=a[i]+0;return b}
    BEGIN{printf "%s thread(s): mtrec best %d, median %d examples/s; peer best %d, median %d samples/s; ratio of bests %.2f, of medians %.2f\n",
      t, best(m), med(m), best(p), med(p), best(m)/best(p), med(m)/med(p)}'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
