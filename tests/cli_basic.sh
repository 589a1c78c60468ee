#!/usr/bin/env bash
# cli_basic.sh MTREC_BIN: the CLI contract: usage errors exit 2, bad configs and data name the
# place, `check` prints the DAG, Ctrl-C (SIGINT) during training saves a checkpoint and a rerun
# resumes from it, `evaluate` reads the latest checkpoint.
set -uo pipefail
BIN=${1:-build/release/mtrec}
T=$(mktemp -d /tmp/mtrec_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
expect() {  # expect DESCRIPTION WANT_RC PATTERN -- command...
  local what=$1 want=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then echo "FAIL: $what: exit $rc, wanted $want: $out"; fail=1; return; fi
  if ! printf '%s' "$out" | grep -q -- "$pat"; then echo "FAIL: $what: output lacks '$pat': $out"; fail=1; fi
}
expect "no command" 2 "usage:" -- "$BIN"
expect "unknown command" 2 "unknown command" -- "$BIN" frobnicate
expect "unknown flag" 2 "unknown flag" -- "$BIN" train --bogus 1
expect "bad threads" 2 "threads" -- "$BIN" train -c x --threads 0
expect "missing config" 1 "nonexistent.config" -- "$BIN" check -c "$T/nonexistent.config"
printf 'model_dir: "m"\ndata_config { input_type: CSVInput batch_size: 8\n  input_fields { input_name: "a" }\n}\nmodel_config { model_class: "DBMTL" dbmtl { bottom_dnn { hiden_units: [4] } } }\n' > "$T/typo.config"
expect "typo with position" 1 "typo.config:5:58" -- "$BIN" check -c "$T/typo.config"
expect "did you mean" 1 "did you mean 'hidden_units'" -- "$BIN" check -c "$T/typo.config"
expect "check live5 DAG" 0 "is_click -> is_view -> view_costtime" -- "$BIN" check -c examples/live5.config
expect "check EasyRec sample" 0 "config OK" -- "$BIN" check -c tests/fixtures/configs/easyrec/dbmtl_on_taobao.config

# (150k rows: 147 steps in live5's single epoch, so the run interrupted after step 50 and
# resumed for 5 more steps never reaches the epoch's end; with 60k rows, 59 steps, a fast
# build interrupted at step 55+ and the resume stopped at 59, short of the expected step)
"$BIN" synth --rows 150000 --seed 3 --output_path "$T/train.csv" 2>/dev/null || { echo "FAIL: synth"; fail=1; }
"$BIN" synth --rows 5000 --seed 4 --output_path "$T/eval.csv.gz" 2>/dev/null || { echo "FAIL: synth gz"; fail=1; }
head -c 2000 "$T/train.csv" > "$T/short.csv"; echo "1,2,3" >> "$T/short.csv"
expect "bad row names file and row" 1 "short.csv:.*expected" -- "$BIN" train -c examples/live5.config \
  --train_input_path "$T/short.csv" --eval_input_path "$T/short.csv" --model_dir "$T/bad" -q

# SIGINT mid-training: exit 130, a checkpoint is saved, the rerun resumes from it.
common=(-c examples/live5.config --train_input_path "$T/train.csv" --eval_input_path "$T/eval.csv.gz" --model_dir "$T/m" --threads 1)
"$BIN" train "${common[@]}" --num_steps 100000 > "$T/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "step 50:" "$T/int.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid; wait $pid; rc=$?
[ $rc = 130 ] || { echo "FAIL: SIGINT exit $rc (want 130): $(tail -3 "$T/int.log")"; fail=1; }
grep -q "checkpoint saved" "$T/int.log" || { echo "FAIL: no 'checkpoint saved' after SIGINT"; fail=1; }
ls "$T/m"/model.ckpt-* >/dev/null 2>&1 || { echo "FAIL: no checkpoint after SIGINT"; fail=1; }
step=$(sed -n 's/^model_checkpoint_path: "model.ckpt-\([0-9]*\)"/\1/p' "$T/m/checkpoint")
[ -n "$step" ] || { echo "FAIL: checkpoint index unreadable"; fail=1; step=0; }
out=$("$BIN" train "${common[@]}" --num_steps $((step + 5)) 2>&1) || { echo "FAIL: resume run: $out"; fail=1; }
printf '%s' "$out" | grep -q "resuming from .*model.ckpt-$step" || { echo "FAIL: did not resume from $step: $out"; fail=1; }
printf '%s' "$out" | grep -q "auc_is_click" || { echo "FAIL: no metrics after training"; fail=1; }
expect "evaluate latest" 0 "global_step .*$((step + 5))" -- "$BIN" evaluate "${common[@]}"
grep -q '"auc_is_click"' "$T/m/eval_result.txt" || { echo "FAIL: eval_result.txt"; fail=1; }
exit $fail
