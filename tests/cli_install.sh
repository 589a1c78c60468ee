#!/usr/bin/env bash
# cli_install.sh [MTREC_BIN]: black-box test of the installed library, as a user sees it.
#   1. `make install DESTDIR=<tmp>/root PREFIX=/usr` (release build; sanitizer builds cannot
#      be linked by a plain cc, so MTREC_BIN is not used);
#   2. build examples/predict_example.c with nothing but
#      `pkg-config --cflags --libs --static mtrec` (PKG_CONFIG_SYSROOT_DIR = the DESTDIR);
#   3. with the installed `mtrec`: synth a small data set, train live5 for a few steps,
#      `mtrec export`;
#   4. run the example on the export (two built-in rows, then two rows given as text), and
#      on a folder without an export (must fail with a message).
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/mtrec_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
ROOT="$T/root"

make --no-print-directory -s MODE=release install DESTDIR="$ROOT" PREFIX=/usr >/dev/null
for f in usr/include/mtrec.h usr/lib/libmtrec.a usr/lib/pkgconfig/mtrec.pc usr/bin/mtrec; do
  [ -e "$ROOT/$f" ] || { echo "FAIL: make install did not install $f"; exit 1; }
done

# only the installed .pc file, paths rebased onto the DESTDIR
export PKG_CONFIG_LIBDIR="$ROOT/usr/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$ROOT"
FLAGS=$(pkg-config --cflags --libs --static mtrec)
echo "pkg-config: $FLAGS"
cc -std=c11 -Wall -Wextra -Werror examples/predict_example.c $FLAGS -o "$T/predict_example" || {
  echo "FAIL: examples/predict_example.c does not build with pkg-config's flags alone"; exit 1; }

MTREC="$ROOT/usr/bin/mtrec"
"$MTREC" synth --rows 3000 --seed 5 --output_path "$T/data.csv" >/dev/null 2>&1
OMP_WAIT_POLICY=passive "$MTREC" train -c examples/live5.config --train_input_path "$T/data.csv" \
  --eval_input_path "$T/data.csv" --model_dir "$T/model" --num_steps 3 -q >/dev/null
"$MTREC" export -c examples/live5.config --model_dir "$T/model" --export_dir "$T/export" || {
  echo "FAIL: mtrec export"; exit 1; }

out=$("$T/predict_example" "$T/export") || { echo "FAIL: predict_example on the export"; exit 1; }
printf '%s\n' "$out"
for want in "inputs:" "user_id" "outputs: probs_is_click logits_is_click" "y_view_costtime" \
            "row 0: probs_is_click=" "row 1: probs_is_click=" "row form and column form agree"; do
  grep -qF -- "$want" <<<"$out" || { echo "FAIL: predict_example output lacks '$want'"; exit 1; }
done
# probabilities are in (0, 1)
awk '/^row [01]:/ { for (i = 3; i <= NF; i++) if ($i ~ /^probs_/) { split($i, kv, "=");
       if (!(kv[2] > 0 && kv[2] < 1)) { print "FAIL: " $i; bad = 1 } } } END { exit bad }' <<<"$out"

out=$("$T/predict_example" "$T/export" "user_id=u1,hour=13,anchor_tags=a|b" "user_id=u2") || {
  echo "FAIL: predict_example with rows given as text"; exit 1; }
grep -q "row form and column form agree" <<<"$out"

mkdir -p "$T/empty"
if err=$("$T/predict_example" "$T/empty" 2>&1); then echo "FAIL: an empty folder loaded"; exit 1; fi
grep -q "no complete export" <<<"$err" || { echo "FAIL: unclear error: $err"; exit 1; }
if err=$("$T/predict_example" "$T/export" "hour=noon" "" 2>&1); then echo "FAIL: a bad value was accepted"; exit 1; fi
grep -q "row 0: column 'hour'" <<<"$err" || { echo "FAIL: unclear error: $err"; exit 1; }
echo "cli_install: ok"
