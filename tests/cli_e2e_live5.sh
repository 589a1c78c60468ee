#!/usr/bin/env bash
# cli_e2e_live5.sh MTREC_BIN: end to end through the CLI on the built-in data set: synth ->
# train live5 (DBMTL with the relation DAG) -> evaluate. Checks that the AUCs are well above
# chance and that DBMTL with relations is at least as good as the same model without them
# on the dependent tasks. Uses the release binary when run from the sanitizer suite (this
# is a quality check, not a memory check; test_train covers the loop under ASan).
set -euo pipefail
BIN=${MTREC_E2E_BIN:-${1:-build/release/mtrec}}
case "$BIN" in *asan*) BIN=build/release/mtrec; make -s build/release/mtrec >/dev/null ;; esac
T=$(mktemp -d /tmp/mtrec_e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$BIN" synth --rows 400000 --seed 11 --output_path "$T/train.csv" 2>/dev/null
"$BIN" synth --rows 40000 --seed 12 --output_path "$T/eval.csv" 2>/dev/null
grep -v 'relation_tower_names' examples/live5.config > "$T/norel.config"
if cmp -s examples/live5.config "$T/norel.config"; then echo "no relations removed"; exit 1; fi
run() {  # config model_dir -> prints metrics
  OMP_WAIT_POLICY=passive "$BIN" train -c "$1" --train_input_path "$T/train.csv" --eval_input_path "$T/eval.csv" \
    --model_dir "$2" --threads 2 -q
}
run examples/live5.config "$T/rel" > "$T/rel.txt"
run "$T/norel.config" "$T/norel" > "$T/norel.txt"
get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
fail=0
for k in auc_is_click auc_is_view auc_is_on_mic; do
  r=$(get $k "$T/rel.txt"); n=$(get $k "$T/norel.txt")
  echo "$k: relations $r, without $n"
  awk -v r="$r" 'BEGIN { exit !(r > 0.65) }' || { echo "FAIL: $k = $r is not well above chance"; fail=1; }
  # Dependent tasks: relations must not lose. Measured over seeds 11/21/31 (README): is_view
  # gains +0.006 every time; is_on_mic (1.5-2% positives) differs by -0.021/-0.005/+0.005,
  # i.e. run-to-run noise of about 0.02, so it gets that noise band and is_view a tight one.
  tol=0.003; [ "$k" = auc_is_on_mic ] && tol=0.025
  if [ "$k" != auc_is_click ]; then
    awk -v r="$r" -v n="$n" -v t="$tol" 'BEGIN { exit !(r >= n - t) }' || { echo "FAIL: $k with relations ($r) below without ($n) by more than $tol"; fail=1; }
  fi
done
test -s "$T/rel/eval_result.txt" || { echo "FAIL: no eval_result.txt"; fail=1; }
grep -q '"global_step"' "$T/rel/eval_result.txt" || { echo "FAIL: eval_result.txt lacks global_step"; fail=1; }
exit $fail
