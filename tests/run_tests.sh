#!/usr/bin/env bash
# run_tests.sh BUILD_DIR: runs every test binary under BUILD_DIR/tests, adds up the
# per-binary "TESTS <passed> <failed>" lines and ends with "N passed, N failed".
# Scripted tests (tests/*.sh, black-box CLI tests) count as one test each.
set -u
B=${1:-build/release}
passed=0; failed=0
export MTREC_BIN=${MTREC_BIN:-$B/mtrec}
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep '^TESTS ' | tail -n1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | awk '{print $2}'); f=$(echo "$line" | awk '{print $3}')
  else
    p=0; f=1
  fi
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -ne 0 ]; then
    echo "=== $name: FAILED (exit $rc)"; printf '%s\n' "$out" | grep -v '^TEST ok' | tail -n 60
  else
    echo "=== $name: $p passed"
  fi
done
for s in tests/cli_*.sh; do
  [ -f "$s" ] || continue
  name=$(basename "$s")
  if out=$(bash "$s" "$MTREC_BIN" 2>&1); then
    passed=$((passed + 1)); echo "=== $name: ok"
  else
    failed=$((failed + 1)); echo "=== $name: FAILED"; printf '%s\n' "$out" | tail -n 40
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
