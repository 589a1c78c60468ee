#!/usr/bin/env bash
# run_fuzz.sh [SECONDS]: build every fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan+UBSan)
# into build/fuzz/ and run each for SECONDS (default 20) with -max_len=4096.
#
# Corpus: build/fuzz/corpus/<name>/ (kept between runs), seeded from the files under
# tests/fixtures/<name>/ or tests/fixtures/<name>s/ when present (<name> = file name after
# "fuzz_", e.g. fuzz_csv.c -> tests/fixtures/csv/). Crash inputs go to
# build/fuzz/artifacts/<name>/. Exits non-zero if any target fails to build or any fuzzer
# finds a crash, a leak, a timeout or an abort; the offending input files are printed.
#
# Needs clang with the libFuzzer runtime (Debian: apt-get install libclang-rt-14-dev, or
# the clang package of your version). CC=clang-15 etc. picks another clang.
set -u
cd "$(dirname "$0")/.." || exit 2

SECS=${1:-20}
CC=${CC:-clang}
B=build/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -fopenmp -g -O1 -fno-omit-frame-pointer -Iinclude -Isrc -w"
LIBS="-fopenmp -ldnnl -lz -lcjson -lmicrohttpd -lm -lpthread"

command -v "$CC" >/dev/null || { echo "run_fuzz: $CC not found" >&2; exit 2; }
mkdir -p "$B/obj"

# The library, instrumented for coverage (fuzzer-no-link) but without libFuzzer's main.
# A source file that does not compile (someone's work in progress) is reported and left
# out; a target that needs it then fails at link time.
objs=()
for src in src/*/*.c; do
  obj="$B/obj/$(echo "${src#src/}" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src include -name '*.h' -newer "$obj" -print -quit)" ]; then
    # the AVX-512 copies and kernels (*_avx512.c) get the wider instruction set: the
    # Makefile's ISA_FLAGS for the file, read from it (the library picks them at run time
    # where the CPU has it)
    stem="${src#src/}"; stem="${stem%.c}"
    isa="$(sed -n "s|^ISA_FLAGS_${stem} :=||p" Makefile)"
    if ! $CC $CFLAGS $isa $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>"$obj.log"; then
      echo "run_fuzz: warning: $src does not compile, left out (see $obj.log)" >&2
      rm -f "$obj"
      continue
    fi
  fi
  objs+=("$obj")
done
rm -f "$B/libmtrec_fuzz.a"
ar rcs "$B/libmtrec_fuzz.a" "${objs[@]}"

status=0
shopt -s nullglob
for f in fuzz/fuzz_*.c; do
  t=$(basename "$f" .c)
  name=${t#fuzz_}
  echo "=== $t: build"
  if ! $CC $CFLAGS $SAN -fsanitize=fuzzer "$f" -o "$B/$t" "$B/libmtrec_fuzz.a" $LIBS; then
    echo "=== $t: BUILD FAILED"
    status=1
    continue
  fi
  corpus="$B/corpus/$name"
  art="$B/artifacts/$name"
  mkdir -p "$corpus" "$art"
  for seeds in "tests/fixtures/$name" "tests/fixtures/${name}s"; do
    [ -d "$seeds" ] || continue
    # flatten: seed files keep a unique name derived from their path
    find "$seeds" -type f -size -64k | while read -r s; do
      cp -f "$s" "$corpus/seed_$(echo "${s#tests/fixtures/}" | tr '/ ' '__')"
    done
  done
  rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*
  echo "=== $t: fuzzing ${SECS}s (corpus $corpus: $(ls "$corpus" | wc -l) files)"
  "./$B/$t" "$corpus" -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$art/" -print_final_stats=1 >"$B/$t.log" 2>&1
  rc=$?
  found=("$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*)
  if [ $rc -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    status=1
    echo "=== $t: FAILED (exit $rc); log $B/$t.log"
    grep -E "ERROR|SUMMARY|==[0-9]+==|abort|differs|reference" "$B/$t.log" | head -n 20
    for a in "${found[@]}"; do echo "crash input: $a"; done
  else
    grep -E "^stat::number_of_executed_units|^#[0-9]+ *DONE" "$B/$t.log" | tail -n 2
    echo "=== $t: ok"
  fi
done
exit $status
