#!/usr/bin/env bash
# bench_serve.sh [MTREC_BIN]: `mtrec serve` latency and throughput on loopback with wrk.
# Trains a small live5 model (synthetic data), exports it, serves it with 2 request threads
# and measures, with wrk and bench/serve_post.lua:
#   - p50/p99 latency of 1-row and 100-row requests from one connection (no queueing);
#   - requests/s and rows/s at saturation (CONNS connections) for the same two bodies.
# Prints a table per export precision. Not part of the tests (timing depends on the machine).
# Environment: DURATION (s per run, 10), CONNS (saturation connections, 16), STEPS (training
# steps, 20), WORK (work folder, build/bench_serve; removed first), SERVER_THREADS (2),
# PRECISIONS (exports to serve, "fp32 bf16": `mtrec export --precision ...`).
set -eu
MTREC=${1:-build/release/mtrec}
case "$MTREC" in /*) ;; *) MTREC="$PWD/$MTREC" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
STEPS=${STEPS:-20}
SERVER_THREADS=${SERVER_THREADS:-2}
PRECISIONS=${PRECISIONS:-fp32 bf16}
W=${WORK:-$ROOT/build/bench_serve}
command -v wrk >/dev/null || { echo "bench_serve: wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x "$MTREC" ] || { echo "bench_serve: no mtrec binary at $MTREC"; exit 1; }

rm -rf "$W"
mkdir -p "$W"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

echo "preparing a live5 model in $W ..."
"$MTREC" synth --rows 50000 --seed 1 --output_path "$W/train.csv" 2>/dev/null
"$MTREC" synth --rows 1000 --seed 2 --output_path "$W/eval.csv" 2>/dev/null
sed -e "s|^train_input_path:.*|train_input_path: \"$W/train.csv\"|" \
    -e "s|^eval_input_path:.*|eval_input_path: \"$W/eval.csv\"|" \
    -e "s|^model_dir:.*|model_dir: \"$W/model\"|" "$ROOT/examples/live5.config" >"$W/pipeline.config"
"$MTREC" train -c "$W/pipeline.config" --num_steps "$STEPS" -q >/dev/null
for prec in $PRECISIONS; do
  "$MTREC" export -c "$W/pipeline.config" --export_dir "$W/exports_$prec" --precision "$prec" >/dev/null
done

# request bodies: the first 1 and 100 rows of eval.csv, inputs only, in row form
python3 - "$W" <<'PY'
import csv, json, sys
w = sys.argv[1]
rows = list(csv.DictReader(open(w + "/eval.csv", newline="")))
labels = {"is_click", "is_view", "view_costtime", "is_on_mic", "on_mic_duration"}
def inst(r):
    return {k: v for k, v in r.items() if k not in labels}
for n in (1, 100):
    with open("%s/body_%d.json" % (w, n), "w") as f:
        json.dump({"instances": [inst(r) for r in rows[:n]]}, f)
PY

# start_server EXPORT_DIR: sets SERVER_PID, URL
start_server() {
  "$MTREC" serve --model_path "$1" --port 0 --threads "$SERVER_THREADS" >"$W/serve.log" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$W/serve.log" | head -n1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$W/serve.log"; exit 1; }
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "bench_serve: the server did not start"; cat "$W/serve.log"; exit 1; }
  URL="http://127.0.0.1:$PORT"
  # sanity: the body predicts
  curl -sf -H 'Content-Type: application/json' --data-binary @"$W/body_1.json" "$URL/v1/models/model:predict" >/dev/null \
    || { echo "bench_serve: a 1-row request failed"; exit 1; }
}

# run ROWS CONNS WRK_THREADS -> prints a table row
run() {
  local rows=$1 conns=$2 wt=$3 out
  out=$(BODY="$W/body_$rows.json" wrk -t"$wt" -c"$conns" -d"${DURATION}s" --latency -s "$HERE/serve_post.lua" "$URL" 2>&1 \
        | grep '^RESULT')
  [ -n "$out" ] || { echo "bench_serve: wrk gave no result"; exit 1; }
  echo "$out" | awk -v rows="$rows" -v conns="$conns" '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "| %8d | %5d | %8.3f | %8.3f | %10.0f | %11.0f | %6d |\n", rows, conns, v["p50_ms"], v["p99_ms"],
           v["rps"], v["rps"] * rows, v["non2xx"] + v["socket_errors"] }'
}

for prec in $PRECISIONS; do
  start_server "$W/exports_$prec"
  echo
  echo "mtrec serve, live5 model, $prec export, $SERVER_THREADS server threads, ${DURATION} s per row, $(nproc) CPUs, loopback"
  echo "| rows/req | conns | p50 ms   | p99 ms   | requests/s | rows/s      | errors |"
  echo "|----------|-------|----------|----------|------------|-------------|--------|"
  run 1 1 1
  run 100 1 1
  run 1 "$CONNS" 2
  run 100 "$CONNS" 2
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
done
