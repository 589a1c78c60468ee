#!/usr/bin/env bash
# quality.sh: does mtrec train DBMTL as well as PyTorch does? Trains mtrec and the PyTorch
# reference (tools/torch_dbmtl_train.py: the same model, features, init, losses, TF Adam,
# learning-rate schedule, batch size, epochs and eval split) on two real data sets with
# several seeds, and prints per-task eval metrics as mean +- sample std per system.
#   hillstrom: examples/hillstrom.config, visit -> conversion -> spend, 48k/16k rows
#   taobao:    examples/taobao_dbmtl.config (EasyRec's sample config), clk -> buy, on the
#              only offline file (EasyRec's 10k-row eval file) split 7,500/2,500
# Also checks that the PyTorch script, given mtrec's trained weights, reproduces mtrec's
# own evaluation (features, forward pass, batch norm in inference and metrics agree).
#
# usage: bench/quality.sh            (from the repository root, after make -j2)
# env:   HILL_SEEDS ("1 2 3 4 5"), TAOBAO_SEEDS ("1 2 3"), TAOBAO_STEPS (50),
#        THREADS (2), OUT (build/quality), MTREC (build/release/mtrec), PY (/usr/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/.."
HILL_SEEDS=${HILL_SEEDS:-"1 2 3 4 5"}
TAOBAO_SEEDS=${TAOBAO_SEEDS:-"1 2 3"}
TAOBAO_STEPS=${TAOBAO_STEPS:-50}
THREADS=${THREADS:-2}
OUT=${OUT:-build/quality}
MTREC=${MTREC:-build/release/mtrec}
PY=${PY:-/usr/bin/python3}   # Debian's Python has PyTorch 1.13
export OMP_WAIT_POLICY=passive  # a spinning OpenMP pool collapses on a shared machine
DATA=../shared/data

[ -x "$MTREC" ] || { echo "quality.sh: $MTREC not found: run make -j2 first" >&2; exit 1; }
mkdir -p build/data "$OUT"
if [ ! -s build/data/hillstrom_eval.csv ]; then
  python3 tools/split_rows.py "$DATA"/hillstrom_email/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv \
    build/data/hillstrom_train.csv build/data/hillstrom_eval.csv --mod 4 --header
fi
if [ ! -s build/data/taobao_eval.csv ]; then
  python3 tools/split_rows.py "$DATA"/taobao_easyrec_dbmtl/taobao_test_data \
    build/data/taobao_train.csv build/data/taobao_eval.csv --mod 4
fi

# run_pair DATASET CONFIG SEED [mtrec flags...]
run_pair() {
  local ds=$1 cfg=$2 seed=$3; shift 3
  local md="$OUT/$ds/mtrec-s$seed"
  rm -rf "$md"
  local t0=$SECONDS
  "$MTREC" train -c "$cfg" --model_dir "$md" --threads "$THREADS" --seed "$seed" -q "$@" > "$OUT/$ds/mtrec-s$seed.log" 2>&1 \
    || { echo "mtrec failed ($ds seed $seed):" >&2; tail -5 "$OUT/$ds/mtrec-s$seed.log" >&2; exit 1; }
  cp "$md/eval_result.txt" "$OUT/$ds/mtrec-s$seed.json"
  local t1=$SECONDS
  local steps=()
  [ "$ds" = taobao ] && steps=(--num_steps "$TAOBAO_STEPS")
  "$PY" tools/torch_dbmtl_train.py --dataset "$ds" --train "build/data/${ds}_train.csv" \
    --eval "build/data/${ds}_eval.csv" --seed "$seed" --threads "$THREADS" -q "${steps[@]}" \
    --json_out "$OUT/$ds/torch-s$seed.json" > "$OUT/$ds/torch-s$seed.log" 2>&1 \
    || { echo "torch failed ($ds seed $seed):" >&2; tail -5 "$OUT/$ds/torch-s$seed.log" >&2; exit 1; }
  echo "$ds seed $seed: mtrec $((t1 - t0)) s, torch $((SECONDS - t1)) s (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
}

mkdir -p "$OUT/hillstrom" "$OUT/taobao"
for s in $HILL_SEEDS; do run_pair hillstrom examples/hillstrom.config "$s"; done
for s in $TAOBAO_SEEDS; do run_pair taobao examples/taobao_dbmtl.config "$s" --num_steps "$TAOBAO_STEPS"; done

# the PyTorch script evaluating mtrec's trained weights (first seed of each data set)
for ds in hillstrom taobao; do
  seeds=$HILL_SEEDS; [ $ds = taobao ] && seeds=$TAOBAO_SEEDS
  s=${seeds%% *}
  ck=$(ls "$OUT/$ds/mtrec-s$s"/model.ckpt-* | sort -t- -k2 -n | tail -1)
  "$PY" tools/torch_dbmtl_train.py --dataset $ds --train build/data/${ds}_train.csv \
    --eval build/data/${ds}_eval.csv --eval_checkpoint "$ck" -q --json_out "$OUT/$ds/crosseval-s$s.json" \
    > "$OUT/$ds/crosseval-s$s.log" 2>&1
done

"$PY" - "$OUT" "$HILL_SEEDS" "$TAOBAO_SEEDS" "$TAOBAO_STEPS" <<'PYEOF'
import json, math, sys
out, seeds = sys.argv[1], {"hillstrom": sys.argv[2].split(), "taobao": sys.argv[3].split()}
steps = {"hillstrom": "5 epochs (469 steps)", "taobao": "%s steps" % sys.argv[4]}

def load(p):
    with open(p) as f:
        return json.load(f)

def ms(v):
    v = [x for x in v if not math.isnan(x)]
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0)

print("| data set | metric | mtrec mean ± std | PyTorch mean ± std | mtrec − PyTorch | difference / pooled std |")
print("|---|---|---|---|---|---|")
for ds in ["hillstrom", "taobao"]:
    m = [load("%s/%s/mtrec-s%s.json" % (out, ds, s)) for s in seeds[ds]]
    t = [load("%s/%s/torch-s%s.json" % (out, ds, s)) for s in seeds[ds]]
    keys = [k for k in t[0] if k != "global_step"]
    for k in keys:
        a, b = ms([r[k] for r in m]), ms([r[k] for r in t])
        ps = math.sqrt((a[1] ** 2 + b[1] ** 2) / 2)
        z = (a[0] - b[0]) / ps if ps > 0 else float("nan")
        print("| %s (%d seeds, %s) | %s | %.4f ± %.4f | %.4f ± %.4f | %+.4f | %+.1f |"
              % (ds, len(seeds[ds]), steps[ds], k, a[0], a[1], b[0], b[1], a[0] - b[0], z))
print()
print("Per seed (mtrec / PyTorch):")
print()
for ds in ["hillstrom", "taobao"]:
    for s in seeds[ds]:
        m, t = load("%s/%s/mtrec-s%s.json" % (out, ds, s)), load("%s/%s/torch-s%s.json" % (out, ds, s))
        print("- %s seed %s: %s" % (ds, s, ", ".join("%s %.4f / %.4f" % (k, m[k], t[k])
                                                       for k in t if k != "global_step")))
print()
print("PyTorch evaluating mtrec's trained weights (first seed), largest |difference| from mtrec's own evaluation:")
print()
for ds in ["hillstrom", "taobao"]:
    s = seeds[ds][0]
    m, c = load("%s/%s/mtrec-s%s.json" % (out, ds, s)), load("%s/%s/crosseval-s%s.json" % (out, ds, s))
    d = max(abs(m[k] - c[k]) for k in c if k != "global_step" and not math.isnan(c[k]))
    print("- %s seed %s: %.2g over %s" % (ds, s, d, ", ".join(k for k in c if k != "global_step")))
PYEOF
