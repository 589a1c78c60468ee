#!/usr/bin/env bash
# bench_large_tables.sh: issue 5 item 4. Trains the live5 model with its user_id table grown
# from 200k to 50M rows (x 16 = 800M floats: 3.2 GB of weights + 6.4 GB of Adam slots) and
# compares, against the stock 200k-row table: peak RSS (memory should be close to the
# tables plus optimizer state, and only what is touched is resident: Adam slots are
# calloc'ed, so untouched pages stay unmapped), model build time (table initialisation), and
# compute-only step time (sparse updates touch only the batch's rows, so the step cost must
# not grow with the table). Uses bench/bench_train_compute.c (no checkpoint is written).
# Needs ~12 GB of free memory. Usage: bash bench/bench_large_tables.sh [ROWS=50000000]
set -euo pipefail
ROWS=${1:-50000000}
case "$ROWS" in
  ''|*[!0-9]*|0*) echo "bench_large_tables.sh: ROWS must be a positive integer (got '$ROWS')" >&2; exit 2 ;;
esac
W=build/bench/large
mkdir -p "$W"
make -s -j2 lib build/release/mtrec
cc -std=c11 -D_GNU_SOURCE -O2 -march=x86-64-v3 -Iinclude -Isrc bench/bench_train_compute.c \
  build/release/libmtrec.a -fopenmp -ldnnl -lz -lcjson -lmicrohttpd -lpthread -lm -o build/bench/bench_train_compute
[ -f "$W/live5_50k.csv" ] || build/release/mtrec synth --rows 50000 --seed 5 --output_path "$W/live5_50k.csv" 2>/dev/null
sed "s/hash_bucket_size: 200000\b/hash_bucket_size: $ROWS/" examples/live5.config > "$W/large.config"
grep -q "hash_bucket_size: $ROWS" "$W/large.config" || { echo "could not resize user_id"; exit 1; }
run() {  # name config
  /usr/bin/time -v env OMP_WAIT_POLICY=passive build/bench/bench_train_compute "$2" "$W/live5_50k.csv" \
    --threads 2 --batch 1024 --steps 30 --reps 3 > "$W/$1.out" 2> "$W/$1.time"
  local rss ex wall
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$W/$1.time")
  wall=$(awk -F': ' '/Elapsed \(wall/ {print $2}' "$W/$1.time")
  ex=$(sed -n 's/.*ex_per_s=\([0-9]*\).*median=\([0-9]*\).*/\1 (median \2)/p' "$W/$1.out" | tail -n 1)
  printf '| %-22s | %12s | %10s MB | %s |\n' "$1" "$ex" "$rss" "$wall"
}
echo "live5, batch 1024, 2 threads, Adam; user_id table rows as named"
echo "| table | examples/s | peak RSS | wall (incl. build, init, 8 batches read) |"
echo "|---|---|---|---|"
run "user_id 200k rows" examples/live5.config
run "user_id $ROWS rows" "$W/large.config"
awk -v r="$ROWS" 'BEGIN { printf "table bytes: weights %.2f GB, Adam m+v %.2f GB\n", r*16*4/1e9, 2*r*16*4/1e9 }'
