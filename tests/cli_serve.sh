#!/usr/bin/env bash
# cli_serve.sh MTREC_BIN: black-box test of `mtrec serve` through the CLI.
# Trains a tiny live5 model on synthetic data in a temp folder, exports it, starts the server
# on a free loopback port and, with tests/serve_client.py, checks: both request forms against
# `mtrec predict` (1e-5), every bad-request class, concurrent clients, a broken new version
# being skipped, a hot swap under load, /metrics counters, and that SIGTERM lets a request in
# flight finish and the process exit 0, and a bf16 export served within bf16 rounding. Exits non-zero naming what failed; the server is
# stopped and the temp folder removed on any exit.
set -u
MTREC=${1:-${MTREC_BIN:-build/release/mtrec}}
case "$MTREC" in /*) ;; *) MTREC="$PWD/$MTREC" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CLIENT="$HERE/serve_client.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/mtrec_serve.XXXXXX")
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*"
  if [ -f "$T/serve.log" ]; then echo "--- server log (last 30 lines):"; tail -n 30 "$T/serve.log"; fi
  exit 1
}
step() { echo "== $*"; }
run() { "$@" >"$T/cmd.log" 2>&1 || { cat "$T/cmd.log"; die "command failed: $*"; }; }

[ -x "$MTREC" ] || die "no mtrec binary at $MTREC"
command -v python3 >/dev/null || die "python3 is needed"

# ---- data, model, export, expected predictions -------------------------------------------
step "train a tiny live5 model"
run "$MTREC" synth --rows 2000 --seed 1 --output_path "$T/train.csv"
run "$MTREC" synth --rows 300 --seed 2 --output_path "$T/eval.csv"
sed -e "s|^train_input_path:.*|train_input_path: \"$T/train.csv\"|" \
    -e "s|^eval_input_path:.*|eval_input_path: \"$T/eval.csv\"|" \
    -e "s|^model_dir:.*|model_dir: \"$T/model\"|" \
    -e "s|batch_size: 1024|batch_size: 256|" "$ROOT/examples/live5.config" >"$T/pipeline.config"
grep -q "$T/model" "$T/pipeline.config" || die "could not write the test config"
run "$MTREC" train -c "$T/pipeline.config" --num_steps 3 -q
run "$MTREC" export -c "$T/pipeline.config" --export_dir "$T/exports"
V1=$(ls "$T/exports" | grep -E '^[0-9]+$' | sort -n | tail -n1)
[ -n "$V1" ] || die "export wrote no version folder under $T/exports"
run "$MTREC" predict -c "$T/pipeline.config" --input_path "$T/eval.csv" --output_path "$T/pred1.csv"

# ---- server ------------------------------------------------------------------------------
# start_server MODEL_PATH LOG: sets SERVER_PID and PORT (waits for the "listening" line)
start_server() {
  "$MTREC" serve --model_path "$1" --model_name live5 --port 0 --threads 4 >"$2" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 600); do  # up to 60 s (sanitizer builds load slowly)
    PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$2" | head -n1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited before listening"
    sleep 0.1
  done
  [ -n "$PORT" ] || die "no 'listening on HOST:PORT' line in the server log within 60 s"
  echo "listening on port $PORT"
}

step "start the server (version $V1)"
start_server "$T/exports" "$T/serve.log"
C=(python3 "$CLIENT" --port "$PORT" --name live5 --csv "$T/eval.csv")

step "both forms against mtrec predict"
"${C[@]}" check --pred "$T/pred1.csv" --version "$V1" || die "predictions differ from mtrec predict"
step "bad requests"
"${C[@]}" errors --pred "$T/pred1.csv" || die "bad requests"
step "concurrent clients"
"${C[@]}" load --pred "$T/pred1.csv" --threads 8 --requests 50 || die "concurrent clients"
step "metrics"
"${C[@]}" metrics --pred "$T/pred1.csv" || die "metrics"

# ---- a broken new version is skipped -----------------------------------------------------
step "a broken new version is logged and skipped"
VB=$((V1 + 1))
cp -r "$T/exports/$V1" "$T/exports/.broken"
W="$T/exports/.broken/model.safetensors"
dd if=/dev/urandom of="$W" bs=1 count=64 seek=$(( $(stat -c %s "$W") / 2 )) conv=notrunc status=none
mv "$T/exports/.broken" "$T/exports/$VB"
for _ in $(seq 1 150); do grep -q "$VB.*fail" "$T/serve.log" && break; sleep 0.1; done
grep -q "$VB.*fail" "$T/serve.log" || die "no log line about the broken version $VB within 15 s"
"${C[@]}" check --pred "$T/pred1.csv" --version "$V1" --rows 10 || die "not serving $V1 after the broken version"
"${C[@]}" metrics --pred "$T/pred1.csv" --min_load_failures 1 || die "metrics after the broken version"
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died on a broken version"

# ---- hot swap under load -----------------------------------------------------------------
step "hot swap under load"
run "$MTREC" train -c "$T/pipeline.config" --num_steps 6 -q
run "$MTREC" predict -c "$T/pipeline.config" --input_path "$T/eval.csv" --output_path "$T/pred2.csv"
cmp -s "$T/pred1.csv" "$T/pred2.csv" && die "more training did not change the predictions"
"${C[@]}" swap --pred "$T/pred1.csv" --pred_new "$T/pred2.csv" --threads 8 --wait 30 \
  --export_cmd "\"$MTREC\" export -c \"$T/pipeline.config\" --export_dir \"$T/exports\" >\"$T/export2.log\" 2>&1" \
  || die "hot swap"
V2=$(ls "$T/exports" | grep -E '^[0-9]+$' | sort -n | tail -n1)
[ "$V2" != "$V1" ] && [ "$V2" != "$VB" ] || die "the second export wrote no new version"
"${C[@]}" check --pred "$T/pred2.csv" --version "$V2" || die "not serving $V2 correctly after the swap"
grep -q "now serving version $V2" "$T/serve.log" || die "no log line about serving $V2"

# ---- graceful stop -----------------------------------------------------------------------
step "SIGTERM drains and exits 0"
"${C[@]}" drain --pred "$T/pred2.csv" --pid "$SERVER_PID" || die "drain"
rc=""
for _ in $(seq 1 400); do  # up to 40 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; break; fi
  sleep 0.1
done
[ -n "$rc" ] || die "the server did not exit within 40 s of SIGTERM"
SERVER_PID=""
[ "$rc" -eq 0 ] || die "the server exited with status $rc after SIGTERM"
grep -q "stopped" "$T/serve.log" || die "no 'stopped' line in the server log"
if grep -qiE "AddressSanitizer|runtime error|LeakSanitizer" "$T/serve.log"; then die "sanitizer report in the server log"; fi

# ---- a bf16 export ------------------------------------------------------------------------
step "a bf16 export: metadata says bf16, answers within bf16 rounding of mtrec predict (fp32)"
run "$MTREC" export -c "$T/pipeline.config" --export_dir "$T/exports16" --precision bf16
grep -qE '"precision":[[:space:]]*"bf16"' "$T"/exports16/*/signature.json || die "signature.json of the bf16 export lacks precision bf16"
start_server "$T/exports16" "$T/serve16.log"
grep -q "bf16 weights" "$T/serve16.log" || die "the server log does not say bf16 weights"
python3 "$CLIENT" --port "$PORT" --name live5 --csv "$T/eval.csv" check --pred "$T/pred2.csv" \
  --tol 0.03 --precision bf16 || die "bf16 export answers"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; rc=$?; SERVER_PID=""
[ "$rc" -eq 0 ] || die "the bf16 server exited with status $rc after SIGTERM"
if grep -qiE "AddressSanitizer|runtime error|LeakSanitizer" "$T/serve16.log"; then die "sanitizer report in the bf16 server log"; fi
echo "cli_serve: all checks passed"
